/* coreseal/net_err.h: error codes of the network layer, apart from net.h so
 * that the error table (compiled for devices too) needs no socket headers. */
#ifndef CORESEAL_NET_ERR_H
#define CORESEAL_NET_ERR_H

#include "coreseal/common.h"

typedef enum {
    CS_NET_OK = 0,
    CS_NET_ERR_BAD_ARG = CS_ERR_RANGE_NET | 0x01,
    CS_NET_ERR_RESOLVE, /* host or port could not be resolved */
    CS_NET_ERR_SOCKET,  /* socket, bind or epoll failed */
    CS_NET_ERR_IO,      /* sendmmsg/recvmmsg failed */
    CS_NET_ERR_NO_MEMORY,
    CS_NET_ERR_CLOSED,    /* the TCP connection or DTLS session of this peer is gone */
    CS_NET_ERR_TOO_LARGE, /* over the peer's Max-Message-Size (RFC 8323 §5.3.1) */
} cs_net_err_t;

#endif
