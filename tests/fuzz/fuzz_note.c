/*
 * fuzz_note.c - libFuzzer target for the signed-note parsers (lib/note.c):
 * key texts (airi_key_parse) and signed checkpoints
 * (airi_checkpoint_verify), through the public API only.
 *
 * For every input it checks:
 *  - as a key text: a parsed key has a valid name, its verifier text
 *    parses back to the same name and verifier text, and a key that can
 *    sign produces a checkpoint that it and its verifier form accept;
 *  - as a checkpoint: it verifies under the fixed test key (fuzz_keys.h)
 *    only if its signed text is exactly the one that key signed, with that
 *    origin, size and root; it never verifies without a key; the signer and
 *    verifier forms of the key agree; a failure has a reason code.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "airi.h"
#include "fuzz_keys.h"
#include "fuzz_ref.h"

#include <stddef.h>
#include <stdint.h>

static airi_key *signer, *verifier;
static airi_checkpoint known;

static void init(void)
{
	size_t tl;
	REQUIRE(airi_key_parse(fuzz_signer_key, &signer, NULL) == 0);
	REQUIRE(airi_key_parse(fuzz_verifier_key, &verifier, NULL) == 0);
	REQUIRE(airi_checkpoint_verify(fuzz_checkpoint,
				       sizeof(fuzz_checkpoint) - 1, verifier,
				       &known, NULL) == 0);
	tl = strlen(fuzz_checkpoint_text);
	REQUIRE(!memcmp(fuzz_checkpoint, fuzz_checkpoint_text, tl));
}

static void check_key(const uint8_t *data, size_t size)
{
	char *text, *v1 = NULL, *v2 = NULL, *note = NULL;
	airi_key *k = NULL, *k2 = NULL;
	airi_error err;
	if (size > 4096)
		return;
	text = strndup((const char *)data, size); /* stops at a NUL */
	REQUIRE(text != NULL);
	int rc = airi_key_parse(text, &k, &err);
	if (rc) {
		REQUIRE(k == NULL && err.code == rc && err.message[0]);
		free(text);
		return;
	}
	const char *name = airi_key_name(k);
	REQUIRE(name && name[0] && strlen(name) < 256);
	for (const char *p = name; *p; p++)
		REQUIRE(*p != '+' && (unsigned char)*p > 0x20 && *p != 0x7F);
	REQUIRE(airi_key_verifier(k, &v1) == 0);
	REQUIRE(airi_key_parse(v1, &k2, &err) == 0);
	REQUIRE(!strcmp(airi_key_name(k2), name));
	REQUIRE(!airi_key_can_sign(k2));
	REQUIRE(airi_key_verifier(k2, &v2) == 0);
	REQUIRE(!strcmp(v1, v2));
	if (airi_key_can_sign(k)) {
		airi_checkpoint cp, got;
		memset(&cp, 0, sizeof(cp));
		strcpy(cp.origin, "fuzz.example/origin");
		cp.size = 12345;
		memset(cp.root, 0xAB, sizeof(cp.root));
		REQUIRE(airi_checkpoint_sign(k, &cp, &note) == 0);
		REQUIRE(airi_checkpoint_verify(note, strlen(note), k, &got,
					       &err) == 0);
		REQUIRE(airi_checkpoint_verify(note, strlen(note), k2, &got,
					       &err) == 0);
		REQUIRE(!strcmp(got.origin, cp.origin) && got.size == cp.size &&
			!memcmp(got.root, cp.root, sizeof(cp.root)));
		/* and not under the fixed key, unless this is that key */
		if (strcmp(v1, fuzz_verifier_key))
			REQUIRE(airi_checkpoint_verify(note, strlen(note),
						       verifier, NULL,
						       NULL) != 0);
	}
	free(note);
	free(v1);
	free(v2);
	airi_key_free(k);
	airi_key_free(k2);
	free(text);
}

static void check_checkpoint(const uint8_t *data, size_t size)
{
	const char *note = (const char *)data;
	airi_checkpoint cp, cp2;
	airi_error err;
	memset(&err, 0, sizeof(err));
	int rc = airi_checkpoint_verify(note, size, verifier, &cp, &err);
	int rc2 = airi_checkpoint_verify(note, size, signer, &cp2, NULL);
	REQUIRE((rc == 0) == (rc2 == 0));
	REQUIRE(airi_checkpoint_verify(note, size, NULL, NULL, NULL) != 0);
	if (rc) {
		REQUIRE(err.code == rc && err.message[0]);
		REQUIRE(rc != AIRI_EVERIFY || err.reason[0]);
		return;
	}
	size_t tl = strlen(fuzz_checkpoint_text);
	if (size < tl || memcmp(note, fuzz_checkpoint_text, tl)) {
		fprintf(stderr, "a checkpoint the test key never signed "
				"verified\n");
		abort();
	}
	REQUIRE(!strcmp(cp.origin, known.origin) && cp.size == known.size &&
		!memcmp(cp.root, known.root, sizeof(cp.root)));
	REQUIRE(!memcmp(&cp, &cp2, sizeof(cp)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!verifier)
		init();
	check_key(data, size);
	check_checkpoint(data, size);
	return 0;
}
