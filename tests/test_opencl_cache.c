/* The opencl backend's program handling: the binary cache, offline binaries,
 * kernel sources from a directory, device selection and errors.
 *
 * Builds and cache hits are counted from the backend's debug lines
 * ("opencl: building program ...", "opencl: program loaded from cache ..."),
 * which the core prints on stderr with GANTRY_VERBOSE=2; the test captures
 * its own stderr around each gantry_backend_open().
 *
 * Without an OpenCL platform the test is skipped (exit 77), except when CI
 * is 'true': CI must really test OpenCL, so there it fails.
 *
 * With `--opencl-source GANTRY` (test opencl_source) it checks instead
 * `gantry backends --opencl-source`, the program for offline compilers,
 * through that executable.
 *
 * Environment from meson: GANTRY_TEST_CL_DIR, the source tree's cl/. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gantry/ops.h"
#include "gantry/tensor.h"
#include "tests/test.h"

/* LeakSanitizer (CI runs every suite with detect_leaks=1): PoCL and the ICD
 * loader keep a few bytes for the life of the process; ours must not. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpocl.so\nleak:libOpenCL.so\n";
}

/* ---- capturing the log ---------------------------------------------------- */

static char capture_path[4200];
static int saved_stderr = -1;

static void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    REQUIRE(saved_stderr >= 0);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(dup2(fd, 2) == 2);
    close(fd);
}

/* Returns what went to stderr since capture_begin (static buffer), and
 * echoes it to the real stderr for the test log. */
static const char *capture_end(void)
{
    static char text[65536];
    fflush(stderr);
    REQUIRE(dup2(saved_stderr, 2) == 2);
    close(saved_stderr);
    FILE *f = fopen(capture_path, "rb");
    REQUIRE(f != NULL);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    fputs(text, stderr);
    return text;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Opens the opencl backend with `cache_dir` (and `device`), capturing the
 * log; *builds and *hits count the program builds and cache hits. */
static gantry_status open_counted(const char *cache_dir, const char *device, gantry_backend **be, int *builds,
                                  int *hits, const char **log)
{
    gantry_backend_config config = { 0, device, cache_dir };
    capture_begin();
    gantry_status s = gantry_backend_open("opencl", &config, be);
    const char *text = capture_end();
    *builds = count_of(text, "opencl: building program");
    *hits = count_of(text, "opencl: program loaded from cache");
    if (log)
        *log = text;
    return s;
}

/* One op through the backend, checked against plain C: y = a + b. */
static void check_works(gantry_backend *be)
{
    enum { N = 37 };
    float a[N], b[N], y[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = 1.0f - (float)i;
    }
    gantry_tensor *ta = NULL, *tb = NULL, *ty = NULL;
    REQUIRE(gantry_tensor_new(be, &ta, N, 0, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &tb, N, 0, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &ty, N, 0, 0, 0) == GANTRY_OK);
    CHECK_OK(gantry_tensor_write(ta, a, N));
    CHECK_OK(gantry_tensor_write(tb, b, N));
    CHECK_OK(gantry_op_add(ta, tb, ty));
    CHECK_OK(gantry_tensor_read(ty, y, N));
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += y[i] != a[i] + b[i];
    CHECK(bad == 0);
    gantry_tensor_destroy(ta);
    gantry_tensor_destroy(tb);
    gantry_tensor_destroy(ty);
}

/* A matrix product through the backend, against plain C: [3, 5] x [5, 4]. */
static void check_gemm_works(gantry_backend *be)
{
    enum { M = 3, K = 5, N = 4 };
    float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)(i % 5) * 0.25f;
    gantry_tensor *ta = NULL, *tb = NULL, *tc = NULL;
    REQUIRE(gantry_tensor_new(be, &ta, M, K, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &tb, K, N, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &tc, M, N, 0, 0) == GANTRY_OK);
    CHECK_OK(gantry_tensor_write(ta, a, M * K));
    CHECK_OK(gantry_tensor_write(tb, b, K * N));
    CHECK_OK(gantry_op_gemm(0, 0, 1.0f, ta, tb, 0.0f, tc));
    CHECK_OK(gantry_tensor_read(tc, c, M * N));
    int bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float want = 0.0f;
            for (int p = 0; p < K; p++)
                want += a[i * K + p] * b[p * N + j];
            bad += fabsf(c[i * N + j] - want) > 1e-5f;
        }
    CHECK(bad == 0);
    gantry_tensor_destroy(ta);
    gantry_tensor_destroy(tb);
    gantry_tensor_destroy(tc);
}

/* ---- cache files ------------------------------------------------------------ */

/* The single *.bin entry under dir/opencl (path into `out`); 0 when there
 * is not exactly one. */
static int cache_file(const char *dir, char *out, size_t size)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/opencl", dir);
    DIR *d = opendir(sub);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
            snprintf(out, size, "%s/%s", sub, e->d_name);
            n++;
        } else if (e->d_name[0] != '.') {
            n += 100; /* a leftover temporary file is a bug too */
        }
    }
    closedir(d);
    return n == 1;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)len;
    return buf;
}

static void spit(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size);
    REQUIRE(fclose(f) == 0);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The header (backends/opencl/ocl_cache.h): magic[8], u32 format, u32 header
 * size, u64 key, u64 payload size, u64 payload FNV-1a, u64 reserved. */
static uint32_t header_size_of(const unsigned char *file)
{
    return (uint32_t)file[12] | (uint32_t)file[13] << 8 | (uint32_t)file[14] << 16 | (uint32_t)file[15] << 24;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- the checks ----------------------------------------------------------------- */

static const char *tmp_root;

/* Damages the cache entry with `damage` and expects the next open to reject
 * it (its log names `why`), rebuild once and write a good entry again. */
static void check_rejected(const char *dir, const char *what, const char *why,
                           void (*damage)(const char *path, unsigned char *file, size_t size))
{
    char path[4400];
    REQUIRE(cache_file(dir, path, sizeof path));
    size_t size = 0;
    unsigned char *file = slurp(path, &size);
    REQUIRE(file != NULL && size > 64);
    damage(path, file, size);
    free(file);

    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    const char *log = NULL;
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, &log));
    if (builds != 1 || hits != 0 || !strstr(log, "rejected") || !strstr(log, why))
        fprintf(stderr, "%s: expected one rebuild after '%s' (builds %d, hits %d)\n", what, why, builds, hits);
    CHECK(builds == 1);
    CHECK(hits == 0);
    CHECK(strstr(log, why) != NULL);
    if (be)
        check_works(be);
    gantry_backend_close(be);

    /* ... and the rebuilt entry is good again. */
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 0);
    CHECK(hits == 1);
    gantry_backend_close(be);
}

static void flip_payload(const char *path, unsigned char *file, size_t size)
{
    for (size_t i = size / 2; i < size / 2 + 16; i++)
        file[i] ^= 0x5a;
    spit(path, file, size);
}

static void truncate_payload(const char *path, unsigned char *file, size_t size)
{
    (void)size;
    spit(path, file, header_size_of(file) + 10);
}

static void truncate_header(const char *path, unsigned char *file, size_t size)
{
    (void)size;
    spit(path, file, 20);
}

static void stale_key(const char *path, unsigned char *file, size_t size)
{
    file[16] ^= 1;
    spit(path, file, size);
}

static void bad_magic(const char *path, unsigned char *file, size_t size)
{
    file[0] = 'X';
    spit(path, file, size);
}

/* A consistent header around a payload the driver cannot load: only the
 * driver can tell, and its refusal must lead to a rebuild too. */
static void garbage_payload(const char *path, unsigned char *file, size_t size)
{
    uint32_t h = header_size_of(file);
    for (size_t i = h; i < size; i++)
        file[i] = (unsigned char)(i * 7 + 3);
    put_u64(file + 32, fnv1a(file + h, size - h));
    spit(path, file, size);
}

static void test_cache(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cache", tmp_root);
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;

    /* Cold: one build, one entry written. */
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 1);
    CHECK(hits == 0);
    if (be)
        check_works(be);
    gantry_backend_close(be);
    char path[4400];
    CHECK(cache_file(dir, path, sizeof path));

    /* Warm: nothing built. */
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 0);
    CHECK(hits == 1);
    if (be)
        check_works(be);
    gantry_backend_close(be);

    check_rejected(dir, "flipped bytes", "checksum mismatch", flip_payload);
    check_rejected(dir, "truncated payload", "size mismatch", truncate_payload);
    check_rejected(dir, "truncated header", "truncated header", truncate_header);
    check_rejected(dir, "other key", "stale", stale_key);
    check_rejected(dir, "bad magic", "bad magic", bad_magic);
    check_rejected(dir, "garbage binary", "rejected", garbage_payload);
    CHECK(cache_file(dir, path, sizeof path)); /* still exactly one entry, no temporaries */
}

static void test_unwritable(void)
{
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    const char *log = NULL;
    /* Below a regular file: fails for root too. */
    CHECK_OK(open_counted("/dev/null/gantry-cache", NULL, &be, &builds, &hits, &log));
    CHECK(builds == 1);
    CHECK(count_of(log, "gantry: warning: opencl: kernel cache directory") == 1);
    CHECK(count_of(log, "warning") == 1);
    if (be)
        check_works(be);
    gantry_backend_close(be);

    /* A directory without write permission (root ignores permissions). */
    if (geteuid() != 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/readonly", tmp_root);
        REQUIRE(mkdir(dir, 0500) == 0);
        CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, &log));
        CHECK(builds == 1);
        CHECK(count_of(log, "kernel cache directory") == 1);
        gantry_backend_close(be);
        chmod(dir, 0700);
    } else {
        printf("running as root: the chmod 0500 check is skipped (the /dev/null path covers it)\n");
    }
}

/* Builds `src` with `options` for device `d` of platform `p` (the indices
 * `gantry backends` shows) through the OpenCL API, as an offline compiler
 * would, and writes the program binary to `path`; 0 when a step fails (with
 * the build log on stderr). */
static int build_binary(const char *src, const char *options, unsigned p, unsigned d, const char *path)
{
    cl_platform_id platforms[16];
    cl_device_id devices[64];
    cl_uint np = 0, nd = 0;
    cl_int err;
    if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS || p >= np ||
        clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 64, devices, &nd) != CL_SUCCESS || d >= nd)
        return 0;
    cl_context ctx = clCreateContext(NULL, 1, &devices[d], NULL, NULL, &err);
    if (!ctx)
        return 0;
    cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
    int ok = prog && clBuildProgram(prog, 1, &devices[d], options, NULL, NULL) == CL_SUCCESS;
    if (prog && !ok) {
        static char log[65536];
        if (clGetProgramBuildInfo(prog, devices[d], CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL) == CL_SUCCESS)
            fprintf(stderr, "build log:\n%s\n", log);
    }
    size_t size = 0;
    unsigned char *bin = NULL;
    if (ok)
        ok = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) == CL_SUCCESS && size > 0;
    if (ok && (bin = malloc(size)) != NULL) {
        unsigned char *bins[1] = { bin };
        ok = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS;
        if (ok)
            spit(path, bin, size);
    }
    free(bin);
    if (prog)
        clReleaseProgram(prog);
    clReleaseContext(ctx);
    return ok && bin;
}

/* A program binary with two of the backend's kernels (gantry_config and
 * ew_add), built on the first device of the first platform. */
static int write_partial_binary(const char *path)
{
    const char *src = "__kernel void gantry_config(__global uint *out) { out[0] = 1; }\n"
                      "__kernel void ew_add(__global float *x) { x[get_global_id(0)] += 1.0f; }\n";
    return build_binary(src, "", 0, 0, path);
}

static void test_offline_binary(void)
{
    char dir[4096], entry[4400], bin_path[4200];
    snprintf(dir, sizeof dir, "%s/cache", tmp_root);
    REQUIRE(cache_file(dir, entry, sizeof entry));
    size_t size = 0;
    unsigned char *file = slurp(entry, &size);
    REQUIRE(file != NULL);
    uint32_t h = header_size_of(file);
    snprintf(bin_path, sizeof bin_path, "%s/program.bin", tmp_root);
    spit(bin_path, file + h, size - h);
    free(file);

    /* The whole program: nothing compiled. */
    setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    const char *log = NULL;
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, &log));
    CHECK(builds == 0);
    CHECK(hits == 0);
    CHECK(strstr(log, "program loaded from binary") != NULL);
    if (be)
        check_works(be);
    gantry_backend_close(be);

    /* An accelerator without an online compiler (FPGA flows) runs every
     * kernel from the binary: GEMM through our own kernels, never CLBlast,
     * which compiles at run time; without a binary the profile takes
     * CLBlast, and CLBlast with a binary is refused. */
    CHECK_OK(open_counted(dir, "cpu,profile=accelerator", &be, &builds, &hits, &log));
    CHECK(strstr(log, "GEMM: own kernels") != NULL);
    CHECK(builds == 0);
    if (be)
        check_gemm_works(be);
    gantry_backend_close(be);
    unsetenv("GANTRY_OPENCL_BINARY");
    CHECK_OK(open_counted(dir, "cpu,profile=accelerator", &be, &builds, &hits, &log));
    CHECK(strstr(log, "GEMM: CLBlast") != NULL);
    gantry_backend_close(be);
    setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
    be = NULL;
    CHECK_STATUS(open_counted(dir, "cpu,profile=accelerator,gemm=clblast", &be, &builds, &hits, NULL),
                 GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("CLBlast compiles its kernels at run time");
    CHECK(be == NULL);

    /* A binary built with other tunables (as an offline compile for another
     * configuration would be): the backend adopts them and still works. */
    char other[4096];
    snprintf(other, sizeof other, "%s/cache-other", tmp_root);
    unsetenv("GANTRY_OPENCL_BINARY");
    CHECK_OK(open_counted(other, "wg=16,vw=2", &be, &builds, &hits, NULL));
    gantry_backend_close(be);
    REQUIRE(cache_file(other, entry, sizeof entry));
    file = slurp(entry, &size);
    REQUIRE(file != NULL);
    h = header_size_of(file);
    snprintf(bin_path, sizeof bin_path, "%s/program-wg16.bin", tmp_root);
    spit(bin_path, file + h, size - h);
    free(file);
    setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
    be = NULL;
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, &log));
    CHECK(strstr(log, "compiled with WG 16, VW 2") != NULL);
    if (be)
        check_works(be);
    gantry_backend_close(be);

    /* A binary with two kernels: the first missing one is named. */
    snprintf(bin_path, sizeof bin_path, "%s/partial.bin", tmp_root);
    if (write_partial_binary(bin_path)) {
        setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
        be = NULL;
        CHECK_STATUS(open_counted(dir, NULL, &be, &builds, &hits, NULL), GANTRY_NOT_FOUND);
        CHECK_ERROR_MENTIONS("opencl: kernel 'ew_mul' missing from binary ");
        CHECK_ERROR_MENTIONS("partial.bin");
        CHECK_ERROR_MENTIONS("also missing: 'ew_scale', 'ew_axpy', ");
        CHECK_ERROR_MENTIONS(" more)"); /* a count, not a list of every kernel */
        CHECK(be == NULL);
    } else {
        fprintf(stderr, "could not build a partial binary with the OpenCL API; that check is skipped\n");
    }

    /* Not a program, and no file at all. */
    snprintf(bin_path, sizeof bin_path, "%s/garbage.bin", tmp_root);
    spit(bin_path, "this is not a program binary", 28);
    setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
    gantry_status s = open_counted(dir, NULL, &be, &builds, &hits, NULL);
    CHECK(s == GANTRY_CORRUPT_FILE || s == GANTRY_BUILD);
    CHECK_ERROR_MENTIONS("garbage.bin");
    snprintf(bin_path, sizeof bin_path, "%s/missing.bin", tmp_root);
    setenv("GANTRY_OPENCL_BINARY", bin_path, 1);
    CHECK_STATUS(open_counted(dir, NULL, &be, &builds, &hits, NULL), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("missing.bin");
    unsetenv("GANTRY_OPENCL_BINARY");
}

static void copy_file(const char *from, const char *to, const char *append)
{
    size_t size = 0;
    unsigned char *data = slurp(from, &size);
    REQUIRE(data != NULL);
    FILE *f = fopen(to, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size);
    if (append)
        fputs(append, f);
    REQUIRE(fclose(f) == 0);
    free(data);
}

/* Copies the kernel sources to dst, appending `append` to `file`. */
static void copy_sources(const char *src, const char *dst, const char *file, const char *append)
{
    mkdir(dst, 0700);
    DIR *d = opendir(src);
    REQUIRE(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".cl") != 0)
            continue;
        char from[4400], to[4400];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        copy_file(from, to, strcmp(e->d_name, file) == 0 ? append : NULL);
    }
    closedir(d);
}

static void test_kernel_dir(void)
{
    const char *cl_dir = getenv("GANTRY_TEST_CL_DIR");
    if (!cl_dir || !*cl_dir) {
        fprintf(stderr, "GANTRY_TEST_CL_DIR not set; kernel directory checks skipped\n");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cache", tmp_root);
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    const char *log = NULL;

    /* The same sources from disk: the same program, so the same cache entry. */
    setenv("GANTRY_CL_DIR", cl_dir, 1);
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 0);
    CHECK(hits == 1);
    gantry_backend_close(be);

    /* Edited sources: rebuilt (another key), then cached in turn. */
    char edited[4096];
    snprintf(edited, sizeof edited, "%s/cl-edited", tmp_root);
    copy_sources(cl_dir, edited, "optim.cl", "/* an edit */\n");
    setenv("GANTRY_CL_DIR", edited, 1);
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 1);
    if (be)
        check_works(be);
    gantry_backend_close(be);
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    CHECK(builds == 0);
    CHECK(hits == 1);
    gantry_backend_close(be);

    /* A compile error: GANTRY_BUILD, with the compiler's message. */
    char broken[4096];
    snprintf(broken, sizeof broken, "%s/cl-broken", tmp_root);
    copy_sources(cl_dir, broken, "loss.cl", "__kernel void broken(void) { this_is_not_declared = 1; }\n");
    setenv("GANTRY_CL_DIR", broken, 1);
    CHECK_STATUS(open_counted(dir, NULL, &be, &builds, &hits, &log), GANTRY_BUILD);
    CHECK_ERROR_MENTIONS("this_is_not_declared");
    CHECK_ERROR_MENTIONS("loss.cl");

    /* A directory without the sources. */
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/cl-empty", tmp_root);
    mkdir(empty, 0700);
    setenv("GANTRY_CL_DIR", empty, 1);
    CHECK_STATUS(open_counted(dir, NULL, &be, &builds, &hits, NULL), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("common.cl");
    unsetenv("GANTRY_CL_DIR");
}

static void test_devices(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cache", tmp_root);
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;

    CHECK_STATUS(open_counted(dir, "no-such-device-anywhere", &be, &builds, &hits, NULL), GANTRY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("no OpenCL device matches 'no-such-device-anywhere'");
    CHECK_ERROR_MENTIONS("devices: 0:0 ");
    CHECK_STATUS(open_counted(dir, "9:9", &be, &builds, &hits, NULL), GANTRY_NOT_FOUND);
    CHECK_STATUS(open_counted(dir, "gemm=fastest", &be, &builds, &hits, NULL), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("gemm='fastest'");

    /* By index; by a piece of the device name (from the description),
     * with a setting after a comma. */
    CHECK_OK(open_counted(dir, "0:0", &be, &builds, &hits, NULL));
    gantry_backend_close(be);
    gantry_backend_info *infos = NULL;
    size_t count = 0;
    REQUIRE(gantry_backend_scan(&infos, &count) == GANTRY_OK);
    char piece[8] = "";
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, "opencl") == 0) {
            CHECK(strstr(infos[i].devices, "compute units") != NULL);
            CHECK(infos[i].score == 100 || infos[i].score == 80 || infos[i].score == 30);
            const char *star = strstr(infos[i].devices, "* ");
            const char *quote = star ? strchr(star, '\'') : NULL;
            CHECK(quote != NULL);
            if (quote && strlen(quote) > 5)
                memcpy(piece, quote + 1, 4); /* the chosen device's name starts here */
        }
    free(infos);
    if (piece[0]) {
        char sel[64];
        for (char *p = piece; *p; p++) /* case-insensitive */
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        snprintf(sel, sizeof sel, "%s, gemm=own", piece);
        CHECK_OK(open_counted(dir, sel, &be, &builds, &hits, NULL));
        if (be)
            check_works(be);
        gantry_backend_close(be);
    }
}

static void test_out_of_memory(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cache", tmp_root);
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    CHECK_OK(open_counted(dir, NULL, &be, &builds, &hits, NULL));
    if (!be)
        return;
    gantry_tensor *t = NULL;
    /* 2^40 floats (4 TiB): more than any device has. */
    gantry_status s = gantry_tensor_new(be, &t, (size_t)1 << 20, (size_t)1 << 20, 0, 0);
    CHECK(s == GANTRY_DEVICE_OUT_OF_MEMORY || s == GANTRY_OUT_OF_MEMORY);
    CHECK(t == NULL);
    if (s == GANTRY_DEVICE_OUT_OF_MEMORY)
        CHECK_ERROR_MENTIONS("opencl: buffer_alloc");
    check_works(be); /* and the backend still works */
    gantry_backend_close(be);
}

/* ---- the program source for offline compilers ---------------------------------- */

static const char *gantry_exe;

/* Runs `gantry ARGS` (ARGS as the shell reads them) with stdout and stderr
 * caught, with the debug lines (GANTRY_VERBOSE=2) or without any; returns
 * its exit status, *out and *err what it wrote (static buffers, until the
 * next call; echoed to stderr for the test log). */
static int run_gantry(const char *args, int verbose, const char **out, const char **err)
{
    static char text[2][65536];
    char cmd[9000], path[2][4200];
    for (int i = 0; i < 2; i++)
        snprintf(path[i], sizeof path[i], "%s/gantry-%s.txt", tmp_root, i ? "err" : "out");
    snprintf(cmd, sizeof cmd, "GANTRY_VERBOSE=%d '%s' %s >'%s' 2>'%s'", verbose ? 2 : 0, gantry_exe, args, path[0],
             path[1]);
    int status = system(cmd);
    REQUIRE(status != -1 && WIFEXITED(status));
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(path[i], "rb");
        REQUIRE(f != NULL);
        size_t n = fread(text[i], 1, sizeof text[i] - 1, f);
        fclose(f);
        text[i][n] = '\0';
    }
    fprintf(stderr, "$ gantry %s -> exit %d\n%s%s", args, WEXITSTATUS(status), text[0], text[1]);
    *out = text[0];
    *err = text[1];
    return WEXITSTATUS(status);
}

static void device_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

static uint64_t fnv1a_chain(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The cache key under which the backend stores the program it builds from
 * `source` with `options` on device d of platform p (ocl_program.c:
 * cache_key): a backend that writes its entry under this key built exactly
 * this text with exactly these options. */
static uint64_t program_key(const char *source, size_t size, const char *options, unsigned p, unsigned d)
{
    cl_platform_id platforms[16];
    cl_device_id devices[64];
    cl_uint np = 0, nd = 0;
    REQUIRE(clGetPlatformIDs(16, platforms, &np) == CL_SUCCESS && p < np);
    REQUIRE(clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 64, devices, &nd) == CL_SUCCESS && d < nd);
    char s[5][256];
    for (int i = 0; i < 2; i++)
        if (clGetPlatformInfo(platforms[p], i ? CL_PLATFORM_VERSION : CL_PLATFORM_NAME, sizeof s[i], s[i], NULL) !=
            CL_SUCCESS)
            s[i][0] = '\0';
    device_string(devices[d], CL_DEVICE_NAME, s[2], sizeof s[2]);
    device_string(devices[d], CL_DEVICE_VERSION, s[3], sizeof s[3]);
    device_string(devices[d], CL_DRIVER_VERSION, s[4], sizeof s[4]);
    uint64_t source_hash = fnv1a_chain(0xcbf29ce484222325ull, source, size);
    uint64_t h = fnv1a_chain(0xcbf29ce484222325ull, "gantry-opencl-cache", sizeof "gantry-opencl-cache");
    for (int i = 0; i < 5; i++)
        h = fnv1a_chain(h, s[i], strlen(s[i]) + 1);
    h = fnv1a_chain(h, options, strlen(options) + 1);
    return fnv1a_chain(h, &source_hash, sizeof source_hash);
}

/* `gantry backends --opencl-source` for the device setting `device` (NULL:
 * the default device): the file is the program the backend builds, the
 * options are its build options, and the binary an offline compile of the
 * two makes runs the backend (GANTRY_OPENCL_BINARY) through every op of
 * `gantry check --quick`. */
static void check_program_source(const char *name, const char *device)
{
    char file[4200], bin[4200], cache[4200], entry[4400], args[9000];
    snprintf(file, sizeof file, "%s/%s.cl", tmp_root, name);
    snprintf(bin, sizeof bin, "%s/%s.bin", tmp_root, name);
    snprintf(cache, sizeof cache, "%s/cache-%s", tmp_root, name);
    if (device)
        setenv("GANTRY_OPENCL_DEVICE", device, 1);
    else
        unsetenv("GANTRY_OPENCL_DEVICE");
    snprintf(args, sizeof args, "backends --opencl-source '%s'", file);
    const char *out, *err;
    CHECK(run_gantry(args, 0, &out, &err) == 0);
    CHECK(err[0] == '\0');
    unsigned p = 0, d = 0;
    const char *opt = strstr(out, "\nbuild options: ");
    REQUIRE(sscanf(out, "opencl program for %u:%u ", &p, &d) == 2 && opt);
    char options[512];
    REQUIRE(sscanf(opt, "\nbuild options: %511[^\n]", options) == 1);
    CHECK(strstr(options, "-DWG=") != NULL && strstr(options, "-DVW=") != NULL && strstr(options, "-DBN_LX=") != NULL);
    size_t size = 0;
    char *source = (char *)slurp(file, &size);
    REQUIRE(source != NULL);
    source = realloc(source, size + 1);
    REQUIRE(source != NULL);
    source[size] = '\0';
    CHECK(strncmp(source, "#line 1 \"common.cl\"\n", 20) == 0);
    CHECK(strstr(source, "\n#line 1 \"gemm.cl\"\n") != NULL);

    /* The backend builds that very text with those options: its cache
     * entry has their key. */
    gantry_backend *be = NULL;
    int builds = 0, hits = 0;
    CHECK_OK(open_counted(cache, device, &be, &builds, &hits, NULL));
    gantry_backend_close(be);
    snprintf(entry, sizeof entry, "%s/opencl/%016llx.bin", cache,
             (unsigned long long)program_key(source, size, options, p, d));
    CHECK(access(entry, R_OK) == 0);

    /* Compiled offline, it runs every op, GEMM included. */
    REQUIRE(build_binary(source, options, p, d, bin));
    free(source);
    setenv("GANTRY_OPENCL_BINARY", bin, 1);
    const char *log = NULL;
    be = NULL;
    CHECK_OK(open_counted(cache, device, &be, &builds, &hits, &log));
    CHECK(builds == 0);
    CHECK(strstr(log, "program loaded from binary") != NULL);
    CHECK(strstr(log, "was compiled with") == NULL); /* the options' tunables are the backend's */
    if (be) {
        check_works(be);
        check_gemm_works(be);
    }
    gantry_backend_close(be);
    CHECK(run_gantry("check --backend opencl --quick", 1, &out, &err) == 0);
    CHECK(strstr(out, " passed, 0 failed\n") != NULL);
    CHECK(count_of(err, "opencl: building program") == 0);
    CHECK(count_of(err, "opencl: program loaded from binary") >= 1);
    unsetenv("GANTRY_OPENCL_BINARY");
    unsetenv("GANTRY_OPENCL_DEVICE");
}

static void test_program_source(void)
{
    check_program_source("default", NULL);
    check_program_source("gpu-shaped", "cpu,profile=gpu,wg=128");

    /* No temporary file left behind by the writes. */
    DIR *dir = opendir(tmp_root);
    REQUIRE(dir != NULL);
    struct dirent *e;
    while ((e = readdir(dir)))
        CHECK(strstr(e->d_name, ".tmp.") == NULL);
    closedir(dir);

    /* Errors: one line, the exit status of a runtime error, no file. */
    const char *out, *err;
    char args[4400];
    snprintf(args, sizeof args, "backends --opencl-source '%s/no-such-dir/program.cl'", tmp_root);
    CHECK(run_gantry(args, 0, &out, &err) == 1);
    CHECK(count_of(err, "\n") == 1 && strstr(err, "gantry backends: cannot write ") != NULL);
    CHECK(out[0] == '\0');
    setenv("GANTRY_OPENCL_DEVICE", "no-such-device-anywhere", 1);
    snprintf(args, sizeof args, "backends --opencl-source '%s/nowhere.cl'", tmp_root);
    CHECK(run_gantry(args, 0, &out, &err) == 1);
    CHECK(count_of(err, "\n") == 1 && strstr(err, "no OpenCL device matches 'no-such-device-anywhere'") != NULL);
    snprintf(args, sizeof args, "%s/nowhere.cl", tmp_root);
    CHECK(access(args, F_OK) != 0);
    unsetenv("GANTRY_OPENCL_DEVICE");
    CHECK(run_gantry("backends --opencl-source", 0, &out, &err) == 2);
    CHECK(count_of(err, "\n") == 1 && strstr(err, "needs a value") != NULL);
}

/* rm -rf of the test's directory tree (only what the test made). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4400];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            chmod(sub, 0700);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* With `--opencl-source GANTRY`: only the checks of `gantry backends
 * --opencl-source` (test opencl_source), through that executable. */
int main(int argc, char **argv)
{
    setenv("GANTRY_VERBOSE", "2", 1);
    unsetenv("GANTRY_CL_DIR");
    unsetenv("GANTRY_OPENCL_BINARY");
    unsetenv("GANTRY_OPENCL_DEVICE");
    test_require_backend("opencl");
    if (argc == 3 && strcmp(argv[1], "--opencl-source") == 0)
        gantry_exe = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: test_opencl_cache [--opencl-source GANTRY]\n");
        return 2;
    }

    static char root[] = "/tmp/gantry-opencl-test-XXXXXX";
    REQUIRE(mkdtemp(root) != NULL);
    tmp_root = root;
    snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", root);

    if (gantry_exe) {
        /* The child processes' LeakSanitizer: the same allowance as ours. */
        char supp[4200], lsan[8400];
        snprintf(supp, sizeof supp, "%s/lsan.supp", root);
        spit(supp, __lsan_default_suppressions(), strlen(__lsan_default_suppressions()));
        const char *old = getenv("LSAN_OPTIONS");
        snprintf(lsan, sizeof lsan, "%s%ssuppressions=%s", old ? old : "", old && *old ? ":" : "", supp);
        setenv("LSAN_OPTIONS", lsan, 1);
        test_program_source();
        remove_tree(root);
        return test_finish("opencl_source");
    }
    test_cache();
    test_unwritable();
    test_offline_binary();
    test_kernel_dir();
    test_devices();
    test_out_of_memory();

    remove_tree(root);
    return test_finish("opencl_cache");
}
