/* gantry cpu backend: C = alpha op(A) op(B) + beta C.
 *
 * Measured on the development machine: AMD EPYC (Zen 1, AVX2/FMA, 2 cores,
 * 64 KiB L1d / 1 MiB L2 / 8 MiB L3), 2 threads, GFLOP/s, the best of 3
 * rounds of 40 timed trials, on the products of the GAN's linear layers at
 * batch 64.  "OpenBLAS" is 0.3.21 (Debian, its Zen kernels) at its best of
 * two ways: one single-threaded cblas_sgemm per block of our thread grid,
 * or one call with OpenBLAS's own 2 threads.
 *
 *   layer         fwd y = x W^T (NT)    dW = dy^T x (TN)     dx = dy W (NN)
 *   in -> out     own   OpenBLAS        own   OpenBLAS       own   OpenBLAS
 *   100 -> 128    63.0  55.1  114%      56.4  63.2   89%     55.2  38.6  143%
 *   128 -> 256    66.4  29.8  223%      63.5  70.8   90%     66.3  47.2  140%
 *   256 -> 512    70.6  38.4  184%      69.1  74.1   93%     69.2  45.9  151%
 *   512 -> 1024   70.3  47.6  148%      70.6  74.9   94%     68.2  68.3  100%
 *   1024 -> 784   66.0  66.3  100%      69.7  72.8   96%     66.7  67.6   99%
 *   784 -> 512    70.1  67.8  103%      71.2  74.9   95%     68.5  69.8   98%
 *   512 -> 256    69.0  68.3  101%      69.1  70.2   98%     69.8  61.4  114%
 *   256 -> 1      11.2   4.2  267%       9.2   5.7  161%      7.5   3.3  227%
 *
 * Flop-weighted over all 24 products: own 68.6, OpenBLAS 64.4 (107%); the
 * worst shape, dW 100 -> 128, reaches 89%.  On one thread: own 30-36,
 * OpenBLAS 10-38, own >= 90% of OpenBLAS except dW 100 -> 128 (83%: ragged
 * 128 x 100 tiles).  OpenBLAS is ahead by 3-10% when K = 64 (dW), behind on
 * the small forward products, which it runs on one thread.
 *
 * Re-measured on a Zen 3 host (2 vCPUs, 32 MiB L3) with
 * tools/gemm_vs_openblas.c, each library in its own block of samples (their
 * spinning worker threads otherwise take a core from each other): 2 threads
 * own 109.8, OpenBLAS 98.2 GFLOP/s weighted (112%), every matrix product at
 * 91% or more in that run; 1 thread 62-65 against 61 (102-106%).  Single
 * products vary by up to 20% between runs on that shared VM.
 *
 * Decision (cpu_gemm_choose, below): GANTRY_CPU_GEMM forces a path or our
 * kernels for one instruction set; auto picks from the CPU alone, never
 * from timings, so a machine always rounds the same way.  Every path gives
 * the same bits at any thread count: ours by its order of operations (and
 * the AVX-512 kernels the same bits as the AVX2 ones), the OpenBLAS one by
 * cutting every product into blocks that follow from its shape alone.
 *
 * The driver splits C into a grid of thread blocks (rows in multiples of
 * the kernel's mr, columns in multiples of its nr), chosen to balance
 * micro-tiles per thread against the packing each thread repeats; each
 * thread then runs a Goto/BLIS-style blocked product on its block: at most
 * NC columns of op(B) at a time, at most KC deep, packed once into its own
 * buffer, times at most MC rows of op(A) packed likewise (each split into
 * equal blocks), through the micro-kernel (cpu_kernels: 12 x 32 with
 * AVX-512, 6 x 16 with AVX2 or portable code); when all of a block's rows
 * fit one MC block (the batch-64 forward products), A is packed first and
 * a transposed B 64 columns at a time, so packed B never leaves L2.
 * Ragged edge tiles are computed into a local tile and merged; a C of one
 * row or one column goes through matrix-vector loops instead.  Each element
 * of C sees the same operations in the same order whatever the grid, so
 * results do not depend on the thread count.  The packing buffers are
 * allocated once per backend instance (cpu.c): no allocation here. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cpu_impl.h"

#ifdef GANTRY_CPU_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Below this many multiply-adds a product runs on one thread. */
#define CPU_GEMM_GRAIN ((size_t)1 << 17)

/* op(A)[i][p] and op(B)[p][j] of the stored matrices. */
static const float *op_at(const float *x, size_t ld, int trans, size_t row, size_t col)
{
    return trans ? x + col * ld + row : x + row * ld + col;
}

/* Merges a computed tile (alpha already applied by the kernel with beta 0)
 * into the mr x nr corner of C. */
static void merge_edge(const float *tile, size_t ld_tile, size_t mr, size_t nr, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) {
            float r = tile[i * ld_tile + j];
            if (beta != 0.0f)
                r = r + beta * c[i * ldc + j];
            c[i * ldc + j] = r;
        }
}

/* The block size for `total` split into the fewest blocks of at most
 * `max`, made as equal as a multiple of `unit` allows: a remainder block of
 * a few rows costs nearly as much as a full one (its B panel comes from L3
 * for little work), and a remainder of a few steps of K reads and writes C
 * once more for little work. */
static size_t even_step(size_t total, size_t max, size_t unit)
{
    size_t blocks = (total + max - 1) / max;
    size_t step = (total + blocks - 1) / blocks;
    return (step + unit - 1) / unit * unit;
}

/* Merges a computed tile into C's columns through a table (cpu_scatter):
 * a run of contiguous columns at a time, so the copies vectorise. */
static void merge_scattered(const float *tile, size_t ld_tile, size_t mr, size_t nr, float beta, float *c, size_t ldc,
                            const int32_t *coff, const int32_t *run)
{
    for (size_t j = 0; j < nr;) {
        size_t len = (size_t)run[j] < nr - j ? (size_t)run[j] : nr - j;
        merge_edge(tile + j, ld_tile, mr, len, beta, c + coff[j], ldc);
        j += len;
    }
}

/* The micro-tiles of one packed mc x kc block of A times one packed
 * kc x nc block of B, into C at cm (which points at the blocks' corner,
 * or at their first row when cs is set: then column j is at cm + coff[j]). */
static void run_tiles(const cpu_kernels *kern, size_t mc, size_t nc, size_t kc, float alpha, const float *pa,
                      const float *pb, float beta_k, float *cm, size_t ldc, const int32_t *coff, const int32_t *run)
{
    _Alignas(64) float tile[CPU_MR_MAX * CPU_NR_MAX];
    const size_t tmr = kern->mr, tnr = kern->nr;
    for (size_t jr = 0; jr < nc; jr += tnr) {
        size_t nr = nc - jr < tnr ? nc - jr : tnr;
        const float *bp = pb + jr * kc;
        /* scattered columns go straight to C only as one contiguous run */
        int direct = !coff || (size_t)run[jr] >= nr;
        float *cj = coff ? cm + coff[jr] : cm + jr;
        for (size_t ir = 0; ir < mc; ir += tmr) {
            size_t mr = mc - ir < tmr ? mc - ir : tmr;
            const float *ap = pa + ir * kc;
            float *ct = cj + ir * ldc;
            if (mr == tmr && nr == tnr && direct) {
                kern->full(kc, ap, bp, ct, ldc, alpha, beta_k);
            } else {
                cpu_ukernel_fn fn = kern->full;
                if (nr <= tnr / 2)
                    fn = kern->narrow;
                else if (mr <= tmr / 2 && kern->short_rows)
                    fn = kern->short_rows;
                fn(kc, ap, bp, tile, tnr, alpha, 0.0f);
                if (direct)
                    merge_edge(tile, tnr, mr, nr, beta_k, ct, ldc);
                else
                    merge_scattered(tile, tnr, mr, nr, beta_k, cm + ir * ldc, ldc, coff + jr, run + jr);
            }
        }
    }
}

/* One product's arguments; a block of a grid is the same product on a
 * corner of C. */
typedef struct gemm_args {
    int ta, tb;
    size_t m, n, k;
    float alpha;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float beta;
    float *c; /* C's corner; with cs, its first row (columns through the table) */
    size_t ldc;
    /* Implicit GEMM (cpu_gemm_gathered): op(B) gathered when gb is set (b
     * unused), C's columns through cs; j0 the block's first column in the
     * whole product, where the tables start. */
    const cpu_gather *gb;
    const cpu_scatter *cs;
    size_t j0;
    /* op(A) as planes when ap is set (a unused); i0 the block's first row. */
    const cpu_planes *ap;
    size_t i0;
} gemm_args;

static void pack_a_of(const cpu_kernels *kern, const gemm_args *q, size_t i, size_t p, size_t mc, size_t kc,
                      float *dst)
{
    if (q->ap)
        kern->pack_planes(q->ap, q->i0 + i, p, mc, kc, dst);
    else
        kern->pack_a(q->ta, op_at(q->a, q->lda, q->ta, i, p), q->lda, mc, kc, dst);
}

static void pack_b_of(const cpu_kernels *kern, const gemm_args *q, size_t p, size_t j, size_t kc, size_t nc,
                      float *dst)
{
    if (q->gb)
        kern->gather_pack(q->gb, p, q->j0 + j, kc, nc, dst);
    else
        kern->pack_b(q->tb, op_at(q->b, q->ldb, q->tb, p, j), q->ldb, kc, nc, dst);
}

/* C rows from i, columns from j of block q: where run_tiles writes. */
static void tiles_at(const gemm_args *q, size_t i, size_t j, float **cm, const int32_t **coff, const int32_t **run)
{
    *cm = q->c + i * q->ldc + (q->cs ? 0 : j);
    *coff = q->cs ? q->cs->coff + q->j0 + j : NULL;
    *run = q->cs ? q->cs->run + q->j0 + j : NULL;
}

/* C (m x n) = alpha op(A) op(B) + beta C of block q on one thread with its
 * packing buffers.
 *
 * When all of op(A)'s rows fit one packed block (the batch-64 products of
 * the linear layers), A is packed once per K block and a transposed B a few
 * panels at a time (CPU_NC_SMALL_M columns), each computed while still in
 * L2, instead of a whole KC x NC block of B (1 MiB) packed out to L3 and
 * read back.
 * Every element of C still sees the same K blocks in the same order through
 * the same kernels, so both orders give the same bits. */
static void gemm_serial(const cpu_ctx *c, float *pack, const gemm_args *q)
{
    const cpu_kernels *kern = c->kernels;
    const size_t m = q->m, n = q->n, k = q->k;
    float *pa = pack, *pb = pack + (size_t)CPU_MC * CPU_KC, *cm;
    const int32_t *coff, *run;
    const size_t kstep = even_step(k, CPU_KC, 1), mstep = even_step(m, CPU_MC, kern->mr);
    const size_t nstep = even_step(n, CPU_NC, kern->nr);
    if (m <= mstep) {
        /* Chunks of B^T are whole rows of the stored B, read along memory;
         * chunks of an untransposed B would be short runs of many rows, a
         * row length apart (4 KiB for 1024 columns: the reads then alias in
         * the cache and stall), so that one is packed in full blocks.  A
         * gathered B is read along the image, like B^T. */
        const size_t chunk = q->tb || q->gb ? CPU_NC_SMALL_M : nstep;
        for (size_t pc = 0; pc < k; pc += kstep) {
            size_t kc = k - pc < kstep ? k - pc : kstep;
            float beta_k = pc == 0 ? q->beta : 1.0f; /* later K blocks accumulate */
            pack_a_of(kern, q, 0, pc, m, kc, pa);
            for (size_t jc = 0; jc < n; jc += chunk) {
                size_t nc = n - jc < chunk ? n - jc : chunk;
                pack_b_of(kern, q, pc, jc, kc, nc, pb);
                tiles_at(q, 0, jc, &cm, &coff, &run);
                run_tiles(kern, m, nc, kc, q->alpha, pa, pb, beta_k, cm, q->ldc, coff, run);
            }
        }
        return;
    }
    for (size_t jc = 0; jc < n; jc += nstep) {
        size_t nc = n - jc < nstep ? n - jc : nstep;
        for (size_t pc = 0; pc < k; pc += kstep) {
            size_t kc = k - pc < kstep ? k - pc : kstep;
            float beta_k = pc == 0 ? q->beta : 1.0f;
            pack_b_of(kern, q, pc, jc, kc, nc, pb);
            for (size_t ic = 0; ic < m; ic += mstep) {
                size_t mc = m - ic < mstep ? m - ic : mstep;
                pack_a_of(kern, q, ic, pc, mc, kc, pa);
                tiles_at(q, ic, jc, &cm, &coff, &run);
                run_tiles(kern, mc, nc, kc, q->alpha, pa, pb, beta_k, cm, q->ldc, coff, run);
            }
        }
    }
}

/* k == 0, an empty product: C = alpha * 0 + beta C, zero signs included. */
static void scale_c(size_t m, size_t n, float alpha, float beta, float *cm, size_t ldc)
{
    const float zero = alpha * 0.0f;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            cm[i * ldc + j] = beta != 0.0f ? zero + beta * cm[i * ldc + j] : zero;
}

/* A grid of tm row blocks x tn column blocks over C. */
typedef struct gemm_grid {
    size_t tm, tn;
    size_t rows, cols; /* per block, multiples of the tile's mr / nr */
} gemm_grid;

/* The grid of at most `limit` blocks (exactly `limit` when `exact` and the
 * tiles allow) minimising the largest block's cost: mr x nr micro-tiles
 * times their multiply-adds, plus packing, a packed float counted as 8
 * multiply-adds. */
static gemm_grid choose_grid(size_t m, size_t n, size_t k, size_t mr, size_t nr, size_t limit, int exact)
{
    size_t mt = (m + mr - 1) / mr, nt = (n + nr - 1) / nr;
    gemm_grid best = { 1, 1, mt * mr, nt * nr };
    double best_cost = -1.0;
    for (size_t tm = 1; tm <= limit && tm <= mt; tm++) {
        for (size_t tn = 1; tm * tn <= limit && tn <= nt; tn++) {
            if (exact && tm * tn != limit)
                continue;
            size_t rt = (mt + tm - 1) / tm, ct = (nt + tn - 1) / tn; /* tiles per block */
            double cost = (double)rt * ct * mr * nr * k + 8.0 * (double)(rt * mr + ct * nr) * k;
            if (best_cost < 0.0 || cost < best_cost * 0.999) {
                best_cost = cost;
                best.tm = tm;
                best.tn = tn;
                best.rows = rt * mr;
                best.cols = ct * nr;
            }
        }
    }
    return best;
}

static size_t gemm_threads(const cpu_ctx *c, size_t m, size_t n, size_t k)
{
    return (size_t)cpu_threads_for(c, m * n * k, CPU_GEMM_GRAIN);
}

/* ---- matrix-vector products (m == 1 or n == 1) ---------------------------- */

/* A one-row or one-column C would waste 15/16 or 5/6 of every micro-tile,
 * so these go through plain vectorisable loops instead: a dot product per
 * output where the matrix rows run along p, row updates (axpy) where they
 * run along the outputs.  Float accumulation, as the packed kernels. */

/* out = alpha * sum + beta * out, not reading out when beta == 0. */
static void store_out(float *out, float sum, float alpha, float beta)
{
    float r = alpha * sum;
    if (beta != 0.0f)
        r = r + beta * *out;
    *out = r;
}

/* sum_p x[p*incx] * y[p*incy], eight interleaved partial sums when both
 * are contiguous. */
static float dot(const float *x, size_t incx, const float *y, size_t incy, size_t k)
{
    float acc[8] = { 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
    size_t p = 0;
    if (incx == 1 && incy == 1)
        for (; p + 8 <= k; p += 8)
            for (size_t j = 0; j < 8; j++)
                acc[j] += x[p + j] * y[p + j];
    float s = 0.0f;
    for (; p < k; p++)
        s += x[p * incx] * y[p * incy];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s;
}

#define GEMV_CHUNK 256

/* out[o*inc] = alpha * sum_p v[p*incv] * mat[p*ld + o] + beta * out[o*inc]
 * for o in [0, count): rows of `mat` run along the outputs. */
static void gemv_rows(const cpu_ctx *c, size_t count, size_t k, float alpha, const float *v, size_t incv,
                      const float *mat, size_t ld, float beta, float *out, size_t inc)
{
    size_t chunks = (count + GEMV_CHUNK - 1) / GEMV_CHUNK;
    int t = cpu_threads_for(c, count * k, CPU_GRAIN * 4);
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
    for (size_t ch = 0; ch < chunks; ch++) {
        size_t o0 = ch * GEMV_CHUNK, len = count - o0 < GEMV_CHUNK ? count - o0 : GEMV_CHUNK;
        float acc[GEMV_CHUNK];
        for (size_t o = 0; o < len; o++)
            acc[o] = 0.0f;
        for (size_t p = 0; p < k; p++) {
            const float vp = v[p * incv], *row = mat + p * ld + o0;
            for (size_t o = 0; o < len; o++)
                acc[o] += vp * row[o];
        }
        for (size_t o = 0; o < len; o++)
            store_out(out + (o0 + o) * inc, acc[o], alpha, beta);
    }
}

/* out[o*inc] = alpha * dot(mat + o*ld, v) + beta * out[o*inc]: rows of
 * `mat` run along p. */
static void gemv_dots(const cpu_ctx *c, size_t count, size_t k, float alpha, const float *mat, size_t ld,
                      const float *v, size_t incv, float beta, float *out, size_t inc)
{
    int t = cpu_threads_for(c, count * k, CPU_GRAIN * 4);
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
    for (size_t o = 0; o < count; o++)
        store_out(out + o * inc, dot(mat + o * ld, 1, v, incv, k), alpha, beta);
}

static void gemv(const cpu_ctx *c, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                 size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    if (n == 1) {
        /* C[i][0] = sum_p op(A)[i][p] x[p], x = op(B)[.][0] */
        const float *x = b;
        size_t incx = tb ? 1 : ldb;
        if (ta)
            gemv_rows(c, m, k, alpha, x, incx, a, lda, beta, cm, ldc);
        else
            gemv_dots(c, m, k, alpha, a, lda, x, incx, beta, cm, ldc);
    } else {
        /* C[0][j] = sum_p y[p] op(B)[p][j], y = op(A)[0][.] */
        const float *y = a;
        size_t incy = ta ? lda : 1;
        if (tb)
            gemv_dots(c, n, k, alpha, b, ldb, y, incy, beta, cm, 1);
        else
            gemv_rows(c, n, k, alpha, y, incy, b, ldb, beta, cm, 1);
    }
}

typedef void (*gemm_block_fn)(cpu_ctx *c, size_t thread, const gemm_args *block);

/* The blocks of grid `g` over C, taken in turn by `threads` OpenMP threads
 * (block b by thread b mod threads), each computed by `fn`; then the
 * region's time off the CPU goes to the contention back-off. */
static void run_grid(cpu_ctx *c, const gemm_grid *g, size_t threads, const gemm_args *p, gemm_block_fn fn)
{
    size_t blocks = g->tm * g->tn;
    int64_t t0 = cpu_now_ns(), stall = 0;
#pragma omp parallel num_threads((int)threads) if (threads > 1) reduction(max : stall)
    {
        int64_t cpu0 = cpu_thread_cpu_ns();
        size_t t = (size_t)omp_get_thread_num(), nth = (size_t)omp_get_num_threads();
        for (size_t blk = t; blk < blocks; blk += nth) {
            size_t i0 = (blk / g->tn) * g->rows, j0 = (blk % g->tn) * g->cols;
            if (i0 >= p->m || j0 >= p->n)
                continue;
            gemm_args q = *p;
            q.m = p->m - i0 < g->rows ? p->m - i0 : g->rows;
            q.n = p->n - j0 < g->cols ? p->n - j0 : g->cols;
            q.a = p->ap ? NULL : op_at(p->a, p->lda, p->ta, i0, 0);
            q.i0 = p->i0 + i0;
            q.b = p->gb ? NULL : op_at(p->b, p->ldb, p->tb, 0, j0);
            q.c = p->c + i0 * p->ldc + (p->cs ? 0 : j0);
            q.j0 = p->j0 + j0;
            fn(c, t, &q);
        }
        stall = (cpu_now_ns() - t0) - (cpu_thread_cpu_ns() - cpu0); /* time off the CPU */
    }
    if (threads > 1)
        cpu_note_stall(c, stall, cpu_now_ns() - t0);
}

static void own_block(cpu_ctx *c, size_t thread, const gemm_args *q)
{
    gemm_serial(c, c->pack + thread * c->pack_stride, q);
}

/* The packed product of p on the thread grid (m, n > 1, k > 0). */
static void own_product(cpu_ctx *c, const gemm_args *p)
{
    size_t threads = gemm_threads(c, p->m, p->n, p->k);
    if (threads == 1) {
        gemm_serial(c, c->pack, p);
        return;
    }
    gemm_grid g = choose_grid(p->m, p->n, p->k, c->kernels->mr, c->kernels->nr, threads, 0);
    run_grid(c, &g, g.tm * g.tn, p, own_block);
}

void cpu_gemm_own(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    if (k == 0) {
        scale_c(m, n, alpha, beta, cm, ldc);
        return;
    }
    if (m == 1 || n == 1) {
        gemv(c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        return;
    }
    const gemm_args p = { trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc, NULL, NULL, 0, NULL, 0 };
    own_product(c, &p);
}

/* own_product under the instance's GEMM lock (the implicit products). */
static void locked_product(cpu_ctx *c, const gemm_args *p)
{
    pthread_mutex_lock(&c->gemm_lock);
    own_product(c, p);
    pthread_mutex_unlock(&c->gemm_lock);
}

void cpu_gemm_gathered(cpu_ctx *c, int trans_a, size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const cpu_gather *b, float beta, float *cm, size_t ldc, const cpu_scatter *cs)
{
    locked_product(c, &(gemm_args){ trans_a, 0, m, n, k, 1.0f, a, lda, NULL, 0, beta, cm, ldc, b, cs, 0, NULL, 0 });
}

void cpu_gemm_planes_gathered(cpu_ctx *c, size_t m, size_t n, size_t k, const cpu_planes *a, const cpu_gather *b,
                              float beta, float *cm, size_t ldc)
{
    locked_product(c, &(gemm_args){ 0, 0, m, n, k, 1.0f, NULL, 0, NULL, 0, beta, cm, ldc, b, NULL, 0, a, 0 });
}

/* The gathered product C = op(A) B (beta 0) by pieces of columns: thread t
 * takes columns [split[t], split[t + 1]) in pieces of `piece` (a multiple
 * of nr but where its range ends), and calls done(user, t, j) once the
 * columns up to j are computed, while they are still in its caches.  A is
 * packed once, by all threads, into pa (cpu_gemm_packed_a_floats). */
void cpu_gemm_gathered_pieces(cpu_ctx *c, int trans_a, size_t m, size_t k, const float *a, size_t lda,
                              const cpu_gather *b, float *cm, size_t ldc, float *pa, size_t threads,
                              const size_t *split, size_t piece, cpu_columns_done_fn done, void *user)
{
    const cpu_kernels *kern = c->kernels;
    const size_t mr = kern->mr, panels = (m + mr - 1) / mr, mround = panels * mr;
    const size_t kstep = even_step(k, CPU_KC, 1);
    int64_t t0 = cpu_now_ns(), stall = 0;
    pthread_mutex_lock(&c->gemm_lock);
#pragma omp parallel num_threads((int)threads) if (threads > 1) reduction(max : stall)
    {
        int64_t cpu0 = cpu_thread_cpu_ns();
        const size_t t = (size_t)omp_get_thread_num(), nth = (size_t)omp_get_num_threads();
        /* A's K blocks one after another, each as panels of mr rows */
        for (size_t pc = 0; pc < k; pc += kstep) {
            size_t kc = k - pc < kstep ? k - pc : kstep;
            size_t p0 = panels * t / nth, p1 = panels * (t + 1) / nth;
            if (p1 > p0)
                kern->pack_a(trans_a, op_at(a, lda, trans_a, p0 * mr, pc), lda, cpu_min_size(m, p1 * mr) - p0 * mr,
                             kc, pa + pc * mround + p0 * mr * kc);
        }
#pragma omp barrier
        float *pb = c->pack + t * c->pack_stride + (size_t)CPU_MC * CPU_KC;
        for (size_t u = t; u < threads; u += nth) /* every range, whatever the team got */
            for (size_t j0 = split[u]; j0 < split[u + 1]; j0 += piece) {
                size_t nc = cpu_min_size(piece, split[u + 1] - j0);
                for (size_t pc = 0; pc < k; pc += kstep) {
                    size_t kc = k - pc < kstep ? k - pc : kstep;
                    kern->gather_pack(b, pc, j0, kc, nc, pb);
                    run_tiles(kern, m, nc, kc, 1.0f, pa + pc * mround, pb, pc == 0 ? 0.0f : 1.0f, cm + j0, ldc,
                              NULL, NULL);
                }
                done(user, u, j0 + nc);
            }
        stall = (cpu_now_ns() - t0) - (cpu_thread_cpu_ns() - cpu0);
    }
    pthread_mutex_unlock(&c->gemm_lock);
    if (threads > 1)
        cpu_note_stall(c, stall, cpu_now_ns() - t0);
}

/* ---- OpenBLAS ------------------------------------------------------------- */

/* OpenBLAS picks its kernel by the shape of each call, and its kernels
 * round differently: on AVX-512 CPUs (its SkylakeX and Cooperlake kernels)
 * a small product goes through a separate small-matrix kernel.  Cutting a
 * product into one call per thread, as this path once did, made the bits
 * depend on the thread count (a 3-step gan run gave different checkpoints at
 * 1 and 2 threads on a Zen 4 host), and on the drop to one thread under load.
 * So the blocks come from the product's shape alone, each one
 * single-threaded cblas_sgemm over the whole of K, and the threads take
 * blocks in turn: the thread count decides who computes a block, never what
 * it is.
 *
 * How many blocks: one below 2 * CPU_GEMM_GRAIN multiply-adds; else two
 * (what two threads need), or more, a power of two up to
 * CPU_BLAS_MAX_BLOCKS, while they cost at most CPU_BLAS_OVERHEAD of the
 * product more than two, counting per block CPU_BLAS_CALL multiply-adds for
 * the call and CPU_BLAS_PACK per float OpenBLAS packs (each block packs its
 * rows of A and its columns of B over all of K).  Sixteen blocks of every
 * large product, tried first, made the DCGAN's products 15% slower than the
 * thread grid on 2 threads (Zen 4): a 128 x 1024 x 3136 weight gradient cut
 * into 64 x 128 blocks packs A eight times and B twice over, for 19% more
 * time (the model says 12%).  With this rule the DCGAN's products take 31.7
 * ms a step against 30.7 by the thread grid, the GAN's 10.3 against 11.2. */
#define CPU_BLAS_MAX_BLOCKS 16
#define CPU_BLAS_CALL 262144.0
#define CPU_BLAS_PACK 16.0
#define CPU_BLAS_OVERHEAD 0.05

#ifdef GANTRY_CPU_HAVE_OPENBLAS
static void sgemm_block(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, cm, (blasint)ldc);
}

/* Multiply-adds plus overhead of the grid's blocks, all of them. */
static double blas_cost(const gemm_grid *g, size_t m, size_t n, size_t k)
{
    double blocks = (double)(g->tm * g->tn);
    return (double)m * n * k + blocks * CPU_BLAS_CALL +
           CPU_BLAS_PACK * (double)k * ((double)g->tn * m + (double)g->tm * n);
}

static void blas_block(cpu_ctx *c, size_t thread, const gemm_args *q)
{
    (void)c, (void)thread;
    sgemm_block(q->ta, q->tb, q->m, q->n, q->k, q->alpha, q->a, q->lda, q->b, q->ldb, q->beta, q->c, q->ldc);
}

static gemm_grid blas_blocks(size_t m, size_t n, size_t k)
{
    gemm_grid best = choose_grid(m, n, k, CPU_MR, CPU_NR, 1, 1);
    if (m * n * k < 2 * CPU_GEMM_GRAIN)
        return best;
    gemm_grid two = choose_grid(m, n, k, CPU_MR, CPU_NR, 2, 1);
    if (two.tm * two.tn != 2)
        return best;
    best = two;
    const double limit = blas_cost(&two, m, n, k) + CPU_BLAS_OVERHEAD * (double)m * n * k;
    for (size_t blocks = 4; blocks <= CPU_BLAS_MAX_BLOCKS; blocks *= 2) {
        gemm_grid g = choose_grid(m, n, k, CPU_MR, CPU_NR, blocks, 1);
        if (g.tm * g.tn == blocks && blas_cost(&g, m, n, k) <= limit)
            best = g;
    }
    return best;
}
#endif

/* One single-threaded OpenBLAS call per block (no second thread pool
 * competing with OpenMP's).  Returns 0 when OpenBLAS is not built in. */
int cpu_gemm_openblas(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    if (k == 0) {
        scale_c(m, n, alpha, beta, cm, ldc);
        return 1;
    }
    gemm_grid g = blas_blocks(m, n, k);
    size_t blocks = g.tm * g.tn, threads = gemm_threads(c, m, n, k);
    if (blocks == 1) {
        sgemm_block(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
        return 1;
    }
    if (threads > blocks)
        threads = blocks;
    const gemm_args p = { trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc, NULL, NULL, 0, NULL, 0 };
    run_grid(c, &g, threads, &p, blas_block);
    return 1;
#else
    (void)c, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)cm, (void)ldc;
    return 0;
#endif
}

/* ---- which path ------------------------------------------------------------ */

int cpu_gemm_have_openblas(void)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    return 1;
#else
    return 0;
#endif
}

static const char *const isa_setting[] = { "portable", "avx2", "avx512" };
static const char *const isa_feature[] = { "", "AVX2/FMA", "AVX-512F" };

/* Without a setting, the path follows from the CPU alone (never from
 * timings: the same machine must always round the same way): our kernels,
 * the widest the CPU has, wherever it has AVX2/FMA, so every such x86 CPU
 * computes the same bits (the AVX2 and AVX-512 kernels agree bit for bit);
 * OpenBLAS only where we have just the portable kernel, when built in.
 * Measured on a 2-core Zen 4 (AVX-512, OpenBLAS 0.3.21 running its
 * Cooperlake kernels), see docs/benchmarks.md.  (Before our AVX-512
 * kernels, auto picked OpenBLAS on Intel CPUs with AVX-512.) */
int cpu_gemm_choose(const char *setting, cpu_gemm_path *path, cpu_isa *isa, char *why, size_t why_size)
{
    const cpu_isa best = cpu_isa_best();
    *isa = best;
    if (setting && strcmp(setting, "openblas") == 0) {
        if (!cpu_gemm_have_openblas()) {
            snprintf(why, why_size,
                     "GANTRY_CPU_GEMM=openblas, but this build has no OpenBLAS (meson setup -Dopenblas=enabled)");
            return -1;
        }
        *path = CPU_GEMM_OPENBLAS;
        snprintf(why, why_size, "forced by GANTRY_CPU_GEMM=openblas");
        return 0;
    }
    if (setting && strcmp(setting, "own") == 0) {
        *path = CPU_GEMM_OWN;
        snprintf(why, why_size, "forced by GANTRY_CPU_GEMM=own (the widest kernels this CPU runs)");
        return 0;
    }
    for (int i = CPU_ISA_PORTABLE; setting && i <= CPU_ISA_AVX512; i++) {
        if (strcmp(setting, isa_setting[i]) != 0)
            continue;
        if ((cpu_isa)i > best) {
            snprintf(why, why_size, "GANTRY_CPU_GEMM=%s, but this CPU has no %s", setting, isa_feature[i]);
            return -1;
        }
        *path = CPU_GEMM_OWN;
        *isa = (cpu_isa)i;
        snprintf(why, why_size, "forced by GANTRY_CPU_GEMM=%s", setting);
        return 0;
    }
    if (setting && strcmp(setting, "auto") != 0) {
        snprintf(why, why_size,
                 "GANTRY_CPU_GEMM='%.60s' (expected auto, own, avx512, avx2, portable or openblas)", setting);
        return -1;
    }
    if (best == CPU_ISA_PORTABLE && cpu_gemm_have_openblas()) {
        *path = CPU_GEMM_OPENBLAS;
        snprintf(why, why_size, "auto: no AVX2/FMA, where we have only a portable kernel");
    } else {
        *path = CPU_GEMM_OWN;
        snprintf(why, why_size, "auto: %s", best == CPU_ISA_PORTABLE ? "built without OpenBLAS"
                                            : best == CPU_ISA_AVX512 ? "AVX-512 (same bits as AVX2)"
                                                                     : "AVX2/FMA (same bits as AVX-512)");
    }
    return 0;
}

void cpu_gemm_init(cpu_ctx *c)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    /* Our threads call OpenBLAS, so OpenBLAS itself runs one thread. */
    if (c->gemm_path == CPU_GEMM_OPENBLAS)
        openblas_set_num_threads(1);
#else
    (void)c;
#endif
}

void cpu_gemm_describe(cpu_gemm_path path, cpu_isa isa, char *buf, size_t size)
{
#ifdef GANTRY_CPU_HAVE_OPENBLAS
    if (path == CPU_GEMM_OPENBLAS) {
        /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": the first two words */
        const char *cfg = openblas_get_config(), *core = openblas_get_corename();
        size_t n = cfg ? strcspn(cfg, " ") : 0;
        if (cfg && cfg[n] == ' ')
            n += 1 + strcspn(cfg + n + 1, " ");
        snprintf(buf, size, "%.*s (%s kernels), single-threaded calls on blocks set by each product's shape",
                 (int)n, cfg ? cfg : "", core ? core : "?");
        return;
    }
#endif
    (void)path;
    const cpu_kernels *k = cpu_kernels_of(isa);
    snprintf(buf, size, "own %s kernels (%zu x %zu tiles)", k->name, k->mr, k->nr);
}

gantry_status cpu_gemm(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, gantry_mem a,
                       size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem c, size_t ldc)
{
    cpu_ctx *cc = ctx;
    if (cc->gemm_path == CPU_GEMM_OPENBLAS &&
        cpu_gemm_openblas(cc, trans_a, trans_b, m, n, k, alpha, cpu_cf(a), lda, cpu_cf(b), ldb, beta, cpu_f(c), ldc))
        return GANTRY_OK;
    pthread_mutex_lock(&cc->gemm_lock);
    cpu_gemm_own(cc, trans_a, trans_b, m, n, k, alpha, cpu_cf(a), lda, cpu_cf(b), ldb, beta, cpu_f(c), ldc);
    pthread_mutex_unlock(&cc->gemm_lock);
    return GANTRY_OK;
}
