/* JPEG files through libjpeg(-turbo): the header, or the pixels as 8-bit
 * gray or RGB with libjpeg's defaults (the DCT and upsampling PIL uses). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/image.h"

typedef struct jpeg_ctx {
    /* first, so that libjpeg's pointer to it is one to the context; here,
     * not on run()'s stack, so that it stays valid across longjmp */
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 64];
    uint8_t *data; /* the pixels, owned here until handed over */
} jpeg_ctx;

static void fail(jpeg_ctx *ctx)
{
    longjmp(ctx->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_ctx *ctx = (jpeg_ctx *)(void *)cinfo;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    snprintf(ctx->msg, sizeof ctx->msg, "corrupt or truncated JPEG (libjpeg: %s)", text);
    fail(ctx);
}

/* libjpeg only warns where pixels are lost (a file cut short, damaged
 * entropy-coded data) and fills in gray; such an image is refused, as PIL
 * refuses a truncated one.  Other warnings are harmless. */
static void on_message(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                        code == JWRN_MUST_RESYNC))
        on_error_exit(cinfo);
}

static void read_pixels(jpeg_ctx *ctx, int gray, gantry__image *img)
{
    j_decompress_ptr c = &ctx->cinfo;
    c->out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(c);
    size_t w = c->output_width, h = c->output_height, comps = (size_t)c->output_components, row = w * comps;
    ctx->data = malloc(h * row);
    if (!ctx->data) {
        snprintf(ctx->msg, sizeof ctx->msg, "out of memory for %zux%zu pixels", w, h);
        fail(ctx);
    }
    while (c->output_scanline < c->output_height) {
        JSAMPROW rows[1] = { ctx->data + (size_t)c->output_scanline * row };
        jpeg_read_scanlines(c, rows, 1);
    }
    jpeg_finish_decompress(c);
    img->view = (gantry__image_view){ ctx->data, w, h, comps, row, comps, 1 };
}

/* The header into `info` and, when `img` is non-NULL, the pixels; the
 * caller destroys ctx->cinfo. */
static int run(FILE *fp, jpeg_ctx *ctx, gantry__image_info *info, gantry__image *img)
{
    j_decompress_ptr c = &ctx->cinfo;
    c->err = jpeg_std_error(&ctx->mgr);
    ctx->mgr.error_exit = on_error_exit;
    ctx->mgr.emit_message = on_message;
    if (setjmp(ctx->jump))
        return -1;
    jpeg_create_decompress(c);
    jpeg_stdio_src(c, fp);
    jpeg_read_header(c, TRUE);
    info->width = c->image_width;
    info->height = c->image_height;
    info->gray = c->jpeg_color_space == JCS_GRAYSCALE;
    if (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK) {
        snprintf(ctx->msg, sizeof ctx->msg, "a CMYK JPEG (only gray and colour JPEGs are read)");
        fail(ctx);
    }
    if (info->width * info->height > GANTRY__MAX_IMAGE_PIXELS) {
        snprintf(ctx->msg, sizeof ctx->msg, "%zux%zu pixels, more than the %zu accepted", info->width,
                 info->height, GANTRY__MAX_IMAGE_PIXELS);
        fail(ctx);
    }
    if (img)
        read_pixels(ctx, info->gray, img);
    return 0;
}

gantry_status gantry__jpeg_read(FILE *fp, const char *path, gantry__image_info *info, gantry__image *img)
{
    jpeg_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
    int failed = run(fp, ctx, info, img);
    jpeg_destroy_decompress(&ctx->cinfo);
    gantry_status s = GANTRY_OK;
    if (failed) {
        free(ctx->data);
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: %s", path, ctx->msg);
    } else if (img) {
        img->data = ctx->data;
    }
    free(ctx);
    return s;
}
