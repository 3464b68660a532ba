/* Unit tests of the local API's read cache (agent/read_cache.c): an answer
 * is served only at the version it was made at, the byte bound holds, and
 * a tool reading 2,000 records in turn finds them again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/read_cache.h"

static void test_version_and_replacement(void **state)
{
    read_cache *c = read_cache_new(1 << 20);
    size_t len = 0;
    const char *b;
    (void)state;

    assert_non_null(c);
    assert_null(read_cache_get(c, "/a", 1, &len));
    read_cache_put(c, "/a", 1, "{\"x\":1}", 7);
    b = read_cache_get(c, "/a", 1, &len);
    assert_non_null(b);
    assert_int_equal(len, 7);
    assert_memory_equal(b, "{\"x\":1}", 7);
    /* another version of the replica: stale */
    assert_null(read_cache_get(c, "/a", 2, &len));
    /* a newer answer for the same key replaces the old one */
    read_cache_put(c, "/a", 2, "{\"x\":2}", 7);
    b = read_cache_get(c, "/a", 2, &len);
    assert_non_null(b);
    assert_memory_equal(b, "{\"x\":2}", 7);
    assert_null(read_cache_get(c, "/a", 1, &len));
    assert_null(read_cache_get(c, "/b", 2, &len));
    read_cache_free(c);
    /* no cache (out of memory at start): every call is harmless */
    read_cache_put(NULL, "/a", 1, "x", 1);
    assert_null(read_cache_get(NULL, "/a", 1, &len));
}

static void test_bound_and_a_cyclic_scan(void **state)
{
    char key[64], body[800];
    read_cache *c = read_cache_new(4 << 20);
    size_t len;
    int hits = 0;
    (void)state;

    memset(body, 'x', sizeof body);
    /* 2,000 answers of 800 bytes fit in 4 MiB: a second pass finds
     * (nearly) all of them, in the order they were made */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "/api/v1/work-orders/wo-%05d", i);
            if (read_cache_get(c, key, 7, &len))
                hits += pass;
            else
                read_cache_put(c, key, 7, body, sizeof body);
        }
    assert_true(hits >= 1900);
    read_cache_free(c);

    /* past the bound everything goes, and what is kept stays under it */
    c = read_cache_new(64 * 1024);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "/k%d", i);
        read_cache_put(c, key, 1, body, sizeof body);
    }
    hits = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "/k%d", i);
        hits += read_cache_get(c, key, 1, &len) != NULL;
    }
    assert_true(hits > 0 && hits * (int)sizeof body <= 64 * 1024);
    /* an answer over an eighth of the bound is not kept */
    {
        char *big = calloc(1, 9 * 1024);
        read_cache_put(c, "/big", 1, big, 9 * 1024);
        assert_null(read_cache_get(c, "/big", 1, &len));
        free(big);
    }
    read_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_replacement),
        cmocka_unit_test(test_bound_and_a_cyclic_scan),
    };
    return cmocka_run_group_tests_name("agent_read_cache", tests, NULL, NULL);
}
