/* Shared by the coreseal subcommands: stable exit codes, the one error-line
 * format "coreseal SUB: (N) message", OSCORE context loading and the -v
 * wire printer. Subcommand files hold only their own logic. */
#ifndef CORESEAL_CLI_H
#define CORESEAL_CLI_H

#include <stdio.h>

#include "coreseal/coap.h"
#include "coreseal/crypto_openssl.h"
#include "coreseal/edhoc.h"
#include "coreseal/oscore.h"
#include "coreseal/store.h"

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
int cli_fail(const char *sub, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#include <signal.h>
/* Set by SIGINT/SIGTERM once cli_catch_signals() ran: loops stop cleanly. */
extern volatile sig_atomic_t cli_stopping;
void cli_catch_signals(void);
/* The endpoint's randomness (coap_ep_config_t.random), arg: a cs_crypto_t. */
bool cli_random(void *arg, uint8_t *buf, size_t len);
/* "HOST:PORT", "[v6]:PORT" or ":PORT" split in place; -1 if malformed. A
 * missing host stays NULL (any address). */
int cli_parse_listen(char *arg, const char **host, const char **port);

#define CLI_MAX_CONTEXTS 16

/* An OSCORE context loaded from a context file, with its state file. */
typedef struct {
    char path[CS_STORE_PATH_MAX];
    cs_context_file_t file;
    cs_state_file_t state;
    bool persistent;
    oscore_ctx_t ctx;
    /* contexts from EDHOC: who they belong to, and their age */
    uint8_t owner[16];
    size_t owner_len;
    unsigned long serial;
} cli_context_t;

typedef struct {
    cs_crypto_t crypto;
    bool crypto_ready;
    cli_context_t ctx[CLI_MAX_CONTEXTS];
    int n;
    unsigned long serial;
} cli_security_t;

int cli_security_init(cli_security_t *sec, const char *sub);
/* Loads a context file (and its state file); returns an exit code. */
int cli_security_add(cli_security_t *sec, const char *path, const char *sub);
/* Adds a context derived from params (e.g. a bootstrapped /21 instance),
 * named `name` in messages, persisted in state_path (NULL: volatile). */
int cli_security_add_derived(cli_security_t *sec, const oscore_params_t *params, const char *name,
                             const char *state_path, const char *sub, cli_context_t **out);
/* LwM2M servers: the next request on c must prove freshness with Echo
 * when c is volatile or its state file is new (first use). */
void cli_security_require_echo_on_first_use(cli_context_t *c);
/* Adds a volatile context from EDHOC for `owner` (the peer's ID_CRED):
 * it replaces that owner's earlier context, or, when the table is full,
 * the oldest EDHOC context. *out receives it. */
int cli_security_add_params(cli_security_t *sec, const oscore_params_t *p, const uint8_t *owner,
                            size_t owner_len, const char *sub, cli_context_t **out);
/* Context that receives with the option's kid / kid context, or NULL. */
cli_context_t *cli_security_find(cli_security_t *sec, const oscore_option_t *opt);
/* Clean shutdown: saves replay windows; wipes keys. */
void cli_security_close(cli_security_t *sec);

/* "2.05 Content" style code text into buf (16 bytes). */
const char *cli_code_str(uint8_t code, char *buf);
/* Content-Format by number or name ("text/plain", "cbor", "json", ...);
 * -1 if unknown. */
long cli_content_format(const char *s);
/* -v: one line per message; -vv also the payload. */
void cli_print_msg(FILE *out, char dir, const coap_msg_t *m, const char *note, int verbosity);

/* EDHOC keys for --edhoc on get and serve (apps/coreseal/edhoc.c). */
#define CLI_MAX_PEERS 16
typedef struct {
    bool enabled;
    cs_edhoc_key_t own;
    cs_edhoc_key_t peers[CLI_MAX_PEERS];
    int n_peers;
    int method; /* -1: from the key types */
    int suite;  /* -1: from the curves */
} cli_edhoc_t;

int cli_edhoc_load_own(cli_edhoc_t *e, const char *path, const char *sub);
int cli_edhoc_add_peer(cli_edhoc_t *e, const char *path, const char *sub);
const cs_edhoc_key_t *cli_edhoc_find_peer(const cli_edhoc_t *e, const uint8_t *id_cred, size_t len);
edhoc_cred_t cli_edhoc_cred(const cs_edhoc_key_t *k);
/* Method and suite for a handshake with `peer` (NULL: any trusted). */
void cli_edhoc_choose(const cli_edhoc_t *e, const cs_edhoc_key_t *peer, edhoc_method_t *method,
                      uint8_t *suite);

int cmd_demo(int argc, char **argv);
int cmd_edhoc(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_lwm2m(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
