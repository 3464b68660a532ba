/*
 * read_cache.h — answers of GET /api/v1 kept while the replica does not
 * change, so that a tool asking the same thing again (a dashboard polling
 * its list, a script reading records by id) is answered from memory.
 *
 * Every entry carries the store's data version (store_data_version()) it
 * was made at, and is used only while that version is current: any commit,
 * by the local API's own handle, the sync engine or another process,
 * makes every entry stale.  Bounded in bytes; used by one thread only
 * (libmicrohttpd's polling thread).
 */
#ifndef FIELDSYNC_AGENT_READ_CACHE_H
#define FIELDSYNC_AGENT_READ_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct read_cache read_cache;

/* NULL when out of memory (the API then works without). */
read_cache *read_cache_new(size_t max_bytes);
void read_cache_free(read_cache *c);

/* The body kept for key at version, or NULL; valid until the next put. */
const char *read_cache_get(read_cache *c, const char *key, int64_t version, size_t *len);

/* Keeps a copy of body (len bytes) for key at version. */
void read_cache_put(read_cache *c, const char *key, int64_t version, const char *body,
                    size_t len);

#endif /* FIELDSYNC_AGENT_READ_CACHE_H */
