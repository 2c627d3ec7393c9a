/* coreseal/lwm2m_bootstrap.h: the LwM2M Bootstrap interface (OMA LwM2M
 * Core TS 1.2 §6.1, Transport TS OSCORE-based security), both ends, sans-I/O
 * and without allocation.
 *
 * Client: lwm2m_bootstrap_request_options() builds POST /bs?ep=&pct=;
 * lwm2m_bs_handle() serves what the Bootstrap-Server then sends (Discover,
 * Read, Write, Delete, Finish) on the same lwm2m_store_t as Device
 * Management. After Finish, lwm2m_server_account() and
 * lwm2m_oscore_object_params() turn /0, /1 and /21 into the server's
 * address and the OSCORE context to register with.
 *
 * Bootstrap-Server: lwm2m_bootstrap_request_parse() reads the request;
 * lwm2m_bs_*_payload() build the TLV for Bootstrap-Write of a server
 * account: /21 (OSCORE), /0 (Security, resource 17 linking to /21) and /1. */
#ifndef CORESEAL_LWM2M_BOOTSTRAP_H
#define CORESEAL_LWM2M_BOOTSTRAP_H

#include "coreseal/lwm2m_model.h"
#include "coreseal/oscore.h"

/* ---------------------------------------------------------------- client */

/* POST /bs?ep=NAME&pct=FORMAT (pct: the Content-Format the client prefers
 * for Bootstrap-Write; 0 leaves it out). */
CS_MUST_CHECK lwm2m_err_t lwm2m_bootstrap_request_options(const char *endpoint, uint16_t pct,
                                                          coap_optlist_t *l);

/* GET /bspack?ep=NAME with Accept `format` (LwM2M 1.2 Bootstrap-Pack-
 * Request): the whole configuration in one response. */
CS_MUST_CHECK lwm2m_err_t lwm2m_bootstrap_pack_request_options(const char *endpoint, uint16_t format,
                                                               coap_optlist_t *l);
/* A Bootstrap-Pack response (SenML CBOR, SenML JSON or LwM2M CBOR) taken as
 * Bootstrap-Delete of "/" and Bootstrap-Write of its records, then the
 * Bootstrap-Finish check: result->finished and 2.04, or the refusing code
 * (a pack that does not check out changes nothing). */
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_apply_pack(const lwm2m_store_t *store, const coap_msg_t *resp,
                                              lwm2m_dm_result_t *result);

/* One request of the Bootstrap-Server:
 *   GET  / or /o with Accept 40   Bootstrap-Discover: </>;lwm2m=1.2, the
 *                                 objects and instances, ssid= and uri= on
 *                                 /0, ssid= on /1 and on the /21 instances
 *                                 server accounts use
 *   GET  /1..., /2...             Bootstrap-Read (4.01 on anything else:
 *                                 the Bootstrap-Server never reads keys)
 *   PUT  /o, /o/i, /o/i/r         Bootstrap-Write: any writable-or-not
 *                                 resource, instances created as needed
 *   DELETE /, /o, /o/i            Bootstrap-Delete, sparing the
 *                                 Bootstrap-Server account (/0 with
 *                                 resource 1 true and its /21) and /3
 *   POST /bs                      Bootstrap-Finish: 2.04 with
 *                                 result->finished when the configuration
 *                                 holds together, 4.06 otherwise
 * Anything else is 4.05 (4.04 for unknown objects). */
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_handle(const lwm2m_store_t *store, const coap_msg_t *req,
                                          uint8_t *payload, size_t cap,
                                          lwm2m_dm_result_t *result);

/* Security Mode, /0/x/2 (LwM2M Core, Security object). */
enum { LWM2M_SEC_PSK = 0, LWM2M_SEC_RPK = 1, LWM2M_SEC_CERT = 2, LWM2M_SEC_NOSEC = 3, LWM2M_SEC_EST = 4 };

/* A server account as bootstrap left it: /0 instance (not the
 * Bootstrap-Server), its /1 by Short Server ID, its /21 if resource 17 links
 * one, its DTLS credentials. uri and the keys point into the store's values. */
typedef struct {
    uint16_t security_inst, server_inst, oscore_inst;
    bool has_oscore;
    uint16_t ssid;
    const char *uri;
    size_t uri_len;
    uint32_t lifetime;
    uint8_t security_mode;       /* /0/x/2; NoSec when absent */
    /* DTLS credentials. PSK mode: identity and key. Certificate mode: the
     * client's certificate, the server's certificate (or its CA's) and the
     * client's private key, all DER. */
    const uint8_t *identity;          /* /0/x/3 "Public Key or Identity" */
    size_t identity_len;
    const uint8_t *server_public_key; /* /0/x/4 "Server Public Key" (Certificate mode) */
    size_t server_public_key_len;
    const uint8_t *secret_key;        /* /0/x/5 "Secret Key" */
    size_t secret_key_len;
    /* /0/x/15 "Certificate Usage", how server_public_key matches the
     * server's certificate (RFC 6698 §2.1.1: 0 CA constraint, 1 service
     * certificate constraint, 2 trust anchor assertion, 3 domain-issued
     * certificate); 3 when absent */
    uint8_t cert_usage;
} lwm2m_account_view_t;

/* The index-th server account (0, 1, ...), LWM2M_ERR_END past the last,
 * LWM2M_ERR_MALFORMED when an account is incomplete: no SSID, no /1 with
 * it, a resource 17 that links to no /21 instance, DTLS credentials
 * missing for its Security Mode, a Certificate Usage above 3. */
CS_MUST_CHECK lwm2m_err_t lwm2m_server_account(const lwm2m_store_t *store, size_t index,
                                               lwm2m_account_view_t *acc);
/* The Bootstrap-Server account (/0 with resource 1 true): its URI and /21. */
CS_MUST_CHECK lwm2m_err_t lwm2m_bootstrap_account(const lwm2m_store_t *store,
                                                  lwm2m_account_view_t *acc);

/* The OSCORE parameters of /21/inst for the client's side: Master Secret
 * (0), Sender ID (1), Recipient ID (2), AEAD (3, default AES-CCM-16-64-128),
 * HKDF (4, default -10 HKDF SHA-256; 5, as some 1.1 servers write it, means
 * the same), Master Salt (5), ID Context (6). Byte fields point into the
 * store's values; derive before the store changes. LWM2M_ERR_END when the
 * instance or a mandatory resource is missing, LWM2M_ERR_TYPE for an
 * algorithm number out of range (oscore_ctx_derive() judges the rest). */
CS_MUST_CHECK lwm2m_err_t lwm2m_oscore_object_params(const lwm2m_store_t *store, uint16_t inst,
                                                     oscore_params_t *params);

/* ---------------------------------------------------------------- server */

typedef struct {
    const char *endpoint;
    size_t endpoint_len;
    long pct;  /* -1 when absent */
    bool pack; /* GET /bspack: Bootstrap-Pack-Request */
} lwm2m_bootstrap_info_t;

/* POST /bs?ep=... or GET /bspack?ep=...: LWM2M_ERR_MALFORMED without ep or
 * for another request. */
CS_MUST_CHECK lwm2m_err_t lwm2m_bootstrap_request_parse(const coap_msg_t *req,
                                                        lwm2m_bootstrap_info_t *info);

/* What the Bootstrap-Server provisions for one LwM2M Server. */
typedef struct {
    const char *uri;     /* "coap://host:port" */
    uint16_t ssid;
    uint32_t lifetime;
    const char *binding; /* NULL: "U" */
    bool bootstrap;      /* a Bootstrap-Server account (/0 resource 1) */
    /* DTLS PSK (Security Mode 0): identity and key; NULL: NoSec (mode 3) */
    const uint8_t *psk_identity, *psk_key;
    size_t psk_identity_len, psk_key_len;
    /* or DTLS Certificate (mode 2) when cert is set: the client's
     * certificate and private key, the server's certificate (or its CA's),
     * all DER, and how that one matches (Certificate Usage, /0/x/15) */
    const uint8_t *cert, *private_key, *server_cert;
    size_t cert_len, private_key_len, server_cert_len;
    uint8_t cert_usage;
    /* Access Control instances (object 2) to write with the account */
    const lwm2m_aco_t *aco;
    size_t n_aco;
} lwm2m_account_t;

/* Bootstrap-Write payloads (TLV, the resources of one instance):
 * /0/inst with Security Mode 3 (NoSec: OSCORE protects, not DTLS), or 0
 * (PSK) with the identity in resource 3 and the key in 5, or 2
 * (Certificate) with its Certificate Usage but not the certificates and
 * key (together too long for one message: write each to /0/inst/3, 4 and
 * 5 as opaque, Content-Format 42), and,
 * when oscore_inst is not LWM2M_ID_NONE, resource 17 = 21:oscore_inst;
 * /1/inst with the SSID, lifetime and binding; /21/inst from params as
 * the client uses them (its Sender ID is params->sender_id). */
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_security_payload(const lwm2m_account_t *a, uint16_t oscore_inst,
                                                    uint8_t *out, size_t cap, size_t *len);
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_server_payload(const lwm2m_account_t *a, uint8_t *out,
                                                  size_t cap, size_t *len);
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_oscore_payload(const oscore_params_t *params, uint8_t *out,
                                                  size_t cap, size_t *len);
/* The account's Access Control instances as /2/0, /2/1... in one
 * object-level Bootstrap-Write (TLV). */
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_access_payload(const lwm2m_account_t *a, uint8_t *out, size_t cap,
                                                  size_t *len);
/* The same instances for n server accounts as one Bootstrap-Pack (SenML
 * CBOR): for each a[k], /21/inst[k] (when params and params[k] are given),
 * /0/inst[k] linking to it (a Certificate account's certificates and key
 * included) and /1/inst[k]; then a[0]'s Access Control instances /2/0... */
CS_MUST_CHECK lwm2m_err_t lwm2m_bs_pack(const lwm2m_account_t *a, const oscore_params_t *const *params,
                                        const uint16_t *inst, size_t n, uint8_t *out, size_t cap, size_t *len);

#endif
