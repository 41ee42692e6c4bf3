/* `gantry check`, the gemm family: C = alpha op(A) op(B) + beta C in all
 * four transpose combinations over a cube of small odd sizes and the
 * GAN's own products, with several alpha and beta; beta = 0 runs over a C
 * full of NaN, which must not be read. */
#include <math.h>
#include <stdio.h>

#include "gantry/ops.h"
#include "tools/check/rows.h"

static void fill_value(float *v, size_t n, float value)
{
    if (v)
        for (size_t i = 0; i < n; i++)
            v[i] = value;
}

static gantry_status run_gemm(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_gemm(c->i[0], c->i[1], c->f[0], t[0], t[1], c->f[1], t[2]);
}

typedef struct mnk {
    size_t m, n, k;
} mnk;

/* The GAN's own products among them: 64 x 784 x 512 (D's first layer),
 * 64 x 1024 x 784 (G's last), and batch 512. */
static const mnk gemm_large_full[] = {
    { 512, 33, 257 }, { 129, 257, 65 }, { 257, 127, 129 }, { 512, 1, 129 },  { 1, 512, 257 },
    { 64, 512, 784 }, { 64, 784, 1024 }, { 512, 257, 31 }, { 127, 129, 255 },
};
static const mnk gemm_large_quick[] = { { 129, 65, 257 }, { 512, 31, 13 } };

static void gemm_case(check_suite *s, check_row *r, size_t index, int ta, int tb, mnk d)
{
    /* alpha, beta; beta == 0 runs over a C full of NaN, which must not be read. */
    static const float variants[][2] = { { 1.0f, 0.0f }, { 1.0f, 1.0f }, { 0.75f, -0.5f }, { -1.25f, 0.0f },
                                          { 2.0f, 0.5f }, { 0.0f, 1.5f } };
    const float *v = variants[index % CHECK_ARRAY_LEN(variants)];
    check_case c;
    check_case_init(&c, check_case_seed(r->name, index), run_gemm);
    float *a = ta ? check_case_arg(&c, "A", CHECK_IN, 2, d.k, d.m, 0, 0)
                  : check_case_arg(&c, "A", CHECK_IN, 2, d.m, d.k, 0, 0);
    check_fill_uniform(&c, a, d.m * d.k, -1.0f, 1.0f);
    float *b = tb ? check_case_arg(&c, "B", CHECK_IN, 2, d.n, d.k, 0, 0)
                  : check_case_arg(&c, "B", CHECK_IN, 2, d.k, d.n, 0, 0);
    check_fill_uniform(&c, b, d.k * d.n, -1.0f, 1.0f);
    float *cm = check_case_arg(&c, "C", CHECK_OUT, 2, d.m, d.n, 0, 0);
    if (v[1] == 0.0f)
        fill_value(cm, d.m * d.n, NAN);
    else
        check_fill_uniform(&c, cm, d.m * d.n, -1.0f, 1.0f);
    c.i[0] = ta;
    c.i[1] = tb;
    c.f[0] = v[0];
    c.f[1] = v[1];
    snprintf(c.desc, sizeof c.desc, "%c%c m=%zu n=%zu k=%zu alpha=%g beta=%g%s", ta ? 'T' : 'N', tb ? 'T' : 'N', d.m,
             d.n, d.k, (double)v[0], (double)v[1], v[1] == 0.0f ? " (C NaN)" : "");
    check_case_run(s, r, &c);
}

static void check_gemm(check_suite *s, check_row *r, const check_spec *spec)
{
    (void)spec;
    static const size_t dims_full[] = { 1, 7, 13, 33, 65 }, dims_quick[] = { 1, 7, 33 };
    const size_t *dims = s->quick ? dims_quick : dims_full;
    size_t nd = s->quick ? CHECK_ARRAY_LEN(dims_quick) : CHECK_ARRAY_LEN(dims_full);
    const mnk *large = s->quick ? gemm_large_quick : gemm_large_full;
    size_t nl = s->quick ? CHECK_ARRAY_LEN(gemm_large_quick) : CHECK_ARRAY_LEN(gemm_large_full);
    size_t index = 0;
    for (int t = 0; t < 4; t++) {
        int ta = t >> 1, tb = t & 1;
        for (size_t i = 0; i < nd; i++)
            for (size_t j = 0; j < nd; j++)
                for (size_t k = 0; k < nd; k++)
                    gemm_case(s, r, index++, ta, tb, (mnk){ dims[i], dims[j], dims[k] });
        for (size_t i = 0; i < nl; i++)
            gemm_case(s, r, index++, ta, tb, large[i]);
    }
}

static const check_spec table[] = {
    { .name = "gemm", .op = CHECK_OP_gemm, .metric = "nmse", .limit = 1e-9,
      .why = "dot products of up to 1024 terms in another order (blocks, vector lanes, float partial sums): "
             "relative error ~sqrt(k) ulp, NMSE ~1e-13; one wrong element of 512 x 257 already gives ~1e-5",
      .run = check_gemm },
};

const check_family check_family_gemm = CHECK_FAMILY(gemm, table);
