/* `gantry backends`: what the loader finds and why it skips what it skips;
 * --opencl-source writes the opencl backend's program for offline
 * compilers, through the module's own export (never the core's table). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/opencl/gantry_opencl.h"
#include "gantry/backend.h"
#include "tools/cli.h"

static void help(void)
{
    printf("usage: gantry backends [--opencl-source FILE]\n\n"
           "Lists every backend module found on the search path: loaded or skipped (with the\n"
           "reason), its probe score, ABI version and devices, and which one `auto` picks.\n"
           "Search path: GANTRY_PLUGIN_PATH (colon-separated), then the build tree when run from\n"
           "it, then the install directory.  GANTRY_BACKEND or --backend NAME on other commands\n"
           "choose a backend by name.\n\n"
           "  --opencl-source FILE  write the program the opencl backend builds for the device\n"
           "                        that GANTRY_OPENCL_DEVICE selects (with its settings: wg=,\n"
           "                        vw=, profile=, maxwg= ...), for an offline compiler (Intel's\n"
           "                        aoc, AMD/Xilinx v++): every cl/ kernel file in program order\n"
           "                        as one file, each headed by a #line directive (from\n"
           "                        GANTRY_CL_DIR when set), and print the build options to\n"
           "                        compile it with (-DWG= -DVW= -DBN_LX=, -cl-std ...).  Give\n"
           "                        the compiled binary to GANTRY_OPENCL_BINARY: the backend\n"
           "                        adopts the tunables it was compiled with and runs every\n"
           "                        kernel from it, GEMM included.\n");
}

/* Writes `size` bytes to `path` through a temporary file renamed into
 * place, so that no reader sees half a program; 0, or -1 with errno. */
static int write_atomically(const char *path, const char *data, size_t size)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int err = done < size ? (errno ? errno : EIO) : 0;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

/* The opencl module's path as the scan reports it (a usable one first);
 * 0 when there is none. */
static int opencl_module_path(char *path, size_t size)
{
    gantry_backend_info *infos;
    size_t count;
    if (gantry_backend_scan(&infos, &count) != GANTRY_OK)
        return 0;
    const gantry_backend_info *found = NULL;
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, "opencl") == 0 && (!found || (infos[i].usable && !found->usable)))
            found = &infos[i];
    if (found)
        snprintf(path, size, "%s", found->path);
    free(infos);
    return found != NULL;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int opencl_source(const char *file)
{
    char path[1024];
    if (!opencl_module_path(path, sizeof path)) {
        fprintf(stderr, "gantry backends: no opencl backend module on the search path (%s)\n",
                gantry_backend_search_path());
        return CLI_ERROR;
    }
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        const char *e = dlerror();
        fprintf(stderr, "gantry backends: cannot open %s: %s\n", path, e ? e : "unknown dlopen error");
        return CLI_ERROR;
    }
    gantry_opencl_program_source_fn *program_source;
    void *sym = dlsym(module, GANTRY_OPENCL_PROGRAM_SOURCE_SYMBOL);
    memcpy(&program_source, &sym, sizeof program_source); /* object pointer to function pointer, as POSIX allows */
    if (!sym) {
        fprintf(stderr, "gantry backends: %s exports no %s (an older opencl module?)\n", path,
                GANTRY_OPENCL_PROGRAM_SOURCE_SYMBOL);
        dlclose(module);
        return CLI_ERROR;
    }
    /* What the core passes the backend, from the same environment. */
    const gantry_host host = { GANTRY_BACKEND_ABI_VERSION, sizeof host, gantry_set_error, NULL };
    gantry_backend_options opts;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.host = &host;
    opts.device = env_or_null("GANTRY_OPENCL_DEVICE");
    opts.kernel_dir = env_or_null("GANTRY_CL_DIR");
    opts.gemm = env_or_null("GANTRY_OPENCL_GEMM");
    gantry_opencl_program program;
    gantry_status s = program_source(&opts, &program);
    if (s) {
        dlclose(module);
        return cli_fail(s);
    }
    int rc = CLI_OK;
    if (write_atomically(file, program.source, program.source_size) != 0) {
        fprintf(stderr, "gantry backends: cannot write %s: %s\n", file, strerror(errno));
        rc = CLI_ERROR;
    } else {
        printf("opencl program for %s: %s (%zu bytes)\n", program.device, file, program.source_size);
        printf("build options: %s\n", program.build_options);
    }
    free(program.source);
    dlclose(module);
    return rc;
}

int cmd_backends(int argc, char **argv)
{
    static const struct option options[] = { { "help", no_argument, NULL, 'h' },
                                             { "opencl-source", required_argument, NULL, 's' },
                                             { 0, 0, 0, 0 } };
    const char *source_file = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        if (c == 's') {
            source_file = optarg;
            continue;
        }
        return cli_getopt_error("backends", argv);
    }
    if (optind < argc)
        return cli_usage_error("backends", "unexpected argument '%s'", argv[optind]);
    if (source_file)
        return opencl_source(source_file);

    gantry_backend_info *infos;
    size_t count;
    gantry_status s = gantry_backend_scan(&infos, &count);
    if (s)
        return cli_fail(s);
    printf("search path: %s\n", gantry_backend_search_path());
    printf("core ABI version: %u\n\n", GANTRY_BACKEND_ABI_VERSION);
    const char *chosen = NULL;
    for (size_t i = 0; i < count; i++) {
        const gantry_backend_info *b = &infos[i];
        printf("%-10s %s  score %d  ABI %u%s\n", b->name, b->usable ? "loaded " : "skipped", b->score,
               b->abi_version, b->is_auto_choice ? "  <- auto" : "");
        printf("           %s\n", b->path);
        if (b->description[0])
            printf("           %s\n", b->description);
        if (!b->usable)
            printf("           reason: %s\n", b->reason);
        if (b->devices[0]) {
            /* indent each device line */
            char *save = NULL, buf[sizeof b->devices];
            memcpy(buf, b->devices, sizeof buf);
            for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                printf("           %s\n", line);
        }
        if (b->is_auto_choice)
            chosen = b->name;
    }
    if (count == 0)
        printf("no backend modules found\n");
    printf("\nauto: %s\n", chosen ? chosen : "(none usable)");
    const char *env = getenv("GANTRY_BACKEND");
    if (env && *env)
        printf("GANTRY_BACKEND=%s\n", env);
    free(infos);
    return chosen ? CLI_OK : CLI_ERROR;
}
