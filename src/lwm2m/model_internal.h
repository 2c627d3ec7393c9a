/* Shared by the Device Management (model.c) and Bootstrap (bootstrap.c)
 * interfaces of a client: the object table and instance lookup.
 * Not installed. */
#ifndef CORESEAL_LWM2M_MODEL_INTERNAL_H
#define CORESEAL_LWM2M_MODEL_INTERNAL_H

#include "coreseal/lwm2m_model.h"

#define LWM2M_MAX_IDS 32

/* The i-th object definition, NULL past the end. */
const lwm2m_obj_def_t *lwm2m_obj_def_at(size_t i);

bool lwm2m_instance_exists(const lwm2m_store_t *st, uint16_t obj, uint16_t inst);
/* The lowest instance id not among ids[0..n) (at most n). */
uint16_t lwm2m_lowest_free_id(const uint16_t *ids, size_t n);

/* Content-Format or Accept of a request; -1 when absent. */
long lwm2m_msg_format(const coap_msg_t *req, uint16_t opt);

/* The value an entry carries, as the resource type `want`. */
lwm2m_err_t lwm2m_value_coerce(const lwm2m_entry_t *e, lwm2m_type_t want, uint16_t cf,
                               lwm2m_value_t *v);

/* Decimal digits of v into out (no NUL); their count. */
size_t lwm2m_put_dec(char *out, uint32_t v);
/* 1 to 9 decimal digits; *ok false otherwise. */
uint32_t lwm2m_get_dec(const char *s, size_t n, bool *ok);
/* A Uri-Query "key=val"; the list's sticky error on overflow. */
void lwm2m_add_query(coap_optlist_t *l, const char *key, const char *val, size_t vlen);

#endif
