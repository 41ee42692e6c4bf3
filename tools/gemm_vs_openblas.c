/* gemm-vs-openblas: the cpu backend's GEMM against OpenBLAS's sgemm on the
 * products of the gan model's Linear layers at batch 64 (forward y = x W^T,
 * weight gradient dW = dy^T x, input gradient dx = dy W) as a training step
 * runs them: G's gradients at 64 rows and its forward at 128 (both noise
 * batches of a step), D's at 64 rows (the generator update) and at 128 (the
 * discriminator update, which stacks the real and the fake batch), in one
 * process, as docs/benchmarks.md's GEMM comparison was measured:
 *
 *   build/tools/gemm-vs-openblas [--model gan|dcgan|all] [THREADS [ROUNDS]]
 *       (default: every online CPU, 11 rounds, about 5 minutes here)
 *
 * Each product runs for samples of at least SAMPLE_S; the median sample is
 * one library's time in a round.  Each library gets its own block of
 * samples after a pause: both leave their worker threads spinning for a
 * while after a call, and interleaving them let one library's spinning
 * threads take a core from the other (our 2-thread products looked no
 * faster than 1-thread ones).  ROUNDS rounds go over every product, the
 * libraries taking turns to go first; reported per product are the median
 * GFLOP/s of each library and the median of the rounds' ratios, and the
 * same for the total weighted by work.  On a shared VM one slow moment
 * used to decide a product's single ratio (the worst product moved from
 * run to run); a ratio measured side by side in every round and the
 * median over rounds is what the machine can reproduce.
 * OpenBLAS runs THREADS threads of its own; the backend gets the same number
 * through gantry_backend_config. */
#include <assert.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gantry/ops.h"
#include "gantry/tensor.h"

#define SAMPLES 31
#define SAMPLE_S 2e-3
#define BATCH 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_doubles);
    return v[n / 2];
}

static void pause_for_spinners(void)
{
    struct timespec ts = { 0, 300000000 };
    nanosleep(&ts, NULL);
}

typedef struct product {
    size_t m, n, k;
    int ta, tb;
} product;

/* Seconds per call, the median of SAMPLES samples of `reps` calls. */
static int time_own(gantry_backend *be, const product *p, const gantry_tensor *a, const gantry_tensor *b,
                    gantry_tensor *c, int reps, double *out)
{
    double s[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        double t = now();
        for (int r = 0; r < reps; r++)
            if (gantry_op_gemm(p->ta, p->tb, 1.0f, a, b, 0.0f, c))
                return -1;
        if (gantry_backend_synchronize(be))
            return -1;
        s[i] = (now() - t) / reps;
    }
    *out = median(s, SAMPLES);
    return 0;
}

static double time_openblas(const product *p, const float *a, const float *b, float *c, int reps)
{
    double s[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        double t = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans,
                        (blasint)p->m, (blasint)p->n, (blasint)p->k, 1.0f, a, (blasint)(p->ta ? p->m : p->k), b,
                        (blasint)(p->tb ? p->k : p->n), 0.0f, c, (blasint)p->n);
        s[i] = (now() - t) / reps;
    }
    return median(s, SAMPLES);
}

static void fill(float *x, size_t n, size_t period)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % period) * 0.01f - 0.05f;
}

/* One product on both libraries, the one named by own_first first: 0, or
 * -1 with a message printed. */
static int compare(gantry_backend *be, const product *p, int own_first, double *own_s, double *ob_s)
{
    size_t as[2] = { p->ta ? p->k : p->m, p->ta ? p->m : p->k }, bs[2] = { p->tb ? p->n : p->k, p->tb ? p->k : p->n };
    size_t cs[2] = { p->m, p->n };
    gantry_tensor *a = NULL, *b = NULL, *c = NULL;
    float *ha = malloc(p->m * p->k * sizeof *ha), *hb = malloc(p->k * p->n * sizeof *hb);
    float *hc = malloc(p->m * p->n * sizeof *hc);
    int rc = -1;
    if (!ha || !hb || !hc) {
        fprintf(stderr, "gemm-vs-openblas: out of host memory\n");
        goto done;
    }
    fill(ha, p->m * p->k, 13);
    fill(hb, p->k * p->n, 7);
    if (gantry_tensor_create(be, 2, as, &a) || gantry_tensor_create(be, 2, bs, &b) ||
        gantry_tensor_create(be, 2, cs, &c) || gantry_tensor_write(a, ha, p->m * p->k) ||
        gantry_tensor_write(b, hb, p->k * p->n)) {
        fprintf(stderr, "gemm-vs-openblas: %s\n", gantry_last_error());
        goto done;
    }
    double flop = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    int reps = (int)(SAMPLE_S * 50e9 / flop) + 1; /* about SAMPLE_S at 50 GFLOP/s */
    for (int turn = 0; turn < 2; turn++) {
        pause_for_spinners();
        if (turn == !own_first) {
            *ob_s = time_openblas(p, ha, hb, hc, reps);
        } else if (time_own(be, p, a, b, c, reps, own_s)) {
            fprintf(stderr, "gemm-vs-openblas: %s\n", gantry_last_error());
            goto done;
        }
    }
    rc = 0;
done:
    gantry_tensor_destroy(a);
    gantry_tensor_destroy(b);
    gantry_tensor_destroy(c);
    free(ha);
    free(hb);
    free(hc);
    return rc;
}

#define MAX_ROUNDS 99
#define MAX_PRODUCTS 64

/* The gan model's Linear layers: G's 5 layers, 3 products at 64 rows and
 * the forward again at 128; D's 3: 3 products at 64 and at 128 rows. */
static size_t gan_products(product *ps, char (*labels)[48])
{
    static const struct {
        char net;
        size_t in, out, rows;
        int passes; /* 3, or 1: the forward alone */
    } layers[] = {
        { 'G', 100, 128, BATCH, 3 },        { 'G', 128, 256, BATCH, 3 },        { 'G', 256, 512, BATCH, 3 },
        { 'G', 512, 1024, BATCH, 3 },       { 'G', 1024, 784, BATCH, 3 },       { 'G', 100, 128, 2 * BATCH, 1 },
        { 'G', 128, 256, 2 * BATCH, 1 },    { 'G', 256, 512, 2 * BATCH, 1 },    { 'G', 512, 1024, 2 * BATCH, 1 },
        { 'G', 1024, 784, 2 * BATCH, 1 },   { 'D', 784, 512, BATCH, 3 },        { 'D', 512, 256, BATCH, 3 },
        { 'D', 256, 1, BATCH, 3 },          { 'D', 784, 512, 2 * BATCH, 3 },    { 'D', 512, 256, 2 * BATCH, 3 },
        { 'D', 256, 1, 2 * BATCH, 3 },
    };
    static const char *const pass[3] = { "forward", "weight_grad", "input_grad" };
    size_t count = 0;
    for (size_t l = 0; l < sizeof layers / sizeof *layers; l++) {
        size_t in = layers[l].in, out = layers[l].out, b = layers[l].rows;
        const product three[3] = { { b, out, in, 0, 1 }, { out, in, b, 1, 0 }, { b, in, out, 0, 0 } };
        for (int i = 0; i < layers[l].passes; i++, count++) {
            ps[count] = three[i];
            snprintf(labels[count], 48, "%c %zu->%zu %s", layers[l].net, in, out, pass[i]);
        }
    }
    return count;
}

/* The dcgan model's products at batch 64, each once, as
 * `gantry bench --model dcgan --ops` lists them: the Linear layers G.0 and
 * D.6 and the convolutions' GEMMs (M x N x K, op(A) op(B)). */
static size_t dcgan_products(product *ps, char (*labels)[48])
{
    static const struct {
        const char *label;
        product p;
    } list[] = {
        { "G.0 forward", { 64, 6272, 100, 0, 1 } },     { "G.0 weight_grad", { 6272, 100, 64, 1, 0 } },
        { "G.0 input_grad", { 64, 100, 6272, 0, 0 } },  { "D.6 forward", { 64, 1, 6272, 0, 1 } },
        { "D.6 weight_grad", { 1, 6272, 64, 1, 0 } },   { "D.6 input_grad", { 64, 6272, 1, 0, 0 } },
        { "G.4 forward", { 1024, 3136, 128, 1, 0 } },   { "G.4 weight_grad", { 128, 1024, 3136, 0, 1 } },
        { "G.4 input_grad", { 128, 3136, 1024, 0, 0 } }, { "G.7 forward", { 16, 12544, 64, 1, 0 } },
        { "G.7 weight_grad", { 64, 16, 12544, 0, 1 } }, { "G.7 input_grad", { 64, 12544, 16, 0, 0 } },
        { "D.0 forward", { 64, 12544, 16, 0, 0 } },     { "D.0 weight_grad", { 64, 16, 12544, 0, 1 } },
        { "D.0 input_grad", { 16, 12544, 64, 1, 0 } },  { "D.2 forward", { 128, 3136, 1024, 0, 0 } },
        { "D.2 weight_grad", { 128, 1024, 3136, 0, 1 } }, { "D.2 input_grad", { 1024, 3136, 128, 1, 0 } },
    };
    size_t count = 0;
    for (size_t i = 0; i < sizeof list / sizeof *list; i++, count++) {
        ps[count] = list[i].p;
        snprintf(labels[count], 48, "dcgan %s", list[i].label);
    }
    return count;
}

static int usage(void)
{
    fprintf(stderr, "usage: gemm-vs-openblas [--model gan|dcgan|all] [THREADS [ROUNDS]]   (ROUNDS 1..%d, default 11)\n",
            MAX_ROUNDS);
    return 2;
}

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), rounds = 11;
    const char *model = "gan";
    int arg = 1;
    if (argc >= 3 && strcmp(argv[1], "--model") == 0) {
        model = argv[2];
        arg = 3;
    }
    if (strcmp(model, "gan") != 0 && strcmp(model, "dcgan") != 0 && strcmp(model, "all") != 0)
        return usage();
    if (argc - arg > 2 || (argc - arg >= 1 && (threads = atoi(argv[arg])) < 1) ||
        (argc - arg == 2 && ((rounds = atoi(argv[arg + 1])) < 1 || rounds > MAX_ROUNDS)))
        return usage();
    gantry_backend_config config = { .num_threads = threads };
    gantry_backend *be;
    if (gantry_backend_open("cpu", &config, &be)) {
        fprintf(stderr, "gemm-vs-openblas: %s\n", gantry_last_error());
        return 1;
    }
    openblas_set_num_threads(threads);
    const char *setting = getenv("GANTRY_CPU_GEMM");
    printf("%d threads, %d rounds; %s (GANTRY_CPU_GEMM=%s); OpenBLAS %s\n\n", threads, rounds,
           gantry_backend_name(be), setting ? setting : "auto", openblas_get_config());
    static product ps[MAX_PRODUCTS];
    static char labels[MAX_PRODUCTS][48];
    double flops[MAX_PRODUCTS];
    size_t count = 0;
    if (strcmp(model, "dcgan") != 0)
        count += gan_products(ps + count, labels + count);
    if (strcmp(model, "gan") != 0)
        count += dcgan_products(ps + count, labels + count);
    assert(count <= MAX_PRODUCTS);
    for (size_t i = 0; i < count; i++)
        flops[i] = 2.0 * (double)ps[i].m * (double)ps[i].n * (double)ps[i].k;
    static double own[MAX_PRODUCTS][MAX_ROUNDS], ob[MAX_PRODUCTS][MAX_ROUNDS], ratio[MAX_PRODUCTS][MAX_ROUNDS];
    double total_ratio[MAX_ROUNDS], total_own[MAX_ROUNDS], total_ob[MAX_ROUNDS];
    int rc = 0;
    for (int r = 0; r < rounds && !rc; r++) {
        fprintf(stderr, "round %d of %d...\n", r + 1, rounds);
        double own_s = 0.0, ob_s = 0.0, flop = 0.0;
        for (size_t i = 0; i < count && !rc; i++) {
            double o = 0.0, b = 0.0;
            rc = compare(be, &ps[i], r % 2 == 0, &o, &b);
            own[i][r] = flops[i] / o * 1e-9;
            ob[i][r] = flops[i] / b * 1e-9;
            ratio[i][r] = b / o;
            own_s += o;
            ob_s += b;
            flop += flops[i];
        }
        total_own[r] = flop / own_s * 1e-9;
        total_ob[r] = flop / ob_s * 1e-9;
        total_ratio[r] = ob_s / own_s;
    }
    if (!rc) {
        double worst = 1e9;
        for (size_t i = 0; i < count; i++) {
            const product *p = &ps[i];
            double q = median(ratio[i], (size_t)rounds);
            printf("%-26s M %5zu  N %5zu  K %5zu  %s%s   own %7.1f   OpenBLAS %7.1f GFLOP/s   %4.0f%%\n", labels[i],
                   p->m, p->n, p->k, p->ta ? "T" : "N", p->tb ? "T" : "N", median(own[i], (size_t)rounds),
                   median(ob[i], (size_t)rounds), 100.0 * q);
            if (p->m > 1 && p->n > 1 && p->k > 1 && q < worst) /* matrix-vector products aside */
                worst = q;
        }
        printf("\nweighted by work: own %.1f, OpenBLAS %.1f GFLOP/s (%.0f%%); worst matrix product %.0f%%\n"
               "(medians over %d rounds; the percentages are medians of each round's ratio)\n",
               median(total_own, (size_t)rounds), median(total_ob, (size_t)rounds),
               100.0 * median(total_ratio, (size_t)rounds), 100.0 * worst, rounds);
    }
    gantry_backend_close(be);
    return rc ? 1 : 0;
}
