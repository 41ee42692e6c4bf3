/* io suite: checkpoints, training states and classifiers that lie (issue
 * 20).  Each hostile file is made from a real one that gantry wrote, with
 * one thing changed: metadata asking for huge or mismatched networks,
 * numbers that are not numbers, overlapping or gapped data, a name given
 * twice.  Each must be refused with GANTRY_CORRUPT_FILE and a message
 * naming the file and the key, quickly and without building anything; the
 * unchanged files of every model must still load.
 *
 *   test_hostile_files [REGRESSION_DIR]
 *       also replays the committed files of REGRESSION_DIR
 *       (tests/fuzz/regressions/checkpoint): ok-* load, the rest are refused
 *   test_hostile_files --write-regressions DIR
 *       writes the good and hostile checkpoints and training states into DIR
 *       (tests/fuzz/make_regressions.sh) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gantry/eval.h"
#include "gantry/gan.h"
#include "gantry/io.h"
#include "test.h"
#include "test_files.h"

static gantry_backend *be;
static const char *out_dir; /* where the crafted files go */

static const char *op(const char *name)
{
    static char ring[4][512];
    static int next;
    char *p = ring[next++ % 4];
    snprintf(p, sizeof ring[0], "%s/%s", out_dir, name);
    return p;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- every model still loads -------------------------------------------- */

typedef struct variant {
    const char *model;
    size_t side, width;
    int minibatch_disc;
} variant;

/* A saved checkpoint and training state of `v` load back: the plans the
 * loaders compare with the file (core/nn.c) are what the networks hold. */
static void check_round_trip(const variant *v)
{
    gantry_gan_config c;
    REQUIRE(gantry_gan_defaults(v->model, &c) == GANTRY_OK);
    c.batch = 2;
    c.z_dim = 8;
    c.base_channels = v->width;
    c.height = c.width = v->side;
    c.minibatch_disc = v->minibatch_disc;
    gantry_gan *gan = NULL, *back = NULL;
    REQUIRE(gantry_gan_create(be, &c, &gan) == GANTRY_OK);
    const char *ck = tp("rt.safetensors"), *ts = tp("rt-state.safetensors");
    CHECK_OK(gantry_gan_save(gan, ck, NULL, 0));
    CHECK_OK(gantry_gan_save_training(gan, ts, NULL, 0));
    CHECK_OK(gantry_gan_load(be, ck, &back));
    if (back)
        CHECK_OK(gantry_gan_load_training(back, ts));
    if (test_failures)
        fprintf(stderr, "  (model %s %zux%zu width %zu minibatch_disc %d)\n", v->model, v->side, v->side, v->width,
                v->minibatch_disc);
    gantry_gan_destroy(back);
    gantry_gan_destroy(gan);
}

static void test_every_model_loads(void)
{
    const char *const *models = gantry_gan_models();
    for (size_t i = 0; models[i]; i++) {
        check_round_trip(&(variant){ models[i], 28, 4, 0 });
        if (strcmp(models[i], "began") != 0) /* began has no logits for it */
            check_round_trip(&(variant){ models[i], 28, 4, 1 });
    }
    /* the DCGAN paper's all-convolutional networks */
    check_round_trip(&(variant){ "dcgan", 32, 2, 0 });
    check_round_trip(&(variant){ "cdcgan", 64, 2, 1 });
    check_round_trip(&(variant){ "began", 32, 2, 0 });

    gantry_classifier_config cc = gantry_classifier_defaults(1, 8, 8, 3);
    gantry_classifier *clf = NULL, *back = NULL;
    REQUIRE(gantry_classifier_create(be, &cc, &clf) == GANTRY_OK);
    CHECK_OK(gantry_classifier_save(clf, tp("clf.safetensors"), NULL, 0));
    CHECK_OK(gantry_classifier_load(be, tp("clf.safetensors"), &back));
    gantry_classifier_destroy(back);
    gantry_classifier_destroy(clf);
}

/* ---- crafting ------------------------------------------------------------ */

/* A safetensors file split into its header text and its data section. */
typedef struct st_file {
    char *header;
    unsigned char *data;
    size_t data_len;
} st_file;

static st_file st_load(const char *path)
{
    size_t size;
    unsigned char *raw = read_raw(path, &size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)raw[i] << (8 * i);
    REQUIRE(size >= 8 + hlen);
    st_file f = { malloc(hlen + 1), malloc(size - 8 - hlen + 64), size - 8 - hlen };
    REQUIRE(f.header && f.data);
    memcpy(f.header, raw + 8, hlen);
    f.header[hlen] = '\0';
    memcpy(f.data, raw + 8 + hlen, f.data_len);
    free(raw);
    return f;
}

/* Writes f with its header padded with spaces to a multiple of 8, as gantry does. */
static void st_save(const st_file *f, const char *path)
{
    size_t hl = strlen(f->header), padded = (hl + 7) / 8 * 8;
    unsigned char *b = calloc(1, 8 + padded + f->data_len);
    REQUIRE(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, f->header, hl);
    memset(b + 8 + hl, ' ', padded - hl);
    memcpy(b + 8 + padded, f->data, f->data_len);
    write_raw(path, b, 8 + padded + f->data_len);
    free(b);
}

static void st_free(st_file *f)
{
    free(f->header);
    free(f->data);
}

/* Replaces the `len` bytes at `at` in f's header with `text`. */
static void splice(st_file *f, char *at, size_t len, const char *text)
{
    size_t head = (size_t)(at - f->header), tail = strlen(at + len);
    char *h = malloc(head + strlen(text) + tail + 1);
    REQUIRE(h);
    memcpy(h, f->header, head);
    strcpy(h + head, text);
    strcpy(h + head + strlen(text), at + len);
    free(f->header);
    f->header = h;
}

/* Metadata `key` := value. */
static void set_meta(st_file *f, const char *key, const char *value)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    char *at = strstr(f->header, pat);
    REQUIRE(at);
    at += strlen(pat);
    splice(f, at, (size_t)(strchr(at, '"') - at), value);
}

/* A second metadata entry `key`: value, right after the first. */
static void add_meta(st_file *f, const char *key, const char *value)
{
    char pat[96], text[192];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    char *at = strstr(f->header, pat);
    REQUIRE(at);
    at = strchr(at + strlen(pat), '"') + 1;
    snprintf(text, sizeof text, ",\"%s\":\"%s\"", key, value);
    splice(f, at, 0, text);
}

/* Shifts the data_offsets of the tensor written last (the header lists
 * them in order) by `delta` bytes, and appends `extra` bytes of data. */
static void shift_last(st_file *f, long delta, size_t extra)
{
    char *at = NULL, *p = f->header;
    while ((p = strstr(p, "\"data_offsets\":[")))
        at = p++;
    REQUIRE(at);
    at += strlen("\"data_offsets\":[");
    unsigned long a, b;
    REQUIRE(sscanf(at, "%lu,%lu", &a, &b) == 2);
    char text[64];
    snprintf(text, sizeof text, "%lu,%lu", a + (unsigned long)delta, b + (unsigned long)delta);
    splice(f, at, (size_t)(strchr(at, ']') - at), text);
    memset(f->data + f->data_len, 0, extra);
    f->data_len += extra;
}

/* The tensor entry `from` renamed `to`. */
static void rename_tensor(st_file *f, const char *from, const char *to)
{
    char pat[96], text[96];
    snprintf(pat, sizeof pat, "\"%s\":{", from);
    snprintf(text, sizeof text, "\"%s\":{", to);
    char *at = strstr(f->header, pat);
    REQUIRE(at);
    splice(f, at, strlen(pat), text);
}

/* ---- the hostile files ---------------------------------------------------- */

enum { META, META_TWICE, SHIFT, RENAME };
enum { CHECKPOINT, TRAIN_STATE, CLASSIFIER };

typedef struct hostile {
    const char *name; /* of the file written: what it tests */
    int source;       /* which good file it is made from */
    int how;
    const char *a, *b; /* META(_TWICE): key, value; RENAME: from, to; SHIFT: a = "+4" or "-4" */
    const char *says, *says2; /* what the message must name besides the file */
} hostile;

static const hostile hostiles[] = {
    /* metadata asking for huge networks: refused before anything is built */
    { "z_dim-1e9", CHECKPOINT, META, "z_dim", "1000000000", "z_dim", "1000000000" },
    { "z_dim-1e12", CHECKPOINT, META, "z_dim", "1e12", "z_dim", "1e12" },
    { "image_shape-400000", CHECKPOINT, META, "image_shape", "1,400000,400000", "image_shape", "400000" },
    { "classes-1e20", CHECKPOINT, META, "classes", "1e20", "classes", "1e20" },
    { "batch-1e9", CHECKPOINT, META, "batch", "1000000000", "batch", "65536" },
    { "width-99999", CHECKPOINT, META, "width", "99999", "width", "4096" },
    /* in range, but not the network of the file's tensors */
    { "z_dim-mismatch", CHECKPOINT, META, "z_dim", "500", "z_dim = 500", "G.0.weight" },
    { "width-mismatch", CHECKPOINT, META, "width", "64", "width = 64", "G.0.weight" },
    { "image_shape-mismatch", CHECKPOINT, META, "image_shape", "1,64,64", "image_shape = 1,64,64", "G." },
    { "image_shape-channels", CHECKPOINT, META, "image_shape", "3,28,28", "image_shape = 3,28,28", "G.7.weight" },
    { "minibatch_disc-mismatch", CHECKPOINT, META, "minibatch_disc", "1", "minibatch_disc = 1", "D.6.T" },
    /* numbers that are not numbers, values outside their list */
    { "step-abc", CHECKPOINT, META, "step", "abc", "step", "abc" },
    { "z_dim-negative", CHECKPOINT, META, "z_dim", "-2", "z_dim", "-2" },
    { "z_dim-space", CHECKPOINT, META, "z_dim", " 2", "z_dim", NULL },
    { "z_dim-trailing", CHECKPOINT, META, "z_dim", "2x", "z_dim", "2x" },
    { "minibatch_disc-2", CHECKPOINT, META, "minibatch_disc", "2", "minibatch_disc", NULL },
    { "lr-nan", CHECKPOINT, META, "lr", "nan", "lr", "nan" },
    { "lr-inf", CHECKPOINT, META, "lr", "1e99", "lr", NULL },
    { "betas-junk", CHECKPOINT, META, "betas", "0.5,0.999x", "betas", NULL },
    { "g_loss-unknown", CHECKPOINT, META, "g_loss", "sideways", "g_loss", "sideways" },
    { "seed-overflow", CHECKPOINT, META, "seed", "18446744073709551616", "seed", NULL },
    { "train-state-step-abc", TRAIN_STATE, META, "step", "abc", "step", "abc" },
    { "train-state-k_t-nan", TRAIN_STATE, META, "k_t", "nan", "k_t", NULL },
    { "train-state-noise_offset-junk", TRAIN_STATE, META, "noise_offset", "12 ", "noise_offset", NULL },
    { "classifier-image_shape-400000", CLASSIFIER, META, "image_shape", "1,400000,400000", "image_shape", NULL },
    { "classifier-image_shape-mismatch", CLASSIFIER, META, "image_shape", "1,12,12", "image_shape = 1,12,12",
      "10.weight" },
    { "classifier-dropout-nan", CLASSIFIER, META, "dropout", "nan", "dropout", NULL },
    /* the safetensors rules */
    { "overlapping-offsets", CHECKPOINT, SHIFT, "-4", NULL, "overlap", NULL },
    { "gap-in-data", CHECKPOINT, SHIFT, "+4", NULL, "gap", NULL },
    { "trailing-data", CHECKPOINT, SHIFT, "+0", NULL, "gap", "last 4 bytes" },
    { "duplicate-tensor-name", CHECKPOINT, RENAME, "G.0.bias", "G.0.weight", "G.0.weight", "twice" },
    { "duplicate-metadata-key", CHECKPOINT, META_TWICE, "z_dim", "500", "metadata key \"z_dim\"", "twice" },
};

#define NHOSTILE (sizeof hostiles / sizeof *hostiles)

/* The good files, in out_dir: a dcgan as small as its networks go (4.4 KB),
 * its training state and a classifier. */
static const char *const good_names[] = { "ok-dcgan.safetensors", "ok-dcgan-train-state.safetensors",
                                          "ok-classifier.safetensors" };

static void write_good_files(int classifier)
{
    gantry_gan_config c;
    REQUIRE(gantry_gan_defaults("dcgan", &c) == GANTRY_OK);
    c.batch = 2;
    c.z_dim = 2;
    c.base_channels = 1;
    c.seed = 20;
    gantry_gan *gan = NULL;
    REQUIRE(gantry_gan_create(be, &c, &gan) == GANTRY_OK);
    REQUIRE(gantry_gan_save(gan, op(good_names[CHECKPOINT]), NULL, 0) == GANTRY_OK);
    REQUIRE(gantry_gan_save_training(gan, op(good_names[TRAIN_STATE]), NULL, 0) == GANTRY_OK);
    gantry_gan_destroy(gan);
    if (!classifier)
        return;
    gantry_classifier_config cc = gantry_classifier_defaults(1, 8, 8, 2);
    gantry_classifier *clf = NULL;
    REQUIRE(gantry_classifier_create(be, &cc, &clf) == GANTRY_OK);
    REQUIRE(gantry_classifier_save(clf, op(good_names[CLASSIFIER]), NULL, 0) == GANTRY_OK);
    gantry_classifier_destroy(clf);
}

static void write_hostile(const hostile *h)
{
    st_file f = st_load(op(good_names[h->source]));
    if (h->how == META) {
        set_meta(&f, h->a, h->b);
    } else if (h->how == SHIFT) {
        long delta = atol(h->a);
        shift_last(&f, delta, delta >= 0 ? 4 : 0);
    } else if (h->how == META_TWICE) {
        add_meta(&f, h->a, h->b);
    } else {
        rename_tensor(&f, h->a, h->b);
    }
    char name[128];
    snprintf(name, sizeof name, "%s.safetensors", h->name);
    st_save(&f, op(name));
    st_free(&f);
}

/* Loads `path` as a file of kind `source`: a training state on top of the
 * good checkpoint `good` (same step). */
static gantry_status load_as(int source, const char *path, const char *good)
{
    gantry_status s;
    if (source == CLASSIFIER) {
        gantry_classifier *clf = NULL;
        s = gantry_classifier_load(be, path, &clf);
        gantry_classifier_destroy(clf);
        return s;
    }
    gantry_gan *gan = NULL;
    if (source == TRAIN_STATE) {
        if ((s = gantry_gan_load(be, good, &gan)))
            return s;
        s = gantry_gan_load_training(gan, path);
    } else {
        s = gantry_gan_load(be, path, &gan);
    }
    gantry_gan_destroy(gan);
    return s;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_hostile_files(void)
{
    out_dir = tmp_root;
    write_good_files(1);
    for (int k = 0; k < 3; k++)
        CHECK_OK(load_as(k, op(good_names[k]), op(good_names[CHECKPOINT])));
    long rss0 = max_rss_kb();
    for (size_t i = 0; i < NHOSTILE; i++) {
        const hostile *h = &hostiles[i];
        write_hostile(h);
        char name[128];
        snprintf(name, sizeof name, "%s.safetensors", h->name);
        double t0 = now_s();
        CHECK_STATUS(load_as(h->source, op(name), op(good_names[CHECKPOINT])), GANTRY_CORRUPT_FILE);
        double dt = now_s() - t0;
        CHECK_ERROR_MENTIONS(name);
        CHECK_ERROR_MENTIONS(h->says);
        if (h->says2)
            CHECK_ERROR_MENTIONS(h->says2);
        CHECK(dt < 1.0);
        printf("%-32s %.4f s: %s\n", h->name, dt, gantry_last_error());
    }
    /* Nothing was built for any of them (the good loads above built more). */
    printf("peak memory grew by %ld KB over the hostile files\n", max_rss_kb() - rss0);
    CHECK(max_rss_kb() - rss0 < 100 * 1024);
}

/* ---- the committed regression files ----------------------------------------- */

static int source_of(const char *name)
{
    return strstr(name, "classifier") ? CLASSIFIER : strstr(name, "train-state") ? TRAIN_STATE : CHECKPOINT;
}

static void replay(const char *dir)
{
    DIR *d = opendir(dir);
    REQUIRE(d);
    char good[1024], path[1024];
    snprintf(good, sizeof good, "%s/%s", dir, good_names[CHECKPOINT]);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".safetensors"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gantry_status want = strncmp(e->d_name, "ok-", 3) == 0 ? GANTRY_OK : GANTRY_CORRUPT_FILE;
        CHECK_STATUS(load_as(source_of(e->d_name), path, good), want);
        if (want)
            CHECK_ERROR_MENTIONS(e->d_name);
        n++;
    }
    closedir(d);
    printf("replayed %zu files of %s\n", n, dir);
    CHECK(n >= 20);
}

int main(int argc, char **argv)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    if (argc == 3 && strcmp(argv[1], "--write-regressions") == 0) {
        /* not the classifier's: its fixed layers make a file of 1 MB */
        out_dir = argv[2];
        write_good_files(0);
        size_t n = 2;
        for (size_t i = 0; i < NHOSTILE; i++)
            if (hostiles[i].source != CLASSIFIER) {
                write_hostile(&hostiles[i]);
                n++;
            }
        gantry_backend_close(be);
        printf("wrote %zu files into %s\n", n, out_dir);
        return 0;
    }
    test_tmp_init("hostile");
    test_every_model_loads();
    test_hostile_files();
    if (argc == 2)
        replay(argv[1]);
    remove_tree(tmp_root);
    gantry_backend_close(be);
    return test_finish("hostile_files");
}
