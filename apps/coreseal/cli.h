/* Shared by the coreseal subcommands: the stable exit codes (docs/cli.md)
 * and the one error-line format, "coreseal SUB: (N) message". */
#ifndef CORESEAL_CLI_H
#define CORESEAL_CLI_H

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,
    CLI_EXIT_CONFIG = 2,
    CLI_EXIT_NETWORK = 3,
    CLI_EXIT_TIMEOUT = 4,
    CLI_EXIT_PEER_REJECTED = 5,
    CLI_EXIT_SECURITY = 6,
    CLI_EXIT_STORAGE = 7,
};

/* Prints "coreseal <sub>: (<code>) <message>" to stderr, returns code. */
int cli_fail(const char *sub, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int cmd_demo(int argc, char **argv);

#endif
