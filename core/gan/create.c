/* A GAN's life: creation (networks, initial weights, optimizers, the step
 * tensors of the model, its family and its tricks), destruction and the
 * accessors of the public API. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

void *gantry__gan_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p)
        gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    return p;
}

gantry_status gantry__gan_output_scratch_create(gantry_gan *gan)
{
    gantry_tensor *scratch = NULL;
    gantry_status s = gantry_tensor_new(gan->be, &scratch, gan->config.batch, gantry__gan_d_outputs(gan), 0, 0);
    gan->family_state = scratch;
    return s;
}

void gantry__gan_output_scratch_destroy(gantry_gan *gan)
{
    gantry_tensor_destroy(gan->family_state);
    gan->family_state = NULL;
}

static gantry_optim_config optim_config(const gantry_gan_config *c)
{
    gantry_optim_config o = gantry_optim_defaults(c->optimizer);
    o.lr = c->lr;
    if (c->optimizer == GANTRY_OPTIM_ADAM) {
        o.beta1 = c->beta1;
        o.beta2 = c->beta2;
    }
    return o;
}

/* G and D with their initial weights and optimizers. */
static gantry_status create_networks(gantry_gan *gan, const gantry_optim_config *oc, uint64_t *offset)
{
    const gantry_gan_config *c = &gan->config;
    GANTRY_TRY(gantry_seq_create(gan->be, &gan->g));
    GANTRY_TRY(gantry_seq_create(gan->be, &gan->d));
    GANTRY_TRY(gantry__gan_build_networks(gan));
    GANTRY_TRY(gantry_seq_init(gan->g, c->seed, offset));
    GANTRY_TRY(gantry_seq_init(gan->d, c->seed, offset));
    if (gan->conv) { /* Radford et al.: N(0, 0.02) weights, BN gamma N(1, 0.02) */
        GANTRY_TRY(gantry_seq_init_normal(gan->g, 0.02f, c->seed, offset));
        GANTRY_TRY(gantry_seq_init_normal(gan->d, 0.02f, c->seed, offset));
    }
    GANTRY_TRY(gantry_optim_create(gan->g, oc, &gan->opt_g));
    return gantry_optim_create(gan->d, oc, &gan->opt_d);
}

/* The step tensors every model has, then those of its tricks and family;
 * each trick's create leaves its state NULL when the model does without. */
static gantry_status create_step_state(gantry_gan *gan, const gantry_optim_config *oc)
{
    const gantry_gan_config *c = &gan->config;
    gantry_backend *be = gan->be;
    size_t n = c->batch;
    GANTRY_TRY(gantry__gan_d_stack_create(gan));
    if (!gan->real) /* not a view of D's stacked input */
        GANTRY_TRY(gantry_tensor_new(be, &gan->real, n, c->channels, c->height, c->width));
    GANTRY_TRY(gantry_tensor_new(be, &gan->z, n, c->z_dim, 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &gan->dlogits, n, gantry__gan_d_outputs(gan), 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &gan->scalar, 1, 0, 0, 0));
    GANTRY_TRY(gantry__gan_cond_create(gan));
    GANTRY_TRY(gantry__gan_g_pair_create(gan));
    GANTRY_TRY(gantry__gan_fm_create(gan));
    if (gan->family->create)
        GANTRY_TRY(gan->family->create(gan));
    GANTRY_TRY(gantry__gan_vbn_create(gan));
    return gantry__gan_unroll_create(gan, oc);
}

gantry_status gantry_gan_create(gantry_backend *be, const gantry_gan_config *config, gantry_gan **out)
{
    if (!be || !config || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_create: NULL argument");
    *out = NULL;
    const gan_model *m = gantry__gan_model(config->model);
    GANTRY_TRY(gantry__gan_check_config(config, m));
    gantry_gan *gan = gantry__gan_calloc(1, sizeof *gan);
    if (!gan)
        return GANTRY_OUT_OF_MEMORY;
    gan->be = be;
    gan->config = *config;
    gan->family = m->family;
    gan->conv = m->conv;
    gan->conditional = m->conditional;
    gan->shard_world = 1;
    gantry_optim_config oc = optim_config(&gan->config);
    uint64_t offset = 0;
    gantry_status s = create_networks(gan, &oc, &offset);
    if (!s)
        s = create_step_state(gan, &oc);
    if (s) {
        gantry_gan_destroy(gan);
        return s;
    }
    gan->noise_offset = offset;
    *out = gan;
    return GANTRY_OK;
}

void gantry_gan_destroy(gantry_gan *gan)
{
    if (!gan)
        return;
    gantry__gan_unroll_destroy(gan);
    gantry__gan_vbn_destroy(gan);
    if (gan->family->destroy)
        gan->family->destroy(gan);
    gantry__gan_fm_destroy(gan);
    gantry__gan_g_pair_destroy(gan);
    gantry__gan_cond_destroy(gan);
    gantry_tensor *tensors[] = { gan->real, gan->z, gan->dlogits, gan->scalar };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    gantry__gan_d_stack_destroy(gan); /* after gan->real, which may be a view of its input */
    gantry_optim_destroy(gan->opt_g);
    gantry_optim_destroy(gan->opt_d);
    gantry_seq_destroy(gan->g);
    gantry_seq_destroy(gan->d);
    free(gan);
}

const gantry_gan_config *gantry_gan_config_of(const gantry_gan *gan)
{
    return gan ? &gan->config : NULL;
}

gantry_seq *gantry_gan_generator(gantry_gan *gan)
{
    return gan ? gan->g : NULL;
}

gantry_seq *gantry_gan_discriminator(gantry_gan *gan)
{
    return gan ? gan->d : NULL;
}

size_t gantry_gan_d_update_rows(const gantry_gan *gan)
{
    if (!gan)
        return 0;
    return gan->d_stack ? 2 * gan->config.batch : gan->config.batch;
}

size_t gantry_gan_g_forward_rows(const gantry_gan *gan)
{
    if (!gan)
        return 0;
    return gan->g_pair ? 2 * gan->config.batch : gan->config.batch;
}

uint64_t gantry_gan_steps(const gantry_gan *gan)
{
    return gan ? gan->steps : 0;
}

int gantry_gan_is_conditional(const gantry_gan *gan)
{
    return gan && gan->conditional;
}
