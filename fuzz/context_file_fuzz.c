/* libFuzzer: OSCORE context files in both formats (JSON and libcoap's
 * name,type,value lines). Accepted files must derive or be refused with a
 * clean error. */
#include <stdint.h>
#include <stdlib.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cs_crypto_t crypto;
    static bool ready;
    if (!ready) {
        if (cs_crypto_openssl_new(&crypto) != CS_CRYPTO_OK)
            abort();
        ready = true;
    }
    cs_context_file_t cf;
    char err[256];
    if (cs_context_file_parse((const char *)data, size, "/tmp", &cf, err, sizeof err) != CS_STORE_OK)
        return 0;
    oscore_params_t p;
    oscore_ctx_t ctx;
    cs_context_file_params(&cf, &p);
    (void)oscore_ctx_derive(&ctx, &crypto, &p);
    return 0;
}
