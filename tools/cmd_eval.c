/* `gantry eval`: the quality metrics of a generator's samples (or of images
 * in a .npy file) against the real test images, on a classifier's features. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/io.h"
#include "tools/cli.h"
#include "tools/eval_tool.h"

static void help(void)
{
    printf("usage: gantry eval (--checkpoint FILE | --samples FILE.npy) [options]\n\n"
           "Measures generated images against the real test images on the penultimate features\n"
           "of a classifier that gantry trained (include/gantry/eval.h):\n"
           "  FD         Frechet distance of the two feature Gaussians (the FID convention with\n"
           "             this classifier's 256 features; 0 is the real images' own)\n"
           "  IS         the Inception Score analogue exp(E KL(p(y|x) || p(y))), 1 to K classes\n"
           "  coverage   classes the samples' argmax puts at least a fifth of the real share in,\n"
           "             and the KL divergence of that class distribution to the real one\n"
           "  precision  samples inside the real images' k-NN manifold (k = 3, Kynkaanniemi et\n"
           "             al. 2019); recall: real images inside the samples' manifold\n\n"
           "options:\n"
           "  --checkpoint FILE   a checkpoint.safetensors from gantry train: its generator's samples\n"
           "  --samples FILE      or images in a .npy [N, C, H, W] (or [N, H, W]), float32 in [-1, 1]\n"
           "                      (e.g. another program's samples, scored alike)\n"
           "  --features FILE     the classifier (gantry train --model classifier); default: one\n"
           "                      for --data, trained on first use (%d epochs, a few minutes) and\n"
           "                      cached under GANTRY_CACHE_DIR (else ~/.cache/gantry)/classifiers\n"
           "  --data SRC          the real images, as gantry train takes them (default\n"
           "                      fashion-mnist): its test split where it has one\n"
           "  --n N               samples to draw (or take from --samples), and real images to take\n"
           "                      at most (default 10000)\n"
           "  --seed S            noise seed of the samples (default 0)\n"
           "  --backend NAME      backend (default: GANTRY_BACKEND, else auto)\n"
           "  --json              one JSON object on stdout\n"
           "  --quiet             no progress lines\n",
           EVAL_DEFAULT_EPOCHS);
}

typedef struct eval_options {
    const char *checkpoint, *samples, *features, *data, *backend;
    uint64_t n, seed;
    int json, quiet;
} eval_options;

static int parse(int argc, char **argv, eval_options *o)
{
    enum { O_CHECKPOINT = 256, O_SAMPLES, O_FEATURES, O_DATA, O_N, O_SEED, O_BACKEND, O_JSON, O_QUIET };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },           { "checkpoint", required_argument, NULL, O_CHECKPOINT },
        { "samples", required_argument, NULL, O_SAMPLES }, { "features", required_argument, NULL, O_FEATURES },
        { "data", required_argument, NULL, O_DATA },   { "n", required_argument, NULL, O_N },
        { "seed", required_argument, NULL, O_SEED },   { "backend", required_argument, NULL, O_BACKEND },
        { "json", no_argument, NULL, O_JSON },         { "quiet", no_argument, NULL, O_QUIET },
        { 0, 0, 0, 0 },
    };
    static const char cmd[] = "eval";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h': help(); return 1;
        case O_CHECKPOINT: o->checkpoint = optarg; break;
        case O_SAMPLES: o->samples = optarg; break;
        case O_FEATURES: o->features = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_BACKEND: o->backend = optarg; break;
        case O_N: bad = cli_parse_u64(cmd, "--n", optarg, GANTRY_EVAL_K + 1, 1u << 20, &o->n); break;
        case O_SEED: bad = cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case O_JSON: o->json = 1; break;
        case O_QUIET: o->quiet = 1; break;
        case '?': return -cli_getopt_error(cmd, argv);
        default: return -cli_usage_error(cmd, "unknown option");
        }
        if (bad)
            return -CLI_USAGE;
    }
    if (optind < argc)
        return -cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->checkpoint == !o->samples)
        return -cli_usage_error(cmd, "give one of --checkpoint FILE and --samples FILE.npy");
    return 0;
}

/* The .npy's images as [n, c, h, w] in [-1, 1]. */
static gantry_status read_samples(const char *path, float **images, size_t shape[4])
{
    int ndim;
    size_t dims[4] = { 0 };
    GANTRY_TRY(gantry_npy_read(path, images, &ndim, dims));
    if (ndim == 3) {
        dims[3] = dims[2];
        dims[2] = dims[1];
        dims[1] = 1;
    }
    gantry_status s = GANTRY_OK;
    if (ndim != 3 && ndim != 4)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %d dimensions; expected [N, C, H, W] or [N, H, W]", path,
                             ndim);
    size_t total = dims[0] * dims[1] * dims[2] * dims[3];
    for (size_t i = 0; !s && i < total; i++)
        if (!((*images)[i] >= -1.0001f && (*images)[i] <= 1.0001f))
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                 "%s: value %g at index %zu is outside [-1, 1] (samples as a generator's tanh "
                                 "gives them: map [0, 1] images with 2x - 1)",
                                 path, (double)(*images)[i], i);
    if (s) {
        free(*images);
        *images = NULL;
        return s;
    }
    memcpy(shape, dims, sizeof dims);
    return GANTRY_OK;
}

static void print_metrics(const eval_options *o, const char *what, const gantry_eval_metrics *m, double seconds,
                          const char *backend)
{
    if (o->json) {
        printf("{\"source\": \"%s\", \"backend\": \"%s\", \"n_fake\": %zu, \"n_real\": %zu, \"features\": %zu, "
               "\"classes\": %zu, \"fd\": %.9g, \"is\": %.9g, \"covered\": %zu, \"class_kl\": %.9g, "
               "\"precision\": %.9g, \"recall\": %.9g, \"seconds\": %.3f}\n",
               what, backend, m->n_fake, m->n_real, m->dim, m->classes, m->fd, m->is, m->covered, m->class_kl,
               m->precision, m->recall, seconds);
        return;
    }
    printf("%s: %zu samples against %zu real images, %zu features (%s)\n", what, m->n_fake, m->n_real, m->dim,
           backend);
    printf("FD         %.4f\n", m->fd);
    printf("IS         %.4f  (1 to %zu)\n", m->is, m->classes);
    printf("coverage   %zu of %zu classes, class KL %.4f nats\n", m->covered, m->classes, m->class_kl);
    printf("precision  %.4f\n", m->precision);
    printf("recall     %.4f\n", m->recall);
    printf("time       %.1f s\n", seconds);
}

int cmd_eval(int argc, char **argv)
{
    eval_options o = { .data = "fashion-mnist", .n = 10000 };
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc > 0 ? CLI_OK : -rc;
    double t0 = cli_now();
    gantry_backend *be = NULL;
    gantry_gan *gan = NULL;
    gantry_classifier *clf = NULL;
    gantry_eval_set *real = NULL, *fake = NULL;
    float *images = NULL;
    size_t shape[4] = { 0 };
    char what[4200];
    gantry_status s = cli_open_backend(o.backend, &be);
    if (!s && o.checkpoint) {
        s = gantry_gan_load(be, o.checkpoint, &gan);
        if (!s) {
            const gantry_gan_config *c = gantry_gan_config_of(gan);
            shape[0] = o.n, shape[1] = c->channels, shape[2] = c->height, shape[3] = c->width;
            snprintf(what, sizeof what, "%s (step %llu) of %s", c->model, (unsigned long long)gantry_gan_steps(gan),
                     o.checkpoint);
        }
    } else if (!s) {
        s = read_samples(o.samples, &images, shape);
        if (!s && shape[0] > o.n) /* the first --n of the file */
            shape[0] = (size_t)o.n;
        snprintf(what, sizeof what, "%s", o.samples);
    }
    double c0 = cli_now();
    if (!s)
        s = eval_open_classifier(be, o.features, o.data, shape[1], shape[2], shape[3], o.quiet, &clf);
    double training = cli_now() - c0; /* a default classifier's first training is not the evaluation's time */
    if (!s)
        s = eval_real_set(clf, o.data, (size_t)o.n, &real);
    if (!s && gan)
        s = eval_gan_set(clf, gan, (size_t)o.n, o.seed, &fake);
    else if (!s)
        s = eval_images_set(clf, images, shape[0], &fake);
    gantry_eval_metrics m;
    if (!s)
        s = gantry_eval_compare(real, fake, &m);
    rc = s ? cli_fail(s) : CLI_OK;
    if (!s)
        print_metrics(&o, what, &m, cli_now() - t0 - training, gantry_backend_name(be));
    gantry_eval_set_destroy(real);
    gantry_eval_set_destroy(fake);
    gantry_classifier_destroy(clf);
    gantry_gan_destroy(gan);
    free(images);
    gantry_backend_close(be);
    return rc;
}
