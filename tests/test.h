/* A tiny assertion harness: every check prints file:line and what differed,
 * and the test's exit status is the number of failures (capped), so meson
 * reports a failing test with the reason in its log. */
#ifndef GANTRY_TEST_H
#define GANTRY_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/status.h"
#include "gantry/tensor.h"

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                     \
    do {                                                                                                \
        test_checks++;                                                                                  \
        if (!(cond)) {                                                                                  \
            test_failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                    \
        }                                                                                               \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                           \
    do {                                                                                                \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                          \
        test_checks++;                                                                                  \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                                    \
            test_failures++;                                                                            \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n", __FILE__, __LINE__, #a,  \
                    check_a_, #b, check_b_, (double)(tol));                                             \
        }                                                                                               \
    } while (0)

/* Expects `expr` to return `status`; prints the last-error message otherwise. */
#define CHECK_STATUS(expr, status)                                                                      \
    do {                                                                                                \
        gantry_status check_s_ = (expr);                                                                \
        test_checks++;                                                                                  \
        if (check_s_ != (status)) {                                                                     \
            test_failures++;                                                                            \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__, #expr,     \
                    gantry_status_name(check_s_), gantry_status_name(status), gantry_last_error());     \
        }                                                                                               \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, GANTRY_OK)

/* Expects the last error message to contain `needle`. */
#define CHECK_ERROR_MENTIONS(needle)                                                                    \
    do {                                                                                                \
        test_checks++;                                                                                  \
        if (!strstr(gantry_last_error(), (needle))) {                                                   \
            test_failures++;                                                                            \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__,    \
                    gantry_last_error(), (needle));                                                     \
        }                                                                                               \
    } while (0)

/* Aborts the test at once when a precondition fails (setup errors). */
#define REQUIRE(cond)                                                                                   \
    do {                                                                                                \
        if (!(cond)) {                                                                                  \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s (%s)\n", __FILE__, __LINE__, #cond,              \
                    gantry_last_error());                                                               \
            exit(1);                                                                                    \
        }                                                                                               \
    } while (0)

/* Exits 77 (skipped) when backend `name` cannot run here, with the loader's
 * reason; under CI (CI=true) exits 1 instead, because CI must test it. */
static inline void test_require_backend(const char *name)
{
    gantry_backend_info *infos = NULL;
    size_t count = 0;
    REQUIRE(gantry_backend_scan(&infos, &count) == GANTRY_OK);
    const char *why = "the module was not found on the search path";
    int usable = 0;
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, name) == 0) {
            usable = infos[i].usable;
            why = infos[i].reason;
            break;
        }
    if (!usable) {
        const char *ci = getenv("CI");
        int in_ci = ci && strcmp(ci, "true") == 0;
        fprintf(stderr, "%s backend unusable: %s%s\n", name, why,
                in_ci ? " (CI=true: failing, CI must test it)" : "; skipping");
        free(infos);
        exit(in_ci ? 1 : 77);
    }
    free(infos);
}

static inline int test_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    if (test_checks == 0)
        return 1; /* a test that checked nothing cannot pass */
    return test_failures > 100 ? 100 : test_failures;
}

#endif
