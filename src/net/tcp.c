/* CoAP over TCP and over WebSockets (RFC 8323 §3 and §4 framing, §5
 * signaling) as one more transport of the CoAP endpoint: frames become the
 * datagrams coap_ep_t speaks and back, each side opens with a CSM, Ping gets
 * Pong, Release and Abort close. A WebSocket connection first runs the
 * opening handshake and then carries one CoAP message per binary message
 * (ws.c). net.h says how messaging (CON, ACK, message IDs) maps onto a
 * stream. */
#define _GNU_SOURCE
#include "net_internal.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define SENT_RING 32       /* CON message IDs remembered per connection */
#define SYNTH_MAX 64       /* acknowledgements made for the endpoint, waiting */
#define TX_LIMIT (1u << 20) /* a peer that reads nothing loses its connection */
#define DEFAULT_PEER_MAX_MSG 1152 /* §5.3.1, until the peer's CSM says more */
#define RX_CAP 4096        /* a frame, or a WebSocket opening handshake */

typedef struct {
    uint16_t mid;
    bool request;
} sent_t;

typedef struct {
    int fd; /* -1: a free slot */
    uint16_t gen;
    bool connecting, csm_in, want_out;
    cs_net_addr_t addr;
    uint32_t peer_max_msg;
    uint16_t next_mid;
    uint8_t rx[RX_CAP];
    size_t rx_len;
    uint8_t *tx;
    size_t tx_len, tx_cap;
    sent_t sent[SENT_RING];
    uint8_t n_sent, sent_next;
    /* CoAP over WebSockets */
    bool ws, ws_client, ws_open;
    char ws_key[CS_WS_KEY_MAX];  /* a client's Sec-WebSocket-Key */
    uint8_t *hold;               /* a client's messages before the 101 */
    size_t hold_len;
    uint8_t msg[CS_TCP_MAX_MSG]; /* a message arriving in several frames */
    size_t msg_len;
} conn_t;

typedef struct {
    coap_peer_t peer;
    uint8_t msg[4];
} synth_t;

struct cs_tcp {
    int listen_fd, ws_listen_fd;
    conn_t *conns;
    size_t n_conns;
    synth_t synth[SYNTH_MAX];
    size_t n_synth;
};

static void note(const cs_udp_t *u, const conn_t *c, const char *fmt, ...)
{
    if (!u->log)
        return;
    char addr[80], msg[200];
    cs_net_addr_str(&c->addr, addr, sizeof addr);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(u->log, "%s %s: %s\n", c->ws ? "coap+ws" : "coap+tcp", addr, msg);
}

static struct cs_tcp *tcp_of(cs_udp_t *u)
{
    if (!u->tcp && (u->tcp = calloc(1, sizeof *u->tcp)) != NULL)
        u->tcp->listen_fd = u->tcp->ws_listen_fd = -1;
    return u->tcp;
}

static coap_peer_t handle_of(size_t i, const conn_t *c)
{
    return CS_TCP_PEER | (coap_peer_t)(c->gen & 0x3fff) << 16 | (coap_peer_t)i;
}

static conn_t *conn_of(const cs_udp_t *u, coap_peer_t peer, size_t *index)
{
    size_t i = peer & 0xffff;
    if (!u->tcp || !cs_net_peer_is_tcp(peer) || i >= u->tcp->n_conns)
        return NULL;
    conn_t *c = &u->tcp->conns[i];
    if (c->fd < 0 || (c->gen & 0x3fff) != ((peer >> 16) & 0x3fff))
        return NULL;
    if (index)
        *index = i;
    return c;
}

const cs_net_addr_t *cs_tcp_peer_addr(const cs_udp_t *u, coap_peer_t peer)
{
    const conn_t *c = conn_of(u, peer, NULL);
    return c ? &c->addr : NULL;
}

static void synth(struct cs_tcp *t, coap_peer_t peer, coap_type_t type, uint16_t mid)
{
    if (t->n_synth == SYNTH_MAX)
        return; /* the endpoint retransmits, and is answered then */
    synth_t *s = &t->synth[t->n_synth++];
    s->peer = peer;
    s->msg[0] = (uint8_t)(0x40 | type << 4);
    s->msg[1] = COAP_CODE_EMPTY;
    s->msg[2] = (uint8_t)(mid >> 8);
    s->msg[3] = (uint8_t)mid;
}

static void set_events(cs_udp_t *u, size_t i, bool want_out)
{
    conn_t *c = &u->tcp->conns[i];
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                             .data.u64 = CS_NET_TAG_CONN + i};
    if (epoll_ctl(u->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want_out;
}

/* Requests still waiting for their response come back to the endpoint as
 * RST: the application learns now that the answer will not come. */
static void conn_close(cs_udp_t *u, size_t i, const char *why)
{
    conn_t *c = &u->tcp->conns[i];
    note(u, c, "closed (%s)", why);
    snprintf(u->why, sizeof u->why, "%s", why);
    for (size_t k = 0; k < c->n_sent; k++)
        if (c->sent[k].request)
            synth(u->tcp, handle_of(i, c), COAP_TYPE_RST, c->sent[k].mid);
    epoll_ctl(u->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->tx);
    free(c->hold);
    uint16_t gen = (uint16_t)(c->gen + 1);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->gen = gen;
}

static bool conn_flush(cs_udp_t *u, size_t i)
{
    conn_t *c = &u->tcp->conns[i];
    size_t off = 0;
    while (!c->connecting && off < c->tx_len) {
        ssize_t w = send(c->fd, c->tx + off, c->tx_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            conn_close(u, i, strerror(errno));
            return false;
        }
        off += (size_t)w;
    }
    if (off) {
        memmove(c->tx, c->tx + off, c->tx_len - off);
        c->tx_len -= off;
    }
    set_events(u, i, c->connecting || c->tx_len > 0);
    return true;
}

static bool conn_write(cs_udp_t *u, size_t i, const uint8_t *d, size_t n)
{
    conn_t *c = &u->tcp->conns[i];
    if (c->tx_len + n > TX_LIMIT) {
        conn_close(u, i, "the peer reads nothing: send buffer full");
        return false;
    }
    if (c->tx_len + n > c->tx_cap) {
        size_t cap = c->tx_cap ? c->tx_cap : 4096;
        while (cap < c->tx_len + n)
            cap *= 2;
        uint8_t *tx = realloc(c->tx, cap);
        if (!tx) {
            conn_close(u, i, "out of memory");
            return false;
        }
        c->tx = tx;
        c->tx_cap = cap;
    }
    memcpy(c->tx + c->tx_len, d, n);
    c->tx_len += n;
    return conn_flush(u, i);
}

/* One CoAP message in the connection's framing: as it is over TCP; in a
 * binary WebSocket frame (masked by a client, RFC 6455 §5.3), held back
 * until a client's handshake is through. */
/* A WebSocket frame of opcode around p (masked by a client, §5.3) into
 * frame; its length, 0 when no mask could be drawn. */
static size_t ws_frame_build(const conn_t *c, uint8_t opcode, const uint8_t *p, size_t n, uint8_t *frame)
{
    uint8_t mask[4];
    if (c->ws_client && RAND_bytes(mask, 4) != 1)
        return 0;
    size_t h = cs_ws_frame_header(frame, opcode, n, c->ws_client ? mask : NULL);
    memcpy(frame + h, p, n);
    if (c->ws_client)
        cs_ws_unmask(frame + h, n, mask); /* masking is the same XOR */
    return h + n;
}

static bool conn_send_msg(cs_udp_t *u, size_t i, const uint8_t *m, size_t n)
{
    conn_t *c = &u->tcp->conns[i];
    if (!c->ws)
        return conn_write(u, i, m, n);
    uint8_t frame[CS_WS_HEADER_MAX + CS_NET_MAX_DGRAM + 8];
    size_t len = n <= CS_NET_MAX_DGRAM + 8 ? ws_frame_build(c, CS_WS_BINARY, m, n, frame) : 0;
    if (!len)
        return false;
    if (c->ws_open)
        return conn_write(u, i, frame, len);
    uint8_t *hold = realloc(c->hold, c->hold_len + len);
    if (!hold || c->hold_len + len > TX_LIMIT)
        return false;
    memcpy(hold + c->hold_len, frame, len);
    c->hold = hold;
    c->hold_len += len;
    return true;
}

/* A WebSocket control frame (close, pong): never masked by a server. */
static bool ws_control(cs_udp_t *u, size_t i, uint8_t opcode, const uint8_t *p, size_t n)
{
    uint8_t frame[CS_WS_HEADER_MAX + 125];
    size_t len = n <= 125 ? ws_frame_build(&u->tcp->conns[i], opcode, p, n, frame) : 0;
    return len && conn_write(u, i, frame, len);
}

/* A signaling message (§5) with empty token. */
static bool send_signal(cs_udp_t *u, size_t i, uint8_t code, const uint8_t *token, size_t token_len,
                        uint16_t opt, const void *val, size_t val_len, const char *diag)
{
    uint8_t buf[256];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, sizeof buf, u->tcp->conns[i].ws ? COAP_TRANSPORT_WS : COAP_TRANSPORT_TCP,
                      COAP_TYPE_CON, code, 0, token, token_len);
    if (code == COAP_CSM) {
        coap_builder_add_option_uint(&b, 2, CS_TCP_MAX_MSG); /* Max-Message-Size */
        coap_builder_add_option(&b, 4, NULL, 0);             /* Block-Wise-Transfer */
    } else if (opt) {
        coap_builder_add_option(&b, opt, val, val_len);
    }
    if (diag)
        coap_builder_set_payload(&b, (const uint8_t *)diag, strlen(diag));
    return coap_builder_finish(&b, &n) == COAP_OK && conn_send_msg(u, i, buf, n);
}

static void conn_abort(cs_udp_t *u, size_t i, const char *diag)
{
    if (send_signal(u, i, COAP_ABORT, NULL, 0, 0, NULL, 0, diag))
        conn_close(u, i, diag);
}

/* A client's opening handshake (RFC 6455 §4.1; RFC 8323 §4.1). */
static bool ws_send_request(cs_udp_t *u, size_t i, const char *host_port)
{
    conn_t *c = &u->tcp->conns[i];
    uint8_t nonce[16];
    char req[512];
    if (RAND_bytes(nonce, sizeof nonce) != 1 || EVP_EncodeBlock((unsigned char *)c->ws_key, nonce, 16) != 24)
        return false;
    int n = snprintf(req, sizeof req,
                     "GET /.well-known/coap HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: coap\r\n\r\n",
                     host_port, c->ws_key);
    return n > 0 && (size_t)n < sizeof req && conn_write(u, i, (const uint8_t *)req, (size_t)n);
}

/* Takes fd over: the index of its connection, or -1 (fd closed). A
 * WebSocket client (ws_host: "host:port" for the Host header) starts with
 * its handshake, a WebSocket server waits for one; TCP starts with the CSM. */
static long conn_new(cs_udp_t *u, int fd, const struct sockaddr *sa, socklen_t len, bool connecting, bool ws,
                     const char *ws_host)
{
    struct cs_tcp *t = u->tcp;
    size_t i = 0;
    while (i < t->n_conns && t->conns[i].fd >= 0)
        i++;
    if (i == t->n_conns) {
        conn_t *grown = t->n_conns < MAX_CONNS ? realloc(t->conns, (t->n_conns + 1) * sizeof *grown) : NULL;
        if (!grown) {
            close(fd);
            return -1;
        }
        t->conns = grown;
        memset(&t->conns[t->n_conns++], 0, sizeof *grown);
    }
    conn_t *c = &t->conns[i];
    uint16_t gen = c->gen;
    memset(c, 0, sizeof *c);
    c->gen = gen;
    c->connecting = connecting;
    c->want_out = true;
    c->peer_max_msg = DEFAULT_PEER_MAX_MSG;
    memcpy(&c->addr.ss, sa, len);
    c->addr.len = len;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = CS_NET_TAG_CONN + i};
    if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        c->fd = -1;
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->ws = ws;
    c->ws_client = ws && connecting;
    note(u, c, connecting ? (ws ? "connecting (WebSocket)" : "connecting") : ws ? "accepted (WebSocket)" : "accepted");
    if (ws)
        return !c->ws_client || ws_send_request(u, i, ws_host) ? (long)i : -1;
    /* §5.3.1: the CSM is each side's first message; neither waits for the
     * other's before sending its own */
    return send_signal(u, i, COAP_CSM, NULL, 0, 0, NULL, 0, NULL) ? (long)i : -1;
}

static void on_csm(cs_udp_t *u, size_t i, const coap_msg_t *m)
{
    conn_t *c = &u->tcp->conns[i];
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        uint32_t v;
        if (o.num == 2 && coap_opt_uint(&o, &v)) {
            c->peer_max_msg = v;
        } else if (o.num != 4 && (o.num & 1)) {
            /* §5.3: an unknown critical CSM option ends the connection,
             * naming it in Bad-CSM-Option */
            uint8_t num[4];
            size_t n = coap_encode_uint(o.num, num);
            char diag[64];
            snprintf(diag, sizeof diag, "unknown critical CSM option %u", o.num);
            if (send_signal(u, i, COAP_ABORT, NULL, 0, 2, num, n, diag))
                conn_close(u, i, diag);
            return;
        }
    }
    c->csm_in = true;
}

/* One signaling message; false when it closed the connection. */
static bool on_signal(cs_udp_t *u, size_t i, const coap_msg_t *m)
{
    conn_t *c = &u->tcp->conns[i];
    switch (m->code) {
    case COAP_CSM:
        on_csm(u, i, m);
        return c->fd >= 0;
    case COAP_PING: /* §5.4: Pong with the same token */
        return send_signal(u, i, COAP_PONG, m->token, m->token_len, 0, NULL, 0, NULL);
    case COAP_RELEASE:
        conn_close(u, i, "released by the peer");
        return false;
    case COAP_ABORT: {
        char why[160];
        snprintf(why, sizeof why, "aborted by the peer: %.*s", (int)(m->payload_len > 120 ? 120 : m->payload_len),
                 m->payload ? (const char *)m->payload : "");
        conn_close(u, i, why);
        return false;
    }
    default: /* Pong, and signals this version does not know: ignored */
        return true;
    }
}

/* One complete frame; false when the connection closed. */
static bool on_frame(cs_udp_t *u, size_t i, const uint8_t *f, size_t len)
{
    conn_t *c = &u->tcp->conns[i];
    coap_msg_t m;
    coap_err_t err = c->ws ? coap_msg_parse_ws(&m, f, len) : coap_msg_parse_tcp(&m, f, len);
    if (err != COAP_OK) {
        char diag[96];
        snprintf(diag, sizeof diag, "malformed message: %s", coreseal_strerror((int)err));
        conn_abort(u, i, diag);
        return false;
    }
    if (COAP_CODE_CLASS(m.code) == 7)
        return c->csm_in || m.code == COAP_CSM ? on_signal(u, i, &m)
                                                : (conn_abort(u, i, "the first message must be a CSM"), false);
    if (!c->csm_in) {
        conn_abort(u, i, "the first message must be a CSM");
        return false;
    }
    if (m.code == COAP_CODE_EMPTY)
        return true; /* §3.4: an empty message is only a keep-alive */
    /* the datagram: a request arrives as CON (the endpoint answers it in
     * an ACK, which goes back as a frame), a response as NON */
    static const uint8_t ext_len[16] = {[13] = 1, [14] = 2, [15] = 4};
    size_t hdr = 2 + ext_len[f[0] >> 4]; /* over WebSockets Len is 0 */
    uint8_t *d = u->in[u->n_in];
    bool request = COAP_CODE_CLASS(m.code) == 0;
    uint16_t mid = c->next_mid++;
    d[0] = (uint8_t)(0x40 | (request ? COAP_TYPE_CON : COAP_TYPE_NON) << 4 | m.token_len);
    d[1] = m.code;
    d[2] = (uint8_t)(mid >> 8);
    d[3] = (uint8_t)mid;
    memcpy(d + 4, f + hdr, len - hdr);
    u->in_len[u->n_in] = 4 + len - hdr;
    u->in_peer[u->n_in++] = handle_of(i, c);
    return true;
}

/* The opening handshake, when rx holds all of its head: a server answers
 * 101 (or an error and closes), a client checks the 101. Then the CSM
 * goes, and what a client held back. False: not through (yet, or ever). */
static bool ws_handshake(cs_udp_t *u, size_t i)
{
    conn_t *c = &u->tcp->conns[i];
    char head[RX_CAP + 1];
    memcpy(head, c->rx, c->rx_len);
    head[c->rx_len] = '\0';
    char *end = strstr(head, "\r\n\r\n");
    if (!end) {
        if (c->rx_len == sizeof c->rx)
            conn_close(u, i, "WebSocket handshake too long");
        return false;
    }
    end[4] = '\0';
    size_t used = (size_t)(end + 4 - head);
    if (c->ws_client) {
        if (!cs_ws_check_response(head, c->ws_key)) {
            conn_close(u, i, "the server refused the WebSocket upgrade (no 101 with our key and coap)");
            return false;
        }
    } else {
        char key[CS_WS_KEY_MAX], accept[CS_WS_ACCEPT_LEN + 1], resp[512];
        const char *why;
        int status = cs_ws_parse_request(head, key, &why);
        int n = status ? snprintf(resp, sizeof resp,
                                  "HTTP/1.1 %d Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                                  "Connection: close\r\n%s\r\n%s",
                                  status, strlen(why), status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", why)
                       : cs_ws_accept_key(key, accept)
                           ? snprintf(resp, sizeof resp,
                                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                                      "Sec-WebSocket-Protocol: coap\r\n\r\n",
                                      accept)
                           : -1;
        if (n < 0 || (size_t)n >= sizeof resp || !conn_write(u, i, (const uint8_t *)resp, (size_t)n))
            return false;
        if (status) {
            conn_close(u, i, why);
            return false;
        }
    }
    memmove(c->rx, c->rx + used, c->rx_len - used);
    c->rx_len -= used;
    c->ws_open = true;
    note(u, c, "WebSocket open");
    bool ok = send_signal(u, i, COAP_CSM, NULL, 0, 0, NULL, 0, NULL) && c->fd >= 0;
    if (ok && c->hold_len) {
        ok = conn_write(u, i, c->hold, c->hold_len);
        if (c->fd >= 0) {
            free(c->hold);
            c->hold = NULL;
            c->hold_len = 0;
        }
    }
    return ok;
}

/* One WebSocket frame at rx[off]: CoAP messages to on_frame, control
 * frames answered. Its size, 0 if incomplete, -1 if the connection closed. */
static long ws_frame(cs_udp_t *u, size_t i, size_t off)
{
    conn_t *c = &u->tcp->conns[i];
    cs_ws_frame_t f;
    int size = cs_ws_frame_parse(c->rx + off, c->rx_len - off, CS_TCP_MAX_MSG, &f);
    if (size == 0)
        return 0;
    /* RFC 6455 §5.1: a client masks every frame, a server none */
    if (size < 0 || f.masked == c->ws_client || f.opcode == CS_WS_TEXT || (f.opcode > 2 && f.opcode < 8) ||
        f.opcode > 10) {
        uint8_t code[2] = {0x03, size == -2 ? 0xf1 : f.opcode == CS_WS_TEXT ? 0xeb : 0xea}; /* 1009, 1003, 1002 */
        (void)ws_control(u, i, CS_WS_CLOSE, code, 2);
        conn_close(u, i, size == -2 ? "WebSocket message over our Max-Message-Size" : "WebSocket protocol error");
        return -1;
    }
    uint8_t *p = c->rx + off + f.header_len;
    if (f.masked)
        cs_ws_unmask(p, f.payload_len, f.mask);
    switch (f.opcode) {
    case CS_WS_CLOSE:
        (void)ws_control(u, i, CS_WS_CLOSE, p, f.payload_len < 2 ? 0 : 2);
        conn_close(u, i, "WebSocket closed by the peer");
        return -1;
    case CS_WS_PING:
        return ws_control(u, i, CS_WS_PONG, p, f.payload_len) ? size : -1;
    case CS_WS_PONG:
        return size;
    default: /* binary, or its continuation: one CoAP message per WebSocket message */
        if ((f.opcode == CS_WS_CONT) != (c->msg_len > 0) || c->msg_len + f.payload_len > sizeof c->msg) {
            conn_close(u, i, "WebSocket message out of sequence or too large");
            return -1;
        }
        memcpy(c->msg + c->msg_len, p, f.payload_len);
        c->msg_len += f.payload_len;
        if (!f.fin)
            return size;
        size_t n = c->msg_len;
        c->msg_len = 0;
        return on_frame(u, i, c->msg, n) ? size : -1;
    }
}

/* Hands complete frames to the batch while it has room; false when the
 * connection closed. */
static bool deliver(cs_udp_t *u, size_t i)
{
    conn_t *c = &u->tcp->conns[i];
    if (c->ws && !c->ws_open && !ws_handshake(u, i))
        return c->fd >= 0;
    size_t off = 0;
    bool open = true;
    while (open && u->n_in < CS_NET_BATCH) {
        if (c->ws) {
            long size = ws_frame(u, i, off);
            if (size == 0)
                break;
            open = size > 0;
            off += size > 0 ? (size_t)size : 0;
            continue;
        }
        size_t flen;
        coap_err_t err = coap_tcp_frame_size(c->rx + off, c->rx_len - off, &flen);
        if (err == COAP_ERR_TRUNCATED)
            break;
        if (err != COAP_OK || flen > CS_TCP_MAX_MSG) {
            char diag[96];
            snprintf(diag, sizeof diag, "message over our Max-Message-Size of %u bytes",
                     (unsigned)CS_TCP_MAX_MSG);
            conn_abort(u, i, err != COAP_OK ? "malformed frame header" : diag);
            return false;
        }
        if (flen > c->rx_len - off)
            break;
        open = on_frame(u, i, c->rx + off, flen);
        off += flen;
    }
    if (!open || c->fd < 0)
        return false;
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
    return true;
}

static bool has_frame(const conn_t *c)
{
    size_t flen;
    cs_ws_frame_t f;
    if (c->fd < 0)
        return false;
    if (c->ws)
        return c->ws_open && cs_ws_frame_parse(c->rx, c->rx_len, CS_TCP_MAX_MSG, &f) > 0;
    return coap_tcp_frame_size(c->rx, c->rx_len, &flen) == COAP_OK && flen <= c->rx_len;
}

static void conn_read(cs_udp_t *u, size_t i)
{
    conn_t *c = &u->tcp->conns[i];
    while (deliver(u, i) && u->n_in < CS_NET_BATCH) {
        ssize_t r = recv(c->fd, c->rx + c->rx_len, sizeof c->rx - c->rx_len, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            conn_close(u, i, r == 0 ? "closed by the peer" : strerror(errno));
            return;
        }
        c->rx_len += (size_t)r;
    }
}

static void on_accept(cs_udp_t *u, bool ws)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(ws ? u->tcp->ws_listen_fd : u->tcp->listen_fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        (void)conn_new(u, fd, (struct sockaddr *)&ss, len, false, ws, NULL);
    }
}

void cs_tcp_on_ready(cs_udp_t *u, uint64_t tag, uint32_t events)
{
    if (!u->tcp)
        return;
    if (tag == CS_NET_TAG_LISTEN || tag == CS_NET_TAG_WS_LISTEN) {
        on_accept(u, tag == CS_NET_TAG_WS_LISTEN);
        return;
    }
    size_t i = (size_t)(tag - CS_NET_TAG_CONN);
    if (i >= u->tcp->n_conns || u->tcp->conns[i].fd < 0)
        return;
    conn_t *c = &u->tcp->conns[i];
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            char why[120];
            snprintf(why, sizeof why, "connect failed: %s", strerror(soerr));
            conn_close(u, i, why);
            return;
        }
        c->connecting = false;
        note(u, c, "connected");
    }
    if ((events & EPOLLOUT) && !conn_flush(u, i))
        return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_read(u, i);
}

void cs_tcp_drain(cs_udp_t *u)
{
    struct cs_tcp *t = u->tcp;
    if (!t)
        return;
    size_t k = 0;
    for (; k < t->n_synth && u->n_in < CS_NET_BATCH; k++) {
        memcpy(u->in[u->n_in], t->synth[k].msg, 4);
        u->in_len[u->n_in] = 4;
        u->in_peer[u->n_in++] = t->synth[k].peer;
    }
    memmove(t->synth, t->synth + k, (t->n_synth - k) * sizeof t->synth[0]);
    t->n_synth -= k;
    for (size_t i = 0; i < t->n_conns && u->n_in < CS_NET_BATCH; i++)
        if (has_frame(&t->conns[i]))
            (void)deliver(u, i);
}

static bool sent_before(conn_t *c, uint16_t mid)
{
    for (size_t k = 0; k < c->n_sent; k++)
        if (c->sent[k].mid == mid)
            return true;
    return false;
}

cs_net_err_t cs_tcp_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n)
{
    size_t i;
    conn_t *c = conn_of(u, peer, &i);
    if (!c)
        return CS_NET_ERR_CLOSED;
    if (n < 4 || (size_t)(d[0] & 0x0f) > COAP_MAX_TOKEN_LEN || n < 4u + (d[0] & 0x0f))
        return CS_NET_ERR_BAD_ARG;
    coap_type_t type = (coap_type_t)((d[0] >> 4) & 3);
    size_t tkl = d[0] & 0x0f;
    uint8_t code = d[1];
    uint16_t mid = (uint16_t)(d[2] << 8 | d[3]);
    if (code == COAP_CODE_EMPTY)
        return CS_NET_OK; /* ACK, RST, CoAP ping: a stream needs none */
    bool request = COAP_CODE_CLASS(code) == 0;
    if (type == COAP_TYPE_CON && sent_before(c, mid)) {
        if (!request) /* retransmission: went once, acknowledge again */
            synth(u->tcp, peer, COAP_TYPE_ACK, mid);
        return CS_NET_OK;
    }
    /* §3.2 header: Len nibble (+ extended length), TKL, Code, Token;
     * §4.2 over WebSockets: Len is 0, the WebSocket frame has the length */
    size_t body = n - 4 - tkl;
    uint8_t frame[CS_NET_MAX_DGRAM + 8];
    size_t h = 0;
    if (c->ws) {
        frame[h++] = (uint8_t)tkl;
    } else if (body < 13) {
        frame[h++] = (uint8_t)(body << 4 | tkl);
    } else if (body < 269) {
        frame[h++] = (uint8_t)(13 << 4 | tkl);
        frame[h++] = (uint8_t)(body - 13);
    } else {
        frame[h++] = (uint8_t)(14 << 4 | tkl);
        frame[h++] = (uint8_t)((body - 269) >> 8);
        frame[h++] = (uint8_t)(body - 269);
    }
    frame[h++] = code;
    if (n > CS_NET_MAX_DGRAM || h + n - 4 > c->peer_max_msg) {
        note(u, c, "%zu-byte message not sent: over the peer's Max-Message-Size %u", h + n - 4,
             (unsigned)c->peer_max_msg);
        return CS_NET_ERR_TOO_LARGE;
    }
    memcpy(frame + h, d + 4, n - 4);
    if (type == COAP_TYPE_CON) {
        c->sent[c->sent_next] = (sent_t){.mid = mid, .request = request};
        c->sent_next = (uint8_t)((c->sent_next + 1) % SENT_RING);
        if (c->n_sent < SENT_RING)
            c->n_sent++;
        if (!request) /* a notification or separate response: TCP delivers it */
            synth(u->tcp, peer, COAP_TYPE_ACK, mid);
    }
    return conn_send_msg(u, i, frame, h + n - 4) ? CS_NET_OK : CS_NET_ERR_CLOSED;
}

static cs_net_err_t listen_on(cs_udp_t *u, const char *host, const char *port, bool ws, char *err,
                              size_t err_len)
{
    if (!u || !port || u->epfd < 0)
        return CS_NET_ERR_BAD_ARG;
    struct cs_tcp *t = tcp_of(u);
    if (!t)
        return CS_NET_ERR_NO_MEMORY;
    int *lfd = ws ? &t->ws_listen_fd : &t->listen_fd;
    if (*lfd >= 0)
        return CS_NET_ERR_BAD_ARG;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host ? host : "(any)", gai_strerror(rc));
    cs_net_err_t e = cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "tcp", "no usable address");
    for (struct addrinfo *ai = res; ai && *lfd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ws ? CS_NET_TAG_WS_LISTEN : CS_NET_TAG_LISTEN};
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
            epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            e = cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "tcp bind", strerror(errno));
            close(fd);
            continue;
        }
        *lfd = fd;
        e = CS_NET_OK;
    }
    freeaddrinfo(res);
    return e;
}

cs_net_err_t cs_tcp_listen(cs_udp_t *u, const char *host, const char *port, char *err, size_t err_len)
{
    return listen_on(u, host, port, false, err, err_len);
}

cs_net_err_t cs_ws_listen(cs_udp_t *u, const char *host, const char *port, char *err, size_t err_len)
{
    return listen_on(u, host, port, true, err, err_len);
}

static cs_net_err_t connect_to(cs_udp_t *u, const char *host, const char *port, bool ws, coap_peer_t *peer,
                               char *err, size_t err_len)
{
    if (!u || !host || !port || !peer || u->epfd < 0)
        return CS_NET_ERR_BAD_ARG;
    struct cs_tcp *t = tcp_of(u);
    if (!t)
        return CS_NET_ERR_NO_MEMORY;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host, gai_strerror(rc));
    for (size_t i = 0; i < t->n_conns; i++) {
        const conn_t *c = &t->conns[i];
        if (c->fd >= 0 && c->ws == ws && c->addr.len == res->ai_addrlen &&
            !memcmp(&c->addr.ss, res->ai_addr, c->addr.len)) {
            freeaddrinfo(res);
            *peer = handle_of(i, c);
            return CS_NET_OK;
        }
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cs_net_err_t e = CS_NET_OK;
    char host_port[300];
    snprintf(host_port, sizeof host_port, "%s%s%s:%s", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", port);
    if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)) {
        e = cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "tcp connect", strerror(errno));
        if (fd >= 0)
            close(fd);
    } else {
        long i = conn_new(u, fd, res->ai_addr, res->ai_addrlen, true, ws, host_port);
        if (i < 0)
            e = cs_net_fail(err, err_len, CS_NET_ERR_NO_MEMORY, "tcp", "no room for another connection");
        else
            *peer = handle_of((size_t)i, &t->conns[i]);
    }
    freeaddrinfo(res);
    return e;
}

cs_net_err_t cs_tcp_connect(cs_udp_t *u, const char *host, const char *port, coap_peer_t *peer, char *err,
                            size_t err_len)
{
    return connect_to(u, host, port, false, peer, err, err_len);
}

cs_net_err_t cs_ws_connect(cs_udp_t *u, const char *host, const char *port, coap_peer_t *peer, char *err,
                           size_t err_len)
{
    return connect_to(u, host, port, true, peer, err, err_len);
}

void cs_tcp_free(cs_udp_t *u)
{
    struct cs_tcp *t = u->tcp;
    if (!t)
        return;
    for (size_t i = 0; i < t->n_conns; i++)
        if (t->conns[i].fd >= 0) {
            close(t->conns[i].fd);
            free(t->conns[i].tx);
            free(t->conns[i].hold);
        }
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->ws_listen_fd >= 0)
        close(t->ws_listen_fd);
    free(t->conns);
    free(t);
    u->tcp = NULL;
}
