/*
 * test_store_loc.h - where the store unit tests keep their stores: a
 * SQLite file in the test's temporary directory, or, when AIRI_TEST_PG
 * holds a libpq keyword/value connection string (tests/pg/run.sh sets
 * it), a schema of their own in that PostgreSQL database, so the same
 * tests run against both backends.
 */
#ifndef AIRI_TEST_STORE_LOC_H
#define AIRI_TEST_STORE_LOC_H

#include <libpq-fe.h>
#include <unistd.h>

static inline const char *test_pg(void)
{
	const char *e = getenv("AIRI_TEST_PG");
	return e && *e ? e : NULL;
}

/* the schema that stands for a store file name: t<pid>_<name> */
static inline void test_pg_schema(const char *name, char out[128])
{
	size_t o = (size_t)snprintf(out, 128, "t%ld_", (long)getpid());
	for (const char *p = name; *p && o < 120; p++)
		out[o++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
					  ? *p
					  : '_');
	out[o] = 0;
}

static inline void test_pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Runs SQL on the test database (schema "": its default search_path). */
static inline void test_pg_exec(const char *schema, const char *sql)
{
	char conn[2048];
	snprintf(conn, sizeof(conn), "%s%s%s%s", test_pg(),
		 *schema ? " options='-csearch_path=" : "", schema,
		 *schema ? "'" : "");
	PGconn *c = PQconnectdb(conn);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect %s: %s", conn, PQerrorMessage(c));
	PQsetNoticeProcessor(c, test_pg_quiet, NULL);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* Runs SQL in the store that stands for a file name. */
static inline void test_pg_exec_in(const char *name, const char *sql)
{
	char schema[128];
	test_pg_schema(name, schema);
	test_pg_exec(schema, sql);
}

/* The location of the store called name (a file name under dir): fresh
 * removes what was there. Rotating static buffers. */
static inline const char *test_store_loc(const char *dir, const char *name,
					 int fresh)
{
	static char bufs[4][2048];
	static int next;
	char *b = bufs[next++ % 4];
	if (!test_pg()) {
		snprintf(b, 2048, "%s/%s", dir, name);
		if (fresh)
			unlink(b);
		return b;
	}
	char schema[128], sql[512];
	test_pg_schema(name, schema);
	if (fresh)
		snprintf(sql, sizeof(sql),
			 "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s",
			 schema, schema);
	else
		snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s",
			 schema);
	test_pg_exec("", sql);
	snprintf(b, 2048, "%s options='-csearch_path=%s'", test_pg(), schema);
	return b;
}

#endif
