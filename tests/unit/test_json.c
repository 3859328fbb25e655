/*
 * test_json.c - the parser: what it accepts, what it rejects and how it
 * names the place (message, byte offset, line, column, JSON Pointer), the
 * nesting limit, UTF-16 member order, lazy decoding and the accessors.
 */
#include "test_util.h"

static void expect_reject(const char *json, size_t len, const char *msg_part,
			  size_t offset, const char *pointer)
{
	airi_error err;
	int rc = parse_err(json, len, &err);
	if (rc != AIRI_EJSON)
		fail_msg("accepted: %.*s", (int)len, json);
	if (msg_part && !strstr(err.message, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, msg_part);
	assert_true(err.has_position);
	if (offset != (size_t)-1)
		assert_int_equal(err.offset, offset);
	if (pointer)
		assert_string_equal(err.pointer, pointer);
}

#define REJECT(lit, part, off, ptr) \
	expect_reject(lit, sizeof(lit) - 1, part, off, ptr)

static void test_rejects(void **state)
{
	(void)state;
	REJECT("", "empty input", 0, "");
	REJECT("  \n", "only whitespace", 3, "");
	REJECT("\xEF\xBB\xBF{}", "byte order mark", 0, "");
	REJECT("{} x", "unexpected data after", 3, "");
	REJECT("[1,]", "expected a value", 3, "/1");
	REJECT("{\"a\":1,}", "member name", 7, "");
	REJECT("[01]", "leading zeros", 1, "/0");
	REJECT("[1.]", "after '.'", 1, "/0");
	REJECT("[1e]", "exponent", 1, "/0");
	REJECT("[-]", "expected a digit", 1, "/0");
	REJECT("[NaN]", "NaN", 1, "/0");
	REJECT("[Infinity]", "Infinity", 1, "/0");
	REJECT("[-Infinity]", "Infinity", 1, "/0");
	REJECT("{\"x\":1e400}", "overflows", 5, "/x");
	REJECT("[-1e400]", "overflows", 1, "/0");
	REJECT("[9007199254740993]", "exceeds 2^53", 1, "/0");
	REJECT("[-9007199254740993]", "exceeds 2^53", 1, "/0");
	REJECT("[123456789012345678901234567890]", "exceeds 2^53", 1, "/0");
	REJECT("[\"a\x01\"]", "control character U+0001", 3, "/0");
	REJECT("[\"\\x\"]", "invalid escape", 2, "/0");
	REJECT("[\"\\u12\"]", "\\u escape", 2, "/0");
	REJECT("[\"\\ud800\"]", "unpaired surrogate", 2, "/0");
	REJECT("[\"\\udc00\"]", "unpaired surrogate", 2, "/0");
	REJECT("[\"\\ud800\\u0041\"]", "unpaired surrogate", 2, "/0");
	REJECT("[\"\xC0\xAF\"]", "overlong", 2, "/0");
	REJECT("[\"\xE0\x80\xAF\"]", "overlong", 2, "/0");
	REJECT("[\"\xF0\x80\x80\xAF\"]", "overlong", 2, "/0");
	REJECT("[\"\xED\xA0\x80\"]", "encoded surrogate", 2, "/0");
	REJECT("[\"\xF4\x90\x80\x80\"]", "above U+10FFFF", 2, "/0");
	REJECT("[\"\xF5\x80\x80\x80\"]", "never used", 2, "/0");
	REJECT("[\"\xE2\x82\"]", "truncated", 2, "/0");
	REJECT("[\"\x80\"]", "continuation", 2, "/0");
	REJECT("[\"abc", "unterminated string", 1, "/0");
	REJECT("{\"a\" 1}", "expected ':'", 5, "/a");
	REJECT("[tru]", "expected true", 1, "/0");
	REJECT("[1 2]", "expected ',' or ']'", 3, "");
	REJECT("{\"a\":{\"b\":[1,{\"c\":\"\xC0\"}]}}", "invalid UTF-8", 19,
	       "/a/b/1/c");
	/* pointer escaping of ~ and / in member names */
	REJECT("{\"a/b\":{\"c~d\":[x]}}", "unexpected character 'x'", 15,
	       "/a~1b/c~0d/0");
	/* binary garbage */
	REJECT("\x00\x01\x02", "unexpected byte 0x00", 0, "");
}

static void test_duplicates(void **state)
{
	(void)state;
	const char *j = "{\"conditions\":{\"params\":{\"seed\":1,\"seed\":2}}}";
	airi_error err;
	assert_int_equal(parse_err(j, strlen(j), &err), AIRI_EJSON);
	assert_string_equal(err.message,
			    "duplicate key \"seed\" in /conditions/params");
	assert_int_equal(err.offset, 34);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, 35);
	assert_string_equal(err.pointer, "/conditions/params");
	/* equal after unescaping */
	REJECT("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"", 7, "");
	/* the first duplicate in the text is reported */
	REJECT("{\"b\":1,\"a\":1,\"a\":2,\"b\":2}", "duplicate key \"a\"", 13,
	       "");
	REJECT("[{},{\"k\":1,\"k\":1}]", "in /1", 11, "/1");
}

static void test_positions(void **state)
{
	(void)state;
	const char *j = "{\n  \"a\": 1,\n  \"b\": [true, nul]\n}";
	airi_error err;
	assert_int_equal(parse_err(j, strlen(j), &err), AIRI_EJSON);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 15);
	assert_int_equal(err.offset, 26);
	assert_string_equal(err.pointer, "/b/1");
}

static char *nest(int depth)
{
	char *s = malloc((size_t)depth * 2 + 1);
	memset(s, '[', (size_t)depth);
	memset(s + depth, ']', (size_t)depth);
	s[2 * depth] = 0;
	return s;
}

static void test_depth(void **state)
{
	(void)state;
	char *ok = nest(AIRI_JSON_MAX_DEPTH);
	char *bad = nest(AIRI_JSON_MAX_DEPTH + 1);
	airi_error err;
	assert_int_equal(parse_err(ok, strlen(ok), &err), 0);
	char *c = canon_of(ok);
	assert_string_equal(c, ok);
	free(c);
	assert_int_equal(parse_err(bad, strlen(bad), &err), AIRI_EJSON);
	assert_non_null(strstr(err.message, "nesting deeper than 1000"));
	assert_int_equal(err.offset, AIRI_JSON_MAX_DEPTH);
	free(ok);
	free(bad);
	/* objects count as levels too */
	char buf[8200];
	size_t n = 0;
	for (int i = 0; i <= AIRI_JSON_MAX_DEPTH; i++) {
		memcpy(buf + n, "{\"a\":", 5);
		n += 5;
	}
	assert_int_equal(parse_err(buf, n, &err), AIRI_EJSON);
	assert_non_null(strstr(err.message, "nesting"));
}

static void test_accepts(void **state)
{
	(void)state;
	static const char *ok[] = {
		"0", "-0", "1e-400", "9007199254740992", "-9007199254740992",
		"\"\\u0000\"", "\"\xEF\xBF\xBF\"", "\"\\ud83d\\ude02\"",
		" \t\r\n{} \t\r\n", "[[],{}]", "1E+2", "\"\\/\"",
		"123456789012345678901234567890e0",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		airi_error err;
		if (parse_err(ok[i], strlen(ok[i]), &err))
			fail_msg("rejected %s: %s", ok[i], err.message);
	}
}

static void test_utf16_order(void **state)
{
	(void)state;
	/* U+1F602 (UTF-16 D83D DE02) sorts before U+FB33; byte order would
	 * put U+FB33 (EF AC B3) first */
	char *c = canon_of("{\"\xEF\xAC\xB3\":1,\"\xF0\x9F\x98\x82\":2,"
			   "\"\xC3\xA9\":3,\"z\":4,\"\":5,\"\xEE\x80\x80\":6}");
	assert_string_equal(c, "{\"\":5,\"z\":4,\"\xC3\xA9\":3,"
			       "\"\xF0\x9F\x98\x82\":2,\"\xEE\x80\x80\":6,"
			       "\"\xEF\xAC\xB3\":1}");
	free(c);
}

static void test_accessors(void **state)
{
	(void)state;
	const char *j = "{\"b\":[1,2.5,\"x\\ny\"],\"a\":null,\"c\":{\"k\":"
			"true}}";
	airi_json *doc;
	airi_error err;
	assert_int_equal(airi_json_parse(j, strlen(j), &doc, &err), 0);
	const airi_value *r = airi_json_root(doc);
	assert_int_equal(airi_value_type(r), AIRI_OBJECT);
	assert_int_equal(airi_value_count(r), 3);
	size_t kn;
	assert_memory_equal(airi_value_key_at(r, 0, &kn), "a", 1);
	assert_int_equal(kn, 1);
	const airi_value *b = airi_value_get(r, "b");
	assert_non_null(b);
	assert_int_equal(airi_value_count(b), 3);
	assert_true(airi_value_number(airi_value_at(b, 1)) == 2.5);
	size_t sn;
	const char *s = airi_value_string(airi_value_at(b, 2), &sn);
	assert_int_equal(sn, 3);
	assert_memory_equal(s, "x\ny", 3);
	/* asking twice gives the same decoded bytes */
	assert_ptr_equal(airi_value_string(airi_value_at(b, 2), NULL), s);
	assert_null(airi_value_get(r, "zz"));
	assert_int_equal(airi_value_type(airi_value_get(airi_value_get(r, "c"), "k")),
			 AIRI_TRUE);
	assert_int_equal(airi_value_type(airi_value_get(r, "a")), AIRI_NULL);
	assert_null(airi_value_at(r, 3));
	assert_int_equal(airi_value_offset(b), 5);
	airi_json_free(doc);
	airi_json_free(NULL);
}

static void test_nul_in_strings(void **state)
{
	(void)state;
	const char *j = "{\"k\\u0000\":\"a\\u0000b\"}";
	airi_json *doc;
	airi_error err;
	assert_int_equal(airi_json_parse(j, strlen(j), &doc, &err), 0);
	size_t kn, vn;
	const char *k = airi_value_key_at(airi_json_root(doc), 0, &kn);
	assert_int_equal(kn, 2);
	assert_memory_equal(k, "k\0", 2);
	const char *v = airi_value_string(airi_value_at(airi_json_root(doc), 0), &vn);
	assert_int_equal(vn, 3);
	assert_memory_equal(v, "a\0b", 3);
	airi_json_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_utf16_order),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_nul_in_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
