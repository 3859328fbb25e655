/*
 * writer.c - the group commit of `airi otel receive`: one thread owns the
 * store connection and records every run, all the jobs queued while a
 * commit runs going into the next transaction (one fsync for many runs).
 * Unlike the proxy's writer (src/proxy/writer.c), which parses each
 * manifest on its own thread, this one takes manifests already parsed and
 * hashed on the event loop thread: decoding and mapping spans is cheap next
 * to recording, so the loop has room for the parse, and the writer - the
 * bound on runs per second - does nothing but store. done() runs on the
 * event loop thread once the job's transaction has committed.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct owriter {
	airi_store *s;
	airi_key *signer;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct owjob *in, **in_tail;
	struct owjob *out, **out_tail;
	int stopping;
	struct event *wake;
	void (*done)(struct owjob *job, void *ctx);
	void *ctx;
};

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct owriter *w = arg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	struct owjob *j = w->out;
	w->out = NULL;
	w->out_tail = &w->out;
	pthread_mutex_unlock(&w->mu);
	while (j) {
		struct owjob *next = j->next;
		w->done(j, w->ctx);
		j = next;
	}
}

static void record_batch(struct owriter *w, struct owjob *batch)
{
	airi_error err;
	int tx = airi_store_begin(w->s, &err) == 0;
	for (struct owjob *j = batch; j; j = j->next) {
		if (j->rc || !j->m)
			continue;
		j->rc = airi_store_record(w->s, j->m, NULL, &err);
		if (j->rc)
			snprintf(j->error, sizeof(j->error), "%s", err.message);
	}
	if (tx && airi_store_commit(w->s, &err)) {
		for (struct owjob *j = batch; j; j = j->next)
			if (!j->rc) {
				j->rc = AIRI_ESTORE;
				snprintf(j->error, sizeof(j->error), "%s", err.message);
			}
	}
	if (w->signer) {
		char *note = NULL;
		if (airi_store_checkpoint(w->s, w->signer, NULL, &note, &err))
			fprintf(stderr, "airi otel: cannot sign checkpoint: %s\n", err.message);
		free(note);
	}
}

static void *run(void *arg)
{
	struct owriter *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->in && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		struct owjob *batch = w->in;
		w->in = NULL;
		w->in_tail = &w->in;
		int stop = w->stopping && !batch;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		record_batch(w, batch);
		pthread_mutex_lock(&w->mu);
		*w->out_tail = batch;
		while (*w->out_tail)
			w->out_tail = &(*w->out_tail)->next;
		pthread_mutex_unlock(&w->mu);
		event_active(w->wake, EV_READ, 0);
	}
	return NULL;
}

struct owriter *owriter_start(airi_store *s, struct event_base *base,
			      void (*done)(struct owjob *job, void *ctx), void *ctx,
			      airi_key *signer)
{
	struct owriter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->s = s;
	w->signer = signer;
	w->done = done;
	w->ctx = ctx;
	w->in_tail = &w->in;
	w->out_tail = &w->out;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->wake = event_new(base, -1, 0, deliver, w);
	if (!w->wake || pthread_create(&w->thread, NULL, run, w)) {
		if (w->wake)
			event_free(w->wake);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

int owjob_prepare(struct owjob *j, char *text, size_t len)
{
	airi_error err;
	j->text = text;
	j->len = len;
	/* the canonical bytes are kept for the writer thread, which then
	 * only has to store them */
	j->rc = airi__manifest_parse_borrow_ex(text, len, AIRI__PARSE_KEEP_CANON,
					       &j->m, &err);
	if (j->rc) {
		j->m = NULL;
		snprintf(j->error, sizeof(j->error), "%s", err.message);
		return j->rc;
	}
	/* and what the store derives from it, here on the event loop, so
	 * the writer thread only writes */
	if ((j->rc = airi__store_prepare(j->m))) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		airi_manifest_free(j->m);
		j->m = NULL;
		return j->rc;
	}
	j->run = *airi_manifest_run_id(j->m);
	j->conditions = *airi_manifest_conditions_id(j->m);
	return 0;
}

void owjob_release(struct owjob *j)
{
	airi_manifest_free(j->m);
	free(j->text);
	j->m = NULL;
	j->text = NULL;
}

void owriter_submit(struct owriter *w, struct owjob *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->in_tail = job;
	w->in_tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void owriter_stop(struct owriter *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	deliver(-1, 0, w); /* hand back whatever is left */
	event_free(w->wake);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
