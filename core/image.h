/* gantry internal: images: PNG and JPEG files (image_file.c, image_png.c,
 * image_jpeg.c), conversion to the target channels and size (image_fit.c)
 * and the resampler (image_resize.c). */
#ifndef GANTRY_CORE_IMAGE_H
#define GANTRY_CORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gantry/status.h"

/* A bound on width * height before any memory is taken for an image (a
 * corrupt or hostile header), near PIL's decompression-bomb limit. */
#define GANTRY__MAX_IMAGE_PIXELS ((size_t)1 << 27)

/* Pixels in memory, interleaved or planar: colour k of pixel (x, y) is at
 * data[y * row_step + x * pixel_step + k * channel_step]. */
typedef struct gantry__image_view {
    const uint8_t *data;
    size_t width, height;
    size_t colors; /* 1 (gray) or 3 (RGB) */
    size_t row_step, pixel_step, channel_step;
} gantry__image_view;

/* What a file's header says. */
typedef struct gantry__image_info {
    size_t width, height;
    int gray; /* gray, gray + alpha, or a palette of grays only */
} gantry__image_info;

/* A decoded image: `data` (malloc'd) holds interleaved 8-bit pixels that
 * `view` describes; alpha, if any, is left in the buffer and not viewed. */
typedef struct gantry__image {
    uint8_t *data;
    gantry__image_view view;
} gantry__image;

/* Opens `path`, tells PNG from JPEG by the content, and reads its header
 * into `info` and, when `img` is non-NULL, its pixels into `img` (the
 * caller frees img->data).  Errors name the path and say what was wrong. */
gantry_status gantry__image_read(const char *path, gantry__image_info *info, gantry__image *img);

/* The same from `fp` at the start of a file of that format. */
gantry_status gantry__png_read(FILE *fp, const char *path, gantry__image_info *info, gantry__image *img);
gantry_status gantry__jpeg_read(FILE *fp, const char *path, gantry__image_info *info, gantry__image *img);

/* Writes `src` as `channels` (1 or 3) planes of `size` x `size` into dst:
 * channel conversion, then the shorter side resized to `size` and a centre
 * crop (see gantry/data.h).  An image already of that size and those
 * channels is copied unchanged. */
gantry_status gantry__image_fit(const gantry__image_view *src, size_t channels, size_t size, uint8_t *dst);

/* One plane of width x height (contiguous rows) resized so that its
 * shorter side is `size` with PIL's BILINEAR resampling, then cropped to
 * size x size around the centre, into dst. */
gantry_status gantry__resize_plane(const uint8_t *src, size_t width, size_t height, size_t size, uint8_t *dst);

#endif
