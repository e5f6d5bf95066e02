/*
 * virsh-power-units.h: parsing of frequencies, powers and times with units
 *
 * Copyright (C) 2026 The libvirt-power authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * This library is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with this library.  If not, see
 * <http://www.gnu.org/licenses/>.
 */

#pragma once

/* The quantities the "Host Power" commands accept, each with the unit
 * the kernel and the node power API use for it. */
typedef enum {
    VIRSH_POWER_QUANTITY_FREQUENCY, /* kHz: kHz, MHz, GHz */
    VIRSH_POWER_QUANTITY_POWER,     /* uW: uW, mW, W */
    VIRSH_POWER_QUANTITY_TIME,      /* us: us, ms, s */

    VIRSH_POWER_QUANTITY_LAST
} virshPowerQuantity;

typedef enum {
    VIRSH_POWER_PARSE_OK = 0,
    VIRSH_POWER_PARSE_MALFORMED,   /* not a decimal number with a unit */
    VIRSH_POWER_PARSE_NEGATIVE,    /* starts with a minus sign */
    VIRSH_POWER_PARSE_UNIT,        /* unit not accepted for the quantity */
    VIRSH_POWER_PARSE_PRECISION,   /* finer than one base unit */
    VIRSH_POWER_PARSE_OVERFLOW,    /* more than 2^64-1 base units */
    VIRSH_POWER_PARSE_AMBIGUOUS,   /* a unit's SI prefix in the wrong case
                                    * (MW is not mW) */

    VIRSH_POWER_PARSE_LAST
} virshPowerParseResult;

virshPowerParseResult
virshPowerParseQuantity(const char *str,
                        virshPowerQuantity quantity,
                        unsigned long long *value);

const char *
virshPowerQuantityBaseUnit(virshPowerQuantity quantity);
