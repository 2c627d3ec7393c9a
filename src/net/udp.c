/* POSIX UDP for the CoAP endpoint: getaddrinfo, one socket for IPv4 and
 * IPv6 (a "::" server also takes v4-mapped peers), epoll, and batches of
 * up to CS_NET_BATCH datagrams through recvmmsg/sendmmsg. CoAP over TCP
 * connections (tcp.c) share the epoll set and the batches. */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

cs_time_ms_t cs_net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (cs_time_ms_t)ts.tv_sec * 1000 + (cs_time_ms_t)ts.tv_nsec / 1000000;
}

cs_net_err_t cs_udp_resolve_peer(cs_udp_t *u, const char *host, const char *port, coap_peer_t *peer,
                                 char *err, size_t err_len)
{
    struct sockaddr_storage own;
    socklen_t own_len = sizeof own;
    if (!u || !host || !port || !peer || getsockname(u->fd, (struct sockaddr *)&own, &own_len) != 0)
        return CS_NET_ERR_BAD_ARG;
    struct addrinfo hints = {.ai_family = own.ss_family, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host, gai_strerror(rc));
    cs_net_err_t e = cs_udp_peer(u, res->ai_addr, res->ai_addrlen, peer);
    freeaddrinfo(res);
    return e;
}

cs_net_err_t cs_udp_open(cs_udp_t *u, const char *host, const char *port, bool server, char *err,
                         size_t err_len)
{
    if (!u || !port)
        return CS_NET_ERR_BAD_ARG;
    memset(u, 0, sizeof *u);
    u->fd = u->epfd = -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = server ? AI_PASSIVE : 0};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host ? host : "(any)", gai_strerror(rc));
    u->out = calloc(CS_NET_BATCH, sizeof *u->out);
    u->in = calloc(CS_NET_BATCH, sizeof *u->in);
    if (!u->out || !u->in) {
        freeaddrinfo(res);
        cs_udp_close(u);
        return CS_NET_ERR_NO_MEMORY;
    }
    cs_net_err_t e = CS_NET_ERR_SOCKET;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (server) {
            int one = 1, zero = 0;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
                cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "bind", strerror(errno));
                close(fd);
                continue;
            }
        } else {
            coap_peer_t p;
            if (cs_udp_peer(u, ai->ai_addr, ai->ai_addrlen, &p) != CS_NET_OK) {
                close(fd);
                break;
            }
        }
        u->fd = fd;
        e = CS_NET_OK;
        break;
    }
    freeaddrinfo(res);
    if (e != CS_NET_OK) {
        if (err && err_len && !err[0])
            cs_net_fail(err, err_len, e, "socket", strerror(errno));
        cs_udp_close(u);
        return e;
    }
    u->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CS_NET_TAG_UDP};
    if (u->epfd < 0 || epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->fd, &ev) != 0) {
        cs_udp_close(u);
        return cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "epoll", strerror(errno));
    }
    return CS_NET_OK;
}

void cs_udp_close(cs_udp_t *u)
{
    if (!u)
        return;
    cs_tcp_free(u);
    cs_dtls_end(u);
    if (u->fd >= 0)
        close(u->fd);
    if (u->epfd >= 0)
        close(u->epfd);
    free(u->peers);
    free(u->out);
    free(u->in);
    memset(u, 0, sizeof *u);
    u->fd = u->epfd = -1;
}

/* v4-mapped IPv6 and plain IPv4 are the same peer. */
static bool same_addr(const cs_net_addr_t *a, const struct sockaddr *sa, socklen_t len)
{
    return a->len == len && memcmp(&a->ss, sa, len) == 0;
}

cs_net_err_t cs_udp_peer(cs_udp_t *u, const struct sockaddr *sa, socklen_t len, coap_peer_t *peer)
{
    if (len > sizeof(struct sockaddr_storage))
        return CS_NET_ERR_BAD_ARG;
    /* Most recent peers first: a server answers whom it just heard. */
    for (size_t i = u->n_peers; i-- > 0;)
        if (same_addr(&u->peers[i], sa, len)) {
            *peer = (coap_peer_t)i;
            return CS_NET_OK;
        }
    if (u->n_peers == u->cap_peers) {
        size_t cap = u->cap_peers ? 2 * u->cap_peers : 16;
        cs_net_addr_t *p = realloc(u->peers, cap * sizeof *p);
        if (!p)
            return CS_NET_ERR_NO_MEMORY;
        u->peers = p;
        u->cap_peers = cap;
    }
    memset(&u->peers[u->n_peers], 0, sizeof u->peers[0]);
    memcpy(&u->peers[u->n_peers].ss, sa, len);
    u->peers[u->n_peers].len = len;
    *peer = (coap_peer_t)u->n_peers++;
    return CS_NET_OK;
}

const cs_net_addr_t *cs_udp_peer_addr(const cs_udp_t *u, coap_peer_t peer)
{
    if (cs_net_peer_is_tcp(peer))
        return cs_tcp_peer_addr(u, peer);
    if (cs_net_peer_is_dtls(peer))
        return cs_dtls_peer_addr(u, peer);
    return peer < u->n_peers ? &u->peers[peer] : NULL;
}

void cs_net_addr_str(const cs_net_addr_t *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a && a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    } else if (a && a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    } else {
        snprintf(buf, len, "?");
    }
}

cs_net_err_t cs_udp_flush(cs_udp_t *u)
{
    struct mmsghdr msgs[CS_NET_BATCH];
    struct iovec iov[CS_NET_BATCH];
    size_t sent = 0;
    while (sent < u->n_out) {
        size_t n = u->n_out - sent;
        for (size_t i = 0; i < n; i++) {
            size_t k = sent + i;
            const cs_net_addr_t *a = cs_udp_peer_addr(u, u->out_peer[k]);
            iov[i] = (struct iovec){.iov_base = u->out[k], .iov_len = u->out_len[k]};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = (void *)&a->ss,
                                                   .msg_namelen = a->len,
                                                   .msg_iov = &iov[i],
                                                   .msg_iovlen = 1}};
        }
        int r = sendmmsg(u->fd, msgs, (unsigned)n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* EAGAIN / unreachable peers: UDP may drop; CoAP retransmits */
            break;
        }
        sent += (size_t)r;
    }
    u->n_out = 0;
    return CS_NET_OK;
}

cs_net_err_t cs_udp_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *d, size_t n)
{
    if (cs_net_peer_is_tcp(peer))
        return cs_tcp_queue(u, peer, d, n);
    if (cs_net_peer_is_dtls(peer))
        return cs_dtls_queue(u, peer, d, n);
    if (n > CS_NET_MAX_DGRAM || peer >= u->n_peers)
        return CS_NET_ERR_BAD_ARG;
    if (u->n_out == CS_NET_BATCH) {
        cs_net_err_t e = cs_udp_flush(u);
        if (e != CS_NET_OK)
            return e;
    }
    memcpy(u->out[u->n_out], d, n);
    u->out_len[u->n_out] = n;
    u->out_peer[u->n_out++] = peer;
    return CS_NET_OK;
}

cs_net_err_t cs_udp_collect(cs_udp_t *u, coap_ep_t *ep)
{
    size_t len;
    coap_peer_t to;
    const uint8_t *d;
    while ((d = coap_ep_send_buf(ep, &len, &to)) != NULL) {
        cs_net_err_t e = cs_udp_queue(u, to, d, len);
        coap_ep_send_ack(ep);
        /* a peer whose connection or session is gone, or that takes
         * nothing this large, loses its message (CoAP times the exchange
         * out); the others' messages still go */
        if (e == CS_NET_ERR_CLOSED && len >= 4 && ((d[0] >> 4) & 3) == COAP_TYPE_CON && d[1] != COAP_CODE_EMPTY &&
            u->n_gone < sizeof u->gone / sizeof u->gone[0]) {
            u->gone[u->n_gone].peer = to;
            u->gone[u->n_gone].msg[0] = 0x40 | COAP_TYPE_RST << 4;
            u->gone[u->n_gone].msg[1] = COAP_CODE_EMPTY;
            memcpy(u->gone[u->n_gone].msg + 2, d + 2, 2); /* its message ID */
            u->n_gone++;
        }
        if (e != CS_NET_OK && e != CS_NET_ERR_CLOSED && e != CS_NET_ERR_TOO_LARGE)
            return e;
    }
    return CS_NET_OK;
}

/* Appends what the UDP socket has to the batch. */
static cs_net_err_t read_datagrams(cs_udp_t *u)
{
    struct mmsghdr msgs[CS_NET_BATCH];
    struct iovec iov[CS_NET_BATCH];
    struct sockaddr_storage from[CS_NET_BATCH];
    size_t room = CS_NET_BATCH - u->n_in;
    for (size_t i = 0; i < room; i++) {
        iov[i] = (struct iovec){.iov_base = u->in[u->n_in + i], .iov_len = CS_NET_MAX_DGRAM};
        msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
                                               .msg_namelen = sizeof from[i],
                                               .msg_iov = &iov[i],
                                               .msg_iovlen = 1}};
    }
    int r = room ? recvmmsg(u->fd, msgs, (unsigned)room, MSG_DONTWAIT, NULL) : 0;
    if (r < 0)
        return errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED ? CS_NET_OK
                                                                          : CS_NET_ERR_IO;
    size_t first = u->n_in;
    for (int i = 0; i < r; i++) {
        coap_peer_t p;
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
            continue; /* larger than any CoAP message we accept */
        if (cs_udp_peer(u, (struct sockaddr *)&from[i], msgs[i].msg_hdr.msg_namelen, &p) !=
            CS_NET_OK)
            return CS_NET_ERR_NO_MEMORY;
        u->in_len[u->n_in] = msgs[i].msg_len;
        u->in_peer[u->n_in] = p;
        if (first + (size_t)i != u->n_in)
            memcpy(u->in[u->n_in], u->in[first + (size_t)i], msgs[i].msg_len);
        u->n_in++;
    }
    return CS_NET_OK;
}

cs_net_err_t cs_udp_receive(cs_udp_t *u, int timeout_ms)
{
    u->n_in = 0;
    for (size_t k = 0; k < u->n_gone; k++) { /* answers for peers that are gone */
        memcpy(u->in[u->n_in], u->gone[k].msg, 4);
        u->in_len[u->n_in] = 4;
        u->in_peer[u->n_in++] = u->gone[k].peer;
    }
    u->n_gone = 0;
    cs_tcp_drain(u); /* what TCP connections have waiting goes first */
    int dtls_due = cs_dtls_tick(u); /* DTLS handshake retransmissions */
    if (u->n_in)
        timeout_ms = 0;
    else if (dtls_due >= 0 && (timeout_ms < 0 || dtls_due < timeout_ms))
        timeout_ms = dtls_due;
    struct epoll_event ev[16];
    int n = epoll_wait(u->epfd, ev, 16, timeout_ms);
    if (n < 0)
        return errno == EINTR ? CS_NET_OK : CS_NET_ERR_IO;
    for (int i = 0; i < n && u->n_in < CS_NET_BATCH; i++) {
        if (ev[i].data.u64 == CS_NET_TAG_DTLS) {
            cs_dtls_on_ready(u);
            continue;
        }
        if (ev[i].data.u64 != CS_NET_TAG_UDP) {
            cs_tcp_on_ready(u, ev[i].data.u64, ev[i].events);
            continue;
        }
        cs_net_err_t e = read_datagrams(u);
        if (e != CS_NET_OK)
            return e;
    }
    return CS_NET_OK;
}
