/*
 * builder.c - building a manifest from code (airi_run_*): an application
 * that runs a model in-process sets sections, appends steps and sets the
 * output as it goes; each part is checked as JSON when it is given, and
 * airi_run_finish() assembles the manifest text and parses it, so the
 * result obeys exactly the same rules as a manifest read from a file.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

struct part {
	char *name; /* section name, or NULL */
	char *canon;
	size_t n;
};

struct airi_run {
	struct part *sections;
	size_t nsections, cap;
	airi__buf steps; /* canonical steps, comma separated */
	size_t nsteps;
	char *output, *meta;
	size_t output_n, meta_n;
	int has_trajectory;
};

int airi_run_new(airi_run **out)
{
	airi_run *r = calloc(1, sizeof(*r));
	if (!r)
		return AIRI_ENOMEM;
	*out = r;
	return 0;
}

void airi_run_free(airi_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nsections; i++) {
		free(r->sections[i].name);
		free(r->sections[i].canon);
	}
	free(r->sections);
	airi__buf_release(&r->steps);
	free(r->output);
	free(r->meta);
	free(r);
}

/* The canonical form of a JSON text given by the application. */
static int canon_of(const char *json, char **out, size_t *n, airi_error *err)
{
	airi_json *doc = NULL;
	int rc;
	if (!json)
		return airi__err(err, AIRI_EINVAL, "no JSON text given");
	if ((rc = airi_json_parse(json, strlen(json), &doc, err)))
		return rc;
	rc = airi_canon(airi_json_root(doc), out, n);
	airi_json_free(doc);
	return rc ? airi__err(err, rc, "out of memory") : 0;
}

int airi_run_set_section(airi_run *r, const char *name, const char *json,
			 airi_error *err)
{
	size_t nl = name ? strlen(name) : 0;
	if (nl < 1 || nl > 64 || name[0] < 'a' || name[0] > 'z')
		return airi__err(err, AIRI_EINVAL,
				 "invalid section name \"%.80s\" (must match "
				 "^[a-z][a-z0-9_]{0,63}$)",
				 name ? name : "");
	for (size_t i = 1; i < nl; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return airi__err(err, AIRI_EINVAL,
					 "invalid section name \"%.80s\" (must "
					 "match ^[a-z][a-z0-9_]{0,63}$)",
					 name);
	char *c;
	size_t n;
	int rc = canon_of(json, &c, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->nsections; i++)
		if (!strcmp(r->sections[i].name, name)) {
			free(r->sections[i].canon);
			r->sections[i].canon = c;
			r->sections[i].n = n;
			return 0;
		}
	if (r->nsections == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct part *np = realloc(r->sections, cap * sizeof(*np));
		if (!np) {
			free(c);
			return airi__err(err, AIRI_ENOMEM, "out of memory");
		}
		r->sections = np;
		r->cap = cap;
	}
	r->sections[r->nsections].name = strdup(name);
	r->sections[r->nsections].canon = c;
	r->sections[r->nsections].n = n;
	if (!r->sections[r->nsections].name) {
		free(c);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	r->nsections++;
	return 0;
}

int airi_run_add_step(airi_run *r, const char *json, airi_error *err)
{
	char *c;
	size_t n;
	int rc = canon_of(json, &c, &n, err);
	if (rc)
		return rc;
	if (r->nsteps++)
		airi__buf_addc(&r->steps, ',');
	airi__buf_add(&r->steps, c, n);
	free(c);
	r->has_trajectory = 1;
	return r->steps.failed ? airi__err(err, AIRI_ENOMEM, "out of memory")
			       : 0;
}

int airi_run_set_output(airi_run *r, const char *json, airi_error *err)
{
	char *c;
	size_t n;
	int rc = canon_of(json, &c, &n, err);
	if (rc)
		return rc;
	free(r->output);
	r->output = c;
	r->output_n = n;
	return 0;
}

int airi_run_set_meta(airi_run *r, const char *json, airi_error *err)
{
	char *c;
	size_t n;
	int rc = canon_of(json, &c, &n, err);
	if (rc)
		return rc;
	if (c[0] != '{') {
		free(c);
		return airi__err(err, AIRI_EMANIFEST, "meta must be an object");
	}
	free(r->meta);
	r->meta = c;
	r->meta_n = n;
	return 0;
}

int airi_run_finish(const airi_run *r, airi_manifest **out, airi_error *err)
{
	airi__buf b;
	int rc;
	airi__buf_init(&b);
	airi__buf_adds(&b, "{\"conditions\":{");
	for (size_t i = 0; i < r->nsections; i++) {
		if (i)
			airi__buf_addc(&b, ',');
		airi__canon_string(&b, r->sections[i].name,
				   strlen(r->sections[i].name));
		airi__buf_addc(&b, ':');
		airi__buf_add(&b, r->sections[i].canon, r->sections[i].n);
	}
	airi__buf_addc(&b, '}');
	if (r->has_trajectory) {
		airi__buf_adds(&b, ",\"trajectory\":[");
		airi__buf_add(&b, r->steps.p ? r->steps.p : "", r->steps.n);
		airi__buf_addc(&b, ']');
	}
	if (r->output) {
		airi__buf_adds(&b, ",\"output\":");
		airi__buf_add(&b, r->output, r->output_n);
	}
	if (r->meta) {
		airi__buf_adds(&b, ",\"meta\":");
		airi__buf_add(&b, r->meta, r->meta_n);
	}
	airi__buf_addc(&b, '}');
	if (b.failed) {
		airi__buf_release(&b);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	rc = airi__manifest_parse_ex(b.p, b.n, AIRI__PARSE_CANONICAL, out, err);
	airi__buf_release(&b);
	return rc;
}
