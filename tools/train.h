/* Internal to `gantry train`: the options, the session a run holds, and its
 * three phases: prepare (train_prepare.c, with a fresh run's beginning; a
 * resumed run's is in train_resume.c), run (train_run.c) and finish
 * (train_finish.c). */
#ifndef GANTRY_TRAIN_H
#define GANTRY_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "gantry/data.h"
#include "gantry/gan.h"
#include "tools/train_mpi.h"
#include "tools/train_resume.h"

/* The most images a sample grid holds. */
#define TRAIN_GRID_MAX_IMAGES 256
#define TRAIN_LOG_HEADER "step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,d_class,seconds\n"
/* With --eval-every: the metrics of gantry eval on the rows of the steps
 * evaluated, empty fields on the others. */
#define TRAIN_LOG_HEADER_EVAL                                                                              \
    "step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,d_class,seconds,fd,is,covered,class_kl,"       \
    "precision,recall\n"
/* Images generated (and real test images taken) at each evaluation. */
#define TRAIN_EVAL_SAMPLES 2000
#define TRAIN_BEST_CHECKPOINT "checkpoint-best.safetensors"

typedef struct train_options {
    const char *model, *data, *out, *backend, *resume, *test_data, *features;
    const char *setting; /* the first option given that --resume takes from the run instead */
    const char *gan_only; /* the first option given that --model classifier has no use for */
    uint64_t limit, steps, epochs, batch, d_steps, seed, sample_every;
    uint64_t width, labeled, unroll, image_size, channels, eval_every;
    float lr, clip, smoothing, gamma, lambda_k;
    int g_loss_set, quiet, clip_set, minibatch_disc, feature_matching, vbn, steps_set, sync_bn;
    gantry_g_loss g_loss;
    train_mpi_options mpi;
} train_options;

typedef struct train_session train_session;

/* How a run begins: fresh from the options (train_fresh), or resumed from
 * the directory of an earlier one (train_resumed).  train_prepare calls the
 * methods in this order; optional ones may be NULL. */
typedef struct train_origin {
    /* t->config (fresh), t->info and t->is_sgan from where the run's
     * settings come; returns an exit code, the error printed. */
    int (*settings)(train_session *t);
    /* Optional: checks the training set, just loaded into t->ds. */
    gantry_status (*check_data)(train_session *t);
    /* Completes t->config once the data and the backend are there. */
    gantry_status (*configure)(train_session *t);
    /* The steps to run when neither --steps nor --epochs says. */
    uint64_t (*default_total)(const train_session *t, size_t batches);
    /* t->gan, to train up to t->total. */
    gantry_status (*model)(train_session *t);
    /* t->out made, and t->log open for the rows after the model's step. */
    gantry_status (*outputs)(train_session *t);
    /* The line on stderr before the first step. */
    void (*announce)(const train_session *t);
} train_origin;

extern const train_origin train_fresh, train_resumed;

struct train_session {
    train_options o;
    const train_origin *origin;
    gantry_gan_config config;
    train_run_info info; /* what --resume needs; seconds counted from `start` */
    int is_sgan;
    gantry_dataset *ds;
    gantry_dataset *held_out; /* sgan on a source without a test split: its last images */
    gantry_backend *be;
    gantry_gan *gan;
    gantry_loader *loader;
    float *real;          /* d_steps batches of images */
    uint8_t *labels;      /* and their labels */
    float *grid;          /* the sample grid's images */
    size_t image_size;    /* floats per image */
    FILE *log;
    char out[4096];
    char resume_state[4200]; /* --resume: the training state paired with the checkpoint */
    uint64_t first, total; /* the model's step at the start; the step to end at */
    uint64_t step;         /* the step the loop stopped at */
    int interrupted;       /* stopped by Ctrl-C */
    double start;          /* the run's clock: its zero, earlier sessions included */
    double session;        /* when this session's steps began */
    /* --eval-every (train_eval.c) */
    struct gantry_classifier *clf;
    struct gantry_eval_set *eval_real;
    double last_fd; /* the last evaluation's FD (-1: none yet) */
};

/* Split `split` of `source` with the run's preprocessing (t->info's image
 * size and channels), a progress line while a folder is decoded, and a
 * warning for every image skipped. */
gantry_status train_open_data(const train_session *t, const char *source, const char *split, size_t limit,
                              gantry_dataset **out);
/* mkdir -p t->out. */
gantry_status train_make_out_dir(const train_session *t);
/* Opens t->out/log.csv with fopen's mode, writing `header` (when not NULL). */
gantry_status train_open_log(train_session *t, const char *mode, const char *header);

/* GANTRY_IO naming the log and the system's reason when a write to it has
 * failed: called right after the writes, while errno is theirs. */
gantry_status train_log_check(const train_session *t);
/* The log's rows flushed and synced to the disk, checked. */
gantry_status train_log_flush(const train_session *t);

/* Everything up to the first step; returns an exit code, the error printed. */
int train_prepare(train_session *t);
/* The steps, with the log, progress and the periodic saves, until the end,
 * an error or Ctrl-C; closes the log. */
gantry_status train_run(train_session *t);
/* The final save, sgan's accuracy and the summary after train_run's status
 * s; returns the exit code. */
int train_finish(train_session *t, gantry_status s);
/* Frees whatever the session holds. */
void train_close(train_session *t);

/* log.csv's header: with or without the metrics' columns. */
const char *train_log_header(const train_session *t);
/* --eval-every: the classifier and the real images' set (train_eval.c). */
gantry_status train_eval_prepare(train_session *t);
/* The metrics' fields of the row of step `done` (a leading comma each;
 * empty unless the step is evaluated), the best checkpoint kept. */
gantry_status train_eval_fields(train_session *t, uint64_t done);
void train_eval_close(train_session *t);

/* `gantry train --model classifier` (train_classifier.c); an exit code. */
int train_classifier(const train_options *o);

/* samples-STEP.png, samples.png, the checkpoint and the training state. */
gantry_status train_save(train_session *t);

#endif
