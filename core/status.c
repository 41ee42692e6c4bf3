/* Status codes and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gantry/status.h"

static _Thread_local char last_error[1024];

const char *gantry_strerror(gantry_status status)
{
    switch (status) {
#define GANTRY_X_TEXT(name, value, text)                                                                \
    case GANTRY_##name:                                                                                 \
        return text;
        GANTRY_STATUS_LIST(GANTRY_X_TEXT)
#undef GANTRY_X_TEXT
    }
    return "unknown status";
}

const char *gantry_status_name(gantry_status status)
{
    switch (status) {
#define GANTRY_X_NAME(name, value, text)                                                                \
    case GANTRY_##name:                                                                                 \
        return #name;
        GANTRY_STATUS_LIST(GANTRY_X_NAME)
#undef GANTRY_X_NAME
    }
    return "UNKNOWN";
}

const char *gantry_last_error(void)
{
    return last_error;
}

void gantry_clear_error(void)
{
    last_error[0] = '\0';
}

gantry_status gantry_set_error(gantry_status status, const char *fmt, ...)
{
    /* Format into a scratch buffer first: fmt's arguments may point into
     * last_error itself (re-raising an inner message with context). */
    char scratch[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scratch, sizeof scratch, fmt, ap);
    va_end(ap);
    memcpy(last_error, scratch, sizeof scratch);
    return status;
}
