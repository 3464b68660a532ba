/* --churn: a dispatcher editing the data at random while clients sync.
 *
 * Edits arrive as a Poisson process (exponential gaps at the set rate),
 * drawn from a PRNG seeded by --seed, so a run is reproducible in kind:
 * the same seed and data give the same sequence of edits, at times that
 * depend on the machine.  Each edit is an ordinary API write run through
 * the server's own handler path (server_run_handler: one transaction,
 * the same validation, updated_at stamping and ETags), so lists, details
 * and validators change exactly as they would for a write by a client.
 *
 * Every applied edit is logged with a sequence number and its time, for
 * GET /__sim/changes?since=SEQ: a test compares those times with when a
 * client showed the change.  A timer thread waits for the next edit; the
 * rate can be changed, or set to 0 (paused), at run time through
 * POST /__sim/churn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define CHURN_LOG_CAP 20000
#define CHURN_MAX_PER_HOUR 3600000.0   /* 1,000 a second */
#define TEXT 512
#define DAY_MS 86400000LL

enum kind {
    K_STATUS, K_PRIORITY, K_SCHEDULED, K_REASSIGN, K_NEW,   /* in list summaries */
    K_DESCRIPTION, K_CONTACT_PHONE, K_CUSTOMER_EMAIL,       /* in details only */
    N_KINDS
};

static const struct {
    const char *name;
    const char *entity;
    const char *field;   /* the read shape's name; NULL for a new record */
    int weight;          /* how often, out of the enabled kinds' sum */
} kinds[N_KINDS] = {
    [K_STATUS] = {"status", "work_order", "status", 20},
    [K_PRIORITY] = {"priority", "work_order", "priority", 10},
    [K_SCHEDULED] = {"scheduled_date", "work_order", "scheduled_date", 10},
    [K_REASSIGN] = {"reassign", "work_order", "technician", 8},
    [K_NEW] = {"new_work_order", "work_order", NULL, 12},
    [K_DESCRIPTION] = {"description", "work_order", "description", 20},
    [K_CONTACT_PHONE] = {"contact_phone", "contact", "phone", 10},
    [K_CUSTOMER_EMAIL] = {"customer_email", "customer", "email", 10},
};

static const char *const notes[] = {
    "customer asks to call 30 minutes ahead", "bring a 3 m ladder",
    "parts arrived at the branch", "use the rear entrance", "site contact changed",
    "check the filter housing too", "access only before noon", "dog on site",
};

struct change {
    uint64_t seq;
    int64_t at_ms;
    enum kind kind;
    char id[40], customer_id[40], technician_id[40], previous_technician_id[40];
    char scheduled_date[40], updated_at[CLOCK_TEXT_MAX];
    char *value, *previous;   /* malloc'd, or NULL for null */
};

struct churn {
    struct sim *sim;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int started, stopping;
    double start_rate;         /* --churn, per hour: what reset goes back to */
    double rate;               /* per hour; 0 = paused */
    unsigned enabled;          /* bit per enum kind */
    int redraw;                /* the rate changed: draw the next gap from now */
    struct prng rng;           /* only the thread draws (under lock) */
    struct change *ring;       /* CHURN_LOG_CAP, allocated with the first edit */
    size_t head, count;
    uint64_t next_seq, applied;
};

int churn_parse(const char *s, double *per_hour)
{
    static const struct {
        const char *unit;
        double per_hour;
    } units[] = {{"/h", 1}, {"/min", 60}, {"/s", 3600}};
    char *end;
    double n;

    if (!((*s >= '0' && *s <= '9') || *s == '.'))
        return -1;
    n = strtod(s, &end);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (end != s && strcmp(end, units[i].unit) == 0 && n >= 0 &&
            n * units[i].per_hour <= CHURN_MAX_PER_HOUR) {
            *per_hour = n * units[i].per_hour;
            return 0;
        }
    }
    return -1;
}

/* ---- the edits ---- */

/* A random live row of table: its first n columns (as text, "" for NULL)
 * into out.  1 found, 0 the table has none, -1 error.  Caller holds the
 * database lock. */
static int pick_row(struct churn *c, const char *table, const char *cols, int n,
                    char out[][TEXT])
{
    sqlite3 *db = c->sim->db;
    char sql[300];
    int64_t count;
    sqlite3_stmt *st;
    int rc;

    /* table and cols are the code's own names, never request input */
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE deleted = 0", table);
    if (db_int(db, sql, NULL, &count))
        return -1;
    if (count == 0)
        return 0;
    snprintf(sql, sizeof sql,
             "SELECT %s FROM %s WHERE deleted = 0 ORDER BY seq LIMIT 1 OFFSET ?", cols, table);
    st = db_stmt(db, sql);
    if (!st || sqlite3_bind_int64(st, 1, (int64_t)prng_below(&c->rng, (uint32_t)count)) !=
                   SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    for (int i = 0; rc == SQLITE_ROW && i < n; i++) {
        const char *v = db_col_text(st, i);

        snprintf(out[i], TEXT, "%s", v ? v : "");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* a choice from a NULL-terminated list other than current */
static const char *other_choice(struct churn *c, const char *const *list, const char *current)
{
    size_t n = 0;
    const char *pick;

    while (list[n])
        n++;
    do
        pick = list[prng_below(&c->rng, (uint32_t)n)];
    while (n > 1 && strcmp(pick, current) == 0);
    return pick;
}

static void format_day(int64_t day_ms, int minutes, char out[TEXT])
{
    time_t t = (time_t)(day_ms / 1000) + minutes * 60;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, TEXT, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What one edit is: the request to send, and what to log about it. */
struct edit {
    enum kind kind;
    const char *method;
    char path[96];
    char id[TEXT];                 /* the record written ({id} of the route) */
    cJSON *body;
    char previous[TEXT];
    int has_previous;
    char previous_technician[TEXT];
    route_handler handler;
};

/* Where each kind writes: the table its target is drawn from, the columns
 * read (the id and the old value; a new work order draws its customer),
 * and the route and handler of the write. */
static const struct target {
    const char *table, *cols, *route;
    route_handler handler;
} targets[N_KINDS] = {
    [K_STATUS] = {"work_orders", "id, status", "/api/v1/work-orders/", work_orders_update},
    [K_PRIORITY] = {"work_orders", "id, priority", "/api/v1/work-orders/", work_orders_update},
    [K_SCHEDULED] = {"work_orders", "id, scheduled_date", "/api/v1/work-orders/",
                     work_orders_update},
    [K_REASSIGN] = {"work_orders", "id, technician_id", "/api/v1/work-orders/",
                    work_orders_update},
    [K_NEW] = {"customers", "id", "/api/v1/work-orders", work_orders_create},
    [K_DESCRIPTION] = {"work_orders", "id, description", "/api/v1/work-orders/",
                       work_orders_update},
    [K_CONTACT_PHONE] = {"contacts", "id, phone", "/api/v1/contacts/", contacts_update},
    [K_CUSTOMER_EMAIL] = {"customers", "id, email", "/api/v1/customers/", customers_update},
};

/* Chooses the target and the new value of one edit of kind k, under the
 * database lock.  1 ready, 0 nothing to edit, -1 error. */
static int plan(struct churn *c, enum kind k, struct edit *e, uint64_t n)
{
    const struct target *t = &targets[k];
    char row[2][TEXT];
    const char *v = NULL;
    int rc;

    memset(e, 0, sizeof *e);
    e->kind = k;
    e->method = k == K_NEW ? "POST" : "PUT";
    e->handler = t->handler;
    e->body = cJSON_CreateObject();
    if (!e->body)
        return -1;
    rc = pick_row(c, t->table, t->cols, k == K_NEW ? 1 : 2, row);
    if (rc <= 0)
        return rc;
    if (k == K_NEW) {
        snprintf(e->path, sizeof e->path, "%s", t->route);
    } else {
        snprintf(e->id, sizeof e->id, "%s", row[0]);
        snprintf(e->previous, sizeof e->previous, "%s", row[1]);
        e->has_previous = row[1][0] != '\0';
        snprintf(e->path, sizeof e->path, "%s%.60s", t->route, e->id);
    }

    switch (k) {
    case K_STATUS:
        v = other_choice(c, WO_STATUSES, row[1]);
        return cJSON_AddStringToObject(e->body, "status", v) ? 1 : -1;
    case K_PRIORITY:
        v = other_choice(c, WO_PRIORITIES, row[1]);
        return cJSON_AddStringToObject(e->body, "priority", v) ? 1 : -1;
    case K_SCHEDULED: {
        int64_t old_ms, day, shift = (int64_t)prng_below(&c->rng, 10) - 3;
        char when[TEXT];

        /* a day from 3 before to 6 after, never the same one; the time of
         * day is kept.  No date yet: today at 09:00. */
        if (shift >= 0)
            shift++;
        if (clock_parse_rfc3339(row[1], &old_ms) == 0) {
            day = old_ms - ((old_ms % DAY_MS) + DAY_MS) % DAY_MS;
            format_day(day + shift * DAY_MS, (int)((old_ms - day) / 60000), when);
        } else {
            int64_t now = clock_now_ms();

            format_day(now - ((now % DAY_MS) + DAY_MS) % DAY_MS, 9 * 60, when);
        }
        return cJSON_AddStringToObject(e->body, "scheduled_date", when) ? 1 : -1;
    }
    case K_REASSIGN: {
        char tech[TEXT];
        int64_t have;
        int techs;

        /* technicians are only ever seeded, tech-001 … tech-NNN; a reset
         * may change how many there are, so count them */
        if (db_int(c->sim->db, "SELECT COUNT(*) FROM technicians", NULL, &have))
            return -1;
        techs = (int)have;
        if (techs < 1 || (techs < 2 && row[1][0]))
            return 0;
        do
            snprintf(tech, sizeof tech, "tech-%03u", 1 + prng_below(&c->rng, (uint32_t)techs));
        while (strcmp(tech, row[1]) == 0);
        snprintf(e->previous_technician, sizeof e->previous_technician, "%s", row[1]);
        return cJSON_AddStringToObject(e->body, "technician_id", tech) ? 1 : -1;
    }
    case K_NEW: {
        int64_t have, now = clock_now_ms();
        char tech[TEXT], when[TEXT], text[TEXT];

        if (db_int(c->sim->db, "SELECT COUNT(*) FROM technicians", NULL, &have))
            return -1;
        if (have < 1)
            return 0;
        snprintf(tech, sizeof tech, "tech-%03u", 1 + prng_below(&c->rng, (uint32_t)have));
        /* today (the server's UTC date), between 07:00 and 17:30 */
        format_day(now - ((now % DAY_MS) + DAY_MS) % DAY_MS,
                   7 * 60 + 30 * (int)prng_below(&c->rng, 22), when);
        snprintf(text, sizeof text, "Added by the dispatcher (change %llu): %s",
                 (unsigned long long)n, notes[prng_below(&c->rng, 8)]);
        return cJSON_AddStringToObject(e->body, "customer_id", row[0]) &&
                       cJSON_AddStringToObject(e->body, "technician_id", tech) &&
                       cJSON_AddStringToObject(e->body, "scheduled_date", when) &&
                       cJSON_AddStringToObject(e->body, "status", "assigned") &&
                       cJSON_AddStringToObject(e->body, "priority",
                                               WO_PRIORITIES[prng_below(&c->rng, 4)]) &&
                       cJSON_AddStringToObject(e->body, "description", text) &&
                       cJSON_AddNumberToObject(e->body, "estimated_duration", 60)
                   ? 1 : -1;
    }
    case K_DESCRIPTION: {
        char text[TEXT];

        snprintf(text, sizeof text, "Updated by the dispatcher (change %llu): %s",
                 (unsigned long long)n, notes[prng_below(&c->rng, 8)]);
        return cJSON_AddStringToObject(e->body, "description", text) ? 1 : -1;
    }
    case K_CONTACT_PHONE: {
        char phone[TEXT];

        do
            snprintf(phone, sizeof phone, "+1-555-%03u-%04u", 100 + prng_below(&c->rng, 900),
                     prng_below(&c->rng, 10000));
        while (strcmp(phone, row[1]) == 0);
        return cJSON_AddStringToObject(e->body, "phone", phone) ? 1 : -1;
    }
    case K_CUSTOMER_EMAIL: {
        const char *at = strchr(row[1], '@');
        char email[TEXT];

        snprintf(email, sizeof email, "dispatch%llu@%.200s", (unsigned long long)n,
                 at && at[1] ? at + 1 : "example.com");
        return cJSON_AddStringToObject(e->body, "email", email) ? 1 : -1;
    }
    default:
        return 0;
    }
}

/* a copy of a JSON string member's value, or "" */
static void copy_text(const cJSON *obj, const char *name, char *out, size_t outsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    snprintf(out, outsz, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* the written value as the log shows it: the body's one string */
static const char *written_value(const struct edit *e)
{
    const cJSON *v = e->body->child;

    if (e->kind == K_NEW || !cJSON_IsString(v))
        return NULL;
    return v->valuestring;
}

/* Fills a log entry from the answer to the write; 0 or -1. */
static int describe(const struct edit *e, const struct sim_response *rs, struct change *ch)
{
    cJSON *root = cJSON_ParseWithLength(rs->body, rs->body_len);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "data");
    const char *value = written_value(e);
    int rc = -1;

    if (!cJSON_IsObject(d))
        goto out;
    memset(ch, 0, sizeof *ch);
    ch->kind = e->kind;
    copy_text(d, "id", ch->id, sizeof ch->id);
    copy_text(d, "updated_at", ch->updated_at, sizeof ch->updated_at);
    if (e->kind == K_CONTACT_PHONE) {
        copy_text(d, "customer_id", ch->customer_id, sizeof ch->customer_id);
    } else if (e->kind == K_CUSTOMER_EMAIL) {
        snprintf(ch->customer_id, sizeof ch->customer_id, "%s", ch->id);
    } else {
        copy_text(cJSON_GetObjectItemCaseSensitive(d, "customer"), "id", ch->customer_id,
                  sizeof ch->customer_id);
        copy_text(cJSON_GetObjectItemCaseSensitive(d, "technician"), "id",
                  ch->technician_id, sizeof ch->technician_id);
        copy_text(d, "scheduled_date", ch->scheduled_date, sizeof ch->scheduled_date);
        snprintf(ch->previous_technician_id, sizeof ch->previous_technician_id, "%.39s",
                 e->previous_technician);
    }
    ch->value = value ? strdup(value) : NULL;
    ch->previous = e->has_previous ? strdup(e->previous) : NULL;
    if ((value && !ch->value) || (e->has_previous && !ch->previous)) {
        free(ch->value);
        free(ch->previous);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

static void free_change(struct change *ch)
{
    free(ch->value);
    free(ch->previous);
    memset(ch, 0, sizeof *ch);
}

/* caller holds c->lock: appends ch (its strings move into the log) */
static void log_change(struct churn *c, struct change *ch)
{
    struct change *slot;

    if (!c->ring) {
        c->ring = calloc(CHURN_LOG_CAP, sizeof *c->ring);
        if (!c->ring) {
            free_change(ch);
            return;
        }
    }
    slot = &c->ring[(c->head + c->count) % CHURN_LOG_CAP];
    if (c->count == CHURN_LOG_CAP) {
        free_change(slot);
        c->head = (c->head + 1) % CHURN_LOG_CAP;
    } else {
        c->count++;
    }
    *slot = *ch;
    slot->seq = c->next_seq++;
    slot->at_ms = clock_now_ms();
    c->applied++;
}

/* a kind from the enabled ones, by weight; N_KINDS when none is */
static enum kind draw_kind(struct churn *c, unsigned enabled)
{
    int total = 0, x;

    for (int k = 0; k < N_KINDS; k++)
        total += (enabled >> k & 1u) ? kinds[k].weight : 0;
    if (total == 0)
        return N_KINDS;
    x = (int)prng_below(&c->rng, (uint32_t)total);
    for (int k = 0; k < N_KINDS; k++) {
        if (!(enabled >> k & 1u))
            continue;
        if (x < kinds[k].weight)
            return (enum kind)k;
        x -= kinds[k].weight;
    }
    return N_KINDS;
}

/* Makes one edit; the caller holds c->lock (the PRNG's), not the
 * database lock.  Returns 1 applied, 0 nothing done. */
static int edit_once(struct churn *c)
{
    struct sim *sim = c->sim;
    enum kind k = draw_kind(c, c->enabled);
    struct edit e;
    struct sim_request rq;
    struct sim_response rs = {0};
    struct change ch;
    char *body = NULL;
    int replayed = 0, rc;

    if (k == N_KINDS)
        return 0;
    pthread_mutex_lock(&sim->db_lock);
    rc = plan(c, k, &e, c->next_seq);
    pthread_mutex_unlock(&sim->db_lock);
    if (rc == 1)
        body = cJSON_PrintUnformatted(e.body);
    cJSON_Delete(e.body);
    e.body = NULL;
    if (rc != 1 || !body) {
        free(body);
        return 0;
    }
    memset(&rq, 0, sizeof rq);
    rq.sim = sim;
    rq.method = e.method;
    rq.path = e.path;
    rq.body = body;
    rq.body_len = strlen(body);
    rq.id = e.id[0] ? e.id : NULL;
    /* the same path as a client's write: lock, transaction, handler */
    server_run_handler(&rq, &rs, e.handler, NULL, &replayed);
    rc = 0;
    if (rs.status == 200 || rs.status == 201) {
        /* the body again, to log the written value */
        e.body = cJSON_Parse(body);
        if (e.body && describe(&e, &rs, &ch) == 0) {
            log_change(c, &ch);
            rc = 1;
        }
        cJSON_Delete(e.body);
    } else {
        sim_log("churn: %s %s answered %d", e.method, e.path, rs.status);
    }
    free(rs.body);
    free(body);
    return rc;
}

/* an exponential gap (seconds) at rate per hour */
static double gap_s(struct churn *c)
{
    return -log(1.0 - prng_unit(&c->rng)) * 3600.0 / c->rate;
}

static void *run(void *arg)
{
    struct churn *c = arg;
    double due = 0;

    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        double now = clock_mono_s();

        if (c->rate <= 0) {
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        if (c->redraw) {
            due = now + gap_s(c);
            c->redraw = 0;
        }
        if (now < due) {
            struct timespec ts;

            ts.tv_sec = (time_t)due;
            ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&c->wake, &c->lock, &ts);
            continue;
        }
        edit_once(c);
        /* the next gap counts from when this edit was due, so the rate
         * holds even when edits take time; a backlog (a stall of the
         * machine) is not made up in a burst beyond a second's worth */
        due += gap_s(c);
        if (due < now - 1.0)
            due = now;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

struct churn *churn_start(struct sim *sim, double per_hour, uint64_t seed)
{
    struct churn *c = calloc(1, sizeof *c);
    pthread_condattr_t ca;
    int ok;

    if (!c)
        return NULL;
    c->sim = sim;
    c->start_rate = c->rate = per_hour;
    c->enabled = (1u << N_KINDS) - 1;
    c->redraw = 1;
    c->next_seq = 1;
    prng_init(&c->rng, seed ^ UINT64_C(0x636875726e));
    ok = pthread_mutex_init(&c->lock, NULL) == 0;
    if (ok && pthread_condattr_init(&ca) == 0) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&c->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
        ok = ok && pthread_create(&c->thread, NULL, run, c) == 0;
    } else {
        ok = 0;
    }
    if (!ok) {
        free(c);
        return NULL;
    }
    c->started = 1;
    return c;
}

void churn_stop(struct churn *c)
{
    if (!c || !c->started)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    c->started = 0;
}

void churn_free(struct churn *c)
{
    if (!c)
        return;
    churn_stop(c);
    for (size_t i = 0; c->ring && i < CHURN_LOG_CAP; i++)
        free_change(&c->ring[i]);
    free(c->ring);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void churn_reset(struct churn *c, uint64_t seed)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; c->ring && i < c->count; i++)
        free_change(&c->ring[(c->head + i) % CHURN_LOG_CAP]);
    /* sequence numbers keep rising: a test holding an old "since" misses
     * nothing and sees nothing twice */
    c->head = c->count = 0;
    c->rate = c->start_rate;
    c->enabled = (1u << N_KINDS) - 1;
    c->redraw = 1;
    prng_init(&c->rng, seed ^ UINT64_C(0x636875726e));
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

int churn_set(struct churn *c, const cJSON *obj, char *err, size_t errsz)
{
    double rate;
    unsigned enabled;
    const cJSON *item;

    if (!cJSON_IsObject(obj)) {
        snprintf(err, errsz, "churn settings must be a JSON object");
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    rate = c->rate;
    enabled = c->enabled;
    pthread_mutex_unlock(&c->lock);
    cJSON_ArrayForEach(item, obj) {
        if (strcmp(item->string, "rate_per_hour") == 0) {
            if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) ||
                item->valuedouble > CHURN_MAX_PER_HOUR) {
                snprintf(err, errsz, "rate_per_hour must be a number from 0 to 3600000");
                return -1;
            }
            rate = item->valuedouble;
        } else if (strcmp(item->string, "kinds") == 0) {
            const cJSON *k;

            if (cJSON_IsNull(item)) {
                enabled = (1u << N_KINDS) - 1;
                continue;
            }
            if (!cJSON_IsArray(item))
                goto bad_kinds;
            enabled = 0;
            cJSON_ArrayForEach(k, item) {
                int i = 0;

                while (i < N_KINDS && !(cJSON_IsString(k) && strcmp(k->valuestring,
                                                                     kinds[i].name) == 0))
                    i++;
                if (i == N_KINDS)
                    goto bad_kinds;
                enabled |= 1u << i;
            }
        } else {
            snprintf(err, errsz, "unknown churn setting %.100s", item->string);
            return -1;
        }
    }
    /* all or nothing, as for faults */
    pthread_mutex_lock(&c->lock);
    c->rate = rate;
    c->enabled = enabled;
    c->redraw = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    return 0;
bad_kinds:
    snprintf(err, errsz, "kinds must be null or an array of: status, priority,"
                         " scheduled_date, reassign, new_work_order, description,"
                         " contact_phone, customer_email");
    return -1;
}

cJSON *churn_json(struct churn *c)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    int bad;

    pthread_mutex_lock(&c->lock);
    bad = !o || !cJSON_AddNumberToObject(o, "rate_per_hour", c->rate) ||
          !(arr = cJSON_AddArrayToObject(o, "kinds")) ||
          !cJSON_AddNumberToObject(o, "changes", (double)c->applied) ||
          !cJSON_AddNumberToObject(o, "last_seq", (double)(c->next_seq - 1));
    for (int k = 0; !bad && k < N_KINDS; k++) {
        cJSON *s = (c->enabled >> k & 1u) ? cJSON_CreateString(kinds[k].name) : NULL;

        if ((c->enabled >> k & 1u) && !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            bad = 1;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* "" → null */
static cJSON *add_text_or_null(cJSON *o, const char *name, const char *s)
{
    return s && *s ? cJSON_AddStringToObject(o, name, s) : cJSON_AddNullToObject(o, name);
}

static cJSON *change_json(const struct change *ch)
{
    cJSON *o = cJSON_CreateObject(), *fields;
    const char *field = kinds[ch->kind].field;
    char at[CLOCK_TEXT_MAX];

    clock_format_ms(ch->at_ms, at);
    if (!o || !cJSON_AddNumberToObject(o, "seq", (double)ch->seq) ||
        !cJSON_AddStringToObject(o, "at", at) ||
        !cJSON_AddStringToObject(o, "kind", kinds[ch->kind].name) ||
        !cJSON_AddStringToObject(o, "entity", kinds[ch->kind].entity) ||
        !cJSON_AddStringToObject(o, "id", ch->id) ||
        !(fields = cJSON_AddArrayToObject(o, "fields")) ||
        (field && !cJSON_AddItemToArray(fields, cJSON_CreateString(field))) ||
        !cJSON_AddBoolToObject(o, "in_summary", ch->kind < K_DESCRIPTION) ||
        !add_text_or_null(o, "value", ch->value) ||
        !add_text_or_null(o, "previous", ch->previous) ||
        !add_text_or_null(o, "technician_id", ch->technician_id) ||
        !add_text_or_null(o, "previous_technician_id", ch->previous_technician_id) ||
        !add_text_or_null(o, "scheduled_date", ch->scheduled_date) ||
        !add_text_or_null(o, "customer_id", ch->customer_id) ||
        !add_text_or_null(o, "updated_at", ch->updated_at)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *churn_changes_json(struct churn *c, uint64_t since)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    int bad = !data;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; !bad && i < c->count; i++) {
        const struct change *ch = &c->ring[(c->head + i) % CHURN_LOG_CAP];
        cJSON *item;

        if (ch->seq <= since)
            continue;
        item = change_json(ch);
        if (!item || !cJSON_AddItemToArray(data, item)) {
            cJSON_Delete(item);
            bad = 1;
        }
    }
    bad = bad || !cJSON_AddNumberToObject(o, "last_seq", (double)(c->next_seq - 1)) ||
          !cJSON_AddNumberToObject(o, "first_seq",
                                   (double)(c->count ? c->ring[c->head].seq : c->next_seq));
    pthread_mutex_unlock(&c->lock);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
