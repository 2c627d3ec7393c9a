/* libFuzzer: every LwM2M content-format decoder. The first byte picks TLV
 * (under a path chosen by the second), SenML CBOR, CoRE Link Format or
 * plain text (as each type); the rest is the payload. */
#include <stdint.h>
#include <stdlib.h>

#include "coreseal/lwm2m.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t sel = data[0], arg = data[1];
    data += 2;
    size -= 2;
    lwm2m_entry_t e;
    switch (sel & 3) {
    case 0: {
        static const lwm2m_path_t bases[] = {{{3}, 1}, {{3, 0}, 2}, {{3, 0, 6}, 3}, {{0}, 0}};
        lwm2m_tlv_dec_t d;
        lwm2m_tlv_dec_init(&d, data, size, &bases[arg & 3]);
        for (int i = 0; i < 1000 && lwm2m_tlv_next(&d, &e) == LWM2M_OK; i++) {
            lwm2m_value_t v;
            if (e.raw + e.raw_len > data + size || e.path.len > 4)
                abort();
            (void)lwm2m_value_from_raw(e.raw, e.raw_len, (lwm2m_type_t)(1 + arg % 9), &v);
        }
        break;
    }
    case 1: {
        lwm2m_senml_dec_t d;
        lwm2m_senml_dec_init(&d, data, size);
        for (int i = 0; i < 1000 && lwm2m_senml_next(&d, &e) == LWM2M_OK; i++)
            if (e.path.len > 4)
                abort();
        break;
    }
    case 2: {
        lwm2m_link_dec_t d;
        lwm2m_link_t l;
        lwm2m_link_dec_init(&d, data, size);
        for (int i = 0; i < 1000 && lwm2m_link_next(&d, &l) == LWM2M_OK; i++)
            if (l.attrs + l.attrs_len > (const char *)data + size)
                abort();
        break;
    }
    default: {
        lwm2m_value_t v;
        uint8_t out[64];
        size_t n;
        /* what decodes must encode again */
        if (lwm2m_text_decode(data, size, (lwm2m_type_t)(1 + arg % 9), &v) == LWM2M_OK &&
            v.type != LWM2M_TYPE_OPAQUE && v.type != LWM2M_TYPE_STRING &&
            v.type != LWM2M_TYPE_CORELNK && lwm2m_text_encode(&v, out, sizeof out, &n) != LWM2M_OK)
            abort();
    }
    }
    return 0;
}
