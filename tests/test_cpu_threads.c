/* The cpu backend's matrix products give the same bits at any thread count,
 * on each GEMM path (GANTRY_CPU_GEMM=avx512 and =avx2 where the CPU has
 * them, =portable, and =openblas where built in), and the AVX-512 kernels
 * the same bits as the AVX2 ones: the products of the gan and dcgan
 * training steps at batch 64, in all four transpose combinations, with
 * alpha 1, beta 0 and alpha 0.7, beta 0.3, plus ragged, one-row and
 * one-column shapes, each at 1, 2, 3 and 4 threads against 1 thread.
 * Every result is also checked against a double-precision product, so a path
 * that computed something else would fail too.
 *
 * Run as it is and with GANTRY_PLUGIN_PATH at the solo/ build of the cpu
 * backend (which drops to one thread for every other few products, as under
 * load): both must hold. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"

typedef struct shape {
    size_t m, n, k;
} shape;

/* The gan model's Linear layers at 64 and 128 rows (forward, dW, dx), the
 * dcgan's convolutions as products (weights x columns, and the transposed
 * ones), and edges: ragged tiles, one row, one column, K of 1. */
static const shape shapes[] = {
    { 64, 256, 100 },  { 64, 512, 256 },   { 64, 1024, 512 },  { 64, 784, 1024 }, { 128, 1024, 784 },
    { 128, 512, 1024 }, { 128, 256, 512 },  { 128, 1, 256 },    { 256, 100, 64 },  { 1024, 512, 128 },
    { 784, 1024, 64 }, { 64, 12544, 16 },  { 128, 3136, 1024 }, { 1024, 3136, 128 }, { 16, 64, 12544 },
    { 7, 33, 5 },      { 200, 300, 1000 }, { 1, 256, 128 },    { 513, 1, 77 },    { 3, 2049, 33 },
    { 97, 131, 1 },
    /* the edges of 12 x 32 (AVX-512) and 6 x 16 tiles, and of K blocks */
    { 13, 33, 9 },     { 12, 32, 256 },    { 11, 31, 257 },    { 25, 65, 513 },   { 4, 100, 50 },
    { 5, 17, 8 },      { 64, 16, 12544 },  { 6, 48, 700 },
};

static uint64_t stream;

static float *random_values(size_t n)
{
    float *v = malloc(n * sizeof *v);
    REQUIRE(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = gantry_philox_uniform(7, stream, i, -1.0f, 1.0f);
    stream += gantry_philox_uniform_blocks(n);
    return v;
}

/* C = op(A) op(B) + beta C on `be`, read back into `out`. */
static void product(gantry_backend *be, const shape *s, int ta, int tb, float alpha, float beta, const float *a,
                    const float *b, const float *c0, float *out)
{
    gantry_tensor *ta_t, *tb_t, *tc;
    REQUIRE(gantry_tensor_new(be, &ta_t, ta ? s->k : s->m, ta ? s->m : s->k, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &tb_t, tb ? s->n : s->k, tb ? s->k : s->n, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &tc, s->m, s->n, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(ta_t, a, s->m * s->k) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(tb_t, b, s->k * s->n) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(tc, c0, s->m * s->n) == GANTRY_OK);
    CHECK_OK(gantry_op_gemm(ta, tb, alpha, ta_t, tb_t, beta, tc));
    REQUIRE(gantry_tensor_read(tc, out, s->m * s->n) == GANTRY_OK);
    gantry_tensor_destroy(ta_t);
    gantry_tensor_destroy(tb_t);
    gantry_tensor_destroy(tc);
}

/* The largest error of `got` against the double product, relative to the
 * sum of |a b| of each element (float accumulation over k terms). */
static double worst_error(const shape *s, int ta, int tb, float alpha, float beta, const float *a, const float *b,
                          const float *c0, const float *got)
{
    double worst = 0.0;
    for (size_t i = 0; i < s->m; i++)
        for (size_t j = 0; j < s->n; j++) {
            double sum = 0.0, mag = fabs(beta * c0[i * s->n + j]);
            for (size_t p = 0; p < s->k; p++) {
                double x = a[ta ? p * s->m + i : i * s->k + p], y = b[tb ? j * s->k + p : p * s->n + j];
                sum += (double)alpha * x * y;
                mag += fabs((double)alpha * x * y);
            }
            sum += (double)beta * c0[i * s->n + j];
            double e = fabs(got[i * s->n + j] - sum) / (mag > 0.0 ? mag : 1.0);
            if (e > worst)
                worst = e;
        }
    return worst;
}

static gantry_backend *open_cpu(int threads)
{
    gantry_backend_config cfg = { .num_threads = threads };
    gantry_backend *be = NULL;
    REQUIRE(gantry_backend_open("cpu", &cfg, &be) == GANTRY_OK);
    return be;
}

/* Every product on GANTRY_CPU_GEMM=path at 1 to 4 threads, and, when
 * `twin` is open, on it too: all must give the same bits. */
static void check_path(const char *path, gantry_backend *twin)
{
    enum { THREADS = 4 };
    gantry_backend *be[THREADS];
    setenv("GANTRY_CPU_GEMM", path, 1);
    for (int t = 0; t < THREADS; t++)
        be[t] = open_cpu(t + 1);
    size_t differing = 0, products = 0, twin_differing = 0;
    double worst = 0.0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape *s = &shapes[si];
        float *a = random_values(s->m * s->k), *b = random_values(s->k * s->n), *c0 = random_values(s->m * s->n);
        float *one = malloc(s->m * s->n * sizeof *one), *other = malloc(s->m * s->n * sizeof *other);
        REQUIRE(one && other);
        for (int trans = 0; trans < 4; trans++)
            for (int bi = 0; bi < 2; bi++) {
                int ta = trans & 1, tb = trans >> 1;
                /* factors that round: a kernel that applied them otherwise
                 * (a fused multiply-add, say) would give other bits */
                float alpha = bi ? 0.7f : 1.0f, beta = bi ? 0.3f : 0.0f;
                product(be[0], s, ta, tb, alpha, beta, a, b, c0, one);
                products++;
                /* the error check costs as much as the product in double:
                 * once per shape and transposition */
                if (bi == 1) {
                    double e = worst_error(s, ta, tb, alpha, beta, a, b, c0, one);
                    worst = e > worst ? e : worst;
                    if (e > 1e-5) {
                        fprintf(stderr, "%s: %zux%zux%zu ta=%d tb=%d: relative error %.3g\n", path, s->m, s->n,
                                s->k, ta, tb, e);
                        CHECK(e <= 1e-5);
                    }
                }
                for (int t = 1; t < THREADS; t++) {
                    product(be[t], s, ta, tb, alpha, beta, a, b, c0, other);
                    int same = memcmp(one, other, s->m * s->n * sizeof *one) == 0;
                    if (!same) {
                        differing++;
                        fprintf(stderr, "%s: %zux%zux%zu ta=%d tb=%d beta=%g: %d threads differ from 1\n", path,
                                s->m, s->n, s->k, ta, tb, (double)beta, t + 1);
                    }
                    CHECK(same);
                }
                if (twin) {
                    product(twin, s, ta, tb, alpha, beta, a, b, c0, other);
                    int same = memcmp(one, other, s->m * s->n * sizeof *one) == 0;
                    if (!same) {
                        twin_differing++;
                        fprintf(stderr, "%s: %zux%zux%zu ta=%d tb=%d beta=%g: differs from avx2\n", path, s->m,
                                s->n, s->k, ta, tb, (double)beta);
                    }
                    CHECK(same);
                }
            }
        free(a);
        free(b);
        free(c0);
        free(one);
        free(other);
    }
    printf("GANTRY_CPU_GEMM=%s: %zu products, each at 2, 3 and 4 threads: %zu differ from 1 thread; "
           "worst relative error %.2g",
           path, products, differing, worst);
    if (twin)
        printf("; %zu differ from the AVX2 kernels", twin_differing);
    printf("\n");
    for (int t = 0; t < THREADS; t++)
        gantry_backend_close(be[t]);
}

/* A 1-thread backend on GANTRY_CPU_GEMM=path, or NULL (said why) where
 * this CPU or build has no such path: then the error must name it. */
static gantry_backend *open_path(const char *path, const char *missing)
{
    setenv("GANTRY_CPU_GEMM", path, 1);
    gantry_backend *be = NULL;
    gantry_backend_config cfg = { .num_threads = 1 };
    gantry_status s = gantry_backend_open("cpu", &cfg, &be);
    if (s == GANTRY_OK)
        return be;
    CHECK_STATUS(s, GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS(missing);
    printf("GANTRY_CPU_GEMM=%s: not on this machine (%s)\n", path, gantry_last_error());
    return NULL;
}

int main(void)
{
    test_require_backend("cpu");
    gantry_backend *avx2 = open_path("avx2", "this CPU has no AVX2/FMA");
    if (avx2) {
        check_path("avx2", NULL);
        gantry_backend *avx512 = open_path("avx512", "this CPU has no AVX-512F");
        if (avx512) {
            gantry_backend_close(avx512);
            check_path("avx512", avx2);
        }
        gantry_backend_close(avx2);
    }
    check_path("portable", NULL);
    gantry_backend *blas = open_path("openblas", "no OpenBLAS");
    if (blas) {
        gantry_backend_close(blas);
        check_path("openblas", NULL);
    }
    gantry_backend *be = NULL;
    gantry_backend_config cfg = { .num_threads = 1 };
    setenv("GANTRY_CPU_GEMM", "blas", 1);
    CHECK_STATUS(gantry_backend_open("cpu", &cfg, &be), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("GANTRY_CPU_GEMM='blas' (expected auto, own, avx512, avx2, portable or openblas)");
    return test_finish("cpu_threads");
}
