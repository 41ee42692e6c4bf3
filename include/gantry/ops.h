/* gantry: checked operations on tensors.
 *
 * Each function validates its arguments (non-NULL, same backend, shapes and
 * element counts) and returns GANTRY_INVALID_ARGUMENT, GANTRY_SHAPE_MISMATCH
 * or GANTRY_BACKEND_MISMATCH with a message naming the op before the backend
 * sees anything.  Semantics are those of gantry/backend.h; the sections
 * follow its op families, as core/ops/FAMILY.c does. */
#ifndef GANTRY_OPS_H
#define GANTRY_OPS_H

#include "gantry/backend.h"
#include "gantry/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gemm: matrix products ------------------------------------------------------------------- */

/* C = alpha op(A) op(B) + beta C with A, B, C 2-D. */
GANTRY_API gantry_status gantry_op_gemm(int trans_a, int trans_b, float alpha, const gantry_tensor *a,
                                        const gantry_tensor *b, float beta, gantry_tensor *c);

/* ---- elementwise: fill, bias, activations, arithmetic, reductions, clamp --------------------- */

GANTRY_API gantry_status gantry_op_fill(gantry_tensor *x, float value);
/* x is [N, C] or [N, C, H, W]; bias is [C]. */
GANTRY_API gantry_status gantry_op_bias_add(gantry_tensor *x, const gantry_tensor *bias);
GANTRY_API gantry_status gantry_op_bias_grad(const gantry_tensor *dy, gantry_tensor *dbias, int accumulate);
GANTRY_API gantry_status gantry_op_activation_forward(gantry_activation act, float param,
                                                      const gantry_tensor *x, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_activation_backward(gantry_activation act, float param,
                                                       const gantry_tensor *x, const gantry_tensor *y,
                                                       const gantry_tensor *dy, gantry_tensor *dx);
GANTRY_API gantry_status gantry_op_add(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_mul(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_scale(const gantry_tensor *x, float alpha, gantry_tensor *y);
GANTRY_API gantry_status gantry_op_axpy(float alpha, const gantry_tensor *x, gantry_tensor *y);
/* out has at least one element; element 0 receives the result. */
GANTRY_API gantry_status gantry_op_sum(const gantry_tensor *x, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_mean(const gantry_tensor *x, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_clamp(gantry_tensor *x, float lo, float hi);

/* ---- norm: batch norm: training, inference, with given statistics, virtual ------------------- */

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
/* Batch norm in training followed by an activation, fused: y = f(batch norm
 * of x) without the normalised values in between, f = act(param), which
 * must be GANTRY_ACT_RELU or GANTRY_ACT_LEAKY_RELU with param >= 0.  The
 * same bits as gantry_op_batchnorm_forward_train and
 * gantry_op_activation_forward in turn. */
GANTRY_API gantry_status gantry_op_batchnorm_act_forward_train(gantry_activation act, float param,
                                                               const gantry_tensor *x, gantry_tensor *y,
                                                               const gantry_tensor *gamma, const gantry_tensor *beta,
                                                               gantry_tensor *running_mean,
                                                               gantry_tensor *running_var, gantry_tensor *save_mean,
                                                               gantry_tensor *save_invstd, float momentum, float eps);
/* Its backward, with y its output: gantry_op_activation_backward then
 * gantry_op_batchnorm_backward, in one op.  dx may be dy. */
GANTRY_API gantry_status gantry_op_batchnorm_act_backward(gantry_activation act, float param, const gantry_tensor *x,
                                                          const gantry_tensor *y, const gantry_tensor *dy,
                                                          const gantry_tensor *gamma, const gantry_tensor *save_mean,
                                                          const gantry_tensor *save_invstd, gantry_tensor *dx,
                                                          gantry_tensor *dgamma, gantry_tensor *dbeta, int accumulate);
/* As batchnorm_forward_eval/backward, with mean and invstd given. */
GANTRY_API gantry_status gantry_op_batchnorm_forward_frozen(const gantry_tensor *x, gantry_tensor *y,
                                                            const gantry_tensor *gamma, const gantry_tensor *beta,
                                                            const gantry_tensor *mean, const gantry_tensor *invstd);
GANTRY_API gantry_status gantry_op_batchnorm_backward_frozen(const gantry_tensor *x, const gantry_tensor *dy,
                                                             const gantry_tensor *gamma, const gantry_tensor *mean,
                                                             const gantry_tensor *invstd, gantry_tensor *dx,
                                                             gantry_tensor *dgamma, gantry_tensor *dbeta,
                                                             int accumulate);
/* Virtual batch norm: x, y are [N, C] or [N, C, H, W]; gamma, beta,
 * ref_mean, ref_invstd are [C]; save_mean, save_invstd hold N*C values. */
GANTRY_API gantry_status gantry_op_vbn_forward(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                               const gantry_tensor *beta, const gantry_tensor *ref_mean,
                                               const gantry_tensor *ref_invstd, size_t ref_count,
                                               gantry_tensor *save_mean, gantry_tensor *save_invstd, float eps);
GANTRY_API gantry_status gantry_op_vbn_backward(const gantry_tensor *x, const gantry_tensor *dy,
                                                const gantry_tensor *gamma, const gantry_tensor *save_mean,
                                                const gantry_tensor *save_invstd, size_t ref_count, gantry_tensor *dx,
                                                gantry_tensor *dgamma, gantry_tensor *dbeta, int accumulate);

/* ---- loss: losses and their gradients -------------------------------------------------------- */

GANTRY_API gantry_status gantry_op_bce_logits_forward(const gantry_tensor *x, float target, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_bce_logits_backward(const gantry_tensor *x, float target, float scale,
                                                       gantry_tensor *dx);
/* MSE or L1 of x against t (same element count); out[0] = the mean. */
GANTRY_API gantry_status gantry_op_regression_loss_forward(gantry_loss_kind kind, const gantry_tensor *x,
                                                           const gantry_tensor *t, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_regression_loss_backward(gantry_loss_kind kind, const gantry_tensor *x,
                                                            const gantry_tensor *t, float scale, gantry_tensor *dx);
/* x and t are [rows, k] (2-D). */
GANTRY_API gantry_status gantry_op_softmax_ce_forward(const gantry_tensor *x, const gantry_tensor *t,
                                                      gantry_tensor *out);
GANTRY_API gantry_status gantry_op_softmax_ce_backward(const gantry_tensor *x, const gantry_tensor *t, float scale,
                                                       gantry_tensor *dx);
/* x is [rows, k]; out and dout hold rows values. */
GANTRY_API gantry_status gantry_op_logsumexp_forward(const gantry_tensor *x, gantry_tensor *out);
GANTRY_API gantry_status gantry_op_logsumexp_backward(const gantry_tensor *x, const gantry_tensor *dout,
                                                      gantry_tensor *dx);

/* ---- optim: optimizer updates ---------------------------------------------------------------- */

/* v may be NULL when momentum == 0. */
GANTRY_API gantry_status gantry_op_sgd_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *v,
                                              float lr, float momentum, float weight_decay);
GANTRY_API gantry_status gantry_op_adam_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *m,
                                               gantry_tensor *v, float lr, float beta1, float beta2, float eps,
                                               float weight_decay, uint64_t step);
GANTRY_API gantry_status gantry_op_rmsprop_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *sq,
                                                  float lr, float alpha, float eps, float weight_decay);

/* ---- random: Philox fills and dropout masks -------------------------------------------------- */

GANTRY_API gantry_status gantry_op_rand_uniform(gantry_tensor *x, uint64_t seed, uint64_t offset, float lo,
                                                float hi);
GANTRY_API gantry_status gantry_op_rand_normal(gantry_tensor *x, uint64_t seed, uint64_t offset, float mean,
                                               float std);
GANTRY_API gantry_status gantry_op_dropout_mask(gantry_tensor *mask, float p, uint64_t seed, uint64_t offset);

/* ---- conv: convolution unfolding and reshuffles ---------------------------------------------- */

/* Fills in oh, ow of *g from the other fields; GANTRY_INVALID_ARGUMENT when
 * the kernel does not fit the padded input or a size is 0. */
GANTRY_API gantry_status gantry_conv_geometry_finish(gantry_conv_geometry *g);
/* x is [n, c, h, w] as g says; col is [c*kh*kw, n*oh*ow]. */
GANTRY_API gantry_status gantry_op_im2col(const gantry_tensor *x, gantry_tensor *col, const gantry_conv_geometry *g);
GANTRY_API gantry_status gantry_op_col2im(const gantry_tensor *col, gantry_tensor *x, const gantry_conv_geometry *g,
                                          int accumulate);
/* Convolution without bias (gantry/backend.h, ABI version 3): x [n, c, h, w]
 * as g says, w [o, c, kh, kw], y and dy [n, o, oh, ow]; work holds at least
 * (c*kh*kw + o) * n*oh*ow floats of scratch.  backward_data overwrites dx.
 * Flags: GANTRY_CONV_ACCUMULATE (backward_weight) adds into dw instead of
 * overwriting it; GANTRY_CONV_IMAGE_IN_WORK (forward, backward_weight) and
 * GANTRY_CONV_OUTSIDE_IN_WORK (backward_data, backward_weight) say what is
 * still in work from the last op given it (gantry_conv_kept in
 * gantry/backend.h: an op on the same x, resp. dy, geometry and weight
 * shape, nothing written since), which the backend may reuse. */
#define GANTRY_CONV_ACCUMULATE 1
#define GANTRY_CONV_IMAGE_IN_WORK 2
#define GANTRY_CONV_OUTSIDE_IN_WORK 4
GANTRY_API gantry_status gantry_op_conv2d_forward(const gantry_tensor *x, const gantry_tensor *w, gantry_tensor *y,
                                                  const gantry_conv_geometry *g, int flags, gantry_tensor *work);
GANTRY_API gantry_status gantry_op_conv2d_backward_data(const gantry_tensor *dy, const gantry_tensor *w,
                                                        gantry_tensor *dx, const gantry_conv_geometry *g, int flags,
                                                        gantry_tensor *work);
GANTRY_API gantry_status gantry_op_conv2d_backward_weight(const gantry_tensor *x, const gantry_tensor *dy,
                                                          gantry_tensor *dw, const gantry_conv_geometry *g,
                                                          int flags, gantry_tensor *work);
/* x holds a*b*inner values; y[j, i, :] = x[i, j, :]. */
GANTRY_API gantry_status gantry_op_swap_axes(const gantry_tensor *x, gantry_tensor *y, size_t a, size_t b,
                                             size_t inner);
/* Copies columns [x_col, x_col + cols) of x viewed as [rows, ldx] into
 * columns [y_col, y_col + cols) of y viewed as [rows, ldy]. */
GANTRY_API gantry_status gantry_op_copy_rows(const gantry_tensor *x, size_t ldx, size_t x_col, gantry_tensor *y,
                                             size_t ldy, size_t y_col, size_t rows, size_t cols);

/* ---- minibatch: minibatch discrimination ----------------------------------------------------- */

/* m is [n, b, c] (3-D); o and dout are [n, b]. */
GANTRY_API gantry_status gantry_op_minibatch_disc_forward(const gantry_tensor *m, gantry_tensor *o);
GANTRY_API gantry_status gantry_op_minibatch_disc_backward(const gantry_tensor *m, const gantry_tensor *dout,
                                                           gantry_tensor *dm);

/* ---- profiling ------------------------------------------------------------
 * Where a training step goes, op by op.  While profiling is on, every op of
 * this header and every tensor write, read and copy is timed from its call
 * to the end of a gantry_backend_synchronize of its backend: the device's
 * time, not the time to queue it (which serialises an asynchronous
 * backend's queue, so profiled steps can be slower than plain ones).  One
 * table for the process, meant for a single thread's work. */
typedef struct gantry_op_time {
    const char *op; /* the backend.h name: "gemm", "adam_update", "buffer_write", ... */
    uint64_t calls;
    double seconds; /* summed over the calls */
} gantry_op_time;

/* on: empty the table and start timing; 0: stop (the table stays). */
GANTRY_API void gantry_profile_enable(int on);
/* Copies up to `cap` entries, in the order the ops were first called, and
 * returns how many there are. */
GANTRY_API size_t gantry_profile_read(gantry_op_time *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
