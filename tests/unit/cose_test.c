/* COSE: the algorithm table, Enc_structure against RFC 8613 C.4,
 * Sig_structure and its EdDSA signature against RFC 9529 §2.2, COSE_Key
 * against the CCS of RFC 9529 §3.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/cose.h"
#include "coreseal/crypto_openssl.h"
#include "testutil.h"

static void test_alg_table(void **state)
{
    (void)state;
    const cose_alg_info_t *a = cose_alg_by_id(10);
    assert_non_null(a);
    assert_string_equal(a->name, "AES-CCM-16-64-128");
    assert_int_equal(a->key_len, 16);
    assert_int_equal(a->nonce_len, 13);
    assert_int_equal(a->tag_len, 8);
    a = cose_alg_by_name("ChaCha20/Poly1305");
    assert_non_null(a);
    assert_int_equal(a->id, 24);
    assert_int_equal(a->nonce_len, 12);
    a = cose_alg_by_id(30);
    assert_int_equal(a->tag_len, 16);
    a = cose_alg_by_name("HKDF SHA-256");
    assert_int_equal(a->id, -10);
    assert_int_equal(a->hash, -16);
    assert_null(cose_alg_by_id(9999));
    assert_null(cose_alg_by_name("aes-ccm-16-64-128")); /* names compare exactly */
    assert_null(cose_alg_by_name(NULL));
}

static void test_enc_structure_rfc8613_c4(void **state)
{
    (void)state;
    json_t *v = tu_load_vectors("oscore-rfc8613.json");
    json_t *c4 = json_object_get(json_object_get(v, "message_protection"), "C.4");
    uint8_t aad_array[64], want[64], out[64];
    size_t an = tu_json_hex(c4, "aad_array", aad_array, sizeof aad_array);
    size_t wn = tu_json_hex(c4, "aad", want, sizeof want), n;
    assert_int_equal(cose_encode_enc_structure(out, sizeof out, &n, NULL, 0, aad_array, an), COSE_OK);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    assert_int_equal(cose_encode_enc_structure(out, n - 1, &n, NULL, 0, aad_array, an),
                     COSE_ERR_NO_SPACE);
    json_decref(v);
}

static void test_sig_structure_rfc9529_2_2(void **state)
{
    (void)state;
    json_t *v = tu_load_vectors("edhoc-rfc9529.json");
    json_t *s = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "traces"), "2"), "steps"), "2.2");
    uint8_t id_cred[64], ext[512], mac[64], want[600], out[600], sig[64], pk[32];
    size_t idn = tu_json_hex(s, "id_cred_r_cbor", id_cred, sizeof id_cred);
    size_t thn = tu_json_hex(s, "th_2_cbor", ext, sizeof ext);
    size_t crn = tu_json_hex(s, "cred_r_cbor", ext + thn, sizeof ext - thn);
    size_t macn = tu_json_hex(s, "mac_2", mac, sizeof mac);
    size_t wn = tu_json_hex(s, "message_to_be_signed_2_cbor", want, sizeof want), n;
    tu_json_hex(s, "signature_or_mac_2", sig, sizeof sig);
    tu_json_hex(s, "pk_r", pk, sizeof pk);
    assert_int_equal(cose_encode_sig_structure(out, sizeof out, &n, id_cred, idn, ext, thn + crn,
                                               mac, macn), COSE_OK);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    /* and the trace's signature verifies over it */
    cs_crypto_t c;
    assert_int_equal(cs_crypto_openssl_new(&c), CS_CRYPTO_OK);
    assert_int_equal(c.verify(c.state, CS_SIG_EDDSA, pk, 32, out, n, sig, 64), CS_CRYPTO_OK);
    cs_crypto_openssl_free(&c);
    json_decref(v);
}

static void test_cose_key_rfc9529_ccs(void **state)
{
    (void)state;
    json_t *v = tu_load_vectors("edhoc-rfc9529.json");
    json_t *s = json_object_get(
        json_object_get(json_object_get(json_object_get(v, "traces"), "3"), "steps"), "3.4");
    uint8_t ccs[256], x[32], y[32], out[128];
    size_t ccsn = tu_json_hex(s, "cred_r_cbor", ccs, sizeof ccs), n;
    tu_json_hex(s, "pk_r_x", x, 32);
    tu_json_hex(s, "pk_r_y", y, 32);
    /* The COSE_Key sits at the end of the CCS, after {8: {1: ...}} */
    const uint8_t *key_bytes = ccs + ccsn - 78;
    cose_key_t k = {.kty = COSE_KTY_EC2, .crv = CS_CRV_P256, .kid = (const uint8_t *)"\x32",
                    .kid_len = 1, .x = x, .x_len = 32, .y = y, .y_len = 32};
    assert_int_equal(cose_key_encode(&k, out, sizeof out, &n), COSE_OK);
    assert_int_equal(n, 78);
    assert_memory_equal(out, key_bytes, 78);

    cose_key_t d;
    assert_int_equal(cose_key_decode(&d, key_bytes, 78), COSE_OK);
    assert_int_equal(d.kty, COSE_KTY_EC2);
    assert_int_equal(d.crv, CS_CRV_P256);
    assert_int_equal(d.kid_len, 1);
    assert_int_equal(d.kid[0], 0x32);
    assert_int_equal(d.x_len, 32);
    assert_memory_equal(d.x, x, 32);
    assert_memory_equal(d.y, y, 32);
    assert_false(d.has_alg);
    assert_null(d.d);
    json_decref(v);
}

static void test_cose_key_symmetric_and_okp(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n;
    cose_key_t k = {.kty = COSE_KTY_SYMMETRIC, .has_alg = true, .alg = 10,
                    .k = (const uint8_t *)"0123456789abcdef", .k_len = 16};
    assert_int_equal(cose_key_encode(&k, out, sizeof out, &n), COSE_OK);
    tu_assert_hex(out, n, "a3 0104 030a 2050 30313233343536373839616263646566");
    cose_key_t d;
    assert_int_equal(cose_key_decode(&d, out, n), COSE_OK);
    assert_int_equal(d.kty, COSE_KTY_SYMMETRIC);
    assert_int_equal(d.k_len, 16);
    assert_true(d.has_alg);
    assert_int_equal(d.alg, 10);

    uint8_t x[32] = {9};
    cose_key_t okp = {.kty = COSE_KTY_OKP, .crv = CS_CRV_X25519, .x = x, .x_len = 32};
    assert_int_equal(cose_key_encode(&okp, out, sizeof out, &n), COSE_OK);
    assert_int_equal(cose_key_decode(&d, out, n), COSE_OK);
    assert_int_equal(d.crv, CS_CRV_X25519);
    assert_int_equal(cose_key_encode(&okp, out, 10, &n), COSE_ERR_NO_SPACE);
}

static void test_cose_key_rejections(void **state)
{
    (void)state;
    struct {
        const char *hex;
        cose_err_t err;
    } bad[] = {
        {"a10102", COSE_ERR_MISSING_PARAM},                /* EC2 without crv or x */
        {"a201020102", COSE_ERR_DUPLICATE_LABEL},          /* kty twice */
        {"a2010221", COSE_ERR_MALFORMED},                  /* truncated map */
        {"a20102200f", COSE_ERR_BAD_KEY_TYPE},             /* EC2 on curve 15 */
        {"a201182a2001", COSE_ERR_BAD_KEY_TYPE},           /* kty 42 */
        {"a1200f", COSE_ERR_MISSING_PARAM},                /* no kty */
        {"a20104200a", COSE_ERR_MALFORMED},                /* symmetric with int -1 */
        {"83010203", COSE_ERR_MALFORMED},                  /* not a map */
        {"a4010120062141aa2141bb", COSE_ERR_DUPLICATE_LABEL}, /* x twice */
        {"a101040a", COSE_ERR_MALFORMED},                  /* trailing byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[64];
        size_t n = tu_hex(bad[i].hex, in, sizeof in);
        cose_key_t k;
        cose_err_t err = cose_key_decode(&k, in, n);
        if (err != bad[i].err)
            fail_msg("case %zu (%s): got %s, want %s", i, bad[i].hex, coreseal_errname(err),
                     coreseal_errname(bad[i].err));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_table),
        cmocka_unit_test(test_enc_structure_rfc8613_c4),
        cmocka_unit_test(test_sig_structure_rfc9529_2_2),
        cmocka_unit_test(test_cose_key_rfc9529_ccs),
        cmocka_unit_test(test_cose_key_symmetric_and_okp),
        cmocka_unit_test(test_cose_key_rejections),
    };
    return cmocka_run_group_tests_name("cose", tests, NULL, NULL);
}
