/* gantry opencl backend: GEMM.
 *
 * Two paths, chosen per device at create() (opencl.c, gemm=own|clblast):
 *
 * CLBlast (GPUs, accelerators): CLBlastSgemm, row-major, with the float
 * offsets and leading dimensions of the gantry_mem views; no copies.
 * CLBlast compiles its kernels on first use and keeps them in an in-memory
 * cache keyed by context and device; opencl.c keeps one context per device
 * for the whole process, so reopening the backend reuses them instead of
 * recompiling.  On CPU devices (only with gemm=clblast) its GPU-tuned
 * defaults are replaced once, before the first call, with parameters
 * suited to a CPU (no local memory, small work-groups, 8-wide vectors).
 *
 * Own kernels (CPU devices; cl/gemm.cl): register-tiled micro-kernels, see
 * there.  B transposed (every Linear forward) runs the dot-product kernel;
 * with nt=transpose in the device string B is first transposed into
 * scratch memory and the row kernel runs (slower on PoCL for the large
 * layers, kept for devices where it is not).  B not transposed but with a
 * row stride of a multiple of 2 KiB (the input gradients of G's 512->1024
 * and 1024->784 layers) is transposed first and runs the dot-product
 * kernel: walking down such columns thrashes the L1 sets (3x slower).
 *
 * Measured on the GAN's 24 layer products at batch 64 (forward, weight and
 * input gradients of 8 layers; PoCL 3.1 on a 2-core AMD EPYC VM shared with
 * other jobs, so +-30%), all 24 together:
 *   CLBlast 1.5.3 defaults (no PoCL entry in its database)   190-377 ms   2-4 GFLOP/s
 *   CLBlast with clblast_cpu_values below                    115-160 ms   5-7 GFLOP/s
 *   own kernels                                              14-24 ms    33-57 GFLOP/s
 *   (the cpu backend's AVX2 GEMM, for scale                  18-19 ms    40-43 GFLOP/s) */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocl_impl.h"

#include <clblast_c.h>

/* CLBlast parameters for CPU devices (Xgemm, single precision); CLBlast's
 * database has none for PoCL and falls back to GPU values.  Chosen among a
 * few candidates on PoCL: 2.1x its defaults (still far from our kernels). */
static const char *const clblast_cpu_names[] = { "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                                                 "NDIMC", "NWG",   "SA",   "SB",  "STRM", "STRN",  "VWM", "VWN" };
static const size_t clblast_cpu_values[] = { 0, 1, 32, 2, 2, 2, 16, 2, 2, 32, 0, 0, 0, 0, 8, 8 };

/* CLBlastOverrideParameters makes CLBlast recompile: once per device and
 * process, not per backend instance (which would defeat its kernel cache). */
static pthread_mutex_t override_lock = PTHREAD_MUTEX_INITIALIZER;
static cl_device_id overridden[16];
static size_t overridden_count;

static void override_for_cpu(ocl_ctx *c)
{
    pthread_mutex_lock(&override_lock);
    int done = 0;
    for (size_t i = 0; i < overridden_count; i++)
        done |= overridden[i] == c->dev.device;
    if (!done) {
        CLBlastStatusCode st =
            CLBlastOverrideParameters(c->dev.device, "Xgemm", CLBlastPrecisionSingle,
                                      sizeof clblast_cpu_values / sizeof *clblast_cpu_values,
                                      (const char **)clblast_cpu_names, clblast_cpu_values);
        if (st != CLBlastSuccess)
            ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": CLBlastOverrideParameters(Xgemm): %s (%d); defaults",
                    ocl_clblast_error_name(st), (int)st);
        if (overridden_count < sizeof overridden / sizeof *overridden)
            overridden[overridden_count++] = c->dev.device;
    }
    pthread_mutex_unlock(&override_lock);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static gantry_status gemm_clblast(ocl_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                                  gantry_mem a, size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem cm,
                                  size_t ldc)
{
    double t0 = 0.0;
    if (!c->clblast_used) {
        c->clblast_used = 1;
        if (c->dev.type & CL_DEVICE_TYPE_CPU)
            override_for_cpu(c);
        ocl_log(c->host, GANTRY_LOG_DEBUG,
                OCL_NAME ": first CLBlast GEMM of this instance on '%s' (CLBlast compiles its kernels once per "
                         "process and device)",
                c->dev.name);
        t0 = now_s();
    }
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, (cl_mem)a.buf, a.offset, lda,
        (cl_mem)b.buf, b.offset, ldb, beta, (cl_mem)cm.buf, cm.offset, ldc, &c->queue, NULL);
    if (t0 > 0.0)
        ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": first CLBlast GEMM call took %.2f s", now_s() - t0);
    if (st != CLBlastSuccess) {
        char what[128];
        snprintf(what, sizeof what, "CLBlastSgemm(%c%c, %zu x %zu x %zu)", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                 m, n, k);
        return ocl_fail_clblast(c, st, "gemm", what);
    }
    return GANTRY_OK;
}

typedef struct gemm_call {
    size_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    size_t ao, lda, bo, ldb, co, ldc;
} gemm_call;

/* Launches kernel `kid` over [dim0, dim1] work-items.  The tile kernels
 * take the row tiles along dimension 0 (see cl/gemm.cl); ocl_launch cuts a
 * grid beyond the device's limits into slices. */
static gantry_status launch_gemm(ocl_ctx *c, ocl_kernel_id kid, size_t dim0, size_t dim1, const gemm_call *g)
{
    cl_ulong M = g->m, N = g->n, K = g->k, AO = g->ao, LDA = g->lda, BO = g->bo, LDB = g->ldb, CO = g->co,
             LDC = g->ldc;
    ocl_arg args[] = { OCL_ARG(M),    OCL_ARG(N),   OCL_ARG(K),   OCL_ARG(g->alpha), OCL_ARG(g->a),
                       OCL_ARG(AO),   OCL_ARG(LDA), OCL_ARG(g->b), OCL_ARG(BO),      OCL_ARG(LDB),
                       OCL_ARG(g->beta), OCL_ARG(g->c), OCL_ARG(CO), OCL_ARG(LDC) };
    size_t local[2] = { c->gemm_lx, 1 };
    size_t global[2] = { ocl_round_up(dim0 ? dim0 : 1, local[0]), dim1 ? dim1 : 1 };
    return ocl_launch(c, "gemm", kid, 2, global, local, OCL_ARG_COUNT(args), args);
}

/* The row kernel (tiles of 6 x 16, row tiles along dimension 0; the last
 * row tile repeats row m - 1) on the columns of full tiles, the element
 * kernel on the last n % 16 columns (a view of them is just other offsets). */
static gantry_status gemm_rows(ocl_ctx *c, int ta, const gemm_call *g)
{
    const size_t nf = g->n / 16 * 16;
    if (nf)
        GANTRY_TRY(launch_gemm(c, ta ? OCL_K_gemm_tn : OCL_K_gemm_nn, (g->m + 5) / 6, nf / 16, g));
    if (nf < g->n) {
        gemm_call s = *g;
        s.n = g->n - nf;
        s.bo += nf;
        s.co += nf;
        GANTRY_TRY(launch_gemm(c, ta ? OCL_K_gemm_el_tn : OCL_K_gemm_el_nn, s.n, s.m, &s));
    }
    return GANTRY_OK;
}

/* Transposes the stored B (rows x cols, row stride g->ldb; rows and cols
 * multiples of 8) into the scratch buffer and points g at the copy
 * (cols x rows, row stride rows). */
static gantry_status transpose_b(ocl_ctx *c, gemm_call *g, size_t rows, size_t cols)
{
    cl_mem t = NULL;
    GANTRY_TRY(ocl_scratch(c, "gemm", rows * cols * sizeof(float), &t));
    cl_ulong R = rows, Cn = cols, IO = g->bo, LIN = g->ldb, OO = 0, LOUT = rows;
    ocl_arg args[] = { OCL_ARG(R), OCL_ARG(Cn), OCL_ARG(g->b), OCL_ARG(IO), OCL_ARG(LIN),
                       OCL_ARG(t), OCL_ARG(OO), OCL_ARG(LOUT) };
    size_t local[2] = { c->gemm_lx, 1 };
    size_t global[2] = { ocl_round_up(cols / 8, local[0]), rows / 8 };
    GANTRY_TRY(ocl_launch(c, "gemm", OCL_K_transpose, 2, global, local, OCL_ARG_COUNT(args), args));
    g->b = t;
    g->bo = 0;
    g->ldb = rows;
    return GANTRY_OK;
}

static int big_multiple_of_8(size_t rows, size_t cols)
{
    return rows % 8 == 0 && cols % 8 == 0 && rows >= 16 && cols >= 16 && (double)rows * (double)cols >= 32768.0;
}

static gantry_status gemm_own(ocl_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                              gantry_mem a, size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem cm, size_t ldc)
{
    gemm_call g = { m, n, k, alpha, beta, (cl_mem)a.buf, (cl_mem)b.buf, (cl_mem)cm.buf, a.offset, lda, b.offset, ldb,
                    cm.offset, ldc };
    if (trans_a && trans_b)
        return launch_gemm(c, OCL_K_gemm_el_tt, n, m, &g);
    if (!trans_a && !trans_b && ldb % 512 == 0 && m >= 16 && big_multiple_of_8(k, n)) {
        /* The row kernel walks down the columns of B; with a row stride of
         * a multiple of 2 KiB every row of B falls into the same few L1
         * sets of a CPU and it slows to a third.  Transposed, B's rows are
         * contiguous in k and the dot-product kernel runs at full speed;
         * the transpose costs one pass over B. */
        GANTRY_TRY(transpose_b(c, &g, k, n));
        return launch_gemm(c, OCL_K_gemm_nt, (m + 3) / 4, (n + 2) / 3, &g);
    }
    if (!trans_b)
        return gemm_rows(c, trans_a, &g);
    /* op(B) = B^T, B stored [n, k]: the dot-product kernel; with nt=transpose
     * a transposed copy of B and the row kernel (slower on PoCL). */
    if (c->nt_transpose && big_multiple_of_8(n, k)) {
        GANTRY_TRY(transpose_b(c, &g, n, k));
        return gemm_rows(c, 0, &g);
    }
    return launch_gemm(c, OCL_K_gemm_nt, (m + 3) / 4, (n + 2) / 3, &g);
}

gantry_status ocl_gemm(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, gantry_mem a,
                       size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem cm, size_t ldc)
{
    ocl_ctx *c = ctx;
    if (c->gemm == OCL_GEMM_CLBLAST)
        return gemm_clblast(c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
    return gemm_own(c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc);
}

/* ---- CLBlast's tuning database ------------------------------------------------- */

/* Whether `text` (the library's bytes) holds `key` as a string of its own:
 * CLBlast stores device names padded with spaces to 50 characters and
 * architecture names ("SM8.0") as they are, each NUL-terminated. */
static int names_entry(const char *text, size_t size, const char *key)
{
    size_t n = strlen(key);
    if (!n)
        return 0;
    for (const char *p = text; (size_t)(p - text) + n < size;) {
        const char *hit = memmem(p, size - (size_t)(p - text), key, n);
        if (!hit || (size_t)(hit - text) + n >= size)
            return 0;
        if ((hit[n] == ' ' || hit[n] == '\0') && (hit == text || hit[-1] == '\0'))
            return 1;
        p = hit + 1;
    }
    return 0;
}

void ocl_clblast_tuning(const ocl_device_info *dev, char *buf, size_t size)
{
    /* CLBlast picks GEMM parameters from a database compiled into it, by
     * vendor, then architecture (NVIDIA: "SM<major>.<minor>"), then device
     * name (without an "NVIDIA " prefix), else the vendor's or its own
     * defaults; it has no call that says which.  The entries are strings in
     * the library, so look for them there. */
    Dl_info info;
    if (!dladdr((void *)CLBlastSgemm, &info) || !info.dli_fname) {
        snprintf(buf, size, "CLBlast's tuning database: its library was not found");
        return;
    }
    const char *lib = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
    FILE *f = fopen(info.dli_fname, "rb");
    char *text = NULL;
    size_t got = 0;
    if (f) {
        size_t cap = (size_t)64 << 20;
        text = malloc(cap);
        if (text)
            got = fread(text, 1, cap, f);
        fclose(f);
    }
    if (!text || !got) {
        free(text);
        snprintf(buf, size, "CLBlast's tuning database: cannot read %s", info.dli_fname);
        return;
    }
    const char *name = dev->name;
    if (strncmp(name, "NVIDIA ", 7) == 0)
        name += 7;
    char arch[32] = "";
    cl_uint major = 0, minor = 0;
    if (clGetDeviceInfo(dev->device, 0x4000 /* CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV */, sizeof major, &major,
                        NULL) == CL_SUCCESS &&
        clGetDeviceInfo(dev->device, 0x4001 /* CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV */, sizeof minor, &minor,
                        NULL) == CL_SUCCESS)
        snprintf(arch, sizeof arch, "SM%u.%u", major, minor);
    int by_name = names_entry(text, got, dev->name) || names_entry(text, got, name);
    int by_arch = arch[0] && names_entry(text, got, arch);
    free(text);
    if (by_name)
        snprintf(buf, size, "CLBlast (%s) has tuned parameters for '%s'", lib, name);
    else if (by_arch)
        snprintf(buf, size, "CLBlast (%s) has no parameters for '%s', but for its architecture %s", lib, name, arch);
    else
        snprintf(buf, size,
                 "CLBlast (%s) has no tuned parameters for '%s'%s%s: it runs its defaults for the vendor, which "
                 "can be far from the device's peak (CLBlast's tuner clblast_tuner_xgemm makes some)",
                 lib, name, arch[0] ? " nor for " : "", arch);
}
