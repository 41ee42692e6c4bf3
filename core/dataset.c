/* Data sets by name, file or folder: which kind of source it is (the order
 * is in gantry/data.h), then the preprocessing every kind shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dataset_impl.h"
#include "core/image_scan.h"
#include "gantry/data.h"
#include "gantry/status.h"

#define INSTALL_HINT "install it with `apt-get install dataset-fashion-mnist`, or pass --data DIR"
#define MAX_IMAGE_SIZE 16384

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* The first of DIR/SPLIT-KIND.gz and DIR/SPLIT-KIND that exists, or NULL
 * (then *oom tells whether it was for lack of memory). */
static char *find_idx(const char *dir, const char *split, const char *kind, int *oom)
{
    size_t n = strlen(dir) + strlen(split) + strlen(kind) + 6;
    char *p = malloc(n);
    if (!p) {
        *oom = 1;
        return NULL;
    }
    snprintf(p, n, "%s/%s-%s.gz", dir, split, kind);
    if (file_exists(p))
        return p;
    p[strlen(p) - 3] = '\0'; /* drop ".gz" */
    if (file_exists(p))
        return p;
    free(p);
    return NULL;
}

static int holds(const char *dir, const char *name)
{
    char *p = gantry__path_join(dir, name);
    int found = p && file_exists(p);
    free(p);
    return found;
}

static int holds_idx(const char *dir)
{
    static const char *const names[] = { "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                         "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (holds(dir, names[i]))
            return 1;
    return 0;
}

static int is_npy(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[6];
    int yes = f && fread(magic, 1, 6, f) == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
    if (f)
        fclose(f);
    return yes;
}

/* `origin` says where `dir` came from, for messages; `is_default` that it
 * is the "fashion-mnist" default. */
static gantry_status load_idx(const char *dir, const char *split, size_t limit, int is_default, const char *origin,
                              gantry_dataset **out)
{
    int oom = 0;
    char *images = find_idx(dir, split, "images-idx3-ubyte", &oom);
    if (!images) {
        if (oom)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", dir);
        if (is_default)
            return gantry_set_error(GANTRY_NOT_FOUND,
                                    "fashion-mnist: %s%s holds neither %s-images-idx3-ubyte.gz nor %s-images-idx3-ubyte; "
                                    INSTALL_HINT,
                                    dir, origin, split, split);
        return gantry_set_error(GANTRY_NOT_FOUND, "%s holds neither %s-images-idx3-ubyte.gz nor %s-images-idx3-ubyte",
                                dir, split, split);
    }
    char *labels = find_idx(dir, split, "labels-idx1-ubyte", &oom);
    gantry_status s = labels || !oom ? gantry_idx_load(images, labels, limit, out)
                                     : gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", dir);
    free(images);
    free(labels);
    return s;
}

static gantry_status check_arguments(const char *source, const char *split, const gantry_data_options *opts)
{
    if (!source || !*source)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "data set: no source given (\"fashion-mnist\", a folder or a .npy file)");
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0 && strcmp(split, "test") != 0 &&
                   strcmp(split, "eval") != 0))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "data set %s: unknown split \"%s\" (expected \"train\", \"t10k\", \"test\" or \"eval\")",
                                source, split ? split : "(null)");
    if (opts && opts->channels != 0 && opts->channels != 1 && opts->channels != 3)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "data set %s: %zu channels asked (1 or 3, or 0 for the data's)",
                                source, opts->channels);
    if (opts && opts->image_size > MAX_IMAGE_SIZE)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "data set %s: image size %zu is larger than %d", source,
                                opts->image_size, MAX_IMAGE_SIZE);
    return GANTRY_OK;
}

/* A folder of images or a .npy file: one split only. */
static gantry_status no_test_split(const char *dir)
{
    return gantry_set_error(GANTRY_NOT_FOUND,
                            "%s: no t10k-images-idx3-ubyte[.gz] (IDX) or test_batch.bin (CIFAR-10); a folder of "
                            "images or a .npy file has no test split (pass the test images as a source of their own)",
                            dir);
}

/* Reads `dir` (a file or folder) as whatever kind of source it is; `eval`:
 * a source without a test split (a folder, a .npy file) gives all of it. */
static gantry_status load_source(const char *dir, const struct stat *st, int test, int eval, size_t limit,
                                 const gantry_data_options *opts, gantry_dataset **out)
{
    const char *idx_split = test ? "t10k" : "train";
    if (S_ISREG(st->st_mode) && is_npy(dir))
        return test && !eval ? no_test_split(dir) : gantry__npy_images_load(dir, limit, out);
    if (!S_ISDIR(st->st_mode))
        return gantry_set_error(GANTRY_NOT_FOUND,
                                "%s is not a directory nor a .npy file (expected a folder of images, IDX files "
                                "(%s-images-idx3-ubyte[.gz]) or CIFAR-10 batches, or a .npy array)",
                                dir, idx_split);
    if (holds_idx(dir))
        return load_idx(dir, idx_split, limit, 0, "", out);
    if (holds(dir, "data_batch_1.bin") || holds(dir, "test_batch.bin"))
        return gantry__cifar_load(dir, test, limit, out);
    return test && !eval ? no_test_split(dir) : gantry__image_folder_load(dir, "train", limit, opts, out);
}

gantry_status gantry_dataset_open(const char *source, const char *split, size_t limit,
                                  const gantry_data_options *opts, gantry_dataset **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_dataset_open: out is NULL");
    *out = NULL;
    GANTRY_TRY(check_arguments(source, split, opts));
    int test = strcmp(split, "train") != 0, eval = strcmp(split, "eval") == 0;

    const char *dir = source, *origin = "";
    int is_default = strcmp(source, "fashion-mnist") == 0;
    if (is_default) {
        const char *env = getenv("GANTRY_DATA_DIR");
        dir = env && *env ? env : GANTRY_FASHION_MNIST_DIR;
        origin = env && *env ? " (from GANTRY_DATA_DIR)" : "";
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        int err = errno;
        if (is_default)
            return gantry_set_error(GANTRY_NOT_FOUND, "fashion-mnist: data directory %s%s not found: %s; " INSTALL_HINT,
                                    dir, origin, strerror(err));
        return gantry_set_error(GANTRY_NOT_FOUND, "data source %s not found: %s", dir, strerror(err));
    }
    if (is_default && !S_ISDIR(st.st_mode))
        return gantry_set_error(GANTRY_NOT_FOUND, "%s%s is not a directory (expected one holding %s-images-idx3-ubyte[.gz])",
                                dir, origin, test ? "t10k" : "train");

    gantry_dataset *ds = NULL;
    gantry_status s = is_default ? load_idx(dir, test ? "t10k" : "train", limit, 1, origin, &ds)
                                 : load_source(dir, &st, test, eval, limit, opts, &ds);
    /* image folders are preprocessed as they are decoded; the other kinds
     * hold planes to convert now, if the options ask for it */
    if (s == GANTRY_OK && strcmp(ds->kind, "images") != 0) {
        size_t size, channels;
        gantry__fit_target(ds, opts, &size, &channels);
        s = gantry__dataset_fit(ds, size, channels, opts);
    }
    if (s != GANTRY_OK) {
        gantry_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return GANTRY_OK;
}

gantry_status gantry_dataset_load(const char *source, const char *split, size_t limit, gantry_dataset **out)
{
    return gantry_dataset_open(source, split, limit, NULL, out);
}
