/* gantry: layers and the Sequential container.
 *
 * Layers have explicit forward and backward passes.  A Sequential owns its
 * layers, their parameters, gradients and the activations of the last
 * forward pass; outputs returned by forward/backward are owned by the
 * Sequential and stay valid until the next call with another batch size
 * or until it is destroyed.  Parameter names follow PyTorch's state_dict of
 * the equivalent torch.nn.Sequential ("0.weight", "3.running_mean"). */
#ifndef GANTRY_NN_H
#define GANTRY_NN_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/backend.h"
#include "gantry/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gantry_seq gantry_seq;

/* One state_dict entry: a float tensor, or (for BatchNorm's
 * num_batches_tracked) a host int64 counter with tensor == NULL. */
typedef struct gantry_param {
    char name[64];
    gantry_tensor *value;
    gantry_tensor *grad; /* NULL for buffers (running statistics, counters) */
    int64_t *counter;    /* non-NULL only for int64 scalar buffers */
} gantry_param;

GANTRY_API gantry_status gantry_seq_create(gantry_backend *be, gantry_seq **out);
GANTRY_API void gantry_seq_destroy(gantry_seq *seq);

/* Appending layers; each becomes the next index of the Sequential. */
GANTRY_API gantry_status gantry_seq_add_linear(gantry_seq *seq, size_t in_features, size_t out_features);
/* BatchNorm1d over [N, C] (or BatchNorm2d over [N, C, H, W]); PyTorch's
 * defaults are eps 1e-5, momentum 0.1. */
GANTRY_API gantry_status gantry_seq_add_batchnorm(gantry_seq *seq, size_t features, float eps, float momentum);
/* ReLU, LeakyReLU(param = negative slope), Tanh, Sigmoid. */
GANTRY_API gantry_status gantry_seq_add_activation(gantry_seq *seq, gantry_activation act, float param);
/* nn.Flatten(): [N, ...] -> [N, prod(...)] */
GANTRY_API gantry_status gantry_seq_add_flatten(gantry_seq *seq);
/* nn.Unflatten(1, shape): [N, prod(shape)] -> [N, shape...], ndim <= 3. */
GANTRY_API gantry_status gantry_seq_add_unflatten(gantry_seq *seq, int ndim, const size_t *shape);

/* nn.Conv2d(in, out, k, stride, padding) on [N, in, H, W]; weight [out, in, k, k]. */
GANTRY_API gantry_status gantry_seq_add_conv2d(gantry_seq *seq, size_t in, size_t out, size_t k, size_t stride,
                                               size_t padding);
/* nn.ConvTranspose2d(in, out, k, stride, padding); weight [in, out, k, k];
 * output size (H - 1) stride - 2 padding + k. */
GANTRY_API gantry_status gantry_seq_add_conv_transpose2d(gantry_seq *seq, size_t in, size_t out, size_t k,
                                                         size_t stride, size_t padding);
/* Either convolution with every setting: bias=False (no_bias) drops the
 * bias, as for a convolution that feeds a batch norm, whose shift makes a
 * bias redundant (the DCGAN paper's code).  A 2-D input [N, in] is taken
 * as [N, in, 1, 1] (a latent vector into the first ConvTranspose2d). */
typedef struct gantry_conv_spec {
    size_t in, out, kernel, stride, padding;
    int transposed; /* ConvTranspose2d, else Conv2d */
    int no_bias;
} gantry_conv_spec;
GANTRY_API gantry_status gantry_seq_add_conv(gantry_seq *seq, const gantry_conv_spec *spec);
/* nn.Dropout(p): inverted dropout in training, identity in evaluation. */
GANTRY_API gantry_status gantry_seq_add_dropout(gantry_seq *seq, float p);
/* Minibatch discrimination (Salimans et al. 2016): [N, in] -> [N, in + kernels],
 * parameter "T" of [in, kernels, dims]. */
GANTRY_API gantry_status gantry_seq_add_minibatch_disc(gantry_seq *seq, size_t in, size_t kernels, size_t dims);

/* PyTorch's default initialisation (Linear: kaiming_uniform(a=sqrt(5)) for
 * weights, U(+-1/sqrt(fan_in)) for biases; BatchNorm: weight 1, bias 0,
 * running mean 0, var 1), drawn on the host from Philox (seed, *offset);
 * *offset advances past what was drawn. */
GANTRY_API gantry_status gantry_seq_init(gantry_seq *seq, uint64_t seed, uint64_t *offset);

/* The DCGAN initialisation (Radford et al. 2015) after gantry_seq_init:
 * Linear, Conv2d and ConvTranspose2d weights N(0, std), their biases 0,
 * BatchNorm weights N(1, std) and biases 0. */
GANTRY_API gantry_status gantry_seq_init_normal(gantry_seq *seq, float std, uint64_t seed, uint64_t *offset);

/* Runs the layers on x ([N, ...] on the Sequential's backend).  training:
 * batch statistics in BatchNorm (and running-statistic updates); otherwise
 * running statistics.  training == GANTRY_FORWARD_REFERENCE is the
 * reference pass of virtual batch norm: as training, and BatchNorm layers
 * in virtual mode keep the batch statistics as their reference.  *y is
 * owned by the Sequential. */
#define GANTRY_FORWARD_REFERENCE 2
GANTRY_API gantry_status gantry_seq_forward(gantry_seq *seq, const gantry_tensor *x, int training,
                                            gantry_tensor **y);

/* Backpropagates dy (the gradient of the loss with respect to the last
 * forward's output).  param_grads: add parameter gradients into the grad
 * tensors (they accumulate until gantry_seq_zero_grad); 0 skips them, for
 * a model that only passes gradients through.  dx may be NULL when the
 * gradient with respect to the input is not needed; otherwise *dx is owned
 * by the Sequential. */
GANTRY_API gantry_status gantry_seq_backward(gantry_seq *seq, const gantry_tensor *dy, int param_grads,
                                             gantry_tensor **dx);
GANTRY_API gantry_status gantry_seq_zero_grad(gantry_seq *seq);

/* The output of layer `layer` in the last forward pass (owned by the
 * Sequential), e.g. a discriminator's features for feature matching.
 * NULL for a BatchNorm that a training forward ran together with the ReLU
 * or LeakyReLU after it (one op writes that activation's output alone). */
GANTRY_API gantry_tensor *gantry_seq_output(gantry_seq *seq, size_t layer);
/* As gantry_seq_backward, with dy the gradient of the output of layer
 * `layer`: backpropagates through layers `layer` down to 0. */
GANTRY_API gantry_status gantry_seq_backward_from(gantry_seq *seq, size_t layer, const gantry_tensor *dy,
                                                  int param_grads, gantry_tensor **dx);

/* The trainable parameters (value + grad), in state_dict order. */
GANTRY_API size_t gantry_seq_param_count(const gantry_seq *seq);
GANTRY_API const gantry_param *gantry_seq_param(const gantry_seq *seq, size_t i);
/* Every state_dict entry: parameters and buffers, in state_dict order. */
GANTRY_API size_t gantry_seq_state_count(const gantry_seq *seq);
GANTRY_API const gantry_param *gantry_seq_state(const gantry_seq *seq, size_t i);

GANTRY_API size_t gantry_seq_layer_count(const gantry_seq *seq);
/* "Linear(100, 128)", "LeakyReLU(0.2)", ... into buf. */
GANTRY_API const char *gantry_seq_layer_describe(const gantry_seq *seq, size_t i, char *buf, size_t size);

/* How BatchNorm layers normalise in training. */
typedef enum gantry_bn_mode {
    GANTRY_BN_BATCH = 0,     /* the batch's statistics (ordinary batch norm) */
    /* Virtual batch norm (Salimans et al. 2016): each example with the
     * statistics of the last reference pass together with its own values. */
    GANTRY_BN_VIRTUAL = 1,
    /* Reference batch norm (NIPS 2016 GAN tutorial): every example with the
     * statistics of the last reference pass alone. */
    GANTRY_BN_REFERENCE = 2,
} gantry_bn_mode;

/* Sets the mode of every BatchNorm layer.  The reference pass is
 * gantry_seq_forward with GANTRY_FORWARD_REFERENCE; gradients treat its
 * statistics as constants.  Evaluation uses the running statistics, which
 * only the reference passes update in these modes. */
GANTRY_API gantry_status gantry_seq_set_virtual_batchnorm(gantry_seq *seq, gantry_bn_mode mode);

/* Synchronised batch norm for data-parallel training (PyTorch's
 * SyncBatchNorm): every BatchNorm layer's batch statistics become those of
 * the rows of every process, through `reduce`, which must sum `count`
 * doubles over the processes in place (the same calls in the same order on
 * each).  Per channel it sums the values and their squares in the forward
 * pass and dy and dy * xhat in the backward pass.  NULL turns it off. */
typedef gantry_status (*gantry_stats_reduce)(void *user, double *values, size_t count);
GANTRY_API gantry_status gantry_seq_set_batchnorm_sync(gantry_seq *seq, gantry_stats_reduce reduce, void *user);

/* Clamps every trainable parameter into [lo, hi] (WGAN weight clipping). */
GANTRY_API gantry_status gantry_seq_clamp_params(gantry_seq *seq, float lo, float hi);

#ifdef __cplusplus
}
#endif
#endif
