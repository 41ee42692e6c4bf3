/* gantry cpu backend: what its files share.
 *
 * The backend keeps tensors in host memory (64-byte aligned blocks of
 * floats) and runs every op with OpenMP on opts->num_threads threads (all
 * cores when 0).  One file per op family of GANTRY_BACKEND_OPS
 * (gantry/backend.h):
 *   cpu.c          the module entry, the table, instances and threads
 *   memory.c       buffers (the rest of the family is ../host_memory.h)
 *   gemm.c         matrix products: the paths and the thread grid
 *   gemm_kernels.c   and their micro-kernels and packing
 *   elementwise.c  fill, bias, activations, arithmetic, clamp, sum and mean
 *   norm.c         batch norm (batch, running and given statistics) and
 *                  virtual batch norm
 *   loss.c         BCE with logits, MSE / L1, softmax cross-entropy,
 *                  logsumexp
 *   optim.c        SGD, Adam, RMSProp
 *   random.c       Philox fills and dropout masks
 *   conv.c         im2col, col2im, the reshuffles around them, and the
 *                  convolution ops as implicit GEMM (through gemm.c)
 *   minibatch.c    minibatch discrimination
 *
 * Numerics: the reference backend (backends/reference) is the oracle.  Ops
 * whose reference arithmetic is double are computed in double here too, in
 * the same order per output element wherever the parallel split allows, so
 * most ops give the reference's bits; GEMM accumulates in float (FMA) and
 * the whole-tensor reductions (sum, mean, BCE) add double partial sums of
 * fixed chunks.  Every result is independent of the thread count.  Nothing
 * is compiled with -ffast-math, and -std=c11 keeps GCC from contracting
 * a*b+c into FMAs behind our back. */
#ifndef GANTRY_CPU_IMPL_H
#define GANTRY_CPU_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gantry/backend.h"

#include "../host_memory.h"

#define CPU_NAME "cpu"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_X86 1
/* Functions compiled for AVX2/FMA inside a module built for the baseline
 * ISA; called only where cpu_ctx.avx2 says the CPU has them. */
#define CPU_AVX2 __attribute__((target("avx2,fma")))
/* Likewise for AVX-512 (F; the kernels need nothing beyond it but BMI2's
 * pdep, which every AVX-512 CPU has and cpu_isa_best checks). */
#define CPU_AVX512 __attribute__((target("avx512f,avx2,fma,bmi2")))
#else
#define CPU_X86 0
#endif

/* ---- the instance and its threads (cpu.c) ------------------------------- */

typedef enum cpu_gemm_path {
    CPU_GEMM_OWN = 0,      /* our packed kernels (cpu_ctx.kernels) */
    CPU_GEMM_OPENBLAS = 1, /* single-threaded cblas_sgemm calls on blocks fixed by the shape */
} cpu_gemm_path;

/* The instruction sets our GEMM kernels come in.  The AVX2 and AVX-512
 * kernels give the same bits (see gemm_kernels.c); the portable one does
 * not (no fused multiply-add). */
typedef enum cpu_isa {
    CPU_ISA_PORTABLE = 0,
    CPU_ISA_AVX2 = 1,   /* AVX2 and FMA */
    CPU_ISA_AVX512 = 2, /* AVX-512F, AVX2 and FMA */
} cpu_isa;

typedef struct cpu_kernels cpu_kernels;

/* A convolution op's index tables (conv.c), kept for the instance's life:
 * a layer's passes find theirs built by the first step. */
#define CPU_CONV_TABLES 48
typedef struct cpu_conv_tables {
    int op; /* which op's tables (conv.c) */
    size_t o;
    gantry_conv_geometry g;
    int32_t *mem;
} cpu_conv_tables;

typedef struct cpu_ctx {
    const gantry_host *host; /* may be NULL when created without options */
    int threads;             /* >= 1 */
    int avx2;                /* the CPU has AVX2 and FMA */
    cpu_gemm_path gemm_path;
    const cpu_kernels *kernels; /* the own path's kernels */
    float *pack;             /* threads * pack_stride floats, 64-byte aligned */
    size_t pack_stride;      /* per thread: CPU_MC*CPU_KC of A, then CPU_KC*CPU_NC of B */
    /* Held by a product while it uses `pack`: two host threads sharing an
     * instance take turns instead of packing into the same buffers.  (The
     * other ops keep no state in the instance.) */
    pthread_mutex_t gemm_lock;
    /* Contention back-off (see cpu_note_stall): until this CLOCK_MONOTONIC
     * time in ns every op runs on one thread; 0 when not backing off.
     * Read and written with relaxed __atomic builtins. */
    int64_t solo_until_ns;
    /* The current contention window (see cpu_note_stall): the slowest
     * thread's time off the CPU and the wall time, summed over products. */
    int64_t window_stall_ns, window_wall_ns;
    /* Built tables, never changed or freed while the instance lives (a
     * lookup hands out the pointer); the lock guards the list. */
    pthread_mutex_t conv_lock;
    cpu_conv_tables conv_tables[CPU_CONV_TABLES];
    size_t conv_table_count;
} cpu_ctx;

static inline float *cpu_f(gantry_mem m)
{
    return (float *)m.buf + m.offset;
}

static inline const float *cpu_cf(gantry_mem m)
{
    return (const float *)m.buf + m.offset;
}

/* Nonzero while the instance backs off to one thread after its threads
 * were seen stalled (another process busy on our cores). */
int cpu_solo(const cpu_ctx *c);
/* CLOCK_MONOTONIC and this thread's CPU time, in ns. */
int64_t cpu_now_ns(void);
int64_t cpu_thread_cpu_ns(void);
/* Called after a parallel region with the largest time any of its threads
 * spent not running (waiting to be woken or scheduled, or preempted) and the
 * region's wall time: when that adds up to over a quarter of the recent
 * regions' time, the cores are oversubscribed and a fork-join region pays
 * for it at every barrier, so the instance runs ops on one thread for a
 * while and then tries again.  Results never depend on the thread count, so
 * this changes speed only. */
void cpu_note_stall(cpu_ctx *c, int64_t stall_ns, int64_t wall_ns);

/* Threads for a loop of `work` cheap element-steps: one below `grain` per
 * thread, so tiny ops do not pay for waking the team. */
static inline int cpu_threads_for(const cpu_ctx *c, size_t work, size_t grain)
{
    size_t t = work / grain;
    if (t < 1)
        t = 1;
    if (t > (size_t)c->threads)
        t = (size_t)c->threads;
    if (t > 1 && cpu_solo(c))
        t = 1;
    return (int)t;
}

/* Element-wise loops below this many elements run on one thread. */
#define CPU_GRAIN 16384
/* Reductions split into at most this many chunks (partial sums on the stack). */
#define CPU_MAX_REDUCE_CHUNKS 64

/* Reports through the host when there is one; always returns `status`. */
gantry_status cpu_error(const cpu_ctx *c, gantry_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Per-channel ops (bias_grad, batch norm) run channels in parallel.  For
 * [N, C] tensors (inner == 1, every linear layer) a thread takes a block of
 * CPU_CH_BLOCK adjacent channels and walks the rows, so each row is read as
 * one contiguous run and the per-channel double accumulators sit side by
 * side in vector registers; every channel still sums its values in the
 * reference's order (ascending row), so bias gradients and batch-norm
 * statistics give the reference's bits.  For [N, C, H, W] a thread takes
 * whole channels and sums each image's run in the lanes of ../lane_sums.h,
 * as the reference. */
#define CPU_CH_BLOCK 32

static inline size_t cpu_min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- memory (memory.c) -------------------------------------------------- */

#define CPU_ALIGN 64

/* Buffers are plain host memory: every memory method but buffer_alloc is
 * the one the host backends share. */
#define cpu_buffer_free host_buffer_free
#define cpu_buffer_write host_buffer_write
#define cpu_buffer_read host_buffer_read
#define cpu_buffer_copy host_buffer_copy
#define cpu_synchronize host_synchronize

/* ---- gemm (gemm.c, gemm_kernels.c) -------------------------------------- */

/* GEMM blocking (floats).  A micro-kernel computes an mr x nr tile of C
 * from a packed mr-row panel of A and a packed nr-column panel of B (6 x 16
 * with AVX2 or portable code, 12 x 32 with AVX-512); a thread packs at most
 * CPU_MC x CPU_KC of A and CPU_KC x CPU_NC of B at a time, into buffers
 * allocated once at create().  CPU_MC and CPU_NC are multiples of every
 * kernel's mr and nr.  CPU_KC also decides the rounding (each K block's
 * sum is added to C), so it is the same for every kernel. */
#define CPU_MR 6
#define CPU_NR 16
#define CPU_MR_MAX 12
#define CPU_NR_MAX 32
#define CPU_MC 120
#define CPU_KC 256
#define CPU_NC 1024
/* B columns packed at a time when all of A fits one block (gemm.c): a
 * KC x 64 block (64 KiB) stays in L2 while its tiles are computed; measured
 * against 32, 128 and 256 on the GAN step (Zen 3), 64 and 128 were best. */
#define CPU_NC_SMALL_M 64

/* A packed-GEMM micro-kernel: C[0..mr)[0..nr) (row stride ldc) =
 * alpha * sum_p a[p*mr + i] * b[p*nr + j] + beta * C, not reading C when
 * beta == 0.  Every kernel computes each element of C the same way: one
 * fused multiply-add per p in order from zero (a multiply and an add in the
 * portable kernel), then alpha * acc, then + beta * C. */
typedef void (*cpu_ukernel_fn)(size_t k, const float *a, const float *b, float *c, size_t ldc, float alpha,
                               float beta);
/* Packing into mr-row / nr-column panels, zero-padded at the edge.  pack_a:
 * rows [0, mc) and columns [0, kc) of op(A), where a points at op(A)[0][0];
 * pack_b likewise for op(B) rows [0, kc), columns [0, nc). */
typedef void (*cpu_pack_a_fn)(int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst);
typedef void (*cpu_pack_b_fn)(int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst);

/* A B operand of a product gathered from an image through tables instead
 * of read from a stored matrix (implicit GEMM): element (r, c) is
 * src[roff[r] + coff[c]] where 0 <= ry[r] + cy[c] < h and
 * 0 <= rx[r] + cx[c] < w, else 0 (the padding); every element lies inside
 * when ry is NULL.  Offsets are int32: the images hold < 2^31 floats.
 * Runs of consecutive offsets are read as vectors, other elements through
 * gathers (slow on some CPUs: Zen 4 runs them as microcode). */
typedef struct cpu_gather {
    const float *src;
    const int32_t *roff, *coff;
    const int32_t *ry, *rx, *cy, *cx;
    int32_t h, w;
} cpu_gather;

/* An A operand of a product stored as planes: [n, rows, plane] seen as the
 * matrix [rows, n * plane] (a convolution's dy as W's rows by pixels),
 * element (i, p) at (p / plane) * rows * plane + i * plane + p % plane. */
typedef struct cpu_planes {
    const float *src;
    size_t rows, plane;
} cpu_planes;

/* Packs rows [r0, r0 + mc) x columns [c0, c0 + kc) of such an A as pack_a
 * packs an untransposed A (the same bits: values are copied). */
typedef void (*cpu_pack_planes_fn)(const cpu_planes *a, size_t r0, size_t c0, size_t mc, size_t kc, float *dst);

/* C's columns through a table: C[i][j] is at c + i*ldc + coff[j], and
 * run[j] >= 1 columns from j on are contiguous (coff[j + t] = coff[j] + t). */
typedef struct cpu_scatter {
    const int32_t *coff, *run;
} cpu_scatter;

/* Packs rows [r0, r0 + rows) x columns [c0, c0 + cols) of a gathered
 * operand as pack_b packs op(B): panels of nr columns, zero-padded.  Values
 * are copied, so the product gets the bits of the stored matrix. */
typedef void (*cpu_gather_pack_fn)(const cpu_gather *g, size_t r0, size_t c0, size_t rows, size_t cols, float *dst);

struct cpu_kernels {
    cpu_isa isa;
    const char *name; /* "AVX-512", "AVX2/FMA", "portable" */
    size_t mr, nr;    /* at most CPU_MR_MAX, CPU_NR_MAX */
    cpu_ukernel_fn full;
    cpu_ukernel_fn narrow; /* computes and writes only the first nr/2 columns */
    cpu_ukernel_fn short_rows; /* computes and writes only the first mr/2 rows */
    cpu_pack_a_fn pack_a;
    cpu_pack_b_fn pack_b;
    cpu_gather_pack_fn gather_pack; /* NULL: convolutions run as im2col + GEMM */
    cpu_pack_planes_fn pack_planes; /* with gather_pack */
};

/* The kernels for `isa` (which the CPU must have). */
const cpu_kernels *cpu_kernels_of(cpu_isa isa);
/* The widest instruction set the CPU has kernels for. */
cpu_isa cpu_isa_best(void);
/* The AVX-512 kernels (gemm_avx512.c); NULL where not compiled. */
extern const cpu_kernels cpu_kernels_avx512;

/* C (m x n, m, n > 1, k > 0) = op(A) B + beta C on our packed kernels, with
 * B gathered and C's columns scattered (cs, or NULL) as above: the same
 * blocking, kernels and order of operations as cpu_gemm_own, so each element
 * of C gets the bits it would get from a stored B, on any thread count.
 * Takes the instance's GEMM lock. */
void cpu_gemm_gathered(cpu_ctx *c, int trans_a, size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const cpu_gather *b, float beta, float *cm, size_t ldc, const cpu_scatter *cs);
/* The same with A as planes (not transposed). */
void cpu_gemm_planes_gathered(cpu_ctx *c, size_t m, size_t n, size_t k, const cpu_planes *a, const cpu_gather *b,
                              float beta, float *cm, size_t ldc);

/* Called by cpu_gemm_gathered_pieces on the thread of column range `range`
 * once its columns before `end` are computed. */
typedef void (*cpu_columns_done_fn)(void *user, size_t range, size_t end);
/* The floats of op(A) packed whole: m rounded up to the kernels' mr, times k. */
static inline size_t cpu_gemm_packed_a_floats(const cpu_kernels *kern, size_t m, size_t k)
{
    return (m + kern->mr - 1) / kern->mr * kern->mr * k;
}
void cpu_gemm_gathered_pieces(cpu_ctx *c, int trans_a, size_t m, size_t k, const float *a, size_t lda,
                              const cpu_gather *b, float *cm, size_t ldc, float *pa, size_t threads,
                              const size_t *split, size_t piece, cpu_columns_done_fn done, void *user);

/* The two implementations behind cpu_gemm(), for benchmarks. */
void cpu_gemm_own(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc);
int cpu_gemm_openblas(cpu_ctx *c, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t lda, const float *b, size_t ldb, float beta, float *cm, size_t ldc);
/* The path GANTRY_CPU_GEMM (`setting`, NULL for auto) picks on this CPU,
 * and for the own path the instruction set, with the reason in `why`; -1
 * with `why` naming what is wrong for an unknown value, openblas in a build
 * without it, or an instruction set this CPU lacks. */
int cpu_gemm_choose(const char *setting, cpu_gemm_path *path, cpu_isa *isa, char *why, size_t why_size);
int cpu_gemm_have_openblas(void);
/* Sets up c->gemm_path once chosen (OpenBLAS's own thread count). */
void cpu_gemm_init(cpu_ctx *c);
/* "own AVX-512 kernels (12 x 32 tiles)" or "OpenBLAS 0.3.21 (Haswell
 * kernels), ..." into buf. */
void cpu_gemm_describe(cpu_gemm_path path, cpu_isa isa, char *buf, size_t size);

/* ---- elementwise (elementwise.c) ---------------------------------------- */

/* A double sum over the index range [lo, hi) of what `arg` points at. */
typedef double (*cpu_range_sum_fn)(const void *arg, size_t lo, size_t hi);
/* The whole-tensor reductions (sum, mean, the losses): [0, n) cut into at
 * most CPU_MAX_REDUCE_CHUNKS chunks of at least `grain` indices, summed by
 * `sum` on up to c->threads threads and added in chunk order.  The chunks
 * depend on n alone, so the result is the same on any number of threads;
 * with one chunk it is sum(arg, 0, n), the reference's order exactly. */
double cpu_chunked_sum(const cpu_ctx *c, size_t n, size_t grain, cpu_range_sum_fn sum, const void *arg);

/* ---- the ops: cpu_METHOD for every method of GANTRY_BACKEND_OPS --------- */

#define CPU_DECLARE(name, family) extern GANTRY_BACKEND_METHOD_TYPE(name) cpu_##name;
GANTRY_BACKEND_OPS(CPU_DECLARE)
#undef CPU_DECLARE

#endif
