/*
 * virsh-completer-power.c: virsh completer callbacks related to host power
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

#include "virsh-completer-power.h"
#include "virsh.h"
#include "virsh-host-power.h"


/* The logical numbers of the host CPUs that virNodeGetFrequency()
 * reports, that is the online ones, offered one by one or appended to
 * the comma separated list typed so far; "all" only on its own. */
char **
virshNodePowerCpuCompleter(vshControl *ctl,
                           const vshCmd *cmd,
                           unsigned int flags)
{
    virshControl *priv = ctl->privData;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int count = 0;
    const char *curval = NULL;
    g_auto(GStrv) cpus = NULL;
    size_t ncpus = 0;
    size_t i;
    char **ret = NULL;

    virCheckFlags(0, NULL);

    if (!priv->conn || virConnectIsAlive(priv->conn) <= 0)
        return NULL;

    if (vshCommandOptStringQuiet(ctl, cmd, "cpu", &curval) < 0)
        return NULL;

    if (virNodeGetFrequency(priv->conn, NULL, &params, &nparams, 0) < 0)
        return NULL;

    if (virTypedParamsGetUInt(params, nparams, "cpu.count", &count) != 1 ||
        count > nparams)
        goto cleanup;

    cpus = g_new0(char *, count + 2);

    if (!curval || !strchr(curval, ','))
        cpus[ncpus++] = g_strdup("all");

    for (i = 0; i < count; i++) {
        g_autofree char *field = g_strdup_printf("cpu.%zu.id", i);
        unsigned int id;

        if (virTypedParamsGetUInt(params, nparams, field, &id) != 1)
            goto cleanup;

        cpus[ncpus++] = g_strdup_printf("%u", id);
    }

    ret = virshCommaStringListComplete(curval, (const char **) cpus);

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}


/* The governors any of the CPUs selected by --cpu (all online CPUs
 * without it) offers: the union of their available_governors lists, in
 * the order the kernel lists them. */
char **
virshNodePowerGovernorCompleter(vshControl *ctl,
                                const vshCmd *cmd,
                                unsigned int flags)
{
    virshControl *priv = ctl->privData;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int count = 0;
    const char *cpumap = NULL;
    g_autoptr(GPtrArray) governors = NULL;
    size_t i;
    char **ret = NULL;

    virCheckFlags(0, NULL);

    if (!priv->conn || virConnectIsAlive(priv->conn) <= 0)
        return NULL;

    if (vshCommandOptStringQuiet(ctl, cmd, "cpu", &cpumap) < 0)
        return NULL;

    if (virNodeGetFrequency(priv->conn, cpumap, &params, &nparams, 0) < 0)
        return NULL;

    if (virTypedParamsGetUInt(params, nparams, "cpu.count", &count) != 1 ||
        count > nparams)
        goto cleanup;

    governors = g_ptr_array_new_with_free_func(g_free);

    for (i = 0; i < count; i++) {
        g_autofree char *field = NULL;
        g_auto(GStrv) names = NULL;
        const char *available = NULL;
        char **name;

        field = g_strdup_printf("cpu.%zu.available_governors", i);
        if (virTypedParamsGetString(params, nparams, field, &available) != 1)
            continue;

        names = g_strsplit(available, " ", 0);
        for (name = names; *name; name++) {
            if (**name == '\0' ||
                g_ptr_array_find_with_equal_func(governors, *name,
                                                 g_str_equal, NULL))
                continue;

            g_ptr_array_add(governors, g_strdup(*name));
        }
    }

    g_ptr_array_add(governors, NULL);
    ret = (char **) g_ptr_array_free(g_steal_pointer(&governors), FALSE);

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}


/* The names of the host's RAPL zones: package-0, package-0/dram, ... */
char **
virshNodeRaplZoneCompleter(vshControl *ctl,
                           const vshCmd *cmd G_GNUC_UNUSED,
                           unsigned int flags)
{
    virshControl *priv = ctl->privData;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int count = 0;
    g_auto(GStrv) zones = NULL;
    size_t i;
    char **ret = NULL;

    virCheckFlags(0, NULL);

    if (!priv->conn || virConnectIsAlive(priv->conn) <= 0)
        return NULL;

    if (virNodeGetRaplLimit(priv->conn, NULL, &params, &nparams, 0) < 0)
        return NULL;

    if (virTypedParamsGetUInt(params, nparams, "zone.count", &count) != 1 ||
        count > nparams)
        goto cleanup;

    zones = g_new0(char *, count + 1);

    for (i = 0; i < count; i++) {
        g_autofree char *field = g_strdup_printf("zone.%zu.name", i);
        const char *name = NULL;

        if (virTypedParamsGetString(params, nparams, field, &name) != 1)
            goto cleanup;

        zones[i] = g_strdup(name);
    }

    ret = g_steal_pointer(&zones);

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}


char **
virshNodeRaplConstraintCompleter(vshControl *ctl G_GNUC_UNUSED,
                                 const vshCmd *cmd G_GNUC_UNUSED,
                                 unsigned int flags)
{
    virCheckFlags(0, NULL);

    return virshEnumComplete(VIRSH_NODE_RAPL_CONSTRAINT_LAST,
                             virshNodeRaplConstraintTypeToString);
}
