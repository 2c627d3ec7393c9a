/* The REST API of `coreseal lwm2m server` over libmicrohttpd (see
 * lwm2m_rest.h). A command belongs to its HTTP thread until queued; then
 * whoever of the thread and the loop finishes with it last frees it (a
 * thread that stopped waiting marks it abandoned). */
#define _POSIX_C_SOURCE 200809L
#include "lwm2m_rest.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/coap.h"
#include "coreseal/common.h"
#include "coreseal/lwm2m.h"

#define REST_EVENTS 256        /* events kept for streams that fall behind */
#define REST_KEEPALIVE_S 15

struct rest {
    struct MHD_Daemon *d;
    char token[128]; /* "" for none */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a command answered, an event published, stopping */
    rest_cmd_t *head, *tail;
    char *events[REST_EVENTS]; /* "event: T\ndata: J\n\n" */
    uint64_t n_events;
    bool stopping;
};

/* Per HTTP request. */
typedef struct {
    rest_cmd_t *cmd;
    uint8_t *body; /* grows up to REST_BODY_MAX */
    size_t body_len, body_cap;
    bool too_large;
} request_t;

static void free_cmd(rest_cmd_t *cmd)
{
    free(cmd->body);
    free(cmd->payload);
    free(cmd);
}

/* Per event stream. */
typedef struct {
    rest_t *r;
    uint64_t next;
    char out[2048];
    size_t len, off;
} stream_t;

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---------------------------------------------------------------- the loop's side */

rest_cmd_t *rest_next(rest_t *r)
{
    pthread_mutex_lock(&r->lock);
    rest_cmd_t *c = r->head;
    if (c) {
        r->head = c->next;
        if (!r->head)
            r->tail = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    return c;
}

void rest_done(rest_t *r, rest_cmd_t *cmd, int status, const char *json)
{
    pthread_mutex_lock(&r->lock);
    free(cmd->body);
    cmd->body = strdup(json ? json : "{}");
    cmd->status = status;
    cmd->done = true;
    bool orphan = cmd->abandoned; /* its thread is gone: ours to free */
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    if (orphan)
        free_cmd(cmd);
}

void rest_event(rest_t *r, const char *type, const char *json)
{
    size_t n = strlen(type) + strlen(json) + 20;
    char *e = malloc(n);
    if (!e)
        return;
    snprintf(e, n, "event: %s\ndata: %s\n\n", type, json);
    pthread_mutex_lock(&r->lock);
    char **slot = &r->events[r->n_events % REST_EVENTS];
    free(*slot);
    *slot = e;
    r->n_events++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

/* ---------------------------------------------------------------- HTTP */

static enum MHD_Result send_json(struct MHD_Connection *con, int status, const char *json)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *con, int status, const char *what)
{
    char json[256];
    snprintf(json, sizeof json, "{\"error\":\"%s\"}", what);
    return send_json(con, status, json);
}

/* Event stream: waits for the next event (or a keep-alive comment). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    rest_t *r = s->r;
    if (s->off == s->len) {
        struct timespec ts;
        deadline_in(&ts, REST_KEEPALIVE_S * 1000L);
        pthread_mutex_lock(&r->lock);
        while (!r->stopping && s->next == r->n_events)
            if (pthread_cond_timedwait(&r->changed, &r->lock, &ts) == ETIMEDOUT)
                break;
        if (r->stopping) {
            pthread_mutex_unlock(&r->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (r->n_events - s->next > REST_EVENTS) /* fell behind: the oldest kept */
            s->next = r->n_events - REST_EVENTS;
        if (s->next < r->n_events) {
            snprintf(s->out, sizeof s->out, "%s", r->events[s->next % REST_EVENTS]);
            s->next++;
        } else {
            snprintf(s->out, sizeof s->out, ": keep-alive\n\n");
        }
        pthread_mutex_unlock(&r->lock);
        s->len = strlen(s->out);
        s->off = 0;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static enum MHD_Result open_stream(rest_t *r, struct MHD_Connection *con)
{
    stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->r = r;
    pthread_mutex_lock(&r->lock);
    s->next = r->n_events; /* events from now on */
    pthread_mutex_unlock(&r->lock);
    snprintf(s->out, sizeof s->out, ": coreseal lwm2m server events\n\n");
    s->len = strlen(s->out);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, s, free);
    if (!resp) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ok = MHD_queue_response(con, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static long format_of(const char *name)
{
    static const struct {
        const char *name;
        long cf;
    } names[] = {{"text", LWM2M_CF_TEXT},   {"text/plain", LWM2M_CF_TEXT},   {"opaque", LWM2M_CF_OPAQUE},
                 {"application/octet-stream", LWM2M_CF_OPAQUE},               {"tlv", LWM2M_CF_TLV},
                 {"application/vnd.oma.lwm2m+tlv", LWM2M_CF_TLV},             {"senml-cbor", LWM2M_CF_SENML_CBOR},
                 {"application/senml+cbor", LWM2M_CF_SENML_CBOR},             {"link", LWM2M_CF_LINK},
                 {"lwm2m-cbor", LWM2M_CF_LWM2M_CBOR},                         {"cbor", LWM2M_CF_CBOR},
                 {"application/vnd.oma.lwm2m+cbor", LWM2M_CF_LWM2M_CBOR},     {"application/cbor", LWM2M_CF_CBOR},
                 {"senml-json", LWM2M_CF_SENML_JSON},                         {"application/senml+json", LWM2M_CF_SENML_JSON}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(name, names[i].name, strlen(names[i].name)) &&
            (name[strlen(names[i].name)] == 0 || name[strlen(names[i].name)] == ';'))
            return names[i].cf;
    return -1;
}

/* Query arguments back into "k=v&k2" (Write-Attributes). */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    rest_cmd_t *c = cls;
    size_t n = strlen(c->query);
    if (!strcmp(key, "format") || !strcmp(key, "discover"))
        return MHD_YES;
    snprintf(c->query + n, sizeof c->query - n, "%s%s%s%s", n ? "&" : "", key, value ? "=" : "", value ? value : "");
    return MHD_YES;
}

/* /api/clients[/EP[/PATH][/observe]] into cmd; an HTTP status when it is
 * not one, 0 when it is. */
static int parse_target(struct MHD_Connection *con, const char *url, const char *method, request_t *q,
                        rest_cmd_t *c)
{
    const char *p = url + strlen("/api/clients");
    c->accept = c->format = -1;
    if (*p == 0 || !strcmp(p, "/")) {
        c->kind = REST_LIST;
        return strcmp(method, "GET") ? MHD_HTTP_METHOD_NOT_ALLOWED : 0;
    }
    if (*p++ != '/')
        return MHD_HTTP_NOT_FOUND;
    size_t el = strcspn(p, "/");
    if (el == 0 || el >= sizeof c->ep)
        return MHD_HTTP_NOT_FOUND;
    memcpy(c->ep, p, el);
    p += el;
    if (*p == 0) {
        c->kind = REST_CLIENT;
        return strcmp(method, "GET") ? MHD_HTTP_METHOD_NOT_ALLOWED : 0;
    }
    size_t pl = strlen(p);
    bool observe = pl >= 8 && !strcmp(p + pl - 8, "/observe");
    if (observe)
        pl -= 8;
    lwm2m_path_t path;
    if (pl >= sizeof c->path || lwm2m_path_parse(&path, p, pl) != LWM2M_OK)
        return MHD_HTTP_BAD_REQUEST;
    memcpy(c->path, p, pl);
    if (observe) {
        c->kind = !strcmp(method, "POST") ? REST_OBSERVE : REST_CANCEL;
        return !strcmp(method, "POST") || !strcmp(method, "DELETE") ? 0 : MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    c->kind = REST_DM;
    const char *fmt = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "format");
    if (fmt && (c->accept = format_of(fmt)) < 0)
        return MHD_HTTP_BAD_REQUEST;
    if (!strcmp(method, "GET")) {
        c->method = COAP_GET;
        if (MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "discover"))
            c->accept = LWM2M_CF_LINK;
        return 0;
    }
    c->method = !strcmp(method, "PUT") ? COAP_PUT : !strcmp(method, "POST") ? COAP_POST
                : !strcmp(method, "DELETE") ? COAP_DELETE : 0;
    if (!c->method)
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, add_arg, c);
    if (q->body_len) {
        c->format = format_of(MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type"));
        if (c->format < 0)
            return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
        c->payload = q->body; /* the command takes the body over */
        c->payload_len = q->body_len;
        q->body = NULL;
    }
    return 0;
}

/* Queues the command and waits for the loop's answer. */
static enum MHD_Result run_command(rest_t *r, struct MHD_Connection *con, request_t *q)
{
    rest_cmd_t *c = q->cmd;
    struct timespec ts;
    deadline_in(&ts, REST_TIMEOUT_MS);
    pthread_mutex_lock(&r->lock);
    c->next = NULL;
    if (r->tail)
        r->tail->next = c;
    else
        r->head = c;
    r->tail = c;
    while (!c->done && !r->stopping)
        if (pthread_cond_timedwait(&r->changed, &r->lock, &ts) == ETIMEDOUT)
            break;
    bool done = c->done;
    if (!done)
        c->abandoned = true; /* queued or with the loop: rest_done frees it */
    pthread_mutex_unlock(&r->lock);
    if (!done) {
        q->cmd = NULL;
        return send_error(con, MHD_HTTP_GATEWAY_TIMEOUT, r->stopping ? "the server is stopping"
                                                                      : "no answer from the LwM2M server loop");
    }
    return send_json(con, c->status, c->body);
}

/* "Authorization: Bearer TOKEN", compared in constant time. */
static bool authorized(const rest_t *r, struct MHD_Connection *con)
{
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(r->token);
    return h && !strncmp(h, "Bearer ", 7) && strlen(h + 7) == n &&
           cs_ct_equal((const uint8_t *)h + 7, (const uint8_t *)r->token, n);
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)version;
    rest_t *r = cls;
    request_t *q = *ctx;
    if (!q) { /* first call: headers only */
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *ctx = q;
        return MHD_YES;
    }
    if (*upload_size) { /* body, in pieces */
        size_t need = q->body_len + *upload_size;
        if (need > REST_BODY_MAX) {
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
        return send_error(con, MHD_HTTP_CONTENT_TOO_LARGE, "body over 1 MiB");
    if (r->token[0] && !authorized(r, con)) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen("{\"error\":\"Authorization: Bearer TOKEN needed\"}"),
            (void *)"{\"error\":\"Authorization: Bearer TOKEN needed\"}", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
        MHD_add_response_header(resp, "Content-Type", "application/json");
        enum MHD_Result ok = MHD_queue_response(con, MHD_HTTP_UNAUTHORIZED, resp);
        MHD_destroy_response(resp);
        return ok;
    }
    if (!strcmp(url, "/api/events"))
        return strcmp(method, "GET") ? send_error(con, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only")
                                     : open_stream(r, con);
    if (strncmp(url, "/api/clients", 12) != 0)
        return send_error(con, MHD_HTTP_NOT_FOUND, "try /api/clients or /api/events");
    if (!(q->cmd = calloc(1, sizeof *q->cmd)))
        return MHD_NO;
    int status = parse_target(con, url, method, q, q->cmd);
    if (status)
        return send_error(con, status, status == MHD_HTTP_BAD_REQUEST ? "not an LwM2M path or format"
                                       : status == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE
                                           ? "Content-Type: text/plain, application/octet-stream, "
                                             "application/vnd.oma.lwm2m+tlv or application/senml+cbor"
                                           : "no such resource or method");
    return run_command(r, con, q);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **ctx, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)con, (void)why;
    request_t *q = *ctx;
    if (!q)
        return;
    if (q->cmd) /* answered (or never queued): ours */
        free_cmd(q->cmd);
    free(q->body);
    free(q);
    *ctx = NULL;
}

rest_t *rest_start(const char *host, const char *port, const char *token, char *err, size_t err_len)
{
    if (token && strlen(token) >= sizeof ((rest_t *)0)->token) {
        snprintf(err, err_len, "the HTTP token is longer than %zu characters", sizeof ((rest_t *)0)->token - 1);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", host ? host : "*", gai_strerror(rc));
        return NULL;
    }
    rest_t *r = calloc(1, sizeof *r);
    if (!r) {
        freeaddrinfo(ai);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    if (token)
        snprintf(r->token, sizeof r->token, "%s", token);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    r->d = MHD_start_daemon(flags, 0, NULL, NULL, on_http, r, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)60, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!r->d) {
        snprintf(err, err_len, "cannot listen on %s:%s for HTTP", host ? host : "*", port);
        rest_stop(r);
        return NULL;
    }
    return r;
}

void rest_stop(rest_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    if (r->d)
        MHD_stop_daemon(r->d);
    /* commands the loop never took: their threads have given up */
    for (rest_cmd_t *c; (c = rest_next(r));)
        rest_done(r, c, 503, "{\"error\":\"stopping\"}");
    for (size_t i = 0; i < REST_EVENTS; i++)
        free(r->events[i]);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
