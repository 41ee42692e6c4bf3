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

/* Eight p-values of a panel's `rows` (at most MR) rows, row q's at
 * at + q * stride, as two 8 x 8 register transposes (rows 0-7, and rows
 * 8-11 with four rows of padding), stored as 8 + 4 floats per p; missing
 * rows are zeros. */
CPU_AVX512 static inline __attribute__((always_inline)) void pack_rows8(const float *at, size_t stride, size_t rows,
                                                                       float *dst)
{
    __m256 lo[8], hi[8];
    for (size_t q = 0; q < 8; q++) {
        lo[q] = q < rows ? _mm256_loadu_ps(at + q * stride) : _mm256_setzero_ps();
        hi[q] = q < 4 && 8 + q < rows ? _mm256_loadu_ps(at + (8 + q) * stride) : _mm256_setzero_ps();
    }
    transpose8(lo);
    transpose8(hi);
    for (int q = 0; q < 8; q++) {
        _mm256_storeu_ps(dst + (size_t)q * MR, lo[q]);
        _mm_storeu_ps(dst + (size_t)q * MR + 8, _mm256_castps256_ps128(hi[q]));
    }
}

/* A not transposed (op(A)[i][p] = a[i*lda + p], the dx = dy W case): 8
 * p-values at a time through pack_rows8.  A last panel of fewer rows loads
 * zeros for the rest. */
CPU_AVX512 static void pack_a_rows(const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t rows = mc - i0 < MR ? mc - i0 : MR;
        size_t p = 0;
        for (; p + 8 <= kc; p += 8)
            pack_rows8(a + i0 * lda + p, lda, rows, dst + p * MR);
        for (; p < kc; p++)
            for (size_t q = 0; q < MR; q++)
                dst[p * MR + q] = q < rows ? a[(i0 + q) * lda + p] : 0.0f;
        dst += kc * MR;
    }
}

/* A as planes (cpu_planes: a weight gradient's dy [n, o, P] as [o, n*P],
 * read where it lies instead of swapped into a copy first): as pack_a_rows,
 * 8 columns at a time where they lie in one plane, one at a time where
 * they cross into the next image. */
CPU_AVX512 static void pack_planes(const cpu_planes *g, size_t r0, size_t c0, size_t mc, size_t kc, float *dst)
{
    const size_t plane = g->plane, image = g->rows * plane;
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        const size_t rows = mc - i0 < MR ? mc - i0 : MR;
        const float *first = g->src + (r0 + i0) * plane; /* the panel's first row in image 0 */
        size_t img = c0 / plane, pix = c0 % plane;
        for (size_t p = 0; p < kc;) {
            const float *at = first + img * image + pix;
            const size_t step = p + 8 <= kc && pix + 8 <= plane ? 8 : 1;
            if (step == 8)
                pack_rows8(at, plane, rows, dst + p * MR);
            else
                for (size_t q = 0; q < MR; q++)
                    dst[p * MR + q] = q < rows ? at[q * plane] : 0.0f;
            p += step;
            pix += step;
            if (pix == plane) {
                pix = 0;
                img++;
            }
        }
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


/* Gathered packing (cpu_gather_pack_fn), 16 lanes at a time: the panel's
 * offsets and positions are loaded once; each step across finds the lanes
 * inside the image, then reads runs of consecutive offsets (an image row of
 * a patch, of a plane) with masked loads where the panel has few of them,
 * else all lanes with a masked gather (microcode on Zen 4: 16 lanes cost
 * about as much as eight masked loads).  Each run is loaded straight into
 * its lanes of the row's two registers (a merging masked load from an
 * address moved back by the run's first lane, whose masked-off lanes are
 * never read), and the row is written with two full stores: masked stores,
 * one per run, made the panels of a weight gradient (eight runs of four
 * per row) cost as much again. */
#define GATHER_RUNS_MAX 8

/* One run of a panel row, inside one of its two 16-lane registers. */
typedef struct gather_run {
    int32_t off;    /* its first column's offset */
    unsigned chunk; /* which register: columns [16 chunk, 16 chunk + 16) */
    unsigned lane;  /* its first column's lane in that register */
    unsigned len;   /* columns, all in this register */
    int step;       /* 1 or 2 floats between the columns' offsets */
} gather_run;

/* The runs a gathered panel's offsets form: runs of offsets step = 1 or 2
 * floats apart, spanning at most 16 floats, and split where they cross from
 * one register to the next; returns their number, or 0 as soon as there
 * are more than GATHER_RUNS_MAX before the split (gather instead). */
static size_t gather_runs(const int32_t *off, size_t count, gather_run *run)
{
    size_t runs = 0, found = 0;
    for (size_t i = 0; i < count; found++) {
        if (found == GATHER_RUNS_MAX)
            return 0;
        const int32_t base = off[i];
        int s = i + 1 < count && off[i + 1] == base + 2 ? 2 : 1;
        size_t l = 1, most = s == 1 ? 16 : 8;
        while (i + l < count && l < most && off[i + l] == base + s * (int32_t)l)
            l++;
        for (size_t at = i; at < i + l;) { /* at most two pieces: l <= 16 */
            size_t chunk = at / 16, piece = (chunk + 1) * 16 - at;
            if (piece > i + l - at)
                piece = i + l - at;
            run[runs++] = (gather_run){ .off = off[at], .chunk = (unsigned)chunk,
                                        .lane = (unsigned)(at % 16), .len = (unsigned)piece, .step = s };
            at += piece;
        }
        i += l;
    }
    return runs;
}

/* One register of a panel row: its runs [first, end) loaded into zeros,
 * `inside` the lanes within the image.  (A function per register, not an
 * array indexed by run: that put the registers in memory, twice as slow.) */
CPU_AVX512 static inline __attribute__((always_inline)) __m512 gather_chunk(const gather_run *run, const __m512i *pick,
                                                                           size_t first, size_t end, uint32_t inside,
                                                                           const float *src)
{
    __m512 v = _mm512_setzero_ps();
    for (size_t r = first; r < end; r++) {
        const gather_run *q = &run[r];
        const uint32_t lanes = ((1u << q->len) - 1) << q->lane;
        const uint32_t in = inside & lanes;
        const float *from = src + q->off;
        if (q->step == 1) {
            /* lane + i reads from[i]; the lanes below `lane` are masked off
             * and never touched */
            const float *base = (const float *)((uintptr_t)from - q->lane * sizeof(float));
            v = _mm512_mask_loadu_ps(v, (__mmask16)in, base);
        } else {
            /* the mask's bit i moved to 2i (pdep: BMI2, which every
             * AVX-512 CPU has; the shifts and masks it replaced cost the
             * forward convolution 3%) */
            __m512 span = _mm512_maskz_loadu_ps((__mmask16)_pdep_u32(in >> q->lane, 0x5555u), from);
            v = _mm512_mask_permutexvar_ps(v, (__mmask16)lanes, pick[r], span);
        }
    }
    return v;
}

/* Four runs of four in lanes 0-3, 4-7, 8-11, 12-15 (a weight gradient's
 * row: kj = 0..3 of four (c, ki)): one load each, its lanes of `inside`
 * as the mask, nothing worked out per run. */
CPU_AVX512 static inline __attribute__((always_inline)) __m512 gather_quads(const gather_run *run, uint32_t inside,
                                                                           const float *src)
{
    __m512 v = _mm512_maskz_loadu_ps((__mmask16)(inside & 0xfu), src + run[0].off);
    v = _mm512_mask_loadu_ps(v, (__mmask16)(inside & 0xf0u), src + run[1].off - 4);
    v = _mm512_mask_loadu_ps(v, (__mmask16)(inside & 0xf00u), src + run[2].off - 8);
    return _mm512_mask_loadu_ps(v, (__mmask16)(inside & 0xf000u), src + run[3].off - 12);
}

CPU_AVX512 static void gather_pack(const cpu_gather *g, size_t r0, size_t c0, size_t rows, size_t cols, float *dst)
{
    /* a panel spans NR columns (two 16-lane chunks) and walks the rows */
    const int32_t *off_c = g->coff + c0, *off_r = g->roff + r0;
    const int bounded = g->ry != NULL;
    const int32_t *y_c = bounded ? g->cy + c0 : NULL, *x_c = bounded ? g->cx + c0 : NULL;
    const int32_t *y_r = bounded ? g->ry + r0 : NULL, *x_r = bounded ? g->rx + r0 : NULL;
    const __m512i hv = _mm512_set1_epi32(g->h), wv = _mm512_set1_epi32(g->w);
    const __m512i lane_ix = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t j0 = 0; j0 < cols; j0 += NR) {
        size_t len = cols - j0 < NR ? cols - j0 : NR;
        __m512i off[2], yv[2] = { _mm512_setzero_si512(), _mm512_setzero_si512() }, xv[2] = { yv[0], yv[1] };
        __mmask16 live[2];
        for (size_t c = 0; c < 2; c++) {
            size_t have = len > 16 * c ? len - 16 * c : 0;
            live[c] = (__mmask16)(have >= 16 ? 0xffffu : (1u << have) - 1);
            off[c] = _mm512_maskz_loadu_epi32(live[c], off_c + j0 + 16 * c);
            if (bounded) {
                yv[c] = _mm512_maskz_loadu_epi32(live[c], y_c + j0 + 16 * c);
                xv[c] = _mm512_maskz_loadu_epi32(live[c], x_c + j0 + 16 * c);
            }
        }
        /* the panel's runs of offsets 1 apart (at most 16 long) or 2 apart
         * (at most 8: a stride-2 convolution's row of patches) */
        gather_run run[2 * GATHER_RUNS_MAX];
        size_t runs = gather_runs(off_c + j0, len, run), runs0 = 0;
        /* a stride-2 run's lanes lane + i take float 2i of what is loaded */
        __m512i pick[2 * GATHER_RUNS_MAX];
        int quads = runs == 8;
        for (size_t r = 0; r < runs; r++) {
            runs0 += run[r].chunk == 0;
            if (run[r].step == 2)
                pick[r] = _mm512_slli_epi32(_mm512_sub_epi32(lane_ix, _mm512_set1_epi32((int)run[r].lane)), 1);
            quads &= run[r].step == 1 && run[r].len == 4 && run[r].lane == 4 * (r % 4);
        }
        for (size_t p = 0; p < rows; p++) {
            const __m512i o = _mm512_set1_epi32(off_r[p]);
            __mmask16 m0 = live[0], m1 = live[1];
            if (bounded) {
                const __m512i yr = _mm512_set1_epi32(y_r[p]), xr = _mm512_set1_epi32(x_r[p]);
                m0 = _mm512_mask_cmplt_epu32_mask(m0, _mm512_add_epi32(yv[0], yr), hv);
                m0 = _mm512_mask_cmplt_epu32_mask(m0, _mm512_add_epi32(xv[0], xr), wv);
                m1 = _mm512_mask_cmplt_epu32_mask(m1, _mm512_add_epi32(yv[1], yr), hv);
                m1 = _mm512_mask_cmplt_epu32_mask(m1, _mm512_add_epi32(xv[1], xr), wv);
            }
            __m512 v0, v1;
            if (quads) {
                const float *src = g->src + off_r[p];
                v0 = gather_quads(run, m0, src);
                v1 = gather_quads(run + 4, m1, src);
            } else if (runs) {
                const float *src = g->src + off_r[p];
                v0 = gather_chunk(run, pick, 0, runs0, m0, src);
                v1 = gather_chunk(run, pick, runs0, runs, m1, src);
            } else {
                v0 = m0 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, _mm512_add_epi32(off[0], o), g->src, 4)
                        : _mm512_setzero_ps();
                v1 = m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, _mm512_add_epi32(off[1], o), g->src, 4)
                        : _mm512_setzero_ps();
            }
            _mm512_store_ps(dst, v0);
            _mm512_store_ps(dst + 16, v1);
            dst += NR;
        }
    }
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
    .gather_pack = gather_pack,
    .pack_planes = pack_planes,
};

#endif /* CPU_X86 */
