/*
 * fsck.c - `airi fsck`: recompute the digest of every stored object, check
 * it is canonical JSON, and rebuild every run from its objects.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>

struct fsck_out {
	int json;
	char *list; /* JSON array elements, for --json */
	size_t n, len;
};

static void report(void *ctx, const char *problem)
{
	struct fsck_out *o = ctx;
	if (!o->json) {
		printf("problem: %s\n", problem);
		o->n++;
		return;
	}
	/* escape into the list; at most 10000 problems are kept */
	if (o->n++ >= 10000)
		return;
	size_t need = o->len + 2 + 6 * strlen(problem) + 3;
	char *p = realloc(o->list, need);
	if (!p)
		return;
	o->list = p;
	if (o->len)
		o->list[o->len++] = ',';
	o->list[o->len++] = '"';
	for (const char *s = problem; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			o->list[o->len++] = '\\';
			o->list[o->len++] = (char)c;
		} else if (c < 0x20) {
			const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t"
				      : c == '\r' ? "\\r" : c == '\b' ? "\\b"
				      : c == '\f' ? "\\f" : NULL;
			if (e)
				o->len += (size_t)sprintf(o->list + o->len, "%s", e);
			else
				o->len += (size_t)sprintf(o->list + o->len,
							  "\\u%04x", c);
		} else {
			o->list[o->len++] = (char)c;
		}
	}
	o->list[o->len++] = '"';
}

int cmd_fsck(struct args *a)
{
	airi_store *s;
	airi_error err;
	size_t objects = 0, problems = 0;
	int rc, status = 0;
	struct fsck_out o = {cli_opt(a, "json"), NULL, 0, 0};
	if (a->npos) {
		cli_errorf("fsck: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	rc = airi_store_fsck(s, report, &o, &objects, &problems, &err);
	airi_store_close(s);
	if (rc) {
		free(o.list);
		cli_error(NULL, &err);
		return EXIT_TROUBLE;
	}
	if (o.json) {
		printf("{\"objects\":%zu,\"problems\":[", objects);
		if (o.list)
			fwrite(o.list, 1, o.len, stdout);
		printf("],\"problems_total\":%zu}\n", problems);
	} else {
		printf("%zu objects checked, %zu problem%s\n", objects,
		       problems, problems == 1 ? "" : "s");
	}
	free(o.list);
	return problems ? EXIT_DIFFERENT : 0;
}
