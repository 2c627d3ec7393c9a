/* The baseline for server throughput: a bare UDP echo server with the same
 * batched I/O as coreseal's (epoll, recvmmsg/sendmmsg of 32). It answers
 * every datagram with itself.  udp_echo PORT SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: udp_echo PORT SECONDS\n");
        return 1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("udp_echo");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    static unsigned char bufs[32][1500];
    struct mmsghdr msgs[32];
    struct iovec iov[32];
    struct sockaddr_in from[32];
    time_t end = time(NULL) + atoi(argv[2]);
    while (time(NULL) < end) {
        if (epoll_wait(ep, &ev, 1, 200) <= 0)
            continue;
        for (int i = 0; i < 32; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                                   .msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(fd, msgs, 32, MSG_DONTWAIT, NULL);
        if (n <= 0)
            continue;
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        sendmmsg(fd, msgs, (unsigned)n, 0);
    }
    return 0;
}
