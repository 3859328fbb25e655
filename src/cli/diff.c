/*
 * diff.c - `airi diff A B`: renders the library's diff report for people
 * (sections, changed fields as JSON Pointers, aligned trajectory, output,
 * one verdict line) or prints it as JSON. Exit status like diff(1).
 */
#include "cli.h"
#include "internal.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- corpus states ------------------------------------------------------- */

/* A full digest naming a corpus state object in the store. */
static int corpus_state(airi_store *s, const char *arg, airi_digest *d)
{
	size_t l = strlen(arg), n = 0;
	char *body = NULL;
	if ((l != 64 && l != 71) || airi_digest_parse(arg, d) ||
	    airi_store_get_object(s, d, &body, &n, NULL))
		return 0;
	int yes = strstr(body, "\"type\":\"airi.corpus/1\"") != NULL;
	free(body);
	return yes;
}

struct cdiff {
	int json;
	size_t n[4];
	airi__jw w[4]; /* ids by kind (JSON) */
};

static int on_doc(void *ctx, airi_doc_change kind, const char *id, size_t n,
		  const airi_digest *before, const airi_digest *after)
{
	struct cdiff *c = ctx;
	static const char mark[] = " +-~";
	(void)before;
	(void)after;
	c->n[kind]++;
	if (c->json) {
		airi__jw_strn(&c->w[kind], id, n);
		return 0;
	}
	printf("%c ", mark[kind]);
	for (size_t i = 0; i < n; i++) { /* one line per id, always */
		unsigned char ch = (unsigned char)id[i];
		if (ch < 0x20 || ch == 0x7F)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\n');
	return 0;
}

static int diff_corpus(const struct args *a, airi_store *s,
		       const airi_digest *x, const airi_digest *y)
{
	struct cdiff c;
	airi_error err;
	memset(&c, 0, sizeof(c));
	c.json = cli_opt(a, "json");
	for (int k = 1; k <= 3; k++) {
		airi__jw_init(&c.w[k]);
		airi__jw_arr(&c.w[k]);
	}
	int rc = airi_corpus_diff(s, x, y, on_doc, &c, &err);
	int status = 0;
	if (rc) {
		cli_errorf("diff: %s", err.message);
		status = EXIT_TROUBLE;
	} else if (c.json) {
		static const char *const names[] = {"", "added", "removed",
						    "changed"};
		static const int order[] = {AIRI_DOC_ADDED, AIRI_DOC_CHANGED,
					    AIRI_DOC_REMOVED};
		fputc('{', stdout);
		for (int i = 0; i < 3; i++) { /* keys in canonical order */
			int k = order[i];
			size_t len;
			if (k == AIRI_DOC_REMOVED)
				printf(",\"identical\":%s",
				       c.n[1] + c.n[2] + c.n[3] ? "false" : "true");
			airi__jw_end_arr(&c.w[k]);
			char *t = airi__jw_finish(&c.w[k], &len);
			printf("%s\"%s\":", i ? "," : "", names[k]);
			cli_write(t, len);
			free(t);
			c.w[k].b.p = NULL;
		}
		fputs("}\n", stdout);
	} else {
		printf("%zu added, %zu removed, %zu changed\n", c.n[1], c.n[2],
		       c.n[3]);
	}
	for (int k = 1; k <= 3; k++)
		airi__buf_release(&c.w[k].b);
	if (!status && c.n[1] + c.n[2] + c.n[3])
		status = EXIT_DIFFERENT;
	return status;
}

static const char *S(const airi_value *o, const char *k)
{
	return cli_s(airi_value_get(o, k));
}

static void print_changes(const airi_value *block, const char *indent)
{
	const airi_value *ch = airi_value_get(block, "changes");
	for (size_t i = 0; i < airi_value_count(ch); i++) {
		const airi_value *c = airi_value_at(ch, i);
		const char *op = S(c, "op");
		const char *ptr = S(c, "pointer");
		printf("%s%s%s: ", indent, *ptr ? ptr : "(whole value)",
		       !strcmp(op, "changed") ? "" : !strcmp(op, "added") ? " (added)" : " (removed)");
		if (airi_value_get(c, "a"))
			cli_inline(stdout, airi_value_get(c, "a"), 120);
		if (!strcmp(op, "changed"))
			fputs(" -> ", stdout);
		if (airi_value_get(c, "b"))
			cli_inline(stdout, airi_value_get(c, "b"), 120);
		if (airi_value_get(c, "at_byte"))
			printf("  (first difference at byte %.0f)",
			       airi_value_number(airi_value_get(c, "at_byte")));
		putchar('\n');
	}
	double more = airi_value_number(airi_value_get(block, "more"));
	if (more > 0)
		printf("%s... and %.0f more changes\n", indent, more);
}

static void print_idx(const airi_value *v)
{
	if (airi_value_type(v) == AIRI_NUMBER)
		printf("%4.0f", airi_value_number(v));
	else
		printf("   .");
}

static void render(const airi_value *r)
{
	const airi_value *secs = airi_value_get(r, "sections");
	printf("a: run %.19s...  conditions %.19s...\n",
	       S(airi_value_get(r, "a"), "run"),
	       S(airi_value_get(r, "a"), "conditions"));
	printf("b: run %.19s...  conditions %.19s...\n\n",
	       S(airi_value_get(r, "b"), "run"),
	       S(airi_value_get(r, "b"), "conditions"));
	printf("sections:\n");
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		const char *st = S(s, "status");
		char mark = !strcmp(st, "equal")     ? '='
			    : !strcmp(st, "changed") ? '~'
			    : !strcmp(st, "added")   ? '+'
						     : '-';
		printf("  %c %-14s %s\n", mark, S(s, "name"),
		       !strcmp(st, "added")     ? "only in b"
		       : !strcmp(st, "removed") ? "only in a"
						: st);
	}
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		if (strcmp(S(s, "status"), "changed"))
			continue;
		printf("\n%s:\n", S(s, "name"));
		print_changes(s, "  ");
	}
	const airi_value *t = airi_value_get(r, "trajectory");
	if (strcmp(S(t, "status"), "absent")) {
		const airi_value *al = airi_value_get(t, "alignment");
		printf("\ntrajectory: %s", S(t, "status"));
		if (airi_value_type(airi_value_get(t, "a_steps")) == AIRI_NUMBER)
			printf(", a has %.0f steps", airi_value_number(airi_value_get(t, "a_steps")));
		if (airi_value_type(airi_value_get(t, "b_steps")) == AIRI_NUMBER)
			printf(", b has %.0f steps", airi_value_number(airi_value_get(t, "b_steps")));
		printf("\n");
		for (size_t i = 0; i < airi_value_count(al); i++) {
			const airi_value *p = airi_value_at(al, i);
			printf("  ");
			print_idx(airi_value_get(p, "a"));
			printf(" <-> ");
			print_idx(airi_value_get(p, "b"));
			printf("  %s\n", S(p, "status"));
		}
		const airi_value *fd = airi_value_get(t, "first_divergence");
		if (airi_value_type(fd) == AIRI_OBJECT) {
			printf("  first divergent step: a[");
			if (airi_value_type(airi_value_get(fd, "a")) == AIRI_NUMBER)
				printf("%.0f", airi_value_number(airi_value_get(fd, "a")));
			else
				printf("-");
			printf("] / b[");
			if (airi_value_type(airi_value_get(fd, "b")) == AIRI_NUMBER)
				printf("%.0f", airi_value_number(airi_value_get(fd, "b")));
			else
				printf("-");
			printf("] (%s)\n", S(fd, "status"));
			print_changes(fd, "    ");
		}
	}
	const airi_value *o = airi_value_get(r, "output");
	printf("\noutput: %s\n", S(o, "status"));
	print_changes(o, "  ");
	const airi_value *me = airi_value_get(r, "meta");
	if (strcmp(S(me, "status"), "absent") && strcmp(S(me, "status"), "equal")) {
		printf("\nmeta: %s\n", S(me, "status"));
		print_changes(me, "  ");
	}
	printf("\nverdict: %s\n", S(airi_value_get(r, "verdict"), "text"));
}

int cmd_diff(struct args *a)
{
	airi_store *s = NULL;
	airi_manifest *A = NULL, *B = NULL;
	char *report = NULL;
	size_t n;
	int rc, same = 0;
	if (a->npos != 2) {
		cli_errorf("diff: expected two runs (IDs or manifest files)");
		return EXIT_USAGE;
	}
	/* two corpus states (airi digest corpus) */
	if (!cli_is_file(a->pos[0]) && !cli_is_file(a->pos[1])) {
		int st = 0;
		airi_digest x, y;
		char *loc = cli_store_location(a);
		int exists = loc && (airi__pg_location(loc) ||
				     access(loc, F_OK) == 0);
		free(loc);
		if (exists && (s = cli_store(a, 0, &st)) &&
		    corpus_state(s, a->pos[0], &x) && corpus_state(s, a->pos[1], &y)) {
			rc = diff_corpus(a, s, &x, &y);
			airi_store_close(s);
			return rc;
		}
		airi_store_close(s);
		s = NULL;
	}
	if ((rc = cli_load_run(a, a->pos[0], &s, &A)) ||
	    (rc = cli_load_run(a, a->pos[1], &s, &B)))
		goto done;
	if (airi_run_diff(A, B, &same, &report, &n)) {
		cli_errorf("diff: out of memory");
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (cli_opt(a, "json")) {
		cli_write(report, n);
		putchar('\n');
	} else {
		airi_json *doc;
		if (airi_json_parse(report, n, &doc, NULL)) {
			cli_errorf("diff: internal error (bad report)");
			rc = EXIT_TROUBLE;
			goto done;
		}
		render(airi_json_root(doc));
		airi_json_free(doc);
	}
	rc = same ? 0 : EXIT_DIFFERENT;
done:
	free(report);
	airi_manifest_free(A);
	airi_manifest_free(B);
	airi_store_close(s);
	return rc == EXIT_DATAERR || rc == EXIT_USAGE || rc == EXIT_NOINPUT || rc == 0 || rc == EXIT_DIFFERENT ? rc : EXIT_TROUBLE;
}
