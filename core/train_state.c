/* The training state a checkpoint leaves out, for resuming a run: both
 * optimizers' slots and the counters that pick the next noise, labels and
 * Adam bias corrections.  Restored on top of the checkpoint of the same
 * step, a run continues with the bits it would have had without the stop. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gan/gan_impl.h"

#define TRAINING_FORMAT "gantry-training-1"
#define MAX_META 16

/* Both optimizers' slots as refs "opt_G.<param>.<slot>" / "opt_D...": *refs
 * and *params (which the refs point into) are allocated here, freed by the
 * caller; *count of each. */
static gantry_status collect_slots(gantry_gan *gan, state_ref **refs, gantry_param **params, size_t *count)
{
    const struct {
        const char *prefix;
        gantry_seq *seq;
        gantry_optim *opt;
    } parts[] = { { "opt_G.", gan->g, gan->opt_g }, { "opt_D.", gan->d, gan->opt_d } };
    size_t n = 0;
    for (size_t m = 0; m < 2; m++)
        n += gantry_seq_param_count(parts[m].seq) * gantry_optim_slot_count(parts[m].opt);
    *refs = calloc(n ? n : 1, sizeof **refs);
    *params = calloc(n ? n : 1, sizeof **params);
    *count = 0;
    if (!*refs || !*params)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "training state: out of host memory");
    for (size_t m = 0; m < 2; m++) {
        size_t slots = gantry_optim_slot_count(parts[m].opt);
        for (size_t i = 0; i < gantry_seq_param_count(parts[m].seq); i++) {
            for (size_t k = 0; k < slots; k++) {
                size_t j = (*count)++;
                (*params)[j].value = gantry_optim_slot(parts[m].opt, i, k);
                snprintf((*refs)[j].name, sizeof (*refs)[j].name, "%s%s.%s", parts[m].prefix,
                         gantry_seq_param(parts[m].seq, i)->name, gantry_optim_slot_name(parts[m].opt, k));
                (*refs)[j].param = &(*params)[j];
            }
        }
    }
    return GANTRY_OK;
}

gantry_status gantry_gan_save_training(gantry_gan *gan, const char *path, const gantry_st_meta *extra,
                                       size_t extra_count)
{
    if (!gan || !path || (extra_count && !extra))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_save_training: NULL argument");
    gantry_param *params = NULL;
    state_ref *refs = NULL;
    size_t count = 0;
    gantry_st_meta meta[MAX_META];
    gantry_status s = collect_slots(gan, &refs, &params, &count);
    if (s) {
        free(params);
        free(refs);
        return s;
    }
    char values[MAX_META][32];
    size_t nm = 0;
#define META(k, ...) GANTRY__META_ADD(meta, values, nm, k, __VA_ARGS__)
    META("format", "%s", TRAINING_FORMAT);
    META("model", "%s", gan->config.model);
    META("step", "%" PRIu64, gan->steps);
    META("noise_offset", "%" PRIu64, gan->noise_offset);
    META("label_offset", "%" PRIu64, gan->label_offset);
    META("k_t", "%.9g", (double)(gan->family->k_t ? gan->family->k_t(gan) : 0.0f));
    META("opt_G_steps", "%" PRIu64, gantry_optim_steps(gan->opt_g));
    META("opt_D_steps", "%" PRIu64, gantry_optim_steps(gan->opt_d));
#undef META
    s = gantry__st_write_refs_extra(path, refs, count, meta, nm, extra, extra_count);
    free(params);
    free(refs);
    return s;
}

gantry_status gantry_gan_load_training(gantry_gan *gan, const char *path)
{
    if (!gan || !path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_load_training: NULL argument");
    gantry_safetensors *st;
    GANTRY_TRY(gantry_safetensors_read(path, &st));
    gantry_param *params = NULL;
    state_ref *refs = NULL;
    size_t count = 0;
    gantry_status s = GANTRY_OK;
    const char *format = gantry_safetensors_meta(st, "format"), *model = gantry_safetensors_meta(st, "model");
    uint64_t step = 0, noise = 0, label = 0, g_steps = 0, d_steps = 0;
    float k = 0.0f;
    if (!format || strcmp(format, TRAINING_FORMAT) != 0)
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: not a gantry training state (metadata format is %s%.40s%s)",
                             path, format ? "'" : "missing", format ? format : "", format ? "'" : "");
    if (!s && (!model || strcmp(model, gan->config.model) != 0))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: the state of model '%.40s', the checkpoint's is '%s'", path,
                             model ? model : "(none)", gan->config.model);
    /* BEGAN keeps k_t in [0, 1]; the other models write 0. */
    if (!s && !(s = gantry__st_meta_floats(st, path, "k_t", 1, 1, &k)) && !(k >= 0.0f && k <= 1.0f))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata k_t = '%s' is outside 0..1", path,
                             gantry_safetensors_meta(st, "k_t"));
    if (!s && !(s = gantry__st_meta_uints(st, path, "step", 1, 1, 0, UINT64_MAX, &step)) && step != gan->steps)
        s = gantry_set_error(GANTRY_CORRUPT_FILE,
                             "%s: saved at step %" PRIu64 ", the checkpoint at step %" PRIu64 " (not from one save)",
                             path, step, gan->steps);
    if (!s && !(s = gantry__st_meta_uints(st, path, "noise_offset", 1, 1, 0, UINT64_MAX, &noise)) &&
        !(s = gantry__st_meta_uints(st, path, "label_offset", 1, 1, 0, UINT64_MAX, &label)) &&
        !(s = gantry__st_meta_uints(st, path, "opt_G_steps", 1, 1, 0, UINT64_MAX, &g_steps)))
        s = gantry__st_meta_uints(st, path, "opt_D_steps", 1, 1, 0, UINT64_MAX, &d_steps);
    /* The slots' shapes come from the networks, already checked against the
     * checkpoint; each is compared with the file before it is written. */
    if (!s)
        s = collect_slots(gan, &refs, &params, &count);
    for (size_t i = 0; !s && i < count; i++)
        s = gantry__st_load_ref(st, path, &refs[i]);
    if (!s) {
        gan->noise_offset = noise;
        gan->label_offset = label;
        if (gan->family->set_k_t)
            gan->family->set_k_t(gan, k);
        gantry_optim_set_steps(gan->opt_g, g_steps);
        gantry_optim_set_steps(gan->opt_d, d_steps);
    }
    free(params);
    free(refs);
    gantry_safetensors_destroy(st);
    return s;
}
