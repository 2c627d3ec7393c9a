/* coreseal lwm2m server: keeps registrations in the library's registry,
 * writes attributes, reads and observes the paths it is told to after each
 * Register, and prints what it gets, Sends included. A client registering
 * over OSCORE must use its Sender ID as endpoint name (4.00 otherwise) and
 * proves freshness with Echo on the first use of its context (Transport
 * TS); the registry holds its context next to its registration.
 *
 * Everything that must survive a restart lives in the store
 * (lwm2m_store.h): an SQLite file by default (the clients' OSCORE contexts
 * with their SSN bounds written ahead of use, windows of a clean shutdown,
 * registrations with their addresses, so clients need not register again),
 * or Redis shared by several server processes (docs/cluster.md): then
 * every node holds every client, learns what other nodes changed from the
 * store's events (and from the store itself when a client it has not heard
 * of yet speaks), and expiry is decided by the store, once. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "coreseal/lwm2m_model.h"
#include "coreseal/lwm2m_store.h"
#include "coreseal/lwm2m_registry.h"
#include "lwm2m.h"
#include "lwm2m_rest.h"

#include <jansson.h>

/* A query (Write-Attributes, Read or Observe) for a registered client:
 * waiting until the endpoint has room, then outstanding. */
typedef struct {
    uint8_t token[8];
    const char *spec;  /* PATH[?QUERY] as configured (or in target) */
    bool told_asleep;  /* "waits for the client" printed */
    rest_cmd_t *rest;  /* asked through the REST API: answered there */
    bool released;     /* an observation past its first response: no endpoint slot */
    uint8_t method;    /* 0: GET, or PUT for Write-Attributes */
    long accept;       /* -1: none */
    char target[208];  /* a REST request's PATH?QUERY */
    uint8_t body[160]; /* Observe-Composite's paths (SenML CBOR) */
    size_t body_len;
    char path[32];
    oscore_binding_t bind;
    bool observe;
    bool attributes; /* a Write-Attributes */
    uint8_t plain[256]; /* the request, to repeat with Echo when asked */
    size_t plain_len;
    bool echoed;
    /* a body over QUERY_BLOCK bytes (a firmware package) goes in Block1
     * blocks, each its own OSCORE request (inner block-wise) */
    uint32_t b1_num;
    uint8_t b1_szx;
    uint8_t request_tag[4];
} query_t;

#define QUERY_BLOCK 1024

#define MAX_QUERIES 4096 /* e.g. a read for each of 4096 clients registering at once */

/* The queries, with what every lookup scans kept apart in small arrays:
 * a response is matched by token and a departing client's queries by
 * client without touching the 4096 records. */
typedef struct {
    query_t q[MAX_QUERIES];
    lwm2m_client_t *client[MAX_QUERIES]; /* NULL: a free record */
    uint64_t token[MAX_QUERIES];         /* of a sent query; 0 before */
    uint16_t wait[MAX_QUERIES];          /* FIFO of queries not sent yet */
    size_t wait_head, wait_len;
    size_t in_flight;                    /* sent and not finished */
    rest_t *rest;                        /* --http: where REST queries are answered */
} queries_t;

typedef struct server server_t;
static query_t *query_new(server_t *s, lwm2m_client_t *r);

static uint64_t token64(const uint8_t t[8])
{
    uint64_t v;
    memcpy(&v, t, 8);
    return v ? v : 1; /* 0 marks "not sent" */
}

/* The sent query with this token, or MAX_QUERIES. */
static size_t query_by_token(const queries_t *qs, const uint8_t token[8])
{
    uint64_t t = token64(token);
    for (size_t i = 0; i < MAX_QUERIES; i++)
        if (qs->token[i] == t)
            return i;
    return MAX_QUERIES;
}

/* Ends query i; a REST request still waiting for it gets status/json. */
static void query_end(queries_t *qs, size_t i, int status, const char *json)
{
    if (qs->token[i] && !qs->q[i].released)
        qs->in_flight--;
    if (qs->q[i].rest)
        rest_done(qs->rest, qs->q[i].rest, status, json);
    qs->q[i].rest = NULL;
    qs->client[i] = NULL;
    qs->token[i] = 0;
}

/* Forgets every query of c (a departing or re-registering client). */
static void cancel_queries(node_t *n, queries_t *qs, const lwm2m_client_t *c)
{
    for (size_t i = 0; i < MAX_QUERIES; i++)
        if (qs->client[i] == c) {
            if (qs->token[i])
                coap_ep_cancel(&n->ep, c->peer, qs->q[i].token, 8);
            query_end(qs, i, 410, "{\"error\":\"the client is gone\"}");
        }
}

static oscore_ctx_t *client_oscore(lwm2m_client_t *c)
{
    return c && c->has_oscore ? &c->oscore : NULL;
}

/* Calls fn for every value a response (or Send) carries: the path and
 * the value as text (TLV typed by the object model, or its printable
 * bytes). */
static void each_value(const coap_msg_t *m, const char *path, void (*fn)(void *arg, const char *path, const char *text, size_t n),
                       void *arg)
{
    coap_opt_t o;
    uint32_t cf = 0;
    if (coap_msg_find_option(m, COAP_OPT_CONTENT_FORMAT, &o))
        (void)coap_opt_uint(&o, &cf);
    if (cf == LWM2M_CF_TEXT || cf == LWM2M_CF_LINK) {
        fn(arg, path, (const char *)m->payload, m->payload_len);
        return;
    }
    if (cf == LWM2M_CF_OPAQUE) /* bytes, not shown */
        return;
    lwm2m_payload_iter_t it;
    lwm2m_entry_t e;
    lwm2m_path_t base;
    if (lwm2m_path_parse(&base, path, strlen(path)) != LWM2M_OK || lwm2m_payload_iter_init(&it, m, &base) != 0)
        return;
    for (;;) {
        lwm2m_err_t err = lwm2m_payload_iter_next(&it, &e);
        if (err != LWM2M_OK)
            return;
        char ps[32];
        char text[64];
        size_t tn = 0;
        lwm2m_path_format(&e.path, ps, sizeof ps);
        if (cf != LWM2M_CF_TLV && lwm2m_text_encode(&e.value, (uint8_t *)text, sizeof text, &tn) != LWM2M_OK)
            tn = 0;
        if (cf == LWM2M_CF_TLV) { /* typed by the object model when it knows the resource */
            const lwm2m_res_def_t *rd = lwm2m_res_def(lwm2m_obj_def(e.path.ids[0]), e.path.ids[2]);
            lwm2m_value_t v;
            if (!rd || rd->type == LWM2M_TYPE_OPAQUE || lwm2m_value_from_raw(e.raw, e.raw_len, rd->type, &v) != LWM2M_OK ||
                lwm2m_text_encode(&v, (uint8_t *)text, sizeof text, &tn) != LWM2M_OK) {
                tn = e.raw_len < sizeof text ? e.raw_len : sizeof text;
                memcpy(text, e.raw, tn);
                for (size_t i = 0; i < tn; i++)
                    if (text[i] < 0x20 || text[i] > 0x7e)
                        text[i] = '.';
            }
        }
        fn(arg, ps, text, tn);
    }
}

typedef struct {
    const char *what, *ep;
} print_ctx_t;

static void print_one(void *arg, const char *path, const char *text, size_t n)
{
    const print_ctx_t *p = arg;
    printf("server: %s %s %s = %.*s\n", p->what, p->ep, path, (int)n, text);
}

static void print_value_payload(const char *what, const char *ep, const char *path, const coap_msg_t *m)
{
    char code[32];
    print_ctx_t p = {what, ep};
    if (COAP_CODE_CLASS(m->code) > 2) /* an error response; requests (Send) and 2.xx carry values */
        printf("server: %s %s %s -> %s\n", what, ep, path, cli_code_str(m->code, code));
    else if (m->payload_len)
        each_value(m, path, print_one, &p);
    fflush(stdout);
}

static void json_one(void *arg, const char *path, const char *text, size_t n)
{
    json_array_append_new(arg, json_pack("{s:s, s:s%}", "n", path, "v", text, n));
}

/* {"code":"2.05","format":0,"values":[{"n":"/3/0/0","v":"coreseal"}]} */
static char *result_json(const char *ep, const char *path, const coap_msg_t *m)
{
    char code[32];
    coap_opt_t o;
    uint32_t cf = 0;
    json_t *values = json_array();
    if (COAP_CODE_CLASS(m->code) == 2 && m->payload_len)
        each_value(m, path, json_one, values);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "endpoint", ep, "path", path, "code",
                          cli_code_str(m->code, code), "values", values);
    if (m->payload_len && coap_msg_find_option(m, COAP_OPT_CONTENT_FORMAT, &o) && coap_opt_uint(&o, &cf))
        json_object_set_new(j, "format", json_integer(cf));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* HTTP status for a CoAP answer: 2.xx as 200, 4.xx as themselves, 5.xx 502. */
static int http_status(uint8_t code)
{
    int cls = COAP_CODE_CLASS(code), detail = code & 0x1f;
    return cls == 2 ? 200 : cls == 4 ? 400 + detail : 502;
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

struct server {
    node_t n;
    lwm2m_registry_t reg;
    lwm2m_client_t *clients;
    uint64_t *index;
    cs_lwm2m_store_t *store;
    bool shared;                   /* a Redis store: other nodes serve these clients too */
    uint32_t *location;            /* shared: per record, the cluster's rd/N */
    char node_id[20];              /* shared: names this process in events */
    cs_time_ms_t next_expiry;      /* shared: when to ask the store for expired registrations */
    lwm2m_client_t *learned;       /* shared: the registration learn() took in last */
    rest_t *rest;                  /* --http: the REST API */
    cs_time_ms_t *awake_until;     /* per record: a queue-mode client listens until then */
    cs_time_ms_t awake_ms;         /* how long it listens after it last spoke (--queue-awake) */
    cli_edhoc_t edhoc;             /* --edhoc: clients may key themselves */
    cli_edhoc_responder_t edhoc_resp;
    queries_t queries;
    const char *attributes[8], *reads[8], *observes[8], *composites[4];
    int n_attributes, n_reads, n_observes, n_composites;
    uint32_t peak_registered;      /* the most clients registered at once, for the memory line */
};

/* Resident memory now (KiB), from the kernel's accounting of this process. */
static long resident_kib(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    long size;
    if (f && fscanf(f, "%ld %ld", &size, &pages) != 2)
        pages = 0;
    if (f)
        fclose(f);
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Registrations are kept in wall-clock time, which survives a restart. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- the database */

/* --oscore files provision the database; their state_file is not used:
 * the database keeps each context's state. */
static int provision(server_t *s, const char *const *files, int n)
{
    for (int i = 0; i < n; i++) {
        static cs_context_file_t f;
        char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
        oscore_params_t p;
        if (cs_context_file_load(files[i], &f, err, sizeof err) != CS_STORE_OK)
            return cli_fail(s->n.sub, CLI_EXIT_CONFIG, "%s; see docs/context-files.md", err);
        cs_context_file_params(&f, &p);
        cs_store_err_t e = cs_lwm2m_store_put_security(s->store, &p, NULL);
        cs_wipe(&f, sizeof f);
        if (e != CS_STORE_OK)
            return cli_fail(s->n.sub, CLI_EXIT_STORAGE, "%s: cannot store it: %s", files[i],
                            cs_lwm2m_store_error(s->store));
    }
    return CLI_EXIT_OK;
}

/* The location of c's registration: the cluster's on a shared store, else
 * its record's. */
static uint32_t client_location(const server_t *s, const lwm2m_client_t *c)
{
    return s->shared ? s->location[c - s->clients] : lwm2m_registry_location(&s->reg, c);
}

static void cancel_and_forget(server_t *s, lwm2m_client_t *r);

/* One client from the store into the registry: every client at start, and
 * on a shared store one that another node provisioned, registered, updated
 * or de-registered since. Its context is derived once (window restored
 * after a clean shutdown; Echo on first use or after a crash) and kept
 * after that: its SSNs and window live in the store. Its registration is
 * the store's while its lifetime lasts. */
static int learn(void *arg, const cs_lwm2m_db_row_t *row)
{
    server_t *s = arg;
    lwm2m_client_t *c = NULL, *r = NULL;
    const oscore_params_t *p = &row->params;
    if (row->has_oscore) {
        oscore_option_t o = {.kid = p->recipient_id, .kid_len = p->recipient_id_len, .has_kid = true,
                             .kid_context = p->id_context, .kid_context_len = p->id_context_len,
                             .has_kid_context = p->id_context != NULL};
        c = lwm2m_registry_find_oscore(&s->reg, &o);
        oscore_ctx_t ctx;
        if (!c && oscore_ctx_derive(&ctx, &s->n.sec.crypto, p) != OSCORE_OK)
            return cli_fail(s->n.sub, CLI_EXIT_STORAGE, "a stored OSCORE context no longer derives");
        if (!c) {
            if (row->window_valid)
                oscore_ctx_restore_window(&ctx, &row->window);
            if (!row->used)
                oscore_ctx_require_echo(&ctx);
            lwm2m_err_t e = lwm2m_registry_add_oscore(&s->reg, &ctx, row->endpoint, row->endpoint_len, &c);
            oscore_ctx_wipe(&ctx);
            if (e != LWM2M_OK)
                return cli_fail(s->n.sub, CLI_EXIT_CONFIG, "cannot hold a stored client: %s", coreseal_strerror(e));
        } else if (row->used && c->oscore.persist.accept_piv && c->oscore.replay.lost && !c->oscore.echo_pending) {
            /* another node had its Echo: the shared window is current */
            oscore_replay_t fresh = {.empty = true};
            oscore_ctx_restore_window(&c->oscore, &fresh);
        }
        r = c->state == LWM2M_CLIENT_REGISTERED ? c : NULL;
    } else if (row->endpoint) {
        r = lwm2m_registry_find_endpoint(&s->reg, row->endpoint, row->endpoint_len);
        r = r && !r->has_oscore && r->state == LWM2M_CLIENT_REGISTERED ? r : NULL;
    }
    int64_t left = row->expires_ms - wall_ms();
    coap_peer_t peer;
    struct sockaddr_storage ss;
    if (!row->registered || !row->endpoint || left <= 0) {
        if (r) { /* ended on another node */
            cancel_and_forget(s, r);
            lwm2m_registry_deregister(&s->reg, r);
        }
        return 0;
    }
    if (row->addr_len == 0) { /* over DTLS: only the node holding the session reaches it */
        s->learned = r;
        return 0;
    }
    if (row->addr_len > sizeof(struct sockaddr_storage))
        return 0;
    memcpy(&ss, row->addr, row->addr_len);
    cs_time_ms_t now = cs_net_now(), since = (cs_time_ms_t)row->info.lifetime * 1000 - (cs_time_ms_t)left;
    if (cs_udp_peer(&s->n.udp, (const struct sockaddr *)&ss, (socklen_t)row->addr_len, &peer) != CS_NET_OK)
        return 0; /* the client registers again */
    if (r && row->endpoint_len == r->endpoint_len && !memcmp(row->endpoint, r->endpoint, r->endpoint_len)) {
        if (lwm2m_registry_update(&s->reg, r, row->info.lifetime, row->links, row->links_len, peer, now) != LWM2M_OK)
            return 0;
    } else if (lwm2m_registry_register(&s->reg, c, &row->info, row->links, row->links_len, peer,
                                       now > since ? now - since : 0, &r) != LWM2M_OK) {
        return 0;
    }
    if (s->shared)
        s->location[r - s->clients] = row->location;
    s->learned = r;
    if (s->reg.n_registered > s->peak_registered)
        s->peak_registered = s->reg.n_registered;
    if (s->n.verbose || !s->shared)
        printf("server: restored %s (rd/%u, %lld s left)\n", r->endpoint, client_location(s, r),
               (long long)(left / 1000));
    fflush(stdout);
    return 0;
}

/* Shared store: fetches what `what` names, which another node may have
 * provisioned or registered, into the registry. */
static void learn_from_store(server_t *s, const cs_lwm2m_find_t *what)
{
    if (!s->shared)
        return;
    cs_store_err_t e = cs_lwm2m_store_find(s->store, what, learn, s);
    if (e != CS_STORE_OK && e != CS_STORE_ERR_MISSING)
        fprintf(stderr, "coreseal %s: cannot ask the store: %s\n", s->n.sub, cs_lwm2m_store_error(s->store));
}

/* An observation (qr; NULL: every one of c's) that ended is not observed
 * again after a restart. */
static void forget_observation(server_t *s, const lwm2m_client_t *c, const query_t *qr)
{
    for (size_t i = 0; s->shared && i < MAX_QUERIES; i++) { /* its token too: no node takes it any more */
        const query_t *q = &s->queries.q[i];
        if (s->queries.client[i] == c && q->observe && q->released && (!qr || q == qr) &&
            cs_lwm2m_store_end_token(s->store, q->token) != CS_STORE_OK)
            fprintf(stderr, "coreseal %s: warning: the token of an observation of %s not removed: %s\n", s->n.sub,
                    c->endpoint, cs_lwm2m_store_error(s->store));
    }
    if (cs_lwm2m_store_end_observation(s->store, c->endpoint, qr ? qr->spec : NULL) != CS_STORE_OK)
        fprintf(stderr, "coreseal %s: warning: the end of an observation of %s not saved: %s\n", s->n.sub,
                c->endpoint, cs_lwm2m_store_error(s->store));
}

/* An observation kept from before a restart: observed again (a new token,
 * a new OSCORE request) if its client is still registered; the client drops
 * the old one at the first notification the server answers with RST. */
static int restore_observation(void *arg, const char *endpoint, const char *target, long accept)
{
    server_t *s = arg;
    lwm2m_client_t *c = lwm2m_registry_find_endpoint(&s->reg, endpoint, strlen(endpoint));
    query_t *qr = c && c->state == LWM2M_CLIENT_REGISTERED ? query_new(s, c) : NULL;
    if (!qr) /* gone: its row goes when it registers again */
        return 0;
    qr->observe = true;
    qr->method = COAP_GET;
    qr->accept = accept;
    snprintf(qr->target, sizeof qr->target, "%s", target);
    snprintf(qr->path, sizeof qr->path, "%.*s", (int)strcspn(target, "?"), target);
    qr->spec = qr->target;
    printf("server: observing %s %s again (kept across the restart)\n", endpoint, qr->path);
    fflush(stdout);
    return 0;
}

static void save_registration(server_t *s, const lwm2m_client_t *r)
{
    if (cs_net_peer_is_dtls(r->peer) && !s->shared) { /* no DTLS session survives a restart: */
        if (cs_lwm2m_store_end_registration(s->store, r) != CS_STORE_OK) /* the next Update gets 4.04 */
            fprintf(stderr, "coreseal %s: warning: %s not saved: %s\n", s->n.sub, r->endpoint,
                    cs_lwm2m_store_error(s->store));
        return;
    }
    /* a cluster numbers DTLS registrations too, without an address: the
     * session is this node's, no other node may reach the client in clear */
    const cs_net_addr_t *a = cs_net_peer_is_dtls(r->peer) ? NULL : cs_udp_peer_addr(&s->n.udp, r->peer);
    uint32_t location;
    if ((!a && !cs_net_peer_is_dtls(r->peer)) ||
        cs_lwm2m_store_save_registration(s->store, r, a ? (const void *)&a->ss : "", a ? a->len : 0,
                                         wall_ms() + (int64_t)r->lifetime * 1000, &location) != CS_STORE_OK)
        fprintf(stderr, "coreseal %s: warning: registration of %s not saved: %s\n", s->n.sub, r->endpoint,
                cs_lwm2m_store_error(s->store));
    else if (s->shared)
        s->location[r - s->clients] = location;
}

/* What this node held for r's registration: queries, observations. */
static void cancel_and_forget(server_t *s, lwm2m_client_t *r)
{
    forget_observation(s, r, NULL); /* first: it looks for the observations' tokens among the queries */
    cancel_queries(&s->n, &s->queries, r);
}

static void end_registration(server_t *s, lwm2m_client_t *r)
{
    cancel_and_forget(s, r);
    if (cs_lwm2m_store_end_registration(s->store, r) != CS_STORE_OK)
        fprintf(stderr, "coreseal %s: warning: end of %s not saved: %s\n", s->n.sub, r->endpoint,
                cs_lwm2m_store_error(s->store));
}

/* ---------------------------------------------------------------- REST API */

static json_t *client_json(const server_t *s, const lwm2m_client_t *c)
{
    char addr[64] = "", loc[24];
    const cs_net_addr_t *a = cs_udp_peer_addr(&s->n.udp, c->peer);
    if (a)
        cs_net_addr_str(a, addr, sizeof addr);
    snprintf(loc, sizeof loc, "rd/%u", client_location(s, c));
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:b, s:s, s:s%}", "endpoint", c->endpoint, "location", loc,
                     "lifetime", (json_int_t)c->lifetime, "binding", c->binding, "version", c->version, "oscore",
                     c->has_oscore, "queue", c->queue_mode, "address", addr, "objects", c->links,
                     (size_t)c->links_len);
}

/* An event (data: JSON text) to this node's event stream and, on a shared
 * store, to every other node's. */
static void tell(server_t *s, const char *type, const char *endpoint, const char *data)
{
    if (s->rest)
        rest_event(s->rest, type, data);
    if (!s->shared)
        return;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "node", s->node_id, "type", type, "endpoint", endpoint, "data",
                          data);
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text || cs_lwm2m_store_publish(s->store, text) != CS_STORE_OK)
        fprintf(stderr, "coreseal %s: warning: %s event of %s not passed to the other nodes: %s\n", s->n.sub, type,
                endpoint, cs_lwm2m_store_error(s->store));
    free(text);
    json_decref(j);
}

/* A registration event. */
static void publish(server_t *s, const char *type, const lwm2m_client_t *c)
{
    if (!s->rest && !s->shared)
        return;
    json_t *j = client_json(s, c);
    char *text = json_dumps(j, JSON_COMPACT);
    tell(s, type, c->endpoint, text ? text : "{}");
    free(text);
    json_decref(j);
}

/* An event from the store (any node's, this one's too): other nodes'
 * events go to this node's event stream, and what they did to a
 * registration is fetched. */
static void on_store_event(void *arg, const char *text, size_t len)
{
    server_t *s = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *node = json_string_value(json_object_get(j, "node"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *ep = json_string_value(json_object_get(j, "endpoint"));
    const char *data = json_string_value(json_object_get(j, "data"));
    if (node && type && ep && data && strcmp(node, s->node_id) != 0) {
        if (s->rest)
            rest_event(s->rest, type, data);
        if (!strcmp(type, "registered") || !strcmp(type, "updated") || !strcmp(type, "deregistered") ||
            !strcmp(type, "expired"))
            learn_from_store(s, &(cs_lwm2m_find_t){.endpoint = ep});
        lwm2m_client_t *c = lwm2m_registry_find_endpoint(&s->reg, ep, strlen(ep));
        if (c && c->state == LWM2M_CLIENT_REGISTERED && (!strcmp(type, "deregistered") || !strcmp(type, "expired"))) {
            cancel_and_forget(s, c); /* the store no longer names it */
            lwm2m_registry_deregister(&s->reg, c);
        }
    }
    json_decref(j);
}

/* Shared store: registrations whose lifetime ran out, each ended by
 * exactly one node. */
static void on_store_expired(void *arg, const char *endpoint)
{
    server_t *s = arg;
    lwm2m_client_t *c = lwm2m_registry_find_endpoint(&s->reg, endpoint, strlen(endpoint));
    printf("server: registration of %s expired\n", endpoint);
    fflush(stdout);
    if (c && c->state == LWM2M_CLIENT_REGISTERED) {
        publish(s, "expired", c);
        end_registration(s, c);
        lwm2m_registry_deregister(&s->reg, c);
    } else {
        tell(s, "expired", endpoint, "{}");
    }
}

static void rest_answer(server_t *s, rest_cmd_t *cmd, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    rest_done(s->rest, cmd, status, text);
    free(text);
    json_decref(j);
}

static lwm2m_client_t *registered(server_t *s, const char *ep)
{
    lwm2m_client_t *c = lwm2m_registry_find_endpoint(&s->reg, ep, strlen(ep));
    if (!c || c->state != LWM2M_CLIENT_REGISTERED) { /* perhaps registered at another node a moment ago */
        learn_from_store(s, &(cs_lwm2m_find_t){.endpoint = ep});
        c = lwm2m_registry_find_endpoint(&s->reg, ep, strlen(ep));
    }
    return c && c->state == LWM2M_CLIENT_REGISTERED ? c : NULL;
}

static query_t *query_new(server_t *s, lwm2m_client_t *r);

/* One command of the REST API, in the server's loop. */
static void rest_command(server_t *s, rest_cmd_t *cmd)
{
    lwm2m_client_t *c = cmd->kind == REST_LIST ? NULL : registered(s, cmd->ep);
    if (cmd->kind == REST_LIST) {
        json_t *list = json_array();
        for (uint32_t i = 0; i < s->reg.n_clients; i++)
            if (s->clients[i].state == LWM2M_CLIENT_REGISTERED)
                json_array_append_new(list, client_json(s, &s->clients[i]));
        rest_answer(s, cmd, 200, list);
        return;
    }
    if (!c) {
        rest_answer(s, cmd, 404, json_pack("{s:s, s:s}", "error", "no such registered client", "endpoint", cmd->ep));
        return;
    }
    if (cmd->kind == REST_CLIENT) {
        rest_answer(s, cmd, 200, client_json(s, c));
        return;
    }
    if (cmd->kind == REST_CANCEL) { /* forget it: the next notification gets RST */
        bool found = false;
        for (size_t i = 0; i < MAX_QUERIES; i++) {
            query_t *qr = &s->queries.q[i];
            if (s->queries.client[i] == c && qr->observe && !strcmp(qr->path, cmd->path)) {
                if (s->queries.token[i])
                    coap_ep_cancel(&s->n.ep, c->peer, qr->token, 8);
                forget_observation(s, c, qr);
                query_end(&s->queries, i, 200, NULL);
                found = true;
            }
        }
        rest_answer(s, cmd, found ? 200 : 404, json_pack("{s:s, s:s, s:b}", "endpoint", cmd->ep, "path", cmd->path,
                                                        "cancelled", found));
        return;
    }
    query_t *qr = query_new(s, c);
    if (!qr) {
        rest_answer(s, cmd, 503, json_pack("{s:s}", "error", "too many requests in flight"));
        return;
    }
    qr->rest = cmd;
    qr->observe = cmd->kind == REST_OBSERVE;
    qr->method = qr->observe ? COAP_GET : cmd->method;
    qr->accept = cmd->accept;
    snprintf(qr->path, sizeof qr->path, "%s", cmd->path);
    snprintf(qr->target, sizeof qr->target, "%s%s%s", cmd->path, cmd->query[0] ? "?" : "", cmd->query);
    qr->spec = qr->target;
}

/* ---------------------------------------------------------------- queries to clients */

/* A new query for r, queued; NULL when the table is full. */
static query_t *query_new(server_t *s, lwm2m_client_t *r)
{
    queries_t *qs = &s->queries;
    size_t i = 0;
    while (i < MAX_QUERIES && qs->client[i])
        i++;
    if (i == MAX_QUERIES || qs->wait_len == MAX_QUERIES) {
        fprintf(stderr, "coreseal %s: query table full: %s not queried\n", s->n.sub, r->endpoint);
        return NULL;
    }
    query_t *qr = &qs->q[i];
    memset(qr, 0, sizeof *qr);
    qr->accept = -1;
    qr->b1_szx = coap_block_szx(QUERY_BLOCK);
    if (s->n.sec.crypto.random(s->n.sec.crypto.state, qr->request_tag, sizeof qr->request_tag) != CS_CRYPTO_OK)
        return NULL;
    qs->client[i] = r;
    qs->wait[(qs->wait_head + qs->wait_len++) % MAX_QUERIES] = (uint16_t)i;
    return qr;
}

/* Observe-Composite of "PATH,PATH,...": FETCH / with the paths in SenML
 * CBOR, Observe 0, answers in SenML CBOR. false if a path is not one. */
static bool composite_query(query_t *qr, const char *paths)
{
    lwm2m_senml_enc_t e;
    lwm2m_senml_enc_init(&e, qr->body, sizeof qr->body);
    for (const char *p = paths; *p;) {
        size_t n = strcspn(p, ",");
        lwm2m_path_t path;
        lwm2m_value_t none = {.type = LWM2M_TYPE_NONE};
        if (lwm2m_path_parse(&path, p, n) != LWM2M_OK)
            return false;
        lwm2m_senml_put(&e, &path, &none);
        p += n + (p[n] == ',');
    }
    qr->method = COAP_FETCH;
    qr->observe = true;
    qr->accept = LWM2M_CF_SENML_CBOR;
    qr->spec = "/";
    snprintf(qr->path, sizeof qr->path, "/");
    return lwm2m_senml_enc_finish(&e, &qr->body_len) == LWM2M_OK;
}

/* The configured attributes, reads, observations and composite
 * observations, queued for a new registration (sent by send_queries as the
 * endpoint has room). */
static void start_queries(server_t *s, lwm2m_client_t *r)
{
    int simple = s->n_attributes + s->n_reads + s->n_observes;
    for (int k = 0; k < simple + s->n_composites; k++) {
        query_t *qr = query_new(s, r);
        if (!qr)
            return;
        if (k >= simple) {
            if (!composite_query(qr, s->composites[k - simple]))
                query_end(&s->queries, (size_t)(qr - s->queries.q), 0, NULL);
            continue;
        }
        bool attr = k < s->n_attributes, obs = k >= s->n_attributes + s->n_reads;
        qr->observe = obs;
        qr->attributes = attr;
        qr->method = attr ? COAP_PUT : COAP_GET;
        qr->spec = attr ? s->attributes[k] : obs ? s->observes[k - s->n_attributes - s->n_reads]
                                                 : s->reads[k - s->n_attributes];
        snprintf(qr->path, sizeof qr->path, "%.*s", (int)strcspn(qr->spec, "?"), qr->spec);
    }
}

/* Queue mode (Core TS §6.5): the client listens only for awake_ms after
 * each message it sends. */
static bool asleep(const server_t *s, const lwm2m_client_t *c, cs_time_ms_t now)
{
    return c->queue_mode && now >= s->awake_until[c - s->clients];
}

static void heard_from(server_t *s, const lwm2m_client_t *c)
{
    s->awake_until[c - s->clients] = cs_net_now() + s->awake_ms;
}

/* Exchanges the endpoint may hold for queries: the rest of its slots stay
 * free for answering requests (a reply needs one too). */
#define QUERY_SLOTS (COAP_EP_SLOTS / 2)

/* Sends waiting queries, oldest first, while there is room. */
static void send_queries(server_t *s)
{
    queries_t *qs = &s->queries;
    uint8_t arena[256];
    coap_opt_t list[16];
    coap_optlist_t l;
    cs_time_ms_t now = cs_net_now();
    for (size_t turn = qs->wait_len; turn && qs->wait_len && qs->in_flight < QUERY_SLOTS; turn--) {
        size_t i = qs->wait[qs->wait_head];
        query_t *qr = &qs->q[i];
        lwm2m_client_t *r = qs->client[i];
        if (r && !qs->token[i] && asleep(s, r, now)) { /* queue mode: to the back, until it speaks */
            if (!qr->told_asleep)
                printf("server: %s is asleep (queue mode): %s waits until it wakes\n", r->endpoint, qr->path);
            qr->told_asleep = true;
            qs->wait_head = (qs->wait_head + 1) % MAX_QUERIES;
            qs->wait[(qs->wait_head + qs->wait_len - 1) % MAX_QUERIES] = (uint16_t)i;
            continue;
        }
        /* skipped: cancelled while it waited (the record may even be sent
         * under a new query already, through a later entry) */
        if (r && !qs->token[i]) {
            /* PATH[?QUERY], sent to the client's address: no Uri-Host */
            size_t path_len = strlen(qr->path);
            coap_uri_t target = {.path = qr->spec, .path_len = path_len, .host_is_literal = true};
            if (qr->spec[path_len] == '?') {
                target.query = qr->spec + path_len + 1;
                target.query_len = strlen(target.query);
            }
            coap_optlist_init(&l, list, 16, arena, sizeof arena);
            if (qr->observe)
                coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 0);
            coap_optlist_add_uri(&l, &target, false);
            const rest_cmd_t *rc = qr->rest;
            const uint8_t *body = rc ? rc->payload : qr->body;
            size_t body_len = rc ? rc->payload_len : qr->body_len;
            if (body_len)
                coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, rc ? (uint32_t)rc->format : LWM2M_CF_SENML_CBOR);
            if (qr->accept >= 0)
                coap_optlist_add_uint(&l, COAP_OPT_ACCEPT, (uint32_t)qr->accept);
            if (body_len > QUERY_BLOCK) { /* RFC 7959 §2.5, with a Request-Tag (RFC 9175 §3) */
                coap_block_t b1 = {.num = qr->b1_num, .szx = qr->b1_szx};
                size_t off, len;
                b1.more = coap_block_slice(&b1, body_len, &off, &len);
                coap_optlist_add_uint(&l, COAP_OPT_BLOCK1, coap_block_encode(&b1));
                coap_optlist_add(&l, COAP_OPT_REQUEST_TAG, qr->request_tag, sizeof qr->request_tag);
                if (b1.num == 0)
                    coap_optlist_add_uint(&l, COAP_OPT_SIZE1, (uint32_t)body_len);
                body += off;
                body_len = len;
            }
            if (!node_request(&s->n, r->peer, client_oscore(r), qr->method, &l, body, body_len, qr->observe,
                              qr->token, &qr->bind))
                return; /* no room now: the next turn */
            qs->token[i] = token64(qr->token);
            qs->in_flight++;
            qr->plain_len = s->n.last_len < sizeof qr->plain ? s->n.last_len : 0;
            memcpy(qr->plain, s->n.last, qr->plain_len);
        }
        qs->wait_head = (qs->wait_head + 1) % MAX_QUERIES;
        qs->wait_len--;
    }
}

/* Shared store: a notification of an observation another node made (the
 * client's messages now reach this node): the observation is taken over
 * from what the store keeps of it. The query's index, or MAX_QUERIES. */
static size_t adopt_observation(server_t *s, const uint8_t token[8])
{
    cs_lwm2m_token_t t;
    if (cs_lwm2m_store_find_token(s->store, token, &t) != CS_STORE_OK)
        return MAX_QUERIES;
    lwm2m_client_t *c = registered(s, t.endpoint);
    query_t *qr = c ? query_new(s, c) : NULL;
    if (!qr)
        return MAX_QUERIES;
    size_t i = (size_t)(qr - s->queries.q);
    qr->observe = qr->released = true; /* established: send_queries passes it by */
    qr->method = COAP_GET;
    qr->accept = t.accept;
    qr->bind = t.bind;
    memcpy(qr->token, token, 8);
    s->queries.token[i] = token64(token);
    snprintf(qr->target, sizeof qr->target, "%s", t.target);
    snprintf(qr->path, sizeof qr->path, "%.*s", (int)strcspn(t.target, "?"), t.target);
    qr->spec = qr->target;
    printf("server: %s %s: a notification of another node's observation; taken over here\n", t.endpoint, qr->path);
    return i;
}

/* A response (or notification) to one of the queries. */
static void query_response(server_t *s, const coap_ep_event_t *ev)
{
    queries_t *qs = &s->queries;
    uint8_t buf[LWM2M_CLI_MSG];
    size_t i = query_by_token(qs, ev->token);
    if (i == MAX_QUERIES && ev->unmatched && s->shared)
        i = adopt_observation(s, ev->token);
    /* a notification of an observation kept here (or of none: RST ends it) */
    if (ev->unmatched && coap_ep_answer_unmatched(&s->n.ep, ev, i < MAX_QUERIES && qs->q[i].released) != COAP_OK)
        return;
    if (i == MAX_QUERIES || (ev->unmatched && !qs->q[i].released))
        return;
    query_t *qr = &qs->q[i];
    lwm2m_client_t *c = qs->client[i];
    coap_msg_t resp;
    char code[32];
    oscore_ctx_t *ctx = client_oscore(c);
    heard_from(s, c);
    oscore_err_t oe = node_open_msg(&s->n, ctx, ev, false, &qr->bind, buf, &resp);
    if (oe == OSCORE_OK && !qr->echoed && !qr->released && resp.code == COAP_UNAUTHORIZED) {
        /* the client lost its replay window (a reboot): prove freshness (B.1.2) */
        uint8_t plain[sizeof qr->plain];
        memcpy(plain, qr->plain, qr->plain_len);
        coap_ep_cancel(&s->n.ep, c->peer, qr->token, 8);
        qr->echoed = node_repeat_with_echo(&s->n, c->peer, ctx, plain, qr->plain_len, &resp, qr->observe, qr->token,
                                           &qr->bind);
        if (qr->echoed) {
            qs->token[i] = token64(qr->token);
            return;
        }
    }
    coap_opt_t o;
    coap_block_t b1;
    if (oe == OSCORE_OK && resp.code == COAP_CONTINUE && coap_msg_find_option(&resp, COAP_OPT_BLOCK1, &o) &&
        coap_block_decode(&o, &b1) && b1.num == qr->b1_num) {
        /* the next block, in the size the client asked for (§2.5) */
        coap_block_t sent = {.num = qr->b1_num, .szx = qr->b1_szx}, next = coap_block_after(&sent, b1.szx);
        qr->b1_num = next.num;
        qr->b1_szx = next.szx;
        coap_ep_cancel(&s->n.ep, c->peer, qr->token, 8);
        qs->token[i] = 0;
        qs->in_flight--;
        qs->wait[(qs->wait_head + qs->wait_len) % MAX_QUERIES] = (uint16_t)i;
        qs->wait_len++;
        send_queries(s);
        return;
    }
    if (oe != OSCORE_OK) {
        printf("server: %s: %s from %s rejected by OSCORE: %s\n", qr->path, qr->released ? "notification" : "response",
               c->endpoint, coreseal_strerror(oe));
        fflush(stdout);
        if (!qr->observe)
            query_end(qs, i, 502, "{\"error\":\"the response failed OSCORE verification\"}");
        return;
    }
    char *json = s->queries.rest || s->shared ? result_json(c->endpoint, qr->path, &resp) : NULL;
    if (qr->rest) { /* a REST request waits for this */
        rest_done(s->queries.rest, qr->rest, http_status(resp.code), json);
        qr->rest = NULL;
    } else if (qr->attributes) {
        printf("server: attributes %s %s -> %s\n", c->endpoint, qr->path, cli_code_str(resp.code, code));
    } else {
        print_value_payload(qr->observe ? "notify" : "read", c->endpoint, qr->path, &resp);
    }
    if (json && qr->observe)
        tell(s, "notify", c->endpoint, json);
    free(json);
    fflush(stdout);
    if (!qr->observe || COAP_CODE_CLASS(resp.code) != 2) {
        if (qr->observe && qr->released)
            forget_observation(s, c, qr);
        query_end(qs, i, 200, NULL);
    } else if (!qr->released) { /* established: the slot goes back, the token stays here */
        coap_ep_cancel(&s->n.ep, c->peer, qr->token, 8);
        qr->released = true;
        qs->in_flight--;
        if (qr->method == COAP_GET && cs_lwm2m_store_save_observation(s->store, c->endpoint, qr->spec, qr->accept) !=
                                          CS_STORE_OK)
            fprintf(stderr, "coreseal %s: warning: observation of %s %s not kept: %s\n", s->n.sub, c->endpoint,
                    qr->path, cs_lwm2m_store_error(s->store));
        cs_lwm2m_token_t t = {.accept = qr->accept, .bind = qr->bind};
        snprintf(t.endpoint, sizeof t.endpoint, "%s", c->endpoint);
        snprintf(t.target, sizeof t.target, "%s", qr->spec);
        if (s->shared && cs_lwm2m_store_save_token(s->store, qr->token, &t) != CS_STORE_OK)
            fprintf(stderr, "coreseal %s: warning: other nodes will not know the observation of %s %s: %s\n",
                    s->n.sub, c->endpoint, qr->path, cs_lwm2m_store_error(s->store));
    }
}

/* A query the client never answered (or answered with RST). */
static void query_failed(server_t *s, const coap_ep_event_t *ev)
{
    size_t i = query_by_token(&s->queries, ev->token);
    if (i == MAX_QUERIES)
        return;
    printf("server: %s %s: %s\n", s->queries.client[i]->endpoint, s->queries.q[i].path,
           ev->type == COAP_EV_RESET ? "reset by the client" : "no answer");
    fflush(stdout);
    if (s->queries.q[i].observe)
        forget_observation(s, s->queries.client[i], &s->queries.q[i]);
    query_end(&s->queries, i, 504, "{\"error\":\"the client did not answer\"}");
}

/* ---------------------------------------------------------------- requests from clients */

static void answer(server_t *s, const coap_ep_event_t *ev, oscore_ctx_t *ctx, const oscore_binding_t *bind,
                   const coap_msg_t *req, uint8_t code, coap_optlist_t *l)
{
    node_reply(&s->n, ev, ctx, bind, code, l, NULL, 0, false, 0, req->token, req->token_len);
}

static void on_register(server_t *s, const coap_ep_event_t *ev, lwm2m_client_t *client, const oscore_binding_t *bind,
                        const coap_msg_t *req, const lwm2m_register_info_t *info)
{
    oscore_ctx_t *ctx = client_oscore(client);
    lwm2m_client_t *r = NULL;
    lwm2m_err_t e = lwm2m_registry_register(&s->reg, client, info, req->payload, req->payload_len, ev->peer,
                                            cs_net_now(), &r);
    if (e != LWM2M_OK) {
        printf("server: refused %.*s: %s\n", (int)info->endpoint_len, info->endpoint, coreseal_strerror(e));
        fflush(stdout);
        answer(s, ev, ctx, bind, req, register_refusal_code(e), NULL);
        return;
    }
    cancel_and_forget(s, r); /* a re-registration starts afresh */
    heard_from(s, r);
    save_registration(s, r);
    uint8_t arena[32];
    coap_opt_t list[2];
    coap_optlist_t l;
    char loc[16];
    coap_optlist_init(&l, list, 2, arena, sizeof arena);
    snprintf(loc, sizeof loc, "%u", (unsigned)client_location(s, r));
    coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, "rd", 2);
    coap_optlist_add(&l, COAP_OPT_LOCATION_PATH, loc, strlen(loc));
    answer(s, ev, ctx, bind, req, COAP_CREATED, &l);
    if (s->reg.n_registered > s->peak_registered)
        s->peak_registered = s->reg.n_registered;
    printf("server: registered %s lt=%u%s%s objects %.*s\n", r->endpoint, r->lifetime, ctx ? " over OSCORE" : "",
           cs_net_peer_is_dtls(ev->peer) ? " over DTLS" : "", (int)r->links_len, r->links);
    fflush(stdout);
    publish(s, "registered", r);
    start_queries(s, r);
}

/* The registration at rd/<location>. On a shared store the cluster numbers
 * them: the OSCORE client's own if the location is its, else the one the
 * store has there now (another node may have just registered it; an
 * unprotected client is always looked up there). */
static lwm2m_client_t *registration_at(server_t *s, lwm2m_client_t *client, uint32_t location)
{
    if (!s->shared)
        return lwm2m_registry_at(&s->reg, location);
    lwm2m_client_t *r = client;
    if (location && (!r || r->state != LWM2M_CLIENT_REGISTERED || client_location(s, r) != location)) {
        s->learned = NULL;
        learn_from_store(s, &(cs_lwm2m_find_t){.location = location});
        r = s->learned;
    }
    return r && r->state == LWM2M_CLIENT_REGISTERED && client_location(s, r) == location ? r : NULL;
}

/* Update (POST /rd/<location>) and De-register (DELETE /rd/<location>):
 * only by the client that registered there. */
static void on_registration(server_t *s, const coap_ep_event_t *ev, lwm2m_client_t *client,
                            const oscore_binding_t *bind, const coap_msg_t *req)
{
    oscore_ctx_t *ctx = client_oscore(client);
    uint32_t location = 0, lifetime = 0;
    lwm2m_err_t pe = lwm2m_update_parse(req, &location, &lifetime);
    if (pe == LWM2M_ERR_MALFORMED) {
        answer(s, ev, ctx, bind, req, COAP_BAD_REQUEST, NULL);
        return;
    }
    lwm2m_client_t *r = pe == LWM2M_OK ? registration_at(s, client, location) : NULL;
    char dtls_name[128];
    /* a registration made over DTLS changes only over DTLS, by the same identity */
    bool dtls_ok = r && (!cs_net_peer_is_dtls(r->peer) ||
                         (cs_dtls_peer_name(&s->n.udp, ev->peer, dtls_name, sizeof dtls_name) &&
                          !strcmp(dtls_name, r->endpoint)));
    if (!r || (client ? r != client : r->has_oscore) || !dtls_ok) {
        answer(s, ev, ctx, bind, req, COAP_NOT_FOUND, NULL);
        return;
    }
    if (req->code == COAP_DELETE) {
        printf("server: de-registered %s\n", r->endpoint);
        publish(s, "deregistered", r);
        end_registration(s, r);
        lwm2m_registry_deregister(&s->reg, r);
        answer(s, ev, ctx, bind, req, COAP_DELETED, NULL);
    } else if (req->code == COAP_POST) {
        lwm2m_err_t e = lwm2m_registry_update(&s->reg, r, lifetime, req->payload_len ? req->payload : NULL,
                                              req->payload_len, ev->peer, cs_net_now());
        printf("server: update from %s%s%s\n", r->endpoint, e == LWM2M_OK ? "" : ": ",
               e == LWM2M_OK ? "" : coreseal_strerror(e));
        if (e == LWM2M_OK) {
            heard_from(s, r);
            save_registration(s, r);
            publish(s, "updated", r);
        }
        answer(s, ev, ctx, bind, req, e == LWM2M_OK ? COAP_CHANGED : register_refusal_code(e), NULL);
    } else {
        answer(s, ev, ctx, bind, req, COAP_METHOD_NOT_ALLOWED, NULL);
    }
    fflush(stdout);
}

/* ---------------------------------------------------------------- EDHOC-keyed clients */

/* C_R must not be the Recipient ID of a client context already here. */
static bool cid_taken(void *arg, const uint8_t *cid, size_t len)
{
    server_t *s = arg;
    oscore_option_t o = {.kid = cid, .kid_len = len, .has_kid = true};
    return lwm2m_registry_find_oscore(&s->reg, &o) != NULL;
}

/* A completed handshake: the client its credential names (the CCS
 * subject is its endpoint name) gets the new context, in place of an
 * earlier one and its registration. */
static bool edhoc_client(server_t *s, const cli_edhoc_result_t *x)
{
    const char *ep = x->peer->subject;
    size_t n = strlen(ep);
    lwm2m_client_t *old = n ? lwm2m_registry_find_endpoint(&s->reg, ep, n) : NULL, *c;
    if (!n) {
        fprintf(stderr, "coreseal %s: an EDHOC credential without a subject names no endpoint\n", s->n.sub);
        return false;
    }
    if (old) {
        cancel_queries(&s->n, &s->queries, old);
        if (cs_lwm2m_store_forget(s->store, old) != CS_STORE_OK)
            fprintf(stderr, "coreseal %s: warning: old context of %s not removed\n", s->n.sub, ep);
        lwm2m_registry_remove(&s->reg, old);
    }
    oscore_params_t p = x->params;
    oscore_ctx_t ctx;
    p.persist = cs_lwm2m_store_persist(s->store);
    bool ok = cs_lwm2m_store_put_security(s->store, &p, ep) == CS_STORE_OK &&
              oscore_ctx_derive(&ctx, &s->n.sec.crypto, &p) == OSCORE_OK &&
              lwm2m_registry_add_oscore(&s->reg, &ctx, ep, n, &c) == LWM2M_OK;
    cs_wipe(&ctx, sizeof ctx);
    printf("server: EDHOC with %s: %s\n", ep, ok ? "OSCORE context ready" : "no room for its context");
    fflush(stdout);
    return ok;
}

/* POST /.well-known/edhoc (RFC 9528 Appendix A.2). */
static void on_edhoc(server_t *s, const coap_ep_event_t *ev)
{
    static cli_edhoc_result_t x;
    uint8_t arena[16];
    coap_opt_t list[1];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 1, arena, sizeof arena);
    if (ev->msg.code != COAP_POST) {
        node_reply(&s->n, ev, NULL, NULL, COAP_METHOD_NOT_ALLOWED, NULL, NULL, 0, false, 0, ev->msg.token,
                   ev->msg.token_len);
        return;
    }
    cli_edhoc_respond(&s->edhoc_resp, ev->msg.payload, ev->msg.payload_len, cs_net_now(), &x);
    if (x.done) { /* message_3 verified: an empty 2.04, or 5.00 when it cannot be kept */
        x.code = edhoc_client(s, &x) ? COAP_CHANGED : COAP_INTERNAL_SERVER_ERROR;
        x.payload_len = 0;
        cs_wipe(&x.keys, sizeof x.keys);
    }
    if (x.edhoc_payload && x.payload_len)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, EDHOC_CF_CBOR_SEQ);
    node_reply(&s->n, ev, NULL, NULL, x.code, &l, x.payload, x.payload_len, false, 0, ev->msg.token,
               ev->msg.token_len);
}

/* RFC 8613 B.2 with a client whose context allows it: the provisioned
 * parameters come from the database (the registry keeps derived keys). */
static bool verify_b2_request(server_t *s, lwm2m_client_t *client, const coap_ep_event_t *ev,
                              oscore_binding_t *bind, uint8_t *buf, coap_msg_t *req)
{
    static cs_context_file_t f;
    oscore_params_t base;
    if (cs_lwm2m_store_provisioned(s->store, &client->oscore, &f) != CS_STORE_OK) {
        fprintf(stderr, "coreseal %s: %s: no provisioned parameters for B.2: %s\n", s->n.sub,
                client->endpoint, cs_lwm2m_store_error(s->store));
        return false;
    }
    cs_context_file_params(&f, &base);
    base.persist = client->oscore.persist;
    bool ok = node_verify_b2_request(&s->n, &client->oscore, &base, ev, bind, buf, req);
    cs_wipe(&f, sizeof f);
    if (ok) {
        printf("server: %s: new OSCORE context (RFC 8613 B.2)\n", client->endpoint);
        fflush(stdout);
    }
    return ok;
}

static void on_request(server_t *s, const coap_ep_event_t *ev)
{
    uint8_t buf[LWM2M_CLI_MSG];
    lwm2m_client_t *client = NULL; /* the OSCORE client, if protected */
    oscore_option_t opt;
    oscore_binding_t bind;
    coap_msg_t req;
    oscore_err_t oe = oscore_msg_option(&ev->msg, &opt);
    if (oe == OSCORE_ERR_NOT_PROTECTED && s->edhoc.enabled && coap_msg_path_is(&ev->msg, EDHOC_COAP_PATH)) {
        on_edhoc(s, ev);
        return;
    }
    if (oe == OSCORE_OK && !(client = lwm2m_registry_find_oscore(&s->reg, &opt)) && s->shared) {
        /* provisioned through another node (EDHOC) since this one started */
        learn_from_store(s, &(cs_lwm2m_find_t){.kid = opt.kid, .kid_len = opt.kid_len,
                                                .kid_context = opt.has_kid_context ? opt.kid_context : NULL,
                                                .kid_context_len = opt.kid_context_len});
        client = lwm2m_registry_find_oscore(&s->reg, &opt);
    }
    if (oe == OSCORE_OK && !client) {
        node_reply(&s->n, ev, NULL, NULL, COAP_UNAUTHORIZED, NULL, (const uint8_t *)"Security context not found", 26,
                   false, 0, ev->msg.token, ev->msg.token_len);
        return;
    }
    if (client && !oscore_ctx_matches(&client->oscore, &opt) && oscore_b2_applies(&client->oscore, &opt)) {
        if (!verify_b2_request(s, client, ev, &bind, buf, &req))
            return;
    } else if (!node_verify_request(&s->n, client_oscore(client), ev, &bind, buf, &req)) {
        return;
    }
    lwm2m_register_info_t info;
    char dtls_name[128];
    bool dtls = cs_dtls_peer_name(&s->n.udp, ev->peer, dtls_name, sizeof dtls_name);
    if (req.code == COAP_POST && lwm2m_register_parse(&req, &info) == LWM2M_OK) {
        /* over DTLS the endpoint name is the identity the handshake proved */
        if (dtls && (strlen(dtls_name) != info.endpoint_len || memcmp(dtls_name, info.endpoint, info.endpoint_len))) {
            printf("server: refused %.*s: the DTLS identity is %s\n", (int)info.endpoint_len, info.endpoint,
                   dtls_name);
            fflush(stdout);
            answer(s, ev, client_oscore(client), &bind, &req, COAP_FORBIDDEN, NULL);
            return;
        }
        on_register(s, ev, client, &bind, &req, &info);
    } else if (req.code == COAP_POST && coap_msg_path_is(&req, "dp")) { /* Send: from registered clients */
        if (client && client->state != LWM2M_CLIENT_REGISTERED) {
            answer(s, ev, client_oscore(client), &bind, &req, COAP_NOT_FOUND, NULL);
            return;
        }
        if (client)
            heard_from(s, client);
        const char *ep = client ? client->endpoint : "(unprotected)";
        print_value_payload("send", ep, "/", &req);
        if (s->rest || s->shared) {
            char *json = result_json(ep, "/", &req);
            tell(s, "send", ep, json ? json : "{}");
            free(json);
        }
        answer(s, ev, client_oscore(client), &bind, &req, COAP_CHANGED, NULL);
    } else {
        on_registration(s, ev, client, &bind, &req);
    }
}

/* ---------------------------------------------------------------- the program */

/* cs_dtls_config_t.psk_lookup on a shared store: a DTLS client whose key
 * another node was given. */
static bool psk_from_store(void *arg, const char *identity, uint8_t *key, size_t cap, size_t *len)
{
    server_t *s = arg;
    return cs_lwm2m_store_find_psk(s->store, identity, key, cap, len) == CS_STORE_OK;
}

static int usage(int c)
{
    fprintf(c == 'h' ? stdout : stderr,
            "usage: coreseal lwm2m server [--listen HOST:PORT] [--db FILE | --store redis://HOST:PORT[/DB]]\n"
            "                             [--ssn-block N] [--oscore FILE]...\n"
            "                             [--edhoc KEYFILE --edhoc-trust CRED...] [--http HOST:PORT]\n"
            "                             [--queue-awake S] [--http-token TOKEN]\n"
            "                             [--attributes PATH?QUERY]... [--read PATH]...\n"
            "                             [--observe PATH]... [--observe-composite PATH,PATH...]...\n"
            "                             [--max-clients N] [--listen-dtls HOST:PORT [--psk ID:KEY]...\n"
            "                              [--cert FILE --key FILE --ca FILE]]\n"
            "Accepts LwM2M registrations; after each Register writes the attributes\n"
            "(pmin, pmax, gt, lt, st, epmin, epmax), reads and observes the given\n"
            "paths and prints the values, and those clients Send (POST /dp). A client\n"
            "using OSCORE must register with its Sender ID as endpoint name (4.00\n"
            "otherwise); one over DTLS (--listen-dtls) with its PSK identity (PSK mode:\n"
            "one --psk per client) or the CN of its certificate (Certificate mode: the\n"
            "server's --cert and --key, the clients' certificates checked against --ca),\n"
            "4.03 otherwise. --oscore files provision clients into the --db file (SQLite,\n"
            "default lwm2m-server.db; \":memory:\" keeps nothing), which keeps their\n"
            "OSCORE state and registrations across restarts. --max-clients sizes the\n"
            "registry (about 750 bytes each; default 1000). With --edhoc, clients holding a\n"
            "trusted credential run EDHOC (POST /.well-known/edhoc) and register over the\n"
            "OSCORE context it gives, with their credential's subject as endpoint name.\n"
            "--http serves the JSON REST API (GET /api/clients, Device Management on\n"
            "/api/clients/EP/PATH, observations, and GET /api/events as server-sent\n"
            "events); with --http-token (or CORESEAL_HTTP_TOKEN) every HTTP request must\n"
            "say \"Authorization: Bearer TOKEN\"; see docs/lwm2m.md. Requests for a client\n"
            "in queue mode (Q) wait until it speaks and go out while it listens\n"
            "(--queue-awake, default 93 s).\n"
            "--store redis://... puts all of this in Redis instead, shared by several\n"
            "server processes (nodes) that serve one fleet: any node takes any client's\n"
            "next message, REST and events work on every node, no node reuses an OSCORE\n"
            "nonce or accepts another's replay; each node reserves --ssn-block Sender\n"
            "Sequence Numbers per context at a time (default 1; see docs/cluster.md);\n"
            "--psk keys go there too, so every node accepts those DTLS clients.\n");
    return c == 'h' ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static void serve(server_t *s)
{
    while (!cli_stopping) {
        for (rest_cmd_t *cmd; s->rest && (cmd = rest_next(s->rest));)
            rest_command(s, cmd);
        send_queries(s);
        node_flush(&s->n);
        /* REST commands and other nodes' events wait at most that */
        if (cs_udp_receive(&s->n.udp, s->rest || s->shared ? 10 : 100) != CS_NET_OK)
            break;
        cs_time_ms_t now = cs_net_now();
        if (s->shared) { /* the store decides expiry, once for the cluster */
            if (cs_lwm2m_store_events(s->store, on_store_event, s) != CS_STORE_OK && s->n.verbose)
                fprintf(stderr, "coreseal %s: no events: %s\n", s->n.sub, cs_lwm2m_store_error(s->store));
            if (now >= s->next_expiry) {
                s->next_expiry = now + 1000;
                if (cs_lwm2m_store_expire(s->store, wall_ms(), 256, on_store_expired, s) != CS_STORE_OK)
                    fprintf(stderr, "coreseal %s: cannot ask the store for expired registrations: %s\n", s->n.sub,
                            cs_lwm2m_store_error(s->store));
            }
        }
        for (lwm2m_client_t *x; !s->shared && (x = lwm2m_registry_sweep(&s->reg, now, 256));) {
            publish(s, "expired", x);
            end_registration(s, x);
            printf("server: registration of %s expired\n", x->endpoint);
            fflush(stdout);
        }
        for (size_t i = 0; i < s->n.udp.n_in; i++) {
            coap_ep_event_t ev;
            if (coap_ep_input(&s->n.ep, s->n.udp.in_peer[i], s->n.udp.in[i], s->n.udp.in_len[i], now, &ev) != COAP_OK)
                continue;
            if (ev.type == COAP_EV_RESPONSE)
                query_response(s, &ev);
            else if (ev.type == COAP_EV_REQUEST)
                on_request(s, &ev);
            else if (ev.type == COAP_EV_RESET)
                query_failed(s, &ev);
        }
        coap_ep_event_t ev;
        while (coap_ep_tick(&s->n.ep, cs_net_now(), &ev) == COAP_OK && ev.type != COAP_EV_NONE)
            if (ev.type == COAP_EV_TIMEOUT)
                query_failed(s, &ev);
    }
    node_flush(&s->n);
}

int lwm2m_server_main(int argc, char **argv)
{
    long start_kib = resident_kib(); /* the base the clients' memory is counted from */
    static server_t s;
    memset(&s, 0, sizeof s);
    s.n.sub = "lwm2m server";
    s.awake_ms = 93000; /* MAX_TRANSMIT_WAIT, the Core TS's default awake time */
    const char *listen_host = "::", *listen_port = "5683", *db_path = "lwm2m-server.db";
    const char *http_host = NULL, *http_port = NULL, *http_token = getenv("CORESEAL_HTTP_TOKEN");
    const char *oscore_files[CLI_MAX_CONTEXTS], *edhoc_key = NULL, *edhoc_trust[CLI_MAX_PEERS];
    int n_oscore = 0, n_trust = 0;
    long max_clients = 1000, ssn_block = 1;
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},      {"oscore", required_argument, NULL, 'O'},
        {"read", required_argument, NULL, 'r'},        {"observe", required_argument, NULL, 'o'},
        {"max-clients", required_argument, NULL, 'm'}, {"attributes", required_argument, NULL, 'a'},
        {"db", required_argument, NULL, 'D'},          {"verbose", no_argument, NULL, 'v'},
        {"edhoc", required_argument, NULL, 'E'},       {"edhoc-trust", required_argument, NULL, 'T'},
        {"http", required_argument, NULL, 'H'},        {"queue-awake", required_argument, NULL, 'Q'},
        {"observe-composite", required_argument, NULL, 'C'},
        {"http-token", required_argument, NULL, 'K'},
        {"listen-dtls", required_argument, NULL, 'S'}, {"psk", required_argument, NULL, 'P'},
        {"store", required_argument, NULL, 'D'},       {"ssn-block", required_argument, NULL, 'B'},
        {"cert", required_argument, NULL, 'c'},        {"key", required_argument, NULL, 'y'},
        {"ca", required_argument, NULL, 'A'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dtls_host = NULL, *dtls_port = NULL;
    static cs_dtls_config_t dtls;
    memset(&dtls, 0, sizeof dtls);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:r:o:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &listen_host, &listen_port) != 0)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--listen expects HOST:PORT");
            break;
        case 'O':
            if (n_oscore == CLI_MAX_CONTEXTS)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "at most %d --oscore files", CLI_MAX_CONTEXTS);
            oscore_files[n_oscore++] = optarg;
            break;
        case 'r': if (s.n_reads < 8) s.reads[s.n_reads++] = optarg; break;
        case 'o': if (s.n_observes < 8) s.observes[s.n_observes++] = optarg; break;
        case 'C': {
            query_t probe;
            if (s.n_composites == 4 || !composite_query(&probe, optarg))
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--observe-composite expects up to 4 lists like "
                                                         "/3/0/0,/3303/0/5700");
            s.composites[s.n_composites++] = optarg;
            break;
        }
        case 'a':
            if (!strchr(optarg, '?'))
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--attributes expects PATH?QUERY, e.g. /3303/0/5700?pmin=5&st=0.5");
            if (s.n_attributes < 8)
                s.attributes[s.n_attributes++] = optarg;
            break;
        case 'm':
            max_clients = strtol(optarg, NULL, 10);
            if (max_clients < 1 || max_clients > 50000000)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--max-clients expects 1..50000000");
            break;
        case 'S':
            if (cli_parse_listen(optarg, &dtls_host, &dtls_port) != 0)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--listen-dtls expects HOST:PORT, e.g. [::]:5684");
            break;
        case 'P':
            if (cli_dtls_add_psk(&dtls, optarg, s.n.sub) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'c': dtls.cert_file = optarg; break;
        case 'y': dtls.key_file = optarg; break;
        case 'A': dtls.ca_file = optarg; break;
        case 'D': db_path = optarg; break;
        case 'B':
            ssn_block = strtol(optarg, NULL, 10);
            if (ssn_block < 1 || ssn_block > 65536)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--ssn-block expects 1..65536 (Sender Sequence Numbers a "
                                                         "node reserves at a time in Redis)");
            break;
        case 'E': edhoc_key = optarg; break;
        case 'K': http_token = optarg; break;
        case 'Q':
            s.awake_ms = (cs_time_ms_t)(strtod(optarg, NULL) * 1000);
            if (s.awake_ms == 0)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--queue-awake expects seconds, e.g. 93");
            break;
        case 'H':
            if (cli_parse_listen(optarg, &http_host, &http_port) != 0)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "--http expects HOST:PORT, e.g. 127.0.0.1:8080");
            break;
        case 'T':
            if (n_trust == CLI_MAX_PEERS)
                return cli_fail(s.n.sub, CLI_EXIT_USAGE, "at most %d --edhoc-trust files", CLI_MAX_PEERS);
            edhoc_trust[n_trust++] = optarg;
            break;
        case 'v': s.n.verbose++; break;
        default: return usage(c);
        }
    }
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    size_t index_len = lwm2m_registry_index_len((uint32_t)max_clients);
    uint64_t seed = 0;
    int rc = cli_security_init(&s.n.sec, s.n.sub);
    if (rc == CLI_EXIT_OK && cs_lwm2m_store_open(&s.store, db_path, (uint32_t)ssn_block, err, sizeof err) != CS_STORE_OK)
        rc = cli_fail(s.n.sub, CLI_EXIT_STORAGE, "%s (--store names the server's SQLite file or redis://HOST:PORT)",
                      err);
    s.shared = cs_lwm2m_store_shared(s.store);
    uint8_t id[6];
    if (rc == CLI_EXIT_OK && s.shared && cli_random(&s.n.sec.crypto, id, sizeof id))
        snprintf(s.node_id, sizeof s.node_id, "%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4], id[5]);
    if (rc == CLI_EXIT_OK)
        rc = provision(&s, oscore_files, n_oscore);
    s.edhoc.method = s.edhoc.suite = -1;
    if (rc == CLI_EXIT_OK && edhoc_key) {
        rc = cli_edhoc_load_own(&s.edhoc, edhoc_key, s.n.sub);
        for (int i = 0; rc == CLI_EXIT_OK && i < n_trust; i++)
            rc = cli_edhoc_add_peer(&s.edhoc, edhoc_trust[i], s.n.sub);
        if (rc == CLI_EXIT_OK && n_trust == 0)
            rc = cli_fail(s.n.sub, CLI_EXIT_USAGE, "--edhoc needs the clients' credentials: --edhoc-trust FILE");
        /* two-byte C_R: room for many clients' contexts */
        cli_edhoc_responder_init(&s.edhoc_resp, &s.edhoc, &s.n.sec.crypto, 2, cid_taken, &s);
        s.edhoc_resp.verbose = s.n.verbose;
    }
    s.clients = calloc((size_t)max_clients, sizeof *s.clients);
    s.awake_until = calloc((size_t)max_clients, sizeof *s.awake_until);
    s.location = s.shared ? calloc((size_t)max_clients, sizeof *s.location) : NULL;
    s.index = calloc(index_len, sizeof *s.index);
    if (rc == CLI_EXIT_OK && (!s.clients || !s.index || !s.awake_until || (s.shared && !s.location) || !cli_random(&s.n.sec.crypto, (uint8_t *)&seed, sizeof seed) ||
                              lwm2m_registry_init(&s.reg, s.clients, (uint32_t)max_clients, s.index, index_len,
                                                  seed) != LWM2M_OK))
        rc = cli_fail(s.n.sub, CLI_EXIT_CONFIG, "no memory for %ld clients; lower --max-clients", max_clients);
    /* the socket first: restored registrations need their address handles */
    if (rc == CLI_EXIT_OK && (rc = node_open(&s.n, listen_host, listen_port, true)) == CLI_EXIT_OK)
        s.n.ep.cfg.deliver_unmatched = true; /* observations live in the query table, not in endpoint slots */
    s.n.udp.log = s.n.verbose ? stderr : NULL;
    for (size_t i = 0; rc == CLI_EXIT_OK && s.shared && i < dtls.n_psks; i++) /* for every node */
        if (cs_lwm2m_store_put_psk(s.store, dtls.psks[i].identity, dtls.psks[i].key, dtls.psks[i].key_len) !=
            CS_STORE_OK)
            rc = cli_fail(s.n.sub, CLI_EXIT_STORAGE, "cannot store the DTLS keys: %s", cs_lwm2m_store_error(s.store));
    if (s.shared) {
        dtls.psk_lookup = psk_from_store;
        dtls.psk_arg = &s;
    }
    if (rc == CLI_EXIT_OK && dtls_port && !dtls.n_psks && !s.shared && !dtls.cert_file)
        rc = cli_fail(s.n.sub, CLI_EXIT_USAGE, "--listen-dtls needs the clients' keys (--psk IDENTITY:KEY...) or the "
                                               "server's certificate (--cert FILE --key FILE --ca FILE)");
    if (rc == CLI_EXIT_OK && (dtls.cert_file || dtls.key_file || dtls.ca_file) &&
        (!dtls.cert_file || !dtls.key_file || !dtls.ca_file || !dtls_port))
        rc = cli_fail(s.n.sub, CLI_EXIT_USAGE, "Certificate mode takes --cert FILE, --key FILE and --ca FILE (the CA "
                                               "of the clients' certificates, PEM) with --listen-dtls");
    if (rc == CLI_EXIT_OK && dtls_port && cs_dtls_listen(&s.n.udp, dtls_host, dtls_port, &dtls, err, sizeof err) !=
                                              CS_NET_OK)
        rc = cli_fail(s.n.sub, CLI_EXIT_NETWORK, "cannot serve DTLS: %s", err);
    cs_wipe(&dtls, sizeof dtls); /* the DTLS layer keeps its own copy */
    if (rc == CLI_EXIT_OK && (cs_lwm2m_store_load(s.store, learn, &s) != CS_STORE_OK ||
                              cs_lwm2m_store_load_observations(s.store, restore_observation, &s) != CS_STORE_OK))
        rc = cli_fail(s.n.sub, CLI_EXIT_STORAGE, "%s: %s", db_path, cs_lwm2m_store_error(s.store));
    if (rc == CLI_EXIT_OK && s.reg.n_used > (uint32_t)max_clients - 1)
        fprintf(stderr, "coreseal %s: warning: the registry is full; raise --max-clients\n", s.n.sub);
    if (rc == CLI_EXIT_OK && http_port) {
        if (!(s.rest = rest_start(http_host, http_port, http_token, err, sizeof err)))
            rc = cli_fail(s.n.sub, CLI_EXIT_NETWORK, "%s", err);
        s.queries.rest = s.rest;
    }
    if (rc == CLI_EXIT_OK) {
        cli_catch_signals();
        fprintf(stderr, "coreseal lwm2m server: listening on %s:%s, %u clients in %s\n", listen_host, listen_port,
                s.reg.n_used, db_path);
        if (dtls_port)
            fprintf(stderr, "coreseal lwm2m server: DTLS on %s:%s\n", dtls_host ? dtls_host : "*", dtls_port);
        serve(&s);
        /* what a registered client costs, the whole process counted */
        struct rusage ru;
        long peak_kib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
        fprintf(stderr, "coreseal lwm2m server: memory: %ld KiB resident before any client was loaded, %ld KiB at "
                "peak, %u clients registered at most: %ld bytes per client\n", start_kib, peak_kib, s.peak_registered,
                s.peak_registered ? (peak_kib - start_kib) * 1024 / (long)s.peak_registered : 0);
        if (s.shared)
            fprintf(stderr, "coreseal lwm2m server: Redis round trips: %llu\n",
                    (unsigned long long)cs_lwm2m_store_round_trips(s.store));
    }
    for (size_t i = 0; i < MAX_QUERIES; i++) /* REST requests still waiting */
        if (s.queries.client[i])
            query_end(&s.queries, i, 503, "{\"error\":\"the server is stopping\"}");
    rest_stop(s.rest);
    /* a clean shutdown: the windows are valid until the next start */
    for (uint32_t i = 0; s.clients && i < s.reg.n_clients; i++)
        if (s.clients[i].has_oscore) {
            if (rc == CLI_EXIT_OK && cs_lwm2m_store_save_window(s.store, &s.clients[i].oscore) != CS_STORE_OK)
                fprintf(stderr, "coreseal %s: warning: could not save a replay window\n", s.n.sub);
            oscore_ctx_wipe(&s.clients[i].oscore);
        }
    cli_edhoc_responder_wipe(&s.edhoc_resp);
    cs_wipe(&s.edhoc, sizeof s.edhoc);
    node_close(&s.n);
    cs_lwm2m_store_close(s.store);
    free(s.clients);
    free(s.location);
    free(s.index);
    free(s.awake_until);
    return rc;
}
