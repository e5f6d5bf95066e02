/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exercises every export of the libvirt-power C ABI against a simulated
 * host, built against the committed header. Run under valgrind by
 * scripts/test-capi.
 *
 * Usage: test_capi SYSFS_ROOT STATE_DIR   (SYSFS_ROOT: a "two-socket" or
 * "intel-pstate-active" simulated tree, see virt-power sim create)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libvirt_power.h"

static int passed, failed;

#define CHECK(cond, ...) do { \
    if (cond) { passed++; } else { \
        failed++; \
        fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
    } } while (0)

static const char *last_error(void)
{
    static char buf[1024];
    size_t n = 0;
    if (lvp_last_error_message(buf, sizeof(buf), &n) != LVP_RESULT_OK)
        return "(message truncated)";
    return buf;
}

static char *read_file(const char *root, const char *rel)
{
    char path[4096];
    static char buf[4096];
    FILE *f;
    size_t n;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (!(f = fopen(path, "r")))
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return buf;
}

static void write_file(const char *root, const char *rel, const char *val)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if ((f = fopen(path, "w"))) {
        fprintf(f, "%s\n", val);
        fclose(f);
    }
}

struct worker {
    lvp_host *host;
    int id;
    int errors;
};

static void *worker_main(void *opaque)
{
    struct worker *w = opaque;
    const char *govs[] = { "performance", "powersave", "schedutil" };
    int i;
    for (i = 0; i < 30; i++) {
        char cpus[16];
        lvp_snapshot *snap = NULL;
        snprintf(cpus, sizeof(cpus), "%d", (w->id * 3 + i) % 32);
        if (lvp_host_set_governor(w->host, cpus, govs[i % 3], 0, NULL) != LVP_RESULT_OK)
            w->errors++;
        /* A bad call on this thread must not disturb the others. */
        if (lvp_host_set_governor(w->host, cpus, "nope", 0, NULL) != LVP_RESULT_INVALID_ARGUMENT)
            w->errors++;
        if (lvp_host_snapshot(w->host, &snap) != LVP_RESULT_OK)
            w->errors++;
        lvp_snapshot_free(snap);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *root, *state;
    lvp_host *host = NULL;
    lvp_report *report = NULL;
    lvp_snapshot *snap = NULL;
    lvp_energy_meter *meter = NULL;
    lvp_host_state hs;
    lvp_cpu_state cs;
    lvp_zone_state zs;
    lvp_constraint_state con;
    char buf[4096], small[8];
    size_t n = 0, changed = 0, clamped = 0, unchanged = 0, i;
    uint64_t uj = 0, uj2 = 0;
    lvp_result rc;
    pthread_t threads[4];
    struct worker workers[4];

    if (argc != 3) {
        fprintf(stderr, "usage: %s SYSFS_ROOT STATE_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    state = argv[2];

    /* Version, descriptions, NULL handling. */
    CHECK(strlen(lvp_version()) > 0, "empty version");
    CHECK(lvp_result_describe(LVP_RESULT_LOCKED, buf, sizeof(buf), &n) == LVP_RESULT_OK &&
          strstr(buf, "locked") != NULL, "%s", buf);
    CHECK(lvp_result_describe(LVP_RESULT_INVALID_ARGUMENT, small, sizeof(small), &n) ==
          LVP_RESULT_BUFFER_TOO_SMALL && n == strlen("invalid argument") &&
          strlen(small) == sizeof(small) - 1, "truncation: n=%zu small=%s", n, small);
    CHECK(lvp_result_describe(LVP_RESULT_OK, buf, sizeof(buf), NULL) == LVP_RESULT_NULL_PARAMETER, "NULL out_n");
    CHECK(lvp_result_describe(LVP_RESULT_NO_SUCH_DOMAIN, buf, sizeof(buf), &n) == LVP_RESULT_OK &&
          strcmp(buf, "no such domain") == 0, "%s", buf);
    CHECK(lvp_result_describe(7999, buf, sizeof(buf), &n) == LVP_RESULT_OK &&
          strcmp(buf, "unknown result code") == 0, "%s", buf);

    /* The CPU-list parser the libvirt getter uses: a little-endian bitmap
     * of LVP_CPU_MAP_BYTES bytes; "all" is flagged; bad lists and an
     * overlong one are refused with nothing written. */
    {
        uint8_t map[LVP_CPU_MAP_BYTES + 8];
        bool all = true;
        size_t ncpus = 0;
        char *long_list;

        CHECK(lvp_cpulist_parse(" 0-9,^3, 8191 ", map, sizeof(map), &all, &ncpus) == LVP_RESULT_OK &&
              !all && ncpus == 10 && map[0] == 0xf7 && map[1] == 0x03 && map[2] == 0 &&
              map[LVP_CPU_MAX / 8] == 0x80 && map[LVP_CPU_MAP_BYTES] == 0,
              "%s: all=%d ncpus=%zu map[0]=%#x", last_error(), all, ncpus, map[0]);
        CHECK(lvp_cpulist_parse("all", map, sizeof(map), &all, &ncpus) == LVP_RESULT_OK && all && ncpus == 0 &&
              map[0] == 0, "%s", last_error());
        memset(map, 0xaa, sizeof(map));
        ncpus = 77;
        CHECK(lvp_cpulist_parse("0-2147483647", map, sizeof(map), &all, &ncpus) == LVP_RESULT_INVALID_ARGUMENT &&
              strstr(last_error(), "CPU numbers 0-8191") && strstr(last_error(), "(CPU 2147483647 is above 8191)") &&
              map[0] == 0xaa && ncpus == 77, "%s", last_error());
        CHECK(lvp_cpulist_parse("1", map, LVP_CPU_MAP_BYTES - 1, &all, &ncpus) == LVP_RESULT_INVALID_ARGUMENT,
              "short map");
        CHECK(lvp_cpulist_parse(NULL, map, sizeof(map), &all, &ncpus) == LVP_RESULT_NULL_PARAMETER, "NULL list");
        long_list = malloc(LVP_CPULIST_MAX_LEN + 2);
        if (long_list) {
            memset(long_list, '0', LVP_CPULIST_MAX_LEN + 1);
            long_list[LVP_CPULIST_MAX_LEN + 1] = '\0';
            CHECK(lvp_cpulist_parse(long_list, map, sizeof(map), &all, &ncpus) == LVP_RESULT_INVALID_ARGUMENT &&
                  strstr(last_error(), "at most 65536 bytes"), "%s", last_error());
            long_list[LVP_CPULIST_MAX_LEN] = '\0';
            CHECK(lvp_cpulist_parse(long_list, map, sizeof(map), &all, &ncpus) == LVP_RESULT_OK && ncpus == 1 &&
                  map[0] == 1, "%s", last_error());
            free(long_list);
        }
    }

    CHECK(lvp_host_new(root, state, NULL) == LVP_RESULT_NULL_PARAMETER, "NULL out");
    CHECK(strstr(last_error(), "out is NULL") != NULL, "%s", last_error());
    CHECK(lvp_host_set_governor(NULL, "0", "performance", 0, NULL) == LVP_RESULT_NULL_PARAMETER, "NULL host");
    lvp_host_free(NULL);
    lvp_report_free(NULL);
    lvp_snapshot_free(NULL);
    lvp_energy_meter_free(NULL);
    CHECK(lvp_snapshot_cpu_count(NULL) == 0, "NULL snapshot count");
    CHECK(lvp_snapshot_zone_count(NULL) == 0, "NULL snapshot zone count");

    /* lvp_sim_create: a fresh simulated host in a directory under the
     * state dir; an unknown preset and a non-empty directory are refused. */
    {
        char simdir[4096], probe[4200];
        FILE *fp;
        snprintf(simdir, sizeof(simdir), "%s/sim-create", state);
        CHECK(lvp_sim_create(NULL, NULL, 0) == LVP_RESULT_NULL_PARAMETER, "NULL dir");
        CHECK(lvp_sim_create(simdir, "no-such-preset", 0) == LVP_RESULT_INVALID_ARGUMENT &&
              strstr(last_error(), "no-such-preset") != NULL &&
              strstr(last_error(), "acpi-cpufreq") != NULL, "%s", last_error());
        CHECK(lvp_sim_create(simdir, NULL, 0) == LVP_RESULT_OK, "%s", last_error());
        snprintf(probe, sizeof(probe), "%s/devices/system/cpu/cpu0/cpufreq/scaling_driver", simdir);
        fp = fopen(probe, "r");
        CHECK(fp && fgets(buf, sizeof(buf), fp) && strcmp(buf, "acpi-cpufreq\n") == 0,
              "sim_create wrote no acpi-cpufreq tree at %s", probe);
        if (fp)
            fclose(fp);
        CHECK(lvp_sim_create(simdir, NULL, 0) == LVP_RESULT_IO &&
              strstr(last_error(), "not empty") != NULL, "%s", last_error());
    }

    rc = lvp_host_new(root, state, &host);
    CHECK(rc == LVP_RESULT_OK && host, "host_new: %u %s", rc, last_error());
    if (!host)
        goto done;

    /* Partial snapshots: each part alone, unknown part bits refused. */
    CHECK(lvp_host_snapshot_parts(host, LVP_SNAPSHOT_RAPL, &snap) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_snapshot_cpu_count(snap) == 0 && lvp_snapshot_zone_count(snap) == 9,
          "RAPL part: cpus %zu zones %zu", lvp_snapshot_cpu_count(snap), lvp_snapshot_zone_count(snap));
    lvp_snapshot_free(snap);
    snap = NULL;
    CHECK(lvp_host_snapshot_parts(host, LVP_SNAPSHOT_CPUFREQ, &snap) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_snapshot_cpu_count(snap) == 32 && lvp_snapshot_zone_count(snap) == 0,
          "cpufreq part: cpus %zu zones %zu", lvp_snapshot_cpu_count(snap), lvp_snapshot_zone_count(snap));
    lvp_snapshot_free(snap);
    snap = NULL;
    CHECK(lvp_host_snapshot_parts(host, 0x4, &snap) == LVP_RESULT_INVALID_FLAGS && snap == NULL &&
          strstr(last_error(), "0x4") != NULL, "%s", last_error());

    /* Snapshot getters. */
    CHECK(lvp_host_snapshot(host, &snap) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_snapshot_host(snap, &hs) == LVP_RESULT_OK, "%s", last_error());
    CHECK(hs.cpu_count == 32 && hs.policy_count == 32 && hs.zone_count == 9, "cpus %u policies %u zones %u",
          hs.cpu_count, hs.policy_count, hs.zone_count);
    CHECK(strcmp(hs.driver, "intel_cpufreq") == 0 && strcmp(hs.pstate_status, "passive") == 0 && hs.turbo == 1,
          "driver %s status %s turbo %d", hs.driver, hs.pstate_status, hs.turbo);
    CHECK(hs.max_perf_pct == 100, "max_perf_pct %d", hs.max_perf_pct);
    CHECK(lvp_snapshot_cpu_count(snap) == 32, "cpu count");
    CHECK(lvp_snapshot_cpu(snap, 17, &cs) == LVP_RESULT_OK && cs.cpu == 17 && cs.package == 0 && cs.core == 1 &&
          cs.policy == 17 && cs.cpuinfo_min_khz == 1000000 && cs.cpuinfo_max_khz == 3500000 &&
          strcmp(cs.governor, "schedutil") == 0 && cs.setspeed_khz == 0 && cs.online == 1,
          "cpu17: pkg %d core %d gov %s", cs.package, cs.core, cs.governor);
    CHECK(lvp_snapshot_cpu(snap, 32, &cs) == LVP_RESULT_OUT_OF_RANGE, "index 32");
    CHECK(strstr(last_error(), "CPU index 32 is out of range") != NULL, "%s", last_error());
    CHECK(lvp_snapshot_cpu_list(snap, 0, 0, buf, sizeof(buf), &n) == LVP_RESULT_OK &&
          strstr(buf, "userspace") != NULL, "governors: %s", buf);
    CHECK(lvp_snapshot_cpu_list(snap, 0, 9, buf, sizeof(buf), &n) == LVP_RESULT_INVALID_ARGUMENT, "bad selector");
    CHECK(lvp_snapshot_zone_count(snap) == 9, "zones");
    CHECK(lvp_snapshot_zone(snap, 0, &zs) == LVP_RESULT_OK && strcmp(zs.key, "package-0") == 0 &&
          zs.package == 0 && zs.enabled == 1 && zs.has_energy == 1 && zs.max_energy_range_uj == 262143328850ULL &&
          zs.constraint_count == 2, "zone0 %s", zs.key);
    CHECK(lvp_snapshot_constraint(snap, 0, 0, &con) == LVP_RESULT_OK && strcmp(con.name, "long_term") == 0 &&
          con.power_limit_uw == 150000000ULL && con.max_power_uw == 150000000ULL && con.ceiling_uw == 4095875000ULL,
          "constraint %s", con.name);
    CHECK(lvp_snapshot_constraint(snap, 0, 5, &con) == LVP_RESULT_OUT_OF_RANGE, "constraint 5");
    lvp_snapshot_free(snap);
    snap = NULL;

    /* An offline CPU: listed as offline, with its (inactive) policy's
     * number and no frequency data; the snapshot does not fail. */
    {
        char simdir[4096];
        lvp_host *offhost = NULL;
        snprintf(simdir, sizeof(simdir), "%s/sim-offline", state);
        CHECK(lvp_sim_create(simdir, "two-socket-smt-offline", 0) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_host_new(simdir, NULL, &offhost) == LVP_RESULT_OK, "%s", last_error());
        CHECK(offhost && lvp_host_snapshot(offhost, &snap) == LVP_RESULT_OK, "%s", last_error());
        CHECK(snap && lvp_snapshot_cpu_count(snap) == 16, "cpus %zu", lvp_snapshot_cpu_count(snap));
        CHECK(snap && lvp_snapshot_host(snap, &hs) == LVP_RESULT_OK && hs.cpu_count == 15 && hs.policy_count == 15,
              "online %u policies %u", hs.cpu_count, hs.policy_count);
        CHECK(snap && lvp_snapshot_cpu(snap, 13, &cs) == LVP_RESULT_OK && cs.cpu == 13 && cs.online == 0 &&
              cs.policy == 13 && cs.package == -1 && cs.cur_khz == 0 && cs.governor[0] == '\0',
              "cpu13: online %d policy %d package %d gov %s", cs.online, cs.policy, cs.package, cs.governor);
        CHECK(snap && lvp_snapshot_cpu_list(snap, 13, 0, buf, sizeof(buf), &n) == LVP_RESULT_OK && n == 0,
              "offline CPU governors: '%s'", buf);
        CHECK(snap && lvp_snapshot_cpu(snap, 5, &cs) == LVP_RESULT_OK && cs.online == 1 && cs.package == 1,
              "cpu5: online %d package %d", cs.online, cs.package);
        lvp_snapshot_free(snap);
        snap = NULL;
        lvp_host_free(offhost);
    }

    /* Governor with a report. */
    rc = lvp_host_set_governor(host, "0-3", "performance", 0, &report);
    CHECK(rc == LVP_RESULT_OK, "set_governor: %s", last_error());
    CHECK(lvp_report_counts(report, &changed, &clamped, &unchanged) == LVP_RESULT_OK && changed == 4 &&
          clamped == 0 && unchanged == 0, "counts %zu %zu %zu", changed, clamped, unchanged);
    CHECK(lvp_report_text(report, buf, sizeof(buf), &n) == LVP_RESULT_OK &&
          strstr(buf, "policy3/scaling_governor: schedutil -> performance") != NULL, "%s", buf);
    CHECK(lvp_report_counts(report, NULL, &clamped, &unchanged) == LVP_RESULT_NULL_PARAMETER, "NULL count");
    /* A CPU list selects no "all": nothing skipped; the text's length
     * comes with a NULL buffer. */
    CHECK(lvp_report_cpus_skipped(report, buf, sizeof(buf), &n) == LVP_RESULT_OK && n == 0 && buf[0] == '\0',
          "skipped '%s'", buf);
    CHECK(lvp_report_notes(report, buf, sizeof(buf), &n) == LVP_RESULT_OK, "notes: %s", last_error());
    CHECK(lvp_report_text(report, NULL, 0, &n) == LVP_RESULT_BUFFER_TOO_SMALL && n > 0, "text length %zu", n);
    lvp_report_free(report);
    report = NULL;
    CHECK(strcmp(read_file(root, "devices/system/cpu/cpufreq/policy2/scaling_governor"), "performance") == 0,
          "file not written");

    /* Bad input: clear errors, nothing written. */
    CHECK(lvp_host_set_governor(host, "0", "warp", 0, NULL) == LVP_RESULT_INVALID_ARGUMENT &&
          strstr(last_error(), "invalid governor 'warp'") != NULL, "%s", last_error());
    CHECK(lvp_host_set_governor(host, "40", "performance", 0, NULL) == LVP_RESULT_INVALID_ARGUMENT &&
          strstr(last_error(), "0-31") != NULL, "%s", last_error());
    CHECK(lvp_host_set_governor(host, "0", "performance", 1u << 20, NULL) == LVP_RESULT_INVALID_FLAGS, "flags");
    CHECK(lvp_host_set_governor(host, "\xff", "performance", 0, NULL) == LVP_RESULT_INVALID_UTF8, "utf8");
    CHECK(lvp_host_set_frequency(host, "4", 2000000, 0, NULL) == LVP_RESULT_INVALID_STATE &&
          strstr(last_error(), "needs 'userspace'") != NULL, "%s", last_error());
    CHECK(lvp_host_set_frequency(host, "4", UINT64_MAX, LVP_FLAG_SWITCH_GOVERNOR, NULL) ==
          LVP_RESULT_INVALID_ARGUMENT && strstr(last_error(), "1000000 to 3500000 kHz") != NULL, "%s", last_error());
    CHECK(lvp_host_set_rapl_limit(host, "package-0", "long_term", 5000000000ULL, 0, LVP_SET_POWER, NULL) ==
          LVP_RESULT_INVALID_ARGUMENT && strstr(last_error(), "1 to 4095875000 uW") != NULL, "%s", last_error());
    CHECK(lvp_host_set_rapl_limit(host, "gpu", "long_term", 1, 0, LVP_SET_POWER, NULL) ==
          LVP_RESULT_INVALID_ARGUMENT, "zone");
    CHECK(lvp_host_set_turbo(host, 7, 0, NULL) == LVP_RESULT_INVALID_ARGUMENT, "turbo 7");
    CHECK(lvp_host_set_epp(host, "0", "power", 0, NULL) == LVP_RESULT_UNSUPPORTED, "epp on passive: %s", last_error());

    /* Exact frequency with siblings, limits, turbo, perf pct, RAPL. */
    rc = lvp_host_set_frequency(host, "5", 2400000, LVP_FLAG_SWITCH_GOVERNOR, &report);
    CHECK(rc == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_report_siblings_not_set(report, buf, sizeof(buf), &n) == LVP_RESULT_OK && strcmp(buf, "21") == 0,
          "siblings '%s'", buf);
    lvp_report_free(report);
    report = NULL;
    CHECK(lvp_host_set_frequency(host, "6", 2400000, LVP_FLAG_SWITCH_GOVERNOR | LVP_FLAG_INCLUDE_SIBLINGS, NULL) ==
          LVP_RESULT_OK, "%s", last_error());
    CHECK(strcmp(read_file(root, "devices/system/cpu/cpufreq/policy22/scaling_setspeed"), "2400000") == 0, "sibling");
    CHECK(lvp_host_set_frequency_limits(host, "all", 1200000, 3000000, LVP_SET_MIN | LVP_SET_MAX, NULL) ==
          LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_set_frequency_limits(host, "all", 0, 0, LVP_FLAG_DRY_RUN, NULL) == LVP_RESULT_INVALID_ARGUMENT,
          "no limits");
    CHECK(lvp_host_set_turbo(host, 0, 0, NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_set_perf_pct(host, 40, 90, LVP_SET_MIN | LVP_SET_MAX, NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_set_rapl_limit(host, "package-1", "long_term", 100000000, 2000000, LVP_SET_POWER | LVP_SET_WINDOW,
                                  NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_set_rapl_enabled(host, "psys", 0, 0, NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_set_rapl(host, "package-1", "long_term", 90000000, 0, 2, LVP_SET_POWER | LVP_SET_ENABLED,
                            NULL) == LVP_RESULT_INVALID_ARGUMENT, "enabled 2");
    CHECK(lvp_host_set_rapl(host, "package-0", NULL, 0, 0, 1, LVP_SET_ENABLED, NULL) == LVP_RESULT_OK,
          "%s", last_error());
    CHECK(strcmp(read_file(root, "class/powercap/intel-rapl:1/constraint_0_power_limit_uw"), "100000000") == 0,
          "rapl file");

    /* Many threads on one handle. */
    for (i = 0; i < 4; i++) {
        workers[i].host = host;
        workers[i].id = (int)i;
        workers[i].errors = 0;
        pthread_create(&threads[i], NULL, worker_main, &workers[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].errors == 0, "worker %zu: %d errors", i, workers[i].errors);
    }

    /* Energy meter, with a wrap of energy_uj. */
    write_file(root, "class/powercap/intel-rapl:0/energy_uj", "262143328000");
    CHECK(lvp_energy_meter_new(host, &meter) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_energy_meter_read(meter, "package-0", &uj) == LVP_RESULT_OK && uj == 0, "uj %" PRIu64, uj);
    write_file(root, "class/powercap/intel-rapl:0/energy_uj", "150");
    CHECK(lvp_energy_meter_read(meter, "package-0", &uj2) == LVP_RESULT_OK && uj2 == 1001,
          "after wrap %" PRIu64, uj2);
    CHECK(lvp_energy_meter_read(meter, "gpu", &uj) == LVP_RESULT_INVALID_ARGUMENT, "zone gpu");
    CHECK(lvp_energy_meter_read(meter, "package-0", NULL) == LVP_RESULT_NULL_PARAMETER, "NULL out");
    lvp_energy_meter_free(meter);

    /* Per-domain accounting with two real processes: one spins, one sleeps. */
    {
        lvp_accountant *acc = NULL;
        lvp_weight weight = LVP_WEIGHT_AUTO;
        uint64_t b = 0, idle_uj = 0, measured = 0, unattributed = 0, w = 0;
        size_t fds = 0;
        pid_t busy = fork();
        pid_t idle;
        if (busy == 0)
            for (;;) {}
        idle = fork();
        if (idle == 0) {
            pause();
            _exit(0);
        }
        /* A weight outside lvp_weight is refused, naming the value and
         * the accepted ones; the largest valid one is accepted. */
        CHECK(lvp_accountant_new(host, (lvp_weight)7, &acc) == LVP_RESULT_INVALID_ARGUMENT && acc == NULL &&
              strstr(last_error(), "invalid weight '7'") != NULL &&
              strstr(last_error(), "0 (LVP_WEIGHT_AUTO)") != NULL &&
              strstr(last_error(), "2 (LVP_WEIGHT_CPU_TIME)") != NULL, "%s", last_error());
        CHECK(lvp_accountant_new(host, LVP_WEIGHT_CPU_TIME, &acc) == LVP_RESULT_OK && acc != NULL, "%s",
              last_error());
        lvp_accountant_free(acc);
        acc = NULL;
        CHECK(lvp_accountant_new(host, LVP_WEIGHT_AUTO, &acc) == LVP_RESULT_OK, "%s", last_error());
        /* The weight is decided when the accountant is made. */
        CHECK(lvp_accountant_info(acc, &weight, &fds) == LVP_RESULT_OK && weight != LVP_WEIGHT_AUTO,
              "info before");
        CHECK(lvp_accountant_add_domain(acc, "busy-vm", busy, &weight) == LVP_RESULT_OK &&
              weight != LVP_WEIGHT_AUTO, "%s", last_error());
        CHECK(lvp_accountant_add_domain(acc, "idle-vm", idle, NULL) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_add_domain(acc, "ghost", 0x7ffffff0, NULL) == LVP_RESULT_NO_SUCH_PROCESS, "%s",
              last_error());
        CHECK(lvp_accountant_domain_energy(acc, "busy-vm", "package-0", &b) == LVP_RESULT_OK && b == 0, "before tick");
        CHECK(lvp_accountant_tick(acc) == LVP_RESULT_OK, "%s", last_error());
        usleep(400000);
        write_file(root, "class/powercap/intel-rapl:0/energy_uj", "50000150");
        CHECK(lvp_accountant_tick(acc) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_domain_energy(acc, "busy-vm", "package-0", &b) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_domain_energy(acc, "idle-vm", "package-0", &idle_uj) == LVP_RESULT_OK, "%s",
              last_error());
        CHECK(lvp_accountant_zone_energy(acc, "package-0", 0, &measured) == LVP_RESULT_OK && measured == 50000000,
              "measured %" PRIu64, measured);
        CHECK(lvp_accountant_zone_energy(acc, "package-0", 1, &unattributed) == LVP_RESULT_OK, "%s", last_error());
        CHECK(b + idle_uj + unattributed == measured, "conservation %" PRIu64 " + %" PRIu64 " + %" PRIu64,
              b, idle_uj, unattributed);
        CHECK(b > 0 && b * 10 >= (b + idle_uj) * 9, "busy %" PRIu64 " idle %" PRIu64, b, idle_uj);
        CHECK(lvp_accountant_domain_weight(acc, "busy-vm", &w) == LVP_RESULT_OK && w > 0, "weight %" PRIu64, w);
        CHECK(lvp_accountant_info(acc, &weight, &fds) == LVP_RESULT_OK && fds >= 2, "fds %zu", fds);
        CHECK(lvp_accountant_domain_energy(acc, "nope", "package-0", &b) == LVP_RESULT_NO_SUCH_DOMAIN, "nope");
        CHECK(lvp_accountant_domain_energy(acc, "busy-vm", "gpu", &b) == LVP_RESULT_INVALID_ARGUMENT, "gpu");
        CHECK(lvp_accountant_zone_energy(acc, "package-0", 7, &b) == LVP_RESULT_INVALID_ARGUMENT, "selector");
        {
            /* Idle and host energy make up the unattributed energy; the
             * idle power is still being learned after two ticks. */
            uint64_t idle_e = 1, host_e = 0, uw = 1, di = 1;
            bool known = true;
            CHECK(lvp_accountant_zone_energy(acc, "package-0", 3, &idle_e) == LVP_RESULT_OK &&
                  lvp_accountant_zone_energy(acc, "package-0", 4, &host_e) == LVP_RESULT_OK &&
                  idle_e + host_e == unattributed, "idle %" PRIu64 " host %" PRIu64, idle_e, host_e);
            CHECK(lvp_accountant_zone_idle_power(acc, "package-0", &uw, &known) == LVP_RESULT_OK && !known &&
                  uw == 0, "idle power %" PRIu64, uw);
            CHECK(lvp_accountant_zone_idle_power(acc, "gpu", &uw, &known) == LVP_RESULT_INVALID_ARGUMENT, "gpu");
            CHECK(lvp_accountant_domain_idle_energy(acc, "busy-vm", "package-0", &di) == LVP_RESULT_OK && di == 0,
                  "domain idle %" PRIu64, di);
            CHECK(lvp_accountant_domain_idle_energy(acc, "nope", "package-0", &di) == LVP_RESULT_NO_SUCH_DOMAIN,
                  "nope idle");
            CHECK(lvp_accountant_set_idle_policy(acc, (lvp_idle_policy)5) == LVP_RESULT_INVALID_ARGUMENT &&
                  strstr(last_error(), "invalid idle policy '5'") != NULL &&
                  strstr(last_error(), "1 (LVP_IDLE_VCPUS)") != NULL, "%s", last_error());
            CHECK(lvp_accountant_set_idle_policy(acc, LVP_IDLE_VCPUS) == LVP_RESULT_OK, "%s", last_error());
            CHECK(lvp_accountant_set_domain_vcpus(acc, "busy-vm", 4) == LVP_RESULT_OK, "%s", last_error());
            CHECK(lvp_accountant_set_domain_vcpus(acc, "nope", 4) == LVP_RESULT_NO_SUCH_DOMAIN, "nope vcpus");
            CHECK(lvp_accountant_set_idle_policy(acc, LVP_IDLE_APART) == LVP_RESULT_OK, "%s", last_error());
        }
        CHECK(lvp_accountant_remove_domain(acc, "busy-vm") == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_remove_domain(acc, "idle-vm") == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_remove_domain(acc, "idle-vm") == LVP_RESULT_NO_SUCH_DOMAIN, "twice");
        CHECK(lvp_accountant_tick(acc) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_info(acc, &weight, &fds) == LVP_RESULT_OK && fds == 0, "fds after %zu", fds);
        {
            /* After the tick the removed domains' energy has departed:
             * measured = departed + unattributed. */
            uint64_t m = 0, u = 0, d = 0, ticks = 0;
            char zname[64];
            size_t zn = 0;
            int32_t pkg = 7;
            CHECK(lvp_accountant_zone_energy(acc, "package-0", 0, &m) == LVP_RESULT_OK &&
                  lvp_accountant_zone_energy(acc, "package-0", 1, &u) == LVP_RESULT_OK &&
                  lvp_accountant_zone_energy(acc, "package-0", 2, &d) == LVP_RESULT_OK &&
                  m == d + u && d >= b, "m %" PRIu64 " d %" PRIu64 " u %" PRIu64, m, d, u);
            CHECK(lvp_accountant_ticks(acc, &ticks) == LVP_RESULT_OK && ticks == 3, "ticks %" PRIu64, ticks);
            CHECK(lvp_accountant_zone_count(acc) >= 1, "zone count");
            CHECK(lvp_accountant_zone(acc, 0, zname, sizeof(zname), &zn, &pkg) == LVP_RESULT_OK &&
                  strcmp(zname, "package-0") == 0 && zn == 9 && pkg == 0, "zone 0 %s %d", zname, pkg);
            CHECK(lvp_accountant_zone(acc, 99, zname, sizeof(zname), &zn, &pkg) == LVP_RESULT_OUT_OF_RANGE,
                  "zone 99");
            CHECK(lvp_accountant_zone(acc, 0, zname, 4, &zn, &pkg) == LVP_RESULT_BUFFER_TOO_SMALL, "small");
            CHECK(lvp_accountant_set_state_file(acc, "/nonexistent/x") == LVP_RESULT_INVALID_STATE,
                  "state file after ticks: %s", last_error());
        }
        lvp_accountant_free(acc);
        lvp_accountant_free(NULL);
        kill(busy, SIGKILL);
        kill(idle, SIGKILL);
        waitpid(busy, NULL, 0);
        waitpid(idle, NULL, 0);
    }

    /* The accounting interval's bound, unmeasured time, and a damaged
     * state file set aside (its bytes unchanged) with accounting started
     * afresh in the same call. */
    {
        static const char damaged[] = "libvirt-power-accounting 3\ntick 5\nzone package-0 x\n";
        lvp_accountant *acc = NULL;
        char sfile[1024], expected[1100], aside[1100], why[1024], zname[64], back[256];
        size_t an = 99, wn = 99, zi = 0, zn = 0, bn = 0;
        uint64_t ms = 0, peak = 0, ivals = 1, lost_ms = 1, ticks = 1;
        int32_t pkg = 0;
        FILE *f;
        snprintf(sfile, sizeof(sfile), "%s/acct.state", state);
        snprintf(expected, sizeof(expected), "%s.damaged", sfile);
        f = fopen(sfile, "w");
        CHECK(f != NULL, "cannot write %s", sfile);
        if (f) {
            fputs(damaged, f);
            fclose(f);
        }
        CHECK(lvp_accountant_new(host, LVP_WEIGHT_CPU_TIME, &acc) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_state_set_aside(acc, aside, sizeof(aside), &an) == LVP_RESULT_OK && an == 0 &&
              aside[0] == '\0', "nothing set aside yet: %zu", an);
        CHECK(lvp_accountant_state_set_aside_reason(acc, NULL, 0, &wn) == LVP_RESULT_OK && wn == 0, "no reason");
        CHECK(lvp_accountant_set_state_file(acc, sfile) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_state_set_aside(acc, NULL, 0, &an) == LVP_RESULT_BUFFER_TOO_SMALL &&
              an == strlen(expected), "length %zu", an);
        CHECK(lvp_accountant_state_set_aside(acc, aside, sizeof(aside), &an) == LVP_RESULT_OK &&
              strcmp(aside, expected) == 0, "set aside as '%s'", aside);
        CHECK(lvp_accountant_state_set_aside_reason(acc, why, sizeof(why), &wn) == LVP_RESULT_OK &&
              strstr(why, "acct.state") != NULL && strstr(why, "unknown line") != NULL, "reason '%s'", why);
        CHECK(lvp_accountant_state_set_aside(acc, aside, sizeof(aside), NULL) == LVP_RESULT_NULL_PARAMETER,
              "NULL out_len");
        f = fopen(expected, "r");
        CHECK(f != NULL, "no %s", expected);
        if (f) {
            bn = fread(back, 1, sizeof(back) - 1, f);
            back[bn] = '\0';
            fclose(f);
            CHECK(strcmp(back, damaged) == 0, "set-aside bytes changed: '%s'", back);
        }
        CHECK(access(sfile, F_OK) != 0, "the damaged file is still there");
        CHECK(lvp_accountant_ticks(acc, &ticks) == LVP_RESULT_OK && ticks == 0, "ticks %" PRIu64, ticks);
        CHECK(lvp_accountant_tick(acc) == LVP_RESULT_OK, "%s", last_error());
        CHECK(access(sfile, F_OK) == 0, "no fresh state file");

        /* The fastest wrap: dram or psys, no max_power_uw, so 1 kW; 262 kJ
         * wraps in 262 s, half of it is the bound. */
        CHECK(lvp_accountant_max_interval_ms(acc, &ms) == LVP_RESULT_OK && ms == 131071, "max interval %" PRIu64,
              ms);
        CHECK(lvp_accountant_max_interval_ms(acc, NULL) == LVP_RESULT_NULL_PARAMETER, "NULL out_ms");
        CHECK(lvp_accountant_max_interval_zone(acc, &zi, &peak) == LVP_RESULT_OK && peak == 1000000000 &&
              lvp_accountant_zone(acc, zi, zname, sizeof(zname), &zn, &pkg) == LVP_RESULT_OK &&
              (strcmp(zname, "package-0/dram") == 0 || strcmp(zname, "psys") == 0),
              "zone %zu '%s' peak %" PRIu64, zi, zname, peak);
        CHECK(lvp_accountant_max_interval_zone(acc, &zi, NULL) == LVP_RESULT_OK, "%s", last_error());
        CHECK(lvp_accountant_max_interval_zone(acc, NULL, &peak) == LVP_RESULT_NULL_PARAMETER, "NULL out_index");
        CHECK(lvp_accountant_zone_unmeasured(acc, "package-0", &ivals, &lost_ms) == LVP_RESULT_OK && ivals == 0 &&
              lost_ms == 0, "unmeasured %" PRIu64 " %" PRIu64, ivals, lost_ms);
        CHECK(lvp_accountant_zone_unmeasured(acc, "gpu", &ivals, &lost_ms) == LVP_RESULT_INVALID_ARGUMENT, "gpu");
        CHECK(lvp_accountant_zone_unmeasured(acc, "package-0", NULL, &lost_ms) == LVP_RESULT_NULL_PARAMETER,
              "NULL out_intervals");
        lvp_accountant_free(acc);
    }

    /* A knob class outside lvp_knob is refused, naming the value and the
     * accepted ones, and restores nothing (the turbo restore below still
     * finds its change). */
    CHECK(lvp_host_restore(host, NULL, (lvp_knob)99, NULL, 0, &report) == LVP_RESULT_INVALID_ARGUMENT &&
          report == NULL && strstr(last_error(), "invalid knob class '99'") != NULL &&
          strstr(last_error(), "0 (LVP_KNOB_ALL)") != NULL &&
          strstr(last_error(), "8 (LVP_KNOB_RAPL_ENABLED)") != NULL, "%s", last_error());
    CHECK(lvp_host_restore(host, NULL, (lvp_knob)0x80000000u, NULL, 0, NULL) == LVP_RESULT_INVALID_ARGUMENT &&
          strstr(last_error(), "'2147483648'") != NULL, "%s", last_error());
    /* Every valid knob class is accepted (a dry run writes nothing). */
    for (i = LVP_KNOB_ALL; i <= LVP_KNOB_RAPL_ENABLED; i++)
        CHECK(lvp_host_restore(host, NULL, (lvp_knob)i, NULL, LVP_FLAG_DRY_RUN, NULL) == LVP_RESULT_OK,
              "knob %zu: %s", i, last_error());

    /* Restore: first one knob, then everything. */
    CHECK(lvp_host_restore(host, NULL, LVP_KNOB_TURBO, NULL, 0, &report) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_report_counts(report, &changed, &clamped, &unchanged) == LVP_RESULT_OK && changed == 1,
          "turbo restore %zu", changed);
    lvp_report_free(report);
    report = NULL;
    CHECK(lvp_host_restore(host, "0-3", LVP_KNOB_ALL, NULL, 0, NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_restore(host, NULL, LVP_KNOB_RAPL_LIMIT, "package-1", 0, NULL) == LVP_RESULT_OK, "%s",
          last_error());
    CHECK(lvp_host_restore(host, NULL, LVP_KNOB_ALL, NULL, 0, NULL) == LVP_RESULT_OK, "%s", last_error());
    CHECK(strcmp(read_file(root, "devices/system/cpu/cpufreq/policy2/scaling_governor"), "schedutil") == 0,
          "restored governor");
    CHECK(strcmp(read_file(root, "devices/system/cpu/intel_pstate/no_turbo"), "0") == 0, "restored turbo");
    CHECK(strcmp(read_file(root, "class/powercap/intel-rapl:1/constraint_0_power_limit_uw"), "150000000") == 0,
          "restored rapl");

    lvp_host_free(host);
    host = NULL;

    /* A host without a journal cannot restore. */
    CHECK(lvp_host_new(root, NULL, &host) == LVP_RESULT_OK, "%s", last_error());
    CHECK(lvp_host_restore(host, NULL, LVP_KNOB_ALL, NULL, 0, NULL) == LVP_RESULT_INVALID_STATE, "no journal");
    lvp_host_free(host);
    host = NULL;

 done:
    printf("c-abi: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
