/* gantry: the opencl backend, internal interfaces.
 *
 * Files, one per op family (GANTRY_BACKEND_OPS in gantry/backend.h) as in
 * cl/, whose kernels they launch:
 *   opencl.c       the module table, probe/describe, device choice, create/destroy,
 *                  the program source for offline compilers (gantry_opencl.h)
 *   ocl_error.c    OpenCL and CLBlast status names, their gantry status, messages
 *   ocl_program.c  kernel sources (embedded or GANTRY_CL_DIR), build options, the
 *                  on-disk program binary cache, offline binaries, kernel objects
 *   ocl_launch.c   every kernel launch (work-group checks, slices), the launch
 *                  shapes and the two-stage reductions the families share
 *   memory.c       buffers, the scratch buffer, synchronize
 *   gemm.c         GEMM: CLBlast, or our own kernels (cl/gemm.cl) where faster
 *   elementwise.c  fill, bias, activations, add/mul/scale/axpy/clamp, sum and mean
 *   norm.c         batch norm (batch, running and frozen statistics), virtual batch norm
 *   loss.c         binary cross-entropy, regression, softmax cross-entropy, log-sum-exp
 *   optim.c        SGD, Adam, RMSprop updates
 *   random.c       Philox uniform and normal fills, dropout masks
 *   conv.c         im2col, col2im, swap_axes, copy_rows
 *   minibatch.c    minibatch discrimination
 *
 * One instance owns one context, one device and one in-order queue.  Buffers
 * are cl_mem objects; a gantry_mem offset (in floats) travels to the kernels
 * as an argument, never as a sub-buffer.  Ops enqueue and return; only
 * buffer_read (and the blocking buffer_write) and synchronize wait.
 *
 * Not thread-safe: ops of one instance share kernel objects (clSetKernelArg)
 * and must not run concurrently, as with every gantry backend instance. */
#ifndef GANTRY_OCL_IMPL_H
#define GANTRY_OCL_IMPL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "gantry/backend.h"
#include "ocl_cache.h"

#define OCL_NAME "opencl"

/* Every kernel of cl/FAMILY.cl.  The second field says which GEMM path
 * needs it: 0 = always, 1 = only our own GEMM.  The third is 1 for the
 * kernels that stride over their whole grid (get_global_size,
 * get_num_groups): ocl_launch never cuts their launches into slices, so
 * their callers keep the grid within the device's limits (c->max_groups).
 * Every other kernel indexes by get_global_id alone (a group-per-row kernel
 * by get_global_id(0) / WG), so a launch may be cut along any dimension
 * with global offsets.  By family, in program order; the GEMM kernels come
 * last (they are launched with their own work-group size; opencl.c relies
 * on the order). */
#define OCL_KERNEL_LIST(X)                                                                              \
    /* cl/common.cl */                                                                                 \
    X(gantry_config, 0, 1)                                                                             \
    /* cl/elementwise.cl */                                                                            \
    X(ew_add, 0, 0)                                                                                    \
    X(ew_mul, 0, 0)                                                                                    \
    X(ew_scale, 0, 0)                                                                                  \
    X(ew_axpy, 0, 0)                                                                                   \
    X(ew_clamp, 0, 0)                                                                                  \
    X(act_forward, 0, 0)                                                                               \
    X(act_backward, 0, 0)                                                                              \
    X(bias_add, 0, 0)                                                                                  \
    X(bias_grad, 0, 0)                                                                                 \
    X(bias_grad_rows, 0, 0)                                                                            \
    X(sum_partial, 0, 1)                                                                               \
    X(reduce_final, 0, 1)                                                                              \
    /* cl/norm.cl */                                                                                   \
    X(bn_forward_train, 0, 0)                                                                          \
    X(bn_forward_eval, 0, 0)                                                                           \
    X(bn_backward, 0, 0)                                                                               \
    X(bn_forward_train_rows, 0, 0)                                                                     \
    X(bn_backward_rows, 0, 0)                                                                          \
    X(bn_forward_train_groups, 0, 0)                                                                   \
    X(bn_backward_groups, 0, 0)                                                                        \
    X(bn_forward_frozen, 0, 0)                                                                         \
    X(bn_backward_frozen, 0, 0)                                                                        \
    X(vbn_forward, 0, 0)                                                                               \
    X(vbn_forward_items, 0, 0)                                                                         \
    X(vbn_backward, 0, 0)                                                                              \
    X(vbn_backward_channels, 0, 0)                                                                     \
    /* cl/loss.cl */                                                                                   \
    X(bce_forward_partial, 0, 1)                                                                       \
    X(bce_backward, 0, 0)                                                                              \
    X(regression_partial, 0, 1)                                                                        \
    X(regression_backward, 0, 0)                                                                       \
    X(softmax_ce_forward, 0, 1)                                                                        \
    X(softmax_ce_backward, 0, 0)                                                                       \
    X(logsumexp_forward, 0, 0)                                                                         \
    X(logsumexp_backward, 0, 0)                                                                        \
    /* cl/optim.cl */                                                                                  \
    X(sgd_update, 0, 0)                                                                                \
    X(adam_update, 0, 0)                                                                               \
    X(rmsprop_update, 0, 0)                                                                            \
    /* cl/random.cl */                                                                                 \
    X(rand_uniform, 0, 0)                                                                              \
    X(rand_normal, 0, 0)                                                                               \
    X(dropout_mask, 0, 0)                                                                              \
    /* cl/conv.cl */                                                                                   \
    X(im2col, 0, 0)                                                                                    \
    X(col2im, 0, 0)                                                                                    \
    X(swap_axes, 0, 0)                                                                                 \
    X(copy_rows, 0, 0)                                                                                 \
    /* cl/minibatch.cl */                                                                              \
    X(mbd_forward, 0, 0)                                                                               \
    X(mbd_weights, 0, 0)                                                                               \
    X(mbd_backward, 0, 0)                                                                              \
    /* cl/gemm.cl */                                                                                   \
    X(gemm_nn, 1, 0)                                                                                   \
    X(gemm_tn, 1, 0)                                                                                   \
    X(gemm_nt, 1, 0)                                                                                   \
    X(gemm_el_nn, 1, 0)                                                                                \
    X(gemm_el_tn, 1, 0)                                                                                \
    X(gemm_el_tt, 1, 0)                                                                                \
    X(transpose, 1, 0)

typedef enum ocl_kernel_id {
#define OCL_X_ENUM(name, gemm_only, whole) OCL_K_##name,
    OCL_KERNEL_LIST(OCL_X_ENUM)
#undef OCL_X_ENUM
    OCL_K_COUNT
} ocl_kernel_id;

extern const char *const ocl_kernel_names[OCL_K_COUNT];
/* The third field of OCL_KERNEL_LIST: launched whole, never in slices. */
extern const unsigned char ocl_kernel_whole[OCL_K_COUNT];

typedef enum ocl_gemm_path {
    OCL_GEMM_AUTO = 0, /* own kernels on CPU devices, CLBlast elsewhere */
    OCL_GEMM_OWN = 1,
    OCL_GEMM_CLBLAST = 2,
} ocl_gemm_path;

/* What the device selector string says: "P:D" or a name substring, plus
 * comma-separated key=value settings (gemm=own|clblast|auto, wg=N, vw=N). */
typedef struct ocl_selector {
    char match[256]; /* "" = the default device */
    ocl_gemm_path gemm;
    int gemm_set;    /* gemm= was given */
    int wg, vw;      /* 0 = per device type */
    int nt;          /* B^T with our GEMM: 0 auto, 1 dot-product kernel, 2 transpose first */
    int profile;     /* kernel shapes: 0 by device type, OCL_PROFILE_GPU, _CPU, _ACCELERATOR */
    /* Limits tighter than the device's, to run on a forgiving device (PoCL)
     * the launches a strict one would refuse: maxwg=N caps the work-group
     * size, maxdim=N the work-items per dimension of one launch; 0 = the
     * device's own. */
    size_t max_wg, max_dim;
} ocl_selector;

#define OCL_PROFILE_GPU 1
#define OCL_PROFILE_CPU 2
#define OCL_PROFILE_ACCELERATOR 3

/* Work-groups per dimension of one launch: CUDA's grid limit in y and z,
 * which NVIDIA's OpenCL inherits; x allows more there, but one rule for
 * every dimension and device is simpler and costs a launch per 65535
 * groups.  ocl_launch cuts larger launches into slices. */
#define OCL_MAX_GROUPS_PER_DIM 65535u

/* The device's properties that choose tunables and name it in messages. */
typedef struct ocl_device_info {
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    unsigned platform_index, device_index;
    char platform_name[256], platform_version[256];
    char name[256], version[256], driver[256], c_version[256], vendor[256];
    cl_uint compute_units;
    cl_ulong global_mem, max_alloc, local_mem;
    size_t max_wg;
    size_t max_item[3];   /* CL_DEVICE_MAX_WORK_ITEM_SIZES: a work-group's extent per dimension */
    /* Work-items per dimension of one launch: 0, no limit but the
     * work-group count (OCL_MAX_GROUPS_PER_DIM); maxdim= sets one. */
    size_t max_global;
    int correct_div_sqrt; /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT for float */
} ocl_device_info;

typedef struct ocl_ctx {
    const gantry_host *host;
    ocl_device_info dev;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[OCL_K_COUNT];

    /* tunables, passed to the kernels as -D options */
    int gpu_shaped;     /* kernel shapes and GEMM path of a GPU (its type, or profile=gpu) */
    size_t wg;          /* 1-D work-group size, a power of two */
    size_t vw;          /* vector width of the elementwise kernels: 1, 2, 4, 8, 16 */
    size_t bn_lx;       /* channels per work-group of the per-channel kernels */
    int bn_rows;        /* per-channel reductions by channel items (CPUs): ocl_use_channel_items */
    size_t max_groups;  /* grid-stride kernels launch at most this many groups */
    size_t gemm_lx;     /* work-group width of our GEMM kernels */
    ocl_gemm_path gemm; /* resolved: OWN or CLBLAST */
    int nt_transpose;   /* own GEMM, B^T: transpose B, then the row kernel */
    char build_options[512];

    /* CL_KERNEL_WORK_GROUP_SIZE of each kernel created (0: not created) */
    size_t kernel_wg[OCL_K_COUNT];

    /* counters, for tests and debug lines */
    unsigned builds, cache_hits;

    /* device scratch: reduction partials, GEMM transposes, overlapping copies */
    cl_mem partials;
    size_t partials_count; /* float2 entries */
    cl_mem scratch;
    size_t scratch_bytes;
    size_t allocated;      /* bytes of live buffers, checked against global memory */
    int clblast_used;
} ocl_ctx;

/* ---- errors (ocl_error.c) ---------------------------------------------- */

const char *ocl_cl_error_name(cl_int err);
const char *ocl_clblast_error_name(int status);
gantry_status ocl_status_of_cl(cl_int err);
gantry_status ocl_status_of_clblast(int status);
/* "opencl: OP on 'DEVICE': WHAT failed: CL_NAME (code)"; returns the status. */
gantry_status ocl_fail(const ocl_ctx *c, cl_int err, const char *op, const char *what);
gantry_status ocl_fail_clblast(const ocl_ctx *c, int status, const char *op, const char *what);
/* A message without an OpenCL code. */
gantry_status ocl_error(const gantry_host *host, gantry_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void ocl_log(const gantry_host *host, gantry_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- programs (ocl_program.c) ------------------------------------------ */

/* One cl/<family>.cl file as the generator (tools/embed_cl.py) embeds it: its
 * lines, each with its newline, the first a `#line 1 "NAME"` directive so
 * that build logs name the file. */
typedef struct ocl_source_file {
    const char *name;
    const char *const *lines;
    size_t count;
} ocl_source_file;

/* The generated ocl_kernels.c: every kernel file, in program order. */
extern const ocl_source_file ocl_embedded_sources[];
extern const size_t ocl_embedded_source_count;

/* Builds (or loads from the cache, or from opts->kernel_binary) the program
 * and creates every kernel the chosen GEMM path needs. */
gantry_status ocl_program_init(ocl_ctx *c, const gantry_backend_options *opts);
void ocl_program_release(ocl_ctx *c);

/* The source ocl_program_init builds from (embedded, or opts->kernel_dir:
 * GANTRY_CL_DIR): every cl/ file in program order, each headed by its
 * `#line 1 "NAME"` directive, as one malloc'd text (*size without the
 * terminating NUL).  For offline compilers (gantry_opencl.h). */
gantry_status ocl_program_text(ocl_ctx *c, const gantry_backend_options *opts, char **text, size_t *size);

/* ---- kernel launches (ocl_launch.c) ------------------------------------- */

/* One kernel argument: clSetKernelArg's size and value pointer. */
typedef struct ocl_arg {
    size_t size;
    const void *ptr;
} ocl_arg;

/* The ocl_arg of a variable (which must outlive the launch call). */
#define OCL_ARG(x) ((ocl_arg){ sizeof(x), &(x) })
/* The number of entries of an ocl_arg array. */
#define OCL_ARG_COUNT(args) (sizeof(args) / sizeof *(args))

/* A gantry_mem as the two arguments every kernel takes for it: the buffer
 * and the offset in floats (views travel as offsets, never as
 * sub-buffers). */
typedef struct ocl_mem_arg {
    cl_mem buf;
    cl_ulong offset;
} ocl_mem_arg;

static inline ocl_mem_arg ocl_mem_arg_of(gantry_mem m)
{
    ocl_mem_arg a = { (cl_mem)m.buf, (cl_ulong)m.offset };
    return a;
}

/* The two ocl_args of an ocl_mem_arg variable. */
#define OCL_MEM_ARGS(m) OCL_ARG((m).buf), OCL_ARG((m).offset)

/* Sets the arguments and enqueues kernel `k` over `dims` dimensions with
 * work-groups of `local` (required).  Refuses, with GANTRY_INTERNAL, a
 * work-group beyond the kernel's or the device's limits; cuts a launch
 * whose global size exceeds a dimension's limit into slices with global
 * offsets (never a kernel marked whole in OCL_KERNEL_LIST, which it refuses
 * instead). */
gantry_status ocl_launch(ocl_ctx *c, const char *op, ocl_kernel_id k, cl_uint dims, const size_t *global,
                         const size_t *local, size_t nargs, const ocl_arg *args);
/* A 1-D launch of `items` work-items (rounded up to whole groups of WG). */
gantry_status ocl_launch_1d(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items, size_t nargs,
                            const ocl_arg *args);
/* Work-items of an elementwise kernel over n floats: one per vector of VW,
 * then one per element of the n % VW tail. */
size_t ocl_vector_items(const ocl_ctx *c, size_t n);
/* An element per work-item of `rows` rows of `cols` floats: dimension 0
 * the columns (groups of WG, coalesced), dimension 1 the rows. */
gantry_status ocl_launch_rows(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t cols, size_t nargs,
                              const ocl_arg *args);
/* One group of BN_LX x BN_LY work-items per BN_LX channels. */
gantry_status ocl_launch_channels(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t nargs,
                                  const ocl_arg *args);
/* The per-channel reductions (bias_grad, batch norm) of CPU devices take
 * the channel-items kernels (*_rows: a work-item walks whole channels) for
 * [outer, channels] with whole vectors of channels and for [outer,
 * channels, inner > 1] with a channel per work-item; everything else the
 * per-channel groups. */
int ocl_use_channel_items(const ocl_ctx *c, size_t channels, size_t inner);
/* Launches a channel-items kernel: inner == 1, a work-item per VW channels
 * in groups of WG; inner > 1, a work-item per channel in groups of one, so
 * that the few channels (64-128 in DCGAN) spread over every core of the
 * CPU. */
gantry_status ocl_launch_channel_items(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t inner,
                                       size_t nargs, const ocl_arg *args);
/* One group of WG per row. */
gantry_status ocl_launch_row_groups(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t nargs,
                                    const ocl_arg *args);
size_t ocl_round_up(size_t x, size_t to);
size_t ocl_div_up(size_t x, size_t d);

/* Two-stage sums (sum, mean and the losses) through one path: stage 1,
 * kernel `k` (grid-stride, compensated), over `groups` groups of WG with
 * its own `nargs` leading arguments, then (partials, out, divisor); a
 * single group writes out[0] = total / divisor itself, more leave a float2
 * partial each in c->partials for stage 2, reduce_final, to add and write. */
#define OCL_REDUCE_MAX_ARGS 12
gantry_status ocl_reduce(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t groups, size_t nargs,
                         const ocl_arg *args, gantry_mem out, float divisor);
/* Stage-1 groups for `work` units (groups of WG elements, or rows): at
 * most max_groups (the grid stays within the device's limits: these
 * kernels are never sliced) and one partial each. */
size_t ocl_reduction_groups(const ocl_ctx *c, size_t work);

/* ---- memory (memory.c) -------------------------------------------------- */

/* A device scratch buffer of at least `bytes` (grown, never shrunk):
 * overlapping copies, GEMM transposes, the per-pair sums of virtual batch
 * norm, the weights of minibatch discrimination. */
gantry_status ocl_scratch(ocl_ctx *c, const char *op, size_t bytes, cl_mem *out);

/* ---- GEMM (gemm.c) ------------------------------------------------------- */

/* One line on whether CLBlast's built-in database has GEMM parameters for
 * this device (or its architecture), or runs defaults. */
void ocl_clblast_tuning(const ocl_device_info *dev, char *buf, size_t size);

/* ---- the ops: one file per family ---------------------------------------- */

/* ocl_METHOD for every method of the backend ABI, in its family's file
 * (memory.c, gemm.c, elementwise.c, ...); the table in opencl.c is made
 * from the same list. */
#define OCL_DECLARE_METHOD(name, family) extern GANTRY_BACKEND_METHOD_TYPE(name) ocl_##name;
GANTRY_BACKEND_OPS(OCL_DECLARE_METHOD)
#undef OCL_DECLARE_METHOD

#endif
