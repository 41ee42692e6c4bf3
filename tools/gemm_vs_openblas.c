/* gemm-vs-openblas: the cpu backend's GEMM against OpenBLAS's sgemm on the
 * 24 products of the gan model's Linear layers at batch 64 (forward
 * y = x W^T, weight gradient dW = dy^T x, input gradient dx = dy W), in one
 * process, as the README's GEMM comparison was measured:
 *
 *   build/tools/gemm-vs-openblas [THREADS]      (default: every online CPU)
 *
 * Each product runs for samples of at least SAMPLE_S; the median sample is
 * reported in GFLOP/s for both libraries, then the ratio, and a summary
 * weighted by work.  Each library gets its own block of samples after a
 * pause: both leave their worker threads spinning for a while after a call,
 * and interleaving them let one library's spinning threads take a core from
 * the other (our 2-thread products looked no faster than 1-thread ones).
 * OpenBLAS runs THREADS threads of its own; the backend gets the same number
 * through gantry_backend_config. */
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

/* One product on both libraries: 0, or -1 with a message printed. */
static int compare(gantry_backend *be, const char *label, const product *p, double *own_s, double *ob_s)
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
    pause_for_spinners();
    if (time_own(be, p, a, b, c, reps, own_s)) {
        fprintf(stderr, "gemm-vs-openblas: %s\n", gantry_last_error());
        goto done;
    }
    pause_for_spinners();
    *ob_s = time_openblas(p, ha, hb, hc, reps);
    printf("%-21s M %5zu  N %5zu  K %5zu  %s%s   own %7.1f   OpenBLAS %7.1f GFLOP/s   %4.0f%%\n", label, p->m, p->n,
           p->k, p->ta ? "T" : "N", p->tb ? "T" : "N", flop / *own_s * 1e-9, flop / *ob_s * 1e-9,
           100.0 * *ob_s / *own_s);
    fflush(stdout);
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

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 2 || (argc == 2 && (threads = atoi(argv[1])) < 1)) {
        fprintf(stderr, "usage: gemm-vs-openblas [THREADS]\n");
        return 2;
    }
    gantry_backend_config config = { .num_threads = threads };
    gantry_backend *be;
    if (gantry_backend_open("cpu", &config, &be)) {
        fprintf(stderr, "gemm-vs-openblas: %s\n", gantry_last_error());
        return 1;
    }
    openblas_set_num_threads(threads);
    printf("%d threads; %s; OpenBLAS %s\n\n", threads, gantry_backend_name(be), openblas_get_config());
    /* The gan model's Linear layers, in -> out (G, then D). */
    static const size_t layers[][2] = { { 100, 128 }, { 128, 256 }, { 256, 512 }, { 512, 1024 },
                                        { 1024, 784 }, { 784, 512 }, { 512, 256 }, { 256, 1 } };
    double flop = 0.0, own = 0.0, ob = 0.0, worst = 1e9;
    int rc = 0;
    for (size_t l = 0; l < sizeof layers / sizeof *layers && !rc; l++) {
        size_t in = layers[l][0], out = layers[l][1];
        const product ps[3] = { { BATCH, out, in, 0, 1 }, { out, in, BATCH, 1, 0 }, { BATCH, in, out, 0, 0 } };
        static const char *const pass[3] = { "forward", "weight_grad", "input_grad" };
        for (int i = 0; i < 3 && !rc; i++) {
            char label[48];
            double own_s, ob_s;
            snprintf(label, sizeof label, "%zu->%zu %s", in, out, pass[i]);
            rc = compare(be, label, &ps[i], &own_s, &ob_s);
            if (rc)
                break;
            double f = 2.0 * (double)ps[i].m * (double)ps[i].n * (double)ps[i].k;
            flop += f;
            own += own_s;
            ob += ob_s;
            if (out > 1 && ob_s / own_s < worst) /* matrix-vector products aside */
                worst = ob_s / own_s;
        }
    }
    if (!rc)
        printf("\nweighted by work: own %.1f, OpenBLAS %.1f GFLOP/s (%.0f%%); worst matrix product %.0f%%\n",
               flop / own * 1e-9, flop / ob * 1e-9, 100.0 * ob / own, 100.0 * worst);
    gantry_backend_close(be);
    return rc ? 1 : 0;
}
