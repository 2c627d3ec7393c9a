/* Firmware Update (object 5) of the simulated LwM2M device, after the
 * state machine of LwM2M Core TS 1.2 Appendix E.6. A package arrives pushed
 * (the server writes /5/0/0, block-wise with Block1: over OSCORE each block
 * is its own protected request, RFC 8613 §4.1.3.4.1) or pulled (the server
 * writes a coap:// URI into /5/0/1 and the device downloads it with Block2);
 * Execute /5/0/2 then installs it. Installing here means the device's
 * firmware version (/3/0/3) becomes "fw-" and the package's SHA-256 prefix,
 * which a server can read back. */
#define _POSIX_C_SOURCE 200809L
#include "lwm2m.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULL_BLOCK_SZX 6 /* 1024-byte blocks */

void fw_init(fw_t *fw)
{
    memset(fw, 0, sizeof *fw);
    snprintf(fw->version, sizeof fw->version, "0.1.0");
}

/* Back to Idle with an Update Result (E.6: a failed download or a reset). */
static void fw_reset(fw_t *fw, uint8_t result)
{
    fw->state = FW_IDLE;
    fw->result = result;
    fw->pulling = false;
    fw->body.len = 0;
    fw->body.complete = false;
}

static bool fw_storage(fw_t *fw)
{
    if (!fw->pkg && !(fw->pkg = malloc(FW_MAX)))
        return false;
    coap_body_init(&fw->body, fw->pkg, FW_MAX);
    return true;
}

static void downloaded(fw_t *fw, const char *how)
{
    fw->state = FW_DOWNLOADED;
    fw->pulling = false;
    printf("client: firmware package of %zu bytes downloaded (%s)\n", fw->body.len, how);
    fflush(stdout);
}

lwm2m_err_t fw_read(const fw_t *fw, uint16_t res, lwm2m_value_t *v)
{
    memset(v, 0, sizeof *v);
    v->type = LWM2M_TYPE_INTEGER;
    switch (res) {
    case 1:
        v->type = LWM2M_TYPE_STRING;
        v->v.bytes.p = (const uint8_t *)fw->uri;
        v->v.bytes.n = strlen(fw->uri);
        break;
    case 3: v->v.i = fw->state; break;
    case 5: v->v.i = fw->result; break;
    case 9: v->v.i = 2; break; /* Delivery Method: pull and push */
    default: return LWM2M_ERR_END;
    }
    return LWM2M_OK;
}

/* The next Block2 request of a pull. */
static bool pull_next(fw_t *fw, node_t *n)
{
    coap_uri_t u;
    uint8_t arena[320];
    coap_opt_t list[16];
    coap_optlist_t l;
    oscore_binding_t bind;
    coap_block_t b2 = {.num = fw->num, .szx = PULL_BLOCK_SZX};
    if (coap_uri_parse(&u, fw->uri, strlen(fw->uri)) != COAP_OK)
        return false;
    coap_optlist_init(&l, list, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, false);
    coap_optlist_add_uint(&l, COAP_OPT_BLOCK2, coap_block_encode(&b2));
    return node_request(n, fw->peer, NULL, COAP_GET, &l, NULL, 0, false, fw->token, &bind);
}

/* Package URI written: an empty one cancels; a coap:// one is pulled. */
static lwm2m_err_t start_pull(fw_t *fw, node_t *n, const uint8_t *uri, size_t len)
{
    char host[128], port[8], err[256];
    if (len == 0) {
        fw->uri[0] = 0;
        fw_reset(fw, FW_RESULT_INITIAL);
        return LWM2M_OK;
    }
    if (len >= sizeof fw->uri) {
        fw_reset(fw, FW_RESULT_INVALID_URI);
        return LWM2M_OK;
    }
    memcpy(fw->uri, uri, len);
    fw->uri[len] = 0;
    if (strncmp(fw->uri, "coap://", 7) != 0) { /* coaps, http...: not here */
        fw_reset(fw, strstr(fw->uri, "://") ? FW_RESULT_UNSUPPORTED_PROTOCOL : FW_RESULT_INVALID_URI);
        return LWM2M_OK;
    }
    if (!node_uri_host_port(fw->uri, len, host, sizeof host, port, sizeof port) ||
        cs_udp_resolve_peer(&n->udp, host, port, &fw->peer, err, sizeof err) != CS_NET_OK) {
        fw_reset(fw, FW_RESULT_INVALID_URI);
        return LWM2M_OK;
    }
    if (!fw_storage(fw))
        return LWM2M_ERR_NO_SPACE;
    fw->state = FW_DOWNLOADING;
    fw->result = FW_RESULT_INITIAL;
    fw->pulling = true;
    fw->num = 0;
    if (!pull_next(fw, n))
        fw_reset(fw, FW_RESULT_CONNECTION_LOST);
    printf("client: pulling firmware from %s\n", fw->uri);
    fflush(stdout);
    return LWM2M_OK;
}

lwm2m_err_t fw_write(fw_t *fw, node_t *n, uint16_t res, const lwm2m_value_t *v)
{
    if (res == 1)
        return start_pull(fw, n, v->v.bytes.p, v->v.bytes.n);
    if (res != 0)
        return LWM2M_OK;
    /* a whole package in one message (or an empty one: reset) */
    if (v->v.bytes.n == 0) {
        fw_reset(fw, FW_RESULT_INITIAL);
        return LWM2M_OK;
    }
    coap_block_t whole = {.num = 0, .more = false, .szx = 6};
    if (!fw_storage(fw) || coap_body_add(&fw->body, &whole, v->v.bytes.p, v->v.bytes.n) != COAP_OK) {
        fw_reset(fw, FW_RESULT_NO_STORAGE);
        return LWM2M_ERR_NO_SPACE;
    }
    downloaded(fw, "pushed in one message");
    return LWM2M_OK;
}

uint8_t fw_block_write(fw_t *fw, const coap_msg_t *req, const coap_block_t *b1)
{
    coap_opt_t tag = {.val = (const uint8_t *)"", .len = 0}; /* none: an empty tag */
    (void)coap_msg_find_option(req, COAP_OPT_REQUEST_TAG, &tag);
    if (tag.len > sizeof fw->tag)
        return COAP_BAD_OPTION;
    if (b1->num == 0) { /* a new package: one body per Request-Tag (RFC 9175 §3.3) */
        if (!fw_storage(fw))
            return COAP_INTERNAL_SERVER_ERROR;
        memcpy(fw->tag, tag.val, tag.len);
        fw->tag_len = tag.len;
        fw->state = FW_DOWNLOADING;
        fw->result = FW_RESULT_INITIAL;
        fw->pulling = false;
    } else if (fw->state != FW_DOWNLOADING || fw->pulling || tag.len != fw->tag_len ||
               memcmp(tag.val, fw->tag, tag.len) != 0) {
        return COAP_REQUEST_ENTITY_INCOMPLETE;
    }
    coap_err_t e = coap_body_add(&fw->body, b1, req->payload, req->payload_len);
    if (e == COAP_ERR_BODY_TOO_LARGE) {
        fw_reset(fw, FW_RESULT_NO_STORAGE);
        return COAP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (e != COAP_OK)
        return COAP_REQUEST_ENTITY_INCOMPLETE;
    if (!fw->body.complete)
        return COAP_CONTINUE;
    downloaded(fw, "pushed block-wise");
    return COAP_CHANGED;
}

bool fw_pull_event(fw_t *fw, node_t *n, const coap_ep_event_t *ev)
{
    bool answer = ev->type == COAP_EV_RESPONSE || ev->type == COAP_EV_TIMEOUT || ev->type == COAP_EV_RESET;
    if (!answer || !fw->pulling || ev->token_len != 8 || memcmp(ev->token, fw->token, 8) != 0)
        return false;
    coap_opt_t o;
    coap_block_t b2 = {.num = 0, .more = false, .szx = PULL_BLOCK_SZX};
    bool block = ev->type == COAP_EV_RESPONSE && coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK2, &o);
    if (ev->type != COAP_EV_RESPONSE || ev->msg.code != COAP_CONTENT || (block && !coap_block_decode(&o, &b2))) {
        printf("client: firmware download from %s failed\n", fw->uri);
        fflush(stdout);
        fw_reset(fw, FW_RESULT_CONNECTION_LOST);
        return true;
    }
    coap_err_t e = coap_body_add(&fw->body, &b2, ev->msg.payload, ev->msg.payload_len);
    if (e != COAP_OK) {
        fw_reset(fw, e == COAP_ERR_BODY_TOO_LARGE ? FW_RESULT_NO_STORAGE : FW_RESULT_CONNECTION_LOST);
        return true;
    }
    if (fw->body.complete) {
        downloaded(fw, "pulled block-wise");
        return true;
    }
    fw->num = b2.num + 1;
    if (!pull_next(fw, n))
        fw_reset(fw, FW_RESULT_CONNECTION_LOST);
    return true;
}

lwm2m_err_t fw_execute(fw_t *fw, const cs_crypto_t *crypto)
{
    uint8_t h[32];
    if (fw->state != FW_DOWNLOADED)
        return LWM2M_ERR_BAD_ARG; /* nothing to install */
    fw->state = FW_UPDATING;
    if (crypto->hash(crypto->state, CS_HASH_SHA256, fw->body.buf, fw->body.len, h) != CS_CRYPTO_OK) {
        fw_reset(fw, FW_RESULT_UPDATE_FAILED);
        return LWM2M_OK;
    }
    snprintf(fw->version, sizeof fw->version, "fw-%02x%02x%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3],
             h[4], h[5], h[6], h[7]);
    fw_reset(fw, FW_RESULT_SUCCESS);
    printf("client: firmware updated to %s\n", fw->version);
    fflush(stdout);
    return LWM2M_OK;
}

void fw_free(fw_t *fw)
{
    free(fw->pkg);
    fw->pkg = NULL;
}
