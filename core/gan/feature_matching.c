/* Feature matching (Salimans et al. 2016): G minimises
 * || E f(x) - E f(G(z)) ||^2 over D's penultimate features f, instead of
 * its adversarial loss. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"

struct gan_fm {
    gantry_tensor *ones;      /* [N, 1] of 1: feature means as products */
    gantry_tensor *feat_real; /* [1, F]: mean D features of the last real batch */
    gantry_tensor *feat_fake; /* [1, F] */
    gantry_tensor *dfeat;     /* [N, F] */
};

gantry_status gantry__gan_fm_create(gantry_gan *gan)
{
    if (!gan->config.feature_matching)
        return GANTRY_OK;
    struct gan_fm *fm = gan->fm = gantry__gan_calloc(1, sizeof *fm);
    if (!fm)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(gan->be, &fm->ones, gan->config.batch, 1, 0, 0));
    return gantry_op_fill(fm->ones, 1.0f);
}

void gantry__gan_fm_destroy(gantry_gan *gan)
{
    struct gan_fm *fm = gan->fm;
    if (!fm)
        return;
    gantry_tensor *tensors[] = { fm->ones, fm->feat_real, fm->feat_fake, fm->dfeat };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    free(fm);
    gan->fm = NULL;
}

/* The layer whose output feature matching uses: the one before D's last
 * layer with parameters, whose input is D's last features (the Linear of
 * the MLP and 28x28 networks, the 4x4 Conv of the all-convolutional ones,
 * after which only a Flatten may come).  Parameter names begin with their
 * layer's index ("12.weight"). */
static size_t feature_layer(const gantry_gan *gan)
{
    const gantry_param *last = gantry_seq_param(gan->d, gantry_seq_param_count(gan->d) - 1);
    return (size_t)strtoul(last->name, NULL, 10) - 1;
}

/* out [1, F] = the mean of D's features over the first batch of its last
 * forward pass (the real rows of a stacked pass). */
static gantry_status feature_mean(gantry_gan *gan, gantry_tensor **out)
{
    gantry_tensor *feat = gantry_seq_output(gan->d, feature_layer(gan));
    size_t n = gan->config.batch, f = gantry_tensor_numel(feat) / feat->shape[0];
    GANTRY_TRY(gantry__ensure_tensor(gan->be, out, 2, (size_t[]){ 1, f }));
    gantry_tensor all = gantry__as_matrix(feat, f), feat2 = gantry__rows(&all, 0, n);
    return gantry_op_gemm(1, 0, 1.0f / (float)n, gan->fm->ones, &feat2, 0.0f, *out);
}

gantry_status gantry__gan_fm_record_real(gantry_gan *gan)
{
    return feature_mean(gan, &gan->fm->feat_real);
}

/* The loss; the gradient of D's feature output goes to fm->dfeat. */
static gantry_status feature_matching_loss(gantry_gan *gan, double *loss)
{
    struct gan_fm *fm = gan->fm;
    if (!fm->feat_real)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "feature matching: no real batch seen yet");
    GANTRY_TRY(feature_mean(gan, &fm->feat_fake));
    size_t n = gan->config.batch, f = gantry_tensor_numel(fm->feat_fake);
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, fm->feat_fake, fm->feat_real, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, loss));
    *loss *= (double)f;
    GANTRY_TRY(gantry_op_axpy(-1.0f, fm->feat_real, fm->feat_fake)); /* now the difference */
    GANTRY_TRY(gantry__ensure_tensor(gan->be, &fm->dfeat, 2, (size_t[]){ n, f }));
    return gantry_op_gemm(0, 0, 2.0f / (float)n, fm->ones, fm->feat_fake, 0.0f, fm->dfeat);
}

gantry_status gantry__gan_fm_backward(gantry_gan *gan, double *loss, gantry_tensor **dx)
{
    GANTRY_TRY(feature_matching_loss(gan, loss));
    return gantry_seq_backward_from(gan->d, feature_layer(gan), gan->fm->dfeat, 0, dx);
}
