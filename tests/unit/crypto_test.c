/* Known-answer tests for every algorithm of the OpenSSL backend.
 * Sources: RFC 3610 packet vector #1 (AES-CCM, M=8 L=2 = COSE 10), the GCM
 * specification test cases 2, 8, 14 (McGrew/Viega), RFC 8439 §2.8.2,
 * RFC 5869 A.1, FIPS 180-2 "abc", RFC 7748 §6.1, RFC 8032 §7.1, RFC 6979
 * A.2.5, RFC 9529 §3 (P-256 ECDH). Vectors without a published source (CCM
 * with a 16-byte tag or 256-bit key, HKDF-SHA-384, one ES384 signature)
 * were produced with python3-cryptography and pure-Python HMAC and are
 * marked "generated". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "testutil.h"

static int setup(void **state)
{
    static cs_crypto_t c;
    if (cs_crypto_openssl_new(&c) != CS_CRYPTO_OK)
        return -1;
    *state = &c;
    return 0;
}

static int teardown(void **state)
{
    cs_crypto_openssl_free(*state);
    return 0;
}

typedef struct {
    int32_t alg;
    const char *key, *nonce, *aad, *pt, *ct_tag;
} aead_kat_t;

static const aead_kat_t aead_kats[] = {
    {CS_AEAD_AES_CCM_16_64_128, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf", "00000003020100a0a1a2a3a4a5",
     "0001020304050607", "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"},
    /* generated: same key stream as above, 16-byte tag */
    {CS_AEAD_AES_CCM_16_128_128, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
     "00000003020100a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     "588c979a61c663d2f066d0c2c0f989806d5f6b61dac384509da654e32deac369c2dae7133cb08d"},
    /* generated */
    {CS_AEAD_AES_CCM_16_64_256,
     "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
     "00000003020100a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     "59615510a7c43bfb123d636b4613c03c6ce26907102a3fb5572a172d4916d5"},
    {CS_AEAD_A128GCM, "00000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000",
     "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"},
    {CS_AEAD_A192GCM, "000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "98e7247c07f0fe411c267e4384b0f6002ff58d80033927ab8ef4d4587514f0fb"},
    {CS_AEAD_A256GCM, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"},
    {CS_AEAD_CHACHA20_POLY1305,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a"
     "204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f72207468"
     "65206675747572652c2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fa"
     "fb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4"
     "fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
     "1ae10b594f09e26a7e902ecbd0600691"},
};

static void test_aead_kats_seal_open_in_place_and_tamper(void **state)
{
    cs_crypto_t *c = *state;
    for (size_t i = 0; i < sizeof aead_kats / sizeof aead_kats[0]; i++) {
        const aead_kat_t *k = &aead_kats[i];
        uint8_t key[32], nonce[13], aad[32], pt[128], ct[160], buf[160];
        size_t nonce_len = tu_hex(k->nonce, nonce, sizeof nonce);
        size_t aad_len = tu_hex(k->aad, aad, sizeof aad);
        size_t pt_len = tu_hex(k->pt, pt, sizeof pt);
        size_t ct_len = tu_hex(k->ct_tag, ct, sizeof ct);
        tu_hex(k->key, key, sizeof key);
        assert_true(c->supports(c->state, CS_OP_AEAD, k->alg));

        /* seal into a separate buffer, and again in place */
        assert_int_equal(c->aead_seal(c->state, k->alg, key, nonce, nonce_len, aad, aad_len, pt,
                                      pt_len, buf), CS_CRYPTO_OK);
        assert_memory_equal(buf, ct, ct_len);
        memcpy(buf, pt, pt_len);
        assert_int_equal(c->aead_seal(c->state, k->alg, key, nonce, nonce_len, aad, aad_len, buf,
                                      pt_len, buf), CS_CRYPTO_OK);
        assert_memory_equal(buf, ct, ct_len);

        /* open in place */
        assert_int_equal(c->aead_open(c->state, k->alg, key, nonce, nonce_len, aad, aad_len, buf,
                                      ct_len, buf), CS_CRYPTO_OK);
        assert_memory_equal(buf, pt, pt_len);

        /* any flipped bit of ciphertext, tag or AAD is refused and the
         * output wiped */
        for (size_t bit = 0; bit < 8 * ct_len; bit += 7) {
            memcpy(buf, ct, ct_len);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            uint8_t out[160];
            memset(out, 0xaa, sizeof out);
            assert_int_equal(c->aead_open(c->state, k->alg, key, nonce, nonce_len, aad, aad_len,
                                          buf, ct_len, out), CS_CRYPTO_ERR_AUTH);
            for (size_t j = 0; j < pt_len; j++)
                assert_int_equal(out[j], 0);
        }
        if (aad_len) {
            aad[0] ^= 1;
            assert_int_equal(c->aead_open(c->state, k->alg, key, nonce, nonce_len, aad, aad_len,
                                          ct, ct_len, buf), CS_CRYPTO_ERR_AUTH);
        }
        /* shorter than a tag */
        assert_int_equal(c->aead_open(c->state, k->alg, key, nonce, nonce_len, aad, aad_len, ct,
                                      3, buf), CS_CRYPTO_ERR_AUTH);
    }
}

static void test_aead_empty_plaintext_and_unknown_alg(void **state)
{
    cs_crypto_t *c = *state;
    uint8_t key[16] = {1}, nonce[13] = {2}, tag[16];
    assert_int_equal(c->aead_seal(c->state, CS_AEAD_AES_CCM_16_64_128, key, nonce, 13,
                                  (const uint8_t *)"ad", 2, NULL, 0, tag), CS_CRYPTO_OK);
    assert_int_equal(c->aead_open(c->state, CS_AEAD_AES_CCM_16_64_128, key, nonce, 13,
                                  (const uint8_t *)"ad", 2, tag, 8, NULL), CS_CRYPTO_OK);
    tag[0] ^= 1;
    assert_int_equal(c->aead_open(c->state, CS_AEAD_AES_CCM_16_64_128, key, nonce, 13,
                                  (const uint8_t *)"ad", 2, tag, 8, NULL), CS_CRYPTO_ERR_AUTH);
    assert_false(c->supports(c->state, CS_OP_AEAD, 12345));
    assert_int_equal(c->aead_seal(c->state, 12345, key, nonce, 13, NULL, 0, NULL, 0, tag),
                     CS_CRYPTO_ERR_UNSUPPORTED);
}

static void test_hash_and_hkdf(void **state)
{
    cs_crypto_t *c = *state;
    uint8_t out[64], prk[48], salt[13], ikm[22], info[10];
    assert_int_equal(c->hash(c->state, CS_HASH_SHA256, (const uint8_t *)"abc", 3, out), CS_CRYPTO_OK);
    tu_assert_hex(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(c->hash(c->state, CS_HASH_SHA384, (const uint8_t *)"abc", 3, out), CS_CRYPTO_OK);
    tu_assert_hex(out, 48,
                  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc"
                  "2358baeca134c825a7");

    for (int i = 0; i < 13; i++) salt[i] = (uint8_t)i;
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(c->hkdf_extract(c->state, CS_HASH_SHA256, salt, 13, ikm, 22, prk), CS_CRYPTO_OK);
    tu_assert_hex(prk, 32, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    assert_int_equal(c->hkdf_expand(c->state, CS_HASH_SHA256, prk, 32, info, 10, out, 42), CS_CRYPTO_OK);
    tu_assert_hex(out, 42,
                  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b8"
                  "87185865");
    /* generated (pure-Python HMAC-SHA-384) */
    assert_int_equal(c->hkdf_extract(c->state, CS_HASH_SHA384, salt, 13, ikm, 22, prk), CS_CRYPTO_OK);
    tu_assert_hex(prk, 48,
                  "704b39990779ce1dc548052c7dc39f303570dd13fb39f7acc564680bef80e8dec70ee9a7e1f3e2"
                  "93ef68eceb072a5ade");
    assert_int_equal(c->hkdf_expand(c->state, CS_HASH_SHA384, prk, 48, info, 10, out, 42), CS_CRYPTO_OK);
    tu_assert_hex(out, 42,
                  "9b5097a86038b805309076a44b3a9f38063e25b516dcbf369f394cfab43685f748b6457763e4"
                  "f0204fc5");
    /* RFC 5869 A.3: empty salt and info */
    assert_int_equal(c->hkdf_extract(c->state, CS_HASH_SHA256, NULL, 0, ikm, 22, prk), CS_CRYPTO_OK);
    tu_assert_hex(prk, 32, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    assert_int_equal(c->hkdf_expand(c->state, CS_HASH_SHA256, prk, 32, NULL, 0, out, 42), CS_CRYPTO_OK);
    tu_assert_hex(out, 42,
                  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4"
                  "b61a96c8");
    assert_int_equal(c->hkdf_expand(c->state, CS_HASH_SHA256, prk, 32, NULL, 0, out, 0),
                     CS_CRYPTO_ERR_BAD_ARG);
}

static void test_x25519(void **state)
{
    cs_crypto_t *c = *state;
    uint8_t a[32], b[32], apub[32], bpub[32], pub[97], s1[32], s2[32];
    size_t n;
    tu_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    tu_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
    tu_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", apub, 32);
    tu_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", bpub, 32);
    assert_int_equal(c->public_key(c->state, CS_CRV_X25519, a, 32, pub, &n), CS_CRYPTO_OK);
    assert_int_equal(n, 32);
    assert_memory_equal(pub, apub, 32);
    assert_int_equal(c->ecdh(c->state, CS_CRV_X25519, a, 32, bpub, 32, s1, &n), CS_CRYPTO_OK);
    assert_int_equal(c->ecdh(c->state, CS_CRV_X25519, b, 32, apub, 32, s2, &n), CS_CRYPTO_OK);
    tu_assert_hex(s1, n, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_memory_equal(s1, s2, 32);
    /* the all-zero point gives an all-zero secret, which must be refused */
    memset(bpub, 0, 32);
    assert_int_equal(c->ecdh(c->state, CS_CRV_X25519, a, 32, bpub, 32, s1, &n),
                     CS_CRYPTO_ERR_BAD_KEY);
}

static void test_p256_ecdh_rfc9529(void **state)
{
    cs_crypto_t *c = *state;
    json_t *v = tu_load_vectors("edhoc-rfc9529.json");
    json_t *steps = json_object_get(json_object_get(json_object_get(v, "traces"), "3"), "steps");
    json_t *m1 = json_object_get(steps, "3.3"), *m2 = json_object_get(steps, "3.4");
    uint8_t x[32], gy[65], gxy[32], s[32], pub[97];
    size_t n;
    tu_json_hex(m1, "x", x, sizeof x);
    gy[0] = 4;
    tu_json_hex(m2, "g_y", gy + 1, 32);
    tu_json_hex(m2, "g_y_y_coordinate", gy + 33, 32);
    tu_json_hex(m2, "g_xy", gxy, sizeof gxy);
    assert_int_equal(c->ecdh(c->state, CS_CRV_P256, x, 32, gy, 65, s, &n), CS_CRYPTO_OK);
    assert_int_equal(n, 32);
    assert_memory_equal(s, gxy, 32);
    /* EDHOC sends only x: either compressed sign gives the same secret */
    gy[0] = 2;
    assert_int_equal(c->ecdh(c->state, CS_CRV_P256, x, 32, gy, 33, s, &n), CS_CRYPTO_OK);
    assert_memory_equal(s, gxy, 32);
    gy[0] = 3;
    assert_int_equal(c->ecdh(c->state, CS_CRV_P256, x, 32, gy, 33, s, &n), CS_CRYPTO_OK);
    assert_memory_equal(s, gxy, 32);
    /* the public key of x is G_X of the trace */
    assert_int_equal(c->public_key(c->state, CS_CRV_P256, x, 32, pub, &n), CS_CRYPTO_OK);
    assert_int_equal(n, 65);
    uint8_t gx[32];
    tu_json_hex(m1, "g_x", gx, sizeof gx);
    assert_memory_equal(pub + 1, gx, 32);
    /* a point off the curve is refused */
    gy[0] = 4;
    tu_json_hex(m2, "g_y", gy + 1, 32);
    tu_json_hex(m2, "g_y_y_coordinate", gy + 33, 32);
    gy[64] ^= 1;
    assert_int_equal(c->ecdh(c->state, CS_CRV_P256, x, 32, gy, 65, s, &n), CS_CRYPTO_ERR_BAD_KEY);
    json_decref(v);
}

static void test_keygen_and_ecdh_agree(void **state)
{
    cs_crypto_t *c = *state;
    const int32_t curves[] = {CS_CRV_X25519, CS_CRV_P256, CS_CRV_P384};
    for (size_t i = 0; i < 3; i++) {
        uint8_t a[48], b[48], ap[97], bp[97], s1[48], s2[48];
        size_t al, bl, apl, bpl, n1, n2;
        assert_true(c->supports(c->state, CS_OP_ECDH, curves[i]));
        assert_int_equal(c->keygen(c->state, curves[i], a, &al, ap, &apl), CS_CRYPTO_OK);
        assert_int_equal(c->keygen(c->state, curves[i], b, &bl, bp, &bpl), CS_CRYPTO_OK);
        assert_int_equal(al, cs_crv_priv_len(curves[i]));
        assert_int_equal(c->ecdh(c->state, curves[i], a, al, bp, bpl, s1, &n1), CS_CRYPTO_OK);
        assert_int_equal(c->ecdh(c->state, curves[i], b, bl, ap, apl, s2, &n2), CS_CRYPTO_OK);
        assert_int_equal(n1, n2);
        assert_memory_equal(s1, s2, n1);
        assert_memory_not_equal(a, b, al);
    }
}

static void test_ed25519_rfc8032(void **state)
{
    cs_crypto_t *c = *state;
    struct {
        const char *sk, *pk, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
         "701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f36"
         "13d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t sk[32], pk[32], msg[8], sig[64], pub[97];
        size_t ml = tu_hex(v[i].msg, msg, sizeof msg), sl, pl;
        tu_hex(v[i].sk, sk, 32);
        tu_hex(v[i].pk, pk, 32);
        assert_int_equal(c->public_key(c->state, CS_CRV_ED25519, sk, 32, pub, &pl), CS_CRYPTO_OK);
        assert_memory_equal(pub, pk, 32);
        assert_int_equal(c->sign(c->state, CS_SIG_EDDSA, sk, 32, msg, ml, sig, &sl), CS_CRYPTO_OK);
        tu_assert_hex(sig, sl, v[i].sig);
        assert_int_equal(c->verify(c->state, CS_SIG_EDDSA, pk, 32, msg, ml, sig, 64), CS_CRYPTO_OK);
        sig[10] ^= 4;
        assert_int_equal(c->verify(c->state, CS_SIG_EDDSA, pk, 32, msg, ml, sig, 64),
                         CS_CRYPTO_ERR_AUTH);
    }
}

static void test_ecdsa(void **state)
{
    cs_crypto_t *c = *state;
    uint8_t d[48], pub[97], sig[96], pub2[97];
    size_t pl, sl, pl2;
    /* RFC 6979 A.2.5, P-256/SHA-256, message "sample" */
    tu_hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", d, 32);
    tu_hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a4"
           "1ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299", pub, 65);
    tu_hex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436"
           "c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8", sig, 64);
    assert_int_equal(c->public_key(c->state, CS_CRV_P256, d, 32, pub2, &pl2), CS_CRYPTO_OK);
    assert_memory_equal(pub2, pub, 65);
    assert_int_equal(c->verify(c->state, CS_SIG_ES256, pub, 65, (const uint8_t *)"sample", 6, sig,
                               64), CS_CRYPTO_OK);
    assert_int_equal(c->verify(c->state, CS_SIG_ES256, pub, 65, (const uint8_t *)"samplf", 6, sig,
                               64), CS_CRYPTO_ERR_AUTH);
    assert_int_equal(c->verify(c->state, CS_SIG_ES256, pub, 65, (const uint8_t *)"sample", 6, sig,
                               63), CS_CRYPTO_ERR_AUTH);
    /* our own signatures verify and are r||s of 64 bytes */
    assert_int_equal(c->sign(c->state, CS_SIG_ES256, d, 32, (const uint8_t *)"hello", 5, sig, &sl),
                     CS_CRYPTO_OK);
    assert_int_equal(sl, 64);
    assert_int_equal(c->verify(c->state, CS_SIG_ES256, pub, 65, (const uint8_t *)"hello", 5, sig,
                               sl), CS_CRYPTO_OK);

    /* generated: P-384/SHA-384 over "sample" */
    tu_hex("c5a5b72dbdb5ec89ad469d9f0d12f3b05c8aed94c5f9347f42f2c2eafc31caa3b317c2d48433c671ae01"
           "edc7c53e6ae3", d, 48);
    tu_hex("04993845e7bea02136201b8d44c4dc2da9f9d0ec018505118ea8473c941c6611050a70ed5633f2afeba9"
           "899230d3df3152faf157b84ab4a0305cb9e9085fa306b6d3f50c27cd45c3433138d50bf423d08cc0c5b3"
           "8d9aa470a024ac3074f312308a", pub, 97);
    tu_hex("cc52ece8af9ee6d5533f9335e6c652bd2fb492891b20b264164e8f1176f5feee0cd130a0b88b19c0ac75"
           "7c3f10b441c6e3e48a675d09e29e6693748bde3524999c9a6766e617e0cf1874b67c7142f30b3618e342"
           "0b009de6555778a8b14e08bc", sig, 96);
    assert_int_equal(c->verify(c->state, CS_SIG_ES384, pub, 97, (const uint8_t *)"sample", 6, sig,
                               96), CS_CRYPTO_OK);
    assert_int_equal(c->public_key(c->state, CS_CRV_P384, d, 48, pub2, &pl2), CS_CRYPTO_OK);
    assert_memory_equal(pub2, pub, 97);
    assert_int_equal(c->sign(c->state, CS_SIG_ES384, d, 48, (const uint8_t *)"x", 1, sig, &sl),
                     CS_CRYPTO_OK);
    assert_int_equal(sl, 96);
    assert_int_equal(c->verify(c->state, CS_SIG_ES384, pub, 97, (const uint8_t *)"x", 1, sig, sl),
                     CS_CRYPTO_OK);
    sig[95] ^= 1;
    assert_int_equal(c->verify(c->state, CS_SIG_ES384, pub, 97, (const uint8_t *)"x", 1, sig, sl),
                     CS_CRYPTO_ERR_AUTH);
    (void)pl;
}

static void test_bad_keys_and_random(void **state)
{
    cs_crypto_t *c = *state;
    uint8_t zero[32] = {0}, pub[97], a[32], b[32];
    size_t n;
    /* scalar 0 is not a private key */
    assert_int_equal(c->public_key(c->state, CS_CRV_P256, zero, 32, pub, &n), CS_CRYPTO_ERR_BAD_KEY);
    assert_int_equal(c->public_key(c->state, CS_CRV_P256, zero, 31, pub, &n), CS_CRYPTO_ERR_BAD_ARG);
    assert_int_equal(c->public_key(c->state, 99, zero, 32, pub, &n), CS_CRYPTO_ERR_UNSUPPORTED);
    assert_int_equal(c->random(c->state, a, 32), CS_CRYPTO_OK);
    assert_int_equal(c->random(c->state, b, 32), CS_CRYPTO_OK);
    assert_memory_not_equal(a, b, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aead_kats_seal_open_in_place_and_tamper),
        cmocka_unit_test(test_aead_empty_plaintext_and_unknown_alg),
        cmocka_unit_test(test_hash_and_hkdf),
        cmocka_unit_test(test_x25519),
        cmocka_unit_test(test_p256_ecdh_rfc9529),
        cmocka_unit_test(test_keygen_and_ecdh_agree),
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_ecdsa),
        cmocka_unit_test(test_bad_keys_and_random),
    };
    return cmocka_run_group_tests_name("crypto", tests, setup, teardown);
}
