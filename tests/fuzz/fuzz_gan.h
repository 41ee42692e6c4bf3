/* The reference backend and the small GANs of the checkpoint and
 * training-state harnesses and of their seeds (make_seeds.c): every conv
 * model at width 1 and z_dim 4, so that a whole checkpoint is a few KB and
 * the fuzzer mutates metadata and shapes rather than weights.  (The MLP
 * models, gan and cgan, have fixed hidden widths: 2.7 MB at the least.) */
#ifndef GANTRY_FUZZ_GAN_H
#define GANTRY_FUZZ_GAN_H

#include <stdio.h>
#include <stdlib.h>

#include "gantry/gan.h"
#include "gantry/tensor.h"

static const char *const fuzz_gan_models[] = { "dcgan", "cdcgan", "wgan", "lsgan", "began", "sgan" };
#define FUZZ_GAN_MODELS (sizeof fuzz_gan_models / sizeof *fuzz_gan_models)

static gantry_status fuzz_gan_config(const char *model, gantry_gan_config *c)
{
    GANTRY_TRY(gantry_gan_defaults(model, c));
    c->z_dim = 4;
    c->base_channels = 1;
    c->batch = 2;
    c->began_hidden = 2;
    c->seed = 1;
    return GANTRY_OK;
}

/* The reference backend, opened once for the process (the harnesses run
 * from the build tree, where the loader finds it). */
static gantry_backend *fuzz_backend(void)
{
    static gantry_backend *be;
    if (!be && gantry_backend_open("reference", NULL, &be) != GANTRY_OK) {
        fprintf(stderr, "fuzz: cannot open the reference backend: %s\n", gantry_last_error());
        abort();
    }
    return be;
}

#endif
