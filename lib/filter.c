/*
 * filter.c - cohort filters: "since=T until=T model=M label.K=V
 * section.NAME=PREFIX conditions=PREFIX", space- or comma-separated, all
 * of which must hold (docs/airi.1, FILTERS). Parsed here once; each store
 * backend turns the parsed form into its own query.
 */
#define _GNU_SOURCE
#include "store.h"

#include <string.h>

void airi__where_free(struct airi__where *w)
{
	for (size_t i = 0; i < w->nterms; i++) {
		free(w->terms[i].key);
		free(w->terms[i].value);
	}
	free(w->terms);
	memset(w, 0, sizeof(*w));
}

static int term_err(airi_error *err, size_t k, const char *t, size_t n,
		    const char *why)
{
	return airi__err(err, AIRI_EINVAL, "filter term %zu \"%.*s\": %s", k,
			 (int)(n > 200 ? 200 : n), t, why);
}

static char *dup_n(const char *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, p, n);
		c[n] = 0;
	}
	return c;
}

static int add_term(struct airi__where *w, struct airi__term *t)
{
	if (w->nterms % 8 == 0) {
		struct airi__term *nt =
			realloc(w->terms, (w->nterms + 8) * sizeof(*nt));
		if (!nt)
			return AIRI_ENOMEM;
		w->terms = nt;
	}
	w->terms[w->nterms++] = *t;
	return 0;
}

int airi__where_parse(const char *text, struct airi__where *w, airi_error *err)
{
	memset(w, 0, sizeof(*w));
	if (!text)
		return 0;
	const char *p = text;
	size_t k = 0;
	for (;;) {
		while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			return 0;
		const char *t = p;
		while (*p && *p != ' ' && *p != ',' && *p != '\t' && *p != '\n')
			p++;
		size_t n = (size_t)(p - t);
		k++;
		const char *eq = memchr(t, '=', n);
		if (!eq || eq == t || eq + 1 == t + n) {
			int rc = term_err(err, k, t, n,
					  "expected KEY=VALUE (since=, until=, "
					  "model=, label.KEY=, section.NAME=, "
					  "conditions=)");
			airi__where_free(w);
			return rc;
		}
		struct airi__term term;
		memset(&term, 0, sizeof(term));
		size_t kn = (size_t)(eq - t), vn = n - kn - 1;
		const char *v = eq + 1;
		int rc = 0;
		if (kn == 5 && !memcmp(t, "since", 5)) {
			term.kind = AIRI__T_SINCE;
			if (airi__rfc3339_parse(v, vn, &term.ms))
				rc = term_err(err, k, t, n,
					      "not an RFC 3339 time (e.g. "
					      "2026-01-31T12:00:00Z)");
		} else if (kn == 5 && !memcmp(t, "until", 5)) {
			term.kind = AIRI__T_UNTIL;
			if (airi__rfc3339_parse(v, vn, &term.ms))
				rc = term_err(err, k, t, n,
					      "not an RFC 3339 time (e.g. "
					      "2026-01-31T12:00:00Z)");
		} else if (kn == 5 && !memcmp(t, "model", 5)) {
			term.kind = AIRI__T_MODEL;
			term.value = dup_n(v, vn);
		} else if (kn == 10 && !memcmp(t, "conditions", 10)) {
			term.kind = AIRI__T_CONDITIONS;
			term.value = dup_n(v, vn);
			size_t nib;
			if (term.value &&
			    airi__prefix_range(term.value, &term.lo, &term.hi, &nib))
				rc = term_err(err, k, t, n,
					      "expected a conditions ID or a hex "
					      "prefix of it");
		} else if (kn > 6 && !memcmp(t, "label.", 6)) {
			term.kind = AIRI__T_LABEL;
			term.key = dup_n(t + 6, kn - 6);
			term.value = dup_n(v, vn);
		} else if (kn > 8 && !memcmp(t, "section.", 8)) {
			term.kind = AIRI__T_SECTION;
			term.section = -1;
			for (int s = 0; s < AIRI__NSTD; s++)
				if (strlen(airi__std_sections[s]) == kn - 8 &&
				    !memcmp(airi__std_sections[s], t + 8, kn - 8))
					term.section = s;
			term.value = dup_n(v, vn);
			size_t nib;
			if (term.section < 0)
				rc = term_err(err, k, t, n,
					      "only the standard sections are "
					      "indexed: model, params, system, "
					      "input, retrieval, tools, "
					      "environment");
			else if (term.value && airi__prefix_range(term.value, &term.lo,
								  &term.hi, &nib))
				rc = term_err(err, k, t, n,
					      "expected a section digest or a hex "
					      "prefix of it (sha256:... or hex)");
		} else {
			rc = term_err(err, k, t, n,
				      "unknown key (since, until, model, "
				      "label.KEY, section.NAME, conditions)");
		}
		if (!rc && ((term.kind == AIRI__T_MODEL || term.kind == AIRI__T_LABEL ||
			     term.kind == AIRI__T_SECTION ||
			     term.kind == AIRI__T_CONDITIONS) && !term.value))
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		if (!rc && term.kind == AIRI__T_LABEL && !term.key)
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		if (!rc && add_term(w, &term))
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		if (rc) {
			free(term.key);
			free(term.value);
			airi__where_free(w);
			return rc;
		}
	}
}
