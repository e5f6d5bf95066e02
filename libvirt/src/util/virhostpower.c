/*
 * virhostpower.c: host CPU frequency, cpufreq governor and RAPL power
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

#include <config.h>

#include "virhostpower.h"
#include "virbitmap.h"
#include "virbuffer.h"
#include "virerror.h"
#include "virlog.h"
#include "virstring.h"
#include "virthread.h"
#include "virtypedparam.h"
#include "viruuid.h"

#ifdef WITH_LIBVIRT_POWER
# include <libvirt_power.h>
#endif

#define VIR_FROM_THIS VIR_FROM_NONE

VIR_LOG_INIT("util.hostpower");

VIR_ENUM_IMPL(virHostPowerIdlePolicy,
              VIR_HOST_POWER_IDLE_LAST,
              "apart",
              "vcpus",
);


#ifdef WITH_LIBVIRT_POWER

G_DEFINE_AUTOPTR_CLEANUP_FUNC(lvp_host, lvp_host_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lvp_snapshot, lvp_snapshot_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lvp_report, lvp_report_free);

/* The libvirt error number for a libvirt-power result code. */
static int
virHostPowerErrorCode(lvp_result rc)
{
    switch (rc) {
    case LVP_RESULT_INVALID_ARGUMENT:
    case LVP_RESULT_OUT_OF_RANGE:
    case LVP_RESULT_INVALID_UTF8:
    case LVP_RESULT_INVALID_FLAGS:
    case LVP_RESULT_NULL_PARAMETER:
        return VIR_ERR_INVALID_ARG;
    case LVP_RESULT_UNSUPPORTED:
        return VIR_ERR_OPERATION_UNSUPPORTED;
    case LVP_RESULT_LOCKED:
    case LVP_RESULT_NOT_PERMITTED:
        return VIR_ERR_OPERATION_DENIED;
    case LVP_RESULT_INVALID_STATE:
    case LVP_RESULT_BUSY:
    case LVP_RESULT_TRY_AGAIN:
        return VIR_ERR_OPERATION_INVALID;
    case LVP_RESULT_KERNEL_REJECTED:
    case LVP_RESULT_NOT_APPLIED:
        return VIR_ERR_OPERATION_FAILED;
    default:
        return VIR_ERR_INTERNAL_ERROR;
    }
}


/* Report the last libvirt-power failure of this thread, after @action
 * (a translated phrase such as "cannot set the CPU frequency", or NULL
 * when the library's message says it all). The library's message names
 * the bad value and the accepted range. */
static void
virHostPowerReportError(lvp_result rc,
                        const char *action)
{
    size_t msglen = 4096;
    g_autofree char *msg = g_new0(char, msglen);
    g_autofree char *text = NULL;
    size_t len = 0;

    ignore_value(lvp_last_error_message(msg, msglen, &len));
    if (!msg[0])
        g_snprintf(msg, msglen, "libvirt-power error %u", (unsigned int) rc);

    if (action)
        text = g_strdup_printf("%s: %s", action, msg);
    else
        text = g_steal_pointer(&msg);
    virReportError(virHostPowerErrorCode(rc), "%s", text);
}


static lvp_host *
virHostPowerOpen(const char *sysfsRoot,
                 const char *stateDir)
{
    lvp_host *host = NULL;
    lvp_result rc;

    if (stateDir && g_mkdir_with_parents(stateDir, 0700) < 0) {
        virReportSystemError(errno,
                             _("cannot create directory '%1$s'"), stateDir);
        return NULL;
    }

    if ((rc = lvp_host_new(sysfsRoot, stateDir, &host)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot open the host's power settings"));
        return NULL;
    }
    return host;
}


static uint32_t
virHostPowerLvpFlags(unsigned int flags)
{
    uint32_t ret = 0;

    if (flags & VIR_NODE_POWER_SWITCH_GOVERNOR)
        ret |= LVP_FLAG_SWITCH_GOVERNOR;
    if (flags & VIR_NODE_POWER_INCLUDE_SIBLINGS)
        ret |= LVP_FLAG_INCLUDE_SIBLINGS;
    if (flags & VIR_NODE_POWER_DRY_RUN)
        ret |= LVP_FLAG_DRY_RUN;
    return ret;
}


/* Log what a setter did (values the kernel adjusted, siblings left
 * alone), and report its failure. */
static int
virHostPowerFinish(lvp_result rc,
                   lvp_report *report,
                   const char *action)
{
    g_autofree char *text = NULL;
    g_autofree char *skipped = NULL;
    size_t len = 0;

    if (rc != LVP_RESULT_OK) {
        virHostPowerReportError(rc, action);
        return -1;
    }
    if (!report)
        return 0;

    /* Every change, one line per file: kilobytes on a large host. */
    if (lvp_report_text(report, NULL, 0, &len) == LVP_RESULT_BUFFER_TOO_SMALL) {
        text = g_new0(char, len + 1);
        if (lvp_report_text(report, text, len + 1, &len) == LVP_RESULT_OK && text[0])
            VIR_INFO("%s", text);
    }
    /* CPUs an "all" change left out must not go unnoticed. */
    len = 0;
    if (lvp_report_cpus_skipped(report, NULL, 0, &len) == LVP_RESULT_BUFFER_TOO_SMALL) {
        skipped = g_new0(char, len + 1);
        if (lvp_report_cpus_skipped(report, skipped, len + 1, &len) == LVP_RESULT_OK &&
            skipped[0])
            VIR_WARN("a change for all CPUs left CPUs %s as they are (offline, or without a cpufreq policy)",
                     skipped);
    }
    return 0;
}


int
virHostPowerSetFrequency(const char *sysfsRoot,
                         const char *stateDir,
                         const char *cpumap,
                         virTypedParameterPtr params,
                         int nparams,
                         unsigned int flags)
{
    g_autoptr(lvp_host) host = NULL;
    g_autoptr(lvp_report) report = NULL;
    const char *cpus = cpumap ? cpumap : "all";
    unsigned long long frequency = 0;
    unsigned long long minFreq = 0;
    unsigned long long maxFreq = 0;
    int haveFreq;
    int haveMin;
    int haveMax;
    uint32_t lvpFlags = virHostPowerLvpFlags(flags);
    lvp_result rc;

    virCheckFlags(VIR_HOST_POWER_SET_FLAGS, -1);

    if (virTypedParamsValidate(params, nparams,
                               VIR_NODE_FREQUENCY_FREQUENCY, VIR_TYPED_PARAM_ULLONG,
                               VIR_NODE_FREQUENCY_MIN, VIR_TYPED_PARAM_ULLONG,
                               VIR_NODE_FREQUENCY_MAX, VIR_TYPED_PARAM_ULLONG,
                               NULL) < 0)
        return -1;

    if ((haveFreq = virTypedParamsGetULLong(params, nparams,
                                            VIR_NODE_FREQUENCY_FREQUENCY,
                                            &frequency)) < 0 ||
        (haveMin = virTypedParamsGetULLong(params, nparams,
                                           VIR_NODE_FREQUENCY_MIN,
                                           &minFreq)) < 0 ||
        (haveMax = virTypedParamsGetULLong(params, nparams,
                                           VIR_NODE_FREQUENCY_MAX,
                                           &maxFreq)) < 0)
        return -1;

    if (flags & VIR_NODE_POWER_RESTORE) {
        if (nparams > 0) {
            virReportError(VIR_ERR_INVALID_ARG, "%s",
                           _("restoring the CPU frequency settings takes no parameters"));
            return -1;
        }
        if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
            return -1;
        rc = lvp_host_restore(host, cpus, LVP_KNOB_ALL, NULL,
                              lvpFlags & LVP_FLAG_DRY_RUN, &report);
        return virHostPowerFinish(rc, report,
                                  _("cannot restore the CPU frequency settings"));
    }

    if (!haveFreq && !haveMin && !haveMax) {
        virReportError(VIR_ERR_INVALID_ARG, "%s",
                       _("no frequency setting given: expected 'frequency', 'min_frequency' or 'max_frequency'"));
        return -1;
    }

    if (haveFreq && (haveMin || haveMax)) {
        virReportError(VIR_ERR_INVALID_ARG, "%s",
                       _("an exact 'frequency' cannot be combined with 'min_frequency' or 'max_frequency'"));
        return -1;
    }

    if (!haveFreq && (flags & VIR_NODE_POWER_SWITCH_GOVERNOR)) {
        virReportError(VIR_ERR_INVALID_ARG, "%s",
                       _("switching to the userspace governor applies only to an exact 'frequency'"));
        return -1;
    }

    if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
        return -1;

    if (haveFreq) {
        rc = lvp_host_set_frequency(host, cpus, frequency, lvpFlags, &report);
    } else {
        if (haveMin)
            lvpFlags |= LVP_SET_MIN;
        if (haveMax)
            lvpFlags |= LVP_SET_MAX;
        rc = lvp_host_set_frequency_limits(host, cpus, minFreq, maxFreq,
                                           lvpFlags, &report);
    }
    return virHostPowerFinish(rc, report, _("cannot set the CPU frequency"));
}


int
virHostPowerSetGovernor(const char *sysfsRoot,
                        const char *stateDir,
                        const char *cpumap,
                        const char *governor,
                        unsigned int flags)
{
    g_autoptr(lvp_host) host = NULL;
    g_autoptr(lvp_report) report = NULL;
    const char *cpus = cpumap ? cpumap : "all";
    uint32_t lvpFlags = virHostPowerLvpFlags(flags);
    lvp_result rc;

    virCheckFlags(VIR_NODE_POWER_INCLUDE_SIBLINGS |
                  VIR_NODE_POWER_DRY_RUN |
                  VIR_NODE_POWER_RESTORE, -1);

    if (flags & VIR_NODE_POWER_RESTORE) {
        if (governor) {
            virReportError(VIR_ERR_INVALID_ARG,
                           _("restoring the governors takes no governor, got '%1$s'"),
                           governor);
            return -1;
        }
        if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
            return -1;
        rc = lvp_host_restore(host, cpus, LVP_KNOB_GOVERNOR, NULL,
                              lvpFlags & LVP_FLAG_DRY_RUN, &report);
        return virHostPowerFinish(rc, report,
                                  _("cannot restore the cpufreq governors"));
    }

    if (!governor) {
        virReportError(VIR_ERR_INVALID_ARG, "%s", _("no governor given"));
        return -1;
    }

    if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
        return -1;

    rc = lvp_host_set_governor(host, cpus, governor, lvpFlags, &report);
    return virHostPowerFinish(rc, report, _("cannot set the cpufreq governor"));
}


int
virHostPowerSetRaplLimit(const char *sysfsRoot,
                         const char *stateDir,
                         const char *zone,
                         const char *constraint,
                         virTypedParameterPtr params,
                         int nparams,
                         unsigned int flags)
{
    g_autoptr(lvp_host) host = NULL;
    g_autoptr(lvp_report) report = NULL;
    const char *which = constraint ? constraint : "long_term";
    unsigned long long limit = 0;
    unsigned long long window = 0;
    int enabled = 0;
    int haveLimit;
    int haveWindow;
    int haveEnabled;
    uint32_t lvpFlags = virHostPowerLvpFlags(flags);
    uint32_t limitFlags = lvpFlags;
    lvp_result rc;

    virCheckFlags(VIR_NODE_POWER_DRY_RUN |
                  VIR_NODE_POWER_RESTORE, -1);

    if (virTypedParamsValidate(params, nparams,
                               VIR_NODE_RAPL_POWER_LIMIT, VIR_TYPED_PARAM_ULLONG,
                               VIR_NODE_RAPL_TIME_WINDOW, VIR_TYPED_PARAM_ULLONG,
                               VIR_NODE_RAPL_ENABLED, VIR_TYPED_PARAM_BOOLEAN,
                               NULL) < 0)
        return -1;

    if ((haveLimit = virTypedParamsGetULLong(params, nparams,
                                             VIR_NODE_RAPL_POWER_LIMIT,
                                             &limit)) < 0 ||
        (haveWindow = virTypedParamsGetULLong(params, nparams,
                                              VIR_NODE_RAPL_TIME_WINDOW,
                                              &window)) < 0 ||
        (haveEnabled = virTypedParamsGetBoolean(params, nparams,
                                                VIR_NODE_RAPL_ENABLED,
                                                &enabled)) < 0)
        return -1;

    if (flags & VIR_NODE_POWER_RESTORE) {
        if (nparams > 0) {
            virReportError(VIR_ERR_INVALID_ARG, "%s",
                           _("restoring the RAPL settings takes no parameters"));
            return -1;
        }
        if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
            return -1;
        rc = lvp_host_restore(host, NULL, LVP_KNOB_ALL, zone,
                              lvpFlags & LVP_FLAG_DRY_RUN, &report);
        return virHostPowerFinish(rc, report,
                                  _("cannot restore the RAPL settings"));
    }

    if (!haveLimit && !haveWindow && !haveEnabled) {
        virReportError(VIR_ERR_INVALID_ARG, "%s",
                       _("no RAPL setting given: expected 'power_limit', 'time_window' or 'enabled'"));
        return -1;
    }

    if (!(host = virHostPowerOpen(sysfsRoot, stateDir)))
        return -1;

    if (haveLimit)
        limitFlags |= LVP_SET_POWER;
    if (haveWindow)
        limitFlags |= LVP_SET_WINDOW;
    if (haveEnabled)
        limitFlags |= LVP_SET_ENABLED;

    /* One transaction: every value is checked before the first write, and
     * a failed write puts back what was written (a limit whose enable
     * switch could not be turned on is not left behind). */
    rc = lvp_host_set_rapl(host, zone, which, limit, window, enabled ? 1 : 0,
                           limitFlags, &report);
    return virHostPowerFinish(rc, report,
                              (haveLimit || haveWindow) ?
                              _("cannot set the RAPL power limit") :
                              _("cannot enable or disable the RAPL zone"));
}


/* A space-separated list of the @idx-th CPU's policy (see
 * lvp_snapshot_cpu_list). */
static char *
virHostPowerCpuList(lvp_snapshot *snap,
                    size_t idx,
                    uint32_t what)
{
    size_t len = 256;
    size_t needed = 0;
    g_autofree char *buf = g_new0(char, len);
    lvp_result rc;

    rc = lvp_snapshot_cpu_list(snap, idx, what, buf, len, &needed);
    if (rc == LVP_RESULT_BUFFER_TOO_SMALL || needed >= len) {
        len = needed + 1;
        g_free(buf);
        buf = g_new0(char, len);
        rc = lvp_snapshot_cpu_list(snap, idx, what, buf, len, &needed);
    }
    if (rc != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot read the CPU frequency state"));
        return NULL;
    }
    return g_steal_pointer(&buf);
}


/* Read the parts of the host's state in @parts (LVP_SNAPSHOT_CPUFREQ,
 * LVP_SNAPSHOT_RAPL): each getter reads only its own side. */
static lvp_snapshot *
virHostPowerSnapshot(const char *sysfsRoot,
                     uint32_t parts)
{
    g_autoptr(lvp_host) host = NULL;
    lvp_snapshot *snap = NULL;
    lvp_result rc;

    if (!(host = virHostPowerOpen(sysfsRoot, NULL)))
        return NULL;

    if ((rc = lvp_host_snapshot_parts(host, parts, &snap)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot read the host's power settings"));
        return NULL;
    }
    return snap;
}


/* Add typed parameter "<prefix>.<n>.<field>". */
#define ADD_FIELD(type, field, value) \
    do { \
        g_autofree char *_name = g_strdup_printf("%s.%u.%s", prefix, n, field); \
        if (virTypedParamsAdd ## type(&par, &npar, &maxpar, _name, value) < 0) \
            goto cleanup; \
    } while (0)

/* Add typed parameter "<prefix>.<n>.constraint.<k>.<field>". */
#define ADD_CONSTRAINT_FIELD(type, field, value) \
    do { \
        g_autofree char *_cfield = g_strdup_printf("constraint.%zu.%s", k, field); \
        ADD_FIELD(type, _cfield, value); \
    } while (0)


int
virHostPowerGetFrequency(const char *sysfsRoot,
                         const char *cpumap,
                         virTypedParameterPtr *params,
                         int *nparams,
                         unsigned int flags)
{
    g_autoptr(lvp_snapshot) snap = NULL;
    g_autoptr(virBitmap) wanted = NULL;
    g_autoptr(virBitmap) present = NULL;
    g_autofree char *presentStr = NULL;
    const char *prefix = "cpu";
    virTypedParameterPtr par = NULL;
    int npar = 0;
    int maxpar = 0;
    unsigned int n = 0;
    size_t ncpus;
    size_t i;
    ssize_t bit;
    int ret = -1;

    virCheckFlags(0, -1);

    /* The setters' parser, so that both calls take the same syntax: CPUs
     * 0 to LVP_CPU_MAX, lists of at most LVP_CPULIST_MAX_LEN bytes, the
     * work bounded whatever a read-only client sends. */
    if (cpumap) {
        uint8_t map[LVP_CPU_MAP_BYTES];
        bool all = false;
        size_t nwanted = 0;
        lvp_result rc;

        if ((rc = lvp_cpulist_parse(cpumap, map, sizeof(map), &all,
                                    &nwanted)) != LVP_RESULT_OK) {
            virHostPowerReportError(rc, NULL);
            return -1;
        }
        if (!all)
            wanted = virBitmapNewData(map, sizeof(map));
    }

    if (!(snap = virHostPowerSnapshot(sysfsRoot, LVP_SNAPSHOT_CPUFREQ)))
        return -1;

    /* The snapshot lists every present CPU, offline ones included (they
     * report cpu.<n>.online = 0 and no frequency data). */
    ncpus = lvp_snapshot_cpu_count(snap);
    if (wanted) {
        present = virBitmapNew(0);
        for (i = 0; i < ncpus; i++) {
            lvp_cpu_state st = { 0 };

            if (lvp_snapshot_cpu(snap, i, &st) != LVP_RESULT_OK)
                continue;
            virBitmapSetBitExpand(present, st.cpu);
        }

        bit = -1;
        while ((bit = virBitmapNextSetBit(wanted, bit)) >= 0) {
            if (!virBitmapIsBitSet(present, bit)) {
                presentStr = virBitmapFormat(present);
                virReportError(VIR_ERR_INVALID_ARG,
                               _("CPU %1$zd is not present; present CPUs: %2$s"),
                               bit, presentStr);
                return -1;
            }
        }
    }

    if (virTypedParamsAddUInt(&par, &npar, &maxpar, "cpu.count", 0) < 0)
        goto cleanup;

    for (i = 0; i < ncpus; i++) {
        lvp_cpu_state st = { 0 };
        g_autofree char *governors = NULL;
        g_autofree char *frequencies = NULL;
        lvp_result rc;

        if ((rc = lvp_snapshot_cpu(snap, i, &st)) != LVP_RESULT_OK) {
            virHostPowerReportError(rc, _("cannot read the CPU frequency state"));
            goto cleanup;
        }
        if (wanted && !virBitmapIsBitSet(wanted, st.cpu))
            continue;

        ADD_FIELD(UInt, "id", st.cpu);
        ADD_FIELD(Boolean, "online", st.online ? 1 : 0);
        ADD_FIELD(Int, "package", st.package);
        ADD_FIELD(Int, "policy", st.policy);
        if (!st.online) {
            /* An offline CPU has no frequency; its policy answers EBUSY
             * until a CPU of it comes back. */
            n++;
            continue;
        }

        if (!(governors = virHostPowerCpuList(snap, i, 0)) ||
            !(frequencies = virHostPowerCpuList(snap, i, 1)))
            goto cleanup;

        if (st.policy >= 0) {
            ADD_FIELD(String, "driver", st.driver);
            ADD_FIELD(String, "governor", st.governor);
            ADD_FIELD(String, "available_governors", governors);
            if (*frequencies)
                ADD_FIELD(String, "available_frequencies", frequencies);
            ADD_FIELD(ULLong, "cur_frequency", st.cur_khz);
            ADD_FIELD(ULLong, "min_frequency", st.min_khz);
            ADD_FIELD(ULLong, "max_frequency", st.max_khz);
            ADD_FIELD(ULLong, "cpuinfo_min_frequency", st.cpuinfo_min_khz);
            ADD_FIELD(ULLong, "cpuinfo_max_frequency", st.cpuinfo_max_khz);
            if (STREQ(st.governor, "userspace"))
                ADD_FIELD(ULLong, "setspeed", st.setspeed_khz);
            if (st.epp[0])
                ADD_FIELD(String, "epp", st.epp);
        }
        n++;
    }
    par[0].value.ui = n;

    *params = g_steal_pointer(&par);
    *nparams = npar;
    ret = 0;

 cleanup:
    virTypedParamsFree(par, npar);
    return ret;
}


int
virHostPowerGetRaplLimit(const char *sysfsRoot,
                         const char *zone,
                         virTypedParameterPtr *params,
                         int *nparams,
                         unsigned int flags)
{
    g_autoptr(lvp_snapshot) snap = NULL;
    g_auto(virBuffer) names = VIR_BUFFER_INITIALIZER;
    const char *prefix = "zone";
    virTypedParameterPtr par = NULL;
    int npar = 0;
    int maxpar = 0;
    unsigned int n = 0;
    size_t nzones;
    size_t i;
    size_t k;
    int ret = -1;

    virCheckFlags(0, -1);

    if (!(snap = virHostPowerSnapshot(sysfsRoot, LVP_SNAPSHOT_RAPL)))
        return -1;

    if (virTypedParamsAddUInt(&par, &npar, &maxpar, "zone.count", 0) < 0)
        goto cleanup;

    nzones = lvp_snapshot_zone_count(snap);
    for (i = 0; i < nzones; i++) {
        lvp_zone_state z = { 0 };
        lvp_result rc;

        if ((rc = lvp_snapshot_zone(snap, i, &z)) != LVP_RESULT_OK) {
            virHostPowerReportError(rc, _("cannot read the RAPL zones"));
            goto cleanup;
        }
        virBufferAsprintf(&names, "%s%s", i ? ", " : "", z.key);
        if (zone && STRNEQ(zone, z.key))
            continue;

        ADD_FIELD(String, "name", z.key);
        ADD_FIELD(Int, "package", z.package);
        if (z.enabled >= 0)
            ADD_FIELD(Boolean, "enabled", z.enabled);
        if (z.has_energy)
            ADD_FIELD(ULLong, "energy", z.energy_uj);
        if (z.max_energy_range_uj)
            ADD_FIELD(ULLong, "max_energy_range", z.max_energy_range_uj);
        ADD_FIELD(UInt, "constraint.count", z.constraint_count);

        for (k = 0; k < z.constraint_count; k++) {
            lvp_constraint_state c = { 0 };

            if ((rc = lvp_snapshot_constraint(snap, i, k, &c)) != LVP_RESULT_OK) {
                virHostPowerReportError(rc, _("cannot read the RAPL zones"));
                goto cleanup;
            }

            ADD_CONSTRAINT_FIELD(String, "name", c.name);
            ADD_CONSTRAINT_FIELD(ULLong, "power_limit", c.power_limit_uw);
            if (c.time_window_us)
                ADD_CONSTRAINT_FIELD(ULLong, "time_window", c.time_window_us);
            if (c.max_power_uw)
                ADD_CONSTRAINT_FIELD(ULLong, "max_power", c.max_power_uw);
        }
        n++;
    }

    if (zone && n == 0) {
        g_autofree char *known = virBufferContentAndReset(&names);

        virReportError(VIR_ERR_INVALID_ARG,
                       _("unknown RAPL zone '%1$s'; zones: %2$s"),
                       zone, known && *known ? known : _("none"));
        goto cleanup;
    }
    par[0].value.ui = n;

    *params = g_steal_pointer(&par);
    *nparams = npar;
    ret = 0;

 cleanup:
    virTypedParamsFree(par, npar);
    return ret;
}

#undef ADD_CONSTRAINT_FIELD
#undef ADD_FIELD


/**
 * virHostPowerCreateSimulatedHost:
 * @dir: a directory that does not exist or is empty
 *
 * Write the sysfs tree of a simulated host (libvirt-power's
 * "acpi-cpufreq" preset: one package of four CPUs with cpufreq and a RAPL
 * package zone) under @dir. The test driver uses it.
 */
int
virHostPowerCreateSimulatedHost(const char *dir)
{
    lvp_result rc;

    if ((rc = lvp_sim_create(dir, NULL, 0)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot create a simulated host"));
        return -1;
    }
    return 0;
}


/* Per-domain energy accounting. */

struct _virHostPowerAccounting {
    virMutex lock;      /* the accountant and everything below */
    /* The thread sleeps on a GCond: GLib waits on the monotonic clock,
     * so a step of the wall clock neither stalls nor hurries it
     * (virCondWaitUntil takes a wall-clock deadline). */
    GMutex wakeLock;
    GCond wake;
    bool quit;          /* under wakeLock */
    virThread thread;
    bool threadRunning;
    unsigned int intervalMS;
    virHostPowerIdlePolicy idlePolicy;
    lvp_accountant *acc;
    size_t nzones;
    char **zones;       /* zone keys, as the node getters name them */
    int *packages;      /* package of each zone, -1 for platform zones */
    bool tickFailing;   /* the last tick failed (logged once) */
};


/* A top-level package zone ("package-0", not "package-0/core"): the
 * domain's energy.total sums these. */
static bool
virHostPowerAccountingIsPackageZone(const char *zone)
{
    return STRPREFIX(zone, "package-") && !strchr(zone, '/');
}


/* One accounting interval; the caller holds acct->lock. */
static void
virHostPowerAccountingTick(virHostPowerAccounting *acct)
{
    lvp_result rc = lvp_accountant_tick(acct->acc);

    if (rc != LVP_RESULT_OK) {
        char msg[1024] = "";
        size_t len = 0;

        ignore_value(lvp_last_error_message(msg, sizeof(msg), &len));
        if (!acct->tickFailing)
            VIR_WARN("energy accounting interval failed: %s", msg);
        else
            VIR_DEBUG("energy accounting interval failed: %s", msg);
        acct->tickFailing = true;
    } else if (acct->tickFailing) {
        VIR_INFO("energy accounting works again");
        acct->tickFailing = false;
    }
}


/* Sleeps until @deadlineUS on the monotonic clock (g_get_monotonic_time)
 * or until virHostPowerAccountingFree asks the thread to quit. Returns
 * true to quit. */
static bool
virHostPowerAccountingSleep(virHostPowerAccounting *acct,
                            gint64 deadlineUS)
{
    bool quit;

    g_mutex_lock(&acct->wakeLock);
    while (!acct->quit) {
        /* FALSE once the deadline has passed; TRUE when woken (or
         * spuriously). */
        if (!g_cond_wait_until(&acct->wake, &acct->wakeLock, deadlineUS))
            break;
    }
    quit = acct->quit;
    g_mutex_unlock(&acct->wakeLock);
    return quit;
}


static void
virHostPowerAccountingTickLocked(virHostPowerAccounting *acct)
{
    VIR_LOCK_GUARD lock = virLockGuardLock(&acct->lock);

    virHostPowerAccountingTick(acct);
}


static void
virHostPowerAccountingLoop(void *opaque)
{
    virHostPowerAccounting *acct = opaque;
    gint64 intervalUS = (gint64) acct->intervalMS * 1000;
    gint64 next = g_get_monotonic_time();
    gint64 now;

    /* The first tick is the zones' baseline. */
    virHostPowerAccountingTickLocked(acct);
    for (;;) {
        next += intervalUS;
        if (virHostPowerAccountingSleep(acct, next))
            break;
        virHostPowerAccountingTickLocked(acct);
        /* Fell behind (the host was suspended, or very busy): skip the
         * missed intervals rather than ticking in a burst. */
        now = g_get_monotonic_time();
        if (now > next + intervalUS)
            next = now;
    }
    /* A last interval, so that the state file holds the latest counters
     * for the next daemon. */
    virHostPowerAccountingTickLocked(acct);
}


/**
 * virHostPowerAccountingNew:
 * @sysfsRoot: the host's sysfs, or NULL for the library's choice
 *             (LIBVIRT_POWER_SYSFS_ROOT if set, else /sys)
 * @stateFile: where the counters are kept across daemon restarts, or NULL
 * @intervalMS: the accounting interval, in milliseconds
 * @idlePolicy: what happens to idle energy
 *
 * Start per-domain energy accounting over the host's RAPL zones whose
 * energy is readable: a thread splits each interval's measured energy
 * among the domains added with virHostPowerAccountingAddDomain. Per zone
 * the learned idle power's energy is counted apart (or shared by vCPUs,
 * with VIR_HOST_POWER_IDLE_VCPUS) and the rest is split by the domains'
 * CPU use on the zone's package; what no domain used stays the host's.
 *
 * Returns the accounting object, or NULL with an error reported (also when
 * the host has no readable energy counters: VIR_ERR_OPERATION_UNSUPPORTED).
 */
virHostPowerAccounting *
virHostPowerAccountingNew(const char *sysfsRoot,
                          const char *stateFile,
                          unsigned int intervalMS,
                          virHostPowerIdlePolicy idlePolicy)
{
    g_autoptr(virHostPowerAccounting) acct = NULL;
    g_autoptr(lvp_host) host = NULL;
    uint64_t maxMS = 0;
    lvp_result rc;
    size_t i;

    if (intervalMS < VIR_HOST_POWER_ACCOUNTING_INTERVAL_MIN ||
        intervalMS > VIR_HOST_POWER_ACCOUNTING_INTERVAL_MAX) {
        virReportError(VIR_ERR_INVALID_ARG,
                       _("energy accounting interval '%1$u' ms is out of range (%2$u to %3$u ms)"),
                       intervalMS, VIR_HOST_POWER_ACCOUNTING_INTERVAL_MIN,
                       VIR_HOST_POWER_ACCOUNTING_INTERVAL_MAX);
        return NULL;
    }

    if (!(host = virHostPowerOpen(sysfsRoot, NULL)))
        return NULL;

    acct = g_new0(virHostPowerAccounting, 1);
    acct->intervalMS = intervalMS;
    acct->idlePolicy = idlePolicy;
    if (virMutexInit(&acct->lock) < 0) {
        virReportSystemError(errno, "%s", _("cannot initialize mutex"));
        g_free(g_steal_pointer(&acct));
        return NULL;
    }
    g_mutex_init(&acct->wakeLock);
    g_cond_init(&acct->wake);

    if ((rc = lvp_accountant_new(host, LVP_WEIGHT_AUTO, &acct->acc)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot start energy accounting"));
        return NULL;
    }

    /* An interval longer than the fastest zone's wrap time would leave
     * energy unmeasured every interval: clamp it, and say why. */
    if (lvp_accountant_max_interval_ms(acct->acc, &maxMS) == LVP_RESULT_OK &&
        maxMS < acct->intervalMS) {
        char name[256] = "";
        size_t index = SIZE_MAX;
        size_t len = 0;
        uint64_t peakUW = 0;
        int32_t package = -1;

        if (lvp_accountant_max_interval_zone(acct->acc, &index, &peakUW) != LVP_RESULT_OK ||
            lvp_accountant_zone(acct->acc, index, name, sizeof(name),
                                &len, &package) != LVP_RESULT_OK)
            name[0] = '\0';
        VIR_WARN("energy accounting interval %u ms is longer than the counters allow: zone '%s' wraps in %llu ms at %llu W; using %llu ms",
                 acct->intervalMS, name, (unsigned long long) maxMS * 2,
                 (unsigned long long) peakUW / 1000000,
                 (unsigned long long) MAX(maxMS, VIR_HOST_POWER_ACCOUNTING_INTERVAL_MIN));
        acct->intervalMS = MAX(maxMS, VIR_HOST_POWER_ACCOUNTING_INTERVAL_MIN);
    }

    if ((rc = lvp_accountant_set_idle_policy(acct->acc,
                                             idlePolicy == VIR_HOST_POWER_IDLE_VCPUS ?
                                             LVP_IDLE_VCPUS : LVP_IDLE_APART)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot set the idle energy policy"));
        return NULL;
    }

    acct->nzones = lvp_accountant_zone_count(acct->acc);
    if (acct->nzones == 0) {
        virReportError(VIR_ERR_OPERATION_UNSUPPORTED, "%s",
                       _("cannot start energy accounting: the host has no readable RAPL energy counter"));
        return NULL;
    }
    acct->zones = g_new0(char *, acct->nzones + 1);
    acct->packages = g_new0(int, acct->nzones);
    for (i = 0; i < acct->nzones; i++) {
        char name[256];
        size_t len = 0;
        int32_t package = -1;

        if ((rc = lvp_accountant_zone(acct->acc, i, name, sizeof(name),
                                      &len, &package)) != LVP_RESULT_OK) {
            virHostPowerReportError(rc, _("cannot list the energy zones"));
            return NULL;
        }
        acct->zones[i] = g_strdup(name);
        acct->packages[i] = package;
    }

    if (stateFile) {
        size_t len = 0;

        if ((rc = lvp_accountant_set_state_file(acct->acc, stateFile)) != LVP_RESULT_OK) {
            virHostPowerReportError(rc, _("cannot keep energy counters"));
            return NULL;
        }
        /* A damaged file does not stop accounting: the library moved it
         * aside and starts from 0. */
        if (lvp_accountant_state_set_aside(acct->acc, NULL, 0, &len) == LVP_RESULT_BUFFER_TOO_SMALL &&
            len > 0) {
            g_autofree char *aside = g_new0(char, len + 1);
            g_autofree char *reason = NULL;
            size_t rlen = 0;

            ignore_value(lvp_accountant_state_set_aside(acct->acc, aside, len + 1, &len));
            if (lvp_accountant_state_set_aside_reason(acct->acc, NULL, 0, &rlen) ==
                LVP_RESULT_BUFFER_TOO_SMALL) {
                reason = g_new0(char, rlen + 1);
                ignore_value(lvp_accountant_state_set_aside_reason(acct->acc, reason,
                                                                   rlen + 1, &rlen));
            }
            VIR_WARN("energy counters not resumed: the state file '%s' was damaged (%s); it was moved to '%s' and the counters start from 0",
                     stateFile, NULLSTR(reason), aside);
        }
    }

    if (virThreadCreateFull(&acct->thread, true, virHostPowerAccountingLoop,
                            "power-acct", false, acct) < 0) {
        virReportSystemError(errno, "%s",
                             _("cannot create the energy accounting thread"));
        return NULL;
    }
    acct->threadRunning = true;

    VIR_INFO("energy accounting over %zu zones every %u ms, idle energy %s",
             acct->nzones, intervalMS, virHostPowerIdlePolicyTypeToString(idlePolicy));
    return g_steal_pointer(&acct);
}


/**
 * virHostPowerAccountingFree:
 * @acct: accounting object, or NULL
 *
 * Stop the accounting thread (after a last interval, saved to the state
 * file) and close every counter.
 */
void
virHostPowerAccountingFree(virHostPowerAccounting *acct)
{
    if (!acct)
        return;

    if (acct->threadRunning) {
        g_mutex_lock(&acct->wakeLock);
        acct->quit = true;
        g_cond_signal(&acct->wake);
        g_mutex_unlock(&acct->wakeLock);
        virThreadJoin(&acct->thread);
    }
    lvp_accountant_free(acct->acc);
    g_strfreev(acct->zones);
    g_free(acct->packages);
    g_cond_clear(&acct->wake);
    g_mutex_clear(&acct->wakeLock);
    virMutexDestroy(&acct->lock);
    g_free(acct);
}


/**
 * virHostPowerAccountingAddDomain:
 * @acct: accounting object
 * @uuid: the domain's UUID
 * @pid: the domain's QEMU process
 * @vcpus: the domain's vCPU count (its share of idle energy when idle
 *         energy is shared by vCPUs)
 *
 * Start counting the weight of all threads of @pid, existing ones
 * included, split by the package each thread runs on. A domain whose
 * process the state file knows (same pid and start time: a daemon
 * restart) resumes its counters.
 *
 * Returns 0 on success, -1 with an error reported.
 */
int
virHostPowerAccountingAddDomain(virHostPowerAccounting *acct,
                                const unsigned char *uuid,
                                pid_t pid,
                                unsigned int vcpus)
{
    char id[VIR_UUID_STRING_BUFLEN];
    lvp_weight weight = LVP_WEIGHT_AUTO;
    lvp_result rc;
    VIR_LOCK_GUARD lock = virLockGuardLock(&acct->lock);

    virUUIDFormat(uuid, id);
    if ((rc = lvp_accountant_add_domain(acct->acc, id, pid, &weight)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot count the domain's CPU use for energy accounting"));
        return -1;
    }
    if ((rc = lvp_accountant_set_domain_vcpus(acct->acc, id, vcpus)) != LVP_RESULT_OK) {
        virHostPowerReportError(rc, _("cannot set the domain's vCPU count for energy accounting"));
        ignore_value(lvp_accountant_remove_domain(acct->acc, id));
        return -1;
    }
    VIR_DEBUG("accounting domain %s (pid %lld, %u vCPUs, weight %s)", id, (long long) pid,
              vcpus, weight == LVP_WEIGHT_CYCLES ? "cycles" : "cpu_time");
    return 0;
}


/**
 * virHostPowerAccountingRemoveDomain:
 * @acct: accounting object
 * @uuid: the domain's UUID
 *
 * Stop counting the domain (its last interval still counts); its energy
 * moves to the departed totals. Unknown domains are ignored.
 */
void
virHostPowerAccountingRemoveDomain(virHostPowerAccounting *acct,
                                   const unsigned char *uuid)
{
    char id[VIR_UUID_STRING_BUFLEN];
    VIR_LOCK_GUARD lock = virLockGuardLock(&acct->lock);

    virUUIDFormat(uuid, id);
    if (lvp_accountant_remove_domain(acct->acc, id) == LVP_RESULT_OK)
        VIR_DEBUG("stopped accounting domain %s", id);
}


/**
 * virHostPowerAccountingDomainStats:
 * @acct: accounting object
 * @uuid: the domain's UUID
 * @params: list to add the VIR_DOMAIN_STATS_ENERGY_* fields to
 *
 * Returns 1 if fields were added, 0 if the domain is not accounted.
 */
int
virHostPowerAccountingDomainStats(virHostPowerAccounting *acct,
                                  const unsigned char *uuid,
                                  virTypedParamList *params)
{
    char id[VIR_UUID_STRING_BUFLEN];
    uint64_t weightValue = 0;
    uint64_t ticks = 0;
    unsigned long long total = 0;
    g_autofree uint64_t *energy = NULL;
    g_autofree uint64_t *idle = NULL;
    lvp_weight weight = LVP_WEIGHT_AUTO;
    size_t fds = 0;
    size_t i;
    VIR_LOCK_GUARD lock = virLockGuardLock(&acct->lock);

    virUUIDFormat(uuid, id);
    if (lvp_accountant_domain_weight(acct->acc, id, &weightValue) != LVP_RESULT_OK ||
        lvp_accountant_info(acct->acc, &weight, &fds) != LVP_RESULT_OK ||
        lvp_accountant_ticks(acct->acc, &ticks) != LVP_RESULT_OK)
        return 0;

    virTypedParamListAddString(params,
                               weight == LVP_WEIGHT_CYCLES ? "cycles" : "cpu_time",
                               VIR_DOMAIN_STATS_ENERGY_WEIGHT);
    virTypedParamListAddULLong(params, weightValue,
                               VIR_DOMAIN_STATS_ENERGY_WEIGHT_VALUE);
    virTypedParamListAddULLong(params, ticks, VIR_DOMAIN_STATS_ENERGY_TICK);

    /* Each zone is read once; the total comes first in the list. */
    energy = g_new0(uint64_t, acct->nzones);
    idle = g_new0(uint64_t, acct->nzones);
    for (i = 0; i < acct->nzones; i++) {
        ignore_value(lvp_accountant_domain_energy(acct->acc, id, acct->zones[i], &energy[i]));
        ignore_value(lvp_accountant_domain_idle_energy(acct->acc, id, acct->zones[i], &idle[i]));
        if (virHostPowerAccountingIsPackageZone(acct->zones[i]))
            total += energy[i];
    }
    virTypedParamListAddULLong(params, total, VIR_DOMAIN_STATS_ENERGY_TOTAL);
    virTypedParamListAddUInt(params, acct->nzones, VIR_DOMAIN_STATS_ENERGY_ZONE_COUNT);
    for (i = 0; i < acct->nzones; i++) {
        virTypedParamListAddString(params, acct->zones[i],
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_PREFIX "%zu"
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_SUFFIX_NAME, i);
        virTypedParamListAddInt(params, acct->packages[i],
                                VIR_DOMAIN_STATS_ENERGY_ZONE_PREFIX "%zu"
                                VIR_DOMAIN_STATS_ENERGY_ZONE_SUFFIX_PACKAGE, i);
        virTypedParamListAddULLong(params, energy[i],
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_PREFIX "%zu"
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_SUFFIX_ENERGY, i);
        virTypedParamListAddULLong(params, idle[i],
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_PREFIX "%zu"
                                   VIR_DOMAIN_STATS_ENERGY_ZONE_SUFFIX_IDLE, i);
    }
    return 1;
}


/**
 * virHostPowerAccountingNodeParams:
 * @acct: accounting object
 * @params: typed parameters from virHostPowerGetRaplLimit
 * @nparams: their number
 *
 * Add the accounting's host counters to the node getter's output:
 * "accounting.tick", "accounting.interval" (ms), "accounting.weight",
 * "accounting.idle_policy" and, for every zone listed in @params that is
 * accounted, "zone.<n>.accounted.measured", ".unattributed", ".departed",
 * ".idle" and ".host" (µJ), ".idle_power" (µW, once learned), and
 * ".unmeasured_intervals" and ".unmeasured_time" (ms): the intervals, and
 * their length, whose energy the zone's counter could not give (longer
 * than its wrap time: a stall or suspend; or a clock step back). For
 * every zone, measured = the running domains' energy + departed + host +
 * idle, and unattributed = host + idle.
 *
 * Returns 0 on success, -1 with an error reported.
 */
int
virHostPowerAccountingNodeParams(virHostPowerAccounting *acct,
                                 virTypedParameterPtr *params,
                                 int *nparams)
{
    int maxparams = *nparams;
    int count = *nparams;
    uint64_t ticks = 0;
    lvp_weight weight = LVP_WEIGHT_AUTO;
    size_t fds = 0;
    size_t i;
    VIR_LOCK_GUARD lock = virLockGuardLock(&acct->lock);

    if (lvp_accountant_ticks(acct->acc, &ticks) != LVP_RESULT_OK ||
        lvp_accountant_info(acct->acc, &weight, &fds) != LVP_RESULT_OK) {
        virReportError(VIR_ERR_INTERNAL_ERROR, "%s",
                       _("cannot read the energy accounting"));
        return -1;
    }
    if (virTypedParamsAddULLong(params, nparams, &maxparams,
                                "accounting.tick", ticks) < 0 ||
        virTypedParamsAddUInt(params, nparams, &maxparams,
                              "accounting.interval", acct->intervalMS) < 0 ||
        virTypedParamsAddString(params, nparams, &maxparams, "accounting.weight",
                                weight == LVP_WEIGHT_CYCLES ? "cycles" :
                                weight == LVP_WEIGHT_CPU_TIME ? "cpu_time" : "none") < 0 ||
        virTypedParamsAddString(params, nparams, &maxparams, "accounting.idle_policy",
                                virHostPowerIdlePolicyTypeToString(acct->idlePolicy)) < 0)
        return -1;

    for (i = 0; i < count; i++) {
        virTypedParameterPtr p = &(*params)[i];
        const char *zone;
        unsigned int n;
        char *end = NULL;
        /* Indexed by lvp_accountant_zone_energy's selector. */
        static const char *what[] = { "measured", "unattributed", "departed", "idle", "host" };
        uint64_t uw = 0;
        bool known = false;
        uint64_t unmeasured = 0;
        uint64_t unmeasuredMS = 0;
        size_t k;

        if (p->type != VIR_TYPED_PARAM_STRING ||
            !STRPREFIX(p->field, "zone.") ||
            virStrToLong_ui(p->field + 5, &end, 10, &n) < 0 ||
            STRNEQ(end, ".name"))
            continue;

        /* Adding parameters may move the array, not the name string. */
        zone = p->value.s;
        for (k = 0; k < G_N_ELEMENTS(what); k++) {
            uint64_t uj = 0;
            g_autofree char *field = NULL;

            if (lvp_accountant_zone_energy(acct->acc, zone, k, &uj) != LVP_RESULT_OK)
                break;
            field = g_strdup_printf("zone.%u.accounted.%s", n, what[k]);
            if (virTypedParamsAddULLong(params, nparams, &maxparams, field, uj) < 0)
                return -1;
        }
        if (lvp_accountant_zone_idle_power(acct->acc, zone, &uw, &known) == LVP_RESULT_OK &&
            known) {
            g_autofree char *field = g_strdup_printf("zone.%u.accounted.idle_power", n);

            if (virTypedParamsAddULLong(params, nparams, &maxparams, field, uw) < 0)
                return -1;
        }
        if (lvp_accountant_zone_unmeasured(acct->acc, zone, &unmeasured,
                                           &unmeasuredMS) == LVP_RESULT_OK) {
            g_autofree char *fieldN = g_strdup_printf("zone.%u.accounted.unmeasured_intervals", n);
            g_autofree char *fieldMS = g_strdup_printf("zone.%u.accounted.unmeasured_time", n);

            if (virTypedParamsAddULLong(params, nparams, &maxparams, fieldN, unmeasured) < 0 ||
                virTypedParamsAddULLong(params, nparams, &maxparams, fieldMS, unmeasuredMS) < 0)
                return -1;
        }
    }
    return 0;
}

#else /* !WITH_LIBVIRT_POWER */

static void
virHostPowerReportUnsupported(void)
{
    virReportError(VIR_ERR_OPERATION_UNSUPPORTED, "%s",
                   _("host power control is not available: libvirt was built without libvirt-power"));
}


int
virHostPowerSetFrequency(const char *sysfsRoot G_GNUC_UNUSED,
                         const char *stateDir G_GNUC_UNUSED,
                         const char *cpumap G_GNUC_UNUSED,
                         virTypedParameterPtr params G_GNUC_UNUSED,
                         int nparams G_GNUC_UNUSED,
                         unsigned int flags)
{
    virCheckFlags(VIR_HOST_POWER_SET_FLAGS, -1);
    virHostPowerReportUnsupported();
    return -1;
}


int
virHostPowerGetFrequency(const char *sysfsRoot G_GNUC_UNUSED,
                         const char *cpumap G_GNUC_UNUSED,
                         virTypedParameterPtr *params G_GNUC_UNUSED,
                         int *nparams G_GNUC_UNUSED,
                         unsigned int flags)
{
    virCheckFlags(0, -1);
    virHostPowerReportUnsupported();
    return -1;
}


int
virHostPowerSetGovernor(const char *sysfsRoot G_GNUC_UNUSED,
                        const char *stateDir G_GNUC_UNUSED,
                        const char *cpumap G_GNUC_UNUSED,
                        const char *governor G_GNUC_UNUSED,
                        unsigned int flags)
{
    virCheckFlags(VIR_HOST_POWER_SET_FLAGS, -1);
    virHostPowerReportUnsupported();
    return -1;
}


int
virHostPowerSetRaplLimit(const char *sysfsRoot G_GNUC_UNUSED,
                         const char *stateDir G_GNUC_UNUSED,
                         const char *zone G_GNUC_UNUSED,
                         const char *constraint G_GNUC_UNUSED,
                         virTypedParameterPtr params G_GNUC_UNUSED,
                         int nparams G_GNUC_UNUSED,
                         unsigned int flags)
{
    virCheckFlags(VIR_HOST_POWER_SET_FLAGS, -1);
    virHostPowerReportUnsupported();
    return -1;
}


int
virHostPowerGetRaplLimit(const char *sysfsRoot G_GNUC_UNUSED,
                         const char *zone G_GNUC_UNUSED,
                         virTypedParameterPtr *params G_GNUC_UNUSED,
                         int *nparams G_GNUC_UNUSED,
                         unsigned int flags)
{
    virCheckFlags(0, -1);
    virHostPowerReportUnsupported();
    return -1;
}


int
virHostPowerCreateSimulatedHost(const char *dir G_GNUC_UNUSED)
{
    virHostPowerReportUnsupported();
    return -1;
}


virHostPowerAccounting *
virHostPowerAccountingNew(const char *sysfsRoot G_GNUC_UNUSED,
                          const char *stateFile G_GNUC_UNUSED,
                          unsigned int intervalMS G_GNUC_UNUSED,
                          virHostPowerIdlePolicy idlePolicy G_GNUC_UNUSED)
{
    virHostPowerReportUnsupported();
    return NULL;
}


void
virHostPowerAccountingFree(virHostPowerAccounting *acct G_GNUC_UNUSED)
{
}


int
virHostPowerAccountingAddDomain(virHostPowerAccounting *acct G_GNUC_UNUSED,
                                const unsigned char *uuid G_GNUC_UNUSED,
                                pid_t pid G_GNUC_UNUSED,
                                unsigned int vcpus G_GNUC_UNUSED)
{
    virHostPowerReportUnsupported();
    return -1;
}


void
virHostPowerAccountingRemoveDomain(virHostPowerAccounting *acct G_GNUC_UNUSED,
                                   const unsigned char *uuid G_GNUC_UNUSED)
{
}


int
virHostPowerAccountingDomainStats(virHostPowerAccounting *acct G_GNUC_UNUSED,
                                  const unsigned char *uuid G_GNUC_UNUSED,
                                  virTypedParamList *params G_GNUC_UNUSED)
{
    return 0;
}


int
virHostPowerAccountingNodeParams(virHostPowerAccounting *acct G_GNUC_UNUSED,
                                 virTypedParameterPtr *params G_GNUC_UNUSED,
                                 int *nparams G_GNUC_UNUSED)
{
    return 0;
}

#endif /* !WITH_LIBVIRT_POWER */
