/* The image files below a folder: a recursive walk, the class folders, and
 * the data set order (base name, then relative path, as bytes). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/dataset_impl.h"
#include "core/image_scan.h"

typedef struct dir_id {
    dev_t dev;
    ino_t ino;
} dir_id;

typedef struct walker {
    const char *top;
    const gantry_data_options *opts;
    gantry__scan *scan;
    size_t cap;         /* of scan->files */
    dir_id *open;       /* the folders being walked, top first: a link back to one is a loop */
    size_t depth, open_cap;
} walker;

char *gantry__path_join(const char *dir, const char *rel)
{
    size_t a = strlen(dir), b = strlen(rel);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, rel, b + 1);
    }
    return p;
}

static int has_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

static int not_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* strcmp, not alphasort's strcoll: the order must not depend on the locale */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void free_list(struct dirent **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Takes `rel`; stat_ok says whether `st` holds the file's (or its dangling
 * link's) status. */
static gantry_status add_file(walker *w, char *rel, const struct stat *st, int stat_ok, int label)
{
    gantry__scan *s = w->scan;
    if (s->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        gantry__scan_entry *grown = realloc(s->files, cap * sizeof *grown);
        if (!grown) {
            free(rel);
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory listing its images", w->top);
        }
        s->files = grown;
        w->cap = cap;
    }
    const char *slash = strrchr(rel, '/');
    gantry__scan_entry *f = &s->files[s->count++];
    f->rel = rel;
    f->base = slash ? (size_t)(slash + 1 - rel) : 0;
    f->label = (uint8_t)label;
    f->size = stat_ok ? (int64_t)st->st_size : -1;
    f->mtime_ns = stat_ok ? (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec : 0;
    return GANTRY_OK;
}

static gantry_status add_class(walker *w, const char *name)
{
    gantry__scan *s = w->scan;
    if (s->num_classes == GANTRY__MAX_CLASSES)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: more than %d class folders (labels are bytes)", w->top,
                                GANTRY__MAX_CLASSES);
    size_t len = strlen(name) + 1;
    char *grown = realloc(s->class_names, s->names_size + len);
    if (!grown)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", w->top);
    memcpy(grown + s->names_size, name, len);
    s->class_names = grown;
    s->names_size += len;
    s->num_classes++;
    return GANTRY_OK;
}

static int is_open(const walker *w, const struct stat *st)
{
    for (size_t i = 0; i < w->depth; i++)
        if (w->open[i].dev == st->st_dev && w->open[i].ino == st->st_ino)
            return 1;
    return 0;
}

static gantry_status walk(walker *w, const char *rel, int label, int classes);

static gantry_status enter(walker *w, const char *rel, const struct stat *st, int label)
{
    if (is_open(w, st))
        return GANTRY_OK; /* a link back up: already being walked */
    if (w->depth == w->open_cap) {
        size_t cap = w->open_cap ? w->open_cap * 2 : 16;
        dir_id *grown = realloc(w->open, cap * sizeof *grown);
        if (!grown)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", w->top);
        w->open = grown;
        w->open_cap = cap;
    }
    w->open[w->depth++] = (dir_id){ st->st_dev, st->st_ino };
    gantry_status s = walk(w, rel, label, 0);
    w->depth--;
    return s;
}

/* One entry `name` of folder `rel`; with `classes`, a subfolder is a new
 * class. */
static gantry_status visit(walker *w, const char *rel, const char *name, int label, int classes)
{
    char *child = *rel ? gantry__path_join(rel, name) : strdup(name);
    char *full = child ? gantry__path_join(w->top, child) : NULL;
    if (!full) {
        free(child);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", w->top);
    }
    struct stat st;
    int found = stat(full, &st) == 0;
    gantry_status s = GANTRY_OK;
    if (!classes && has_image_name(name)) {
        /* kept whatever it is: reading it says what is wrong */
        int ok = found || lstat(full, &st) == 0;
        s = add_file(w, child, &st, ok, label);
        child = NULL;
    } else if (found && S_ISDIR(st.st_mode)) {
        if (classes && (s = add_class(w, name)) == GANTRY_OK)
            label = (int)w->scan->num_classes - 1;
        if (s == GANTRY_OK)
            s = enter(w, child, &st, label);
    } else if (found) {
        w->scan->ignored++;
    }
    free(child);
    free(full);
    return s;
}

static gantry_status walk(walker *w, const char *rel, int label, int classes)
{
    char *path = *rel ? gantry__path_join(w->top, rel) : strdup(w->top);
    if (!path)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", w->top);
    struct dirent **list = NULL;
    int n = scandir(path, &list, not_hidden, by_name);
    gantry_status s = GANTRY_OK;
    if (n < 0) {
        int err = errno;
        if (!*rel)
            s = gantry_set_error(err == ENOMEM ? GANTRY_OUT_OF_MEMORY : GANTRY_IO, "%s: cannot read the folder: %s",
                                 path, strerror(err));
        else
            gantry__data_warn(w->opts, "%s: cannot read this folder (%s); its images are left out", path,
                              strerror(err));
        free(path);
        return s;
    }
    for (int i = 0; i < n && s == GANTRY_OK; i++)
        s = visit(w, rel, list[i]->d_name, label, classes);
    free_list(list, n);
    free(path);
    return s;
}

/* Whether the top folder holds subfolders and no image names: then its
 * subfolders are classes. */
static int has_classes(const char *top)
{
    struct dirent **list = NULL;
    int n = scandir(top, &list, not_hidden, NULL);
    int dirs = 0, images = 0;
    for (int i = 0; i < n; i++) {
        char *full = gantry__path_join(top, list[i]->d_name);
        struct stat st;
        if (has_image_name(list[i]->d_name))
            images++;
        else if (full && stat(full, &st) == 0 && S_ISDIR(st.st_mode))
            dirs++;
        free(full);
    }
    free_list(list, n); /* n < 0: walk() reports it */
    return dirs > 0 && images == 0;
}

static int by_order(const void *a, const void *b)
{
    const gantry__scan_entry *x = a, *y = b;
    int c = strcmp(x->rel + x->base, y->rel + y->base);
    return c ? c : strcmp(x->rel, y->rel);
}

gantry_status gantry__scan_images(const char *dir, const gantry_data_options *opts, gantry__scan *out)
{
    memset(out, 0, sizeof *out);
    walker w = { dir, opts, out, 0, NULL, 0, 0 };
    struct stat st;
    if (stat(dir, &st) != 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "%s: cannot read the folder: %s", dir, strerror(errno));
    w.open = malloc(sizeof *w.open);
    if (!w.open)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of memory", dir);
    w.open[0] = (dir_id){ st.st_dev, st.st_ino };
    w.depth = w.open_cap = 1;
    gantry_status s = walk(&w, "", 0, has_classes(dir));
    free(w.open);
    if (s != GANTRY_OK) {
        gantry__scan_free(out);
        return s;
    }
    if (out->count)
        qsort(out->files, out->count, sizeof *out->files, by_order);
    return GANTRY_OK;
}

void gantry__scan_free(gantry__scan *scan)
{
    for (size_t i = 0; i < scan->count; i++)
        free(scan->files[i].rel);
    free(scan->files);
    free(scan->class_names);
    memset(scan, 0, sizeof *scan);
}
