/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats_latency: what the "energy" group adds to a
 * virConnectGetAllDomainStats call.
 *
 *   stats_latency [-r ROUNDS] [-n CALLS] [-d DOMAINS] URI
 *
 * On one connection to URI it times, call by call with CLOCK_MONOTONIC,
 *
 *   - without: virConnectGetAllDomainStats(conn,
 *       VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_STATE, ...,
 *       VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING);
 *   - with: the same | VIR_DOMAIN_STATS_ENERGY;
 *
 * in ROUNDS rounds of CALLS calls of each kind, the order of the two
 * kinds swapped from one round to the next, so that a slow phase of the
 * machine hits both alike. Freeing the records is not timed.
 *
 * Every call must return DOMAINS records (when -d is given), each with
 * "cpu.time"; the calls with the energy group must carry "energy.tick" in
 * every record and the others none, so that a call that does not do the
 * work cannot pass for a fast one (the daemon must run with
 * power_accounting = 1).
 *
 * Prints one line of key=value pairs:
 *
 *   stats_latency domains=N calls=C without_median_us=X without_p90_us=X
 *       with_median_us=X with_p90_us=X
 *
 * Exits 0 on success, 1 on any libvirt error or failed check, 2 on bad
 * usage.
 */

#define _POSIX_C_SOURCE 200809L

static const char *prog = "stats_latency";

#include "bench_common.h"

enum { KIND_WITHOUT, KIND_WITH, NKINDS };

/* Calls of each kind before measuring: the first calls fault in code and
 * buffers on both sides of the connection. */
#define WARMUP_CALLS 20

static const unsigned int base_stats = VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_STATE;


static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-r ROUNDS] [-n CALLS] [-d DOMAINS] URI\n"
            "  -r ROUNDS   rounds (default 10)\n"
            "  -n CALLS    calls of each kind per round (default 20)\n"
            "  -d DOMAINS  running domains every call must return (default: any)\n",
            prog);
    exit(2);
}


/* Dies unless the records are what a call of `kind` must return. */
static void check(virDomainStatsRecordPtr *recs, int n, int kind, long domains)
{
    if (domains >= 0 && n != domains)
        die("check: %d records, expected %ld running domains", n, domains);
    for (int i = 0; i < n; i++) {
        virDomainStatsRecordPtr r = recs[i];
        const char *name = virDomainGetName(r->dom);
        unsigned long long v;
        int has_tick;

        if (virTypedParamsGetULLong(r->params, r->nparams, "cpu.time", &v) != 1)
            die("check: no cpu.time for %s", name ? name : "?");
        has_tick = virTypedParamsGetULLong(r->params, r->nparams, "energy.tick", &v) == 1;
        if (kind == KIND_WITH && !has_tick)
            die("check: no energy.tick for %s with VIR_DOMAIN_STATS_ENERGY "
                "(is power_accounting on?)", name ? name : "?");
        if (kind == KIND_WITHOUT && has_tick)
            die("check: energy.tick for %s without VIR_DOMAIN_STATS_ENERGY",
                name ? name : "?");
    }
}

/* `calls` calls of one kind; each duration goes to out[] if out is set. */
static void run_block(virConnectPtr conn, int kind, long calls, long domains, int64_t *out)
{
    unsigned int stats = base_stats;

    if (kind == KIND_WITH)
        stats |= VIR_DOMAIN_STATS_ENERGY;
    for (long i = 0; i < calls; i++) {
        virDomainStatsRecordPtr *recs = NULL;
        int64_t t0, t1;
        int n;

        t0 = now_ns();
        n = virConnectGetAllDomainStats(conn, stats, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING);
        t1 = now_ns();
        if (n < 0)
            die("virConnectGetAllDomainStats(0x%x) failed: %s", stats,
                virGetLastErrorMessage());
        check(recs, n, kind, domains);
        virDomainStatsRecordListFree(recs);
        if (out)
            out[i] = t1 - t0;
    }
}

int main(int argc, char **argv)
{
    long rounds = 10, calls = 20, domains = -1;
    const char *uri;
    virConnectPtr conn;
    int64_t *samples[NKINDS];
    double median[NKINDS], p90[NKINDS];
    size_t total;
    int argi = 1;

    if (argc > 0 && argv[0][0] != '\0') {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }

    while (argi < argc && argv[argi][0] == '-') {
        const char *opt = argv[argi];

        if (strcmp(opt, "--") == 0) {
            argi++;
            break;
        }
        if (argi + 1 >= argc)
            usage();
        if (strcmp(opt, "-r") == 0)
            rounds = parse_count(argv[argi + 1], "round count", 1);
        else if (strcmp(opt, "-n") == 0)
            calls = parse_count(argv[argi + 1], "call count", 1);
        else if (strcmp(opt, "-d") == 0)
            domains = parse_count(argv[argi + 1], "domain count", 0);
        else
            usage();
        argi += 2;
    }
    if (argc - argi != 1)
        usage();
    uri = argv[argi];

    virSetErrorFunc(NULL, quiet_errors);

    conn = virConnectOpen(uri);
    if (!conn)
        die("virConnectOpen(%s) failed: %s", uri, virGetLastErrorMessage());

    for (int k = 0; k < NKINDS; k++)
        run_block(conn, k, WARMUP_CALLS, domains, NULL);

    total = (size_t)rounds * (size_t)calls;
    for (int k = 0; k < NKINDS; k++) {
        samples[k] = malloc(total * sizeof(*samples[k]));
        if (!samples[k])
            die("out of memory");
    }

    for (long r = 0; r < rounds; r++) {
        for (int j = 0; j < NKINDS; j++) {
            int k = (r % 2 == 0) ? j : NKINDS - 1 - j;

            run_block(conn, k, calls, domains, samples[k] + (size_t)r * (size_t)calls);
        }
    }

    if (virConnectClose(conn) != 0)
        die("virConnectClose: connection still referenced");

    for (int k = 0; k < NKINDS; k++) {
        qsort(samples[k], total, sizeof(*samples[k]), cmp_i64);
        median[k] = quantile_us(samples[k], total, 0.5);
        p90[k] = quantile_us(samples[k], total, 0.9);
        free(samples[k]);
    }

    printf("stats_latency domains=%ld calls=%zu without_median_us=%.1f without_p90_us=%.1f "
           "with_median_us=%.1f with_p90_us=%.1f\n",
           domains, total, median[KIND_WITHOUT], p90[KIND_WITHOUT],
           median[KIND_WITH], p90[KIND_WITH]);
    return 0;
}
