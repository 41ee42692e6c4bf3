/* An image file: opened, checked to be a regular file, and handed to the
 * PNG or JPEG reader according to its first bytes (not its name). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/image.h"

static gantry_status open_image(const char *path, FILE **out, int *is_png)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    struct stat st;
    if (!fp) {
        int err = errno;
        if (err == ENOENT && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            return gantry_set_error(GANTRY_NOT_FOUND, "%s: a symbolic link to nothing", path);
        return gantry_set_error(err == ENOENT ? GANTRY_NOT_FOUND : GANTRY_IO, "%s: cannot open: %s", path,
                                strerror(err));
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        fclose(fp);
        return gantry_set_error(GANTRY_IO, "%s: %s", path, dir ? "a directory, not an image" : "not a regular file");
    }
    unsigned char magic[8];
    size_t n = fread(magic, 1, sizeof magic, fp);
    if (n == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0) {
        *is_png = 1;
    } else if (n >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff) {
        *is_png = 0;
    } else {
        fclose(fp);
        return gantry_set_error(GANTRY_CORRUPT_FILE, "%s: %s", path,
                                n == 0 ? "empty file" : "neither a PNG nor a JPEG file (judged by its first bytes)");
    }
    rewind(fp);
    *out = fp;
    return GANTRY_OK;
}

gantry_status gantry__image_read(const char *path, gantry__image_info *info, gantry__image *img)
{
    FILE *fp;
    int is_png = 0;
    if (img)
        img->data = NULL;
    GANTRY_TRY(open_image(path, &fp, &is_png));
    gantry_status s = is_png ? gantry__png_read(fp, path, info, img) : gantry__jpeg_read(fp, path, info, img);
    fclose(fp);
    return s;
}
