/* `gantry check`: the GAN trained from one seed on the reference and on the
 * backend under test.
 *
 * The initial weights are drawn on the host from Philox, so both models
 * must start bit for bit equal.  The losses then drift apart: every step
 * rounds differently (summation order in GEMM and batch norm, float instead
 * of double), and training amplifies those differences chaotically.  Adam
 * is the main amplifier: its first update is lr * m / sqrt(v) ~ lr * sign(g)
 * for every weight, so a gradient component that sits at rounding-noise
 * level and differs in sign between the backends moves its weight by 2 lr
 * in opposite directions; from then on the two models are genuinely
 * different networks (by ~1e-4 per weight), and the adversarial game feeds
 * each difference back into both players.  The limit therefore starts tight
 * (step 1 only sees forward rounding: d_loss comes from identical weights)
 * and grows geometrically to step 20; see check_trajectory_limit().  A real
 * bug (a wrong gradient, a missed update) moves the losses by far more
 * within the first steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/gan.h"
#include "gantry/philox.h"
#include "tools/check/rows.h"
#include "tools/check/trajectory.h"

/* The synthetic "real" images use their own Philox key. */
#define REAL_DATA_MIX 0xC0FFEE1234567ull

/* Relative loss differences allowed (the larger of d_loss and g_loss):
 * TRAJ_FIRST at step 1, then TRAJ_SECOND at step 2 growing by TRAJ_GROWTH
 * per step up to TRAJ_CAP (reached at step 16).
 *
 * Measured for the cpu backend (packed float FMA GEMM, everything else as
 * the reference), worst over nine seeds, 1 and 2 threads alike:
 *   step       1       2       5       10      14      15      20
 *   measured   5.4e-7  6.8e-6  3.1e-5  1.2e-4  7.9e-4  9.8e-4  1.0e-3
 *   limit      1e-5    2e-4    5.5e-4  3.0e-3  1.1e-2  1.5e-2  2e-2
 * i.e. a margin of 10x to 30x at every step; the seed `gantry check` uses
 * (CHECK_TRAJ_SEED) stays at or below 2.4e-5.  Step 1 sees forward rounding
 * only in d_loss and one Adam update in g_loss; the jump to step 2 is the
 * sign amplification of Adam's first update described above; afterwards
 * the envelope grows about 1.4x per step. */
#define TRAJ_FIRST 1e-5
#define TRAJ_SECOND 2e-4
#define TRAJ_GROWTH 1.4
#define TRAJ_CAP 2e-2

double check_trajectory_limit(unsigned step)
{
    if (step <= 1)
        return TRAJ_FIRST;
    double limit = TRAJ_SECOND * pow(TRAJ_GROWTH, (double)(step - 2));
    return limit < TRAJ_CAP ? limit : TRAJ_CAP;
}

double check_rel_diff(double a, double b)
{
    if (!isfinite(a) || !isfinite(b))
        return a == b ? 0.0 : INFINITY;
    double d = fabs(a - b);
    return b != 0.0 ? d / fabs(b) : d;
}

/* Compares every state_dict entry of two Sequentials bit for bit. */
static gantry_status compare_state(gantry_seq *a, gantry_seq *b, const char *prefix, check_traj *out)
{
    size_t count = gantry_seq_state_count(a);
    if (count != gantry_seq_state_count(b))
        return gantry_set_error(GANTRY_INTERNAL, "trajectory: the models have %zu and %zu state entries", count,
                                gantry_seq_state_count(b));
    for (size_t i = 0; i < count; i++) {
        const gantry_param *pa = gantry_seq_state(a, i), *pb = gantry_seq_state(b, i);
        out->state_tensors++;
        size_t diffs = 0;
        if (pa->counter || pb->counter) {
            out->state_values++;
            diffs = !pa->counter || !pb->counter || *pa->counter != *pb->counter;
        } else {
            size_t n = gantry_tensor_numel(pa->value);
            if (n != gantry_tensor_numel(pb->value))
                return gantry_set_error(GANTRY_INTERNAL, "trajectory: %s%s differs in size", prefix, pa->name);
            float *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb);
            gantry_status s = (va && vb) ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
            if (!s)
                s = gantry_tensor_read(pa->value, va, n);
            if (!s)
                s = gantry_tensor_read(pb->value, vb, n);
            for (size_t j = 0; !s && j < n; j++)
                diffs += memcmp(&va[j], &vb[j], sizeof *va) != 0;
            free(va);
            free(vb);
            if (s)
                return s;
            out->state_values += n;
        }
        if (diffs && !out->state_mismatches)
            snprintf(out->first_mismatch, sizeof out->first_mismatch, "%s%s", prefix, pa->name);
        out->state_mismatches += diffs;
    }
    return GANTRY_OK;
}

gantry_status check_trajectory(gantry_backend *ref, gantry_backend *test, unsigned steps, uint64_t seed,
                               check_traj_cache *cache, check_traj *out, check_traj_progress_fn progress,
                               void *user)
{
    return check_trajectory_model(ref, test, "gan", steps, seed, cache, out, progress, user);
}

gantry_status check_trajectory_model(gantry_backend *ref, gantry_backend *test, const char *model, unsigned steps,
                                     uint64_t seed, check_traj_cache *cache, check_traj *out,
                                     check_traj_progress_fn progress, void *user)
{
    memset(out, 0, sizeof *out);
    if (steps > sizeof out->step / sizeof *out->step)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "trajectory: at most %zu steps",
                                sizeof out->step / sizeof *out->step);
    gantry_gan_config config;
    gantry_status s = gantry_gan_defaults(model, &config);
    if (s)
        return s;
    config.batch = 64;
    config.seed = seed;
    if (strcmp(model, "gan") != 0) {
        /* The conv models narrow and on a smaller batch, so that the
         * reference trains them in seconds; the cache holds gan only. */
        config.batch = CHECK_TRAJ_CONV_BATCH;
        config.base_channels = CHECK_TRAJ_CONV_WIDTH;
        cache = NULL;
    }
    gantry_gan *gans[2] = { NULL, NULL };
    size_t per_step = config.d_steps * config.batch * config.channels * config.height * config.width;
    float *real = malloc(per_step * sizeof *real);
    if (!real)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "trajectory: out of host memory");
    s = gantry_gan_create(ref, &config, &gans[0]);
    if (!s)
        s = gantry_gan_create(test, &config, &gans[1]);
    if (!s)
        s = compare_state(gantry_gan_generator(gans[0]), gantry_gan_generator(gans[1]), "G.", out);
    if (!s)
        s = compare_state(gantry_gan_discriminator(gans[0]), gantry_gan_discriminator(gans[1]), "D.", out);
    int cached = cache && cache->seed == seed && cache->steps >= steps;
    if (cache && !cached) {
        cache->seed = seed;
        cache->steps = 0;
    }
    for (unsigned k = 0; !s && k < steps; k++) {
        uint64_t offset = (uint64_t)k * gantry_philox_uniform_blocks(per_step);
        for (size_t i = 0; i < per_step; i++)
            real[i] = gantry_philox_uniform(seed ^ REAL_DATA_MIX, offset, i, -1.0f, 1.0f);
        for (int b = 0; b < 2 && !s; b++) {
            gantry_gan_stats st = { 0 };
            if (b == 0 && cached) {
                st.d_loss = cache->d_loss[k];
                st.g_loss = cache->g_loss[k];
            } else {
                s = gantry_gan_train_step(gans[b], real, &st);
            }
            out->step[k].d_loss[b] = st.d_loss;
            out->step[k].g_loss[b] = st.g_loss;
            if (b == 0 && cache && !cached && !s) {
                cache->d_loss[k] = st.d_loss;
                cache->g_loss[k] = st.g_loss;
                cache->steps = k + 1;
            }
        }
        out->steps = k + 1;
        if (progress && !s)
            progress(user, k + 1);
    }
    free(real);
    gantry_gan_destroy(gans[0]);
    gantry_gan_destroy(gans[1]);
    return s;
}

static void traj_progress(void *user, unsigned step)
{
    check_suite *s = user;
    if (s->tty) {
        fprintf(stderr, "\r\033[Kchecking the training trajectory on %s and reference: step %u/%u", s->backend_name,
                step, s->quick ? CHECK_TRAJ_STEPS_QUICK : CHECK_TRAJ_STEPS);
        fflush(stderr);
    }
}

static void trajectory_rows(check_suite *s, const char *model)
{
    unsigned steps = s->quick ? CHECK_TRAJ_STEPS_QUICK : CHECK_TRAJ_STEPS;
    check_traj t;
    check_row r;
    char desc[256], problem[320] = "", name[48];
    /* Rows "trajectory(...)" for gan, "dcgan trajectory(...)" for the others. */
    char prefix[24] = "";
    if (strcmp(model, "gan") != 0)
        snprintf(prefix, sizeof prefix, "%s ", model);
    traj_progress(s, 0);
    gantry_status st = check_trajectory_model(s->ref, s->test, model, steps, CHECK_TRAJ_SEED, s->traj_cache, &t,
                                              traj_progress, s);
    if (st)
        snprintf(problem, sizeof problem, "failed after %u step(s): %s", t.steps, gantry_last_error());

    snprintf(name, sizeof name, "%strajectory(init)", prefix);
    check_row_begin(s, &r, name, "diffs", 0.0);
    snprintf(desc, sizeof desc, "%zu values in %zu tensors of G and D%s%s", t.state_values, t.state_tensors,
             t.state_mismatches ? "; first differs: " : "", t.first_mismatch);
    check_row_case(s, &r, desc, (double)t.state_mismatches, t.state_tensors ? "" : problem);
    r.keep_case = 1;
    check_row_end(s, &r);

    for (unsigned k = 0; k < t.steps; k++) {
        const check_traj_step *p = &t.step[k];
        snprintf(name, sizeof name, "%strajectory(step%u)", prefix, k + 1);
        check_row_begin(s, &r, name, "rel", check_trajectory_limit(k + 1));
        snprintf(desc, sizeof desc, "d_loss %.7f vs %.7f", p->d_loss[1], p->d_loss[0]);
        check_row_case(s, &r, desc, check_rel_diff(p->d_loss[1], p->d_loss[0]), k + 1 == t.steps ? problem : "");
        snprintf(desc, sizeof desc, "g_loss %.7f vs %.7f", p->g_loss[1], p->g_loss[0]);
        check_row_case(s, &r, desc, check_rel_diff(p->g_loss[1], p->g_loss[0]), "");
        snprintf(r.worst_case, sizeof r.worst_case, "d_loss %.7f/%.7f g_loss %.7f/%.7f (%s/reference)",
                 p->d_loss[1], p->d_loss[0], p->g_loss[1], p->g_loss[0], s->backend_name);
        r.keep_case = 1;
        check_row_end(s, &r);
    }
    if (t.steps < steps && t.state_tensors) {
        /* The steps that never ran fail too, so a crash cannot look short. */
        snprintf(name, sizeof name, "%strajectory(run)", prefix);
        check_row_begin(s, &r, name, "rel", 0.0);
        check_row_case(s, &r, "training", INFINITY, problem[0] ? problem : "stopped early");
        check_row_end(s, &r);
    }
}

/* The gan's rows, then the narrow dcgan's. */
static void run_trajectories(check_suite *s, const check_spec *spec)
{
    (void)spec;
    trajectory_rows(s, "gan");
    trajectory_rows(s, "dcgan");
}

#define TRAJ_STR(x) #x
#define TRAJ_TEXT(x) TRAJ_STR(x)

/* run_trajectories writes every row; the specs after the first document
 * the rows it writes. */
static const check_spec table[] = {
    { .name = "trajectory(init)", .op = CHECK_OP_trajectory, .metric = "diffs", .limit = 0,
      .why = "the initial weights of G and D are drawn on the host from Philox, so both models start bit for "
             "bit equal (also dcgan trajectory(init))",
      .run_rows = run_trajectories },
    { .name = "trajectory(stepK)", .op = CHECK_OP_trajectory, .metric = "rel", .limit = TRAJ_FIRST,
      .limit_text = "step 1: " TRAJ_TEXT(TRAJ_FIRST) "; step K >= 2: " TRAJ_TEXT(TRAJ_SECOND) " * " TRAJ_TEXT(
          TRAJ_GROWTH) "^(K-2), at most " TRAJ_TEXT(TRAJ_CAP),
      .why = "the larger relative difference of d_loss and g_loss (also dcgan trajectory(stepK)). Float "
             "rounding differences are amplified chaotically by training: Adam's first update is about lr * "
             "sign(g) for every weight, so a gradient component at rounding-noise level that differs in sign "
             "between backends moves its weight by 2 lr in opposite directions, after which the two runs are "
             "different networks and the adversarial game feeds every difference back into both players. Step "
             "1 only sees forward rounding (d_loss) and one update (g_loss); a real bug (a wrong gradient, a "
             "missed update) moves the losses by far more within the first steps" },
    { .name = "trajectory(run)", .op = CHECK_OP_trajectory, .metric = "rel", .limit = 0,
      .why = "written only when training stopped early: the steps that never ran fail too, so a crash cannot "
             "look short" },
};

const check_family check_family_trajectory = CHECK_FAMILY(trajectory, table);
