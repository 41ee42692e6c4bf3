/* Makes the image sets the end-to-end tests train on, from Fashion-MNIST's
 * IDX files (read through gantry), written with libpng and libjpeg:
 *
 *   make_image_set png    IDX_DIR OUT N   the first N training images as PNG class
 *                                         folders OUT/<label>/<index>.png, the index
 *                                         in IDX order (5 digits)
 *   make_image_set jpeg   IDX_DIR OUT N   the same as JPEG of quality 100
 *   make_image_set tinted IDX_DIR OUT N   32x32 RGB: each garment centred on black and
 *                                         tinted with its class's colour (tint_colors)
 *
 * Prints nothing on success; exits 1 with a message otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gantry/data.h"
#include "tests/test_images.h"

/* Ten colours far apart, one per class; tests/e2e_images.sh names the same. */
static const uint8_t tint_colors[10][3] = {
    { 255, 40, 40 },  { 40, 255, 40 },  { 60, 80, 255 },  { 255, 255, 40 }, { 255, 40, 255 },
    { 40, 255, 255 }, { 255, 140, 20 }, { 150, 60, 255 }, { 255, 255, 255 }, { 120, 200, 60 },
};

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_image_set: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: make_image_set png|jpeg|tinted IDX_DIR OUT N\n");
        return 1;
    }
    const char *kind = argv[1], *out = argv[3];
    size_t n = (size_t)strtoull(argv[4], NULL, 10);
    int png = strcmp(kind, "png") == 0, jpeg = strcmp(kind, "jpeg") == 0, tinted = strcmp(kind, "tinted") == 0;
    if (!png && !jpeg && !tinted) {
        fprintf(stderr, "make_image_set: unknown kind '%s'\n", kind);
        return 1;
    }
    gantry_dataset *ds = NULL;
    if (gantry_dataset_load(argv[2], "train", n, &ds) != GANTRY_OK || !ds->labels || ds->count != n) {
        fprintf(stderr, "make_image_set: %s\n", ds ? "too few labelled images" : gantry_last_error());
        return 1;
    }
    make_dir(out);
    char path[4096];
    for (size_t c = 0; c < ds->num_classes; c++) {
        snprintf(path, sizeof path, "%s/%zu", out, c);
        make_dir(path);
    }
    const size_t h = ds->height, w = ds->width, side = 32;
    uint8_t *rgb = malloc(side * side * 3);
    REQUIRE(rgb);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *img = ds->pixels + i * h * w;
        unsigned label = ds->labels[i];
        snprintf(path, sizeof path, "%s/%u/%05zu.%s", out, label, i, jpeg ? "jpg" : "png");
        if (png) {
            write_png(path, w, h, PNG_COLOR_TYPE_GRAY, 8, img, NULL, 0);
        } else if (jpeg) {
            write_jpeg(path, w, h, 1, img, 100);
        } else {
            memset(rgb, 0, side * side * 3);
            size_t top = (side - h) / 2, left = (side - w) / 2;
            for (size_t y = 0; y < h; y++)
                for (size_t x = 0; x < w; x++)
                    for (int ch = 0; ch < 3; ch++)
                        rgb[((top + y) * side + left + x) * 3 + ch] =
                            (uint8_t)((img[y * w + x] * tint_colors[label % 10][ch] + 127) / 255);
            write_png(path, side, side, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0);
        }
    }
    free(rgb);
    gantry_dataset_destroy(ds);
    return 0;
}
