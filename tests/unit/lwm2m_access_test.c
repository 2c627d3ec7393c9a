/* LwM2M Access Control (object 2, Core TS §7.3): rights from ACL entries,
 * the owner and the default entry; enforcement by lwm2m_dm_handle_as for
 * every operation; the Access Control instance a Create makes and a
 * Delete removes; nothing enforced with a single server account. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/lwm2m_memstore.h"

static lwm2m_mem_record_t rec[96];
static lwm2m_memstore_t mem;

static lwm2m_err_t exec_ok(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)arg, (void)p, (void)a, (void)n;
    return LWM2M_OK;
}

static lwm2m_store_t store = {&mem, lwm2m_memstore_list, lwm2m_memstore_read, lwm2m_memstore_write, exec_ok,
                              lwm2m_memstore_create, lwm2m_memstore_delete_instance, NULL};

static void put_int(uint16_t obj, uint16_t inst, uint16_t res, uint16_t ri, int64_t v)
{
    lwm2m_path_t p = {.ids = {obj, inst, res, ri}, .len = ri == LWM2M_ID_NONE ? 3 : 4};
    lwm2m_value_t val = {.type = LWM2M_TYPE_INTEGER, .v.i = v};
    assert_int_equal(lwm2m_memstore_create(&mem, obj, inst), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p, &val), LWM2M_OK);
}

static void put_float(uint16_t obj, uint16_t inst, uint16_t res, double v)
{
    lwm2m_path_t p = {.ids = {obj, inst, res}, .len = 3};
    lwm2m_value_t val = {.type = LWM2M_TYPE_FLOAT, .v.f = v};
    assert_int_equal(lwm2m_memstore_create(&mem, obj, inst), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p, &val), LWM2M_OK);
}

/* Servers 101 and 102; /3303/0 owned by 102 with ACL {101: Read};
 * /3303/1 owned by 101 with a default ACL {0: Read|Write}; 102 may
 * Create in /3303. */
static int setup(void **state)
{
    (void)state;
    lwm2m_memstore_init(&mem, rec, sizeof rec / sizeof rec[0], NULL, 0);
    put_int(1, 0, 0, LWM2M_ID_NONE, 101);
    put_int(1, 1, 0, LWM2M_ID_NONE, 102);
    put_float(3303, 0, 5700, 21.5);
    put_float(3303, 1, 5700, 22.5);
    put_int(2, 0, 0, LWM2M_ID_NONE, 3303);
    put_int(2, 0, 1, LWM2M_ID_NONE, 0);
    put_int(2, 0, 2, 101, LWM2M_ACL_READ);
    put_int(2, 0, 3, LWM2M_ID_NONE, 102);
    put_int(2, 1, 0, LWM2M_ID_NONE, 3303);
    put_int(2, 1, 1, LWM2M_ID_NONE, 1);
    put_int(2, 1, 2, 0, LWM2M_ACL_READ | LWM2M_ACL_WRITE);
    put_int(2, 1, 3, LWM2M_ID_NONE, 101);
    put_int(2, 2, 0, LWM2M_ID_NONE, 3303);
    put_int(2, 2, 1, LWM2M_ID_NONE, 65535);
    put_int(2, 2, 2, 102, LWM2M_ACL_CREATE);
    put_int(2, 2, 3, LWM2M_ID_NONE, 102);
    return 0;
}

static uint8_t op(uint16_t ssid, uint8_t code, const char *path, long accept, long cf, const uint8_t *pl,
                  size_t n, uint8_t *out, size_t cap, lwm2m_dm_result_t *r)
{
    uint8_t msg[512];
    coap_builder_t b;
    size_t len;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 1, NULL, 0);
    for (const char *p = path + 1; *p;) {
        size_t k = strcspn(p, "/");
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, p, k);
        p += k + (p[k] == '/');
    }
    if (cf >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    if (accept >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_ACCEPT, (uint32_t)accept);
    coap_builder_set_payload(&b, pl, n);
    assert_int_equal(coap_builder_finish(&b, &len), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, len), COAP_OK);
    assert_int_equal(lwm2m_dm_handle_as(&store, ssid, &m, out, cap, r), LWM2M_OK);
    return r->code;
}

static uint8_t simple(uint16_t ssid, uint8_t code, const char *path, const char *text)
{
    uint8_t out[512];
    lwm2m_dm_result_t r;
    return op(ssid, code, path, -1, text ? LWM2M_CF_TEXT : -1, (const uint8_t *)text, text ? strlen(text) : 0, out,
              sizeof out, &r);
}

static void test_rights(void **state)
{
    (void)state;
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3303, 0), LWM2M_ACL_READ);   /* its ACL entry */
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3303, 0), LWM2M_ACL_ALL);    /* the owner */
    assert_int_equal(lwm2m_acl_rights(&store, 103, 3303, 0), 0);                /* no entry, no default */
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3303, 1), LWM2M_ACL_ALL);
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3303, 1), LWM2M_ACL_READ | LWM2M_ACL_WRITE); /* default */
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3303, 7), 0);                /* no Access Control instance */
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3303, 65535), LWM2M_ACL_CREATE);
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3303, 65535), 0);
    /* the rules themselves: everyone reads, the owner changes */
    assert_int_equal(lwm2m_acl_rights(&store, 101, 2, 0), LWM2M_ACL_READ);
    assert_int_equal(lwm2m_acl_rights(&store, 102, 2, 0), LWM2M_ACL_READ | LWM2M_ACL_WRITE | LWM2M_ACL_DELETE);
    /* an owner's own ACL entry binds it too */
    put_int(2, 0, 2, 102, LWM2M_ACL_READ);
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3303, 0), LWM2M_ACL_READ);
    /* ssid 0, or one server account: no access control */
    assert_int_equal(lwm2m_acl_rights(&store, 0, 3303, 0), LWM2M_ACL_ALL);
    assert_int_equal(lwm2m_memstore_delete_instance(&mem, 1, 1), LWM2M_OK);
    assert_int_equal(lwm2m_acl_rights(&store, 103, 3303, 0), LWM2M_ACL_ALL);
    assert_int_equal(simple(103, COAP_PUT, "/3303/0/5750", "any"), COAP_CHANGED);
}

static void test_enforced(void **state)
{
    (void)state;
    assert_int_equal(simple(101, COAP_GET, "/3303/0/5700", NULL), COAP_CONTENT);
    assert_int_equal(simple(103, COAP_GET, "/3303/0/5700", NULL), COAP_UNAUTHORIZED);
    assert_int_equal(simple(101, COAP_PUT, "/3303/0/5750", "mine"), COAP_UNAUTHORIZED);
    assert_int_equal(simple(102, COAP_PUT, "/3303/0/5750", "mine"), COAP_CHANGED);
    assert_int_equal(simple(101, COAP_POST, "/3303/0/5605", NULL), COAP_UNAUTHORIZED);
    assert_int_equal(simple(102, COAP_POST, "/3303/0/5605", NULL), COAP_CHANGED);
    assert_int_equal(simple(102, COAP_POST, "/3303/1/5605", NULL), COAP_UNAUTHORIZED); /* default: no Execute */
    assert_int_equal(simple(101, COAP_DELETE, "/3303/0", NULL), COAP_UNAUTHORIZED);
    assert_int_equal(simple(101, COAP_GET, "/3303/7", NULL), COAP_NOT_FOUND); /* absent stays 4.04 */
    /* Access Control instances: only their owner changes them */
    assert_int_equal(simple(101, COAP_GET, "/2/0/3", NULL), COAP_CONTENT);
    assert_int_equal(simple(101, COAP_PUT, "/2/0/3", "101"), COAP_UNAUTHORIZED);
    assert_int_equal(simple(102, COAP_PUT, "/2/0/3", "101"), COAP_CHANGED);
    /* 101 owns it now, but its own ACL entry (Read) still binds it; 102 lost everything */
    assert_int_equal(simple(101, COAP_PUT, "/3303/0/5750", "now mine"), COAP_UNAUTHORIZED);
    assert_int_equal(simple(102, COAP_GET, "/3303/0/5700", NULL), COAP_UNAUTHORIZED);
    assert_int_equal(simple(101, COAP_POST, "/2", NULL), COAP_UNAUTHORIZED);            /* nobody creates rules */
}

static void test_whole_object_filtered(void **state)
{
    (void)state;
    uint8_t out[512];
    lwm2m_dm_result_t r;
    assert_int_equal(op(103, COAP_GET, "/3303", LWM2M_CF_LINK, -1, NULL, 0, out, sizeof out, &r), COAP_CONTENT);
    out[r.payload_len] = '\0';
    assert_non_null(strstr((char *)out, "</3303/1>")); /* the default entry lets it read /3303/1 */
    assert_null(strstr((char *)out, "</3303/0>"));
    assert_int_equal(op(101, COAP_GET, "/3303", LWM2M_CF_LINK, -1, NULL, 0, out, sizeof out, &r), COAP_CONTENT);
    out[r.payload_len] = '\0';
    assert_non_null(strstr((char *)out, "</3303/0>"));
    assert_non_null(strstr((char *)out, "</3303/1>"));
}

static void test_create_and_delete(void **state)
{
    (void)state;
    uint8_t out[256], tlv[] = {0xe1, 0x16, 0x76, 'x'}; /* 5750 = "x" */
    lwm2m_dm_result_t r;
    assert_int_equal(op(101, COAP_POST, "/3303", -1, LWM2M_CF_TLV, tlv, sizeof tlv, out, sizeof out, &r),
                     COAP_UNAUTHORIZED);
    assert_int_equal(op(102, COAP_POST, "/3303", -1, LWM2M_CF_TLV, tlv, sizeof tlv, out, sizeof out, &r),
                     COAP_CREATED);
    assert_int_equal(r.created.len, 2);
    uint16_t inst = r.created.ids[1];
    assert_int_equal(inst, 2);
    /* the new instance's Access Control instance: owned by its creator */
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3303, inst), LWM2M_ACL_ALL);
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3303, inst), 0);
    uint16_t ids[16];
    size_t n;
    assert_int_equal(lwm2m_memstore_list(&mem, 2, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, 16, &n), LWM2M_OK);
    assert_int_equal(n, 4);
    assert_int_equal(simple(101, COAP_DELETE, "/3303/2", NULL), COAP_UNAUTHORIZED);
    assert_int_equal(simple(102, COAP_DELETE, "/3303/2", NULL), COAP_DELETED);
    assert_int_equal(lwm2m_memstore_list(&mem, 2, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, 16, &n), LWM2M_OK);
    assert_int_equal(n, 3); /* and its Access Control instance went with it */
}

static void test_composite_write(void **state)
{
    (void)state;
    /* SenML CBOR [{0: "/3303/0/5750", 3: "z"}] */
    uint8_t pl[32], out[64];
    size_t n = 0;
    pl[n++] = 0x81;
    pl[n++] = 0xa2;
    pl[n++] = 0x00;
    pl[n++] = 0x6c;
    memcpy(pl + n, "/3303/0/5750", 12);
    n += 12;
    pl[n++] = 0x03;
    pl[n++] = 0x61;
    pl[n++] = 'z';
    lwm2m_dm_result_t r;
    assert_int_equal(op(101, COAP_IPATCH, "/", -1, LWM2M_CF_SENML_CBOR, pl, n, out, sizeof out, &r),
                     COAP_UNAUTHORIZED);
    assert_int_equal(op(102, COAP_IPATCH, "/", -1, LWM2M_CF_SENML_CBOR, pl, n, out, sizeof out, &r), COAP_CHANGED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rights, setup),
        cmocka_unit_test_setup(test_enforced, setup),
        cmocka_unit_test_setup(test_whole_object_filtered, setup),
        cmocka_unit_test_setup(test_create_and_delete, setup),
        cmocka_unit_test_setup(test_composite_write, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
