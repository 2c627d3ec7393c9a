/* `coreseal get http://PROXY/hc/coap://DEVICE/PATH`: a CoAP request, OSCORE-
 * protected or not, sent as HTTP through an HTTP-to-CoAP cross-proxy with
 * libcurl (RFC 8075; RFC 8613 §11.2-11.4: the client is the HTTP endpoint
 * of the OSCORE exchange, the proxy never sees the plaintext). The answer
 * comes back as the CoAP message it maps to, for the usual processing. */
#ifndef CORESEAL_CLI_HTTP_CLIENT_H
#define CORESEAL_CLI_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char url[1024];   /* the Hosting HTTP URI as given */
    char base[1024];  /* ... with the target's path and query dropped (OSCORE protects them) */
    uint8_t *resp;    /* the last answer as a CoAP message (UDP form) */
    size_t resp_len;
    char why[128];    /* what went wrong, for the error line */
} hc_client_t;

/* True if uri is http:// or https://; then the Target CoAP URI it embeds
 * (RFC 8075 §5.3, or ?target_uri=) goes to target. */
bool hc_client_is_http(const char *uri);
bool hc_client_init(hc_client_t *h, const char *uri, char *target, size_t cap);
/* One request (a CoAP message in UDP form) as HTTP; false with h->why. */
bool hc_client_exchange(hc_client_t *h, const uint8_t *req, size_t len, int verbose);
void hc_client_free(hc_client_t *h);

#endif
