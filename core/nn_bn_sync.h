/* Internal: batch norm whose statistics are those of every process of a
 * data-parallel job (gantry_seq_set_batchnorm_sync), as PyTorch's
 * SyncBatchNorm.  The same arguments as the batch norm ops they replace. */
#ifndef GANTRY_NN_BN_SYNC_H
#define GANTRY_NN_BN_SYNC_H

#include "gantry/nn.h"

typedef struct gantry__bn_sync {
    gantry_stats_reduce reduce; /* NULL: this process's own statistics */
    void *user;
    /* Host scratch, kept between passes (gantry__bn_sync_free releases it). */
    float *host;
    double *sums;
    size_t host_cap, sums_cap;
} gantry__bn_sync;

void gantry__bn_sync_free(gantry__bn_sync *sync);

/* As gantry_op_batchnorm_forward_train with the mean and variance over
 * every process's rows. */
gantry_status gantry__bn_sync_forward(gantry__bn_sync *sync, const gantry_tensor *x, gantry_tensor *y,
                                      const gantry_tensor *gamma, const gantry_tensor *beta,
                                      gantry_tensor *running_mean, gantry_tensor *running_var,
                                      gantry_tensor *save_mean, gantry_tensor *save_invstd, float momentum, float eps);
/* As gantry_op_batchnorm_backward for those statistics: dx through the
 * statistics of every row; dgamma and dbeta from this process's rows (the
 * gradient exchange averages them like every other parameter's).  The
 * scratch tensors [C] hold this process's sums. */
gantry_status gantry__bn_sync_backward(gantry__bn_sync *sync, const gantry_tensor *x, const gantry_tensor *dy,
                                       const gantry_tensor *gamma, const gantry_tensor *mean,
                                       const gantry_tensor *invstd, gantry_tensor *dx, gantry_tensor *dgamma,
                                       gantry_tensor *dbeta, gantry_tensor *scratch_dgamma,
                                       gantry_tensor *scratch_dbeta, int accumulate);

#endif
