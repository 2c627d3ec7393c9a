/* libFuzzer: the routes file of `coreseal proxy --routes` (JSON). An
 * accepted file holds only routes the proxy can use. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cs_proxy_routes_t r;
    char err[256];
    if (cs_proxy_routes_parse((const char *)data, size, &r, err, sizeof err) != CS_STORE_OK)
        return 0;
    for (size_t i = 0; i < r.n; i++)
        if (!r.route[i].host[0] == !r.route[i].path[0] || strncmp(r.route[i].target, "coap", 4) != 0)
            abort();
    return 0;
}
