/*
 * forward.c - `airi otel receive --forward URL`: every accepted request is
 * passed on to another OTLP/HTTP endpoint, in the encoding it came in, with
 * airi.run.id and airi.conditions.id added to the spans that became runs
 * (otlp_pb_reencode, otlp_json_reencode). One thread sends, in order, with
 * libcurl; a full queue drops (and counts) rather than holding the
 * receiver back. 429, 502, 503, 504 and transport errors are retried twice
 * with a pause; other answers are final. Nothing of the incoming request's
 * headers is passed on: the next hop gets Content-Type and the lines of
 * --forward-header (a credential for it, say), which are kept in memory
 * only, never printed (errors name a header, never its value) and wiped
 * when the forwarder stops.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QUEUE_MAX 256
#define QUEUE_BYTES ((size_t)256 << 20)

struct fitem {
	char *body;
	size_t len;
	int json;
	struct fitem *next;
};

struct forwarder {
	char *url;
	char *headers; /* --forward-header: "Name: value" lines, or NULL */
	size_t headers_len;
	struct curl_slist *extra; /* the same, one node a line */
	long timeout;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fitem *head, **tail;
	size_t n, bytes;
	int stopping;
	time_t deadline; /* when stopping: give up on what is left then */
	uint64_t sent, failed, dropped;
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* the values of credential headers are not left behind in freed memory */
static void wipe_list(struct curl_slist *l)
{
	for (; l; l = l->next)
		if (l->data)
			explicit_bzero(l->data, strlen(l->data));
}

int forward_header_check(const char *lines, char *err, size_t errcap)
{
	size_t line = 0;
	for (const char *p = lines; *p;) {
		size_t n = strcspn(p, "\n");
		size_t m = n && p[n - 1] == '\r' ? n - 1 : n;
		line++;
		if (m) {
			size_t k = 0;
			while (k < m && p[k] != ':' && p[k] > ' ' && p[k] < 127 &&
			       !strchr("()<>@,;\\\"/[]?={}", p[k]))
				k++;
			if (!k || k >= m || p[k] != ':') {
				snprintf(err, errcap,
					 "line %zu is not \"Name: value\" (a header name, a colon, its value)",
					 line);
				return -1;
			}
			for (size_t i = k + 1; i < m; i++)
				if ((unsigned char)p[i] < ' ' && p[i] != '\t') {
					snprintf(err, errcap,
						 "the value of header %.*s (line %zu) holds a control character",
						 (int)(k > 64 ? 64 : k), p, line);
					return -1;
				}
			if ((k == 12 && !strncasecmp(p, "Content-Type", 12)) ||
			    (k == 14 && !strncasecmp(p, "Content-Length", 14)) ||
			    (k == 6 && !strncasecmp(p, "Expect", 6)) ||
			    (k == 4 && !strncasecmp(p, "Host", 4))) {
				snprintf(err, errcap, "header %.*s (line %zu) is set by airi itself",
					 (int)k, p, line);
				return -1;
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

static long post(struct forwarder *f, CURL *c, struct fitem *it, char *err)
{
	struct curl_slist *h = curl_slist_append(
		NULL, it->json ? "Content-Type: application/json"
			       : "Content-Type: application/x-protobuf");
	h = curl_slist_append(h, "Expect:");
	for (struct curl_slist *x = f->extra; x && h; x = x->next)
		h = curl_slist_append(h, x->data);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, f->timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, f->timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	err[0] = 0;
	long code = 0;
	if (h && curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	else if (!h)
		snprintf(err, CURL_ERROR_SIZE, "out of memory");
	wipe_list(h);
	curl_slist_free_all(h);
	return code;
}

static void *run(void *arg)
{
	struct forwarder *f = arg;
	CURL *c = curl_easy_init();
	char err[CURL_ERROR_SIZE];
	for (;;) {
		pthread_mutex_lock(&f->mu);
		while (!f->head && !f->stopping)
			pthread_cond_wait(&f->cv, &f->mu);
		struct fitem *it = f->head;
		if (it) {
			f->head = it->next;
			if (!f->head)
				f->tail = &f->head;
			f->n--;
			f->bytes -= it->len;
		}
		int late = f->stopping && time(NULL) > f->deadline;
		pthread_mutex_unlock(&f->mu);
		if (!it)
			break;
		long code = 0;
		for (int attempt = 0; c && !late && attempt < 3; attempt++) {
			code = post(f, c, it, err);
			if (code && code != 429 && code != 502 && code != 503 && code != 504)
				break;
			if (attempt < 2) {
				struct timespec ts = {0, 500000000L * (attempt + 1)};
				nanosleep(&ts, NULL);
			}
		}
		pthread_mutex_lock(&f->mu);
		if (code >= 200 && code < 300) {
			f->sent++;
		} else {
			if (f->failed++ < 10)
				fprintf(stderr, "airi otel: forwarding to %s failed: %s\n",
					f->url,
					late ? "shutting down"
					: code ? "HTTP status not 2xx"
					       : err);
			if (code && f->failed <= 10)
				fprintf(stderr, "airi otel:   (status %ld)\n", code);
		}
		pthread_mutex_unlock(&f->mu);
		free(it->body);
		free(it);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void free_headers(struct forwarder *f)
{
	wipe_list(f->extra);
	curl_slist_free_all(f->extra);
	if (f->headers)
		explicit_bzero(f->headers, f->headers_len);
	free(f->headers);
	f->extra = NULL;
	f->headers = NULL;
}

struct forwarder *forwarder_start(const char *url, long timeout_s,
				  const char *headers)
{
	struct forwarder *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->url = strdup(url);
	if (headers && *headers) {
		/* one list node per non-empty line, without its \r */
		int bad = !(f->headers = strdup(headers));
		f->headers_len = strlen(headers);
		for (char *p = f->headers; !bad && p && *p;) {
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = 0;
			size_t n = strlen(p);
			if (n && p[n - 1] == '\r')
				p[--n] = 0;
			struct curl_slist *x = n ? curl_slist_append(f->extra, p) : f->extra;
			if (!x)
				bad = 1;
			f->extra = x ? x : f->extra;
			p = nl ? nl + 1 : NULL;
		}
		if (bad) {
			free_headers(f);
			free(f->url);
			free(f);
			return NULL;
		}
	}
	f->timeout = timeout_s;
	f->tail = &f->head;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (!f->url || pthread_create(&f->thread, NULL, run, f)) {
		free_headers(f);
		free(f->url);
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
		free(f);
		return NULL;
	}
	return f;
}

int forwarder_send(struct forwarder *f, char *body, size_t len, int json)
{
	struct fitem *it = calloc(1, sizeof(*it));
	pthread_mutex_lock(&f->mu);
	if (!it || f->stopping || f->n >= QUEUE_MAX || f->bytes + len > QUEUE_BYTES) {
		f->dropped++;
		pthread_mutex_unlock(&f->mu);
		free(it);
		free(body);
		return -1;
	}
	it->body = body;
	it->len = len;
	it->json = json;
	*f->tail = it;
	f->tail = &it->next;
	f->n++;
	f->bytes += len;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void forwarder_counts(struct forwarder *f, uint64_t *sent, uint64_t *failed,
		      uint64_t *dropped)
{
	pthread_mutex_lock(&f->mu);
	*sent = f->sent;
	*failed = f->failed;
	*dropped = f->dropped;
	pthread_mutex_unlock(&f->mu);
}

void forwarder_stop(struct forwarder *f, long drain_s)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stopping = 1;
	f->deadline = time(NULL) + drain_s;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free_headers(f);
	free(f->url);
	free(f);
}
