/* The cache of decoded image folders (format in data_cache.h). */
#include "core/data_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "core/atomic_file.h"
#include "core/dataset_impl.h"

#define CACHE_MAGIC "GANTRYDS"
#define CACHE_VERSION 1u
#define HEADER_SIZE 128

/* byte offsets in the header */
enum {
    H_VERSION = 8, /* u32 */
    H_HEADER_SIZE = 12, /* u32 */
    H_KEY = 16,
    H_COUNT = 24,
    H_CHANNELS = 32,
    H_HEIGHT = 40,
    H_WIDTH = 48,
    H_CLASSES = 56,
    H_HAS_LABELS = 64,
    H_NAMES = 72,
    H_SKIPPED = 80,
    H_PAYLOAD = 88,
    H_CRC = 96, /* u32 over bytes 0..95 and the payload */
};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* 64-bit FNV-1a */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    return fnv(h, b, 8);
}

/* The cache folder the options name, malloc'd; NULL when there is none. */
/* zlib's crc32_z starts over when given NULL, even for 0 bytes */
static unsigned long crc_add(unsigned long crc, const void *data, size_t n)
{
    return n ? crc32_z(crc, data, n) : crc;
}

static char *cache_base(const gantry_data_options *opts)
{
    const char *set = opts ? opts->cache_dir : NULL;
    if (set)
        return *set ? strdup(set) : NULL;
    const char *env = getenv("GANTRY_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env)
        return strdup(env);
    if (xdg && *xdg)
        return gantry__path_join(xdg, "gantry");
    if (home && *home)
        return gantry__path_join(home, ".cache/gantry");
    return NULL;
}

gantry_status gantry__cache_locate(const gantry__scan *scan, const gantry_data_options *opts, gantry__cache *c)
{
    memset(c, 0, sizeof *c);
    char *base = cache_base(opts);
    if (!base)
        return GANTRY_OK;
    c->dir = gantry__path_join(base, "data");
    free(base);
    c->path = c->dir ? malloc(strlen(c->dir) + 32) : NULL;
    if (!c->path) {
        gantry__cache_free(c);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "cache: out of memory");
    }
    uint64_t h = fnv(0xcbf29ce484222325ull, "gantry images", 13);
    h = fnv_u64(h, CACHE_VERSION);
    h = fnv_u64(h, opts ? opts->image_size : 0);
    h = fnv_u64(h, opts ? opts->channels : 0);
    h = fnv_u64(h, scan->count);
    for (size_t i = 0; i < scan->count; i++) {
        const gantry__scan_entry *f = &scan->files[i];
        h = fnv(h, f->rel, strlen(f->rel) + 1);
        h = fnv_u64(fnv_u64(h, (uint64_t)f->size), (uint64_t)f->mtime_ns);
    }
    c->key = h;
    sprintf(c->path, "%s/%016" PRIx64 ".images", c->dir, h);
    return GANTRY_OK;
}

void gantry__cache_free(gantry__cache *c)
{
    free(c->dir);
    free(c->path);
    memset(c, 0, sizeof *c);
}

typedef struct layout {
    uint64_t count, channels, height, width, classes, has_labels, names, skipped, pixels;
} layout;

/* What is wrong with a cache file of `size` bytes at `m`, or NULL. */
static const char *check(const uint8_t *m, size_t size, uint64_t key, layout *l)
{
    if (size < HEADER_SIZE)
        return "truncated header";
    if (memcmp(m, CACHE_MAGIC, 8) != 0)
        return "not a gantry cache file";
    if (get_le(m + H_VERSION, 4) != CACHE_VERSION || get_le(m + H_HEADER_SIZE, 4) != HEADER_SIZE)
        return "another format version";
    if (get_le(m + H_KEY, 8) != key)
        return "made for other files";
    *l = (layout){ get_le(m + H_COUNT, 8),   get_le(m + H_CHANNELS, 8), get_le(m + H_HEIGHT, 8),
                   get_le(m + H_WIDTH, 8),   get_le(m + H_CLASSES, 8),  get_le(m + H_HAS_LABELS, 8),
                   get_le(m + H_NAMES, 8),   get_le(m + H_SKIPPED, 8),  0 };
    const uint64_t side = 1u << 16;
    if (l->count == 0 || (l->channels != 1 && l->channels != 3) || l->height == 0 || l->height > side ||
        l->width == 0 || l->width > side || l->count > SIZE_MAX / (l->channels * l->height * l->width))
        return "impossible dimensions";
    if (l->classes > GANTRY__MAX_CLASSES || l->has_labels > 1 || (l->classes == 0) != (l->names == 0) ||
        l->names > size)
        return "impossible class count";
    l->pixels = l->count * l->channels * l->height * l->width;
    uint64_t payload = get_le(m + H_PAYLOAD, 8);
    if (payload != l->pixels + (l->has_labels ? l->count : 0) + l->names)
        return "sizes that disagree";
    if (size - HEADER_SIZE < payload)
        return "truncated";
    if (size - HEADER_SIZE > payload)
        return "trailing bytes";
    unsigned long crc = crc_add(crc_add(0, m, H_CRC), m + HEADER_SIZE, (size_t)payload);
    if (crc != get_le(m + H_CRC, 4))
        return "checksum mismatch";
    const uint8_t *names = m + HEADER_SIZE + payload - l->names;
    size_t ends = 0;
    for (uint64_t i = 0; i < l->names; i++)
        ends += names[i] == 0;
    if (ends != l->classes || (l->names && names[l->names - 1] != 0))
        return "bad class names";
    return NULL;
}

static gantry_dataset *map_dataset(uint8_t *m, size_t size, const layout *l)
{
    gantry_dataset *ds = NULL;
    if (gantry__dataset_wrap(l->count, l->channels, l->height, l->width, NULL, NULL, &ds) != GANTRY_OK)
        return NULL;
    ds->storage->map = m;
    ds->storage->map_size = size;
    ds->pixels = m + HEADER_SIZE;
    ds->labels = l->has_labels ? m + HEADER_SIZE + l->pixels : NULL;
    ds->num_classes = l->classes;
    ds->skipped = l->skipped;
    if (l->classes && gantry__dataset_set_names(ds, (const char *)(m + size - l->names), l->names, 0) != GANTRY_OK) {
        gantry_dataset_destroy(ds);
        return NULL;
    }
    return ds;
}

gantry_dataset *gantry__cache_read(gantry__cache *c, const gantry_data_options *opts)
{
    if (!c->dir)
        return NULL;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* no file, or no folder yet: a miss */
        if (errno != ENOENT && errno != ENOTDIR) {
            gantry__data_warn(opts, "%s: cannot open the cache file (%s); continuing without a cache", c->path,
                              strerror(errno));
            gantry__cache_free(c);
        }
        return NULL;
    }
    struct stat st;
    size_t size = fstat(fd, &st) == 0 ? (size_t)st.st_size : 0;
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE; /* all of it is read at once (the checksum) */
#endif
    void *m = size >= HEADER_SIZE ? mmap(NULL, size, PROT_READ, flags, fd, 0) : MAP_FAILED;
    close(fd);
    layout l;
    const char *why = m == MAP_FAILED ? (size < HEADER_SIZE ? "truncated header" : "cannot be mapped")
                                      : check(m, size, c->key, &l);
    if (why) {
        gantry__data_warn(opts, "%s: the cache file is corrupt (%s); rebuilding it", c->path, why);
        if (m != MAP_FAILED)
            munmap(m, size);
        return NULL;
    }
    gantry_dataset *ds = map_dataset(m, size, &l);
    if (!ds)
        munmap(m, size);
    return ds;
}

/* mkdir -p: the folder itself first, its parents only when missing;
 * 0, or -1 with errno.  Something else of that name is found out when the
 * file is written. */
static int make_dirs(char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return 0;
    char *slash = strrchr(dir, '/');
    if (errno != ENOENT || !slash || slash == dir)
        return -1;
    *slash = '\0';
    int parent = make_dirs(dir);
    *slash = '/';
    return parent == 0 && (mkdir(dir, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

static size_t names_size(const gantry_dataset *ds)
{
    size_t n = 0;
    for (size_t i = 0; ds->class_names && i < ds->num_classes; i++)
        n += strlen(ds->class_names[i]) + 1;
    return n;
}

void gantry__cache_write(const gantry__cache *c, const gantry_dataset *ds, const gantry_data_options *opts)
{
    if (!c->dir)
        return;
    if (make_dirs(c->dir) != 0) {
        gantry__data_warn(opts, "%s: cannot create the cache folder (%s); continuing without a cache", c->dir,
                          strerror(errno));
        return;
    }
    size_t pixels = ds->count * gantry__image_bytes(ds), labels = ds->labels ? ds->count : 0, names = names_size(ds);
    uint8_t h[HEADER_SIZE] = { 0 };
    memcpy(h, CACHE_MAGIC, 8);
    put_le(h + H_VERSION, CACHE_VERSION, 4);
    put_le(h + H_HEADER_SIZE, HEADER_SIZE, 4);
    const uint64_t fields[][2] = { { H_KEY, c->key },          { H_COUNT, ds->count },
                                   { H_CHANNELS, ds->channels }, { H_HEIGHT, ds->height },
                                   { H_WIDTH, ds->width },       { H_CLASSES, names ? ds->num_classes : 0 },
                                   { H_HAS_LABELS, labels > 0 }, { H_NAMES, names },
                                   { H_SKIPPED, ds->skipped },   { H_PAYLOAD, pixels + labels + names } };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        put_le(h + fields[i][0], fields[i][1], 8);
    unsigned long crc = crc_add(crc_add(crc_add(0, h, H_CRC), ds->pixels, pixels), ds->labels, labels);
    for (size_t i = 0; names && i < ds->num_classes; i++)
        crc = crc_add(crc, ds->class_names[i], strlen(ds->class_names[i]) + 1);
    put_le(h + H_CRC, crc, 4);

    gantry__atomic_file af;
    if (gantry__atomic_open(&af, c->path) == GANTRY_OK) {
        gantry__atomic_write(&af, h, sizeof h);
        gantry__atomic_write(&af, ds->pixels, pixels);
        gantry__atomic_write(&af, ds->labels, labels);
        for (size_t i = 0; names && i < ds->num_classes; i++)
            gantry__atomic_write(&af, ds->class_names[i], strlen(ds->class_names[i]) + 1);
        if (gantry__atomic_commit(&af, false) == GANTRY_OK)
            return;
    }
    gantry__data_warn(opts, "%s; continuing without a cache", gantry_last_error());
}
