/* gantry opencl kernels: our own GEMM, C = alpha op(A) op(B) + beta C,
 * row-major, for devices where it beats CLBlast (CPU devices: PoCL, Intel).
 *
 * Written the way a CPU BLAS micro-kernel is: each work-item keeps one tile
 * of C in vector registers and runs the whole K loop; no local memory (on a
 * CPU device it is ordinary memory plus barriers).
 *   gemm_nn, gemm_tn   op(B) = B: a tile of 6 rows x 16 columns, 12 float8
 *                      accumulators; per k one row segment of B (two float8
 *                      loads) and 6 broadcasts of A (A or A^T chosen at compile
 *                      time: a run-time flag in the loop costs 2x)
 *   gemm_nt            op(B) = B^T (x W^T of a Linear layer): rows of A and of
 *                      B are both contiguous in k, so a 4 x 3 tile of dot
 *                      products with float8 along k, summed across lanes at
 *                      the end
 *   gemm_el_XY         one C element per work-item (op(A) = A or A^T for
 *                      X = n or t, likewise Y for B): the last N % 16 columns
 *                      of gemm_nn/gemm_tn, and both transposed
 * Tile order: dimension 0 the row tiles, dimension 1 the column tiles, so
 * that consecutive work-items and work-groups (PoCL runs them in that order)
 * share their panel of B (K x 16 floats; for gemm_nt 3 rows of B) while it
 * is in cache and only A, the smaller operand in the conv layers, is read
 * again per panel.  Column tiles first made every row tile stream all of B
 * from memory: 5.7x slower for a conv layer's W col (M 128, N 3136, K 1024),
 * 2x for its weight gradient (gemm_nt, M 128, N 1024, K 3136).
 * Partial tiles run the same loop as full ones: rows (and for gemm_nt
 * columns) past the edge repeat the last valid one and are not stored.  An
 * element-wise edge path inside a tile kernel made PoCL's code for the full
 * tiles 5-8x slower, and the GAN's M = 64 is no multiple of 6.  Each C element is a float sum of K products, fused
 * multiply-adds in ascending k (per lane for gemm_nt): relative error
 * ~sqrt(K) ulp, well within the comparison suite's limit for GEMM.
 * beta == 0: C is not read (it may hold NaN). */
#pragma OPENCL FP_CONTRACT OFF

#define GEMM_ARGS                                                                                       \
    ulong M, ulong N, ulong K, float alpha, __global const float *A, ulong ao, ulong lda,                \
        __global const float *B, ulong bo, ulong ldb, float beta, __global float *C, ulong co, ulong ldc

#define GEMM_STORE1(acc, i, j)                                                                          \
    do {                                                                                                \
        __global float *cp_ = C + (i) * ldc + (j);                                                      \
        float r_ = alpha * (acc);                                                                       \
        if (beta != 0.0f)                                                                               \
            r_ = r_ + beta * *cp_;                                                                      \
        *cp_ = r_;                                                                                      \
    } while (0)

#define GEMM_STORE16(lo, hi, i)                                                                         \
    do {                                                                                                \
        __global float *cp_ = C + (i) * ldc + j0;                                                       \
        float8 r0_ = alpha * (lo), r1_ = alpha * (hi);                                                  \
        if (beta != 0.0f) {                                                                             \
            r0_ = r0_ + beta * vload8(0, cp_);                                                          \
            r1_ = r1_ + beta * vload8(1, cp_);                                                          \
        }                                                                                               \
        vstore8(r0_, 0, cp_);                                                                           \
        vstore8(r1_, 1, cp_);                                                                           \
    } while (0)

#define ROWS_MR 6

#define GEMM_ROWS_STEP(r, ca, cb)                                                                       \
    a = A_AT(ir##r, p);                                                                                 \
    ca = fma((float8)(a), b0, ca);                                                                      \
    cb = fma((float8)(a), b1, cb);

/* Rows past M (the last tile when M % 6 != 0) repeat row M - 1 and are not
 * stored, so the loop is the same for every tile. */
#define GEMM_ROWS_STORE(r, ca, cb)                                                                      \
    if (i0 + r < M)                                                                                     \
        GEMM_STORE16(ca, cb, i0 + r);

#define GEMM_ROWS_KERNEL(NAME)                                                                          \
    __kernel void NAME(GEMM_ARGS)                                                                       \
    {                                                                                                   \
        A += ao;                                                                                        \
        B += bo;                                                                                        \
        C += co;                                                                                        \
        const size_t i0 = get_global_id(0) * ROWS_MR, j0 = get_global_id(1) * 16;                      \
        if (j0 + 16 > N || i0 >= M)                                                                     \
            return;                                                                                     \
        const size_t last = M - 1;                                                                      \
        const size_t ir0 = i0, ir1 = min(i0 + 1, last), ir2 = min(i0 + 2, last);                        \
        const size_t ir3 = min(i0 + 3, last), ir4 = min(i0 + 4, last), ir5 = min(i0 + 5, last);         \
        float8 c00 = 0.0f, c01 = 0.0f, c10 = 0.0f, c11 = 0.0f, c20 = 0.0f, c21 = 0.0f;                   \
        float8 c30 = 0.0f, c31 = 0.0f, c40 = 0.0f, c41 = 0.0f, c50 = 0.0f, c51 = 0.0f;                   \
        __global const float *bp = B + j0;                                                              \
        for (size_t p = 0; p < K; p++, bp += ldb) {                                                     \
            const float8 b0 = vload8(0, bp), b1 = vload8(1, bp);                                        \
            float a;                                                                                    \
            GEMM_ROWS_STEP(0, c00, c01)                                                                 \
            GEMM_ROWS_STEP(1, c10, c11)                                                                 \
            GEMM_ROWS_STEP(2, c20, c21)                                                                 \
            GEMM_ROWS_STEP(3, c30, c31)                                                                 \
            GEMM_ROWS_STEP(4, c40, c41)                                                                 \
            GEMM_ROWS_STEP(5, c50, c51)                                                                 \
        }                                                                                               \
        GEMM_ROWS_STORE(0, c00, c01)                                                                    \
        GEMM_ROWS_STORE(1, c10, c11)                                                                    \
        GEMM_ROWS_STORE(2, c20, c21)                                                                    \
        GEMM_ROWS_STORE(3, c30, c31)                                                                    \
        GEMM_ROWS_STORE(4, c40, c41)                                                                    \
        GEMM_ROWS_STORE(5, c50, c51)                                                                    \
    }

#define A_AT(i, p) A[(i) * lda + (p)]
GEMM_ROWS_KERNEL(gemm_nn)
#undef A_AT
#define A_AT(i, p) A[(p) * lda + (i)]
GEMM_ROWS_KERNEL(gemm_tn)
#undef A_AT

/* Sum of the 8 lanes as a balanced tree. */
#define HSUM8(v) ((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7)))

__kernel void gemm_nt(GEMM_ARGS)
{
    A += ao;
    B += bo;
    C += co;
    const size_t i0 = get_global_id(0) * 4, j0 = get_global_id(1) * 3;
    if (j0 >= N || i0 >= M)
        return;
    /* Rows and columns past the edges repeat the last one and are not
     * stored: the same loop for every tile, no element-wise edge code. */
    const size_t mi = M - 1, nj = N - 1;
    __global const float *a0 = A + i0 * lda, *a1 = A + min(i0 + 1, mi) * lda, *a2 = A + min(i0 + 2, mi) * lda,
                         *a3 = A + min(i0 + 3, mi) * lda;
    __global const float *b0 = B + j0 * ldb, *b1 = B + min(j0 + 1, nj) * ldb, *b2 = B + min(j0 + 2, nj) * ldb;
    float8 c00 = 0.0f, c01 = 0.0f, c02 = 0.0f, c10 = 0.0f, c11 = 0.0f, c12 = 0.0f;
    float8 c20 = 0.0f, c21 = 0.0f, c22 = 0.0f, c30 = 0.0f, c31 = 0.0f, c32 = 0.0f;
    size_t p = 0;
    for (; p + 8 <= K; p += 8) {
        const float8 v0 = vload8(0, b0 + p), v1 = vload8(0, b1 + p), v2 = vload8(0, b2 + p);
        float8 u = vload8(0, a0 + p);
        c00 = fma(u, v0, c00);
        c01 = fma(u, v1, c01);
        c02 = fma(u, v2, c02);
        u = vload8(0, a1 + p);
        c10 = fma(u, v0, c10);
        c11 = fma(u, v1, c11);
        c12 = fma(u, v2, c12);
        u = vload8(0, a2 + p);
        c20 = fma(u, v0, c20);
        c21 = fma(u, v1, c21);
        c22 = fma(u, v2, c22);
        u = vload8(0, a3 + p);
        c30 = fma(u, v0, c30);
        c31 = fma(u, v1, c31);
        c32 = fma(u, v2, c32);
    }
    float r00 = HSUM8(c00), r01 = HSUM8(c01), r02 = HSUM8(c02), r10 = HSUM8(c10), r11 = HSUM8(c11), r12 = HSUM8(c12);
    float r20 = HSUM8(c20), r21 = HSUM8(c21), r22 = HSUM8(c22), r30 = HSUM8(c30), r31 = HSUM8(c31), r32 = HSUM8(c32);
    for (; p < K; p++) {
        const float v0 = b0[p], v1 = b1[p], v2 = b2[p];
        float u = a0[p];
        r00 = fma(u, v0, r00);
        r01 = fma(u, v1, r01);
        r02 = fma(u, v2, r02);
        u = a1[p];
        r10 = fma(u, v0, r10);
        r11 = fma(u, v1, r11);
        r12 = fma(u, v2, r12);
        u = a2[p];
        r20 = fma(u, v0, r20);
        r21 = fma(u, v1, r21);
        r22 = fma(u, v2, r22);
        u = a3[p];
        r30 = fma(u, v0, r30);
        r31 = fma(u, v1, r31);
        r32 = fma(u, v2, r32);
    }
    const int nr = (int)min((ulong)4, M - i0), nc = (int)min((ulong)3, N - j0);
    GEMM_STORE1(r00, i0, j0);
    if (nc > 1)
        GEMM_STORE1(r01, i0, j0 + 1);
    if (nc > 2)
        GEMM_STORE1(r02, i0, j0 + 2);
    if (nr > 1) {
        GEMM_STORE1(r10, i0 + 1, j0);
        if (nc > 1)
            GEMM_STORE1(r11, i0 + 1, j0 + 1);
        if (nc > 2)
            GEMM_STORE1(r12, i0 + 1, j0 + 2);
    }
    if (nr > 2) {
        GEMM_STORE1(r20, i0 + 2, j0);
        if (nc > 1)
            GEMM_STORE1(r21, i0 + 2, j0 + 1);
        if (nc > 2)
            GEMM_STORE1(r22, i0 + 2, j0 + 2);
    }
    if (nr > 3) {
        GEMM_STORE1(r30, i0 + 3, j0);
        if (nc > 1)
            GEMM_STORE1(r31, i0 + 3, j0 + 1);
        if (nc > 2)
            GEMM_STORE1(r32, i0 + 3, j0 + 2);
    }
}

/* One element per work-item: dimension 0 the column j (adjacent work-items
 * read adjacent B elements when op(B) = B), dimension 1 the row i. */
#define GEMM_ELEMENT_KERNEL(NAME, A_AT, B_AT)                                                           \
    __kernel void NAME(GEMM_ARGS)                                                                       \
    {                                                                                                   \
        A += ao;                                                                                        \
        B += bo;                                                                                        \
        C += co;                                                                                        \
        const size_t j = get_global_id(0), i = get_global_id(1);                                        \
        if (j >= N || i >= M)                                                                           \
            return;                                                                                     \
        float acc = 0.0f;                                                                               \
        for (size_t p = 0; p < K; p++)                                                                  \
            acc = fma(A_AT(i, p), B_AT(p, j), acc);                                                     \
        GEMM_STORE1(acc, i, j);                                                                         \
    }

#define AN(i, p) A[(i) * lda + (p)]
#define AT(i, p) A[(p) * lda + (i)]
#define BN(p, j) B[(p) * ldb + (j)]
#define BT(p, j) B[(j) * ldb + (p)]
GEMM_ELEMENT_KERNEL(gemm_el_nn, AN, BN)
GEMM_ELEMENT_KERNEL(gemm_el_tn, AT, BN)
GEMM_ELEMENT_KERNEL(gemm_el_tt, AT, BT)

/* out[c][r] = in[r][c] for an R x Cn matrix (row stride lin) into Cn x R
 * (row stride lout), R and Cn multiples of 8 (the host checks): 8 x 8
 * blocks through registers. */
__kernel void transpose(ulong R, ulong Cn, __global const float *in, ulong io, ulong lin, __global float *out,
                        ulong oo, ulong lout)
{
    in += io;
    out += oo;
    const size_t c0 = get_global_id(0) * 8, r0 = get_global_id(1) * 8;
    if (c0 + 8 > Cn || r0 + 8 > R)
        return;
    const float8 v0 = vload8(0, in + (r0 + 0) * lin + c0), v1 = vload8(0, in + (r0 + 1) * lin + c0);
    const float8 v2 = vload8(0, in + (r0 + 2) * lin + c0), v3 = vload8(0, in + (r0 + 3) * lin + c0);
    const float8 v4 = vload8(0, in + (r0 + 4) * lin + c0), v5 = vload8(0, in + (r0 + 5) * lin + c0);
    const float8 v6 = vload8(0, in + (r0 + 6) * lin + c0), v7 = vload8(0, in + (r0 + 7) * lin + c0);
    vstore8((float8)(v0.s0, v1.s0, v2.s0, v3.s0, v4.s0, v5.s0, v6.s0, v7.s0), 0, out + (c0 + 0) * lout + r0);
    vstore8((float8)(v0.s1, v1.s1, v2.s1, v3.s1, v4.s1, v5.s1, v6.s1, v7.s1), 0, out + (c0 + 1) * lout + r0);
    vstore8((float8)(v0.s2, v1.s2, v2.s2, v3.s2, v4.s2, v5.s2, v6.s2, v7.s2), 0, out + (c0 + 2) * lout + r0);
    vstore8((float8)(v0.s3, v1.s3, v2.s3, v3.s3, v4.s3, v5.s3, v6.s3, v7.s3), 0, out + (c0 + 3) * lout + r0);
    vstore8((float8)(v0.s4, v1.s4, v2.s4, v3.s4, v4.s4, v5.s4, v6.s4, v7.s4), 0, out + (c0 + 4) * lout + r0);
    vstore8((float8)(v0.s5, v1.s5, v2.s5, v3.s5, v4.s5, v5.s5, v6.s5, v7.s5), 0, out + (c0 + 5) * lout + r0);
    vstore8((float8)(v0.s6, v1.s6, v2.s6, v3.s6, v4.s6, v5.s6, v6.s6, v7.s6), 0, out + (c0 + 6) * lout + r0);
    vstore8((float8)(v0.s7, v1.s7, v2.s7, v3.s7, v4.s7, v5.s7, v6.s7, v7.s7), 0, out + (c0 + 7) * lout + r0);
}
