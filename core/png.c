/* PNG sample grids through libpng, laid out like torchvision's make_grid. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "core/atomic_file.h"
#include "core/png_error.h"
#include "gantry/io.h"
#include "gantry/status.h"

/* Like torchvision: clamp to [-1, 1], map to [0, 1], then
 * mul(255).add_(0.5).clamp_(0, 255) and truncate to uint8, all in float. */
static uint8_t to_pixel(float v)
{
    if (!(v >= -1.0f)) /* also NaN */
        v = -1.0f;
    if (v > 1.0f)
        v = 1.0f;
    float t = (v + 1.0f) / 2.0f;
    t = t * 255.0f;
    t = t + 0.5f;
    if (t > 255.0f)
        t = 255.0f;
    return (uint8_t)t;
}

/* libpng's own writer reports a failed fwrite as "Write Error" only; this one
 * keeps the system's reason (e.g. a full disk) in the atomic file for the
 * caller's message. */
static void write_bytes(png_structp png, png_bytep data, size_t length)
{
    if (gantry__atomic_write(png_get_io_ptr(png), data, length) != GANTRY_OK)
        png_error(png, "write failed");
}

static void flush_nothing(png_structp png)
{
    (void)png; /* the atomic file's commit flushes */
}

/* Everything that can longjmp lives here.  The only locals used after the
 * setjmp returns a second time are `png` and `info`, which are assigned
 * before setjmp and never modified afterwards, so they need no volatile.
 * All buffers are owned by the caller. */
static int encode_png(gantry__atomic_file *af, png_bytep *rows, uint32_t width, uint32_t height, int color_type,
                      gantry__png_error *ctx)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, gantry__png_on_error,
                                              gantry__png_on_warning);
    if (!png) {
        snprintf(ctx->msg, sizeof ctx->msg, "cannot create a libpng writer");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->msg, sizeof ctx->msg, "cannot create a libpng info struct");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, af, write_bytes, flush_nothing);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static gantry_status write_grid(const char *path, const float *images, size_t n, size_t c, size_t h, size_t w,
                                size_t per_row, size_t padding, size_t scale)
{
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "png: empty output path");
    if (!images || n == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: no images to write", path);
    if (c != 1 && c != 3)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %zu channels (a PNG grid needs 1 or 3)", path, c);
    if (h == 0 || w == 0 || per_row == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: bad grid geometry (%zux%zu images, %zu per row)", path,
                                h, w, per_row);

    /* torchvision.utils.make_grid returns a single image as is, unpadded. */
    size_t xmaps, ymaps, pad;
    if (n == 1) {
        xmaps = ymaps = 1;
        pad = 0;
    } else {
        xmaps = per_row < n ? per_row : n;
        ymaps = (n + xmaps - 1) / xmaps;
        pad = padding;
    }
    const size_t limit = 1u << 24; /* far beyond any sample grid, and overflow-safe */
    if (h > limit || w > limit || pad > limit || xmaps > limit || ymaps > limit || scale > 64 ||
        (h * scale + pad) * ymaps + pad > limit || (w * scale + pad) * xmaps + pad > limit)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: grid of %zu %zux%zu images is too large", path, n, h,
                                w);
    size_t gh = ymaps * (h * scale + pad) + pad;
    size_t gw = xmaps * (w * scale + pad) + pad;
    size_t row_bytes = gw * c;
    if (gh > SIZE_MAX / row_bytes)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: grid is too large", path);

    uint8_t *pixels = calloc(gh, row_bytes); /* pad_value 0 */
    png_bytep *rows = malloc(gh * sizeof *rows);
    if (!pixels || !rows) {
        free(pixels);
        free(rows);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate a %zux%zu grid", path, gw, gh);
    }
    for (size_t k = 0; k < n; k++) {
        size_t y0 = (k / xmaps) * (h * scale + pad) + pad;
        size_t x0 = (k % xmaps) * (w * scale + pad) + pad;
        const float *img = images + k * c * h * w;
        for (size_t y = 0; y < h * scale; y++)
            for (size_t x = 0; x < w * scale; x++)
                for (size_t ch = 0; ch < c; ch++)
                    pixels[(y0 + y) * row_bytes + (x0 + x) * c + ch] =
                        to_pixel(img[(ch * h + y / scale) * w + x / scale]);
    }
    for (size_t y = 0; y < gh; y++)
        rows[y] = pixels + y * row_bytes;

    gantry__atomic_file af;
    gantry_status s = gantry__atomic_open(&af, path);
    if (s == GANTRY_OK) {
        gantry__png_error ctx = { "" };
        if (encode_png(&af, rows, (uint32_t)gw, (uint32_t)gh, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                       &ctx) != 0) {
            int err = af.write_errno;
            gantry__atomic_abort(&af);
            if (err)
                s = gantry_set_error(GANTRY_IO, "%s: write failed: %s", path, strerror(err));
            else
                s = gantry_set_error(GANTRY_IO, "%s: PNG encoding failed: %s", path, ctx.msg);
        } else {
            s = gantry__atomic_commit(&af, false);
        }
    }
    free(rows);
    free(pixels);
    return s;
}

gantry_status gantry_png_write_grid(const char *path, const float *images, size_t n, size_t c, size_t h, size_t w,
                                    size_t per_row, size_t padding)
{
    return write_grid(path, images, n, c, h, w, per_row, padding, 1);
}

gantry_status gantry_png_write_samples(const char *path, const float *images, size_t n, size_t c, size_t h, size_t w,
                                       size_t per_row)
{
    const size_t pad = 2, min_width = 512;
    size_t across = n < per_row ? n : per_row, scale = 1;
    while (across && w && across * (w * scale + pad) + pad < min_width && scale < 64)
        scale++;
    return write_grid(path, images, n, c, h, w, per_row, pad, scale);
}
