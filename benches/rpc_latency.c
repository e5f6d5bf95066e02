/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rpc_latency: what a node power setter costs over libvirt's RPC, beside
 * the cheapest round trip on the same connection.
 *
 *   rpc_latency [-r ROUNDS] [-n CALLS] [-g GOV_A,GOV_B] URI SYSFS_ROOT
 *
 * On one connection to URI it times, call by call with CLOCK_MONOTONIC,
 *
 *   - virConnectGetLibVersion: the floor (one round trip, no driver work);
 *   - virNodeSetGovernor(conn, "0", g, 0);
 *   - virNodeSetGovernor(conn, "all", g, 0);
 *
 * in ROUNDS rounds of CALLS calls of each kind, the order of the three
 * kinds changing from round to round (all six orders in turn), so that a
 * slow phase of the machine hits every kind alike. Each setter call writes
 * the other governor of the pair than the CPUs show, so every call really
 * changes something. It prints the median and 90th percentile of each kind
 * and the ratio of each setter's median to the floor's median.
 *
 * At the end it reads SYSFS_ROOT/devices/system/cpu/cpuN/cpufreq/
 * scaling_governor for every online CPU (SYSFS_ROOT is the tree the daemon
 * writes, e.g. a simulated host) and fails unless each shows the governor
 * written last, so failing or ignored calls cannot pass for fast ones.
 *
 * Exits 0 on success, 1 on any libvirt error or failed check, 2 on bad
 * usage.
 */

#define _POSIX_C_SOURCE 200809L

static const char *prog = "rpc_latency";

#include "bench_common.h"

enum { KIND_FLOOR, KIND_ONE, KIND_ALL, NKINDS };

/* Calls of each kind before measuring: the first setter call journals the
 * original values, and the first calls fault in code and buffers. */
#define WARMUP_CALLS 20


/* The error libvirt recorded for the last failed call in this thread. */
static void die_virt(const char *what)
{
    die("%s failed: %s", what, virGetLastErrorMessage());
}


static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-r ROUNDS] [-n CALLS] [-g GOV_A,GOV_B] URI SYSFS_ROOT\n"
            "  -r ROUNDS  rounds (default 18: each of the six orders thrice)\n"
            "  -n CALLS   calls of each kind per round, even (default 200)\n"
            "  -g A,B     the two governors to alternate (default performance,powersave)\n",
            prog);
    exit(2);
}


/* Trailing whitespace off. */
static void chomp(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
}

/* The first line of a file, or die. */
static void read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");

    if (!f)
        die("%s: %s", path, strerror(errno));
    if (!fgets(buf, (int)size, f))
        die("%s: empty or unreadable", path);
    fclose(f);
    chomp(buf);
}

/* Counts the online CPUs of SYSFS_ROOT and checks that each shows
 * `governor`; returns the count, dies on a mismatch. */
static int check_sysfs(const char *root, const char *governor)
{
    char path[4096];
    char online[4096];
    char shown[256];
    char *p;
    int count = 0;

    snprintf(path, sizeof(path), "%s/devices/system/cpu/online", root);
    read_line(path, online, sizeof(online));

    /* "0-63" or "0-3,8,10-11" */
    p = online;
    while (*p) {
        char *end;
        long lo, hi;

        lo = strtol(p, &end, 10);
        if (end == p)
            die("%s: cannot parse '%s'", path, online);
        hi = lo;
        p = end;
        if (*p == '-') {
            p++;
            hi = strtol(p, &end, 10);
            if (end == p || hi < lo)
                die("%s: cannot parse '%s'", path, online);
            p = end;
        }
        if (*p == ',')
            p++;
        else if (*p != '\0')
            die("%s: cannot parse '%s'", path, online);

        for (long cpu = lo; cpu <= hi; cpu++) {
            char gpath[4096];

            snprintf(gpath, sizeof(gpath),
                     "%s/devices/system/cpu/cpu%ld/cpufreq/scaling_governor",
                     root, cpu);
            read_line(gpath, shown, sizeof(shown));
            if (strcmp(shown, governor) != 0)
                die("check: %s shows '%s', but the last call set '%s'",
                    gpath, shown, governor);
            count++;
        }
    }
    return count;
}

/* The number of CPUs the daemon sees (virNodeGetFrequency "all"). */
static unsigned int daemon_cpu_count(virConnectPtr conn)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int count = 0;

    if (virNodeGetFrequency(conn, "all", &params, &nparams, 0) < 0)
        die_virt("virNodeGetFrequency(\"all\")");
    if (virTypedParamsGetUInt(params, nparams, "cpu.count", &count) != 1)
        die("virNodeGetFrequency(\"all\") returned no cpu.count");
    virTypedParamsFree(params, nparams);
    return count;
}

struct bench {
    virConnectPtr conn;
    const char *gov[2];
    /* Index into gov[] of what every CPU shows between blocks. */
    int cur;
};

/* `calls` calls of one kind; each duration goes to out[] if out is set.
 * Between blocks every CPU shows gov[cur]: a block of "0" calls (an even
 * number) flips CPU 0 away and back; each "all" call flips all CPUs. */
static void run_block(struct bench *b, int kind, long calls, int64_t *out)
{
    for (long i = 0; i < calls; i++) {
        int64_t t0, t1;
        int rc;
        const char *g;

        switch (kind) {
        case KIND_FLOOR: {
            unsigned long ver;

            t0 = now_ns();
            rc = virConnectGetLibVersion(b->conn, &ver);
            t1 = now_ns();
            if (rc < 0)
                die_virt("virConnectGetLibVersion");
            break;
        }
        case KIND_ONE:
            /* i even: away from gov[cur]; i odd: back to it. */
            g = b->gov[(i % 2 == 0) ? 1 - b->cur : b->cur];
            t0 = now_ns();
            rc = virNodeSetGovernor(b->conn, "0", g, 0);
            t1 = now_ns();
            if (rc < 0)
                die_virt("virNodeSetGovernor(\"0\")");
            break;
        case KIND_ALL:
            g = b->gov[1 - b->cur];
            t0 = now_ns();
            rc = virNodeSetGovernor(b->conn, "all", g, 0);
            t1 = now_ns();
            if (rc < 0)
                die_virt("virNodeSetGovernor(\"all\")");
            b->cur = 1 - b->cur;
            break;
        default:
            abort();
        }
        if (out)
            out[i] = t1 - t0;
    }
}

int main(int argc, char **argv)
{
    static const int orders[6][NKINDS] = {
        { KIND_FLOOR, KIND_ONE, KIND_ALL }, { KIND_ALL, KIND_ONE, KIND_FLOOR },
        { KIND_ONE, KIND_ALL, KIND_FLOOR }, { KIND_FLOOR, KIND_ALL, KIND_ONE },
        { KIND_ALL, KIND_FLOOR, KIND_ONE }, { KIND_ONE, KIND_FLOOR, KIND_ALL },
    };
    long rounds = 18, calls = 200;
    char govbuf[256] = "performance,powersave";
    const char *uri, *sysfs;
    struct bench b;
    int64_t *samples[NKINDS];
    double median[NKINDS], p90[NKINDS];
    unsigned int ncpus;
    size_t total;
    int argi = 1;
    char *comma;
    unsigned long libver;

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
        if (strcmp(opt, "-r") == 0) {
            rounds = parse_count(argv[argi + 1], "round count", 1);
        } else if (strcmp(opt, "-n") == 0) {
            calls = parse_count(argv[argi + 1], "call count", 1);
            if (calls % 2 != 0) {
                fprintf(stderr, "%s: -n must be even\n", prog);
                usage();
            }
        } else if (strcmp(opt, "-g") == 0) {
            if (strlen(argv[argi + 1]) >= sizeof(govbuf))
                usage();
            strcpy(govbuf, argv[argi + 1]);
        } else {
            usage();
        }
        argi += 2;
    }
    if (argc - argi != 2)
        usage();
    uri = argv[argi];
    sysfs = argv[argi + 1];

    comma = strchr(govbuf, ',');
    if (!comma || comma == govbuf || comma[1] == '\0' || strchr(comma + 1, ','))
        usage();
    *comma = '\0';
    b.gov[0] = govbuf;
    b.gov[1] = comma + 1;
    if (strcmp(b.gov[0], b.gov[1]) == 0)
        die("the two governors must differ");

    virSetErrorFunc(NULL, quiet_errors);

    b.conn = virConnectOpen(uri);
    if (!b.conn)
        die_virt("virConnectOpen");

    ncpus = daemon_cpu_count(b.conn);

    /* Start from a known state: every CPU on gov[0]. */
    if (virNodeSetGovernor(b.conn, "all", b.gov[0], 0) < 0)
        die_virt("virNodeSetGovernor(\"all\")");
    b.cur = 0;

    for (int k = 0; k < NKINDS; k++)
        run_block(&b, k, WARMUP_CALLS, NULL);

    total = (size_t)rounds * (size_t)calls;
    for (int k = 0; k < NKINDS; k++) {
        samples[k] = malloc(total * sizeof(*samples[k]));
        if (!samples[k])
            die("out of memory");
    }

    for (long r = 0; r < rounds; r++) {
        for (int j = 0; j < NKINDS; j++) {
            int k = orders[r % 6][j];

            run_block(&b, k, calls, samples[k] + (size_t)r * (size_t)calls);
        }
    }

    /* On disk every online CPU must show the last governor, and there
     * must be as many as the daemon reports. */
    {
        unsigned int checked = (unsigned int)check_sysfs(sysfs, b.gov[b.cur]);

        if (checked != ncpus)
            die("check: %u online CPUs in %s, the daemon reports %u",
                checked, sysfs, ncpus);
    }

    if (virConnectGetLibVersion(b.conn, &libver) < 0)
        die_virt("virConnectGetLibVersion");
    if (virConnectClose(b.conn) != 0)
        die("virConnectClose: connection still referenced");

    for (int k = 0; k < NKINDS; k++) {
        qsort(samples[k], total, sizeof(*samples[k]), cmp_i64);
        median[k] = quantile_us(samples[k], total, 0.5);
        p90[k] = quantile_us(samples[k], total, 0.9);
        free(samples[k]);
    }

    printf("rpc latency: libvirt %lu.%lu.%lu, %u CPUs, %ld rounds x %ld calls each, "
           "governors %s/%s\n",
           libver / 1000000, libver / 1000 % 1000, libver % 1000, ncpus,
           rounds, calls, b.gov[0], b.gov[1]);
    printf("  %-36s median %8.1f us  p90 %8.1f us\n",
           "rpc floor virConnectGetLibVersion",
           median[KIND_FLOOR], p90[KIND_FLOOR]);
    printf("  %-36s median %8.1f us  p90 %8.1f us  ratio %6.2f\n",
           "virNodeSetGovernor 1 CPU",
           median[KIND_ONE], p90[KIND_ONE], median[KIND_ONE] / median[KIND_FLOOR]);
    {
        char label[64];

        snprintf(label, sizeof(label), "virNodeSetGovernor all %u CPUs", ncpus);
        printf("  %-36s median %8.1f us  p90 %8.1f us  ratio %6.2f\n",
               label, median[KIND_ALL], p90[KIND_ALL],
               median[KIND_ALL] / median[KIND_FLOOR]);
    }
    printf("  check: all %u CPUs show '%s' in the sysfs tree\n", ncpus, b.gov[b.cur]);
    return 0;
}
