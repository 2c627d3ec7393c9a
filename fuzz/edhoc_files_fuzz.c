/* libFuzzer: EDHOC key and credential files (docs/edhoc-files.md): the
 * JSON, its hex fields and the CCS inside "cred" (read for its subject).
 * What loads must be self-consistent: a private key of the curve's length,
 * a subject that is a C string within its buffer. */
#include <stdlib.h>
#include <string.h>

#include "coreseal/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_edhoc_key_t k;
    char err[256];
    if (cs_edhoc_key_parse((const char *)data, size, "fuzz", &k, err, sizeof err) != CS_STORE_OK) {
        if (!err[0] || !memchr(err, '\0', sizeof err))
            abort(); /* every refusal says why */
        return 0;
    }
    if (k.priv_len && k.priv_len != cs_crv_priv_len(k.crv))
        abort();
    if (!memchr(k.subject, '\0', sizeof k.subject) || k.cred_len > sizeof k.cred)
        abort();
    return 0;
}
