/* gantry: checked operations on tensors.
 *
 * Each function validates its arguments (non-NULL, same backend, shapes and
 * element counts) and returns GANTRY_INVALID_ARGUMENT, GANTRY_SHAPE_MISMATCH
 * or GANTRY_BACKEND_MISMATCH with a message naming the op before the backend
 * sees anything.  Semantics are those of gantry/backend.h. */
#ifndef GANTRY_OPS_H
#define GANTRY_OPS_H

#include "gantry/backend.h"
#include "gantry/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C = alpha op(A) op(B) + beta C with A, B, C 2-D. */
GANTRY_API gantry_status gantry_op_gemm(int trans_a, int trans_b, float alpha, const gantry_tensor *a,
                                        const gantry_tensor *b, float beta, gantry_tensor *c);
GANTRY_API gantry_status gantry_op_fill(gantry_tensor *x, float value);

/* x is [N, C] or [N, C, H, W]; bias is [C]. */
GANTRY_API gantry_status gantry_op_bias_add(gantry_tensor *x, const gantry_tensor *bias);
GANTRY_API gantry_status gantry_op_bias_grad(const gantry_tensor *dy, gantry_tensor *dbias, int accumulate);

GANTRY_API gantry_status gantry_op_activation_forward(gantry_activation act, float param,
                                                      const gantry_tensor *x, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_activation_backward(gantry_activation act, float param,
                                                       const gantry_tensor *x, const gantry_tensor *y,
                                                       const gantry_tensor *dy, gantry_tensor *dx);

/* x, y are [N, C] or [N, C, H, W]; every other tensor is [C]. */
GANTRY_API gantry_status gantry_op_batchnorm_forward_train(const gantry_tensor *x, gantry_tensor *y,
                                                           const gantry_tensor *gamma, const gantry_tensor *beta,
                                                           gantry_tensor *running_mean,
                                                           gantry_tensor *running_var, gantry_tensor *save_mean,
                                                           gantry_tensor *save_invstd, float momentum,
                                                           float eps);
GANTRY_API gantry_status gantry_op_batchnorm_forward_eval(const gantry_tensor *x, gantry_tensor *y,
                                                          const gantry_tensor *gamma, const gantry_tensor *beta,
                                                          const gantry_tensor *running_mean,
                                                          const gantry_tensor *running_var, float eps);
GANTRY_API gantry_status gantry_op_batchnorm_backward(const gantry_tensor *x, const gantry_tensor *dy,
                                                      const gantry_tensor *gamma, const gantry_tensor *save_mean,
                                                      const gantry_tensor *save_invstd, gantry_tensor *dx,
                                                      gantry_tensor *dgamma, gantry_tensor *dbeta,
                                                      int accumulate);

GANTRY_API gantry_status gantry_op_add(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_mul(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_scale(const gantry_tensor *x, float alpha, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_axpy(float alpha, const gantry_tensor *x, gantry_tensor *y);

/* out has at least one element; element 0 receives the result. */
GANTRY_API gantry_status gantry_op_sum(const gantry_tensor *x, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_mean(const gantry_tensor *x, gantry_tensor *out);

GANTRY_API gantry_status gantry_op_bce_logits_forward(const gantry_tensor *x, float target, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_bce_logits_backward(const gantry_tensor *x, float target, float scale,
                                                       gantry_tensor *dx);

/* v may be NULL when momentum == 0. */
GANTRY_API gantry_status gantry_op_sgd_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *v,
                                              float lr, float momentum, float weight_decay);
GANTRY_API gantry_status gantry_op_adam_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *m,
                                               gantry_tensor *v, float lr, float beta1, float beta2, float eps,
                                               float weight_decay, uint64_t step);
GANTRY_API gantry_status gantry_op_rmsprop_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *sq,
                                                  float lr, float alpha, float eps, float weight_decay);
GANTRY_API gantry_status gantry_op_clamp(gantry_tensor *x, float lo, float hi);

GANTRY_API gantry_status gantry_op_rand_uniform(gantry_tensor *x, uint64_t seed, uint64_t offset, float lo,
                                                float hi);
GANTRY_API gantry_status gantry_op_rand_normal(gantry_tensor *x, uint64_t seed, uint64_t offset, float mean,
                                               float std);

#ifdef __cplusplus
}
#endif
#endif
