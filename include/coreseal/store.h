/* coreseal/store.h: host-side files for OSCORE (above the core: uses stdio,
 * POSIX and jansson).
 *
 * Context files describe a security context for the CLI and for devices
 * (docs/context-files.md): coreseal's JSON format, or, unchanged, the
 * `name,type,value` format of libcoap's `coap-client -E` / coap-oscore-conf(5).
 *
 * State files keep what must survive a reboot (RFC 8613 Appendix B.1): the
 * Sender Sequence Number bound, the replay window (only valid after a clean
 * shutdown) and the ID Context. Every write is atomic: temporary file,
 * fsync, rename, fsync of the directory. */
#ifndef CORESEAL_STORE_H
#define CORESEAL_STORE_H

#include "coreseal/lwm2m_model.h"
#include "coreseal/oscore.h"

typedef enum {
    CS_STORE_OK = 0,
    CS_STORE_ERR_BAD_ARG = CS_ERR_RANGE_STORE | 0x01,
    CS_STORE_ERR_IO,      /* the file could not be read, written or synced */
    CS_STORE_ERR_SYNTAX,  /* not valid JSON / not name,type,value lines */
    CS_STORE_ERR_MISSING, /* a required member is absent */
    CS_STORE_ERR_VALUE,   /* a member has a wrong type, length or value */
} cs_store_err_t;

#define CS_STORE_PATH_MAX 512
#define CS_STORE_ERRMSG_MAX 256

/* A context file, decoded. `err` of the load functions receives a sentence
 * naming the file, the line or member, and what is wrong. */
typedef struct {
    uint8_t master_secret[OSCORE_MAX_SECRET_LEN];
    size_t master_secret_len;
    uint8_t master_salt[OSCORE_MAX_SALT_LEN];
    size_t master_salt_len;
    uint8_t sender_id[OSCORE_MAX_ID_LEN];
    size_t sender_id_len;
    uint8_t recipient_id[OSCORE_MAX_ID_LEN];
    size_t recipient_id_len;
    uint8_t id_context[OSCORE_MAX_ID_CONTEXT_LEN];
    size_t id_context_len;
    bool has_id_context;
    bool send_kid_context;
    bool b2; /* rfc8613_b_2: Appendix B.2 re-derivation */
    int32_t aead_alg;
    int32_t hkdf_alg;
    uint16_t replay_window;
    uint32_t ssn_step;
    char state_file[CS_STORE_PATH_MAX]; /* "" for a volatile context */
} cs_context_file_t;

CS_MUST_CHECK cs_store_err_t cs_context_file_load(const char *path, cs_context_file_t *cf,
                                                  char *err, size_t err_len);
/* Text in either format; base_dir resolves a relative state_file. */
CS_MUST_CHECK cs_store_err_t cs_context_file_parse(const char *text, size_t len,
                                                   const char *base_dir, cs_context_file_t *cf,
                                                   char *err, size_t err_len);
/* Fills the derivation parameters (pointing into cf) from a context file. */
void cs_context_file_params(const cs_context_file_t *cf, oscore_params_t *p);
/* The reverse: p's parameters as a context file holds them (no state
 * file); false, and f untouched, if a field does not fit. */
bool cs_context_file_from_params(cs_context_file_t *f, const oscore_params_t *p);

/* ---- LwM2M Bootstrap-Server configuration (docs/lwm2m.md) ----
 * {"accounts": [{"endpoint": "dev1", "oscore": "bs-dev1.json",
 *                "server": {"uri": "coap://127.0.0.1:5683", "ssid": 101,
 *                           "lifetime": 300, "binding": "U",
 *                           "oscore": "server-dev1.json"}}]}
 * "oscore" of an account: the Bootstrap-Server's context with that client
 * (absent: the client keys itself with EDHOC, its credential's subject
 * being the endpoint name);
 * "oscore" of its server: the LwM2M server's context file for the client
 * (the server's view; bootstrap hands the client the mirror of it). Paths
 * are relative to the configuration file. An account may add
 * "access_control": [{"object": 3303, "instance": 0, "owner": 101,
 *                     "acl": {"101": 1, "0": 1}}]   (ACL: SSID -> rights,
 * 1 Read 2 Write 4 Execute 8 Delete 16 Create; "0" the default entry),
 * written as /2/0, /2/1... */
#define CS_BS_MAX_ACCOUNTS 16
#define CS_BS_NAME_MAX 64
#define CS_BS_URI_MAX 128
#define CS_BS_MAX_ACO 8

/* One LwM2M Server account the Bootstrap-Server writes (/0, /1 and /21). */
typedef struct {
    char uri[CS_BS_URI_MAX];
    uint16_t ssid;
    uint32_t lifetime;
    char binding[8];
    char oscore[CS_STORE_PATH_MAX]; /* "": the server account is NoSec */
    /* DTLS PSK toward a coaps:// server: identity and key, "" / 0 without */
    char psk_identity[CS_BS_NAME_MAX];
    uint8_t psk_key[64];
    size_t psk_key_len;
    /* or DTLS Certificate: PEM files of the client's certificate and
     * private key and of the server's certificate (or its CA's), "" without;
     * how that one matches: Certificate Usage 0..3 (default 3) */
    char certificate[CS_STORE_PATH_MAX], private_key[CS_STORE_PATH_MAX];
    char server_certificate[CS_STORE_PATH_MAX];
    uint8_t certificate_usage;
} cs_bs_server_t;

#define CS_BS_MAX_SERVERS 4

typedef struct {
    char endpoint[CS_BS_NAME_MAX];
    char oscore[CS_STORE_PATH_MAX];
    /* the client's DTLS PSK with the Bootstrap-Server (its identity being
     * the endpoint name), 0 without */
    uint8_t bootstrap_psk_key[64];
    size_t bootstrap_psk_key_len;
    /* "server": {...}, or "servers": [{...}, ...] with distinct SSIDs */
    cs_bs_server_t servers[CS_BS_MAX_SERVERS];
    size_t n_servers;
    lwm2m_aco_t aco[CS_BS_MAX_ACO]; /* Access Control instances to write */
    size_t n_aco;
} cs_bs_account_t;

typedef struct {
    cs_bs_account_t acc[CS_BS_MAX_ACCOUNTS];
    size_t n;
} cs_bs_config_t;

CS_MUST_CHECK cs_store_err_t cs_bs_config_parse(const char *text, size_t len, const char *base_dir,
                                                cs_bs_config_t *cfg, char *err, size_t err_len);
CS_MUST_CHECK cs_store_err_t cs_bs_config_load(const char *path, cs_bs_config_t *cfg, char *err,
                                               size_t err_len);

/* ---- state files ---- */

typedef struct {
    char path[CS_STORE_PATH_MAX];
    uint64_t ssn_bound;      /* no SSN below this may be used again */
    bool window_valid;       /* saved at a clean shutdown */
    oscore_replay_t window;
    bool fresh;              /* no file existed: a context never used */
    /* Appendix B.2 contexts: the ID Context the bound and window belong to */
    uint8_t id_context[OSCORE_MAX_ID_CONTEXT_LEN];
    size_t id_context_len;
    bool has_id_context;
} cs_state_file_t;

/* Reads the state file (absent: a fresh context) and prepares p: ssn_start,
 * replay_window_lost, and the persistence callback writing to this file
 * with `step`. For a B.2 context (p->b2) the ID Context last negotiated,
 * if any, replaces p's: the bound belongs to its keys. */
CS_MUST_CHECK cs_store_err_t cs_state_open(cs_state_file_t *sf, const char *path, uint32_t step,
                                           oscore_params_t *p, char *err, size_t err_len);
/* After oscore_ctx_derive: restores a cleanly saved window into ctx and
 * marks it stale on disk, since from now on only memory is current. */
CS_MUST_CHECK cs_store_err_t cs_state_attach(cs_state_file_t *sf, oscore_ctx_t *ctx);
/* Clean shutdown: records the current window and SSN as valid. */
CS_MUST_CHECK cs_store_err_t cs_state_close(cs_state_file_t *sf, const oscore_ctx_t *ctx);

/* ---- EDHOC key and credential files (docs/edhoc-files.md) ---- */

/* One authentication key: private part (absent in credential files), the
 * public key, and the credential with its ID_CRED: a CCS with {4: kid},
 * or an X.509 certificate (CRED_x its DER as a bstr) sent by value
 * ({33: x5chain}) or named by its hash ({34: x5t}). */
#define CS_EDHOC_CRED_MAX 1100
typedef struct {
    int32_t crv; /* CS_CRV_P256, CS_CRV_X25519, CS_CRV_ED25519 */
    uint8_t priv[CS_EC_MAX_PRIV];
    size_t priv_len;
    uint8_t pub[CS_EC_MAX_PUB];
    size_t pub_len;
    uint8_t kid[8];
    size_t kid_len;
    uint8_t id_cred[CS_EDHOC_CRED_MAX];
    size_t id_cred_len;
    uint8_t cred[CS_EDHOC_CRED_MAX];
    size_t cred_len;
    char subject[64]; /* the CCS's sub (2) claim, or the certificate's CN; "" when it has none */
} cs_edhoc_key_t;

/* Fresh key pair on crv with a CCS {2: subject, 8: {1: COSE_Key}}. */
CS_MUST_CHECK cs_store_err_t cs_edhoc_key_generate(const cs_crypto_t *c, int32_t crv,
                                                   const uint8_t *kid, size_t kid_len,
                                                   const char *subject, cs_edhoc_key_t *k);
/* Makes k's credential the X.509 certificate cert (DER, for k's key; its
 * CN is subject), sent by value ({33: cert}) or by reference ({34: [-15,
 * SHA-256/64 of cert]}, RFC 9360). */
CS_MUST_CHECK cs_store_err_t cs_edhoc_key_set_certificate(cs_edhoc_key_t *k, const cs_crypto_t *c,
                                                          const uint8_t *cert, size_t len, bool by_value,
                                                          const char *subject);
/* The certificate of an X.509 credential (k->cred is one bstr, its DER);
 * NULL for another credential (a CCS). */
const uint8_t *cs_edhoc_key_certificate(const cs_edhoc_key_t *k, size_t *len);
/* Writes the key file (with the private key, mode 0600) or, with
 * with_private false, the credential file to hand to peers. */
CS_MUST_CHECK cs_store_err_t cs_edhoc_key_save(const cs_edhoc_key_t *k, const char *path,
                                               bool with_private);
/* Reads either; priv_len is 0 for a credential file. */
CS_MUST_CHECK cs_store_err_t cs_edhoc_key_load(const char *path, cs_edhoc_key_t *k, char *err,
                                               size_t err_len);
/* The same from text already read (name: how errors call it). */
CS_MUST_CHECK cs_store_err_t cs_edhoc_key_parse(const char *text, size_t len, const char *name,
                                                cs_edhoc_key_t *k, char *err, size_t err_len);

/* Atomically replaces path with data (tmp + fsync + rename + dir fsync). */
CS_MUST_CHECK cs_store_err_t cs_file_write_atomic(const char *path, const void *data, size_t len);

/* ---- `coreseal proxy --routes FILE` (docs/proxies.md) ----
 * {"routes": [{"host": "dev1.example", "target": "coap://10.0.0.7"},
 *             {"path": "/sensors", "target": "coap+tcp://10.0.0.8:5683"}],
 *  "default": "coap://10.0.0.9"} */
#define CS_PROXY_MAX_ROUTES 64

typedef struct {
    char host[128];   /* by Uri-Host, or */
    char path[128];   /* by path prefix ("/sensors": /sensors and below) */
    char target[256]; /* coap://, coap+tcp://, coap+ws:// or coaps:// */
} cs_proxy_route_t;

typedef struct {
    cs_proxy_route_t route[CS_PROXY_MAX_ROUTES];
    size_t n;
    char default_target[256]; /* "" for none */
} cs_proxy_routes_t;

CS_MUST_CHECK cs_store_err_t cs_proxy_routes_parse(const char *text, size_t len, cs_proxy_routes_t *r, char *err,
                                                   size_t err_len);
CS_MUST_CHECK cs_store_err_t cs_proxy_routes_load(const char *path, cs_proxy_routes_t *r, char *err, size_t err_len);

#endif
