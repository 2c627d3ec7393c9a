/* UDP relay for end-to-end tests: listens on one loopback port, forwards
 * every datagram to a server port and the answers back to the last client,
 * dropping a given percentage of datagrams in each direction at random.
 *   lossy_relay LISTEN_PORT SERVER_PORT LOSS_PERCENT SECONDS [MIRROR_PORT...]
 * With MIRROR_PORTs it is also the replaying attacker of a server cluster:
 * once the server answered a request (an answer with its token), the same
 * request goes to each mirror (the other nodes), whose answers are dropped. Loopback only, and it stops
 * by itself after SECONDS. */
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
    if (argc < 5 || argc > 9) {
        fprintf(stderr, "usage: lossy_relay LISTEN_PORT SERVER_PORT LOSS_PERCENT SECONDS [MIRROR_PORT...]\n");
        return 1;
    }
    struct sockaddr_in mirror[4];
    int n_mirrors = argc - 5;
    for (int i = 0; i < n_mirrors; i++) {
        mirror[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[5 + i]))};
        inet_pton(AF_INET, "127.0.0.1", &mirror[i].sin_addr);
    }
    /* requests not answered yet, by token (a client may have several out) */
    static unsigned char pending[64][1200];
    static ssize_t pending_len[64];
    size_t next_slot = 0;
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
    unsigned long fwd = 0, dropped = 0, replayed = 0;
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
        bool from_server = from.sin_port == server.sin_port, from_mirror = false;
        for (int i = 0; i < n_mirrors; i++)
            from_mirror = from_mirror || from.sin_port == mirror[i].sin_port;
        if (from_mirror)
            continue; /* the other nodes' answers go nowhere */
        size_t tkl = n >= 4 ? (buf[0] & 0x0f) : 0;
        bool request = n >= 4 && buf[1] >= 1 && buf[1] <= 31, answer = n >= 4 && buf[1] >= 64;
        if (!from_server) {
            client = from;
            if (request && n <= (ssize_t)sizeof pending[0] && tkl <= 8 && 4 + (ssize_t)tkl <= n) {
                memcpy(pending[next_slot], buf, (size_t)n);
                pending_len[next_slot] = n;
                next_slot = (next_slot + 1) % 64;
            }
        } else if (n_mirrors && answer && tkl <= 8 && 4 + (ssize_t)tkl <= n) { /* answered: now replay it */
            for (size_t k = 0; k < 64; k++) {
                if (!pending_len[k] || (pending[k][0] & 0x0f) != tkl || memcmp(pending[k] + 4, buf + 4, tkl) != 0)
                    continue;
                for (int i = 0; i < n_mirrors; i++)
                    sendto(fd, pending[k], (size_t)pending_len[k], 0, (const struct sockaddr *)&mirror[i],
                           sizeof mirror[i]);
                pending_len[k] = 0;
                replayed++;
            }
        }
        if (rand() % 100 < loss) {
            dropped++;
            continue;
        }
        const struct sockaddr_in *to = from_server ? &client : &server;
        sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to);
        fwd++;
    }
    fprintf(stderr, "lossy_relay: forwarded %lu, dropped %lu, replayed %lu to each mirror\n", fwd, dropped, replayed);
    return 0;
}
