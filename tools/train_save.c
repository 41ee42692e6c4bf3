/* `gantry train`'s saves: the sample grids, each written atomically, and the
 * checkpoint and the training state, written atomically as a pair. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/train.h"

#define GRID_IMAGES 64
#define GRID_PER_ROW 8
/* The sample grids use their own Philox key so they never share numbers
 * with the initial weights or the training noise. */
#define GRID_SEED_MIX 0x9E3779B97F4A7C15ull

/* The grid of samples as samples-STEP.png and samples.png. */
static gantry_status save_samples(train_session *t)
{
    const gantry_gan_config *c = gantry_gan_config_of(t->gan);
    char path[4200];
    /* Conditional models: one class per row. */
    size_t count = gantry_gan_is_conditional(t->gan) ? GRID_PER_ROW * c->classes : GRID_IMAGES;
    if (count > TRAIN_GRID_MAX_IMAGES)
        count = TRAIN_GRID_MAX_IMAGES;
    GANTRY_TRY(gantry_gan_sample(t->gan, count, c->seed ^ GRID_SEED_MIX, t->grid));
    snprintf(path, sizeof path, "%s/samples-%06llu.png", t->out, (unsigned long long)gantry_gan_steps(t->gan));
    GANTRY_TRY(gantry_png_write_samples(path, t->grid, count, c->channels, c->height, c->width, GRID_PER_ROW));
    snprintf(path, sizeof path, "%s/samples.png", t->out);
    return gantry_png_write_samples(path, t->grid, count, c->channels, c->height, c->width, GRID_PER_ROW);
}

/* The directory's entries made durable: the renames of a save reach the
 * disk in their order.  A file system that cannot sync a directory says
 * EINVAL, which is no failure to write. */
static gantry_status sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return gantry_set_error(GANTRY_IO, "%s: cannot open the directory to sync it: %s", dir, strerror(errno));
    int bad = fsync(fd) != 0 && errno != EINVAL;
    int err = errno;
    close(fd);
    if (bad)
        return gantry_set_error(GANTRY_IO, "%s: cannot sync the directory: %s", dir, strerror(err));
    return GANTRY_OK;
}

static gantry_status rename_failed(const char *from, const char *to)
{
    return gantry_set_error(GANTRY_IO, "cannot rename %s to %s: %s", from, to, strerror(errno));
}

/* Puts the pending pair in place by renames, which need no space on the
 * disk: the state first, the one it replaces kept as TRAIN_STATE_PREV, then
 * the checkpoint, whose rename commits the pair.  Wherever a crash stops
 * this, the checkpoint in place has a state of its own step under one of the
 * two names, which is what --resume looks for (train_pair_find). */
static gantry_status publish(const char *out, const char *ckpt_next, const char *state_next)
{
    char ckpt[4200], state[4200], prev[4200];
    snprintf(ckpt, sizeof ckpt, "%s/%s", out, TRAIN_CHECKPOINT);
    snprintf(state, sizeof state, "%s/%s", out, TRAIN_STATE);
    snprintf(prev, sizeof prev, "%s/%s", out, TRAIN_STATE_PREV);
    if (rename(state, prev) != 0 && errno != ENOENT)
        return rename_failed(state, prev);
    if (rename(state_next, state) != 0) {
        gantry_status s = rename_failed(state_next, state);
        (void)rename(prev, state); /* the previous pair as it was */
        return s;
    }
    if (rename(ckpt_next, ckpt) != 0)
        return rename_failed(ckpt_next, ckpt); /* the previous pair stays, its state as TRAIN_STATE_PREV */
    GANTRY_TRY(sync_dir(out));
    (void)unlink(prev); /* no longer needed; where it stays, --resume passes over it */
    return GANTRY_OK;
}

/* All or nothing: the checkpoint and the training state are written in full
 * under pending names first, which is where a full disk shows, and are put
 * in place together only then; on a failure the pending files go and the
 * previous pair stays.  The state must belong to the checkpoint: --resume
 * checks their steps. */
static gantry_status save_files(train_session *t)
{
    char ckpt_next[4200], state_next[4200];
    GANTRY_TRY(save_samples(t));
    snprintf(ckpt_next, sizeof ckpt_next, "%s/%s%s", t->out, TRAIN_CHECKPOINT, TRAIN_PENDING);
    snprintf(state_next, sizeof state_next, "%s/%s%s", t->out, TRAIN_STATE, TRAIN_PENDING);
    GANTRY_TRY(gantry_gan_save(t->gan, ckpt_next, NULL, 0));
    gantry_st_meta meta[TRAIN_RUN_META];
    char text[TRAIN_RUN_META][64];
    t->info.seconds = cli_now() - t->start;
    size_t n = train_run_meta(&t->info, meta, text);
    gantry_status s = gantry_gan_save_training(t->gan, state_next, meta, n);
    if (!s)
        s = publish(t->out, ckpt_next, state_next);
    if (s) {
        (void)unlink(ckpt_next);
        (void)unlink(state_next);
    }
    return s;
}

/* In an MPI job: the ranks' weights checked first, the files from rank 0. */
gantry_status train_save(train_session *t)
{
    GANTRY_TRY(train_mpi_sync(t, gantry_gan_steps(t->gan)));
    return train_mpi_agree(train_mpi_rank() == 0 ? save_files(t) : GANTRY_OK);
}
