/* Internal to the gantry CLI: subcommands and shared helpers. */
#ifndef GANTRY_CLI_H
#define GANTRY_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "gantry/status.h"
#include "gantry/tensor.h"

/* Exit codes: 0 success, 1 a runtime error, 2 a usage error (bad option,
 * unknown backend or model name), 130 interrupted. */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

int cmd_backends(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Prints "gantry: <message>" for the last error and returns the exit code
 * that fits the status. */
int cli_fail(gantry_status s);
/* Prints "gantry <cmd>: <fmt...>" plus a hint to --help; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The usage error for getopt_long's '?' (an unknown option or a missing
 * value); returns CLI_USAGE. */
int cli_getopt_error(const char *cmd, char **argv);

/* Strict number parsing for options: the whole string, in range. */
int cli_parse_u64(const char *cmd, const char *option, const char *text, uint64_t min, uint64_t max,
                  uint64_t *out);
int cli_parse_float(const char *cmd, const char *option, const char *text, float min, float max, float *out);

/* Opens the backend named by --backend (NULL: GANTRY_BACKEND, else auto). */
gantry_status cli_open_backend(const char *name, gantry_backend **out);

/* mkdir -p: `dir` and its missing parents; an error when it is not a
 * directory in the end. */
gantry_status cli_make_dirs(const char *dir);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
