/* Internal: the ABI version 2 ops of the reference backend (ref_v2.c). */
#ifndef GANTRY_REF_V2_H
#define GANTRY_REF_V2_H

#include "gantry/backend.h"

gantry_status ref_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g);
gantry_status ref_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta);
gantry_status ref_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner);
gantry_status ref_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols);
gantry_status ref_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out);
gantry_status ref_regression_loss_backward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                           float scale, gantry_mem dx);
gantry_status ref_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out);
gantry_status ref_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx);
gantry_status ref_logsumexp_forward(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k);
gantry_status ref_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k);
gantry_status ref_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset);
gantry_status ref_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c);
gantry_status ref_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t c);
gantry_status ref_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner);
gantry_status ref_batchnorm_backward_frozen(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem mean,
                                            gantry_mem invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                            size_t outer, size_t channels, size_t inner, float grad_beta);
gantry_status ref_vbn_forward(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                              gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps);
gantry_status ref_vbn_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                               gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                               size_t ref_count, size_t outer, size_t channels, size_t inner, float grad_beta);

#endif
