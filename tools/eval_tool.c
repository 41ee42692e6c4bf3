/* The feature network and the metric sets of `gantry eval`, `gantry train
 * --model classifier` and `gantry train --eval-every` (tools/eval_tool.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/eval_tool.h"

/* Bumped when the default classifier's network or training changes, so
 * that an old cached one is not taken for the new. */
#define DEFAULT_CLASSIFIER_VERSION 1
/* Images per pass through the classifier (and per chunk of samples, so a
 * chunk's labels fit `CHUNK` bytes). */
#define CHUNK 500

static gantry_status open_split(const char *data, const char *split, size_t limit, size_t c, size_t h,
                                gantry_dataset **out)
{
    gantry_data_options opts = { .image_size = h, .channels = c };
    return gantry_dataset_open(data, split, limit, &opts, out);
}

gantry_status eval_accuracy(gantry_classifier *clf, const gantry_dataset *ds, double *accuracy)
{
    const gantry_classifier_config *c = gantry_classifier_config_of(clf);
    if (!ds->labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "accuracy: the test images have no labels");
    size_t per = c->channels * c->height * c->width, k = c->classes, right = 0;
    float *images = malloc(CHUNK * per * sizeof *images), *probs = malloc(CHUNK * k * sizeof *probs);
    gantry_status s = images && probs ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t done = 0; !s && done < ds->count; done += CHUNK) {
        size_t m = ds->count - done < CHUNK ? ds->count - done : CHUNK;
        s = gantry_dataset_images(ds, done, m, images);
        if (!s)
            s = gantry_classifier_run(clf, images, m, NULL, probs);
        for (size_t i = 0; !s && i < m; i++) {
            size_t arg = 0;
            for (size_t j = 1; j < k; j++)
                arg = probs[i * k + j] > probs[i * k + arg] ? j : arg;
            right += arg == ds->labels[done + i];
        }
    }
    free(images);
    free(probs);
    if (!s)
        *accuracy = ds->count ? (double)right / (double)ds->count : 0.0;
    return s;
}

gantry_status eval_train_classifier(gantry_classifier *clf, const gantry_dataset *train, const gantry_dataset *test,
                                    const eval_train_options *o, double *test_accuracy)
{
    const gantry_classifier_config *c = gantry_classifier_config_of(clf);
    if (!train->labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "classifier: the training images have no labels (class folders, IDX or CIFAR-10 "
                                "give them)");
    if (train->num_classes > c->classes)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "classifier: the data has %zu classes, the network %zu",
                                train->num_classes, c->classes);
    gantry_loader *loader = NULL;
    size_t per = c->channels * c->height * c->width;
    float *images = malloc(c->batch * per * sizeof *images);
    uint8_t *labels = malloc(c->batch);
    gantry_status s = images && labels ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!s)
        s = gantry_loader_create(train, c->batch, o->seed, &loader);
    size_t per_epoch = loader ? gantry_loader_batches_per_epoch(loader) : 0;
    double t0 = cli_now(), loss_sum = 0.0, last_print = 0.0;
    uint64_t step = 0, total = o->epochs * per_epoch;
    if (o->limit_steps && o->limit_steps < total)
        total = o->limit_steps;
    for (uint64_t epoch = 0; !s && step < total; epoch++) {
        size_t batches = 0;
        loss_sum = 0.0;
        /* The last quarter of the epochs at a tenth of the learning rate:
         * 91.2% -> see docs/models.md on Fashion-MNIST's test split. */
        if (o->epochs >= 4 && epoch == o->epochs - o->epochs / 4)
            s = gantry_classifier_set_lr(clf, c->lr * 0.1f);
        for (size_t b = 0; !s && b < per_epoch && step < total; b++, step++) {
            double loss = 0.0;
            size_t e;
            s = gantry_loader_next(loader, images, labels, &e);
            if (!s)
                s = gantry_classifier_train_step(clf, images, labels, &loss);
            loss_sum += loss;
            batches++;
            double now = cli_now();
            if (!s && !o->quiet && (now - last_print > 1.0 || step + 1 == total)) {
                fprintf(stderr, "\rclassifier: epoch %llu/%llu, step %llu/%llu, loss %.4f, %.0f s   ",
                        (unsigned long long)epoch + 1, (unsigned long long)(total + per_epoch - 1) / per_epoch,
                        (unsigned long long)step + 1, (unsigned long long)total, loss_sum / (double)batches,
                        now - t0);
                last_print = now;
            }
        }
        double acc = 0.0;
        if (!s && test)
            s = eval_accuracy(clf, test, &acc);
        if (!s && !o->quiet)
            fprintf(stderr, "\rclassifier: epoch %llu: loss %.4f, test accuracy %.2f%%, %.0f s%20s\n",
                    (unsigned long long)epoch + 1, loss_sum / (double)(batches ? batches : 1), 100.0 * acc,
                    cli_now() - t0, "");
        if (!s && o->log)
            fprintf(o->log, "%llu,%llu,%.6f,%.6f,%.3f\n", (unsigned long long)epoch + 1, (unsigned long long)step,
                    loss_sum / (double)(batches ? batches : 1), acc, cli_now() - t0);
        /* A row per epoch, each on the disk when written: a failure is told then, with its reason. */
        errno = 0;
        if (!s && o->log && (fflush(o->log) != 0 || ferror(o->log)))
            s = gantry_set_error(GANTRY_IO, "cannot write %s: %s", o->log_path ? o->log_path : "the log",
                                 strerror(errno ? errno : EIO));
        if (!s && test_accuracy)
            *test_accuracy = acc;
    }
    gantry_loader_destroy(loader);
    free(images);
    free(labels);
    return s;
}

/* 64-bit FNV-1a. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static gantry_status default_path(const char *data, size_t c, size_t h, size_t w, char *path, size_t size)
{
    const char *env = getenv("GANTRY_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[PATH_MAX];
    if (env && *env)
        snprintf(base, sizeof base, "%s", env);
    else if (xdg && *xdg)
        snprintf(base, sizeof base, "%s/gantry", xdg);
    else if (home && *home)
        snprintf(base, sizeof base, "%s/.cache/gantry", home);
    else
        return gantry_set_error(GANTRY_NOT_FOUND,
                                "eval: no cache folder for the default classifier (set GANTRY_CACHE_DIR) and no "
                                "--features FILE");
    /* A folder or file by its real path; a name (fashion-mnist) as it is,
     * with the folder GANTRY_DATA_DIR points to. */
    char real[PATH_MAX], key[PATH_MAX + 64];
    const char *data_dir = getenv("GANTRY_DATA_DIR");
    if (realpath(data, real))
        snprintf(key, sizeof key, "%s", real);
    else
        snprintf(key, sizeof key, "%s@%s", data, data_dir ? data_dir : "");
    char shape[96];
    snprintf(shape, sizeof shape, "|%zux%zux%zu|v%d|e%d", c, h, w, DEFAULT_CLASSIFIER_VERSION, EVAL_DEFAULT_EPOCHS);
    uint64_t hash = fnv(fnv(0xcbf29ce484222325ull, key), shape);
    const char *name = strrchr(data, '/') && strrchr(data, '/')[1] ? strrchr(data, '/') + 1 : data;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/classifiers", base);
    GANTRY_TRY(cli_make_dirs(dir));
    snprintf(path, size, "%s/%.64s-%zux%zux%zu-%016llx.safetensors", dir, name, c, h, w, (unsigned long long)hash);
    return GANTRY_OK;
}

gantry_status eval_make_classifier(gantry_backend *be, const eval_make_options *m, gantry_classifier **out,
                                   double *accuracy, size_t *tested)
{
    *out = NULL;
    const char *test_data = m->test_data ? m->test_data : m->data;
    gantry_data_options opts = { .image_size = m->image_size, .channels = m->channels };
    gantry_dataset *train = NULL, *test = NULL, *held = NULL;
    gantry_classifier *clf = NULL;
    gantry_status s = gantry_dataset_open(m->data, "train", m->limit, &opts, &train);
    if (!s && !train->labels)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                             "%s has no labels to train a classifier on (class folders, IDX files with labels or "
                             "CIFAR-10 have them)%s",
                             m->data, m->default_one ? "; give --features FILE (gantry train --model classifier)" : "");
    if (!s) {
        /* The training images fix the shape of the test images. */
        opts.image_size = train->height;
        opts.channels = train->channels;
        s = gantry_dataset_open(test_data, "eval", 0, &opts, &test);
        /* A source without a test split: its last tenth is held out. */
        if (!s && !m->test_data && test->count == train->count && train->count >= 20) {
            gantry_dataset_destroy(test);
            test = NULL;
            s = gantry_dataset_split_off(train, train->count / 10, &held);
        }
    }
    if (!s && (train->height % 4 || train->width % 4))
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                             "%s: images of %zu x %zu; the classifier takes sides that are multiples of 4 "
                             "(--image-size)",
                             m->data, train->height, train->width);
    const gantry_dataset *eval_on = held ? held : test;
    if (!s) {
        gantry_classifier_config cfg = gantry_classifier_defaults(train->channels, train->height, train->width,
                                                                  train->num_classes);
        cfg.seed = m->train.seed;
        if (m->batch)
            cfg.batch = m->batch;
        if (m->lr > 0.0f)
            cfg.lr = m->lr;
        s = gantry_classifier_create(be, &cfg, &clf);
    }
    if (!s && !m->train.quiet)
        fprintf(stderr, "gantry: training %s on %zu images of %s (%zu x %zu x %zu, %zu classes, %llu epochs), "
                        "testing on %zu%s images, on %s\n",
                m->default_one ? "the default classifier" : "a classifier", train->count, m->data, train->channels,
                train->height, train->width, train->num_classes, (unsigned long long)m->train.epochs,
                eval_on->count, held ? " held-out" : " test", gantry_backend_name(be));
    if (!s)
        s = eval_train_classifier(clf, train, eval_on, &m->train, accuracy);
    if (!s && m->path) {
        char text[32];
        snprintf(text, sizeof text, "%.6f", *accuracy);
        gantry_st_meta meta[] = { { "data", m->data }, { "test_accuracy", text } };
        s = gantry_classifier_save(clf, m->path, meta, 2);
    }
    if (!s && tested)
        *tested = eval_on->count;
    gantry_dataset_destroy(held);
    gantry_dataset_destroy(test);
    gantry_dataset_destroy(train);
    if (s) {
        gantry_classifier_destroy(clf);
        return s;
    }
    *out = clf;
    return GANTRY_OK;
}

static gantry_status train_default(gantry_backend *be, const char *data, size_t c, size_t h, int quiet,
                                   const char *path, gantry_classifier **out)
{
    fprintf(stderr, "gantry: no --features: training the default classifier for %s (a few minutes, once); it is "
                    "cached as %s\n",
            data, path);
    eval_make_options m = { .data = data, .image_size = h, .channels = c, .path = path, .default_one = 1,
                            .train = { .epochs = EVAL_DEFAULT_EPOCHS, .seed = 0, .quiet = quiet } };
    double accuracy;
    return eval_make_classifier(be, &m, out, &accuracy, NULL);
}

gantry_status eval_open_classifier(gantry_backend *be, const char *features, const char *data, size_t c, size_t h,
                                   size_t w, int quiet, gantry_classifier **out)
{
    *out = NULL;
    char path[PATH_MAX + 200];
    if (!features) {
        GANTRY_TRY(default_path(data, c, h, w, path, sizeof path));
        FILE *f = fopen(path, "rb");
        if (!f)
            return train_default(be, data, c, h, quiet, path, out);
        fclose(f);
        if (!quiet)
            fprintf(stderr, "gantry: no --features: the default classifier for %s, %s\n", data, path);
        features = path;
    }
    GANTRY_TRY(gantry_classifier_load(be, features, out));
    const gantry_classifier_config *cfg = gantry_classifier_config_of(*out);
    if (cfg->channels != c || cfg->height != h || cfg->width != w) {
        gantry_status s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                           "%s classifies images of %zu x %zu x %zu, the generator makes %zu x %zu "
                                           "x %zu",
                                           features, cfg->channels, cfg->height, cfg->width, c, h, w);
        gantry_classifier_destroy(*out);
        *out = NULL;
        return s;
    }
    return GANTRY_OK;
}

/* Features and probabilities of n images produced chunk by chunk by
 * `next` (images [first, first + m) into buf), then the set. */
typedef gantry_status (*image_source)(void *user, size_t first, size_t m, float *buf);

static gantry_status make_set(gantry_classifier *clf, size_t n, image_source next, void *user, const uint8_t *labels,
                              gantry_eval_set **out)
{
    const gantry_classifier_config *c = gantry_classifier_config_of(clf);
    size_t per = c->channels * c->height * c->width, k = c->classes, d = GANTRY_CLASSIFIER_FEATURES;
    float *buf = malloc(CHUNK * per * sizeof *buf), *features = malloc(n * d * sizeof *features),
          *probs = malloc(n * k * sizeof *probs);
    gantry_status s = buf && features && probs ? GANTRY_OK
                                               : gantry_set_error(GANTRY_OUT_OF_MEMORY, "eval: out of host memory");
    for (size_t done = 0; !s && done < n; done += CHUNK) {
        size_t m = n - done < CHUNK ? n - done : CHUNK;
        s = next(user, done, m, buf);
        if (!s)
            s = gantry_classifier_run(clf, buf, m, features + done * d, probs + done * k);
    }
    if (!s)
        s = gantry_eval_set_create(gantry_classifier_backend(clf), features, probs, labels, n, d, k, out);
    free(buf);
    free(features);
    free(probs);
    return s;
}

static gantry_status dataset_chunk(void *user, size_t first, size_t m, float *buf)
{
    return gantry_dataset_images(user, first, m, buf);
}

gantry_status eval_real_set(gantry_classifier *clf, const char *data, size_t n, gantry_eval_set **out)
{
    const gantry_classifier_config *c = gantry_classifier_config_of(clf);
    gantry_dataset *ds = NULL;
    GANTRY_TRY(open_split(data, "eval", n, c->channels, c->height, &ds));
    const uint8_t *labels = ds->labels && ds->num_classes <= c->classes ? ds->labels : NULL;
    gantry_status s = make_set(clf, ds->count, dataset_chunk, ds, labels, out);
    gantry_dataset_destroy(ds);
    return s;
}

struct gan_source {
    gantry_gan *gan;
    uint64_t seed;
    uint8_t *labels;
};

/* Chunk `first / m` of the samples: its own noise stream (seed + chunk). */
static gantry_status gan_chunk(void *user, size_t first, size_t m, float *buf)
{
    struct gan_source *g = user;
    const gantry_gan_config *c = gantry_gan_config_of(g->gan);
    uint64_t seed = g->seed + first;
    if (!gantry_gan_is_conditional(g->gan))
        return gantry_gan_sample(g->gan, m, seed, buf);
    for (size_t i = 0; i < m; i++)
        g->labels[i] = (uint8_t)((first + i) % c->classes);
    return gantry_gan_sample_labeled(g->gan, m, seed, g->labels, buf);
}

gantry_status eval_gan_set(gantry_classifier *clf, gantry_gan *gan, size_t n, uint64_t seed, gantry_eval_set **out)
{
    struct gan_source g = { gan, seed, malloc(CHUNK) };
    if (!g.labels)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "eval: out of host memory");
    gantry_status s = make_set(clf, n, gan_chunk, &g, NULL, out);
    free(g.labels);
    return s;
}

struct host_source {
    const float *images;
    size_t per;
};

static gantry_status host_chunk(void *user, size_t first, size_t m, float *buf)
{
    struct host_source *h = user;
    memcpy(buf, h->images + first * h->per, m * h->per * sizeof *buf);
    return GANTRY_OK;
}

gantry_status eval_images_set(gantry_classifier *clf, const float *images, size_t n, gantry_eval_set **out)
{
    const gantry_classifier_config *c = gantry_classifier_config_of(clf);
    struct host_source h = { images, c->channels * c->height * c->width };
    return make_set(clf, n, host_chunk, &h, NULL, out);
}
