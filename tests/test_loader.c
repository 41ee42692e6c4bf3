/* The plugin loader (plugins/loader.c): search path, refusal of broken
 * modules with a reason, automatic choice, names and GANTRY_BACKEND.
 *
 * The broken modules come from tests/loader_modules/ (GANTRY_TEST_MODULE_DIR,
 * outside the build tree's backends/ folder, so only this test sees them);
 * more cases are made at run time in a temporary directory: a text file
 * named like a module, a dangling link, a module one and two folders down,
 * and a copy of the reference module that shadows the real one. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gantry/backend.h"
#include "gantry/tensor.h"
#include "tests/test.h"

static const char *module_dir;
static const char *reference_module;
static char tmp_root[512];
static char cache_dir[640];

/* ---- temporary files ----------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    REQUIRE(fputs(text, f) >= 0);
    REQUIRE(fclose(f) == 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    REQUIRE(in);
    FILE *out = fopen(to, "wb");
    REQUIRE(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        REQUIRE(fwrite(buf, 1, n, out) == n);
    REQUIRE(!ferror(in));
    fclose(in);
    REQUIRE(fclose(out) == 0);
}

/* "<tmp_root>/<rel>" into buf. */
static const char *tmp_path(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", tmp_root, rel);
    return buf;
}

static void make_dir(const char *rel)
{
    char p[1024];
    REQUIRE(mkdir(tmp_path(p, sizeof p, rel), 0700) == 0);
}

/* Files removed at the end, deepest first. */
static const char *const tmp_files[] = {
    "a/gantry-backend-notaso.so",
    "a/gantry-backend-dangling.so",
    "a/gantry-backend-.so",
    "a/gantry-backend-versioned.so.1",
    "a/libgantry-backend-prefixed.so",
    "a/sub/sub2/gantry-backend-toodeep.so",
    "a/sub/gantry-backend-deepnotaso.so",
    "b/gantry-backend-reference.so",
};
static const char *const tmp_dirs[] = { "a/sub/sub2", "a/sub", "a", "b", "cache" };

static void make_tmp_tree(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/gantry-test-loader-XXXXXX", (base && *base) ? base : "/tmp");
    REQUIRE(mkdtemp(tmp_root));
    make_dir("a");
    make_dir("a/sub");
    make_dir("a/sub/sub2");
    make_dir("b");
    make_dir("cache");
    char p[1024];
    write_text(tmp_path(p, sizeof p, "a/gantry-backend-notaso.so"), "this is not an ELF file\n");
    write_text(tmp_path(p, sizeof p, "a/gantry-backend-.so"), "no name\n");
    write_text(tmp_path(p, sizeof p, "a/gantry-backend-versioned.so.1"), "wrong suffix\n");
    write_text(tmp_path(p, sizeof p, "a/libgantry-backend-prefixed.so"), "wrong prefix\n");
    write_text(tmp_path(p, sizeof p, "a/sub/gantry-backend-deepnotaso.so"), "one folder down\n");
    write_text(tmp_path(p, sizeof p, "a/sub/sub2/gantry-backend-toodeep.so"), "two folders down\n");
    REQUIRE(symlink("/nonexistent/gantry-backend-dangling.so", tmp_path(p, sizeof p, "a/gantry-backend-dangling.so")) ==
            0);
    copy_file(reference_module, tmp_path(p, sizeof p, "b/gantry-backend-reference.so"));
    tmp_path(cache_dir, sizeof cache_dir, "cache");
}

static void remove_tmp_tree(void)
{
    char p[1024];
    for (size_t i = 0; i < sizeof tmp_files / sizeof *tmp_files; i++)
        if (unlink(tmp_path(p, sizeof p, tmp_files[i])) != 0 && errno != ENOENT)
            fprintf(stderr, "warning: cannot remove %s\n", p);
    for (size_t i = 0; i < sizeof tmp_dirs / sizeof *tmp_dirs; i++)
        rmdir(tmp_path(p, sizeof p, tmp_dirs[i]));
    if (rmdir(tmp_root) != 0)
        fprintf(stderr, "warning: cannot remove %s\n", tmp_root);
}

/* ---- helpers ------------------------------------------------------------- */

static void set_plugin_path(const char *first, const char *second)
{
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", first, second ? ":" : "", second ? second : "");
    REQUIRE(setenv("GANTRY_PLUGIN_PATH", path, 1) == 0);
}

/* The first entry of that name (the one the search path prefers). */
static const gantry_backend_info *find(const gantry_backend_info *infos, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, name) == 0)
            return &infos[i];
    return NULL;
}

static size_t count_named(const gantry_backend_info *infos, size_t count, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += strcmp(infos[i].name, name) == 0;
    return n;
}

/* Checks that module `name` was listed, refused, with `reason` in its
 * reason text, and found in directory `dir`. */
static void check_refused_at(int line, const gantry_backend_info *infos, size_t count, const char *name,
                             const char *reason, const char *dir)
{
    const gantry_backend_info *info = find(infos, count, name);
    test_checks++;
    if (!info) {
        test_failures++;
        fprintf(stderr, "%s:%d: module '%s' not listed by gantry_backend_scan\n", __FILE__, line, name);
        return;
    }
    test_checks++;
    if (info->usable || info->score != 0 || info->is_auto_choice || !strstr(info->reason, reason) ||
        strncmp(info->path, dir, strlen(dir)) != 0) {
        test_failures++;
        fprintf(stderr, "%s:%d: module '%s': usable %d, score %d, auto %d, path '%s', reason '%s'; expected "
                        "refused in %s with a reason mentioning '%s'\n",
                __FILE__, line, name, info->usable, info->score, info->is_auto_choice, info->path, info->reason,
                dir, reason);
    }
}

#define CHECK_REFUSED(infos, count, name, reason, dir) check_refused_at(__LINE__, infos, count, name, reason, dir)

/* Expects gantry_backend_open(name) to fail with `status` and a message
 * mentioning `needle`, leaving *out NULL. */
static void check_open_fails_at(int line, const char *name, const gantry_backend_config *config,
                                gantry_status status, const char *needle)
{
    gantry_backend *be = (gantry_backend *)&be; /* not NULL before the call */
    gantry_clear_error();
    gantry_status s = gantry_backend_open(name, config, &be);
    test_checks += 3;
    if (s != status) {
        test_failures++;
        fprintf(stderr, "%s:%d: open('%s') returned %s, expected %s (%s)\n", __FILE__, line,
                name ? name : "(null)", gantry_status_name(s), gantry_status_name(status), gantry_last_error());
    }
    if (!strstr(gantry_last_error(), needle)) {
        test_failures++;
        fprintf(stderr, "%s:%d: open('%s'): message \"%s\" does not mention \"%s\"\n", __FILE__, line,
                name ? name : "(null)", gantry_last_error(), needle);
    }
    if (be != NULL) {
        test_failures++;
        fprintf(stderr, "%s:%d: open('%s') failed but left *out non-NULL\n", __FILE__, line, name ? name : "(null)");
        if (s == GANTRY_OK)
            gantry_backend_close(be);
    }
}

#define CHECK_OPEN_FAILS(name, status, needle) check_open_fails_at(__LINE__, name, NULL, status, needle)

/* Opens `name`, expects backend `want`, and proves the instance works with
 * a small write/read round trip. */
static void check_open_as_at(int line, const char *name, const char *want)
{
    gantry_backend *be = NULL;
    gantry_status s = gantry_backend_open(name, NULL, &be);
    test_checks++;
    if (s != GANTRY_OK || !be) {
        test_failures++;
        fprintf(stderr, "%s:%d: open('%s') returned %s (%s)\n", __FILE__, line, name ? name : "(null)",
                gantry_status_name(s), gantry_last_error());
        return;
    }
    test_checks++;
    if (strcmp(gantry_backend_name(be), want) != 0) {
        test_failures++;
        fprintf(stderr, "%s:%d: open('%s') gave backend '%s', expected '%s'\n", __FILE__, line,
                name ? name : "(null)", gantry_backend_name(be), want);
    }
    gantry_tensor *t = NULL;
    float in[3] = { 1.5f, -2.0f, 3.25f }, out[3] = { 0 };
    CHECK_OK(gantry_tensor_new(be, &t, 3, 0, 0, 0));
    CHECK_OK(gantry_tensor_write(t, in, 3));
    CHECK_OK(gantry_tensor_read(t, out, 3));
    CHECK(memcmp(in, out, sizeof in) == 0);
    gantry_tensor_destroy(t);
    CHECK_OK(gantry_backend_synchronize(be));
    gantry_backend_close(be);
}

/* The build tree's automatic choice: "reference" while it is the only real
 * backend built; a faster backend built later (a CPU or GPU module scores
 * higher) takes its place without breaking this test. */
static char auto_name[64] = "reference";

#define CHECK_OPEN_REFERENCE(name) check_open_as_at(__LINE__, name, "reference")
#define CHECK_OPEN_AUTO(name) check_open_as_at(__LINE__, name, auto_name)

static int reference_is_auto(void)
{
    return strcmp(auto_name, "reference") == 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_arguments(void)
{
    size_t count = 99;
    gantry_backend_info *infos = NULL;
    CHECK_STATUS(gantry_backend_scan(NULL, &count), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_backend_scan(&infos, NULL), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_backend_open("reference", NULL, NULL), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("backend_open");
    CHECK(strcmp(gantry_backend_name(NULL), "") == 0);
    gantry_backend_close(NULL);
}

static void test_search_path(void)
{
    char dir_a[1024];
    tmp_path(dir_a, sizeof dir_a, "a");
    set_plugin_path(dir_a, module_dir);
    const char *path = gantry_backend_search_path();
    char prefix[2048];
    snprintf(prefix, sizeof prefix, "%s:%s:", dir_a, module_dir);
    CHECK(strncmp(path, prefix, strlen(prefix)) == 0);
    /* The build tree's backends/ folder comes next (libgantry runs from the
     * build tree here), then the install directory. */
    CHECK(strstr(path + strlen(prefix), "/backends:") != NULL);
    CHECK(strstr(path, "gantry/backends") != NULL);

    /* Empty or unset: the build tree and the install directory only. */
    REQUIRE(setenv("GANTRY_PLUGIN_PATH", "", 1) == 0);
    char empty[4096];
    snprintf(empty, sizeof empty, "%s", gantry_backend_search_path());
    CHECK(empty[0] == '/');
    CHECK(strstr(empty, module_dir) == NULL);
    REQUIRE(unsetenv("GANTRY_PLUGIN_PATH") == 0);
    CHECK(strcmp(gantry_backend_search_path(), empty) == 0);
}

/* Without GANTRY_PLUGIN_PATH the test modules are invisible. */
static void test_default_scan(void)
{
    REQUIRE(setenv("GANTRY_PLUGIN_PATH", "", 1) == 0);
    gantry_backend_info *infos = NULL;
    size_t count = 0;
    CHECK_OK(gantry_backend_scan(&infos, &count));
    REQUIRE(infos);
    const gantry_backend_info *ref = find(infos, count, "reference");
    CHECK(ref && ref->usable && ref->score == 10);
    CHECK(find(infos, count, "badabi") == NULL);
    CHECK(find(infos, count, "zero") == NULL);
    /* Exactly one auto choice: a usable module with the highest score. */
    size_t autos = 0;
    for (size_t i = 0; i < count; i++) {
        if (!infos[i].is_auto_choice)
            continue;
        autos++;
        snprintf(auto_name, sizeof auto_name, "%s", infos[i].name);
        CHECK(infos[i].usable);
        for (size_t j = 0; j < count; j++)
            CHECK(!infos[j].usable || infos[j].score <= infos[i].score);
    }
    CHECK(autos == 1);
    if (!reference_is_auto())
        printf("note: the build tree's auto choice is '%s', not 'reference'\n", auto_name);
    free(infos);
    CHECK_OPEN_AUTO("auto");
    CHECK_OPEN_AUTO(NULL);
}

static void test_scan_broken(void)
{
    char dir_a[1024], sub[1024];
    tmp_path(dir_a, sizeof dir_a, "a");
    tmp_path(sub, sizeof sub, "a/sub");
    set_plugin_path(dir_a, module_dir);
    REQUIRE(setenv("GANTRY_NUM_THREADS", "3", 1) == 0);
    REQUIRE(setenv("GANTRY_FAILCREATE_DEVICE", "gpu7", 1) == 0);
    REQUIRE(setenv("GANTRY_CACHE_DIR", cache_dir, 1) == 0);

    gantry_backend_info *infos = NULL;
    size_t count = 0;
    CHECK_OK(gantry_backend_scan(&infos, &count));
    REQUIRE(infos);
    for (size_t i = 0; i < count; i++)
        printf("  %-12s usable %d score %3d auto %d  %s\n", infos[i].name, infos[i].usable, infos[i].score,
               infos[i].is_auto_choice, infos[i].reason);

    char badabi_reason[96];
    snprintf(badabi_reason, sizeof badabi_reason, "ABI version %u, but this gantry needs version %u",
             GANTRY_BACKEND_ABI_VERSION + 1, GANTRY_BACKEND_ABI_VERSION);
    CHECK_REFUSED(infos, count, "badabi", badabi_reason, module_dir);
    const gantry_backend_info *bad = find(infos, count, "badabi");
    CHECK(bad && bad->abi_version == GANTRY_BACKEND_ABI_VERSION + 1);
    CHECK_REFUSED(infos, count, "noentry", "exports no gantry_backend_entry", module_dir);
    CHECK_REFUSED(infos, count, "nullentry", "gantry_backend_entry returned NULL", module_dir);
    CHECK_REFUSED(infos, count, "small", "smaller", module_dir);
    CHECK_REFUSED(infos, count, "misnamed", "somebodyelse", module_dir);
    CHECK_REFUSED(infos, count, "incomplete", "ops table is incomplete: no gemm method", module_dir);
    CHECK_REFUSED(infos, count, "zero", "no device for testing", module_dir);
    CHECK_REFUSED(infos, count, "notaso", "cannot be opened", dir_a);
    CHECK_REFUSED(infos, count, "deepnotaso", "cannot be opened", sub); /* one folder down is searched */

    /* A refused module that got as far as probe still reports itself. */
    const gantry_backend_info *zero = find(infos, count, "zero");
    CHECK(zero && strstr(zero->description, "broken module"));
    CHECK(zero && strstr(zero->devices, "fake zero"));

    /* Not modules: too deep, dangling, no name, wrong prefix or suffix. */
    CHECK(find(infos, count, "toodeep") == NULL);
    CHECK(find(infos, count, "dangling") == NULL);
    CHECK(find(infos, count, "") == NULL);
    CHECK(find(infos, count, "versioned") == NULL);
    CHECK(find(infos, count, "prefixed") == NULL);

    /* Usable fakes score 1 and see the options the core gathered from the
     * environment. */
    const gantry_backend_info *fc = find(infos, count, "failcreate");
    CHECK(fc && fc->usable && fc->score == 1 && !fc->is_auto_choice && fc->reason[0] == '\0');
    char want[1024];
    snprintf(want, sizeof want, "threads=3 device=gpu7 cache=%s", cache_dir);
    CHECK(fc && strstr(fc->devices, want));
    const gantry_backend_info *sf = find(infos, count, "silentfail");
    CHECK(sf && sf->usable && sf->score == 1);
    CHECK(sf && strstr(sf->devices, "device=(none)")); /* GANTRY_FAILCREATE_DEVICE is not its variable */

    /* The reference backend is still there, usable and the auto choice
     * (the usable fakes score only 1). */
    const gantry_backend_info *ref = find(infos, count, "reference");
    CHECK(ref && ref->usable && ref->score == 10 && ref->reason[0] == '\0');
    CHECK(ref && !ref->is_auto_choice == !reference_is_auto());
    const gantry_backend_info *chosen = find(infos, count, auto_name);
    CHECK(chosen && chosen->is_auto_choice);
    CHECK(ref && ref->abi_version == GANTRY_BACKEND_ABI_VERSION);
    CHECK(ref && ref->description[0] != '\0');
    CHECK(count_named(infos, count, "reference") == 1);
    size_t autos = 0;
    for (size_t i = 0; i < count; i++)
        autos += infos[i].is_auto_choice != 0;
    CHECK(autos == 1);
    free(infos);

    REQUIRE(unsetenv("GANTRY_NUM_THREADS") == 0);
    REQUIRE(unsetenv("GANTRY_FAILCREATE_DEVICE") == 0);
}

static void test_open_by_name(void)
{
    char dir_a[1024];
    tmp_path(dir_a, sizeof dir_a, "a");
    set_plugin_path(dir_a, module_dir);
    REQUIRE(unsetenv("GANTRY_BACKEND") == 0);

    /* Refused modules: the message names the module and the reason, and
     * lists what is available instead. */
    CHECK_OPEN_FAILS("badabi", GANTRY_NO_BACKEND, "ABI version");
    CHECK_ERROR_MENTIONS("'badabi'");
    CHECK_ERROR_MENTIONS("available: ");
    CHECK_ERROR_MENTIONS("reference");
    CHECK_OPEN_FAILS("noentry", GANTRY_NO_BACKEND, "gantry_backend_entry");
    CHECK_OPEN_FAILS("nullentry", GANTRY_NO_BACKEND, "returned NULL");
    CHECK_OPEN_FAILS("small", GANTRY_NO_BACKEND, "smaller");
    CHECK_OPEN_FAILS("misnamed", GANTRY_NO_BACKEND, "somebodyelse");
    CHECK_OPEN_FAILS("incomplete", GANTRY_NO_BACKEND, "no gemm method");
    CHECK_OPEN_FAILS("zero", GANTRY_NO_BACKEND, "no device for testing");
    CHECK_OPEN_FAILS("notaso", GANTRY_NO_BACKEND, "cannot be opened");

    /* A module whose create fails: its status and message come through. */
    CHECK_OPEN_FAILS("failcreate", GANTRY_DEVICE, "simulated device failure");
    char want[1024];
    snprintf(want, sizeof want, "threads=0 device=(none) cache=%s", cache_dir);
    CHECK_ERROR_MENTIONS(want);
    CHECK_OPEN_FAILS("silentfail", GANTRY_DEVICE, "create failed");
    CHECK_ERROR_MENTIONS("silentfail");

    /* The config given to open wins over the environment. */
    REQUIRE(setenv("GANTRY_NUM_THREADS", "3", 1) == 0);
    REQUIRE(setenv("GANTRY_FAILCREATE_DEVICE", "gpu7", 1) == 0);
    gantry_backend_config config = { .num_threads = 5, .device = "cfgdev", .cache_dir = "/cfg/cache" };
    check_open_fails_at(__LINE__, "failcreate", &config, GANTRY_DEVICE, "threads=5 device=cfgdev cache=/cfg/cache");
    gantry_backend_config partial = { .num_threads = 0, .device = NULL, .cache_dir = NULL };
    snprintf(want, sizeof want, "threads=3 device=gpu7 cache=%s", cache_dir);
    check_open_fails_at(__LINE__, "failcreate", &partial, GANTRY_DEVICE, want);
    REQUIRE(unsetenv("GANTRY_NUM_THREADS") == 0);
    REQUIRE(unsetenv("GANTRY_FAILCREATE_DEVICE") == 0);

    /* Unknown names. */
    CHECK_OPEN_FAILS("nosuch", GANTRY_NOT_FOUND, "unknown backend 'nosuch'");
    CHECK_ERROR_MENTIONS("reference");
    CHECK(strstr(gantry_last_error(), "badabi") == NULL); /* only usable modules are offered */
    CHECK_OPEN_FAILS("referenc", GANTRY_NOT_FOUND, "unknown backend 'referenc'");
    CHECK_OPEN_FAILS("gantry-backend-reference", GANTRY_NOT_FOUND, "unknown backend");
    CHECK_OPEN_FAILS("toodeep", GANTRY_NOT_FOUND, "unknown backend 'toodeep'");

    CHECK_OPEN_REFERENCE("reference");
    CHECK_OPEN_AUTO("auto");
    CHECK_OPEN_AUTO(NULL);
    CHECK_OPEN_AUTO("");

    /* Two instances of one module are independent. */
    gantry_backend *b1 = NULL, *b2 = NULL;
    CHECK_OK(gantry_backend_open("reference", NULL, &b1));
    CHECK_OK(gantry_backend_open("reference", NULL, &b2));
    CHECK(b1 && b2 && b1 != b2);
    gantry_backend_close(b1);
    gantry_backend_close(b2);
}

static void test_env_backend(void)
{
    char dir_a[1024];
    tmp_path(dir_a, sizeof dir_a, "a");
    set_plugin_path(dir_a, module_dir);

    REQUIRE(setenv("GANTRY_BACKEND", "nosuch", 1) == 0);
    CHECK_OPEN_FAILS(NULL, GANTRY_NOT_FOUND, "unknown backend 'nosuch'");
    CHECK_ERROR_MENTIONS("reference");
    CHECK_OPEN_FAILS("", GANTRY_NOT_FOUND, "unknown backend 'nosuch'");
    /* An explicit name beats the variable. */
    CHECK_OPEN_REFERENCE("reference");
    CHECK_OPEN_AUTO("auto");

    REQUIRE(setenv("GANTRY_BACKEND", "badabi", 1) == 0);
    CHECK_OPEN_FAILS(NULL, GANTRY_NO_BACKEND, "ABI version");

    REQUIRE(setenv("GANTRY_BACKEND", "reference", 1) == 0);
    CHECK_OPEN_REFERENCE(NULL);
    CHECK_OPEN_REFERENCE("");

    REQUIRE(setenv("GANTRY_BACKEND", "auto", 1) == 0);
    CHECK_OPEN_AUTO(NULL);

    REQUIRE(setenv("GANTRY_BACKEND", "", 1) == 0); /* empty: auto */
    CHECK_OPEN_AUTO(NULL);
    REQUIRE(unsetenv("GANTRY_BACKEND") == 0);
    CHECK_OPEN_AUTO(NULL);
}

/* An earlier directory shadows a later module of the same name. */
static void test_shadowing(void)
{
    char dir_b[1024];
    tmp_path(dir_b, sizeof dir_b, "b");
    set_plugin_path(dir_b, NULL);

    gantry_backend_info *infos = NULL;
    size_t count = 0;
    CHECK_OK(gantry_backend_scan(&infos, &count));
    REQUIRE(infos);
    CHECK(count_named(infos, count, "reference") == 2);
    const gantry_backend_info *first = find(infos, count, "reference");
    REQUIRE(first);
    CHECK(strncmp(first->path, dir_b, strlen(dir_b)) == 0);
    CHECK(first->usable && !first->is_auto_choice == !reference_is_auto());
    for (size_t i = 0; i < count; i++)
        if (&infos[i] != first && strcmp(infos[i].name, "reference") == 0) {
            CHECK(!infos[i].usable && !infos[i].is_auto_choice);
            CHECK(strstr(infos[i].reason, "shadowed") != NULL);
            CHECK(strncmp(infos[i].path, dir_b, strlen(dir_b)) != 0);
        }
    free(infos);
    CHECK_OPEN_REFERENCE("reference");
    CHECK_OPEN_AUTO(NULL);

    /* The same file reached twice (the directory listed twice) is one
     * module, not a shadowing pair. */
    set_plugin_path(dir_b, dir_b);
    CHECK_OK(gantry_backend_scan(&infos, &count));
    REQUIRE(infos);
    CHECK(count_named(infos, count, "reference") == 2);
    free(infos);
}

/* Empty and missing directories on the path are skipped. */
static void test_odd_paths(void)
{
    REQUIRE(setenv("GANTRY_PLUGIN_PATH", "/nonexistent/gantry/dir::", 1) == 0);
    gantry_backend_info *infos = NULL;
    size_t count = 0;
    CHECK_OK(gantry_backend_scan(&infos, &count));
    REQUIRE(infos);
    const gantry_backend_info *ref = find(infos, count, "reference");
    CHECK(ref && ref->usable && !ref->is_auto_choice == !reference_is_auto());
    free(infos);
    CHECK_OPEN_AUTO(NULL);
    REQUIRE(setenv("GANTRY_PLUGIN_PATH", "", 1) == 0);
}

int main(void)
{
    module_dir = getenv("GANTRY_TEST_MODULE_DIR");
    reference_module = getenv("GANTRY_TEST_REFERENCE_MODULE");
    REQUIRE(module_dir && *module_dir);
    REQUIRE(reference_module && *reference_module);
    /* The cache directory is fixed so that messages can be compared. */
    make_tmp_tree();
    REQUIRE(setenv("GANTRY_CACHE_DIR", cache_dir, 1) == 0);

    test_arguments();
    test_search_path();
    test_default_scan();
    test_scan_broken();
    test_open_by_name();
    test_env_backend();
    test_shadowing();
    test_odd_paths();

    remove_tmp_tree();
    return test_finish("test_loader");
}
