/* CoAP URIs and option lists: RFC 7252 §6 (URI schemes), §6.4 (URI to
 * options, percent-decoding), §6.5 (options in number order); RFC 8323 §8
 * (coap+tcp, coap+ws). */
#include "coreseal/coap.h"

#include <string.h>

void coap_optlist_init(coap_optlist_t *l, coap_opt_t *opts, size_t cap, uint8_t *arena,
                       size_t arena_cap)
{
    memset(l, 0, sizeof *l);
    l->opts = opts;
    l->cap = cap;
    l->arena = arena;
    l->arena_cap = arena_cap;
}

/* Reserves room for one option value; NULL (and a sticky error) if full. */
static uint8_t *optlist_slot(coap_optlist_t *l, uint16_t num, size_t len)
{
    if (l->err != COAP_OK)
        return NULL;
    if (l->n == l->cap || len > l->arena_cap - l->used) {
        l->err = COAP_ERR_NO_SPACE;
        return NULL;
    }
    uint8_t *dst = l->arena + l->used;
    l->opts[l->n++] = (coap_opt_t){.num = num, .len = len, .val = dst};
    l->used += len;
    return dst;
}

void coap_optlist_add(coap_optlist_t *l, uint16_t num, const void *val, size_t len)
{
    if (len && !val) {
        l->err = COAP_ERR_BAD_ARG;
        return;
    }
    uint8_t *dst = optlist_slot(l, num, len);
    if (dst && len)
        memcpy(dst, val, len);
}

void coap_optlist_add_uint(coap_optlist_t *l, uint16_t num, uint32_t v)
{
    uint8_t tmp[4];
    size_t n = coap_encode_uint(v, tmp);
    coap_optlist_add(l, num, tmp, n);
}

coap_err_t coap_optlist_write(coap_optlist_t *l, coap_builder_t *b)
{
    if (l->err != COAP_OK)
        return l->err;
    /* insertion sort: stable, and option lists are short */
    for (size_t i = 1; i < l->n; i++) {
        coap_opt_t o = l->opts[i];
        size_t j = i;
        while (j > 0 && l->opts[j - 1].num > o.num) {
            l->opts[j] = l->opts[j - 1];
            j--;
        }
        l->opts[j] = o;
    }
    for (size_t i = 0; i < l->n; i++)
        coap_builder_add_option(b, l->opts[i].num, l->opts[i].val, l->opts[i].len);
    return b->err;
}

/* ---------------------------------------------------------------- URIs */

static const struct {
    const char *name;
    coap_scheme_t id;
    uint16_t port;
} schemes[] = {
    {"coap", COAP_SCHEME_COAP, 5683},          {"coaps", COAP_SCHEME_COAPS, 5684},
    {"coap+tcp", COAP_SCHEME_COAP_TCP, 5683},  {"coaps+tcp", COAP_SCHEME_COAPS_TCP, 5684},
    {"coap+ws", COAP_SCHEME_COAP_WS, 80},      {"coaps+ws", COAP_SCHEME_COAPS_WS, 443},
    /* a forward proxy's Proxy-Uri may name an HTTP resource (RFC 7252 §10.1) */
    {"http", COAP_SCHEME_HTTP, 80},            {"https", COAP_SCHEME_HTTPS, 443},
};

static bool span_eq(const char *a, size_t n, const char *z)
{
    return strlen(z) == n && memcmp(a, z, n) == 0;
}

static size_t scheme_index(const char *scheme, size_t len) /* the table's length: none */
{
    size_t i = 0;
    while (i < sizeof schemes / sizeof schemes[0] && !span_eq(scheme, len, schemes[i].name))
        i++;
    return i;
}

bool coap_scheme_lookup(const char *scheme, size_t len, coap_scheme_t *id)
{
    size_t i = scheme_index(scheme, len);
    if (i == sizeof schemes / sizeof schemes[0])
        return false;
    *id = schemes[i].id;
    return true;
}

uint16_t coap_uri_default_port(const char *scheme, size_t len)
{
    size_t i = scheme_index(scheme, len);
    return i < sizeof schemes / sizeof schemes[0] ? schemes[i].port : 0;
}

coap_err_t coap_uri_parse(coap_uri_t *u, const char *uri, size_t len)
{
    if (!u || !uri)
        return COAP_ERR_BAD_ARG;
    memset(u, 0, sizeof *u);
    const char *p = uri, *end = uri + len;
    const char *colon = memchr(p, ':', len);
    if (!colon || end - colon < 3 || colon[1] != '/' || colon[2] != '/')
        return COAP_ERR_BAD_URI;
    u->scheme = p;
    u->scheme_len = (size_t)(colon - p);
    size_t k = scheme_index(u->scheme, u->scheme_len);
    if (k == sizeof schemes / sizeof schemes[0])
        return COAP_ERR_BAD_URI;
    u->scheme_id = schemes[k].id;
    u->port = schemes[k].port;
    p = colon + 3;
    /* §6: a fragment is not allowed */
    if (memchr(p, '#', (size_t)(end - p)))
        return COAP_ERR_BAD_URI;
    const char *host_end;
    if (p < end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return COAP_ERR_BAD_URI;
        u->host = p + 1;
        u->host_len = (size_t)(rb - p - 1);
        u->host_is_literal = true;
        host_end = rb + 1;
    } else {
        host_end = p;
        while (host_end < end && *host_end != ':' && *host_end != '/' && *host_end != '?')
            host_end++;
        u->host = p;
        u->host_len = (size_t)(host_end - p);
        bool dotted = u->host_len > 0;
        for (size_t i = 0; i < u->host_len; i++)
            dotted &= (u->host[i] >= '0' && u->host[i] <= '9') || u->host[i] == '.';
        u->host_is_literal = dotted;
    }
    if (u->host_len == 0)
        return COAP_ERR_BAD_URI;
    p = host_end;
    if (p < end && *p == ':') {
        uint32_t port = 0;
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (uint32_t)(*p++ - '0');
        if (p == digits || port > 65535)
            return COAP_ERR_BAD_URI;
        u->port = (uint16_t)port;
    }
    if (p < end && *p != '/' && *p != '?')
        return COAP_ERR_BAD_URI;
    const char *q = memchr(p, '?', (size_t)(end - p));
    u->path = p;
    u->path_len = (size_t)((q ? q : end) - p);
    if (q) {
        u->query = q + 1;
        u->query_len = (size_t)(end - q - 1);
    }
    return COAP_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One path segment or query argument, percent-decoded into the arena. */
static void add_decoded(coap_optlist_t *l, uint16_t num, const char *s, size_t n)
{
    uint8_t *dst = optlist_slot(l, num, n); /* decoded is never longer */
    if (!dst)
        return;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                l->err = COAP_ERR_BAD_URI;
                return;
            }
            dst[out++] = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else {
            dst[out++] = (uint8_t)s[i];
        }
    }
    /* give back what decoding saved */
    l->opts[l->n - 1].len = out;
    l->used -= n - out;
}

void coap_optlist_add_uri(coap_optlist_t *l, const coap_uri_t *u, bool proxy)
{
    if (proxy) {
        coap_optlist_add(l, COAP_OPT_PROXY_SCHEME, u->scheme, u->scheme_len);
        coap_optlist_add(l, COAP_OPT_URI_HOST, u->host, u->host_len);
    } else if (!u->host_is_literal) {
        coap_optlist_add(l, COAP_OPT_URI_HOST, u->host, u->host_len);
    }
    /* §6.4 step 6: a direct request goes to the URI's port, so Uri-Port
     * never differs from it; a proxy needs it unless it is the default. */
    if (proxy && u->port != coap_uri_default_port(u->scheme, u->scheme_len))
        coap_optlist_add_uint(l, COAP_OPT_URI_PORT, u->port);
    /* "/a/b" -> "a", "b"; "/" and "" -> no Uri-Path (§6.4 step 8) */
    const char *p = u->path, *end = u->path + u->path_len;
    if (p < end && *p == '/')
        p++;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        add_decoded(l, COAP_OPT_URI_PATH, p, (size_t)(seg_end - p));
        p = slash ? slash + 1 : end;
    }
    p = u->query;
    end = u->query ? u->query + u->query_len : NULL;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *arg_end = amp ? amp : end;
        add_decoded(l, COAP_OPT_URI_QUERY, p, (size_t)(arg_end - p));
        p = amp ? amp + 1 : end;
    }
}
