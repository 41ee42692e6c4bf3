/* NumPy .npy files of float32 (and, read, uint8).
 *
 * Writer: format 1.0, {'descr': '<f4', 'fortran_order': False, 'shape': (..), }
 * padded with spaces and a final '\n' so that magic + header is a multiple of
 * 64 bytes, as numpy itself writes it.  Reader: formats 1.0 and 2.0, dtype
 * '<f4' or '|u1', C order, 0 to 4 dimensions, and exactly the data the shape
 * needs. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/npy.h"
#include "gantry/io.h"
#include "gantry/status.h"

#define NPY_MAX_DIMS 4

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap32(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
        memcpy(&v[i], &u, 4);
    }
}

gantry_status gantry_npy_write(const char *path, const float *data, int ndim, const size_t *shape)
{
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "npy: empty output path");
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %d dimensions (0 to %d supported)", path, ndim,
                                NPY_MAX_DIMS);
    if (ndim > 0 && !shape)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: no shape given", path);

    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 0 && count > SIZE_MAX / sizeof(float) / shape[i])
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: shape is too large", path);
        count *= shape[i];
        len += snprintf(dict + len, sizeof dict - (size_t)len, i == 0 ? "%zu" : ", %zu", shape[i]);
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", ndim == 1 ? "," : "");
    if (count > 0 && !data)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: no data given", path);

    /* magic(6) + version(2) + header length(2) + dict + spaces + '\n', padded
     * to a multiple of 64 exactly as numpy's _wrap_header pads it (which adds
     * a full 64 spaces when the unpadded length is already aligned). */
    size_t unpadded = 10 + (size_t)len + 1;
    size_t total = unpadded + (64 - unpadded % 64);
    size_t hlen = total - 10;
    unsigned char header[320];
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (unsigned char)(hlen & 0xff);
    header[9] = (unsigned char)(hlen >> 8);
    memcpy(header + 10, dict, (size_t)len);
    memset(header + 10 + len, ' ', hlen - (size_t)len - 1);
    header[total - 1] = '\n';

    gantry__atomic_file af;
    gantry_status s = gantry__atomic_open(&af, path);
    if (s != GANTRY_OK)
        return s;
    gantry__atomic_write(&af, header, total);
    if (host_is_little_endian()) {
        gantry__atomic_write(&af, data, count * sizeof(float));
    } else {
        float chunk[1024];
        for (size_t i = 0; i < count; i += 1024) {
            size_t m = count - i < 1024 ? count - i : 1024;
            memcpy(chunk, data + i, m * sizeof(float));
            swap32(chunk, m);
            gantry__atomic_write(&af, chunk, m * sizeof(float));
        }
    }
    return gantry__atomic_commit(&af, false);
}

/* ---- header parsing ------------------------------------------------------
 * The header is a Python dict literal; only what numpy writes is accepted:
 * string keys, string / True / False / tuple-of-int values. */

typedef struct npy_parser {
    const char *p, *end;
    const char *path;
} npy_parser;

static void skip_ws(npy_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool accept(npy_parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string into buf (truncated quietly beyond cap-1, which then will
 * not match any expected value). */
static bool parse_string(npy_parser *ps, char *buf, size_t cap)
{
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return false;
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || *ps->p == '\n')
            return false;
        if (n + 1 < cap)
            buf[n++] = *ps->p;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return false;
    ps->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(npy_parser *ps, const char *word)
{
    skip_ws(ps);
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0 &&
        (ps->p + n == ps->end || !isalnum((unsigned char)ps->p[n]))) {
        ps->p += n;
        return true;
    }
    return false;
}

static gantry_status header_error(const npy_parser *ps, const char *what)
{
    return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: malformed .npy header: %s", ps->path, what);
}

static gantry_status parse_shape(npy_parser *ps, int *ndim, size_t shape[NPY_MAX_DIMS])
{
    if (!accept(ps, '('))
        return header_error(ps, "'shape' is not a tuple");
    int n = 0;
    for (;;) {
        if (accept(ps, ')'))
            break;
        skip_ws(ps);
        if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
            return header_error(ps, "'shape' holds something other than non-negative integers");
        size_t v = 0;
        while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
            unsigned d = (unsigned)(*ps->p - '0');
            if (v > (SIZE_MAX - d) / 10)
                return header_error(ps, "a dimension in 'shape' is too large");
            v = v * 10 + d;
            ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l')) /* Python 2 longs */
            ps->p++;
        if (n >= NPY_MAX_DIMS)
            return gantry_set_error(GANTRY_UNSUPPORTED, "%s: .npy arrays of more than %d dimensions are not supported",
                                    ps->path, NPY_MAX_DIMS);
        shape[n++] = v;
        if (accept(ps, ')'))
            break;
        if (!accept(ps, ','))
            return header_error(ps, "'shape' tuple is not closed");
    }
    /* "(3)" is not a tuple in Python; numpy writes "(3,)". */
    *ndim = n;
    return GANTRY_OK;
}

static gantry_status parse_header(npy_parser *ps, gantry__npy_dtype *dtype, int *ndim, size_t shape[NPY_MAX_DIMS])
{
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!accept(ps, '{'))
        return header_error(ps, "not a dict");
    for (;;) {
        if (accept(ps, '}'))
            break;
        char key[32];
        if (!parse_string(ps, key, sizeof key))
            return header_error(ps, "expected a quoted key");
        if (!accept(ps, ':'))
            return header_error(ps, "expected ':' after a key");
        if (strcmp(key, "descr") == 0) {
            char descr[64];
            if (!parse_string(ps, descr, sizeof descr))
                return header_error(ps, "'descr' is not a string");
            /* a byte has no byte order: '|u1', and '<u1' or '>u1' alike */
            if (strcmp(descr, "<f4") == 0)
                *dtype = GANTRY__NPY_F32;
            else if (strlen(descr) == 3 && strchr("|<>", descr[0]) && strcmp(descr + 1, "u1") == 0)
                *dtype = GANTRY__NPY_U8;
            else
                return gantry_set_error(GANTRY_UNSUPPORTED,
                                        "%s: dtype '%s' is not supported (only '<f4', little-endian float32, "
                                        "and '|u1', uint8)",
                                        ps->path, descr);
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(ps, "True"))
                return gantry_set_error(GANTRY_UNSUPPORTED,
                                        "%s: Fortran-order arrays are not supported (only C order)", ps->path);
            if (!parse_word(ps, "False"))
                return header_error(ps, "'fortran_order' is neither True nor False");
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0) {
            gantry_status s = parse_shape(ps, ndim, shape);
            if (s != GANTRY_OK)
                return s;
            have_shape = true;
        } else {
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: malformed .npy header: unexpected key '%s'", ps->path,
                                    key);
        }
        if (accept(ps, '}'))
            break;
        if (!accept(ps, ','))
            return header_error(ps, "expected ',' or '}'");
    }
    skip_ws(ps);
    if (ps->p != ps->end)
        return header_error(ps, "unexpected text after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return header_error(ps, !have_descr ? "no 'descr'" : !have_fortran ? "no 'fortran_order'" : "no 'shape'");
    return GANTRY_OK;
}

gantry_status gantry__npy_read_array(const char *path, gantry__npy_array *out)
{
    out->data = NULL;
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "npy: no path given");

    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        return gantry_set_error(err == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO, "%s: cannot open: %s", path,
                                strerror(err));
    }
    gantry_status s = GANTRY_OK;
    char *header = NULL;
    void *values = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        s = gantry_set_error(GANTRY_IO, "%s: not a regular file", path);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    unsigned char pre[12];
    if (size < 10 || fread(pre, 1, 10, f) != 10) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: not a .npy file (only %zu bytes)", path, size);
        goto done;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen, hstart;
    if (pre[6] == 1 && pre[7] == 0) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hstart = 10;
    } else if (pre[6] == 2 && pre[7] == 0) {
        if (size < 12 || fread(pre + 10, 1, 2, f) != 2) {
            s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hstart = 12;
    } else {
        s = gantry_set_error(GANTRY_UNSUPPORTED, "%s: .npy format version %u.%u is not supported (1.0 or 2.0)", path,
                             (unsigned)pre[6], (unsigned)pre[7]);
        goto done;
    }
    if (hlen > size - hstart) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header length %zu exceeds the file (%zu bytes)", path, hlen,
                             size);
        goto done;
    }
    header = malloc(hlen + 1);
    if (!header) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate the header (%zu bytes)", path, hlen);
        goto done;
    }
    if (fread(header, 1, hlen, f) != hlen) {
        s = gantry_set_error(GANTRY_IO, "%s: read error", path);
        goto done;
    }
    header[hlen] = '\0';

    npy_parser ps = { header, header + hlen, path };
    int nd = 0;
    size_t dims[NPY_MAX_DIMS] = { 0 };
    gantry__npy_dtype dtype = GANTRY__NPY_F32;
    s = parse_header(&ps, &dtype, &nd, dims);
    if (s != GANTRY_OK)
        goto done;

    size_t count = 1, elem = dtype == GANTRY__NPY_U8 ? 1 : sizeof(float);
    for (int i = 0; i < nd; i++) {
        if (dims[i] != 0 && count > SIZE_MAX / elem / dims[i]) {
            s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: shape is impossibly large", path);
            goto done;
        }
        count *= dims[i];
    }
    size_t need = count * elem;
    size_t have = size - hstart - hlen;
    if (have != need) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: shape needs %zu bytes of data but the file holds %zu (%s)", path,
                             need, have, have < need ? "truncated" : "trailing bytes");
        goto done;
    }
    values = malloc(need > 0 ? need : 1);
    if (!values) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, need);
        goto done;
    }
    if (fread(values, 1, need, f) != need) {
        s = gantry_set_error(GANTRY_IO, "%s: read error (file changed while reading?)", path);
        goto done;
    }
    if (dtype == GANTRY__NPY_F32 && !host_is_little_endian())
        swap32(values, count);

    out->dtype = dtype;
    out->data = values;
    values = NULL;
    out->ndim = nd;
    for (int i = 0; i < NPY_MAX_DIMS; i++)
        out->shape[i] = i < nd ? dims[i] : 0;
done:
    free(values);
    free(header);
    fclose(f);
    return s;
}

gantry_status gantry_npy_read(const char *path, float **data, int *ndim, size_t shape[4])
{
    if (data)
        *data = NULL;
    if (!path || !*path || !data || !ndim || !shape)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_npy_read: %s is NULL",
                                !path || !*path ? "path" : !data ? "data" : !ndim ? "ndim" : "shape");
    gantry__npy_array a;
    GANTRY_TRY(gantry__npy_read_array(path, &a));
    if (a.dtype != GANTRY__NPY_F32) {
        free(a.data);
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: dtype '|u1' (uint8): only float32 arrays are read here",
                                path);
    }
    *data = a.data;
    *ndim = a.ndim;
    memcpy(shape, a.shape, 4 * sizeof *shape);
    return GANTRY_OK;
}
