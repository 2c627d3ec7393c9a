/* Shared by coreseal lwm2m client | server | bootstrap: one CoAP endpoint
 * on one UDP socket acting as client and server at once, and the OSCORE
 * steps every LwM2M role takes on it. */
#ifndef CORESEAL_CLI_LWM2M_H
#define CORESEAL_CLI_LWM2M_H

#include "cli.h"
#include "coreseal/coap_ep.h"
#include "coreseal/lwm2m_model.h"
#include "coreseal/net.h"

#define LWM2M_CLI_MSG 1400

typedef struct {
    const char *sub;
    int verbose;
    cli_security_t sec;
    cs_udp_t udp;
    coap_ep_t ep;
    uint8_t *ep_mem;
    uint8_t last[LWM2M_CLI_MSG]; /* the last request built, unprotected */
    size_t last_len;
    bool state_down;             /* the shared OSCORE state (Redis) failed last time */
    cs_time_ms_t state_warned;   /* when that was last said */
} node_t;

int node_open(node_t *n, const char *host, const char *port, bool server);
void node_close(node_t *n);
void node_flush(node_t *n);

/* Sends a request to peer (protected with ctx if given); *bind for the
 * response. n->last keeps its unprotected form for node_repeat_with_echo. */
bool node_request(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, uint8_t code, coap_optlist_t *l,
                  const uint8_t *pl, size_t pl_len, bool observe, uint8_t token[8],
                  oscore_binding_t *bind);
/* The answer was 4.01 with an Echo option (RFC 9175): sends the request
 * kept in `plain` again, with a new token and that Echo value. */
bool node_repeat_with_echo(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx, const uint8_t *plain,
                           size_t plain_len, const coap_msg_t *resp, bool observe,
                           uint8_t token[8], oscore_binding_t *bind);

/* The plain view of a received message: OSCORE_OK, the verification
 * error, or OSCORE_ERR_NOT_PROTECTED for a plain message where ctx is set
 * (and OSCORE_ERR_UNKNOWN_CONTEXT for a protected one where it is not). */
oscore_err_t node_open_msg(node_t *n, oscore_ctx_t *ctx, const coap_ep_event_t *ev, bool request,
                           oscore_binding_t *bind, uint8_t *buf, coap_msg_t *out);
/* A request on ctx, verified into out; false after answering it as RFC
 * 8613 §8.2 says, or with 4.01 + Echo when its freshness is unknown. */
bool node_verify_request(node_t *n, oscore_ctx_t *ctx, const coap_ep_event_t *ev,
                         oscore_binding_t *bind, uint8_t *buf, coap_msg_t *out);

/* A request naming ctx (a B.2 context) by kid under a kid context ctx does
 * not have (oscore_b2_applies): RFC 8613 Appendix B.2 on the server side.
 * A request #1 is answered with response #1 (false); a request #2 makes
 * ctx the new context and is verified into out (true). base: ctx's
 * provisioned parameters. */
bool node_verify_b2_request(node_t *n, oscore_ctx_t *ctx, const oscore_params_t *base,
                            const coap_ep_event_t *ev, oscore_binding_t *bind, uint8_t *buf,
                            coap_msg_t *out);
/* Client side of B.2: the answer on ctx was a response #1 (kid context of
 * the server's): ctx becomes the third context, the request kept in plain
 * goes out again on it. False (with a message) if it does not verify. */
bool node_follow_b2_response(node_t *n, coap_peer_t peer, oscore_ctx_t *ctx,
                             const oscore_params_t *base, const coap_msg_t *resp,
                             const oscore_binding_t *req_bind, const uint8_t *plain,
                             size_t plain_len, bool observe, uint8_t token[8],
                             oscore_binding_t *bind);
/* Answers a request (ev; NULL for a notification, sent separately to peer)
 * with code, options in l and a payload; protected if ctx. */
void node_reply(node_t *n, const coap_ep_event_t *ev, oscore_ctx_t *ctx, const oscore_binding_t *bind,
                uint8_t code, coap_optlist_t *l, const uint8_t *pl, size_t pl_len, bool notification,
                coap_peer_t peer, const uint8_t *token, size_t tkl);

/* A 2.05 notification to peer, confirmable if con (coap_observe_con_due). */
void node_notify(node_t *n, oscore_ctx_t *ctx, const oscore_binding_t *bind, coap_optlist_t *l,
                 const uint8_t *pl, size_t pl_len, bool con, coap_peer_t peer, const uint8_t *token,
                 size_t tkl);
/* A registration's location: the Location-Path segments of the Register
 * answer, '\0'-separated, sent back as Uri-Path one for one (even a
 * server's single "rd/5"). */
typedef struct {
    char segs[32];
    uint8_t len;
} node_location_t;

/* From a Register answer; false without one or when it is too long. */
bool node_location_keep(node_location_t *loc, const coap_msg_t *resp);
void node_location_add(const node_location_t *loc, coap_optlist_t *l);
/* "/rd/5" for messages. */
void node_location_text(const node_location_t *loc, char *out, size_t cap);

/* host and port of a coap:// URI into buffers; false if it is not one. */
bool node_uri_host_port(const char *uri, size_t len, char *host, size_t host_cap, char *port,
                        size_t port_cap);

/* Firmware Update (object 5) of the simulated device (lwm2m_firmware.c):
 * a package pushed into /5/0/0 (block-wise) or pulled from the coap:// URI
 * written into /5/0/1, installed by Execute /5/0/2. */
#define FW_MAX (1u << 20)
enum { FW_IDLE, FW_DOWNLOADING, FW_DOWNLOADED, FW_UPDATING };
enum { /* Update Result, /5/0/5 */
    FW_RESULT_INITIAL = 0,
    FW_RESULT_SUCCESS = 1,
    FW_RESULT_NO_STORAGE = 2,
    FW_RESULT_CONNECTION_LOST = 4,
    FW_RESULT_INVALID_URI = 7,
    FW_RESULT_UPDATE_FAILED = 8,
    FW_RESULT_UNSUPPORTED_PROTOCOL = 9,
};
typedef struct {
    uint8_t state, result;
    char uri[256];
    uint8_t *pkg;         /* FW_MAX bytes, from the first package on */
    coap_body_t body;
    uint8_t tag[8];       /* Request-Tag of a push */
    size_t tag_len;
    char version[40];     /* /3/0/3 */
    bool pulling;         /* a download from uri is under way */
    coap_peer_t peer;
    uint8_t token[8];
    uint32_t num;         /* next Block2 */
} fw_t;

void fw_init(fw_t *fw);
void fw_free(fw_t *fw);
lwm2m_err_t fw_read(const fw_t *fw, uint16_t res, lwm2m_value_t *v);
/* /5/0/0 in one message, or /5/0/1 (starts the pull through n). */
lwm2m_err_t fw_write(fw_t *fw, node_t *n, uint16_t res, const lwm2m_value_t *v);
/* A block of a push into /5/0/0; the code to answer it with (2.31 while
 * more are to come, 2.04 at the end, 4.08 / 4.13 when it does not fit). */
uint8_t fw_block_write(fw_t *fw, const coap_msg_t *req, const coap_block_t *b1);
/* An answer or timeout of the pull, if ev is one (true): the next block
 * goes out, or the package is complete, or the download failed. */
bool fw_pull_event(fw_t *fw, node_t *n, const coap_ep_event_t *ev);
/* Execute /5/0/2: installs a downloaded package. */
lwm2m_err_t fw_execute(fw_t *fw, const cs_crypto_t *crypto);

int lwm2m_client_main(int argc, char **argv);
int lwm2m_server_main(int argc, char **argv);
int lwm2m_bootstrap_main(int argc, char **argv);
int lwm2m_swarm_main(int argc, char **argv);

#endif
