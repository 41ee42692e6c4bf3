/* Internal to `gantry train`: what a run records for --resume beyond the
 * library's training state, and putting its directory back in order. */
#ifndef GANTRY_TRAIN_RESUME_H
#define GANTRY_TRAIN_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/io.h"

#define TRAIN_CHECKPOINT "checkpoint.safetensors"
#define TRAIN_STATE "train-state.safetensors"
/* The state a save replaces, kept until the new checkpoint is in place
 * (train_save.c): the one that pairs with the checkpoint if a save stops
 * half-way through its renames. */
#define TRAIN_STATE_PREV "train-state.prev.safetensors"
/* Appended to both names while a save writes them. */
#define TRAIN_PENDING ".next"

/* The run's own settings, stored in the training state's metadata. */
typedef struct train_run_info {
    char data[4096];      /* --data as given */
    char test_data[4096]; /* sgan's --test-data ("": none) */
    uint64_t limit;       /* --limit (0: all) */
    uint64_t image_size;  /* the images' size and channels after preprocessing (0: as they come, */
    uint64_t channels;    /* from runs that predate the options) */
    uint64_t images;   /* images the data set had: the data order depends on it */
    uint64_t total;    /* the steps the run was started for */
    uint64_t labeled;  /* sgan's --labeled (0 otherwise) */
    double seconds;    /* training time so far */
    uint64_t eval_every;  /* --eval-every (0: none) */
    char features[4096];  /* --features ("": the default classifier) */
    double best_fd;       /* the best FD so far, of checkpoint-best (-1: none yet) */
    uint64_t ranks;       /* the MPI ranks that train it (1: one process) */
    uint64_t sync_bn;     /* --sync-bn */
} train_run_info;

/* The entries of `info` as metadata; `text` holds the values.  Returns the count. */
#define TRAIN_RUN_META 14
size_t train_run_meta(const train_run_info *info, gantry_st_meta meta[TRAIN_RUN_META],
                      char text[TRAIN_RUN_META][64]);
/* The training state in DIR that belongs to DIR's checkpoint, the step of
 * both the same: TRAIN_STATE, or TRAIN_STATE_PREV after a save that stopped
 * before its checkpoint was in place.  Its path in `state`; an error naming
 * the directory and the steps found when there is none. */
gantry_status train_pair_find(const char *dir, char *state, size_t size);
/* Puts the state found back as TRAIN_STATE, so the next save starts from a
 * directory in order, and removes what a stopped save left pending. */
gantry_status train_pair_restore(const char *dir, const char *state);
/* Reads them back from the training state at `path` (error naming the file
 * and entry when one is missing or malformed). */
gantry_status train_run_read(const char *path, train_run_info *info);
/* Drops the rows of DIR/log.csv after `step` (written after the last
 * save by a run that then died), so the resumed run appends where the
 * saved state is.  A missing log gets its header back. */
gantry_status train_log_trim(const char *path, uint64_t step, const char *header);

#endif
