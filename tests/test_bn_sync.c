/* Synchronised batch norm (gantry_seq_set_batchnorm_sync) without MPI:
 * W = 2 and W = 3 POSIX threads stand in for the processes of a
 * data-parallel job, each with its own backend and its own copy of the
 * Sequential (the same seed), and a reduce that sums over the threads
 * through a barrier.  One process on the whole batch of N rows is the
 * reference.  For BatchNorm over [N, C] and over [N, C, H, W], after two
 * training steps (forward, backward with parameter gradients, no zero_grad
 * in between, so the gradients accumulate):
 *  - the threads' outputs, concatenated in rank order, are the one
 *    process's output;
 *  - each thread's loss is the mean over its own N/W rows, i.e. dy scaled
 *    by W/N where the one process scales by 1/N.  Synchronised batch norm
 *    backpropagates the sum of every thread's loss (the backward's reduce
 *    sums every thread's dy), which is W times the one process's mean
 *    loss: so the threads' dx, concatenated, is W times the one process's
 *    dx, and every parameter gradient averaged over the threads (what the
 *    gradient exchange of data-parallel training does) is the one
 *    process's gradient;
 *  - every thread's running mean, running variance and num_batches_tracked
 *    are the one process's.
 * Errors are relative to the largest magnitude of the expected tensor
 * (max |got - want| / max |want|), within 1e-5: the synchronised path sums
 * the statistics in double on the host, the one process uses the backend's
 * batch norm ops.  With W = 1 and an identity reduce the synchronised path
 * is the plain one.  The same W threads without the synchronisation (each
 * thread's batch norm on its own rows) must miss by far more than the
 * tolerance, so the checks cannot pass vacuously.
 *
 * On the reference backend, and on the cpu backend (one thread per
 * backend) where it is usable. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/philox.h"
#include "tests/test.h"

#define N 12
#define MAX_W 3
#define STEPS 2
#define TOL 1e-5
/* Without synchronisation every compared tensor must miss by this much. */
#define UNSYNCED_MIN 1e-2
#define SLOT_CAP 64

/* ---- the models ---------------------------------------------------------- */

typedef struct model {
    const char *name;
    int in_ndim;            /* of one batch, N included */
    size_t in_shape[3];     /* without N */
    size_t in_row;          /* floats per input row */
    size_t bn_layers;
    gantry_status (*build)(gantry_seq *seq);
} model;

/* Linear(5, 7) -> BatchNorm1d(7) -> LeakyReLU(0.2) -> Linear(7, 3): [N, C]. */
static gantry_status build_mlp(gantry_seq *seq)
{
    GANTRY_TRY(gantry_seq_add_linear(seq, 5, 7));
    GANTRY_TRY(gantry_seq_add_batchnorm(seq, 7, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(seq, GANTRY_ACT_LEAKY_RELU, 0.2f));
    return gantry_seq_add_linear(seq, 7, 3);
}

/* Conv2d(2, 4, 3, 1, 1) -> BatchNorm2d(4) -> LeakyReLU(0.2) ->
 * Conv2d(4, 3, 3, 2, 1) on [N, 2, 5, 5]: [N, C, H, W]. */
static gantry_status build_conv(gantry_seq *seq)
{
    GANTRY_TRY(gantry_seq_add_conv2d(seq, 2, 4, 3, 1, 1));
    GANTRY_TRY(gantry_seq_add_batchnorm(seq, 4, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(seq, GANTRY_ACT_LEAKY_RELU, 0.2f));
    return gantry_seq_add_conv2d(seq, 4, 3, 3, 2, 1);
}

static const model models[] = {
    { "BatchNorm1d [N, C]", 2, { 5 }, 5, 1, build_mlp },
    { "BatchNorm2d [N, C, H, W]", 4, { 2, 5, 5 }, 50, 1, build_conv },
};

/* The same weights on every backend and in every copy: PyTorch's
 * initialisation, then DCGAN's normal one so that the batch norm weights
 * are not all 1. */
static gantry_seq *make_seq(gantry_backend *be, const model *m)
{
    gantry_seq *seq = NULL;
    uint64_t offset = 0;
    REQUIRE(gantry_seq_create(be, &seq) == GANTRY_OK);
    REQUIRE(m->build(seq) == GANTRY_OK);
    REQUIRE(gantry_seq_init(seq, 3, &offset) == GANTRY_OK);
    REQUIRE(gantry_seq_init_normal(seq, 0.3f, 4, &offset) == GANTRY_OK);
    return seq;
}

/* ---- one run: STEPS steps of a Sequential on some rows ------------------- */

/* What a run leaves: the last step's output and input gradient, every
 * parameter gradient, the float buffers (running mean and variance) and
 * the int64 ones (num_batches_tracked), each concatenated in state_dict order. */
typedef struct run_result {
    float *y, *dx, *grads, *stats;
    size_t ny, ndx, ngrads, nstats;
    int64_t counters[8];
    size_t ncounters;
} run_result;

static float *read_all(const gantry_tensor *t, float *into, size_t *at)
{
    size_t n = gantry_tensor_numel(t);
    float *v = realloc(into, (*at + n) * sizeof *v);
    REQUIRE(v != NULL);
    REQUIRE(gantry_tensor_read(t, v + *at, n) == GANTRY_OK);
    *at += n;
    return v;
}

static void capture(gantry_seq *seq, const gantry_tensor *y, const gantry_tensor *dx, run_result *r)
{
    memset(r, 0, sizeof *r);
    r->y = read_all(y, NULL, &r->ny);
    r->dx = read_all(dx, NULL, &r->ndx);
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++)
        r->grads = read_all(gantry_seq_param(seq, i)->grad, r->grads, &r->ngrads);
    for (size_t i = 0; i < gantry_seq_state_count(seq); i++) {
        const gantry_param *p = gantry_seq_state(seq, i);
        if (p->counter && r->ncounters < 8)
            r->counters[r->ncounters++] = *p->counter;
        else if (!p->grad && p->value)
            r->stats = read_all(p->value, r->stats, &r->nstats);
    }
}

static void free_result(run_result *r)
{
    free(r->y);
    free(r->dx);
    free(r->grads);
    free(r->stats);
}

/* The input and the output gradient of the whole batch (rows first). */
static float input_value(size_t i)
{
    return gantry_philox_uniform(21, 0, i, -1.0f, 2.0f); /* a mean away from 0 */
}

static float dy_value(size_t i)
{
    return gantry_philox_uniform(22, 0, i, -1.0f, 1.0f);
}

/* STEPS forward and backward passes of seq in training mode on rows
 * [first, first + rows) of the batch, dy scaled by dy_scale (1 / rows for
 * the mean loss over these rows); the gradients accumulate over the steps. */
static gantry_status run_rows(gantry_seq *seq, const model *m, size_t first, size_t rows, float dy_scale,
                              run_result *r)
{
    gantry_backend *be = gantry_tensor_backend(gantry_seq_param(seq, 0)->value);
    size_t shape[4] = { rows, m->in_shape[0], m->in_shape[1], m->in_shape[2] };
    gantry_tensor *x = NULL, *dyt = NULL, *y = NULL, *dx = NULL;
    float *h = malloc(rows * m->in_row * sizeof *h);
    if (!h)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "test: out of memory");
    for (size_t i = 0; i < rows * m->in_row; i++)
        h[i] = input_value(first * m->in_row + i);
    gantry_status s = gantry_tensor_create(be, m->in_ndim, shape, &x);
    if (!s)
        s = gantry_tensor_write(x, h, rows * m->in_row);
    if (!s)
        s = gantry_seq_zero_grad(seq);
    for (int step = 0; !s && step < STEPS; step++) {
        s = gantry_seq_forward(seq, x, 1, &y);
        size_t ny = s ? 0 : gantry_tensor_numel(y), out_row = ny / rows;
        if (!s && !dyt) {
            size_t yshape[4];
            for (int d = 0; d < gantry_tensor_ndim(y); d++)
                yshape[d] = gantry_tensor_dim(y, d);
            s = gantry_tensor_create(be, gantry_tensor_ndim(y), yshape, &dyt);
        }
        float *g = s ? NULL : malloc(ny * sizeof *g);
        if (!s && !g)
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "test: out of memory");
        for (size_t i = 0; !s && i < ny; i++)
            g[i] = dy_scale * dy_value(first * out_row + i + (size_t)step * N * out_row);
        if (!s)
            s = gantry_tensor_write(dyt, g, ny);
        free(g);
        if (!s)
            s = gantry_seq_backward(seq, dyt, 1, &dx);
    }
    if (!s)
        capture(seq, y, dx, r);
    gantry_tensor_destroy(x);
    gantry_tensor_destroy(dyt);
    free(h);
    return s;
}

/* ---- the threads and their reduce ---------------------------------------- */

/* Each thread copies its values into its slot, waits for every thread,
 * sums the slots in rank order 0..W-1 into its values, and waits again
 * (so that no slot is overwritten while another thread still reads it). */
typedef struct reducer {
    pthread_barrier_t barrier;
    int ranks;
    double slot[MAX_W][SLOT_CAP];
    size_t count[MAX_W];
    int calls;      /* counted by rank 0 */
    int mismatched; /* a call whose count differed between the threads */
} reducer;

typedef struct rank_user {
    reducer *r;
    int rank;
} rank_user;

static gantry_status sum_over_threads(void *user, double *values, size_t count)
{
    rank_user *u = user;
    reducer *r = u->r;
    if (count > SLOT_CAP) /* the same count on every thread: all return here */
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "test reduce: %zu values, at most %d", count, SLOT_CAP);
    memcpy(r->slot[u->rank], values, count * sizeof *values);
    r->count[u->rank] = count;
    pthread_barrier_wait(&r->barrier);
    for (size_t i = 0; i < count; i++) {
        double sum = 0.0;
        for (int k = 0; k < r->ranks; k++)
            sum += r->slot[k][i];
        values[i] = sum;
    }
    if (u->rank == 0) {
        r->calls++;
        for (int k = 0; k < r->ranks; k++)
            r->mismatched |= r->count[k] != count;
    }
    pthread_barrier_wait(&r->barrier);
    return GANTRY_OK;
}

/* One process alone: the sum over one process is its own values. */
static gantry_status identity_reduce(void *user, double *values, size_t count)
{
    (void)values;
    (void)count;
    ++*(int *)user;
    return GANTRY_OK;
}

typedef struct worker {
    gantry_seq *seq;
    const model *m;
    size_t first, rows;
    rank_user user;
    run_result res;
    gantry_status status;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->status = run_rows(w->seq, w->m, w->first, w->rows, 1.0f / (float)w->rows, &w->res);
    if (w->status)
        fprintf(stderr, "thread %d: %s: %s\n", w->user.rank, gantry_status_name(w->status), gantry_last_error());
    return NULL;
}

/* ---- comparisons ------------------------------------------------------- */

/* max |got - scale want| / max |scale want| */
static double rel_err(const float *got, const float *want, size_t n, double scale)
{
    double diff = 0.0, mag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = scale * want[i], d = fabs((double)got[i] - w);
        diff = d > diff || d != d ? d : diff;
        mag = fabs(w) > mag ? fabs(w) : mag;
    }
    return mag > 0.0 ? diff / mag : diff;
}

typedef struct errors {
    double y, dx, grads, stats;
    int counters_equal;
} errors;

/* The W threads' results against the one process's (see the top comment). */
static errors compare(const run_result *one, const worker *w, int ranks)
{
    errors e = { 0, 0, 0, 0, 1 };
    float *y = malloc(one->ny * sizeof *y), *dx = malloc(one->ndx * sizeof *dx);
    float *grads = malloc(one->ngrads * sizeof *grads);
    REQUIRE(y && dx && grads);
    size_t at_y = 0, at_dx = 0;
    for (int k = 0; k < ranks; k++) {
        const run_result *r = &w[k].res;
        REQUIRE(at_y + r->ny <= one->ny && at_dx + r->ndx <= one->ndx && r->ngrads == one->ngrads);
        memcpy(y + at_y, r->y, r->ny * sizeof *y);
        memcpy(dx + at_dx, r->dx, r->ndx * sizeof *dx);
        at_y += r->ny;
        at_dx += r->ndx;
        REQUIRE(r->nstats == one->nstats && r->ncounters == one->ncounters);
        double es = rel_err(r->stats, one->stats, one->nstats, 1.0);
        e.stats = es > e.stats || es != es ? es : e.stats;
        e.counters_equal &= memcmp(r->counters, one->counters, one->ncounters * sizeof *one->counters) == 0;
    }
    REQUIRE(at_y == one->ny && at_dx == one->ndx);
    for (size_t i = 0; i < one->ngrads; i++) {
        double sum = 0.0;
        for (int k = 0; k < ranks; k++)
            sum += w[k].res.grads[i];
        grads[i] = (float)(sum / ranks);
    }
    e.y = rel_err(y, one->y, one->ny, 1.0);
    e.dx = rel_err(dx, one->dx, one->ndx, (double)ranks);
    e.grads = rel_err(grads, one->grads, one->ngrads, 1.0);
    free(y);
    free(dx);
    free(grads);
    return e;
}

static double worst_synced;

static void report(const char *what, const errors *e)
{
    printf("  %-34s y %.3g  dx %.3g  grads %.3g  running stats %.3g%s\n", what, e->y, e->dx, e->grads, e->stats,
           e->counters_equal ? "" : "  (num_batches_tracked differs)");
}

static void check_within(const char *what, const errors *e)
{
    report(what, e);
    CHECK(e->y <= TOL);
    CHECK(e->dx <= TOL);
    CHECK(e->grads <= TOL);
    CHECK(e->stats <= TOL);
    CHECK(e->counters_equal);
    double worst = fmax(fmax(e->y, e->dx), fmax(e->grads, e->stats));
    worst_synced = worst > worst_synced ? worst : worst_synced;
}

/* W threads, each on its own backend and its own copy, synchronised or
 * not, against the one process. */
static void run_threads(const char *backend, const model *m, const run_result *one, int ranks, int synced)
{
    gantry_backend_config cfg = { .num_threads = 1 };
    gantry_backend *be[MAX_W];
    worker w[MAX_W];
    pthread_t tid[MAX_W];
    reducer *r = calloc(1, sizeof *r);
    REQUIRE(r != NULL);
    r->ranks = ranks;
    REQUIRE(pthread_barrier_init(&r->barrier, NULL, (unsigned)ranks) == 0);
    for (int k = 0; k < ranks; k++) {
        REQUIRE(gantry_backend_open(backend, &cfg, &be[k]) == GANTRY_OK);
        w[k] = (worker){ .seq = make_seq(be[k], m), .m = m, .first = (size_t)k * (N / ranks), .rows = N / ranks,
                         .user = { r, k } };
        if (synced)
            CHECK_OK(gantry_seq_set_batchnorm_sync(w[k].seq, sum_over_threads, &w[k].user));
    }
    for (int k = 0; k < ranks; k++)
        REQUIRE(pthread_create(&tid[k], NULL, worker_main, &w[k]) == 0);
    for (int k = 0; k < ranks; k++)
        REQUIRE(pthread_join(tid[k], NULL) == 0);
    int ok = 1;
    for (int k = 0; k < ranks; k++) {
        CHECK_OK(w[k].status);
        ok &= w[k].status == GANTRY_OK;
    }
    char what[96];
    snprintf(what, sizeof what, "W = %d %s:", ranks, synced ? "synchronised" : "NOT synchronised");
    if (ok) {
        errors e = compare(one, w, ranks);
        if (synced) {
            check_within(what, &e);
            /* per step: one reduce forward, one backward, per batch norm layer */
            CHECK(r->calls == (int)(2 * STEPS * m->bn_layers));
            CHECK(!r->mismatched);
        } else {
            report(what, &e);
            CHECK(r->calls == 0);
            /* each thread normalised by its own rows' statistics */
            CHECK(e.y > UNSYNCED_MIN);
            CHECK(e.dx > UNSYNCED_MIN);
            CHECK(e.grads > UNSYNCED_MIN);
            CHECK(e.stats > UNSYNCED_MIN);
        }
    }
    for (int k = 0; k < ranks; k++) {
        if (ok)
            free_result(&w[k].res);
        gantry_seq_destroy(w[k].seq);
        gantry_backend_close(be[k]);
    }
    pthread_barrier_destroy(&r->barrier);
    free(r);
}

/* W = 1 with the identity reduce against the plain path (one), both on the
 * whole batch; and a copy whose synchronisation was set and turned off
 * again (NULL) is the plain path bit for bit. */
static void check_one_process(gantry_backend *be, const model *m, const run_result *one)
{
    int calls = 0;
    worker w = { .seq = make_seq(be, m), .m = m, .rows = N };
    CHECK_OK(gantry_seq_set_batchnorm_sync(w.seq, identity_reduce, &calls));
    gantry_status s = run_rows(w.seq, m, 0, N, 1.0f / N, &w.res);
    CHECK_OK(s);
    if (s == GANTRY_OK) {
        errors e = compare(one, &w, 1);
        check_within("W = 1 synchronised (identity):", &e);
        CHECK(calls == (int)(2 * STEPS * m->bn_layers));
        free_result(&w.res);
    }
    gantry_seq_destroy(w.seq);
    gantry_seq *off = make_seq(be, m);
    run_result r;
    CHECK_OK(gantry_seq_set_batchnorm_sync(off, identity_reduce, &calls));
    CHECK_OK(gantry_seq_set_batchnorm_sync(off, NULL, NULL));
    s = run_rows(off, m, 0, N, 1.0f / N, &r);
    CHECK_OK(s);
    if (s == GANTRY_OK) {
        CHECK(memcmp(r.y, one->y, one->ny * sizeof *r.y) == 0);
        CHECK(memcmp(r.dx, one->dx, one->ndx * sizeof *r.dx) == 0);
        CHECK(memcmp(r.grads, one->grads, one->ngrads * sizeof *r.grads) == 0);
        CHECK(memcmp(r.stats, one->stats, one->nstats * sizeof *r.stats) == 0);
        free_result(&r);
    }
    CHECK(calls == (int)(2 * STEPS * m->bn_layers)); /* no reduce once turned off */
    gantry_seq_destroy(off);
}

static void check_backend(const char *backend)
{
    printf("%s backend:\n", backend);
    gantry_backend_config cfg = { .num_threads = 1 };
    gantry_backend *be = NULL;
    REQUIRE(gantry_backend_open(backend, &cfg, &be) == GANTRY_OK);
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        const model *m = &models[i];
        printf(" %s, N = %d, %d steps\n", m->name, N, STEPS);
        gantry_seq *seq = make_seq(be, m);
        run_result one;
        REQUIRE(run_rows(seq, m, 0, N, 1.0f / N, &one) == GANTRY_OK);
        check_one_process(be, m, &one);
        for (int ranks = 2; ranks <= MAX_W; ranks++) {
            run_threads(backend, m, &one, ranks, 1);
            run_threads(backend, m, &one, ranks, 0);
        }
        free_result(&one);
        gantry_seq_destroy(seq);
    }
    gantry_backend_close(be);
}

static int backend_usable(const char *name)
{
    gantry_backend_info *infos = NULL;
    size_t count = 0;
    int usable = 0;
    REQUIRE(gantry_backend_scan(&infos, &count) == GANTRY_OK);
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, name) == 0)
            usable = infos[i].usable;
    free(infos);
    return usable;
}

int main(void)
{
    check_backend("reference");
    if (backend_usable("cpu"))
        check_backend("cpu");
    else
        printf("cpu backend not usable here: reference only\n");
    printf("worst synchronised error: %.3g (tolerance %g)\n", worst_synced, TOL);
    return test_finish("test_bn_sync");
}
