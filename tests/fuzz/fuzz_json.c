/*
 * fuzz_json.c - libFuzzer target for the JSON parser and the RFC 8785
 * canonicalizer (lib/json.c, lib/canon.c), through the public API only.
 *
 * For every input it checks:
 *  - acceptance agrees with an independent checker of docs/spec.md
 *    section 2 (fuzz_ref.h): nothing invalid is accepted, nothing valid
 *    rejected;
 *  - a rejection carries a sane error (code, position consistent with
 *    the offset, NUL-terminated message);
 *  - the tree: accessors agree with each other, object members are in
 *    strictly increasing UTF-16 order, string values decode exactly like
 *    the reference decoder and are valid UTF-8, numbers read as strtod
 *    reads their literal, and each number and string canonicalizes like
 *    the reference ECMAScript/JCS formatter;
 *  - canonical bytes re-parse, are a fixed point (canon(parse(canon(x)))
 *    == canon(x)), describe the same tree (same types, keys, strings and
 *    numbers), and digest_value() of both trees equals SHA-256 of those
 *    bytes; a write callback that fails stops airi_canon_write() with its
 *    code.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "airi.h"
#include "fuzz_ref.h"

#include <stddef.h>
#include <stdint.h>

/* at most this many numbers and strings per input get the (slower)
 * per-value reference checks */
#define MAX_VALUE_CHECKS 512

struct ctx {
	const unsigned char *text;
	size_t len;
	int checks;
};

static void check_error(const airi_error *err, int rc, const unsigned char *s,
			size_t n)
{
	REQUIRE(err->code == rc);
	REQUIRE(memchr(err->message, 0, sizeof(err->message)) != NULL);
	REQUIRE(err->message[0] != 0);
	REQUIRE(memchr(err->pointer, 0, sizeof(err->pointer)) != NULL);
	if (rc != AIRI_EJSON)
		return;
	REQUIRE(err->has_position);
	REQUIRE(err->offset <= n);
	size_t line = 1, col = 1;
	for (size_t i = 0; i < err->offset; i++) {
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	REQUIRE(err->line == line);
	REQUIRE(err->column == col);
	if (err->has_pointer && err->pointer[0])
		REQUIRE(err->pointer[0] == '/');
}

static void check_number(struct ctx *c, const airi_value *v)
{
	size_t off = airi_value_offset(v);
	int is_int;
	REQUIRE(off < c->len);
	size_t len = ref_number_len(c->text, off, c->len, &is_int);
	REQUIRE(len > 0);
	double want = ref_number_value(c->text + off, len);
	double got = airi_value_number(v);
	REQUIRE(isfinite(got));
	REQUIRE(got == want && signbit(got) == signbit(want));
	if (c->checks >= MAX_VALUE_CHECKS)
		return;
	c->checks++;
	char ref[40], *canon;
	size_t cn;
	ref_number_format(got, ref);
	REQUIRE(airi_canon(v, &canon, &cn) == 0);
	if (cn != strlen(ref) || memcmp(canon, ref, cn)) {
		fprintf(stderr, "number %.17g: airi %s, reference %s\n", got,
			canon, ref);
		abort();
	}
	free(canon);
}

static void check_string(struct ctx *c, const airi_value *v)
{
	size_t off = airi_value_offset(v), n = 0, rn = 0, i, cn, en;
	const char *s = airi_value_string(v, &n);
	char *ref, *canon, *esc;
	REQUIRE(s != NULL);
	REQUIRE(ref_utf8_valid(s, n));
	REQUIRE(off < c->len && c->text[off] == '"');
	i = off;
	REQUIRE(ref_string(c->text, c->len, &i, &ref, &rn) == 0);
	REQUIRE(rn == n && memcmp(ref, s, n) == 0);
	free(ref);
	/* asking twice gives the same bytes (lazy decoding is stable) */
	size_t n2 = 0;
	const char *s2 = airi_value_string(v, &n2);
	REQUIRE(s2 == s && n2 == n);
	if (c->checks >= MAX_VALUE_CHECKS)
		return;
	c->checks++;
	esc = ref_canon_string(s, n, &en);
	REQUIRE(airi_canon(v, &canon, &cn) == 0);
	REQUIRE(cn == en && memcmp(canon, esc, en) == 0);
	free(canon);
	free(esc);
}

/* Walks the tree through every accessor. */
static void walk(struct ctx *c, const airi_value *v, int depth)
{
	airi_type t = airi_value_type(v);
	size_t cnt = airi_value_count(v);
	size_t off = airi_value_offset(v);
	REQUIRE(depth <= AIRI_JSON_MAX_DEPTH);
	REQUIRE(off < c->len);
	if (t != AIRI_STRING)
		REQUIRE(airi_value_string(v, NULL) == NULL);
	if (t != AIRI_NUMBER)
		REQUIRE(airi_value_number(v) == 0.0);
	if (t != AIRI_OBJECT) {
		REQUIRE(airi_value_key_at(v, 0, NULL) == NULL);
		REQUIRE(airi_value_get(v, "") == NULL);
	}
	switch (t) {
	case AIRI_NULL:
		REQUIRE(cnt == 0 && !memcmp(c->text + off, "null", 4));
		break;
	case AIRI_FALSE:
		REQUIRE(cnt == 0 && !memcmp(c->text + off, "false", 5));
		break;
	case AIRI_TRUE:
		REQUIRE(cnt == 0 && !memcmp(c->text + off, "true", 4));
		break;
	case AIRI_NUMBER:
		REQUIRE(cnt == 0);
		check_number(c, v);
		break;
	case AIRI_STRING:
		REQUIRE(cnt == 0);
		check_string(c, v);
		break;
	case AIRI_ARRAY:
		REQUIRE(c->text[off] == '[');
		for (size_t i = 0; i < cnt; i++) {
			const airi_value *e = airi_value_at(v, i);
			REQUIRE(e != NULL);
			REQUIRE(airi_value_offset(e) > off);
			walk(c, e, depth + 1);
		}
		REQUIRE(airi_value_at(v, cnt) == NULL);
		break;
	case AIRI_OBJECT: {
		const char *prev = NULL;
		size_t prevn = 0;
		REQUIRE(c->text[off] == '{');
		for (size_t i = 0; i < cnt; i++) {
			size_t kn = (size_t)-1;
			const char *k = airi_value_key_at(v, i, &kn);
			const airi_value *e = airi_value_at(v, i);
			REQUIRE(k != NULL && e != NULL && kn != (size_t)-1);
			REQUIRE(airi_value_key_at(v, i, NULL) == k);
			REQUIRE(ref_utf8_valid(k, kn));
			if (prev)
				REQUIRE(ref_utf16_cmp(prev, prevn, k, kn) < 0);
			prev = k;
			prevn = kn;
			/* lookup by name finds this very member, unless the
			 * name has a NUL byte (get() takes a C string) */
			if (!memchr(k, 0, kn)) {
				char *z = strndup(k, kn);
				REQUIRE(z != NULL);
				REQUIRE(airi_value_get(v, z) == e);
				free(z);
			}
			REQUIRE(airi_value_offset(e) > off);
			walk(c, e, depth + 1);
		}
		REQUIRE(airi_value_at(v, cnt) == NULL);
		REQUIRE(airi_value_key_at(v, cnt, NULL) == NULL);
		break;
	}
	default:
		REQUIRE(!"unknown type");
	}
}

/* Both trees describe the same value (b came from a's canonical bytes). */
static void same_tree(const airi_value *a, const airi_value *b)
{
	airi_type t = airi_value_type(a);
	REQUIRE(t == airi_value_type(b));
	REQUIRE(airi_value_count(a) == airi_value_count(b));
	switch (t) {
	case AIRI_NUMBER: {
		double x = airi_value_number(a), y = airi_value_number(b);
		REQUIRE(x == y);
		/* -0 is written 0 */
		REQUIRE(x == 0 || signbit(x) == signbit(y));
		break;
	}
	case AIRI_STRING: {
		size_t an, bn;
		const char *as = airi_value_string(a, &an);
		const char *bs = airi_value_string(b, &bn);
		REQUIRE(as && bs && an == bn && !memcmp(as, bs, an));
		break;
	}
	case AIRI_OBJECT:
		for (size_t i = 0; i < airi_value_count(a); i++) {
			size_t an, bn;
			const char *ak = airi_value_key_at(a, i, &an);
			const char *bk = airi_value_key_at(b, i, &bn);
			REQUIRE(an == bn && !memcmp(ak, bk, an));
		}
		/* fall through */
	case AIRI_ARRAY:
		for (size_t i = 0; i < airi_value_count(a); i++)
			same_tree(airi_value_at(a, i), airi_value_at(b, i));
		break;
	default:
		break;
	}
}

/* A sink that takes `left` bytes, then fails with a distinctive code. */
struct failing {
	size_t left;
};
static int failing_write(void *ctx, const void *data, size_t len)
{
	struct failing *f = ctx;
	(void)data;
	if (len > f->left)
		return -77;
	f->left -= len;
	return 0;
}

/* Collects output in pieces, as a caller's writer would. */
struct collect {
	char *p;
	size_t n, cap;
};
static int collect_write(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;
	if (c->n + len > c->cap) {
		size_t cap = c->cap ? c->cap : 256;
		while (cap < c->n + len)
			cap *= 2;
		char *p = realloc(c->p, cap);
		if (!p)
			return AIRI_ENOMEM;
		c->p = p;
		c->cap = cap;
	}
	memcpy(c->p + c->n, data, len);
	c->n += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	airi_json *d1 = NULL, *d2 = NULL, *d3 = NULL;
	airi_error err;
	char *c1 = NULL, *c2 = NULL;
	size_t n1 = 0, n2 = 0;
	int rc, want;

	memset(&err, 0xA5, sizeof(err)); /* filled only on failure */
	rc = airi_json_parse(text, size, &d1, &err);
	want = ref_accepts(data, size);
	if (rc) {
		REQUIRE(d1 == NULL);
		check_error(&err, rc, data, size);
		if (want && rc == AIRI_EJSON) {
			fprintf(stderr, "rejected valid JSON: %s\n",
				err.message);
			abort();
		}
		return 0;
	}
	if (!want) {
		fprintf(stderr, "accepted JSON that docs/spec.md rejects\n");
		abort();
	}
	const airi_value *r1 = airi_json_root(d1);
	REQUIRE(r1 != NULL);

	struct ctx c = {data, size, 0};
	walk(&c, r1, 0);

	REQUIRE(airi_canon(r1, &c1, &n1) == 0);
	REQUIRE(c1[n1] == 0);
	if (!ref_accepts((const unsigned char *)c1, n1) &&
	    allowed("canon-bigint") &&
	    airi_json_parse(c1, n1, &d2, &err) == AIRI_EJSON &&
	    strstr(err.message, "exceeds 2^53")) {
		free(c1);
		airi_json_free(d1);
		return 0;
	}
	REQUIRE(ref_accepts((const unsigned char *)c1, n1));

	/* the canonical bytes parse back to the same value ... */
	rc = airi_json_parse(c1, n1, &d2, &err);
	if (rc) {
		fprintf(stderr, "canonical output does not parse: %s\n",
			err.message);
		abort();
	}
	const airi_value *r2 = airi_json_root(d2);
	same_tree(r1, r2);
	/* ... and are a fixed point */
	REQUIRE(airi_canon(r2, &c2, &n2) == 0);
	REQUIRE(n2 == n1 && memcmp(c1, c2, n1) == 0);

	/* digests: of the tree, of its re-parse, of the bytes */
	airi_digest g1, g2, g3;
	REQUIRE(airi_digest_value(r1, &g1) == 0);
	REQUIRE(airi_digest_value(r2, &g2) == 0);
	REQUIRE(airi_digest_bytes(c1, n1, &g3) == 0);
	REQUIRE(airi_digest_equal(&g1, &g2));
	REQUIRE(airi_digest_equal(&g1, &g3));
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest dp;
	airi_digest_format(&g1, hex);
	REQUIRE(strlen(hex) == AIRI_DIGEST_STRLEN - 1);
	REQUIRE(airi_digest_parse(hex, &dp) == 0 &&
		airi_digest_equal(&dp, &g1));
	REQUIRE(airi_digest_parse(hex + 7, &dp) == 0 &&
		airi_digest_equal(&dp, &g1));

	/* the streaming writer gives the same bytes, and its errors stop it */
	struct collect col = {NULL, 0, 0};
	REQUIRE(airi_canon_write(r1, collect_write, &col) == 0);
	REQUIRE(col.n == n1 && (n1 == 0 || memcmp(col.p, c1, n1) == 0));
	free(col.p);
	if (n1 > 0) {
		struct failing f = {n1 / 2};
		REQUIRE(airi_canon_write(r1, failing_write, &f) == -77);
	}

	/* a third parse of the same input is independent of the first */
	REQUIRE(airi_json_parse(text, size, &d3, NULL) == 0);
	airi_digest g4;
	REQUIRE(airi_digest_value(airi_json_root(d3), &g4) == 0);
	REQUIRE(airi_digest_equal(&g1, &g4));

	free(c1);
	free(c2);
	airi_json_free(d1);
	airi_json_free(d2);
	airi_json_free(d3);
	airi_json_free(NULL);
	return 0;
}
