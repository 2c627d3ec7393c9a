/* coreseal/oscore.h: Object Security for Constrained RESTful Environments
 * (RFC 8613), sans-I/O and without allocation.
 *
 * A security context (§3) is derived once from the shared parameters. A
 * client protects a request and keeps the returned binding until the
 * response arrives; a server unprotects the request, keeps the binding and
 * protects its response with it. Messages are parsed CoAP views in, whole
 * CoAP messages out, into caller buffers.
 *
 * Nonce safety (Appendix B.1.1): a context never uses a Sender Sequence
 * Number that the host has not first persisted a bound for, through the
 * save_ssn callback; after a reboot the host restarts the context at that
 * bound. A server that lost its replay window (B.1.2) verifies freshness with
 * the Echo option (RFC 9175) before accepting requests again.
 *
 * A forged or replayed message fails its call and never the context: an
 * attacker cannot cut a peer off. */
#ifndef CORESEAL_OSCORE_H
#define CORESEAL_OSCORE_H

#include "coreseal/coap.h"
#include "coreseal/crypto.h"

typedef enum {
    OSCORE_OK = 0,
    OSCORE_ERR_BAD_ARG = CS_ERR_RANGE_OSCORE | 0x01,
    OSCORE_ERR_BAD_STATE,          /* API used out of order */
    OSCORE_ERR_UNSUPPORTED_ALG,    /* AEAD or HKDF not offered by the crypto backend */
    OSCORE_ERR_ID_TOO_LONG,        /* Sender/Recipient ID longer than nonce - 6 (§3.3) */
    OSCORE_ERR_CRYPTO,             /* the crypto backend failed */
    OSCORE_ERR_NO_SPACE,           /* output buffer too small */
    OSCORE_ERR_BAD_OPTION,         /* OSCORE option value malformed (§6.1) -> 4.02 */
    OSCORE_ERR_NOT_PROTECTED,      /* message carries no OSCORE option */
    OSCORE_ERR_MISSING_KID,        /* request without kid or Partial IV -> 4.02 */
    OSCORE_ERR_UNKNOWN_CONTEXT,    /* kid / kid context match no context -> 4.01 */
    OSCORE_ERR_REPLAY,             /* replayed or too old Partial IV -> 4.01 */
    OSCORE_ERR_DECRYPT,            /* authentication failed -> 4.00 */
    OSCORE_ERR_MALFORMED_PLAINTEXT,/* decrypted content is not a CoAP body -> 4.00 */
    OSCORE_ERR_SSN_EXHAUSTED,      /* 2^40 - 1 sequence numbers used: re-key */
    OSCORE_ERR_STORAGE,            /* the host could not persist the SSN bound */
    OSCORE_ERR_ECHO_REQUIRED,      /* freshness unknown: answer 4.01 + Echo (B.1.2) */
    OSCORE_ERR_FORBIDDEN_OPTION,   /* option cannot be protected as given */
    OSCORE_ERR_ID_CONTEXT_TOO_LONG,/* B.2: joined ID Context over 32 bytes */
} oscore_err_t;

#define OSCORE_MAX_ID_LEN 7          /* 13-byte nonce - 6 */
#define OSCORE_MAX_ID_CONTEXT_LEN 32
#define OSCORE_MAX_SECRET_LEN 64
#define OSCORE_MAX_SALT_LEN 32
#define OSCORE_MAX_PIV_LEN 5
#define OSCORE_MAX_KEY_LEN CS_AEAD_MAX_KEY
#define OSCORE_MAX_NONCE_LEN CS_AEAD_MAX_NONCE
#define OSCORE_SSN_MAX ((1ull << 40) - 1)
#define OSCORE_DEFAULT_REPLAY_WINDOW 32
#define OSCORE_MAX_REPLAY_WINDOW 256
#define OSCORE_ECHO_LEN 8
#define OSCORE_B2_NONCE_LEN 8 /* R1, R2, R3 of Appendix B.2 */
#define OSCORE_B2_PENDING 4   /* R2 values a server keeps for runs not yet finished */
/* Bytes OSCORE adds to a message beyond its tag: option header and value,
 * payload marker, code. Used to size output buffers. */
#define OSCORE_OVERHEAD_MAX (1 + 2 + 1 + OSCORE_MAX_PIV_LEN + 1 + OSCORE_MAX_ID_CONTEXT_LEN + \
                             OSCORE_MAX_ID_LEN + 1 + 1 + CS_AEAD_MAX_TAG + 8)

struct oscore_ctx;

/* Host persistence (Appendix B.1.1). save_ssn must durably record that no
 * SSN below `bound` may be used again before returning OSCORE_OK; any
 * other return stops the context from sending.
 *
 * Several processes serving one context (a server cluster sharing the
 * context's state, e.g. in Redis) use the two shared hooks instead:
 * reserve_ssn hands this process `count` SSNs no process has had or will
 * get, starting at *first (never below what it had before); accept_piv
 * records an accepted request's Partial IV for every process at once and
 * answers OSCORE_ERR_REPLAY if any of them accepted it before or it is
 * older than the shared window allows. Both are called before the SSN is
 * used or the request is acted on; any other error fails the message. */
typedef struct {
    oscore_err_t (*save_ssn)(void *arg, const struct oscore_ctx *ctx, uint64_t bound);
    void *arg;
    uint32_t step; /* K: SSNs covered by one write (or reserved at once); 0 means 1 */
    oscore_err_t (*reserve_ssn)(void *arg, const struct oscore_ctx *ctx, uint64_t count,
                                uint64_t *first);
    oscore_err_t (*accept_piv)(void *arg, const struct oscore_ctx *ctx, uint64_t piv);
} oscore_persist_t;

/* Everything needed to derive a context (§3.2). Byte fields are copied. */
typedef struct {
    int32_t aead_alg;          /* COSE id; 0 means AES-CCM-16-64-128 */
    int32_t hkdf_alg;          /* COSE id of "HKDF SHA-256" (-10) or a hash; 0 means -10 */
    const uint8_t *master_secret;
    size_t master_secret_len;
    const uint8_t *master_salt; /* may be NULL: empty */
    size_t master_salt_len;
    const uint8_t *sender_id;
    size_t sender_id_len;
    const uint8_t *recipient_id;
    size_t recipient_id_len;
    const uint8_t *id_context; /* NULL: no ID Context (CBOR nil in the info) */
    size_t id_context_len;
    bool send_kid_context;     /* put the ID Context in requests (§5.1, C.6) */
    uint16_t replay_window;    /* 0 means 32; at most 256 */
    uint64_t ssn_start;        /* first SSN: the persisted bound after a reboot */
    uint64_t ssn_covered;      /* SSNs below this are already in the host's store (a block
                                * it reserved ahead, e.g. for many contexts in one write);
                                * 0: none beyond ssn_start */
    bool replay_window_lost;   /* rebooted without a stored window: use Echo */
    bool b2;                   /* Appendix B.2: new ID Contexts may be negotiated */
    oscore_persist_t persist;  /* save_ssn may be NULL for a volatile context */
} oscore_params_t;

typedef struct {
    uint64_t highest;  /* largest accepted Partial IV */
    uint64_t seen[OSCORE_MAX_REPLAY_WINDOW / 64]; /* bit i: highest - i was received */
    uint16_t size;
    bool empty;        /* nothing received yet */
    bool lost;         /* unknown after reboot: Echo first (B.1.2) */
} oscore_replay_t;

typedef struct oscore_ctx {
    const cs_crypto_t *crypto;
    int32_t aead_alg;
    int32_t hash_alg;
    uint8_t key_len, nonce_len, tag_len;
    uint8_t common_iv[OSCORE_MAX_NONCE_LEN];
    uint8_t sender_id[OSCORE_MAX_ID_LEN], sender_id_len;
    uint8_t recipient_id[OSCORE_MAX_ID_LEN], recipient_id_len;
    uint8_t sender_key[OSCORE_MAX_KEY_LEN];
    uint8_t recipient_key[OSCORE_MAX_KEY_LEN];
    uint8_t id_context[OSCORE_MAX_ID_CONTEXT_LEN];
    uint8_t id_context_len;
    bool has_id_context, send_kid_context;
    uint64_t ssn;       /* next Sender Sequence Number */
    uint64_t ssn_bound; /* SSNs below this are covered by the host's store */
    oscore_persist_t persist;
    oscore_replay_t replay;
    uint8_t echo[OSCORE_ECHO_LEN]; /* outstanding Echo challenge */
    bool echo_pending;
    bool b2;
    /* server: R2 values sent in response #1 and not yet returned (B.2) */
    uint8_t b2_r2[OSCORE_B2_PENDING][OSCORE_B2_NONCE_LEN];
    uint8_t b2_r2_count, b2_r2_next;
} oscore_ctx_t;

/* What a response needs from its request (§5.4, §8.3): the request's kid
 * and Partial IV for the external AAD, and its nonce. A client keeps one
 * per outstanding request; for observations it also tracks the
 * Notification Number (§7.4.1). */
typedef struct {
    uint8_t kid[OSCORE_MAX_ID_LEN], kid_len;
    uint8_t piv[OSCORE_MAX_PIV_LEN], piv_len;
    uint8_t nonce[OSCORE_MAX_NONCE_LEN];
    bool fresh;          /* server: the request passed the replay check */
    bool observe;        /* the request registered an observation */
    bool have_notification;
    uint64_t notification_number;
} oscore_binding_t;

/* Parsed OSCORE option value (§6.1); pointers into the option. */
typedef struct {
    const uint8_t *piv, *kid, *kid_context;
    size_t piv_len, kid_len, kid_context_len;
    bool has_kid, has_kid_context;
} oscore_option_t;

/* Derives sender/recipient keys and the Common IV (§3.2). */
CS_MUST_CHECK oscore_err_t oscore_ctx_derive(oscore_ctx_t *ctx, const cs_crypto_t *crypto,
                                             const oscore_params_t *params);
/* Wipes keys and state. */
void oscore_ctx_wipe(oscore_ctx_t *ctx);

/* Reads the OSCORE option of a message (for context lookup before
 * unprotecting). OSCORE_ERR_NOT_PROTECTED if there is none. */
CS_MUST_CHECK oscore_err_t oscore_msg_option(const coap_msg_t *msg, oscore_option_t *opt);
CS_MUST_CHECK oscore_err_t oscore_option_decode(oscore_option_t *opt, const uint8_t *val,
                                                size_t len);
/* True if this context receives with (kid, kid context). */
bool oscore_ctx_matches(const oscore_ctx_t *ctx, const oscore_option_t *opt);

/* Client (§8.1): protects req into out. binding receives what the response
 * will need; keep it until the exchange ends. A request with Proxy-Uri is
 * refused (OSCORE_ERR_FORBIDDEN_OPTION): split it first. */
CS_MUST_CHECK oscore_err_t oscore_protect_request(oscore_ctx_t *ctx, const coap_msg_t *req,
                                                  uint8_t *out, size_t cap, size_t *out_len,
                                                  oscore_binding_t *binding);
/* §4.1.3.3: rewrites a request with Proxy-Uri into Proxy-Scheme, Uri-Host
 * and Uri-Port (which stay outside for the proxy) and Uri-Path and
 * Uri-Query (which OSCORE then encrypts). out views the result in buf. A
 * request without Proxy-Uri is passed through. */
CS_MUST_CHECK oscore_err_t oscore_decompose_proxy_uri(const coap_msg_t *req, uint8_t *buf,
                                                      size_t cap, coap_msg_t *out);

/* Server (§8.2): verifies and decrypts req into out (a complete CoAP
 * message: outer header, inner code, options and payload). The replay
 * window changes only on success. On OSCORE_ERR_ECHO_REQUIRED the message
 * decrypted but its freshness is unknown: do not act on it; answer with
 * oscore_echo_challenge() in a 4.01 protected with the binding. */
CS_MUST_CHECK oscore_err_t oscore_unprotect_request(oscore_ctx_t *ctx, const coap_msg_t *req,
                                                    uint8_t *out, size_t cap, size_t *out_len,
                                                    oscore_binding_t *binding);
/* Server (§8.3): protects resp for the request of `binding`. The response
 * gets its own Partial IV when own_piv is set, when it is an Observe
 * notification, or when the request's freshness was not verified. */
CS_MUST_CHECK oscore_err_t oscore_protect_response(oscore_ctx_t *ctx,
                                                   const oscore_binding_t *binding,
                                                   const coap_msg_t *resp, bool own_piv,
                                                   uint8_t *out, size_t cap, size_t *out_len);
/* Client (§8.4): verifies and decrypts resp. For notifications the
 * binding's Notification Number moves forward; older ones are
 * OSCORE_ERR_REPLAY. */
CS_MUST_CHECK oscore_err_t oscore_unprotect_response(oscore_ctx_t *ctx, oscore_binding_t *binding,
                                                     const coap_msg_t *resp, uint8_t *out,
                                                     size_t cap, size_t *out_len);

/* Server: an Echo value to send in a 4.01 (B.1.2, RFC 9175 §2.4): a fresh
 * random one, or the outstanding one until a request has returned it. */
CS_MUST_CHECK oscore_err_t oscore_echo_challenge(oscore_ctx_t *ctx, uint8_t echo[OSCORE_ECHO_LEN]);

/* Server: accept no request until one returns an Echo challenge, as after
 * a reboot without the replay window (B.1.2). LwM2M asks this on the first
 * use of a context (Transport TS: Echo on the first Register and
 * Bootstrap-Request), so a recorded request cannot open a session. */
void oscore_ctx_require_echo(oscore_ctx_t *ctx);
/* Puts back a replay window saved at a clean shutdown (B.1.2): which
 * Partial IVs were seen. Its size stays the one the context's parameters
 * gave, and no Echo is needed. */
void oscore_ctx_restore_window(oscore_ctx_t *ctx, const oscore_replay_t *saved);

/* ---- Appendix B.2: a new context from the same Master Secret ----
 * When a peer has lost its mutable state (SSN, replay window), or on the
 * first use of provisioned parameters (LwM2M asks for it), the two peers
 * derive a fresh context with random ID Contexts exchanged in 'kid context':
 *
 *   client: request #1, ID Context ID1 = R1          (oscore_b2_start)
 *   server: verifies it, answers 4.01 with kid context R2, protected with
 *           ID Context R2||ID1                       (oscore_b2_answer_request1)
 *   client: verifies that, repeats its request with
 *           ID Context R2||R3                        (oscore_b2_accept_response1)
 *   server: R2 is one it sent: that context is now
 *           the context with this client             (oscore_b2_accept_request2)
 *
 * Every new context has keys never used before, so its SSNs start at 0 and
 * nothing needs to have been persisted. `base` is the host's parameters for
 * the peer (its ID Context is ignored); the context keeps its persistence
 * callback, whose host records the new ID Context with the next SSN bound.
 * Both endpoints need a good source of randomness (the crypto backend's). */

/* Client, step 1: ctx becomes a context with a random ID Context, which
 * requests carry in 'kid context'. */
CS_MUST_CHECK oscore_err_t oscore_b2_start(oscore_ctx_t *ctx, const cs_crypto_t *crypto,
                                           const oscore_params_t *base);
/* Client: true if resp (to a request protected with ctx) is a B.2
 * response #1, i.e. it carries a kid context and ctx allows B.2. */
bool oscore_b2_is_response1(const oscore_ctx_t *ctx, const coap_msg_t *resp);
/* Client, step 3: verifies response #1 for the request of `binding` and
 * makes ctx the third context; send the request again with it. out
 * receives the decrypted response #1 (the server's 4.01). */
CS_MUST_CHECK oscore_err_t oscore_b2_accept_response1(oscore_ctx_t *ctx,
                                                      const oscore_params_t *base,
                                                      const oscore_binding_t *binding,
                                                      const coap_msg_t *resp, uint8_t *out,
                                                      size_t cap, size_t *out_len);
/* Server: true if a request with this option names ctx's peer (kid) with
 * a kid context that is not ctx's ID Context, and ctx allows B.2. */
bool oscore_b2_applies(const oscore_ctx_t *ctx, const oscore_option_t *opt);
/* Server: true if the kid context starts with an R2 this context sent in a
 * response #1 (the request is a request #2). */
bool oscore_b2_is_request2(const oscore_ctx_t *ctx, const oscore_option_t *opt);
/* Server, step 2: verifies req with its kid context as ID Context and, if
 * it verifies, protects resp (the host's 4.01 for req: token, type, MID)
 * as response #1 into out. ctx keeps its keys and remembers R2. req is
 * not to be acted on. out doubles as scratch: cap must hold req too. */
CS_MUST_CHECK oscore_err_t oscore_b2_answer_request1(oscore_ctx_t *ctx, const oscore_params_t *base,
                                                     const coap_msg_t *req,
                                                     const coap_msg_t *resp, uint8_t *out,
                                                     size_t cap, size_t *out_len);
/* Server, step 4: verifies request #2 with its kid context R2||R3 as ID
 * Context; on success ctx becomes that context (earlier keys and pending
 * R2 values gone) and the request is unprotected into out exactly as by
 * oscore_unprotect_request: act on it and answer with the binding. */
CS_MUST_CHECK oscore_err_t oscore_b2_accept_request2(oscore_ctx_t *ctx, const oscore_params_t *base,
                                                     const coap_msg_t *req, uint8_t *out,
                                                     size_t cap, size_t *out_len,
                                                     oscore_binding_t *binding);

/* The CoAP response code RFC 8613 §8.2 prescribes for a failed request
 * (4.00, 4.01, 4.02), or 0 if the request is simply dropped; and its
 * diagnostic payload ("Replay detected", ...). */
uint8_t oscore_err_to_coap_code(oscore_err_t err);
const char *oscore_err_diagnostic(oscore_err_t err);

/* Option class (§4.1): true for options protected inside the ciphertext. */
bool oscore_option_is_inner(uint16_t num);
/* True for options that also stay outside for proxies (Observe, §4.1.3.5). */
bool oscore_option_is_outer(uint16_t num);

#endif
