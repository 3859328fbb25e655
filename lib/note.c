/*
 * note.c - Ed25519 keys and signed checkpoints in the C2SP formats, so that
 * existing verifiers of those formats can read airi's checkpoints:
 *
 *  - signed-note: the note text (ending in a newline), a blank line, then
 *    signature lines "\u2014 <key name> <base64(key ID || signature)>". The
 *    key ID is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public
 *    key), 0x01 being the Ed25519 signature type.
 *  - tlog-checkpoint: the note text is the origin line, the tree size in
 *    decimal, the base64 root hash, then optional extension lines.
 *  - key texts as in Go's sumdb/note: "<name>+<hex ID>+<base64(0x01 ||
 *    public key)>" and "PRIVATE+KEY+<name>+<hex ID>+<base64(0x01 || seed)>".
 */
#define _GNU_SOURCE
#include "internal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define EM_DASH "\xE2\x80\x94"

struct airi_key {
	char name[256];
	uint32_t id;
	unsigned char pub[32];
	unsigned char seed[32];
	int has_seed;
};

void airi_key_free(airi_key *k)
{
	if (k) {
		OPENSSL_cleanse(k, sizeof(*k));
		free(k);
	}
}

const char *airi_key_name(const airi_key *k)
{
	return k ? k->name : NULL;
}

int airi_key_can_sign(const airi_key *k)
{
	return k && k->has_seed;
}

static int valid_name(const char *s, size_t n)
{
	if (n == 0 || n >= 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+' || c <= 0x20 || c == 0x7F)
			return 0;
	}
	return 1;
}

static uint32_t key_id(const char *name, const unsigned char pub[32])
{
	unsigned char buf[256 + 2 + 32];
	size_t n = strlen(name);
	airi_digest d;
	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = 0x01;
	memcpy(buf + n + 2, pub, 32);
	airi_digest_bytes(buf, n + 34, &d);
	return (uint32_t)d.bytes[0] << 24 | (uint32_t)d.bytes[1] << 16 |
	       (uint32_t)d.bytes[2] << 8 | d.bytes[3];
}

static int pub_from_seed(const unsigned char seed[32], unsigned char pub[32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						    seed, 32);
	size_t n = 32;
	int ok = pk && EVP_PKEY_get_raw_public_key(pk, pub, &n) == 1 &&
		 n == 32;
	EVP_PKEY_free(pk);
	return ok ? 0 : AIRI_EKEY;
}

static char *key_text(const airi_key *k, int private_form)
{
	unsigned char raw[33];
	raw[0] = 0x01;
	memcpy(raw + 1, private_form ? k->seed : k->pub, 32);
	char *b = airi__b64_encode(raw, 33);
	char *out = NULL;
	OPENSSL_cleanse(raw, sizeof(raw));
	if (!b)
		return NULL;
	if (asprintf(&out, "%s%s+%08x+%s", private_form ? "PRIVATE+KEY+" : "",
		     k->name, (unsigned)k->id, b) < 0)
		out = NULL;
	OPENSSL_cleanse(b, strlen(b));
	free(b);
	return out;
}

int airi_key_generate(const char *name, char **signer, char **verifier,
		      airi_error *err)
{
	airi_key k;
	memset(&k, 0, sizeof(k));
	if (!name || !valid_name(name, strlen(name)))
		return airi__err(err, AIRI_EINVAL,
				 "invalid key name \"%s\" (non-empty, no spaces "
				 "or '+')",
				 name ? name : "");
	snprintf(k.name, sizeof(k.name), "%s", name);
	if (RAND_bytes(k.seed, 32) != 1 || pub_from_seed(k.seed, k.pub))
		return airi__err(err, AIRI_EKEY, "cannot generate a key");
	k.has_seed = 1;
	k.id = key_id(k.name, k.pub);
	*signer = key_text(&k, 1);
	*verifier = key_text(&k, 0);
	OPENSSL_cleanse(&k, sizeof(k));
	if (!*signer || !*verifier) {
		free(*signer);
		free(*verifier);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	return 0;
}

int airi_key_parse(const char *text, airi_key **out, airi_error *err)
{
	char buf[1024];
	size_t n;
	int private_form = 0;
	if (!text)
		return airi__err(err, AIRI_EKEY, "no key");
	n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
		     text[n - 1] == ' '))
		n--;
	if (n >= sizeof(buf))
		return airi__err(err, AIRI_EKEY, "key text too long");
	memcpy(buf, text, n);
	buf[n] = 0;
	char *p = buf;
	if (!strncmp(p, "PRIVATE+KEY+", 12)) {
		private_form = 1;
		p += 12;
	}
	char *plus1 = strchr(p, '+');
	char *plus2 = plus1 ? strchr(plus1 + 1, '+') : NULL;
	if (!plus1 || !plus2)
		return airi__err(err, AIRI_EKEY,
				 "malformed key (expected NAME+ID+KEYDATA)");
	*plus1 = 0;
	*plus2 = 0;
	airi_key *k = calloc(1, sizeof(*k));
	if (!k)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	unsigned char raw[64];
	size_t rn;
	char *end;
	int hexok = strlen(plus1 + 1) == 8;
	for (int i = 0; hexok && i < 8; i++)
		hexok = (plus1[1 + i] >= '0' && plus1[1 + i] <= '9') ||
			(plus1[1 + i] >= 'a' && plus1[1 + i] <= 'f');
	unsigned long id = strtoul(plus1 + 1, &end, 16);
	if (!valid_name(p, strlen(p)) || !hexok || *end ||
	    airi__b64_decode(plus2 + 1, strlen(plus2 + 1), raw, sizeof(raw),
			     &rn) ||
	    rn != 33 || raw[0] != 0x01) {
		airi_key_free(k);
		OPENSSL_cleanse(buf, sizeof(buf));
		return airi__err(err, AIRI_EKEY,
				 "malformed or unsupported key (expected an "
				 "Ed25519 key in signed-note form)");
	}
	snprintf(k->name, sizeof(k->name), "%s", p);
	if (private_form) {
		memcpy(k->seed, raw + 1, 32);
		k->has_seed = 1;
		if (pub_from_seed(k->seed, k->pub)) {
			airi_key_free(k);
			return airi__err(err, AIRI_EKEY, "invalid private key");
		}
	} else {
		memcpy(k->pub, raw + 1, 32);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(buf, sizeof(buf));
	k->id = key_id(k->name, k->pub);
	if (k->id != (uint32_t)id) {
		uint32_t want = k->id;
		airi_key_free(k);
		return airi__err(err, AIRI_EKEY,
				 "key ID %08lx does not match the key (expected "
				 "%08x)",
				 id, (unsigned)want);
	}
	*out = k;
	return 0;
}

int airi_key_verifier(const airi_key *k, char **out)
{
	char *s = key_text(k, 0);
	if (!s)
		return AIRI_ENOMEM;
	*out = s;
	return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

int airi_checkpoint_sign(const airi_key *signer, const airi_checkpoint *cp,
			 char **note)
{
	char *root = airi__b64_encode(cp->root, AIRI_HASH_SIZE);
	char *text = NULL, *out = NULL;
	unsigned char sig[4 + 64];
	size_t sl = 64;
	int rc = AIRI_EKEY;
	if (!signer || !signer->has_seed || !root) {
		free(root);
		return AIRI_EKEY;
	}
	if (asprintf(&text, "%s\n%llu\n%s\n", cp->origin,
		     (unsigned long long)cp->size, root) < 0) {
		free(root);
		return AIRI_ENOMEM;
	}
	free(root);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						    signer->seed, 32);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	sig[0] = (unsigned char)(signer->id >> 24);
	sig[1] = (unsigned char)(signer->id >> 16);
	sig[2] = (unsigned char)(signer->id >> 8);
	sig[3] = (unsigned char)signer->id;
	if (pk && c && EVP_DigestSignInit(c, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestSign(c, sig + 4, &sl, (unsigned char *)text,
			   strlen(text)) == 1 &&
	    sl == 64) {
		char *b = airi__b64_encode(sig, sizeof(sig));
		if (b && asprintf(&out, "%s\n" EM_DASH " %s %s\n", text,
				  signer->name, b) >= 0)
			rc = 0;
		else
			rc = AIRI_ENOMEM;
		free(b);
	}
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pk);
	free(text);
	if (rc == 0)
		*note = out;
	return rc;
}

static int ed25519_verify(const unsigned char pub[32], const char *msg,
			  size_t n, const unsigned char sig[64])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   pub, 32);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = pk && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
		 EVP_DigestVerify(c, sig, 64, (const unsigned char *)msg, n) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pk);
	return ok;
}

/* Parses the checkpoint text of a signed note without checking any
 * signature; *text_len is the length of the signed text. */
int airi__checkpoint_parse(const char *note, size_t len, airi_checkpoint *out,
			   size_t *text_len, airi_error *err)
{
	const char *split = NULL;
	airi_checkpoint cp;
	memset(&cp, 0, sizeof(cp));
	if (!note || len < 4 || len > 65536 || memchr(note, 0, len))
		return airi__verr(err, "E-checkpoint",
				  "the checkpoint is empty or not text");
	/* the signatures follow the last blank line */
	for (size_t i = len - 1; i > 0; i--)
		if (note[i - 1] == '\n' && note[i] == '\n') {
			split = note + i;
			break;
		}
	if (!split || note[len - 1] != '\n')
		return airi__verr(err, "E-checkpoint",
				  "not a signed note (no blank line before "
				  "the signatures, or no final newline)");
	size_t tlen = (size_t)(split - note); /* text incl. its last \n */
	/* text: origin, size, root, extensions */
	const char *p = note, *end = note + tlen;
	const char *l1 = memchr(p, '\n', (size_t)(end - p));
	if (!l1 || l1 == p || (size_t)(l1 - p) >= sizeof(cp.origin))
		return airi__verr(err, "E-checkpoint", "bad origin line");
	memcpy(cp.origin, p, (size_t)(l1 - p));
	const char *l2 = memchr(l1 + 1, '\n', (size_t)(end - l1 - 1));
	if (!l2 || l2 == l1 + 1 || l2 - l1 - 1 > 20 ||
	    (l1[1] == '0' && l2 - l1 - 1 > 1))
		return airi__verr(err, "E-checkpoint", "bad tree size line");
	for (const char *q = l1 + 1; q < l2; q++) {
		if (*q < '0' || *q > '9')
			return airi__verr(err, "E-checkpoint",
					  "bad tree size line");
		uint64_t prev = cp.size;
		cp.size = cp.size * 10 + (uint64_t)(*q - '0');
		if (cp.size / 10 != prev)
			return airi__verr(err, "E-checkpoint",
					  "tree size overflows");
	}
	const char *l3 = memchr(l2 + 1, '\n', (size_t)(end - l2 - 1));
	size_t rn;
	if (!l3 || airi__b64_decode(l2 + 1, (size_t)(l3 - l2 - 1), cp.root,
				    sizeof(cp.root), &rn) ||
	    rn != AIRI_HASH_SIZE)
		return airi__verr(err, "E-checkpoint", "bad root hash line");
	*out = cp;
	*text_len = tlen;
	return 0;
}

int airi_checkpoint_verify(const char *note, size_t len,
			   const airi_key *verifier, airi_checkpoint *out,
			   airi_error *err)
{
	airi_checkpoint cp;
	size_t tlen;
	int rc = airi__checkpoint_parse(note, len, &cp, &tlen, err);
	if (rc)
		return rc;
	const char *split = note + tlen;
	/* signature lines */
	const char *s = split + 1, *send = note + len;
	int found = 0;
	if (s >= send)
		return airi__verr(err, "E-checkpoint",
				  "a signed note needs at least one signature "
				  "line");
	while (s < send) {
		const char *nl = memchr(s, '\n', (size_t)(send - s));
		if (!nl || (size_t)(nl - s) < 5 || memcmp(s, EM_DASH " ", 4))
			return airi__verr(err, "E-checkpoint",
					  "malformed signature line");
		const char *name = s + 4;
		const char *sp = memchr(name, ' ', (size_t)(nl - name));
		if (!sp)
			return airi__verr(err, "E-checkpoint",
					  "malformed signature line");
		unsigned char sig[4 + 64 + 8];
		size_t sn;
		if (airi__b64_decode(sp + 1, (size_t)(nl - sp - 1), sig,
				     sizeof(sig), &sn) ||
		    sn < 5)
			return airi__verr(err, "E-checkpoint",
					  "malformed signature");
		uint32_t id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
			      (uint32_t)sig[2] << 8 | sig[3];
		if (verifier && (size_t)(sp - name) == strlen(verifier->name) &&
		    !memcmp(name, verifier->name, (size_t)(sp - name)) &&
		    id == verifier->id) {
			found = 1;
			if (sn != 68 || !ed25519_verify(verifier->pub, note, tlen,
							sig + 4))
				return airi__verr(err, "E-sig",
						  "the checkpoint's signature "
						  "by %s does not verify",
						  verifier->name);
		}
		s = nl + 1;
	}
	if (!verifier)
		return airi__verr(err, "E-key", "no verifier key given");
	if (!found)
		return airi__verr(err, "E-key",
				  "the checkpoint carries no signature by key "
				  "%s+%08x",
				  verifier->name, (unsigned)verifier->id);
	if (out)
		*out = cp;
	return 0;
}
