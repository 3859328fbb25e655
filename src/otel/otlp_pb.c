/*
 * otlp_pb.c - OTLP/HTTP with Content-Type application/x-protobuf: the
 * ExportTraceServiceRequest is decoded by protobuf-c with the code that
 * protoc-c generates at build time from proto/ (the published OTLP message
 * definitions), then copied into the span model of otel.h. Responses
 * (ExportTraceServiceResponse, google.rpc.Status) and the re-encoded
 * request of --forward are packed by protobuf-c too.
 *
 * protobuf-c unpacks recursively and allocates what the input announces,
 * so before it runs, a walk over the wire format driven by protobuf-c's own
 * message descriptors (no OTLP knowledge of its own) bounds the nesting of
 * messages (OTEL_MAX_DEPTH), the number of spans (OTEL_MAX_SPANS) and an
 * estimate of the memory the unpacked request takes (OTEL_DECODE_BUDGET),
 * and rejects truncated input early.
 */
#define _GNU_SOURCE
#include "otel.h"

#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include <stdio.h>
#include <string.h>

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	PbRequest;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans PbResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans PbScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span PbSpan;
typedef Opentelemetry__Proto__Trace__V1__Span__Event PbEvent;
typedef Opentelemetry__Proto__Common__V1__KeyValue PbKV;
typedef Opentelemetry__Proto__Common__V1__AnyValue PbAny;

#define REQ_DESC opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
#define SPAN_DESC opentelemetry__proto__trace__v1__span__descriptor

/* ---- the pre-scan ---------------------------------------------------------- */

struct scan {
	size_t budget; /* estimated bytes protobuf-c will allocate */
	size_t spans;
	const char *why;
	int too_big;
};

static int varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*i >= n)
			return -1;
		uint8_t b = p[(*i)++];
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int scan_message(const ProtobufCMessageDescriptor *d, const uint8_t *p,
			size_t n, int depth, struct scan *st)
{
	size_t i = 0;
	if (depth > OTEL_MAX_DEPTH) {
		st->why = "protobuf messages nested too deeply";
		return -1;
	}
	if (d == &SPAN_DESC && ++st->spans > OTEL_MAX_SPANS) {
		st->why = "too many spans in one request";
		st->too_big = 1;
		return -1;
	}
	st->budget += d->sizeof_message + 64;
	while (i < n) {
		uint64_t tag, len;
		if (varint(p, n, &i, &tag) || (tag >> 3) == 0 ||
		    (tag >> 3) > 0x1FFFFFFF) {
			st->why = "malformed protobuf: bad field tag";
			return -1;
		}
		unsigned wire = (unsigned)(tag & 7);
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
		/* each field occurrence: a scanned-member record in protobuf-c,
		 * and a slot in a repeated field's array */
		st->budget += 48;
		switch (wire) {
		case 0:
			if (varint(p, n, &i, &len)) {
				st->why = "malformed protobuf: truncated varint";
				return -1;
			}
			break;
		case 1:
			if (n - i < 8) {
				st->why = "malformed protobuf: truncated fixed64";
				return -1;
			}
			i += 8;
			break;
		case 5:
			if (n - i < 4) {
				st->why = "malformed protobuf: truncated fixed32";
				return -1;
			}
			i += 4;
			break;
		case 2:
			if (varint(p, n, &i, &len) || len > n - i) {
				st->why = "malformed protobuf: truncated length-delimited field";
				return -1;
			}
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (scan_message(f->descriptor, p + i, (size_t)len,
						 depth + 1, st))
					return -1;
			} else {
				st->budget += (size_t)len + 16;
			}
			i += (size_t)len;
			break;
		default:
			st->why = "malformed protobuf: unsupported wire type";
			return -1;
		}
		if (st->budget > OTEL_DECODE_BUDGET) {
			st->why = "request decodes to more than the memory limit";
			st->too_big = 1;
			return -1;
		}
	}
	return 0;
}

/* ---- conversion into the span model ---------------------------------------- */

struct conv {
	struct arena *ar;
	const char *why;
};

static int str_ok(struct conv *c, const char *s, size_t *n, const char *what)
{
	*n = s ? strlen(s) : 0;
	if (otel_utf8_valid(s, *n) != *n) {
		c->why = what;
		return -1;
	}
	return 0;
}

static int conv_attrs(struct conv *c, PbKV **kv, size_t n, struct oattrs *out);

static int conv_any(struct conv *c, const PbAny *a, struct ov *v)
{
	memset(v, 0, sizeof(*v));
	if (!a)
		return 0;
	switch (a->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		v->type = OV_STRING;
		v->u.s.p = a->string_value;
		return str_ok(c, a->string_value, &v->u.s.n,
			      "invalid UTF-8 in a string attribute value");
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		v->type = OV_BOOL;
		v->u.b = a->bool_value != 0;
		return 0;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		v->type = OV_INT;
		v->u.i = a->int_value;
		return 0;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		v->type = OV_DOUBLE;
		v->u.d = a->double_value;
		return 0;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		v->type = OV_BYTES;
		v->u.s.p = (const char *)a->bytes_value.data;
		v->u.s.n = a->bytes_value.len;
		return 0;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
		const Opentelemetry__Proto__Common__V1__ArrayValue *av = a->array_value;
		v->type = OV_ARRAY;
		if (!av || !av->n_values)
			return 0;
		v->u.a.v = arena_calloc(c->ar, av->n_values, sizeof(struct ov));
		if (!v->u.a.v)
			return -1;
		v->u.a.n = av->n_values;
		for (size_t i = 0; i < av->n_values; i++)
			if (conv_any(c, av->values[i], &v->u.a.v[i]))
				return -1;
		return 0;
	}
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
		const Opentelemetry__Proto__Common__V1__KeyValueList *kl = a->kvlist_value;
		struct oattrs at = {0};
		v->type = OV_KVLIST;
		if (kl && conv_attrs(c, kl->values, kl->n_values, &at))
			return -1;
		v->u.kv.kv = at.kv;
		v->u.kv.n = at.n;
		return 0;
	}
	default:
		return 0; /* not set, or a member this airi does not know */
	}
}

static int conv_attrs(struct conv *c, PbKV **kv, size_t n, struct oattrs *out)
{
	out->kv = NULL;
	out->n = 0;
	if (!n)
		return 0;
	out->kv = arena_calloc(c->ar, n, sizeof(struct okv));
	if (!out->kv)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct okv *o = &out->kv[out->n];
		if (!kv[i])
			continue;
		o->k = kv[i]->key;
		if (str_ok(c, kv[i]->key, &o->kn, "invalid UTF-8 in an attribute key") ||
		    conv_any(c, kv[i]->value, &o->v))
			return -1;
		out->n++;
	}
	return 0;
}

static void set_id(unsigned char *dst, size_t cap, size_t *len,
		   const ProtobufCBinaryData *b)
{
	*len = b->len;
	memset(dst, 0, cap);
	if (b->len == cap && b->data)
		memcpy(dst, b->data, cap);
}

static int conv_span(struct conv *c, PbSpan *s, struct ospan *o)
{
	memset(o, 0, sizeof(*o));
	o->src = s;
	set_id(o->trace, 16, &o->trace_len, &s->trace_id);
	set_id(o->id, 8, &o->id_len, &s->span_id);
	set_id(o->parent, 8, &o->parent_len, &s->parent_span_id);
	o->name = s->name;
	o->kind = (int)s->kind;
	o->start = s->start_time_unix_nano;
	o->end = s->end_time_unix_nano;
	if (str_ok(c, s->name, &o->nn, "invalid UTF-8 in a span name") ||
	    conv_attrs(c, s->attributes, s->n_attributes, &o->attrs))
		return -1;
	if (s->status) {
		o->status = (int)s->status->code;
		o->smsg = s->status->message;
		if (str_ok(c, s->status->message, &o->smn,
			   "invalid UTF-8 in a span status message"))
			return -1;
	}
	if (s->n_events) {
		o->ev = arena_calloc(c->ar, s->n_events, sizeof(struct oevent));
		if (!o->ev)
			return -1;
		for (size_t i = 0; i < s->n_events; i++) {
			PbEvent *e = s->events[i];
			struct oevent *oe = &o->ev[o->nev];
			if (!e)
				continue;
			oe->time = e->time_unix_nano;
			oe->name = e->name;
			if (str_ok(c, e->name, &oe->nn, "invalid UTF-8 in an event name") ||
			    conv_attrs(c, e->attributes, e->n_attributes, &oe->attrs))
				return -1;
			o->nev++;
		}
	}
	return 0;
}

static void *pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size);
}

static void pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* the arena goes as a whole */
}

int otlp_pb_decode(const unsigned char *p, size_t n, struct obatch *b,
		   char *err, size_t errcap, int *too_big)
{
	struct scan st = {0};
	*too_big = 0;
	b->json = 0;
	if (scan_message(&REQ_DESC, p, n, 0, &st)) {
		snprintf(err, errcap, "%s", st.why);
		*too_big = st.too_big;
		return -1;
	}
	/* unpacked into the batch's arena: one bump per field instead of a
	 * malloc, and nothing to free field by field afterwards */
	b->ar.budget = OTEL_DECODE_BUDGET;
	ProtobufCAllocator al = {pb_alloc, pb_free, &b->ar};
	PbRequest *req = (PbRequest *)protobuf_c_message_unpack(&REQ_DESC, &al, n, p);
	if (!req) {
		if (b->ar.failed) {
			snprintf(err, errcap, "request decodes to more than the memory limit");
			*too_big = 1;
		} else
			snprintf(err, errcap,
				 "malformed protobuf: not an ExportTraceServiceRequest");
		return -1;
	}
	b->pb = req;
	b->pb_in_arena = 1;
	struct conv c = {&b->ar, NULL};
	size_t total = 0;
	for (size_t r = 0; r < req->n_resource_spans; r++) {
		PbResourceSpans *rs = req->resource_spans[r];
		for (size_t s = 0; rs && s < rs->n_scope_spans; s++)
			if (rs->scope_spans[s])
				total += rs->scope_spans[s]->n_spans;
	}
	if (total) {
		b->spans = arena_calloc(&b->ar, total, sizeof(struct ospan));
		if (!b->spans)
			goto oom;
		b->cap = total;
	}
	for (size_t r = 0; r < req->n_resource_spans; r++) {
		PbResourceSpans *rs = req->resource_spans[r];
		if (!rs)
			continue;
		struct oresource *res = arena_calloc(&b->ar, 1, sizeof(*res));
		if (!res)
			goto oom;
		if (rs->resource &&
		    conv_attrs(&c, rs->resource->attributes,
			       rs->resource->n_attributes, &res->attrs))
			goto bad;
		for (size_t s = 0; s < rs->n_scope_spans; s++) {
			PbScopeSpans *ss = rs->scope_spans[s];
			if (!ss)
				continue;
			struct oscope *sc = arena_calloc(&b->ar, 1, sizeof(*sc));
			if (!sc)
				goto oom;
			if (ss->scope) {
				sc->name = ss->scope->name;
				sc->version = ss->scope->version;
				if (str_ok(&c, sc->name, &sc->nn, "invalid UTF-8 in a scope name") ||
				    str_ok(&c, sc->version, &sc->vn,
					   "invalid UTF-8 in a scope version"))
					goto bad;
			}
			for (size_t k = 0; k < ss->n_spans; k++) {
				if (!ss->spans[k])
					continue;
				struct ospan *o = &b->spans[b->n];
				if (conv_span(&c, ss->spans[k], o))
					goto bad;
				o->res = res;
				o->scope = sc;
				b->n++;
			}
		}
	}
	return 0;
bad:
	if (!c.why)
		goto oom;
	snprintf(err, errcap, "%s", c.why);
	return -1;
oom:
	snprintf(err, errcap, "request decodes to more than the memory limit");
	*too_big = 1;
	return -1;
}

void otlp_pb_release(void *pb)
{
	if (pb)
		protobuf_c_message_free_unpacked(pb, NULL);
}

/* ---- responses ----------------------------------------------------------- */

static char *pack(const ProtobufCMessage *m, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	char *p = malloc(n ? n : 1);
	if (!p)
		return NULL;
	*len = protobuf_c_message_pack(m, (uint8_t *)p);
	return p;
}

char *otlp_response(int json, int64_t rejected, const char *msg, size_t *len)
{
	if (json) {
		airi__jw w;
		airi__jw_init(&w);
		airi__jw_obj(&w);
		if (rejected > 0 || (msg && *msg)) {
			char num[32];
			airi__jw_key(&w, "partialSuccess");
			airi__jw_obj(&w);
			airi__jw_key(&w, "errorMessage");
			airi__jw_str(&w, msg ? msg : "");
			/* int64 is a string in OTLP/JSON */
			snprintf(num, sizeof(num), "%lld", (long long)rejected);
			airi__jw_key(&w, "rejectedSpans");
			airi__jw_str(&w, num);
			airi__jw_end_obj(&w);
		}
		airi__jw_end_obj(&w);
		return airi__jw_finish(&w, len);
	}
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	if (rejected > 0 || (msg && *msg)) {
		ps.rejected_spans = rejected;
		ps.error_message = (char *)(msg ? msg : "");
		r.partial_success = &ps;
	}
	return pack(&r.base, len);
}

char *otlp_status(int json, int code, const char *msg, size_t *len)
{
	if (json) {
		airi__jw w;
		airi__jw_init(&w);
		airi__jw_obj(&w);
		airi__jw_key(&w, "code");
		airi__jw_int(&w, code);
		airi__jw_key(&w, "message");
		airi__jw_str(&w, msg);
		airi__jw_end_obj(&w);
		return airi__jw_finish(&w, len);
	}
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	st.code = code;
	st.message = (char *)msg;
	return pack(&st.base, len);
}

/* ---- --forward ------------------------------------------------------------- */

static void id_value(PbKV *kv, PbAny *av, const char *key, char *s)
{
	PbKV k0 = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	PbAny a0 = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	*kv = k0;
	*av = a0;
	av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	av->string_value = s;
	kv->key = (char *)key;
	kv->value = av;
}

struct patch {
	PbSpan *sp;
	PbKV **old;
	size_t oldn;
	PbKV **arr;
	PbKV kv[2];
	PbAny av[2];
	char run[AIRI_DIGEST_STRLEN], cond[AIRI_DIGEST_STRLEN];
};

char *otlp_pb_reencode(struct obatch *b, size_t *len)
{
	size_t np = 0;
	char *out = NULL;
	for (size_t i = 0; i < b->n; i++)
		np += b->spans[i].has_run;
	struct patch *pt = np ? calloc(np, sizeof(*pt)) : NULL;
	if (np && !pt)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < b->n && k < np; i++) {
		struct ospan *s = &b->spans[i];
		if (!s->has_run)
			continue;
		struct patch *p = &pt[k];
		p->sp = (PbSpan *)s->src;
		p->old = p->sp->attributes;
		p->oldn = p->sp->n_attributes;
		p->arr = malloc((p->oldn + 2) * sizeof(*p->arr));
		if (!p->arr)
			goto out;
		k++;
		airi_digest_format(&s->run, p->run);
		airi_digest_format(&s->conditions, p->cond);
		id_value(&p->kv[0], &p->av[0], "airi.run.id", p->run);
		id_value(&p->kv[1], &p->av[1], "airi.conditions.id", p->cond);
		size_t n = 0;
		int have_run = 0, have_cond = 0;
		for (size_t j = 0; j < p->oldn; j++) {
			PbKV *kv = p->old[j];
			/* an earlier airi's ids are replaced, not repeated */
			if (kv && kv->key && !strcmp(kv->key, "airi.run.id")) {
				kv = &p->kv[0];
				have_run = 1;
			} else if (kv && kv->key && !strcmp(kv->key, "airi.conditions.id")) {
				kv = &p->kv[1];
				have_cond = 1;
			}
			p->arr[n++] = kv;
		}
		if (!have_run)
			p->arr[n++] = &p->kv[0];
		if (!have_cond)
			p->arr[n++] = &p->kv[1];
		p->sp->attributes = p->arr;
		p->sp->n_attributes = n;
	}
	out = pack((const ProtobufCMessage *)b->pb, len);
out:
	for (size_t i = 0; i < k; i++) {
		pt[i].sp->attributes = pt[i].old;
		pt[i].sp->n_attributes = pt[i].oldn;
		free(pt[i].arr);
	}
	free(pt);
	return out;
}
