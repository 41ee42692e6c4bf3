/* `gantry check`: report rows, NMSE with non-finite agreement, the case
 * harness that runs one op on two backends inside guarded buffers, and the
 * inputs the families build their cases from (tools/check/harness.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/harness.h"

/* ---- rows ----------------------------------------------------------------- */

/* Seconds on a monotonic clock (this file links into tests too, without
 * the CLI's helpers). */
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void clear_progress(check_suite *s)
{
    if (s->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

void check_progress(check_suite *s, const char *what, size_t done)
{
    if (!s->tty)
        return;
    double now = now_seconds();
    if (now - s->last_progress < 0.1)
        return;
    s->last_progress = now;
    fprintf(stderr, "\r\033[Kchecking %s on %s: %zu cases", what, s->backend_name, done);
    fflush(stderr);
}

void check_row_begin(check_suite *s, check_row *r, const char *name, const char *metric, double limit)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->metric = metric;
    /* Against itself the reference must agree bit for bit everywhere; the
     * tolerance of finite differences is not a comparison and stays. */
    r->limit = s->self && strcmp(metric, "fd") != 0 ? 0.0 : limit;
}

void check_row_case(check_suite *s, check_row *r, const char *desc, double err, const char *problem)
{
    r->cases++;
    int bad = (problem && problem[0]) || !(err <= r->limit);
    if (r->cases == 1 || err > r->worst || (isnan(err) && !isnan(r->worst))) {
        r->worst = err;
        snprintf(r->worst_case, sizeof r->worst_case, "%s", desc);
    }
    if (bad) {
        if (!r->failed) {
            snprintf(r->failed_case, sizeof r->failed_case, "%s", desc);
            if (problem && problem[0])
                snprintf(r->first_failure, sizeof r->first_failure, "%s: %s", desc, problem);
            else
                snprintf(r->first_failure, sizeof r->first_failure, "%s: %s %.3g > limit %.3g", desc, r->metric,
                         err, r->limit);
        }
        r->failed++;
    }
    check_progress(s, r->name, r->cases);
}

void check_row_failed(check_suite *s, check_row *r, const char *desc)
{
    char problem[320];
    snprintf(problem, sizeof problem, "%s failed: %s", s->backend_name, gantry_last_error());
    check_row_case(s, r, desc, INFINITY, problem);
}

static void format_error(double v, char *buf, size_t size)
{
    if (v == 0.0)
        snprintf(buf, size, "0");
    else
        snprintf(buf, size, "%.2e", v);
}

void check_row_end(check_suite *s, check_row *r)
{
    char worst[32], limit[32];
    format_error(r->worst, worst, sizeof worst);
    format_error(r->limit, limit, sizeof limit);
    int ok = r->failed == 0 && r->cases > 0;
    /* The case column: the first failure, else the worst case, unless
     * every case agreed exactly. */
    const char *shown = r->worst_case;
    if (!ok)
        shown = r->failed_case;
    else if (r->worst == 0.0 && !r->keep_case)
        shown = "all exact";
    clear_progress(s);
    printf("%-32s %-10s %-9s %-9s %-7s %6zu  %s  %s\n", r->name, s->backend_name, worst, limit, r->metric,
           r->cases, ok ? "PASS" : "FAIL", shown);
    if (!ok) {
        if (r->cases == 0)
            printf("    FAIL %s: no cases ran\n", r->name);
        else
            printf("    FAIL %s: %zu of %zu cases; first: %s\n", r->name, r->failed, r->cases, r->first_failure);
    }
    fflush(stdout);
    if (ok)
        s->passed++;
    else
        s->failed++;
}

/* ---- NMSE ----------------------------------------------------------------- */

int check_float_kind(float v)
{
    if (isnan(v))
        return 1;
    if (isinf(v))
        return v > 0 ? 2 : 3;
    return 0;
}

void check_diff_add(check_diff *d, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ka = check_float_kind(a[i]), kb = check_float_kind(b[i]);
        if (ka || kb) {
            if (ka != kb) {
                if (!d->nonfinite_mismatch)
                    d->first_mismatch = i;
                d->nonfinite_mismatch++;
            }
            continue;
        }
        double diff = (double)a[i] - (double)b[i];
        d->sq_err += diff * diff;
        d->sq_ref += (double)b[i] * (double)b[i];
        if (fabs(diff) > d->max_abs)
            d->max_abs = fabs(diff);
        d->compared++;
    }
}

double check_diff_nmse(const check_diff *d)
{
    return d->sq_ref > 0.0 ? d->sq_err / d->sq_ref : d->sq_err;
}

/* ---- guarded tensors ------------------------------------------------------ */

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

size_t check_guard_damage(const float *base, size_t n, long *where)
{
    size_t damaged = 0;
    for (size_t i = 0; i < CHECK_LEAD + n + CHECK_TRAIL; i++) {
        if (i == CHECK_LEAD)
            i += n;
        if (i >= CHECK_LEAD + n + CHECK_TRAIL)
            break;
        if (!same_bits(base[i], CHECK_SENTINEL)) {
            if (!damaged && where)
                *where = (long)i - CHECK_LEAD;
            damaged++;
        }
    }
    return damaged;
}

uint64_t check_case_seed(const char *row, size_t index)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = row; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull);
}

void check_case_init(check_case *c, uint64_t seed, check_run_fn run)
{
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->run = run;
}

float *check_case_arg(check_case *c, const char *name, int out, int ndim, size_t d0, size_t d1, size_t d2,
                      size_t d3)
{
    if (c->nargs >= CHECK_MAX_ARGS)
        return NULL;
    check_arg *a = &c->arg[c->nargs++];
    size_t dims[4] = { d0, d1, d2, d3 };
    a->name = name;
    a->ndim = ndim;
    a->n = 1;
    for (int i = 0; i < ndim; i++) {
        a->shape[i] = dims[i];
        a->n *= dims[i];
    }
    a->out = out;
    a->init = calloc(a->n, sizeof *a->init);
    return a->init;
}

float *check_arg_1d(check_case *c, const char *name, int out, size_t n)
{
    return check_case_arg(c, name, out, 1, n, 0, 0, 0);
}

float *check_arg_2d(check_case *c, const char *name, int out, size_t d0, size_t d1)
{
    return check_case_arg(c, name, out, 2, d0, d1, 0, 0);
}

float *check_uniform_arg(check_case *c, const char *name, int out, size_t n, float lo, float hi)
{
    float *v = check_arg_1d(c, name, out, n);
    check_fill_uniform(c, v, n, lo, hi);
    return v;
}

void check_fill_uniform(check_case *c, float *v, size_t n, float lo, float hi)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = gantry_philox_uniform(c->seed, c->stream, i, lo, hi);
    c->stream += gantry_philox_uniform_blocks(n);
}

void check_inject_nonfinite(float *v, size_t n, uint64_t phase)
{
    static const float kinds[3] = { NAN, INFINITY, -INFINITY };
    if (!v || !n)
        return;
    for (size_t i = (size_t)(phase % 17); i < n; i += 17)
        v[i] = kinds[(i / 17 + phase) % 3];
    v[(size_t)(phase % n)] = kinds[phase % 3];
}

void check_case_free(check_case *c)
{
    for (int i = 0; i < c->nargs; i++) {
        free(c->arg[i].init);
        c->arg[i].init = NULL;
    }
    c->nargs = 0;
}

/* One backend's run of a case: every argument's whole guarded buffer as
 * read back afterwards. */
typedef struct side {
    const char *who;
    gantry_status setup, status;
    char error[256];
    float *base[CHECK_MAX_ARGS];
} side;

static void side_free(side *sd)
{
    for (int i = 0; i < CHECK_MAX_ARGS; i++)
        free(sd->base[i]);
}

static void run_side(gantry_backend *be, const check_case *c, side *sd)
{
    gantry_tensor *base[CHECK_MAX_ARGS] = { 0 }, *view[CHECK_MAX_ARGS] = { 0 };
    gantry_status s = GANTRY_OK;
    for (int i = 0; i < c->nargs && !s; i++) {
        const check_arg *a = &c->arg[i];
        size_t total = CHECK_LEAD + a->n + CHECK_TRAIL;
        float *host = malloc(total * sizeof *host);
        if (!host || !a->init) {
            free(host);
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for '%s' (%zu floats)", a->name, a->n);
            break;
        }
        for (size_t j = 0; j < total; j++)
            host[j] = CHECK_SENTINEL;
        memcpy(host + CHECK_LEAD, a->init, a->n * sizeof *host);
        sd->base[i] = host;
        s = gantry_tensor_new(be, &base[i], total, 0, 0, 0);
        if (!s)
            s = gantry_tensor_write(base[i], host, total);
        if (!s)
            s = gantry_tensor_view(base[i], CHECK_LEAD, a->ndim, a->shape, &view[i]);
    }
    if (s) {
        sd->setup = s;
        snprintf(sd->error, sizeof sd->error, "setup: %s", gantry_last_error());
    } else {
        gantry_clear_error();
        s = c->run(view, c);
        if (!s)
            s = gantry_backend_synchronize(be);
        if (s) {
            sd->status = s;
            snprintf(sd->error, sizeof sd->error, "%s (%s)", gantry_last_error()[0] ? gantry_last_error()
                                                                                    : gantry_strerror(s),
                     gantry_status_name(s));
        }
        for (int i = 0; i < c->nargs && !sd->setup; i++) {
            gantry_status r = gantry_tensor_read(base[i], sd->base[i], CHECK_LEAD + c->arg[i].n + CHECK_TRAIL);
            if (r) {
                sd->setup = r;
                snprintf(sd->error, sizeof sd->error, "reading back '%s': %s", c->arg[i].name,
                         gantry_last_error());
            }
        }
    }
    for (int i = 0; i < c->nargs; i++) {
        gantry_tensor_destroy(view[i]);
        gantry_tensor_destroy(base[i]);
    }
}

/* Guards and unchanged inputs of one side; writes the first problem. */
static int side_problems(const check_case *c, const side *sd, char *problem, size_t size)
{
    for (int i = 0; i < c->nargs; i++) {
        const check_arg *a = &c->arg[i];
        long where = 0;
        size_t damaged = check_guard_damage(sd->base[i], a->n, &where);
        if (damaged) {
            const float *at = sd->base[i] + CHECK_LEAD + where;
            if (where < 0)
                snprintf(problem, size, "%s wrote %zu guard element(s) around '%s' [%zu], first %ld before it (%g)",
                         sd->who, damaged, a->name, a->n, -where, (double)*at);
            else
                snprintf(problem, size, "%s wrote %zu guard element(s) around '%s' [%zu], first at n+%ld (%g)",
                         sd->who, damaged, a->name, a->n, where - (long)a->n, (double)*at);
            return 1;
        }
        if (!a->out && memcmp(sd->base[i] + CHECK_LEAD, a->init, a->n * sizeof *a->init) != 0) {
            size_t j = 0;
            while (j < a->n && same_bits(sd->base[i][CHECK_LEAD + j], a->init[j]))
                j++;
            snprintf(problem, size, "%s modified its input '%s' at element %zu (%g -> %g)", sd->who, a->name, j,
                     (double)a->init[j], (double)sd->base[i][CHECK_LEAD + j]);
            return 1;
        }
    }
    return 0;
}

void check_case_run(check_suite *s, check_row *r, check_case *c)
{
    side sides[2] = { { .who = "reference" }, { .who = s->backend_name } };
    char problem[320] = "";
    double err = 0.0;
    run_side(s->ref, c, &sides[0]);
    run_side(s->test, c, &sides[1]);
    for (int k = 0; k < 2 && !problem[0]; k++)
        if (sides[k].setup || sides[k].status)
            snprintf(problem, sizeof problem, "%s failed: %s", sides[k].who, sides[k].error);
    for (int k = 0; k < 2 && !problem[0]; k++)
        side_problems(c, &sides[k], problem, sizeof problem);
    for (int i = 0; i < c->nargs && !problem[0]; i++) {
        const check_arg *a = &c->arg[i];
        if (!a->out)
            continue;
        const float *ref = sides[0].base[i] + CHECK_LEAD, *got = sides[1].base[i] + CHECK_LEAD;
        check_diff d = { 0 };
        check_diff_add(&d, got, ref, a->n);
        if (d.nonfinite_mismatch) {
            size_t j = d.first_mismatch;
            snprintf(problem, sizeof problem,
                     "NaN/Inf positions differ in '%s' at %zu element(s); first [%zu]: %g on %s, %g on reference",
                     a->name, d.nonfinite_mismatch, j, (double)got[j], s->backend_name, (double)ref[j]);
            break;
        }
        double e = check_diff_nmse(&d);
        if (e > err || isnan(e))
            err = e;
    }
    check_row_case(s, r, c->desc, err, problem);
    side_free(&sides[0]);
    side_free(&sides[1]);
    check_case_free(c);
}

/* ---- tensors on the backend under test alone ------------------------------ */

gantry_status check_host_tensor(gantry_backend *be, int ndim, const size_t *shape, const float *v,
                                gantry_tensor **out)
{
    GANTRY_TRY(gantry_tensor_create(be, ndim, shape, out));
    return v ? gantry_tensor_write(*out, v, gantry_tensor_numel(*out)) : gantry_op_fill(*out, 1000.5f);
}

gantry_status check_read_tensor(const gantry_tensor *t, float *v)
{
    return gantry_tensor_read(t, v, gantry_tensor_numel(t));
}

float *check_host_alloc(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

uint64_t check_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
