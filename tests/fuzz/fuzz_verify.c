/*
 * fuzz_verify.c - libFuzzer target for offline bundle verification
 * (airi_bundle_verify, lib/bundle.c), the one parser that takes files from
 * other people by design. Public API only.
 *
 * For every input it checks:
 *  - a bundle that verifies under the fixed test key (fuzz_keys.h) proves
 *    one of the three runs that key's log holds: the report names that
 *    run, its conditions ID, log index and logged_at, and the checkpoint
 *    (origin, size, key); anything else is a forgery;
 *  - the report is valid, canonical JSON; "disclosed" and "withheld" are
 *    arrays of strings;
 *  - without a key nothing verifies; a failure has a reason code and,
 *    when it names a position, one inside the input.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "airi.h"
#include "fuzz_keys.h"
#include "fuzz_ref.h"

#include <stddef.h>
#include <stdint.h>

static airi_key *verifier;

static const airi_value *member(const airi_value *o, const char *k)
{
	const airi_value *v = airi_value_get(o, k);
	REQUIRE(v != NULL);
	return v;
}

static int str_is(const airi_value *v, const char *s)
{
	size_t n;
	const char *p = airi_value_string(v, &n);
	return p && n == strlen(s) && !memcmp(p, s, n);
}

static void check_report(const char *rep, size_t n)
{
	airi_json *doc;
	airi_error err;
	char *c;
	size_t cn;
	REQUIRE(rep[n] == 0);
	if (airi_json_parse(rep, n, &doc, &err)) {
		fprintf(stderr, "report is not valid JSON: %s\n", err.message);
		abort();
	}
	const airi_value *r = airi_json_root(doc);
	REQUIRE(airi_canon(r, &c, &cn) == 0);
	REQUIRE(cn == n && !memcmp(c, rep, n));
	free(c);

	REQUIRE(airi_value_type(member(r, "verified")) == AIRI_TRUE);
	const airi_value *cp = member(r, "checkpoint");
	REQUIRE(str_is(member(cp, "key"), airi_key_name(verifier)));
	REQUIRE(str_is(member(cp, "origin"), "localhost/airi"));
	REQUIRE(airi_value_number(member(cp, "size")) == 3);

	const airi_value *run = member(r, "run");
	const struct fuzz_entry *e = NULL;
	for (size_t i = 0; i < sizeof(fuzz_log) / sizeof(*fuzz_log); i++)
		if (str_is(run, fuzz_log[i].run))
			e = &fuzz_log[i];
	if (!e) {
		fprintf(stderr, "a bundle for a run the log does not hold "
				"verified:\n%s\n", rep);
		abort();
	}
	REQUIRE(str_is(member(r, "conditions"), e->conditions));
	REQUIRE(airi_value_number(member(r, "index")) == e->index);
	REQUIRE(str_is(member(r, "logged_at"), e->logged_at));
	const char *lists[] = {"disclosed", "withheld"};
	for (int l = 0; l < 2; l++) {
		const airi_value *a = member(r, lists[l]);
		REQUIRE(airi_value_type(a) == AIRI_ARRAY);
		for (size_t i = 0; i < airi_value_count(a); i++)
			REQUIRE(airi_value_type(airi_value_at(a, i)) ==
				AIRI_STRING);
	}
	airi_json_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *rep = NULL;
	size_t n = 0;
	airi_error err;
	if (!verifier)
		REQUIRE(airi_key_parse(fuzz_verifier_key, &verifier, NULL) == 0);

	memset(&err, 0, sizeof(err));
	int rc = airi_bundle_verify(text, size, verifier, &rep, &n, &err);
	if (rc) {
		REQUIRE(rep == NULL);
		REQUIRE(err.code == rc && err.message[0]);
		REQUIRE(memchr(err.reason, 0, sizeof(err.reason)) != NULL);
		REQUIRE(rc != AIRI_EVERIFY || err.reason[0]);
		if (err.has_position)
			REQUIRE(err.offset <= size);
	} else {
		check_report(rep, n);
		free(rep);
		rep = NULL;
		/* without a key nothing verifies */
		REQUIRE(airi_bundle_verify(text, size, NULL, &rep, &n, NULL) !=
			0);
		free(rep);
	}
	return 0;
}
