/*
 * store.c - `airi store migrate`: applies a store's schema migrations
 * explicitly. SQLite stores are also migrated when opened (one file, one
 * writer); PostgreSQL stores only here (docs/postgres.md), since many
 * processes of different versions may share one.
 *
 * `airi store compact [--page-size N]`: rewrites a SQLite store without
 * its free space, with pages of N bytes (stores made before 16 KiB pages
 * were the default keep 4 KiB ones until then).
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

static int compact(struct args *a)
{
	airi_error err;
	struct airi__compacted c;
	const char *backend = "?", *v = cli_val(a, "page-size");
	unsigned page = 0;
	if (v) {
		char *end;
		unsigned long x = strtoul(v, &end, 10);
		if (!*v || *end || *v == '-' || x < 512 || x > 65536 ||
		    (x & (x - 1))) {
			cli_errorf("store compact: --page-size wants a power of two "
				   "from 512 to 65536, not \"%s\"", v);
			return EXIT_USAGE;
		}
		page = (unsigned)x;
	}
	char *loc = cli_store_location(a);
	if (!loc) {
		cli_errorf("cannot determine the store location");
		return EXIT_TROUBLE;
	}
	int rc = airi__store_compact(loc, page, &c, &backend, &err);
	free(loc);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_TROUBLE;
	}
	if (cli_opt(a, "json"))
		printf("{\"backend\":\"%s\",\"bytes_after\":%llu,"
		       "\"bytes_before\":%llu,\"page_after\":%u,"
		       "\"page_before\":%u}\n",
		       backend, (unsigned long long)c.bytes_after,
		       (unsigned long long)c.bytes_before, c.page_after,
		       c.page_before);
	else
		printf("%s store: pages of %u bytes -> %u, %llu bytes -> %llu\n",
		       backend, c.page_before, c.page_after,
		       (unsigned long long)c.bytes_before,
		       (unsigned long long)c.bytes_after);
	return 0;
}

int cmd_store(struct args *a)
{
	airi_error err;
	const char *backend = "?";
	char *loc;
	int from = 0, to = 0, rc;
	const char *sub = a->npos == 1 ? a->pos[0] : "";
	int is_migrate = !strcmp(sub, "migrate"), is_compact = !strcmp(sub, "compact"),
	    is_recover = !strcmp(sub, "recover");
	if (!is_migrate && !is_compact && !is_recover) {
		cli_errorf("store: expected \"migrate\", \"compact\" or \"recover\" "
			   "(see 'airi help store')");
		return EXIT_USAGE;
	}
	if (cli_val(a, "journal") && !is_recover) {
		cli_errorf("store %s: --journal is for airi store recover", sub);
		return EXIT_USAGE;
	}
	if (cli_val(a, "page-size") && !is_compact) {
		cli_errorf("store %s: --page-size is for airi store compact", sub);
		return EXIT_USAGE;
	}
	if (is_recover)
		return recover(a);
	if (is_compact)
		return compact(a);
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
