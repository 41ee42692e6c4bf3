/* `gantry train` after its steps: the final save (after a divergence too,
 * for inspection), sgan's test accuracy and the summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/train.h"

/* sgan: D's accuracy on the held-out images, --test-data or the data's test
 * split, printed and written to accuracy.txt. */
static gantry_status report_accuracy(train_session *t)
{
    gantry_dataset *test = t->held_out;
    const char *source = t->info.test_data[0] ? t->info.test_data : t->info.data;
    if (!test)
        GANTRY_TRY(train_open_data(t, source, "eval", 0, &test));
    gantry_status s = GANTRY_OK;
    size_t chw = test->channels * test->height * test->width;
    const gantry_gan_config *c = gantry_gan_config_of(t->gan);
    if (test->channels != c->channels || test->height != c->height || test->width != c->width)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: test images of %zux%zux%zu for a model of %zux%zux%zu",
                             source, test->channels, test->height, test->width, c->channels, c->height, c->width);
    uint8_t *pred = malloc(test->count ? test->count : 1);
    float *images = malloc((test->count ? test->count : 1) * chw * sizeof *images);
    if (s) {
        /* the shapes differ */
    } else if (!pred || !images) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for %zu test images", test->count);
    } else if (!test->labels) {
        s = gantry_set_error(GANTRY_NOT_FOUND, "%s: test images without labels", source);
    } else if (!(s = gantry_dataset_images(test, 0, test->count, images)) &&
               !(s = gantry_gan_classify(t->gan, images, test->count, pred))) {
        size_t right = 0;
        for (size_t i = 0; i < test->count; i++)
            right += pred[i] == test->labels[i];
        double acc = (double)right / (double)test->count;
        char path[4200];
        snprintf(path, sizeof path, "%s/accuracy.txt", t->out);
        FILE *f = fopen(path, "w");
        int bad = !f || fprintf(f, "test_accuracy %.4f (%zu of %zu)\n", acc, right, test->count) < 0;
        if ((f && fclose(f) != 0) || bad)
            s = gantry_set_error(GANTRY_IO, "cannot write %s: %s", path, strerror(errno));
        if (!t->o.quiet)
            fprintf(stderr, "gantry: sgan test accuracy %.2f%% (%zu of %zu test images)\n", 100.0 * acc, right,
                    test->count);
    }
    free(pred);
    free(images);
    if (test != t->held_out)
        gantry_dataset_destroy(test);
    return s;
}

static void summary(const train_session *t, double secs)
{
    uint64_t steps = t->step - t->first;
    double images = (double)steps * (double)(t->config.batch * train_mpi_world() * t->config.d_steps);
    fprintf(stderr, "gantry: %s at step %llu of %llu, %llu steps in %.1f s (%.0f img/s); wrote %s/samples.png, "
                    "log.csv, %s, %s\n",
            t->interrupted ? "interrupted" : "finished", (unsigned long long)t->step, (unsigned long long)t->total,
            (unsigned long long)steps, secs, secs > 0 ? images / secs : 0.0, t->out, TRAIN_CHECKPOINT, TRAIN_STATE);
    char exchange[256];
    fputs(train_mpi_summary(steps, exchange, sizeof exchange), stderr);
    if (t->interrupted && t->step < t->total)
        fprintf(stderr, "gantry: to go on: gantry train --resume %s\n", t->out);
}

int train_finish(train_session *t, gantry_status s)
{
    if (s && s != GANTRY_NUMERIC)
        return cli_fail(s);
    /* Even after a divergence the last state is written, for inspection. */
    gantry_status w = train_save(t);
    if (!s)
        s = w;
    if (s)
        return cli_fail(s);
    double secs = cli_now() - t->session;
    if (train_mpi_rank() != 0) /* rank 0 reports */
        return t->interrupted ? CLI_INTERRUPTED : CLI_OK;
    if (t->is_sgan && (s = report_accuracy(t)))
        return cli_fail(s);
    if (!t->o.quiet)
        summary(t, secs);
    return t->interrupted ? CLI_INTERRUPTED : CLI_OK;
}
