/* The sample-quality metrics of include/gantry/eval.h on .npy files, for an
 * independent check against numpy/scipy (tests/python/eval_scipy.py).
 *
 *   eval_npy REAL_FEATURES.npy REAL_PROBS.npy FAKE_FEATURES.npy FAKE_PROBS.npy [BACKEND]
 *       features [n, dim], probabilities [n, classes], float32; prints one
 *       JSON object with every field of gantry_eval_metrics (gantry_eval_compare)
 *   eval_npy --fd MU1.npy COV1.npy MU2.npy COV2.npy
 *       mean [dim], covariance [dim, dim], float32 (converted to double);
 *       prints {"fd": ...} (gantry_frechet_distance)
 *
 * Numbers are printed with %.17g.  On an error: the library's message on
 * stderr, exit status 1; a usage error: exit status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/eval.h"
#include "gantry/io.h"
#include "gantry/status.h"
#include "gantry/tensor.h"

typedef struct array {
    float *data;
    int ndim;
    size_t shape[4];
} array;

static int fail(const char *what, gantry_status s)
{
    const char *msg = gantry_last_error();
    if (msg && *msg && strncmp(msg, what, strlen(what)) == 0) /* the message names the file already */
        fprintf(stderr, "eval_npy: %s\n", msg);
    else
        fprintf(stderr, "eval_npy: %s: %s\n", what, msg && *msg ? msg : gantry_strerror(s));
    return 1;
}

/* Reads `path` and checks it has `ndim` dimensions; 0 on success. */
static int read_array(const char *path, int ndim, array *a)
{
    gantry_status s = gantry_npy_read(path, &a->data, &a->ndim, a->shape);
    if (s != GANTRY_OK)
        return fail(path, s);
    if (a->ndim != ndim) {
        fprintf(stderr, "eval_npy: %s: %d dimensions, expected %d\n", path, a->ndim, ndim);
        return 1;
    }
    return 0;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d)
        for (size_t i = 0; i < n; i++)
            d[i] = x[i];
    return d;
}

static int run_fd(char **paths)
{
    array a[4];
    memset(a, 0, sizeof a);
    int rc = 1;
    double *mu1 = NULL, *cov1 = NULL, *mu2 = NULL, *cov2 = NULL;
    for (int i = 0; i < 4; i++)
        if (read_array(paths[i], i % 2 == 0 ? 1 : 2, &a[i]))
            goto done;
    size_t dim = a[0].shape[0];
    for (int i = 1; i < 4; i++) {
        if (a[i].shape[0] != dim || (i % 2 == 1 && a[i].shape[1] != dim)) {
            fprintf(stderr, "eval_npy: %s: shape does not fit dim %zu\n", paths[i], dim);
            goto done;
        }
    }
    mu1 = to_double(a[0].data, dim);
    cov1 = to_double(a[1].data, dim * dim);
    mu2 = to_double(a[2].data, dim);
    cov2 = to_double(a[3].data, dim * dim);
    if (!mu1 || !cov1 || !mu2 || !cov2) {
        fprintf(stderr, "eval_npy: out of memory\n");
        goto done;
    }
    double fd = 0;
    gantry_status s = gantry_frechet_distance(mu1, cov1, mu2, cov2, dim, &fd);
    if (s != GANTRY_OK) {
        fail("gantry_frechet_distance", s);
        goto done;
    }
    printf("{\"fd\": %.17g}\n", fd);
    rc = 0;
done:
    free(mu1);
    free(cov1);
    free(mu2);
    free(cov2);
    for (int i = 0; i < 4; i++)
        free(a[i].data);
    return rc;
}

static int run_compare(char **paths, const char *backend)
{
    array a[4];
    memset(a, 0, sizeof a);
    int rc = 1;
    gantry_backend *be = NULL;
    gantry_eval_set *real = NULL, *fake = NULL;
    gantry_status s;
    for (int i = 0; i < 4; i++)
        if (read_array(paths[i], 2, &a[i]))
            goto done;
    size_t dim = a[0].shape[1], classes = a[1].shape[1];
    if (a[1].shape[0] != a[0].shape[0] || a[3].shape[0] != a[2].shape[0] || a[2].shape[1] != dim ||
        a[3].shape[1] != classes) {
        fprintf(stderr, "eval_npy: shapes do not fit: real %zux%zu / %zux%zu, fake %zux%zu / %zux%zu\n",
                a[0].shape[0], a[0].shape[1], a[1].shape[0], a[1].shape[1], a[2].shape[0], a[2].shape[1],
                a[3].shape[0], a[3].shape[1]);
        goto done;
    }
    if ((s = gantry_backend_open(backend, NULL, &be)) != GANTRY_OK) {
        fail(backend, s);
        goto done;
    }
    if ((s = gantry_eval_set_create(be, a[0].data, a[1].data, NULL, a[0].shape[0], dim, classes, &real)) !=
        GANTRY_OK) {
        fail("real set", s);
        goto done;
    }
    if ((s = gantry_eval_set_create(be, a[2].data, a[3].data, NULL, a[2].shape[0], dim, classes, &fake)) !=
        GANTRY_OK) {
        fail("fake set", s);
        goto done;
    }
    gantry_eval_metrics m;
    memset(&m, 0, sizeof m);
    if ((s = gantry_eval_compare(real, fake, &m)) != GANTRY_OK) {
        fail("gantry_eval_compare", s);
        goto done;
    }
    printf("{\"backend\": \"%s\", \"fd\": %.17g, \"is\": %.17g, \"covered\": %zu, \"class_kl\": %.17g, "
           "\"precision\": %.17g, \"recall\": %.17g, \"n_real\": %zu, \"n_fake\": %zu, \"dim\": %zu, "
           "\"classes\": %zu}\n",
           gantry_backend_name(be), m.fd, m.is, m.covered, m.class_kl, m.precision, m.recall, m.n_real, m.n_fake,
           m.dim, m.classes);
    rc = 0;
done:
    gantry_eval_set_destroy(real);
    gantry_eval_set_destroy(fake);
    if (be)
        gantry_backend_close(be);
    for (int i = 0; i < 4; i++)
        free(a[i].data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--fd") == 0)
        return run_fd(argv + 2);
    if ((argc == 5 || argc == 6) && argv[1][0] != '-')
        return run_compare(argv + 1, argc == 6 ? argv[5] : "cpu");
    fprintf(stderr, "usage: eval_npy REAL_FEATURES.npy REAL_PROBS.npy FAKE_FEATURES.npy FAKE_PROBS.npy [BACKEND]\n"
                    "       eval_npy --fd MU1.npy COV1.npy MU2.npy COV2.npy\n");
    return 2;
}
