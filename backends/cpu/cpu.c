/* gantry cpu backend: the module entry, the ops table, instances and
 * their threads.
 *
 * An instance owns its thread count and the GEMM packing buffers
 * (allocated here, once, so that no op allocates). */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_impl.h"

#include "../host_module.h"

gantry_status cpu_error(const cpu_ctx *c, gantry_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = host_vreport(c ? c->host : NULL, status, fmt, ap);
    va_end(ap);
    return status;
}

static int threads_of(const gantry_backend_options *opts)
{
    if (opts && opts->struct_size >= offsetof(gantry_backend_options, num_threads) + sizeof(opts->num_threads) &&
        opts->num_threads > 0)
        return opts->num_threads;
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

static int cpu_has_avx2(void)
{
#if CPU_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* "AMD EPYC 7551 32-Core Processor" from /proc/cpuinfo, or "". */
static void cpu_model(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            break;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    fclose(f);
}

/* ---- threads ------------------------------------------------------------ */

/* Contention is judged over windows of at least this much wall time of
 * parallel products: one thread off the CPU for more than a quarter of a
 * window means the cores are oversubscribed.  A single stall is not enough:
 * on the development VM, lone stalls of 2-11 ms (the host descheduling a
 * vCPU, a daemon waking) came every few seconds with nothing else running,
 * and answering each with CPU_SOLO_NS on one thread made the slowest DCGAN
 * steps 2x slower (max 270-300 ms against 170-180 ms, means 176 -> 155). */
#define CPU_WINDOW_NS 100000000
/* How long to stay on one thread before trying the team again. */
#define CPU_SOLO_NS 500000000

int64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cpu_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cpu_solo(const cpu_ctx *c)
{
#ifdef GANTRY_CPU_SOLO_TEST
    /* Test builds (backends/cpu/solo/): every other run of
     * GANTRY_CPU_SOLO_TEST parallel ops goes to one thread, as if the cores
     * were busy elsewhere, so a test can see that results do not change. */
    static unsigned long calls;
    if ((__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED) / GANTRY_CPU_SOLO_TEST) % 2 == 1)
        return 1;
#endif
    int64_t until = __atomic_load_n(&c->solo_until_ns, __ATOMIC_RELAXED);
    return until != 0 && cpu_now_ns() < until;
}

void cpu_note_stall(cpu_ctx *c, int64_t stall_ns, int64_t wall_ns)
{
    /* Relaxed counters: a lost update between two host threads only shifts
     * a window's end. */
    int64_t stall = __atomic_add_fetch(&c->window_stall_ns, stall_ns > 0 ? stall_ns : 0, __ATOMIC_RELAXED);
    int64_t wall = __atomic_add_fetch(&c->window_wall_ns, wall_ns > 0 ? wall_ns : 0, __ATOMIC_RELAXED);
    if (wall < CPU_WINDOW_NS)
        return;
    __atomic_store_n(&c->window_stall_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->window_wall_ns, 0, __ATOMIC_RELAXED);
    if (stall * 4 <= wall)
        return;
    __atomic_store_n(&c->solo_until_ns, cpu_now_ns() + CPU_SOLO_NS, __ATOMIC_RELAXED);
    if (c->host && c->host->log)
        c->host->log(GANTRY_LOG_DEBUG,
                     CPU_NAME ": threads off the CPU %.0f%% of %.0f ms (cores busy elsewhere?): one thread for %d ms",
                     100.0 * (double)stall / (double)wall, (double)wall * 1e-6, CPU_SOLO_NS / 1000000);
}

/* ---- module ------------------------------------------------------------- */

static int cpu_probe(const gantry_backend_options *opts, char *why, size_t why_size)
{
    (void)opts;
    if (why && why_size > 0)
        why[0] = '\0';
    return 50;
}

static const char *gemm_setting(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, gemm) + sizeof(opts->gemm))
        return NULL;
    return opts->gemm;
}

static void cpu_describe(const gantry_backend_options *opts, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    int threads = threads_of(opts);
    char model[256], gemm[160], why[160];
    cpu_model(model, sizeof model);
    cpu_gemm_path path;
    cpu_isa isa;
    if (cpu_gemm_choose(gemm_setting(opts), &path, &isa, why, sizeof why) == 0)
        cpu_gemm_describe(path, isa, gemm, sizeof gemm);
    else
        snprintf(gemm, sizeof gemm, "none: create() will fail");
    snprintf(buf, size,
             "host memory, %d thread%s%s%s\nGEMM: %s\n"
             "      %s (GANTRY_CPU_GEMM=auto|own|avx512|avx2|portable|openblas)",
             threads, threads == 1 ? "" : "s", model[0] ? "; CPU: " : "", model, gemm, why);
}

static gantry_status cpu_create(const gantry_backend_options *opts, void **ctx)
{
    const gantry_host *host = host_of_options(opts);
    int avx2 = cpu_has_avx2();
    cpu_gemm_path path;
    cpu_isa isa;
    char why[160];
    if (cpu_gemm_choose(gemm_setting(opts), &path, &isa, why, sizeof why) != 0) {
        cpu_ctx tmp = { .host = host };
        return cpu_error(&tmp, GANTRY_INVALID_ARGUMENT, CPU_NAME ": %s", why);
    }
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        cpu_ctx tmp = { .host = host };
        return cpu_error(&tmp, GANTRY_OUT_OF_MEMORY, CPU_NAME ": create: out of memory (%zu bytes)", sizeof *c);
    }
    c->host = host;
    c->threads = threads_of(opts);
    c->avx2 = avx2;
    c->gemm_path = path;
    c->kernels = cpu_kernels_of(isa);
    c->pack_stride = (size_t)CPU_MC * CPU_KC + (size_t)CPU_KC * CPU_NC;
    size_t bytes = (size_t)c->threads * c->pack_stride * sizeof(float);
    void *pack = NULL;
    if (posix_memalign(&pack, CPU_ALIGN, bytes) != 0) {
        gantry_status s = cpu_error(c, GANTRY_OUT_OF_MEMORY,
                                    CPU_NAME ": create: no memory for %d threads' GEMM buffers (%zu bytes)",
                                    c->threads, bytes);
        free(c);
        return s;
    }
    c->pack = pack;
    if (pthread_mutex_init(&c->gemm_lock, NULL) != 0) {
        gantry_status s = cpu_error(c, GANTRY_INTERNAL, CPU_NAME ": create: cannot initialise a mutex");
        free(c->pack);
        free(c);
        return s;
    }
    if (pthread_mutex_init(&c->conv_lock, NULL) != 0) {
        gantry_status s = cpu_error(c, GANTRY_INTERNAL, CPU_NAME ": create: cannot initialise a mutex");
        pthread_mutex_destroy(&c->gemm_lock);
        free(c->pack);
        free(c);
        return s;
    }
    cpu_gemm_init(c);
    *ctx = c;
    return GANTRY_OK;
}

static void cpu_destroy(void *ctx)
{
    cpu_ctx *c = ctx;
    if (!c)
        return;
    pthread_mutex_destroy(&c->gemm_lock);
    pthread_mutex_destroy(&c->conv_lock);
    for (size_t i = 0; i < c->conv_table_count; i++)
        free(c->conv_tables[i].mem);
    free(c->pack);
    free(c);
}

/* ---- the table ---------------------------------------------------------- */

#define CPU_ENTRY(name, family) .name = cpu_##name,
static const gantry_backend_ops cpu_ops = {
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
    .struct_size = sizeof(gantry_backend_ops),
    .name = CPU_NAME,
    .description = "host memory, OpenMP threads, own packed GEMM or OpenBLAS; the fast host backend",
    .probe = cpu_probe,
    .describe = cpu_describe,
    .create = cpu_create,
    .destroy = cpu_destroy,
    GANTRY_BACKEND_OPS(CPU_ENTRY)
};
#undef CPU_ENTRY

/* The module's only exported symbol. */
__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void);

__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void)
{
    return &cpu_ops;
}
