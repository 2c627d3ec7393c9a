/* coreseal get|post|put|delete|fetch|patch|ipatch: one CoAP request over
 * UDP, optionally OSCORE-protected, with block-wise transfer in both
 * directions (RFC 7959), Observe (RFC 7641) and forward proxies. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coreseal/coap_ep.h"
#include "coreseal/net.h"
#include "http_client.h"

#define MAX_MSG 1400
#define MAX_OPTS 48

typedef struct {
    uint16_t num;
    uint8_t val[256];
    size_t len;
} extra_opt_t;

typedef struct {
    const char *sub;
    uint8_t method;
    coap_type_t type;
    const char *uri;
    const char *proxy;
    uint8_t *payload;
    size_t payload_len;
    long accept, content_format;
    size_t block_size;
    bool block_size_set;
    bool observe;
    long observe_seconds;
    long timeout_seconds;
    long ack_timeout_ms;
    const char *oscore_file;
    const char *edhoc_key;
    const char *edhoc_peers[4];
    int n_edhoc_peers;
    int edhoc_method, edhoc_suite;
    bool combined;
    cs_dtls_config_t dtls; /* coaps:// */
    const char *output;
    int verbose;
    extra_opt_t extra[16];
    size_t n_extra;
} opts_t;

typedef struct {
    opts_t o;
    coap_uri_t uri;
    cs_udp_t udp;
    coap_peer_t server; /* the server's (or proxy's) handle: UDP peer 0 or a TCP connection */
    coap_ep_t ep;
    uint8_t *ep_mem;
    cli_security_t sec;
    cli_context_t *oscore;
    cli_edhoc_t edhoc;
    uint8_t pending_m3[1024]; /* RFC 9668: message_3 rides on the first request (a certificate, by value) */
    size_t pending_m3_len;
    uint8_t request_tag[2];
    size_t batch_next; /* next unread datagram of the udp batch */
    FILE *out;
    uint8_t last_wire[MAX_MSG]; /* the last protected request, for outer Block2 */
    size_t last_wire_len;
    /* an http:// URI: every request goes as HTTP through a cross-proxy */
    bool is_http, http_answered;
    hc_client_t http;
    char target[1024]; /* the Target CoAP URI (uri's views point here) */
} client_t;

/* Sends a request (built, protected): over CoAP, or as HTTP, whose answer
 * then waits for next_event. */
static coap_err_t client_send(client_t *cl, const uint8_t *msg, size_t n, bool keep)
{
    if (!cl->is_http)
        return coap_ep_send_request(&cl->ep, cl->server, msg, n, keep, cs_net_now());
    cl->http_answered = hc_client_exchange(&cl->http, msg, n, cl->o.verbose);
    snprintf(cl->udp.why, sizeof cl->udp.why, "HTTP: %s", cl->http.why);
    return COAP_OK;
}

static void usage(FILE *f, const char *sub)
{
    fprintf(f,
            "usage: coreseal %s [options] URI\n"
            "\n"
            "Sends one CoAP request (coap:// over UDP, coap+tcp:// over TCP, coap+ws:// over\n"
            "WebSockets, coaps:// over DTLS 1.2, or http://PROXY/hc/coap://HOST/PATH as HTTP\n"
            "through an HTTP-to-CoAP proxy, OSCORE end to end) and prints the response\n"
            "payload on stdout.\n"
            "\n"
            "  -e, --data TEXT           request payload\n"
            "  -f, --file FILE           request payload from FILE (- for stdin)\n"
            "  -O, --option NUM,VALUE    extra option: VALUE as text, 0xHEX or #UINT\n"
            "  -A, --accept FMT          Accept (number or name: text, json, cbor, ...)\n"
            "  -t, --content-format FMT  Content-Format of the payload\n"
            "  -b, --block-size SIZE     block size 16..1024 for Block1 and Block2\n"
            "      --non                 send a non-confirmable request\n"
            "      --observe[=SECONDS]   observe the resource (RFC 7641), for SECONDS or until Ctrl-C\n"
            "  -P, --proxy URI           send through the forward proxy at URI (with an http://\n"
            "                            URI: the proxy fetches that HTTP resource, RFC 7252 10.1)\n"
            "      --oscore FILE         protect with the OSCORE context in FILE\n"
            "                            (docs/context-files.md; libcoap's format works too)\n"
            "      --edhoc KEYFILE       run EDHOC first (POST /.well-known/edhoc) with this key,\n"
            "                            then protect the request with the OSCORE context it gives\n"
            "      --edhoc-peer CRED     the server's credential (from 'coreseal edhoc keygen')\n"
            "      --edhoc-method N      0..3 (default: from the key types); --edhoc-suite N\n"
            "      --combined            send EDHOC message_3 with the first OSCORE request (RFC 9668)\n"
            CLI_DTLS_HELP
            "  -T, --timeout SECONDS     give up after SECONDS (default 120)\n"
            "      --ack-timeout MS      first retransmission after MS x [1, 1.5) (RFC 7252: 2000)\n"
            "  -o, --output FILE         write the payload to FILE instead of stdout\n"
            "  -v, --verbose             print every message on the wire (-vv: payloads too)\n"
            "\n"
            "Examples:\n"
            "  coreseal get coap://[::1]/.well-known/core\n"
            "  coreseal put -e 22.5 -t text coap://localhost/sensors/t\n"
            "  coreseal get --oscore client.json coap://localhost/oscore/hello/1\n"
            "  coreseal get --observe=30 coap://localhost/time\n"
            "  coreseal get --oscore client.json -P coap://gateway http://server:8080/orders\n"
            "\n"
            "Exit codes: 0 2.xx response, 1 usage, 2 config, 3 network, 4 timeout,\n"
            "5 4.xx/5.xx response or RST, 6 OSCORE verification failed, 7 state file.\n",
            sub);
}

static int read_payload(opts_t *o, const char *file)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "cannot read %s: %s", file, strerror(errno));
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!buf)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "%s is larger than 64 MiB", file);
    free(o->payload);
    o->payload = buf;
    o->payload_len = n;
    return CLI_EXIT_OK;
}

static int parse_extra_option(opts_t *o, const char *arg)
{
    char *end;
    long num = strtol(arg, &end, 10);
    if (end == arg || *end != ',' || num < 1 || num > 65535 || o->n_extra == 16)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "-O expects NUM,VALUE with NUM 1..65535 (at most 16)");
    const char *v = end + 1;
    extra_opt_t *x = &o->extra[o->n_extra];
    x->num = (uint16_t)num;
    if (v[0] == '0' && v[1] == 'x') {
        size_t n = strlen(v + 2);
        if (n % 2 || n / 2 > sizeof x->val)
            return cli_fail(o->sub, CLI_EXIT_USAGE, "-O %s: bad hex value", arg);
        for (size_t i = 0; i < n / 2; i++) {
            unsigned b;
            if (sscanf(v + 2 + 2 * i, "%2x", &b) != 1)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "-O %s: bad hex value", arg);
            x->val[i] = (uint8_t)b;
        }
        x->len = n / 2;
    } else if (v[0] == '#') {
        unsigned long u = strtoul(v + 1, &end, 10);
        if (*end || u > UINT32_MAX)
            return cli_fail(o->sub, CLI_EXIT_USAGE, "-O %s: bad number", arg);
        x->len = coap_encode_uint((uint32_t)u, x->val);
    } else {
        x->len = strlen(v);
        if (x->len > sizeof x->val)
            return cli_fail(o->sub, CLI_EXIT_USAGE, "-O %s: value too long", arg);
        memcpy(x->val, v, x->len);
    }
    o->n_extra++;
    return CLI_EXIT_OK;
}

static int parse_args(opts_t *o, int argc, char **argv)
{
    static const struct {
        const char *name;
        uint8_t code;
    } methods[] = {{"get", COAP_GET},     {"post", COAP_POST},   {"put", COAP_PUT},
                   {"delete", COAP_DELETE}, {"fetch", COAP_FETCH}, {"patch", COAP_PATCH},
                   {"ipatch", COAP_IPATCH}};
    memset(o, 0, sizeof *o);
    o->sub = argv[0];
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(argv[0], methods[i].name) == 0)
            o->method = methods[i].code;
    o->type = COAP_TYPE_CON;
    o->accept = o->content_format = -1;
    o->block_size = 1024;
    o->timeout_seconds = 120;
    o->observe_seconds = -1;
    o->ack_timeout_ms = 2000;
    o->edhoc_method = o->edhoc_suite = -1;
    enum { OPT_NON = 256, OPT_OBSERVE, OPT_OSCORE, OPT_ACK_TIMEOUT, OPT_EDHOC, OPT_EDHOC_PEER,
           OPT_EDHOC_METHOD, OPT_EDHOC_SUITE, OPT_COMBINED, OPT_PSK, OPT_CERT, OPT_KEY, OPT_CA };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'e'},       {"file", required_argument, NULL, 'f'},
        {"option", required_argument, NULL, 'O'},     {"accept", required_argument, NULL, 'A'},
        {"content-format", required_argument, NULL, 't'},
        {"block-size", required_argument, NULL, 'b'}, {"non", no_argument, NULL, OPT_NON},
        {"observe", optional_argument, NULL, OPT_OBSERVE},
        {"proxy", required_argument, NULL, 'P'},      {"oscore", required_argument, NULL, OPT_OSCORE},
        {"timeout", required_argument, NULL, 'T'},    {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},          {"help", no_argument, NULL, 'h'},
        {"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},
        {"edhoc", required_argument, NULL, OPT_EDHOC},
        {"edhoc-peer", required_argument, NULL, OPT_EDHOC_PEER},
        {"edhoc-method", required_argument, NULL, OPT_EDHOC_METHOD},
        {"edhoc-suite", required_argument, NULL, OPT_EDHOC_SUITE},
        {"combined", no_argument, NULL, OPT_COMBINED},
        {"psk", required_argument, NULL, OPT_PSK}, {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY}, {"ca", required_argument, NULL, OPT_CA},
        {NULL, 0, NULL, 0}};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "e:f:O:A:t:b:P:T:o:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            free(o->payload);
            o->payload_len = strlen(optarg);
            o->payload = malloc(o->payload_len + 1);
            memcpy(o->payload, optarg, o->payload_len + 1);
            break;
        case 'f':
            if ((rc = read_payload(o, optarg)) != CLI_EXIT_OK)
                return rc;
            break;
        case 'O':
            if ((rc = parse_extra_option(o, optarg)) != CLI_EXIT_OK)
                return rc;
            break;
        case 'A':
        case 't': {
            long f = cli_content_format(optarg);
            if (f < 0)
                return cli_fail(o->sub, CLI_EXIT_USAGE,
                                "unknown content format '%s' (use a number or a name like json)", optarg);
            *(c == 'A' ? &o->accept : &o->content_format) = f;
            break;
        }
        case 'b': {
            long b = strtol(optarg, NULL, 10);
            if (b < 16 || b > 1024 || (b & (b - 1)))
                return cli_fail(o->sub, CLI_EXIT_USAGE, "block size must be 16, 32, ... or 1024");
            o->block_size = (size_t)b;
            o->block_size_set = true;
            break;
        }
        case OPT_NON: o->type = COAP_TYPE_NON; break;
        case OPT_OBSERVE:
            o->observe = true;
            o->observe_seconds = optarg ? strtol(optarg, NULL, 10) : -1;
            break;
        case 'P': o->proxy = optarg; break;
        case OPT_OSCORE: o->oscore_file = optarg; break;
        case 'T': o->timeout_seconds = strtol(optarg, NULL, 10); break;
        case OPT_EDHOC: o->edhoc_key = optarg; break;
        case OPT_EDHOC_PEER:
            if (o->n_edhoc_peers == 4)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "at most 4 --edhoc-peer files");
            o->edhoc_peers[o->n_edhoc_peers++] = optarg;
            break;
        case OPT_EDHOC_METHOD:
            o->edhoc_method = (int)strtol(optarg, NULL, 10);
            if (o->edhoc_method < 0 || o->edhoc_method > 3)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "--edhoc-method must be 0..3");
            break;
        case OPT_EDHOC_SUITE: o->edhoc_suite = (int)strtol(optarg, NULL, 10); break;
        case OPT_COMBINED: o->combined = true; break;
        case OPT_PSK:
            if (o->dtls.n_psks == 1)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "one --psk: the identity this client uses");
            if (cli_dtls_add_psk(&o->dtls, optarg, o->sub) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case OPT_CERT: o->dtls.cert_file = optarg; break;
        case OPT_KEY: o->dtls.key_file = optarg; break;
        case OPT_CA: o->dtls.ca_file = optarg; break;
        case OPT_ACK_TIMEOUT:
            o->ack_timeout_ms = strtol(optarg, NULL, 10);
            if (o->ack_timeout_ms < 10 || o->ack_timeout_ms > 600000)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "--ack-timeout must be 10..600000 ms");
            break;
        case 'o': o->output = optarg; break;
        case 'v': o->verbose++; break;
        case 'h': usage(stdout, o->sub); return -1;
        default: usage(stderr, o->sub); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr, o->sub);
        return cli_fail(o->sub, CLI_EXIT_USAGE, "expected exactly one URI");
    }
    o->uri = argv[optind];
    if (o->timeout_seconds <= 0)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "--timeout must be a positive number of seconds");
    if (o->edhoc_key && o->oscore_file)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "--edhoc and --oscore exclude each other");
    if (o->combined && !o->edhoc_key)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "--combined needs --edhoc");
    if (o->edhoc_key && o->n_edhoc_peers == 0)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "--edhoc needs the server's credential: --edhoc-peer FILE");
    return CLI_EXIT_OK;
}

/* Queues what the endpoint has to send, printing it with -v. */
static cs_net_err_t flush_out(client_t *cl)
{
    size_t len;
    coap_peer_t to;
    const uint8_t *d;
    while ((d = coap_ep_send_buf(&cl->ep, &len, &to)) != NULL) {
        coap_msg_t m;
        if (cl->o.verbose && coap_msg_parse(&m, d, len) == COAP_OK)
            cli_print_msg(stderr, '>', &m, NULL, cl->o.verbose);
        cs_net_err_t e = cs_udp_queue(&cl->udp, to, d, len);
        coap_ep_send_ack(&cl->ep);
        if (e != CS_NET_OK)
            return e;
    }
    return cs_udp_flush(&cl->udp);
}

/* Next endpoint event, reading the network as needed; NONE at give_up. */
static cs_net_err_t next_event(client_t *cl, coap_ep_event_t *ev, cs_time_ms_t give_up)
{
    if (cl->is_http) { /* the answer came with the exchange */
        ev->type = COAP_EV_NONE;
        if (!cl->http_answered || coap_msg_parse(&ev->msg, cl->http.resp, cl->http.resp_len) != COAP_OK)
            return CS_NET_ERR_IO;
        cl->http_answered = false;
        ev->type = COAP_EV_RESPONSE;
        ev->peer = cl->server;
        ev->unmatched = false;
        memcpy(ev->token, ev->msg.token, ev->msg.token_len);
        ev->token_len = ev->msg.token_len;
        return CS_NET_OK;
    }
    for (;;) {
        cs_time_ms_t now = cs_net_now();
        while (cl->batch_next < cl->udp.n_in) {
            size_t i = cl->batch_next++;
            coap_err_t err = coap_ep_input(&cl->ep, cl->udp.in_peer[i], cl->udp.in[i],
                                           cl->udp.in_len[i], now, ev);
            if (err != COAP_OK && cl->o.verbose)
                fprintf(stderr, "* dropped a malformed datagram: %s\n", coreseal_strerror(err));
            cs_net_err_t ne = flush_out(cl);
            if (ev->type != COAP_EV_NONE || ne != CS_NET_OK)
                return ne;
        }
        if (coap_ep_tick(&cl->ep, now, ev) == COAP_OK && ev->type != COAP_EV_NONE)
            return CS_NET_OK;
        cs_net_err_t ne = flush_out(cl);
        if (ne != CS_NET_OK)
            return ne;
        if (now >= give_up || cli_stopping) {
            ev->type = COAP_EV_NONE;
            return CS_NET_OK;
        }
        cs_time_ms_t until = coap_ep_next_deadline(&cl->ep);
        if (until > give_up)
            until = give_up;
        int wait = until <= now ? 0 : until - now > 1000 ? 1000 : (int)(until - now);
        cl->batch_next = 0;
        ne = cs_udp_receive(&cl->udp, wait);
        if (ne != CS_NET_OK)
            return ne;
    }
}

/* Builds, protects and sends one request; fills the OSCORE binding. */
static int send_request(client_t *cl, const uint8_t *token, uint8_t observe, bool with_observe,
                        const coap_block_t *b1, const coap_block_t *b2, oscore_binding_t *bind)
{
    opts_t *o = &cl->o;
    uint8_t plain[MAX_MSG], prot[MAX_MSG], arena[2048];
    coap_opt_t list[MAX_OPTS];
    coap_optlist_t l;
    coap_optlist_init(&l, list, MAX_OPTS, arena, sizeof arena);
    coap_optlist_add_uri(&l, &cl->uri, o->proxy != NULL);
    if (with_observe)
        coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, observe);
    if (o->content_format >= 0 && o->payload_len)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, (uint32_t)o->content_format);
    if (o->accept >= 0)
        coap_optlist_add_uint(&l, COAP_OPT_ACCEPT, (uint32_t)o->accept);
    const uint8_t *pl = o->payload;
    size_t pl_len = o->payload_len;
    if (b1) {
        size_t off;
        (void)coap_block_slice(b1, o->payload_len, &off, &pl_len);
        pl = o->payload + off;
        coap_optlist_add_uint(&l, COAP_OPT_BLOCK1, coap_block_encode(b1));
        if (b1->num == 0)
            coap_optlist_add_uint(&l, COAP_OPT_SIZE1, (uint32_t)o->payload_len);
        /* RFC 9175 §3.4: one Request-Tag per body, so a server never mixes
         * the blocks of two uploads to the same resource */
        coap_optlist_add(&l, COAP_OPT_REQUEST_TAG, cl->request_tag, sizeof cl->request_tag);
    }
    if (b2)
        coap_optlist_add_uint(&l, COAP_OPT_BLOCK2, coap_block_encode(b2));
    for (size_t i = 0; i < o->n_extra; i++)
        coap_optlist_add(&l, o->extra[i].num, o->extra[i].val, o->extra[i].len);

    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, o->type, o->method, 0, token,
                      8);
    coap_err_t ce = coap_optlist_write(&l, &b);
    coap_builder_set_payload(&b, pl, pl_len);
    if (ce != COAP_OK || (ce = coap_builder_finish(&b, &n)) != COAP_OK)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "cannot build the request: %s", coreseal_strerror(ce));
    coap_msg_t m;
    if (coap_msg_parse(&m, plain, n) != COAP_OK)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "internal error: built an unparsable request");
    const uint8_t *wire = plain;
    if (cl->oscore) {
        oscore_err_t oe = oscore_protect_request(&cl->oscore->ctx, &m, prot, sizeof prot, &n, bind);
        if (oe != OSCORE_OK)
            return cli_fail(o->sub, oe == OSCORE_ERR_STORAGE ? CLI_EXIT_STORAGE : CLI_EXIT_SECURITY,
                            "cannot protect the request: %s [%s]", coreseal_strerror(oe),
                            coreseal_errname(oe));
        wire = prot;
        if (cl->pending_m3_len) {
            coap_msg_t pm;
            static uint8_t comb[MAX_MSG];
            edhoc_err_t ee = coap_msg_parse(&pm, prot, n) == COAP_OK
                                 ? edhoc_combine_request(&pm, cl->pending_m3, cl->pending_m3_len,
                                                         comb, sizeof comb, &n)
                                 : EDHOC_ERR_MALFORMED;
            if (ee != EDHOC_OK)
                return cli_fail(o->sub, CLI_EXIT_USAGE, "cannot build the combined request: %s",
                                coreseal_strerror(ee));
            cl->pending_m3_len = 0;
            wire = comb;
            if (o->verbose)
                fprintf(stderr, "* EDHOC message_3 sent with the request (RFC 9668)\n");
        }
    }
    if (o->verbose && cl->oscore) {
        char note[64];
        int k = snprintf(note, sizeof note, "(inner of OSCORE kid=");
        for (size_t i = 0; i < bind->kid_len; i++)
            k += snprintf(note + k, sizeof note - (size_t)k, "%02x", bind->kid[i]);
        k += snprintf(note + k, sizeof note - (size_t)k, " piv=");
        for (size_t i = 0; i < bind->piv_len; i++)
            k += snprintf(note + k, sizeof note - (size_t)k, "%02x", bind->piv[i]);
        snprintf(note + k, sizeof note - (size_t)k, ")");
        cli_print_msg(stderr, '*', &m, note, o->verbose);
    }
    memcpy(cl->last_wire, wire, n);
    cl->last_wire_len = n;
    coap_err_t se = client_send(cl, wire, n, with_observe && observe == 0);
    if (se != COAP_OK)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "cannot send: %s", coreseal_strerror(se));
    return CLI_EXIT_OK;
}

/* The decrypted (or plain) response of an event into out. */
static int open_response(client_t *cl, const coap_ep_event_t *ev, oscore_binding_t *bind,
                         uint8_t *buf, size_t cap, coap_msg_t *out)
{
    if (cl->o.verbose)
        cli_print_msg(stderr, '<', &ev->msg, NULL, cl->o.verbose);
    if (!cl->oscore) {
        *out = ev->msg;
        return CLI_EXIT_OK;
    }
    size_t n;
    oscore_err_t oe = oscore_unprotect_response(&cl->oscore->ctx, bind, &ev->msg, buf, cap, &n);
    if (oe == OSCORE_ERR_NOT_PROTECTED) {
        /* unprotected errors are how a server reports OSCORE failures (§8.2) */
        *out = ev->msg;
        if (COAP_CODE_CLASS(ev->msg.code) >= 4)
            return CLI_EXIT_OK;
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY,
                        "the server answered without OSCORE; refusing an unprotected success response");
    }
    if (oe != OSCORE_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "response rejected: %s [%s]",
                        coreseal_strerror(oe), coreseal_errname(oe));
    if (coap_msg_parse(out, buf, n) != COAP_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "decrypted response is malformed");
    if (cl->o.verbose)
        cli_print_msg(stderr, '*', out, "(inner, verified)", cl->o.verbose);
    return CLI_EXIT_OK;
}

/* RFC 8613 B.2 step 3: the server answered with a kid context of its own
 * (response #1). CLI_EXIT_OK: the context moved on, send the request
 * again; -1: ev is no response #1; otherwise an exit code. */
static int accept_b2_response(client_t *cl, const coap_ep_event_t *ev,
                              const oscore_binding_t *bind, int *runs)
{
    if (!cl->oscore || !oscore_b2_is_response1(&cl->oscore->ctx, &ev->msg))
        return -1;
    if (cl->o.verbose)
        cli_print_msg(stderr, '<', &ev->msg, "(B.2 response #1)", cl->o.verbose);
    if (++*runs > 2)
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY,
                        "the server keeps asking for a new security context (RFC 8613 B.2); "
                        "check that both sides use the same Master Secret and IDs");
    oscore_params_t base;
    uint8_t buf[MAX_MSG];
    size_t n;
    cli_context_base(cl->oscore, &base);
    oscore_err_t oe = oscore_b2_accept_response1(&cl->oscore->ctx, &base, bind, &ev->msg, buf,
                                                 sizeof buf, &n);
    if (oe != OSCORE_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "B.2 response #1 rejected: %s [%s]",
                        coreseal_strerror(oe), coreseal_errname(oe));
    if (cl->o.verbose)
        fprintf(stderr, "* new security context with the server (RFC 8613 B.2): retrying\n");
    return CLI_EXIT_OK;
}

static int fail_response(client_t *cl, const coap_msg_t *m)
{
    char code[32];
    cli_code_str(m->code, code);
    if (m->payload_len)
        return cli_fail(cl->o.sub, CLI_EXIT_PEER_REJECTED, "%s: %.*s", code, (int)m->payload_len,
                        (const char *)m->payload);
    return cli_fail(cl->o.sub, CLI_EXIT_PEER_REJECTED, "%s", code);
}

static int wait_response(client_t *cl, coap_ep_event_t *ev, cs_time_ms_t give_up);

/* RFC 8613 §4.1.3.4.2: a proxy sent the protected answer in outer Block2
 * blocks. The rest is asked for with the same protected request (a new
 * token, Block2 outside) and the whole answer replaces ev's message before
 * it is verified. At most MAX_MSG bytes (this client's MAX_UNFRAGMENTED_SIZE). */
static int gather_outer_blocks(client_t *cl, coap_ep_event_t *ev, cs_time_ms_t give_up)
{
    static uint8_t first[MAX_MSG], body_buf[MAX_MSG], whole[MAX_MSG];
    coap_opt_t o;
    coap_block_t b;
    if (!cl->oscore || !coap_msg_find_option(&ev->msg, COAP_OPT_OSCORE, &o) ||
        !coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK2, &o) || !coap_block_decode(&o, &b) || !b.more)
        return CLI_EXIT_OK;
    size_t first_len, n;
    coap_body_t body;
    coap_body_init(&body, body_buf, sizeof body_buf);
    if (!cli_msg_rebuild(&ev->msg, &ev->msg, NULL, 0, NULL, 0, first, sizeof first, &first_len))
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "an outer block does not fit");
    for (;;) {
        if (coap_body_add(&body, &b, ev->msg.payload, ev->msg.payload_len) != COAP_OK)
            return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "outer Block2 blocks do not fit together");
        if (body.complete)
            break;
        coap_msg_t req, hdr;
        uint8_t token[8], v[4], buf[MAX_MSG];
        coap_block_t next = coap_block_after(&b, b.szx);
        coap_opt_t ask = cli_block_opt(COAP_OPT_BLOCK2, next.num, false, next.szx, v);
        if (coap_msg_parse(&req, cl->last_wire, cl->last_wire_len) != COAP_OK ||
            coap_ep_new_token(&cl->ep, token, sizeof token) != COAP_OK)
            return cli_fail(cl->o.sub, CLI_EXIT_CONFIG, "cannot ask for the next outer block");
        hdr = req;
        hdr.token = token;
        hdr.token_len = sizeof token;
        if (!cli_msg_rebuild(&req, &hdr, &ask, 1, req.payload, req.payload_len, buf, sizeof buf, &n) ||
            client_send(cl, buf, n, false) != COAP_OK)
            return cli_fail(cl->o.sub, CLI_EXIT_USAGE, "cannot ask for the next outer block");
        int rc = wait_response(cl, ev, give_up);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (!coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK2, &o) || !coap_block_decode(&o, &b) ||
            b.num != next.num)
            return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "the outer block asked for did not come");
    }
    coap_msg_t f;
    if (coap_msg_parse(&f, first, first_len) != COAP_OK ||
        !cli_msg_rebuild(&f, &f, NULL, 0, body.buf, body.len, whole, sizeof whole, &n) ||
        coap_msg_parse(&ev->msg, whole, n) != COAP_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_SECURITY, "the gathered answer does not fit");
    if (cl->o.verbose)
        fprintf(stderr, "* answer of %zu bytes gathered from outer Block2 blocks\n", n);
    return CLI_EXIT_OK;
}

static int wait_response(client_t *cl, coap_ep_event_t *ev, cs_time_ms_t give_up)
{
    for (;;) {
        cs_net_err_t ne = next_event(cl, ev, give_up);
        if (ne != CS_NET_OK)
            return cli_fail(cl->o.sub, CLI_EXIT_NETWORK, "%s%s%s", coreseal_strerror(ne), cl->udp.why[0] ? ": " : "",
                            cl->udp.why);
        switch (ev->type) {
        case COAP_EV_RESPONSE: return CLI_EXIT_OK;
        case COAP_EV_TIMEOUT:
            return cli_fail(cl->o.sub, CLI_EXIT_TIMEOUT,
                            "no response from %s after %u retransmissions; is the server running?",
                            cl->o.uri, cl->ep.cfg.max_retransmit);
        case COAP_EV_RESET:
            if (cl->udp.why[0]) /* a TCP connection ended before the answer */
                return cli_fail(cl->o.sub, CLI_EXIT_NETWORK, "no answer: the connection ended (%s)", cl->udp.why);
            return cli_fail(cl->o.sub, CLI_EXIT_PEER_REJECTED, "the server answered with RST");
        case COAP_EV_REQUEST: continue; /* clients serve nothing */
        case COAP_EV_NONE:
            return cli_stopping ? cli_fail(cl->o.sub, CLI_EXIT_TIMEOUT, "interrupted before an answer came")
                               : cli_fail(cl->o.sub, CLI_EXIT_TIMEOUT,
                                          "no response within %ld s", cl->o.timeout_seconds);
        }
    }
}

static void emit(client_t *cl, const coap_msg_t *m)
{
    if (m->payload_len)
        fwrite(m->payload, 1, m->payload_len, cl->out);
    fflush(cl->out);
}

/* One request/response, with Block1 upload and Block2 download (§2.5). */
static int exchange(client_t *cl)
{
    opts_t *o = &cl->o;
    cs_time_ms_t give_up = cs_net_now() + (cs_time_ms_t)o->timeout_seconds * 1000;
    uint8_t szx = coap_block_szx(o->block_size);
    bool use_b1 = o->payload_len > o->block_size;
    coap_block_t b1 = {.num = 0, .more = true, .szx = szx}, b2 = {.num = 0, .szx = szx};
    bool b2_next = o->block_size_set && !use_b1; /* early Block2 negotiation */
    if (use_b1 && cl->sec.crypto.random(cl->sec.crypto.state, cl->request_tag,
                                        sizeof cl->request_tag) != CS_CRYPTO_OK)
        return cli_fail(o->sub, CLI_EXIT_CONFIG, "no randomness for a Request-Tag");
    uint8_t token[8], buf[MAX_MSG];
    bool echoed = false;
    int b2_runs = 0;
    for (;;) {
        oscore_binding_t bind;
        size_t off, len;
        if (use_b1)
            b1.more = coap_block_slice(&b1, o->payload_len, &off, &len);
        if (coap_ep_new_token(&cl->ep, token, sizeof token) != COAP_OK)
            return cli_fail(o->sub, CLI_EXIT_CONFIG, "no randomness for a token");
        int rc = send_request(cl, token, 0, false, use_b1 ? &b1 : NULL, b2_next ? &b2 : NULL, &bind);
        if (rc != CLI_EXIT_OK)
            return rc;
        coap_ep_event_t ev;
        if ((rc = wait_response(cl, &ev, give_up)) != CLI_EXIT_OK ||
            (rc = gather_outer_blocks(cl, &ev, give_up)) != CLI_EXIT_OK)
            return rc;
        if ((rc = accept_b2_response(cl, &ev, &bind, &b2_runs)) >= 0) {
            if (rc != CLI_EXIT_OK)
                return rc;
            continue;
        }
        coap_msg_t r;
        if ((rc = open_response(cl, &ev, &bind, buf, sizeof buf, &r)) != CLI_EXIT_OK)
            return rc;
        coap_opt_t opt;
        if (r.code == COAP_UNAUTHORIZED && cl->oscore && !echoed &&
            coap_msg_find_option(&r, COAP_OPT_ECHO, &opt) && opt.len <= sizeof o->extra[0].val &&
            o->n_extra < 16) {
            /* RFC 8613 B.1.2 / RFC 9175: the server lost its replay window;
             * repeat the request once with its Echo value */
            if (o->verbose)
                fprintf(stderr, "* server asks for freshness (Echo): retrying\n");
            extra_opt_t *x = &o->extra[o->n_extra++];
            x->num = COAP_OPT_ECHO;
            memcpy(x->val, opt.val, opt.len);
            x->len = opt.len;
            echoed = true;
            continue;
        }
        if (COAP_CODE_CLASS(r.code) != 2)
            return fail_response(cl, &r);
        coap_block_t rb;
        if (use_b1 && coap_msg_find_option(&r, COAP_OPT_BLOCK1, &opt) && coap_block_decode(&opt, &rb) &&
            b1.more) {
            /* the server may ask for smaller blocks (late negotiation) */
            b1 = coap_block_after(&b1, rb.szx);
            continue;
        }
        use_b1 = false;
        emit(cl, &r);
        if (coap_msg_find_option(&r, COAP_OPT_BLOCK2, &opt) && coap_block_decode(&opt, &rb) && rb.more) {
            b2 = coap_block_after(&rb, szx);
            b2_next = true;
            o->payload_len = 0; /* later blocks are plain GETs of the rest */
            continue;
        }
        return CLI_EXIT_OK;
    }
}

/* Observe (RFC 7641): register, print notifications, deregister. */
static int observe(client_t *cl)
{
    opts_t *o = &cl->o;
    uint8_t token[8], buf[MAX_MSG];
    oscore_binding_t bind;
    coap_ep_event_t ev;
    int rc, b2_runs = 0;
    do { /* a B.2 response #1 asks for the registration again */
        if (coap_ep_new_token(&cl->ep, token, sizeof token) != COAP_OK)
            return cli_fail(o->sub, CLI_EXIT_CONFIG, "no randomness for a token");
        if ((rc = send_request(cl, token, 0, true, NULL, NULL, &bind)) != CLI_EXIT_OK ||
            (rc = wait_response(cl, &ev, cs_net_now() + (cs_time_ms_t)o->timeout_seconds * 1000)) != CLI_EXIT_OK)
            return rc;
    } while ((rc = accept_b2_response(cl, &ev, &bind, &b2_runs)) == CLI_EXIT_OK);
    if (rc > 0)
        return rc;
    cs_time_ms_t end = o->observe_seconds >= 0 ? cs_net_now() + (cs_time_ms_t)o->observe_seconds * 1000
                                               : CS_TIME_NEVER - 1;
    unsigned notifications = 0;
    for (;;) {
        coap_msg_t r;
        rc = open_response(cl, &ev, &bind, buf, sizeof buf, &r);
        if (rc == CLI_EXIT_OK) {
            if (COAP_CODE_CLASS(r.code) != 2) {
                coap_ep_cancel(&cl->ep, cl->server, token, sizeof token);
                return fail_response(cl, &r);
            }
            coap_opt_t obs;
            if (!coap_msg_find_option(&r, COAP_OPT_OBSERVE, &obs)) {
                emit(cl, &r); /* the server does not support Observe: one response */
                return CLI_EXIT_OK;
            }
            emit(cl, &r);
            if (r.payload_len && r.payload[r.payload_len - 1] != '\n')
                fputc('\n', cl->out);
            fflush(cl->out);
            notifications++;
        } else if (cl->oscore) {
            /* an old or forged notification: skip it, keep observing */
        }
        for (;;) {
            cs_net_err_t ne = next_event(cl, &ev, end);
            if (ne != CS_NET_OK)
                return cli_fail(o->sub, CLI_EXIT_NETWORK, "%s%s%s", coreseal_strerror(ne),
                                cl->udp.why[0] ? ": " : "", cl->udp.why);
            if (ev.type == COAP_EV_RESPONSE)
                break;
            if (ev.type == COAP_EV_NONE) {
                /* deregister with GET + Observe 1 on the same token (§3.6) */
                coap_ep_cancel(&cl->ep, cl->server, token, sizeof token);
                if (send_request(cl, token, 1, true, NULL, NULL, &bind) == CLI_EXIT_OK) {
                    coap_ep_event_t last;
                    (void)next_event(cl, &last, cs_net_now() + 5000);
                }
                if (o->verbose)
                    fprintf(stderr, "* %u notifications\n", notifications);
                return CLI_EXIT_OK;
            }
            if (ev.type == COAP_EV_TIMEOUT || ev.type == COAP_EV_RESET)
                return cli_fail(o->sub, CLI_EXIT_PEER_REJECTED, "the observation ended (%s)",
                                ev.type == COAP_EV_RESET ? "RST" : "timeout");
        }
    }
}

/* A plain POST to /.well-known/edhoc (RFC 9528 Appendix A.2) and its
 * answer (cli_edhoc_post_fn). */
static int edhoc_post(void *arg, const uint8_t *payload, size_t len, coap_msg_t *resp)
{
    client_t *cl = arg;
    uint8_t msg[MAX_MSG], arena[512], token[8];
    coap_opt_t list[8];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    if (!cl->uri.host_is_literal)
        coap_optlist_add(&l, COAP_OPT_URI_HOST, cl->uri.host, cl->uri.host_len);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, ".well-known", 11);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, "edhoc", 5);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, EDHOC_CF_CID_CBOR_SEQ);
    coap_builder_t b;
    size_t n;
    if (coap_ep_new_token(&cl->ep, token, sizeof token) != COAP_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_CONFIG, "no randomness for a token");
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 0, token, 8);
    if (coap_optlist_write(&l, &b) != COAP_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_USAGE, "cannot build the EDHOC request");
    coap_builder_set_payload(&b, payload, len);
    if (coap_builder_finish(&b, &n) != COAP_OK ||
        client_send(cl, msg, n, false) != COAP_OK)
        return cli_fail(cl->o.sub, CLI_EXIT_USAGE, "cannot send the EDHOC request");
    static coap_ep_event_t ev; /* resp points into it */
    int rc = wait_response(cl, &ev, cs_net_now() + (cs_time_ms_t)cl->o.timeout_seconds * 1000);
    *resp = ev.msg;
    return rc;
}

/* EDHOC as initiator, then the OSCORE context it yields (Appendix A.1). */
static int edhoc_handshake(client_t *cl)
{
    static cli_edhoc_result_t x;
    int rc = cli_edhoc_initiate(&cl->edhoc, &cl->sec.crypto, cl->o.sub, cl->o.verbose, edhoc_post, cl,
                                cl->o.combined ? cl->pending_m3 : NULL, sizeof cl->pending_m3, &cl->pending_m3_len,
                                &x);
    if (rc == CLI_EXIT_OK)
        rc = cli_security_add_params(&cl->sec, &x.params, x.peer->id_cred, x.peer->id_cred_len, cl->o.sub,
                                     &cl->oscore);
    cs_wipe(&x.keys, sizeof x.keys);
    return rc;
}

int cmd_request(int argc, char **argv)
{
    static client_t cl;
    memset(&cl, 0, sizeof cl);
    int rc = parse_args(&cl.o, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    opts_t *o = &cl.o;
    coap_uri_t target;
    const char *uri = o->uri;
    /* an http:// URI: through an HTTP-to-CoAP proxy (RFC 8075, the target
     * rides in it), or with -P an HTTP resource a CoAP proxy reaches */
    if ((cl.is_http = hc_client_is_http(uri) && !o->proxy)) {
        if (o->observe || o->edhoc_key)
            return cli_fail(o->sub, CLI_EXIT_USAGE, "an http:// URI without -P goes without --observe and --edhoc");
        if (!hc_client_init(&cl.http, uri, cl.target, sizeof cl.target))
            return cli_fail(o->sub, CLI_EXIT_USAGE, "'%s' does not embed a coap:// target: use "
                            "http://PROXY/hc/coap://HOST[:PORT]/PATH (RFC 8075), or add -P coap://PROXY to fetch an HTTP "
                            "resource through a CoAP proxy", uri);
        uri = cl.target;
    }
    if (coap_uri_parse(&cl.uri, uri, strlen(uri)) != COAP_OK)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "'%s' is not a coap:// URI", uri);
    if (!o->proxy && (cl.uri.scheme_id == COAP_SCHEME_HTTP || cl.uri.scheme_id == COAP_SCHEME_HTTPS))
        return cli_fail(o->sub, CLI_EXIT_USAGE, "'%s': an HTTP resource is reached through a CoAP proxy: add -P "
                        "coap://PROXY (RFC 7252 10.1)", uri);
    target = cl.uri;
    if (o->proxy && coap_uri_parse(&target, o->proxy, strlen(o->proxy)) != COAP_OK)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "'%s' is not a coap:// proxy URI", o->proxy);
    /* the hop we speak to decides the transport; a proxy may translate */
    bool tcp = !cl.is_http && target.scheme_id == COAP_SCHEME_COAP_TCP;
    bool ws = !cl.is_http && target.scheme_id == COAP_SCHEME_COAP_WS;
    bool dtls = !cl.is_http && target.scheme_id == COAP_SCHEME_COAPS;
    if (!cl.is_http && target.scheme_id != COAP_SCHEME_COAP && !tcp && !dtls && !ws)
        return cli_fail(o->sub, CLI_EXIT_USAGE,
                        "'%.*s' is not supported: use coap:// (UDP), coap+tcp:// (TCP), coap+ws:// (WebSockets) or "
                        "coaps:// (DTLS)",
                        (int)target.scheme_len, target.scheme);
    if (dtls && !o->dtls.n_psks && !o->dtls.ca_file)
        return cli_fail(o->sub, CLI_EXIT_USAGE, "coaps:// needs --psk ID:KEY, or --ca FILE (and --cert/--key)");

    if ((rc = cli_security_init(&cl.sec, o->sub)) != CLI_EXIT_OK)
        return rc;
    if (o->oscore_file) {
        if ((rc = cli_security_add(&cl.sec, o->oscore_file, o->sub)) != CLI_EXIT_OK)
            goto out;
        cl.oscore = &cl.sec.ctx[0];
        if ((rc = cli_b2_start_if_new(&cl.sec, cl.oscore, o->verbose, o->sub)) != CLI_EXIT_OK)
            goto out;
    }
    if (o->edhoc_key) {
        cl.edhoc.method = o->edhoc_method;
        cl.edhoc.suite = o->edhoc_suite;
        if ((rc = cli_edhoc_load_own(&cl.edhoc, o->edhoc_key, o->sub)) != CLI_EXIT_OK)
            goto out;
        for (int i = 0; i < o->n_edhoc_peers; i++)
            if ((rc = cli_edhoc_add_peer(&cl.edhoc, o->edhoc_peers[i], o->sub)) != CLI_EXIT_OK)
                goto out;
    }
    char host[256], port[8], err[256] = "";
    snprintf(host, sizeof host, "%.*s", (int)target.host_len, target.host);
    snprintf(port, sizeof port, "%u", target.port);
    /* over TCP or DTLS the plain UDP socket only carries the event loop;
     * over HTTP there is no loop, but the endpoint makes the tokens */
    bool plain = !tcp && !ws && !dtls && !cl.is_http;
    if (cs_udp_open(&cl.udp, plain ? host : NULL, plain ? port : "0", !plain, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail(o->sub, CLI_EXIT_NETWORK, "%s", err);
        goto out;
    }
    cl.udp.log = o->verbose ? stderr : NULL;
    if ((tcp && cs_tcp_connect(&cl.udp, host, port, &cl.server, err, sizeof err) != CS_NET_OK) ||
        (ws && cs_ws_connect(&cl.udp, host, port, &cl.server, err, sizeof err) != CS_NET_OK) ||
        (dtls && cs_dtls_connect(&cl.udp, host, port, &o->dtls, &cl.server, err, sizeof err) != CS_NET_OK)) {
        rc = cli_fail(o->sub, CLI_EXIT_NETWORK, "%s", err);
        goto out;
    }
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    cfg.random = cli_random;
    cfg.random_arg = &cl.sec.crypto;
    cfg.ack_timeout_ms = (uint32_t)o->ack_timeout_ms;
    cl.ep_mem = malloc(COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG));
    if (!cl.ep_mem || coap_ep_init(&cl.ep, cl.ep_mem, COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG),
                                   MAX_MSG, &cfg, cs_net_now()) != COAP_OK) {
        rc = cli_fail(o->sub, CLI_EXIT_CONFIG, "cannot set up the CoAP endpoint");
        goto out;
    }
    cl.out = stdout;
    if (o->output && !(cl.out = fopen(o->output, "wb"))) {
        rc = cli_fail(o->sub, CLI_EXIT_USAGE, "cannot write %s: %s", o->output, strerror(errno));
        goto out;
    }
    cli_catch_signals();
    if (o->edhoc_key && (rc = edhoc_handshake(&cl)) != CLI_EXIT_OK)
        goto out;
    rc = o->observe ? observe(&cl) : exchange(&cl);
out:
    if (cl.out && cl.out != stdout)
        fclose(cl.out);
    cli_security_close(&cl.sec);
    cs_udp_close(&cl.udp);
    free(cl.ep_mem);
    free(o->payload);
    cs_wipe(&cl.edhoc, sizeof cl.edhoc);
    cs_wipe(&o->dtls, sizeof o->dtls);
    hc_client_free(&cl.http);
    return rc;
}
