/*
 * store.c - `airi store migrate`: applies a store's schema migrations
 * explicitly. SQLite stores are also migrated when opened (one file, one
 * writer); PostgreSQL stores only here (docs/postgres.md), since many
 * processes of different versions may share one.
 *
 * `airi store recover --journal FILE`: records in the store the runs an
 * `airi proxy --journal FILE` acknowledged and did not record (it was
 * killed, its machine went down), without starting a proxy.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "store.h"
#include "../proxy/proxy.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int recover(struct args *a)
{
	const char *path = cli_val(a, "journal");
	char msg[600];
	struct stat st;
	int status = 0;
	size_t found = 0;
	if (!path) {
		cli_errorf("store recover: give --journal FILE");
		return EXIT_USAGE;
	}
	if (stat(path, &st)) {
		cli_errorf("store recover: --journal %s: %s", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	airi_store *s = cli_store(a, AIRI_STORE_CREATE, &status);
	if (!s)
		return status ? status : EXIT_TROUBLE;
	struct journal *j = journal_open(path, (uint64_t)16 << 20, msg, sizeof(msg));
	if (!j || journal_recover_into(j, s, &found, msg, sizeof(msg))) {
		cli_errorf("store recover: --journal %s", msg);
		journal_close(j, 0);
		airi_store_close(s);
		return EXIT_TROUBLE;
	}
	journal_close(j, 1);
	airi_store_close(s);
	if (cli_opt(a, "json"))
		printf("{\"records\":%zu}\n", found);
	else
		printf("%zu journal records checked into the store\n", found);
	return 0;
}

int cmd_store(struct args *a)
{
	airi_error err;
	const char *backend = "?";
	char *loc;
	int from = 0, to = 0, rc;
	if (a->npos == 1 && !strcmp(a->pos[0], "recover"))
		return recover(a);
	if (a->npos != 1 || strcmp(a->pos[0], "migrate")) {
		cli_errorf("store: expected \"migrate\" or \"recover\" (see 'airi "
			   "help store')");
		return EXIT_USAGE;
	}
	if (cli_val(a, "journal")) {
		cli_errorf("store migrate: --journal is for airi store recover");
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
