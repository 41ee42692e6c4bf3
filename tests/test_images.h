/* Image files for the io tests, written with libpng and libjpeg directly
 * (not through gantry).  Every failure is fatal (REQUIRE). */
#ifndef GANTRY_TEST_IMAGES_H
#define GANTRY_TEST_IMAGES_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "test.h"

/* A PNG of `color_type` (PNG_COLOR_TYPE_*) and `depth` bits: `data` holds
 * the rows, w * (samples per pixel) samples each, 16-bit ones big-endian;
 * `palette` (RGB triples) serves PNG_COLOR_TYPE_PALETTE. */
static inline void write_png(const char *path, size_t w, size_t h, int color_type, int depth, const uint8_t *data,
                             const uint8_t *palette, int palette_size)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    REQUIRE(info);
    REQUIRE(setjmp(png_jmpbuf(png)) == 0);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color colors[256];
    for (int i = 0; palette && i < palette_size; i++)
        colors[i] = (png_color){ palette[3 * i], palette[3 * i + 1], palette[3 * i + 2] };
    if (palette)
        png_set_PLTE(png, info, colors, palette_size);
    png_write_info(png, info);
    size_t samples = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
                     : color_type == PNG_COLOR_TYPE_GRAY_ALPHA                               ? 2
                     : color_type == PNG_COLOR_TYPE_RGB                                      ? 3
                                                                                             : 4;
    size_t row = (w * samples * (size_t)depth + 7) / 8;
    for (size_t y = 0; y < h; y++)
        png_write_row(png, data + y * row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    REQUIRE(fclose(f) == 0);
}

/* An 8-bit gray or RGB PNG from `channels` planes of w x h (NCHW). */
static inline void write_png_planes(const char *path, size_t w, size_t h, size_t channels, const uint8_t *planes)
{
    uint8_t *rows = malloc(w * h * channels);
    REQUIRE(rows);
    for (size_t i = 0; i < w * h; i++)
        for (size_t c = 0; c < channels; c++)
            rows[i * channels + c] = planes[c * w * h + i];
    write_png(path, w, h, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, 8, rows, NULL, 0);
    free(rows);
}

/* A baseline JPEG of 1 (gray) or 3 (RGB) interleaved components. */
static inline void write_jpeg(const char *path, size_t w, size_t h, int components, const uint8_t *data, int quality)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(data + (size_t)c.next_scanline * w * (size_t)components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    REQUIRE(fclose(f) == 0);
}

/* Keeps the first `keep` bytes of a file. */
static inline void cut_file(const char *path, long keep)
{
    REQUIRE(truncate(path, keep) == 0);
}

#endif
