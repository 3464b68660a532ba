/*
 * output_json.c — the output functions for scripts: the "data" of the
 * daemon's answer (for a list, "data" and "meta"), printed whole and in
 * the daemon's order, so a script sees what the local API says (and
 * never more).  Times stay ISO 8601 UTC, as the daemon sent them.  One document per
 * command; `watch` prints one compact object per line.
 */
#include <stdlib.h>

#include "agent/cli/output.h"

static void print_json(FILE *fp, const cJSON *v)
{
    char *s = cJSON_Print(v);

    if (s) {
        fprintf(fp, "%s\n", s);
        free(s);
    } else {
        fputs("null\n", fp);
    }
}

/* A list as the daemon sent it: {"data": [...], "meta": {...}}, so a
 * script sees the page counts (and, after --all, the totals). */
static void json_list(FILE *fp, const cli_view *v, const cJSON *data, const cJSON *meta)
{
    cJSON *doc = cJSON_CreateObject();

    (void)v;
    if (doc && cJSON_AddItemReferenceToObject(doc, "data", (cJSON *)data) &&
        (!meta || cJSON_AddItemReferenceToObject(doc, "meta", (cJSON *)meta)))
        print_json(fp, doc);
    else
        fputs("null\n", fp);
    cJSON_Delete(doc);
}

static void json_done(FILE *fp, const char *what, const char *id, const cJSON *data)
{
    (void)what;
    (void)id;
    if (data) /* a 204 has nothing to print; the exit status says it */
        print_json(fp, data);
}

/* {"event": TYPE, "data": DATA}: DATA as JSON when it is, else a string. */
static void json_event(FILE *fp, const char *type, const char *data)
{
    cJSON *o = cJSON_CreateObject(), *d = cJSON_Parse(data);
    char *s = NULL;

    if (!d)
        d = cJSON_CreateString(data);
    if (o && d && cJSON_AddStringToObject(o, "event", type) &&
        cJSON_AddItemToObject(o, "data", d)) {
        d = NULL; /* o owns it now */
        s = cJSON_PrintUnformatted(o);
    }
    if (s)
        fprintf(fp, "%s\n", s);
    free(s);
    cJSON_Delete(d);
    cJSON_Delete(o);
}

const cli_output cli_output_json = {
    json_list, print_json, print_json, print_json, print_json, print_json, json_done,
    json_event,
};
