/* The HTTP side of `coreseal proxy --listen-http`: an HTTP-to-CoAP
 * cross-proxy (RFC 8075, with RFC 8613 §11 for OSCORE) over libmicrohttpd.
 * HTTP runs in libmicrohttpd's threads; each request becomes an hc_cmd_t
 * the proxy's loop takes with hc_next(), turns into a CoAP request and
 * answers with hc_done(), while the HTTP thread waits (HC_TIMEOUT_MS). */
#ifndef CORESEAL_CLI_HTTP_GATEWAY_H
#define CORESEAL_CLI_HTTP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_TIMEOUT_MS 60000
#define HC_BODY_MAX (1u << 20)
#define HC_PREFIX "/hc/" /* the HC Proxy URI's path (RFC 8075 §5.3) */

typedef struct hc_cmd {
    /* the request, mapped */
    uint8_t code;        /* CoAP method */
    char target[512];    /* Target CoAP URI */
    long format, accept; /* Content-Format / Accept, -1: none */
    bool has_oscore;     /* an OSCORE header field came (RFC 8613 §11.3) */
    uint8_t oscore[64];
    size_t oscore_len;
    uint8_t *body;
    size_t body_len;
    /* the answer */
    int status;
    char content_type[80];
    char oscore_header[96]; /* "" for none */
    uint8_t *resp;
    size_t resp_len;
    bool done, abandoned;
    struct hc_cmd *next;
} hc_cmd_t;

typedef struct hc_gateway hc_gateway_t;

hc_gateway_t *hc_start(const char *host, const char *port, char *err, size_t err_len);
void hc_stop(hc_gateway_t *g);
hc_cmd_t *hc_next(hc_gateway_t *g);
/* Answers cmd (status, and the fields of its answer the loop filled); the
 * response body is copied. cmd is not the loop's any more. */
void hc_done(hc_gateway_t *g, hc_cmd_t *cmd, int status, const uint8_t *body, size_t len);

#endif
