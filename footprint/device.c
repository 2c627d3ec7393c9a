/* A device's use of the sans-I/O core, linked for Cortex-M4 by
 * scripts/footprint.sh so that --gc-sections keeps exactly what a device
 * needs. Crypto is excluded: the backend is the platform's (PSA, mbedTLS). */
#include "coreseal/cbor.h"
#include "coreseal/coap.h"
#include "coreseal/coap_ep.h"
#include "coreseal/cose.h"
#include "coreseal/edhoc.h"
#include "coreseal/lwm2m.h"
#include "coreseal/lwm2m_bootstrap.h"
#include "coreseal/lwm2m_memstore.h"
#include "coreseal/lwm2m_model.h"
#include "coreseal/oscore.h"

typedef void (*fn_t)(void);

/* Function pointers of every public call a device makes keep them linked. */
fn_t volatile footprint_keep[] = {
    (fn_t)cbor_enc_init,          (fn_t)cbor_enc_finish,
    (fn_t)cbor_encode_uint,       (fn_t)cbor_encode_int,
    (fn_t)cbor_encode_bstr,       (fn_t)cbor_encode_tstr,
    (fn_t)cbor_encode_array,      (fn_t)cbor_encode_map,
    (fn_t)cbor_encode_null,       (fn_t)cbor_encode_bool,
    (fn_t)cbor_dec_init,          (fn_t)cbor_dec_next,
    (fn_t)cbor_dec_skip,          (fn_t)cbor_decode_uint,
    (fn_t)cbor_decode_int,        (fn_t)cbor_decode_bstr,
    (fn_t)cbor_decode_tstr,       (fn_t)cbor_decode_array,
    (fn_t)cbor_decode_map,        (fn_t)cose_encode_enc_structure,
    (fn_t)cose_encode_sig_structure, (fn_t)cose_key_decode,
    (fn_t)cose_alg_by_id,         (fn_t)coap_msg_parse,
    (fn_t)coap_opt_iter_init,     (fn_t)coap_opt_next,
    (fn_t)coap_msg_find_option,   (fn_t)coap_msg_check_critical,
    (fn_t)coap_builder_init,      (fn_t)coap_builder_add_option,
    (fn_t)coap_builder_add_option_uint, (fn_t)coap_builder_set_payload,
    (fn_t)coap_builder_finish,    (fn_t)coreseal_strerror,
    (fn_t)cs_wipe,                (fn_t)cs_ct_equal,
    (fn_t)oscore_ctx_derive,      (fn_t)oscore_protect_request,
    (fn_t)oscore_unprotect_response, (fn_t)oscore_unprotect_request,
    (fn_t)oscore_protect_response, (fn_t)oscore_echo_challenge,
    (fn_t)oscore_msg_option,      (fn_t)oscore_err_to_coap_code,
    (fn_t)oscore_b2_start,        (fn_t)oscore_b2_is_response1,
    (fn_t)oscore_b2_accept_response1,
    (fn_t)edhoc_initiator_init,   (fn_t)edhoc_initiator_prepare_message_1,
    (fn_t)edhoc_initiator_parse_message_2, (fn_t)edhoc_initiator_verify_message_2,
    (fn_t)edhoc_initiator_prepare_message_3, (fn_t)edhoc_initiator_process_message_4,
    (fn_t)edhoc_responder_init,   (fn_t)edhoc_responder_process_message_1,
    (fn_t)edhoc_responder_prepare_message_2, (fn_t)edhoc_responder_parse_message_3,
    (fn_t)edhoc_responder_verify_message_3, (fn_t)edhoc_prepare_error,
    (fn_t)edhoc_export_oscore,    (fn_t)edhoc_key_update,
    (fn_t)lwm2m_path_from_msg,    (fn_t)lwm2m_tlv_next,
    (fn_t)lwm2m_tlv_put,          (fn_t)lwm2m_tlv_enc_finish,
    (fn_t)lwm2m_senml_put,        (fn_t)lwm2m_senml_next,
    (fn_t)lwm2m_text_encode,      (fn_t)lwm2m_text_decode,
    (fn_t)lwm2m_link_append,      (fn_t)lwm2m_value_from_raw,
    (fn_t)lwm2m_dm_handle,        (fn_t)lwm2m_register_options,
    (fn_t)lwm2m_register_payload,
    (fn_t)lwm2m_bs_handle,        (fn_t)lwm2m_bootstrap_request_options,
    (fn_t)lwm2m_server_account,   (fn_t)lwm2m_oscore_object_params,
    (fn_t)lwm2m_memstore_list,    (fn_t)lwm2m_memstore_read,
    (fn_t)lwm2m_memstore_write,   (fn_t)lwm2m_memstore_create,
    (fn_t)lwm2m_memstore_delete_instance, (fn_t)lwm2m_memstore_save,
    (fn_t)lwm2m_memstore_load,    (fn_t)oscore_ctx_require_echo,
    (fn_t)coap_ep_init,           (fn_t)coap_ep_send_request,
    (fn_t)coap_ep_respond,        (fn_t)coap_ep_input,
    (fn_t)coap_ep_tick,           (fn_t)coap_ep_next_deadline,
    (fn_t)coap_ep_send_buf,       (fn_t)coap_ep_send_ack,
    (fn_t)coap_ep_send_separate,  (fn_t)coap_ep_new_token,
};

int main(void) { return footprint_keep[0] != 0; }
