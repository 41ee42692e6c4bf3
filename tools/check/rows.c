/* The rows of every family together (tools/check/rows.h): the run order,
 * `--op`, the limits table of docs/check.md and the coverage of the
 * backend methods. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/check/rows.h"
#include "tools/check/trajectory.h"

#define CHECK__OP_NAME(name, family) #name,
#define CHECK__OP_FAMILY(name, family) #family,
static const char *const op_names[CHECK_OP_COUNT] = { GANTRY_BACKEND_OPS(CHECK__OP_NAME) "gradcheck",
                                                      "trajectory" };
static const char *const op_families[CHECK_OP_COUNT] = { GANTRY_BACKEND_OPS(CHECK__OP_FAMILY) "gradcheck",
                                                         "trajectory" };

static const check_family *const families[] = {
    &check_family_memory, &check_family_gemm,      &check_family_elementwise, &check_family_norm,
    &check_family_loss,   &check_family_optim,     &check_family_random,      &check_family_conv,
    &check_family_minibatch, &check_family_gradcheck, &check_family_trajectory,
};

const check_indirect check_indirect_ops[] = {
    { CHECK_OP_buffer_alloc, "every case allocates its guarded tensors" },
    { CHECK_OP_buffer_free, "every case frees its tensors" },
    { CHECK_OP_synchronize, "every case synchronizes before reading its outputs back" },
};
const size_t check_indirect_count = CHECK_ARRAY_LEN(check_indirect_ops);

static int runnable(const check_spec *spec)
{
    return spec->build || spec->run || spec->run_rows;
}

static void run_grid(check_suite *s, check_row *r, const check_spec *spec)
{
    size_t points = spec->points(s), index = 0;
    for (size_t at = 0; at < points; at++)
        for (int variant = 0; variant < spec->variants; variant++, index++) {
            check_point p = { at, variant, index };
            check_case c;
            check_case_init(&c, check_case_seed(spec->name, index), NULL);
            if (spec->build(s, spec, &c, &p))
                check_case_run(s, r, &c);
            else
                check_case_free(&c);
        }
}

static int has_rows(check_op op)
{
    for (size_t f = 0; f < CHECK_ARRAY_LEN(families); f++)
        for (size_t i = 0; i < families[f]->count; i++)
            if (families[f]->rows[i].op == op && runnable(&families[f]->rows[i]))
                return 1;
    return 0;
}

int check_op_lookup(const char *name, check_op *op)
{
    for (int i = 0; i < CHECK_OP_COUNT; i++)
        if (!strcmp(op_names[i], name) && has_rows((check_op)i)) {
            *op = (check_op)i;
            return 1;
        }
    return 0;
}

void check_op_list(FILE *out)
{
    int first = 1;
    for (int i = 0; i < CHECK_OP_COUNT; i++)
        if (has_rows((check_op)i)) {
            fprintf(out, "%s%s", first ? "" : ", ", op_names[i]);
            first = 0;
        }
}

static void run_spec(check_suite *s, const check_spec *spec)
{
    if (spec->run_rows) {
        spec->run_rows(s, spec);
    } else if (spec->build || spec->run) {
        check_row r;
        check_row_begin(s, &r, spec->name, spec->metric, spec->limit);
        if (spec->build)
            run_grid(s, &r, spec);
        else
            spec->run(s, &r, spec);
        check_row_end(s, &r);
    }
}

/* Calls fn for every row of op `op`, family by family, each in its order. */
static void each_row(check_op op, void (*fn)(void *user, const check_spec *spec), void *user)
{
    for (size_t f = 0; f < CHECK_ARRAY_LEN(families); f++)
        for (size_t i = 0; i < families[f]->count; i++)
            if (families[f]->rows[i].op == op)
                fn(user, &families[f]->rows[i]);
}

static void run_one(void *user, const check_spec *spec)
{
    run_spec(user, spec);
}

void check_run(check_suite *s, const int *want)
{
    for (int op = 0; op < CHECK_OP_COUNT; op++)
        if (!want || want[op])
            each_row((check_op)op, run_one, s);
}

/* ---- docs/check.md ------------------------------------------------------------------- */

/* 1e-12, 5.5e-4, 0: two significant digits at most, no padded exponent. */
static void format_limit(double v, char *buf, size_t size)
{
    if (v == 0.0) {
        snprintf(buf, size, "0");
        return;
    }
    char mant[16];
    int exp10 = 0;
    snprintf(mant, sizeof mant, "%.1e", v);
    char *e = strchr(mant, 'e');
    exp10 = atoi(e + 1);
    *e = '\0';
    size_t len = strlen(mant);
    if (len >= 2 && !strcmp(mant + len - 2, ".0"))
        mant[len - 2] = '\0';
    snprintf(buf, size, "%se%d", mant, exp10);
}

/* Text for a markdown table cell: no '|', no '<' that would open a tag
 * ("<A x, c>"); "<=" stays as it is. */
static void print_cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputs("\\|", out);
        else if (*p == '<' && (isalpha((unsigned char)p[1]) || p[1] == '/' || p[1] == '!'))
            fputs("&lt;", out);
        else
            fputc(*p, out);
    }
}

static void print_row(void *user, const check_spec *spec)
{
    FILE *out = user;
    char limit[32];
    format_limit(spec->limit, limit, sizeof limit);
    fprintf(out, "| %s | %s | %s | ", spec->name, op_names[spec->op], spec->metric);
    print_cell(out, spec->limit_text ? spec->limit_text : limit);
    fputs(" | ", out);
    print_cell(out, spec->why);
    fputs(" |\n", out);
}

static const char limits_begin[] = "<!-- limits: written by `gantry check --limits` from the rows in tools/check; "
                                   "the test check_limits_doc compares -->";
static const char limits_end[] = "<!-- end of limits -->";

void check_print_limits(FILE *out)
{
    static const unsigned steps[] = { 1, 2, 5, 10, 15, 20 };
    fprintf(out, "%s\n\n| row | --op | metric | limit | why the limit |\n|---|---|---|---|---|\n", limits_begin);
    for (int op = 0; op < CHECK_OP_COUNT; op++)
        each_row((check_op)op, print_row, out);
    fputs("\nMethods without rows of their own:", out);
    for (size_t i = 0; i < check_indirect_count; i++)
        fprintf(out, "%s %s (%s)", i ? ";" : "", op_names[check_indirect_ops[i].op], check_indirect_ops[i].how);
    fputs(".\n\nThe trajectory's limit by step:\n\n| step |", out);
    for (size_t i = 0; i < CHECK_ARRAY_LEN(steps); i++)
        fprintf(out, " %u |", steps[i]);
    fputs("\n|---|", out);
    for (size_t i = 0; i < CHECK_ARRAY_LEN(steps); i++)
        fputs("---|", out);
    fputs("\n| limit |", out);
    for (size_t i = 0; i < CHECK_ARRAY_LEN(steps); i++) {
        char limit[32];
        format_limit(check_trajectory_limit(steps[i]), limit, sizeof limit);
        fprintf(out, " %s |", limit);
    }
    fprintf(out, "\n\n%s\n", limits_end);
}

/* ---- coverage ------------------------------------------------------------------------ */

static int indirect(check_op op)
{
    for (size_t i = 0; i < check_indirect_count; i++)
        if (check_indirect_ops[i].op == op)
            return 1;
    return 0;
}

/* Row i of family f: in the file of its op's family, a known metric, a
 * limit >= 0, a reason, a grid when it builds cases over one, a name no
 * earlier row has. */
static size_t row_gaps(FILE *out, size_t f, size_t i)
{
    static const char *const metrics[] = { "nmse", "diffs", "rel", "fd" };
    const check_family *fam = families[f];
    const check_spec *spec = &fam->rows[i];
    size_t gaps = 0;
    int metric_known = 0;
    for (size_t m = 0; m < CHECK_ARRAY_LEN(metrics); m++)
        metric_known |= spec->metric && !strcmp(spec->metric, metrics[m]);
    if (spec->op >= CHECK_OP_COUNT || strcmp(op_families[spec->op], fam->name) != 0) {
        fprintf(out, "row %s (op %s) is in tools/check/%s.c, not in its family's file\n", spec->name,
                spec->op < CHECK_OP_COUNT ? op_names[spec->op] : "?", fam->name);
        gaps++;
    }
    if (!metric_known || !(spec->limit >= 0.0) || !spec->why || !spec->why[0]) {
        fprintf(out, "row %s: needs a metric (nmse, diffs, rel, fd), a limit >= 0 and why\n", spec->name);
        gaps++;
    }
    if (spec->build && (!spec->points || spec->variants < 1)) {
        fprintf(out, "row %s: builds its cases over a grid but has no points or variants\n", spec->name);
        gaps++;
    }
    for (size_t g = 0; g <= f; g++)
        for (size_t j = 0; j < (g < f ? families[g]->count : i); j++)
            if (!strcmp(families[g]->rows[j].name, spec->name)) {
                fprintf(out, "row %s is named twice\n", spec->name);
                gaps++;
            }
    return gaps;
}

size_t check_coverage(FILE *out)
{
    size_t gaps = 0;
    for (int op = 0; op < CHECK_OP_COUNT; op++) {
        int covered = has_rows((check_op)op), exempt = indirect((check_op)op);
        if (covered && exempt)
            fprintf(out, "%s has rows but is listed in check_indirect_ops\n", op_names[op]);
        else if (!covered && !exempt)
            fprintf(out, "%s: no row runs it; add one to tools/check/%s.c\n", op_names[op], op_families[op]);
        gaps += covered == exempt;
    }
    for (size_t f = 0; f < CHECK_ARRAY_LEN(families); f++)
        for (size_t i = 0; i < families[f]->count; i++)
            gaps += row_gaps(out, f, i);
    return gaps;
}
