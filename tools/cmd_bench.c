/* `gantry bench`: training-step throughput of a model on one backend, and
 * (with --ops) the time of each operation a training step is made of. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gantry/gan.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/bench_profile.h"
#include "tools/cli.h"

/* The synthetic "real" images come from their own Philox key, so they never
 * share numbers with the weights or the training noise (seed 0). */
#define DATA_SEED 0xB3AC4DA7A5EEDull
/* Distinct synthetic batches the timed steps cycle through. */
#define DATA_POOL 2
/* --ops: one timing sample lasts at least this long, so that the clock's
 * resolution and the synchronisation do not dominate tiny ops. */
#define SAMPLE_TARGET_S 0.5e-3
#define MIN_SAMPLES 3
#define MAX_SAMPLES 1000

#define TRY(expr)                                                                                       \
    do {                                                                                                \
        gantry_status try_s_ = (expr);                                                                  \
        if (try_s_)                                                                                     \
            return try_s_;                                                                              \
    } while (0)

static void help(void)
{
    printf("usage: gantry bench [options]\n\n"
           "Measures how fast a backend trains a model, on synthetic data (uniform in [-1, 1],\n"
           "drawn from Philox on the host; no data set needed).  The model is built exactly as\n"
           "`gantry train` builds it (seed 0).  After --warmup untimed steps, each of --steps\n"
           "training steps (d_steps discriminator updates and one generator update, then\n"
           "gantry_backend_synchronize) is timed on its own; reported are the median, min and max\n"
           "milliseconds per step and\n"
           "  images/s = batch * d_steps / median step time   (real images consumed per second;\n"
           "             d_steps is 1 for gan, so this is batch / median step time)\n\n"
           "With --ops it instead times the operations of one training step at --batch: for every\n"
           "Linear layer of G and D the three matrix products (forward y = x W^T: M=batch, N=out,\n"
           "K=in; weight gradient dW += dy^T x: M=out, N=in, K=batch; input gradient dx = dy W:\n"
           "M=batch, N=in, K=out), reported as the median ms per call and GFLOP/s = 2*M*N*K / time,\n"
           "G's forward and D's again at 2 x batch rows where a step stacks G's two noise batches\n"
           "and D's real and fake batches (gan, cgan);\n"
           "for every Conv2d / ConvTranspose2d layer (dcgan and the other conv models) its three\n"
           "passes at the input size of a forward pass, each one convolution op (Conv2d: forward\n"
           "conv2d_forward, weight gradient conv2d_backward_weight, input gradient\n"
           "conv2d_backward_data; ConvTranspose2d: forward conv2d_backward_data, weight gradient\n"
           "conv2d_backward_weight, input gradient conv2d_forward), on the convolution whose image\n"
           "side [n, c, h, w] is the larger one (o output channels, output oh x ow), reported as\n"
           "GFLOP/s = 2*o*c*kh*kw*n*oh*ow / time;\n"
           "batch norm forward/backward of every batch norm layer at its input's shape (G.5\n"
           "[64, 64, 14, 14]); LeakyReLU forward/backward and bias add at [batch, 1024] and an\n"
           "Adam update of 784*1024 parameters; these reported as ms and\n"
           "GB/s of their minimum memory traffic (every input read and every output written once).\n"
           "Each op is repeated for at least --min-time-ms; the median is over samples of\n"
           "one or more calls.\n\n"
           "options:\n"
           "  --backend NAME      backend (default: GANTRY_BACKEND, else auto)\n"
           "  --model NAME        model (default gan): gan, cgan, dcgan, cdcgan, wgan, lsgan,\n"
           "                      began, sgan, with each paper's defaults (see gantry train --help)\n"
           "  --batch N           minibatch size (default 64)\n"
           "  --image-size S      images of S x S (default 28): 28 for today's networks, 32, 64 or\n"
           "                      128 for the DCGAN paper's all-convolutional ones\n"
           "  --channels C        1 (grayscale, the default) or 3 (RGB)\n"
           "  --width W           channels of the conv networks (default 64)\n"
           "  --steps N           timed training steps (default 50)\n"
           "  --warmup N          untimed training steps first (default 5)\n"
           "  --threads N         threads for backends that use them (default: GANTRY_NUM_THREADS,\n"
           "                      else every online CPU)\n"
           "  --ops               time single operations instead of training steps\n"
           "  --min-time-ms X     --ops: time each op for at least X ms (default 50)\n"
           "  --profile           then --steps more steps with every op timed to its end (each op\n"
           "                      synchronised): ms per step by op, e.g. gemm, adam_update,\n"
           "                      conv2d_forward\n"
           "  --json              print one JSON object on stdout instead of a summary\n\n"
           "JSON keys (training steps): ms_per_step (the median), images_per_s, ms_min, ms_max,\n"
           "ms_mean, cpu_ms_per_step (median CPU time of the process per step, all threads), steps,\n"
           "warmup, backend, backend_description, device, model, batch, d_steps,\n"
           "threads, threads_source, and with --profile profile: steps, ms_per_step, ops_ms_per_step\n"
           "(means over the profiled steps) and ops, an array of op, calls_per_step, ms_per_step,\n"
           "share (of ops_ms_per_step).  With --ops: backend, backend_description, device, model,\n"
           "batch, threads, threads_source, min_time_ms and ops, an array of rows with op, layer,\n"
           "pass, m, n, k, trans_a, trans_b, ms (median), ms_min, calls, gflop_per_s (GEMMs), op,\n"
           "layer, pass, n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow, ms, ms_min, calls,\n"
           "gflop_per_s (the convolution ops) or op, shape, ms, ms_min, calls, bytes, gb_per_s (the\n"
           "others; layer too for the batch norm layers).\n"
           "Performance goals belong in benchmarks, never in tests.\n");
}

typedef struct bench_options {
    const char *backend, *model;
    uint64_t batch, steps, warmup, threads, image_size, channels, width;
    float min_time_ms;
    int json, ops, profile;
} bench_options;

static int parse(int argc, char **argv, bench_options *o)
{
    enum {
        O_BACKEND = 256,
        O_MODEL,
        O_BATCH,
        O_STEPS,
        O_WARMUP,
        O_THREADS,
        O_OPS,
        O_MINTIME,
        O_JSON,
        O_PROFILE,
        O_IMAGE_SIZE,
        O_CHANNELS,
        O_WIDTH
    };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "backend", required_argument, NULL, O_BACKEND },
        { "model", required_argument, NULL, O_MODEL },
        { "batch", required_argument, NULL, O_BATCH },
        { "steps", required_argument, NULL, O_STEPS },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "threads", required_argument, NULL, O_THREADS },
        { "ops", no_argument, NULL, O_OPS },
        { "min-time-ms", required_argument, NULL, O_MINTIME },
        { "json", no_argument, NULL, O_JSON },
        { "profile", no_argument, NULL, O_PROFILE },
        { "image-size", required_argument, NULL, O_IMAGE_SIZE },
        { "channels", required_argument, NULL, O_CHANNELS },
        { "width", required_argument, NULL, O_WIDTH },
        { 0, 0, 0, 0 },
    };
    static const char cmd[] = "bench";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h': help(); return 1;
        case O_BACKEND: o->backend = optarg; break;
        case O_MODEL: o->model = optarg; break;
        case O_BATCH: bad = cli_parse_u64(cmd, "--batch", optarg, 2, 65536, &o->batch); break;
        case O_STEPS: bad = cli_parse_u64(cmd, "--steps", optarg, 1, 1000000, &o->steps); break;
        case O_WARMUP: bad = cli_parse_u64(cmd, "--warmup", optarg, 0, 1000000, &o->warmup); break;
        case O_THREADS: bad = cli_parse_u64(cmd, "--threads", optarg, 1, 4096, &o->threads); break;
        case O_OPS: o->ops = 1; break;
        case O_MINTIME: bad = cli_parse_float(cmd, "--min-time-ms", optarg, 0.0f, 600000.0f, &o->min_time_ms); break;
        case O_JSON: o->json = 1; break;
        case O_PROFILE: o->profile = 1; break;
        case O_IMAGE_SIZE: bad = cli_parse_u64(cmd, "--image-size", optarg, 1, 4096, &o->image_size); break;
        case O_CHANNELS:
            bad = cli_parse_u64(cmd, "--channels", optarg, 1, 3, &o->channels) ||
                  (o->channels == 2 && cli_usage_error(cmd, "--channels '2': 1 (grayscale) or 3 (RGB)"));
            break;
        case O_WIDTH: bad = cli_parse_u64(cmd, "--width", optarg, 1, 4096, &o->width); break;
        case '?': return -cli_getopt_error(cmd, argv);
        default: return -cli_usage_error(cmd, "unknown option");
        }
        if (bad)
            return -CLI_USAGE;
    }
    if (optind < argc)
        return -cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->ops && o->profile)
        return -cli_usage_error(cmd, "--profile times training steps; it does not go with --ops");
    return 0;
}

/* ---- reporting helpers ------------------------------------------------- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `v` in place and returns its median. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            printf("\\n");
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* A finite number, or null: JSON has no NaN or infinity. */
static void json_number(double v)
{
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

typedef struct bench_env {
    gantry_backend *be;
    char description[256]; /* the module's one-line description */
    char device[2048];     /* its describe() text, lines joined with "; " */
    int threads;
    const char *threads_source;
} bench_env;

/* CPU seconds of the whole process (every thread): compared with the wall
 * time it shows how many cores a step really kept busy. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Opens the backend and finds what the loader says about it. */
static gantry_status open_env(const bench_options *o, bench_env *env)
{
    memset(env, 0, sizeof *env);
    if (o->threads) {
        /* Through the environment, so that the loader hands the same count
         * to the backend and to its describe() during the scan below. */
        char value[32];
        snprintf(value, sizeof value, "%llu", (unsigned long long)o->threads);
        if (setenv("GANTRY_NUM_THREADS", value, 1) != 0)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "bench: cannot set GANTRY_NUM_THREADS");
        env->threads_source = "--threads";
    } else {
        env->threads_source = "GANTRY_NUM_THREADS";
    }
    const char *threads = getenv("GANTRY_NUM_THREADS");
    if (threads && atoi(threads) > 0) {
        env->threads = atoi(threads);
    } else {
        env->threads = online_cpus();
        env->threads_source = "online CPUs";
    }
    TRY(cli_open_backend(o->backend, &env->be));

    gantry_backend_info *infos;
    size_t count;
    TRY(gantry_backend_scan(&infos, &count));
    const char *name = gantry_backend_name(env->be);
    for (size_t i = 0; i < count; i++) {
        if (!infos[i].usable || strcmp(infos[i].name, name) != 0)
            continue;
        snprintf(env->description, sizeof env->description, "%s", infos[i].description);
        size_t n = 0;
        for (const char *p = infos[i].devices; *p && n + 3 < sizeof env->device; p++) {
            if (*p != '\n') {
                env->device[n++] = *p;
            } else if (p[1]) {
                env->device[n++] = ';';
                env->device[n++] = ' ';
                while (p[1] == ' ') /* a continuation line's indent */
                    p++;
            }
        }
        env->device[n] = '\0';
        break;
    }
    free(infos);
    if (!env->device[0])
        snprintf(env->device, sizeof env->device, "%s", env->description);
    return GANTRY_OK;
}

static void json_env_fields(const bench_env *env, const gantry_gan_config *config)
{
    printf("\"backend\": ");
    json_string(gantry_backend_name(env->be));
    printf(", \"backend_description\": ");
    json_string(env->description);
    printf(", \"device\": ");
    json_string(env->device);
    printf(", \"model\": ");
    json_string(config->model);
    printf(", \"batch\": %zu, \"threads\": %d, \"threads_source\": ", config->batch, env->threads);
    json_string(env->threads_source);
}

static void print_env(const bench_env *env, const gantry_gan_config *config)
{
    printf("backend:  %s (%s)\n", gantry_backend_name(env->be), env->description);
    printf("device:   %s\n", env->device);
    printf("threads:  %d (%s; backends that do not use threads ignore it)\n", env->threads,
           env->threads_source);
    printf("model:    %s, batch %zu, d_steps %u\n", config->model, config->batch, config->d_steps);
}

/* ---- training steps ---------------------------------------------------- */

/* Training step `i` on its pool batch, synchronised; *ms its wall time. */
static gantry_status timed_step(gantry_gan *gan, gantry_backend *be, const float *data, size_t per_step,
                                const uint8_t *labels, size_t i, double *ms)
{
    gantry_gan_stats st;
    double t0 = cli_now();
    gantry_status s = gantry_gan_train_step_labeled(gan, data + (i % DATA_POOL) * per_step, labels, &st);
    if (!s)
        s = gantry_backend_synchronize(be);
    *ms = (cli_now() - t0) * 1e3;
    return s;
}

static gantry_status bench_steps(const bench_options *o, const bench_env *env, gantry_gan *gan)
{
    const gantry_gan_config *c = gantry_gan_config_of(gan);
    size_t per_step = c->d_steps * c->batch * c->channels * c->height * c->width;
    size_t total = (size_t)(o->warmup + o->steps);
    float *data = malloc(DATA_POOL * per_step * sizeof *data);
    double *ms = malloc((size_t)o->steps * sizeof *ms), *cpu_ms = malloc((size_t)o->steps * sizeof *cpu_ms);
    uint8_t *labels = NULL;
    gantry_status s = GANTRY_OK;
    if (!data || !ms || !cpu_ms) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "bench: out of host memory");
        goto done;
    }
    for (size_t i = 0; i < DATA_POOL * per_step; i++)
        data[i] = gantry_philox_uniform(DATA_SEED, 0, i, -1.0f, 1.0f);
    /* Conditional models and sgan get labels cycling through the classes;
     * sgan's labelled set is the first pool entry. */
    size_t nlabels = c->d_steps * c->batch;
    labels = malloc(nlabels);
    if (!labels) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "bench: out of host memory");
        goto done;
    }
    for (size_t i = 0; i < nlabels; i++)
        labels[i] = (uint8_t)(c->classes ? i % c->classes : 0);
    if (strcmp(c->model, "sgan") == 0 && (s = gantry_gan_set_labeled(gan, data, labels, nlabels)))
        goto done;

    if (!o->json)
        fprintf(stderr, "gantry bench: %llu warm-up and %llu timed steps...\n", (unsigned long long)o->warmup,
                (unsigned long long)o->steps);
    double sum = 0;
    for (size_t step = 0; step < total; step++) {
        double t, c0 = cpu_now();
        if ((s = timed_step(gan, env->be, data, per_step, labels, step, &t)))
            goto done;
        if (step >= o->warmup) {
            ms[step - o->warmup] = t;
            cpu_ms[step - o->warmup] = (cpu_now() - c0) * 1e3;
            sum += t;
        }
    }
    size_t n = (size_t)o->steps;
    double med = median(ms, n), lo = ms[0], hi = ms[n - 1], mean = sum / (double)n;
    double cpu_med = median(cpu_ms, n), profiled_ms = 0.0;
    if (o->profile) {
        /* Separate steps, so the plain timing above stays unperturbed. */
        gantry_profile_enable(1);
        for (size_t i = 0; i < n && !s; i++) {
            double t;
            s = timed_step(gan, env->be, data, per_step, labels, i, &t);
            profiled_ms += t / (double)n; /* a mean, as the ops' totals per step */
        }
        gantry_profile_enable(0);
        if (s)
            goto done;
    }
    double images = (double)(c->batch * c->d_steps) / (med * 1e-3);
    if (o->json) {
        printf("{\"ms_per_step\": ");
        json_number(med);
        printf(", \"images_per_s\": ");
        json_number(images);
        printf(", \"ms_min\": ");
        json_number(lo);
        printf(", \"ms_max\": ");
        json_number(hi);
        printf(", \"ms_mean\": ");
        json_number(mean);
        printf(", \"cpu_ms_per_step\": ");
        json_number(cpu_med);
        printf(", \"steps\": %llu, \"warmup\": %llu, \"d_steps\": %u, ", (unsigned long long)o->steps,
               (unsigned long long)o->warmup, c->d_steps);
        json_env_fields(env, c);
        if (o->profile) {
            printf(", \"profile\": ");
            bench_profile_print(o->steps, profiled_ms, 1);
        }
        printf("}\n");
    } else {
        print_env(env, c);
        printf("steps:    %llu timed after %llu warm-up\n", (unsigned long long)o->steps,
               (unsigned long long)o->warmup);
        printf("median:   %.3f ms/step  (min %.3f, max %.3f, mean %.3f)\n", med, lo, hi, mean);
        printf("images/s: %.1f  (batch * d_steps / median step time)\n", images);
        printf("cpu time: %.3f ms/step (median, all threads of the process)\n", cpu_med);
        if (o->profile)
            bench_profile_print(o->steps, profiled_ms, 0);
    }
done:
    free(data);
    free(labels);
    free(ms);
    free(cpu_ms);
    return s;
}

/* ---- single operations ------------------------------------------------- */

typedef enum op_kind {
    OP_GEMM,
    OP_BN_FORWARD,
    OP_BN_BACKWARD,
    OP_ACT_FORWARD,
    OP_ACT_BACKWARD,
    OP_BIAS_ADD,
    OP_ADAM,
    OP_CONV,
} op_kind;

/* The convolution ops (gantry/ops.h, ABI version 3). */
typedef enum conv_op {
    CONV_FORWARD,
    CONV_BACKWARD_DATA,
    CONV_BACKWARD_WEIGHT,
} conv_op;

typedef struct op_case {
    op_kind kind;
    const char *name;     /* "gemm", "conv2d_forward", "batchnorm_forward_train", ... */
    char layer[64];       /* GEMMs and convolutions: "G.0" ("" for the others) */
    const char *pass;     /* GEMMs and convolutions: "forward", "weight_grad", "input_grad" */
    int trans_a, trans_b; /* GEMMs */
    size_t m, n, k;       /* GEMMs: op(A) is m x k, op(B) k x n */
    size_t rows, cols;    /* the others: the shape (rows x cols elements) */
    int ndim;             /* batch norm of a model's layer: its input's shape, 2-D or 4-D */
    size_t dims[4];
    double bytes;         /* the others: minimum memory traffic per call */
    float beta;           /* GEMMs */
    gantry_conv_geometry g; /* convolutions: the geometry of their image side */
    size_t out_channels;  /* convolutions: o, the channels of their output side */
    conv_op conv;         /* convolutions: the op */
    gantry_tensor *t[8];  /* operands, owned by the case */
    uint64_t calls;       /* Adam's step counter, and calls made */
} op_case;

static void op_case_release(op_case *c)
{
    for (size_t i = 0; i < sizeof c->t / sizeof *c->t; i++)
        gantry_tensor_destroy(c->t[i]);
    memset(c->t, 0, sizeof c->t);
}

static gantry_status op_run(op_case *c)
{
    gantry_tensor **t = c->t;
    c->calls++;
    switch (c->kind) {
    case OP_GEMM: return gantry_op_gemm(c->trans_a, c->trans_b, 1.0f, t[0], t[1], c->beta, t[2]);
    case OP_BN_FORWARD:
        /* x, y, gamma, beta, running mean, running var, save mean, save invstd */
        return gantry_op_batchnorm_forward_train(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], 0.1f, 1e-5f);
    case OP_BN_BACKWARD:
        /* x, dy, gamma, save mean, save invstd, dx, dgamma, dbeta */
        return gantry_op_batchnorm_backward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], 1);
    case OP_ACT_FORWARD: return gantry_op_activation_forward(GANTRY_ACT_LEAKY_RELU, 0.2f, t[0], t[1]);
    case OP_ACT_BACKWARD:
        /* x, y, dy, dx */
        return gantry_op_activation_backward(GANTRY_ACT_LEAKY_RELU, 0.2f, t[0], t[1], t[2], t[3]);
    case OP_BIAS_ADD: return gantry_op_bias_add(t[0], t[1]);
    case OP_ADAM:
        /* p, g, m, v: the hyperparameters of the GAN's optimizers */
        return gantry_op_adam_update(t[0], t[1], t[2], t[3], 2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f, c->calls);
    case OP_CONV:
        /* image side, weights, output side, work; the weight gradient
         * accumulates, as the GAN's steps add up their passes' gradients */
        switch (c->conv) {
        case CONV_FORWARD: return gantry_op_conv2d_forward(t[0], t[1], t[2], &c->g, 0, t[3]);
        case CONV_BACKWARD_DATA: return gantry_op_conv2d_backward_data(t[2], t[1], t[0], &c->g, 0, t[3]);
        case CONV_BACKWARD_WEIGHT: return gantry_op_conv2d_backward_weight(t[0], t[2], t[1], &c->g, 1, t[3]);
        }
        break;
    }
    return gantry_set_error(GANTRY_INTERNAL, "bench: unknown op kind %d", (int)c->kind);
}

/* Creates t[i] with shape (d0, d1) (d1 0: 1-D) filled from U(lo, hi), or
 * with lo when lo == hi. */
static gantry_status op_tensor(gantry_backend *be, op_case *c, int i, size_t d0, size_t d1, float lo, float hi)
{
    static uint64_t offset;
    TRY(gantry_tensor_new(be, &c->t[i], d0, d1, 0, 0));
    if (lo == hi)
        return gantry_op_fill(c->t[i], lo);
    TRY(gantry_op_rand_uniform(c->t[i], DATA_SEED, offset, lo, hi));
    offset += gantry_philox_uniform_blocks(gantry_tensor_numel(c->t[i]));
    return GANTRY_OK;
}

/* A batch norm case's channels: dimension 1 of its input (cols for the
 * generic [batch, cols] rows). */
static size_t bn_channels(const op_case *c)
{
    return c->ndim ? c->dims[1] : c->cols;
}

/* t[i] .. t[j] (created 2-D) take the layer input's 4-D shape, for a
 * BatchNorm2d case. */
static gantry_status bn_reshape(op_case *c, int i, int j)
{
    for (int k = i; c->ndim == 4 && k <= j; k++)
        TRY(gantry_tensor_reshape(c->t[k], 4, c->dims));
    return GANTRY_OK;
}

/* Allocates the operands of `c` (its kind and sizes already set). */
static gantry_status op_prepare(gantry_backend *be, op_case *c)
{
    size_t r = c->rows, w = c->cols, n = r * w;
    switch (c->kind) {
    case OP_GEMM: {
        /* A, B, C as stored: A is m x k (k x m when transposed), B is k x n
         * (n x k when transposed). */
        size_t a0 = c->trans_a ? c->k : c->m, a1 = c->trans_a ? c->m : c->k;
        size_t b0 = c->trans_b ? c->n : c->k, b1 = c->trans_b ? c->k : c->n;
        TRY(op_tensor(be, c, 0, a0, a1, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, b0, b1, -0.05f, 0.05f));
        TRY(op_tensor(be, c, 2, c->m, c->n, -0.05f, 0.05f));
        return GANTRY_OK;
    }
    case OP_BN_FORWARD: {
        size_t ch = bn_channels(c);
        TRY(op_tensor(be, c, 0, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, r, w, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 2, ch, 0, 0.5f, 1.5f));
        TRY(op_tensor(be, c, 3, ch, 0, -0.5f, 0.5f));
        TRY(op_tensor(be, c, 4, ch, 0, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 5, ch, 0, 1.0f, 1.0f));
        TRY(op_tensor(be, c, 6, ch, 0, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 7, ch, 0, 0.0f, 0.0f));
        c->bytes = 4.0 * 2.0 * (double)n;
        return bn_reshape(c, 0, 1);
    }
    case OP_BN_BACKWARD: {
        size_t ch = bn_channels(c);
        TRY(op_tensor(be, c, 0, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, r, w, -0.01f, 0.01f));
        TRY(op_tensor(be, c, 2, ch, 0, 0.5f, 1.5f));
        TRY(op_tensor(be, c, 3, ch, 0, -0.1f, 0.1f));
        TRY(op_tensor(be, c, 4, ch, 0, 0.9f, 1.1f));
        TRY(op_tensor(be, c, 5, r, w, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 6, ch, 0, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 7, ch, 0, 0.0f, 0.0f));
        c->bytes = 4.0 * 3.0 * (double)n;
        TRY(bn_reshape(c, 0, 1));
        return bn_reshape(c, 5, 5);
    }
    case OP_ACT_FORWARD:
        TRY(op_tensor(be, c, 0, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, r, w, 0.0f, 0.0f));
        c->bytes = 4.0 * 2.0 * (double)n;
        return GANTRY_OK;
    case OP_ACT_BACKWARD:
        TRY(op_tensor(be, c, 0, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 2, r, w, -0.01f, 0.01f));
        TRY(op_tensor(be, c, 3, r, w, 0.0f, 0.0f));
        c->bytes = 4.0 * 3.0 * (double)n; /* x, dy in; dx out (y is not needed by LeakyReLU) */
        return GANTRY_OK;
    case OP_BIAS_ADD:
        TRY(op_tensor(be, c, 0, r, w, -1.0f, 1.0f));
        TRY(op_tensor(be, c, 1, w, 0, -1e-3f, 1e-3f));
        c->bytes = 4.0 * 2.0 * (double)n;
        return GANTRY_OK;
    case OP_ADAM:
        TRY(op_tensor(be, c, 0, n, 0, -0.05f, 0.05f));
        TRY(op_tensor(be, c, 1, n, 0, -1e-3f, 1e-3f));
        TRY(op_tensor(be, c, 2, n, 0, 0.0f, 0.0f));
        TRY(op_tensor(be, c, 3, n, 0, 0.0f, 0.0f));
        c->bytes = 4.0 * 7.0 * (double)n; /* p, g, m, v in; p, m, v out */
        return GANTRY_OK;
    case OP_CONV: {
        /* x [n, c, h, w], w [o, c, kh, kw] and the output side [n, o, oh, ow]
         * with the scales of a trained network's activations and weights;
         * the work the op may use, as core/nn_conv.c gives it */
        const gantry_conv_geometry *g = &c->g;
        size_t o = c->out_channels, ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
        TRY(op_tensor(be, c, 0, g->n, g->c * g->h * g->w, -1.0f, 1.0f));
        TRY(gantry_tensor_reshape(c->t[0], 4, (size_t[]){ g->n, g->c, g->h, g->w }));
        TRY(op_tensor(be, c, 1, o, ckk, -0.05f, 0.05f));
        TRY(gantry_tensor_reshape(c->t[1], 4, (size_t[]){ o, g->c, g->kh, g->kw }));
        TRY(op_tensor(be, c, 2, g->n, o * g->oh * g->ow, -0.05f, 0.05f));
        TRY(gantry_tensor_reshape(c->t[2], 4, (size_t[]){ g->n, o, g->oh, g->ow }));
        return op_tensor(be, c, 3, (ckk + o) * np, 0, 0.0f, 0.0f);
    }
    }
    return gantry_set_error(GANTRY_INTERNAL, "bench: unknown op kind %d", (int)c->kind);
}

typedef struct op_timing {
    double ms, ms_min; /* per call: the median and the fastest sample */
    uint64_t calls;    /* timed calls */
} op_timing;

/* One untimed call, one call to estimate the cost, then samples of `inner`
 * calls each (at least SAMPLE_TARGET_S long) until min_time_s is spent. */
static gantry_status op_time(gantry_backend *be, op_case *c, double min_time_s, op_timing *out)
{
    TRY(op_run(c));
    TRY(gantry_backend_synchronize(be));
    double t0 = cli_now();
    TRY(op_run(c));
    TRY(gantry_backend_synchronize(be));
    double one = cli_now() - t0;
    if (one < 1e-9)
        one = 1e-9;
    double inner_d = ceil(SAMPLE_TARGET_S / one);
    size_t inner = inner_d > 100000 ? 100000 : (size_t)inner_d;
    double samples_d = ceil(min_time_s / (one * (double)inner));
    size_t samples = samples_d < MIN_SAMPLES ? MIN_SAMPLES : samples_d > MAX_SAMPLES ? MAX_SAMPLES : (size_t)samples_d;
    double per_call[MAX_SAMPLES];
    for (size_t i = 0; i < samples; i++) {
        double start = cli_now();
        for (size_t j = 0; j < inner; j++)
            TRY(op_run(c));
        TRY(gantry_backend_synchronize(be));
        per_call[i] = (cli_now() - start) / (double)inner * 1e3;
    }
    out->ms = median(per_call, samples);
    out->ms_min = per_call[0];
    out->calls = (uint64_t)(samples * inner);
    return GANTRY_OK;
}

/* The GEMMs of every Linear layer (2-D ".weight" parameters, [out, in]) of
 * `seq` at `batch` rows: all three passes, or the forward alone. */
static size_t linear_cases(gantry_seq *seq, const char *prefix, size_t batch, int forward_only, op_case *cases,
                           size_t room)
{
    size_t count = 0;
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        size_t len = strlen(p->name);
        if (gantry_tensor_ndim(p->value) != 2 || len < 7 || strcmp(p->name + len - 7, ".weight") != 0)
            continue;
        size_t out = gantry_tensor_dim(p->value, 0), in = gantry_tensor_dim(p->value, 1);
        static const char *const passes[] = { "forward", "weight_grad", "input_grad" };
        for (int pass = 0; pass < (forward_only ? 1 : 3) && count < room; pass++) {
            op_case *c = &cases[count++];
            memset(c, 0, sizeof *c);
            c->kind = OP_GEMM;
            c->name = "gemm";
            snprintf(c->layer, sizeof c->layer, "%s.%.*s", prefix, (int)(len - 7), p->name);
            c->pass = passes[pass];
            if (pass == 0) { /* y[batch, out] = x[batch, in] W[out, in]^T */
                c->m = batch, c->n = out, c->k = in, c->trans_b = 1, c->beta = 0.0f;
            } else if (pass == 1) { /* dW[out, in] += dy[batch, out]^T x[batch, in] */
                c->m = out, c->n = in, c->k = batch, c->trans_a = 1, c->beta = 1.0f;
            } else { /* dx[batch, in] = dy[batch, out] W[out, in] */
                c->m = batch, c->n = in, c->k = out, c->beta = 0.0f;
            }
        }
    }
    return count;
}

/* Conv2d(in, out, kernel_size=k, stride=s, padding=p) or ConvTranspose2d(...):
 * 1 or 2 with the sizes, 0 for any other layer. */
static int conv_layer(gantry_seq *seq, size_t i, size_t v[5])
{
    char d[192];
    gantry_seq_layer_describe(seq, i, d, sizeof d);
    if (sscanf(d, "Conv2d(%zu, %zu, kernel_size=%zu, stride=%zu, padding=%zu)", &v[0], &v[1], &v[2], &v[3],
               &v[4]) == 5)
        return 1;
    if (sscanf(d, "ConvTranspose2d(%zu, %zu, kernel_size=%zu, stride=%zu, padding=%zu)", &v[0], &v[1], &v[2],
               &v[3], &v[4]) == 5)
        return 2;
    return 0;
}

static op_case *new_case(op_case *cases, size_t *count, size_t room, op_kind kind, const char *name,
                         const char *layer, const char *pass)
{
    if (*count >= room)
        return NULL;
    op_case *c = &cases[(*count)++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->name = name;
    c->pass = pass;
    snprintf(c->layer, sizeof c->layer, "%s", layer);
    return c;
}

/* One pass of a convolution layer: `op` on the convolution of geometry g
 * (its image side) with o output channels. */
static void conv_case(op_case *cases, size_t *count, size_t room, conv_op op, const char *layer, const char *pass,
                      const gantry_conv_geometry *g, size_t o)
{
    static const char *const names[] = { "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight" };
    op_case *c = new_case(cases, count, room, OP_CONV, names[op], layer, pass);
    if (c)
        c->conv = op, c->g = *g, c->out_channels = o;
}

/* 1 when layer i of seq is a batch norm layer (of any mode). */
static int bn_layer(gantry_seq *seq, size_t i)
{
    char d[192];
    gantry_seq_layer_describe(seq, i, d, sizeof d);
    return strstr(d, "BatchNorm(") != NULL;
}

/* The batch norm forward and backward of layer `layer` of a model, on its
 * input's shape. */
static void bn_layer_cases(const char *layer, const gantry_tensor *in, op_case *cases, size_t room, size_t *count)
{
    static const struct {
        op_kind kind;
        const char *name;
    } ops[] = { { OP_BN_FORWARD, "batchnorm_forward_train" }, { OP_BN_BACKWARD, "batchnorm_backward" } };
    int ndim = gantry_tensor_ndim(in);
    if (ndim != 2 && ndim != 4)
        return;
    for (size_t k = 0; k < 2; k++) {
        op_case *c = new_case(cases, count, room, ops[k].kind, ops[k].name, layer, "");
        if (!c)
            return;
        c->ndim = ndim;
        for (int d = 0; d < ndim; d++)
            c->dims[d] = gantry_tensor_dim(in, d);
        c->rows = c->dims[0];
        c->cols = gantry_tensor_numel(in) / c->rows;
    }
}

/* The passes of every Conv2d / ConvTranspose2d layer of `seq`, each one
 * convolution op as core/nn_conv.c runs it, with each layer's input size
 * from a forward pass of `seq` on noise.  Both layers use the geometry of
 * the convolution whose image side is the larger one: Conv2d's forward is
 * conv2d_forward, its weight gradient conv2d_backward_weight, its input
 * gradient conv2d_backward_data; ConvTranspose2d's forward is
 * conv2d_backward_data, its input gradient conv2d_forward, its weight
 * gradient conv2d_backward_weight (image and output side exchanged).  Every
 * batch norm layer's forward and backward go to bn_cases, at its input's
 * shape. */
static gantry_status conv_and_bn_cases(gantry_backend *be, gantry_seq *seq, const char *prefix, size_t batch,
                                       const gantry_gan_config *config, op_case *cases, size_t room, size_t *count,
                                       op_case *bn_cases, size_t bn_room, size_t *bn_count)
{
    size_t v[5], layers = gantry_seq_layer_count(seq), wanted = 0;
    for (size_t i = 0; i < layers; i++)
        wanted += conv_layer(seq, i, v) != 0 || bn_layer(seq, i);
    if (!wanted || !gantry_seq_param_count(seq))
        return GANTRY_OK;
    /* The input: an image for a conv first layer, a latent vector [N, in]
     * for a ConvTranspose2d one, else the first Linear's. */
    gantry_tensor *x = NULL, *y;
    const gantry_param *first = gantry_seq_param(seq, 0);
    int first_kind = conv_layer(seq, 0, v);
    if (first_kind == 1)
        TRY(gantry_tensor_create(be, 4, (size_t[]){ batch, v[0], config->height, config->width }, &x));
    else if (first_kind == 2)
        TRY(gantry_tensor_new(be, &x, batch, v[0], 0, 0));
    else
        TRY(gantry_tensor_new(be, &x, batch, gantry_tensor_dim(first->value, 1), 0, 0));
    gantry_status s = gantry_op_rand_uniform(x, DATA_SEED, 0, -1.0f, 1.0f);
    if (!s)
        s = gantry_seq_forward(seq, x, 1, &y);
    for (size_t i = 0; i < layers && !s; i++) {
        const gantry_tensor *in = i ? gantry_seq_output(seq, i - 1) : x, *out = gantry_seq_output(seq, i);
        char layer[64];
        snprintf(layer, sizeof layer, "%s.%zu", prefix, i);
        if (bn_layer(seq, i))
            bn_layer_cases(layer, in, bn_cases, bn_room, bn_count);
        int kind = conv_layer(seq, i, v);
        if (!kind)
            continue;
        const gantry_tensor *big = kind == 1 ? in : out; /* the convolution's input side */
        gantry_conv_geometry g = { .n = batch, .c = kind == 1 ? v[0] : v[1], .h = gantry_tensor_dim(big, 2),
                                   .w = gantry_tensor_dim(big, 3), .kh = v[2], .kw = v[2], .sh = v[3], .sw = v[3],
                                   .ph = v[4], .pw = v[4] };
        if ((s = gantry_conv_geometry_finish(&g)))
            break;
        size_t o = kind == 1 ? v[1] : v[0]; /* the channels of its output side */
        conv_case(cases, count, room, kind == 1 ? CONV_FORWARD : CONV_BACKWARD_DATA, layer, "forward", &g, o);
        conv_case(cases, count, room, CONV_BACKWARD_WEIGHT, layer, "weight_grad", &g, o);
        conv_case(cases, count, room, kind == 1 ? CONV_BACKWARD_DATA : CONV_FORWARD, layer, "input_grad", &g, o);
    }
    gantry_tensor_destroy(x);
    return s;
}

static size_t other_cases(size_t batch, op_case *cases, size_t room)
{
    static const struct {
        op_kind kind;
        const char *name;
        size_t cols; /* 0: the Adam case, 784 x 1024 parameters */
    } list[] = {
        { OP_ACT_FORWARD, "leaky_relu_forward", 1024 },
        { OP_ACT_BACKWARD, "leaky_relu_backward", 1024 },
        { OP_BIAS_ADD, "bias_add", 1024 },
        { OP_ADAM, "adam_update", 0 },
    };
    size_t count = 0;
    for (size_t i = 0; i < sizeof list / sizeof *list && count < room; i++) {
        op_case *c = &cases[count++];
        memset(c, 0, sizeof *c);
        c->kind = list[i].kind;
        c->name = list[i].name;
        c->rows = list[i].cols ? batch : 784;
        c->cols = list[i].cols ? list[i].cols : 1024;
    }
    return count;
}

/* "[64, 128, 7, 7]": a case's shape as JSON and in the table. */
static void shape_text(const op_case *c, char *buf, size_t size)
{
    if (c->ndim == 4)
        snprintf(buf, size, "[%zu, %zu, %zu, %zu]", c->dims[0], c->dims[1], c->dims[2], c->dims[3]);
    else
        snprintf(buf, size, "[%zu, %zu]", c->rows, c->cols);
}

/* A convolution pass: GFLOP/s = 2 o c kh kw n oh ow / time, the products
 * of the convolution whatever the op. */
static void print_conv_row(const op_case *c, const op_timing *t, int json, int first)
{
    const gantry_conv_geometry *g = &c->g;
    double flops = 2.0 * (double)c->out_channels * (double)(g->c * g->kh * g->kw) * (double)(g->n * g->oh * g->ow);
    double gflops = flops / (t->ms * 1e-3) * 1e-9;
    if (json) {
        printf("%s\n    {\"op\": \"%s\", \"layer\": ", first ? "" : ",", c->name);
        json_string(c->layer);
        printf(", \"pass\": \"%s\", \"n\": %zu, \"c\": %zu, \"h\": %zu, \"w\": %zu, \"o\": %zu, \"kh\": %zu, "
               "\"kw\": %zu, \"sh\": %zu, \"sw\": %zu, \"ph\": %zu, \"pw\": %zu, \"oh\": %zu, \"ow\": %zu, \"ms\": ",
               c->pass, g->n, g->c, g->h, g->w, c->out_channels, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->oh,
               g->ow);
        json_number(t->ms);
        printf(", \"ms_min\": ");
        json_number(t->ms_min);
        printf(", \"calls\": %llu, \"gflop_per_s\": ", (unsigned long long)t->calls);
        json_number(gflops);
        printf("}");
    } else {
        char what[96], conv[96];
        snprintf(what, sizeof what, "%s %s", c->layer, c->pass);
        snprintf(conv, sizeof conv, "[%zu, %zu, %zu, %zu] o %zu k %zux%zu s %zu,%zu p %zu,%zu", g->n, g->c, g->h,
                 g->w, c->out_channels, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw);
        printf("%-22s %-16s %-40s %10.4f %10.4f %9.2f GFLOP/s\n", c->name, what, conv, t->ms, t->ms_min, gflops);
    }
}

static void print_op_row(const op_case *c, const op_timing *t, int json, int first)
{
    double seconds = t->ms * 1e-3;
    if (c->kind == OP_CONV) {
        print_conv_row(c, t, json, first);
    } else if (c->kind == OP_GEMM) {
        double gflops = 2.0 * (double)c->m * (double)c->n * (double)c->k / seconds * 1e-9;
        if (json) {
            printf("%s\n    {\"op\": \"gemm\", \"layer\": ", first ? "" : ",");
            json_string(c->layer);
            printf(", \"pass\": \"%s\", \"m\": %zu, \"n\": %zu, \"k\": %zu, \"trans_a\": %d, \"trans_b\": %d, "
                   "\"ms\": ",
                   c->pass, c->m, c->n, c->k, c->trans_a, c->trans_b);
            json_number(t->ms);
            printf(", \"ms_min\": ");
            json_number(t->ms_min);
            printf(", \"calls\": %llu, \"gflop_per_s\": ", (unsigned long long)t->calls);
            json_number(gflops);
            printf("}");
        } else {
            char what[96];
            snprintf(what, sizeof what, "%s %s", c->layer, c->pass);
            printf("%-6s %-16s %5zu %5zu %5zu %s%s %10.4f %10.4f %9.2f GFLOP/s\n", "gemm", what, c->m, c->n,
                   c->k, c->trans_a ? "T" : "N", c->trans_b ? "T" : "N", t->ms, t->ms_min, gflops);
        }
    } else {
        double gbs = c->bytes / seconds * 1e-9;
        if (json) {
            printf("%s\n    {\"op\": \"%s\", ", first ? "" : ",", c->name);
            if (c->layer[0]) {
                printf("\"layer\": ");
                json_string(c->layer);
                if (c->pass[0])
                    printf(", \"pass\": \"%s\"", c->pass);
                printf(", ");
            }
            char shape[96];
            shape_text(c, shape, sizeof shape);
            printf("\"shape\": %s, \"ms\": ", shape);
            json_number(t->ms);
            printf(", \"ms_min\": ");
            json_number(t->ms_min);
            printf(", \"calls\": %llu, \"bytes\": %.0f, \"gb_per_s\": ", (unsigned long long)t->calls, c->bytes);
            json_number(gbs);
            printf("}");
        } else {
            char shape[96], what[160];
            shape_text(c, shape, sizeof shape);
            snprintf(what, sizeof what, "%s%s%s", c->layer, c->layer[0] ? " " : "", shape);
            printf("%-24s %-24s %10.4f %10.4f %9.2f GB/s\n", c->name, what, t->ms, t->ms_min, gbs);
        }
    }
}

#define MAX_CASES 96
#define MAX_BN_CASES 16

static gantry_status bench_ops(const bench_options *o, const bench_env *env, gantry_gan *gan)
{
    const gantry_gan_config *config = gantry_gan_config_of(gan);
    static op_case cases[MAX_CASES];
    size_t n = linear_cases(gantry_gan_generator(gan), "G", config->batch, 0, cases, MAX_CASES);
    size_t g_rows = gantry_gan_g_forward_rows(gan); /* both noise batches of a step at once */
    if (g_rows != config->batch)
        n += linear_cases(gantry_gan_generator(gan), "G", g_rows, 1, cases + n, MAX_CASES - n);
    n += linear_cases(gantry_gan_discriminator(gan), "D", config->batch, 0, cases + n, MAX_CASES - n);
    size_t d_rows = gantry_gan_d_update_rows(gan); /* the discriminator update's stacked pass */
    if (d_rows != config->batch)
        n += linear_cases(gantry_gan_discriminator(gan), "D", d_rows, 0, cases + n, MAX_CASES - n);
    size_t n_linear = n; /* the convolution layers' passes follow */
    static op_case bns[MAX_BN_CASES];
    size_t nbn = 0;
    TRY(conv_and_bn_cases(env->be, gantry_gan_generator(gan), "G", config->batch, config, cases, MAX_CASES, &n,
                          bns, MAX_BN_CASES, &nbn));
    TRY(conv_and_bn_cases(env->be, gantry_gan_discriminator(gan), "D", config->batch, config, cases, MAX_CASES, &n,
                          bns, MAX_BN_CASES, &nbn));
    size_t n_gemm = n;
    for (size_t i = 0; i < nbn && n < MAX_CASES; i++)
        cases[n++] = bns[i];
    n += other_cases(config->batch, cases + n, MAX_CASES - n);
    double min_time_s = (double)o->min_time_ms * 1e-3;

    if (o->json) {
        printf("{");
        json_env_fields(env, config);
        printf(", \"min_time_ms\": ");
        json_number(o->min_time_ms);
        printf(", \"ops\": [");
    } else {
        print_env(env, config);
        printf("time:     each op for at least %g ms; ms = median per call, min = fastest sample\n\n",
               (double)o->min_time_ms);
        printf("%-6s %-16s %5s %5s %5s %s %10s %10s %17s\n", "op", "layer pass", "M", "N", "K", "AB", "ms", "min",
               "rate");
    }
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < n && !s; i++) {
        op_timing t;
        if (!o->json && i == n_linear && n_linear < n_gemm)
            printf("\n%-22s %-16s %-40s %10s %10s %17s\n", "op", "layer pass", "convolution: image, o, kernel", "ms",
                   "min", "rate");
        if (!o->json && i == n_gemm)
            printf("\n%-24s %-24s %10s %10s %17s\n", "op", "layer shape", "ms", "min", "rate");
        s = op_prepare(env->be, &cases[i]);
        if (!s)
            s = op_time(env->be, &cases[i], min_time_s, &t);
        if (!s)
            print_op_row(&cases[i], &t, o->json, i == 0);
        op_case_release(&cases[i]);
        fflush(stdout);
    }
    if (o->json && !s)
        printf("\n]}\n");
    return s;
}

int cmd_bench(int argc, char **argv)
{
    bench_options o = { .model = "gan", .steps = 50, .warmup = 5, .min_time_ms = 50.0f };
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc > 0 ? CLI_OK : -rc;

    gantry_gan_config config;
    gantry_status s = gantry_gan_defaults(o.model, &config);
    if (s) {
        fprintf(stderr, "gantry bench: %s (see gantry bench --help)\n", gantry_last_error());
        return CLI_USAGE;
    }
    if (o.batch)
        config.batch = (size_t)o.batch;
    if (o.image_size)
        config.height = config.width = (size_t)o.image_size;
    if (o.channels)
        config.channels = (size_t)o.channels;
    if (o.width)
        config.base_channels = (size_t)o.width;
    config.seed = 0;

    bench_env env;
    gantry_gan *gan = NULL;
    if ((s = open_env(&o, &env)))
        goto fail;
    if ((s = gantry_gan_create(env.be, &config, &gan)))
        goto fail;
    s = o.ops ? bench_ops(&o, &env, gan) : bench_steps(&o, &env, gan);
    if (s)
        goto fail;
    rc = CLI_OK;
    goto done;
fail:
    fflush(stdout);
    rc = cli_fail(s);
done:
    gantry_gan_destroy(gan);
    gantry_backend_close(env.be);
    return rc;
}
