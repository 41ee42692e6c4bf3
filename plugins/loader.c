/* The plugin loader: finds gantry-backend-*.so modules on the search path,
 * opens them with dlopen, checks their ABI, probes them and creates the
 * chosen one.  A module that cannot be used is skipped with the reason kept;
 * it never takes the process down. */
#define _GNU_SOURCE /* dladdr */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "core/tensor_impl.h"

#define MODULE_PREFIX "gantry-backend-"
#define MODULE_SUFFIX ".so"

static int log_verbosity(void)
{
    const char *v = getenv("GANTRY_VERBOSE");
    return (v && *v) ? atoi(v) : 0;
}

void gantry__log(gantry_log_level level, const char *fmt, ...)
{
    int verbosity = log_verbosity();
    if ((level == GANTRY_LOG_INFO && verbosity < 1) || (level == GANTRY_LOG_DEBUG && verbosity < 2))
        return;
    static const char *const prefixes[] = { "debug", "info", "warning" };
    if ((int)level < GANTRY_LOG_DEBUG || level > GANTRY_LOG_WARN)
        level = GANTRY_LOG_WARN; /* a backend passed a level we do not know */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "gantry: %s: %s\n", prefixes[level], line);
}

const gantry_host gantry__host = {
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
    .struct_size = sizeof(gantry_host),
    .set_error = gantry_set_error,
    .log = gantry__log,
};

/* ---- search path ------------------------------------------------------- */

static int running_from_build_tree(void)
{
    Dl_info info;
    if (!dladdr((void *)&gantry_backend_open, &info) || !info.dli_fname)
        return 0;
    char real[PATH_MAX], root[PATH_MAX];
    if (!realpath(info.dli_fname, real) || !realpath(GANTRY_BUILD_ROOT, root))
        return 0;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && real[n] == '/';
}

const char *gantry_backend_search_path(void)
{
    static _Thread_local char path[4096];
    const char *env = getenv("GANTRY_PLUGIN_PATH");
    snprintf(path, sizeof path, "%s%s%s%s", (env && *env) ? env : "", (env && *env) ? ":" : "",
             running_from_build_tree() ? GANTRY_BUILD_BACKEND_DIR ":" : "", GANTRY_INSTALL_BACKEND_DIR);
    return path;
}

/* ---- module candidates ------------------------------------------------- */

typedef struct candidate {
    char path[1024];
    char real[PATH_MAX];
    char name[64];
} candidate;

typedef struct candidate_list {
    candidate *items;
    size_t count, cap;
} candidate_list;

static int module_name_from_file(const char *file, char *name, size_t size)
{
    size_t len = strlen(file), plen = strlen(MODULE_PREFIX), slen = strlen(MODULE_SUFFIX);
    if (len <= plen + slen || strncmp(file, MODULE_PREFIX, plen) != 0 ||
        strcmp(file + len - slen, MODULE_SUFFIX) != 0)
        return 0;
    size_t n = len - plen - slen;
    if (n >= size)
        return 0;
    memcpy(name, file + plen, n);
    name[n] = '\0';
    return 1;
}

static gantry_status add_candidate(candidate_list *list, const char *dir, const char *file, const char *name)
{
    candidate c;
    memset(&c, 0, sizeof c);
    snprintf(c.path, sizeof c.path, "%s/%s", dir, file);
    if (!realpath(c.path, c.real))
        return GANTRY_OK; /* vanished or dangling: nothing to load */
    snprintf(c.name, sizeof c.name, "%s", name);
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].real, c.real) == 0)
            return GANTRY_OK; /* the same file reached twice */
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        candidate *items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "backend scan: out of host memory");
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = c;
    return GANTRY_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Modules in `dir` and, one level down, in its subdirectories (the build
 * tree keeps each backend in backends/NAME/), in name order. */
static gantry_status scan_dir(candidate_list *list, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return GANTRY_OK;
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *grown);
            if (!grown)
                break;
            names = grown;
        }
        names[count] = strdup(e->d_name);
        if (names[count])
            count++;
    }
    closedir(d);
    if (!names)
        return GANTRY_OK;
    qsort(names, count, sizeof *names, compare_names);
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < count; i++) {
        char name[64], sub[1024];
        if (!s && module_name_from_file(names[i], name, sizeof name)) {
            s = add_candidate(list, dir, names[i], name);
        } else if (!s && depth == 0) {
            struct stat st;
            snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                s = scan_dir(list, sub, 1);
        }
        free(names[i]);
    }
    free(names);
    return s;
}

static gantry_status find_candidates(candidate_list *list)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", gantry_backend_search_path());
    char *save = NULL;
    for (char *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        gantry_status s = scan_dir(list, dir, 0);
        if (s)
            return s;
    }
    return GANTRY_OK;
}

/* ---- opening and checking one module ----------------------------------- */

/* getenv("GANTRY_<NAME>_<suffix>"), e.g. GANTRY_OPENCL_DEVICE. */
static const char *backend_env(const char *name, const char *suffix)
{
    char var[128];
    size_t n = (size_t)snprintf(var, sizeof var, "GANTRY_");
    for (const char *p = name; *p && n + 1 < sizeof var; p++)
        var[n++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    snprintf(var + n, sizeof var - n, "_%s", suffix);
    const char *v = getenv(var);
    return (v && *v) ? v : NULL;
}

static void options_for(const char *name, const gantry_backend_config *config, gantry_backend_options *opts,
                        char *device_env, size_t device_env_size, char *cache, size_t cache_size)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->host = &gantry__host;

    const char *threads = getenv("GANTRY_NUM_THREADS");
    opts->num_threads = (config && config->num_threads > 0) ? config->num_threads
                        : (threads && *threads)             ? atoi(threads)
                                                            : 0;
    if (opts->num_threads < 0)
        opts->num_threads = 0;

    const char *dev = backend_env(name, "DEVICE");
    snprintf(device_env, device_env_size, "%s", dev ? dev : "");
    opts->device = (config && config->device) ? config->device : (device_env[0] ? device_env : NULL);

    const char *c = getenv("GANTRY_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (config && config->cache_dir)
        snprintf(cache, cache_size, "%s", config->cache_dir);
    else if (c && *c)
        snprintf(cache, cache_size, "%s", c);
    else if (xdg && *xdg)
        snprintf(cache, cache_size, "%s/gantry", xdg);
    else if (home && *home)
        snprintf(cache, cache_size, "%s/.cache/gantry", home);
    else
        cache[0] = '\0';
    opts->cache_dir = cache[0] ? cache : NULL;

    const char *kernel_dir = getenv("GANTRY_CL_DIR");
    opts->kernel_dir = (kernel_dir && *kernel_dir) ? kernel_dir : NULL;
    opts->kernel_binary = backend_env(name, "BINARY");
    opts->gemm = backend_env(name, "GEMM");
}

/* The first required method the table leaves NULL, or NULL when complete;
 * only describe() and destroy() are optional. */
static const char *missing_method(const gantry_backend_ops *ops)
{
    if (!ops->probe)
        return "probe";
    if (!ops->create)
        return "create";
#define REQUIRE_METHOD(name, family)                                                                    \
    if (!ops->name)                                                                                     \
        return #name;
    GANTRY_BACKEND_OPS(REQUIRE_METHOD)
#undef REQUIRE_METHOD
    return NULL;
}

/* Opens `c`, checks the entry point and ABI, probes; fills `info`.  On
 * success returns the dlopen handle and the ops (the caller closes). */
static void *inspect(const candidate *c, const gantry_backend_config *config, gantry_backend_info *info,
                     const gantry_backend_ops **ops_out)
{
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", c->name);
    snprintf(info->path, sizeof info->path, "%s", c->path);
    *ops_out = NULL;

    dlerror();
    void *handle = dlopen(c->real, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *e = dlerror();
        snprintf(info->reason, sizeof info->reason, "cannot be opened: %s", e ? e : "unknown dlopen error");
        return NULL;
    }
    gantry_backend_entry_fn entry;
    void *sym = dlsym(handle, GANTRY_BACKEND_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX allows */
    if (!sym) {
        snprintf(info->reason, sizeof info->reason, "exports no %s symbol", GANTRY_BACKEND_ENTRY_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    const gantry_backend_ops *ops = entry();
    if (!ops) {
        snprintf(info->reason, sizeof info->reason, "%s returned NULL", GANTRY_BACKEND_ENTRY_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    info->abi_version = ops->abi_version;
    if (ops->abi_version != GANTRY_BACKEND_ABI_VERSION) {
        snprintf(info->reason, sizeof info->reason, "ABI version %u, but this gantry needs version %u",
                 ops->abi_version, GANTRY_BACKEND_ABI_VERSION);
        dlclose(handle);
        return NULL;
    }
    if (ops->struct_size < sizeof(gantry_backend_ops)) {
        snprintf(info->reason, sizeof info->reason,
                 "ops table of %u bytes is smaller than the %zu bytes of ABI version %u", ops->struct_size,
                 sizeof(gantry_backend_ops), GANTRY_BACKEND_ABI_VERSION);
        dlclose(handle);
        return NULL;
    }
    if (!ops->name || strcmp(ops->name, c->name) != 0) {
        snprintf(info->reason, sizeof info->reason, "ops table names itself '%s', not '%s'",
                 ops->name ? ops->name : "(null)", c->name);
        dlclose(handle);
        return NULL;
    }
    const char *missing = missing_method(ops);
    if (missing) {
        snprintf(info->reason, sizeof info->reason, "ops table is incomplete: no %s method", missing);
        dlclose(handle);
        return NULL;
    }
    snprintf(info->description, sizeof info->description, "%s", ops->description ? ops->description : "");

    gantry_backend_options opts;
    char device_env[256], cache[1024], why[256] = "";
    options_for(c->name, config, &opts, device_env, sizeof device_env, cache, sizeof cache);
    info->score = ops->probe(&opts, why, sizeof why);
    if (ops->describe)
        ops->describe(&opts, info->devices, sizeof info->devices);
    if (info->score <= 0) {
        info->score = 0;
        snprintf(info->reason, sizeof info->reason, "cannot run here: %s", why[0] ? why : "probe returned 0");
        dlclose(handle);
        return NULL;
    }
    info->usable = 1;
    *ops_out = ops;
    return handle;
}

/* Inspects every module on the search path and marks the auto choice.
 * Handles are closed again; open() reopens the one it picks. */
static gantry_status scan_all(const gantry_backend_config *config, gantry_backend_info **infos_out,
                              size_t *count_out)
{
    *infos_out = NULL;
    *count_out = 0;
    candidate_list list = { 0 };
    gantry_status s = find_candidates(&list);
    if (s) {
        free(list.items);
        return s;
    }
    gantry_backend_info *infos = calloc(list.count ? list.count : 1, sizeof *infos);
    if (!infos) {
        free(list.items);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "backend scan: out of host memory");
    }
    int best = -1;
    for (size_t i = 0; i < list.count; i++) {
        /* An earlier directory on the search path shadows a later one. */
        int shadowed = 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(list.items[j].name, list.items[i].name) == 0)
                shadowed = 1;
        if (shadowed) {
            memset(&infos[i], 0, sizeof infos[i]);
            snprintf(infos[i].name, sizeof infos[i].name, "%s", list.items[i].name);
            snprintf(infos[i].path, sizeof infos[i].path, "%s", list.items[i].path);
            snprintf(infos[i].reason, sizeof infos[i].reason, "shadowed by an earlier module of the same name");
            continue;
        }
        const gantry_backend_ops *ops;
        void *handle = inspect(&list.items[i], config, &infos[i], &ops);
        if (handle)
            dlclose(handle);
        if (infos[i].usable && (best < 0 || infos[i].score > infos[best].score))
            best = (int)i;
    }
    if (best >= 0)
        infos[best].is_auto_choice = 1;
    free(list.items);
    *infos_out = infos;
    *count_out = list.count;
    return GANTRY_OK;
}

gantry_status gantry_backend_scan(gantry_backend_info **infos, size_t *count)
{
    if (!infos || !count)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "backend scan: NULL output");
    return scan_all(NULL, infos, count);
}

/* "reference, cpu" into buf. */
static void usable_names(const gantry_backend_info *infos, size_t count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++)
        if (infos[i].usable)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", infos[i].name);
    if (!used)
        snprintf(buf, size, "none");
}

gantry_status gantry_backend_open(const char *name, const gantry_backend_config *config, gantry_backend **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "backend_open: out is NULL");
    *out = NULL;
    const char *env = getenv("GANTRY_BACKEND");
    if (!name || !*name)
        name = (env && *env) ? env : "auto";
    int automatic = strcmp(name, "auto") == 0;

    gantry_backend_info *infos;
    size_t count;
    gantry_status s = scan_all(config, &infos, &count);
    if (s)
        return s;

    char available[512];
    usable_names(infos, count, available, sizeof available);
    long chosen = -1;
    for (size_t i = 0; i < count; i++) {
        /* The first module of a name is the one the search path prefers. */
        if (automatic ? infos[i].is_auto_choice : strcmp(infos[i].name, name) == 0) {
            chosen = (long)i;
            break;
        }
    }
    if (chosen < 0) {
        if (automatic)
            s = gantry_set_error(GANTRY_NO_BACKEND, "no usable backend module found (searched %s)",
                                 gantry_backend_search_path());
        else
            s = gantry_set_error(GANTRY_NOT_FOUND, "unknown backend '%s'; available: %s", name, available);
        free(infos);
        return s;
    }
    gantry_backend_info *info = &infos[chosen];
    if (!info->usable) {
        s = gantry_set_error(GANTRY_NO_BACKEND, "backend '%s' (%s) %s; available: %s", info->name, info->path,
                             info->reason, available);
        free(infos);
        return s;
    }
    if (automatic) {
        /* A module that loaded but cannot run here (no OpenCL platform, no
         * device) gets a one-line note; broken modules show in `gantry backends`. */
        for (size_t i = 0; i < count; i++)
            if (!infos[i].usable && infos[i].abi_version == GANTRY_BACKEND_ABI_VERSION &&
                strncmp(infos[i].reason, "cannot run here", 15) == 0)
                gantry__log(GANTRY_LOG_WARN, "auto: backend '%s' %s; using '%s'", infos[i].name, infos[i].reason,
                            info->name);
    }

    gantry_backend *be = calloc(1, sizeof *be);
    if (!be) {
        free(infos);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "backend_open: out of host memory");
    }
    candidate c;
    memset(&c, 0, sizeof c);
    snprintf(c.path, sizeof c.path, "%s", info->path);
    snprintf(c.name, sizeof c.name, "%s", info->name);
    if (!realpath(c.path, c.real))
        snprintf(c.real, sizeof c.real, "%s", c.path);
    gantry_backend_info again;
    const gantry_backend_ops *ops;
    be->module = inspect(&c, config, &again, &ops);
    if (!be->module) {
        s = gantry_set_error(GANTRY_NO_BACKEND, "backend '%s' %s", c.name, again.reason);
        free(be);
        free(infos);
        return s;
    }
    be->ops = ops;
    snprintf(be->name, sizeof be->name, "%s", c.name);
    snprintf(be->path, sizeof be->path, "%s", c.path);
    free(infos);

    gantry_backend_options opts;
    char device_env[256], cache[1024];
    options_for(be->name, config, &opts, device_env, sizeof device_env, cache, sizeof cache);
    gantry_clear_error();
    s = ops->create(&opts, &be->ctx);
    if (s) {
        if (!gantry_last_error()[0])
            gantry_set_error(s, "backend '%s': create failed: %s", be->name, gantry_strerror(s));
        dlclose(be->module);
        free(be);
        return s;
    }
    *out = be;
    return GANTRY_OK;
}

void gantry_backend_close(gantry_backend *be)
{
    if (!be)
        return;
    if (be->ops->destroy)
        be->ops->destroy(be->ctx);
    dlclose(be->module);
    free(be);
}

const char *gantry_backend_name(const gantry_backend *be)
{
    return be ? be->name : "";
}

gantry_status gantry_backend_synchronize(gantry_backend *be)
{
    if (!be)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "synchronize: backend is NULL");
    return be->ops->synchronize(be->ctx);
}
