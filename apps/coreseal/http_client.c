/* The HTTP client side of the HTTP <-> CoAP mapping (http_client.h), on
 * libcurl: CoAP request -> HTTP request (method, Content-Type / Accept, the
 * OSCORE header field and application/oscore body), HTTP response -> the
 * CoAP response it stands for. */
#define _POSIX_C_SOURCE 200809L
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coreseal/coap.h"
#include "coreseal/http_map.h"

#define HC_CLIENT_BODY_MAX (1u << 20)

bool hc_client_is_http(const char *uri)
{
    return !strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8);
}

bool hc_client_init(hc_client_t *h, const char *uri, char *target, size_t cap)
{
    memset(h, 0, sizeof *h);
    if (strlen(uri) >= sizeof h->url)
        return false;
    snprintf(h->url, sizeof h->url, "%s", uri);
    /* the HC Proxy URI ends where the embedded target begins */
    static const char *const marks[] = {"/coap://", "/coaps://", "/coap+tcp://", "/coap+ws://", "?target_uri="};
    const char *at = NULL;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0] && !at; i++)
        at = strstr(uri, marks[i]);
    if (!at)
        return false;
    size_t plen = (size_t)(at - uri) + (*at == '/');
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%.*s", (int)plen, uri);
    const char *path = uri + 7 + (uri[4] == 's'); /* after "http[s]://" */
    path = strchr(path, '/');
    if (!path || path > at || !cs_http_target_uri(path, prefix + (path - uri), target, cap))
        return false;
    /* the base: HC Proxy URI + scheme://authority/ of the target */
    const char *auth = strstr(target, "://") + 3;
    const char *end = auth + strcspn(auth, "/?");
    int n = snprintf(h->base, sizeof h->base, "%s%.*s/", prefix, (int)(end - target), target);
    return n > 0 && (size_t)n < sizeof h->base;
}

typedef struct {
    uint8_t *body;
    size_t len;
    bool too_large;
    long status; /* 0 until the answer came */
    char oscore[128], type[96];
} answer_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    answer_t *a = arg;
    size_t k = size * n;
    uint8_t *nb = a->len + k <= HC_CLIENT_BODY_MAX ? realloc(a->body, a->len + k) : NULL;
    if (!nb) {
        a->too_large = true;
        return 0;
    }
    memcpy(nb + a->len, p, k);
    a->body = nb;
    a->len += k;
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    answer_t *a = arg;
    size_t k = size * n;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)k, p);
    line[strcspn(line, "\r\n")] = '\0';
    char *v = strchr(line, ':');
    if (v) {
        *v++ = '\0';
        v += strspn(v, " \t");
        if (!strcasecmp(line, "OSCORE"))
            snprintf(a->oscore, sizeof a->oscore, "%s", v);
        else if (!strcasecmp(line, "Content-Type"))
            snprintf(a->type, sizeof a->type, "%s", v);
    }
    return k;
}

/* The CoAP response an HTTP answer stands for: the request's token; for
 * OSCORE the outer 2.04 with the option from the header field (§11.3). */
static bool to_coap(hc_client_t *h, const coap_msg_t *req, long status, const answer_t *a)
{
    uint8_t osc[64];
    size_t osc_len = 0;
    bool oscore = a->oscore[0] && status == 200;
    if (oscore && !cs_http_oscore_decode(a->oscore, osc, sizeof osc, &osc_len)) {
        snprintf(h->why, sizeof h->why, "the proxy's OSCORE header field is not base64url");
        return false;
    }
    long cf = !oscore && a->type[0] ? cs_http_content_format(a->type) : -1;
    size_t cap = a->len + 64;
    free(h->resp);
    if (!(h->resp = malloc(cap)))
        return false;
    coap_builder_t b;
    coap_builder_init(&b, h->resp, cap, COAP_TRANSPORT_UDP, COAP_TYPE_ACK,
                      oscore ? COAP_CODE(2, 4) : cs_http_coap_code_of((int)status, req->code), req->mid, req->token,
                      req->token_len);
    if (oscore)
        coap_builder_add_option(&b, COAP_OPT_OSCORE, osc, osc_len);
    if (cf >= 0 && cf != CS_HTTP_OSCORE_CF)
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    coap_builder_set_payload(&b, a->body, a->len);
    if (coap_builder_finish(&b, &h->resp_len) != COAP_OK) {
        snprintf(h->why, sizeof h->why, "the HTTP answer does not map to CoAP");
        return false;
    }
    return true;
}

/* One HTTP exchange under way: the libcurl handle, its header list and
 * what the answer has brought so far. */
typedef struct hc_call {
    CURL *c;
    struct curl_slist *hdrs;
    answer_t a;
    coap_msg_t req; /* header and token of the CoAP request (views into msg) */
    uint8_t msg[1500];
    uint8_t *body;  /* a body gathered from Block1 blocks, else NULL */
    char oscore[128]; /* the OSCORE header field sent, "" for none */
    void *tag;
    bool ok;
    hc_client_t h;
    struct hc_call *next;
} hc_call_t;

static void call_free(hc_call_t *x)
{
    if (x->c)
        curl_easy_cleanup(x->c);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x->a.body);
    hc_client_free(&x->h);
    free(x);
}

/* The HTTP request a CoAP request maps to (RFC 7252 §10.1, RFC 8613 §11.2),
 * to url, with body instead of msg's payload if not NULL; NULL with why
 * when msg is no CoAP request this maps. */
static hc_call_t *call_new(const char *url, const uint8_t *msg, size_t len, const uint8_t *body, size_t body_len,
                           char *why, size_t cap)
{
    hc_call_t *x = len <= sizeof x->msg ? calloc(1, sizeof *x) : NULL;
    if (!x) {
        snprintf(why, cap, "request over %zu bytes, or out of memory", sizeof x->msg);
        return NULL;
    }
    memcpy(x->msg, msg, len);
    coap_opt_t o;
    if (coap_msg_parse(&x->req, x->msg, len) != COAP_OK || !cs_http_method_of(x->req.code)) {
        snprintf(why, cap, "not a CoAP request");
        free(x);
        return NULL;
    }
    char line[200], type[96];
    uint32_t v;
    if (coap_msg_find_option(&x->req, COAP_OPT_OSCORE, &o)) { /* the option as a header, the ciphertext as the body */
        if (!cs_http_oscore_encode(o.val, o.len, x->oscore, sizeof x->oscore)) {
            snprintf(why, cap, "OSCORE option too long for the header field");
            free(x);
            return NULL;
        }
        snprintf(line, sizeof line, "OSCORE: %s", x->oscore);
        x->hdrs = curl_slist_append(x->hdrs, line);
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type: " CS_HTTP_OSCORE_TYPE);
    } else {
        if (coap_msg_find_option(&x->req, COAP_OPT_CONTENT_FORMAT, &o) && coap_opt_uint(&o, &v)) {
            cs_http_media_type(v, type, sizeof type);
            snprintf(line, sizeof line, "Content-Type: %s", type);
            x->hdrs = curl_slist_append(x->hdrs, line);
        } else { /* none, rather than libcurl's form-urlencoded */
            x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
        }
        if (coap_msg_find_option(&x->req, COAP_OPT_ACCEPT, &o) && coap_opt_uint(&o, &v)) {
            cs_http_media_type(v, type, sizeof type);
            snprintf(line, sizeof line, "Accept: %s", type);
            x->hdrs = curl_slist_append(x->hdrs, line);
        }
    }
    x->hdrs = curl_slist_append(x->hdrs, "Expect:"); /* no 100-continue round trip */
    if (!(x->c = curl_easy_init())) {
        snprintf(why, cap, "cannot set up libcurl");
        call_free(x);
        return NULL;
    }
    if (body && !(x->body = malloc(body_len ? body_len : 1))) {
        snprintf(why, cap, "out of memory");
        call_free(x);
        return NULL;
    }
    if (body)
        memcpy(x->body, body, body_len);
    const uint8_t *pl = body ? x->body : x->req.payload;
    size_t pl_len = body ? body_len : x->req.payload_len;
    snprintf(x->h.url, sizeof x->h.url, "%s", url);
    curl_easy_setopt(x->c, CURLOPT_URL, x->h.url);
    curl_easy_setopt(x->c, CURLOPT_CUSTOMREQUEST, cs_http_method_of(x->req.code));
    curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->hdrs);
    if (pl_len || x->req.code != COAP_GET) {
        curl_easy_setopt(x->c, CURLOPT_POSTFIELDS, pl ? (const char *)pl : "");
        curl_easy_setopt(x->c, CURLOPT_POSTFIELDSIZE, (long)pl_len);
    }
    curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->c, CURLOPT_WRITEDATA, &x->a);
    curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->c, CURLOPT_HEADERDATA, &x->a);
    curl_easy_setopt(x->c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
    return x;
}

/* The transfer ended with cr: the answer as CoAP into x->h, or x->h.why. */
static bool call_done(hc_call_t *x, CURLcode cr)
{
    long status = 0;
    if (cr != CURLE_OK) {
        snprintf(x->h.why, sizeof x->h.why, "%s", x->a.too_large ? "answer over 1 MiB" : curl_easy_strerror(cr));
        x->h.timed_out = cr == CURLE_OPERATION_TIMEDOUT;
        return false;
    }
    if (curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        return false;
    x->a.status = status;
    return to_coap(&x->h, &x->req, status, &x->a);
}

bool hc_client_exchange(hc_client_t *h, const uint8_t *msg, size_t len, int verbose)
{
    coap_msg_t m;
    coap_opt_t o;
    bool oscore = coap_msg_parse(&m, msg, len) == COAP_OK && coap_msg_find_option(&m, COAP_OPT_OSCORE, &o);
    hc_call_t *x = call_new(oscore ? h->base : h->url, msg, len, NULL, 0, h->why, sizeof h->why);
    if (!x)
        return false;
    if (verbose)
        fprintf(stderr, "> HTTP %s %s%s%s (%zu bytes body)\n", cs_http_method_of(x->req.code), x->h.url,
                x->oscore[0] ? "  OSCORE: " : "", x->oscore, x->req.payload_len);
    bool ok = call_done(x, curl_easy_perform(x->c));
    if (verbose && x->a.status)
        fprintf(stderr, "< HTTP %ld %s%s%s (%zu bytes body)\n", x->a.status, x->a.type,
                x->a.oscore[0] ? "  OSCORE: " : "", x->a.oscore, x->a.len);
    free(h->resp);
    h->resp = x->h.resp; /* the answer moves over */
    h->resp_len = x->h.resp_len;
    x->h.resp = NULL;
    if (!ok)
        snprintf(h->why, sizeof h->why, "%s", x->h.why);
    call_free(x);
    return ok;
}

/* ---------------------------------------------------------------- many at once */

struct hc_multi {
    CURLM *m;
    hc_call_t *running, *finished, *handed_out;
};

hc_multi_t *hc_multi_new(void)
{
    hc_multi_t *m = calloc(1, sizeof *m);
    if (m && !(m->m = curl_multi_init())) {
        free(m);
        m = NULL;
    }
    return m;
}

static void free_list(hc_multi_t *m, hc_call_t *x)
{
    for (hc_call_t *next; x; x = next) {
        next = x->next;
        curl_multi_remove_handle(m->m, x->c);
        call_free(x);
    }
}

void hc_multi_free(hc_multi_t *m)
{
    if (!m)
        return;
    free_list(m, m->running);
    free_list(m, m->finished);
    free_list(m, m->handed_out);
    curl_multi_cleanup(m->m);
    free(m);
}

bool hc_multi_start(hc_multi_t *m, const char *url, const uint8_t *msg, size_t len, const uint8_t *body,
                    size_t body_len, void *tag, char *why, size_t cap)
{
    hc_call_t *x = call_new(url, msg, len, body, body_len, why, cap);
    if (!x)
        return false;
    if (curl_multi_add_handle(m->m, x->c) != CURLM_OK) {
        snprintf(why, cap, "libcurl refused the transfer");
        call_free(x);
        return false;
    }
    x->tag = tag;
    x->next = m->running;
    m->running = x;
    return true;
}

static void unlink_call(hc_call_t **list, hc_call_t *x)
{
    for (; *list; list = &(*list)->next)
        if (*list == x) {
            *list = x->next;
            return;
        }
}

const hc_client_t *hc_multi_next(hc_multi_t *m, void **tag, bool *ok)
{
    free_list(m, m->handed_out); /* the caller is done with the last one */
    m->handed_out = NULL;
    int running, left;
    curl_multi_perform(m->m, &running);
    for (CURLMsg *cm; (cm = curl_multi_info_read(m->m, &left));) {
        hc_call_t *x = NULL;
        if (cm->msg != CURLMSG_DONE || curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK)
            continue;
        x->ok = call_done(x, cm->data.result);
        unlink_call(&m->running, x);
        x->next = m->finished;
        m->finished = x;
    }
    hc_call_t *x = m->finished;
    if (!x)
        return NULL;
    m->finished = x->next;
    x->next = NULL;
    m->handed_out = x;
    *tag = x->tag;
    *ok = x->ok;
    return &x->h;
}

void hc_client_free(hc_client_t *h)
{
    free(h->resp);
    h->resp = NULL;
}
