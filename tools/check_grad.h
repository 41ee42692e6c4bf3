/* Finite-difference gradient checks of a Sequential on any backend, with
 * the method of tests/test_grad.c, returning errors instead of aborting so
 * that both a test and `gantry check` can use it.
 *
 * For a Sequential f and an input x the scalar objective is
 * L = sum_i w_i y_i with y = f(x) and fixed random weights w, so dL/dy = w.
 * Analytic gradients come from gantry_seq_backward(dy = w), numeric ones
 * from central differences of L (in double on the host from the float32
 * output), over every element of x and of every parameter, with the step
 * actually taken in float as the denominator.  The error of a gradient
 * tensor is max_i |a_i - n_i| / max(max_i |n_i|, CHECK_GRAD_FLOOR): relative
 * to its largest component, so a wrong factor or sign in a small gradient
 * is caught as well as in a large one. */
#ifndef GANTRY_CHECK_GRAD_H
#define GANTRY_CHECK_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/nn.h"

/* The tolerance of tests/test_grad.c: central differences in float32 with
 * steps of 1e-2 are good to a few 1e-4; a wrong formula is off by O(1). */
#define CHECK_GRAD_TOL 1e-2
/* Gradients below this are at the noise level of float32 differences;
 * tensors whose true gradient is ~0 are compared against it rather than
 * against their own rounding noise. */
#define CHECK_GRAD_FLOOR 1e-2

typedef struct check_grad_result {
    char what[96];   /* "dx", "d0.weight", ... */
    size_t n;
    double max_grad; /* max |numeric| */
    double error;    /* as above; +inf when a value is not finite */
    size_t worst;    /* element with the largest difference */
    float analytic;
    double numeric;
} check_grad_result;

typedef void (*check_grad_report_fn)(void *user, const check_grad_result *r);

/* error of `analytic` against `numeric` as defined above */
double check_grad_error(const float *analytic, const double *numeric, size_t n, check_grad_result *r);

/* Checks dx and every parameter gradient of `seq` at x (training mode);
 * calls `report` once per gradient tensor.  `seed` keys the weights w. */
gantry_status check_grad_seq(gantry_seq *seq, const gantry_tensor *x, uint64_t seed, double eps,
                             check_grad_report_fn report, void *user);

/* BatchNorm's weight and bias start at 1 and 0; random values make their
 * gradients (and the dx terms they scale) less special. */
gantry_status check_grad_randomize_batchnorm(gantry_seq *seq, uint64_t seed);

/* A tensor of Philox values in [lo, hi) keyed by seed; values closer than
 * `gap` to 0 are pushed away from it (the kink of ReLU and LeakyReLU). */
gantry_status check_grad_random_tensor(gantry_backend *be, int ndim, const size_t *shape, uint64_t seed, float lo,
                                       float hi, float gap, gantry_tensor **out);

#endif
