/* Unit tests of the socket front's head check (agent/http_front.c): what
 * it lets through to libmicrohttpd, what it answers itself (with which
 * status), and that a head arriving in pieces is waited for, not judged
 * early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api_request.h"
#include "agent/http_front.h"

/* The verdict on a whole text: 1, 0, or the refusing status. */
static int verdict(const char *text, size_t n)
{
    unsigned status = 0;
    const char *message = NULL;
    int v = http_front_check_head(text, n, API_MAX_BODY, &status, &message);
    if (v < 0) {
        assert_non_null(message);
        return (int)status;
    }
    return v;
}

static int verdict_s(const char *text)
{
    return verdict(text, strlen(text));
}

static void test_accepted(void **state)
{
    (void)state;
    assert_int_equal(verdict_s("GET /agent/status HTTP/1.1\r\nHost: x\r\n\r\n"), 1);
    assert_int_equal(verdict_s("GET / HTTP/1.0\r\n\r\n"), 1);
    /* bare LF, an empty line first */
    assert_int_equal(verdict_s("\r\nGET / HTTP/1.1\nHost: x\n\n"), 1);
    assert_int_equal(verdict_s("PUT /api/v1/work-orders/w HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 1048576\r\n\r\n{"), 1);
    assert_int_equal(verdict_s("POST /x HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: Chunked\r\n\r\n"), 1);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n"), 1);
}

static void test_refused(void **state)
{
    (void)state;
    assert_int_equal(verdict_s("\x16\x03\x01\x02\x00\x01"), 400); /* TLS: at once, no LF needed */
    assert_int_equal(verdict_s("GET /\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET  / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(verdict_s("G(T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nHost x\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
                               "Content-Length: 1\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n"), 413);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\n"
                               "Content-Length: 99999999999999999999999\r\n\r\n"), 413);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
    assert_int_equal(verdict_s("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"), 400);
}

static void test_limits(void **state)
{
    char *buf = malloc(HTTP_FRONT_HEAD_MAX + 4096);
    size_t n;
    (void)state;
    assert_non_null(buf);

    /* a request line of exactly the limit (without its CRLF) passes */
    n = (size_t)snprintf(buf, 64, "GET /");
    memset(buf + n, 'a', HTTP_FRONT_LINE_MAX - n - 9);
    n = HTTP_FRONT_LINE_MAX - 9;
    n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n\r\n");
    assert_int_equal(verdict(buf, n), 1);
    /* one byte more: 414, whole or still arriving */
    memset(buf, 'a', HTTP_FRONT_LINE_MAX + 1);
    memcpy(buf, "GET /", 5);
    assert_int_equal(verdict(buf, HTTP_FRONT_LINE_MAX + 1), 414);
    n = HTTP_FRONT_LINE_MAX + 1;
    n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n\r\n");
    assert_int_equal(verdict(buf, n), 414);

    /* headers past the head's limit: 431, even before their end came */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX: ");
    memset(buf + n, 'b', HTTP_FRONT_HEAD_MAX + 1 - n);
    assert_int_equal(verdict(buf, HTTP_FRONT_HEAD_MAX + 1), 431);

    /* too many header lines */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_FRONT_HEADERS_MAX; i++)
        n += (size_t)sprintf(buf + n, "X%d: v\r\n", i);
    assert_int_equal(verdict(buf, n + (size_t)sprintf(buf + n, "\r\n")), 1);
    n += (size_t)sprintf(buf + n, "Y: v\r\n\r\n");
    assert_int_equal(verdict(buf, n), 431);
    free(buf);
}

/* Every proper prefix of an acceptable head is "wait", never a verdict. */
static void test_arrives_in_pieces(void **state)
{
    static const char head[] = "POST /api/v1/customers HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n";
    (void)state;
    for (size_t n = 0; n < sizeof head - 1; n++)
        assert_int_equal(verdict(head, n), 0);
    assert_int_equal(verdict(head, sizeof head - 1), 1);
}

/* Random bytes: never an acceptable head, and never a read out of bounds
 * (ASan watches the exact-size copies). */
static void test_random_bytes(void **state)
{
    unsigned seed = 13;
    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand_r(&seed) % 300) + 1;
        char *b = malloc(n);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            b[i] = (char)(rand_r(&seed) & 0xff);
        assert_int_not_equal(verdict(b, n), 1);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_arrives_in_pieces),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
