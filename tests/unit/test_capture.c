/*
 * test_capture.c - the proxy's capture rules (src/proxy/capture.c, sse.c):
 * which request fields land in which section, that transport-only fields
 * stay out of the conditions (a streamed and a plain call under the same
 * conditions share a conditions ID), that the streamed output is
 * assembled into the same shape as a plain one, and that what cannot be
 * parsed is still recorded by digest.
 */
#include "test_util.h"

#include "../../src/proxy/proxy.h"

static airi_manifest *manifest_of(const struct capture *c)
{
	size_t n;
	char *text = proxy_manifest(c, &n);
	airi_manifest *m = NULL;
	airi_error err;
	assert_non_null(text);
	if (airi_manifest_parse(text, n, &m, &err))
		fail_msg("capture made an invalid manifest: %s\n%s", err.message,
			 text);
	free(text);
	return m;
}

static const char *S(const airi_value *v)
{
	static char b[4][256];
	static int k;
	size_t n = 0;
	const char *s = airi_value_string(v, &n);
	char *o = b[k++ & 3];
	snprintf(o, 256, "%.*s", (int)n, s ? s : "(none)");
	return o;
}

static const char *CHAT_REQ =
	"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":"
	"\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":"
	"0.2,\"seed\":7,\"user\":\"u-1\",\"tools\":[{\"type\":\"function\","
	"\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\"}";
static const char *CHAT_REQ_STREAM =
	"{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_"
	"usage\":true},\"messages\":[{\"role\":\"system\",\"content\":"
	"\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":"
	"0.2,\"seed\":7,\"user\":\"u-1\",\"tools\":[{\"type\":\"function\","
	"\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\"}";
static const char *CHAT_RESP =
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
	"\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_1\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":\"Hello there\"},\"finish_reason\":\"stop\"}],\"usage\":"
	"{\"total_tokens\":3}}";

static void base(struct capture *c, const char *req, const char *resp)
{
	memset(c, 0, sizeof(*c));
	c->api = API_CHAT;
	c->endpoint = "/v1/chat/completions";
	c->upstream = "https://api.openai.com";
	c->req_body = req;
	c->req_len = strlen(req);
	c->resp_body = resp;
	c->resp_len = resp ? strlen(resp) : 0;
	c->status = 200;
	c->attempt = 1;
	c->t_start = 1764316800000LL;
	c->t_end = 1764316801000LL;
}

static void test_chat_sections(void **state)
{
	(void)state;
	struct capture c;
	base(&c, CHAT_REQ, CHAT_RESP);
	airi_manifest *m = manifest_of(&c);
	const airi_value *model = airi_manifest_section(m, "model");
	assert_string_equal(S(airi_value_get(model, "provider")), "openai");
	assert_string_equal(S(airi_value_get(model, "name")), "gpt-4o");
	assert_string_equal(S(airi_value_get(model, "resolved")),
			    "gpt-4o-2024-08-06");
	assert_string_equal(S(airi_value_get(model, "fingerprint")), "fp_1");
	const airi_value *params = airi_manifest_section(m, "params");
	assert_int_equal(airi_value_count(params), 3); /* seed temperature tool_choice */
	assert_non_null(airi_value_get(params, "seed"));
	assert_null(airi_value_get(params, "user")); /* meta, not a condition */
	assert_null(airi_value_get(params, "messages"));
	const airi_value *sys = airi_manifest_section(m, "system");
	assert_string_equal(
		S(airi_value_get(airi_value_at(airi_value_get(sys, "messages"), 0),
				 "content")),
		"Be brief.");
	const airi_value *in = airi_manifest_section(m, "input");
	assert_int_equal(airi_value_count(airi_value_get(in, "messages")), 1);
	assert_non_null(airi_manifest_section(m, "tools"));
	const airi_value *out = airi_manifest_output(m);
	assert_null(airi_value_get(out, "id")); /* envelope stripped */
	assert_non_null(airi_value_get(out, "choices"));
	const airi_value *meta = airi_manifest_meta(m);
	assert_string_equal(S(airi_value_get(meta, "user")), "u-1");
	assert_string_equal(S(airi_value_get(meta, "response_id")), "chatcmpl-1");
	assert_true(airi_value_number(airi_value_get(meta, "status")) == 200);
	airi_manifest_free(m);
}

static void test_stream_same_conditions(void **state)
{
	(void)state;
	/* the same call streamed: chunks assembled into the same output */
	static const char *chunks[] = {
		"{\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":"
		"\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
		"\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
		"{\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\""
		":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}",
		"{\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\""
		":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}",
		"{\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\""
		":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		"{\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],"
		"\"usage\":{\"total_tokens\":3}}",
		"[DONE]"};
	struct assembler *a = asm_new(API_CHAT);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(*chunks); i++)
		asm_event(a, NULL, chunks[i], strlen(chunks[i]));
	size_t n;
	char *assembled = asm_output(a, &n);
	asm_free(a);
	struct capture cs, cp;
	base(&cs, CHAT_REQ_STREAM, assembled);
	cs.resp_assembled = 1;
	cs.stream = 1;
	base(&cp, CHAT_REQ, CHAT_RESP);
	airi_manifest *ms = manifest_of(&cs), *mp = manifest_of(&cp);
	assert_true(airi_digest_equal(airi_manifest_conditions_id(ms),
				      airi_manifest_conditions_id(mp)));
	const airi_value *msg = airi_value_get(
		airi_value_at(airi_value_get(airi_manifest_output(ms), "choices"), 0),
		"message");
	assert_string_equal(S(airi_value_get(msg, "content")), "Hello there");
	assert_string_equal(S(airi_value_get(airi_value_at(airi_value_get(
							     airi_manifest_output(ms),
							     "choices"),
						     0),
					     "finish_reason")),
			    "stop");
	assert_non_null(airi_value_get(airi_value_get(airi_manifest_output(ms),
						      "usage"),
				       "total_tokens"));
	assert_non_null(airi_value_get(airi_manifest_meta(ms), "stream_options"));
	free(assembled);
	airi_manifest_free(ms);
	airi_manifest_free(mp);
}

static void test_stream_tool_calls(void **state)
{
	(void)state;
	static const char *chunks[] = {
		"{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
		"\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
		"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
		"\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}",
		"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
		"\"function\":{\"arguments\":\"\\\"Oslo\\\"}\"}}]}}]}",
		"{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
		"\"tool_calls\"}]}"};
	struct assembler *a = asm_new(API_CHAT);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(*chunks); i++)
		asm_event(a, NULL, chunks[i], strlen(chunks[i]));
	size_t n;
	char *out = asm_output(a, &n);
	asm_free(a);
	assert_non_null(strstr(out, "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\""));
	assert_non_null(strstr(out, "\"name\":\"get_weather\""));
	assert_non_null(strstr(out, "\"id\":\"call_1\""));
	free(out);
}

static void test_anthropic(void **state)
{
	(void)state;
	static const char *events[] = {
		"{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":"
		"\"claude-x-2026\",\"usage\":{\"input_tokens\":5}}}",
		"{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
		"{\"type\":\"text\",\"text\":\"\"}}",
		"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		"\"text_delta\",\"text\":\"Let me check.\"}}",
		"{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
		"{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"get_weather\","
		"\"input\":{}}}",
		"{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}",
		"{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}",
		"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
		"\"usage\":{\"output_tokens\":9}}",
		"{\"type\":\"message_stop\"}"};
	struct assembler *a = asm_new(API_MESSAGES);
	for (size_t i = 0; i < sizeof(events) / sizeof(*events); i++)
		asm_event(a, NULL, events[i], strlen(events[i]));
	size_t n;
	char *out = asm_output(a, &n);
	asm_free(a);
	struct capture c;
	base(&c, "{\"model\":\"claude-x\",\"max_tokens\":100,\"system\":\"Be "
		 "kind.\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"}],"
		 "\"stream\":true}",
	     out);
	c.api = API_MESSAGES;
	c.endpoint = "/v1/messages";
	c.upstream = "https://api.anthropic.com";
	c.resp_assembled = 1;
	c.stream = 1;
	c.api_version = "2023-06-01";
	airi_manifest *m = manifest_of(&c);
	assert_string_equal(S(airi_value_get(airi_manifest_section(m, "model"),
					     "provider")),
			    "anthropic");
	assert_string_equal(S(airi_value_get(airi_manifest_section(m, "model"),
					     "resolved")),
			    "claude-x-2026");
	assert_string_equal(S(airi_value_get(airi_manifest_section(m, "system"),
					     "text")),
			    "Be kind.");
	assert_string_equal(S(airi_value_get(airi_manifest_section(m,
								  "environment"),
					     "api_version")),
			    "2023-06-01");
	const airi_value *content = airi_value_get(airi_manifest_output(m),
						   "content");
	assert_int_equal(airi_value_count(content), 2);
	assert_string_equal(S(airi_value_get(airi_value_get(airi_value_at(content, 1),
							    "input"),
					     "city")),
			    "Oslo");
	assert_string_equal(S(airi_value_get(airi_manifest_output(m),
					     "stop_reason")),
			    "tool_use");
	free(out);
	airi_manifest_free(m);
}

static void test_unparsable(void **state)
{
	(void)state;
	struct capture c;
	base(&c, "{not json", "<html>oops</html>");
	c.status = 500;
	airi_manifest *m = manifest_of(&c);
	const airi_value *req = airi_manifest_section(m, "request");
	assert_non_null(req);
	char want[72];
	sha_hex("{not json", 9, want);
	assert_string_equal(S(airi_value_get(req, "body")), want);
	assert_non_null(airi_value_get(airi_manifest_output(m), "unparsed_body"));
	assert_non_null(strstr(S(airi_value_get(airi_manifest_meta(m), "capture")),
			       "partial"));
	airi_manifest_free(m);
	assert_int_equal(proxy_api_of("GET", "/v1/chat/completions"), API_NONE);
	assert_int_equal(proxy_api_of("POST", "/v1/models"), API_NONE);
	assert_int_equal(proxy_api_of("POST", "/openai/v1/chat/completions?x=1"),
			 API_CHAT);
	assert_int_equal(proxy_api_of("POST", "/v1/messages"), API_MESSAGES);
}


/* SSE framing shared by the proxy and airi reproduce: events end at a blank
 * line ("\n\n" or "\r\n\r\n"), an unfinished one waits for more bytes;
 * data lines are joined with "\n", one space after "data:" dropped. */
struct seen {
	char ev[4][64];
	int n;
};

static void collect(void *ctx, const char *ev, size_t n)
{
	struct seen *s = ctx;
	assert_true(s->n < 4 && n < 64);
	memcpy(s->ev[s->n], ev, n);
	s->ev[s->n++][n] = 0;
}

static void test_sse_framing(void **state)
{
	(void)state;
	airi__buf b;
	struct seen s;
	memset(&s, 0, sizeof(s));
	airi__buf_init(&b);
	const char *in = "data: a\n\nevent: x\r\ndata:b\r\n\r\ndata: c\n";
	airi__buf_add(&b, in, strlen(in));
	assert_int_equal(sse_split(&b, collect, &s), 2);
	assert_string_equal(s.ev[0], "data: a\n\n");
	assert_string_equal(s.ev[1], "event: x\r\ndata:b\r\n\r\n");
	assert_int_equal(b.n, strlen("data: c\n")); /* kept for later */
	airi__buf_add(&b, "data: d\n\n", 9);
	assert_int_equal(sse_split(&b, collect, &s), 1);
	assert_string_equal(s.ev[2], "data: c\ndata: d\n\n");
	assert_int_equal(b.n, 0);
	airi__buf d;
	airi__buf_init(&d);
	assert_int_equal(sse_data(s.ev[2], strlen(s.ev[2]), &d), 0);
	assert_int_equal(d.n, 3);
	assert_memory_equal(d.p, "c\nd", 3);
	d.n = 0;
	assert_int_equal(sse_data(s.ev[1], strlen(s.ev[1]), &d), 0);
	assert_memory_equal(d.p, "b", 1);
	d.n = 0;
	assert_int_equal(sse_data("data: [DONE]\r\n\r\n", 16, &d), 1);
	airi__buf_release(&d);
	airi__buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chat_sections),
		cmocka_unit_test(test_stream_same_conditions),
		cmocka_unit_test(test_stream_tool_calls),
		cmocka_unit_test(test_anthropic),
		cmocka_unit_test(test_unparsable),
		cmocka_unit_test(test_sse_framing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
