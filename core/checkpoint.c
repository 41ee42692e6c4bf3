/* GAN checkpoints as safetensors with PyTorch state_dict names.  A file is
 * never trusted: its metadata are parsed strictly and the networks they
 * describe are compared with its tensors before anything is built. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

/* ---- metadata, read strictly ---------------------------------------------- */

/* Limits on what a checkpoint may ask for: each far above any real network
 * of the models, and low enough that no size computed from them overflows.
 * The tensors decide the rest (gantry__st_check_plan). */
#define MAX_Z_DIM ((uint64_t)1 << 20)
#define MAX_BATCH 65536 /* as gantry train --batch */
#define MAX_CHANNELS 4096
#define MAX_SIDE 16384

/* The n comma-separated fields of metadata `key` into out: integers of
 * digits only in min..max (uint) or finite numbers in strtof's syntax with
 * nothing before or after (floats).  Absent: GANTRY_OK with out untouched,
 * unless `required`. */
static gantry_status meta_fields(const gantry_safetensors *st, const char *path, const char *key, size_t n,
                                 int required, uint64_t min, uint64_t max, uint64_t *uints, float *floats)
{
    const char *v = gantry_safetensors_meta(st, key);
    if (!v)
        return required ? gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s is missing", path, key) : GANTRY_OK;
    const char *p = v;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        if (uints) {
            uint64_t x = 0;
            ok = *p >= '0' && *p <= '9';
            for (; ok && *p >= '0' && *p <= '9'; p++) {
                unsigned digit = (unsigned)(*p - '0');
                ok = digit <= max && x <= (max - digit) / 10;
                x = x * 10 + digit;
            }
            ok = ok && x >= min;
            uints[i] = x;
        } else {
            char *end = NULL;
            errno = 0;
            ok = *p && !strchr(" \t\n\r\f\v", *p);
            floats[i] = ok ? strtof(p, &end) : 0.0f;
            ok = ok && end != p && !errno && isfinite(floats[i]);
            p = ok ? end : p;
        }
        ok = ok && (i + 1 < n ? *p == ',' : *p == '\0');
        if (!ok) {
            char range[64] = "";
            if (uints)
                snprintf(range, sizeof range, " in %" PRIu64 "..%" PRIu64, min, max);
            if (n == 1)
                return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s = '%.40s' is not %s%s", path, key, v,
                                        uints ? "an integer" : "a finite number", range);
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s = '%.40s' is not %zu %s%s separated by commas",
                                    path, key, v, n, uints ? "integers" : "finite numbers", range);
        }
        p++;
    }
    return GANTRY_OK;
}

gantry_status gantry__st_meta_uints(const gantry_safetensors *st, const char *path, const char *key, size_t n,
                                    int required, uint64_t min, uint64_t max, uint64_t *out)
{
    return meta_fields(st, path, key, n, required, min, max, out, NULL);
}

gantry_status gantry__st_meta_floats(const gantry_safetensors *st, const char *path, const char *key, size_t n,
                                     int required, float *out)
{
    return meta_fields(st, path, key, n, required, 0, 0, NULL, out);
}

/* One integer setting of any unsigned type: absent, it keeps its value. */
#define META_UINT(st, path, key, required, min, max, field)                                            \
    do {                                                                                                \
        uint64_t meta_v_ = (uint64_t)(field);                                                           \
        GANTRY_TRY(gantry__st_meta_uints(st, path, key, 1, required, min, max, &meta_v_));              \
        (field) = meta_v_;                                                                              \
    } while (0)

/* Metadata `key` as one of names[0..count): its index into *out. */
static gantry_status meta_enum(const gantry_safetensors *st, const char *path, const char *key,
                               const char *const *names, size_t count, int *out)
{
    const char *v = gantry_safetensors_meta(st, key);
    if (!v)
        return GANTRY_OK;
    for (size_t i = 0; i < count; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return GANTRY_OK;
        }
    char list[96] = "";
    for (size_t i = 0; i < count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? i + 1 < count ? ", " : " or " : "",
                 names[i]);
    return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s = '%.40s' is not %s", path, key, v, list);
}

static const char *const g_loss_names[2] = { "nonsat", "minimax" };

/* The configuration the checkpoint was saved with, every value checked for
 * its type and range; `step` into *step. */
static gantry_status config_from_metadata(const gantry_safetensors *st, const char *path, gantry_gan_config *c,
                                          uint64_t *step)
{
    const char *format = gantry_safetensors_meta(st, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: not a gantry checkpoint (metadata format is %s%.40s%s)",
                                path, format ? "'" : "missing", format ? format : "", format ? "'" : "");
    const char *model = gantry_safetensors_meta(st, "model");
    if (!model)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata model is missing", path);
    gantry_status s = gantry_gan_defaults(model, c);
    if (s)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata model: %s", path, gantry_last_error());
    uint64_t shape[3];
    GANTRY_TRY(gantry__st_meta_uints(st, path, "image_shape", 3, 1, 1, MAX_SIDE, shape));
    if (shape[0] > MAX_CHANNELS)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata image_shape = '%s' has more than %d channels", path,
                                gantry_safetensors_meta(st, "image_shape"), MAX_CHANNELS);
    c->channels = shape[0];
    c->height = shape[1];
    c->width = shape[2];
    META_UINT(st, path, "z_dim", 1, 1, MAX_Z_DIM, c->z_dim);
    META_UINT(st, path, "batch", 1, 2, MAX_BATCH, c->batch);
    META_UINT(st, path, "d_steps", 1, 1, 100, c->d_steps);
    /* Older checkpoints lack the settings below and keep the model's defaults. */
    META_UINT(st, path, "seed", 0, 0, UINT64_MAX, c->seed);
    META_UINT(st, path, "classes", 0, 0, 256, c->classes);
    META_UINT(st, path, "width", 0, 1, 4096, c->base_channels);
    META_UINT(st, path, "minibatch_disc", 0, 0, 1, c->minibatch_disc);
    META_UINT(st, path, "began_hidden", 0, 0, MAX_Z_DIM, c->began_hidden); /* 0 in the models without one */
    META_UINT(st, path, "feature_matching", 0, 0, 1, c->feature_matching);
    META_UINT(st, path, "unroll", 0, 0, 100, c->unroll);
    *step = 0;
    GANTRY_TRY(gantry__st_meta_uints(st, path, "step", 1, 0, 0, UINT64_MAX, step));
    float betas[2] = { c->beta1, c->beta2 };
    GANTRY_TRY(gantry__st_meta_floats(st, path, "lr", 1, 0, &c->lr));
    GANTRY_TRY(gantry__st_meta_floats(st, path, "betas", 2, 0, betas));
    c->beta1 = betas[0];
    c->beta2 = betas[1];
    GANTRY_TRY(gantry__st_meta_floats(st, path, "clip", 1, 0, &c->clip));
    GANTRY_TRY(gantry__st_meta_floats(st, path, "label_smoothing", 1, 0, &c->label_smoothing));
    GANTRY_TRY(gantry__st_meta_floats(st, path, "began_gamma", 1, 0, &c->began_gamma));
    GANTRY_TRY(gantry__st_meta_floats(st, path, "began_lambda_k", 1, 0, &c->began_lambda_k));
    int g_loss = c->g_loss == GANTRY_G_LOSS_MINIMAX, bn = (int)c->vbn;
    GANTRY_TRY(meta_enum(st, path, "g_loss", g_loss_names, 2, &g_loss));
    GANTRY_TRY(meta_enum(st, path, "batchnorm_mode", bn_mode_names, 3, &bn));
    c->g_loss = g_loss ? GANTRY_G_LOSS_MINIMAX : GANTRY_G_LOSS_NONSAT;
    c->vbn = (gantry_bn_mode)bn;
    /* What training would refuse (lr <= 0, classes for a model without
     * labels ...) is refused here, before anything is allocated. */
    if ((s = gantry__gan_check_config(c, gantry__gan_model(c->model))))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata: %s", path, gantry_last_error());
    return GANTRY_OK;
}

/* The metadata that decide the networks' shapes, for messages. */
static void network_keys(const gantry_gan_config *c, char *buf, size_t size)
{
    const gan_model *m = gantry__gan_model(c->model);
    size_t n = (size_t)snprintf(buf, size, "z_dim = %zu, image_shape = %zu,%zu,%zu", c->z_dim, c->channels, c->height,
                                c->width);
    if (n < size && c->classes)
        n += (size_t)snprintf(buf + n, size - n, ", classes = %zu", c->classes);
    if (n < size && m && m->conv)
        n += (size_t)snprintf(buf + n, size - n, ", width = %zu", c->base_channels);
    if (n < size && m && m->family == &gantry__gan_began)
        n += (size_t)snprintf(buf + n, size - n, ", began_hidden = %zu", c->began_hidden);
    if (n < size && c->minibatch_disc)
        snprintf(buf + n, size - n, ", minibatch_disc = 1");
}

/* G and D as the metadata describe them against the file's G.* and D.*
 * tensors, before either network exists. */
static gantry_status check_networks(const gantry_safetensors *st, const char *path, const gantry_gan_config *c)
{
    gantry_seq *g = NULL, *d = NULL;
    char keys[256];
    network_keys(c, keys, sizeof keys);
    gantry_status s = gantry__gan_plan_networks(c, &g, &d);
    if (!s)
        s = gantry__st_check_plan(st, path, g, "G.", keys);
    if (!s)
        s = gantry__st_check_plan(st, path, d, "D.", keys);
    gantry_seq_destroy(g);
    gantry_seq_destroy(d);
    return s;
}

static const char *dtype_str(gantry_dtype dtype)
{
    return dtype == GANTRY_DTYPE_I64 ? "I64" : "F32";
}

static const char *dims_str(int ndim, const size_t *shape, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %zu" : "%zu", shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

gantry_status gantry__st_check_plan(const gantry_safetensors *st, const char *path, const gantry_seq *plan,
                                    const char *prefix, const char *asked_by)
{
    size_t count = gantry__seq_plan_count(plan), plen = strlen(prefix);
    for (size_t i = 0; i < count; i++) {
        const plan_entry *e = gantry__seq_plan_entry(plan, i);
        char name[sizeof e->name + 16];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        const gantry_st_tensor *t = gantry_safetensors_find(st, name);
        if (!t)
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s asks for tensor %s, which the file lacks",
                                    path, asked_by, name);
        int same = t->dtype == e->dtype && t->ndim == e->ndim;
        for (int k = 0; same && k < e->ndim; k++)
            same = t->shape[k] == e->shape[k];
        if (!same) {
            char want[96], have[96];
            return gantry_set_error(GANTRY_CORRUPT_FILE,
                                    "%s: metadata %s does not match tensor %s: it asks for %s %s, the file has %s %s",
                                    path, asked_by, name, dtype_str(e->dtype), dims_str(e->ndim, e->shape, want, sizeof want),
                                    dtype_str(t->dtype), dims_str(t->ndim, t->shape, have, sizeof have));
        }
    }
    size_t in_file = 0;
    for (size_t i = 0; i < gantry_safetensors_count(st); i++)
        in_file += strncmp(gantry_safetensors_at(st, i)->name, prefix, plen) == 0;
    if (in_file != count)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata %s asks for %zu tensors %s*, the file has %zu", path,
                                asked_by, count, prefix, in_file);
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
    uint64_t step = 0;
    /* Nothing is allocated until the metadata and the tensors agree: a
     * file asking for a huge network is refused before it is built. */
    s = config_from_metadata(st, path, &config, &step);
    if (!s)
        s = check_networks(st, path, &config);
    if (!s)
        s = gantry_gan_create(be, &config, &gan);
    if (!s) {
        state_ref refs[MAX_STATE];
        size_t count = collect_state(gan, refs, MAX_STATE);
        for (size_t i = 0; !s && i < count; i++)
            s = gantry__st_load_ref(st, path, &refs[i]);
        gan->steps = step;
    }
    gantry_safetensors_destroy(st);
    if (s) {
        gantry_gan_destroy(gan);
        return s;
    }
    *out = gan;
    return GANTRY_OK;
}
