/* Loading a folder of PNGs: the first load (decoding on every core, then
 * writing the cache), the second (the cache, memory-mapped), and the same
 * folder at another image size (decoded again, its own cache file).
 *
 *   bench_image_folder [COUNT [SIDE [OTHER_SIDE]]]    (10000 64 32)
 *
 * The images (COUNT RGB PNGs of SIDE x SIDE in 10 class folders) and the
 * cache are made in a temporary directory, removed at the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "gantry/data.h"
#include "gantry/status.h"
#include "test.h"
#include "test_files.h"
#include "test_images.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of every thread so far (user and system): on a busy machine
 * the wall time says little. */
static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* A smooth picture with a little noise, so that it compresses as photos do. */
static void make_images(const char *dir, size_t count, size_t side)
{
    REQUIRE(mkdir(dir, 0755) == 0);
    char path[700];
    for (int c = 0; c < 10; c++) {
        snprintf(path, sizeof path, "%s/class%d", dir, c);
        REQUIRE(mkdir(path, 0755) == 0);
    }
    uint8_t *img = malloc(3 * side * side);
    REQUIRE(img);
    uint32_t x = 7;
    for (size_t i = 0; i < count; i++) {
        for (size_t k = 0; k < 3 * side * side; k++) {
            x = x * 1103515245u + 12345u;
            size_t c = k / (side * side), p = k % (side * side);
            img[k] = (uint8_t)(p / side * 2 + p % side + c * 40 + i + (x >> 28));
        }
        snprintf(path, sizeof path, "%s/class%zu/%06zu.png", dir, i % 10, i);
        write_png_planes(path, side, side, 3, img);
    }
    free(img);
}

static double timed_open(const char *dir, size_t size, const char *cache, const char *what)
{
    gantry_data_options o = { size, 0, cache, 0, NULL, NULL, NULL };
    gantry_dataset *ds = NULL;
    double t0 = now(), c0 = cpu();
    gantry_status s = gantry_dataset_open(dir, "train", 0, &o, &ds);
    double t = now() - t0, c = cpu() - c0;
    if (s != GANTRY_OK) {
        fprintf(stderr, "bench_image_folder: %s\n", gantry_last_error());
        exit(1);
    }
    printf("%-34s %7.3f s, %6.3f s CPU  (%zu images of %zux%zux%zu%s)\n", what, t, c, ds->count, ds->channels,
           ds->height, ds->width, ds->from_cache ? ", from the cache" : "");
    gantry_dataset_destroy(ds);
    return t;
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t side = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    size_t other = argc > 3 ? strtoul(argv[3], NULL, 10) : 32;
    test_tmp_init("bench-images");
    char dir[600], cache[600];
    snprintf(dir, sizeof dir, "%s", tp("images"));
    snprintf(cache, sizeof cache, "%s", tp("cache"));
    double t0 = now();
    make_images(dir, count, side);
    printf("made %zu PNGs of %zux%zu in %.1f s\n", count, side, side, now() - t0);
    char what[64];
    timed_open(dir, 0, cache, "first load (decode, write cache)");
    timed_open(dir, 0, cache, "second load (cache)");
    snprintf(what, sizeof what, "at %zux%zu (decode, write cache)", other, other);
    timed_open(dir, other, cache, what);
    snprintf(what, sizeof what, "at %zux%zu again (cache)", other, other);
    timed_open(dir, other, cache, what);
    timed_open(dir, 0, "", "without a cache (decode only)");
    remove_tree(tmp_root);
    return 0;
}
