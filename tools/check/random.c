/* `gantry check`, the random family: Philox fills (uniform, normal) and
 * dropout masks, exactly as gantry/philox.h lays out the stream. */
#include <math.h>
#include <stdio.h>

#include "gantry/ops.h"
#include "tools/check/grid.h"
#include "tools/check/rows.h"

/* Keys and counters with high words set, and offsets that cross 2^32. */
static const uint64_t seeds[] = { 0, 1, 0xDEADBEEFCAFEF00Dull, 20140610 };
static const uint64_t offsets[] = { 0, 5, 0xFFFFFFFEull, 1ull << 40 };

/* The fill's own Philox key and offset, in turn. */
static void philox_key(check_case *c, const check_point *p)
{
    c->u[0] = seeds[(p->index + p->at) % CHECK_ARRAY_LEN(seeds)];
    c->u[1] = offsets[p->index % CHECK_ARRAY_LEN(offsets)];
}

static gantry_status run_rand(gantry_tensor *const *t, const check_case *c)
{
    if (c->i[0])
        return gantry_op_rand_normal(t[0], c->u[0], c->u[1], c->f[0], c->f[1]);
    return gantry_op_rand_uniform(t[0], c->u[0], c->u[1], c->f[0], c->f[1]);
}

static int rand_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float params[][2] = { { 0.0f, 1.0f }, { -1.0f, 1.0f }, { -0.5f, 3.0f }, { 2.0f, 2.0f } };
    int normal = spec->op == CHECK_OP_rand_normal;
    size_t n = check_size_at(s, p->at);
    c->run = run_rand;
    check_uniform_arg(c, "x", CHECK_OUT, n, -1.0f, 1.0f);
    c->i[0] = normal;
    philox_key(c, p);
    const float *v = params[(p->index / 2) % CHECK_ARRAY_LEN(params)];
    /* normal: (mean, std) = (v0, |v1 - v0|) */
    c->f[0] = v[0];
    c->f[1] = normal ? fabsf(v[1] - v[0]) : v[1];
    snprintf(c->desc, sizeof c->desc, "n=%zu seed=%llu offset=%llu %s=%g %s=%g", n, (unsigned long long)c->u[0],
             (unsigned long long)c->u[1], normal ? "mean" : "lo", (double)c->f[0], normal ? "std" : "hi",
             (double)c->f[1]);
    return 1;
}

static gantry_status run_dropout(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_dropout_mask(t[0], c->f[0], c->u[0], c->u[1]);
}

static const size_t dropout_sizes_full[] = { 1, 2, 7, 13, 33, 129, 257, 4099, 65537, 100003 };
static const size_t dropout_sizes_quick[] = { 1, 13, 257, 4099 };
static const float dropout_ps[] = { 0.0f, 0.3f, 0.5f, 0.9f };

static size_t dropout_points(const check_suite *s)
{
    return s->quick ? CHECK_ARRAY_LEN(dropout_sizes_quick) : CHECK_ARRAY_LEN(dropout_sizes_full);
}

/* a variant per p of dropout_ps */
static int dropout_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)spec;
    size_t n = s->quick ? dropout_sizes_quick[p->at] : dropout_sizes_full[p->at];
    c->run = run_dropout;
    check_uniform_arg(c, "mask", CHECK_OUT, n, -1.0f, 1.0f);
    c->f[0] = dropout_ps[p->variant];
    philox_key(c, p);
    snprintf(c->desc, sizeof c->desc, "n=%zu p=%g seed=%llu offset=%llu", n, (double)c->f[0],
             (unsigned long long)c->u[0], (unsigned long long)c->u[1]);
    return 1;
}

static const check_spec table[] = {
    { .name = "rand_uniform", .op = CHECK_OP_rand_uniform, .metric = "nmse", .limit = 0,
      .why = "integer Philox, then one float multiply and one add, specified without contraction "
             "(gantry/philox.h)",
      CHECK_SIZES(4), .build = rand_case },
    { .name = "rand_normal", .op = CHECK_OP_rand_normal, .metric = "nmse", .limit = 1e-12,
      .why = "Box-Muller through libm log, sqrt and cos, which are not correctly rounded: a few ulp per element, "
             "NMSE ~1e-14; any formula error is >= 1e-6",
      CHECK_SIZES(4), .build = rand_case },
    { .name = "dropout_mask", .op = CHECK_OP_dropout_mask, .metric = "nmse", .limit = 1e-12,
      .why = "which elements are kept is exact (integer Philox, an exact uniform, one comparison); 1 / (1 - p) "
             "computed in float is two roundings, 1 ulp; one misplaced zero gives >= 1 / n >= 1e-5",
      .points = dropout_points, .variants = (int)CHECK_ARRAY_LEN(dropout_ps), .build = dropout_case },
};

const check_family check_family_random = CHECK_FAMILY(random, table);
