/* Newswire command — newswire: publish items, kill stories and tail the
 * stream of a newswired from the command line or from scripts.
 *
 * This file only dispatches to the subcommands (cli.h); each one parses
 * its own options (args.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: newswire COMMAND [options] ...\n"
    "\n"
    "Commands:\n"
    "  publish   validate a ninjs item and publish it through the ingest API\n"
    "  kill      kill a story through the ingest API\n"
    "  tail      subscribe to topics on the WebSocket stream and print items\n"
    "            as JSON lines, resuming after every drop\n"
    "\n"
    "  newswire COMMAND --help   the options of a command\n"
    "  newswire --version        the version\n"
    "\n"
    "Exit status: 0 success, 1 internal error, 2 usage error or invalid input\n"
    "(nothing sent), 3 refused by the server (4xx, or a session refused),\n"
    "4 server error (5xx), 5 no answer (connection failed or timed out).\n";

int nw_cli_usage_error(const char *cmd, const nw_err_t *err, const char *text)
{
    fprintf(stderr, "newswire %s: %s%s%s\n\n%s", cmd, err->field, err->field[0] ? ": " : "",
            err->message, text);
    return NW_CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"publish", nw_cli_publish},
        {"kill", nw_cli_kill},
        {"tail", nw_cli_tail},
    };
    struct sigaction sa = {.sa_handler = SIG_IGN};

    if (argc < 2) {
        fputs(usage, stderr);
        return NW_CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return NW_CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("newswire %s\n", NW_VERSION);
        return NW_CLI_EXIT_OK;
    }
    /* A peer that closes mid-write is an error to report, not a signal
     * that kills the command (OpenSSL writes with plain write()). */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    for (size_t i = 0; i < NW_ARRAY_LEN(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "newswire: unknown %s \"%s\"\n\n%s", argv[1][0] == '-' ? "option" : "command",
            argv[1], usage);
    return NW_CLI_EXIT_USAGE;
}
