/* coreseal edhoc keygen, and the EDHOC key handling behind --edhoc on
 * `get` and `serve` (RFC 9528, credentials as CCS identified by kid). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_edhoc_load_own(cli_edhoc_t *e, const char *path, const char *sub)
{
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    if (cs_edhoc_key_load(path, &e->own, err, sizeof err) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s; make one with 'coreseal edhoc keygen'", err);
    if (e->own.priv_len == 0)
        return cli_fail(sub, CLI_EXIT_CONFIG,
                        "%s is a credential file without a private key; --edhoc needs the key file",
                        path);
    e->enabled = true;
    return CLI_EXIT_OK;
}

int cli_edhoc_add_peer(cli_edhoc_t *e, const char *path, const char *sub)
{
    if (e->n_peers == CLI_MAX_PEERS)
        return cli_fail(sub, CLI_EXIT_USAGE, "at most %d trusted EDHOC credentials", CLI_MAX_PEERS);
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    if (cs_edhoc_key_load(path, &e->peers[e->n_peers], err, sizeof err) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s", err);
    cs_wipe(e->peers[e->n_peers].priv, sizeof e->peers[e->n_peers].priv);
    e->peers[e->n_peers].priv_len = 0; /* a peer's private key is never needed */
    e->n_peers++;
    return CLI_EXIT_OK;
}

const cs_edhoc_key_t *cli_edhoc_find_peer(const cli_edhoc_t *e, const uint8_t *id_cred, size_t len)
{
    for (int i = 0; i < e->n_peers; i++)
        if (e->peers[i].id_cred_len == len && memcmp(e->peers[i].id_cred, id_cred, len) == 0)
            return &e->peers[i];
    return NULL;
}

edhoc_cred_t cli_edhoc_cred(const cs_edhoc_key_t *k)
{
    return (edhoc_cred_t){k->id_cred, k->id_cred_len, k->cred, k->cred_len, k->pub, k->pub_len};
}

/* Ed25519 keys sign; X25519 keys do static DH; P-256 keys do static DH
 * unless --edhoc-method asks for ES256 signatures. */
void cli_edhoc_choose(const cli_edhoc_t *e, const cs_edhoc_key_t *peer, edhoc_method_t *method,
                      uint8_t *suite)
{
    bool i_sig = e->own.crv == CS_CRV_ED25519;
    bool r_sig = peer && peer->crv == CS_CRV_ED25519;
    *method = e->method >= 0 ? (edhoc_method_t)e->method
                             : (edhoc_method_t)((i_sig ? 0 : 2) + (r_sig ? 0 : 1));
    *suite = e->suite >= 0 ? (uint8_t)e->suite : e->own.crv == CS_CRV_P256 ? 2 : 0;
}

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: coreseal edhoc keygen --curve CURVE --kid HEX [--subject NAME] --out NAME\n"
               "\n"
               "Makes an EDHOC authentication key and its credential (a CWT Claims Set with\n"
               "a COSE_Key, identified by kid): NAME.key (keep it private, mode 0600) and\n"
               "NAME.cred (give it to the peers that should trust this key).\n"
               "\n"
               "  --curve CURVE   P-256 (static DH or ES256), X25519 (static DH) or Ed25519 (EdDSA)\n"
               "  --kid HEX       key identifier, 1..8 bytes, e.g. 2b\n"
               "  --subject NAME  the credential's subject (default: NAME)\n"
               "  --out NAME      file name prefix\n"
               "\n"
               "Example:\n"
               "  coreseal edhoc keygen --curve P-256 --kid 2b --out device\n"
               "  coreseal get --edhoc device.key --edhoc-peer server.cred coap://[::1]/x\n");
}

static int keygen(int argc, char **argv)
{
    const char *curve = NULL, *kid_hex = NULL, *subject = NULL, *out = NULL;
    static const struct option longopts[] = {{"curve", required_argument, NULL, 'c'},
                                             {"kid", required_argument, NULL, 'k'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:k:s:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': curve = optarg; break;
        case 'k': kid_hex = optarg; break;
        case 's': subject = optarg; break;
        case 'o': out = optarg; break;
        case 'h': keygen_usage(stdout); return CLI_EXIT_OK;
        default: keygen_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!curve || !kid_hex || !out) {
        keygen_usage(stderr);
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--curve, --kid and --out are required");
    }
    int32_t crv = strcmp(curve, "P-256") == 0 ? CS_CRV_P256
                  : strcmp(curve, "X25519") == 0 ? CS_CRV_X25519
                  : strcmp(curve, "Ed25519") == 0 ? CS_CRV_ED25519 : 0;
    if (!crv)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--curve must be P-256, X25519 or Ed25519");
    uint8_t kid[8];
    size_t kl = strlen(kid_hex) / 2;
    if (strlen(kid_hex) % 2 || kl == 0 || kl > sizeof kid)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--kid must be 1..8 bytes of hex");
    for (size_t i = 0; i < kl; i++) {
        unsigned b;
        if (sscanf(kid_hex + 2 * i, "%2x", &b) != 1)
            return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--kid must be hex");
        kid[i] = (uint8_t)b;
    }
    cli_security_t sec;
    if (cli_security_init(&sec, "edhoc keygen") != CLI_EXIT_OK)
        return CLI_EXIT_CONFIG;
    cs_edhoc_key_t k;
    char keyp[CS_STORE_PATH_MAX], credp[CS_STORE_PATH_MAX];
    snprintf(keyp, sizeof keyp, "%s.key", out);
    snprintf(credp, sizeof credp, "%s.cred", out);
    int rc = CLI_EXIT_OK;
    if (cs_edhoc_key_generate(&sec.crypto, crv, kid, kl, subject ? subject : out, &k) != CS_STORE_OK)
        rc = cli_fail("edhoc keygen", CLI_EXIT_CONFIG, "key generation failed");
    else if (cs_edhoc_key_save(&k, keyp, true) != CS_STORE_OK ||
             cs_edhoc_key_save(&k, credp, false) != CS_STORE_OK)
        rc = cli_fail("edhoc keygen", CLI_EXIT_STORAGE, "cannot write %s / %s", keyp, credp);
    else
        printf("wrote %s (private) and %s (credential, kid %s)\n", keyp, credp, kid_hex);
    cs_wipe(&k, sizeof k);
    cli_security_close(&sec);
    return rc;
}

int cmd_edhoc(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 1, argv + 1);
    fprintf(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
            "usage: coreseal edhoc keygen [options]   (see 'coreseal edhoc keygen --help')\n"
            "EDHOC handshakes run from 'coreseal get --edhoc' and 'coreseal serve --edhoc'.\n");
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
