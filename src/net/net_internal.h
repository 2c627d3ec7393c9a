/* What udp.c and tcp.c share: epoll tags and the TCP hooks the UDP loop
 * calls (the connections ride on the UDP transport's epoll and batches). */
#ifndef CORESEAL_NET_INTERNAL_H
#define CORESEAL_NET_INTERNAL_H

#include "coreseal/net.h"

/* epoll data.u64: the UDP socket, the TCP listener, the DTLS socket, TCP
 * connection i at CS_NET_TAG_CONN + i */
#define CS_NET_TAG_UDP 0u
#define CS_NET_TAG_LISTEN 1u
#define CS_NET_TAG_DTLS 2u
#define CS_NET_TAG_WS_LISTEN 3u
#define CS_NET_TAG_CONN 16u

/* "what: detail" into err (if given); returns code. */
static inline cs_net_err_t cs_net_fail(char *err, size_t err_len, cs_net_err_t code, const char *what,
                                       const char *detail)
{
    if (err && err_len)
        snprintf(err, err_len, "%s: %s", what, detail);
    return code;
}

void cs_tcp_free(cs_udp_t *u);
/* Something happened on a TCP socket: accept, connect done, read, write. */
void cs_tcp_on_ready(cs_udp_t *u, uint64_t tag, uint32_t events);
/* Moves what waits (acknowledgements made on the endpoint's behalf, frames
 * read but not yet delivered) into u->in while the batch has room. */
void cs_tcp_drain(cs_udp_t *u);
CS_MUST_CHECK cs_net_err_t cs_tcp_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n);
const cs_net_addr_t *cs_tcp_peer_addr(const cs_udp_t *u, coap_peer_t peer);

/* ---- WebSocket pieces (ws.c, RFC 6455) for CoAP over WebSockets ---- */
#define CS_WS_KEY_MAX 64
#define CS_WS_ACCEPT_LEN 28
#define CS_WS_HEADER_MAX 14
enum { CS_WS_CONT = 0, CS_WS_TEXT = 1, CS_WS_BINARY = 2, CS_WS_CLOSE = 8, CS_WS_PING = 9, CS_WS_PONG = 10 };

typedef struct {
    bool fin, masked;
    uint8_t opcode, mask[4];
    size_t header_len, payload_len;
} cs_ws_frame_t;

/* Sec-WebSocket-Accept of a Sec-WebSocket-Key (§4.2.2). */
bool cs_ws_accept_key(const char *key, char out[CS_WS_ACCEPT_LEN + 1]);
/* A client's opening handshake (head: the request up to its blank line,
 * NUL-terminated) for CoAP: GET /.well-known/coap, Upgrade, version 13,
 * subprotocol "coap" (RFC 8323 §4.1); 0 with its key, or the HTTP status
 * that refuses it, with *why. */
int cs_ws_parse_request(const char *head, char key[CS_WS_KEY_MAX], const char **why);
/* The server's 101 for our key, with subprotocol coap. */
bool cs_ws_check_response(const char *head, const char *key);
/* A final frame's header (mask: NULL for a server's frames). */
size_t cs_ws_frame_header(uint8_t out[CS_WS_HEADER_MAX], uint8_t opcode, size_t len, const uint8_t *mask);
/* The frame at buf: its size when complete, 0 when more bytes are needed,
 * -1 malformed, -2 payload over max_payload. */
int cs_ws_frame_parse(const uint8_t *buf, size_t avail, size_t max_payload, cs_ws_frame_t *f);
void cs_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4]);

/* Reads the DTLS socket: handshakes advance, plaintext joins u->in. */
void cs_dtls_on_ready(cs_udp_t *u);
/* Retransmits handshake flights that are due; returns the ms until the
 * next one (-1: none). */
int cs_dtls_tick(cs_udp_t *u);
CS_MUST_CHECK cs_net_err_t cs_dtls_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n);
const cs_net_addr_t *cs_dtls_peer_addr(const cs_udp_t *u, coap_peer_t peer);

#endif
