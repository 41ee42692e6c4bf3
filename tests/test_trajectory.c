/* The pieces of `gantry check` that decide pass or fail, on the reference
 * backend alone:
 *   - the GAN trajectory of two reference instances from one seed agrees
 *     bit for bit (initial state and every loss), so any difference
 *     `gantry check` reports for another backend is that backend's;
 *   - the tolerance schedule is tight at step 1 and never shrinks;
 *   - NMSE, relative differences, non-finite agreement and the sentinel
 *     guards behave as documented (tools/check/harness.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gantry/tensor.h"
#include "tests/test.h"
#include "tools/check/harness.h"
#include "tools/check/trajectory.h"

static void count_steps(void *user, unsigned step)
{
    unsigned *calls = user;
    CHECK(step == *calls + 1);
    (*calls)++;
}

static void test_trajectory_self(void)
{
    gantry_backend *a = NULL, *b = NULL;
    REQUIRE(gantry_backend_open("reference", NULL, &a) == GANTRY_OK);
    REQUIRE(gantry_backend_open("reference", NULL, &b) == GANTRY_OK);
    check_traj t;
    check_traj_cache cache;
    memset(&cache, 0, sizeof cache);
    CHECK_OK(check_trajectory(a, b, 2, CHECK_TRAJ_SEED, &cache, &t, NULL, NULL));
    CHECK(cache.seed == CHECK_TRAJ_SEED && cache.steps == 2);
    printf("initial state: %zu values in %zu tensors, %zu differ\n", t.state_values, t.state_tensors,
           t.state_mismatches);
    /* G: 5 Linear (weight, bias) + 3 BatchNorm (weight, bias, running mean and
     * var, num_batches_tracked); D: 3 Linear. */
    CHECK(t.state_tensors == 5 * 2 + 3 * 5 + 3 * 2);
    CHECK(t.state_values > 2000000);
    CHECK(t.state_mismatches == 0);
    CHECK(t.steps == 2);
    for (unsigned k = 0; k < t.steps; k++) {
        const check_traj_step *p = &t.step[k];
        printf("step %u: d_loss %.9f %.9f  g_loss %.9f %.9f\n", k + 1, p->d_loss[0], p->d_loss[1], p->g_loss[0],
               p->g_loss[1]);
        CHECK(memcmp(&p->d_loss[0], &p->d_loss[1], sizeof(double)) == 0);
        CHECK(memcmp(&p->g_loss[0], &p->g_loss[1], sizeof(double)) == 0);
        /* An untrained GAN: D(x) ~ 1/2, so d_loss ~ 2 ln 2 and g_loss ~ ln 2. */
        CHECK_NEAR(p->d_loss[0], 2.0 * log(2.0), 0.3);
        CHECK_NEAR(p->g_loss[0], log(2.0), 0.3);
    }
    /* From the cache the reference is not trained again, and the backend
     * (here a third reference instance) still agrees bit for bit. */
    gantry_backend *c = NULL;
    REQUIRE(gantry_backend_open("reference", NULL, &c) == GANTRY_OK);
    check_traj t2;
    unsigned calls = 0;
    CHECK_OK(check_trajectory(a, c, 2, CHECK_TRAJ_SEED, &cache, &t2, count_steps, &calls));
    CHECK(calls == 2 && t2.steps == 2 && t2.state_mismatches == 0);
    CHECK(memcmp(t.step, t2.step, 2 * sizeof *t.step) == 0);
    gantry_backend_close(c);
    /* Too many steps is an argument error, not an overrun. */
    CHECK_STATUS(check_trajectory(a, b, 1000, 1, NULL, &t, NULL, NULL), GANTRY_INVALID_ARGUMENT);
    gantry_backend_close(a);
    gantry_backend_close(b);
}

static void test_limits(void)
{
    CHECK(check_trajectory_limit(1) <= 1e-4);
    CHECK(check_trajectory_limit(CHECK_TRAJ_STEPS) <= 2e-2);
    CHECK(check_trajectory_limit(CHECK_TRAJ_STEPS) >= 1e-3);
    for (unsigned k = 1; k < 2 * CHECK_TRAJ_STEPS; k++)
        CHECK(check_trajectory_limit(k + 1) >= check_trajectory_limit(k));
    CHECK(check_trajectory_limit(0) == check_trajectory_limit(1));

    CHECK(check_rel_diff(1.0, 1.0) == 0.0);
    CHECK_NEAR(check_rel_diff(1.01, 1.0), 0.01, 1e-12);
    CHECK_NEAR(check_rel_diff(-2.0, -1.0), 1.0, 1e-12);
    CHECK(check_rel_diff(0.5, 0.0) == 0.5);
    CHECK(isinf(check_rel_diff(NAN, 1.0)));
    CHECK(isinf(check_rel_diff(1.0, INFINITY)));
}

static void test_nmse(void)
{
    const float b[4] = { 1.0f, -2.0f, 0.5f, 3.0f };
    float a[4];
    memcpy(a, b, sizeof a);
    check_diff d = { 0 };
    check_diff_add(&d, a, b, 4);
    CHECK(check_diff_nmse(&d) == 0.0 && d.nonfinite_mismatch == 0 && d.compared == 4);

    /* sum((a-b)^2) / sum(b^2): one element off by 0.1 */
    a[3] = 3.1f;
    memset(&d, 0, sizeof d);
    check_diff_add(&d, a, b, 4);
    double want = ((double)3.1f - 3.0) * ((double)3.1f - 3.0) / (1.0 + 4.0 + 0.25 + 9.0);
    CHECK_NEAR(check_diff_nmse(&d), want, 1e-15);

    /* A zero reference: the plain squared error. */
    const float zero[2] = { 0.0f, 0.0f }, small[2] = { 0.5f, 0.0f };
    memset(&d, 0, sizeof d);
    check_diff_add(&d, small, zero, 2);
    CHECK(check_diff_nmse(&d) == 0.25);

    /* Non-finite values must agree in kind and position; they do not enter
     * the NMSE. */
    const float ref[5] = { NAN, INFINITY, -INFINITY, 1.0f, 2.0f };
    float got[5] = { NAN, INFINITY, -INFINITY, 1.0f, 2.0f };
    memset(&d, 0, sizeof d);
    check_diff_add(&d, got, ref, 5);
    CHECK(d.nonfinite_mismatch == 0 && check_diff_nmse(&d) == 0.0 && d.compared == 2);
    got[0] = 0.0f;            /* NaN became a number */
    got[1] = -INFINITY;       /* +Inf became -Inf */
    got[4] = NAN;             /* a number became NaN */
    memset(&d, 0, sizeof d);
    check_diff_add(&d, got, ref, 5);
    CHECK(d.nonfinite_mismatch == 3 && d.first_mismatch == 0);
    got[0] = -NAN; /* the sign of a NaN does not matter */
    got[1] = INFINITY;
    got[4] = 2.0f;
    memset(&d, 0, sizeof d);
    check_diff_add(&d, got, ref, 5);
    CHECK(d.nonfinite_mismatch == 0);
    CHECK(check_float_kind(1.0f) == 0 && check_float_kind(NAN) == 1 && check_float_kind(INFINITY) == 2 &&
          check_float_kind(-INFINITY) == 3);
}

static void test_guards(void)
{
    enum { N = 7 };
    float base[CHECK_LEAD + N + CHECK_TRAIL];
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        base[i] = CHECK_SENTINEL;
    for (int i = 0; i < N; i++)
        base[CHECK_LEAD + i] = (float)i; /* the view itself may hold anything */
    long where = 99;
    CHECK(check_guard_damage(base, N, &where) == 0 && where == 99);
    base[CHECK_LEAD + N + 2] = 0.0f; /* an overrun */
    CHECK(check_guard_damage(base, N, &where) == 1 && where == N + 2);
    base[CHECK_LEAD - 1] = 1234.25f; /* and an underrun, found first */
    CHECK(check_guard_damage(base, N, &where) == 2 && where == -1);
    base[CHECK_LEAD - 1] = CHECK_SENTINEL;
    base[CHECK_LEAD + N + 2] = -CHECK_SENTINEL; /* the sign bit counts */
    CHECK(check_guard_damage(base, N, &where) == 1);
    base[CHECK_LEAD + N + 2] = CHECK_SENTINEL;
    base[CHECK_LEAD + N + CHECK_TRAIL - 1] = NAN; /* the last guard element too */
    CHECK(check_guard_damage(base, N, &where) == 1 && where == N + CHECK_TRAIL - 1);
}

int main(void)
{
    test_limits();
    test_nmse();
    test_guards();
    test_trajectory_self();
    return test_finish("test_trajectory");
}
