/*
 * virhostpower.h: host CPU frequency, cpufreq governor and RAPL power
 *                 limits, through the libvirt-power library
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

#include "internal.h"
#include "virenum.h"
#include "virtypedparam.h"

/* The flags every node power setter accepts. */
#define VIR_HOST_POWER_SET_FLAGS \
    (VIR_NODE_POWER_SWITCH_GOVERNOR | \
     VIR_NODE_POWER_INCLUDE_SIBLINGS | \
     VIR_NODE_POWER_DRY_RUN | \
     VIR_NODE_POWER_RESTORE)

int virHostPowerSetFrequency(const char *sysfsRoot,
                             const char *stateDir,
                             const char *cpumap,
                             virTypedParameterPtr params,
                             int nparams,
                             unsigned int flags);

int virHostPowerGetFrequency(const char *sysfsRoot,
                             const char *cpumap,
                             virTypedParameterPtr *params,
                             int *nparams,
                             unsigned int flags);

int virHostPowerSetGovernor(const char *sysfsRoot,
                            const char *stateDir,
                            const char *cpumap,
                            const char *governor,
                            unsigned int flags);

int virHostPowerSetRaplLimit(const char *sysfsRoot,
                             const char *stateDir,
                             const char *zone,
                             const char *constraint,
                             virTypedParameterPtr params,
                             int nparams,
                             unsigned int flags);

int virHostPowerGetRaplLimit(const char *sysfsRoot,
                             const char *zone,
                             virTypedParameterPtr *params,
                             int *nparams,
                             unsigned int flags);

int virHostPowerCreateSimulatedHost(const char *dir);


/* Per-domain energy accounting: a thread that splits the host's measured
 * RAPL energy among domains every interval. */
typedef struct _virHostPowerAccounting virHostPowerAccounting;

/* The range of the accounting interval, in milliseconds. */
#define VIR_HOST_POWER_ACCOUNTING_INTERVAL_MIN 100
#define VIR_HOST_POWER_ACCOUNTING_INTERVAL_MAX 3600000

/* What happens to idle (static) energy: counted apart, or shared among
 * the running domains by vCPU count (qemu.conf power_accounting_idle). */
typedef enum {
    VIR_HOST_POWER_IDLE_APART = 0,
    VIR_HOST_POWER_IDLE_VCPUS,

    VIR_HOST_POWER_IDLE_LAST
} virHostPowerIdlePolicy;

VIR_ENUM_DECL(virHostPowerIdlePolicy);

virHostPowerAccounting *
virHostPowerAccountingNew(const char *sysfsRoot,
                          const char *stateFile,
                          unsigned int intervalMS,
                          virHostPowerIdlePolicy idlePolicy);

void virHostPowerAccountingFree(virHostPowerAccounting *acct);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virHostPowerAccounting, virHostPowerAccountingFree);

int virHostPowerAccountingAddDomain(virHostPowerAccounting *acct,
                                    const unsigned char *uuid,
                                    pid_t pid,
                                    unsigned int vcpus);

void virHostPowerAccountingRemoveDomain(virHostPowerAccounting *acct,
                                        const unsigned char *uuid);

int virHostPowerAccountingDomainStats(virHostPowerAccounting *acct,
                                      const unsigned char *uuid,
                                      virTypedParamList *params);

int virHostPowerAccountingNodeParams(virHostPowerAccounting *acct,
                                     virTypedParameterPtr *params,
                                     int *nparams);
