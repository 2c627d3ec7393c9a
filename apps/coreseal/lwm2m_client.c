/* coreseal lwm2m client: a simulated device (objects 3 and 3303 with a
 * temperature that moves; 0, 1 and 21 in a memstore) on the library's
 * Bootstrap and Device Management handlers.
 *
 * With --bootstrap it asks the Bootstrap-Server for its configuration over
 * the factory OSCORE context, lets it write /21, /0 and /1, and on
 * Bootstrap-Finish registers with the server account it was given, over
 * the OSCORE context of the linked /21 instance. With --state DIR that
 * configuration and the context's SSN and replay window survive restarts,
 * so a reboot registers again without bootstrap and without reusing a
 * nonce. Register, Update and Bootstrap-Request are repeated once with
 * the Echo value a server asks for (first use of a context). */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/lwm2m_bootstrap.h"
#include "coreseal/lwm2m_memstore.h"
#include "lwm2m.h"

/* LwM2M Core: a client that gets no Bootstrap-Finish in this time fails. */
#define BOOTSTRAP_TIMEOUT_MS 247000

typedef enum { BOOTSTRAPPING, REGISTERING, REGISTERED, DEREGISTERING, GONE } phase_t;

#define CLIENT_BLOB 8192 /* bytes for long values (certificates) in the memstore */

/* The client's exchange with one server: each LwM2M server account's
 * registration, or while bootstrapping, the Bootstrap-Server's (srv[0]). */
#define CLIENT_MAX_SERVERS 4
typedef struct {
    phase_t phase;
    coap_peer_t peer;
    bool tcp;                /* a coap+tcp:// server (binding T) */
    uint16_t ssid;           /* its Short Server ID: whose rights Access Control (/2) checks */
    cs_dtls_config_t dtls;   /* a coaps:// server: the account's credentials, */
    char dtls_host[128], dtls_port[8]; /* and where, for a new handshake */
    oscore_ctx_t *oscore;    /* toward that server */
    uint8_t token[8];        /* the request in flight (Register, Update...) */
    oscore_binding_t bind;
    uint8_t pending[LWM2M_CLI_MSG]; /* its request, to repeat with Echo */
    size_t pending_len;
    bool echoed;
    int b2_runs;             /* RFC 8613 B.2 runs the server asked for on this request */
    node_location_t location;
    uint32_t lifetime;
    cs_time_ms_t next_update;
} server_link_t;

typedef struct {
    bool active;
    server_link_t *srv; /* who observes */
    coap_peer_t peer;
    uint8_t token[8], tkl;
    lwm2m_path_t path;
    oscore_binding_t bind;
    uint32_t seq;
    lwm2m_observation_t rep;  /* what the attributes decide on */
    cs_time_ms_t next_check;
    uint8_t last[256];        /* payload last sent, to see changes */
    size_t last_len;
    uint8_t req[256];         /* the observing request, asked again for each look */
    size_t req_len;
    cs_time_ms_t last_con;    /* the last confirmable notification (RFC 7641 §4.5) */
} observer_t;

typedef struct {
    node_t n;
    const char *ep;
    double temperature;
    lwm2m_memstore_t mem; /* objects 0, 1 and 21 */
    lwm2m_mem_record_t rec[64];
    uint8_t blob[CLIENT_BLOB]; /* values too long for a record: certificates */
    lwm2m_attr_entry_t attr_entries[32];
    lwm2m_attr_table_t attrs;
    lwm2m_store_t st;
    observer_t obs[8];
    const char *state_dir;
    lwm2m_path_t sends[4];
    size_t n_sends;
    server_link_t srv[CLIENT_MAX_SERVERS]; /* the Bootstrap-Server, then every server account */
    size_t n_srv;
    int exit_rc;       /* how the de-registrations went */
    bool b2;           /* --b2: B.2 on the first use of /21 contexts */
    cli_edhoc_t edhoc; /* --edhoc: key the server account with EDHOC */
    bool bootstrapping; /* --bootstrap: --edhoc keys the Bootstrap-Server's hop, /21 the server's */
    bool pack;         /* --bootstrap-pack: GET /bspack instead of POST /bs */
    bool queue;        /* --queue: listens only for awake_ms after it sends */
    cs_time_ms_t awake_ms, awake_until;
    fw_t fw;           /* Firmware Update, /5/0 */
} client_t;

/* ---------------------------------------------------------------- the device's store */

static bool in_memstore(uint16_t obj)
{
    return obj == 0 || obj == 1 || obj == 2 || obj == 21;
}

static lwm2m_err_t dev_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids,
                            size_t cap, size_t *n)
{
    client_t *c = arg;
    if (in_memstore(obj))
        return lwm2m_memstore_list(&c->mem, obj, inst, res, ids, cap, n);
    if (res == LWM2M_ID_NONE && (obj == 3 || obj == 5 || obj == 3303)) {
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    if (obj == 3 && (res == 6 || res == 11)) {
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    return LWM2M_ERR_END;
}

static void set_str(lwm2m_value_t *v, const char *s)
{
    v->type = LWM2M_TYPE_STRING;
    v->v.bytes.p = (const uint8_t *)s;
    v->v.bytes.n = strlen(s);
}

static lwm2m_err_t dev_read(void *arg, const lwm2m_path_t *p, lwm2m_value_t *v)
{
    client_t *c = arg;
    if (in_memstore(p->ids[0]))
        return lwm2m_memstore_read(&c->mem, p, v);
    if (p->ids[0] == 5)
        return fw_read(&c->fw, p->ids[2], v);
    memset(v, 0, sizeof *v);
    uint32_t key = (uint32_t)p->ids[0] << 16 | p->ids[2];
    switch (key) {
    case 3u << 16 | 0: set_str(v, "coreseal"); break;
    case 3u << 16 | 1: set_str(v, "simulated device"); break;
    case 3u << 16 | 2: set_str(v, c->ep); break;
    case 3u << 16 | 3: set_str(v, c->fw.version); break;
    case 3u << 16 | 6: v->type = LWM2M_TYPE_INTEGER; v->v.i = 1; break;
    case 3u << 16 | 11: v->type = LWM2M_TYPE_INTEGER; v->v.i = 0; break;
    case 3u << 16 | 16: set_str(v, "UQ"); break;
    case 3303u << 16 | 5700: v->type = LWM2M_TYPE_FLOAT; v->v.f = c->temperature; break;
    case 3303u << 16 | 5701: set_str(v, "Cel"); break;
    default: return LWM2M_ERR_END;
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_write(void *arg, const lwm2m_path_t *p, const lwm2m_value_t *v)
{
    client_t *c = arg;
    if (p->ids[0] == 5)
        return fw_write(&c->fw, &c->n, p->ids[2], v);
    return in_memstore(p->ids[0]) ? lwm2m_memstore_write(&c->mem, p, v) : LWM2M_OK;
}

static lwm2m_err_t dev_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    client_t *c = arg;
    (void)a;
    (void)n;
    if (p->ids[0] == 5 && p->ids[2] == 2)
        return fw_execute(&c->fw, &c->n.sec.crypto);
    if (p->ids[0] == 3 && p->ids[2] == 4) {
        printf("client: reboot requested\n");
        fflush(stdout);
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_create(void *arg, uint16_t obj, uint16_t inst)
{
    client_t *c = arg;
    return in_memstore(obj) ? lwm2m_memstore_create(&c->mem, obj, inst) : LWM2M_ERR_BAD_PATH;
}

static lwm2m_err_t dev_delete(void *arg, uint16_t obj, uint16_t inst)
{
    client_t *c = arg;
    return in_memstore(obj) ? lwm2m_memstore_delete_instance(&c->mem, obj, inst) : LWM2M_ERR_BAD_PATH;
}

static void put(client_t *c, uint16_t obj, uint16_t inst, uint16_t res, lwm2m_value_t v)
{
    lwm2m_path_t p = {{obj, inst, res}, 3};
    if (lwm2m_memstore_create(&c->mem, obj, inst) != LWM2M_OK || lwm2m_memstore_write(&c->mem, &p, &v) != LWM2M_OK)
        fprintf(stderr, "coreseal %s: cannot store /%u/%u/%u\n", c->n.sub, obj, inst, res);
}

static lwm2m_value_t text(const char *s)
{
    lwm2m_value_t v;
    set_str(&v, s);
    return v;
}

static lwm2m_value_t bytes(const uint8_t *p, size_t n)
{
    lwm2m_value_t v = {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {p, n}};
    return v;
}

#define INT(x) ((lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = (x)})
#define BOOL(x) ((lwm2m_value_t){.type = LWM2M_TYPE_BOOLEAN, .v.b = (x)})

/* --cert, --key, and --ca or --server-cert: a Certificate mode account */
typedef struct {
    const char *cert, *key, *server;
    uint8_t usage; /* /0/x/15: 2, server is the CA (--ca); 3, the server's own certificate */
} cert_files_t;

/* The PEM files as DER in the Security object: the client's certificate
 * (/0/0/3), the server's or its CA's (/0/0/4), the private key (/0/0/5). */
static int factory_certificates(client_t *c, const cert_files_t *certs)
{
    static const uint16_t res[3] = {3, 4, 5};
    const char *files[3] = {certs->cert, certs->server, certs->key};
    uint8_t der[4096];
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < 3 && rc == CLI_EXIT_OK; i++) {
        size_t n;
        if ((rc = cli_pem_file_to_der(files[i], res[i] == 5, der, sizeof der, &n, c->n.sub)) == CLI_EXIT_OK)
            put(c, 0, 0, res[i], bytes(der, n));
    }
    put(c, 0, 0, 15, INT(certs->usage));
    cs_wipe(der, sizeof der);
    return rc;
}

/* /0/0's Security Mode and DTLS credentials: PSK, Certificate or none. */
static int factory_security(client_t *c, const cs_dtls_psk_t *psk, const cert_files_t *certs)
{
    put(c, 0, 0, 2, INT(psk ? LWM2M_SEC_PSK : certs ? LWM2M_SEC_CERT : LWM2M_SEC_NOSEC));
    if (psk) { /* DTLS PSK: identity (/0/0/3) and key (/0/0/5) */
        put(c, 0, 0, 3, bytes((const uint8_t *)psk->identity, strlen(psk->identity)));
        put(c, 0, 0, 5, bytes(psk->key, psk->key_len));
    }
    return certs ? factory_certificates(c, certs) : CLI_EXIT_OK;
}

/* Factory configuration: a server account (/0/0 + /1/0) whose OSCORE
 * context comes from a file, or a bootstrap account (/0/0 + /21/0). */
static int factory_server(client_t *c, const char *uri, uint32_t lifetime, const cs_dtls_psk_t *psk,
                          const cert_files_t *certs)
{
    put(c, 0, 0, 0, text(uri));
    put(c, 0, 0, 1, BOOL(false));
    int rc = factory_security(c, psk, certs);
    put(c, 0, 0, 10, INT(1));
    put(c, 1, 0, 0, INT(1));
    put(c, 1, 0, 1, INT(lifetime));
    put(c, 1, 0, 6, BOOL(false));
    put(c, 1, 0, 7, text("U"));
    return rc;
}

static int factory_bootstrap(client_t *c, const char *uri, const cs_context_file_t *f, const cs_dtls_psk_t *psk,
                             const cert_files_t *certs)
{
    put(c, 0, 0, 0, text(uri));
    put(c, 0, 0, 1, BOOL(true));
    int rc = factory_security(c, psk, certs);
    if (!f)
        return rc; /* keyed by EDHOC or DTLS, not by a /21 instance */
    put(c, 0, 0, 17, (lwm2m_value_t){.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 0}});
    put(c, 21, 0, 0, bytes(f->master_secret, f->master_secret_len));
    put(c, 21, 0, 1, bytes(f->sender_id, f->sender_id_len));
    put(c, 21, 0, 2, bytes(f->recipient_id, f->recipient_id_len));
    if (f->aead_alg)
        put(c, 21, 0, 3, INT(f->aead_alg));
    if (f->master_salt_len)
        put(c, 21, 0, 5, bytes(f->master_salt, f->master_salt_len));
    if (f->has_id_context)
        put(c, 21, 0, 6, bytes(f->id_context, f->id_context_len));
    return rc;
}

/* ---------------------------------------------------------------- state directory */

static void state_path(const client_t *c, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", c->state_dir, name);
}

static bool save_objects(client_t *c)
{
    static uint8_t buf[64 * (LWM2M_MEM_VALUE_MAX + 24) + CLIENT_BLOB];
    char path[CS_STORE_PATH_MAX];
    size_t len;
    if (!c->state_dir)
        return true;
    state_path(c, "objects.cbor", path, sizeof path);
    return lwm2m_memstore_save(&c->mem, buf, sizeof buf, &len) == LWM2M_OK &&
           cs_file_write_atomic(path, buf, len) == CS_STORE_OK;
}

/* The objects a previous run kept; false when there are none. */
static bool load_objects(client_t *c)
{
    static uint8_t buf[64 * (LWM2M_MEM_VALUE_MAX + 24) + CLIENT_BLOB];
    char path[CS_STORE_PATH_MAX];
    if (!c->state_dir)
        return false;
    state_path(c, "objects.cbor", path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (lwm2m_memstore_load(&c->mem, buf, len) != LWM2M_OK) {
        fprintf(stderr, "coreseal %s: %s is damaged; starting from the factory configuration\n", c->n.sub, path);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the main exchange */

static bool send_main(client_t *c, server_link_t *s, uint8_t code, coap_optlist_t *l, const uint8_t *pl, size_t n)
{
    if (!node_request(&c->n, s->peer, s->oscore, code, l, pl, n, false, s->token, &s->bind))
        return false;
    c->awake_until = cs_net_now() + c->awake_ms; /* queue mode: listening again */
    memcpy(s->pending, c->n.last, c->n.last_len);
    s->pending_len = c->n.last_len;
    s->echoed = false;
    s->b2_runs = 0;
    return true;
}

/* Bootstrap-Request (POST /bs), or with --bootstrap-pack the
 * Bootstrap-Pack-Request (GET /bspack) whose answer is the configuration. */
static bool send_bootstrap_request(client_t *c, server_link_t *s)
{
    uint8_t arena[128];
    coap_opt_t list[8];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    if (c->pack)
        return lwm2m_bootstrap_pack_request_options(c->ep, LWM2M_CF_SENML_CBOR, &l) == LWM2M_OK &&
               send_main(c, s, COAP_GET, &l, NULL, 0);
    return lwm2m_bootstrap_request_options(c->ep, LWM2M_CF_TLV, &l) == LWM2M_OK &&
           send_main(c, s, COAP_POST, &l, NULL, 0);
}

static bool send_register(client_t *c, server_link_t *s)
{
    uint8_t arena[256], links[512];
    coap_opt_t list[16];
    coap_optlist_t l;
    size_t ln;
    const uint16_t objs[] = {1, 2, 3, 5, 3303}; /* never 0 or 21 */
    lwm2m_register_t reg = {.endpoint = c->ep, .lifetime = s->lifetime,
                            .binding = s->tcp ? (c->queue ? "TQ" : "T") : c->queue ? "UQ" : "U",
                            .queue_mode = c->queue};
    coap_optlist_init(&l, list, 16, arena, sizeof arena);
    if (lwm2m_register_options(&reg, &l) != LWM2M_OK ||
        lwm2m_register_payload(&c->st, objs, sizeof objs / sizeof objs[0], links, sizeof links, &ln) != LWM2M_OK)
        return false;
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_LINK);
    return send_main(c, s, COAP_POST, &l, links, ln);
}

/* Update (POST) or De-register (DELETE) of the location the server gave. */
static bool send_registration(client_t *c, server_link_t *s, uint8_t code)
{
    uint8_t arena[96];
    coap_opt_t list[8];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    node_location_add(&s->location, &l);
    return send_main(c, s, code, &l, NULL, 0);
}

/* One POST /.well-known/edhoc to the server and its answer, waited for
 * here: nothing else runs before the context exists (cli_edhoc_post_fn). */
static int edhoc_post(void *arg, const uint8_t *payload, size_t len, coap_msg_t *resp)
{
    client_t *c = arg;
    static uint8_t copy[LWM2M_CLI_MSG];
    uint8_t arena[64], token[8];
    coap_opt_t list[4];
    coap_optlist_t l;
    oscore_binding_t bind;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, ".well-known", 11);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, "edhoc", 5);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, EDHOC_CF_CID_CBOR_SEQ);
    if (!node_request(&c->n, c->srv[0].peer, NULL, COAP_POST, &l, payload, len, false, token, &bind))
        return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "cannot send the EDHOC request");
    while (!cli_stopping) {
        node_flush(&c->n);
        if (cs_udp_receive(&c->n.udp, 50) != CS_NET_OK)
            break;
        cs_time_ms_t now = cs_net_now();
        coap_ep_event_t ev;
        for (size_t i = 0; i < c->n.udp.n_in; i++)
            if (coap_ep_input(&c->n.ep, c->n.udp.in_peer[i], c->n.udp.in[i], c->n.udp.in_len[i], now, &ev) == COAP_OK &&
                ev.type == COAP_EV_RESPONSE && ev.token_len == 8 && !memcmp(ev.token, token, 8)) {
                size_t n = c->n.udp.in_len[i]; /* kept past the next receive */
                memcpy(copy, c->n.udp.in[i], n);
                return coap_msg_parse(resp, copy, n) == COAP_OK ? CLI_EXIT_OK
                                                                : cli_fail(c->n.sub, CLI_EXIT_SECURITY, "malformed EDHOC answer");
            }
        while (coap_ep_tick(&c->n.ep, now, &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            if (ev.type == COAP_EV_TIMEOUT && ev.token_len == 8 && !memcmp(ev.token, token, 8))
                return cli_fail(c->n.sub, CLI_EXIT_TIMEOUT, "the LwM2M server does not answer EDHOC");
    }
    return cli_fail(c->n.sub, CLI_EXIT_NETWORK, "EDHOC interrupted");
}

/* EDHOC with the (Bootstrap-)Server of srv[0]: a fresh OSCORE context for
 * this run. */
static int edhoc_context(client_t *c)
{
    static cli_edhoc_result_t x;
    cli_context_t *cc;
    int rc = cli_edhoc_initiate(&c->edhoc, &c->n.sec.crypto, c->n.sub, c->n.verbose, edhoc_post, c, NULL, 0, NULL,
                                &x);
    if (rc == CLI_EXIT_OK &&
        (rc = cli_security_add_params(&c->n.sec, &x.params, x.peer->id_cred, x.peer->id_cred_len, c->n.sub, &cc)) ==
            CLI_EXIT_OK) {
        c->srv[0].oscore = &cc->ctx;
        printf("client: EDHOC with the %sserver completed: OSCORE context ready\n", c->bootstrapping ? "bootstrap " : "");
        fflush(stdout);
    }
    cs_wipe(&x.keys, sizeof x.keys);
    return rc;
}

/* The state file of a context is named after its keys (a hash of Master
 * Secret, Salt, IDs and ID Context), not after the /21 instance that held
 * them: a bootstrap that hands out the same keys again finds the SSN bound
 * of their last use, so no (key, nonce) pair comes round twice. */
static bool context_state_file(client_t *c, const oscore_params_t *p, char *file, size_t cap)
{
    uint8_t in[OSCORE_MAX_SECRET_LEN + OSCORE_MAX_SALT_LEN + 2 * OSCORE_MAX_ID_LEN + OSCORE_MAX_ID_CONTEXT_LEN + 5],
        h[32];
    size_t n = 0;
    const struct {
        const uint8_t *p;
        size_t n;
    } parts[] = {{p->master_secret, p->master_secret_len}, {p->master_salt, p->master_salt_len},
                 {p->sender_id, p->sender_id_len}, {p->recipient_id, p->recipient_id_len},
                 {p->id_context, p->id_context ? p->id_context_len : 0}};
    for (size_t i = 0; i < 5; i++) {
        in[n++] = (uint8_t)parts[i].n; /* lengths keep the parts apart */
        if (parts[i].n)
            memcpy(in + n, parts[i].p, parts[i].n);
        n += parts[i].n;
    }
    bool ok = c->n.sec.crypto.hash(c->n.sec.crypto.state, CS_HASH_SHA256, in, n, h) == CS_CRYPTO_OK;
    cs_wipe(in, sizeof in);
    snprintf(file, cap, "oscore-%02x%02x%02x%02x%02x%02x%02x%02x.state", h[0], h[1], h[2], h[3], h[4], h[5], h[6],
             h[7]);
    return ok;
}

/* A DTLS session with the account's server (or Bootstrap-Server), with
 * the account's credentials: PSK (/0/x/3 and 5) or Certificate (/0/x/3,
 * 4, 5 and 15, DER). */
static int connect_dtls(client_t *c, server_link_t *s, const lwm2m_account_view_t *acc, const char *host,
                        const char *port)
{
    cs_dtls_config_t *dtls = &s->dtls;
    char err[256];
    memset(dtls, 0, sizeof *dtls);
    if (acc->security_mode == LWM2M_SEC_CERT) { /* DER, read by the connect that opens DTLS */
        dtls->cert_der = acc->identity, dtls->cert_der_len = acc->identity_len;
        dtls->key_der = acc->secret_key, dtls->key_der_len = acc->secret_key_len;
        dtls->peer_der = acc->server_public_key, dtls->peer_der_len = acc->server_public_key_len;
        dtls->peer_usage = acc->cert_usage;
    } else if (acc->security_mode != LWM2M_SEC_PSK || acc->identity_len >= sizeof dtls->psks[0].identity ||
               acc->secret_key_len > sizeof dtls->psks[0].key) {
        return cli_fail(c->n.sub, CLI_EXIT_CONFIG,
                        "account /0/%u: this client reaches a coaps:// server in PSK mode (/0/x/2 = 0) with an "
                        "identity (/0/x/3) and a key (/0/x/5) of at most 64 bytes, or in Certificate mode (2)",
                        acc->security_inst);
    } else {
        dtls->n_psks = 1;
        memcpy(dtls->psks[0].identity, acc->identity, acc->identity_len);
        memcpy(dtls->psks[0].key, acc->secret_key, acc->secret_key_len);
        dtls->psks[0].key_len = acc->secret_key_len;
    }
    snprintf(s->dtls_host, sizeof s->dtls_host, "%s", host);
    snprintf(s->dtls_port, sizeof s->dtls_port, "%s", port);
    if (cs_dtls_connect(&c->n.udp, host, port, dtls, &s->peer, err, sizeof err) != CS_NET_OK)
        return cli_fail(c->n.sub, CLI_EXIT_NETWORK, "%s", err);
    return CLI_EXIT_OK;
}

/* The Bootstrap-Request to the factory's Bootstrap-Server account: in its
 * DTLS session for a coaps:// one, protected with ctx (/21) or the context
 * EDHOC gives, or both. */
static int start_bootstrap(client_t *c, oscore_ctx_t *ctx)
{
    lwm2m_account_view_t acc;
    char host[128], port[8];
    int rc = CLI_EXIT_OK;
    server_link_t *s = &c->srv[0];
    c->n_srv = 1;
    memset(s, 0, sizeof *s);
    s->phase = BOOTSTRAPPING;
    s->peer = 0; /* the address node_open resolved */
    s->oscore = ctx;
    if (lwm2m_bootstrap_account(&c->st, &acc) == LWM2M_OK && acc.uri_len > 8 && !memcmp(acc.uri, "coaps://", 8) &&
        node_uri_host_port(acc.uri, acc.uri_len, host, sizeof host, port, sizeof port))
        rc = connect_dtls(c, s, &acc, host, port);
    if (rc == CLI_EXIT_OK && c->edhoc.enabled) /* keys for the bootstrap server first */
        rc = edhoc_context(c);
    if (rc == CLI_EXIT_OK && !send_bootstrap_request(c, s))
        rc = cli_fail(c->n.sub, CLI_EXIT_SECURITY, "cannot send the Bootstrap-Request");
    return rc;
}

/* One server account that bootstrap (or the factory) left: its address,
 * its OSCORE context when /21 holds one (or, with --edhoc, the one EDHOC
 * gives; ctx: the --oscore file's), then Register. */
static int register_account(client_t *c, server_link_t *s, const lwm2m_account_view_t *acc, oscore_ctx_t *ctx)
{
    char host[128], port[8], err[256] = "";
    lwm2m_err_t e;
    if (!acc->uri || !node_uri_host_port(acc->uri, acc->uri_len, host, sizeof host, port, sizeof port))
        return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "server account /0/%u: URI is not coap[s|+tcp]://HOST[:PORT]",
                        acc->security_inst);
    s->tcp = acc->uri_len > 11 && !memcmp(acc->uri, "coap+tcp://", 11);
    s->ssid = acc->ssid;
    if (acc->uri_len > 8 && !memcmp(acc->uri, "coaps://", 8)) {
        int rc = connect_dtls(c, s, acc, host, port);
        if (rc != CLI_EXIT_OK)
            return rc;
    } else if (s->tcp) { /* RFC 8323; LwM2M 1.2's TCP binding */
        if (cs_tcp_connect(&c->n.udp, host, port, &s->peer, err, sizeof err) != CS_NET_OK)
            return cli_fail(c->n.sub, CLI_EXIT_NETWORK, "%s", err);
    } else if (cs_udp_resolve_peer(&c->n.udp, host, port, &s->peer, err, sizeof err) != CS_NET_OK) {
        return cli_fail(c->n.sub, CLI_EXIT_NETWORK, "%s", err);
    }
    s->oscore = ctx;
    if (c->edhoc.enabled && !c->bootstrapping) { /* --server with --edhoc */
        int rc = edhoc_context(c);
        if (rc != CLI_EXIT_OK)
            return rc;
    } else if (acc->has_oscore) {
        oscore_params_t p;
        char name[32], spath[CS_STORE_PATH_MAX], file[40];
        cli_context_t *cc;
        if ((e = lwm2m_oscore_object_params(&c->st, acc->oscore_inst, &p)) != LWM2M_OK)
            return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "/21/%u: %s", acc->oscore_inst, coreseal_strerror(e));
        snprintf(name, sizeof name, "/21/%u", acc->oscore_inst);
        if (c->state_dir && !context_state_file(c, &p, file, sizeof file))
            return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "cannot name the state file of /21/%u", acc->oscore_inst);
        if (c->state_dir)
            state_path(c, file, spath, sizeof spath);
        p.b2 = c->b2;
        int rc = cli_security_add_derived(&c->n.sec, &p, name, c->state_dir ? spath : NULL, c->n.sub, &cc);
        if (rc == CLI_EXIT_OK)
            rc = cli_b2_start_if_new(&c->n.sec, cc, c->n.verbose, c->n.sub);
        if (rc != CLI_EXIT_OK)
            return rc;
        s->oscore = &cc->ctx;
    }
    s->lifetime = acc->lifetime ? acc->lifetime : 86400;
    s->phase = REGISTERING;
    if (!send_register(c, s))
        return cli_fail(c->n.sub, CLI_EXIT_SECURITY, "cannot send the Register request");
    return CLI_EXIT_OK;
}

/* Register with every server account (LwM2M Core 6.2: a client registers
 * with each LwM2M Server it has an account for); factory_ctx, the --oscore
 * file's context, belongs to the factory's one. */
static int start_registration(client_t *c, oscore_ctx_t *factory_ctx)
{
    lwm2m_account_view_t acc;
    lwm2m_err_t e;
    int rc = CLI_EXIT_OK;
    memset(c->srv, 0, sizeof c->srv);
    c->n_srv = 0;
    while (rc == CLI_EXIT_OK && (e = lwm2m_server_account(&c->st, c->n_srv, &acc)) == LWM2M_OK) {
        if (c->n_srv == CLIENT_MAX_SERVERS)
            return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "more than %d server accounts", CLIENT_MAX_SERVERS);
        server_link_t *s = &c->srv[c->n_srv++];
        rc = register_account(c, s, &acc, c->n_srv == 1 ? factory_ctx : NULL);
    }
    if (rc == CLI_EXIT_OK && e != LWM2M_ERR_END)
        return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "server account %zu: %s", c->n_srv, coreseal_strerror(e));
    if (rc == CLI_EXIT_OK && c->n_srv == 0)
        return cli_fail(c->n.sub, CLI_EXIT_CONFIG, "no usable LwM2M server account: %s", coreseal_strerror(e));
    return rc;
}

/* Bootstrap is through: keep the configuration, then register. */
static int bootstrapped(client_t *c)
{
    printf("client: bootstrap finished\n");
    fflush(stdout);
    if (!save_objects(c))
        return cli_fail(c->n.sub, CLI_EXIT_STORAGE, "cannot save the configuration in %s", c->state_dir);
    cs_dtls_end(&c->n.udp); /* the Bootstrap-Server's session and credentials, if any */
    return start_registration(c, NULL); /* the bootstrap context is not the server's */
}

/* ---------------------------------------------------------------- observations */

/* What decides the observation's notifications now: its attributes, and
 * the resource's value for the numeric ones (gt/lt/st; NONE above a
 * resource). */
static void observer_view(const lwm2m_store_t *st, const observer_t *o, lwm2m_attrs_t *a, lwm2m_value_t *v)
{
    lwm2m_attr_effective(st->attrs, &o->path, NULL, a);
    if (o->path.len < 3 || st->read(st->arg, &o->path, v) != LWM2M_OK)
        v->type = LWM2M_TYPE_NONE;
}

/* Records a notification (or the Observe response) as sent: the value the
 * payload was made from, so later changes are measured against it. */
static void observer_sent(observer_t *o, const lwm2m_attrs_t *a, const lwm2m_value_t *v, const uint8_t *pl,
                          size_t n, cs_time_ms_t now)
{
    lwm2m_notify_sent(&o->rep, v, now);
    o->last_len = n < sizeof o->last ? n : sizeof o->last;
    memcpy(o->last, pl, o->last_len);
    o->next_check = lwm2m_notify_next(a, &o->rep);
}

/* The request again (token, options, payload), to re-run it later: a GET
 * with its Accept, or Observe-Composite's FETCH with its list of paths. */
static bool keep_request(const coap_msg_t *req, uint8_t *out, size_t cap, size_t *len)
{
    coap_builder_t b;
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_builder_init(&b, out, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, req->code, 0, req->token, req->token_len);
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o))
        coap_builder_add_option(&b, o.num, o.val, o.len);
    coap_builder_set_payload(&b, req->payload, req->payload_len);
    return coap_builder_finish(&b, len) == COAP_OK;
}

/* Starts or cancels an observation (Observe 0 or 1 on a GET, or on a FETCH
 * of the root: Observe-Composite) after the request was answered. */
static void observe(client_t *c, server_link_t *s, const coap_ep_event_t *ev, const coap_msg_t *req,
                    const oscore_binding_t *bind, uint32_t obsv, const uint8_t *pl, size_t pl_len, coap_optlist_t *l)
{
    for (int i = 0; i < 8; i++) {
        observer_t *o = &c->obs[i];
        if (obsv != 0 && o->active && o->tkl == req->token_len && !memcmp(o->token, req->token, req->token_len))
            o->active = false;
        if (obsv != 0 || o->active)
            continue;
        memset(o, 0, sizeof *o);
        o->srv = s;
        o->peer = ev->peer;
        o->tkl = (uint8_t)req->token_len;
        o->bind = *bind;
        o->seq = 1;
        o->last_con = cs_net_now(); /* the first answer itself was confirmed */
        memcpy(o->token, req->token, req->token_len);
        o->active = lwm2m_path_from_msg(&o->path, req) == LWM2M_OK && /* the handler took it */
                    keep_request(req, o->req, sizeof o->req, &o->req_len);
        lwm2m_attrs_t a;
        lwm2m_value_t v;
        observer_view(&c->st, o, &a, &v);
        observer_sent(o, &a, &v, pl, pl_len, cs_net_now());
        coap_optlist_add_uint(l, COAP_OPT_OBSERVE, 1);
        return;
    }
}

/* Evaluates one observation and notifies when its attributes say so
 * (pmin/pmax, gt/lt/st; with none, on every change). */
static void evaluate(client_t *c, observer_t *o, cs_time_ms_t now)
{
    uint8_t out[1024], arena[64];
    coap_msg_t req;
    lwm2m_dm_result_t r;
    if (coap_msg_parse(&req, o->req, o->req_len) != COAP_OK ||
        lwm2m_dm_handle_as(&c->st, o->srv->ssid, &req, out, sizeof out, &r) != LWM2M_OK ||
        COAP_CODE_CLASS(r.code) != 2)
        return;
    lwm2m_attrs_t a;
    lwm2m_value_t v;
    observer_view(&c->st, o, &a, &v);
    bool changed = r.payload_len != o->last_len || memcmp(out, o->last, o->last_len) != 0;
    if (!lwm2m_notify_due(&a, &o->rep, &v, changed, now)) {
        o->next_check = lwm2m_notify_next(&a, &o->rep);
        return;
    }
    coap_opt_t list[4];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, ++o->seq);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, r.content_format);
    node_notify(&c->n, o->srv->oscore, &o->bind, &l, out, r.payload_len, coap_observe_con_due(&o->last_con, now, false),
                o->peer, o->token, o->tkl);
    observer_sent(o, &a, &v, out, r.payload_len, now);
}

/* Send (POST /dp) to server s: the values at the --send paths in SenML
 * CBOR. The answer is not waited for: a lost Send is repeated with the
 * next Update. */
static void send_values(client_t *c, server_link_t *s)
{
    uint8_t pl[512], arena[16], token[8];
    size_t len;
    coap_opt_t list[4];
    coap_optlist_t l;
    oscore_binding_t bind;
    lwm2m_err_t e;
    if (!c->n_sends)
        return;
    if ((e = lwm2m_send_payload(&c->st, c->sends, c->n_sends, pl, sizeof pl, &len)) != LWM2M_OK) {
        fprintf(stderr, "coreseal %s: cannot send: %s\n", c->n.sub, coreseal_strerror(e));
        return;
    }
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, "dp", 2);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    if (!node_request(&c->n, s->peer, s->oscore, COAP_POST, &l, pl, len, false, token, &bind))
        fprintf(stderr, "coreseal %s: Send could not be queued\n", c->n.sub);
    else
        c->awake_until = cs_net_now() + c->awake_ms;
}

/* ---------------------------------------------------------------- requests from servers */

/* The server a request comes from: protected with a server's OSCORE
 * context (its kid is that context's Recipient ID), from any address:
 * OSCORE proves who sent it whatever the address (a proxy, or another node
 * of a server cluster; serve_request verifies it); otherwise from a
 * server's address. A DTLS account takes requests only in its session. */
static server_link_t *from_server(client_t *c, const coap_ep_event_t *ev)
{
    oscore_option_t opt;
    bool kid = !cs_net_peer_is_dtls(ev->peer) && oscore_msg_option(&ev->msg, &opt) == OSCORE_OK && opt.has_kid;
    for (size_t i = 0; kid && i < c->n_srv; i++) {
        const oscore_ctx_t *x = c->srv[i].oscore;
        if (x && !cs_net_peer_is_dtls(c->srv[i].peer) && opt.kid_len == x->recipient_id_len &&
            (!opt.kid_len || !memcmp(opt.kid, x->recipient_id, opt.kid_len)))
            return &c->srv[i];
    }
    for (size_t i = 0; i < c->n_srv; i++)
        if (ev->peer == c->srv[i].peer)
            return &c->srv[i];
    return NULL;
}

/* A Bootstrap-Server request (during bootstrap) or a Device Management
 * one (once registered), each only over its own context. Returns true
 * when it was a Bootstrap-Finish that was accepted. */
static bool serve_request(client_t *c, server_link_t *s, coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG], out[1024], arena[64];
    coap_msg_t req;
    oscore_binding_t bind;
    bool bootstrap = s->phase == BOOTSTRAPPING;
    if (!node_verify_request(&c->n, s->oscore, ev, &bind, buf, &req))
        return false;
    coap_opt_t b1o;
    coap_block_t b1;
    if (!bootstrap && (req.code == COAP_PUT || req.code == COAP_POST) && coap_msg_path_is(&req, "5/0/0") &&
        coap_msg_find_option(&req, COAP_OPT_BLOCK1, &b1o)) { /* a firmware push, block by block */
        uint8_t code = coap_block_decode(&b1o, &b1) ? fw_block_write(&c->fw, &req, &b1) : COAP_BAD_OPTION;
        coap_opt_t one[1];
        coap_optlist_t bl;
        coap_optlist_init(&bl, one, 1, arena, sizeof arena);
        if (code == COAP_CONTINUE || code == COAP_CHANGED)
            coap_optlist_add_uint(&bl, COAP_OPT_BLOCK1, coap_block_encode(&b1));
        node_reply(&c->n, ev, s->oscore, &bind, code, &bl, NULL, 0, false, 0, req.token, req.token_len);
        return false;
    }
    lwm2m_dm_result_t r;
    if ((bootstrap ? lwm2m_bs_handle(&c->st, &req, out, sizeof out, &r)
                   : lwm2m_dm_handle_as(&c->st, s->ssid, &req, out, sizeof out, &r)) != LWM2M_OK)
        return false;
    coap_opt_t list[4], o;
    coap_optlist_t l;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    uint32_t obsv;
    bool observable = req.code == COAP_GET || (req.code == COAP_FETCH && coap_msg_path_is(&req, ""));
    if (!bootstrap && observable && coap_msg_find_option(&req, COAP_OPT_OBSERVE, &o) &&
        coap_opt_uint(&o, &obsv) && (obsv != 0 || COAP_CODE_CLASS(r.code) == 2))
        observe(c, s, ev, &req, &bind, obsv, out, r.payload_len, &l);
    if (r.has_payload)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, r.content_format);
    if (bootstrap && c->n.verbose) {
        char code[32], path[64] = "/bs"; /* POST /bs is not an object path */
        lwm2m_path_t p;
        if (lwm2m_path_from_msg(&p, &req) == LWM2M_OK)
            lwm2m_path_format(&p, path, sizeof path);
        fprintf(stderr, "* bootstrap: %s %s -> %s\n", cli_code_str(req.code, code), path,
                cli_code_str(r.code, code + 16));
    }
    node_reply(&c->n, ev, s->oscore, &bind, r.code, &l, out, r.has_payload ? r.payload_len : 0, false, 0,
               req.token, req.token_len);
    return r.finished;
}

/* ---------------------------------------------------------------- the loop */

/* RFC 8613 B.2 response #1: the peer gave the context a new ID Context;
 * the pending request goes out again on it. Returns -1 or an exit code. */
static int follow_b2(client_t *c, server_link_t *s, const coap_ep_event_t *ev)
{
    cli_context_t *slot = cli_security_slot(&c->n.sec, s->oscore);
    uint8_t plain[LWM2M_CLI_MSG];
    size_t n = s->pending_len;
    oscore_params_t base;
    const char *who = s->phase == BOOTSTRAPPING ? "the Bootstrap-Server" : "the server";
    if (!slot || ++s->b2_runs > 2)
        return cli_fail(c->n.sub, CLI_EXIT_SECURITY,
                        "the peer keeps asking for a new OSCORE context (RFC 8613 B.2); check that both "
                        "sides hold the same Master Secret and IDs");
    cli_context_base(slot, &base);
    memcpy(plain, s->pending, n); /* the repeat rebuilds into n.last */
    if (!node_follow_b2_response(&c->n, s->peer, s->oscore, &base, &ev->msg, &s->bind, plain, n, false, s->token,
                                 &s->bind))
        return cli_fail(c->n.sub, CLI_EXIT_SECURITY, "RFC 8613 B.2 with %s failed", who);
    memcpy(s->pending, c->n.last, c->n.last_len);
    s->pending_len = c->n.last_len;
    printf("client: new OSCORE context with %s (RFC 8613 B.2)\n", who);
    fflush(stdout);
    return -1;
}

/* The answer to server s's exchange (Bootstrap-Request, Register, Update,
 * De-register); returns an exit code to stop with, or -1 to go on. */
static int main_response(client_t *c, server_link_t *s, coap_ep_event_t *ev, cs_time_ms_t now)
{
    uint8_t buf[LWM2M_CLI_MSG];
    coap_msg_t resp;
    char code[32];
    if (s->oscore && oscore_b2_is_response1(s->oscore, &ev->msg))
        return follow_b2(c, s, ev);
    if (node_open_msg(&c->n, s->oscore, ev, false, &s->bind, buf, &resp) != OSCORE_OK) {
        /* an unprotected error is how a server reports OSCORE failures
         * (RFC 8613 §8.2); anything else is forged */
        bool plain_error = COAP_CODE_CLASS(ev->msg.code) >= 4 &&
                           oscore_msg_option(&ev->msg, &(oscore_option_t){0}) == OSCORE_ERR_NOT_PROTECTED;
        return plain_error ? cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "server answered %s %.*s",
                                      cli_code_str(ev->msg.code, code), (int)ev->msg.payload_len,
                                      (const char *)ev->msg.payload)
                           : cli_fail(c->n.sub, CLI_EXIT_SECURITY, "response failed verification");
    }
    if (!s->echoed && resp.code == COAP_UNAUTHORIZED) {
        uint8_t plain[LWM2M_CLI_MSG];
        size_t n = s->pending_len;
        memcpy(plain, s->pending, n); /* node_repeat_with_echo rebuilds into n.last */
        if (node_repeat_with_echo(&c->n, s->peer, s->oscore, plain, n, &resp, false, s->token, &s->bind)) {
            memcpy(s->pending, c->n.last, c->n.last_len);
            s->pending_len = c->n.last_len;
            s->echoed = true;
            return -1;
        }
    }
    switch (s->phase) {
    case BOOTSTRAPPING:
        if (c->pack) { /* the answer is the whole configuration */
            lwm2m_dm_result_t r;
            if (resp.code != COAP_CONTENT)
                return cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "Bootstrap-Pack-Request refused: %s",
                                cli_code_str(resp.code, code));
            if (lwm2m_bs_apply_pack(&c->st, &resp, &r) != LWM2M_OK || !r.finished)
                return cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "the Bootstrap-Pack does not hold together (%s)",
                                cli_code_str(r.code, code));
            printf("client: Bootstrap-Pack applied (%zu bytes)\n", resp.payload_len);
            int rc = bootstrapped(c);
            return rc == CLI_EXIT_OK ? -1 : rc;
        }
        if (resp.code != COAP_CHANGED)
            return cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "Bootstrap-Request refused: %s",
                            cli_code_str(resp.code, code));
        printf("client: bootstrap requested as %s%s\n", c->ep, s->oscore ? " over OSCORE" : "");
        fflush(stdout);
        return -1;
    case REGISTERING: {
        if (resp.code != COAP_CREATED)
            return cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "Register refused: %s", cli_code_str(resp.code, code));
        char where[48];
        if (!node_location_keep(&s->location, &resp))
            return cli_fail(c->n.sub, CLI_EXIT_PEER_REJECTED, "Register answered without a usable Location-Path");
        node_location_text(&s->location, where, sizeof where);
        printf("client: registered as %s (%s)%s\n", c->ep, where, s->oscore ? " over OSCORE" : "");
        fflush(stdout);
        s->phase = REGISTERED;
        s->next_update = now + (cs_time_ms_t)s->lifetime * 500;
        send_values(c, s);
        return -1;
    }
    case DEREGISTERING:
        printf("client: de-registered (%s)\n", cli_code_str(resp.code, code));
        s->phase = GONE;
        if (resp.code != COAP_DELETED)
            c->exit_rc = CLI_EXIT_PEER_REJECTED;
        return -1;
    case REGISTERED:
        if (c->n.verbose)
            fprintf(stderr, "* update: %s\n", cli_code_str(resp.code, code));
        if (resp.code == COAP_NOT_FOUND) { /* LwM2M Core 6.2.2: the server forgot us */
            printf("client: the server no longer knows this registration: registering again\n");
            fflush(stdout);
            s->phase = REGISTERING;
            if (!send_register(c, s))
                return cli_fail(c->n.sub, CLI_EXIT_SECURITY, "cannot send the Register request");
        }
        return -1;
    case GONE: return -1;
    }
    return -1;
}

/* The server whose exchange the token belongs to, or NULL. */
static server_link_t *link_of(client_t *c, const coap_ep_event_t *ev)
{
    for (size_t i = 0; ev->token_len == 8 && i < c->n_srv; i++)
        if (c->srv[i].phase != GONE && !memcmp(ev->token, c->srv[i].token, 8))
            return &c->srv[i];
    return NULL;
}

/* No answer (or an RST, also what the transport makes of a DTLS session
 * or TCP connection that is gone): before registration the end; an Update
 * over DTLS may have met a server that restarted and forgot the session
 * (DTLS cannot say so), so a new handshake and a Register follow (LwM2M
 * Core 6.2.2: a failed Update is followed by Register). -1 to go on. */
static int on_timeout(client_t *c, server_link_t *s, const coap_ep_event_t *ev)
{
    if (s->phase != REGISTERED)
        return cli_fail(c->n.sub, CLI_EXIT_TIMEOUT, "the LwM2M %sserver %s%s%s",
                        s->phase == BOOTSTRAPPING ? "bootstrap " : "",
                        ev->type == COAP_EV_RESET ? "reset the request (or its connection is gone)" : "does not answer",
                        c->n.udp.why[0] ? ": " : "", c->n.udp.why); /* e.g. why a DTLS handshake failed */
    if (!cs_net_peer_is_dtls(s->peer))
        return -1;
    printf("client: no answer to the Update%s: new DTLS handshake, registering again\n",
           ev->type == COAP_EV_RESET ? " (session gone)" : "");
    fflush(stdout);
    char err[256] = "";
    cs_dtls_close(&c->n.udp, s->peer);
    if (cs_dtls_connect(&c->n.udp, s->dtls_host, s->dtls_port, &s->dtls, &s->peer, err, sizeof err) != CS_NET_OK)
        return cli_fail(c->n.sub, CLI_EXIT_NETWORK, "cannot start a new DTLS handshake: %s", err);
    s->phase = REGISTERING;
    return send_register(c, s) ? -1 : cli_fail(c->n.sub, CLI_EXIT_SECURITY, "cannot send the Register request");
}

/* A timeout, or an RST, of one of the servers' exchanges: on_timeout. */
static int on_lost(client_t *c, const coap_ep_event_t *ev)
{
    server_link_t *s = ev->type == COAP_EV_TIMEOUT || ev->type == COAP_EV_RESET ? link_of(c, ev) : NULL;
    return s ? on_timeout(c, s, ev) : -1;
}

/* Every server's timers: Updates (with Send) and, at the end, De-register;
 * true once every registration is gone. */
static bool tend_servers(client_t *c, cs_time_ms_t now, bool ending)
{
    bool all_gone = true;
    for (size_t i = 0; i < c->n_srv; i++) {
        server_link_t *s = &c->srv[i];
        if (s->phase == REGISTERED && ending && send_registration(c, s, COAP_DELETE))
            s->phase = DEREGISTERING;
        if (s->phase == REGISTERED && now >= s->next_update) {
            if (send_registration(c, s, COAP_POST))
                s->next_update = now + (cs_time_ms_t)s->lifetime * 500;
            send_values(c, s);
        }
        all_gone = all_gone && s->phase == GONE;
    }
    return all_gone;
}

static int run(client_t *c, long duration, long interval_ms)
{
    cs_time_ms_t start = cs_net_now(), next_tick = start + (cs_time_ms_t)interval_ms;
    while (1) {
        cs_time_ms_t now = cs_net_now();
        bool bootstrapping = c->srv[0].phase == BOOTSTRAPPING;
        if (bootstrapping && (cli_stopping || now - start > BOOTSTRAP_TIMEOUT_MS))
            return cli_fail(c->n.sub, CLI_EXIT_TIMEOUT, "no Bootstrap-Finish within %d s", BOOTSTRAP_TIMEOUT_MS / 1000);
        bool ending = cli_stopping || (duration >= 0 && now - start >= (cs_time_ms_t)duration * 1000);
        if (!bootstrapping && tend_servers(c, now, ending))
            return c->exit_rc;
        bool moved = now >= next_tick;
        if (moved) { /* the sensor moves */
            next_tick = now + (cs_time_ms_t)interval_ms;
            c->temperature += 0.1;
        }
        for (int i = 0; i < 8; i++) /* observers look when it moved or a period ends */
            if (c->obs[i].active && (moved || now >= c->obs[i].next_check))
                evaluate(c, &c->obs[i], now);
        node_flush(&c->n);
        if (cs_udp_receive(&c->n.udp, 50) != CS_NET_OK)
            return CLI_EXIT_NETWORK;
        now = cs_net_now();
        /* queue mode: the radio is off between awake periods, datagrams are lost */
        if (c->queue && !bootstrapping && now >= c->awake_until)
            c->n.udp.n_in = 0;
        for (size_t i = 0; i < c->n.udp.n_in; i++) {
            coap_ep_event_t ev;
            server_link_t *s;
            int rc = -1;
            if (coap_ep_input(&c->n.ep, c->n.udp.in_peer[i], c->n.udp.in[i], c->n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (fw_pull_event(&c->fw, &c->n, &ev))
                continue;
            if (ev.type == COAP_EV_REQUEST && (s = from_server(c, &ev))) {
                if (serve_request(c, s, &ev)) { /* Bootstrap-Finish */
                    node_flush(&c->n);
                    if ((rc = bootstrapped(c)) != CLI_EXIT_OK)
                        return rc;
                }
            } else if (ev.type == COAP_EV_RESPONSE && (s = link_of(c, &ev))) {
                if ((rc = main_response(c, s, &ev, now)) >= 0)
                    return rc;
            } else if ((rc = on_lost(c, &ev)) >= 0) {
                return rc;
            }
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&c->n.ep, cs_net_now(), &ev) == COAP_OK && ev.type != COAP_EV_NONE) {
            int rc;
            if (!fw_pull_event(&c->fw, &c->n, &ev) && (rc = on_lost(c, &ev)) >= 0)
                return rc;
        }
    }
}

static int usage(int c)
{
    fprintf(c == 'h' ? stdout : stderr,
            "usage: coreseal lwm2m client --ep NAME (--server URI | --bootstrap URI) [--oscore FILE]\n"
            "       coreseal lwm2m client [--ep NAME] --server URI --edhoc KEYFILE --edhoc-peer CRED\n"
            "                             [--state DIR] [--lifetime S] [--duration S] [--interval MS]\n"
            "                             [--send PATH]... [--queue[=AWAKE_MS]] [--b2] [-v]\n"
            "                             [--psk ID:KEY | --cert FILE --key FILE (--ca FILE | --server-cert FILE)]\n"
            "                             [--ack-timeout MS]\n"
            "A simulated LwM2M device (objects 1, 3, 5, 3303) that registers, answers\n"
            "Device Management and Observe (by the attributes the server wrote),\n"
            "sends the --send paths with every Register and Update (POST /dp), and\n"
            "de-registers after --duration seconds or on Ctrl-C.\n"
            "--server: register there, over OSCORE with the --oscore context if given;\n"
            "a coaps:// server over DTLS with --psk IDENTITY:KEY (Security mode PSK, the\n"
            "identity being the endpoint name), or with --cert and --key (PEM; Security mode\n"
            "Certificate, the certificate's CN being the endpoint name) and the server checked\n"
            "against --ca (its CA: Certificate Usage 2) or --server-cert (its own certificate,\n"
            "pinned: usage 3); with OSCORE inside DTLS if --oscore is given too;\n"
            "a coap+tcp:// server over TCP (RFC 8323, binding T).\n"
            "--bootstrap: ask that Bootstrap-Server (over the --oscore context, or over DTLS\n"
            "for a coaps:// one with --psk or --cert as above) for the server account and\n"
            "its credentials (/0, /1, /21), then register;\n"
            "--bootstrap-pack: ask for it all in one answer (GET /bspack, LwM2M 1.2).\n"
            "--edhoc: run EDHOC with the server (whose credential is CRED) and register over\n"
            "the OSCORE context it gives, or with --bootstrap, with the Bootstrap-Server and\n"
            "bootstrap over it; the endpoint name defaults to the key's subject.\n"
            "--queue: queue mode (Q): after each message it listens AWAKE_MS (default\n"
            "93000), then its radio is off until the next Update or Send.\n"
            "--state DIR: keep that configuration and the OSCORE state across restarts;\n"
            "a restart with it registers at once.\n"
            "--b2: derive new keys with RFC 8613 Appendix B.2 on the first use of the\n"
            "OSCORE contexts bootstrap provisions (/21), as the LwM2M Transport TS asks;\n"
            "the server's context file must allow it (\"rfc8613_b_2\": true). For the\n"
            "--oscore context its file's rfc8613_b_2 decides.\n"
            "example: coreseal lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:5783 \\\n"
            "             --oscore bs-dev1.json --state /var/lib/dev1\n");
    return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int lwm2m_client_main(int argc, char **argv)
{
    static client_t c;
    memset(&c, 0, sizeof c);
    fw_init(&c.fw);
    c.n.sub = "lwm2m client";
    const char *server = NULL, *bootstrap = NULL, *oscore = NULL, *edhoc_key = NULL, *edhoc_peer = NULL;
    long lifetime = 300, duration = -1, interval_ms = 1000, ack_timeout_ms = 0;
    cs_dtls_psk_t psk;
    bool has_psk = false;
    cert_files_t certs = {0};
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},    {"bootstrap", required_argument, NULL, 'b'},
        {"ep", required_argument, NULL, 'e'},        {"send", required_argument, NULL, 'S'},
        {"oscore", required_argument, NULL, 'O'},    {"lifetime", required_argument, NULL, 'l'},
        {"duration", required_argument, NULL, 'd'},  {"interval", required_argument, NULL, 'i'},
        {"state", required_argument, NULL, 'D'},     {"verbose", no_argument, NULL, 'v'},
        {"edhoc", required_argument, NULL, 'E'},     {"edhoc-peer", required_argument, NULL, 'P'},
        {"queue", optional_argument, NULL, 'q'},     {"bootstrap-pack", no_argument, NULL, 'K'},
        {"b2", no_argument, NULL, 'B'},              {"help", no_argument, NULL, 'h'},
        {"psk", required_argument, NULL, 'k'},       {"ack-timeout", required_argument, NULL, 'A'},
        {"cert", required_argument, NULL, 'C'},      {"key", required_argument, NULL, 'Y'},
        {"ca", required_argument, NULL, 'a'},        {"server-cert", required_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "s:e:l:d:i:vh", longopts, NULL)) != -1) {
        switch (o) {
        case 's': server = optarg; break;
        case 'b': bootstrap = optarg; break;
        case 'e': c.ep = optarg; break;
        case 'O': oscore = optarg; break;
        case 'l': lifetime = atol(optarg); break;
        case 'd': duration = atol(optarg); break;
        case 'i': interval_ms = atol(optarg); break;
        case 'D': c.state_dir = optarg; break;
        case 'E': edhoc_key = optarg; break;
        case 'P': edhoc_peer = optarg; break;
        case 'A':
            ack_timeout_ms = atol(optarg);
            if (ack_timeout_ms < 10 || ack_timeout_ms > 60000)
                return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--ack-timeout expects 10..60000 ms");
            break;
        case 'k':
            if (!cs_dtls_parse_psk(optarg, &psk))
                return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--psk expects IDENTITY:KEY (KEY as text or 0x-hex)");
            has_psk = true;
            break;
        case 'C': certs.cert = optarg; break;
        case 'Y': certs.key = optarg; break;
        case 'a':
        case 'V':
            if (certs.server)
                return cli_fail(c.n.sub, CLI_EXIT_USAGE, "give one of --ca FILE and --server-cert FILE");
            certs.server = optarg;
            certs.usage = o == 'a' ? 2 : 3;
            break;
        case 'K': c.pack = true; break;
        case 'B': c.b2 = true; break;
        case 'q':
            c.queue = true;
            c.awake_ms = optarg ? (cs_time_ms_t)atol(optarg) : 93000;
            break;
        case 'S':
            if (c.n_sends == 4 || lwm2m_path_parse(&c.sends[c.n_sends], optarg, strlen(optarg)) != LWM2M_OK)
                return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--send expects up to 4 paths like /3303/0/5700");
            c.n_sends++;
            break;
        case 'v': c.n.verbose++; break;
        default: return usage(o);
        }
    }
    char host[128], port[8];
    const char *first = bootstrap ? bootstrap : server;
    c.edhoc.method = c.edhoc.suite = -1;
    if (edhoc_key && (oscore || !edhoc_peer))
        return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--edhoc KEYFILE goes with --edhoc-peer CRED (the server's, or the "
                                                 "Bootstrap-Server's), not with --oscore");
    if (lifetime < 10)
        return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--lifetime expects at least 10 seconds");
    if ((c.ep && !c.ep[0]) || (!c.ep && !edhoc_key) || !first || (server && bootstrap) ||
        !node_uri_host_port(first, strlen(first), host, sizeof host, port, sizeof port))
        return cli_fail(c.n.sub, CLI_EXIT_USAGE,
                        "--ep NAME and one of --server coap://HOST:PORT or --bootstrap coap://HOST:PORT are required");
    bool has_cert = certs.cert || certs.key || certs.server;
    if (has_cert && (has_psk || !certs.cert || !certs.key || !certs.server))
        return cli_fail(c.n.sub, CLI_EXIT_USAGE, "Certificate mode takes --cert FILE, --key FILE and one of --ca FILE "
                                                 "and --server-cert FILE (PEM), and no --psk");
    bool coaps = !strncmp(first, "coaps://", 8);
    if ((has_psk || has_cert) != coaps)
        return cli_fail(c.n.sub, CLI_EXIT_USAGE,
                        "--psk IDENTITY:KEY or --cert/--key go with a coaps://HOST:PORT --server or --bootstrap "
                        "(DTLS), and DTLS needs one of them");
    if (bootstrap && !oscore && !edhoc_key && !coaps)
        return cli_fail(c.n.sub, CLI_EXIT_USAGE, "--bootstrap needs the --oscore context shared with the "
                                                 "Bootstrap-Server, --edhoc, or a coaps:// Bootstrap-Server (DTLS)");
    c.temperature = 21.0;
    lwm2m_memstore_init(&c.mem, c.rec, sizeof c.rec / sizeof c.rec[0], c.blob, sizeof c.blob);
    lwm2m_attr_table_init(&c.attrs, c.attr_entries, 32);
    c.st = (lwm2m_store_t){&c, dev_list, dev_read, dev_write, dev_execute, dev_create, dev_delete, &c.attrs};
    oscore_ctx_t *file_ctx = NULL;
    int rc = cli_security_init(&c.n.sec, c.n.sub);
    if (rc == CLI_EXIT_OK && oscore && (rc = cli_security_add(&c.n.sec, oscore, c.n.sub)) == CLI_EXIT_OK &&
        (rc = cli_b2_start_if_new(&c.n.sec, &c.n.sec.ctx[0], c.n.verbose, c.n.sub)) == CLI_EXIT_OK)
        file_ctx = &c.n.sec.ctx[0].ctx;
    if (rc == CLI_EXIT_OK && edhoc_key && (rc = cli_edhoc_load_own(&c.edhoc, edhoc_key, c.n.sub)) == CLI_EXIT_OK)
        rc = cli_edhoc_add_peer(&c.edhoc, edhoc_peer, c.n.sub);
    if (rc == CLI_EXIT_OK && !c.ep) /* with EDHOC the credential names the endpoint */
        c.ep = c.edhoc.own.subject[0] ? c.edhoc.own.subject : NULL;
    if (rc == CLI_EXIT_OK && !c.ep)
        rc = cli_fail(c.n.sub, CLI_EXIT_USAGE, "--ep NAME is required");
    if (rc == CLI_EXIT_OK && (rc = node_open(&c.n, host, port, false)) == CLI_EXIT_OK) {
        if (ack_timeout_ms)
            c.n.ep.cfg.ack_timeout_ms = (uint32_t)ack_timeout_ms;
        c.n.udp.log = c.n.verbose ? stderr : NULL;
        c.bootstrapping = bootstrap != NULL;
        if (bootstrap)
            rc = factory_bootstrap(&c, bootstrap, oscore ? &c.n.sec.ctx[0].file : NULL, has_psk ? &psk : NULL,
                                   has_cert ? &certs : NULL);
        else
            rc = factory_server(&c, server, (uint32_t)lifetime, has_psk ? &psk : NULL, has_cert ? &certs : NULL);
        cli_catch_signals();
        lwm2m_account_view_t acc;
        if (bootstrap && load_objects(&c) && lwm2m_server_account(&c.st, 0, &acc) == LWM2M_OK) {
            printf("client: configuration from %s/objects.cbor: no bootstrap needed\n", c.state_dir);
            rc = start_registration(&c, NULL);
        } else if (bootstrap && rc == CLI_EXIT_OK) {
            rc = start_bootstrap(&c, file_ctx);
        } else if (rc == CLI_EXIT_OK) {
            rc = start_registration(&c, file_ctx);
        }
        if (rc == CLI_EXIT_OK)
            rc = run(&c, duration, interval_ms);
    }
    node_flush(&c.n);
    node_close(&c.n);
    fw_free(&c.fw);
    cs_wipe(&c.edhoc, sizeof c.edhoc);
    cs_wipe(&psk, sizeof psk);
    cs_wipe(c.srv, sizeof c.srv); /* DTLS keys */
    lwm2m_memstore_init(&c.mem, c.rec, sizeof c.rec / sizeof c.rec[0], c.blob, sizeof c.blob); /* keys do not linger */
    return rc;
}
