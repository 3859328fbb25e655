/*
 * otlp_json.c - OTLP/HTTP with Content-Type application/json: the
 * ExportTraceServiceRequest in the Protobuf JSON mapping with OTLP's
 * deviations (trace and span ids as hex, enums as integers, lowerCamelCase
 * member names; 64-bit integers as decimal strings, or numbers), parsed by
 * the library's strict JSON parser and copied into the span model of
 * otel.h. Unknown members are ignored, as OTLP requires; `null` stands for
 * the default value of any field; a member of the wrong JSON type is a 400
 * naming the member.
 *
 * Parsing uses the library's canonical-input mode, which accepts integer
 * literals beyond 2^53: 64-bit values are then read exactly from the
 * literal's digits, never through a double.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct jd {
	struct arena *ar;
	char *err;
	size_t errcap;
	char path[160];
	int too_big;
};

static int fail(struct jd *j, const char *what, const char *member)
{
	snprintf(j->err, j->errcap, "%s%s%s: %s", j->path, *j->path ? "." : "",
		 member, what);
	return -1;
}

/* a member by its lowerCamelCase or its proto field name */
static const airi_value *mem(const airi_value *o, const char *camel,
			     const char *snake)
{
	const airi_value *v = airi_value_get(o, camel);
	if (!v && snake)
		v = airi_value_get(o, snake);
	if (v && airi_value_type(v) == AIRI_NULL)
		return NULL;
	return v;
}

static int want(struct jd *j, const airi_value *v, airi_type t,
		const char *member, const char *what)
{
	if (v && airi_value_type(v) != t)
		return fail(j, what, member);
	return 0;
}

/* path bookkeeping for messages: "resourceSpans[0].scopeSpans[1]" */
static size_t push(struct jd *j, const char *name, size_t idx)
{
	size_t old = strlen(j->path);
	snprintf(j->path + old, sizeof(j->path) - old, "%s%s[%zu]",
		 old ? "." : "", name, idx);
	return old;
}
static void pop(struct jd *j, size_t old)
{
	j->path[old] = 0;
}

static int digits_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (!n || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* the text of a number literal or a string, for integer fields */
static const char *int_text(const airi_value *v, size_t *n)
{
	if (airi_value_type(v) == AIRI_STRING)
		return airi_value_string(v, n);
	if (airi_value_type(v) == AIRI_NUMBER) {
		*n = v->u.num.rawn;
		return v->u.num.raw;
	}
	return NULL;
}

static int get_u64(struct jd *j, const airi_value *o, const char *camel,
		   const char *snake, uint64_t *out)
{
	const airi_value *v = mem(o, camel, snake);
	size_t n;
	const char *s;
	*out = 0;
	if (!v)
		return 0;
	if (!(s = int_text(v, &n)) || digits_u64(s, n, out))
		return fail(j, "expected an unsigned 64-bit integer (a decimal string or number)",
			    camel);
	return 0;
}

static int get_i64(struct jd *j, const airi_value *v, const char *member,
		   int64_t *out)
{
	size_t n;
	const char *s = int_text(v, &n);
	uint64_t u;
	int neg = s && n && s[0] == '-';
	if (!s || digits_u64(s + neg, n - neg, &u) ||
	    u > (uint64_t)INT64_MAX + (uint64_t)neg)
		return fail(j, "expected a 64-bit integer (a decimal string or number)",
			    member);
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int get_enum(struct jd *j, const airi_value *o, const char *camel,
		    const char *const *names, int *out)
{
	const airi_value *v = mem(o, camel, NULL);
	size_t n;
	const char *s;
	uint64_t u;
	*out = 0;
	if (!v)
		return 0;
	if (airi_value_type(v) == AIRI_STRING) {
		s = airi_value_string(v, &n);
		for (int i = 0; names[i]; i++)
			if (strlen(names[i]) == n && !memcmp(names[i], s, n)) {
				*out = i;
				return 0;
			}
		return fail(j, "unknown enum name", camel);
	}
	if (airi_value_type(v) != AIRI_NUMBER ||
	    (s = int_text(v, &n), digits_u64(s, n, &u)) || u > 0x7FFFFFFF)
		return fail(j, "expected an enum value (an integer)", camel);
	*out = (int)u;
	return 0;
}

static int get_str(struct jd *j, const airi_value *o, const char *camel,
		   const char *snake, const char **p, size_t *n)
{
	const airi_value *v = mem(o, camel, snake);
	*p = "";
	*n = 0;
	if (!v)
		return 0;
	if (airi_value_type(v) != AIRI_STRING)
		return fail(j, "expected a string", camel);
	*p = airi_value_string(v, n);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* a hex-encoded id: any even length decodes (its length is kept), but only
 * `cap` bytes are stored (other lengths are invalid ids: rejected later) */
static int get_id(struct jd *j, const airi_value *o, const char *camel,
		  const char *snake, unsigned char *dst, size_t cap, size_t *len)
{
	const char *s;
	size_t n;
	memset(dst, 0, cap);
	*len = 0;
	if (get_str(j, o, camel, snake, &s, &n))
		return -1;
	if (n % 2)
		return fail(j, "expected a hex string (odd number of digits)", camel);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return fail(j, "expected a hex string", camel);
		if (n / 2 == cap)
			dst[i / 2] = (unsigned char)(hi * 16 + lo);
	}
	*len = n / 2;
	return 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* standard or URL-safe base64, padded or not (the proto3 JSON mapping) */
static int b64(struct jd *j, const char *s, size_t n, struct ov *v)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	unsigned char *out = arena_alloc(j->ar, n / 4 * 3 + 3);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	if (!out)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int x = b64val(s[i]);
		if (x < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	v->type = OV_BYTES;
	v->u.s.p = (const char *)out;
	v->u.s.n = o;
	return 0;
}

static int conv_attrs(struct jd *j, const airi_value *arr, const char *member,
		      struct oattrs *out);

static int conv_any(struct jd *j, const airi_value *o, struct ov *v,
		    const char *member)
{
	size_t nset = 0, n;
	const airi_value *x;
	memset(v, 0, sizeof(*v));
	if (!o || airi_value_type(o) == AIRI_NULL)
		return 0;
	if (airi_value_type(o) != AIRI_OBJECT)
		return fail(j, "expected an AnyValue object", member);
	if ((x = mem(o, "stringValue", "string_value"))) {
		nset++;
		if (airi_value_type(x) != AIRI_STRING)
			return fail(j, "stringValue: expected a string", member);
		v->type = OV_STRING;
		v->u.s.p = airi_value_string(x, &v->u.s.n);
	}
	if ((x = mem(o, "boolValue", "bool_value"))) {
		nset++;
		if (airi_value_type(x) != AIRI_TRUE && airi_value_type(x) != AIRI_FALSE)
			return fail(j, "boolValue: expected true or false", member);
		v->type = OV_BOOL;
		v->u.b = airi_value_type(x) == AIRI_TRUE;
	}
	if ((x = mem(o, "intValue", "int_value"))) {
		nset++;
		v->type = OV_INT;
		if (get_i64(j, x, member, &v->u.i))
			return -1;
	}
	if ((x = mem(o, "doubleValue", "double_value"))) {
		nset++;
		v->type = OV_DOUBLE;
		if (airi_value_type(x) == AIRI_NUMBER) {
			v->u.d = airi_value_number(x);
		} else if (airi_value_type(x) == AIRI_STRING) {
			const char *s = airi_value_string(x, &n);
			char tmp[64];
			char *end;
			if (n == 3 && !memcmp(s, "NaN", 3))
				v->u.d = NAN;
			else if (n == 8 && !memcmp(s, "Infinity", 8))
				v->u.d = INFINITY;
			else if (n == 9 && !memcmp(s, "-Infinity", 9))
				v->u.d = -INFINITY;
			else {
				if (!n || n >= sizeof(tmp) || memchr(s, 0, n))
					return fail(j, "doubleValue: expected a number", member);
				memcpy(tmp, s, n);
				tmp[n] = 0;
				errno = 0;
				v->u.d = strtod(tmp, &end);
				if (*end || end == tmp || errno || !isfinite(v->u.d) ||
				    !((tmp[0] >= '0' && tmp[0] <= '9') || tmp[0] == '-'))
					return fail(j, "doubleValue: expected a number", member);
			}
		} else {
			return fail(j, "doubleValue: expected a number", member);
		}
	}
	if ((x = mem(o, "bytesValue", "bytes_value"))) {
		nset++;
		const char *s = airi_value_string(x, &n);
		if (!s || b64(j, s, n, v)) {
			if (j->ar->failed)
				goto oom;
			return fail(j, "bytesValue: expected base64", member);
		}
	}
	if ((x = mem(o, "arrayValue", "array_value"))) {
		nset++;
		if (airi_value_type(x) != AIRI_OBJECT)
			return fail(j, "arrayValue: expected an object", member);
		const airi_value *vals = mem(x, "values", NULL);
		if (want(j, vals, AIRI_ARRAY, member, "arrayValue.values: expected an array"))
			return -1;
		v->type = OV_ARRAY;
		n = airi_value_count(vals);
		if (n) {
			v->u.a.v = arena_calloc(j->ar, n, sizeof(struct ov));
			if (!v->u.a.v)
				goto oom;
			v->u.a.n = n;
			for (size_t i = 0; i < n; i++)
				if (conv_any(j, airi_value_at(vals, i), &v->u.a.v[i], member))
					return -1;
		}
	}
	if ((x = mem(o, "kvlistValue", "kvlist_value"))) {
		nset++;
		if (airi_value_type(x) != AIRI_OBJECT)
			return fail(j, "kvlistValue: expected an object", member);
		struct oattrs at = {0};
		if (conv_attrs(j, mem(x, "values", NULL), member, &at))
			return -1;
		v->type = OV_KVLIST;
		v->u.kv.kv = at.kv;
		v->u.kv.n = at.n;
	}
	if (nset > 1)
		return fail(j, "an AnyValue with more than one member set", member);
	return 0;
oom:
	j->too_big = 1;
	snprintf(j->err, j->errcap, "request decodes to more than the memory limit");
	return -1;
}

static int conv_attrs(struct jd *j, const airi_value *arr, const char *member,
		      struct oattrs *out)
{
	out->kv = NULL;
	out->n = 0;
	if (!arr)
		return 0;
	if (airi_value_type(arr) != AIRI_ARRAY)
		return fail(j, "expected an array of key-value pairs", member);
	size_t n = airi_value_count(arr);
	if (!n)
		return 0;
	out->kv = arena_calloc(j->ar, n, sizeof(struct okv));
	if (!out->kv) {
		j->too_big = 1;
		snprintf(j->err, j->errcap, "request decodes to more than the memory limit");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const airi_value *kv = airi_value_at(arr, i);
		struct okv *o = &out->kv[i];
		if (airi_value_type(kv) != AIRI_OBJECT)
			return fail(j, "expected key-value objects", member);
		if (get_str(j, kv, "key", NULL, &o->k, &o->kn))
			return -1;
		if (conv_any(j, mem(kv, "value", NULL), &o->v, member))
			return -1;
	}
	out->n = n;
	return 0;
}

static const char *const kind_names[] = {
	"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER", NULL};
static const char *const code_names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
					 "STATUS_CODE_ERROR", NULL};

static int conv_span(struct jd *j, const airi_value *s, struct ospan *o)
{
	memset(o, 0, sizeof(*o));
	o->src = s;
	if (airi_value_type(s) != AIRI_OBJECT)
		return fail(j, "expected a span object", "spans");
	if (get_id(j, s, "traceId", "trace_id", o->trace, 16, &o->trace_len) ||
	    get_id(j, s, "spanId", "span_id", o->id, 8, &o->id_len) ||
	    get_id(j, s, "parentSpanId", "parent_span_id", o->parent, 8,
		   &o->parent_len) ||
	    get_str(j, s, "name", NULL, &o->name, &o->nn) ||
	    get_enum(j, s, "kind", kind_names, &o->kind) ||
	    get_u64(j, s, "startTimeUnixNano", "start_time_unix_nano", &o->start) ||
	    get_u64(j, s, "endTimeUnixNano", "end_time_unix_nano", &o->end) ||
	    conv_attrs(j, mem(s, "attributes", NULL), "attributes", &o->attrs))
		return -1;
	const airi_value *st = mem(s, "status", NULL);
	if (st) {
		if (airi_value_type(st) != AIRI_OBJECT)
			return fail(j, "expected an object", "status");
		if (get_enum(j, st, "code", code_names, &o->status) ||
		    get_str(j, st, "message", NULL, &o->smsg, &o->smn))
			return -1;
	}
	const airi_value *ev = mem(s, "events", NULL);
	if (want(j, ev, AIRI_ARRAY, "events", "expected an array"))
		return -1;
	size_t ne = airi_value_count(ev);
	if (ne) {
		o->ev = arena_calloc(j->ar, ne, sizeof(struct oevent));
		if (!o->ev) {
			j->too_big = 1;
			snprintf(j->err, j->errcap,
				 "request decodes to more than the memory limit");
			return -1;
		}
		for (size_t i = 0; i < ne; i++) {
			const airi_value *e = airi_value_at(ev, i);
			struct oevent *oe = &o->ev[i];
			if (airi_value_type(e) != AIRI_OBJECT)
				return fail(j, "expected event objects", "events");
			if (get_u64(j, e, "timeUnixNano", "time_unix_nano", &oe->time) ||
			    get_str(j, e, "name", NULL, &oe->name, &oe->nn) ||
			    conv_attrs(j, mem(e, "attributes", NULL), "events.attributes",
				       &oe->attrs))
				return -1;
		}
		o->nev = ne;
	}
	return 0;
}

int otlp_json_decode(const char *p, size_t n, struct obatch *b, char *err,
		     size_t errcap, int *too_big)
{
	airi_error e;
	struct jd j = {&b->ar, err, errcap, "", 0};
	*too_big = 0;
	b->json = 1;
	b->text = p;
	b->text_len = n;
	b->ar.budget = OTEL_DECODE_BUDGET;
	int rc = airi__json_parse_ex(p, n, AIRI__PARSE_CANONICAL, &b->doc, &e);
	if (rc) {
		if (rc == AIRI_ENOMEM) {
			*too_big = 1;
			snprintf(err, errcap, "request decodes to more than the memory limit");
		} else if (e.has_position) {
			snprintf(err, errcap, "invalid JSON at line %zu, column %zu: %s",
				 e.line, e.column, e.message);
		} else {
			snprintf(err, errcap, "invalid JSON: %s", e.message);
		}
		return -1;
	}
	const airi_value *root = airi_json_root(b->doc);
	if (airi_value_type(root) != AIRI_OBJECT) {
		snprintf(err, errcap, "expected an ExportTraceServiceRequest object");
		return -1;
	}
	const airi_value *rss = mem(root, "resourceSpans", "resource_spans");
	if (want(&j, rss, AIRI_ARRAY, "resourceSpans", "expected an array"))
		return -1;
	/* count first: one allocation for every span */
	size_t total = 0;
	for (size_t r = 0; r < airi_value_count(rss); r++) {
		const airi_value *rs = airi_value_at(rss, r);
		const airi_value *sss = mem(rs, "scopeSpans", "scope_spans");
		for (size_t s = 0; airi_value_type(sss) == AIRI_ARRAY &&
				   s < airi_value_count(sss);
		     s++)
			total += airi_value_count(
				mem(airi_value_at(sss, s), "spans", NULL));
	}
	if (total > OTEL_MAX_SPANS) {
		*too_big = 1;
		snprintf(err, errcap, "too many spans in one request");
		return -1;
	}
	if (total && !(b->spans = arena_calloc(&b->ar, total, sizeof(struct ospan)))) {
		*too_big = 1;
		snprintf(err, errcap, "request decodes to more than the memory limit");
		return -1;
	}
	b->cap = total;
	for (size_t r = 0; r < airi_value_count(rss); r++) {
		const airi_value *rs = airi_value_at(rss, r);
		size_t o1 = push(&j, "resourceSpans", r);
		if (airi_value_type(rs) != AIRI_OBJECT) {
			fail(&j, "expected an object", "resourceSpans");
			goto bad;
		}
		struct oresource *res = arena_calloc(&b->ar, 1, sizeof(*res));
		if (!res)
			goto oom;
		const airi_value *rv = mem(rs, "resource", NULL);
		if (want(&j, rv, AIRI_OBJECT, "resource", "expected an object") ||
		    conv_attrs(&j, mem(rv, "attributes", NULL), "resource.attributes",
			       &res->attrs))
			goto bad;
		const airi_value *sss = mem(rs, "scopeSpans", "scope_spans");
		if (want(&j, sss, AIRI_ARRAY, "scopeSpans", "expected an array"))
			goto bad;
		for (size_t s = 0; s < airi_value_count(sss); s++) {
			const airi_value *ss = airi_value_at(sss, s);
			size_t o2 = push(&j, "scopeSpans", s);
			if (airi_value_type(ss) != AIRI_OBJECT) {
				fail(&j, "expected an object", "scopeSpans");
				goto bad;
			}
			struct oscope *sc = arena_calloc(&b->ar, 1, sizeof(*sc));
			if (!sc)
				goto oom;
			const airi_value *scope = mem(ss, "scope", NULL);
			if (want(&j, scope, AIRI_OBJECT, "scope", "expected an object") ||
			    get_str(&j, scope, "name", NULL, &sc->name, &sc->nn) ||
			    get_str(&j, scope, "version", NULL, &sc->version, &sc->vn))
				goto bad;
			const airi_value *spans = mem(ss, "spans", NULL);
			if (want(&j, spans, AIRI_ARRAY, "spans", "expected an array"))
				goto bad;
			for (size_t k = 0; k < airi_value_count(spans); k++) {
				size_t o3 = push(&j, "spans", k);
				struct ospan *o = &b->spans[b->n];
				if (conv_span(&j, airi_value_at(spans, k), o))
					goto bad;
				o->res = res;
				o->scope = sc;
				b->n++;
				pop(&j, o3);
			}
			pop(&j, o2);
		}
		pop(&j, o1);
	}
	return 0;
bad:
	*too_big = j.too_big;
	return -1;
oom:
	*too_big = 1;
	snprintf(err, errcap, "request decodes to more than the memory limit");
	return -1;
}

/* ---- --forward: the received text with the ids spliced in ---------------- */

struct splice {
	size_t at, del;
	char *text;
};

static int splice_cmp(const void *a, const void *b)
{
	const struct splice *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

static void kv_text(airi__buf *t, const airi_digest *run, const airi_digest *cond)
{
	char r[AIRI_DIGEST_STRLEN], c[AIRI_DIGEST_STRLEN];
	airi_digest_format(run, r);
	airi_digest_format(cond, c);
	airi__buf_printf(t,
			 "{\"key\":\"airi.run.id\",\"value\":{\"stringValue\":\"%s\"}},"
			 "{\"key\":\"airi.conditions.id\",\"value\":{\"stringValue\":\"%s\"}}",
			 r, c);
}

char *otlp_json_reencode(const struct obatch *b, size_t *len)
{
	size_t ns = 0, k = 0;
	for (size_t i = 0; i < b->n; i++)
		ns += b->spans[i].has_run;
	struct splice *sp = ns ? calloc(ns, sizeof(*sp)) : NULL;
	char *out = NULL;
	if (ns && !sp)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		const struct ospan *s = &b->spans[i];
		if (!s->has_run)
			continue;
		const airi_value *span = s->src;
		const airi_value *attrs = airi_value_get(span, "attributes");
		airi__buf t;
		airi__buf_init(&t);
		struct splice *x = &sp[k++];
		if (attrs && airi_value_type(attrs) == AIRI_ARRAY) {
			x->at = airi_value_offset(attrs) + 1; /* after '[' */
			kv_text(&t, &s->run, &s->conditions);
			if (airi_value_count(attrs))
				airi__buf_addc(&t, ',');
		} else if (attrs) { /* "attributes": null */
			x->at = airi_value_offset(attrs);
			x->del = 4;
			airi__buf_addc(&t, '[');
			kv_text(&t, &s->run, &s->conditions);
			airi__buf_addc(&t, ']');
		} else {
			x->at = airi_value_offset(span) + 1; /* after '{' */
			airi__buf_adds(&t, "\"attributes\":[");
			kv_text(&t, &s->run, &s->conditions);
			airi__buf_addc(&t, ']');
			if (airi_value_count(span))
				airi__buf_addc(&t, ',');
		}
		x->text = airi__buf_detach(&t, NULL);
		if (!x->text)
			goto done;
	}
	if (ns)
		qsort(sp, ns, sizeof(*sp), splice_cmp);
	airi__buf o;
	airi__buf_init(&o);
	size_t pos = 0;
	for (size_t i = 0; i < ns; i++) {
		if (sp[i].at < pos || sp[i].at > b->text_len)
			continue; /* cannot happen with distinct spans */
		airi__buf_add(&o, b->text + pos, sp[i].at - pos);
		airi__buf_adds(&o, sp[i].text);
		pos = sp[i].at + sp[i].del;
	}
	airi__buf_add(&o, b->text + pos, b->text_len - pos);
	out = airi__buf_detach(&o, len);
done:
	for (size_t i = 0; i < ns; i++)
		free(sp[i].text);
	free(sp);
	return out;
}
