/* The routes file of `coreseal proxy --routes FILE` (docs/proxies.md):
 * reverse-proxy routes by Uri-Host or by path prefix, and a default
 * backend, as JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/coap.h"
#include "coreseal/store.h"
#include "store_internal.h"

static cs_store_err_t fail(char *err, size_t err_len, cs_store_err_t code, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool target_ok(const char *t)
{
    coap_uri_t u;
    return coap_uri_parse(&u, t, strlen(t)) == COAP_OK &&
           (u.scheme_id == COAP_SCHEME_COAP || u.scheme_id == COAP_SCHEME_COAP_TCP ||
            u.scheme_id == COAP_SCHEME_COAP_WS || u.scheme_id == COAP_SCHEME_COAPS);
}

/* A string member into out; "" when absent. */
static cs_store_err_t get(json_t *o, const char *key, char *out, size_t cap, const char *where, char *err,
                          size_t err_len)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v)
        return CS_STORE_OK;
    if (!json_is_string(v) || !json_string_length(v))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s must be a non-empty string", where, key);
    if (json_string_length(v) >= cap)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s longer than %zu bytes", where, key, cap - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return CS_STORE_OK;
}

cs_store_err_t cs_proxy_routes_parse(const char *text, size_t len, cs_proxy_routes_t *r, char *err, size_t err_len)
{
    if (!text || !r)
        return CS_STORE_ERR_BAD_ARG;
    memset(r, 0, sizeof *r);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        cs_store_err_t e = fail(err, err_len, CS_STORE_ERR_SYNTAX, "line %d: %s", root ? 1 : jerr.line,
                                root ? "not a JSON object" : jerr.text);
        json_decref(root);
        return e;
    }
    json_t *routes = json_object_get(root, "routes");
    cs_store_err_t e = get(root, "default", r->default_target, sizeof r->default_target, "file", err, err_len);
    if (e == CS_STORE_OK && r->default_target[0] && !target_ok(r->default_target))
        e = fail(err, err_len, CS_STORE_ERR_VALUE, "default must be a coap://, coap+tcp://, coap+ws:// or coaps:// URI");
    if (e == CS_STORE_OK && routes && !json_is_array(routes))
        e = fail(err, err_len, CS_STORE_ERR_VALUE, "routes must be an array");
    if (e == CS_STORE_OK && json_array_size(routes) > CS_PROXY_MAX_ROUTES)
        e = fail(err, err_len, CS_STORE_ERR_VALUE, "at most %d routes", CS_PROXY_MAX_ROUTES);
    if (e == CS_STORE_OK && !json_array_size(routes) && !r->default_target[0])
        e = fail(err, err_len, CS_STORE_ERR_MISSING, "give routes, a default, or both");
    for (size_t i = 0; e == CS_STORE_OK && i < json_array_size(routes); i++) {
        json_t *o = json_array_get(routes, i);
        cs_proxy_route_t *rt = &r->route[i];
        char where[32];
        snprintf(where, sizeof where, "routes[%zu]", i);
        if (!json_is_object(o))
            e = fail(err, err_len, CS_STORE_ERR_VALUE, "%s must be an object", where);
        else if ((e = get(o, "host", rt->host, sizeof rt->host, where, err, err_len)) ||
                 (e = get(o, "path", rt->path, sizeof rt->path, where, err, err_len)) ||
                 (e = get(o, "target", rt->target, sizeof rt->target, where, err, err_len)))
            ;
        else if (!rt->host[0] == !rt->path[0])
            e = fail(err, err_len, CS_STORE_ERR_VALUE, "%s: give host or path (not both)", where);
        else if (rt->path[0] && rt->path[0] != '/')
            e = fail(err, err_len, CS_STORE_ERR_VALUE, "%s: path must start with /", where);
        else if (!rt->target[0] || !target_ok(rt->target))
            e = fail(err, err_len, CS_STORE_ERR_VALUE,
                     "%s: target must be a coap://, coap+tcp://, coap+ws:// or coaps:// URI", where);
        r->n = i + 1;
    }
    json_decref(root);
    if (e != CS_STORE_OK)
        r->n = 0;
    return e;
}

cs_store_err_t cs_proxy_routes_load(const char *path, cs_proxy_routes_t *r, char *err, size_t err_len)
{
    char *buf, inner[CS_STORE_ERRMSG_MAX];
    size_t n;
    cs_store_err_t e = cs_file_read_small(path, 65536, &buf, &n);
    if (e == CS_STORE_ERR_IO)
        return fail(err, err_len, e, "%s: %s", path ? path : "(null)", strerror(errno));
    if (e == CS_STORE_OK) {
        e = cs_proxy_routes_parse(buf, n, r, inner, sizeof inner);
        free(buf);
    } else {
        fail(inner, sizeof inner, e, "larger than 64 KiB");
    }
    if (e != CS_STORE_OK)
        fail(err, err_len, e, "%s: %s", path, inner);
    return e;
}
