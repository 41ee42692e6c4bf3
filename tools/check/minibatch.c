/* `gantry check`, the minibatch family: minibatch discrimination forward
 * and backward over n in {1, 2, 7, 64}, b in {1, 5, 16}, c in {1, 3, 5},
 * with duplicate samples, and the backward against finite differences of
 * the forward, kept away from the kinks of its L1 distances. */
#include <stdio.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/fd_op.h"
#include "tools/check/rows.h"

static const size_t mbd_n[] = { 1, 2, 7, 64 }, mbd_b[] = { 1, 5, 16 }, mbd_c[] = { 1, 3, 5 };

/* i[0]: the backward */
static gantry_status run_mbd(gantry_tensor *const *t, const check_case *c)
{
    if (c->i[0])
        return gantry_op_minibatch_disc_backward(t[0], t[1], t[2]);
    return gantry_op_minibatch_disc_forward(t[0], t[1]);
}

/* m in [-spread, spread]; with `dup`, the last sample repeats the first
 * (a collapsed generator), so exact ties occur between samples too. */
static void mbd_input(check_case *c, float *m, size_t n, size_t b, size_t ch, float spread, int dup)
{
    check_fill_uniform(c, m, n * b * ch, -spread, spread);
    if (m && dup && n > 1)
        memcpy(m + (n - 1) * b * ch, m, b * ch * sizeof *m);
}

/* Every (n, b, c) of mbd_n x mbd_b x mbd_c. */
static size_t mbd_points(const check_suite *s)
{
    (void)s;
    return CHECK_ARRAY_LEN(mbd_n) * CHECK_ARRAY_LEN(mbd_b) * CHECK_ARRAY_LEN(mbd_c);
}

/* variant 1: the first and the last sample equal */
static int mbd_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    const size_t nb = CHECK_ARRAY_LEN(mbd_b), nc = CHECK_ARRAY_LEN(mbd_c);
    size_t i = p->at / (nb * nc), j = p->at / nc % nb, k = p->at % nc;
    size_t n = mbd_n[i], b = mbd_b[j], ch = mbd_c[k];
    int dup = p->variant;
    if (dup && n == 1)
        return 0;
    if (s->quick && (i + j + k + (size_t)dup) % 3)
        return 0;
    /* closer samples at larger c, so exp(-distance) is not tiny */
    float spread = ch == 1 ? 1.0f : 0.4f;
    int backward = spec->op == CHECK_OP_minibatch_disc_backward;
    c->run = run_mbd;
    c->i[0] = backward;
    float *m = check_case_arg(c, "m", CHECK_IN, 3, n, b, ch, 0);
    mbd_input(c, m, n, b, ch, spread, dup);
    if (backward) {
        check_fill_uniform(c, check_arg_2d(c, "dout", CHECK_IN, n, b), n * b, -1.0f, 1.0f);
        check_fill_uniform(c, check_case_arg(c, "dm", CHECK_OUT, 3, n, b, ch, 0), n * b * ch, -1.0f, 1.0f);
    } else {
        check_fill_uniform(c, check_arg_2d(c, "o", CHECK_OUT, n, b), n * b, -1.0f, 1.0f);
    }
    snprintf(c->desc, sizeof c->desc, "m [%zu, %zu, %zu]%s", n, b, ch, dup ? " first and last sample equal" : "");
    return 1;
}

/* minibatch discrimination: L = sum w o, dm = backward(dout = w) */

static gantry_status fd_mbd_forward(check_fd_op *p)
{
    return gantry_op_minibatch_disc_forward(p->t[0], p->t[1]);
}

static void fd_mbd(check_suite *s, check_row *r, size_t n, size_t b, size_t ch, uint64_t seed)
{
    check_fd_op p;
    memset(&p, 0, sizeof p);
    size_t nm = n * b * ch;
    float *m = check_host_alloc(nm);
    char config[96];
    snprintf(config, sizeof config, "m [%zu, %zu, %zu]", n, b, ch);
    gantry_status st = m ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    /* Away from the kinks |m_ikl - m_jkl| = 0 (i != j): per (k, l) the
     * samples sit on a shuffled grid of spacing 0.2 with jitter < 0.05,
     * so every difference is > 0.1, ten steps. */
    for (size_t kk = 0; !st && kk < b; kk++)
        for (size_t l = 0; l < ch; l++) {
            /* i -> (2 i + shift) mod n is a permutation for odd n */
            size_t shift = (size_t)(check_mix(seed + kk * 31 + l) % n), stride = n % 2 ? 2 : 1;
            for (size_t i = 0; i < n; i++) {
                size_t slot = (i * stride + shift) % n;
                float jitter = gantry_philox_uniform(seed, kk * ch + l, i, -0.05f, 0.05f);
                m[(i * b + kk) * ch + l] = 0.2f * (float)slot - 0.1f * (float)n + jitter;
            }
        }
    p.forward = fd_mbd_forward;
    check_fd_op_single_input(s, r, &p, st, m, 3, (size_t[]){ n, b, ch }, 2, (size_t[]){ n, b },
                             gantry_op_minibatch_disc_backward, seed, config, "dm");
}

static void gradcheck_mbd(check_suite *s, check_row *r, const check_spec *spec)
{
    static const size_t shapes[][3] = { { 1, 1, 1 }, { 2, 1, 1 }, { 3, 5, 3 }, { 7, 2, 5 } };
    (void)spec;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(shapes); i++)
        fd_mbd(s, r, shapes[i][0], shapes[i][1], shapes[i][2], 1000 + i);
}

static const check_spec table[] = {
    { .name = "minibatch_disc_forward", .op = CHECK_OP_minibatch_disc_forward, .metric = "nmse", .limit = 1e-9,
      .why = "sums over the batch (up to 64 terms) of exp of float L1 distances in another order",
      .points = mbd_points, .variants = 2, .build = mbd_case },
    { .name = "minibatch_disc_backward", .op = CHECK_OP_minibatch_disc_backward, .metric = "nmse", .limit = 1e-9,
      .why = "sums over the batch of terms of both signs that may cancel, so as batchnorm_backward and bias_grad",
      .points = mbd_points, .variants = 2, .build = mbd_case },
    CHECK_FD_ROW("minibatch_disc", minibatch_disc_backward,
                 "dm against differences of the forward, every |m_i - m_j| ten steps from the kink; ", gradcheck_mbd,
                 0),
};

const check_family check_family_minibatch = CHECK_FAMILY(minibatch, table);
