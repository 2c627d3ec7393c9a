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
    static const char *const marks[] = {"/coap://", "/coaps://", "/coap+tcp://", "?target_uri="};
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

bool hc_client_exchange(hc_client_t *h, const uint8_t *msg, size_t len, int verbose)
{
    coap_msg_t m;
    coap_opt_t o;
    if (coap_msg_parse(&m, msg, len) != COAP_OK || !cs_http_method_of(m.code)) {
        snprintf(h->why, sizeof h->why, "not a CoAP request");
        return false;
    }
    bool oscore = coap_msg_find_option(&m, COAP_OPT_OSCORE, &o);
    struct curl_slist *hdrs = NULL;
    char line[200], type[96];
    uint32_t v;
    if (oscore) { /* §11.2: the option in the header field, the ciphertext as the body */
        char enc[128];
        if (!cs_http_oscore_encode(o.val, o.len, enc, sizeof enc))
            return false;
        snprintf(line, sizeof line, "OSCORE: %s", enc);
        hdrs = curl_slist_append(hdrs, line);
        hdrs = curl_slist_append(hdrs, "Content-Type: " CS_HTTP_OSCORE_TYPE);
    } else {
        if (coap_msg_find_option(&m, COAP_OPT_CONTENT_FORMAT, &o) && coap_opt_uint(&o, &v)) {
            cs_http_media_type(v, type, sizeof type);
            snprintf(line, sizeof line, "Content-Type: %s", type);
            hdrs = curl_slist_append(hdrs, line);
        } else { /* none, rather than libcurl's form-urlencoded */
            hdrs = curl_slist_append(hdrs, "Content-Type:");
        }
        if (coap_msg_find_option(&m, COAP_OPT_ACCEPT, &o) && coap_opt_uint(&o, &v)) {
            cs_http_media_type(v, type, sizeof type);
            snprintf(line, sizeof line, "Accept: %s", type);
            hdrs = curl_slist_append(hdrs, line);
        }
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    CURL *c = curl_easy_init();
    answer_t a = {0};
    long status = 0;
    bool ok = false;
    if (c) {
        const char *url = oscore ? h->base : h->url;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, cs_http_method_of(m.code));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        if (m.payload_len || m.code != COAP_GET) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, m.payload ? (const char *)m.payload : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)m.payload_len);
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        if (verbose)
            fprintf(stderr, "> HTTP %s %s%s%s (%zu bytes body)\n", cs_http_method_of(m.code), url,
                    oscore ? "  OSCORE: " : "", oscore ? line + 8 : "", m.payload_len);
        CURLcode cr = curl_easy_perform(c);
        if (cr != CURLE_OK)
            snprintf(h->why, sizeof h->why, "%s", a.too_large ? "answer over 1 MiB" : curl_easy_strerror(cr));
        else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
            ok = to_coap(h, &m, status, &a);
        if (verbose && cr == CURLE_OK)
            fprintf(stderr, "< HTTP %ld %s%s%s (%zu bytes body)\n", status, a.type, a.oscore[0] ? "  OSCORE: " : "",
                    a.oscore, a.len);
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(hdrs);
    free(a.body);
    return ok;
}

void hc_client_free(hc_client_t *h)
{
    free(h->resp);
    h->resp = NULL;
}
