/*
 * virsh-host-power.c: Commands in "Host Power" group.
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
#include "virsh-host-power.h"
#include "virsh.h"

#include "internal.h"
#include "virenum.h"
#include "virsh-completer-power.h"
#include "virsh-power-units.h"
#include "vsh-table.h"

VIR_ENUM_IMPL(virshNodeRaplConstraint,
              VIRSH_NODE_RAPL_CONSTRAINT_LAST,
              "long_term",
              "short_term",
              "peak_power");

/* RAPL zone that the setters change when --zone is not given */
#define VIRSH_NODE_RAPL_DEFAULT_ZONE "package-0"

/* What a value of each quantity may look like, for error messages */
static const char *virshPowerQuantityAccepted[] = {
    [VIRSH_POWER_QUANTITY_FREQUENCY] =
        N_("a frequency in kHz such as 2400000, or with a unit: "
           "2400000kHz, 2400MHz, 2.4GHz"),
    [VIRSH_POWER_QUANTITY_POWER] =
        N_("a power in uW such as 15000000, or with a unit: "
           "15000000uW, 15000mW, 15W"),
    [VIRSH_POWER_QUANTITY_TIME] =
        N_("a time in us such as 1000000, or with a unit: "
           "1000000us, 1000ms, 1s"),
};
G_STATIC_ASSERT(G_N_ELEMENTS(virshPowerQuantityAccepted) ==
                VIRSH_POWER_QUANTITY_LAST);


/**
 * virshPowerCommandOptQuantity:
 * @ctl: virsh control structure
 * @cmd: command reference
 * @name: option name
 * @quantity: what the option holds
 * @value: where to store the value, in the base unit of @quantity
 *
 * Parse option @name as a frequency, power or time with an optional
 * unit (see virshPowerParseQuantity()).
 *
 * Returns 1 and sets @value if the option is present and valid, 0 if
 * it is absent, -1 with an error naming the bad value and what is
 * accepted if it is invalid.
 */
static int
virshPowerCommandOptQuantity(vshControl *ctl,
                             const vshCmd *cmd,
                             const char *name,
                             virshPowerQuantity quantity,
                             unsigned long long *value)
{
    const char *str = NULL;
    const char *accepted = _(virshPowerQuantityAccepted[quantity]);
    const char *unit = virshPowerQuantityBaseUnit(quantity);

    if (vshCommandOptString(ctl, cmd, name, &str) < 0)
        return -1;

    if (!str)
        return 0;

    switch (virshPowerParseQuantity(str, quantity, value)) {
    case VIRSH_POWER_PARSE_OK:
        return 1;

    case VIRSH_POWER_PARSE_NEGATIVE:
        vshError(ctl,
                 _("Invalid value '%1$s' for option --%2$s: negative values are not accepted; expected %3$s"),
                 str, name, accepted);
        break;

    case VIRSH_POWER_PARSE_UNIT:
        vshError(ctl,
                 _("Invalid unit in '%1$s' for option --%2$s: expected %3$s"),
                 str, name, accepted);
        break;

    case VIRSH_POWER_PARSE_AMBIGUOUS:
        vshError(ctl,
                 _("Invalid unit in '%1$s' for option --%2$s: the case of a unit's prefix matters (m is milli, M is mega); expected %3$s"),
                 str, name, accepted);
        break;

    case VIRSH_POWER_PARSE_PRECISION:
        vshError(ctl,
                 _("Invalid value '%1$s' for option --%2$s: values are whole numbers of %3$s"),
                 str, name, unit);
        break;

    case VIRSH_POWER_PARSE_OVERFLOW:
        vshError(ctl,
                 _("Invalid value '%1$s' for option --%2$s: the largest accepted value is %3$llu %4$s"),
                 str, name, ULLONG_MAX, unit);
        break;

    case VIRSH_POWER_PARSE_MALFORMED:
    case VIRSH_POWER_PARSE_LAST:
    default:
        vshError(ctl,
                 _("Invalid value '%1$s' for option --%2$s: expected %3$s"),
                 str, name, accepted);
        break;
    }

    return -1;
}


/**
 * virshNodePowerRequireSetting:
 * @ctl: virsh control structure
 * @cmd: command reference
 * @opts: NULL terminated list of boolean options that modify a change
 * @settings: the options that request a change, for the error message
 *
 * A command run without a setting option only shows the current state;
 * reject options among @opts that would then be silently ignored.
 *
 * Returns true if none of @opts is present.
 */
static bool
virshNodePowerRequireSetting(vshControl *ctl,
                             const vshCmd *cmd,
                             const char **opts,
                             const char *settings)
{
    const char **opt;

    for (opt = opts; *opt; opt++) {
        if (vshCommandOptBool(cmd, *opt)) {
            vshError(ctl, _("Option --%1$s needs a change to apply to: %2$s"),
                     *opt, settings);
            return false;
        }
    }

    return true;
}


/* "all CPUs", "CPU 3" or "CPUs 0-3,8", as the user selected them */
static char *
virshNodePowerDescribeCPUs(const char *cpumap)
{
    if (!cpumap || STREQ(cpumap, "all"))
        return g_strdup(_("all CPUs"));

    if (cpumap[strspn(cpumap, "0123456789")] == '\0')
        return g_strdup_printf(_("CPU %1$s"), cpumap);

    return g_strdup_printf(_("CPUs %1$s"), cpumap);
}


/*
 * Reading the typed parameters of virNodeGetFrequency() and
 * virNodeGetRaplLimit(). Fields are named "<prefix>.<index>.<name>",
 * for example "cpu.3.governor" or "zone.0.constraint.1.power_limit".
 * Each virshPowerCell* helper formats one field for a table cell: its
 * value, or "-" when the host does not report it. They return 1 if
 * the field is present, 0 if it is absent, and -1 with a libvirt error
 * set if it has another type than the API documents.
 */
static char *
virshPowerField(const char *prefix,
                size_t idx,
                const char *name)
{
    return g_strdup_printf("%s.%zu.%s", prefix, idx, name);
}


static int
virshPowerCellString(virTypedParameterPtr params,
                     int nparams,
                     const char *prefix,
                     size_t idx,
                     const char *name,
                     char **cell)
{
    g_autofree char *field = virshPowerField(prefix, idx, name);
    const char *value = NULL;
    int rc;

    if ((rc = virTypedParamsGetString(params, nparams, field, &value)) < 0)
        return -1;

    *cell = g_strdup(rc == 1 && *value ? value : "-");
    return rc;
}


static int
virshPowerCellUInt(virTypedParameterPtr params,
                   int nparams,
                   const char *prefix,
                   size_t idx,
                   const char *name,
                   char **cell)
{
    g_autofree char *field = virshPowerField(prefix, idx, name);
    unsigned int value = 0;
    int rc;

    if ((rc = virTypedParamsGetUInt(params, nparams, field, &value)) < 0)
        return -1;

    *cell = rc == 1 ? g_strdup_printf("%u", value) : g_strdup("-");
    return rc;
}


/* Negative values mean "unknown" or "none" in these fields. */
static int
virshPowerCellInt(virTypedParameterPtr params,
                  int nparams,
                  const char *prefix,
                  size_t idx,
                  const char *name,
                  char **cell)
{
    g_autofree char *field = virshPowerField(prefix, idx, name);
    int value = -1;
    int rc;

    if ((rc = virTypedParamsGetInt(params, nparams, field, &value)) < 0)
        return -1;

    *cell = rc == 1 && value >= 0 ? g_strdup_printf("%d", value) : g_strdup("-");
    return rc;
}


static int
virshPowerCellULLong(virTypedParameterPtr params,
                     int nparams,
                     const char *prefix,
                     size_t idx,
                     const char *name,
                     char **cell)
{
    g_autofree char *field = virshPowerField(prefix, idx, name);
    unsigned long long value = 0;
    int rc;

    if ((rc = virTypedParamsGetULLong(params, nparams, field, &value)) < 0)
        return -1;

    *cell = rc == 1 ? g_strdup_printf("%llu", value) : g_strdup("-");
    return rc;
}


static int
virshPowerCellBoolean(virTypedParameterPtr params,
                      int nparams,
                      const char *prefix,
                      size_t idx,
                      const char *name,
                      char **cell)
{
    g_autofree char *field = virshPowerField(prefix, idx, name);
    int value = 0;
    int rc;

    if ((rc = virTypedParamsGetBoolean(params, nparams, field, &value)) < 0)
        return -1;

    *cell = g_strdup(rc == 1 ? (value ? _("yes") : _("no")) : "-");
    return rc;
}


/**
 * virshPowerGetCount:
 * @ctl: virsh control structure
 * @params: typed parameters returned by the host
 * @nparams: number of @params
 * @field: name of a block count field ("cpu.count", "zone.count", ...)
 * @count: where to store the count
 *
 * Returns 0 on success, -1 with an error reported if the field is
 * missing, has the wrong type, or counts more blocks than @params could
 * hold.
 */
static int
virshPowerGetCount(vshControl *ctl,
                   virTypedParameterPtr params,
                   int nparams,
                   const char *field,
                   unsigned int *count)
{
    int rc;

    if ((rc = virTypedParamsGetUInt(params, nparams, field, count)) < 0) {
        vshSaveLibvirtError();
        return -1;
    }

    if (rc == 0) {
        vshError(ctl, _("The host's reply lacks the field '%1$s'"), field);
        return -1;
    }

    if (*count > nparams) {
        vshError(ctl, _("The host's reply has %1$u in '%2$s' but only %3$d fields"),
                 *count, field, nparams);
        return -1;
    }

    return 0;
}


/*
 * virshPowerCpuOffline:
 * @params: typed parameters of virNodeGetFrequency()
 * @nparams: number of @params
 * @idx: CPU block
 *
 * Returns 1 if block @idx reports an offline CPU ("cpu.<idx>.online" 0),
 * 0 if it is online or does not say (older daemons), -1 with a libvirt
 * error set if the field has another type.
 */
static int
virshPowerCpuOffline(virTypedParameterPtr params,
                     int nparams,
                     size_t idx)
{
    g_autofree char *field = virshPowerField("cpu", idx, "online");
    int online = 1;

    if (virTypedParamsGetBoolean(params, nparams, field, &online) < 0)
        return -1;

    return online ? 0 : 1;
}


/* Whether some CPU block in @params reports an offline CPU: 1, 0, or -1
 * with a libvirt error set. */
static int
virshPowerAnyCpuOffline(virTypedParameterPtr params,
                        int nparams,
                        unsigned int count)
{
    size_t i;
    int rc;

    for (i = 0; i < count; i++) {
        if ((rc = virshPowerCpuOffline(params, nparams, i)) != 0)
            return rc;
    }
    return 0;
}


/* Print the cpufreq state of the CPUs in @params, one row per CPU. A
 * State column appears when some CPU is offline; an offline CPU's row
 * has no frequency data. */
static bool
virshNodePowerPrintFrequency(vshControl *ctl,
                             virTypedParameterPtr params,
                             int nparams)
{
    g_autoptr(vshTable) table = NULL;
    unsigned int count = 0;
    bool hasEpp = false;
    int hasOffline;
    size_t i;

    if (virshPowerGetCount(ctl, params, nparams, "cpu.count", &count) < 0)
        return false;

    /* The EPP column only appears where some CPU has a preference. */
    for (i = 0; i < count && !hasEpp; i++) {
        g_autofree char *field = virshPowerField("cpu", i, "epp");

        hasEpp = !!virTypedParamsGet(params, nparams, field);
    }

    if ((hasOffline = virshPowerAnyCpuOffline(params, nparams, count)) < 0) {
        vshSaveLibvirtError();
        return false;
    }

    if (hasOffline)
        table = vshTableNew(_("CPU"), _("State"), _("Policy"), _("Driver"),
                            _("Governor"), _("Current (kHz)"), _("Min (kHz)"),
                            _("Max (kHz)"), _("HW min (kHz)"), _("HW max (kHz)"),
                            hasEpp ? _("EPP") : NULL, NULL);
    else
        table = vshTableNew(_("CPU"), _("Policy"), _("Driver"), _("Governor"),
                            _("Current (kHz)"), _("Min (kHz)"), _("Max (kHz)"),
                            _("HW min (kHz)"), _("HW max (kHz)"),
                            hasEpp ? _("EPP") : NULL, NULL);
    if (!table)
        return false;

    for (i = 0; i < count; i++) {
        g_autofree char *id = NULL;
        g_autofree char *policy = NULL;
        g_autofree char *driver = NULL;
        g_autofree char *governor = NULL;
        g_autofree char *cur = NULL;
        g_autofree char *min = NULL;
        g_autofree char *max = NULL;
        g_autofree char *hwMin = NULL;
        g_autofree char *hwMax = NULL;
        g_autofree char *epp = NULL;
        int offline;
        int rc;

        if ((offline = virshPowerCpuOffline(params, nparams, i)) < 0 ||
            virshPowerCellUInt(params, nparams, "cpu", i, "id", &id) < 0 ||
            virshPowerCellInt(params, nparams, "cpu", i, "policy", &policy) < 0 ||
            virshPowerCellString(params, nparams, "cpu", i, "driver", &driver) < 0 ||
            virshPowerCellString(params, nparams, "cpu", i, "governor", &governor) < 0 ||
            virshPowerCellULLong(params, nparams, "cpu", i, "cur_frequency", &cur) < 0 ||
            virshPowerCellULLong(params, nparams, "cpu", i, "min_frequency", &min) < 0 ||
            virshPowerCellULLong(params, nparams, "cpu", i, "max_frequency", &max) < 0 ||
            virshPowerCellULLong(params, nparams, "cpu", i, "cpuinfo_min_frequency", &hwMin) < 0 ||
            virshPowerCellULLong(params, nparams, "cpu", i, "cpuinfo_max_frequency", &hwMax) < 0 ||
            virshPowerCellString(params, nparams, "cpu", i, "epp", &epp) < 0) {
            vshSaveLibvirtError();
            return false;
        }

        if (hasOffline)
            rc = vshTableRowAppend(table, id,
                                   offline ? _("offline") : _("online"),
                                   policy, driver, governor,
                                   cur, min, max, hwMin, hwMax,
                                   hasEpp ? epp : NULL, NULL);
        else
            rc = vshTableRowAppend(table, id, policy, driver, governor,
                                   cur, min, max, hwMin, hwMax,
                                   hasEpp ? epp : NULL, NULL);
        if (rc < 0)
            return false;
    }

    vshTablePrintToStdout(table, ctl);
    return true;
}


/* Print the governor of the CPUs in @params, one row per CPU. */
static bool
virshNodePowerPrintGovernor(vshControl *ctl,
                            virTypedParameterPtr params,
                            int nparams)
{
    g_autoptr(vshTable) table = NULL;
    unsigned int count = 0;
    size_t i;

    if (virshPowerGetCount(ctl, params, nparams, "cpu.count", &count) < 0)
        return false;

    if (!(table = vshTableNew(_("CPU"), _("Governor"),
                              _("Available governors"), NULL)))
        return false;

    for (i = 0; i < count; i++) {
        g_autofree char *id = NULL;
        g_autofree char *governor = NULL;
        g_autofree char *available = NULL;
        int offline;

        if ((offline = virshPowerCpuOffline(params, nparams, i)) < 0 ||
            virshPowerCellUInt(params, nparams, "cpu", i, "id", &id) < 0 ||
            virshPowerCellString(params, nparams, "cpu", i, "governor", &governor) < 0 ||
            virshPowerCellString(params, nparams, "cpu", i, "available_governors", &available) < 0) {
            vshSaveLibvirtError();
            return false;
        }

        /* An offline CPU runs no governor. */
        if (offline) {
            g_free(governor);
            governor = g_strdup(_("(offline)"));
        }

        g_strstrip(available);

        if (vshTableRowAppend(table, id, governor, available, NULL) < 0)
            return false;
    }

    vshTablePrintToStdout(table, ctl);
    return true;
}


/* Print the RAPL zones in @params, one row per zone and constraint;
 * with @constraint, only the constraints of that name or index. */
static bool
virshNodePowerPrintRapl(vshControl *ctl,
                        virTypedParameterPtr params,
                        int nparams,
                        const char *constraint)
{
    g_autoptr(vshTable) table = NULL;
    unsigned int nzones = 0;
    size_t nrows = 0;
    size_t i;
    size_t j;

    if (virshPowerGetCount(ctl, params, nparams, "zone.count", &nzones) < 0)
        return false;

    if (!(table = vshTableNew(_("Zone"), _("Enabled"), _("Energy (uJ)"),
                              _("Constraint"), _("Limit (uW)"),
                              _("Window (us)"), _("Max (uW)"), NULL)))
        return false;

    for (i = 0; i < nzones; i++) {
        g_autofree char *name = NULL;
        g_autofree char *enabled = NULL;
        g_autofree char *energy = NULL;
        g_autofree char *countField = virshPowerField("zone", i, "constraint.count");
        g_autofree char *prefix = g_strdup_printf("zone.%zu.constraint", i);
        unsigned int nconstraints = 0;

        if (virshPowerCellString(params, nparams, "zone", i, "name", &name) < 0 ||
            virshPowerCellBoolean(params, nparams, "zone", i, "enabled", &enabled) < 0 ||
            virshPowerCellULLong(params, nparams, "zone", i, "energy", &energy) < 0) {
            vshSaveLibvirtError();
            return false;
        }

        if (virshPowerGetCount(ctl, params, nparams, countField, &nconstraints) < 0)
            return false;

        if (nconstraints == 0 && !constraint) {
            if (vshTableRowAppend(table, name, enabled, energy,
                                  "-", "-", "-", "-", NULL) < 0)
                return false;
            nrows++;
        }

        for (j = 0; j < nconstraints; j++) {
            g_autofree char *indexStr = g_strdup_printf("%zu", j);
            g_autofree char *cname = NULL;
            g_autofree char *limit = NULL;
            g_autofree char *window = NULL;
            g_autofree char *maxPower = NULL;

            if (virshPowerCellString(params, nparams, prefix, j, "name", &cname) < 0 ||
                virshPowerCellULLong(params, nparams, prefix, j, "power_limit", &limit) < 0 ||
                virshPowerCellULLong(params, nparams, prefix, j, "time_window", &window) < 0 ||
                virshPowerCellULLong(params, nparams, prefix, j, "max_power", &maxPower) < 0) {
                vshSaveLibvirtError();
                return false;
            }

            if (constraint && STRNEQ(constraint, cname) && STRNEQ(constraint, indexStr))
                continue;

            if (vshTableRowAppend(table, name, enabled, energy,
                                  cname, limit, window, maxPower, NULL) < 0)
                return false;
            nrows++;
        }
    }

    if (constraint && nrows == 0) {
        vshError(ctl, _("No RAPL constraint '%1$s' in the selected zones"),
                 constraint);
        return false;
    }

    vshTablePrintToStdout(table, ctl);
    return true;
}


/* The daemon's energy accounting totals per zone, when it runs: what was
 * measured, what went to running domains, to domains that stopped, what
 * the host's own work used, the idle energy, and the idle power learned.
 * A daemon without the idle split shows its unattributed energy as the
 * host's and "-" for idle. */
static bool
virshNodePowerPrintAccounting(vshControl *ctl,
                              virTypedParameterPtr params,
                              int nparams)
{
    g_autoptr(vshTable) table = NULL;
    unsigned long long tick = 0;
    unsigned int interval = 0;
    const char *weight = NULL;
    const char *idlePolicy = NULL;
    unsigned int nzones = 0;
    size_t i;

    if (virTypedParamsGetULLong(params, nparams, "accounting.tick", &tick) != 1) {
        vshPrintExtra(ctl, "%s", _("Energy accounting: off\n"));
        return true;
    }
    if (virTypedParamsGetUInt(params, nparams, "accounting.interval", &interval) < 0 ||
        virTypedParamsGetString(params, nparams, "accounting.weight", &weight) < 0 ||
        virTypedParamsGetString(params, nparams, "accounting.idle_policy", &idlePolicy) < 0 ||
        virshPowerGetCount(ctl, params, nparams, "zone.count", &nzones) < 0)
        return false;

    vshPrintExtra(ctl, _("Energy accounting: interval %1$llu, every %2$u ms, weight %3$s, idle energy %4$s\n"),
                  tick, interval, NULLSTR(weight), idlePolicy ? idlePolicy : "-");

    if (!(table = vshTableNew(_("Zone"), _("Measured (uJ)"), _("Domains (uJ)"),
                              _("Departed (uJ)"), _("Host (uJ)"), _("Idle (uJ)"),
                              _("Idle power (W)"), NULL)))
        return false;

    for (i = 0; i < nzones; i++) {
        g_autofree char *name = NULL;
        g_autofree char *fmeasured = virshPowerField("zone", i, "accounted.measured");
        g_autofree char *fdeparted = virshPowerField("zone", i, "accounted.departed");
        g_autofree char *funattr = virshPowerField("zone", i, "accounted.unattributed");
        g_autofree char *fhost = virshPowerField("zone", i, "accounted.host");
        g_autofree char *fidle = virshPowerField("zone", i, "accounted.idle");
        g_autofree char *fidlePower = virshPowerField("zone", i, "accounted.idle_power");
        g_autofree char *measuredStr = NULL;
        g_autofree char *domainsStr = NULL;
        g_autofree char *departedStr = NULL;
        g_autofree char *hostStr = NULL;
        g_autofree char *idleStr = NULL;
        g_autofree char *idlePowerStr = NULL;
        unsigned long long measured = 0;
        unsigned long long departed = 0;
        unsigned long long unattributed = 0;
        unsigned long long host = 0;
        unsigned long long idle = 0;
        unsigned long long idlePower = 0;

        if (virshPowerCellString(params, nparams, "zone", i, "name", &name) < 0) {
            vshSaveLibvirtError();
            return false;
        }
        if (virTypedParamsGetULLong(params, nparams, fmeasured, &measured) != 1 ||
            virTypedParamsGetULLong(params, nparams, fdeparted, &departed) != 1 ||
            virTypedParamsGetULLong(params, nparams, funattr, &unattributed) != 1)
            continue;

        measuredStr = g_strdup_printf("%llu", measured);
        domainsStr = g_strdup_printf("%llu", measured - departed - unattributed);
        departedStr = g_strdup_printf("%llu", departed);
        if (virTypedParamsGetULLong(params, nparams, fhost, &host) == 1 &&
            virTypedParamsGetULLong(params, nparams, fidle, &idle) == 1) {
            hostStr = g_strdup_printf("%llu", host);
            idleStr = g_strdup_printf("%llu", idle);
        } else {
            hostStr = g_strdup_printf("%llu", unattributed);
            idleStr = g_strdup("-");
        }
        if (virTypedParamsGetULLong(params, nparams, fidlePower, &idlePower) == 1)
            idlePowerStr = g_strdup_printf("%.2f", idlePower / 1e6);
        else
            idlePowerStr = g_strdup(idlePolicy ? _("learning") : "-");
        if (vshTableRowAppend(table, name, measuredStr, domainsStr,
                              departedStr, hostStr, idleStr, idlePowerStr, NULL) < 0)
            return false;
    }

    vshTablePrintToStdout(table, ctl);
    return true;
}


/* Every typed parameter as field=value, as 'domstats --raw' prints them. */
static bool
virshNodePowerPrintRaw(vshControl *ctl,
                       virTypedParameterPtr params,
                       int nparams)
{
    size_t i;

    for (i = 0; i < nparams; i++) {
        g_autofree char *value = vshGetTypedParamValue(ctl, &params[i]);

        vshPrint(ctl, "%s=%s\n", params[i].field, value);
    }
    return true;
}


/* Options shared by the commands */
#define VIRSH_NODE_POWER_OPT_CPU \
    {.name = "cpu", \
     .type = VSH_OT_STRING, \
     .completer = virshNodePowerCpuCompleter, \
     .help = N_("host CPUs: 'all' (default), a CPU number, or a list " \
                "such as 0-3,8") \
    }

#define VIRSH_NODE_POWER_OPT_INCLUDE_SIBLINGS \
    {.name = "include-siblings", \
     .type = VSH_OT_BOOL, \
     .help = N_("also change the SMT siblings of the selected CPUs") \
    }

#define VIRSH_NODE_POWER_OPT_DRY_RUN \
    {.name = "dry-run", \
     .type = VSH_OT_BOOL, \
     .help = N_("check the change against the host's limits without " \
                "applying it") \
    }


/*
 * "frequency" command
 */
static const vshCmdInfo info_frequency = {
    .help = N_("show or set host CPU frequencies"),
    .desc = N_("Without a setting option, show the cpufreq state of the "
               "host CPUs. With --frequency, set an exact frequency; with "
               "--min and --max, set the range the governor chooses from; "
               "with --restore, put back the values the host had before "
               "the first change. Frequencies are in kHz unless they carry "
               "a unit: kHz, MHz or GHz."),
};

static const vshCmdOptDef opts_frequency[] = {
    VIRSH_NODE_POWER_OPT_CPU,
    {.name = "frequency",
     .type = VSH_OT_STRING,
     .completer = virshCompleteEmpty,
     .help = N_("exact frequency, e.g. 2400000, 2400MHz or 2.4GHz "
                "(needs the userspace governor or --switch-governor)")
    },
    {.name = "min",
     .type = VSH_OT_STRING,
     .completer = virshCompleteEmpty,
     .help = N_("lowest frequency the governor may choose")
    },
    {.name = "max",
     .type = VSH_OT_STRING,
     .completer = virshCompleteEmpty,
     .help = N_("highest frequency the governor may choose")
    },
    {.name = "switch-governor",
     .type = VSH_OT_BOOL,
     .help = N_("switch the CPUs to the userspace governor before setting "
                "--frequency")
    },
    VIRSH_NODE_POWER_OPT_INCLUDE_SIBLINGS,
    VIRSH_NODE_POWER_OPT_DRY_RUN,
    {.name = "restore",
     .type = VSH_OT_BOOL,
     .help = N_("restore the frequency settings the CPUs had before the "
                "first change")
    },
    {.name = NULL}
};

static bool
cmdFrequency(vshControl *ctl, const vshCmd *cmd)
{
    virshControl *priv = ctl->privData;
    const char *cpumap = NULL;
    unsigned long long frequency = 0;
    unsigned long long minFreq = 0;
    unsigned long long maxFreq = 0;
    int hasFrequency = 0;
    int hasMin = 0;
    int hasMax = 0;
    bool restore = vshCommandOptBool(cmd, "restore");
    bool dryRun = vshCommandOptBool(cmd, "dry-run");
    const char *modifiers[] = { "include-siblings", "dry-run", NULL };
    g_autofree char *cpus = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int maxparams = 0;
    unsigned int flags = 0;
    bool ret = false;

    VSH_EXCLUSIVE_OPTIONS("frequency", "min");
    VSH_EXCLUSIVE_OPTIONS("frequency", "max");
    VSH_EXCLUSIVE_OPTIONS("restore", "frequency");
    VSH_EXCLUSIVE_OPTIONS("restore", "min");
    VSH_EXCLUSIVE_OPTIONS("restore", "max");
    VSH_REQUIRE_OPTION("switch-governor", "frequency");

    if (vshCommandOptString(ctl, cmd, "cpu", &cpumap) < 0)
        return false;

    if ((hasFrequency = virshPowerCommandOptQuantity(ctl, cmd, "frequency",
                                                     VIRSH_POWER_QUANTITY_FREQUENCY,
                                                     &frequency)) < 0 ||
        (hasMin = virshPowerCommandOptQuantity(ctl, cmd, "min",
                                               VIRSH_POWER_QUANTITY_FREQUENCY,
                                               &minFreq)) < 0 ||
        (hasMax = virshPowerCommandOptQuantity(ctl, cmd, "max",
                                               VIRSH_POWER_QUANTITY_FREQUENCY,
                                               &maxFreq)) < 0)
        return false;

    if (!hasFrequency && !hasMin && !hasMax && !restore) {
        if (!virshNodePowerRequireSetting(ctl, cmd, modifiers,
                                          _("--frequency, --min, --max or --restore")))
            return false;

        if (virNodeGetFrequency(priv->conn, cpumap, &params, &nparams, 0) < 0) {
            vshError(ctl, "%s", _("Unable to get the CPU frequencies of the host"));
            goto cleanup;
        }

        ret = virshNodePowerPrintFrequency(ctl, params, nparams);
        goto cleanup;
    }

    if (hasMin && hasMax && minFreq > maxFreq) {
        vshError(ctl, _("Minimum frequency %1$llu kHz is above maximum frequency %2$llu kHz"),
                 minFreq, maxFreq);
        return false;
    }

    if (vshCommandOptBool(cmd, "switch-governor"))
        flags |= VIR_NODE_POWER_SWITCH_GOVERNOR;
    if (vshCommandOptBool(cmd, "include-siblings"))
        flags |= VIR_NODE_POWER_INCLUDE_SIBLINGS;
    if (dryRun)
        flags |= VIR_NODE_POWER_DRY_RUN;
    if (restore)
        flags |= VIR_NODE_POWER_RESTORE;

    if (hasFrequency &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                VIR_NODE_FREQUENCY_FREQUENCY, frequency) < 0)
        goto save_error;

    if (hasMin &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                VIR_NODE_FREQUENCY_MIN, minFreq) < 0)
        goto save_error;

    if (hasMax &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                VIR_NODE_FREQUENCY_MAX, maxFreq) < 0)
        goto save_error;

    cpus = virshNodePowerDescribeCPUs(cpumap);

    if (virNodeSetFrequency(priv->conn, cpumap, params, nparams, flags) < 0) {
        if (restore)
            vshError(ctl, _("Unable to restore the frequency settings of %1$s"), cpus);
        else
            vshError(ctl, _("Unable to change the frequency settings of %1$s"), cpus);
        goto cleanup;
    }

    if (restore) {
        vshPrintExtra(ctl, dryRun ?
                      _("Frequency settings of %1$s can be restored\n") :
                      _("Frequency settings of %1$s restored\n"),
                      cpus);
    } else if (hasFrequency) {
        vshPrintExtra(ctl, dryRun ?
                      _("Frequency of %1$s can be set to %2$llu kHz\n") :
                      _("Frequency of %1$s set to %2$llu kHz\n"),
                      cpus, frequency);
    } else if (hasMin && hasMax) {
        vshPrintExtra(ctl, dryRun ?
                      _("Frequency range of %1$s can be set to %2$llu-%3$llu kHz\n") :
                      _("Frequency range of %1$s set to %2$llu-%3$llu kHz\n"),
                      cpus, minFreq, maxFreq);
    } else if (hasMin) {
        vshPrintExtra(ctl, dryRun ?
                      _("Minimum frequency of %1$s can be set to %2$llu kHz\n") :
                      _("Minimum frequency of %1$s set to %2$llu kHz\n"),
                      cpus, minFreq);
    } else {
        vshPrintExtra(ctl, dryRun ?
                      _("Maximum frequency of %1$s can be set to %2$llu kHz\n") :
                      _("Maximum frequency of %1$s set to %2$llu kHz\n"),
                      cpus, maxFreq);
    }

    if (dryRun)
        vshPrintExtra(ctl, "%s", _("Dry run: nothing was changed\n"));

    ret = true;

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;

 save_error:
    vshSaveLibvirtError();
    goto cleanup;
}


/*
 * "governor" command
 */
static const vshCmdInfo info_governor = {
    .help = N_("show or set host CPU governors"),
    .desc = N_("Without --governor or --restore, show the cpufreq governor "
               "of the host CPUs and the governors they offer. With "
               "--governor, switch the CPUs to that governor; with "
               "--restore, put back the governors they had before the "
               "first change."),
};

static const vshCmdOptDef opts_governor[] = {
    VIRSH_NODE_POWER_OPT_CPU,
    {.name = "governor",
     .type = VSH_OT_STRING,
     .completer = virshNodePowerGovernorCompleter,
     .help = N_("governor to switch to, e.g. performance, powersave, "
                "schedutil or userspace")
    },
    VIRSH_NODE_POWER_OPT_INCLUDE_SIBLINGS,
    VIRSH_NODE_POWER_OPT_DRY_RUN,
    {.name = "restore",
     .type = VSH_OT_BOOL,
     .help = N_("restore the governors the CPUs had before the first change")
    },
    {.name = NULL}
};

static bool
cmdGovernor(vshControl *ctl, const vshCmd *cmd)
{
    virshControl *priv = ctl->privData;
    const char *cpumap = NULL;
    const char *governor = NULL;
    bool restore = vshCommandOptBool(cmd, "restore");
    bool dryRun = vshCommandOptBool(cmd, "dry-run");
    const char *modifiers[] = { "include-siblings", "dry-run", NULL };
    g_autofree char *cpus = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int flags = 0;
    bool ret = false;

    VSH_EXCLUSIVE_OPTIONS("governor", "restore");

    if (vshCommandOptString(ctl, cmd, "cpu", &cpumap) < 0 ||
        vshCommandOptString(ctl, cmd, "governor", &governor) < 0)
        return false;

    if (!governor && !restore) {
        if (!virshNodePowerRequireSetting(ctl, cmd, modifiers,
                                          _("--governor or --restore")))
            return false;

        if (virNodeGetFrequency(priv->conn, cpumap, &params, &nparams, 0) < 0) {
            vshError(ctl, "%s", _("Unable to get the CPU governors of the host"));
            goto cleanup;
        }

        ret = virshNodePowerPrintGovernor(ctl, params, nparams);
        goto cleanup;
    }

    if (vshCommandOptBool(cmd, "include-siblings"))
        flags |= VIR_NODE_POWER_INCLUDE_SIBLINGS;
    if (dryRun)
        flags |= VIR_NODE_POWER_DRY_RUN;
    if (restore)
        flags |= VIR_NODE_POWER_RESTORE;

    cpus = virshNodePowerDescribeCPUs(cpumap);

    if (virNodeSetGovernor(priv->conn, cpumap, governor, flags) < 0) {
        if (restore)
            vshError(ctl, _("Unable to restore the governors of %1$s"), cpus);
        else
            vshError(ctl, _("Unable to set the governor of %1$s to %2$s"),
                     cpus, governor);
        goto cleanup;
    }

    if (restore) {
        vshPrintExtra(ctl, dryRun ?
                      _("Governors of %1$s can be restored\n") :
                      _("Governors of %1$s restored\n"),
                      cpus);
    } else {
        vshPrintExtra(ctl, dryRun ?
                      _("Governor of %1$s can be set to %2$s\n") :
                      _("Governor of %1$s set to %2$s\n"),
                      cpus, governor);
    }

    if (dryRun)
        vshPrintExtra(ctl, "%s", _("Dry run: nothing was changed\n"));

    ret = true;

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}


/*
 * "rapl-limit" command
 */
static const vshCmdInfo info_rapl_limit = {
    .help = N_("show or set host RAPL power limits"),
    .desc = N_("Without a setting option, show the RAPL (Running Average "
               "Power Limit) zones of the host with their energy counters "
               "and constraints. With --limit and --window, change a "
               "constraint of a zone; with --enable or --disable, switch "
               "power limiting of the zone on or off; with --restore, put "
               "back the values the zone had before the first change. "
               "Powers are in uW unless they carry a unit (uW, mW or W), "
               "times in us unless they carry a unit (us, ms or s)."),
};

static const vshCmdOptDef opts_rapl_limit[] = {
    {.name = "zone",
     .type = VSH_OT_STRING,
     .completer = virshNodeRaplZoneCompleter,
     .help = N_("RAPL zone such as package-0, package-0/dram or psys "
                "(default: all zones to show, package-0 to change)")
    },
    {.name = "constraint",
     .type = VSH_OT_STRING,
     .completer = virshNodeRaplConstraintCompleter,
     .help = N_("constraint name (long_term, short_term, peak_power) or "
                "index (default: long_term)")
    },
    {.name = "limit",
     .type = VSH_OT_STRING,
     .completer = virshCompleteEmpty,
     .help = N_("power limit, e.g. 15000000, 15000mW or 15W")
    },
    {.name = "window",
     .type = VSH_OT_STRING,
     .completer = virshCompleteEmpty,
     .help = N_("time window the power is averaged over, e.g. 1000000, "
                "1000ms or 1s")
    },
    {.name = "enable",
     .type = VSH_OT_BOOL,
     .help = N_("enable power limiting in the zone")
    },
    {.name = "disable",
     .type = VSH_OT_BOOL,
     .help = N_("disable power limiting in the zone")
    },
    VIRSH_NODE_POWER_OPT_DRY_RUN,
    {.name = "restore",
     .type = VSH_OT_BOOL,
     .help = N_("restore the limits the zone had before the first change")
    },
    {.name = "raw",
     .type = VSH_OT_BOOL,
     .help = N_("print every field the daemon returns as field=value")
    },
    {.name = NULL}
};

static bool
cmdRaplLimit(vshControl *ctl, const vshCmd *cmd)
{
    virshControl *priv = ctl->privData;
    const char *zone = NULL;
    const char *constraint = NULL;
    unsigned long long limit = 0;
    unsigned long long window = 0;
    int hasLimit = 0;
    int hasWindow = 0;
    bool enable = vshCommandOptBool(cmd, "enable");
    bool disable = vshCommandOptBool(cmd, "disable");
    bool restore = vshCommandOptBool(cmd, "restore");
    bool dryRun = vshCommandOptBool(cmd, "dry-run");
    bool raw = vshCommandOptBool(cmd, "raw");
    const char *modifiers[] = { "dry-run", NULL };
    const char *constraintName = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int maxparams = 0;
    unsigned int flags = 0;
    bool ret = false;

    VSH_EXCLUSIVE_OPTIONS_VAR(enable, disable);
    VSH_EXCLUSIVE_OPTIONS("restore", "limit");
    VSH_EXCLUSIVE_OPTIONS("restore", "window");
    VSH_EXCLUSIVE_OPTIONS("restore", "enable");
    VSH_EXCLUSIVE_OPTIONS("restore", "disable");
    VSH_EXCLUSIVE_OPTIONS("restore", "constraint");
    VSH_EXCLUSIVE_OPTIONS("raw", "limit");
    VSH_EXCLUSIVE_OPTIONS("raw", "window");
    VSH_EXCLUSIVE_OPTIONS("raw", "enable");
    VSH_EXCLUSIVE_OPTIONS("raw", "disable");
    VSH_EXCLUSIVE_OPTIONS("raw", "restore");
    VSH_EXCLUSIVE_OPTIONS("raw", "constraint");

    if (vshCommandOptString(ctl, cmd, "zone", &zone) < 0 ||
        vshCommandOptString(ctl, cmd, "constraint", &constraint) < 0)
        return false;

    if ((hasLimit = virshPowerCommandOptQuantity(ctl, cmd, "limit",
                                                 VIRSH_POWER_QUANTITY_POWER,
                                                 &limit)) < 0 ||
        (hasWindow = virshPowerCommandOptQuantity(ctl, cmd, "window",
                                                  VIRSH_POWER_QUANTITY_TIME,
                                                  &window)) < 0)
        return false;

    if (!hasLimit && !hasWindow && !enable && !disable && !restore) {
        if (!virshNodePowerRequireSetting(ctl, cmd, modifiers,
                                          _("--limit, --window, --enable, --disable or --restore")))
            return false;

        if (virNodeGetRaplLimit(priv->conn, zone, &params, &nparams, 0) < 0) {
            vshError(ctl, "%s", _("Unable to get the RAPL limits of the host"));
            goto cleanup;
        }

        if (raw)
            ret = virshNodePowerPrintRaw(ctl, params, nparams);
        else
            ret = virshNodePowerPrintRapl(ctl, params, nparams, constraint) &&
                (constraint || virshNodePowerPrintAccounting(ctl, params, nparams));
        goto cleanup;
    }

    if (constraint && !hasLimit && !hasWindow) {
        vshError(ctl, "%s",
                 _("Option --constraint selects the constraint that --limit and --window change, but neither is given"));
        return false;
    }

    if (!zone)
        zone = VIRSH_NODE_RAPL_DEFAULT_ZONE;

    constraintName = constraint ? constraint :
        virshNodeRaplConstraintTypeToString(VIRSH_NODE_RAPL_CONSTRAINT_LONG_TERM);

    if (dryRun)
        flags |= VIR_NODE_POWER_DRY_RUN;
    if (restore)
        flags |= VIR_NODE_POWER_RESTORE;

    if (hasLimit &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                VIR_NODE_RAPL_POWER_LIMIT, limit) < 0)
        goto save_error;

    if (hasWindow &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                VIR_NODE_RAPL_TIME_WINDOW, window) < 0)
        goto save_error;

    if ((enable || disable) &&
        virTypedParamsAddBoolean(&params, &nparams, &maxparams,
                                 VIR_NODE_RAPL_ENABLED, enable) < 0)
        goto save_error;

    if (virNodeSetRaplLimit(priv->conn, zone, constraint,
                            params, nparams, flags) < 0) {
        if (restore)
            vshError(ctl, _("Unable to restore the RAPL limits of zone %1$s"), zone);
        else
            vshError(ctl, _("Unable to change the RAPL limits of zone %1$s"), zone);
        goto cleanup;
    }

    if (restore) {
        vshPrintExtra(ctl, dryRun ?
                      _("RAPL limits of zone %1$s can be restored\n") :
                      _("RAPL limits of zone %1$s restored\n"),
                      zone);
    }

    if (hasLimit) {
        vshPrintExtra(ctl, dryRun ?
                      _("Power limit of zone %1$s, constraint %2$s, can be set to %3$llu uW\n") :
                      _("Power limit of zone %1$s, constraint %2$s, set to %3$llu uW\n"),
                      zone, constraintName, limit);
    }

    if (hasWindow) {
        vshPrintExtra(ctl, dryRun ?
                      _("Time window of zone %1$s, constraint %2$s, can be set to %3$llu us\n") :
                      _("Time window of zone %1$s, constraint %2$s, set to %3$llu us\n"),
                      zone, constraintName, window);
    }

    if (enable) {
        vshPrintExtra(ctl, dryRun ?
                      _("Power limiting of zone %1$s can be enabled\n") :
                      _("Power limiting of zone %1$s enabled\n"),
                      zone);
    } else if (disable) {
        vshPrintExtra(ctl, dryRun ?
                      _("Power limiting of zone %1$s can be disabled\n") :
                      _("Power limiting of zone %1$s disabled\n"),
                      zone);
    }

    if (dryRun)
        vshPrintExtra(ctl, "%s", _("Dry run: nothing was changed\n"));

    ret = true;

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;

 save_error:
    vshSaveLibvirtError();
    goto cleanup;
}


const vshCmdDef hostPowerCmds[] = {
    {.name = "frequency",
     .handler = cmdFrequency,
     .opts = opts_frequency,
     .info = &info_frequency,
     .flags = 0
    },
    {.name = "governor",
     .handler = cmdGovernor,
     .opts = opts_governor,
     .info = &info_governor,
     .flags = 0
    },
    {.name = "rapl-limit",
     .handler = cmdRaplLimit,
     .opts = opts_rapl_limit,
     .info = &info_rapl_limit,
     .flags = 0
    },
    {.name = NULL}
};
