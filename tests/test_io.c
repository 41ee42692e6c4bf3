/* io suite: IDX loading (plain and gzip), data set lookup, the shuffling
 * loader, PNG grids, .npy and safetensors files, atomic writes.  Every input
 * is generated here in a private temporary directory that is removed at the
 * end. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include "gantry/data.h"
#include "gantry/io.h"
#include "gantry/status.h"
#include "test.h"
#include "test_files.h"

static void write_gz(const char *path, const void *data, size_t size)
{
    gzFile f = gzopen(path, "wb");
    REQUIRE(f);
    REQUIRE(size == 0 || gzwrite(f, data, (unsigned)size) == (int)size);
    REQUIRE(gzclose(f) == Z_OK);
}

/* 3 images of 2x2 and labels {3, 0, 7}. */
static const unsigned char good_pixels[12] = { 0, 255, 51, 127, 128, 1, 2, 3, 254, 100, 200, 0 };
static const unsigned char good_labels[3] = { 3, 0, 7 };

static void write_good_idx(const char *images, const char *labels, int gz)
{
    size_t n;
    unsigned char *b = idx_images(0x00000803u, 3, 2, 2, good_pixels, 12, &n);
    (gz ? write_gz : write_raw)(images, b, n);
    free(b);
    if (labels) {
        b = idx_labels(3, good_labels, 3, &n);
        (gz ? write_gz : write_raw)(labels, b, n);
        free(b);
    }
}

static void check_good_dataset(const gantry_dataset *ds, size_t count)
{
    CHECK(ds->count == count);
    CHECK(ds->channels == 1);
    CHECK(ds->height == 2);
    CHECK(ds->width == 2);
    CHECK(ds->pixels && memcmp(ds->pixels, good_pixels, count * 4) == 0);
    CHECK(ds->skipped == 0 && ds->class_names == NULL && ds->storage != NULL);
    float f[12];
    CHECK_OK(gantry_dataset_images(ds, 0, count, f));
    CHECK(f[0] == -1.0f); /* 0 -> -1 exactly */
    CHECK(f[1] == 1.0f);  /* 255 -> 1 exactly */
    CHECK_NEAR(f[2], -0.6, 1e-6);
    for (size_t i = 0; i < count * 4; i++)
        CHECK(f[i] == (float)good_pixels[i] / 127.5f - 1.0f);
    CHECK_NEAR(f[3], 127.0 / 127.5 - 1.0, 1e-6);
    CHECK_NEAR(f[4], 128.0 / 127.5 - 1.0, 1e-6);
    /* a range, and ranges outside the set */
    float one[4];
    CHECK_OK(gantry_dataset_images(ds, count - 1, 1, one));
    CHECK(memcmp(one, f + (count - 1) * 4, sizeof one) == 0);
    CHECK_STATUS(gantry_dataset_images(ds, count, 1, one), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_dataset_images(ds, 1, (size_t)-1, one), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_dataset_images(ds, 0, 1, NULL), GANTRY_INVALID_ARGUMENT);
    CHECK_OK(gantry_dataset_images(ds, count, 0, one)); /* nothing */
}

static void test_idx_good(void)
{
    gantry_dataset *ds = NULL;
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tp(gz ? "good-images.gz" : "good-images");
        const char *lab = tp(gz ? "good-labels.gz" : "good-labels");
        write_good_idx(img, lab, gz);

        CHECK_OK(gantry_idx_load(img, lab, 0, &ds));
        REQUIRE(ds);
        check_good_dataset(ds, 3);
        REQUIRE(ds->labels);
        CHECK(ds->labels[0] == 3 && ds->labels[1] == 0 && ds->labels[2] == 7);
        CHECK(ds->num_classes == 8);
        gantry_dataset_destroy(ds);
        ds = NULL;

        /* limit keeps the first images; the class count still comes from the
         * whole label file */
        CHECK_OK(gantry_idx_load(img, lab, 2, &ds));
        REQUIRE(ds);
        check_good_dataset(ds, 2);
        CHECK(ds->labels && ds->labels[1] == 0);
        CHECK(ds->num_classes == 8);
        gantry_dataset_destroy(ds);
        ds = NULL;

        CHECK_OK(gantry_idx_load(img, lab, 100, &ds)); /* limit beyond the file: all */
        REQUIRE(ds);
        CHECK(ds->count == 3);
        gantry_dataset_destroy(ds);
        ds = NULL;

        CHECK_OK(gantry_idx_load(img, NULL, 0, &ds)); /* no labels */
        REQUIRE(ds);
        check_good_dataset(ds, 3);
        CHECK(ds->labels == NULL);
        CHECK(ds->num_classes == 0);
        gantry_dataset_destroy(ds);
        ds = NULL;
    }
    gantry_dataset_destroy(NULL); /* no-op */
}

/* A gzip file of two members (as `cat a.gz b.gz` makes) is valid, though its
 * last member's length says nothing of the whole: with a limit, the rest is
 * then read through to check it. */
static void test_idx_members(void)
{
    size_t n;
    unsigned char *b = idx_images(0x00000803u, 3, 2, 2, good_pixels, 12, &n);
    const char *path = tp("members-images.gz");
    write_gz(path, b, 10);
    gzFile f = gzopen(path, "ab");
    REQUIRE(f);
    REQUIRE(gzwrite(f, b + 10, (unsigned)(n - 10)) == (int)(n - 10));
    REQUIRE(gzclose(f) == Z_OK);
    free(b);
    for (size_t limit = 0; limit < 3; limit += 2) { /* check_good_dataset reads 2 images at least */
        gantry_dataset *ds = NULL;
        CHECK_OK(gantry_idx_load(path, NULL, limit, &ds));
        if (ds)
            check_good_dataset(ds, limit ? limit : 3);
        gantry_dataset_destroy(ds);
    }
}

/* Expects gantry_idx_load to fail with `status` and a message naming the
 * failing file and `what`, reading the whole file and with a limit of one
 * image too: what a limit leaves unread must still be checked. */
static void expect_idx_error(const char *images, const char *labels, gantry_status status, const char *bad_file,
                             const char *what)
{
    for (size_t limit = 0; limit < 2; limit++) {
        gantry_dataset *ds = (gantry_dataset *)&ds; /* must be reset to NULL */
        CHECK_STATUS(gantry_idx_load(images, labels, limit, &ds), status);
        CHECK(ds == NULL);
        CHECK_ERROR_MENTIONS(bad_file);
        if (what)
            CHECK_ERROR_MENTIONS(what);
    }
}

static void test_idx_corrupt(void)
{
    size_t n;
    unsigned char *b;
    char good_img[512], good_lab[512]; /* kept: tp()'s buffers are reused */
    snprintf(good_img, sizeof good_img, "%s", tp("ok-images"));
    snprintf(good_lab, sizeof good_lab, "%s", tp("ok-labels"));
    write_good_idx(good_img, good_lab, 0);

    /* bad magic */
    b = idx_images(0x00000804u, 3, 2, 2, good_pixels, 12, &n);
    write_raw(tp("magic-images"), b, n);
    write_gz(tp("magic-images.gz"), b, n);
    free(b);
    expect_idx_error(tp("magic-images"), NULL, GANTRY_CORRUPT_FILE, "magic-images",
                     "bad magic 0x00000804 (expected 0x00000803 for an IDX image file)");
    expect_idx_error(tp("magic-images.gz"), NULL, GANTRY_CORRUPT_FILE, "magic-images.gz", "bad magic 0x00000804");
    /* a label file given as images, and images given as labels */
    expect_idx_error(good_lab, NULL, GANTRY_CORRUPT_FILE, "ok-labels", "bad magic 0x00000801");
    expect_idx_error(good_img, good_img, GANTRY_CORRUPT_FILE, "ok-images",
                     "bad magic 0x00000803 (expected 0x00000801 for an IDX label file)");

    /* dimensions larger than the file: declares 5 images, holds 3 */
    b = idx_images(0x00000803u, 5, 2, 2, good_pixels, 12, &n);
    write_raw(tp("short-images"), b, n);
    write_gz(tp("short-images.gz"), b, n);
    free(b);
    expect_idx_error(tp("short-images"), NULL, GANTRY_CORRUPT_FILE, "short-images",
                     "declares 5 images of 2x2 but holds only 12 bytes of data");
    expect_idx_error(tp("short-images.gz"), NULL, GANTRY_CORRUPT_FILE, "short-images.gz",
                     "declares 5 images of 2x2 but holds only 12 bytes");
    /* absurd dimensions must not allocate them */
    b = idx_images(0x00000803u, 0xffffffffu, 0xffffffffu, 0xffffffffu, good_pixels, 12, &n);
    write_raw(tp("huge-images"), b, n);
    free(b);
    gantry_dataset *ds = NULL;
    gantry_status s = gantry_idx_load(tp("huge-images"), NULL, 0, &ds);
    CHECK(s == GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("huge-images");

    /* trailing bytes */
    unsigned char more[15];
    memcpy(more, good_pixels, 12);
    more[12] = more[13] = more[14] = 9;
    b = idx_images(0x00000803u, 3, 2, 2, more, 15, &n);
    write_raw(tp("trailing-images"), b, n);
    write_gz(tp("trailing-images.gz"), b, n);
    free(b);
    expect_idx_error(tp("trailing-images"), NULL, GANTRY_CORRUPT_FILE, "trailing-images", "3 bytes of trailing data");
    expect_idx_error(tp("trailing-images.gz"), NULL, GANTRY_CORRUPT_FILE, "trailing-images.gz", "trailing");
    b = idx_labels(3, (const unsigned char *)"\3\0\7\7", 4, &n);
    write_raw(tp("trailing-labels"), b, n);
    free(b);
    expect_idx_error(good_img, tp("trailing-labels"), GANTRY_CORRUPT_FILE, "trailing-labels", "trailing");

    /* label / image count mismatch */
    b = idx_labels(2, good_labels, 2, &n);
    write_raw(tp("two-labels"), b, n);
    free(b);
    expect_idx_error(good_img, tp("two-labels"), GANTRY_CORRUPT_FILE, "two-labels", "holds 2 labels");
    CHECK_ERROR_MENTIONS("3 images");
    /* labels declaring more than they hold */
    b = idx_labels(4, good_labels, 3, &n);
    write_raw(tp("short-labels"), b, n);
    free(b);
    expect_idx_error(good_img, tp("short-labels"), GANTRY_CORRUPT_FILE, "short-labels",
                     "declares 4 labels but holds only 3 bytes");

    /* zero dimension */
    b = idx_images(0x00000803u, 3, 0, 2, good_pixels, 0, &n);
    write_raw(tp("zero-images"), b, n);
    free(b);
    expect_idx_error(tp("zero-images"), NULL, GANTRY_CORRUPT_FILE, "zero-images", "zero");

    /* missing file, empty file, truncated header */
    expect_idx_error(tp("no-such-images"), NULL, GANTRY_NOT_FOUND, "no-such-images", NULL);
    expect_idx_error(good_img, tp("no-such-labels"), GANTRY_NOT_FOUND, "no-such-labels", NULL);
    write_raw(tp("empty-images"), "", 0);
    expect_idx_error(tp("empty-images"), NULL, GANTRY_CORRUPT_FILE, "empty-images", "empty");
    write_gz(tp("empty-images.gz"), "", 0);
    expect_idx_error(tp("empty-images.gz"), NULL, GANTRY_CORRUPT_FILE, "empty-images.gz", "empty");
    write_raw(tp("header-images"), "\0\0\x08\x03\0\0", 6);
    expect_idx_error(tp("header-images"), NULL, GANTRY_CORRUPT_FILE, "header-images", "truncated header");

    /* truncated gzip: a valid gzip file cut short, at several points */
    b = idx_images(0x00000803u, 3, 2, 2, good_pixels, 12, &n);
    write_gz(tp("full.gz"), b, n);
    free(b);
    size_t gz_size;
    unsigned char *gz = read_raw(tp("full.gz"), &gz_size);
    size_t cuts[3] = { gz_size - 4, gz_size - 9, gz_size / 2 };
    for (int i = 0; i < 3; i++) {
        write_raw(tp("cut-images.gz"), gz, cuts[i]);
        expect_idx_error(tp("cut-images.gz"), NULL, GANTRY_CORRUPT_FILE, "cut-images.gz", NULL);
    }
    /* gzip with a damaged byte in the compressed data (CRC or inflate error) */
    gz[gz_size - 10] ^= 0x55;
    write_raw(tp("damaged-images.gz"), gz, gz_size);
    expect_idx_error(tp("damaged-images.gz"), NULL, GANTRY_CORRUPT_FILE, "damaged-images.gz", NULL);
    free(gz);
    /* the truncated-gzip message says so */
    b = idx_images(0x00000803u, 3, 2, 2, good_pixels, 12, &n);
    write_gz(tp("full.gz"), b, n);
    free(b);
    gz = read_raw(tp("full.gz"), &gz_size);
    write_raw(tp("cut-images.gz"), gz, gz_size - 4);
    expect_idx_error(tp("cut-images.gz"), NULL, GANTRY_CORRUPT_FILE, "cut-images.gz", "gzip");
    /* a truncated label file too */
    write_raw(tp("cut-labels.gz"), gz, gz_size - 4);
    free(gz);
    b = idx_labels(3, good_labels, 3, &n);
    write_gz(tp("full-labels.gz"), b, n);
    free(b);
    gz = read_raw(tp("full-labels.gz"), &gz_size);
    write_raw(tp("cut-labels.gz"), gz, gz_size - 5);
    free(gz);
    expect_idx_error(good_img, tp("cut-labels.gz"), GANTRY_CORRUPT_FILE, "cut-labels.gz", NULL);

    /* a directory is not a file */
    mkdir(tp("a-directory"), 0755);
    s = gantry_idx_load(tp("a-directory"), NULL, 0, &ds);
    CHECK(s == GANTRY_IO || s == GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("a-directory");

    CHECK_STATUS(gantry_idx_load(NULL, NULL, 0, &ds), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_idx_load(good_img, NULL, 0, NULL), GANTRY_INVALID_ARGUMENT);
}

static void test_dataset_load(void)
{
    gantry_dataset *ds = NULL;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tp("fm"));
    char p[600];
    REQUIRE(mkdir(dir, 0755) == 0);

    /* images .gz and plain labels; a plain images file beside the .gz is
     * ignored because .gz is looked for first */
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    char lp[600];
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
    write_good_idx(p, lp, 0);
    /* write_good_idx writes plain; recompress the images as gzip */
    {
        size_t n;
        unsigned char *b = idx_images(0x00000803u, 3, 2, 2, good_pixels, 12, &n);
        write_gz(p, b, n);
        free(b);
        b = idx_images(0x00000803u, 1, 2, 2, good_pixels, 4, &n);
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
        write_raw(p, b, n);
        free(b);
    }
    CHECK_OK(gantry_dataset_load(dir, "train", 0, &ds));
    REQUIRE(ds);
    check_good_dataset(ds, 3);
    CHECK(ds->labels && ds->num_classes == 8);
    gantry_dataset_destroy(ds);
    ds = NULL;

    /* t10k: plain images only, no labels */
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    write_good_idx(p, NULL, 0);
    CHECK_OK(gantry_dataset_load(dir, "t10k", 2, &ds));
    REQUIRE(ds);
    check_good_dataset(ds, 2);
    CHECK(ds->labels == NULL && ds->num_classes == 0);
    gantry_dataset_destroy(ds);
    ds = NULL;

    /* "fashion-mnist" goes through GANTRY_DATA_DIR */
    setenv("GANTRY_DATA_DIR", dir, 1);
    CHECK_OK(gantry_dataset_load("fashion-mnist", "train", 0, &ds));
    REQUIRE(ds);
    CHECK(ds->count == 3);
    gantry_dataset_destroy(ds);
    ds = NULL;

    setenv("GANTRY_DATA_DIR", tp("no-such-dir"), 1);
    CHECK_STATUS(gantry_dataset_load("fashion-mnist", "train", 0, &ds), GANTRY_NOT_FOUND);
    CHECK(ds == NULL);
    CHECK_ERROR_MENTIONS("no-such-dir");
    CHECK_ERROR_MENTIONS("GANTRY_DATA_DIR");
    CHECK_ERROR_MENTIONS("apt-get install dataset-fashion-mnist");
    CHECK_ERROR_MENTIONS("--data");

    /* the default directory, with or without the package installed */
    setenv("GANTRY_DATA_DIR", "", 1);
    gantry_status s = gantry_dataset_load("fashion-mnist", "t10k", 5, &ds);
    if (s == GANTRY_OK) {
        CHECK(ds && ds->count == 5 && ds->height == 28 && ds->width == 28);
        gantry_dataset_destroy(ds);
        ds = NULL;
    } else {
        CHECK(s == GANTRY_NOT_FOUND);
        CHECK_ERROR_MENTIONS(GANTRY_FASHION_MNIST_DIR);
        CHECK_ERROR_MENTIONS("apt-get install dataset-fashion-mnist");
    }
    unsetenv("GANTRY_DATA_DIR");

    /* an explicit directory that does not exist, or lacks the split */
    CHECK_STATUS(gantry_dataset_load(tp("missing-dir"), "train", 0, &ds), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("missing-dir");
    const char *empty = tp("empty-dir");
    REQUIRE(mkdir(empty, 0755) == 0);
    CHECK_STATUS(gantry_dataset_load(empty, "train", 0, &ds), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("empty-dir");
    CHECK_ERROR_MENTIONS("train-images-idx3-ubyte");
    /* a file given as the directory */
    CHECK_STATUS(gantry_dataset_load(p, "train", 0, &ds), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("not a directory");

    CHECK_STATUS(gantry_dataset_load(dir, "validation", 0, &ds), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("\"validation\"");
    /* "test" is "t10k" */
    CHECK_OK(gantry_dataset_load(dir, "test", 2, &ds));
    CHECK(ds && ds->count == 2 && strcmp(ds->kind, "idx") == 0);
    gantry_dataset_destroy(ds);
    ds = NULL;
    CHECK_STATUS(gantry_dataset_load(NULL, "train", 0, &ds), GANTRY_INVALID_ARGUMENT);
    CHECK(ds == NULL);

    /* a corrupt file in the directory surfaces the IDX error */
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_raw(p, "garbage!", 8);
    CHECK_STATUS(gantry_dataset_load(dir, "t10k", 0, &ds), GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("t10k-labels-idx1-ubyte.gz");
}

/* A data set the caller builds: image i has every pixel equal to i and
 * label i % 251.  Released with free_indexed_dataset. */
static gantry_dataset *make_indexed_dataset(size_t count, int with_labels)
{
    gantry_dataset *ds = calloc(1, sizeof *ds);
    uint8_t *pixels = malloc(count * 6);
    REQUIRE(ds && pixels && count <= 256);
    ds->count = count;
    ds->channels = 1;
    ds->height = 2;
    ds->width = 3;
    for (size_t i = 0; i < count; i++)
        memset(pixels + i * 6, (int)i, 6);
    ds->pixels = pixels;
    if (with_labels) {
        uint8_t *labels = malloc(count);
        REQUIRE(labels);
        for (size_t i = 0; i < count; i++)
            labels[i] = (uint8_t)(i % 251);
        ds->labels = labels;
        ds->num_classes = count < 251 ? count : 251;
    }
    return ds;
}

static void free_indexed_dataset(gantry_dataset *ds)
{
    free((void *)ds->pixels);
    free((void *)ds->labels);
    free(ds);
}

/* The index of an image of make_indexed_dataset from a pixel of its batch. */
static size_t index_of(float v)
{
    size_t i = (size_t)lrintf((v + 1.0f) * 127.5f);
    CHECK(v == (float)i / 127.5f - 1.0f);
    return i;
}

/* Draws `epochs` epochs; order[e * per_epoch * batch + j] = index. */
static size_t *draw_order(const gantry_dataset *ds, size_t batch, uint64_t seed, size_t epochs)
{
    gantry_loader *l = NULL;
    CHECK_OK(gantry_loader_create(ds, batch, seed, &l));
    REQUIRE(l);
    size_t per = gantry_loader_batches_per_epoch(l);
    size_t *order = malloc(epochs * per * batch * sizeof *order);
    float *img = malloc(batch * 6 * sizeof(float));
    uint8_t *lab = malloc(batch);
    REQUIRE(order && img && lab);
    for (size_t e = 0; e < epochs; e++) {
        for (size_t b = 0; b < per; b++) {
            size_t epoch = 12345;
            CHECK_OK(gantry_loader_next(l, img, ds->labels ? lab : NULL, &epoch));
            CHECK(epoch == e);
            for (size_t j = 0; j < batch; j++) {
                size_t idx = index_of(img[j * 6]);
                for (size_t k = 1; k < 6; k++)
                    CHECK(img[j * 6 + k] == img[j * 6]);
                if (ds->labels)
                    CHECK(lab[j] == (uint8_t)(idx % 251));
                order[(e * per + b) * batch + j] = idx;
            }
        }
    }
    free(img);
    free(lab);
    gantry_loader_destroy(l);
    return order;
}

static void test_loader(void)
{
    gantry_dataset *ds = make_indexed_dataset(50, 1);
    gantry_loader *l = NULL;

    CHECK_OK(gantry_loader_create(ds, 7, 1, &l));
    CHECK(gantry_loader_batches_per_epoch(l) == 7); /* 50 / 7, the last 1 dropped */
    gantry_loader_destroy(l);
    l = NULL;
    gantry_loader_destroy(NULL);

    CHECK_STATUS(gantry_loader_create(ds, 51, 1, &l), GANTRY_INVALID_ARGUMENT);
    CHECK(l == NULL);
    CHECK_ERROR_MENTIONS("batch size 51");
    CHECK_ERROR_MENTIONS("50 images");
    CHECK_STATUS(gantry_loader_create(ds, 0, 1, &l), GANTRY_INVALID_ARGUMENT);
    CHECK_OK(gantry_loader_create(ds, 50, 1, &l)); /* the whole set in one batch */
    CHECK(gantry_loader_batches_per_epoch(l) == 1);
    gantry_loader_destroy(l);
    l = NULL;

    const size_t epochs = 4, batch = 7, per = 7, n = per * batch;
    size_t *a = draw_order(ds, batch, 42, epochs);
    size_t *a2 = draw_order(ds, batch, 42, epochs);
    size_t *b = draw_order(ds, batch, 43, epochs);
    CHECK(memcmp(a, a2, epochs * n * sizeof *a) == 0); /* deterministic for a seed */
    CHECK(memcmp(a, b, n * sizeof *a) != 0);           /* another seed, another order */
    for (size_t e = 0; e < epochs; e++) {
        /* each epoch: 49 distinct indices of 50 (drop-last) */
        int seen[50] = { 0 };
        int distinct = 0;
        for (size_t j = 0; j < n; j++) {
            size_t idx = a[e * n + j];
            CHECK(idx < 50);
            if (idx < 50 && !seen[idx]++)
                distinct++;
        }
        CHECK(distinct == (int)n);
        if (e > 0)
            CHECK(memcmp(a + (e - 1) * n, a + e * n, n * sizeof *a) != 0); /* reshuffled */
    }
    /* not the identity order */
    int identity = 1;
    for (size_t j = 0; j < n; j++)
        identity &= a[j] == j;
    CHECK(!identity);

    /* seek(k) continues exactly where k batches taken would: within the
     * first epoch, at an epoch's end, in later epochs, and back again */
    static const size_t seeks[] = { 3, 7, 7 * 2 + 5, 1, 0, 7 * 3 + 6 };
    float *seek_img = malloc(batch * 6 * sizeof(float));
    REQUIRE(seek_img);
    CHECK_OK(gantry_loader_create(ds, batch, 42, &l));
    for (size_t i = 0; i < sizeof seeks / sizeof *seeks; i++) {
        CHECK_OK(gantry_loader_seek(l, seeks[i]));
        size_t epoch = 12345;
        CHECK_OK(gantry_loader_next(l, seek_img, NULL, &epoch));
        CHECK(epoch == seeks[i] / per);
        for (size_t j = 0; j < batch; j++)
            CHECK(index_of(seek_img[j * 6]) == a[seeks[i] * batch + j]);
    }
    gantry_loader_destroy(l);
    l = NULL;
    free(seek_img);
    CHECK_STATUS(gantry_loader_seek(NULL, 1), GANTRY_INVALID_ARGUMENT);
    free(a);
    free(a2);
    free(b);

    /* batch dividing the set: each epoch is a full permutation */
    a = draw_order(ds, 10, 7, 3);
    for (size_t e = 0; e < 3; e++) {
        int seen[50] = { 0 };
        for (size_t j = 0; j < 50; j++)
            seen[a[e * 50 + j]]++;
        int all_once = 1;
        for (int i = 0; i < 50; i++)
            all_once &= seen[i] == 1;
        CHECK(all_once);
    }
    free(a);

    /* roughly uniform: the first element over many seeds */
    gantry_dataset *small = make_indexed_dataset(4, 0);
    int first[4] = { 0 };
    for (uint64_t seed = 0; seed < 2000; seed++) {
        size_t *o = draw_order(small, 4, seed, 1);
        first[o[0]]++;
        free(o);
    }
    for (int i = 0; i < 4; i++)
        CHECK(first[i] > 400 && first[i] < 600);

    /* labels requested from a data set without labels */
    float img[4 * 6];
    uint8_t lab[4];
    size_t epoch = 99;
    CHECK_OK(gantry_loader_create(small, 4, 0, &l));
    CHECK_STATUS(gantry_loader_next(l, img, lab, &epoch), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("labels");
    CHECK_OK(gantry_loader_next(l, img, NULL, &epoch));
    CHECK(epoch == 0);
    CHECK_OK(gantry_loader_next(l, img, NULL, NULL)); /* epoch pointer optional */
    CHECK_OK(gantry_loader_next(l, img, NULL, &epoch));
    CHECK(epoch == 2);
    gantry_loader_destroy(l);

    free_indexed_dataset(small);
    free_indexed_dataset(ds);
}

/* ---- PNG ----------------------------------------------------------------- */

typedef struct png_read_result {
    uint32_t width, height;
    int gray; /* 1: PNG_COLOR_TYPE_GRAY, 0: RGB */
    unsigned char *pixels;
} png_read_result;

static int read_png(const char *path, png_read_result *r)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path))
        return 0;
    r->width = image.width;
    r->height = image.height;
    r->gray = (image.format & PNG_FORMAT_FLAG_COLOR) == 0;
    /* keep the file's own format (gray or RGB, 8-bit) */
    image.format = r->gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    r->pixels = malloc(PNG_IMAGE_SIZE(image));
    if (!r->pixels || !png_image_finish_read(&image, NULL, r->pixels, 0, NULL)) {
        free(r->pixels);
        png_image_free(&image);
        return 0;
    }
    return 1;
}

/* The reference mapping of torchvision's save_image for value_range (-1, 1). */
static unsigned char ref_pixel(float v)
{
    if (v < -1.0f)
        v = -1.0f;
    if (v > 1.0f)
        v = 1.0f;
    float t = (v + 1.0f) / 2.0f * 255.0f + 0.5f;
    return (unsigned char)(t > 255.0f ? 255.0f : t);
}

static void test_png(void)
{
    /* 10 gray images of 3x5, 8 per row, padding 2 */
    const size_t n = 10, h = 3, w = 5, per_row = 8, pad = 2;
    float *imgs = malloc(n * h * w * sizeof(float));
    REQUIRE(imgs);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < h * w; i++)
            imgs[k * h * w + i] = -1.0f + 2.0f * (float)((k * 7 + i * 3) % 17) / 16.0f;
    /* special values in image 0: clamping and exact end points */
    imgs[0] = -3.0f;  /* (0,0) -> 0 */
    imgs[1] = 2.5f;   /* (0,1) -> 255 */
    imgs[2] = 0.0f;   /* (0,2) -> 128 */
    imgs[3] = 0.5f;   /* (0,3) -> 191 */
    imgs[4] = -0.5f;  /* (0,4) -> 64 */
    imgs[5] = 1.0f;   /* (1,0) -> 255 */
    imgs[6] = -1.0f;  /* (1,1) -> 0 */
    /* image 9 (row 1, col 1) bottom-right pixel */
    imgs[9 * h * w + (h - 1) * w + (w - 1)] = 0.25f; /* 0.625*255+0.5 = 159.875 -> 159 */

    const char *path = tp("grid.png");
    CHECK_OK(gantry_png_write_grid(path, imgs, n, 1, h, w, per_row, pad));
    png_read_result r = { 0, 0, 0, NULL };
    CHECK(read_png(path, &r));
    if (r.pixels) {
        const uint32_t xmaps = 8, ymaps = 2;
        CHECK(r.gray);
        CHECK(r.width == xmaps * (w + pad) + pad);  /* 58 */
        CHECK(r.height == ymaps * (h + pad) + pad); /* 12 */
#define PX(y, x) r.pixels[(size_t)(y) * r.width + (size_t)(x)]
        CHECK(PX(2, 2) == 0);
        CHECK(PX(2, 3) == 255);
        CHECK(PX(2, 4) == 128);
        CHECK(PX(2, 5) == 191);
        CHECK(PX(2, 6) == 64);
        CHECK(PX(3, 2) == 255);
        CHECK(PX(3, 3) == 0);
        /* image 9: row 1, col 1 -> origin (y=2+5, x=2+7) */
        CHECK(PX(7 + h - 1, 9 + w - 1) == 159);
        /* every image pixel matches the reference mapping */
        int all = 1;
        for (size_t k = 0; k < n; k++)
            for (size_t y = 0; y < h; y++)
                for (size_t x = 0; x < w; x++) {
                    size_t gy = (k / xmaps) * (h + pad) + pad + y, gx = (k % xmaps) * (w + pad) + pad + x;
                    all &= PX(gy, gx) == ref_pixel(imgs[k * h * w + y * w + x]);
                }
        CHECK(all);
        /* padding: borders, gaps between images, and the empty slots of the
         * last row are 0 */
        CHECK(PX(0, 0) == 0 && PX(1, 10) == 0 && PX(11, 57) == 0);
        CHECK(PX(2, 7) == 0 && PX(2, 8) == 0); /* gap after image 0 */
        CHECK(PX(5, 2) == 0 && PX(6, 4) == 0); /* gap below row 0 */
        int empty = 1;
        for (uint32_t y = 7; y < 10; y++)
            for (uint32_t x = 2 * (uint32_t)(w + pad); x < r.width; x++)
                empty &= PX(y, x) == 0;
        CHECK(empty);
        size_t nonzero_pad = 0;
        for (uint32_t y = 0; y < r.height; y++)
            for (uint32_t x = 0; x < r.width; x++) {
                int in_image = (y % (h + pad)) >= pad && (x % (w + pad)) >= pad;
                if (!in_image && PX(y, x) != 0)
                    nonzero_pad++;
            }
        CHECK(nonzero_pad == 0);
#undef PX
        free(r.pixels);
    }

    /* RGB: 3 images of 2x2, 2 per row, padding 1 -> 2x2 maps of 3x3 + 1 */
    float rgb[3 * 3 * 2 * 2];
    for (size_t i = 0; i < sizeof rgb / sizeof rgb[0]; i++)
        rgb[i] = 0.0f;
    /* image 1 pixel (0,1): R=1, G=-1, B=0.5 */
    rgb[1 * 12 + 0 * 4 + 1] = 1.0f;
    rgb[1 * 12 + 1 * 4 + 1] = -1.0f;
    rgb[1 * 12 + 2 * 4 + 1] = 0.5f;
    path = tp("rgb.png");
    CHECK_OK(gantry_png_write_grid(path, rgb, 3, 3, 2, 2, 2, 1));
    memset(&r, 0, sizeof r);
    CHECK(read_png(path, &r));
    if (r.pixels) {
        CHECK(!r.gray);
        CHECK(r.width == 2 * 3 + 1 && r.height == 2 * 3 + 1);
        /* image 1 at map (0, 1): origin y=1, x=1+3=4; its pixel (0,1) -> x=5 */
        const unsigned char *p = r.pixels + ((size_t)1 * r.width + 5) * 3;
        CHECK(p[0] == 255 && p[1] == 0 && p[2] == 191);
        p = r.pixels + ((size_t)1 * r.width + 1) * 3; /* image 0 pixel (0,0): gray 128 */
        CHECK(p[0] == 128 && p[1] == 128 && p[2] == 128);
        p = r.pixels + ((size_t)4 * r.width + 4) * 3; /* empty slot (1, 1) */
        CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0);
        free(r.pixels);
    }

    /* one image: torchvision returns it unpadded */
    CHECK_OK(gantry_png_write_grid(tp("one.png"), imgs, 1, 1, h, w, 8, 2));
    memset(&r, 0, sizeof r);
    CHECK(read_png(tp("one.png"), &r));
    if (r.pixels) {
        CHECK(r.width == w && r.height == h);
        CHECK(r.pixels[0] == 0 && r.pixels[1] == 255 && r.pixels[2] == 128);
        free(r.pixels);
    }

    /* errors */
    CHECK_STATUS(gantry_png_write_grid(tp("nodir/x.png"), imgs, n, 1, h, w, 8, 2), GANTRY_IO);
    CHECK_ERROR_MENTIONS("nodir/x.png");
    CHECK(!exists(tp("nodir")));
    CHECK_STATUS(gantry_png_write_grid(tp("two.png"), imgs, 2, 2, h, w, 8, 2), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("two.png");
    CHECK(!exists(tp("two.png")));
    CHECK_STATUS(gantry_png_write_grid(tp("zero.png"), imgs, 0, 1, h, w, 8, 2), GANTRY_INVALID_ARGUMENT);
    /* the target is a directory: the rename fails, no temp file stays */
    REQUIRE(mkdir(tp("dir.png"), 0755) == 0);
    CHECK_STATUS(gantry_png_write_grid(tp("dir.png"), imgs, n, 1, h, w, 8, 2), GANTRY_IO);
    CHECK_ERROR_MENTIONS("dir.png");
    CHECK(count_entries(tmp_root, ".tmp.") == 0);
    free(imgs);
}

/* ---- .npy ---------------------------------------------------------------- */

static void test_npy(void)
{
    /* 1-D: header bytes literally */
    const float v3[3] = { 1.5f, -2.0f, 3.25f };
    const size_t s3[1] = { 3 };
    const char *path = tp("v3.npy");
    CHECK_OK(gantry_npy_write(path, v3, 1, s3));
    size_t size;
    unsigned char *raw = read_raw(path, &size);
    CHECK(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
    CHECK((10 + hlen) % 64 == 0);
    CHECK(size == 10 + hlen + 12);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    CHECK(hlen > strlen(dict) && memcmp(raw + 10, dict, strlen(dict)) == 0);
    int spaces = 1;
    for (size_t i = 10 + strlen(dict); i < 10 + hlen - 1; i++)
        spaces &= raw[i] == ' ';
    CHECK(spaces);
    CHECK(raw[10 + hlen - 1] == '\n');
    CHECK(memcmp(raw + 10 + hlen, v3, 12) == 0); /* little-endian float32 (LE host) */
    free(raw);

    float *data = NULL;
    int ndim = -1;
    size_t shape[4] = { 9, 9, 9, 9 };
    CHECK_OK(gantry_npy_read(path, &data, &ndim, shape));
    CHECK(ndim == 1 && shape[0] == 3 && shape[1] == 0);
    CHECK(data && data[0] == 1.5f && data[1] == -2.0f && data[2] == 3.25f);
    free(data);
    data = NULL;

    /* 4-D */
    const size_t s4[4] = { 2, 3, 4, 5 };
    float v4[120];
    for (int i = 0; i < 120; i++)
        v4[i] = (float)i * 0.5f - 7.0f;
    path = tp("v4.npy");
    CHECK_OK(gantry_npy_write(path, v4, 4, s4));
    raw = read_raw(path, &size);
    hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
    CHECK((10 + hlen) % 64 == 0 && size == 10 + hlen + 480);
    CHECK(strstr((char *)raw + 10, "'shape': (2, 3, 4, 5), }") != NULL);
    free(raw);
    CHECK_OK(gantry_npy_read(path, &data, &ndim, shape));
    CHECK(ndim == 4 && shape[0] == 2 && shape[1] == 3 && shape[2] == 4 && shape[3] == 5);
    CHECK(data && memcmp(data, v4, sizeof v4) == 0);
    free(data);
    data = NULL;

    /* 0-D and empty arrays */
    CHECK_OK(gantry_npy_write(tp("scalar.npy"), v3, 0, NULL));
    raw = read_raw(tp("scalar.npy"), &size);
    CHECK(strstr((char *)raw + 10, "'shape': (), }") != NULL);
    free(raw);
    CHECK_OK(gantry_npy_read(tp("scalar.npy"), &data, &ndim, shape));
    CHECK(ndim == 0 && data && data[0] == 1.5f);
    free(data);
    data = NULL;
    const size_t s0[2] = { 0, 4 };
    CHECK_OK(gantry_npy_write(tp("empty.npy"), NULL, 2, s0));
    CHECK_OK(gantry_npy_read(tp("empty.npy"), &data, &ndim, shape));
    CHECK(ndim == 2 && shape[0] == 0 && shape[1] == 4 && data != NULL);
    free(data);
    data = NULL;

    /* overwriting an existing file */
    CHECK_OK(gantry_npy_write(tp("v3.npy"), v4, 1, s3));
    CHECK_OK(gantry_npy_read(tp("v3.npy"), &data, &ndim, shape));
    CHECK(data && data[0] == v4[0] && data[2] == v4[2]);
    free(data);
    data = NULL;

    /* a format 2.0 file, as numpy writes for huge headers, with a header
     * written in a different but valid style */
    {
        const char *hdr = "{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": '<f4'}";
        size_t hl = strlen(hdr);
        size_t pad = 64 - (12 + hl + 1) % 64;
        size_t total = 12 + hl + pad + 1;
        unsigned char *f = malloc(total + 16);
        REQUIRE(f);
        memcpy(f, "\x93NUMPY\x02\x00", 8);
        uint32_t h2 = (uint32_t)(hl + pad + 1);
        for (int i = 0; i < 4; i++)
            f[8 + i] = (unsigned char)(h2 >> (8 * i));
        memcpy(f + 12, hdr, hl);
        memset(f + 12 + hl, ' ', pad);
        f[total - 1] = '\n';
        memcpy(f + total, v4, 16);
        write_raw(tp("v2.npy"), f, total + 16);
        free(f);
        CHECK_OK(gantry_npy_read(tp("v2.npy"), &data, &ndim, shape));
        CHECK(ndim == 2 && shape[0] == 2 && shape[1] == 2 && data && memcmp(data, v4, 16) == 0);
        free(data);
        data = NULL;
    }

    /* corrupt or unsupported files */
    struct {
        const char *name, *header;
        size_t data_bytes;
        gantry_status status;
        const char *mention;
    } bad[] = {
        { "f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, GANTRY_UNSUPPORTED, "'<f8'" },
        { "be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12, GANTRY_UNSUPPORTED, "'>f4'" },
        { "fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", 12, GANTRY_UNSUPPORTED,
          "Fortran" },
        { "5d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 3), }", 12,
          GANTRY_UNSUPPORTED, "dimensions" },
        { "short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, GANTRY_CORRUPT_FILE,
          "truncated" },
        { "long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 16, GANTRY_CORRUPT_FILE,
          "trailing" },
        { "noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", 12, GANTRY_CORRUPT_FILE, "'shape'" },
        { "badshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", 12, GANTRY_CORRUPT_FILE,
          "shape" },
        { "floatshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 12, GANTRY_CORRUPT_FILE,
          "shape" },
        { "extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12, GANTRY_CORRUPT_FILE,
          "'x'" },
        { "junk.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } junk", 12, GANTRY_CORRUPT_FILE,
          "after" },
        { "nodict.npy", "hello", 12, GANTRY_CORRUPT_FILE, "header" },
        { "unterminated.npy", "{'descr': '<f4", 12, GANTRY_CORRUPT_FILE, "header" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_npy_raw(tp(bad[i].name), bad[i].header, NULL, bad[i].data_bytes);
        data = (float *)&data;
        CHECK_STATUS(gantry_npy_read(tp(bad[i].name), &data, &ndim, shape), bad[i].status);
        CHECK(data == NULL);
        CHECK_ERROR_MENTIONS(bad[i].name);
        CHECK_ERROR_MENTIONS(bad[i].mention);
    }
    /* broken prefixes */
    write_raw(tp("tiny.npy"), "\x93NUMP", 5);
    CHECK_STATUS(gantry_npy_read(tp("tiny.npy"), &data, &ndim, shape), GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("tiny.npy");
    write_raw(tp("magic.npy"), "\x93NUMPZ\x01\x00\x00\x00{}", 12);
    CHECK_STATUS(gantry_npy_read(tp("magic.npy"), &data, &ndim, shape), GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("magic");
    write_raw(tp("v3.0.npy"), "\x93NUMPY\x03\x00\x02\x00\x00\x00{}", 14);
    CHECK_STATUS(gantry_npy_read(tp("v3.0.npy"), &data, &ndim, shape), GANTRY_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("version 3.0");
    write_raw(tp("hlen.npy"), "\x93NUMPY\x01\x00\xff\x00{}", 12);
    CHECK_STATUS(gantry_npy_read(tp("hlen.npy"), &data, &ndim, shape), GANTRY_CORRUPT_FILE);
    CHECK_ERROR_MENTIONS("header length 255 exceeds");
    CHECK_STATUS(gantry_npy_read(tp("none.npy"), &data, &ndim, shape), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("none.npy");

    /* failed writes leave nothing behind */
    CHECK_STATUS(gantry_npy_write(tp("nodir/a.npy"), v3, 1, s3), GANTRY_IO);
    CHECK_ERROR_MENTIONS("nodir/a.npy");
    const size_t s5[5] = { 1, 1, 1, 1, 3 };
    CHECK_STATUS(gantry_npy_write(tp("5d-out.npy"), v3, 5, s5), GANTRY_INVALID_ARGUMENT);
    CHECK(!exists(tp("5d-out.npy")));
    REQUIRE(mkdir(tp("dir.npy"), 0755) == 0);
    CHECK_STATUS(gantry_npy_write(tp("dir.npy"), v3, 1, s3), GANTRY_IO);
    CHECK(count_entries(tmp_root, ".tmp.") == 0);
}

/* ---- safetensors --------------------------------------------------------- */

/* Writes a safetensors file by hand: 8-byte LE length `hlen_field`, the
 * header text, then `data_len` bytes of data. */
static void write_st(const char *path, uint64_t hlen_field, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *f = calloc(1, 8 + hl + data_len + 1);
    REQUIRE(f);
    for (int i = 0; i < 8; i++)
        f[i] = (unsigned char)(hlen_field >> (8 * i));
    memcpy(f + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        f[8 + hl + i] = (unsigned char)i;
    write_raw(path, f, 8 + hl + data_len);
    free(f);
}

static void expect_st_error(const char *name, gantry_status status, const char *mention, const char *mention2)
{
    gantry_safetensors *st = (gantry_safetensors *)&st;
    CHECK_STATUS(gantry_safetensors_read(tp(name), &st), status);
    CHECK(st == NULL);
    CHECK_ERROR_MENTIONS(name);
    if (mention)
        CHECK_ERROR_MENTIONS(mention);
    if (mention2)
        CHECK_ERROR_MENTIONS(mention2);
}

static void test_safetensors(void)
{
    float w[6] = { 1.0f, -2.0f, 3.5f, 0.0f, -0.25f, 1e-3f };
    int64_t steps[4] = { 0, -1, INT64_MAX, (int64_t)1 << 40 };
    float scalar = 42.5f;
    gantry_st_tensor tensors[3] = {
        { "gen.w", GANTRY_DTYPE_F32, 2, { 2, 3, 0, 0 }, w },
        { "opt/step", GANTRY_DTYPE_I64, 1, { 4, 0, 0, 0 }, steps },
        { "loss", GANTRY_DTYPE_F32, 0, { 0, 0, 0, 0 }, &scalar },
    };
    gantry_st_meta meta[2] = { { "format", "pt" }, { "gantry.step", "100" } };
    const char *path = tp("ck.safetensors");
    CHECK_OK(gantry_safetensors_write(path, tensors, 3, meta, 2));

    /* byte layout */
    size_t size;
    unsigned char *raw = read_raw(path, &size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)raw[i] << (8 * i);
    CHECK(hlen % 8 == 0);
    CHECK(size == 8 + hlen + 24 + 32 + 4);
    CHECK(raw[8] == '{');
    char *header = malloc(hlen + 1);
    REQUIRE(header);
    memcpy(header, raw + 8, hlen);
    header[hlen] = '\0';
    char *end = strrchr(header, '}');
    CHECK(end != NULL);
    if (end) {
        int spaces = (size_t)(end - header) + 1 + 7 >= hlen; /* less than 8 bytes of padding */
        for (char *p = end + 1; *p; p++)
            spaces &= *p == ' ';
        CHECK(spaces);
    }
    CHECK(strstr(header, "\"__metadata__\":{\"format\":\"pt\",\"gantry.step\":\"100\"}") != NULL);
    CHECK(strstr(header, "\"gen.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}") != NULL);
    CHECK(strstr(header, "\"opt/step\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[24,56]}") != NULL);
    CHECK(strstr(header, "\"loss\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[56,60]}") != NULL);
    CHECK(strstr(header, "__metadata__") < strstr(header, "gen.w"));
    CHECK(strstr(header, "gen.w") < strstr(header, "opt/step") && strstr(header, "opt/step") < strstr(header, "loss"));
    CHECK(memcmp(raw + 8 + hlen, w, 24) == 0);
    CHECK(memcmp(raw + 8 + hlen + 24, steps, 32) == 0);
    CHECK(memcmp(raw + 8 + hlen + 56, &scalar, 4) == 0);
    free(header);
    free(raw);

    /* round trip */
    gantry_safetensors *st = NULL;
    CHECK_OK(gantry_safetensors_read(path, &st));
    REQUIRE(st);
    CHECK(gantry_safetensors_count(st) == 3);
    const gantry_st_tensor *t = gantry_safetensors_at(st, 0);
    CHECK(t && strcmp(t->name, "gen.w") == 0 && t->dtype == GANTRY_DTYPE_F32 && t->ndim == 2 && t->shape[0] == 2 &&
          t->shape[1] == 3);
    CHECK(t && memcmp(t->data, w, sizeof w) == 0);
    t = gantry_safetensors_at(st, 1);
    CHECK(t && strcmp(t->name, "opt/step") == 0 && t->dtype == GANTRY_DTYPE_I64 && t->ndim == 1 && t->shape[0] == 4);
    CHECK(t && memcmp(t->data, steps, sizeof steps) == 0);
    CHECK(t && ((const int64_t *)t->data)[2] == INT64_MAX);
    t = gantry_safetensors_at(st, 2);
    CHECK(t && strcmp(t->name, "loss") == 0 && t->ndim == 0 && *(const float *)t->data == 42.5f);
    CHECK(gantry_safetensors_at(st, 3) == NULL);
    t = gantry_safetensors_find(st, "opt/step");
    CHECK(t && t->dtype == GANTRY_DTYPE_I64);
    CHECK(gantry_safetensors_find(st, "nope") == NULL);
    CHECK(gantry_safetensors_meta(st, "gantry.step") && strcmp(gantry_safetensors_meta(st, "gantry.step"), "100") == 0);
    CHECK(gantry_safetensors_meta(st, "format") && strcmp(gantry_safetensors_meta(st, "format"), "pt") == 0);
    CHECK(gantry_safetensors_meta(st, "missing") == NULL);
    gantry_safetensors_destroy(st);
    st = NULL;
    gantry_safetensors_destroy(NULL);

    /* no tensors, no metadata */
    CHECK_OK(gantry_safetensors_write(tp("empty.safetensors"), NULL, 0, NULL, 0));
    raw = read_raw(tp("empty.safetensors"), &size);
    CHECK(size == 16 && raw[0] == 8 && memcmp(raw + 8, "{}      ", 8) == 0);
    free(raw);
    CHECK_OK(gantry_safetensors_read(tp("empty.safetensors"), &st));
    CHECK(st && gantry_safetensors_count(st) == 0 && gantry_safetensors_meta(st, "format") == NULL);
    gantry_safetensors_destroy(st);
    st = NULL;

    /* a file written by someone else: unaligned header (117 bytes, so the
     * data section and both tensors are unaligned), extra whitespace, fields
     * in another order */
    const char *foreign = "{  \"b\" : {\"data_offsets\":[0,8],\"shape\":[2],\"dtype\":\"F32\"}, \"a\": "
                          "{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[8,16]}}\n";
    write_st(tp("foreign.safetensors"), strlen(foreign), foreign, 16);
    CHECK_OK(gantry_safetensors_read(tp("foreign.safetensors"), &st));
    REQUIRE(st);
    CHECK(gantry_safetensors_count(st) == 2);
    t = gantry_safetensors_find(st, "b");
    if (t) {
        const unsigned char expect_b[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
        CHECK(memcmp(t->data, expect_b, 8) == 0);
        CHECK((uintptr_t)t->data % 4 == 0);
    } else {
        CHECK(t != NULL);
    }
    t = gantry_safetensors_find(st, "a");
    CHECK(t && t->ndim == 2 && (uintptr_t)t->data % 8 == 0);
    gantry_safetensors_destroy(st);
    st = NULL;

    /* malformed files */
    const char *ok_entry = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    write_raw(tp("tiny.safetensors"), "\x10\0\0\0\0", 5);
    expect_st_error("tiny.safetensors", GANTRY_CORRUPT_FILE, "shorter than", NULL);
    write_raw(tp("zero.safetensors"), "", 0);
    expect_st_error("zero.safetensors", GANTRY_CORRUPT_FILE, "shorter than", NULL);
    write_st(tp("biglen.safetensors"), 1000, ok_entry, 8);
    expect_st_error("biglen.safetensors", GANTRY_CORRUPT_FILE, "header length 1000 exceeds", NULL);
    write_st(tp("hugelen.safetensors"), UINT64_MAX, ok_entry, 8);
    expect_st_error("hugelen.safetensors", GANTRY_CORRUPT_FILE, "exceeds", NULL);
    write_st(tp("badjson.safetensors"), 16, "{\"w\": {\"dtype\":", 8);
    expect_st_error("badjson.safetensors", GANTRY_CORRUPT_FILE, "JSON", NULL);
    write_st(tp("badjson2.safetensors"), 9, "{\"w\": 1,}", 8);
    expect_st_error("badjson2.safetensors", GANTRY_CORRUPT_FILE, "JSON", NULL);
    write_st(tp("array.safetensors"), 7, "[1, 2] ", 8);
    expect_st_error("array.safetensors", GANTRY_CORRUPT_FILE, "not a JSON object", NULL);
    write_st(tp("garbage.safetensors"), strlen(ok_entry) + 3, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
                                                            "\"data_offsets\":[0,8]}} xy",
             8);
    expect_st_error("garbage.safetensors", GANTRY_CORRUPT_FILE, "after the JSON header", NULL);

#define ST_CASE(name, json, data_len, status, m1, m2)                                                    \
    do {                                                                                                \
        write_st(tp(name), strlen(json), json, data_len);                                               \
        expect_st_error(name, status, m1, m2);                                                          \
    } while (0)
    ST_CASE("ok-but-out.safetensors", ok_entry, 4, GANTRY_CORRUPT_FILE, "tensor \"w\"", "outside the data section");
    ST_CASE("range.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 12,
            GANTRY_CORRUPT_FILE, "\"w\"", "outside");
    ST_CASE("reversed.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 12,
            GANTRY_CORRUPT_FILE, "\"w\"", "[8, 0]");
    ST_CASE("mismatch.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12,
            GANTRY_CORRUPT_FILE, "\"w\"", "needs 12");
    ST_CASE("mismatch64.safetensors", "{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16,
            GANTRY_CORRUPT_FILE, "\"w\"", "needs 16");
    ST_CASE("f16.safetensors", "{\"half\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
            GANTRY_UNSUPPORTED, "\"half\"", "F16");
    ST_CASE("bf16.safetensors", "{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
            GANTRY_UNSUPPORTED, "\"x\"", "BF16");
    ST_CASE("unknown.safetensors", "{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
            GANTRY_CORRUPT_FILE, "\"x\"", "unknown dtype \"Q7\"");
    ST_CASE("nodtype.safetensors", "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, GANTRY_CORRUPT_FILE, "\"x\"",
            "dtype");
    ST_CASE("intdtype.safetensors", "{\"x\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "dtype");
    ST_CASE("notobj.safetensors", "{\"x\":[1,2,3]}", 8, GANTRY_CORRUPT_FILE, "\"x\"", "not an object");
    ST_CASE("notobj2.safetensors", "{\"y\":\"F32\"}", 8, GANTRY_CORRUPT_FILE, "\"y\"", "not an object");
    ST_CASE("negshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "shape");
    ST_CASE("floatshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "shape");
    ST_CASE("noshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, GANTRY_CORRUPT_FILE,
            "\"x\"", "shape");
    ST_CASE("5d.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
            GANTRY_UNSUPPORTED, "\"x\"", "dimensions");
    ST_CASE("nooffsets.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, GANTRY_CORRUPT_FILE, "\"x\"",
            "data_offsets");
    ST_CASE("3offsets.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "data_offsets");
    ST_CASE("negoffsets.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "data_offsets");
    ST_CASE("hugeoffsets.safetensors",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "data_offsets");
    ST_CASE("overflow.safetensors",
            "{\"x\":{\"dtype\":\"I64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 8,
            GANTRY_CORRUPT_FILE, "\"x\"", "impossibly large");
    ST_CASE("meta.safetensors",
            "{\"__metadata__\":{\"a\":1},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
            GANTRY_CORRUPT_FILE, "__metadata__", "\"a\"");
    ST_CASE("meta2.safetensors", "{\"__metadata__\":[\"a\"]}", 8, GANTRY_CORRUPT_FILE, "__metadata__",
            "not an object");
    /* The safetensors rules (issue 20): no name twice, even spelt with an
     * escape (json-c would keep the last silently); the tensors tile the
     * data section, sorted by offset, with no overlap and no gap. */
#define W(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #b "," #e "]}"
    ST_CASE("dup-names.safetensors", "{" W("w", 0, 8) "," W("w", 8, 16) "}", 16, GANTRY_CORRUPT_FILE, "\"w\"", "twice");
    ST_CASE("dup-escaped.safetensors", "{" W("w", 0, 8) "," W("\\u0077", 8, 16) "}", 16, GANTRY_CORRUPT_FILE,
            "\"w\"", "twice");
    ST_CASE("dup-meta.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," W("w", 0, 8) "}", 8,
            GANTRY_CORRUPT_FILE, "metadata key \"k\"", "twice");
    ST_CASE("dup-field.safetensors",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"data_offsets\":[8,16]}}", 16,
            GANTRY_CORRUPT_FILE, "\"data_offsets\"", "twice");
    ST_CASE("nul-key.safetensors", "{" W("a\\u0000b", 0, 8) "}", 8, GANTRY_CORRUPT_FILE, "NUL", NULL);
    ST_CASE("overlap.safetensors", "{" W("a", 0, 8) "," W("b", 4, 12) "}", 12, GANTRY_CORRUPT_FILE,
            "\"a\" [0, 8] and \"b\" [4, 12] overlap", NULL);
    ST_CASE("same-bytes.safetensors", "{" W("a", 0, 8) "," W("b", 0, 8) "}", 8, GANTRY_CORRUPT_FILE, "overlap", NULL);
    ST_CASE("gap.safetensors", "{" W("a", 0, 8) "," W("b", 12, 20) "}", 20, GANTRY_CORRUPT_FILE, "gap",
            "[8, 12] between tensors \"a\" and \"b\"");
    ST_CASE("gap-first.safetensors", "{" W("a", 4, 12) "}", 12, GANTRY_CORRUPT_FILE, "first 4 bytes", "\"a\"");
    ST_CASE("gap-last.safetensors", "{" W("a", 0, 8) "}", 12, GANTRY_CORRUPT_FILE, "last 4 bytes", "\"a\"");
    ST_CASE("no-tensors.safetensors", "{}", 8, GANTRY_CORRUPT_FILE, "8 bytes but no tensors", NULL);
#undef W
    /* out of order in the header, empty tensors anywhere: still exact */
    write_st(tp("order.safetensors"),
             strlen("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},\"e\":{\"dtype\":\"F32\","
                    "\"shape\":[0],\"data_offsets\":[8,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"),
             "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},\"e\":{\"dtype\":\"F32\","
             "\"shape\":[0],\"data_offsets\":[8,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             16);
    CHECK_OK(gantry_safetensors_read(tp("order.safetensors"), &st));
    CHECK(st && gantry_safetensors_count(st) == 3);
    gantry_safetensors_destroy(st);
    st = NULL;
#undef ST_CASE
    expect_st_error("missing.safetensors", GANTRY_NOT_FOUND, NULL, NULL);

    /* invalid writes, failed writes: no file, no temp file */
    gantry_st_tensor dup[2] = { tensors[0], tensors[0] };
    CHECK_STATUS(gantry_safetensors_write(tp("dup.safetensors"), dup, 2, NULL, 0), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("gen.w");
    CHECK(!exists(tp("dup.safetensors")));
    gantry_st_tensor reserved = tensors[0];
    reserved.name = "__metadata__";
    CHECK_STATUS(gantry_safetensors_write(tp("res.safetensors"), &reserved, 1, NULL, 0), GANTRY_INVALID_ARGUMENT);
    gantry_st_tensor nodata = tensors[0];
    nodata.data = NULL;
    CHECK_STATUS(gantry_safetensors_write(tp("nodata.safetensors"), &nodata, 1, NULL, 0), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_safetensors_write(tp("nodir/x.safetensors"), tensors, 3, meta, 2), GANTRY_IO);
    CHECK_ERROR_MENTIONS("nodir/x.safetensors");
    REQUIRE(mkdir(tp("dir.safetensors"), 0755) == 0);
    CHECK_STATUS(gantry_safetensors_write(tp("dir.safetensors"), tensors, 3, meta, 2), GANTRY_IO);
    CHECK_ERROR_MENTIONS("dir.safetensors");
    CHECK(count_entries(tmp_root, ".tmp.") == 0);

    /* an unwritable directory (root can write anywhere: skip then) */
    if (geteuid() != 0) {
        const char *ro = tp("readonly");
        REQUIRE(mkdir(ro, 0755) == 0);
        REQUIRE(chmod(ro, 0555) == 0);
        char p[600];
        snprintf(p, sizeof p, "%s/x.safetensors", ro);
        CHECK_STATUS(gantry_safetensors_write(p, tensors, 3, meta, 2), GANTRY_IO);
        CHECK_ERROR_MENTIONS("readonly/x.safetensors");
        CHECK(count_entries(ro, "") == 0);
        chmod(ro, 0755);
    }
}

/* Successful writes replace the target with the mode a plain fopen gives. */
static void test_atomic_mode(void)
{
    mode_t old = umask(022);
    const float v[2] = { 1, 2 };
    const size_t s[1] = { 2 };
    CHECK_OK(gantry_npy_write(tp("mode.npy"), v, 1, s));
    struct stat st;
    CHECK(stat(tp("mode.npy"), &st) == 0 && (st.st_mode & 0777) == 0644);
    umask(027);
    CHECK_OK(gantry_npy_write(tp("mode2.npy"), v, 1, s));
    CHECK(stat(tp("mode2.npy"), &st) == 0 && (st.st_mode & 0777) == 0640);
    umask(old);
    CHECK(count_entries(tmp_root, ".tmp.") == 0);
}

int main(void)
{
    test_tmp_init("io");

    test_idx_good();
    test_idx_corrupt();
    test_idx_members();
    test_dataset_load();
    test_loader();
    test_png();
    test_npy();
    test_safetensors();
    test_atomic_mode();

    remove_tree(tmp_root);
    return test_finish("io");
}
