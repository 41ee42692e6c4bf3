/* A .npy array of images as a data set: its layout told from the shape,
 * float values mapped to bytes (the rules are in gantry/data.h). */
#include <math.h>
#include <stdlib.h>

#include "core/dataset_impl.h"
#include "core/npy.h"

typedef struct npy_layout {
    size_t n, c, h, w;
    size_t image, channel, row, pixel; /* element steps */
} npy_layout;

static int is_channels(size_t v)
{
    return v == 1 || v == 3 || v == 4;
}

static gantry_status find_layout(const char *path, const gantry__npy_array *a, npy_layout *l)
{
    const size_t *s = a->shape;
    if (a->ndim == 3) {
        *l = (npy_layout){ s[0], 1, s[1], s[2], s[1] * s[2], 0, s[2], 1 };
    } else if (a->ndim == 4 && is_channels(s[1]) && (!is_channels(s[3]) || s[2] == s[3])) {
        *l = (npy_layout){ s[0], s[1], s[2], s[3], s[1] * s[2] * s[3], s[2] * s[3], s[3], 1 };
    } else if (a->ndim == 4 && is_channels(s[3])) {
        *l = (npy_layout){ s[0], s[3], s[1], s[2], s[1] * s[2] * s[3], 1, s[2] * s[3], s[3] };
    } else {
        return gantry_set_error(GANTRY_UNSUPPORTED,
                                "%s: an array of %d dimensions without 1, 3 or 4 channels; images are "
                                "[N, C, H, W], [N, H, W, C] (C 1, 3 or 4) or [N, H, W]",
                                path, a->ndim);
    }
    if (l->n == 0 || l->h == 0 || l->w == 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: the array holds no pixels (a dimension is 0)", path);
    return GANTRY_OK;
}

/* For float data: whether it lies in [-1, 1] rather than [0, 1]; an error
 * for NaN or a value outside both. */
static gantry_status float_range(const char *path, const float *v, size_t n, int *is_signed)
{
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: value %zu is NaN", path, i);
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (lo < -1.0f || hi > 1.0f)
        return gantry_set_error(GANTRY_UNSUPPORTED,
                                "%s: float values from %g to %g; float images must lie in [0, 1] or [-1, 1]", path,
                                (double)lo, (double)hi);
    *is_signed = lo < 0.0f;
    return GANTRY_OK;
}

static uint8_t float_byte(float v, int is_signed)
{
    double x = is_signed ? ((double)v + 1.0) * 127.5 : (double)v * 255.0;
    return (uint8_t)floor(x + 0.5);
}

static void copy_images(const gantry__npy_array *a, const npy_layout *l, int is_signed, gantry_dataset *ds)
{
    const uint8_t *bytes = a->data;
    const float *floats = a->data;
    uint8_t *dst = ds->storage->pixels;
    for (size_t i = 0; i < ds->count; i++)
        for (size_t k = 0; k < ds->channels; k++)
            for (size_t y = 0; y < l->h; y++)
                for (size_t x = 0; x < l->w; x++) {
                    size_t at = i * l->image + k * l->channel + y * l->row + x * l->pixel;
                    *dst++ = a->dtype == GANTRY__NPY_U8 ? bytes[at] : float_byte(floats[at], is_signed);
                }
}

gantry_status gantry__npy_images_load(const char *path, size_t limit, gantry_dataset **out)
{
    gantry__npy_array a;
    GANTRY_TRY(gantry__npy_read_array(path, &a));
    npy_layout l = { 0, 0, 0, 0, 0, 0, 0, 0 };
    int is_signed = 0;
    gantry_status s = find_layout(path, &a, &l);
    if (s == GANTRY_OK && a.dtype == GANTRY__NPY_F32)
        s = float_range(path, a.data, l.n * l.image, &is_signed);
    size_t count = limit && limit < l.n ? limit : l.n;
    gantry_dataset *ds = NULL;
    /* a fourth channel is alpha: left out */
    if (s == GANTRY_OK)
        s = gantry__dataset_alloc(count, l.c == 1 ? 1 : 3, l.h, l.w, 0, path, &ds);
    if (s == GANTRY_OK) {
        copy_images(&a, &l, is_signed, ds);
        ds->kind = "npy";
        *out = ds;
    }
    free(a.data);
    return s;
}
