/* gantry: the backend ABI.
 *
 * A backend is a shared module (gantry-backend-NAME.so) that exports exactly
 * one symbol:
 *
 *     const gantry_backend_ops *gantry_backend_entry(void);
 *
 * The returned table is static, lives as long as the module, and is never
 * modified by the core.  The core validates every argument before calling an
 * op (shapes, counts, non-NULL buffers, same backend), so backends may trust
 * their inputs: buffers are large enough for the offsets and counts given,
 * counts are > 0 unless stated, and dimensions are consistent.
 *
 * Memory: a backend buffer is an opaque `void *` that only its backend
 * understands (a host pointer, a cl_mem, ...).  Ops address data through a
 * gantry_mem: the buffer plus an offset counted in float elements, so the
 * core can hand out views (one batch of a larger tensor) without copies.
 * All tensors are float32, row-major / NCHW, contiguous.
 *
 * Versioning: `abi_version` and `struct_size` come first.  Methods are only
 * ever appended; a comment marks where each ABI version begins.  The loader
 * refuses a module whose abi_version differs from GANTRY_BACKEND_ABI_VERSION
 * or whose struct_size is smaller than the table the core was built with.
 *
 * Errors: an op returns GANTRY_OK or a negative gantry_status; before
 * returning an error it should call host->set_error() with a message that
 * names the op and the device.  Ops never abort or exit. */
#ifndef GANTRY_BACKEND_H
#define GANTRY_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GANTRY_BACKEND_ABI_VERSION 4u
#define GANTRY_BACKEND_ENTRY_SYMBOL "gantry_backend_entry"

/* A view into a backend buffer: `offset` is in float elements. */
typedef struct gantry_mem {
    void *buf;
    size_t offset;
} gantry_mem;

typedef enum gantry_activation {
    GANTRY_ACT_IDENTITY = 0,
    GANTRY_ACT_RELU = 1,
    GANTRY_ACT_LEAKY_RELU = 2, /* slope = the op's `param` */
    GANTRY_ACT_TANH = 3,
    GANTRY_ACT_SIGMOID = 4,
} gantry_activation;

typedef enum gantry_loss_kind {
    GANTRY_LOSS_MSE = 0, /* mean (x - t)^2 */
    GANTRY_LOSS_L1 = 1,  /* mean |x - t| */
} gantry_loss_kind;

/* The geometry of a 2-D convolution over a batch: input [n, c, h, w],
 * kernel kh x kw, stride sh, sw, zero padding ph, pw, output oh x ow with
 * oh = (h + 2 ph - kh) / sh + 1 (the core checks these relations). */
typedef struct gantry_conv_geometry {
    size_t n, c, h, w;
    size_t kh, kw, sh, sw, ph, pw;
    size_t oh, ow;
} gantry_conv_geometry;

/* What the caller of a convolution op (ABI version 3) knows is still in its
 * work buffer: the last op given that buffer was, with the same geometry
 * and out_channels, and nothing has written the tensors named or the
 * buffer since, */
typedef enum gantry_conv_kept {
    /* conv2d_forward or conv2d_backward_weight on this image x */
    GANTRY_CONV_KEPT_IMAGE = 1,
    /* conv2d_backward_data or conv2d_backward_weight on this dy */
    GANTRY_CONV_KEPT_OUTSIDE = 2,
} gantry_conv_kept;

typedef enum gantry_log_level {
    GANTRY_LOG_DEBUG = 0,
    GANTRY_LOG_INFO = 1,
    GANTRY_LOG_WARN = 2,
} gantry_log_level;

/* Services the core offers a backend; passed to probe() and create(). */
typedef struct gantry_host {
    uint32_t abi_version;
    uint32_t struct_size;
    /* Records the per-thread error message; returns `status`. */
    gantry_status (*set_error)(gantry_status status, const char *fmt, ...);
    /* A diagnostic line (cache misses, device choice, fallbacks). */
    void (*log)(gantry_log_level level, const char *fmt, ...);
} gantry_host;

/* What the core passes when creating a backend instance.  Strings may be
 * NULL.  The core gathers these from its options and environment, so
 * backends never read the environment for them. */
typedef struct gantry_backend_options {
    uint32_t struct_size;
    const gantry_host *host;
    int num_threads;       /* 0: the backend's default (all cores); GANTRY_NUM_THREADS */
    const char *device;    /* device selector, backend-specific syntax; GANTRY_<NAME>_DEVICE */
    const char *cache_dir; /* where compiled artefacts may be cached; GANTRY_CACHE_DIR */
    /* Kernel sources to read instead of the embedded ones (development);
     * GANTRY_CL_DIR. */
    const char *kernel_dir;
    /* A prebuilt program binary to load instead of compiling (offline-
     * compiled FPGA bitstreams and the like); GANTRY_<NAME>_BINARY. */
    const char *kernel_binary;
    /* Appended later: check struct_size before reading. */
    /* The GEMM path to force where a backend has several (cpu: own,
     * openblas; opencl: own, clblast; "auto" or NULL: the backend's own
     * choice); GANTRY_<NAME>_GEMM.  create() refuses a value it does not
     * know; a backend with a single path ignores it. */
    const char *gemm;
} gantry_backend_options;

typedef struct gantry_backend_ops {
    uint32_t abi_version; /* GANTRY_BACKEND_ABI_VERSION */
    uint32_t struct_size; /* sizeof(gantry_backend_ops) as the module was built */

    /* ---- ABI version 1 ------------------------------------------------ */
    const char *name;        /* matches the module file name: gantry-backend-NAME */
    const char *description; /* one line */

    /* A score for automatic selection: 0 = cannot run here; reference is 10,
     * a CPU backend ~50, a GPU backend ~100.  May write a one-line reason
     * into `why` (size `why_size`) when returning 0. */
    int (*probe)(const gantry_backend_options *opts, char *why, size_t why_size);

    /* Writes a human-readable multi-line description of the devices this
     * backend sees into `buf` (optional: may be NULL). */
    void (*describe)(const gantry_backend_options *opts, char *buf, size_t size);

    gantry_status (*create)(const gantry_backend_options *opts, void **ctx);
    void (*destroy)(void *ctx);

    /* Buffers.  Sizes and offsets of read/write/copy are in bytes. */
    gantry_status (*buffer_alloc)(void *ctx, size_t bytes, void **buf);
    void (*buffer_free)(void *ctx, void *buf);
    gantry_status (*buffer_write)(void *ctx, void *buf, size_t offset, const void *src, size_t bytes);
    gantry_status (*buffer_read)(void *ctx, void *buf, size_t offset, void *dst, size_t bytes);
    gantry_status (*buffer_copy)(void *ctx, void *dst, size_t dst_offset, void *src, size_t src_offset,
                                 size_t bytes);
    gantry_status (*fill)(void *ctx, gantry_mem x, size_t n, float value);

    /* C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is M x K,
     * op(B) is K x N.  lda/ldb/ldc are row strides of the stored matrices.
     * beta == 0 means C is not read (it may hold NaN). */
    gantry_status (*gemm)(void *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                          gantry_mem a, size_t lda, gantry_mem b, size_t ldb, float beta, gantry_mem c,
                          size_t ldc);

    /* x is [outer, channels, inner]; x[o, c, i] += bias[c]. */
    gantry_status (*bias_add)(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels,
                              size_t inner);
    /* dbias[c] = beta * dbias[c] + sum over o, i of dy[o, c, i]; beta is 0 or 1. */
    gantry_status (*bias_grad)(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels,
                               size_t inner, float beta);

    /* y = f(x); may run in place (y == x). */
    gantry_status (*activation_forward)(void *ctx, gantry_activation act, float param, gantry_mem x,
                                        gantry_mem y, size_t n);
    /* dx = f'(x) * dy, using x (ReLU, LeakyReLU) or y = f(x) (tanh,
     * sigmoid); dx may alias dy. */
    gantry_status (*activation_backward)(void *ctx, gantry_activation act, float param, gantry_mem x,
                                         gantry_mem y, gantry_mem dy, gantry_mem dx, size_t n);

    /* Batch normalisation of x [outer, channels, inner] per channel over
     * outer*inner values (outer >= 1, outer*inner >= 2 in training).
     * Training: normalises with the batch statistics, stores mean and
     * 1/sqrt(var_biased + eps) in save_mean/save_invstd, and updates
     * running = (1 - momentum) * running + momentum * stat, with the unbiased
     * variance for running_var (PyTorch's convention). */
    gantry_status (*batchnorm_forward_train)(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
                                             gantry_mem beta, gantry_mem running_mean, gantry_mem running_var,
                                             gantry_mem save_mean, gantry_mem save_invstd, size_t outer,
                                             size_t channels, size_t inner, float momentum, float eps);
    gantry_status (*batchnorm_forward_eval)(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
                                            gantry_mem beta, gantry_mem running_mean, gantry_mem running_var,
                                            size_t outer, size_t channels, size_t inner, float eps);
    /* Backward of the training forward.  dx is overwritten; dgamma and
     * dbeta become grad_beta * old + new (grad_beta is 0 or 1). */
    gantry_status (*batchnorm_backward)(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma,
                                        gantry_mem save_mean, gantry_mem save_invstd, gantry_mem dx,
                                        gantry_mem dgamma, gantry_mem dbeta, size_t outer, size_t channels,
                                        size_t inner, float grad_beta);

    /* Elementwise; outputs may alias inputs. */
    gantry_status (*add)(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n);
    gantry_status (*mul)(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n);
    gantry_status (*scale)(void *ctx, gantry_mem x, gantry_mem y, float alpha, size_t n);
    /* y += alpha * x */
    gantry_status (*axpy)(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n);

    /* out[0] = sum (or mean) of x[0..n). */
    gantry_status (*sum)(void *ctx, gantry_mem x, gantry_mem out, size_t n);
    gantry_status (*mean)(void *ctx, gantry_mem x, gantry_mem out, size_t n);

    /* Binary cross-entropy on logits against a constant target t:
     * out[0] = mean_i max(x,0) - x*t + log(1 + exp(-|x|)). */
    gantry_status (*bce_logits_forward)(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out);
    /* dx = scale * (sigmoid(x) - t) / n; scale carries the sign and weight
     * of this loss term in the objective. */
    gantry_status (*bce_logits_backward)(void *ctx, gantry_mem x, size_t n, float target, float scale,
                                         gantry_mem dx);

    /* Optimizer updates, PyTorch's formulas (torch.optim, foreach off).
     * g += weight_decay * p is applied first when weight_decay != 0. */
    /* v = momentum * v + g; p -= lr * v  (v unused when momentum == 0). */
    gantry_status (*sgd_update)(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr,
                                float momentum, float weight_decay);
    /* m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
     * p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
     * step counts from 1. */
    gantry_status (*adam_update)(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n,
                                 float lr, float beta1, float beta2, float eps, float weight_decay,
                                 uint64_t step);
    /* sq = alpha sq + (1-alpha) g^2;  p -= lr * g / (sqrt(sq) + eps). */
    gantry_status (*rmsprop_update)(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                    float alpha, float eps, float weight_decay);
    /* x = min(max(x, lo), hi) */
    gantry_status (*clamp)(void *ctx, gantry_mem x, size_t n, float lo, float hi);

    /* Philox4x32-10 fills, exactly as gantry/philox.h lays out the stream. */
    gantry_status (*rand_uniform)(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo,
                                  float hi);
    gantry_status (*rand_normal)(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset,
                                 float mean, float std);

    /* Waits until every queued op has finished. */
    gantry_status (*synchronize)(void *ctx);

    /* ---- ABI version 2: convolutions, reshuffles, more losses ----------- */

    /* Unfolds image patches for convolution as GEMM.  x is [n, c, h, w];
     * col is [c*kh*kw, n*oh*ow]: row (ci*kh + ki)*kw + kj, column
     * (b*oh + oy)*ow + ox holds x[b, ci, oy*sh - ph + ki, ox*sw - pw + kj],
     * or 0 where that falls in the padding. */
    gantry_status (*im2col)(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g);
    /* The adjoint of im2col: x = beta * x + the sum, for every image
     * position, of the col entries im2col reads from it (padding entries
     * are dropped).  beta is 0 or 1. */
    gantry_status (*col2im)(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta);
    /* x is [a, b, inner]; y[j, i, k] = x[i, j, k] (y is [b, a, inner]).
     * y does not alias x. */
    gantry_status (*swap_axes)(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner);
    /* y[r*ldy + i] = x[r*ldx + i] for r < rows, i < cols (strided copy for
     * concatenation along dimension 1 and its gradient).  cols <= ldx, ldy;
     * the copied regions do not overlap. */
    gantry_status (*copy_rows)(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows,
                               size_t cols);

    /* out[0] = mean over i < n of (x-t)^2 (MSE) or |x-t| (L1). */
    gantry_status (*regression_loss_forward)(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                             gantry_mem out);
    /* dx = scale * 2 (x - t) / n (MSE) or scale * sign(x - t) / n (L1,
     * sign(0) = sign(NaN) = 0, as torch.sign); dx may alias x. */
    gantry_status (*regression_loss_backward)(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t,
                                              size_t n, float scale, gantry_mem dx);

    /* Softmax cross-entropy of logits x [rows, k] against target
     * probabilities t [rows, k]: out[0] = mean over rows of
     * -sum_j t[r, j] log softmax(x[r])_j, where log softmax(x[r])_j =
     * x[r, j] - lse(x[r]) (lse as logsumexp_forward) in IEEE arithmetic and
     * terms with t[r, j] == 0 contribute nothing (so -Inf logits there are
     * harmless; +Inf or NaN in a row makes its terms NaN). */
    gantry_status (*softmax_ce_forward)(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k,
                                        gantry_mem out);
    /* dx[r, j] = scale / rows * (softmax(x[r])_j * sum_i t[r, i] - t[r, j]). */
    gantry_status (*softmax_ce_backward)(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                         gantry_mem dx);
    /* out[r] = lse(x[r]) = log sum_j exp(x[r, j]) for x [rows, k]; with
     * non-finite logits as torch.logsumexp: NaN when the row holds a NaN,
     * else +Inf when it holds +Inf, -Inf when all are -Inf.  The softmax of
     * the gradients is exp(x[r, j] - lse(x[r])) in IEEE arithmetic: NaN where
     * x[r, j] and lse are the same infinity, 0 at other entries of such rows. */
    gantry_status (*logsumexp_forward)(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k);
    /* dx[r, j] = dout[r] * softmax(x[r])_j. */
    gantry_status (*logsumexp_backward)(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows,
                                        size_t k);

    /* Inverted dropout mask: mask[i] = u_i >= p ? 1 / (1 - p) : 0, with u_i
     * the uniforms in [0, 1) that rand_uniform(seed, offset) draws; 0 <= p < 1. */
    gantry_status (*dropout_mask)(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset);

    /* Minibatch discrimination (Salimans et al. 2016).  m is [n, b, c];
     * o[i, k] = sum over j < n of exp(-sum_l |m[i, k, l] - m[j, k, l]|)
     * (j == i included), o is [n, b]. */
    gantry_status (*minibatch_disc_forward)(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c);
    /* dm = the gradient of sum_{i,k} dout[i, k] o[i, k] with respect to m:
     * dm[i, k, l] = -sum_j (dout[i, k] + dout[j, k]) e_ijk sign(m[i,k,l] - m[j,k,l])
     * with e_ijk = exp(-sum_l |m[i,k,l] - m[j,k,l]|).  dm is overwritten. */
    gantry_status (*minibatch_disc_backward)(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n,
                                             size_t b, size_t c);

    /* Batch normalisation with given per-channel statistics (reference and
     * virtual batch norm): y = (x - mean) * invstd * gamma + beta. */
    gantry_status (*batchnorm_forward_frozen)(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma,
                                              gantry_mem beta, gantry_mem mean, gantry_mem invstd, size_t outer,
                                              size_t channels, size_t inner);
    /* Its backward with the statistics held constant: dx = dy gamma invstd
     * (overwritten); dgamma, dbeta = grad_beta * old + sum of dy (x-mean)
     * invstd and of dy. */
    gantry_status (*batchnorm_backward_frozen)(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma,
                                               gantry_mem mean, gantry_mem invstd, gantry_mem dx, gantry_mem dgamma,
                                               gantry_mem dbeta, size_t outer, size_t channels, size_t inner,
                                               float grad_beta);

    /* Virtual batch norm (Salimans et al. 2016): example o of x [outer,
     * channels, inner] is normalised per channel with the statistics of a
     * reference batch together with its own inner values.  The reference
     * batch had ref_count values per channel, mean ref_mean and
     * ref_invstd = 1/sqrt(var_r + eps) as batchnorm_forward_train saves them:
     *   n = ref_count + inner,  S = sum_i x[o, c, i],  Q = sum_i x[o, c, i]^2,
     *   mean = (ref_count ref_mean + S) / n,
     *   var = max((ref_count (var_r + ref_mean^2) + Q) / n - mean^2, 0),
     *   y = gamma (x - mean) / sqrt(var + eps) + beta.
     * save_mean and save_invstd [outer, channels] receive mean and
     * 1/sqrt(var + eps). */
    gantry_status (*vbn_forward)(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                 gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                                 gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps);
    /* Its backward with the reference statistics held constant; with
     * xhat = (x - mean) invstd and sums over the example's own inner values:
     *   dx = gamma invstd (dy - sum_i dy / n - xhat sum_i (dy xhat) / n)
     * (overwritten); dgamma, dbeta = grad_beta * old + the sums over outer
     * and inner of dy xhat and of dy. */
    gantry_status (*vbn_backward)(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                  gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                  size_t ref_count, size_t outer, size_t channels, size_t inner, float grad_beta);

    /* ---- ABI version 3: convolutions as whole ops ---------------------- */

    /* A convolution without bias of x [n, c, h, w] (geometry g) by w
     * [o, c, kh, kw] (o = out_channels), defined by the version-2 ops with W
     * the [o, c*kh*kw] matrix of w:
     *   conv2d_forward:         y [n, o, oh, ow] = swap_axes(W im2col(x))
     *   conv2d_backward_data:   dx [n, c, h, w] = col2im(W^T swap_axes(dy))
     *   conv2d_backward_weight: dw = beta dw + swap_axes(dy) im2col(x)^T
     * with dy [n, o, oh, ow] and beta 0 or 1; y and dx are overwritten.
     * `kept` (gantry_conv_kept) says what the caller knows is still in
     * work from the last op given it, so a backend that left its column
     * matrix or swapped output side there (the sequence does) need not
     * compute them again, as layers kept them between their passes before
     * version 3. */
    gantry_status (*conv2d_forward)(void *ctx, gantry_mem x, gantry_mem w, gantry_mem y, size_t out_channels,
                                    const gantry_conv_geometry *g, gantry_mem work, unsigned kept);
    gantry_status (*conv2d_backward_data)(void *ctx, gantry_mem dy, gantry_mem w, gantry_mem dx, size_t out_channels,
                                          const gantry_conv_geometry *g, gantry_mem work, unsigned kept);
    gantry_status (*conv2d_backward_weight)(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem dw,
                                            size_t out_channels, const gantry_conv_geometry *g, float beta,
                                            gantry_mem work, unsigned kept);

    /* ---- ABI version 4: batch norm with the activation after it -------- */

    /* y = f(batchnorm_forward_train(x)) with f = act(param) applied to each
     * normalised value after its rounding to float, as the two ops give it;
     * act is GANTRY_ACT_RELU, or GANTRY_ACT_LEAKY_RELU with param >= 0.
     * The normalised values are not stored. */
    gantry_status (*batchnorm_act_forward_train)(void *ctx, gantry_activation act, float param, gantry_mem x,
                                                 gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                                 gantry_mem running_mean, gantry_mem running_var,
                                                 gantry_mem save_mean, gantry_mem save_invstd, size_t outer,
                                                 size_t channels, size_t inner, float momentum, float eps);
    /* Its backward: batchnorm_backward with dy replaced by
     * activation_backward's dx = f'(.) dy, where y is the forward's output:
     * f' is 1 where y > 0, else 0 (ReLU) or param (LeakyReLU), which is f'
     * of the normalised value for these activations.  dx may alias dy. */
    gantry_status (*batchnorm_act_backward)(void *ctx, gantry_activation act, float param, gantry_mem x,
                                            gantry_mem y, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                            gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma,
                                            gantry_mem dbeta, size_t outer, size_t channels, size_t inner,
                                            float grad_beta);
} gantry_backend_ops;

typedef const gantry_backend_ops *(*gantry_backend_entry_fn)(void);

/* Every method after destroy(), in table order, with its op family: the
 * files of every backend (backends/NAME/FAMILY.c), of the check harness
 * (tools/check/FAMILY.c), of the core's checks (core/ops/FAMILY.c) and of
 * the OpenCL kernels (cl/FAMILY.cl) are named by it.  All of them are
 * required.  One list generates the loader's check for missing methods,
 * the backends' tables and declarations (below) and the check harness's
 * coverage; the assertions after it fail the build when the list and the
 * struct disagree (a method missing from either, or out of order). */
#define GANTRY_BACKEND_OPS(X)                                                                          \
    X(buffer_alloc, memory) X(buffer_free, memory) X(buffer_write, memory) X(buffer_read, memory)      \
    X(buffer_copy, memory) X(fill, elementwise) X(gemm, gemm) X(bias_add, elementwise)                  \
    X(bias_grad, elementwise) X(activation_forward, elementwise) X(activation_backward, elementwise)    \
    X(batchnorm_forward_train, norm) X(batchnorm_forward_eval, norm) X(batchnorm_backward, norm)        \
    X(add, elementwise) X(mul, elementwise) X(scale, elementwise) X(axpy, elementwise)                  \
    X(sum, elementwise) X(mean, elementwise) X(bce_logits_forward, loss) X(bce_logits_backward, loss)  \
    X(sgd_update, optim) X(adam_update, optim) X(rmsprop_update, optim) X(clamp, elementwise)           \
    X(rand_uniform, random) X(rand_normal, random) X(synchronize, memory) X(im2col, conv)               \
    X(col2im, conv) X(swap_axes, conv) X(copy_rows, conv) X(regression_loss_forward, loss)             \
    X(regression_loss_backward, loss) X(softmax_ce_forward, loss) X(softmax_ce_backward, loss)         \
    X(logsumexp_forward, loss) X(logsumexp_backward, loss) X(dropout_mask, random)                     \
    X(minibatch_disc_forward, minibatch) X(minibatch_disc_backward, minibatch)                         \
    X(batchnorm_forward_frozen, norm) X(batchnorm_backward_frozen, norm) X(vbn_forward, norm)           \
    X(vbn_backward, norm) X(conv2d_forward, conv) X(conv2d_backward_data, conv)                        \
    X(conv2d_backward_weight, conv) X(batchnorm_act_forward_train, norm) X(batchnorm_act_backward, norm)

/* The function type of method `name`, to declare an implementation:
 *   GANTRY_BACKEND_METHOD_TYPE(fill) my_fill;
 * A backend's table and declarations from the list, for functions named
 * PREFIX_METHOD (a missing one fails the build):
 *   #define MY_DECLARE(name, family) extern GANTRY_BACKEND_METHOD_TYPE(name) my_##name;
 *   GANTRY_BACKEND_OPS(MY_DECLARE)
 *   #define MY_ENTRY(name, family) .name = my_##name,
 *   static const gantry_backend_ops table = { ..., GANTRY_BACKEND_OPS(MY_ENTRY) }; */
#define GANTRY_BACKEND_METHOD_TYPE(name) __typeof__(*((gantry_backend_ops *)0)->name)

#ifndef __cplusplus
#define GANTRY__OPS_SLOT(name, family) void (*name)(void);
struct gantry__backend_ops_slots {
    GANTRY_BACKEND_OPS(GANTRY__OPS_SLOT)
};
#undef GANTRY__OPS_SLOT
#define GANTRY__OPS_AT(name, family)                                                                   \
    _Static_assert(offsetof(gantry_backend_ops, name) - offsetof(gantry_backend_ops, buffer_alloc) ==  \
                       offsetof(struct gantry__backend_ops_slots, name),                               \
                   "GANTRY_BACKEND_OPS: '" #name "' is not where gantry_backend_ops has it");
GANTRY_BACKEND_OPS(GANTRY__OPS_AT)
#undef GANTRY__OPS_AT
_Static_assert(sizeof(gantry_backend_ops) - offsetof(gantry_backend_ops, buffer_alloc) ==
                   sizeof(struct gantry__backend_ops_slots),
               "gantry_backend_ops has a method that GANTRY_BACKEND_OPS does not list");
#endif

#ifdef __cplusplus
}
#endif
#endif
