/* libFuzzer: the CBOR decoder (generic walk, typed reads) and COSE_Key
 * decoding on arbitrary bytes. Every accepted item must lie inside the
 * input, and a failed read must not move the position. */
#include <stdint.h>
#include <stdlib.h>

#include "coreseal/cbor.h"
#include "coreseal/cose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (unsigned flags = 0; flags <= CBOR_DEC_ALLOW_NON_SHORTEST; flags++) {
        cbor_dec_t d;
        cbor_dec_init(&d, data, size, flags);
        while (!cbor_dec_done(&d)) {
            size_t before = d.pos, n;
            const uint8_t *start;
            if (cbor_dec_skip(&d, &start, &n) != CBOR_OK) {
                if (d.pos != before)
                    abort();
                break;
            }
            if (start != data + before || before + n != d.pos || d.pos > size)
                abort();
        }
        /* Typed reads in a fixed rotation exercise every accessor. */
        cbor_dec_init(&d, data, size, flags);
        for (int i = 0; i < 64 && !cbor_dec_done(&d); i++) {
            uint64_t u;
            int64_t s;
            const uint8_t *p;
            const char *t;
            size_t n;
            double f;
            bool b;
            cbor_err_t err;
            switch (i % 8) {
            case 0: err = cbor_decode_uint(&d, &u); break;
            case 1: err = cbor_decode_int(&d, &s); break;
            case 2: err = cbor_decode_bstr(&d, &p, &n); break;
            case 3: err = cbor_decode_tstr(&d, &t, &n); break;
            case 4: err = cbor_decode_array(&d, &n); break;
            case 5: err = cbor_decode_map(&d, &n); break;
            case 6: err = cbor_decode_double(&d, &f); break;
            default: err = cbor_decode_bool(&d, &b); break;
            }
            if (err != CBOR_OK) {
                cbor_item_t it;
                if (cbor_dec_next(&d, &it) != CBOR_OK)
                    break;
            }
        }
    }
    cose_key_t key;
    (void)cose_key_decode(&key, data, size);
    return 0;
}
