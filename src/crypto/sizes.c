/* Algorithm sizes shared by every backend and by the protocol core
 * (RFC 9053 §2, RFC 8032, RFC 7748, SEC1). */
#include "coreseal/crypto.h"

size_t cs_hash_len(int32_t hash_alg)
{
    switch (hash_alg) {
    case CS_HASH_SHA256: return 32;
    case CS_HASH_SHA384: return 48;
    default: return 0;
    }
}

size_t cs_crv_priv_len(int32_t crv)
{
    switch (crv) {
    case CS_CRV_P256:
    case CS_CRV_X25519:
    case CS_CRV_ED25519: return 32;
    case CS_CRV_P384: return 48;
    default: return 0;
    }
}

int32_t cs_sig_curve(int32_t sig_alg)
{
    switch (sig_alg) {
    case CS_SIG_EDDSA: return CS_CRV_ED25519;
    case CS_SIG_ES256: return CS_CRV_P256;
    case CS_SIG_ES384: return CS_CRV_P384;
    default: return 0;
    }
}

size_t cs_sig_len(int32_t sig_alg)
{
    return 2 * cs_crv_priv_len(cs_sig_curve(sig_alg));
}
