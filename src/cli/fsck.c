/*
 * fsck.c - `airi fsck`: recompute the digest of every stored object, check
 * it is canonical JSON, and rebuild every run from its objects.
 */
#include "cli.h"

#include <stdlib.h>

static void report(void *ctx, const char *problem)
{
	(void)ctx;
	printf("problem: %s\n", problem);
}

int cmd_fsck(struct args *a)
{
	airi_store *s;
	airi_error err;
	size_t objects = 0, problems = 0;
	int rc, status = 0;
	if (a->npos) {
		cli_errorf("fsck: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	rc = airi_store_fsck(s, cli_opt(a, "json") ? NULL : report, NULL,
			     &objects, &problems, &err);
	airi_store_close(s);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_TROUBLE;
	}
	if (cli_opt(a, "json"))
		printf("{\"objects\":%zu,\"problems\":%zu}\n", objects,
		       problems);
	else
		printf("%zu objects checked, %zu problem%s\n", objects,
		       problems, problems == 1 ? "" : "s");
	return problems ? EXIT_DIFFERENT : 0;
}
