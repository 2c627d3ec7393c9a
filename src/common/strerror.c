/* coreseal_strerror / coreseal_errname: one table for the error codes of
 * every module (ranges in common.h). Static strings only: no allocation,
 * safe on a device and in a signal handler. */
#include "coreseal/cbor.h"
#include "coreseal/coap.h"
#include "coreseal/common.h"
#include "coreseal/cose.h"
#include "coreseal/crypto.h"
#include "coreseal/edhoc.h"
#include "coreseal/lwm2m.h"
#include "coreseal/oscore.h"
#include "coreseal/store.h"
#include "coreseal/net_err.h"

typedef struct {
    int code;
    const char *name;
    const char *text;
} err_entry_t;

/* Device builds may drop the sentences (CS_COMPACT_ERRORS: the name is the
 * message), every string (CS_NO_ERROR_STRINGS: the numeric code is the
 * diagnostic, decoded on a host with `coreseal_errname`), and the host
 * layers' entries (CS_CORE_ONLY). */
#ifdef CS_NO_ERROR_STRINGS
const char *coreseal_strerror(int code)
{
    return code == 0 ? "success" : "coreseal error (see the numeric code)";
}

const char *coreseal_errname(int code)
{
    return code == 0 ? "CS_OK" : "CS_ERR";
}
#else
#ifdef CS_COMPACT_ERRORS
#define E(code, text) {code, #code, #code}
#else
#define E(code, text) {code, #code, text}
#endif

static const err_entry_t errors[] = {
    E(CS_OK, "success"),

    E(CBOR_ERR_BAD_ARG, "CBOR: invalid argument (NULL buffer or length)"),
    E(CBOR_ERR_TRUNCATED, "CBOR: input ends in the middle of an item"),
    E(CBOR_ERR_INDEFINITE, "CBOR: indefinite-length item or break byte (not allowed here)"),
    E(CBOR_ERR_NOT_SHORTEST, "CBOR: integer or length not in its shortest form"),
    E(CBOR_ERR_RESERVED, "CBOR: reserved additional information value (28..30)"),
    E(CBOR_ERR_TOO_DEEP, "CBOR: arrays/maps/tags nested too deeply"),
    E(CBOR_ERR_TYPE, "CBOR: item has another type than expected"),
    E(CBOR_ERR_NO_SPACE, "CBOR: output buffer too small"),
    E(CBOR_ERR_OVERFLOW, "CBOR: integer too large for the requested type"),
    E(CBOR_ERR_BAD_SIMPLE, "CBOR: simple value below 32 in two-byte form"),
    E(CBOR_ERR_TRAILING, "CBOR: unexpected bytes after the last item"),
    E(CBOR_ERR_END, "CBOR: no more items"),

    E(COSE_ERR_BAD_ARG, "COSE: invalid argument"),
    E(COSE_ERR_NO_SPACE, "COSE: output buffer too small"),
    E(COSE_ERR_MALFORMED, "COSE: structure is not well-formed"),
    E(COSE_ERR_UNKNOWN_ALG, "COSE: unknown or unsupported algorithm"),
    E(COSE_ERR_MISSING_PARAM, "COSE: a required key parameter is missing"),
    E(COSE_ERR_BAD_KEY_TYPE, "COSE: unsupported key type or curve"),
    E(COSE_ERR_DUPLICATE_LABEL, "COSE: the same label appears twice in a map"),

    E(COAP_ERR_BAD_ARG, "CoAP: invalid argument"),
    E(COAP_ERR_TRUNCATED, "CoAP: message shorter than its header and token"),
    E(COAP_ERR_VERSION, "CoAP: unsupported version (must be 1)"),
    E(COAP_ERR_TOKEN_LEN, "CoAP: token length 9..15 is reserved"),
    E(COAP_ERR_OPTION_RESERVED, "CoAP: option delta or length uses reserved value 15"),
    E(COAP_ERR_OPTION_TRUNCATED, "CoAP: option runs past the end of the message"),
    E(COAP_ERR_EMPTY_PAYLOAD, "CoAP: payload marker followed by an empty payload"),
    E(COAP_ERR_OPTION_NUMBER, "CoAP: option number above 65535"),
    E(COAP_ERR_EMPTY_MESSAGE, "CoAP: Empty message (0.00) with token, options or payload"),
    E(COAP_ERR_NO_SPACE, "CoAP: output buffer too small"),
    E(COAP_ERR_OPTION_ORDER, "CoAP: options must be added in increasing number order"),
    E(COAP_ERR_UNKNOWN_CRITICAL, "CoAP: unrecognized critical option"),
    E(COAP_ERR_FRAME_LENGTH, "CoAP: TCP/WebSocket length field does not match the data"),
    E(COAP_ERR_BAD_STATE, "CoAP: builder used out of order"),
    E(COAP_ERR_BUSY, "CoAP: all exchange slots in use; retry when one completes"),
    E(COAP_ERR_BAD_URI, "CoAP: malformed URI (expected coap://host[:port]/path?query)"),
    E(COAP_ERR_BLOCK_SEQUENCE, "CoAP: block out of sequence (RFC 7959 §2.5)"),
    E(COAP_ERR_BODY_TOO_LARGE, "CoAP: block-wise body larger than allowed"),
    E(COAP_ERR_BLOCK_SIZE, "CoAP: a block before the last one is not of the block size"),

    E(OSCORE_ERR_BAD_ARG, "OSCORE: invalid argument"),
    E(OSCORE_ERR_BAD_STATE, "OSCORE: call out of order"),
    E(OSCORE_ERR_UNSUPPORTED_ALG, "OSCORE: AEAD or HKDF algorithm not supported by the crypto backend"),
    E(OSCORE_ERR_ID_TOO_LONG, "OSCORE: Sender/Recipient ID longer than the nonce allows"),
    E(OSCORE_ERR_CRYPTO, "OSCORE: the crypto backend failed"),
    E(OSCORE_ERR_NO_SPACE, "OSCORE: output buffer too small"),
    E(OSCORE_ERR_BAD_OPTION, "OSCORE: malformed OSCORE option"),
    E(OSCORE_ERR_NOT_PROTECTED, "OSCORE: message has no OSCORE option"),
    E(OSCORE_ERR_MISSING_KID, "OSCORE: request without kid or Partial IV"),
    E(OSCORE_ERR_UNKNOWN_CONTEXT, "OSCORE: no security context for this kid / kid context"),
    E(OSCORE_ERR_REPLAY, "OSCORE: replayed or old message"),
    E(OSCORE_ERR_DECRYPT, "OSCORE: decryption failed (wrong key or tampered message)"),
    E(OSCORE_ERR_MALFORMED_PLAINTEXT, "OSCORE: decrypted content is not a valid CoAP message"),
    E(OSCORE_ERR_SSN_EXHAUSTED, "OSCORE: sender sequence numbers exhausted; derive a new context"),
    E(OSCORE_ERR_STORAGE, "OSCORE: could not persist the sequence number bound"),
    E(OSCORE_ERR_ECHO_REQUIRED, "OSCORE: freshness unknown after restart; Echo challenge needed"),
    E(OSCORE_ERR_FORBIDDEN_OPTION, "OSCORE: option cannot be protected as given"),
    E(OSCORE_ERR_ID_CONTEXT_TOO_LONG, "OSCORE: the re-derived ID Context would exceed 32 bytes (B.2)"),

    E(EDHOC_ERR_BAD_ARG, "EDHOC: invalid argument"),
    E(EDHOC_ERR_BAD_STATE, "EDHOC: call out of order or after a failure"),
    E(EDHOC_ERR_MALFORMED, "EDHOC: message is not well-formed"),
    E(EDHOC_ERR_UNSUPPORTED_METHOD, "EDHOC: authentication method not accepted"),
    E(EDHOC_ERR_WRONG_SUITE, "EDHOC: selected cipher suite not supported"),
    E(EDHOC_ERR_UNSUPPORTED_SUITE, "EDHOC: cipher suite needs algorithms the crypto backend lacks"),
    E(EDHOC_ERR_UNKNOWN_CREDENTIAL, "EDHOC: unknown or unauthorized credential"),
    E(EDHOC_ERR_AUTH, "EDHOC: MAC or signature verification failed"),
    E(EDHOC_ERR_DECRYPT, "EDHOC: message decryption failed"),
    E(EDHOC_ERR_CRYPTO, "EDHOC: the crypto backend failed"),
    E(EDHOC_ERR_NO_SPACE, "EDHOC: buffer too small"),
    E(EDHOC_ERR_CRITICAL_EAD, "EDHOC: critical EAD item not understood"),
    E(EDHOC_ERR_BAD_KEY, "EDHOC: peer public key rejected"),
    E(EDHOC_ERR_PEER_UNSPECIFIED, "EDHOC: peer reported an error (code 1)"),
    E(EDHOC_ERR_PEER_WRONG_SUITE, "EDHOC: peer rejected the cipher suite (code 2); retry with its suites"),
    E(EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL, "EDHOC: peer does not know our credential (code 3)"),

    E(LWM2M_ERR_BAD_ARG, "LwM2M: invalid argument"),
    E(LWM2M_ERR_BAD_PATH, "LwM2M: path is not /object[/instance[/resource[/instance]]]"),
    E(LWM2M_ERR_MALFORMED, "LwM2M: payload does not match its content format"),
    E(LWM2M_ERR_NO_SPACE, "LwM2M: output buffer too small"),
    E(LWM2M_ERR_TYPE, "LwM2M: value cannot be read as the resource's type"),
    E(LWM2M_ERR_END, "LwM2M: no more entries"),
    E(LWM2M_ERR_TOO_DEEP, "LwM2M: TLV nested deeper than instance/resource/instance"),
    E(LWM2M_ERR_UNSUPPORTED, "LwM2M: content format not supported"),
    E(LWM2M_ERR_FULL, "LwM2M: registry full; give the server more client records"),
    E(LWM2M_ERR_EXISTS, "LwM2M: an OSCORE context with this Recipient ID and ID Context is already provisioned"),
    E(LWM2M_ERR_ENDPOINT_TAKEN, "LwM2M: endpoint name belongs to another OSCORE client"),
    E(LWM2M_ERR_ENDPOINT_MISMATCH, "LwM2M: endpoint name does not match the client's OSCORE Sender ID"),
    E(LWM2M_ERR_TOO_LARGE, "LwM2M: endpoint name or object list longer than the registry keeps"),
    E(LWM2M_ERR_ACCESS, "LwM2M: Access Control gives this server no right to do that"),

#ifndef CS_CORE_ONLY
    E(CS_STORE_ERR_BAD_ARG, "store: invalid argument"),
    E(CS_STORE_ERR_IO, "store: file could not be read, written or synced"),
    E(CS_STORE_ERR_SYNTAX, "store: file is not valid JSON or name,type,value lines"),
    E(CS_STORE_ERR_MISSING, "store: a required entry is missing"),
    E(CS_STORE_ERR_VALUE, "store: an entry has a wrong type, length or value"),

    E(CS_NET_ERR_BAD_ARG, "network: invalid argument"),
    E(CS_NET_ERR_RESOLVE, "network: host or port could not be resolved"),
    E(CS_NET_ERR_SOCKET, "network: socket could not be opened or bound"),
    E(CS_NET_ERR_IO, "network: send or receive failed"),
    E(CS_NET_ERR_NO_MEMORY, "network: out of memory for the peer table"),
    E(CS_NET_ERR_CLOSED, "network: the TCP connection or DTLS session with this peer is closed"),
    E(CS_NET_ERR_TOO_LARGE, "network: message larger than the peer accepts (Max-Message-Size)"),
#endif

    E(CS_CRYPTO_ERR_BAD_ARG, "crypto: invalid argument"),
    E(CS_CRYPTO_ERR_UNSUPPORTED, "crypto: algorithm not available in this backend"),
    E(CS_CRYPTO_ERR_AUTH, "crypto: authentication failed (tag or signature mismatch)"),
    E(CS_CRYPTO_ERR_BAD_KEY, "crypto: invalid key or public point"),
    E(CS_CRYPTO_ERR_NO_SPACE, "crypto: output buffer too small"),
    E(CS_CRYPTO_ERR_BACKEND, "crypto: the backend library failed"),
    E(CS_CRYPTO_ERR_RANDOM, "crypto: random number generator failed"),
};

static const err_entry_t *find(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

const char *coreseal_strerror(int code)
{
    const err_entry_t *e = find(code);
    return e ? e->text : "unknown error code";
}

const char *coreseal_errname(int code)
{
    const err_entry_t *e = find(code);
    return e ? e->name : "CS_ERR_UNKNOWN";
}
#endif /* CS_NO_ERROR_STRINGS */
