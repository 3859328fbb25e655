/*
 * fuzz_capture.c - libFuzzer target for the proxy's capture path
 * (src/proxy/capture.c, sse.c): whatever a client sends and an upstream
 * answers, the manifest built from it must be a valid manifest, because
 * capture must never break traffic nor lose a call. The input is split
 * at the first two 0xFF bytes into request body, response body and a
 * stream of SSE event payloads (separated by 0xFE); the first byte picks
 * the API.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/proxy/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum api apis[] = {API_CHAT, API_COMPLETIONS, API_RESPONSES,
					API_EMBEDDINGS, API_MESSAGES};
	if (size < 1)
		return 0;
	enum api api = apis[data[0] % 5];
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	const char *a = memchr(p, 0xFF, n);
	const char *b = a ? memchr(a + 1, 0xFF, n - (size_t)(a + 1 - p)) : NULL;
	size_t req_len = a ? (size_t)(a - p) : n;
	const char *resp = a ? a + 1 : "";
	size_t resp_len = a ? (b ? (size_t)(b - resp) : n - req_len - 1) : 0;

	struct capture c;
	memset(&c, 0, sizeof(c));
	c.api = api;
	c.endpoint = "/v1/x?key=secret";
	c.upstream = "http://127.0.0.1:1";
	c.req_body = p;
	c.req_len = req_len;
	c.status = 200;
	c.attempt = 1;
	c.t_start = 1764316800000LL;
	c.t_end = 1764316801000LL;
	char *assembled = NULL;
	size_t alen = 0;
	if (b) { /* a stream: events after the second 0xFF */
		struct assembler *as = asm_new(api);
		const char *e = b + 1, *end = p + n;
		while (e < end) {
			const char *sep = memchr(e, 0xFE, (size_t)(end - e));
			size_t el = sep ? (size_t)(sep - e) : (size_t)(end - e);
			asm_event(as, NULL, e, el);
			e += el + 1;
		}
		assembled = asm_output(as, &alen);
		asm_free(as);
		c.resp_body = assembled;
		c.resp_len = alen;
		c.resp_assembled = 1;
		c.stream = 1;
	} else {
		c.resp_body = resp;
		c.resp_len = resp_len;
	}
	size_t len;
	char *text = proxy_manifest(&c, &len);
	if (!text)
		abort();
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(text, len, &m, &err))
		abort(); /* capture produced something that is not a manifest */
	size_t en;
	const char *ep = airi_value_string(
		airi_value_get(airi_manifest_meta(m), "endpoint"), &en);
	if (!ep || en != 5 || memcmp(ep, "/v1/x", 5))
		abort(); /* the path only: the query string is not recorded */
	airi_manifest_free(m);
	free(text);
	free(assembled);
	return 0;
}
