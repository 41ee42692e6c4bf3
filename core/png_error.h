/* gantry internal: libpng's error and warning callbacks, shared by the PNG
 * writer (png.c) and reader (image_png.c).  The error pointer given to
 * png_create_*_struct must point to a gantry__png_error (or to a struct
 * that starts with one): an error's message is kept there and control
 * returns through png_jmpbuf; warnings are dropped. */
#ifndef GANTRY_CORE_PNG_ERROR_H
#define GANTRY_CORE_PNG_ERROR_H

#include <png.h>

typedef struct gantry__png_error {
    char msg[200];
} gantry__png_error;

void gantry__png_on_error(png_structp png, png_const_charp msg);
void gantry__png_on_warning(png_structp png, png_const_charp msg);

#endif
