/* Shared by the coreseal subcommands: stable exit codes, the one error-line
 * format "coreseal SUB: (N) message", OSCORE context loading and the -v
 * wire printer. Subcommand files hold only their own logic. */
#ifndef CORESEAL_CLI_H
#define CORESEAL_CLI_H

#include <stdio.h>

#include "coreseal/coap.h"
#include "coreseal/crypto_openssl.h"
#include "coreseal/edhoc.h"
#include "coreseal/net.h"
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

/* --psk ID:KEY (repeatable where a server accepts several): adds one to
 * cfg; CLI_EXIT_OK or a usage error already printed. */
int cli_dtls_add_psk(cs_dtls_config_t *cfg, const char *arg, const char *sub);
/* A PEM file's first certificate, or its private key, as DER (what the
 * LwM2M Security object holds); CLI_EXIT_OK or a configuration error
 * already printed. */
int cli_pem_file_to_der(const char *file, bool private_key, uint8_t *out, size_t cap, size_t *len,
                        const char *sub);
#define CLI_DTLS_HELP                                                                          \
    "      --psk ID:KEY          DTLS PSK identity and key (text, or 0x-prefixed hex)\n"        \
    "      --cert FILE           DTLS Certificate mode: own certificate (PEM)\n"               \
    "      --key FILE            its private key (PEM; default: in the certificate file)\n"    \
    "      --ca FILE             CA certificates (PEM) that verify the peer\n"

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
    struct cs_redis *shared; /* cli_security_share */
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
/* Adds a volatile context from EDHOC for `owner` (the peer's ID_CRED; a
 * long one, a certificate, by its SHA-256): it replaces that owner's
 * earlier context, or, when the table is full, the oldest EDHOC context.
 * *out receives it. */
int cli_security_add_params(cli_security_t *sec, const oscore_params_t *p, const uint8_t *owner,
                            size_t owner_len, const char *sub, cli_context_t **out);
/* A cli_cid_taken_fn over sec (a cli_security_t): true if a context here
 * receives with that Recipient ID (EDHOC must not pick it as C_R). */
bool cli_security_recipient_id_taken(void *sec, const uint8_t *id, size_t len);
/* Context that receives with the option's kid / kid context, or NULL. */
cli_context_t *cli_security_find(cli_security_t *sec, const oscore_option_t *opt);

/* RFC 8613 Appendix B.2, for contexts whose parameters set rfc8613_b_2. */
/* The provisioned parameters of c (B.2 derives from them), with c's
 * persistence. */
void cli_context_base(const cli_context_t *c, oscore_params_t *p);
/* Client: step 1 on first use, i.e. unless c's state file holds a context
 * negotiated before. Returns an exit code. */
int cli_b2_start_if_new(cli_security_t *sec, cli_context_t *c, bool verbose, const char *sub);
/* The slot holding ctx, or NULL. */
cli_context_t *cli_security_slot(cli_security_t *sec, const oscore_ctx_t *ctx);
/* Server: the B.2 context a request names by kid with an unknown kid
 * context (oscore_b2_applies), or NULL. */
cli_context_t *cli_security_find_b2(cli_security_t *sec, const oscore_option_t *opt);
/* Scale-out (several processes, one set of clients): every context keeps
 * its SSN blocks and replay window in the Redis at url instead of state
 * files (coreseal/redis_state.h). Returns an exit code. */
int cli_security_share(cli_security_t *sec, const char *url, const char *sub);
/* Clean shutdown: saves replay windows; wipes keys. */
void cli_security_close(cli_security_t *sec);

/* Outer block-wise (RFC 8613 §4.1.3.4.2) for serve and proxy. */
/* m again with the header and token of hdr, without its Block1, Block2,
 * Size1, Size2 and (outer) Request-Tag options, plus `extra`, with payload
 * pl; false if it does not fit cap. */
bool cli_msg_rebuild(const coap_msg_t *m, const coap_msg_t *hdr, const coap_opt_t *extra,
                     size_t n_extra, const uint8_t *pl, size_t pl_len, uint8_t *out, size_t cap,
                     size_t *len);
/* Block num (2^(szx + 4) bytes) of a whole message kept for outer Block2:
 * its code and options plus Block2 (and Size2 on block 0), the slice of its
 * payload, with the type, MID and token of hdr. false past the end. */
bool cli_outer_block(const uint8_t *whole, size_t whole_len, const coap_msg_t *hdr, uint32_t num,
                     uint8_t szx, uint8_t *out, size_t cap, size_t *n);
/* An option carrying v as a minimal unsigned integer, in buf. */
coap_opt_t cli_uint_opt(uint16_t option, uint32_t v, uint8_t buf[4]);
/* A Block1/Block2 option, in buf. */
coap_opt_t cli_block_opt(uint16_t option, uint32_t num, bool more, uint8_t szx, uint8_t buf[4]);

/* A pcap capture file of datagrams (LINKTYPE_RAW, IPv4/IPv6 + UDP) that
 * Wireshark and tshark read; OSCORE in it decrypts there given the keys. */
FILE *cli_pcap_open(const char *path);
struct sockaddr_storage;
void cli_pcap_write(FILE *f, const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
                    const uint8_t *d, size_t n);

/* "2.05 Content" style code text into buf (16 bytes). */
const char *cli_code_str(uint8_t code, char *buf);
/* Content-Format by number or name ("text/plain", "cbor", "json", ...);
 * -1 if unknown. */
long cli_content_format(const char *s);
/* -v: one line per message; -vv also the payload. */
void cli_print_msg(FILE *out, char dir, const coap_msg_t *m, const char *note, int verbosity);

/* EDHOC keys for --edhoc on get and serve (apps/coreseal/edhoc.c). */
#define CLI_MAX_PEERS 16
#define CLI_MAX_ANCHORS 4
typedef struct {
    bool enabled;
    cs_edhoc_key_t own;
    cs_edhoc_key_t peers[CLI_MAX_PEERS];
    int n_peers;
    /* CA (or pinned) certificates, DER, that verify x5chain credentials */
    uint8_t anchor[CLI_MAX_ANCHORS][CS_EDHOC_CRED_MAX];
    size_t anchor_len[CLI_MAX_ANCHORS];
    int n_anchors;
    cs_edhoc_key_t verified; /* the last peer a CA vouched for */
    int method; /* -1: from the key types */
    int suite;  /* -1: from the curves */
} cli_edhoc_t;

int cli_edhoc_load_own(cli_edhoc_t *e, const char *path, const char *sub);
/* --edhoc-trust FILE: a peer's credential file, or a PEM certificate (a
 * CA, or a peer's own) that x5chain credentials are verified against. */
int cli_edhoc_add_peer(cli_edhoc_t *e, const char *path, const char *sub);
/* The trusted peer ID_CRED_x names: a credential file's (by its ID_CRED,
 * or its certificate by x5t or x5chain), or a certificate sent by value
 * that a trusted CA issued (kept in e->verified until the next call). */
const cs_edhoc_key_t *cli_edhoc_find_peer(cli_edhoc_t *e, const cs_crypto_t *c, const uint8_t *id_cred,
                                          size_t len);
edhoc_cred_t cli_edhoc_cred(const cs_edhoc_key_t *k);
/* Method and suite for a handshake with `peer` (NULL: any trusted). */
void cli_edhoc_choose(const cli_edhoc_t *e, const cs_edhoc_key_t *peer, edhoc_method_t *method,
                      uint8_t *suite);

/* EDHOC over CoAP (edhoc_coap.c). The responder keeps a fixed table of
 * handshakes with a lifetime, so a flood of message_1 costs nothing beyond
 * it; C_R is one byte (the integers 0..23) or a random byte string of
 * cid_len bytes, never a Recipient ID the caller's `taken` reports. */
#define CLI_EDHOC_SESSIONS 8
#define CLI_EDHOC_LIFETIME_MS 60000

typedef struct {
    bool active;
    edhoc_session_t s;
    uint8_t scratch[2048];
    uint8_t c_r[EDHOC_MAX_CID], c_r_len;
    cs_time_ms_t expires;
} cli_edhoc_session_t;

typedef bool (*cli_cid_taken_fn)(void *arg, const uint8_t *cid, size_t len);

typedef struct {
    cli_edhoc_t *keys;
    const cs_crypto_t *crypto;
    uint8_t cid_len;
    uint8_t next_c_r;
    cli_cid_taken_fn taken;
    void *taken_arg;
    int verbose;
    cli_edhoc_session_t sess[CLI_EDHOC_SESSIONS];
} cli_edhoc_responder_t;

/* What one step gives: the CoAP answer, and once a handshake completed
 * (done), the authenticated peer and the OSCORE parameters (pointing into
 * keys; wipe it after deriving). */
typedef struct {
    uint8_t code;
    bool edhoc_payload; /* payload is EDHOC (message_2 or an error), else text */
    uint8_t payload[1024];
    size_t payload_len;
    bool done;
    const cs_edhoc_key_t *peer;
    edhoc_oscore_keys_t keys;
    oscore_params_t params;
} cli_edhoc_result_t;

void cli_edhoc_responder_init(cli_edhoc_responder_t *r, cli_edhoc_t *keys, const cs_crypto_t *crypto,
                              uint8_t cid_len, cli_cid_taken_fn taken, void *taken_arg);
void cli_edhoc_responder_wipe(cli_edhoc_responder_t *r);
/* The payload of a POST /.well-known/edhoc. */
void cli_edhoc_respond(cli_edhoc_responder_t *r, const uint8_t *payload, size_t len, cs_time_ms_t now,
                       cli_edhoc_result_t *out);
/* RFC 9668: message_3 carried by an OSCORE request whose kid is C_R. */
void cli_edhoc_respond_combined(cli_edhoc_responder_t *r, const uint8_t *kid, size_t kid_len, const uint8_t *m3,
                                size_t m3_len, cs_time_ms_t now, cli_edhoc_result_t *out);

/* Sends one POST /.well-known/edhoc with payload and waits for its answer. */
typedef int (*cli_edhoc_post_fn)(void *arg, const uint8_t *payload, size_t len, coap_msg_t *resp);
/* The initiator's handshake with e->peers trusted; with m3 set it stops
 * before message_3 and leaves it there (RFC 9668 combined request). An
 * exit code; out->done with the parameters on success. */
int cli_edhoc_initiate(cli_edhoc_t *e, const cs_crypto_t *crypto, const char *sub, int verbose,
                       cli_edhoc_post_fn post, void *arg, uint8_t *m3, size_t m3_cap, size_t *m3_len,
                       cli_edhoc_result_t *out);

int cmd_demo(int argc, char **argv);
/* The system demo (demo_system.c): processes, a story, a summary table. */
int demo_system(cs_crypto_t *crypto, bool keep);
int cmd_edhoc(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_lwm2m(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
