/*
 * agent.c - a small retrieval + tool-calling agent that records itself with
 * libairi. It talks to an OpenAI-compatible chat completions endpoint with
 * libcurl (the real API, a local server, `airi proxy`, or the deterministic
 * fake tests/proxy/fake_upstream.js that the tests use):
 *
 *   1. retrieves the best of a few in-memory documents for the question,
 *      and identifies the index state with the corpus helper;
 *   2. asks the model, offering a get_weather tool; runs the tool when the
 *      model calls it, and asks again with the result (at most 4 turns);
 *   3. records the run - conditions, trajectory (model calls, tool calls,
 *      tool results), output and meta - into a store and prints its run ID.
 *
 * Build against an installed libairi and run:
 *
 *   cc examples/agent.c $(pkg-config --cflags --libs airi libcurl) -o agent
 *   ./agent http://127.0.0.1:8787/v1 runs.db      (BASE_URL as for the
 *                                                   OpenAI SDKs: with /v1)
 *   ./agent --dump-docs        the documents as JSON Lines {"id","text"},
 *                              for `airi digest corpus --json -`
 *
 * OPENAI_API_KEY, when set, is sent as a bearer token (never recorded).
 * Prints the run ID on stdout; errors go to stderr with exit status 1
 * (usage: 64).
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include <airi.h>

#define MODEL "gpt-4o-mini"
#define MAX_TURNS 4
#define QUESTION "What is the weather in Oslo today?"
#define SYSTEM_PROMPT                                                        \
	"You are a concise assistant. Use the get_weather tool for current "  \
	"weather. Context from the handbook follows."

/* ---- a growable text buffer ------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			fprintf(stderr, "agent: out of memory\n");
			exit(1);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		fprintf(stderr, "agent: internal error: text too long\n");
		exit(1);
	}
	buf_add(b, tmp, (size_t)n);
}

/* s (n bytes of UTF-8) as a JSON string */
static void buf_json(struct buf *b, const char *s, size_t n)
{
	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			buf_add(b, e, 2);
		} else if (c == '\n') {
			buf_add(b, "\\n", 2);
		} else if (c < 0x20) {
			buf_fmt(b, "\\u%04x", c);
		} else {
			buf_add(b, &s[i], 1);
		}
	}
	buf_add(b, "\"", 1);
}

static void buf_jstr(struct buf *b, const char *s)
{
	buf_json(b, s, strlen(s));
}

/* a parsed value, written back as canonical JSON (RFC 8785) */
static int buf_value(struct buf *b, const airi_value *v)
{
	char *text;
	size_t len;
	if (airi_canon(v, &text, &len))
		return -1;
	buf_add(b, text, len);
	free(text);
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

static int fail(const char *what, const airi_error *err, int rc)
{
	fprintf(stderr, "agent: %s: %s\n", what,
		err && err->message[0] ? err->message : airi_strerror(rc));
	return -1;
}

/* ---- retrieval: a tiny in-memory corpus ------------------------------- */

static const struct doc {
	const char *id, *text;
} docs[] = {
	{"handbook/oslo", "Oslo is the capital of Norway. Its weather in "
			  "spring is mild, and the city is often sunny."},
	{"handbook/refunds", "Refunds for annual plans are prorated to the "
			     "day of cancellation."},
	{"handbook/support", "Support is open Monday to Friday, 9 to 17 "
			     "Central European Time."},
	{"handbook/tools", "The get_weather tool returns the current "
			   "conditions for a city."},
};
#define NDOCS (sizeof docs / sizeof docs[0])
#define INDEX_NAME "handbook"

static int is_stopword(const char *w)
{
	static const char *const stop[] = {"a",  "an", "and", "for", "in",
					   "is", "it", "its", "of", "the",
					   "to", "what"};
	for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
		if (!strcmp(w, stop[i]))
			return 1;
	return 0;
}

/* The next lowercase word (letters and digits, at most 63 kept) from *p
 * into w; 0 at the end of the text. */
static int next_word(const char **p, char w[64])
{
	size_t n = 0;
	while (**p && !isalnum((unsigned char)**p))
		(*p)++;
	for (; **p && isalnum((unsigned char)**p); (*p)++)
		if (n < 63)
			w[n++] = (char)tolower((unsigned char)**p);
	w[n] = '\0';
	return n > 0;
}

static int has_word(const char *text, const char *word)
{
	char w[64];
	while (next_word(&text, w))
		if (!strcmp(w, word))
			return 1;
	return 0;
}

/* The "search": the number of query words (stopwords aside) that occur in
 * the document. */
static int score(const char *query, const char *doc)
{
	char w[64];
	int s = 0;
	while (next_word(&query, w))
		if (!is_stopword(w) && has_word(doc, w))
			s++;
	return s;
}

static void dump_docs(void)
{
	struct buf b = {0};
	for (size_t i = 0; i < NDOCS; i++) {
		buf_str(&b, "{\"id\":");
		buf_jstr(&b, docs[i].id);
		buf_str(&b, ",\"text\":");
		buf_jstr(&b, docs[i].text);
		buf_str(&b, "}\n");
	}
	fputs(b.p, stdout);
	buf_free(&b);
}

/* Retrieves the best document for `query` into the retrieval section and
 * returns its index in *best. The index state is the corpus helper's
 * state digest (docs/spec.md, appendix B): without a store it is only
 * computed, and equals what `airi digest corpus --json` prints for the
 * same documents. */
static int retrieve(const char *query, struct buf *section, size_t *best,
		    airi_error *err)
{
	airi_corpus *c = NULL;
	airi_digest d[NDOCS], state;
	char hex[AIRI_DIGEST_STRLEN];
	int rc, top = -1;
	if ((rc = airi_corpus_open(NULL, NULL, &c, err)))
		return fail("corpus", err, rc);
	for (size_t i = 0; i < NDOCS; i++) {
		airi_digest_bytes(docs[i].text, strlen(docs[i].text), &d[i]);
		if ((rc = airi_corpus_put(c, docs[i].id, strlen(docs[i].id),
					  &d[i], err))) {
			airi_corpus_free(c);
			return fail("corpus put", err, rc);
		}
	}
	rc = airi_corpus_commit(c, &state, NULL, NULL, err);
	airi_corpus_free(c);
	if (rc)
		return fail("corpus commit", err, rc);
	/* the "search": the document sharing the most words, first on ties */
	for (size_t i = 0; i < NDOCS; i++) {
		int s = score(query, docs[i].text);
		if (s > top) {
			top = s;
			*best = i;
		}
	}
	airi_digest_format(&state, hex);
	buf_str(section, "{\"index\":{\"name\":\"" INDEX_NAME
			 "\",\"state_digest\":\"");
	buf_str(section, hex);
	buf_str(section, "\"},\"query\":");
	buf_jstr(section, query);
	airi_digest_format(&d[*best], hex);
	buf_str(section, ",\"items\":[{\"id\":");
	buf_jstr(section, docs[*best].id);
	buf_fmt(section, ",\"digest\":\"%s\",\"score\":%d}]}", hex, top);
	return 0;
}

/* ---- the tool ----------------------------------------------------------- */

/* The tool as offered to the model (OpenAI's format) ... */
#define TOOL_SCHEMA                                                          \
	"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"            \
	"\"string\"}},\"required\":[\"city\"]}"
#define TOOL_DESCRIPTION "Current weather for a city."
#define TOOLS_REQUEST                                                        \
	"[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","    \
	"\"description\":\"" TOOL_DESCRIPTION "\",\"parameters\":" TOOL_SCHEMA \
	"}}]"
/* ... and as recorded in the tools section (docs/spec.md, 8.6) */
#define TOOLS_SECTION                                                        \
	"{\"definitions\":[{\"name\":\"get_weather\",\"version\":\"1\","      \
	"\"description\":\"" TOOL_DESCRIPTION "\",\"schema\":" TOOL_SCHEMA "}]}"

/* "Runs" get_weather: a JSON result for the arguments, or an error. */
static void get_weather(const airi_value *args, struct buf *result)
{
	size_t n = 0;
	const char *city = airi_value_string(airi_value_get(args, "city"), &n);
	if (!city) {
		buf_str(result, "{\"error\":\"missing argument: city\"}");
		return;
	}
	buf_str(result, "{\"city\":");
	buf_json(result, city, n);
	buf_str(result, ",\"conditions\":\"sunny\",\"temperature_c\":18}");
}

/* ---- HTTP --------------------------------------------------------------- */

struct reply {
	struct buf body;
	char request_id[128]; /* the upstream's x-request-id */
	char airi_run[128];   /* Airi-Run-Id, when called through airi proxy */
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	if (r->body.n + size * n > (64u << 20))
		return 0; /* a reply over 64 MiB: give up */
	buf_add(&r->body, data, size * n);
	return size * n;
}

/* keeps the value of header `name` (case-insensitive) in out */
static void header_value(const char *line, size_t len, const char *name,
			 char *out, size_t outsize)
{
	size_t k = strlen(name);
	if (len <= k || strncasecmp(line, name, k) || line[k] != ':')
		return;
	line += k + 1;
	len -= k + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
		       line[len - 1] == ' '))
		len--;
	/* printable ASCII only, since it goes into JSON as it is */
	size_t i = 0;
	for (; i < len && i < outsize - 1; i++)
		out[i] = isprint((unsigned char)line[i]) && line[i] != '"' &&
				 line[i] != '\\'
			 ? line[i]
			 : '?';
	out[i] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t len = size * n;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) /* a new response */
		r->request_id[0] = r->airi_run[0] = '\0';
	header_value(data, len, "x-request-id", r->request_id,
		     sizeof r->request_id);
	header_value(data, len, "airi-run-id", r->airi_run, sizeof r->airi_run);
	return len;
}

/* POSTs body to url; 0 only for an HTTP 200 reply (in r). */
static int post(CURL *h, const char *url, struct curl_slist *headers,
		const struct buf *body, struct reply *r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body->n);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		fprintf(stderr, "agent: POST %s: %s\n", url,
			errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		fprintf(stderr, "agent: POST %s: HTTP status %ld: %.300s\n", url,
			status, r->body.p ? r->body.p : "");
		return -1;
	}
	return 0;
}

/* ---- the agent ---------------------------------------------------------- */

/* The string member `key` of object v (NULL if it is not a string). */
static const char *str_member(const airi_value *v, const char *key,
			      size_t *len)
{
	return airi_value_string(airi_value_get(v, key), len);
}

static int bad_reply(const char *url, const char *what)
{
	fprintf(stderr, "agent: malformed reply from %s: %s\n", url, what);
	return -1;
}

struct agent {
	airi_run *run;
	airi_error err;
	const char *url;
	const char *base;
	struct buf messages; /* the conversation so far, without [ ] */
	struct buf meta_requests, meta_proxy;
	int have_model;
};

/* The model section, once the first reply said which model served. */
static int set_model(struct agent *a, const char *resolved, size_t rlen,
		     const char *fp, size_t fplen)
{
	struct buf m = {0};
	airi_digest self;
	airi_error err = {0};
	char hex[AIRI_DIGEST_STRLEN];
	int rc;
	buf_str(&m, "{\"name\":\"" MODEL "\",\"provider\":");
	buf_jstr(&m, strstr(a->base, "api.openai.com") ? "openai"
						       : "openai-compatible");
	buf_str(&m, ",\"resolved\":");
	buf_json(&m, resolved, rlen);
	if (fp) {
		buf_str(&m, ",\"fingerprint\":");
		buf_json(&m, fp, fplen);
	}
	/* The program that drove the model, identified by the digest of its
	 * own binary (airi_digest_file is sha256sum's digest). For a local
	 * model you would identify the weights instead, with
	 * airi_model_digest(path, NULL, &weights, &fragment, &len, &err), and
	 * put its fragment (or just weights_digest) into this section, with
	 * the inference engine's {name, version} as `engine`. */
	buf_str(&m, ",\"engine\":{\"name\":\"examples/agent.c\"");
	if ((rc = airi_digest_file("/proc/self/exe", NULL, &self, NULL,
				   &err)) == 0) {
		airi_digest_format(&self, hex);
		buf_fmt(&m, ",\"digest\":\"%s\"", hex);
	} else {
		fprintf(stderr, "agent: warning: no digest of this program: "
				"%s\n",
			err.message[0] ? err.message : airi_strerror(rc));
	}
	buf_str(&m, "}}");
	rc = airi_run_set_section(a->run, "model", m.p, &a->err);
	buf_free(&m);
	if (rc)
		return fail("model section", &a->err, rc);
	a->have_model = 1;
	return 0;
}

/* Handles the tool calls of an assistant message: records a tool_call
 * and a tool_result step for each, and appends the assistant message and
 * the tool messages to the conversation. */
static int run_tools(struct agent *a, const airi_value *calls)
{
	int rc;
	buf_str(&a->messages, ",{\"role\":\"assistant\",\"content\":null,"
			      "\"tool_calls\":");
	if (buf_value(&a->messages, calls))
		return bad_reply(a->url, "tool_calls");
	buf_str(&a->messages, "}");
	for (size_t i = 0; i < airi_value_count(calls); i++) {
		const airi_value *call = airi_value_at(calls, i);
		const airi_value *fn = airi_value_get(call, "function");
		size_t idlen, namelen, argslen;
		const char *id = str_member(call, "id", &idlen);
		const char *name = str_member(fn, "name", &namelen);
		const char *args = str_member(fn, "arguments", &argslen);
		airi_json *argdoc = NULL;
		struct buf step = {0}, result = {0};
		if (!id || !name || !args)
			return bad_reply(a->url, "a tool call without id, "
						 "function.name or "
						 "function.arguments");
		/* the arguments are JSON text inside a string */
		if (airi_json_parse(args, argslen, &argdoc, &a->err) ||
		    airi_value_type(airi_json_root(argdoc)) != AIRI_OBJECT) {
			airi_json_free(argdoc);
			return bad_reply(a->url, "tool arguments are not a "
						 "JSON object");
		}
		if (namelen == 11 && !memcmp(name, "get_weather", 11))
			get_weather(airi_json_root(argdoc), &result);
		else
			buf_str(&result, "{\"error\":\"unknown tool\"}");

		buf_str(&step, "{\"type\":\"tool_call\",\"id\":");
		buf_json(&step, id, idlen);
		buf_str(&step, ",\"name\":");
		buf_json(&step, name, namelen);
		buf_str(&step, ",\"arguments\":");
		buf_value(&step, airi_json_root(argdoc));
		buf_str(&step, "}");
		airi_json_free(argdoc);
		rc = airi_run_add_step(a->run, step.p, &a->err);
		step.n = 0;
		if (!rc) {
			buf_str(&step, "{\"type\":\"tool_result\",\"id\":");
			buf_json(&step, id, idlen);
			buf_str(&step, ",\"name\":");
			buf_json(&step, name, namelen);
			buf_str(&step, ",\"result\":");
			buf_str(&step, result.p);
			buf_str(&step, "}");
			rc = airi_run_add_step(a->run, step.p, &a->err);
		}
		buf_free(&step);
		if (rc) {
			buf_free(&result);
			return fail("step", &a->err, rc);
		}
		/* the tool message carries the result as text */
		buf_str(&a->messages, ",{\"role\":\"tool\",\"tool_call_id\":");
		buf_json(&a->messages, id, idlen);
		buf_str(&a->messages, ",\"content\":");
		buf_jstr(&a->messages, result.p);
		buf_str(&a->messages, "}");
		buf_free(&result);
	}
	return 0;
}

/* Reads one reply: sets the model section after the first, records a
 * model_call step, runs the tools it asks for or, for a text answer, sets
 * the output and *done. */
static int handle_reply(struct agent *a, const airi_value *root, int *done)
{
	const airi_value *choices = airi_value_get(root, "choices");
	const airi_value *choice = airi_value_at(choices, 0);
	const airi_value *msg = airi_value_get(choice, "message");
	const airi_value *calls = airi_value_get(msg, "tool_calls");
	size_t mlen = 0, fplen = 0, idlen = 0, frlen = 0;
	const char *model = str_member(root, "model", &mlen);
	const char *fp = str_member(root, "system_fingerprint", &fplen);
	const char *id = str_member(root, "id", &idlen);
	const char *finish = str_member(choice, "finish_reason", &frlen);
	struct buf step = {0};
	int rc;

	if (airi_value_type(choices) != AIRI_ARRAY ||
	    airi_value_type(msg) != AIRI_OBJECT || !model)
		return bad_reply(a->url, "no model or choices[0].message");
	if (!a->have_model && set_model(a, model, mlen, fp, fplen))
		return -1;

	/* a model_call step: which model answered, and how it ended */
	buf_str(&step, "{\"type\":\"model_call\",\"model\":");
	buf_json(&step, model, mlen);
	if (id) {
		buf_str(&step, ",\"response_id\":");
		buf_json(&step, id, idlen);
	}
	if (finish) {
		buf_str(&step, ",\"finish_reason\":");
		buf_json(&step, finish, frlen);
	}
	buf_str(&step, "}");
	rc = airi_run_add_step(a->run, step.p, &a->err);
	buf_free(&step);
	if (rc)
		return fail("step", &a->err, rc);

	if (airi_value_type(calls) == AIRI_ARRAY && airi_value_count(calls))
		return run_tools(a, calls);
	if (airi_value_type(airi_value_get(msg, "content")) != AIRI_STRING)
		return bad_reply(a->url, "neither tool_calls nor text content");
	/* the answer: the output is the assistant message as received */
	if (buf_value(&step, msg))
		return bad_reply(a->url, "message");
	rc = airi_run_set_output(a->run, step.p, &a->err);
	buf_free(&step);
	if (rc)
		return fail("output", &a->err, rc);
	*done = 1;
	return 0;
}

/* One model call with the conversation so far. */
static int turn(struct agent *a, CURL *h, struct curl_slist *headers,
		int *done)
{
	struct buf body = {0};
	struct reply r = {{0}, "", ""};
	airi_json *doc = NULL;
	int rc = -1;

	buf_str(&body, "{\"model\":\"" MODEL "\",\"messages\":[");
	buf_add(&body, a->messages.p, a->messages.n);
	buf_str(&body, "],\"tools\":" TOOLS_REQUEST
		       ",\"temperature\":0,\"seed\":7}");
	if (post(h, a->url, headers, &body, &r))
		goto out;
	if (r.request_id[0])
		buf_fmt(&a->meta_requests, "%s\"%s\"",
			a->meta_requests.n ? "," : "", r.request_id);
	if (r.airi_run[0])
		buf_fmt(&a->meta_proxy, "%s\"%s\"", a->meta_proxy.n ? "," : "",
			r.airi_run);
	/* the library's parser is strict (I-JSON): what it rejects is not a
	 * reply to trust */
	if (!r.body.p || airi_json_parse(r.body.p, r.body.n, &doc, &a->err)) {
		fprintf(stderr, "agent: malformed reply from %s: %s\n", a->url,
			r.body.p ? a->err.message : "empty body");
		goto out;
	}
	rc = handle_reply(a, airi_json_root(doc), done);
out:
	airi_json_free(doc); /* before the text it points into */
	buf_free(&r.body);
	buf_free(&body);
	return rc;
}

int main(int argc, char **argv)
{
	struct agent a = {0};
	struct buf section = {0}, url = {0}, sys = {0};
	struct curl_slist *headers = NULL;
	airi_manifest *m = NULL;
	airi_store *store = NULL;
	CURL *h = NULL;
	char *env = NULL;
	const char *key;
	size_t envlen, best = 0;
	int rc = 1, e, done = 0;
	char id[AIRI_DIGEST_STRLEN];

	if (argc == 2 && !strcmp(argv[1], "--dump-docs")) {
		dump_docs();
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: agent BASE_URL STORE\n"
				"       agent --dump-docs\n");
		return 64;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "agent: curl_global_init failed\n");
		return 1;
	}
	a.base = argv[1];
	buf_str(&url, argv[1]);
	while (url.n && url.p[url.n - 1] == '/')
		url.p[--url.n] = '\0';
	buf_str(&url, "/chat/completions");
	a.url = url.p;
	if (airi_run_new(&a.run)) {
		fprintf(stderr, "agent: out of memory\n");
		goto out;
	}

	/* 1. retrieval */
	if (retrieve(QUESTION, &section, &best, &a.err))
		goto out;
	if ((e = airi_run_set_section(a.run, "retrieval", section.p, &a.err))) {
		fail("retrieval section", &a.err, e);
		goto out;
	}

	/* 2. the environment of this machine (stable properties only) */
	if ((e = airi_environment(NULL, &env, &envlen, &a.err)) ||
	    (e = airi_run_set_section(a.run, "environment", env, &a.err))) {
		fail("environment", &a.err, e);
		goto out;
	}

	/* 3. params, system prompt (with the retrieved document), input and
	 * tools, as the first request sends them. The model section follows
	 * the first reply. */
	buf_str(&sys, SYSTEM_PROMPT "\n\n[");
	buf_str(&sys, docs[best].id);
	buf_str(&sys, "] ");
	buf_str(&sys, docs[best].text);
	buf_str(&a.messages, "{\"role\":\"system\",\"content\":");
	buf_jstr(&a.messages, sys.p);
	buf_str(&a.messages, "},{\"role\":\"user\",\"content\":");
	buf_jstr(&a.messages, QUESTION);
	buf_str(&a.messages, "}");
	e = airi_run_set_section(a.run, "params",
				 "{\"temperature\":0,\"seed\":7}", &a.err);
	if (!e) {
		section.n = 0;
		buf_str(&section, "{\"text\":");
		buf_jstr(&section, sys.p);
		buf_str(&section, "}");
		e = airi_run_set_section(a.run, "system", section.p, &a.err);
	}
	if (!e) {
		section.n = 0;
		buf_str(&section, "{\"messages\":[{\"role\":\"user\","
				  "\"content\":");
		buf_jstr(&section, QUESTION);
		buf_str(&section, "}]}");
		e = airi_run_set_section(a.run, "input", section.p, &a.err);
	}
	if (!e)
		e = airi_run_set_section(a.run, "tools", TOOLS_SECTION, &a.err);
	if (e) {
		fail("section", &a.err, e);
		goto out;
	}

	/* 4. the loop: call the model until it answers in text */
	if (!(h = curl_easy_init())) {
		fprintf(stderr, "agent: curl_easy_init failed\n");
		goto out;
	}
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	key = getenv("OPENAI_API_KEY");
	if (key && *key) {
		struct buf auth = {0};
		buf_fmt(&auth, "Authorization: Bearer %.900s", key);
		struct curl_slist *more = curl_slist_append(headers, auth.p);
		buf_free(&auth);
		if (more)
			headers = more;
	}
	if (!headers) {
		fprintf(stderr, "agent: out of memory\n");
		goto out;
	}
	for (int t = 0; t < MAX_TURNS && !done; t++)
		if (turn(&a, h, headers, &done))
			goto out;
	if (!done) {
		fprintf(stderr, "agent: no answer after %d model calls\n",
			MAX_TURNS);
		goto out;
	}

	/* 5. meta: where the calls went and the upstream's request ids (these
	 * vary per call, so they make each run's ID unique while the
	 * conditions ID stays the same) */
	section.n = 0;
	buf_str(&section, "{\"base_url\":");
	buf_jstr(&section, a.base);
	buf_str(&section, ",\"request_ids\":[");
	if (a.meta_requests.p)
		buf_str(&section, a.meta_requests.p);
	buf_str(&section, "]");
	if (a.meta_proxy.p) {
		buf_str(&section, ",\"proxy_runs\":[");
		buf_str(&section, a.meta_proxy.p);
		buf_str(&section, "]");
	}
	buf_str(&section, "}");
	if ((e = airi_run_set_meta(a.run, section.p, &a.err))) {
		fail("meta", &a.err, e);
		goto out;
	}

	/* 6. finish, record, print the run ID */
	if ((e = airi_run_finish(a.run, &m, &a.err))) {
		fail("finish", &a.err, e);
		goto out;
	}
	if ((e = airi_store_open(argv[2], AIRI_STORE_CREATE, &store, &a.err)) ||
	    (e = airi_store_record(store, m, NULL, &a.err))) {
		fail(argv[2], &a.err, e);
		goto out;
	}
	airi_digest_format(airi_manifest_run_id(m), id);
	printf("%s\n", id);
	rc = fflush(stdout) ? 1 : 0;
	if (rc)
		fprintf(stderr, "agent: writing the run ID failed\n");
out:
	airi_store_close(store);
	airi_manifest_free(m);
	airi_run_free(a.run);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	free(env);
	buf_free(&a.messages);
	buf_free(&a.meta_requests);
	buf_free(&a.meta_proxy);
	buf_free(&section);
	buf_free(&sys);
	buf_free(&url);
	return rc;
}
