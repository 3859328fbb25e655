/*
 * fuzz_modelfmt.c - libFuzzer target for the model header readers
 * (lib/modelfmt.c): airi__gguf_info and airi__safetensors_info, linked
 * from the static library since they are internal.
 *
 * Each input is read four ways: as a whole file by both readers, as the
 * body of a GGUF v3 file (after "GGUF", version 3) and as the JSON header
 * of a safetensors file (after an 8-byte length covering the whole input),
 * so that mutations reach the entries and the tensor checks without first
 * having to guess a magic or a length. For every reading it checks:
 *  - the reader returns 0 or AIRI_EINVAL (never anything else), and a
 *    failure has a message and leaves the output buffer untouched;
 *  - an accepted file gives one JSON object that airi_json_parse accepts,
 *    with "format" and a numeric "tensors".
 * Crashes, hangs and unbounded allocations are the sanitizers' and
 * libFuzzer's to report (-rss_limit_mb, -timeout).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "fuzz_modelfmt: check failed: %s\n", \
				#c);                                        \
			abort();                                            \
		}                                                           \
	} while (0)

typedef int (*reader_fn)(const unsigned char *, size_t, airi__buf *,
			 airi_error *);

static void one(reader_fn fn, const unsigned char *p, size_t n)
{
	airi__buf b;
	airi_error err;
	int rc;
	airi__buf_init(&b);
	airi__buf_adds(&b, "x"); /* out is appended to, never rewritten */
	rc = fn(p, n, &b, &err);
	REQUIRE(rc == 0 || rc == AIRI_EINVAL);
	if (rc) {
		REQUIRE(err.code == rc && err.message[0]);
		REQUIRE(b.n == 1 && b.p[0] == 'x');
	} else {
		airi_json *doc = NULL;
		const airi_value *root, *v;
		REQUIRE(b.n > 1 && b.p[0] == 'x');
		REQUIRE(airi_json_parse(b.p + 1, b.n - 1, &doc, NULL) == 0);
		root = airi_json_root(doc);
		REQUIRE(airi_value_type(root) == AIRI_OBJECT);
		v = airi_value_get(root, "format");
		REQUIRE(v && airi_value_type(v) == AIRI_STRING);
		v = airi_value_get(root, "tensors");
		REQUIRE(v && airi_value_type(v) == AIRI_NUMBER);
		airi_json_free(doc);
	}
	airi__buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *p;
	one(airi__gguf_info, data, size);
	one(airi__safetensors_info, data, size);
	p = malloc(size + 8);
	if (!p)
		return 0;
	memcpy(p, "GGUF\x03\x00\x00\x00", 8);
	if (size)
		memcpy(p + 8, data, size);
	one(airi__gguf_info, p, size + 8);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)size >> (8 * i));
	one(airi__safetensors_info, p, size + 8);
	free(p);
	return 0;
}
