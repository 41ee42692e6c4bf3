/* `gantry train` across the processes of an MPI job (see train_mpi.h).
 *
 * Every wait on the other ranks is a non-blocking MPI call polled against a
 * deadline, so that a rank that died or hangs ends the job with a message
 * (and MPI_Abort) instead of leaving the others blocked forever.  Collective
 * calls are made in the same order on every rank: the control flow of a
 * step is the same everywhere, and whatever could make it differ (a failed
 * step, Ctrl-C, a diverged loss) is agreed on in train_mpi_step_end. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "build_id.h"
#include "gantry/backend.h"
#include "tools/cli.h"
#include "tools/train.h"
#include "tools/train_mpi.h"

/* Gradients go out in buckets of this many floats (4 MiB): the exchange of
 * one starts while the next is read from the device. */
#define BUCKET_FLOATS ((size_t)1 << 20)
/* Before the steps (data decoded, kernels built, a classifier trained by
 * --eval-every's first use) a rank may wait this long for the others. */
#define SETUP_TIMEOUT 3600.0
#define TEXT_MAX 1024
#define RUN_TEXT_MAX 6144 /* the run's description: a path and the settings */

static struct {
    int on, rank, world;
    int mixed;    /* the ranks' backends or devices differ: rank 0's weights after every update */
    int training; /* past train_mpi_attach: waits are bounded by --mpi-timeout */
    train_mpi_options o;
    uint64_t step; /* the step being run, for messages */
    float *buf;    /* the gradients (or buffers) on the host */
    size_t cap;
    MPI_Request *req;
    size_t req_cap;
    double exchange_seconds; /* in the gradient hook, this session */
    double wait_seconds;     /* of which waiting for the collectives to complete */
    uint64_t exchange_bytes;
} g = { .world = 1 };

static const char *launcher_size(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return getenv(vars[i]);
    return getenv("PMIX_RANK") ? "1" : NULL;
}

/* Ends the whole job from this rank: the message, then MPI_Abort, which
 * makes mpirun stop every other rank. */
static void die(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "gantry: rank %d of %d: %s\n", g.rank, g.world, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, CLI_ERROR);
    _exit(CLI_ERROR);
}

static void check_mpi(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    die("MPI error in %s at step %" PRIu64 ": %s", what, g.step, text);
}

/* Polls `n` requests until they complete, or ends the job after `timeout`
 * seconds: spinning briefly, then with short sleeps so that a rank waiting
 * on a slower one leaves the CPU to it. */
static void wait_all(MPI_Request *req, int n, double timeout, const char *what)
{
    double deadline = cli_now() + timeout;
    for (unsigned spins = 0;; spins++) {
        int done = 0;
        check_mpi(MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE), what);
        if (done)
            return;
        if (cli_now() > deadline)
            die("no answer from the other ranks for %.0f s in %s at step %" PRIu64
                ": a rank died, hangs or was stopped (--mpi-timeout); ending the job",
                timeout, what, g.step);
        if (spins > 2000)
            nanosleep(&(struct timespec){ 0, 50000 }, NULL);
    }
}

static void allreduce(void *data, int count, MPI_Datatype type, MPI_Op op, double timeout, const char *what)
{
    MPI_Request r;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, count, type, op, MPI_COMM_WORLD, &r), what);
    wait_all(&r, 1, timeout, what);
}

static void bcast(void *data, int count, MPI_Datatype type, double timeout, const char *what)
{
    MPI_Request r;
    check_mpi(MPI_Ibcast(data, count, type, 0, MPI_COMM_WORLD, &r), what);
    wait_all(&r, 1, timeout, what);
}

/* A rank stopped by mpirun says so.  mpirun sends SIGTERM for Ctrl-C and
 * when another rank ended, and SIGKILL soon after: no time for a save. */
static void on_term(int sig)
{
    static const char msg[] = "gantry: a rank stopped by mpirun (Ctrl-C, or another rank ended: mpirun's message then "
                              "says which); --resume continues from the last save\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + sig);
}

int train_mpi_init(const train_mpi_options *o)
{
    g.o = *o;
    if (!launcher_size())
        return CLI_OK;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "gantry: MPI_Init failed: is this process started by the mpirun of the MPI gantry was built "
                        "with?\n");
        return CLI_ERROR;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.world);
    g.on = 1;
    signal(SIGTERM, on_term);
    return CLI_OK;
}

int train_mpi_end(int rc)
{
    if (!g.on)
        return rc;
    int job = rc;
    allreduce(&job, 1, MPI_INT, MPI_MAX, SETUP_TIMEOUT, "the end of the run");
    free(g.buf);
    free(g.req);
    MPI_Finalize();
    return rc ? rc : job;
}

int train_mpi_on(void)
{
    return g.on;
}

unsigned train_mpi_rank(void)
{
    return (unsigned)g.rank;
}

unsigned train_mpi_world(void)
{
    return (unsigned)g.world;
}

/* The failing rank takes part in the broadcast of its own message. */
gantry_status train_mpi_agree(gantry_status s)
{
    if (!g.on)
        return s;
    const double timeout = g.training ? g.o.timeout : SETUP_TIMEOUT;
    int first = s ? g.rank : g.world;
    allreduce(&first, 1, MPI_INT, MPI_MIN, timeout, "a check of every rank's status");
    if (first == g.world)
        return GANTRY_OK;
    struct {
        int status;
        char text[TEXT_MAX];
    } m = { 0 };
    if (g.rank == first) {
        m.status = s;
        snprintf(m.text, sizeof m.text, "%s", gantry_last_error());
    }
    MPI_Request r;
    check_mpi(MPI_Ibcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD, &r), "a rank's error");
    wait_all(&r, 1, timeout, "a rank's error");
    if (g.rank == first)
        return s;
    return gantry_set_error((gantry_status)m.status, "rank %d: %s", first, m.text);
}

gantry_status train_mpi_rank0_first(gantry_status (*fn)(void *user), void *user)
{
    gantry_status s = g.rank == 0 ? fn(user) : GANTRY_OK;
    if ((s = train_mpi_agree(s)) != GANTRY_OK)
        return s;
    if (g.rank != 0)
        s = fn(user);
    return train_mpi_agree(s);
}

/* ---- the run every rank must agree on ----------------------------------- */

static size_t net_numel(gantry_seq *net)
{
    size_t n = 0;
    for (size_t i = 0; i < gantry_seq_state_count(net); i++)
        n += gantry_tensor_numel(gantry_seq_state(net, i)->value);
    return n;
}

/* What makes the ranks train one model together, as "; "-separated fields. */
static void describe_run(const train_session *t, char *text, size_t size)
{
    const gantry_gan_config *c = gantry_gan_config_of(t->gan);
    snprintf(text, size,
             "gantry %s (%s); backend ABI %u; model %s; batch per rank %zu; z_dim %zu; image %zux%zux%zu; d_steps %u; "
             "g_loss %d; lr %a; betas %a %a; seed %" PRIu64 "; optimizer %d; classes %zu; width %zu; clip %a; "
             "label smoothing %a; minibatch-disc %d; feature-matching %d; began %a %a %zu; vbn %d; unroll %u; "
             "parameters G %zu D %zu; data %s; images %zu; limit %" PRIu64 "; steps %" PRIu64 " to %" PRIu64
             "; sample-every %" PRIu64 "; check-every %" PRIu64 "; sync-bn %" PRIu64,
             GANTRY_VERSION, GANTRY_BUILD_ID, GANTRY_BACKEND_ABI_VERSION, c->model, c->batch, c->z_dim, c->channels, c->height,
             c->width, c->d_steps, (int)c->g_loss, c->lr, c->beta1, c->beta2, c->seed, (int)c->optimizer, c->classes,
             c->base_channels, c->clip, c->label_smoothing, c->minibatch_disc, c->feature_matching, c->began_gamma,
             c->began_lambda_k, c->began_hidden, (int)c->vbn, c->unroll, net_numel(gantry_gan_generator(t->gan)),
             net_numel(gantry_gan_discriminator(t->gan)), t->info.data, t->ds->count, t->info.limit, t->first,
             t->total, t->o.sample_every, g.o.check_every, t->info.sync_bn);
}

/* The field of `a` (";"-separated) where it first differs from `b`. */
static void first_difference(const char *a, const char *b, char *out, size_t size)
{
    size_t start = 0;
    for (size_t i = 0; a[i] && a[i] == b[i]; i++)
        if (a[i] == ';')
            start = i + 2;
    size_t len = strcspn(a + start, ";");
    snprintf(out, size, "%.*s", (int)len, a + start);
}

static gantry_status same_run(const train_session *t)
{
    char mine[RUN_TEXT_MAX], first[RUN_TEXT_MAX];
    describe_run(t, mine, sizeof mine);
    memcpy(first, mine, sizeof first);
    bcast(first, (int)sizeof first, MPI_CHAR, SETUP_TIMEOUT, "the comparison of the ranks' runs");
    gantry_status s = GANTRY_OK;
    if (strcmp(mine, first) != 0) {
        char a[256], b[256];
        first_difference(mine, first, a, sizeof a);
        first_difference(first, mine, b, sizeof b);
        s = gantry_set_error(GANTRY_INVALID_ARGUMENT,
                             "this rank's run differs from rank 0's: '%s' here, '%s' on rank 0 (every rank must run "
                             "the same gantry build with the same options and data)",
                             a, b);
    }
    return train_mpi_agree(s);
}

/* "rank R of N (pid P on HOST): backend NAME, DEVICE" on stderr; whether
 * every rank has the same backend and device (g.mixed otherwise). */
static gantry_status announce_rank(const train_session *t)
{
    char host[256] = "?", device[512] = "";
    gethostname(host, sizeof host - 1);
    gantry_backend_info *infos;
    size_t count;
    const char *name = gantry_backend_name(t->be);
    if (gantry_backend_scan(&infos, &count) == GANTRY_OK) {
        for (size_t i = 0; i < count; i++)
            if (!strcmp(infos[i].name, name))
                snprintf(device, sizeof device, ", %.*s", (int)strcspn(infos[i].devices, "\n"), infos[i].devices);
        free(infos);
    }
    fprintf(stderr, "gantry: rank %d of %d (pid %ld on %s): backend %s%s\n", g.rank, g.world, (long)getpid(), host,
            name, device);
    char mine[sizeof device + 64], first[sizeof mine];
    snprintf(mine, sizeof mine, "%s%s", name, device);
    memcpy(first, mine, sizeof first);
    bcast(first, (int)sizeof first, MPI_CHAR, SETUP_TIMEOUT, "the comparison of the ranks' backends");
    int differs = strcmp(mine, first) != 0;
    allreduce(&differs, 1, MPI_INT, MPI_MAX, SETUP_TIMEOUT, "the comparison of the ranks' backends");
    g.mixed = differs;
    if (g.mixed && g.rank == 0)
        fprintf(stderr, "gantry: the ranks run on different backends or devices, whose updates differ in the last "
                        "bits: rank 0's weights go to the others after every update\n");
    return GANTRY_OK;
}

/* ---- the gradient exchange ---------------------------------------------- */

static int reserve(size_t floats, size_t requests)
{
    if (floats > g.cap) {
        float *b = realloc(g.buf, floats * sizeof *b);
        if (!b)
            return 0;
        g.buf = b;
        g.cap = floats;
    }
    if (requests > g.req_cap) {
        MPI_Request *r = realloc(g.req, requests * sizeof *r);
        if (!r)
            return 0;
        g.req = r;
        g.req_cap = requests;
    }
    return 1;
}

/* After an update of `net` on ranks whose backends round differently (the
 * optimizers' square roots and divisions differ by an ulp or so between
 * backends, and the differences would grow): rank 0's weights everywhere. */
static gantry_status send_weights(gantry_seq *net)
{
    double t0 = cli_now();
    size_t np = gantry_seq_param_count(net), total = 0;
    for (size_t i = 0; i < np; i++)
        total += gantry_tensor_numel(gantry_seq_param(net, i)->value);
    if (!reserve(total, 1))
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for %zu weights", total);
    size_t off = 0;
    for (size_t i = 0; g.rank == 0 && i < np; i++) {
        const gantry_tensor *w = gantry_seq_param(net, i)->value;
        GANTRY_TRY(gantry_tensor_read(w, g.buf + off, gantry_tensor_numel(w)));
        off += gantry_tensor_numel(w);
    }
    bcast(g.buf, (int)total, MPI_FLOAT, g.o.timeout, "the broadcast of rank 0's weights");
    off = 0;
    for (size_t i = 0; g.rank != 0 && i < np; i++) {
        gantry_tensor *w = gantry_seq_param(net, i)->value;
        GANTRY_TRY(gantry_tensor_write(w, g.buf + off, gantry_tensor_numel(w)));
        off += gantry_tensor_numel(w);
    }
    g.exchange_seconds += cli_now() - t0;
    g.exchange_bytes += total * sizeof(float);
    return GANTRY_OK;
}

/* Before each update of `net`: its gradients summed over the ranks (in
 * buckets, each sent while the next is read), then divided by N. */
static gantry_status grad_hook(void *user, gantry_gan *gan, gantry_seq *net, int updated)
{
    (void)user;
    (void)gan;
    if (updated)
        return g.mixed ? send_weights(net) : GANTRY_OK;
    double t0 = cli_now();
    size_t np = gantry_seq_param_count(net), total = 0;
    for (size_t i = 0; i < np; i++)
        total += gantry_tensor_numel(gantry_seq_param(net, i)->grad);
    if (!reserve(total, np))
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for %zu gradients", total);
    int nreq = 0;
    size_t off = 0, start = 0;
    for (size_t i = 0; i < np; i++) {
        const gantry_tensor *grad = gantry_seq_param(net, i)->grad;
        size_t n = gantry_tensor_numel(grad);
        GANTRY_TRY(gantry_tensor_read(grad, g.buf + off, n));
        off += n;
        if (off - start >= BUCKET_FLOATS || i + 1 == np) {
            check_mpi(MPI_Iallreduce(MPI_IN_PLACE, g.buf + start, (int)(off - start), MPI_FLOAT, MPI_SUM,
                                     MPI_COMM_WORLD, &g.req[nreq++]),
                      "the gradient exchange");
            start = off;
        }
    }
    double w0 = cli_now();
    wait_all(g.req, nreq, g.o.timeout, "the gradient exchange");
    g.wait_seconds += cli_now() - w0;
    if (g.world > 1) {
        const float inv = 1.0f / (float)g.world;
        for (size_t j = 0; j < total; j++)
            g.buf[j] *= inv;
    }
    off = 0;
    for (size_t i = 0; i < np; i++) {
        gantry_tensor *grad = gantry_seq_param(net, i)->grad;
        size_t n = gantry_tensor_numel(grad);
        GANTRY_TRY(gantry_tensor_write(grad, g.buf + off, n));
        off += n;
    }
    g.exchange_seconds += cli_now() - t0;
    g.exchange_bytes += total * sizeof(float);
    return GANTRY_OK;
}

/* --sync-bn: the batch norm statistics summed over the ranks. */
static gantry_status reduce_stats(void *user, double *values, size_t count)
{
    (void)user;
    allreduce(values, (int)count, MPI_DOUBLE, MPI_SUM, g.o.timeout, "the batch norm statistics (--sync-bn)");
    return GANTRY_OK;
}

gantry_status train_mpi_attach(train_session *t)
{
    if (!g.on)
        return train_sync_bn(t, NULL);
    gantry_status s = GANTRY_OK;
    if (g.world > 1 && !strcmp(gantry_gan_config_of(t->gan)->model, "began"))
        s = gantry_set_error(GANTRY_UNSUPPORTED, "began does not train across MPI ranks: its k_t control follows "
                                                 "each rank's own losses");
    if (!s)
        s = gantry_gan_set_data_parallel(t->gan, (unsigned)g.rank, (unsigned)g.world, grad_hook, NULL);
    if (!s)
        s = gantry_loader_set_shard(t->loader, (unsigned)g.rank, (unsigned)g.world);
    if (!s)
        s = train_sync_bn(t, reduce_stats);
    GANTRY_TRY(train_mpi_agree(s));
    GANTRY_TRY(same_run(t));
    GANTRY_TRY(announce_rank(t));
    g.training = 1;
    return GANTRY_OK;
}

/* ---- after each step ------------------------------------------------------- */

gantry_status train_mpi_step_end(train_session *t, gantry_status s, gantry_gan_stats *st, int *interrupted)
{
    g.step = t->step + 1;
    if (!g.on)
        return s;
    if (s && s != GANTRY_NUMERIC)
        die("step %" PRIu64 " failed: %s", g.step, gantry_last_error());
    double v[] = { s != GANTRY_OK, *interrupted != 0, st->d_loss, st->g_loss,      st->d_real,
                   st->d_fake,     st->wasserstein,  st->k,      st->m_global, st->d_class };
    allreduce(v, (int)(sizeof v / sizeof *v), MPI_DOUBLE, MPI_SUM, g.o.timeout, "the exchange of the losses");
    double *mean[] = { &st->d_loss, &st->g_loss, &st->d_real, &st->d_fake, &st->wasserstein, &st->k, &st->m_global,
                       &st->d_class };
    for (size_t i = 0; i < sizeof mean / sizeof *mean; i++)
        *mean[i] = v[2 + i] / g.world;
    *interrupted = v[1] > 0;
    if (v[0] > 0 || !isfinite(st->d_loss) || !isfinite(st->g_loss))
        return gantry_set_error(GANTRY_NUMERIC, "training step %" PRIu64 ": loss is not finite on %.0f of %d ranks "
                                                "(mean d_loss %g, g_loss %g)",
                                g.step, v[0] > 0 ? v[0] : (double)g.world, g.world, st->d_loss, st->g_loss);
    return GANTRY_OK;
}

/* ---- the weights every rank must hold ---------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Rank 0's buffers everywhere (as DistributedDataParallel broadcasts them),
 * and the hash of every state_dict entry of `net` into *h. */
static gantry_status sync_net(gantry_seq *net, uint64_t *h)
{
    for (size_t i = 0; i < gantry_seq_state_count(net); i++) {
        const gantry_param *p = gantry_seq_state(net, i);
        if (p->counter) {
            *h = fnv1a(*h, p->counter, sizeof *p->counter);
            continue;
        }
        size_t n = gantry_tensor_numel(p->value);
        if (!reserve(n, 1))
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for %s", p->name);
        GANTRY_TRY(gantry_tensor_read(p->value, g.buf, n));
        if (!p->grad) {
            bcast(g.buf, (int)n, MPI_FLOAT, g.o.timeout, "the broadcast of the buffers");
            if (g.rank != 0)
                GANTRY_TRY(gantry_tensor_write(p->value, g.buf, n));
        }
        *h = fnv1a(*h, g.buf, n * sizeof *g.buf);
    }
    return GANTRY_OK;
}

gantry_status train_mpi_sync(train_session *t, uint64_t step)
{
    if (!g.on)
        return GANTRY_OK;
    g.step = step;
    uint64_t h = 0xcbf29ce484222325ull;
    gantry_status s = sync_net(gantry_gan_generator(t->gan), &h);
    if (!s)
        s = sync_net(gantry_gan_discriminator(t->gan), &h);
    if (s)
        die("step %" PRIu64 ": %s", step, gantry_last_error());
    uint64_t *all = malloc((size_t)g.world * sizeof *all);
    if (!all)
        die("out of host memory");
    MPI_Request r;
    check_mpi(MPI_Iallgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD, &r), "the weight check");
    wait_all(&r, 1, g.o.timeout, "the weight check");
    char ranks[256] = "";
    size_t len = 0;
    for (int i = 1; i < g.world && len + 16 < sizeof ranks; i++)
        if (all[i] != all[0])
            len += (size_t)snprintf(ranks + len, sizeof ranks - len, "%s%d", len ? ", " : "", i);
    uint64_t first = all[0];
    free(all);
    if (len)
        return gantry_set_error(GANTRY_INTERNAL, "the ranks' weights differ after step %" PRIu64
                                                 ": rank%s %s against rank 0 (hash %016" PRIx64
                                                 "); their gradients or updates were not the same",
                                step, strchr(ranks, ',') ? "s" : "", ranks, first);
    return GANTRY_OK;
}

int train_mpi_check_due(uint64_t done)
{
    return g.on && g.o.check_every && done % g.o.check_every == 0;
}

const char *train_mpi_summary(uint64_t steps, char *buf, size_t size)
{
    if (!g.on || !steps) {
        snprintf(buf, size, "%s", "");
        return buf;
    }
    snprintf(buf, size,
             "gantry: gradient exchange over %d rank%s: %.2f MB per step, %.2f ms per step (%.2f ms of it waiting for "
             "MPI_Iallreduce, the rest copying to and from the device)%s\n",
             g.world, g.world == 1 ? "" : "s", (double)g.exchange_bytes / (double)steps / 1e6,
             1e3 * g.exchange_seconds / (double)steps, 1e3 * g.wait_seconds / (double)steps,
             g.mixed ? "; with rank 0's weights sent after every update" : "");
    return buf;
}
