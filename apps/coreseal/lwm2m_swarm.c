/* coreseal lwm2m swarm: many simulated LwM2M clients in one process, each
 * with its own OSCORE context, sharing one UDP socket. With --provision it
 * writes the server's side of their contexts into a `coreseal lwm2m
 * server` store (SQLite file or Redis); run against that server it
 * registers them all (a few at a time, each through its Echo round trip),
 * answers the server's Device Management requests for each over its own
 * context, updates and de-registers them, then prints what it measured.
 * Given several servers (the nodes of a cluster), client i registers at
 * node i, updates through node i+1 and de-registers through node i+2
 * (modulo their number).
 *
 * Keys are derived from --seed and the client number (SHA-256): test keys,
 * for load and scale tests only. Contexts are volatile: provision a new
 * --seed for every run against a server that keeps state. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/lwm2m_store.h"
#include "coreseal/lwm2m_model.h"
#include "lwm2m.h"

#define MAX_WINDOW 64 /* exchanges in flight: --window, default 8 */

typedef enum { IDLE, REGISTERING, REGISTERED, UPDATING, UPDATED, DEREGISTERING, DONE, FAILED } sw_state_t;

#define MAX_SERVERS 8

typedef struct {
    oscore_ctx_t ctx;
    char ep[12];
    uint8_t state;
    node_location_t location;
    /* an observation a server made (of any resource): notified once */
    bool observed;
    uint8_t obs_tkl;
    uint8_t obs_token[8];
    coap_peer_t obs_peer;
    oscore_binding_t obs_bind;
} sw_client_t;

typedef struct {
    bool busy;
    uint32_t client;
    coap_peer_t peer;
    uint8_t token[8];
    oscore_binding_t bind;
    bool echoed;
    uint8_t plain[LWM2M_CLI_MSG]; /* the request, for an Echo retry */
    size_t plain_len;
} sw_exchange_t;

typedef struct {
    node_t n;
    sw_client_t *c;
    uint32_t count, lifetime, seed;
    sw_exchange_t ex[MAX_WINDOW];
    size_t window;
    uint32_t next; /* next client to start its current step */
    uint32_t serving; /* the client a DM request is for (/3/0/2) */
    uint32_t registered, updated, deregistered, failed, answered, echoes, notified;
    cs_time_ms_t first_answer, last_answer; /* of the servers' requests */
    coap_peer_t servers[MAX_SERVERS];
    uint32_t n_servers;
    FILE *record; /* --record: "KID PIV" of every request a server sent */
} swarm_t;

/* ---------------------------------------------------------------- keys */

/* Client i's context as the client (server = false) or the server sees it. */
static bool swarm_params(const cs_crypto_t *cr, uint32_t seed, uint32_t i, bool server, uint8_t ms[32],
                         uint8_t ep[12], uint8_t sid[4], oscore_params_t *p)
{
    char label[48];
    int n = snprintf(label, sizeof label, "coreseal swarm %u %u", seed, i);
    if (cr->hash(cr->state, -16, (const uint8_t *)label, (size_t)n, ms) != CS_CRYPTO_OK)
        return false;
    size_t epl = (size_t)snprintf((char *)ep, 12, "s%06u", i); /* 7 bytes: the longest ID AES-CCM allows */
    sid[0] = 'S', sid[1] = (uint8_t)(i >> 16), sid[2] = (uint8_t)(i >> 8), sid[3] = (uint8_t)i;
    memset(p, 0, sizeof *p);
    p->master_secret = ms;
    p->master_secret_len = 16;
    p->sender_id = server ? sid : ep; /* the client's Sender ID is its endpoint name */
    p->sender_id_len = server ? 4 : epl;
    p->recipient_id = server ? ep : sid;
    p->recipient_id_len = server ? epl : 4;
    return true;
}

static int provision(swarm_t *s, const char *db_path)
{
    cs_lwm2m_store_t *db;
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    if (cs_lwm2m_store_open(&db, db_path, 0, err, sizeof err) != CS_STORE_OK)
        return cli_fail(s->n.sub, CLI_EXIT_STORAGE, "%s", err);
    for (uint32_t i = 0; i < s->count; i++) {
        uint8_t ms[32], ep[12], sid[4];
        oscore_params_t p;
        if (!swarm_params(&s->n.sec.crypto, s->seed, i, true, ms, ep, sid, &p) ||
            cs_lwm2m_store_put_security(db, &p, NULL) != CS_STORE_OK) {
            int rc = cli_fail(s->n.sub, CLI_EXIT_STORAGE, "%s: %s", db_path, cs_lwm2m_store_error(db));
            cs_lwm2m_store_close(db);
            return rc;
        }
    }
    cs_lwm2m_store_close(db);
    printf("swarm: %u clients provisioned in %s (seed %u)\n", s->count, db_path, s->seed);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- the device every client is */

static lwm2m_err_t dev_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids, size_t cap,
                            size_t *n)
{
    (void)arg, (void)inst, (void)cap;
    if (res != LWM2M_ID_NONE || (obj != 1 && obj != 3))
        return LWM2M_ERR_END;
    ids[0] = 0;
    *n = 1;
    return LWM2M_OK;
}

static lwm2m_err_t dev_read(void *arg, const lwm2m_path_t *p, lwm2m_value_t *v)
{
    swarm_t *s = arg;
    const char *text = p->ids[0] == 3 && p->ids[2] == 0   ? "coreseal"
                       : p->ids[0] == 3 && p->ids[2] == 2 ? s->c[s->serving].ep
                                                          : NULL;
    memset(v, 0, sizeof *v);
    if (!text)
        return LWM2M_ERR_END;
    v->type = LWM2M_TYPE_STRING;
    v->v.bytes.p = (const uint8_t *)text;
    v->v.bytes.n = strlen(text);
    return LWM2M_OK;
}

static lwm2m_err_t dev_write(void *arg, const lwm2m_path_t *p, const lwm2m_value_t *v)
{
    (void)arg, (void)p, (void)v;
    return LWM2M_OK;
}

static lwm2m_err_t dev_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)arg, (void)p, (void)a, (void)n;
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- exchanges */

/* Starts client i's next step (Register, Update or De-register) in slot
 * x, each through its own node when there are several. */
static bool start(swarm_t *s, sw_exchange_t *x, uint32_t i)
{
    sw_client_t *c = &s->c[i];
    uint8_t arena[256];
    coap_opt_t list[12];
    coap_optlist_t l;
    static const uint8_t links[] = "</1/0>,</3/0>";
    coap_optlist_init(&l, list, 12, arena, sizeof arena);
    bool reg = c->state == IDLE, update = c->state == REGISTERED;
    coap_peer_t peer = s->servers[(i + (reg ? 0 : update ? 1 : 2)) % s->n_servers];
    if (reg) {
        lwm2m_register_t r = {.endpoint = c->ep, .lifetime = s->lifetime};
        if (lwm2m_register_options(&r, &l) != LWM2M_OK)
            return false;
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_LINK);
    } else {
        node_location_add(&c->location, &l);
    }
    if (!node_request(&s->n, peer, &c->ctx, reg || update ? COAP_POST : COAP_DELETE, &l, reg ? links : NULL,
                      reg ? sizeof links - 1 : 0, false, x->token, &x->bind))
        return false;
    x->busy = true;
    x->client = i;
    x->peer = peer;
    x->echoed = false;
    memcpy(x->plain, s->n.last, s->n.last_len);
    x->plain_len = s->n.last_len;
    c->state = reg ? REGISTERING : update ? UPDATING : DEREGISTERING;
    return true;
}

/* Fills free slots with the next clients whose step is `from`. */
static void fill(swarm_t *s, sw_state_t from)
{
    for (size_t k = 0; k < s->window; k++) {
        while (s->next < s->count && s->c[s->next].state != from)
            s->next++;
        if (s->ex[k].busy || s->next == s->count)
            continue;
        if (!start(s, &s->ex[k], s->next))
            return; /* the endpoint is full: next turn */
        s->next++;
    }
}

static void finished(swarm_t *s, sw_exchange_t *x, bool ok)
{
    sw_client_t *c = &s->c[x->client];
    x->busy = false;
    if (!ok) {
        c->state = FAILED;
        s->failed++;
    } else if (c->state == REGISTERING) {
        c->state = REGISTERED;
        s->registered++;
    } else if (c->state == UPDATING) {
        c->state = UPDATED;
        s->updated++;
    } else {
        c->state = DONE;
        s->deregistered++;
    }
}

static void on_response(swarm_t *s, const coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG], plain[LWM2M_CLI_MSG];
    for (size_t k = 0; k < s->window; k++) {
        sw_exchange_t *x = &s->ex[k];
        if (!x->busy || memcmp(x->token, ev->token, 8) != 0)
            continue;
        sw_client_t *c = &s->c[x->client];
        coap_msg_t resp;
        if (node_open_msg(&s->n, &c->ctx, ev, false, &x->bind, buf, &resp) != OSCORE_OK) {
            finished(s, x, false);
            return;
        }
        if (!x->echoed && resp.code == COAP_UNAUTHORIZED) { /* first use: the server asks for Echo */
            size_t n = x->plain_len;
            memcpy(plain, x->plain, n);
            if (node_repeat_with_echo(&s->n, x->peer, &c->ctx, plain, n, &resp, false, x->token, &x->bind)) {
                memcpy(x->plain, s->n.last, s->n.last_len);
                x->plain_len = s->n.last_len;
                x->echoed = true;
                s->echoes++;
                return;
            }
        }
        bool ok = resp.code == (c->state == REGISTERING ? COAP_CREATED
                                : c->state == UPDATING  ? COAP_CHANGED
                                                        : COAP_DELETED);
        if (!ok && s->n.verbose)
            fprintf(stderr, "swarm: %s: %s answered %u.%02u\n", c->ep,
                    c->state == REGISTERING ? "Register" : c->state == UPDATING ? "Update" : "De-register",
                    resp.code >> 5, resp.code & 31);
        if (ok && c->state == REGISTERING)
            ok = node_location_keep(&c->location, &resp);
        finished(s, x, ok);
        return;
    }
}

/* A Device Management request from the server, for the client whose
 * context its kid names. */
static void on_request(swarm_t *s, const lwm2m_store_t *st, const coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG], out[512], arena[16];
    oscore_option_t opt;
    oscore_binding_t bind;
    coap_msg_t req;
    lwm2m_dm_result_t r;
    if (oscore_msg_option(&ev->msg, &opt) != OSCORE_OK || !opt.has_kid || opt.kid_len != 4 || opt.kid[0] != 'S')
        return;
    if (s->record) { /* before any check: a (key, nonce) pair seen twice is a reuse, accepted or not */
        fprintf(s->record, "%02x%02x%02x ", opt.kid[1], opt.kid[2], opt.kid[3]);
        for (size_t k = 0; k < opt.piv_len; k++)
            fprintf(s->record, "%02x", opt.piv[k]);
        fputc('\n', s->record);
    }
    uint32_t i = (uint32_t)opt.kid[1] << 16 | (uint32_t)opt.kid[2] << 8 | opt.kid[3];
    if (i >= s->count || !node_verify_request(&s->n, &s->c[i].ctx, ev, &bind, buf, &req))
        return;
    s->serving = i;
    if (lwm2m_dm_handle(st, &req, out, sizeof out, &r) != LWM2M_OK)
        return;
    coap_opt_t list[2], o;
    coap_optlist_t l;
    coap_optlist_init(&l, list, 2, arena, sizeof arena);
    uint32_t obs;
    sw_client_t *c = &s->c[i];
    if (req.code == COAP_GET && COAP_CODE_CLASS(r.code) == 2 && coap_msg_find_option(&req, COAP_OPT_OBSERVE, &o) &&
        coap_opt_uint(&o, &obs) && obs == 0 && req.token_len <= 8) { /* Observe: its token and binding kept */
        c->observed = true;
        c->obs_peer = ev->peer;
        c->obs_tkl = (uint8_t)req.token_len;
        memcpy(c->obs_token, req.token, req.token_len);
        c->obs_bind = bind;
        coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 1);
    }
    if (r.has_payload)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, r.content_format);
    node_reply(&s->n, ev, &s->c[i].ctx, &bind, r.code, &l, out, r.has_payload ? r.payload_len : 0, false, 0,
               req.token, req.token_len);
    s->last_answer = cs_net_now();
    if (!s->answered++)
        s->first_answer = s->last_answer;
}

/* One notification of every observation (Observe 2, the endpoint name as
 * plain text: what /3/0/2 holds). */
static void notify_all(swarm_t *s)
{
    uint8_t arena[16];
    coap_opt_t list[2];
    coap_optlist_t l;
    for (uint32_t i = 0; i < s->count && !cli_stopping; i++) {
        sw_client_t *c = &s->c[i];
        if (!c->observed || c->state != REGISTERED)
            continue;
        coap_optlist_init(&l, list, 2, arena, sizeof arena);
        coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 2);
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_TEXT);
        node_notify(&s->n, &c->ctx, &c->obs_bind, &l, (const uint8_t *)c->ep, strlen(c->ep), false, c->obs_peer,
                    c->obs_token, c->obs_tkl);
        if (++s->notified % 8 == 0) { /* NON, paced at 1000/s: a burst would overflow the servers' sockets */
            node_flush(&s->n);
            nanosleep(&(struct timespec){0, 8000000}, NULL);
        }
    }
    node_flush(&s->n);
}

static bool idle(const swarm_t *s)
{
    for (size_t k = 0; k < s->window; k++)
        if (s->ex[k].busy)
            return false;
    return true;
}

/* Runs one phase: every client in state `from` takes its step (Register
 * or De-register); then serves the server's requests for linger_ms more.
 * Returns when the last step ended. */
static cs_time_ms_t run_phase(swarm_t *s, const lwm2m_store_t *st, sw_state_t from, cs_time_ms_t linger_ms)
{
    cs_time_ms_t done_at = 0;
    s->next = 0;
    while (!cli_stopping) {
        fill(s, from);
        node_flush(&s->n);
        cs_time_ms_t now = cs_net_now();
        if (!done_at && s->next == s->count && idle(s))
            done_at = now;
        if (done_at && now - done_at >= linger_ms)
            return done_at;
        if (cs_udp_receive(&s->n.udp, 20) != CS_NET_OK)
            return done_at;
        now = cs_net_now();
        for (size_t i = 0; i < s->n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&s->n.ep, s->n.udp.in_peer[i], s->n.udp.in[i], s->n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_RESPONSE)
                on_response(s, &ev);
            else if (ev.type == COAP_EV_REQUEST)
                on_request(s, st, &ev);
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&s->n.ep, now, &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            for (size_t k = 0; ev.type == COAP_EV_TIMEOUT && k < s->window; k++)
                if (s->ex[k].busy && !memcmp(s->ex[k].token, ev.token, 8))
                    finished(s, &s->ex[k], false);
    }
    return done_at ? done_at : cs_net_now();
}

static int usage(int c)
{
    fprintf(c == 'h' ? stdout : stderr,
            "usage: coreseal lwm2m swarm --count N [--seed S] --provision STORE\n"
            "       coreseal lwm2m swarm --count N [--seed S] --server coap://HOST:PORT...\n"
            "                            [--lifetime S] [--duration S] [--record FILE] [--window N]\n"
            "N simulated LwM2M clients, each with its own OSCORE context, on one\n"
            "socket. --provision writes the server's side of their contexts into a\n"
            "`coreseal lwm2m server --store STORE` (an SQLite file or redis://HOST:PORT);\n"
            "--server registers them all (each through its Echo round trip), answers\n"
            "the server's Device Management requests for --duration seconds (default\n"
            "2; an Observe gets one notification after that), updates and de-registers\n"
            "them and prints the counts and rates. With\n"
            "several --server (a cluster's nodes) client i registers at the i-th,\n"
            "updates through the next and de-registers through the one after.\n"
            "--record writes the kid and Partial IV of every request a server sent\n"
            "(a pair twice would be a nonce reused). Test keys from --seed: not for\n"
            "production.\n"
            "example: coreseal lwm2m swarm --count 1000 --provision lwm2m-server.db\n"
            "         coreseal lwm2m server --db lwm2m-server.db --read /3/0/0 &\n"
            "         coreseal lwm2m swarm --count 1000 --server coap://127.0.0.1:5683\n");
    return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int lwm2m_swarm_main(int argc, char **argv)
{
    static swarm_t s;
    memset(&s, 0, sizeof s);
    s.n.sub = "lwm2m swarm";
    s.lifetime = 300;
    s.window = 8;
    const char *server = NULL, *db_path = NULL, *servers[MAX_SERVERS];
    int n_servers = 0;
    long count = 0;
    double duration = 2;
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},     {"seed", required_argument, NULL, 's'},
        {"server", required_argument, NULL, 'S'},    {"provision", required_argument, NULL, 'p'},
        {"lifetime", required_argument, NULL, 'l'},  {"duration", required_argument, NULL, 'd'},
        {"record", required_argument, NULL, 'r'},      {"window", required_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (o) {
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 's': s.seed = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S':
            if (n_servers == MAX_SERVERS)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "at most %d --server", MAX_SERVERS);
            servers[n_servers++] = server = optarg;
            break;
        case 'p': db_path = optarg; break;
        case 'l': s.lifetime = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'd': duration = strtod(optarg, NULL); break;
        case 'w':
            s.window = (size_t)strtoul(optarg, NULL, 10);
            if (s.window < 1 || s.window > MAX_WINDOW)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--window expects 1..%d exchanges in flight", MAX_WINDOW);
            break;
        case 'r':
            if (!(s.record = fopen(optarg, "w")))
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--record %s: cannot write it", optarg);
            setvbuf(s.record, NULL, _IOLBF, 0);
            break;
        case 'v': s.n.verbose++; break;
        default: return usage(o);
        }
    }
    char host[MAX_SERVERS][128], port[MAX_SERVERS][8];
    bool uris_ok = true;
    for (int k = 0; k < n_servers; k++)
        uris_ok = uris_ok && node_uri_host_port(servers[k], strlen(servers[k]), host[k], sizeof host[k], port[k],
                                                sizeof port[k]);
    if (count < 1 || count > 1000000 || (!server == !db_path) || s.lifetime < 10 || duration < 0 || !uris_ok)
        return cli_fail(s.n.sub, CLI_EXIT_USAGE,
                        "--count 1..1000000 and one of --provision STORE or --server coap://HOST:PORT... are required");
    s.count = (uint32_t)count;
    int rc = cli_security_init(&s.n.sec, s.n.sub);
    if (rc == CLI_EXIT_OK && db_path) {
        rc = provision(&s, db_path);
        cli_security_close(&s.n.sec);
        return rc;
    }
    s.c = calloc(s.count, sizeof *s.c);
    if (rc == CLI_EXIT_OK && !s.c)
        rc = cli_fail(s.n.sub, CLI_EXIT_CONFIG, "no memory for %u clients", s.count);
    for (uint32_t i = 0; rc == CLI_EXIT_OK && i < s.count; i++) {
        uint8_t ms[32], sid[4];
        oscore_params_t p;
        if (!swarm_params(&s.n.sec.crypto, s.seed, i, false, ms, (uint8_t *)s.c[i].ep, sid, &p) ||
            oscore_ctx_derive(&s.c[i].ctx, &s.n.sec.crypto, &p) != OSCORE_OK)
            rc = cli_fail(s.n.sub, CLI_EXIT_SECURITY, "cannot derive the contexts");
    }
    if (rc == CLI_EXIT_OK && (rc = node_open(&s.n, host[0], port[0], false)) == CLI_EXIT_OK) {
        s.n_servers = (uint32_t)n_servers; /* the first is peer 0; the other nodes: */
        char err[256];
        for (int k = 1; rc == CLI_EXIT_OK && k < n_servers; k++)
            if (cs_udp_resolve_peer(&s.n.udp, host[k], port[k], &s.servers[k], err, sizeof err) != CS_NET_OK)
                rc = cli_fail(s.n.sub, CLI_EXIT_NETWORK, "%s: %s", servers[k], err);
    }
    if (rc == CLI_EXIT_OK) {
        s.n.ep.cfg.nstart = (unsigned)s.window; /* one peer, many clients: NSTART per client, not per socket */
        lwm2m_store_t st = {&s, dev_list, dev_read, dev_write, dev_execute, NULL, NULL, NULL};
        cli_catch_signals();
        cs_time_ms_t t0 = cs_net_now();
        cs_time_ms_t t1 = run_phase(&s, &st, IDLE, (cs_time_ms_t)(duration * 1000)); /* then serve */
        notify_all(&s);
        run_phase(&s, &st, REGISTERED, 0);
        run_phase(&s, &st, UPDATED, 200);
        double secs = (double)(t1 - t0) / 1000.0, asecs = (double)(s.last_answer - s.first_answer) / 1000.0;
        printf("swarm: %u/%u registered in %.2f s (%.0f registrations/s, %u Echo round trips), "
               "%u requests answered (%.0f/s), %u observed and notified, %u updated, %u de-registered, %u failed\n",
               s.registered, s.count, secs, secs > 0 ? s.registered / secs : 0.0, s.echoes, s.answered,
               asecs > 0 ? (s.answered - 1) / asecs : 0.0, s.notified, s.updated, s.deregistered, s.failed);
        rc = s.registered == s.count && s.updated == s.count && s.failed == 0 ? CLI_EXIT_OK : CLI_EXIT_PEER_REJECTED;
    }
    node_flush(&s.n);
    node_close(&s.n);
    for (uint32_t i = 0; s.c && i < s.count; i++)
        oscore_ctx_wipe(&s.c[i].ctx);
    free(s.c);
    if (s.record)
        fclose(s.record);
    return rc;
}
