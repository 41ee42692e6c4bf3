/* A folder of PNG and JPEG images as a data set: its files (image_scan.c),
 * the cache (data_cache.c), and otherwise decoding on every core in two
 * passes: the headers, when the size or channels are automatic, then the
 * pixels.  A pass runs over the next images not yet found bad; its
 * failures are reported in file order afterwards, so warnings and results
 * do not depend on the thread count.  With a limit, passes repeat until
 * that many images are usable or none are left. */
#include <stdlib.h>
#include <string.h>

#include "core/data_cache.h"
#include "core/dataset_impl.h"
#include "core/image.h"
#include "core/image_scan.h"
#include "core/parallel.h"

typedef struct folder {
    const char *top;
    const gantry__scan *scan;
    const gantry_data_options *opts;
    int threads;
    uint8_t *bad;      /* per scan entry: reported and skipped */
    size_t skipped;
    char *first_error; /* the first failure, for the error when nothing is usable */
    /* the pass that runs: its items are scan entries index[0..m) */
    size_t *index;
    gantry__image_info *info;
    char **why;        /* per item: why it failed (NULL when out of memory) */
    uint8_t *failed;   /* per item */
    uint8_t *dst;      /* decoding: item k's pixels at dst + k * item */
    size_t item, size, channels;
} folder;

static void note_failure(folder *f, size_t k)
{
    f->failed[k] = 1;
    f->why[k] = strdup(gantry_last_error());
}

static void probe_task(void *ctx, size_t k)
{
    folder *f = ctx;
    char *path = gantry__path_join(f->top, f->scan->files[f->index[k]].rel);
    if (!path || gantry__image_read(path, &f->info[k], NULL) != GANTRY_OK)
        note_failure(f, k);
    free(path);
}

static void decode_task(void *ctx, size_t k)
{
    folder *f = ctx;
    char *path = gantry__path_join(f->top, f->scan->files[f->index[k]].rel);
    gantry__image img = { NULL, { 0 } };
    if (!path || gantry__image_read(path, &f->info[k], &img) != GANTRY_OK ||
        gantry__image_fit(&img.view, f->channels, f->size, f->dst + k * f->item) != GANTRY_OK)
        note_failure(f, k);
    free(img.data);
    free(path);
}

/* Up to `n` entries from *next on that are not bad, into f->index. */
static size_t take(folder *f, size_t *next, size_t n)
{
    size_t m = 0;
    for (; *next < f->scan->count && m < n; ++*next)
        if (!f->bad[*next])
            f->index[m++] = *next;
    return m;
}

/* After a pass of m items: its failures reported in order, and marked. */
static void settle(folder *f, size_t m)
{
    for (size_t k = 0; k < m; k++) {
        if (!f->failed[k])
            continue;
        const char *why = f->why[k] ? f->why[k] : "out of memory";
        gantry__data_warn(f->opts, "%s; skipped", why);
        if (!f->first_error)
            f->first_error = f->why[k] ? f->why[k] : strdup(why);
        else
            free(f->why[k]);
        f->why[k] = NULL;
        f->failed[k] = 0;
        f->bad[f->index[k]] = 1;
        f->skipped++;
    }
}

/* The automatic size and channels from the headers of the first `want`
 * readable images; 0 when none is readable. */
static size_t choose_shape(folder *f, size_t want)
{
    size_t next = 0, good = 0, side = 0;
    int same_square = 1, all_gray = 1;
    size_t m;
    while (good < want && (m = take(f, &next, want - good)) > 0) {
        gantry__parallel_for(m, f->threads, probe_task, f, NULL, 0, 0);
        for (size_t k = 0; k < m; k++) {
            if (f->failed[k])
                continue;
            const gantry__image_info *in = &f->info[k];
            if (good++ == 0)
                side = in->width;
            same_square &= in->width == side && in->height == side;
            all_gray &= in->gray;
        }
        settle(f, m);
    }
    const gantry_data_options *o = f->opts;
    f->size = o && o->image_size ? o->image_size : same_square ? side : 64;
    f->channels = o && o->channels ? o->channels : all_gray ? 1 : 3;
    return good;
}

/* Decodes up to `want` images into pixels and labels (room for as many as
 * there are entries not found bad); returns how many are usable. */
static size_t decode(folder *f, size_t want, uint8_t *pixels, uint8_t *labels)
{
    size_t next = 0, have = 0, processed = 0, m;
    while (have < want && (m = take(f, &next, want - have)) > 0) {
        f->dst = pixels + have * f->item;
        gantry__parallel_for(m, f->threads, decode_task, f, f->opts, processed, processed + m);
        processed += m;
        size_t ok = 0;
        for (size_t k = 0; k < m; k++) {
            if (f->failed[k])
                continue;
            if (ok != k)
                memmove(f->dst + ok * f->item, f->dst + k * f->item, f->item);
            if (labels)
                labels[have + ok] = f->scan->files[f->index[k]].label;
            ok++;
        }
        settle(f, m);
        have += ok;
    }
    return have;
}

static gantry_status nothing_usable(folder *f)
{
    return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: none of its %zu image files could be read; the first: %s",
                            f->top, f->scan->count, f->first_error ? f->first_error : "out of memory");
}

static gantry_status build(folder *f, size_t want, gantry_dataset **out)
{
    const gantry_data_options *o = f->opts;
    if (o && o->image_size && o->channels) {
        f->size = o->image_size;
        f->channels = o->channels;
    } else if (choose_shape(f, want) == 0) {
        return nothing_usable(f);
    }
    size_t cap = f->scan->count - f->skipped;
    cap = cap < want ? cap : want;
    f->item = f->channels * f->size * f->size;
    gantry_dataset *ds = NULL;
    GANTRY_TRY(gantry__dataset_alloc(cap, f->channels, f->size, f->size, f->scan->num_classes > 0, f->top, &ds));
    size_t have = decode(f, want, ds->storage->pixels, ds->storage->labels);
    if (have == 0) {
        gantry_dataset_destroy(ds);
        return nothing_usable(f);
    }
    gantry__dataset_truncate(ds, have);
    ds->num_classes = f->scan->num_classes;
    ds->skipped = f->skipped;
    gantry_status s = ds->num_classes ? gantry__dataset_set_names(ds, f->scan->class_names, f->scan->names_size, 1)
                                      : GANTRY_OK;
    if (s != GANTRY_OK) {
        gantry_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return GANTRY_OK;
}

static gantry_status decode_folder(const char *dir, const gantry__scan *scan, size_t limit,
                                   const gantry_data_options *opts, gantry_dataset **out)
{
    size_t want = limit && limit < scan->count ? limit : scan->count;
    folder f = { .top = dir, .scan = scan, .opts = opts, .threads = opts ? opts->threads : 0 };
    f.bad = calloc(scan->count, 1);
    f.index = malloc(want * sizeof *f.index);
    f.info = malloc(want * sizeof *f.info);
    f.why = calloc(want, sizeof *f.why);
    f.failed = calloc(want, 1);
    gantry_status s = f.bad && f.index && f.info && f.why && f.failed
                          ? build(&f, want, out)
                          : gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory for %zu images", dir, want);
    free(f.bad);
    free(f.index);
    free(f.info);
    free(f.why);
    free(f.failed);
    free(f.first_error);
    return s;
}

gantry_status gantry__image_folder_load(const char *dir, const char *split, size_t limit,
                                        const gantry_data_options *opts, gantry_dataset **out)
{
    gantry__scan scan;
    GANTRY_TRY(gantry__scan_images(dir, opts, &scan));
    if (scan.count == 0) {
        size_t ignored = scan.ignored;
        gantry__scan_free(&scan);
        return gantry_set_error(GANTRY_NOT_FOUND,
                                "%s: no data set found: no %s-images-idx3-ubyte[.gz] (IDX), no data_batch_1.bin or "
                                "test_batch.bin (CIFAR-10), and no .png, .jpg or .jpeg image in it or its "
                                "subfolders (%zu other file%s)",
                                dir, split, ignored, ignored == 1 ? "" : "s");
    }
    /* a limited load neither reads nor writes the cache */
    gantry__cache cache = { NULL, NULL, 0 };
    gantry_status s = limit ? GANTRY_OK : gantry__cache_locate(&scan, opts, &cache);
    gantry_dataset *ds = s == GANTRY_OK ? gantry__cache_read(&cache, opts) : NULL;
    if (ds) {
        ds->from_cache = 1;
        if (ds->skipped)
            gantry__data_warn(opts, "%s: %zu unusable images were skipped when this folder was decoded for the "
                                    "cache (%s)", dir, ds->skipped, cache.path);
    } else if (s == GANTRY_OK && (s = decode_folder(dir, &scan, limit, opts, &ds)) == GANTRY_OK) {
        gantry__cache_write(&cache, ds, opts);
    }
    gantry__cache_free(&cache);
    gantry__scan_free(&scan);
    if (s != GANTRY_OK)
        return s;
    ds->kind = "images";
    *out = ds;
    return GANTRY_OK;
}
