/* `gantry train --eval-every N`: every N steps (and at the last), the
 * metrics of `gantry eval` on TRAIN_EVAL_SAMPLES generated images against as
 * many real test images, into log.csv's last columns and the progress line;
 * the checkpoint of the best FD so far as checkpoint-best.safetensors. */
#include <stdio.h>

#include "tools/cli.h"
#include "tools/eval_tool.h"
#include "tools/train.h"

/* The evaluation's noise: its own Philox key, the same at every evaluation
 * so that the changes are the generator's alone. */
#define EVAL_SEED_MIX 0xD1B54A32D192ED03ull

const char *train_log_header(const train_session *t)
{
    return t->info.eval_every ? TRAIN_LOG_HEADER_EVAL : TRAIN_LOG_HEADER;
}

gantry_status train_eval_prepare(train_session *t)
{
    const gantry_gan_config *c = &t->config;
    t->last_fd = -1.0;
    GANTRY_TRY(eval_open_classifier(t->be, t->info.features[0] ? t->info.features : NULL, t->info.data, c->channels,
                                    c->height, c->width, t->o.quiet, &t->clf));
    return eval_real_set(t->clf, t->info.data, TRAIN_EVAL_SAMPLES, &t->eval_real);
}

gantry_status train_eval_fields(train_session *t, uint64_t done)
{
    if (!t->info.eval_every)
        return GANTRY_OK;
    if (done % t->info.eval_every != 0 && done != t->total) {
        fputs(",,,,,,", t->log);
        return GANTRY_OK;
    }
    gantry_eval_set *fake = NULL;
    gantry_eval_metrics m;
    gantry_status s = eval_gan_set(t->clf, t->gan, TRAIN_EVAL_SAMPLES, t->config.seed ^ EVAL_SEED_MIX, &fake);
    if (!s)
        s = gantry_eval_compare(t->eval_real, fake, &m);
    gantry_eval_set_destroy(fake);
    if (s)
        return s;
    fprintf(t->log, ",%.6f,%.6f,%zu,%.6f,%.6f,%.6f", m.fd, m.is, m.covered, m.class_kl, m.precision, m.recall);
    GANTRY_TRY(train_log_check(t));
    t->last_fd = m.fd;
    if (t->info.best_fd >= 0.0 && m.fd >= t->info.best_fd)
        return GANTRY_OK;
    t->info.best_fd = m.fd;
    char path[4200], fd[32];
    snprintf(path, sizeof path, "%s/%s", t->out, TRAIN_BEST_CHECKPOINT);
    snprintf(fd, sizeof fd, "%.9g", m.fd);
    gantry_st_meta meta[] = { { "fd", fd } };
    return gantry_gan_save(t->gan, path, meta, 1);
}

void train_eval_close(train_session *t)
{
    gantry_eval_set_destroy(t->eval_real);
    gantry_classifier_destroy(t->clf);
    t->eval_real = NULL;
    t->clf = NULL;
}
