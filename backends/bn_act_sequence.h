/* The version-4 ops batchnorm_act_forward_train and batchnorm_act_backward
 * as the two ops that define them in gantry/backend.h, through the
 * backend's own methods: the activation in place on y after the batch norm;
 * activation_backward (from y, whose sign is the normalised value's) into
 * dx, then batchnorm_backward in place on dx (each dx value comes from the
 * dy value at the same place, after the sums).  A backend without a fused
 * path defines them with
 *   BN_ACT_SEQUENCE_DEFINE(prefix)
 * for functions prefix_batchnorm_forward_train, prefix_activation_forward,
 * prefix_activation_backward and prefix_batchnorm_backward. */
#ifndef GANTRY_BACKENDS_BN_ACT_SEQUENCE_H
#define GANTRY_BACKENDS_BN_ACT_SEQUENCE_H

#include "gantry/backend.h"

#define BN_ACT_SEQUENCE_DEFINE(prefix)                                                                          \
    gantry_status prefix##_batchnorm_act_forward_train(                                                         \
        void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y, gantry_mem gamma,            \
        gantry_mem beta, gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,                 \
        gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float momentum, float eps)         \
    {                                                                                                           \
        GANTRY_TRY(prefix##_batchnorm_forward_train(ctx, x, y, gamma, beta, running_mean, running_var,          \
                                                    save_mean, save_invstd, outer, channels, inner, momentum,   \
                                                    eps));                                                      \
        return prefix##_activation_forward(ctx, act, param, y, y, outer * channels * inner);                    \
    }                                                                                                           \
    gantry_status prefix##_batchnorm_act_backward(void *ctx, gantry_activation act, float param, gantry_mem x,  \
                                                  gantry_mem y, gantry_mem dy, gantry_mem gamma,                \
                                                  gantry_mem save_mean, gantry_mem save_invstd, gantry_mem dx,  \
                                                  gantry_mem dgamma, gantry_mem dbeta, size_t outer,            \
                                                  size_t channels, size_t inner, float grad_beta)               \
    {                                                                                                           \
        GANTRY_TRY(prefix##_activation_backward(ctx, act, param, y, y, dy, dx, outer * channels * inner));      \
        return prefix##_batchnorm_backward(ctx, x, dx, gamma, save_mean, save_invstd, dx, dgamma, dbeta, outer, \
                                           channels, inner, grad_beta);                                         \
    }

#endif
