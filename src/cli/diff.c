/*
 * diff.c - `airi diff A B`: renders the library's diff report for people
 * (sections, changed fields as JSON Pointers, aligned trajectory, output,
 * one verdict line) or prints it as JSON. Exit status like diff(1).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

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
