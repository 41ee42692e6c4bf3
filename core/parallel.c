/* A plain-pthreads parallel for: workers take the next index from a shared
 * counter; the calling thread reports progress while they run. */
#include "core/parallel.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256

typedef struct pool {
    gantry__task_fn task;
    void *ctx;
    size_t n;
    atomic_size_t next; /* the next index to take */
    atomic_size_t done; /* indices finished */
    pthread_mutex_t lock;
    pthread_cond_t finished; /* signalled when a worker ends */
    int running;             /* workers not yet ended, under lock */
} pool;

int gantry__thread_count(int threads)
{
    if (threads > 0)
        return threads < MAX_THREADS ? threads : MAX_THREADS;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
}

static void run_tasks(pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        p->task(p->ctx, i);
        atomic_fetch_add(&p->done, 1);
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    run_tasks(p);
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_signal(&p->finished);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void report(const gantry_data_options *opts, size_t done, size_t total)
{
    if (opts && opts->progress)
        opts->progress(done, total, opts->user);
}

/* Waits for the workers, reporting progress every 100 ms. */
static void wait_reporting(pool *p, const gantry_data_options *opts, size_t done_before, size_t total)
{
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        int rc = pthread_cond_timedwait(&p->finished, &p->lock, &until);
        if (rc == ETIMEDOUT && p->running > 0) {
            pthread_mutex_unlock(&p->lock);
            report(opts, done_before + atomic_load(&p->done), total);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void gantry__parallel_for(size_t n, int threads, gantry__task_fn task, void *ctx, const gantry_data_options *opts,
                          size_t done_before, size_t total)
{
    if (n == 0)
        return;
    pool p = { .task = task, .ctx = ctx, .n = n, .running = 0 };
    atomic_init(&p.next, 0);
    atomic_init(&p.done, 0);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.finished, NULL);

    size_t want = (size_t)gantry__thread_count(threads);
    if (want > n)
        want = n;
    pthread_t ids[MAX_THREADS];
    size_t started = 0;
    /* One worker is worth starting too when this thread is to report. */
    int use_threads = want > 1 || (opts && opts->progress);
    pthread_mutex_lock(&p.lock);
    for (; use_threads && started < want; started++) {
        if (pthread_create(&ids[started], NULL, worker, &p) != 0)
            break;
        p.running++;
    }
    pthread_mutex_unlock(&p.lock);

    if (started == 0)
        run_tasks(&p);
    else
        wait_reporting(&p, opts, done_before, total);
    for (size_t t = 0; t < started; t++)
        pthread_join(ids[t], NULL);
    pthread_cond_destroy(&p.finished);
    pthread_mutex_destroy(&p.lock);
    report(opts, done_before + n, total);
}
