/*
 * On-disk cache of compiled OpenCL programs (cache.c), used by program.c.
 *
 * Where:   the context's cache folder (clattn_context_options.cache_dir, else $CLATTN_CACHE_DIR, else
 *          $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn; "off" disables it: core/config.c resolves it
 *          when the context is created). Directories are created like `mkdir -p`, mode 0700.
 * Key:     the text of every source, the full build options, the platform name and version, the device
 *          name and version, the driver version and clattn_version_string(). An entry is the file
 *          <dir>/<XXH3-128(key text), 32 hex digits>.clbin:
 *            header (64 bytes, integers little-endian)
 *              0  magic "CLATTNKC"           8  u32 format version (2)   12 u32 header size (64)
 *              16 u64 key text length        24 u64 payload length
 *              32 XXH3-128 of the key text   48 XXH3-128 of the payload
 *            key text (human-readable, compared byte for byte on load)
 *            payload = clGetProgramInfo(CL_PROGRAM_BINARIES) of the one device
 *          Digests are xxHash's XXH3_128bits (libxxhash) in its canonical (big-endian) byte order: the
 *          cache is not a security boundary (the folder is the user's own, mode 0700), and a 128-bit
 *          digest plus the byte-for-byte key compare and the size checks catch any torn or damaged
 *          entry. Format 1 (SHA-256, 96-byte header) entries have other names and fail the version check:
 *          they are never read.
 *          Entries are written to a unique temporary file in the same folder and renamed into place, so a
 *          reader sees a whole entry or none.
 * Trust:   an entry with a wrong magic, version, size, key or digest, or that
 *          clCreateProgramWithBinary or clBuildProgram rejects, is deleted and the program is built from
 *          source (and stored again). Every cache failure (unwritable folder, a file where the folder should
 *          be, a full disk) only turns the cache off for that call: it never fails a clattn call.
 * Debug:   one line per cache event (hit, miss, discard, store, skip) goes to the context's log at
 *          CLATTN_LOG_DEBUG (CLATTN_LOG_LEVEL=debug); clattn_cl_cache_note() returns the calling thread's
 *          last such line.
 * Policy:  skipped on PoCL, whose own cache already gives a fast warm start and which compiles every
 *          kernel once more to hand out a binary (measurements at cache_policy() in cache.c);
 *          CLATTN_CACHE_FORCE=1 uses it on every platform.
 */
#ifndef CLATTN_CL_CACHE_H
#define CLATTN_CL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "clattn.h" /* clattn_context */

#include <CL/cl.h>

#define CLATTN_CL_CACHE_DIGEST 16 /* bytes of an XXH3-128 digest */

/* One lookup: the resolved entry path and its key. Zero-initialise; release with clattn_cl_cache_close(). */
typedef struct clattn_cl_cache_entry {
    const clattn_context *ctx; /* whose configuration (folder, force) and log the lookup uses */
    char *path;     /* <dir>/<hex>.clbin, malloc'd; NULL when the cache is off for this lookup */
    char *dir;      /* the cache folder, malloc'd */
    char *key;      /* key text, malloc'd */
    size_t key_len;
    unsigned char key_digest[CLATTN_CL_CACHE_DIGEST]; /* XXH3-128 of key, canonical byte order */
} clattn_cl_cache_entry;

/* Resolves the cache folder and computes the key for `count` sources and the full build options.
 * use: the device rule (clattn_cl_rules.binary_cache). Returns false (and leaves e->path NULL) when the
 * cache is off, skipped on this device (use false and no CLATTN_CACHE_FORCE=1 for ctx), or out of memory; never
 * fails otherwise. */
bool clattn_cl_cache_open(clattn_cl_cache_entry *e, const clattn_context *ctx, cl_platform_id platform,
                          cl_device_id device, const char *const *sources, size_t count, const char *options, bool use);

/* Loads and builds (with `options`) the entry's program for `device` of `context`. Returns the built
 * program (caller owns it) or NULL on a miss; an invalid entry is deleted and gives NULL. */
cl_program clattn_cl_cache_load(clattn_cl_cache_entry *e, cl_context context, cl_device_id device,
                                const char *options);

/* Stores the binary of a program built for `device` (best effort; errors only leave a note). */
void clattn_cl_cache_store(clattn_cl_cache_entry *e, cl_program program, cl_device_id device);

/* Frees what clattn_cl_cache_open allocated. Accepts a zeroed entry. */
void clattn_cl_cache_close(clattn_cl_cache_entry *e);

/* The calling thread's last cache event ("" if none), for debugging. */
const char *clattn_cl_cache_note(void);

/* XXH3-128 of n bytes (xxHash's XXH3_128bits), in its canonical (big-endian) byte order: the digest of
 * the key text and of an entry's payload. */
void clattn_cl_cache_digest(const void *data, size_t n, unsigned char digest[CLATTN_CL_CACHE_DIGEST]);

#endif /* CLATTN_CL_CACHE_H */
