/*
 * mapping.c - how one span becomes a run manifest, or one step of an agent
 * run (docs/otel-mapping.md is the reference; keep the two in step).
 *
 * Three attribute families are read, first match wins where they overlap:
 * the OpenTelemetry GenAI semantic conventions (gen_ai.*, current and
 * older, including the message events of v1.36 and before and the indexed
 * gen_ai.prompt.N.* / gen_ai.completion.N.* attributes some instrumentations
 * still write), OpenInference (llm.*, retrieval.*, tool.*, flattened into
 * indexed keys: llm.input_messages.0.message.role ...), and the
 * provider-specific response attributes (openai.response.system_fingerprint
 * and its deprecated gen_ai.openai.* spelling).
 *
 * A section is written only when the telemetry carried what goes in it:
 * most instrumentations do not capture message content by default, and a
 * run recorded from such a span has no input (and often no system) section
 * rather than an empty one, so its completeness verdict says so; meta
 * .not_captured names each gap in words. Nothing here fails on odd input:
 * JSON carried in a string attribute that does not parse is recorded as the
 * string it is.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- attribute values as JSON ---------------------------------------------- */

static int kcmp_idx(const void *a, const void *b, void *ctx)
{
	const struct okv *kv = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	size_t n = kv[x].kn < kv[y].kn ? kv[x].kn : kv[y].kn;
	int c = memcmp(kv[x].k, kv[y].k, n);
	if (c)
		return c;
	if (kv[x].kn != kv[y].kn)
		return kv[x].kn < kv[y].kn ? -1 : 1;
	return x < y ? -1 : x > y; /* stable: the first occurrence first */
}

/* flags[i] = 1 when key i repeats an earlier key (the first one wins) */
static uint8_t *dup_flags(const struct okv *kv, size_t n)
{
	uint8_t *f = calloc(n ? n : 1, 1);
	size_t *ix = malloc((n ? n : 1) * sizeof(*ix));
	if (!f || !ix) {
		free(f);
		free(ix);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), kcmp_idx, (void *)kv);
	for (size_t i = 1; i < n; i++)
		if (kv[ix[i]].kn == kv[ix[i - 1]].kn &&
		    !memcmp(kv[ix[i]].k, kv[ix[i - 1]].k, kv[ix[i]].kn))
			f[ix[i]] = 1;
	free(ix);
	return f;
}

void otel_value_json(airi__jw *w, const struct ov *v)
{
	char num[32];
	size_t n;
	switch (v ? v->type : OV_EMPTY) {
	case OV_STRING:
		airi__jw_strn(w, v->u.s.p, v->u.s.n);
		return;
	case OV_BOOL:
		airi__jw_bool(w, v->u.b);
		return;
	case OV_INT:
		/* beyond 2^53 a JSON number would lose digits: a string */
		if (v->u.i > 9007199254740992LL || v->u.i < -9007199254740992LL) {
			snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
			airi__jw_str(w, num);
		} else {
			airi__jw_int(w, v->u.i);
		}
		return;
	case OV_DOUBLE:
		if (isnan(v->u.d))
			airi__jw_str(w, "NaN");
		else if (isinf(v->u.d))
			airi__jw_str(w, v->u.d > 0 ? "Infinity" : "-Infinity");
		else if (airi__number_format(v->u.d, num, &n) == 0)
			airi__jw_raw(w, num, n);
		else
			airi__jw_null(w);
		return;
	case OV_BYTES: {
		char *b = airi__b64_encode((const unsigned char *)v->u.s.p, v->u.s.n);
		if (b)
			airi__jw_str(w, b);
		else
			w->b.failed = 1;
		free(b);
		return;
	}
	case OV_ARRAY:
		airi__jw_arr(w);
		for (size_t i = 0; i < v->u.a.n; i++)
			otel_value_json(w, &v->u.a.v[i]);
		airi__jw_end_arr(w);
		return;
	case OV_KVLIST: {
		uint8_t *d = dup_flags(v->u.kv.kv, v->u.kv.n);
		if (!d) {
			w->b.failed = 1;
			return;
		}
		airi__jw_obj(w);
		for (size_t i = 0; i < v->u.kv.n; i++) {
			if (d[i])
				continue;
			airi__jw_keyn(w, v->u.kv.kv[i].k, v->u.kv.kv[i].kn);
			otel_value_json(w, &v->u.kv.kv[i].v);
		}
		airi__jw_end_obj(w);
		free(d);
		return;
	}
	default:
		airi__jw_null(w);
	}
}

/* ---- JSON carried in attributes --------------------------------------------- */

struct jdoc {
	airi_json *doc;
	char *text; /* owned when the JSON was made here */
};

static void jdoc_free(struct jdoc *j)
{
	airi_json_free(j->doc);
	free(j->text);
	j->doc = NULL;
	j->text = NULL;
}

static const airi_value *jroot(const struct jdoc *j)
{
	return j->doc ? airi_json_root(j->doc) : NULL;
}

static size_t depth_of(const airi_value *v)
{
	size_t d = 0;
	if (airi_value_type(v) != AIRI_ARRAY && airi_value_type(v) != AIRI_OBJECT)
		return 0;
	for (size_t i = 0; i < airi_value_count(v); i++) {
		size_t x = depth_of(airi_value_at(v, i));
		if (x > d)
			d = x;
	}
	return d + 1;
}

/* JSON embedded in a manifest stays well inside the nesting limit */
#define EMBED_DEPTH 900

static int parse_text(struct jdoc *j, const char *p, size_t n, char *owned)
{
	j->doc = NULL;
	j->text = owned;
	if (airi_json_parse(p, n, &j->doc, NULL) ||
	    depth_of(airi_json_root(j->doc)) > EMBED_DEPTH) {
		jdoc_free(j);
		return -1;
	}
	return 0;
}

/* The value of an attribute as a JSON document: a string is parsed (when it
 * is JSON), an array or key-value list is converted. -1 when the attribute
 * is absent, a scalar, or a string that is not JSON. */
static int as_doc(const struct ov *v, struct jdoc *j)
{
	memset(j, 0, sizeof(*j));
	if (!v)
		return -1;
	if (v->type == OV_STRING)
		return parse_text(j, v->u.s.p, v->u.s.n, NULL);
	if (v->type != OV_ARRAY && v->type != OV_KVLIST)
		return -1;
	airi__jw w;
	size_t n;
	airi__jw_init(&w);
	otel_value_json(&w, v);
	char *t = airi__jw_finish(&w, &n);
	if (!t)
		return -1;
	if (parse_text(j, t, n, t))
		return -1;
	return 0;
}

/* Writes an attribute that may carry JSON: parsed when it is JSON text (or
 * structured), as it is otherwise. */
static void json_attr(airi__jw *w, const struct ov *v)
{
	struct jdoc j;
	if (v && v->type == OV_STRING && !as_doc(v, &j)) {
		const airi_value *r = jroot(&j);
		/* only containers: a string that happens to read as a number
		 * or a word stays the string it is */
		if (airi_value_type(r) == AIRI_OBJECT || airi_value_type(r) == AIRI_ARRAY) {
			airi__jw_value(w, r);
			jdoc_free(&j);
			return;
		}
		jdoc_free(&j);
	}
	otel_value_json(w, v);
}

/* ---- the span being mapped ---------------------------------------------------- */

struct m {
	const struct ospan *s;
	uint8_t *used, *dup;
	/* the gaps, for meta.not_captured */
	const char *nc_key[6], *nc_why[6];
	int nnc;
};

static int m_init(struct m *m, const struct ospan *s)
{
	memset(m, 0, sizeof(*m));
	m->s = s;
	m->used = calloc(s->attrs.n ? s->attrs.n : 1, 1);
	m->dup = dup_flags(s->attrs.kv, s->attrs.n);
	return m->used && m->dup ? 0 : -1;
}

static void m_free(struct m *m)
{
	free(m->used);
	free(m->dup);
}

static void not_captured(struct m *m, const char *key, const char *why)
{
	if (m->nnc < 6) {
		m->nc_key[m->nnc] = key;
		m->nc_why[m->nnc++] = why;
	}
}

/* a span attribute (the first of its key), marked as used */
static const struct ov *A(struct m *m, const char *key)
{
	size_t kn = strlen(key);
	const struct oattrs *a = &m->s->attrs;
	for (size_t i = 0; i < a->n; i++)
		if (a->kv[i].kn == kn && !memcmp(a->kv[i].k, key, kn)) {
			m->used[i] = 1;
			return &a->kv[i].v;
		}
	return NULL;
}

static const char *AS(struct m *m, const char *key, size_t *n)
{
	const struct ov *v = A(m, key);
	if (!v || v->type != OV_STRING || !v->u.s.n)
		return NULL;
	*n = v->u.s.n;
	return v->u.s.p;
}

/* the first of several keys that is present */
static const struct ov *A2(struct m *m, const char *a, const char *b)
{
	const struct ov *v = A(m, a);
	return v ? v : (b ? A(m, b) : NULL);
}

static int str_eq(const char *p, size_t n, const char *lit)
{
	return p && n == strlen(lit) && !memcmp(p, lit, n);
}

static int str_ieq(const char *p, size_t n, const char *lit)
{
	return p && n == strlen(lit) && !strncasecmp(p, lit, n);
}

static const struct ov *eattr(const struct oevent *e, const char *key)
{
	return oattr(&e->attrs, key);
}

/* the span event with this name (the first), or NULL */
static const struct oevent *event(const struct ospan *s, const char *name)
{
	for (size_t i = 0; i < s->nev; i++)
		if (str_eq(s->ev[i].name, s->ev[i].nn, name))
			return &s->ev[i];
	return NULL;
}

/* ---- indexed attributes (OpenInference, older Traceloop) ------------------- */

struct fl {
	const char *k; /* the key after the prefix */
	size_t n;
	const struct ov *v;
};

#define FL_MAX_SEGMENTS 32

/* segment `level` of a dotted key */
static int seg(const struct fl *f, size_t level, const char **s, size_t *sn)
{
	const char *p = f->k, *end = f->k + f->n;
	for (size_t l = 0;; l++) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *e = dot ? dot : end;
		if (l == level) {
			*s = p;
			*sn = (size_t)(e - p);
			return 0;
		}
		if (!dot)
			return -1;
		p = dot + 1;
	}
}

static int isnum(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	if (!n || n > 9)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 1;
}

static int segcmp(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t x, y;
	int na = isnum(a, an, &x), nb = isnum(b, bn, &y);
	if (na && nb)
		return x < y ? -1 : x > y;
	if (na != nb)
		return na ? -1 : 1;
	size_t n = an < bn ? an : bn;
	int c = memcmp(a, b, n);
	return c ? c : (an < bn ? -1 : an > bn);
}

static int flcmp(const void *pa, const void *pb)
{
	const struct fl *a = pa, *b = pb;
	for (size_t l = 0;; l++) {
		const char *x, *y;
		size_t xn, yn;
		int ea = seg(a, l, &x, &xn), eb = seg(b, l, &y, &yn);
		if (ea || eb) /* a shorter key (a leaf) first */
			return ea && eb ? 0 : ea ? -1 : 1;
		int c = segcmp(x, xn, y, yn);
		if (c)
			return c;
	}
}

static int wrapper(const char *s, size_t n)
{
	static const char *const w[] = {"message", "message_content", "tool_call",
					"document", "tool", "embedding", NULL};
	for (int i = 0; w[i]; i++)
		if (str_eq(s, n, w[i]))
			return 1;
	return 0;
}

static void build(airi__jw *w, const struct fl *f, size_t lo, size_t hi,
		  size_t level)
{
	const char *s, *t;
	size_t sn, tn;
	if (seg(&f[lo], level, &s, &sn)) { /* a value here: deeper keys lose */
		otel_value_json(w, f[lo].v);
		return;
	}
	size_t groups = 0;
	int allnum = 1;
	for (size_t i = lo; i < hi;) {
		size_t j = i + 1;
		uint64_t x;
		seg(&f[i], level, &s, &sn);
		while (j < hi && !seg(&f[j], level, &t, &tn) && !segcmp(s, sn, t, tn))
			j++;
		groups++;
		allnum &= isnum(s, sn, &x);
		i = j;
	}
	seg(&f[lo], level, &s, &sn);
	if (groups == 1 && wrapper(s, sn)) {
		build(w, f, lo, hi, level + 1);
		return;
	}
	if (allnum)
		airi__jw_arr(w);
	else
		airi__jw_obj(w);
	for (size_t i = lo; i < hi;) {
		size_t j = i + 1;
		seg(&f[i], level, &s, &sn);
		while (j < hi && !seg(&f[j], level, &t, &tn) && !segcmp(s, sn, t, tn))
			j++;
		if (!allnum)
			airi__jw_keyn(w, s, sn);
		build(w, f, i, j, level + 1);
		i = j;
	}
	if (allnum)
		airi__jw_end_arr(w);
	else
		airi__jw_end_obj(w);
}

/* The attributes whose keys start with `prefix` (which ends in '.'),
 * rebuilt into one JSON value: numeric segments become array elements in
 * numeric order, other segments object members, and a member that is the
 * only one of its object and named message, message_content, tool_call,
 * document, tool or embedding is replaced by its value. -1 when there is
 * no such attribute. */
static int unflatten(struct m *m, const struct oattrs *a, const char *prefix,
		     struct jdoc *j)
{
	size_t pn = strlen(prefix), n = 0;
	memset(j, 0, sizeof(*j));
	for (size_t i = 0; i < a->n; i++)
		if (a->kv[i].kn > pn && !memcmp(a->kv[i].k, prefix, pn))
			n++;
	if (!n)
		return -1;
	struct fl *f = malloc(n * sizeof(*f));
	if (!f)
		return -1;
	n = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct okv *kv = &a->kv[i];
		if (kv->kn <= pn || memcmp(kv->k, prefix, pn))
			continue;
		if (m && a == &m->s->attrs) {
			m->used[i] = 1;
			if (m->dup[i])
				continue;
		}
		f[n].k = kv->k + pn;
		f[n].n = kv->kn - pn;
		f[n].v = &kv->v;
		const char *s;
		size_t sn;
		/* empty segments and absurd depths are skipped */
		int ok = !seg(&f[n], 0, &s, &sn) && sn;
		for (size_t l = 1; ok && !seg(&f[n], l, &s, &sn); l++)
			ok = sn && l < FL_MAX_SEGMENTS;
		if (ok)
			n++;
	}
	if (!n) {
		free(f);
		return -1;
	}
	qsort(f, n, sizeof(*f), flcmp);
	airi__jw w;
	size_t tn;
	airi__jw_init(&w);
	build(&w, f, 0, n, 0);
	free(f);
	char *t = airi__jw_finish(&w, &tn);
	if (!t)
		return -1;
	return parse_text(j, t, tn, t);
}

/* ---- classification ------------------------------------------------------ */

int otel_classify(const struct ospan *s)
{
	size_t on = 0, kn = 0;
	const char *op = oattr_str(&s->attrs, "gen_ai.operation.name", &on);
	const char *k = oattr_str(&s->attrs, "openinference.span.kind", &kn);
	if (str_eq(op, on, "execute_tool") || str_ieq(k, kn, "TOOL"))
		return SC_TOOL;
	if (str_eq(op, on, "retrieval") || str_ieq(k, kn, "RETRIEVER") ||
	    str_ieq(k, kn, "RERANKER"))
		return SC_RETRIEVAL;
	if (str_eq(op, on, "invoke_agent") || str_eq(op, on, "create_agent") ||
	    str_ieq(k, kn, "AGENT"))
		return SC_AGENT;
	if (str_eq(op, on, "chat") || str_eq(op, on, "text_completion") ||
	    str_eq(op, on, "generate_content") || str_eq(op, on, "embeddings") ||
	    str_ieq(k, kn, "LLM") || str_ieq(k, kn, "EMBEDDING"))
		return SC_INFERENCE;
	if (k && kn)
		return SC_OTHER; /* CHAIN, GUARDRAIL, EVALUATOR, PROMPT, ... */
	/* an operation this list does not know, or none (older
	 * instrumentations): a model call when it names a model */
	if (oattr(&s->attrs, "gen_ai.request.model") ||
	    oattr(&s->attrs, "gen_ai.response.model") ||
	    oattr(&s->attrs, "llm.model_name"))
		return SC_INFERENCE;
	return SC_OTHER;
}

/* ---- messages -------------------------------------------------------------- */

enum msrc { MS_NONE, MS_GENAI, MS_OPENINFERENCE, MS_LEGACY };

/* role events of the GenAI conventions up to v1.36 */
static const struct {
	const char *event, *role;
} role_events[] = {{"gen_ai.system.message", "system"},
		   {"gen_ai.user.message", "user"},
		   {"gen_ai.assistant.message", "assistant"},
		   {"gen_ai.tool.message", "tool"},
		   {NULL, NULL}};

/* one message (or choice) from an event's attributes */
static void event_message(airi__jw *w, const struct oevent *e, const char *role)
{
	struct jdoc j;
	const struct ov *c = eattr(e, "gen_ai.event.content");
	if (c && !as_doc(c, &j) && airi_value_type(jroot(&j)) == AIRI_OBJECT) {
		const airi_value *r = jroot(&j);
		airi__jw_obj(w);
		for (size_t i = 0; i < airi_value_count(r); i++) {
			size_t kn;
			const char *k = airi_value_key_at(r, i, &kn);
			if (role && str_eq(k, kn, "role"))
				continue;
			airi__jw_keyn(w, k, kn);
			airi__jw_value(w, airi_value_at(r, i));
		}
		if (role) {
			airi__jw_key(w, "role");
			airi__jw_str(w, role);
		}
		airi__jw_end_obj(w);
		jdoc_free(&j);
		return;
	}
	if (c)
		jdoc_free(&j);
	uint8_t *d = dup_flags(e->attrs.kv, e->attrs.n);
	airi__jw_obj(w);
	for (size_t i = 0; d && i < e->attrs.n; i++) {
		const struct okv *kv = &e->attrs.kv[i];
		if (d[i] || str_eq(kv->k, kv->kn, "gen_ai.system") ||
		    str_eq(kv->k, kv->kn, "gen_ai.provider.name") ||
		    (role && str_eq(kv->k, kv->kn, "role")))
			continue;
		airi__jw_keyn(w, kv->k, kv->kn);
		json_attr(w, &kv->v);
	}
	if (role) {
		airi__jw_key(w, "role");
		airi__jw_str(w, role);
	}
	airi__jw_end_obj(w);
	free(d);
}

static int events_doc(const struct ospan *s, int output, struct jdoc *j)
{
	airi__jw w;
	size_t n = 0, tn;
	memset(j, 0, sizeof(*j));
	airi__jw_init(&w);
	airi__jw_arr(&w);
	for (size_t i = 0; i < s->nev; i++) {
		const struct oevent *e = &s->ev[i];
		if (output) {
			if (str_eq(e->name, e->nn, "gen_ai.choice")) {
				event_message(&w, e, NULL);
				n++;
			}
			continue;
		}
		for (int r = 0; role_events[r].event; r++)
			if (str_eq(e->name, e->nn, role_events[r].event)) {
				event_message(&w, e, role_events[r].role);
				n++;
			}
	}
	airi__jw_end_arr(&w);
	char *t = airi__jw_finish(&w, &tn);
	if (!n || !t) {
		free(t);
		return -1;
	}
	return parse_text(j, t, tn, t);
}

/* The messages sent to (output = 0) or received from (1) the model, from
 * the first source that has them. *src says which convention. */
static int messages(struct m *m, int output, struct jdoc *j, enum msrc *src)
{
	const struct ospan *s = m->s;
	const char *key = output ? "gen_ai.output.messages" : "gen_ai.input.messages";
	const struct oevent *det = event(s, "gen_ai.client.inference.operation.details");
	const struct ov *v;
	*src = MS_GENAI;
	if ((v = A(m, key)) && !as_doc(v, j))
		return 0;
	if (v) { /* there, but not JSON: kept as the text it is */
		memset(j, 0, sizeof(*j));
		*src = MS_NONE;
		return 1;
	}
	if (det && (v = eattr(det, key)) && !as_doc(v, j))
		return 0;
	*src = MS_OPENINFERENCE;
	if (!unflatten(m, &s->attrs, output ? "llm.output_messages." : "llm.input_messages.", j))
		return 0;
	*src = MS_LEGACY;
	if (!unflatten(m, &s->attrs, output ? "gen_ai.completion." : "gen_ai.prompt.", j))
		return 0;
	if (!events_doc(s, output, j))
		return 0;
	const struct oevent *e = event(s, output ? "gen_ai.content.completion"
						 : "gen_ai.content.prompt");
	if (e && (v = eattr(e, output ? "gen_ai.completion" : "gen_ai.prompt")) &&
	    !as_doc(v, j))
		return 0;
	if ((v = A(m, output ? "gen_ai.completion" : "gen_ai.prompt")) && !as_doc(v, j))
		return 0;
	*src = MS_NONE;
	return -1;
}

static int is_system_msg(const airi_value *msg)
{
	size_t n;
	const char *r = airi_value_string(airi_value_get(msg, "role"), &n);
	return str_eq(r, n, "system") || str_eq(r, n, "developer");
}

/* providers whose API carries the system prompt inside the messages */
static int system_in_messages(const char *p, size_t n)
{
	static const char *const in[] = {"openai", "azure.ai.openai",
					 "azure.ai.inference", "deepseek", "groq",
					 "mistral_ai", "perplexity", "x_ai", "xai",
					 "azure", NULL};
	for (int i = 0; in[i]; i++)
		if (str_eq(p, n, in[i]))
			return 1;
	return 0;
}

/* ---- sections -------------------------------------------------------------- */

static const char *provider(struct m *m, size_t *n)
{
	const char *p;
	if ((p = AS(m, "gen_ai.provider.name", n)) || (p = AS(m, "gen_ai.system", n)) ||
	    (p = AS(m, "llm.provider", n)) || (p = AS(m, "llm.system", n)))
		return p;
	*n = 0;
	return NULL;
}

/* evidence that a response came back (OpenInference rewrites
 * llm.model_name with the response's model then) */
static int has_response(struct m *m)
{
	if (m->s->status == 2)
		return 0;
	for (size_t i = 0; i < m->s->attrs.n; i++) {
		const struct okv *kv = &m->s->attrs.kv[i];
		if ((kv->kn > 16 && !memcmp(kv->k, "llm.token_count.", 16)) ||
		    (kv->kn > 20 && !memcmp(kv->k, "llm.output_messages.", 20)))
			return 1;
	}
	return 0;
}

static void kv_str(airi__jw *w, const char *k, const char *v, size_t n)
{
	airi__jw_key(w, k);
	airi__jw_strn(w, v, n);
}

static void section_model(struct m *m, airi__jw *w, const airi_value *inv)
{
	size_t n, rn = 0, nn = 0;
	const char *p, *name = NULL, *resolved = NULL;
	const struct ov *v;
	airi__jw_key(w, "model");
	airi__jw_obj(w);
	if ((p = provider(m, &n)))
		kv_str(w, "provider", p, n);
	const char *oi = AS(m, "llm.model_name", &n);
	size_t oin = oi ? n : 0;
	name = AS(m, "gen_ai.request.model", &nn);
	if (!name)
		name = airi_value_string(airi_value_get(inv, "model"), &nn);
	if (!name)
		name = AS(m, "llm.request.model_name", &nn);
	if (!name)
		name = AS(m, "embedding.model_name", &nn);
	resolved = AS(m, "gen_ai.response.model", &rn);
	if (!resolved)
		resolved = AS(m, "llm.response.model_name", &rn);
	if (!resolved && oi && has_response(m)) {
		resolved = oi;
		rn = oin;
	}
	if (!name && oi && resolved != oi) {
		name = oi;
		nn = oin;
	}
	if (name && nn)
		kv_str(w, "name", name, nn);
	if (resolved && rn)
		kv_str(w, "resolved", resolved, rn);
	if ((p = AS(m, "openai.response.system_fingerprint", &n)) ||
	    (p = AS(m, "gen_ai.openai.response.system_fingerprint", &n)))
		kv_str(w, "fingerprint", p, n);
	if ((p = AS(m, "openai.response.service_tier", &n)) ||
	    (p = AS(m, "gen_ai.openai.response.service_tier", &n)))
		kv_str(w, "service_tier", p, n);
	if ((p = AS(m, "server.address", &n))) {
		char port[24] = "";
		v = A(m, "server.port");
		if (v && v->type == OV_INT && v->u.i > 0 && v->u.i < 65536)
			snprintf(port, sizeof(port), ":%lld", (long long)v->u.i);
		airi__jw_key(w, "server");
		airi__buf b;
		airi__buf_init(&b);
		airi__buf_add(&b, p, n);
		airi__buf_adds(&b, port);
		airi__jw_strn(w, b.p ? b.p : "", b.n);
		airi__buf_release(&b);
	}
	airi__jw_end_obj(w);
}

/* a params candidate: a name, where its value comes from, and a priority
 * (the GenAI attributes first, then provider-specific ones, then
 * llm.invocation_parameters) */
struct pc {
	const char *name;
	size_t n;
	int prio;
	size_t order;
	const struct ov *ov;
	const airi_value *jv;
};

static int pccmp(const void *a, const void *b)
{
	const struct pc *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio - y->prio;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* members of llm.invocation_parameters that are not params */
static const char *const inv_not_params[] = {"model", "messages", "tools",
					     "functions", "stream", "stream_options",
					     "user", "metadata", "store", NULL};
static const char *const inv_meta[] = {"stream", "stream_options", "user",
				       "metadata", "store", NULL};

static int listed(const char *const *l, const char *k, size_t kn)
{
	for (; *l; l++)
		if (str_eq(k, kn, *l))
			return 1;
	return 0;
}

static void section_params(struct m *m, airi__jw *w, const airi_value *inv,
			   const struct ov *inv_raw)
{
	static const struct {
		const char *attr, *name;
	} fixed[] = {{"gen_ai.request.temperature", "temperature"},
		     {"gen_ai.request.top_p", "top_p"},
		     {"gen_ai.request.top_k", "top_k"},
		     {"gen_ai.request.max_tokens", "max_tokens"},
		     {"gen_ai.request.seed", "seed"},
		     {"gen_ai.request.stop_sequences", "stop"},
		     {"gen_ai.request.frequency_penalty", "frequency_penalty"},
		     {"gen_ai.request.presence_penalty", "presence_penalty"},
		     {"gen_ai.request.choice.count", "n"},
		     {"gen_ai.request.encoding_formats", "encoding_formats"},
		     {"gen_ai.output.type", "output_type"},
		     {"gen_ai.embeddings.dimension.count", "dimensions"},
		     {"gen_ai.openai.request.seed", "seed"},
		     {"gen_ai.openai.request.response_format", "response_format"},
		     {"openai.request.service_tier", "service_tier"},
		     {"gen_ai.openai.request.service_tier", "service_tier"},
		     {NULL, NULL}};
	const struct oattrs *a = &m->s->attrs;
	size_t cap = a->n + airi_value_count(inv) + 32, n = 0;
	struct pc *pc = malloc(cap * sizeof(*pc));
	if (!pc) {
		w->b.failed = 1;
		return;
	}
	for (int i = 0; fixed[i].attr; i++) {
		const struct ov *v = A(m, fixed[i].attr);
		if (v) {
			pc[n] = (struct pc){fixed[i].name, strlen(fixed[i].name),
					    i < 12 ? 0 : 1, n, v, NULL};
			n++;
		}
	}
	/* any other gen_ai.request.* attribute, under its own name */
	for (size_t i = 0; i < a->n; i++) {
		const struct okv *kv = &a->kv[i];
		if (m->dup[i] || m->used[i] || kv->kn <= 15 ||
		    memcmp(kv->k, "gen_ai.request.", 15) ||
		    str_eq(kv->k, kv->kn, "gen_ai.request.model"))
			continue;
		m->used[i] = 1;
		pc[n] = (struct pc){kv->k + 15, kv->kn - 15, 2, n, &kv->v, NULL};
		n++;
	}
	for (size_t i = 0; i < airi_value_count(inv); i++) {
		size_t kn;
		const char *k = airi_value_key_at(inv, i, &kn);
		if (!listed(inv_not_params, k, kn)) {
			pc[n] = (struct pc){k, kn, 3, n, NULL, airi_value_at(inv, i)};
			n++;
		}
	}
	if (!n && !inv_raw) {
		free(pc);
		not_captured(m, "params",
			     "no sampling parameters recorded by the instrumentation");
		return;
	}
	qsort(pc, n, sizeof(*pc), pccmp);
	airi__jw_key(w, "params");
	airi__jw_obj(w);
	for (size_t i = 0; i < n; i++) {
		if (i && pc[i].n == pc[i - 1].n && !memcmp(pc[i].name, pc[i - 1].name, pc[i].n))
			continue;
		airi__jw_keyn(w, pc[i].name, pc[i].n);
		if (pc[i].ov)
			otel_value_json(w, pc[i].ov);
		else
			airi__jw_value(w, pc[i].jv);
	}
	if (inv_raw && !inv) {
		/* llm.invocation_parameters that is not a JSON object */
		int taken = 0;
		for (size_t i = 0; i < n; i++)
			taken |= str_eq(pc[i].name, pc[i].n, "invocation_parameters");
		if (!taken) {
			airi__jw_key(w, "invocation_parameters");
			otel_value_json(w, inv_raw);
		}
	}
	airi__jw_end_obj(w);
	free(pc);
}

static void section_tools(struct m *m, airi__jw *w, const struct oevent *det,
			  const airi_value *inv)
{
	const struct ov *v = A(m, "gen_ai.tool.definitions");
	struct jdoc j;
	if (!v && det)
		v = eattr(det, "gen_ai.tool.definitions");
	if (v) {
		airi__jw_key(w, "tools");
		airi__jw_obj(w);
		airi__jw_key(w, "definitions");
		json_attr(w, v);
		airi__jw_end_obj(w);
		return;
	}
	if (!unflatten(m, &m->s->attrs, "llm.tools.", &j)) {
		const airi_value *r = jroot(&j);
		airi__jw_key(w, "tools");
		airi__jw_obj(w);
		airi__jw_key(w, "definitions");
		if (airi_value_type(r) == AIRI_ARRAY) {
			airi__jw_arr(w);
			for (size_t i = 0; i < airi_value_count(r); i++) {
				const airi_value *t = airi_value_at(r, i);
				const airi_value *js = airi_value_get(t, "json_schema");
				struct jdoc sj;
				size_t n;
				const char *s = airi_value_string(js, &n);
				if (s && !parse_text(&sj, s, n, NULL)) {
					airi__jw_value(w, jroot(&sj));
					jdoc_free(&sj);
				} else {
					airi__jw_value(w, t);
				}
			}
			airi__jw_end_arr(w);
		} else {
			airi__jw_value(w, r);
		}
		airi__jw_end_obj(w);
		jdoc_free(&j);
		return;
	}
	const airi_value *t = airi_value_get(inv, "tools"),
			 *f = airi_value_get(inv, "functions");
	if (t || f) {
		airi__jw_key(w, "tools");
		airi__jw_obj(w);
		if (t) {
			airi__jw_key(w, "definitions");
			airi__jw_value(w, t);
		}
		if (f) {
			airi__jw_key(w, "functions");
			airi__jw_value(w, f);
		}
		airi__jw_end_obj(w);
	}
}

/* resource attributes that describe the software around the model and do
 * not change from one process or host to the next */
static const char *const env_keys[] = {
	"service.name", "service.namespace", "service.version",
	"deployment.environment.name", "deployment.environment",
	"telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version",
	"telemetry.distro.name", "telemetry.distro.version",
	"process.runtime.name", "process.runtime.version",
	"process.runtime.description", "os.type", "os.name", "os.version",
	"host.arch", NULL};

static void section_environment(const struct ospan *s, airi__jw *w)
{
	int any = 0;
	const struct oattrs *ra = s->res ? &s->res->attrs : NULL;
	for (int i = 0; env_keys[i] && ra; i++)
		any |= oattr(ra, env_keys[i]) != NULL;
	if (s->scope && s->scope->nn)
		any = 1;
	if (!any)
		return;
	airi__jw_key(w, "environment");
	airi__jw_obj(w);
	airi__jw_key(w, "otel");
	airi__jw_obj(w);
	if (ra) {
		int open = 0;
		for (int i = 0; env_keys[i]; i++) {
			const struct ov *v = oattr(ra, env_keys[i]);
			if (!v)
				continue;
			if (!open) {
				airi__jw_key(w, "resource");
				airi__jw_obj(w);
				open = 1;
			}
			airi__jw_key(w, env_keys[i]);
			otel_value_json(w, v);
		}
		if (open)
			airi__jw_end_obj(w);
	}
	if (s->scope && s->scope->nn) {
		airi__jw_key(w, "scope");
		airi__jw_obj(w);
		kv_str(w, "name", s->scope->name, s->scope->nn);
		if (s->scope->vn)
			kv_str(w, "version", s->scope->version, s->scope->vn);
		airi__jw_end_obj(w);
	}
	airi__jw_end_obj(w);
	airi__jw_end_obj(w);
}

/* usage in tokens, from whichever convention has it */
static int usage(struct m *m, airi__jw *w, int write)
{
	static const struct {
		const char *name, *a, *b;
	} u[] = {{"cache_creation_input_tokens", "gen_ai.usage.cache_creation.input_tokens",
		  "llm.token_count.prompt_details.cache_write"},
		 {"cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens",
		  "llm.token_count.prompt_details.cache_read"},
		 {"input_tokens", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"},
		 {"input_tokens", "llm.token_count.prompt", NULL},
		 {"output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"},
		 {"output_tokens", "llm.token_count.completion", NULL},
		 {"reasoning_tokens", "llm.token_count.completion_details.reasoning", NULL},
		 {"total_tokens", "gen_ai.usage.total_tokens", "llm.usage.total_tokens"},
		 {"total_tokens", "llm.token_count.total", NULL},
		 {NULL, NULL, NULL}};
	int any = 0;
	const char *last = NULL;
	for (int i = 0; u[i].name; i++) {
		if (last && !strcmp(last, u[i].name))
			continue; /* taken from the previous line */
		const struct ov *v = A2(m, u[i].a, u[i].b);
		if (!v)
			continue;
		last = u[i].name;
		if (write) {
			if (!any) {
				airi__jw_key(w, "usage");
				airi__jw_obj(w);
			}
			airi__jw_key(w, u[i].name);
			otel_value_json(w, v);
		}
		any = 1;
	}
	if (write && any)
		airi__jw_end_obj(w);
	return any;
}

static void finish_reasons(struct m *m, airi__jw *w)
{
	const struct ov *v = A(m, "gen_ai.response.finish_reasons");
	if (v) {
		airi__jw_key(w, "finish_reasons");
		otel_value_json(w, v);
	} else if ((v = A(m, "llm.finish_reason"))) {
		airi__jw_key(w, "finish_reasons");
		airi__jw_arr(w);
		otel_value_json(w, v);
		airi__jw_end_arr(w);
	}
}

static const char *kind_name(int k)
{
	static const char *const n[] = {"unspecified", "internal", "server",
					"client", "producer", "consumer"};
	return k >= 0 && k <= 5 ? n[k] : "unspecified";
}

static void times(airi__jw *w, const struct ospan *s)
{
	char t[32], num[32];
	if (s->start) {
		airi__rfc3339_format((int64_t)(s->start / 1000000), t);
		airi__jw_key(w, "start");
		airi__jw_str(w, t);
	}
	if (s->end) {
		airi__rfc3339_format((int64_t)(s->end / 1000000), t);
		airi__jw_key(w, "end");
		airi__jw_str(w, t);
	}
	if (s->start) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)s->start);
		airi__jw_key(w, "start_time_unix_nano");
		airi__jw_str(w, num);
	}
	if (s->end) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)s->end);
		airi__jw_key(w, "end_time_unix_nano");
		airi__jw_str(w, num);
	}
}

static void ids(airi__jw *w, const struct ospan *s)
{
	char h[33];
	otel_hex(s->trace, 16, h);
	airi__jw_key(w, "trace_id");
	airi__jw_str(w, h);
	otel_hex(s->id, 8, h);
	airi__jw_key(w, "span_id");
	airi__jw_str(w, h);
	if (s->parent_len == 8) {
		otel_hex(s->parent, 8, h);
		airi__jw_key(w, "parent_span_id");
		airi__jw_str(w, h);
	}
}

static int prefixed(const char *k, size_t n, const char *p)
{
	size_t pn = strlen(p);
	return n > pn && !memcmp(k, p, pn);
}

static void meta(struct m *m, airi__jw *w, const airi_value *inv, int has_output)
{
	const struct ospan *s = m->s;
	size_t n;
	const char *p;
	airi__jw_key(w, "meta");
	airi__jw_obj(w);
	airi__jw_key(w, "source");
	airi__jw_str(w, "otlp");
	airi__jw_key(w, "receiver");
	airi__jw_obj(w);
	airi__jw_key(w, "name");
	airi__jw_str(w, "airi otel receive");
	airi__jw_key(w, "version");
	airi__jw_str(w, AIRI_VERSION);
	airi__jw_end_obj(w);
	ids(w, s);
	kv_str(w, "span_name", s->name ? s->name : "", s->nn);
	airi__jw_key(w, "span_kind");
	airi__jw_str(w, kind_name(s->kind));
	times(w, s);
	if ((p = AS(m, "gen_ai.operation.name", &n)) ||
	    (p = AS(m, "openinference.span.kind", &n)))
		kv_str(w, "operation", p, n);
	airi__jw_key(w, "ended");
	airi__jw_str(w, s->status == 2 ? "error" : "complete");
	if (s->status) {
		airi__jw_key(w, "span_status");
		airi__jw_obj(w);
		airi__jw_key(w, "code");
		airi__jw_str(w, s->status == 2 ? "error" : s->status == 1 ? "ok" : "unset");
		if (s->smn)
			kv_str(w, "message", s->smsg, s->smn);
		airi__jw_end_obj(w);
	}
	if ((p = AS(m, "error.type", &n)))
		kv_str(w, "error_type", p, n);
	if ((p = AS(m, "gen_ai.response.id", &n)))
		kv_str(w, "response_id", p, n);
	if ((p = AS(m, "gen_ai.conversation.id", &n)) || (p = AS(m, "session.id", &n)))
		kv_str(w, "conversation_id", p, n);
	if ((p = AS(m, "user.id", &n)))
		kv_str(w, "user", p, n);
	{
		int open = 0;
		for (size_t i = 0; i < airi_value_count(inv); i++) {
			size_t kn;
			const char *k = airi_value_key_at(inv, i, &kn);
			if (!listed(inv_meta, k, kn))
				continue;
			if (!open) {
				airi__jw_key(w, "request");
				airi__jw_obj(w);
				open = 1;
			}
			airi__jw_keyn(w, k, kn);
			airi__jw_value(w, airi_value_at(inv, i));
		}
		if (open)
			airi__jw_end_obj(w);
	}
	if (!has_output) {
		usage(m, w, 1);
		finish_reasons(m, w);
	}
	/* which conventions the span follows */
	{
		int gen = 0, oi = 0;
		for (size_t i = 0; i < s->attrs.n; i++) {
			const struct okv *kv = &s->attrs.kv[i];
			gen |= prefixed(kv->k, kv->kn, "gen_ai.");
			oi |= prefixed(kv->k, kv->kn, "llm.") ||
			      str_eq(kv->k, kv->kn, "openinference.span.kind");
		}
		airi__jw_key(w, "conventions");
		airi__jw_arr(w);
		if (gen)
			airi__jw_str(w, "gen_ai");
		if (oi)
			airi__jw_str(w, "openinference");
		airi__jw_end_arr(w);
	}
	if (m->nnc) {
		airi__buf b;
		airi__buf_init(&b);
		airi__buf_adds(&b, "partial: ");
		airi__jw_key(w, "not_captured");
		airi__jw_obj(w);
		for (int i = 0; i < m->nnc; i++) {
			airi__jw_key(w, m->nc_key[i]);
			airi__jw_str(w, m->nc_why[i]);
			airi__buf_adds(&b, i ? ", " : "");
			airi__buf_adds(&b, m->nc_key[i]);
		}
		airi__jw_end_obj(w);
		airi__buf_adds(&b, " not captured by the instrumentation");
		airi__jw_key(w, "capture");
		airi__jw_strn(w, b.p ? b.p : "", b.n);
		airi__buf_release(&b);
	}
	/* the GenAI, OpenInference and OpenAI attributes not mapped above */
	{
		int open = 0;
		for (size_t i = 0; i < s->attrs.n; i++) {
			const struct okv *kv = &s->attrs.kv[i];
			if (m->used[i] || m->dup[i] ||
			    !(prefixed(kv->k, kv->kn, "gen_ai.") ||
			      prefixed(kv->k, kv->kn, "llm.") ||
			      prefixed(kv->k, kv->kn, "openai.")))
				continue;
			if (!open) {
				airi__jw_key(w, "attributes");
				airi__jw_obj(w);
				open = 1;
			}
			airi__jw_keyn(w, kv->k, kv->kn);
			json_attr(w, &kv->v);
		}
		if (open)
			airi__jw_end_obj(w);
	}
	airi__jw_end_obj(w);
}

char *otel_run_manifest(const struct ospan *s, size_t *len)
{
	struct m m;
	airi__jw w;
	struct jdoc in = {0}, out = {0}, inv = {0}, sys = {0};
	enum msrc isrc = MS_NONE, osrc = MS_NONE;
	char *text = NULL;
	if (m_init(&m, s)) {
		m_free(&m);
		return NULL;
	}
	const struct oevent *det = event(s, "gen_ai.client.inference.operation.details");
	const struct ov *inv_raw = A(&m, "llm.invocation_parameters");
	if (inv_raw && as_doc(inv_raw, &inv) == 0 &&
	    airi_value_type(jroot(&inv)) != AIRI_OBJECT)
		jdoc_free(&inv);
	const airi_value *invp = jroot(&inv);
	int irc = messages(&m, 0, &in, &isrc);
	int orc = messages(&m, 1, &out, &osrc);
	const struct ov *si = A(&m, "gen_ai.system_instructions");
	if (!si && det)
		si = eattr(det, "gen_ai.system_instructions");

	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_obj(&w);
	section_model(&m, &w, invp);
	section_params(&m, &w, invp, inv_raw);

	/* system and input */
	const airi_value *msgs = jroot(&in);
	size_t nsys = 0;
	if (!irc && airi_value_type(msgs) == AIRI_ARRAY)
		for (size_t i = 0; i < airi_value_count(msgs); i++)
			nsys += is_system_msg(airi_value_at(msgs, i));
	size_t opn, kdn;
	const char *opv = oattr_str(&s->attrs, "gen_ai.operation.name", &opn);
	const char *kdv = oattr_str(&s->attrs, "openinference.span.kind", &kdn);
	int embed = str_eq(opv, opn, "embeddings") || str_ieq(kdv, kdn, "EMBEDDING");
	if (embed && !si && !nsys) {
		/* an embeddings call has no system prompt */
		airi__jw_key(&w, "system");
		airi__jw_null(&w);
	} else if (si || nsys) {
		airi__jw_key(&w, "system");
		airi__jw_obj(&w);
		if (si) {
			airi__jw_key(&w, "instructions");
			json_attr(&w, si);
		}
		if (nsys) {
			airi__jw_key(&w, "messages");
			airi__jw_arr(&w);
			for (size_t i = 0; i < airi_value_count(msgs); i++)
				if (is_system_msg(airi_value_at(msgs, i)))
					airi__jw_value(&w, airi_value_at(msgs, i));
			airi__jw_end_arr(&w);
		}
		airi__jw_end_obj(&w);
	} else {
		size_t pn;
		const char *p = provider(&m, &pn);
		if (irc == 0 && airi_value_type(msgs) == AIRI_ARRAY &&
		    (isrc == MS_OPENINFERENCE || system_in_messages(p, pn))) {
			/* the whole conversation is there, and it has none */
			airi__jw_key(&w, "system");
			airi__jw_null(&w);
		} else {
			not_captured(&m, "system",
				     "system prompt not captured by the instrumentation");
		}
	}
	if (irc == 0) {
		airi__jw_key(&w, "input");
		airi__jw_obj(&w);
		if (airi_value_type(msgs) == AIRI_ARRAY) {
			airi__jw_key(&w, "messages");
			airi__jw_arr(&w);
			for (size_t i = 0; i < airi_value_count(msgs); i++)
				if (!is_system_msg(airi_value_at(msgs, i)))
					airi__jw_value(&w, airi_value_at(msgs, i));
			airi__jw_end_arr(&w);
		} else {
			airi__jw_key(&w, "messages");
			airi__jw_value(&w, msgs);
		}
		airi__jw_end_obj(&w);
	} else if (irc == 1) {
		/* gen_ai.input.messages that is not JSON */
		airi__jw_key(&w, "input");
		airi__jw_obj(&w);
		airi__jw_key(&w, "messages");
		otel_value_json(&w, A(&m, "gen_ai.input.messages"));
		airi__jw_end_obj(&w);
	} else if (!unflatten(&m, &s->attrs, "embedding.embeddings.", &sys)) {
		/* embeddings: the texts that were embedded */
		const airi_value *r = jroot(&sys);
		airi__jw_key(&w, "input");
		airi__jw_obj(&w);
		airi__jw_key(&w, "input");
		airi__jw_arr(&w);
		for (size_t i = 0; i < airi_value_count(r); i++) {
			const airi_value *t = airi_value_get(airi_value_at(r, i), "text");
			if (t)
				airi__jw_value(&w, t);
		}
		airi__jw_end_arr(&w);
		airi__jw_end_obj(&w);
	} else {
		not_captured(&m, "input",
			     "input messages not captured by the instrumentation "
			     "(content capture is off)");
	}
	section_tools(&m, &w, det, invp);
	section_environment(s, &w);
	airi__jw_end_obj(&w); /* conditions */

	int has_output = orc >= 0;
	if (has_output) {
		airi__jw_key(&w, "output");
		airi__jw_obj(&w);
		airi__jw_key(&w, "messages");
		if (orc == 0)
			airi__jw_value(&w, jroot(&out));
		else
			otel_value_json(&w, A(&m, "gen_ai.output.messages"));
		finish_reasons(&m, &w);
		usage(&m, &w, 1);
		airi__jw_end_obj(&w);
	} else if (!embed) {
		not_captured(&m, "output",
			     "output messages not captured by the instrumentation");
	}
	/* attributes read only for their presence */
	A(&m, "gen_ai.request.model");
	meta(&m, &w, invp, has_output);
	airi__jw_end_obj(&w);
	text = airi__jw_finish(&w, len);
	jdoc_free(&in);
	jdoc_free(&out);
	jdoc_free(&inv);
	jdoc_free(&sys);
	m_free(&m);
	return text;
}

/* ---- steps of agent runs ----------------------------------------------------- */

static void content_digest(airi__jw *w, const airi_value *c)
{
	size_t n;
	const char *p = airi_value_string(c, &n);
	airi_digest d;
	char h[AIRI_DIGEST_STRLEN];
	if (p) {
		airi_digest_bytes(p, n, &d);
	} else if (c) {
		airi_digest_value(c, &d);
	} else {
		return;
	}
	airi_digest_format(&d, h);
	airi__jw_key(w, "digest");
	airi__jw_str(w, h);
}

static void documents(airi__jw *w, const airi_value *docs)
{
	airi__jw_key(w, "documents");
	airi__jw_arr(w);
	for (size_t i = 0; i < airi_value_count(docs); i++) {
		const airi_value *d = airi_value_at(docs, i);
		const airi_value *id = airi_value_get(d, "id"),
				 *score = airi_value_get(d, "score"),
				 *c = airi_value_get(d, "content");
		airi__jw_obj(w);
		content_digest(w, c);
		if (id) {
			airi__jw_key(w, "id");
			airi__jw_value(w, id);
		}
		if (score) {
			airi__jw_key(w, "score");
			airi__jw_value(w, score);
		}
		airi__jw_end_obj(w);
	}
	airi__jw_end_arr(w);
}

static void opt_value(airi__jw *w, const char *key, const struct ov *v, int json)
{
	airi__jw_key(w, key);
	if (!v)
		airi__jw_null(w);
	else if (json)
		json_attr(w, v);
	else
		otel_value_json(w, v);
}

char *otel_step(const struct ospan *s, size_t *len)
{
	struct m m;
	airi__jw w;
	size_t n;
	const char *p;
	char *text;
	if (m_init(&m, s)) {
		m_free(&m);
		return NULL;
	}
	airi__jw_init(&w);
	airi__jw_obj(&w);
	if (s->cls == SC_TOOL) {
		opt_value(&w, "arguments", A2(&m, "gen_ai.tool.call.arguments", "input.value"), 1);
		opt_value(&w, "id", A2(&m, "gen_ai.tool.call.id", "tool_call.id"), 0);
		opt_value(&w, "name", A2(&m, "gen_ai.tool.name", "tool.name"), 0);
		opt_value(&w, "result", A2(&m, "gen_ai.tool.call.result", "output.value"), 1);
		airi__jw_key(&w, "type");
		airi__jw_str(&w, "tool_call");
	} else if (s->cls == SC_RETRIEVAL) {
		struct jdoc j;
		const struct ov *v;
		if ((p = AS(&m, "gen_ai.data_source.id", &n)))
			kv_str(&w, "data_source", p, n);
		if (((v = A(&m, "gen_ai.retrieval.documents")) && !as_doc(v, &j)) ||
		    !unflatten(&m, &s->attrs, "retrieval.documents.", &j) ||
		    !unflatten(&m, &s->attrs, "reranker.output_documents.", &j)) {
			documents(&w, jroot(&j));
			jdoc_free(&j);
		}
		if ((v = A(&m, "gen_ai.retrieval.query.text")) ||
		    (v = A(&m, "reranker.query")) || (v = A(&m, "input.value"))) {
			airi__jw_key(&w, "query");
			otel_value_json(&w, v);
		}
		airi__jw_key(&w, "type");
		airi__jw_str(&w, "retrieval");
	} else {
		if ((p = AS(&m, "gen_ai.agent.id", &n)))
			kv_str(&w, "id", p, n);
		if ((p = AS(&m, "gen_ai.agent.name", &n)) || (p = AS(&m, "agent.name", &n)))
			kv_str(&w, "name", p, n);
		airi__jw_key(&w, "type");
		airi__jw_str(&w, "agent");
	}
	if (s->status == 2) {
		airi__jw_key(&w, "error");
		if ((p = AS(&m, "error.type", &n)))
			airi__jw_strn(&w, p, n);
		else if (s->smn)
			airi__jw_strn(&w, s->smsg, s->smn);
		else
			airi__jw_str(&w, "error");
	}
	airi__jw_end_obj(&w);
	text = airi__jw_finish(&w, len);
	m_free(&m);
	return text;
}

char *otel_agent_section(const struct ospan *s, size_t *len)
{
	size_t n;
	const char *p;
	int any = 0;
	airi__jw w;
	airi__jw_init(&w);
	airi__jw_obj(&w);
	if ((p = oattr_str(&s->attrs, "gen_ai.agent.description", &n)) && n) {
		kv_str(&w, "description", p, n);
		any = 1;
	}
	if ((p = oattr_str(&s->attrs, "gen_ai.agent.id", &n)) && n) {
		kv_str(&w, "id", p, n);
		any = 1;
	}
	if (((p = oattr_str(&s->attrs, "gen_ai.agent.name", &n)) && n) ||
	    ((p = oattr_str(&s->attrs, "agent.name", &n)) && n)) {
		kv_str(&w, "name", p, n);
		any = 1;
	}
	airi__jw_end_obj(&w);
	char *t = airi__jw_finish(&w, len);
	if (!any) {
		free(t);
		return NULL;
	}
	return t;
}
