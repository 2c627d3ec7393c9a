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
struct cs_dtls;

typedef struct {
    int fd, epfd;
    struct cs_tcp *tcp; /* CoAP over TCP, once cs_tcp_listen/cs_tcp_connect ran */
    struct cs_dtls *dtls; /* CoAP over DTLS, once cs_dtls_listen/cs_dtls_connect ran */
    FILE *log;          /* where TCP and DTLS events are told; NULL: nowhere */
    /* RSTs standing in for the answer of a peer whose connection or session
     * is gone, to a CON sent to it: the endpoint ends that exchange (a
     * server drops the observer) instead of retransmitting into nothing */
    struct {
        coap_peer_t peer;
        uint8_t msg[4];
    } gone[16];
    size_t n_gone;
    char why[160];      /* why the last TCP connection or DTLS session ended */
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
 * full batches); then cs_udp_flush() sends the rest. A message to a peer
 * whose TCP connection or DTLS session is gone is dropped, not an error;
 * if it was a CON, an RST from that peer comes in with the next receive. */
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
#define CS_DTLS_PEER 0x40000000u
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
/* The same over WebSockets (RFC 8323 §4): a listener taking the opening
 * handshake at /.well-known/coap with subprotocol "coap", and connections
 * to one; handles share the TCP ones' kind. */
CS_MUST_CHECK cs_net_err_t cs_ws_listen(cs_udp_t *u, const char *host, const char *port, char *err,
                                        size_t err_len);
CS_MUST_CHECK cs_net_err_t cs_ws_connect(cs_udp_t *u, const char *host, const char *port,
                                         coap_peer_t *peer, char *err, size_t err_len);
static inline bool cs_net_peer_is_tcp(coap_peer_t peer)
{
    return (peer & CS_TCP_PEER) != 0;
}

/* ---- CoAP over DTLS 1.2 (coaps://, RFC 7252 §9; RFC 6347) ----
 * A socket of its own beside the plain UDP one, on the same loop: every
 * peer on it has a DTLS session (OpenSSL), and the endpoint sees only the
 * plaintext CoAP messages, under handles with CS_DTLS_PEER set. Messages
 * to a peer whose handshake is still running wait for it (at most a few;
 * CoAP retransmits the rest). A server answers a ClientHello with a
 * HelloVerifyRequest cookie (RFC 6347 §4.2.1) and keeps at most
 * CS_DTLS_MAX_HANDSHAKES unfinished handshakes, so spoofed ClientHellos
 * cannot exhaust it. PSK mode: TLS_PSK_WITH_AES_128_CCM_8 (RFC 7252
 * §9.1.3.1) first; Certificate mode: TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
 * (§9.1.3.3) first, peers verified against a CA file. */
#define CS_DTLS_MAX_HANDSHAKES 64
#define CS_DTLS_MAX_PSKS 16

typedef struct {
    char identity[128];
    uint8_t key[64];
    size_t key_len;
} cs_dtls_psk_t;

typedef struct {
    /* PSK: a server accepts any of these identities; a client uses psks[0] */
    cs_dtls_psk_t psks[CS_DTLS_MAX_PSKS];
    size_t n_psks;
    /* and, a server, the identities psk_lookup knows (keys kept elsewhere,
     * e.g. in a cluster's store): true with the key in key[0..*len) */
    bool (*psk_lookup)(void *arg, const char *identity, uint8_t *key, size_t cap, size_t *len);
    void *psk_arg;
    /* Certificate: PEM files; ca_file verifies the peer (a server then
     * requires a client certificate) */
    const char *cert_file, *key_file, *ca_file;
    /* or, a client, Certificate mode from DER in memory as the LwM2M
     * Security object holds it (read by the call that opens the DTLS
     * socket only): its certificate and private key (PKCS #8 or SEC 1),
     * and the server's certificate matched as a TLSA record of
     * peer_usage (RFC 6698 §2.1.1, LwM2M /0/x/15): 0 CA constraint and
     * 1 service certificate constraint (the chain verified against the
     * system's trust store too), 2 trust anchor assertion, 3 domain-issued
     * certificate (the server's own certificate, pinned: no name check) */
    const uint8_t *cert_der, *key_der, *peer_der;
    size_t cert_der_len, key_der_len, peer_der_len;
    uint8_t peer_usage;
} cs_dtls_config_t;

/* "identity:key", the key as text or 0x-prefixed hex; false if malformed. */
bool cs_dtls_parse_psk(const char *arg, cs_dtls_psk_t *psk);
/* The first certificate in PEM text, or its private key (as PKCS #8), in
 * DER: what the LwM2M Security object's resources 3, 4 and 5 hold. */
CS_MUST_CHECK cs_net_err_t cs_dtls_pem_to_der(const char *pem, size_t pem_len, bool private_key, uint8_t *out,
                                              size_t cap, size_t *len, char *err, size_t err_len);
/* Accepts DTLS clients on host:port with this configuration. */
CS_MUST_CHECK cs_net_err_t cs_dtls_listen(cs_udp_t *u, const char *host, const char *port,
                                          const cs_dtls_config_t *cfg, char *err, size_t err_len);
/* Handle of a DTLS session with host:port: the established one, or a new
 * handshake (from the DTLS socket, bound to an ephemeral port unless
 * cs_dtls_listen made one) made with cfg's client credentials; several
 * configurations (up to 4, one per server, e.g. a LwM2M client's server
 * accounts) live side by side until cs_dtls_end. */
CS_MUST_CHECK cs_net_err_t cs_dtls_connect(cs_udp_t *u, const char *host, const char *port,
                                           const cs_dtls_config_t *cfg, coap_peer_t *peer, char *err,
                                           size_t err_len);
/* Ends the session (close_notify), if it is still there: before a new
 * cs_dtls_connect to a server that went silent (it restarted and forgot
 * the session, which DTLS has no way to say). */
void cs_dtls_close(cs_udp_t *u, coap_peer_t peer);
/* Ends every DTLS session (close_notify) and closes the DTLS socket; the
 * next cs_dtls_connect starts afresh with its configuration (a LwM2M client
 * done with its Bootstrap-Server's credentials). */
void cs_dtls_end(cs_udp_t *u);
/* Who the peer authenticated as: its PSK identity, or the CN of its
 * certificate; false for a peer without a DTLS session, or a name longer
 * than cap - 1 or holding a NUL (never cut short into another). */
bool cs_dtls_peer_name(const cs_udp_t *u, coap_peer_t peer, char *out, size_t cap);
static inline bool cs_net_peer_is_dtls(coap_peer_t peer)
{
    return (peer & (CS_TCP_PEER | CS_DTLS_PEER)) == CS_DTLS_PEER;
}

/* Milliseconds on CLOCK_MONOTONIC, for the endpoint's `now`. */
cs_time_ms_t cs_net_now(void);

#endif
