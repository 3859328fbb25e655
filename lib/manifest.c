/*
 * manifest.c - the identity rules of docs/spec.md: validate a manifest,
 * digest each section, step, output and meta, and build the conditions,
 * trajectory and run objects whose digests are the conditions ID and the
 * run ID. Also the small extractions the store indexes on (model name,
 * output summary).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

struct airi_manifest {
	char *text; /* owned copy of the source, or NULL when borrowed */
	const char *src;
	size_t len;
	airi_json *doc;
	const airi_value *root, *conditions, *trajectory, *output, *meta;
	size_t nsections;
	char **names;             /* NUL-terminated section names */
	airi_digest *sec_digests; /* per section */
	size_t nsteps;
	airi_digest *step_digests;
	airi_digest conditions_id, trajectory_digest, output_digest,
		meta_digest, run_id;
	/* AIRI__PARSE_KEEP_CANON: the canonical bytes each digest was taken
	 * of, kept for the store (spans of canon: sections, steps, output,
	 * meta), so that recording does not canonicalize them again */
	int keep;
	airi__buf canon;
	/* airi__manifest_set_prep: what a store derived from the manifest
	 * ahead of recording (lib/store.c), freed with it */
	void *prep;
	void (*prep_free)(void *);
	struct span { size_t off, len; } *sec_span, *step_span, out_span,
		meta_span;
};

void airi_manifest_free(airi_manifest *m)
{
	if (!m)
		return;
	if (m->names)
		for (size_t i = 0; i < m->nsections; i++)
			free(m->names[i]);
	free(m->names);
	free(m->sec_digests);
	free(m->step_digests);
	free(m->sec_span);
	free(m->step_span);
	airi__buf_release(&m->canon);
	if (m->prep && m->prep_free)
		m->prep_free(m->prep);
	airi_json_free(m->doc);
	free(m->text);
	free(m);
}

static int valid_section_name(const char *s, size_t n)
{
	if (n < 1 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int mfail(airi_manifest *m, airi_error *err, const airi_value *at,
		 const char *ptr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int mfail(airi_manifest *m, airi_error *err, const airi_value *at,
		 const char *ptr, const char *fmt, ...)
{
	if (err) {
		char msg[600];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		memset(err, 0, sizeof(*err));
		err->code = AIRI_EMANIFEST;
		if (ptr[0] && !strstr(msg, ptr))
			snprintf(err->message, sizeof(err->message), "%s at %s",
				 msg, ptr);
		else
			snprintf(err->message, sizeof(err->message), "%s", msg);
		snprintf(err->pointer, sizeof(err->pointer), "%s", ptr);
		err->has_pointer = 1;
		if (at)
			airi__err_at(err, m->src, m->len, at->offset);
	}
	return AIRI_EMANIFEST;
}

static const char *type_name(const airi_value *v)
{
	static const char *names[] = {"null",   "false", "true",  "a number",
				      "a string", "an array", "an object"};
	return names[v->type];
}

int airi__conditions_object(const airi_manifest *m, airi__buf *b)
{
	char d[AIRI_DIGEST_STRLEN];
	airi__buf_adds(b, "{\"sections\":{");
	for (size_t i = 0; i < m->nsections; i++) {
		if (i)
			airi__buf_addc(b, ',');
		airi__canon_string(b, m->names[i], strlen(m->names[i]));
		airi_digest_format(&m->sec_digests[i], d);
		airi__buf_printf(b, ":\"%s\"", d);
	}
	airi__buf_adds(b, "},\"type\":\"airi.conditions/1\"}");
	return b->failed ? AIRI_ENOMEM : 0;
}

int airi__trajectory_object(const airi_manifest *m, airi__buf *b)
{
	char d[AIRI_DIGEST_STRLEN];
	airi__buf_adds(b, "{\"steps\":[");
	for (size_t i = 0; i < m->nsteps; i++) {
		if (i)
			airi__buf_addc(b, ',');
		airi_digest_format(&m->step_digests[i], d);
		airi__buf_printf(b, "\"%s\"", d);
	}
	airi__buf_adds(b, "],\"type\":\"airi.trajectory/1\"}");
	return b->failed ? AIRI_ENOMEM : 0;
}

int airi__run_object(const airi_manifest *m, airi__buf *b)
{
	char d[AIRI_DIGEST_STRLEN];
	airi_digest_format(&m->conditions_id, d);
	airi__buf_printf(b, "{\"conditions\":\"%s\"", d);
	if (m->meta) {
		airi_digest_format(&m->meta_digest, d);
		airi__buf_printf(b, ",\"meta\":\"%s\"", d);
	}
	if (m->output) {
		airi_digest_format(&m->output_digest, d);
		airi__buf_printf(b, ",\"output\":\"%s\"", d);
	}
	if (m->trajectory) {
		airi_digest_format(&m->trajectory_digest, d);
		airi__buf_printf(b, ",\"trajectory\":\"%s\"", d);
	}
	airi__buf_adds(b, ",\"type\":\"airi.run/1\"}");
	return b->failed ? AIRI_ENOMEM : 0;
}

static int digest_of(int (*build)(const airi_manifest *, airi__buf *),
		     const airi_manifest *m, airi_digest *out)
{
	airi__buf b;
	int rc;
	airi__buf_init(&b);
	rc = build(m, &b);
	if (!rc)
		rc = airi__digest_buf(&b, out);
	airi__buf_release(&b);
	return rc;
}

static int validate(airi_manifest *m, airi_error *err)
{
	const airi_value *r = m->root;
	if (r->type != AIRI_OBJECT)
		return mfail(m, err, r, "",
			     "a manifest must be a JSON object, not %s",
			     type_name(r));
	for (size_t i = 0; i < r->count; i++) {
		size_t kn;
		const char *k = airi_value_key_at(r, i, &kn);
		const airi_value *v = airi_value_at(r, i);
		char ptr[128] = "";
		airi__pointer_append(ptr, sizeof(ptr), k, kn);
		if (kn == 10 && !memcmp(k, "conditions", 10))
			m->conditions = v;
		else if (kn == 10 && !memcmp(k, "trajectory", 10))
			m->trajectory = v;
		else if (kn == 6 && !memcmp(k, "output", 6))
			m->output = v;
		else if (kn == 4 && !memcmp(k, "meta", 4))
			m->meta = v;
		else {
			airi__buf kb;
			airi__buf_init(&kb);
			airi__canon_string(&kb, k, kn > 100 ? 100 : kn);
			int rc = mfail(m, err, &r->u.items[2 * i], ptr,
				       "unknown top-level member %s (a "
				       "manifest has only conditions, "
				       "trajectory, output and meta)",
				       kb.p ? kb.p : "?");
			airi__buf_release(&kb);
			return rc;
		}
	}
	if (!m->conditions)
		return mfail(m, err, r, "",
			     "missing required member \"conditions\"");
	if (m->conditions->type != AIRI_OBJECT)
		return mfail(m, err, m->conditions, "/conditions",
			     "\"conditions\" must be an object, not %s",
			     type_name(m->conditions));
	if (m->conditions->count == 0)
		return mfail(m, err, m->conditions, "/conditions",
			     "\"conditions\" must name at least one section");
	if (m->trajectory && m->trajectory->type != AIRI_ARRAY)
		return mfail(m, err, m->trajectory, "/trajectory",
			     "\"trajectory\" must be an array, not %s",
			     type_name(m->trajectory));
	if (m->meta && m->meta->type != AIRI_OBJECT)
		return mfail(m, err, m->meta, "/meta",
			     "\"meta\" must be an object, not %s",
			     type_name(m->meta));
	for (size_t i = 0; i < m->conditions->count; i++) {
		size_t kn;
		const char *k = airi_value_key_at(m->conditions, i, &kn);
		if (!valid_section_name(k, kn)) {
			char ptr[160] = "/conditions";
			airi__pointer_append(ptr, sizeof(ptr), k, kn);
			airi__buf kb;
			airi__buf_init(&kb);
			airi__canon_string(&kb, k, kn > 100 ? 100 : kn);
			int rc = mfail(m, err, &m->conditions->u.items[2 * i],
				       ptr,
				       "invalid section name %s (must match "
				       "^[a-z][a-z0-9_]{0,63}$)",
				       kb.p ? kb.p : "?");
			airi__buf_release(&kb);
			return rc;
		}
	}
	return 0;
}

/* The digest of a value; with keep, of its canonical bytes appended to
 * m->canon (where *sp says they are). */
static int digest_kept(airi_manifest *m, const airi_value *v, airi_digest *d,
		       struct span *sp)
{
	if (!m->keep)
		return airi_digest_value(v, d);
	size_t off = m->canon.n;
	int rc = airi__canon_to_buf(v, &m->canon);
	if (rc)
		return rc;
	sp->off = off;
	sp->len = m->canon.n - off;
	return airi_digest_bytes(m->canon.p ? m->canon.p + off : "", sp->len, d);
}

static int compute(airi_manifest *m)
{
	const airi_value *c = m->conditions;
	int rc;
	m->nsections = c->count;
	m->names = calloc(c->count, sizeof(char *));
	m->sec_digests = calloc(c->count, sizeof(airi_digest));
	if (!m->names || !m->sec_digests)
		return AIRI_ENOMEM;
	if (m->keep && !(m->sec_span = calloc(c->count ? c->count : 1,
					      sizeof(struct span))))
		return AIRI_ENOMEM;
	for (size_t i = 0; i < c->count; i++) {
		size_t kn;
		const char *k = airi_value_key_at(c, i, &kn);
		m->names[i] = strndup(k, kn);
		if (!m->names[i])
			return AIRI_ENOMEM;
		if ((rc = digest_kept(m, airi_value_at(c, i), &m->sec_digests[i],
				      m->keep ? &m->sec_span[i] : NULL)))
			return rc;
	}
	if ((rc = digest_of(airi__conditions_object, m, &m->conditions_id)))
		return rc;
	if (m->trajectory) {
		m->nsteps = m->trajectory->count;
		m->step_digests = calloc(m->nsteps ? m->nsteps : 1,
					 sizeof(airi_digest));
		if (!m->step_digests)
			return AIRI_ENOMEM;
		if (m->keep && !(m->step_span = calloc(m->nsteps ? m->nsteps : 1,
						       sizeof(struct span))))
			return AIRI_ENOMEM;
		for (size_t i = 0; i < m->nsteps; i++)
			if ((rc = digest_kept(m, airi_value_at(m->trajectory, i),
					      &m->step_digests[i],
					      m->keep ? &m->step_span[i] : NULL)))
				return rc;
		if ((rc = digest_of(airi__trajectory_object, m,
				    &m->trajectory_digest)))
			return rc;
	}
	if (m->output &&
	    (rc = digest_kept(m, m->output, &m->output_digest, &m->out_span)))
		return rc;
	if (m->meta && (rc = digest_kept(m, m->meta, &m->meta_digest, &m->meta_span)))
		return rc;
	return digest_of(airi__run_object, m, &m->run_id);
}

static int parse_common(airi_manifest *m, airi_manifest **out,
			airi_error *err, unsigned flags)
{
	m->keep = (flags & AIRI__PARSE_KEEP_CANON) != 0;
	airi__buf_init(&m->canon);
	int rc = airi__json_parse_ex(m->src, m->len,
				     flags & ~AIRI__PARSE_KEEP_CANON, &m->doc, err);
	if (!rc) {
		m->root = airi_json_root(m->doc);
		rc = validate(m, err);
	}
	if (!rc && (rc = compute(m)))
		airi__err(err, rc, "cannot compute identities: %s",
			  airi_strerror(rc));
	if (rc) {
		airi_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int airi_manifest_parse(const char *text, size_t len, airi_manifest **out,
			airi_error *err)
{
	airi_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	m->text = malloc(len + 1);
	if (!m->text) {
		free(m);
		return airi__err(err, AIRI_ENOMEM,
				 "out of memory (%zu bytes of input)", len);
	}
	if (len)
		memcpy(m->text, text, len);
	m->text[len] = 0;
	m->src = m->text;
	m->len = len;
	return parse_common(m, out, err, 0);
}

int airi__manifest_parse_ex(const char *text, size_t len, unsigned flags,
			    airi_manifest **out, airi_error *err)
{
	airi_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	m->text = malloc(len + 1);
	if (!m->text) {
		free(m);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	if (len)
		memcpy(m->text, text, len);
	m->text[len] = 0;
	m->src = m->text;
	m->len = len;
	return parse_common(m, out, err, flags);
}

int airi_manifest_parse_borrow(const char *text, size_t len,
			       airi_manifest **out, airi_error *err)
{
	return airi__manifest_parse_borrow_ex(text, len, 0, out, err);
}

int airi__manifest_parse_borrow_ex(const char *text, size_t len,
				   unsigned flags, airi_manifest **out,
				   airi_error *err)
{
	airi_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	m->src = text ? text : "";
	m->len = len;
	return parse_common(m, out, err, flags);
}

void airi__manifest_set_prep(airi_manifest *m, void *prep,
			     void (*prep_free)(void *))
{
	if (m->prep && m->prep_free)
		m->prep_free(m->prep);
	m->prep = prep;
	m->prep_free = prep_free;
}

void *airi__manifest_prep(const airi_manifest *m)
{
	return m->prep;
}

int airi__manifest_kept(const airi_manifest *m, int kind, size_t i,
			const char **p, size_t *n)
{
	const struct span *sp = NULL;
	if (!m->keep)
		return 0;
	if (kind == AIRI__KEPT_SECTION && i < m->nsections)
		sp = &m->sec_span[i];
	else if (kind == AIRI__KEPT_STEP && i < m->nsteps)
		sp = &m->step_span[i];
	else if (kind == AIRI__KEPT_OUTPUT && m->output)
		sp = &m->out_span;
	else if (kind == AIRI__KEPT_META && m->meta)
		sp = &m->meta_span;
	if (!sp)
		return 0;
	*p = m->canon.p ? m->canon.p + sp->off : "";
	*n = sp->len;
	return 1;
}

const airi_digest *airi_manifest_run_id(const airi_manifest *m)
{
	return &m->run_id;
}

const airi_digest *airi_manifest_conditions_id(const airi_manifest *m)
{
	return &m->conditions_id;
}

const airi_digest *airi_manifest_trajectory_digest(const airi_manifest *m)
{
	return m->trajectory ? &m->trajectory_digest : NULL;
}

const airi_digest *airi_manifest_output_digest(const airi_manifest *m)
{
	return m->output ? &m->output_digest : NULL;
}

const airi_digest *airi_manifest_meta_digest(const airi_manifest *m)
{
	return m->meta ? &m->meta_digest : NULL;
}

const airi_value *airi_manifest_root(const airi_manifest *m)
{
	return m->root;
}
const airi_value *airi_manifest_output(const airi_manifest *m)
{
	return m->output;
}
const airi_value *airi_manifest_meta(const airi_manifest *m)
{
	return m->meta;
}
const airi_value *airi_manifest_trajectory(const airi_manifest *m)
{
	return m->trajectory;
}

size_t airi_manifest_section_count(const airi_manifest *m)
{
	return m->nsections;
}

const char *airi_manifest_section_name(const airi_manifest *m, size_t i)
{
	return i < m->nsections ? m->names[i] : NULL;
}

const airi_value *airi_manifest_section_value(const airi_manifest *m,
					      size_t i)
{
	return i < m->nsections ? airi_value_at(m->conditions, i) : NULL;
}

const airi_digest *airi_manifest_section_digest(const airi_manifest *m,
						size_t i)
{
	return i < m->nsections ? &m->sec_digests[i] : NULL;
}

const airi_value *airi_manifest_section(const airi_manifest *m,
					const char *name)
{
	return airi_value_get(m->conditions, name);
}

size_t airi_manifest_step_count(const airi_manifest *m)
{
	return m->nsteps;
}

const airi_digest *airi_manifest_step_digest(const airi_manifest *m, size_t i)
{
	return i < m->nsteps ? &m->step_digests[i] : NULL;
}

int airi_manifest_ids_json(const airi_manifest *m, char **out, size_t *len)
{
	airi__jw w;
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_digest(&w, &m->conditions_id);
	if (m->meta) {
		airi__jw_key(&w, "meta");
		airi__jw_digest(&w, &m->meta_digest);
	}
	if (m->output) {
		airi__jw_key(&w, "output");
		airi__jw_digest(&w, &m->output_digest);
	}
	airi__jw_key(&w, "run");
	airi__jw_digest(&w, &m->run_id);
	airi__jw_key(&w, "sections");
	airi__jw_obj(&w);
	for (size_t i = 0; i < m->nsections; i++) {
		airi__jw_key(&w, m->names[i]);
		airi__jw_digest(&w, &m->sec_digests[i]);
	}
	airi__jw_end_obj(&w);
	if (m->trajectory) {
		airi__jw_key(&w, "trajectory");
		airi__jw_digest(&w, &m->trajectory_digest);
	}
	airi__jw_end_obj(&w);
	char *p = airi__jw_finish(&w, len);
	if (!p)
		return AIRI_ENOMEM;
	*out = p;
	return 0;
}

int airi_manifest_canon(const airi_manifest *m, char **out, size_t *len)
{
	return airi_canon(m->root, out, len);
}

/* ---- extractions for indexes -------------------------------------------- */

static const char *str_member(const airi_value *o, const char *k, size_t *n)
{
	return airi_value_string(airi_value_get(o, k), n);
}

void airi__manifest_model(const airi_manifest *m, const char **name,
			  size_t *name_len, const char **resolved,
			  size_t *resolved_len)
{
	const airi_value *model = airi_manifest_section(m, "model");
	*name = NULL;
	*resolved = NULL;
	*name_len = *resolved_len = 0;
	if (!model)
		return;
	if (model->type == AIRI_STRING) {
		*name = airi_value_string(model, name_len);
		return;
	}
	*name = str_member(model, "name", name_len);
	*resolved = str_member(model, "resolved", resolved_len);
}

static const airi_value *first_string(const airi_value *v, int depth)
{
	if (!v || depth > 32)
		return NULL;
	if (v->type == AIRI_STRING)
		return v;
	if (v->type == AIRI_OBJECT) {
		static const char *pref[] = {"content", "text", "message",
					     "output", "answer"};
		for (size_t i = 0; i < sizeof(pref) / sizeof(*pref); i++) {
			const airi_value *s =
				first_string(airi_value_get(v, pref[i]),
					     depth + 1);
			if (s)
				return s;
		}
	}
	for (size_t i = 0; i < airi_value_count(v); i++) {
		const airi_value *s = first_string(airi_value_at(v, i),
						   depth + 1);
		if (s)
			return s;
	}
	return NULL;
}

void airi__output_summary(const airi_manifest *m, char *out, size_t cap)
{
	out[0] = 0;
	if (!m->output || cap < 8)
		return;
	/* of a salted output, the value, not the salt */
	const airi_value *s = first_string(airi__unsalt(m->output), 0);
	if (!s) {
		snprintf(out, cap, "%s",
			 m->output->type == AIRI_NULL ? "(null)" : "(no text)");
		return;
	}
	size_t n, o = 0;
	const char *p = airi_value_string(s, &n);
	/* one line, at most cap-4 bytes, cut at a UTF-8 boundary */
	for (size_t i = 0; i < n && o + 4 < cap;) {
		unsigned char c = (unsigned char)p[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (o + len + 4 >= cap || i + len > n)
			break;
		if (c < 0x20 || c == 0x7F) {
			if (o && out[o - 1] != ' ')
				out[o++] = ' ';
			i++;
			continue;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
		if (i < n && o + 4 >= cap - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
	}
	out[o] = 0;
}

/* ---- salting ------------------------------------------------------------ */

const airi_value *airi__unsalt(const airi_value *v)
{
	size_t n;
	const char *t = airi_value_string(airi_value_get(v, "type"), &n);
	if (t && n == 13 && !memcmp(t, "airi.salted/1", 13) &&
	    airi_value_get(v, "value"))
		return airi_value_get(v, "value");
	return v;
}

static int salted(airi__jw *w, const airi_value *v)
{
	unsigned char salt[32];
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return AIRI_ENOMEM;
	char *b = airi__b64_encode(salt, sizeof(salt));
	if (!b)
		return AIRI_ENOMEM;
	airi__jw_obj(w);
	airi__jw_key(w, "salt");
	airi__jw_str(w, b);
	airi__jw_key(w, "type");
	airi__jw_str(w, "airi.salted/1");
	airi__jw_key(w, "value");
	airi__jw_value(w, v);
	airi__jw_end_obj(w);
	free(b);
	return 0;
}

int airi_manifest_salt(const airi_manifest *m, const char *names, char **out,
		       size_t *len, airi_error *err)
{
	airi__jw w;
	int rc = 0;
	/* every listed name must be a section or "output" */
	for (const char *p = names; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char name[80];
		snprintf(name, sizeof(name), "%.*s", (int)(n < 79 ? n : 79), p);
		if (!(n && airi_manifest_section(m, name)) &&
		    !(!strcmp(name, "output") && m->output))
			return airi__err(err, AIRI_EINVAL,
					 "cannot salt \"%s\": the manifest has "
					 "no such section (or output)",
					 name);
		p = c ? c + 1 : NULL;
	}
	airi__jw_init(&w);
	airi__jw_obj(&w);
	for (size_t i = 0; i < m->root->count && !rc; i++) {
		size_t kn;
		const char *k = airi_value_key_at(m->root, i, &kn);
		const airi_value *v = airi_value_at(m->root, i);
		airi__jw_keyn(&w, k, kn);
		if (v == m->conditions) {
			airi__jw_obj(&w);
			for (size_t j = 0; j < v->count && !rc; j++) {
				size_t sn;
				const char *sk = airi_value_key_at(v, j, &sn);
				airi__jw_keyn(&w, sk, sn);
				if (airi__name_listed(names, sk, sn))
					rc = salted(&w, airi_value_at(v, j));
				else
					airi__jw_value(&w, airi_value_at(v, j));
			}
			airi__jw_end_obj(&w);
		} else if (v == m->output && airi__name_listed(names, "output", 6)) {
			rc = salted(&w, v);
		} else {
			airi__jw_value(&w, v);
		}
	}
	airi__jw_end_obj(&w);
	char *p = airi__jw_finish(&w, len);
	if (rc || !p) {
		free(p);
		return airi__err(err, AIRI_ENOMEM, "cannot salt: out of memory");
	}
	*out = p;
	return 0;
}
