/* coreseal lwm2m server: keeps registrations in the library's registry,
 * writes attributes, reads and observes the paths it is told to after each
 * Register, and prints what it gets, Sends included. A client registering
 * over OSCORE must use its Sender ID as endpoint name (4.00 otherwise) and
 * proves freshness with Echo on the first use of its context (Transport
 * TS); the registry holds its context next to its registration. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/lwm2m_model.h"
#include "coreseal/lwm2m_registry.h"
#include "lwm2m.h"

/* A query (Read or Observe) the server sent to a registered client. */
typedef struct {
    bool active;
    uint8_t token[8];
    lwm2m_client_t *client;
    char path[32];
    oscore_binding_t bind;
    bool observe;
    bool attributes; /* a Write-Attributes */
    uint8_t plain[256]; /* the request, to repeat with Echo when asked */
    size_t plain_len;
    bool echoed;
} query_t;

#define MAX_QUERIES 64

static oscore_ctx_t *client_oscore(lwm2m_client_t *c)
{
    return c && c->has_oscore ? &c->oscore : NULL;
}

static void print_value_payload(const char *what, const char *ep, const char *path, const coap_msg_t *m)
{
    coap_opt_t o;
    uint32_t cf = 0;
    if (coap_msg_find_option(m, COAP_OPT_CONTENT_FORMAT, &o))
        (void)coap_opt_uint(&o, &cf);
    char code[32];
    if (COAP_CODE_CLASS(m->code) > 2) { /* an error response; requests (Send) and 2.xx carry values */
        printf("server: %s %s %s -> %s\n", what, ep, path, cli_code_str(m->code, code));
    } else if (cf == LWM2M_CF_TEXT) {
        printf("server: %s %s %s = %.*s\n", what, ep, path, (int)m->payload_len,
               (const char *)m->payload);
    } else if (cf == LWM2M_CF_TLV || cf == LWM2M_CF_SENML_CBOR) {
        /* one line per value; TLV values shown as text when they are */
        lwm2m_tlv_dec_t td;
        lwm2m_senml_dec_t sd;
        lwm2m_entry_t e;
        lwm2m_path_t base;
        if (lwm2m_path_parse(&base, path, strlen(path)) != LWM2M_OK)
            return;
        lwm2m_tlv_dec_init(&td, m->payload, m->payload_len, &base);
        lwm2m_senml_dec_init(&sd, m->payload, m->payload_len);
        while ((cf == LWM2M_CF_TLV ? lwm2m_tlv_next(&td, &e) : lwm2m_senml_next(&sd, &e)) == LWM2M_OK) {
            char ps[32];
            uint8_t text[64];
            size_t tn = 0;
            lwm2m_path_format(&e.path, ps, sizeof ps);
            if (cf == LWM2M_CF_SENML_CBOR && lwm2m_text_encode(&e.value, text, sizeof text, &tn) != LWM2M_OK)
                tn = 0;
            if (cf == LWM2M_CF_TLV) {
                tn = e.raw_len < sizeof text ? e.raw_len : sizeof text;
                memcpy(text, e.raw, tn);
                for (size_t i = 0; i < tn; i++)
                    if (text[i] < 0x20 || text[i] > 0x7e)
                        text[i] = '.';
            }
            printf("server: %s %s %s = %.*s\n", what, ep, ps, (int)tn, (const char *)text);
        }
    } else {
        printf("server: %s %s %s: %zu bytes (format %u)\n", what, ep, path, m->payload_len, cf);
    }
    fflush(stdout);
}

/* POST /dp: a Send. */
static bool is_send(const coap_msg_t *req)
{
    coap_opt_iter_t it;
    coap_opt_t o;
    int seg = 0;
    bool dp = false;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o))
        if (o.num == COAP_OPT_URI_PATH)
            dp = seg++ == 0 && o.len == 2 && !memcmp(o.val, "dp", 2);
    return dp && seg == 1;
}

static void cancel_queries(node_t *n, query_t *queries, const lwm2m_client_t *c)
{
    for (size_t q = 0; q < MAX_QUERIES; q++)
        if (queries[q].active && queries[q].client == c) {
            coap_ep_cancel(&n->ep, c->peer, queries[q].token, 8);
            queries[q].active = false;
        }
}

/* The code a refused Register gets. */
static uint8_t register_refusal_code(lwm2m_err_t e)
{
    switch (e) {
    case LWM2M_ERR_FULL: return COAP_SERVICE_UNAVAILABLE;
    case LWM2M_ERR_TOO_LARGE: return COAP_REQUEST_ENTITY_TOO_LARGE;
    case LWM2M_ERR_ENDPOINT_TAKEN: return COAP_FORBIDDEN;
    default: return COAP_BAD_REQUEST; /* incl. ep not the OSCORE Sender ID (Transport TS) */
    }
}

int lwm2m_server_main(int argc, char **argv)
{
    static node_t n;
    static query_t queries[MAX_QUERIES];
    memset(&n, 0, sizeof n);
    memset(queries, 0, sizeof queries);
    n.sub = "lwm2m server";
    const char *listen_host = "::", *listen_port = "5683";
    const char *oscore_files[CLI_MAX_CONTEXTS], *reads[8], *observes[8], *attributes[8];
    int n_oscore = 0, n_reads = 0, n_observes = 0, n_attributes = 0;
    long max_clients = 1000;
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"oscore", required_argument, NULL, 'O'},
        {"read", required_argument, NULL, 'r'},   {"observe", required_argument, NULL, 'o'},
        {"max-clients", required_argument, NULL, 'm'}, {"attributes", required_argument, NULL, 'a'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:r:o:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &listen_host, &listen_port) != 0)
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--listen expects HOST:PORT");
            break;
        case 'O': if (n_oscore < CLI_MAX_CONTEXTS) oscore_files[n_oscore++] = optarg; break;
        case 'r': if (n_reads < 8) reads[n_reads++] = optarg; break;
        case 'o': if (n_observes < 8) observes[n_observes++] = optarg; break;
        case 'a':
            if (!strchr(optarg, '?'))
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--attributes expects PATH?QUERY, e.g. /3303/0/5700?pmin=5&st=0.5");
            if (n_attributes < 8)
                attributes[n_attributes++] = optarg;
            break;
        case 'm':
            max_clients = strtol(optarg, NULL, 10);
            if (max_clients < 1 || max_clients > 50000000)
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--max-clients expects 1..50000000");
            break;
        case 'v': n.verbose++; break;
        case 'h':
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: coreseal lwm2m server [--listen HOST:PORT] [--oscore FILE]...\n"
                    "                             [--attributes PATH?QUERY]... [--read PATH]...\n"
                    "                             [--observe PATH]... [--max-clients N]\n"
                    "Accepts LwM2M registrations; after each Register writes the attributes\n"
                    "(pmin, pmax, gt, lt, st, epmin, epmax), reads and observes the given\n"
                    "paths and prints the values, and those clients Send (POST /dp). A client\n"
                    "using OSCORE must register with its Sender ID as endpoint name (4.00\n"
                    "otherwise). --max-clients sizes the registry (about 700 bytes each;\n"
                    "default 1000).\n");
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    if (n_oscore > max_clients)
        return cli_fail(n.sub, CLI_EXIT_USAGE, "--max-clients must cover the %d --oscore contexts", n_oscore);
    int rc = cli_security_init(&n.sec, n.sub);
    for (int i = 0; rc == CLI_EXIT_OK && i < n_oscore; i++)
        rc = cli_security_add(&n.sec, oscore_files[i], n.sub);
    /* The registry holds the live contexts; the state files stay with
     * n.sec and get the final state copied back at exit. */
    lwm2m_registry_t reg;
    lwm2m_client_t *live[CLI_MAX_CONTEXTS];
    size_t index_len = lwm2m_registry_index_len((uint32_t)max_clients);
    lwm2m_client_t *clients = calloc((size_t)max_clients, sizeof *clients);
    uint64_t *index = calloc(index_len, sizeof *index);
    uint64_t seed = 0;
    if (rc == CLI_EXIT_OK && (!clients || !index || !cli_random(&n.sec.crypto, (uint8_t *)&seed, sizeof seed) ||
                              lwm2m_registry_init(&reg, clients, (uint32_t)max_clients, index, index_len,
                                                  seed) != LWM2M_OK))
        rc = cli_fail(n.sub, CLI_EXIT_CONFIG, "no memory for %ld clients; lower --max-clients", max_clients);
    for (int i = 0; rc == CLI_EXIT_OK && i < n.sec.n; i++) {
        cli_security_require_echo_on_first_use(&n.sec.ctx[i]);
        lwm2m_err_t e = lwm2m_registry_add_oscore(&reg, &n.sec.ctx[i].ctx, NULL, 0, &live[i]);
        if (e != LWM2M_OK)
            rc = cli_fail(n.sub, CLI_EXIT_CONFIG, "%s: %s", n.sec.ctx[i].path, coreseal_strerror(e));
        else
            oscore_ctx_wipe(&n.sec.ctx[i].ctx); /* one copy of the keys */
    }
    if (rc != CLI_EXIT_OK || (rc = node_open(&n, listen_host, listen_port, true)) != CLI_EXIT_OK) {
        node_close(&n);
        free(clients);
        free(index);
        return rc;
    }
    cli_catch_signals();
    fprintf(stderr, "coreseal lwm2m server: listening on %s:%s\n", listen_host, listen_port);
    uint8_t buf[LWM2M_CLI_MSG], arena[256];
    coap_opt_t list[16];
    coap_optlist_t l;
    while (!cli_stopping) {
        node_flush(&n);
        if (cs_udp_receive(&n.udp, 100) != CS_NET_OK)
            break;
        cs_time_ms_t now = cs_net_now();
        for (lwm2m_client_t *x; (x = lwm2m_registry_sweep(&reg, now, 256));) {
            cancel_queries(&n, queries, x);
            printf("server: registration of %s expired\n", x->endpoint);
            fflush(stdout);
        }
        for (size_t i = 0; i < n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&n.ep, n.udp.in_peer[i], n.udp.in[i], n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_RESPONSE) {
                for (size_t q = 0; q < MAX_QUERIES; q++) {
                    query_t *qr = &queries[q];
                    coap_msg_t resp;
                    if (!qr->active || memcmp(qr->token, ev.token, 8) != 0)
                        continue;
                    char code[32];
                    oscore_err_t oe = node_open_msg(&n, client_oscore(qr->client), &ev, false, &qr->bind, buf, &resp);
                    if (oe == OSCORE_OK && !qr->echoed && resp.code == COAP_UNAUTHORIZED) {
                        /* the client lost its replay window (a reboot): prove freshness (B.1.2) */
                        uint8_t plain[sizeof qr->plain];
                        memcpy(plain, qr->plain, qr->plain_len);
                        coap_ep_cancel(&n.ep, qr->client->peer, qr->token, 8);
                        qr->echoed = node_repeat_with_echo(&n, qr->client->peer, client_oscore(qr->client), plain,
                                                           qr->plain_len, &resp, qr->observe, qr->token, &qr->bind);
                        if (qr->echoed)
                            continue;
                    }
                    if (oe != OSCORE_OK)
                        printf("server: %s: response from %s rejected by OSCORE\n", qr->path,
                               qr->client->endpoint);
                    else if (qr->attributes)
                        printf("server: attributes %s %s -> %s\n", qr->client->endpoint, qr->path,
                               cli_code_str(resp.code, code));
                    else
                        print_value_payload(qr->observe ? "notify" : "read", qr->client->endpoint, qr->path, &resp);
                    fflush(stdout);
                    if (!qr->observe)
                        qr->active = false;
                }
                continue;
            }
            if (ev.type != COAP_EV_REQUEST)
                continue;
            /* OSCORE: which client's context, if any */
            lwm2m_client_t *client = NULL;
            oscore_option_t opt;
            oscore_binding_t bind;
            if (oscore_msg_option(&ev.msg, &opt) == OSCORE_OK &&
                !(client = lwm2m_registry_find_oscore(&reg, &opt))) {
                node_reply(&n, &ev, NULL, NULL, COAP_UNAUTHORIZED, NULL,
                      (const uint8_t *)"Security context not found", 26, false, 0, ev.msg.token, ev.msg.token_len);
                continue;
            }
            oscore_ctx_t *octx = client_oscore(client);
            coap_msg_t req;
            if (!node_verify_request(&n, octx, &ev, &bind, buf, &req))
                continue;
            lwm2m_register_info_t info;
            coap_optlist_init(&l, list, 16, arena, sizeof arena);
            if (req.code == COAP_POST && lwm2m_register_parse(&req, &info) == LWM2M_OK) {
                lwm2m_client_t *r = NULL;
                lwm2m_err_t e = lwm2m_registry_register(&reg, client, &info, req.payload, req.payload_len,
                                                        ev.peer, now, &r);
                if (e != LWM2M_OK) {
                    printf("server: refused %.*s: %s\n", (int)info.endpoint_len, info.endpoint,
                           coreseal_strerror(e));
                    fflush(stdout);
                    node_reply(&n, &ev, octx, &bind, register_refusal_code(e), NULL, NULL, 0, false, 0, req.token,
                          req.token_len);
                    continue;
                }
                cancel_queries(&n, queries, r); /* a re-registration starts afresh */
                char loc[16];
                snprintf(loc, sizeof loc, "%u", (unsigned)lwm2m_registry_location(&reg, r));
                coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, "rd", 2);
                coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, loc, strlen(loc));
                node_reply(&n, &ev, octx, &bind, COAP_CREATED, &l, NULL, 0, false, 0, req.token, req.token_len);
                printf("server: registered %s lt=%u%s objects %.*s\n", r->endpoint, r->lifetime,
                       octx ? " over OSCORE" : "", (int)r->links_len, r->links);
                fflush(stdout);
                /* the configured attributes, reads and observations, to the new client */
                for (int k = 0; k < n_attributes + n_reads + n_observes; k++) {
                    query_t *qr = NULL;
                    for (size_t q = 0; q < MAX_QUERIES && !qr; q++)
                        if (!queries[q].active)
                            qr = &queries[q];
                    if (!qr)
                        break;
                    bool attr = k < n_attributes, obs = k >= n_attributes + n_reads;
                    const char *path = attr ? attributes[k] : obs ? observes[k - n_attributes - n_reads]
                                                                  : reads[k - n_attributes];
                    /* PATH[?QUERY], sent to the client's address: no Uri-Host */
                    size_t path_len = strcspn(path, "?");
                    coap_uri_t target = {.path = path, .path_len = path_len, .host_is_literal = true};
                    if (path[path_len] == '?') {
                        target.query = path + path_len + 1;
                        target.query_len = strlen(target.query);
                    }
                    coap_optlist_init(&l, list, 16, arena, sizeof arena);
                    if (obs)
                        coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 0);
                    coap_optlist_add_uri(&l, &target, false);
                    memset(qr, 0, sizeof *qr);
                    if (node_request(&n, r->peer, octx, attr ? COAP_PUT : COAP_GET, &l, NULL, 0, obs, qr->token,
                                 &qr->bind)) {
                        qr->active = true;
                        qr->client = r;
                        qr->plain_len = n.last_len < sizeof qr->plain ? n.last_len : 0;
                        memcpy(qr->plain, n.last, qr->plain_len);
                        qr->observe = obs;
                        qr->attributes = attr;
                        snprintf(qr->path, sizeof qr->path, "%.*s", (int)path_len, path);
                    }
                }
                continue;
            }
            if (req.code == COAP_POST && is_send(&req)) { /* Send: from registered clients */
                if (client && client->state != LWM2M_CLIENT_REGISTERED) {
                    node_reply(&n, &ev, octx, &bind, COAP_NOT_FOUND, NULL, NULL, 0, false, 0, req.token,
                          req.token_len);
                    continue;
                }
                print_value_payload("send", client ? client->endpoint : "(unprotected)", "/", &req);
                node_reply(&n, &ev, octx, &bind, COAP_CHANGED, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            /* Update (POST /rd/<location>) and De-register (DELETE /rd/<location>):
             * only by the client that registered there */
            uint32_t location = 0, lifetime = 0;
            lwm2m_err_t pe = lwm2m_update_parse(&req, &location, &lifetime);
            if (pe == LWM2M_ERR_MALFORMED) {
                node_reply(&n, &ev, octx, &bind, COAP_BAD_REQUEST, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            lwm2m_client_t *r = pe == LWM2M_OK ? lwm2m_registry_at(&reg, location) : NULL;
            if (!r || (client ? r != client : r->has_oscore)) {
                node_reply(&n, &ev, octx, &bind, COAP_NOT_FOUND, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            if (req.code == COAP_DELETE) {
                printf("server: de-registered %s\n", r->endpoint);
                cancel_queries(&n, queries, r);
                lwm2m_registry_deregister(&reg, r);
                node_reply(&n, &ev, octx, &bind, COAP_DELETED, NULL, NULL, 0, false, 0, req.token, req.token_len);
            } else if (req.code == COAP_POST) {
                lwm2m_err_t e = lwm2m_registry_update(&reg, r, lifetime, req.payload_len ? req.payload : NULL,
                                                      req.payload_len, ev.peer, now);
                printf("server: update from %s%s%s\n", r->endpoint, e == LWM2M_OK ? "" : ": ",
                       e == LWM2M_OK ? "" : coreseal_strerror(e));
                node_reply(&n, &ev, octx, &bind, e == LWM2M_OK ? COAP_CHANGED : register_refusal_code(e), NULL, NULL,
                      0, false, 0, req.token, req.token_len);
            } else {
                node_reply(&n, &ev, octx, &bind, COAP_METHOD_NOT_ALLOWED, NULL, NULL, 0, false, 0, req.token,
                      req.token_len);
            }
            fflush(stdout);
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&n.ep, cs_net_now(), &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            ;
    }
    node_flush(&n);
    for (int i = 0; i < n.sec.n; i++) /* the state files save what the registry's contexts reached */
        n.sec.ctx[i].ctx = live[i]->oscore;
    node_close(&n);
    for (uint32_t i = 0; i < reg.n_clients; i++)
        if (clients[i].has_oscore)
            oscore_ctx_wipe(&clients[i].oscore);
    free(clients);
    free(index);
    return CLI_EXIT_OK;
}
