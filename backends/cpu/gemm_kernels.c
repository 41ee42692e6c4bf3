/* gantry cpu backend: the portable and AVX2 GEMM micro-kernels and packing
 * routines, and the table of kernels by instruction set (the AVX-512 ones
 * are in gemm_avx512.c).
 *
 * Here one tile shape: CPU_MR x CPU_NR = 6 x 16 floats of C, held in
 * twelve 8-float accumulators.  A is packed in 6-row panels (for each p the
 * 6 values op(A)[i0..i0+6)[p]), B in 16-column panels (for each p the 16
 * values op(B)[p][j0..j0+16)), zero-padded at the edges, so the kernel never
 * sees a ragged tile.
 *
 * Two versions of each routine: AVX2/FMA intrinsics, compiled for that
 * target with a function attribute and chosen at run time
 * (__builtin_cpu_supports in cpu.c), and portable GCC vector-extension C
 * that any target compiles.  The AVX2 kernel accumulates with fused
 * multiply-adds; the portable one with separate multiplies and adds (ISO C
 * mode never contracts them).  Both store C as alpha*acc + beta*C with a
 * separate multiply and add, and read no C when beta == 0. */
#include <string.h>

#include "cpu_impl.h"

#if CPU_X86
#include "gemm_x86.h"
#endif

/* ---- portable versions ---------------------------------------------------- */

typedef float cpu_v4 __attribute__((vector_size(16)));

static inline cpu_v4 v4_load(const float *p)
{
    cpu_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v4_store(float *p, cpu_v4 v)
{
    memcpy(p, &v, sizeof v);
}

/* One 8-column half of the tile at a time keeps the 6 x 8 accumulators in
 * twelve 4-float registers (no spills on a plain x86-64 or NEON target).
 * `cols` is 16, or 8 for a panel with at most 8 real columns. */
static inline void ukernel_generic_cols(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                        float beta, size_t cols)
{
    for (size_t half = 0; half < cols; half += 8) {
        cpu_v4 acc[CPU_MR][2];
        memset(acc, 0, sizeof acc);
        const float *ap = a, *bp = b + half;
        for (size_t p = 0; p < k; p++) {
            cpu_v4 b0 = v4_load(bp), b1 = v4_load(bp + 4);
            for (int i = 0; i < CPU_MR; i++) {
                acc[i][0] += ap[i] * b0;
                acc[i][1] += ap[i] * b1;
            }
            ap += CPU_MR;
            bp += CPU_NR;
        }
        for (int i = 0; i < CPU_MR; i++) {
            float *cr = c + (size_t)i * ldc + half;
            for (int h = 0; h < 2; h++) {
                cpu_v4 r = alpha * acc[i][h];
                if (beta != 0.0f)
                    r = r + beta * v4_load(cr + 4 * h);
                v4_store(cr + 4 * h, r);
            }
        }
    }
}

static void ukernel_generic(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha, float beta)
{
    ukernel_generic_cols(k, a, b, c, ldc, alpha, beta, CPU_NR);
}

static void ukernel_generic_8(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                              float beta)
{
    ukernel_generic_cols(k, a, b, c, ldc, alpha, beta, 8);
}

static void pack_a_panels(size_t mr_panel, int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    for (size_t i0 = 0; i0 < mc; i0 += mr_panel) {
        size_t mr = mc - i0 < mr_panel ? mc - i0 : mr_panel;
        if (trans) {
            /* op(A)[i][p] = a[p*lda + i]: each p is a contiguous run. */
            for (size_t p = 0; p < kc; p++) {
                const float *src = a + p * lda + i0;
                size_t r = 0;
                for (; r < mr; r++)
                    dst[r] = src[r];
                for (; r < mr_panel; r++)
                    dst[r] = 0.0f;
                dst += mr_panel;
            }
        } else {
            for (size_t p = 0; p < kc; p++) {
                for (size_t r = 0; r < mr_panel; r++)
                    dst[r] = r < mr ? a[(i0 + r) * lda + p] : 0.0f;
                dst += mr_panel;
            }
        }
    }
}

static void pack_b_panels(size_t nr_panel, int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    for (size_t j0 = 0; j0 < nc; j0 += nr_panel) {
        size_t nr = nc - j0 < nr_panel ? nc - j0 : nr_panel;
        if (!trans) {
            /* op(B)[p][j] = b[p*ldb + j]: each p is a contiguous run. */
            for (size_t p = 0; p < kc; p++) {
                const float *src = b + p * ldb + j0;
                size_t j = 0;
                for (; j < nr; j++)
                    dst[j] = src[j];
                for (; j < nr_panel; j++)
                    dst[j] = 0.0f;
                dst += nr_panel;
            }
        } else {
            /* op(B)[p][j] = b[j*ldb + p]: a transpose. */
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < nr; j++)
                    dst[j] = b[(j0 + j) * ldb + p];
                for (; j < nr_panel; j++)
                    dst[j] = 0.0f;
                dst += nr_panel;
            }
        }
    }
}

static void pack_a_generic(int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    pack_a_panels(CPU_MR, trans, a, lda, mc, kc, dst);
}

static void pack_b_generic(int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    pack_b_panels(CPU_NR, trans, b, ldb, kc, nc, dst);
}

/* ---- AVX2 / FMA versions -------------------------------------------------- */

#if CPU_X86

CPU_AVX2 static void ukernel_avx2(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                  float beta)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    if (beta != 0.0f) /* C is read at the end: start fetching it now */
        for (int i = 0; i < CPU_MR; i++) {
            _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + (size_t)i * ldc + CPU_NR - 1), _MM_HINT_T0);
        }
    for (size_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), ai;
        ai = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(ai, b0, c00);
        c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(ai, b0, c10);
        c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(ai, b0, c20);
        c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(ai, b0, c30);
        c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(ai, b0, c40);
        c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(ai, b0, c50);
        c51 = _mm256_fmadd_ps(ai, b1, c51);
        a += CPU_MR;
        b += CPU_NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 acc[CPU_MR][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 },
                              { c30, c31 }, { c40, c41 }, { c50, c51 } };
    for (int i = 0; i < CPU_MR; i++) {
        float *cr = c + (size_t)i * ldc;
        __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm256_add_ps(r0, _mm256_mul_ps(vb, _mm256_loadu_ps(cr)));
            r1 = _mm256_add_ps(r1, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8)));
        }
        _mm256_storeu_ps(cr, r0);
        _mm256_storeu_ps(cr + 8, r1);
    }
}

/* The left half of the tile only (a last panel with at most 8 real
 * columns): half the multiply-adds of the full kernel. */
CPU_AVX2 static void ukernel_avx2_8(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                    float beta)
{
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (size_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_load_ps(b);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
        a += CPU_MR;
        b += CPU_NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 acc[CPU_MR] = { c0, c1, c2, c3, c4, c5 };
    for (int i = 0; i < CPU_MR; i++) {
        float *cr = c + (size_t)i * ldc;
        __m256 r = _mm256_mul_ps(va, acc[i]);
        if (beta != 0.0f)
            r = _mm256_add_ps(r, _mm256_mul_ps(vb, _mm256_loadu_ps(cr)));
        _mm256_storeu_ps(cr, r);
    }
}

/* The transposed B (op(B)[p][j] = b[j*ldb + p], the forward pass's x W^T):
 * full 16-column panels go through 8x8 register transposes. */
CPU_AVX2 static void pack_b_trans_avx2(const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    size_t j0 = 0;
    for (; j0 + CPU_NR <= nc; j0 += CPU_NR) {
        size_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            for (size_t half = 0; half < CPU_NR; half += 8) {
                __m256 r[8];
                for (int q = 0; q < 8; q++)
                    r[q] = _mm256_loadu_ps(b + (j0 + half + (size_t)q) * ldb + p);
                transpose8(r);
                for (int q = 0; q < 8; q++)
                    _mm256_store_ps(dst + (p + (size_t)q) * CPU_NR + half, r[q]);
            }
        }
        for (; p < kc; p++)
            for (size_t j = 0; j < CPU_NR; j++)
                dst[p * CPU_NR + j] = b[(j0 + j) * ldb + p];
        dst += kc * CPU_NR;
    }
    if (j0 < nc)
        pack_b_generic(1, b + j0 * ldb, ldb, kc, nc - j0, dst);
}

/* B not transposed (op(B)[p][j] = b[p*ldb + j]): row by row, each row
 * split across the panels, so the reads stream along memory (a panel at a
 * time would step by ldb, defeating the prefetchers and, for ldb a multiple
 * of 1024 floats, thrashing one cache set); each 16-float store fills one
 * whole cache line of its panel. */
CPU_AVX2 static void pack_b_avx2(int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    if (trans) {
        pack_b_trans_avx2(b, ldb, kc, nc, dst);
        return;
    }
    size_t full = nc / CPU_NR * CPU_NR;
    for (size_t p = 0; p < kc; p++) {
        const float *src = b + p * ldb;
        float *d = dst + p * CPU_NR;
        for (size_t j0 = 0; j0 < full; j0 += CPU_NR) {
            _mm256_store_ps(d, _mm256_loadu_ps(src + j0));
            _mm256_store_ps(d + 8, _mm256_loadu_ps(src + j0 + 8));
            d += kc * CPU_NR;
        }
    }
    if (full < nc)
        pack_b_generic(0, b + full, ldb, kc, nc - full, dst + full * kc);
}

/* A not transposed (op(A)[i][p] = a[i*lda + p], the dx = dy W case): 8
 * p-values of six rows at a time, transposed in registers (two rows of
 * padding are dropped on the store). */
CPU_AVX2 static void pack_a_avx2(int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    if (trans) {
        pack_a_generic(1, a, lda, mc, kc, dst);
        return;
    }
    size_t i0 = 0;
    for (; i0 + CPU_MR <= mc; i0 += CPU_MR) {
        size_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 r[8];
            for (int q = 0; q < CPU_MR; q++)
                r[q] = _mm256_loadu_ps(a + (i0 + (size_t)q) * lda + p);
            r[6] = r[7] = _mm256_setzero_ps();
            transpose8(r);
            /* r[q] = the 6 rows' values at p+q (lanes 6, 7 are padding):
             * stored as 4 + 2 floats so nothing past the panel is written. */
            for (int q = 0; q < 8; q++) {
                float *d = dst + (p + (size_t)q) * CPU_MR;
                __m128 lo = _mm256_castps256_ps128(r[q]), hi = _mm256_extractf128_ps(r[q], 1);
                _mm_storeu_ps(d, lo);
                _mm_storel_pi((__m64 *)(void *)(d + 4), hi);
            }
        }
        for (; p < kc; p++)
            for (size_t q = 0; q < CPU_MR; q++)
                dst[p * CPU_MR + q] = a[(i0 + q) * lda + p];
        dst += kc * CPU_MR;
    }
    if (i0 < mc)
        pack_a_generic(0, a + i0 * lda, lda, mc - i0, kc, dst);
}

#endif /* CPU_X86 */

/* ---- selection ------------------------------------------------------------ */

static const cpu_kernels kernels_portable = {
    .isa = CPU_ISA_PORTABLE,
    .name = "portable",
    .mr = CPU_MR,
    .nr = CPU_NR,
    .full = ukernel_generic,
    .narrow = ukernel_generic_8,
    .short_rows = NULL,
    .pack_a = pack_a_generic,
    .pack_b = pack_b_generic,
    .gather_pack = NULL, /* see backends/cpu/conv.c */
};

#if CPU_X86
static const cpu_kernels kernels_avx2 = {
    .isa = CPU_ISA_AVX2,
    .name = "AVX2/FMA",
    .mr = CPU_MR,
    .nr = CPU_NR,
    .full = ukernel_avx2,
    .narrow = ukernel_avx2_8,
    .short_rows = NULL,
    .pack_a = pack_a_avx2,
    .pack_b = pack_b_avx2,
    .gather_pack = NULL,
};
#endif

const cpu_kernels *cpu_kernels_of(cpu_isa isa)
{
#if CPU_X86
    if (isa == CPU_ISA_AVX512)
        return &cpu_kernels_avx512;
    if (isa == CPU_ISA_AVX2)
        return &kernels_avx2;
#endif
    (void)isa;
    return &kernels_portable;
}

cpu_isa cpu_isa_best(void)
{
#if CPU_X86
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return CPU_ISA_PORTABLE;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2") ? CPU_ISA_AVX512 : CPU_ISA_AVX2;
#else
    return CPU_ISA_PORTABLE;
#endif
}
