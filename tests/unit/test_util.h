/*
 * test_util.h - helpers shared by the cmocka unit tests: parse or fail,
 * canonicalize to a string, digest formatting, reading files, and an
 * independent SHA-256 (OpenSSL's one-shot API, not libairi's path).
 */
#ifndef AIRI_TEST_UTIL_H
#define AIRI_TEST_UTIL_H

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "airi.h"

static inline char *canon_of(const char *json)
{
	airi_json *doc = NULL;
	airi_error err;
	char *out = NULL;
	size_t n;
	int rc = airi_json_parse(json, strlen(json), &doc, &err);
	if (rc) {
		fprintf(stderr, "parse failed: %s\n", err.message);
		fail();
	}
	assert_int_equal(airi_canon(airi_json_root(doc), &out, &n), 0);
	assert_int_equal(strlen(out), n);
	airi_json_free(doc);
	return out;
}

/* "sha256:<hex>" of raw bytes, computed with OpenSSL directly */
static inline void sha_hex(const void *p, size_t n, char out[72])
{
	unsigned char md[32];
	static const char hx[] = "0123456789abcdef";
	SHA256(p, n, md);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hx[md[i] >> 4];
		out[8 + 2 * i] = hx[md[i] & 15];
	}
	out[71] = 0;
}

static inline char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = 0;
		*len = (size_t)n;
	}
	return buf;
}

/* A fresh directory under $TMPDIR (else /tmp) named airi-test-NAME-XXXXXX,
 * into dir; 0, or -1 when it cannot be made. */
static inline int test_tmpdir(char *dir, size_t n, const char *name)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, n, "%s/airi-test-%s-XXXXXX", t && *t ? t : "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes it and everything in it; 0 on success. */
static inline int test_rmdir(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int parse_err(const char *json, size_t len, airi_error *err)
{
	airi_json *doc = NULL;
	int rc = airi_json_parse(json, len, &doc, err);
	airi_json_free(doc);
	return rc;
}

#endif
