/*
 * bundle.c - the proof a reviewer can check offline: one canonical JSON
 * file holding a run's disclosed objects (each with its digest, the
 * withheld ones with their digest only), its log entry, an inclusion proof
 * and the signed checkpoint the proof is against (docs/spec.md,
 * "Bundles"). Verification recomputes every identity from what is
 * disclosed and trusts nothing but the verifier key; each failure is named
 * by a stable reason code.
 */
#define _GNU_SOURCE
#include "store.h"

#include <stdio.h>
#include <string.h>

/* ---- export ------------------------------------------------------------- */

static int in_list(const char *list, const char *name)
{
	return airi__name_listed(list, name, strlen(name));
}

static void disclosed(airi__jw *w, const airi_digest *d, const airi_value *v,
		      int withhold)
{
	airi__jw_obj(w);
	airi__jw_key(w, "digest");
	airi__jw_digest(w, d);
	if (!withhold) {
		airi__jw_key(w, "value");
		airi__jw_value(w, v);
	}
	airi__jw_end_obj(w);
}

int airi_bundle_export(airi_store *s, const airi_digest *run,
		       const char *withhold, const airi_key *signer,
		       char **out, size_t *len, airi_error *err)
{
	airi_manifest *m = NULL;
	char *entry = NULL, *note = NULL;
	size_t entry_len, nproof = 0;
	uint64_t index;
	unsigned char (*proof)[AIRI_HASH_SIZE] = NULL;
	airi_checkpoint cp;
	size_t tlen;
	int rc;
	if ((rc = airi_store_fetch(s, run, &m, err)))
		return rc;
	/* every name to withhold must exist */
	for (const char *p = withhold; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char name[80];
		snprintf(name, sizeof(name), "%.*s", (int)(n < 79 ? n : 79), p);
		int ok = (!strcmp(name, "output") && airi_manifest_output(m)) ||
			 (!strcmp(name, "meta") && airi_manifest_meta(m)) ||
			 (!strcmp(name, "trajectory") &&
			  airi_manifest_trajectory(m)) ||
			 (n && airi_manifest_section(m, name));
		if (!ok) {
			airi_manifest_free(m);
			return airi__err(err, AIRI_EINVAL,
					 "cannot withhold \"%s\": the run has "
					 "no such section or member",
					 name);
		}
		p = c ? c + 1 : NULL;
	}
	if ((rc = airi_store_log_entry(s, run, &index, &entry, &entry_len,
				       err)) ||
	    (rc = airi_store_checkpoint(s, signer, NULL, &note, err)))
		goto done;
	if ((rc = airi__checkpoint_parse(note, strlen(note), &cp, &tlen, err))) {
		rc = airi__err(err, AIRI_ECORRUPT,
			       "the stored checkpoint is malformed");
		goto done;
	}
	if (cp.size <= index) {
		rc = airi__err(err, AIRI_ENOTFOUND,
			       "no signed checkpoint covers this run yet (the "
			       "newest is for %llu entries, the run is entry "
			       "%llu): sign one with airi checkpoint",
			       (unsigned long long)cp.size,
			       (unsigned long long)index);
		goto done;
	}
	{
		unsigned char root[AIRI_HASH_SIZE];
		if ((rc = airi_store_log_root(s, cp.size, root, err)))
			goto done;
		if (memcmp(root, cp.root, AIRI_HASH_SIZE)) {
			rc = airi__err(err, AIRI_ECORRUPT,
				       "the log's tree no longer matches its "
				       "signed checkpoint of size %llu",
				       (unsigned long long)cp.size);
			goto done;
		}
	}
	if ((rc = airi_store_log_inclusion(s, index, cp.size, &proof, &nproof,
					   err)))
		goto done;

	airi__jw w;
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "checkpoint");
	airi__jw_str(&w, note);
	airi__jw_key(&w, "entry");
	airi__jw_raw(&w, entry, entry_len);
	airi__jw_key(&w, "inclusion");
	airi__jw_obj(&w);
	airi__jw_key(&w, "hashes");
	airi__jw_arr(&w);
	for (size_t i = 0; i < nproof; i++) {
		char *b = airi__b64_encode(proof[i], AIRI_HASH_SIZE);
		airi__jw_str(&w, b ? b : "");
		free(b);
	}
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "index");
	airi__jw_int(&w, (long long)index);
	airi__jw_key(&w, "size");
	airi__jw_int(&w, (long long)cp.size);
	airi__jw_end_obj(&w);
	airi__jw_key(&w, "media_type");
	airi__jw_str(&w, AIRI_BUNDLE_MEDIA_TYPE);
	airi__jw_key(&w, "run");
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_obj(&w);
	for (size_t i = 0; i < airi_manifest_section_count(m); i++) {
		const char *name = airi_manifest_section_name(m, i);
		airi__jw_key(&w, name);
		disclosed(&w, airi_manifest_section_digest(m, i),
			  airi_manifest_section_value(m, i),
			  in_list(withhold, name));
	}
	airi__jw_end_obj(&w);
	if (airi_manifest_meta(m)) {
		airi__jw_key(&w, "meta");
		disclosed(&w, airi_manifest_meta_digest(m), airi_manifest_meta(m),
			  in_list(withhold, "meta"));
	}
	if (airi_manifest_output(m)) {
		airi__jw_key(&w, "output");
		disclosed(&w, airi_manifest_output_digest(m),
			  airi_manifest_output(m), in_list(withhold, "output"));
	}
	if (airi_manifest_trajectory(m)) {
		airi__jw_key(&w, "trajectory");
		airi__jw_obj(&w);
		airi__jw_key(&w, "digest");
		airi__jw_digest(&w, airi_manifest_trajectory_digest(m));
		if (!in_list(withhold, "trajectory")) {
			airi__jw_key(&w, "steps");
			airi__jw_arr(&w);
			for (size_t i = 0; i < airi_manifest_step_count(m); i++)
				disclosed(&w, airi_manifest_step_digest(m, i),
					  airi_value_at(airi_manifest_trajectory(m),
							i),
					  0);
			airi__jw_end_arr(&w);
		}
		airi__jw_end_obj(&w);
	}
	airi__jw_end_obj(&w);
	airi__jw_key(&w, "type");
	airi__jw_str(&w, "airi.bundle/1");
	airi__jw_end_obj(&w);
	*out = airi__jw_finish(&w, len);
	rc = *out ? 0 : airi__err(err, AIRI_ENOMEM, "out of memory");
done:
	free(proof);
	free(entry);
	free(note);
	airi_manifest_free(m);
	return rc;
}

/* ---- verify ------------------------------------------------------------- */

static int fmt_err(airi_error *err, const char *ptr, const char *what)
{
	airi__verr(err, "E-format", "%s%s%s", ptr, *ptr ? ": " : "", what);
	if (err) {
		snprintf(err->pointer, sizeof(err->pointer), "%s", ptr);
		err->has_pointer = 1;
	}
	return AIRI_EVERIFY;
}

/* The digest string of {"digest": ...}; checks the member set. */
static int digest_member(const airi_value *o, const char *ptr, int allow_value,
			 int allow_steps, airi_digest *d, airi_error *err)
{
	if (airi_value_type(o) != AIRI_OBJECT)
		return fmt_err(err, ptr, "expected an object");
	for (size_t i = 0; i < airi_value_count(o); i++) {
		size_t kn;
		const char *k = airi_value_key_at(o, i, &kn);
		if (!(kn == 6 && !memcmp(k, "digest", 6)) &&
		    !(allow_value && kn == 5 && !memcmp(k, "value", 5)) &&
		    !(allow_steps && kn == 5 && !memcmp(k, "steps", 5)))
			return fmt_err(err, ptr, "unexpected member");
	}
	size_t n;
	const char *s = airi_value_string(airi_value_get(o, "digest"), &n);
	char tmp[80];
	if (!s || n != 71 || strncmp(s, "sha256:", 7))
		return fmt_err(err, ptr, "missing or malformed digest");
	memcpy(tmp, s, n);
	tmp[n] = 0;
	for (size_t i = 7; i < n; i++)
		if (!((tmp[i] >= '0' && tmp[i] <= '9') ||
		      (tmp[i] >= 'a' && tmp[i] <= 'f')))
			return fmt_err(err, ptr, "malformed digest");
	airi_digest_parse(tmp, d);
	return 0;
}

/* Checks a disclosed value against its digest. *shown = 1 if disclosed. */
static int check_disclosed(const airi_value *o, const char *ptr, airi_digest *d,
			   int *shown, airi_error *err)
{
	int rc = digest_member(o, ptr, 1, 0, d, err);
	if (rc)
		return rc;
	const airi_value *v = airi_value_get(o, "value");
	*shown = v != NULL;
	if (v) {
		airi_digest got;
		if (airi_digest_value(v, &got))
			return fmt_err(err, ptr, "cannot digest the value");
		if (!airi_digest_equal(&got, d)) {
			airi__verr(err, "E-digest", "%s: the disclosed value does "
						    "not match its digest",
				   ptr);
			if (err) {
				snprintf(err->pointer, sizeof(err->pointer), "%s",
					 ptr);
				err->has_pointer = 1;
			}
			return AIRI_EVERIFY;
		}
	}
	return 0;
}

static int only_members(const airi_value *o, const char *const *names,
			size_t n)
{
	for (size_t i = 0; i < airi_value_count(o); i++) {
		size_t kn;
		const char *k = airi_value_key_at(o, i, &kn);
		int ok = 0;
		for (size_t j = 0; j < n && !ok; j++)
			ok = strlen(names[j]) == kn && !memcmp(names[j], k, kn);
		if (!ok)
			return 0;
	}
	return 1;
}

static int get_uint(const airi_value *v, uint64_t *out)
{
	if (airi_value_type(v) != AIRI_NUMBER)
		return -1;
	double d = airi_value_number(v);
	if (d < 0 || d >= 9007199254740992.0 || d != (double)(uint64_t)d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

int airi_bundle_verify(const char *bundle, size_t len,
		       const airi_key *verifier, char **report,
		       size_t *report_len, airi_error *err)
{
	static const char *const top[] = {"checkpoint", "entry", "inclusion",
					  "media_type", "run", "type"};
	airi_json *doc = NULL;
	airi_error perr;
	int rc = AIRI_EVERIFY;
	airi__buf cond, traj, runobj;
	airi__jw w;
	airi__buf_init(&cond);
	airi__buf_init(&traj);
	airi__buf_init(&runobj);
	airi__jw_init(&w);

	if (len > ((size_t)1 << 32))
		return airi__verr(err, "E-format", "bundle larger than 4 GiB");
	if (airi__json_parse_ex(bundle, len, AIRI__PARSE_CANONICAL, &doc,
				&perr)) {
		airi__verr(err, "E-format", "not valid JSON: %s", perr.message);
		if (err) {
			err->has_position = perr.has_position;
			err->offset = perr.offset;
			err->line = perr.line;
			err->column = perr.column;
		}
		return AIRI_EVERIFY;
	}
	const airi_value *r = airi_json_root(doc);
	size_t n;
	const char *s;
	if (airi_value_type(r) != AIRI_OBJECT || !only_members(r, top, 6)) {
		fmt_err(err, "", "a bundle is an object with exactly checkpoint, "
				 "entry, inclusion, media_type, run, type");
		goto done;
	}
	s = airi_value_string(airi_value_get(r, "type"), &n);
	if (!s || n != 13 || memcmp(s, "airi.bundle/1", 13)) {
		fmt_err(err, "/type", "not an airi.bundle/1");
		goto done;
	}
	s = airi_value_string(airi_value_get(r, "media_type"), &n);
	if (!s || n != strlen(AIRI_BUNDLE_MEDIA_TYPE) ||
	    memcmp(s, AIRI_BUNDLE_MEDIA_TYPE, n)) {
		fmt_err(err, "/media_type", "unknown media type");
		goto done;
	}

	/* the run: recompute every digest from what is disclosed */
	const airi_value *run = airi_value_get(r, "run");
	static const char *const run_members[] = {"conditions", "meta", "output",
						  "trajectory"};
	if (airi_value_type(run) != AIRI_OBJECT ||
	    !only_members(run, run_members, 4)) {
		fmt_err(err, "/run", "expected an object with conditions and "
				     "optionally meta, output, trajectory");
		goto done;
	}
	const airi_value *secs = airi_value_get(run, "conditions");
	if (airi_value_type(secs) != AIRI_OBJECT || airi_value_count(secs) == 0) {
		fmt_err(err, "/run/conditions", "expected a non-empty object");
		goto done;
	}
	airi_digest cid, rid, d;
	char hex[AIRI_DIGEST_STRLEN];

	airi__buf disclosed_list, withheld_list;
	airi__buf_init(&disclosed_list);
	airi__buf_init(&withheld_list);
	airi__buf_adds(&cond, "{\"sections\":{");
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		size_t kn;
		const char *k = airi_value_key_at(secs, i, &kn);
		char ptr[200] = "/run/conditions";
		int shown;
		airi__pointer_append(ptr, sizeof(ptr), k, kn);
		int valid = kn >= 1 && kn <= 64 && k[0] >= 'a' && k[0] <= 'z';
		for (size_t j = 1; j < kn && valid; j++)
			valid = (k[j] >= 'a' && k[j] <= 'z') ||
				(k[j] >= '0' && k[j] <= '9') || k[j] == '_';
		if (!valid) {
			fmt_err(err, ptr, "invalid section name");
			goto fail_lists;
		}
		if (check_disclosed(airi_value_at(secs, i), ptr, &d, &shown, err))
			goto fail_lists;
		if (i)
			airi__buf_addc(&cond, ',');
		airi__canon_string(&cond, k, kn);
		airi_digest_format(&d, hex);
		airi__buf_printf(&cond, ":\"%s\"", hex);
		airi__buf *list = shown ? &disclosed_list : &withheld_list;
		if (list->n)
			airi__buf_addc(list, ',');
		airi__canon_string(list, k, kn);
	}
	airi__buf_adds(&cond, "},\"type\":\"airi.conditions/1\"}");
	airi__digest_buf(&cond, &cid);

	airi_digest md, od, td;
	int has_meta = 0, has_out = 0, has_traj = 0, shown;
	if (airi_value_get(run, "meta")) {
		if (check_disclosed(airi_value_get(run, "meta"), "/run/meta", &md,
				    &shown, err))
			goto fail_lists;
		has_meta = 1;
		airi__buf *list = shown ? &disclosed_list : &withheld_list;
		airi__buf_adds(list, list->n ? ",\"meta\"" : "\"meta\"");
	}
	if (airi_value_get(run, "output")) {
		if (check_disclosed(airi_value_get(run, "output"), "/run/output",
				    &od, &shown, err))
			goto fail_lists;
		has_out = 1;
		airi__buf *list = shown ? &disclosed_list : &withheld_list;
		airi__buf_adds(list, list->n ? ",\"output\"" : "\"output\"");
	}
	if (airi_value_get(run, "trajectory")) {
		const airi_value *t = airi_value_get(run, "trajectory");
		if (digest_member(t, "/run/trajectory", 0, 1, &td, err))
			goto fail_lists;
		const airi_value *steps = airi_value_get(t, "steps");
		if (steps) {
			if (airi_value_type(steps) != AIRI_ARRAY) {
				fmt_err(err, "/run/trajectory/steps",
					"expected an array");
				goto fail_lists;
			}
			airi__buf_adds(&traj, "{\"steps\":[");
			int all_shown = 1;
			for (size_t i = 0; i < airi_value_count(steps); i++) {
				char ptr[64];
				airi_digest sd;
				snprintf(ptr, sizeof(ptr), "/run/trajectory/steps/%zu",
					 i);
				if (check_disclosed(airi_value_at(steps, i), ptr,
						    &sd, &shown, err))
					goto fail_lists;
				all_shown &= shown;
				airi_digest_format(&sd, hex);
				airi__buf_printf(&traj, "%s\"%s\"", i ? "," : "",
						 hex);
			}
			airi__buf_adds(&traj, "],\"type\":\"airi.trajectory/1\"}");
			if (!all_shown)
				steps = NULL; /* reported as withheld */
			airi_digest got;
			airi__digest_buf(&traj, &got);
			if (!airi_digest_equal(&got, &td)) {
				airi__verr(err, "E-digest",
					   "/run/trajectory: the steps do not "
					   "match the trajectory digest");
				if (err) {
					snprintf(err->pointer, sizeof(err->pointer),
						 "/run/trajectory");
					err->has_pointer = 1;
				}
				goto fail_lists;
			}
		}
		has_traj = 1;
		airi__buf *list = steps ? &disclosed_list : &withheld_list;
		airi__buf_adds(list, list->n ? ",\"trajectory\"" : "\"trajectory\"");
	}
	airi_digest_format(&cid, hex);
	airi__buf_printf(&runobj, "{\"conditions\":\"%s\"", hex);
	if (has_meta) {
		airi_digest_format(&md, hex);
		airi__buf_printf(&runobj, ",\"meta\":\"%s\"", hex);
	}
	if (has_out) {
		airi_digest_format(&od, hex);
		airi__buf_printf(&runobj, ",\"output\":\"%s\"", hex);
	}
	if (has_traj) {
		airi_digest_format(&td, hex);
		airi__buf_printf(&runobj, ",\"trajectory\":\"%s\"", hex);
	}
	airi__buf_adds(&runobj, ",\"type\":\"airi.run/1\"}");
	airi__digest_buf(&runobj, &rid);

	/* the log entry must be for this run */
	const airi_value *entry = airi_value_get(r, "entry");
	static const char *const entry_members[] = {"logged_at", "run", "type"};
	const char *when;
	size_t wn;
	if (airi_value_type(entry) != AIRI_OBJECT ||
	    !only_members(entry, entry_members, 3) ||
	    !(s = airi_value_string(airi_value_get(entry, "type"), &n)) ||
	    n != 15 || memcmp(s, "airi.logentry/1", 15) ||
	    !(when = airi_value_string(airi_value_get(entry, "logged_at"), &wn))) {
		fmt_err(err, "/entry", "expected an airi.logentry/1 object");
		goto fail_lists;
	}
	int64_t when_ms;
	if (airi__rfc3339_parse(when, wn, &when_ms)) {
		fmt_err(err, "/entry/logged_at", "not an RFC 3339 time");
		goto fail_lists;
	}
	s = airi_value_string(airi_value_get(entry, "run"), &n);
	airi_digest_format(&rid, hex);
	if (!s || n != 71 || memcmp(s, hex, 71)) {
		airi__verr(err, "E-run",
			   "the log entry is for run %.*s, but the bundle "
			   "describes run %s",
			   (int)(s && n < 100 ? n : 0), s ? s : "", hex);
		goto fail_lists;
	}

	/* the inclusion proof */
	const airi_value *inc = airi_value_get(r, "inclusion");
	static const char *const inc_members[] = {"hashes", "index", "size"};
	uint64_t index, size;
	const airi_value *hashes = airi_value_get(inc, "hashes");
	if (airi_value_type(inc) != AIRI_OBJECT ||
	    !only_members(inc, inc_members, 3) ||
	    get_uint(airi_value_get(inc, "index"), &index) ||
	    get_uint(airi_value_get(inc, "size"), &size) ||
	    airi_value_type(hashes) != AIRI_ARRAY ||
	    airi_value_count(hashes) > 64) {
		fmt_err(err, "/inclusion", "expected {hashes, index, size}");
		goto fail_lists;
	}
	unsigned char proof[64][AIRI_HASH_SIZE];
	for (size_t i = 0; i < airi_value_count(hashes); i++) {
		size_t hn, on;
		const char *h = airi_value_string(airi_value_at(hashes, i), &hn);
		if (!h || airi__b64_decode(h, hn, proof[i], AIRI_HASH_SIZE, &on) ||
		    on != AIRI_HASH_SIZE) {
			char ptr[64];
			snprintf(ptr, sizeof(ptr), "/inclusion/hashes/%zu", i);
			fmt_err(err, ptr, "expected a base64 SHA-256 hash");
			goto fail_lists;
		}
	}

	/* the checkpoint and its signature */
	airi_checkpoint cp;
	const char *note = airi_value_string(airi_value_get(r, "checkpoint"), &n);
	if (!note) {
		fmt_err(err, "/checkpoint", "expected a signed note (a string)");
		goto fail_lists;
	}
	if (airi_checkpoint_verify(note, n, verifier, &cp, err))
		goto fail_lists;
	if (size != cp.size) {
		airi__verr(err, "E-proof",
			   "the proof is for a tree of %llu entries, the "
			   "checkpoint for %llu",
			   (unsigned long long)size, (unsigned long long)cp.size);
		goto fail_lists;
	}
	if (index >= size) {
		airi__verr(err, "E-proof",
			   "entry %llu cannot be in a tree of %llu entries",
			   (unsigned long long)index, (unsigned long long)size);
		goto fail_lists;
	}
	{
		char *canon = NULL;
		size_t cn;
		unsigned char leaf[AIRI_HASH_SIZE];
		if (airi_canon(entry, &canon, &cn)) {
			fmt_err(err, "/entry", "cannot canonicalize");
			goto fail_lists;
		}
		airi_merkle_leaf_hash(canon, cn, leaf);
		free(canon);
		if (airi_merkle_verify_inclusion(
			    index, size, leaf, AIRI_HASH_SIZE,
			    (const unsigned char(*)[AIRI_HASH_SIZE])proof,
			    airi_value_count(hashes), cp.root, AIRI_HASH_SIZE)) {
			airi__verr(err, "E-proof",
				   "the inclusion proof of entry %llu does not "
				   "lead to the checkpoint's root",
				   (unsigned long long)index);
			goto fail_lists;
		}
	}

	/* what was established, in canonical key order */
	airi__jw_obj(&w);
	airi__jw_key(&w, "checkpoint");
	airi__jw_obj(&w);
	airi__jw_key(&w, "key");
	airi__jw_str(&w, airi_key_name(verifier));
	airi__jw_key(&w, "origin");
	airi__jw_str(&w, cp.origin);
	airi__jw_key(&w, "size");
	airi__jw_int(&w, (long long)cp.size);
	airi__jw_end_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_digest(&w, &cid);
	airi__jw_key(&w, "disclosed");
	airi__jw_arr(&w);
	if (disclosed_list.n)
		airi__buf_add(&w.b, disclosed_list.p, disclosed_list.n);
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "index");
	airi__jw_int(&w, (long long)index);
	airi__jw_key(&w, "logged_at");
	airi__jw_strn(&w, when, wn);
	airi__jw_key(&w, "run");
	airi__jw_digest(&w, &rid);
	airi__jw_key(&w, "verified");
	airi__jw_bool(&w, 1);
	airi__jw_key(&w, "withheld");
	airi__jw_arr(&w);
	if (withheld_list.n)
		airi__buf_add(&w.b, withheld_list.p, withheld_list.n);
	airi__jw_end_arr(&w);
	airi__jw_end_obj(&w);
	*report = airi__jw_finish(&w, report_len);
	rc = *report ? 0 : airi__err(err, AIRI_ENOMEM, "out of memory");
	airi__buf_release(&disclosed_list);
	airi__buf_release(&withheld_list);
	goto done;
fail_lists:
	airi__buf_release(&disclosed_list);
	airi__buf_release(&withheld_list);
	rc = AIRI_EVERIFY;
done:
	airi__buf_release(&w.b);
	airi__buf_release(&cond);
	airi__buf_release(&traj);
	airi__buf_release(&runobj);
	airi_json_free(doc);
	return rc;
}
