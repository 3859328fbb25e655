/*
 * capture.c - how one API call becomes a manifest (docs/proxy-mapping.md
 * is the reference; keep the two in step). The request's fields are
 * sorted into the identity sections (model, params, system, input, tools,
 * environment), the response into output, and timing and transport into
 * meta. Transport-only request fields (stream, stream_options) go to meta
 * so that a streamed and a non-streamed call under the same conditions
 * share a conditions ID. Input that cannot be parsed is still recorded,
 * by the digest of its bytes, and marked as such: capture never fails.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <stdio.h>
#include <string.h>

enum api proxy_api_of(const char *method, const char *path)
{
	if (strcmp(method, "POST"))
		return API_NONE;
	size_t n = strcspn(path, "?");
	struct {
		const char *p;
		enum api a;
	} map[] = {{"/v1/chat/completions", API_CHAT},
		   {"/v1/completions", API_COMPLETIONS},
		   {"/v1/responses", API_RESPONSES},
		   {"/v1/embeddings", API_EMBEDDINGS},
		   {"/v1/messages", API_MESSAGES}};
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		size_t l = strlen(map[i].p);
		/* also under a prefix, e.g. /openai/v1/chat/completions */
		if (n >= l && !strncmp(path + n - l, map[i].p, l))
			return map[i].a;
	}
	return API_NONE;
}

/* ---- a small unordered JSON text writer (re-parsed before hashing) ----- */

struct w {
	airi__buf b;
	int first[64];
	int depth;
};

static void w_sep(struct w *w)
{
	if (!w->first[w->depth])
		airi__buf_addc(&w->b, ',');
	w->first[w->depth] = 0;
}
static void w_open(struct w *w, char c)
{
	airi__buf_addc(&w->b, c);
	if (w->depth < 63)
		w->depth++;
	w->first[w->depth] = 1;
}
static void w_close(struct w *w, char c)
{
	airi__buf_addc(&w->b, c);
	if (w->depth > 0)
		w->depth--;
}
static void w_key(struct w *w, const char *k)
{
	w_sep(w);
	airi__canon_string(&w->b, k, strlen(k));
	airi__buf_addc(&w->b, ':');
}
static void w_keyn(struct w *w, const char *k, size_t n)
{
	w_sep(w);
	airi__canon_string(&w->b, k, n);
	airi__buf_addc(&w->b, ':');
}
static void w_str(struct w *w, const char *s)
{
	airi__canon_string(&w->b, s, strlen(s));
}
static void w_value(struct w *w, const airi_value *v)
{
	airi__canon_to_buf(v, &w->b);
}
static void w_kstr(struct w *w, const char *k, const char *s)
{
	w_key(w, k);
	if (s)
		w_str(w, s);
	else
		airi__buf_adds(&w->b, "null");
}
static void w_kint(struct w *w, const char *k, long long v)
{
	w_key(w, k);
	airi__buf_printf(&w->b, "%lld", v);
}
/*
 * ms since the epoch as airi__rfc3339_format writes it
 * ("2026-11-28T09:00:00.000Z"), without gmtime_r and snprintf (three of
 * them per call were an eighth of building a manifest). The date from the
 * day number is Hinnant's civil_from_days: shift the year to start on
 * March 1 so that the leap day is the last day of a year, split the days
 * into 400-year eras (146097 days each) and the era into years and days,
 * then the day of the (shifted) year into month and day with the
 * 153-days-per-5-months rule. Years 1970..9999 only; others take the
 * general path.
 */
static void rfc3339(int64_t ms, char out[32])
{
	if (ms < 0 || ms >= 253402300800000LL) { /* 10000-01-01 */
		airi__rfc3339_format(ms, out);
		return;
	}
	int64_t secs = ms / 1000, days = secs / 86400;
	int rem = (int)(ms % 1000), sod = (int)(secs % 86400);
	int64_t z = days + 719468, era = z / 146097;
	int64_t doe = z - era * 146097;                                   /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);            /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                 /* [0, 11] */
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int y = (int)(yoe + era * 400 + (m <= 2));
	int v[] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10, -'-',
		   m / 10, m % 10, -'-', d / 10, d % 10, -'T',
		   sod / 36000, sod / 3600 % 10, -':', sod % 3600 / 600,
		   sod % 600 / 60, -':', sod % 60 / 10, sod % 10, -'.',
		   rem / 100, rem / 10 % 10, rem % 10, -'Z'};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		out[i] = (char)(v[i] < 0 ? -v[i] : '0' + v[i]);
	out[sizeof(v) / sizeof(*v)] = 0;
}

static void w_ktime(struct w *w, const char *k, int64_t ms)
{
	char t[32];
	if (!ms)
		return;
	rfc3339(ms, t);
	w_kstr(w, k, t);
}
static void w_kvalue(struct w *w, const char *k, const airi_value *v)
{
	w_key(w, k);
	if (v)
		w_value(w, v);
	else
		airi__buf_adds(&w->b, "null");
}

static int key_is(const char *k, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && !memcmp(k, *set, n))
			return 1;
	return 0;
}

static void raw_digest(struct w *w, const char *k, const char *p, size_t n)
{
	airi_digest d;
	char h[AIRI_DIGEST_STRLEN];
	airi_digest_bytes(p ? p : "", n, &d);
	airi_digest_format(&d, h);
	w_kstr(w, k, h);
}

static const char *provider_of(const struct capture *c)
{
	if (c->api == API_MESSAGES)
		return strstr(c->upstream, "anthropic.com") ? "anthropic"
							    : "anthropic-compatible";
	return strstr(c->upstream, "api.openai.com") ? "openai"
						     : "openai-compatible";
}

/* Members of the request that are not params, per API: they go to model,
 * system, input, tools, or (transport and bookkeeping) meta. */
static const char *const not_params_chat[] = {
	"model", "messages", "tools", "functions", "stream", "stream_options",
	"user", "metadata", "store", NULL};
static const char *const not_params_completions[] = {
	"model", "prompt", "stream", "stream_options", "user", "metadata",
	"store", NULL};
static const char *const not_params_responses[] = {
	"model", "input", "instructions", "tools", "stream", "user",
	"metadata", "store", NULL};
static const char *const not_params_embeddings[] = {"model", "input", "user",
						    NULL};
static const char *const not_params_anthropic[] = {
	"model", "messages", "system", "tools", "stream", "metadata", NULL};

static const char *const *not_params(enum api api)
{
	switch (api) {
	case API_CHAT: return not_params_chat;
	case API_COMPLETIONS: return not_params_completions;
	case API_RESPONSES: return not_params_responses;
	case API_EMBEDDINGS: return not_params_embeddings;
	default: return not_params_anthropic;
	}
}

const char *const *proxy_not_params(enum api api)
{
	return not_params(api);
}

static void section_model(struct w *w, const struct capture *c,
			  const airi_value *req, const airi_value *resp)
{
	size_t n;
	w_key(w, "model");
	w_open(w, '{');
	w_kstr(w, "provider", provider_of(c));
	const airi_value *m = airi_value_get(req, "model");
	if (m)
		w_kvalue(w, "name", m);
	const airi_value *r = airi_value_get(resp, "model");
	if (airi_value_string(r, &n) && n)
		w_kvalue(w, "resolved", r);
	const airi_value *fp = airi_value_get(resp, "system_fingerprint");
	if (airi_value_string(fp, &n) && n)
		w_kvalue(w, "fingerprint", fp);
	w_kstr(w, "upstream", c->upstream);
	w_close(w, '}');
}

static void section_params(struct w *w, const struct capture *c,
			   const airi_value *req)
{
	const char *const *skip = not_params(c->api);
	w_key(w, "params");
	w_open(w, '{');
	for (size_t i = 0; i < airi_value_count(req); i++) {
		size_t kn;
		const char *k = airi_value_key_at(req, i, &kn);
		if (key_is(k, kn, skip))
			continue;
		w_keyn(w, k, kn);
		w_value(w, airi_value_at(req, i));
	}
	w_close(w, '}');
}

static int is_system_role(const airi_value *msg)
{
	size_t n;
	const char *r = airi_value_string(airi_value_get(msg, "role"), &n);
	return r && ((n == 6 && !memcmp(r, "system", 6)) ||
		     (n == 9 && !memcmp(r, "developer", 9)));
}

static void sections_messages(struct w *w, const struct capture *c,
			      const airi_value *req)
{
	const airi_value *msgs = airi_value_get(req, "messages");
	if (c->api == API_MESSAGES) {
		w_key(w, "system");
		const airi_value *sys = airi_value_get(req, "system");
		if (!sys) {
			airi__buf_adds(&w->b, "null");
		} else {
			w_open(w, '{');
			w_kvalue(w, airi_value_type(sys) == AIRI_STRING ? "text"
									: "blocks",
				 sys);
			w_close(w, '}');
		}
		w_key(w, "input");
		w_open(w, '{');
		w_kvalue(w, "messages", msgs);
		w_close(w, '}');
		return;
	}
	if (c->api == API_CHAT) {
		size_t nsys = 0;
		for (size_t i = 0; i < airi_value_count(msgs); i++)
			nsys += is_system_role(airi_value_at(msgs, i));
		w_key(w, "system");
		if (!nsys) {
			airi__buf_adds(&w->b, "null");
		} else {
			w_open(w, '{');
			w_key(w, "messages");
			w_open(w, '[');
			for (size_t i = 0; i < airi_value_count(msgs); i++)
				if (is_system_role(airi_value_at(msgs, i))) {
					w_sep(w);
					w_value(w, airi_value_at(msgs, i));
				}
			w_close(w, ']');
			w_close(w, '}');
		}
		w_key(w, "input");
		w_open(w, '{');
		w_key(w, "messages");
		w_open(w, '[');
		for (size_t i = 0; i < airi_value_count(msgs); i++)
			if (!is_system_role(airi_value_at(msgs, i))) {
				w_sep(w);
				w_value(w, airi_value_at(msgs, i));
			}
		w_close(w, ']');
		w_close(w, '}');
		return;
	}
	/* completions, responses, embeddings */
	const airi_value *instr = airi_value_get(req, "instructions");
	w_key(w, "system");
	if (instr) {
		w_open(w, '{');
		w_kvalue(w, "text", instr);
		w_close(w, '}');
	} else {
		airi__buf_adds(&w->b, "null");
	}
	w_key(w, "input");
	w_open(w, '{');
	if (airi_value_get(req, "prompt"))
		w_kvalue(w, "prompt", airi_value_get(req, "prompt"));
	if (airi_value_get(req, "input"))
		w_kvalue(w, "input", airi_value_get(req, "input"));
	if (msgs)
		w_kvalue(w, "messages", msgs);
	w_close(w, '}');
}

static void section_tools(struct w *w, const struct capture *c,
			  const airi_value *req)
{
	const airi_value *t = airi_value_get(req, "tools");
	const airi_value *f = c->api == API_CHAT ? airi_value_get(req, "functions")
						 : NULL;
	if (!t && !f)
		return;
	w_key(w, "tools");
	w_open(w, '{');
	if (t)
		w_kvalue(w, "definitions", t);
	if (f)
		w_kvalue(w, "functions", f);
	w_close(w, '}');
}

static void section_environment(struct w *w, const struct capture *c)
{
	w_key(w, "environment");
	w_open(w, '{');
	w_key(w, "proxy");
	w_open(w, '{');
	w_kstr(w, "name", "airi");
	w_kstr(w, "version", AIRI_VERSION);
	w_close(w, '}');
	if (c->api_version)
		w_kstr(w, "api_version", c->api_version);
	w_close(w, '}');
}

/* The output: the response body minus the per-call envelope (id, created,
 * object), so equal answers give equal output digests. */
static void section_output(struct w *w, const struct capture *c,
			   const airi_value *resp)
{
	static const char *const envelope[] = {"id", "created", "created_at",
					       "object", "model",
					       "system_fingerprint", "airi",
					       NULL};
	w_key(w, "output");
	if (!resp) {
		w_open(w, '{');
		if (c->resp_len)
			raw_digest(w, "unparsed_body", c->resp_body, c->resp_len);
		else
			w_kstr(w, "empty", "no response body");
		w_close(w, '}');
		return;
	}
	if (airi_value_type(resp) != AIRI_OBJECT) {
		w_value(w, resp);
		return;
	}
	w_open(w, '{');
	for (size_t i = 0; i < airi_value_count(resp); i++) {
		size_t kn;
		const char *k = airi_value_key_at(resp, i, &kn);
		if (key_is(k, kn, envelope))
			continue;
		w_keyn(w, k, kn);
		w_value(w, airi_value_at(resp, i));
	}
	w_close(w, '}');
}

static void section_meta(struct w *w, const struct capture *c,
			 const airi_value *req, const airi_value *resp,
			 int req_ok, int resp_ok)
{
	const char *const *np = not_params(c->api);
	static const char *const bookkeeping[] = {"stream_options", "user",
						  "metadata", "store"};
	w_key(w, "meta");
	w_open(w, '{');
	/* the path only: a query string may carry credentials */
	w_key(w, "endpoint");
	airi__canon_string(&w->b, c->endpoint, strcspn(c->endpoint, "?"));
	w_ktime(w, "start", c->t_start);
	w_ktime(w, "first_byte", c->t_first);
	w_ktime(w, "end", c->t_end);
	if (c->status)
		w_kint(w, "status", c->status);
	w_kint(w, "attempt", c->attempt > 0 ? c->attempt : 1);
	if (c->call_id)
		w_kstr(w, "call", c->call_id);
	w_key(w, "stream");
	airi__buf_adds(&w->b, c->stream ? "true" : "false");
	w_kstr(w, "ended", c->ended ? c->ended : "complete");
	if (c->request_id)
		w_kstr(w, "request_id", c->request_id);
	const airi_value *id = airi_value_get(resp, "id");
	if (airi_value_type(id) == AIRI_STRING)
		w_kvalue(w, "response_id", id);
	for (size_t i = 0; i < 4; i++) {
		const char *k = bookkeeping[i];
		if (key_is(k, strlen(k), np) && airi_value_get(req, k))
			w_kvalue(w, k, airi_value_get(req, k));
	}
	if (c->user_agent)
		w_kstr(w, "user_agent", c->user_agent);
	if (c->reproduces)
		w_kstr(w, "reproduces", c->reproduces);
	if (!req_ok || !resp_ok) {
		w_kstr(w, "capture", !req_ok ? "partial: request body is not "
					       "valid I-JSON"
					     : "partial: response body is not "
					       "valid I-JSON");
	}
	w_close(w, '}');
}

char *proxy_manifest(const struct capture *c, size_t *len)
{
	airi_json *rq = NULL, *rs = NULL;
	const airi_value *req = NULL, *resp = NULL;
	struct w w;
	memset(&w, 0, sizeof(w));
	airi__buf_init(&w.b);
	int req_ok = c->req_len &&
		     airi_json_parse(c->req_body, c->req_len, &rq, NULL) == 0;
	if (req_ok)
		req = airi_json_root(rq);
	if (req && airi_value_type(req) != AIRI_OBJECT)
		req = NULL;
	int resp_ok = c->resp_len &&
		      airi_json_parse(c->resp_body, c->resp_len, &rs, NULL) == 0;
	if (resp_ok)
		resp = airi_json_root(rs);

	w_open(&w, '{');
	w_key(&w, "conditions");
	w_open(&w, '{');
	section_model(&w, c, req, resp);
	if (req) {
		section_params(&w, c, req);
		sections_messages(&w, c, req);
		section_tools(&w, c, req);
	} else {
		/* what we can say about a request we could not parse */
		w_key(&w, "request");
		w_open(&w, '{');
		raw_digest(&w, "body", c->req_body, c->req_len);
		w_kint(&w, "bytes", (long long)c->req_len);
		w_kstr(&w, "note", "request body is not valid I-JSON; recorded "
				   "by digest only");
		w_close(&w, '}');
	}
	section_environment(&w, c);
	w_close(&w, '}');
	section_output(&w, c, resp_ok ? resp : NULL);
	section_meta(&w, c, req, resp, req != NULL,
		     resp_ok || !c->resp_len);
	w_close(&w, '}');
	airi_json_free(rq);
	airi_json_free(rs);
	return airi__buf_detach(&w.b, len);
}
