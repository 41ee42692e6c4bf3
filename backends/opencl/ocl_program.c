/* gantry opencl backend: the kernel program.
 *
 * Sources: the cl/<family>.cl files embedded at build time (tools/embed_cl.py), or
 * read from opts->kernel_dir (GANTRY_CL_DIR) for kernel development; one
 * program of all files in a fixed order.  Tunables arrive as -D options.
 *
 * Binary cache (opts->cache_dir, NULL = none): <cache_dir>/opencl/<key>.bin,
 * key = FNV-1a of platform name and version, device name and version, driver
 * version, build options and the sources.  The file starts with a header
 * (ocl_cache.h) carrying magic, format, key, size and a checksum of the
 * binary; an entry that fails any check, or that the driver refuses
 * (clCreateProgramWithBinary or clBuildProgram failing), is rebuilt from
 * source and replaced, never trusted.  Entries are written to a temporary
 * file and renamed into place, so readers never see half a file.  A cache
 * directory that cannot be created or written costs one warning and the
 * backend runs without a cache.
 *
 * Offline binaries (opts->kernel_binary, GANTRY_OPENCL_BINARY): the program
 * is created from that file instead (FPGA flows); a kernel missing from it
 * is named in the error.  ocl_program_text gives offline compilers the
 * source to build such a binary from (`gantry backends --opencl-source`). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ocl_impl.h"

const char *const ocl_kernel_names[OCL_K_COUNT] = {
#define OCL_X_NAME(name, gemm_only, whole) #name,
    OCL_KERNEL_LIST(OCL_X_NAME)
#undef OCL_X_NAME
};

static const int ocl_kernel_gemm_only[OCL_K_COUNT] = {
#define OCL_X_GEMM(name, gemm_only, whole) gemm_only,
    OCL_KERNEL_LIST(OCL_X_GEMM)
#undef OCL_X_GEMM
};

const unsigned char ocl_kernel_whole[OCL_K_COUNT] = {
#define OCL_X_WHOLE(name, gemm_only, whole) whole,
    OCL_KERNEL_LIST(OCL_X_WHOLE)
#undef OCL_X_WHOLE
};

static uint64_t hash_str(uint64_t h, const char *s)
{
    return ocl_fnv1a(h, s, strlen(s) + 1); /* with the NUL, so "ab"+"c" != "a"+"bc" */
}

/* ---- sources -------------------------------------------------------------- */

typedef struct source_set {
    const char **strings; /* what clCreateProgramWithSource gets */
    size_t count;
    char **owned;         /* file contents read from kernel_dir */
    size_t owned_count;
    uint64_t hash;
} source_set;

static void sources_free(source_set *s)
{
    for (size_t i = 0; i < s->owned_count; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->strings);
    memset(s, 0, sizeof *s);
}

static gantry_status sources_load(ocl_ctx *c, const char *kernel_dir, source_set *s)
{
    memset(s, 0, sizeof *s);
    size_t total = 0;
    for (size_t f = 0; f < ocl_embedded_source_count; f++)
        total += kernel_dir ? 1 : ocl_embedded_sources[f].count;
    s->strings = calloc(total ? total : 1, sizeof *s->strings);
    if (kernel_dir)
        s->owned = calloc(ocl_embedded_source_count ? ocl_embedded_source_count : 1, sizeof *s->owned);
    if (!s->strings || (kernel_dir && !s->owned)) {
        sources_free(s);
        return ocl_error(c->host, GANTRY_OUT_OF_MEMORY, OCL_NAME ": out of host memory for kernel sources");
    }
    uint64_t h = OCL_FNV_BASIS;
    for (size_t f = 0; f < ocl_embedded_source_count; f++) {
        const ocl_source_file *src = &ocl_embedded_sources[f];
        if (!kernel_dir) {
            for (size_t i = 0; i < src->count; i++) {
                s->strings[s->count++] = src->lines[i];
                h = ocl_fnv1a(h, src->lines[i], strlen(src->lines[i]));
            }
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", kernel_dir, src->name);
        size_t len = 0;
        char *text = ocl_read_file(path, &len);
        if (!text) {
            int e = errno;
            sources_free(s);
            return ocl_error(c->host, e == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO,
                             OCL_NAME ": kernel source %s (GANTRY_CL_DIR): %s", path, strerror(e));
        }
        /* The same #line directive as the embedded copy, so that identical
         * sources hash (and cache) identically. */
        char directive[300];
        int dlen = snprintf(directive, sizeof directive, "#line 1 \"%s\"\n", src->name);
        char *full = malloc((size_t)dlen + len + 2);
        if (!full) {
            free(text);
            sources_free(s);
            return ocl_error(c->host, GANTRY_OUT_OF_MEMORY, OCL_NAME ": out of host memory for %s", path);
        }
        memcpy(full, directive, (size_t)dlen);
        memcpy(full + dlen, text, len);
        size_t flen = (size_t)dlen + len;
        if (len == 0 || text[len - 1] != '\n')
            full[flen++] = '\n';
        full[flen] = '\0';
        free(text);
        s->owned[s->owned_count++] = full;
        s->strings[s->count++] = full;
        h = ocl_fnv1a(h, full, flen);
    }
    s->hash = h;
    return GANTRY_OK;
}

/* ---- building ------------------------------------------------------------ */

/* The build log, squeezed onto one line ("; " for newlines), truncated. */
static void build_log(ocl_ctx *c, cl_program program, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = 0;
    if (clGetProgramBuildInfo(program, c->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) != CL_SUCCESS || !len)
        return;
    char *log = malloc(len + 1);
    if (!log)
        return;
    if (clGetProgramBuildInfo(program, c->dev.device, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS) {
        log[len] = '\0';
        size_t o = 0;
        for (size_t i = 0; log[i] && o + 3 < size; i++) {
            if (log[i] == '\n') {
                if (o > 0 && log[i + 1]) {
                    out[o++] = ';';
                    out[o++] = ' ';
                }
            } else if (log[i] != '\r') {
                out[o++] = log[i];
            }
        }
        out[o] = '\0';
    }
    free(log);
}

static gantry_status build_failed(ocl_ctx *c, cl_program program, cl_int err, const char *what)
{
    char log[700];
    build_log(c, program, log, sizeof log);
    gantry_status s = ocl_status_of_cl(err);
    if (s == GANTRY_OK || s == GANTRY_DEVICE)
        s = GANTRY_BUILD;
    return ocl_error(c->host, s, OCL_NAME ": building kernels (%s) for '%s' failed: %s (%d)%s%s", what, c->dev.name,
                     ocl_cl_error_name(err), (int)err, log[0] ? ": " : "", log);
}

static cl_program program_from_binary(ocl_ctx *c, const unsigned char *bin, size_t size, cl_int *err)
{
    cl_int bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = { bin };
    cl_program p = clCreateProgramWithBinary(c->context, 1, &c->dev.device, &size, bins, &bin_status, err);
    if (p && *err == CL_SUCCESS && bin_status != CL_SUCCESS)
        *err = bin_status;
    if (*err != CL_SUCCESS && p) {
        clReleaseProgram(p);
        p = NULL;
    }
    return p;
}

/* ---- the binary cache ----------------------------------------------------- */

/* mkdir -p; 0 or -1 with errno. */
static int make_dirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(tmp, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

typedef struct cache_ref {
    char dir[4096];
    char path[4200];
    uint64_t key;
    int usable; /* 0: no cache (none configured, or the directory failed) */
} cache_ref;

static uint64_t cache_key(const ocl_ctx *c, uint64_t source_hash)
{
    uint64_t h = OCL_FNV_BASIS;
    h = hash_str(h, "gantry-opencl-cache");
    h = hash_str(h, c->dev.platform_name);
    h = hash_str(h, c->dev.platform_version);
    h = hash_str(h, c->dev.name);
    h = hash_str(h, c->dev.version);
    h = hash_str(h, c->dev.driver);
    h = hash_str(h, c->build_options);
    return ocl_fnv1a(h, &source_hash, sizeof source_hash);
}

/* Writes the entry atomically; 0, or -1 with `why` set. */
static int cache_write(const cache_ref *ref, const unsigned char *bin, size_t size, char *why, size_t why_size)
{
    unsigned char header[OCL_CACHE_HEADER_SIZE];
    ocl_cache_header(header, ref->key, bin, size);

    static unsigned counter;
    char tmp[4300];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u.%ld", ref->path, (long)getpid(), counter++, (long)ts.tv_nsec);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, why_size, "cannot create %.300s: %s", tmp, strerror(errno));
        return -1;
    }
    const unsigned char *parts[2] = { header, bin };
    size_t sizes[2] = { sizeof header, size };
    for (int i = 0; i < 2; i++) {
        size_t done = 0;
        while (done < sizes[i]) {
            ssize_t w = write(fd, parts[i] + done, sizes[i] - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(why, why_size, "cannot write %.300s: %s", tmp, w < 0 ? strerror(errno) : "short write");
                close(fd);
                unlink(tmp);
                return -1;
            }
            done += (size_t)w;
        }
    }
    if (close(fd) != 0) {
        snprintf(why, why_size, "cannot write %.300s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, ref->path) != 0) {
        snprintf(why, why_size, "cannot rename %.300s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void cache_warn(ocl_ctx *c, const cache_ref *ref, const char *why)
{
    ocl_log(c->host, GANTRY_LOG_WARN,
            OCL_NAME ": kernel cache directory %s is not usable (%s); compiled kernels will not be cached", ref->dir,
            why);
}

/* Stores the built program's binary; warns (once: the caller stops using
 * the cache afterwards) when the directory cannot take it. */
static void cache_store(ocl_ctx *c, cache_ref *ref, cl_program program)
{
    size_t size = 0;
    cl_int err = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL);
    if (err != CL_SUCCESS || size == 0) {
        ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": '%s' gives no program binary (%s); nothing cached",
                c->dev.name, err != CL_SUCCESS ? ocl_cl_error_name(err) : "size 0");
        return;
    }
    unsigned char *bin = malloc(size);
    if (!bin)
        return;
    unsigned char *bins[1] = { bin };
    err = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL);
    if (err == CL_SUCCESS) {
        char why[600];
        if (make_dirs(ref->dir) != 0) {
            snprintf(why, sizeof why, "%s", strerror(errno));
            cache_warn(c, ref, why);
            ref->usable = 0;
        } else if (cache_write(ref, bin, size, why, sizeof why) != 0) {
            cache_warn(c, ref, why);
            ref->usable = 0;
        } else {
            ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": program binary cached in %s (%zu bytes)", ref->path,
                    size);
        }
    }
    free(bin);
}

/* ---- kernels -------------------------------------------------------------- */

static gantry_status create_kernels(ocl_ctx *c, const char *binary_file)
{
    /* The first few names after the first, then a count: the whole list of
     * 60 kernels would not be a one-line error. */
    enum { NAMED = 6 };
    char missing[400] = "";
    size_t nmissing = 0, used = 0;
    const char *first = NULL;
    for (int k = 0; k < OCL_K_COUNT; k++) {
        c->kernels[k] = NULL;
        if (ocl_kernel_gemm_only[k] && c->gemm != OCL_GEMM_OWN)
            continue;
        cl_int err;
        c->kernels[k] = clCreateKernel(c->program, ocl_kernel_names[k], &err);
        if (err == CL_SUCCESS)
            continue;
        c->kernels[k] = NULL;
        if (err != CL_INVALID_KERNEL_NAME)
            return ocl_fail(c, err, "create", ocl_kernel_names[k]);
        if (!first)
            first = ocl_kernel_names[k];
        else if (nmissing <= NAMED && used < sizeof missing)
            used += (size_t)snprintf(missing + used, sizeof missing - used, "%s'%s'", nmissing > 1 ? ", " : "",
                                     ocl_kernel_names[k]);
        nmissing++;
    }
    if (!nmissing)
        return GANTRY_OK;
    char also[500] = "";
    if (nmissing > NAMED + 1)
        snprintf(also, sizeof also, " (also missing: %s and %zu more)", missing, nmissing - NAMED - 1);
    else if (nmissing > 1)
        snprintf(also, sizeof also, " (also missing: %s)", missing);
    if (binary_file)
        return ocl_error(c->host, GANTRY_NOT_FOUND, OCL_NAME ": kernel '%s' missing from binary %s%s", first,
                         binary_file, also);
    return ocl_error(c->host, GANTRY_NOT_FOUND, OCL_NAME ": kernel '%s' missing from the kernel sources%s", first,
                     also);
}

static int is_pow2(cl_uint x)
{
    return x && !(x & (x - 1));
}

/* Runs gantry_config (cl/common.cl) and adopts the tunables the program was
 * compiled with: an offline binary may come from another build; for our
 * own builds they are what we asked for. */
static gantry_status adopt_config(ocl_ctx *c, const char *file)
{
    cl_int err;
    cl_mem out = clCreateBuffer(c->context, CL_MEM_READ_WRITE, 4 * sizeof(cl_uint), NULL, &err);
    if (!out)
        return ocl_fail(c, err, "create", "clCreateBuffer (configuration)");
    cl_uint v[4] = { 0, 0, 0, 0 };
    size_t one = 1;
    err = clSetKernelArg(c->kernels[OCL_K_gantry_config], 0, sizeof out, &out);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(c->queue, c->kernels[OCL_K_gantry_config], 1, NULL, &one, &one, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(c->queue, out, CL_TRUE, 0, sizeof v, v, 0, NULL, NULL);
    clReleaseMemObject(out);
    if (err != CL_SUCCESS)
        return ocl_fail(c, err, "create", "gantry_config");
    const cl_uint wg = v[1], vw = v[2], lx = v[3];
    int usable = v[0] == 1 && is_pow2(wg) && wg <= c->dev.max_wg && is_pow2(vw) && vw <= 16 && is_pow2(lx) && lx <= wg;
    if (!usable)
        return ocl_error(c->host, GANTRY_CORRUPT_FILE,
                         OCL_NAME ": %s was compiled with unusable settings (format %u, WG %u, VW %u, BN_LX %u) for '%s'",
                         file ? file : "the program", v[0], v[1], v[2], v[3], c->dev.name);
    if (v[1] != c->wg || v[2] != c->vw || v[3] != c->bn_lx)
        ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": %s was compiled with WG %u, VW %u, BN_LX %u; using those",
                file ? file : "the program", v[1], v[2], v[3]);
    c->wg = v[1];
    c->vw = v[2];
    c->bn_lx = v[3];
    if (c->gemm_lx > c->wg)
        c->gemm_lx = c->wg;
    return GANTRY_OK;
}

static gantry_status load_offline_binary(ocl_ctx *c, const char *file)
{
    size_t size = 0;
    unsigned char *bin = (unsigned char *)ocl_read_file(file, &size);
    if (!bin)
        return ocl_error(c->host, errno == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO,
                         OCL_NAME ": kernel binary %s (GANTRY_OPENCL_BINARY): %s", file, strerror(errno));
    if (size == 0) {
        free(bin);
        return ocl_error(c->host, GANTRY_CORRUPT_FILE, OCL_NAME ": kernel binary %s is empty", file);
    }
    cl_int err;
    c->program = program_from_binary(c, bin, size, &err);
    free(bin);
    if (!c->program) {
        gantry_status s = ocl_status_of_cl(err);
        return ocl_error(c->host, s == GANTRY_DEVICE ? GANTRY_CORRUPT_FILE : s,
                         OCL_NAME ": kernel binary %s is not a program for '%s': clCreateProgramWithBinary: %s (%d)",
                         file, c->dev.name, ocl_cl_error_name(err), (int)err);
    }
    ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": program loaded from binary %s", file);
    err = clBuildProgram(c->program, 1, &c->dev.device, c->build_options, NULL, NULL);
    if (err != CL_SUCCESS)
        return build_failed(c, c->program, err, file);
    GANTRY_TRY(create_kernels(c, file));
    return adopt_config(c, file);
}

/* A field of opts, or NULL when a core built with an older (smaller)
 * gantry_backend_options does not have it. */
#define OPT_FIELD(opts, field)                                                                          \
    ((opts) && (opts)->struct_size >= offsetof(gantry_backend_options, field) + sizeof((opts)->field)   \
         ? (opts)->field                                                                                \
         : NULL)

gantry_status ocl_program_init(ocl_ctx *c, const gantry_backend_options *opts)
{
    const char *kernel_dir = OPT_FIELD(opts, kernel_dir);
    const char *kernel_binary = OPT_FIELD(opts, kernel_binary);
    const char *cache_dir = OPT_FIELD(opts, cache_dir);
    if (kernel_binary && *kernel_binary)
        return load_offline_binary(c, kernel_binary);

    source_set src;
    gantry_status s = sources_load(c, kernel_dir && *kernel_dir ? kernel_dir : NULL, &src);
    if (s)
        return s;

    cache_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.key = cache_key(c, src.hash);
    if (cache_dir && *cache_dir) {
        snprintf(ref.dir, sizeof ref.dir, "%s/opencl", cache_dir);
        snprintf(ref.path, sizeof ref.path, "%s/%016llx.bin", ref.dir, (unsigned long long)ref.key);
        ref.usable = 1;
    }

    const char *miss_reason = cache_dir && *cache_dir ? "cache miss" : "no cache directory";
    char why[300] = "";
    if (ref.usable) {
        size_t size = 0;
        unsigned char *bin = ocl_cache_read(ref.path, ref.key, &size, why, sizeof why);
        if (bin) {
            cl_int err;
            cl_program p = program_from_binary(c, bin, size, &err);
            free(bin);
            if (!p) {
                snprintf(why, sizeof why, "clCreateProgramWithBinary: %s", ocl_cl_error_name(err));
            } else if ((err = clBuildProgram(p, 1, &c->dev.device, c->build_options, NULL, NULL)) != CL_SUCCESS) {
                snprintf(why, sizeof why, "clBuildProgram: %s", ocl_cl_error_name(err));
                clReleaseProgram(p);
            } else {
                c->program = p;
                c->cache_hits++;
                ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": program loaded from cache %s", ref.path);
            }
        }
        if (!c->program && why[0]) {
            ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": cache entry %s rejected (%s); rebuilding", ref.path, why);
            miss_reason = "cache entry rejected";
        }
    }

    if (!c->program) {
        ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": building program (%s) for '%s' with '%s'%s%s", miss_reason,
                c->dev.name, c->build_options, kernel_dir ? " from " : "", kernel_dir ? kernel_dir : "");
        cl_int err;
        cl_program p = clCreateProgramWithSource(c->context, (cl_uint)src.count, src.strings, NULL, &err);
        if (!p) {
            sources_free(&src);
            return ocl_fail(c, err, "create", "clCreateProgramWithSource");
        }
        c->builds++;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        err = clBuildProgram(p, 1, &c->dev.device, c->build_options, NULL, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (err != CL_SUCCESS) {
            s = build_failed(c, p, err, kernel_dir ? kernel_dir : "embedded sources");
            clReleaseProgram(p);
            sources_free(&src);
            return s;
        }
        c->program = p;
        ocl_log(c->host, GANTRY_LOG_DEBUG, OCL_NAME ": program built in %.2f s",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        if (ref.usable)
            cache_store(c, &ref, p);
    }
    sources_free(&src);
    GANTRY_TRY(create_kernels(c, NULL));
    return adopt_config(c, NULL);
}

void ocl_program_release(ocl_ctx *c)
{
    for (int k = 0; k < OCL_K_COUNT; k++)
        if (c->kernels[k]) {
            clReleaseKernel(c->kernels[k]);
            c->kernels[k] = NULL;
        }
    if (c->program) {
        clReleaseProgram(c->program);
        c->program = NULL;
    }
}

gantry_status ocl_program_text(ocl_ctx *c, const gantry_backend_options *opts, char **text, size_t *size)
{
    const char *kernel_dir = OPT_FIELD(opts, kernel_dir);
    source_set src;
    GANTRY_TRY(sources_load(c, kernel_dir && *kernel_dir ? kernel_dir : NULL, &src));
    size_t total = 0;
    for (size_t i = 0; i < src.count; i++)
        total += strlen(src.strings[i]);
    char *out = malloc(total + 1);
    if (!out) {
        sources_free(&src);
        return ocl_error(c->host, GANTRY_OUT_OF_MEMORY, OCL_NAME ": out of host memory for the program source");
    }
    size_t used = 0;
    for (size_t i = 0; i < src.count; i++) {
        size_t n = strlen(src.strings[i]);
        memcpy(out + used, src.strings[i], n);
        used += n;
    }
    out[used] = '\0';
    sources_free(&src);
    *text = out;
    *size = used;
    return GANTRY_OK;
}
