/* safetensors files (https://github.com/huggingface/safetensors), F32 and I64.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON (an object,
 * padded with trailing spaces so that N is a multiple of 8), then the data
 * section.  Each tensor entry is {"dtype", "shape", "data_offsets": [begin,
 * end]} with offsets relative to the start of the data section; an optional
 * "__metadata__" entry maps strings to strings.
 *
 * Errors when reading:
 *   GANTRY_CORRUPT_FILE  file shorter than 8 bytes; header length beyond the
 *                        file or above 100 MB; header not JSON or not an
 *                        object; an entry that is not an object; a missing
 *                        or malformed dtype / shape / data_offsets; a dtype
 *                        string that no safetensors version defines; offsets
 *                        out of the data section or not matching the shape;
 *                        __metadata__ that is not an object of strings; a key
 *                        given twice in any object of the header (a tensor
 *                        name, a metadata key, a field of an entry) or one
 *                        holding a NUL character; tensors that do not cover
 *                        the data section exactly (sorted by offset, the
 *                        first begins at 0, each where the one before ends,
 *                        the last at the section's end: no gap, no overlap,
 *                        no bytes left over), as the safetensors format's own
 *                        reader requires.
 *   GANTRY_UNSUPPORTED   a valid safetensors dtype other than F32 and I64
 *                        (F16, BF16, F64, I32, U8, BOOL, ...), or more than
 *                        4 dimensions.
 *   GANTRY_NOT_FOUND / GANTRY_IO  the file cannot be opened / read. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "core/atomic_file.h"
#include "gantry/io.h"
#include "gantry/status.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_DIMS 4
#define ST_METADATA "__metadata__"

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void byteswap(void *data, size_t count, size_t elem)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static size_t dtype_size(gantry_dtype dtype)
{
    return dtype == GANTRY_DTYPE_I64 ? 8 : 4;
}

static const char *dtype_name(gantry_dtype dtype)
{
    return dtype == GANTRY_DTYPE_I64 ? "I64" : "F32";
}

/* ---- writer ------------------------------------------------------------ */

static gantry_status write_data(gantry__atomic_file *af, const void *data, size_t count, size_t elem)
{
    if (count == 0)
        return GANTRY_OK;
    if (host_is_little_endian())
        return gantry__atomic_write(af, data, count * elem);
    unsigned char chunk[4096];
    size_t per = sizeof chunk / elem;
    for (size_t i = 0; i < count; i += per) {
        size_t m = count - i < per ? count - i : per;
        memcpy(chunk, (const unsigned char *)data + i * elem, m * elem);
        byteswap(chunk, m, elem);
        gantry_status s = gantry__atomic_write(af, chunk, m * elem);
        if (s != GANTRY_OK)
            return s;
    }
    return GANTRY_OK;
}

/* Adds `value` to `obj` under `key`; json_object_object_add takes the
 * reference even when it fails. */
static bool add_field(json_object *obj, const char *key, json_object *value)
{
    if (!value)
        return false;
    return json_object_object_add(obj, key, value) == 0;
}

static bool add_item(json_object *arr, json_object *value)
{
    if (!value)
        return false;
    if (json_object_array_add(arr, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

gantry_status gantry_safetensors_write(const char *path, const gantry_st_tensor *tensors, size_t count,
                                       const gantry_st_meta *meta, size_t meta_count)
{
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "safetensors: empty output path");
    if ((count > 0 && !tensors) || (meta_count > 0 && !meta))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %s array is NULL", path,
                                count > 0 && !tensors ? "tensor" : "metadata");

    json_object *root = json_object_new_object();
    if (!root)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory building the header", path);
    gantry_status s = GANTRY_OK;
    bool oom = false;

    if (meta_count > 0) {
        json_object *m = json_object_new_object();
        if (!add_field(root, ST_METADATA, m)) {
            oom = true;
            goto fail;
        }
        for (size_t i = 0; i < meta_count; i++) {
            if (!meta[i].key || !meta[i].value) {
                s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: metadata entry %zu has a NULL %s", path, i,
                                     meta[i].key ? "value" : "key");
                goto fail;
            }
            if (json_object_object_get_ex(m, meta[i].key, NULL)) {
                s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: metadata key \"%s\" given twice", path,
                                     meta[i].key);
                goto fail;
            }
            if (!add_field(m, meta[i].key, json_object_new_string(meta[i].value))) {
                oom = true;
                goto fail;
            }
        }
    }

    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const gantry_st_tensor *t = &tensors[i];
        if (!t->name || !*t->name) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor %zu has no name", path, i);
            goto fail;
        }
        if (strcmp(t->name, ST_METADATA) == 0 || json_object_object_get_ex(root, t->name, NULL)) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor name \"%s\" is %s", path, t->name,
                                 strcmp(t->name, ST_METADATA) == 0 ? "reserved" : "used twice");
            goto fail;
        }
        if (t->dtype != GANTRY_DTYPE_F32 && t->dtype != GANTRY_DTYPE_I64) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor \"%s\": unknown dtype %d", path, t->name,
                                 (int)t->dtype);
            goto fail;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor \"%s\": %d dimensions (0 to %d supported)",
                                 path, t->name, t->ndim, ST_MAX_DIMS);
            goto fail;
        }
        size_t elem = dtype_size(t->dtype);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] > (uint64_t)INT64_MAX ||
                (t->shape[d] != 0 && numel > (uint64_t)INT64_MAX / elem / t->shape[d])) {
                s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor \"%s\" is too large", path, t->name);
                goto fail;
            }
            numel *= t->shape[d];
        }
        uint64_t bytes = numel * elem;
        if (bytes > 0 && !t->data) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor \"%s\" has no data", path, t->name);
            goto fail;
        }
        if (offset > (uint64_t)INT64_MAX - bytes) {
            s = gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensors are too large in total", path);
            goto fail;
        }
        json_object *entry = json_object_new_object();
        if (!add_field(root, t->name, entry)) {
            oom = true;
            goto fail;
        }
        json_object *shape = json_object_new_array();
        json_object *offsets = json_object_new_array();
        bool ok = add_field(entry, "dtype", json_object_new_string(dtype_name(t->dtype)));
        ok = add_field(entry, "shape", shape) && ok;
        ok = add_field(entry, "data_offsets", offsets) && ok;
        if (!ok) {
            oom = true;
            goto fail;
        }
        for (int d = 0; d < t->ndim; d++)
            ok = add_item(shape, json_object_new_int64((int64_t)t->shape[d])) && ok;
        ok = add_item(offsets, json_object_new_int64((int64_t)offset)) && ok;
        ok = add_item(offsets, json_object_new_int64((int64_t)(offset + bytes))) && ok;
        if (!ok) {
            oom = true;
            goto fail;
        }
        offset += bytes;
    }

    const char *json = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!json) {
        oom = true;
        goto fail;
    }
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    static const char spaces[8] = { ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ' };

    gantry__atomic_file af;
    s = gantry__atomic_open(&af, path);
    if (s != GANTRY_OK)
        goto fail;
    gantry__atomic_write(&af, prefix, sizeof prefix);
    gantry__atomic_write(&af, json, jlen);
    gantry__atomic_write(&af, spaces, hlen - jlen);
    for (size_t i = 0; i < count; i++) {
        size_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++)
            numel *= tensors[i].shape[d];
        if (write_data(&af, tensors[i].data, numel, dtype_size(tensors[i].dtype)) != GANTRY_OK)
            break; /* commit reports it */
    }
    json_object_put(root);
    return gantry__atomic_commit(&af, true);

fail:
    json_object_put(root);
    if (oom)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory building the header", path);
    return s;
}

/* ---- reader ------------------------------------------------------------ */

struct gantry_safetensors {
    size_t count;
    gantry_st_tensor *tensors;
    char **names;       /* count, owned */
    void **copies;      /* count; an aligned / byte-swapped copy of the data, or NULL */
    unsigned char *buf; /* the whole file */
    size_t meta_count;
    char **meta_keys, **meta_values;
    char *path; /* for messages */
};

/* Where a tensor lies in the data section. */
typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

void gantry_safetensors_destroy(gantry_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->count; i++) {
        if (st->names)
            free(st->names[i]);
        if (st->copies)
            free(st->copies[i]);
    }
    for (size_t i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->names);
    free(st->copies);
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->path);
    free(st->buf);
    free(st);
}

size_t gantry_safetensors_count(const gantry_safetensors *st)
{
    return st ? st->count : 0;
}

const gantry_st_tensor *gantry_safetensors_at(const gantry_safetensors *st, size_t i)
{
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const gantry_st_tensor *gantry_safetensors_find(const gantry_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *gantry_safetensors_meta(const gantry_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (size_t i = 0; i < st->meta_count; i++)
        if (strcmp(st->meta_keys[i], key) == 0)
            return st->meta_values[i];
    return NULL;
}

gantry_status gantry_safetensors_meta_u64(const gantry_safetensors *st, const char *key, uint64_t min,
                                          uint64_t *out)
{
    if (!st || !key || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_safetensors_meta_u64: NULL argument");
    const char *v = gantry_safetensors_meta(st, key);
    char *end = NULL;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || *v < '0' || *v > '9' || errno || *end || x < min)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata '%s' is %s%s%s", st->path, key, v ? "'" : "missing",
                                v ? v : "", !v ? "" : min ? "', not a positive integer" : "', not a count");
    *out = (uint64_t)x;
    return GANTRY_OK;
}

static const char *const known_dtypes[] = {
    "BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "I16",
    "U16",  "F16", "BF16", "I32",    "U32",     "F32",     "F64", "I64",     "U64",     "C64",
};

static bool json_nonneg_int(json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return false;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x == INT64_MAX) /* INT64_MAX: json-c's saturation of larger values */
        return false;
    *out = (uint64_t)x;
    return true;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static gantry_status read_whole_file(const char *path, unsigned char **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        return gantry_set_error(err == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO, "%s: cannot open: %s", path,
                                strerror(err));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gantry_set_error(GANTRY_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = malloc(n > 0 ? n : 1);
    if (!b) {
        fclose(f);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, n);
    }
    if (fread(b, 1, n, f) != n) {
        int err = ferror(f) ? errno : 0;
        free(b);
        fclose(f);
        return gantry_set_error(GANTRY_IO, "%s: read error: %s", path, err ? strerror(err) : "file shrank");
    }
    fclose(f);
    *buf = b;
    *size = n;
    return GANTRY_OK;
}

static gantry_status parse_entry(const char *path, const char *name, json_object *entry, const unsigned char *data,
                                 uint64_t data_size, gantry_st_tensor *t, void **copy, span *where)
{
    if (!json_object_is_type(entry, json_type_object))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%s\": entry is not an object", path, name);

    json_object *jdtype = NULL, *jshape = NULL, *joffsets = NULL;
    if (!json_object_object_get_ex(entry, "dtype", &jdtype) || !json_object_is_type(jdtype, json_type_string))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%s\": missing or non-string \"dtype\"", path,
                                name);
    const char *dtype = json_object_get_string(jdtype);
    if (strcmp(dtype, "F32") == 0) {
        t->dtype = GANTRY_DTYPE_F32;
    } else if (strcmp(dtype, "I64") == 0) {
        t->dtype = GANTRY_DTYPE_I64;
    } else {
        for (size_t i = 0; i < sizeof known_dtypes / sizeof known_dtypes[0]; i++)
            if (strcmp(dtype, known_dtypes[i]) == 0)
                return gantry_set_error(GANTRY_UNSUPPORTED,
                                        "%s: tensor \"%s\": dtype %s is not supported (only F32 and I64)", path,
                                        name, dtype);
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%s\": unknown dtype \"%.40s\"", path, name,
                                dtype);
    }

    if (!json_object_object_get_ex(entry, "shape", &jshape) || !json_object_is_type(jshape, json_type_array))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%s\": missing or non-array \"shape\"", path,
                                name);
    size_t nd = json_object_array_length(jshape);
    if (nd > ST_MAX_DIMS)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: tensor \"%s\": %zu dimensions (at most %d supported)", path,
                                name, nd, ST_MAX_DIMS);
    size_t elem = dtype_size(t->dtype);
    uint64_t numel = 1;
    bool overflow = false;
    t->ndim = (int)nd;
    for (size_t d = 0; d < 4; d++)
        t->shape[d] = 0;
    for (size_t d = 0; d < nd; d++) {
        uint64_t v;
        if (!json_nonneg_int(json_object_array_get_idx(jshape, d), &v))
            return gantry_set_error(GANTRY_CORRUPT_FILE,
                                    "%s: tensor \"%s\": \"shape\" entry %zu is not a non-negative integer", path,
                                    name, d);
        if (v > SIZE_MAX)
            overflow = true;
        t->shape[d] = (size_t)v;
        if (v != 0 && numel > UINT64_MAX / elem / v)
            overflow = true;
        else
            numel *= v;
    }

    json_object *jb, *je;
    uint64_t begin, end;
    if (!json_object_object_get_ex(entry, "data_offsets", &joffsets) ||
        !json_object_is_type(joffsets, json_type_array) || json_object_array_length(joffsets) != 2 ||
        !(jb = json_object_array_get_idx(joffsets, 0)) || !(je = json_object_array_get_idx(joffsets, 1)) ||
        !json_nonneg_int(jb, &begin) || !json_nonneg_int(je, &end))
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: tensor \"%s\": \"data_offsets\" is not a pair of non-negative integers", path,
                                name);
    if (begin > end || end > data_size)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: tensor \"%s\": data_offsets [%llu, %llu] lie outside the data section "
                                "(%llu bytes)",
                                path, name, (unsigned long long)begin, (unsigned long long)end,
                                (unsigned long long)data_size);
    if (overflow)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%s\": shape is impossibly large", path, name);
    if (end - begin != numel * elem)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: tensor \"%s\": data_offsets [%llu, %llu] span %llu bytes but its %s shape "
                                "needs %llu",
                                path, name, (unsigned long long)begin, (unsigned long long)end,
                                (unsigned long long)(end - begin), dtype, (unsigned long long)(numel * elem));

    where->begin = begin;
    where->end = end;
    const unsigned char *p = data + begin;
    size_t bytes = (size_t)(end - begin);
    if (((uintptr_t)p % elem) != 0 || !host_is_little_endian()) {
        *copy = malloc(bytes > 0 ? bytes : 1);
        if (!*copy)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: tensor \"%s\": cannot allocate %zu bytes", path, name,
                                    bytes);
        memcpy(*copy, p, bytes);
        if (!host_is_little_endian())
            byteswap(*copy, (size_t)numel, elem);
        t->data = *copy;
    } else {
        t->data = p;
    }
    return GANTRY_OK;
}

static gantry_status parse_metadata(const char *path, json_object *m, gantry_safetensors *st)
{
    if (!json_object_is_type(m, json_type_object))
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: \"" ST_METADATA "\" is not an object", path);
    size_t n = (size_t)json_object_object_length(m);
    st->meta_keys = calloc(n > 0 ? n : 1, sizeof(char *));
    st->meta_values = calloc(n > 0 ? n : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
    json_object_object_foreach(m, key, val)
    {
        if (!json_object_is_type(val, json_type_string))
            return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: \"" ST_METADATA "\" value of \"%s\" is not a string",
                                    path, key);
        char *k = dup_string(key), *v = dup_string(json_object_get_string(val));
        if (!k || !v) {
            free(k);
            free(v);
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
        }
        st->meta_keys[st->meta_count] = k;
        st->meta_values[st->meta_count] = v;
        st->meta_count++;
    }
    return GANTRY_OK;
}

/* ---- duplicate keys ------------------------------------------------------ */

/* json-c keeps the last of two equal keys of an object and says nothing, so
 * a tensor named twice would load whichever came last.  The raw header is
 * walked once more (json-c has already validated it as strict JSON, which
 * keeps this walk simple) and the decoded keys of each object compared. */
typedef struct key_scan {
    const char *p, *end;
    json_tokener *tok; /* decodes each key: escapes such as \u0061 make equal keys look different */
    const char *path;
} key_scan;

static void scan_ws(key_scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

/* Skips the string at sc->p (at its opening quote); *start and *len span it, quotes included. */
static void scan_string(key_scan *sc, const char **start, size_t *len)
{
    *start = sc->p++;
    while (sc->p < sc->end && *sc->p != '"')
        sc->p += *sc->p == '\\' ? 2 : 1;
    if (sc->p < sc->end)
        sc->p++;
    *len = (size_t)(sc->p - *start);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gantry_status scan_value(key_scan *sc, const char *owner);

/* A key's text as json-c will store it, into *out. */
static gantry_status decode_key(key_scan *sc, const char *raw, size_t len, char **out)
{
    json_tokener_reset(sc->tok);
    json_object *k = json_tokener_parse_ex(sc->tok, raw, (int)len);
    gantry_status s = GANTRY_OK;
    *out = NULL;
    if (!k || !json_object_is_type(k, json_type_string))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: a key of the header cannot be decoded", sc->path);
    else if (strlen(json_object_get_string(k)) != (size_t)json_object_get_string_len(k))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header key \"%.60s\" holds a NUL character", sc->path,
                             json_object_get_string(k));
    else if (!(*out = dup_string(json_object_get_string(k))))
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory checking the header's keys", sc->path);
    json_object_put(k);
    return s;
}

static gantry_status duplicate_key(const char *path, const char *owner, const char *key)
{
    if (!owner)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: %s \"%.200s\" is given twice in the header", path,
                                strcmp(key, ST_METADATA) == 0 ? "entry" : "tensor", key);
    if (strcmp(owner, ST_METADATA) == 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata key \"%.200s\" is given twice", path, key);
    return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: tensor \"%.200s\": field \"%.60s\" is given twice", path, owner,
                            key);
}

/* The object at sc->p; `owner` is the key whose value it is (NULL: the
 * header itself), for messages. */
static gantry_status scan_object(key_scan *sc, const char *owner)
{
    char **keys = NULL;
    size_t n = 0, cap = 0;
    gantry_status s = GANTRY_OK;
    sc->p++; /* '{' */
    scan_ws(sc);
    while (!s && sc->p < sc->end && *sc->p == '"') {
        const char *raw;
        size_t len;
        scan_string(sc, &raw, &len);
        if (n == cap) {
            size_t c = cap ? 2 * cap : 16;
            char **k = realloc(keys, c * sizeof *k);
            if (!k) {
                s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory checking the header's keys", sc->path);
                break;
            }
            keys = k;
            cap = c;
        }
        if ((s = decode_key(sc, raw, len, &keys[n])))
            break;
        n++;
        scan_ws(sc);
        sc->p++; /* ':' */
        scan_ws(sc);
        /* Only the header's own values name what they hold. */
        s = scan_value(sc, owner ? owner : keys[n - 1]);
        scan_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            scan_ws(sc);
        }
    }
    if (!s && sc->p < sc->end && *sc->p == '}')
        sc->p++;
    if (!s && n > 1) {
        qsort(keys, n, sizeof *keys, compare_keys);
        for (size_t i = 1; !s && i < n; i++)
            if (strcmp(keys[i - 1], keys[i]) == 0)
                s = duplicate_key(sc->path, owner, keys[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return s;
}

static gantry_status scan_value(key_scan *sc, const char *owner)
{
    if (sc->p >= sc->end)
        return GANTRY_OK;
    if (*sc->p == '{')
        return scan_object(sc, owner);
    if (*sc->p == '"') {
        const char *raw;
        size_t len;
        scan_string(sc, &raw, &len);
        return GANTRY_OK;
    }
    if (*sc->p == '[') {
        sc->p++;
        scan_ws(sc);
        while (sc->p < sc->end && *sc->p != ']') {
            GANTRY_TRY(scan_value(sc, owner));
            scan_ws(sc);
            if (sc->p < sc->end && *sc->p == ',') {
                sc->p++;
                scan_ws(sc);
            }
        }
        sc->p++;
        return GANTRY_OK;
    }
    /* a number, true, false or null */
    while (sc->p < sc->end && !strchr(",]} \t\n\r", *sc->p))
        sc->p++;
    return GANTRY_OK;
}

/* ---- coverage of the data section ---------------------------------------- */

static int compare_spans(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The safetensors rule: sorted by offset, the tensors tile the data section,
 * so that no byte is read as two tensors and none is hidden between them. */
static gantry_status check_coverage(const char *path, span *spans, size_t count, uint64_t data_size)
{
    if (count == 0)
        return data_size == 0 ? GANTRY_OK
                              : gantry_set_error(GANTRY_CORRUPT_FILE,
                                                 "%s: a data section of %llu bytes but no tensors", path,
                                                 (unsigned long long)data_size);
    qsort(spans, count, sizeof *spans, compare_spans);
    if (spans[0].begin != 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: gap in the data section: its first %llu bytes belong to no tensor (\"%.200s\" "
                                "begins at %llu)",
                                path, (unsigned long long)spans[0].begin, spans[0].name,
                                (unsigned long long)spans[0].begin);
    for (size_t i = 1; i < count; i++) {
        const span *a = &spans[i - 1], *b = &spans[i];
        if (b->begin < a->end)
            return gantry_set_error(GANTRY_CORRUPT_FILE,
                                    "%s: tensors \"%.200s\" [%llu, %llu] and \"%.200s\" [%llu, %llu] overlap", path,
                                    a->name, (unsigned long long)a->begin, (unsigned long long)a->end, b->name,
                                    (unsigned long long)b->begin, (unsigned long long)b->end);
        if (b->begin > a->end)
            return gantry_set_error(GANTRY_CORRUPT_FILE,
                                    "%s: gap in the data section: bytes [%llu, %llu] between tensors \"%.200s\" and "
                                    "\"%.200s\" belong to no tensor",
                                    path, (unsigned long long)a->end, (unsigned long long)b->begin, a->name, b->name);
    }
    const span *last = &spans[count - 1];
    if (last->end != data_size)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: gap in the data section: its last %llu bytes, after tensor \"%.200s\", belong to "
                                "no tensor",
                                path, (unsigned long long)(data_size - last->end), last->name);
    return GANTRY_OK;
}

gantry_status gantry_safetensors_read(const char *path, gantry_safetensors **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_safetensors_read: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "safetensors: empty path");

    gantry_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t size = 0;
    gantry_status s = read_whole_file(path, &st->buf, &size);
    if (s != GANTRY_OK) {
        gantry_safetensors_destroy(st);
        return s;
    }

    json_tokener *tok = NULL;
    json_object *root = NULL;
    char *header = NULL;
    span *spans = NULL;

    if (size < 8) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE,
                             "%s: file is %zu bytes, shorter than the 8-byte header length of a safetensors file",
                             path, size);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)st->buf[i] << (8 * i);
    if (hlen > (uint64_t)(size - 8)) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header length %llu exceeds the file (%zu bytes); not a safetensors file?",
                             path,
                             (unsigned long long)hlen, size);
        goto done;
    }
    if (hlen > ST_MAX_HEADER) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header length %llu is above the 100 MB limit", path,
                             (unsigned long long)hlen);
        goto done;
    }
    if (hlen < 2 || st->buf[8] != '{') {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header is not a JSON object", path);
        goto done;
    }
    header = malloc((size_t)hlen + 1);
    tok = json_tokener_new();
    if (!header || !tok) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory parsing the header", path);
        goto done;
    }
    memcpy(header, st->buf + 8, (size_t)hlen);
    header[hlen] = '\0';
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, header, (int)hlen + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (!root || jerr != json_tokener_success) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header is not valid JSON: %s", path,
                             json_tokener_error_desc(jerr));
        goto done;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < (size_t)hlen; i++) {
        char c = header[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: unexpected bytes after the JSON header (at offset %zu)",
                                 path, 8 + i);
            goto done;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: header is not a JSON object", path);
        goto done;
    }
    key_scan sc = { header, header + hlen, tok, path };
    if ((s = scan_value(&sc, NULL)))
        goto done;

    size_t entries = (size_t)json_object_object_length(root);
    st->tensors = calloc(entries > 0 ? entries : 1, sizeof *st->tensors);
    st->names = calloc(entries > 0 ? entries : 1, sizeof *st->names);
    st->copies = calloc(entries > 0 ? entries : 1, sizeof *st->copies);
    spans = calloc(entries > 0 ? entries : 1, sizeof *spans);
    if (!st->tensors || !st->names || !st->copies || !spans) {
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    const unsigned char *data = st->buf + 8 + hlen;
    uint64_t data_size = (uint64_t)size - 8 - hlen;
    json_object_object_foreach(root, key, val)
    {
        if (strcmp(key, ST_METADATA) == 0) {
            if (st->meta_keys) {
                s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: \"" ST_METADATA "\" given twice", path);
                goto done;
            }
            s = parse_metadata(path, val, st);
            if (s != GANTRY_OK)
                goto done;
            continue;
        }
        size_t i = st->count;
        gantry_st_tensor *t = &st->tensors[i];
        s = parse_entry(path, key, val, data, data_size, t, &st->copies[i], &spans[i]);
        if (s == GANTRY_OK && !(st->names[i] = dup_string(key)))
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", path);
        st->count++; /* so that destroy frees what this entry got */
        if (s != GANTRY_OK)
            goto done;
        t->name = st->names[i];
        spans[i].name = t->name;
    }
    s = check_coverage(path, spans, st->count, data_size);

done:
    free(spans);
    if (root)
        json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    free(header);
    if (s != GANTRY_OK) {
        gantry_safetensors_destroy(st);
        return s;
    }
    *out = st;
    return GANTRY_OK;
}
