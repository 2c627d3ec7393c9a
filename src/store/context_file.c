/* OSCORE context files: coreseal's JSON format and libcoap's
 * `name,type,value` format (coap-oscore-conf(5)), both into one struct.
 * The formats are documented in docs/context-files.md. */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/store.h"
#include "store_internal.h"

#include "coreseal/cose.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cs_store_err_t fail(char *err, size_t err_len, cs_store_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

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

/* Where each byte-string parameter lives in the struct. */
typedef struct {
    const char *name;
    size_t off, len_off, cap;
} bytes_field_t;

#define BF(field, cap) {#field, offsetof(cs_context_file_t, field), \
                        offsetof(cs_context_file_t, field##_len), cap}
static const bytes_field_t bytes_fields[] = {
    BF(master_secret, OSCORE_MAX_SECRET_LEN), BF(master_salt, OSCORE_MAX_SALT_LEN),
    BF(sender_id, OSCORE_MAX_ID_LEN),         BF(recipient_id, OSCORE_MAX_ID_LEN),
    BF(id_context, OSCORE_MAX_ID_CONTEXT_LEN),
};

static const bytes_field_t *find_bytes_field(const char *name)
{
    for (size_t i = 0; i < sizeof bytes_fields / sizeof bytes_fields[0]; i++)
        if (strcmp(bytes_fields[i].name, name) == 0)
            return &bytes_fields[i];
    return NULL;
}

/* Stores hex (or raw ASCII) bytes; records presence of the ID Context. */
static cs_store_err_t set_bytes(cs_context_file_t *cf, const bytes_field_t *f, const char *val,
                                size_t n, bool hex, const char *where, char *err, size_t err_len)
{
    uint8_t *dst = (uint8_t *)cf + f->off;
    size_t *len = (size_t *)((uint8_t *)cf + f->len_off);
    if (hex) {
        if (!cs_hex_decode(val, n, dst, f->cap, len))
            return fail(err, err_len, CS_STORE_ERR_VALUE,
                        "%s: %s must be an even number of hex digits, at most %zu bytes", where,
                        f->name, f->cap);
    } else {
        if (n > f->cap)
            return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s is longer than %zu bytes",
                        where, f->name, f->cap);
        memcpy(dst, val, n);
        *len = n;
    }
    if (f->off == offsetof(cs_context_file_t, id_context))
        cf->has_id_context = true;
    return CS_STORE_OK;
}

/* An algorithm given by COSE number or by name. */
static cs_store_err_t set_alg(int32_t *out, bool aead, long num, const char *name,
                              const char *where, char *err, size_t err_len)
{
    const cose_alg_info_t *a = name ? cose_alg_by_name(name) : cose_alg_by_id((int32_t)num);
    bool ok = a && (aead ? a->kind == COSE_ALG_KIND_AEAD
                         : a->kind == COSE_ALG_KIND_HKDF || a->kind == COSE_ALG_KIND_HASH);
    if (!ok) {
        if (name)
            return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: unknown %s algorithm \"%s\"",
                        where, aead ? "AEAD" : "HKDF", name);
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: unknown %s algorithm %ld", where,
                    aead ? "AEAD" : "HKDF", num);
    }
    *out = a->id;
    return CS_STORE_OK;
}

/* state_file relative to the context file's directory. */
static cs_store_err_t set_state_path(cs_context_file_t *cf, const char *base_dir,
                                     const char *rel, char *err, size_t err_len)
{
    int n;
    if (rel[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        n = snprintf(cf->state_file, sizeof cf->state_file, "%s", rel);
    else
        n = snprintf(cf->state_file, sizeof cf->state_file, "%s/%s", base_dir, rel);
    if (n < 0 || (size_t)n >= sizeof cf->state_file)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "state_file path longer than %d bytes",
                    CS_STORE_PATH_MAX - 1);
    return CS_STORE_OK;
}

static void defaults(cs_context_file_t *cf)
{
    memset(cf, 0, sizeof *cf);
    cf->aead_alg = 10;
    cf->hkdf_alg = -10;
    cf->replay_window = OSCORE_DEFAULT_REPLAY_WINDOW;
    cf->ssn_step = 32;
    /* Like libcoap and aiocoap: a configured ID Context goes in requests. */
    cf->send_kid_context = true;
}

static cs_store_err_t check_complete(const cs_context_file_t *cf, bool seen_secret,
                                     bool seen_sid, bool seen_rid, char *err, size_t err_len)
{
    const char *missing = !seen_secret ? "master_secret" : !seen_sid ? "sender_id"
                          : !seen_rid  ? "recipient_id"
                                       : NULL;
    if (missing)
        return fail(err, err_len, CS_STORE_ERR_MISSING, "%s is required", missing);
    if (cf->master_secret_len == 0)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "master_secret must not be empty");
    if (cf->replay_window == 0 || cf->replay_window > OSCORE_MAX_REPLAY_WINDOW)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "replay_window must be 1..%d",
                    OSCORE_MAX_REPLAY_WINDOW);
    return CS_STORE_OK;
}

/* ---------------------------------------------------------------- JSON */

static cs_store_err_t parse_json(json_t *root, const char *base_dir, cs_context_file_t *cf,
                                 char *err, size_t err_len)
{
    const char *key;
    json_t *v;
    bool seen_secret = false, seen_sid = false, seen_rid = false;
    json_object_foreach(root, key, v) {
        cs_store_err_t e = CS_STORE_OK;
        const bytes_field_t *bf = find_bytes_field(key);
        if (bf) {
            if (!json_is_string(v))
                return fail(err, err_len, CS_STORE_ERR_VALUE, "%s must be a hex string", key);
            e = set_bytes(cf, bf, json_string_value(v), json_string_length(v), true, "member",
                          err, err_len);
            seen_secret |= strcmp(key, "master_secret") == 0;
            seen_sid |= strcmp(key, "sender_id") == 0;
            seen_rid |= strcmp(key, "recipient_id") == 0;
        } else if (strcmp(key, "aead_alg") == 0 || strcmp(key, "hkdf_alg") == 0) {
            bool aead = key[0] == 'a';
            int32_t *dst = aead ? &cf->aead_alg : &cf->hkdf_alg;
            if (json_is_integer(v))
                e = set_alg(dst, aead, (long)json_integer_value(v), NULL, key, err, err_len);
            else if (json_is_string(v))
                e = set_alg(dst, aead, 0, json_string_value(v), key, err, err_len);
            else
                return fail(err, err_len, CS_STORE_ERR_VALUE,
                            "%s must be a COSE number or name", key);
        } else if (strcmp(key, "replay_window") == 0 || strcmp(key, "ssn_step") == 0) {
            json_int_t n = json_integer_value(v);
            if (!json_is_integer(v) || n < 1 || n > (key[0] == 'r' ? OSCORE_MAX_REPLAY_WINDOW : 1 << 20))
                return fail(err, err_len, CS_STORE_ERR_VALUE, "%s must be a positive integer%s",
                            key, key[0] == 'r' ? " up to 256" : " up to 1048576");
            if (key[0] == 'r')
                cf->replay_window = (uint16_t)n;
            else
                cf->ssn_step = (uint32_t)n;
        } else if (strcmp(key, "send_kid_context") == 0 || strcmp(key, "rfc8613_b_2") == 0) {
            if (!json_is_boolean(v))
                return fail(err, err_len, CS_STORE_ERR_VALUE, "%s must be true or false", key);
            *(key[0] == 's' ? &cf->send_kid_context : &cf->b2) = json_is_true(v);
        } else if (strcmp(key, "state_file") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return fail(err, err_len, CS_STORE_ERR_VALUE, "state_file must be a path");
            e = set_state_path(cf, base_dir, json_string_value(v), err, err_len);
        } else {
            return fail(err, err_len, CS_STORE_ERR_VALUE,
                        "unknown member \"%s\" (see docs/context-files.md)", key);
        }
        if (e != CS_STORE_OK)
            return e;
    }
    return check_complete(cf, seen_secret, seen_sid, seen_rid, err, err_len);
}

/* ---------------------------------------------------------------- libcoap */

/* Strips spaces and one pair of double quotes. */
static const char *trim(const char *s, const char *end, size_t *n)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    if (end - s >= 2 && *s == '"' && end[-1] == '"')
        s++, end--;
    *n = (size_t)(end - s);
    return s;
}

static cs_store_err_t parse_libcoap_line(cs_context_file_t *cf, const char *line, size_t len,
                                         unsigned lineno, bool seen[3], const char *base_dir,
                                         char *err, size_t err_len)
{
    char where[32];
    snprintf(where, sizeof where, "line %u", lineno);
    const char *end = line + len;
    const char *c1 = memchr(line, ',', len);
    const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(end - c1 - 1)) : NULL;
    if (!c2)
        return fail(err, err_len, CS_STORE_ERR_SYNTAX,
                    "%s: expected name,type,value", where);
    size_t nn, tn, vn;
    const char *name = trim(line, c1, &nn), *type = trim(c1 + 1, c2, &tn);
    const char *val = trim(c2 + 1, end, &vn);
    char nbuf[32], tbuf[16], vbuf[CS_STORE_PATH_MAX];
    if (nn >= sizeof nbuf || tn >= sizeof tbuf || vn >= sizeof vbuf)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: entry too long", where);
    memcpy(nbuf, name, nn), nbuf[nn] = 0;
    memcpy(tbuf, type, tn), tbuf[tn] = 0;
    memcpy(vbuf, val, vn), vbuf[vn] = 0;

    const bytes_field_t *bf = find_bytes_field(nbuf);
    if (bf) {
        bool hex = strcmp(tbuf, "hex") == 0;
        if (!hex && strcmp(tbuf, "ascii") != 0)
            return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s must be of type hex or ascii",
                        where, nbuf);
        int idx = strcmp(nbuf, "master_secret") == 0 ? 0 : strcmp(nbuf, "sender_id") == 0 ? 1
                  : strcmp(nbuf, "recipient_id") == 0 ? 2 : -1;
        if (idx == 2 && seen[2])
            return fail(err, err_len, CS_STORE_ERR_VALUE,
                        "%s: more than one recipient_id; use one file per peer", where);
        if (idx >= 0)
            seen[idx] = true;
        return set_bytes(cf, bf, vbuf, vn, hex, where, err, err_len);
    }
    bool is_int = strcmp(tbuf, "integer") == 0, is_bool = strcmp(tbuf, "bool") == 0;
    char *numend = NULL;
    errno = 0;
    long num = is_int ? strtol(vbuf, &numend, 10) : 0;
    if (is_int && (errno || numend == vbuf || *numend))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s is not an integer", where, nbuf);
    if (is_bool && strcmp(vbuf, "true") && strcmp(vbuf, "false"))
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s must be true or false", where, nbuf);
    bool bval = is_bool && strcmp(vbuf, "true") == 0;

    if (strcmp(nbuf, "aead_alg") == 0 || strcmp(nbuf, "hkdf_alg") == 0) {
        if (!is_int && strcmp(tbuf, "text") != 0)
            return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s must be integer or text",
                        where, nbuf);
        return set_alg(nbuf[0] == 'a' ? &cf->aead_alg : &cf->hkdf_alg, nbuf[0] == 'a', num,
                       is_int ? NULL : vbuf, where, err, err_len);
    }
    if (strcmp(nbuf, "replay_window") == 0 || strcmp(nbuf, "ssn_freq") == 0) {
        long max = nbuf[0] == 'r' ? OSCORE_MAX_REPLAY_WINDOW : 1 << 20;
        if (!is_int || num < 1 || num > max)
            return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: %s must be an integer 1..%ld",
                        where, nbuf, max);
        if (nbuf[0] == 'r')
            cf->replay_window = (uint16_t)num;
        else
            cf->ssn_step = (uint32_t)num;
        return CS_STORE_OK;
    }
    if (strcmp(nbuf, "rfc8613_b_1_2") == 0 && is_bool)
        return CS_STORE_OK; /* coreseal always recovers with Echo (B.1.2) */
    if (strcmp(nbuf, "rfc8613_b_2") == 0 && is_bool) {
        cf->b2 = bval;
        return CS_STORE_OK;
    }
    /* coreseal extensions, for files shared by both tools */
    if (strcmp(nbuf, "state_file") == 0 && (strcmp(tbuf, "ascii") == 0 || strcmp(tbuf, "text") == 0)) {
        return set_state_path(cf, base_dir, vbuf, err, err_len);
    }
    if (strcmp(nbuf, "send_kid_context") == 0 && is_bool) {
        cf->send_kid_context = bval;
        return CS_STORE_OK;
    }
    return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: unknown or mistyped entry \"%s,%s\"",
                where, nbuf, tbuf);
}

static cs_store_err_t parse_libcoap(const char *text, size_t len, const char *base_dir,
                                    cs_context_file_t *cf, char *err, size_t err_len)
{
    bool seen[3] = {false, false, false};
    unsigned lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        size_t n;
        const char *s = trim(p, le, &n);
        if (n > 0 && s[0] != '#') {
            cs_store_err_t e = parse_libcoap_line(cf, s, n, lineno, seen, base_dir, err, err_len);
            if (e != CS_STORE_OK)
                return e;
        }
        p = nl ? nl + 1 : end;
    }
    return check_complete(cf, seen[0], seen[1], seen[2], err, err_len);
}

/* ---------------------------------------------------------------- entry points */

cs_store_err_t cs_context_file_parse(const char *text, size_t len, const char *base_dir,
                                     cs_context_file_t *cf, char *err, size_t err_len)
{
    if (!text || !cf)
        return CS_STORE_ERR_BAD_ARG;
    defaults(cf);
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len || text[i] != '{')
        return parse_libcoap(text, len, base_dir, cf, err, err_len);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return fail(err, err_len, CS_STORE_ERR_SYNTAX, "line %d: %s", jerr.line, jerr.text);
    }
    cs_store_err_t e = parse_json(root, base_dir, cf, err, err_len);
    json_decref(root);
    return e;
}

cs_store_err_t cs_context_file_load(const char *path, cs_context_file_t *cf, char *err,
                                    size_t err_len)
{
    if (!path || !cf)
        return CS_STORE_ERR_BAD_ARG;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, err_len, CS_STORE_ERR_IO, "%s: %s", path, strerror(errno));
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n == sizeof buf;
    fclose(f);
    if (too_big)
        return fail(err, err_len, CS_STORE_ERR_VALUE, "%s: larger than 8 KiB", path);
    char dir[CS_STORE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        dir[0] = 0;
    char inner[CS_STORE_ERRMSG_MAX];
    cs_store_err_t e = cs_context_file_parse(buf, n, dir, cf, inner, sizeof inner);
    if (e != CS_STORE_OK)
        fail(err, err_len, e, "%s: %s", path, inner);
    cs_wipe(buf, sizeof buf);
    return e;
}

void cs_context_file_params(const cs_context_file_t *cf, oscore_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->aead_alg = cf->aead_alg;
    p->hkdf_alg = cf->hkdf_alg;
    p->master_secret = cf->master_secret;
    p->master_secret_len = cf->master_secret_len;
    p->master_salt = cf->master_salt;
    p->master_salt_len = cf->master_salt_len;
    p->sender_id = cf->sender_id;
    p->sender_id_len = cf->sender_id_len;
    p->recipient_id = cf->recipient_id;
    p->recipient_id_len = cf->recipient_id_len;
    p->id_context = cf->has_id_context ? cf->id_context : NULL;
    p->id_context_len = cf->id_context_len;
    p->send_kid_context = cf->send_kid_context;
    p->replay_window = cf->replay_window;
    p->b2 = cf->b2;
}

bool cs_context_file_from_params(cs_context_file_t *f, const oscore_params_t *p)
{
    if (p->master_secret_len > sizeof f->master_secret || p->master_salt_len > sizeof f->master_salt ||
        p->sender_id_len > sizeof f->sender_id || p->recipient_id_len > sizeof f->recipient_id ||
        p->id_context_len > sizeof f->id_context)
        return false;
    memset(f, 0, sizeof *f);
#define COPY(field)                                                                    \
    do {                                                                               \
        f->field##_len = p->field##_len;                                               \
        if (f->field##_len)                                                            \
            memcpy(f->field, p->field, f->field##_len);                                \
    } while (0)
    COPY(master_secret);
    COPY(master_salt);
    COPY(sender_id);
    COPY(recipient_id);
    COPY(id_context);
#undef COPY
    f->has_id_context = p->id_context != NULL;
    f->send_kid_context = p->send_kid_context;
    f->b2 = p->b2;
    f->aead_alg = p->aead_alg;
    f->hkdf_alg = p->hkdf_alg;
    f->replay_window = p->replay_window;
    return true;
}
