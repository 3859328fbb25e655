/*
 * test_otel.c - the pieces of `airi otel receive` below HTTP: the OTLP/JSON
 * and OTLP/protobuf decoders (the same request in both encodings must give
 * the same runs), the checks of a batch (ids, duplicates, cycles), the
 * mapping of the GenAI, OpenInference and older conventions, the agent
 * runs assembled across batches, the OTLP responses and the --forward
 * re-encoding. Every manifest the mapping makes must be a valid manifest.
 */
#define _GNU_SOURCE
#include "otel.h"

#include "store.h"

#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers -------------------------------------------------------------- */

static int decode_json(const char *text, struct obatch *b)
{
	char err[300];
	int big = 0;
	memset(b, 0, sizeof(*b));
	int rc = otlp_json_decode(text, strlen(text), b, err, sizeof(err), &big);
	if (rc)
		print_message("decode: %s\n", err);
	return rc;
}

/* the manifest of span i, parsed (fails the test when it is not valid) */
static airi_manifest *manifest_of(const struct ospan *s)
{
	size_t n;
	char *t = otel_run_manifest(s, &n);
	airi_manifest *m = NULL;
	airi_error err;
	assert_non_null(t);
	if (airi_manifest_parse(t, n, &m, &err)) {
		print_message("invalid manifest: %s\n%s\n", err.message, t);
		fail();
	}
	free(t);
	return m;
}

static const airi_value *at(const airi_value *v, const char *path)
{
	/* "a/b/0/c" */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok(buf, "/"); p && v; p = strtok(NULL, "/")) {
		if (airi_value_type(v) == AIRI_ARRAY)
			v = airi_value_at(v, (size_t)atoi(p));
		else
			v = airi_value_get(v, p);
	}
	return v;
}

static const airi_value *mget(const airi_manifest *m, const char *path)
{
	return at(airi_manifest_root(m), path);
}

static void assert_str(const airi_value *v, const char *want)
{
	size_t n;
	const char *s = airi_value_string(v, &n);
	if (!s || n != strlen(want) || memcmp(s, want, n)) {
		print_message("got %.*s, want %s\n", s ? (int)n : 6, s ? s : "(none)", want);
		fail();
	}
}

#define TRACE "5b8efff798038103d269b633813fc60c"

static const char genai_json[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":["
	"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"demo\"}},"
	"{\"key\":\"host.name\",\"value\":{\"stringValue\":\"box-1\"}}]},"
	"\"scopeSpans\":[{\"scope\":{\"name\":\"instr\",\"version\":\"1.2\"},\"spans\":[{"
	"\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"eee19b7ec3c1b174\","
	"\"name\":\"chat gpt-4o\",\"kind\":3,"
	"\"startTimeUnixNano\":\"1764300000000000000\",\"endTimeUnixNano\":1764300001000000000,"
	"\"attributes\":["
	"{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
	"{\"key\":\"gen_ai.provider.name\",\"value\":{\"stringValue\":\"openai\"}},"
	"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o\"}},"
	"{\"key\":\"gen_ai.response.model\",\"value\":{\"stringValue\":\"gpt-4o-2024-08-06\"}},"
	"{\"key\":\"openai.response.system_fingerprint\",\"value\":{\"stringValue\":\"fp_1\"}},"
	"{\"key\":\"gen_ai.request.temperature\",\"value\":{\"doubleValue\":0}},"
	"{\"key\":\"gen_ai.request.seed\",\"value\":{\"intValue\":\"42\"}},"
	"{\"key\":\"gen_ai.request.stop_sequences\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"END\"}]}}},"
	"{\"key\":\"gen_ai.request.max_tokens\",\"value\":{\"intValue\":100}},"
	"{\"key\":\"gen_ai.input.messages\",\"value\":{\"stringValue\":"
	"\"[{\\\"role\\\":\\\"system\\\",\\\"parts\\\":[{\\\"type\\\":\\\"text\\\",\\\"content\\\":\\\"Be brief.\\\"}]},"
	"{\\\"role\\\":\\\"user\\\",\\\"parts\\\":[{\\\"type\\\":\\\"text\\\",\\\"content\\\":\\\"Hi\\\"}]}]\"}},"
	"{\"key\":\"gen_ai.output.messages\",\"value\":{\"stringValue\":"
	"\"[{\\\"role\\\":\\\"assistant\\\",\\\"parts\\\":[{\\\"type\\\":\\\"text\\\",\\\"content\\\":\\\"Hello.\\\"}],\\\"finish_reason\\\":\\\"stop\\\"}]\"}},"
	"{\"key\":\"gen_ai.response.finish_reasons\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"stop\"}]}}},"
	"{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"9\"}},"
	"{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":2}},"
	"{\"key\":\"gen_ai.response.id\",\"value\":{\"stringValue\":\"chatcmpl-1\"}},"
	"{\"key\":\"gen_ai.custom.thing\",\"value\":{\"boolValue\":true}},"
	"{\"key\":\"http.url\",\"value\":{\"stringValue\":\"https://x?key=secret\"}}],"
	"\"status\":{\"code\":1}}]}]}]}";

/* ---- tests ------------------------------------------------------------------ */

static void genai_json_maps(void **state)
{
	(void)state;
	struct obatch b;
	assert_int_equal(decode_json(genai_json, &b), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(obatch_check(&b), 0);
	assert_int_equal(b.spans[0].cls, SC_INFERENCE);
	assert_true(b.spans[0].root);
	airi_manifest *m = manifest_of(&b.spans[0]);
	assert_str(mget(m, "conditions/model/name"), "gpt-4o");
	assert_str(mget(m, "conditions/model/resolved"), "gpt-4o-2024-08-06");
	assert_str(mget(m, "conditions/model/fingerprint"), "fp_1");
	assert_str(mget(m, "conditions/model/provider"), "openai");
	assert_int_equal(airi_value_number(mget(m, "conditions/params/seed")), 42);
	assert_int_equal(airi_value_number(mget(m, "conditions/params/max_tokens")), 100);
	assert_true(airi_value_type(mget(m, "conditions/params/temperature")) == AIRI_NUMBER);
	assert_str(mget(m, "conditions/params/stop/0"), "END");
	assert_str(mget(m, "conditions/system/messages/0/parts/0/content"), "Be brief.");
	assert_int_equal(airi_value_count(mget(m, "conditions/input/messages")), 1);
	assert_str(mget(m, "conditions/input/messages/0/parts/0/content"), "Hi");
	assert_str(mget(m, "output/messages/0/parts/0/content"), "Hello.");
	assert_str(mget(m, "output/finish_reasons/0"), "stop");
	assert_int_equal(airi_value_number(mget(m, "output/usage/input_tokens")), 9);
	/* ids as lowercase hex, times as RFC 3339 and exact nanoseconds */
	assert_str(mget(m, "meta/trace_id"), TRACE);
	assert_str(mget(m, "meta/end_time_unix_nano"), "1764300001000000000");
	assert_str(mget(m, "meta/start"), "2025-11-28T03:20:00.000Z");
	assert_str(mget(m, "meta/response_id"), "chatcmpl-1");
	/* unmapped GenAI attributes are kept in meta; other attributes are not */
	assert_true(airi_value_type(mget(m, "meta/attributes/gen_ai.custom.thing")) == AIRI_TRUE);
	assert_null(mget(m, "meta/attributes/http.url"));
	/* the environment: allowlisted resource attributes and the scope */
	assert_str(mget(m, "conditions/environment/otel/resource/service.name"), "demo");
	assert_null(mget(m, "conditions/environment/otel/resource/host.name"));
	assert_str(mget(m, "conditions/environment/otel/scope/version"), "1.2");
	assert_null(mget(m, "meta/not_captured"));
	airi_verdict v;
	char *rep;
	size_t rn;
	assert_int_equal(airi_manifest_check(m, &v, &rep, &rn), 0);
	assert_int_equal(v, AIRI_PINNED);
	free(rep);
	airi_manifest_free(m);
	obatch_free(&b);
}

/* builds the protobuf twin of genai_json with protobuf-c */
typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
typedef Opentelemetry__Proto__Common__V1__AnyValue AV;

static KV *kv_new(const char *k)
{
	KV *kv = calloc(1, sizeof(*kv));
	AV *av = calloc(1, sizeof(*av));
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(av);
	kv->key = (char *)k;
	kv->value = av;
	return kv;
}
static KV *kv_s(const char *k, const char *s)
{
	KV *kv = kv_new(k);
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = (char *)s;
	return kv;
}
static KV *kv_i(const char *k, int64_t i)
{
	KV *kv = kv_new(k);
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = i;
	return kv;
}
static KV *kv_d(const char *k, double d)
{
	KV *kv = kv_new(k);
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	kv->value->double_value = d;
	return kv;
}
static KV *kv_b(const char *k, int b)
{
	KV *kv = kv_new(k);
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	kv->value->bool_value = b;
	return kv;
}
static KV *kv_a1(const char *k, const char *s)
{
	KV *kv = kv_new(k);
	Opentelemetry__Proto__Common__V1__ArrayValue *arr = calloc(1, sizeof(*arr));
	opentelemetry__proto__common__v1__array_value__init(arr);
	arr->n_values = 1;
	arr->values = calloc(1, sizeof(AV *));
	arr->values[0] = calloc(1, sizeof(AV));
	opentelemetry__proto__common__v1__any_value__init(arr->values[0]);
	arr->values[0]->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	arr->values[0]->string_value = (char *)s;
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	kv->value->array_value = arr;
	return kv;
}
static void kv_free(KV *kv)
{
	if (kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE) {
		free(kv->value->array_value->values[0]);
		free(kv->value->array_value->values);
		free(kv->value->array_value);
	}
	free(kv->value);
	free(kv);
}

static unsigned char *genai_pb(size_t *len)
{
	static unsigned char trace[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
					  0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
	static unsigned char sid[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};
	KV *attrs[] = {
		kv_s("gen_ai.operation.name", "chat"), kv_s("gen_ai.provider.name", "openai"),
		kv_s("gen_ai.request.model", "gpt-4o"),
		kv_s("gen_ai.response.model", "gpt-4o-2024-08-06"),
		kv_s("openai.response.system_fingerprint", "fp_1"),
		kv_d("gen_ai.request.temperature", 0), kv_i("gen_ai.request.seed", 42),
		kv_a1("gen_ai.request.stop_sequences", "END"),
		kv_i("gen_ai.request.max_tokens", 100),
		kv_s("gen_ai.input.messages",
		     "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\",\"content\":\"Be brief.\"}]},"
		     "{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Hi\"}]}]"),
		kv_s("gen_ai.output.messages",
		     "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Hello.\"}],\"finish_reason\":\"stop\"}]"),
		kv_a1("gen_ai.response.finish_reasons", "stop"),
		kv_i("gen_ai.usage.input_tokens", 9), kv_i("gen_ai.usage.output_tokens", 2),
		kv_s("gen_ai.response.id", "chatcmpl-1"), kv_b("gen_ai.custom.thing", 1),
		kv_s("http.url", "https://x?key=secret")};
	KV *rattrs[] = {kv_s("service.name", "demo"), kv_s("host.name", "box-1")};
	Opentelemetry__Proto__Trace__V1__Span span = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	Opentelemetry__Proto__Trace__V1__Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	Opentelemetry__Proto__Trace__V1__Span *spans[] = {&span};
	Opentelemetry__Proto__Trace__V1__ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *sss[] = {&ss};
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
		OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	Opentelemetry__Proto__Trace__V1__ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rss[] = {&rs};
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	span.trace_id.data = trace;
	span.trace_id.len = 16;
	span.span_id.data = sid;
	span.span_id.len = 8;
	span.name = "chat gpt-4o";
	span.kind = 3;
	span.start_time_unix_nano = 1764300000000000000ull;
	span.end_time_unix_nano = 1764300001000000000ull;
	span.attributes = attrs;
	span.n_attributes = sizeof(attrs) / sizeof(*attrs);
	st.code = 1;
	span.status = &st;
	scope.name = "instr";
	scope.version = "1.2";
	ss.scope = &scope;
	ss.spans = spans;
	ss.n_spans = 1;
	res.attributes = rattrs;
	res.n_attributes = 2;
	rs.resource = &res;
	rs.scope_spans = sss;
	rs.n_scope_spans = 1;
	req.resource_spans = rss;
	req.n_resource_spans = 1;
	*len = protobuf_c_message_get_packed_size(&req.base);
	unsigned char *out = malloc(*len);
	protobuf_c_message_pack(&req.base, out);
	for (size_t i = 0; i < sizeof(attrs) / sizeof(*attrs); i++)
		kv_free(attrs[i]);
	kv_free(rattrs[0]);
	kv_free(rattrs[1]);
	return out;
}

static void protobuf_equals_json(void **state)
{
	(void)state;
	struct obatch bj, bp;
	size_t len;
	char err[300];
	int big;
	unsigned char *pb = genai_pb(&len);
	memset(&bp, 0, sizeof(bp));
	assert_int_equal(decode_json(genai_json, &bj), 0);
	assert_int_equal(otlp_pb_decode(pb, len, &bp, err, sizeof(err), &big), 0);
	obatch_check(&bj);
	obatch_check(&bp);
	airi_manifest *mj = manifest_of(&bj.spans[0]), *mp = manifest_of(&bp.spans[0]);
	/* the same span in both encodings: the same run */
	assert_true(airi_digest_equal(airi_manifest_run_id(mj), airi_manifest_run_id(mp)));
	airi_manifest_free(mj);
	airi_manifest_free(mp);
	/* every strict prefix of the protobuf is refused, none crashes */
	for (size_t cut = 1; cut < len; cut++) {
		struct obatch t;
		memset(&t, 0, sizeof(t));
		int rc = otlp_pb_decode(pb, cut, &t, err, sizeof(err), &big);
		obatch_free(&t);
		assert_int_equal(rc, -1);
	}
	obatch_free(&bj);
	obatch_free(&bp);
	free(pb);
}

static const char oi_json[] =
	"{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"name\":\"oi\"},\"spans\":[{"
	"\"traceId\":\"" TRACE "\",\"spanId\":\"0102030405060708\",\"name\":\"OpenAI Chat Completions\","
	"\"attributes\":["
	"{\"key\":\"openinference.span.kind\",\"value\":{\"stringValue\":\"LLM\"}},"
	"{\"key\":\"llm.system\",\"value\":{\"stringValue\":\"openai\"}},"
	"{\"key\":\"llm.model_name\",\"value\":{\"stringValue\":\"gpt-4o-mini-2024-07-18\"}},"
	"{\"key\":\"llm.invocation_parameters\",\"value\":{\"stringValue\":"
	"\"{\\\"model\\\":\\\"gpt-4o-mini\\\",\\\"temperature\\\":0.5,\\\"seed\\\":3,\\\"stream\\\":false,\\\"user\\\":\\\"u1\\\"}\"}},"
	"{\"key\":\"llm.input_messages.1.message.role\",\"value\":{\"stringValue\":\"user\"}},"
	"{\"key\":\"llm.input_messages.1.message.contents.0.message_content.type\",\"value\":{\"stringValue\":\"text\"}},"
	"{\"key\":\"llm.input_messages.1.message.contents.0.message_content.text\",\"value\":{\"stringValue\":\"Hi\"}},"
	"{\"key\":\"llm.input_messages.0.message.role\",\"value\":{\"stringValue\":\"system\"}},"
	"{\"key\":\"llm.input_messages.0.message.content\",\"value\":{\"stringValue\":\"Sys\"}},"
	"{\"key\":\"llm.input_messages.10.message.role\",\"value\":{\"stringValue\":\"tool\"}},"
	"{\"key\":\"llm.input_messages.10.message.tool_call_id\",\"value\":{\"stringValue\":\"c1\"}},"
	"{\"key\":\"llm.input_messages.2.message.role\",\"value\":{\"stringValue\":\"assistant\"}},"
	"{\"key\":\"llm.input_messages.2.message.tool_calls.0.tool_call.function.name\",\"value\":{\"stringValue\":\"f\"}},"
	"{\"key\":\"llm.input_messages.2.message.tool_calls.0.tool_call.id\",\"value\":{\"stringValue\":\"c1\"}},"
	"{\"key\":\"llm.output_messages.0.message.role\",\"value\":{\"stringValue\":\"assistant\"}},"
	"{\"key\":\"llm.output_messages.0.message.content\",\"value\":{\"stringValue\":\"Yo\"}},"
	"{\"key\":\"llm.tools.0.tool.json_schema\",\"value\":{\"stringValue\":\"{\\\"type\\\":\\\"function\\\",\\\"function\\\":{\\\"name\\\":\\\"f\\\"}}\"}},"
	"{\"key\":\"llm.token_count.prompt\",\"value\":{\"intValue\":5}},"
	"{\"key\":\"llm.token_count.completion\",\"value\":{\"intValue\":1}}]}]}]}]}";

static void openinference_maps(void **state)
{
	(void)state;
	struct obatch b;
	assert_int_equal(decode_json(oi_json, &b), 0);
	obatch_check(&b);
	assert_int_equal(b.spans[0].cls, SC_INFERENCE);
	airi_manifest *m = manifest_of(&b.spans[0]);
	/* the requested model from the invocation parameters, the served one
	 * from llm.model_name (the response came back: token counts) */
	assert_str(mget(m, "conditions/model/name"), "gpt-4o-mini");
	assert_str(mget(m, "conditions/model/resolved"), "gpt-4o-mini-2024-07-18");
	assert_int_equal(airi_value_number(mget(m, "conditions/params/seed")), 3);
	assert_null(mget(m, "conditions/params/model"));
	assert_null(mget(m, "conditions/params/stream"));
	assert_str(mget(m, "meta/request/user"), "u1");
	/* messages in numeric order (0, 1, 2, 10), wrappers removed */
	assert_str(mget(m, "conditions/system/messages/0/content"), "Sys");
	assert_str(mget(m, "conditions/input/messages/0/contents/0/text"), "Hi");
	assert_str(mget(m, "conditions/input/messages/1/tool_calls/0/function/name"), "f");
	assert_str(mget(m, "conditions/input/messages/2/tool_call_id"), "c1");
	assert_str(mget(m, "conditions/tools/definitions/0/function/name"), "f");
	assert_str(mget(m, "output/messages/0/content"), "Yo");
	assert_int_equal(airi_value_number(mget(m, "output/usage/output_tokens")), 1);
	airi_manifest_free(m);
	obatch_free(&b);
}

static void legacy_events_map(void **state)
{
	(void)state;
	static const char j[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
		"\"traceId\":\"" TRACE "\",\"spanId\":\"0102030405060709\",\"name\":\"chat\","
		"\"attributes\":[{\"key\":\"gen_ai.system\",\"value\":{\"stringValue\":\"anthropic\"}},"
		"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"claude\"}}],"
		"\"events\":["
		"{\"name\":\"gen_ai.system.message\",\"attributes\":[{\"key\":\"content\",\"value\":{\"stringValue\":\"S\"}}]},"
		"{\"name\":\"gen_ai.user.message\",\"attributes\":[{\"key\":\"gen_ai.event.content\",\"value\":{\"stringValue\":\"{\\\"content\\\":\\\"U\\\"}\"}}]},"
		"{\"name\":\"gen_ai.choice\",\"attributes\":[{\"key\":\"finish_reason\",\"value\":{\"stringValue\":\"stop\"}},"
		"{\"key\":\"message\",\"value\":{\"stringValue\":\"{\\\"content\\\":\\\"A\\\"}\"}}]}]}]}]}]}";
	struct obatch b;
	assert_int_equal(decode_json(j, &b), 0);
	obatch_check(&b);
	assert_int_equal(b.spans[0].cls, SC_INFERENCE);
	airi_manifest *m = manifest_of(&b.spans[0]);
	assert_str(mget(m, "conditions/model/provider"), "anthropic");
	assert_str(mget(m, "conditions/system/messages/0/content"), "S");
	assert_str(mget(m, "conditions/input/messages/0/content"), "U");
	assert_str(mget(m, "conditions/input/messages/0/role"), "user");
	assert_str(mget(m, "output/messages/0/message/content"), "A");
	airi_manifest_free(m);
	obatch_free(&b);
}

static void content_off_is_said(void **state)
{
	(void)state;
	static const char j[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
		"\"traceId\":\"" TRACE "\",\"spanId\":\"0102030405060700\",\"name\":\"chat\","
		"\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
		"{\"key\":\"gen_ai.provider.name\",\"value\":{\"stringValue\":\"anthropic\"}},"
		"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"claude\"}},"
		"{\"key\":\"gen_ai.request.seed\",\"value\":{\"intValue\":\"9007199254740993\"}},"
		"{\"key\":\"gen_ai.request.temperature\",\"value\":{\"doubleValue\":\"NaN\"}}]}]}]}]}";
	struct obatch b;
	assert_int_equal(decode_json(j, &b), 0);
	obatch_check(&b);
	airi_manifest *m = manifest_of(&b.spans[0]);
	assert_null(mget(m, "conditions/system"));
	assert_null(mget(m, "conditions/input"));
	assert_null(mget(m, "output"));
	assert_str(mget(m, "meta/not_captured/system"),
		   "system prompt not captured by the instrumentation");
	/* values a JSON number cannot hold exactly stay strings */
	assert_str(mget(m, "conditions/params/seed"), "9007199254740993");
	assert_str(mget(m, "conditions/params/temperature"), "NaN");
	airi_verdict v;
	char *rep;
	size_t rn;
	assert_int_equal(airi_manifest_check(m, &v, &rep, &rn), 0);
	assert_int_equal(v, AIRI_PARTIAL);
	free(rep);
	airi_manifest_free(m);
	obatch_free(&b);
}

static void checks_reject(void **state)
{
	(void)state;
	/* A <-> B, C its own parent, D below the cycle, E fine, F duplicate of
	 * E, G a 15-byte trace id */
	static const char j[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000a\",\"parentSpanId\":\"000000000000000b\"},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000b\",\"parentSpanId\":\"000000000000000a\"},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000c\",\"parentSpanId\":\"000000000000000c\"},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000d\",\"parentSpanId\":\"000000000000000a\"},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000e\"},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"000000000000000e\"},"
		"{\"traceId\":\"5b8efff798038103d269b633813fc6\",\"spanId\":\"000000000000000f\"}"
		"]}]}]}";
	struct obatch b;
	assert_int_equal(decode_json(j, &b), 0);
	assert_int_equal(obatch_check(&b), 5);
	assert_non_null(b.spans[0].reject);
	assert_non_null(b.spans[1].reject);
	assert_non_null(b.spans[2].reject);
	assert_null(b.spans[3].reject);
	assert_null(b.spans[4].reject);
	assert_true(b.spans[4].root);
	assert_non_null(b.spans[5].reject);
	assert_non_null(b.spans[6].reject);
	obatch_free(&b);
}

static void bad_json_is_400(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "[]", "{\"resourceSpans\":{}}", "{\"resourceSpans\":[1]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"abc\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":1}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"endTimeUnixNano\":\"18446744073709551616\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"!!\"}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"events\":[{\"timeUnixNano\":1.5}]}]}]}]}",
		NULL};
	for (int i = 0; bad[i]; i++) {
		struct obatch b;
		char err[300];
		int big = 0;
		memset(&b, 0, sizeof(b));
		assert_int_equal(otlp_json_decode(bad[i], strlen(bad[i]), &b, err, sizeof(err), &big), -1);
		assert_true(err[0] != 0);
		obatch_free(&b);
	}
	/* null is the default, unknown members are ignored, snake_case too */
	static const char ok[] =
		"{\"resource_spans\":[{\"resource\":null,\"scopeSpans\":[{\"spans\":[{"
		"\"trace_id\":\"" TRACE "\",\"spanId\":\"0102030405060708\",\"status\":null,\"zzz\":[1]}]}]}],"
		"\"future\":{}}";
	struct obatch b;
	assert_int_equal(decode_json(ok, &b), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(obatch_check(&b), 0);
	obatch_free(&b);
}

static void responses(void **state)
{
	(void)state;
	size_t n;
	char *t = otlp_response(1, 0, NULL, &n);
	assert_string_equal(t, "{}");
	free(t);
	t = otlp_response(1, 3, "why", &n);
	assert_string_equal(t, "{\"partialSuccess\":{\"errorMessage\":\"why\",\"rejectedSpans\":\"3\"}}");
	free(t);
	t = otlp_response(0, 0, NULL, &n);
	assert_int_equal(n, 0);
	free(t);
	t = otlp_response(0, 3, "why", &n);
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, n, (uint8_t *)t);
	assert_non_null(r);
	assert_non_null(r->partial_success);
	assert_int_equal(r->partial_success->rejected_spans, 3);
	assert_string_equal(r->partial_success->error_message, "why");
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, NULL);
	free(t);
	t = otlp_status(0, 3, "bad", &n);
	Google__Rpc__Status *st = google__rpc__status__unpack(NULL, n, (uint8_t *)t);
	assert_non_null(st);
	assert_int_equal(st->code, 3);
	assert_string_equal(st->message, "bad");
	google__rpc__status__free_unpacked(st, NULL);
	free(t);
}

static void forward_reencode(void **state)
{
	(void)state;
	struct obatch bj, bp;
	size_t len, n;
	char err[300];
	int big;
	unsigned char *pb = genai_pb(&len);
	memset(&bp, 0, sizeof(bp));
	assert_int_equal(decode_json(genai_json, &bj), 0);
	assert_int_equal(otlp_pb_decode(pb, len, &bp, err, sizeof(err), &big), 0);
	struct ospan *s[2] = {&bj.spans[0], &bp.spans[0]};
	for (int i = 0; i < 2; i++) {
		s[i]->has_run = 1;
		memset(&s[i]->run, 0xab, sizeof(s[i]->run));
		memset(&s[i]->conditions, 0xcd, sizeof(s[i]->conditions));
	}
	char *tj = otlp_json_reencode(&bj, &n);
	assert_non_null(tj);
	struct obatch again;
	assert_int_equal(decode_json(tj, &again), 0);
	assert_int_equal(again.spans[0].attrs.n, bj.spans[0].attrs.n + 2);
	size_t vn;
	const char *v = oattr_str(&again.spans[0].attrs, "airi.run.id", &vn);
	assert_non_null(v);
	assert_int_equal(vn, 71);
	assert_memory_equal(v, "sha256:abab", 11);
	obatch_free(&again);
	free(tj);
	char *tp = otlp_pb_reencode(&bp, &n);
	assert_non_null(tp);
	memset(&again, 0, sizeof(again));
	assert_int_equal(otlp_pb_decode((unsigned char *)tp, n, &again, err, sizeof(err), &big), 0);
	v = oattr_str(&again.spans[0].attrs, "airi.conditions.id", &vn);
	assert_non_null(v);
	assert_memory_equal(v, "sha256:cdcd", 11);
	/* re-encoded twice: the ids are replaced, not repeated */
	again.spans[0].has_run = 1;
	again.spans[0].run = bp.spans[0].run;
	again.spans[0].conditions = bp.spans[0].conditions;
	char *tp2 = otlp_pb_reencode(&again, &n);
	struct obatch twice;
	memset(&twice, 0, sizeof(twice));
	assert_int_equal(otlp_pb_decode((unsigned char *)tp2, n, &twice, err, sizeof(err), &big), 0);
	assert_int_equal(twice.spans[0].attrs.n, bp.spans[0].attrs.n + 2);
	obatch_free(&twice);
	free(tp2);
	obatch_free(&again);
	free(tp);
	/* the decoded request is as it was */
	assert_int_equal(((Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *)bp.pb)
				 ->resource_spans[0]->scope_spans[0]->spans[0]->n_attributes,
			 bp.spans[0].attrs.n);
	obatch_free(&bj);
	obatch_free(&bp);
	free(pb);
}

/* agent runs across two batches */
static char *sealed;
static size_t nsealed;
static void capture(char *manifest, size_t len, void *ctx)
{
	(void)ctx;
	(void)len;
	free(sealed);
	sealed = manifest;
	nsealed++;
}

static void agent_run(void **state)
{
	(void)state;
	/* batch 1: the model calls and the tool (children end first); batch 2:
	 * the agent span, the root */
	static const char b1[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000003\",\"parentSpanId\":\"0000000000000001\","
		"\"startTimeUnixNano\":\"300\",\"endTimeUnixNano\":\"400\",\"attributes\":["
		"{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
		"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"second\"}}]},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000002\",\"parentSpanId\":\"0000000000000001\","
		"\"startTimeUnixNano\":\"100\",\"endTimeUnixNano\":\"200\",\"attributes\":["
		"{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
		"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"first\"}}]},"
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000004\",\"parentSpanId\":\"0000000000000001\","
		"\"startTimeUnixNano\":\"250\",\"endTimeUnixNano\":\"260\",\"attributes\":["
		"{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"execute_tool\"}},"
		"{\"key\":\"gen_ai.tool.name\",\"value\":{\"stringValue\":\"calc\"}},"
		"{\"key\":\"gen_ai.tool.call.arguments\",\"value\":{\"stringValue\":\"{\\\"x\\\":1}\"}},"
		"{\"key\":\"gen_ai.tool.call.result\",\"value\":{\"stringValue\":\"2\"}}]}"
		"]}]}]}";
	static const char b2[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000001\","
		"\"startTimeUnixNano\":\"50\",\"endTimeUnixNano\":\"500\",\"attributes\":["
		"{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"invoke_agent\"}},"
		"{\"key\":\"gen_ai.agent.name\",\"value\":{\"stringValue\":\"calc-agent\"}}]}"
		"]}]}]}";
	struct agents *as = agents_new(30, 10, capture, NULL);
	struct obatch x, y;
	assert_int_equal(decode_json(b1, &x), 0);
	assert_int_equal(decode_json(b2, &y), 0);
	obatch_check(&x);
	obatch_check(&y);
	for (size_t i = 0; i < x.n; i++) {
		struct ospan *s = &x.spans[i];
		agents_add(as, s, 1);
		if (s->cls == SC_INFERENCE) {
			size_t n;
			char *t = otel_run_manifest(s, &n);
			airi_manifest *m;
			assert_int_equal(airi_manifest_parse(t, n, &m, NULL), 0);
			s->run = *airi_manifest_run_id(m);
			s->conditions = *airi_manifest_conditions_id(m);
			airi_manifest_free(m);
			agents_model_done(as, s, t, n, 1);
			free(t);
		}
	}
	agents_flush(as);
	assert_int_equal(nsealed, 0); /* no root yet */
	agents_add(as, &y.spans[0], 0);
	agents_flush(as);
	assert_int_equal(nsealed, 1);
	assert_int_equal(agents_open(as), 0);
	airi_manifest *g;
	airi_error err;
	if (airi_manifest_parse(sealed, strlen(sealed), &g, &err)) {
		print_message("%s\n%s\n", err.message, sealed);
		fail();
	}
	assert_str(mget(g, "conditions/model/name"), "first");
	assert_str(mget(g, "conditions/agent/name"), "calc-agent");
	assert_str(mget(g, "trajectory/0/type"), "model_call");
	assert_str(mget(g, "trajectory/1/type"), "tool_call");
	assert_int_equal(airi_value_number(mget(g, "trajectory/1/arguments/x")), 1);
	assert_str(mget(g, "trajectory/1/result"), "2");
	assert_str(mget(g, "trajectory/2/type"), "model_call");
	assert_int_equal(airi_value_count(mget(g, "trajectory")), 3);
	assert_str(mget(g, "meta/sealed"), "root");
	char h[AIRI_DIGEST_STRLEN];
	airi_digest_format(&x.spans[1].run, h);
	assert_str(mget(g, "trajectory/0/run"), h);
	airi_manifest_free(g);
	free(sealed);
	sealed = NULL;
	agents_free(as);
	obatch_free(&x);
	obatch_free(&y);
}

static void limits(void **state)
{
	(void)state;
	/* AnyValue nested 200 deep in protobuf: refused before protobuf-c */
	size_t cap = 200 * 16 + 64, n = 0;
	unsigned char *p = malloc(cap), *q = malloc(cap);
	/* innermost: AnyValue{string_value "x"} */
	p[n++] = 0x0a;
	p[n++] = 1;
	p[n++] = 'x';
	for (int i = 0; i < 200; i++) {
		/* ArrayValue{values: p} then AnyValue{array_value: that} */
		size_t m = 0;
		q[m++] = 0x0a;
		q[m++] = (unsigned char)(n < 128 ? n : (n & 0x7f) | 0x80);
		if (n >= 128)
			q[m++] = (unsigned char)(n >> 7);
		memcpy(q + m, p, n);
		m += n;
		size_t k = 0;
		p[k++] = 0x2a;
		p[k++] = (unsigned char)(m < 128 ? m : (m & 0x7f) | 0x80);
		if (m >= 128)
			p[k++] = (unsigned char)(m >> 7);
		memcpy(p + k, q, m);
		n = k + m;
		assert_true(n < 16384);
	}
	struct obatch b;
	char err[300];
	int big;
	memset(&b, 0, sizeof(b));
	/* as a resource attribute value: request/resource_spans/resource/kv */
	unsigned char *r = malloc(n + 64);
	size_t rn = 0;
	/* KeyValue{key "k", value p} */
	unsigned char kv[32];
	size_t kvn = 0;
	kv[kvn++] = 0x0a;
	kv[kvn++] = 1;
	kv[kvn++] = 'k';
	kv[kvn++] = 0x12;
	kv[kvn++] = (unsigned char)((n & 0x7f) | 0x80);
	kv[kvn++] = (unsigned char)(n >> 7);
	size_t kvlen = kvn + n;
	size_t reslen = 3 + kvlen, rslen = 3 + reslen;
	r[rn++] = 0x0a; /* resource_spans */
	r[rn++] = (unsigned char)((rslen & 0x7f) | 0x80);
	r[rn++] = (unsigned char)(rslen >> 7);
	r[rn++] = 0x0a; /* resource */
	r[rn++] = (unsigned char)((reslen & 0x7f) | 0x80);
	r[rn++] = (unsigned char)(reslen >> 7);
	r[rn++] = 0x0a; /* attributes */
	r[rn++] = (unsigned char)((kvlen & 0x7f) | 0x80);
	r[rn++] = (unsigned char)(kvlen >> 7);
	memcpy(r + rn, kv, kvn);
	rn += kvn;
	memcpy(r + rn, p, n);
	rn += n;
	assert_int_equal(otlp_pb_decode(r, rn, &b, err, sizeof(err), &big), -1);
	assert_non_null(strstr(err, "nested too deeply"));
	obatch_free(&b);
	free(p);
	free(q);
	free(r);
}


/* ---- canonical bytes kept for the store ------------------------------------ */

/* A manifest parsed with AIRI__PARSE_KEEP_CANON (as the receiver parses
 * the ones it makes) keeps, for every section, step, output and meta, the
 * canonical bytes its digest was taken of: the same bytes as airi_canon of
 * the value, and the same digests as a plain parse. */
static void kept_canon(void **state)
{
	(void)state;
	static const char *const docs[] = {
		"{\"conditions\":{\"model\":{\"name\":\"m\"},\"params\":{\"t\":0.50,"
		"\"n\":1E2},\"input\":{\"text\":\"h\\u00e9\\n\\\"x\\\"\"}},\"trajectory\":"
		"[{\"type\":\"tool_call\",\"b\":2,\"a\":1},\"sha256:00\"],\"output\":"
		"[1,{\"z\":null,\"y\":[true,false]}],\"meta\":{\"start\":\"2026-01-01T00:00:00Z\"}}",
		"{\"conditions\":{\"x\":{}}}",
	};
	for (size_t d = 0; d < sizeof(docs) / sizeof(*docs); d++) {
		airi_manifest *a = NULL, *b = NULL;
		airi_error err;
		size_t len = strlen(docs[d]);
		assert_int_equal(airi_manifest_parse(docs[d], len, &a, &err), 0);
		assert_int_equal(airi__manifest_parse_borrow_ex(docs[d], len,
								 AIRI__PARSE_KEEP_CANON,
								 &b, &err),
				 0);
		assert_true(airi_digest_equal(airi_manifest_run_id(a),
					      airi_manifest_run_id(b)));
		const char *p;
		size_t n, cn;
		char *c;
		for (size_t i = 0; i < airi_manifest_section_count(b); i++) {
			assert_int_equal(airi__manifest_kept(b, AIRI__KEPT_SECTION, i,
							     &p, &n),
					 1);
			assert_int_equal(airi_canon(airi_manifest_section_value(b, i),
						    &c, &cn),
					 0);
			assert_int_equal(n, cn);
			assert_memory_equal(p, c, n);
			free(c);
		}
		for (size_t i = 0; i < airi_manifest_step_count(b); i++) {
			assert_int_equal(airi__manifest_kept(b, AIRI__KEPT_STEP, i, &p,
							     &n),
					 1);
			assert_int_equal(airi_canon(airi_value_at(
							    airi_manifest_trajectory(b), i),
						    &c, &cn),
					 0);
			assert_int_equal(n, cn);
			assert_memory_equal(p, c, n);
			free(c);
		}
		int kinds[2] = {AIRI__KEPT_OUTPUT, AIRI__KEPT_META};
		const airi_value *vals[2] = {airi_manifest_output(b),
					     airi_manifest_meta(b)};
		for (int k = 0; k < 2; k++) {
			assert_int_equal(airi__manifest_kept(b, kinds[k], 0, &p, &n),
					 vals[k] != NULL);
			if (!vals[k])
				continue;
			assert_int_equal(airi_canon(vals[k], &c, &cn), 0);
			assert_int_equal(n, cn);
			assert_memory_equal(p, c, n);
			free(c);
		}
		/* a plain parse keeps nothing */
		assert_int_equal(airi__manifest_kept(a, AIRI__KEPT_SECTION, 0, &p, &n),
				 0);
		airi_manifest_free(a);
		airi_manifest_free(b);
	}
}


/* ---- what the store derives ahead of time ---------------------------------- */

struct listed {
	char text[4][1024];
	int n;
};

static int list_one(void *ctx, const airi_run_info *r)
{
	struct listed *l = ctx;
	char run[AIRI_DIGEST_STRLEN];
	airi_digest_format(&r->run, run);
	if (l->n < 4)
		snprintf(l->text[l->n++], sizeof(l->text[0]), "%s %lld %s %s %s", run,
			 (long long)r->time_ms, r->model ? r->model : "-",
			 r->model_resolved ? r->model_resolved : "-",
			 r->summary ? r->summary : "-");
	return 0;
}

/* A manifest prepared on one thread (airi__store_prepare, as the receiver
 * does on its event loop) is recorded exactly as an unprepared one: the
 * same run row (time, models, summary) and the same cohort facts. */
static void store_prepare(void **state)
{
	(void)state;
	static const char doc[] =
		"{\"conditions\":{\"model\":{\"name\":\"gpt-4o\",\"resolved\":"
		"\"gpt-4o-2024\"},\"input\":{\"messages\":[{\"role\":\"user\","
		"\"content\":\"hi\"}]}},\"output\":{\"choices\":[{\"finish_reason\":"
		"\"stop\",\"message\":{\"role\":\"assistant\",\"content\":\"hello "
		"there\"}}],\"usage\":{\"completion_tokens\":2}},\"meta\":{\"start\":"
		"\"2026-01-02T03:04:05.678Z\",\"end\":\"2026-01-02T03:04:06Z\","
		"\"status\":200}}";
	char dir[] = "/tmp/airi-test-prep-XXXXXX", path[2][300];
	assert_non_null(mkdtemp(dir));
	struct listed got[2];
	memset(got, 0, sizeof(got));
	for (int k = 0; k < 2; k++) {
		snprintf(path[k], sizeof(path[k]), "%s/s%d.db", dir, k);
		airi_store *st = NULL;
		airi_manifest *m = NULL;
		airi_error err;
		assert_int_equal(airi_store_open(path[k], AIRI_STORE_CREATE, &st, &err), 0);
		assert_int_equal(airi__manifest_parse_borrow_ex(doc, strlen(doc),
								 k ? AIRI__PARSE_KEEP_CANON : 0,
								 &m, &err),
				 0);
		if (k)
			assert_int_equal(airi__store_prepare(m), 0);
		assert_int_equal(airi__store_record_at(st, m, 1000, NULL, &err), 0);
		airi_manifest_free(m);
		airi_filter f;
		memset(&f, 0, sizeof(f));
		assert_int_equal(airi_store_list(st, &f, list_one, &got[k], &err), 0);
		size_t objects = 0, problems = 0;
		assert_int_equal(airi_store_fsck(st, NULL, NULL, &objects, &problems, &err), 0);
		assert_int_equal(problems, 0);
		airi_store_close(st);
	}
	assert_int_equal(got[0].n, 1);
	assert_int_equal(got[1].n, 1);
	assert_string_equal(got[0].text[0], got[1].text[0]);
	assert_non_null(strstr(got[1].text[0], " 1767323045678 gpt-4o gpt-4o-2024 "));
	/* the cohort facts too: a regress of the two stores' single runs
	 * compares equal outcomes */
	char *rep[2] = {NULL, NULL};
	for (int k = 0; k < 2; k++) {
		airi_store *st = NULL;
		airi_error err;
		assert_int_equal(airi_store_open(path[k], AIRI_STORE_READONLY, &st, &err), 0);
		size_t n;
		assert_int_equal(airi_regress(st, "model=gpt-4o", "model=gpt-4o-2024", 0, &rep[k], &n,
					      &err),
				 0);
		airi_store_close(st);
	}
	assert_string_equal(rep[0], rep[1]);
	free(rep[0]);
	free(rep[1]);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(genai_json_maps),
		cmocka_unit_test(protobuf_equals_json),
		cmocka_unit_test(openinference_maps),
		cmocka_unit_test(legacy_events_map),
		cmocka_unit_test(content_off_is_said),
		cmocka_unit_test(checks_reject),
		cmocka_unit_test(bad_json_is_400),
		cmocka_unit_test(responses),
		cmocka_unit_test(forward_reencode),
		cmocka_unit_test(agent_run),
		cmocka_unit_test(limits),
		cmocka_unit_test(kept_canon),
		cmocka_unit_test(store_prepare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
