/* The semi-supervised GAN (Salimans et al. 2016): D has a logit per class
 * and D(x) = Z / (Z + 1) = sigmoid(logsumexp(logits)), Z the sum of their
 * exponentials; D's objective adds the cross-entropy of a batch drawn from
 * the labelled examples to the unlabelled and the fake terms. */
#include <stdlib.h>
#include <string.h>

#include "core/gan/gan_impl.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

struct sgan_state {
    gantry_tensor *lse, *dlse; /* [N, 1]: logsumexp of the logits, and its gradient */
    /* The labelled set on the host, and its batch tensors. */
    float *labeled_images;
    uint8_t *labeled_labels;
    size_t labeled_n;
    gantry_tensor *lab_real, *lab_target;
    float *lab_host; /* [N * (C*H*W + classes)] */
};

static gantry_status create(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    gantry_backend *be = gan->be;
    size_t n = c->batch;
    struct sgan_state *st = gan->family_state = gantry__gan_calloc(1, sizeof *st);
    if (!st)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(be, &st->lse, n, 1, 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &st->dlse, n, 1, 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &st->lab_real, n, c->channels, c->height, c->width));
    GANTRY_TRY(gantry_tensor_new(be, &st->lab_target, n, c->classes, 0, 0));
    st->lab_host = gantry__gan_calloc(n * (gantry__gan_image_numel(c) + c->classes), sizeof(float));
    return st->lab_host ? GANTRY_OK : GANTRY_OUT_OF_MEMORY;
}

static void destroy(gantry_gan *gan)
{
    struct sgan_state *st = gan->family_state;
    if (!st)
        return;
    gantry_tensor *tensors[] = { st->lse, st->dlse, st->lab_real, st->lab_target };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    free(st->labeled_images);
    free(st->labeled_labels);
    free(st->lab_host);
    free(st);
    gan->family_state = NULL;
}

static gantry_status d_loss(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out)
{
    struct sgan_state *st = gan->family_state;
    float target = real ? gan->config.label_smoothing : 0.0f;
    GANTRY_TRY(gantry_op_logsumexp_forward(out, st->lse));
    GANTRY_TRY(gantry__gan_bce_d_loss(gan, st->lse, target, st->dlse, st->dlse, loss, mean_out));
    return gantry_op_logsumexp_backward(out, st->dlse, dout);
}

static gantry_status g_loss(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    struct sgan_state *st = gan->family_state;
    GANTRY_TRY(gantry_op_logsumexp_forward(out, st->lse));
    GANTRY_TRY(gantry__gan_bce_g_loss(gan, st->lse, st->dlse, loss));
    return gantry_op_logsumexp_backward(out, st->dlse, gan->dlogits);
}

/* A batch drawn from the labelled set into lab_real and lab_target. */
static gantry_status draw_labeled(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    struct sgan_state *st = gan->family_state;
    size_t n = c->batch, chw = gantry__gan_image_numel(c), k = c->classes;
    float *images = st->lab_host, *targets = st->lab_host + n * chw;
    uint64_t offset = gantry__gan_shard_draw(gan, &gan->label_offset, gantry_philox_uniform_blocks(n));
    for (size_t i = 0; i < n; i++) {
        float u = gantry_philox_uniform(c->seed ^ GANTRY__LABEL_STREAM, offset, i, 0.0f, (float)st->labeled_n);
        size_t j = (size_t)u < st->labeled_n ? (size_t)u : st->labeled_n - 1;
        memcpy(images + i * chw, st->labeled_images + j * chw, chw * sizeof *images);
        for (size_t l = 0; l < k; l++)
            targets[i * k + l] = l == st->labeled_labels[j] ? 1.0f : 0.0f;
    }
    GANTRY_TRY(gantry_tensor_write(st->lab_real, images, n * chw));
    return gantry_tensor_write(st->lab_target, targets, n * k);
}

/* The supervised cross-entropy on a labelled batch, backpropagated into D. */
static gantry_status labeled_term(gantry_gan *gan, gantry_gan_stats *acc)
{
    struct sgan_state *st = gan->family_state;
    if (!st->labeled_n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "sgan: no labelled examples (gantry_gan_set_labeled; gantry train --labeled N)");
    GANTRY_TRY(draw_labeled(gan));
    gantry_tensor *out;
    double ce;
    GANTRY_TRY(gantry_seq_forward(gan->d, st->lab_real, 1, &out));
    GANTRY_TRY(gantry_op_softmax_ce_forward(out, st->lab_target, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, &ce));
    GANTRY_TRY(gantry_op_softmax_ce_backward(out, st->lab_target, 1.0f, gan->dlogits));
    GANTRY_TRY(gantry_seq_backward(gan->d, gan->dlogits, 1, NULL));
    acc->d_class += ce;
    acc->d_loss += ce;
    return GANTRY_OK;
}

static gantry_status set_labeled(gantry_gan *gan, const float *images, const uint8_t *labels, size_t n)
{
    const gantry_gan_config *c = &gan->config;
    struct sgan_state *st = gan->family_state;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= c->classes)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "sgan: label %u of example %zu outside 0..%zu",
                                    (unsigned)labels[i], i, c->classes - 1);
    size_t chw = gantry__gan_image_numel(c);
    float *im = malloc(n * chw * sizeof *im);
    uint8_t *lb = malloc(n);
    if (!im || !lb) {
        free(im);
        free(lb);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_set_labeled: out of host memory");
    }
    memcpy(im, images, n * chw * sizeof *im);
    memcpy(lb, labels, n);
    free(st->labeled_images);
    free(st->labeled_labels);
    st->labeled_images = im;
    st->labeled_labels = lb;
    st->labeled_n = n;
    return GANTRY_OK;
}

const gan_family gantry__gan_sgan = {
    .d_classes = 1,
    .create = create,
    .destroy = destroy,
    .d_loss = d_loss,
    .d_extra_term = labeled_term,
    .g_loss = g_loss,
    .set_labeled = set_labeled,
};
