/* Finite differences: the one method by which `gantry check` (its gradcheck
 * rows and the finite-difference rows of single ops) and tests/test_grad.c
 * check backward passes, on any backend, returning errors instead of
 * aborting.
 *
 * A gradient is dL/dv for a scalar objective L of a tensor's values v,
 * taken by central differences: v_i + eps and v_i - eps rounded to float,
 * L evaluated at each (in double on the host), divided by the step
 * actually taken.  For a Sequential f and an input x the objective is
 * L = sum_i w_i y_i with y = f(x) and fixed random weights w, so that
 * dL/dy = w and the analytic gradients come from gantry_seq_backward(dy = w),
 * over every element of x and of every parameter.  The error of a gradient
 * tensor is max_i |a_i - n_i| / max(max_i |n_i|, CHECK_FD_FLOOR): relative
 * to its largest component, so a wrong factor or sign in a small gradient
 * is caught as well as in a large one. */
#ifndef GANTRY_TOOLS_CHECK_FD_H
#define GANTRY_TOOLS_CHECK_FD_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/nn.h"

/* The tolerance of every finite-difference check, and why. */
#define CHECK_FD_TOL 1e-2
#define CHECK_FD_WHY                                                                                  \
    "central differences in float32 with steps of 1e-2 are good to a few 1e-4; a wrong formula is off " \
    "by O(1)"
/* Gradients below this are at the noise level of float32 differences;
 * tensors whose true gradient is ~0 are compared against it rather than
 * against their own rounding noise. */
#define CHECK_FD_FLOOR 1e-2

typedef struct check_fd_result {
    char what[96];   /* "dx", "d0.weight", ... */
    size_t n;
    double max_grad; /* max |numeric| */
    double error;    /* as above; +inf when a value is not finite */
    size_t worst;    /* element with the largest difference */
    float analytic;
    double numeric;
} check_fd_result;

/* L at the values the tensor holds now. */
typedef gantry_status (*check_fd_objective_fn)(void *user, double *l);

/* dL/dv_i for every element of tensor t, whose values the caller holds in
 * v (numel(t) floats): each perturbation is written to t and `objective`
 * evaluated; t and v hold the original values again afterwards. */
gantry_status check_fd_numeric(gantry_tensor *t, float *v, double eps, check_fd_objective_fn objective, void *user,
                               double *num);

/* The error of `analytic` against `numeric` as defined above (r may be NULL). */
double check_fd_error(const float *analytic, const double *numeric, size_t n, check_fd_result *r);

typedef void (*check_fd_report_fn)(void *user, const check_fd_result *r);

/* Checks dx and every parameter gradient of `seq` at x (training mode);
 * calls `report` once per gradient tensor.  `seed` keys the weights w. */
gantry_status check_fd_seq(gantry_seq *seq, const gantry_tensor *x, uint64_t seed, double eps,
                           check_fd_report_fn report, void *user);

/* The BCE-with-logits loss against target t at the n values xv (written to
 * x): the analytic dx of bce_logits_backward (scale 1) and the central
 * differences of bce_logits_forward into `out` (one element). */
gantry_status check_fd_bce_logits(gantry_tensor *x, gantry_tensor *dx, gantry_tensor *out, float *xv, float t,
                                  double eps, float *analytic, double *numeric);

/* BatchNorm's weight and bias start at 1 and 0; random values make their
 * gradients (and the dx terms they scale) less special. */
gantry_status check_fd_randomize_batchnorm(gantry_seq *seq, uint64_t seed);

/* A tensor of Philox values in [lo, hi) keyed by seed; values closer than
 * `gap` to 0 are pushed away from it (the kink of ReLU and LeakyReLU). */
gantry_status check_fd_random_tensor(gantry_backend *be, int ndim, const size_t *shape, uint64_t seed, float lo,
                                     float hi, float gap, gantry_tensor **out);

#endif
