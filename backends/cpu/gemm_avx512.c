/* gantry cpu backend: the AVX-512 GEMM micro-kernels and packing routines.
 *
 * The tile is 12 x 32 floats of C, held in 24 of the 32 zmm registers: per
 * step of K two 16-float loads of packed B, twelve broadcasts of packed A
 * and 24 fused multiply-adds.  The packing design is the AVX2 one (A in
 * 12-row panels, B in 32-column panels, zero-padded at the edges), so the
 * driver in gemm.c runs either with the sizes of cpu_kernels.
 *
 * Same bits as the AVX2 kernels: every element of C is one chain of fused
 * multiply-adds over p in order from zero, then alpha * acc, then
 * + beta * C, with the same K blocks (CPU_KC), whatever lane or tile it
 * lands in.  Only the width of the registers differs.
 *
 * Ragged edges: `narrow` computes the first 16 columns of a tile (a last
 * panel of at most 16 real columns), `short_rows` the first 6 rows (a
 * last panel of at most 6 real rows: the batch-64 products have 64 = 5 x 12
 * + 4 rows), each with the multiply-adds it needs and no more. */
#include "cpu_impl.h"

#if CPU_X86

#include "gemm_x86.h"

#define MR 12
#define NR 32

/* `rows` x `vecs` 16-float accumulators; constant arguments after inlining,
 * so the loops unroll and the accumulators stay in registers. */
CPU_AVX512 static inline __attribute__((always_inline)) void tile(size_t k, const float *a, const float *b, float *c,
                                                                  size_t ldc, float alpha, float beta, const int rows,
                                                                  const int vecs)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    if (beta != 0.0f) /* C is read at the end: start fetching it now */
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
            if (vecs == 2)
                _mm_prefetch((const char *)(c + (size_t)i * ldc + NR - 1), _MM_HINT_T0);
        }
    for (size_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = vecs == 2 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (vecs == 2)
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
        float *cr = c + (size_t)i * ldc;
#pragma GCC unroll 2
        for (int h = 0; h < vecs; h++) {
            __m512 r = _mm512_mul_ps(va, acc[i][h]);
            if (beta != 0.0f)
                r = _mm512_add_ps(r, _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16 * h)));
            _mm512_storeu_ps(cr + 16 * h, r);
        }
    }
}

CPU_AVX512 static void ukernel_full(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                    float beta)
{
    tile(k, a, b, c, ldc, alpha, beta, MR, 2);
}

CPU_AVX512 static void ukernel_narrow(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                      float beta)
{
    tile(k, a, b, c, ldc, alpha, beta, MR, 1);
}

CPU_AVX512 static void ukernel_short(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                     float beta)
{
    tile(k, a, b, c, ldc, alpha, beta, MR / 2, 2);
}

/* A not transposed (op(A)[i][p] = a[i*lda + p], the dx = dy W case): 8
 * p-values of a panel's 12 rows at a time, as two 8 x 8 register
 * transposes (rows 0-7, and rows 8-11 with four rows of padding), stored as
 * 8 + 4 floats per p.  A last panel of fewer rows loads zeros for the rest. */
CPU_AVX512 static void pack_a_rows(const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t rows = mc - i0 < MR ? mc - i0 : MR;
        size_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 lo[8], hi[8];
            for (size_t q = 0; q < 8; q++) {
                lo[q] = q < rows ? _mm256_loadu_ps(a + (i0 + q) * lda + p) : _mm256_setzero_ps();
                hi[q] = q < 4 && 8 + q < rows ? _mm256_loadu_ps(a + (i0 + 8 + q) * lda + p) : _mm256_setzero_ps();
            }
            transpose8(lo);
            transpose8(hi);
            for (int q = 0; q < 8; q++) {
                float *d = dst + (p + (size_t)q) * MR;
                _mm256_storeu_ps(d, lo[q]);
                _mm_storeu_ps(d + 8, _mm256_castps256_ps128(hi[q]));
            }
        }
        for (; p < kc; p++)
            for (size_t q = 0; q < MR; q++)
                dst[p * MR + q] = q < rows ? a[(i0 + q) * lda + p] : 0.0f;
        dst += kc * MR;
    }
}

/* A transposed (op(A)[i][p] = a[p*lda + i], the dW = dy^T x case): each p
 * is a run of 12 floats (fewer in a last panel, zeros after them), moved
 * with masked loads and stores. */
CPU_AVX512 static void pack_a_cols(const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    const __mmask16 panel = (__mmask16)((1u << MR) - 1);
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t rows = mc - i0 < MR ? mc - i0 : MR;
        const __mmask16 real = (__mmask16)((1u << rows) - 1);
        for (size_t p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(dst + p * MR, panel, _mm512_maskz_loadu_ps(real, a + p * lda + i0));
        dst += kc * MR;
    }
}

CPU_AVX512 static void pack_a(int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    if (trans)
        pack_a_cols(a, lda, mc, kc, dst);
    else
        pack_a_rows(a, lda, mc, kc, dst);
}

/* The transposed B (op(B)[p][j] = b[j*ldb + p], the forward pass's x W^T
 * and the convolutions' weight gradients): 32-column panels through 8 x 8
 * register transposes; a last panel of fewer columns loads zeros for the
 * rest (a convolution with 16 channels has only that one). */
CPU_AVX512 static void pack_b_cols(const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    for (size_t j0 = 0; j0 < nc; j0 += NR) {
        size_t cols = nc - j0 < NR ? nc - j0 : NR;
        size_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            for (size_t part = 0; part < NR; part += 8) {
                __m256 r[8];
                for (size_t q = 0; q < 8; q++)
                    r[q] = part + q < cols ? _mm256_loadu_ps(b + (j0 + part + q) * ldb + p) : _mm256_setzero_ps();
                transpose8(r);
                for (int q = 0; q < 8; q++)
                    _mm256_store_ps(dst + (p + (size_t)q) * NR + part, r[q]);
            }
        }
        for (; p < kc; p++)
            for (size_t j = 0; j < NR; j++)
                dst[p * NR + j] = j < cols ? b[(j0 + j) * ldb + p] : 0.0f;
        dst += kc * NR;
    }
}

/* B not transposed (op(B)[p][j] = b[p*ldb + j]): row by row, each row split
 * across the panels, so the reads stream along memory (see pack_b_avx2); a
 * last panel of fewer columns is read with masked loads. */
CPU_AVX512 static void pack_b_rows(const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    const size_t full = nc / NR * NR, rest = nc - full;
    const __mmask16 lo = (__mmask16)(rest >= 16 ? 0xffffu : (1u << rest) - 1);
    const __mmask16 hi = (__mmask16)(rest <= 16 ? 0u : (1u << (rest - 16)) - 1);
    for (size_t p = 0; p < kc; p++) {
        const float *src = b + p * ldb;
        float *d = dst + p * NR;
        for (size_t j0 = 0; j0 < full; j0 += NR) {
            _mm512_store_ps(d, _mm512_loadu_ps(src + j0));
            _mm512_store_ps(d + 16, _mm512_loadu_ps(src + j0 + 16));
            d += kc * NR;
        }
        if (rest) {
            _mm512_store_ps(d, _mm512_maskz_loadu_ps(lo, src + full));
            _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(hi, src + full + 16));
        }
    }
}

CPU_AVX512 static void pack_b(int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    if (trans)
        pack_b_cols(b, ldb, kc, nc, dst);
    else
        pack_b_rows(b, ldb, kc, nc, dst);
}

const cpu_kernels cpu_kernels_avx512 = {
    .isa = CPU_ISA_AVX512,
    .name = "AVX-512",
    .mr = MR,
    .nr = NR,
    .full = ukernel_full,
    .narrow = ukernel_narrow,
    .short_rows = ukernel_short,
    .pack_a = pack_a,
    .pack_b = pack_b,
};

#endif /* CPU_X86 */
