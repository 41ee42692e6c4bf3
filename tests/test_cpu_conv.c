/* The cpu backend's convolution ops (implicit GEMM with the AVX-512
 * kernels, the im2col / gemm sequence elsewhere) against what defines them,
 * on every GEMM path and thread count:
 *   - each of the three ops within 1e-5 of a double-precision direct
 *     convolution, relative to the sum of |terms| of each output;
 *   - the same bits as the backend's own im2col / gemm / swap_axes / col2im
 *     sequence (the products see the same K blocks through the same
 *     kernels, only packed from the images instead of the column matrix),
 *     so the choice between the two paths never shows in a result;
 *   - the same bits after another op on the same tensors and work, told
 *     so (GANTRY_CONV_IMAGE_IN_WORK, GANTRY_CONV_OUTSIDE_IN_WORK: the
 *     sequence then reuses the column matrix or swapped dy left in work);
 *   - every op the same bits at 1, 2 and 3 threads, and on the AVX-512
 *     kernels the same bits as on the AVX2 ones.
 * The geometries cover the DCGAN's layers (at batch 8), stride 1, 2 and 3,
 * kernels wider than high, 1 x 1 kernels with stride 2, padding at every
 * edge, channel counts off the 12 x 32 and 6 x 16 tiles, and one output
 * channel (the matrix-vector fallback). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"

typedef struct geom {
    size_t n, c, h, w, kh, kw, sh, sw, ph, pw, o;
} geom;

static const geom geoms[] = {
    { 8, 64, 14, 14, 4, 4, 2, 2, 1, 1, 128 }, /* D.2, G.4 */
    { 8, 1, 28, 28, 4, 4, 2, 2, 1, 1, 64 },   /* D.0, G.7 */
    { 3, 16, 9, 9, 3, 3, 1, 1, 1, 1, 20 },
    { 2, 13, 11, 10, 5, 5, 3, 3, 2, 2, 7 },
    { 2, 12, 8, 7, 3, 2, 2, 1, 1, 0, 33 },
    { 3, 24, 9, 9, 1, 1, 2, 2, 0, 0, 17 },
    { 2, 30, 6, 6, 4, 4, 2, 2, 1, 1, 1 },
    { 1, 40, 5, 5, 5, 5, 1, 1, 4, 4, 3 },
    { 5, 3, 6, 19, 3, 3, 1, 1, 1, 1, 4 }, /* rows of several chunks, a group of 4 images and 1 */
    { 2, 5, 4, 4, 4, 4, 1, 1, 0, 0, 6 },  /* one output pixel: the weight gradient's dy is A^T */
    { 3, 6, 4, 4, 3, 3, 2, 2, 1, 1, 5 },  /* 2 x 2 outputs: dy swapped first */
    { 4, 7, 5, 5, 3, 3, 2, 2, 1, 1, 9 },  /* 3 x 3 outputs: most 8-pixel steps of dy cross planes */
};

enum { OP_FORWARD, OP_DATA, OP_WEIGHT, OP_WEIGHT_ADD, OPS };
static const char *const op_names[OPS] = { "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
                                           "conv2d_backward_weight (accumulate)" };

static uint64_t stream;

static float *random_values(size_t n)
{
    float *v = malloc(n * sizeof *v);
    REQUIRE(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = gantry_philox_uniform(11, stream, i, -1.0f, 1.0f);
    stream += gantry_philox_uniform_blocks(n);
    return v;
}

typedef struct problem {
    gantry_conv_geometry g;
    size_t o, nx, ny, nw, nwork;
    float *x, *dy, *w, *dw0; /* inputs; dw0 the gradient accumulated into */
} problem;

static problem problem_of(const geom *s)
{
    problem p = { .g = { .n = s->n, .c = s->c, .h = s->h, .w = s->w, .kh = s->kh, .kw = s->kw, .sh = s->sh,
                         .sw = s->sw, .ph = s->ph, .pw = s->pw },
                  .o = s->o };
    REQUIRE(gantry_conv_geometry_finish(&p.g) == GANTRY_OK);
    size_t ckk = s->c * s->kh * s->kw, np = s->n * p.g.oh * p.g.ow;
    p.nx = s->n * s->c * s->h * s->w;
    p.ny = s->o * np;
    p.nw = s->o * ckk;
    p.nwork = (ckk + s->o) * np;
    p.x = random_values(p.nx);
    p.dy = random_values(p.ny);
    p.w = random_values(p.nw);
    p.dw0 = random_values(p.nw);
    return p;
}

static void problem_free(problem *p)
{
    free(p->x);
    free(p->dy);
    free(p->w);
    free(p->dw0);
}

static gantry_tensor *tensor_of(gantry_backend *be, const float *v, size_t n)
{
    gantry_tensor *t;
    REQUIRE(gantry_tensor_new(be, &t, n, 0, 0, 0) == GANTRY_OK);
    if (v)
        REQUIRE(gantry_tensor_write(t, v, n) == GANTRY_OK);
    return t;
}

static gantry_tensor *matrix_view(gantry_tensor *base, size_t offset, size_t rows, size_t cols)
{
    gantry_tensor *v;
    REQUIRE(gantry_tensor_view(base, offset, 2, (size_t[]){ rows, cols }, &v) == GANTRY_OK);
    return v;
}

/* Runs `op` on `be`, by the op itself or (sequence) as the version-2
 * sequence that defines it, and reads the result into out.  kept: the op
 * runs after another on the same tensors and work, with the flag that says
 * so (what the layers do). */
static void run(gantry_backend *be, const problem *p, int op, int sequence, int kept, float *out)
{
    const gantry_conv_geometry *g = &p->g;
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow, pixels = g->oh * g->ow;
    gantry_tensor *x = tensor_of(be, p->x, p->nx), *dy = tensor_of(be, p->dy, p->ny), *w = tensor_of(be, p->w, p->nw);
    gantry_tensor *work = tensor_of(be, NULL, p->nwork);
    gantry_tensor *out_t = op == OP_FORWARD ? tensor_of(be, NULL, p->ny)
                           : op == OP_DATA  ? tensor_of(be, NULL, p->nx)
                                            : tensor_of(be, p->dw0, p->nw);
    size_t n_out = op == OP_FORWARD ? p->ny : op == OP_DATA ? p->nx : p->nw;
    if (!sequence) {
        /* kept 1: the forward or weight gradient after the other (image in
         * work); kept 2: the input or weight gradient after the other (dy
         * in work); the other op first, on a scratch output */
        int flags = kept == 1 ? GANTRY_CONV_IMAGE_IN_WORK : kept == 2 ? GANTRY_CONV_OUTSIDE_IN_WORK : 0;
        if (kept) {
            int first = op == OP_FORWARD || op == OP_DATA ? OP_WEIGHT : kept == 1 ? OP_FORWARD : OP_DATA;
            size_t n_first = first == OP_FORWARD ? p->ny : first == OP_DATA ? p->nx : p->nw;
            gantry_tensor *other = tensor_of(be, NULL, n_first);
            if (first == OP_WEIGHT)
                CHECK_OK(gantry_op_conv2d_backward_weight(x, dy, other, g, 0, work));
            else if (first == OP_FORWARD)
                CHECK_OK(gantry_op_conv2d_forward(x, w, other, g, 0, work));
            else
                CHECK_OK(gantry_op_conv2d_backward_data(dy, w, other, g, 0, work));
            gantry_tensor_destroy(other);
        }
        if (op == OP_FORWARD)
            CHECK_OK(gantry_op_conv2d_forward(x, w, out_t, g, flags, work));
        else if (op == OP_DATA)
            CHECK_OK(gantry_op_conv2d_backward_data(dy, w, out_t, g, flags, work));
        else
            CHECK_OK(gantry_op_conv2d_backward_weight(x, dy, out_t, g, flags | (op == OP_WEIGHT_ADD), work));
    } else {
        gantry_tensor *col = matrix_view(work, 0, ckk, np), *t = matrix_view(work, ckk * np, p->o, np);
        gantry_tensor *wm = matrix_view(w, 0, p->o, ckk);
        if (op == OP_FORWARD) {
            CHECK_OK(gantry_op_im2col(x, col, g));
            CHECK_OK(gantry_op_gemm(0, 0, 1.0f, wm, col, 0.0f, t));
            CHECK_OK(gantry_op_swap_axes(t, out_t, p->o, g->n, pixels));
        } else if (op == OP_DATA) {
            CHECK_OK(gantry_op_swap_axes(dy, t, g->n, p->o, pixels));
            CHECK_OK(gantry_op_gemm(1, 0, 1.0f, wm, t, 0.0f, col));
            CHECK_OK(gantry_op_col2im(col, out_t, g, 0));
        } else {
            gantry_tensor *dwm = matrix_view(out_t, 0, p->o, ckk);
            CHECK_OK(gantry_op_im2col(x, col, g));
            CHECK_OK(gantry_op_swap_axes(dy, t, g->n, p->o, pixels));
            CHECK_OK(gantry_op_gemm(0, 1, 1.0f, t, col, op == OP_WEIGHT_ADD ? 1.0f : 0.0f, dwm));
            gantry_tensor_destroy(dwm);
        }
        gantry_tensor_destroy(col);
        gantry_tensor_destroy(t);
        gantry_tensor_destroy(wm);
    }
    REQUIRE(gantry_tensor_read(out_t, out, n_out) == GANTRY_OK);
    gantry_tensor *all[] = { x, dy, w, work, out_t };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* The largest error of `got` against the direct convolution in double,
 * relative to the sum of |terms| of each output. */
static double worst_error(const problem *p, int op, const float *got)
{
    const gantry_conv_geometry *g = &p->g;
    size_t n_out = op == OP_FORWARD ? p->ny : op == OP_DATA ? p->nx : p->nw;
    double *sum = calloc(n_out, sizeof *sum), *mag = calloc(n_out, sizeof *mag);
    REQUIRE(sum && mag);
    for (size_t b = 0; b < g->n; b++)
        for (size_t oc = 0; oc < p->o; oc++)
            for (size_t oy = 0; oy < g->oh; oy++)
                for (size_t ox = 0; ox < g->ow; ox++)
                    for (size_t ci = 0; ci < g->c; ci++)
                        for (size_t ki = 0; ki < g->kh; ki++)
                            for (size_t kj = 0; kj < g->kw; kj++) {
                                long iy = (long)(oy * g->sh + ki) - (long)g->ph;
                                long ix = (long)(ox * g->sw + kj) - (long)g->pw;
                                if (iy < 0 || ix < 0 || iy >= (long)g->h || ix >= (long)g->w)
                                    continue;
                                size_t xi = ((b * g->c + ci) * g->h + (size_t)iy) * g->w + (size_t)ix;
                                size_t yi = ((b * p->o + oc) * g->oh + oy) * g->ow + ox;
                                size_t wi = ((oc * g->c + ci) * g->kh + ki) * g->kw + kj;
                                size_t at = op == OP_FORWARD ? yi : op == OP_DATA ? xi : wi;
                                double term = op == OP_FORWARD ? (double)p->w[wi] * p->x[xi]
                                              : op == OP_DATA  ? (double)p->w[wi] * p->dy[yi]
                                                               : (double)p->dy[yi] * p->x[xi];
                                sum[at] += term;
                                mag[at] += fabs(term);
                            }
    double worst = 0.0;
    for (size_t i = 0; i < n_out; i++) {
        double want = sum[i] + (op == OP_WEIGHT_ADD ? p->dw0[i] : 0.0);
        double scale = mag[i] + (op == OP_WEIGHT_ADD ? fabs(p->dw0[i]) : 0.0) + 1e-30;
        double e = fabs(got[i] - want) / scale;
        worst = e > worst ? e : worst;
    }
    free(sum);
    free(mag);
    return worst;
}

static gantry_backend *open_cpu(const char *path, int threads)
{
    setenv("GANTRY_CPU_GEMM", path, 1);
    gantry_backend_config cfg = { .num_threads = threads };
    gantry_backend *be = NULL;
    return gantry_backend_open("cpu", &cfg, &be) == GANTRY_OK ? be : NULL;
}

static int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* Every geometry and op on GANTRY_CPU_GEMM=path; the 1-thread results of
 * the first path checked go into `first` (per geometry and op) for the
 * later paths that must give the same bits. */
static void check_path(const char *path, float **first, int same_as_first)
{
    enum { THREADS = 3 };
    gantry_backend *be[THREADS];
    for (int t = 0; t < THREADS; t++)
        REQUIRE((be[t] = open_cpu(path, t + 1)) != NULL);
    double worst = 0.0;
    size_t runs = 0;
    for (size_t gi = 0; gi < sizeof geoms / sizeof *geoms; gi++) {
        stream = gi << 20;
        problem p = problem_of(&geoms[gi]);
        for (int op = 0; op < OPS; op++) {
            size_t n_out = op == OP_FORWARD ? p.ny : op == OP_DATA ? p.nx : p.nw;
            float *one = malloc(n_out * sizeof *one), *other = malloc(n_out * sizeof *other);
            REQUIRE(one && other);
            run(be[0], &p, op, 0, 0, one);
            runs++;
            double e = worst_error(&p, op, one);
            worst = e > worst ? e : worst;
            if (e > 1e-5)
                fprintf(stderr, "%s: geometry %zu, %s: relative error %.3g\n", path, gi, op_names[op], e);
            CHECK(e <= 1e-5);
            run(be[0], &p, op, 1, 0, other);
            if (!same(one, other, n_out))
                fprintf(stderr, "%s: geometry %zu, %s: differs from the im2col/gemm sequence\n", path, gi,
                        op_names[op]);
            CHECK(same(one, other, n_out));
            for (int kept = 1; kept <= 2; kept++) {
                if ((kept == 1 && op == OP_DATA) || (kept == 2 && op == OP_FORWARD))
                    continue;
                run(be[0], &p, op, 0, kept, other);
                if (!same(one, other, n_out))
                    fprintf(stderr, "%s: geometry %zu, %s: differs with the %s in work\n", path, gi, op_names[op],
                            kept == 1 ? "image" : "output side");
                CHECK(same(one, other, n_out));
            }
            for (int t = 1; t < THREADS; t++) {
                run(be[t], &p, op, 0, 0, other);
                if (!same(one, other, n_out))
                    fprintf(stderr, "%s: geometry %zu, %s: %d threads differ from 1\n", path, gi, op_names[op],
                            t + 1);
                CHECK(same(one, other, n_out));
            }
            float **keep = &first[gi * OPS + (size_t)op];
            if (!*keep) {
                *keep = one;
                one = NULL;
            } else if (same_as_first) {
                if (!same(*keep, one, n_out))
                    fprintf(stderr, "%s: geometry %zu, %s: differs from the AVX2 kernels\n", path, gi,
                            op_names[op]);
                CHECK(same(*keep, one, n_out));
            }
            free(one);
            free(other);
        }
        problem_free(&p);
    }
    printf("GANTRY_CPU_GEMM=%s: %zu convolutions at 1-3 threads; worst relative error %.2g\n", path, runs, worst);
    for (int t = 0; t < THREADS; t++)
        gantry_backend_close(be[t]);
}

/* More geometries on one instance than it keeps index tables for
 * (CPU_CONV_TABLES, 48), twice over: built and kept, found again, and
 * built for one call once the list is full, each time the sequence's bits. */
static void check_many_geometries(void)
{
    gantry_backend *be = open_cpu("auto", 2);
    REQUIRE(be != NULL);
    size_t bad = 0, runs = 0;
    for (int round = 0; round < 2; round++)
        for (size_t n = 2; n < 22; n++) {
            const geom s = { n, 3, 6, 5, 3, 3, 2, 1, 1, 1, 4 };
            problem p = problem_of(&s);
            for (int op = OP_FORWARD; op <= OP_WEIGHT; op++) {
                size_t n_out = op == OP_FORWARD ? p.ny : op == OP_DATA ? p.nx : p.nw;
                float *a = malloc(n_out * sizeof *a), *b = malloc(n_out * sizeof *b);
                REQUIRE(a && b);
                run(be, &p, op, 0, 0, a);
                run(be, &p, op, 1, 0, b);
                bad += !same(a, b, n_out);
                runs++;
                free(a);
                free(b);
            }
            problem_free(&p);
        }
    CHECK(bad == 0);
    printf("%zu convolutions of 20 geometries, twice, on one instance: %zu differ from the sequence\n", runs, bad);
    gantry_backend_close(be);
}

int main(void)
{
    test_require_backend("cpu");
    enum { SLOTS = sizeof geoms / sizeof *geoms * OPS };
    float *avx2[SLOTS] = { 0 }, *other[SLOTS] = { 0 };
    gantry_backend *probe = open_cpu("avx2", 1);
    if (probe) {
        gantry_backend_close(probe);
        check_path("avx2", avx2, 0);
        if ((probe = open_cpu("avx512", 1))) {
            gantry_backend_close(probe);
            check_path("avx512", avx2, 1);
        } else {
            printf("GANTRY_CPU_GEMM=avx512: not on this machine\n");
        }
    }
    check_path("portable", other, 0);
    if ((probe = open_cpu("openblas", 1))) {
        gantry_backend_close(probe);
        float *blas[SLOTS] = { 0 };
        check_path("openblas", blas, 0);
        for (size_t i = 0; i < SLOTS; i++)
            free(blas[i]);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        free(avx2[i]);
        free(other[i]);
    }
    check_many_geometries();
    return test_finish("cpu_conv");
}
