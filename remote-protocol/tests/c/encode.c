// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Encodes a fixed set of values with the XDR routines rpcgen generates from
 * the pre-processed power_protocol.x (scripts/gen-remote-protocol
 * --preprocess) and prints one line per value:
 *
 *   const <NAME> <value>     a constant of the generated header
 *   case <name> <hex>        the XDR encoding of a value
 *   rejected <name>          a value the XDR routine refused to encode
 *
 * tests/rpcgen.rs builds the same values in Rust, encodes them with the
 * crate and compares.  Keep the two in step: a case here without its twin
 * there (or the other way round) fails the test.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/rpc.h>

#include "power_protocol.h"

#define BUF_SIZE (16u * 1024u * 1024u)

static char *buf;

static void
fail(const char *what)
{
    fprintf(stderr, "encode: %s\n", what);
    exit(2);
}

/* Encodes value with proc; prints the bytes, or "rejected" if proc fails. */
static void
emit(const char *name, xdrproc_t proc, void *value)
{
    XDR xdrs;
    u_int len;
    u_int i;

    xdrmem_create(&xdrs, buf, BUF_SIZE, XDR_ENCODE);
    if (!proc(&xdrs, value, 0)) {
        printf("rejected %s\n", name);
        xdr_destroy(&xdrs);
        return;
    }
    len = xdr_getpos(&xdrs);
    printf("case %s ", name);
    for (i = 0; i < len; i++)
        printf("%02x", (unsigned char)buf[i]);
    printf("\n");
    xdr_destroy(&xdrs);
}

#define EMIT(name, type, value) emit(name, (xdrproc_t)xdr_##type, value)

static remote_typed_param
param(const char *field, int type)
{
    remote_typed_param p;

    memset(&p, 0, sizeof(p));
    p.field = (char *)field;
    p.value.type = type;
    return p;
}

static remote_typed_param
p_int(const char *field, int v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_INT);
    p.value.remote_typed_param_value_u.i = v;
    return p;
}

static remote_typed_param
p_uint(const char *field, u_int v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_UINT);
    p.value.remote_typed_param_value_u.ui = v;
    return p;
}

static remote_typed_param
p_llong(const char *field, int64_t v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_LLONG);
    p.value.remote_typed_param_value_u.l = v;
    return p;
}

static remote_typed_param
p_ullong(const char *field, uint64_t v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_ULLONG);
    p.value.remote_typed_param_value_u.ul = v;
    return p;
}

static remote_typed_param
p_double(const char *field, double v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_DOUBLE);
    p.value.remote_typed_param_value_u.d = v;
    return p;
}

static remote_typed_param
p_boolean(const char *field, int v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_BOOLEAN);
    p.value.remote_typed_param_value_u.b = v;
    return p;
}

static remote_typed_param
p_string(const char *field, const char *v)
{
    remote_typed_param p = param(field, VIR_TYPED_PARAM_STRING);
    p.value.remote_typed_param_value_u.s = (char *)v;
    return p;
}

static char *
xstrdup(const char *s)
{
    char *r = strdup(s);
    if (!r)
        fail("out of memory");
    return r;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *r = calloc(n, size);
    if (!r)
        fail("out of memory");
    return r;
}

/*
 * n parameters "p<i>", the type cycling through all seven:
 * int -(i+1)*1000, uint 4000000000+i, llong -2^40-i, ullong 2^63+i,
 * double i+0.25, boolean i%2, string "value-<i>".
 */
static remote_typed_param *
every_type(u_int n)
{
    remote_typed_param *params = xcalloc(n, sizeof(*params));
    char name[32];
    char value[32];
    u_int i;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "p%u", i);
        char *field = xstrdup(name);
        switch (i % 7) {
        case 0: params[i] = p_int(field, -(int)(i + 1) * 1000); break;
        case 1: params[i] = p_uint(field, 4000000000u + i); break;
        case 2: params[i] = p_llong(field, -((int64_t)1 << 40) - (int64_t)i); break;
        case 3: params[i] = p_ullong(field, ((uint64_t)1 << 63) + i); break;
        case 4: params[i] = p_double(field, i + 0.25); break;
        case 5: params[i] = p_boolean(field, (int)(i % 2)); break;
        default:
            snprintf(value, sizeof(value), "value-%u", i);
            params[i] = p_string(field, xstrdup(value));
            break;
        }
    }
    return params;
}

/* A string of len bytes 'a' + i % 26. */
static char *
long_string(size_t len)
{
    char *s = xcalloc(len + 1, 1);
    size_t i;

    for (i = 0; i < len; i++)
        s[i] = (char)('a' + i % 26);
    return s;
}

static void
constants(void)
{
    printf("const POWER_PROGRAM %lu\n", (unsigned long)POWER_PROGRAM);
    printf("const POWER_PROTOCOL_VERSION %lu\n", (unsigned long)POWER_PROTOCOL_VERSION);
    printf("const POWER_NODE_SET_PARAMS_MAX %lu\n", (unsigned long)POWER_NODE_SET_PARAMS_MAX);
    printf("const POWER_NODE_GET_PARAMS_MAX %lu\n", (unsigned long)POWER_NODE_GET_PARAMS_MAX);
    printf("const REMOTE_STRING_MAX %lu\n", (unsigned long)REMOTE_STRING_MAX);
    printf("const VIR_TYPED_PARAM_INT %d\n", VIR_TYPED_PARAM_INT);
    printf("const VIR_TYPED_PARAM_UINT %d\n", VIR_TYPED_PARAM_UINT);
    printf("const VIR_TYPED_PARAM_LLONG %d\n", VIR_TYPED_PARAM_LLONG);
    printf("const VIR_TYPED_PARAM_ULLONG %d\n", VIR_TYPED_PARAM_ULLONG);
    printf("const VIR_TYPED_PARAM_DOUBLE %d\n", VIR_TYPED_PARAM_DOUBLE);
    printf("const VIR_TYPED_PARAM_BOOLEAN %d\n", VIR_TYPED_PARAM_BOOLEAN);
    printf("const VIR_TYPED_PARAM_STRING %d\n", VIR_TYPED_PARAM_STRING);
    printf("const POWER_PROC_NODE_SET_FREQUENCY %d\n", POWER_PROC_NODE_SET_FREQUENCY);
    printf("const POWER_PROC_NODE_GET_FREQUENCY %d\n", POWER_PROC_NODE_GET_FREQUENCY);
    printf("const POWER_PROC_NODE_SET_GOVERNOR %d\n", POWER_PROC_NODE_SET_GOVERNOR);
    printf("const POWER_PROC_NODE_SET_RAPL_LIMIT %d\n", POWER_PROC_NODE_SET_RAPL_LIMIT);
    printf("const POWER_PROC_NODE_GET_RAPL_LIMIT %d\n", POWER_PROC_NODE_GET_RAPL_LIMIT);
}

static void
set_frequency(void)
{
    power_node_set_frequency_args a;
    char *cpumap;
    remote_typed_param one[1];
    remote_typed_param limits[2];

    memset(&a, 0, sizeof(a));
    cpumap = "0-3,8";
    one[0] = p_ullong("frequency", 2400000);
    a.cpumap = &cpumap;
    a.params.params_len = 1;
    a.params.params_val = one;
    a.flags = 1;
    EMIT("set_frequency_args.frequency", power_node_set_frequency_args, &a);

    limits[0] = p_ullong("min_frequency", 800000);
    limits[1] = p_ullong("max_frequency", 3500000);
    a.cpumap = NULL;
    a.params.params_len = 2;
    a.params.params_val = limits;
    a.flags = 6;
    EMIT("set_frequency_args.limits", power_node_set_frequency_args, &a);

    cpumap = "all";
    a.cpumap = &cpumap;
    a.params.params_len = 0;
    a.params.params_val = NULL;
    a.flags = 8;
    EMIT("set_frequency_args.restore", power_node_set_frequency_args, &a);

    cpumap = "0";
    a.params.params_len = POWER_NODE_SET_PARAMS_MAX;
    a.params.params_val = every_type(POWER_NODE_SET_PARAMS_MAX);
    a.flags = 0xffffffffu;
    EMIT("set_frequency_args.max_params", power_node_set_frequency_args, &a);

    a.params.params_len = POWER_NODE_SET_PARAMS_MAX + 1;
    a.params.params_val = every_type(POWER_NODE_SET_PARAMS_MAX + 1);
    a.flags = 0;
    EMIT("set_frequency_args.too_many_params", power_node_set_frequency_args, &a);
}

static void
get_frequency(void)
{
    power_node_get_frequency_args a;
    power_node_get_frequency_ret r;
    char *cpumap = "all";
    remote_typed_param values[] = {
        p_uint("cpu.count", 1),
        p_uint("cpu.0.id", UINT_MAX),
        p_int("cpu.0.package", -1),
        p_int("cpu.0.policy", INT_MAX),
        p_int("int.min", INT_MIN),
        p_llong("llong.min", INT64_MIN),
        p_llong("llong.max", INT64_MAX),
        p_ullong("cpu.0.cur_frequency", 2400000),
        p_ullong("ullong.max", UINT64_MAX),
        p_double("double.pi", 3.141592653589793),
        p_double("double.negative_zero", -0.0),
        p_double("double.negative_infinity", -INFINITY),
        p_double("double.smallest_subnormal", 4.9406564584124654e-324),
        p_double("double.nan", NAN),
        p_boolean("boolean.true", 1),
        p_boolean("boolean.false", 0),
        p_string("cpu.0.governor", "schedutil"),
        p_string("cpu.0.available_governors", "performance schedutil"),
        p_string("string.empty", ""),
        p_string("string.four", "abcd"),
        p_string("string.utf8", "15 \xc2\xb5W"),
    };
    char name[64];
    u_int i;

    memset(&a, 0, sizeof(a));
    a.cpumap = &cpumap;
    a.flags = 0;
    EMIT("get_frequency_args.all", power_node_get_frequency_args, &a);
    a.cpumap = NULL;
    a.flags = 4;
    EMIT("get_frequency_args.null", power_node_get_frequency_args, &a);

    memset(&r, 0, sizeof(r));
    r.params.params_len = sizeof(values) / sizeof(values[0]);
    r.params.params_val = values;
    EMIT("get_frequency_ret.every_type", power_node_get_frequency_ret, &r);

    r.params.params_len = 0;
    r.params.params_val = NULL;
    EMIT("get_frequency_ret.empty", power_node_get_frequency_ret, &r);

    /* "cpu.<i>.cur_frequency" ullong 1000000+i */
    r.params.params_len = POWER_NODE_GET_PARAMS_MAX + 1;
    r.params.params_val = xcalloc(POWER_NODE_GET_PARAMS_MAX + 1, sizeof(remote_typed_param));
    for (i = 0; i < POWER_NODE_GET_PARAMS_MAX + 1; i++) {
        snprintf(name, sizeof(name), "cpu.%u.cur_frequency", i);
        r.params.params_val[i] = p_ullong(xstrdup(name), 1000000 + (uint64_t)i);
    }
    EMIT("get_frequency_ret.too_many_params", power_node_get_frequency_ret, &r);
    r.params.params_len = POWER_NODE_GET_PARAMS_MAX;
    EMIT("get_frequency_ret.max_params", power_node_get_frequency_ret, &r);
}

static void
set_governor(void)
{
    power_node_set_governor_args a;
    char *cpumap = "3";
    char *governor = "userspace";

    memset(&a, 0, sizeof(a));
    a.cpumap = &cpumap;
    a.governor = &governor;
    a.flags = 2;
    EMIT("set_governor_args.userspace", power_node_set_governor_args, &a);

    a.cpumap = NULL;
    governor = "";
    a.flags = 0;
    EMIT("set_governor_args.empty", power_node_set_governor_args, &a);

    /* NULL governor: VIR_NODE_POWER_RESTORE (8) puts back the recorded one. */
    a.governor = NULL;
    a.flags = 8;
    EMIT("set_governor_args.restore_null", power_node_set_governor_args, &a);

    cpumap = "0-3";
    a.cpumap = &cpumap;
    EMIT("set_governor_args.restore_cpumap_null", power_node_set_governor_args, &a);

    a.cpumap = NULL;
    governor = long_string(REMOTE_STRING_MAX);
    a.governor = &governor;
    a.flags = 0;
    EMIT("set_governor_args.max_string", power_node_set_governor_args, &a);

    governor = long_string(REMOTE_STRING_MAX + 1);
    EMIT("set_governor_args.too_long_string", power_node_set_governor_args, &a);
}

static void
set_rapl_limit(void)
{
    power_node_set_rapl_limit_args a;
    char *constraint = "long_term";
    remote_typed_param limit[] = {
        p_ullong("power_limit", 15000000),
        p_ullong("time_window", 1000000),
        p_boolean("enabled", 1),
    };

    memset(&a, 0, sizeof(a));
    a.zone = "package-0/dram";
    a.constraint = &constraint;
    a.params.params_len = sizeof(limit) / sizeof(limit[0]);
    a.params.params_val = limit;
    a.flags = 4;
    EMIT("set_rapl_limit_args.limit", power_node_set_rapl_limit_args, &a);

    a.zone = "psys";
    a.constraint = NULL;
    a.params.params_len = 0;
    a.params.params_val = NULL;
    a.flags = 8;
    EMIT("set_rapl_limit_args.restore", power_node_set_rapl_limit_args, &a);

    constraint = "short_term";
    a.zone = "mmio:package-0";
    a.constraint = &constraint;
    a.params.params_len = POWER_NODE_SET_PARAMS_MAX;
    a.params.params_val = every_type(POWER_NODE_SET_PARAMS_MAX);
    a.flags = 0;
    EMIT("set_rapl_limit_args.max_params", power_node_set_rapl_limit_args, &a);

    a.params.params_len = POWER_NODE_SET_PARAMS_MAX + 1;
    a.params.params_val = every_type(POWER_NODE_SET_PARAMS_MAX + 1);
    EMIT("set_rapl_limit_args.too_many_params", power_node_set_rapl_limit_args, &a);
}

static void
get_rapl_limit(void)
{
    power_node_get_rapl_limit_args a;
    power_node_get_rapl_limit_ret r;
    char *zone = "mmio:package-0";
    remote_typed_param zones[] = {
        p_uint("zone.count", 1),
        p_string("zone.0.name", "package-0"),
        p_int("zone.0.package", 0),
        p_boolean("zone.0.enabled", 1),
        p_ullong("zone.0.energy", 123456789012ull),
        p_ullong("zone.0.max_energy_range", 262143328850ull),
        p_uint("zone.0.constraint.count", 1),
        p_string("zone.0.constraint.0.name", "long_term"),
        p_ullong("zone.0.constraint.0.power_limit", 15000000),
        p_ullong("zone.0.constraint.0.time_window", 27983872),
    };

    memset(&a, 0, sizeof(a));
    a.zone = &zone;
    a.flags = 0;
    EMIT("get_rapl_limit_args.zone", power_node_get_rapl_limit_args, &a);
    a.zone = NULL;
    a.flags = 1;
    EMIT("get_rapl_limit_args.null", power_node_get_rapl_limit_args, &a);

    memset(&r, 0, sizeof(r));
    r.params.params_len = sizeof(zones) / sizeof(zones[0]);
    r.params.params_val = zones;
    EMIT("get_rapl_limit_ret.zone", power_node_get_rapl_limit_ret, &r);
    r.params.params_len = 0;
    r.params.params_val = NULL;
    EMIT("get_rapl_limit_ret.empty", power_node_get_rapl_limit_ret, &r);
}

static void
procedures(void)
{
    power_procedure procs[] = {
        POWER_PROC_NODE_SET_FREQUENCY,
        POWER_PROC_NODE_GET_FREQUENCY,
        POWER_PROC_NODE_SET_GOVERNOR,
        POWER_PROC_NODE_SET_RAPL_LIMIT,
        POWER_PROC_NODE_GET_RAPL_LIMIT,
    };
    char name[64];
    size_t i;

    for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        snprintf(name, sizeof(name), "power_procedure.%d", (int)procs[i]);
        EMIT(name, power_procedure, &procs[i]);
    }
}

int
main(void)
{
    buf = xcalloc(BUF_SIZE, 1);
    constants();
    set_frequency();
    get_frequency();
    set_governor();
    set_rapl_limit();
    get_rapl_limit();
    procedures();
    if (fflush(stdout) != 0)
        fail("cannot write stdout");
    return 0;
}
