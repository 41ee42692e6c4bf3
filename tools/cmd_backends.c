/* `gantry backends`: what the loader finds and why it skips what it skips. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/backend.h"
#include "tools/cli.h"

static void help(void)
{
    printf("usage: gantry backends\n\n"
           "Lists every backend module found on the search path: loaded or skipped (with the\n"
           "reason), its probe score, ABI version and devices, and which one `auto` picks.\n"
           "Search path: GANTRY_PLUGIN_PATH (colon-separated), then the build tree when run from\n"
           "it, then the install directory.  GANTRY_BACKEND or --backend NAME on other commands\n"
           "choose a backend by name.\n");
}

int cmd_backends(int argc, char **argv)
{
    static const struct option options[] = { { "help", no_argument, NULL, 'h' }, { 0, 0, 0, 0 } };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'h') {
            help();
            return CLI_OK;
        }
        return cli_usage_error("backends", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("backends", "unexpected argument '%s'", argv[optind]);

    gantry_backend_info *infos;
    size_t count;
    gantry_status s = gantry_backend_scan(&infos, &count);
    if (s)
        return cli_fail(s);
    printf("search path: %s\n", gantry_backend_search_path());
    printf("core ABI version: %u\n\n", GANTRY_BACKEND_ABI_VERSION);
    const char *chosen = NULL;
    for (size_t i = 0; i < count; i++) {
        const gantry_backend_info *b = &infos[i];
        printf("%-10s %s  score %d  ABI %u%s\n", b->name, b->usable ? "loaded " : "skipped", b->score,
               b->abi_version, b->is_auto_choice ? "  <- auto" : "");
        printf("           %s\n", b->path);
        if (b->description[0])
            printf("           %s\n", b->description);
        if (!b->usable)
            printf("           reason: %s\n", b->reason);
        if (b->devices[0]) {
            /* indent each device line */
            char *save = NULL, buf[sizeof b->devices];
            memcpy(buf, b->devices, sizeof buf);
            for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                printf("           %s\n", line);
        }
        if (b->is_auto_choice)
            chosen = b->name;
    }
    if (count == 0)
        printf("no backend modules found\n");
    printf("\nauto: %s\n", chosen ? chosen : "(none usable)");
    const char *env = getenv("GANTRY_BACKEND");
    if (env && *env)
        printf("GANTRY_BACKEND=%s\n", env);
    free(infos);
    return chosen ? CLI_OK : CLI_ERROR;
}
