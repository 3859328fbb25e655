/*
 * store.c - `airi store migrate`: applies a store's schema migrations
 * explicitly. SQLite stores are also migrated when opened (one file, one
 * writer); PostgreSQL stores only here (docs/postgres.md), since many
 * processes of different versions may share one.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "store.h"

#include <string.h>

int cmd_store(struct args *a)
{
	airi_error err;
	const char *backend = "?";
	char *loc;
	int from = 0, to = 0, rc;
	if (a->npos != 1 || strcmp(a->pos[0], "migrate")) {
		cli_errorf("store: expected \"migrate\" (see 'airi help store')");
		return EXIT_USAGE;
	}
	if (!(loc = cli_store_location(a))) {
		cli_errorf("cannot determine the store location");
		return EXIT_TROUBLE;
	}
	rc = airi__store_migrate(loc, 0, &from, &to, &backend, &err);
	free(loc);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_TROUBLE;
	}
	if (cli_opt(a, "json"))
		printf("{\"backend\":\"%s\",\"from\":%d,\"to\":%d}\n", backend, from,
		       to);
	else if (from == to)
		printf("%s store: schema version %d, up to date\n", backend, to);
	else if (from == 0)
		printf("%s store: created with schema version %d\n", backend, to);
	else
		printf("%s store: schema version %d migrated to %d\n", backend,
		       from, to);
	return 0;
}
