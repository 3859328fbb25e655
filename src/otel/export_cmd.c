/*
 * export_cmd.c - `airi otel export [--store S] [--to URL] [--json] RUN...`:
 * stored runs as one OTLP/JSON ExportTraceServiceRequest (a span per run,
 * export.c), printed to standard output or POSTed to an OTLP/HTTP traces
 * endpoint with libcurl (docs/otel-mapping.md, section 13).
 */
#define _GNU_SOURCE
#include "otel.h"
#include "../cli/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* 0 and the HTTP status in *code, or -1 with err set */
static int post(const char *url, const char *body, size_t len, long timeout,
		long *code, char *err)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, CURL_ERROR_SIZE, "cannot start libcurl");
		return -1;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	err[0] = 0;
	*code = 0;
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	else if (!err[0])
		snprintf(err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

int otel_export_cmd(struct args *a)
{
	static const char *const receive_only[] = {
		"listen", "key", "max-body", "group-idle", "max-traces",
		"forward", "forward-timeout", NULL};
	for (size_t i = 0; receive_only[i]; i++)
		if (cli_opt(a, receive_only[i])) {
			cli_errorf("otel export: --%s is an option of otel receive",
				   receive_only[i]);
			return EXIT_USAGE;
		}
	if (a->npos < 2) {
		cli_errorf("otel export: expected one or more run IDs");
		return EXIT_USAGE;
	}
	const char *to = cli_val(a, "to");
	if (to && strncmp(to, "http://", 7) && strncmp(to, "https://", 8)) {
		cli_errorf("otel export: --to must be an http:// or https:// URL");
		return EXIT_USAGE;
	}
	size_t n = a->npos - 1;
	char **spans = calloc(n, sizeof(*spans));
	size_t *lens = calloc(n, sizeof(*lens));
	airi_store *s = NULL;
	int rc = 0;
	if (!spans || !lens) {
		cli_errorf("out of memory");
		rc = EXIT_TROUBLE;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		airi_manifest *m = NULL;
		if ((rc = cli_load_run(a, a->pos[i + 1], &s, &m))) {
			if (rc == EXIT_USAGE)
				rc = EXIT_TROUBLE; /* an unknown or malformed ID */
			goto done;
		}
		spans[i] = otel_export_span_text(m, &lens[i]);
		airi_manifest_free(m);
		if (!spans[i]) {
			cli_errorf("out of memory");
			rc = EXIT_TROUBLE;
			goto done;
		}
	}
	size_t len;
	char *body = otel_export_request(spans, lens, n, &len);
	if (!body) {
		cli_errorf("out of memory");
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (!to) {
		cli_write(body, len);
		cli_write("\n", 1);
		free(body);
		goto done;
	}
	char err[CURL_ERROR_SIZE];
	long code = 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int prc = post(to, body, len, 30, &code, err);
	curl_global_cleanup();
	free(body);
	int ok = prc == 0 && code >= 200 && code < 300;
	if (cli_opt(a, "json")) {
		airi__jw *w = malloc(sizeof(*w));
		if (w) {
			airi__jw_init(w);
			airi__jw_obj(w);
			if (prc) {
				airi__jw_key(w, "error");
				airi__jw_str(w, err);
			}
			airi__jw_key(w, "ok");
			airi__jw_bool(w, ok);
			airi__jw_key(w, "spans");
			airi__jw_int(w, (long long)n);
			airi__jw_key(w, "status");
			airi__jw_int(w, code);
			airi__jw_key(w, "url");
			airi__jw_str(w, to);
			airi__jw_end_obj(w);
			size_t tn;
			char *t = airi__jw_finish(w, &tn);
			free(w);
			if (t) {
				cli_write(t, tn);
				cli_write("\n", 1);
				free(t);
			}
		}
	} else if (prc) {
		fprintf(stderr, "airi otel export: sending to %s failed: %s\n", to, err);
	} else {
		printf("sent %zu span%s to %s: HTTP %ld\n", n, n == 1 ? "" : "s", to,
		       code);
	}
	if (!ok) {
		if (!prc && !cli_opt(a, "json"))
			cli_errorf("otel export: %s answered HTTP %ld", to, code);
		rc = EXIT_TROUBLE;
	}
done:
	if (spans)
		for (size_t i = 0; i < n; i++)
			free(spans[i]);
	free(spans);
	free(lens);
	airi_store_close(s);
	return rc;
}
