/* Symbol visibility for clattn's public API. The library is built with -fvisibility=hidden, so only
 * functions marked CLATTN_API are exported from the shared library. */
#ifndef CLATTN_EXPORT_H
#define CLATTN_EXPORT_H
#if defined(_WIN32) && defined(CLATTN_BUILDING_SHARED)
#define CLATTN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLATTN_API __attribute__((visibility("default")))
#else
#define CLATTN_API
#endif
#endif
