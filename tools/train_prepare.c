/* `gantry train`, before the first step: the settings, the data, the
 * backend, the model and the loader at the model's step, the output
 * directory and the log, in that order, whether the run is fresh (here) or
 * resumed (train_resume.c); and freeing all of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/train.h"

gantry_status train_make_out_dir(const train_session *t)
{
    return cli_make_dirs(t->out);
}

gantry_status train_open_log(train_session *t, const char *mode, const char *header)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/log.csv", t->out);
    t->log = fopen(path, mode);
    if (!t->log || (header && fputs(header, t->log) == EOF))
        return gantry_set_error(GANTRY_IO, "cannot write %s: %s", path, strerror(errno));
    return GANTRY_OK;
}

/* ---- a fresh run ---------------------------------------------------------- */

/* The configuration the options ask for. */
static int config_from_options(const train_options *o, gantry_gan_config *config)
{
    gantry_status s = gantry_gan_defaults(o->model, config);
    if (s) {
        fprintf(stderr, "gantry train: %s (see gantry train --help)\n", gantry_last_error());
        return CLI_USAGE;
    }
    if (o->batch)
        config->batch = o->batch;
    if (o->d_steps)
        config->d_steps = (unsigned)o->d_steps;
    if (o->g_loss_set)
        config->g_loss = o->g_loss;
    if (o->lr > 0)
        config->lr = o->lr;
    if (o->width)
        config->base_channels = o->width;
    if (o->clip_set)
        config->clip = o->clip;
    if (o->smoothing > 0)
        config->label_smoothing = o->smoothing;
    config->minibatch_disc = o->minibatch_disc;
    config->feature_matching = o->feature_matching;
    config->vbn = (gantry_bn_mode)o->vbn;
    int began = strcmp(config->model, "began") == 0;
    if ((o->gamma > 0 || o->lambda_k > 0) && !began) {
        fprintf(stderr, "gantry train: %s applies to --model began only\n",
                o->gamma > 0 ? "--began-gamma" : "--began-lambda-k");
        return CLI_USAGE;
    }
    if (o->gamma > 0)
        config->began_gamma = o->gamma;
    if (o->lambda_k > 0)
        config->began_lambda_k = o->lambda_k;
    config->unroll = (unsigned)o->unroll;
    config->seed = o->seed;
    if (o->labeled && strcmp(config->model, "sgan") != 0) {
        fprintf(stderr, "gantry train: --labeled applies to --model sgan only\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int fresh_settings(train_session *t)
{
    int rc = config_from_options(&t->o, &t->config);
    if (rc)
        return rc;
    t->info.limit = t->o.limit;
    t->info.labeled = t->o.labeled;
    t->info.image_size = t->o.image_size;
    t->info.channels = t->o.channels;
    snprintf(t->info.data, sizeof t->info.data, "%s", t->o.data ? t->o.data : "fashion-mnist");
    snprintf(t->info.test_data, sizeof t->info.test_data, "%s", t->o.test_data ? t->o.test_data : "");
    t->info.eval_every = t->o.eval_every;
    snprintf(t->info.features, sizeof t->info.features, "%s", t->o.features ? t->o.features : "");
    t->info.best_fd = -1.0;
    if (t->o.features && !t->o.eval_every) {
        fprintf(stderr, "gantry train: --features applies with --eval-every N only\n");
        return CLI_USAGE;
    }
    if (t->o.test_data && strcmp(t->config.model, "sgan") != 0) {
        fprintf(stderr, "gantry train: --test-data applies to --model sgan only\n");
        return CLI_USAGE;
    }
    t->is_sgan = strcmp(t->config.model, "sgan") == 0;
    /* --batch is the global batch of an MPI run: each rank takes its share. */
    unsigned world = train_mpi_world();
    if (t->config.batch % world != 0 || t->config.batch / world < 2) {
        fprintf(stderr, "gantry train: --batch %zu does not split over %u MPI ranks: give a multiple of %u of at "
                        "least %u\n", t->config.batch, world, world, 2 * world);
        return CLI_USAGE;
    }
    t->config.batch /= world;
    t->info.ranks = world;
    t->info.sync_bn = (uint64_t)t->o.sync_bn;
    return CLI_OK;
}

/* The image shape is the data's. */
static gantry_status fresh_configure(train_session *t)
{
    t->config.channels = t->ds->channels;
    t->config.height = t->ds->height;
    t->config.width = t->ds->width;
    return GANTRY_OK;
}

/* One epoch. */
static uint64_t fresh_default_total(const train_session *t, size_t batches)
{
    return batches / t->config.d_steps;
}

static gantry_status fresh_model(train_session *t)
{
    return gantry_gan_create(t->be, &t->config, &t->gan);
}

/* --out, or runs/MODEL-YYYYmmdd-HHMMSS. */
static gantry_status fresh_outputs(train_session *t)
{
    if (t->o.out) {
        snprintf(t->out, sizeof t->out, "%s", t->o.out);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(t->out, sizeof t->out, "runs/%s-%s", t->config.model, stamp);
    }
    GANTRY_TRY(train_make_out_dir(t));
    return train_open_log(t, "w", train_log_header(t));
}

static void fresh_announce(const train_session *t)
{
    fprintf(stderr, "gantry: training %s on %s (%zu images, batch %zu) with backend %s for %llu steps into %s/\n",
            t->config.model, t->info.data, t->ds->count, t->config.batch * train_mpi_world(),
            gantry_backend_name(t->be), (unsigned long long)t->total, t->out);
}

const train_origin train_fresh = {
    .settings = fresh_settings,
    .configure = fresh_configure,
    .default_total = fresh_default_total,
    .model = fresh_model,
    .outputs = fresh_outputs,
    .announce = fresh_announce,
};

/* ---- either run ------------------------------------------------------------ */

/* A sum over one process: its own values. */
static gantry_status reduce_alone(void *user, double *values, size_t count)
{
    (void)user;
    (void)values;
    (void)count;
    return GANTRY_OK;
}

gantry_status train_sync_bn(train_session *t, gantry_stats_reduce reduce)
{
    if (!t->info.sync_bn)
        return GANTRY_OK;
    reduce = reduce ? reduce : reduce_alone;
    GANTRY_TRY(gantry_seq_set_batchnorm_sync(gantry_gan_generator(t->gan), reduce, NULL));
    return gantry_seq_set_batchnorm_sync(gantry_gan_discriminator(t->gan), reduce, NULL);
}

/* sgan: the first n / classes training images of each class are labelled. */
static gantry_status set_labeled(gantry_gan *gan, const gantry_dataset *ds, size_t n)
{
    size_t k = gantry_gan_config_of(gan)->classes, per_class = n / k, chw = ds->channels * ds->height * ds->width;
    if (per_class == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "--labeled %zu: fewer than one image per class (%zu)", n, k);
    float *images = malloc(per_class * k * chw * sizeof *images);
    uint8_t *labels = malloc(per_class * k);
    size_t *taken = calloc(k, sizeof *taken), count = 0;
    gantry_status s = (images && labels && taken) ? GANTRY_OK
                                                  : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; !s && i < ds->count && count < per_class * k; i++) {
        uint8_t l = ds->labels[i];
        if (l >= k || taken[l] >= per_class)
            continue;
        taken[l]++;
        s = gantry_dataset_images(ds, i, 1, images + count * chw);
        labels[count++] = l;
    }
    if (!s && count < per_class * k)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "--labeled %zu: the data set has fewer than %zu images of some class",
                             n, per_class);
    if (!s)
        s = gantry_gan_set_labeled(gan, images, labels, count);
    free(images);
    free(labels);
    free(taken);
    return s;
}

/* Decoding a folder of images can take a while the first time: a progress
 * line on a terminal, a line per quarter otherwise. */
typedef struct load_progress {
    int quiet, tty;
    double last;
    size_t last_quarter;
} load_progress;

static void on_data_progress(size_t done, size_t total, void *user)
{
    load_progress *p = user;
    if (p->quiet || !total)
        return;
    if (p->tty) {
        double now = cli_now();
        if (done < total && now - p->last < 0.1)
            return;
        p->last = now;
        fprintf(stderr, "\rgantry: decoding images: %zu of %zu (%.0f%%)%s", done, total,
                100.0 * (double)done / (double)total, done == total ? "\n" : "");
        return;
    }
    size_t quarter = 4 * done / total;
    if (quarter > p->last_quarter || done == total) {
        p->last_quarter = quarter;
        fprintf(stderr, "gantry: decoding images: %zu of %zu\n", done, total);
    }
}

static void on_data_warning(const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "gantry: warning: %s\n", message);
}

/* Split `split` of `source`, sized and coloured as the run asks. */
gantry_status train_open_data(const train_session *t, const char *source, const char *split, size_t limit,
                              gantry_dataset **out)
{
    load_progress progress = { .quiet = t->o.quiet, .tty = isatty(STDERR_FILENO) };
    gantry_data_options opts = { .image_size = (size_t)t->info.image_size,
                                 .channels = (size_t)t->info.channels,
                                 .warn = on_data_warning,
                                 .progress = on_data_progress,
                                 .user = &progress };
    GANTRY_TRY(gantry_dataset_open(source, split, limit, &opts, out));
    if ((*out)->skipped)
        fprintf(stderr, "gantry: %s: %zu unusable image%s skipped (the warnings above name them)\n", source,
                (*out)->skipped, (*out)->skipped == 1 ? "" : "s");
    return GANTRY_OK;
}

/* sgan measures its accuracy on the data's test split, on --test-data, or,
 * for a source without a test split (a folder, a .npy file), on its last
 * tenth, which it does not train on. */
static gantry_status hold_out(train_session *t)
{
    int has_test = strcmp(t->ds->kind, "idx") == 0 || strcmp(t->ds->kind, "cifar10") == 0;
    if (!t->is_sgan || t->info.test_data[0] || has_test)
        return GANTRY_OK;
    size_t n = t->ds->count / 10;
    if (n == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "%s: %zu images are too few to hold out a tenth for sgan's accuracy (give --test-data)",
                                t->info.data, t->ds->count);
    GANTRY_TRY(gantry_dataset_split_off(t->ds, n, &t->held_out));
    if (!t->o.quiet)
        fprintf(stderr, "gantry: %s has no test split: sgan trains on its first %zu images and measures its accuracy "
                        "on the last %zu (or give --test-data)\n",
                t->info.data, t->ds->count, n);
    return GANTRY_OK;
}

static gantry_status open_training_data(void *user)
{
    train_session *t = user;
    return train_open_data(t, t->info.data, "train", (size_t)t->info.limit, &t->ds);
}

/* The data set, the backend and the configuration.  Rank 0 of an MPI job
 * opens the data first: a folder's decoding cache is made once. */
static gantry_status prepare_config(train_session *t)
{
    const train_origin *origin = t->origin;
    GANTRY_TRY(train_mpi_rank0_first(open_training_data, t));
    /* the images as they are now, so that a resumed run opens them alike */
    t->info.image_size = t->ds->height == t->ds->width ? t->ds->height : 0;
    t->info.channels = t->ds->channels;
    GANTRY_TRY(hold_out(t));
    if (origin->check_data)
        GANTRY_TRY(origin->check_data(t));
    t->info.images = t->ds->count;
    GANTRY_TRY(cli_open_backend(t->o.backend, &t->be));
    return origin->configure(t);
}

/* The loader, the steps to run and the model, with the loader at the
 * model's step and sgan's labelled images. */
static gantry_status prepare_model(train_session *t)
{
    const train_options *o = &t->o;
    const gantry_gan_config *c = &t->config;
    size_t global = c->batch * train_mpi_world(); /* the loader's batches are the global ones */
    GANTRY_TRY(gantry_loader_create(t->ds, global, c->seed, &t->loader));
    size_t batches = gantry_loader_batches_per_epoch(t->loader);
    if (batches < c->d_steps)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%zu images give %zu batches of %zu, fewer than --d-steps %u",
                                t->ds->count, batches, global, c->d_steps);
    t->total = o->steps_set ? o->steps
               : o->epochs  ? o->epochs * (batches / c->d_steps)
                            : t->origin->default_total(t, batches);
    t->info.total = t->total;
    GANTRY_TRY(t->origin->model(t));
    t->first = gantry_gan_steps(t->gan);
    GANTRY_TRY(gantry_loader_seek(t->loader, t->first * c->d_steps));
    if ((gantry_gan_is_conditional(t->gan) || t->is_sgan) && !t->ds->labels)
        return gantry_set_error(GANTRY_NOT_FOUND, "%s: %s needs the data set's label file (train-labels-idx1-ubyte)",
                                t->info.data, c->model);
    return t->is_sgan ? set_labeled(t->gan, t->ds, (size_t)t->info.labeled) : GANTRY_OK;
}

/* The step's batches and the sample grid. */
static gantry_status prepare_buffers(train_session *t)
{
    const gantry_gan_config *c = &t->config;
    t->image_size = t->ds->channels * t->ds->height * t->ds->width;
    t->real = malloc(c->d_steps * c->batch * t->image_size * sizeof *t->real);
    t->labels = malloc(c->d_steps * c->batch);
    t->grid = malloc(TRAIN_GRID_MAX_IMAGES * t->image_size * sizeof *t->grid);
    if (!t->real || !t->grid || !t->labels)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    return GANTRY_OK;
}

int train_prepare(train_session *t)
{
    t->origin = t->o.resume ? &train_resumed : &train_fresh;
    int rc = t->origin->settings(t);
    /* every rank reads the same options: a refusal is the same on all */
    if (train_mpi_agree(rc ? gantry_set_error(GANTRY_INVALID_ARGUMENT, "the options were refused") : GANTRY_OK))
        return rc ? rc : cli_fail(GANTRY_INVALID_ARGUMENT);
    if (t->is_sgan && !t->info.labeled)
        t->info.labeled = 1000;
    /* In an MPI job every phase ends with the ranks' agreement, so that all
     * of them go on or all stop, with the first failing rank's error. */
    const int writer = train_mpi_rank() == 0;
    gantry_status s = train_mpi_agree(prepare_config(t));
    if (!s)
        s = train_mpi_agree(prepare_model(t));
    if (!s && t->info.eval_every && writer)
        s = train_eval_prepare(t);
    if (!s && writer)
        s = t->origin->outputs(t);
    if (!s)
        s = train_mpi_agree(s);
    if (!s)
        s = train_mpi_agree(prepare_buffers(t));
    if (!s)
        s = train_mpi_attach(t);
    if (s)
        return cli_fail(s);
    /* A resumed run's clock goes on from the time already spent. */
    t->start = cli_now() - t->info.seconds;
    if (!t->o.quiet && writer)
        t->origin->announce(t);
    return CLI_OK;
}

void train_close(train_session *t)
{
    if (t->log)
        fclose(t->log);
    free(t->real);
    free(t->labels);
    free(t->grid);
    gantry_loader_destroy(t->loader);
    train_eval_close(t); /* its tensors before their backend */
    gantry_gan_destroy(t->gan);
    gantry_backend_close(t->be);
    gantry_dataset_destroy(t->ds);
    gantry_dataset_destroy(t->held_out);
}
