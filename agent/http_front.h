/*
 * http_front.h — the socket's front door: accepts each connection, checks
 * its peer and the head of its first request, and only then hands it to
 * libmicrohttpd (MHD_add_connection).
 *
 * Why.  libmicrohttpd 0.9.75 answers a request it cannot parse itself —
 * random bytes, an oversize request line or header block, a Content-Length
 * that is not a number, an HTTP/1.1 request without Host — with a fixed
 * HTML page (its transmit_error_response; no option or callback lets the
 * application shape that answer, and the access handler never sees such a
 * request).  DESIGN §6 promises the remote's JSON error format for those
 * too.  So the front reads the head first (MSG_PEEK: the bytes stay in the
 * socket for libmicrohttpd) and answers what libmicrohttpd would refuse,
 * in JSON, with the limits below — which are tighter than libmicrohttpd's
 * own, so a head the front lets through never hits them.
 *
 * Cost: one epoll round and one peek per connection, none per request; a
 * kept-alive connection's later requests go straight to libmicrohttpd.
 * The limit of that: a client that has sent one well-formed request and
 * then sends garbage on the same connection gets libmicrohttpd's answer.
 *
 * One thread of its own; connections wait in the front at most
 * LOCAL_API_IDLE_TIMEOUT_S for a whole head.
 */
#ifndef FIELDSYNC_AGENT_HTTP_FRONT_H
#define FIELDSYNC_AGENT_HTTP_FRONT_H

#include <stddef.h>
#include <sys/types.h>

struct MHD_Daemon;

typedef struct http_front http_front;

/* The limits of a request head (bytes), each below libmicrohttpd's. */
#define HTTP_FRONT_LINE_MAX 4096    /* request line: 414 beyond */
#define HTTP_FRONT_HEAD_MAX 8192    /* request line and headers: 431 beyond */
#define HTTP_FRONT_HEADERS_MAX 64   /* header lines: 431 beyond */

/*
 * The verdict on the first n bytes a client sent: 1 a whole, acceptable
 * head; 0 not whole yet (and nothing wrong so far); -1 refused, with
 * *status (400, 413, 414, 431, 505) and *message (static text) set.
 * body_max: the largest Content-Length accepted (413 beyond).
 */
int http_front_check_head(const char *buf, size_t n, size_t body_max, unsigned *status,
                          const char **message);

/*
 * Starts the front on listen_fd (taken: closed by http_front_stop),
 * handing accepted connections to mhd.  Peers are checked as the socket's
 * rule says (ctlsock_peer_allowed with self and group); a refused peer
 * gets 403.  0, or -1 with err filled (listen_fd is then closed).
 */
int http_front_start(int listen_fd, struct MHD_Daemon *mhd, uid_t self, gid_t group,
                     http_front **out, char *err, size_t errlen);

/* Stops accepting, closes the connections still waiting in the front
 * and the listening socket.  Those handed over are libmicrohttpd's. */
void http_front_stop(http_front *f);

#endif /* FIELDSYNC_AGENT_HTTP_FRONT_H */
