/* Finite-difference rows of `gantry check`: each backward op against its
 * own forward on the backend under test (the method of tools/check/fd.h),
 * and the recording of a gradient's error as a case of a row (shared with
 * the layers' gradcheck rows).  The objective is L = sum_i w_i out_i of
 * the forward's output (out[0] for a scalar loss). */
#ifndef GANTRY_TOOLS_CHECK_FD_OP_H
#define GANTRY_TOOLS_CHECK_FD_OP_H

#include <stddef.h>
#include <stdint.h>

#include "tools/check/fd.h"
#include "tools/check/harness.h"

/* A row "gradcheck(ROW)" of `method` (or of gradcheck, the layers):
 * `what` says which gradients against which differences, before the
 * reason of the tolerance. */
#define CHECK_FD_ROW(row, method, what, fn, v)                                                        \
    { .name = "gradcheck(" row ")", .op = CHECK_OP_##method, .metric = "fd", .limit = CHECK_FD_TOL,     \
      .why = what CHECK_FD_WHY, .run = fn, .variant = v }

/* One op under finite differences: its tensors, the inputs that may be
 * perturbed, and its forward. */
typedef struct check_fd_op {
    gantry_tensor *t[8]; /* the op's tensors (destroyed by check_fd_op_free) */
    float *in[3];        /* host values of the perturbed inputs */
    int in_at[3];        /* ... which t[] they are */
    gantry_tensor *out;
    const double *w; /* NULL: L = out[0] */
    float *out_host; /* numel(out) floats (freed by check_fd_op_free) */
    gantry_status (*forward)(struct check_fd_op *p);
    int i0; /* an op parameter (the loss kind) */
} check_fd_op;

/* Records the error of a gradient as case "config what" of row r. */
void check_fd_row_case(check_suite *s, check_row *r, const char *config, const check_fd_result *res);

/* Compares the analytic gradient read from `grad` with scale times the
 * differences of input k (scale: the loss term's weight the backward
 * applied) and records the case. */
gantry_status check_fd_op_compare(check_suite *s, check_row *r, check_fd_op *p, int k, const gantry_tensor *grad,
                                  double scale, const char *config, const char *what);
/* The end of a check of input 0 (tensor t[0], host values x; p->out set):
 * the analytic gradient `grad` against scale times the differences, the
 * case recorded (or the failure `st`), p and the nhost host arrays freed. */
void check_fd_op_finish(check_suite *s, check_row *r, check_fd_op *p, gantry_status st, float *x,
                        const gantry_tensor *grad, double scale, const char *config, const char *what, float **host,
                        size_t nhost);
/* Destroys p's tensors and frees out_host and the nhost host arrays. */
void check_fd_op_free(check_fd_op *p, float **host, size_t nhost);
/* The weights w of L, from Philox. */
void check_fd_weights(double *w, size_t n, uint64_t seed);

/* An op with one input x and one output: L = sum w out with
 * check_fd_weights, dx = backward(x, dout = w, dx) against differences of
 * p->forward(t[0] = x, t[1] = out).  `st` carries an earlier failure (of
 * setting up x); x is freed here. */
typedef gantry_status (*check_fd_backward_fn)(const gantry_tensor *x, const gantry_tensor *dout, gantry_tensor *dx);
void check_fd_op_single_input(check_suite *s, check_row *r, check_fd_op *p, gantry_status st, float *x, int ndim,
                              const size_t *shape, int out_ndim, const size_t *out_shape,
                              check_fd_backward_fn backward, uint64_t seed, const char *config, const char *what);

#endif
