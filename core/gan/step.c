/* The training step: Algorithm 1 of Goodfellow et al. (d_steps
 * discriminator updates, then one generator update, unrolled with
 * --unroll), or the family's own step; the public step functions. */
#include <math.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"

gantry_status gantry__gan_g_step(gantry_gan *gan, double *g_loss)
{
    gantry_tensor *fake, *out, *dx, *dimage;
    const gantry_tensor *in;
    gantry__seq_defer_zero_grad(gan->g);
    GANTRY_TRY(gantry__gan_generate(gan, &fake));
    GANTRY_TRY(gantry__gan_d_input(gan, fake, &in));
    GANTRY_TRY(gantry_seq_forward(gan->d, in, 1, &out));
    if (gan->fm) {
        GANTRY_TRY(gantry__gan_fm_backward(gan, g_loss, &dx));
    } else {
        GANTRY_TRY(gan->family->g_loss(gan, out, g_loss));
        GANTRY_TRY(gantry_seq_backward(gan->d, gan->dlogits, 0, &dx));
    }
    GANTRY_TRY(gantry__gan_image_grad(gan, dx, &dimage));
    GANTRY_TRY(gantry__gan_g_backward(gan, dimage));
    return gantry__gan_update(gan, gan->g, gan->opt_g);
}

gantry_status gantry__gan_update(gantry_gan *gan, gantry_seq *net, gantry_optim *opt)
{
    if (gan->grad_hook)
        GANTRY_TRY(gan->grad_hook(gan->grad_user, gan, net, 0));
    GANTRY_TRY(gantry_optim_step(opt));
    return gan->grad_hook ? gan->grad_hook(gan->grad_user, gan, net, 1) : GANTRY_OK;
}

uint64_t gantry__gan_shard_draw(const gantry_gan *gan, uint64_t *offset, uint64_t blocks)
{
    uint64_t mine = *offset + (uint64_t)gan->shard_rank * blocks;
    *offset += (uint64_t)gan->shard_world * blocks;
    return mine;
}

gantry_status gantry_gan_set_data_parallel(gantry_gan *gan, unsigned rank, unsigned world,
                                           gantry_gan_grad_hook hook, void *user)
{
    if (!gan || world == 0 || rank >= world)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_set_data_parallel: rank %u of %u", rank, world);
    gan->shard_rank = rank;
    gan->shard_world = world;
    gan->grad_hook = hook;
    gan->grad_user = user;
    return GANTRY_OK;
}

static gantry_status step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc)
{
    const gantry_gan_config *c = &gan->config;
    size_t per_batch = gantry_tensor_numel(gan->real);
    gantry__gan_g_pair_reset(gan); /* a step that failed half-way leaves no fake behind */
    if (gan->conditional && !labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: training needs the labels of the real images",
                                c->model);
    if (gan->family->step)
        return gan->family->step(gan, real, labels, acc);
    for (unsigned k = 0; k < c->d_steps; k++)
        GANTRY_TRY(gantry__gan_d_step(gan, real + (size_t)k * per_batch,
                                      labels ? labels + (size_t)k * c->batch : NULL, acc));
    if (!gan->unroll)
        return gantry__gan_g_step(gan, &acc->g_loss);
    return gantry__gan_unrolled_g_step(gan, real + (size_t)(c->d_steps - 1) * per_batch,
                                       labels ? labels + (size_t)(c->d_steps - 1) * c->batch : NULL, &acc->g_loss);
}

gantry_status gantry_gan_train_step_labeled(gantry_gan *gan, const float *real, const uint8_t *labels,
                                            gantry_gan_stats *stats)
{
    if (!gan || !real)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_train_step: NULL argument");
    gantry_gan_stats acc = { 0 };
    GANTRY_TRY(step(gan, real, labels, &acc));
    double n = gan->config.d_steps;
    acc.d_loss /= n;
    acc.d_real /= n;
    acc.d_fake /= n;
    acc.wasserstein /= n;
    acc.d_class /= n;
    gan->steps++;
    if (stats)
        *stats = acc;
    if (!isfinite(acc.d_loss) || !isfinite(acc.g_loss))
        return gantry_set_error(GANTRY_NUMERIC, "training step %llu: loss is not finite (d_loss %g, g_loss %g)",
                                (unsigned long long)gan->steps, acc.d_loss, acc.g_loss);
    return GANTRY_OK;
}

gantry_status gantry_gan_train_step(gantry_gan *gan, const float *real, gantry_gan_stats *stats)
{
    return gantry_gan_train_step_labeled(gan, real, NULL, stats);
}

gantry_status gantry_gan_set_labeled(gantry_gan *gan, const float *images, const uint8_t *labels, size_t n)
{
    if (!gan || !images || !labels || !n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_set_labeled: NULL argument or no examples");
    if (!gan->family->set_labeled)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: only sgan trains on labelled examples", gan->config.model);
    return gan->family->set_labeled(gan, images, labels, n);
}
