/* The HTTP <-> CoAP mapping: RFC 8075 §5 (Hosting HTTP URI -> Target CoAP
 * URI), §6 (media types), §7 (status codes) and RFC 8613 §11 (the OSCORE
 * header field, base64url). */
#define _GNU_SOURCE /* strcasestr */
#include "coreseal/http_map.h"

#include "coreseal/coap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coreseal/coap.h"

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Copies s into out, decoding every %XX (all) or only %5B/%5D (brackets). */
static bool percent_decode(const char *s, bool all, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        char c = *s;
        int hi, lo;
        if (c == '%' && (hi = hex_val(s[1])) >= 0 && (lo = hex_val(s[2])) >= 0) {
            char d = (char)(hi << 4 | lo);
            if (all || d == '[' || d == ']') {
                c = d;
                s += 2;
            }
        }
        if (c == '\0' || n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

bool cs_http_target_uri(const char *path, const char *prefix, char *out, size_t cap)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (!path || !out || !cap || strncmp(path, prefix ? prefix : "", plen) != 0)
        return false;
    const char *rest = path + plen;
    static const char simple[] = "?target_uri=";
    bool ok = strncmp(rest, simple, sizeof simple - 1) == 0 ? percent_decode(rest + sizeof simple - 1, true, out, cap)
                                                            : percent_decode(rest, false, out, cap);
    /* §5.3.1: without a scheme the URI is not one this proxy can take */
    coap_uri_t u;
    return ok && coap_uri_parse(&u, out, strlen(out)) == COAP_OK &&
           (u.scheme_id == COAP_SCHEME_COAP || u.scheme_id == COAP_SCHEME_COAPS || u.scheme_id == COAP_SCHEME_COAP_TCP ||
            u.scheme_id == COAP_SCHEME_COAP_WS);
}

static const struct {
    const char *name;
    uint8_t code;
} methods[] = {
    {"GET", COAP_GET},     {"POST", COAP_POST},   {"PUT", COAP_PUT},       {"DELETE", COAP_DELETE},
    {"FETCH", COAP_FETCH}, {"PATCH", COAP_PATCH}, {"iPATCH", COAP_IPATCH},
};

int cs_http_method_to_coap(const char *method)
{
    for (size_t i = 0; method && i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i].name, method))
            return methods[i].code;
    return -1;
}

const char *cs_http_method_of(uint8_t code)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].code == code)
            return methods[i].name;
    return NULL;
}

/* The CoAP Content-Formats registry entries with a plain media type. */
static const struct {
    const char *type;
    uint32_t cf;
} types[] = {
    {"text/plain;charset=utf-8", 0},
    {"application/link-format", 40},
    {"application/xml", 41},
    {"application/octet-stream", 42},
    {"application/exi", 47},
    {"application/json", 50},
    {"application/json-patch+json", 51},
    {"application/merge-patch+json", 52},
    {"application/cbor", 60},
    {"application/cwt", 61},
    {"application/senml+json", 110},
    {"application/sensml+json", 111},
    {"application/senml+cbor", 112},
    {"application/sensml+cbor", 113},
    {"application/edhoc+cbor-seq", 64},
    {"application/cid-edhoc+cbor-seq", 65},
    {"application/vnd.oma.lwm2m+tlv", 11542},
    {"application/vnd.oma.lwm2m+json", 11543},
    {"application/vnd.oma.lwm2m+cbor", 11544},
    {CS_HTTP_OSCORE_TYPE, CS_HTTP_OSCORE_CF},
};

long cs_http_content_format(const char *media_type)
{
    if (!media_type)
        return -1;
    /* the type without parameters and blanks, lower case */
    char base[96];
    size_t n = 0;
    const char *p = media_type;
    for (; *p && *p != ';' && n + 1 < sizeof base; p++)
        if (!isspace((unsigned char)*p))
            base[n++] = (char)tolower((unsigned char)*p);
    base[n] = '\0';
    if (!strcmp(base, "application/coap-payload")) { /* §6.2: cf=N names it */
        const char *cf = strstr(p, "cf=");
        char *end;
        long v = cf ? strtol(cf + 3, &end, 10) : -1;
        return cf && end != cf + 3 && v >= 0 && v <= 65535 ? v : -1;
    }
    if (!strcmp(base, "text/plain")) /* charset utf-8 or none: the same text */
        return strstr(p, "charset=") && !strcasestr(p, "charset=utf-8") && !strcasestr(p, "charset=\"utf-8\"")
                   ? -1
                   : 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].type, base))
            return types[i].cf;
    return -1;
}

void cs_http_media_type(uint32_t cf, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].cf == cf) {
            snprintf(out, cap, "%s", types[i].type);
            return;
        }
    snprintf(out, cap, "application/coap-payload;cf=%u", (unsigned)cf);
}

static const struct {
    uint8_t code;
    int status;
} statuses[] = {
    {COAP_CODE(2, 1), 201},  {COAP_CODE(2, 3), 304},  {COAP_CODE(2, 5), 200},  {COAP_CODE(4, 0), 400},
    {COAP_CODE(4, 1), 403},  {COAP_CODE(4, 2), 400},  {COAP_CODE(4, 3), 403},  {COAP_CODE(4, 4), 404},
    {COAP_CODE(4, 5), 400},  {COAP_CODE(4, 6), 406},  {COAP_CODE(4, 12), 412}, {COAP_CODE(4, 13), 413},
    {COAP_CODE(4, 15), 415}, {COAP_CODE(5, 0), 500},  {COAP_CODE(5, 1), 501},  {COAP_CODE(5, 2), 502},
    {COAP_CODE(5, 3), 503},  {COAP_CODE(5, 4), 504},  {COAP_CODE(5, 5), 502},
};

int cs_http_status_of(uint8_t code, bool has_payload)
{
    if (code == COAP_CODE(2, 2) || code == COAP_CODE(2, 4))
        return has_payload ? 200 : 204; /* Table 2, note 2 */
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].code == code)
            return statuses[i].status;
    return COAP_CODE_CLASS(code) == 2 ? 200 : COAP_CODE_CLASS(code) == 4 ? 400 : 502;
}

uint8_t cs_http_coap_code_of(int status, uint8_t request_code)
{
    if (status == 200 || status == 204) /* what the method's success is in CoAP */
        return request_code == COAP_GET || request_code == COAP_FETCH ? COAP_CODE(2, 5)
               : request_code == COAP_DELETE                          ? COAP_CODE(2, 2)
                                                                      : COAP_CODE(2, 4);
    if (status == 403)
        return COAP_CODE(4, 3);
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].status == status)
            return statuses[i].code;
    return status >= 200 && status < 300 ? COAP_CODE(2, 5) : status >= 400 && status < 500 ? COAP_CODE(4, 0)
                                                                                            : COAP_CODE(5, 2);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool cs_http_oscore_encode(const uint8_t *opt, size_t len, char *out, size_t cap)
{
    static const uint8_t zero = 0;
    if (len == 0) { /* §11.2: the empty option is sent as one zero byte */
        opt = &zero;
        len = 1;
    }
    size_t need = (len * 8 + 5) / 6;
    if (!out || need + 1 > cap)
        return false;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 8 | opt[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[n++] = b64url[(acc << (6 - bits)) & 63];
    out[n] = '\0';
    return true;
}

bool cs_http_oscore_decode(const char *value, uint8_t *out, size_t cap, size_t *len)
{
    if (!value || !out || !len)
        return false;
    size_t vlen = strlen(value);
    if (vlen < 2 || vlen % 4 == 1) /* ABNF: 2*base64url-char */
        return false;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < vlen; i++) {
        const char *c = strchr(b64url, value[i]);
        if (!c || !value[i])
            return false;
        acc = acc << 6 | (uint32_t)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return false;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* non-canonical: bits left over that are not zero */
        return false;
    *len = n == 1 && out[0] == 0 ? 0 : n; /* "AA": the empty option */
    return true;
}
