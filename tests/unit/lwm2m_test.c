/* LwM2M data layer: paths, TLV against the Core TS example of the Device
 * object, typed values, plain text, SenML CBOR (with base name and base
 * time), and Register link format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/lwm2m.h"
#include "testutil.h"

static lwm2m_path_t P(const char *s)
{
    lwm2m_path_t p;
    assert_int_equal(lwm2m_path_parse(&p, s, strlen(s)), LWM2M_OK);
    return p;
}

static void test_paths(void **state)
{
    (void)state;
    lwm2m_path_t p = P("/3/0/6/1");
    assert_int_equal(p.len, 4);
    assert_int_equal(p.ids[3], 1);
    char buf[32];
    assert_int_equal(lwm2m_path_format(&p, buf, sizeof buf), 8);
    assert_string_equal(buf, "/3/0/6/1");
    assert_int_equal(P("/").len, 0);
    assert_int_equal(P("3/0").len, 2);
    assert_int_equal(P("/3/0/").len, 2);
    assert_true(lwm2m_path_within(&p, &(lwm2m_path_t){{3, 0}, 2}));
    assert_false(lwm2m_path_within(&p, &(lwm2m_path_t){{3, 1}, 2}));
    const char *bad[] = {"/3//1", "/65535", "/3/x", "/1/2/3/4/5", "/03", "/-1", "/99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lwm2m_path_t q;
        assert_int_equal(lwm2m_path_parse(&q, bad[i], strlen(bad[i])), LWM2M_ERR_BAD_PATH);
    }
    /* from a request's Uri-Path options */
    uint8_t msg[64];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "21", 2);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "0", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    assert_int_equal(lwm2m_path_from_msg(&p, &m), LWM2M_OK);
    assert_int_equal(p.len, 2);
    assert_int_equal(p.ids[0], 21);
}

static lwm2m_value_t str(const char *s)
{
    lwm2m_value_t v = {.type = LWM2M_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.n = strlen(s);
    return v;
}

static lwm2m_value_t integer(int64_t i)
{
    lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER};
    v.v.i = i;
    return v;
}

/* LwM2M Core TS, TLV example: Device object instance 0 with Manufacturer,
 * Model Number and the multiple resource Available Power Sources {1, 5}. */
static const char *device_tlv =
    "c800144f70656e204d6f62696c6520416c6c69616e6365"
    "c801164c6967687477656967687420 4d324d20436c69656e74"
    "86064100014101 05";

static void test_tlv_device_example(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    lwm2m_tlv_enc_t e;
    lwm2m_value_t mfr = str("Open Mobile Alliance"), model = str("Lightweight M2M Client");
    lwm2m_value_t one = integer(1), five = integer(5);
    lwm2m_tlv_enc_init(&e, buf, sizeof buf);
    lwm2m_tlv_put(&e, 0, &mfr);
    lwm2m_tlv_put(&e, 1, &model);
    lwm2m_tlv_begin_multiple(&e, 6);
    lwm2m_tlv_put(&e, 0, &one);
    lwm2m_tlv_put(&e, 1, &five);
    lwm2m_tlv_end(&e);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    tu_assert_hex(buf, n, device_tlv);

    /* decoded against the request path /3/0 */
    lwm2m_tlv_dec_t d;
    lwm2m_entry_t en;
    lwm2m_path_t base = P("/3/0");
    const char *paths[] = {"/3/0/0", "/3/0/1", "/3/0/6/0", "/3/0/6/1"};
    lwm2m_tlv_dec_init(&d, buf, n, &base);
    for (int i = 0; i < 4; i++) {
        char s[32];
        assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
        lwm2m_path_format(&en.path, s, sizeof s);
        assert_string_equal(s, paths[i]);
    }
    lwm2m_value_t v;
    assert_int_equal(lwm2m_value_from_raw(en.raw, en.raw_len, LWM2M_TYPE_INTEGER, &v), LWM2M_OK);
    assert_true(v.v.i == 5);
    assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_ERR_END);

    /* the same inside an object instance, read as /3 */
    lwm2m_tlv_enc_init(&e, buf, sizeof buf);
    lwm2m_tlv_begin_instance(&e, 0);
    lwm2m_tlv_put(&e, 0, &mfr);
    lwm2m_tlv_put(&e, 1, &model);
    lwm2m_tlv_begin_multiple(&e, 6);
    lwm2m_tlv_put(&e, 0, &one);
    lwm2m_tlv_put(&e, 1, &five);
    lwm2m_tlv_end(&e);
    lwm2m_tlv_end(&e);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(buf[0], 0x08);
    assert_int_equal(buf[1], 0x00);
    assert_int_equal(buf[2], 56);
    base = P("/3");
    lwm2m_tlv_dec_init(&d, buf, n, &base);
    int count = 0;
    while (lwm2m_tlv_next(&d, &en) == LWM2M_OK)
        count++;
    assert_int_equal(count, 4);
    assert_int_equal(en.path.len, 4);
}

static void test_tlv_values_and_rejections(void **state)
{
    (void)state;
    struct {
        int64_t v;
        const char *hex;
    } ints[] = {{1, "c10001"},         {-1, "c100ff"},           {300, "c200012c"},
                {-129, "c200ff7f"},    {70000, "c40000011170"},  {1ll << 40, "c8000800000100 00000000"}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        uint8_t buf[32];
        size_t n;
        lwm2m_tlv_enc_t e;
        lwm2m_value_t v = integer(ints[i].v), back;
        lwm2m_tlv_enc_init(&e, buf, sizeof buf);
        lwm2m_tlv_put(&e, 0, &v);
        assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
        tu_assert_hex(buf, n, ints[i].hex);
        lwm2m_tlv_dec_t d;
        lwm2m_entry_t en;
        lwm2m_path_t base = P("/3303/0");
        lwm2m_tlv_dec_init(&d, buf, n, &base);
        assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
        assert_int_equal(lwm2m_value_from_raw(en.raw, en.raw_len, LWM2M_TYPE_INTEGER, &back), LWM2M_OK);
        assert_true(back.v.i == ints[i].v);
    }
    /* float (always 8 bytes), boolean, object link, a 16-bit id, 300 bytes */
    uint8_t buf[512], big[300];
    memset(big, 'x', sizeof big);
    size_t n;
    lwm2m_tlv_enc_t e;
    lwm2m_value_t f = {.type = LWM2M_TYPE_FLOAT, .v.f = 21.5}, b = {.type = LWM2M_TYPE_BOOLEAN, .v.b = true};
    lwm2m_value_t l = {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 3}};
    lwm2m_value_t o = {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {big, sizeof big}};
    lwm2m_tlv_enc_init(&e, buf, sizeof buf);
    lwm2m_tlv_put(&e, 5700, &f);
    lwm2m_tlv_put(&e, 1, &b);
    lwm2m_tlv_put(&e, 17, &l);
    lwm2m_tlv_put(&e, 3, &o);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(buf[0], 0xe8); /* resource, 16-bit id, 8-bit length */
    lwm2m_tlv_dec_t d;
    lwm2m_entry_t en;
    lwm2m_value_t v;
    lwm2m_path_t base = P("/3303/0");
    lwm2m_tlv_dec_init(&d, buf, n, &base);
    assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
    assert_int_equal(en.path.ids[2], 5700);
    assert_int_equal(lwm2m_value_from_raw(en.raw, en.raw_len, LWM2M_TYPE_FLOAT, &v), LWM2M_OK);
    assert_true(v.v.f == 21.5);
    assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
    assert_int_equal(lwm2m_value_from_raw(en.raw, en.raw_len, LWM2M_TYPE_BOOLEAN, &v), LWM2M_OK);
    assert_true(v.v.b);
    assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
    assert_int_equal(lwm2m_value_from_raw(en.raw, en.raw_len, LWM2M_TYPE_OBJLNK, &v), LWM2M_OK);
    assert_true(v.v.lnk.obj == 21 && v.v.lnk.inst == 3);
    assert_int_equal(lwm2m_tlv_next(&d, &en), LWM2M_OK);
    assert_int_equal(en.raw_len, 300);
    assert_int_equal(lwm2m_value_from_raw(en.raw, 3, LWM2M_TYPE_INTEGER, &v), LWM2M_ERR_TYPE);
    const uint8_t two[1] = {2};
    assert_int_equal(lwm2m_value_from_raw(two, 1, LWM2M_TYPE_BOOLEAN, &v), LWM2M_ERR_TYPE);
    uint8_t f4[4] = {0x41, 0xac, 0x00, 0x00}; /* 21.5 as single precision */
    assert_int_equal(lwm2m_value_from_raw(f4, 4, LWM2M_TYPE_FLOAT, &v), LWM2M_OK);
    assert_true(v.v.f == 21.5);

    struct {
        const char *hex, *base;
    } bad[] = {
        {"c1", "/3/0"},             /* header cut */
        {"c20001", "/3/0"},         /* value shorter than its length */
        {"410001", "/3/0"},         /* resource instance outside a multiple resource */
        {"080103c10001", "/3/0"},   /* instance 1 under /3/0 */
        {"c10001", "/3"},           /* resource without its instance */
        {"0803c10001", "/3"},       /* instance longer than the data */
        {"08000286 00", "/3"},      /* multiple resource cut inside an instance */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[32];
        size_t k = tu_hex(bad[i].hex, in, sizeof in);
        lwm2m_path_t bp = P(bad[i].base);
        lwm2m_tlv_dec_init(&d, in, k, &bp);
        lwm2m_err_t err;
        while ((err = lwm2m_tlv_next(&d, &en)) == LWM2M_OK)
            ;
        if (err != LWM2M_ERR_MALFORMED)
            fail_msg("case %zu (%s under %s): %s", i, bad[i].hex, bad[i].base, coreseal_errname(err));
    }
    /* misuse of the encoder */
    lwm2m_tlv_enc_init(&e, buf, sizeof buf);
    lwm2m_tlv_begin_multiple(&e, 6);
    lwm2m_tlv_begin_instance(&e, 0);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_ERR_TOO_DEEP);
    lwm2m_tlv_enc_init(&e, buf, 4);
    lwm2m_tlv_put(&e, 0, &o);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_ERR_NO_SPACE);
}

static void test_plain_text(void **state)
{
    (void)state;
    struct {
        lwm2m_value_t v;
        const char *text;
    } cases[] = {
        {{.type = LWM2M_TYPE_INTEGER, .v.i = -42}, "-42"},
        {{.type = LWM2M_TYPE_INTEGER, .v.i = INT64_MIN}, "-9223372036854775808"},
        {{.type = LWM2M_TYPE_UNSIGNED, .v.u = UINT64_MAX}, "18446744073709551615"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = 21.5}, "21.5"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = -0.125}, "-0.125"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = 1e20}, "1e20"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = 0.000001}, "0.000001"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = 1.5e-7}, "1.5e-7"},
        {{.type = LWM2M_TYPE_FLOAT, .v.f = 100}, "100"},
        {{.type = LWM2M_TYPE_BOOLEAN, .v.b = true}, "1"},
        {{.type = LWM2M_TYPE_OBJLNK, .v.lnk = {3, 0}}, "3:0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[64];
        size_t n;
        lwm2m_value_t back;
        assert_int_equal(lwm2m_text_encode(&cases[i].v, out, sizeof out, &n), LWM2M_OK);
        if (n != strlen(cases[i].text) || memcmp(out, cases[i].text, n))
            fail_msg("case %zu: got '%.*s', want '%s'", i, (int)n, out, cases[i].text);
        assert_int_equal(lwm2m_text_decode(out, n, cases[i].v.type, &back), LWM2M_OK);
        if (cases[i].v.type == LWM2M_TYPE_FLOAT)
            assert_true(back.v.f == cases[i].v.v.f);
        else
            assert_memory_equal(&back.v, &cases[i].v.v, sizeof back.v);
    }
    lwm2m_value_t v;
    const struct {
        const char *t;
        lwm2m_type_t type;
    } bad[] = {{"12x", LWM2M_TYPE_INTEGER}, {"", LWM2M_TYPE_INTEGER}, {"-1", LWM2M_TYPE_UNSIGNED},
               {"2", LWM2M_TYPE_BOOLEAN}, {"1.5.5", LWM2M_TYPE_FLOAT}, {"3", LWM2M_TYPE_OBJLNK},
               {"99999999999999999999", LWM2M_TYPE_INTEGER}, {"2e3121", LWM2M_TYPE_FLOAT}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lwm2m_text_decode((const uint8_t *)bad[i].t, strlen(bad[i].t), bad[i].type, &v),
                         LWM2M_ERR_TYPE);
    assert_int_equal(lwm2m_text_decode((const uint8_t *)"2.5e3", 5, LWM2M_TYPE_FLOAT, &v), LWM2M_OK);
    assert_true(v.v.f == 2500.0);
    lwm2m_value_t nan = {.type = LWM2M_TYPE_FLOAT, .v.f = 0.0};
    nan.v.f = nan.v.f / nan.v.f;
    uint8_t out[8];
    size_t n;
    assert_int_equal(lwm2m_text_encode(&nan, out, sizeof out, &n), LWM2M_ERR_TYPE);
}

static void test_senml_cbor(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    lwm2m_senml_enc_t e;
    lwm2m_value_t f = {.type = LWM2M_TYPE_FLOAT, .v.f = 21.5}, s = str("Celsius");
    lwm2m_value_t b = {.type = LWM2M_TYPE_BOOLEAN, .v.b = true}, i = integer(-3);
    lwm2m_value_t l = {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 0}};
    uint8_t raw[2] = {0xde, 0xad};
    lwm2m_value_t o = {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {raw, 2}};
    lwm2m_senml_enc_init(&e, buf, sizeof buf);
    lwm2m_path_t p1 = P("/3303/0/5700"), p2 = P("/3303/0/5701"), p3 = P("/1/0/23"),
                 p4 = P("/3/0/9"), p5 = P("/0/0/17"), p6 = P("/0/0/3");
    lwm2m_senml_put(&e, &p1, &f);
    lwm2m_senml_put(&e, &p2, &s);
    lwm2m_senml_put(&e, &p3, &b);
    lwm2m_senml_put(&e, &p4, &i);
    lwm2m_senml_put(&e, &p5, &l);
    lwm2m_senml_put(&e, &p6, &o);
    assert_int_equal(lwm2m_senml_enc_finish(&e, &n), LWM2M_OK);
    /* first record exactly: {0: "/3303/0/5700", 2: 21.5} */
    tu_assert_hex(buf, 20, "86 a2 00 6c 2f333330332f302f35373030 02 f9 4d60");
    lwm2m_senml_dec_t d;
    lwm2m_entry_t en;
    lwm2m_senml_dec_init(&d, buf, n);
    lwm2m_type_t types[] = {LWM2M_TYPE_FLOAT, LWM2M_TYPE_STRING, LWM2M_TYPE_BOOLEAN,
                            LWM2M_TYPE_INTEGER, LWM2M_TYPE_OBJLNK, LWM2M_TYPE_OPAQUE};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(lwm2m_senml_next(&d, &en), LWM2M_OK);
        assert_int_equal(en.value.type, types[k]);
    }
    assert_true(en.value.v.bytes.n == 2 && en.value.v.bytes.p[0] == 0xde);
    assert_int_equal(lwm2m_senml_next(&d, &en), LWM2M_ERR_END);

    /* a peer's payload with base name and base time (RFC 8428 §4.5) */
    cbor_enc_t c;
    cbor_enc_init(&c, buf, sizeof buf);
    cbor_encode_array(&c, 2);
    cbor_encode_map(&c, 4);
    cbor_encode_int(&c, -2);
    cbor_encode_tstr(&c, "/3/0/", 5);
    cbor_encode_int(&c, -3);
    cbor_encode_uint(&c, 1700000000);
    cbor_encode_int(&c, 0);
    cbor_encode_tstr(&c, "0", 1);
    cbor_encode_int(&c, 3);
    cbor_encode_tstr(&c, "Open Mobile Alliance", 20);
    cbor_encode_map(&c, 3);
    cbor_encode_int(&c, 0);
    cbor_encode_tstr(&c, "9", 1);
    cbor_encode_int(&c, 2);
    cbor_encode_uint(&c, 95);
    cbor_encode_int(&c, 6);
    cbor_encode_int(&c, -5);
    assert_int_equal(cbor_enc_finish(&c, &n), CBOR_OK);
    lwm2m_senml_dec_init(&d, buf, n);
    assert_int_equal(lwm2m_senml_next(&d, &en), LWM2M_OK);
    char ps[32];
    lwm2m_path_format(&en.path, ps, sizeof ps);
    assert_string_equal(ps, "/3/0/0");
    assert_int_equal(lwm2m_senml_next(&d, &en), LWM2M_OK);
    lwm2m_path_format(&en.path, ps, sizeof ps);
    assert_string_equal(ps, "/3/0/9");
    assert_true(en.value.v.i == 95);
    assert_true(en.has_time && en.time == 1700000000.0 - 5);

    const char *bad[] = {"a0", "81a1006178", "81a2020102f4", "8182", "81a10063312f78"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        uint8_t in[32];
        size_t m = tu_hex(bad[k], in, sizeof in);
        lwm2m_senml_dec_init(&d, in, m);
        lwm2m_err_t err = lwm2m_senml_next(&d, &en);
        if (err == LWM2M_OK)
            fail_msg("bad SenML %s accepted", bad[k]);
    }
}

/* LwM2M CBOR (11544): the nested and the flat (array key) forms decode to
 * the same entries; the encoder's flat form round-trips every type; bad
 * input is refused with its own code. CBOR (60) carries one value. */
static void test_lwm2m_cbor(void **state)
{
    (void)state;
    /* {3: {0: {0: "OMA", 11: {0: 0}}}, [3303, 0, 5700]: 21.5} */
    const char *nested = "a2" "03a100a2" "00634f4d41" "0ba10000" "83190ce700191644" "fb4035800000000000";
    uint8_t buf[256];
    size_t n = tu_hex(nested, buf, sizeof buf);
    lwm2m_cbor_dec_t d;
    lwm2m_entry_t e;
    char ps[32];
    lwm2m_cbor_dec_init(&d, buf, n);
    assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_OK);
    lwm2m_path_format(&e.path, ps, sizeof ps);
    assert_string_equal(ps, "/3/0/0");
    assert_int_equal(e.value.type, LWM2M_TYPE_STRING);
    assert_memory_equal(e.value.v.bytes.p, "OMA", 3);
    assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_OK);
    lwm2m_path_format(&e.path, ps, sizeof ps);
    assert_string_equal(ps, "/3/0/11/0");
    assert_int_equal(e.value.type, LWM2M_TYPE_INTEGER);
    assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_OK);
    lwm2m_path_format(&e.path, ps, sizeof ps);
    assert_string_equal(ps, "/3303/0/5700");
    assert_int_equal(e.value.type, LWM2M_TYPE_FLOAT);
    assert_true(e.value.v.f == 21.5);
    assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_ERR_END);

    /* every type through the encoder and back */
    lwm2m_value_t vals[] = {
        {.type = LWM2M_TYPE_INTEGER, .v.i = -7},
        {.type = LWM2M_TYPE_UNSIGNED, .v.u = UINT64_MAX},
        {.type = LWM2M_TYPE_FLOAT, .v.f = 0.1},
        {.type = LWM2M_TYPE_BOOLEAN, .v.b = true},
        {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"UQ", 2}},
        {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\x00\xff", 2}},
        {.type = LWM2M_TYPE_TIME, .v.i = 1700000000},
        {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 3}},
    };
    lwm2m_cbor_enc_t enc;
    lwm2m_cbor_enc_init(&enc, buf, sizeof buf);
    for (uint16_t i = 0; i < 8; i++) {
        lwm2m_path_t p = {{1, 0, i, 0}, (uint8_t)(3 + i % 2)};
        lwm2m_cbor_put(&enc, &p, &vals[i]);
    }
    assert_int_equal(lwm2m_cbor_enc_finish(&enc, &n), LWM2M_OK);
    assert_int_equal(buf[0], 0xa8); /* a map of 8, head shrunk to one byte */
    lwm2m_cbor_dec_init(&d, buf, n);
    for (uint16_t i = 0; i < 8; i++) {
        assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_OK);
        assert_int_equal(e.path.len, 3 + i % 2);
        assert_int_equal(e.path.ids[2], i);
        lwm2m_type_t want = vals[i].type == LWM2M_TYPE_OBJLNK ? LWM2M_TYPE_STRING : vals[i].type;
        assert_int_equal(e.value.type, want);
    }
    assert_int_equal(lwm2m_cbor_next(&d, &e), LWM2M_ERR_END);

    /* refusals */
    static const struct {
        const char *hex;
        lwm2m_err_t err;
    } bad[] = {
        {"a185010203040500", LWM2M_ERR_TOO_DEEP}, /* five components */
        {"a101a102a103a104a10500", LWM2M_ERR_TOO_DEEP},
        {"a119ffff00", LWM2M_ERR_BAD_PATH},       /* id 65535 */
        {"a1616100", LWM2M_ERR_MALFORMED},        /* a text key */
        {"a1038101", LWM2M_ERR_MALFORMED},        /* an array value */
        {"a10300ff", LWM2M_ERR_MALFORMED},        /* bytes after the map */
        {"a203", LWM2M_ERR_MALFORMED},            /* cut short */
        {"80", LWM2M_ERR_MALFORMED},              /* not a map */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lwm2m_err_t err;
        n = tu_hex(bad[i].hex, buf, sizeof buf);
        lwm2m_cbor_dec_init(&d, buf, n);
        while ((err = lwm2m_cbor_next(&d, &e)) == LWM2M_OK)
            ;
        if (err != bad[i].err)
            fail_msg("case %zu (%s): %s", i, bad[i].hex, coreseal_errname(err));
    }

    /* CBOR (60): one value */
    lwm2m_value_t f = {.type = LWM2M_TYPE_FLOAT, .v.f = 21.5};
    assert_int_equal(lwm2m_cbor_value_encode(&f, buf, sizeof buf, &n), LWM2M_OK);
    tu_assert_hex(buf, n, "f94d60"); /* the shortest float that holds it */
    e.path = (lwm2m_path_t){{3303, 0, 5700}, 3};
    assert_int_equal(lwm2m_cbor_value_decode(buf, n, &e), LWM2M_OK);
    assert_int_equal(e.path.ids[2], 5700);
    assert_true(e.value.type == LWM2M_TYPE_FLOAT && e.value.v.f == 21.5);
    assert_int_equal(lwm2m_cbor_value_decode(buf, n - 1, &e), LWM2M_ERR_MALFORMED);
}

/* SenML JSON (110): base names, every value kind, escapes, unknown members
 * skipped, the encoder's output read back, and refusals. */
static void test_senml_json(void **state)
{
    (void)state;
    const char *in = " [{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open \\\"Mobile\\\" \\u00c9\"},"
                     "{\"n\":\"9\",\"v\":95,\"x-ext\":{\"a\":[1,{\"b\":null}]}},"
                     "{\"n\":\"13\",\"v\":1.5e3,\"t\":10},"
                     "{\"bn\":\"/21/0/\",\"n\":\"0\",\"vd\":\"AAH_\"},"
                     "{\"n\":\"1\",\"vb\":true},{\"bn\":\"\",\"n\":\"/0/0/17\",\"vlo\":\"21:0\"}]\n";
    lwm2m_senml_json_dec_t d;
    lwm2m_entry_t e;
    char ps[32];
    lwm2m_senml_json_dec_init(&d, (const uint8_t *)in, strlen(in));
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    lwm2m_path_format(&e.path, ps, sizeof ps);
    assert_string_equal(ps, "/3/0/0");
    assert_int_equal(e.value.type, LWM2M_TYPE_STRING);
    assert_int_equal(e.value.v.bytes.n, 16);
    assert_memory_equal(e.value.v.bytes.p, "Open \"Mobile\" \xc3\x89", 16);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    assert_true(e.path.ids[2] == 9 && e.value.type == LWM2M_TYPE_INTEGER && e.value.v.i == 95);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    assert_true(e.value.type == LWM2M_TYPE_FLOAT && e.value.v.f == 1500 && e.has_time && e.time == 10);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    lwm2m_path_format(&e.path, ps, sizeof ps);
    assert_string_equal(ps, "/21/0/0");
    assert_int_equal(e.value.type, LWM2M_TYPE_OPAQUE);
    assert_int_equal(e.value.v.bytes.n, 3);
    assert_memory_equal(e.value.v.bytes.p, "\x00\x01\xff", 3);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    assert_true(e.value.type == LWM2M_TYPE_BOOLEAN && e.value.v.b);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
    assert_true(e.value.type == LWM2M_TYPE_OBJLNK && e.value.v.lnk.obj == 21 && e.value.v.lnk.inst == 0);
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_ERR_END);

    /* the encoder: escapes, base64url without padding, every type, read back */
    uint8_t buf[512];
    size_t n;
    lwm2m_senml_json_enc_t enc;
    lwm2m_value_t vals[] = {
        {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"a\"b\\c\n", 6}},
        {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\x00\x01\xff\xfe", 4}},
        {.type = LWM2M_TYPE_FLOAT, .v.f = -0.25},
        {.type = LWM2M_TYPE_INTEGER, .v.i = -9},
        {.type = LWM2M_TYPE_BOOLEAN, .v.b = false},
        {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {1, 2}},
    };
    lwm2m_senml_json_enc_init(&enc, buf, sizeof buf);
    for (uint16_t i = 0; i < 6; i++) {
        lwm2m_path_t p = {{3, 0, i}, 3};
        lwm2m_senml_json_put(&enc, &p, &vals[i]);
    }
    assert_int_equal(lwm2m_senml_json_enc_finish(&enc, &n), LWM2M_OK);
    const char *want = "[{\"n\":\"/3/0/0\",\"vs\":\"a\\\"b\\\\c\\u000a\"},{\"n\":\"/3/0/1\",\"vd\":\"AAH__g\"},"
                       "{\"n\":\"/3/0/2\",\"v\":-0.25},{\"n\":\"/3/0/3\",\"v\":-9},{\"n\":\"/3/0/4\",\"vb\":false},"
                       "{\"n\":\"/3/0/5\",\"vlo\":\"1:2\"}]";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    lwm2m_senml_json_dec_init(&d, buf, n);
    for (uint16_t i = 0; i < 6; i++) {
        assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_OK);
        assert_int_equal(e.value.type, vals[i].type);
        if (vals[i].type == LWM2M_TYPE_STRING || vals[i].type == LWM2M_TYPE_OPAQUE) {
            assert_int_equal(e.value.v.bytes.n, vals[i].v.bytes.n);
            assert_memory_equal(e.value.v.bytes.p, vals[i].v.bytes.p, vals[i].v.bytes.n);
        }
    }
    assert_int_equal(lwm2m_senml_json_next(&d, &e), LWM2M_ERR_END);
    n = 0;
    lwm2m_senml_json_enc_init(&enc, buf, 20); /* too small */
    lwm2m_senml_json_put(&enc, &(lwm2m_path_t){{3, 0, 0}, 3}, &vals[0]);
    assert_int_equal(lwm2m_senml_json_enc_finish(&enc, &n), LWM2M_ERR_NO_SPACE);

    static const struct {
        const char *text;
        lwm2m_err_t err;
    } bad[] = {
        {"{}", LWM2M_ERR_MALFORMED},
        {"[{\"n\":\"/3/0/0\",\"v\":1,\"vs\":\"x\"}]", LWM2M_ERR_MALFORMED}, /* two values */
        {"[{\"n\":\"/3/0/0\",\"vs\":\"\\ud800\"}]", LWM2M_ERR_MALFORMED},  /* lone surrogate */
        {"[{\"n\":\"/3/0/0\",\"vs\":\"a\x01\"}]", LWM2M_ERR_MALFORMED},     /* raw control */
        {"[{\"n\":\"/3/0/0\",\"vd\":\"A\"}]", LWM2M_ERR_MALFORMED},          /* 6 bits */
        {"[{\"n\":\"/3/x\",\"v\":1}]", LWM2M_ERR_BAD_PATH},
        {"[{\"n\":\"/3/0/0\",\"v\":1}] x", LWM2M_ERR_MALFORMED},               /* trailing */
        {"[{\"n\":\"/3/0/0\",\"v\":1}", LWM2M_ERR_MALFORMED},                  /* cut */
        {"[{\"z\":[[[[[[[[[[1]]]]]]]]]]}]", LWM2M_ERR_MALFORMED},                 /* too deep */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lwm2m_err_t err;
        lwm2m_senml_json_dec_init(&d, (const uint8_t *)bad[i].text, strlen(bad[i].text));
        while ((err = lwm2m_senml_json_next(&d, &e)) == LWM2M_OK)
            ;
        if (err != bad[i].err)
            fail_msg("case %zu (%s): %s", i, bad[i].text, coreseal_errname(err));
    }
}

static void test_link_format(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = 0;
    lwm2m_path_t a = P("/1/0"), b = P("/3/0"), c = P("/21/0");
    n = lwm2m_link_append(buf, sizeof buf, n, &a, NULL);
    n = lwm2m_link_append(buf, sizeof buf, n, &b, NULL);
    n = lwm2m_link_append(buf, sizeof buf, n, &c, ";ver=2.0");
    assert_int_equal(n, strlen("</1/0>,</3/0>,</21/0>;ver=2.0"));
    assert_memory_equal(buf, "</1/0>,</3/0>,</21/0>;ver=2.0", n);
    assert_int_equal(lwm2m_link_append(buf, 10, 9, &a, NULL), 0);

    const char *reg = "</>;rt=\"oma.lwm2m\";ct=\"110 112\",</1/0>,</3/0>,</21/0>;ver=2.0,</3303>";
    lwm2m_link_dec_t d;
    lwm2m_link_t l;
    lwm2m_link_dec_init(&d, (const uint8_t *)reg, strlen(reg));
    const char *want[] = {"/1/0", "/3/0", "/21/0", "/3303"};
    for (int k = 0; k < 4; k++) {
        char s[32];
        assert_int_equal(lwm2m_link_next(&d, &l), LWM2M_OK);
        lwm2m_path_format(&l.path, s, sizeof s);
        assert_string_equal(s, want[k]);
        if (k == 2) {
            assert_int_equal(l.attrs_len, 8);
            assert_memory_equal(l.attrs, ";ver=2.0", 8);
        }
    }
    assert_int_equal(lwm2m_link_next(&d, &l), LWM2M_ERR_END);
    lwm2m_link_dec_init(&d, (const uint8_t *)"/1/0", 4);
    assert_int_equal(lwm2m_link_next(&d, &l), LWM2M_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_tlv_device_example),
        cmocka_unit_test(test_tlv_values_and_rejections),
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_senml_cbor),
        cmocka_unit_test(test_link_format),
        cmocka_unit_test(test_lwm2m_cbor),
        cmocka_unit_test(test_senml_json),
    };
    return cmocka_run_group_tests_name("lwm2m", tests, NULL, NULL);
}
