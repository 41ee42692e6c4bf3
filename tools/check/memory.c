/* `gantry check`, the memory family: buffer_write, buffer_read and
 * buffer_copy at many windows of a guarded buffer.  buffer_alloc,
 * buffer_free and synchronize have no rows of their own: every case of
 * every row allocates, synchronizes and frees (tools/check/rows.c). */
#include <stdlib.h>
#include <string.h>

#include "gantry/philox.h"
#include "tools/check/rows.h"

/* ---- buffers ---------------------------------------------------------------
 * Transfers at many (offset, length) windows of a guarded buffer, checked
 * against what was written: every element must come back bit for bit and
 * nothing outside the window may change.  The error is the number of
 * elements that differ. */

static const size_t window_lengths[] = { 1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 64, 65, 127, 257, 1021, 4099 };
static const size_t window_offsets[] = { 0, 1, 2, 3, 5, 7, 8, 13, 17 };

enum { BUF_WRITE, BUF_READ, BUF_COPY };

static size_t count_differences(const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += memcmp(&a[i], &b[i], sizeof *a) != 0;
    return bad;
}

/* A buffer of BUF_TOTAL floats holds every window with guards after it. */
#define BUF_TOTAL (17 + 4099 + 17 + CHECK_TRAIL)
#define HOST_GUARD 16

/* write: data into [off, off + len) of a buffer of sentinels.
 * read: [off, off + len) of a buffer of data into a host array followed by
 *       a guard of sentinels.
 * copy: data from another buffer at another offset, or (short windows at
 *       odd offsets) from far away in the same buffer, into [off, off + len);
 *       the source must stay as it was.
 * Fills want[] (BUF_TOTAL, or len + HOST_GUARD for read) and got[] with
 * what should and what did come back. */
static gantry_status buffer_window_run(gantry_backend *be, int mode, size_t off, size_t len, uint64_t seed,
                                       float *want, float *got, size_t *count)
{
    gantry_tensor *base = NULL, *view = NULL, *base2 = NULL, *view2 = NULL;
    gantry_status s = gantry_tensor_new(be, &base, BUF_TOTAL, 0, 0, 0);
    float *src = malloc(BUF_TOTAL * sizeof *src);
    if (!s && !src)
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!s && mode == BUF_READ) {
        for (size_t i = 0; i < BUF_TOTAL; i++)
            src[i] = gantry_philox_uniform(seed, 0, i, -8.0f, 8.0f);
        for (size_t i = 0; i < len + HOST_GUARD; i++) {
            want[i] = i < len ? src[off + i] : CHECK_SENTINEL;
            got[i] = CHECK_SENTINEL;
        }
        *count = len + HOST_GUARD;
        s = gantry_tensor_write(base, src, BUF_TOTAL);
        if (!s)
            s = gantry_tensor_view(base, off, 1, &len, &view);
        if (!s)
            s = gantry_tensor_read(view, got, len);
    } else if (!s) {
        for (size_t i = 0; i < BUF_TOTAL; i++)
            want[i] = CHECK_SENTINEL;
        *count = BUF_TOTAL;
        const float *data = src;
        for (size_t i = 0; i < len; i++)
            src[i] = gantry_philox_uniform(seed, 0, i, -8.0f, 8.0f);
        if (mode == BUF_WRITE) {
            s = gantry_tensor_write(base, want, BUF_TOTAL);
            if (!s)
                s = gantry_tensor_view(base, off, 1, &len, &view);
            if (!s)
                s = gantry_tensor_write(view, data, len);
        } else {
            int same = len <= 64 && off % 2 == 1;
            size_t off2 = (same ? 2048 : 0) + (off * 7 + 3) % 17;
            float *image = malloc(BUF_TOTAL * sizeof *image);
            if (!image)
                s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
            if (!s) {
                for (size_t i = 0; i < BUF_TOTAL; i++)
                    image[i] = CHECK_SENTINEL;
                memcpy(image + off2, data, len * sizeof *image);
                if (same)
                    memcpy(want, image, BUF_TOTAL * sizeof *want); /* the source stays */
                else
                    s = gantry_tensor_new(be, &base2, BUF_TOTAL, 0, 0, 0);
            }
            if (!s)
                s = gantry_tensor_write(same ? base : base2, image, BUF_TOTAL);
            if (!s && !same)
                s = gantry_tensor_write(base, want, BUF_TOTAL);
            if (!s)
                s = gantry_tensor_view(same ? base : base2, off2, 1, &len, &view2);
            if (!s)
                s = gantry_tensor_view(base, off, 1, &len, &view);
            if (!s)
                s = gantry_tensor_copy(view, view2);
            if (!s && !same) {
                s = gantry_tensor_read(base2, got, BUF_TOTAL);
                if (!s && count_differences(got, image, BUF_TOTAL))
                    s = gantry_set_error(GANTRY_INTERNAL, "buffer_copy changed its source");
            }
            free(image);
        }
        memcpy(want + off, data, len * sizeof *want);
        if (!s)
            s = gantry_tensor_read(base, got, BUF_TOTAL);
    }
    free(src);
    gantry_tensor_destroy(view2);
    gantry_tensor_destroy(base2);
    gantry_tensor_destroy(view);
    gantry_tensor_destroy(base);
    return s;
}

/* One window on one backend; returns differing elements (or SIZE_MAX when
 * an op failed, with `problem` set). */
static size_t buffer_window(gantry_backend *be, int mode, size_t off, size_t len, uint64_t seed, char *problem,
                            size_t psize)
{
    float *want = malloc(BUF_TOTAL * sizeof *want), *got = malloc(BUF_TOTAL * sizeof *got);
    size_t count = 0, bad = SIZE_MAX;
    gantry_status s = (want && got) ? buffer_window_run(be, mode, off, len, seed, want, got, &count)
                                    : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (s)
        snprintf(problem, psize, "%s failed: %s", gantry_backend_name(be), gantry_last_error());
    else
        bad = count_differences(got, want, count);
    free(want);
    free(got);
    return bad;
}

static void check_buffer(check_suite *s, check_row *r, const check_spec *spec)
{
    int mode = spec->variant;
    size_t index = 0;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(window_lengths); i++)
        for (size_t j = 0; j < CHECK_ARRAY_LEN(window_offsets); j++, index++) {
            if (s->quick && (i + j) % 3)
                continue;
            size_t len = window_lengths[i], off = window_offsets[j];
            char desc[96], problem[320] = "";
            snprintf(desc, sizeof desc, "%zu floats at offset %zu", len, off);
            size_t bad = 0;
            gantry_backend *bes[2] = { s->ref, s->test };
            for (int k = 0; k < 2 && !problem[0]; k++) {
                size_t b = buffer_window(bes[k], mode, off, len, check_case_seed(spec->name, index), problem,
                                         sizeof problem);
                if (b != SIZE_MAX && b > bad)
                    bad = b;
                if (!problem[0] && b)
                    snprintf(problem, sizeof problem, "%s: %zu element(s) differ from what was written",
                             k ? s->backend_name : "reference", b);
            }
            check_row_case(s, r, desc, (double)bad, problem);
        }
}

/* Transfers move bits: nothing to round, nothing to sum. */
static const char why_bits[] = "moves bits: every element comes back bit for bit, nothing outside the window changes";

static const check_spec table[] = {
    { .name = "buffer_write", .op = CHECK_OP_buffer_write, .metric = "diffs", .limit = 0, .why = why_bits,
      .run = check_buffer, .variant = BUF_WRITE },
    { .name = "buffer_read", .op = CHECK_OP_buffer_read, .metric = "diffs", .limit = 0, .why = why_bits,
      .run = check_buffer, .variant = BUF_READ },
    { .name = "buffer_copy", .op = CHECK_OP_buffer_copy, .metric = "diffs", .limit = 0,
      .why = "moves bits, also within one buffer; the source stays as it was", .run = check_buffer,
      .variant = BUF_COPY },
};

const check_family check_family_memory = CHECK_FAMILY(memory, table);
