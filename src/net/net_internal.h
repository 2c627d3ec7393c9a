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
#define CS_NET_TAG_CONN 16u

void cs_tcp_free(cs_udp_t *u);
/* Something happened on a TCP socket: accept, connect done, read, write. */
void cs_tcp_on_ready(cs_udp_t *u, uint64_t tag, uint32_t events);
/* Moves what waits (acknowledgements made on the endpoint's behalf, frames
 * read but not yet delivered) into u->in while the batch has room. */
void cs_tcp_drain(cs_udp_t *u);
CS_MUST_CHECK cs_net_err_t cs_tcp_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n);
const cs_net_addr_t *cs_tcp_peer_addr(const cs_udp_t *u, coap_peer_t peer);

void cs_dtls_free(cs_udp_t *u);
/* Reads the DTLS socket: handshakes advance, plaintext joins u->in. */
void cs_dtls_on_ready(cs_udp_t *u);
/* Retransmits handshake flights that are due; returns the ms until the
 * next one (-1: none). */
int cs_dtls_tick(cs_udp_t *u);
CS_MUST_CHECK cs_net_err_t cs_dtls_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n);
const cs_net_addr_t *cs_dtls_peer_addr(const cs_udp_t *u, coap_peer_t peer);

#endif
