/* gantry internal: write a file atomically.
 *
 * The data goes to a temporary file `TARGET.tmp.XXXXXX` (mkstemp) in the
 * target's directory, which gantry__atomic_commit() flushes, optionally
 * fsyncs, closes (checking every step) and renames over the target.  On any
 * error, and in gantry__atomic_abort(), the temporary file is unlinked, so a
 * failed write never leaves a half-written target or a stray temp file.
 *
 * Usage:
 *     gantry__atomic_file af;
 *     gantry_status s = gantry__atomic_open(&af, path);
 *     if (s != GANTRY_OK) return s;              // message already set
 *     gantry__atomic_write(&af, bytes, size);    // errors are sticky
 *     ... or write to af.fp directly (checked by commit through ferror)
 *     return gantry__atomic_commit(&af, false);  // or abort on own error
 *
 * Not part of the public API (no GANTRY_API); internal symbols use the
 * gantry__ prefix. */
#ifndef GANTRY_CORE_ATOMIC_FILE_H
#define GANTRY_CORE_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gantry/status.h"

typedef struct gantry__atomic_file {
    FILE *fp;     /* the open temporary file; NULL once committed or aborted */
    char *target; /* copy of the target path */
    char *tmp;    /* the temporary file's path */
    int write_errno; /* errno of the first failed gantry__atomic_write, else 0 */
} gantry__atomic_file;

/* Creates the temporary file for `path`.  On error sets the last error
 * (GANTRY_IO naming the path, or GANTRY_INVALID_ARGUMENT / OUT_OF_MEMORY)
 * and leaves nothing on disk; `af` then needs no abort. */
gantry_status gantry__atomic_open(gantry__atomic_file *af, const char *path);

/* Appends `size` bytes.  A failed write is remembered by the stream and
 * reported by commit; the return value reports it early too (GANTRY_IO,
 * without setting the message, so the caller may go on to commit/abort). */
gantry_status gantry__atomic_write(gantry__atomic_file *af, const void *data, size_t size);

/* Flushes, fsyncs when `sync`, closes and renames into place.  On any
 * failure sets GANTRY_IO naming the target, removes the temporary file and
 * returns the error.  Always releases `af`. */
gantry_status gantry__atomic_commit(gantry__atomic_file *af, bool sync);

/* Closes and removes the temporary file without touching the target and
 * without changing the last error.  Safe to call on a released `af`. */
void gantry__atomic_abort(gantry__atomic_file *af);

/* Convenience: writes one buffer to `path` atomically. */
gantry_status gantry__atomic_write_file(const char *path, const void *data, size_t size, bool sync);

#endif
