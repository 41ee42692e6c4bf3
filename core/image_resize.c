/* Resampling one 8-bit plane the way PIL's Image.resize(..., BILINEAR)
 * does (Pillow's Resample.c): a separable triangle filter whose support
 * widens with the scale factor when shrinking, so every input pixel counts
 * (antialiasing); plain bilinear interpolation when growing.  Weights are
 * computed in double, normalised per output pixel, then used in fixed
 * point with PIL's 22 fraction bits; the horizontal pass runs first and is
 * rounded to 8 bits before the vertical one, as in PIL, so results match
 * it.  Only the output pixels inside the centre crop are computed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"

#define PRECISION_BITS 22

/* Per output pixel: the first input pixel and the weights of `count`
 * consecutive ones (at most `ksize`). */
typedef struct taps {
    size_t ksize;
    size_t *first, *count;
    int32_t *weight;
} taps;

static void free_taps(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->weight);
}

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* The taps of output pixels from .. from+n-1 of a resize from in_size to
 * out_size (Pillow's precompute_coeffs and normalize_coeffs_8bpc). */
static int make_taps(size_t in_size, size_t out_size, size_t from, size_t n, taps *t)
{
    double scale = (double)in_size / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filterscale; /* the triangle's support is 1 */
    t->ksize = (size_t)ceil(support) * 2 + 1;
    t->first = malloc(n * sizeof *t->first);
    t->count = malloc(n * sizeof *t->count);
    t->weight = malloc(n * t->ksize * sizeof *t->weight);
    double *w = malloc(t->ksize * sizeof *w);
    if (!t->first || !t->count || !t->weight || !w) {
        free(w);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        double center = ((double)(from + i) + 0.5) * scale;
        /* (long) truncates toward zero, as Pillow's (int) does */
        long lo = (long)(center - support + 0.5), hi = (long)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > (long)in_size)
            hi = (long)in_size;
        size_t count = (size_t)(hi - lo);
        double sum = 0.0;
        for (size_t x = 0; x < count; x++) {
            w[x] = triangle(((double)x + (double)lo - center + 0.5) / filterscale);
            sum += w[x];
        }
        int32_t *k = t->weight + i * t->ksize;
        for (size_t x = 0; x < count; x++)
            k[x] = (int32_t)(0.5 + (sum != 0.0 ? w[x] / sum : w[x]) * (1 << PRECISION_BITS));
        t->first[i] = (size_t)lo;
        t->count[i] = count;
    }
    free(w);
    return 0;
}

static uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* torchvision's CenterCrop offset: Python's round((d) / 2), half to even. */
static size_t crop_offset(size_t d)
{
    size_t half = d / 2;
    return d % 2 == 0 || half % 2 == 0 ? half : half + 1;
}

/* rows lo..hi-1 of src through the horizontal taps into mid (size wide) */
static void horizontal(const uint8_t *src, size_t width, size_t lo, size_t hi, const taps *t, size_t size,
                       uint8_t *mid)
{
    for (size_t r = lo; r < hi; r++) {
        const uint8_t *row = src + r * width;
        for (size_t i = 0; i < size; i++) {
            const int32_t *k = t->weight + i * t->ksize;
            const uint8_t *p = row + t->first[i];
            int32_t acc = 1 << (PRECISION_BITS - 1);
            for (size_t x = 0; x < t->count[i]; x++)
                acc += p[x] * k[x];
            mid[(r - lo) * size + i] = clip8(acc);
        }
    }
}

/* mid (rows from `lo`, `step` apart, size wide) through the vertical taps */
static void vertical(const uint8_t *mid, size_t step, size_t lo, const taps *t, size_t size, int32_t *acc,
                     uint8_t *dst)
{
    for (size_t j = 0; j < size; j++) {
        const int32_t *k = t->weight + j * t->ksize;
        for (size_t i = 0; i < size; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (size_t y = 0; y < t->count[j]; y++) {
            const uint8_t *row = mid + (t->first[j] + y - lo) * step;
            for (size_t i = 0; i < size; i++)
                acc[i] += row[i] * k[y];
        }
        for (size_t i = 0; i < size; i++)
            dst[j * size + i] = clip8(acc[i]);
    }
}

gantry_status gantry__resize_plane(const uint8_t *src, size_t width, size_t height, size_t size, uint8_t *dst)
{
    /* torchvision's Resize(size): the shorter side becomes `size`, the
     * longer int(size * long / short) */
    size_t out_w = size, out_h = size;
    if (width < height)
        out_h = (size_t)((double)size * (double)height / (double)width);
    else if (height < width)
        out_w = (size_t)((double)size * (double)width / (double)height);
    size_t left = crop_offset(out_w - size), top = crop_offset(out_h - size);

    taps ht = { 0 }, vt = { 0 };
    int resize_x = out_w != width, resize_y = out_h != height;
    int ok = (!resize_x || make_taps(width, out_w, left, size, &ht) == 0) &&
             (!resize_y || make_taps(height, out_h, top, size, &vt) == 0);
    /* the source rows the vertical pass reads */
    size_t lo = top, hi = top + size;
    if (ok && resize_y) {
        lo = vt.first[0];
        hi = vt.first[size - 1] + vt.count[size - 1];
    }
    const uint8_t *mid = src + lo * width + left;
    size_t step = width;
    uint8_t *mid_buf = ok && resize_x ? malloc((hi - lo) * size) : NULL;
    int32_t *acc = ok && resize_y ? malloc(size * sizeof *acc) : NULL;
    ok = ok && (!resize_x || mid_buf) && (!resize_y || acc);
    if (ok && resize_x) {
        horizontal(src, width, lo, hi, &ht, size, mid_buf);
        mid = mid_buf;
        step = size;
    }
    if (ok && resize_y) {
        vertical(mid, step, lo, &vt, size, acc, dst);
    } else if (ok) {
        for (size_t j = 0; j < size; j++)
            memcpy(dst + j * size, mid + j * step, size);
    }
    free(acc);
    free(mid_buf);
    free_taps(&ht);
    free_taps(&vt);
    if (!ok)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "resize %zux%zu to %zu: out of memory", width, height, size);
    return GANTRY_OK;
}
