/*
 * proxy.h - the parts of `airi proxy`: the HTTP front (server.c, libevent
 * for the client side, libcurl for the upstream side), the capture rules
 * that turn one API call into a manifest (capture.c, see
 * docs/proxy-mapping.md), the streaming assemblers (sse.c), and the group
 * commit writer thread (writer.c).
 */
#ifndef AIRI_PROXY_H
#define AIRI_PROXY_H

#include "airi.h"
#include "internal.h"

#include <stdint.h>

enum api {
	API_NONE,  /* passed through, not recorded */
	API_CHAT,  /* OpenAI chat completions */
	API_COMPLETIONS,
	API_RESPONSES,
	API_EMBEDDINGS,
	API_MESSAGES /* Anthropic messages */
};

enum api proxy_api_of(const char *method, const char *path);

/* What the proxy knows about one call when it is over. */
struct capture {
	enum api api;
	const char *endpoint;      /* request path */
	const char *upstream;      /* base URL */
	const char *req_body;      /* raw request body */
	size_t req_len;
	const char *resp_body;     /* raw (decoded) response body, or the
				    * assembled output for streams */
	size_t resp_len;
	int resp_assembled;        /* resp_body is an assembled JSON output */
	int status;                /* HTTP status from upstream, 0 if none */
	int stream;
	int attempt;
	int64_t t_start, t_first, t_end; /* Unix ms; t_first 0 if none */
	const char *request_id;    /* upstream request id header, or NULL */
	const char *api_version;   /* anthropic-version / openai-version */
	const char *ended;         /* "complete", "client_disconnected", ... */
	const char *user_agent;
	const char *call_id; /* unique per call: two identical calls in the
			      * same millisecond are still two runs */
	const char *reproduces; /* airi reproduce: the run ID this call
				 * re-executes (meta.reproduces), or NULL */
};

/* Builds the manifest text of a captured call. Never fails on odd input:
 * what cannot be parsed is recorded as such (digest of the raw bytes).
 * Free with free(). */
char *proxy_manifest(const struct capture *c, size_t *len);

/* The top-level request members that are not params for an API (they go
 * to model, system, input, tools or meta), NULL-terminated: the exclusion
 * lists of docs/proxy-mapping.md section 5. */
const char *const *proxy_not_params(enum api api);

/* Streaming assembly: feed each SSE event's data; get the output JSON. */
struct assembler;
struct assembler *asm_new(enum api api);
void asm_free(struct assembler *a);
/* Cuts the complete events (each ending in a blank line, "\n\n" or
 * "\r\n\r\n") off the front of buf, calling fn for each in order, and
 * keeps the rest; returns how many. */
size_t sse_split(airi__buf *buf, void (*fn)(void *ctx, const char *ev, size_t n),
		 void *ctx);
/* Appends an event's data lines to data, joined with "\n" (one space
 * after "data:" dropped); 1 when they are exactly "[DONE]". */
int sse_data(const char *ev, size_t n, airi__buf *data);
void asm_event(struct assembler *a, const char *event, const char *data,
	       size_t n);
/* The assembled output as JSON text (free()), and the resolved model /
 * fingerprint / id seen in the stream (valid until asm_free). */
char *asm_output(struct assembler *a, size_t *len);
/* The stream's envelope as seen so far (NULL when not seen). */
void asm_envelope(struct assembler *a, const char **id, const char **model,
		  const char **fingerprint, long long *created);

struct journal; /* journal.c, below */
struct journal_stats {
	uint64_t size, used, records, full, failed;
	int direct;
};

/* The group-commit writer: jobs are recorded by one thread, many per
 * transaction; done() runs on the event loop thread afterwards. */
struct writer;
struct writer_job {
	char *manifest;
	size_t len;
	/* when manifest is NULL: builds it, on the writer thread (the
	 * capture's inputs must not change until the job is done) */
	char *(*build)(struct writer_job *j, size_t *len);
	char run_key[40];
	/* filled by the writer */
	int rc;
	char error[256];
	airi_digest run, conditions;
	void *call;  /* opaque for the server */
	void *reply; /* a request waiting for this job's identity (seal) */
	char group[136]; /* the agent run the call belongs to, or "" */
	int seal_after;  /* Airi-Seal: true on the call */
	airi_manifest *parsed; /* the writer's, while it records the job */
	/* a run already in the journal, to record in the store: nobody waits
	 * for it (its own copy of the manifest; parsed is set) */
	int journaled;
	uint32_t region;
	struct writer_job *next;
};
struct event_base;
struct spool;
/* s: the store (the caller keeps it and closes it after writer_stop), or
 * NULL when it could not be opened: then location is its location, why
 * the reason, and the writer opens it itself, with a backoff, spooling
 * every run until then (a spool is required). spool: the outage spool
 * (spool.c) or NULL; spool_max: its size in bytes beyond which
 * writer_spool_full() says so. NULL on failure. */
struct writer *writer_start(airi_store *s, const char *location,
			    struct event_base *base,
			    void (*done)(struct writer_job *job, void *ctx),
			    void *ctx, airi_key *signer, struct spool *spool,
			    uint64_t spool_max, const char *why);
void writer_submit(struct writer *w, struct writer_job *job);
/* Submits a list of jobs linked by next, in order, with one wake-up. */
void writer_submit_list(struct writer *w, struct writer_job *jobs);
/* Transactions so far, the runs in them, and how long a batch took from
 * being taken to being committed (p50/p99 as powers of two, in µs). */
struct writer_stats {
	uint64_t batches, jobs, p50_us, p99_us, max_us;
	/* the outage spool: runs and bytes not yet delivered, and its state
	 * ("empty", "draining", "spooling"; NULL when there is no spool) */
	uint64_t spool_runs, spool_bytes;
	const char *spool_state;
	/* the store: "ok", "unavailable" (its last transaction failed) or
	 * "reconnecting" (not opened since the proxy started); why it
	 * failed last ("" when it did not), and the attempts to open it */
	const char *store_state;
	char store_error[256];
	unsigned store_attempts;
	/* the journal, when there is one: its stats, runs not in the store
	 * yet, and calls that waited for a store commit instead (no room in
	 * the journal, or it failed) */
	int journal;
	struct journal_stats js;
	uint64_t j_pending, j_fallbacks;
};
void writer_stats(struct writer *w, struct writer_stats *st);
/* With a journal (journal.c, recovered already): each job's run is
 * written there by one of `threads` threads, and the job handed back as
 * soon as that write is durable; the writer thread records the run in the
 * store afterwards. Call before the first submission. ingested(ctx) runs
 * on the event loop thread after journaled runs have been recorded. */
int writer_use_journal(struct writer *w, struct journal *jr, int threads,
		       void (*ingested)(void *ctx));
/* Journaled runs handed back so far, and those of them the writer thread
 * is done with (recorded, or failed and left in the journal). */
void writer_journal_counts(struct writer *w, uint64_t *acked, uint64_t *done);
/* The reader connection the writer opened along with the store when the
 * proxy started without one, once (the caller closes it); else NULL. */
airi_store *writer_take_reader(struct writer *w);
/* Finishes every submitted job and stops the thread. */
void writer_stop(struct writer *w);
/* The spool holds more than its maximum: new calls are refused (503). */
int writer_spool_full(struct writer *w);

/* All of n bytes read (write 0) or written (1) at offset at, retrying
 * short transfers and EINTR; -1 with errno, EIO at the end of the file. */
int proxy_pio(int fd, void *buf, size_t n, uint64_t at, int write);

/* The outage spool (spool.c), used by the writer thread only: DIR/spool
 * holds the manifests that could not be committed, DIR/offset how far
 * they have been delivered, DIR/lock keeps a second proxy out. */
struct spool_rec {
	char *text; /* malloc'ed, NUL-terminated */
	size_t len;
	char key[40]; /* run key, or "" */
	uint64_t seq; /* the journal's sequence number (journal.c) */
};
/* Creates DIR when missing; NULL with a message in msg on failure. */
struct spool *spool_open(const char *dir, char *msg, size_t msgn);
void spool_close(struct spool *sp);
uint64_t spool_runs(const struct spool *sp);
uint64_t spool_bytes(const struct spool *sp);
/* Appends the jobs' manifests (and run keys) and fdatasyncs; -1 (errno)
 * when that failed, and then nothing was appended. */
int spool_append(struct spool *sp, struct writer_job *const *jobs, size_t n);
/* Up to max records from the delivered offset; *end is the offset after
 * them. The caller frees each text. */
int spool_peek(struct spool *sp, size_t max, struct spool_rec *recs,
	       size_t *n, uint64_t *end);
/* The n records before end are delivered (durably). */
int spool_advance(struct spool *sp, uint64_t end, size_t n);
/* Records n spooled (or journaled) records in the store, with their run
 * keys, in one transaction; recording a run that is there records
 * nothing. 0, or the error (the transaction rolled back). */
int spool_record(airi_store *s, const struct spool_rec *recs, size_t n,
		 airi_error *err);

/* The acknowledgement journal (journal.c): runs are durable once written
 * there, and recorded in the store afterwards. Thread-safe. */
struct journal;
struct journal_item {
	const char *text; /* the manifest */
	size_t len;
	const char *key;  /* run key, "" for none */
	airi_digest run;  /* the manifest's run ID */
	uint32_t region;  /* set by journal_write, for journal_release */
};
struct journal_buf { /* a writing thread's aligned buffer */
	void *p;
	size_t cap;
};
/* Opens PATH (made, SIZE bytes of ring, when missing) and locks it; NULL
 * with a message on failure. */
struct journal *journal_open(const char *path, uint64_t size, char *msg,
			     size_t msgn);
/* Hands every valid record not known to be in the store to fn, in
 * sequence order, up to 256 at a time (fn returns 0 when they are
 * committed to the store), then empties the journal. Call once, before
 * any write. *found: the records handed over. */
int journal_recover(struct journal *j,
		    int (*fn)(void *ctx, struct spool_rec *recs, size_t n),
		    void *ctx, size_t *found, char *msg, size_t msgn);
/* journal_recover() into a store: each batch of records in one
 * transaction, with their run keys. */
int journal_recover_into(struct journal *j, airi_store *s, size_t *found,
			 char *msg, size_t msgn);
/* Writes the items as one synchronous write; -1 with errno (ENOSPC: no
 * room in the ring now) and nothing written on failure. */
int journal_write(struct journal *j, struct journal_item *items, size_t n,
		  struct journal_buf *buf);
/* n runs of a region are in the store: its space can be reused. */
void journal_release(struct journal *j, uint32_t region, uint32_t n);
uint64_t journal_record_size(size_t key_len, size_t manifest_len);
void journal_stats(struct journal *j, struct journal_stats *st);
/* clean: every record is in the store (the next start reads none). */
int journal_close(struct journal *j, int clean);

/* Agent runs (group.c). */
struct groups;
void group_key(const char *traceparent, const char *airi_trace, char out[136]);
struct groups *groups_new(struct event_base *base, int idle_s,
			  void (*submit)(char *manifest, size_t len, void *reply,
					 void *ctx),
			  void *ctx);
void groups_add_call(struct groups *gs, const char *key, const char *manifest,
		     size_t len, const airi_digest *run,
		     const airi_digest *conditions, int seal_now);
/* -1 when there is no open group with that key */
int groups_seal(struct groups *gs, const char *key, void *reply);
void groups_seal_all(struct groups *gs, const char *why);
void groups_free(struct groups *gs);

/* The trajectory of an agent run, built call by call (group.c); `airi
 * reproduce` builds its new agent runs with it too. Start from a zeroed
 * struct; release with trajectory_release(). */
struct trajectory {
	airi__buf conditions; /* canonical conditions of the first call */
	airi__buf output;     /* canonical output of the last call */
	airi__buf steps;      /* trajectory steps, comma separated */
	airi__buf pending;    /* group_tool_calls() of the last output,
			       * waiting for their results */
	size_t nsteps, calls;
	int64_t start, end; /* Unix ms, the caller's to set: meta.start/end */
};
/* Adds one recorded call (manifest: its root; run, conditions: its IDs):
 * a tool_call step for each pending tool call, with the result found in
 * this request's messages (tool messages, tool_result blocks) or Responses
 * input items (function_call_output), or null; then a model_call step. */
void trajectory_add_call(struct trajectory *t, const airi_value *manifest,
			 const airi_digest *run, const airi_digest *conditions);
/* Appends the grouped run's text up to and including meta's end time:
 * {"conditions":..,"trajectory":[..],"output":..,"meta":{"group":GROUP,
 * "calls":N,"start":..,"end":.. ("group" only when GROUP is not NULL);
 * the caller adds any other meta members and the closing "}}". */
void trajectory_manifest(const struct trajectory *t, const char *group,
			 airi__buf *b);
void trajectory_release(struct trajectory *t);
/* The tool calls an output asks for, as JSON text (free()):
 * [{"arguments","id","name"}...] in order, from OpenAI choices[].message.
 * tool_calls, Anthropic tool_use content blocks and Responses
 * function_call output items (id: their call_id). */
char *group_tool_calls(const airi_value *out, size_t *len);

#endif
