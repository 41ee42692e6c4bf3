/* `gantry check`'s rows as data.  Each op family's file (tools/check/
 * FAMILY.c, the families of GANTRY_BACKEND_OPS) exports a table of rows:
 * the report line's name, the op that `--op` selects it by, its metric,
 * its limit and why the limit is what it is, and the function that runs
 * its cases.  Everything else comes from these tables: the run order (the
 * order of GANTRY_BACKEND_OPS, then "gradcheck" and "trajectory"), the
 * names `--op` accepts, the limits table of docs/check.md (`gantry check
 * --limits`) and the coverage test (every method has a row). */
#ifndef GANTRY_TOOLS_CHECK_ROWS_H
#define GANTRY_TOOLS_CHECK_ROWS_H

#include <stddef.h>
#include <stdio.h>

#include "gantry/backend.h"
#include "tools/check/harness.h"

/* What `--op` names: every backend method, then the gradient checks of
 * whole layers and the training trajectory. */
#define CHECK__OP_ENUM(name, family) CHECK_OP_##name,
typedef enum check_op {
    GANTRY_BACKEND_OPS(CHECK__OP_ENUM) CHECK_OP_gradcheck,
    CHECK_OP_trajectory,
    CHECK_OP_COUNT
} check_op;
#undef CHECK__OP_ENUM

typedef struct check_spec check_spec;

/* A case of a row over a grid: grid point `at` (of spec->points), variant
 * `variant` (of spec->variants) and its number in the row, counted point by
 * point, which keys the case's inputs (check_case_seed). */
typedef struct check_point {
    size_t at;
    int variant;
    size_t index;
} check_point;

/* Sets up case `c` (its run function, arguments, parameters, desc) at a
 * point; returns 0 to skip the point (its number still counts). */
typedef int (*check_build_fn)(check_suite *s, const check_spec *spec, check_case *c, const check_point *p);

/* One report row.  The harness begins the row with the spec's name, metric
 * and limit, runs its cases and ends it: `build` over every point and
 * variant of its grid, or `run` where a row walks its cases itself.  A spec
 * with `run_rows` instead writes rows of its own (the trajectory: a row per
 * step); one with none of them only documents rows that another spec's
 * run_rows writes. */
struct check_spec {
    const char *name;
    check_op op;
    const char *metric; /* "nmse", "diffs", "rel", "fd" */
    double limit;
    const char *limit_text; /* the limit in docs/check.md when one number cannot say it (or NULL) */
    const char *why;
    size_t (*points)(const check_suite *s); /* the grid of `build` (tools/check/grid.h) */
    int variants;
    check_build_fn build;
    void (*run)(check_suite *s, check_row *r, const check_spec *spec);
    void (*run_rows)(check_suite *s, const check_spec *spec);
    int variant; /* for a function that serves several rows */
};

typedef struct check_family {
    const char *name; /* as GANTRY_BACKEND_OPS names it */
    const check_spec *rows;
    size_t count;
} check_family;

#define CHECK_FAMILY(family, rows) { #family, rows, sizeof(rows) / sizeof *(rows) }

extern const check_family check_family_memory, check_family_gemm, check_family_elementwise, check_family_norm,
    check_family_loss, check_family_optim, check_family_random, check_family_conv, check_family_minibatch,
    check_family_gradcheck, check_family_trajectory;

/* A method with no row of its own, and what checks it. */
typedef struct check_indirect {
    check_op op;
    const char *how;
} check_indirect;

extern const check_indirect check_indirect_ops[];
extern const size_t check_indirect_count;

/* The op called `name` when it has rows (1), else 0. */
int check_op_lookup(const char *name, check_op *op);
/* "buffer_write, buffer_read, ..., trajectory": the names --op accepts. */
void check_op_list(FILE *out);
/* Runs the rows of every op with want[op] set (want NULL: all) in the run order. */
void check_run(check_suite *s, const int *want);
/* The limits table of docs/check.md, in markdown, between its markers. */
void check_print_limits(FILE *out);
/* Writes a line to `out` for each gap (a method without a row, a row in
 * another family's file, a row without a reason ...); returns their number. */
size_t check_coverage(FILE *out);

#endif
