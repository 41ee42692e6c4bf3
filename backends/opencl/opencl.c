/* gantry: the opencl backend (OpenCL 1.2 host API through the ICD loader).
 *
 * Devices.  opts->device (GANTRY_OPENCL_DEVICE) is a comma-separated list:
 * one device selector and any number of settings.
 *   selector   "P:D" (platform and device index, as `gantry backends` lists
 *              them), "gpu" / "cpu" / "accelerator" (the first of that type), or
 *              a case-insensitive substring of the platform or device name.
 *              Without one: the first GPU, else an accelerator, else a CPU.
 *   gemm=own|clblast|auto   GEMM through our kernels (cl/gemm.cl) or CLBlast;
 *              auto (the default) picks our kernels on CPU devices, where they
 *              are an order of magnitude faster than CLBlast's (gemm.c),
 *              and CLBlast elsewhere.
 *   nt=dot|transpose   our GEMM with B transposed: the dot-product kernel
 *              (default) or a transpose of B and the row kernel.
 *   wg=N, vw=N work-group size and vector width of the elementwise kernels
 *              (defaults per device type; for tuning experiments).
 *   profile=gpu|cpu|accelerator|auto   choose work-group sizes, kernel
 *              shapes and the GEMM path as for a GPU (or a CPU, an
 *              accelerator) whatever the device is: so the GPU code paths
 *              can be run and checked on a CPU device (tests do, on PoCL);
 *              auto (the default) goes by device type.
 *   maxwg=N, maxdim=N   limits tighter than the device's: work-groups of at
 *              most N, at most N work-items per dimension of one launch (so
 *              a forgiving device runs what a strict one would refuse).
 * e.g. GANTRY_OPENCL_DEVICE="1:0", "gpu", "intel,gemm=own", "gemm=clblast".
 * GANTRY_OPENCL_GEMM=own|clblast|auto (opts->gemm) is the same as the gemm=
 * setting, as GANTRY_CPU_GEMM is for the cpu backend.
 * A selector that matches nothing fails create() with GANTRY_NOT_FOUND and
 * the list of devices.
 *
 * probe(): 0 without an OpenCL platform or device (with the reason), else by
 * the type of the device that would be chosen: GPU 100, accelerator 80, CPU
 * 30 (below the cpu backend's 50: a CPU is better served natively).
 *
 * Besides the table the module exports gantry_opencl_program_source
 * (gantry_opencl.h): the program and build options create() would use, for
 * offline compilers. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry_opencl.h"
#include "ocl_impl.h"

#define OCL_MAX_DEVICES 64

/* ---- device enumeration --------------------------------------------------- */

typedef struct ocl_device_list {
    ocl_device_info *items;
    size_t count;
    cl_uint platforms;
    cl_int platform_err; /* clGetPlatformIDs' status */
} ocl_device_list;

static void info_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

static void platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

static void query_device(ocl_device_info *info)
{
    cl_device_id d = info->device;
    info_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    info_string(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
    info_string(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof info->c_version);
    info_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    if (clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL) != CL_SUCCESS)
        info->type = CL_DEVICE_TYPE_DEFAULT;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units, &info->compute_units, NULL) !=
            CL_SUCCESS ||
        info->compute_units == 0)
        info->compute_units = 1;
    if (clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem, &info->global_mem, NULL) != CL_SUCCESS)
        info->global_mem = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_alloc, &info->max_alloc, NULL) !=
        CL_SUCCESS)
        info->max_alloc = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem, &info->local_mem, NULL) != CL_SUCCESS)
        info->local_mem = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_wg, &info->max_wg, NULL) != CL_SUCCESS ||
        info->max_wg == 0)
        info->max_wg = 1;
    cl_uint dims = 0;
    size_t items[16];
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof dims, &dims, NULL) != CL_SUCCESS || dims < 3 ||
        dims > 16 || clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, dims * sizeof *items, items, NULL) != CL_SUCCESS)
        items[0] = items[1] = items[2] = info->max_wg;
    for (int i = 0; i < 3; i++)
        info->max_item[i] = items[i] ? items[i] : 1;
    info->max_global = 0;
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) != CL_SUCCESS)
        fp = 0;
    info->correct_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
}

static void list_free(ocl_device_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Every device of every platform; list->count 0 with platform_err or
 * platforms telling why. */
static void list_devices(ocl_device_list *list)
{
    memset(list, 0, sizeof *list);
    cl_platform_id platforms[16];
    cl_uint np = 0;
    list->platform_err = clGetPlatformIDs(16, platforms, &np);
    if (list->platform_err != CL_SUCCESS || np == 0)
        return;
    if (np > 16)
        np = 16;
    list->platforms = np;
    list->items = calloc(OCL_MAX_DEVICES, sizeof *list->items);
    if (!list->items)
        return;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devices[OCL_MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, OCL_MAX_DEVICES, devices, &nd) != CL_SUCCESS)
            continue; /* CL_DEVICE_NOT_FOUND: a platform without devices */
        if (nd > OCL_MAX_DEVICES)
            nd = OCL_MAX_DEVICES;
        for (cl_uint i = 0; i < nd && list->count < OCL_MAX_DEVICES; i++) {
            ocl_device_info *info = &list->items[list->count++];
            info->platform = platforms[p];
            info->device = devices[i];
            info->platform_index = p;
            info->device_index = i;
            platform_string(platforms[p], CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
            platform_string(platforms[p], CL_PLATFORM_VERSION, info->platform_version,
                            sizeof info->platform_version);
            query_device(info);
        }
    }
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    return "other";
}

static int type_score(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return 100;
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return 80;
    if (t & CL_DEVICE_TYPE_CPU)
        return 30;
    return 20;
}

/* ---- the selector --------------------------------------------------------- */

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static int ci_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static int parse_gemm(const char *value, ocl_gemm_path *gemm)
{
    if (ci_equal(value, "own"))
        *gemm = OCL_GEMM_OWN;
    else if (ci_equal(value, "clblast"))
        *gemm = OCL_GEMM_CLBLAST;
    else if (ci_equal(value, "auto"))
        *gemm = OCL_GEMM_AUTO;
    else
        return -1;
    return 0;
}

/* Parses opts->device; 0, or -1 with `err` describing the bad part. */
static int parse_selector(const char *text, ocl_selector *sel, char *err, size_t err_size)
{
    memset(sel, 0, sizeof *sel);
    sel->gemm = OCL_GEMM_AUTO;
    if (!text)
        return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && isspace((unsigned char)tok[len - 1]))
            tok[--len] = '\0';
        if (!len)
            continue;
        char *eq = strchr(tok, '=');
        if (!eq) {
            if (sel->match[0]) {
                snprintf(err, err_size, "two device selectors ('%.100s' and '%.100s')", sel->match, tok);
                return -1;
            }
            snprintf(sel->match, sizeof sel->match, "%s", tok);
            continue;
        }
        *eq = '\0';
        const char *key = tok, *value = eq + 1;
        if (ci_equal(key, "gemm")) {
            if (parse_gemm(value, &sel->gemm) != 0) {
                snprintf(err, err_size, "gemm='%s' (expected own, clblast or auto)", value);
                return -1;
            }
            sel->gemm_set = 1;
        } else if (ci_equal(key, "nt")) {
            if (ci_equal(value, "dot"))
                sel->nt = 1;
            else if (ci_equal(value, "transpose"))
                sel->nt = 2;
            else if (ci_equal(value, "auto"))
                sel->nt = 0;
            else {
                snprintf(err, err_size, "nt='%s' (expected dot, transpose or auto)", value);
                return -1;
            }
        } else if (ci_equal(key, "wg") || ci_equal(key, "vw")) {
            char *end;
            long v = strtol(value, &end, 10);
            int is_wg = ci_equal(key, "wg");
            int ok = *value && !*end && v >= 1 && v <= (is_wg ? 1024 : 16) && (v & (v - 1)) == 0;
            if (!ok) {
                snprintf(err, err_size, "%s='%s' (expected a power of two up to %d)", key, value, is_wg ? 1024 : 16);
                return -1;
            }
            if (is_wg)
                sel->wg = (int)v;
            else
                sel->vw = (int)v;
        } else if (ci_equal(key, "profile")) {
            if (ci_equal(value, "gpu"))
                sel->profile = OCL_PROFILE_GPU;
            else if (ci_equal(value, "cpu"))
                sel->profile = OCL_PROFILE_CPU;
            else if (ci_equal(value, "accelerator"))
                sel->profile = OCL_PROFILE_ACCELERATOR;
            else if (ci_equal(value, "auto"))
                sel->profile = 0;
            else {
                snprintf(err, err_size, "profile='%s' (expected gpu, cpu, accelerator or auto)", value);
                return -1;
            }
        } else if (ci_equal(key, "maxwg") || ci_equal(key, "maxdim")) {
            char *end;
            long v = strtol(value, &end, 10);
            int is_wg = ci_equal(key, "maxwg");
            long lo = is_wg ? 1 : 64;
            if (!*value || *end || v < lo || v > (1L << 30)) {
                snprintf(err, err_size, "%s='%s' (expected a whole number from %ld up)", key, value, lo);
                return -1;
            }
            if (is_wg)
                sel->max_wg = (size_t)v;
            else
                sel->max_dim = (size_t)v;
        } else {
            snprintf(err, err_size, "unknown setting '%s' (known: gemm, nt, wg, vw, profile, maxwg, maxdim)", key);
            return -1;
        }
    }
    return 0;
}

static int is_index_pair(const char *s, unsigned *p, unsigned *d)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return 0;
    unsigned long a = strtoul(s, &end, 10);
    if (*end != ':' || !isdigit((unsigned char)end[1]))
        return 0;
    unsigned long b = strtoul(end + 1, &end, 10);
    if (*end)
        return 0;
    *p = (unsigned)a;
    *d = (unsigned)b;
    return 1;
}

/* The index of the selected device in `list`, or -1. */
static long select_device(const ocl_device_list *list, const char *match)
{
    if (!match || !*match) {
        static const cl_device_type order[] = { CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_CPU };
        for (size_t t = 0; t < sizeof order / sizeof *order; t++)
            for (size_t i = 0; i < list->count; i++)
                if (list->items[i].type & order[t])
                    return (long)i;
        return list->count ? 0 : -1;
    }
    unsigned p, d;
    if (is_index_pair(match, &p, &d)) {
        for (size_t i = 0; i < list->count; i++)
            if (list->items[i].platform_index == p && list->items[i].device_index == d)
                return (long)i;
        return -1;
    }
    cl_device_type want = 0;
    if (ci_equal(match, "gpu"))
        want = CL_DEVICE_TYPE_GPU;
    else if (ci_equal(match, "cpu"))
        want = CL_DEVICE_TYPE_CPU;
    else if (ci_equal(match, "accelerator"))
        want = CL_DEVICE_TYPE_ACCELERATOR;
    for (size_t i = 0; i < list->count; i++) {
        const ocl_device_info *info = &list->items[i];
        if (want ? (info->type & want) != 0
                 : ci_contains(info->name, match) || ci_contains(info->platform_name, match))
            return (long)i;
    }
    return -1;
}

static void no_platform_reason(const ocl_device_list *list, char *why, size_t size)
{
    if (list->platform_err != CL_SUCCESS || list->platforms == 0)
        snprintf(why, size, "no OpenCL platform (clGetPlatformIDs: %d%s%s)", (int)list->platform_err,
                 list->platform_err ? " " : "", list->platform_err ? ocl_cl_error_name(list->platform_err) : "");
    else if (!list->items)
        snprintf(why, size, "out of host memory listing OpenCL devices");
    else
        snprintf(why, size, "no OpenCL device on %u platform(s)", (unsigned)list->platforms);
}

static const char *gemm_path_name(ocl_gemm_path g)
{
    return g == OCL_GEMM_OWN ? "own kernels (cl/gemm.cl)" : "CLBlast";
}

/* Whether kernels take a GPU's (or a CPU's) shapes on a device of this
 * type: the profile setting, else the type.  An accelerator is neither. */
static int shaped_as(const ocl_selector *sel, cl_device_type type, int profile, cl_device_type kind)
{
    return sel->profile ? sel->profile == profile : (type & kind) != 0;
}

/* Our kernels on CPUs (profile=cpu included) and wherever the kernels come
 * from an offline binary (`offline`: CLBlast compiles its own at run time,
 * which a device without an online compiler cannot), CLBlast elsewhere.
 * parse_settings() refuses gemm=clblast with an offline binary. */
static ocl_gemm_path resolve_gemm(const ocl_selector *sel, cl_device_type type, int offline)
{
    if (sel->gemm != OCL_GEMM_AUTO)
        return sel->gemm;
    if (offline)
        return OCL_GEMM_OWN;
    return shaped_as(sel, type, OCL_PROFILE_CPU, CL_DEVICE_TYPE_CPU) ? OCL_GEMM_OWN : OCL_GEMM_CLBLAST;
}

/* "4.4 GiB" */
static void format_bytes(cl_ulong bytes, char *buf, size_t size)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, size, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    else
        snprintf(buf, size, "%.0f MiB", (double)bytes / (double)(1ull << 20));
}

/* The first `words` words: "OpenCL 3.0 PoCL HSTR: ..." -> "OpenCL 3.0" */
static void short_version(const char *version, int words, char *buf, size_t size)
{
    size_t n = strlen(version);
    if (n >= size)
        n = size - 1;
    memcpy(buf, version, n); /* truncation is the point */
    buf[n] = '\0';
    char *sp = buf;
    for (int w = 0; w < words && sp; w++)
        sp = strchr(sp + (w > 0), ' ');
    if (sp)
        *sp = '\0';
}

static void describe_device(const ocl_device_info *info, int chosen, char *buf, size_t size)
{
    char mem[32], ver[64], cver[64];
    format_bytes(info->global_mem, mem, sizeof mem);
    short_version(info->version, 2, ver, sizeof ver);
    short_version(info->c_version, 3, cver, sizeof cver);
    snprintf(buf, size, "%c %u:%u %s '%s': %u compute units, %s, %s, %s\n", chosen ? '*' : ' ',
             info->platform_index, info->device_index, type_name(info->type), info->name, info->compute_units, mem,
             ver, cver);
}

static void device_list_text(const ocl_device_list *list, long chosen, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < list->count && used + 1 < size; i++) {
        if (i == 0 || list->items[i].platform_index != list->items[i - 1].platform_index) {
            used += (size_t)snprintf(buf + used, size - used, "platform %u: %s (%.60s)\n",
                                     list->items[i].platform_index, list->items[i].platform_name,
                                     list->items[i].platform_version);
            if (used >= size)
                break;
        }
        describe_device(&list->items[i], (long)i == chosen, buf + used, size - used);
        used += strlen(buf + used);
    }
}

/* ---- one context per device for the process ----------------------------------
 * CLBlast caches its compiled kernels in memory keyed by (context, device);
 * a new context per backend instance would make every reopening (gantry
 * check, tests, a long-running host) compile them again.  So instances of
 * one device share a context, created on first use and kept (one reference
 * held here) until the process ends; the module is never unloaded
 * (-z nodelete, see meson.build), so neither is this table. */

typedef struct shared_context {
    cl_device_id device;
    cl_context context;
} shared_context;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_context shared[OCL_MAX_DEVICES];
static size_t shared_count;

/* A new reference to the device's context (release with clReleaseContext). */
static cl_context context_for(const ocl_device_info *dev, cl_int *err)
{
    cl_context ctx = NULL;
    *err = CL_SUCCESS;
    pthread_mutex_lock(&shared_lock);
    for (size_t i = 0; i < shared_count && !ctx; i++)
        if (shared[i].device == dev->device)
            ctx = shared[i].context;
    if (!ctx) {
        cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0 };
        ctx = clCreateContext(props, 1, &dev->device, NULL, NULL, err);
        if (ctx && shared_count < OCL_MAX_DEVICES) {
            shared[shared_count].device = dev->device;
            shared[shared_count].context = ctx;
            shared_count++;
        } else if (ctx) {
            /* Table full (cannot happen: one entry per device): unshared. */
            pthread_mutex_unlock(&shared_lock);
            return ctx;
        }
    }
    if (ctx)
        clRetainContext(ctx);
    pthread_mutex_unlock(&shared_lock);
    return ctx;
}

/* ---- module methods ------------------------------------------------------- */

static const gantry_backend_options *usable_opts(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, host) + sizeof(opts->host))
        return NULL;
    return opts;
}

static const char *opt_device(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, device) + sizeof(opts->device))
        return NULL;
    return opts->device;
}

/* GANTRY_OPENCL_BINARY, or NULL when unset or empty. */
static const char *opt_binary(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, kernel_binary) + sizeof(opts->kernel_binary))
        return NULL;
    return opts->kernel_binary && *opts->kernel_binary ? opts->kernel_binary : NULL;
}

static const char *opt_gemm(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, gemm) + sizeof(opts->gemm))
        return NULL;
    return opts->gemm;
}

static int check_offline_gemm(const gantry_backend_options *opts, const ocl_selector *sel, char *err, size_t err_size)
{
    if (sel->gemm != OCL_GEMM_CLBLAST || !opt_binary(opts))
        return 0;
    snprintf(err, err_size,
             "GEMM through CLBlast with GANTRY_OPENCL_BINARY: CLBlast compiles its kernels at run time, which a device "
             "that needs an offline binary cannot; use gemm=own or auto");
    return -1;
}

/* GANTRY_OPENCL_DEVICE, then GANTRY_OPENCL_GEMM (the same as its gemm=
 * setting); 0, or -1 with the whole complaint in `err`. */
static int parse_settings(const gantry_backend_options *opts, ocl_selector *sel, char *err, size_t err_size)
{
    char why[256];
    if (parse_selector(opt_device(opts), sel, why, sizeof why) != 0) {
        snprintf(err, err_size, "bad GANTRY_OPENCL_DEVICE '%.200s': %s", opt_device(opts), why);
        return -1;
    }
    const char *gemm = opt_gemm(opts);
    ocl_gemm_path path;
    if (!gemm)
        return check_offline_gemm(opts, sel, err, err_size);
    if (parse_gemm(gemm, &path) != 0) {
        snprintf(err, err_size, "GANTRY_OPENCL_GEMM='%.60s' (expected own, clblast or auto)", gemm);
        return -1;
    }
    if (sel->gemm_set && sel->gemm != path) {
        snprintf(err, err_size, "GANTRY_OPENCL_GEMM=%.60s disagrees with gemm= in GANTRY_OPENCL_DEVICE '%.200s'", gemm,
                 opt_device(opts));
        return -1;
    }
    sel->gemm = path;
    sel->gemm_set = 1;
    return check_offline_gemm(opts, sel, err, err_size);
}

static int ocl_probe(const gantry_backend_options *opts, char *why, size_t why_size)
{
    char dummy[8];
    if (!why || why_size == 0) {
        why = dummy;
        why_size = sizeof dummy;
    }
    why[0] = '\0';
    ocl_device_list list;
    list_devices(&list);
    if (list.count == 0) {
        no_platform_reason(&list, why, why_size);
        list_free(&list);
        return 0;
    }
    ocl_selector sel;
    char err[512];
    long chosen = -1;
    if (parse_settings(opts, &sel, err, sizeof err) == 0)
        chosen = select_device(&list, sel.match);
    /* A selector that matches nothing still probes the default device, so
     * that create() runs and reports the list of devices. */
    if (chosen < 0)
        chosen = select_device(&list, NULL);
    int score = type_score(list.items[chosen].type);
    cl_bool compiler = CL_TRUE;
    if (clGetDeviceInfo(list.items[chosen].device, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL) !=
        CL_SUCCESS)
        compiler = CL_TRUE;
    if (!compiler && !opt_binary(opts)) {
        snprintf(why, why_size, "OpenCL device '%s' has no compiler and GANTRY_OPENCL_BINARY is not set",
                 list.items[chosen].name);
        score = 0;
    }
    list_free(&list);
    return score;
}

static void ocl_describe(const gantry_backend_options *opts, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    ocl_device_list list;
    list_devices(&list);
    if (list.count == 0) {
        no_platform_reason(&list, buf, size);
        list_free(&list);
        return;
    }
    ocl_selector sel;
    char err[512];
    long chosen = -1;
    int parsed = parse_settings(opts, &sel, err, sizeof err) == 0;
    if (parsed)
        chosen = select_device(&list, sel.match);
    device_list_text(&list, chosen, buf, size);
    size_t used = strlen(buf);
    if (!parsed)
        snprintf(buf + used, size - used, "%s", err);
    else if (chosen < 0)
        snprintf(buf + used, size - used, "GANTRY_OPENCL_DEVICE '%s' matches no device", sel.match);
    else {
        ocl_gemm_path g = resolve_gemm(&sel, list.items[chosen].type, opt_binary(opts) != NULL);
        char tuning[400] = "";
        if (g == OCL_GEMM_CLBLAST) {
            if (shaped_as(&sel, list.items[chosen].type, OCL_PROFILE_CPU, CL_DEVICE_TYPE_CPU))
                snprintf(tuning, sizeof tuning, "\n      CPU device: gantry's CLBlast parameters (gemm.c)");
            else {
                tuning[0] = '\n';
                memset(tuning + 1, ' ', 6);
                ocl_clblast_tuning(&list.items[chosen], tuning + 7, sizeof tuning - 7);
            }
        }
        snprintf(buf + used, size - used, "GEMM: %s%s%s", gemm_path_name(g),
                 opt_binary(opts) && !sel.gemm_set ? " (GANTRY_OPENCL_BINARY: every kernel from that binary)" : "",
                 tuning);
    }
    list_free(&list);
}

static size_t floor_pow2(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

/* Tunables per device type, then the -D options that carry them. */
static void choose_tunables(ocl_ctx *c, const ocl_selector *sel, int offline)
{
    const cl_device_type t = c->dev.type;
    c->gpu_shaped = shaped_as(sel, t, OCL_PROFILE_GPU, CL_DEVICE_TYPE_GPU);
    const int gpu = c->gpu_shaped, cpu = !gpu && shaped_as(sel, t, OCL_PROFILE_CPU, CL_DEVICE_TYPE_CPU);
    /* GPUs: 256 work-items hide memory latency; CPUs (PoCL, Intel) run a
     * work-group as one loop that their compilers vectorise across
     * work-items, so smaller groups with an explicit vector width of the
     * SIMD registers (AVX2: 8 floats) do better. */
    size_t wg = sel->wg ? (size_t)sel->wg : gpu ? 256 : 64;
    if (wg > c->dev.max_wg)
        wg = c->dev.max_wg;
    if (wg > c->dev.max_item[0])
        wg = c->dev.max_item[0];
    if (c->dev.max_global && wg > c->dev.max_global)
        wg = c->dev.max_global;
    /* Local memory of the per-channel reductions: 2 floats per work-item. */
    if (c->dev.local_mem && wg * 2 * sizeof(float) > c->dev.local_mem / 2)
        wg = c->dev.local_mem / 4 / sizeof(float);
    c->wg = floor_pow2(wg ? wg : 1);
    c->vw = sel->vw ? (size_t)sel->vw : cpu ? 8 : 4;
    /* Per-channel kernels: channels along dimension 0 (coalesced rows of an
     * [outer, channels] tensor), WG / BN_LX rows of a channel in parallel
     * along dimension 1, reduced in local memory (PoCL: 16 x 4 measured
     * fastest of 8 x 8, 16 x 4, 32 x 2 and 64 x 1).  On CPUs batch norm of
     * [outer, channels] with whole vectors of channels takes the *_rows
     * kernels instead (a vector of VW channels per work-item: 3-7x faster
     * on PoCL); a GPU needs the parallelism over rows. */
    c->bn_lx = gpu ? 32 : 16;
    c->bn_rows = !gpu;
    if (c->bn_lx > c->wg)
        c->bn_lx = c->wg;
    while (c->bn_lx > 1 && c->bn_lx > c->dev.max_item[0])
        c->bn_lx /= 2;
    while (c->bn_lx < c->wg && c->wg / c->bn_lx > c->dev.max_item[1])
        c->bn_lx *= 2;
    c->max_groups = (size_t)c->dev.compute_units * (gpu ? 16 : 4);
    c->gemm_lx = c->wg < 8 ? c->wg : 8;
    c->gemm = resolve_gemm(sel, t, offline);
    c->nt_transpose = sel->nt == 2; /* measured: the dot-product kernel wins on PoCL */

    /* -cl-std=CL1.2 where the device's OpenCL C is 1.2 or later. */
    int c12 = strncmp(c->dev.c_version, "OpenCL C 1.0", 12) != 0 && strncmp(c->dev.c_version, "OpenCL C 1.1", 12) != 0;
    snprintf(c->build_options, sizeof c->build_options, "%s-DWG=%zu -DVW=%zu -DBN_LX=%zu%s", c12 ? "-cl-std=CL1.2 " : "",
             c->wg, c->vw, c->bn_lx, c->dev.correct_div_sqrt ? " -cl-fp32-correctly-rounded-divide-sqrt" : "");
}

static void ocl_destroy(void *ctx);

/* Records each kernel's CL_KERNEL_WORK_GROUP_SIZE (capped by the device's,
 * which maxwg= may have lowered) for ocl_launch, and returns the smallest
 * of the kernels launched with WG work-items (all but the GEMM kernels,
 * which use gemm_lx); half of WG where a kernel needs more local memory
 * than the device has.  `worst` names the kernel that decided. */
static size_t kernels_max_wg(ocl_ctx *c, const char **worst)
{
    size_t fits = c->wg;
    *worst = NULL;
    for (int k = 0; k < OCL_K_COUNT; k++) {
        size_t m = 0;
        cl_ulong local = 0;
        c->kernel_wg[k] = 0;
        if (!c->kernels[k])
            continue;
        if (clGetKernelWorkGroupInfo(c->kernels[k], c->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof m, &m, NULL) !=
                CL_SUCCESS ||
            m == 0)
            m = c->dev.max_wg;
        if (m > c->dev.max_wg)
            m = c->dev.max_wg;
        c->kernel_wg[k] = m;
        if (clGetKernelWorkGroupInfo(c->kernels[k], c->dev.device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local,
                                     NULL) == CL_SUCCESS &&
            c->dev.local_mem && local > c->dev.local_mem && m >= c->wg)
            m = c->wg / 2;
        if (k < OCL_K_gemm_nn && m < fits) {
            fits = m;
            *worst = ocl_kernel_names[k];
        }
    }
    return fits;
}

/* The reductions stride over at most max_groups groups in one launch,
 * which must stay within the device's limits (they are never sliced). */
static void settle_max_groups(ocl_ctx *c)
{
    if (c->max_groups > OCL_MAX_GROUPS_PER_DIM)
        c->max_groups = OCL_MAX_GROUPS_PER_DIM;
    if (c->dev.max_global && c->max_groups > c->dev.max_global / c->wg)
        c->max_groups = c->dev.max_global / c->wg;
    if (c->max_groups < 1)
        c->max_groups = 1;
}

/* Parses the settings and finds the device they select into *dev; an error
 * names the devices there are. */
static gantry_status find_device(const gantry_backend_options *opts, ocl_selector *sel, ocl_device_info *dev)
{
    const gantry_host *host = opts ? opts->host : NULL;
    char err[512];
    if (parse_settings(opts, sel, err, sizeof err) != 0)
        return ocl_error(host, GANTRY_INVALID_ARGUMENT, OCL_NAME ": %s", err);

    ocl_device_list list;
    list_devices(&list);
    if (list.count == 0) {
        char why[256];
        no_platform_reason(&list, why, sizeof why);
        list_free(&list);
        return ocl_error(host, GANTRY_NOT_FOUND, OCL_NAME ": %s", why);
    }
    long chosen = select_device(&list, sel->match);
    if (chosen < 0) {
        char devices[1536];
        size_t used = 0;
        devices[0] = '\0';
        for (size_t i = 0; i < list.count && used < sizeof devices; i++)
            used += (size_t)snprintf(devices + used, sizeof devices - used, "%s%u:%u %s '%s' (%s)", i ? ", " : "",
                                     list.items[i].platform_index, list.items[i].device_index,
                                     type_name(list.items[i].type), list.items[i].name, list.items[i].platform_name);
        gantry_status s = ocl_error(host, GANTRY_NOT_FOUND,
                                    OCL_NAME ": no OpenCL device matches '%s'; devices: %s", sel->match, devices);
        list_free(&list);
        return s;
    }
    *dev = list.items[chosen];
    list_free(&list);
    return GANTRY_OK;
}

/* Limits tighter than the device's (maxwg=, maxdim=), as if it had them. */
static void impose_limits(ocl_device_info *dev, const ocl_selector *sel)
{
    if (sel->max_wg) {
        if (dev->max_wg > sel->max_wg)
            dev->max_wg = sel->max_wg;
        for (int i = 0; i < 3; i++)
            if (dev->max_item[i] > sel->max_wg)
                dev->max_item[i] = sel->max_wg;
    }
    dev->max_global = sel->max_dim;
}

static gantry_status ocl_create(const gantry_backend_options *opts_in, void **out)
{
    const gantry_backend_options *opts = usable_opts(opts_in);
    const gantry_host *host = opts ? opts->host : NULL;
    *out = NULL;
    ocl_selector sel;
    ocl_device_info dev;
    GANTRY_TRY(find_device(opts, &sel, &dev));

    ocl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ocl_error(host, GANTRY_OUT_OF_MEMORY, OCL_NAME ": create: out of host memory");
    c->host = host;
    c->dev = dev;

    cl_int e;
    c->context = context_for(&c->dev, &e);
    if (!c->context) {
        gantry_status s = ocl_fail(c, e, "create", "clCreateContext");
        ocl_destroy(c);
        return s;
    }
    c->queue = clCreateCommandQueue(c->context, c->dev.device, 0, &e);
    if (!c->queue) {
        gantry_status s = ocl_fail(c, e, "create", "clCreateCommandQueue");
        ocl_destroy(c);
        return s;
    }
    impose_limits(&c->dev, &sel);
    int offline = opt_binary(opts) != NULL;
    choose_tunables(c, &sel, offline);
    gantry_status s = ocl_program_init(c, opts);
    /* A kernel the compiler could only fit in smaller work-groups (registers,
     * local memory) would fail at its first launch: build again with half
     * the work-group size (not with an offline binary, which is fixed). */
    while (s == GANTRY_OK) {
        const char *worst = NULL;
        size_t fits = kernels_max_wg(c, &worst);
        if (fits >= c->wg)
            break;
        if (offline || c->wg == 1) {
            s = ocl_error(host, GANTRY_DEVICE,
                          OCL_NAME ": kernel '%s' runs at most %zu work-items in a group on '%s', fewer than the %zu "
                          "%s",
                          worst ? worst : "?", fits, c->dev.name, c->wg,
                          offline ? "the offline binary was compiled for (GANTRY_OPENCL_BINARY; compile it with a "
                                    "smaller WG)"
                                  : "it needs");
            break;
        }
        ocl_log(host, GANTRY_LOG_DEBUG, OCL_NAME ": kernel '%s' fits only %zu work-items on '%s'; WG %zu -> %zu",
                worst ? worst : "?", fits, c->dev.name, c->wg, c->wg / 2);
        ocl_program_release(c);
        sel.wg = (int)(c->wg / 2);
        choose_tunables(c, &sel, offline);
        s = ocl_program_init(c, opts);
    }
    if (s == GANTRY_OK)
        settle_max_groups(c);
    if (s) {
        ocl_destroy(c);
        return s;
    }
    c->partials_count = 1024;
    c->partials = clCreateBuffer(c->context, CL_MEM_READ_WRITE, c->partials_count * 2 * sizeof(float), NULL, &e);
    if (!c->partials) {
        s = ocl_fail(c, e, "create", "clCreateBuffer (reduction partials)");
        ocl_destroy(c);
        return s;
    }
    ocl_log(host, GANTRY_LOG_DEBUG,
            OCL_NAME ": using %u:%u %s '%s' (%s), %u compute units; WG %zu, VW %zu; GEMM: %s; builds %u, cache hits %u",
            c->dev.platform_index, c->dev.device_index, type_name(c->dev.type), c->dev.name, c->dev.platform_name,
            c->dev.compute_units, c->wg, c->vw, gemm_path_name(c->gemm), c->builds, c->cache_hits);
    *out = c;
    return GANTRY_OK;
}

static void ocl_destroy(void *ctx)
{
    ocl_ctx *c = ctx;
    if (!c)
        return;
    if (c->queue)
        clFinish(c->queue);
    ocl_program_release(c);
    if (c->partials)
        clReleaseMemObject(c->partials);
    if (c->scratch)
        clReleaseMemObject(c->scratch);
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->context)
        clReleaseContext(c->context);
    free(c);
}

/* ---- the table ------------------------------------------------------------ */

static const gantry_backend_ops ocl_ops = {
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
    .struct_size = sizeof(gantry_backend_ops),
    .name = OCL_NAME,
    .description = "OpenCL 1.2 devices (GPUs, accelerators, CPUs); CLBlast or own GEMM, own kernels for the rest",
    .probe = ocl_probe,
    .describe = ocl_describe,
    .create = ocl_create,
    .destroy = ocl_destroy,
#define OCL_TABLE_ENTRY(name, family) .name = ocl_##name,
    GANTRY_BACKEND_OPS(OCL_TABLE_ENTRY)
#undef OCL_TABLE_ENTRY
};

/* The entry point, the one symbol the core looks up (tools look up
 * gantry_opencl_program_source below). */
__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void);

__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void)
{
    return &ocl_ops;
}

/* ---- the program source, for offline compilers (gantry_opencl.h) ------------ */

__attribute__((visibility("default"))) gantry_status gantry_opencl_program_source(const gantry_backend_options *opts_in,
                                                                                  gantry_opencl_program *out)
{
    const gantry_backend_options *opts = usable_opts(opts_in);
    memset(out, 0, sizeof *out);
    /* A context as create() fills it before building, without OpenCL objects. */
    ocl_ctx c;
    memset(&c, 0, sizeof c);
    c.host = opts ? opts->host : NULL;
    ocl_selector sel;
    GANTRY_TRY(find_device(opts, &sel, &c.dev));
    impose_limits(&c.dev, &sel);
    choose_tunables(&c, &sel, opt_binary(opts) != NULL);
    GANTRY_TRY(ocl_program_text(&c, opts, &out->source, &out->source_size));
    snprintf(out->build_options, sizeof out->build_options, "%s", c.build_options);
    snprintf(out->device, sizeof out->device, "%u:%u %s '%s' (%s)", c.dev.platform_index, c.dev.device_index,
             type_name(c.dev.type), c.dev.name, c.dev.platform_name);
    return GANTRY_OK;
}
