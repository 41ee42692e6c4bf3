/* gantry cpu backend: the data movement of convolution as GEMM (im2col and
 * its adjoint col2im) and the reshuffles around it (swap_axes, copy_rows).
 *
 * im2col: a thread takes one contiguous range of (col row, image) units and
 * so writes one contiguous stretch of col; the kh*kw consecutive rows of an
 * input channel read the same n image planes, which stay in cache.  A unit
 * of at most GATHER_MAX values (every DCGAN layer) is one loop through a
 * table of plane offsets built once per col row; a larger one goes row by
 * row: zeros for the padding either side and a contiguous copy (stride 1)
 * or strided gather in between.  Values are copied, never computed: NaN
 * and Inf pass through and the result is the reference's bits.
 *
 * col2im gathers (with the AVX-512 kernels by output rows, below, else by
 * tiles): a thread owns a tile of x (several whole planes of one
 * channel, or one plane, a band of rows or part of a row: at most TILE_MAX
 * values), sums into double accumulators every col entry that reads from
 * it, (ki, kj) ascending as the reference does, and rounds each once.  No
 * two threads write the same element, and every element sees the
 * reference's additions in the reference's order, so the result is its
 * bits on any thread count.  Each (ki, kj) pass over a tile reads one
 * contiguous stretch of a col row, which the hardware prefetches well
 * (reading the kh*kw rows a few floats at a time, per plane, was 2-4x
 * slower).
 *
 * swap_axes copies runs of `inner` floats (whole runs in x's order when
 * they are long, a tiled transpose when they are short); copy_rows copies
 * rows, split into column chunks when there are fewer rows than threads.
 * Nothing here allocates; the tables and accumulators live on the stack. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

#include "../conv_sequence.h"

#if CPU_X86
#include <immintrin.h>
#endif

/* col2im accumulates at most this many image values at a time (doubles on
 * the stack): a whole plane up to 64 x 64. */
#define TILE_MAX 4096
/* im2col gathers outputs of up to this many values per image through a
 * table (int32 on the stack). */
#define GATHER_MAX 1024
/* swap_axes: runs shorter than this are transposed in TILE x TILE blocks. */
#define SWAP_MEMCPY_MIN 16
#define SWAP_TILE 32

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* The output positions o in [0, count) whose input position o*stride + k -
 * pad lies in [lo, hi): [*first, *last), empty when *first >= *last. */
static void valid_range(size_t count, size_t stride, size_t k, size_t pad, size_t lo, size_t hi, size_t *first,
                        size_t *last)
{
    /* o*stride >= lo + pad - k and o*stride < hi + pad - k */
    size_t f = lo + pad > k ? ceil_div(lo + pad - k, stride) : 0;
    size_t l = hi + pad > k ? ceil_div(hi + pad - k, stride) : 0;
    *first = cpu_min_size(f, count);
    *last = cpu_min_size(l, count);
}

/* Valid output ranges per kernel offset, for offsets below KTAB over the
 * whole image; larger kernels and partial tiles compute theirs. */
#define KTAB 32

typedef struct axis_plan {
    size_t count, stride, pad, extent; /* oh, sh, ph, h (or the w axis) */
    size_t first[KTAB], last[KTAB];
} axis_plan;

static void axis_init(axis_plan *p, size_t count, size_t stride, size_t pad, size_t extent, size_t k)
{
    p->count = count;
    p->stride = stride;
    p->pad = pad;
    p->extent = extent;
    for (size_t i = 0; i < k && i < KTAB; i++)
        valid_range(count, stride, i, pad, 0, extent, &p->first[i], &p->last[i]);
}

/* The outputs whose input position for kernel offset k lies in [lo, hi). */
static inline void axis_range(const axis_plan *p, size_t k, size_t lo, size_t hi, size_t *first, size_t *last)
{
    if (k < KTAB && lo == 0 && hi == p->extent) {
        *first = p->first[k];
        *last = p->last[k];
    } else {
        valid_range(p->count, p->stride, k, p->pad, lo, hi, first, last);
    }
}

/* ---- im2col ------------------------------------------------------------- */

/* One (col row, image) unit: oh rows of ow values for kernel offset (ki,
 * kj) of the image plane xs; [oy0, oy1) x [ox0, ox1) read the image, the
 * rest is padding. */
static inline void im2col_unit(const gantry_conv_geometry *g, const float *xs, float *dst, size_t ki, size_t kj,
                               size_t oy0, size_t oy1, size_t ox0, size_t ox1)
{
    const size_t ow = g->ow, sw = g->sw, len = ox1 - ox0;
    for (size_t i = 0; i < oy0 * ow; i++)
        dst[i] = 0.0f;
    for (size_t oy = oy0; oy < oy1; oy++) {
        float *d = dst + oy * ow;
        /* The image column of ox0 (>= 0 by valid_range), then every sw-th. */
        const float *s = xs + (oy * g->sh + ki - g->ph) * g->w + (ox0 * sw + kj - g->pw);
        for (size_t ox = 0; ox < ox0; ox++)
            d[ox] = 0.0f;
        if (sw == 1) {
            for (size_t i = 0; i < len; i++)
                d[ox0 + i] = s[i];
        } else if (sw == 2) {
            for (size_t i = 0; i < len; i++)
                d[ox0 + i] = s[i * 2];
        } else {
            for (size_t i = 0; i < len; i++)
                d[ox0 + i] = s[i * sw];
        }
        for (size_t ox = ox1; ox < ow; ox++)
            d[ox] = 0.0f;
    }
    for (size_t i = oy1 * ow; i < g->oh * ow; i++)
        dst[i] = 0.0f;
}

/* Floats as their bits, to mask them without a branch. */
typedef uint32_t __attribute__((may_alias)) bits32;

/* d[i] = s[idx[i]] & keep[i] for i < n. */
static void gather_masked(const bits32 *s, bits32 *d, const uint32_t *idx, const uint32_t *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[idx[i]] & keep[i];
}

#if CPU_X86
/* The same, eight at a time with AVX2's gather (1.6x the scalar loop's
 * speed on DCGAN's 64-channel im2col). */
CPU_AVX2 static void gather_masked_avx2(const bits32 *s, bits32 *d, const uint32_t *idx, const uint32_t *keep,
                                        size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i at = _mm256_loadu_si256((const __m256i *)(idx + i));
        __m256i mask = _mm256_loadu_si256((const __m256i *)(keep + i));
        __m256i v = _mm256_i32gather_epi32((const int *)s, at, 4);
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_and_si256(v, mask));
    }
    gather_masked(s, d + i, idx + i, keep + i, n - i);
}
#endif

/* The plane offset each of the oh*ow outputs of kernel offset (ki, kj)
 * reads (0 in the padding) and a mask that keeps the value read (all ones)
 * or turns it into +0.0 (zero, in the padding): with a branch per value
 * on the padding pattern instead, DCGAN's 64-channel im2col took 1.4x as
 * long. */
static void gather_table(const gantry_conv_geometry *g, size_t ki, size_t kj, size_t oy0, size_t oy1, size_t ox0,
                         size_t ox1, uint32_t *idx, uint32_t *keep)
{
    for (size_t oy = 0; oy < g->oh; oy++)
        for (size_t ox = 0; ox < g->ow; ox++) {
            int inside = oy >= oy0 && oy < oy1 && ox >= ox0 && ox < ox1;
            idx[oy * g->ow + ox] = inside ? (uint32_t)((oy * g->sh + ki - g->ph) * g->w + (ox * g->sw + kj - g->pw)) : 0;
            keep[oy * g->ow + ox] = inside ? UINT32_MAX : 0;
        }
}

gantry_status cpu_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *cp = cpu_f(col);
    const size_t kk = g->kh * g->kw, plane = g->h * g->w, opl = g->oh * g->ow;
    const size_t units = g->c * kk * g->n; /* (ci, ki, kj, b): col's order */
    axis_plan py, px;
    axis_init(&py, g->oh, g->sh, g->ph, g->h, g->kh);
    axis_init(&px, g->ow, g->sw, g->pw, g->w, g->kw);
    int t = cpu_threads_for(c, units * opl, CPU_GRAIN);
    /* Each thread takes one contiguous range of units and walks it with
     * counters (a division per unit costs as much as a small unit). */
#pragma omp parallel num_threads(t) if (t > 1)
    {
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t u = units / nt * id + cpu_min_size(id, units % nt);
        size_t end = u + units / nt + (id < units % nt);
        size_t b = u % g->n, r = u / g->n;
        while (u < end) {
            size_t kj = r % g->kw, ki = (r / g->kw) % g->kh, ci = r / kk;
            size_t oy0, oy1, ox0, ox1;
            axis_range(&py, ki, 0, g->h, &oy0, &oy1);
            axis_range(&px, kj, 0, g->w, &ox0, &ox1);
            if (ox0 >= ox1)
                oy1 = oy0; /* all padding */
            const float *xs = xp + ci * plane;
            if (opl <= GATHER_MAX && plane <= UINT32_MAX) {
                /* Small outputs: one gather through a table of plane
                 * offsets and padding masks, built once per col row. */
                uint32_t idx[GATHER_MAX], keep[GATHER_MAX];
                gather_table(g, ki, kj, oy0, oy1, ox0, ox1, idx, keep);
                for (; b < g->n && u < end; b++, u++) {
                    const bits32 *s = (const bits32 *)(xs + b * g->c * plane);
                    bits32 *d = (bits32 *)(cp + u * opl);
#if CPU_X86
                    if (c->avx2 && plane <= INT32_MAX) { /* the gather's indices are signed */
                        gather_masked_avx2(s, d, idx, keep, opl);
                        continue;
                    }
#endif
                    gather_masked(s, d, idx, keep, opl);
                }
            } else {
                for (; b < g->n && u < end; b++, u++)
                    im2col_unit(g, xs + b * g->c * plane, cp + u * opl, ki, kj, oy0, oy1, ox0, ox1);
            }
            b = 0;
            r++;
        }
    }
    return GANTRY_OK;
}

/* ---- col2im ------------------------------------------------------------- */

/* A tile's accumulators hold each row split by column residue: with a
 * column stride sw, the image columns one (ki, kj) pass adds to are every
 * sw-th, so with each row of the tile stored as its residue classes one
 * after the other, each pass adds one contiguous run of col to one
 * contiguous run of accumulators (vectorised), instead of a strided one.
 * A class holds ceil(tw / sw) columns; a row of tw columns has min(sw, tw)
 * classes. */
static inline size_t class_len(size_t tw, size_t sw)
{
    return ceil_div(tw, sw);
}

static inline size_t row_len(size_t tw, size_t sw)
{
    return cpu_min_size(sw, tw) * class_len(tw, sw);
}

/* Rows [y0, y1) x columns [x0, x1) of nb image planes (b0 + bb, ci) into
 * out (image stride c*h*w, row stride w): acc = x (beta 1) or 0, plus every
 * col entry im2col reads from it, (ki, kj) ascending as the reference adds
 * them.  Each (ki, kj) pass reads one contiguous stretch of its col row. */
static void col2im_tile(const gantry_conv_geometry *g, const axis_plan *py, const axis_plan *px, const float *cp,
                        size_t cols, size_t b0, size_t nb, size_t ci, size_t y0, size_t y1, size_t x0, size_t x1,
                        float *out, float beta)
{
    double acc[TILE_MAX];
    const size_t tw = x1 - x0, th = y1 - y0, sw = g->sw, w = g->w, plane = g->c * g->h * w;
    const size_t cw = class_len(tw, sw), rl = row_len(tw, sw), tp = th * rl, opl = g->oh * g->ow;
    /* the accumulator of tile column xr in a row */
#define COL2IM_AT(xr) ((xr) % sw * cw + (xr) / sw)
    if (beta != 0.0f) {
        for (size_t bb = 0; bb < nb; bb++)
            for (size_t y = 0; y < th; y++)
                for (size_t xr = 0; xr < tw; xr++)
                    acc[bb * tp + y * rl + COL2IM_AT(xr)] = out[bb * plane + y * w + xr];
    } else {
        for (size_t i = 0; i < nb * tp; i++)
            acc[i] = 0.0;
    }
    for (size_t ki = 0; ki < g->kh; ki++) {
        size_t oy0, oy1;
        axis_range(py, ki, y0, y1, &oy0, &oy1);
        if (oy0 >= oy1)
            continue;
        for (size_t kj = 0; kj < g->kw; kj++) {
            size_t ox0, ox1;
            axis_range(px, kj, x0, x1, &ox0, &ox1);
            if (ox0 >= ox1)
                continue;
            const size_t len = ox1 - ox0, r = (ci * g->kh + ki) * g->kw + kj;
            /* image row oy*sh + ki - ph, column ox*sw + kj - pw; successive
             * ox are successive accumulators of one residue class */
            const size_t xr0 = ox0 * sw + kj - g->pw - x0;
            const size_t a0 = (oy0 * g->sh + ki - g->ph - y0) * rl + COL2IM_AT(xr0);
            const size_t astep = g->sh * rl;
            for (size_t bb = 0; bb < nb; bb++) {
                const float *s = cp + r * cols + (b0 + bb) * opl + oy0 * g->ow + ox0;
                double *a = acc + bb * tp + a0;
                for (size_t oy = oy0; oy < oy1; oy++, s += g->ow, a += astep)
                    for (size_t i = 0; i < len; i++)
                        a[i] += s[i];
            }
        }
    }
    for (size_t bb = 0; bb < nb; bb++)
        for (size_t y = 0; y < th; y++) {
            const double *a = acc + bb * tp + y * rl;
            float *o = out + bb * plane + y * w;
            if (sw == 2) {
                for (size_t m = 0; m < tw / 2; m++) {
                    o[2 * m] = (float)a[m];
                    o[2 * m + 1] = (float)a[cw + m];
                }
                if (tw % 2)
                    o[tw - 1] = (float)a[tw / 2];
            } else {
                for (size_t xr = 0; xr < tw; xr++)
                    o[xr] = (float)a[COL2IM_AT(xr)];
            }
        }
#undef COL2IM_AT
}

#if CPU_X86
/* col2im by output rows, AVX-512 (beta 0): for each image row and each
 * residue class of its columns (x = xc + sw m) the col entries that read
 * from it are the same (ki, kj) taps, at column offsets ox = d + m; eight
 * outputs of a class at a time sum their taps in a register, (ki, kj)
 * ascending as the tiles do, in double, and are rounded once.  A tap whose
 * ox falls outside the row adds -0.0, which leaves every double as it is,
 * so the sums are the tiles' bits.  Where the tiles read and write an
 * accumulator in memory per tap, this keeps it in a register; COL2IM_NB
 * images of a channel go together, reading the tables once: the DCGAN's
 * 64 x 64 x 14 x 14 col2im 0.63 -> 0.33 ms (Zen 4, 2 threads).  The
 * tables: per image row its taps' (ki, oy) as offsets, per class and chunk
 * of eight its taps' (kj, d) as offsets and the lanes inside the row. */
typedef struct col2im_tap {
    int64_t off;  /* kj * cols + d + m0: from the row's (ki, oy) start */
    uint32_t lanes; /* the chunk's lanes whose ox lies in the row */
} col2im_tap;

typedef struct col2im_plan {
    size_t classes, chunks; /* min(sw, w) classes of at most 8 * chunks outputs */
    int32_t *rows;          /* [h]: taps per image row */
    int64_t *row_off;       /* [h][kh]: ((ki * kw) * cols + oy * ow) of each */
    int32_t *taps;          /* [classes][chunks]: taps per chunk of a class */
    col2im_tap *tap;        /* [classes][chunks][kw] */
} col2im_plan;

static void *col2im_plan_init(const gantry_conv_geometry *g, size_t cols, col2im_plan *t)
{
    const size_t classes = cpu_min_size(g->sw, g->w), chunks = ceil_div(ceil_div(g->w, g->sw), 8);
    const size_t bytes = g->h * sizeof(int32_t) + g->h * g->kh * sizeof(int64_t) +
                         classes * chunks * sizeof(int32_t) + classes * chunks * g->kw * sizeof(col2im_tap);
    char *mem = malloc(bytes);
    if (!mem)
        return NULL;
    t->classes = classes;
    t->chunks = chunks;
    t->row_off = (int64_t *)mem;
    t->tap = (col2im_tap *)(t->row_off + g->h * g->kh);
    t->rows = (int32_t *)(t->tap + classes * chunks * g->kw);
    t->taps = t->rows + g->h;
    for (size_t y = 0; y < g->h; y++) {
        int32_t n = 0;
        for (size_t ki = 0; ki < g->kh; ki++) {
            int64_t num = (int64_t)y + (int64_t)g->ph - (int64_t)ki;
            if (num < 0 || num % (int64_t)g->sh != 0 || num / (int64_t)g->sh >= (int64_t)g->oh)
                continue;
            t->row_off[y * g->kh + (size_t)n++] =
                (int64_t)(ki * g->kw * cols) + num / (int64_t)g->sh * (int64_t)g->ow;
        }
        t->rows[y] = n;
    }
    for (size_t xc = 0; xc < classes; xc++) {
        const int64_t mcount = (int64_t)ceil_div(g->w - xc, g->sw);
        for (size_t k = 0; k < chunks; k++) {
            int32_t n = 0;
            const int64_t m0 = (int64_t)(k * 8);
            for (size_t kj = 0; kj < g->kw; kj++) {
                int64_t num = (int64_t)xc + (int64_t)g->pw - (int64_t)kj;
                if (((num % (int64_t)g->sw) + (int64_t)g->sw) % (int64_t)g->sw != 0)
                    continue;
                /* lanes i with 0 <= d + m0 + i < ow and m0 + i < mcount */
                const int64_t d = num / (int64_t)g->sw;
                int64_t lo = -(d + m0), hi = (int64_t)g->ow - (d + m0);
                hi = hi < mcount - m0 ? hi : mcount - m0;
                hi = hi < 8 ? hi : 8;
                lo = lo > 0 ? lo : 0;
                if (lo >= hi)
                    continue;
                t->tap[(xc * chunks + k) * g->kw + (size_t)n++] =
                    (col2im_tap){ .off = (int64_t)(kj * cols) + d + m0,
                                  .lanes = ((1u << hi) - 1) & ~((1u << lo) - 1) };
            }
            t->taps[xc * chunks + k] = n;
        }
    }
    return mem;
}

/* Eight outputs of one class chunk in image row y of `nb` (1 or
 * COL2IM_NB) planes, whose col rows start at plane + i * pstride, as
 * doubles summed in (ki, kj) order: the tables are read once for all. */
#define COL2IM_NB 4
CPU_AVX512 static inline __attribute__((always_inline)) void col2im_chunk8(const gantry_conv_geometry *g,
                                                                         const col2im_plan *t, const float *plane,
                                                                         size_t pstride, size_t y, size_t xc,
                                                                         size_t k, const int nb, __m512d *acc)
{
    const __m512d neg_zero = _mm512_set1_pd(-0.0);
#pragma GCC unroll 4
    for (int i = 0; i < nb; i++)
        acc[i] = _mm512_setzero_pd();
    const int32_t rows = t->rows[y], taps = t->taps[xc * t->chunks + k];
    const col2im_tap *tap = t->tap + (xc * t->chunks + k) * g->kw;
    for (int32_t a = 0; a < rows; a++) {
        const uintptr_t row = (uintptr_t)plane + (uintptr_t)(t->row_off[y * g->kh + (size_t)a] * 4);
        for (int32_t e = 0; e < taps; e++) {
            /* lanes outside the row are masked off and never read */
            const uintptr_t from = row + (uintptr_t)(tap[e].off * 4);
            const __mmask8 lanes = (__mmask8)tap[e].lanes;
#pragma GCC unroll 4
            for (int i = 0; i < nb; i++) {
                __m512 f = _mm512_maskz_loadu_ps((__mmask16)lanes, (const float *)(from + i * pstride * 4));
                acc[i] = _mm512_add_pd(acc[i], _mm512_mask_cvtps_pd(neg_zero, lanes, _mm512_castps512_ps256(f)));
            }
        }
    }
}

CPU_AVX512 static inline __attribute__((always_inline)) void col2im_planes_body(const gantry_conv_geometry *g,
                                                                              const col2im_plan *t,
                                                                              const float *plane, size_t pstride,
                                                                              float *out, size_t ostride,
                                                                              const int nb)
{
    const size_t sw = g->sw, w = g->w;
    const __m512i interleave = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    __m512d ev[COL2IM_NB], od[COL2IM_NB];
    for (size_t y = 0; y < g->h; y++) {
        float *o = out + y * w;
        if (sw == 2 && w >= 2) {
            for (size_t k = 0; k < t->chunks; k++) {
                col2im_chunk8(g, t, plane, pstride, y, 0, k, nb, ev);
                col2im_chunk8(g, t, plane, pstride, y, 1, k, nb, od);
                size_t left = w - 16 * k, n = left < 16 ? left : 16;
#pragma GCC unroll 4
                for (int i = 0; i < nb; i++) {
                    __m512 both = _mm512_permutex2var_ps(_mm512_castps256_ps512(_mm512_cvtpd_ps(ev[i])), interleave,
                                                         _mm512_castps256_ps512(_mm512_cvtpd_ps(od[i])));
                    _mm512_mask_storeu_ps(o + i * ostride + 16 * k, (__mmask16)((1u << n) - 1), both);
                }
            }
            continue;
        }
        for (size_t xc = 0; xc < t->classes; xc++) {
            const size_t mcount = ceil_div(w - xc, sw);
            for (size_t k = 0; k < t->chunks && 8 * k < mcount; k++) {
                col2im_chunk8(g, t, plane, pstride, y, xc, k, nb, ev);
                size_t n = mcount - 8 * k < 8 ? mcount - 8 * k : 8;
                for (int i = 0; i < nb; i++) {
                    __m256 v = _mm512_cvtpd_ps(ev[i]);
                    float *oi = o + i * ostride;
                    if (sw == 1) {
                        _mm512_mask_storeu_ps(oi + 8 * k, (__mmask16)((1u << n) - 1), _mm512_castps256_ps512(v));
                    } else {
                        float tmp[8];
                        _mm256_storeu_ps(tmp, v);
                        for (size_t j = 0; j < n; j++)
                            oi[xc + sw * (8 * k + j)] = tmp[j];
                    }
                }
            }
        }
    }
}

/* `nb` (up to COL2IM_NB) consecutive images of one channel. */
CPU_AVX512 static void col2im_planes_avx512(const gantry_conv_geometry *g, const col2im_plan *t, const float *plane,
                                            float *out, size_t nb)
{
    const size_t pstride = g->oh * g->ow, ostride = g->c * g->h * g->w;
    if (nb == COL2IM_NB)
        col2im_planes_body(g, t, plane, pstride, out, ostride, COL2IM_NB);
    else
        for (size_t i = 0; i < nb; i++)
            col2im_planes_body(g, t, plane + i * pstride, pstride, out + i * ostride, ostride, 1);
}

/* col2im with beta 0 by output rows on the AVX-512 kernels' CPUs; 0 when
 * its tables could not be allocated (the tiles then do it). */
static int col2im_by_rows(const cpu_ctx *c, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g)
{
    col2im_plan t;
    const size_t cols = g->n * g->oh * g->ow;
    void *mem = col2im_plan_init(g, cols, &t);
    if (!mem)
        return 0;
    const float *cp = cpu_cf(col);
    float *xp = cpu_f(x);
    int threads = cpu_threads_for(c, g->n * g->c * g->h * g->w * g->kh * g->kw / (g->sh * g->sw), CPU_GRAIN);
    /* (ci, b) order: consecutive units read consecutive stretches of the
     * same col rows */
    const size_t groups = ceil_div(g->n, COL2IM_NB), units = g->c * groups;
#pragma omp parallel for num_threads(threads) if (parallel : threads > 1) schedule(static)
    for (size_t u = 0; u < units; u++) {
        size_t ci = u / groups, b = u % groups * COL2IM_NB, nb = cpu_min_size(COL2IM_NB, g->n - b);
        col2im_planes_avx512(g, &t, cp + ci * g->kh * g->kw * cols + b * g->oh * g->ow,
                             xp + (b * g->c + ci) * g->h * g->w, nb);
    }
    free(mem);
    return 1;
}
#endif

gantry_status cpu_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta)
{
    const cpu_ctx *c = ctx;
#if CPU_X86
    /* with the AVX-512 kernels; GANTRY_CPU_GEMM=avx2 and portable run the
     * tiles, so tests compare both (the same bits).  By rows with AVX2, four
     * doubles a register, masked loads and blends, gained 11% on the
     * DCGAN's col2im: left to the tiles. */
    if (beta == 0.0f && c->kernels->isa == CPU_ISA_AVX512 && col2im_by_rows(c, col, x, g))
        return GANTRY_OK;
#endif
    const float *cp = cpu_cf(col);
    float *xp = cpu_f(x);
    const size_t cols = g->n * g->oh * g->ow, plane = g->h * g->w;
    axis_plan py, px;
    axis_init(&py, g->oh, g->sh, g->ph, g->h, g->kh);
    axis_init(&px, g->ow, g->sw, g->pw, g->w, g->kw);
    int t = cpu_threads_for(c, g->n * g->c * plane * g->kh * g->kw / (g->sh * g->sw), CPU_GRAIN);
    /* Tiles of at most TILE_MAX accumulators (a row of tile_w columns takes
     * row_len): several whole planes of one channel (as many as fit, fewer
     * when that would leave threads without work), one plane, a band of
     * whole rows, or part of a row. */
    size_t tile_w = cpu_min_size(g->w, TILE_MAX);
    if (row_len(tile_w, g->sw) > TILE_MAX)
        tile_w = TILE_MAX / 2; /* row_len(tw, sw) < 2 tw */
    const size_t rl = row_len(tile_w, g->sw), tile_h = cpu_min_size(g->h, TILE_MAX / rl);
    const size_t bands = ceil_div(g->h, tile_h), pieces = ceil_div(g->w, tile_w);
    const size_t per_plane = bands * pieces;
    size_t nb = per_plane == 1 ? cpu_min_size(g->n, TILE_MAX / (g->h * rl)) : 1;
    size_t spread = g->n * g->c / (4 * (size_t)t);
    if (nb > spread)
        nb = spread > 1 ? spread : 1;
    const size_t groups = ceil_div(g->n, nb), units = g->c * groups * per_plane;
    /* Units in (ci, batch group, tile) order: consecutive units read
     * consecutive stretches of the same kh*kw rows of col. */
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t u = 0; u < units; u++) {
        size_t tile = u % per_plane, grp = u / per_plane % groups, ci = u / per_plane / groups;
        size_t b0 = grp * nb, nbu = cpu_min_size(nb, g->n - b0);
        size_t y0 = tile / pieces * tile_h, x0 = tile % pieces * tile_w;
        size_t y1 = cpu_min_size(g->h, y0 + tile_h), x1 = cpu_min_size(g->w, x0 + tile_w);
        col2im_tile(g, &py, &px, cp, cols, b0, nbu, ci, y0, y1, x0, x1,
                    xp + (b0 * g->c + ci) * plane + y0 * g->w + x0, beta);
    }
    return GANTRY_OK;
}

/* ---- swap_axes ---------------------------------------------------------- */

gantry_status cpu_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, a * b * inner, CPU_GRAIN);
    if (inner >= SWAP_MEMCPY_MIN) {
        /* x's runs in order: each thread reads one contiguous stretch
         * (faster than writing one: the reads are what the core waits on). */
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < a; i++)
            for (size_t j = 0; j < b; j++)
                memcpy(yp + (j * a + i) * inner, xp + (i * b + j) * inner, inner * sizeof *yp);
        return GANTRY_OK;
    }
    /* Short runs: TILE x TILE blocks of (j, i), so both sides stay in cache. */
    const size_t jt = ceil_div(b, SWAP_TILE), it = ceil_div(a, SWAP_TILE), tiles = jt * it;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t tile = 0; tile < tiles; tile++) {
        size_t j0 = tile / it * SWAP_TILE, i0 = tile % it * SWAP_TILE;
        size_t j1 = cpu_min_size(b, j0 + SWAP_TILE), i1 = cpu_min_size(a, i0 + SWAP_TILE);
        if (inner == 1) {
            for (size_t j = j0; j < j1; j++)
                for (size_t i = i0; i < i1; i++)
                    yp[j * a + i] = xp[i * b + j];
        } else {
            for (size_t j = j0; j < j1; j++)
                for (size_t i = i0; i < i1; i++) {
                    float *d = yp + (j * a + i) * inner;
                    const float *s = xp + (i * b + j) * inner;
                    for (size_t k = 0; k < inner; k++)
                        d[k] = s[k];
                }
        }
    }
    return GANTRY_OK;
}

/* ---- copy_rows ---------------------------------------------------------- */

gantry_status cpu_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, rows * cols, CPU_GRAIN);
    /* Fewer rows than threads: split each row into chunks as well. */
    size_t per_row = rows >= (size_t)t ? 1 : ceil_div((size_t)t, rows);
    size_t chunk = ceil_div(cols, per_row);
    per_row = ceil_div(cols, chunk);
    const size_t units = rows * per_row;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t u = 0; u < units; u++) {
        size_t r = u / per_row, c0 = u % per_row * chunk;
        size_t len = cpu_min_size(chunk, cols - c0);
        memcpy(yp + r * ldy + c0, xp + r * ldx + c0, len * sizeof *yp);
    }
    return GANTRY_OK;
}

/* ---- the convolution ops ---------------------------------------------------- */

/* Implicit GEMM: the products read their operands straight from the images
 * through index tables (cpu_gather: their B; A is the weights or the
 * swapped dy, stored) and write the forward's output straight
 * into [n, o, oh, ow] (cpu_scatter), on the same packed kernels, blocking
 * and order of operations as cpu_gemm_own, so each op gives the bits of the
 * sequence in ../conv_sequence.h (test cpu_conv) without writing the column
 * matrix and the swapped output side and reading them back.
 * conv2d_backward_data still writes its column matrix for col2im (its
 * product's B comes from dy directly).
 *
 * Measured on a 2-core Zen 4 (docs/benchmarks.md), DCGAN training step:
 * with the AVX-512 kernels 81.6 -> 78.5 ms; with the AVX2 kernels the 8-lane
 * packers (masked loads, gathers: both slow on AMD's cores) made it slower
 * (79 -> 82.5 ms), so AVX2 and portable kernels run the sequence.  The
 * input gradient by phases (each phase of the stride a stride-1
 * convolution of dy, spread into dx, no col2im) gained 0.6% with AVX-512
 * and lost 9% with AVX2; its bits differ from the sequence's, so both
 * instruction sets would have had to take it: not kept.  The sequence also
 * runs when our kernels are not the GEMM path (GANTRY_CPU_GEMM=openblas),
 * when an image is too large for int32 offsets, or for matrix-vector
 * shapes. */
static const conv_sequence_ops cpu_conv_sequence = { cpu_im2col, cpu_col2im, cpu_swap_axes, cpu_gemm };

/* Implicit GEMM where our kernels pack gathered operands fast (AVX-512:
 * see gemm_avx512.c), the images fit int32 offsets and the products are
 * matrix-matrix.  Elsewhere the sequence, which gives the same bits. */
static int conv_implicit(const cpu_ctx *c, size_t o, const gantry_conv_geometry *g)
{
    const size_t limit = (size_t)INT32_MAX;
    size_t np = g->n * g->oh * g->ow, ckk = g->c * g->kh * g->kw;
    return c->gemm_path == CPU_GEMM_OWN && c->kernels->gather_pack && g->n * g->c * g->h * g->w < limit &&
           o * np < limit && o * ckk < limit && ckk * np < limit && o > 1 && np > 1 && ckk > 1;
}

/* Which op's tables: each op builds its own layout (see conv_tables_build). */
enum { TABLES_FORWARD, TABLES_DATA, TABLES_WEIGHT };

static size_t conv_table_entries(int op, size_t o, const gantry_conv_geometry *g)
{
    const size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    return op == TABLES_FORWARD ? 3 * ckk + 5 * np : op == TABLES_DATA ? o + np : 3 * ckk + 3 * np;
}

static void conv_tables_build(int op, size_t o, const gantry_conv_geometry *g, int32_t *m);

static int same_geometry(const gantry_conv_geometry *a, const gantry_conv_geometry *b)
{
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->kh == b->kh && a->kw == b->kw &&
           a->sh == b->sh && a->sw == b->sw && a->ph == b->ph && a->pw == b->pw && a->oh == b->oh && a->ow == b->ow;
}

static int32_t *tables_find(cpu_ctx *c, int op, size_t o, const gantry_conv_geometry *g)
{
    for (size_t i = 0; i < c->conv_table_count; i++) {
        const cpu_conv_tables *t = &c->conv_tables[i];
        if (t->op == op && t->o == o && same_geometry(&t->g, g))
            return t->mem;
    }
    return NULL;
}

/* The index tables of op `op` for (o, g): kept from an earlier call, or
 * built (outside the lock) and kept; *owned is set when the list is full
 * and the caller must free them.  Building them took 9% of the DCGAN's
 * first convolution, on one thread while the other waited. */
static gantry_status conv_tables(cpu_ctx *c, int op, size_t o, const gantry_conv_geometry *g, const char *name,
                                 int32_t **out, int *owned)
{
    *owned = 0;
    pthread_mutex_lock(&c->conv_lock);
    *out = tables_find(c, op, o, g);
    pthread_mutex_unlock(&c->conv_lock);
    if (*out)
        return GANTRY_OK;
    const size_t count = conv_table_entries(op, o, g);
    int32_t *mem = malloc(count * sizeof *mem);
    if (!mem)
        return cpu_error(c, GANTRY_OUT_OF_MEMORY, "cpu: %s: no memory for %zu index entries", name, count);
    conv_tables_build(op, o, g, mem);
    pthread_mutex_lock(&c->conv_lock);
    *out = tables_find(c, op, o, g); /* another thread may have been first */
    if (!*out && c->conv_table_count < CPU_CONV_TABLES) {
        c->conv_tables[c->conv_table_count++] = (cpu_conv_tables){ .op = op, .o = o, .g = *g, .mem = mem };
        *out = mem;
        mem = NULL;
    }
    pthread_mutex_unlock(&c->conv_lock);
    if (*out) {
        free(mem);
        return GANTRY_OK;
    }
    *out = mem;
    *owned = 1;
    return GANTRY_OK;
}

/* im2col(x)'s rows (c, ki, kj): offset, ki, kj. */
static void patch_rows(const gantry_conv_geometry *g, int32_t *off, int32_t *ky, int32_t *kx)
{
    size_t r = 0;
    for (size_t ci = 0; ci < g->c; ci++)
        for (size_t ki = 0; ki < g->kh; ki++)
            for (size_t kj = 0; kj < g->kw; kj++, r++) {
                off[r] = (int32_t)((ci * g->h + ki) * g->w + kj);
                ky[r] = (int32_t)ki;
                kx[r] = (int32_t)kj;
            }
}

/* im2col(x)'s columns (b, oy, ox): offset of the patch's corner and its
 * position, which lies in the padding for the first and last ones. */
static void patch_cols(const gantry_conv_geometry *g, int32_t *off, int32_t *py, int32_t *px)
{
    size_t j = 0;
    for (size_t b = 0; b < g->n; b++)
        for (size_t oy = 0; oy < g->oh; oy++)
            for (size_t ox = 0; ox < g->ow; ox++, j++) {
                int64_t y0 = (int64_t)(oy * g->sh) - (int64_t)g->ph, x0 = (int64_t)(ox * g->sw) - (int64_t)g->pw;
                off[j] = (int32_t)((int64_t)(b * g->c * g->h * g->w) + y0 * (int64_t)g->w + x0);
                py[j] = (int32_t)y0;
                px[j] = (int32_t)x0;
            }
}

/* The output side [n, o, oh, ow] as a matrix [o, n*oh*ow]: column (b, p)
 * at b*o*P + p, rows P apart; run[j]: the columns left in j's image. */
static void output_cols(const gantry_conv_geometry *g, size_t o, int32_t *off, int32_t *run)
{
    size_t pixels = g->oh * g->ow, j = 0;
    for (size_t b = 0; b < g->n; b++)
        for (size_t p = 0; p < pixels; p++, j++) {
            off[j] = (int32_t)(b * o * pixels + p);
            if (run)
                run[j] = (int32_t)(pixels - p);
        }
}

/* im2col(x) [ckk, np] (or its transpose) as a gathered operand, its tables
 * (3 ckk + 3 np entries, patch_rows then patch_cols) at m. */
static cpu_gather im2col_gather(const gantry_conv_geometry *g, gantry_mem x, const int32_t *m, int transposed)
{
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    const int32_t *patch = m, *pos = m + 3 * ckk;
    cpu_gather b = { .src = cpu_cf(x), .h = (int32_t)g->h, .w = (int32_t)g->w };
    const int32_t *rows = transposed ? pos : patch, *cols = transposed ? patch : pos;
    size_t nr = transposed ? np : ckk, nc = transposed ? ckk : np;
    b.roff = rows;
    b.ry = rows + nr;
    b.rx = rows + 2 * nr;
    b.coff = cols;
    b.cy = cols + nc;
    b.cx = cols + 2 * nc;
    return b;
}

/* 0, 1, ..., count - 1 times `scale`. */
static void strided(int32_t *t, size_t count, size_t scale)
{
    for (size_t i = 0; i < count; i++)
        t[i] = (int32_t)(i * scale);
}

/* forward: im2col's tables, then the output's columns and runs;
 * backward_data: swap_axes(dy)'s row and column offsets; weight: im2col's. */
static void conv_tables_build(int op, size_t o, const gantry_conv_geometry *g, int32_t *m)
{
    const size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    if (op == TABLES_DATA) {
        strided(m, o, g->oh * g->ow);
        output_cols(g, o, m + o, NULL);
        return;
    }
    patch_rows(g, m, m + ckk, m + 2 * ckk);
    patch_cols(g, m + 3 * ckk, m + 3 * ckk + np, m + 3 * ckk + 2 * np);
    if (op == TABLES_FORWARD)
        output_cols(g, o, m + 3 * ckk + 3 * np, m + 3 * ckk + 4 * np);
}

/* The ops of one layer take one path (it follows from o and g), so what
 * `kept` says is in work was left by that path: the sequence's column
 * matrix and swapped dy, or (implicit) nothing the implicit ops read. */
gantry_status cpu_conv2d_forward(void *ctx, gantry_mem x, gantry_mem w, gantry_mem y, size_t o,
                                 const gantry_conv_geometry *g, gantry_mem work, unsigned kept)
{
    cpu_ctx *c = ctx;
    if (!conv_implicit(c, o, g))
        return conv_sequence_forward(&cpu_conv_sequence, ctx, x, w, y, o, g, work, kept);
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    int32_t *mem;
    int owned;
    GANTRY_TRY(conv_tables(c, TABLES_FORWARD, o, g, "conv2d_forward", &mem, &owned));
    cpu_gather b = im2col_gather(g, x, mem, 0);
    /* C = y as [o, np] */
    const int32_t *out = mem + 3 * ckk + 3 * np;
    cpu_scatter cs = { .coff = out, .run = out + np };
    cpu_gemm_gathered(c, 0, o, np, ckk, cpu_cf(w), ckk, &b, 0.0f, cpu_f(y), g->oh * g->ow, &cs); /* W [o, ckk] */
    if (owned)
        free(mem);
    return GANTRY_OK;
}

#if CPU_X86
/* col2im of each image as soon as a thread's product has computed its
 * columns, while they are still in that core's caches (after the whole
 * product they come back from L3 or memory, half of them written by the
 * other core): the images of each column range, in groups of COL2IM_NB
 * but at the range's end. */
typedef struct col2im_pieces {
    const gantry_conv_geometry *g;
    const col2im_plan *plan;
    const float *col;
    float *dx;
    const size_t *split; /* column ranges, at image boundaries */
    size_t *next;        /* per range: its first image not yet done */
} col2im_pieces;

static void col2im_done(void *user, size_t range, size_t end)
{
    col2im_pieces *q = user;
    const gantry_conv_geometry *g = q->g;
    const size_t pixels = g->oh * g->ow, cols = g->n * pixels, complete = end / pixels;
    const int last = end == q->split[range + 1];
    for (size_t b = q->next[range]; b < complete; b += COL2IM_NB) {
        size_t nb = cpu_min_size(COL2IM_NB, complete - b);
        if (nb < COL2IM_NB && !last)
            break;
        for (size_t ci = 0; ci < g->c; ci++)
            col2im_planes_avx512(g, q->plan, q->col + ci * g->kh * g->kw * cols + b * pixels,
                                 q->dx + (b * g->c + ci) * g->h * g->w, nb);
        q->next[range] = b + nb;
    }
}

/* Columns a piece of the product takes: a few panels, whose column matrix
 * (ckk rows) stays in L2 until col2im reads it. */
#define PIECE_BYTES ((size_t)384 << 10)

/* The implicit backward_data, col2im piece by piece (AVX-512 kernels, beta
 * 0): 0 when it does not apply (the caller then runs the product and col2im
 * in turn, the same bits).  A is packed into the work buffer's second part,
 * which the implicit path does not otherwise use. */
static int backward_data_pieces(cpu_ctx *c, const cpu_gather *b, const float *w, size_t o,
                                const gantry_conv_geometry *g, gantry_mem work, gantry_mem col, gantry_mem dx)
{
    const size_t ckk = g->c * g->kh * g->kw, pixels = g->oh * g->ow, np = g->n * pixels;
    const size_t threads = cpu_min_size((size_t)cpu_threads_for(c, ckk * np * o, CPU_GRAIN * 8), g->n);
    if (c->kernels->isa != CPU_ISA_AVX512 || cpu_gemm_packed_a_floats(c->kernels, ckk, o) > o * np)
        return 0;
    col2im_plan plan;
    void *mem = col2im_plan_init(g, np, &plan);
    size_t *split = malloc((2 * threads + 1) * sizeof *split);
    if (!mem || !split) {
        free(mem);
        free(split);
        return 0;
    }
    col2im_pieces q = { .g = g, .plan = &plan, .col = cpu_cf(col), .dx = cpu_f(dx), .split = split,
                        .next = split + threads + 1 };
    for (size_t t = 0; t <= threads; t++) {
        split[t] = g->n * t / threads * pixels;
        if (t < threads)
            q.next[t] = g->n * t / threads;
    }
    const size_t nr = c->kernels->nr;
    size_t piece = PIECE_BYTES / (ckk * sizeof(float)) / nr * nr;
    piece = piece < nr ? nr : piece > CPU_NC ? CPU_NC : piece;
    gantry_mem packed;
    conv_sequence_split(g, work, &col, &packed);
    cpu_gemm_gathered_pieces(c, 1, ckk, o, w, ckk, b, cpu_f(col), np, cpu_f(packed), threads, split, piece,
                             col2im_done, &q);
    free(mem);
    free(split);
    return 1;
}
#endif

gantry_status cpu_conv2d_backward_data(void *ctx, gantry_mem dy, gantry_mem w, gantry_mem dx, size_t o,
                                       const gantry_conv_geometry *g, gantry_mem work, unsigned kept)
{
    cpu_ctx *c = ctx;
    if (!conv_implicit(c, o, g))
        return conv_sequence_backward_data(&cpu_conv_sequence, ctx, dy, w, dx, o, g, work, kept);
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    int32_t *mem;
    int owned;
    GANTRY_TRY(conv_tables(c, TABLES_DATA, o, g, "conv2d_backward_data", &mem, &owned));
    /* B = swap_axes(dy) [o, np] */
    cpu_gather b = { .src = cpu_cf(dy), .roff = mem, .coff = mem + o };
    gantry_mem col, unused;
    conv_sequence_split(g, work, &col, &unused);
    int done = 0;
#if CPU_X86
    done = backward_data_pieces(c, &b, cpu_cf(w), o, g, work, col, dx);
#endif
    if (!done)
        cpu_gemm_gathered(c, 1, ckk, np, o, cpu_cf(w), ckk, &b, 0.0f, cpu_f(col), np, NULL); /* W^T [ckk, o] */
    if (owned)
        free(mem);
    return done ? GANTRY_OK : cpu_col2im(ctx, col, dx, g, 0.0f);
}

gantry_status cpu_conv2d_backward_weight(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem dw, size_t o,
                                         const gantry_conv_geometry *g, float beta, gantry_mem work, unsigned kept)
{
    cpu_ctx *c = ctx;
    if (!conv_implicit(c, o, g))
        return conv_sequence_backward_weight(&cpu_conv_sequence, ctx, x, dy, dw, o, g, beta, work, kept);
    const size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow, pixels = g->oh * g->ow;
    int32_t *mem;
    int owned;
    GANTRY_TRY(conv_tables(c, TABLES_WEIGHT, o, g, "conv2d_backward_weight", &mem, &owned));
    cpu_gather b = im2col_gather(g, x, mem, 1); /* im2col(x)^T [np, ckk] */
    /* A = dy [n, o, P] as [o, np]: packed from where it lies, 8 pixels of a
     * plane at a time (D.2 of the DCGAN: 4.78 -> 4.46 ms, D.0 0.37 ->
     * 0.32 ms against a swap into work first); one pixel a plane is A^T;
     * planes of a few pixels are swapped first (every 8 would cross into
     * the next image). */
    gantry_status s = GANTRY_OK;
    if (pixels >= 8) {
        const cpu_planes a = { .src = cpu_cf(dy), .rows = o, .plane = pixels };
        cpu_gemm_planes_gathered(c, o, ckk, np, &a, &b, beta, cpu_f(dw), ckk);
    } else if (pixels == 1) {
        cpu_gemm_gathered(c, 1, o, ckk, np, cpu_cf(dy), o, &b, beta, cpu_f(dw), ckk, NULL);
    } else {
        gantry_mem unused, swapped;
        conv_sequence_split(g, work, &unused, &swapped);
        s = cpu_swap_axes(ctx, dy, swapped, g->n, o, pixels);
        if (!s)
            cpu_gemm_gathered(c, 0, o, ckk, np, cpu_cf(swapped), np, &b, beta, cpu_f(dw), ckk, NULL);
    }
    if (owned)
        free(mem);
    return s;
}
