/*
 * test_canon.c - canonical output: the RFC 8785 vectors (from
 * ../shared/testdata/jcs when present), number formatting against known
 * ECMAScript results, string escaping, idempotence, and output larger
 * than the internal 64 KiB sink.
 */
#include "test_util.h"

#include <dirent.h>

static void test_jcs_vectors(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/jcs/input", SHARED_TESTDATA);
	DIR *d = opendir(dir);
	if (!d) {
		print_message("skipping RFC 8785 vectors: %s not found\n", dir);
		skip();
	}
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".json"))
			continue;
		char in[8192], out[8192];
		size_t il = 0, ol = 0;
		snprintf(in, sizeof(in), "%s/%s", dir, e->d_name);
		snprintf(out, sizeof(out), "%s/jcs/output/%s", SHARED_TESTDATA,
			 e->d_name);
		char *src = read_file(in, &il), *want = read_file(out, &ol);
		assert_non_null(src);
		assert_non_null(want);
		airi_json *doc;
		airi_error err;
		if (airi_json_parse(src, il, &doc, &err))
			fail_msg("%s: %s", e->d_name, err.message);
		char *got;
		size_t gl;
		assert_int_equal(airi_canon(airi_json_root(doc), &got, &gl), 0);
		if (gl != ol || memcmp(got, want, ol))
			fail_msg("%s: got %s want %s", e->d_name, got, want);
		free(got);
		free(src);
		free(want);
		airi_json_free(doc);
		n++;
	}
	closedir(d);
	assert_true(n >= 6);
}

static const char *numbers[][2] = {
	{"0", "0"},
	{"-0", "0"},
	{"-0.0", "0"},
	{"0e-5", "0"},
	{"1", "1"},
	{"1.0", "1"},
	{"1.50", "1.5"},
	{"1E+2", "100"},
	{"100e-2", "1"},
	{"0.1", "0.1"},
	{"0.30000000000000004", "0.30000000000000004"},
	{"1e21", "1e+21"},
	{"1e20", "100000000000000000000"},
	{"1e-7", "1e-7"},
	{"0.000001", "0.000001"},
	{"0.0000001", "1e-7"},
	{"1.2e-6", "0.0000012"},
	{"123e-20", "1.23e-18"},
	{"-1.5e300", "-1.5e+300"},
	{"5e-324", "5e-324"},
	{"4.9406564584124654e-324", "5e-324"},
	{"2.2250738585072014e-308", "2.2250738585072014e-308"},
	{"1.7976931348623157e308", "1.7976931348623157e+308"},
	{"7.1202363472230444e-307", "7.120236347223045e-307"},
	{"9007199254740992", "9007199254740992"},
	{"9007199254740993e0", "9007199254740992"},
	{"333333333.33333329", "333333333.3333333"},
	{"1e1000000000000", NULL}, /* overflow: rejected */
	{"1e-1000000000000", "0"},
	{"0.1e1", "1"},
	{"12345678901234567e5", "1.2345678901234568e+21"},
	{"2.9514790517935283e20", "295147905179352830000"},
	{"1.23456789012345678", "1.2345678901234567"},
	{"4.35", "4.35"},
	{"0.00001", "0.00001"},
	{"-1e-7", "-1e-7"},
	{"1e+300", "1e+300"},
	{"123456789012345680000", NULL}, /* integer literal > 2^53 */
};

static void test_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(*numbers); i++) {
		const char *in = numbers[i][0], *want = numbers[i][1];
		airi_json *doc;
		airi_error err;
		int rc = airi_json_parse(in, strlen(in), &doc, &err);
		if (!want) {
			if (rc != AIRI_EJSON)
				fail_msg("%s accepted", in);
			continue;
		}
		if (rc)
			fail_msg("%s rejected: %s", in, err.message);
		char *got;
		size_t n;
		assert_int_equal(airi_canon(airi_json_root(doc), &got, &n), 0);
		if (strcmp(got, want))
			fail_msg("%s: got %s want %s", in, got, want);
		free(got);
		airi_json_free(doc);
	}
	/* the same value written as a long literal goes through the slow
	 * path and must agree with the short literal's fast path */
	char *a = canon_of("[0.7, 7e-1, 0.70000000000000000000, 7.0000000000000000e-1]");
	assert_string_equal(a, "[0.7,0.7,0.7,0.7]");
	free(a);
}

static void test_strings(void **state)
{
	(void)state;
	char *c = canon_of("[\"\\u0001\\u001F\\b\\t\\n\\f\\r\\\"\\\\\\/\","
			   "\"\\u007f\\u2028\\u00e9\\ud83d\\ude02\","
			   "\"\x7F\xE2\x80\xA8\"]");
	assert_string_equal(c, "[\"\\u0001\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\","
			       "\"\x7F\xE2\x80\xA8\xC3\xA9\xF0\x9F\x98\x82\","
			       "\"\x7F\xE2\x80\xA8\"]");
	free(c);
	/* uppercase \u escapes of control characters become lowercase */
	c = canon_of("\"\\u001B\"");
	assert_string_equal(c, "\"\\u001b\"");
	free(c);
	/* canonical escapes in the source stay as they are */
	c = canon_of("\"a\\nb\\u0000\"");
	assert_string_equal(c, "\"a\\nb\\u0000\"");
	free(c);
}

static void test_idempotent(void **state)
{
	(void)state;
	const char *in = "{ \"z\" : [ 1.0 , -0 , \"\\u00e9\\/\" ] , \"a\" : "
			 "{ \"y\" : null , \"x\" : true } }";
	char *c1 = canon_of(in);
	char *c2 = canon_of(c1);
	assert_string_equal(c1, c2);
	assert_string_equal(c1, "{\"a\":{\"x\":true,\"y\":null},\"z\":[1,0,"
				"\"\xC3\xA9/\"]}");
	free(c1);
	free(c2);
}

static void test_large(void **state)
{
	(void)state;
	/* a string of 300 KB with escapes every 1000 bytes, plus many small
	 * values: crosses the sink buffer in every way */
	size_t n = 300000;
	char *src = malloc(n + 64), *want = malloc(n + 64);
	size_t s = 0, w = 0;
	src[s++] = '[';
	want[w++] = '[';
	src[s++] = '"';
	want[w++] = '"';
	for (size_t i = 0; i < n / 1000; i++) {
		memset(src + s, 'x', 998);
		memset(want + w, 'x', 998);
		s += 998;
		w += 998;
		memcpy(src + s, "\\/", 2);
		s += 2;
		want[w++] = '/';
	}
	memcpy(src + s, "\"]", 3);
	memcpy(want + w, "\"]", 3);
	char *c = canon_of(src);
	assert_string_equal(c, want);
	free(c);
	free(src);
	free(want);
}

static void test_digest(void **state)
{
	(void)state;
	const char *in = "{\"b\":2,\"a\":1}";
	airi_json *doc;
	airi_digest d, d2;
	char hex[AIRI_DIGEST_STRLEN], want[72];
	assert_int_equal(airi_json_parse(in, strlen(in), &doc, NULL), 0);
	assert_int_equal(airi_digest_value(airi_json_root(doc), &d), 0);
	airi_digest_format(&d, hex);
	sha_hex("{\"a\":1,\"b\":2}", 13, want);
	assert_string_equal(hex, want);
	assert_int_equal(airi_digest_parse(hex, &d2), 0);
	assert_true(airi_digest_equal(&d, &d2));
	assert_int_equal(airi_digest_parse(hex + 7, &d2), 0);
	assert_true(airi_digest_equal(&d, &d2));
	assert_int_equal(airi_digest_parse("sha256:12", &d2), AIRI_EINVAL);
	assert_int_equal(airi_digest_parse("sha256:zz", &d2), AIRI_EINVAL);
	airi_json_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jcs_vectors),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
