/*
 * test_builder.c - building a run from code (airi_run_*): the manifest it
 * finishes into has the same identities as the same manifest written as
 * text; each part is checked when it is given; a section set twice keeps
 * the last value.
 */
#include "test_util.h"

static void test_same_identity(void **state)
{
	(void)state;
	airi_run *r;
	airi_manifest *m = NULL, *t = NULL;
	airi_error err;
	assert_int_equal(airi_run_new(&r), 0);
	assert_int_equal(airi_run_set_section(r, "model", "{\"name\":\"x\"}", &err), 0);
	assert_int_equal(airi_run_set_section(r, "params", "{\"seed\": 1}", &err), 0);
	assert_int_equal(airi_run_set_section(r, "params", "{\"seed\": 2.0}", &err), 0);
	assert_int_equal(airi_run_add_step(r, "{\"b\":1, \"a\":2}", &err), 0);
	assert_int_equal(airi_run_add_step(r, "[1,2]", &err), 0);
	assert_int_equal(airi_run_set_output(r, "null", &err), 0);
	assert_int_equal(airi_run_set_meta(r, "{\"start\":\"2026-01-01T00:00:00Z\"}", &err), 0);
	assert_int_equal(airi_run_finish(r, &m, &err), 0);
	const char *text = "{\"meta\":{\"start\":\"2026-01-01T00:00:00Z\"},\"output\":null,"
			   "\"trajectory\":[{\"a\":2,\"b\":1},[1,2]],\"conditions\":"
			   "{\"params\":{\"seed\":2},\"model\":{\"name\":\"x\"}}}";
	assert_int_equal(airi_manifest_parse(text, strlen(text), &t, &err), 0);
	assert_true(airi_digest_equal(airi_manifest_run_id(m), airi_manifest_run_id(t)));
	assert_int_equal(airi_manifest_section_count(m), 2);
	airi_manifest_free(m);
	airi_manifest_free(t);
	/* finishing does not consume the builder */
	assert_int_equal(airi_run_finish(r, &m, &err), 0);
	airi_manifest_free(m);
	airi_run_free(r);
	airi_run_free(NULL);
}

static void test_errors(void **state)
{
	(void)state;
	airi_run *r;
	airi_manifest *m = NULL;
	airi_error err;
	assert_int_equal(airi_run_new(&r), 0);
	assert_int_equal(airi_run_set_section(r, "Model", "1", &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "invalid section name"));
	assert_int_equal(airi_run_set_section(r, "a-b", "1", &err), AIRI_EINVAL);
	assert_int_equal(airi_run_set_section(r, "model", "{\"a\":1,\"a\":2}", &err),
			 AIRI_EJSON);
	assert_non_null(strstr(err.message, "duplicate key"));
	assert_int_equal(err.offset, 7);
	assert_int_equal(airi_run_add_step(r, "[1,", &err), AIRI_EJSON);
	assert_int_equal(airi_run_set_meta(r, "[]", &err), AIRI_EMANIFEST);
	assert_int_equal(airi_run_set_output(r, NULL, &err), AIRI_EINVAL);
	/* no section yet: not a manifest */
	assert_int_equal(airi_run_finish(r, &m, &err), AIRI_EMANIFEST);
	assert_null(m);
	airi_run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_identity),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
