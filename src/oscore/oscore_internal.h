/* Shared between the OSCORE context (context.c) and message protection
 * (protect.c); not part of the public API. */
#ifndef CORESEAL_OSCORE_INTERNAL_H
#define CORESEAL_OSCORE_INTERNAL_H

#include "coreseal/oscore.h"

/* §5.2: nonce from the Partial IV's generator ID and the Partial IV. */
void oscore_make_nonce(const oscore_ctx_t *ctx, const uint8_t *id, size_t id_len,
                       const uint8_t *piv, size_t piv_len, uint8_t *nonce);
/* Shortest big-endian form; 0 is one byte 0x00 (§6.1). */
size_t oscore_piv_encode(uint64_t ssn, uint8_t piv[OSCORE_MAX_PIV_LEN]);
uint64_t oscore_piv_value(const uint8_t *piv, size_t len);
/* The next SSN, persisting a new bound first when needed (B.1.1). */
oscore_err_t oscore_next_ssn(oscore_ctx_t *ctx, uint64_t *ssn);
/* Option value of §6.1 into out (1 + 5 + 1 + 32 + 7 bytes at most);
 * returns its length, 0 when no flag is set. */
size_t oscore_option_encode(uint8_t *out, const uint8_t *piv, size_t piv_len, const uint8_t *kid,
                            size_t kid_len, bool with_kid, const uint8_t *kid_ctx,
                            size_t kid_ctx_len, bool with_kid_ctx);
bool oscore_replay_check(const oscore_replay_t *w, uint64_t piv);
void oscore_replay_update(oscore_replay_t *w, uint64_t piv);
/* oscore_protect_response whose OSCORE option also carries kid_ctx
 * (NULL: none), as response #1 of Appendix B.2 does. */
oscore_err_t oscore_protect_response_kid_context(oscore_ctx_t *ctx,
                                                 const oscore_binding_t *binding,
                                                 const coap_msg_t *resp, bool own_piv,
                                                 const uint8_t *kid_ctx, size_t kid_ctx_len,
                                                 uint8_t *out, size_t cap, size_t *out_len);
/* After an Echo-verified request: piv and everything below count as seen. */
void oscore_replay_restart(oscore_replay_t *w, uint64_t piv);

#endif
