/* libpng's error and warning callbacks (see png_error.h). */
#include "core/png_error.h"

#include <stdio.h>

void gantry__png_on_error(png_structp png, png_const_charp msg)
{
    gantry__png_error *err = png_get_error_ptr(png);
    snprintf(err->msg, sizeof err->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

void gantry__png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}
