/* `gantry train`'s saves: the sample grids, the checkpoint and the training
 * state, each written atomically. */
#include <stdio.h>

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

/* The state last: --resume checks that it belongs to the checkpoint. */
static gantry_status save_files(train_session *t)
{
    char path[4200];
    GANTRY_TRY(save_samples(t));
    snprintf(path, sizeof path, "%s/%s", t->out, TRAIN_CHECKPOINT);
    GANTRY_TRY(gantry_gan_save(t->gan, path, NULL, 0));
    gantry_st_meta meta[TRAIN_RUN_META];
    char text[TRAIN_RUN_META][64];
    t->info.seconds = cli_now() - t->start;
    size_t n = train_run_meta(&t->info, meta, text);
    snprintf(path, sizeof path, "%s/%s", t->out, TRAIN_STATE);
    return gantry_gan_save_training(t->gan, path, meta, n);
}

/* In an MPI job: the ranks' weights checked first, the files from rank 0. */
gantry_status train_save(train_session *t)
{
    GANTRY_TRY(train_mpi_sync(t, gantry_gan_steps(t->gan)));
    return train_mpi_agree(train_mpi_rank() == 0 ? save_files(t) : GANTRY_OK);
}
