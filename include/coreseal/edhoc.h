/* coreseal/edhoc.h: Ephemeral Diffie-Hellman Over COSE (RFC 9528),
 * sans-I/O and without allocation.
 *
 * One session object per handshake and role. Each message is prepared
 * into a caller buffer or parsed from one. Received credentials are
 * resolved by the application between parsing and verifying (the lakers
 * shape): parse_message_2/3 hand out ID_CRED_x, the application looks the
 * credential up and decides whether it is authorized, and verify_message_2/3
 * take it. Every failure ends the session (errors are sticky for
 * handshakes); edhoc_prepare_error() then gives the EDHOC error message
 * the peer should receive (§6).
 *
 * Ephemeral keys come from the crypto door's keygen, so the RFC 9529
 * traces are reproduced by a test backend that returns the traces' keys;
 * production code has no hook for it. */
#ifndef CORESEAL_EDHOC_H
#define CORESEAL_EDHOC_H

#include "coreseal/crypto.h"
#include "coreseal/oscore.h"

typedef enum {
    EDHOC_OK = 0,
    EDHOC_ERR_BAD_ARG = CS_ERR_RANGE_EDHOC | 0x01,
    EDHOC_ERR_BAD_STATE,          /* call out of order, or after a failure */
    EDHOC_ERR_MALFORMED,          /* message not of the RFC's CBOR shape */
    EDHOC_ERR_UNSUPPORTED_METHOD, /* METHOD not allowed by this responder */
    EDHOC_ERR_WRONG_SUITE,        /* selected suite unsupported: error code 2 */
    EDHOC_ERR_UNSUPPORTED_SUITE,  /* suite the crypto backend cannot run */
    EDHOC_ERR_UNKNOWN_CREDENTIAL, /* set by the application: error code 3 */
    EDHOC_ERR_AUTH,               /* MAC or signature did not verify */
    EDHOC_ERR_DECRYPT,            /* message_3/message_4 AEAD failed */
    EDHOC_ERR_CRYPTO,             /* the crypto backend failed */
    EDHOC_ERR_NO_SPACE,           /* output or scratch buffer too small */
    EDHOC_ERR_CRITICAL_EAD,       /* critical EAD item not understood */
    EDHOC_ERR_BAD_KEY,            /* peer's public key rejected */
    EDHOC_ERR_PEER_UNSPECIFIED,   /* peer sent error code 1 */
    EDHOC_ERR_PEER_WRONG_SUITE,   /* peer sent error code 2 (see suites_r) */
    EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL, /* peer sent error code 3 */
} edhoc_err_t;

typedef enum {
    EDHOC_METHOD_SIG_SIG = 0,   /* initiator signs, responder signs */
    EDHOC_METHOD_SIG_STAT = 1,  /* initiator signs, responder static DH */
    EDHOC_METHOD_STAT_SIG = 2,  /* initiator static DH, responder signs */
    EDHOC_METHOD_STAT_STAT = 3, /* both static DH */
} edhoc_method_t;

#define EDHOC_MAX_CID 8
#define EDHOC_MAX_SUITES 9
#define EDHOC_HASH_MAX CS_HASH_MAX

/* A cipher suite (RFC 9528 §3.6, IANA registry). */
typedef struct {
    uint8_t id;
    int32_t aead, hash, ecdh_curve, sig_alg;
    uint8_t mac_len; /* EDHOC MAC length for static DH */
    int32_t app_aead, app_hash;
} edhoc_suite_t;

/* Suites 0-6, 24, 25; NULL for others. */
const edhoc_suite_t *edhoc_suite(uint8_t id);
/* True if the backend has every algorithm of the suite. */
bool edhoc_suite_supported(const cs_crypto_t *c, uint8_t id);

/* A credential: ID_CRED_x (a CBOR map such as {4: h'32'} or {34: [-15,
 * h'..']}), CRED_x as the CBOR data item that enters the transcript (a CCS
 * map, or an X.509 certificate wrapped as a bstr), and the authentication
 * public key it carries (Ed25519/X25519: 32 bytes; P-256: 65-byte SEC1
 * point, or 32-byte x for static DH). */
typedef struct {
    const uint8_t *id_cred;
    size_t id_cred_len;
    const uint8_t *cred;
    size_t cred_len;
    const uint8_t *pub;
    size_t pub_len;
} edhoc_cred_t;

typedef struct {
    edhoc_method_t method;
    /* Initiator: SUITES_I in order of preference, the selected one last.
     * Responder: the suites it accepts. */
    const uint8_t *suites;
    size_t n_suites;
    const uint8_t *cid; /* own connection identifier (C_I or C_R) */
    size_t cid_len;
    edhoc_cred_t own;   /* own credential */
    const uint8_t *priv; /* own authentication private key */
    size_t priv_len;
    /* EAD (§3.8): every received item of message msg (1..4) goes to
     * on_ead, which returns true if it understands the item (NULL: none
     * understood): EAD_1 when message_1 is processed, EAD_2 and EAD_3 once
     * their message verified, EAD_4 when it decrypted. An item not
     * understood whose label is negative (critical) ends the session with
     * EDHOC_ERR_CRITICAL_EAD (an error message, code 1, follows); others
     * are ignored. value is NULL for an item without one. */
    bool (*on_ead)(void *arg, int msg, int64_t label, const uint8_t *value, size_t value_len);
    void *ead_arg;
} edhoc_config_t;

typedef enum {
    EDHOC_STATE_START,
    EDHOC_STATE_WAIT_M2,      /* initiator sent message_1 */
    EDHOC_STATE_VERIFY_M2,    /* initiator parsed message_2 */
    EDHOC_STATE_M2_VERIFIED,
    EDHOC_STATE_GOT_M1,       /* responder processed message_1 */
    EDHOC_STATE_WAIT_M3,      /* responder sent message_2 */
    EDHOC_STATE_VERIFY_M3,
    EDHOC_STATE_COMPLETED,    /* PRK_out available */
    EDHOC_STATE_FAILED,
} edhoc_state_t;

typedef struct {
    const cs_crypto_t *crypto;
    edhoc_config_t cfg;
    bool initiator;
    edhoc_state_t state;
    edhoc_err_t err;
    const edhoc_suite_t *suite;
    edhoc_method_t method;
    uint8_t eph_priv[CS_EC_MAX_PRIV];
    uint8_t g_x[48], g_y[48];
    uint8_t c_i[EDHOC_MAX_CID], c_i_len, c_r[EDHOC_MAX_CID], c_r_len;
    uint8_t h_msg1[EDHOC_HASH_MAX];
    uint8_t th[EDHOC_HASH_MAX];
    uint8_t prk_2e[EDHOC_HASH_MAX], prk_3e2m[EDHOC_HASH_MAX], prk_4e3m[EDHOC_HASH_MAX];
    uint8_t prk_out[EDHOC_HASH_MAX], prk_exporter[EDHOC_HASH_MAX];
    /* the received plaintext, kept from parse to verify (caller memory) */
    uint8_t *scratch;
    size_t scratch_cap, pt_len;
    size_t idc_off, idc_len, sig_off, sig_len, ead_off, ead_len;
    uint8_t peer_id_cred[EDHOC_MAX_CID + 4]; /* {4: kid} rebuilt from compact form */
    size_t peer_id_cred_len;
    bool peer_id_cred_compact;
    uint8_t suites_r[EDHOC_MAX_SUITES], n_suites_r; /* from an error code 2 */
} edhoc_session_t;

/* Scratch: at least the largest PLAINTEXT_2/3 expected (ID_CRED, a
 * signature, EAD), plus the transcript input. 1024 bytes suit X.509 by
 * reference; certificates by value need their size more. */
CS_MUST_CHECK edhoc_err_t edhoc_initiator_init(edhoc_session_t *s, const cs_crypto_t *crypto,
                                               const edhoc_config_t *cfg, uint8_t *scratch,
                                               size_t scratch_len);
CS_MUST_CHECK edhoc_err_t edhoc_responder_init(edhoc_session_t *s, const cs_crypto_t *crypto,
                                               const edhoc_config_t *cfg, uint8_t *scratch,
                                               size_t scratch_len);

/* ead: an already encoded EAD sequence, or NULL/0. */
CS_MUST_CHECK edhoc_err_t edhoc_initiator_prepare_message_1(edhoc_session_t *s, const uint8_t *ead,
                                                            size_t ead_len, uint8_t *out,
                                                            size_t cap, size_t *len);
/* Responder: checks method, suites (EDHOC_ERR_WRONG_SUITE sets up error
 * code 2), G_X and C_I. *ead receives EAD_1 (may be empty). */
CS_MUST_CHECK edhoc_err_t edhoc_responder_process_message_1(edhoc_session_t *s, const uint8_t *msg,
                                                            size_t len, const uint8_t **ead,
                                                            size_t *ead_len);
/* Responder, between message_1 and message_2: choose C_R now that C_I is
 * known (§3.3.2: C_R must differ from it). Optional if the configured
 * identifier already differs. */
CS_MUST_CHECK edhoc_err_t edhoc_responder_set_cid(edhoc_session_t *s, const uint8_t *cid,
                                                  size_t len);
/* The peer's connection identifier (C_I at a responder, C_R at an
 * initiator once message_2 was parsed). */
const uint8_t *edhoc_peer_cid(const edhoc_session_t *s, size_t *len);
CS_MUST_CHECK edhoc_err_t edhoc_responder_prepare_message_2(edhoc_session_t *s, const uint8_t *ead,
                                                            size_t ead_len, uint8_t *out,
                                                            size_t cap, size_t *len);
/* Initiator: decrypts message_2 (or recognises an error message) and gives
 * ID_CRED_R as a CBOR map for the credential lookup, and EAD_2. */
CS_MUST_CHECK edhoc_err_t edhoc_initiator_parse_message_2(edhoc_session_t *s, const uint8_t *msg,
                                                          size_t len, const uint8_t **id_cred_r,
                                                          size_t *id_cred_r_len,
                                                          const uint8_t **ead, size_t *ead_len);
CS_MUST_CHECK edhoc_err_t edhoc_initiator_verify_message_2(edhoc_session_t *s,
                                                           const edhoc_cred_t *cred_r);
CS_MUST_CHECK edhoc_err_t edhoc_initiator_prepare_message_3(edhoc_session_t *s, const uint8_t *ead,
                                                            size_t ead_len, uint8_t *out,
                                                            size_t cap, size_t *len);
CS_MUST_CHECK edhoc_err_t edhoc_responder_parse_message_3(edhoc_session_t *s, const uint8_t *msg,
                                                          size_t len, const uint8_t **id_cred_i,
                                                          size_t *id_cred_i_len,
                                                          const uint8_t **ead, size_t *ead_len);
CS_MUST_CHECK edhoc_err_t edhoc_responder_verify_message_3(edhoc_session_t *s,
                                                           const edhoc_cred_t *cred_i);
/* Optional message_4 (§5.5). */
CS_MUST_CHECK edhoc_err_t edhoc_responder_prepare_message_4(edhoc_session_t *s, const uint8_t *ead,
                                                            size_t ead_len, uint8_t *out,
                                                            size_t cap, size_t *len);
CS_MUST_CHECK edhoc_err_t edhoc_initiator_process_message_4(edhoc_session_t *s, const uint8_t *msg,
                                                            size_t len, uint8_t *ead_buf,
                                                            size_t ead_cap, size_t *ead_len);

/* The application refuses the peer's credential: error code 3 follows. */
void edhoc_reject_credential(edhoc_session_t *s);
/* The EDHOC error message for the session's failure (§6): code 2 with
 * SUITES_R, code 3, or code 1 with a diagnostic. */
CS_MUST_CHECK edhoc_err_t edhoc_prepare_error(const edhoc_session_t *s, uint8_t *out, size_t cap,
                                              size_t *len);
/* An EDHOC error message outside a session (e.g. the answer to message_3):
 * EDHOC_ERR_PEER_{UNSPECIFIED,WRONG_SUITE,UNKNOWN_CREDENTIAL}, or
 * EDHOC_ERR_MALFORMED if it is not one. */
edhoc_err_t edhoc_decode_error(const uint8_t *msg, size_t len);
/* Initiator after EDHOC_ERR_PEER_WRONG_SUITE: the responder's suites. */
size_t edhoc_peer_suites(const edhoc_session_t *s, const uint8_t **suites);

/* EDHOC_Exporter (§4.2.1) and EDHOC_KeyUpdate (Appendix H). */
CS_MUST_CHECK edhoc_err_t edhoc_exporter(const edhoc_session_t *s, uint32_t label,
                                         const uint8_t *context, size_t context_len, uint8_t *out,
                                         size_t len);
CS_MUST_CHECK edhoc_err_t edhoc_key_update(edhoc_session_t *s, const uint8_t *context,
                                           size_t context_len);

/* OSCORE Security Context parameters (Appendix A.1): Master Secret and
 * Salt from the exporter, Sender/Recipient IDs from C_R/C_I. The byte
 * fields of *p point into *keys, which must outlive the derivation. */
typedef struct {
    uint8_t master_secret[32], master_salt[8];
    uint8_t sender_id[EDHOC_MAX_CID], recipient_id[EDHOC_MAX_CID];
} edhoc_oscore_keys_t;
CS_MUST_CHECK edhoc_err_t edhoc_export_oscore(const edhoc_session_t *s, edhoc_oscore_keys_t *keys,
                                              oscore_params_t *p);

/* ---- X.509 credentials (§3.5.2, RFC 9360) ----
 * CRED_x of a certificate is its DER wrapped as a bstr. */

#define EDHOC_X5CHAIN_MAX 4 /* certificates in one x5chain */

/* ID_CRED_x carrying the certificate, {33: x5chain} (one certificate as a
 * bstr, or an array of them, end-entity first): the chain is verified by
 * the backend (x509_verify) up to one of the anchors (DER); *cred then
 * holds ID_CRED_x, CRED_x (the end-entity's bstr inside id_cred) and its
 * public key, copied into pub (CS_EC_MAX_PUB bytes), with *crv its curve
 * and (cn not NULL) the certificate's subject CN, whom the application
 * authorizes. EDHOC_ERR_MALFORMED for another ID_CRED_x,
 * EDHOC_ERR_UNKNOWN_CREDENTIAL when the chain does not verify (reject the
 * credential: error code 3), EDHOC_ERR_CRYPTO for a backend without X.509. */
typedef struct {
    const uint8_t *const *der; /* trust anchors, DER */
    const size_t *len;
    size_t n;
} edhoc_anchors_t;
CS_MUST_CHECK edhoc_err_t edhoc_x5chain_credential(const cs_crypto_t *c, const uint8_t *id_cred, size_t len,
                                                   const edhoc_anchors_t *anchors, int32_t *crv, uint8_t *pub,
                                                   char *cn, size_t cn_cap, edhoc_cred_t *cred);
/* True if ID_CRED_x is {34: [alg, hash]} (x5t) naming the certificate
 * cert (DER): alg -16 SHA-256, or -15 SHA-256/64 (the first 8 bytes). */
bool edhoc_x5t_names(const cs_crypto_t *c, const uint8_t *id_cred, size_t len, const uint8_t *cert,
                     size_t cert_len);


/* ---- EDHOC over CoAP (Appendix A.2) ---- */

#define EDHOC_COAP_PATH ".well-known/edhoc"
#define EDHOC_CF_CBOR_SEQ 64     /* application/edhoc+cbor-seq */
#define EDHOC_CF_CID_CBOR_SEQ 65 /* application/cid-edhoc+cbor-seq */

/* Payload of the POST carrying message_1: CBOR true, then message_1. */
CS_MUST_CHECK edhoc_err_t edhoc_coap_wrap_message_1(const uint8_t *m1, size_t len, uint8_t *out,
                                                    size_t cap, size_t *out_len);
/* Payload of the POST carrying message_3: C_R, then message_3. */
CS_MUST_CHECK edhoc_err_t edhoc_coap_wrap_message_3(const edhoc_session_t *s, const uint8_t *m3,
                                                    size_t len, uint8_t *out, size_t cap,
                                                    size_t *out_len);
/* Server side: what a POST to /.well-known/edhoc carries. For message_1
 * *c_r_len is 0; otherwise c_r names the session the message belongs to. */
CS_MUST_CHECK edhoc_err_t edhoc_coap_unwrap(const uint8_t *payload, size_t len, uint8_t *c_r,
                                            uint8_t *c_r_len, const uint8_t **msg,
                                            size_t *msg_len);

/* ---- EDHOC + OSCORE combined request (RFC 9668) ---- */

/* Client: the OSCORE-protected request `prot` (Sender ID = C_R) becomes the
 * combined request: EDHOC option added, message_3 before the ciphertext. */
CS_MUST_CHECK edhoc_err_t edhoc_combine_request(const coap_msg_t *prot, const uint8_t *m3,
                                                size_t m3_len, uint8_t *out, size_t cap,
                                                size_t *len);
/* Server: a request with the EDHOC option split into message_3 and the
 * plain OSCORE request (EDHOC option removed) written to out. The kid of
 * the OSCORE option is C_R, which names the EDHOC session. */
CS_MUST_CHECK edhoc_err_t edhoc_split_combined_request(const coap_msg_t *req, const uint8_t **m3,
                                                       size_t *m3_len, uint8_t *out, size_t cap,
                                                       size_t *len);

/* Wipes the session's secrets. */
void edhoc_session_wipe(edhoc_session_t *s);

#endif
