/* HTTP-to-CoAP cross-proxy, the HTTP half (http_gateway.h): parses the
 * HTTP request into an hc_cmd_t with the RFC 8075 / RFC 8613 §11 mapping
 * (coreseal/http_map.h), hands it to the proxy's loop and writes the answer.
 * Whoever of the thread and the loop finishes with a command last frees it
 * (a thread that stopped waiting marks it abandoned). */
#define _POSIX_C_SOURCE 200809L
#include "http_gateway.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/http_map.h"

struct hc_gateway {
    struct MHD_Daemon *d;
    const char *prefix; /* NULL: an origin server */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    hc_cmd_t *head, *tail;
    bool stopping;
};

typedef struct {
    hc_cmd_t *cmd;
    uint8_t *body;
    size_t body_len, body_cap;
    bool too_large;
} request_t;

static void free_cmd(hc_cmd_t *c)
{
    free(c->body);
    free(c->resp);
    free(c);
}

hc_cmd_t *hc_next(hc_gateway_t *g)
{
    pthread_mutex_lock(&g->lock);
    hc_cmd_t *c = g->head;
    if (c && !(g->head = c->next))
        g->tail = NULL;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void hc_done(hc_gateway_t *g, hc_cmd_t *c, int status, const uint8_t *body, size_t len)
{
    uint8_t *copy = len ? malloc(len) : NULL;
    if (copy)
        memcpy(copy, body, len);
    pthread_mutex_lock(&g->lock);
    c->status = copy || !len ? status : 500;
    c->resp = copy;
    c->resp_len = copy ? len : 0;
    c->done = true;
    bool orphan = c->abandoned;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    if (orphan)
        free_cmd(c);
}

static enum MHD_Result reply(struct MHD_Connection *con, int status, const char *type, const char *oscore,
                             const void *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (type && type[0])
        MHD_add_response_header(r, "Content-Type", type);
    if (oscore && oscore[0]) { /* RFC 8613 §11.1: never from a cache */
        MHD_add_response_header(r, "OSCORE", oscore);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
    }
    enum MHD_Result ok = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result fail(struct MHD_Connection *con, int status, const char *why)
{
    return reply(con, status, "text/plain;charset=utf-8", NULL, why, strlen(why));
}

/* The query string, as libmicrohttpd took it apart: "a=1&b". */
typedef struct {
    char *out;
    size_t cap, len;
    bool overflow;
} query_t;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_t *q = cls;
    int n = snprintf(q->out + q->len, q->cap - q->len, "%s%s%s%s", q->len ? "&" : "?", key, value ? "=" : "",
                     value ? value : "");
    if (n < 0 || (size_t)n >= q->cap - q->len)
        q->overflow = true;
    else
        q->len += (size_t)n;
    return MHD_YES;
}

/* HTTP request -> command; 0, or the HTTP status that refuses it. */
static int map_request(struct MHD_Connection *con, const char *prefix, const char *url, const char *method,
                       request_t *q, hc_cmd_t *c, const char **why)
{
    char full[1024], query[600] = "";
    query_t qs = {query, sizeof query, 0, false};
    MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, add_arg, &qs);
    snprintf(full, sizeof full, "%s%s", url, query);
    if (qs.overflow)
        return *why = "query too long", 414;
    if (!prefix) { /* an origin server: the request is for this path */
        if (strlen(full) >= sizeof c->target)
            return *why = "URL too long", 414;
        memcpy(c->target, full, strlen(full) + 1);
    } else if (!cs_http_target_uri(full, prefix, c->target, sizeof c->target))
        return *why = "give the target as /hc/coap://HOST[:PORT]/PATH (RFC 8075 5.3)", 400;
    int code = cs_http_method_to_coap(method);
    if (code < 0)
        return *why = "no CoAP method for this HTTP method", 501;
    c->code = (uint8_t)code;
    const char *osc = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "OSCORE");
    const char *type = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    const char *accept = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Accept");
    c->format = c->accept = -1;
    if (osc) { /* RFC 8613 §11.3: the option, and no Content-Format */
        if (!cs_http_oscore_decode(osc, c->oscore, sizeof c->oscore, &c->oscore_len))
            return *why = "the OSCORE header field is not base64url", 400;
        c->has_oscore = true;
    } else if (type && q->body_len && (c->format = cs_http_content_format(type)) < 0) {
        return *why = "no CoAP Content-Format for this Content-Type", 415;
    }
    if (accept && strcmp(accept, "*/*") && !strchr(accept, ',') && (c->accept = cs_http_content_format(accept)) < 0)
        return *why = "no CoAP Content-Format for this Accept", 406;
    c->body = q->body;
    c->body_len = q->body_len;
    q->body = NULL;
    return 0;
}

static enum MHD_Result run(hc_gateway_t *g, struct MHD_Connection *con, request_t *q)
{
    hc_cmd_t *c = q->cmd;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += HC_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&g->lock);
    if (g->tail)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    while (!c->done && !g->stopping)
        if (pthread_cond_timedwait(&g->changed, &g->lock, &ts) == ETIMEDOUT)
            break;
    bool done = c->done;
    if (!done)
        c->abandoned = true; /* the loop frees it in hc_done */
    pthread_mutex_unlock(&g->lock);
    if (!done) {
        q->cmd = NULL;
        return fail(con, 504, "no answer from the CoAP side in time");
    }
    return reply(con, c->status, c->content_type, c->oscore_header, c->resp, c->resp_len);
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)version;
    hc_gateway_t *g = cls;
    request_t *q = *ctx;
    if (!q) { /* headers only, so far */
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *ctx = q;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t need = q->body_len + *upload_size;
        if (need > HC_BODY_MAX) {
            q->too_large = true;
        } else if (!q->too_large) {
            if (need > q->body_cap) {
                size_t cap = q->body_cap ? q->body_cap : 1024;
                while (cap < need)
                    cap *= 2;
                uint8_t *nb = realloc(q->body, cap);
                if (!nb)
                    return MHD_NO;
                q->body = nb;
                q->body_cap = cap;
            }
            memcpy(q->body + q->body_len, upload, *upload_size);
            q->body_len = need;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_large)
        return fail(con, 413, "body over 1 MiB");
    if (!(q->cmd = calloc(1, sizeof *q->cmd)))
        return MHD_NO;
    const char *why = "";
    int status = map_request(con, g->prefix, url, method, q, q->cmd, &why);
    return status ? fail(con, status, why) : run(g, con, q);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **ctx, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)con, (void)why;
    request_t *q = *ctx;
    if (!q)
        return;
    if (q->cmd)
        free_cmd(q->cmd);
    free(q->body);
    free(q);
    *ctx = NULL;
}

hc_gateway_t *hc_start(const char *host, const char *port, const char *prefix, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", host ? host : "*", gai_strerror(rc));
        return NULL;
    }
    hc_gateway_t *g = calloc(1, sizeof *g);
    if (!g) {
        freeaddrinfo(ai);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    g->prefix = prefix;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    g->d = MHD_start_daemon(flags, 0, NULL, NULL, on_http, g, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, g, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)120, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!g->d) {
        snprintf(err, err_len, "cannot listen on %s:%s for HTTP", host ? host : "*", port);
        hc_stop(g);
        return NULL;
    }
    return g;
}

void hc_stop(hc_gateway_t *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    if (g->d)
        MHD_stop_daemon(g->d);
    for (hc_cmd_t *c; (c = hc_next(g));)
        hc_done(g, c, 503, NULL, 0);
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* ---------------------------------------------------------------- the mapping */

bool hc_cmd_to_coap(const hc_cmd_t *c, const uint8_t *token, size_t token_len, uint32_t b2_num, uint8_t b2_szx,
                    uint8_t *buf, size_t cap, size_t *n)
{
    coap_uri_t u;
    if (c->target[0] == '/') { /* an origin server's own path: no Uri-Host */
        const char *q = strchr(c->target, '?');
        u = (coap_uri_t){.path = c->target, .path_len = q ? (size_t)(q - c->target) : strlen(c->target),
                         .query = q ? q + 1 : NULL, .query_len = q ? strlen(q + 1) : 0,
                         .host_is_literal = true};
    } else if (coap_uri_parse(&u, c->target, strlen(c->target)) != COAP_OK) {
        return false;
    }
    coap_opt_t list[32];
    uint8_t arena[600];
    coap_optlist_t l;
    coap_builder_t b;
    coap_optlist_init(&l, list, 32, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, false);
    if (c->has_oscore)
        coap_optlist_add(&l, COAP_OPT_OSCORE, c->oscore, c->oscore_len);
    if (c->format >= 0)
        coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, (uint32_t)c->format);
    if (c->accept >= 0)
        coap_optlist_add_uint(&l, COAP_OPT_ACCEPT, (uint32_t)c->accept);
    if (b2_num)
        coap_optlist_add_uint(&l, COAP_OPT_BLOCK2, coap_block_encode(&(coap_block_t){.num = b2_num, .szx = b2_szx}));
    coap_builder_init(&b, buf, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, c->code, 0, token, token_len);
    if (coap_optlist_write(&l, &b) == COAP_OK && !b2_num)
        coap_builder_set_payload(&b, c->body, c->body_len);
    return coap_builder_finish(&b, n) == COAP_OK;
}

int hc_answer_of_coap(hc_cmd_t *c, const coap_msg_t *m, size_t body_len)
{
    coap_opt_t o;
    uint32_t format;
    if (coap_msg_find_option(m, COAP_OPT_OSCORE, &o)) {
        if (!cs_http_oscore_encode(o.val, o.len, c->oscore_header, sizeof c->oscore_header))
            return -1;
        snprintf(c->content_type, sizeof c->content_type, "%s", CS_HTTP_OSCORE_TYPE);
    } else if (coap_msg_find_option(m, COAP_OPT_CONTENT_FORMAT, &o) && coap_opt_uint(&o, &format)) {
        cs_http_media_type(format, c->content_type, sizeof c->content_type);
    } else if (body_len && COAP_CODE_CLASS(m->code) >= 4) { /* RFC 8075 §6.6: a diagnostic payload */
        snprintf(c->content_type, sizeof c->content_type, "text/plain;charset=utf-8");
    }
    return cs_http_status_of(m->code, body_len > 0);
}
