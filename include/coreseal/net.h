/* coreseal/net.h: the CoAP endpoint's transports on POSIX: UDP (IPv4 and
 * IPv6) with batched I/O (recvmmsg/sendmmsg) and epoll, and CoAP over TCP
 * (RFC 8323) connections attached to the same loop. This layer is the
 * host's: it allocates its peer table and owns the sockets; the endpoint
 * only sees peer handles, which are indexes into that table (or, with
 * CS_TCP_PEER set, name a TCP connection). */
#ifndef CORESEAL_NET_H
#define CORESEAL_NET_H

#include "coreseal/coap_ep.h"
#include "coreseal/net_err.h"

#include <stdio.h>
#include <sys/socket.h>


#define CS_NET_BATCH 32
#define CS_NET_MAX_DGRAM 1500

typedef struct {
    struct sockaddr_storage ss;
    socklen_t len;
} cs_net_addr_t;

struct cs_tcp;

typedef struct {
    int fd, epfd;
    struct cs_tcp *tcp; /* CoAP over TCP, once cs_tcp_listen/cs_tcp_connect ran */
    FILE *log;          /* where TCP connection events are told; NULL: nowhere */
    cs_net_addr_t *peers;
    size_t n_peers, cap_peers;
    /* outgoing batch */
    uint8_t (*out)[CS_NET_MAX_DGRAM];
    size_t out_len[CS_NET_BATCH];
    coap_peer_t out_peer[CS_NET_BATCH];
    size_t n_out;
    /* incoming batch */
    uint8_t (*in)[CS_NET_MAX_DGRAM];
    size_t in_len[CS_NET_BATCH];
    coap_peer_t in_peer[CS_NET_BATCH];
    size_t n_in;
} cs_udp_t;

/* Server: bind to host:port (host "::" or "0.0.0.0" or a name).
 * Client: connectless socket towards host:port, which becomes peer 0. */
CS_MUST_CHECK cs_net_err_t cs_udp_open(cs_udp_t *u, const char *host, const char *port,
                                       bool server, char *err, size_t err_len);
void cs_udp_close(cs_udp_t *u);

/* Handle of an address, added to the table if new. */
CS_MUST_CHECK cs_net_err_t cs_udp_peer(cs_udp_t *u, const struct sockaddr *sa, socklen_t len,
                                       coap_peer_t *peer);
/* Handle of host:port, resolved to the socket's address family (a client
 * that bootstrapped reaching its server on the same socket). */
CS_MUST_CHECK cs_net_err_t cs_udp_resolve_peer(cs_udp_t *u, const char *host, const char *port,
                                               coap_peer_t *peer, char *err, size_t err_len);
const cs_net_addr_t *cs_udp_peer_addr(const cs_udp_t *u, coap_peer_t peer);
/* "[::1]:5683" / "127.0.0.1:5683" */
void cs_net_addr_str(const cs_net_addr_t *a, char *buf, size_t len);

/* Copies everything the endpoint has to send into the batch (sending
 * full batches); then cs_udp_flush() sends the rest. */
CS_MUST_CHECK cs_net_err_t cs_udp_collect(cs_udp_t *u, coap_ep_t *ep);
CS_MUST_CHECK cs_net_err_t cs_udp_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n);
CS_MUST_CHECK cs_net_err_t cs_udp_flush(cs_udp_t *u);

/* Waits up to timeout_ms (-1: forever) and reads a batch into u->in.
 * n_in is 0 after a timeout or a signal. */
CS_MUST_CHECK cs_net_err_t cs_udp_receive(cs_udp_t *u, int timeout_ms);

/* ---- CoAP over TCP (RFC 8323 §3 framing, §5 signaling) ----
 * A connection looks like one more UDP peer to the endpoint, so get, serve,
 * proxy and every other user of coap_ep_t run over it unchanged: an
 * incoming request becomes a CON with a fresh message ID (the endpoint's
 * piggybacked answer goes back as a frame), an incoming response a NON; an
 * outgoing message loses its type and ID. TCP being reliable, a CON the
 * endpoint retransmits is not sent twice, a CON notification or separate
 * response is acknowledged at once on the endpoint's behalf, and requests
 * still unanswered when a connection dies come back as RST, so the
 * application hears of the loss at once instead of after its timeout.
 * Each side opens with a CSM (Max-Message-Size, Block-Wise-Transfer);
 * Ping is answered with Pong; Release and Abort close. Malformed input or a
 * missing CSM aborts the connection with a diagnostic (7.05). */
#define CS_TCP_PEER 0x80000000u
/* The Max-Message-Size we announce: the default of §5.3.1, since a larger
 * one together with Block-Wise-Transfer would offer BERT (§6), which one
 * 1024-byte block per message cannot use. Fits a datagram once converted. */
#define CS_TCP_MAX_MSG 1152

/* Accepts CoAP over TCP connections on host:port as well. */
CS_MUST_CHECK cs_net_err_t cs_tcp_listen(cs_udp_t *u, const char *host, const char *port, char *err,
                                         size_t err_len);
/* Handle of a connection to host:port: the open one, or a new one (the
 * connect completes in the background; messages wait for it). */
CS_MUST_CHECK cs_net_err_t cs_tcp_connect(cs_udp_t *u, const char *host, const char *port,
                                          coap_peer_t *peer, char *err, size_t err_len);
static inline bool cs_net_peer_is_tcp(coap_peer_t peer)
{
    return (peer & CS_TCP_PEER) != 0;
}

/* Milliseconds on CLOCK_MONOTONIC, for the endpoint's `now`. */
cs_time_ms_t cs_net_now(void);

#endif
