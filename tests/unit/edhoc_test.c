/* EDHOC (RFC 9528): the RFC 9529 traces byte for byte (message_1..4,
 * PRK_out, exporter, OSCORE parameters, KeyUpdate), the suite negotiation
 * of trace 3, the invalid messages of RFC 9529 §4, every method x suite
 * the backend has between our own initiator and responder followed by an
 * OSCORE request, and tampering / wrong credentials. The traces' ephemeral
 * keys come from a test crypto backend whose keygen returns them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/cbor.h"
#include "coreseal/cose.h"
#include "coreseal/crypto_openssl.h"
#include "coreseal/edhoc.h"
#include "testutil.h"

static cs_crypto_t real, fixed; /* fixed: keygen returns `next_key` */
static uint8_t next_key[48];
static size_t next_key_len;
static json_t *vectors;

static cs_crypto_err_t fixed_keygen(void *state, int32_t crv, uint8_t *priv, size_t *priv_len,
                                    uint8_t *pub, size_t *pub_len)
{
    if (next_key_len == 0)
        return real.keygen(state, crv, priv, priv_len, pub, pub_len);
    memcpy(priv, next_key, next_key_len);
    *priv_len = next_key_len;
    next_key_len = 0;
    return real.public_key(state, crv, priv, *priv_len, pub, pub_len);
}

static int setup(void **state)
{
    (void)state;
    if (cs_crypto_openssl_new(&real) != CS_CRYPTO_OK)
        return -1;
    fixed = real;
    fixed.keygen = fixed_keygen;
    vectors = tu_load_vectors("edhoc-rfc9529.json");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cs_crypto_openssl_free(&real);
    json_decref(vectors);
    return 0;
}

static json_t *step(const char *trace, const char *section)
{
    json_t *s = json_object_get(
        json_object_get(json_object_get(json_object_get(vectors, "traces"), trace), "steps"),
        section);
    assert_non_null(s);
    return s;
}

static void inject(json_t *obj, const char *key)
{
    next_key_len = tu_json_hex(obj, key, next_key, sizeof next_key);
}

static void assert_vec(const uint8_t *got, size_t n, json_t *obj, const char *key)
{
    uint8_t want[1024];
    size_t wn = tu_json_hex(obj, key, want, sizeof want);
    if (n != wn || memcmp(got, want, n) != 0)
        fail_msg("%s differs (%zu vs %zu bytes)", key, n, wn);
}

typedef struct {
    uint8_t id_cred[64], cred[512], pub[97], priv[48];
    size_t id_cred_len, cred_len, pub_len, priv_len;
} party_t;

static edhoc_cred_t cred_of(const party_t *p)
{
    return (edhoc_cred_t){p->id_cred, p->id_cred_len, p->cred, p->cred_len, p->pub, p->pub_len};
}

/* ---------------------------------------------------------------- trace 2 */

static void test_trace2_method0_suite0_x509(void **state)
{
    (void)state;
    json_t *s1 = step("2", "2.1"), *s2 = step("2", "2.2"), *s3 = step("2", "2.3"),
           *s4 = step("2", "2.4"), *s5 = step("2", "2.5"), *s6 = step("2", "2.6"),
           *s7 = step("2", "2.7");
    party_t I, R;
    I.id_cred_len = tu_json_hex(s3, "id_cred_i_cbor", I.id_cred, sizeof I.id_cred);
    I.cred_len = tu_json_hex(s3, "cred_i_cbor", I.cred, sizeof I.cred);
    I.pub_len = tu_json_hex(s3, "pk_i", I.pub, sizeof I.pub);
    I.priv_len = tu_json_hex(s3, "sk_i", I.priv, sizeof I.priv);
    R.id_cred_len = tu_json_hex(s2, "id_cred_r_cbor", R.id_cred, sizeof R.id_cred);
    R.cred_len = tu_json_hex(s2, "cred_r_cbor", R.cred, sizeof R.cred);
    R.pub_len = tu_json_hex(s2, "pk_r", R.pub, sizeof R.pub);
    R.priv_len = tu_json_hex(s2, "sk_r", R.priv, sizeof R.priv);
    const uint8_t suites[] = {0}, c_i[] = {0x2d}, c_r[] = {0x18};
    edhoc_config_t ci = {EDHOC_METHOD_SIG_SIG, suites, 1, c_i, 1, cred_of(&I), I.priv, I.priv_len, NULL, NULL};
    edhoc_config_t cr = {EDHOC_METHOD_SIG_SIG, suites, 1, c_r, 1, cred_of(&R), R.priv, R.priv_len, NULL, NULL};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[1024];
    size_t n, idl, eadl;
    const uint8_t *idc, *ead;
    assert_int_equal(edhoc_initiator_init(&si, &fixed, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &fixed, &cr, scr_r, sizeof scr_r), EDHOC_OK);

    inject(s1, "x");
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, s1, "message_1");
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_OK);
    assert_int_equal(eadl, 0);

    inject(s2, "y");
    assert_int_equal(edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, s2, "message_2");
    assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
    assert_vec(idc, idl, s2, "id_cred_r_cbor");
    assert_vec(si.prk_2e, 32, s2, "prk_2e");
    edhoc_cred_t rc = cred_of(&R);
    assert_int_equal(edhoc_initiator_verify_message_2(&si, &rc), EDHOC_OK);

    assert_int_equal(edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, s3, "message_3");
    assert_vec(si.th, 32, s3, "th_4");
    assert_int_equal(edhoc_responder_parse_message_3(&sr, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
    assert_vec(idc, idl, s3, "id_cred_i_cbor");
    edhoc_cred_t ic = cred_of(&I);
    assert_int_equal(edhoc_responder_verify_message_3(&sr, &ic), EDHOC_OK);

    assert_int_equal(edhoc_responder_prepare_message_4(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, s4, "message_4");
    uint8_t ead4[16];
    assert_int_equal(edhoc_initiator_process_message_4(&si, m, n, ead4, sizeof ead4, &eadl), EDHOC_OK);
    assert_int_equal(eadl, 0);

    assert_vec(si.prk_out, 32, s5, "prk_out");
    assert_vec(sr.prk_out, 32, s5, "prk_out");
    assert_vec(si.prk_exporter, 32, s5, "prk_exporter");
    edhoc_oscore_keys_t ki, kr;
    oscore_params_t pi, pr;
    assert_int_equal(edhoc_export_oscore(&si, &ki, &pi), EDHOC_OK);
    assert_int_equal(edhoc_export_oscore(&sr, &kr, &pr), EDHOC_OK);
    assert_vec(pi.master_secret, pi.master_secret_len, s6, "oscore_master_secret");
    assert_vec(pi.master_salt, pi.master_salt_len, s6, "oscore_master_salt");
    assert_vec(pi.sender_id, pi.sender_id_len, s6, "client_oscore_sender_id");
    assert_vec(pi.recipient_id, pi.recipient_id_len, s6, "client_oscore_recipient_id");
    assert_vec(pr.sender_id, pr.sender_id_len, s6, "server_oscore_sender_id");
    assert_vec(pr.master_secret, pr.master_secret_len, s6, "oscore_master_secret");

    uint8_t ctx[32];
    size_t cl = tu_json_hex(s7, "context_key_update", ctx, sizeof ctx);
    assert_int_equal(edhoc_key_update(&si, ctx, cl), EDHOC_OK);
    assert_vec(si.prk_out, 32, s7, "prk_out_after_key_update");
    assert_vec(si.prk_exporter, 32, s7, "prk_exporter_after_key_update");
    assert_int_equal(edhoc_export_oscore(&si, &ki, &pi), EDHOC_OK);
    assert_vec(pi.master_secret, 16, s7, "oscore_master_secret_after_key_update");
    assert_vec(pi.master_salt, 8, s7, "oscore_master_salt_after_key_update");
    edhoc_session_wipe(&si);
    edhoc_session_wipe(&sr);
}

/* ---------------------------------------------------------------- trace 3 */

static void trace3_parties(party_t *I, party_t *R)
{
    json_t *s4 = step("3", "3.4"), *s5 = step("3", "3.5");
    I->id_cred_len = tu_json_hex(s5, "id_cred_i_cbor", I->id_cred, sizeof I->id_cred);
    I->cred_len = tu_json_hex(s5, "cred_i_cbor", I->cred, sizeof I->cred);
    I->pub[0] = 4;
    tu_json_hex(s5, "pk_i_x", I->pub + 1, 32);
    tu_json_hex(s5, "pk_i_y", I->pub + 33, 32);
    I->pub_len = 65;
    I->priv_len = tu_json_hex(s5, "sk_i", I->priv, sizeof I->priv);
    R->id_cred_len = tu_json_hex(s4, "id_cred_r_cbor", R->id_cred, sizeof R->id_cred);
    R->cred_len = tu_json_hex(s4, "cred_r_cbor", R->cred, sizeof R->cred);
    R->pub[0] = 4;
    tu_json_hex(s4, "pk_r_x", R->pub + 1, 32);
    tu_json_hex(s4, "pk_r_y", R->pub + 33, 32);
    R->pub_len = 65;
    R->priv_len = tu_json_hex(s4, "sk_r", R->priv, sizeof R->priv);
}

static void test_trace3_method3_suite2_negotiation(void **state)
{
    (void)state;
    party_t I, R;
    trace3_parties(&I, &R);
    const uint8_t first[] = {6}, second[] = {6, 2}, r_suites[] = {2};
    const uint8_t c_i1[] = {0x0e}, c_i2[] = {0x37}, c_r[] = {0x27};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[512];
    size_t n, idl, eadl;
    const uint8_t *idc, *ead;
    edhoc_config_t cr = {EDHOC_METHOD_STAT_STAT, r_suites, 1, c_r, 1, cred_of(&R), R.priv, R.priv_len, NULL, NULL};

    /* First attempt with suite 6: error code 2 with SUITES_R 2 (§3.2). The
     * trace's message_1 carries a P-256 G_X although suite 6 uses X25519 (it
     * is refused before the key matters), so our initiator's own message_1
     * cannot equal it; the responder is fed the trace's bytes instead. */
    edhoc_config_t ci = {EDHOC_METHOD_STAT_STAT, first, 1, c_i1, 1, cred_of(&I), I.priv, I.priv_len, NULL, NULL};
    assert_int_equal(edhoc_initiator_init(&si, &fixed, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &fixed, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_int_equal(m[0], 0x03);
    assert_int_equal(m[1], 0x06);
    n = tu_json_hex(step("3", "3.1"), "message_1", m, sizeof m);
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_ERR_WRONG_SUITE);
    assert_int_equal(edhoc_prepare_error(&sr, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, step("3", "3.2"), "error");
    assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl),
                     EDHOC_ERR_PEER_WRONG_SUITE);
    const uint8_t *sr_list;
    assert_int_equal(edhoc_peer_suites(&si, &sr_list), 1);
    assert_int_equal(sr_list[0], 2);

    /* second attempt, SUITES_I [6, 2] */
    ci.suites = second;
    ci.n_suites = 2;
    ci.cid = c_i2;
    assert_int_equal(edhoc_initiator_init(&si, &fixed, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &fixed, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    inject(step("3", "3.3"), "x");
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, step("3", "3.3"), "message_1");
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_OK);
    inject(step("3", "3.4"), "y");
    assert_int_equal(edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(sr.prk_3e2m, 32, step("3", "3.4"), "prk_3e2m");
    assert_vec(m, n, step("3", "3.4"), "message_2");
    assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
    assert_vec(idc, idl, step("3", "3.4"), "id_cred_r_cbor"); /* rebuilt from the compact kid */
    edhoc_cred_t rc = cred_of(&R);
    assert_int_equal(edhoc_initiator_verify_message_2(&si, &rc), EDHOC_OK);
    assert_vec(si.th, 32, step("3", "3.5"), "th_3");
    assert_int_equal(edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(si.prk_4e3m, 32, step("3", "3.5"), "prk_4e3m");
    assert_vec(m, n, step("3", "3.5"), "message_3");
    assert_int_equal(edhoc_responder_parse_message_3(&sr, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
    edhoc_cred_t ic = cred_of(&I);
    assert_int_equal(edhoc_responder_verify_message_3(&sr, &ic), EDHOC_OK);
    assert_int_equal(edhoc_responder_prepare_message_4(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_vec(m, n, step("3", "3.6"), "message_4");
    assert_vec(sr.prk_out, 32, step("3", "3.7"), "prk_out");
    edhoc_oscore_keys_t k;
    oscore_params_t p;
    assert_int_equal(edhoc_export_oscore(&sr, &k, &p), EDHOC_OK);
    assert_vec(p.master_secret, 16, step("3", "3.8"), "oscore_master_secret");
    assert_vec(p.master_salt, 8, step("3", "3.8"), "oscore_master_salt");
    assert_vec(p.sender_id, p.sender_id_len, step("3", "3.8"), "server_oscore_sender_id");
    uint8_t ctx[32];
    size_t cl = tu_json_hex(step("3", "3.9"), "context_key_update", ctx, sizeof ctx);
    assert_int_equal(edhoc_key_update(&sr, ctx, cl), EDHOC_OK);
    assert_int_equal(edhoc_export_oscore(&sr, &k, &p), EDHOC_OK);
    assert_vec(p.master_secret, 16, step("3", "3.9"), "oscore_master_secret_after_key_update");
}

/* ---------------------------------------------------------------- invalid */

/* RFC 9529 §4: each invalid message_1 is refused, at the latest when the
 * responder would use its key; each invalid PLAINTEXT_2 by the initiator. */
static void test_rfc9529_invalid_messages(void **state)
{
    (void)state;
    party_t I, R;
    trace3_parties(&I, &R);
    json_t *inv = json_object_get(vectors, "invalid");
    size_t idx;
    json_t *c;
    int checked = 0;
    json_array_foreach(inv, idx, c) {
        const char *msg = json_string_value(json_object_get(c, "message"));
        const char *sec = json_string_value(json_object_get(c, "section"));
        uint8_t v[256], m[512];
        size_t n = tu_json_hex(c, "value", v, sizeof v), mn, eadl, idl;
        const uint8_t *ead, *idc;
        static edhoc_session_t si, sr;
        static uint8_t scr_i[2048], scr_r[2048];
        if (strcmp(msg, "message_1") == 0) {
            /* a responder that would accept the message's method and suite */
            uint8_t method = v[0] <= 3 ? v[0] : 3;
            const uint8_t suites[] = {0, 2, 24};
            const uint8_t c_r[] = {0x27};
            edhoc_config_t cr = {(edhoc_method_t)method, suites + (strstr(sec, "4.2.4") ? 0 : 1),
                                 strstr(sec, "4.2.4") ? 1 : 2, c_r, 1, cred_of(&R), R.priv,
                                 R.priv_len, NULL, NULL};
            if (strstr(sec, "4.2.4")) { /* X25519 low-order point: an X25519 responder */
                static uint8_t xpriv[32] = {1};
                static const uint8_t xidc[] = {0xa1, 0x04, 0x41, 0x32};
                cr.own = (edhoc_cred_t){xidc, 4, xidc, 4, xidc, 4};
                cr.priv = xpriv;
                cr.priv_len = 32;
            }
            assert_int_equal(edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r), EDHOC_OK);
            edhoc_err_t err = edhoc_responder_process_message_1(&sr, v, n, &ead, &eadl);
            if (err == EDHOC_OK)
                err = edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &mn);
            if (err == EDHOC_OK)
                fail_msg("RFC 9529 %s (%s) was accepted", sec,
                         json_string_value(json_object_get(c, "title")));
            assert_int_equal(edhoc_prepare_error(&sr, m, sizeof m, &mn), EDHOC_OK);
            checked++;
        } else {
            /* message_2 / PLAINTEXT_2 against the trace 3 initiator */
            const uint8_t suites[] = {6, 2}, c_i[] = {0x37};
            edhoc_config_t ci = {EDHOC_METHOD_STAT_STAT, suites, 2, c_i, 1, cred_of(&I), I.priv,
                                 I.priv_len, NULL, NULL};
            assert_int_equal(edhoc_initiator_init(&si, &fixed, &ci, scr_i, sizeof scr_i), EDHOC_OK);
            inject(step("3", "3.3"), "x");
            assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &mn),
                             EDHOC_OK);
            if (strcmp(msg, "PLAINTEXT_2") == 0) {
                /* encrypt the invalid plaintext with the trace's KEYSTREAM_2 */
                uint8_t prk[32], th2[32], info[64], ks[64];
                tu_json_hex(step("3", "3.4"), "prk_2e", prk, 32);
                tu_json_hex(step("3", "3.4"), "th_2", th2, 32);
                cbor_enc_t e;
                size_t il;
                cbor_enc_init(&e, info, sizeof info);
                cbor_encode_uint(&e, 0);
                cbor_encode_bstr(&e, th2, 32);
                cbor_encode_uint(&e, n);
                assert_int_equal(cbor_enc_finish(&e, &il), CBOR_OK);
                assert_int_equal(real.hkdf_expand(real.state, CS_HASH_SHA256, prk, 32, info, il, ks,
                                                  n), CS_CRYPTO_OK);
                uint8_t body[128];
                tu_json_hex(step("3", "3.4"), "g_y", body, 32);
                for (size_t i = 0; i < n; i++)
                    body[32 + i] = v[i] ^ ks[i];
                cbor_enc_init(&e, v, sizeof v);
                cbor_encode_bstr(&e, body, 32 + n);
                assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
            }
            edhoc_err_t err = edhoc_initiator_parse_message_2(&si, v, n, &idc, &idl, &ead, &eadl);
            if (err == EDHOC_OK) {
                edhoc_cred_t rc = cred_of(&R);
                err = edhoc_initiator_verify_message_2(&si, &rc);
            }
            if (err == EDHOC_OK)
                fail_msg("RFC 9529 %s (%s) was accepted", sec,
                         json_string_value(json_object_get(c, "title")));
            checked++;
        }
    }
    assert_int_equal(checked, 15);
}

/* ---------------------------------------------------------------- matrix */

/* A CCS {2: "t", 8: {1: COSE_Key}} for a fresh key pair on `crv`. */
static void make_party(cs_crypto_t *c, int32_t crv, uint8_t kid, party_t *p)
{
    uint8_t pub[97];
    size_t pub_len;
    assert_int_equal(c->keygen(c->state, crv, p->priv, &p->priv_len, pub, &pub_len), CS_CRYPTO_OK);
    memcpy(p->pub, pub, pub_len);
    p->pub_len = pub_len;
    bool okp = crv == CS_CRV_X25519 || crv == CS_CRV_ED25519;
    size_t n = cs_crv_priv_len(crv);
    cose_key_t k = {.kty = okp ? COSE_KTY_OKP : COSE_KTY_EC2, .crv = crv, .kid = &kid, .kid_len = 1,
                    .x = okp ? pub : pub + 1, .x_len = n, .y = okp ? NULL : pub + 1 + n,
                    .y_len = okp ? 0 : n};
    uint8_t key[160];
    size_t kl;
    assert_int_equal(cose_key_encode(&k, key, sizeof key, &kl), COSE_OK);
    cbor_enc_t e;
    cbor_enc_init(&e, p->cred, sizeof p->cred);
    cbor_encode_map(&e, 2);
    cbor_encode_uint(&e, 2);
    cbor_encode_tstr(&e, "t", 1);
    cbor_encode_uint(&e, 8);
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, 1);
    cbor_encode_raw(&e, key, kl);
    assert_int_equal(cbor_enc_finish(&e, &p->cred_len), CBOR_OK);
    p->id_cred[0] = 0xa1;
    p->id_cred[1] = 0x04;
    p->id_cred[2] = 0x41;
    p->id_cred[3] = kid;
    p->id_cred_len = 4;
}

/* A full handshake; returns the first error. `tamper` flips a bit of
 * message 2 or 3 on the way. */
static edhoc_err_t handshake(uint8_t suite, edhoc_method_t method, int tamper, bool wrong_cred,
                             oscore_ctx_t *client, oscore_ctx_t *server)
{
    const edhoc_suite_t *st = edhoc_suite(suite);
    party_t I, R, other;
    bool i_sig = method == EDHOC_METHOD_SIG_SIG || method == EDHOC_METHOD_SIG_STAT;
    bool r_sig = method == EDHOC_METHOD_SIG_SIG || method == EDHOC_METHOD_STAT_SIG;
    int32_t sig_crv = cs_sig_curve(st->sig_alg);
    make_party(&real, i_sig ? sig_crv : st->ecdh_curve, 0x2b, &I);
    make_party(&real, r_sig ? sig_crv : st->ecdh_curve, 0x32, &R);
    make_party(&real, r_sig ? sig_crv : st->ecdh_curve, 0x32, &other);
    const uint8_t suites[] = {suite}, c_i[] = {0x0e}, c_r[] = {0x41, 0x42};
    edhoc_config_t ci = {method, suites, 1, c_i, 1, cred_of(&I), I.priv, I.priv_len, NULL, NULL};
    edhoc_config_t cr = {method, suites, 1, c_r, 2, cred_of(&R), R.priv, R.priv_len, NULL, NULL};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[1024];
    size_t n, idl, eadl;
    const uint8_t *idc, *ead;
    edhoc_err_t err;
    if ((err = edhoc_initiator_init(&si, &real, &ci, scr_i, sizeof scr_i)) != EDHOC_OK ||
        (err = edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r)) != EDHOC_OK ||
        (err = edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n)) != EDHOC_OK ||
        (err = edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl)) != EDHOC_OK ||
        (err = edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n)) != EDHOC_OK)
        return err;
    if (tamper == 2)
        m[n - 1] ^= 0x01;
    if ((err = edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl)) != EDHOC_OK)
        return err;
    if (idl != R.id_cred_len || memcmp(idc, R.id_cred, idl) != 0)
        return EDHOC_ERR_UNKNOWN_CREDENTIAL;
    edhoc_cred_t rc = cred_of(wrong_cred ? &other : &R);
    if ((err = edhoc_initiator_verify_message_2(&si, &rc)) != EDHOC_OK ||
        (err = edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n)) != EDHOC_OK)
        return err;
    if (tamper == 3)
        m[n - 1] ^= 0x01;
    edhoc_cred_t ic = cred_of(&I);
    if ((err = edhoc_responder_parse_message_3(&sr, m, n, &idc, &idl, &ead, &eadl)) != EDHOC_OK ||
        (err = edhoc_responder_verify_message_3(&sr, &ic)) != EDHOC_OK)
        return err;
    static edhoc_oscore_keys_t ki, kr;
    oscore_params_t pi, pr;
    if ((err = edhoc_export_oscore(&si, &ki, &pi)) != EDHOC_OK ||
        (err = edhoc_export_oscore(&sr, &kr, &pr)) != EDHOC_OK)
        return err;
    assert_int_equal(oscore_ctx_derive(client, &real, &pi), OSCORE_OK);
    assert_int_equal(oscore_ctx_derive(server, &real, &pr), OSCORE_OK);
    return EDHOC_OK;
}

static void test_all_methods_and_suites_then_oscore(void **state)
{
    (void)state;
    const uint8_t suite_ids[] = {0, 1, 2, 3, 4, 5, 6, 24};
    int runs = 0;
    for (size_t si = 0; si < sizeof suite_ids; si++) {
        assert_true(edhoc_suite_supported(&real, suite_ids[si]));
        for (int method = 0; method <= 3; method++) {
            oscore_ctx_t client, server;
            edhoc_err_t err = handshake(suite_ids[si], (edhoc_method_t)method, 0, false, &client,
                                        &server);
            if (err != EDHOC_OK)
                fail_msg("suite %u method %d: %s", suite_ids[si], method, coreseal_errname(err));
            /* and the derived contexts carry an OSCORE request */
            uint8_t plain[4] = {0x40, 0x01, 0, 1}, prot[64], back[128];
            coap_msg_t m;
            oscore_binding_t b;
            size_t n;
            assert_int_equal(coap_msg_parse(&m, plain, 4), COAP_OK);
            assert_int_equal(oscore_protect_request(&client, &m, prot, sizeof prot, &n, &b), OSCORE_OK);
            assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
            assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &n, &b), OSCORE_OK);
            runs++;
        }
    }
    assert_int_equal(runs, 32);
    assert_false(edhoc_suite_supported(&real, 25)); /* X448/SHAKE256: refused, not crashed */
    assert_null(edhoc_suite(7));
}

static void test_tampering_and_wrong_credentials(void **state)
{
    (void)state;
    oscore_ctx_t c, s;
    for (int method = 0; method <= 3; method++) {
        edhoc_err_t err = handshake(2, (edhoc_method_t)method, 2, false, &c, &s);
        assert_true(err == EDHOC_ERR_AUTH || err == EDHOC_ERR_MALFORMED);
        assert_int_equal(handshake(2, (edhoc_method_t)method, 3, false, &c, &s), EDHOC_ERR_DECRYPT);
        err = handshake(0, (edhoc_method_t)method, 0, true, &c, &s);
        assert_int_equal(err, EDHOC_ERR_AUTH);
    }
}

/* RFC 9668: message_3 rides in front of the first OSCORE request. */
static void test_combined_request_rfc9668(void **state)
{
    (void)state;
    party_t I, R;
    trace3_parties(&I, &R);
    const uint8_t suites[] = {2}, c_i[] = {0x37}, c_r[] = {0x27};
    edhoc_config_t ci = {EDHOC_METHOD_STAT_STAT, suites, 1, c_i, 1, cred_of(&I), I.priv, I.priv_len, NULL, NULL};
    edhoc_config_t cr = {EDHOC_METHOD_STAT_STAT, suites, 1, c_r, 1, cred_of(&R), R.priv, R.priv_len, NULL, NULL};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[512], m3[256], plain[64], prot[256], comb[512], split[512], back[512];
    size_t n, n3, pn, cn, sn, bn, idl, eadl;
    const uint8_t *idc, *ead, *got_m3;
    edhoc_cred_t rc = cred_of(&R), ic = cred_of(&I);
    assert_int_equal(edhoc_initiator_init(&si, &real, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_OK);
    assert_int_equal(edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
    assert_int_equal(edhoc_initiator_verify_message_2(&si, &rc), EDHOC_OK);
    assert_int_equal(edhoc_initiator_prepare_message_3(&si, NULL, 0, m3, sizeof m3, &n3), EDHOC_OK);

    /* client: OSCORE context first, then the combined request */
    edhoc_oscore_keys_t ki, kr;
    oscore_params_t pi, pr;
    oscore_ctx_t client, server;
    assert_int_equal(edhoc_export_oscore(&si, &ki, &pi), EDHOC_OK);
    assert_int_equal(oscore_ctx_derive(&client, &real, &pi), OSCORE_OK);
    coap_builder_t b;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 5,
                      (const uint8_t *)"\x01", 1);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "temp", 4);
    assert_int_equal(coap_builder_finish(&b, &pn), COAP_OK);
    coap_msg_t req, preq, creq, sreq, out;
    oscore_binding_t cb, sb;
    assert_int_equal(coap_msg_parse(&req, plain, pn), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &n, &cb), OSCORE_OK);
    size_t prot_len = n;
    assert_int_equal(coap_msg_parse(&preq, prot, n), COAP_OK);
    assert_int_equal(edhoc_combine_request(&preq, m3, n3, comb, sizeof comb, &cn), EDHOC_OK);
    assert_int_equal(coap_msg_parse(&creq, comb, cn), COAP_OK);
    coap_opt_t o;
    assert_true(coap_msg_find_option(&creq, COAP_OPT_EDHOC, &o));
    assert_int_equal(o.len, 0);
    assert_int_equal(creq.payload_len, n3 + preq.payload_len);

    /* server: split, finish EDHOC with the session named by the kid (C_R) */
    oscore_option_t opt;
    assert_int_equal(oscore_msg_option(&creq, &opt), OSCORE_OK);
    assert_int_equal(opt.kid_len, 1);
    assert_int_equal(opt.kid[0], c_r[0]);
    assert_int_equal(edhoc_split_combined_request(&creq, &got_m3, &n, split, sizeof split, &sn),
                     EDHOC_OK);
    assert_int_equal(n, n3);
    assert_memory_equal(got_m3, m3, n3);
    assert_int_equal(edhoc_responder_parse_message_3(&sr, got_m3, n, &idc, &idl, &ead, &eadl),
                     EDHOC_OK);
    assert_int_equal(edhoc_responder_verify_message_3(&sr, &ic), EDHOC_OK);
    assert_int_equal(edhoc_export_oscore(&sr, &kr, &pr), EDHOC_OK);
    assert_int_equal(oscore_ctx_derive(&server, &real, &pr), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&sreq, split, sn), COAP_OK);
    assert_int_equal(sn, prot_len); /* exactly the OSCORE request the client protected */
    assert_memory_equal(split, prot, sn);
    assert_int_equal(oscore_unprotect_request(&server, &sreq, back, sizeof back, &bn, &sb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&out, back, bn), COAP_OK);
    assert_true(coap_msg_find_option(&out, COAP_OPT_URI_PATH, &o));
    assert_memory_equal(o.val, "temp", 4);
    /* a request without the EDHOC option is not a combined one */
    assert_int_equal(edhoc_split_combined_request(&preq, &got_m3, &n, split, sizeof split, &sn),
                     EDHOC_ERR_MALFORMED);
}

static void test_errors_and_misuse(void **state)
{
    (void)state;
    party_t I, R;
    trace3_parties(&I, &R);
    const uint8_t suites[] = {2}, c_i[] = {0x37}, c_r[] = {0x27};
    edhoc_config_t ci = {EDHOC_METHOD_STAT_STAT, suites, 1, c_i, 1, cred_of(&I), I.priv, I.priv_len, NULL, NULL};
    edhoc_config_t cr = {EDHOC_METHOD_STAT_STAT, suites, 1, c_r, 1, cred_of(&R), R.priv, R.priv_len, NULL, NULL};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[512];
    size_t n, idl, eadl;
    const uint8_t *idc, *ead;
    assert_int_equal(edhoc_initiator_init(&si, &real, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    /* out of order */
    assert_int_equal(edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n),
                     EDHOC_ERR_BAD_STATE);
    assert_int_equal(edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n),
                     EDHOC_ERR_BAD_STATE);
    assert_int_equal(edhoc_prepare_error(&sr, m, sizeof m, &n), EDHOC_ERR_BAD_STATE);
    /* method the responder does not accept */
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
    m[0] = 0x00;
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl),
                     EDHOC_ERR_UNSUPPORTED_METHOD);
    assert_int_equal(edhoc_prepare_error(&sr, m, sizeof m, &n), EDHOC_OK);
    assert_int_equal(m[0], 0x01); /* code 1 with a diagnostic */
    /* the failure is sticky */
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_ERR_BAD_STATE);
    /* unknown credential: error code 3 */
    edhoc_reject_credential(&sr);
    assert_int_equal(edhoc_prepare_error(&sr, m, sizeof m, &n), EDHOC_OK);
    tu_assert_hex(m, n, "03f5");
    assert_int_equal(edhoc_decode_error(m, n), EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL);
    assert_int_equal(edhoc_decode_error((const uint8_t *)"\x58", 1), EDHOC_ERR_MALFORMED);
    assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl),
                     EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL);
    /* truncated message_1 */
    assert_int_equal(edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    assert_int_equal(edhoc_responder_process_message_1(&sr, m, 1, &ead, &eadl), EDHOC_ERR_MALFORMED);
}

/* ---------------------------------------------------------------- EAD */

typedef struct {
    int32_t knows; /* the one label understood (critical: -knows) */
    int n;
    int msg[8];
    int64_t label[8];
    size_t value_len[8];
    uint8_t first_value_byte[8];
} ead_log_t;

static bool on_ead(void *arg, int msg, int64_t label, const uint8_t *value, size_t value_len)
{
    ead_log_t *l = arg;
    if (l->n < 8) {
        l->msg[l->n] = msg, l->label[l->n] = label, l->value_len[l->n] = value_len;
        l->first_value_byte[l->n++] = value && value_len ? value[0] : 0;
    }
    return label == l->knows || label == -l->knows;
}

/* A handshake carrying EAD in all four messages; returns the first error.
 * The items reach the peer's callback, each message's after it verified. */
static edhoc_err_t ead_handshake(const uint8_t *ead1, size_t l1, const uint8_t *ead2, size_t l2, const uint8_t *ead3,
                                 size_t l3, const uint8_t *ead4, size_t l4, ead_log_t *at_i, ead_log_t *at_r,
                                 uint8_t *err_msg, size_t *err_len)
{
    party_t I, R;
    make_party(&real, CS_CRV_P256, 0x2b, &I);
    make_party(&real, CS_CRV_P256, 0x32, &R);
    const uint8_t suites[] = {2}, c_i[] = {0x0e}, c_r[] = {0x18};
    edhoc_config_t ci = {EDHOC_METHOD_STAT_STAT, suites, 1, c_i, 1, cred_of(&I), I.priv, I.priv_len, on_ead, at_i};
    edhoc_config_t cr = {EDHOC_METHOD_STAT_STAT, suites, 1, c_r, 1, cred_of(&R), R.priv, R.priv_len, on_ead, at_r};
    static edhoc_session_t si, sr;
    static uint8_t scr_i[2048], scr_r[2048];
    uint8_t m[1024], ead_out[64];
    size_t n, idl, eadl;
    const uint8_t *idc, *ead;
    edhoc_err_t err;
    edhoc_cred_t rc = cred_of(&R), ic = cred_of(&I);
    assert_int_equal(edhoc_initiator_init(&si, &real, &ci, scr_i, sizeof scr_i), EDHOC_OK);
    assert_int_equal(edhoc_responder_init(&sr, &real, &cr, scr_r, sizeof scr_r), EDHOC_OK);
    assert_int_equal(edhoc_initiator_prepare_message_1(&si, ead1, l1, m, sizeof m, &n), EDHOC_OK);
    edhoc_session_t *failed = &sr;
    if ((err = edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl)) == EDHOC_OK) {
        assert_int_equal(eadl, l1); /* also handed out as it came */
        assert_int_equal(edhoc_responder_prepare_message_2(&sr, ead2, l2, m, sizeof m, &n), EDHOC_OK);
        failed = &si;
        if ((err = edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl)) == EDHOC_OK &&
            (err = edhoc_initiator_verify_message_2(&si, &rc)) == EDHOC_OK) {
            assert_int_equal(edhoc_initiator_prepare_message_3(&si, ead3, l3, m, sizeof m, &n), EDHOC_OK);
            failed = &sr;
            if ((err = edhoc_responder_parse_message_3(&sr, m, n, &idc, &idl, &ead, &eadl)) == EDHOC_OK &&
                (err = edhoc_responder_verify_message_3(&sr, &ic)) == EDHOC_OK) {
                assert_int_equal(edhoc_responder_prepare_message_4(&sr, ead4, l4, m, sizeof m, &n), EDHOC_OK);
                failed = NULL;
                err = edhoc_initiator_process_message_4(&si, m, n, ead_out, sizeof ead_out, &eadl);
            }
        }
    }
    *err_len = 0;
    if (err != EDHOC_OK && failed)
        assert_int_equal(edhoc_prepare_error(failed, err_msg, 64, err_len), EDHOC_OK);
    return err;
}

/* EAD items reach the application in every message; a critical item it
 * does not understand ends the session with error code 1, wherever it
 * comes; a non-critical one is ignored; malformed EAD is refused. */
static void test_ead_callbacks(void **state)
{
    (void)state;
    static const uint8_t ead1[] = {0x05, 0x42, 0xaa, 0xbb}, /* label 5, h'aabb' */
        ead2[] = {0x00, 0x09},                               /* padding, then label 9 without a value */
        ead3[] = {0x24, 0x41, 0x33},                         /* label -5 (critical), h'33' */
        ead4[] = {0x07, 0x41, 0x44}, crit_unknown[] = {0x26, 0x41, 0x01} /* label -7 */,
        malformed[] = {0x41, 0x00}; /* a bstr where a label belongs */
    ead_log_t at_i = {.knows = 5}, at_r = {.knows = 5};
    uint8_t err_msg[64];
    size_t err_len;
    assert_int_equal(ead_handshake(ead1, sizeof ead1, ead2, sizeof ead2, ead3, sizeof ead3, ead4, sizeof ead4, &at_i,
                                   &at_r, err_msg, &err_len),
                     EDHOC_OK);
    assert_int_equal(at_r.n, 2); /* EAD_1 and EAD_3 at the responder */
    assert_int_equal(at_r.msg[0], 1);
    assert_int_equal(at_r.label[0], 5);
    assert_int_equal(at_r.value_len[0], 2);
    assert_int_equal(at_r.first_value_byte[0], 0xaa);
    assert_int_equal(at_r.msg[1], 3);
    assert_int_equal(at_r.label[1], -5);
    assert_int_equal(at_i.n, 3); /* EAD_2's two items and EAD_4 at the initiator */
    assert_int_equal(at_i.msg[0], 2);
    assert_int_equal(at_i.label[0], 0);
    assert_int_equal(at_i.label[1], 9);
    assert_int_equal(at_i.value_len[1], 0);
    assert_int_equal(at_i.msg[2], 4);
    assert_int_equal(at_i.label[2], 7);
    /* a critical item nobody understands, in message_1, 2 or 3: error code 1 */
    for (int where = 1; where <= 3; where++) {
        at_i = (ead_log_t){.knows = 5}, at_r = (ead_log_t){.knows = 5};
        edhoc_err_t e = ead_handshake(where == 1 ? crit_unknown : NULL, where == 1 ? 3 : 0,
                                      where == 2 ? crit_unknown : NULL, where == 2 ? 3 : 0,
                                      where == 3 ? crit_unknown : NULL, where == 3 ? 3 : 0, NULL, 0, &at_i, &at_r,
                                      err_msg, &err_len);
        assert_int_equal(e, EDHOC_ERR_CRITICAL_EAD);
        assert_true(err_len > 1);
        assert_int_equal(err_msg[0], 0x01); /* ERR_CODE 1, "critical EAD item not understood" */
        assert_int_equal(edhoc_decode_error(err_msg, err_len), EDHOC_ERR_PEER_UNSPECIFIED);
    }
    /* ... and in message_4 */
    at_i = (ead_log_t){.knows = 5}, at_r = (ead_log_t){.knows = 5};
    assert_int_equal(ead_handshake(NULL, 0, NULL, 0, NULL, 0, crit_unknown, 3, &at_i, &at_r, err_msg, &err_len),
                     EDHOC_ERR_CRITICAL_EAD);
    /* understood, the same critical item passes */
    at_i = (ead_log_t){.knows = 7}, at_r = (ead_log_t){.knows = 7};
    assert_int_equal(ead_handshake(crit_unknown, 3, crit_unknown, 3, crit_unknown, 3, crit_unknown, 3, &at_i, &at_r,
                                   err_msg, &err_len),
                     EDHOC_OK);
    /* malformed EAD_1 */
    at_i = (ead_log_t){.knows = 5}, at_r = (ead_log_t){.knows = 5};
    assert_int_equal(ead_handshake(malformed, sizeof malformed, NULL, 0, NULL, 0, NULL, 0, &at_i, &at_r, err_msg,
                                   &err_len),
                     EDHOC_ERR_MALFORMED);
    assert_int_equal(at_r.n, 0);
}

/* ---------------------------------------------------------------- X.509 */

typedef struct {
    uint8_t priv[48], pub[97], der[1024];
    size_t priv_len, pub_len, der_len;
} cert_t;

/* A key pair on crv and its certificate: self-signed (issuer NULL) or
 * issued by issuer. */
static void make_cert(int32_t crv, const char *cn, bool ca, const cert_t *issuer, int32_t issuer_crv, cert_t *c)
{
    assert_int_equal(real.keygen(real.state, crv, c->priv, &c->priv_len, c->pub, &c->pub_len), CS_CRYPTO_OK);
    assert_int_equal(cs_openssl_make_certificate(crv, c->pub, c->pub_len, cn, 2, ca, issuer ? issuer_crv : crv,
                                                 issuer ? issuer->priv : c->priv,
                                                 issuer ? issuer->priv_len : c->priv_len, issuer ? issuer->der : NULL,
                                                 issuer ? issuer->der_len : 0, c->der, sizeof c->der, &c->der_len),
                     CS_CRYPTO_OK);
}

/* {33: x5chain}: one bstr, or an array of n. */
static size_t x5chain(const cert_t *const *chain, size_t n, bool array, uint8_t *out, size_t cap)
{
    cbor_enc_t e;
    size_t len;
    cbor_enc_init(&e, out, cap);
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, 33);
    if (array)
        cbor_encode_array(&e, n);
    for (size_t i = 0; i < n; i++)
        cbor_encode_bstr(&e, chain[i]->der, chain[i]->der_len);
    assert_int_equal(cbor_enc_finish(&e, &len), CBOR_OK);
    return len;
}

/* x5t against RFC 9529 trace 2 (its ID_CRED_x name the certificates by
 * SHA-256/64); x5chain verified up to a trust anchor, by value, alone or
 * with its issuer, a pinned end entity, and every way it fails. */
static void test_x509_credentials(void **state)
{
    (void)state;
    json_t *s2 = step("2", "2.2"), *s3 = step("2", "2.3");
    uint8_t idc_r[64], cred_r[512], idc_i[64], cred_i[512];
    size_t idc_r_len = tu_json_hex(s2, "id_cred_r_cbor", idc_r, sizeof idc_r);
    size_t cred_r_len = tu_json_hex(s2, "cred_r_cbor", cred_r, sizeof cred_r);
    size_t idc_i_len = tu_json_hex(s3, "id_cred_i_cbor", idc_i, sizeof idc_i);
    size_t cred_i_len = tu_json_hex(s3, "cred_i_cbor", cred_i, sizeof cred_i);
    cbor_dec_t d;
    const uint8_t *cert_r, *cert_i;
    size_t cert_r_len, cert_i_len;
    cbor_dec_init(&d, cred_r, cred_r_len, 0);
    assert_int_equal(cbor_decode_bstr(&d, &cert_r, &cert_r_len), CBOR_OK);
    cbor_dec_init(&d, cred_i, cred_i_len, 0);
    assert_int_equal(cbor_decode_bstr(&d, &cert_i, &cert_i_len), CBOR_OK);
    assert_true(edhoc_x5t_names(&real, idc_r, idc_r_len, cert_r, cert_r_len));
    assert_true(edhoc_x5t_names(&real, idc_i, idc_i_len, cert_i, cert_i_len));
    assert_false(edhoc_x5t_names(&real, idc_r, idc_r_len, cert_i, cert_i_len));
    assert_false(edhoc_x5t_names(&real, (const uint8_t *)"\xa1\x04\x41\x01", 4, cert_i, cert_i_len));

    static cert_t ca, other_ca, ee, ee_p256;
    make_cert(CS_CRV_P256, "test-ca", true, NULL, 0, &ca);
    make_cert(CS_CRV_P256, "other-ca", true, NULL, 0, &other_ca);
    make_cert(CS_CRV_ED25519, "dev1", false, &ca, CS_CRV_P256, &ee);
    make_cert(CS_CRV_P256, "dev2", false, &ca, CS_CRV_P256, &ee_p256);
    const uint8_t *ca_der[] = {ca.der}, *other_der[] = {other_ca.der}, *ee_der[] = {ee.der};
    size_t ca_len[] = {ca.der_len}, other_len[] = {other_ca.der_len}, ee_len[] = {ee.der_len};
    const edhoc_anchors_t anchors = {ca_der, ca_len, 1}, others = {other_der, other_len, 1},
                          pinned = {ee_der, ee_len, 1};
    char cn[16];
    uint8_t idc[2048], pub[CS_EC_MAX_PUB];
    int32_t crv;
    edhoc_cred_t cred;
    const cert_t *one[] = {&ee}, *two[] = {&ee, &ca}, *p256[] = {&ee_p256};
    size_t n = x5chain(one, 1, false, idc, sizeof idc);
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, cn, sizeof cn, &cred), EDHOC_OK);
    assert_string_equal(cn, "dev1"); /* whom the application authorizes */
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, cn, 4, &cred), EDHOC_OK);
    assert_string_equal(cn, ""); /* never cut short */
    assert_int_equal(crv, CS_CRV_ED25519);
    assert_int_equal(cred.pub_len, ee.pub_len);
    assert_memory_equal(cred.pub, ee.pub, ee.pub_len);
    assert_ptr_equal(cred.id_cred, idc);
    assert_ptr_equal(cred.cred, idc + 3); /* a1 18 21, then the bstr: CRED_x */
    assert_int_equal(cred.cred_len, cbor_head_size(ee.der_len) + ee.der_len);
    assert_memory_equal(cred.cred + cred.cred_len - ee.der_len, ee.der, ee.der_len);
    n = x5chain(two, 2, true, idc, sizeof idc); /* with its issuer */
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, NULL, 0, &cred), EDHOC_OK);
    assert_memory_equal(cred.cred + cred.cred_len - ee.der_len, ee.der, ee.der_len);
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &others, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_UNKNOWN_CREDENTIAL);
    n = x5chain(one, 1, true, idc, sizeof idc); /* an end entity pinned as the anchor */
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &pinned, &crv, pub, NULL, 0, &cred), EDHOC_OK);
    n = x5chain(p256, 1, false, idc, sizeof idc);
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, NULL, 0, &cred), EDHOC_OK);
    assert_int_equal(crv, CS_CRV_P256);
    assert_int_equal(cred.pub_len, 65);
    assert_memory_equal(cred.pub, ee_p256.pub, 65);
    idc[n - 1] ^= 0x01; /* the CA's signature no longer holds */
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_UNKNOWN_CREDENTIAL);
    /* not an x5chain, or not well formed */
    static const uint8_t kid[] = {0xa1, 0x04, 0x41, 0x01}, not_bstr[] = {0xa1, 0x18, 0x21, 0x05},
                         empty_array[] = {0xa1, 0x18, 0x21, 0x80};
    assert_int_equal(edhoc_x5chain_credential(&real, kid, 4, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_MALFORMED);
    assert_int_equal(edhoc_x5chain_credential(&real, not_bstr, 4, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_MALFORMED);
    assert_int_equal(edhoc_x5chain_credential(&real, empty_array, 4, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_MALFORMED);
    const cert_t *five[] = {&ee, &ca, &ca, &ca, &ca};
    n = x5chain(five, 5, true, idc, sizeof idc);
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_MALFORMED);
    n = x5chain(one, 1, false, idc, sizeof idc);
    idc[n++] = 0x00; /* trailing bytes */
    assert_int_equal(edhoc_x5chain_credential(&real, idc, n, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_MALFORMED);
    cs_crypto_t no_x509 = real;
    no_x509.x509_verify = NULL;
    n = x5chain(one, 1, false, idc, sizeof idc);
    assert_int_equal(edhoc_x5chain_credential(&no_x509, idc, n, &anchors, &crv, pub, NULL, 0, &cred),
                     EDHOC_ERR_CRYPTO);
}

/* Method 0, suite 0 between parties that send their certificates by value
 * (x5chain) and verify each other's against a CA; then a responder whose
 * certificate another CA issued is refused with error code 3. */
static void test_x5chain_handshake(void **state)
{
    (void)state;
    static cert_t ca, other_ca, ci, cr, stranger;
    make_cert(CS_CRV_P256, "test-ca", true, NULL, 0, &ca);
    make_cert(CS_CRV_P256, "other-ca", true, NULL, 0, &other_ca);
    make_cert(CS_CRV_ED25519, "initiator", false, &ca, CS_CRV_P256, &ci);
    make_cert(CS_CRV_ED25519, "responder", false, &ca, CS_CRV_P256, &cr);
    make_cert(CS_CRV_ED25519, "responder", false, &other_ca, CS_CRV_P256, &stranger);
    const uint8_t *ca_der[] = {ca.der};
    size_t ca_len[] = {ca.der_len};
    const edhoc_anchors_t anchors = {ca_der, ca_len, 1};
    for (int round = 0; round < 2; round++) {
        const cert_t *resp = round ? &stranger : &cr;
        static uint8_t idc_i[1100], idc_r[1100];
        const cert_t *chain_i[] = {&ci}, *chain_r[] = {resp};
        size_t li = x5chain(chain_i, 1, false, idc_i, sizeof idc_i), lr = x5chain(chain_r, 1, false, idc_r, sizeof idc_r);
        uint8_t pub[CS_EC_MAX_PUB];
        int32_t crv;
        edhoc_cred_t own_i, own_r, peer;
        /* each side's own credential: its x5chain verified against itself */
        const uint8_t *der_i[] = {ci.der}, *der_r[] = {resp->der};
        size_t len_i[] = {ci.der_len}, len_r[] = {resp->der_len};
        const edhoc_anchors_t self_i = {der_i, len_i, 1}, self_r = {der_r, len_r, 1};
        static uint8_t pub_i[CS_EC_MAX_PUB], pub_r[CS_EC_MAX_PUB];
        assert_int_equal(edhoc_x5chain_credential(&real, idc_i, li, &self_i, &crv, pub_i, NULL, 0, &own_i),
                         EDHOC_OK);
        assert_int_equal(edhoc_x5chain_credential(&real, idc_r, lr, &self_r, &crv, pub_r, NULL, 0, &own_r),
                         EDHOC_OK);
        const uint8_t suites[] = {0}, c_i[] = {0x0e}, c_r[] = {0x18};
        edhoc_config_t cfg_i = {EDHOC_METHOD_SIG_SIG, suites, 1, c_i, 1, own_i, ci.priv, ci.priv_len, NULL, NULL};
        edhoc_config_t cfg_r = {EDHOC_METHOD_SIG_SIG, suites, 1, c_r, 1, own_r, resp->priv, resp->priv_len, NULL, NULL};
        static edhoc_session_t si, sr;
        static uint8_t scr_i[4096], scr_r[4096];
        uint8_t m[2048];
        size_t n, idl, eadl;
        const uint8_t *idc, *ead;
        assert_int_equal(edhoc_initiator_init(&si, &real, &cfg_i, scr_i, sizeof scr_i), EDHOC_OK);
        assert_int_equal(edhoc_responder_init(&sr, &real, &cfg_r, scr_r, sizeof scr_r), EDHOC_OK);
        assert_int_equal(edhoc_initiator_prepare_message_1(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
        assert_int_equal(edhoc_responder_process_message_1(&sr, m, n, &ead, &eadl), EDHOC_OK);
        assert_int_equal(edhoc_responder_prepare_message_2(&sr, NULL, 0, m, sizeof m, &n), EDHOC_OK);
        assert_int_equal(edhoc_initiator_parse_message_2(&si, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
        edhoc_err_t e = edhoc_x5chain_credential(&real, idc, idl, &anchors, &crv, pub, NULL, 0, &peer);
        if (round == 1) { /* another CA's certificate: error code 3 */
            assert_int_equal(e, EDHOC_ERR_UNKNOWN_CREDENTIAL);
            edhoc_reject_credential(&si);
            assert_int_equal(edhoc_prepare_error(&si, m, sizeof m, &n), EDHOC_OK);
            assert_int_equal(edhoc_decode_error(m, n), EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL);
            continue;
        }
        assert_int_equal(e, EDHOC_OK);
        assert_int_equal(edhoc_initiator_verify_message_2(&si, &peer), EDHOC_OK);
        assert_int_equal(edhoc_initiator_prepare_message_3(&si, NULL, 0, m, sizeof m, &n), EDHOC_OK);
        assert_int_equal(edhoc_responder_parse_message_3(&sr, m, n, &idc, &idl, &ead, &eadl), EDHOC_OK);
        assert_int_equal(edhoc_x5chain_credential(&real, idc, idl, &anchors, &crv, pub, NULL, 0, &peer),
                         EDHOC_OK);
        assert_int_equal(edhoc_responder_verify_message_3(&sr, &peer), EDHOC_OK);
        static edhoc_oscore_keys_t ki, kr;
        oscore_params_t pi, pr;
        assert_int_equal(edhoc_export_oscore(&si, &ki, &pi), EDHOC_OK);
        assert_int_equal(edhoc_export_oscore(&sr, &kr, &pr), EDHOC_OK);
        assert_memory_equal(ki.master_secret, kr.master_secret, sizeof ki.master_secret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace2_method0_suite0_x509),
        cmocka_unit_test(test_trace3_method3_suite2_negotiation),
        cmocka_unit_test(test_rfc9529_invalid_messages),
        cmocka_unit_test(test_all_methods_and_suites_then_oscore),
        cmocka_unit_test(test_tampering_and_wrong_credentials),
        cmocka_unit_test(test_combined_request_rfc9668),
        cmocka_unit_test(test_errors_and_misuse),
        cmocka_unit_test(test_x509_credentials),
        cmocka_unit_test(test_x5chain_handshake),
        cmocka_unit_test(test_ead_callbacks),
    };
    return cmocka_run_group_tests_name("edhoc", tests, setup, teardown);
}
