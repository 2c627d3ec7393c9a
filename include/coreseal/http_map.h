/* coreseal/http_map.h: the HTTP <-> CoAP mapping of RFC 8075 (URIs, methods,
 * media types, status codes) and RFC 8613 §11 (the OSCORE header field).
 * Pure functions over caller buffers, shared by the cross-proxy (HTTP
 * server side) and `coreseal get http://` (HTTP client side); no HTTP stack
 * here, that is libmicrohttpd's and libcurl's. */
#ifndef CORESEAL_HTTP_MAP_H
#define CORESEAL_HTTP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The media type of application/oscore (RFC 8613 §13.5) and its
 * Content-Format, which an HTTP-to-CoAP proxy never puts in the CoAP
 * message (§11.3). */
#define CS_HTTP_OSCORE_TYPE "application/oscore"
#define CS_HTTP_OSCORE_CF 10001

/* The Target CoAP URI in a Hosting HTTP URI's path and query (RFC 8075
 * §5.3 default mapping "/hc/coap://host/path?q", with %5B/%5D around an
 * IPv6 literal, or the simple form "/hc/?target_uri=coap://..."), prefix
 * being the HC Proxy URI's path ("/hc/"). False if path does not hold a
 * coap://, coaps://, coap+tcp:// or coap+ws:// URI (a 4xx for the client,
 * §5.3.1). */
bool cs_http_target_uri(const char *path, const char *prefix, char *out, size_t cap);

/* "GET" -> COAP_GET ...; RFC 8132's FETCH, PATCH and iPATCH too; -1 if the
 * method has no CoAP counterpart (501). */
int cs_http_method_to_coap(const char *method);
/* COAP_GET -> "GET" ...; NULL for a code that is no method. */
const char *cs_http_method_of(uint8_t code);

/* Content-Format of a media type ("application/json; charset=..." ->
 * 50; "text/plain;charset=utf-8" -> 0; application/coap-payload;cf=N -> N,
 * RFC 8075 §6.2), -1 if unknown. */
long cs_http_content_format(const char *media_type);
/* The media type of a Content-Format into out (application/coap-payload;
 * cf=N for one without a registered media type). */
void cs_http_media_type(uint32_t cf, char *out, size_t cap);

/* RFC 8075 §7 Table 2: the HTTP status of a CoAP response code (2.02/2.04
 * give 200 with a payload, 204 without). */
int cs_http_status_of(uint8_t coap_code, bool has_payload);
/* The other way, for an HTTP client that maps a response back to CoAP
 * (request_code: the method it sent, since 200 and 204 depend on it). */
uint8_t cs_http_coap_code_of(int status, uint8_t request_code);

/* RFC 8613 §11.2/11.3: the OSCORE option value as the HTTP OSCORE header
 * field (base64url without padding; "AA" for the empty option) and back.
 * Both false when out is too small; decode false on anything that is not
 * such a value. */
bool cs_http_oscore_encode(const uint8_t *opt, size_t len, char *out, size_t cap);
bool cs_http_oscore_decode(const char *value, uint8_t *out, size_t cap, size_t *len);

#endif
