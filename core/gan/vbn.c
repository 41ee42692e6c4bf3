/* Virtual and reference batch norm in G (--vbn, Salimans et al. 2016;
 * --ref-bn, the NIPS 2016 GAN tutorial): a fixed reference batch of noise
 * that G runs before each training forward pass, setting the statistics its
 * batch norm layers use next. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

/* The reference batch's own Philox stream. */
#define REFERENCE_STREAM 0x7662726566ull

struct gan_vbn {
    gantry_tensor *z;  /* [N, z_dim] */
    uint8_t *labels;   /* conditional models: labels cycling through the classes */
};

gantry_status gantry__gan_vbn_create(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    if (!c->vbn)
        return GANTRY_OK;
    GANTRY_TRY(gantry_seq_set_virtual_batchnorm(gan->g, c->vbn));
    struct gan_vbn *v = gan->vbn = gantry__gan_calloc(1, sizeof *v);
    if (!v)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(gan->be, &v->z, c->batch, c->z_dim, 0, 0));
    GANTRY_TRY(gantry_op_rand_normal(v->z, c->seed ^ REFERENCE_STREAM, 0, 0.0f, 1.0f));
    if (!gan->conditional)
        return GANTRY_OK;
    if (!(v->labels = gantry__gan_calloc(c->batch, 1)))
        return GANTRY_OUT_OF_MEMORY;
    for (size_t i = 0; i < c->batch; i++)
        v->labels[i] = (uint8_t)(i % c->classes);
    return GANTRY_OK;
}

void gantry__gan_vbn_destroy(gantry_gan *gan)
{
    if (!gan->vbn)
        return;
    gantry_tensor_destroy(gan->vbn->z);
    free(gan->vbn->labels);
    free(gan->vbn);
    gan->vbn = NULL;
}

gantry_status gantry__gan_vbn_pass(gantry_gan *gan)
{
    gantry_tensor *in, *out;
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, gan->vbn->labels, gan->config.batch));
    GANTRY_TRY(gantry__gan_g_input(gan, gan->vbn->z, &in));
    return gantry_seq_forward(gan->g, in, GANTRY_FORWARD_REFERENCE, &out);
}
