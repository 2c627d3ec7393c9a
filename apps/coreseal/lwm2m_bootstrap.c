/* coreseal lwm2m bootstrap: a LwM2M Bootstrap-Server for OSCORE clients.
 *
 * Each account of the configuration file pairs an endpoint name with the
 * OSCORE context the client shares with this server, and names the LwM2M
 * server account to provision. A Bootstrap-Request must come over that
 * context (Echo proves its freshness on first use) with the account's
 * endpoint name (4.00 otherwise: the Transport TS's ep check). The
 * server then runs, one request at a time over the same context:
 *   DELETE /                      everything but the bootstrap account
 *   GET / (Accept 40)             Bootstrap-Discover: instance ids in use
 *   PUT /21/k                     the OSCORE context for the LwM2M server
 *   PUT /0/m                      its Security account, resource 17 = 21:k
 *   PUT /1/m                      its Server account
 *   PUT /2, GET /2                its Access Control instances, if the
 *                                 account has any, and Bootstrap-Read of them
 *   POST /bs                      Bootstrap-Finish
 * The OSCORE material comes from the LwM2M server's own context file, so
 * the server and the client end up with the two halves of one context. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/lwm2m_bootstrap.h"
#include "coreseal/redis_state.h"
#include "lwm2m.h"

/* The writes from WRITE_OSCORE to WRITE_SERVER run once per server
 * account (a->k). A Certificate account's certificates and key follow its
 * /0 instance one by one (together they are too long for one message). */
typedef enum {
    IDLE, DELETE_ALL, DISCOVER, WRITE_OSCORE, WRITE_SECURITY, WRITE_CERTIFICATE, WRITE_SERVER_CERTIFICATE,
    WRITE_PRIVATE_KEY, WRITE_SERVER, WRITE_ACCESS, READ_ACCESS, FINISH
} step_t;

static const char *const step_names[] = {"",          "Delete /",  "Discover", "Write /21",
                                         "Write /0",  "Write /0/x/3", "Write /0/x/4", "Write /0/x/5",
                                         "Write /1",  "Write /2",  "Read /2",  "Finish"};

/* Longest DER certificate or key: it goes in one Bootstrap-Write. */
#define DER_MAX 1100

/* What the client gets for one LwM2M server account. */
typedef struct {
    cs_context_file_t oscore; /* the LwM2M server's context with the client */
    /* a Certificate account: DER of its PEM files */
    uint8_t cert[DER_MAX], private_key[DER_MAX], server_cert[DER_MAX];
    size_t cert_len, private_key_len, server_cert_len;
    uint16_t security_inst, oscore_inst; /* where it goes in the client */
} server_out_t;

typedef struct {
    const cs_bs_account_t *cfg;
    cli_context_t *ctx;        /* with the client: from its file, or from EDHOC (NULL before) */
    server_out_t servers[CS_BS_MAX_SERVERS];
    /* the session: OSCORE-protected (oscore set), or plain inside peer's DTLS session */
    step_t step;
    size_t k; /* the server account being written */
    coap_peer_t peer;
    oscore_ctx_t *oscore;
    uint8_t token[8];
    oscore_binding_t bind;
} account_t;

typedef struct {
    node_t n;
    cs_bs_config_t cfg;
    account_t acc[CS_BS_MAX_ACCOUNTS];
    cli_edhoc_t edhoc; /* --edhoc: clients may key themselves */
    cli_edhoc_responder_t edhoc_resp;
    bool dtls_ca; /* --listen-dtls with --ca: certificates may name accounts */
} bs_t;

/* The n lowest instance ids of obj that a Discover payload does not list. */
static void free_instances(const coap_msg_t *discover, uint16_t obj, size_t n, uint16_t *ids)
{
    uint32_t used = 0; /* ids 0..31 */
    lwm2m_link_dec_t d;
    lwm2m_link_t l;
    lwm2m_link_dec_init(&d, discover->payload, discover->payload_len);
    while (lwm2m_link_next(&d, &l) == LWM2M_OK)
        if (l.path.len == 2 && l.path.ids[0] == obj && l.path.ids[1] < 32)
            used |= 1u << l.path.ids[1];
    uint16_t i = 0;
    for (size_t k = 0; k < n; k++, i++) {
        while (i < 31 && (used >> i & 1))
            i++;
        ids[k] = i;
    }
}

/* The client's side of server k's context: the mirror image. */
static void client_view(const account_t *a, size_t k, oscore_params_t *cp)
{
    oscore_params_t sp;
    cs_context_file_params(&a->servers[k].oscore, &sp);
    *cp = sp;
    cp->sender_id = sp.recipient_id, cp->sender_id_len = sp.recipient_id_len;
    cp->recipient_id = sp.sender_id, cp->recipient_id_len = sp.sender_id_len;
}

static lwm2m_account_t server_account(const account_t *a, size_t k)
{
    const cs_bs_server_t *c = &a->cfg->servers[k];
    const server_out_t *o = &a->servers[k];
    lwm2m_account_t srv = {.uri = c->uri, .ssid = c->ssid, .lifetime = c->lifetime, .binding = c->binding,
                           .aco = a->cfg->aco, .n_aco = a->cfg->n_aco};
    if (c->psk_key_len) { /* a coaps:// server: DTLS PSK */
        srv.psk_identity = (const uint8_t *)c->psk_identity;
        srv.psk_identity_len = strlen(c->psk_identity);
        srv.psk_key = c->psk_key;
        srv.psk_key_len = c->psk_key_len;
    } else if (o->cert_len) { /* DTLS Certificate */
        srv.cert = o->cert, srv.cert_len = o->cert_len;
        srv.private_key = o->private_key, srv.private_key_len = o->private_key_len;
        srv.server_cert = o->server_cert, srv.server_cert_len = o->server_cert_len;
        srv.cert_usage = c->certificate_usage;
    }
    return srv;
}

/* Sends the request of a's current step. */
static bool send_step(bs_t *b, account_t *a)
{
    uint8_t arena[64], pl[DER_MAX];
    coap_opt_t list[6];
    coap_optlist_t l;
    size_t n = 0;
    char inst[8];
    lwm2m_err_t e = LWM2M_OK;
    lwm2m_account_t srv = server_account(a, a->k);
    const server_out_t *o = &a->servers[a->k];
    uint8_t code = COAP_PUT;
    coap_optlist_init(&l, list, 6, arena, sizeof arena);
    switch (a->step) {
    case DELETE_ALL: code = COAP_DELETE; break;
    case DISCOVER:
        code = COAP_GET;
        coap_optlist_add_uint(&l, COAP_OPT_ACCEPT, LWM2M_CF_LINK);
        break;
    case WRITE_OSCORE: {
        oscore_params_t cp;
        client_view(a, a->k, &cp);
        e = lwm2m_bs_oscore_payload(&cp, pl, sizeof pl, &n);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "21", 2);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, inst, (size_t)snprintf(inst, sizeof inst, "%u", o->oscore_inst));
        break;
    }
    case WRITE_SECURITY:
        e = lwm2m_bs_security_payload(&srv, a->cfg->servers[a->k].oscore[0] ? o->oscore_inst : LWM2M_ID_NONE, pl,
                                      sizeof pl, &n);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "0", 1);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, inst, (size_t)snprintf(inst, sizeof inst, "%u", o->security_inst));
        break;
    case WRITE_CERTIFICATE:
    case WRITE_SERVER_CERTIFICATE:
    case WRITE_PRIVATE_KEY: { /* one opaque resource: /0/x/3, 4 or 5 */
        static const char res[] = "345";
        const uint8_t *der[] = {srv.cert, srv.server_cert, srv.private_key};
        size_t len[] = {srv.cert_len, srv.server_cert_len, srv.private_key_len}, k = a->step - WRITE_CERTIFICATE;
        memcpy(pl, der[k], n = len[k]);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "0", 1);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, inst, (size_t)snprintf(inst, sizeof inst, "%u", o->security_inst));
        coap_optlist_add(&l, COAP_OPT_URI_PATH, &res[k], 1);
        break;
    }
    case WRITE_SERVER:
        e = lwm2m_bs_server_payload(&srv, pl, sizeof pl, &n);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "1", 1);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, inst, (size_t)snprintf(inst, sizeof inst, "%u", o->security_inst));
        break;
    case WRITE_ACCESS:
        e = lwm2m_bs_access_payload(&srv, pl, sizeof pl, &n);
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "2", 1);
        break;
    case READ_ACCESS: /* Bootstrap-Read: /1 and /2 are all it may read */
        code = COAP_GET;
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "2", 1);
        break;
    case FINISH:
        code = COAP_POST;
        coap_optlist_add(&l, COAP_OPT_URI_PATH, "bs", 2);
        break;
    case IDLE: return false;
    }
    if (n)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, a->step >= WRITE_CERTIFICATE && a->step <= WRITE_PRIVATE_KEY
                                                               ? LWM2M_CF_OPAQUE
                                                               : LWM2M_CF_TLV);
    bool ok = e == LWM2M_OK && node_request(&b->n, a->peer, a->oscore, code, &l, pl, n, false, a->token, &a->bind);
    cs_wipe(pl, sizeof pl);
    return ok;
}

static void end_session(bs_t *b, account_t *a, const char *why)
{
    printf("bootstrap: %s: %s\n", a->cfg->endpoint, why);
    fflush(stdout);
    (void)b;
    a->step = IDLE;
}

/* What the Bootstrap-Read of /2 found: as many instances as were written. */
static void report_access(const account_t *a, const coap_msg_t *resp)
{
    lwm2m_payload_iter_t it;
    lwm2m_entry_t e;
    lwm2m_path_t base = {{2}, 1};
    uint32_t seen = 0; /* instance ids 0..31 */
    if (lwm2m_payload_iter_init(&it, resp, &base) == 0)
        while (lwm2m_payload_iter_next(&it, &e) == LWM2M_OK)
            if (e.path.len >= 2 && e.path.ids[1] < 32)
                seen |= 1u << e.path.ids[1];
    unsigned n = 0;
    for (; seen; seen &= seen - 1)
        n++;
    printf("bootstrap: %s: Bootstrap-Read /2: %u Access Control instance%s (%zu written)\n", a->cfg->endpoint, n,
           n == 1 ? "" : "s", a->cfg->n_aco);
    fflush(stdout);
}

/* The client answered a's current step. */
static void step_done(bs_t *b, account_t *a, const coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG];
    coap_msg_t resp;
    char code[32], why[256];
    if (node_open_msg(&b->n, a->oscore, ev, false, &a->bind, buf, &resp) != OSCORE_OK) {
        end_session(b, a, "a response failed OSCORE verification; bootstrap abandoned");
        return;
    }
    if (COAP_CODE_CLASS(resp.code) != 2) {
        snprintf(why, sizeof why, "%s refused: %s; bootstrap abandoned", step_names[a->step],
                 cli_code_str(resp.code, code));
        end_session(b, a, why);
        return;
    }
    size_t n = a->cfg->n_servers;
    if (a->step == DISCOVER) { /* the bootstrap account keeps its ids: take others */
        uint16_t sec[CS_BS_MAX_SERVERS], osc[CS_BS_MAX_SERVERS];
        free_instances(&resp, 0, n, sec);
        free_instances(&resp, 21, n, osc);
        for (size_t k = 0; k < n; k++)
            a->servers[k].security_inst = sec[k], a->servers[k].oscore_inst = osc[k];
    }
    if (a->step == READ_ACCESS)
        report_access(a, &resp);
    if (a->step == FINISH) {
        int at = snprintf(why, sizeof why, "finished:");
        for (size_t k = 0; k < n && at > 0 && (size_t)at < sizeof why; k++)
            at += snprintf(why + at, sizeof why - (size_t)at, "%s /0/%u, /1/%u%s%s for %s", k ? ";" : "",
                           a->servers[k].security_inst, a->servers[k].security_inst,
                           a->cfg->servers[k].oscore[0] ? " and its OSCORE context in /21" : "",
                           a->cfg->n_aco && !k ? ", Access Control in /2" : "", a->cfg->servers[k].uri);
        end_session(b, a, why);
        return;
    }
    a->step = (step_t)(a->step + 1);
    if (a->step == WRITE_ACCESS && ++a->k < n) /* the next server account */
        a->step = WRITE_OSCORE;
    if (a->step == WRITE_OSCORE && !a->cfg->servers[a->k].oscore[0])
        a->step = WRITE_SECURITY; /* a NoSec server account */
    if (a->step == WRITE_CERTIFICATE && !a->servers[a->k].cert_len)
        a->step = WRITE_SERVER;
    if (a->step == WRITE_ACCESS && !a->cfg->n_aco)
        a->step = FINISH;
    if (!send_step(b, a))
        end_session(b, a, "cannot send the next request");
}

/* POST /.well-known/edhoc: a client with a trusted credential gets an OSCORE
 * context for the account its credential's subject names. */
static void on_edhoc(bs_t *b, const coap_ep_event_t *ev)
{
    static cli_edhoc_result_t x;
    uint8_t arena[16];
    coap_opt_t list[1];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 1, arena, sizeof arena);
    cli_edhoc_respond(&b->edhoc_resp, ev->msg.payload, ev->msg.payload_len, cs_net_now(), &x);
    if (x.done) {
        account_t *a = NULL;
        cli_context_t *cc;
        for (size_t i = 0; i < b->cfg.n && !a; i++)
            if (!strcmp(b->acc[i].cfg->endpoint, x.peer->subject))
                a = &b->acc[i];
        x.code = a && cli_security_add_params(&b->n.sec, &x.params, x.peer->id_cred, x.peer->id_cred_len, b->n.sub,
                                              &cc) == CLI_EXIT_OK
                     ? COAP_CHANGED
                     : COAP_FORBIDDEN;
        if (a && x.code == COAP_CHANGED) {
            for (size_t i = 0; i < b->cfg.n; i++) /* a slot taken over from another client */
                if (b->acc[i].ctx == cc)
                    b->acc[i].ctx = NULL;
            a->ctx = cc;
        }
        printf("bootstrap: EDHOC with %s: %s\n", x.peer->subject,
               !a ? "no account for it" : x.code == COAP_CHANGED ? "OSCORE context ready" : "no room for its context");
        fflush(stdout);
        x.payload_len = 0;
        cs_wipe(&x.keys, sizeof x.keys);
    }
    if (x.edhoc_payload && x.payload_len)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, EDHOC_CF_CBOR_SEQ);
    node_reply(&b->n, ev, NULL, NULL, x.code, &l, x.payload, x.payload_len, false, 0, ev->msg.token,
               ev->msg.token_len);
}

/* GET /bspack: the account as one SenML CBOR pack, instance ids = SSIDs. */
static void pack_response(bs_t *b, const account_t *a, const coap_ep_event_t *ev, oscore_ctx_t *ctx,
                          const oscore_binding_t *bind, const coap_msg_t *req)
{
    uint8_t pl[LWM2M_CLI_MSG - 128], arena[16]; /* room for the header, options and OSCORE */
    coap_opt_t list[1];
    coap_optlist_t l;
    size_t n = a->cfg->n_servers, len;
    oscore_params_t cp[CS_BS_MAX_SERVERS];
    const oscore_params_t *params[CS_BS_MAX_SERVERS];
    lwm2m_account_t srv[CS_BS_MAX_SERVERS];
    uint16_t inst[CS_BS_MAX_SERVERS];
    coap_opt_t accept;
    uint32_t want = LWM2M_CF_SENML_CBOR;
    if (coap_msg_find_option(req, COAP_OPT_ACCEPT, &accept) && (!coap_opt_uint(&accept, &want) || want != LWM2M_CF_SENML_CBOR)) {
        node_reply(&b->n, ev, ctx, bind, COAP_NOT_ACCEPTABLE, NULL, NULL, 0, false, 0, req->token, req->token_len);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        srv[k] = server_account(a, k);
        inst[k] = a->cfg->servers[k].ssid;
        params[k] = NULL;
        if (a->cfg->servers[k].oscore[0]) {
            client_view(a, k, &cp[k]);
            params[k] = &cp[k];
        }
    }
    coap_optlist_init(&l, list, 1, arena, sizeof arena);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    lwm2m_err_t e = lwm2m_bs_pack(srv, params, inst, n, pl, sizeof pl, &len);
    bool ok = e == LWM2M_OK;
    node_reply(&b->n, ev, ctx, bind, ok ? COAP_CONTENT : COAP_INTERNAL_SERVER_ERROR, ok ? &l : NULL, pl,
               ok ? len : 0, false, 0, req->token, req->token_len);
    cs_wipe(pl, sizeof pl);
    char what[512];
    int at = 0;
    for (size_t k = 0; k < n && at >= 0 && (size_t)at < sizeof what; k++)
        at += snprintf(what + at, sizeof what - (size_t)at, "%s /0/%u, /1/%u%s for %s", k ? ";" : "", inst[k],
                       inst[k], params[k] ? " and its OSCORE context in /21" : "", a->cfg->servers[k].uri);
    printf("bootstrap: %s: Bootstrap-Pack %s:%s\n", a->cfg->endpoint,
           ok ? "sent" : e == LWM2M_ERR_NO_SPACE ? "failed (longer than one message: bootstrap this account "
                                                   "without --bootstrap-pack)"
                       : "failed",
           what);
    fflush(stdout);
}

/* A verified Bootstrap-Request (or Bootstrap-Pack-Request) for account a,
 * over its OSCORE context (oscore) or plain in a DTLS session: the session
 * begins, or the pack is the answer. */
static void begin_session(bs_t *b, account_t *a, const coap_ep_event_t *ev, oscore_ctx_t *oscore,
                          const oscore_binding_t *bind, const coap_msg_t *req)
{
    lwm2m_bootstrap_info_t info;
    uint8_t code = COAP_CHANGED;
    if (lwm2m_bootstrap_request_parse(req, &info) != LWM2M_OK) {
        code = req->code == COAP_POST ? COAP_NOT_FOUND : COAP_METHOD_NOT_ALLOWED;
    } else if (info.endpoint_len != strlen(a->cfg->endpoint) ||
               memcmp(info.endpoint, a->cfg->endpoint, info.endpoint_len) != 0) {
        printf("bootstrap: refused ep=%.*s over the %s of %s\n", (int)info.endpoint_len, info.endpoint,
               oscore ? "context" : "DTLS session", a->cfg->endpoint);
        fflush(stdout);
        code = COAP_BAD_REQUEST; /* Transport TS: the name must be the context's */
    } else if (a->step != IDLE) {
        code = COAP_SERVICE_UNAVAILABLE; /* one session per client at a time */
    } else if (info.pack) { /* Bootstrap-Pack: everything in the answer */
        pack_response(b, a, ev, oscore, bind, req);
        return;
    }
    node_reply(&b->n, ev, oscore, bind, code, NULL, NULL, 0, false, 0, req->token, req->token_len);
    if (code != COAP_CHANGED)
        return;
    printf("bootstrap: %s: Bootstrap-Request over %s\n", a->cfg->endpoint,
           !oscore ? "DTLS" : cs_net_peer_is_dtls(ev->peer) ? "OSCORE over DTLS" : "OSCORE");
    fflush(stdout);
    a->peer = ev->peer;
    a->oscore = oscore;
    a->k = 0;
    a->step = DELETE_ALL;
    if (!send_step(b, a))
        end_session(b, a, "cannot send Bootstrap-Delete");
}

/* A plain request in a DTLS session: the account whose endpoint name the
 * handshake proved (PSK identity, or the CN of a certificate from --ca). */
static void dtls_request(bs_t *b, const coap_ep_event_t *ev)
{
    char who[CS_BS_NAME_MAX] = "(unnamed)";
    account_t *a = NULL;
    if (cs_dtls_peer_name(&b->n.udp, ev->peer, who, sizeof who))
        for (size_t i = 0; i < b->cfg.n && !a; i++)
            if (!strcmp(b->acc[i].cfg->endpoint, who))
                a = &b->acc[i];
    if (!a) {
        printf("bootstrap: refused a DTLS peer named %s: no account has that endpoint name\n", who);
        fflush(stdout);
        node_reply(&b->n, ev, NULL, NULL, COAP_FORBIDDEN, NULL, NULL, 0, false, 0, ev->msg.token,
                   ev->msg.token_len);
        return;
    }
    begin_session(b, a, ev, NULL, NULL, &ev->msg);
}

/* A Bootstrap-Request (or Bootstrap-Pack-Request) over one account's
 * context, or in a DTLS session; EDHOC first for clients that key
 * themselves. */
static void bootstrap_request(bs_t *b, const coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG];
    oscore_option_t opt;
    oscore_binding_t bind;
    coap_msg_t req;
    if (oscore_msg_option(&ev->msg, &opt) != OSCORE_OK) {
        if (b->edhoc.enabled && ev->msg.code == COAP_POST && coap_msg_path_is(&ev->msg, EDHOC_COAP_PATH))
            on_edhoc(b, ev);
        else if (cs_net_peer_is_dtls(ev->peer))
            dtls_request(b, ev);
        else
            node_reply(&b->n, ev, NULL, NULL, COAP_UNAUTHORIZED, NULL, (const uint8_t *)"OSCORE or DTLS required",
                       23, false, 0, ev->msg.token, ev->msg.token_len);
        return;
    }
    cli_context_t *ctx = cli_security_find(&b->n.sec, &opt);
    bool b2 = !ctx && (ctx = cli_security_find_b2(&b->n.sec, &opt)) != NULL;
    account_t *a = NULL;
    for (size_t i = 0; ctx && i < b->cfg.n && !a; i++)
        if (b->acc[i].ctx == ctx)
            a = &b->acc[i];
    if (!a) {
        node_reply(&b->n, ev, NULL, NULL, COAP_UNAUTHORIZED, NULL, (const uint8_t *)"Security context not found",
                   26, false, 0, ev->msg.token, ev->msg.token_len);
        return;
    }
    oscore_params_t base;
    cli_context_base(ctx, &base);
    if (b2 ? !node_verify_b2_request(&b->n, &ctx->ctx, &base, ev, &bind, buf, &req)
           : !node_verify_request(&b->n, &ctx->ctx, ev, &bind, buf, &req))
        return; /* answered: B.2 response #1, 4.01 + Echo on first use, or the OSCORE error */
    begin_session(b, a, ev, &ctx->ctx, &bind, &req);
}

/* A Certificate server account's three PEM files as DER: from the files,
 * or (r given) from their copies in Redis. */
static const char *const cert_names[3] = {"certificate", "private-key", "server-certificate"};

/* The Redis key of one of account a's files for server k ("oscore" for the
 * account's own context, k ignored). */
static void redis_name(char *out, size_t cap, const char *what, const cs_bs_account_t *a, size_t k)
{
    if (!strcmp(what, "oscore"))
        snprintf(out, cap, "bootstrap:oscore:%s", a->endpoint);
    else
        snprintf(out, cap, "bootstrap:%s:%s:%zu", what, a->endpoint, k);
}

static int load_certificates(bs_t *b, account_t *a, size_t k, cs_redis_t *r)
{
    const cs_bs_server_t *c = &a->cfg->servers[k];
    server_out_t *o = &a->servers[k];
    const char *files[3] = {c->certificate, c->private_key, c->server_certificate};
    uint8_t *der[3] = {o->cert, o->private_key, o->server_cert};
    size_t *len[3] = {&o->cert_len, &o->private_key_len, &o->server_cert_len};
    for (int i = 0; i < 3 && c->certificate[0]; i++) {
        if (!r) {
            int rc = cli_pem_file_to_der(files[i], i == 1, der[i], DER_MAX, len[i], b->n.sub);
            if (rc != CLI_EXIT_OK)
                return rc;
            continue;
        }
        char name[CS_BS_NAME_MAX + 48], err[128], *text;
        size_t n;
        redis_name(name, sizeof name, cert_names[i], a->cfg, k);
        cs_store_err_t e = cs_redis_get_text(r, name, &text, &n);
        if (e != CS_STORE_OK)
            return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "%s: %s in Redis", name,
                            e == CS_STORE_ERR_MISSING ? "missing" : cs_redis_error(r));
        cs_net_err_t ne = cs_dtls_pem_to_der(text, n, i == 1, der[i], DER_MAX, len[i], err, sizeof err);
        cs_wipe(text, n);
        free(text);
        if (ne != CS_NET_OK)
            return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s in Redis: %s", name, err);
    }
    return CLI_EXIT_OK;
}

/* A client can reach its account: over its OSCORE context, EDHOC or DTLS. */
static bool reachable(const bs_t *b, const cs_bs_account_t *a)
{
    return a->oscore[0] || b->edhoc.enabled || a->bootstrap_psk_key_len || b->dtls_ca;
}

static int load_accounts(bs_t *b, const char *config)
{
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    if (cs_bs_config_load(config, &b->cfg, err, sizeof err) != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s; see docs/lwm2m.md", err);
    for (size_t i = 0; i < b->cfg.n; i++) {
        account_t *a = &b->acc[i];
        a->cfg = &b->cfg.acc[i];
        if (!reachable(b, a->cfg))
            return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s: account %s has no \"oscore\" context or \"psk_key\", and "
                            "neither --edhoc nor --listen-dtls with --ca is on", config, a->cfg->endpoint);
        if (a->cfg->oscore[0]) { /* else it keys itself with EDHOC */
            int rc = cli_security_add(&b->n.sec, a->cfg->oscore, b->n.sub);
            if (rc != CLI_EXIT_OK)
                return rc;
            a->ctx = &b->n.sec.ctx[b->n.sec.n - 1];
            cli_security_require_echo_on_first_use(a->ctx);
        }
        for (size_t k = 0; k < a->cfg->n_servers; k++) {
            const cs_bs_server_t *c = &a->cfg->servers[k];
            if (c->oscore[0] && cs_context_file_load(c->oscore, &a->servers[k].oscore, err, sizeof err) != CS_STORE_OK)
                return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s; see docs/context-files.md", err);
            int rc = load_certificates(b, a, k, NULL);
            if (rc != CLI_EXIT_OK)
                return rc;
        }
    }
    return CLI_EXIT_OK;
}

/* --store with --config: the account file and the context files it names
 * go to Redis, for the nodes started with --store alone. */
static int put_accounts(bs_t *b, cs_redis_t *r, const char *config)
{
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX], name[CS_BS_NAME_MAX + 48];
    if (cs_redis_put_file(r, "bootstrap:config", config, err, sizeof err) != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "cannot put the accounts into Redis: %s", err);
    for (size_t i = 0; i < b->cfg.n; i++) {
        const cs_bs_account_t *a = &b->cfg.acc[i];
        for (size_t k = 0; k < a->n_servers; k++) {
            const cs_bs_server_t *c = &a->servers[k];
            const char *const files[5][2] = {{"oscore", a->oscore},
                                             {"server-oscore", c->oscore},
                                             {cert_names[0], c->certificate},
                                             {cert_names[1], c->private_key},
                                             {cert_names[2], c->server_certificate}};
            for (int f = k ? 1 : 0; f < 5; f++) { /* the account's own context once */
                redis_name(name, sizeof name, files[f][0], a, k);
                if (files[f][1][0] && cs_redis_put_file(r, name, files[f][1], err, sizeof err) != CS_STORE_OK)
                    return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "cannot put the accounts into Redis: %s", err);
            }
        }
    }
    return CLI_EXIT_OK;
}

/* A context file another node put into Redis under name. */
static int get_context(bs_t *b, cs_redis_t *r, const char *name, cs_context_file_t *f)
{
    char *text, err[CS_STORE_ERRMSG_MAX];
    size_t n;
    cs_store_err_t e = cs_redis_get_text(r, name, &text, &n);
    if (e != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "%s: %s in Redis", name,
                        e == CS_STORE_ERR_MISSING ? "missing" : cs_redis_error(r));
    e = cs_context_file_parse(text, n, "", f, err, sizeof err);
    cs_wipe(text, n);
    free(text);
    return e == CS_STORE_OK ? CLI_EXIT_OK : cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s in Redis: %s", name, err);
}

/* --store without --config: the accounts a node started with --config put
 * into Redis. Their contexts' state lives in Redis (no state files). */
static int get_accounts(bs_t *b, cs_redis_t *r, const char *url)
{
    char *text, err[CS_STORE_ERRMSG_MAX], name[CS_BS_NAME_MAX + 32];
    size_t n;
    cs_store_err_t e = cs_redis_get_text(r, "bootstrap:config", &text, &n);
    if (e == CS_STORE_ERR_MISSING)
        return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "%s has no accounts yet: start one Bootstrap-Server with "
                                                   "--config FILE --store %s first", url, url);
    if (e != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "%s", cs_redis_error(r));
    e = cs_bs_config_parse(text, n, "", &b->cfg, err, sizeof err);
    free(text);
    if (e != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "the accounts in Redis: %s", err);
    for (size_t i = 0; i < b->cfg.n; i++) {
        account_t *a = &b->acc[i];
        a->cfg = &b->cfg.acc[i];
        if (a->cfg->oscore[0]) {
            static cs_context_file_t f;
            oscore_params_t p;
            cli_context_t *cc;
            redis_name(name, sizeof name, "oscore", a->cfg, 0);
            int rc = get_context(b, r, name, &f);
            cs_context_file_params(&f, &p);
            if (rc == CLI_EXIT_OK)
                rc = cli_security_add_derived(&b->n.sec, &p, a->cfg->endpoint, NULL, b->n.sub, &cc);
            cs_wipe(&f, sizeof f);
            if (rc != CLI_EXIT_OK)
                return rc;
            a->ctx = cc;
        } else if (!reachable(b, a->cfg)) {
            return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "account %s in Redis has no \"oscore\" context or \"psk_key\", "
                                                       "and neither --edhoc nor --listen-dtls with --ca is on",
                            a->cfg->endpoint);
        }
        for (size_t k = 0; k < a->cfg->n_servers; k++) {
            redis_name(name, sizeof name, "server-oscore", a->cfg, k);
            if (a->cfg->servers[k].oscore[0] && get_context(b, r, name, &a->servers[k].oscore) != CLI_EXIT_OK)
                return CLI_EXIT_CONFIG;
            int rc = load_certificates(b, a, k, r);
            if (rc != CLI_EXIT_OK)
                return rc;
        }
    }
    return CLI_EXIT_OK;
}

/* --store: the accounts put into Redis or taken from it, then their
 * OSCORE state kept there, with Echo at each node's first contact with a
 * client. */
static int share_accounts(bs_t *b, const char *config, const char *url)
{
    cs_redis_t *r;
    char err[CS_STORE_ERRMSG_MAX + 128];
    if (cs_redis_open(&r, url, err, sizeof err) != CS_STORE_OK)
        return cli_fail(b->n.sub, CLI_EXIT_STORAGE, "%s; is Redis running there?", err);
    int rc = config ? put_accounts(b, r, config) : get_accounts(b, r, url);
    cs_redis_close(r);
    if (rc == CLI_EXIT_OK)
        rc = cli_security_share(&b->n.sec, url, b->n.sub);
    for (int i = 0; rc == CLI_EXIT_OK && i < b->n.sec.n; i++)
        oscore_ctx_require_echo(&b->n.sec.ctx[i].ctx);
    return rc;
}

/* --listen-dtls: the accounts' PSKs (identity: the endpoint name) and the
 * --cert/--key/--ca of Certificate mode. */
static int listen_dtls(bs_t *b, cs_dtls_config_t *dtls, const char *host, const char *port)
{
    char err[256];
    for (size_t i = 0; i < b->cfg.n; i++) {
        const cs_bs_account_t *a = &b->cfg.acc[i];
        cs_dtls_psk_t *psk = &dtls->psks[dtls->n_psks];
        if (!a->bootstrap_psk_key_len)
            continue;
        if (dtls->n_psks == CS_DTLS_MAX_PSKS)
            return cli_fail(b->n.sub, CLI_EXIT_CONFIG, "at most %d accounts with a psk_key", CS_DTLS_MAX_PSKS);
        snprintf(psk->identity, sizeof psk->identity, "%s", a->endpoint);
        memcpy(psk->key, a->bootstrap_psk_key, a->bootstrap_psk_key_len);
        psk->key_len = a->bootstrap_psk_key_len;
        dtls->n_psks++;
    }
    if (!dtls->n_psks && !dtls->ca_file)
        return cli_fail(b->n.sub, CLI_EXIT_USAGE, "--listen-dtls needs accounts with a \"psk_key\", or --cert, --key "
                                                  "and --ca for clients with certificates");
    if (cs_dtls_listen(&b->n.udp, host, port, dtls, err, sizeof err) != CS_NET_OK)
        return cli_fail(b->n.sub, CLI_EXIT_NETWORK, "cannot serve DTLS: %s", err);
    return CLI_EXIT_OK;
}

int lwm2m_bootstrap_main(int argc, char **argv)
{
    static bs_t b;
    memset(&b, 0, sizeof b);
    b.n.sub = "lwm2m bootstrap";
    const char *listen_host = "::", *listen_port = "5683", *config = NULL, *store = NULL;
    const char *edhoc_key = NULL, *edhoc_trust[CLI_MAX_PEERS], *dtls_host = NULL, *dtls_port = NULL;
    int n_trust = 0;
    static cs_dtls_config_t dtls;
    memset(&dtls, 0, sizeof dtls);
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"edhoc", required_argument, NULL, 'E'},
                                             {"edhoc-trust", required_argument, NULL, 'T'},
                                             {"store", required_argument, NULL, 'S'},
                                             {"listen-dtls", required_argument, NULL, 'D'},
                                             {"cert", required_argument, NULL, 'C'},
                                             {"key", required_argument, NULL, 'K'},
                                             {"ca", required_argument, NULL, 'A'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:c:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &listen_host, &listen_port) != 0)
                return cli_fail(b.n.sub, CLI_EXIT_USAGE, "--listen expects HOST:PORT");
            break;
        case 'c': config = optarg; break;
        case 'D':
            if (cli_parse_listen(optarg, &dtls_host, &dtls_port) != 0)
                return cli_fail(b.n.sub, CLI_EXIT_USAGE, "--listen-dtls expects HOST:PORT, e.g. [::]:5784");
            break;
        case 'C': dtls.cert_file = optarg; break;
        case 'K': dtls.key_file = optarg; break;
        case 'A': dtls.ca_file = optarg; break;
        case 'S':
            if (strncmp(optarg, "redis://", 8) != 0)
                return cli_fail(b.n.sub, CLI_EXIT_USAGE, "--store expects redis://HOST[:PORT][/DB]");
            store = optarg;
            break;
        case 'E': edhoc_key = optarg; break;
        case 'T':
            if (n_trust == CLI_MAX_PEERS)
                return cli_fail(b.n.sub, CLI_EXIT_USAGE, "at most %d --edhoc-trust files", CLI_MAX_PEERS);
            edhoc_trust[n_trust++] = optarg;
            break;
        case 'v': b.n.verbose++; break;
        case 'h':
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: coreseal lwm2m bootstrap (--config FILE | --store redis://...) [--listen HOST:PORT]\n"
                    "                                [--edhoc KEYFILE --edhoc-trust CRED...]\n"
                    "                                [--store redis://HOST[:PORT][/DB]] [-v]\n"
                    "                                [--listen-dtls HOST:PORT [--cert FILE --key FILE --ca FILE]]\n"
                    "A LwM2M Bootstrap-Server: to each client of FILE asking over its OSCORE\n"
                    "context (POST /bs?ep=NAME), it writes the LwM2M server account and\n"
                    "that server's OSCORE context (/21, /0 with resource 17, /1), then\n"
                    "Bootstrap-Finish. --listen-dtls also takes clients over DTLS: those whose\n"
                    "account has a \"psk_key\" (PSK identity = endpoint name) and, with --cert,\n"
                    "--key and --ca, those with a certificate from --ca whose CN is an\n"
                    "account's endpoint name. With --edhoc, a client holding a trusted credential runs\n"
                    "EDHOC first and the account its credential's subject names is bootstrapped\n"
                    "over the context EDHOC gives. FILE: see docs/lwm2m.md. With --store, several\n"
                    "Bootstrap-Servers share the accounts (the one given --config FILE puts them\n"
                    "into Redis, the others take them from there) and keep their OSCORE sequence\n"
                    "numbers and replay windows in Redis: any of them answers any client\n"
                    "(docs/cluster.md).\n"
                    "example: coreseal lwm2m bootstrap --listen 127.0.0.1:5783 --config bs.json\n");
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    if (!config && !store)
        return cli_fail(b.n.sub, CLI_EXIT_USAGE, "--config FILE is required (accounts; see docs/lwm2m.md), or "
                                                 "--store redis://... holding them");
    if ((dtls.cert_file || dtls.key_file || dtls.ca_file) &&
        (!dtls.cert_file || !dtls.key_file || !dtls.ca_file || !dtls_port))
        return cli_fail(b.n.sub, CLI_EXIT_USAGE, "Certificate mode takes --cert FILE, --key FILE and --ca FILE (the "
                                                 "CA of the clients' certificates, PEM) with --listen-dtls");
    b.dtls_ca = dtls.ca_file != NULL;
    int rc = cli_security_init(&b.n.sec, b.n.sub);
    b.edhoc.method = b.edhoc.suite = -1;
    if (rc == CLI_EXIT_OK && edhoc_key) {
        rc = cli_edhoc_load_own(&b.edhoc, edhoc_key, b.n.sub);
        for (int i = 0; rc == CLI_EXIT_OK && i < n_trust; i++)
            rc = cli_edhoc_add_peer(&b.edhoc, edhoc_trust[i], b.n.sub);
        if (rc == CLI_EXIT_OK && n_trust == 0)
            rc = cli_fail(b.n.sub, CLI_EXIT_USAGE, "--edhoc needs the clients' credentials: --edhoc-trust FILE");
        cli_edhoc_responder_init(&b.edhoc_resp, &b.edhoc, &b.n.sec.crypto, 2, cli_security_recipient_id_taken,
                                 &b.n.sec);
        b.edhoc_resp.verbose = b.n.verbose;
    }
    if (rc == CLI_EXIT_OK && config)
        rc = load_accounts(&b, config);
    if (rc == CLI_EXIT_OK && store)
        rc = share_accounts(&b, config, store);
    if (rc == CLI_EXIT_OK)
        rc = node_open(&b.n, listen_host, listen_port, true);
    if (rc == CLI_EXIT_OK && dtls_port)
        rc = listen_dtls(&b, &dtls, dtls_host, dtls_port);
    cs_wipe(&dtls, sizeof dtls); /* the DTLS layer keeps its own copy */
    if (rc != CLI_EXIT_OK) {
        node_close(&b.n);
        return rc;
    }
    cli_catch_signals();
    fprintf(stderr, "coreseal lwm2m bootstrap: listening on %s:%s%s%s%s%s, %zu accounts\n", listen_host, listen_port,
            dtls_port ? ", DTLS on " : "", dtls_port ? (dtls_host ? dtls_host : "*") : "", dtls_port ? ":" : "",
            dtls_port ? dtls_port : "", b.cfg.n);
    while (!cli_stopping) {
        node_flush(&b.n);
        if (cs_udp_receive(&b.n.udp, 100) != CS_NET_OK)
            break;
        cs_time_ms_t now = cs_net_now();
        for (size_t i = 0; i < b.n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&b.n.ep, b.n.udp.in_peer[i], b.n.udp.in[i], b.n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_REQUEST) {
                bootstrap_request(&b, &ev);
                continue;
            }
            for (size_t k = 0; k < b.cfg.n; k++) {
                account_t *a = &b.acc[k];
                /* a plain session's answers come in its DTLS session only */
                if (a->step != IDLE && ev.token_len == 8 && !memcmp(ev.token, a->token, 8) &&
                    (a->oscore || ev.peer == a->peer)) {
                    if (ev.type == COAP_EV_RESPONSE)
                        step_done(&b, a, &ev);
                    else if (ev.type == COAP_EV_TIMEOUT)
                        end_session(&b, a, "the client stopped answering; bootstrap abandoned");
                }
            }
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&b.n.ep, cs_net_now(), &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            for (size_t k = 0; ev.type == COAP_EV_TIMEOUT && k < b.cfg.n; k++)
                if (b.acc[k].step != IDLE && ev.token_len == 8 && !memcmp(ev.token, b.acc[k].token, 8))
                    end_session(&b, &b.acc[k], "the client stopped answering; bootstrap abandoned");
    }
    node_flush(&b.n);
    cli_edhoc_responder_wipe(&b.edhoc_resp);
    cs_wipe(&b.edhoc, sizeof b.edhoc);
    node_close(&b.n);
    for (size_t i = 0; i < b.cfg.n; i++)
        cs_wipe(b.acc[i].servers, sizeof b.acc[i].servers); /* contexts and DTLS keys */
    cs_wipe(&b.cfg, sizeof b.cfg); /* DTLS keys */
    return CLI_EXIT_OK;
}
