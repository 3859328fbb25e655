/*
 * fuzz_manifest.c - libFuzzer target for manifests and everything computed
 * from one (lib/manifest.c, lib/check.c, lib/diff.c), through the public
 * API only.
 *
 * For every input it checks:
 *  - airi_manifest_parse() accepts exactly what docs/spec.md sections 2
 *    and 5 accept (JSON acceptance by the independent checker in
 *    fuzz_ref.h, manifest rules re-checked here), with AIRI_EJSON or
 *    AIRI_EMANIFEST and a sane error otherwise; the borrowing variant
 *    agrees;
 *  - the identities, recomputed here from section 6 of docs/spec.md
 *    (section digests, conditions object, trajectory object, run object),
 *    equal the library's, and airi_manifest_ids_json() is byte for byte
 *    the object of section 6.6;
 *  - airi_manifest_check() gives a verdict and a report that is valid,
 *    canonical JSON naming that verdict;
 *  - airi_manifest_canon() re-parses as a manifest with the same run ID,
 *    conditions ID and ids JSON;
 *  - airi_run_diff(m, m) and against the re-parsed copy report same == 1
 *    and kind "same_run"; against two fixed manifests it reports
 *    same == 0; every report is valid, canonical JSON.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "airi.h"
#include "fuzz_ref.h"

#include <stddef.h>
#include <stdint.h>

static void check_error(const airi_error *err, int rc, const unsigned char *s,
			size_t n)
{
	REQUIRE(err->code == rc);
	REQUIRE(memchr(err->message, 0, sizeof(err->message)) != NULL);
	REQUIRE(err->message[0] != 0);
	REQUIRE(memchr(err->pointer, 0, sizeof(err->pointer)) != NULL);
	if (err->has_position) {
		size_t line = 1, col = 1;
		REQUIRE(err->offset <= n);
		for (size_t i = 0; i < err->offset; i++) {
			if (s[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		REQUIRE(err->line == line && err->column == col);
	} else {
		REQUIRE(rc != AIRI_EJSON);
	}
}

/* What sections 5 says of an accepted JSON value: 0 or AIRI_EMANIFEST. */
static int ref_manifest_rules(const airi_value *r)
{
	const airi_value *cond = NULL, *traj = NULL, *meta = NULL;
	if (airi_value_type(r) != AIRI_OBJECT)
		return AIRI_EMANIFEST;
	for (size_t i = 0; i < airi_value_count(r); i++) {
		size_t kn;
		const char *k = airi_value_key_at(r, i, &kn);
		const airi_value *v = airi_value_at(r, i);
		if (kn == 10 && !memcmp(k, "conditions", 10))
			cond = v;
		else if (kn == 10 && !memcmp(k, "trajectory", 10))
			traj = v;
		else if (kn == 4 && !memcmp(k, "meta", 4))
			meta = v;
		else if (!(kn == 6 && !memcmp(k, "output", 6)))
			return AIRI_EMANIFEST;
	}
	if (!cond || airi_value_type(cond) != AIRI_OBJECT ||
	    airi_value_count(cond) == 0)
		return AIRI_EMANIFEST;
	if (traj && airi_value_type(traj) != AIRI_ARRAY)
		return AIRI_EMANIFEST;
	if (meta && airi_value_type(meta) != AIRI_OBJECT)
		return AIRI_EMANIFEST;
	for (size_t i = 0; i < airi_value_count(cond); i++) {
		size_t kn;
		const char *k = airi_value_key_at(cond, i, &kn);
		/* ^[a-z][a-z0-9_]{0,63}$ */
		if (kn < 1 || kn > 64 || k[0] < 'a' || k[0] > 'z')
			return AIRI_EMANIFEST;
		for (size_t j = 1; j < kn; j++)
			if (!((k[j] >= 'a' && k[j] <= 'z') ||
			      (k[j] >= '0' && k[j] <= '9') || k[j] == '_'))
				return AIRI_EMANIFEST;
	}
	return 0;
}

/* A growable string for building expected texts. */
struct sb {
	char *p;
	size_t n, cap;
};
static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		REQUIRE(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}
static void sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}
static void sb_digest(struct sb *b, const airi_digest *d)
{
	char s[AIRI_DIGEST_STRLEN];
	airi_digest_format(d, s);
	sb_adds(b, "\"");
	sb_adds(b, s);
	sb_adds(b, "\"");
}
static void sb_digest_of(struct sb *b, airi_digest *out)
{
	REQUIRE(airi_digest_bytes(b->p ? b->p : "", b->n, out) == 0);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recomputes every identity of m from its tree (docs/spec.md section 6)
 * and compares with the library, ids JSON included. */
static void check_identities(const airi_manifest *m)
{
	const airi_value *root = airi_manifest_root(m);
	const airi_value *cond = airi_value_get(root, "conditions");
	const airi_value *traj = airi_value_get(root, "trajectory");
	const airi_value *out = airi_value_get(root, "output");
	const airi_value *meta = airi_value_get(root, "meta");
	size_t ns = airi_manifest_section_count(m);
	struct sb b = {0};
	airi_digest want, cid, tid, oid, mid, rid;

	REQUIRE(cond != NULL && ns == airi_value_count(cond) && ns > 0);
	REQUIRE(airi_manifest_trajectory(m) == traj);
	REQUIRE(airi_manifest_output(m) == out);
	REQUIRE(airi_manifest_meta(m) == meta);

	/* section names in canonical order (ASCII: byte order) */
	char **names = calloc(ns, sizeof(*names));
	REQUIRE(names != NULL);
	for (size_t i = 0; i < ns; i++) {
		names[i] = (char *)airi_manifest_section_name(m, i);
		REQUIRE(names[i] != NULL);
	}
	qsort(names, ns, sizeof(*names), cmp_names);
	for (size_t i = 0; i < ns; i++) {
		REQUIRE(!strcmp(names[i], airi_manifest_section_name(m, i)));
		if (i)
			REQUIRE(strcmp(names[i - 1], names[i]) < 0);
	}
	free(names);
	REQUIRE(airi_manifest_section_name(m, ns) == NULL);
	REQUIRE(airi_manifest_section_value(m, ns) == NULL);
	REQUIRE(airi_manifest_section_digest(m, ns) == NULL);

	/* 6.1, 6.2 */
	sb_adds(&b, "{\"sections\":{");
	for (size_t i = 0; i < ns; i++) {
		const char *name = airi_manifest_section_name(m, i);
		const airi_value *v = airi_manifest_section_value(m, i);
		size_t kn;
		const char *k = airi_value_key_at(cond, i, &kn);
		REQUIRE(kn == strlen(name) && !memcmp(k, name, kn));
		REQUIRE(v == airi_value_at(cond, i));
		REQUIRE(airi_manifest_section(m, name) == v);
		REQUIRE(airi_digest_value(v, &want) == 0);
		REQUIRE(airi_digest_equal(&want,
					  airi_manifest_section_digest(m, i)));
		if (i)
			sb_adds(&b, ",");
		sb_adds(&b, "\"");
		sb_adds(&b, name);
		sb_adds(&b, "\":");
		sb_digest(&b, &want);
	}
	sb_adds(&b, "},\"type\":\"airi.conditions/1\"}");
	sb_digest_of(&b, &cid);
	REQUIRE(airi_digest_equal(&cid, airi_manifest_conditions_id(m)));

	/* 6.3 */
	if (traj) {
		size_t nst = airi_value_count(traj);
		REQUIRE(airi_manifest_step_count(m) == nst);
		sb_adds(&b, "{\"steps\":[");
		for (size_t i = 0; i < nst; i++) {
			REQUIRE(airi_digest_value(airi_value_at(traj, i),
						  &want) == 0);
			REQUIRE(airi_digest_equal(
				&want, airi_manifest_step_digest(m, i)));
			if (i)
				sb_adds(&b, ",");
			sb_digest(&b, &want);
		}
		sb_adds(&b, "],\"type\":\"airi.trajectory/1\"}");
		sb_digest_of(&b, &tid);
		REQUIRE(airi_digest_equal(&tid,
					  airi_manifest_trajectory_digest(m)));
		REQUIRE(airi_manifest_step_digest(m, nst) == NULL);
	} else {
		REQUIRE(airi_manifest_trajectory_digest(m) == NULL);
		REQUIRE(airi_manifest_step_count(m) == 0);
	}
	if (out) {
		REQUIRE(airi_digest_value(out, &oid) == 0);
		REQUIRE(airi_digest_equal(&oid,
					  airi_manifest_output_digest(m)));
	} else {
		REQUIRE(airi_manifest_output_digest(m) == NULL);
	}
	if (meta) {
		REQUIRE(airi_digest_value(meta, &mid) == 0);
		REQUIRE(airi_digest_equal(&mid, airi_manifest_meta_digest(m)));
	} else {
		REQUIRE(airi_manifest_meta_digest(m) == NULL);
	}

	/* 6.4 */
	sb_adds(&b, "{\"conditions\":");
	sb_digest(&b, &cid);
	if (meta) {
		sb_adds(&b, ",\"meta\":");
		sb_digest(&b, &mid);
	}
	if (out) {
		sb_adds(&b, ",\"output\":");
		sb_digest(&b, &oid);
	}
	if (traj) {
		sb_adds(&b, ",\"trajectory\":");
		sb_digest(&b, &tid);
	}
	sb_adds(&b, ",\"type\":\"airi.run/1\"}");
	sb_digest_of(&b, &rid);
	REQUIRE(airi_digest_equal(&rid, airi_manifest_run_id(m)));

	/* 6.6 */
	sb_adds(&b, "{\"conditions\":");
	sb_digest(&b, &cid);
	if (meta) {
		sb_adds(&b, ",\"meta\":");
		sb_digest(&b, &mid);
	}
	if (out) {
		sb_adds(&b, ",\"output\":");
		sb_digest(&b, &oid);
	}
	sb_adds(&b, ",\"run\":");
	sb_digest(&b, &rid);
	sb_adds(&b, ",\"sections\":{");
	for (size_t i = 0; i < ns; i++) {
		if (i)
			sb_adds(&b, ",");
		sb_adds(&b, "\"");
		sb_adds(&b, airi_manifest_section_name(m, i));
		sb_adds(&b, "\":");
		sb_digest(&b, airi_manifest_section_digest(m, i));
	}
	sb_adds(&b, "}");
	if (traj) {
		sb_adds(&b, ",\"trajectory\":");
		sb_digest(&b, &tid);
	}
	sb_adds(&b, "}");
	char *ids;
	size_t idn;
	REQUIRE(airi_manifest_ids_json(m, &ids, &idn) == 0);
	REQUIRE(ids[idn] == 0);
	if (idn != b.n || memcmp(ids, b.p, idn)) {
		fprintf(stderr, "ids json:\n  airi: %s\n  spec: %s\n", ids,
			b.p);
		abort();
	}
	free(ids);
	free(b.p);
}

/* A report must be valid JSON in canonical form. Returns the parsed
 * document (free with airi_json_free()). */
static airi_json *check_report(const char *what, const char *p, size_t n)
{
	airi_json *doc;
	airi_error err;
	char *c;
	size_t cn;
	REQUIRE(p[n] == 0);
	if (airi_json_parse(p, n, &doc, &err)) {
		fprintf(stderr, "%s report is not valid JSON: %s\n%.*s\n", what,
			err.message, (int)(n > 4000 ? 4000 : n), p);
		abort();
	}
	REQUIRE(airi_canon(airi_json_root(doc), &c, &cn) == 0);
	if (cn != n || memcmp(c, p, n)) {
		fprintf(stderr, "%s report is not canonical\n", what);
		abort();
	}
	free(c);
	return doc;
}

static int str_is(const airi_value *v, const char *s)
{
	size_t n;
	const char *p = airi_value_string(v, &n);
	return p && n == strlen(s) && !memcmp(p, s, n);
}

static void check_check(const airi_manifest *m)
{
	airi_verdict v = (airi_verdict)-1;
	char *rep;
	size_t n;
	REQUIRE(airi_manifest_check(m, &v, &rep, &n) == 0);
	REQUIRE(v == AIRI_PINNED || v == AIRI_PARTIAL || v == AIRI_OPAQUE);
	if (!ref_utf8_valid(rep, n) && allowed("check-utf8")) {
		free(rep);
		return;
	}
	airi_json *doc = check_report("check", rep, n);
	const airi_value *r = airi_json_root(doc);
	REQUIRE(str_is(airi_value_get(r, "verdict"), airi_verdict_name(v)));
	const airi_value *secs = airi_value_get(r, "sections");
	REQUIRE(airi_value_type(secs) == AIRI_ARRAY);
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		REQUIRE(airi_value_type(airi_value_get(s, "name")) ==
			AIRI_STRING);
		REQUIRE(airi_value_type(airi_value_get(s, "reason")) ==
			AIRI_STRING);
		const airi_value *st = airi_value_get(s, "status");
		REQUIRE(str_is(st, "ok") || str_is(st, "missing") ||
			str_is(st, "unpinned") || str_is(st, "absent"));
	}
	REQUIRE(airi_value_type(airi_value_get(r, "notes")) == AIRI_ARRAY);
	airi_json_free(doc);
	free(rep);
}

static void check_diff(const airi_manifest *a, const airi_manifest *b)
{
	int same = -1;
	char *rep;
	size_t n;
	int want = airi_digest_equal(airi_manifest_run_id(a),
				     airi_manifest_run_id(b));
	REQUIRE(airi_run_diff(a, b, &same, &rep, &n) == 0);
	REQUIRE(same == want);
	airi_json *doc = check_report("diff", rep, n);
	const airi_value *r = airi_json_root(doc);
	REQUIRE(airi_value_type(airi_value_get(r, "same_run")) ==
		(want ? AIRI_TRUE : AIRI_FALSE));
	const airi_value *kind =
		airi_value_get(airi_value_get(r, "verdict"), "kind");
	REQUIRE(str_is(kind, "same_run") == want);
	if (want) {
		const airi_value *d = airi_value_get(
			airi_value_get(r, "verdict"), "differing_sections");
		REQUIRE(airi_value_type(d) == AIRI_ARRAY &&
			airi_value_count(d) == 0);
	}
	airi_json_free(doc);
	free(rep);
}

/* Two fixed runs to diff the input against: one small, one with every
 * member, a trajectory and nested values. */
static const char fixed_a[] = "{\"conditions\":{\"model\":\"x\"}}";
static const char fixed_b[] =
	"{\"conditions\":{\"model\":{\"name\":\"m\",\"resolved\":\"m-1\"},"
	"\"params\":{\"seed\":1,\"temperature\":0.5,"
	"\"a/b~c\":[1,2,{\"x\":null}]},"
	"\"system\":\"be brief\",\"input\":[{\"role\":\"user\",\"content\":"
	"\"hi\\u00e9\"}],\"environment\":{}},"
	"\"trajectory\":[1,\"two\",{\"three\":3},[4],null,1],"
	"\"output\":{\"content\":\"hello\"},\"meta\":{\"start\":"
	"\"2024-01-01T00:00:00Z\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static airi_manifest *fa, *fb;
	const char *text = (const char *)data;
	airi_manifest *m = NULL, *mb = NULL, *m2 = NULL;
	airi_error err, err2;
	int rc, rcb, want;

	if (!fa) {
		REQUIRE(airi_manifest_parse(fixed_a, sizeof(fixed_a) - 1, &fa,
					    NULL) == 0);
		REQUIRE(airi_manifest_parse(fixed_b, sizeof(fixed_b) - 1, &fb,
					    NULL) == 0);
	}

	/* what the spec says */
	if (!ref_accepts(data, size)) {
		want = AIRI_EJSON;
	} else {
		airi_json *doc;
		REQUIRE(airi_json_parse(text, size, &doc, NULL) == 0);
		want = ref_manifest_rules(airi_json_root(doc));
		airi_json_free(doc);
	}

	memset(&err, 0xA5, sizeof(err));
	rc = airi_manifest_parse(text, size, &m, &err);
	rcb = airi_manifest_parse_borrow(text, size, &mb, &err2);
	REQUIRE(rc == rcb);
	if (rc != want) {
		fprintf(stderr, "airi_manifest_parse: %d, spec: %d (%s)\n", rc,
			want, rc ? err.message : "accepted");
		abort();
	}
	if (rc) {
		REQUIRE(m == NULL && mb == NULL);
		check_error(&err, rc, data, size);
		REQUIRE(err.offset == err2.offset &&
			!strcmp(err.message, err2.message));
		return 0;
	}
	REQUIRE(airi_digest_equal(airi_manifest_run_id(m),
				  airi_manifest_run_id(mb)));

	check_identities(m);
	check_check(m);

	/* the canonical manifest is the same run */
	char *canon, *c2, *ids1, *ids2;
	size_t cn, c2n, n1, n2;
	REQUIRE(airi_manifest_canon(m, &canon, &cn) == 0);
	REQUIRE(airi_canon(airi_manifest_root(m), &c2, &c2n) == 0);
	REQUIRE(cn == c2n && !memcmp(canon, c2, cn));
	free(c2);
	rc = airi_manifest_parse(canon, cn, &m2, &err);
	if (rc && allowed("canon-bigint") &&
	    strstr(err.message, "exceeds 2^53")) {
		free(canon);
		airi_manifest_free(m);
		airi_manifest_free(mb);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "canonical manifest rejected: %s\n",
			err.message);
		abort();
	}
	REQUIRE(airi_digest_equal(airi_manifest_run_id(m),
				  airi_manifest_run_id(m2)));
	REQUIRE(airi_digest_equal(airi_manifest_conditions_id(m),
				  airi_manifest_conditions_id(m2)));
	REQUIRE(airi_manifest_ids_json(m, &ids1, &n1) == 0);
	REQUIRE(airi_manifest_ids_json(m2, &ids2, &n2) == 0);
	REQUIRE(n1 == n2 && !memcmp(ids1, ids2, n1));
	free(ids1);
	free(ids2);
	REQUIRE(airi_manifest_canon(m2, &c2, &c2n) == 0);
	REQUIRE(cn == c2n && !memcmp(canon, c2, cn));
	free(c2);
	free(canon);

	check_diff(m, m);
	check_diff(m, m2);
	check_diff(m2, mb);
	check_diff(m, fa);
	check_diff(fa, m);
	check_diff(m, fb);
	check_diff(fb, m);

	airi_manifest_free(m);
	airi_manifest_free(mb);
	airi_manifest_free(m2);
	airi_manifest_free(NULL);
	return 0;
}
