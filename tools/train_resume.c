/* `gantry train --resume`: the run's settings in the training state, the
 * log trimmed back to the saved step, and how a resumed run begins (its
 * train_origin: model, settings and directory from the run). */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/train.h"

size_t train_run_meta(const train_run_info *info, gantry_st_meta meta[TRAIN_RUN_META],
                      char text[TRAIN_RUN_META][64])
{
    snprintf(text[1], sizeof text[1], "%" PRIu64, info->limit);
    snprintf(text[2], sizeof text[2], "%" PRIu64, info->images);
    snprintf(text[3], sizeof text[3], "%" PRIu64, info->total);
    snprintf(text[4], sizeof text[4], "%" PRIu64, info->labeled);
    snprintf(text[5], sizeof text[5], "%.3f", info->seconds);
    snprintf(text[6], sizeof text[6], "%" PRIu64, info->image_size);
    snprintf(text[7], sizeof text[7], "%" PRIu64, info->channels);
    snprintf(text[9], sizeof text[9], "%" PRIu64, info->eval_every);
    snprintf(text[11], sizeof text[11], "%.17g", info->best_fd);
    snprintf(text[12], sizeof text[12], "%" PRIu64, info->ranks ? info->ranks : 1);
    snprintf(text[13], sizeof text[13], "%" PRIu64, info->sync_bn);
    static const char *const keys[TRAIN_RUN_META] = {
        "run_data",     "run_limit",     "run_images",     "run_total",    "run_labeled",  "run_seconds",
        "run_image_size", "run_channels", "run_test_data", "run_eval_every", "run_features", "run_best_fd",
        "run_ranks", "run_sync_bn"
    };
    for (size_t i = 0; i < TRAIN_RUN_META; i++) {
        meta[i].key = keys[i];
        meta[i].value = i == 0 ? info->data : i == 8 ? info->test_data : i == 10 ? info->features : text[i];
    }
    return TRAIN_RUN_META;
}

/* The metadata "step" of the safetensors file at `path`; a checkpoint
 * without one is at step 0, as gantry_gan_load reads it. */
static gantry_status file_step(const char *path, uint64_t *step)
{
    gantry_safetensors *st;
    GANTRY_TRY(gantry_safetensors_read(path, &st));
    *step = 0;
    gantry_status s = GANTRY_OK;
    if (gantry_safetensors_meta(st, "step"))
        s = gantry_safetensors_meta_u64(st, "step", 0, step);
    gantry_safetensors_destroy(st);
    return s;
}

gantry_status train_pair_find(const char *dir, char *state, size_t size)
{
    char path[4200];
    uint64_t step;
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_CHECKPOINT);
    if (access(path, F_OK) != 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "%s: %s (--resume needs a directory that gantry train wrote)", path,
                                strerror(errno));
    GANTRY_TRY(file_step(path, &step));
    static const char *const names[] = { TRAIN_STATE, TRAIN_STATE_PREV };
    char seen[2][48];
    for (size_t i = 0; i < 2; i++) {
        uint64_t at;
        snprintf(state, size, "%s/%s", dir, names[i]);
        snprintf(seen[i], sizeof seen[i], "none");
        if (access(state, F_OK) != 0)
            continue;
        /* An unreadable state is passed over for the other one; its error
         * is the one reported when neither will do. */
        if (file_step(state, &at) != GANTRY_OK)
            snprintf(seen[i], sizeof seen[i], "unreadable");
        else if (at == step)
            return GANTRY_OK;
        else
            snprintf(seen[i], sizeof seen[i], "step %" PRIu64, at);
    }
    for (size_t i = 0; i < 2; i++) {
        uint64_t at;
        snprintf(state, size, "%s/%s", dir, names[i]);
        if (strcmp(seen[i], "unreadable") == 0)
            return file_step(state, &at); /* its error again, naming the file and what is wrong */
    }
    snprintf(state, size, "%s/%s", dir, TRAIN_STATE);
    if (strcmp(seen[0], "none") == 0 && strcmp(seen[1], "none") == 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "%s: %s (--resume needs a directory that gantry train wrote)", state,
                                strerror(ENOENT));
    return gantry_set_error(GANTRY_CORRUPT_FILE,
                            "%s: no training state of the checkpoint's step %" PRIu64 " (%s: %s; %s: %s)", dir, step,
                            TRAIN_STATE, seen[0], TRAIN_STATE_PREV, seen[1]);
}

gantry_status train_pair_restore(const char *dir, const char *state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_STATE);
    if (strcmp(state, path) != 0 && rename(state, path) != 0)
        return gantry_set_error(GANTRY_IO, "cannot rename %s to %s: %s", state, path, strerror(errno));
    static const char *const pending[] = { TRAIN_CHECKPOINT TRAIN_PENDING, TRAIN_STATE TRAIN_PENDING };
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, pending[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            return gantry_set_error(GANTRY_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    return GANTRY_OK;
}

gantry_status train_run_read(const char *path, train_run_info *info)
{
    gantry_safetensors *st;
    GANTRY_TRY(gantry_safetensors_read(path, &st));
    memset(info, 0, sizeof *info);
    const char *data = gantry_safetensors_meta(st, "run_data"), *secs = gantry_safetensors_meta(st, "run_seconds");
    char *end = NULL;
    gantry_status s = GANTRY_OK;
    if (!data || !*data || strlen(data) >= sizeof info->data)
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_data' is missing or too long", path);
    else
        memcpy(info->data, data, strlen(data) + 1);
    if (!s && !(s = gantry_safetensors_meta_u64(st, "run_limit", 0, &info->limit)) &&
        !(s = gantry_safetensors_meta_u64(st, "run_images", 1, &info->images)) &&
        !(s = gantry_safetensors_meta_u64(st, "run_total", 0, &info->total)))
        s = gantry_safetensors_meta_u64(st, "run_labeled", 0, &info->labeled);
    if (!s && (!secs || !(info->seconds = strtod(secs, &end), *secs && !*end) || !(info->seconds >= 0.0) ||
               !isfinite(info->seconds)))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_seconds' is missing or not a time", path);
    /* Runs from before --image-size, --channels and --test-data have none:
     * their images were used as they came. */
    if (!s && gantry_safetensors_meta(st, "run_image_size"))
        s = gantry_safetensors_meta_u64(st, "run_image_size", 0, &info->image_size);
    if (!s && gantry_safetensors_meta(st, "run_channels"))
        s = gantry_safetensors_meta_u64(st, "run_channels", 0, &info->channels);
    /* Added with --eval-every; absent from older runs. */
    info->best_fd = -1.0;
    if (!s && gantry_safetensors_meta(st, "run_eval_every"))
        s = gantry_safetensors_meta_u64(st, "run_eval_every", 0, &info->eval_every);
    const char *features = gantry_safetensors_meta(st, "run_features"), *best = gantry_safetensors_meta(st, "run_best_fd");
    if (!s && features && strlen(features) >= sizeof info->features)
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_features' is too long", path);
    else if (!s && features)
        memcpy(info->features, features, strlen(features) + 1);
    /* -1: no evaluation yet; otherwise a distance, never negative (NaN
     * when a run diverged: it never counts as the best) */
    if (!s && best && (info->best_fd = strtod(best, &end), !*best || *end ||
                       (info->best_fd < 0.0 && info->best_fd != -1.0)))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_best_fd' = '%.40s' is not a distance", path, best);
    /* Added with MPI runs; absent from older (single-process) ones. */
    info->ranks = 1;
    if (!s && gantry_safetensors_meta(st, "run_ranks"))
        s = gantry_safetensors_meta_u64(st, "run_ranks", 1, &info->ranks);
    if (!s && gantry_safetensors_meta(st, "run_sync_bn"))
        s = gantry_safetensors_meta_u64(st, "run_sync_bn", 0, &info->sync_bn);
    const char *test = gantry_safetensors_meta(st, "run_test_data");
    if (!s && test && strlen(test) >= sizeof info->test_data)
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_test_data' is too long", path);
    else if (!s && test)
        memcpy(info->test_data, test, strlen(test) + 1);
    gantry_safetensors_destroy(st);
    return s;
}

gantry_status train_log_trim(const char *path, uint64_t step, const char *header)
{
    FILE *f = fopen(path, "r+");
    if (!f) {
        if (errno != ENOENT)
            return gantry_set_error(GANTRY_IO, "cannot open %s: %s", path, strerror(errno));
        f = fopen(path, "w");
        int bad = !f || fputs(header, f) == EOF;
        if ((f && fclose(f) != 0) || bad)
            return gantry_set_error(GANTRY_IO, "cannot write %s: %s", path, strerror(errno));
        return GANTRY_OK;
    }
    /* Keep the header and every whole row up to `step`; rows are in step order. */
    char line[1024];
    long keep = 0;
    int first = 1;
    while (fgets(line, sizeof line, f) && strchr(line, '\n')) {
        if (!first) {
            char *end;
            unsigned long long row = strtoull(line, &end, 10);
            if (end == line || *end != ',' || row > step)
                break;
        }
        first = 0;
        keep = ftell(f);
    }
    int bad = ferror(f) || keep < 0 || fflush(f) != 0 || ftruncate(fileno(f), (off_t)(keep > 0 ? keep : 0)) != 0;
    if (!bad && keep == 0) /* an empty log: its header back */
        bad = fseek(f, 0, SEEK_SET) != 0 || fputs(header, f) == EOF;
    if (fclose(f) != 0 || bad)
        return gantry_set_error(GANTRY_IO, "cannot trim %s to step %" PRIu64 ": %s", path, step, strerror(errno));
    return GANTRY_OK;
}

/* ---- a resumed run ---------------------------------------------------------- */

/* The run's own settings; --data may name where its data set moved. */
static int resumed_settings(train_session *t)
{
    gantry_status s = train_pair_find(t->o.resume, t->resume_state, sizeof t->resume_state);
    if (!s)
        s = train_run_read(t->resume_state, &t->info);
    if (s)
        return cli_fail(s);
    if (t->o.data)
        snprintf(t->info.data, sizeof t->info.data, "%s", t->o.data);
    if (t->o.test_data)
        snprintf(t->info.test_data, sizeof t->info.test_data, "%s", t->o.test_data);
    t->is_sgan = t->info.labeled > 0;
    if (t->info.ranks != train_mpi_world()) {
        fprintf(stderr, "gantry train: the run in %s was trained by %llu MPI rank%s: resume it with as many "
                        "(mpirun -np %llu)%s\n", t->o.resume, (unsigned long long)t->info.ranks,
                t->info.ranks == 1 ? "" : "s", (unsigned long long)t->info.ranks,
                t->info.ranks == 1 ? ", or without mpirun" : "");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The data order depends on the number of images: it must be the run's. */
static gantry_status resumed_check_data(train_session *t)
{
    if (t->ds->count != t->info.images)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %zu training images, but the run in %s trained on %llu",
                                t->info.data, t->ds->count, t->o.resume, (unsigned long long)t->info.images);
    return GANTRY_OK;
}

/* The model from DIR's checkpoint and training state, with its configuration. */
static gantry_status resumed_configure(train_session *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", t->o.resume, TRAIN_CHECKPOINT);
    GANTRY_TRY(gantry_gan_load(t->be, path, &t->gan));
    GANTRY_TRY(gantry_gan_load_training(t->gan, t->resume_state));
    t->config = *gantry_gan_config_of(t->gan);
    const gantry_dataset *ds = t->ds;
    if (ds->channels != t->config.channels || ds->height != t->config.height || ds->width != t->config.width)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: images of %zux%zux%zu, but the run in %s trained on %zux%zux%zu",
                                t->info.data, ds->channels, ds->height, ds->width, t->o.resume, t->config.channels,
                                t->config.height, t->config.width);
    return GANTRY_OK;
}

/* The end the run was started for. */
static uint64_t resumed_default_total(const train_session *t, size_t batches)
{
    (void)batches;
    return t->info.total;
}

/* The model is loaded; there must be steps left to run. */
static gantry_status resumed_model(train_session *t)
{
    uint64_t step = gantry_gan_steps(t->gan);
    if (step >= t->total)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "the run in %s is at step %llu of %llu: give --steps or --epochs beyond that to go on",
                                t->o.resume, (unsigned long long)step, (unsigned long long)t->total);
    return GANTRY_OK;
}

/* The run's directory back in order, its log cut back to the saved step and
 * appended to. */
static gantry_status resumed_outputs(train_session *t)
{
    char path[4200];
    snprintf(t->out, sizeof t->out, "%s", t->o.resume);
    GANTRY_TRY(train_make_out_dir(t));
    GANTRY_TRY(train_pair_restore(t->out, t->resume_state));
    snprintf(path, sizeof path, "%s/log.csv", t->out);
    GANTRY_TRY(train_log_trim(path, t->first, train_log_header(t)));
    return train_open_log(t, "a", NULL);
}

static void resumed_announce(const train_session *t)
{
    fprintf(stderr, "gantry: resuming %s in %s/ at step %llu of %llu (%s, %zu images, batch %zu) with backend %s\n",
            t->config.model, t->out, (unsigned long long)t->first, (unsigned long long)t->total, t->info.data,
            t->ds->count, t->config.batch * train_mpi_world(), gantry_backend_name(t->be));
}

const train_origin train_resumed = {
    .settings = resumed_settings,
    .check_data = resumed_check_data,
    .configure = resumed_configure,
    .default_total = resumed_default_total,
    .model = resumed_model,
    .outputs = resumed_outputs,
    .announce = resumed_announce,
};
