/* Unrolled GAN (Metz et al. 2017): D takes `unroll` more steps on the last
 * real batch, G updates against that D, then D returns to its snapshot.
 * First-order: G's gradient does not flow back through the unrolled D
 * updates, only through the unrolled D's output. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"

/* D's twin, which holds the snapshot, and its optimizer's. */
struct gan_unroll {
    gantry_seq *d_saved;
    gantry_optim *opt_saved;
};

gantry_status gantry__gan_unroll_create(gantry_gan *gan, const gantry_optim_config *oc)
{
    if (!gan->config.unroll)
        return GANTRY_OK;
    struct gan_unroll *u = gan->unroll = gantry__gan_calloc(1, sizeof *u);
    if (!u)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_seq_create(gan->be, &u->d_saved));
    GANTRY_TRY(gantry__gan_build_discriminator(gan, u->d_saved));
    return gantry_optim_create(u->d_saved, oc, &u->opt_saved);
}

void gantry__gan_unroll_destroy(gantry_gan *gan)
{
    if (!gan->unroll)
        return;
    gantry_optim_destroy(gan->unroll->opt_saved);
    gantry_seq_destroy(gan->unroll->d_saved);
    free(gan->unroll);
    gan->unroll = NULL;
}

/* dst's parameters and buffers = src's (two Sequentials of one architecture). */
static gantry_status copy_state(gantry_seq *dst, gantry_seq *src)
{
    for (size_t i = 0; i < gantry_seq_state_count(src); i++) {
        const gantry_param *from = gantry_seq_state(src, i), *to = gantry_seq_state(dst, i);
        if (from->counter)
            *to->counter = *from->counter;
        else
            GANTRY_TRY(gantry_tensor_copy(to->value, from->value));
    }
    return GANTRY_OK;
}

gantry_status gantry__gan_unrolled_g_step(gantry_gan *gan, const float *real, const uint8_t *labels,
                                          double *g_loss)
{
    struct gan_unroll *u = gan->unroll;
    gantry_gan_stats ignored = { 0 };
    GANTRY_TRY(copy_state(u->d_saved, gan->d));
    GANTRY_TRY(gantry_optim_copy_state(u->opt_saved, gan->opt_d));
    for (unsigned k = 0; k < gan->config.unroll; k++)
        GANTRY_TRY(gantry__gan_d_step(gan, real, labels, &ignored));
    GANTRY_TRY(gantry__gan_g_step(gan, g_loss));
    GANTRY_TRY(copy_state(gan->d, u->d_saved));
    return gantry_optim_copy_state(gan->opt_d, u->opt_saved);
}
