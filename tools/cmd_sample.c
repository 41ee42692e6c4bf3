/* `gantry sample`: images from a checkpoint. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/gan.h"
#include "gantry/io.h"
#include "tools/cli.h"

static void help(void)
{
    printf("usage: gantry sample --checkpoint FILE --out FILE.png|FILE.npy [options]\n\n"
           "Generates images with the generator of a checkpoint written by `gantry train`\n"
           "(batch norm in evaluation mode).  A .png gets a grid of 8 images per row; a .npy\n"
           "gets the raw float32 samples, shape [N, C, H, W], values in [-1, 1].\n\n"
           "options:\n"
           "  --checkpoint FILE   a checkpoint.safetensors from gantry train (required)\n"
           "  --out FILE          output path ending in .png or .npy (required)\n"
           "  --n N               number of images (default 64; conditional models 8 per class)\n"
           "  --label K           conditional models (cgan, cdcgan): every image of class K;\n"
           "                      without it, one class per row of 8\n"
           "  --seed S            noise seed (default 0)\n"
           "  --backend NAME      backend (default: GANTRY_BACKEND, else auto)\n");
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

int cmd_sample(int argc, char **argv)
{
    enum { O_CHECKPOINT = 256, O_OUT, O_N, O_SEED, O_BACKEND, O_LABEL };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },    { "checkpoint", required_argument, NULL, O_CHECKPOINT },
        { "out", required_argument, NULL, O_OUT }, { "n", required_argument, NULL, O_N },
        { "seed", required_argument, NULL, O_SEED }, { "backend", required_argument, NULL, O_BACKEND },
        { "label", required_argument, NULL, O_LABEL }, { 0, 0, 0, 0 },
    };
    static const char cmd[] = "sample";
    const char *checkpoint = NULL, *out = NULL, *backend = NULL;
    uint64_t n = 0, seed = 0, label = 0;
    int label_set = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return CLI_OK;
        case O_CHECKPOINT: checkpoint = optarg; break;
        case O_OUT: out = optarg; break;
        case O_BACKEND: backend = optarg; break;
        case O_N:
            if (cli_parse_u64(cmd, "--n", optarg, 1, 1u << 20, &n))
                return CLI_USAGE;
            break;
        case O_SEED:
            if (cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &seed))
                return CLI_USAGE;
            break;
        case O_LABEL:
            if (cli_parse_u64(cmd, "--label", optarg, 0, 255, &label))
                return CLI_USAGE;
            label_set = 1;
            break;
        case '?': return cli_getopt_error(cmd, argv);
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!checkpoint)
        return cli_usage_error(cmd, "--checkpoint FILE is required");
    if (!out)
        return cli_usage_error(cmd, "--out FILE.png or FILE.npy is required");
    int png = has_suffix(out, ".png");
    if (!png && !has_suffix(out, ".npy"))
        return cli_usage_error(cmd, "--out '%s' must end in .png or .npy", out);

    gantry_backend *be = NULL;
    gantry_gan *gan = NULL;
    float *images = NULL;
    uint8_t *labels = NULL;
    gantry_status s = cli_open_backend(backend, &be);
    if (!s)
        s = gantry_gan_load(be, checkpoint, &gan);
    const gantry_gan_config *cfg = gantry_gan_config_of(gan);
    int conditional = gantry_gan_is_conditional(gan);
    if (!s && label_set && !conditional)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "--label: %s is not a conditional model (cgan, cdcgan)",
                             cfg->model);
    if (!s && label_set && label >= cfg->classes)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "--label %llu: %s has classes 0..%zu", (unsigned long long)label,
                             cfg->model, cfg->classes - 1);
    if (!s && !n)
        n = conditional && !label_set ? 8 * cfg->classes : 64;
    if (!s && conditional) {
        labels = malloc((size_t)n);
        if (!labels)
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
        for (size_t i = 0; !s && i < n; i++)
            labels[i] = (uint8_t)(label_set ? label : (i / 8) % cfg->classes);
    }
    if (!s) {
        images = malloc((size_t)n * cfg->channels * cfg->height * cfg->width * sizeof *images);
        if (!images)
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for %llu images", (unsigned long long)n);
    }
    if (!s)
        s = gantry_gan_sample_labeled(gan, (size_t)n, seed, labels, images);
    if (!s && png)
        s = gantry_png_write_samples(out, images, (size_t)n, cfg->channels, cfg->height, cfg->width, 8);
    if (!s && !png) {
        size_t shape[4] = { (size_t)n, cfg->channels, cfg->height, cfg->width };
        s = gantry_npy_write(out, images, 4, shape);
    }
    int rc = s ? cli_fail(s) : CLI_OK;
    if (!s)
        printf("wrote %llu samples of %s (step %llu) to %s\n", (unsigned long long)n, cfg->model,
               (unsigned long long)gantry_gan_steps(gan), out);
    free(images);
    free(labels);
    gantry_gan_destroy(gan);
    gantry_backend_close(be);
    return rc;
}
