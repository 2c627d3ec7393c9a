/* CBOR: RFC 8949 Appendix A examples (the subset coreseal supports), both
 * directions, and every decoder rejection with its own error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/cbor.h"
#include "testutil.h"

typedef struct {
    const char *hex;
    int kind; /* 0 uint, 1 int, 2 double */
    uint64_t u;
    int64_t i;
    double d;
} num_case_t;

static const num_case_t nums[] = {
    {"00", 0, 0, 0, 0},
    {"01", 0, 1, 0, 0},
    {"0a", 0, 10, 0, 0},
    {"17", 0, 23, 0, 0},
    {"1818", 0, 24, 0, 0},
    {"1819", 0, 25, 0, 0},
    {"1864", 0, 100, 0, 0},
    {"1903e8", 0, 1000, 0, 0},
    {"1a000f4240", 0, 1000000, 0, 0},
    {"1b000000e8d4a51000", 0, 1000000000000ull, 0, 0},
    {"1bffffffffffffffff", 0, UINT64_MAX, 0, 0},
    {"20", 1, 0, -1, 0},
    {"29", 1, 0, -10, 0},
    {"3863", 1, 0, -100, 0},
    {"3903e7", 1, 0, -1000, 0},
    {"3b7fffffffffffffff", 1, 0, INT64_MIN, 0},
    {"f90000", 2, 0, 0, 0.0},
    {"f93c00", 2, 0, 0, 1.0},
    {"fb3ff199999999999a", 2, 0, 0, 1.1},
    {"f93e00", 2, 0, 0, 1.5},
    {"f97bff", 2, 0, 0, 65504.0},
    {"fa47c35000", 2, 0, 0, 100000.0},
    {"fa7f7fffff", 2, 0, 0, 3.4028234663852886e+38},
    {"fb7e37e43c8800759c", 2, 0, 0, 1.0e+300},
    {"f90001", 2, 0, 0, 5.960464477539063e-8},
    {"f90400", 2, 0, 0, 0.00006103515625},
    {"f9c400", 2, 0, 0, -4.0},
    {"fbc010666666666666", 2, 0, 0, -4.1},
};

static void test_numbers_both_ways(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const num_case_t *c = &nums[i];
        uint8_t want[16], got[16];
        size_t wn = tu_hex(c->hex, want, sizeof want), gn;
        cbor_enc_t e;
        cbor_enc_init(&e, got, sizeof got);
        cbor_dec_t d;
        cbor_dec_init(&d, want, wn, 0);
        if (c->kind == 0) {
            uint64_t v;
            cbor_encode_uint(&e, c->u);
            assert_int_equal(cbor_decode_uint(&d, &v), CBOR_OK);
            assert_true(v == c->u);
        } else if (c->kind == 1) {
            int64_t v;
            cbor_encode_int(&e, c->i);
            assert_int_equal(cbor_decode_int(&d, &v), CBOR_OK);
            assert_true(v == c->i);
        } else {
            double v;
            cbor_encode_double(&e, c->d);
            assert_int_equal(cbor_decode_double(&d, &v), CBOR_OK);
            assert_true(v == c->d);
        }
        assert_true(cbor_dec_done(&d));
        assert_int_equal(cbor_enc_finish(&e, &gn), CBOR_OK);
        assert_int_equal(gn, wn);
        assert_memory_equal(got, want, wn);
    }
}

static void test_special_floats(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t n;
    cbor_enc_t e;
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_double(&e, -0.0);
    cbor_encode_double(&e, INFINITY);
    cbor_encode_double(&e, -INFINITY);
    cbor_encode_double(&e, NAN);
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
    tu_assert_hex(buf, n, "f98000 f97c00 f9fc00 f97e00");
    cbor_dec_t d;
    double v;
    cbor_dec_init(&d, buf, n, 0);
    assert_int_equal(cbor_decode_double(&d, &v), CBOR_OK);
    assert_true(v == 0.0);
    assert_int_equal(cbor_decode_double(&d, &v), CBOR_OK);
    assert_true(v > 1e308);
    assert_int_equal(cbor_decode_double(&d, &v), CBOR_OK);
    assert_true(v < -1e308);
    assert_int_equal(cbor_decode_double(&d, &v), CBOR_OK);
    assert_true(v != v);
}

static void test_big_negative_overflows_int64(void **state)
{
    (void)state;
    uint8_t in[9];
    size_t n = tu_hex("3bffffffffffffffff", in, sizeof in); /* -18446744073709551616 */
    cbor_dec_t d;
    int64_t v;
    cbor_item_t it;
    cbor_dec_init(&d, in, n, 0);
    assert_int_equal(cbor_decode_int(&d, &v), CBOR_ERR_OVERFLOW);
    assert_int_equal(cbor_dec_next(&d, &it), CBOR_OK);
    assert_int_equal(it.type, CBOR_TYPE_NEGINT);
    assert_true(it.u == UINT64_MAX);
}

static void test_simple_values(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t n;
    cbor_enc_t e;
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_bool(&e, false);
    cbor_encode_bool(&e, true);
    cbor_encode_null(&e);
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
    tu_assert_hex(buf, n, "f4f5f6");

    n = tu_hex("f4f5f6f7f0f8ff", buf, sizeof buf);
    cbor_dec_t d;
    cbor_item_t it;
    bool b;
    cbor_dec_init(&d, buf, n, 0);
    assert_int_equal(cbor_decode_bool(&d, &b), CBOR_OK);
    assert_false(b);
    assert_int_equal(cbor_decode_bool(&d, &b), CBOR_OK);
    assert_true(b);
    assert_int_equal(cbor_decode_bool(&d, &b), CBOR_ERR_TYPE); /* null is not a bool */
    assert_int_equal(cbor_decode_null(&d), CBOR_OK);
    const uint64_t simple[] = {23, 16, 255};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cbor_dec_next(&d, &it), CBOR_OK);
        assert_int_equal(it.type, CBOR_TYPE_SIMPLE);
        assert_true(it.u == simple[i]);
    }
    assert_int_equal(cbor_dec_next(&d, &it), CBOR_ERR_END);
}

static void test_strings_and_tags(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n;
    cbor_enc_t e;
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_bstr(&e, NULL, 0);
    cbor_encode_bstr(&e, (const uint8_t *)"\x01\x02\x03\x04", 4);
    cbor_encode_tstr(&e, "", 0);
    cbor_encode_tstr(&e, "a", 1);
    cbor_encode_tstr(&e, "IETF", 4);
    cbor_encode_tag(&e, 1);
    cbor_encode_uint(&e, 1363896240);
    cbor_encode_tag(&e, 23);
    cbor_encode_bstr(&e, (const uint8_t *)"\x01\x02\x03\x04", 4);
    cbor_encode_tag(&e, 0);
    cbor_encode_tstr(&e, "2013-03-21T20:04:00Z", 20);
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
    tu_assert_hex(buf, n,
                  "40 4401020304 60 6161 6449455446 c11a514b67b0 d74401020304"
                  " c074323031332d30332d32315432303a30343a30305a");

    cbor_dec_t d;
    const uint8_t *p;
    const char *s;
    size_t len;
    uint64_t tag, u;
    cbor_dec_init(&d, buf, n, 0);
    assert_int_equal(cbor_decode_bstr(&d, &p, &len), CBOR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(cbor_decode_bstr(&d, &p, &len), CBOR_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "\x01\x02\x03\x04", 4);
    assert_int_equal(cbor_decode_bstr(&d, &p, &len), CBOR_ERR_TYPE); /* it is a tstr */
    assert_int_equal(cbor_decode_tstr(&d, &s, &len), CBOR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(cbor_decode_tstr(&d, &s, &len), CBOR_OK);
    assert_int_equal(cbor_decode_tstr(&d, &s, &len), CBOR_OK);
    assert_memory_equal(s, "IETF", 4);
    assert_int_equal(cbor_decode_tag(&d, &tag), CBOR_OK);
    assert_true(tag == 1);
    assert_int_equal(cbor_decode_uint(&d, &u), CBOR_OK);
    assert_true(u == 1363896240);
}

static void test_arrays_and_maps(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n;
    cbor_enc_t e;
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_array(&e, 0);
    cbor_encode_array(&e, 3);
    for (int i = 1; i <= 3; i++)
        cbor_encode_uint(&e, (uint64_t)i);
    cbor_encode_array(&e, 3);
    cbor_encode_uint(&e, 1);
    cbor_encode_array(&e, 2);
    cbor_encode_uint(&e, 2);
    cbor_encode_uint(&e, 3);
    cbor_encode_array(&e, 2);
    cbor_encode_uint(&e, 4);
    cbor_encode_uint(&e, 5);
    cbor_encode_array(&e, 25);
    for (int i = 1; i <= 25; i++)
        cbor_encode_uint(&e, (uint64_t)i);
    cbor_encode_map(&e, 0);
    cbor_encode_map(&e, 2);
    cbor_encode_uint(&e, 1);
    cbor_encode_uint(&e, 2);
    cbor_encode_uint(&e, 3);
    cbor_encode_uint(&e, 4);
    cbor_encode_map(&e, 2);
    cbor_encode_tstr(&e, "a", 1);
    cbor_encode_uint(&e, 1);
    cbor_encode_tstr(&e, "b", 1);
    cbor_encode_array(&e, 2);
    cbor_encode_uint(&e, 2);
    cbor_encode_uint(&e, 3);
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
    tu_assert_hex(buf, n,
                  "80 83010203 8301820203820405"
                  " 98190102030405060708090a0b0c0d0e0f101112131415161718181819"
                  " a0 a201020304 a26161016162820203");

    /* Skipping whole items walks the nesting and reports each item's bytes. */
    cbor_dec_t d;
    const uint8_t *start;
    size_t len;
    static const size_t sizes[] = {1, 4, 8, 29, 1, 5, 9};
    cbor_dec_init(&d, buf, n, 0);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(cbor_dec_skip(&d, &start, &len), CBOR_OK);
        assert_int_equal(len, sizes[i]);
    }
    assert_true(cbor_dec_done(&d));
    assert_int_equal(cbor_check_sequence(buf, n, 7, 0), CBOR_OK);
    assert_int_equal(cbor_check_sequence(buf, n, 6, 0), CBOR_ERR_TRAILING);
}

typedef struct {
    const char *hex;
    cbor_err_t err;
    size_t offset;
} bad_case_t;

static void test_rejections(void **state)
{
    (void)state;
    static const bad_case_t bad[] = {
        {"", CBOR_ERR_TRUNCATED, 0},
        {"18", CBOR_ERR_TRUNCATED, 0},
        {"1a0000", CBOR_ERR_TRUNCATED, 0},
        {"4401", CBOR_ERR_TRUNCATED, 0},
        {"830102", CBOR_ERR_TRUNCATED, 0}, /* 3 items cannot fit in 2 bytes */
        {"82011a00", CBOR_ERR_TRUNCATED, 2},
        {"a2010203", CBOR_ERR_TRUNCATED, 4}, /* second pair missing its value */
        {"5f42010243030405ff", CBOR_ERR_INDEFINITE, 0},
        {"9fff", CBOR_ERR_INDEFINITE, 0},
        {"ff", CBOR_ERR_INDEFINITE, 0},
        {"1817", CBOR_ERR_NOT_SHORTEST, 0},
        {"190017", CBOR_ERR_NOT_SHORTEST, 0},
        {"1a0000ffff", CBOR_ERR_NOT_SHORTEST, 0},
        {"82 1b00000000ffffffff 00", CBOR_ERR_NOT_SHORTEST, 1},
        {"5801ff", CBOR_ERR_NOT_SHORTEST, 0},
        {"1c", CBOR_ERR_RESERVED, 0},
        {"3d", CBOR_ERR_RESERVED, 0},
        {"fe", CBOR_ERR_RESERVED, 0},
        {"f810", CBOR_ERR_BAD_SIMPLE, 0},
        {"818181818181818181818181818181818100", CBOR_ERR_TOO_DEEP, 16},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[64];
        size_t n = tu_hex(bad[i].hex, in, sizeof in);
        cbor_dec_t d;
        cbor_dec_init(&d, in, n, 0);
        cbor_err_t err = cbor_dec_skip(&d, NULL, NULL);
        if (err != bad[i].err)
            fail_msg("case %zu (%s): got %s, want %s", i, bad[i].hex, coreseal_errname(err),
                     coreseal_errname(bad[i].err));
        assert_int_equal(cbor_dec_error_offset(&d), bad[i].offset);
        assert_int_equal(d.pos, 0); /* failed skip does not move */
    }
    /* 16 levels are allowed, 17 are not. */
    uint8_t deep[17];
    memset(deep, 0x81, 16);
    deep[16] = 0x00;
    assert_int_equal(cbor_check_sequence(deep, 17, 1, 0), CBOR_OK);
}

static void test_lenient_mode_accepts_long_heads(void **state)
{
    (void)state;
    uint8_t in[4];
    size_t n = tu_hex("190017", in, sizeof in);
    cbor_dec_t d;
    uint64_t v;
    cbor_dec_init(&d, in, n, CBOR_DEC_ALLOW_NON_SHORTEST);
    assert_int_equal(cbor_decode_uint(&d, &v), CBOR_OK);
    assert_true(v == 23);
}

static void test_type_mismatch_does_not_consume(void **state)
{
    (void)state;
    uint8_t in[] = {0x41, 0x07};
    cbor_dec_t d;
    uint64_t v;
    const uint8_t *p;
    size_t n;
    cbor_type_t t;
    cbor_dec_init(&d, in, sizeof in, 0);
    assert_int_equal(cbor_decode_uint(&d, &v), CBOR_ERR_TYPE);
    assert_int_equal(cbor_dec_peek(&d, &t), CBOR_OK);
    assert_int_equal(t, CBOR_TYPE_BSTR);
    assert_int_equal(cbor_decode_bstr(&d, &p, &n), CBOR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], 7);
}

static void test_encoder_no_space_is_sticky(void **state)
{
    (void)state;
    uint8_t buf[3];
    size_t n = 99;
    cbor_enc_t e;
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_uint(&e, 1);
    cbor_encode_uint(&e, 1000); /* needs 3 bytes, 2 left */
    cbor_encode_uint(&e, 1);    /* would fit, but the sequence already failed */
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_ERR_NO_SPACE);
    assert_int_equal(n, 99);
    assert_int_equal(e.len, 1);
    /* exactly full is fine */
    cbor_enc_init(&e, buf, sizeof buf);
    cbor_encode_uint(&e, 1000);
    assert_int_equal(cbor_enc_finish(&e, &n), CBOR_OK);
    assert_int_equal(n, 3);
}

static void test_head_sizes(void **state)
{
    (void)state;
    assert_int_equal(cbor_head_size(23), 1);
    assert_int_equal(cbor_head_size(24), 2);
    assert_int_equal(cbor_head_size(256), 3);
    assert_int_equal(cbor_head_size(65536), 5);
    assert_int_equal(cbor_head_size(1ull << 32), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_both_ways),
        cmocka_unit_test(test_special_floats),
        cmocka_unit_test(test_big_negative_overflows_int64),
        cmocka_unit_test(test_simple_values),
        cmocka_unit_test(test_strings_and_tags),
        cmocka_unit_test(test_arrays_and_maps),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_lenient_mode_accepts_long_heads),
        cmocka_unit_test(test_type_mismatch_does_not_consume),
        cmocka_unit_test(test_encoder_no_space_is_sticky),
        cmocka_unit_test(test_head_sizes),
    };
    return cmocka_run_group_tests_name("cbor", tests, NULL, NULL);
}
