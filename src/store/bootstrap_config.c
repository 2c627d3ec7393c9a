/* The LwM2M Bootstrap-Server's account file (see store.h): JSON through
 * jansson, every member checked, errors naming the account and member. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A string member into out (relative paths joined to base_dir). */
static cs_store_err_t get_str(json_t *obj, const char *key, bool required, bool path, const char *base_dir,
                              char *out, size_t cap, size_t i, char *err, size_t err_len)
{
    json_t *v = json_object_get(obj, key);
    out[0] = 0;
    if (!v && !required)
        return CS_STORE_OK;
    if (!v)
        return fail(err, err_len, CS_STORE_ERR_MISSING, "accounts[%zu]: %s is required", i, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || memchr(json_string_value(v), 0, json_string_length(v)))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s must be a non-empty string", i, key);
    const char *s = json_string_value(v);
    bool join = path && s[0] != '/' && base_dir && base_dir[0];
    int n = join ? snprintf(out, cap, "%s/%s", base_dir, s) : snprintf(out, cap, "%s", s);
    if (n < 0 || (size_t)n >= cap)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s longer than %zu bytes", i, key, cap - 1);
    return CS_STORE_OK;
}

/* A server member (where: "server" or "servers[k]"). */
static cs_store_err_t get_uint(json_t *obj, const char *where, const char *key, json_int_t min, json_int_t max,
                               json_int_t dflt, json_int_t *out, size_t i, char *err, size_t err_len)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v)
        return CS_STORE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s.%s must be an integer %lld..%lld", i,
                    where, key, (long long)min, (long long)max);
    *out = json_integer_value(v);
    return CS_STORE_OK;
}

/* "psk_key": absent, or 1..cap bytes in hex. */
static bool get_key(json_t *obj, uint8_t *out, size_t cap, size_t *len)
{
    json_t *key = json_object_get(obj, "psk_key");
    *len = 0;
    return !key || (json_is_string(key) &&
                    cs_hex_decode(json_string_value(key), json_string_length(key), out, cap, len) && *len);
}

/* An integer member of an access_control entry within min..max. */
static bool aco_int(json_t *o, const char *key, json_int_t min, json_int_t max, uint16_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return false;
    *out = (uint16_t)json_integer_value(v);
    return true;
}

/* "access_control": the account's Access Control instances (object 2). */
static cs_store_err_t parse_access(json_t *list, size_t i, cs_bs_account_t *acc, char *err, size_t err_len)
{
    if (!list)
        return CS_STORE_OK;
    if (!json_is_array(list) || json_array_size(list) > CS_BS_MAX_ACO)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: access_control must be an array of at most %d",
                    i, CS_BS_MAX_ACO);
    for (size_t k = 0; k < json_array_size(list); k++) {
        json_t *o = json_array_get(list, k), *acl = json_object_get(o, "acl");
        lwm2m_aco_t *a = &acc->aco[k];
        const char *key;
        json_t *v;
        if (!json_is_object(o) || !aco_int(o, "object", 1, 65534, &a->object) || a->object == 21 ||
            !aco_int(o, "instance", 0, 65535, &a->instance) || !aco_int(o, "owner", 0, 65535, &a->owner))
            return fail(err, err_len, CS_STORE_ERR_VALUE,
                        "accounts[%zu]: access_control[%zu] needs object (1..65534, not 21), instance (0..65535; 65535: "
                        "Create) and owner (an SSID)", i, k);
        if (acl && (!json_is_object(acl) || json_object_size(acl) > LWM2M_ACO_MAX_ACL))
            return fail(err, err_len, CS_STORE_ERR_VALUE,
                        "accounts[%zu]: access_control[%zu].acl must map at most %d SSIDs to rights", i, k,
                        LWM2M_ACO_MAX_ACL);
        json_object_foreach(acl, key, v) {
            char *end;
            long ssid = strtol(key, &end, 10);
            if (*end || end == key || ssid < 0 || ssid > 65534 || !json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > LWM2M_ACL_ALL)
                return fail(err, err_len, CS_STORE_ERR_VALUE,
                            "accounts[%zu]: access_control[%zu].acl: \"%s\" must be an SSID (0: everyone else) with "
                            "rights 0..31", i, k, key);
            a->ssid[a->n_acl] = (uint16_t)ssid;
            a->rights[a->n_acl++] = (uint8_t)json_integer_value(v);
        }
        acc->n_aco = k + 1;
    }
    return CS_STORE_OK;
}

/* One server account of accounts[i] (where: "server" or "servers[k]"). */
static cs_store_err_t parse_server(json_t *srv, const char *where, size_t i, const char *base_dir, cs_bs_server_t *sv,
                                   char *err, size_t err_len)
{
    cs_store_err_t e;
    json_int_t ssid, lifetime, usage;
    if (!json_is_object(srv))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s must be an object with uri and ssid", i,
                    where);
    if ((e = get_str(srv, "uri", true, false, NULL, sv->uri, sizeof sv->uri, i, err, err_len)) ||
        (e = get_str(srv, "binding", false, false, NULL, sv->binding, sizeof sv->binding, i, err, err_len)) ||
        (e = get_str(srv, "oscore", false, true, base_dir, sv->oscore, sizeof sv->oscore, i, err, err_len)) ||
        (e = get_uint(srv, where, "ssid", 1, 65534, 0, &ssid, i, err, err_len)) ||
        (e = get_uint(srv, where, "lifetime", 1, 0xffffffff, 86400, &lifetime, i, err, err_len)) ||
        (e = get_str(srv, "psk_identity", false, false, NULL, sv->psk_identity, sizeof sv->psk_identity, i, err,
                     err_len)) ||
        (e = get_str(srv, "certificate", false, true, base_dir, sv->certificate, sizeof sv->certificate, i, err,
                     err_len)) ||
        (e = get_str(srv, "private_key", false, true, base_dir, sv->private_key, sizeof sv->private_key, i, err,
                     err_len)) ||
        (e = get_str(srv, "server_certificate", false, true, base_dir, sv->server_certificate,
                     sizeof sv->server_certificate, i, err, err_len)) ||
        (e = get_uint(srv, where, "certificate_usage", 0, 3, 3, &usage, i, err, err_len)))
        return e;
    if (ssid == 0)
        return fail(err, err_len, CS_STORE_ERR_MISSING, "accounts[%zu]: %s.ssid is required", i, where);
    if (!get_key(srv, sv->psk_key, sizeof sv->psk_key, &sv->psk_key_len))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s.psk_key must be 1..64 bytes in hex", i,
                    where);
    bool psk = sv->psk_identity[0] && sv->psk_key_len;
    bool cert = sv->certificate[0] || sv->private_key[0] || sv->server_certificate[0];
    if (cert && (psk || !sv->certificate[0] || !sv->private_key[0] || !sv->server_certificate[0]))
        return fail(err, err_len, CS_STORE_ERR_VALUE,
                    "accounts[%zu]: DTLS Certificate mode takes %s.certificate, private_key and server_certificate "
                    "(PEM files), and no PSK", i, where);
    bool dtls = strncmp(sv->uri, "coaps://", 8) == 0;
    bool tcp = strncmp(sv->uri, "coap+tcp://", 11) == 0;
    if (!dtls && !tcp && strncmp(sv->uri, "coap://", 7) != 0)
        return fail(err, err_len, CS_STORE_ERR_VALUE,
                    "accounts[%zu]: %s.uri must be coap://, coaps:// or coap+tcp://HOST[:PORT]", i, where);
    if (dtls != (psk || cert))
        return fail(err, err_len, CS_STORE_ERR_VALUE,
                    "accounts[%zu]: a coaps:// %s.uri goes with psk_identity and psk_key (DTLS PSK) or "
                    "certificate, private_key and server_certificate (DTLS Certificate), a coap:// one with neither",
                    i, where);
    sv->ssid = (uint16_t)ssid;
    sv->lifetime = (uint32_t)lifetime;
    sv->certificate_usage = (uint8_t)usage;
    if (!sv->binding[0])
        strcpy(sv->binding, tcp ? "T" : "U");
    return CS_STORE_OK;
}

static cs_store_err_t parse_account(json_t *a, size_t i, const char *base_dir, cs_bs_account_t *acc, char *err,
                                    size_t err_len)
{
    cs_store_err_t e;
    if (!json_is_object(a))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu] must be an object", i);
    json_t *one = json_object_get(a, "server"), *many = json_object_get(a, "servers");
    size_t n = many ? json_array_size(many) : 1;
    if (!one == !many || (many && (!json_is_array(many) || n == 0 || n > CS_BS_MAX_SERVERS)))
        return fail(err, err_len, one || many ? CS_STORE_ERR_VALUE : CS_STORE_ERR_MISSING,
                    "accounts[%zu]: server must be an object with uri and ssid (or servers an array of 1..%d such "
                    "objects, not both)", i, CS_BS_MAX_SERVERS);
    if ((e = get_str(a, "endpoint", true, false, NULL, acc->endpoint, sizeof acc->endpoint, i, err, err_len)) ||
        (e = get_str(a, "oscore", false, true, base_dir, acc->oscore, sizeof acc->oscore, i, err, err_len)))
        return e;
    if (!get_key(a, acc->bootstrap_psk_key, sizeof acc->bootstrap_psk_key, &acc->bootstrap_psk_key_len))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: psk_key must be 1..64 bytes in hex", i);
    for (size_t k = 0; k < n; k++) {
        char where[16] = "server";
        if (many)
            snprintf(where, sizeof where, "servers[%zu]", k);
        if ((e = parse_server(many ? json_array_get(many, k) : one, where, i, base_dir, &acc->servers[k], err,
                              err_len)) != CS_STORE_OK)
            return e;
        for (size_t j = 0; j < k; j++)
            if (acc->servers[j].ssid == acc->servers[k].ssid)
                return fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: %s.ssid %u is taken by servers[%zu]", i,
                            where, acc->servers[k].ssid, j);
        acc->n_servers = k + 1;
    }
    return parse_access(json_object_get(a, "access_control"), i, acc, err, err_len);
}

cs_store_err_t cs_bs_config_parse(const char *text, size_t len, const char *base_dir, cs_bs_config_t *cfg,
                                  char *err, size_t err_len)
{
    if (!text || !cfg)
        return CS_STORE_ERR_BAD_ARG;
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return fail(err, err_len, CS_STORE_ERR_SYNTAX, "line %d: %s", root ? 1 : jerr.line,
                    root ? "not a JSON object" : jerr.text);
    }
    json_t *accounts = json_object_get(root, "accounts");
    cs_store_err_t e = CS_STORE_OK;
    if (!json_is_array(accounts) || json_array_size(accounts) == 0)
        e = fail(err, err_len, CS_STORE_ERR_MISSING, "accounts must be a non-empty array");
    else if (json_array_size(accounts) > CS_BS_MAX_ACCOUNTS)
        e = fail(err, err_len, CS_STORE_ERR_VALUE, "at most %d accounts", CS_BS_MAX_ACCOUNTS);
    for (size_t i = 0; e == CS_STORE_OK && i < json_array_size(accounts); i++) {
        e = parse_account(json_array_get(accounts, i), i, base_dir, &cfg->acc[i], err, err_len);
        for (size_t k = 0; e == CS_STORE_OK && k < i; k++)
            if (!strcmp(cfg->acc[k].endpoint, cfg->acc[i].endpoint))
                e = fail(err, err_len, CS_STORE_ERR_VALUE, "accounts[%zu]: endpoint \"%s\" appears twice", i,
                         cfg->acc[i].endpoint);
        cfg->n = i + 1;
    }
    json_decref(root);
    if (e != CS_STORE_OK)
        cfg->n = 0;
    return e;
}

cs_store_err_t cs_bs_config_load(const char *path, cs_bs_config_t *cfg, char *err, size_t err_len)
{
    if (!path || !cfg)
        return CS_STORE_ERR_BAD_ARG;
    char *buf;
    size_t n;
    cs_store_err_t e = cs_file_read_small(path, 65536, &buf, &n);
    if (e != CS_STORE_OK)
        return fail(err, err_len, e, "%s: %s", path, e == CS_STORE_ERR_IO ? strerror(errno) : "larger than 64 KiB");
    char dir[CS_STORE_PATH_MAX], inner[CS_STORE_ERRMSG_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        dir[0] = 0;
    e = cs_bs_config_parse(buf, n, dir, cfg, inner, sizeof inner);
    free(buf);
    if (e != CS_STORE_OK)
        fail(err, err_len, e, "%s: %s", path, inner);
    return e;
}
