/*
 * fuzz_corpus.c - libFuzzer target for the cohort filter parser
 * (lib/filter.c) and the corpus state (lib/corpus.c).
 *
 * The input is split at newlines. As a filter, the whole input must parse
 * or fail with AIRI_EINVAL and a message, and every parsed term must be of
 * a known kind with its parts present. As a corpus, each line is a
 * document id (its content digest the SHA-256 of its line number): the
 * commit must succeed exactly when the ids are well-formed UTF-8 and
 * distinct, and the state must not depend on the order the documents were
 * given in (forward and backward give the same state and count). Any
 * violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                         \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "fuzz_corpus: %s (line %d)\n", #c, \
				__LINE__);                                 \
			abort();                                           \
		}                                                          \
	} while (0)

static int utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], need;
		unsigned long cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int state_of(const uint8_t *d, size_t n, int backward, airi_digest *st,
		    uint64_t *count)
{
	airi_corpus *c = NULL;
	airi_error err;
	REQUIRE(airi_corpus_open(NULL, NULL, &c, &err) == 0);
	size_t starts[4096], lens[4096], k = 0, s = 0;
	for (size_t i = 0; i <= n && k < 4096; i++)
		if (i == n || d[i] == '\n') {
			starts[k] = s;
			lens[k++] = i - s;
			s = i + 1;
		}
	int rc = 0;
	for (size_t j = 0; j < k && !rc; j++) {
		size_t x = backward ? k - 1 - j : j;
		airi_digest content;
		char num[32];
		int nn = snprintf(num, sizeof(num), "%zu", x);
		airi_digest_bytes(num, (size_t)nn, &content);
		rc = airi_corpus_put(c, (const char *)d + starts[x], lens[x], &content,
				     &err);
		if (rc)
			REQUIRE(rc == AIRI_EINVAL && err.message[0]);
	}
	if (!rc)
		rc = airi_corpus_commit(c, st, NULL, count, &err);
	airi_corpus_free(c);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	/* the filter parser */
	char *text = malloc(size + 1);
	REQUIRE(text);
	memcpy(text, data, size);
	text[size] = 0;
	struct airi__where w;
	airi_error err;
	int rc = airi__where_parse(text, &w, &err);
	if (rc)
		REQUIRE(rc == AIRI_EINVAL || rc == AIRI_ENOMEM);
	else {
		for (size_t i = 0; i < w.nterms; i++) {
			const struct airi__term *t = &w.terms[i];
			REQUIRE(t->kind >= AIRI__T_SINCE && t->kind <= AIRI__T_CONDITIONS);
			if (t->kind == AIRI__T_LABEL)
				REQUIRE(t->key && *t->key && t->value);
			if (t->kind == AIRI__T_SECTION)
				REQUIRE(t->section >= 0 && t->section < AIRI__NSTD);
		}
		airi__where_free(&w);
	}
	free(text);

	/* the corpus: valid and distinct ids commit, in any order alike */
	int valid = 1;
	size_t s = 0;
	for (size_t i = 0; i <= size && valid; i++)
		if (i == size || data[i] == '\n') {
			valid = utf8_ok(data + s, i - s);
			s = i + 1;
		}
	airi_digest a, b;
	uint64_t na = 0, nb = 0;
	int ra = state_of(data, size, 0, &a, &na);
	int rb = state_of(data, size, 1, &b, &nb);
	REQUIRE((ra == 0) == (rb == 0));
	if (!valid)
		REQUIRE(ra != 0);
	if (ra == 0) {
		REQUIRE(airi_digest_equal(&a, &b));
		REQUIRE(na == nb);
	}
	return 0;
}
