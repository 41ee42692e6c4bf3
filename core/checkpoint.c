/* GAN checkpoints as safetensors with PyTorch state_dict names. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gan/gan_impl.h"

#define CHECKPOINT_FORMAT "gantry-checkpoint-1"

/* gantry_bn_mode's values, as the metadata spells them. */
static const char *const bn_mode_names[3] = { "batch", "virtual", "reference" };

/* Each state entry of G and D, named with its prefix. */
static size_t collect_state(gantry_gan *gan, state_ref *refs, size_t cap)
{
    size_t n = 0;
    const struct {
        const char *prefix;
        gantry_seq *seq;
    } models[] = { { "G.", gan->g }, { "D.", gan->d } };
    for (size_t m = 0; m < 2; m++) {
        /* The models are the library's own: a larger one is a bug here. */
        assert(n + gantry_seq_state_count(models[m].seq) <= cap);
        for (size_t i = 0; i < gantry_seq_state_count(models[m].seq) && n < cap; i++) {
            const gantry_param *p = gantry_seq_state(models[m].seq, i);
            snprintf(refs[n].name, sizeof refs[n].name, "%s%s", models[m].prefix, p->name);
            refs[n].param = p;
            n++;
        }
    }
    return n;
}

#define MAX_STATE 128
#define MAX_META 32

gantry_status gantry__st_write_refs(const char *path, const state_ref *refs, size_t count, const gantry_st_meta *meta,
                                   size_t meta_count)
{
    gantry_st_tensor *tensors = calloc(count ? count : 1, sizeof *tensors);
    float **buffers = calloc(count ? count : 1, sizeof *buffers);
    gantry_status s = (tensors && buffers) ? GANTRY_OK
                                           : gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of host memory", path);
    for (size_t i = 0; !s && i < count; i++) {
        const gantry_param *p = refs[i].param;
        gantry_st_tensor *t = &tensors[i];
        t->name = refs[i].name;
        if (p->counter) {
            t->dtype = GANTRY_DTYPE_I64;
            t->ndim = 0;
            t->data = p->counter;
            continue;
        }
        t->dtype = GANTRY_DTYPE_F32;
        t->ndim = gantry_tensor_ndim(p->value);
        for (int d = 0; d < t->ndim; d++)
            t->shape[d] = gantry_tensor_dim(p->value, d);
        size_t n = gantry_tensor_numel(p->value);
        buffers[i] = malloc(n * sizeof(float));
        if (!buffers[i])
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of host memory", path);
        else
            s = gantry_tensor_read(p->value, buffers[i], n);
        t->data = buffers[i];
    }
    if (!s)
        s = gantry_safetensors_write(path, tensors, count, meta, meta_count);
    for (size_t i = 0; buffers && i < count; i++)
        free(buffers[i]);
    free(buffers);
    free(tensors);
    return s;
}

gantry_status gantry__st_write_refs_extra(const char *path, const state_ref *refs, size_t count,
                                         const gantry_st_meta *meta, size_t meta_count, const gantry_st_meta *extra,
                                         size_t extra_count)
{
    gantry_st_meta *all = calloc(meta_count + extra_count + 1, sizeof *all);
    if (!all)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of host memory", path);
    for (size_t i = 0; i < meta_count; i++)
        all[i] = meta[i];
    for (size_t i = 0; i < extra_count; i++)
        all[meta_count + i] = extra[i];
    gantry_status s = gantry__st_write_refs(path, refs, count, all, meta_count + extra_count);
    free(all);
    return s;
}

gantry_status gantry_gan_save(gantry_gan *gan, const char *path, const gantry_st_meta *extra, size_t extra_count)
{
    if (!gan || !path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_save: NULL argument");
    state_ref refs[MAX_STATE];
    size_t count = collect_state(gan, refs, MAX_STATE);
    gantry_st_meta meta[MAX_META];
    const gantry_gan_config *c = &gan->config;
    char values[MAX_META][64];
    size_t nm = 0;
#define META(k, ...) GANTRY__META_ADD(meta, values, nm, k, __VA_ARGS__)
    META("format", "%s", CHECKPOINT_FORMAT);
    META("model", "%s", c->model);
    META("z_dim", "%zu", c->z_dim);
    META("image_shape", "%zu,%zu,%zu", c->channels, c->height, c->width);
    META("batch", "%zu", c->batch);
    META("d_steps", "%u", c->d_steps);
    META("g_loss", "%s", c->g_loss == GANTRY_G_LOSS_MINIMAX ? "minimax" : "nonsat");
    META("lr", "%.9g", (double)c->lr);
    META("betas", "%.9g,%.9g", (double)c->beta1, (double)c->beta2);
    META("seed", "%" PRIu64, c->seed);
    META("classes", "%zu", c->classes);
    META("width", "%zu", c->base_channels);
    META("minibatch_disc", "%d", c->minibatch_disc);
    META("began_hidden", "%zu", c->began_hidden);
    /* Training settings: what `gantry train --resume` continues with. */
    META("clip", "%.9g", (double)c->clip);
    META("label_smoothing", "%.9g", (double)c->label_smoothing);
    META("feature_matching", "%d", c->feature_matching);
    META("batchnorm_mode", "%s", bn_mode_names[c->vbn]);
    META("unroll", "%u", c->unroll);
    META("began_gamma", "%.9g", (double)c->began_gamma);
    META("began_lambda_k", "%.9g", (double)c->began_lambda_k);
    META("step", "%" PRIu64, gan->steps);
    META("noise_offset", "%" PRIu64, gan->noise_offset);
    META("backend", "%s", gan->be->name);
#undef META
    return gantry__st_write_refs_extra(path, refs, count, meta, nm, extra, extra_count);
}

static gantry_status meta_size(const gantry_safetensors *st, const char *key, size_t *out)
{
    uint64_t x;
    GANTRY_TRY(gantry_safetensors_meta_u64(st, key, 1, &x));
    *out = (size_t)x;
    return GANTRY_OK;
}

static gantry_status config_from_metadata(const gantry_safetensors *st, const char *path, gantry_gan_config *c)
{
    const char *format = gantry_safetensors_meta(st, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: not a gantry checkpoint (metadata format is %s%s%s)",
                                path, format ? "'" : "missing", format ? format : "", format ? "'" : "");
    const char *model = gantry_safetensors_meta(st, "model");
    if (!model)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'model' is missing", path);
    gantry_status s = gantry_gan_defaults(model, c);
    if (s)
        return gantry_set_error(s, "%s: %s", path, gantry_last_error());
    size_t d_steps = 0;
    if ((s = meta_size(st, "z_dim", &c->z_dim)) || (s = meta_size(st, "batch", &c->batch)) ||
        (s = meta_size(st, "d_steps", &d_steps)))
        return s;
    c->d_steps = (unsigned)d_steps;
    const char *shape = gantry_safetensors_meta(st, "image_shape");
    if (!shape || sscanf(shape, "%zu,%zu,%zu", &c->channels, &c->height, &c->width) != 3 || !c->channels ||
        !c->height || !c->width)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'image_shape' is missing or not C,H,W", path);
    const char *g_loss = gantry_safetensors_meta(st, "g_loss");
    c->g_loss = (g_loss && strcmp(g_loss, "minimax") == 0) ? GANTRY_G_LOSS_MINIMAX : GANTRY_G_LOSS_NONSAT;
    const char *lr = gantry_safetensors_meta(st, "lr"), *betas = gantry_safetensors_meta(st, "betas");
    if (lr)
        c->lr = strtof(lr, NULL);
    if (betas)
        sscanf(betas, "%f,%f", &c->beta1, &c->beta2);
    const char *seed = gantry_safetensors_meta(st, "seed");
    if (seed)
        c->seed = strtoull(seed, NULL, 10);
    /* Architecture settings of the variants; older checkpoints lack them
     * and keep the model's defaults. */
    const char *v;
    if ((v = gantry_safetensors_meta(st, "classes")))
        c->classes = strtoull(v, NULL, 10);
    if ((v = gantry_safetensors_meta(st, "width")) && strtoull(v, NULL, 10))
        c->base_channels = strtoull(v, NULL, 10);
    if ((v = gantry_safetensors_meta(st, "minibatch_disc")))
        c->minibatch_disc = atoi(v) != 0;
    if ((v = gantry_safetensors_meta(st, "began_hidden")) && strtoull(v, NULL, 10))
        c->began_hidden = strtoull(v, NULL, 10);
    if ((v = gantry_safetensors_meta(st, "clip")))
        c->clip = strtof(v, NULL);
    if ((v = gantry_safetensors_meta(st, "label_smoothing")))
        c->label_smoothing = strtof(v, NULL);
    if ((v = gantry_safetensors_meta(st, "feature_matching")))
        c->feature_matching = atoi(v) != 0;
    if ((v = gantry_safetensors_meta(st, "batchnorm_mode"))) {
        size_t m = 0;
        while (m < 3 && strcmp(v, bn_mode_names[m]) != 0)
            m++;
        if (m == 3)
            return gantry_set_error(GANTRY_CORRUPT_FILE,
                                    "%s: metadata 'batchnorm_mode' is '%s', not batch, virtual or reference", path, v);
        c->vbn = (gantry_bn_mode)m;
    }
    if ((v = gantry_safetensors_meta(st, "unroll")))
        c->unroll = (unsigned)strtoul(v, NULL, 10);
    if ((v = gantry_safetensors_meta(st, "began_gamma")))
        c->began_gamma = strtof(v, NULL);
    if ((v = gantry_safetensors_meta(st, "began_lambda_k")))
        c->began_lambda_k = strtof(v, NULL);
    return GANTRY_OK;
}

gantry_status gantry__st_load_ref(const gantry_safetensors *st, const char *path, const state_ref *ref)
{
    const gantry_st_tensor *t = gantry_safetensors_find(st, ref->name);
    const gantry_param *p = ref->param;
    if (!t)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor '%s' is missing", path, ref->name);
    if (p->counter) {
        if (t->dtype != GANTRY_DTYPE_I64 || t->ndim != 0)
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor '%s' should be an I64 scalar", path, ref->name);
        memcpy(p->counter, t->data, sizeof *p->counter);
        return GANTRY_OK;
    }
    int ndim = gantry_tensor_ndim(p->value);
    int same = t->dtype == GANTRY_DTYPE_F32 && t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == gantry_tensor_dim(p->value, d);
    if (!same)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor '%s' has the wrong dtype or shape for this model",
                                path, ref->name);
    /* The file's bytes may not be float-aligned; copy before writing. */
    size_t n = gantry_tensor_numel(p->value);
    float *host = malloc(n * sizeof *host);
    if (!host)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of host memory", path);
    memcpy(host, t->data, n * sizeof *host);
    gantry_status s = gantry_tensor_write(p->value, host, n);
    free(host);
    return s;
}

gantry_status gantry_gan_load(gantry_backend *be, const char *path, gantry_gan **out)
{
    if (!be || !path || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_load: NULL argument");
    *out = NULL;
    gantry_safetensors *st;
    gantry_status s = gantry_safetensors_read(path, &st);
    if (s)
        return s;
    gantry_gan_config config;
    gantry_gan *gan = NULL;
    s = config_from_metadata(st, path, &config);
    if (!s)
        s = gantry_gan_create(be, &config, &gan);
    if (!s) {
        state_ref refs[MAX_STATE];
        size_t count = collect_state(gan, refs, MAX_STATE);
        for (size_t i = 0; !s && i < count; i++)
            s = gantry__st_load_ref(st, path, &refs[i]);
        const char *step = gantry_safetensors_meta(st, "step");
        if (step)
            gan->steps = strtoull(step, NULL, 10);
    }
    gantry_safetensors_destroy(st);
    if (s) {
        gantry_gan_destroy(gan);
        return s;
    }
    *out = gan;
    return GANTRY_OK;
}
