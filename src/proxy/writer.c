/*
 * writer.c - group commit: one thread owns the store connection and
 * records every captured run. Jobs that arrive while a commit is in
 * progress are recorded together in the next transaction, so under load
 * one fsync covers many calls; a response that carries an identity is only
 * completed (by the done callback, on the event loop thread) after the
 * transaction that holds its run has committed.
 *
 * With an outage spool (spool.c): when a batch's transaction fails (the
 * store is unreachable, or failing), the batch's manifests are appended to
 * the spool and fdatasync'ed instead, and the calls get their identities
 * (computed from the manifests). While the spool is not empty new batches
 * go there too, so that the store receives the runs in order; a drain
 * step, at most once a second (before a batch, or on a timer when idle),
 * records the spooled runs in spool order, 256 per transaction, and
 * advances the spool's delivered offset after each commit. Recording a run
 * that is already there records nothing, so a crash between a commit and
 * the offset's update delivers nothing twice.
 *
 * A proxy may also start while its store (a PostgreSQL server) cannot be
 * reached: the writer is then given the store's location instead of a
 * store, every batch goes to the spool, and the store is opened on this
 * thread with a backoff (1 s, doubling up to 10 s between attempts),
 * together with the reader connection that lookups use on the loop thread
 * (writer_take_reader). Once it is open the spool is delivered as above.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_THREADS_MAX 16
#define JOURNAL_BATCH 64
#define JOURNAL_GATHER_NS 5000000 /* 5 ms */

static int only_journaled(const struct writer_job *j)
{
	for (; j; j = j->next)
		if (!j->journaled)
			return 0;
	return 1;
}

struct writer {
	airi_store *s;
	airi_key *signer;
	/* a store not opened yet (the proxy started while it was
	 * unreachable): its location, the next attempt, the backoff, and the
	 * store connections opened here (closed by writer_stop) */
	char *loc;
	uint64_t next_open, backoff;
	unsigned attempts;
	int owns;
	airi_store *reader; /* for the loop thread, until taken (under mu) */
	char last_err[256]; /* why the store failed last (writer thread) */
	char pub_err[256];  /* its copy for health (under mu) */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct writer_job *in, **in_tail;   /* submitted */
	struct writer_job *out, **out_tail; /* committed, to hand back */
	int stopping;
	struct event *wake; /* runs deliver() on the loop thread */
	/* commit statistics: transactions, runs in them, and the time from
	 * taking a batch to its commit, in power-of-two microsecond buckets */
	uint64_t batches, jobs, hist[32], max_us;
	void (*done)(struct writer_job *job, void *ctx);
	void *ctx;
	/* the outage spool (writer thread only), and what health shows of
	 * it (under mu) */
	struct spool *sp;
	uint64_t sp_max, last_try, delivered;
	enum { SP_EMPTY, SP_DRAINING, SP_SPOOLING } state;
	uint64_t pub_runs, pub_bytes;
	int pub_state, pub_open;
	unsigned pub_attempts;
	struct spool_rec recs[256]; /* drain()'s */
	/* the acknowledgement journal: jobs wait in jq for a journal thread,
	 * which writes their runs there and hands them back (out), and
	 * queues a copy of each run for this thread (in) */
	struct journal *jr;
	pthread_t jt[JOURNAL_THREADS_MAX];
	int njt, jstop;
	pthread_cond_t jcv;
	struct writer_job *jq, **jq_tail;
	uint64_t j_acked, j_done, j_fallbacks;
	void (*ingested)(void *ctx);
	struct timespec gather; /* AIRI_JOURNAL_GATHER_MS, default 5 */
};

static const char *const state_name[] = {"empty", "draining", "spooling"};

static void publish(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->pub_runs = spool_runs(w->sp);
	w->pub_bytes = spool_bytes(w->sp);
	w->pub_state = w->state;
	w->pub_open = w->s != NULL;
	w->pub_attempts = w->attempts;
	memcpy(w->pub_err, w->last_err, sizeof(w->pub_err));
	pthread_mutex_unlock(&w->mu);
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	struct writer_job *j = w->out;
	w->out = NULL;
	w->out_tail = &w->out;
	pthread_mutex_unlock(&w->mu);
	while (j) {
		struct writer_job *next = j->next;
		w->done(j, w->ctx);
		j = next;
	}
	if (w->ingested) /* look-ups waiting for journaled runs, if any */
		w->ingested(w->ctx);
}

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

#define BACKOFF_MIN 1000000u   /* µs before the second attempt to open */
#define BACKOFF_MAX 10000000u  /* and the longest wait between two */

/* The store, when the proxy started without it: opened here at most once
 * per backoff period. 1 when there is a store. */
static int have_store(struct writer *w)
{
	if (w->s)
		return 1;
	uint64_t now = now_us();
	if (now < w->next_open)
		return 0;
	airi_error err;
	airi_store *s = NULL, *r = NULL;
	int rc = airi_store_open(w->loc, AIRI_STORE_CREATE, &s, &err);
	if (!rc)
		rc = airi_store_open(w->loc, 0, &r, &err);
	w->attempts++;
	if (rc) {
		airi_store_close(s);
		w->backoff = w->backoff ? w->backoff * 2 : BACKOFF_MIN;
		if (w->backoff > BACKOFF_MAX)
			w->backoff = BACKOFF_MAX;
		w->next_open = now_us() + w->backoff;
		if (strcmp(w->last_err, err.message)) /* news only */
			fprintf(stderr, "airi proxy: store unreachable (%s): "
					"reconnecting\n",
				err.message);
		snprintf(w->last_err, sizeof(w->last_err), "%s", err.message);
		publish(w);
		return 0;
	}
	w->s = s;
	w->owns = 1;
	pthread_mutex_lock(&w->mu);
	w->reader = r;
	pthread_mutex_unlock(&w->mu);
	fprintf(stderr, "airi proxy: store connected (attempt %u)%s\n",
		w->attempts,
		spool_runs(w->sp) ? ": delivering the spool" : "");
	w->last_err[0] = 0;
	if (w->state == SP_SPOOLING)
		w->state = spool_runs(w->sp) ? SP_DRAINING : SP_EMPTY;
	publish(w);
	return 1;
}

static void sign(struct writer *w)
{
	airi_error err;
	if (w->signer && w->s) {
		char *note = NULL;
		if (airi_store_checkpoint(w->s, w->signer, NULL, &note, &err))
			fprintf(stderr, "airi proxy: cannot sign checkpoint: %s\n",
				err.message);
		free(note);
	}
}

#define DRAIN_BATCH 256

/* Delivers spooled runs to the store in order until the spool is empty or
 * a transaction fails; at most once a second unless forced. */
static void drain(struct writer *w, int force)
{
	if (!w->sp || !spool_runs(w->sp))
		return;
	uint64_t now = now_us();
	if (!force && now - w->last_try < 1000000)
		return;
	w->last_try = now;
	if (!have_store(w))
		return;
	struct spool_rec *recs = w->recs;
	int signed_any = 0;
	while (spool_runs(w->sp)) {
		airi_error err;
		size_t n = 0;
		uint64_t end = 0;
		if (spool_peek(w->sp, DRAIN_BATCH, recs, &n, &end) || !n) {
			fprintf(stderr, "airi proxy: cannot read the spool: %s\n",
				n ? "read error" : "no record at its offset");
			break;
		}
		int rc = spool_record(w->s, recs, n, &err);
		for (size_t i = 0; i < n; i++)
			free(recs[i].text);
		if (rc) {
			if (w->state != SP_SPOOLING)
				fprintf(stderr, "airi proxy: store unavailable (%s): "
						"spooling, %" PRIu64 " runs waiting\n",
					err.message, spool_runs(w->sp));
			w->state = SP_SPOOLING;
			snprintf(w->last_err, sizeof(w->last_err), "%s",
				 err.message);
			break;
		}
		w->last_err[0] = 0;
		signed_any = 1;
		if (spool_advance(w->sp, end, n)) {
			/* delivered, but will be again (harmlessly) */
			fprintf(stderr, "airi proxy: cannot update the spool's "
					"offset: %s\n", strerror(errno));
			break;
		}
		w->delivered += n;
		w->state = spool_runs(w->sp) ? SP_DRAINING : SP_EMPTY;
		publish(w);
	}
	if (signed_any)
		sign(w);
	if (!spool_runs(w->sp) && w->delivered) {
		fprintf(stderr, "airi proxy: spool drained: %" PRIu64
				" spooled runs delivered to the store\n",
			w->delivered);
		w->delivered = 0;
		w->state = SP_EMPTY;
	}
	publish(w);
}

/* The batch's valid runs go to the spool: they count as recorded. */
static void to_spool(struct writer *w, struct writer_job *batch,
		     const char *why)
{
	size_t n = 0, k = 0;
	for (struct writer_job *j = batch; j; j = j->next)
		n++;
	struct writer_job **v = calloc(n ? n : 1, sizeof(*v));
	for (struct writer_job *j = batch; j && v; j = j->next)
		if (!j->rc)
			v[k++] = j;
	if (!v || (k && spool_append(w->sp, v, k))) {
		const char *e = v ? strerror(errno) : "out of memory";
		for (size_t i = 0; i < k; i++) {
			v[i]->rc = AIRI_EIO;
			snprintf(v[i]->error, sizeof(v[i]->error),
				 "%s; cannot write the spool: %s", why, e);
		}
		if (!v)
			for (struct writer_job *j = batch; j; j = j->next)
				if (!j->rc) {
					j->rc = AIRI_ENOMEM;
					snprintf(j->error, sizeof(j->error),
						 "out of memory");
				}
		free(v);
		return;
	}
	free(v);
	if (k && why[0] && why != w->last_err)
		snprintf(w->last_err, sizeof(w->last_err), "%s", why);
	if (k && w->state != SP_SPOOLING && why[0]) {
		fprintf(stderr, "airi proxy: store unavailable (%s): spooling "
				"runs until it is back\n",
			why);
		w->state = SP_SPOOLING;
	} else if (k && w->state == SP_EMPTY) {
		w->state = SP_DRAINING;
	}
	publish(w);
}

static void record_batch(struct writer *w, struct writer_job *batch)
{
	airi_error err;
	uint64_t t0 = now_us(), n = 0;
	for (struct writer_job *j = batch; j; j = j->next)
		n++;
	/* the manifests and their identities first: a run that is itself
	 * invalid fails here, whatever the store. Each is parsed once: the
	 * parsed manifest (which borrows the text, kept until the job is
	 * handed back) is recorded below. */
	for (struct writer_job *j = batch; j; j = j->next) {
		airi_manifest *m = NULL;
		if (j->journaled) /* parsed by its journal thread */
			continue;
		j->parsed = NULL;
		if (!j->manifest && j->build)
			j->manifest = j->build(j, &j->len);
		if (!j->manifest) {
			j->rc = AIRI_ENOMEM;
			snprintf(j->error, sizeof(j->error), "out of memory");
			continue;
		}
		j->rc = airi_manifest_parse_borrow(j->manifest, j->len, &m, &err);
		if (j->rc) {
			snprintf(j->error, sizeof(j->error), "%s", err.message);
			airi_manifest_free(m);
		} else {
			j->run = *airi_manifest_run_id(m);
			j->conditions = *airi_manifest_conditions_id(m);
			j->parsed = m;
		}
	}
	drain(w, 0);
	if (!have_store(w)) {
		/* not opened yet (only ever with a spool) */
		to_spool(w, batch, w->last_err[0] ? w->last_err : "unreachable");
	} else if (w->sp && spool_runs(w->sp)) {
		/* behind the runs already spooled, to keep the order */
		to_spool(w, batch, "");
	} else {
		int tx = airi_store_begin(w->s, &err) == 0;
		int failed = !tx && w->sp, rc = 0;
		char why[256] = "";
		if (!tx)
			snprintf(why, sizeof(why), "%s", err.message);
		for (struct writer_job *j = batch; j && !(failed && w->sp);
		     j = j->next) {
			if (j->rc)
				continue;
			rc = airi_store_record(w->s, j->parsed, NULL, &err);
			if (!rc && j->run_key[0])
				rc = airi_store_bind_key(w->s, j->run_key,
							 &j->run, &err);
			if (rc && w->sp) {
				failed = 1;
				snprintf(why, sizeof(why), "%s", err.message);
			} else if (rc) {
				j->rc = rc;
				snprintf(j->error, sizeof(j->error), "%s",
					 err.message);
			}
		}
		if (tx && failed)
			airi_store_rollback(w->s);
		else if (tx && airi_store_commit(w->s, &err)) {
			failed = 1;
			snprintf(why, sizeof(why), "%s", err.message);
		}
		if (failed && w->sp) {
			to_spool(w, batch, why);
		} else if (failed) {
			for (struct writer_job *j = batch; j; j = j->next)
				if (!j->rc) {
					j->rc = AIRI_ESTORE;
					snprintf(j->error, sizeof(j->error), "%s",
						 why);
				}
		} else {
			w->last_err[0] = 0;
			sign(w);
		}
	}
	for (struct writer_job *j = batch; j; j = j->next) {
		airi_manifest_free(j->parsed);
		j->parsed = NULL;
	}
	uint64_t us = now_us() - t0;
	int b = 0;
	while (b < 31 && (1ull << (b + 1)) <= us)
		b++;
	pthread_mutex_lock(&w->mu);
	w->batches++;
	w->jobs += n;
	w->hist[b]++;
	if (us > w->max_us)
		w->max_us = us;
	pthread_mutex_unlock(&w->mu);
}

/* Takes the journaled runs out of a recorded batch: each committed one's
 * journal space is free again; one that failed stays in the journal (the
 * next start records it). Returns how many there were. */
static uint64_t release_journaled(struct writer *w, struct writer_job **batch)
{
	uint64_t n = 0;
	for (struct writer_job **pp = batch, *j; (j = *pp);) {
		if (!j->journaled) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		n++;
		if (j->rc)
			fprintf(stderr, "airi proxy: could not record a journaled "
					"run (%s); it stays in the journal until the "
					"next start\n",
				j->error);
		else
			journal_release(w->jr, j->region, 1);
		free(j->manifest);
		free(j);
	}
	return n;
}

static void *run(void *arg)
{
	struct writer *w = arg;
	if (w->jr) {
		/* off the replies' path now: the loop and the journal's
		 * threads go first when they share a CPU with this one */
		setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	}
	if (w->sp && spool_runs(w->sp)) {
		fprintf(stderr, "airi proxy: the spool holds %" PRIu64 " runs: "
				"delivering them%s\n",
			spool_runs(w->sp),
			w->s ? "" : " when the store is reachable");
		drain(w, 1);
	}
	for (;;) {
		int idle = 0;
		pthread_mutex_lock(&w->mu);
		while (!w->in && !w->stopping) {
			if (w->pub_runs || !w->pub_open) {
				/* wake up to drain the spool, or to open the
				 * store */
				struct timespec t;
				clock_gettime(CLOCK_REALTIME, &t);
				t.tv_sec += 1;
				if (pthread_cond_timedwait(&w->cv, &w->mu, &t)) {
					idle = 1;
					break;
				}
			} else {
				pthread_cond_wait(&w->cv, &w->mu);
			}
		}
		struct writer_job *batch = w->in;
		if (batch && w->jr && !w->stopping && only_journaled(batch)) {
			/* nobody waits for these: let more gather, so that one
			 * transaction (and its sync) takes many */
			pthread_mutex_unlock(&w->mu);
			nanosleep(&w->gather, NULL);
			pthread_mutex_lock(&w->mu);
			batch = w->in;
		}
		w->in = NULL;
		w->in_tail = &w->in;
		int stop = w->stopping && !batch;
		pthread_mutex_unlock(&w->mu);
		if (stop) {
			/* a last try; what is left stays. A store never opened
			 * is not tried again: stopping waits for no connect
			 * timeout */
			if (w->s)
				drain(w, 1);
			break;
		}
		if (!batch) {
			if (idle && !w->s)
				have_store(w);
			if (idle)
				drain(w, 1);
			continue;
		}
		record_batch(w, batch);
		/* the journaled runs are done with; the others go back */
		uint64_t nj = release_journaled(w, &batch);
		pthread_mutex_lock(&w->mu);
		*w->out_tail = batch;
		while (*w->out_tail)
			w->out_tail = &(*w->out_tail)->next;
		w->j_done += nj;
		pthread_mutex_unlock(&w->mu);
		event_active(w->wake, EV_READ, 0);
	}
	return NULL;
}

struct writer *writer_start(airi_store *s, const char *location,
			    struct event_base *base,
			    void (*done)(struct writer_job *job, void *ctx),
			    void *ctx, airi_key *signer, struct spool *spool,
			    uint64_t spool_max, const char *why)
{
	if (!s && (!location || !spool))
		return NULL;
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->s = s;
	w->pub_open = s != NULL;
	if (!s) {
		if (!(w->loc = strdup(location))) {
			free(w);
			return NULL;
		}
		snprintf(w->last_err, sizeof(w->last_err), "%s",
			 why && why[0] ? why : "unreachable");
		memcpy(w->pub_err, w->last_err, sizeof(w->pub_err));
		/* the caller has just tried */
		w->attempts = w->pub_attempts = 1;
		w->backoff = BACKOFF_MIN;
		w->next_open = now_us() + w->backoff;
	}
	w->signer = signer;
	w->done = done;
	w->ctx = ctx;
	w->in_tail = &w->in;
	w->out_tail = &w->out;
	w->sp = spool;
	w->sp_max = spool_max;
	w->pub_runs = spool_runs(spool);
	w->pub_bytes = spool_bytes(spool);
	w->state = w->pub_state = !s ? SP_SPOOLING
				  : w->pub_runs ? SP_DRAINING : SP_EMPTY;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->jcv, NULL);
	w->jq_tail = &w->jq;
	w->wake = event_new(base, -1, 0, deliver, w);
	if (!w->wake || pthread_create(&w->thread, NULL, run, w)) {
		if (w->wake)
			event_free(w->wake);
		free(w->loc);
		free(w);
		return NULL;
	}
	return w;
}

void writer_stats(struct writer *w, struct writer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	st->batches = w->batches;
	st->jobs = w->jobs;
	st->max_us = w->max_us;
	/* percentiles as the upper bound of their bucket */
	uint64_t seen = 0, p50 = 0, p99 = 0;
	for (int b = 0; b < 32 && w->batches; b++) {
		seen += w->hist[b];
		if (!p50 && seen * 2 >= w->batches)
			p50 = 1ull << (b + 1);
		if (!p99 && seen * 100 >= w->batches * 99)
			p99 = 1ull << (b + 1);
	}
	st->p50_us = p50;
	st->p99_us = p99;
	st->spool_runs = w->pub_runs;
	st->spool_bytes = w->pub_bytes;
	st->spool_state = w->sp ? state_name[w->pub_state] : NULL;
	st->store_state = !w->pub_open ? "reconnecting"
			  : w->pub_state == SP_SPOOLING ? "unavailable" : "ok";
	st->store_attempts = w->pub_attempts;
	memcpy(st->store_error, w->pub_err, sizeof(st->store_error));
	st->journal = w->jr != NULL;
	st->j_pending = w->j_acked - w->j_done;
	st->j_fallbacks = w->j_fallbacks;
	pthread_mutex_unlock(&w->mu);
	if (w->jr)
		journal_stats(w->jr, &st->js);
}

int writer_spool_full(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	int full = w->sp && w->pub_bytes > w->sp_max;
	pthread_mutex_unlock(&w->mu);
	return full;
}

void writer_submit(struct writer *w, struct writer_job *job)
{
	job->next = NULL;
	writer_submit_list(w, job);
}

airi_store *writer_take_reader(struct writer *w)
{
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->mu);
	airi_store *r = w->reader;
	w->reader = NULL;
	pthread_mutex_unlock(&w->mu);
	return r;
}

void writer_submit_list(struct writer *w, struct writer_job *jobs)
{
	if (!jobs)
		return;
	struct writer_job **tail = &jobs->next;
	while (*tail)
		tail = &(*tail)->next;
	pthread_mutex_lock(&w->mu);
	if (w->jr) {
		*w->jq_tail = jobs;
		w->jq_tail = tail;
		pthread_cond_signal(&w->jcv);
	} else {
		*w->in_tail = jobs;
		w->in_tail = tail;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

void writer_stop(struct writer *w)
{
	if (!w)
		return;
	/* the journal threads first: what they write goes to this thread */
	pthread_mutex_lock(&w->mu);
	w->jstop = 1;
	pthread_cond_broadcast(&w->jcv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->njt; i++)
		pthread_join(w->jt[i], NULL);
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	deliver(-1, 0, w); /* hand back whatever is left */
	event_free(w->wake);
	if (w->owns)
		airi_store_close(w->s);
	airi_store_close(w->reader);
	free(w->loc);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->jcv);
	free(w);
}

/* ---- the journal threads ------------------------------------------------ */

/* Builds the batch's manifests and writes their runs to the journal: the
 * jobs go back to the loop at once, a copy of each run to the writer
 * thread. When the journal has no room (or fails), the jobs go to the
 * writer thread themselves and are handed back after its commit. */
static void journal_batch(struct writer *w, struct writer_job *jobs,
			  struct journal_buf *buf)
{
	struct journal_item items[JOURNAL_BATCH];
	struct writer_job *copy[JOURNAL_BATCH], *ack = NULL, **ack_tail = &ack;
	struct writer_job *own[JOURNAL_BATCH];
	size_t k = 0;
	for (struct writer_job *j = jobs, *next; j; j = next) {
		next = j->next;
		j->next = NULL;
		airi_error err;
		if (!j->manifest && j->build)
			j->manifest = j->build(j, &j->len);
		struct writer_job *g = j->manifest ? calloc(1, sizeof(*g)) : NULL;
		if (g && !(g->manifest = malloc(j->len + 1))) {
			free(g);
			g = NULL;
		}
		if (!g) {
			j->rc = AIRI_ENOMEM;
			snprintf(j->error, sizeof(j->error), "out of memory");
			*ack_tail = j;
			ack_tail = &j->next;
			continue;
		}
		memcpy(g->manifest, j->manifest, j->len);
		g->manifest[j->len] = 0;
		g->len = j->len;
		g->journaled = 1;
		memcpy(g->run_key, j->run_key, sizeof(g->run_key));
		if (airi_manifest_parse_borrow(g->manifest, g->len, &g->parsed,
					       &err)) {
			/* not a valid run: fails as it would in the store */
			j->rc = err.code;
			snprintf(j->error, sizeof(j->error), "%s", err.message);
			airi_manifest_free(g->parsed);
			free(g->manifest);
			free(g);
			*ack_tail = j;
			ack_tail = &j->next;
			continue;
		}
		j->run = g->run = *airi_manifest_run_id(g->parsed);
		j->conditions = g->conditions =
			*airi_manifest_conditions_id(g->parsed);
		items[k] = (struct journal_item){g->manifest, g->len, j->run_key,
						 g->run, 0};
		copy[k] = g;
		own[k++] = j;
	}
	int rc = k ? journal_write(w->jr, items, k, buf) : 0;
	int e = errno;
	struct writer_job *in = NULL, **in_tail = &in;
	for (size_t i = 0; i < k; i++) {
		if (rc) { /* the writer records it before it goes back */
			airi_manifest_free(copy[i]->parsed);
			free(copy[i]->manifest);
			free(copy[i]);
			*in_tail = own[i];
			in_tail = &own[i]->next;
		} else {
			copy[i]->region = items[i].region;
			*in_tail = copy[i];
			in_tail = &copy[i]->next;
			*ack_tail = own[i];
			ack_tail = &own[i]->next;
		}
	}
	if (rc && e != ENOSPC) {
		static int told; /* once: it would be said for every batch */
		if (!__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED))
			fprintf(stderr, "airi proxy: cannot write the journal "
					"(%s): calls wait for the store's commit "
					"instead\n",
				strerror(e));
	}
	pthread_mutex_lock(&w->mu);
	if (in) {
		*w->in_tail = in;
		w->in_tail = in_tail;
		pthread_cond_signal(&w->cv);
	}
	if (rc)
		w->j_fallbacks += k;
	else
		w->j_acked += k;
	if (ack) {
		*w->out_tail = ack;
		w->out_tail = ack_tail;
	}
	pthread_mutex_unlock(&w->mu);
	if (ack)
		event_active(w->wake, EV_READ, 0);
}

static void *journal_run(void *arg)
{
	struct writer *w = arg;
	struct journal_buf buf = {NULL, 0};
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->jq && !w->jstop)
			pthread_cond_wait(&w->jcv, &w->mu);
		if (!w->jq) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		/* up to a batch; the rest for the next free thread */
		struct writer_job *jobs = w->jq, **tail = &w->jq;
		for (int n = 0; *tail && n < JOURNAL_BATCH; n++)
			tail = &(*tail)->next;
		w->jq = *tail;
		*tail = NULL;
		if (!w->jq)
			w->jq_tail = &w->jq;
		else
			pthread_cond_signal(&w->jcv);
		pthread_mutex_unlock(&w->mu);
		journal_batch(w, jobs, &buf);
	}
	free(buf.p);
	return NULL;
}

int writer_use_journal(struct writer *w, struct journal *jr, int threads,
		       void (*ingested)(void *ctx))
{
	if (threads < 1)
		threads = 1;
	if (threads > JOURNAL_THREADS_MAX)
		threads = JOURNAL_THREADS_MAX;
	w->ingested = ingested;
	w->jr = jr;
	const char *g = getenv("AIRI_JOURNAL_GATHER_MS");
	long ms = g ? atol(g) : 0;
	uint64_t ns = g && ms >= 0 && ms <= 60000 ? (uint64_t)ms * 1000000u
						   : JOURNAL_GATHER_NS;
	w->gather.tv_sec = (time_t)(ns / 1000000000u);
	w->gather.tv_nsec = (long)(ns % 1000000000u);
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&w->jt[i], NULL, journal_run, w)) {
			if (!w->njt) {
				w->jr = NULL;
				return -1;
			}
			break;
		}
		w->njt++;
	}
	return 0;
}

void writer_journal_counts(struct writer *w, uint64_t *acked, uint64_t *done)
{
	pthread_mutex_lock(&w->mu);
	*acked = w->j_acked;
	*done = w->j_done;
	pthread_mutex_unlock(&w->mu);
}
