/* libFuzzer: every LwM2M content-format decoder and the Write-Attributes
 * query parser. The first byte picks TLV (under a path chosen by the
 * second), SenML CBOR, CoRE Link Format, plain text (as each type), an
 * attribute query ("pmin=1&gt=2", numeric or not by the second byte), LwM2M
 * CBOR or SenML JSON (decoded, encoded, decoded again: the same entries) or
 * one CBOR value; the rest is the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/lwm2m_report.h"

/* Accepted attributes must survive their own Discover text. Only the
 * periods are checked so: thresholds print with 15 significant digits, so
 * lt + 2*st < gt may not hold for the printed values at the edge. */
static void attributes(const uint8_t *data, size_t size, bool numeric)
{
    uint8_t msg[1024];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_PUT, 1, NULL, 0);
    for (size_t i = 0; i <= size;) {
        const uint8_t *amp = memchr(data + i, '&', size - i);
        size_t k = amp ? (size_t)(amp - (data + i)) : size - i;
        coap_builder_add_option(&b, COAP_OPT_URI_QUERY, data + i, k);
        i += k + 1;
    }
    coap_msg_t m;
    lwm2m_attrs_t a = {0}, again = {0};
    if (coap_builder_finish(&b, &n) != COAP_OK || coap_msg_parse(&m, msg, n) != COAP_OK ||
        lwm2m_attrs_apply_query(&a, &m, numeric) != LWM2M_OK)
        return;
    char text[512];
    size_t tn = lwm2m_attrs_format(&a, text, sizeof text);
    if (tn == 0 || (a.set & (LWM2M_ATTR_GT | LWM2M_ATTR_LT | LWM2M_ATTR_ST)))
        return;
    for (size_t i = 0; i < tn; i++)
        if (text[i] == ';')
            text[i] = '&';
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_PUT, 1, NULL, 0);
    for (size_t i = 1; i < tn;) { /* skip the leading separator */
        size_t k = strcspn(text + i, "&");
        coap_builder_add_option(&b, COAP_OPT_URI_QUERY, text + i, k);
        i += k + 1;
    }
    if (coap_builder_finish(&b, &n) != COAP_OK || coap_msg_parse(&m, msg, n) != COAP_OK ||
        lwm2m_attrs_apply_query(&again, &m, numeric) != LWM2M_OK || again.set != a.set)
        abort();
}

static void lwm2m_cbor_round_trip(const uint8_t *data, size_t size)
{
    static uint8_t again[8192];
    lwm2m_cbor_dec_t d, d2;
    lwm2m_cbor_enc_t enc;
    lwm2m_entry_t e, e2;
    size_t n, count = 0;
    lwm2m_cbor_enc_init(&enc, again, sizeof again);
    lwm2m_cbor_dec_init(&d, data, size);
    while (count < 1000 && lwm2m_cbor_next(&d, &e) == LWM2M_OK) {
        if (e.path.len == 0 || e.path.len > 4 || e.raw + e.raw_len > data + size)
            abort();
        lwm2m_cbor_put(&enc, &e.path, &e.value);
        count++;
    }
    if (lwm2m_cbor_enc_finish(&enc, &n) != LWM2M_OK)
        return;
    lwm2m_cbor_dec_init(&d, data, size);
    lwm2m_cbor_dec_init(&d2, again, n);
    for (size_t i = 0; i < count; i++) {
        if (lwm2m_cbor_next(&d, &e) != LWM2M_OK || lwm2m_cbor_next(&d2, &e2) != LWM2M_OK ||
            e.path.len != e2.path.len || memcmp(e.path.ids, e2.path.ids, e.path.len * sizeof e.path.ids[0]) ||
            e.value.type != e2.value.type)
            abort();
    }
}

/* JSON has numbers, not integers and floats: 9.0 comes back as 9. */
static int kind(lwm2m_type_t t)
{
    return t == LWM2M_TYPE_FLOAT || t == LWM2M_TYPE_UNSIGNED ? LWM2M_TYPE_INTEGER : (int)t;
}

static void senml_json_round_trip(const uint8_t *data, size_t size)
{
    static uint8_t again[16384];
    static lwm2m_senml_json_dec_t d, d2;
    lwm2m_senml_json_enc_t enc;
    lwm2m_entry_t e, e2;
    size_t n, count = 0;
    lwm2m_senml_json_enc_init(&enc, again, sizeof again);
    lwm2m_senml_json_dec_init(&d, data, size);
    while (count < 200 && lwm2m_senml_json_next(&d, &e) == LWM2M_OK) {
        if (e.path.len > 4)
            abort();
        lwm2m_senml_json_put(&enc, &e.path, &e.value);
        count++;
    }
    if (lwm2m_senml_json_enc_finish(&enc, &n) != LWM2M_OK)
        return;
    lwm2m_senml_json_dec_init(&d, data, size);
    lwm2m_senml_json_dec_init(&d2, again, n);
    for (size_t i = 0; i < count; i++) {
        if (lwm2m_senml_json_next(&d, &e) != LWM2M_OK || lwm2m_senml_json_next(&d2, &e2) != LWM2M_OK ||
            e.path.len != e2.path.len || memcmp(e.path.ids, e2.path.ids, e.path.len * sizeof e.path.ids[0]) ||
            kind(e.value.type) != kind(e2.value.type) ||
            ((e.value.type == LWM2M_TYPE_STRING || e.value.type == LWM2M_TYPE_OPAQUE) &&
             (e.value.v.bytes.n != e2.value.v.bytes.n ||
              memcmp(e.value.v.bytes.p, e2.value.v.bytes.p, e.value.v.bytes.n))))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t sel = data[0], arg = data[1];
    data += 2;
    size -= 2;
    lwm2m_entry_t e;
    switch (sel % 8) {
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
    case 4:
        attributes(data, size, arg & 1);
        break;
    case 5: /* LwM2M CBOR: what decodes encodes again, entry for entry */
        lwm2m_cbor_round_trip(data, size);
        break;
    case 7: /* SenML JSON: what decodes encodes again, entry for entry */
        senml_json_round_trip(data, size);
        break;
    case 6: {
        uint8_t out[64];
        size_t n;
        e.path.len = 0;
        if (lwm2m_cbor_value_decode(data, size, &e) == LWM2M_OK && e.value.type != LWM2M_TYPE_NONE &&
            lwm2m_cbor_value_encode(&e.value, out, sizeof out, &n) == LWM2M_ERR_TYPE)
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
