/* The feature network of the quality metrics (include/gantry/eval.h): a
 * small CNN classifier, its training step, its features and class
 * probabilities in evaluation mode, and its safetensors file. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/state_io.h"
#include "gantry/eval.h"
#include "gantry/nn.h"
#include "gantry/ops.h"
#include "gantry/optim.h"

#define CLASSIFIER_FORMAT "gantry-classifier-1"
/* Layer 12 (the LeakyReLU after the 256-wide Linear): the features. */
#define FEATURE_LAYER 12
#define MAX_STATE 64
/* Images per forward pass in evaluation mode. */
#define RUN_CHUNK 500

struct gantry_classifier {
    gantry_classifier_config config;
    gantry_backend *be;
    gantry_seq *net;
    gantry_optim *opt;
    gantry_tensor *x, *target, *dlogits, *loss; /* the training step's, [batch, ...] */
    gantry_tensor *run_x;                       /* evaluation chunks */
    float *host;                                /* one-hot targets of a batch */
};

gantry_classifier_config gantry_classifier_defaults(size_t c, size_t h, size_t w, size_t classes)
{
    gantry_classifier_config cfg = {
        .channels = c, .height = h, .width = w, .classes = classes, .batch = 64,
        .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .dropout = 0.3f, .seed = 0,
    };
    return cfg;
}

static gantry_status check_config(const gantry_classifier_config *c)
{
    if (c->channels < 1 || c->channels > 4 || c->height < 4 || c->width < 4 || c->height % 4 || c->width % 4)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "classifier: images of %zu x %zu x %zu; it takes 1-4 channels and sides that are "
                                "multiples of 4",
                                c->channels, c->height, c->width);
    if (c->classes < 2 || c->classes > 256)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier: %zu classes (2 to 256)", c->classes);
    if (c->batch < 2)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier: batch %zu (at least 2)", c->batch);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->lr > 0.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier: dropout %g or learning rate %g out of range",
                                (double)c->dropout, (double)c->lr);
    return GANTRY_OK;
}

static gantry_status conv_bn_lrelu(gantry_seq *s, size_t in, size_t out, size_t k, size_t stride, size_t pad)
{
    gantry_conv_spec spec = { .in = in, .out = out, .kernel = k, .stride = stride, .padding = pad, .no_bias = 1 };
    GANTRY_TRY(gantry_seq_add_conv(s, &spec));
    GANTRY_TRY(gantry_seq_add_batchnorm(s, out, 1e-5f, 0.1f));
    return gantry_seq_add_activation(s, GANTRY_ACT_LEAKY_RELU, 0.2f);
}

static gantry_status build(gantry_classifier *clf)
{
    const gantry_classifier_config *c = &clf->config;
    gantry_seq *s = clf->net;
    GANTRY_TRY(conv_bn_lrelu(s, c->channels, 32, 4, 2, 1));
    GANTRY_TRY(conv_bn_lrelu(s, 32, 64, 4, 2, 1));
    GANTRY_TRY(conv_bn_lrelu(s, 64, 128, 3, 1, 1));
    GANTRY_TRY(gantry_seq_add_flatten(s));
    GANTRY_TRY(gantry_seq_add_linear(s, 128 * (c->height / 4) * (c->width / 4), GANTRY_CLASSIFIER_FEATURES));
    GANTRY_TRY(gantry_seq_add_batchnorm(s, GANTRY_CLASSIFIER_FEATURES, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(s, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_dropout(s, c->dropout));
    return gantry_seq_add_linear(s, GANTRY_CLASSIFIER_FEATURES, c->classes);
}

static gantry_status create(gantry_classifier *clf)
{
    const gantry_classifier_config *c = &clf->config;
    uint64_t offset = 0;
    GANTRY_TRY(gantry_seq_create(clf->be, &clf->net));
    GANTRY_TRY(build(clf));
    GANTRY_TRY(gantry_seq_init(clf->net, c->seed, &offset));
    gantry_optim_config oc = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    oc.lr = c->lr;
    oc.beta1 = c->beta1;
    oc.beta2 = c->beta2;
    GANTRY_TRY(gantry_optim_create(clf->net, &oc, &clf->opt));
    GANTRY_TRY(gantry_tensor_new(clf->be, &clf->x, c->batch, c->channels, c->height, c->width));
    GANTRY_TRY(gantry_tensor_new(clf->be, &clf->target, c->batch, c->classes, 0, 0));
    GANTRY_TRY(gantry_tensor_new(clf->be, &clf->dlogits, c->batch, c->classes, 0, 0));
    GANTRY_TRY(gantry_tensor_new(clf->be, &clf->loss, 1, 0, 0, 0));
    clf->host = malloc(c->batch * c->classes * sizeof *clf->host);
    return clf->host ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "classifier: out of host memory");
}

gantry_status gantry_classifier_create(gantry_backend *be, const gantry_classifier_config *config,
                                       gantry_classifier **out)
{
    if (!be || !config || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_create: NULL argument");
    *out = NULL;
    GANTRY_TRY(check_config(config));
    gantry_classifier *clf = calloc(1, sizeof *clf);
    if (!clf)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "classifier: out of host memory");
    clf->config = *config;
    clf->be = be;
    gantry_status s = create(clf);
    if (s) {
        gantry_classifier_destroy(clf);
        return s;
    }
    *out = clf;
    return GANTRY_OK;
}

void gantry_classifier_destroy(gantry_classifier *clf)
{
    if (!clf)
        return;
    gantry_tensor *tensors[] = { clf->x, clf->target, clf->dlogits, clf->loss, clf->run_x };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    gantry_optim_destroy(clf->opt);
    gantry_seq_destroy(clf->net);
    free(clf->host);
    free(clf);
}

const gantry_classifier_config *gantry_classifier_config_of(const gantry_classifier *clf)
{
    return clf ? &clf->config : NULL;
}

gantry_backend *gantry_classifier_backend(const gantry_classifier *clf)
{
    return clf ? clf->be : NULL;
}

static size_t image_numel(const gantry_classifier_config *c)
{
    return c->channels * c->height * c->width;
}

gantry_status gantry_classifier_train_step(gantry_classifier *clf, const float *images, const uint8_t *labels,
                                           double *loss)
{
    if (!clf || !images || !labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_train_step: NULL argument");
    const gantry_classifier_config *c = &clf->config;
    size_t n = c->batch, k = c->classes;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= k)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier: label %u of example %zu outside 0..%zu",
                                    (unsigned)labels[i], i, k - 1);
        for (size_t j = 0; j < k; j++)
            clf->host[i * k + j] = j == labels[i] ? 1.0f : 0.0f;
    }
    gantry_tensor *logits;
    GANTRY_TRY(gantry_tensor_write(clf->x, images, n * image_numel(c)));
    GANTRY_TRY(gantry_tensor_write(clf->target, clf->host, n * k));
    GANTRY_TRY(gantry_seq_zero_grad(clf->net));
    GANTRY_TRY(gantry_seq_forward(clf->net, clf->x, 1, &logits));
    if (loss) {
        float v;
        GANTRY_TRY(gantry_op_softmax_ce_forward(logits, clf->target, clf->loss));
        GANTRY_TRY(gantry_tensor_item(clf->loss, &v));
        *loss = v;
    }
    GANTRY_TRY(gantry_op_softmax_ce_backward(logits, clf->target, 1.0f, clf->dlogits));
    GANTRY_TRY(gantry_seq_backward(clf->net, clf->dlogits, 1, NULL));
    return gantry_optim_step(clf->opt);
}

gantry_status gantry_classifier_set_lr(gantry_classifier *clf, float lr)
{
    if (!clf)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_set_lr: NULL classifier");
    return gantry_optim_set_lr(clf->opt, lr);
}

/* Softmax of each row of logits, in double (max subtracted). */
static void softmax_rows(const float *logits, size_t n, size_t k, float *probs)
{
    for (size_t i = 0; i < n; i++) {
        const float *l = logits + i * k;
        float m = l[0];
        for (size_t j = 1; j < k; j++)
            m = l[j] > m ? l[j] : m;
        double sum = 0.0;
        for (size_t j = 0; j < k; j++)
            sum += exp((double)l[j] - m);
        for (size_t j = 0; j < k; j++)
            probs[i * k + j] = (float)(exp((double)l[j] - m) / sum);
    }
}

gantry_status gantry_classifier_run(gantry_classifier *clf, const float *images, size_t n, float *features,
                                    float *probs)
{
    if (!clf || !images || n == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_run: NULL images or n == 0");
    const gantry_classifier_config *c = &clf->config;
    size_t per = image_numel(c), k = c->classes, chunk = n < RUN_CHUNK ? n : RUN_CHUNK;
    float *logits = probs ? malloc(chunk * k * sizeof *logits) : NULL;
    if (probs && !logits)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "classifier: out of host memory");
    gantry_status s = GANTRY_OK;
    for (size_t done = 0; !s && done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        size_t shape[4] = { m, c->channels, c->height, c->width };
        gantry_tensor *out;
        if (!clf->run_x || gantry_tensor_dim(clf->run_x, 0) != m) {
            gantry_tensor_destroy(clf->run_x);
            clf->run_x = NULL;
            s = gantry_tensor_create(clf->be, 4, shape, &clf->run_x);
        }
        if (!s)
            s = gantry_tensor_write(clf->run_x, images + done * per, m * per);
        if (!s)
            s = gantry_seq_forward(clf->net, clf->run_x, 0, &out);
        if (!s && features)
            s = gantry_tensor_read(gantry_seq_output(clf->net, FEATURE_LAYER),
                                   features + done * GANTRY_CLASSIFIER_FEATURES, m * GANTRY_CLASSIFIER_FEATURES);
        if (!s && probs) {
            s = gantry_tensor_read(out, logits, m * k);
            if (!s)
                softmax_rows(logits, m, k, probs + done * k);
        }
    }
    free(logits);
    return s;
}

static size_t collect_state(gantry_classifier *clf, state_ref *refs)
{
    size_t n = 0;
    for (size_t i = 0; i < gantry_seq_state_count(clf->net) && n < MAX_STATE; i++) {
        const gantry_param *p = gantry_seq_state(clf->net, i);
        snprintf(refs[n].name, sizeof refs[n].name, "%s", p->name);
        refs[n++].param = p;
    }
    return n;
}

gantry_status gantry_classifier_save(gantry_classifier *clf, const char *path, const gantry_st_meta *extra,
                                     size_t extra_count)
{
    if (!clf || !path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_save: NULL argument");
    enum { MAX_META = 8 };
    state_ref refs[MAX_STATE];
    size_t count = collect_state(clf, refs);
    gantry_st_meta meta[MAX_META];
    const gantry_classifier_config *c = &clf->config;
    char values[MAX_META][64];
    size_t nm = 0;
#define META(k, ...) GANTRY__META_ADD(meta, values, nm, k, __VA_ARGS__)
    META("format", "%s", CLASSIFIER_FORMAT);
    META("image_shape", "%zu,%zu,%zu", c->channels, c->height, c->width);
    META("classes", "%zu", c->classes);
    META("dropout", "%.9g", (double)c->dropout);
    META("seed", "%" PRIu64, c->seed);
    META("steps", "%" PRIu64, gantry_optim_steps(clf->opt));
#undef META
    return gantry__st_write_refs_extra(path, refs, count, meta, nm, extra, extra_count);
}

/* The configuration the file was saved with, every value checked for its
 * type and range, and the network it describes against the file's tensors:
 * nothing is allocated for a file that asks for a huge one. */
static gantry_status config_from_file(const gantry_safetensors *st, const char *path, gantry_classifier_config *c)
{
    const char *format = gantry_safetensors_meta(st, "format");
    if (!format || strcmp(format, CLASSIFIER_FORMAT) != 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: not a gantry classifier (metadata format '%.40s', expected '%s'; make one with "
                                "gantry train --model classifier)",
                                path, format ? format : "(none)", CLASSIFIER_FORMAT);
    uint64_t shape[3], classes = 0, seed = 0;
    GANTRY_TRY(gantry__st_meta_uints(st, path, "image_shape", 3, 1, 1, 16384, shape));
    GANTRY_TRY(gantry__st_meta_uints(st, path, "classes", 1, 1, 2, 256, &classes));
    *c = gantry_classifier_defaults((size_t)shape[0], (size_t)shape[1], (size_t)shape[2], (size_t)classes);
    GANTRY_TRY(gantry__st_meta_floats(st, path, "dropout", 1, 0, &c->dropout));
    /* checked, though a loaded classifier keeps seed 0 as it always has */
    GANTRY_TRY(gantry__st_meta_uints(st, path, "seed", 1, 0, 0, UINT64_MAX, &seed));
    if (check_config(c))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata: %s", path, gantry_last_error());
    gantry_classifier plan = { .config = *c };
    gantry_status s = gantry__seq_create_plan(&plan.net);
    if (!s)
        s = build(&plan);
    if (!s) {
        char keys[96];
        snprintf(keys, sizeof keys, "image_shape = %zu,%zu,%zu, classes = %zu", c->channels, c->height, c->width,
                 c->classes);
        s = gantry__st_check_plan(st, path, plan.net, "", keys);
    }
    gantry_seq_destroy(plan.net);
    return s;
}

gantry_status gantry_classifier_load(gantry_backend *be, const char *path, gantry_classifier **out)
{
    if (!be || !path || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier_load: NULL argument");
    *out = NULL;
    gantry_safetensors *st;
    GANTRY_TRY(gantry_safetensors_read(path, &st));
    gantry_classifier_config config;
    gantry_classifier *clf = NULL;
    gantry_status s = config_from_file(st, path, &config);
    if (!s)
        s = gantry_classifier_create(be, &config, &clf);
    if (!s) {
        state_ref refs[MAX_STATE];
        size_t count = collect_state(clf, refs);
        for (size_t i = 0; !s && i < count; i++)
            s = gantry__st_load_ref(st, path, &refs[i]);
    }
    gantry_safetensors_destroy(st);
    if (s) {
        gantry_classifier_destroy(clf);
        return s;
    }
    *out = clf;
    return GANTRY_OK;
}
