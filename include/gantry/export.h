/* gantry: symbol visibility.  libgantry is built with hidden visibility and
 * exports exactly the functions marked GANTRY_API. */
#ifndef GANTRY_EXPORT_H
#define GANTRY_EXPORT_H

#if defined(GANTRY_BUILDING_LIBRARY) && defined(__GNUC__)
#define GANTRY_API __attribute__((visibility("default")))
#else
#define GANTRY_API
#endif

#endif
