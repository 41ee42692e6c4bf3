/* Status codes and the per-thread last-error message (core/status.c).
 *
 * Walks the one X-macro list in gantry/status.h, so a code added there is
 * checked here without editing this file. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/status.h"
#include "tests/test.h"

typedef struct status_entry {
    gantry_status status;
    int value;
    const char *name;
    const char *text;
} status_entry;

static const status_entry all_statuses[] = {
#define X_ENTRY(name, value, text) { GANTRY_##name, value, #name, text },
    GANTRY_STATUS_LIST(X_ENTRY)
#undef X_ENTRY
};

#define STATUS_COUNT (sizeof all_statuses / sizeof *all_statuses)

static void test_codes(void)
{
    CHECK(STATUS_COUNT >= 16);
    for (size_t i = 0; i < STATUS_COUNT; i++) {
        const status_entry *e = &all_statuses[i];
        CHECK((int)e->status == e->value);
        /* OK is 0, every error is negative. */
        CHECK(i == 0 ? e->status == GANTRY_OK : e->status < 0);

        const char *name = gantry_status_name(e->status);
        const char *text = gantry_strerror(e->status);
        REQUIRE(name && text);
        CHECK(name[0] != '\0');
        CHECK(text[0] != '\0');
        CHECK(strcmp(name, e->name) == 0);
        CHECK(strcmp(text, e->text) == 0);
        CHECK(strcmp(name, "UNKNOWN") != 0);
        CHECK(strcmp(text, "unknown status") != 0);

        for (size_t j = 0; j < i; j++) {
            const status_entry *o = &all_statuses[j];
            CHECK(e->value != o->value);
            CHECK(strcmp(gantry_status_name(o->status), name) != 0);
            CHECK(strcmp(gantry_strerror(o->status), text) != 0);
        }
    }
    CHECK(strcmp(gantry_status_name(GANTRY_SHAPE_MISMATCH), "SHAPE_MISMATCH") == 0);
    CHECK(strcmp(gantry_strerror(GANTRY_OK), "success") == 0);

    /* Values outside the list still give printable strings. */
    CHECK(strcmp(gantry_status_name((gantry_status)-999), "UNKNOWN") == 0);
    CHECK(strcmp(gantry_strerror((gantry_status)-999), "unknown status") == 0);
    CHECK(strcmp(gantry_status_name((gantry_status)7), "UNKNOWN") == 0);
}

static void test_set_error(void)
{
    gantry_clear_error();
    CHECK(strcmp(gantry_last_error(), "") == 0);

    /* Returns its status so callers can `return gantry_set_error(...)`. */
    CHECK(gantry_set_error(GANTRY_SHAPE_MISMATCH, "gemm: %s %d %zu %.2f", "A", -3, (size_t)42, 0.5) ==
          GANTRY_SHAPE_MISMATCH);
    CHECK(strcmp(gantry_last_error(), "gemm: A -3 42 0.50") == 0);
    for (size_t i = 0; i < STATUS_COUNT; i++)
        CHECK(gantry_set_error(all_statuses[i].status, "code %d", all_statuses[i].value) == all_statuses[i].status);
    CHECK(strcmp(gantry_last_error(), "code -15") == 0);

    /* A later error replaces the earlier message entirely. */
    gantry_set_error(GANTRY_IO, "a rather long first message");
    gantry_set_error(GANTRY_IO, "short");
    CHECK(strcmp(gantry_last_error(), "short") == 0);

    /* An empty message is allowed; clear resets to "". */
    gantry_set_error(GANTRY_IO, "%s", "");
    CHECK(strcmp(gantry_last_error(), "") == 0);
    gantry_set_error(GANTRY_IO, "x");
    gantry_clear_error();
    CHECK(strcmp(gantry_last_error(), "") == 0);

    /* Literal percent signs pass through a "%s". */
    gantry_set_error(GANTRY_IO, "%s", "100% %d %s");
    CHECK(strcmp(gantry_last_error(), "100% %d %s") == 0);
}

static void test_truncation(void)
{
    /* Messages are truncated at 1 KiB: 1023 characters and a terminator. */
    enum { LONG = 5000 };
    char *big = malloc(LONG + 1);
    REQUIRE(big);
    for (size_t i = 0; i < LONG; i++)
        big[i] = (char)('a' + i % 26);
    big[LONG] = '\0';
    CHECK(gantry_set_error(GANTRY_CORRUPT_FILE, "%s", big) == GANTRY_CORRUPT_FILE);
    const char *msg = gantry_last_error();
    CHECK(strlen(msg) == 1023);
    CHECK(strncmp(msg, big, 1023) == 0);

    /* Exactly at the limit and one below it. */
    big[1023] = '\0';
    gantry_set_error(GANTRY_IO, "%s", big);
    CHECK(strlen(gantry_last_error()) == 1023);
    big[1022] = '\0';
    gantry_set_error(GANTRY_IO, "%s", big);
    CHECK(strlen(gantry_last_error()) == 1022);
    CHECK(strcmp(gantry_last_error(), big) == 0);
    free(big);

    /* A long message built from many arguments is truncated as well. */
    gantry_set_error(GANTRY_IO, "%0900d|%0900d", 1, 2);
    CHECK(strlen(gantry_last_error()) == 1023);
    CHECK(gantry_last_error()[900] == '|');
}

static void test_reraise(void)
{
    /* Re-raising with the old message as an argument: the arguments point
     * into the message buffer that is being rewritten. */
    gantry_set_error(GANTRY_CORRUPT_FILE, "inner: bad magic");
    CHECK(gantry_set_error(GANTRY_IO, "ctx: %s", gantry_last_error()) == GANTRY_IO);
    CHECK(strcmp(gantry_last_error(), "ctx: inner: bad magic") == 0);
    gantry_set_error(GANTRY_IO, "outer (%s) again", gantry_last_error());
    CHECK(strcmp(gantry_last_error(), "outer (ctx: inner: bad magic) again") == 0);

    /* The same with a message at the limit: the result is truncated, starts
     * with the new context and continues with the old text. */
    char full[1100];
    memset(full, 'z', sizeof full);
    full[sizeof full - 1] = '\0';
    gantry_set_error(GANTRY_IO, "%s", full);
    REQUIRE(strlen(gantry_last_error()) == 1023);
    gantry_set_error(GANTRY_IO, "ctx: %s", gantry_last_error());
    const char *msg = gantry_last_error();
    CHECK(strlen(msg) == 1023);
    CHECK(strncmp(msg, "ctx: zzzz", 9) == 0);
    CHECK(strspn(msg + 5, "z") == 1018);

    /* The message as both the format's only content and an argument twice. */
    gantry_set_error(GANTRY_IO, "ab");
    gantry_set_error(GANTRY_IO, "%s%s", gantry_last_error(), gantry_last_error());
    CHECK(strcmp(gantry_last_error(), "abab") == 0);
}

/* ---- per-thread messages ------------------------------------------------- */

typedef struct thread_result {
    char seen_at_start[64];
    char seen_after_set[64];
    gantry_status returned;
} thread_result;

static void *thread_body(void *arg)
{
    thread_result *r = arg;
    snprintf(r->seen_at_start, sizeof r->seen_at_start, "%s", gantry_last_error());
    r->returned = gantry_set_error(GANTRY_DEVICE, "set in thread %d", 2);
    snprintf(r->seen_after_set, sizeof r->seen_after_set, "%s", gantry_last_error());
    return NULL;
}

static void test_threads(void)
{
    gantry_set_error(GANTRY_NOT_FOUND, "set in main");
    thread_result r;
    memset(&r, 0, sizeof r);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, thread_body, &r) == 0);
    REQUIRE(pthread_join(th, NULL) == 0);

    /* The new thread starts with no message and does not see main's... */
    CHECK(strcmp(r.seen_at_start, "") == 0);
    CHECK(strcmp(r.seen_after_set, "set in thread 2") == 0);
    CHECK(r.returned == GANTRY_DEVICE);
    /* ...and main does not see the thread's. */
    CHECK(strcmp(gantry_last_error(), "set in main") == 0);

    /* Several threads at once, each with its own message. */
    enum { THREADS = 8 };
    pthread_t ths[THREADS];
    thread_result rs[THREADS];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&ths[i], NULL, thread_body, &rs[i]) == 0);
    for (int i = 0; i < THREADS; i++) {
        REQUIRE(pthread_join(ths[i], NULL) == 0);
        CHECK(strcmp(rs[i].seen_at_start, "") == 0);
        CHECK(strcmp(rs[i].seen_after_set, "set in thread 2") == 0);
    }
    CHECK(strcmp(gantry_last_error(), "set in main") == 0);
}

int main(void)
{
    test_codes();
    test_set_error();
    test_truncation();
    test_reraise();
    test_threads();
    return test_finish("test_status");
}
