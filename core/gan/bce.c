/* The binary cross-entropy family (gan, cgan, dcgan, cdcgan; Goodfellow et
 * al. 2014): D's logit against target 1 (or the smoothed label) for real
 * data and 0 for fakes; G's non-saturating or minimax objective. */
#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

/* The family's state: D's probabilities [N, 1], for their mean. */
static gantry_tensor *d_probs(const gantry_gan *gan)
{
    return gan->family_state;
}

gantry_status gantry__gan_bce_d_loss(gantry_gan *gan, const gantry_tensor *logit, float target, gantry_tensor *probs,
                                     gantry_tensor *dlogit, double *loss, double *mean_out)
{
    GANTRY_TRY(gantry_op_bce_logits_forward(logit, target, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, loss));
    GANTRY_TRY(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0.0f, logit, probs));
    GANTRY_TRY(gantry_op_mean(probs, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, mean_out));
    return gantry_op_bce_logits_backward(logit, target, 1.0f, dlogit);
}

gantry_status gantry__gan_bce_g_loss(gantry_gan *gan, const gantry_tensor *logit, gantry_tensor *dlogit,
                                     double *loss)
{
    if (gan->config.g_loss == GANTRY_G_LOSS_MINIMAX) { /* log(1 - D(G(z))) = -BCE(logit, 0) */
        GANTRY_TRY(gantry_op_bce_logits_forward(logit, 0.0f, gan->scalar));
        GANTRY_TRY(gantry__gan_item(gan, loss));
        *loss = -*loss;
        return gantry_op_bce_logits_backward(logit, 0.0f, -1.0f, dlogit);
    }
    GANTRY_TRY(gantry_op_bce_logits_forward(logit, 1.0f, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, loss));
    return gantry_op_bce_logits_backward(logit, 1.0f, 1.0f, dlogit);
}

static gantry_status d_loss(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out)
{
    float target = real ? gan->config.label_smoothing : 0.0f;
    return gantry__gan_bce_d_loss(gan, out, target, d_probs(gan), dout, loss, mean_out);
}

static gantry_status g_loss(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    return gantry__gan_bce_g_loss(gan, out, gan->dlogits, loss);
}

const gan_family gantry__gan_bce = {
    .create = gantry__gan_output_scratch_create,
    .destroy = gantry__gan_output_scratch_destroy,
    .d_loss = d_loss,
    .g_loss = g_loss,
};
