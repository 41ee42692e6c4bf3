/* Seed corpora for the fuzz harnesses: real files written by gantry's own
 * writers (checkpoints, training states, .npy, PNG grids, the OpenCL cache
 * header) and by libpng, libjpeg and zlib where gantry only reads the
 * format (IDX, CIFAR-10, JPEG), each small enough for libFuzzer to mutate.
 *
 *   make_seeds OUT      writes OUT/<harness>/<name> (folders must not exist)
 *
 * Inputs of the split harnesses (idx, cifar) are framed as fuzz_split reads
 * them.  tests/fuzz/make_seeds.sh runs this; run.sh runs that. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "backends/opencl/ocl_cache.h"
#include "gantry/io.h"
#include "tests/fuzz/fuzz_gan.h"
#include "tests/test.h"
#include "tests/test_files.h"
#include "tests/test_images.h"

static const char *out_dir;

/* OUT/<harness>/<name>, made as needed (static buffer). */
static const char *seed_path(const char *harness, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    REQUIRE(mkdir(path, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    return path;
}

static void write_gzip(const char *path, const void *data, size_t size)
{
    gzFile f = gzopen(path, "wb9");
    REQUIRE(f && gzwrite(f, data, (unsigned)size) == (int)size && gzclose(f) == Z_OK);
}

/* A fuzz_split input: prefix (limit in the top byte), part a, then part b. */
static void write_split(const char *path, unsigned limit, const void *a, size_t a_size, const void *b, size_t b_size)
{
    uint8_t *buf = malloc(4 + a_size + b_size);
    REQUIRE(buf);
    buf[0] = (uint8_t)limit;
    buf[1] = (uint8_t)(a_size >> 16);
    buf[2] = (uint8_t)(a_size >> 8);
    buf[3] = (uint8_t)a_size;
    memcpy(buf + 4, a, a_size);
    if (b_size)
        memcpy(buf + 4 + a_size, b, b_size);
    write_raw(path, buf, 4 + a_size + b_size);
    free(buf);
}

/* ---- checkpoints, training states, safetensors ------------------------ */

static void gan_seeds(void)
{
    for (size_t m = 0; m < FUZZ_GAN_MODELS; m++) {
        gantry_gan_config c;
        gantry_gan *gan = NULL;
        REQUIRE(fuzz_gan_config(fuzz_gan_models[m], &c) == GANTRY_OK);
        REQUIRE(gantry_gan_create(fuzz_backend(), &c, &gan) == GANTRY_OK);
        char name[64];
        snprintf(name, sizeof name, "%s.safetensors", fuzz_gan_models[m]);
        REQUIRE(gantry_gan_save(gan, seed_path("checkpoint", name), NULL, 0) == GANTRY_OK);
        REQUIRE(gantry_gan_save_training(gan, seed_path("train_state", name), NULL, 0) == GANTRY_OK);
        gantry_gan_destroy(gan);
    }
    /* The variants' settings in a checkpoint's metadata. */
    gantry_gan_config c;
    gantry_gan *gan = NULL;
    REQUIRE(fuzz_gan_config("dcgan", &c) == GANTRY_OK);
    c.vbn = GANTRY_BN_VIRTUAL;
    c.feature_matching = 1;
    REQUIRE(gantry_gan_create(fuzz_backend(), &c, &gan) == GANTRY_OK);
    REQUIRE(gantry_gan_save(gan, seed_path("checkpoint", "dcgan-variants.safetensors"), NULL, 0) == GANTRY_OK);
    gantry_gan_destroy(gan);
}

static void safetensors_seeds(void)
{
    const float w[6] = { 1, -2, 3.5f, 0, 1e-3f, -1e30f };
    const int64_t counter = 7;
    const gantry_st_tensor t[3] = {
        { "w", GANTRY_DTYPE_F32, 2, { 2, 3, 0, 0 }, w },
        { "count", GANTRY_DTYPE_I64, 0, { 0, 0, 0, 0 }, &counter },
        { "empty", GANTRY_DTYPE_F32, 1, { 0, 0, 0, 0 }, w },
    };
    const gantry_st_meta meta[2] = { { "format", "gantry-checkpoint-1" }, { "z_dim", "4" } };
    REQUIRE(gantry_safetensors_write(seed_path("safetensors", "small.safetensors"), t, 3, meta, 2) == GANTRY_OK);
    REQUIRE(gantry_safetensors_write(seed_path("safetensors", "none.safetensors"), t, 0, NULL, 0) == GANTRY_OK);
    /* A real checkpoint and training state are safetensors too. */
    const char *copies[2][2] = { { "checkpoint", "ckpt-dcgan.safetensors" }, { "train_state", "ts-dcgan.safetensors" } };
    for (int i = 0; i < 2; i++) {
        size_t size;
        uint8_t *buf = read_raw(seed_path(copies[i][0], "dcgan.safetensors"), &size);
        write_raw(seed_path("safetensors", copies[i][1]), buf, size);
        free(buf);
    }
}

/* ---- arrays and data sets --------------------------------------------- */

/* A .npy of uint8, which gantry reads but does not write. */
static void write_npy_u8(const char *path, const uint8_t *data, const char *shape, size_t n)
{
    char header[128];
    snprintf(header, sizeof header, "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }", shape);
    write_npy_raw(path, header, data, n);
}

static void npy_seeds(void)
{
    float v[2 * 3 * 4 * 4];
    uint8_t b[2 * 3 * 4 * 4];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        v[i] = (float)((int)(i % 17) - 8) / 8.0f; /* in [-1, 1] */
        b[i] = (uint8_t)(i * 37);
    }
    const size_t nchw[4] = { 2, 3, 4, 4 }, nhwc[4] = { 2, 4, 4, 3 }, nhw[3] = { 6, 4, 4 }, flat[1] = { 5 };
    REQUIRE(gantry_npy_write(seed_path("npy", "f32-nchw.npy"), v, 4, nchw) == GANTRY_OK);
    REQUIRE(gantry_npy_write(seed_path("npy", "f32-nhwc.npy"), v, 4, nhwc) == GANTRY_OK);
    REQUIRE(gantry_npy_write(seed_path("npy", "f32-nhw.npy"), v, 3, nhw) == GANTRY_OK);
    REQUIRE(gantry_npy_write(seed_path("npy", "f32-flat.npy"), v, 1, flat) == GANTRY_OK);
    REQUIRE(gantry_npy_write(seed_path("npy", "f32-scalar.npy"), v, 0, NULL) == GANTRY_OK);
    write_npy_u8(seed_path("npy", "u8-nhw.npy"), b, "(6, 4, 4)", 6 * 4 * 4);
    write_npy_u8(seed_path("npy", "u8-nhwc.npy"), b, "(2, 4, 4, 3)", 2 * 4 * 4 * 3);
}

static void idx_seeds(void)
{
    enum { N = 3, SIDE = 4 };
    uint8_t images[16 + N * SIDE * SIDE] = { 0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, SIDE, 0, 0, 0, SIDE };
    uint8_t labels[8 + N] = { 0, 0, 8, 1, 0, 0, 0, N, 2, 0, 9 };
    for (size_t i = 16; i < sizeof images; i++)
        images[i] = (uint8_t)(i * 29);
    write_split(seed_path("idx", "plain"), 0, images, sizeof images, labels, sizeof labels);
    write_split(seed_path("idx", "plain-limit"), 2, images, sizeof images, labels, sizeof labels);
    write_split(seed_path("idx", "images-only"), 0, images, sizeof images, NULL, 0);
    /* gzip: made with zlib, then framed. */
    char images_gz[4096], labels_gz[4096];
    snprintf(images_gz, sizeof images_gz, "%s", seed_path("idx", "tmp-images.gz"));
    snprintf(labels_gz, sizeof labels_gz, "%s", seed_path("idx", "tmp-labels.gz"));
    write_gzip(images_gz, images, sizeof images);
    write_gzip(labels_gz, labels, sizeof labels);
    size_t ni, nl;
    uint8_t *gi = read_raw(images_gz, &ni), *gl = read_raw(labels_gz, &nl);
    write_split(seed_path("idx", "gzip"), 0, gi, ni, gl, nl);
    write_split(seed_path("idx", "gzip-images-plain-labels"), 1, gi, ni, labels, sizeof labels);
    free(gi);
    free(gl);
    REQUIRE(remove(images_gz) == 0 && remove(labels_gz) == 0);
}

static void cifar_seeds(void)
{
    enum { RECORD = 1 + 3 * 32 * 32 };
    static uint8_t batch[2 * RECORD];
    for (size_t i = 0; i < sizeof batch; i++)
        batch[i] = (uint8_t)(i * 13);
    batch[0] = 3;
    batch[RECORD] = 9;
    const char names[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    write_split(seed_path("cifar", "two-records-names"), 0, batch, sizeof batch, names, sizeof names - 1);
    write_split(seed_path("cifar", "one-record"), 0, batch, RECORD, NULL, 0);
    write_split(seed_path("cifar", "two-records-limit"), 1, batch, sizeof batch, NULL, 0);
}

/* ---- images and the OpenCL cache --------------------------------------- */

static void image_seeds(void)
{
    enum { W = 6, H = 5 };
    float grid[3 * H * W];
    uint8_t rgb[H * W * 3], rgba[H * W * 4], gray[H * W];
    for (size_t i = 0; i < sizeof grid / sizeof *grid; i++)
        grid[i] = (float)((int)(i % 9) - 4) / 4.0f;
    for (size_t i = 0; i < H * W; i++) {
        gray[i] = (uint8_t)(i * 8);
        for (int k = 0; k < 3; k++)
            rgb[3 * i + (size_t)k] = (uint8_t)(i * 8 + (size_t)k * 60);
        for (int k = 0; k < 4; k++)
            rgba[4 * i + (size_t)k] = (uint8_t)(i * 5 + (size_t)k * 50);
    }
    /* gantry's own PNG writer: a 1x1 grid of gray and of RGB. */
    REQUIRE(gantry_png_write_grid(seed_path("image", "grid-gray.png"), grid, 1, 1, H, W, 1, 0) == GANTRY_OK);
    REQUIRE(gantry_png_write_grid(seed_path("image", "grid-rgb.png"), grid, 1, 3, H, W, 1, 1) == GANTRY_OK);
    /* What data folders hold: palettes, alpha, 16 bits, JPEG. */
    const uint8_t palette[6] = { 0, 0, 0, 255, 128, 0 };
    uint8_t indices[H * W];
    for (size_t i = 0; i < H * W; i++)
        indices[i] = (uint8_t)(i & 1);
    write_png(seed_path("image", "palette.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, indices, palette, 2);
    write_png(seed_path("image", "rgba.png"), W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, NULL, 0);
    write_png(seed_path("image", "gray16.png"), W / 2, H, PNG_COLOR_TYPE_GRAY, 16, rgb, NULL, 0);
    write_jpeg(seed_path("image", "gray.jpg"), W, H, 1, gray, 90);
    write_jpeg(seed_path("image", "rgb.jpg"), W, H, 3, rgb, 75);
}

static void opencl_cache_seeds(void)
{
    /* The payload is the driver's and opaque to the reader: any bytes do. */
    uint8_t entry[OCL_CACHE_HEADER_SIZE + 40];
    for (size_t i = 0; i < 40; i++)
        entry[OCL_CACHE_HEADER_SIZE + i] = (uint8_t)(i * 7 + 1);
    ocl_cache_header(entry, 0x0123456789abcdefull, entry + OCL_CACHE_HEADER_SIZE, 40);
    write_raw(seed_path("opencl_cache", "entry.bin"), entry, sizeof entry);
    ocl_cache_header(entry, 0xfeedull, entry + OCL_CACHE_HEADER_SIZE, 1);
    write_raw(seed_path("opencl_cache", "one-byte.bin"), entry, OCL_CACHE_HEADER_SIZE + 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    REQUIRE(mkdir(out_dir, 0755) == 0 || errno == EEXIST);
    gan_seeds();
    safetensors_seeds();
    npy_seeds();
    idx_seeds();
    cifar_seeds();
    image_seeds();
    opencl_cache_seeds();
    gantry_backend_close(fuzz_backend());
    return test_failures != 0;
}
