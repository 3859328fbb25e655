/*
 * fuzz_otlp.c - libFuzzer target for the OTLP decoders of `airi otel
 * receive` (src/otel/otlp_json.c, src/otel/otlp_pb.c) and everything that
 * runs on what they decode: the batch checks, the span mapping, agent runs
 * and the --forward re-encoding.
 *
 * The first byte picks the decoder (even: JSON, odd: protobuf); the rest is
 * the request body. For every input it checks:
 *  - the decoder returns 0 or -1 with a non-empty message, never more spans
 *    than OTEL_MAX_SPANS;
 *  - every decoded string and attribute key is valid UTF-8;
 *  - obatch_check gives every span a verdict; no span on a cycle of parent
 *    links is left unrejected (checked here by walking the links);
 *  - every manifest otel_run_manifest makes is a valid manifest
 *    (airi_manifest_parse accepts it), every step and agent section is
 *    valid JSON, and a grouped run built from the batch is a valid manifest;
 *  - the re-encoded request (ids added to every inference span) decodes
 *    again to the same number of spans, each inference span now carrying
 *    airi.run.id;
 *  - the responses are well formed.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#define _GNU_SOURCE
#include "otel.h"
#include "fuzz_ref.h"

#include <stddef.h>
#include <stdint.h>

static void check_json(const char *p, size_t n)
{
	airi_json *d = NULL;
	if (airi_json_parse(p, n, &d, NULL)) {
		fprintf(stderr, "not JSON: %.*s\n", (int)(n > 2000 ? 2000 : n), p);
		abort();
	}
	airi_json_free(d);
}

static void check_value(const struct ov *v, int depth)
{
	REQUIRE(depth < 1000);
	if (v->type == OV_STRING)
		REQUIRE(otel_utf8_valid(v->u.s.p, v->u.s.n) == v->u.s.n);
	if (v->type == OV_ARRAY)
		for (size_t i = 0; i < v->u.a.n; i++)
			check_value(&v->u.a.v[i], depth + 1);
	if (v->type == OV_KVLIST)
		for (size_t i = 0; i < v->u.kv.n; i++) {
			REQUIRE(otel_utf8_valid(v->u.kv.kv[i].k, v->u.kv.kv[i].kn) ==
				v->u.kv.kv[i].kn);
			check_value(&v->u.kv.kv[i].v, depth + 1);
		}
}

static size_t nsealed;
static void sealed(char *m, size_t n, void *ctx)
{
	airi_manifest *mf = NULL;
	airi_error err;
	(void)ctx;
	if (airi_manifest_parse(m, n, &mf, &err)) {
		fprintf(stderr, "grouped run invalid: %s\n%.*s\n", err.message,
			(int)(n > 2000 ? 2000 : n), m);
		abort();
	}
	airi_manifest_free(mf);
	free(m);
	nsealed++;
}

/* the spans of the batch with this trace and id, not rejected */
static struct ospan *find(struct obatch *b, const unsigned char *trace,
			  const unsigned char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (!b->spans[i].reject && !memcmp(b->spans[i].trace, trace, 16) &&
		    !memcmp(b->spans[i].id, id, 8))
			return &b->spans[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obatch b;
	char err[300];
	int big = 0;
	if (!size)
		return 0;
	int json = !(data[0] & 1);
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	memset(&b, 0, sizeof(b));
	err[0] = 0;
	int rc = json ? otlp_json_decode(p, n, &b, err, sizeof(err), &big)
		      : otlp_pb_decode((const unsigned char *)p, n, &b, err, sizeof(err), &big);
	if (rc) {
		REQUIRE(rc == -1 && err[0]);
		obatch_free(&b);
		return 0;
	}
	REQUIRE(b.n <= OTEL_MAX_SPANS);
	for (size_t i = 0; i < b.n; i++) {
		const struct ospan *s = &b.spans[i];
		REQUIRE(otel_utf8_valid(s->name, s->nn) == s->nn);
		for (size_t k = 0; k < s->attrs.n; k++) {
			REQUIRE(otel_utf8_valid(s->attrs.kv[k].k, s->attrs.kv[k].kn) ==
				s->attrs.kv[k].kn);
			check_value(&s->attrs.kv[k].v, 0);
		}
	}
	size_t rejected = obatch_check(&b), count = 0;
	for (size_t i = 0; i < b.n; i++)
		count += b.spans[i].reject != NULL;
	REQUIRE(count == rejected);
	/* no accepted span is its own ancestor (within the request) */
	for (size_t i = 0; i < b.n && b.n <= 2000; i++) {
		struct ospan *s = &b.spans[i];
		if (s->reject)
			continue;
		struct ospan *x = s;
		for (size_t steps = 0; x && x->parent_len == 8; steps++) {
			REQUIRE(steps <= b.n);
			x = find(&b, x->trace, x->parent);
			REQUIRE(x != s);
		}
	}
	struct agents *as = agents_new(30, 64, sealed, NULL);
	REQUIRE(as != NULL);
	nsealed = 0;
	for (size_t i = 0; i < b.n; i++) {
		struct ospan *s = &b.spans[i];
		size_t len;
		if (s->reject)
			continue;
		if (s->cls == SC_INFERENCE) {
			char *t = otel_run_manifest(s, &len);
			airi_manifest *m = NULL;
			airi_error e;
			REQUIRE(t != NULL);
			if (airi_manifest_parse(t, len, &m, &e)) {
				fprintf(stderr, "invalid manifest: %s\n%.*s\n", e.message,
					(int)(len > 4000 ? 4000 : len), t);
				abort();
			}
			s->has_run = 1;
			s->run = *airi_manifest_run_id(m);
			s->conditions = *airi_manifest_conditions_id(m);
			airi_manifest_free(m);
			agents_add(as, s, 1);
			agents_model_done(as, s, t, len, 1);
			free(t);
		} else {
			if (s->cls != SC_OTHER) {
				char *t = otel_step(s, &len);
				REQUIRE(t != NULL);
				check_json(t, len);
				free(t);
			}
			if (s->cls == SC_AGENT) {
				char *t = otel_agent_section(s, &len);
				if (t)
					check_json(t, len);
				free(t);
			}
			agents_add(as, s, 0);
		}
	}
	agents_flush(as);
	agents_seal_all(as, "shutdown");
	agents_free(as);

	/* --forward: the request again, ids added */
	size_t len;
	char *re = json ? otlp_json_reencode(&b, &len) : otlp_pb_reencode(&b, &len);
	REQUIRE(re != NULL);
	struct obatch again;
	memset(&again, 0, sizeof(again));
	rc = json ? otlp_json_decode(re, len, &again, err, sizeof(err), &big)
		  : otlp_pb_decode((const unsigned char *)re, len, &again, err, sizeof(err), &big);
	if (rc) {
		fprintf(stderr, "re-encoded request does not decode: %s\n", err);
		abort();
	}
	REQUIRE(again.n == b.n);
	for (size_t i = 0; i < b.n; i++)
		if (b.spans[i].has_run)
			REQUIRE(oattr(&again.spans[i].attrs, "airi.run.id") != NULL);
	obatch_free(&again);
	free(re);

	char *r = otlp_response(json, (int64_t)rejected, rejected ? "x" : NULL, &len);
	REQUIRE(r != NULL);
	if (json)
		check_json(r, len);
	free(r);
	obatch_free(&b);
	return 0;
}
