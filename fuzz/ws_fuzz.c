/* libFuzzer: the WebSocket pieces of CoAP over WebSockets (src/net/ws.c):
 * the opening handshake parsers and the frame parser, whose answer must
 * stay inside the bytes it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char head[2048];
    if (size < sizeof head) {
        memcpy(head, data, size);
        head[size] = '\0';
        char key[CS_WS_KEY_MAX];
        const char *why;
        if (cs_ws_parse_request(head, key, &why) == 0 && strlen(key) != 24)
            abort();
        (void)cs_ws_check_response(head, "dGhlIHNhbXBsZSBub25jZQ==");
    }
    cs_ws_frame_t f;
    int n = cs_ws_frame_parse(data, size, 1152, &f);
    if (n > 0 && ((size_t)n > size || f.header_len + f.payload_len != (size_t)n || f.payload_len > 1152))
        abort();
    return 0;
}
