/* The quality metrics of include/gantry/eval.h: feature statistics in
 * double on the host, the Fréchet distance through LAPACK's symmetric
 * eigen-decomposition, class statistics, and k-NN precision and recall with
 * the pairwise products on the backend (GEMM), in blocks of rows. */
#include <dlfcn.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/eval.h"
#include "gantry/ops.h"

/* Floats of one block of pairwise products on the backend and the host. */
#define BLOCK_FLOATS (16u << 20)

struct gantry_eval_set {
    gantry_backend *be;
    size_t n, dim, classes;
    gantry_tensor *features; /* [n, dim] */
    double *sqnorm;          /* |x_i|^2 of the float features, in double */
    double *radius2;         /* squared distance to the k-th nearest other member */
    double *mean, *cov;      /* [dim], [dim, dim] */
    double *share;           /* [classes]: the class distribution */
    double *mean_probs;      /* [classes]: p(y) */
    double is;               /* exp(E KL(p(y|x) || p(y))) of this set */
};

static void *alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p)
        gantry_set_error(GANTRY_OUT_OF_MEMORY, "eval: out of host memory");
    return p;
}

/* Mean and covariance (n - 1) of the rows of x, in double. */
static gantry_status moments(const float *x, size_t n, size_t d, double *mean, double *cov)
{
    double *row = alloc(d, sizeof *row);
    if (!row)
        return GANTRY_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < d; a++)
            mean[a] += x[i * d + a];
    for (size_t a = 0; a < d; a++)
        mean[a] /= (double)n;
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < d; a++)
            row[a] = x[i * d + a] - mean[a];
        for (size_t a = 0; a < d; a++) { /* the upper triangle */
            const double ra = row[a];
            double *c = cov + a * d;
            for (size_t b = a; b < d; b++)
                c[b] += ra * row[b];
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = a; b < d; b++) {
            cov[a * d + b] /= (double)(n > 1 ? n - 1 : 1);
            cov[b * d + a] = cov[a * d + b];
        }
    free(row);
    return GANTRY_OK;
}

/* Eigenvalues (ascending) into w and, with vectors, the eigenvectors in
 * place of the symmetric a (row-major; column j is eigenvector j). */
/* LAPACKE is opened on first use, not linked: a process that never
 * computes an FD (every training run without --eval-every) does not load
 * LAPACK and the BLAS behind it, with its thread pool. */
typedef lapack_int (*dsyevd_fn)(int layout, char jobz, char uplo, lapack_int n, double *a, lapack_int lda,
                                double *w);
static dsyevd_fn dsyevd;
static char dsyevd_error[256];
static pthread_once_t dsyevd_once = PTHREAD_ONCE_INIT;

static void open_lapacke(void)
{
    static const char *const names[] = { "liblapacke.so.3", "liblapacke.so" };
    for (size_t i = 0; i < sizeof names / sizeof *names && !dsyevd; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            snprintf(dsyevd_error, sizeof dsyevd_error, "%s", dlerror());
            continue;
        }
        *(void **)&dsyevd = dlsym(lib, "LAPACKE_dsyevd");
        if (!dsyevd)
            snprintf(dsyevd_error, sizeof dsyevd_error, "%s has no LAPACKE_dsyevd", names[i]);
    }
}

static gantry_status symmetric_eigen(double *a, size_t d, int vectors, double *w)
{
    pthread_once(&dsyevd_once, open_lapacke);
    if (!dsyevd)
        return gantry_set_error(GANTRY_NOT_FOUND,
                                "eval: the Frechet distance needs LAPACKE (%s); install it (Debian: apt-get install "
                                "liblapacke)",
                                dsyevd_error);
    lapack_int info = dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', (lapack_int)d, a, (lapack_int)d, w);
    if (info != 0)
        return gantry_set_error(GANTRY_INTERNAL, "eval: LAPACK dsyevd failed on a %zu x %zu covariance (info %d)%s", d,
                                d, (int)info, info > 0 ? ": it did not converge (non-finite features?)" : "");
    return GANTRY_OK;
}

/* c = a b (b_transposed: a b^T), d x d row-major, in double. */
static void product(const double *a, const double *b, int b_transposed, size_t d, double *c)
{
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += a[i * d + k] * (b_transposed ? b[j * d + k] : b[k * d + j]);
            c[i * d + j] = acc;
        }
}

gantry_status gantry_frechet_distance(const double *mu1, const double *cov1, const double *mu2, const double *cov2,
                                     size_t d, double *out)
{
    if (!mu1 || !cov1 || !mu2 || !cov2 || !out || d == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "frechet_distance: NULL argument or dim 0");
    for (size_t i = 0; i < d * d; i++)
        if (!isfinite(cov1[i]) || !isfinite(cov2[i]))
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "frechet_distance: a covariance holds NaN or Inf");
    double *v = alloc(d * d, sizeof *v), *w = alloc(d, sizeof *w), *t = alloc(d * d, sizeof *t),
           *m = alloc(d * d, sizeof *m);
    gantry_status s = v && w && t && m ? GANTRY_OK : GANTRY_OUT_OF_MEMORY;
    /* A = cov1^1/2 = V diag(sqrt(max(w, 0))) V^T. */
    if (!s) {
        memcpy(v, cov1, d * d * sizeof *v);
        s = symmetric_eigen(v, d, 1, w);
    }
    if (!s) {
        for (size_t j = 0; j < d; j++)
            w[j] = w[j] > 0.0 ? sqrt(w[j]) : 0.0;
        for (size_t a = 0; a < d; a++) /* t = V diag(sqrt w) */
            for (size_t j = 0; j < d; j++)
                t[a * d + j] = v[a * d + j] * w[j];
        product(t, v, 1, d, m);    /* m = t V^T = A */
        product(m, cov2, 0, d, t); /* t = A cov2 */
        product(t, m, 0, d, v);    /* v = A cov2 A: symmetric PSD, the eigenvalues of cov1 cov2 */
        for (size_t a = 0; a < d; a++) /* exactly symmetric for dsyevd */
            for (size_t b = a + 1; b < d; b++)
                v[a * d + b] = v[b * d + a] = 0.5 * (v[a * d + b] + v[b * d + a]);
        s = symmetric_eigen(v, d, 0, w);
    }
    if (!s) {
        double diff = 0.0, traces = 0.0, root = 0.0;
        for (size_t a = 0; a < d; a++) {
            diff += (mu1[a] - mu2[a]) * (mu1[a] - mu2[a]);
            traces += cov1[a * d + a] + cov2[a * d + a];
            root += w[a] > 0.0 ? sqrt(w[a]) : 0.0;
        }
        *out = diff + traces - 2.0 * root;
    }
    free(v);
    free(w);
    free(t);
    free(m);
    return s;
}

/* Rows [first, first + m) of `x` as a view. */
static gantry_status rows_view(gantry_tensor *x, size_t first, size_t m, gantry_tensor **out)
{
    size_t d = gantry_tensor_dim(x, 1);
    return gantry_tensor_view(x, first * d, 2, (size_t[]){ m, d }, out);
}

/* Calls visit(first, m, block, user) for consecutive blocks of rows of a,
 * block = a[first..first+m) b^T ([m, rows of b]) on the host. */
typedef void (*block_fn)(size_t first, size_t m, const float *block, void *user);

static gantry_status pairwise_blocks(gantry_tensor *a, gantry_tensor *b, block_fn visit, void *user)
{
    size_t na = gantry_tensor_dim(a, 0), nb = gantry_tensor_dim(b, 0);
    size_t rows = BLOCK_FLOATS / nb;
    rows = rows < 1 ? 1 : rows > na ? na : rows;
    gantry_tensor *c = NULL, *av = NULL, *cv = NULL;
    float *host = alloc(rows * nb, sizeof *host);
    gantry_status s = host ? gantry_tensor_new(gantry_tensor_backend(a), &c, rows, nb, 0, 0) : GANTRY_OUT_OF_MEMORY;
    for (size_t first = 0; !s && first < na; first += rows) {
        size_t m = na - first < rows ? na - first : rows;
        s = rows_view(a, first, m, &av);
        if (!s)
            s = m == rows ? GANTRY_OK : rows_view(c, 0, m, &cv);
        if (!s)
            s = gantry_op_gemm(0, 1, 1.0f, av, b, 0.0f, cv ? cv : c);
        if (!s)
            s = gantry_tensor_read(cv ? cv : c, host, m * nb);
        if (!s)
            visit(first, m, host, user);
        gantry_tensor_destroy(av);
        gantry_tensor_destroy(cv);
        av = cv = NULL;
    }
    gantry_tensor_destroy(c);
    free(host);
    return s;
}

static double dist2(const double *sq_a, size_t i, const double *sq_b, size_t j, float dot)
{
    double d = sq_a[i] + sq_b[j] - 2.0 * (double)dot;
    return d > 0.0 ? d : 0.0;
}

/* The k-th smallest squared distance from each member to the others. */
static void radius_block(size_t first, size_t m, const float *block, void *user)
{
    gantry_eval_set *set = user;
    size_t n = set->n;
    for (size_t r = 0; r < m; r++) {
        size_t i = first + r;
        double best[GANTRY_EVAL_K];
        for (int q = 0; q < GANTRY_EVAL_K; q++)
            best[q] = INFINITY;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            double d = dist2(set->sqnorm, i, set->sqnorm, j, block[r * n + j]);
            if (d >= best[GANTRY_EVAL_K - 1])
                continue;
            int q = GANTRY_EVAL_K - 1;
            while (q > 0 && best[q - 1] > d) {
                best[q] = best[q - 1];
                q--;
            }
            best[q] = d;
        }
        set->radius2[i] = best[GANTRY_EVAL_K - 1];
    }
}

static void class_statistics(gantry_eval_set *set, const float *probs, const uint8_t *labels)
{
    size_t n = set->n, k = set->classes;
    double kl = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * k;
        size_t arg = 0;
        for (size_t j = 0; j < k; j++) {
            set->mean_probs[j] += p[j];
            arg = p[j] > p[arg] ? j : arg;
        }
        size_t cls = labels && labels[i] < k ? labels[i] : arg;
        set->share[cls] += 1.0;
    }
    for (size_t j = 0; j < k; j++) {
        set->mean_probs[j] /= (double)n;
        set->share[j] /= (double)n;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            double p = probs[i * k + j];
            if (p > 0.0 && set->mean_probs[j] > 0.0)
                kl += p * (log(p) - log(set->mean_probs[j]));
        }
    set->is = exp(kl / (double)n);
}

static gantry_status set_fill(gantry_eval_set *set, const float *features, const float *probs, const uint8_t *labels)
{
    size_t n = set->n, d = set->dim, k = set->classes;
    set->sqnorm = alloc(n, sizeof(double));
    set->radius2 = alloc(n, sizeof(double));
    set->mean = alloc(d, sizeof(double));
    set->cov = alloc(d * d, sizeof(double));
    set->share = alloc(k, sizeof(double));
    set->mean_probs = alloc(k, sizeof(double));
    if (!set->sqnorm || !set->radius2 || !set->mean || !set->cov || !set->share || !set->mean_probs)
        return GANTRY_OUT_OF_MEMORY;
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(features[i]))
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "eval: feature %zu of image %zu is not finite", i % d,
                                    i / d);
    for (size_t i = 0; i < n; i++) {
        double sq = 0.0;
        for (size_t a = 0; a < d; a++)
            sq += (double)features[i * d + a] * features[i * d + a];
        set->sqnorm[i] = sq;
    }
    GANTRY_TRY(moments(features, n, d, set->mean, set->cov));
    class_statistics(set, probs, labels);
    GANTRY_TRY(gantry_tensor_new(set->be, &set->features, n, d, 0, 0));
    GANTRY_TRY(gantry_tensor_write(set->features, features, n * d));
    return pairwise_blocks(set->features, set->features, radius_block, set);
}

gantry_status gantry_eval_set_create(gantry_backend *be, const float *features, const float *probs,
                                     const uint8_t *labels, size_t n, size_t dim, size_t classes,
                                     gantry_eval_set **out)
{
    if (!be || !features || !probs || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "eval_set_create: NULL argument");
    *out = NULL;
    if (n < GANTRY_EVAL_K + 1 || dim == 0 || classes == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "eval: %zu images of %zu features in %zu classes (at least %d images, the k of "
                                "precision and recall plus one)",
                                n, dim, classes, GANTRY_EVAL_K + 1);
    gantry_eval_set *set = alloc(1, sizeof *set);
    if (!set)
        return GANTRY_OUT_OF_MEMORY;
    set->be = be;
    set->n = n;
    set->dim = dim;
    set->classes = classes;
    gantry_status s = set_fill(set, features, probs, labels);
    if (s) {
        gantry_eval_set_destroy(set);
        return s;
    }
    *out = set;
    return GANTRY_OK;
}

void gantry_eval_set_destroy(gantry_eval_set *set)
{
    if (!set)
        return;
    gantry_tensor_destroy(set->features);
    free(set->sqnorm);
    free(set->radius2);
    free(set->mean);
    free(set->cov);
    free(set->share);
    free(set->mean_probs);
    free(set);
}

/* One pass over fake x real products: each fake row inside some real ball
 * (precision), each real column inside some fake ball (recall). */
struct manifold_pass {
    const gantry_eval_set *real, *fake;
    unsigned char *fake_in, *real_in;
};

static void manifold_block(size_t first, size_t m, const float *block, void *user)
{
    struct manifold_pass *p = user;
    size_t nr = p->real->n;
    for (size_t r = 0; r < m; r++) {
        size_t i = first + r;
        const double fake_r2 = p->fake->radius2[i];
        for (size_t j = 0; j < nr; j++) {
            double d = dist2(p->fake->sqnorm, i, p->real->sqnorm, j, block[r * nr + j]);
            if (d <= p->real->radius2[j])
                p->fake_in[i] = 1;
            if (d <= fake_r2)
                p->real_in[j] = 1;
        }
    }
}

gantry_status gantry_eval_compare(const gantry_eval_set *real, const gantry_eval_set *fake, gantry_eval_metrics *out)
{
    if (!real || !fake || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "eval_compare: NULL argument");
    if (real->dim != fake->dim || real->classes != fake->classes || real->be != fake->be)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "eval: real features %zu x %zu classes, generated %zu x %zu (or two backends)",
                                real->dim, real->classes, fake->dim, fake->classes);
    memset(out, 0, sizeof *out);
    out->n_real = real->n;
    out->n_fake = fake->n;
    out->dim = real->dim;
    out->classes = real->classes;
    GANTRY_TRY(gantry_frechet_distance(real->mean, real->cov, fake->mean, fake->cov, real->dim, &out->fd));
    out->is = fake->is;
    for (size_t j = 0; j < real->classes; j++) {
        double pr = real->share[j], pf = fake->share[j];
        if (pr > 0.0 && pf >= GANTRY_EVAL_COVER_SHARE * pr)
            out->covered++;
        /* A class the real images lack counts as half an image of them. */
        double q = pr > 0.0 ? pr : 0.5 / (double)real->n;
        if (pf > 0.0)
            out->class_kl += pf * log(pf / q);
    }
    struct manifold_pass p = { real, fake, alloc(fake->n, 1), alloc(real->n, 1) };
    gantry_status s = p.fake_in && p.real_in ? GANTRY_OK : GANTRY_OUT_OF_MEMORY;
    if (!s)
        s = pairwise_blocks(fake->features, real->features, manifold_block, &p);
    if (!s) {
        size_t in_f = 0, in_r = 0;
        for (size_t i = 0; i < fake->n; i++)
            in_f += p.fake_in[i];
        for (size_t j = 0; j < real->n; j++)
            in_r += p.real_in[j];
        out->precision = (double)in_f / (double)fake->n;
        out->recall = (double)in_r / (double)real->n;
    }
    free(p.fake_in);
    free(p.real_in);
    return s;
}
