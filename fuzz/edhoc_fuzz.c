/* libFuzzer: EDHOC message parsing. The first input byte picks the target:
 * message_1 at a responder (then message_2 is prepared if it was accepted,
 * so key checks run too), message_2 or an error message at an initiator
 * that sent message_1, message_3 at a responder that sent message_2, and
 * message_4 at an initiator that completed; 0xff: an X.509 ID_CRED_x
 * (x5chain, x5t). Keys are fixed (RFC 9529 trace
 * 3) so the fuzzer explores parsing, not key generation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/edhoc.h"

static cs_crypto_t crypto;
static const uint8_t sk_i[32] = {0xfb, 0x13, 0xad, 0xeb, 0x65, 0x18, 0xce, 0xe5, 0xf8, 0x84, 0x17,
                                 0x66, 0x08, 0x41, 0x14, 0x2e, 0x83, 0x0a, 0x81, 0xfe, 0x33, 0x43,
                                 0x80, 0xa9, 0x53, 0x40, 0x6a, 0x13, 0x05, 0xe8, 0x70, 0x6b};
static const uint8_t sk_r[32] = {0x72, 0xcc, 0x47, 0x61, 0xdb, 0xd4, 0xc7, 0x8f, 0x75, 0x89, 0x31,
                                 0xaa, 0x58, 0x9d, 0x34, 0x8d, 0x1e, 0xf8, 0x74, 0xa7, 0xe3, 0x03,
                                 0xed, 0xe2, 0xf1, 0x40, 0xdc, 0xf3, 0xe6, 0xaa, 0x4a, 0xac};
static uint8_t pub_i[65], pub_r[65];
static const uint8_t idc_i[] = {0xa1, 0x04, 0x41, 0x2b}, idc_r[] = {0xa1, 0x04, 0x41, 0x32};

static void init(void)
{
    size_t n;
    if (cs_crypto_openssl_new(&crypto) != CS_CRYPTO_OK ||
        crypto.public_key(crypto.state, CS_CRV_P256, sk_i, 32, pub_i, &n) != CS_CRYPTO_OK ||
        crypto.public_key(crypto.state, CS_CRV_P256, sk_r, 32, pub_r, &n) != CS_CRYPTO_OK)
        abort();
}

static void configs(edhoc_config_t *ci, edhoc_config_t *cr, uint8_t method)
{
    static const uint8_t suites[] = {2}, c_i[] = {0x37}, c_r[] = {0x27};
    /* credentials stand in for themselves: the transcript only needs bytes */
    *ci = (edhoc_config_t){(edhoc_method_t)(method & 3), suites, 1, c_i, 1,
                           {idc_i, 4, idc_i, 4, pub_i, 65}, sk_i, 32, NULL, NULL};
    *cr = (edhoc_config_t){(edhoc_method_t)(method & 3), suites, 1, c_r, 1,
                           {idc_r, 4, idc_r, 4, pub_r, 65}, sk_r, 32, NULL, NULL};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    if (sel == 0xff) { /* an X.509 ID_CRED_x: x5chain (against an anchor) or x5t */
        uint8_t pub[CS_EC_MAX_PUB];
        int32_t crv;
        char cn[32];
        edhoc_cred_t cred;
        const uint8_t *anchor = pub_r; /* not a certificate: nothing verifies */
        size_t anchor_len = sizeof pub_r;
        const edhoc_anchors_t anchors = {&anchor, &anchor_len, 1};
        if (edhoc_x5chain_credential(&crypto, data, size, &anchors, &crv, pub, cn, sizeof cn, &cred) == EDHOC_OK)
            abort(); /* no chain can verify up to that */
        (void)edhoc_x5t_names(&crypto, data, size, pub_i, sizeof pub_i);
        return 0;
    }
    static edhoc_session_t si, sr;
    static uint8_t scr_i[1024], scr_r[1024], m[1024];
    size_t n, l1, l2;
    const uint8_t *p1, *p2;
    edhoc_config_t ci, cr;
    configs(&ci, &cr, sel >> 2);
    if (edhoc_initiator_init(&si, &crypto, &ci, scr_i, sizeof scr_i) != EDHOC_OK ||
        edhoc_responder_init(&sr, &crypto, &cr, scr_r, sizeof scr_r) != EDHOC_OK)
        abort();
    switch (sel & 3) {
    case 0: /* message_1 */
        if (edhoc_responder_process_message_1(&sr, data, size, &p1, &l1) == EDHOC_OK)
            (void)edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n);
        else if (edhoc_prepare_error(&sr, m, sizeof m, &n) != EDHOC_OK)
            abort(); /* every failure can be reported */
        break;
    case 1: /* message_2 or error */
        if (edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n) != EDHOC_OK)
            abort();
        if (edhoc_initiator_parse_message_2(&si, data, size, &p1, &l1, &p2, &l2) == EDHOC_OK) {
            edhoc_cred_t rc = cr.own;
            (void)edhoc_initiator_verify_message_2(&si, &rc);
        }
        break;
    default: { /* message_3, or message_4 after a real handshake */
        edhoc_cred_t rc = cr.own, ic = ci.own;
        if (edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n) != EDHOC_OK ||
            edhoc_responder_process_message_1(&sr, m, n, &p1, &l1) != EDHOC_OK ||
            edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n) != EDHOC_OK ||
            edhoc_initiator_parse_message_2(&si, m, n, &p1, &l1, &p2, &l2) != EDHOC_OK ||
            edhoc_initiator_verify_message_2(&si, &rc) != EDHOC_OK)
            abort();
        if ((sel & 3) == 2) {
            if (edhoc_responder_parse_message_3(&sr, data, size, &p1, &l1, &p2, &l2) == EDHOC_OK)
                (void)edhoc_responder_verify_message_3(&sr, &ic);
        } else {
            uint8_t ead[256];
            if (edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n) != EDHOC_OK)
                abort();
            (void)edhoc_initiator_process_message_4(&si, data, size, ead, sizeof ead, &n);
        }
    }
    }
    edhoc_session_wipe(&si);
    edhoc_session_wipe(&sr);
    return 0;
}
