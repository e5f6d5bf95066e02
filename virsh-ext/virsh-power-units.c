/*
 * virsh-power-units.c: parsing of frequencies, powers and times with units
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

#include <config.h>

#include "virsh-power-units.h"
#include "internal.h"

typedef struct _virshPowerUnit virshPowerUnit;
struct _virshPowerUnit {
    const char *suffix;         /* matched ignoring ASCII case but in a
                                 * prefix of virshPowerCaseSensitivePrefixes */
    unsigned long long factor;  /* base units per unit, a power of ten */
};

/* Each list starts with the base unit, which a bare number also uses,
 * and ends with a NULL suffix. */
/* SI prefixes that are another prefix in the other case (milli/mega,
 * pico/peta). */
static const char virshPowerCaseSensitivePrefixes[] = "mMpP";

static const virshPowerUnit virshPowerFrequencyUnits[] = {
    { "kHz", 1ULL },
    { "MHz", 1000ULL },
    { "GHz", 1000000ULL },
    { NULL, 0 }
};

static const virshPowerUnit virshPowerPowerUnits[] = {
    { "uW", 1ULL },
    { "mW", 1000ULL },
    { "W", 1000000ULL },
    { NULL, 0 }
};

static const virshPowerUnit virshPowerTimeUnits[] = {
    { "us", 1ULL },
    { "ms", 1000ULL },
    { "s", 1000000ULL },
    { NULL, 0 }
};


static const virshPowerUnit *
virshPowerQuantityUnits(virshPowerQuantity quantity)
{
    switch (quantity) {
    case VIRSH_POWER_QUANTITY_FREQUENCY:
        return virshPowerFrequencyUnits;
    case VIRSH_POWER_QUANTITY_POWER:
        return virshPowerPowerUnits;
    case VIRSH_POWER_QUANTITY_TIME:
        return virshPowerTimeUnits;
    case VIRSH_POWER_QUANTITY_LAST:
        break;
    }

    return NULL;
}


/**
 * virshPowerQuantityBaseUnit:
 * @quantity: a quantity
 *
 * Returns the unit a bare number of @quantity is taken in ("kHz", "uW"
 * or "us"), or NULL for an invalid @quantity.
 */
const char *
virshPowerQuantityBaseUnit(virshPowerQuantity quantity)
{
    const virshPowerUnit *units = virshPowerQuantityUnits(quantity);

    return units ? units[0].suffix : NULL;
}


/**
 * virshPowerParseQuantity:
 * @str: the string to parse
 * @quantity: what @str holds
 * @value: where to store the value in the base unit of @quantity
 *
 * Parse a non-negative decimal number, optionally with a fractional
 * part, followed by an optional unit of @quantity: "2400000", "2400MHz",
 * "2.4GHz", "15W", "0.5W", "10ms", "1 s". Units are matched ignoring
 * ASCII case, but for an SI prefix whose other case is another prefix
 * ("MW" is not "mW": VIRSH_POWER_PARSE_AMBIGUOUS); spaces may surround
 * the number and the unit. A bare
 * number is in the base unit (kHz, uW or us). The conversion is exact
 * integer arithmetic: a fraction finer than one base unit ("1.5kHz",
 * "0.0000001W") is rejected instead of being rounded, and so is any
 * value above 2^64-1 base units.
 *
 * Returns VIRSH_POWER_PARSE_OK and sets @value on success, or the
 * reason @str was rejected, leaving @value untouched.
 */
virshPowerParseResult
virshPowerParseQuantity(const char *str,
                        virshPowerQuantity quantity,
                        unsigned long long *value)
{
    const virshPowerUnit *units = virshPowerQuantityUnits(quantity);
    const virshPowerUnit *unit = NULL;
    const char *p = str;
    const char *intStart;
    const char *fracStart = NULL;
    const char *suffix;
    size_t intLen;
    size_t fracLen = 0;
    size_t suffixLen;
    unsigned long long result = 0;
    unsigned long long scale;
    size_t i;

    if (!str || !units)
        return VIRSH_POWER_PARSE_MALFORMED;

    while (g_ascii_isspace(*p))
        p++;

    if (*p == '-')
        return VIRSH_POWER_PARSE_NEGATIVE;

    intStart = p;
    while (g_ascii_isdigit(*p))
        p++;
    intLen = p - intStart;

    if (*p == '.') {
        fracStart = ++p;
        while (g_ascii_isdigit(*p))
            p++;
        fracLen = p - fracStart;
    }

    if (intLen == 0 && fracLen == 0)
        return VIRSH_POWER_PARSE_MALFORMED;

    while (g_ascii_isspace(*p))
        p++;

    /* The unit is a run of letters followed by nothing but spaces. */
    suffix = p;
    while (g_ascii_isalpha(*p))
        p++;
    suffixLen = p - suffix;
    while (g_ascii_isspace(*p))
        p++;
    if (*p != '\0')
        return VIRSH_POWER_PARSE_MALFORMED;

    if (suffixLen == 0) {
        unit = &units[0];
    } else {
        for (i = 0; units[i].suffix; i++) {
            if (strlen(units[i].suffix) == suffixLen &&
                STRCASEEQLEN(units[i].suffix, suffix, suffixLen)) {
                unit = &units[i];
                break;
            }
        }
        if (!unit)
            return VIRSH_POWER_PARSE_UNIT;
        /* Case does not matter, except in an SI prefix whose case is
         * another prefix: 'MW' is megawatts, not milliwatts, and 'mHz'
         * millihertz, not megahertz. */
        if (suffix[0] != unit->suffix[0] &&
            strchr(virshPowerCaseSensitivePrefixes, suffix[0]))
            return VIRSH_POWER_PARSE_AMBIGUOUS;
    }

    /* The integer part, in units of @unit. */
    for (i = 0; i < intLen; i++) {
        unsigned int digit = intStart[i] - '0';

        if (result > (ULLONG_MAX - digit) / 10)
            return VIRSH_POWER_PARSE_OVERFLOW;
        result = result * 10 + digit;
    }

    if (result > ULLONG_MAX / unit->factor)
        return VIRSH_POWER_PARSE_OVERFLOW;
    result *= unit->factor;

    /* Each fractional digit is worth a tenth of the previous one; once
     * below one base unit only zeros may follow. */
    scale = unit->factor;
    for (i = 0; i < fracLen; i++) {
        unsigned int digit = fracStart[i] - '0';

        if (scale % 10 != 0) {
            if (digit != 0)
                return VIRSH_POWER_PARSE_PRECISION;
            continue;
        }

        scale /= 10;
        if (result > ULLONG_MAX - digit * scale)
            return VIRSH_POWER_PARSE_OVERFLOW;
        result += digit * scale;
    }

    *value = result;
    return VIRSH_POWER_PARSE_OK;
}
