/*
 * api_request.h — what the local API makes of a request before it touches
 * the store: the query parameters, the JSON body (the routes are in
 * routes.h); and the remote's error format for every answer that is not a
 * success.  Nothing here knows libmicrohttpd, so all of it is unit-tested.
 *
 * Decisions where DESIGN is silent:
 *   - A query parameter given twice: the last one wins, as with the
 *     remote's framework; unknown parameters are ignored like the remote.
 *   - per_page above 100 is clamped to 100 (the remote's max); page or
 *     per_page that is not a whole number >= 1 is 400 bad_request.
 *   - A JSON body must be one object; a key repeated in any object of it
 *     is 400 bad_request (cJSON would silently keep the first).
 *   - A path id is at most API_MAX_ID bytes; a longer one is 404.
 */
#ifndef FIELDSYNC_AGENT_API_REQUEST_H
#define FIELDSYNC_AGENT_API_REQUEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "agent/routes.h"
#include "store/store.h"

#define API_MAX_BODY (1024 * 1024) /* 413 beyond */
#define API_MAX_ID ROUTES_MAX_PARAM

/* The entity a record route serves (ENT__COUNT for the /agent routes). */
store_entity api_route_entity(routes_id id);

/* The query parameters the API knows; each NULL when absent. */
typedef struct {
    const char *page, *per_page, *search, *status, *branch_id, *created_after,
        *customer_id, *technician_id, *from_date, *to_date, *wait, *state;
} api_query;

/* Records one parameter (value may be NULL: "?a"); the last one wins. */
void api_query_set(api_query *q, const char *key, const char *value);

/*
 * Validates the query for a list of route and fills sq (whose strings
 * point into q).  Returns 0, or -1 with the offending parameter in
 * *field and a message in msg.
 */
int api_query_to_store(const api_query *q, routes_id route, store_query *sq,
                       const char **field, char *msg, size_t msglen);

/* "true"/"1"/"yes" -> 1, "false"/"0"/"no"/absent -> 0, else -1. */
int api_parse_bool(const char *v);

/*
 * Parses a request body: one JSON object, no repeated key at any depth,
 * nothing but whitespace after it.  Returns the object (caller deletes)
 * or NULL with the reason in why.
 */
cJSON *api_parse_body(const char *buf, size_t len, char *why, size_t whylen);

/*
 * The remote's error body: {"error":{"code","message","details"?}}.
 * details_json is a JSON array text or NULL.  Returns a malloc'd string
 * (NULL only when out of memory).
 */
char *api_error_json(const char *code, const char *message, const char *details_json);

/* The error code the remote uses for an HTTP status ("not_found", …). */
const char *api_error_code(unsigned status);

/* A one-field details array [{"field":f,"message":m}] (malloc'd). */
char *api_details_one(const char *field, const char *message);

#endif /* FIELDSYNC_AGENT_API_REQUEST_H */
