/* io suite: .npy arrays of images (layouts and dtypes), CIFAR-10's binary
 * batches, preprocessing of IDX sets, and the resampler against values
 * worked out by hand.  Every file is made here, in a private temporary
 * directory. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/data.h"
#include "gantry/io.h"
#include "gantry/status.h"
#include "test.h"
#include "test_files.h"

static gantry_dataset *open_with(const char *source, const char *split, size_t limit, size_t size, size_t channels)
{
    gantry_data_options o = { size, channels, "", 0, NULL, NULL, NULL };
    gantry_dataset *ds = NULL;
    CHECK_OK(gantry_dataset_open(source, split, limit, &o, &ds));
    REQUIRE(ds);
    return ds;
}

static void expect_error(const char *source, const char *split, gantry_status status, const char *what)
{
    gantry_dataset *ds = (gantry_dataset *)&ds;
    CHECK_STATUS(gantry_dataset_open(source, split, 0, NULL, &ds), status);
    CHECK(ds == NULL);
    CHECK_ERROR_MENTIONS(what);
}

/* A uint8 .npy of the given shape (a Python tuple) and bytes. */
static void write_u8(const char *name, const char *shape, const uint8_t *data, size_t n)
{
    char header[200];
    snprintf(header, sizeof header, "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }", shape);
    write_npy_raw(tp(name), header, data, n);
}

/* Every byte of `ds` as a float is value / 127.5 - 1. */
static void check_floats(const gantry_dataset *ds)
{
    size_t n = ds->count * ds->channels * ds->height * ds->width;
    float *f = malloc(n * sizeof *f);
    REQUIRE(f);
    CHECK_OK(gantry_dataset_images(ds, 0, ds->count, f));
    int same = 1;
    for (size_t i = 0; i < n; i++)
        same &= f[i] == (float)ds->pixels[i] / 127.5f - 1.0f;
    CHECK(same);
    free(f);
}

/* ---- .npy ----------------------------------------------------------------- */

enum { N = 2, C = 3, H = 5, W = 5, PLANE = H * W, IMAGE = C * PLANE };

/* pixel (k, c, y, x) of the reference images */
static uint8_t ref(size_t k, size_t c, size_t y, size_t x)
{
    return (uint8_t)(k * 100 + c * 30 + y * 6 + x);
}

static void test_npy_layouts(void)
{
    uint8_t nchw[N * IMAGE], nhwc[N * IMAGE], nhwc4[N * H * W * 4], gray[N * PLANE];
    for (size_t k = 0; k < N; k++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < W; x++) {
                for (size_t c = 0; c < C; c++) {
                    nchw[((k * C + c) * H + y) * W + x] = ref(k, c, y, x);
                    nhwc[((k * H + y) * W + x) * C + c] = ref(k, c, y, x);
                    nhwc4[((k * H + y) * W + x) * 4 + c] = ref(k, c, y, x);
                }
                nhwc4[((k * H + y) * W + x) * 4 + 3] = 255; /* alpha: dropped */
                gray[(k * H + y) * W + x] = ref(k, 0, y, x);
            }
    write_u8("nchw.npy", "(2, 3, 5, 5)", nchw, sizeof nchw);
    write_u8("nhwc.npy", "(2, 5, 5, 3)", nhwc, sizeof nhwc);
    write_u8("nhwc4.npy", "(2, 5, 5, 4)", nhwc4, sizeof nhwc4);
    write_u8("n1hw.npy", "(2, 1, 5, 5)", gray, sizeof gray);
    write_u8("nhw.npy", "(2, 5, 5)", gray, sizeof gray);
    write_u8("nhw1.npy", "(2, 5, 5, 1)", gray, sizeof gray);

    static const char *const colour[] = { "nchw.npy", "nhwc.npy", "nhwc4.npy" };
    for (size_t i = 0; i < 3; i++) {
        gantry_dataset *ds = open_with(tp(colour[i]), "train", 0, 0, 0);
        CHECK(ds->count == N && ds->channels == 3 && ds->height == H && ds->width == W);
        CHECK(memcmp(ds->pixels, nchw, sizeof nchw) == 0);
        CHECK(ds->labels == NULL && ds->num_classes == 0 && strcmp(ds->kind, "npy") == 0);
        check_floats(ds);
        gantry_dataset_destroy(ds);
    }
    static const char *const grays[] = { "n1hw.npy", "nhw.npy", "nhw1.npy" };
    for (size_t i = 0; i < 3; i++) {
        gantry_dataset *ds = open_with(tp(grays[i]), "train", 0, 0, 0);
        CHECK(ds->count == N && ds->channels == 1 && ds->height == H && ds->width == W);
        CHECK(memcmp(ds->pixels, gray, sizeof gray) == 0);
        gantry_dataset_destroy(ds);
    }
    gantry_dataset *ds = open_with(tp("nhwc.npy"), "train", 1, 0, 0); /* a limit */
    CHECK(ds->count == 1 && memcmp(ds->pixels, nchw, IMAGE) == 0);
    gantry_dataset_destroy(ds);

    /* float in [0, 1] and in [-1, 1]: the bytes come back exactly */
    float unit[N * IMAGE], signed_[N * IMAGE];
    for (size_t i = 0; i < N * IMAGE; i++) {
        unit[i] = (float)nchw[i] / 255.0f;
        signed_[i] = (float)nchw[i] / 127.5f - 1.0f;
    }
    const size_t shape[4] = { N, C, H, W };
    CHECK_OK(gantry_npy_write(tp("unit.npy"), unit, 4, shape));
    CHECK_OK(gantry_npy_write(tp("signed.npy"), signed_, 4, shape));
    static const char *const floats[] = { "unit.npy", "signed.npy" };
    for (size_t i = 0; i < 2; i++) {
        ds = open_with(tp(floats[i]), "train", 0, 0, 0);
        CHECK(ds->channels == 3 && memcmp(ds->pixels, nchw, sizeof nchw) == 0);
        gantry_dataset_destroy(ds);
    }
    /* the floats of an image are those batches would hold: written back as
     * .npy they read as the same bytes */
    ds = open_with(tp("nchw.npy"), "train", 0, 0, 0);
    float back[N * IMAGE];
    CHECK_OK(gantry_dataset_images(ds, 0, N, back));
    CHECK(memcmp(back, signed_, sizeof back) == 0);
    gantry_dataset_destroy(ds);

    unit[5] = 2.0f;
    CHECK_OK(gantry_npy_write(tp("range.npy"), unit, 4, shape));
    expect_error(tp("range.npy"), "train", GANTRY_UNSUPPORTED, "[0, 1] or [-1, 1]");
    unit[5] = NAN;
    CHECK_OK(gantry_npy_write(tp("nan.npy"), unit, 4, shape));
    expect_error(tp("nan.npy"), "train", GANTRY_CORRUPT_FILE, "NaN");
    write_u8("flat.npy", "(5, 5)", gray, 25);
    expect_error(tp("flat.npy"), "train", GANTRY_UNSUPPORTED, "[N, C, H, W]");
    write_u8("five.npy", "(1, 5, 2, 5)", NULL, 50);
    expect_error(tp("five.npy"), "train", GANTRY_UNSUPPORTED, "without 1, 3 or 4 channels");
    write_u8("zero.npy", "(0, 4, 4)", NULL, 0);
    expect_error(tp("zero.npy"), "train", GANTRY_CORRUPT_FILE, "no pixels");
    write_u8("short.npy", "(2, 5, 5)", gray, 20);
    expect_error(tp("short.npy"), "train", GANTRY_CORRUPT_FILE, "truncated");
    expect_error(tp("nchw.npy"), "t10k", GANTRY_NOT_FOUND, "no test split");

    /* the float-only reader refuses uint8 by name */
    float *data = NULL;
    int ndim = 0;
    size_t sh[4];
    CHECK_STATUS(gantry_npy_read(tp("nchw.npy"), &data, &ndim, sh), GANTRY_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("uint8");
    CHECK(data == NULL);
}

/* ---- the resampler, through single-image .npy files ------------------------ */

/* One h x w gray image resized to `size`: the pixels (size * size). */
static gantry_dataset *resized(const char *name, const uint8_t *img, size_t h, size_t w, size_t size)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(1, %zu, %zu)", h, w);
    write_u8(name, shape, img, h * w);
    gantry_dataset *ds = open_with(tp(name), "train", 0, size, 0);
    CHECK(ds->channels == 1 && ds->height == size && ds->width == size);
    return ds;
}

static int row_is(const uint8_t *p, const uint8_t *want, size_t n)
{
    int same = memcmp(p, want, n) == 0;
    if (!same) {
        fprintf(stderr, "row:");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %u (want %u)", p[i], want[i]);
        fprintf(stderr, "\n");
    }
    return same;
}

static void test_resize(void)
{
    /* a constant image stays constant, shrunk (7x5 to 3) or grown (to 11) */
    uint8_t flat[35];
    memset(flat, 123, sizeof flat);
    gantry_dataset *ds = resized("flat3.npy", flat, 7, 5, 3);
    int ok = 1;
    for (size_t i = 0; i < 9; i++)
        ok &= ds->pixels[i] == 123;
    CHECK(ok);
    gantry_dataset_destroy(ds);
    ds = resized("flat11.npy", flat, 7, 5, 11);
    for (size_t i = 0; i < 121; i++)
        ok &= ds->pixels[i] == 123;
    CHECK(ok);
    gantry_dataset_destroy(ds);

    /* a one-pixel checkerboard halved: every inner pixel is the average
     * (127.5, rounded up); at the borders the filter is cut and
     * renormalised, so they stay near it */
    uint8_t board[64];
    for (size_t i = 0; i < 64; i++)
        board[i] = (uint8_t)((i / 8 + i % 8) % 2 ? 255 : 0);
    ds = resized("board.npy", board, 8, 8, 4);
    const uint8_t *p = ds->pixels;
    CHECK(p[5] == 128 && p[6] == 128 && p[9] == 128 && p[10] == 128);
    for (size_t i = 0; i < 16; i++)
        ok &= p[i] >= 100 && p[i] <= 155;
    CHECK(ok);
    gantry_dataset_destroy(ds);

    /* by hand, PIL's triangle filter: shrinking [0 70 140 210] by 2 gives
     * support 2 and weights 3/7 3/7 1/7 -> 50, and 1/7 3/7 3/7 -> 160 */
    static const uint8_t ramp[16] = { 0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210 };
    static const uint8_t half[2] = { 50, 160 };
    ds = resized("ramp.npy", ramp, 4, 4, 2);
    CHECK(row_is(ds->pixels, half, 2) && row_is(ds->pixels + 2, half, 2));
    gantry_dataset_destroy(ds);
    /* growing [0 100] to 4: centres 0.25 .. 1.75 -> 0, 25, 75, 100 */
    static const uint8_t two[4] = { 0, 100, 0, 100 }, grown[4] = { 0, 25, 75, 100 };
    ds = resized("two.npy", two, 2, 2, 4);
    for (size_t r = 0; r < 4; r++)
        CHECK(row_is(ds->pixels + r * 4, grown, 4));
    gantry_dataset_destroy(ds);

    /* already the size: untouched */
    uint8_t noise[16];
    for (size_t i = 0; i < 16; i++)
        noise[i] = (uint8_t)(i * 97 + 13);
    ds = resized("same.npy", noise, 4, 4, 4);
    CHECK(memcmp(ds->pixels, noise, 16) == 0);
    gantry_dataset_destroy(ds);

    /* the shorter side already fits: only the centre crop, whose offset is
     * rounded half to even as torchvision rounds it: 4 wide of 6 -> 1,
     * of 7 -> round(1.5) = 2, of 9 -> round(2.5) = 2 */
    static const size_t widths[] = { 6, 7, 9 }, left[] = { 1, 2, 2 };
    for (size_t k = 0; k < 3; k++) {
        uint8_t img[4 * 9], want[4];
        for (size_t i = 0; i < 4 * widths[k]; i++)
            img[i] = (uint8_t)(i % widths[k] * 10);
        for (size_t x = 0; x < 4; x++)
            want[x] = (uint8_t)((left[k] + x) * 10);
        char name[32];
        snprintf(name, sizeof name, "wide%zu.npy", widths[k]);
        ds = resized(name, img, 4, widths[k], 4);
        CHECK(row_is(ds->pixels, want, 4) && row_is(ds->pixels + 12, want, 4));
        gantry_dataset_destroy(ds);
    }
    /* not square and no size asked: 64 */
    write_u8("wide.npy", "(1, 4, 6)", NULL, 24);
    ds = open_with(tp("wide.npy"), "train", 0, 0, 0);
    CHECK(ds->height == 64 && ds->width == 64);
    gantry_dataset_destroy(ds);
}

/* ---- CIFAR-10 ----------------------------------------------------------------- */

enum { RECORD = 3073 };

/* `n` records from global index `first` on: label first % 10, pixel bytes
 * a pattern of the index. */
static void write_batch(const char *name, size_t first, size_t n)
{
    uint8_t *b = malloc(n * RECORD);
    REQUIRE(b);
    for (size_t r = 0; r < n; r++) {
        b[r * RECORD] = (uint8_t)((first + r) % 10);
        for (size_t i = 0; i < 3072; i++)
            b[r * RECORD + 1 + i] = (uint8_t)((first + r) * 7 + i);
    }
    write_raw(tp(name), b, n * RECORD);
    free(b);
}

static void check_cifar(const gantry_dataset *ds, size_t first, size_t n)
{
    CHECK(ds->count == n && ds->channels == 3 && ds->height == 32 && ds->width == 32);
    CHECK(ds->labels && ds->num_classes == 10 && strcmp(ds->kind, "cifar10") == 0);
    int ok = ds->count == n;
    for (size_t r = 0; ok && r < n; r++) {
        ok &= ds->labels[r] == (first + r) % 10;
        for (size_t i = 0; i < 3072; i++)
            ok &= ds->pixels[r * 3072 + i] == (uint8_t)((first + r) * 7 + i);
    }
    CHECK(ok);
}

static void test_cifar(void)
{
    REQUIRE(mkdir(tp("cifar"), 0755) == 0);
    char name[64];
    for (size_t b = 1; b <= 5; b++) {
        snprintf(name, sizeof name, "cifar/data_batch_%zu.bin", b);
        write_batch(name, (b - 1) * 2, 2);
    }
    write_batch("cifar/test_batch.bin", 100, 3);
    static const char meta[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    write_raw(tp("cifar/batches.meta.txt"), meta, sizeof meta - 1);

    gantry_dataset *ds = open_with(tp("cifar"), "train", 0, 0, 0);
    check_cifar(ds, 0, 10);
    CHECK(ds->class_names && strcmp(ds->class_names[0], "airplane") == 0 && strcmp(ds->class_names[9], "truck") == 0);
    gantry_dataset_destroy(ds);
    ds = open_with(tp("cifar"), "train", 3, 0, 0);
    check_cifar(ds, 0, 3);
    gantry_dataset_destroy(ds);
    ds = open_with(tp("cifar"), "t10k", 0, 0, 0);
    check_cifar(ds, 100, 3);
    gantry_dataset_destroy(ds);
    ds = open_with(tp("cifar"), "test", 0, 0, 0);
    check_cifar(ds, 100, 3);
    gantry_dataset_destroy(ds);

    /* as gray, and halved */
    ds = open_with(tp("cifar"), "test", 0, 0, 1);
    const uint8_t *rgb = NULL;
    gantry_dataset *colour = open_with(tp("cifar"), "test", 0, 0, 0);
    rgb = colour->pixels;
    int ok = ds->channels == 1;
    for (size_t i = 0; ok && i < 1024; i++)
        ok &= ds->pixels[i] == (299 * rgb[i] + 587 * rgb[1024 + i] + 114 * rgb[2048 + i] + 500) / 1000;
    CHECK(ok);
    gantry_dataset_destroy(ds);
    gantry_dataset_destroy(colour);
    ds = open_with(tp("cifar"), "train", 0, 16, 0);
    CHECK(ds->count == 10 && ds->channels == 3 && ds->height == 16 && ds->width == 16 && ds->labels);
    check_floats(ds);
    gantry_dataset_destroy(ds);

    /* damaged batches */
    write_raw(tp("cifar/data_batch_3.bin"), "short", 5);
    expect_error(tp("cifar"), "train", GANTRY_CORRUPT_FILE, "data_batch_3.bin");
    CHECK_ERROR_MENTIONS("3073-byte records");
    REQUIRE(unlink(tp("cifar/data_batch_3.bin")) == 0);
    expect_error(tp("cifar"), "train", GANTRY_NOT_FOUND, "data_batch_3.bin");
    write_batch("cifar/data_batch_3.bin", 4, 2);
    size_t size;
    unsigned char *b = read_raw(tp("cifar/test_batch.bin"), &size);
    b[RECORD] = 10; /* the second record's label */
    write_raw(tp("cifar/test_batch.bin"), b, size);
    free(b);
    expect_error(tp("cifar"), "test", GANTRY_CORRUPT_FILE, "label 10");
}

/* ---- IDX with preprocessing ------------------------------------------------------ */

static void test_idx_options(void)
{
    REQUIRE(mkdir(tp("idx"), 0755) == 0);
    static const unsigned char pixels[8] = { 0, 255, 255, 0, 10, 10, 10, 10 };
    size_t n;
    unsigned char *b = idx_images(0x00000803u, 2, 2, 2, pixels, 8, &n);
    write_raw(tp("idx/train-images-idx3-ubyte"), b, n);
    free(b);
    gantry_dataset *ds = open_with(tp("idx"), "train", 0, 0, 0);
    CHECK(ds->channels == 1 && ds->height == 2 && memcmp(ds->pixels, pixels, 8) == 0);
    gantry_dataset_destroy(ds);
    ds = open_with(tp("idx"), "train", 0, 4, 3);
    CHECK(ds->count == 2 && ds->channels == 3 && ds->height == 4 && ds->width == 4);
    int ok = 1;
    for (size_t k = 0; k < 2; k++)
        for (size_t c = 1; c < 3; c++)
            ok &= memcmp(ds->pixels + k * 48, ds->pixels + k * 48 + c * 16, 16) == 0;
    for (size_t i = 0; i < 16; i++)
        ok &= ds->pixels[48 + i] == 10; /* the constant image */
    CHECK(ok);
    gantry_dataset_destroy(ds);
}

int main(void)
{
    test_tmp_init("io-sources");
    test_npy_layouts();
    test_resize();
    test_cifar();
    test_idx_options();
    remove_tree(tmp_root);
    return test_finish("io-sources");
}
