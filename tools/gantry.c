/* The gantry command-line tool: subcommand dispatch and shared helpers. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "tools/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "backends", cmd_backends, "list backend modules, their devices and which one auto picks" },
    { "train", cmd_train, "train a GAN and write samples, a log and a checkpoint" },
    { "sample", cmd_sample, "generate images from a checkpoint (PNG grid or .npy)" },
    { "bench", cmd_bench, "time training steps (or single ops with --ops) on a backend" },
    { "eval", cmd_eval, "measure a generator's samples: Frechet distance, coverage, precision, recall" },
    { "check", cmd_check, "compare every op, gradients and GAN training of a backend with the reference" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: gantry <command> [options]\n\n"
                 "Trains generative adversarial networks on any device through loadable backends.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`gantry <command> --help` describes each command's options.\n"
                 "Environment: GANTRY_BACKEND, GANTRY_PLUGIN_PATH, GANTRY_NUM_THREADS, GANTRY_DATA_DIR,\n"
                 "GANTRY_CACHE_DIR, GANTRY_VERBOSE (see README.md).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("gantry %s\n", GANTRY_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gantry: unknown command '%s' (see gantry --help)\n", cmd);
    return CLI_USAGE;
}

int cli_fail(gantry_status s)
{
    const char *msg = gantry_last_error();
    fprintf(stderr, "gantry: %s\n", msg[0] ? msg : gantry_strerror(s));
    return (s == GANTRY_NOT_FOUND && strstr(msg, "unknown ")) ? CLI_USAGE : CLI_ERROR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gantry %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see gantry %s --help)\n", cmd);
    return CLI_USAGE;
}

int cli_getopt_error(const char *cmd, char **argv)
{
    if (optopt)
        return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int cli_parse_u64(const char *cmd, const char *option, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        cli_usage_error(cmd, "%s '%s' is not a whole number from %llu to %llu", option, text,
                        (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *option, const char *text, float min, float max, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max) {
        cli_usage_error(cmd, "%s '%s' is not a number from %g to %g", option, text, (double)min, (double)max);
        return -1;
    }
    *out = v;
    return 0;
}

gantry_status cli_open_backend(const char *name, gantry_backend **out)
{
    return gantry_backend_open(name, NULL, out);
}

gantry_status cli_make_dirs(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "directory name too long: %.80s...", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return gantry_set_error(GANTRY_IO, "cannot create directory %s: %s", buf, strerror(errno));
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return gantry_set_error(GANTRY_IO, "%s is not a directory", dir);
    return GANTRY_OK;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
