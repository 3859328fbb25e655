/*
 * test_modelfmt.c - the model header readers (lib/modelfmt.c) on files
 * built here byte by byte:
 *
 *  - a GGUF v3 file written by a small writer in this file: every output
 *    member checked exactly, the tokenizer digest recomputed with OpenSSL
 *    over the bytes the writer produced for the tokenizer.ggml.* entries;
 *    every truncation rejected with AIRI_EINVAL; huge counts, strings and
 *    arrays, bad types, duplicate keys and overflowing dimensions rejected;
 *  - safetensors files: the summary checked exactly; bad header lengths,
 *    bad JSON, non-integer shapes and offsets past the end rejected, and
 *    every truncation too.
 */
#include "test_util.h"

#include "internal.h"

/* ---- a tiny GGUF writer ------------------------------------------------- */

typedef struct {
	unsigned char b[4096];
	size_t n;
	/* bytes of the tokenizer.ggml.* entries, concatenated */
	unsigned char tok[4096];
	size_t tokn;
} gw;

static void put(gw *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put_u32(gw *w, uint32_t v)
{
	unsigned char q[4];
	for (int i = 0; i < 4; i++)
		q[i] = (unsigned char)(v >> (8 * i));
	put(w, q, 4);
}

static void put_u64(gw *w, uint64_t v)
{
	unsigned char q[8];
	for (int i = 0; i < 8; i++)
		q[i] = (unsigned char)(v >> (8 * i));
	put(w, q, 8);
}

static void put_str(gw *w, const char *s)
{
	put_u64(w, strlen(s));
	put(w, s, strlen(s));
}

static void header(gw *w, uint32_t version, uint64_t tensors, uint64_t kvs)
{
	memset(w, 0, sizeof(*w));
	put(w, "GGUF", 4);
	put_u32(w, version);
	put_u64(w, tensors);
	put_u64(w, kvs);
}

/* records the entry's bytes when its key is a tokenizer.ggml.* key */
static void kv_done(gw *w, const char *key, size_t start)
{
	if (!strncmp(key, "tokenizer.ggml.", 15)) {
		memcpy(w->tok + w->tokn, w->b + start, w->n - start);
		w->tokn += w->n - start;
	}
}

static void kv_str(gw *w, const char *key, const char *val)
{
	size_t start = w->n;
	put_str(w, key);
	put_u32(w, 8);
	put_str(w, val);
	kv_done(w, key, start);
}

static void kv_u32(gw *w, const char *key, uint32_t val)
{
	size_t start = w->n;
	put_str(w, key);
	put_u32(w, 4);
	put_u32(w, val);
	kv_done(w, key, start);
}

static void kv_strs(gw *w, const char *key, const char *const *v, size_t n)
{
	size_t start = w->n;
	put_str(w, key);
	put_u32(w, 9);
	put_u32(w, 8);
	put_u64(w, n);
	for (size_t i = 0; i < n; i++)
		put_str(w, v[i]);
	kv_done(w, key, start);
}

static void tensor(gw *w, const char *name, const uint64_t *dims, uint32_t nd)
{
	put_str(w, name);
	put_u32(w, nd);
	for (uint32_t i = 0; i < nd; i++)
		put_u64(w, dims[i]);
	put_u32(w, 1);  /* F16 */
	put_u64(w, 0);  /* offset */
}

static const char *const toks[] = {"<s>", "hello", "</s>"};
static const uint64_t d43[] = {4, 3}, d5[] = {5};

/* the file of the brief: llama, Q4_K_M, 4096 context, gpt2 tokenizer */
static void sample(gw *w, int ctx_first)
{
	header(w, 3, 2, 6);
	if (ctx_first)
		kv_u32(w, "llama.context_length", 4096);
	kv_str(w, "general.architecture", "llama");
	kv_u32(w, "general.file_type", 15);
	if (!ctx_first)
		kv_u32(w, "llama.context_length", 4096);
	kv_str(w, "tokenizer.ggml.model", "gpt2");
	kv_strs(w, "tokenizer.ggml.tokens", toks, 3);
	kv_str(w, "tokenizer.chat_template", "{{ messages }}");
	tensor(w, "token_embd.weight", d43, 2);
	tensor(w, "output_norm.weight", d5, 1);
}

static int gguf(const unsigned char *p, size_t n, char **json,
		airi_error *err)
{
	airi__buf b;
	int rc;
	airi__buf_init(&b);
	rc = airi__gguf_info(p, n, &b, err);
	if (rc)
		assert_int_equal(b.n, 0); /* out untouched on failure */
	if (json)
		*json = rc ? NULL : airi__buf_detach(&b, NULL);
	airi__buf_release(&b);
	return rc;
}

static int safet(const unsigned char *p, size_t n, char **json,
		 airi_error *err)
{
	airi__buf b;
	int rc;
	airi__buf_init(&b);
	rc = airi__safetensors_info(p, n, &b, err);
	if (rc)
		assert_int_equal(b.n, 0);
	if (json)
		*json = rc ? NULL : airi__buf_detach(&b, NULL);
	airi__buf_release(&b);
	return rc;
}

static void assert_same_json(const char *got, const char *want)
{
	char *a = canon_of(got), *b = canon_of(want);
	if (strcmp(a, b))
		fail_msg("got  %s\nwant %s", a, b);
	free(a);
	free(b);
}

/* ---- GGUF ----------------------------------------------------------------- */

static void test_gguf_sample(void **state)
{
	(void)state;
	gw w;
	char tokd[72], tmpld[72], want[1024], *got = NULL;
	airi_error err;
	for (int ctx_first = 0; ctx_first < 2; ctx_first++) {
		sample(&w, ctx_first);
		sha_hex(w.tok, w.tokn, tokd);
		sha_hex("{{ messages }}", 14, tmpld);
		snprintf(want, sizeof(want),
			 "{\"format\":\"gguf\",\"version\":3,\"tensors\":2,"
			 "\"parameters\":17,\"architecture\":\"llama\","
			 "\"file_type\":15,\"quantization\":\"MOSTLY_Q4_K_M\","
			 "\"context_length\":4096,\"tokenizer_digest\":\"%s\","
			 "\"chat_template_digest\":\"%s\"}",
			 tokd, tmpld);
		if (gguf(w.b, w.n, &got, &err))
			fail_msg("%s", err.message);
		assert_same_json(got, want);
		free(got);
	}
	/* the tokenizer bytes are the two entries, key + type + value */
	assert_int_equal(w.tokn, (8 + 20 + 4 + 8 + 4) +
					 (8 + 21 + 4 + 4 + 8 + (8 + 3) +
					  (8 + 5) + (8 + 4)));
}

static void test_gguf_name_and_v2(void **state)
{
	(void)state;
	gw w;
	char *got = NULL;
	airi_error err;
	header(&w, 2, 0, 2);
	kv_str(&w, "general.name", "Tiny \xC3\xA9");
	kv_u32(&w, "general.file_type", 32);
	assert_int_equal(gguf(w.b, w.n, &got, &err), 0);
	assert_same_json(got, "{\"format\":\"gguf\",\"version\":2,"
			      "\"tensors\":0,\"parameters\":0,"
			      "\"name\":\"Tiny \xC3\xA9\",\"file_type\":32,"
			      "\"quantization\":\"MOSTLY_BF16\"}");
	free(got);
}

static void test_gguf_truncated(void **state)
{
	(void)state;
	gw w;
	airi_error err;
	sample(&w, 0);
	for (size_t n = 0; n < w.n; n++) {
		int rc = gguf(w.b, n, NULL, &err);
		if (rc != AIRI_EINVAL)
			fail_msg("truncated at %zu: rc %d", n, rc);
		assert_non_null(strstr(err.message, "GGUF"));
	}
	assert_int_equal(gguf(w.b, w.n, NULL, &err), 0);
}

static void expect_gguf_err(const gw *w, const char *needle)
{
	airi_error err;
	int rc = gguf(w->b, w->n, NULL, &err);
	if (rc != AIRI_EINVAL)
		fail_msg("expected rejection (%s), rc %d", needle, rc);
	if (!strstr(err.message, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_gguf_hostile(void **state)
{
	(void)state;
	gw w;
	char *got = NULL;
	airi_error err;
	const uint64_t big[] = {(uint64_t)1 << 33, (uint64_t)1 << 33};
	const uint64_t wide[] = {(uint64_t)1 << 32, (uint64_t)1 << 30};

	/* magic and version */
	memset(&w, 0, sizeof(w));
	put(&w, "GGUX", 4);
	put_u32(&w, 3);
	expect_gguf_err(&w, "magic");
	header(&w, 1, 0, 0);
	expect_gguf_err(&w, "version");
	header(&w, 0x03000000, 0, 0); /* big-endian file */
	expect_gguf_err(&w, "version");

	/* huge counts are rejected before any loop */
	header(&w, 3, (uint64_t)1 << 60, 0);
	expect_gguf_err(&w, "tensors cannot fit");
	header(&w, 3, 0, (uint64_t)1 << 60);
	expect_gguf_err(&w, "metadata entries cannot fit");
	header(&w, 3, 1000001, 0);
	for (int i = 0; i < 100; i++)
		put_u64(&w, 0);
	expect_gguf_err(&w, "tensors cannot fit");

	/* a string longer than the file, or than 64 MiB */
	header(&w, 3, 0, 1);
	put_u64(&w, (uint64_t)1 << 63);
	put(&w, "general.name", 12);
	expect_gguf_err(&w, "over 64 MiB");
	header(&w, 3, 0, 1);
	put_u64(&w, 1000);
	put(&w, "general.name", 12);
	put_u32(&w, 8);
	expect_gguf_err(&w, "runs past the end");

	/* an array whose count is beyond the file */
	header(&w, 3, 0, 1);
	put_str(&w, "tokenizer.ggml.scores");
	put_u32(&w, 9);
	put_u32(&w, 6);
	put_u64(&w, (uint64_t)1 << 62);
	put_u32(&w, 0);
	expect_gguf_err(&w, "array of 4611686018427387904 elements");
	header(&w, 3, 0, 1);
	put_str(&w, "tokenizer.ggml.tokens");
	put_u32(&w, 9);
	put_u32(&w, 8);
	put_u64(&w, UINT64_MAX);
	expect_gguf_err(&w, "strings runs past the end");

	/* nested arrays, unknown types */
	header(&w, 3, 0, 1);
	put_str(&w, "x");
	put_u32(&w, 9);
	put_u32(&w, 9);
	put_u64(&w, 1);
	put_u32(&w, 4);
	put_u64(&w, 0);
	expect_gguf_err(&w, "nested arrays");
	header(&w, 3, 0, 1);
	put_str(&w, "x");
	put_u32(&w, 13);
	put_u64(&w, 0);
	expect_gguf_err(&w, "unknown value type 13");

	/* duplicate and mistyped keys */
	header(&w, 3, 0, 2);
	kv_str(&w, "general.architecture", "llama");
	kv_str(&w, "general.architecture", "gpt2");
	expect_gguf_err(&w, "duplicate key");
	header(&w, 3, 0, 1);
	kv_u32(&w, "general.architecture", 7);
	expect_gguf_err(&w, "is not a string");
	header(&w, 3, 0, 1);
	kv_str(&w, "general.file_type", "Q4");
	expect_gguf_err(&w, "is not an integer");
	header(&w, 3, 0, 1);
	kv_str(&w, "general.name", "bad \xC0\x80");
	expect_gguf_err(&w, "not valid UTF-8");

	/* tensors: too many dimensions, overflowing products */
	header(&w, 3, 1, 0);
	put_str(&w, "t");
	put_u32(&w, 9);
	for (int i = 0; i < 12; i++)
		put_u64(&w, 1);
	expect_gguf_err(&w, "9 dimensions");
	header(&w, 3, 1, 0);
	tensor(&w, "t", big, 2);
	expect_gguf_err(&w, "element count overflows");
	header(&w, 3, 3, 0);
	tensor(&w, "a", (const uint64_t[]){(uint64_t)1 << 63}, 1);
	tensor(&w, "b", (const uint64_t[]){(uint64_t)1 << 63}, 1);
	tensor(&w, "c", d5, 1);
	expect_gguf_err(&w, "parameter count overflows");

	/* above 2^53: a decimal string */
	header(&w, 3, 1, 0);
	tensor(&w, "t", wide, 2);
	assert_int_equal(gguf(w.b, w.n, &got, &err), 0);
	assert_same_json(got, "{\"format\":\"gguf\",\"version\":3,"
			      "\"tensors\":1,"
			      "\"parameters\":\"4611686018427387904\"}");
	free(got);

	/* message names the tensor and the byte */
	sample(&w, 0);
	w.n -= 30;
	assert_int_equal(gguf(w.b, w.n, NULL, &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "tensor 1"));
	assert_non_null(strstr(err.message, "at byte"));
}

/* ---- safetensors ---------------------------------------------------------- */

static unsigned char *st_file(const char *hdr, size_t data, size_t *len)
{
	size_t hn = strlen(hdr);
	unsigned char *p = calloc(1, 8 + hn + data + 1);
	assert_non_null(p);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)hn >> (8 * i));
	memcpy(p + 8, hdr, hn);
	*len = 8 + hn + data;
	return p;
}

static const char st_good[] =
	"{\"b.weight\":{\"dtype\":\"F16\",\"shape\":[4,3],"
	"\"data_offsets\":[0,24]},"
	"\"a.bias\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[24,44]},"
	"\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[44,46]},"
	"\"__metadata__\":{\"format\":\"pt\",\"x\":\"y\"}}   ";

static void test_st_good(void **state)
{
	(void)state;
	size_t n;
	unsigned char *p = st_file(st_good, 46, &n);
	char *got = NULL;
	airi_error err;
	if (safet(p, n, &got, &err))
		fail_msg("%s", err.message);
	assert_same_json(got, "{\"format\":\"safetensors\",\"tensors\":3,"
			      "\"parameters\":18,"
			      "\"dtypes\":{\"F16\":2,\"F32\":1},"
			      "\"metadata\":{\"format\":\"pt\",\"x\":\"y\"}}");
	free(got);
	for (size_t k = 0; k < n; k++) {
		int rc = safet(p, k, NULL, &err);
		if (rc != AIRI_EINVAL)
			fail_msg("truncated at %zu: rc %d", k, rc);
	}
	free(p);

	p = st_file("{}", 0, &n);
	assert_int_equal(safet(p, n, &got, &err), 0);
	assert_same_json(got, "{\"format\":\"safetensors\",\"tensors\":0,"
			      "\"parameters\":0,\"dtypes\":{}}");
	free(got);
	free(p);
}

static void expect_st_err(const char *hdr, size_t data, const char *needle)
{
	size_t n;
	unsigned char *p = st_file(hdr, data, &n);
	airi_error err;
	int rc = safet(p, n, NULL, &err);
	free(p);
	if (rc != AIRI_EINVAL)
		fail_msg("%s: expected rejection, rc %d", hdr, rc);
	if (!strstr(err.message, needle))
		fail_msg("%s: message \"%s\" lacks \"%s\"", hdr, err.message,
			 needle);
}

static void test_st_bad(void **state)
{
	(void)state;
	unsigned char p[64] = {0};
	airi_error err;

	/* header lengths */
	assert_int_equal(safet(p, 7, NULL, &err), AIRI_EINVAL);
	p[0] = 60;
	assert_int_equal(safet(p, 20, NULL, &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "runs past the end"));
	memset(p, 0xFF, 8);
	assert_int_equal(safet(p, 64, NULL, &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "over 100 MiB"));
	memset(p, 0, 8);
	p[5] = 1; /* 2^40 */
	assert_int_equal(safet(p, 64, NULL, &err), AIRI_EINVAL);

	expect_st_err("{\"a\":", 0, "not valid JSON");
	expect_st_err("{\"a\":1,\"a\":2}", 0, "not valid JSON");
	expect_st_err("[1,2]", 0, "not a JSON object");
	expect_st_err("{\"t\":5}", 0, "not an object");
	expect_st_err("{\"t\":{\"shape\":[1],\"data_offsets\":[0,0]}}", 0,
		      "no dtype");
	expect_st_err("{\"t\":{\"dtype\":1,\"shape\":[1],"
		      "\"data_offsets\":[0,0]}}",
		      0, "no dtype");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"data_offsets\":[0,0]}}", 0,
		      "no shape");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[-1],"
		      "\"data_offsets\":[0,0]}}",
		      0, "shape 0 is not a non-negative integer");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[2,1.5],"
		      "\"data_offsets\":[0,0]}}",
		      0, "shape 1 is not");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[2.0],"
		      "\"data_offsets\":[0,0]}}",
		      0, "shape 0 is not");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[1e3],"
		      "\"data_offsets\":[0,0]}}",
		      0, "shape 0 is not");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[\"3\"],"
		      "\"data_offsets\":[0,0]}}",
		      0, "shape 0 is not");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[4294967296,"
		      "4294967296],\"data_offsets\":[0,0]}}",
		      0, "element count overflows");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[1],"
		      "\"data_offsets\":[0,3]}}",
		      2, "run past the end");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[1],"
		      "\"data_offsets\":[2,1]}}",
		      4, "run past the end");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[1],"
		      "\"data_offsets\":[0]}}",
		      4, "data_offsets is not two");
	expect_st_err("{\"t\":{\"dtype\":\"F16\",\"shape\":[1],"
		      "\"data_offsets\":[0,-2]}}",
		      4, "data_offsets is not two");
	expect_st_err("{\"__metadata__\":{\"a\":1}}", 0, "not a string");
	expect_st_err("{\"__metadata__\":[]}", 0, "not an object");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gguf_sample),
		cmocka_unit_test(test_gguf_name_and_v2),
		cmocka_unit_test(test_gguf_truncated),
		cmocka_unit_test(test_gguf_hostile),
		cmocka_unit_test(test_st_good),
		cmocka_unit_test(test_st_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
