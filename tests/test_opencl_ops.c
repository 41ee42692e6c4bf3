/* A smoke test of the opencl backend's ops against the reference backend:
 * GEMM in all four transpose combinations through both GEMM paths (our
 * kernels and CLBlast), on views at odd offsets, with NaN in C when
 * beta == 0; the per-channel reductions; Adam; Philox fills (uniform bit for
 * bit); the two-stage sums; overlapping copies.  `gantry check --backend
 * opencl` is the full comparison; this one is quick and self-contained.
 *
 * Skipped (exit 77) without an OpenCL platform, except under CI=true. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"

/* LeakSanitizer (CI runs every suite with detect_leaks=1): PoCL and the ICD
 * loader keep a few bytes for the life of the process; ours must not. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpocl.so\nleak:libOpenCL.so\n";
}

static gantry_backend *ref, *ocl;


/* ---- tensors on both backends ------------------------------------------------ */

/* A tensor and its twin, each a view at element offset 3 of a larger base
 * (so kernels see odd offsets), holding the same values. */
typedef struct pair {
    gantry_tensor *base[2], *t[2];
    size_t n;
} pair;

static uint64_t stream;

static pair make(int ndim, size_t d0, size_t d1, size_t d2, size_t d3, float lo, float hi)
{
    pair p;
    memset(&p, 0, sizeof p);
    size_t shape[4] = { d0, d1, d2, d3 };
    p.n = 1;
    for (int i = 0; i < ndim; i++)
        p.n *= shape[i];
    float *v = malloc(p.n * sizeof *v);
    REQUIRE(v != NULL);
    for (size_t i = 0; i < p.n; i++)
        v[i] = gantry_philox_uniform(99, stream, i, lo, hi);
    stream += gantry_philox_uniform_blocks(p.n);
    gantry_backend *bes[2] = { ref, ocl };
    for (int b = 0; b < 2; b++) {
        REQUIRE(gantry_tensor_new(bes[b], &p.base[b], p.n + 8, 0, 0, 0) == GANTRY_OK);
        REQUIRE(gantry_op_fill(p.base[b], 0.0f) == GANTRY_OK);
        REQUIRE(gantry_tensor_view(p.base[b], 3, ndim, shape, &p.t[b]) == GANTRY_OK);
        REQUIRE(gantry_tensor_write(p.t[b], v, p.n) == GANTRY_OK);
    }
    free(v);
    return p;
}

static void drop(pair *p)
{
    for (int b = 0; b < 2; b++) {
        gantry_tensor_destroy(p->t[b]);
        gantry_tensor_destroy(p->base[b]);
    }
}

/* max |opencl - reference| / max(1, max |reference|) over the pair, and the
 * guard elements around the views must still be 0. */
static double rel_diff(const pair *p, int *nan_mismatch)
{
    size_t total = p->n + 8;
    float *a = malloc(total * sizeof *a), *b = malloc(total * sizeof *b);
    REQUIRE(a && b);
    REQUIRE(gantry_tensor_read(p->base[0], a, total) == GANTRY_OK);
    REQUIRE(gantry_tensor_read(p->base[1], b, total) == GANTRY_OK);
    double maxref = 1.0, maxd = 0.0;
    *nan_mismatch = 0;
    for (size_t i = 0; i < total; i++) {
        if (i < 3 || i >= 3 + p->n) {
            if (b[i] != 0.0f)
                *nan_mismatch += 1000; /* an overrun */
            continue;
        }
        if (isnan(a[i]) || isnan(b[i])) {
            *nan_mismatch += isnan(a[i]) != isnan(b[i]);
            continue;
        }
        if (fabs(a[i]) > maxref)
            maxref = fabs(a[i]);
        if (fabs(a[i] - b[i]) > maxd)
            maxd = fabs(a[i] - b[i]);
    }
    free(a);
    free(b);
    return maxd / maxref;
}

#define CHECK_CLOSE(p, tol, what)                                                                       \
    do {                                                                                                \
        int nan_ = 0;                                                                                   \
        double d_ = rel_diff(&(p), &nan_);                                                              \
        test_checks++;                                                                                  \
        if (!(d_ <= (tol)) || nan_) {                                                                   \
            test_failures++;                                                                            \
            fprintf(stderr, "%s:%d: %s: relative difference %.3g (tol %g), %d NaN/guard mismatches\n",   \
                    __FILE__, __LINE__, (what), d_, (double)(tol), nan_);                               \
        }                                                                                               \
    } while (0)

/* ---- the ops ------------------------------------------------------------------ */

static void test_gemm(const char *path)
{
    static const size_t shapes[][3] = { { 64, 100, 128 }, { 7, 33, 17 }, { 1, 1, 5 }, { 130, 20, 64 },
                                        { 64, 1, 256 },   { 65, 47, 9 },   { 64, 512, 96 } };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta_one = 0; beta_one < 2; beta_one++) {
                    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                    pair a = ta ? make(2, k, m, 0, 0, -1, 1) : make(2, m, k, 0, 0, -1, 1);
                    pair b = tb ? make(2, n, k, 0, 0, -1, 1) : make(2, k, n, 0, 0, -1, 1);
                    pair c = make(2, m, n, 0, 0, -1, 1);
                    if (!beta_one) /* beta == 0: C is not read, NaN must not leak */
                        for (int i = 0; i < 2; i++)
                            REQUIRE(gantry_op_fill(c.t[i], NAN) == GANTRY_OK);
                    for (int i = 0; i < 2; i++)
                        CHECK_OK(gantry_op_gemm(ta, tb, 1.5f, a.t[i], b.t[i], beta_one ? 1.0f : 0.0f, c.t[i]));
                    char what[128];
                    snprintf(what, sizeof what, "gemm (%s) %c%c m=%zu n=%zu k=%zu beta=%d", path, ta ? 'T' : 'N',
                             tb ? 'T' : 'N', m, n, k, beta_one);
                    CHECK_CLOSE(c, 1e-5, what);
                    drop(&a);
                    drop(&b);
                    drop(&c);
                }
}

/* 33 channels: the per-channel work-group kernels; 64 (a multiple of every
 * vector width): on CPU devices the vector-per-work-item kernels. */
static void test_batchnorm(size_t outer, size_t ch)
{
    pair x = make(2, outer, ch, 0, 0, -2, 3), y = make(2, outer, ch, 0, 0, 0, 0);
    pair g = make(1, ch, 0, 0, 0, 0.5f, 1.5f), b = make(1, ch, 0, 0, 0, -0.5f, 0.5f);
    pair rm = make(1, ch, 0, 0, 0, 0, 0), rv = make(1, ch, 0, 0, 0, 1, 1);
    pair sm = make(1, ch, 0, 0, 0, 0, 0), si = make(1, ch, 0, 0, 0, 0, 0);
    pair dy = make(2, outer, ch, 0, 0, -1, 1), dx = make(2, outer, ch, 0, 0, 0, 0);
    pair dg = make(1, ch, 0, 0, 0, -1, 1), db = make(1, ch, 0, 0, 0, -1, 1);
    for (int i = 0; i < 2; i++)
        CHECK_OK(gantry_op_batchnorm_forward_train(x.t[i], y.t[i], g.t[i], b.t[i], rm.t[i], rv.t[i], sm.t[i],
                                                   si.t[i], 0.1f, 1e-5f));
    CHECK_CLOSE(si, 1e-6, "batchnorm save_invstd");
    CHECK_CLOSE(sm, 1e-6, "batchnorm save_mean");
    /* The backward pass from the same statistics: with 2 rows dx is a
     * difference of nearly equal terms, and one ulp of invstd shows. */
    float *stats = malloc(2 * ch * sizeof *stats);
    REQUIRE(stats != NULL);
    REQUIRE(gantry_tensor_read(sm.t[0], stats, ch) == GANTRY_OK);
    REQUIRE(gantry_tensor_read(si.t[0], stats + ch, ch) == GANTRY_OK);
    for (int i = 0; i < 2; i++) {
        REQUIRE(gantry_tensor_write(sm.t[i], stats, ch) == GANTRY_OK);
        REQUIRE(gantry_tensor_write(si.t[i], stats + ch, ch) == GANTRY_OK);
        CHECK_OK(gantry_op_batchnorm_backward(x.t[i], dy.t[i], g.t[i], sm.t[i], si.t[i], dx.t[i], dg.t[i], db.t[i],
                                              1));
    }
    free(stats);
    char what[64];
    snprintf(what, sizeof what, "batchnorm [%zu, %zu]", outer, ch);
    fprintf(stderr, "%s\n", what);
    CHECK_CLOSE(y, 1e-6, "batchnorm y");
    CHECK_CLOSE(rm, 1e-6, "batchnorm running_mean");
    CHECK_CLOSE(rv, 1e-6, "batchnorm running_var");
    CHECK_CLOSE(dx, 1e-6, "batchnorm dx");
    CHECK_CLOSE(dg, 1e-6, "batchnorm dgamma");
    CHECK_CLOSE(db, 1e-6, "batchnorm dbeta");
    pair bg = make(1, ch, 0, 0, 0, -1, 1);
    for (int i = 0; i < 2; i++)
        CHECK_OK(gantry_op_bias_grad(dy.t[i], bg.t[i], 1));
    CHECK_CLOSE(bg, 1e-6, "bias_grad");
    pair *all[] = { &x, &y, &g, &b, &rm, &rv, &sm, &si, &dy, &dx, &dg, &db, &bg };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        drop(all[i]);
}

static void test_elementwise_and_optim(void)
{
    const size_t n = 1021;
    pair p = make(1, n, 0, 0, 0, -1, 1), g = make(1, n, 0, 0, 0, -0.01f, 0.01f);
    pair m = make(1, n, 0, 0, 0, 0, 0), v = make(1, n, 0, 0, 0, 0, 0), y = make(1, n, 0, 0, 0, 0, 0);
    for (int i = 0; i < 2; i++) {
        for (uint64_t step = 1; step <= 3; step++)
            CHECK_OK(gantry_op_adam_update(p.t[i], g.t[i], m.t[i], v.t[i], 2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f, step));
        CHECK_OK(gantry_op_add(p.t[i], g.t[i], y.t[i]));
        CHECK_OK(gantry_op_axpy(-0.5f, p.t[i], y.t[i]));
        CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_TANH, 0.0f, y.t[i], y.t[i]));
        CHECK_OK(gantry_op_clamp(y.t[i], -0.25f, 0.25f));
    }
    CHECK_CLOSE(p, 1e-6, "adam p");
    CHECK_CLOSE(m, 1e-6, "adam m");
    CHECK_CLOSE(v, 1e-6, "adam v");
    CHECK_CLOSE(y, 1e-6, "add, axpy, tanh, clamp");
    drop(&p);
    drop(&g);
    drop(&m);
    drop(&v);
    drop(&y);
}

static void test_random_and_sums(void)
{
    const size_t n = 100003;
    pair u = make(1, n, 0, 0, 0, 0, 0), z = make(1, n, 0, 0, 0, 0, 0), out = make(1, 4, 0, 0, 0, 0, 0);
    for (int i = 0; i < 2; i++) {
        CHECK_OK(gantry_op_rand_uniform(u.t[i], 0x1234567890abcdefull, (1ull << 32) - 3, -2.0f, 3.0f));
        CHECK_OK(gantry_op_rand_normal(z.t[i], 42, 7, 0.5f, 2.0f));
    }
    int nan = 0;
    CHECK(rel_diff(&u, &nan) == 0.0); /* bit for bit */
    CHECK(nan == 0);
    CHECK_CLOSE(z, 1e-5, "rand_normal");
    float sums[2][3];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(gantry_op_sum(u.t[i], out.t[i]));
        CHECK_OK(gantry_tensor_item(out.t[i], &sums[i][0]));
        CHECK_OK(gantry_op_mean(z.t[i], out.t[i]));
        CHECK_OK(gantry_tensor_item(out.t[i], &sums[i][1]));
        CHECK_OK(gantry_op_bce_logits_forward(z.t[i], 0.25f, out.t[i]));
        CHECK_OK(gantry_tensor_item(out.t[i], &sums[i][2]));
    }
    CHECK_NEAR(sums[1][0], sums[0][0], 1e-6 * fabs(sums[0][0]) + 1e-3);
    CHECK_NEAR(sums[1][1], sums[0][1], 1e-6);
    CHECK_NEAR(sums[1][2], sums[0][2], 1e-6);
    drop(&u);
    drop(&z);
    drop(&out);
}

/* tensor_copy between overlapping views of one buffer (a memmove). */
static void test_overlapping_copy(void)
{
    pair base = make(1, 1000, 0, 0, 0, -1, 1);
    for (int i = 0; i < 2; i++) {
        size_t shape[1] = { 600 };
        gantry_tensor *lo = NULL, *hi = NULL;
        REQUIRE(gantry_tensor_view(base.t[i], 0, 1, shape, &lo) == GANTRY_OK);
        REQUIRE(gantry_tensor_view(base.t[i], 300, 1, shape, &hi) == GANTRY_OK);
        CHECK_OK(gantry_tensor_copy(hi, lo));
        CHECK_OK(gantry_tensor_copy(lo, hi));
        gantry_tensor_destroy(lo);
        gantry_tensor_destroy(hi);
    }
    CHECK_CLOSE(base, 0.0, "overlapping tensor_copy");
    drop(&base);
}

int main(void)
{
    unsetenv("GANTRY_CL_DIR");
    unsetenv("GANTRY_OPENCL_BINARY");
    test_require_backend("opencl");
    REQUIRE(gantry_backend_open("reference", NULL, &ref) == GANTRY_OK);

    static const char *const paths[] = { "gemm=own", "gemm=clblast" };
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        gantry_backend_config config = { 0, paths[p], NULL };
        REQUIRE(gantry_backend_open("opencl", &config, &ocl) == GANTRY_OK);
        test_gemm(paths[p]);
        if (p == 0) {
            test_batchnorm(64, 33);
            test_batchnorm(64, 64);
            test_batchnorm(2, 64);
            test_elementwise_and_optim();
            test_random_and_sums();
            test_overlapping_copy();
        }
        CHECK_OK(gantry_backend_synchronize(ocl));
        gantry_backend_close(ocl);
    }
    gantry_backend_close(ref);
    return test_finish("opencl_ops");
}
