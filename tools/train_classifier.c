/* `gantry train --model classifier`: the feature network of `gantry eval`
 * (include/gantry/eval.h), trained on a labelled data set, with its test
 * accuracy after every epoch in log.csv. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"
#include "tools/eval_tool.h"
#include "tools/train.h"

int train_classifier(const train_options *o)
{
    char out[4096], path[4200];
    if (o->out) {
        snprintf(out, sizeof out, "%s", o->out);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(out, sizeof out, "runs/classifier-%s", stamp);
    }
    if (o->steps_set && o->steps == 0) {
        fprintf(stderr, "gantry train: --steps 0: a classifier needs at least one step\n");
        return CLI_USAGE;
    }
    gantry_backend *be = NULL;
    gantry_classifier *clf = NULL;
    FILE *log = NULL;
    double accuracy = 0.0, t0 = cli_now();
    size_t tested = 0;
    snprintf(path, sizeof path, "%s/classifier.safetensors", out);
    gantry_status s = cli_make_dirs(out);
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/log.csv", out);
    if (!s) {
        log = fopen(log_path, "w");
        if (!log || fputs("epoch,step,loss,test_accuracy,seconds\n", log) == EOF)
            s = gantry_set_error(GANTRY_IO, "cannot write %s: %s", log_path, strerror(errno));
    }
    if (!s)
        s = cli_open_backend(o->backend, &be);
    if (!s) {
        eval_make_options m = {
            .data = o->data ? o->data : "fashion-mnist",
            .test_data = o->test_data,
            .path = path,
            .limit = (size_t)o->limit,
            .image_size = (size_t)o->image_size,
            .channels = (size_t)o->channels,
            .batch = (size_t)o->batch,
            .lr = o->lr,
            .train = { .epochs = o->epochs ? o->epochs : EVAL_DEFAULT_EPOCHS,
                       .seed = o->seed,
                       .limit_steps = o->steps_set ? o->steps : 0,
                       .quiet = o->quiet,
                       .log = log,
                       .log_path = log_path },
        };
        s = eval_make_classifier(be, &m, &clf, &accuracy, &tested);
    }
    errno = 0;
    if (log && fclose(log) != 0 && !s)
        s = gantry_set_error(GANTRY_IO, "cannot write %s: %s", log_path, strerror(errno ? errno : EIO));
    int rc = s ? cli_fail(s) : CLI_OK;
    if (!s)
        printf("classifier: test accuracy %.2f%% (%zu images) in %.0f s; wrote %s\n", 100.0 * accuracy, tested,
               cli_now() - t0, path);
    gantry_classifier_destroy(clf);
    gantry_backend_close(be);
    return rc;
}
