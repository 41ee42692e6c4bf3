/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Format: 4-byte big-endian magic 0x000008NN (0x08 = unsigned byte data,
 * NN = number of dimensions), NN big-endian uint32 dimensions, then exactly
 * product(dims) bytes.  zlib's gzread reads gzip and plain files alike, so
 * compression is detected from the content, not the name. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/dataset_impl.h"
#include "gantry/data.h"
#include "gantry/status.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* Reads up to `len` bytes.  Returns the number read (short only at the end of
 * the stream) or -1 on a zlib/read error, with the message in *err and
 * whether it was an operating-system error (rather than bad data) in
 * *os_error. */
static long long gz_read_full(gzFile f, void *buf, size_t len, const char **err, int *os_error)
{
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > (1u << 30))
            want = 1u << 30;
        int n = gzread(f, (unsigned char *)buf + got, (unsigned)want);
        if (n < 0) {
            int errnum = Z_OK;
            const char *msg = gzerror(f, &errnum);
            *err = errnum == Z_ERRNO ? strerror(errno) : msg;
            *os_error = errnum == Z_ERRNO;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    /* A gzip stream that ends early is reported by gzerror() with Z_BUF_ERROR
     * ("unexpected end of file") rather than by a negative gzread(). */
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    if (errnum != Z_OK) {
        *err = errnum == Z_ERRNO ? strerror(errno) : msg;
        *os_error = errnum == Z_ERRNO;
        return -1;
    }
    return (long long)got;
}

static gantry_status read_error(const char *path, const char *msg, int os_error)
{
    /* zlib prefixes its messages with "PATH: ". */
    size_t len = strlen(path);
    if (strncmp(msg, path, len) == 0 && msg[len] == ':' && msg[len + 1] == ' ')
        msg += len + 2;
    if (os_error)
        return gantry_set_error(GANTRY_IO, "%s: read error: %s", path, msg);
    return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: corrupt or truncated gzip data: %s", path, msg);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One validated IDX file: dims and the payload (owned). */
typedef struct idx_file {
    uint32_t dims[3];
    size_t size; /* product of dims */
    unsigned char *data;
} idx_file;

static gantry_status idx_read(const char *path, uint32_t magic, int ndims, idx_file *out)
{
    const char *kind = ndims == 3 ? "an IDX image file" : "an IDX label file";
    out->data = NULL;
    out->size = 0;

    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int err = errno;
        if (err == ENOENT)
            return gantry_set_error(GANTRY_NOT_FOUND, "%s: no such file", path);
        return gantry_set_error(GANTRY_IO, "%s: cannot open: %s", path, err ? strerror(err) : "out of memory");
    }
    gzbuffer(f, 1u << 17);

    gantry_status status = GANTRY_OK;
    const char *zerr = NULL;
    int os_error = 0;
    unsigned char header[16];
    size_t header_len = 4 + 4 * (size_t)ndims;
    unsigned char *data = NULL;
    size_t total = 1; /* product of the dims */

    long long got = gz_read_full(f, header, header_len, &zerr, &os_error);
    if (got < 0) {
        status = read_error(path, zerr, os_error);
        goto done;
    }
    if (got == 0) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: empty file (expected %s)", path, kind);
        goto done;
    }
    if (got >= 4 && be32(header) != magic) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: bad magic 0x%08x (expected 0x%08x for %s)", path,
                                  (unsigned)be32(header), (unsigned)magic, kind);
        goto done;
    }
    if ((size_t)got < header_len) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: truncated header (%lld of %zu bytes)", path, got,
                                  header_len);
        goto done;
    }

    for (int i = 0; i < ndims; i++) {
        out->dims[i] = be32(header + 4 + 4 * i);
        if (out->dims[i] == 0) {
            status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: dimension %d is zero", path, i);
            goto done;
        }
        if (total > SIZE_MAX / out->dims[i] || total * out->dims[i] > (size_t)LLONG_MAX / 2) {
            status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: declared dimensions are impossibly large", path);
            goto done;
        }
        total *= out->dims[i];
    }

    /* Read in growing chunks, never more than declared: a header that
     * declares more than the file holds must not allocate it all up front. */
    size_t cap = total < ((size_t)64 << 20) ? total : ((size_t)64 << 20);
    size_t have = 0;
    data = malloc(cap);
    if (!data) {
        status = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, cap);
        goto done;
    }
    for (;;) {
        got = gz_read_full(f, data + have, cap - have, &zerr, &os_error);
        if (got < 0) {
            status = read_error(path, zerr, os_error);
            goto done;
        }
        have += (size_t)got;
        if (have < cap || cap == total)
            break;
        size_t ncap = cap > total / 2 ? total : cap * 2;
        unsigned char *grown = realloc(data, ncap);
        if (!grown) {
            status = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, ncap);
            goto done;
        }
        data = grown;
        cap = ncap;
    }
    if (have < total) {
        if (ndims == 3)
            status = gantry_set_error(GANTRY_CORRUPT_FILE,
                                      "%s: declares %u images of %ux%u but holds only %zu bytes of data "
                                      "(needs %zu)",
                                      path, (unsigned)out->dims[0], (unsigned)out->dims[1],
                                      (unsigned)out->dims[2], have, total);
        else
            status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: declares %u labels but holds only %zu bytes of data",
                                      path, (unsigned)out->dims[0], have);
        goto done;
    }

    /* Anything after the declared data is an error too: count it. */
    unsigned char scratch[4096];
    size_t extra = 0;
    for (;;) {
        got = gz_read_full(f, scratch, sizeof scratch, &zerr, &os_error);
        if (got < 0) {
            status = read_error(path, zerr, os_error);
            goto done;
        }
        extra += (size_t)got;
        if ((size_t)got < sizeof scratch)
            break;
    }
    if (extra > 0) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE,
                                  "%s: %zu bytes of trailing data after the %zu bytes its header declares", path,
                                  extra, total);
        goto done;
    }

done:;
    int close_err = gzclose(f);
    if (status == GANTRY_OK && close_err != Z_OK) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: corrupt or truncated gzip data (%s)", path,
                                  close_err == Z_BUF_ERROR ? "unexpected end of file" : "read error");
    }
    if (status != GANTRY_OK) {
        free(data);
        return status;
    }
    out->data = data;
    out->size = total;
    return GANTRY_OK;
}

gantry_status gantry_idx_load(const char *images_path, const char *labels_path, size_t limit,
                              gantry_dataset **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_idx_load: out is NULL");
    *out = NULL;
    if (!images_path || !*images_path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_idx_load: no image file given");

    idx_file img = { { 0 }, 0, NULL }, lab = { { 0 }, 0, NULL };
    gantry_status s = idx_read(images_path, IDX_MAGIC_IMAGES, 3, &img);
    if (s != GANTRY_OK)
        return s;
    if (labels_path) {
        s = idx_read(labels_path, IDX_MAGIC_LABELS, 1, &lab);
        if (s != GANTRY_OK) {
            free(img.data);
            return s;
        }
        if (lab.dims[0] != img.dims[0]) {
            free(img.data);
            free(lab.data);
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: holds %u labels but %s holds %u images", labels_path,
                                    (unsigned)lab.dims[0], images_path, (unsigned)img.dims[0]);
        }
    }

    size_t count = img.dims[0];
    if (limit > 0 && limit < count)
        count = limit;
    uint8_t *labels = NULL;
    if (labels_path && !(labels = malloc(count))) {
        free(img.data);
        free(lab.data);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu labels", labels_path, count);
    }
    unsigned max = 0;
    if (labels) {
        memcpy(labels, lab.data, count);
        /* The class count comes from the whole label file, so that a `limit`
         * that happens to miss the last class does not shrink it. */
        for (size_t i = 0; i < lab.size; i++)
            if (lab.data[i] > max)
                max = lab.data[i];
    }
    free(lab.data);
    gantry_dataset *ds = NULL;
    GANTRY_TRY(gantry__dataset_wrap(count, 1, img.dims[1], img.dims[2], img.data, labels, &ds));
    gantry__dataset_truncate(ds, count); /* gives back what `limit` left out */
    ds->num_classes = labels ? (size_t)max + 1 : 0;
    ds->kind = "idx";
    *out = ds;
    return GANTRY_OK;
}
