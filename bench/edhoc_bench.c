/* EDHOC: message sizes per method and suite, and responder handshakes per
 * second next to the public-key operations a responder cannot avoid
 * (ephemeral keygen, ECDH with G_X, plus static DH or sign/verify as the
 * method needs). Prints a table; every number is measured.
 *   build/bench/edhoc_bench [handshakes] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/cbor.h"
#include "coreseal/cose.h"
#include "coreseal/crypto_openssl.h"
#include "coreseal/edhoc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    uint8_t priv[48], pub[97], cred[200], id_cred[4];
    size_t priv_len, pub_len, cred_len;
} party_t;

static void make_party(cs_crypto_t *c, int32_t crv, uint8_t kid, party_t *p)
{
    if (c->keygen(c->state, crv, p->priv, &p->priv_len, p->pub, &p->pub_len) != CS_CRYPTO_OK)
        abort();
    bool okp = crv == CS_CRV_X25519 || crv == CS_CRV_ED25519;
    size_t n = cs_crv_priv_len(crv);
    cose_key_t k = {.kty = okp ? COSE_KTY_OKP : COSE_KTY_EC2, .crv = crv, .kid = &kid, .kid_len = 1,
                    .x = okp ? p->pub : p->pub + 1, .x_len = n, .y = okp ? NULL : p->pub + 1 + n,
                    .y_len = okp ? 0 : n};
    uint8_t key[160];
    size_t kl;
    if (cose_key_encode(&k, key, sizeof key, &kl) != COSE_OK)
        abort();
    cbor_enc_t e;
    cbor_enc_init(&e, p->cred, sizeof p->cred);
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, 8);
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, 1);
    cbor_encode_raw(&e, key, kl);
    if (cbor_enc_finish(&e, &p->cred_len) != CBOR_OK)
        abort();
    uint8_t idc[4] = {0xa1, 0x04, 0x41, kid};
    memcpy(p->id_cred, idc, 4);
}

static edhoc_cred_t cred(const party_t *p)
{
    return (edhoc_cred_t){p->id_cred, 4, p->cred, p->cred_len, p->pub, p->pub_len};
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 300;
    cs_crypto_t c;
    if (cs_crypto_openssl_new(&c) != CS_CRYPTO_OK)
        return 1;
    printf("EDHOC handshakes (%ld per row, one core); sizes in bytes\n\n", n);
    printf("%-6s %-6s %5s %5s %5s %14s %14s %8s\n", "method", "suite", "m1", "m2", "m3",
           "responder hs/s", "pk-ops bound/s", "of bound");
    const uint8_t suites[] = {0, 1, 2, 3, 4, 5, 6, 24, 25}; /* every one RFC 9528 registers */
    for (size_t si = 0; si < sizeof suites; si++) {
        const edhoc_suite_t *st = edhoc_suite(suites[si]);
        if (!st || !edhoc_suite_supported(&c, suites[si])) {
            printf("%-6s %-6u not in this crypto backend\n", "-", suites[si]);
            continue;
        }
        for (int method = 0; method <= 3; method++) {
            bool i_sig = method <= 1, r_sig = method == 0 || method == 2;
            int32_t sig_crv = cs_sig_curve(st->sig_alg);
            party_t I, R;
            make_party(&c, i_sig ? sig_crv : st->ecdh_curve, 0x2b, &I);
            make_party(&c, r_sig ? sig_crv : st->ecdh_curve, 0x32, &R);
            const uint8_t sid[] = {suites[si]}, ci[] = {0x0e}, cr[] = {0x27};
            edhoc_config_t cfi = {(edhoc_method_t)method, sid, 1, ci, 1, cred(&I), I.priv, I.priv_len, NULL, NULL};
            edhoc_config_t cfr = {(edhoc_method_t)method, sid, 1, cr, 1, cred(&R), R.priv, R.priv_len, NULL, NULL};
            static edhoc_session_t si_, sr_;
            static uint8_t scr_i[2048], scr_r[2048];
            double resp_time = 0, pk_time = 0;
            size_t l1 = 0, l2 = 0, l3 = 0;
            /* The responder's unavoidable public-key work, alone: ephemeral
             * keygen, ECDH(y, G_X), then ECDH(r, G_X) or a signature, then
             * ECDH(y, G_I) or a signature verification. */
            uint8_t gx_priv[48], gx[97], priv[48], pub[97], sec[48], rsig[96], isig[96];
            uint8_t msg[64] = {0};
            size_t gxl, gxpl, pl, publ, sl, isigl = 0;
            if (c.keygen(c.state, st->ecdh_curve, gx_priv, &gxpl, gx, &gxl) ||
                (i_sig && c.sign(c.state, st->sig_alg, I.priv, I.priv_len, msg, sizeof msg, isig, &isigl)))
                return 1;
            /* handshakes and the bound in alternating rounds, so the
             * machine's ups and downs fall on both alike */
            for (long k = 0; k < n; k++) {
                uint8_t m1[256], m2[512], m3[512];
                const uint8_t *idc, *ead;
                size_t idl, eadl;
                edhoc_cred_t rc = cred(&R), ic = cred(&I);
                if (edhoc_initiator_init(&si_, &c, &cfi, scr_i, sizeof scr_i) ||
                    edhoc_initiator_prepare_message_1(&si_, NULL, 0, m1, sizeof m1, &l1))
                    return 1;
                double t = now_s();
                if (edhoc_responder_init(&sr_, &c, &cfr, scr_r, sizeof scr_r) ||
                    edhoc_responder_process_message_1(&sr_, m1, l1, &ead, &eadl) ||
                    edhoc_responder_prepare_message_2(&sr_, NULL, 0, m2, sizeof m2, &l2))
                    return 1;
                resp_time += now_s() - t;
                if (edhoc_initiator_parse_message_2(&si_, m2, l2, &idc, &idl, &ead, &eadl) ||
                    edhoc_initiator_verify_message_2(&si_, &rc) ||
                    edhoc_initiator_prepare_message_3(&si_, NULL, 0, m3, sizeof m3, &l3))
                    return 1;
                t = now_s();
                if (edhoc_responder_parse_message_3(&sr_, m3, l3, &idc, &idl, &ead, &eadl) ||
                    edhoc_responder_verify_message_3(&sr_, &ic))
                    return 1;
                resp_time += now_s() - t;
                t = now_s();
                bool ok = !c.keygen(c.state, st->ecdh_curve, priv, &pl, pub, &publ) &&
                          !c.ecdh(c.state, st->ecdh_curve, priv, pl, gx, gxl, sec, &sl);
                if (r_sig)
                    ok = ok && !c.sign(c.state, st->sig_alg, R.priv, R.priv_len, msg, sizeof msg, rsig, &sl);
                else
                    ok = ok && !c.ecdh(c.state, st->ecdh_curve, R.priv, R.priv_len, gx, gxl, sec, &sl);
                if (i_sig)
                    ok = ok && !c.verify(c.state, st->sig_alg, I.pub, I.pub_len, msg, sizeof msg, isig, isigl);
                else
                    ok = ok && !c.ecdh(c.state, st->ecdh_curve, priv, pl, I.pub, I.pub_len, sec, &sl);
                pk_time += now_s() - t;
                if (!ok)
                    return 1;
            }
            printf("%-6d %-6u %5zu %5zu %5zu %14.0f %14.0f %7.0f%%\n", method, suites[si], l1, l2,
                   l3, n / resp_time, n / pk_time, 100.0 * pk_time / resp_time);
        }
    }
    cs_crypto_openssl_free(&c);
    return 0;
}
