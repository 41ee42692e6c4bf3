/* `gantry train`'s steps: a row of log.csv per step, progress on stderr,
 * samples and a checkpoint every --sample-every steps, and Ctrl-C, which
 * stops after the current step. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/train.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

static void progress(int tty, uint64_t step, uint64_t total, double elapsed, size_t images,
                     const gantry_gan_stats *st, double fd)
{
    char fd_text[32] = "";
    if (fd >= 0.0)
        snprintf(fd_text, sizeof fd_text, "  FD %.2f", fd);
    char eta[32], spent[32];
    double rate = elapsed > 0 ? (double)images / elapsed : 0;
    format_duration(step ? elapsed / (double)step * (double)(total - step) : 0, eta, sizeof eta);
    format_duration(elapsed, spent, sizeof spent);
    fprintf(stderr, "%sstep %llu/%llu  %.0f img/s  %s elapsed  ETA %s  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f%s%s",
            tty ? "\r\033[K" : "", (unsigned long long)step, (unsigned long long)total, rate, spent, eta, st->d_loss,
            st->g_loss, st->d_real, st->d_fake, fd_text, tty ? "" : "\n");
    fflush(stderr);
}

/* One training step on the next d_steps batches. */
static gantry_status step(train_session *t, gantry_gan_stats *st)
{
    const gantry_gan_config *c = &t->config;
    const int labeled = t->ds->labels != NULL;
    gantry_status s = GANTRY_OK;
    for (unsigned k = 0; k < c->d_steps && !s; k++)
        s = gantry_loader_next(t->loader, t->real + (size_t)k * c->batch * t->image_size,
                               labeled ? t->labels + (size_t)k * c->batch : NULL, NULL);
    if (!s)
        s = gantry_gan_train_step_labeled(t->gan, t->real, labeled ? t->labels : NULL, st);
    return s;
}

/* Progress on stderr: on a terminal one line redrawn at most every 0.25 s,
 * otherwise a line every 1/20 of the run. */
typedef struct display {
    int tty;
    double last_print;
    uint64_t plain_every;
} display;

/* After a step's row of the log: progress, and the save every --sample-every
 * steps (the final one is train_finish's). */
static gantry_status after_step(train_session *t, display *d, const gantry_gan_stats *st, double elapsed)
{
    const gantry_gan_config *c = &t->config;
    uint64_t done = t->step + 1;
    int show = d->tty ? elapsed - d->last_print > 0.25 || done == t->total
                      : done % d->plain_every == 0 || done == t->total;
    if (!t->o.quiet && show && train_mpi_rank() == 0) {
        progress(d->tty, done, t->total, elapsed, (size_t)done * c->batch * train_mpi_world() * c->d_steps, st,
                 t->info.eval_every ? t->last_fd : -1.0);
        d->last_print = elapsed;
    }
    /* Every save (this one's, or train_finish's at the end) checks the
     * ranks' weights itself. */
    if (done % t->o.sample_every != 0 || done == t->total)
        return train_mpi_check_due(done) && done != t->total ? train_mpi_sync(t, done) : GANTRY_OK;
    /* The rows before the checkpoint reach the disk first, so a crash after
     * the save loses none of the steps it covers (rank 0's log: all ranks
     * stop with its error). */
    GANTRY_TRY(train_mpi_agree(train_log_flush(t)));
    return train_save(t);
}

gantry_status train_log_check(const train_session *t)
{
    if (!t->log || !ferror(t->log))
        return GANTRY_OK;
    return gantry_set_error(GANTRY_IO, "cannot write %s/log.csv: %s", t->out, strerror(errno ? errno : EIO));
}

gantry_status train_log_flush(const train_session *t)
{
    errno = 0;
    if (!t->log)
        return GANTRY_OK;
    if (fflush(t->log) != 0 || ferror(t->log) || fsync(fileno(t->log)) != 0)
        return gantry_set_error(GANTRY_IO, "cannot write %s/log.csv: %s", t->out, strerror(errno ? errno : EIO));
    return GANTRY_OK;
}

gantry_status train_run(train_session *t)
{
    display d = { isatty(STDERR_FILENO), 0.0, t->total / 20 ? t->total / 20 : 1 };
    signal(SIGINT, on_sigint);
    t->session = cli_now();
    gantry_gan_stats st = { 0 };
    gantry_status s = GANTRY_OK;
    /* An MPI job's ranks stop together: the Ctrl-C of any of them, agreed
     * on after each step.  Only rank 0 has the log (t->log NULL elsewhere). */
    int stop = 0;
    for (t->step = t->first; t->step < t->total && !stop; t->step++) {
        s = step(t, &st);
        stop = interrupted;
        s = train_mpi_step_end(t, s, &st, &stop);
        double elapsed = cli_now() - t->start;
        if (t->log) {
            fprintf(t->log, "%llu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f", (unsigned long long)(t->step + 1),
                    st.d_loss, st.g_loss, st.d_real, st.d_fake, st.wasserstein, st.k, st.m_global, st.d_class,
                    elapsed);
            /* Checked at once: errno is still the failed write's. */
            gantry_status w = train_log_check(t);
            if (!s)
                s = w;
            if (!s)
                s = train_eval_fields(t, t->step + 1);
            fputc('\n', t->log);
            if (!s)
                s = train_log_check(t);
        }
        /* The log and the evaluation are rank 0's: every rank stops with its error. */
        if (train_mpi_world() > 1)
            s = train_mpi_agree(s);
        if (s || (s = after_step(t, &d, &st, elapsed)))
            break;
    }
    if (!t->o.quiet && d.tty && t->log)
        fputc('\n', stderr);
    signal(SIGINT, SIG_DFL);
    t->interrupted = stop;
    /* On disk before the final save, like the rows before every save. */
    gantry_status w = train_log_flush(t);
    if (!s)
        s = w;
    errno = 0;
    if (t->log && fclose(t->log) != 0 && !s)
        s = gantry_set_error(GANTRY_IO, "cannot write %s/log.csv: %s", t->out, strerror(errno ? errno : EIO));
    t->log = NULL;
    return train_mpi_agree(s);
}
