/* coreseal bench load: a UDP load generator for CoAP and OSCORE servers,
 * ours or anyone's. Requests (NON GETs, OSCORE-protected with --oscore) are
 * made before the clock starts, so the generator spends its time on I/O;
 * a window of them is kept in flight and every response whose token
 * matches counts. Loopback targets only make sense for benchmarks. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "coreseal/net.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: coreseal bench load [options] URI\n"
               "\n"
               "Sends NON GET requests to URI as fast as the server answers and prints\n"
               "requests per second.\n"
               "\n"
               "  --oscore FILE   protect every request with this context (the server must\n"
               "                  hold the mirror context); responses are matched by token\n"
               "  -n COUNT        requests to prepare (default 200000)\n"
               "  -w WINDOW       requests in flight (default 64)\n"
               "  -d SECONDS      stop after SECONDS (default 10)\n"
               "  --expect TEXT   check every answer: intact (a 2.05 with payload TEXT, verified\n"
               "                  with --oscore), rejected (failed verification, or an error\n"
               "                  the server sent), or accepted altered; prints the counts and\n"
               "                  exits 6 if any altered answer was accepted. Meant for runs\n"
               "                  through 'coreseal proxy --attack' (docs/proxies.md)\n"
               "\n"
               "Example:\n"
               "  coreseal bench load --oscore client.json -n 500000 coap://127.0.0.1/oscore/hello/1\n");
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --expect: 0 intact, 1 rejected, 2 accepted altered, -1 not counted (a
 * token we never sent, or a second answer to one request). A plain client
 * can only compare; an OSCORE one verifies first, and an answer that fails
 * verification (or is the server's unprotected error) is a rejection. */
static int judge(cli_security_t *sec, oscore_binding_t *binds, uint8_t *answered, long count, const coap_msg_t *m,
                 const char *expect)
{
    long idx = 0;
    memcpy(&idx, m->token, sizeof idx < 8 ? sizeof idx : 8);
    if (idx < 0 || idx >= count || answered[idx])
        return -1;
    answered[idx] = 1;
    coap_msg_t inner = *m;
    uint8_t plain[1500];
    size_t n;
    if (binds) {
        coap_opt_t o;
        if (!coap_msg_find_option(m, COAP_OPT_OSCORE, &o) ||
            oscore_unprotect_response(&sec->ctx[0].ctx, &binds[idx], m, plain, sizeof plain, &n) != OSCORE_OK ||
            coap_msg_parse(&inner, plain, n) != COAP_OK)
            return 1;
    }
    if (COAP_CODE_CLASS(inner.code) != 2 && !binds)
        return 1; /* an error a plain server sent */
    bool same = inner.code == COAP_CONTENT && inner.payload_len == strlen(expect) &&
                !memcmp(inner.payload, expect, inner.payload_len);
    return same ? 0 : 2;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "load") != 0) {
        usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    argc--;
    argv++;
    const char *oscore_file = NULL, *expect = NULL;
    long count = 200000, window = 64, duration = 10;
    static const struct option longopts[] = {{"oscore", required_argument, NULL, 'O'},
                                             {"expect", required_argument, NULL, 'E'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:w:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'O': oscore_file = optarg; break;
        case 'E': expect = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'w': window = atol(optarg); break;
        case 'd': duration = atol(optarg); break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || count < 1 || window < 1 || window > 4096 || duration < 1) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    coap_uri_t uri;
    if (coap_uri_parse(&uri, argv[optind], strlen(argv[optind])) != COAP_OK)
        return cli_fail("bench", CLI_EXIT_USAGE, "'%s' is not a coap:// URI", argv[optind]);
    cli_security_t sec;
    int rc = cli_security_init(&sec, "bench");
    if (rc == CLI_EXIT_OK && oscore_file)
        rc = cli_security_add(&sec, oscore_file, "bench");
    if (rc != CLI_EXIT_OK)
        return rc;

    /* prepare every request: token = index, so a response names its request */
    enum { SLOT = 96 };
    uint8_t *reqs = malloc((size_t)count * SLOT);
    uint8_t *lens = malloc((size_t)count);
    /* --expect with OSCORE: each request's binding, and whether it was answered */
    oscore_binding_t *binds = expect && oscore_file ? calloc((size_t)count, sizeof *binds) : NULL;
    uint8_t *answered = expect ? calloc((size_t)count, 1) : NULL;
    if (!reqs || !lens || (expect && (!answered || (oscore_file && !binds))))
        return cli_fail("bench", CLI_EXIT_CONFIG, "out of memory for %ld requests", count);
    for (long i = 0; i < count; i++) {
        uint8_t plain[SLOT], arena[128], tok[8];
        coap_opt_t list[8];
        coap_optlist_t l;
        coap_builder_t b;
        size_t n;
        memcpy(tok, &i, sizeof tok);
        coap_optlist_init(&l, list, 8, arena, sizeof arena);
        coap_optlist_add_uri(&l, &uri, false);
        coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_NON, COAP_GET,
                          (uint16_t)i, tok, sizeof tok);
        if (coap_optlist_write(&l, &b) != COAP_OK || coap_builder_finish(&b, &n) != COAP_OK)
            return cli_fail("bench", CLI_EXIT_USAGE, "request does not fit %d bytes", SLOT);
        if (sec.n) {
            coap_msg_t m;
            oscore_binding_t bind;
            if (coap_msg_parse(&m, plain, n) != COAP_OK ||
                oscore_protect_request(&sec.ctx[0].ctx, &m, reqs + (size_t)i * SLOT, SLOT, &n,
                                       &bind) != OSCORE_OK)
                return cli_fail("bench", CLI_EXIT_SECURITY, "cannot protect request %ld", i);
            if (binds)
                binds[i] = bind;
        } else {
            memcpy(reqs + (size_t)i * SLOT, plain, n);
        }
        lens[i] = (uint8_t)n;
    }

    cs_udp_t udp;
    char host[256], port[8], err[256] = "";
    snprintf(host, sizeof host, "%.*s", (int)uri.host_len, uri.host);
    snprintf(port, sizeof port, "%u", uri.port);
    if (cs_udp_open(&udp, host, port, false, err, sizeof err) != CS_NET_OK)
        return cli_fail("bench", CLI_EXIT_NETWORK, "%s", err);
    long sent = 0, done = 0, lost = 0, intact = 0, rejected = 0, altered = 0;
    long in_flight = 0;
    double start = seconds(), last_progress = start, end = start + (double)duration;
    while (done < count && seconds() < end) {
        while (in_flight < window && sent < count) {
            if (cs_udp_queue(&udp, 0, reqs + (size_t)sent * SLOT, lens[sent]) != CS_NET_OK)
                break;
            sent++;
            in_flight++;
        }
        if (cs_udp_flush(&udp) != CS_NET_OK || cs_udp_receive(&udp, 20) != CS_NET_OK)
            break;
        for (size_t i = 0; i < udp.n_in; i++) {
            coap_msg_t m;
            if (coap_msg_parse(&m, udp.in[i], udp.in_len[i]) == COAP_OK && m.token_len == 8) {
                done++;
                in_flight--;
                if (expect)
                    switch (judge(&sec, binds, answered, count, &m, expect)) {
                    case 0: intact++; break;
                    case 1: rejected++; break;
                    case 2: altered++; break;
                    default: break; /* a duplicate, or not one of ours */
                    }
            }
        }
        double t = seconds();
        if (udp.n_in)
            last_progress = t;
        else if (t - last_progress > 0.1 && in_flight) {
            lost += in_flight; /* assume the window was dropped; refill it */
            in_flight = 0;
            last_progress = t;
        }
        if (sent == count && in_flight == 0)
            break;
    }
    double elapsed = seconds() - start;
    printf("%ld responses in %.2f s: %.0f requests/s (window %ld, %s, %ld presumed lost)\n", done,
           elapsed, (double)done / elapsed, window, sec.n ? "OSCORE" : "plain CoAP", lost);
    if (expect)
        printf("answers: %ld intact, %ld rejected, %ld accepted altered (of %ld requests sent)\n", intact, rejected,
               altered, sent);
    free(binds);
    free(answered);
    cs_udp_close(&udp);
    free(reqs);
    free(lens);
    cli_security_close(&sec);
    return altered ? CLI_EXIT_SECURITY : done > 0 ? CLI_EXIT_OK : CLI_EXIT_TIMEOUT;
}
