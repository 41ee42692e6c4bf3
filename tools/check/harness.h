/* The case harness of `gantry check`: the suite and its report rows, NMSE
 * with non-finite agreement, and guarded cases that run one op on the
 * reference and on the backend under test; plus the inputs every family
 * builds its cases from. */
#ifndef GANTRY_TOOLS_CHECK_HARNESS_H
#define GANTRY_TOOLS_CHECK_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/status.h"
#include "gantry/tensor.h"

#define CHECK_ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

/* ---- the suite and its report rows --------------------------------------- */

struct check_traj_cache;

typedef struct check_suite {
    gantry_backend *ref;      /* the oracle */
    gantry_backend *test;     /* the backend under test */
    const char *backend_name; /* its name, for the report */
    int self;                 /* test is the reference itself: every comparison's limit becomes 0 */
    int quick;                /* the smaller grid */
    int tty;                  /* progress lines on stderr */
    size_t passed, failed;    /* rows so far */
    double last_progress;
    struct check_traj_cache *traj_cache; /* the reference's losses, shared by the backends (may be NULL) */
} check_suite;

/* One line of the report: an op (or a trajectory step, or a gradient check)
 * on one backend, over all its cases. */
typedef struct check_row {
    char name[48];
    const char *metric; /* "nmse", "diffs", "rel", "fd" */
    double limit;
    double worst;       /* worst error over the cases */
    char worst_case[128];
    size_t cases, failed;
    char failed_case[128];   /* the first case that failed */
    char first_failure[384]; /* ... and why */
    int keep_case;           /* show worst_case as set by the caller, even when exact */
} check_row;

/* Against itself the reference gets limit 0 on every row except the
 * finite-difference ones (metric "fd"), which measure the backend alone. */
void check_row_begin(check_suite *s, check_row *r, const char *name, const char *metric, double limit);
/* Records one case: `err` against the row's limit, `problem` ("" or NULL
 * when none) is a failure whatever err is. */
void check_row_case(check_suite *s, check_row *r, const char *desc, double err, const char *problem);
/* Records a case where the backend under test failed an op (or ran out of
 * memory): the error is infinite, the problem its last error. */
void check_row_failed(check_suite *s, check_row *r, const char *desc);
/* Prints the row (and its first failure) and counts it. */
void check_row_end(check_suite *s, check_row *r);
/* A progress line on a terminal, at most every 0.1 s. */
void check_progress(check_suite *s, const char *what, size_t done);

/* ---- comparing float arrays ---------------------------------------------- */

/* Normalised mean squared error of `a` against the reference `b`:
 * sum((a-b)^2) / sum(b^2), or sum((a-b)^2) when sum(b^2) is 0, over the
 * positions where both are finite.  Non-finite values must agree in kind
 * (NaN, +Inf, -Inf) at the same positions; disagreements are counted. */
typedef struct check_diff {
    double sq_err, sq_ref, max_abs;
    size_t compared;
    size_t nonfinite_mismatch;
    size_t first_mismatch; /* index of the first disagreement in kind */
} check_diff;

void check_diff_add(check_diff *d, const float *a, const float *b, size_t n);
double check_diff_nmse(const check_diff *d);
/* 0 finite, 1 NaN, 2 +Inf, 3 -Inf */
int check_float_kind(float v);

/* ---- guarded tensors and cases ------------------------------------------- */

/* Every tensor of a case is a view into a larger buffer: CHECK_LEAD
 * elements before it (so views start at an odd offset) and CHECK_TRAIL
 * after it (longer than any vector width) hold CHECK_SENTINEL and must still
 * hold it, bit for bit, after the op. */
#define CHECK_LEAD 3
#define CHECK_TRAIL 29
#define CHECK_SENTINEL 1234.5f
#define CHECK_MAX_ARGS 10

/* Returns the number of guard elements of `base` (lead + n + trail floats)
 * that no longer hold the sentinel; *where gets the first one's index
 * relative to the view (negative: before it). */
size_t check_guard_damage(const float *base, size_t n, long *where);

typedef struct check_case check_case;
typedef gantry_status (*check_run_fn)(gantry_tensor *const *t, const check_case *c);

typedef struct check_arg {
    const char *name;
    int ndim;
    size_t shape[4];
    size_t n;
    float *init; /* n floats, owned */
    int out;     /* written by the op and compared; otherwise it must stay unchanged */
} check_arg;

struct check_case {
    char desc[128];
    check_run_fn run;
    int nargs;
    check_arg arg[CHECK_MAX_ARGS];
    float f[8];
    int i[4];
    uint64_t u[4];
    uint64_t seed, stream; /* Philox key and offset of the host inputs */
};

enum { CHECK_IN = 0, CHECK_OUT = 1 };

/* A case key: the row's name hashed with the case number, so every run
 * draws the same inputs. */
uint64_t check_case_seed(const char *row, size_t index);
void check_case_init(check_case *c, uint64_t seed, check_run_fn run);
/* Adds a tensor argument of `ndim` dims (d1..d3 ignored beyond ndim) and
 * returns its host values for the caller to fill (NULL when out of memory,
 * which check_case_run reports). */
float *check_case_arg(check_case *c, const char *name, int out, int ndim, size_t d0, size_t d1, size_t d2,
                      size_t d3);
float *check_arg_1d(check_case *c, const char *name, int out, size_t n);
float *check_arg_2d(check_case *c, const char *name, int out, size_t d0, size_t d1);
/* A 1-D argument filled from the case's Philox stream. */
float *check_uniform_arg(check_case *c, const char *name, int out, size_t n, float lo, float hi);
/* Host inputs from the case's Philox stream. */
void check_fill_uniform(check_case *c, float *v, size_t n, float lo, float hi);
/* Puts NaN, +Inf and -Inf at some positions (always at least one). */
void check_inject_nonfinite(float *v, size_t n, uint64_t phase);
/* Runs the case on the reference and on the backend under test, checks
 * guards, unchanged inputs, statuses, non-finite positions, and the NMSE of
 * every output against the row's limit; records it in `r`; frees the case. */
void check_case_run(check_suite *s, check_row *r, check_case *c);
void check_case_free(check_case *c);

/* ---- tensors on the backend under test alone ------------------------------ */

/* A tensor holding v, or (v NULL) 1000.5 everywhere: an output element an
 * op fails to write then spoils whatever is computed from it. */
gantry_status check_host_tensor(gantry_backend *be, int ndim, const size_t *shape, const float *v,
                                gantry_tensor **out);
gantry_status check_read_tensor(const gantry_tensor *t, float *v);
/* n floats (at least one), or NULL. */
float *check_host_alloc(size_t n);

/* splitmix64: picks generated grid points and shuffles. */
uint64_t check_mix(uint64_t x);

#endif
