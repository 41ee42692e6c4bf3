/* `gantry check`: the backend-comparison suite.  Every op of the vtable on
 * the reference and on each backend under test over a grid of shapes,
 * finite-difference gradients on the backend and 20 steps of GAN training
 * from one seed on both, as the rows of tools/check/ say; one report row
 * per check and backend.  docs/check.md describes it. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/check/rows.h"
#include "tools/check/trajectory.h"
#include "tools/cli.h"

#define MAX_SELECTED 32

static void help(void)
{
    printf("usage: gantry check [--backend NAME ...] [--op NAME ...] [--quick]\n"
           "       gantry check --limits\n\n"
           "Compares every backend operation with the reference backend over a grid of shapes\n"
           "(1, primes, odd sizes, batch 1 and 512) by normalised mean squared error\n"
           "NMSE = sum((a-b)^2) / sum(b^2) against the reference b, with a limit per op: 0 where\n"
           "a single rounding is involved, looser only where summation order differs\n"
           "(docs/check.md).  Also checks NaN/Inf positions, sentinels around every tensor\n"
           "(overruns), unchanged inputs, finite-difference gradients of every layer on the\n"
           "backend, and 20 GAN training steps from one seed: identical initial weights, losses\n"
           "within a tolerance that grows with the step.\n\n"
           "options:\n"
           "  --backend NAME   backend to compare with the reference (repeatable; default: every\n"
           "                   usable backend except reference).  --backend reference compares\n"
           "                   the reference with itself: every error must be exactly 0.\n"
           "  --op NAME        only this op (repeatable); 'gradcheck' and 'trajectory' name the\n"
           "                   gradient and training checks\n"
           "  --quick          a smaller grid and %d training steps (for tests)\n"
           "  --limits         print the table of rows, limits and their reasons (markdown, as in\n"
           "                   docs/check.md) and exit\n\n"
           "Prints one row per op and backend (worst error, limit, cases, PASS/FAIL) and a\n"
           "summary line.  Exit status: 0 all passed, 1 a failure, 2 a usage error.\n",
           CHECK_TRAJ_STEPS_QUICK);
}

typedef struct check_options {
    const char *backends[MAX_SELECTED];
    size_t nbackends;
    int want[CHECK_OP_COUNT]; /* the ops --op named */
    size_t nops;
    int quick;
} check_options;

static int parse(int argc, char **argv, check_options *o)
{
    enum { O_BACKEND = 256, O_OP, O_QUICK, O_LIMITS };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },          { "backend", required_argument, NULL, O_BACKEND },
        { "op", required_argument, NULL, O_OP },      { "quick", no_argument, NULL, O_QUICK },
        { "limits", no_argument, NULL, O_LIMITS },   { 0, 0, 0, 0 },
    };
    check_op op;
    static const char cmd[] = "check";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return 1;
        case O_LIMITS: check_print_limits(stdout); return 1;
        case O_QUICK: o->quick = 1; break;
        case O_BACKEND:
            if (o->nbackends == MAX_SELECTED)
                return -cli_usage_error(cmd, "at most %d --backend options", MAX_SELECTED);
            o->backends[o->nbackends++] = optarg;
            break;
        case O_OP:
            if (!check_op_lookup(optarg, &op)) {
                fprintf(stderr, "gantry check: unknown op '%s'; valid: ", optarg);
                check_op_list(stderr);
                fprintf(stderr, " (see gantry check --help)\n");
                return -CLI_USAGE;
            }
            o->want[op] = 1;
            o->nops++;
            break;
        case '?': return -cli_getopt_error(cmd, argv);
        default: return -cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc)
        return -cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* "reference, cpu": the usable backends. */
static void usable_list(const gantry_backend_info *infos, size_t count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++)
        if (infos[i].usable)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", infos[i].name);
    if (!used)
        snprintf(buf, size, "none");
}

/* The first module of a name is the one the loader opens. */
static const gantry_backend_info *find_info(const gantry_backend_info *infos, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (!strcmp(infos[i].name, name))
            return &infos[i];
    return NULL;
}

int cmd_check(int argc, char **argv)
{
    check_options o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc > 0 ? CLI_OK : -rc;

    gantry_backend_info *infos = NULL;
    size_t count = 0;
    gantry_status st = gantry_backend_scan(&infos, &count);
    if (st)
        return cli_fail(st);
    char available[512];
    usable_list(infos, count, available, sizeof available);

    /* Which backends: --backend names, each known and usable, or every
     * usable one except the reference. */
    const char *names[MAX_SELECTED];
    size_t nnames = 0;
    for (size_t i = 0; i < o.nbackends; i++) {
        const gantry_backend_info *info = find_info(infos, count, o.backends[i]);
        if (!info) {
            fprintf(stderr, "gantry check: unknown backend '%s'; available: %s (see gantry check --help)\n",
                    o.backends[i], available);
            free(infos);
            return CLI_USAGE;
        }
        if (!info->usable) {
            fprintf(stderr, "gantry check: backend '%s' (%s) cannot be used: %s\n", info->name, info->path,
                    info->reason);
            free(infos);
            return CLI_ERROR;
        }
        int dup = 0;
        for (size_t j = 0; j < nnames; j++)
            dup |= !strcmp(names[j], info->name);
        if (!dup)
            names[nnames++] = info->name;
    }
    if (o.nbackends == 0)
        for (size_t i = 0; i < count && nnames < MAX_SELECTED; i++)
            if (infos[i].usable && strcmp(infos[i].name, "reference") != 0 && !find_info(infos, i, infos[i].name))
                names[nnames++] = infos[i].name;
    const gantry_backend_info *ref_info = find_info(infos, count, "reference");
    if (!ref_info || !ref_info->usable) {
        fprintf(stderr, "gantry check: the reference backend is not usable (%s); searched %s\n",
                ref_info ? ref_info->reason : "not found", gantry_backend_search_path());
        free(infos);
        return CLI_ERROR;
    }
    if (nnames == 0) {
        fprintf(stderr, "gantry check: no backend to compare with the reference (usable: %s); "
                        "--backend reference compares the reference with itself\n",
                available);
        free(infos);
        return CLI_ERROR;
    }

    gantry_backend *ref = NULL;
    if ((st = gantry_backend_open("reference", NULL, &ref))) {
        free(infos);
        return cli_fail(st);
    }
    int tty = isatty(STDERR_FILENO);
    double start = cli_now();
    size_t passed = 0, failed = 0;
    check_traj_cache traj_cache;
    memset(&traj_cache, 0, sizeof traj_cache);
    printf("gantry check: %s grid, limits per op in docs/check.md (gantry check --limits); errors are NMSE "
           "against the reference unless the metric says otherwise\n\n",
           o.quick ? "quick" : "full");
    printf("%-32s %-10s %-9s %-9s %-7s %6s  %-6s %s\n", "op", "backend", "worst", "limit", "metric", "cases",
           "result", "case (the worst; the first failed)");
    fflush(stdout);
    for (size_t b = 0; b < nnames; b++) {
        gantry_backend *test = NULL;
        if ((st = gantry_backend_open(names[b], NULL, &test))) {
            fprintf(stderr, "gantry check: cannot open backend '%s': %s\n", names[b], gantry_last_error());
            printf("%-32s %-10s %-9s %-9s %-7s %6d  FAIL   cannot open: %s\n", "(backend)", names[b], "-", "-", "-", 0,
                   gantry_last_error());
            failed++;
            continue;
        }
        check_suite s;
        memset(&s, 0, sizeof s);
        s.ref = ref;
        s.test = test;
        s.backend_name = names[b];
        s.self = !strcmp(names[b], "reference");
        s.quick = o.quick;
        s.tty = tty;
        s.traj_cache = &traj_cache;
        check_run(&s, o.nops ? o.want : NULL);
        passed += s.passed;
        failed += s.failed;
        gantry_backend_close(test);
    }
    gantry_backend_close(ref);
    free(infos);
    printf("\nchecked in %.1f s\ngantry check: %zu passed, %zu failed\n", cli_now() - start, passed, failed);
    return failed ? CLI_ERROR : CLI_OK;
}
