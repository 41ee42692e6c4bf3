/* io suite: folders of PNG and JPEG images as data sets: Fashion-MNIST
 * exported as class folders loads as its IDX files do, colour conversions,
 * bad files skipped and counted, bad folders refused with a clear message,
 * and the cache (hits, corrupt and truncated files rebuilt, an unwritable
 * folder).  Every image is made here, in a private temporary directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gantry/data.h"
#include "gantry/status.h"
#include "test.h"
#include "test_files.h"
#include "test_images.h"

/* What the callbacks saw. */
typedef struct sink {
    int warnings;
    char text[16384]; /* the warnings, one a line */
    int progress_calls;
    int progress_backwards; /* a call with less done than the one before */
    size_t done, total;     /* of the last progress call */
} sink;

static void on_warn(const char *message, void *user)
{
    sink *s = user;
    s->warnings++;
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used, "%s\n", message);
}

static void on_progress(size_t done, size_t total, void *user)
{
    sink *s = user;
    s->progress_backwards |= s->progress_calls > 0 && done < s->done;
    s->progress_calls++;
    s->done = done;
    s->total = total;
}

/* Options reporting into a fresh `s`; no cache unless one is set later. */
static gantry_data_options options(sink *s, size_t size, size_t channels)
{
    memset(s, 0, sizeof *s);
    gantry_data_options o = { size, channels, "", 0, on_warn, on_progress, s };
    return o;
}

static int mentions(const sink *s, const char *needle)
{
    return strstr(s->text, needle) != NULL;
}

static gantry_dataset *open_ok(const char *dir, size_t limit, const gantry_data_options *o)
{
    gantry_dataset *ds = NULL;
    CHECK_OK(gantry_dataset_open(dir, "train", limit, o, &ds));
    REQUIRE(ds);
    return ds;
}

static int all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void make_dir(const char *path)
{
    REQUIRE(mkdir(path, 0755) == 0);
}

/* ---- Fashion-MNIST as class folders --------------------------------------- */

/* The first n training images of Fashion-MNIST when installed, else n
 * made-up 28x28 images with labels 0..9 in IDX files of our own. */
static gantry_dataset *idx_source(size_t n)
{
    gantry_dataset *ds = NULL;
    struct stat st;
    if (stat(GANTRY_FASHION_MNIST_DIR, &st) == 0 &&
        gantry_dataset_open(GANTRY_FASHION_MNIST_DIR, "train", n, NULL, &ds) == GANTRY_OK)
        return ds;
    printf("Fashion-MNIST is not installed: made-up IDX images instead\n");
    unsigned char *pixels = malloc(n * 784), *labels = malloc(n);
    REQUIRE(pixels && labels);
    uint32_t x = 12345;
    for (size_t i = 0; i < n * 784; i++) {
        x = x * 1103515245u + 12345u;
        pixels[i] = (unsigned char)(x >> 16);
    }
    for (size_t i = 0; i < n; i++)
        labels[i] = (unsigned char)((i * 7 + i / 13) % 10);
    make_dir(tp("idx"));
    size_t size;
    unsigned char *b = idx_images(0x00000803u, (uint32_t)n, 28, 28, pixels, n * 784, &size);
    write_raw(tp("idx/train-images-idx3-ubyte"), b, size);
    free(b);
    b = idx_labels((uint32_t)n, labels, n, &size);
    write_raw(tp("idx/train-labels-idx1-ubyte"), b, size);
    free(b);
    free(pixels);
    free(labels);
    CHECK_OK(gantry_dataset_open(tp("idx"), "train", 0, NULL, &ds));
    REQUIRE(ds);
    return ds;
}

/* Writes every image of `src` as DIR/classL/NNNNN.EXT (names in IDX order). */
static void export_classes(const gantry_dataset *src, const char *dir, int jpeg)
{
    make_dir(dir);
    char path[600];
    for (size_t c = 0; c < src->num_classes; c++) {
        snprintf(path, sizeof path, "%s/class%zu", dir, c);
        make_dir(path);
    }
    for (size_t i = 0; i < src->count; i++) {
        snprintf(path, sizeof path, "%s/class%u/%05zu.%s", dir, src->labels[i], i, jpeg ? "jpg" : "png");
        const uint8_t *img = src->pixels + i * 784;
        if (jpeg)
            write_jpeg(path, 28, 28, 1, img, 100);
        else
            write_png_planes(path, 28, 28, 1, img);
    }
}

static void test_fashion_folders(void)
{
    const size_t n = 300;
    gantry_dataset *idx = idx_source(n);
    REQUIRE(idx->count == n && idx->labels && idx->num_classes == 10);

    /* PNG: the same pixels, labels and order as the IDX files */
    export_classes(idx, tp("fm-png"), 0);
    sink s;
    gantry_data_options o = options(&s, 0, 0);
    gantry_dataset *ds = open_ok(tp("fm-png"), 0, &o);
    CHECK(ds->count == n && ds->channels == 1 && ds->height == 28 && ds->width == 28);
    CHECK(memcmp(ds->pixels, idx->pixels, n * 784) == 0);
    CHECK(ds->labels && memcmp(ds->labels, idx->labels, n) == 0);
    CHECK(ds->num_classes == 10 && ds->class_names && strcmp(ds->class_names[3], "class3") == 0);
    CHECK(strcmp(ds->kind, "images") == 0 && ds->from_cache == 0 && ds->skipped == 0 && s.warnings == 0);
    CHECK(s.progress_calls > 0 && !s.progress_backwards && s.done == n && s.total == n);
    /* batches from the folder are the IDX batches */
    float *a = malloc(n * 784 * sizeof *a), *b = malloc(n * 784 * sizeof *b);
    REQUIRE(a && b);
    CHECK_OK(gantry_dataset_images(ds, 0, n, a));
    CHECK_OK(gantry_dataset_images(idx, 0, n, b));
    CHECK(memcmp(a, b, n * 784 * sizeof *a) == 0);
    free(a);
    free(b);
    gantry_dataset_destroy(ds);

    /* resized, on 1 and on 3 threads: the same bytes */
    o = options(&s, 20, 3);
    o.threads = 1;
    gantry_dataset *one = open_ok(tp("fm-png"), 0, &o);
    o.threads = 3;
    gantry_dataset *three = open_ok(tp("fm-png"), 0, &o);
    CHECK(one->channels == 3 && one->height == 20 && three->count == n);
    CHECK(memcmp(one->pixels, three->pixels, n * 3 * 20 * 20) == 0);
    gantry_dataset_destroy(one);
    gantry_dataset_destroy(three);

    /* JPEG at quality 100: loads, pixels close */
    export_classes(idx, tp("fm-jpg"), 1);
    o = options(&s, 0, 0);
    ds = open_ok(tp("fm-jpg"), 0, &o);
    CHECK(ds->count == n && ds->channels == 1 && ds->height == 28 && s.warnings == 0);
    CHECK(ds->labels && memcmp(ds->labels, idx->labels, n) == 0);
    int worst = 0;
    double sum = 0;
    for (size_t i = 0; i < n * 784; i++) {
        int d = abs((int)ds->pixels[i] - (int)idx->pixels[i]);
        worst = d > worst ? d : worst;
        sum += d;
    }
    printf("JPEG quality 100: mean |difference| %.3f, largest %d\n", sum / (double)(n * 784), worst);
    CHECK(sum / (double)(n * 784) < 1.0 && worst <= 16);
    gantry_dataset_destroy(ds);
    gantry_dataset_destroy(idx);
}

/* ---- colour ----------------------------------------------------------------- */

static uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

/* Twelve 32x32 RGB images, each a gradient tinted by its number. */
static void test_tinted_rgb(void)
{
    const size_t n = 12, side = 32, area = side * side;
    uint8_t *want = malloc(n * 3 * area);
    REQUIRE(want);
    make_dir(tp("tint"));
    for (size_t k = 0; k < n; k++) {
        uint8_t *img = want + k * 3 * area;
        for (size_t y = 0; y < side; y++)
            for (size_t x = 0; x < side; x++) {
                img[y * side + x] = (uint8_t)(x * 8 + k * 10);
                img[area + y * side + x] = (uint8_t)(y * 8);
                img[2 * area + y * side + x] = (uint8_t)(k * 20);
            }
        char name[32];
        snprintf(name, sizeof name, "tint/t%02zu.png", k);
        write_png_planes(tp(name), side, side, 3, img);
    }
    sink s;
    gantry_data_options o = options(&s, 0, 0);
    gantry_dataset *ds = open_ok(tp("tint"), 0, &o);
    CHECK(ds->count == n && ds->channels == 3 && ds->height == side && ds->width == side);
    CHECK(ds->labels == NULL && ds->num_classes == 0 && ds->class_names == NULL);
    CHECK(memcmp(ds->pixels, want, n * 3 * area) == 0);
    gantry_dataset_destroy(ds);

    o = options(&s, 0, 1); /* as gray */
    ds = open_ok(tp("tint"), 0, &o);
    int ok = ds->channels == 1 && ds->height == side;
    for (size_t k = 0; ok && k < n; k++)
        for (size_t i = 0; i < area; i++) {
            const uint8_t *img = want + k * 3 * area;
            ok &= ds->pixels[k * area + i] == luma(img[i], img[area + i], img[2 * area + i]);
        }
    CHECK(ok);
    gantry_dataset_destroy(ds);

    o = options(&s, 16, 0); /* halved: the constant blue plane stays constant */
    ds = open_ok(tp("tint"), 0, &o);
    CHECK(ds->channels == 3 && ds->height == 16 && ds->width == 16);
    ok = 1;
    for (size_t k = 0; k < n; k++)
        ok &= all_equal(ds->pixels + k * 3 * 256 + 2 * 256, 256, (uint8_t)(k * 20));
    CHECK(ok);
    gantry_dataset_destroy(ds);
    free(want);
}

/* One 8x8 PNG of every colour type, each a single colour. */
typedef struct png_kind {
    const char *name;
    int color_type, depth;
    uint8_t sample[8]; /* one pixel's samples as written (16-bit: big-endian) */
    uint8_t rgb[3];    /* what it reads as */
} png_kind;

static const png_kind png_kinds[] = {
    { "g1.png", PNG_COLOR_TYPE_GRAY, 1, { 0xff }, { 255, 255, 255 } },
    { "g16.png", PNG_COLOR_TYPE_GRAY, 16, { 33, 33 }, { 33, 33, 33 } }, /* 257 * 33 */
    { "g8.png", PNG_COLOR_TYPE_GRAY, 8, { 90 }, { 90, 90, 90 } },
    { "ga.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, { 70, 0 }, { 70, 70, 70 } },
    { "graypal.png", PNG_COLOR_TYPE_PALETTE, 8, { 1 }, { 99, 99, 99 } },
    { "pal.png", PNG_COLOR_TYPE_PALETTE, 8, { 1 }, { 0, 0, 255 } },
    { "rgb.png", PNG_COLOR_TYPE_RGB, 8, { 200, 100, 50 }, { 200, 100, 50 } },
    { "rgb16.png", PNG_COLOR_TYPE_RGB, 16, { 1, 1, 2, 2, 250, 250 }, { 1, 2, 250 } },
    { "rgba.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, { 10, 20, 30, 128 }, { 10, 20, 30 } },
};

static void write_kind(const char *dir, const png_kind *k)
{
    static const uint8_t gray_palette[] = { 5, 5, 5, 99, 99, 99 }, colour_palette[] = { 255, 0, 0, 0, 0, 255 };
    size_t bytes = (size_t)(k->depth == 1 ? 1 : k->depth / 8) *
                   (k->color_type == PNG_COLOR_TYPE_RGB ? 3 : k->color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                                                           : k->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1);
    uint8_t rows[8 * 8 * 8];
    for (size_t i = 0; i < 64; i++)
        memcpy(rows + i * bytes, k->sample, bytes);
    const uint8_t *palette = k->color_type != PNG_COLOR_TYPE_PALETTE ? NULL
                             : strcmp(k->name, "graypal.png") == 0   ? gray_palette
                                                                      : colour_palette;
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, k->name);
    write_png(path, 8, 8, k->color_type, k->depth, rows, palette, palette ? 2 : 0);
}

static void test_png_kinds(void)
{
    const size_t n = sizeof png_kinds / sizeof png_kinds[0];
    make_dir(tp("kinds"));
    make_dir(tp("grays"));
    for (size_t i = 0; i < n; i++) {
        write_kind(tp("kinds"), &png_kinds[i]);
        if (png_kinds[i].rgb[0] == png_kinds[i].rgb[2])
            write_kind(tp("grays"), &png_kinds[i]);
    }
    sink s;
    gantry_data_options o = options(&s, 0, 0);
    gantry_dataset *rgb = open_ok(tp("kinds"), 0, &o);
    o = options(&s, 0, 1);
    gantry_dataset *gray = open_ok(tp("kinds"), 0, &o);
    CHECK(rgb->count == n && rgb->channels == 3 && rgb->height == 8 && rgb->skipped == 0);
    CHECK(gray->count == n && gray->channels == 1 && gray->height == 8 && gray->skipped == 0);
    for (size_t i = 0; i < n && rgb->count == n && gray->count == n; i++) {
        const png_kind *k = &png_kinds[i];
        int ok = 1;
        for (int c = 0; c < 3; c++)
            ok &= all_equal(rgb->pixels + (i * 3 + (size_t)c) * 64, 64, k->rgb[c]);
        ok &= all_equal(gray->pixels + i * 64, 64, luma(k->rgb[0], k->rgb[1], k->rgb[2]));
        if (!ok)
            fprintf(stderr, "%s does not read as (%u, %u, %u)\n", k->name, k->rgb[0], k->rgb[1], k->rgb[2]);
        CHECK(ok);
    }
    gantry_dataset_destroy(rgb);
    gantry_dataset_destroy(gray);
    /* gray kinds only (a palette of grays too): one channel by default */
    o = options(&s, 0, 0);
    gray = open_ok(tp("grays"), 0, &o);
    CHECK(gray->channels == 1 && gray->count == 5);
    gantry_dataset_destroy(gray);
}

/* ---- bad input ---------------------------------------------------------------- */

/* A 32x32 RGB image of noise cut to half its bytes: the header is whole,
 * the pixels are not. */
static void write_truncated(const char *path, int jpeg)
{
    uint8_t noise[32 * 32 * 3];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    if (jpeg)
        write_jpeg(path, 32, 32, 3, noise, 90);
    else
        write_png(path, 32, 32, PNG_COLOR_TYPE_RGB, 8, noise, NULL, 0);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    cut_file(path, st.st_size / 2);
}

static void write_gray(const char *path, size_t side, uint8_t value)
{
    uint8_t *p = malloc(side * side);
    REQUIRE(p);
    memset(p, value, side * side);
    write_png_planes(path, side, side, 1, p);
    free(p);
}

static gantry_status open_status(const char *dir, const char *split, const gantry_data_options *o)
{
    gantry_dataset *ds = (gantry_dataset *)&ds;
    gantry_status s = gantry_dataset_open(dir, split, 0, o, &ds);
    CHECK(s != GANTRY_OK ? ds == NULL : ds != NULL);
    gantry_dataset_destroy(ds);
    return s;
}

static void test_bad_folders(void)
{
    sink s;
    gantry_data_options o = options(&s, 0, 0);
    make_dir(tp("empty"));
    CHECK_STATUS(open_status(tp("empty"), "train", &o), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("empty");
    CHECK_ERROR_MENTIONS("no .png, .jpg or .jpeg image");
    CHECK_ERROR_MENTIONS("train-images-idx3-ubyte");

    make_dir(tp("texts"));
    make_dir(tp("texts/sub"));
    write_raw(tp("texts/readme.txt"), "hello", 5);
    write_raw(tp("texts/notes.md"), "# notes", 7);
    write_raw(tp("texts/sub/data.csv"), "1,2", 3);
    CHECK_STATUS(open_status(tp("texts"), "train", &o), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("texts");
    CHECK_ERROR_MENTIONS("(3 other files)");

    make_dir(tp("allbad"));
    write_truncated(tp("allbad/only.png"), 0);
    CHECK_STATUS(open_status(tp("allbad"), "train", &o), GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("none of its 1 image files");
    CHECK_ERROR_MENTIONS("only.png");
    CHECK(s.warnings == 1 && mentions(&s, "only.png"));

    write_gray(tp("allbad/fine.png"), 4, 1);
    CHECK_STATUS(open_status(tp("allbad"), "t10k", &o), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("no test split");
    o.channels = 2;
    CHECK_STATUS(open_status(tp("allbad"), "train", &o), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("2 channels");
    o.channels = 0;
    CHECK_STATUS(open_status(tp("allbad/fine.png"), "train", &o), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("not a directory nor a .npy file");
}

/* Good images among bad entries: the bad are skipped, counted and named. */
static void test_skipped(void)
{
    make_dir(tp("mixed"));
    write_gray(tp("mixed/good1.png"), 8, 11);
    write_gray(tp("mixed/good2.png"), 8, 22);
    write_gray(tp("mixed/caf\xe9.png"), 8, 33); /* Latin-1: not UTF-8 */
    write_gray(tp("mixed/one.png"), 1, 77);
    write_truncated(tp("mixed/trunc.png"), 0);
    write_truncated(tp("mixed/trunc.jpg"), 1);
    REQUIRE(symlink("nowhere.png", tp("mixed/zlink.png")) == 0);
    make_dir(tp("mixed/dir.png"));
    write_gray(tp("mixed/dir.png/inside.png"), 8, 44); /* not walked into */
    write_raw(tp("mixed/.hidden.png"), "junk", 4);      /* hidden: ignored */
    write_raw(tp("mixed/notes.txt"), "junk", 4);        /* not an image: ignored */

    /* an explicit size and channels (no header pass), then automatic ones:
     * sizes differ (64), and the truncated files have colour headers (3) */
    for (int automatic = 0; automatic < 2; automatic++) {
        sink s;
        gantry_data_options o = options(&s, automatic ? 0 : 8, automatic ? 0 : 1);
        gantry_dataset *ds = open_ok(tp("mixed"), 0, &o);
        size_t side = automatic ? 64 : 8, area = side * side;
        CHECK(ds->count == 4 && ds->skipped == 4 && s.warnings == 4);
        CHECK(ds->channels == (automatic ? 3u : 1u));
        CHECK(ds->height == side && ds->width == side);
        CHECK(mentions(&s, "trunc.png") && mentions(&s, "trunc.jpg") && mentions(&s, "zlink.png") &&
              mentions(&s, "dir.png") && mentions(&s, "a symbolic link to nothing") &&
              mentions(&s, "a directory") && mentions(&s, "truncated JPEG") && !mentions(&s, "hidden"));
        /* ordered by name: caf\xe9 (c), good1, good2, one; the 1x1 image resized */
        size_t c = ds->channels;
        CHECK(ds->count == 4 && all_equal(ds->pixels, c * area, 33) && all_equal(ds->pixels + c * area, c * area, 11) &&
              all_equal(ds->pixels + 3 * c * area, c * area, 77));
        if (s.warnings != 4)
            fprintf(stderr, "warnings:\n%s", s.text);
        gantry_dataset_destroy(ds);
    }

    /* a limit counts usable images: the bad ones before it do not take a place */
    sink s;
    gantry_data_options o = options(&s, 8, 1);
    make_dir(tp("limited"));
    write_truncated(tp("limited/a.png"), 0);
    write_gray(tp("limited/b.png"), 8, 1);
    write_truncated(tp("limited/c.png"), 0);
    write_gray(tp("limited/d.png"), 8, 2);
    write_gray(tp("limited/e.png"), 8, 3);
    gantry_dataset *ds = open_ok(tp("limited"), 2, &o);
    CHECK(ds->count == 2 && ds->skipped == 2 && ds->pixels[0] == 1 && ds->pixels[64] == 2);
    gantry_dataset_destroy(ds);
}

/* ---- cache ---------------------------------------------------------------------- */

/* The cache files in folder `data` (below the temporary directory); the
 * path of the last one seen into `path`. */
static int cache_files(const char *data, char *path, size_t size)
{
    data = tp(data);
    DIR *d = opendir(data);
    int found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".images")) {
            found++;
            snprintf(path, size, "%s/%s", data, e->d_name);
        }
    if (d)
        closedir(d);
    return found;
}

typedef struct expected {
    size_t count, bytes;
    uint8_t *pixels, *labels;
} expected;

static void check_same(const gantry_dataset *ds, const expected *want, int from_cache)
{
    CHECK(ds->count == want->count && ds->from_cache == from_cache);
    CHECK(ds->count == want->count && memcmp(ds->pixels, want->pixels, want->bytes) == 0);
    CHECK(ds->labels && memcmp(ds->labels, want->labels, want->count) == 0);
    CHECK(ds->num_classes == 2 && ds->class_names && strcmp(ds->class_names[1], "b") == 0);
    CHECK(ds->skipped == 1 && strcmp(ds->kind, "images") == 0);
}

/* Damages the cache file with `damage`, then expects a warning naming
 * `why`, a rebuilt set, and a hit after it. */
static void expect_rebuilt(const char *dir, gantry_data_options *o, sink *s, const expected *want, const char *why)
{
    memset(s, 0, sizeof *s);
    gantry_dataset *ds = open_ok(dir, 0, o);
    check_same(ds, want, 0);
    CHECK(mentions(s, "the cache file is corrupt") && mentions(s, why));
    if (!mentions(s, why))
        fprintf(stderr, "expected \"%s\" in:\n%s", why, s->text);
    gantry_dataset_destroy(ds);
    memset(s, 0, sizeof *s);
    ds = open_ok(dir, 0, o);
    check_same(ds, want, 1);
    gantry_dataset_destroy(ds);
}

static void flip_byte(const char *path, long at)
{
    size_t size;
    unsigned char *b = read_raw(path, &size);
    REQUIRE(at >= 0 && (size_t)at < size);
    b[at] ^= 0x40;
    write_raw(path, b, size);
    free(b);
}

static void test_cache(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tp("cached"));
    make_dir(dir);
    make_dir(tp("cached/a"));
    make_dir(tp("cached/b"));
    uint8_t rgb[8 * 8 * 3];
    for (int i = 0; i < 5; i++) {
        for (size_t k = 0; k < sizeof rgb; k++)
            rgb[k] = (uint8_t)(k * 3 + (size_t)i * 40);
        char name[64];
        snprintf(name, sizeof name, "cached/%c/img%d.png", i < 3 ? 'a' : 'b', i);
        write_png_planes(tp(name), 8, 8, 3, rgb);
    }
    write_truncated(tp("cached/b/img9.png"), 0);

    sink s;
    gantry_data_options o = options(&s, 0, 0);
    char cache[600], file[1024];
    snprintf(cache, sizeof cache, "%s", tp("cache"));
    o.cache_dir = cache;
    gantry_dataset *ds = open_ok(dir, 0, &o);
    CHECK(ds->from_cache == 0 && ds->count == 5 && ds->skipped == 1 && s.warnings == 1);
    expected want = { ds->count, ds->count * ds->channels * ds->height * ds->width, NULL, NULL };
    want.pixels = malloc(want.bytes);
    want.labels = malloc(want.count);
    REQUIRE(want.pixels && want.labels);
    memcpy(want.pixels, ds->pixels, want.bytes);
    memcpy(want.labels, ds->labels, want.count);
    gantry_dataset_destroy(ds);
    CHECK(cache_files("cache/data", file, sizeof file) == 1);

    /* a hit: the same set, one note about the skipped image */
    memset(&s, 0, sizeof s);
    ds = open_ok(dir, 0, &o);
    check_same(ds, &want, 1);
    CHECK(s.warnings == 1 && mentions(&s, "1 unusable images were skipped"));
    CHECK(s.progress_calls == 0);
    gantry_dataset_destroy(ds);

    /* damaged files are rebuilt */
    struct stat st;
    REQUIRE(stat(file, &st) == 0);
    flip_byte(file, (long)st.st_size - 10);
    expect_rebuilt(dir, &o, &s, &want, "checksum mismatch");
    cut_file(file, st.st_size - 100);
    expect_rebuilt(dir, &o, &s, &want, "truncated");
    flip_byte(file, 0);
    expect_rebuilt(dir, &o, &s, &want, "not a gantry cache file");
    flip_byte(file, 80); /* the skipped count, in the header */
    expect_rebuilt(dir, &o, &s, &want, "checksum mismatch");
    cut_file(file, 10);
    expect_rebuilt(dir, &o, &s, &want, "truncated header");
    CHECK(count_entries(tp("cache/data"), ".tmp.") == 0);

    /* another size is another file; a limited load uses no cache */
    o.image_size = 4;
    ds = open_ok(dir, 0, &o);
    CHECK(ds->from_cache == 0 && ds->height == 4);
    gantry_dataset_destroy(ds);
    o.image_size = 0;
    ds = open_ok(dir, 3, &o);
    CHECK(ds->from_cache == 0 && ds->count == 3);
    gantry_dataset_destroy(ds);
    CHECK(count_entries(tp("cache/data"), ".images") == 2);

    /* a changed file changes the key */
    memset(rgb, 9, sizeof rgb);
    write_png_planes(tp("cached/a/img0.png"), 8, 8, 3, rgb);
    ds = open_ok(dir, 0, &o);
    CHECK(ds->from_cache == 0 && ds->pixels[0] == 9);
    gantry_dataset_destroy(ds);
    CHECK(count_entries(tp("cache/data"), ".images") == 3);

    /* an unwritable cache folder: one warning, a usable set */
    write_raw(tp("plainfile"), "x", 1);
    o = options(&s, 0, 0);
    snprintf(cache, sizeof cache, "%s", tp("plainfile/cache"));
    o.cache_dir = cache;
    ds = open_ok(dir, 0, &o);
    CHECK(ds->count == 5 && s.warnings == 2 && mentions(&s, "cannot create the cache folder"));
    if (s.warnings != 2)
        fprintf(stderr, "warnings:\n%s", s.text);
    gantry_dataset_destroy(ds);

    /* the default folder: GANTRY_CACHE_DIR, then XDG_CACHE_HOME/gantry */
    o.cache_dir = NULL;
    REQUIRE(setenv("GANTRY_CACHE_DIR", tp("envcache"), 1) == 0);
    gantry_dataset_destroy(open_ok(dir, 0, &o));
    CHECK(count_entries(tp("envcache/data"), ".images") == 1);
    REQUIRE(unsetenv("GANTRY_CACHE_DIR") == 0);
    REQUIRE(setenv("XDG_CACHE_HOME", tp("xdg"), 1) == 0);
    gantry_dataset_destroy(open_ok(dir, 0, &o));
    CHECK(count_entries(tp("xdg/gantry/data"), ".images") == 1);
    REQUIRE(unsetenv("XDG_CACHE_HOME") == 0);
    free(want.pixels);
    free(want.labels);
}

int main(void)
{
    test_tmp_init("io-images");
    test_fashion_folders();
    test_tinted_rgb();
    test_png_kinds();
    test_bad_folders();
    test_skipped();
    test_cache();
    remove_tree(tmp_root);
    return test_finish("io-images");
}
