/*
 * virsh-host-power.h: Commands in "Host Power" group.
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

#include "vsh.h"
#include "virenum.h"

extern const vshCmdDef hostPowerCmds[];

/* RAPL constraint names, as the kernel's powercap files give them */
typedef enum {
    VIRSH_NODE_RAPL_CONSTRAINT_LONG_TERM,
    VIRSH_NODE_RAPL_CONSTRAINT_SHORT_TERM,
    VIRSH_NODE_RAPL_CONSTRAINT_PEAK_POWER,

    VIRSH_NODE_RAPL_CONSTRAINT_LAST
} virshNodeRaplConstraint;

VIR_ENUM_DECL(virshNodeRaplConstraint);
