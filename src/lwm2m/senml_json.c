/* SenML JSON (RFC 8428 §4, Content-Format 110; LwM2M Core TS §7.4.4): an
 * array of records {"bn", "bt", "n", "v", "vs", "vb", "vd", "vlo", "t"}.
 * The encoder names every record by its full path, writes "vd" as
 * base64url without padding (RFC 8428 §4.3) and escapes strings as RFC
 * 8259 requires. The decoder is a bounded scanner for exactly this shape:
 * unknown members are skipped (nesting at most JSON_DEPTH), strings are
 * unescaped into the decoder's own buffers, which stay valid until the next
 * record. */
#include "coreseal/lwm2m.h"

#include <string.h>

#define JSON_DEPTH 8

/* ---------------------------------------------------------------- base64url */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+') /* base64url, and the classic alphabet too */
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* Decodes in place-safe into out; padding is optional. */
static bool b64_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    while (n && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return false;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* the unused low bits must be zero */
        return false;
    *len = o;
    return true;
}

/* ---------------------------------------------------------------- encoder */

static void put(lwm2m_senml_json_enc_t *e, const void *p, size_t n)
{
    if (e->err != LWM2M_OK)
        return;
    if (n > e->cap - e->len) {
        e->err = LWM2M_ERR_NO_SPACE;
        return;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void put_str(lwm2m_senml_json_enc_t *e, const char *s)
{
    put(e, s, strlen(s));
}

/* A JSON string with the escapes RFC 8259 requires. */
static void put_quoted(lwm2m_senml_json_enc_t *e, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(e, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(e, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(e, esc, 6);
        } else {
            put(e, &c, 1);
        }
    }
    put(e, "\"", 1);
}

void lwm2m_senml_json_enc_init(lwm2m_senml_json_enc_t *e, uint8_t *buf, size_t cap)
{
    memset(e, 0, sizeof *e);
    e->buf = buf;
    e->cap = cap;
    put(e, "[", 1);
}

void lwm2m_senml_json_put(lwm2m_senml_json_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v)
{
    char name[32];
    uint8_t text[48];
    size_t tn = 0, nl = lwm2m_path_format(path, name, sizeof name);
    if (nl == 0 && e->err == LWM2M_OK)
        e->err = LWM2M_ERR_BAD_PATH;
    put_str(e, e->count ? ",{\"n\":" : "{\"n\":");
    put_quoted(e, (const uint8_t *)name, nl);
    switch (v->type) {
    case LWM2M_TYPE_NONE: break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        put_str(e, ",\"vs\":");
        put_quoted(e, v->v.bytes.p, v->v.bytes.n);
        break;
    case LWM2M_TYPE_BOOLEAN: put_str(e, v->v.b ? ",\"vb\":true" : ",\"vb\":false"); break;
    case LWM2M_TYPE_OPAQUE: {
        put_str(e, ",\"vd\":\"");
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < v->v.bytes.n; i++) {
            acc = acc << 8 | v->v.bytes.p[i];
            bits += 8;
            while (bits >= 6) {
                bits -= 6;
                put(e, &b64[(acc >> bits) & 63], 1);
            }
        }
        if (bits)
            put(e, &b64[(acc << (6 - bits)) & 63], 1);
        put(e, "\"", 1);
        break;
    }
    case LWM2M_TYPE_OBJLNK:
        if (lwm2m_text_encode(v, text, sizeof text, &tn) != LWM2M_OK && e->err == LWM2M_OK)
            e->err = LWM2M_ERR_TYPE;
        put_str(e, ",\"vlo\":");
        put_quoted(e, text, tn);
        break;
    default: /* numbers: the text form is a JSON number */
        if (lwm2m_text_encode(v, text, sizeof text, &tn) != LWM2M_OK && e->err == LWM2M_OK)
            e->err = LWM2M_ERR_TYPE; /* NaN, infinity */
        put_str(e, ",\"v\":");
        put(e, text, tn);
    }
    put(e, "}", 1);
    e->count++;
}

lwm2m_err_t lwm2m_senml_json_enc_finish(lwm2m_senml_json_enc_t *e, size_t *len)
{
    put(e, "]", 1);
    if (e->err == LWM2M_OK)
        *len = e->len;
    return e->err;
}

/* ---------------------------------------------------------------- decoder */

void lwm2m_senml_json_dec_init(lwm2m_senml_json_dec_t *d, const uint8_t *buf, size_t len)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->len = len;
}

static void skip_ws(lwm2m_senml_json_dec_t *d)
{
    while (d->pos < d->len &&
           (d->buf[d->pos] == ' ' || d->buf[d->pos] == '\t' || d->buf[d->pos] == '\n' || d->buf[d->pos] == '\r'))
        d->pos++;
}

static bool eat(lwm2m_senml_json_dec_t *d, char c)
{
    skip_ws(d);
    if (d->pos < d->len && d->buf[d->pos] == c) {
        d->pos++;
        return true;
    }
    return false;
}

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex4(lwm2m_senml_json_dec_t *d, uint32_t *u)
{
    *u = 0;
    if (d->len - d->pos < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        int h = hexval(d->buf[d->pos++]);
        if (h < 0)
            return false;
        *u = *u << 4 | (uint32_t)h;
    }
    return true;
}

/* A string, unescaped into out (cap bytes; NULL: only skipped). */
static bool get_string(lwm2m_senml_json_dec_t *d, uint8_t *out, size_t cap, size_t *n)
{
    size_t o = 0;
    if (!eat(d, '"'))
        return false;
    while (d->pos < d->len) {
        uint8_t c = d->buf[d->pos++];
        uint32_t u = c;
        if (c == '"') {
            *n = o;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (d->pos == d->len)
                return false;
            c = d->buf[d->pos++];
            switch (c) {
            case '"': case '\\': case '/': u = c; break;
            case 'b': u = '\b'; break;
            case 'f': u = '\f'; break;
            case 'n': u = '\n'; break;
            case 'r': u = '\r'; break;
            case 't': u = '\t'; break;
            case 'u': {
                if (!hex4(d, &u))
                    return false;
                if (u >= 0xd800 && u < 0xdc00) { /* a surrogate pair */
                    uint32_t lo;
                    if (d->len - d->pos < 2 || d->buf[d->pos] != '\\' || d->buf[d->pos + 1] != 'u')
                        return false;
                    d->pos += 2;
                    if (!hex4(d, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return false;
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return false;
                }
                break;
            }
            default: return false;
            }
        }
        /* u as UTF-8 (bytes above 0x7f that came raw are passed on as they are) */
        uint8_t enc[4];
        size_t k = 0;
        if (u < 0x80 || c == u) {
            enc[k++] = (uint8_t)u;
        } else if (u < 0x800) {
            enc[k++] = (uint8_t)(0xc0 | u >> 6);
            enc[k++] = (uint8_t)(0x80 | (u & 0x3f));
        } else if (u < 0x10000) {
            enc[k++] = (uint8_t)(0xe0 | u >> 12);
            enc[k++] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            enc[k++] = (uint8_t)(0x80 | (u & 0x3f));
        } else {
            enc[k++] = (uint8_t)(0xf0 | u >> 18);
            enc[k++] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
            enc[k++] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            enc[k++] = (uint8_t)(0x80 | (u & 0x3f));
        }
        if (out) {
            if (k > cap - o)
                return false;
            memcpy(out + o, enc, k);
        }
        o += k;
    }
    return false;
}

/* A number: its text (for lwm2m_text_decode) and whether it has a
 * fraction or exponent. */
static bool get_number(lwm2m_senml_json_dec_t *d, const uint8_t **p, size_t *n, bool *frac)
{
    skip_ws(d);
    size_t start = d->pos;
    *frac = false;
    while (d->pos < d->len) {
        uint8_t c = d->buf[d->pos];
        if (c == '.' || c == 'e' || c == 'E')
            *frac = true;
        else if (!(c >= '0' && c <= '9') && c != '-' && c != '+')
            break;
        d->pos++;
    }
    *p = d->buf + start;
    *n = d->pos - start;
    return *n > 0;
}

static bool get_literal(lwm2m_senml_json_dec_t *d, const char *word)
{
    size_t n = strlen(word);
    skip_ws(d);
    if (d->len - d->pos < n || memcmp(d->buf + d->pos, word, n))
        return false;
    d->pos += n;
    return true;
}

/* Any JSON value, not kept (members SenML does not define). */
static bool skip_value(lwm2m_senml_json_dec_t *d, int depth)
{
    size_t n;
    bool frac;
    const uint8_t *p;
    skip_ws(d);
    if (d->pos == d->len || depth > JSON_DEPTH)
        return false;
    uint8_t c = d->buf[d->pos];
    if (c == '"')
        return get_string(d, NULL, 0, &n);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        d->pos++;
        if (eat(d, close))
            return true;
        do {
            if (c == '{' && (!get_string(d, NULL, 0, &n) || !eat(d, ':')))
                return false;
            if (!skip_value(d, depth + 1))
                return false;
        } while (eat(d, ','));
        return eat(d, close);
    }
    if (c == 't' || c == 'f' || c == 'n')
        return get_literal(d, "true") || get_literal(d, "false") || get_literal(d, "null");
    return get_number(d, &p, &n, &frac);
}

static bool get_double(lwm2m_senml_json_dec_t *d, double *out)
{
    const uint8_t *p;
    size_t n;
    bool frac;
    lwm2m_value_t v;
    if (!get_number(d, &p, &n, &frac) || lwm2m_text_decode(p, n, LWM2M_TYPE_FLOAT, &v) != LWM2M_OK)
        return false;
    *out = v.v.f;
    return true;
}

/* One record's members into entry; name into name. */
static lwm2m_err_t get_record(lwm2m_senml_json_dec_t *d, lwm2m_entry_t *entry, char *name, size_t *name_len,
                              bool *have_value)
{
    if (eat(d, '}'))
        return LWM2M_OK;
    do {
        char key[8];
        size_t kl, at;
        skip_ws(d);
        at = d->pos; /* a key too long to be SenML's is skipped as unknown */
        if (!get_string(d, NULL, 0, &kl) || !eat(d, ':'))
            return LWM2M_ERR_MALFORMED;
        key[0] = 0;
        if (kl < sizeof key) {
            size_t end = d->pos;
            d->pos = at;
            if (!get_string(d, (uint8_t *)key, sizeof key - 1, &kl))
                return LWM2M_ERR_MALFORMED;
            key[kl] = 0;
            d->pos = end;
        }
        lwm2m_value_t *v = &entry->value;
        const uint8_t *p;
        size_t n;
        bool frac, ok = true, value = true;
        if (!strcmp(key, "bn")) {
            ok = get_string(d, (uint8_t *)d->base_name, sizeof d->base_name, &d->base_len);
            value = false;
        } else if (!strcmp(key, "n")) {
            ok = get_string(d, (uint8_t *)name, 63, name_len);
            value = false;
        } else if (!strcmp(key, "bt")) {
            ok = get_double(d, &d->base_time);
            value = false;
        } else if (!strcmp(key, "t")) {
            ok = get_double(d, &entry->time);
            entry->has_time = true;
            value = false;
        } else if (!strcmp(key, "v")) {
            ok = get_number(d, &p, &n, &frac) &&
                 ((!frac && lwm2m_text_decode(p, n, LWM2M_TYPE_INTEGER, v) == LWM2M_OK) ||
                  lwm2m_text_decode(p, n, LWM2M_TYPE_FLOAT, v) == LWM2M_OK);
        } else if (!strcmp(key, "vs") || !strcmp(key, "vlo")) {
            ok = get_string(d, d->value, sizeof d->value, &n) &&
                 lwm2m_text_decode(d->value, n, key[1] == 's' ? LWM2M_TYPE_STRING : LWM2M_TYPE_OBJLNK, v) ==
                     LWM2M_OK;
        } else if (!strcmp(key, "vd")) {
            ok = get_string(d, d->value, sizeof d->value, &n) && b64_decode(d->value, n, d->value, sizeof d->value, &n);
            v->type = LWM2M_TYPE_OPAQUE;
            v->v.bytes.p = d->value;
            v->v.bytes.n = n;
        } else if (!strcmp(key, "vb")) {
            bool t = get_literal(d, "true");
            ok = t || get_literal(d, "false");
            v->type = LWM2M_TYPE_BOOLEAN;
            v->v.b = t;
        } else {
            ok = skip_value(d, 1);
            value = false;
        }
        if (!ok || (value && *have_value))
            return LWM2M_ERR_MALFORMED; /* a record has one value */
        *have_value |= value;
    } while (eat(d, ','));
    return eat(d, '}') ? LWM2M_OK : LWM2M_ERR_MALFORMED;
}

lwm2m_err_t lwm2m_senml_json_next(lwm2m_senml_json_dec_t *d, lwm2m_entry_t *entry)
{
    if (!d->started) {
        if (!eat(d, '['))
            return LWM2M_ERR_MALFORMED;
        d->started = true;
        if (eat(d, ']'))
            d->ended = true;
    } else if (!d->ended && !eat(d, ',')) {
        if (!eat(d, ']'))
            return LWM2M_ERR_MALFORMED;
        d->ended = true;
    }
    if (d->ended) {
        skip_ws(d);
        return d->pos == d->len ? LWM2M_ERR_END : LWM2M_ERR_MALFORMED;
    }
    if (!eat(d, '{'))
        return LWM2M_ERR_MALFORMED;
    memset(entry, 0, sizeof *entry);
    char name[64];
    size_t name_len = 0;
    bool have_value = false;
    lwm2m_err_t err = get_record(d, entry, name, &name_len, &have_value);
    if (err != LWM2M_OK)
        return err;
    char full[128];
    if (d->base_len + name_len > sizeof full)
        return LWM2M_ERR_BAD_PATH;
    memcpy(full, d->base_name, d->base_len);
    memcpy(full + d->base_len, name, name_len);
    if (lwm2m_path_parse(&entry->path, full, d->base_len + name_len) != LWM2M_OK)
        return LWM2M_ERR_BAD_PATH;
    if (entry->has_time || d->base_time != 0) {
        entry->time += d->base_time;
        entry->has_time = true;
    }
    if (entry->value.type == LWM2M_TYPE_STRING || entry->value.type == LWM2M_TYPE_OPAQUE) {
        entry->raw = entry->value.v.bytes.p;
        entry->raw_len = entry->value.v.bytes.n;
    }
    return LWM2M_OK;
}
