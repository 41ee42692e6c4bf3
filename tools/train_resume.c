/* `gantry train --resume`: the run's settings in the training state, and
 * the log trimmed back to the saved step. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/train_resume.h"

size_t train_run_meta(const train_run_info *info, gantry_st_meta meta[TRAIN_RUN_META],
                      char text[TRAIN_RUN_META][64])
{
    snprintf(text[1], sizeof text[1], "%" PRIu64, info->limit);
    snprintf(text[2], sizeof text[2], "%" PRIu64, info->images);
    snprintf(text[3], sizeof text[3], "%" PRIu64, info->total);
    snprintf(text[4], sizeof text[4], "%" PRIu64, info->labeled);
    snprintf(text[5], sizeof text[5], "%.3f", info->seconds);
    static const char *const keys[TRAIN_RUN_META] = { "run_data",  "run_limit",   "run_images",
                                                      "run_total", "run_labeled", "run_seconds" };
    for (size_t i = 0; i < TRAIN_RUN_META; i++) {
        meta[i].key = keys[i];
        meta[i].value = i ? text[i] : info->data;
    }
    return TRAIN_RUN_META;
}

gantry_status train_run_read(const char *dir, train_run_info *info)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_STATE);
    if (access(path, F_OK) != 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "%s: %s (--resume needs a directory that gantry train wrote)", path,
                                strerror(errno));
    gantry_safetensors *st;
    GANTRY_TRY(gantry_safetensors_read(path, &st));
    memset(info, 0, sizeof *info);
    const char *data = gantry_safetensors_meta(st, "run_data"), *secs = gantry_safetensors_meta(st, "run_seconds");
    char *end = NULL;
    gantry_status s = GANTRY_OK;
    if (!data || !*data || strlen(data) >= sizeof info->data)
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_data' is missing or too long", path);
    else
        memcpy(info->data, data, strlen(data) + 1);
    if (!s && !(s = gantry_safetensors_meta_u64(st, "run_limit", 0, &info->limit)) &&
        !(s = gantry_safetensors_meta_u64(st, "run_images", 1, &info->images)) &&
        !(s = gantry_safetensors_meta_u64(st, "run_total", 0, &info->total)))
        s = gantry_safetensors_meta_u64(st, "run_labeled", 0, &info->labeled);
    if (!s && (!secs || !(info->seconds = strtod(secs, &end), *secs && !*end) || !(info->seconds >= 0.0)))
        s = gantry_set_error(GANTRY_CORRUPT_FILE, "%s: metadata 'run_seconds' is missing or not a time", path);
    gantry_safetensors_destroy(st);
    return s;
}

gantry_status train_log_trim(const char *path, uint64_t step, const char *header)
{
    FILE *f = fopen(path, "r+");
    if (!f) {
        if (errno != ENOENT)
            return gantry_set_error(GANTRY_IO, "cannot open %s: %s", path, strerror(errno));
        f = fopen(path, "w");
        int bad = !f || fputs(header, f) == EOF;
        if ((f && fclose(f) != 0) || bad)
            return gantry_set_error(GANTRY_IO, "cannot write %s: %s", path, strerror(errno));
        return GANTRY_OK;
    }
    /* Keep the header and every whole row up to `step`; rows are in step order. */
    char line[1024];
    long keep = 0;
    int first = 1;
    while (fgets(line, sizeof line, f) && strchr(line, '\n')) {
        if (!first) {
            char *end;
            unsigned long long row = strtoull(line, &end, 10);
            if (end == line || *end != ',' || row > step)
                break;
        }
        first = 0;
        keep = ftell(f);
    }
    int bad = ferror(f) || keep < 0 || fflush(f) != 0 || ftruncate(fileno(f), (off_t)(keep > 0 ? keep : 0)) != 0;
    if (!bad && keep == 0) /* an empty log: its header back */
        bad = fseek(f, 0, SEEK_SET) != 0 || fputs(header, f) == EOF;
    if (fclose(f) != 0 || bad)
        return gantry_set_error(GANTRY_IO, "cannot trim %s to step %" PRIu64 ": %s", path, step, strerror(errno));
    return GANTRY_OK;
}
