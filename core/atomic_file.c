/* Atomic file writes: temp file next to the target, then rename(2). */
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The process umask without changing it (umask(2) can only be read by
 * setting it, which would race with other threads creating files).  Linux
 * reports it in /proc/self/status; elsewhere assume the common 022. */
static mode_t current_umask(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return mask;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end = NULL;
            unsigned long v = strtoul(line + 6, &end, 8);
            if (end != line + 6)
                mask = (mode_t)(v & 0777);
            break;
        }
    }
    fclose(f);
    return mask;
}

static void release(gantry__atomic_file *af)
{
    free(af->target);
    free(af->tmp);
    af->target = NULL;
    af->tmp = NULL;
    af->fp = NULL;
}

gantry_status gantry__atomic_open(gantry__atomic_file *af, const char *path)
{
    if (!af)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "atomic write: no file object");
    af->fp = NULL;
    af->target = NULL;
    af->tmp = NULL;
    af->write_errno = 0;
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "write: empty output path");

    static const char suffix[] = ".tmp.XXXXXX";
    size_t len = strlen(path);
    af->target = malloc(len + 1);
    af->tmp = malloc(len + sizeof suffix);
    if (!af->target || !af->tmp) {
        release(af);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory for the output path", path);
    }
    memcpy(af->target, path, len + 1);
    memcpy(af->tmp, path, len);
    memcpy(af->tmp + len, suffix, sizeof suffix);

    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int err = errno;
        gantry_status s = gantry_set_error(GANTRY_IO, "%s: cannot create a temporary file next to it: %s",
                                           path, strerror(err));
        release(af);
        return s;
    }
    /* mkstemp creates 0600; give the result the mode a plain fopen would. */
    (void)fchmod(fd, (mode_t)(0666 & ~current_umask()));
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int err = errno;
        close(fd);
        unlink(af->tmp);
        gantry_status s = gantry_set_error(GANTRY_IO, "%s: cannot open a temporary file: %s", path, strerror(err));
        release(af);
        return s;
    }
    return GANTRY_OK;
}

gantry_status gantry__atomic_write(gantry__atomic_file *af, const void *data, size_t size)
{
    if (!af || !af->fp)
        return GANTRY_IO;
    if (size == 0)
        return GANTRY_OK;
    errno = 0;
    if (fwrite(data, 1, size, af->fp) != size) {
        if (!af->write_errno)
            af->write_errno = errno ? errno : EIO;
        return GANTRY_IO;
    }
    return GANTRY_OK;
}

void gantry__atomic_abort(gantry__atomic_file *af)
{
    if (!af)
        return;
    int saved = errno;
    if (af->fp)
        fclose(af->fp);
    if (af->tmp)
        unlink(af->tmp);
    release(af);
    errno = saved;
}

gantry_status gantry__atomic_commit(gantry__atomic_file *af, bool sync)
{
    if (!af || !af->fp || !af->tmp || !af->target) {
        gantry__atomic_abort(af);
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "atomic write: file is not open");
    }
    const char *what = NULL;
    int err = 0;
    FILE *fp = af->fp;
    af->fp = NULL;

    if (ferror(fp)) {
        what = "write failed";
        err = af->write_errno ? af->write_errno : EIO;
    } else if (fflush(fp) != 0) {
        what = "write failed";
        err = errno;
    } else if (sync && fsync(fileno(fp)) != 0) {
        what = "fsync failed";
        err = errno;
    }
    if (fclose(fp) != 0 && !what) {
        what = "close failed";
        err = errno;
    }
    if (!what && rename(af->tmp, af->target) != 0) {
        what = "cannot rename the temporary file into place";
        err = errno;
    }
    if (what) {
        unlink(af->tmp);
        gantry_status s = gantry_set_error(GANTRY_IO, "%s: %s: %s", af->target, what, strerror(err));
        release(af);
        return s;
    }
    release(af);
    return GANTRY_OK;
}

gantry_status gantry__atomic_write_file(const char *path, const void *data, size_t size, bool sync)
{
    gantry__atomic_file af;
    gantry_status s = gantry__atomic_open(&af, path);
    if (s != GANTRY_OK)
        return s;
    (void)gantry__atomic_write(&af, data, size); /* a failure is reported by commit */
    return gantry__atomic_commit(&af, sync);
}
