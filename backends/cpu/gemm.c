/* gantry cpu backend: C = alpha op(A) op(B) + beta C.
 *
 * MEASURED (placeholder, filled in below after benchmarking).
 *
 * The driver splits C into a grid of thread blocks (rows in multiples of
 * CPU_MR, columns in multiples of CPU_NR), chosen to balance micro-tiles per
 * thread against the packing each thread repeats; each thread then runs a
 * Goto/BLIS-style blocked product on its block: NC columns of op(B) at a
 * time, KC deep, packed once into its own buffer, times MC rows of op(A)
 * packed likewise, through the 6 x 16 micro-kernel of gemm_kernels.c.
 * Ragged edge tiles are computed into a local tile and merged.  The packing
 * buffers are allocated once per backend instance (cpu.c): no allocation
 * here. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cpu_impl.h"

#ifdef GANTRY_CPU_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* The path every product takes (see the measurements above). */
#define CPU_GEMM_DEFAULT CPU_GEMM_OWN

/* Below this many multiply-adds a product runs on one thread. */
#define CPU_GEMM_GRAIN ((size_t)1 << 17)

/* op(A)[i][p] and op(B)[p][j] of the stored matrices. */
static const float *op_at(const float *x, size_t ld, int trans, size_t row, size_t col)
{
    return trans ? x + col * ld + row : x + row * ld + col;
}

/* Merges a computed tile (alpha already applied by the kernel with beta 0)
 * into the mr x nr corner of C. */
static void merge_edge(const float *tile, size_t mr, size_t nr, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) {
            float r = tile[i * CPU_NR + j];
            if (beta != 0.0f)
                r = r + beta * c[i * ldc + j];
            c[i * ldc + j] = r;
        }
}

/* C (m x n) = alpha op(A) op(B) + beta C on one thread with its packing
 * buffers; a and b point at op(A)[0][0] and op(B)[0][0]. */
static void gemm_serial(const cpu_ctx *c, float *pack, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    cpu_ukernel_fn kernel = cpu_ukernel_select(c->avx2);
    float *pa = pack, *pb = pack + (size_t)CPU_MC * CPU_KC;
    _Alignas(64) float tile[CPU_MR * CPU_NR];
    for (size_t jc = 0; jc < n; jc += CPU_NC) {
        size_t nc = n - jc < CPU_NC ? n - jc : CPU_NC;
        for (size_t pc = 0; pc < k; pc += CPU_KC) {
            size_t kc = k - pc < CPU_KC ? k - pc : CPU_KC;
            float beta_k = pc == 0 ? beta : 1.0f; /* later K blocks accumulate */
            cpu_pack_b(c->avx2, tb, op_at(b, ldb, tb, pc, jc), ldb, kc, nc, pb);
            for (size_t ic = 0; ic < m; ic += CPU_MC) {
                size_t mc = m - ic < CPU_MC ? m - ic : CPU_MC;
                cpu_pack_a(c->avx2, ta, op_at(a, lda, ta, ic, pc), lda, mc, kc, pa);
                for (size_t jr = 0; jr < nc; jr += CPU_NR) {
                    size_t nr = nc - jr < CPU_NR ? nc - jr : CPU_NR;
                    const float *bp = pb + jr * kc;
                    for (size_t ir = 0; ir < mc; ir += CPU_MR) {
                        size_t mr = mc - ir < CPU_MR ? mc - ir : CPU_MR;
                        const float *ap = pa + ir * kc;
                        float *ct = cm + (ic + ir) * ldc + jc + jr;
                        if (mr == CPU_MR && nr == CPU_NR) {
                            kernel(kc, ap, bp, ct, ldc, alpha, beta_k);
                        } else {
                            kernel(kc, ap, bp, tile, CPU_NR, alpha, 0.0f);
                            merge_edge(tile, mr, nr, beta_k, ct, ldc);
                        }
                    }
                }
            }
        }
    }
}

/* C = beta C (k == 0: the product is empty). */
static void scale_c(size_t m, size_t n, float beta, float *cm, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            cm[i * ldc + j] = beta != 0.0f ? beta * cm[i * ldc + j] : 0.0f;
}

/* The thread grid: tm row blocks x tn column blocks, tm * tn <= threads,
 * minimising the largest per-thread cost (micro-tiles times their
 * multiply-adds, plus packing, a packed float counted as 8 multiply-adds). */
typedef struct gemm_grid {
    size_t tm, tn;
    size_t rows, cols; /* per block, multiples of CPU_MR / CPU_NR */
} gemm_grid;

static gemm_grid choose_grid(size_t m, size_t n, size_t k, size_t threads)
{
    size_t mt = (m + CPU_MR - 1) / CPU_MR, nt = (n + CPU_NR - 1) / CPU_NR;
    gemm_grid best = { 1, 1, mt * CPU_MR, nt * CPU_NR };
    double best_cost = -1.0;
    for (size_t tm = 1; tm <= threads && tm <= mt; tm++) {
        for (size_t tn = 1; tm * tn <= threads && tn <= nt; tn++) {
            size_t rt = (mt + tm - 1) / tm, ct = (nt + tn - 1) / tn; /* tiles per block */
            double cost = (double)rt * ct * CPU_MR * CPU_NR * k + 8.0 * (double)(rt * CPU_MR + ct * CPU_NR) * k;
            if (best_cost < 0.0 || cost < best_cost * 0.999) {
                best_cost = cost;
                best.tm = tm;
                best.tn = tn;
                best.rows = rt * CPU_MR;
                best.cols = ct * CPU_NR;
            }
        }
    }
    return best;
}

static size_t gemm_threads(const cpu_ctx *c, size_t m, size_t n, size_t k)
{
    size_t work = m * n * k / CPU_GEMM_GRAIN;
    if (work < 1)
        work = 1;
    return work < (size_t)c->threads ? work : (size_t)c->threads;
}

void cpu_gemm_own(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    if (k == 0) {
        scale_c(m, n, beta, cm, ldc);
        return;
    }
    size_t threads = gemm_threads(c, m, n, k);
    if (threads == 1) {
        gemm_serial(c, c->pack, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        return;
    }
    gemm_grid g = choose_grid(m, n, k, threads);
    size_t blocks = g.tm * g.tn;
#pragma omp parallel num_threads((int)blocks)
    {
        size_t t = (size_t)omp_get_thread_num(), nth = (size_t)omp_get_num_threads();
        for (size_t blk = t; blk < blocks; blk += nth) {
            size_t i0 = (blk / g.tn) * g.rows, j0 = (blk % g.tn) * g.cols;
            if (i0 >= m || j0 >= n)
                continue;
            size_t mb = m - i0 < g.rows ? m - i0 : g.rows, nb = n - j0 < g.cols ? n - j0 : g.cols;
            gemm_serial(c, c->pack + t * c->pack_stride, trans_a, trans_b, mb, nb, k, alpha,
                        op_at(a, lda, trans_a, i0, 0), lda, op_at(b, ldb, trans_b, 0, j0), ldb, beta,
                        cm + i0 * ldc + j0, ldc);
        }
    }
}

/* ---- OpenBLAS ------------------------------------------------------------- */

#ifdef GANTRY_CPU_HAVE_OPENBLAS
static void sgemm_block(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, cm, (blasint)ldc);
}
#endif

/* The same thread grid, one single-threaded OpenBLAS call per block (no
 * second thread pool competing with OpenMP's).  Returns 0 when OpenBLAS
 * is not built in. */
int cpu_gemm_openblas(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    if (k == 0) {
        scale_c(m, n, beta, cm, ldc);
        return 1;
    }
    size_t threads = gemm_threads(c, m, n, k);
    if (threads == 1) {
        sgemm_block(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        return 1;
    }
    gemm_grid g = choose_grid(m, n, k, threads);
    size_t blocks = g.tm * g.tn;
#pragma omp parallel num_threads((int)blocks)
    {
        size_t t = (size_t)omp_get_thread_num(), nth = (size_t)omp_get_num_threads();
        for (size_t blk = t; blk < blocks; blk += nth) {
            size_t i0 = (blk / g.tn) * g.rows, j0 = (blk % g.tn) * g.cols;
            if (i0 >= m || j0 >= n)
                continue;
            size_t mb = m - i0 < g.rows ? m - i0 : g.rows, nb = n - j0 < g.cols ? n - j0 : g.cols;
            sgemm_block(trans_a, trans_b, mb, nb, k, alpha, op_at(a, lda, trans_a, i0, 0), lda,
                        op_at(b, ldb, trans_b, 0, j0), ldb, beta, cm + i0 * ldc + j0, ldc);
        }
    }
    return 1;
#else
    (void)c, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)cm, (void)ldc;
    return 0;
#endif
}

void cpu_gemm_init(cpu_ctx *c)
{
    c->gemm_path = CPU_GEMM_DEFAULT;
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    /* Our threads call OpenBLAS, so OpenBLAS itself runs one thread. */
    openblas_set_num_threads(1);
#endif
}

void cpu_gemm_describe(int avx2, char *buf, size_t size)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    if (CPU_GEMM_DEFAULT == CPU_GEMM_OPENBLAS) {
        snprintf(buf, size, "OpenBLAS (%s)", openblas_get_corename());
        return;
    }
#endif
    snprintf(buf, size, "own %s kernels", avx2 ? "AVX2/FMA" : "portable");
}

gantry_status cpu_gemm(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, gantry_mem a,
                       size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem c, size_t ldc)
{
    cpu_ctx *cc = ctx;
    if (cc->gemm_path == CPU_GEMM_OPENBLAS &&
        cpu_gemm_openblas(cc, trans_a, trans_b, m, n, k, alpha, cpu_cf(a), lda, cpu_cf(b), ldb, beta, cpu_f(c), ldc))
        return GANTRY_OK;
    cpu_gemm_own(cc, trans_a, trans_b, m, n, k, alpha, cpu_cf(a), lda, cpu_cf(b), ldb, beta, cpu_f(c), ldc);
    return GANTRY_OK;
}
