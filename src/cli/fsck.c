/*
 * fsck.c - `airi fsck`: recompute the digest of every stored object, check
 * it is canonical JSON, and rebuild every run from its objects.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct fsck_out {
	int json;
	airi__buf list; /* JSON array elements, for --json */
	size_t n;
};

static void report(void *ctx, const char *problem)
{
	struct fsck_out *o = ctx;
	if (!o->json) {
		printf("problem: %s\n", problem);
		o->n++;
		return;
	}
	/* at most 10000 problems are listed; problems_total counts all */
	if (o->n++ >= 10000)
		return;
	if (o->list.n)
		airi__buf_addc(&o->list, ',');
	airi__canon_string(&o->list, problem, strlen(problem));
}

int cmd_fsck(struct args *a)
{
	airi_store *s;
	airi_error err;
	size_t objects = 0, problems = 0;
	int rc, status = 0;
	struct fsck_out o = {cli_opt(a, "json"), {0}, 0};
	if (a->npos) {
		cli_errorf("fsck: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	rc = airi_store_fsck(s, report, &o, &objects, &problems, &err);
	airi_store_close(s);
	if (rc) {
		airi__buf_release(&o.list);
		cli_error(NULL, &err);
		return EXIT_TROUBLE;
	}
	if (o.json) {
		printf("{\"objects\":%zu,\"problems\":[", objects);
		if (o.list.n)
			cli_write(o.list.p, o.list.n);
		printf("],\"problems_total\":%zu}\n", problems);
	} else {
		printf("%zu objects checked, %zu problem%s\n", objects,
		       problems, problems == 1 ? "" : "s");
	}
	airi__buf_release(&o.list);
	return problems ? EXIT_DIFFERENT : 0;
}
