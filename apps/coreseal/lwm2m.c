/* coreseal lwm2m client | server: LwM2M Registration and Device Management
 * over CoAP, end-to-end protected with OSCORE when a context is given.
 * The client simulates a device (objects 1, 3 and 3303 with a temperature
 * that changes) on the library's Device Management handler; the server
 * keeps registrations, reads or observes the paths it is told to
 * after each Register, and prints what it gets. Its registrations and
 * OSCORE contexts live in the library's registry, which holds a client
 * registering over OSCORE to its Sender ID as endpoint name (4.00
 * otherwise). */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coreseal/coap_ep.h"
#include "coreseal/lwm2m_model.h"
#include "coreseal/lwm2m_registry.h"
#include "coreseal/net.h"

#define MAX_MSG 1400

/* One endpoint on one socket, acting as CoAP client and server at once. */
typedef struct {
    const char *sub;
    int verbose;
    cli_security_t sec;
    oscore_ctx_t *oscore; /* client: the context toward the server */
    cs_udp_t udp;
    coap_ep_t ep;
    uint8_t *ep_mem;
} node_t;

static int node_open(node_t *n, const char *host, const char *port, bool server)
{
    char err[256] = "";
    if (cs_udp_open(&n->udp, host, port, server, err, sizeof err) != CS_NET_OK)
        return cli_fail(n->sub, CLI_EXIT_NETWORK, "%s", err);
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    cfg.random = cli_random;
    cfg.random_arg = &n->sec.crypto;
    size_t mem = COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG);
    n->ep_mem = malloc(mem);
    if (!n->ep_mem || coap_ep_init(&n->ep, n->ep_mem, mem, MAX_MSG, &cfg, cs_net_now()) != COAP_OK)
        return cli_fail(n->sub, CLI_EXIT_CONFIG, "cannot set up the CoAP endpoint");
    return CLI_EXIT_OK;
}

static void node_close(node_t *n)
{
    cli_security_close(&n->sec);
    cs_udp_close(&n->udp);
    free(n->ep_mem);
}

static void node_flush(node_t *n)
{
    if (cs_udp_collect(&n->udp, &n->ep) != CS_NET_OK || cs_udp_flush(&n->udp) != CS_NET_OK)
        fprintf(stderr, "coreseal %s: send failed\n", n->sub);
}

/* Sends a request (protected with ctx if given); *bind for the response. */
static bool send_req(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, uint8_t code,
                     coap_optlist_t *l, const uint8_t *pl, size_t pl_len, bool observe,
                     uint8_t token[8], oscore_binding_t *bind)
{
    uint8_t plain[MAX_MSG], prot[MAX_MSG];
    coap_builder_t b;
    size_t len;
    if (coap_ep_new_token(&n->ep, token, 8) != COAP_OK)
        return false;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 0, token, 8);
    if (coap_optlist_write(l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, pl, pl_len);
    coap_msg_t m;
    if (coap_builder_finish(&b, &len) != COAP_OK || coap_msg_parse(&m, plain, len) != COAP_OK)
        return false;
    const uint8_t *wire = plain;
    if (ctx) {
        if (oscore_protect_request(ctx, &m, prot, sizeof prot, &len, bind) != OSCORE_OK)
            return false;
        wire = prot;
    }
    return coap_ep_send_request(&n->ep, peer, wire, len, observe, cs_net_now()) == COAP_OK;
}

/* The plain view of a received message; false if it fails verification. */
static bool open_msg(node_t *n, oscore_ctx_t *ctx, const coap_ep_event_t *ev, bool request,
                     oscore_binding_t *bind, uint8_t *buf, coap_msg_t *out)
{
    oscore_option_t opt;
    if (oscore_msg_option(&ev->msg, &opt) == OSCORE_ERR_NOT_PROTECTED) {
        *out = ev->msg;
        return !ctx; /* with OSCORE configured, plain messages are refused */
    }
    if (!ctx)
        return false;
    size_t len;
    oscore_err_t e = request ? oscore_unprotect_request(ctx, &ev->msg, buf, MAX_MSG, &len, bind)
                             : oscore_unprotect_response(ctx, bind, &ev->msg, buf, MAX_MSG, &len);
    if (e != OSCORE_OK) {
        if (n->verbose)
            fprintf(stderr, "* OSCORE: %s\n", coreseal_strerror(e));
        return false;
    }
    return coap_msg_parse(out, buf, len) == COAP_OK;
}

/* Answers a request: code, options in l, payload; protected if ctx. */
static void reply(node_t *n, const coap_ep_event_t *ev, oscore_ctx_t *ctx,
                  const oscore_binding_t *bind, uint8_t code, coap_optlist_t *l,
                  const uint8_t *pl, size_t pl_len, bool notification, coap_peer_t peer,
                  const uint8_t *token, size_t tkl)
{
    uint8_t plain[MAX_MSG], prot[MAX_MSG];
    coap_builder_t b;
    size_t len;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, code, 0, token, tkl);
    if (l && coap_optlist_write(l, &b) != COAP_OK)
        return;
    coap_builder_set_payload(&b, pl, pl_len);
    coap_msg_t m;
    if (coap_builder_finish(&b, &len) != COAP_OK || coap_msg_parse(&m, plain, len) != COAP_OK)
        return;
    const uint8_t *wire = plain;
    if (ctx) {
        if (oscore_protect_response(ctx, bind, &m, notification, prot, sizeof prot, &len) !=
            OSCORE_OK)
            return;
        wire = prot;
    }
    coap_err_t e = notification ? coap_ep_send_separate(&n->ep, peer, wire, len, false, cs_net_now())
                                : coap_ep_respond(&n->ep, ev, wire, len, cs_net_now());
    if (e != COAP_OK && n->verbose)
        fprintf(stderr, "* cannot answer: %s\n", coreseal_strerror(e));
}

/* ================================================================ client */

typedef struct {
    char ep[64];
    int64_t lifetime;
    char binding[8];
    double temperature;
    int reboots;
} device_t;

static lwm2m_err_t dev_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids,
                            size_t cap, size_t *n)
{
    (void)arg;
    (void)inst;
    (void)cap;
    if (res == LWM2M_ID_NONE) {
        if (obj != 1 && obj != 3 && obj != 3303)
            return LWM2M_ERR_END;
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    if (obj == 3 && (res == 6 || res == 11)) {
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    return LWM2M_ERR_END;
}

static void set_str(lwm2m_value_t *v, const char *s)
{
    v->type = LWM2M_TYPE_STRING;
    v->v.bytes.p = (const uint8_t *)s;
    v->v.bytes.n = strlen(s);
}

static lwm2m_err_t dev_read(void *arg, const lwm2m_path_t *p, lwm2m_value_t *v)
{
    device_t *d = arg;
    memset(v, 0, sizeof *v);
    uint32_t key = (uint32_t)p->ids[0] << 16 | p->ids[2];
    switch (key) {
    case 1u << 16 | 0: v->type = LWM2M_TYPE_INTEGER; v->v.i = 1; break;
    case 1u << 16 | 1: v->type = LWM2M_TYPE_INTEGER; v->v.i = d->lifetime; break;
    case 1u << 16 | 6: v->type = LWM2M_TYPE_BOOLEAN; v->v.b = false; break;
    case 1u << 16 | 7: set_str(v, d->binding); break;
    case 3u << 16 | 0: set_str(v, "coreseal"); break;
    case 3u << 16 | 1: set_str(v, "simulated device"); break;
    case 3u << 16 | 2: set_str(v, d->ep); break;
    case 3u << 16 | 3: set_str(v, "0.1.0"); break;
    case 3u << 16 | 6: v->type = LWM2M_TYPE_INTEGER; v->v.i = 1; break;
    case 3u << 16 | 11: v->type = LWM2M_TYPE_INTEGER; v->v.i = 0; break;
    case 3u << 16 | 16: set_str(v, "UQ"); break;
    case 3303u << 16 | 5700: v->type = LWM2M_TYPE_FLOAT; v->v.f = d->temperature; break;
    case 3303u << 16 | 5701: set_str(v, "Cel"); break;
    default: return LWM2M_ERR_END;
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_write(void *arg, const lwm2m_path_t *p, const lwm2m_value_t *v)
{
    device_t *d = arg;
    if (p->ids[0] == 1 && p->ids[2] == 1)
        d->lifetime = v->v.i;
    else if (p->ids[0] == 1 && p->ids[2] == 7 && v->v.bytes.n < sizeof d->binding) {
        memcpy(d->binding, v->v.bytes.p, v->v.bytes.n);
        d->binding[v->v.bytes.n] = 0;
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)a;
    (void)n;
    device_t *d = arg;
    if (p->ids[0] == 3 && p->ids[2] == 4) {
        d->reboots++;
        printf("client: reboot requested\n");
        fflush(stdout);
    }
    return LWM2M_OK;
}

typedef struct {
    bool active;
    coap_peer_t peer;
    uint8_t token[8], tkl;
    lwm2m_path_t path;
    oscore_binding_t bind;
    uint32_t seq;
    lwm2m_observation_t rep;  /* what the attributes decide on */
    cs_time_ms_t next_check;
    uint8_t last[256];        /* payload last sent, to see changes */
    size_t last_len;
} observer_t;

/* What decides the observation's notifications now: its attributes, and
 * the resource's value for the numeric ones (gt/lt/st; NONE above a
 * resource). */
static void observer_view(const lwm2m_store_t *st, const observer_t *o, lwm2m_attrs_t *a,
                          lwm2m_value_t *v)
{
    lwm2m_attr_effective(st->attrs, &o->path, NULL, a);
    if (o->path.len < 3 || st->read(st->arg, &o->path, v) != LWM2M_OK)
        v->type = LWM2M_TYPE_NONE;
}

/* Records a notification (or the Observe response) as sent: the value the
 * payload was made from, so later changes are measured against it. */
static void observer_sent(observer_t *o, const lwm2m_attrs_t *a, const lwm2m_value_t *v,
                          const uint8_t *pl, size_t n, cs_time_ms_t now)
{
    lwm2m_notify_sent(&o->rep, v, now);
    o->last_len = n < sizeof o->last ? n : sizeof o->last;
    memcpy(o->last, pl, o->last_len);
    o->next_check = lwm2m_notify_next(a, &o->rep);
}

static void client_request(node_t *n, const lwm2m_store_t *st, observer_t *obs, coap_ep_event_t *ev)
{
    uint8_t buf[MAX_MSG], out[1024], arena[64];
    coap_msg_t req;
    oscore_binding_t bind;
    memset(&bind, 0, sizeof bind);
    if (!open_msg(n, n->oscore, ev, true, &bind, buf, &req)) {
        coap_opt_t o;
        if (n->oscore && !coap_msg_find_option(&ev->msg, COAP_OPT_OSCORE, &o))
            reply(n, ev, NULL, NULL, COAP_UNAUTHORIZED, NULL, NULL, 0, false, 0, ev->msg.token,
                  ev->msg.token_len);
        return;
    }
    lwm2m_dm_result_t r;
    if (lwm2m_dm_handle(st, &req, out, sizeof out, &r) != LWM2M_OK)
        return;
    coap_opt_t list[4], o;
    coap_optlist_t l;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    uint32_t obsv;
    bool observe = req.code == COAP_GET && coap_msg_find_option(&req, COAP_OPT_OBSERVE, &o) &&
                   coap_opt_uint(&o, &obsv);
    if (observe && obsv == 0 && COAP_CODE_CLASS(r.code) == 2) {
        for (int i = 0; i < 8; i++)
            if (!obs[i].active) {
                memset(&obs[i], 0, sizeof obs[i]);
                obs[i].peer = ev->peer;
                obs[i].tkl = (uint8_t)req.token_len;
                obs[i].bind = bind;
                obs[i].seq = 1;
                memcpy(obs[i].token, req.token, req.token_len);
                /* the DM handler accepted the path, so it parses */
                obs[i].active = lwm2m_path_from_msg(&obs[i].path, &req) == LWM2M_OK;
                lwm2m_attrs_t a;
                lwm2m_value_t v;
                observer_view(st, &obs[i], &a, &v);
                observer_sent(&obs[i], &a, &v, out, r.payload_len, cs_net_now());
                coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 1);
                break;
            }
    } else if (observe) {
        for (int i = 0; i < 8; i++)
            if (obs[i].active && obs[i].tkl == req.token_len && !memcmp(obs[i].token, req.token, req.token_len))
                obs[i].active = false;
    }
    if (r.has_payload)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, r.content_format);
    reply(n, ev, n->oscore, &bind, r.code, &l, out, r.has_payload ? r.payload_len : 0, false, 0,
          req.token, req.token_len);
}

/* Evaluates one observation and notifies when its attributes say so
 * (pmin/pmax, gt/lt/st; with none, on every change). */
static void evaluate(node_t *n, const lwm2m_store_t *st, observer_t *o, cs_time_ms_t now)
{
    uint8_t msg[64], out[1024], arena[64];
    coap_builder_t b;
    size_t len;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 0, o->token, o->tkl);
    for (uint8_t i = 0; i < o->path.len; i++) {
        char seg[8];
        lwm2m_path_t one = {{o->path.ids[i]}, 1};
        size_t k = lwm2m_path_format(&one, seg, sizeof seg);
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, seg + 1, k - 1);
    }
    coap_msg_t req;
    lwm2m_dm_result_t r;
    if (coap_builder_finish(&b, &len) != COAP_OK || coap_msg_parse(&req, msg, len) != COAP_OK ||
        lwm2m_dm_handle(st, &req, out, sizeof out, &r) != LWM2M_OK || COAP_CODE_CLASS(r.code) != 2)
        return;
    lwm2m_attrs_t a;
    lwm2m_value_t v;
    observer_view(st, o, &a, &v);
    bool changed = r.payload_len != o->last_len || memcmp(out, o->last, o->last_len) != 0;
    if (!lwm2m_notify_due(&a, &o->rep, &v, changed, now)) {
        o->next_check = lwm2m_notify_next(&a, &o->rep);
        return;
    }
    coap_opt_t list[4];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, ++o->seq);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, r.content_format);
    reply(n, NULL, n->oscore, &o->bind, COAP_CONTENT, &l, out, r.payload_len, true, o->peer,
          o->token, o->tkl);
    observer_sent(o, &a, &v, out, r.payload_len, now);
}

/* Send (POST /dp): the values at paths in SenML CBOR. The answer is not
 * waited for: a lost Send is repeated with the next Update. */
static void send_values(node_t *n, const lwm2m_store_t *st, const lwm2m_path_t *paths, size_t count)
{
    uint8_t pl[512], arena[16], token[8];
    size_t len;
    coap_opt_t list[4];
    coap_optlist_t l;
    oscore_binding_t bind;
    lwm2m_err_t e;
    if (!count)
        return;
    if ((e = lwm2m_send_payload(st, paths, count, pl, sizeof pl, &len)) != LWM2M_OK) {
        fprintf(stderr, "coreseal %s: cannot send: %s\n", n->sub, coreseal_strerror(e));
        return;
    }
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    coap_optlist_add(&l, COAP_OPT_URI_PATH, "dp", 2);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    if (!send_req(n, 0, n->oscore, COAP_POST, &l, pl, len, false, token, &bind))
        fprintf(stderr, "coreseal %s: Send could not be queued\n", n->sub);
}

static int lwm2m_client(int argc, char **argv)
{
    static node_t n;
    static device_t dev;
    static observer_t obs[8];
    memset(&n, 0, sizeof n);
    memset(&dev, 0, sizeof dev);
    memset(obs, 0, sizeof obs);
    n.sub = "lwm2m client";
    const char *server = NULL, *oscore = NULL, *ep = NULL;
    long lifetime = 300, duration = -1, interval_ms = 1000;
    lwm2m_path_t sends[4];
    size_t n_sends = 0;
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'}, {"ep", required_argument, NULL, 'e'},
        {"send", required_argument, NULL, 'S'},
        {"oscore", required_argument, NULL, 'O'}, {"lifetime", required_argument, NULL, 'l'},
        {"duration", required_argument, NULL, 'd'}, {"interval", required_argument, NULL, 'i'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:e:l:d:i:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'e': ep = optarg; break;
        case 'O': oscore = optarg; break;
        case 'l': lifetime = atol(optarg); break;
        case 'd': duration = atol(optarg); break;
        case 'i': interval_ms = atol(optarg); break;
        case 'S':
            if (n_sends == 4 || lwm2m_path_parse(&sends[n_sends], optarg, strlen(optarg)) != LWM2M_OK)
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--send expects up to 4 paths like /3303/0/5700");
            n_sends++;
            break;
        case 'v': n.verbose++; break;
        case 'h':
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: coreseal lwm2m client --server coap://HOST:PORT --ep NAME [--oscore FILE]\n"
                    "                             [--lifetime S] [--duration S] [--interval MS]\n"
                    "                             [--send PATH]... [-v]\n"
                    "A simulated LwM2M device (objects 1, 3, 3303) that registers, answers\n"
                    "Device Management and Observe (by the attributes the server wrote),\n"
                    "sends the --send paths with every Register and Update (POST /dp), and\n"
                    "de-registers after --duration seconds or on Ctrl-C.\n");
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    coap_uri_t u;
    if (!server || !ep || coap_uri_parse(&u, server, strlen(server)) != COAP_OK || lifetime < 10 ||
        strlen(ep) >= sizeof dev.ep)
        return cli_fail(n.sub, CLI_EXIT_USAGE, "--server coap://HOST:PORT and --ep NAME are required");
    snprintf(dev.ep, sizeof dev.ep, "%s", ep);
    dev.lifetime = lifetime;
    strcpy(dev.binding, "U");
    dev.temperature = 21.0;
    static lwm2m_attr_entry_t attr_entries[32];
    static lwm2m_attr_table_t attrs;
    lwm2m_attr_table_init(&attrs, attr_entries, 32);
    lwm2m_store_t st = {&dev, dev_list, dev_read, dev_write, dev_execute, NULL, NULL, &attrs};
    int rc = cli_security_init(&n.sec, n.sub);
    if (rc == CLI_EXIT_OK && oscore && (rc = cli_security_add(&n.sec, oscore, n.sub)) == CLI_EXIT_OK)
        n.oscore = &n.sec.ctx[0].ctx;
    char host[128], port[8];
    snprintf(host, sizeof host, "%.*s", (int)u.host_len, u.host);
    snprintf(port, sizeof port, "%u", u.port);
    if (rc != CLI_EXIT_OK || (rc = node_open(&n, host, port, false)) != CLI_EXIT_OK) {
        node_close(&n);
        return rc;
    }
    cli_catch_signals();

    /* Register */
    uint8_t token[8], arena[256], links[512], buf[MAX_MSG];
    char location[32] = "";
    coap_opt_t list[16];
    coap_optlist_t l;
    oscore_binding_t bind;
    size_t ln;
    const uint16_t objs[] = {1, 3, 3303};
    lwm2m_register_t reg = {.endpoint = ep, .lifetime = (uint32_t)lifetime};
    coap_optlist_init(&l, list, 16, arena, sizeof arena);
    if (lwm2m_register_options(&reg, &l) != LWM2M_OK ||
        lwm2m_register_payload(&st, objs, 3, links, sizeof links, &ln) != LWM2M_OK)
        return cli_fail(n.sub, CLI_EXIT_USAGE, "cannot build the Register request");
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_LINK);
    if (!send_req(&n, 0, n.oscore, COAP_POST, &l, links, ln, false, token, &bind))
        return cli_fail(n.sub, CLI_EXIT_SECURITY, "cannot send the Register request");
    enum { REGISTERING, REGISTERED, DEREGISTERING } state = REGISTERING;
    cs_time_ms_t start = cs_net_now(), next_update = 0, next_tick = start + (cs_time_ms_t)interval_ms;
    rc = CLI_EXIT_TIMEOUT;
    while (1) {
        cs_time_ms_t now = cs_net_now();
        if (state == REGISTERED && (cli_stopping || (duration >= 0 && now - start >= (cs_time_ms_t)duration * 1000))) {
            coap_optlist_init(&l, list, 16, arena, sizeof arena);
            coap_optlist_add(&l, COAP_OPT_URI_PATH, "rd", 2);
            coap_optlist_add(&l, COAP_OPT_URI_PATH, location, strlen(location));
            if (!send_req(&n, 0, n.oscore, COAP_DELETE, &l, NULL, 0, false, token, &bind))
                break;
            state = DEREGISTERING;
        }
        if (state == REGISTERED && now >= next_update) {
            coap_optlist_init(&l, list, 16, arena, sizeof arena);
            coap_optlist_add(&l, COAP_OPT_URI_PATH, "rd", 2);
            coap_optlist_add(&l, COAP_OPT_URI_PATH, location, strlen(location));
            if (send_req(&n, 0, n.oscore, COAP_POST, &l, NULL, 0, false, token, &bind))
                next_update = now + (cs_time_ms_t)lifetime * 500;
            send_values(&n, &st, sends, n_sends);
        }
        bool moved = now >= next_tick;
        if (moved) { /* the sensor moves */
            next_tick = now + (cs_time_ms_t)interval_ms;
            dev.temperature += 0.1;
        }
        for (int i = 0; i < 8; i++) /* observers look when it moved or a period ends */
            if (obs[i].active && (moved || now >= obs[i].next_check))
                evaluate(&n, &st, &obs[i], now);
        node_flush(&n);
        if (cs_udp_receive(&n.udp, 50) != CS_NET_OK)
            break;
        now = cs_net_now();
        for (size_t i = 0; i < n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&n.ep, n.udp.in_peer[i], n.udp.in[i], n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_REQUEST) {
                client_request(&n, &st, obs, &ev);
            } else if (ev.type == COAP_EV_RESPONSE && ev.token_len == 8 && !memcmp(ev.token, token, 8)) {
                coap_msg_t resp;
                char code[32];
                if (!open_msg(&n, n.oscore, &ev, false, &bind, buf, &resp)) {
                    /* an unprotected error is how a server reports OSCORE
                     * failures (RFC 8613 §8.2); anything else is forged */
                    bool plain_error = COAP_CODE_CLASS(ev.msg.code) >= 4 &&
                                       oscore_msg_option(&ev.msg, &(oscore_option_t){0}) ==
                                           OSCORE_ERR_NOT_PROTECTED;
                    rc = plain_error ? cli_fail(n.sub, CLI_EXIT_PEER_REJECTED, "server answered %s %.*s",
                                                cli_code_str(ev.msg.code, code), (int)ev.msg.payload_len,
                                                (const char *)ev.msg.payload)
                                     : cli_fail(n.sub, CLI_EXIT_SECURITY, "response failed verification");
                    goto out;
                }
                if (state == REGISTERING) {
                    if (resp.code != COAP_CREATED) {
                        rc = cli_fail(n.sub, CLI_EXIT_PEER_REJECTED, "Register refused: %s",
                                      cli_code_str(resp.code, code));
                        goto out;
                    }
                    /* Location-Path: rd/<id> */
                    coap_opt_iter_t it;
                    coap_opt_t o;
                    coap_opt_iter_init(&it, &resp);
                    while (coap_opt_next(&it, &o))
                        if (o.num == COAP_OPT_LOCATION_PATH && o.len < sizeof location &&
                            !(o.len == 2 && !memcmp(o.val, "rd", 2))) {
                            memcpy(location, o.val, o.len);
                            location[o.len] = 0;
                        }
                    printf("client: registered as %s (/rd/%s)%s\n", ep, location,
                           n.oscore ? " over OSCORE" : "");
                    fflush(stdout);
                    state = REGISTERED;
                    next_update = now + (cs_time_ms_t)lifetime * 500;
                    send_values(&n, &st, sends, n_sends);
                } else if (state == DEREGISTERING) {
                    printf("client: de-registered (%s)\n", cli_code_str(resp.code, code));
                    rc = resp.code == COAP_DELETED ? CLI_EXIT_OK : CLI_EXIT_PEER_REJECTED;
                    goto out;
                } else if (n.verbose) {
                    fprintf(stderr, "* update: %s\n", cli_code_str(resp.code, code));
                }
            } else if (ev.type == COAP_EV_TIMEOUT && state != REGISTERED) {
                rc = cli_fail(n.sub, CLI_EXIT_TIMEOUT, "the LwM2M server does not answer");
                goto out;
            }
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&n.ep, now, &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            if (ev.type == COAP_EV_TIMEOUT && state != REGISTERED) {
                rc = cli_fail(n.sub, CLI_EXIT_TIMEOUT, "the LwM2M server does not answer");
                goto out;
            }
    }
out:
    node_flush(&n);
    node_close(&n);
    return rc;
}

/* ================================================================ server */

/* A query (Read or Observe) the server sent to a registered client. */
typedef struct {
    bool active;
    uint8_t token[8];
    lwm2m_client_t *client;
    char path[32];
    oscore_binding_t bind;
    bool observe;
    bool attributes; /* a Write-Attributes */
} query_t;

#define MAX_QUERIES 64

static oscore_ctx_t *client_oscore(lwm2m_client_t *c)
{
    return c && c->has_oscore ? &c->oscore : NULL;
}

static void print_value_payload(const char *what, const char *ep, const char *path, const coap_msg_t *m)
{
    coap_opt_t o;
    uint32_t cf = 0;
    if (coap_msg_find_option(m, COAP_OPT_CONTENT_FORMAT, &o))
        (void)coap_opt_uint(&o, &cf);
    char code[32];
    if (COAP_CODE_CLASS(m->code) > 2) { /* an error response; requests (Send) and 2.xx carry values */
        printf("server: %s %s %s -> %s\n", what, ep, path, cli_code_str(m->code, code));
    } else if (cf == LWM2M_CF_TEXT) {
        printf("server: %s %s %s = %.*s\n", what, ep, path, (int)m->payload_len,
               (const char *)m->payload);
    } else if (cf == LWM2M_CF_TLV || cf == LWM2M_CF_SENML_CBOR) {
        /* one line per value; TLV values shown as text when they are */
        lwm2m_tlv_dec_t td;
        lwm2m_senml_dec_t sd;
        lwm2m_entry_t e;
        lwm2m_path_t base;
        if (lwm2m_path_parse(&base, path, strlen(path)) != LWM2M_OK)
            return;
        lwm2m_tlv_dec_init(&td, m->payload, m->payload_len, &base);
        lwm2m_senml_dec_init(&sd, m->payload, m->payload_len);
        while ((cf == LWM2M_CF_TLV ? lwm2m_tlv_next(&td, &e) : lwm2m_senml_next(&sd, &e)) == LWM2M_OK) {
            char ps[32];
            uint8_t text[64];
            size_t tn = 0;
            lwm2m_path_format(&e.path, ps, sizeof ps);
            if (cf == LWM2M_CF_SENML_CBOR && lwm2m_text_encode(&e.value, text, sizeof text, &tn) != LWM2M_OK)
                tn = 0;
            if (cf == LWM2M_CF_TLV) {
                tn = e.raw_len < sizeof text ? e.raw_len : sizeof text;
                memcpy(text, e.raw, tn);
                for (size_t i = 0; i < tn; i++)
                    if (text[i] < 0x20 || text[i] > 0x7e)
                        text[i] = '.';
            }
            printf("server: %s %s %s = %.*s\n", what, ep, ps, (int)tn, (const char *)text);
        }
    } else {
        printf("server: %s %s %s: %zu bytes (format %u)\n", what, ep, path, m->payload_len, cf);
    }
    fflush(stdout);
}

/* POST /dp: a Send. */
static bool is_send(const coap_msg_t *req)
{
    coap_opt_iter_t it;
    coap_opt_t o;
    int seg = 0;
    bool dp = false;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o))
        if (o.num == COAP_OPT_URI_PATH)
            dp = seg++ == 0 && o.len == 2 && !memcmp(o.val, "dp", 2);
    return dp && seg == 1;
}

static void cancel_queries(node_t *n, query_t *queries, const lwm2m_client_t *c)
{
    for (size_t q = 0; q < MAX_QUERIES; q++)
        if (queries[q].active && queries[q].client == c) {
            coap_ep_cancel(&n->ep, c->peer, queries[q].token, 8);
            queries[q].active = false;
        }
}

/* The code a refused Register gets. */
static uint8_t register_refusal_code(lwm2m_err_t e)
{
    switch (e) {
    case LWM2M_ERR_FULL: return COAP_SERVICE_UNAVAILABLE;
    case LWM2M_ERR_TOO_LARGE: return COAP_REQUEST_ENTITY_TOO_LARGE;
    case LWM2M_ERR_ENDPOINT_TAKEN: return COAP_FORBIDDEN;
    default: return COAP_BAD_REQUEST; /* incl. ep not the OSCORE Sender ID (Transport TS) */
    }
}

static int lwm2m_server(int argc, char **argv)
{
    static node_t n;
    static query_t queries[MAX_QUERIES];
    memset(&n, 0, sizeof n);
    memset(queries, 0, sizeof queries);
    n.sub = "lwm2m server";
    const char *listen_host = "::", *listen_port = "5683";
    const char *oscore_files[CLI_MAX_CONTEXTS], *reads[8], *observes[8], *attributes[8];
    int n_oscore = 0, n_reads = 0, n_observes = 0, n_attributes = 0;
    long max_clients = 1000;
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"oscore", required_argument, NULL, 'O'},
        {"read", required_argument, NULL, 'r'},   {"observe", required_argument, NULL, 'o'},
        {"max-clients", required_argument, NULL, 'm'}, {"attributes", required_argument, NULL, 'a'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:r:o:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &listen_host, &listen_port) != 0)
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--listen expects HOST:PORT");
            break;
        case 'O': if (n_oscore < CLI_MAX_CONTEXTS) oscore_files[n_oscore++] = optarg; break;
        case 'r': if (n_reads < 8) reads[n_reads++] = optarg; break;
        case 'o': if (n_observes < 8) observes[n_observes++] = optarg; break;
        case 'a':
            if (!strchr(optarg, '?'))
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--attributes expects PATH?QUERY, e.g. /3303/0/5700?pmin=5&st=0.5");
            if (n_attributes < 8)
                attributes[n_attributes++] = optarg;
            break;
        case 'm':
            max_clients = strtol(optarg, NULL, 10);
            if (max_clients < 1 || max_clients > 50000000)
                return cli_fail(n.sub, CLI_EXIT_USAGE, "--max-clients expects 1..50000000");
            break;
        case 'v': n.verbose++; break;
        case 'h':
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: coreseal lwm2m server [--listen HOST:PORT] [--oscore FILE]...\n"
                    "                             [--attributes PATH?QUERY]... [--read PATH]...\n"
                    "                             [--observe PATH]... [--max-clients N]\n"
                    "Accepts LwM2M registrations; after each Register writes the attributes\n"
                    "(pmin, pmax, gt, lt, st, epmin, epmax), reads and observes the given\n"
                    "paths and prints the values, and those clients Send (POST /dp). A client\n"
                    "using OSCORE must register with its Sender ID as endpoint name (4.00\n"
                    "otherwise). --max-clients sizes the registry (about 700 bytes each;\n"
                    "default 1000).\n");
            return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    if (n_oscore > max_clients)
        return cli_fail(n.sub, CLI_EXIT_USAGE, "--max-clients must cover the %d --oscore contexts", n_oscore);
    int rc = cli_security_init(&n.sec, n.sub);
    for (int i = 0; rc == CLI_EXIT_OK && i < n_oscore; i++)
        rc = cli_security_add(&n.sec, oscore_files[i], n.sub);
    /* The registry holds the live contexts; the state files stay with
     * n.sec and get the final state copied back at exit. */
    lwm2m_registry_t reg;
    lwm2m_client_t *live[CLI_MAX_CONTEXTS];
    size_t index_len = lwm2m_registry_index_len((uint32_t)max_clients);
    lwm2m_client_t *clients = calloc((size_t)max_clients, sizeof *clients);
    uint64_t *index = calloc(index_len, sizeof *index);
    uint64_t seed = 0;
    if (rc == CLI_EXIT_OK && (!clients || !index || !cli_random(&n.sec.crypto, (uint8_t *)&seed, sizeof seed) ||
                              lwm2m_registry_init(&reg, clients, (uint32_t)max_clients, index, index_len,
                                                  seed) != LWM2M_OK))
        rc = cli_fail(n.sub, CLI_EXIT_CONFIG, "no memory for %ld clients; lower --max-clients", max_clients);
    for (int i = 0; rc == CLI_EXIT_OK && i < n.sec.n; i++) {
        lwm2m_err_t e = lwm2m_registry_add_oscore(&reg, &n.sec.ctx[i].ctx, NULL, 0, &live[i]);
        if (e != LWM2M_OK)
            rc = cli_fail(n.sub, CLI_EXIT_CONFIG, "%s: %s", n.sec.ctx[i].path, coreseal_strerror(e));
        else
            oscore_ctx_wipe(&n.sec.ctx[i].ctx); /* one copy of the keys */
    }
    if (rc != CLI_EXIT_OK || (rc = node_open(&n, listen_host, listen_port, true)) != CLI_EXIT_OK) {
        node_close(&n);
        free(clients);
        free(index);
        return rc;
    }
    cli_catch_signals();
    fprintf(stderr, "coreseal lwm2m server: listening on %s:%s\n", listen_host, listen_port);
    uint8_t buf[MAX_MSG], arena[256];
    coap_opt_t list[16];
    coap_optlist_t l;
    while (!cli_stopping) {
        node_flush(&n);
        if (cs_udp_receive(&n.udp, 100) != CS_NET_OK)
            break;
        cs_time_ms_t now = cs_net_now();
        for (lwm2m_client_t *x; (x = lwm2m_registry_sweep(&reg, now, 256));) {
            cancel_queries(&n, queries, x);
            printf("server: registration of %s expired\n", x->endpoint);
            fflush(stdout);
        }
        for (size_t i = 0; i < n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&n.ep, n.udp.in_peer[i], n.udp.in[i], n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_RESPONSE) {
                for (size_t q = 0; q < MAX_QUERIES; q++) {
                    query_t *qr = &queries[q];
                    coap_msg_t resp;
                    if (!qr->active || memcmp(qr->token, ev.token, 8) != 0)
                        continue;
                    char code[32];
                    if (!open_msg(&n, client_oscore(qr->client), &ev, false, &qr->bind, buf, &resp))
                        printf("server: %s: response from %s rejected by OSCORE\n", qr->path,
                               qr->client->endpoint);
                    else if (qr->attributes)
                        printf("server: attributes %s %s -> %s\n", qr->client->endpoint, qr->path,
                               cli_code_str(resp.code, code));
                    else
                        print_value_payload(qr->observe ? "notify" : "read", qr->client->endpoint, qr->path, &resp);
                    fflush(stdout);
                    if (!qr->observe)
                        qr->active = false;
                }
                continue;
            }
            if (ev.type != COAP_EV_REQUEST)
                continue;
            /* OSCORE: which client's context, if any */
            lwm2m_client_t *client = NULL;
            oscore_option_t opt;
            oscore_binding_t bind;
            memset(&bind, 0, sizeof bind);
            if (oscore_msg_option(&ev.msg, &opt) == OSCORE_OK &&
                !(client = lwm2m_registry_find_oscore(&reg, &opt))) {
                reply(&n, &ev, NULL, NULL, COAP_UNAUTHORIZED, NULL,
                      (const uint8_t *)"Security context not found", 26, false, 0, ev.msg.token, ev.msg.token_len);
                continue;
            }
            oscore_ctx_t *octx = client_oscore(client);
            coap_msg_t req;
            if (!open_msg(&n, octx, &ev, true, &bind, buf, &req)) {
                reply(&n, &ev, NULL, NULL, COAP_BAD_REQUEST, NULL, (const uint8_t *)"Decryption failed",
                      17, false, 0, ev.msg.token, ev.msg.token_len);
                continue;
            }
            lwm2m_register_info_t info;
            coap_optlist_init(&l, list, 16, arena, sizeof arena);
            if (req.code == COAP_POST && lwm2m_register_parse(&req, &info) == LWM2M_OK) {
                lwm2m_client_t *r = NULL;
                lwm2m_err_t e = lwm2m_registry_register(&reg, client, &info, req.payload, req.payload_len,
                                                        ev.peer, now, &r);
                if (e != LWM2M_OK) {
                    printf("server: refused %.*s: %s\n", (int)info.endpoint_len, info.endpoint,
                           coreseal_strerror(e));
                    fflush(stdout);
                    reply(&n, &ev, octx, &bind, register_refusal_code(e), NULL, NULL, 0, false, 0, req.token,
                          req.token_len);
                    continue;
                }
                cancel_queries(&n, queries, r); /* a re-registration starts afresh */
                char loc[16];
                snprintf(loc, sizeof loc, "%u", (unsigned)lwm2m_registry_location(&reg, r));
                coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, "rd", 2);
                coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, loc, strlen(loc));
                reply(&n, &ev, octx, &bind, COAP_CREATED, &l, NULL, 0, false, 0, req.token, req.token_len);
                printf("server: registered %s lt=%u%s objects %.*s\n", r->endpoint, r->lifetime,
                       octx ? " over OSCORE" : "", (int)r->links_len, r->links);
                fflush(stdout);
                /* the configured attributes, reads and observations, to the new client */
                for (int k = 0; k < n_attributes + n_reads + n_observes; k++) {
                    query_t *qr = NULL;
                    for (size_t q = 0; q < MAX_QUERIES && !qr; q++)
                        if (!queries[q].active)
                            qr = &queries[q];
                    if (!qr)
                        break;
                    bool attr = k < n_attributes, obs = k >= n_attributes + n_reads;
                    const char *path = attr ? attributes[k] : obs ? observes[k - n_attributes - n_reads]
                                                                  : reads[k - n_attributes];
                    /* PATH[?QUERY], sent to the client's address: no Uri-Host */
                    size_t path_len = strcspn(path, "?");
                    coap_uri_t target = {.path = path, .path_len = path_len, .host_is_literal = true};
                    if (path[path_len] == '?') {
                        target.query = path + path_len + 1;
                        target.query_len = strlen(target.query);
                    }
                    coap_optlist_init(&l, list, 16, arena, sizeof arena);
                    if (obs)
                        coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 0);
                    coap_optlist_add_uri(&l, &target, false);
                    memset(qr, 0, sizeof *qr);
                    if (send_req(&n, r->peer, octx, attr ? COAP_PUT : COAP_GET, &l, NULL, 0, obs, qr->token,
                                 &qr->bind)) {
                        qr->active = true;
                        qr->client = r;
                        qr->observe = obs;
                        qr->attributes = attr;
                        snprintf(qr->path, sizeof qr->path, "%.*s", (int)path_len, path);
                    }
                }
                continue;
            }
            if (req.code == COAP_POST && is_send(&req)) { /* Send: from registered clients */
                if (client && client->state != LWM2M_CLIENT_REGISTERED) {
                    reply(&n, &ev, octx, &bind, COAP_NOT_FOUND, NULL, NULL, 0, false, 0, req.token,
                          req.token_len);
                    continue;
                }
                print_value_payload("send", client ? client->endpoint : "(unprotected)", "/", &req);
                reply(&n, &ev, octx, &bind, COAP_CHANGED, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            /* Update (POST /rd/<location>) and De-register (DELETE /rd/<location>):
             * only by the client that registered there */
            uint32_t location = 0, lifetime = 0;
            lwm2m_err_t pe = lwm2m_update_parse(&req, &location, &lifetime);
            if (pe == LWM2M_ERR_MALFORMED) {
                reply(&n, &ev, octx, &bind, COAP_BAD_REQUEST, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            lwm2m_client_t *r = pe == LWM2M_OK ? lwm2m_registry_at(&reg, location) : NULL;
            if (!r || (client ? r != client : r->has_oscore)) {
                reply(&n, &ev, octx, &bind, COAP_NOT_FOUND, NULL, NULL, 0, false, 0, req.token, req.token_len);
                continue;
            }
            if (req.code == COAP_DELETE) {
                printf("server: de-registered %s\n", r->endpoint);
                cancel_queries(&n, queries, r);
                lwm2m_registry_deregister(&reg, r);
                reply(&n, &ev, octx, &bind, COAP_DELETED, NULL, NULL, 0, false, 0, req.token, req.token_len);
            } else if (req.code == COAP_POST) {
                lwm2m_err_t e = lwm2m_registry_update(&reg, r, lifetime, req.payload_len ? req.payload : NULL,
                                                      req.payload_len, ev.peer, now);
                printf("server: update from %s%s%s\n", r->endpoint, e == LWM2M_OK ? "" : ": ",
                       e == LWM2M_OK ? "" : coreseal_strerror(e));
                reply(&n, &ev, octx, &bind, e == LWM2M_OK ? COAP_CHANGED : register_refusal_code(e), NULL, NULL,
                      0, false, 0, req.token, req.token_len);
            } else {
                reply(&n, &ev, octx, &bind, COAP_METHOD_NOT_ALLOWED, NULL, NULL, 0, false, 0, req.token,
                      req.token_len);
            }
            fflush(stdout);
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&n.ep, cs_net_now(), &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            ;
    }
    node_flush(&n);
    for (int i = 0; i < n.sec.n; i++) /* the state files save what the registry's contexts reached */
        n.sec.ctx[i].ctx = live[i]->oscore;
    node_close(&n);
    for (uint32_t i = 0; i < reg.n_clients; i++)
        if (clients[i].has_oscore)
            oscore_ctx_wipe(&clients[i].oscore);
    free(clients);
    free(index);
    return CLI_EXIT_OK;
}

int cmd_lwm2m(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "client") == 0)
        return lwm2m_client(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        return lwm2m_server(argc - 1, argv + 1);
    bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
    fprintf(help ? stdout : stderr,
            "usage: coreseal lwm2m client|server [options]   ('coreseal lwm2m client --help')\n");
    return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
