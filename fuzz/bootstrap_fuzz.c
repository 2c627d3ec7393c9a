/* libFuzzer: the client's Bootstrap interface. The input is a series of
 * CoAP messages (two-byte big-endian length, then the message) from a
 * Bootstrap-Server, each run through lwm2m_bs_handle over a memstore that
 * starts with a bootstrap account (/0/0 linking /21/0) and a server
 * account. Whatever comes, a Delete never removes the bootstrap account,
 * and what the store holds always saves and loads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/lwm2m_bootstrap.h"
#include "coreseal/lwm2m_memstore.h"

static lwm2m_err_t no_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)arg, (void)p, (void)a, (void)n;
    return LWM2M_ERR_BAD_PATH;
}

static void put(lwm2m_memstore_t *m, uint16_t obj, uint16_t inst, uint16_t res, lwm2m_value_t v)
{
    lwm2m_path_t p = {{obj, inst, res}, 3};
    if (lwm2m_memstore_create(m, obj, inst) != LWM2M_OK || lwm2m_memstore_write(m, &p, &v) != LWM2M_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lwm2m_mem_record_t rec[40], copy[40];
    static uint8_t blob[1024], copy_blob[1024];
    static uint8_t saved[40 * (LWM2M_MEM_VALUE_MAX + 24) + sizeof blob], resaved[sizeof saved];
    lwm2m_memstore_t m, again;
    lwm2m_memstore_init(&m, rec, 40, blob, sizeof blob);
    put(&m, 0, 0, 0, (lwm2m_value_t){.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)"coap://bs", 9}});
    put(&m, 0, 0, 1, (lwm2m_value_t){.type = LWM2M_TYPE_BOOLEAN, .v.b = true});
    put(&m, 0, 0, 17, (lwm2m_value_t){.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 0}});
    put(&m, 21, 0, 0, (lwm2m_value_t){.type = LWM2M_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"key", 3}});
    put(&m, 0, 1, 10, (lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 1});
    put(&m, 1, 0, 0, (lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 1});
    lwm2m_store_t st = {&m, lwm2m_memstore_list, lwm2m_memstore_read, lwm2m_memstore_write, no_execute,
                        lwm2m_memstore_create, lwm2m_memstore_delete_instance, NULL};
    uint8_t out[1024];
    for (size_t i = 0; i + 2 <= size;) {
        size_t n = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (n > size - i)
            n = size - i;
        coap_msg_t req;
        if (coap_msg_parse(&req, data + i, n) == COAP_OK) {
            lwm2m_account_view_t before, after;
            bool had = lwm2m_bootstrap_account(&st, &before) == LWM2M_OK;
            lwm2m_dm_result_t r;
            if (lwm2m_bs_handle(&st, &req, out, sizeof out, &r) != LWM2M_OK || r.payload_len > sizeof out)
                abort();
            if (req.code == COAP_DELETE && had &&
                (lwm2m_bootstrap_account(&st, &after) != LWM2M_OK || after.security_inst != before.security_inst))
                abort();
        }
        i += n;
    }
    size_t len, relen;
    if (lwm2m_memstore_save(&m, saved, sizeof saved, &len) != LWM2M_OK)
        abort();
    lwm2m_memstore_init(&again, copy, 40, copy_blob, sizeof copy_blob);
    /* long values moved around in the blob area come back as they were saved */
    if (lwm2m_memstore_load(&again, saved, len) != LWM2M_OK ||
        lwm2m_memstore_save(&again, resaved, sizeof resaved, &relen) != LWM2M_OK || relen != len ||
        memcmp(saved, resaved, len) || again.blob_used != m.blob_used)
        abort();
    (void)lwm2m_memstore_load(&again, data, size); /* any bytes: loaded or refused */
    return 0;
}
