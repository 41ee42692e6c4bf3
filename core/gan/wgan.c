/* Wasserstein GAN (Arjovsky et al. 2017): a critic without sigmoid that
 * maximises E[f(x)] - E[f(G(z))], trained with RMSProp, several critic
 * steps per generator step and weight clipping (Algorithm 1 of the paper). */
#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

static void defaults(gantry_gan_config *c)
{
    c->optimizer = GANTRY_OPTIM_RMSPROP;
    c->lr = 5e-5f;
    c->d_steps = 5;
    c->clip = 0.01f;
}

static gantry_status check(const gantry_gan_config *c)
{
    if (c->label_smoothing != 1.0f)
        return gantry_set_error(GANTRY_UNSUPPORTED, "wgan: the critic has no targets to smooth");
    return GANTRY_OK;
}

/* The critic's mean score into *mean and, scaled by `sign`, its gradient
 * (sign / N for every row) into dout. */
static gantry_status mean_score(gantry_gan *gan, const gantry_tensor *out, float sign, gantry_tensor *dout,
                                double *mean)
{
    GANTRY_TRY(gantry_op_mean(out, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, mean));
    return gantry_op_fill(dout, sign / (float)gan->config.batch);
}

static gantry_status d_loss(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out)
{
    GANTRY_TRY(mean_score(gan, out, real ? -1.0f : 1.0f, dout, mean_out));
    *loss = real ? -*mean_out : *mean_out;
    return GANTRY_OK;
}

static gantry_status g_loss(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    double m;
    GANTRY_TRY(mean_score(gan, out, -1.0f, gan->dlogits, &m));
    *loss = -m;
    return GANTRY_OK;
}

/* The paper's estimate of the distance: mean critic(x) - mean critic(G(z)). */
static void d_stats(gantry_gan_stats *acc, double out_real, double out_fake)
{
    acc->wasserstein += out_real - out_fake;
}

const gan_family gantry__gan_wgan = {
    .defaults = defaults,
    .check = check,
    .d_loss = d_loss,
    .g_loss = g_loss,
    .d_stats = d_stats,
};
