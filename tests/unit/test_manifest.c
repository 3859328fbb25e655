/*
 * test_manifest.c - the identity rules, checked against an independent
 * construction: the expected conditions, trajectory and run objects are
 * written out here as text and hashed with OpenSSL directly, so a mistake
 * in the library's object building cannot hide behind itself.
 */
#include "test_util.h"

static airi_manifest *parse_ok(const char *j)
{
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(j, strlen(j), &m, &err))
		fail_msg("manifest rejected: %s (%s)", err.message, j);
	return m;
}

static void fmt(const airi_digest *d, char out[72])
{
	airi_digest_format(d, out);
}

static void digest_of_json(const char *json, char out[72])
{
	char *c = canon_of(json);
	sha_hex(c, strlen(c), out);
	free(c);
}

static void test_identity_independent(void **state)
{
	(void)state;
	const char *j =
		"{\"output\":{\"content\":\"Hi!\"},"
		"\"conditions\":{\"system\":{\"text\":\"Be brief.\"},"
		"\"model\":{\"name\":\"m\",\"resolved\":\"m-1\"}},"
		"\"trajectory\":[{\"tool\":\"a\"},{\"tool\":\"b\"}],"
		"\"meta\":{\"start\":\"2026-01-01T00:00:00Z\"}}";
	airi_manifest *m = parse_ok(j);
	char model[72], system[72], s0[72], s1[72], out[72], meta[72];
	digest_of_json("{\"name\":\"m\",\"resolved\":\"m-1\"}", model);
	digest_of_json("{\"text\":\"Be brief.\"}", system);
	digest_of_json("{\"tool\":\"a\"}", s0);
	digest_of_json("{\"tool\":\"b\"}", s1);
	digest_of_json("{\"content\":\"Hi!\"}", out);
	digest_of_json("{\"start\":\"2026-01-01T00:00:00Z\"}", meta);

	char cond_obj[512], cond[72], traj_obj[512], traj[72], run_obj[600],
		run[72];
	snprintf(cond_obj, sizeof(cond_obj),
		 "{\"sections\":{\"model\":\"%s\",\"system\":\"%s\"},"
		 "\"type\":\"airi.conditions/1\"}",
		 model, system);
	sha_hex(cond_obj, strlen(cond_obj), cond);
	snprintf(traj_obj, sizeof(traj_obj),
		 "{\"steps\":[\"%s\",\"%s\"],\"type\":\"airi.trajectory/1\"}",
		 s0, s1);
	sha_hex(traj_obj, strlen(traj_obj), traj);
	snprintf(run_obj, sizeof(run_obj),
		 "{\"conditions\":\"%s\",\"meta\":\"%s\",\"output\":\"%s\","
		 "\"trajectory\":\"%s\",\"type\":\"airi.run/1\"}",
		 cond, meta, out, traj);
	sha_hex(run_obj, strlen(run_obj), run);

	char got[72];
	fmt(airi_manifest_conditions_id(m), got);
	assert_string_equal(got, cond);
	fmt(airi_manifest_run_id(m), got);
	assert_string_equal(got, run);
	fmt(airi_manifest_trajectory_digest(m), got);
	assert_string_equal(got, traj);
	fmt(airi_manifest_output_digest(m), got);
	assert_string_equal(got, out);
	fmt(airi_manifest_meta_digest(m), got);
	assert_string_equal(got, meta);
	assert_int_equal(airi_manifest_section_count(m), 2);
	assert_string_equal(airi_manifest_section_name(m, 0), "model");
	fmt(airi_manifest_section_digest(m, 1), got);
	assert_string_equal(got, system);
	assert_int_equal(airi_manifest_step_count(m), 2);
	fmt(airi_manifest_step_digest(m, 1), got);
	assert_string_equal(got, s1);

	char *ids;
	size_t n;
	assert_int_equal(airi_manifest_ids_json(m, &ids, &n), 0);
	char want[2048];
	snprintf(want, sizeof(want),
		 "{\"conditions\":\"%s\",\"meta\":\"%s\",\"output\":\"%s\","
		 "\"run\":\"%s\",\"sections\":{\"model\":\"%s\",\"system\":"
		 "\"%s\"},\"trajectory\":\"%s\"}",
		 cond, meta, out, run, model, system, traj);
	assert_string_equal(ids, want);
	free(ids);
	airi_manifest_free(m);
}

static void test_minimal_run_object(void **state)
{
	(void)state;
	airi_manifest *m = parse_ok("{\"conditions\":{\"x\":1}}");
	char one[72], cond_obj[256], cond[72], run_obj[256], run[72], got[72];
	sha_hex("1", 1, one);
	snprintf(cond_obj, sizeof(cond_obj),
		 "{\"sections\":{\"x\":\"%s\"},\"type\":\"airi.conditions/1\"}",
		 one);
	sha_hex(cond_obj, strlen(cond_obj), cond);
	snprintf(run_obj, sizeof(run_obj),
		 "{\"conditions\":\"%s\",\"type\":\"airi.run/1\"}", cond);
	sha_hex(run_obj, strlen(run_obj), run);
	fmt(airi_manifest_run_id(m), got);
	assert_string_equal(got, run);
	assert_null(airi_manifest_output_digest(m));
	assert_null(airi_manifest_trajectory_digest(m));
	assert_null(airi_manifest_meta_digest(m));
	airi_manifest_free(m);
}

static void test_equalities(void **state)
{
	(void)state;
	/* whitespace, member order and escaping do not change identity */
	airi_manifest *a = parse_ok("{\"conditions\":{\"b\":[1.0,\"\\u0041\"],"
				    "\"a\":{\"y\":1,\"x\":2}}}");
	airi_manifest *b = parse_ok(" { \"conditions\" : { \"a\" : {\"x\":2,"
				    "\"y\":1e0}, \"b\" : [ 1, \"A\" ] } } ");
	assert_true(airi_digest_equal(airi_manifest_run_id(a),
				      airi_manifest_run_id(b)));
	airi_manifest_free(b);
	/* output null differs from absent; same conditions either way */
	airi_manifest *c = parse_ok("{\"conditions\":{\"b\":[1,\"A\"],\"a\":"
				    "{\"y\":1,\"x\":2}},\"output\":null}");
	assert_true(airi_digest_equal(airi_manifest_conditions_id(a),
				      airi_manifest_conditions_id(c)));
	assert_false(airi_digest_equal(airi_manifest_run_id(a),
				       airi_manifest_run_id(c)));
	assert_non_null(airi_manifest_output_digest(c));
	assert_int_equal(airi_value_type(airi_manifest_output(c)), AIRI_NULL);
	airi_manifest_free(c);
	/* an empty trajectory is present, and differs from none */
	airi_manifest *d = parse_ok("{\"conditions\":{\"b\":[1,\"A\"],\"a\":"
				    "{\"y\":1,\"x\":2}},\"trajectory\":[]}");
	assert_false(airi_digest_equal(airi_manifest_run_id(a),
				       airi_manifest_run_id(d)));
	assert_int_equal(airi_manifest_step_count(d), 0);
	airi_manifest_free(d);
	/* a different section value changes conditions and run */
	airi_manifest *e = parse_ok("{\"conditions\":{\"b\":[1,\"a\"],\"a\":"
				    "{\"y\":1,\"x\":2}}}");
	assert_false(airi_digest_equal(airi_manifest_conditions_id(a),
				       airi_manifest_conditions_id(e)));
	airi_manifest_free(e);
	airi_manifest_free(a);
}

static void expect_bad(const char *j, const char *msg_part, const char *ptr)
{
	airi_manifest *m = NULL;
	airi_error err;
	int rc = airi_manifest_parse(j, strlen(j), &m, &err);
	if (rc != AIRI_EMANIFEST)
		fail_msg("expected EMANIFEST for %s, got %d", j, rc);
	assert_null(m);
	if (!strstr(err.message, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, msg_part);
	assert_string_equal(err.pointer, ptr);
	assert_true(err.has_position);
}

static void test_rejects(void **state)
{
	(void)state;
	expect_bad("[]", "must be a JSON object", "");
	expect_bad("{}", "missing required member \"conditions\"", "");
	expect_bad("{\"conditions\":{}}", "at least one section", "/conditions");
	expect_bad("{\"conditions\":[]}", "must be an object", "/conditions");
	expect_bad("{\"conditions\":{\"a\":1},\"labels\":{}}",
		   "unknown top-level member \"labels\"", "/labels");
	expect_bad("{\"conditions\":{\"Model\":1}}", "invalid section name",
		   "/conditions/Model");
	expect_bad("{\"conditions\":{\"1a\":1}}", "invalid section name",
		   "/conditions/1a");
	expect_bad("{\"conditions\":{\"a-b\":1}}", "invalid section name",
		   "/conditions/a-b");
	{
		char name[70], j[128], ptr[96];
		memset(name, 'a', 65);
		name[65] = 0;
		snprintf(j, sizeof(j), "{\"conditions\":{\"%s\":1}}", name);
		snprintf(ptr, sizeof(ptr), "/conditions/%s", name);
		expect_bad(j, "invalid section name", ptr);
	}
	expect_bad("{\"conditions\":{\"a\":1},\"trajectory\":{}}",
		   "must be an array", "/trajectory");
	expect_bad("{\"conditions\":{\"a\":1},\"meta\":[]}", "must be an object",
		   "/meta");
	/* 64 characters is the longest name */
	{
		char name[70], j[128];
		memset(name, 'z', 64);
		name[64] = 0;
		snprintf(j, sizeof(j), "{\"conditions\":{\"%s\":1}}", name);
		airi_manifest_free(parse_ok(j));
	}
	/* JSON errors come through as EJSON */
	airi_manifest *x = NULL;
	airi_error err;
	assert_int_equal(airi_manifest_parse("{\"conditions\":{\"a\":1,\"a\":2}}",
					     29, &x, &err),
			 AIRI_EJSON);
	assert_string_equal(err.message, "duplicate key \"a\" in /conditions");
}

static void test_borrow(void **state)
{
	(void)state;
	const char *j = "{\"conditions\":{\"input\":{\"messages\":[{\"content\":"
			"\"line1\\nline2\",\"role\":\"user\"}]}}}";
	airi_manifest *a = parse_ok(j), *b = NULL;
	assert_int_equal(airi_manifest_parse_borrow(j, strlen(j), &b, NULL), 0);
	assert_true(airi_digest_equal(airi_manifest_run_id(a),
				      airi_manifest_run_id(b)));
	char *c;
	size_t n;
	assert_int_equal(airi_manifest_canon(b, &c, &n), 0);
	assert_string_equal(c, j);
	free(c);
	airi_manifest_free(a);
	airi_manifest_free(b);
	airi_manifest_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_independent),
		cmocka_unit_test(test_minimal_run_object),
		cmocka_unit_test(test_equalities),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_borrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
