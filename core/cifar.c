/* CIFAR-10's binary batches: records of one label byte and 32x32 pixels as
 * R, G and B planes (already NCHW), 10,000 to a file: data_batch_1.bin ..
 * data_batch_5.bin are the training split, test_batch.bin the test split;
 * batches.meta.txt names the classes, one a line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dataset_impl.h"
#include "core/image_scan.h"

#define SIDE 32
#define PIXELS (3 * SIDE * SIDE)
#define RECORD (1 + PIXELS)
#define CLASSES 10

static const char *const train_files[] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                           "data_batch_4.bin", "data_batch_5.bin" };
static const char *const test_files[] = { "test_batch.bin" };

/* The records in `path`, after checking that it holds whole ones. */
static gantry_status count_records(const char *path, const char *split_files, size_t *records)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return gantry_set_error(errno == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO,
                                "%s: %s (a CIFAR-10 folder holds %s)", path, strerror(errno), split_files);
    if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size % RECORD != 0)
        return gantry_set_error(GANTRY_CORRUPT_FILE,
                                "%s: %lld bytes, not a whole number of %d-byte records (a label byte and 32x32 "
                                "R, G, B planes)",
                                path, (long long)st.st_size, RECORD);
    *records = (size_t)st.st_size / RECORD;
    return GANTRY_OK;
}

/* Up to `n` records of `path` into the data set from image `at` on. */
static gantry_status read_records(const char *path, size_t n, gantry_dataset *ds, size_t at)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gantry_set_error(GANTRY_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t record[RECORD];
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < n && s == GANTRY_OK; i++) {
        if (fread(record, 1, RECORD, f) != RECORD)
            s = gantry_set_error(GANTRY_IO, "%s: read error at record %zu", path, i);
        else if (record[0] >= CLASSES)
            s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: record %zu has label %u (CIFAR-10 has %d classes)", path,
                                 i, record[0], CLASSES);
        else {
            ds->storage->labels[at + i] = record[0];
            memcpy(ds->storage->pixels + (at + i) * PIXELS, record + 1, PIXELS);
        }
    }
    fclose(f);
    return s;
}

/* batches.meta.txt: exactly CLASSES non-empty lines are the class names;
 * anything else is ignored (the names are optional). */
static void read_names(const char *dir, gantry_dataset *ds)
{
    char *path = gantry__path_join(dir, "batches.meta.txt");
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f)
        return;
    char block[CLASSES * 128], line[256];
    size_t used = 0, names = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t len = strlen(line) + 1;
        if (len == 1)
            continue;
        if (len > 128 || ++names > CLASSES) {
            names = 0; /* a name too long, or too many: not a names file */
            break;
        }
        memcpy(block + used, line, len);
        used += len;
    }
    fclose(f);
    if (names == CLASSES)
        (void)gantry__dataset_set_names(ds, block, used, 1); /* without memory, without names */
}

gantry_status gantry__cifar_load(const char *dir, int test_split, size_t limit, gantry_dataset **out)
{
    const char *const *files = test_split ? test_files : train_files;
    size_t nfiles = test_split ? 1 : 5, records[5], total = 0;
    const char *split_files = test_split ? "test_batch.bin" : "data_batch_1.bin .. data_batch_5.bin";
    char *paths[5] = { NULL };
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < nfiles && s == GANTRY_OK; i++) {
        if (!(paths[i] = gantry__path_join(dir, files[i])))
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", dir);
        else if ((s = count_records(paths[i], split_files, &records[i])) == GANTRY_OK)
            total += records[i];
    }
    size_t count = limit && limit < total ? limit : total;
    gantry_dataset *ds = NULL;
    if (s == GANTRY_OK)
        s = gantry__dataset_alloc(count, 3, SIDE, SIDE, 1, dir, &ds);
    for (size_t i = 0, at = 0; i < nfiles && s == GANTRY_OK && at < count; i++) {
        size_t n = records[i] < count - at ? records[i] : count - at;
        s = read_records(paths[i], n, ds, at);
        at += n;
    }
    for (size_t i = 0; i < nfiles; i++)
        free(paths[i]);
    if (s != GANTRY_OK) {
        gantry_dataset_destroy(ds);
        return s;
    }
    ds->num_classes = CLASSES;
    ds->kind = "cifar10";
    read_names(dir, ds);
    *out = ds;
    return GANTRY_OK;
}
