/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Format: 4-byte big-endian magic 0x000008NN (0x08 = unsigned byte data,
 * NN = number of dimensions), NN big-endian uint32 dimensions, then exactly
 * product(dims) bytes.  zlib's gzread reads gzip and plain files alike, so
 * compression is detected from the content, not the name. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* One validated IDX file: dims and the items read (owned). */
typedef struct idx_file {
    uint32_t dims[3];
    size_t item;         /* bytes per item: the product of the dims after the first */
    size_t count;        /* items read: the first `keep` of dims[0] */
    unsigned char *data; /* count * item bytes */
    unsigned max;        /* with `scan`: the largest byte of the whole payload */
} idx_file;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

/* Whether the file holds `bytes` (header and payload) by its size alone,
 * without reading the payload: a plain file's length, or a gzip file's last
 * four bytes, the uncompressed length modulo 2^32 of its (last) member.  No
 * says nothing for sure (a file of several gzip members, a 1 in 2^32
 * coincidence): the caller then reads the rest through to know. */
static int size_matches(const char *path, int plain, uint64_t bytes)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    struct stat st;
    unsigned char tail[4];
    int ok = plain ? fstat(fileno(fp), &st) == 0 && (uint64_t)st.st_size == bytes
                   : fseek(fp, -4, SEEK_END) == 0 && fread(tail, 1, 4, fp) == 4 && le32(tail) == (uint32_t)bytes;
    fclose(fp);
    return ok;
}

/* The payload after the items kept: `rest` bytes, then the end of the file.
 * Read through in small pieces (memory stays constant) when `scan` asks for
 * their largest byte or the file's size cannot vouch for them; otherwise
 * left unread, which is what makes --limit cheap on a huge file. */
static gantry_status check_rest(const char *path, gzFile f, int ndims, size_t header_len, size_t total, size_t rest,
                                int may_skip, int scan, idx_file *out)
{
    if (may_skip && !scan && rest > 0 && size_matches(path, gzdirect(f), (uint64_t)header_len + total))
        return GANTRY_OK;
    unsigned char scratch[1 << 16];
    size_t have = 0, extra = 0;
    const char *zerr = NULL;
    int os_error = 0;
    for (;;) {
        long long got = gz_read_full(f, scratch, sizeof scratch, &zerr, &os_error);
        if (got < 0)
            return read_error(path, zerr, os_error);
        size_t part = have < rest ? ((size_t)got < rest - have ? (size_t)got : rest - have) : 0;
        for (size_t i = 0; scan && i < part; i++)
            if (scratch[i] > out->max)
                out->max = scratch[i];
        have += part;
        extra += (size_t)got - part;
        if ((size_t)got < sizeof scratch)
            break;
    }
    size_t held = total - rest + have;
    if (have < rest && ndims == 3)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: declares %u images of %ux%u but holds only %zu bytes of data (needs %zu)", path,
                                (unsigned)out->dims[0], (unsigned)out->dims[1], (unsigned)out->dims[2], held, total);
    if (have < rest)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: declares %u labels but holds only %zu bytes of data", path,
                                (unsigned)out->dims[0], held);
    if (extra > 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: %zu bytes of trailing data after the %zu bytes its header declares", path, extra,
                                total);
    return GANTRY_OK;
}

/* Reads the header and the first `keep` items (0: all), never allocating
 * more than the file has delivered so far, so that a header declaring more
 * than the file holds, or than --limit uses, costs no memory. */
static gantry_status read_items(const char *path, gzFile f, size_t want, unsigned char **data, size_t *have)
{
    const char *zerr = NULL;
    int os_error = 0;
    size_t cap = want < ((size_t)64 << 20) ? want : ((size_t)64 << 20);
    *have = 0;
    *data = malloc(cap ? cap : 1);
    if (!*data)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, cap);
    for (;;) {
        long long got = gz_read_full(f, *data + *have, cap - *have, &zerr, &os_error);
        if (got < 0)
            return read_error(path, zerr, os_error);
        *have += (size_t)got;
        if (*have < cap || cap == want)
            return GANTRY_OK;
        size_t ncap = cap > want / 2 ? want : cap * 2;
        unsigned char *grown = realloc(*data, ncap);
        if (!grown)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, ncap);
        *data = grown;
        cap = ncap;
    }
}

static gantry_status idx_read(const char *path, uint32_t magic, int ndims, size_t keep, int scan, idx_file *out)
{
    const char *kind = ndims == 3 ? "an IDX image file" : "an IDX label file";
    out->data = NULL;
    out->count = 0;
    out->max = 0;

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
    size_t item = 1; /* the product of the dims after the first */
    size_t total = 1; /* of all dims */

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
        if (i > 0)
            item *= out->dims[i];
    }
    out->item = item;
    out->count = keep > 0 && keep < out->dims[0] ? keep : out->dims[0];

    size_t want = out->count * item, have = 0;
    status = read_items(path, f, want, &data, &have);
    if (status != GANTRY_OK)
        goto done;
    for (size_t i = 0; scan && i < have; i++)
        if (data[i] > out->max)
            out->max = data[i];
    /* Short of the items kept: the rest is read through for the count of
     * what is there, whatever the file's size says. */
    size_t rest = have < want ? total - have : total - want;
    status = check_rest(path, f, ndims, header_len, total, rest, have == want, scan, out);

done:;
    int close_err = gzclose(f);
    if (status == GANTRY_OK && close_err != Z_OK) {
        status = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: corrupt or truncated gzip data (%s)", path,
                                  close_err == Z_BUF_ERROR ? "unexpected end of file" : "read error");
    }
    if (status != GANTRY_OK) {
        free(data);
        out->count = 0;
        return status;
    }
    out->data = data;
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

    /* Only the images `limit` asks for are read; the labels file is read
     * through for its largest label, one byte per image at a time. */
    idx_file img = { { 0 }, 0, 0, NULL, 0 }, lab = { { 0 }, 0, 0, NULL, 0 };
    gantry_status s = idx_read(images_path, IDX_MAGIC_IMAGES, 3, limit, 0, &img);
    if (s != GANTRY_OK)
        return s;
    if (labels_path) {
        s = idx_read(labels_path, IDX_MAGIC_LABELS, 1, img.count, 1, &lab);
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
    gantry_dataset *ds = NULL;
    s = gantry__dataset_wrap(img.count, 1, img.dims[1], img.dims[2], img.data, lab.data, &ds);
    if (s != GANTRY_OK)
        return s;
    /* The class count comes from the whole label file, so that a `limit`
     * that happens to miss the last class does not shrink it. */
    ds->num_classes = labels_path ? (size_t)lab.max + 1 : 0;
    ds->kind = "idx";
    *out = ds;
    return GANTRY_OK;
}
