/*
 * local_api_int.h — shared by the files of the local API: the per-request
 * state and the answer helpers.  Not part of any interface.
 */
#ifndef FIELDSYNC_AGENT_LOCAL_API_INT_H
#define FIELDSYNC_AGENT_LOCAL_API_INT_H

#include <microhttpd.h>

#include "agent/api_request.h"
#include "agent/local_api.h"
#include "agent/read_cache.h"
#include "store/store.h"
#include "store/util.h"

struct local_api {
    struct MHD_Daemon *mhd;
    struct http_front *front;   /* accepts, checks, hands over to mhd */
    store *st;
    syncctl *sc;
    events_hub *hub;
    gid_t group;
    uid_t self;
    read_cache *cache;          /* GET /api/v1 answers; NULL: none */
};

typedef struct local_api_request {
    local_api *api;
    struct MHD_Connection *conn;
    fs_buf body;                /* request body, capped at API_MAX_BODY */
    int too_large;
    /* a GET /api/v1 whose 200 answer is kept for the next asker */
    char *cache_key;
    int64_t cache_version;
    /* POST /agent/sync?wait=true */
    syncctl_waiter waiter;
    int waiting;                /* registered with the controller */
    int wait_done;              /* set by the sync thread before resume */
    int have_sum;
    sync_summary sum;
} local_api_request;

/* Answers; each returns the MHD result of queuing. */
enum MHD_Result local_api_reply_json(local_api_request *r, unsigned status, char *json_take);
enum MHD_Result local_api_reply_data(local_api_request *r, unsigned status, const char *data_json);
enum MHD_Result local_api_reply_error(local_api_request *r, unsigned status, const char *message,
                            const char *details_json);
/* An error whose details name one field: [{"field","message"}]. */
enum MHD_Result local_api_reply_field_error(local_api_request *r, unsigned status,
                                            const char *message, const char *field,
                                            const char *field_message);
enum MHD_Result local_api_reply_store_error(local_api_request *r, int rc, const char *what);
enum MHD_Result local_api_reply_empty(local_api_request *r, unsigned status);

/* The /agent routes. */
enum MHD_Result local_api_agent_dispatch(local_api_request *r, const routes_hit *rt, const api_query *q,
                               int method);

int64_t local_api_now_ms(void);

#endif /* FIELDSYNC_AGENT_LOCAL_API_INT_H */
