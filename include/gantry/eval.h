/* gantry: sample quality as numbers.
 *
 * The feature network is a classifier that gantry trains itself on a
 * labelled data set (Fashion-MNIST, class folders, CIFAR-10): a small CNN
 * built from the library's layers,
 *   0 Conv2d(C, 32, 4, 2, 1)   1 BatchNorm2d(32)   2 LeakyReLU(0.2)
 *   3 Conv2d(32, 64, 4, 2, 1)  4 BatchNorm2d(64)   5 LeakyReLU(0.2)
 *   6 Conv2d(64, 128, 3, 1, 1) 7 BatchNorm2d(128)  8 LeakyReLU(0.2)
 *   9 Flatten  10 Linear(128*H/4*W/4, 256)  11 BatchNorm1d(256)
 *   12 LeakyReLU(0.2)  13 Dropout(0.3)  14 Linear(256, K)
 * (H and W multiples of 4), saved as safetensors with the state_dict names
 * of that torch.nn.Sequential.  Its features are layer 12's output (256
 * values, the penultimate layer), its class probabilities the softmax of
 * layer 14's, both in evaluation mode (running statistics, no dropout).
 *
 * Metrics of generated images against real ones, on those features:
 *   fd          the Fréchet distance between Gaussians fitted to the two
 *               feature sets (the FID convention with this network's
 *               features): |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^1/2),
 *               covariances with n - 1; the trace of the square root from
 *               symmetric eigen-decompositions in double (LAPACK's dsyevd):
 *               tr sqrt(A^1/2 S_g A^1/2) with A = S_r
 *   is          the Inception Score analogue: exp(E_x KL(p(y|x) || p(y)))
 *               over the generated images (1 to K)
 *   covered     classes that hold at least GANTRY_EVAL_COVER_SHARE of their
 *               share of the real images among the generated images'
 *               argmax classes
 *   class_kl    KL(generated argmax distribution || real class distribution)
 *               in nats (0: the same proportions; ln K: one class only); a
 *               class the real images lack counts as half an image of them
 *               (the real distribution: their labels where given, else the
 *               classifier's argmax)
 *   precision, recall   Kynkäänniemi et al. 2019 with k = 3: the fraction of
 *               generated images inside the real manifold (the union of
 *               balls around each real feature vector reaching its 3rd
 *               nearest real neighbour), and of real ones inside the
 *               generated manifold; pairwise distances through the
 *               backend's GEMM. */
#ifndef GANTRY_EVAL_H
#define GANTRY_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/io.h"
#include "gantry/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the feature network ---------------------------------------------------------------- */

typedef struct gantry_classifier_config {
    size_t channels, height, width; /* image shape: 1 x 28 x 28 (H, W multiples of 4) */
    size_t classes;                 /* 10 */
    size_t batch;                   /* 64 */
    float lr, beta1, beta2;         /* Adam 1e-3, 0.9, 0.999 (gantry train: the last quarter of
                                       the epochs at lr / 10, gantry_classifier_set_lr) */
    float dropout;                  /* 0.3 */
    uint64_t seed;                  /* weights, dropout masks */
} gantry_classifier_config;

/* Features per image (layer 12's width). */
#define GANTRY_CLASSIFIER_FEATURES 256

/* The defaults for images of c x h x w in `classes` classes. */
GANTRY_API gantry_classifier_config gantry_classifier_defaults(size_t c, size_t h, size_t w, size_t classes);

typedef struct gantry_classifier gantry_classifier;

/* Builds the network on `be` with weights drawn from config->seed.  The
 * caller owns *out. */
GANTRY_API gantry_status gantry_classifier_create(gantry_backend *be, const gantry_classifier_config *config,
                                                  gantry_classifier **out);
GANTRY_API void gantry_classifier_destroy(gantry_classifier *clf);
GANTRY_API const gantry_classifier_config *gantry_classifier_config_of(const gantry_classifier *clf);
GANTRY_API gantry_backend *gantry_classifier_backend(const gantry_classifier *clf);

/* One Adam step on config->batch images (floats in [-1, 1], as the data
 * loader gives them) and their labels; *loss (may be NULL) is the batch's
 * mean cross-entropy. */
GANTRY_API gantry_status gantry_classifier_train_step(gantry_classifier *clf, const float *images,
                                                      const uint8_t *labels, double *loss);

/* The learning rate of the next steps (a schedule's step; Adam's state is
 * kept). */
GANTRY_API gantry_status gantry_classifier_set_lr(gantry_classifier *clf, float lr);

/* Evaluation mode on n images: features [n, GANTRY_CLASSIFIER_FEATURES] and
 * class probabilities [n, classes]; either may be NULL. */
GANTRY_API gantry_status gantry_classifier_run(gantry_classifier *clf, const float *images, size_t n,
                                               float *features, float *probs);

/* Writes the network (state_dict names) with its configuration as
 * metadata, plus `extra`. */
GANTRY_API gantry_status gantry_classifier_save(gantry_classifier *clf, const char *path,
                                                const gantry_st_meta *extra, size_t extra_count);
/* Reads a file written by gantry_classifier_save.  The caller owns *out. */
GANTRY_API gantry_status gantry_classifier_load(gantry_backend *be, const char *path, gantry_classifier **out);

/* ---- metrics ------------------------------------------------------------------------------ */

/* A class counts as covered when the generated images' argmax puts at
 * least this fraction of the real images' share of it there. */
#define GANTRY_EVAL_COVER_SHARE 0.2
/* The k of precision and recall. */
#define GANTRY_EVAL_K 3

/* One side of a comparison: n feature vectors on a backend with what the
 * metrics need of them (mean, covariance, k-NN radii, class histogram). */
typedef struct gantry_eval_set gantry_eval_set;

/* From features [n, dim] and probabilities [n, classes] on the host (n >=
 * GANTRY_EVAL_K + 1).  labels (may be NULL) give the set's class
 * distribution; without them the probabilities' argmax does.  The caller
 * owns *out. */
GANTRY_API gantry_status gantry_eval_set_create(gantry_backend *be, const float *features, const float *probs,
                                                const uint8_t *labels, size_t n, size_t dim, size_t classes,
                                                gantry_eval_set **out);
GANTRY_API void gantry_eval_set_destroy(gantry_eval_set *set);

typedef struct gantry_eval_metrics {
    size_t n_real, n_fake, dim, classes;
    double fd;
    double is;
    size_t covered;
    double class_kl;
    double precision, recall;
} gantry_eval_metrics;

/* The metrics of `fake` against `real` (both on one backend, same dim and
 * classes). */
GANTRY_API gantry_status gantry_eval_compare(const gantry_eval_set *real, const gantry_eval_set *fake,
                                             gantry_eval_metrics *out);

/* The Fréchet distance of N(mu1, cov1) and N(mu2, cov2), dim x dim row-major
 * symmetric covariances. */
GANTRY_API gantry_status gantry_frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                                                 const double *cov2, size_t dim, double *out);

#ifdef __cplusplus
}
#endif

#endif
