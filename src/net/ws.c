/* The WebSocket pieces of CoAP over WebSockets (RFC 8323 §4 on RFC 6455):
 * the opening handshake both ways (§4.1, §4.2: GET with Upgrade, the
 * Sec-WebSocket-Accept of a key, subprotocol "coap") and the framing (§5.2).
 * Bounded parsers over caller buffers; tcp.c does the I/O. */
#define _GNU_SOURCE /* strcasestr */
#include "net_internal.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool cs_ws_accept_key(const char *key, char out[CS_WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    if (n < 0 || (size_t)n >= sizeof buf || !EVP_Digest(buf, (size_t)n, md, &md_len, EVP_sha1(), NULL) ||
        md_len != 20)
        return false;
    return EVP_EncodeBlock((unsigned char *)out, md, 20) == CS_WS_ACCEPT_LEN;
}

/* The value of header `name` in an HTTP head (lines ending in CRLF), copied
 * into out; false if absent or too long. */
static bool header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) || h[n] != ':')
            continue;
        h += n + 1;
        h += strspn(h, " \t");
        size_t len = strcspn(h, "\r");
        while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
            len--;
        if (len >= cap)
            return false;
        memcpy(out, h, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

/* A comma-separated header value holding token (case-insensitive). */
static bool has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == n && !strncasecmp(p, token, n))
            return true;
        p += len;
    }
    return false;
}

int cs_ws_parse_request(const char *head, char key[CS_WS_KEY_MAX], const char **why)
{
    char v[256];
    *why = NULL;
    if (strncmp(head, "GET ", 4) != 0)
        return *why = "not a GET", 405;
    const char *path = head + 4, *sp = strchr(path, ' ');
    /* RFC 8323 §4.2: the CoAP endpoint is at /.well-known/coap */
    if (!sp || (size_t)(sp - path) != 17 || strncmp(path, "/.well-known/coap", 17) != 0)
        return *why = "CoAP over WebSockets is at /.well-known/coap", 404;
    if (!header(head, "Upgrade", v, sizeof v) || !has_token(v, "websocket") ||
        !header(head, "Connection", v, sizeof v) || !has_token(v, "upgrade"))
        return *why = "not a WebSocket upgrade", 400;
    if (!header(head, "Sec-WebSocket-Version", v, sizeof v) || strcmp(v, "13") != 0)
        return *why = "Sec-WebSocket-Version must be 13", 426;
    if (!header(head, "Sec-WebSocket-Protocol", v, sizeof v) || !has_token(v, "coap"))
        return *why = "Sec-WebSocket-Protocol must offer coap", 400;
    if (!header(head, "Sec-WebSocket-Key", key, CS_WS_KEY_MAX) || strlen(key) != 24)
        return *why = "a Sec-WebSocket-Key of 16 bytes is required", 400;
    return 0;
}

bool cs_ws_check_response(const char *head, const char *key)
{
    char v[256], want[CS_WS_ACCEPT_LEN + 1];
    return !strncmp(head, "HTTP/1.1 101", 12) && header(head, "Sec-WebSocket-Accept", v, sizeof v) &&
           cs_ws_accept_key(key, want) && !strcmp(v, want) && header(head, "Sec-WebSocket-Protocol", v, sizeof v) &&
           !strcasecmp(v, "coap");
}

size_t cs_ws_frame_header(uint8_t out[CS_WS_HEADER_MAX], uint8_t opcode, size_t len, const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | opcode); /* FIN: CoAP messages are never fragmented here */
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[n++] = (uint8_t)(m | 126);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = (uint8_t)(m | 127);
        for (int k = 7; k >= 0; k--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * k));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

int cs_ws_frame_parse(const uint8_t *buf, size_t avail, size_t max_payload, cs_ws_frame_t *f)
{
    if (avail < 2)
        return 0;
    memset(f, 0, sizeof *f);
    f->fin = (buf[0] & 0x80) != 0;
    f->opcode = buf[0] & 0x0f;
    f->masked = (buf[1] & 0x80) != 0;
    if (buf[0] & 0x70)
        return -1; /* RSV bits: no extension was agreed */
    uint64_t len = buf[1] & 0x7f;
    size_t h = 2;
    if (len >= 126) {
        size_t ext = len == 126 ? 2 : 8;
        if (avail < h + ext)
            return 0;
        len = 0;
        for (size_t k = 0; k < ext; k++)
            len = len << 8 | buf[h + k];
        h += ext;
    }
    if (f->opcode >= 8 && (len > 125 || !f->fin))
        return -1; /* control frames: short and whole (§5.5) */
    if (len > max_payload)
        return -2;
    if (f->masked) {
        if (avail < h + 4)
            return 0;
        memcpy(f->mask, buf + h, 4);
        h += 4;
    }
    if (avail < h + len)
        return 0;
    f->header_len = h;
    f->payload_len = (size_t)len;
    return (int)(h + len);
}

void cs_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4])
{
    for (size_t k = 0; k < n; k++)
        p[k] ^= mask[k & 3];
}
