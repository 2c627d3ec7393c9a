/* CoAP requests sent as HTTP with libcurl, the answer coming back as the
 * CoAP response it maps to (RFC 7252 §10.1; RFC 8613 §11.2: an OSCORE
 * request becomes a POST with the OSCORE header field and an
 * application/oscore body, so whoever carries it never sees the
 * plaintext). Two users: `coreseal get http://PROXY/hc/coap://DEVICE/PATH`
 * through an HTTP-to-CoAP cross-proxy (one exchange at a time, blocking),
 * and the proxy's CoAP-to-HTTP side (many at once, driven from its loop). */
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
    bool timed_out;   /* ... which was the HTTP server taking too long */
} hc_client_t;

/* True if uri is http:// or https://; then the Target CoAP URI it embeds
 * (RFC 8075 §5.3, or ?target_uri=) goes to target. */
bool hc_client_is_http(const char *uri);
bool hc_client_init(hc_client_t *h, const char *uri, char *target, size_t cap);
/* One request (a CoAP message in UDP form) as HTTP; false with h->why. */
bool hc_client_exchange(hc_client_t *h, const uint8_t *req, size_t len, int verbose);
void hc_client_free(hc_client_t *h);

/* The proxy's side: exchanges under way at once on libcurl's multi
 * interface, never blocking the caller's loop. */
typedef struct hc_multi hc_multi_t;
hc_multi_t *hc_multi_new(void);
void hc_multi_free(hc_multi_t *m);
/* Starts msg (a CoAP request in UDP form) as HTTP to url, with body (a
 * copy is taken) instead of msg's payload if not NULL; tag comes back with
 * its answer. False with why if msg does not map. */
bool hc_multi_start(hc_multi_t *m, const char *url, const uint8_t *msg, size_t len, const uint8_t *body,
                    size_t body_len, void *tag, char *why, size_t cap);
/* Moves the transfers on; a finished exchange, or NULL. Its answer (resp,
 * or why when !*ok) stays valid until the next call. */
const hc_client_t *hc_multi_next(hc_multi_t *m, void **tag, bool *ok);

#endif
