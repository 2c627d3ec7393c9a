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
    uint32_t temps, servers; /* instances of 3303 and 1, as bits; 0 means just instance 0 */
    char app_type[16];       /* /3303/x/5750 of the last write */
} device_t;

static device_t dev;

static uint32_t *instances_of(device_t *d, uint16_t obj)
{
    return obj == 3303 ? &d->temps : obj == 1 ? &d->servers : NULL;
}

static lwm2m_err_t dev_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids,
                            size_t cap, size_t *n)
{
    (void)inst;
    (void)cap;
    uint32_t *set = instances_of(arg, obj);
    if (res == LWM2M_ID_NONE && set && *set) {
        *n = 0;
        for (uint16_t i = 0; i < 32; i++)
            if (*set >> i & 1)
                ids[(*n)++] = i;
        return LWM2M_OK;
    }
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
    if (p->ids[0] == 3303 && p->ids[2] == 5750) {
        if (v->v.bytes.n >= sizeof d->app_type || (v->v.bytes.n == 4 && !memcmp(v->v.bytes.p, "fail", 4)))
            return LWM2M_ERR_NO_SPACE; /* a store that cannot take the value */
        memcpy(d->app_type, v->v.bytes.p, v->v.bytes.n);
        d->app_type[v->v.bytes.n] = 0;
    } else if (p->ids[0] == 1 && p->ids[2] == 1)
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
    if (p->ids[0] == 3 && p->ids[2] == 5 && n == 0)
        return LWM2M_ERR_BAD_ARG; /* "factory reset" wants an argument here */
    return LWM2M_OK;
}

static lwm2m_err_t dev_create(void *arg, uint16_t obj, uint16_t inst)
{
    uint32_t *set = instances_of(arg, obj);
    if (!set || inst >= 32)
        return LWM2M_ERR_NO_SPACE;
    if (!*set)
        *set = 1;
    *set |= (uint32_t)1 << inst;
    return LWM2M_OK;
}

static lwm2m_err_t dev_delete(void *arg, uint16_t obj, uint16_t inst)
{
    uint32_t *set = instances_of(arg, obj);
    if (!set || inst >= 32)
        return LWM2M_ERR_END;
    if (!*set)
        *set = 1;
    *set &= ~((uint32_t)1 << inst);
    if (!*set)
        *set = 1u << 31; /* none left: keep "explicit" */
    return LWM2M_OK;
}

static lwm2m_attr_entry_t attr_entries[4];
static lwm2m_attr_table_t attrs;
static lwm2m_store_t store = {&dev, dev_list, dev_read, dev_write, dev_execute, dev_create, dev_delete, &attrs};

/* A request in msg: method, path ("/3/0"), query ("a=1&b" or NULL),
 * Accept and Content-Format (-1: none), payload. */
static coap_msg_t request(uint8_t *msg, size_t cap, uint8_t code, const char *path, const char *query,
                          long accept, long cf, const uint8_t *pl, size_t pl_len)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, msg, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 1, NULL, 0);
    for (const char *p = path + 1; *p;) {
        size_t k = strcspn(p, "/");
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, p, k);
        p += k + (p[k] == '/');
    }
    if (cf >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    for (const char *p = query; p && *p;) {
        size_t k = strcspn(p, "&");
        coap_builder_add_option(&b, COAP_OPT_URI_QUERY, p, k);
        p += k + (p[k] == '&');
    }
    if (accept >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_ACCEPT, (uint32_t)accept);
    coap_builder_set_payload(&b, pl, pl_len);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    return m;
}

/* Runs one request: method, path, Accept (-1 none), Content-Format, payload. */
static lwm2m_dm_result_t run(uint8_t code, const char *path, long accept, long cf,
                             const uint8_t *pl, size_t pl_len, uint8_t *out, size_t cap)
{
    uint8_t msg[512];
    coap_msg_t m = request(msg, sizeof msg, code, path, NULL, accept, cf, pl, pl_len);
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
    lwm2m_attr_table_init(&attrs, attr_entries, 4);
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

/* LwM2M CBOR (11544) and CBOR (60) both ways through Device Management:
 * a Read holds what the TLV Read holds, Writes land typed. */
static void test_cbor_formats(void **state)
{
    (void)state;
    uint8_t out[512];
    lwm2m_dm_result_t r = run(COAP_GET, "/3/0", LWM2M_CF_LWM2M_CBOR, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_LWM2M_CBOR);
    lwm2m_cbor_dec_t d;
    lwm2m_entry_t e;
    int n = 0;
    bool manufacturer = false, power_1 = false;
    lwm2m_cbor_dec_init(&d, out, r.payload_len);
    while (lwm2m_cbor_next(&d, &e) == LWM2M_OK) {
        n++;
        manufacturer |= e.path.len == 3 && e.path.ids[2] == 0 && e.value.type == LWM2M_TYPE_STRING &&
                        e.value.v.bytes.n == 20 && !memcmp(e.value.v.bytes.p, "Open Mobile Alliance", 20);
        power_1 |= e.path.len == 4 && e.path.ids[2] == 6 && e.path.ids[3] == 1 && e.value.v.i == 5;
    }
    assert_int_equal(n, 5); /* 0, 6/0, 6/1, 11/0, 16: what the device has */
    assert_true(manufacturer && power_1);
    r = run(COAP_GET, "/3303/0/5700", LWM2M_CF_CBOR, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    tu_assert_hex(out, r.payload_len, "f94d60"); /* 21.5 */

    /* Write: {[1, 0, 1]: 3600, [1, 0, 7]: "UQ"} */
    uint8_t pl[64];
    size_t pn = tu_hex("a2" "83010001" "190e10" "83010007" "625551", pl, sizeof pl);
    r = run(COAP_PUT, "/1/0", -1, LWM2M_CF_LWM2M_CBOR, pl, pn, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_int_equal(dev.lifetime, 3600);
    assert_string_equal(dev.binding, "UQ");
    /* a value of the wrong type is refused before anything is written */
    pn = tu_hex("a2" "83010001" "1901f4" "83010007" "f5", pl, sizeof pl);
    r = run(COAP_PUT, "/1/0", -1, LWM2M_CF_LWM2M_CBOR, pl, pn, out, sizeof out);
    assert_int_equal(r.code, COAP_BAD_REQUEST);
    assert_int_equal(dev.lifetime, 3600);
    /* SenML JSON (110) both ways */
    r = run(COAP_GET, "/3303/0", LWM2M_CF_SENML_JSON, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_SENML_JSON);
    const char *json = "[{\"n\":\"/3303/0/5700\",\"v\":21.5}]";
    assert_int_equal(r.payload_len, strlen(json));
    assert_memory_equal(out, json, r.payload_len);
    json = "[{\"bn\":\"/1/0/\",\"n\":\"1\",\"v\":7200},{\"n\":\"7\",\"vs\":\"U\"}]";
    r = run(COAP_PUT, "/1/0", -1, LWM2M_CF_SENML_JSON, (const uint8_t *)json, strlen(json), out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_int_equal(dev.lifetime, 7200);
    assert_string_equal(dev.binding, "U");
    pn = tu_hex("1901f4", pl, sizeof pl); /* CBOR 500 */
    r = run(COAP_PUT, "/1/0/1", -1, LWM2M_CF_CBOR, pl, pn, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_int_equal(dev.lifetime, 500);
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
    /* the store refuses these arguments (or this state): 4.00, not 5.00 */
    assert_int_equal(run(COAP_POST, "/3/0/5", -1, -1, NULL, 0, out, sizeof out).code, COAP_BAD_REQUEST);
    assert_int_equal(run(COAP_POST, "/3/0/0", -1, -1, NULL, 0, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
}

static size_t temp_payload(uint8_t *buf, size_t cap, long inst, const char *app_type)
{
    lwm2m_tlv_enc_t e;
    lwm2m_value_t v = {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)app_type, strlen(app_type)}};
    size_t n;
    lwm2m_tlv_enc_init(&e, buf, cap);
    if (inst >= 0)
        lwm2m_tlv_begin_instance(&e, (uint16_t)inst);
    lwm2m_tlv_put(&e, 5750, &v);
    if (inst >= 0)
        lwm2m_tlv_end(&e);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    return n;
}

static void test_create_and_delete(void **state)
{
    (void)state;
    uint8_t out[128], pl[64];
    /* the server names the instance */
    size_t n = temp_payload(pl, sizeof pl, 5, "room");
    lwm2m_dm_result_t r = run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CREATED);
    assert_int_equal(r.created.len, 2);
    assert_int_equal(r.created.ids[0], 3303);
    assert_int_equal(r.created.ids[1], 5);
    assert_int_equal(dev.temps, 1u | 1u << 5);
    assert_string_equal(dev.app_type, "room");
    /* the same instance again */
    assert_int_equal(run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_BAD_REQUEST);
    /* the device picks the lowest free id */
    n = temp_payload(pl, sizeof pl, -1, "hall");
    r = run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CREATED);
    assert_int_equal(r.created.ids[1], 1);
    assert_string_equal(dev.app_type, "hall");
    /* SenML CBOR names the instance in its paths */
    lwm2m_senml_enc_t s;
    lwm2m_path_t p = {{3303, 9, 5750}, 3};
    lwm2m_value_t v = {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"attic", 5}};
    lwm2m_senml_enc_init(&s, pl, sizeof pl);
    lwm2m_senml_put(&s, &p, &v);
    assert_int_equal(lwm2m_senml_enc_finish(&s, &n), LWM2M_OK);
    r = run(COAP_POST, "/3303", -1, LWM2M_CF_SENML_CBOR, pl, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CREATED);
    assert_int_equal(r.created.ids[1], 9);
    /* a failed write undoes the Create */
    uint32_t before = dev.temps;
    n = temp_payload(pl, sizeof pl, 7, "fail");
    assert_int_equal(run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code,
                     COAP_INTERNAL_SERVER_ERROR);
    assert_int_equal(dev.temps, before);
    /* read-only resources cannot be given */
    lwm2m_tlv_enc_t e;
    lwm2m_value_t f = {.type = LWM2M_TYPE_FLOAT, .v.f = 3.0};
    lwm2m_tlv_enc_init(&e, pl, sizeof pl);
    lwm2m_tlv_put(&e, 5700, &f);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(dev.temps, before);
    /* /1 needs its mandatory writable resources: Lifetime alone is not enough */
    lwm2m_value_t lt = {.type = LWM2M_TYPE_INTEGER, .v.i = 60};
    lwm2m_value_t ns = {.type = LWM2M_TYPE_BOOLEAN, .v.b = true};
    lwm2m_value_t bd = {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"U", 1}};
    lwm2m_tlv_enc_init(&e, pl, sizeof pl);
    lwm2m_tlv_put(&e, 1, &lt);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(run(COAP_POST, "/1", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_BAD_REQUEST);
    assert_int_equal(dev.servers, 0);
    lwm2m_tlv_put(&e, 6, &ns);
    lwm2m_tlv_put(&e, 7, &bd);
    assert_int_equal(lwm2m_tlv_enc_finish(&e, &n), LWM2M_OK);
    r = run(COAP_POST, "/1", -1, LWM2M_CF_TLV, pl, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CREATED);
    assert_int_equal(r.created.ids[1], 1);
    /* formats, single-instance objects */
    assert_int_equal(run(COAP_POST, "/3303", -1, LWM2M_CF_TEXT, (const uint8_t *)"1", 1, out, sizeof out).code,
                     COAP_UNSUPPORTED_CONTENT_FORMAT);
    n = temp_payload(pl, sizeof pl, -1, "x");
    assert_int_equal(run(COAP_POST, "/3", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_BAD_REQUEST);
    assert_int_equal(run(COAP_POST, "/21", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_UNAUTHORIZED);

    /* Delete: instances of multi-instance objects only */
    assert_int_equal(run(COAP_DELETE, "/3303/5", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    assert_false(dev.temps >> 5 & 1);
    assert_int_equal(run(COAP_DELETE, "/3303/5", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_GET, "/3303/5/5700", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_DELETE, "/3/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_DELETE, "/3303", -1, -1, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_DELETE, "/3303/1/5750", -1, -1, NULL, 0, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(run(COAP_DELETE, "/21/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_UNAUTHORIZED);
    /* without the callbacks the operations are not offered */
    lwm2m_store_t plain = store;
    plain.create = NULL;
    plain.delete_instance = NULL;
    lwm2m_store_t saved = store;
    store = plain;
    assert_int_equal(run(COAP_DELETE, "/3303/1", -1, -1, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    n = temp_payload(pl, sizeof pl, -1, "x");
    assert_int_equal(run(COAP_POST, "/3303", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
    store = saved;
}

/* Runs a PUT with the query string q ("pmin=10&gt=30") and no payload. */
static uint8_t write_attributes(const char *path, const char *q)
{
    uint8_t msg[256], out[64];
    coap_msg_t m = request(msg, sizeof msg, COAP_PUT, path, q, -1, -1, NULL, 0);
    lwm2m_dm_result_t r;
    assert_int_equal(lwm2m_dm_handle(&store, &m, out, sizeof out, &r), LWM2M_OK);
    return r.code;
}

static void test_write_attributes(void **state)
{
    (void)state;
    uint8_t out[512];
    assert_int_equal(write_attributes("/3303/0/5700", "pmin=10&pmax=60&gt=30&st=0.5"), COAP_CHANGED);
    assert_int_equal(write_attributes("/3303/0", "pmax=300"), COAP_CHANGED);
    const lwm2m_path_t rp = {{3303, 0, 5700}, 3};
    const lwm2m_attrs_t *a = lwm2m_attr_get(&attrs, &rp);
    assert_non_null(a);
    assert_int_equal(a->set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX | LWM2M_ATTR_GT | LWM2M_ATTR_ST);
    assert_int_equal(a->pmin, 10);
    assert_true(a->gt == 30 && a->st == 0.5);
    /* refused: thresholds on a string, pmin > pmax, an unknown name, a missing path */
    assert_int_equal(write_attributes("/3/0/0", "gt=1"), COAP_BAD_REQUEST);
    assert_int_equal(write_attributes("/3303/0/5700", "pmin=100"), COAP_BAD_REQUEST);
    assert_int_equal(write_attributes("/3303/0/5700", "foo=1"), COAP_BAD_REQUEST);
    assert_int_equal(write_attributes("/3303/0/5700", "pmin=x"), COAP_BAD_REQUEST);
    assert_int_equal(write_attributes("/3303/4", "pmin=1"), COAP_NOT_FOUND);
    assert_int_equal(write_attributes("/21/0", "pmin=1"), COAP_UNAUTHORIZED);
    assert_int_equal(a->pmin, 10); /* unchanged by the refusals */
    /* Discover shows what was written where */
    lwm2m_dm_result_t r = run(COAP_GET, "/3303/0", LWM2M_CF_LINK, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    out[r.payload_len] = 0;
    assert_non_null(strstr((char *)out, "</3303/0>;pmax=300,"));
    assert_non_null(strstr((char *)out, "</3303/0/5700>;pmin=10;pmax=60;gt=30;st=0.5"));
    /* a name without value removes; removing all drops the entry */
    assert_int_equal(write_attributes("/3303/0/5700", "gt&st&pmin&pmax"), COAP_CHANGED);
    assert_null(lwm2m_attr_get(&attrs, &rp));
    assert_int_equal(attrs.n, 1);
    /* a full table */
    assert_int_equal(write_attributes("/1/0", "pmin=1"), COAP_CHANGED);
    assert_int_equal(write_attributes("/3/0", "pmin=1"), COAP_CHANGED);
    assert_int_equal(write_attributes("/3303/0/5701", "pmin=1"), COAP_CHANGED);
    assert_int_equal(write_attributes("/3303/0/5750", "pmin=1"), COAP_INTERNAL_SERVER_ERROR);
    /* without a table the operation is not offered */
    store.attrs = NULL;
    assert_int_equal(write_attributes("/3303/0", "pmin=1"), COAP_METHOD_NOT_ALLOWED);
    store.attrs = &attrs;
}

/* A FETCH or iPATCH on the root with a SenML CBOR payload. */
static lwm2m_dm_result_t composite(uint8_t code, const uint8_t *pl, size_t n, uint8_t *out, size_t cap)
{
    return run(code, "/", -1, LWM2M_CF_SENML_CBOR, pl, n, out, cap);
}

static size_t senml_paths(uint8_t *buf, size_t cap, const lwm2m_path_t *paths, const lwm2m_value_t *values,
                          size_t n)
{
    lwm2m_senml_enc_t s;
    size_t len;
    lwm2m_senml_enc_init(&s, buf, cap);
    for (size_t i = 0; i < n; i++) {
        lwm2m_value_t none = {.type = LWM2M_TYPE_NONE};
        lwm2m_senml_put(&s, &paths[i], values ? &values[i] : &none);
    }
    assert_int_equal(lwm2m_senml_enc_finish(&s, &len), LWM2M_OK);
    return len;
}

static void test_composite(void **state)
{
    (void)state;
    uint8_t req[256], out[512];
    /* Read-Composite: three objects in one answer, an absent instance left out */
    const lwm2m_path_t paths[] = {{{3, 0, 0}, 3}, {{3303, 0, 5700}, 3}, {{1, 0}, 2}, {{3303, 9}, 2}};
    size_t n = senml_paths(req, sizeof req, paths, NULL, 4);
    lwm2m_dm_result_t r = composite(COAP_FETCH, req, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_SENML_CBOR);
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    char seen[256] = "";
    lwm2m_senml_dec_init(&d, out, r.payload_len);
    while (lwm2m_senml_next(&d, &e) == LWM2M_OK) {
        char ps[32];
        lwm2m_path_format(&e.path, ps, sizeof ps);
        strcat(seen, ps);
        strcat(seen, " ");
        if (e.path.ids[0] == 3303)
            assert_true(e.value.type == LWM2M_TYPE_FLOAT && e.value.v.f == 21.5);
        if (e.path.ids[0] == 3)
            assert_memory_equal(e.value.v.bytes.p, "Open Mobile Alliance", 20);
    }
    assert_string_equal(seen, "/3/0/0 /3303/0/5700 /1/0/0 /1/0/1 /1/0/7 "); /* the device has no /1/0/6 */
    /* refused: the OSCORE object, a request not in SenML CBOR, another Accept */
    const lwm2m_path_t secret[] = {{{3, 0, 0}, 3}, {{21, 0}, 2}};
    n = senml_paths(req, sizeof req, secret, NULL, 2);
    assert_int_equal(composite(COAP_FETCH, req, n, out, sizeof out).code, COAP_UNAUTHORIZED);
    assert_int_equal(run(COAP_FETCH, "/", -1, LWM2M_CF_TLV, req, n, out, sizeof out).code,
                     COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(run(COAP_FETCH, "/", LWM2M_CF_TLV, LWM2M_CF_SENML_CBOR, req, n, out, sizeof out).code,
                     COAP_NOT_ACCEPTABLE);
    assert_int_equal(composite(COAP_FETCH, (const uint8_t *)"\x81\xa1", 2, out, sizeof out).code,
                     COAP_BAD_REQUEST);

    /* Write-Composite: two objects at once */
    const lwm2m_path_t wpaths[] = {{{1, 0, 1}, 3}, {{3303, 0, 5750}, 3}};
    lwm2m_value_t wvals[] = {{.type = LWM2M_TYPE_INTEGER, .v.i = 900},
                             {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"cellar", 6}}};
    n = senml_paths(req, sizeof req, wpaths, wvals, 2);
    assert_int_equal(composite(COAP_IPATCH, req, n, out, sizeof out).code, COAP_CHANGED);
    assert_true(dev.lifetime == 900);
    assert_string_equal(dev.app_type, "cellar");
    /* all or nothing: a read-only resource among them writes nothing */
    const lwm2m_path_t bad[] = {{{1, 0, 1}, 3}, {{3, 0, 0}, 3}};
    lwm2m_value_t bvals[] = {{.type = LWM2M_TYPE_INTEGER, .v.i = 5},
                             {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"x", 1}}};
    n = senml_paths(req, sizeof req, bad, bvals, 2);
    int writes = dev.writes;
    assert_int_equal(composite(COAP_IPATCH, req, n, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(dev.writes, writes);
    assert_true(dev.lifetime == 900);
    const lwm2m_path_t osc[] = {{{21, 0, 0}, 3}};
    n = senml_paths(req, sizeof req, osc, bvals + 1, 1);
    assert_int_equal(composite(COAP_IPATCH, req, n, out, sizeof out).code, COAP_UNAUTHORIZED);
    const lwm2m_path_t obj[] = {{{1, 0}, 2}};
    n = senml_paths(req, sizeof req, obj, bvals, 1);
    assert_int_equal(composite(COAP_IPATCH, req, n, out, sizeof out).code, COAP_NOT_FOUND);
    assert_int_equal(run(COAP_POST, "/", -1, LWM2M_CF_SENML_CBOR, req, n, out, sizeof out).code,
                     COAP_METHOD_NOT_ALLOWED);
}

static void test_send_payload(void **state)
{
    (void)state;
    uint8_t out[256];
    size_t n;
    const lwm2m_path_t paths[] = {{{3303, 0, 5700}, 3}, {{1, 0, 1}, 3}, {{3303, 7}, 2}};
    assert_int_equal(lwm2m_send_payload(&store, paths, 3, out, sizeof out, &n), LWM2M_OK);
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    lwm2m_senml_dec_init(&d, out, n);
    assert_int_equal(lwm2m_senml_next(&d, &e), LWM2M_OK);
    assert_true(e.path.len == 3 && e.path.ids[2] == 5700 && e.value.v.f == 21.5);
    assert_int_equal(lwm2m_senml_next(&d, &e), LWM2M_OK);
    assert_true(e.path.ids[0] == 1 && e.value.type == LWM2M_TYPE_INTEGER && e.value.v.i == 86400);
    assert_int_equal(lwm2m_senml_next(&d, &e), LWM2M_ERR_END); /* /3303/7 does not exist */
    const lwm2m_path_t secret[] = {{{21, 0}, 2}};
    assert_int_equal(lwm2m_send_payload(&store, secret, 1, out, sizeof out, &n), LWM2M_ERR_BAD_PATH);
    assert_int_equal(lwm2m_send_payload(&store, paths, 3, out, 8, &n), LWM2M_ERR_NO_SPACE);
}

/* An Update or De-register request to path with the query q. */
static lwm2m_err_t update(uint8_t code, const char *path, const char *q, uint32_t *loc, uint32_t *lt)
{
    uint8_t msg[128];
    coap_msg_t m = request(msg, sizeof msg, code, path, q, -1, -1, NULL, 0);
    return lwm2m_update_parse(&m, loc, lt);
}

static void test_update_parse(void **state)
{
    (void)state;
    uint32_t loc = 0, lt = 9;
    assert_int_equal(update(COAP_POST, "/rd/42", NULL, &loc, &lt), LWM2M_OK);
    assert_int_equal(loc, 42);
    assert_int_equal(lt, 0);
    assert_int_equal(update(COAP_POST, "/rd/7", "lt=600", &loc, &lt), LWM2M_OK);
    assert_int_equal(loc, 7);
    assert_int_equal(lt, 600);
    assert_int_equal(update(COAP_DELETE, "/rd/0", NULL, &loc, &lt), LWM2M_OK);
    assert_int_equal(loc, 0);
    assert_int_equal(update(COAP_POST, "/rd/7", "lt=6x", &loc, &lt), LWM2M_ERR_MALFORMED);
    assert_int_equal(update(COAP_POST, "/rd", NULL, &loc, &lt), LWM2M_ERR_BAD_PATH);
    assert_int_equal(update(COAP_POST, "/rd/x1", NULL, &loc, &lt), LWM2M_ERR_BAD_PATH);
    assert_int_equal(update(COAP_POST, "/rd/1/2", NULL, &loc, &lt), LWM2M_ERR_BAD_PATH);
    assert_int_equal(update(COAP_POST, "/xx/1", NULL, &loc, &lt), LWM2M_ERR_BAD_PATH);
    assert_int_equal(update(COAP_POST, "/rd/1234567890", NULL, &loc, &lt), LWM2M_ERR_BAD_PATH);
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
        cmocka_unit_test_setup(test_cbor_formats, reset),
        cmocka_unit_test_setup(test_access_rules, reset),
        cmocka_unit_test_setup(test_discover, reset),
        cmocka_unit_test_setup(test_write_and_execute, reset),
        cmocka_unit_test_setup(test_create_and_delete, reset),
        cmocka_unit_test_setup(test_write_attributes, reset),
        cmocka_unit_test_setup(test_registration, reset),
        cmocka_unit_test_setup(test_update_parse, reset),
        cmocka_unit_test_setup(test_composite, reset),
        cmocka_unit_test_setup(test_send_payload, reset),
    };
    return cmocka_run_group_tests_name("lwm2m_model", tests, NULL, NULL);
}
