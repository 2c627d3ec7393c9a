/* Datagrams as a pcap capture file for Wireshark/tshark (LINKTYPE_RAW:
 * each record an IPv4 or IPv6 header, a UDP header, the datagram). UDP
 * checksums are left 0, which IPv4 allows and Wireshark accepts. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/time.h>

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

FILE *cli_pcap_open(const char *path)
{
    FILE *f = fopen(path, "wb");
    uint8_t h[24] = {0};
    if (!f)
        return NULL;
    put32le(h, 0xa1b2c3d4); /* microsecond timestamps, our byte order */
    h[4] = 2;               /* version 2.4 */
    h[6] = 4;
    put32le(h + 16, 65535);  /* snaplen */
    put32le(h + 20, 101);    /* LINKTYPE_RAW */
    fwrite(h, 1, sizeof h, f);
    fflush(f);
    return f;
}

void cli_pcap_write(FILE *f, const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
                    const uint8_t *d, size_t n)
{
    uint8_t hdr[16 + 40 + 8];
    size_t ip;
    bool v6 = src->ss_family == AF_INET6 && dst->ss_family == AF_INET6;
    if (!f || n > 65000 || (!v6 && (src->ss_family != AF_INET || dst->ss_family != AF_INET)))
        return;
    memset(hdr, 0, sizeof hdr);
    uint8_t *p = hdr + 16;
    uint16_t sport, dport;
    if (v6) {
        const struct sockaddr_in6 *s = (const void *)src, *t = (const void *)dst;
        p[0] = 0x60;
        put16(p + 4, (uint32_t)(8 + n));
        p[6] = 17; /* UDP */
        p[7] = 64;
        memcpy(p + 8, &s->sin6_addr, 16);
        memcpy(p + 24, &t->sin6_addr, 16);
        sport = s->sin6_port, dport = t->sin6_port;
        ip = 40;
    } else {
        const struct sockaddr_in *s = (const void *)src, *t = (const void *)dst;
        p[0] = 0x45;
        put16(p + 2, (uint32_t)(20 + 8 + n));
        p[8] = 64;
        p[9] = 17;
        memcpy(p + 12, &s->sin_addr, 4);
        memcpy(p + 16, &t->sin_addr, 4);
        uint32_t sum = 0; /* the IPv4 header checksum */
        for (int i = 0; i < 20; i += 2)
            sum += (uint32_t)p[i] << 8 | p[i + 1];
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        put16(p + 10, ~sum & 0xffff);
        sport = s->sin_port, dport = t->sin_port;
        ip = 20;
    }
    uint8_t *u = p + ip;
    memcpy(u, &sport, 2); /* already in network order */
    memcpy(u + 2, &dport, 2);
    put16(u + 4, (uint32_t)(8 + n));
    struct timeval tv;
    gettimeofday(&tv, NULL);
    put32le(hdr, (uint32_t)tv.tv_sec);
    put32le(hdr + 4, (uint32_t)tv.tv_usec);
    put32le(hdr + 8, (uint32_t)(ip + 8 + n));
    put32le(hdr + 12, (uint32_t)(ip + 8 + n));
    fwrite(hdr, 1, 16 + ip + 8, f);
    fwrite(d, 1, n, f);
    fflush(f);
}
