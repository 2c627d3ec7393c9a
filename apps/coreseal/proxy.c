/* coreseal proxy: a CoAP proxy over UDP, TCP and WebSockets (RFC 8323) and
 * DTLS, and a cross-proxy to and from HTTP, that is untrusted by design,
 * translating per hop. It
 * forwards (Proxy-Scheme/Uri-Host/Uri-Port, Proxy-Uri; RFC 7252 §5.7) or
 * reverse-proxies (by Uri-Host, the only routing information OSCORE leaves
 * outside, RFC 8613 §4.1.3) without ever holding OSCORE keys. --log writes
 * what it can see of every message; --attack turns it into the adversary
 * of the white paper (bit flips, drops, replays, option stripping) so tests
 * can show that the endpoints catch every change to protected parts.
 * --block-size makes it the fragmenting proxy of RFC 8613 §4.1.3.4.2: OSCORE
 * messages cross the upstream hop in Outer Block1/Block2 pieces of that
 * size, which it gathers again for the client; --client-block-size does the
 * same toward the client for answers (the client asks for the later
 * blocks, served from a copy kept here). */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coreseal/coap_ep.h"
#include "coreseal/http_map.h"
#include "coreseal/net.h"
#include "http_client.h"
#include "http_gateway.h"
#include "proxy_attack.h"

#define MAX_MSG 1400
#define MAX_PENDING 256
#define MAX_CACHE 64
#define CACHE_KEY_MAX 600
#define COAP_HOP_LIMIT_REACHED 0xa8 /* 5.08, RFC 8768 */

typedef struct {
    bool active, answered, observe;
    bool cacheable;             /* --cache: a plain GET whose answer may be kept */
    uint8_t key[CACHE_KEY_MAX];
    size_t key_len, target_len;
    coap_ep_event_t down;       /* the client's request: peer, mid, type, token */
    uint8_t up_token[8];
    coap_peer_t up_peer;
    /* --block-size: an OSCORE exchange in outer blocks upstream */
    bool outer;
    uint8_t req[MAX_MSG];       /* the whole upstream request */
    size_t req_len;
    bool b1_done;               /* every Block1 piece went, or none was needed */
    uint32_t num;               /* Block1 piece being sent, then Block2 block asked */
    uint8_t szx;
    uint8_t rtag[4];            /* outer Request-Tag of the Block1 pieces */
    uint8_t resp[MAX_MSG];      /* the response, gathered from Block2 blocks */
    coap_body_t body;
    uint8_t osc[48];            /* the client's OSCORE option: names the request */
    size_t osc_len;
    /* --listen-http: an HTTP request mapped to CoAP (RFC 8075) */
    hc_cmd_t *http;
    bool to_http;               /* a CoAP request sent on as HTTP (RFC 7252 §10.1) */
    bool block1;                /* ... with a body from Block1 blocks: the answer echoes `b1` */
    coap_block_t b1;
    uint8_t *gathered;          /* Block2 blocks of a plain answer, put together */
    size_t gathered_len;
    uint32_t b2_num;            /* the Block2 block asked for next */
    uint8_t b2_szx;
} pending_t;

/* An answer a client fetches in outer Block2 blocks (--client-block-size). */
#define MAX_KEPT 8
typedef struct {
    bool active;
    coap_peer_t peer;
    uint8_t osc[48];
    size_t osc_len;
    uint8_t msg[MAX_MSG];
    size_t len;
    cs_time_ms_t expires;
} kept_t;


/* --cache: plain CoAP answers kept for their Max-Age (RFC 7252 §5.6, 5.7.1). */
typedef struct {
    bool used;
    uint8_t key[CACHE_KEY_MAX]; /* target URI, NUL, then the request's cache-key options */
    size_t key_len, target_len;
    uint8_t msg[MAX_MSG];       /* the answer as the server sent it */
    size_t len;
    cs_time_ms_t stored, expires;
} cached_t;


/* A request body in Block1 blocks on its way to an HTTP server: gathered
 * whole (RFC 7959 §2.3, each block but the last answered 2.31), then sent
 * as one HTTP request. One per client, URL and Request-Tag. */
#define MAX_HTTP_BODIES 8
#define HTTP_BODY_MAX (1u << 20)
typedef struct {
    bool active;
    coap_peer_t peer;
    char url[1024];
    uint8_t tag[8];
    size_t tag_len;
    uint8_t *data; /* HTTP_BODY_MAX bytes while active */
    coap_body_t body;
    coap_block_t last; /* the block that completed it */
    cs_time_ms_t expires;
} http_body_t;

/* --relay: a device's own way to the server (see the relay section). */
#define MAX_RELAYED 64
#define RELAY_CONS 8
#define RELAY_IDLE_MS (3600 * 1000)
typedef struct {
    bool active;
    coap_peer_t device;
    cs_udp_t up;
    coap_peer_t server;
    cs_time_ms_t last;
    struct {
        bool used;
        uint8_t token[COAP_MAX_TOKEN_LEN], tkl;
        uint16_t mid;
    } con[RELAY_CONS]; /* the server's CON requests to a device over TCP */
    size_t con_next;
} relayed_t;

typedef struct {
    const char *listen_host, *listen_port;
    const char *tcp_host, *tcp_port; /* --listen-tcp */
    const char *ws_host, *ws_port;   /* --listen-ws */
    const char *dtls_host, *dtls_port; /* --listen-dtls */
    const char *http_host, *http_port; /* --listen-http */
    hc_gateway_t *gw;
    hc_multi_t *http_up; /* requests to http(s):// targets under way */
    http_body_t bodies[MAX_HTTP_BODIES];
    cs_dtls_config_t down_dtls, up_dtls; /* toward clients, toward coaps:// servers */
    bool forward;
    cs_proxy_routes_t routes; /* --route, --default, --routes FILE */
    FILE *log;
    FILE *pcap; /* --pcap: every datagram as it crossed the proxy */
    int verbose;
    attacker_t atk; /* --attack */
    bool relay;     /* --relay */
    relayed_t *relayed[MAX_RELAYED];
    cs_crypto_t crypto;
    cs_udp_t down_udp, up_udp;
    coap_ep_t down, up;
    uint8_t *down_mem, *up_mem;
    pending_t pend[MAX_PENDING];
    unsigned long forwarded;
    uint8_t block_szx; /* --block-size; 0xff: off */
    uint8_t client_szx; /* --client-block-size; 0xff: off */
    kept_t kept[MAX_KEPT];
    bool cache_on;
    cached_t cache[MAX_CACHE];
    unsigned long cache_hits;
} proxy_t;

/* --pcap: a datagram received from (or sent to) peer on udp. */
static void capture(proxy_t *p, cs_udp_t *udp, coap_peer_t peer, bool sent, const uint8_t *d, size_t n)
{
    const cs_net_addr_t *remote = cs_udp_peer_addr(udp, peer);
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    if (!p->pcap || !remote || cs_net_peer_is_tcp(peer) || cs_net_peer_is_dtls(peer) || getsockname(udp->fd, (struct sockaddr *)&local, &len) != 0)
        return;
    if (local.ss_family == AF_INET6 && remote->ss.ss_family == AF_INET) { /* dual-stack socket */
        const struct sockaddr_in *r = (const void *)&remote->ss;
        struct sockaddr_in6 *l = (void *)&local;
        struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = l->sin6_port, .sin_addr = r->sin_addr};
        memcpy(&local, &v4, sizeof v4); /* answered from the address it was sent to, on loopback */
    }
    cli_pcap_write(p->pcap, sent ? &local : &remote->ss, sent ? &remote->ss : &local, d, n);
}

/* A TCP hop carries no type, message ID or empty ACK: the line says which
 * hop it was, and what never crossed the wire is left out. */
static void log_msg(proxy_t *p, const char *dir, coap_peer_t peer, const uint8_t *d, size_t n)
{
    coap_msg_t m;
    bool tcp = cs_net_peer_is_tcp(peer);
    if (!p->log || coap_msg_parse(&m, d, n) != COAP_OK || (tcp && m.code == COAP_CODE_EMPTY))
        return;
    fprintf(p->log, "%s%s ", dir, tcp ? " (tcp)" : cs_net_peer_is_dtls(peer) ? " (dtls)" : "");
    cli_print_msg(p->log, ' ', &m, NULL, p->verbose ? 2 : 1); /* -v: payloads too */
    fflush(p->log);
}

/* ---------------------------------------------------------------- forwarding */

static pending_t *pending_by_up_token(proxy_t *p, const uint8_t *tok, size_t len)
{
    for (size_t i = 0; i < MAX_PENDING; i++)
        if (p->pend[i].active && len == 8 && memcmp(p->pend[i].up_token, tok, 8) == 0)
            return &p->pend[i];
    return NULL;
}

static pending_t *free_pending(proxy_t *p)
{
    for (size_t i = 0; i < MAX_PENDING; i++)
        if (!p->pend[i].active)
            return &p->pend[i];
    return NULL;
}

/* The client's request in pd, for the answer: peer, type, MID, token. */
static void remember_client(pending_t *pd, const coap_ep_event_t *ev)
{
    pd->down = *ev;
    pd->down.msg.opts = NULL; /* the views die with the datagram */
    pd->down.msg.payload = NULL;
    memcpy(pd->down.token, ev->msg.token, ev->msg.token_len);
    pd->down.token_len = ev->msg.token_len;
    pd->down.msg.token = pd->down.token;
}

/* An answer of the proxy's own to a client: a code, at most one option
 * and a diagnostic payload. */
static void reply_down_opt(proxy_t *p, const coap_ep_event_t *req, uint8_t code, const coap_opt_t *opt,
                           const char *diag, cs_time_ms_t now)
{
    uint8_t buf[256];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, code, 0,
                      req->msg.token, req->msg.token_len);
    if (opt)
        coap_builder_add_option(&b, opt->num, opt->val, opt->len);
    coap_builder_set_payload(&b, (const uint8_t *)diag, strlen(diag));
    if (coap_builder_finish(&b, &n) == COAP_OK && coap_ep_respond(&p->down, req, buf, n, now) != COAP_OK)
        fprintf(stderr, "coreseal proxy: cannot answer a client\n");
}

static void reply_down(proxy_t *p, const coap_ep_event_t *req, uint8_t code, const char *diag, cs_time_ms_t now)
{
    reply_down_opt(p, req, code, NULL, diag, now);
}

/* The next upstream message of an outer-block exchange into out: a Block1
 * piece of the request (with a Request-Tag, so pieces of two requests
 * never mix, RFC 8613 §4.1.3.4.2), then the request asking for Block2
 * block `num` of the answer (block 0 goes with the last piece). */
static bool outer_piece(pending_t *pd, uint8_t *out, size_t *n)
{
    coap_msg_t m;
    if (coap_msg_parse(&m, pd->req, pd->req_len) != COAP_OK)
        return false;
    uint8_t v1[4], v2[4];
    coap_opt_t extra[3];
    size_t n_extra = 0;
    const uint8_t *pl = m.payload;
    size_t pl_len = m.payload_len;
    if (!pd->b1_done) {
        coap_block_t piece = {.num = pd->num, .szx = pd->szx};
        size_t off;
        bool more = coap_block_slice(&piece, m.payload_len, &off, &pl_len);
        pl = m.payload + off;
        extra[n_extra++] = cli_block_opt(COAP_OPT_BLOCK1, pd->num, more, pd->szx, v1);
        extra[n_extra++] = (coap_opt_t){.num = COAP_OPT_REQUEST_TAG, .val = pd->rtag, .len = sizeof pd->rtag};
        if (!more)
            extra[n_extra++] = cli_block_opt(COAP_OPT_BLOCK2, 0, false, pd->szx, v2);
    } else {
        extra[n_extra++] = cli_block_opt(COAP_OPT_BLOCK2, pd->num, false, pd->szx, v2);
        if (pd->num > 0)
            pl_len = 0; /* later blocks of the answer: the server has the request */
    }
    return cli_msg_rebuild(&m, &m, extra, n_extra, pl, pl_len, out, MAX_MSG, n);
}

/* The schemes this proxy reaches: CoAP over UDP, TCP, WebSockets, over
 * DTLS when it has upstream credentials, and HTTP as a forward proxy. */
static bool scheme_supported(const proxy_t *p, const char *scheme, size_t len)
{
    coap_scheme_t id;
    if (!coap_scheme_lookup(scheme, len, &id))
        return false;
    switch (id) {
    case COAP_SCHEME_COAP:
    case COAP_SCHEME_COAP_TCP:
    case COAP_SCHEME_COAP_WS: return true;
    case COAP_SCHEME_COAPS: return p->up_dtls.n_psks || p->up_dtls.ca_file;
    case COAP_SCHEME_HTTP:
    case COAP_SCHEME_HTTPS: return p->forward; /* a cross-proxy to HTTP (RFC 7252 §10.1) */
    default: return false;                     /* TLS: not yet */
    }
}

/* True if the request's path is prefix or below it ("/sensors" takes
 * /sensors and /sensors/t, not /sensorsX). An OSCORE request has its path
 * inside the ciphertext: it matches no path route. */
static bool path_under(const coap_msg_t *m, const char *prefix)
{
    char path[512];
    size_t n = 0;
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o))
        if (o.num == COAP_OPT_URI_PATH) {
            if (n + 1 + o.len >= sizeof path)
                return false;
            path[n++] = '/';
            memcpy(path + n, o.val, o.len);
            n += o.len;
        }
    path[n] = '\0';
    size_t plen = strlen(prefix);
    while (plen > 1 && prefix[plen - 1] == '/')
        plen--;
    return !strncmp(path, prefix, plen) && (path[plen] == '\0' || path[plen] == '/' || plen == 1);
}

/* Where a request goes: forward-proxy options, a route by Uri-Host or path
 * prefix, or the default backend. Fills the target URI into out. */
static bool choose_target(proxy_t *p, const coap_msg_t *m, char *out, size_t cap, bool *forward)
{
    coap_opt_t scheme, host, port, puri;
    *forward = false;
    if (p->forward && coap_msg_find_option(m, COAP_OPT_PROXY_URI, &puri)) {
        coap_uri_t u;
        if (coap_uri_parse(&u, (const char *)puri.val, puri.len) != COAP_OK ||
            !scheme_supported(p, u.scheme, u.scheme_len))
            return false;
        bool v6 = u.host_is_literal && memchr(u.host, ':', u.host_len);
        snprintf(out, cap, "%.*s://%s%.*s%s:%u", (int)u.scheme_len, u.scheme, v6 ? "[" : "", (int)u.host_len,
                 u.host, v6 ? "]" : "", u.port);
        *forward = true;
        return true;
    }
    bool has_host = coap_msg_find_option(m, COAP_OPT_URI_HOST, &host);
    if (p->forward && coap_msg_find_option(m, COAP_OPT_PROXY_SCHEME, &scheme) && has_host) {
        if (!scheme_supported(p, (const char *)scheme.val, scheme.len))
            return false;
        uint32_t pv = coap_uri_default_port((const char *)scheme.val, scheme.len);
        if (coap_msg_find_option(m, COAP_OPT_URI_PORT, &port))
            (void)coap_opt_uint(&port, &pv);
        bool v6 = memchr(host.val, ':', host.len) != NULL;
        snprintf(out, cap, "%.*s://%s%.*s%s:%u", (int)scheme.len, (const char *)scheme.val, v6 ? "[" : "",
                 (int)host.len, (const char *)host.val, v6 ? "]" : "", pv);
        *forward = true;
        return true;
    }
    for (size_t i = 0; i < p->routes.n; i++) {
        const cs_proxy_route_t *r = &p->routes.route[i];
        if (r->host[0] ? has_host && strlen(r->host) == host.len && !memcmp(r->host, host.val, host.len)
                       : path_under(m, r->path)) {
            snprintf(out, cap, "%s", r->target);
            return true;
        }
    }
    if (p->routes.default_target[0]) {
        snprintf(out, cap, "%s", p->routes.default_target);
        return true;
    }
    return false;
}

/* The upstream peer of a target URI: a UDP address, or a TCP connection or
 * DTLS session (opened on first use, shared by every request to that
 * server). */
static bool resolve_on(proxy_t *p, cs_udp_t *up, const char *target, coap_peer_t *peer)
{
    coap_uri_t u;
    if (coap_uri_parse(&u, target, strlen(target)) != COAP_OK || !scheme_supported(p, u.scheme, u.scheme_len))
        return false;
    char host[128], port[8];
    snprintf(host, sizeof host, "%.*s", (int)u.host_len, u.host);
    snprintf(port, sizeof port, "%u", u.port);
    if (u.scheme_id == COAP_SCHEME_COAP_TCP)
        return cs_tcp_connect(up, host, port, peer, NULL, 0) == CS_NET_OK;
    if (u.scheme_id == COAP_SCHEME_COAP_WS)
        return cs_ws_connect(up, host, port, peer, NULL, 0) == CS_NET_OK;
    if (u.scheme_id == COAP_SCHEME_COAPS)
        return cs_dtls_connect(up, host, port, &p->up_dtls, peer, NULL, 0) == CS_NET_OK;
    /* the upstream socket is IPv6 with v4-mapped addresses for IPv4 */
    struct addrinfo hints = {.ai_family = AF_INET6, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_V4MAPPED | AI_ALL}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return false;
    bool ok = cs_udp_peer(up, res->ai_addr, res->ai_addrlen, peer) == CS_NET_OK;
    freeaddrinfo(res);
    return ok;
}

static bool resolve(proxy_t *p, const char *target, coap_peer_t *peer)
{
    return resolve_on(p, &p->up_udp, target, peer);
}

/* A later outer Block2 block of an answer kept for this client: true when
 * ev asked for one (and was answered). */
static bool serve_kept_block(proxy_t *p, const coap_ep_event_t *ev, cs_time_ms_t now)
{
    coap_opt_t osc, o;
    coap_block_t b2;
    if (p->client_szx == 0xff || !coap_msg_find_option(&ev->msg, COAP_OPT_OSCORE, &osc) ||
        !coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK2, &o) || !coap_block_decode(&o, &b2) || b2.num == 0)
        return false;
    for (size_t i = 0; i < MAX_KEPT; i++) {
        kept_t *k = &p->kept[i];
        if (!k->active || k->expires < now || k->peer != ev->peer || k->osc_len != osc.len ||
            memcmp(k->osc, osc.val, osc.len) != 0)
            continue;
        coap_msg_t hdr = {.type = COAP_TYPE_ACK, .token = ev->msg.token, .token_len = ev->msg.token_len};
        uint8_t out[MAX_MSG];
        size_t n;
        if (!cli_outer_block(k->msg, k->len, &hdr, b2.num, b2.szx, out, sizeof out, &n))
            reply_down(p, ev, COAP_BAD_OPTION, "outer Block2 beyond the end", now);
        else if (coap_ep_respond(&p->down, ev, out, n, now) != COAP_OK && p->verbose)
            fprintf(stderr, "* cannot answer a client\n");
        return true;
    }
    reply_down(p, ev, COAP_REQUEST_ENTITY_INCOMPLETE, "no such answer kept", now);
    return true;
}

/* An answer to relay in outer Block2 blocks: keeps it, sends block 0. */
static bool relay_in_blocks(proxy_t *p, pending_t *pd, const uint8_t *msg, size_t len, cs_time_ms_t now)
{
    coap_msg_t m;
    if (p->client_szx == 0xff || !pd->osc_len || pd->answered || coap_msg_parse(&m, msg, len) != COAP_OK ||
        m.payload_len <= coap_block_size(p->client_szx))
        return false;
    kept_t *k = &p->kept[0];
    for (size_t i = 0; i < MAX_KEPT; i++) /* a free or expired slot, else the oldest */
        if (!p->kept[i].active || p->kept[i].expires < k->expires)
            k = &p->kept[i];
    *k = (kept_t){.active = true, .peer = pd->down.peer, .osc_len = pd->osc_len, .len = len,
                  .expires = now + 60000};
    memcpy(k->osc, pd->osc, pd->osc_len);
    memcpy(k->msg, msg, len);
    coap_msg_t hdr = {.type = COAP_TYPE_NON, .token = pd->down.token, .token_len = pd->down.token_len};
    uint8_t out[MAX_MSG];
    size_t n;
    if (!cli_outer_block(k->msg, k->len, &hdr, 0, p->client_szx, out, sizeof out, &n))
        return false;
    if (coap_ep_respond(&p->down, &pd->down, out, n, now) != COAP_OK && p->verbose)
        fprintf(stderr, "* cannot relay a response\n");
    return true;
}

/* ---------------------------------------------------------------- cache */

/* The cache key of a request to target: every option except those this hop
 * consumes and the NoCacheKey ones (RFC 7252 §5.4.6). False when the
 * request is not one whose answer a proxy may reuse: only plain GETs; an
 * OSCORE answer is bound to its request (RFC 8613 §4.1.3.1 has proxies not
 * cache it). */
static bool cache_key(const coap_msg_t *m, const char *target, uint8_t *key, size_t *len, size_t *target_len)
{
    coap_opt_t o;
    if (m->code != COAP_GET || coap_msg_find_option(m, COAP_OPT_OSCORE, &o) ||
        coap_msg_find_option(m, COAP_OPT_OBSERVE, &o))
        return false;
    size_t n = strlen(target) + 1;
    if (n > CACHE_KEY_MAX)
        return false;
    memcpy(key, target, n);
    *target_len = n;
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num == COAP_OPT_PROXY_URI || o.num == COAP_OPT_PROXY_SCHEME || o.num == COAP_OPT_HOP_LIMIT ||
            (o.num & 0x1e) == 0x1c)
            continue;
        if (n + 4 + o.len > CACHE_KEY_MAX)
            return false;
        key[n++] = (uint8_t)(o.num >> 8), key[n++] = (uint8_t)o.num;
        key[n++] = (uint8_t)(o.len >> 8), key[n++] = (uint8_t)o.len;
        memcpy(key + n, o.val, o.len);
        n += o.len;
    }
    *len = n;
    return true;
}

static cached_t *cache_find(proxy_t *p, const uint8_t *key, size_t len, cs_time_ms_t now)
{
    for (size_t i = 0; i < MAX_CACHE; i++) {
        cached_t *c = &p->cache[i];
        if (c->used && c->expires <= now)
            c->used = false;
        if (c->used && c->key_len == len && !memcmp(c->key, key, len))
            return c;
    }
    return NULL;
}

/* A 2.05 of a cacheable request, fresh for its Max-Age (60 s without). */
static void cache_store(proxy_t *p, const pending_t *pd, const coap_msg_t *m, const uint8_t *raw, size_t len,
                        cs_time_ms_t now)
{
    coap_opt_t o;
    uint32_t max_age = 60;
    if (m->code != COAP_CONTENT || coap_msg_find_option(m, COAP_OPT_OSCORE, &o) ||
        (coap_msg_find_option(m, COAP_OPT_MAX_AGE, &o) && !coap_opt_uint(&o, &max_age)) || max_age == 0 ||
        len > MAX_MSG)
        return;
    cached_t *slot = cache_find(p, pd->key, pd->key_len, now);
    for (size_t i = 0; i < MAX_CACHE && !slot; i++)
        if (!p->cache[i].used)
            slot = &p->cache[i];
    for (size_t i = 0; i < MAX_CACHE && !slot; i++) /* full: the one closest to expiry goes */
        if (!slot || p->cache[i].expires < slot->expires)
            slot = &p->cache[i];
    memcpy(slot->key, pd->key, pd->key_len);
    slot->key_len = pd->key_len;
    slot->target_len = pd->target_len;
    memcpy(slot->msg, raw, len);
    slot->len = len;
    slot->stored = now;
    slot->expires = now + (cs_time_ms_t)max_age * 1000;
    slot->used = true;
}

/* An unsafe request changes what the target holds: its entries go
 * (RFC 7252 §5.9.1.x: 2.01/2.02/2.04 invalidate). */
static void cache_forget_target(proxy_t *p, const char *target)
{
    size_t n = strlen(target) + 1;
    for (size_t i = 0; i < MAX_CACHE; i++)
        if (p->cache[i].used && p->cache[i].target_len == n && !memcmp(p->cache[i].key, target, n))
            p->cache[i].used = false;
}

/* Answers ev from the cache, Max-Age set to what freshness is left
 * (RFC 7252 §5.6.1). */
static bool cache_answer(proxy_t *p, const coap_ep_event_t *ev, const cached_t *c, cs_time_ms_t now)
{
    coap_msg_t m;
    uint8_t out[MAX_MSG], arena[MAX_MSG];
    coap_opt_t list[48], o;
    coap_optlist_t l;
    coap_builder_t b;
    size_t n;
    if (coap_msg_parse(&m, c->msg, c->len) != COAP_OK)
        return false;
    coap_optlist_init(&l, list, 48, arena, sizeof arena);
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, &m);
    while (coap_opt_next(&it, &o))
        if (o.num != COAP_OPT_MAX_AGE)
            coap_optlist_add(&l, o.num, o.val, o.len);
    coap_optlist_add_uint(&l, COAP_OPT_MAX_AGE, (uint32_t)((c->expires - now + 999) / 1000));
    coap_builder_init(&b, out, sizeof out, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, m.code, 0, ev->msg.token,
                      ev->msg.token_len);
    if (coap_optlist_write(&l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, m.payload, m.payload_len);
    if (coap_builder_finish(&b, &n) != COAP_OK || coap_ep_respond(&p->down, ev, out, n, now) != COAP_OK)
        return false;
    p->cache_hits++;
    if (p->log) {
        fprintf(p->log, "cache hit (%lld s old) ", (long long)((now - c->stored) / 1000));
        cli_print_msg(p->log, ' ', &m, NULL, 1);
        fflush(p->log);
    }
    return true;
}

/* m with hdr's header and token, options and payload as they are. */
static bool copy_message(const coap_msg_t *m, const coap_msg_t *hdr, uint8_t *out, size_t cap, size_t *n)
{
    coap_builder_t b;
    coap_builder_init(&b, out, cap, COAP_TRANSPORT_UDP, (coap_type_t)hdr->type, hdr->code, 0, hdr->token,
                      hdr->token_len);
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o))
        coap_builder_add_option(&b, o.num, o.val, o.len);
    coap_builder_set_payload(&b, m->payload, m->payload_len);
    return coap_builder_finish(&b, n) == COAP_OK;
}

/* ---------------------------------------------------------------- CoAP to HTTP (RFC 7252 §10.1) */

typedef enum { URL_RAW, URL_SEGMENT, URL_QUERY } url_part_t;

/* Appends s to out, percent-encoding what RFC 3986 does not allow as is in
 * a path segment (in a query argument '/' and '?' stay, '&' is encoded). */
static bool url_append(char *out, size_t cap, size_t *n, const uint8_t *s, size_t len, url_part_t part)
{
    static const char ok[] = "-._~!$'()*+,;=:@";
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        bool plain = part == URL_RAW || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || (c && strchr(ok, c)) ||
                     (part == URL_QUERY && (c == '/' || c == '?'));
        int k = plain ? snprintf(out + *n, cap - *n, "%c", c) : snprintf(out + *n, cap - *n, "%%%02X", c);
        if (k < 0 || (size_t)k >= cap - *n)
            return false;
        *n += (size_t)k;
    }
    return true;
}

/* The URL of a request to an http(s) target: its Proxy-Uri, or the target
 * with the Uri-Path and Uri-Query it carries outside. An OSCORE request has
 * them inside the ciphertext, so it goes to http://server/ (RFC 8613
 * §11.6). */
static bool http_url(const coap_msg_t *m, const char *target, char *out, size_t cap)
{
    coap_opt_t o;
    if (coap_msg_find_option(m, COAP_OPT_PROXY_URI, &o)) {
        if (o.len >= cap)
            return false;
        memcpy(out, o.val, o.len);
        out[o.len] = '\0';
        return true;
    }
    int k = snprintf(out, cap, "%s", target);
    if (k < 0 || (size_t)k >= cap - 1)
        return false;
    size_t n = (size_t)k;
    bool path = false, query = false;
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_URI_PATH && o.num != COAP_OPT_URI_QUERY)
            continue;
        bool q = o.num == COAP_OPT_URI_QUERY;
        const char *sep = !q ? "/" : path ? (query ? "&" : "?") : "/?";
        if (!url_append(out, cap, &n, (const uint8_t *)sep, strlen(sep), URL_RAW) ||
            !url_append(out, cap, &n, o.val, o.len, q ? URL_QUERY : URL_SEGMENT))
            return false;
        path = true;
        query |= q;
    }
    return path || url_append(out, cap, &n, (const uint8_t *)"/", 1, URL_RAW);
}

/* The Block1 block of a request toward url joins its body. NULL when the
 * block was answered here (2.31 Continue, or an error); else the body,
 * complete, which the caller sends and then releases (active = false). */
static http_body_t *gather_http_body(proxy_t *p, const coap_ep_event_t *ev, const char *url,
                                     const coap_block_t *b1, cs_time_ms_t now)
{
    coap_opt_t tag = {.len = 0};
    (void)coap_msg_find_option(&ev->msg, COAP_OPT_REQUEST_TAG, &tag);
    http_body_t *hb = NULL, *spare = NULL;
    for (size_t i = 0; i < MAX_HTTP_BODIES; i++) {
        http_body_t *x = &p->bodies[i];
        if (x->active && x->expires < now)
            x->active = false;
        if (x->active && x->peer == ev->peer && x->tag_len == tag.len && !memcmp(x->tag, tag.val, tag.len) &&
            !strcmp(x->url, url))
            hb = x;
        else if (!x->active && (!spare || (!spare->data && x->data))) /* one with a buffer first */
            spare = x;
    }
    if (!hb && b1->num == 0 && spare && tag.len <= sizeof spare->tag &&
        (spare->data || (spare->data = malloc(HTTP_BODY_MAX)))) {
        hb = spare;
        hb->active = true;
        hb->peer = ev->peer;
        snprintf(hb->url, sizeof hb->url, "%s", url);
        memcpy(hb->tag, tag.val, tag.len);
        hb->tag_len = tag.len;
        coap_body_init(&hb->body, hb->data, HTTP_BODY_MAX);
    } else if (!hb) {
        reply_down(p, ev, b1->num ? COAP_REQUEST_ENTITY_INCOMPLETE : COAP_SERVICE_UNAVAILABLE,
                   b1->num ? "no body under way for this block" : "proxy busy", now);
        return NULL;
    }
    hb->expires = now + 60000;
    coap_err_t e = coap_body_add(&hb->body, b1, ev->msg.payload, ev->msg.payload_len);
    if (e != COAP_OK) {
        hb->active = false;
        reply_down(p, ev, e == COAP_ERR_BLOCK_SEQUENCE ? COAP_REQUEST_ENTITY_INCOMPLETE
                                                       : COAP_REQUEST_ENTITY_TOO_LARGE, coreseal_strerror(e), now);
        return NULL;
    }
    if (!hb->body.complete) {
        uint8_t v[4];
        coap_opt_t cont = cli_block_opt(COAP_OPT_BLOCK1, b1->num, true, b1->szx, v);
        reply_down_opt(p, ev, COAP_CONTINUE, &cont, "", now);
        return NULL;
    }
    hb->last = *b1;
    return hb;
}

/* A forward request to an http(s):// target goes out as HTTP (libcurl,
 * without blocking the loop); the answer is mapped back in http_relay.
 * Plain answers larger than a block are served in Block2 blocks, each
 * block the client asks for fetching the resource again (RFC 7959 §2.4:
 * stateless). An OSCORE request becomes a POST with the OSCORE header
 * field and an application/oscore body (RFC 8613 §11.2). */
static void forward_to_http(proxy_t *p, const coap_ep_event_t *ev, const char *target, cs_time_ms_t now)
{
    const coap_msg_t *m = &ev->msg;
    coap_opt_t o;
    coap_block_t b1 = {.num = 0}, b2 = {.num = 0, .szx = 6};
    char url[1024], why[128] = "the request does not fit a message";
    uint8_t buf[MAX_MSG];
    size_t n;
    pending_t *pd = free_pending(p);
    bool has_b1 = coap_msg_find_option(m, COAP_OPT_BLOCK1, &o);
    if ((has_b1 && !coap_block_decode(&o, &b1)) ||
        (coap_msg_find_option(m, COAP_OPT_BLOCK2, &o) && !coap_block_decode(&o, &b2))) {
        reply_down(p, ev, COAP_BAD_OPTION, "bad Block1 or Block2", now);
        return;
    }
    if (!http_url(m, target, url, sizeof url)) {
        reply_down(p, ev, COAP_BAD_REQUEST, "the HTTP URL would be over 1023 bytes", now);
        return;
    }
    if (!pd || (!p->http_up && !(p->http_up = hc_multi_new()))) {
        reply_down(p, ev, COAP_SERVICE_UNAVAILABLE, "proxy busy", now);
        return;
    }
    http_body_t *hb = has_b1 ? gather_http_body(p, ev, url, &b1, now) : NULL;
    if (has_b1 && !hb)
        return; /* answered: 2.31, or why not */
    memset(pd, 0, sizeof *pd);
    bool started = copy_message(m, m, buf, sizeof buf, &n) &&
                   hc_multi_start(p->http_up, url, buf, n, hb ? hb->body.buf : NULL, hb ? hb->body.len : 0, pd,
                                  why, sizeof why);
    if (hb)
        hb->active = false; /* libcurl has its copy; the buffer stays for the next body */
    if (!started) {
        reply_down(p, ev, COAP_BAD_GATEWAY, why, now);
        return;
    }
    pd->active = pd->to_http = true;
    pd->block1 = has_b1;
    pd->b1 = b1;
    remember_client(pd, ev);
    pd->b2_num = b2.num;
    pd->b2_szx = b2.szx < 6 ? b2.szx : 6;
    if (p->log) { /* what the proxy sees of it: the URL, and for OSCORE only the option */
        fprintf(p->log, "proxy->http %s %s (%zu bytes%s)\n", cs_http_method_of(m->code), url,
                hb ? hb->body.len : m->payload_len,
                coap_msg_find_option(m, COAP_OPT_OSCORE, &o) ? ", OSCORE" : "");
        fflush(p->log);
    }
    p->forwarded++;
    if (ev->msg.type == COAP_TYPE_CON && coap_ep_ack_request(&p->down, ev) != COAP_OK)
        fprintf(stderr, "coreseal proxy: cannot acknowledge a request\n");
}

/* The HTTP answer to a forwarded request, as CoAP, to its client. */
static void http_relay(proxy_t *p, pending_t *pd, bool ok, const hc_client_t *h, cs_time_ms_t now)
{
    coap_msg_t m;
    coap_opt_t o;
    pd->active = false;
    if (!ok || coap_msg_parse(&m, h->resp, h->resp_len) != COAP_OK) {
        reply_down(p, &pd->down, !ok && h->timed_out ? COAP_GATEWAY_TIMEOUT : COAP_BAD_GATEWAY,
                   ok ? "the HTTP answer does not map to CoAP" : h->why, now);
        return;
    }
    coap_msg_t hdr = {.type = COAP_TYPE_NON, .code = m.code, .token = pd->down.token,
                      .token_len = pd->down.token_len};
    uint8_t buf[MAX_MSG];
    size_t n;
    bool blocks = !coap_msg_find_option(&m, COAP_OPT_OSCORE, &o) &&
                  (pd->b2_num || m.payload_len > coap_block_size(pd->b2_szx));
    uint8_t v[4];
    coap_opt_t b1 = cli_block_opt(COAP_OPT_BLOCK1, pd->b1.num, false, pd->b1.szx, v);
    if (pd->block1 && blocks) { /* a later block would repeat the request: not for a body */
        reply_down_opt(p, &pd->down, COAP_BAD_GATEWAY, &b1, "the HTTP answer to a block-wise body is over a block",
                       now);
        return;
    }
    if (pd->block1 ? !cli_msg_rebuild(&m, &hdr, &b1, 1, m.payload, m.payload_len, buf, sizeof buf, &n)
        : blocks   ? !cli_outer_block(h->resp, h->resp_len, &hdr, pd->b2_num, pd->b2_szx, buf, sizeof buf, &n)
                   : !copy_message(&m, &hdr, buf, sizeof buf, &n)) {
        reply_down(p, &pd->down, blocks ? COAP_BAD_OPTION : COAP_BAD_GATEWAY,
                   blocks ? "Block2 beyond the end" : "the HTTP answer does not fit a CoAP message", now);
        return;
    }
    log_msg(p, "http->proxy", pd->down.peer, buf, n);
    coap_err_t e = coap_ep_respond(&p->down, &pd->down, buf, n, now);
    if (e != COAP_OK && p->verbose)
        fprintf(stderr, "* cannot relay an HTTP answer: %s\n", coreseal_strerror(e));
}

static void on_client_request(proxy_t *p, const coap_ep_event_t *ev, cs_time_ms_t now)
{
    const coap_msg_t *m = &ev->msg;
    char target[300];
    bool forward;
    if (serve_kept_block(p, ev, now))
        return;
    if (!choose_target(p, m, target, sizeof target, &forward)) {
        reply_down(p, ev, COAP_PROXYING_NOT_SUPPORTED, "no route for this request", now);
        return;
    }
    coap_scheme_t id;
    if (coap_scheme_lookup(target, strcspn(target, ":"), &id) && (id == COAP_SCHEME_HTTP || id == COAP_SCHEME_HTTPS)) {
        forward_to_http(p, ev, target, now);
        return;
    }
    uint8_t key[CACHE_KEY_MAX];
    size_t key_len = 0, target_len = 0;
    bool cacheable = p->cache_on && cache_key(m, target, key, &key_len, &target_len);
    const cached_t *hit = cacheable ? cache_find(p, key, key_len, now) : NULL;
    if (hit && cache_answer(p, ev, hit, now))
        return;
    if (p->cache_on && m->code != COAP_GET && m->code != COAP_FETCH)
        cache_forget_target(p, target);
    coap_peer_t up;
    if (!resolve(p, target, &up)) {
        reply_down(p, ev, COAP_BAD_GATEWAY, "cannot resolve the target", now);
        return;
    }
    pending_t *pd = free_pending(p);
    if (!pd) {
        reply_down(p, ev, COAP_SERVICE_UNAVAILABLE, "proxy busy", now);
        return;
    }
    /* copy the request: new token, same code and options, except what
     * addressed the proxy itself; Hop-Limit counts down (RFC 8768) */
    uint8_t buf[MAX_MSG];
    coap_builder_t b;
    size_t n;
    memset(pd, 0, sizeof *pd);
    if (coap_ep_new_token(&p->up, pd->up_token, 8) != COAP_OK)
        return;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, m->code, 0,
                      pd->up_token, 8);
    coap_opt_t list[64];
    uint8_t arena[MAX_MSG];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 64, arena, sizeof arena);
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (forward && o.num == COAP_OPT_PROXY_URI) {
            /* §5.7.2: the request made is the one the URI names (an OSCORE
             * client never sends this form: its path is protected) */
            coap_uri_t u;
            if (coap_uri_parse(&u, (const char *)o.val, o.len) == COAP_OK)
                coap_optlist_add_uri(&l, &u, false);
            continue;
        }
        if (forward && o.num == COAP_OPT_PROXY_SCHEME)
            continue;
        if (o.num == COAP_OPT_HOP_LIMIT) {
            uint32_t hl = 16;
            (void)coap_opt_uint(&o, &hl);
            if (hl <= 1) {
                reply_down(p, ev, COAP_HOP_LIMIT_REACHED, "hop limit reached", now);
                return;
            }
            coap_optlist_add_uint(&l, o.num, hl - 1);
            continue;
        }
        if (o.num == COAP_OPT_OBSERVE)
            pd->observe = true;
        coap_optlist_add(&l, o.num, o.val, o.len);
    }
    if (coap_optlist_write(&l, &b) == COAP_OK)
        coap_builder_set_payload(&b, m->payload, m->payload_len);
    if (coap_builder_finish(&b, &n) != COAP_OK) {
        reply_down(p, ev, COAP_BAD_GATEWAY, "request too large to forward", now);
        return;
    }
    pd->active = true;
    pd->cacheable = cacheable;
    memcpy(pd->key, key, key_len);
    pd->key_len = key_len;
    pd->target_len = target_len;
    remember_client(pd, ev);
    pd->up_peer = up;
    coap_opt_t osc;
    if (coap_msg_find_option(m, COAP_OPT_OSCORE, &osc) && osc.len <= sizeof pd->osc) {
        memcpy(pd->osc, osc.val, osc.len);
        pd->osc_len = osc.len;
    }
    if (p->block_szx != 0xff && pd->osc_len) {
        pd->outer = true;
        memcpy(pd->req, buf, n);
        pd->req_len = n;
        pd->szx = p->block_szx;
        pd->b1_done = m->payload_len <= coap_block_size(pd->szx);
        coap_body_init(&pd->body, pd->resp, sizeof pd->resp);
        if (p->crypto.random(p->crypto.state, pd->rtag, sizeof pd->rtag) != CS_CRYPTO_OK ||
            !outer_piece(pd, buf, &n)) {
            pd->active = false;
            reply_down(p, ev, COAP_BAD_GATEWAY, "cannot fragment the request", now);
            return;
        }
    }
    if (coap_ep_send_request(&p->up, up, buf, n, pd->observe, now) != COAP_OK) {
        pd->active = false;
        reply_down(p, ev, COAP_SERVICE_UNAVAILABLE, "proxy busy", now);
        return;
    }
    p->forwarded++;
    /* a slow backend: acknowledge now, answer separately (RFC 7252 §5.2.2) */
    if (ev->msg.type == COAP_TYPE_CON && coap_ep_ack_request(&p->down, ev) != COAP_OK)
        fprintf(stderr, "coreseal proxy: cannot acknowledge a request\n");
}

/* An upstream answer in an outer-block exchange: 0 when the next piece or
 * block went out, 1 when the answer is whole (in pd->body when it came in
 * blocks), -1 when the blocks do not fit together. */
static int outer_answer(proxy_t *p, pending_t *pd, const coap_msg_t *m, cs_time_ms_t now)
{
    coap_opt_t o;
    coap_block_t blk;
    if (!pd->b1_done && m->code == COAP_CONTINUE) {
        if (!coap_msg_find_option(m, COAP_OPT_BLOCK1, &o) || !coap_block_decode(&o, &blk))
            return -1;
        /* the server may ask for smaller pieces (RFC 7959 §2.5) */
        coap_block_t sent = {.num = pd->num, .szx = pd->szx}, next = coap_block_after(&sent, blk.szx);
        pd->num = next.num;
        pd->szx = next.szx;
    } else if (coap_msg_find_option(m, COAP_OPT_BLOCK2, &o)) {
        pd->b1_done = true;
        if (!coap_block_decode(&o, &blk) || coap_body_add(&pd->body, &blk, m->payload, m->payload_len) != COAP_OK)
            return -1;
        if (!blk.more)
            return 1;
        pd->szx = blk.szx;
        pd->num = blk.num + 1;
    } else {
        return 1; /* the answer fitted in one message */
    }
    uint8_t buf[MAX_MSG];
    size_t n;
    if (!outer_piece(pd, buf, &n) ||
        coap_ep_send_request(&p->up, pd->up_peer, buf, n, false, now) != COAP_OK)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- HTTP (RFC 8075) */

/* The CoAP request an HTTP request maps to (asking for block b2_num of the
 * answer after the first), under a new token. */
static bool build_http_request(proxy_t *p, pending_t *pd, uint8_t *buf, size_t cap, size_t *n)
{
    return coap_ep_new_token(&p->up, pd->up_token, 8) == COAP_OK &&
           hc_cmd_to_coap(pd->http, pd->up_token, 8, pd->b2_num, pd->b2_szx, buf, cap, n);
}

static void http_finish(proxy_t *p, pending_t *pd, int status, const uint8_t *body, size_t len)
{
    hc_done(p->gw, pd->http, status, body, len);
    free(pd->gathered);
    pd->gathered = NULL;
    pd->http = NULL;
    pd->active = false;
}

static void http_fail(proxy_t *p, pending_t *pd, int status, const char *why)
{
    snprintf(pd->http->content_type, sizeof pd->http->content_type, "text/plain;charset=utf-8");
    http_finish(p, pd, status, (const uint8_t *)why, strlen(why));
}

/* A request from the HTTP side: sent on as CoAP. */
static void on_http_request(proxy_t *p, hc_cmd_t *c, cs_time_ms_t now)
{
    pending_t *pd = free_pending(p);
    if (!pd) {
        snprintf(c->content_type, sizeof c->content_type, "text/plain;charset=utf-8");
        hc_done(p->gw, c, 503, (const uint8_t *)"proxy busy", 10);
        return;
    }
    memset(pd, 0, sizeof *pd);
    pd->active = true;
    pd->http = c;
    uint8_t buf[MAX_MSG];
    size_t n;
    /* one CoAP message: an OSCORE client splits its own bodies (inner Block1) */
    if (c->body_len > MAX_MSG - 200) {
        http_fail(p, pd, 413, "a body this proxy sends in one CoAP message: at most 1200 bytes");
        return;
    }
    if (!resolve(p, c->target, &pd->up_peer)) {
        http_fail(p, pd, 502, "cannot resolve the target");
        return;
    }
    if (!build_http_request(p, pd, buf, sizeof buf, &n)) {
        http_fail(p, pd, 400, "the request does not map to CoAP");
        return;
    }
    log_msg(p, "http->proxy", pd->up_peer, buf, n);
    if (coap_ep_send_request(&p->up, pd->up_peer, buf, n, false, now) != COAP_OK) {
        http_fail(p, pd, 503, "proxy busy");
        return;
    }
    p->forwarded++;
}

/* The CoAP answer to an HTTP request: plain Block2 answers are gathered
 * whole; then RFC 8075 §7 status, media type, and RFC 8613 §11.2's OSCORE
 * header field. */
static void http_answer(proxy_t *p, pending_t *pd, const coap_msg_t *m, cs_time_ms_t now)
{
    hc_cmd_t *c = pd->http;
    coap_opt_t o, b2o;
    coap_block_t b2;
    bool osc = coap_msg_find_option(m, COAP_OPT_OSCORE, &o);
    if (!osc && coap_msg_find_option(m, COAP_OPT_BLOCK2, &b2o) && coap_block_decode(&b2o, &b2) &&
        COAP_CODE_CLASS(m->code) == 2) {
        size_t need = pd->gathered_len + m->payload_len;
        uint8_t *g = b2.num == pd->b2_num && need <= HC_BODY_MAX
                         ? realloc(pd->gathered, need ? need : 1)
                         : NULL;
        if (!g) {
            http_fail(p, pd, 502, "the server's Block2 answer is out of order or over 1 MiB");
            return;
        }
        memcpy(g + pd->gathered_len, m->payload, m->payload_len);
        pd->gathered = g;
        pd->gathered_len = need;
        if (b2.more) {
            uint8_t buf[MAX_MSG];
            size_t n;
            pd->b2_num = b2.num + 1;
            pd->b2_szx = b2.szx;
            if (!build_http_request(p, pd, buf, sizeof buf, &n) ||
                coap_ep_send_request(&p->up, pd->up_peer, buf, n, false, now) != COAP_OK) {
                http_fail(p, pd, 502, "cannot ask for the next block");
                return;
            }
            return;
        }
    }
    const uint8_t *body = pd->gathered ? pd->gathered : m->payload;
    size_t len = pd->gathered ? pd->gathered_len : m->payload_len;
    int status = hc_answer_of_coap(c, m, len);
    if (status < 0)
        http_fail(p, pd, 502, "OSCORE option too long to map");
    else
        http_finish(p, pd, status, body, len);
}

static void on_backend_event(proxy_t *p, const coap_ep_event_t *ev, cs_time_ms_t now)
{
    pending_t *pd = pending_by_up_token(p, ev->token, ev->token_len);
    if (!pd)
        return;
    if (pd->http) {
        if (ev->type == COAP_EV_RESPONSE)
            http_answer(p, pd, &ev->msg, now);
        else if (ev->type == COAP_EV_TIMEOUT || ev->type == COAP_EV_RESET)
            http_fail(p, pd, ev->type == COAP_EV_TIMEOUT ? 504 : 502,
                      ev->type == COAP_EV_TIMEOUT ? "the CoAP server did not answer"
                                                  : "the CoAP server reset");
        return;
    }
    if (ev->type == COAP_EV_TIMEOUT || ev->type == COAP_EV_RESET) {
        if (!pd->answered)
            reply_down(
                p, &pd->down, ev->type == COAP_EV_TIMEOUT ? COAP_GATEWAY_TIMEOUT : COAP_BAD_GATEWAY,
                ev->type == COAP_EV_TIMEOUT ? "backend did not answer" : "backend reset", now);
        pd->active = false;
        return;
    }
    if (ev->type != COAP_EV_RESPONSE)
        return;
    const coap_msg_t *m = &ev->msg;
    const uint8_t *pl = m->payload;
    size_t pl_len = m->payload_len;
    if (pd->outer) {
        switch (outer_answer(p, pd, m, now)) {
        case 0: return; /* more pieces or blocks under way */
        case 1: break;
        default:
            reply_down(p, &pd->down, COAP_BAD_GATEWAY, "broken outer blocks from the server", now);
            pd->active = false;
            return;
        }
        pl = pd->body.complete ? pd->body.buf : m->payload;
        pl_len = pd->body.complete ? pd->body.len : m->payload_len;
    }
    if (pd->cacheable && !pd->outer && ev->msg.payload_len <= MAX_MSG) {
        uint8_t raw[MAX_MSG];
        size_t rn;
        coap_msg_t plain_hdr = {.type = COAP_TYPE_ACK, .code = m->code};
        if (copy_message(m, &plain_hdr, raw, sizeof raw, &rn))
            cache_store(p, pd, m, raw, rn, now);
    }
    uint8_t buf[MAX_MSG];
    size_t n;
    coap_msg_t hdr = {.type = COAP_TYPE_NON, .code = m->code, .token = pd->down.token,
                      .token_len = pd->down.token_len};
    if (pd->outer ? !cli_msg_rebuild(m, &hdr, NULL, 0, pl, pl_len, buf, sizeof buf, &n)
                  : !copy_message(m, &hdr, buf, sizeof buf, &n))
        return;
    if (relay_in_blocks(p, pd, buf, n, now)) {
        pd->active = false; /* the client fetches the rest from the copy */
        return;
    }
    bool notification = pd->answered;
    pd->answered = true;
    /* the first answer goes as the response, later ones are notifications */
    coap_err_t e = notification ? coap_ep_send_separate(&p->down, pd->down.peer, buf, n, false, now)
                                : coap_ep_respond(&p->down, &pd->down, buf, n, now);
    if (e != COAP_OK && p->verbose)
        fprintf(stderr, "* cannot relay a response: %s\n", coreseal_strerror(e));
    coap_opt_t obs;
    if (!pd->observe || !coap_msg_find_option(m, COAP_OPT_OBSERVE, &obs))
        pd->active = false; /* the exchange is over */
}

/* ---------------------------------------------------------------- relay (--relay) */

/* --relay makes the gateway of a LwM2M deployment: it passes every message
 * on as it is, in both directions, like a NAT. Each device (a UDP address,
 * a TCP or WebSocket connection, a DTLS session) gets a socket of its own
 * toward the server (--default), so the server sees one address per device
 * and reaches it there with Device Management and Observe. Nothing is
 * re-issued: on UDP hops retransmission stays end to end. Across a TCP hop
 * the gateway stands in for what the stream lacks (RFC 8323 §2): a device's
 * answer to a confirmable request of the server goes up as the ACK of that
 * request (whose message ID is kept here), and tcp.c acknowledges a
 * confirmable notification for the device. */
static relayed_t *relay_of_device(proxy_t *p, coap_peer_t device, cs_time_ms_t now)
{
    relayed_t *spare = NULL;
    for (size_t i = 0; i < MAX_RELAYED; i++) {
        relayed_t *r = p->relayed[i];
        if (r && r->active && r->device == device)
            return r;
        if (!spare && (!r || !r->active) && (r || (r = p->relayed[i] = calloc(1, sizeof *r))))
            spare = r;
    }
    char err[256] = "";
    if (!spare)
        return NULL;
    memset(spare, 0, sizeof *spare);
    if (cs_udp_open(&spare->up, "::", "0", true, err, sizeof err) != CS_NET_OK) {
        fprintf(stderr, "coreseal proxy: no socket for a device: %s\n", err);
        return NULL;
    }
    spare->up.log = p->down_udp.log;
    if (!resolve_on(p, &spare->up, p->routes.default_target, &spare->server)) {
        fprintf(stderr, "coreseal proxy: cannot reach %s\n", p->routes.default_target);
        cs_udp_close(&spare->up);
        return NULL;
    }
    spare->active = true;
    spare->device = device;
    spare->last = now;
    return spare;
}

static void relay_end(proxy_t *p, relayed_t *r)
{
    atk_forget_socket(&p->atk, &r->up);
    cs_udp_close(&r->up);
    r->active = false;
}

static void relay_from_device(proxy_t *p, coap_peer_t device, const uint8_t *d, size_t n, cs_time_ms_t now)
{
    uint8_t buf[MAX_MSG];
    relayed_t *r = n <= sizeof buf ? relay_of_device(p, device, now) : NULL;
    if (!r)
        return;
    memcpy(buf, d, n);
    r->last = now;
    log_msg(p, "client->proxy", device, buf, n);
    capture(p, &p->down_udp, device, false, buf, n);
    size_t tkl = buf[0] & 0x0f;
    uint8_t cls = n >= 4 ? COAP_CODE_CLASS(buf[1]) : 0;
    if (cs_net_peer_is_tcp(device) && cls >= 2 && cls <= 5 && n >= 4 + tkl)
        for (size_t i = 0; i < RELAY_CONS; i++)
            if (r->con[i].used && r->con[i].tkl == tkl && !memcmp(r->con[i].token, buf + 4, tkl)) {
                /* the answer to the server's CON: its piggybacked ACK */
                buf[0] = (uint8_t)((buf[0] & 0xcf) | COAP_TYPE_ACK << 4);
                buf[2] = (uint8_t)(r->con[i].mid >> 8);
                buf[3] = (uint8_t)r->con[i].mid;
                r->con[i].used = false;
            }
    if (cls == 0 && buf[1])
        p->forwarded++;
    if (!atk_apply(&p->atk, &r->up, buf, &n, r->server, true, now))
        return;
    capture(p, &r->up, r->server, true, buf, n);
    if (cs_udp_queue(&r->up, r->server, buf, n) != CS_NET_OK)
        fprintf(stderr, "coreseal proxy: cannot send toward the server\n");
}

static void relay_from_server(proxy_t *p, relayed_t *r, const uint8_t *d, size_t n, cs_time_ms_t now)
{
    uint8_t buf[MAX_MSG];
    if (n > sizeof buf || n < 4)
        return;
    memcpy(buf, d, n);
    r->last = now;
    log_msg(p, "server->proxy", r->server, buf, n);
    capture(p, &r->up, r->server, false, buf, n);
    size_t tkl = buf[0] & 0x0f;
    if (cs_net_peer_is_tcp(r->device) && (buf[0] >> 4 & 3) == COAP_TYPE_CON && COAP_CODE_CLASS(buf[1]) == 0 &&
        buf[1] && tkl <= COAP_MAX_TOKEN_LEN && n >= 4 + tkl) {
        size_t k = r->con_next++ % RELAY_CONS; /* the oldest goes: the server gave up on it */
        r->con[k].used = true;
        r->con[k].tkl = (uint8_t)tkl;
        memcpy(r->con[k].token, buf + 4, tkl);
        r->con[k].mid = (uint16_t)(buf[2] << 8 | buf[3]);
    }
    if (!atk_apply(&p->atk, &p->down_udp, buf, &n, r->device, false, now))
        return;
    capture(p, &p->down_udp, r->device, true, buf, n);
    if (cs_udp_queue(&p->down_udp, r->device, buf, n) != CS_NET_OK && p->verbose)
        fprintf(stderr, "* the device's connection is gone\n");
}

static int run_relay(proxy_t *p)
{
    while (!cli_stopping) {
        if (cs_udp_receive(&p->down_udp, 5) != CS_NET_OK)
            return cli_fail("proxy", CLI_EXIT_NETWORK, "receive failed");
        cs_time_ms_t now = cs_net_now();
        for (size_t i = 0; i < p->down_udp.n_in; i++)
            relay_from_device(p, p->down_udp.in_peer[i], p->down_udp.in[i], p->down_udp.in_len[i], now);
        for (size_t i = 0; i < MAX_RELAYED; i++) {
            relayed_t *r = p->relayed[i];
            if (!r || !r->active)
                continue;
            if (now - r->last > RELAY_IDLE_MS) {
                relay_end(p, r);
                continue;
            }
            if (cs_udp_receive(&r->up, 0) != CS_NET_OK)
                continue;
            for (size_t k = 0; k < r->up.n_in; k++)
                relay_from_server(p, r, r->up.in[k], r->up.in_len[k], now);
        }
        atk_release_held(&p->atk, now);
        if (cs_udp_flush(&p->down_udp) != CS_NET_OK)
            fprintf(stderr, "coreseal proxy: send failed\n");
        for (size_t i = 0; i < MAX_RELAYED; i++)
            if (p->relayed[i] && p->relayed[i]->active && cs_udp_flush(&p->relayed[i]->up) != CS_NET_OK)
                fprintf(stderr, "coreseal proxy: send toward the server failed\n");
    }
    return CLI_EXIT_OK;
}

/* Drains an endpoint through the attacker into a socket, logging. */
static void flush(proxy_t *p, coap_ep_t *ep, cs_udp_t *udp, const char *dir, bool toward_server)
{
    size_t len;
    coap_peer_t to;
    const uint8_t *d;
    while ((d = coap_ep_send_buf(ep, &len, &to)) != NULL) {
        uint8_t copy[MAX_MSG];
        memcpy(copy, d, len);
        coap_ep_send_ack(ep);
        log_msg(p, dir, to, copy, len);
        if (!atk_apply(&p->atk, udp, copy, &len, to, toward_server, cs_net_now()))
            continue;
        capture(p, udp, to, true, copy, len);
        if (cs_udp_queue(udp, to, copy, len) != CS_NET_OK)
            fprintf(stderr, "coreseal proxy: cannot queue a datagram\n");
    }
    if (cs_udp_flush(udp) != CS_NET_OK)
        fprintf(stderr, "coreseal proxy: send failed\n");
}

/* The proxy's loop: requests from clients (and HTTP) forwarded, answers
 * and notifications relayed back. */
static int run_proxy(proxy_t *p)
{
    while (!cli_stopping) {
        cs_time_ms_t now = cs_net_now();
        /* both sockets: the downstream one waits briefly, the upstream one not */
        if (cs_udp_receive(&p->down_udp, 5) != CS_NET_OK)
            break;
        now = cs_net_now();
        for (size_t i = 0; i < p->down_udp.n_in; i++) {
            coap_ep_event_t ev;
            log_msg(p, "client->proxy", p->down_udp.in_peer[i], p->down_udp.in[i], p->down_udp.in_len[i]);
            capture(p, &p->down_udp, p->down_udp.in_peer[i], false, p->down_udp.in[i], p->down_udp.in_len[i]);
            if (coap_ep_input(&p->down, p->down_udp.in_peer[i], p->down_udp.in[i], p->down_udp.in_len[i],
                              now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_REQUEST)
                on_client_request(p, &ev, now);
            else if (ev.type == COAP_EV_RESET || ev.type == COAP_EV_TIMEOUT)
                for (size_t k = 0; k < MAX_PENDING; k++) /* client gone: stop observing */
                    if (p->pend[k].active && !p->pend[k].to_http && p->pend[k].down.peer == ev.peer &&
                        p->pend[k].down.token_len == ev.token_len &&
                        !memcmp(p->pend[k].down.token, ev.token, ev.token_len)) {
                        coap_ep_cancel(&p->up, p->pend[k].up_peer, p->pend[k].up_token, 8);
                        p->pend[k].active = false;
                    }
        }
        for (hc_cmd_t *hc; p->gw && (hc = hc_next(p->gw));)
            on_http_request(p, hc, now);
        const hc_client_t *answer;
        void *tag;
        bool ok;
        while (p->http_up && (answer = hc_multi_next(p->http_up, &tag, &ok)))
            http_relay(p, tag, ok, answer, now);
        if (cs_udp_receive(&p->up_udp, 0) != CS_NET_OK)
            break;
        for (size_t i = 0; i < p->up_udp.n_in; i++) {
            coap_ep_event_t ev;
            log_msg(p, "server->proxy", p->up_udp.in_peer[i], p->up_udp.in[i], p->up_udp.in_len[i]);
            capture(p, &p->up_udp, p->up_udp.in_peer[i], false, p->up_udp.in[i], p->up_udp.in_len[i]);
            if (coap_ep_input(&p->up, p->up_udp.in_peer[i], p->up_udp.in[i], p->up_udp.in_len[i], now,
                              &ev) == COAP_OK && ev.type != COAP_EV_NONE)
                on_backend_event(p, &ev, now);
        }
        coap_ep_event_t ev;
        do {
            if (coap_ep_tick(&p->up, now, &ev) != COAP_OK)
                break;
            if (ev.type != COAP_EV_NONE)
                on_backend_event(p, &ev, now);
        } while (ev.type != COAP_EV_NONE);
        do {
            if (coap_ep_tick(&p->down, now, &ev) != COAP_OK)
                break;
        } while (ev.type != COAP_EV_NONE);
        atk_release_held(&p->atk, now);
        flush(p, &p->up, &p->up_udp, "proxy->server", true);
        flush(p, &p->down, &p->down_udp, "proxy->client", false);
    }
    return CLI_EXIT_OK;
}

static void on_step(int sig)
{
    (void)sig;
    atk_step++;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coreseal proxy --listen HOST:PORT [options]\n"
            "\n"
            "A CoAP proxy that never holds OSCORE keys. Requests are forwarded\n"
            "unchanged (OSCORE option, ciphertext) with a new token.\n"
            "\n"
            "  -l, --listen HOST:PORT     where clients reach the proxy\n"
            "      --listen-tcp HOST:PORT clients may also come over TCP (RFC 8323); each hop\n"
            "                             uses its own transport, OSCORE runs end to end\n"
            "      --listen-ws HOST:PORT  ... or over WebSockets (RFC 8323 4, /.well-known/coap)\n"
            "      --listen-dtls HOST:PORT clients may also come over DTLS (coaps://), which\n"
            "                             ends here: the proxy reads what is not OSCORE. With:\n"
            "      --psk ID:KEY  --cert FILE  --key FILE  --ca FILE   (as for 'coreseal serve')\n"
            "      --upstream-psk ID:KEY  --upstream-cert FILE  --upstream-key FILE\n"
            "      --upstream-ca FILE     credentials toward coaps:// servers\n"
            "      --listen-http HOST:PORT  HTTP-to-CoAP cross-proxy (RFC 8075): GET\n"
            "                             http://HOST:PORT/hc/coap://device/path; OSCORE\n"
            "                             requests travel in the OSCORE header field and an\n"
            "                             application/oscore body (RFC 8613 11)\n"
            "      --forward              act as forward proxy (Proxy-Uri, or Proxy-Scheme +\n"
            "                             Uri-Host + Uri-Port); coap://, coap+tcp://, coap+ws://,\n"
            "                             (with --upstream-...) coaps://, and http(s):// targets\n"
            "                             fetched as HTTP (RFC 7252 10.1; OSCORE as RFC 8613 11.2)\n"
            "      --route HOST=URI       reverse proxy: requests with Uri-Host HOST go to URI\n"
            "                             (coap://backend:port or coap+tcp://...); repeatable;\n"
            "      --route /PATH=URI      ... or those under a path prefix (plain CoAP only: an\n"
            "                             OSCORE request's path is encrypted)\n"
            "      --routes FILE          routes and a default from a JSON file (docs/proxies.md)\n"
            "      --default URI          reverse proxy: everything else goes to URI\n"
            "      --relay                a gateway: every message passes as it is, both ways,\n"
            "                             each client with a socket of its own toward --default\n"
            "                             (coap:// or coaps://), so the server reaches it (LwM2M)\n"
            "      --cache                keep plain CoAP answers to GET for their Max-Age and\n"
            "                             answer repeats from them (never OSCORE answers)\n"
            "      --log FILE             one line per message with what the proxy can see\n"
            "      --pcap FILE            every plain UDP datagram as a capture file for Wireshark\n"
            "      --attack MODES         flip,drop,replay,strip,subst,inject,delay,reorder,tamper\n"
            "                             (comma-separated): tamper with messages, for tests and\n"
            "                             demos only (subst: every digit 0-8 of a payload becomes\n"
            "                             9; inject: requests gain Uri-Query first=1, responses an\n"
            "                             ETag; delay: held --attack-delay MS, default 300;\n"
            "                             reorder: overtaken by what follows; tamper: one bit of\n"
            "                             the payload's last byte)\n"
            "      --attack-step          attacks start off; each SIGUSR1 turns on the next mode\n"
            "                             of the list alone, after the last one off again\n"
            "      --attack-rate PCT      share of messages attacked (default 100)\n"
            "      --attack-direction D   both (default), to-server or to-client\n"
            "      --block-size N         OSCORE messages cross the upstream hop in outer\n"
            "                             Block1/Block2 pieces of N bytes (16..1024), as a\n"
            "                             proxy in front of a constrained link does\n"
            "                             (RFC 8613 4.1.3.4.2); the client gets them whole\n"
            "      --client-block-size N  OSCORE answers over N bytes go to the client in outer\n"
            "                             Block2 blocks; it asks for the rest\n"
            "  -v, --verbose\n"
            "\n"
            "Example:\n"
            "  coreseal proxy --listen 127.0.0.1:5684 --default coap://127.0.0.1:5683 --log seen.log\n");
}

int cmd_proxy(int argc, char **argv)
{
    static proxy_t p;
    memset(&p, 0, sizeof p);
    p.listen_host = "::";
    p.listen_port = "5683";
    atk_init(&p.atk, &p.crypto);
    p.block_szx = 0xff;
    p.client_szx = 0xff;
    enum { OPT_FORWARD = 256, OPT_ROUTE, OPT_DEFAULT, OPT_LOG, OPT_ATTACK, OPT_RATE, OPT_DIR, OPT_BLOCK, OPT_PCAP,
           OPT_CLIENT_BLOCK, OPT_LISTEN_TCP, OPT_LISTEN_DTLS, OPT_PSK, OPT_CERT, OPT_KEY, OPT_CA, OPT_UP_PSK,
           OPT_UP_CERT, OPT_UP_KEY, OPT_UP_CA, OPT_LISTEN_HTTP, OPT_CACHE, OPT_LISTEN_WS, OPT_DELAY, OPT_ROUTES,
           OPT_RELAY, OPT_STEP };
    const char *routes_file = NULL;
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"forward", no_argument, NULL, OPT_FORWARD},
        {"route", required_argument, NULL, OPT_ROUTE}, {"default", required_argument, NULL, OPT_DEFAULT},
        {"log", required_argument, NULL, OPT_LOG}, {"attack", required_argument, NULL, OPT_ATTACK},
        {"attack-rate", required_argument, NULL, OPT_RATE}, {"verbose", no_argument, NULL, 'v'},
        {"attack-direction", required_argument, NULL, OPT_DIR},
        {"block-size", required_argument, NULL, OPT_BLOCK},
        {"client-block-size", required_argument, NULL, OPT_CLIENT_BLOCK},
        {"pcap", required_argument, NULL, OPT_PCAP},
        {"listen-tcp", required_argument, NULL, OPT_LISTEN_TCP},
        {"listen-dtls", required_argument, NULL, OPT_LISTEN_DTLS},
        {"listen-http", required_argument, NULL, OPT_LISTEN_HTTP},
        {"listen-ws", required_argument, NULL, OPT_LISTEN_WS},
        {"cache", no_argument, NULL, OPT_CACHE},
        {"relay", no_argument, NULL, OPT_RELAY},
        {"attack-step", no_argument, NULL, OPT_STEP},
        {"routes", required_argument, NULL, OPT_ROUTES},
        {"attack-delay", required_argument, NULL, OPT_DELAY},
        {"psk", required_argument, NULL, OPT_PSK}, {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY}, {"ca", required_argument, NULL, OPT_CA},
        {"upstream-psk", required_argument, NULL, OPT_UP_PSK},
        {"upstream-cert", required_argument, NULL, OPT_UP_CERT},
        {"upstream-key", required_argument, NULL, OPT_UP_KEY}, {"upstream-ca", required_argument, NULL, OPT_UP_CA},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, rc = CLI_EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &p.listen_host, &p.listen_port))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--listen expects HOST:PORT");
            break;
        case OPT_LISTEN_TCP:
            if (cli_parse_listen(optarg, &p.tcp_host, &p.tcp_port))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--listen-tcp expects HOST:PORT");
            break;
        case OPT_LISTEN_WS:
            if (cli_parse_listen(optarg, &p.ws_host, &p.ws_port))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--listen-ws expects HOST:PORT");
            break;
        case OPT_LISTEN_HTTP:
            if (cli_parse_listen(optarg, &p.http_host, &p.http_port))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--listen-http expects HOST:PORT");
            break;
        case OPT_LISTEN_DTLS:
            if (cli_parse_listen(optarg, &p.dtls_host, &p.dtls_port))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--listen-dtls expects HOST:PORT");
            break;
        case OPT_PSK:
        case OPT_UP_PSK:
            if (cli_dtls_add_psk(c == OPT_PSK ? &p.down_dtls : &p.up_dtls, optarg, "proxy") != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case OPT_CERT: p.down_dtls.cert_file = optarg; break;
        case OPT_KEY: p.down_dtls.key_file = optarg; break;
        case OPT_CA: p.down_dtls.ca_file = optarg; break;
        case OPT_UP_CERT: p.up_dtls.cert_file = optarg; break;
        case OPT_UP_KEY: p.up_dtls.key_file = optarg; break;
        case OPT_UP_CA: p.up_dtls.ca_file = optarg; break;
        case OPT_FORWARD: p.forward = true; break;
        case OPT_CACHE: p.cache_on = true; break;
        case OPT_RELAY: p.relay = true; break;
        case OPT_STEP: p.atk.stepped = true; break;
        case OPT_DELAY:
            p.atk.delay_ms = atoi(optarg);
            if (p.atk.delay_ms < 1 || p.atk.delay_ms > 600000)
                return cli_fail("proxy", CLI_EXIT_USAGE, "--attack-delay expects 1..600000 ms");
            break;
        case OPT_ROUTE: {
            char *eq = strchr(optarg, '=');
            cs_proxy_route_t *r = &p.routes.route[p.routes.n];
            if (!eq || eq == optarg || p.routes.n == CS_PROXY_MAX_ROUTES ||
                (size_t)(eq - optarg) >= sizeof r->host || strlen(eq + 1) >= sizeof r->target)
                return cli_fail("proxy", CLI_EXIT_USAGE, "--route expects HOST=URI or /PATH=URI");
            snprintf(optarg[0] == '/' ? r->path : r->host, sizeof r->host, "%.*s", (int)(eq - optarg), optarg);
            snprintf(r->target, sizeof r->target, "%s", eq + 1);
            p.routes.n++;
            break;
        }
        case OPT_DEFAULT: snprintf(p.routes.default_target, sizeof p.routes.default_target, "%s", optarg); break;
        case OPT_ROUTES: routes_file = optarg; break;
        case OPT_LOG:
            if (!(p.log = fopen(optarg, "a")))
                return cli_fail("proxy", CLI_EXIT_USAGE, "cannot write %s", optarg);
            break;
        case OPT_ATTACK: {
            char bad[32];
            if (!atk_parse(&p.atk, optarg, bad, sizeof bad))
                return cli_fail("proxy", CLI_EXIT_USAGE, "unknown attack '%s' (" ATK_NAMES ")", bad);
            break;
        }
        case OPT_RATE: p.atk.rate = atoi(optarg); break;
        case OPT_DIR:
            p.atk.dir = !strcmp(optarg, "both") ? 0 : !strcmp(optarg, "to-server") ? 1
                           : !strcmp(optarg, "to-client") ? 2 : -1;
            if (p.atk.dir < 0)
                return cli_fail("proxy", CLI_EXIT_USAGE, "--attack-direction: both, to-server or to-client");
            break;
        case OPT_PCAP:
            if (!(p.pcap = cli_pcap_open(optarg)))
                return cli_fail("proxy", CLI_EXIT_USAGE, "cannot write %s", optarg);
            break;
        case OPT_BLOCK:
        case OPT_CLIENT_BLOCK: {
            long size = atol(optarg);
            if (size < 16 || size > 1024 || (size & (size - 1)))
                return cli_fail("proxy", CLI_EXIT_USAGE, "--%s expects 16, 32, 64, 128, 256, 512 or 1024",
                                c == OPT_BLOCK ? "block-size" : "client-block-size");
            *(c == OPT_BLOCK ? &p.block_szx : &p.client_szx) = coap_block_szx((size_t)size);
            break;
        }
        case 'v': p.verbose++; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (routes_file) { /* the file's routes first, then those of the command line */
        static cs_proxy_routes_t f;
        char ferr[512];
        if (cs_proxy_routes_load(routes_file, &f, ferr, sizeof ferr) != CS_STORE_OK)
            return cli_fail("proxy", CLI_EXIT_CONFIG, "%s", ferr);
        if (f.n + p.routes.n > CS_PROXY_MAX_ROUTES)
            return cli_fail("proxy", CLI_EXIT_USAGE, "at most %d routes in all", CS_PROXY_MAX_ROUTES);
        memcpy(&f.route[f.n], p.routes.route, p.routes.n * sizeof f.route[0]);
        f.n += p.routes.n;
        if (p.routes.default_target[0])
            memcpy(f.default_target, p.routes.default_target, sizeof f.default_target);
        p.routes = f;
    }
    if (p.relay && (p.forward || p.routes.n || p.http_port || p.cache_on || p.block_szx != 0xff ||
                    p.client_szx != 0xff || strncmp(p.routes.default_target, "coap", 4) ||
                    !strncmp(p.routes.default_target, "coap+", 5)))
        return cli_fail("proxy", CLI_EXIT_USAGE, "--relay passes messages on to --default coap://... or coaps://... "
                        "alone (no --forward, --route, --listen-http, --cache or block sizes)");
    if (!p.forward && !p.routes.n && !p.routes.default_target[0] && !p.http_port) {
        usage(stderr);
        return cli_fail("proxy", CLI_EXIT_USAGE, "give --forward, --route, --routes, --default or --listen-http");
    }
    if (cs_crypto_openssl_new(&p.crypto) != CS_CRYPTO_OK)
        return cli_fail("proxy", CLI_EXIT_CONFIG, "cannot initialise OpenSSL");
    char err[256] = "";
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    cfg.random = cli_random;
    cfg.random_arg = &p.crypto;
    size_t mem = COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG);
    p.down_mem = malloc(mem);
    p.up_mem = malloc(mem);
    if (cs_udp_open(&p.down_udp, p.listen_host, p.listen_port, true, err, sizeof err) != CS_NET_OK ||
        cs_udp_open(&p.up_udp, "::", "0", true, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("proxy", CLI_EXIT_NETWORK, "%s", err);
        goto out;
    }
    p.down_udp.log = p.up_udp.log = p.verbose ? stderr : NULL;
    if (p.tcp_port && cs_tcp_listen(&p.down_udp, p.tcp_host, p.tcp_port, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("proxy", CLI_EXIT_NETWORK, "cannot listen on TCP: %s", err);
        goto out;
    }
    if (p.ws_port && cs_ws_listen(&p.down_udp, p.ws_host, p.ws_port, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("proxy", CLI_EXIT_NETWORK, "cannot listen on WebSockets: %s", err);
        goto out;
    }
    if (p.dtls_port && cs_dtls_listen(&p.down_udp, p.dtls_host, p.dtls_port, &p.down_dtls, err, sizeof err) !=
                           CS_NET_OK) {
        rc = cli_fail("proxy", CLI_EXIT_NETWORK, "cannot serve DTLS: %s", err);
        goto out;
    }
    if (!p.down_mem || !p.up_mem ||
        coap_ep_init(&p.down, p.down_mem, mem, MAX_MSG, &cfg, cs_net_now()) != COAP_OK ||
        coap_ep_init(&p.up, p.up_mem, mem, MAX_MSG, &cfg, cs_net_now()) != COAP_OK) {
        rc = cli_fail("proxy", CLI_EXIT_CONFIG, "cannot set up the endpoints");
        goto out;
    }
    cli_catch_signals();
    fprintf(stderr, "coreseal proxy: listening on %s:%s%s%s%s%s\n", p.listen_host, p.listen_port,
            p.tcp_port ? " and TCP " : "", p.tcp_port ? (p.tcp_host ? p.tcp_host : "*") : "",
            p.tcp_port ? ":" : "", p.tcp_port ? p.tcp_port : "");
    if (p.ws_port)
        fprintf(stderr, "coreseal proxy: WebSockets on %s:%s\n", p.ws_host ? p.ws_host : "*", p.ws_port);
    if (p.dtls_port)
        fprintf(stderr, "coreseal proxy: DTLS on %s:%s\n", p.dtls_host ? p.dtls_host : "*", p.dtls_port);
    if (p.http_port && !(p.gw = hc_start(p.http_host, p.http_port, HC_PREFIX, err, sizeof err))) {
        rc = cli_fail("proxy", CLI_EXIT_NETWORK, "%s", err);
        goto out;
    }
    if (p.http_port)
        fprintf(stderr, "coreseal proxy: HTTP on %s:%s, targets as %scoap://HOST:PORT/PATH\n",
                p.http_host ? p.http_host : "*", p.http_port, HC_PREFIX);
    if (p.atk.modes)
        fprintf(stderr, "coreseal proxy: ATTACKING\n");
    if (p.atk.stepped) {
        struct sigaction sa = {.sa_handler = on_step};
        sigaction(SIGUSR1, &sa, NULL);
    }
    if (p.relay)
        fprintf(stderr, "coreseal proxy: relaying to %s, a socket per client\n", p.routes.default_target);
    rc = p.relay ? run_relay(&p) : run_proxy(&p);
    fprintf(stderr, "coreseal proxy: forwarded %lu requests, %lu answered from the cache; attacks tried: ", p.forwarded,
            p.cache_hits);
    atk_print_counts(&p.atk, stderr);
    fputc('\n', stderr);
out:
    for (size_t i = 0; i < MAX_PENDING; i++) /* HTTP requests still waiting */
        if (p.pend[i].active && p.pend[i].http)
            http_fail(&p, &p.pend[i], 503, "the proxy is stopping");
    hc_stop(p.gw);
    hc_multi_free(p.http_up);
    for (size_t i = 0; i < MAX_RELAYED; i++) {
        if (p.relayed[i] && p.relayed[i]->active)
            relay_end(&p, p.relayed[i]);
        free(p.relayed[i]);
    }
    for (size_t i = 0; i < MAX_HTTP_BODIES; i++)
        free(p.bodies[i].data);
    if (p.log)
        fclose(p.log);
    if (p.pcap)
        fclose(p.pcap);
    cs_udp_close(&p.down_udp);
    cs_udp_close(&p.up_udp);
    cs_wipe(&p.down_dtls, sizeof p.down_dtls);
    cs_wipe(&p.up_dtls, sizeof p.up_dtls);
    free(p.down_mem);
    free(p.up_mem);
    cs_crypto_openssl_free(&p.crypto);
    return rc;
}
