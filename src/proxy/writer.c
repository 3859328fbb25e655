/*
 * writer.c - group commit: one thread owns the store connection and
 * records every captured run. Jobs that arrive while a commit is in
 * progress are recorded together in the next transaction, so under load
 * one fsync covers many calls; a response that carries an identity is only
 * completed (by the done callback, on the event loop thread) after the
 * transaction that holds its run has committed.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct writer {
	airi_store *s;
	airi_key *signer;
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
};

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
}

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void record_batch(struct writer *w, struct writer_job *batch)
{
	airi_error err;
	uint64_t t0 = now_us(), n = 0;
	for (struct writer_job *j = batch; j; j = j->next)
		n++;
	int tx = airi_store_begin(w->s, &err) == 0;
	for (struct writer_job *j = batch; j; j = j->next) {
		airi_manifest *m = NULL;
		if (!j->manifest && j->build)
			j->manifest = j->build(j, &j->len);
		if (!j->manifest) {
			j->rc = AIRI_ENOMEM;
			snprintf(j->error, sizeof(j->error), "out of memory");
			continue;
		}
		/* the text lives until the job is handed back */
		j->rc = airi_manifest_parse_borrow(j->manifest, j->len, &m, &err);
		if (!j->rc)
			j->rc = airi_store_record(w->s, m, NULL, &err);
		if (!j->rc && j->run_key[0])
			j->rc = airi_store_bind_key(w->s, j->run_key,
						    airi_manifest_run_id(m), &err);
		if (j->rc) {
			snprintf(j->error, sizeof(j->error), "%s", err.message);
		} else {
			j->run = *airi_manifest_run_id(m);
			j->conditions = *airi_manifest_conditions_id(m);
		}
		airi_manifest_free(m);
	}
	if (tx && airi_store_commit(w->s, &err)) {
		for (struct writer_job *j = batch; j; j = j->next)
			if (!j->rc) {
				j->rc = AIRI_ESTORE;
				snprintf(j->error, sizeof(j->error), "%s",
					 err.message);
			}
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
	if (w->signer) {
		char *note = NULL;
		if (airi_store_checkpoint(w->s, w->signer, NULL, &note, &err))
			fprintf(stderr, "airi proxy: cannot sign checkpoint: %s\n",
				err.message);
		free(note);
	}
}

static void *run(void *arg)
{
	struct writer *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->in && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		struct writer_job *batch = w->in;
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

struct writer *writer_start(airi_store *s, struct event_base *base,
			    void (*done)(struct writer_job *job, void *ctx),
			    void *ctx, airi_key *signer)
{
	struct writer *w = calloc(1, sizeof(*w));
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
	pthread_mutex_unlock(&w->mu);
}

void writer_submit(struct writer *w, struct writer_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->in_tail = job;
	w->in_tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void writer_stop(struct writer *w)
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
