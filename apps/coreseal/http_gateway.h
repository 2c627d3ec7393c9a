/* An HTTP server over libmicrohttpd whose requests are answered as CoAP
 * requests (RFC 8075, with RFC 8613 §11 for OSCORE). Two users: `coreseal
 * proxy --listen-http`, an HTTP-to-CoAP cross-proxy (the Target CoAP URI
 * in the Hosting HTTP URI), and `coreseal serve --listen-http`, an origin
 * server that is an OSCORE endpoint over HTTP (§11.4). HTTP runs in
 * libmicrohttpd's threads; each request becomes an hc_cmd_t the caller's
 * loop takes with hc_next(), turns into a CoAP request (hc_cmd_to_coap) and
 * answers with hc_done(), while the HTTP thread waits (HC_TIMEOUT_MS). */
#ifndef CORESEAL_CLI_HTTP_GATEWAY_H
#define CORESEAL_CLI_HTTP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coreseal/coap.h"

#define HC_TIMEOUT_MS 60000
#define HC_BODY_MAX (1u << 20)
#define HC_PREFIX "/hc/" /* the HC Proxy URI's path (RFC 8075 §5.3) */

typedef struct hc_cmd {
    /* the request, mapped */
    uint8_t code;        /* CoAP method */
    char target[512];    /* Target CoAP URI (proxy), or the path and query (origin server) */
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

/* prefix: the HC Proxy URI's path (HC_PREFIX) for a cross-proxy, NULL for
 * an origin server. */
hc_gateway_t *hc_start(const char *host, const char *port, const char *prefix, char *err, size_t err_len);
void hc_stop(hc_gateway_t *g);
hc_cmd_t *hc_next(hc_gateway_t *g);
/* Answers cmd (status, and the fields of its answer the loop filled); the
 * response body is copied. cmd is not the loop's any more. */
void hc_done(hc_gateway_t *g, hc_cmd_t *cmd, int status, const uint8_t *body, size_t len);

/* The CoAP request cmd maps to, with token, asking for Block2 block b2_num
 * (of 2^(b2_szx+4) bytes) when that is not 0 (then without the body). */
bool hc_cmd_to_coap(const hc_cmd_t *cmd, const uint8_t *token, size_t token_len, uint32_t b2_num,
                    uint8_t b2_szx, uint8_t *buf, size_t cap, size_t *n);
/* The HTTP answer to cmd of a CoAP response m whose body is body_len
 * bytes: its status (RFC 8075 §7), cmd's content type and, for OSCORE, its
 * OSCORE header field (RFC 8613 §11.2); -1 if the option does not map. */
int hc_answer_of_coap(hc_cmd_t *cmd, const coap_msg_t *m, size_t body_len);

#endif
