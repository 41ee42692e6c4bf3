/* Internal to `gantry check`, the backend-comparison suite: report rows, the
 * case harness (guarded tensors on two backends, compared by NMSE), and the
 * parts that cmd_check.c drives (ops, finite differences, the GAN
 * trajectory).  tests/test_trajectory.c links these files too. */
#ifndef GANTRY_CHECK_H
#define GANTRY_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/status.h"
#include "gantry/tensor.h"

/* ---- the suite and its report rows --------------------------------------- */

struct check_traj_cache;

typedef struct check_suite {
    gantry_backend *ref;      /* the oracle */
    gantry_backend *test;     /* the backend under test */
    const char *backend_name; /* its name, for the report */
    int self;                 /* test is the reference itself: every limit becomes 0 */
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
    const char *metric; /* "nmse", "max|d|", "rel", "fd" */
    double limit;
    double worst;       /* worst error over the cases */
    char worst_case[128];
    size_t cases, failed;
    char failed_case[128];   /* the first case that failed */
    char first_failure[384]; /* ... and why */
    int keep_case;           /* show worst_case as set by the caller, even when exact */
} check_row;

void check_row_begin(check_suite *s, check_row *r, const char *name, const char *metric, double limit);
/* Records one case: `err` against the row's limit, `problem` ("" or NULL
 * when none) is a failure whatever err is. */
void check_row_case(check_suite *s, check_row *r, const char *desc, double err, const char *problem);
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

void check_case_init(check_case *c, uint64_t seed, check_run_fn run);
/* Adds a tensor argument of `ndim` dims (d1..d3 ignored beyond ndim) and
 * returns its host values for the caller to fill (NULL when out of memory,
 * which check_case_run reports). */
float *check_case_arg(check_case *c, const char *name, int out, int ndim, size_t d0, size_t d1, size_t d2,
                      size_t d3);
/* Host inputs from the case's Philox stream. */
void check_fill_uniform(check_case *c, float *v, size_t n, float lo, float hi);
/* Puts NaN, +Inf and -Inf at some positions (always at least one). */
void check_inject_nonfinite(float *v, size_t n, uint64_t phase);
/* Runs the case on the reference and on the backend under test, checks
 * guards, unchanged inputs, statuses, non-finite positions, and the NMSE of
 * every output against the row's limit; records it in `r`; frees the case. */
void check_case_run(check_suite *s, check_row *r, check_case *c);
void check_case_free(check_case *c);

/* ---- the parts ------------------------------------------------------------ */

/* The op names `--op` accepts, NULL-terminated (vtable ops, then
 * "gradcheck" and "trajectory"). */
extern const char *const check_op_names[];
/* Runs the comparisons of op `name` (one or more rows). */
void check_ops_run(check_suite *s, const char *name);
/* The same for the ops of ABI version 2 (tools/check_ops_v2.c), with their
 * finite-difference and adjoint rows; other names are ignored. */
void check_ops_v2_run(check_suite *s, const char *name);

/* Finite-difference checks of Linear, BatchNorm, every activation and the
 * BCE loss on the backend under test. */
void check_grad_run(check_suite *s);

/* The GAN trained from one seed on both backends. */
typedef struct check_traj_step {
    double d_loss[2], g_loss[2]; /* [0] reference, [1] backend under test */
} check_traj_step;

typedef struct check_traj {
    size_t state_tensors, state_values;
    size_t state_mismatches;   /* values of the initial state that differ in bits */
    char first_mismatch[128];  /* the state entry that differs first */
    unsigned steps;
    check_traj_step step[64];
} check_traj;

#define CHECK_TRAJ_STEPS 20
#define CHECK_TRAJ_STEPS_QUICK 5
#define CHECK_TRAJ_SEED 20140610u
/* dcgan's trajectory: --width and batch. */
#define CHECK_TRAJ_CONV_WIDTH 8
#define CHECK_TRAJ_CONV_BATCH 16

/* The reference's losses of one seed: training the reference is most of the
 * time `gantry check` takes, and it is the same for every backend. */
typedef struct check_traj_cache {
    uint64_t seed;
    unsigned steps; /* valid entries */
    double d_loss[64], g_loss[64];
} check_traj_cache;

/* Called after each training step (1-based) when not NULL. */
typedef void (*check_traj_progress_fn)(void *user, unsigned step);

/* Builds the GAN of gantry_gan_defaults("gan") with batch 64 on both
 * backends, compares the initial state bit for bit, then trains `steps`
 * (<= 64) steps on synthetic Philox data in [-1, 1].  With a `cache` that
 * holds the steps of this seed the reference is not trained again; without
 * one (NULL, or too few steps) it is, and the cache receives its losses. */
gantry_status check_trajectory(gantry_backend *ref, gantry_backend *test, unsigned steps, uint64_t seed,
                               check_traj_cache *cache, check_traj *out, check_traj_progress_fn progress,
                               void *user);
/* As check_trajectory for another model of gantry_gan_defaults; conv
 * models are built CHECK_TRAJ_CONV_WIDTH wide with batch
 * CHECK_TRAJ_CONV_BATCH, and do not use the cache. */
gantry_status check_trajectory_model(gantry_backend *ref, gantry_backend *test, const char *model, unsigned steps,
                                     uint64_t seed, check_traj_cache *cache, check_traj *out,
                                     check_traj_progress_fn progress, void *user);
/* Relative loss difference allowed at step k (1-based). */
double check_trajectory_limit(unsigned step);
/* |a - b| / |b| (|a - b| when b is 0; infinite when either is not finite). */
double check_rel_diff(double a, double b);
void check_trajectory_run(check_suite *s);

#endif
