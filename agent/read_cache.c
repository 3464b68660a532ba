/*
 * read_cache.c — a direct-mapped table of GET answers (see read_cache.h).
 *
 * One entry per slot, chosen by the key's hash: a newer answer simply
 * replaces an older one in its slot.  When the bytes held would pass the
 * bound, everything is dropped at once; a cache that is refilled on
 * demand needs nothing cleverer.
 */
#include "agent/read_cache.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS 1024

typedef struct {
    char *key;
    char *body;
    size_t len;
    int64_t version;
} slot;

struct read_cache {
    slot slots[SLOTS];
    size_t bytes, max_bytes;
};

static size_t slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ull;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % SLOTS);
}

static void slot_clear(read_cache *c, slot *s)
{
    if (s->key)
        c->bytes -= strlen(s->key) + s->len;
    free(s->key);
    free(s->body);
    memset(s, 0, sizeof *s);
}

read_cache *read_cache_new(size_t max_bytes)
{
    read_cache *c = calloc(1, sizeof *c);

    if (c)
        c->max_bytes = max_bytes;
    return c;
}

void read_cache_free(read_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        slot_clear(c, &c->slots[i]);
    free(c);
}

const char *read_cache_get(read_cache *c, const char *key, int64_t version, size_t *len)
{
    slot *s;

    if (!c)
        return NULL;
    s = &c->slots[slot_of(key)];
    if (!s->key || s->version != version || strcmp(s->key, key) != 0)
        return NULL;
    *len = s->len;
    return s->body;
}

void read_cache_put(read_cache *c, const char *key, int64_t version, const char *body,
                    size_t len)
{
    size_t klen;
    slot *s;

    if (!c)
        return;
    klen = strlen(key);
    if (klen + len > c->max_bytes / 8)
        return;   /* not worth a big share of the cache */
    s = &c->slots[slot_of(key)];
    slot_clear(c, s);
    if (c->bytes + klen + len > c->max_bytes)
        for (size_t i = 0; i < SLOTS; i++)
            slot_clear(c, &c->slots[i]);
    s->key = malloc(klen + 1);
    s->body = malloc(len + 1);
    if (!s->key || !s->body) {
        free(s->key);
        free(s->body);
        s->key = s->body = NULL;
        return;
    }
    memcpy(s->key, key, klen + 1);
    memcpy(s->body, body, len);
    s->body[len] = '\0';
    s->len = len;
    s->version = version;
    c->bytes += klen + len;
}
