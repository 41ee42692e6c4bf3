/* Internal to `gantry train`: what a run records for --resume beyond the
 * library's training state, and putting its directory back in order. */
#ifndef GANTRY_TRAIN_RESUME_H
#define GANTRY_TRAIN_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/io.h"

#define TRAIN_CHECKPOINT "checkpoint.safetensors"
#define TRAIN_STATE "train-state.safetensors"

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
/* Reads them back from DIR/train-state.safetensors (error naming the file
 * and entry when one is missing or malformed). */
gantry_status train_run_read(const char *dir, train_run_info *info);
/* Drops the rows of DIR/log.csv after `step` (written after the last
 * save by a run that then died), so the resumed run appends where the
 * saved state is.  A missing log gets its header back. */
gantry_status train_log_trim(const char *path, uint64_t step, const char *header);

#endif
