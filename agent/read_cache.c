/*
 * read_cache.c — a set-associative table of GET answers (see
 * read_cache.h).
 *
 * The key's hash picks a set of WAYS slots; a new answer takes a free
 * slot of its set, or the set's slots in turn.  (A direct-mapped table of
 * 1,024 slots kept almost nothing when a tool read 2,000 records in turn:
 * each answer pushed out another that was asked for again before it.)
 * When the bytes held would pass the bound, everything is dropped at once;
 * a cache that is refilled on demand needs nothing cleverer.
 */
#include "agent/read_cache.h"

#include <stdlib.h>
#include <string.h>

#define SETS 2048
#define WAYS 4
#define SLOTS (SETS * WAYS)

typedef struct {
    char *key;
    char *body;
    size_t len;
    int64_t version;
} slot;

struct read_cache {
    slot slots[SLOTS];
    unsigned char next_way[SETS];   /* the way a full set gives up next */
    size_t bytes, max_bytes;
};

/* The first slot of key's set. */
static size_t set_of(const char *key)
{
    uint64_t h = 1469598103934665603ull;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % SETS) * WAYS;
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

/* key's slot in its set, or NULL. */
static slot *find(read_cache *c, const char *key)
{
    size_t first = set_of(key);

    for (size_t w = 0; w < WAYS; w++) {
        slot *s = &c->slots[first + w];
        if (s->key && strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

const char *read_cache_get(read_cache *c, const char *key, int64_t version, size_t *len)
{
    slot *s;

    if (!c || !(s = find(c, key)) || s->version != version)
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
    if (!(s = find(c, key))) {
        size_t first = set_of(key), w;

        for (w = 0; w < WAYS && c->slots[first + w].key; w++)
            ;
        if (w == WAYS) {
            w = c->next_way[first / WAYS];
            c->next_way[first / WAYS] = (unsigned char)((w + 1) % WAYS);
        }
        s = &c->slots[first + w];
    }
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
