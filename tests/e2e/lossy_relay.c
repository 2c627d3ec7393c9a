/* UDP relay for end-to-end tests: listens on one loopback port, forwards
 * every datagram to a server port and the answers back to the last client,
 * dropping a given percentage of datagrams in each direction at random.
 *   lossy_relay LISTEN_PORT SERVER_PORT LOSS_PERCENT SECONDS [MIRROR_PORT]
 * With MIRROR_PORT it is also the replaying attacker of a server cluster:
 * once the server answered a request, the same request goes to the mirror
 * (another node), whose answers are dropped. Loopback only, and it stops by
 * itself after SECONDS. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: lossy_relay LISTEN_PORT SERVER_PORT LOSS_PERCENT SECONDS [MIRROR_PORT]\n");
        return 1;
    }
    struct sockaddr_in mirror = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(argc == 6 ? atoi(argv[5]) : 0))};
    inet_pton(AF_INET, "127.0.0.1", &mirror.sin_addr);
    unsigned char last[2048];
    ssize_t last_len = 0;
    int listen_port = atoi(argv[1]), server_port = atoi(argv[2]), loss = atoi(argv[3]);
    time_t end = time(NULL) + atoi(argv[4]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
        perror("lossy_relay");
        return 1;
    }
    srand((unsigned)getpid());
    struct sockaddr_in client = {0};
    unsigned long fwd = 0, dropped = 0;
    while (time(NULL) < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        unsigned char buf[2048];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            continue;
        bool from_server = from.sin_port == server.sin_port;
        if (mirror.sin_port && from.sin_port == mirror.sin_port)
            continue; /* the other node's answers go nowhere */
        if (!from_server) {
            client = from;
            memcpy(last, buf, (size_t)n);
            last_len = n;
        } else if (mirror.sin_port && last_len > 0) { /* answered: now replay it */
            sendto(fd, last, (size_t)last_len, 0, (const struct sockaddr *)&mirror, sizeof mirror);
            last_len = 0;
        }
        if (rand() % 100 < loss) {
            dropped++;
            continue;
        }
        const struct sockaddr_in *to = from_server ? &client : &server;
        sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to);
        fwd++;
    }
    fprintf(stderr, "lossy_relay: forwarded %lu, dropped %lu\n", fwd, dropped);
    return 0;
}
