/* Deterministic demo data: the same seed, counts and day give the same
 * records.  Everything is drawn from one splitmix64 stream in a fixed
 * order; times are placed relative to today's midnight (server clock), so
 * the time of day the sim starts at changes nothing. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "seed_words.h"

#define DAY_MS INT64_C(86400000)

struct gen {
    sqlite3 *db;
    struct prng rng;
    int64_t today;             /* midnight UTC of the server's day, in ms */
    int technicians;
};

static const char *pick(struct gen *g, const char *const *list, size_t n)
{
    return list[prng_below(&g->rng, (uint32_t)n)];
}
#define PICK(g, list) pick((g), (list), COUNT(list))

static int chance(struct gen *g, double p)
{
    return prng_unit(&g->rng) < p;
}

/* ms in [lo, hi) */
static int64_t between(struct gen *g, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(prng_next(&g->rng) % (uint64_t)(hi - lo));
}

/* lowercase letters and digits of s: "Acme Foods Inc" → "acmefoodsinc" */
static void slug(const char *s, char *out, size_t outsz)
{
    size_t n = 0;

    for (; *s && n + 1 < outsz; s++)
        if (isalnum((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

static void phone(struct gen *g, char *out, size_t outsz)
{
    snprintf(out, outsz, "+1-555-%03u-%04u", 100 + prng_below(&g->rng, 900),
             prng_below(&g->rng, 10000));
}

/* a random street address as stored JSON text; 0 or -1 */
static int address(struct gen *g, char *out, size_t outsz)
{
    const struct city *c = &cities[prng_below(&g->rng, COUNT(cities))];
    char street[96], zip[8];
    cJSON *a = cJSON_CreateObject();
    char *text;

    snprintf(street, sizeof street, "%u %s %s", 1 + prng_below(&g->rng, 9899),
             PICK(g, street_names), PICK(g, street_kinds));
    snprintf(zip, sizeof zip, "%s%02u", c->zip, prng_below(&g->rng, 100));
    if (!a || !cJSON_AddStringToObject(a, "street", street) ||
        !cJSON_AddStringToObject(a, "city", c->city) ||
        !cJSON_AddStringToObject(a, "state", c->state) ||
        !cJSON_AddStringToObject(a, "postal_code", zip) ||
        !cJSON_AddStringToObject(a, "country", "US") ||
        !(text = cJSON_PrintUnformatted(a))) {
        cJSON_Delete(a);
        return -1;
    }
    snprintf(out, outsz, "%s", text);
    cJSON_free(text);
    cJSON_Delete(a);
    return 0;
}

/* runs an INSERT whose parameters are given as text (NULL → NULL) with
 * created_at/updated_at last; 0 or -1 */
static int insert(sqlite3 *db, const char *sql, const char *const *vals, int n,
                  int64_t created, int64_t updated)
{
    sqlite3_stmt *st = db_stmt(db, sql);

    if (!st)
        return -1;
    for (int i = 0; i < n; i++)
        if (db_bind_text(st, i + 1, vals[i]))
            return -1;
    if (created >= 0 && (sqlite3_bind_int64(st, n + 1, created) != SQLITE_OK ||
                         sqlite3_bind_int64(st, n + 2, updated) != SQLITE_OK))
        return -1;
    return db_step_done(db, st);
}

static int seed_branches_and_technicians(struct gen *g)
{
    char id[32], name[96];

    for (size_t i = 0; i < COUNT(branch_names); i++) {
        const char *v[] = {id, branch_names[i]};

        snprintf(id, sizeof id, "branch-%03zu", i + 1);
        if (insert(g->db, "INSERT INTO branches (id, name) VALUES (?, ?)",
                   v, 2, -1, -1))
            return -1;
    }
    for (int i = 1; i <= g->technicians; i++) {
        const char *v[] = {id, name};

        snprintf(id, sizeof id, "tech-%03d", i);
        snprintf(name, sizeof name, "%s %s", PICK(g, first_names), PICK(g, last_names));
        if (insert(g->db, "INSERT INTO technicians (id, name) VALUES (?, ?)", v, 2, -1, -1))
            return -1;
    }
    return 0;
}

/* a customer name no live customer has yet */
static int customer_name(struct gen *g, int residential, char *out, size_t outsz)
{
    for (int attempt = 0;; attempt++) {
        int taken;

        if (residential)
            snprintf(out, outsz, "%s %s", PICK(g, first_names), PICK(g, last_names));
        else
            snprintf(out, outsz, "%s %s %s", PICK(g, company_heads),
                     PICK(g, company_trades), PICK(g, company_tails));
        if (attempt >= 8) {
            size_t len = strlen(out);

            /* the word lists are small next to a large --customers */
            snprintf(out + len, outsz - len, " %d", attempt);
        }
        /* the indexed expression (customers_name): a scan per name made
         * seeding quadratic, 40 s for 11,700 customers.  Seeded names have
         * no surrounding blanks and nothing is deleted at seed time, so the
         * answer is the same. */
        taken = db_exists(g->db, "SELECT 1 FROM customers WHERE deleted = 0 AND"
                                 " lower(trim(name, char(32,9,10,13))) ="
                                 " lower(trim(?, char(32,9,10,13)))", out);
        if (taken <= 0)
            return taken;
    }
}

static int seed_contacts(struct gen *g, const char *customer, const char *domain,
                         int64_t created)
{
    int n = (int)prng_below(&g->rng, 4);

    for (int i = 0; i < n; i++) {
        char id[32], name[96], email[320], ph[32], seqtxt[24];
        const char *first = PICK(g, first_names), *last = PICK(g, last_names);
        const char *title = PICK(g, contact_titles);
        int64_t seq, c = created + between(g, 0, 30 * DAY_MS);
        int64_t u = between(g, c, g->today);
        const char *v[] = {id, seqtxt, customer, name, title, email, ph, i == 0 ? "1" : "0"};
        char f[64], l[64];

        if (db_next_id(g->db, "contacts", "contact", 3, &seq, id, sizeof id))
            return -1;
        snprintf(seqtxt, sizeof seqtxt, "%lld", (long long)seq);
        snprintf(name, sizeof name, "%s %s", first, last);
        slug(first, f, sizeof f);
        slug(last, l, sizeof l);
        snprintf(email, sizeof email, "%c%s@%s", f[0], l, domain);
        phone(g, ph, sizeof ph);
        if (insert(g->db, "INSERT INTO contacts (id, seq, customer_id, name, title, email,"
                          " phone, is_primary, created_at, updated_at)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   v, 8, c, u))
            return -1;
    }
    return 0;
}

static int seed_assets(struct gen *g, const char *customer, int64_t created)
{
    int n = (int)prng_below(&g->rng, 5);

    for (int i = 0; i < n; i++) {
        const struct asset_kind *k = &asset_kinds[prng_below(&g->rng, COUNT(asset_kinds))];
        char id[32], seqtxt[24], model[32], serial[32], installed[16];
        int64_t seq, c = created + between(g, 0, 60 * DAY_MS);
        int64_t u = between(g, c, g->today);
        time_t t = (time_t)((c - between(g, 0, 3000 * DAY_MS)) / 1000);
        struct tm tm;
        const char *maker = k->makers[prng_below(&g->rng, 3)];
        const char *v[] = {id,    seqtxt, customer, k->name, k->type, maker, model,
                           serial, installed, PICK(g, asset_locations),
                           PICK(g, asset_statuses)};

        if (db_next_id(g->db, "assets", "asset", 3, &seq, id, sizeof id))
            return -1;
        snprintf(seqtxt, sizeof seqtxt, "%lld", (long long)seq);
        snprintf(model, sizeof model, "%c%c-%u", 'A' + (int)prng_below(&g->rng, 26),
                 'A' + (int)prng_below(&g->rng, 26), 100 + prng_below(&g->rng, 9900));
        snprintf(serial, sizeof serial, "SN%08u", prng_below(&g->rng, 100000000));
        gmtime_r(&t, &tm);
        strftime(installed, sizeof installed, "%Y-%m-%d", &tm);
        if (insert(g->db, "INSERT INTO assets (id, seq, customer_id, name, asset_type,"
                          " manufacturer, model, serial_number, install_date, location,"
                          " status, created_at, updated_at)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   v, 11, c, u))
            return -1;
    }
    return 0;
}

static int seed_customer(struct gen *g, int i)
{
    char id[32], seqtxt[24], name[160], number[24], email[320], ph[32], fax[32];
    char website[200], addr[400], billing[400], branch[32], tax[24], custom[200];
    char domain[120];
    int residential = chance(g, 0.3);
    int64_t created = g->today - between(g, 30 * DAY_MS, 1500 * DAY_MS);
    int64_t updated = between(g, created, g->today);
    const char *notes = chance(g, 0.3) ? PICK(g, customer_notes) : NULL;

    snprintf(id, sizeof id, "cust-%03d", i);
    snprintf(seqtxt, sizeof seqtxt, "%d", i);
    snprintf(number, sizeof number, "C-%d", 10000 + i);
    if (customer_name(g, residential, name, sizeof name))
        return -1;
    if (residential) {
        char s[160];

        slug(name, s, sizeof s);
        snprintf(domain, sizeof domain, "example.net");
        snprintf(email, sizeof email, "%s@%s", s, domain);
    } else {
        slug(name, domain, sizeof domain - 4);
        strcat(domain, ".com");
        snprintf(email, sizeof email, "info@%s", domain);
    }
    phone(g, ph, sizeof ph);
    phone(g, fax, sizeof fax);
    snprintf(website, sizeof website, "https://%s", domain);
    if (address(g, addr, sizeof addr))
        return -1;
    if (chance(g, 0.4)) {
        if (address(g, billing, sizeof billing))
            return -1;
    } else {
        snprintf(billing, sizeof billing, "%s", addr);
    }
    snprintf(branch, sizeof branch, "branch-%03u", 1 + prng_below(&g->rng, COUNT(branch_names)));
    snprintf(tax, sizeof tax, "%02u-%07u", 10 + prng_below(&g->rng, 90),
             prng_below(&g->rng, 10000000));
    if (residential)
        snprintf(custom, sizeof custom, "{}");
    else
        snprintf(custom, sizeof custom, "{\"industry\":\"%s\",\"employee_count\":\"%s\"}",
                 PICK(g, industries), PICK(g, employee_counts));
    {
        const char *v[] = {id, seqtxt, name, number, chance(g, 0.85) ? "active" : "inactive",
                           residential ? "residential" : "commercial", email, ph,
                           residential || chance(g, 0.5) ? NULL : fax,
                           residential ? NULL : website, addr, billing, branch,
                           residential ? NULL : tax,
                           PAYMENT_TERMS[prng_below(&g->rng, 5)], notes, custom};

        if (insert(g->db, "INSERT INTO customers (id, seq, name, customer_number, status,"
                          " customer_type, email, phone, fax, website, address,"
                          " billing_address, branch_id, tax_id, payment_terms, notes,"
                          " custom_fields, created_at, updated_at)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   v, 17, created, updated))
            return -1;
    }
    if (seed_contacts(g, id, domain, created) || seed_assets(g, id, created))
        return -1;
    return 0;
}

/* a contact of customer, or none (NULL) */
static int pick_contact(struct gen *g, const char *customer, char *out, size_t outsz,
                        int *found)
{
    sqlite3_stmt *st = db_stmt(g->db, "SELECT id FROM contacts WHERE customer_id = ?"
                                      " ORDER BY seq");
    char ids[4][32];
    int n = 0, rc;

    if (!st || db_bind_text(st, 1, customer))
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 4)
        snprintf(ids[n++], sizeof ids[0], "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    *found = n > 0 && chance(g, 0.8);
    if (*found)
        snprintf(out, outsz, "%s", ids[prng_below(&g->rng, (uint32_t)n)]);
    return 0;
}

static int seed_tasks(struct gen *g, const char *wo, const char *status)
{
    int n = 1 + (int)prng_below(&g->rng, 4);

    for (int i = 0; i < n; i++) {
        char id[32], seqtxt[24];
        int64_t seq;
        const char *ts = strcmp(status, "completed") == 0 ? "completed"
                         : strcmp(status, "in_progress") == 0 || strcmp(status, "on_hold") == 0
                             ? (i == 0 ? "completed" : i == 1 ? "in_progress" : "pending")
                             : "pending";
        const char *v[] = {id, seqtxt, wo, PICK(g, task_names), ts};

        if (db_next_id(g->db, "tasks", "task", 3, &seq, id, sizeof id))
            return -1;
        snprintf(seqtxt, sizeof seqtxt, "%lld", (long long)seq);
        if (insert(g->db, "INSERT INTO tasks (id, seq, work_order_id, name, status)"
                          " VALUES (?, ?, ?, ?, ?)", v, 5, -1, -1))
            return -1;
    }
    return 0;
}

static int seed_work_order(struct gen *g, int i, int customers, int year)
{
    char id[32], seqtxt[24], number[32], customer[32], contact[32], tech[32];
    char sched[32], duration[16];
    /* the first seven cover every status; the rest are drawn */
    const char *status = WO_STATUSES[i <= 7 ? i - 1 : (int)prng_below(&g->rng, 7)];
    int unassignable = strcmp(status, "draft") == 0 || strcmp(status, "open") == 0;
    int has_tech = g->technicians > 0 && (!unassignable || chance(g, 0.5));
    int type = (int)prng_below(&g->rng, 5), has_contact = 0;
    int64_t day = g->today + (int64_t)((int)prng_below(&g->rng, 91) - 30) * DAY_MS;
    int64_t when = day + (7 + prng_below(&g->rng, 10)) * 3600000 +
                   prng_below(&g->rng, 2) * 1800000;
    int64_t created = when - between(g, DAY_MS, 45 * DAY_MS);
    int64_t updated;
    time_t t = (time_t)(when / 1000);
    struct tm tm;

    if (created > g->today)
        created = g->today - between(g, 0, DAY_MS);
    updated = between(g, created, g->today);
    snprintf(id, sizeof id, "wo-%05d", i);
    snprintf(seqtxt, sizeof seqtxt, "%d", i);
    snprintf(number, sizeof number, "WO-%04d-%06d", year, i);
    snprintf(customer, sizeof customer, "cust-%03u", 1 + prng_below(&g->rng, (uint32_t)customers));
    if (pick_contact(g, customer, contact, sizeof contact, &has_contact))
        return -1;
    snprintf(tech, sizeof tech, "tech-%03u",
             1 + prng_below(&g->rng, (uint32_t)(g->technicians > 0 ? g->technicians : 1)));
    gmtime_r(&t, &tm);
    strftime(sched, sizeof sched, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(duration, sizeof duration, "%u", 30 + 15 * prng_below(&g->rng, 31));
    {
        const char *v[] = {id, seqtxt, number, status,
                           WO_PRIORITIES[prng_below(&g->rng, 4)], WO_TYPES[type],
                           wo_descriptions[type][prng_below(&g->rng, 4)],
                           chance(g, 0.4) ? PICK(g, wo_notes) : NULL, customer,
                           has_contact ? contact : NULL, sched, duration,
                           has_tech ? tech : NULL};

        if (insert(g->db, "INSERT INTO work_orders (id, seq, work_order_number, status,"
                          " priority, work_order_type, description, notes, customer_id,"
                          " contact_id, scheduled_date, estimated_duration, technician_id,"
                          " created_at, updated_at)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   v, 13, created, updated))
            return -1;
    }
    return seed_tasks(g, id, status);
}

int seed_generate(sqlite3 *db, const struct seed_params *p)
{
    struct gen g = {.db = db, .technicians = p->technicians};
    int64_t now = clock_now_ms();
    time_t t;
    struct tm tm;

    prng_init(&g.rng, p->seed);
    g.today = now - ((now % DAY_MS) + DAY_MS) % DAY_MS;
    t = (time_t)(g.today / 1000);
    gmtime_r(&t, &tm);
    if (seed_branches_and_technicians(&g))
        return -1;
    for (int i = 1; i <= p->customers; i++)
        if (seed_customer(&g, i))
            return -1;
    for (int i = 1; p->customers > 0 && i <= p->work_orders; i++)
        if (seed_work_order(&g, i, p->customers, tm.tm_year + 1900))
            return -1;
    return db_exec(db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('seeded', '1')");
}
