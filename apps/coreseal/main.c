/* coreseal: one command, one file per subcommand. This file only
 * dispatches and prints the top-level help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand_t;

static const subcommand_t subcommands[] = {
    {"get", cmd_request, "send a GET request (also post, put, delete, fetch, patch, ipatch)"},
    {"post", cmd_request, NULL},
    {"put", cmd_request, NULL},
    {"delete", cmd_request, NULL},
    {"fetch", cmd_request, NULL},
    {"patch", cmd_request, NULL},
    {"ipatch", cmd_request, NULL},
    {"serve", cmd_serve, "serve files and test resources over CoAP, with OSCORE"},
    {"proxy", cmd_proxy, "an untrusted CoAP proxy (forward/reverse), with --log and --attack"},
    {"lwm2m", cmd_lwm2m, "LwM2M client (simulated device) and server, over OSCORE"},
    {"edhoc", cmd_edhoc, "make EDHOC keys and credentials (keygen)"},
    {"bench", cmd_bench, "load-test a CoAP/OSCORE server (bench load)"},
    {"demo", cmd_demo, "run the end-to-end demonstration and print what happens"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: coreseal <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (subcommands[i].summary)
            fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'coreseal <command> --help' describes each command.\n"
                 "Exit codes: 0 ok, 1 usage, 2 config, 3 network, 4 timeout,\n"
                 "5 peer rejected, 6 local security check, 7 storage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("coreseal 0.1.0\n");
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1); /* argv[0] is the name */
    return cli_fail(argv[1], CLI_EXIT_USAGE,
                    "unknown command; run 'coreseal --help' for the list of commands");
}
