/* PNG files through libpng: the header, or the pixels as 8-bit gray or
 * RGB (16-bit samples scaled with rounding, palettes and low bit depths
 * expanded; an alpha channel stays in the buffer, outside the view). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <png.h>

#include "core/image.h"
#include "core/png_error.h"

typedef struct png_ctx {
    gantry__png_error err; /* first: libpng's error pointer is the context */
    int own_message;       /* err.msg is ours, not libpng's */
    uint8_t *data;         /* the pixels, owned here until handed over */
    png_bytep *rows;
} png_ctx;

/* Ends reading with the message just put in ctx->err.msg. */
static void fail(png_structp png, png_ctx *ctx)
{
    ctx->own_message = 1;
    png_longjmp(png, 1);
}

static int palette_is_gray(png_structp png, png_infop info)
{
    png_colorp palette = NULL;
    int n = 0;
    if (png_get_PLTE(png, info, &palette, &n) != PNG_INFO_PLTE)
        return 0;
    for (int i = 0; i < n; i++)
        if (palette[i].red != palette[i].green || palette[i].green != palette[i].blue)
            return 0;
    return 1;
}

/* Reads the pixels once png_read_info has run. */
static void read_pixels(png_structp png, png_infop info, png_ctx *ctx, gantry__image *img)
{
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (depth == 16)
        png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t channels = png_get_channels(png, info), row = png_get_rowbytes(png, info);
    ctx->data = malloc(h * row);
    ctx->rows = malloc(h * sizeof *ctx->rows);
    if (!ctx->data || !ctx->rows) {
        snprintf(ctx->err.msg, sizeof ctx->err.msg, "out of memory for %zux%zu pixels", w, h);
        fail(png, ctx);
    }
    for (size_t y = 0; y < h; y++)
        ctx->rows[y] = ctx->data + y * row;
    png_read_image(png, ctx->rows);
    /* What follows the pixels (text, IEND) is not read: an image whose
     * pixels are all there loads, as in PIL. */
    img->view = (gantry__image_view){ ctx->data, w, h, channels >= 3 ? 3 : 1, row, channels, 1 };
}

/* The header into `info` and, when `img` is non-NULL, the pixels.  Every
 * local used after setjmp returns a second time is set before it and never
 * changed; what is allocated lives in *ctx. */
static int run(FILE *fp, png_ctx *ctx, gantry__image_info *info, gantry__image *img)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, gantry__png_on_error,
                                                 gantry__png_on_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(ctx->err.msg, sizeof ctx->err.msg, "cannot create a libpng reader");
        ctx->own_message = 1;
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, pinfo);
    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    int color = png_get_color_type(png, pinfo);
    info->gray = !(color & PNG_COLOR_MASK_COLOR) || (color == PNG_COLOR_TYPE_PALETTE && palette_is_gray(png, pinfo));
    if (info->width * info->height > GANTRY__MAX_IMAGE_PIXELS) {
        snprintf(ctx->err.msg, sizeof ctx->err.msg, "%zux%zu pixels, more than the %zu accepted", info->width,
                 info->height, GANTRY__MAX_IMAGE_PIXELS);
        fail(png, ctx);
    }
    if (img)
        read_pixels(png, pinfo, ctx, img);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return 0;
}

gantry_status gantry__png_read(FILE *fp, const char *path, gantry__image_info *info, gantry__image *img)
{
    png_ctx ctx = { { "" }, 0, NULL, NULL };
    int failed = run(fp, &ctx, info, img);
    free(ctx.rows);
    if (failed) {
        free(ctx.data);
        if (ctx.own_message)
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: %s", path, ctx.err.msg);
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: corrupt or truncated PNG (libpng: %s)", path, ctx.err.msg);
    }
    if (img)
        img->data = ctx.data;
    return GANTRY_OK;
}
