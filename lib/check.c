/*
 * check.c - the completeness verdict of docs/spec.md ("Completeness"): for
 * each well-known condition, is it identified, missing, or present but not
 * pinned to an exact version? A run is `pinned` when everything that
 * determines its conditions is identified, `partial` otherwise, and
 * `opaque` when not even the model is named.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *airi_verdict_name(airi_verdict v)
{
	switch (v) {
	case AIRI_PINNED: return "pinned";
	case AIRI_PARTIAL: return "partial";
	case AIRI_OPAQUE: return "opaque";
	}
	return "?";
}

static int nonempty_string(const airi_value *v)
{
	size_t n = 0;
	return airi_value_string(v, &n) && n > 0;
}

static int looks_like_digest(const airi_value *v)
{
	size_t n;
	const char *s = airi_value_string(v, &n);
	airi_digest d;
	char tmp[80];
	if (!s || n != 71)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (strncmp(tmp, "sha256:", 7) != 0 || airi_digest_parse(tmp, &d) != 0)
		return 0;
	for (size_t i = 7; i < n; i++) /* the digest form is lowercase */
		if (tmp[i] >= 'A' && tmp[i] <= 'F')
			return 0;
	return 1;
}

/* A salted section is judged by the value inside it. */
static const airi_value *section(const airi_manifest *m, const char *name)
{
	return airi__unsalt(airi_manifest_section(m, name));
}

struct item {
	const char *name;
	const char *status; /* ok, missing, unpinned, absent */
	char reason[300];
};

int airi_manifest_check(const airi_manifest *m, airi_verdict *verdict,
			char **report, size_t *len)
{
	static const char *required[] = {"model", "params", "system", "input",
					 "environment"};
	struct item items[7];
	size_t ni = 0;
	const char *notes[4];
	size_t nn = 0;
	int missing = 0, unpinned = 0, opaque = 0;

	/* model */
	{
		const airi_value *mv = section(m, "model");
		struct item *it = &items[ni++];
		it->name = "model";
		it->status = "ok";
		it->reason[0] = 0;
		if (!mv) {
			it->status = "missing";
			snprintf(it->reason, sizeof(it->reason),
				 "no model section: which model ran is "
				 "unknown");
			opaque = 1;
		} else if (mv->type == AIRI_STRING ||
			   (mv->type == AIRI_OBJECT &&
			    !nonempty_string(airi_value_get(mv, "resolved")) &&
			    !nonempty_string(airi_value_get(mv, "fingerprint")) &&
			    !looks_like_digest(
				    airi_value_get(mv, "weights_digest")))) {
			size_t n = 0;
			const char *name = mv->type == AIRI_STRING
						   ? airi_value_string(mv, &n)
						   : airi_value_string(
							     airi_value_get(mv,
									    "name"),
							     &n);
			it->status = "unpinned";
			if (n > 100) { /* cut at a character boundary */
				n = 100;
				while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
					n--;
			}
			if (name && n)
				snprintf(it->reason, sizeof(it->reason),
					 "model \"%.*s\" given as an alias "
					 "without a resolved version, "
					 "fingerprint or weights digest",
					 (int)n, name);
			else {
				snprintf(it->reason, sizeof(it->reason),
					 "model section names no model (no "
					 "name, resolved version, fingerprint "
					 "or weights digest)");
				opaque = 1;
			}
		} else if (mv->type != AIRI_OBJECT) {
			it->status = "unpinned";
			snprintf(it->reason, sizeof(it->reason),
				 "model section is not an object");
			opaque = 1;
		}
	}
	/* params, system, input, environment: present or missing */
	for (size_t r = 1; r < sizeof(required) / sizeof(*required); r++) {
		struct item *it = &items[ni++];
		it->name = required[r];
		it->status = "ok";
		it->reason[0] = 0;
		if (!airi_manifest_section(m, required[r])) {
			it->status = "missing";
			/* the recorder may say why it has no such section
			 * (telemetry without content capture, airi otel) */
			const airi_value *why = airi_value_get(
				airi_value_get(airi__unsalt(airi_manifest_meta(m)),
					       "not_captured"),
				required[r]);
			size_t wn = 0;
			const char *ws = why ? airi_value_string(why, &wn) : NULL;
			if (ws && wn) {
				if (wn > 280) { /* cut at a character boundary */
					wn = 280;
					while (wn > 0 &&
					       ((unsigned char)ws[wn] & 0xC0) == 0x80)
						wn--;
				}
				snprintf(it->reason, sizeof(it->reason), "%.*s",
					 (int)wn, ws);
			} else if (!strcmp(required[r], "system"))
				snprintf(it->reason, sizeof(it->reason),
					 "no system section (record null if "
					 "the run had no system prompt)");
			else if (!strcmp(required[r], "environment"))
				snprintf(it->reason, sizeof(it->reason),
					 "no environment: engine, libraries "
					 "and hardware are unknown");
			else if (!strcmp(required[r], "params"))
				snprintf(it->reason, sizeof(it->reason),
					 "no params: sampling settings are "
					 "unknown");
			else
				snprintf(it->reason, sizeof(it->reason),
					 "no input section: the user-side "
					 "messages are unknown");
		}
	}
	/* retrieval: optional, but when used its index state must be pinned */
	{
		const airi_value *rv = section(m, "retrieval");
		struct item *it = &items[ni++];
		it->name = "retrieval";
		it->status = rv ? "ok" : "absent";
		it->reason[0] = 0;
		if (rv) {
			const airi_value *idx = airi_value_get(rv, "index");
			const airi_value *items_v = airi_value_get(rv, "items");
			if (!looks_like_digest(airi_value_get(idx, "state_digest"))) {
				it->status = "unpinned";
				snprintf(it->reason, sizeof(it->reason),
					 "retrieval used without an index "
					 "state digest (index.state_digest)");
			} else {
				for (size_t i = 0;
				     airi_value_type(items_v) == AIRI_ARRAY &&
				     i < airi_value_count(items_v);
				     i++) {
					const airi_value *e =
						airi_value_at(items_v, i);
					if (!looks_like_digest(
						    airi_value_get(e, "digest"))) {
						it->status = "unpinned";
						snprintf(it->reason,
							 sizeof(it->reason),
							 "retrieved item %zu has "
							 "no content digest",
							 i);
						break;
					}
				}
			}
		}
	}
	/* tools: optional */
	{
		struct item *it = &items[ni++];
		it->name = "tools";
		it->status = airi_manifest_section(m, "tools") ? "ok" : "absent";
		it->reason[0] = 0;
	}
	/* notes */
	{
		const airi_value *pv = section(m, "params");
		if (pv && pv->type == AIRI_OBJECT) {
			const airi_value *t = airi_value_get(pv, "temperature");
			const airi_value *seed = airi_value_get(pv, "seed");
			if ((!seed || seed->type == AIRI_NULL) &&
			    (!t || t->type != AIRI_NUMBER ||
			     airi_value_number(t) != 0))
				notes[nn++] = "sampling without a seed: "
					      "outputs are not expected to "
					      "repeat";
		}
	}
	for (size_t i = 0; i < ni; i++) {
		if (!strcmp(items[i].status, "missing"))
			missing++;
		else if (!strcmp(items[i].status, "unpinned"))
			unpinned++;
	}
	airi_verdict v = opaque ? AIRI_OPAQUE
				: (missing || unpinned) ? AIRI_PARTIAL
							: AIRI_PINNED;

	airi__jw w;
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "notes");
	airi__jw_arr(&w);
	for (size_t i = 0; i < nn; i++)
		airi__jw_str(&w, notes[i]);
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "sections");
	airi__jw_arr(&w);
	for (size_t i = 0; i < ni; i++) {
		airi__jw_obj(&w);
		airi__jw_key(&w, "name");
		airi__jw_str(&w, items[i].name);
		airi__jw_key(&w, "reason");
		airi__jw_str(&w, items[i].reason);
		airi__jw_key(&w, "status");
		airi__jw_str(&w, items[i].status);
		airi__jw_end_obj(&w);
	}
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "verdict");
	airi__jw_str(&w, airi_verdict_name(v));
	airi__jw_end_obj(&w);
	char *p = airi__jw_finish(&w, len);
	if (!p)
		return AIRI_ENOMEM;
	*verdict = v;
	*report = p;
	return 0;
}
