/*
 * receive.c - `airi otel receive`: an OTLP/HTTP receiver for traces
 * (POST /v1/traces) on libevent's evhttp, like `airi proxy`.
 *
 * One request: the body is read whole (bounded by --max-body, also after
 * gzip decompression, so a small compressed body cannot expand without
 * limit), decoded by Content-Type (application/x-protobuf or
 * application/json; anything else is 415), checked span by span
 * (obatch_check), and every inference span is mapped to a manifest and
 * parsed (its identities computed) and handed to the group-commit writer
 * (writer.c). The reply waits for the transaction that holds the request's
 * runs: a 200 means its runs are durable. The reply is the OTLP one, in the request's encoding:
 *   200 ExportTraceServiceResponse, with partial_success (rejected_spans and
 *       an error message) when some spans could not be taken;
 *   400 google.rpc.Status for a body that does not decode;
 *   413 for a body over the limit (before or after decompression);
 *   415 for another content type or content encoding;
 *   503 (with Retry-After) when the store failed or too much is queued:
 *       the exporter retries, and recording is idempotent.
 * Spans that are not GenAI spans are accepted and not recorded. Agent runs
 * are assembled across requests by trace id (batch.c). With --forward, each
 * accepted request is passed on once its runs are committed (forward.c).
 * Request headers are never recorded, Authorization included.
 */
#define _GNU_SOURCE
#include "otel.h"
#include "../cli/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <zlib.h>

#define MAX_QUEUED 200000 /* runs waiting for the writer before 503 */

struct rx {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct owriter *writer; /* NULL until a store is there (otel_rx_later) */
	airi_key *signer;
	airi_store *(*later)(void *ctx); /* a store, once it can be opened */
	void *later_ctx;
	struct agents *agents;
	struct forwarder *fwd;
	size_t max_body;
	size_t queued; /* manifests handed to the writer, not yet done */
	int inflight;  /* requests not answered yet */
	int stopping;
	struct event *tick;
	uint64_t requests, spans, runs, grouped, rejected, bad, failed;
};

/* one OTLP request waiting for its runs */
struct rq {
	struct rx *rx;
	struct evhttp_request *req;
	struct obatch b;
	char *body; /* the decompressed body, when it was compressed */
	size_t pending;
	size_t rejected;
	int store_failed;
	char why[256]; /* the first reason a span was rejected */
};

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- replies ---------------------------------------------------------------- */

static void send_body(struct evhttp_request *req, int code, const char *reason,
		      int json, char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	evhttp_add_header(h, "Content-Type",
			  json ? "application/json" : "application/x-protobuf");
	if (code == 503 || code == 429)
		evhttp_add_header(h, "Retry-After", "1");
	if (out && body && len)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
	free(body);
}

/* google.rpc.Status codes for the HTTP statuses used */
static int rpc_code(int http)
{
	switch (http) {
	case 503: return 14; /* UNAVAILABLE */
	case 500: return 13; /* INTERNAL */
	case 404:
	case 405: return 12; /* UNIMPLEMENTED */
	default: return 3;   /* INVALID_ARGUMENT */
	}
}

static void send_status(struct evhttp_request *req, int code,
			const char *reason, int json, const char *msg)
{
	size_t len = 0;
	char *body = otlp_status(json, rpc_code(code), msg, &len);
	send_body(req, code, reason, json, body, len);
}

/* ---- the writer's side ---------------------------------------------------- */

static void finish(struct rq *q)
{
	struct rx *rx = q->rx;
	size_t len = 0, fn = 0;
	char *body, *fb = NULL;
	int json = q->b.json, code = 200;
	agents_flush(rx->agents);
	rx->rejected += q->rejected;
	if (q->store_failed) {
		code = 503;
		body = otlp_status(json, rpc_code(503),
				   "the store could not record the runs; retry", &len);
	} else {
		char msg[320] = "";
		if (q->rejected)
			snprintf(msg, sizeof(msg), "%zu span%s rejected: %s", q->rejected,
				 q->rejected == 1 ? "" : "s", q->why);
		body = otlp_response(json, (int64_t)q->rejected, msg, &len);
		if (rx->fwd)
			fb = json ? otlp_json_reencode(&q->b, &fn) : otlp_pb_reencode(&q->b, &fn);
	}
	/* everything read from the request is done with: a JSON batch
	 * points into its body, which the reply releases */
	obatch_free(&q->b);
	free(q->body);
	send_body(q->req, code, code == 200 ? "OK" : "Service Unavailable", json, body, len);
	if (fb)
		forwarder_send(rx->fwd, fb, fn, json);
	free(q);
	rx->inflight--;
}

static void reject(struct rq *q, struct ospan *s, const char *why)
{
	s->reject = why;
	if (!q->rejected++)
		snprintf(q->why, sizeof(q->why), "%s", why);
}

static void job_done(struct owjob *j, void *ctx)
{
	struct rx *rx = ctx;
	rx->queued--;
	if (!j->a) { /* a grouped run */
		if (j->rc) {
			rx->failed++;
			fprintf(stderr, "airi otel: agent run not recorded: %s\n", j->error);
		} else {
			rx->grouped++;
		}
	} else {
		struct rq *q = j->a;
		struct ospan *s = j->b;
		if (!j->rc) {
			s->has_run = 1;
			s->run = j->run;
			s->conditions = j->conditions;
			rx->runs++;
		} else {
			/* the store failed: the exporter retries (recording is
			 * idempotent) */
			q->store_failed = 1;
			rx->failed++;
		}
		agents_model_done(rx->agents, s, j->text, j->len, !j->rc);
		if (--q->pending == 0)
			finish(q);
	}
	owjob_release(j);
	free(j);
}

static void submit_group(char *manifest, size_t len, void *ctx)
{
	struct rx *rx = ctx;
	struct owjob *j = calloc(1, sizeof(*j));
	if (!j) {
		free(manifest);
		return;
	}
	if (owjob_prepare(j, manifest, len)) {
		rx->failed++;
		fprintf(stderr, "airi otel: agent run not recorded: %s\n", j->error);
		owjob_release(j);
		free(j);
		return;
	}
	rx->queued++;
	owriter_submit(rx->writer, j);
}

/* ---- request bodies -------------------------------------------------------- */

/* gzip (one member or several) into at most max bytes; 1 when over the
 * limit, -1 when not gzip */
static int gunzip(const unsigned char *in, size_t n, size_t max, char **out,
		  size_t *outn)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	size_t cap = n * 4 < 65536 ? 65536 : n * 4, len = 0;
	if (cap > max + 1)
		cap = max + 1;
	char *buf = malloc(cap + 1);
	int rc = -1;
	if (!buf)
		goto done;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				rc = 1;
				goto done;
			}
			size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, nc + 1);
			if (!nb)
				goto done;
			buf = nb;
			cap = nc;
		}
		z.next_out = (unsigned char *)buf + len;
		z.avail_out = (uInt)(cap - len);
		int zr = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (len > max) {
			rc = 1;
			goto done;
		}
		if (zr == Z_STREAM_END) {
			if (!z.avail_in)
				break;
			/* another gzip member follows */
			if (inflateReset(&z) != Z_OK)
				goto done;
			continue;
		}
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0))
			goto done;
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0)
			goto done; /* truncated */
	}
	buf[len] = 0;
	*out = buf;
	*outn = len;
	buf = NULL;
	rc = 0;
done:
	inflateEnd(&z);
	free(buf);
	return rc;
}

/* the media type of a Content-Type value: 1 JSON, 0 protobuf, -1 other */
static int media(const char *ct)
{
	if (!ct)
		return -1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, "; \t");
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		return 1;
	if (n == 22 && !strncasecmp(ct, "application/x-protobuf", 22))
		return 0;
	return -1;
}

static void health(struct rx *rx, struct evhttp_request *req)
{
	airi__jw w;
	size_t n;
	uint64_t fs = 0, ff = 0, fd = 0;
	if (rx->fwd)
		forwarder_counts(rx->fwd, &fs, &ff, &fd);
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "agent_runs");
	airi__jw_int(&w, (long long)rx->grouped);
	airi__jw_key(&w, "bad_requests");
	airi__jw_int(&w, (long long)rx->bad);
	airi__jw_key(&w, "forward_dropped");
	airi__jw_int(&w, (long long)fd);
	airi__jw_key(&w, "forward_failed");
	airi__jw_int(&w, (long long)ff);
	airi__jw_key(&w, "forwarded");
	airi__jw_int(&w, (long long)fs);
	airi__jw_key(&w, "not_recorded");
	airi__jw_int(&w, (long long)rx->failed);
	airi__jw_key(&w, "open_traces");
	airi__jw_int(&w, (long long)agents_open(rx->agents));
	airi__jw_key(&w, "rejected_spans");
	airi__jw_int(&w, (long long)rx->rejected);
	airi__jw_key(&w, "requests");
	airi__jw_int(&w, (long long)rx->requests);
	airi__jw_key(&w, "runs");
	airi__jw_int(&w, (long long)rx->runs);
	airi__jw_key(&w, "spans");
	airi__jw_int(&w, (long long)rx->spans);
	airi__jw_key(&w, "status");
	airi__jw_str(&w, rx->stopping ? "stopping" : "ok");
	airi__jw_end_obj(&w);
	char *body = airi__jw_finish(&w, &n);
	send_body(req, 200, "OK", 1, body, body ? n : 0);
}

static void submit_span(struct rx *rx, struct rq *q, struct ospan *s)
{
	size_t len;
	char *m = otel_run_manifest(s, &len);
	struct owjob *j = m ? calloc(1, sizeof(*j)) : NULL;
	if (!j) {
		free(m);
		reject(q, s, "span could not be mapped (out of memory)");
		return;
	}
	if (owjob_prepare(j, m, len)) {
		/* a manifest the mapping could not make valid */
		reject(q, s, "span could not be mapped to a valid manifest");
		owjob_release(j);
		free(j);
		return;
	}
	j->a = q;
	j->b = s;
	q->pending++;
	rx->queued++;
	agents_add(rx->agents, s, 1);
	owriter_submit(rx->writer, j);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct rx *rx = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t plen = uri ? strcspn(uri, "?#") : 0;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	int json = media(evhttp_find_header(ih, "Content-Type"));
	char err[300];

	if (plen == 15 && !strncmp(uri, "/airi/v1/health", 15) && cmd == EVHTTP_REQ_GET) {
		health(rx, req);
		return;
	}
	if (!(plen == 10 && !strncmp(uri, "/v1/traces", 10))) {
		send_status(req, 404, "Not Found", json != 0,
			    "not an OTLP traces endpoint: POST /v1/traces");
		return;
	}
	if (cmd != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		send_status(req, 405, "Method Not Allowed", json != 0,
			    "POST /v1/traces only");
		return;
	}
	rx->requests++;
	if (json < 0) {
		rx->bad++;
		send_status(req, 415, "Unsupported Media Type", 1,
			    "Content-Type must be application/x-protobuf or application/json");
		return;
	}
	if (rx->stopping || rx->queued > MAX_QUEUED) {
		send_status(req, 503, "Service Unavailable", json,
			    rx->stopping ? "shutting down" : "too many runs queued; retry");
		return;
	}
	if (!rx->writer && rx->later) {
		/* started without its store (airi proxy during an outage):
		 * try again now; until it opens, OTLP's retryable answer */
		airi_store *ws = rx->later(rx->later_ctx);
		if (ws && !(rx->writer = owriter_start(ws, rx->base, job_done, rx,
						       rx->signer)))
			airi_store_close(ws);
	}
	if (!rx->writer) {
		send_status(req, 503, "Service Unavailable", json,
			    "the store is unreachable; retry later");
		return;
	}
	const char *enc = evhttp_find_header(ih, "Content-Encoding");
	int gz = 0;
	if (enc && *enc && strcasecmp(enc, "identity")) {
		if (strcasecmp(enc, "gzip")) {
			rx->bad++;
			send_status(req, 415, "Unsupported Media Type", json,
				    "Content-Encoding must be gzip or identity");
			return;
		}
		gz = 1;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n > rx->max_body) {
		rx->bad++;
		snprintf(err, sizeof(err), "request body larger than %zu bytes", rx->max_body);
		send_status(req, 413, "Content Too Large", json, err);
		return;
	}
	const unsigned char *raw = n ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	struct rq *q = calloc(1, sizeof(*q));
	if (!q || (n && !raw)) {
		free(q);
		send_status(req, 500, "Internal Server Error", json, "out of memory");
		return;
	}
	q->rx = rx;
	q->req = req;
	q->b.json = json;
	const char *body = (const char *)raw;
	if (gz) {
		int zr = gunzip(raw, n, rx->max_body, &q->body, &n);
		if (zr) {
			rx->bad++;
			if (zr > 0) {
				snprintf(err, sizeof(err),
					 "request body larger than %zu bytes after gzip decompression",
					 rx->max_body);
				send_status(req, 413, "Content Too Large", json, err);
			} else {
				send_status(req, 400, "Bad Request", json,
					    "Content-Encoding is gzip but the body is not valid gzip");
			}
			free(q);
			return;
		}
		body = q->body;
	}
	int too_big = 0;
	int rc = json ? otlp_json_decode(body, n, &q->b, err, sizeof(err), &too_big)
		      : otlp_pb_decode((const unsigned char *)body, n, &q->b, err,
				       sizeof(err), &too_big);
	if (rc) {
		rx->bad++;
		if (too_big)
			send_status(req, 413, "Content Too Large", json, err);
		else
			send_status(req, 400, "Bad Request", json, err);
		obatch_free(&q->b);
		free(q->body);
		free(q);
		return;
	}
	rx->inflight++;
	rx->spans += q->b.n;
	obatch_check(&q->b);
	for (size_t i = 0; i < q->b.n; i++) {
		struct ospan *s = &q->b.spans[i];
		if (s->reject && !q->rejected++)
			snprintf(q->why, sizeof(q->why), "%s", s->reject);
	}
	/* roots last: a trace is sealed only once the rest of it is in */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < q->b.n; i++) {
			struct ospan *s = &q->b.spans[i];
			if (s->reject || s->root != pass)
				continue;
			if (s->cls == SC_INFERENCE)
				submit_span(rx, q, s);
			else
				agents_add(rx->agents, s, 0);
		}
	if (!q->pending)
		finish(q);
}

/* ---- timers, the receiver's life ------------------------------------------ */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rx *rx = arg;
	(void)fd;
	(void)what;
	agents_tick(rx->agents, now_ms());
}

struct rx *otel_rx_start(struct event_base *base, airi_store *ws,
			 airi_key *signer, const struct otel_rx_opts *o,
			 const char **why)
{
	struct rx *rx = calloc(1, sizeof(*rx));
	char host[256];
	int port = 0;
	const char *colon = strrchr(o->listen, ':');
	*why = "out of memory";
	if (!rx)
		return NULL;
	rx->base = base;
	rx->max_body = o->max_body;
	if (!colon || (size_t)(colon - o->listen) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535) {
		*why = "not HOST:PORT";
		free(rx);
		return NULL;
	}
	memcpy(host, o->listen, (size_t)(colon - o->listen));
	host[colon - o->listen] = 0;
	rx->http = evhttp_new(base);
	if (!rx->http) {
		free(rx);
		return NULL;
	}
	/* bodies over the limit get the OTLP 413 from on_request; far beyond
	 * it libevent refuses them itself */
	evhttp_set_max_body_size(rx->http, (ev_ssize_t)(rx->max_body * 2 + 1024));
	evhttp_set_max_headers_size(rx->http, AIRI_MAX_HEADERS); /* as the proxy */
	evhttp_set_allowed_methods(rx->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
						     EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
						     EVHTTP_REQ_PATCH);
	evhttp_set_gencb(rx->http, on_request, rx);
	rx->signer = signer;
	rx->writer = ws ? owriter_start(ws, base, job_done, rx, signer) : NULL;
	rx->agents = agents_new(o->group_idle, o->max_traces, submit_group, rx);
	if (o->forward)
		rx->fwd = forwarder_start(o->forward, o->forward_timeout,
					  o->forward_headers);
	{
		struct evutil_addrinfo hints, *ai = NULL;
		char portstr[16];
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = EVUTIL_AI_PASSIVE;
		snprintf(portstr, sizeof(portstr), "%d", port);
		struct evconnlistener *l = NULL;
		if (evutil_getaddrinfo(host, portstr, &hints, &ai) == 0 && ai) {
			l = evconnlistener_new_bind(base, NULL, NULL,
						    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
							    LEV_OPT_CLOSE_ON_EXEC,
						    1024, ai->ai_addr, (int)ai->ai_addrlen);
			evutil_freeaddrinfo(ai);
		}
		if (!l)
			*why = strerror(errno);
		rx->sock = l ? evhttp_bind_listener(rx->http, l) : NULL;
	}
	rx->tick = event_new(base, -1, EV_PERSIST, on_tick, rx);
	if (!rx->sock || (ws && !rx->writer) || !rx->agents || (o->forward && !rx->fwd) ||
	    !rx->tick) {
		if (rx->sock)
			*why = "out of memory";
		otel_rx_free(rx, NULL);
		return NULL;
	}
	struct timeval one = {1, 0};
	event_add(rx->tick, &one);
	return rx;
}

void otel_rx_later(struct rx *rx, airi_store *(*later)(void *ctx), void *ctx)
{
	rx->later = later;
	rx->later_ctx = ctx;
}

void otel_rx_stop(struct rx *rx)
{
	if (!rx || rx->stopping)
		return;
	rx->stopping = 1;
	if (rx->sock) {
		evhttp_del_accept_socket(rx->http, rx->sock);
		rx->sock = NULL;
	}
}

int otel_rx_inflight(const struct rx *rx)
{
	return rx ? rx->inflight : 0;
}

void otel_rx_free(struct rx *rx, const char *who)
{
	if (!rx)
		return;
	/* open traces are sealed at shutdown, then the writer drains */
	if (rx->writer)
		agents_seal_all(rx->agents, "shutdown");
	owriter_stop(rx->writer);
	agents_free(rx->agents);
	if (rx->fwd)
		forwarder_stop(rx->fwd, 5);
	if (who)
		fprintf(stderr,
			"%s: stopped after %llu requests, %llu spans (%llu runs, "
			"%llu agent runs recorded; %llu spans rejected, %llu bad requests)\n",
			who, (unsigned long long)rx->requests, (unsigned long long)rx->spans,
			(unsigned long long)rx->runs, (unsigned long long)rx->grouped,
			(unsigned long long)rx->rejected, (unsigned long long)rx->bad);
	if (rx->tick)
		event_free(rx->tick);
	if (rx->http)
		evhttp_free(rx->http);
	free(rx);
}

/* ---- the command ------------------------------------------------------------ */

struct rxmain {
	struct event_base *base;
	struct rx *rx;
	struct event *stop_check;
};

static void maybe_exit(evutil_socket_t fd, short what, void *arg)
{
	struct rxmain *m = arg;
	(void)fd;
	(void)what;
	if (!otel_rx_inflight(m->rx)) {
		event_base_loopexit(m->base, NULL);
		return;
	}
	struct timeval tv = {0, 50000};
	evtimer_add(m->stop_check, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct rxmain *m = arg;
	(void)what;
	if (m->rx->stopping)
		return;
	fprintf(stderr, "airi otel: %s: finishing %d request%s in flight\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT", m->rx->inflight,
		m->rx->inflight == 1 ? "" : "s");
	otel_rx_stop(m->rx);
	m->stop_check = evtimer_new(m->base, maybe_exit, m);
	maybe_exit(-1, 0, m);
}

static int number_opt(const struct args *a, const char *name, unsigned long long max,
		      unsigned long long def, unsigned long long *out)
{
	const char *v = cli_val(a, name);
	char *end;
	*out = def;
	if (!v)
		return 0;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || *v == '-' || errno || x == 0 || x > max) {
		cli_errorf("otel receive: --%s needs a positive number, not \"%s\"", name, v);
		return -1;
	}
	*out = x;
	return 0;
}

void otel_rx_defaults(struct otel_rx_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:4318";
	o->max_body = (size_t)20 << 20;
	o->group_idle = 30;
	o->max_traces = 100000;
	o->forward_timeout = 10;
}

int otel_listen_ok(const char *listen)
{
	const char *colon = strrchr(listen, ':');
	int port;
	return colon && colon - listen < 256 && (port = atoi(colon + 1)) > 0 &&
	       port <= 65535;
}

int cmd_otel(struct args *a)
{
	struct rxmain m;
	struct otel_rx_opts o;
	int status = 0;
	unsigned long long max_body, idle, max_traces, fwd_timeout;
	memset(&m, 0, sizeof(m));
	otel_rx_defaults(&o);
	if (a->npos >= 1 && !strcmp(a->pos[0], "export"))
		return otel_export_cmd(a);
	if (a->npos < 1 || strcmp(a->pos[0], "receive")) {
		cli_errorf(a->npos ? "otel: unknown subcommand \"%s\" (expected receive or export)"
				   : "otel: expected a subcommand: receive or export",
			   a->npos ? a->pos[0] : "");
		return EXIT_USAGE;
	}
	if (cli_opt(a, "to") || cli_opt(a, "json")) {
		cli_errorf("otel receive: --%s is an option of otel export",
			   cli_opt(a, "to") ? "to" : "json");
		return EXIT_USAGE;
	}
	if (a->npos > 1) {
		cli_errorf("otel receive: unexpected argument \"%s\"", a->pos[1]);
		return EXIT_USAGE;
	}
	if (cli_val(a, "listen"))
		o.listen = cli_val(a, "listen");
	o.forward = cli_val(a, "forward");
	if (number_opt(a, "max-body", 1ull << 32, 20ull << 20, &max_body) ||
	    number_opt(a, "group-idle", 86400, 30, &idle) ||
	    number_opt(a, "max-traces", 10000000, 100000, &max_traces) ||
	    number_opt(a, "forward-timeout", 3600, 10, &fwd_timeout))
		return EXIT_USAGE;
	if (o.forward && strncmp(o.forward, "http://", 7) && strncmp(o.forward, "https://", 8)) {
		cli_errorf("otel receive: --forward must be an http:// or https:// URL");
		return EXIT_USAGE;
	}
	o.forward_headers = cli_val(a, "forward-header");
	if (cli_opt(a, "forward-header") > 1) {
		cli_errorf("otel receive: give --forward-header once, its headers on separate lines");
		return EXIT_USAGE;
	}
	if (o.forward_headers && !o.forward) {
		cli_errorf("otel receive: --forward-header needs --forward");
		return EXIT_USAGE;
	}
	if (o.forward_headers) {
		char herr[200];
		if (forward_header_check(o.forward_headers, herr, sizeof(herr))) {
			/* the message names the line, never a value */
			cli_errorf("otel receive: --forward-header: %s", herr);
			return EXIT_USAGE;
		}
	}
	if (!otel_listen_ok(o.listen)) {
		cli_errorf("otel receive: --listen wants HOST:PORT, not \"%s\"", o.listen);
		return EXIT_USAGE;
	}
	o.max_body = (size_t)max_body;
	o.group_idle = (int)idle;
	o.max_traces = (size_t)max_traces;
	o.forward_timeout = (long)fwd_timeout;

	airi_store *ws = cli_store(a, AIRI_STORE_CREATE, &status);
	if (!ws)
		return status;
	airi_key *signer = cli_signer(a, 0, &status);
	if (status) {
		airi_store_close(ws);
		return status;
	}
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m.base = event_base_new();
	const char *why = "out of memory";
	m.rx = m.base ? otel_rx_start(m.base, ws, signer, &o, &why) : NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	if (!m.rx) {
		cli_errorf("otel receive: cannot listen on %s: %s", o.listen, why);
		status = EXIT_TROUBLE;
	} else {
		sigterm = evsignal_new(m.base, SIGTERM, on_signal, &m);
		sigint = evsignal_new(m.base, SIGINT, on_signal, &m);
		event_add(sigterm, NULL);
		event_add(sigint, NULL);
		fprintf(stderr, "airi otel: listening on %s\n", o.listen);
		if (o.forward)
			fprintf(stderr, "airi otel:   forwarding to %s%s\n", o.forward,
				o.forward_headers ? " (with --forward-header)" : "");
		event_base_dispatch(m.base);
		otel_rx_free(m.rx, "airi otel");
	}
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (m.stop_check)
		event_free(m.stop_check);
	if (m.base)
		event_base_free(m.base);
	curl_global_cleanup();
	airi_store_close(ws);
	airi_key_free(signer);
	return status;
}
