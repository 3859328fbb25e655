/*
 * server.c - `airi proxy`: an HTTP server (libevent's evhttp) in front of
 * an OpenAI- or Anthropic-style upstream reached with libcurl (multi
 * interface driven by the same event loop, so one thread serves every
 * connection; TLS, decompression and HTTP parsing are the libraries').
 *
 * One call: the request is read whole (bounded by --max-body), forwarded
 * with every header but hop-by-hop ones, and the upstream's reply is
 *  - for plain responses: buffered, captured, recorded (group commit), and
 *    only then sent on with Airi-Run-Id / Airi-Conditions-Id headers and
 *    an "airi" member in the JSON body;
 *  - for event streams: passed on event by event as it arrives, assembled
 *    on the side; the upstream's final "data: [DONE]" is held back until
 *    the run is committed, then preceded by the identity (an SSE comment
 *    and a chunk the SDKs accept).
 * Calls to other paths are passed through and not recorded. A call that
 * fails (upstream down, timeout, client gone, broken stream) is recorded
 * with what was received and why it ended. Secrets in headers are
 * forwarded, never captured: only the body, status and a few named
 * headers go into the manifest.
 */
#define _GNU_SOURCE
#include "proxy.h"
#include "../cli/cli.h"
#include "../otel/otel.h"
#include "store.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CAPTURE_MAX ((size_t)64 << 20) /* bytes of a response kept */

/* Where a call goes: by path prefix (longest first), else by the
 * request's model (exact, or a prefix ending in '*'), else the default. */
struct route {
	char *prefix;   /* "/anthropic", or NULL */
	char *model;    /* "claude-*", or NULL */
	char *upstream; /* base URL without a trailing slash */
	int strip;      /* remove the prefix when forwarding (default yes) */
};

#define OTLP_BATCH 512 /* spans in one export request at most */

struct proxy {
	struct route *routes;
	size_t nroutes;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	CURLM *multi;
	struct event *timer;
	struct writer *writer;
	struct groups *groups;
	int group_idle;
	struct call *live; /* calls in flight, for run-key lookups */
	airi_store *reader; /* lookups from the loop thread */
	char *otel_loc;         /* --otel-listen started during an outage: */
	airi_store *otel_store; /* its store, opened once the writer's is */
	int stamp;
	size_t max_body;
	long connect_timeout, idle_timeout;
	const char *ca_file; /* --upstream-ca: trust this CA for https upstreams */
	int inflight;
	int stopping;
	struct event *sigterm, *sigint, *stop_check;
	uint64_t calls, recorded, failed;
	/* --otlp: spans of committed runs, sent in batches by a forwarder
	 * thread (src/otel/forward.c), never from the loop */
	struct forwarder *otlp;
	struct event *otlp_tick;
	char *otlp_span[OTLP_BATCH];
	size_t otlp_len[OTLP_BATCH];
	size_t otlp_n;
	uint64_t otlp_dropped; /* spans that could not be made or queued */
	/* --otel-listen: the OTLP/HTTP receiver of `airi otel receive` on
	 * this event base, with its own port, store connection and writer
	 * thread (src/otel/receive.c) */
	struct rx *orx;
	/* finished transfer handles, reset and reused (their buffers and
	 * state are kept; connections live in the multi handle's pool) */
	CURL *easy_pool[256];
	int npool;
	/* one timer probes every call waiting for its upstream */
	struct event *probe;
	/* the jobs of one loop iteration, handed to the writer together
	 * (one lock, at most one wake-up) by flush_jobs at its end */
	struct writer_job *jobs, **jobs_tail;
	struct event *flush;
	/* random bytes for run keys, RAND_bytes'ed 4 KiB at a time */
	unsigned char rnd[4096];
	size_t rnd_left;
	/* --journal: look-ups of runs acknowledged but not yet in the store
	 * wait here until the writer has recorded them */
	struct journal *jr;
	struct parked *parked;
};

struct parked {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	uint64_t need; /* journaled runs the writer must be done with */
	struct parked *next;
	char id[];
};

struct hdr {
	char *name, *value; /* one allocation: name, NUL, value, NUL */
};

struct call {
	struct proxy *px;
	struct call *prev, *next;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	CURL *easy;
	struct curl_slist *headers;
	enum api api;
	char *path, *url, *method;
	const char *upstream; /* the route's base URL */
	airi__buf req_body, resp, sse;
	struct hdr *rh;
	size_t nrh, caprh;
	int status;
	int headers_done, started, streaming, client_gone, finished;
	int conn_closed; /* the connection is gone (and its close callback) */
	int replied;     /* the reply to the client is complete */
	int bind_key;    /* the run key was handed out: bind it to the run */
	struct event *resume; /* unpauses the upstream once the client drains */
	int paused;
	int held_done; /* a "data: [DONE]" event is being held back */
	struct assembler *as;
	char run_key[40];
	char errbuf[CURL_ERROR_SIZE];
	const char *ended;
	int attempt;
	char group[136];
	int seal_after;
	int64_t t_start, t_first, t_end;
	char *request_id, *api_version, *user_agent;
};

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* n random bytes from the pool: OpenSSL's cost per call of RAND_bytes
 * (its locks, its fork check) is paid once per 4 KiB, and the bytes are
 * the same CSPRNG's. Loop thread only (the proxy never forks). */
static int random_bytes(struct proxy *px, unsigned char *out, size_t n)
{
	if (n > sizeof(px->rnd))
		return -1;
	if (px->rnd_left < n) {
		if (RAND_bytes(px->rnd, (int)sizeof(px->rnd)) != 1)
			return -1;
		px->rnd_left = sizeof(px->rnd);
	}
	unsigned char *p = px->rnd + sizeof(px->rnd) - px->rnd_left;
	memcpy(out, p, n);
	memset(p, 0, n); /* handed out once */
	px->rnd_left -= n;
	return 0;
}

static void easy_release(struct proxy *px, CURL *e)
{
	curl_multi_remove_handle(px->multi, e);
	if (px->npool < (int)(sizeof(px->easy_pool) / sizeof(*px->easy_pool))) {
		curl_easy_reset(e);
		px->easy_pool[px->npool++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

static CURL *easy_get(struct proxy *px)
{
	return px->npool ? px->easy_pool[--px->npool] : curl_easy_init();
}

static void call_free(struct call *c)
{
	if (!c)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (c->px->live == c)
		c->px->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->resume)
		event_free(c->resume);
	/* keep-alive connections outlive calls: unhook from this one */
	if (c->conn && !c->conn_closed)
		evhttp_connection_set_closecb(c->conn, NULL, NULL);
	/* a client that went away left the request to us (libevent detaches
	 * it from the connection); replying to a detached request frees it */
	if (c->conn_closed && !c->replied && c->req) {
		if (c->started)
			evhttp_send_reply_end(c->req);
		else
			evhttp_send_reply(c->req, 499, "Client Closed Request",
					  NULL);
	}
	if (c->easy)
		easy_release(c->px, c->easy);
	curl_slist_free_all(c->headers);
	for (size_t i = 0; i < c->nrh; i++)
		free(c->rh[i].name);
	free(c->rh);
	airi__buf_release(&c->req_body);
	airi__buf_release(&c->resp);
	airi__buf_release(&c->sse);
	asm_free(c->as);
	free(c->path);
	free(c->url);
	free(c->method);
	free(c->request_id);
	free(c->api_version);
	free(c->user_agent);
	c->px->inflight--;
	free(c);
}

static int hop_by_hop(const char *name)
{
	static const char *const h[] = {
		"connection", "keep-alive", "proxy-authenticate",
		"proxy-authorization", "te", "trailer", "trailers",
		"transfer-encoding", "upgrade", "content-length", "host",
		"accept-encoding", "content-encoding", "expect", NULL};
	for (int i = 0; h[i]; i++)
		if (!strcasecmp(name, h[i]))
			return 1;
	return 0;
}

/* ---- errors in the API's own format ------------------------------------ */

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	}
	return code < 300 ? "OK" : code < 500 ? "Client Error" : "Server Error";
}

static void send_api_error(struct evhttp_request *req, enum api api, int code,
			   const char *type, const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	airi__buf m;
	airi__buf_init(&m);
	airi__canon_string(&m, msg, strlen(msg));
	if (api == API_MESSAGES)
		evbuffer_add_printf(b,
				    "{\"type\":\"error\",\"error\":{\"type\":"
				    "\"%s\",\"message\":%s}}",
				    type, m.p ? m.p : "\"\"");
	else
		evbuffer_add_printf(b,
				    "{\"error\":{\"message\":%s,\"type\":\"%s\","
				    "\"param\":null,\"code\":null}}",
				    m.p ? m.p : "\"\"", type);
	airi__buf_release(&m);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, code, reason(code), b);
	evbuffer_free(b);
}

/* ---- recording ---------------------------------------------------------- */

static void fill_capture(struct call *c, struct capture *cap, char *assembled,
			 size_t alen)
{
	memset(cap, 0, sizeof(*cap));
	cap->api = c->api;
	cap->endpoint = c->path;
	cap->upstream = c->upstream;
	cap->req_body = c->req_body.p;
	cap->req_len = c->req_body.n;
	if (assembled) {
		cap->resp_body = assembled;
		cap->resp_len = alen;
		cap->resp_assembled = 1;
	} else {
		cap->resp_body = c->resp.p;
		cap->resp_len = c->resp.n;
	}
	cap->status = c->status;
	cap->stream = c->streaming;
	cap->attempt = c->attempt;
	cap->t_start = c->t_start;
	cap->t_first = c->t_first;
	cap->t_end = c->t_end;
	cap->request_id = c->request_id;
	cap->api_version = c->api_version;
	cap->ended = c->ended;
	cap->user_agent = c->user_agent;
	cap->call_id = c->run_key[0] ? c->run_key : NULL;
}

/* on the writer thread: the call's capture inputs no longer change once
 * its transfer is done (the loop thread only sets client_gone and
 * conn_closed, which the capture does not read) */
static char *build_manifest(struct writer_job *j, size_t *len)
{
	struct call *c = j->call;
	struct capture cap;
	char *assembled = NULL;
	size_t alen = 0;
	if (c->streaming && c->as && c->status < 400)
		assembled = asm_output(c->as, &alen);
	fill_capture(c, &cap, assembled, alen);
	char *m = proxy_manifest(&cap, len);
	free(assembled);
	return m;
}

static void submit(struct call *c)
{
	struct writer_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->build = build_manifest;
	if (c->bind_key)
		snprintf(j->run_key, sizeof(j->run_key), "%s", c->run_key);
	snprintf(j->group, sizeof(j->group), "%s", c->group);
	j->seal_after = c->seal_after;
	j->call = c;
	/* to the writer at the end of this loop iteration, with the others
	 * that finish in it: the flush event runs after the callbacks that
	 * are already active */
	struct proxy *px = c->px;
	if (!px->jobs)
		event_active(px->flush, EV_READ, 0);
	j->next = NULL;
	*px->jobs_tail = j;
	px->jobs_tail = &j->next;
}

static void flush_jobs(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	(void)fd;
	(void)what;
	if (px->jobs)
		writer_submit_list(px->writer, px->jobs);
	px->jobs = NULL;
	px->jobs_tail = &px->jobs;
}

static void finish_reply(struct call *c, struct writer_job *j);

/* --otlp: the queued spans as one request to the forwarder (which drops
 * and counts when its queue is full: the collector is down or slow) */
static void otlp_flush(struct proxy *px)
{
	if (!px->otlp_n)
		return;
	size_t len;
	char *body = otel_export_request(px->otlp_span, px->otlp_len,
					 px->otlp_n, &len);
	if (!body || forwarder_send(px->otlp, body, len, 1))
		px->otlp_dropped += px->otlp_n;
	for (size_t i = 0; i < px->otlp_n; i++)
		free(px->otlp_span[i]);
	px->otlp_n = 0;
}

static void otlp_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	otlp_flush(arg);
}

static void otlp_add(struct proxy *px, const char *manifest, size_t len)
{
	airi_manifest *m = NULL;
	airi_error err;
	char *span = NULL;
	size_t n = 0;
	if (airi_manifest_parse_borrow(manifest, len, &m, &err) == 0)
		span = otel_export_span_text(m, &n);
	airi_manifest_free(m);
	if (!span) {
		px->otlp_dropped++;
		return;
	}
	px->otlp_span[px->otlp_n] = span;
	px->otlp_len[px->otlp_n++] = n;
	if (px->otlp_n == OTLP_BATCH)
		otlp_flush(px);
}

static void job_done(struct writer_job *j, void *ctx)
{
	struct proxy *px = ctx;
	struct call *c = j->call;
	if (j->rc) {
		px->failed++;
		fprintf(stderr, "airi proxy: could not record %s: %s\n",
			c ? c->path : "a grouped run", j->error);
	} else {
		px->recorded++;
		if (px->otlp && j->manifest)
			otlp_add(px, j->manifest, j->len);
		if (c && j->group[0])
			groups_add_call(px->groups, j->group, j->manifest, j->len,
					&j->run, &j->conditions, j->seal_after);
	}
	if (j->reply) { /* an explicit seal waits for the grouped run */
		char run[AIRI_DIGEST_STRLEN], cond[AIRI_DIGEST_STRLEN];
		struct evbuffer *b = evbuffer_new();
		if (j->rc) {
			send_api_error(j->reply, API_CHAT, 500, "airi_store_error",
				       j->error);
		} else {
			airi_digest_format(&j->run, run);
			airi_digest_format(&j->conditions, cond);
			evbuffer_add_printf(b, "{\"conditions\":\"%s\",\"run\":\"%s\"}",
					    cond, run);
			evhttp_add_header(evhttp_request_get_output_headers(j->reply),
					  "Content-Type", "application/json");
			evhttp_send_reply(j->reply, 200, "OK", b);
		}
		evbuffer_free(b);
	}
	if (c)
		finish_reply(c, j);
	free(j->manifest);
	free(j);
}

/* ---- the reply ---------------------------------------------------------- */

static void copy_headers(struct call *c)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(c->req);
	for (size_t i = 0; i < c->nrh; i++)
		if (!hop_by_hop(c->rh[i].name))
			evhttp_add_header(out, c->rh[i].name, c->rh[i].value);
}

static const char *resp_header(struct call *c, const char *name)
{
	for (size_t i = c->nrh; i-- > 0;)
		if (!strcasecmp(c->rh[i].name, name))
			return c->rh[i].value;
	return NULL;
}

/* Inserts ,"airi":{...} before the final '}' of a JSON object body. */
static void stamp_body(struct evbuffer *out, const char *body, size_t n,
		       const char *run, const char *cond)
{
	size_t end = n;
	while (end > 0 && (body[end - 1] == ' ' || body[end - 1] == '\n' ||
			   body[end - 1] == '\r' || body[end - 1] == '\t'))
		end--;
	if (end == 0 || body[end - 1] != '}') {
		evbuffer_add(out, body, n);
		return;
	}
	size_t k = end - 1;
	while (k > 0 && (body[k - 1] == ' ' || body[k - 1] == '\n' ||
			 body[k - 1] == '\r' || body[k - 1] == '\t'))
		k--;
	int empty = k > 0 && body[k - 1] == '{';
	/* one piece, without printf: ,"airi":{"run":"R","conditions":"C"}} */
	char m[2 * AIRI_DIGEST_STRLEN + 48], *p = m;
	size_t rl = strlen(run), cl = strlen(cond);
	if (rl >= AIRI_DIGEST_STRLEN || cl >= AIRI_DIGEST_STRLEN)
		rl = cl = 0; /* never: both are digests */
	if (!empty)
		*p++ = ',';
	memcpy(p, "\"airi\":{\"run\":\"", 15);
	p += 15;
	memcpy(p, run, rl);
	p += rl;
	memcpy(p, "\",\"conditions\":\"", 16);
	p += 16;
	memcpy(p, cond, cl);
	p += cl;
	memcpy(p, "\"}}", 3);
	p += 3;
	evbuffer_add(out, body, end - 1);
	evbuffer_add(out, m, (size_t)(p - m));
	evbuffer_add(out, body + end, n - end);
}

static void finish_reply(struct call *c, struct writer_job *j)
{
	char run[AIRI_DIGEST_STRLEN] = "", cond[AIRI_DIGEST_STRLEN] = "";
	if (j && !j->rc) {
		airi_digest_format(&j->run, run);
		airi_digest_format(&j->conditions, cond);
	}
	if (c->client_gone || c->replied) {
		call_free(c);
		return;
	}
	if (c->streaming && c->started && c->ended &&
	    strcmp(c->ended, "complete")) {
		/* the upstream broke off: the client must see a broken stream
		 * too, not a clean end with an identity */
		c->replied = 1;
		if (c->conn && !c->conn_closed) {
			evhttp_connection_set_closecb(c->conn, NULL, NULL);
			c->conn_closed = 1; /* freeing it frees the request */
			evhttp_connection_free(c->conn);
		}
		call_free(c);
		return;
	}
	if (c->streaming && c->started) {
		struct evbuffer *b = evbuffer_new();
		if (run[0]) {
			evbuffer_add_printf(b, ": airi run=%s conditions=%s\n\n",
					    run, cond);
			if (c->api == API_CHAT && c->px->stamp) {
				/* a chunk the SDKs accept: the stream's own
				 * envelope, no choices, no usage */
				const char *id = NULL, *model = NULL, *fp = NULL;
				long long created = 0;
				airi__buf env;
				airi__buf_init(&env);
				if (c->as)
					asm_envelope(c->as, &id, &model, &fp, &created);
				airi__buf_adds(&env, "{\"id\":");
				airi__canon_string(&env, id ? id : "", id ? strlen(id) : 0);
				airi__buf_printf(&env, ",\"object\":\"chat.completion."
						       "chunk\",\"created\":%lld,"
						       "\"model\":",
						 created ? created : (long long)(c->t_end / 1000));
				airi__canon_string(&env, model ? model : "",
						   model ? strlen(model) : 0);
				if (fp) {
					airi__buf_adds(&env, ",\"system_fingerprint\":");
					airi__canon_string(&env, fp, strlen(fp));
				}
				airi__buf_printf(&env, ",\"choices\":[],\"airi\":{"
						       "\"run\":\"%s\",\"conditions\":"
						       "\"%s\"}}",
						 run, cond);
				evbuffer_add_printf(b, "data: %s\n\n", env.p ? env.p : "{}");
				airi__buf_release(&env);
			} else if (c->api == API_MESSAGES && c->px->stamp) {
				evbuffer_add_printf(
					b,
					"event: airi\ndata: {\"type\":\"airi\","
					"\"run\":\"%s\",\"conditions\":\"%s\"}\n\n",
					run, cond);
			}
		}
		if (c->held_done)
			evbuffer_add_printf(b, "data: [DONE]\n\n");
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
		evhttp_send_reply_end(c->req);
		c->replied = 1;
		call_free(c);
		return;
	}
	/* a plain reply, or a failure before anything was sent */
	if (!c->status) {
		send_api_error(c->req, c->api, 502, "airi_upstream_error",
			       c->errbuf[0] ? c->errbuf : "upstream unreachable");
		c->replied = 1;
		call_free(c);
		return;
	}
	if (c->ended && strcmp(c->ended, "complete")) {
		/* a plain response that broke off (or was too large to hold):
		 * never pass on a truncated body as if it were whole */
		char msg[CURL_ERROR_SIZE + 64];
		snprintf(msg, sizeof(msg), "upstream response incomplete: %s",
			 c->errbuf[0] ? c->errbuf : c->ended);
		send_api_error(c->req, c->api, 502, "airi_upstream_error", msg);
		c->replied = 1;
		call_free(c);
		return;
	}
	struct evkeyvalq *out = evhttp_request_get_output_headers(c->req);
	copy_headers(c);
	if (run[0]) {
		evhttp_add_header(out, "Airi-Run-Id", run);
		evhttp_add_header(out, "Airi-Conditions-Id", cond);
	}
	struct evbuffer *b = evbuffer_new();
	const char *ct = resp_header(c, "content-type");
	if (run[0] && c->px->stamp && c->status < 300 && ct &&
	    strstr(ct, "json"))
		stamp_body(b, c->resp.p ? c->resp.p : "", c->resp.n, run, cond);
	else if (c->resp.n)
		evbuffer_add(b, c->resp.p, c->resp.n);
	evhttp_send_reply(c->req, c->status, reason(c->status), b);
	evbuffer_free(b);
	c->replied = 1;
	call_free(c);
}

/* ---- upstream callbacks (libcurl) --------------------------------------- */

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new status line (after 100 Continue): start over */
		const char *sp = memchr(p, ' ', len);
		c->status = sp ? atoi(sp + 1) : 0;
		for (size_t i = 0; i < c->nrh; i++)
			free(c->rh[i].name);
		c->nrh = 0;
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len; /* the blank line at the end */
	size_t nl = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (c->nrh == c->caprh) {
		size_t cap = c->caprh ? 2 * c->caprh : 16;
		struct hdr *nh = realloc(c->rh, cap * sizeof(*nh));
		if (!nh)
			return 0;
		c->rh = nh;
		c->caprh = cap;
	}
	char *t = malloc(nl + vl + 2);
	if (!t)
		return 0;
	memcpy(t, p, nl);
	t[nl] = 0;
	memcpy(t + nl + 1, v, vl);
	t[nl + 1 + vl] = 0;
	c->rh[c->nrh].name = t;
	c->rh[c->nrh].value = t + nl + 1;
	c->nrh++;
	return len;
}

/* Sends one complete SSE event on, holding back "data: [DONE]". */
static void pass_event(void *arg, const char *ev, size_t n)
{
	struct call *c = arg;
	airi__buf data;
	airi__buf_init(&data);
	int done = sse_data(ev, n, &data);
	if (done) {
		c->held_done = 1;
	} else {
		asm_event(c->as, NULL, data.p ? data.p : "", data.n);
		if (!c->client_gone) {
			struct evbuffer *b = evbuffer_new();
			evbuffer_add(b, ev, n);
			evhttp_send_reply_chunk(c->req, b);
			evbuffer_free(b);
		}
	}
	airi__buf_release(&data);
}

/* otel_rx_later's callback: once the writer has its store (it tells by
 * handing over the lookups' reader), a connection for the OTLP receiver */
static airi_store *otel_later(void *ctx)
{
	struct proxy *px = ctx;
	airi_store *s = NULL;
	airi_error err;
	if (!px->reader)
		px->reader = writer_take_reader(px->writer);
	if (!px->reader || !px->otel_loc || px->otel_store)
		return NULL;
	if (airi_store_open(px->otel_loc, AIRI_STORE_CREATE, &s, &err))
		return NULL;
	fprintf(stderr, "airi proxy: OTLP receiver: store connected\n");
	return px->otel_store = s;
}

static void start_stream(struct call *c)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(c->req);
	copy_headers(c);
	if (c->api != API_NONE) { /* only recorded calls get a handle */
		c->bind_key = 1;
		evhttp_add_header(out, "Airi-Run-Key", c->run_key);
	}
	evhttp_send_reply_start(c->req, c->status, reason(c->status));
	c->started = 1;
}

/*
 * Flow control towards slow clients: when more than CLIENT_BACKLOG bytes
 * of a stream wait in the client's output buffer, the upstream transfer is
 * paused (libcurl delivers the same bytes again when resumed) and a timer
 * resumes it once the client has drained below half of that. Memory per
 * stream is then bounded whatever the upstream's speed.
 */
#define CLIENT_BACKLOG ((size_t)1 << 20)

static size_t client_backlog(struct call *c)
{
	if (c->client_gone || c->conn_closed || !c->conn)
		return 0;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	(void)fd;
	(void)what;
	if (!c->paused || !c->easy)
		return;
	if (client_backlog(c) > CLIENT_BACKLOG / 2) {
		struct timeval tv = {0, 20000};
		evtimer_add(c->resume, &tv);
		return;
	}
	c->paused = 0;
	curl_easy_pause(c->easy, CURLPAUSE_CONT);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;
	if (c->streaming && c->started && client_backlog(c) > CLIENT_BACKLOG) {
		if (!c->resume)
			c->resume = evtimer_new(c->px->base, on_resume, c);
		if (c->resume) {
			struct timeval tv = {0, 20000};
			c->paused = 1;
			evtimer_add(c->resume, &tv);
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	if (!c->t_first)
		c->t_first = now_ms();
	if (!c->headers_done) {
		c->headers_done = 1;
		const char *ct = resp_header(c, "content-type");
		c->streaming = ct && strstr(ct, "text/event-stream") &&
			       c->api != API_NONE;
		if (c->streaming) {
			c->as = asm_new(c->api);
			start_stream(c);
		} else if (c->api == API_NONE && ct &&
			   strstr(ct, "text/event-stream")) {
			/* a stream on a path we do not record: pass it on */
			c->streaming = 1;
			start_stream(c);
		}
	}
	if (!c->streaming) {
		if (c->resp.n + len > CAPTURE_MAX) {
			snprintf(c->errbuf, sizeof(c->errbuf),
				 "response larger than %zu bytes", CAPTURE_MAX);
			return 0; /* abort: cannot both buffer and bound */
		}
		airi__buf_add(&c->resp, p, len);
		return len;
	}
	if (c->api == API_NONE) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, p, len);
		if (!c->client_gone)
			evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
		return len;
	}
	/* split into events at blank lines */
	airi__buf_add(&c->sse, p, len);
	sse_split(&c->sse, pass_event, c);
	return len;
}

static void transfer_done(struct call *c, CURLcode res)
{
	c->t_end = now_ms();
	const char *rid = resp_header(c, "x-request-id");
	if (!rid)
		rid = resp_header(c, "request-id");
	if (rid && !c->request_id)
		c->request_id = strdup(rid);
	const char *ov = resp_header(c, "openai-version");
	if (ov && !c->api_version)
		c->api_version = strdup(ov);
	c->finished = 1;
	if (c->easy) {
		easy_release(c->px, c->easy);
		c->easy = NULL;
	}
	if (c->client_gone)
		c->ended = "client_disconnected";
	else if (res == CURLE_OPERATION_TIMEDOUT)
		c->ended = "upstream_timeout";
	else if (res != CURLE_OK && c->status)
		c->ended = "upstream_broken";
	else if (res != CURLE_OK)
		c->ended = "upstream_unreachable";
	else
		c->ended = "complete";
	if (res != CURLE_OK && !c->errbuf[0])
		snprintf(c->errbuf, sizeof(c->errbuf), "%s",
			 curl_easy_strerror(res));
	if (c->streaming && c->sse.n && c->api != API_NONE) /* unterminated */
		pass_event(c, c->sse.p, c->sse.n);
	if (c->api == API_NONE) {
		/* pass-through: nothing to record */
		if (c->streaming && c->started) {
			if (!c->client_gone) {
				evhttp_send_reply_end(c->req);
				c->replied = 1;
			}
			call_free(c);
		} else {
			finish_reply(c, NULL);
		}
		return;
	}
	if (!c->status && !c->client_gone) {
		/* unreachable: answer now, record the failure too */
		send_api_error(c->req, c->api, 502, "airi_upstream_error",
			       c->errbuf);
		c->replied = 1;
	}
	submit(c);
}

/* ---- libcurl multi on libevent ------------------------------------------ */

static void check_multi(struct proxy *px)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(px->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct call *c = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c)
			transfer_done(c, m->data.result);
	}
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	int running;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
		    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(px->multi, fd, flags, &running);
	check_multi(px);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *arg,
			  void *sockp)
{
	struct proxy *px = arg;
	struct event *ev = sockp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ev) {
			event_free(ev);
			curl_multi_assign(px->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
		     (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (ev && event_get_events(ev) == kind)
		return 0; /* already watching for that */
	if (ev) { /* same socket, other interest: re-arm the same event */
		event_del(ev);
		event_assign(ev, px->base, s, kind, on_socket_event, px);
	} else {
		ev = event_new(px->base, s, kind, on_socket_event, px);
		curl_multi_assign(px->multi, s, ev);
	}
	event_add(ev, NULL);
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	int running;
	(void)fd;
	(void)what;
	curl_multi_socket_action(px->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi(px);
}

static int on_curl_timer(CURLM *m, long ms, void *arg)
{
	struct proxy *px = arg;
	(void)m;
	if (ms < 0) {
		evtimer_del(px->timer);
	} else {
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(px->timer, &tv);
	}
	return 0;
}

/* ---- the client side ----------------------------------------------------- */

static void on_client_close(struct evhttp_connection *conn, void *arg)
{
	struct call *c = arg;
	(void)conn;
	c->client_gone = 1;
	c->conn_closed = 1;
	if (!c->finished && c->easy) {
		/* stop the upstream transfer; record what was received */
		transfer_done(c, CURLE_ABORTED_BY_CALLBACK);
	}
}

/* the writer callback of group.c: record a sealed agent run */
static void submit_group(char *manifest, size_t len, void *reply, void *ctx)
{
	struct proxy *px = ctx;
	struct writer_job *j = calloc(1, sizeof(*j));
	if (!j) {
		free(manifest);
		return;
	}
	j->manifest = manifest;
	j->len = len;
	j->reply = reply;
	writer_submit(px->writer, j);
}

/*
 * While a call waits for its upstream, libevent does not read from the
 * client connection, so a client that hangs up goes unnoticed until a
 * reply is attempted. A once-a-second peek finds it: EOF means gone, and
 * then the upstream transfer is stopped and the call recorded as such.
 * One timer for all calls (armed while there are calls), so that a call
 * costs no timer of its own.
 */
static void probe_call(struct call *c)
{
	if (c->finished || c->client_gone || c->started || !c->easy ||
	    !c->conn)
		return;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	evutil_socket_t s = bev ? bufferevent_getfd(bev) : -1;
	char byte;
	ssize_t r = s >= 0 ? recv(s, &byte, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		       errno != EINTR)) {
		c->client_gone = 1;
		c->replied = 1;
		evhttp_connection_set_closecb(c->conn, NULL, NULL);
		c->conn_closed = 1;
		evhttp_connection_free(c->conn); /* frees the request too */
		transfer_done(c, CURLE_ABORTED_BY_CALLBACK);
	}
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	(void)fd;
	(void)what;
	for (struct call *c = px->live, *next; c; c = next) {
		next = c->next; /* probe_call frees nothing but c */
		probe_call(c);
	}
	if (px->live) {
		struct timeval tv = {1, 0};
		evtimer_add(px->probe, &tv);
	}
}

static void lookup_at(struct proxy *px, struct evhttp_request *req,
		      const char *id, int final);

/* the client of a parked look-up hung up: libevent frees its request */
static void parked_gone(struct evhttp_connection *conn, void *arg)
{
	struct proxy *px = arg;
	for (struct parked **pp = &px->parked; *pp;) {
		struct parked *p = *pp;
		if (p->conn == conn) {
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

/* the writer recorded journaled runs: answer the look-ups waiting for
 * them (once every run acknowledged before a look-up arrived is in the
 * store, its answer is final) */
static void on_ingested(void *ctx)
{
	struct proxy *px = ctx;
	if (!px->parked)
		return;
	uint64_t acked, done;
	writer_journal_counts(px->writer, &acked, &done);
	for (struct parked **pp = &px->parked; *pp;) {
		struct parked *p = *pp;
		if (done < p->need) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		evhttp_connection_set_closecb(p->conn, NULL, NULL);
		lookup_at(px, p->req, p->id, 1);
		free(p);
	}
}

static void lookup(struct proxy *px, struct evhttp_request *req,
		   const char *id)
{
	lookup_at(px, req, id, 0);
}

static void lookup_at(struct proxy *px, struct evhttp_request *req,
		      const char *id, int final)
{
	airi_digest d;
	airi_manifest *m = NULL;
	airi_error err;
	char *canon = NULL;
	size_t n;
	if (!strncmp(id, "rk_", 3)) {
		for (struct call *c = px->live; c; c = c->next)
			if (!strcmp(c->run_key, id)) {
				/* known, not sealed yet: say so */
				struct evbuffer *b = evbuffer_new();
				evbuffer_add_printf(b, "{\"status\":\"pending\"}");
				evhttp_add_header(evhttp_request_get_output_headers(req),
						  "Content-Type", "application/json");
				evhttp_send_reply(req, 202, "Accepted", b);
				evbuffer_free(b);
				return;
			}
	}
	if (!px->reader)
		px->reader = writer_take_reader(px->writer);
	if (!px->reader) {
		/* started while the store was unreachable, and still is */
		struct writer_stats ws;
		char msg[400];
		writer_stats(px->writer, &ws);
		snprintf(msg, sizeof(msg),
			 "the store is unreachable (%s); the proxy is "
			 "reconnecting, and spooling runs until then",
			 ws.store_error[0] ? ws.store_error : "not connected");
		send_api_error(req, API_CHAT, 503, "airi_store_unavailable",
			       msg);
		return;
	}
	if (airi_store_resolve(px->reader, id, &d, &err) ||
	    airi_store_fetch(px->reader, &d, &m, &err) ||
	    airi_manifest_canon(m, &canon, &n)) {
		uint64_t acked = 0, done = 0;
		if (px->jr && !final && err.code == AIRI_ENOTFOUND)
			writer_journal_counts(px->writer, &acked, &done);
		struct evhttp_connection *conn =
			done < acked ? evhttp_request_get_connection(req) : NULL;
		struct parked *p = conn ? malloc(sizeof(*p) + strlen(id) + 1)
					: NULL;
		if (p) {
			/* maybe acknowledged, not in the store yet: wait */
			airi_manifest_free(m);
			p->req = req;
			p->conn = conn;
			p->need = acked;
			strcpy(p->id, id);
			p->next = px->parked;
			px->parked = p;
			evhttp_connection_set_closecb(conn, parked_gone, px);
			return;
		}
		int code = err.code == AIRI_ENOTFOUND ? 404
			   : err.code == AIRI_ESTORE  ? 503
						      : 400;
		send_api_error(req, API_CHAT, code,
			       code == 503 ? "airi_store_unavailable"
					   : "airi_lookup_error",
			       err.message);
		airi_manifest_free(m);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, canon, n);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
	free(canon);
	airi_manifest_free(m);
}

static int model_matches(const char *pat, const char *m, size_t n)
{
	size_t pl = strlen(pat);
	if (pl && pat[pl - 1] == '*')
		return n >= pl - 1 && !memcmp(pat, m, pl - 1);
	return pl == n && !memcmp(pat, m, n);
}

static const struct route *route_for(struct proxy *px, const char *uri,
				     const char *body, size_t blen,
				     const char **fwd)
{
	const struct route *best = NULL;
	size_t best_len = 0;
	*fwd = uri;
	for (size_t i = 0; i < px->nroutes; i++) {
		const struct route *r = &px->routes[i];
		size_t l = r->prefix ? strlen(r->prefix) : 0;
		if (l && !strncmp(uri, r->prefix, l) &&
		    (uri[l] == '/' || uri[l] == '?' || !uri[l]) && l > best_len) {
			best = r;
			best_len = l;
		}
	}
	if (best) {
		if (best->strip)
			*fwd = uri + best_len;
		return best;
	}
	/* by model: only for bodies that parse */
	airi_json *doc = NULL;
	size_t mn = 0;
	const char *m = NULL;
	for (size_t i = 0; i < px->nroutes; i++)
		if (px->routes[i].model) {
			if (!doc && blen &&
			    airi_json_parse(body, blen, &doc, NULL) == 0)
				m = airi_value_string(
					airi_value_get(airi_json_root(doc), "model"),
					&mn);
			break;
		}
	for (size_t i = 0; m && i < px->nroutes; i++)
		if (px->routes[i].model && !px->routes[i].prefix &&
		    model_matches(px->routes[i].model, m, mn)) {
			best = &px->routes[i];
			break;
		}
	airi_json_free(doc);
	if (best)
		return best;
	for (size_t i = 0; i < px->nroutes; i++)
		if (!px->routes[i].prefix && !px->routes[i].model)
			return &px->routes[i];
	return NULL;
}

static int valid_upstream(const char *u)
{
	return u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8));
}

static char *trim_slash(const char *u)
{
	char *s = strdup(u);
	size_t n = s ? strlen(s) : 0;
	while (n > 8 && s[n - 1] == '/')
		s[--n] = 0;
	return s;
}

/*
 * --config FILE: {"routes":[{"prefix":"/anthropic","upstream":"https://
 * api.anthropic.com"},{"model":"llama*","upstream":"http://127.0.0.1:8080"},
 * {"upstream":"https://api.openai.com"}]} (docs/proxy-mapping.md).
 */
static int load_config(struct proxy *px, const char *path)
{
	char *data;
	size_t len;
	airi_json *doc = NULL;
	airi_error err;
	if (cli_read(path, &data, &len))
		return EXIT_NOINPUT;
	if (airi_json_parse(data, len, &doc, &err)) {
		cli_error(path, &err);
		free(data);
		return EXIT_DATAERR;
	}
	const airi_value *routes = airi_value_get(airi_json_root(doc), "routes");
	int status = 0;
	if (airi_value_type(routes) != AIRI_ARRAY || !airi_value_count(routes)) {
		cli_errorf("%s: expected {\"routes\": [ ... ]} with at least one "
			   "route",
			   path);
		status = EXIT_DATAERR;
	}
	for (size_t i = 0; !status && i < airi_value_count(routes); i++) {
		const airi_value *r = airi_value_at(routes, i);
		size_t n;
		const char *up = airi_value_string(airi_value_get(r, "upstream"), &n);
		char *u = up ? strndup(up, n) : NULL;
		if (!valid_upstream(u)) {
			cli_errorf("%s: /routes/%zu/upstream must be an http:// or "
				   "https:// URL",
				   path, i);
			free(u);
			status = EXIT_DATAERR;
			break;
		}
		struct route *nr = realloc(px->routes,
					   (px->nroutes + 1) * sizeof(*nr));
		if (!nr) {
			free(u);
			status = EXIT_TROUBLE;
			break;
		}
		px->routes = nr;
		struct route *rt = &px->routes[px->nroutes++];
		memset(rt, 0, sizeof(*rt));
		rt->upstream = trim_slash(u);
		free(u);
		const char *pre = airi_value_string(airi_value_get(r, "prefix"), &n);
		if (pre) {
			rt->prefix = strndup(pre, n);
			if (rt->prefix[0] != '/') {
				cli_errorf("%s: /routes/%zu/prefix must start with /",
					   path, i);
				status = EXIT_DATAERR;
			}
		}
		const char *mod = airi_value_string(airi_value_get(r, "model"), &n);
		if (mod)
			rt->model = strndup(mod, n);
		rt->strip = airi_value_type(airi_value_get(r, "strip_prefix")) !=
			    AIRI_FALSE;
	}
	airi_json_free(doc);
	free(data);
	return status;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "GET";
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct proxy *px = arg;
	const char *uri = evhttp_request_get_uri(req);
	const char *method = method_name(evhttp_request_get_command(req));
	if (px->stopping) {
		send_api_error(req, proxy_api_of(method, uri), 503,
			       "airi_shutting_down", "the proxy is shutting down");
		return;
	}
	if (!strcmp(method, "GET") && !strncmp(uri, "/airi/v1/runs/", 14)) {
		lookup(px, req, uri + 14);
		return;
	}
	if (!strcmp(method, "POST") && !strncmp(uri, "/airi/v1/groups/", 16)) {
		char key[136];
		const char *k = uri + 16, *slash = strchr(k, '/');
		if (!slash || strcmp(slash, "/seal") ||
		    (size_t)(slash - k) >= sizeof(key)) {
			send_api_error(req, API_CHAT, 404, "airi_not_found",
				       "POST /airi/v1/groups/KEY/seal");
			return;
		}
		memcpy(key, k, (size_t)(slash - k));
		key[slash - k] = 0;
		if (groups_seal(px->groups, key, req))
			send_api_error(req, API_CHAT, 404, "airi_not_found",
				       "no open agent run with that key");
		return; /* replied when the grouped run is committed */
	}
	if (!strcmp(method, "GET") && !strcmp(uri, "/airi/v1/health")) {
		struct evbuffer *b = evbuffer_new();
		struct writer_stats ws;
		char otlp[96] = "", spool[128] = "", jbuf[256] = "";
		airi__buf store;
		airi__buf_init(&store);
		writer_stats(px->writer, &ws);
		airi__buf_printf(&store, ",\"store\":{\"attempts\":%u,",
				 ws.store_attempts);
		if (ws.store_error[0]) {
			airi__buf_adds(&store, "\"error\":");
			airi__canon_string(&store, ws.store_error,
					   strlen(ws.store_error));
			airi__buf_adds(&store, ",");
		}
		airi__buf_printf(&store, "\"state\":\"%s\"}", ws.store_state);

		if (ws.spool_state)
			snprintf(spool, sizeof(spool),
				 "\"spool\":{\"bytes\":%llu,\"runs\":%llu,"
				 "\"state\":\"%s\"},",
				 (unsigned long long)ws.spool_bytes,
				 (unsigned long long)ws.spool_runs, ws.spool_state);
		if (ws.journal)
			snprintf(jbuf, sizeof(jbuf),
					 ",\"journal\":{\"bytes\":%llu,\"direct\":%s,"
					 "\"fallbacks\":%llu,\"full\":%llu,"
					 "\"pending\":%llu,\"records\":%llu,"
					 "\"used\":%llu}",
					 (unsigned long long)ws.js.size,
					 ws.js.direct ? "true" : "false",
					 (unsigned long long)ws.j_fallbacks,
					 (unsigned long long)ws.js.full,
					 (unsigned long long)ws.j_pending,
					 (unsigned long long)ws.js.records,
					 (unsigned long long)ws.js.used);
		if (px->otlp) {
			uint64_t sent, failed, dropped;
			forwarder_counts(px->otlp, &sent, &failed, &dropped);
			/* counted in spans would need the forwarder to know
			 * them; requests sent, and spans dropped (queued
			 * requests dropped or failed count as whole batches) */
			snprintf(otlp, sizeof(otlp),
				 ",\"otlp_dropped\":%llu,\"otlp_failed\":%llu,"
				 "\"otlp_sent\":%llu",
				 (unsigned long long)(px->otlp_dropped),
				 (unsigned long long)failed,
				 (unsigned long long)sent);
		}
		evbuffer_add_printf(b,
				    "{\"calls\":%llu,\"commits\":{\"batches\":%llu,"
				    "\"max_us\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,"
				    "\"runs\":%llu},\"failed\":%llu,\"inflight\":"
				    "%d%s%s,\"recorded\":%llu,%s\"status\":\"ok\"%s}",
				    (unsigned long long)px->calls,
				    (unsigned long long)ws.batches,
				    (unsigned long long)ws.max_us,
				    (unsigned long long)ws.p50_us,
				    (unsigned long long)ws.p99_us,
				    (unsigned long long)ws.jobs,
				    (unsigned long long)px->failed, px->inflight,
				    jbuf, otlp, (unsigned long long)px->recorded, spool,
				    store.p ? store.p : "");
		airi__buf_release(&store);
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Type", "application/json");
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	px->inflight++;
	px->calls++;
	c->px = px;
	c->next = px->live;
	if (px->live)
		px->live->prev = c;
	px->live = c;
	c->req = req;
	c->t_start = now_ms();
	c->api = proxy_api_of(method, uri);
	c->path = strdup(uri);
	c->method = strdup(method);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	if (blen > px->max_body) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "request body of %zu bytes is over the proxy's limit of "
			 "%zu bytes",
			 blen, px->max_body);
		send_api_error(req, c->api, 413, "airi_request_too_large", msg);
		call_free(c);
		return;
	}
	if (c->api != API_NONE && writer_spool_full(px->writer)) {
		/* the store has been unavailable for long: refuse rather
		 * than grow the spool without bound */
		send_api_error(req, c->api, 503, "airi_spool_full",
			       "the store is unavailable and the proxy's spool "
			       "is full; try again later");
		call_free(c);
		return;
	}
	if (airi__buf_grow(&c->req_body, blen)) {
		send_api_error(req, c->api, 500, "airi_error", "out of memory");
		call_free(c);
		return;
	}
	evbuffer_copyout(in, c->req_body.p, blen);
	c->req_body.n = blen;
	if (c->req_body.p)
		c->req_body.p[blen] = 0;
	const char *fwd = uri;
	const struct route *rt = route_for(px, uri, c->req_body.p, blen, &fwd);
	if (!rt) {
		send_api_error(req, c->api, 404, "airi_no_route",
			       "no upstream is configured for this path or "
			       "model");
		call_free(c);
		return;
	}
	c->upstream = rt->upstream;
	c->api = proxy_api_of(method, fwd);
	if (c->api != API_NONE) { /* the call's own key, also in meta.call */
		unsigned char r[12];
		char hex[25];
		if (random_bytes(px, r, sizeof(r))) {
			send_api_error(req, c->api, 500, "airi_error",
				       "no random bytes for the run key");
			call_free(c);
			return;
		}
		airi__hex(r, sizeof(r), hex);
		snprintf(c->run_key, sizeof(c->run_key), "rk_%s", hex);
	}
	if (asprintf(&c->url, "%s%s", rt->upstream, fwd) < 0) {
		send_api_error(req, c->api, 500, "airi_error", "out of memory");
		call_free(c);
		return;
	}
	/* headers: forward all but hop-by-hop ones */
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	c->attempt = 1;
	if (c->api != API_NONE) {
		group_key(evhttp_find_header(h, "traceparent"),
			  evhttp_find_header(h, "airi-trace"), c->group);
		const char *sealh = evhttp_find_header(h, "airi-seal");
		c->seal_after = sealh && (!strcasecmp(sealh, "true") ||
					  !strcmp(sealh, "1"));
	}
	for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
		if (!strcasecmp(kv->key, "airi-trace") ||
		    !strcasecmp(kv->key, "airi-seal"))
			continue; /* ours, not the upstream's */
		if (hop_by_hop(kv->key))
			continue;
		if (!strcasecmp(kv->key, "x-stainless-retry-count"))
			c->attempt = atoi(kv->value) + 1;
		if (!strcasecmp(kv->key, "anthropic-version"))
			c->api_version = strdup(kv->value);
		if (!strcasecmp(kv->key, "user-agent"))
			c->user_agent = strdup(kv->value);
		char *line = NULL;
		if (asprintf(&line, "%s: %s", kv->key, kv->value) >= 0) {
			c->headers = curl_slist_append(c->headers, line);
			free(line);
		}
	}
	c->headers = curl_slist_append(c->headers, "Expect:");
	c->easy = easy_get(px);
	if (!c->easy) {
		send_api_error(req, c->api, 500, "airi_error", "cannot start a transfer");
		call_free(c);
		return;
	}
	CURL *e = c->easy;
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (blen || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
	    !strcmp(method, "PATCH")) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req_body.p ? c->req_body.p : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* decoded for us */
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, px->connect_timeout);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, px->idle_timeout);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (px->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, px->ca_file);
	c->conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(c->conn, on_client_close, c);
	if (!evtimer_pending(px->probe, NULL)) {
		struct timeval tv = {1, 0};
		evtimer_add(px->probe, &tv);
	}
	curl_multi_add_handle(px->multi, e);
}

/* ---- start and stop ------------------------------------------------------- */

static void maybe_exit(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	(void)fd;
	(void)what;
	if (px->inflight <= 0 && !otel_rx_inflight(px->orx)) {
		event_base_loopexit(px->base, NULL);
		return;
	}
	struct timeval tv = {0, 50000};
	evtimer_add(px->stop_check, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *px = arg;
	(void)what;
	if (px->stopping)
		return;
	px->stopping = 1;
	fprintf(stderr, "airi proxy: %s: finishing %d call%s in flight\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT", px->inflight,
		px->inflight == 1 ? "" : "s");
	if (px->sock) {
		evhttp_del_accept_socket(px->http, px->sock);
		px->sock = NULL;
	}
	otel_rx_stop(px->orx);
	px->stop_check = evtimer_new(px->base, maybe_exit, px);
	maybe_exit(-1, 0, px);
}

/* threads writing the journal: AIRI_JOURNAL_THREADS, default 4 (each
 * waits for its own write; more let more calls sync at once) */
static int journal_threads(void)
{
	const char *e = getenv("AIRI_JOURNAL_THREADS");
	int n = e ? atoi(e) : 4;
	return n < 1 ? 1 : n > 16 ? 16 : n;
}

/* A numeric option between min and max, into *out when given; -1 (said)
 * when it is not a number in range. */
static int num_opt(struct args *a, const char *name, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	const char *v = cli_val(a, name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || *v == '-' || errno || x < min || x > max) {
		if (min <= 1)
			cli_errorf("proxy: --%s needs a positive number, not "
				   "\"%s\"", name, v);
		else
			cli_errorf("proxy: --%s needs a number of bytes from "
				   "%llu, not \"%s\"",
				   name, (unsigned long long)min, v);
		return -1;
	}
	*out = x;
	return 0;
}

int cmd_proxy(struct args *a)
{
	struct proxy px;
	int status = 0;
	char *otlp_url = NULL;
	memset(&px, 0, sizeof(px));
	/* a server allocates and frees the same sizes over and over: keep
	 * freed memory instead of handing it back to the kernel after each
	 * call (munmap and trims cost TLB shootdowns across the threads) */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	const char *listen = cli_val(a, "listen") ? cli_val(a, "listen")
						   : "127.0.0.1:8787";
	const char *up = cli_val(a, "upstream");
	if (a->npos) {
		cli_errorf("proxy: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	if (up && !valid_upstream(up)) {
		cli_errorf("proxy: --upstream must be an http:// or https:// URL");
		return EXIT_USAGE;
	}
	if (!up && !cli_val(a, "config")) {
		cli_errorf("proxy: give --upstream URL or --config FILE");
		return EXIT_USAGE;
	}
	const char *otel_listen = cli_val(a, "otel-listen");
	if (otel_listen && !otel_listen_ok(otel_listen)) {
		cli_errorf("proxy: --otel-listen wants HOST:PORT, not \"%s\"",
			   otel_listen);
		return EXIT_USAGE;
	}
	if (cli_val(a, "otlp")) {
		/* a base URL gets /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT */
		const char *o = cli_val(a, "otlp");
		size_t n = strlen(o);
		if (!valid_upstream(o)) {
			cli_errorf("proxy: --otlp must be an http:// or https:// URL");
			return EXIT_USAGE;
		}
		while (n && o[n - 1] == '/')
			n--;
		int has = n >= 10 && !memcmp(o + n - 10, "/v1/traces", 10);
		if (!(otlp_url = malloc(n + 11))) {
			cli_errorf("out of memory");
			return EXIT_TROUBLE;
		}
		memcpy(otlp_url, o, n);
		strcpy(otlp_url + n, has ? "" : "/v1/traces");
	}
	if (cli_val(a, "config") &&
	    (status = load_config(&px, cli_val(a, "config"))))
		goto routes_fail;
	if (up) {
		struct route *nr = realloc(px.routes,
					   (px.nroutes + 1) * sizeof(*nr));
		if (!nr) {
			status = EXIT_TROUBLE;
			goto routes_fail;
		}
		px.routes = nr;
		memset(&px.routes[px.nroutes], 0, sizeof(*nr));
		px.routes[px.nroutes++].upstream = trim_slash(up);
	}
	px.stamp = !cli_opt(a, "no-stamp");
	px.ca_file = cli_val(a, "upstream-ca");
	if (px.ca_file && access(px.ca_file, R_OK)) {
		cli_errorf("proxy: --upstream-ca %s: %s", px.ca_file, strerror(errno));
		status = EXIT_NOINPUT;
		goto routes_fail;
	}
	uint64_t max_body = (uint64_t)32 << 20, connect_timeout = 10,
		 idle_timeout = 300, group_idle = 60;
	uint64_t spool_max = (uint64_t)1 << 30, journal_size = (uint64_t)16 << 20;
	if (num_opt(a, "max-body", 1, 1ull << 40, &max_body) ||
	    num_opt(a, "connect-timeout", 1, 1ull << 40, &connect_timeout) ||
	    num_opt(a, "idle-timeout", 1, 1ull << 40, &idle_timeout) ||
	    num_opt(a, "group-idle", 1, 1ull << 40, &group_idle) ||
	    num_opt(a, "spool-max", 1, UINT64_MAX, &spool_max) ||
	    num_opt(a, "journal-size", 65536, 1ull << 40, &journal_size)) {
		status = EXIT_USAGE;
		goto routes_fail;
	}
	if (cli_val(a, "journal-size") && !cli_val(a, "journal")) {
		cli_errorf("proxy: --journal-size needs --journal FILE");
		status = EXIT_USAGE;
		goto routes_fail;
	}
	px.max_body = (size_t)max_body;
	px.connect_timeout = (long)connect_timeout;
	px.idle_timeout = (long)idle_timeout;
	px.group_idle = group_idle > INT_MAX ? INT_MAX : (int)group_idle;
	char host[256];
	int port = 0;
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535) {
		cli_errorf("proxy: --listen wants HOST:PORT, not \"%s\"", listen);
		status = EXIT_USAGE;
		goto routes_fail;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = 0;

	/* the outage spool: --spool DIR, or by default one per store and
	 * listening address under $XDG_STATE_HOME/airi/spool/ */
	struct spool *spool = NULL;
	{
		char msg[512], *dir = NULL;
		const char *given = cli_val(a, "spool");
		if (given) {
			dir = strdup(given);
		} else {
			char *loc = cli_val(a, "store") ? strdup(cli_val(a, "store"))
							: airi_store_default_location();
			const char *st = getenv("XDG_STATE_HOME");
			const char *home = getenv("HOME");
			airi__buf key;
			airi_digest d;
			char hex[AIRI_DIGEST_STRLEN];
			airi__buf_init(&key);
			airi__buf_printf(&key, "%s\n%s", loc ? loc : "", listen);
			airi_digest_bytes(key.p ? key.p : "", key.n, &d);
			airi__buf_release(&key);
			free(loc);
			airi_digest_format(&d, hex);
			size_t n = 4096;
			if ((dir = malloc(n))) {
				if (st && st[0] == '/')
					snprintf(dir, n, "%s/airi/spool/%.16s", st, hex + 7);
				else if (home && home[0] == '/')
					snprintf(dir, n, "%s/.local/state/airi/spool/%.16s",
						 home, hex + 7);
				else {
					free(dir);
					dir = NULL;
				}
			}
		}
		if (dir && !(spool = spool_open(dir, msg, sizeof(msg)))) {
			if (given) {
				cli_errorf("proxy: --spool %s", msg);
				free(dir);
				status = EXIT_TROUBLE;
				goto routes_fail;
			}
			fprintf(stderr, "airi proxy: no outage spool: %s\n", msg);
		}
		if (spool)
			fprintf(stderr, "airi proxy: outage spool %s\n", dir);
		else if (!dir)
			fprintf(stderr, "airi proxy: no outage spool (give --spool DIR)\n");
		free(dir);
	}
	/*
	 * The store. A PostgreSQL server that cannot be reached (or refuses
	 * the connection) is an outage, not a mistake: with a spool the proxy
	 * starts anyway, spools every run, and its writer thread connects
	 * when it can. Everything else that keeps a store from opening is
	 * the configuration's fault and stops the proxy: a SQLite file that
	 * cannot be opened or created, a malformed location, a schema this
	 * airi cannot use, and --otel-listen (its receiver needs the store).
	 */
	char *loc = cli_val(a, "store") ? strdup(cli_val(a, "store"))
					: airi_store_default_location();
	if (!loc) {
		cli_errorf("cannot determine the store location");
		spool_close(spool);
		status = EXIT_TROUBLE;
		goto routes_fail;
	}
	airi_store *ws = NULL;
	airi_error serr;
	char down[256] = "";
	int orc = airi_store_open(loc, AIRI_STORE_CREATE, &ws, &serr);
	/* libpq refuses option values it cannot use ("invalid port number",
	 * "invalid sslmode value") before it connects: a mistake too */
	int netloc = orc == AIRI_ESTORE && airi__pg_location(loc) &&
		     !strstr(serr.message, ": cannot connect: invalid ");
	if (orc && netloc && spool) {
		snprintf(down, sizeof(down), "%s", serr.message);
		fprintf(stderr, "airi proxy: store unreachable (%s): serving "
				"anyway, spooling runs and reconnecting\n",
			down);
	} else if (orc) {
		cli_error(NULL, &serr);
		if (netloc)
			fprintf(stderr, "airi proxy: cannot start without the "
					"store: there is no outage spool\n");
		spool_close(spool);
		free(loc);
		status = EXIT_TROUBLE;
		goto routes_fail;
	}
	px.reader = ws ? cli_store(a, 0, &status) : NULL;
	/* the receiver's writer thread gets a store connection of its own */
	airi_store *ows = otel_listen && px.reader
				  ? cli_store(a, AIRI_STORE_CREATE, &status)
				  : NULL;
	airi_key *signer = cli_signer(a, 0, &status);
	/* the acknowledgement journal: what the last proxy acknowledged and
	 * did not record goes to the store first */
	const char *jp = cli_val(a, "journal");
	if (jp && !status && ws && px.reader && (!otel_listen || ows)) {
		char msg[600];
		size_t found = 0;
		if (!(px.jr = journal_open(jp, journal_size, msg, sizeof(msg))) ||
		    journal_recover_into(px.jr, ws, &found, msg, sizeof(msg))) {
			cli_errorf("proxy: --journal %s", msg);
			status = EXIT_TROUBLE;
		} else if (found) {
			fprintf(stderr, "airi proxy: journal %s: %zu runs of the "
					"last run checked into the store\n",
				jp, found);
		}
	} else if (jp && !status && !ws) {
		cli_errorf("proxy: --journal needs the store at start, to record "
			   "what the journal holds: %s",
			   down);
		status = EXIT_TROUBLE;
	}
	if (status || (ws && !px.reader) || (otel_listen && ws && !ows)) {
		journal_close(px.jr, 0);
		free(loc);
		airi_store_close(ws);
		airi_store_close(ows);
		airi_store_close(px.reader);
		spool_close(spool);
		airi_key_free(signer);
		if (!status)
			status = EXIT_TROUBLE;
		goto routes_fail;
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* epoll with a change list: evhttp turns reading and writing off and
	 * on again around each request and reply, and libcurl moves its
	 * sockets between read and write interest; the change list folds
	 * the changes of one loop iteration into one epoll_ctl per socket
	 * (none when they cancel out). No descriptor here is dup()ed, the
	 * case the change list gets wrong. */
	{
		struct event_config *cfg = event_config_new();
		if (cfg)
			event_config_set_flag(cfg,
					      EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		px.base = cfg ? event_base_new_with_config(cfg) : NULL;
		if (cfg)
			event_config_free(cfg);
		if (!px.base)
			px.base = event_base_new();
	}
	px.http = evhttp_new(px.base);
	px.multi = curl_multi_init();
	px.timer = evtimer_new(px.base, on_timer, &px);
	px.probe = evtimer_new(px.base, on_probe, &px);
	px.flush = event_new(px.base, -1, 0, flush_jobs, &px);
	px.jobs_tail = &px.jobs;
	curl_multi_setopt(px.multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(px.multi, CURLMOPT_SOCKETDATA, &px);
	curl_multi_setopt(px.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(px.multi, CURLMOPT_TIMERDATA, &px);
	/* keep idle upstream connections: libcurl's default cache is 4 per
	 * transfer in progress, so each time few are running it closes
	 * connections that the next burst has to open again */
	curl_multi_setopt(px.multi, CURLMOPT_MAXCONNECTS, 512L);
	evhttp_set_max_body_size(px.http, (ev_ssize_t)(px.max_body * 2 + 1024));
	/* libevent's default is no limit: a client could make the proxy
	 * buffer headers without end. 64 KiB for the request line and all
	 * headers (nginx takes 32 KiB by default, node 16 KiB); more is
	 * refused by libevent with 400 */
	evhttp_set_max_headers_size(px.http, AIRI_MAX_HEADERS);
	evhttp_set_allowed_methods(px.http,
				   EVHTTP_REQ_GET | EVHTTP_REQ_POST |
					   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
					   EVHTTP_REQ_DELETE |
					   EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(px.http, on_request, &px);
	if (otel_listen && !ws)
		px.otel_loc = strdup(loc);
	px.writer = writer_start(ws, loc, px.base, job_done, &px, signer, spool,
				 spool_max, down);
	free(loc);
	if (px.writer && px.jr &&
	    writer_use_journal(px.writer, px.jr, journal_threads(), on_ingested)) {
		fprintf(stderr, "airi proxy: cannot start the journal's threads: "
				"calls wait for the store's commit\n");
		journal_close(px.jr, 0);
		px.jr = NULL;
	}
	px.groups = groups_new(px.base, px.group_idle, submit_group, &px);
	if (otlp_url) {
		px.otlp = forwarder_start(otlp_url, 10, NULL);
		px.otlp_tick = event_new(px.base, -1, EV_PERSIST, otlp_on_tick, &px);
		struct timeval one = {1, 0};
		if (px.otlp_tick)
			event_add(px.otlp_tick, &one);
	}
	/* a deep accept queue (bursts of new connections) and as many file
	 * descriptors as allowed: each call holds two sockets */
	{
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		struct evutil_addrinfo hints, *ai = NULL;
		char portstr[16];
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = EVUTIL_AI_PASSIVE;
		snprintf(portstr, sizeof(portstr), "%d", port);
		struct evconnlistener *l = NULL;
		if (evutil_getaddrinfo(host, portstr, &hints, &ai) == 0 && ai) {
			l = evconnlistener_new_bind(px.base, NULL, NULL,
						    LEV_OPT_REUSEABLE |
							    LEV_OPT_CLOSE_ON_FREE |
							    LEV_OPT_CLOSE_ON_EXEC,
						    4096, ai->ai_addr,
						    (int)ai->ai_addrlen);
			evutil_freeaddrinfo(ai);
		}
		px.sock = l ? evhttp_bind_listener(px.http, l) : NULL;
	}
	const char *owhy = NULL;
	if (otel_listen && px.sock) {
		struct otel_rx_opts oo;
		otel_rx_defaults(&oo);
		oo.listen = otel_listen;
		px.orx = otel_rx_start(px.base, ows, signer, &oo, &owhy);
		if (px.orx && !ows)
			otel_rx_later(px.orx, otel_later, &px);
	}
	if (otel_listen && px.sock && !px.orx) {
		cli_errorf("proxy: cannot listen on %s (--otel-listen): %s",
			   otel_listen, owhy ? owhy : "out of memory");
		status = EXIT_TROUBLE;
	} else if (!px.sock || !px.writer || !px.probe || !px.flush ||
		   (otlp_url && (!px.otlp || !px.otlp_tick))) {
		cli_errorf("proxy: cannot listen on %s: %s", listen,
			   strerror(errno));
		status = EXIT_TROUBLE;
	} else {
		px.sigterm = evsignal_new(px.base, SIGTERM, on_signal, &px);
		px.sigint = evsignal_new(px.base, SIGINT, on_signal, &px);
		event_add(px.sigterm, NULL);
		event_add(px.sigint, NULL);
		fprintf(stderr, "airi proxy: listening on %s\n", listen);
		for (size_t i = 0; i < px.nroutes; i++)
			fprintf(stderr, "airi proxy:   %s%s%s -> %s\n",
				px.routes[i].prefix ? "prefix " : "",
				px.routes[i].prefix ? px.routes[i].prefix
				: px.routes[i].model ? "model " : "default",
				px.routes[i].model ? px.routes[i].model : "",
				px.routes[i].upstream);
		if (otlp_url)
			fprintf(stderr, "airi proxy:   spans to %s\n", otlp_url);
		if (px.orx)
			fprintf(stderr, "airi proxy:   OTLP/HTTP traces on %s\n",
				otel_listen);
		event_base_dispatch(px.base);
		fprintf(stderr, "airi proxy: stopped after %llu calls (%llu "
				"recorded, %llu not recorded)\n",
			(unsigned long long)px.calls,
			(unsigned long long)px.recorded,
			(unsigned long long)px.failed);
	}
	flush_jobs(-1, 0, &px); /* none are left: each holds a call */
	/* the receiver first: its traces sealed, its writer drained */
	otel_rx_free(px.orx, px.orx ? "airi proxy: OTLP receiver" : NULL);
	/* open agent runs are sealed at shutdown, then the writer drains */
	if (px.writer)
		groups_seal_all(px.groups, "shutdown");
	writer_stop(px.writer);
	if (journal_close(px.jr, 1))
		fprintf(stderr, "airi proxy: cannot mark the journal recorded "
				"(%s): the next start checks it again\n",
			strerror(errno));
	spool_close(spool);
	groups_free(px.groups);
	if (px.otlp) { /* the last spans, then at most 5 s to send them */
		otlp_flush(&px);
		forwarder_stop(px.otlp, 5);
	}
	for (size_t i = 0; i < px.otlp_n; i++)
		free(px.otlp_span[i]);
	if (px.otlp_tick)
		event_free(px.otlp_tick);
	if (px.sigterm)
		event_free(px.sigterm);
	if (px.sigint)
		event_free(px.sigint);
	if (px.stop_check)
		event_free(px.stop_check);
	event_free(px.timer);
	if (px.probe)
		event_free(px.probe);
	if (px.flush)
		event_free(px.flush);
	while (px.npool)
		curl_easy_cleanup(px.easy_pool[--px.npool]);
	curl_multi_cleanup(px.multi);
	evhttp_free(px.http);
	event_base_free(px.base);
	curl_global_cleanup();
	airi_store_close(ws);
	airi_store_close(ows);
	airi_store_close(px.otel_store);
	free(px.otel_loc);
	airi_store_close(px.reader);
	airi_key_free(signer);
routes_fail:
	free(otlp_url);
	for (size_t i = 0; i < px.nroutes; i++) {
		free(px.routes[i].prefix);
		free(px.routes[i].model);
		free(px.routes[i].upstream);
	}
	free(px.routes);
	return status;
}
