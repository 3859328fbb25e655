/*
 * regress.c - `airi regress --before FILTER --after FILTER`: renders the
 * library's cohort comparison (airi_regress, lib/regress.c) for people,
 * prints it as JSON, and writes the HTML report (regress_html.c).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const airi_value *get(const airi_value *v, const char *path)
{
	/* "a/b/c" */
	char key[64];
	while (v && *path) {
		size_t n = strcspn(path, "/");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (airi_value_type(v) == AIRI_ARRAY)
			v = airi_value_at(v, (size_t)strtoul(key, NULL, 10));
		else
			v = airi_value_get(v, key);
		path += n + (path[n] == '/');
	}
	return v;
}

static double num(const airi_value *v, const char *path)
{
	const airi_value *x = get(v, path);
	return x ? airi_value_number(x) : 0;
}

static void shares(const airi_value *list, const char *what)
{
	for (size_t i = 0; i < airi_value_count(list) && i < 4; i++) {
		const airi_value *e = airi_value_at(list, i);
		printf("%s%s %.0f%%", i ? ", " : "", cli_s(airi_value_get(e, what)),
		       100 * num(e, "share"));
	}
	if (!airi_value_count(list))
		fputs("-", stdout);
	putchar('\n');
}

static void metric(const airi_value *o, const char *name, const char *unit)
{
	const airi_value *m = get(o, name);
	if (!m)
		return;
	double nb = num(m, "before/n"), na = num(m, "after/n");
	if (!nb && !na)
		return;
	printf("  %-14s %9.4g %9.4g %9.4g %9.4g", name, num(m, "before/mean"),
	       num(m, "before/p50"), num(m, "after/mean"), num(m, "after/p50"));
	if (get(m, "diff"))
		printf("   %+.4g [%+.4g, %+.4g]%s", num(m, "diff"),
		       num(m, "ci95/0") , num(m, "ci95/1"), unit);
	putchar('\n');
}

static void render(const airi_value *r)
{
	const airi_value *x;
	printf("before: %s  (%.0f runs)\n", cli_s(get(r, "before/filter")),
	       num(r, "before/runs"));
	printf("after:  %s  (%.0f runs)\n\n", cli_s(get(r, "after/filter")),
	       num(r, "after/runs"));
	x = get(r, "summary");
	puts("what changed:");
	for (size_t i = 0; i < airi_value_count(x); i++)
		printf("  %s\n", cli_s(airi_value_at(x, i)));
	if (!airi_value_count(x))
		puts("  nothing measurable");
	puts("\nsections:");
	x = get(r, "sections");
	for (size_t i = 0; i < airi_value_count(x); i++) {
		const airi_value *s = airi_value_at(x, i);
		const char *st = cli_s(get(s, "state"));
		printf("  %-12s %-9s", cli_s(get(s, "name")), st);
		if (!strcmp(st, "varies"))
			printf(" %.0f distinct before, %.0f after",
			       num(s, "distinct/before"), num(s, "distinct/after"));
		else if (*cli_s(get(s, "summary")))
			printf(" %s", cli_s(get(s, "summary")));
		putchar('\n');
	}
	puts("\nmodels:");
	fputs("  before: ", stdout);
	shares(get(r, "models/before"), "name");
	fputs("  after:  ", stdout);
	shares(get(r, "models/after"), "name");
	printf("\npaired by input: %.0f pairs, %.0f with another output (%.0f%%)\n",
	       num(r, "paired/pairs"), num(r, "paired/output_differs"),
	       100 * num(r, "paired/share"));
	x = get(r, "paired/examples");
	for (size_t i = 0; i < airi_value_count(x); i++) {
		const airi_value *e = airi_value_at(x, i);
		printf("  input %.19s\n", cli_s(get(e, "input")));
		printf("    before %.19s (%4.0f chars) %.60s\n",
		       cli_s(get(e, "before/run")), num(e, "before/out_chars"),
		       cli_s(get(e, "before/summary")));
		printf("    after  %.19s (%4.0f chars) %.60s\n",
		       cli_s(get(e, "after/run")), num(e, "after/out_chars"),
		       cli_s(get(e, "after/summary")));
	}
	puts("\noutcomes:            mean     p50 before   mean     p50 after   "
	     "change [95% CI]");
	const airi_value *o = get(r, "outcomes");
	printf("  %-14s %8.1f%% %19.1f%%", "failed", 100 * num(o, "failed/before/rate"),
	       100 * num(o, "failed/after/rate"));
	if (get(o, "failed/diff"))
		printf("            %+.1f [%+.1f, %+.1f] points",
		       100 * num(o, "failed/diff"), 100 * num(o, "failed/ci95/0"),
		       100 * num(o, "failed/ci95/1"));
	putchar('\n');
	metric(o, "latency_ms", " ms");
	metric(o, "out_chars", "");
	metric(o, "tool_calls", "");
	metric(o, "out_tokens", "");
	const airi_value *sc = get(r, "scores");
	for (size_t i = 0; i < airi_value_count(sc); i++) {
		size_t kn;
		const char *k = airi_value_key_at(sc, i, &kn);
		char name[80];
		snprintf(name, sizeof(name), "%.*s", (int)(kn > 70 ? 70 : kn), k);
		metric(sc, name, "");
	}
	fputs("  finish before: ", stdout);
	shares(get(o, "finish/before"), "reason");
	fputs("  finish after:  ", stdout);
	shares(get(o, "finish/after"), "reason");
}

int cmd_regress(struct args *a)
{
	airi_store *s;
	airi_error err;
	char *report = NULL;
	size_t n;
	int status = 0;
	size_t examples = 5;
	if (a->npos) {
		cli_errorf("regress: unexpected argument \"%s\" (use --before and "
			   "--after)",
			   a->pos[0]);
		return EXIT_USAGE;
	}
	if (!cli_val(a, "before") || !cli_val(a, "after")) {
		cli_errorf("regress: needs --before FILTER and --after FILTER");
		return EXIT_USAGE;
	}
	if (cli_val(a, "examples")) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(cli_val(a, "examples"), &end, 10);
		if (*end || !*cli_val(a, "examples") || v > 1000 || errno) {
			cli_errorf("regress: --examples needs a number from 0 to 1000");
			return EXIT_USAGE;
		}
		examples = v;
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	int rc = airi_regress(s, cli_val(a, "before"), cli_val(a, "after"),
			      examples, &report, &n, &err);
	airi_store_close(s);
	if (rc) {
		cli_errorf("regress: %s", err.message);
		return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	}
	airi_json *doc = NULL;
	if (airi_json_parse(report, n, &doc, NULL)) {
		cli_errorf("regress: internal error (bad report)");
		free(report);
		return EXIT_TROUBLE;
	}
	if (cli_val(a, "html") &&
	    regress_html(cli_val(a, "html"), airi_json_root(doc), report, n))
		status = EXIT_TROUBLE;
	if (cli_opt(a, "json")) {
		cli_write(report, n);
		putchar('\n');
	} else {
		render(airi_json_root(doc));
	}
	airi_json_free(doc);
	free(report);
	return status;
}
