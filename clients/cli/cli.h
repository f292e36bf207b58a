/* Newswire command — the subcommands and the exit statuses they share.
 *
 * Each subcommand takes argv with argv[0] its own name, writes its result
 * on stdout and every diagnostic on stderr, and returns the process exit
 * status. */
#ifndef NW_CLI_H
#define NW_CLI_H

#include "common.h"

#define NW_CLI_EXIT_OK    0 /* done: a 2xx answer; tail: --count reached or a signal */
#define NW_CLI_EXIT_ERROR 1 /* out of memory, stdout unwritable */
#define NW_CLI_EXIT_USAGE                                                                          \
    2 /* bad arguments, unreadable input, locally invalid item: nothing sent */
#define NW_CLI_EXIT_REFUSED 3 /* a 4xx answer; tail: the server refused the session (4001...) */
#define NW_CLI_EXIT_SERVER  4 /* a 5xx answer (503 after the retries) */
#define NW_CLI_EXIT_CONNECT 5 /* no answer: connection refused or lost, timeout, not HTTP */

/* newswire publish: POST one ninjs item to the ingest API. */
int nw_cli_publish(int argc, char **argv);

/* newswire kill: DELETE a story through the ingest API. */
int nw_cli_kill(int argc, char **argv);

/* newswire tail: subscribe to the WebSocket stream and print items. */
int nw_cli_tail(int argc, char **argv);

/* Reports a usage error of subcommand cmd ("publish") on stderr, followed
 * by its usage text; returns NW_CLI_EXIT_USAGE. */
int nw_cli_usage_error(const char *cmd, const nw_err_t *err, const char *usage);

#endif
