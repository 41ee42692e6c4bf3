/* `gantry train`: data -> backend -> model -> samples, log and checkpoint. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gantry/data.h"
#include "gantry/gan.h"
#include "gantry/io.h"
#include "tools/cli.h"
#include "tools/train_resume.h"

#define GRID_IMAGES 64
#define GRID_PER_ROW 8
#define GRID_PADDING 2
#define GRID_MAX_IMAGES 256
/* The sample grids use their own Philox key so they never share numbers
 * with the initial weights or the training noise. */
#define GRID_SEED_MIX 0x9E3779B97F4A7C15ull

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void help(void)
{
    printf("usage: gantry train [options]\n\n"
           "Trains a GAN and writes into the output directory:\n"
           "  samples.png              the latest grid of samples from fixed noise: 8x8, or one row\n"
           "                           of 8 per class for the conditional models\n"
           "  samples-STEP.png         the grid at each sampling step\n"
           "  log.csv                  step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,\n"
           "                           d_class,seconds (model-specific columns are 0 elsewhere)\n"
           "  checkpoint.safetensors   G and D with PyTorch state_dict names\n"
           "  train-state.safetensors  the optimizers' state and counters, for --resume\n\n"
           "models (each with its paper's defaults):\n"
           "  gan     Goodfellow et al. 2014, Generative Adversarial Nets: MLP G and D,\n"
           "          Algorithm 1 with --d-steps K; Adam 2e-4, betas (0.5, 0.999)\n"
           "  cgan    Mirza & Osindero 2014, Conditional GANs: gan with one-hot labels\n"
           "          concatenated to z and to D's input\n"
           "  dcgan   Radford et al. 2015, DCGAN: Linear+ConvTranspose2d G, Conv2d D,\n"
           "          BatchNorm, (Leaky)ReLU; weights N(0, 0.02); Adam 2e-4, betas (0.5, 0.999)\n"
           "  cdcgan  dcgan with labels concatenated to z and as extra input channels of D\n"
           "  wgan    Arjovsky et al. 2017, Wasserstein GAN: dcgan networks, critic without\n"
           "          sigmoid, RMSProp 5e-5, --n-critic 5, --clip 0.01; log.csv's wasserstein\n"
           "          column is the paper's estimate of the distance\n"
           "  lsgan   Mao et al. 2017, Least Squares GANs: dcgan networks, 1/2 (D - b)^2 losses\n"
           "          with a = 0, b = c = 1\n"
           "  began   Berthelot et al. 2017, BEGAN: dcgan G, autoencoder D with L1\n"
           "          reconstruction loss, gamma 0.5, lambda_k 0.001, Adam 1e-4; log.csv has k\n"
           "          and the convergence measure m_global\n"
           "  sgan    Salimans et al. 2016, semi-supervised GAN: D is a K-class classifier with\n"
           "          D(x) = Z/(Z+1); trains on --labeled N labelled images plus the rest\n"
           "          unlabelled, then reports accuracy on the test split\n\n"
           "options:\n"
           "  --model NAME        model to train (default gan)\n"
           "  --data SRC          fashion-mnist (default; GANTRY_DATA_DIR or\n"
           "                      /usr/share/datasets/fashion-mnist) or a directory of IDX files\n"
           "  --limit N           use only the first N training images\n"
           "  --steps N           generator updates to run (0: write the initial model only)\n"
           "  --epochs N          passes over the data (default 1; exclusive with --steps)\n"
           "  --batch N           minibatch size (default 64)\n"
           "  --d-steps K         discriminator updates per generator update (default 1)\n"
           "  --g-loss L          nonsat: minimise -log D(G(z)) (default)\n"
           "                      minimax: minimise log(1 - D(G(z))), the paper's objective\n"
           "  --n-critic K        the same as --d-steps (wgan's name for it; default 5 there)\n"
           "  --lr X              learning rate (default: the model's)\n"
           "  --width W           channels of the conv networks (default 64: G 2W, W; D W, 2W)\n"
           "  --clip C            clip D's weights to [-C, C] after each update (wgan: 0.01)\n"
           "  --label-smoothing A one-sided label smoothing: D's target for real data is A\n"
           "                      (fake stays 0); default 1 (none)\n"
           "  --minibatch-disc    minibatch discrimination (50 kernels of 5) before D's last layer\n"
           "  --feature-matching  G minimises ||E f(x) - E f(G(z))||^2 over D's penultimate\n"
           "                      features instead of its adversarial loss\n"
           "  --vbn               virtual batch norm in G (Salimans et al. 2016): each example is\n"
           "                      normalised with the statistics of a fixed reference batch of noise\n"
           "                      plus itself; G runs the reference batch before each forward pass\n"
           "  --ref-bn            reference batch norm in G (NIPS 2016 GAN tutorial): every example is\n"
           "                      normalised with the reference batch's statistics alone\n"
           "  --unroll K          unrolled GAN (Metz et al. 2017): before each G update, D takes K\n"
           "                      more steps on the last real batch; G updates against that D, then\n"
           "                      D is restored.  First-order: the gradient does NOT flow through\n"
           "                      the unrolled D updates, only through the unrolled D's output\n"
           "  --labeled N         sgan: labelled training images, N / 10 per class (default 1000)\n"
           "  --began-gamma G     began: the diversity ratio gamma = E L(G(z)) / E L(x) (default 0.5;\n"
           "                      higher trades quality for diversity)\n"
           "  --began-lambda-k L  began: the step of the k_t control (default 0.001, the paper's;\n"
           "                      larger lets D push back on G's samples sooner)\n"
           "  --seed S            weights, noise and data order (default 0)\n"
           "  --sample-every N    write samples and a checkpoint every N steps (default 200)\n"
           "  --out DIR           output directory (default runs/MODEL-YYYYmmdd-HHMMSS)\n"
           "  --backend NAME      backend (default: GANTRY_BACKEND, else auto)\n"
           "  --quiet             no progress output\n"
           "  --resume DIR        continue the run in DIR from its last save, with its model,\n"
           "                      settings, data order and noise: the result is bit for bit that\n"
           "                      of an uninterrupted run (on the same backend).  --steps/--epochs\n"
           "                      then count from the run's start (default: its own end); only\n"
           "                      --data (a moved data set), --sample-every, --backend and --quiet\n"
           "                      may be given with it\n\n"
           "Ctrl-C stops after the current step and still writes samples, the checkpoint and the\n"
           "training state; `gantry train --resume DIR` continues from there.\n");
}

typedef struct train_options {
    const char *model, *data, *out, *backend, *resume;
    const char *setting; /* the first option given that --resume takes from the run instead */
    uint64_t limit, steps, epochs, batch, d_steps, seed, sample_every;
    uint64_t width, labeled, unroll;
    float lr, clip, smoothing, gamma, lambda_k;
    int g_loss_set, quiet, clip_set, minibatch_disc, feature_matching, vbn, steps_set;
    gantry_g_loss g_loss;
} train_options;

static int parse(int argc, char **argv, train_options *o)
{
    enum { O_MODEL = 256, O_DATA, O_LIMIT, O_STEPS, O_EPOCHS, O_BATCH, O_DSTEPS, O_GLOSS, O_LR, O_SEED, O_EVERY,
           O_OUT, O_BACKEND, O_QUIET, O_WIDTH, O_CLIP, O_SMOOTH, O_MBD, O_FM, O_LABELED, O_VBN, O_UNROLL, O_REFBN, O_GAMMA,
           O_LAMBDA_K, O_RESUME };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },          { "model", required_argument, NULL, O_MODEL },
        { "data", required_argument, NULL, O_DATA },   { "limit", required_argument, NULL, O_LIMIT },
        { "steps", required_argument, NULL, O_STEPS }, { "epochs", required_argument, NULL, O_EPOCHS },
        { "batch", required_argument, NULL, O_BATCH }, { "d-steps", required_argument, NULL, O_DSTEPS },
        { "g-loss", required_argument, NULL, O_GLOSS }, { "lr", required_argument, NULL, O_LR },
        { "seed", required_argument, NULL, O_SEED },   { "sample-every", required_argument, NULL, O_EVERY },
        { "out", required_argument, NULL, O_OUT },     { "backend", required_argument, NULL, O_BACKEND },
        { "quiet", no_argument, NULL, O_QUIET },       { "n-critic", required_argument, NULL, O_DSTEPS },
        { "width", required_argument, NULL, O_WIDTH }, { "clip", required_argument, NULL, O_CLIP },
        { "label-smoothing", required_argument, NULL, O_SMOOTH },
        { "minibatch-disc", no_argument, NULL, O_MBD }, { "feature-matching", no_argument, NULL, O_FM },
        { "labeled", required_argument, NULL, O_LABELED }, { "vbn", no_argument, NULL, O_VBN },
        { "unroll", required_argument, NULL, O_UNROLL }, { "ref-bn", no_argument, NULL, O_REFBN },
        { "began-gamma", required_argument, NULL, O_GAMMA },
        { "began-lambda-k", required_argument, NULL, O_LAMBDA_K }, { "resume", required_argument, NULL, O_RESUME },
        { 0, 0, 0, 0 },
    };
    static const char cmd[] = "train";
    int c, index = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
        int bad = 0;
        /* What a resumed run takes from its directory (the rest may change). */
        if (c >= O_MODEL && c != O_DATA && c != O_STEPS && c != O_EPOCHS && c != O_EVERY && c != O_BACKEND &&
            c != O_QUIET && c != O_RESUME && !o->setting && index >= 0)
            o->setting = options[index].name;
        index = -1;
        switch (c) {
        case 'h': help(); return 1;
        case O_MODEL: o->model = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_LIMIT: bad = cli_parse_u64(cmd, "--limit", optarg, 1, 1u << 30, &o->limit); break;
        case O_STEPS:
            o->steps_set = 1;
            bad = cli_parse_u64(cmd, "--steps", optarg, 0, 1ull << 40, &o->steps);
            break;
        case O_EPOCHS: bad = cli_parse_u64(cmd, "--epochs", optarg, 1, 100000, &o->epochs); break;
        case O_BATCH: bad = cli_parse_u64(cmd, "--batch", optarg, 2, 65536, &o->batch); break;
        case O_DSTEPS: bad = cli_parse_u64(cmd, "--d-steps", optarg, 1, 100, &o->d_steps); break;
        case O_LR: bad = cli_parse_float(cmd, "--lr", optarg, 1e-12f, 10.0f, &o->lr); break;
        case O_SEED: bad = cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case O_EVERY: bad = cli_parse_u64(cmd, "--sample-every", optarg, 1, 1ull << 40, &o->sample_every); break;
        case O_OUT: o->out = optarg; break;
        case O_BACKEND: o->backend = optarg; break;
        case O_QUIET: o->quiet = 1; break;
        case O_WIDTH: bad = cli_parse_u64(cmd, "--width", optarg, 1, 4096, &o->width); break;
        case O_CLIP:
            o->clip_set = 1;
            bad = cli_parse_float(cmd, "--clip", optarg, 0.0f, 1e6f, &o->clip);
            break;
        case O_SMOOTH: bad = cli_parse_float(cmd, "--label-smoothing", optarg, 1e-6f, 1.0f, &o->smoothing); break;
        case O_MBD: o->minibatch_disc = 1; break;
        case O_FM: o->feature_matching = 1; break;
        case O_VBN: o->vbn = GANTRY_BN_VIRTUAL; break;
        case O_REFBN: o->vbn = GANTRY_BN_REFERENCE; break;
        case O_GAMMA: bad = cli_parse_float(cmd, "--began-gamma", optarg, 1e-3f, 1.0f, &o->gamma); break;
        case O_LAMBDA_K:
            bad = cli_parse_float(cmd, "--began-lambda-k", optarg, 1e-6f, 1.0f, &o->lambda_k);
            break;
        case O_RESUME: o->resume = optarg; break;
        case O_UNROLL: bad = cli_parse_u64(cmd, "--unroll", optarg, 1, 100, &o->unroll); break;
        case O_LABELED: bad = cli_parse_u64(cmd, "--labeled", optarg, 1, 1u << 30, &o->labeled); break;
        case O_GLOSS:
            o->g_loss_set = 1;
            if (!strcmp(optarg, "nonsat"))
                o->g_loss = GANTRY_G_LOSS_NONSAT;
            else if (!strcmp(optarg, "minimax"))
                o->g_loss = GANTRY_G_LOSS_MINIMAX;
            else
                return -cli_usage_error(cmd, "--g-loss '%s': expected minimax or nonsat", optarg);
            break;
        case '?': return -cli_getopt_error(cmd, argv);
        default: return -cli_usage_error(cmd, "unknown option");
        }
        if (bad)
            return -CLI_USAGE;
    }
    if (optind < argc)
        return -cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->steps_set && o->epochs)
        return -cli_usage_error(cmd, "--steps and --epochs exclude each other");
    if (o->resume && o->setting)
        return -cli_usage_error(cmd, "--%s cannot be given with --resume: the run continues with its own settings",
                                o->setting);
    return 0;
}

/* mkdir -p */
static gantry_status make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return gantry_set_error(GANTRY_IO, "cannot create directory %s: %s", buf, strerror(errno));
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return gantry_set_error(GANTRY_IO, "%s is not a directory", path);
    return GANTRY_OK;
}

typedef struct run_state {
    gantry_gan *gan;
    const char *out;
    uint64_t grid_seed;
    float *grid;
    size_t image_size;
    train_run_info info; /* what --resume needs; seconds counted from `start` */
    double start;
} run_state;

/* samples-STEP.png, samples.png, the checkpoint and the training state,
 * each written atomically (the state last: --resume checks that it
 * belongs to the checkpoint). */
static gantry_status write_outputs(run_state *r)
{
    const gantry_gan_config *c = gantry_gan_config_of(r->gan);
    char path[4200];
    /* Conditional models: one class per row. */
    size_t count = gantry_gan_is_conditional(r->gan) ? GRID_PER_ROW * c->classes : GRID_IMAGES;
    if (count > GRID_MAX_IMAGES)
        count = GRID_MAX_IMAGES;
    gantry_status s = gantry_gan_sample(r->gan, count, r->grid_seed, r->grid);
    if (s)
        return s;
    snprintf(path, sizeof path, "%s/samples-%06llu.png", r->out, (unsigned long long)gantry_gan_steps(r->gan));
    if ((s = gantry_png_write_grid(path, r->grid, count, c->channels, c->height, c->width, GRID_PER_ROW,
                                   GRID_PADDING)))
        return s;
    snprintf(path, sizeof path, "%s/samples.png", r->out);
    if ((s = gantry_png_write_grid(path, r->grid, count, c->channels, c->height, c->width, GRID_PER_ROW,
                                   GRID_PADDING)))
        return s;
    snprintf(path, sizeof path, "%s/%s", r->out, TRAIN_CHECKPOINT);
    if ((s = gantry_gan_save(r->gan, path, NULL, 0)))
        return s;
    gantry_st_meta meta[TRAIN_RUN_META];
    char text[TRAIN_RUN_META][64];
    r->info.seconds = cli_now() - r->start;
    size_t n = train_run_meta(&r->info, meta, text);
    snprintf(path, sizeof path, "%s/%s", r->out, TRAIN_STATE);
    return gantry_gan_save_training(r->gan, path, meta, n);
}

/* sgan: the first n / classes training images of each class are labelled. */
static gantry_status set_labeled(gantry_gan *gan, const gantry_dataset *ds, size_t n)
{
    size_t k = gantry_gan_config_of(gan)->classes, per_class = n / k, chw = ds->channels * ds->height * ds->width;
    if (per_class == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "--labeled %zu: fewer than one image per class (%zu)", n, k);
    float *images = malloc(per_class * k * chw * sizeof *images);
    uint8_t *labels = malloc(per_class * k);
    size_t *taken = calloc(k, sizeof *taken), count = 0;
    gantry_status s = (images && labels && taken) ? GANTRY_OK
                                                  : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; !s && i < ds->count && count < per_class * k; i++) {
        uint8_t l = ds->labels[i];
        if (l >= k || taken[l] >= per_class)
            continue;
        taken[l]++;
        memcpy(images + count * chw, ds->images + i * chw, chw * sizeof *images);
        labels[count++] = l;
    }
    if (!s && count < per_class * k)
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "--labeled %zu: the data set has fewer than %zu images of some class",
                             n, per_class);
    if (!s)
        s = gantry_gan_set_labeled(gan, images, labels, count);
    free(images);
    free(labels);
    free(taken);
    return s;
}

/* sgan: D's accuracy on the test split, printed and written to accuracy.txt. */
static gantry_status report_accuracy(gantry_gan *gan, const char *data, const char *out, int quiet)
{
    gantry_dataset *test = NULL;
    gantry_status s = gantry_dataset_load(data, "t10k", 0, &test);
    if (s)
        return s;
    uint8_t *pred = malloc(test->count ? test->count : 1);
    if (!pred || !test->labels) {
        s = gantry_set_error(pred ? GANTRY_NOT_FOUND : GANTRY_OUT_OF_MEMORY, "%s: test split without labels", data);
    } else if (!(s = gantry_gan_classify(gan, test->images, test->count, pred))) {
        size_t right = 0;
        for (size_t i = 0; i < test->count; i++)
            right += pred[i] == test->labels[i];
        double acc = (double)right / (double)test->count;
        char path[4200];
        snprintf(path, sizeof path, "%s/accuracy.txt", out);
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "test_accuracy %.4f (%zu of %zu)\n", acc, right, test->count);
            fclose(f);
        }
        if (!quiet)
            fprintf(stderr, "gantry: sgan test accuracy %.2f%% (%zu of %zu test images)\n", 100.0 * acc, right,
                    test->count);
    }
    free(pred);
    gantry_dataset_destroy(test);
    return s;
}

static void format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

static void progress(int tty, uint64_t step, uint64_t total, double elapsed, size_t images,
                     const gantry_gan_stats *st)
{
    char eta[32], spent[32];
    double rate = elapsed > 0 ? (double)images / elapsed : 0;
    format_duration(step ? elapsed / (double)step * (double)(total - step) : 0, eta, sizeof eta);
    format_duration(elapsed, spent, sizeof spent);
    fprintf(stderr, "%sstep %llu/%llu  %.0f img/s  %s elapsed  ETA %s  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f%s",
            tty ? "\r\033[K" : "", (unsigned long long)step, (unsigned long long)total, rate, spent, eta, st->d_loss,
            st->g_loss, st->d_real, st->d_fake, tty ? "" : "\n");
    fflush(stderr);
}

#define LOG_HEADER "step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,d_class,seconds\n"

/* The configuration the options ask for (a new run). */
static int config_from_options(const train_options *o, gantry_gan_config *config)
{
    gantry_status s = gantry_gan_defaults(o->model, config);
    if (s) {
        fprintf(stderr, "gantry train: %s (see gantry train --help)\n", gantry_last_error());
        return CLI_USAGE;
    }
    if (o->batch)
        config->batch = o->batch;
    if (o->d_steps)
        config->d_steps = (unsigned)o->d_steps;
    if (o->g_loss_set)
        config->g_loss = o->g_loss;
    if (o->lr > 0)
        config->lr = o->lr;
    if (o->width)
        config->base_channels = o->width;
    if (o->clip_set)
        config->clip = o->clip;
    if (o->smoothing > 0)
        config->label_smoothing = o->smoothing;
    config->minibatch_disc = o->minibatch_disc;
    config->feature_matching = o->feature_matching;
    config->vbn = (gantry_bn_mode)o->vbn;
    int began = strcmp(config->model, "began") == 0;
    if ((o->gamma > 0 || o->lambda_k > 0) && !began) {
        fprintf(stderr, "gantry train: %s applies to --model began only\n",
                o->gamma > 0 ? "--began-gamma" : "--began-lambda-k");
        return CLI_USAGE;
    }
    if (o->gamma > 0)
        config->began_gamma = o->gamma;
    if (o->lambda_k > 0)
        config->began_lambda_k = o->lambda_k;
    config->unroll = (unsigned)o->unroll;
    config->seed = o->seed;
    if (o->labeled && strcmp(config->model, "sgan") != 0) {
        fprintf(stderr, "gantry train: --labeled applies to --model sgan only\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The model of a resumed run, from DIR's checkpoint and training state. */
static gantry_status resume_model(gantry_backend *be, const char *dir, gantry_gan **out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_CHECKPOINT);
    GANTRY_TRY(gantry_gan_load(be, path, out));
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_STATE);
    gantry_status s = gantry_gan_load_training(*out, path);
    if (s) {
        gantry_gan_destroy(*out);
        *out = NULL;
    }
    return s;
}

int cmd_train(int argc, char **argv)
{
    train_options o = { .model = "gan", .sample_every = 200 };
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc > 0 ? CLI_OK : -rc;

    gantry_gan_config config;
    train_run_info info = { .limit = o.limit, .labeled = o.labeled };
    gantry_status s = GANTRY_OK;
    if (!o.resume && (rc = config_from_options(&o, &config)))
        return rc;
    if (o.resume && (s = train_run_read(o.resume, &info)))
        return cli_fail(s);
    if (o.data)
        snprintf(info.data, sizeof info.data, "%s", o.data);
    else if (!o.resume)
        snprintf(info.data, sizeof info.data, "fashion-mnist");
    int is_sgan = o.resume ? info.labeled > 0 : strcmp(config.model, "sgan") == 0;
    if (is_sgan && !info.labeled)
        info.labeled = 1000;

    gantry_dataset *ds = NULL;
    gantry_backend *be = NULL;
    gantry_gan *gan = NULL;
    gantry_loader *loader = NULL;
    float *real = NULL, *grid = NULL;
    uint8_t *labels = NULL;
    FILE *log = NULL;
    char out[4096], path[4200];

    if ((s = gantry_dataset_load(info.data, "train", (size_t)info.limit, &ds)))
        goto fail;
    if (o.resume && ds->count != info.images) {
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %zu training images, but the run in %s trained on %llu",
                             info.data, ds->count, o.resume, (unsigned long long)info.images);
        goto fail;
    }
    info.images = ds->count;
    if ((s = cli_open_backend(o.backend, &be)))
        goto fail;
    if (o.resume) {
        if ((s = resume_model(be, o.resume, &gan)))
            goto fail;
        config = *gantry_gan_config_of(gan);
    } else {
        config.channels = ds->channels;
        config.height = ds->height;
        config.width = ds->width;
    }
    if ((s = gantry_loader_create(ds, config.batch, config.seed, &loader)))
        goto fail;
    size_t batches = gantry_loader_batches_per_epoch(loader);
    if (batches < config.d_steps) {
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%zu images give %zu batches of %zu, fewer than --d-steps %u",
                             ds->count, batches, config.batch, config.d_steps);
        goto fail;
    }
    uint64_t total = o.steps_set ? o.steps
                     : o.epochs  ? o.epochs * (batches / config.d_steps)
                     : o.resume  ? info.total
                                 : batches / config.d_steps;
    info.total = total;
    if (!o.resume && (s = gantry_gan_create(be, &config, &gan)))
        goto fail;
    uint64_t first = gantry_gan_steps(gan);
    if (o.resume && first >= total) {
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                             "the run in %s is at step %llu of %llu: give --steps or --epochs beyond that to go on",
                             o.resume, (unsigned long long)first, (unsigned long long)total);
        goto fail;
    }
    if ((s = gantry_loader_seek(loader, first * config.d_steps)))
        goto fail;
    int needs_labels = gantry_gan_is_conditional(gan) || is_sgan;
    if (needs_labels && !ds->labels) {
        s = gantry_set_error(GANTRY_NOT_FOUND, "%s: %s needs the data set's label file (train-labels-idx1-ubyte)",
                             info.data, config.model);
        goto fail;
    }
    if (is_sgan && (s = set_labeled(gan, ds, (size_t)info.labeled)))
        goto fail;

    if (o.resume) {
        snprintf(out, sizeof out, "%s", o.resume);
    } else if (o.out) {
        snprintf(out, sizeof out, "%s", o.out);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(out, sizeof out, "runs/%s-%s", config.model, stamp);
    }
    if ((s = make_dirs(out)))
        goto fail;
    snprintf(path, sizeof path, "%s/log.csv", out);
    if (o.resume && (s = train_log_trim(path, first, LOG_HEADER)))
        goto fail;
    log = fopen(path, o.resume ? "a" : "w");
    if (!log || (!o.resume && fputs(LOG_HEADER, log) == EOF)) {
        s = gantry_set_error(GANTRY_IO, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }

    size_t image_size = ds->channels * ds->height * ds->width;
    real = malloc(config.d_steps * config.batch * image_size * sizeof *real);
    labels = malloc(config.d_steps * config.batch);
    grid = malloc(GRID_MAX_IMAGES * image_size * sizeof *grid);
    if (!real || !grid || !labels) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
        goto fail;
    }
    /* A resumed run's clock goes on from the time already spent. */
    double start = cli_now() - info.seconds, last_print = 0;
    run_state run = { gan, out, config.seed ^ GRID_SEED_MIX, grid, image_size, info, start };
    int tty = isatty(STDERR_FILENO);
    if (!o.quiet) {
        if (o.resume)
            fprintf(stderr, "gantry: resuming %s in %s/ at step %llu of %llu (%s, %zu images, batch %zu) "
                            "with backend %s\n",
                    config.model, out, (unsigned long long)first, (unsigned long long)total, info.data, ds->count,
                    config.batch, gantry_backend_name(be));
        else
            fprintf(stderr, "gantry: training %s on %s (%zu images, batch %zu) with backend %s for %llu steps "
                            "into %s/\n",
                    config.model, info.data, ds->count, config.batch, gantry_backend_name(be),
                    (unsigned long long)total, out);
    }

    signal(SIGINT, on_sigint);
    double session = cli_now();
    uint64_t plain_every = total / 20 ? total / 20 : 1;
    gantry_gan_stats st = { 0 };
    uint64_t step;
    for (step = first; step < total && !interrupted; step++) {
        for (unsigned k = 0; k < config.d_steps && !s; k++)
            s = gantry_loader_next(loader, real + (size_t)k * config.batch * image_size,
                                   ds->labels ? labels + (size_t)k * config.batch : NULL, NULL);
        if (!s)
            s = gantry_gan_train_step_labeled(gan, real, ds->labels ? labels : NULL, &st);
        double elapsed = cli_now() - start;
        fprintf(log, "%llu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f\n", (unsigned long long)(step + 1), st.d_loss,
                st.g_loss, st.d_real, st.d_fake, st.wasserstein, st.k, st.m_global, st.d_class, elapsed);
        if (s)
            break;
        uint64_t done = step + 1;
        int show = tty ? elapsed - last_print > 0.25 || done == total : done % plain_every == 0 || done == total;
        if (!o.quiet && show) {
            progress(tty, done, total, elapsed, (size_t)done * config.batch * config.d_steps, &st);
            last_print = elapsed;
        }
        if (done % o.sample_every == 0 && done != total) {
            fflush(log);
            if ((s = write_outputs(&run)))
                break;
        }
    }
    if (!o.quiet && tty)
        fputc('\n', stderr);
    signal(SIGINT, SIG_DFL);
    if (fclose(log) != 0 && !s)
        s = gantry_set_error(GANTRY_IO, "cannot write %s/log.csv", out);
    log = NULL;
    if (s && s != GANTRY_NUMERIC)
        goto fail;
    /* Even after a divergence the last state is written, for inspection. */
    gantry_status w = write_outputs(&run);
    if (!s)
        s = w;
    if (s)
        goto fail;
    double secs = cli_now() - session;
    if (is_sgan && (s = report_accuracy(gan, info.data, out, o.quiet)))
        goto fail;
    if (!o.quiet)
        fprintf(stderr, "gantry: %s at step %llu of %llu, %llu steps in %.1f s (%.0f img/s); wrote %s/samples.png, "
                        "log.csv, %s, %s\n",
                interrupted ? "interrupted" : "finished", (unsigned long long)step, (unsigned long long)total,
                (unsigned long long)(step - first), secs,
                secs > 0 ? (double)(step - first) * (double)(config.batch * config.d_steps) / secs : 0.0, out,
                TRAIN_CHECKPOINT, TRAIN_STATE);
    if (!o.quiet && interrupted && step < total)
        fprintf(stderr, "gantry: to go on: gantry train --resume %s\n", out);
    rc = interrupted ? CLI_INTERRUPTED : CLI_OK;
    goto done;
fail:
    rc = cli_fail(s);
done:
    if (log)
        fclose(log);
    free(real);
    free(labels);
    free(grid);
    gantry_loader_destroy(loader);
    gantry_gan_destroy(gan);
    gantry_backend_close(be);
    gantry_dataset_destroy(ds);
    return rc;
}
