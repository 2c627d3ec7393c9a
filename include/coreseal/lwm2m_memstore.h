/* coreseal/lwm2m_memstore.h: object instances and resource values kept in
 * a caller-given table of fixed records, for what a device writes rather
 * than measures: Security (0), Server (1) and OSCORE (21) instances that
 * bootstrap creates and Write changes. Plug the callbacks into an
 * lwm2m_store_t (arg: the memstore), or call them from the application's
 * own callbacks for those objects.
 *
 * Values up to LWM2M_MEM_VALUE_MAX bytes sit in their record; longer ones
 * (a certificate, in the Security object's resources 3 and 4) in a
 * caller-given blob area, packed: a value rewritten or deleted closes its
 * gap, so the area's free space stays in one piece.
 *
 * lwm2m_memstore_save() and _load() turn the whole table into SenML CBOR
 * and back, so the host can keep it in a file across reboots. */
#ifndef CORESEAL_LWM2M_MEMSTORE_H
#define CORESEAL_LWM2M_MEMSTORE_H

#include "coreseal/lwm2m_model.h"

/* Longest string or opaque value a record holds itself (a server URI, a key). */
#define LWM2M_MEM_VALUE_MAX 96
/* Largest blob area (offsets are 16 bits). */
#define LWM2M_MEM_BLOB_MAX 65535u

typedef struct {
    lwm2m_path_t path; /* len 2: an instance exists; 3 or 4: a value */
    lwm2m_type_t type;
    uint16_t len;      /* STRING, OPAQUE, CORELNK: bytes used */
    union {
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        struct {
            uint16_t obj, inst;
        } lnk;
        uint8_t bytes[LWM2M_MEM_VALUE_MAX]; /* len <= LWM2M_MEM_VALUE_MAX */
        uint16_t blob_off;                  /* longer: where in the blob area */
    } v;
} lwm2m_mem_record_t;

typedef struct {
    lwm2m_mem_record_t *rec;
    size_t cap;
    uint8_t *blob; /* long values, packed from the start */
    size_t blob_cap, blob_used;
} lwm2m_memstore_t;

/* rec[cap] and blob[blob_cap] (NULL, 0: no value longer than
 * LWM2M_MEM_VALUE_MAX; at most LWM2M_MEM_BLOB_MAX is used) are cleared. */
void lwm2m_memstore_init(lwm2m_memstore_t *m, lwm2m_mem_record_t *rec, size_t cap, uint8_t *blob,
                         size_t blob_cap);

/* lwm2m_store_t callbacks, arg = the lwm2m_memstore_t. list answers every
 * object (with no instances when none exist). write: LWM2M_ERR_END when the
 * instance does not exist, LWM2M_ERR_NO_SPACE for a value longer than
 * LWM2M_MEM_VALUE_MAX that the blob area has no room for, LWM2M_ERR_FULL
 * when no record is free. */
lwm2m_err_t lwm2m_memstore_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res,
                                uint16_t *ids, size_t cap, size_t *n);
lwm2m_err_t lwm2m_memstore_read(void *arg, const lwm2m_path_t *path, lwm2m_value_t *v);
lwm2m_err_t lwm2m_memstore_write(void *arg, const lwm2m_path_t *path, const lwm2m_value_t *v);
lwm2m_err_t lwm2m_memstore_create(void *arg, uint16_t obj, uint16_t inst);
lwm2m_err_t lwm2m_memstore_delete_instance(void *arg, uint16_t obj, uint16_t inst);

/* Every value as SenML CBOR (types kept: vs strings, vd opaque, vlo links). */
CS_MUST_CHECK lwm2m_err_t lwm2m_memstore_save(const lwm2m_memstore_t *m, uint8_t *out, size_t cap,
                                              size_t *len);
/* Replaces the table's content with a saved one; on error the table is
 * left empty. */
CS_MUST_CHECK lwm2m_err_t lwm2m_memstore_load(lwm2m_memstore_t *m, const uint8_t *in, size_t len);

#endif
