/* LwM2M Device Management over a simulated device store: Read in TLV,
 * SenML CBOR and text, Discover, Write (replace and partial, atomic),
 * Execute, access rules (bootstrap-only objects, read-only resources), and
 * the Registration request both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/lwm2m_model.h"
#include "testutil.h"

typedef struct {
    int64_t lifetime;
    char binding[8];
    double temperature;
    int reboots;
    int writes;
} device_t;

static lwm2m_err_t dev_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids,
                            size_t cap, size_t *n)
{
    (void)arg;
    (void)inst;
    (void)cap;
    if (res == LWM2M_ID_NONE) { /* instances */
        if (obj != 1 && obj != 3 && obj != 3303 && obj != 21)
            return LWM2M_ERR_END;
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    if (obj == 3 && res == 6) { /* available power sources: 2 instances */
        ids[0] = 0;
        ids[1] = 1;
        *n = 2;
        return LWM2M_OK;
    }
    if (obj == 3 && res == 11) {
        ids[0] = 0;
        *n = 1;
        return LWM2M_OK;
    }
    return LWM2M_ERR_END;
}

static lwm2m_err_t dev_read(void *arg, const lwm2m_path_t *p, lwm2m_value_t *v)
{
    device_t *d = arg;
    memset(v, 0, sizeof *v);
    uint16_t o = p->ids[0], r = p->ids[2];
    if (o == 3 && r == 0) {
        v->type = LWM2M_TYPE_STRING;
        v->v.bytes.p = (const uint8_t *)"Open Mobile Alliance";
        v->v.bytes.n = 20;
    } else if (o == 3 && r == 6) {
        v->type = LWM2M_TYPE_INTEGER;
        v->v.i = p->ids[3] == 0 ? 1 : 5;
    } else if (o == 3 && r == 11) {
        v->type = LWM2M_TYPE_INTEGER;
        v->v.i = 0;
    } else if (o == 3 && r == 16) {
        v->type = LWM2M_TYPE_STRING;
        v->v.bytes.p = (const uint8_t *)"U";
        v->v.bytes.n = 1;
    } else if (o == 1 && r == 0) {
        v->type = LWM2M_TYPE_INTEGER;
        v->v.i = 101;
    } else if (o == 1 && r == 1) {
        v->type = LWM2M_TYPE_INTEGER;
        v->v.i = d->lifetime;
    } else if (o == 1 && r == 7) {
        v->type = LWM2M_TYPE_STRING;
        v->v.bytes.p = (const uint8_t *)d->binding;
        v->v.bytes.n = strlen(d->binding);
    } else if (o == 3303 && r == 5700) {
        v->type = LWM2M_TYPE_FLOAT;
        v->v.f = d->temperature;
    } else {
        return LWM2M_ERR_END;
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_write(void *arg, const lwm2m_path_t *p, const lwm2m_value_t *v)
{
    device_t *d = arg;
    d->writes++;
    if (p->ids[0] == 1 && p->ids[2] == 1)
        d->lifetime = v->v.i;
    else if (p->ids[0] == 1 && p->ids[2] == 7 && v->v.bytes.n < sizeof d->binding) {
        memcpy(d->binding, v->v.bytes.p, v->v.bytes.n);
        d->binding[v->v.bytes.n] = 0;
    }
    return LWM2M_OK;
}

static lwm2m_err_t dev_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)a;
    (void)n;
    device_t *d = arg;
    if (p->ids[0] == 3 && p->ids[2] == 4)
        d->reboots++;
    return LWM2M_OK;
}

static device_t dev;
static lwm2m_store_t store = {&dev, dev_list, dev_read, dev_write, dev_execute};

/* Runs one request: method, path, Accept (-1 none), Content-Format, payload. */
static lwm2m_dm_result_t run(uint8_t code, const char *path, long accept, long cf,
                             const uint8_t *pl, size_t pl_len, uint8_t *out, size_t cap)
{
    uint8_t msg[512];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 1, NULL, 0);
    char seg[16];
    const char *p = path + 1;
    while (*p) {
        size_t k = strcspn(p, "/");
        memcpy(seg, p, k);
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, seg, k);
        p += k + (p[k] == '/');
    }
    if (cf >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    if (accept >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_ACCEPT, (uint32_t)accept);
    coap_builder_set_payload(&b, pl, pl_len);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    lwm2m_dm_result_t r;
    assert_int_equal(lwm2m_dm_handle(&store, &m, out, cap, &r), LWM2M_OK);
    return r;
}

static int reset(void **state)
{
    (void)state;
    memset(&dev, 0, sizeof dev);
    dev.lifetime = 86400;
    strcpy(dev.binding, "U");
    dev.temperature = 21.5;
    return 0;
}

static void test_read_formats(void **state)
{
    (void)state;
    uint8_t out[512];
    lwm2m_dm_result_t r = run(COAP_GET, "/3/0", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_TLV);
    lwm2m_tlv_dec_t d;
    lwm2m_entry_t e;
    lwm2m_path_t base = {{3, 0}, 2};
    lwm2m_tlv_dec_init(&d, out, r.payload_len, &base);
    int entries = 0, sources = 0;
    while (lwm2m_tlv_next(&d, &e) == LWM2M_OK) {
        entries++;
        sources += e.path.ids[2] == 6;
    }
    assert_int_equal(entries, 5); /* 0, 6/0, 6/1, 11/0, 16 */
    assert_int_equal(sources, 2);

    r = run(COAP_GET, "/3/0/0", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.content_format, LWM2M_CF_TEXT);
    assert_int_equal(r.payload_len, 20);
    assert_memory_equal(out, "Open Mobile Alliance", 20);
    r = run(COAP_GET, "/3303/0/5700", -1, -1, NULL, 0, out, sizeof out);
    assert_memory_equal(out, "21.5", 4);

    r = run(COAP_GET, "/3303/0", LWM2M_CF_SENML_CBOR, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    lwm2m_senml_dec_t s;
    lwm2m_senml_dec_init(&s, out, r.payload_len);
    assert_int_equal(lwm2m_senml_next(&s, &e), LWM2M_OK);
    assert_int_equal(e.path.ids[2], 5700);
    assert_true(e.value.type == LWM2M_TYPE_FLOAT && e.value.v.f == 21.5);

    r = run(COAP_GET, "/3", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(out[0] >> 6, 0); /* an object instance TLV */
    r = run(COAP_GET, "/3/0/6/1", -1, -1, NULL, 0, out, sizeof out);
    assert_memory_equal(out, "5", 1);
    r = run(COAP_GET, "/3/0/0", LWM2M_CF_OPAQUE, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_NOT_ACCEPTABLE);
    r = run(COAP_GET, "/3/0", 9999, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_NOT_ACCEPTABLE);
    r = run(COAP_GET, "/3/0", LWM2M_CF_TLV, -1, NULL, 0, out, 10);
    assert_int_equal(r.code, COAP_REQUEST_ENTITY_TOO_LARGE);
}

static void test_access_rules(void **state)
{
    (void)state;
    uint8_t out[256];
    assert_int_equal(run(COAP_GET, "/21/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_UNAUTHORIZED);
    assert_int_equal(run(COAP_GET, "/21/0/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_UNAUTHORIZED);
    assert_int_equal(run(COAP_GET, "/9/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_GET, "/3/1", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_GET, "/3/0/99", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_GET, "/3/0/4", -1, -1, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_GET, "/3/0/1", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_DELETE, "/3/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_GET, "/x", -1, -1, NULL, 0, out, sizeof out).code, COAP_BAD_REQUEST);
}

static void test_discover(void **state)
{
    (void)state;
    uint8_t out[512];
    lwm2m_dm_result_t r = run(COAP_GET, "/3", LWM2M_CF_LINK, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    out[r.payload_len] = 0;
    assert_non_null(strstr((char *)out, "</3>;ver=1.2,</3/0>,</3/0/0>"));
    assert_non_null(strstr((char *)out, "</3/0/6>;dim=2"));
    assert_non_null(strstr((char *)out, "</3/0/4>")); /* executable resources are listed */
    assert_null(strstr((char *)out, "</3/0/1>"));     /* not instantiated */
}

static void test_write_and_execute(void **state)
{
    (void)state;
    uint8_t out[128];
    lwm2m_dm_result_t r = run(COAP_PUT, "/1/0/1", -1, LWM2M_CF_TEXT, (const uint8_t *)"300", 3, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_true(dev.lifetime == 300);
    assert_int_equal(run(COAP_PUT, "/3/0/0", -1, LWM2M_CF_TEXT, (const uint8_t *)"x", 1, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_PUT, "/1/0/1", -1, LWM2M_CF_TEXT, (const uint8_t *)"3x", 2, out, sizeof out).code,
                     COAP_BAD_REQUEST);
    assert_int_equal(run(COAP_PUT, "/1/0/1", -1, -1, (const uint8_t *)"3", 1, out, sizeof out).code,
                     COAP_BAD_REQUEST);
    assert_int_equal(run(COAP_PUT, "/1/0/1", -1, 50, (const uint8_t *)"3", 1, out, sizeof out).code,
                     COAP_UNSUPPORTED_CONTENT_FORMAT);

    /* partial update of /1/0 in TLV: lifetime and binding together */
    uint8_t tlv[64];
    size_t n;
    lwm2m_tlv_enc_t e;
    lwm2m_value_t lt = {.type = LWM2M_TYPE_INTEGER, .v.i = 600};
    lwm2m_value_t b = {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"UQ", 2}};
    lwm2m_tlv_enc_init(&e, tlv, sizeof tlv);
    lwm2m_tlv_put(&e, 1, &lt);
    lwm2m_tlv_put(&e, 7, &b);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(run(COAP_POST, "/1/0", -1, LWM2M_CF_TLV, tlv, n, out, sizeof out).code, COAP_CHANGED);
    assert_true(dev.lifetime == 600);
    assert_string_equal(dev.binding, "UQ");

    /* atomic: one read-only resource in the payload, nothing is written */
    int before = dev.writes;
    lwm2m_value_t ssid = {.type = LWM2M_TYPE_INTEGER, .v.i = 5};
    lwm2m_tlv_enc_init(&e, tlv, sizeof tlv);
    lwm2m_tlv_put(&e, 1, &lt);
    lwm2m_tlv_put(&e, 0, &ssid); /* Short Server ID is read-only */
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(run(COAP_POST, "/1/0", -1, LWM2M_CF_TLV, tlv, n, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(dev.writes, before);

    /* SenML CBOR with a number for an integer resource */
    lwm2m_senml_enc_t s;
    lwm2m_path_t p = {{1, 0, 1}, 3};
    lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER, .v.i = 1200};
    lwm2m_senml_enc_init(&s, tlv, sizeof tlv);
    lwm2m_senml_put(&s, &p, &v);
    assert_int_equal(lwm2m_senml_enc_finish(&s, &n), LWM2M_OK);
    assert_int_equal(run(COAP_PUT, "/1/0/1", -1, LWM2M_CF_SENML_CBOR, tlv, n, out, sizeof out).code,
                     COAP_CHANGED);
    assert_true(dev.lifetime == 1200);

    assert_int_equal(run(COAP_POST, "/3/0/4", -1, -1, NULL, 0, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(dev.reboots, 1);
    assert_int_equal(run(COAP_POST, "/3/0/0", -1, -1, NULL, 0, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
}

static void test_registration(void **state)
{
    (void)state;
    coap_opt_t list[16];
    uint8_t arena[256], msg[256], pl[256];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 16, arena, sizeof arena);
    lwm2m_register_t reg = {.endpoint = "urn:dev:os:1234", .lifetime = 300, .binding = "U",
                            .queue_mode = true};
    assert_int_equal(lwm2m_register_options(&reg, &l), LWM2M_OK);
    const uint16_t objs[] = {1, 3, 3303, 21};
    size_t pn, n;
    assert_int_equal(lwm2m_register_payload(&store, objs, 4, pl, sizeof pl, &pn), LWM2M_OK);
    assert_int_equal(pn, strlen("</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</3303>;ver=1.1,</3303/0>,"
                                "</21>;ver=2.0,</21/0>"));
    assert_memory_equal(pl, "</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>", 38);
    coap_builder_t b;
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_LINK);
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1, NULL, 0);
    assert_int_equal(coap_optlist_write(&l, &b), COAP_OK);
    coap_builder_set_payload(&b, pl, pn);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    lwm2m_register_info_t info;
    assert_int_equal(lwm2m_register_parse(&m, &info), LWM2M_OK);
    assert_int_equal(info.endpoint_len, 15);
    assert_memory_equal(info.endpoint, "urn:dev:os:1234", 15);
    assert_int_equal(info.lifetime, 300);
    assert_memory_equal(info.version, "1.2", 3);
    assert_memory_equal(info.binding, "U", 1);
    assert_true(info.queue_mode);
    /* a request without ep is not a Register */
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "rd", 2);
    coap_builder_add_option(&b, COAP_OPT_URI_QUERY, "lt=5", 4);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    assert_int_equal(lwm2m_register_parse(&m, &info), LWM2M_ERR_MALFORMED);
    assert_non_null(lwm2m_obj_def(21));
    assert_true(lwm2m_obj_def(21)->bootstrap_only);
    assert_string_equal(lwm2m_res_def(lwm2m_obj_def(3303), 5700)->name, "Sensor Value");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_formats, reset),
        cmocka_unit_test_setup(test_access_rules, reset),
        cmocka_unit_test_setup(test_discover, reset),
        cmocka_unit_test_setup(test_write_and_execute, reset),
        cmocka_unit_test_setup(test_registration, reset),
    };
    return cmocka_run_group_tests_name("lwm2m_model", tests, NULL, NULL);
}
