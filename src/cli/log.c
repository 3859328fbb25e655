/*
 * log.c - `airi log`: runs newest first, one line each (short run ID, time,
 * model, short conditions ID, output summary), or a JSON array.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct log_ctx {
	int json;
	size_t n;
};

/* A JSON string in canonical form (the library's writer). */
static void json_str(const char *s)
{
	airi__buf b;
	airi__buf_init(&b);
	airi__canon_string(&b, s ? s : "", s ? strlen(s) : 0);
	cli_write(b.p ? b.p : "\"\"", b.p ? b.n : 2);
	airi__buf_release(&b);
}

static void fmt_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int one(void *ctx, const airi_run_info *r)
{
	struct log_ctx *c = ctx;
	char run[AIRI_DIGEST_STRLEN], cond[AIRI_DIGEST_STRLEN];
	char t[32], rec[32];
	airi_digest_format(&r->run, run);
	airi_digest_format(&r->conditions, cond);
	if (c->json) {
		/* keys in canonical order */
		fputs(c->n ? ",\n" : "[\n", stdout);
		printf("{\"conditions\":\"%s\",\"model\":", cond);
		if (r->model)
			json_str(r->model);
		else
			fputs("null", stdout);
		airi__rfc3339_format(r->recorded_ms, rec);
		printf(",\"recorded\":\"%s\",\"resolved\":", rec);
		if (r->model_resolved)
			json_str(r->model_resolved);
		else
			fputs("null", stdout);
		printf(",\"run\":\"%s\",\"summary\":", run);
		json_str(r->summary ? r->summary : "");
		airi__rfc3339_format(r->time_ms, t);
		printf(",\"time\":\"%s\"}", t);
	} else {
		const char *model = r->model_resolved ? r->model_resolved
				    : r->model	  ? r->model
							  : "-";
		fmt_time(r->time_ms, t);
		printf("%.12s  %s  %-24s  %.12s%s%s\n", run + 7, t, model,
		       cond + 7, r->summary && *r->summary ? "  " : "",
		       r->summary ? r->summary : "");
	}
	c->n++;
	return 0;
}

static int parse_time(const char *opt, const char *s, int64_t *ms)
{
	if (airi__rfc3339_parse(s, strlen(s), ms)) {
		cli_errorf("log: --%s: \"%s\" is not an RFC 3339 time (e.g. "
			   "2026-01-31T12:00:00Z)",
			   opt, s);
		return -1;
	}
	return 0;
}

int cmd_log(struct args *a)
{
	airi_filter f;
	airi_store *s;
	airi_error err;
	struct log_ctx c = {cli_opt(a, "json"), 0};
	int rc, status = 0;
	memset(&f, 0, sizeof(f));
	/* filter terms: --where FILTER and/or KEY=VALUE arguments */
	char where[8192];
	size_t wn = 0;
	where[0] = 0;
	if (cli_val(a, "where"))
		wn = (size_t)snprintf(where, sizeof(where), "%s", cli_val(a, "where"));
	for (int i = 0; i < a->npos && wn < sizeof(where); i++) {
		if (!strchr(a->pos[i], '=')) {
			cli_errorf("log: unexpected argument \"%s\" (filter terms "
				   "are KEY=VALUE)",
				   a->pos[i]);
			return EXIT_USAGE;
		}
		wn += (size_t)snprintf(where + wn, sizeof(where) - wn, " %s",
				       a->pos[i]);
	}
	if (wn >= sizeof(where)) {
		cli_errorf("log: filter longer than %zu bytes", sizeof(where) - 1);
		return EXIT_USAGE;
	}
	f.where = where[0] ? where : NULL;
	f.model = cli_val(a, "model");
	f.conditions = cli_val(a, "conditions");
	if (cli_val(a, "since")) {
		if (parse_time("since", cli_val(a, "since"), &f.since_ms))
			return EXIT_USAGE;
		f.has_since = 1;
	}
	if (cli_val(a, "until")) {
		if (parse_time("until", cli_val(a, "until"), &f.until_ms))
			return EXIT_USAGE;
		f.has_until = 1;
	}
	if (cli_val(a, "limit")) {
		char *end;
		const char *v = cli_val(a, "limit");
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *end || n == 0 || errno == ERANGE || *v == '-') {
			cli_errorf("log: --limit needs a positive number");
			return EXIT_USAGE;
		}
		f.limit = (size_t)n;
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	rc = airi_store_list(s, &f, one, &c, &err);
	if (rc) {
		cli_errorf("log: %s", err.message);
		status = rc == AIRI_EINVAL ? EXIT_USAGE : cli_status(rc);
	} else if (c.json) {
		fputs(c.n ? "\n]\n" : "[]\n", stdout);
	}
	airi_store_close(s);
	return status;
}
