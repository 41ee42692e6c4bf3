/* Conditioning (cgan, cdcgan; Mirza & Osindero 2014): one-hot labels
 * concatenated to G's noise, and to D's input as a vector (MLP) or as
 * label planes (conv), with the fake batch's labels drawn uniformly. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

struct gan_cond {
    gantry_tensor *g_in;   /* [N, z_dim + classes]: [z, one-hot] */
    gantry_tensor *d_in;   /* [N, D's input]: [image, labels] */
    gantry_tensor *onehot; /* [N, classes] */
    gantry_tensor *planes; /* conv: [N, classes * H * W] label planes */
    gantry_tensor *dimage; /* [N, C, H, W]: D's input gradient, image part */
    float *host_labels;    /* [N * classes * H * W] scratch for one-hots and planes */
    uint8_t *fake_labels;  /* [N] */
};

gantry_status gantry__gan_cond_create(gantry_gan *gan)
{
    if (!gan->conditional)
        return GANTRY_OK;
    const gantry_gan_config *c = &gan->config;
    gantry_backend *be = gan->be;
    size_t n = c->batch, k = c->classes, hw = c->height * c->width;
    struct gan_cond *cd = gan->cond = gantry__gan_calloc(1, sizeof *cd);
    if (!cd)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(be, &cd->g_in, n, c->z_dim + k, 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &cd->onehot, n, k, 0, 0));
    GANTRY_TRY(gantry_tensor_new(be, &cd->dimage, n, c->channels, c->height, c->width));
    if (gan->conv) {
        GANTRY_TRY(gantry_tensor_new(be, &cd->planes, n, k * hw, 0, 0));
        GANTRY_TRY(gantry_tensor_new(be, &cd->d_in, n, c->channels + k, c->height, c->width));
    } else {
        GANTRY_TRY(gantry_tensor_new(be, &cd->d_in, n, gantry__gan_image_numel(c) + k, 0, 0));
    }
    if (!(cd->host_labels = gantry__gan_calloc(n * k * (gan->conv ? hw : 1), sizeof(float))) ||
        !(cd->fake_labels = gantry__gan_calloc(n, 1)))
        return GANTRY_OUT_OF_MEMORY;
    return GANTRY_OK;
}

void gantry__gan_cond_destroy(gantry_gan *gan)
{
    struct gan_cond *cd = gan->cond;
    if (!cd)
        return;
    gantry_tensor *tensors[] = { cd->g_in, cd->d_in, cd->onehot, cd->planes, cd->dimage };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    free(cd->host_labels);
    free(cd->fake_labels);
    free(cd);
    gan->cond = NULL;
}

gantry_status gantry__gan_condition(gantry_gan *gan, const uint8_t *labels, size_t n)
{
    const gantry_gan_config *c = &gan->config;
    struct gan_cond *cd = gan->cond;
    size_t k = c->classes, hw = c->height * c->width;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= k)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: label %u of image %zu outside 0..%zu", c->model,
                                    (unsigned)labels[i], i, k - 1);
    float *h = cd->host_labels;
    for (size_t i = 0; i < n * k; i++)
        h[i] = (i % k) == labels[i / k] ? 1.0f : 0.0f;
    GANTRY_TRY(gantry_tensor_write(cd->onehot, h, n * k));
    if (!cd->planes)
        return GANTRY_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            for (size_t p = 0; p < hw; p++)
                h[(i * k + j) * hw + p] = j == labels[i] ? 1.0f : 0.0f;
    return gantry_tensor_write(cd->planes, h, n * k * hw);
}

gantry_status gantry__gan_condition_padded(gantry_gan *gan, const uint8_t *labels, size_t m)
{
    size_t n = gan->config.batch;
    for (size_t i = 0; i < n; i++)
        gan->cond->fake_labels[i] = labels[i < m ? i : 0];
    return gantry__gan_condition(gan, gan->cond->fake_labels, n);
}

uint8_t *gantry__gan_fake_labels(gantry_gan *gan)
{
    return gan->cond ? gan->cond->fake_labels : NULL;
}

void gantry__gan_draw_labels(gantry_gan *gan, uint8_t *labels)
{
    const gantry_gan_config *c = &gan->config;
    uint64_t offset = gantry__gan_shard_draw(gan, &gan->label_offset, gantry_philox_uniform_blocks(c->batch));
    for (size_t i = 0; i < c->batch; i++) {
        float u = gantry_philox_uniform(c->seed ^ GANTRY__LABEL_STREAM, offset, i, 0.0f, (float)c->classes);
        labels[i] = (uint8_t)(u < (float)c->classes ? u : (float)c->classes - 1.0f);
    }
}

gantry_status gantry__gan_g_input_into(gantry_gan *gan, const gantry_tensor *z, gantry_tensor *dst)
{
    const gantry_gan_config *c = &gan->config;
    size_t n = c->batch, k = c->classes;
    GANTRY_TRY(gantry_op_copy_rows(z, c->z_dim, 0, dst, c->z_dim + k, 0, n, c->z_dim));
    return gantry_op_copy_rows(gan->cond->onehot, k, 0, dst, c->z_dim + k, c->z_dim, n, k);
}

gantry_status gantry__gan_g_input(gantry_gan *gan, gantry_tensor *z, gantry_tensor **in)
{
    if (!gan->conditional) {
        *in = z;
        return GANTRY_OK;
    }
    GANTRY_TRY(gantry__gan_g_input_into(gan, z, gan->cond->g_in));
    *in = gan->cond->g_in;
    return GANTRY_OK;
}

/* Columns per row of D's conditional input. */
static size_t d_width(const gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    return gantry__gan_image_numel(c) + c->classes * (gan->conv ? c->height * c->width : 1);
}

gantry_status gantry__gan_d_input_into(gantry_gan *gan, const gantry_tensor *image, gantry_tensor *dst)
{
    const gantry_gan_config *c = &gan->config;
    size_t n = c->batch, chw = gantry__gan_image_numel(c), width = d_width(gan);
    const gantry_tensor *cond = gan->conv ? gan->cond->planes : gan->cond->onehot;
    GANTRY_TRY(gantry_op_copy_rows(image, chw, 0, dst, width, 0, n, chw));
    return gantry_op_copy_rows(cond, width - chw, 0, dst, width, chw, n, width - chw);
}

gantry_status gantry__gan_d_input(gantry_gan *gan, const gantry_tensor *image, const gantry_tensor **in)
{
    if (!gan->conditional) {
        *in = image;
        return GANTRY_OK;
    }
    GANTRY_TRY(gantry__gan_d_input_into(gan, image, gan->cond->d_in));
    *in = gan->cond->d_in;
    return GANTRY_OK;
}

gantry_status gantry__gan_image_grad(gantry_gan *gan, gantry_tensor *dx, gantry_tensor **dimage)
{
    if (!gan->conditional) {
        *dimage = dx;
        return GANTRY_OK;
    }
    const gantry_gan_config *c = &gan->config;
    size_t chw = gantry__gan_image_numel(c);
    GANTRY_TRY(gantry_op_copy_rows(dx, d_width(gan), 0, gan->cond->dimage, chw, 0, c->batch, chw));
    *dimage = gan->cond->dimage;
    return GANTRY_OK;
}
