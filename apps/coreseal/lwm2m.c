/* coreseal lwm2m client | server | bootstrap: the subcommand dispatcher and
 * the endpoint plumbing the three roles share (lwm2m.h). */
#define _POSIX_C_SOURCE 200809L
#include "lwm2m.h"

#include <stdlib.h>
#include <string.h>

int node_open(node_t *n, const char *host, const char *port, bool server)
{
    char err[256] = "";
    if (cs_udp_open(&n->udp, host, port, server, err, sizeof err) != CS_NET_OK)
        return cli_fail(n->sub, CLI_EXIT_NETWORK, "%s", err);
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    cfg.random = cli_random;
    cfg.random_arg = &n->sec.crypto;
    size_t mem = COAP_EP_MEM_SIZE(COAP_EP_SLOTS, LWM2M_CLI_MSG);
    n->ep_mem = malloc(mem);
    if (!n->ep_mem || coap_ep_init(&n->ep, n->ep_mem, mem, LWM2M_CLI_MSG, &cfg, cs_net_now()) != COAP_OK)
        return cli_fail(n->sub, CLI_EXIT_CONFIG, "cannot set up the CoAP endpoint");
    return CLI_EXIT_OK;
}

void node_close(node_t *n)
{
    cli_security_close(&n->sec);
    cs_udp_close(&n->udp);
    free(n->ep_mem);
    n->ep_mem = NULL;
}

void node_flush(node_t *n)
{
    if (cs_udp_collect(&n->udp, &n->ep) != CS_NET_OK || cs_udp_flush(&n->udp) != CS_NET_OK)
        fprintf(stderr, "coreseal %s: send failed\n", n->sub);
}

/* Says when the OSCORE state store (Redis, for a cluster) stops answering
 * (every 5 s while it lasts) and when it is back: meanwhile nothing that
 * needs it is sent or accepted. */
static void note_state(node_t *n, oscore_err_t e)
{
    cs_time_ms_t now = cs_net_now();
    if (e == OSCORE_ERR_STORAGE && (!n->state_down || now - n->state_warned >= 5000)) {
        fprintf(stderr, "coreseal %s: the OSCORE state store cannot be reached: protected messages are neither "
                        "sent nor accepted until it is back\n", n->sub);
        n->state_warned = now;
    } else if (e != OSCORE_ERR_STORAGE && n->state_down) {
        fprintf(stderr, "coreseal %s: the OSCORE state store is reachable again\n", n->sub);
    }
    n->state_down = e == OSCORE_ERR_STORAGE;
}

/* Protects (if ctx) and sends the request in n->last. */
static bool send_last(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, bool observe, oscore_binding_t *bind)
{
    uint8_t prot[LWM2M_CLI_MSG];
    coap_msg_t m;
    size_t len = n->last_len;
    if (coap_msg_parse(&m, n->last, n->last_len) != COAP_OK)
        return false;
    const uint8_t *wire = n->last;
    if (ctx) {
        oscore_err_t e = oscore_protect_request(ctx, &m, prot, sizeof prot, &len, bind);
        note_state(n, e);
        if (e != OSCORE_OK)
            return false;
        wire = prot;
    }
    return coap_ep_send_request(&n->ep, peer, wire, len, observe, cs_net_now()) == COAP_OK;
}

bool node_request(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, uint8_t code, coap_optlist_t *l,
                  const uint8_t *pl, size_t pl_len, bool observe, uint8_t token[8], oscore_binding_t *bind)
{
    coap_builder_t b;
    if (coap_ep_new_token(&n->ep, token, 8) != COAP_OK)
        return false;
    coap_builder_init(&b, n->last, sizeof n->last, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 0, token, 8);
    if (coap_optlist_write(l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, pl, pl_len);
    return coap_builder_finish(&b, &n->last_len) == COAP_OK && send_last(n, peer, ctx, observe, bind);
}

/* The request in plain again, with a new token and (if given) that Echo
 * value in place of any earlier one. */
static bool repeat_request(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, const uint8_t *plain,
                           size_t plain_len, const coap_opt_t *echo, bool observe, uint8_t token[8],
                           oscore_binding_t *bind)
{
    coap_msg_t orig;
    coap_opt_t o, list[24];
    coap_optlist_t l;
    coap_opt_iter_t it;
    uint8_t arena[512];
    if (coap_msg_parse(&orig, plain, plain_len) != COAP_OK)
        return false;
    coap_optlist_init(&l, list, 24, arena, sizeof arena);
    coap_opt_iter_init(&it, &orig);
    while (coap_opt_next(&it, &o))
        if (o.num != COAP_OPT_ECHO || !echo)
            coap_optlist_add(&l, o.num, o.val, o.len);
    if (echo)
        coap_optlist_add(&l, COAP_OPT_ECHO, echo->val, echo->len);
    return node_request(n, peer, ctx, orig.code, &l, orig.payload, orig.payload_len, observe, token, bind);
}

bool node_repeat_with_echo(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, const uint8_t *plain,
                           size_t plain_len, const coap_msg_t *resp, bool observe, uint8_t token[8],
                           oscore_binding_t *bind)
{
    coap_opt_t echo;
    if (resp->code != COAP_UNAUTHORIZED || !coap_msg_find_option(resp, COAP_OPT_ECHO, &echo))
        return false;
    if (n->verbose)
        fprintf(stderr, "* the peer asks for freshness (Echo): repeating the request\n");
    return repeat_request(n, peer, ctx, plain, plain_len, &echo, observe, token, bind);
}

bool node_follow_b2_response(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx,
                             const oscore_params_t *base, const coap_msg_t *resp,
                             const oscore_binding_t *req_bind, const uint8_t *plain,
                             size_t plain_len, bool observe, uint8_t token[8],
                             oscore_binding_t *bind)
{
    uint8_t buf[LWM2M_CLI_MSG];
    size_t len;
    oscore_err_t e = oscore_b2_accept_response1(ctx, base, req_bind, resp, buf, sizeof buf, &len);
    cs_wipe(buf, sizeof buf);
    if (e != OSCORE_OK) {
        fprintf(stderr, "coreseal %s: RFC 8613 B.2 response #1 rejected: %s [%s]\n", n->sub,
                coreseal_strerror(e), coreseal_errname(e));
        return false;
    }
    if (n->verbose)
        fprintf(stderr, "* new OSCORE context with the peer (RFC 8613 B.2): repeating the request\n");
    return repeat_request(n, peer, ctx, plain, plain_len, NULL, observe, token, bind);
}

oscore_err_t node_open_msg(node_t *n, oscore_ctx_t *ctx, const coap_ep_event_t *ev, bool request,
                           oscore_binding_t *bind, uint8_t *buf, coap_msg_t *out)
{
    oscore_option_t opt;
    if (oscore_msg_option(&ev->msg, &opt) == OSCORE_ERR_NOT_PROTECTED) {
        *out = ev->msg;
        return ctx ? OSCORE_ERR_NOT_PROTECTED : OSCORE_OK; /* with OSCORE set up, plain is refused */
    }
    if (!ctx)
        return OSCORE_ERR_UNKNOWN_CONTEXT;
    size_t len;
    oscore_err_t e = request ? oscore_unprotect_request(ctx, &ev->msg, buf, LWM2M_CLI_MSG, &len, bind)
                             : oscore_unprotect_response(ctx, bind, &ev->msg, buf, LWM2M_CLI_MSG, &len);
    if (e == OSCORE_OK || e == OSCORE_ERR_STORAGE)
        note_state(n, e);
    if (e != OSCORE_OK) {
        if (n->verbose)
            fprintf(stderr, "* OSCORE: %s\n", coreseal_strerror(e));
        return e;
    }
    return coap_msg_parse(out, buf, len) == COAP_OK ? OSCORE_OK : OSCORE_ERR_DECRYPT;
}

bool node_verify_request(node_t *n, oscore_ctx_t *ctx, const coap_ep_event_t *ev, oscore_binding_t *bind,
                         uint8_t *buf, coap_msg_t *out)
{
    memset(bind, 0, sizeof *bind);
    oscore_err_t e = node_open_msg(n, ctx, ev, true, bind, buf, out);
    if (e == OSCORE_OK)
        return true;
    if (e == OSCORE_ERR_ECHO_REQUIRED) { /* first use, or a window lost: prove freshness */
        uint8_t echo[OSCORE_ECHO_LEN], arena[16];
        coap_opt_t list[1];
        coap_optlist_t l;
        coap_optlist_init(&l, list, 1, arena, sizeof arena);
        if (oscore_echo_challenge(ctx, echo) != OSCORE_OK)
            return false;
        coap_optlist_add(&l, COAP_OPT_ECHO, echo, sizeof echo);
        node_reply(n, ev, ctx, bind, COAP_UNAUTHORIZED, &l, NULL, 0, false, 0, ev->msg.token, ev->msg.token_len);
        return false;
    }
    uint8_t code = e == OSCORE_ERR_NOT_PROTECTED ? COAP_UNAUTHORIZED : oscore_err_to_coap_code(e);
    const char *diag = e == OSCORE_ERR_NOT_PROTECTED ? "OSCORE required" : oscore_err_diagnostic(e);
    if (code)
        node_reply(n, ev, NULL, NULL, code, NULL, (const uint8_t *)diag, diag ? strlen(diag) : 0, false, 0,
                   ev->msg.token, ev->msg.token_len);
    return false;
}

/* An answer's unprotected form in plain (LWM2M_CLI_MSG bytes). */
static bool build_reply(uint8_t code, coap_optlist_t *l, const uint8_t *pl, size_t pl_len,
                        const uint8_t *token, size_t tkl, uint8_t *plain, size_t *len, coap_msg_t *m)
{
    coap_builder_t b;
    coap_builder_init(&b, plain, LWM2M_CLI_MSG, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, code, 0, token, tkl);
    if (l && coap_optlist_write(l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, pl, pl_len);
    return coap_builder_finish(&b, len) == COAP_OK && coap_msg_parse(m, plain, *len) == COAP_OK;
}

bool node_verify_b2_request(node_t *n, oscore_ctx_t *ctx, const oscore_params_t *base,
                            const coap_ep_event_t *ev, oscore_binding_t *bind, uint8_t *buf,
                            coap_msg_t *out)
{
    oscore_option_t opt;
    size_t len;
    oscore_err_t e = oscore_msg_option(&ev->msg, &opt);
    if (e == OSCORE_OK && !oscore_b2_is_request2(ctx, &opt)) {
        uint8_t plain[LWM2M_CLI_MSG], prot[LWM2M_CLI_MSG];
        coap_msg_t m;
        if (!build_reply(COAP_UNAUTHORIZED, NULL, NULL, 0, ev->msg.token, ev->msg.token_len, plain, &len, &m))
            return false;
        e = oscore_b2_answer_request1(ctx, base, &ev->msg, &m, prot, sizeof prot, &len);
        if (e == OSCORE_OK) {
            if (n->verbose)
                fprintf(stderr, "* unknown kid context: new OSCORE context offered (RFC 8613 B.2)\n");
            if (coap_ep_respond(&n->ep, ev, prot, len, cs_net_now()) != COAP_OK && n->verbose)
                fprintf(stderr, "* cannot answer\n");
            return false;
        }
    } else if (e == OSCORE_OK) {
        e = oscore_b2_accept_request2(ctx, base, &ev->msg, buf, LWM2M_CLI_MSG, &len, bind);
        if (e == OSCORE_OK && coap_msg_parse(out, buf, len) == COAP_OK) {
            if (n->verbose)
                fprintf(stderr, "* new OSCORE context established (RFC 8613 B.2)\n");
            return true;
        }
    }
    uint8_t code = oscore_err_to_coap_code(e);
    const char *diag = oscore_err_diagnostic(e);
    if (n->verbose)
        fprintf(stderr, "* OSCORE (B.2): %s\n", coreseal_strerror(e));
    if (code)
        node_reply(n, ev, NULL, NULL, code, NULL, (const uint8_t *)diag, strlen(diag), false, 0, ev->msg.token,
                   ev->msg.token_len);
    return false;
}

/* An answer to ev, or (notification) a message sent separately to peer. */
static void send_reply(node_t *n, const coap_ep_event_t *ev, oscore_ctx_t *ctx, const oscore_binding_t *bind,
                       uint8_t code, coap_optlist_t *l, const uint8_t *pl, size_t pl_len, bool notification,
                       bool con, coap_peer_t peer, const uint8_t *token, size_t tkl)
{
    uint8_t plain[LWM2M_CLI_MSG], prot[LWM2M_CLI_MSG];
    size_t len;
    coap_msg_t m;
    if (!build_reply(code, l, pl, pl_len, token, tkl, plain, &len, &m))
        return;
    const uint8_t *wire = plain;
    if (ctx) {
        if (oscore_protect_response(ctx, bind, &m, notification, prot, sizeof prot, &len) != OSCORE_OK)
            return;
        wire = prot;
    }
    coap_err_t e = notification ? coap_ep_send_separate(&n->ep, peer, wire, len, con, cs_net_now())
                                : coap_ep_respond(&n->ep, ev, wire, len, cs_net_now());
    if (e != COAP_OK && n->verbose)
        fprintf(stderr, "* cannot answer: %s\n", coreseal_strerror(e));
}

void node_reply(node_t *n, const coap_ep_event_t *ev, oscore_ctx_t *ctx, const oscore_binding_t *bind,
                uint8_t code, coap_optlist_t *l, const uint8_t *pl, size_t pl_len, bool notification,
                coap_peer_t peer, const uint8_t *token, size_t tkl)
{
    send_reply(n, ev, ctx, bind, code, l, pl, pl_len, notification, false, peer, token, tkl);
}

void node_notify(node_t *n, oscore_ctx_t *ctx, const oscore_binding_t *bind, coap_optlist_t *l,
                 const uint8_t *pl, size_t pl_len, bool con, coap_peer_t peer, const uint8_t *token,
                 size_t tkl)
{
    send_reply(n, NULL, ctx, bind, COAP_CONTENT, l, pl, pl_len, true, con, peer, token, tkl);
}

bool node_location_keep(node_location_t *loc, const coap_msg_t *resp)
{
    coap_opt_iter_t it;
    coap_opt_t o;
    size_t n = 0;
    coap_opt_iter_init(&it, resp);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_LOCATION_PATH)
            continue;
        if (n + o.len + 1 > sizeof loc->segs || memchr(o.val, 0, o.len))
            return false;
        memcpy(loc->segs + n, o.val, o.len);
        loc->segs[n + o.len] = 0;
        n += o.len + 1;
    }
    loc->len = (uint8_t)n;
    return n > 0;
}

void node_location_add(const node_location_t *loc, coap_optlist_t *l)
{
    for (size_t i = 0; i < loc->len; i += strlen(loc->segs + i) + 1)
        coap_optlist_add(l, COAP_OPT_URI_PATH, loc->segs + i, strlen(loc->segs + i));
}

void node_location_text(const node_location_t *loc, char *out, size_t cap)
{
    size_t t = 0;
    out[0] = 0;
    for (size_t i = 0; i < loc->len && t < cap; i += strlen(loc->segs + i) + 1)
        t += (size_t)snprintf(out + t, cap - t, "/%s", loc->segs + i);
}

bool node_uri_host_port(const char *uri, size_t len, char *host, size_t host_cap, char *port, size_t port_cap)
{
    coap_uri_t u;
    if (coap_uri_parse(&u, uri, len) != COAP_OK || u.host_len >= host_cap || strncmp(u.scheme, "coap", 4))
        return false;
    snprintf(host, host_cap, "%.*s", (int)u.host_len, u.host);
    snprintf(port, port_cap, "%u", u.port);
    return true;
}

int cmd_lwm2m(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "client") == 0)
        return lwm2m_client_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        return lwm2m_server_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "bootstrap") == 0)
        return lwm2m_bootstrap_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "swarm") == 0)
        return lwm2m_swarm_main(argc - 1, argv + 1);
    bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
    fprintf(help ? stdout : stderr,
            "usage: coreseal lwm2m client|server|bootstrap|swarm [options]   ('coreseal lwm2m client --help')\n");
    return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
