/* libFuzzer: the HTTP -> CoAP mapping's parsers (Hosting HTTP URI, media
 * type, OSCORE header field); a decoded OSCORE header must encode back to
 * the same value (base64url without padding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/http_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[512];
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char out[256];
    if (cs_http_target_uri(text, "/hc/", out, sizeof out) && strlen(out) >= sizeof out)
        abort();
    (void)cs_http_content_format(text);
    (void)cs_http_method_to_coap(text);
    uint8_t opt[64];
    size_t n;
    if (cs_http_oscore_decode(text, opt, sizeof opt, &n)) {
        char again[128];
        if (!cs_http_oscore_encode(opt, n, again, sizeof again) || strcmp(again, text) != 0)
            abort(); /* only canonical values decode */
    }
    return 0;
}
