/*
 * test_check.c - the completeness verdict: pinned, partial (alias, missing
 * sections, unpinned retrieval) and opaque, with the reasons given.
 */
#include "test_util.h"

static airi_verdict check(const char *j, char **report)
{
	airi_manifest *m = NULL;
	airi_error err;
	airi_verdict v;
	size_t n;
	if (airi_manifest_parse(j, strlen(j), &m, &err))
		fail_msg("%s: %s", j, err.message);
	assert_int_equal(airi_manifest_check(m, &v, report, &n), 0);
	airi_manifest_free(m);
	return v;
}

#define FULL_REST                                                      \
	"\"params\":{\"temperature\":0,\"seed\":1},\"system\":null,"  \
	"\"input\":{\"messages\":[]},\"environment\":{\"os\":\"linux\"}"

static void test_pinned(void **state)
{
	(void)state;
	char *r;
	assert_int_equal(check("{\"conditions\":{\"model\":{\"name\":\"gpt\","
			       "\"resolved\":\"gpt-2026-01\"}," FULL_REST "}}",
			       &r),
			 AIRI_PINNED);
	assert_non_null(strstr(r, "\"verdict\":\"pinned\""));
	assert_non_null(strstr(r, "\"notes\":[]"));
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":{\"weights_digest\":"
			       "\"sha256:" "0123456789abcdef0123456789abcdef"
			       "0123456789abcdef0123456789abcdef\"}," FULL_REST "}}",
			       &r),
			 AIRI_PINNED);
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":{\"fingerprint\":"
			       "\"fp_1\"}," FULL_REST "}}",
			       &r),
			 AIRI_PINNED);
	free(r);
}

static void test_partial(void **state)
{
	(void)state;
	char *r;
	assert_int_equal(check("{\"conditions\":{\"model\":{\"name\":\"gpt-4o\"},"
			       FULL_REST "}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "model \\\"gpt-4o\\\" given as an alias"));
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":\"gpt-4o\"," FULL_REST
			       "}}",
			       &r),
			 AIRI_PARTIAL);
	free(r);
	/* an uppercase digest is not digest-shaped */
	assert_int_equal(check("{\"conditions\":{\"model\":{\"weights_digest\":"
			       "\"sha256:" "0123456789ABCDEF0123456789abcdef"
			       "0123456789abcdef0123456789abcdef\"}," FULL_REST "}}",
			       &r),
			 AIRI_OPAQUE);
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":{\"resolved\":\"x\"},"
			       "\"input\":1}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "\"name\":\"environment\",\"reason\":\"no environment"));
	assert_non_null(strstr(r, "\"name\":\"system\",\"reason\":\"no system section"));
	assert_null(strstr(r, "sampling without a seed"));
	free(r);
	/* retrieval without index state */
	assert_int_equal(check("{\"conditions\":{\"model\":{\"resolved\":\"x\"},"
			       FULL_REST ",\"retrieval\":{\"index\":{\"name\":\"kb\"}}}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "without an index state digest"));
	free(r);
	/* retrieval item without digest */
	assert_int_equal(check("{\"conditions\":{\"model\":{\"resolved\":\"x\"},"
			       FULL_REST ",\"retrieval\":{\"index\":{\"state_digest\":"
			       "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
			       "\"items\":[{\"id\":\"d1\"}]}}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "retrieved item 0 has no content digest"));
	free(r);
}

static void test_opaque_and_notes(void **state)
{
	(void)state;
	char *r;
	assert_int_equal(check("{\"conditions\":{\"input\":\"hi\"}}", &r),
			 AIRI_OPAQUE);
	assert_non_null(strstr(r, "no model section"));
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":{\"provider\":\"x\"}}}",
			       &r),
			 AIRI_OPAQUE);
	free(r);
	assert_int_equal(check("{\"conditions\":{\"model\":{\"resolved\":\"x\"},"
			       "\"params\":{\"temperature\":0.7}}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "sampling without a seed"));
	free(r);
	assert_string_equal(airi_verdict_name(AIRI_PINNED), "pinned");
	assert_string_equal(airi_verdict_name(AIRI_OPAQUE), "opaque");
}

/* a recorder that could not capture a section says why in
 * meta.not_captured: that is the reason given (airi otel receive) */
static void test_not_captured(void **state)
{
	(void)state;
	char *r;
	assert_int_equal(check("{\"conditions\":{\"model\":{\"name\":\"gpt\","
			       "\"resolved\":\"gpt-2026-01\"},\"params\":{\"seed\":1},"
			       "\"environment\":{}},\"meta\":{\"not_captured\":{"
			       "\"system\":\"system prompt not captured by the "
			       "instrumentation\",\"input\":7}}}",
			       &r),
			 AIRI_PARTIAL);
	assert_non_null(strstr(r, "\"reason\":\"system prompt not captured by the "
				  "instrumentation\""));
	/* not a string: the usual reason */
	assert_non_null(strstr(r, "no input section"));
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_opaque_and_notes),
		cmocka_unit_test(test_not_captured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
