/* gantry reference backend: what its files share.
 *
 * The oracle every other backend is compared against: host memory, one
 * thread, plain loops that follow the formulas in gantry/backend.h line by
 * line.  Every sum (GEMM dot products, reductions, batch-norm statistics,
 * bias gradients, losses) is accumulated in double, and the per-element
 * arithmetic of the non-trivial ops is done in double and rounded to float
 * once when stored.  Nothing here is fast; everything here should be
 * obviously right.
 *
 * Buffers are malloc'd blocks of floats; a gantry_mem addresses
 * `(float *)buf + offset`.  Every elementwise loop reads all inputs of index
 * i before writing index i, so the in-place forms the ABI allows (y == x,
 * dx == dy, ...) are safe; the per-channel ops finish their reductions over
 * a channel before writing any output of that channel.
 *
 * One file per op family of GANTRY_BACKEND_OPS (gantry/backend.h):
 *   reference.c    the module entry, instances and the table
 *   memory.c       buffers (the rest of the family is ../host_memory.h)
 *   gemm.c         matrix products
 *   elementwise.c  fill, bias, activations, arithmetic, clamp, sum and mean
 *   norm.c         batch norm (batch, running and given statistics) and
 *                  virtual batch norm
 *   loss.c         BCE with logits, MSE / L1, softmax cross-entropy,
 *                  logsumexp
 *   optim.c        SGD, Adam, RMSProp
 *   random.c       Philox fills and dropout masks
 *   conv.c         im2col, col2im and the reshuffles around them
 *   minibatch.c    minibatch discrimination */
#ifndef GANTRY_REFERENCE_IMPL_H
#define GANTRY_REFERENCE_IMPL_H

#include "gantry/backend.h"

#include "../host_memory.h"

#define REF_NAME "reference"

typedef struct ref_ctx {
    const gantry_host *host; /* may be NULL when created without options */
} ref_ctx;

/* Reports through the host when there is one; always returns `status`. */
gantry_status ref_error(const gantry_host *host, gantry_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static inline float *ref_f(gantry_mem m)
{
    return (float *)m.buf + m.offset;
}

static inline const float *ref_cf(gantry_mem m)
{
    return (const float *)m.buf + m.offset;
}

/* ---- the ops: ref_METHOD for every method of GANTRY_BACKEND_OPS --------- */

/* Buffers are plain host memory: every memory method but buffer_alloc is
 * the one the host backends share. */
#define ref_buffer_free host_buffer_free
#define ref_buffer_write host_buffer_write
#define ref_buffer_read host_buffer_read
#define ref_buffer_copy host_buffer_copy
#define ref_synchronize host_synchronize

#define REF_DECLARE(name, family) extern GANTRY_BACKEND_METHOD_TYPE(name) ref_##name;
GANTRY_BACKEND_OPS(REF_DECLARE)
#undef REF_DECLARE

#endif
