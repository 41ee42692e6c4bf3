/* Internal to the gantry CLI: the feature network and the metric sets that
 * `gantry eval`, `gantry train --model classifier` and `gantry train
 * --eval-every` share (tools/eval_tool.c). */
#ifndef GANTRY_EVAL_TOOL_H
#define GANTRY_EVAL_TOOL_H

#include <stdint.h>

#include "gantry/data.h"
#include "gantry/eval.h"
#include "gantry/gan.h"

/* The default classifier's training: passes over the training split. */
#define EVAL_DEFAULT_EPOCHS 8

/* A classifier's training run: epochs over `train` (labelled), the last
 * quarter of them (from 4 epochs) at a tenth of the learning rate, accuracy
 * on `test` after each, a progress line on stderr unless quiet, and when log
 * is not NULL a row "epoch,step,loss,test_accuracy,seconds" per epoch. */
typedef struct eval_train_options {
    uint64_t epochs, seed, limit_steps; /* limit_steps > 0: stop after that many steps */
    int quiet;
    FILE *log;
    const char *log_path; /* log's name, for a write error */
} eval_train_options;
gantry_status eval_train_classifier(gantry_classifier *clf, const gantry_dataset *train, const gantry_dataset *test,
                                    const eval_train_options *o, double *test_accuracy);

/* A classifier made from scratch: trained on data's training split, tested
 * on test_data's (default: data's) test split, or on a held-out tenth of a
 * source without one; written to `path` (when not NULL) with the data's
 * name and the test accuracy as metadata. */
typedef struct eval_make_options {
    const char *data, *test_data, *path;
    size_t limit, image_size, channels; /* as gantry train's options (0: the defaults) */
    size_t batch;                       /* 0: the classifier's default */
    float lr;                           /* 0: the classifier's default */
    int default_one;                    /* gantry eval's default classifier (the messages say so) */
    eval_train_options train;
} eval_make_options;
gantry_status eval_make_classifier(gantry_backend *be, const eval_make_options *m, gantry_classifier **out,
                                   double *accuracy, size_t *tested);

/* Accuracy of clf on a labelled set (evaluation mode). */
gantry_status eval_accuracy(gantry_classifier *clf, const gantry_dataset *ds, double *accuracy);

/* The classifier for `data` at c x h x w: the file `features` when given,
 * else the default one for that data set from the cache folder (trained
 * there on first use, EVAL_DEFAULT_EPOCHS epochs, saying so on stderr). */
gantry_status eval_open_classifier(gantry_backend *be, const char *features, const char *data, size_t c, size_t h,
                                   size_t w, int quiet, gantry_classifier **out);

/* The real side: the first n images (0: all) of data's evaluation split
 * ("eval": the test split where there is one) at the classifier's shape. */
gantry_status eval_real_set(gantry_classifier *clf, const char *data, size_t n, gantry_eval_set **out);

/* The generated side: n images of a generator (noise from `seed`; the
 * conditional models' labels cycle through the classes), in chunks. */
gantry_status eval_gan_set(gantry_classifier *clf, gantry_gan *gan, size_t n, uint64_t seed, gantry_eval_set **out);
/* Or n images [n, C, H, W] in [-1, 1] given on the host. */
gantry_status eval_images_set(gantry_classifier *clf, const float *images, size_t n, gantry_eval_set **out);

#endif
