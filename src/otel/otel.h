/*
 * otel.h - `airi otel receive`: OTLP/HTTP traces in, runs out.
 *
 * The parts:
 *  - a common in-memory span model (this file) that both decoders fill:
 *    otlp_pb.c (application/x-protobuf, through protobuf-c and the message
 *    definitions in proto/) and otlp_json.c (application/json, through the
 *    library's strict JSON parser);
 *  - mapping.c: one span's attributes (GenAI semantic conventions,
 *    OpenInference, provider-specific ones) to a run manifest, or to one
 *    trajectory step of an agent run (docs/otel-mapping.md is the
 *    reference; keep the two in step);
 *  - batch.c: the checks a batch gets before mapping (ids, duplicates,
 *    cyclic parent links) and the agent runs assembled across batches,
 *    keyed by trace id;
 *  - receive.c: the HTTP server (libevent evhttp), gzip, the OTLP responses,
 *    the group-commit writer and the command;
 *  - forward.c: --forward URL, every accepted batch passed on to another
 *    OTLP endpoint with airi.run.id / airi.conditions.id added.
 * Nothing here trusts its input: every decoder bounds what it allocates,
 * every walk over parent links is cycle-safe.
 */
#ifndef AIRI_OTEL_H
#define AIRI_OTEL_H

#include "airi.h"
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------------- */

/* A bump allocator: everything decoded from one request lives in it and is
 * freed at once. Allocation failure (or the budget) sets `failed`. */
struct arena {
	struct arena_chunk *head;
	size_t used;   /* bytes handed out, all chunks */
	size_t budget; /* 0: none */
	int failed;
};
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_free(struct arena *a);

/* ---- span model ----------------------------------------------------------- */

enum ov_type {
	OV_EMPTY, /* an AnyValue with no member set */
	OV_STRING,
	OV_BOOL,
	OV_INT,
	OV_DOUBLE,
	OV_ARRAY,
	OV_KVLIST,
	OV_BYTES
};

struct okv;

/* One attribute value (OTLP AnyValue). Strings and bytes point into the
 * decoded request (or the arena); they are valid UTF-8 (strings) and may
 * hold NUL bytes. */
struct ov {
	uint8_t type;
	union {
		struct {
			const char *p;
			size_t n;
		} s; /* OV_STRING, OV_BYTES */
		int b;
		int64_t i;
		double d;
		struct {
			struct ov *v;
			size_t n;
		} a; /* OV_ARRAY */
		struct {
			struct okv *kv;
			size_t n;
		} kv; /* OV_KVLIST */
	} u;
};

struct okv {
	const char *k;
	size_t kn;
	struct ov v;
};

struct oattrs {
	struct okv *kv;
	size_t n;
};

struct oevent {
	uint64_t time;
	const char *name;
	size_t nn;
	struct oattrs attrs;
};

struct oresource {
	struct oattrs attrs;
};

struct oscope {
	const char *name, *version;
	size_t nn, vn;
};

struct ospan {
	unsigned char trace[16], id[8], parent[8];
	/* lengths as received (valid: 16, 8, and 0 or 8) */
	size_t trace_len, id_len, parent_len;
	const char *name;
	size_t nn;
	int kind; /* OTLP SpanKind */
	uint64_t start, end; /* Unix ns */
	struct oattrs attrs;
	struct oevent *ev;
	size_t nev;
	int status; /* 0 unset, 1 ok, 2 error */
	const char *smsg;
	size_t smn;
	const struct oresource *res;
	const struct oscope *scope;
	/* where the span came from, for --forward: the protobuf-c Span or the
	 * JSON object (an airi_value) */
	const void *src;
	/* filled by the checks and the mapping */
	const char *reject; /* why the span was rejected, or NULL */
	int cls;            /* enum span_class */
	int root;           /* no parent: the trace's local root */
	int has_run;
	airi_digest run, conditions;
};

struct obatch {
	struct arena ar;
	struct ospan *spans;
	size_t n, cap;
	int json;
	/* what owns the decoded strings */
	void *pb;         /* the unpacked protobuf-c request */
	int pb_in_arena;  /* ... allocated in ar (nothing to free alone) */
	airi_json *doc;   /* the parsed JSON request */
	const char *text; /* the (decompressed) body the JSON points into */
	size_t text_len;
};

/* Limits (docs/otel-mapping.md, section 2). */
#define OTEL_MAX_SPANS 100000         /* spans in one request */
#define OTEL_MAX_DEPTH 128            /* nested protobuf messages */
#define OTEL_DECODE_BUDGET ((size_t)512 << 20) /* decoded bytes */

/* Decoders. On failure they return -1 with an English message in err (for
 * the 400 response) and leave b holding nothing to free but itself (call
 * obatch_free anyway). *too_big is set when a limit, not malformed input,
 * refused the body (answered 413). */
int otlp_pb_decode(const unsigned char *p, size_t n, struct obatch *b,
		   char *err, size_t errcap, int *too_big);
int otlp_json_decode(const char *p, size_t n, struct obatch *b, char *err,
		     size_t errcap, int *too_big);
void obatch_free(struct obatch *b);
/* frees an unpacked protobuf-c request (obatch_free calls it) */
void otlp_pb_release(void *pb);

/* Responses: the body of a 200 (ExportTraceServiceResponse, partial
 * success when rejected > 0 or msg is given) and of an error (a
 * google.rpc.Status), in the request's encoding. free() the result. */
char *otlp_response(int json, int64_t rejected, const char *msg, size_t *len);
char *otlp_status(int json, int code, const char *msg, size_t *len);

/* For --forward: the request again with airi.run.id and airi.conditions.id
 * added to every span with has_run set; the rest unchanged (protobuf:
 * re-encoded by protobuf-c, unknown fields kept; JSON: the received text
 * with the attributes spliced in). free() the result. */
char *otlp_pb_reencode(struct obatch *b, size_t *len);
char *otlp_json_reencode(const struct obatch *b, size_t *len);

/* ---- helpers shared by the decoders and the mapping (model.c) --------- */

/* length of the valid UTF-8 prefix; == n when all of it is valid */
size_t otel_utf8_valid(const char *s, size_t n);
const struct ov *oattr(const struct oattrs *a, const char *key);
/* a string attribute (NULL when absent or not a string) */
const char *oattr_str(const struct oattrs *a, const char *key, size_t *n);
void otel_hex(const unsigned char *p, size_t n, char *out);

/* ---- mapping (mapping.c) -------------------------------------------------- */

enum span_class {
	SC_OTHER,     /* not a GenAI span: accepted, not recorded */
	SC_INFERENCE, /* a model call: one run */
	SC_TOOL,      /* execute_tool / OpenInference TOOL */
	SC_RETRIEVAL, /* retrieval / OpenInference RETRIEVER, RERANKER */
	SC_AGENT      /* invoke_agent, create_agent / OpenInference AGENT */
};

int otel_classify(const struct ospan *s);
/* The manifest text of an inference span (any valid JSON manifest; the
 * writer canonicalizes it). NULL only when out of memory. */
char *otel_run_manifest(const struct ospan *s, size_t *len);
/* The trajectory step of a tool, retrieval or agent span (JSON text). */
char *otel_step(const struct ospan *s, size_t *len);
/* The agent section of an agent span ({"description","id","name"}), or
 * NULL when it names no agent. */
char *otel_agent_section(const struct ospan *s, size_t *len);
/* Writes an attribute value as JSON (see docs/otel-mapping.md 3.1). */
void otel_value_json(airi__jw *w, const struct ov *v);

/* ---- batches and agent runs (batch.c) ----------------------------------- */

/* Checks every span (trace and span ids, duplicates within the request,
 * cyclic parent links), sets reject, cls and root. Returns the number of
 * rejected spans. Linear-logarithmic, cycle-safe. */
size_t obatch_check(struct obatch *b);

struct agents;
/* submit: hands a grouped run's manifest text to the writer (owned by the
 * callee). idle_s: a trace with no new span for this long is sealed. */
struct agents *agents_new(int idle_s, size_t max_open,
			  void (*submit)(char *manifest, size_t len, void *ctx),
			  void *ctx);
void agents_free(struct agents *as);
/* A span of a trace that may be part of an agent run (any class but
 * SC_OTHER, or a local root). Steps of tool, retrieval and agent spans are
 * taken now; a model call is announced with pending = 1 and completed by
 * agents_model_done once its run is committed. */
void agents_add(struct agents *as, const struct ospan *s, int pending);
/* The committed run of an inference span (manifest: its text, copied when
 * needed); ok = 0 when it could not be recorded. */
void agents_model_done(struct agents *as, const struct ospan *s,
		       const char *manifest, size_t len, int ok);
/* Seals the traces whose root was seen and whose runs are all committed. */
void agents_flush(struct agents *as);
/* Seals traces idle for idle_s seconds (now in Unix ms). */
void agents_tick(struct agents *as, int64_t now_ms);
void agents_seal_all(struct agents *as, const char *why);
size_t agents_open(const struct agents *as);

/* ---- group commit (writer.c) -------------------------------------------- */

/* One run to record. The manifest is parsed (and its identities computed)
 * by owjob_prepare on the caller's thread; the writer only stores it. */
struct owjob {
	char *text; /* the manifest text (owned; the parsed manifest borrows it) */
	size_t len;
	airi_manifest *m;
	int rc;          /* 0, or why it was not recorded */
	char error[256];
	airi_digest run, conditions;
	void *a, *b; /* for the caller */
	struct owjob *next;
};
/* Takes text over; 0, or the parse error (rc and error set). */
int owjob_prepare(struct owjob *j, char *text, size_t len);
void owjob_release(struct owjob *j);
struct owriter;
struct event_base;
struct owriter *owriter_start(airi_store *s, struct event_base *base,
			      void (*done)(struct owjob *job, void *ctx), void *ctx,
			      airi_key *signer);
void owriter_submit(struct owriter *w, struct owjob *job);
/* Finishes every submitted job (done() called for each) and stops. */
void owriter_stop(struct owriter *w);

/* ---- forwarding (forward.c) ----------------------------------------------- */

struct forwarder;
/* headers: --forward-header, "Name: value" lines separated by newlines
 * (sent with every request, never printed), or NULL */
struct forwarder *forwarder_start(const char *url, long timeout_s,
				  const char *headers);
/* 0 when every non-empty line of a --forward-header value is "Name: value"
 * (and not a header airi sets); else -1 with a message naming the line and
 * at most the header's name, never its value */
int forward_header_check(const char *lines, char *err, size_t errcap);
/* Queues one body (taken over, freed by the forwarder). Returns -1 when the
 * queue is full (the body is then dropped and freed). */
int forwarder_send(struct forwarder *f, char *body, size_t len, int json);
/* Sends what is queued (waiting at most drain_s seconds), stops. */
void forwarder_stop(struct forwarder *f, long drain_s);
void forwarder_counts(struct forwarder *f, uint64_t *sent, uint64_t *failed,
		      uint64_t *dropped);

/* ---- the receiver (receive.c) ------------------------------------------- */

/* The OTLP/HTTP receiver of `airi otel receive`, also run inside `airi
 * proxy --otel-listen` on the proxy's event base. It listens on its own
 * port (with its own GET /airi/v1/health) and records through its own
 * group-commit writer thread on the store connection it is given (a store
 * connection belongs to one thread: the proxy opens one for it). */
struct otel_rx_opts {
	const char *listen; /* HOST:PORT */
	const char *forward; /* URL or NULL */
	size_t max_body;
	int group_idle;
	size_t max_traces;
	long forward_timeout;
	const char *forward_headers; /* --forward-header, or NULL */
};
struct rx;
void otel_rx_defaults(struct otel_rx_opts *o);
/* 1 when listen looks like HOST:PORT */
int otel_listen_ok(const char *listen);
/* NULL with *why set when it cannot listen (or start its threads) */
struct rx *otel_rx_start(struct event_base *base, airi_store *ws,
			 airi_key *signer, const struct otel_rx_opts *o,
			 const char **why);
/* Started with ws NULL (its store unreachable), the receiver answers
 * POST /v1/traces with 503 (OTLP's retryable status) and calls later on
 * each request until it returns a store (given to the receiver: its writer
 * thread starts then). */
void otel_rx_later(struct rx *rx, airi_store *(*later)(void *ctx), void *ctx);
/* Stops accepting connections; new requests on open ones get 503. */
void otel_rx_stop(struct rx *rx);
/* requests not answered yet */
int otel_rx_inflight(const struct rx *rx);
/* Seals open traces, drains the writer and the forwarder, frees; with who,
 * prints the counters to stderr as "WHO: stopped after ...". */
void otel_rx_free(struct rx *rx, const char *who);

/* ---- the way out (export.c) ---------------------------------------------- */

/* One run as one OTLP/JSON Span object (GenAI semantic conventions, section
 * 13 of docs/otel-mapping.md): identities and content digests, never
 * contents. */
int otel_export_span(airi__jw *w, const airi_manifest *m);
struct args;
/* `airi otel export` (export_cmd.c) */
int otel_export_cmd(struct args *a);
/* The same as text (free()), NULL when out of memory. */
char *otel_export_span_text(const airi_manifest *m, size_t *len);
/* An ExportTraceServiceRequest (OTLP/JSON, resource service.name "airi",
 * scope "airi") holding the given span texts. free() the result. */
char *otel_export_request(char *const *spans, const size_t *lens, size_t n,
			  size_t *len);

#endif
