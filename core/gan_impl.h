/* Internal: the GAN struct shared by the trainer and the checkpoint code. */
#ifndef GANTRY_GAN_IMPL_H
#define GANTRY_GAN_IMPL_H

#include "core/tensor_impl.h"
#include "gantry/gan.h"

struct gantry_gan {
    gantry_backend *be;
    gantry_gan_config config;
    gantry_seq *g, *d;
    gantry_optim *opt_g, *opt_d;
    uint64_t steps;
    uint64_t noise_offset; /* next Philox block of the training noise stream */
    /* Step tensors, allocated once. */
    gantry_tensor *real, *z, *dlogits, *probs, *scalar;
};

#endif
