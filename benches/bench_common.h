/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the latency benchmarks (rpc_latency.c, stats_latency.c) share:
 * fatal errors, quiet libvirt errors, argument counts, the monotonic
 * clock and nearest-rank quantiles. Include after defining
 * `static const char *prog`; the including file defines usage().
 */

#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void usage(void);

static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* libvirt's default handler prints every error to stderr; the benchmark
 * reports the one that matters instead. */
static void quiet_errors(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* A whole number from min to 1000000, else usage. */
static long parse_count(const char *s, const char *what, long min)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
        usage();
    }
    return v;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime: %s", strerror(errno));
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted samples, nearest rank, in microseconds. */
static double quantile_us(const int64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999);

    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)sorted[rank - 1] / 1000.0;
}

#endif /* BENCH_COMMON_H */
