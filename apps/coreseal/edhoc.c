/* coreseal edhoc keygen, and the EDHOC key handling behind --edhoc on
 * `get`, `serve` and the LwM2M roles (RFC 9528: credentials as CCS
 * identified by kid, or X.509 certificates by value or by hash, RFC 9360). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coreseal/crypto_openssl.h"

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

/* A PEM certificate to verify x5chain credentials against. */
static int add_anchor(cli_edhoc_t *e, const char *path, const char *sub)
{
    if (e->n_anchors == CLI_MAX_ANCHORS)
        return cli_fail(sub, CLI_EXIT_USAGE, "at most %d trusted certificates (PEM)", CLI_MAX_ANCHORS);
    int rc = cli_pem_file_to_der(path, false, e->anchor[e->n_anchors], sizeof e->anchor[0],
                                 &e->anchor_len[e->n_anchors], sub);
    if (rc == CLI_EXIT_OK)
        e->n_anchors++;
    return rc;
}

int cli_edhoc_add_peer(cli_edhoc_t *e, const char *path, const char *sub)
{
    char head[4096] = ""; /* a PEM file may begin with text ("Bag Attributes"...) */
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(head, 1, sizeof head - 1, f);
        head[n] = 0;
        fclose(f);
    }
    if (strstr(head, "-----BEGIN CERTIFICATE-----"))
        return add_anchor(e, path, sub);
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

/* A trusted credential file's certificate named by x5t, or sent in an
 * x5chain (verified with that certificate as its own anchor). */
static bool names_certificate(const cs_crypto_t *c, const cs_edhoc_key_t *k, const uint8_t *id_cred, size_t len)
{
    size_t cert_len;
    const uint8_t *cert = cs_edhoc_key_certificate(k, &cert_len);
    if (!cert)
        return false;
    uint8_t pub[CS_EC_MAX_PUB];
    int32_t crv;
    edhoc_cred_t cred;
    const edhoc_anchors_t self = {&cert, &cert_len, 1};
    /* the same key, not just any certificate a trusted one could issue */
    return edhoc_x5t_names(c, id_cred, len, cert, cert_len) ||
           (edhoc_x5chain_credential(c, id_cred, len, &self, &crv, pub, NULL, 0, &cred) == EDHOC_OK &&
            cred.pub_len == k->pub_len && !memcmp(cred.pub, k->pub, cred.pub_len));
}

/* A certificate sent by value that one of the anchors vouches for. */
static const cs_edhoc_key_t *vouched(cli_edhoc_t *e, const cs_crypto_t *c, const uint8_t *id_cred, size_t len)
{
    const uint8_t *der[CLI_MAX_ANCHORS];
    for (int i = 0; i < e->n_anchors; i++)
        der[i] = e->anchor[i];
    const edhoc_anchors_t anchors = {der, e->anchor_len, (size_t)e->n_anchors};
    cs_edhoc_key_t *k = &e->verified;
    edhoc_cred_t cred;
    memset(k, 0, sizeof *k);
    if (!e->n_anchors || len > sizeof k->id_cred ||
        edhoc_x5chain_credential(c, id_cred, len, &anchors, &k->crv, k->pub, k->subject, sizeof k->subject, &cred) !=
            EDHOC_OK)
        return NULL;
    memcpy(k->id_cred, id_cred, len); /* the session's copy goes with it */
    k->id_cred_len = len;
    memcpy(k->cred, cred.cred, cred.cred_len);
    k->cred_len = cred.cred_len;
    k->pub_len = cred.pub_len;
    return k;
}

const cs_edhoc_key_t *cli_edhoc_find_peer(cli_edhoc_t *e, const cs_crypto_t *c, const uint8_t *id_cred, size_t len)
{
    for (int i = 0; i < e->n_peers; i++)
        if (e->peers[i].id_cred_len == len && memcmp(e->peers[i].id_cred, id_cred, len) == 0)
            return &e->peers[i];
    for (int i = 0; i < e->n_peers; i++)
        if (names_certificate(c, &e->peers[i], id_cred, len))
            return &e->peers[i];
    return vouched(e, c, id_cred, len);
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
    /* a peer known only through a CA: a key of the own key's kind */
    bool r_sig = peer ? peer->crv == CS_CRV_ED25519 : i_sig;
    *method = e->method >= 0 ? (edhoc_method_t)e->method
                             : (edhoc_method_t)((i_sig ? 0 : 2) + (r_sig ? 0 : 1));
    *suite = e->suite >= 0 ? (uint8_t)e->suite : e->own.crv == CS_CRV_P256 ? 2 : 0;
}

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: coreseal edhoc keygen --curve CURVE --kid HEX [--subject NAME] --out NAME\n"
               "       coreseal edhoc keygen --curve CURVE --x509 [--ca] [--issuer CA.key]\n"
               "                             [--id-cred x5chain|x5t] [--days N] [--subject NAME] --out NAME\n"
               "\n"
               "Makes an EDHOC authentication key and its credential: NAME.key (keep it\n"
               "private, mode 0600) and NAME.cred (give it to the peers that should trust\n"
               "this key). The credential is a CWT Claims Set with a COSE_Key, identified by\n"
               "kid, or with --x509 an X.509 certificate (RFC 9360), self-signed or issued\n"
               "by the CA key --issuer names, sent by value (x5chain: peers verify it against\n"
               "a CA they trust) or named by its hash (x5t: peers hold NAME.cred); the\n"
               "certificate is also written to NAME.pem, the file peers trust a CA by\n"
               "(--edhoc-trust CA.pem).\n"
               "\n"
               "  --curve CURVE     P-256 (static DH or ES256), X25519 (static DH) or Ed25519 (EdDSA)\n"
               "  --kid HEX         key identifier, 1..8 bytes, e.g. 2b (CCS credentials)\n"
               "  --x509            an X.509 certificate instead of a CCS\n"
               "  --ca              the certificate may issue others (basicConstraints CA)\n"
               "  --issuer CA.key   the key file of the issuing CA (made with --x509 --ca);\n"
               "                    needed for X25519, which cannot sign\n"
               "  --id-cred FORM    x5chain (default) or x5t\n"
               "  --days N          validity (default 365)\n"
               "  --subject NAME    the credential's subject or the certificate's CN (default: NAME)\n"
               "  --out NAME        file name prefix\n"
               "\n"
               "Examples:\n"
               "  coreseal edhoc keygen --curve P-256 --kid 2b --out device\n"
               "  coreseal get --edhoc device.key --edhoc-peer server.cred coap://[::1]/x\n"
               "  coreseal edhoc keygen --curve P-256 --x509 --ca --out ca\n"
               "  coreseal edhoc keygen --curve Ed25519 --x509 --issuer ca.key --subject dev1 --out dev1\n"
               "  coreseal serve --edhoc server.key --edhoc-trust ca.pem\n");
}

/* A fresh key on crv with an X.509 certificate for subject: self-signed,
 * or issued by the CA key file issuer_path; also written to pem_path. */
static int keygen_x509(const cs_crypto_t *c, int32_t crv, const char *subject, bool ca, const char *issuer_path,
                       bool by_value, unsigned days, const char *pem_path, cs_edhoc_key_t *k)
{
    static cs_edhoc_key_t issuer;
    static char pem[4096];
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    const uint8_t *icert = NULL;
    size_t icert_len = 0, n;
    uint8_t der[1024];
    memset(k, 0, sizeof *k);
    k->crv = crv;
    if (issuer_path && cs_edhoc_key_load(issuer_path, &issuer, err, sizeof err) != CS_STORE_OK)
        return cli_fail("edhoc keygen", CLI_EXIT_CONFIG, "%s", err);
    if (issuer_path && (!issuer.priv_len || !(icert = cs_edhoc_key_certificate(&issuer, &icert_len)) ||
                        issuer.crv == CS_CRV_X25519))
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE,
                        "--issuer %s: give the key file of a CA made with --x509 --ca (P-256 or Ed25519)", issuer_path);
    if (!issuer_path && crv == CS_CRV_X25519)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "an X25519 key cannot sign its own certificate: "
                                                        "give the CA that issues it with --issuer CA.key");
    const cs_edhoc_key_t *signer = issuer_path ? &issuer : k;
    int rc = CLI_EXIT_OK;
    if (c->keygen(c->state, crv, k->priv, &k->priv_len, k->pub, &k->pub_len) != CS_CRYPTO_OK ||
        cs_openssl_make_certificate(crv, k->pub, k->pub_len, subject, days, ca, signer->crv, signer->priv,
                                    signer->priv_len, icert, icert_len, der, sizeof der, &n) != CS_CRYPTO_OK ||
        cs_edhoc_key_set_certificate(k, c, der, n, by_value, subject) != CS_STORE_OK)
        rc = cli_fail("edhoc keygen", CLI_EXIT_CONFIG, "cannot make the key and its certificate");
    else if (cs_openssl_certificate_pem(der, n, pem, sizeof pem) != CS_CRYPTO_OK ||
             cs_file_write_atomic(pem_path, pem, strlen(pem)) != CS_STORE_OK)
        rc = cli_fail("edhoc keygen", CLI_EXIT_STORAGE, "cannot write %s", pem_path);
    cs_wipe(&issuer, sizeof issuer);
    return rc;
}

static int keygen(int argc, char **argv)
{
    const char *curve = NULL, *kid_hex = NULL, *subject = NULL, *out = NULL, *issuer = NULL, *form = "x5chain";
    bool x509 = false, ca = false;
    long days = 365;
    static const struct option longopts[] = {{"curve", required_argument, NULL, 'c'},
                                             {"kid", required_argument, NULL, 'k'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"x509", no_argument, NULL, 'x'},
                                             {"ca", no_argument, NULL, 'A'},
                                             {"issuer", required_argument, NULL, 'i'},
                                             {"id-cred", required_argument, NULL, 'I'},
                                             {"days", required_argument, NULL, 'd'},
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
        case 'x': x509 = true; break;
        case 'A': ca = true; break;
        case 'i': issuer = optarg; break;
        case 'I': form = optarg; break;
        case 'd': days = atol(optarg); break;
        case 'h': keygen_usage(stdout); return CLI_EXIT_OK;
        default: keygen_usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!curve || !out || (!kid_hex && !x509)) {
        keygen_usage(stderr);
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--curve, --out and --kid (or --x509) are required");
    }
    if (!x509 && (ca || issuer))
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--ca and --issuer go with --x509");
    if (strcmp(form, "x5chain") != 0 && strcmp(form, "x5t") != 0)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--id-cred must be x5chain or x5t");
    if (days < 1 || days > 36500)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--days expects 1..36500");
    if (strlen(subject ? subject : out) >= sizeof ((cs_edhoc_key_t *)0)->subject)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--subject (or --out) is longer than 63 bytes");
    int32_t crv = strcmp(curve, "P-256") == 0 ? CS_CRV_P256
                  : strcmp(curve, "X25519") == 0 ? CS_CRV_X25519
                  : strcmp(curve, "Ed25519") == 0 ? CS_CRV_ED25519 : 0;
    if (!crv)
        return cli_fail("edhoc keygen", CLI_EXIT_USAGE, "--curve must be P-256, X25519 or Ed25519");
    uint8_t kid[8];
    size_t kl = kid_hex ? strlen(kid_hex) / 2 : 0;
    if (kid_hex && (strlen(kid_hex) % 2 || kl == 0 || kl > sizeof kid))
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
    static cs_edhoc_key_t k;
    char keyp[CS_STORE_PATH_MAX], credp[CS_STORE_PATH_MAX], pemp[CS_STORE_PATH_MAX];
    snprintf(keyp, sizeof keyp, "%s.key", out);
    snprintf(credp, sizeof credp, "%s.cred", out);
    snprintf(pemp, sizeof pemp, "%s.pem", out);
    int rc = CLI_EXIT_OK;
    if (x509)
        rc = keygen_x509(&sec.crypto, crv, subject ? subject : out, ca, issuer, !strcmp(form, "x5chain"),
                         (unsigned)days, pemp, &k);
    else if (cs_edhoc_key_generate(&sec.crypto, crv, kid, kl, subject ? subject : out, &k) != CS_STORE_OK)
        rc = cli_fail("edhoc keygen", CLI_EXIT_CONFIG, "key generation failed");
    if (rc == CLI_EXIT_OK &&
        (cs_edhoc_key_save(&k, keyp, true) != CS_STORE_OK || cs_edhoc_key_save(&k, credp, false) != CS_STORE_OK))
        rc = cli_fail("edhoc keygen", CLI_EXIT_STORAGE, "cannot write %s / %s", keyp, credp);
    else if (rc == CLI_EXIT_OK && x509)
        printf("wrote %s (private), %s (credential, X.509 %s) and %s (the certificate)\n", keyp, credp, form, pemp);
    else if (rc == CLI_EXIT_OK)
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
