/*
 * help.h — the command tables' index and the help texts made from them.
 */
#ifndef FIELDSYNC_CLI_HELP_H
#define FIELDSYNC_CLI_HELP_H

#include "agent/cli/cli.h"

/* Every command group, in the order `fieldsync --help` lists them. */
extern const cli_group *const cli_groups[];
extern const size_t cli_ngroups;

/* The group named `name` ("work-orders"), or NULL. */
const cli_group *cli_group_find(const char *name);

/* Help texts; each returns a string the caller frees, or NULL (ENOMEM). */
char *cli_help_group(const cli_group *g);
char *cli_help_sub(const cli_group *g, const cli_sub *s);

#endif /* FIELDSYNC_CLI_HELP_H */
