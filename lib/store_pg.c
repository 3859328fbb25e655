/*
 * store_pg.c - the PostgreSQL store backend (libpq), for stores that many
 * processes write at once (several proxies, bulk imports). Same concepts
 * and semantics as store_sqlite.c; docs/postgres.md describes it for
 * operators.
 *
 * Locations: "postgres://..." and "postgresql://..." URIs, and libpq
 * keyword/value strings whose first word is a libpq keyword ("host=...
 * dbname=..."); anything else is a SQLite path ("sqlite:" forces one).
 * The tables live in the connection's current schema (the first existing
 * schema of its search_path): give a store its own database, or its own
 * schema with options=-csearch_path=NAME.
 *
 * Schema (airi_schema holds one row per applied version):
 *   objects(digest bytea PRIMARY KEY, body bytea)  content-addressed;
 *   runs(seq identity PRIMARY KEY, id bytea UNIQUE, conditions, recorded_ms,
 *       time_ms, model, resolved, summary, log_idx, and from version 2 the
 *       facts columns s_model .. out_tokens), indexed like SQLite's;
 *   log_leaves(idx PRIMARY KEY, run, entry), log_nodes(id = level << 56 |
 *       index, hash), checkpoints(size, note), settings(key, value);
 *   labels(seq, key, value, num, time_ms) from version 2.
 * Version 1 is the store before run facts and labels, version 2 adds
 * them (and marks facts_backfill pending when there are runs). Opening
 * creates the schema in an empty database or schema (with
 * AIRI_STORE_CREATE) but never upgrades an existing one: an older schema
 * is refused with "run airi store migrate", a newer one with "upgrade
 * airi" (AIRI_ESCHEMA either way). airi__store_migrate() applies the
 * missing steps, each in one transaction.
 *
 * Concurrency: every write transaction starts with
 *   SELECT pg_advisory_xact_lock(0x41495249, hash of the schema name)
 * so write transactions on one store run one at a time, in READ
 * COMMITTED: after taking the lock every statement sees everything
 * committed before, so the next log index (max(idx) + 1), the run rows
 * (INSERT ... ON CONFLICT DO NOTHING on the run ID) and the log's
 * frontier nodes are read and written by one writer at a time. The lock
 * is released at COMMIT or ROLLBACK, after the commit is visible. Leaf
 * indexes are therefore neither duplicated nor skipped, a run recorded by
 * two writers at once is stored and logged once, and a checkpoint signs a
 * tree that no concurrent append can change under it. Readers take no
 * lock. Writes outside a transaction (objects, labels, settings) are
 * single idempotent statements that never touch the log.
 *
 * Batches (airi__store_record_many, `record --jsonl`): the objects of a
 * batch are written first, outside the lock, in a transaction of their
 * own with synchronous_commit off (pg_put_objects says why that is
 * durable enough); then, under the lock, one statement inserts the run
 * rows that are new with consecutive log indexes (pg_put_runs), and the
 * log leaves, log nodes and COMMIT go to the server in one pipeline. The
 * lock is held for a few round trips per batch, whatever its size.
 *
 * Statements are prepared once per connection; parameters are passed out
 * of line (bytea in binary, everything else as text) and results come
 * back in binary. Iterations (runs, objects, cohort scans, listings) page
 * through the table by key so that the callbacks may use the connection
 * and memory stays bounded. A connection that was lost is re-established
 * at the next operation outside a transaction. Passwords never appear in
 * messages: the location is shown with any password replaced by ***.
 */
#define _GNU_SOURCE
#include "store.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define PG_SCHEMA_VERSION 2
#define LOCK_CLASS 1095324233 /* 0x41495249, "AIRI" */
#define PAGE 2000

enum {
	ST_PUT_OBJ,
	ST_GET_OBJ,
	ST_HAS_RUN,
	ST_PUT_RUN,
	ST_FIND,
	ST_LOG_SIZE,
	ST_LOG_APPEND,
	ST_LOG_FIND,
	ST_LOG_AT,
	ST_NODE_GET,
	ST_NODE_PUT,
	ST_CP_PUT,
	ST_CP_LATEST,
	ST_SET_GET,
	ST_SET_PUT,
	ST_NODES_MANY,
	ST_LEAVES_MANY,
	ST_LEAF_ENTRY,
	ST_SET_LOG_IDX,
	ST_SET_FACTS,
	ST_LABEL_PUT,
	ST_LABEL_DEL,
	ST_LABELS,
	ST_EACH_RUN,
	ST_EACH_OBJ,
	ST_PUT_OBJS,
	ST_PUT_LEAVES,
	ST_PUT_NODES,
	ST_PUT_RUNS,
	ST_PUT_OBJS_NEW,
	ST_COUNT
};

#define FACT_COLS                                                          \
	"s_model, s_params, s_system, s_input, s_retrieval, s_tools, "        \
	"s_environment, out_digest, status, failed, finish, out_chars, "      \
	"latency_ms, tool_calls, out_tokens"

static const char *const stmt_sql[ST_COUNT] = {
	"INSERT INTO objects(digest, body) VALUES ($1::bytea, $2::bytea) "
	"ON CONFLICT (digest) DO NOTHING",
	"SELECT body FROM objects WHERE digest = $1::bytea",
	"SELECT 1 FROM runs WHERE id = $1::bytea",
	"INSERT INTO runs(id, conditions, recorded_ms, time_ms, model, resolved, "
	"summary, log_idx, " FACT_COLS ") VALUES ($1::bytea, $2::bytea, "
	"$3::int8, $4::int8, $5::text, $6::text, $7::text, $8::int8, $9::bytea, "
	"$10::bytea, $11::bytea, $12::bytea, $13::bytea, $14::bytea, $15::bytea, "
	"$16::bytea, $17::int8, $18::int8, $19::text, $20::int8, $21::int8, "
	"$22::int8, $23::int8) ON CONFLICT (id) DO NOTHING",
	"SELECT id FROM runs WHERE id >= $1::bytea AND id <= $2::bytea "
	"ORDER BY id LIMIT $3::int8",
	"SELECT coalesce(max(idx) + 1, 0)::int8 FROM log_leaves",
	"INSERT INTO log_leaves(idx, run, entry) VALUES ($1::int8, $2::bytea, "
	"$3::bytea)",
	"SELECT l.idx, l.entry FROM runs r JOIN log_leaves l ON l.idx = r.log_idx "
	"WHERE r.id = $1::bytea",
	"SELECT run, entry FROM log_leaves WHERE idx = $1::int8",
	"SELECT hash FROM log_nodes WHERE id = $1::int8",
	"INSERT INTO log_nodes(id, hash) VALUES ($1::int8, $2::bytea) "
	"ON CONFLICT (id) DO UPDATE SET hash = excluded.hash",
	"INSERT INTO checkpoints(size, note) VALUES ($1::int8, $2::text) "
	"ON CONFLICT (size) DO UPDATE SET note = excluded.note",
	"SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
	"SELECT value FROM settings WHERE key = $1::text",
	"INSERT INTO settings(key, value) VALUES ($1::text, $2::text) "
	"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	"SELECT id, hash FROM log_nodes WHERE id = ANY($1::int8[])",
	"SELECT idx, entry FROM log_leaves WHERE idx = ANY($1::int8[])",
	"SELECT entry FROM log_leaves WHERE idx = $1::int8",
	"UPDATE runs SET log_idx = $2::int8 WHERE id = $1::bytea",
	"UPDATE runs SET s_model = $1::bytea, s_params = $2::bytea, "
	"s_system = $3::bytea, s_input = $4::bytea, s_retrieval = $5::bytea, "
	"s_tools = $6::bytea, s_environment = $7::bytea, out_digest = $8::bytea, "
	"status = $9::int8, failed = $10::int8, finish = $11::text, "
	"out_chars = $12::int8, latency_ms = $13::int8, tool_calls = $14::int8, "
	"out_tokens = $15::int8 WHERE id = $16::bytea",
	"INSERT INTO labels(seq, key, value, num, time_ms) SELECT seq, $2::text, "
	"$3::text, $4::float8, $5::int8 FROM runs WHERE id = $1::bytea "
	"ON CONFLICT (seq, key) DO UPDATE SET value = excluded.value, "
	"num = excluded.num, time_ms = excluded.time_ms",
	"DELETE FROM labels WHERE key = $2::text AND seq = (SELECT seq FROM runs "
	"WHERE id = $1::bytea)",
	"SELECT l.key, l.value, l.num, l.time_ms FROM labels l JOIN runs r ON "
	"r.seq = l.seq WHERE r.id = $1::bytea ORDER BY l.key",
	"SELECT seq, id, recorded_ms FROM runs WHERE seq > $1::int8 ORDER BY seq "
	"LIMIT $2::int8",
	"SELECT digest, body FROM objects WHERE digest > $1::bytea ORDER BY "
	"digest LIMIT $2::int8",
	"INSERT INTO objects(digest, body) SELECT d, b FROM "
	"unnest($1::bytea[], $2::bytea[]) AS t(d, b) ON CONFLICT (digest) "
	"DO NOTHING",
	"INSERT INTO log_leaves(idx, run, entry) SELECT i, r, e FROM "
	"unnest($1::int8[], $2::bytea[], $3::bytea[]) AS t(i, r, e)",
	"INSERT INTO log_nodes(id, hash) SELECT i, h FROM "
	"unnest($1::int8[], $2::bytea[]) AS t(i, h) ON CONFLICT (id) DO UPDATE "
	"SET hash = excluded.hash",
	/* the new runs of a batch (under the lock: nobody else inserts),
	 * their log indexes $23, $23 + 1, ... in input order. OFFSET 0 keeps
	 * NOT EXISTS a probe of runs_id_key per row: as an anti join the
	 * planner would hash a sequential scan of all runs for a batch */
	"INSERT INTO runs(id, conditions, recorded_ms, time_ms, model, resolved, "
	"summary, log_idx, " FACT_COLS ") SELECT c1, c2, c3, c4, c5, c6, c7, "
	"$23::int8 + row_number() OVER (ORDER BY o) - 1, c9, c10, c11, c12, c13, "
	"c14, c15, c16, c17, c18, c19, c20, c21, c22, c23 FROM "
	"unnest($1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::text[], "
	"$6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::bytea[], "
	"$11::bytea[], $12::bytea[], $13::bytea[], $14::bytea[], $15::bytea[], "
	"$16::int8[], $17::int8[], $18::text[], $19::int8[], $20::int8[], "
	"$21::int8[], $22::int8[]) WITH ORDINALITY AS t(c1, c2, c3, c4, c5, c6, "
	"c7, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, "
	"c22, c23, o) WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.c1 "
	"OFFSET 0) ORDER BY o RETURNING id, log_idx",
	/* objects without ON CONFLICT's speculative insertion (cheaper):
	 * those not stored yet; one that another transaction is inserting
	 * at the same moment fails the statement (see pg_put_objects) */
	"INSERT INTO objects(digest, body) SELECT d, b FROM "
	"unnest($1::bytea[], $2::bytea[]) AS t(d, b) WHERE NOT EXISTS "
	"(SELECT 1 FROM objects o WHERE o.digest = t.d OFFSET 0)",
};

/* the schema, one step per version: steps[v - 1] makes version v */
static const char *const steps[PG_SCHEMA_VERSION] = {
	/* 1: objects, runs, the log, checkpoints, settings */
	"CREATE TABLE airi_schema(version integer PRIMARY KEY,"
	" applied_ms bigint NOT NULL);"
	"CREATE TABLE objects(digest bytea PRIMARY KEY, body bytea NOT NULL);"
	"CREATE TABLE runs("
	" seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" id bytea NOT NULL UNIQUE,"
	" conditions bytea NOT NULL,"
	" recorded_ms bigint NOT NULL,"
	" time_ms bigint NOT NULL,"
	" model text, resolved text, summary text, log_idx bigint);"
	"CREATE INDEX runs_time ON runs(time_ms, seq);"
	"CREATE INDEX runs_model ON runs(model, time_ms);"
	"CREATE INDEX runs_resolved ON runs(resolved, time_ms);"
	"CREATE INDEX runs_conditions ON runs(conditions);"
	"CREATE TABLE log_leaves(idx bigint PRIMARY KEY, run bytea NOT NULL,"
	" entry bytea NOT NULL);"
	"CREATE TABLE log_nodes(id bigint PRIMARY KEY, hash bytea NOT NULL);"
	"CREATE TABLE checkpoints(size bigint PRIMARY KEY, note text NOT NULL);"
	"CREATE TABLE settings(key text COLLATE \"C\" PRIMARY KEY,"
	" value text NOT NULL);",
	/* 2: each run's facts for cohorts, and labels */
	"ALTER TABLE runs ADD COLUMN s_model bytea, ADD COLUMN s_params bytea,"
	" ADD COLUMN s_system bytea, ADD COLUMN s_input bytea,"
	" ADD COLUMN s_retrieval bytea, ADD COLUMN s_tools bytea,"
	" ADD COLUMN s_environment bytea, ADD COLUMN out_digest bytea,"
	" ADD COLUMN status bigint, ADD COLUMN failed bigint,"
	" ADD COLUMN finish text, ADD COLUMN out_chars bigint,"
	" ADD COLUMN latency_ms bigint, ADD COLUMN tool_calls bigint,"
	" ADD COLUMN out_tokens bigint;"
	"CREATE TABLE labels(seq bigint NOT NULL, key text COLLATE \"C\" NOT NULL,"
	" value text NOT NULL, num double precision, time_ms bigint NOT NULL,"
	" PRIMARY KEY(seq, key));"
	"CREATE INDEX labels_kv ON labels(key, value);"
	"INSERT INTO settings(key, value) SELECT 'facts_backfill', 'pending'"
	" WHERE EXISTS (SELECT 1 FROM runs)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value;",
};

typedef struct pg {
	PGconn *conn;
	char *where;       /* the location, password replaced by *** */
	char *secret[4];   /* password texts to scrub from messages */
	char lock_sql[160]; /* BEGIN, the advisory lock, the log's size */
	int32_t lock_key;   /* the lock's second key: the schema's hash */
	int in_tx;
	int readonly;
	/* the log's size read when the transaction began, until an append */
	int tx_size_ok;
	int64_t tx_size;
	char last_state[6]; /* the SQLSTATE of the last failed statement */
	/* inside a transaction, log leaves and nodes wait here and are
	 * written with one statement each, before anything else is read and
	 * at the commit (only object and run writes and has_run pass them) */
	struct pleaf {
		int64_t idx;
		airi_digest run;
		size_t n;
		char entry[256];
	} *leaves;
	size_t nleaves, cap_leaves;
	struct pnode {
		int64_t id;
		unsigned char hash[AIRI_HASH_SIZE];
	} *nodes;
	size_t nnodes, cap_nodes;
} pg;

#define PEND_ROWS 4096

/* ---- locations and secrets -------------------------------------------- */

static int keyword_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

int airi__pg_location(const char *loc)
{
	if (!loc)
		return 0;
	if (!strncmp(loc, "postgres://", 11) || !strncmp(loc, "postgresql://", 13))
		return 1;
	/* a keyword/value string: the first word is a libpq keyword and an
	 * '=' follows it ("host=/run/pg dbname=airi") */
	const char *p = loc;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *k = p;
	while (keyword_char(*p))
		p++;
	size_t kn = (size_t)(p - k);
	while (*p == ' ' || *p == '\t')
		p++;
	if (!kn || *p != '=')
		return 0;
	int found = 0;
	PQconninfoOption *opts = PQconndefaults();
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strlen(o->keyword) == kn && !strncmp(o->keyword, k, kn))
			found = 1;
	PQconninfoFree(opts);
	return found;
}

static void add_secret(pg *q, const char *s, size_t n)
{
	if (n < 3)
		return; /* scrubbing one or two characters would mangle text */
	for (int i = 0; i < 4; i++)
		if (!q->secret[i]) {
			q->secret[i] = strndup(s, n);
			return;
		}
}

/* The location with the password's text replaced by ***: the userinfo
 * password and password= parameters of a URI, password= of a keyword
 * string. The replaced texts are remembered in q->secret. */
static char *redact(pg *q, const char *loc)
{
	airi__buf b;
	airi__buf_init(&b);
	const char *sep = strstr(loc, "://");
	if (sep) {
		const char *auth = sep + 3;
		size_t an = strcspn(auth, "/?");
		const char *at = NULL;
		for (const char *p = auth; p < auth + an; p++)
			if (*p == '@')
				at = p;
		const char *colon = NULL;
		if (at)
			colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon) {
			airi__buf_add(&b, loc, (size_t)(colon + 1 - loc));
			airi__buf_adds(&b, "***");
			add_secret(q, colon + 1, (size_t)(at - colon - 1));
			airi__buf_add(&b, at, (size_t)(auth + an - at));
		} else {
			airi__buf_add(&b, loc, (size_t)(auth + an - loc));
		}
		const char *p = auth + an;
		while (*p) {
			size_t n = strcspn(p + 1, "&");
			/* p is '/', '?' or '&' */
			if ((*p == '?' || *p == '&') && !strncmp(p + 1, "password=", 9)) {
				airi__buf_add(&b, p, 10);
				airi__buf_adds(&b, "***");
				add_secret(q, p + 10, n - 9);
			} else {
				airi__buf_add(&b, p, n + 1);
			}
			p += n + 1;
		}
	} else {
		const char *p = loc;
		while (*p) {
			const char *start = p;
			while (*p && isspace((unsigned char)*p))
				p++;
			const char *k = p;
			while (*p && !isspace((unsigned char)*p) && *p != '=')
				p++;
			size_t kn = (size_t)(p - k);
			while (*p && isspace((unsigned char)*p))
				p++;
			if (*p != '=') {
				airi__buf_adds(&b, start);
				break;
			}
			p++;
			while (*p && isspace((unsigned char)*p))
				p++;
			const char *v = p;
			if (*p == '\'') {
				p++;
				while (*p && *p != '\'') {
					if (*p == '\\' && p[1])
						p++;
					p++;
				}
				if (*p)
					p++;
			} else {
				while (*p && !isspace((unsigned char)*p))
					p++;
			}
			if (kn == 8 && !strncmp(k, "password", 8)) {
				airi__buf_add(&b, start, (size_t)(v - start));
				airi__buf_adds(&b, "***");
				const char *vs = v, *ve = p;
				if (*vs == '\'' && ve > vs + 1) {
					vs++;
					ve--;
				}
				add_secret(q, vs, (size_t)(ve - vs));
			} else {
				airi__buf_add(&b, start, (size_t)(p - start));
			}
		}
	}
	/* the decoded password too (percent escapes, quotes) */
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(loc, &perr);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val)
			add_secret(q, o->val, strlen(o->val));
	PQconninfoFree(opts);
	PQfreemem(perr);
	if (b.failed) {
		airi__buf_release(&b);
		return NULL;
	}
	return airi__buf_detach(&b, NULL);
}

/* The first line of a libpq message, without any remembered secret. */
static void clean_msg(const pg *q, const char *msg, char *out, size_t cap)
{
	snprintf(out, cap, "%s", msg && *msg ? msg : "unknown error");
	out[strcspn(out, "\n")] = 0;
	for (int i = 0; i < 4 && q->secret[i]; i++) {
		size_t sn = strlen(q->secret[i]);
		char *hit;
		while ((hit = strstr(out, q->secret[i]))) {
			memmove(hit + 3, hit + sn, strlen(hit + sn) + 1);
			memcpy(hit, "***", 3);
		}
	}
}

static int pg_fail_msg(pg *q, airi_error *err, const char *what,
		       const char *msg)
{
	char m[512];
	clean_msg(q, msg, m, sizeof(m));
	return airi__err(err, AIRI_ESTORE, "store %s: %s: %s",
			 q->where ? q->where : "?", what, m);
}

static int pg_fail(pg *q, airi_error *err, const char *what,
		   const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	if (!m || !*m)
		m = PQerrorMessage(q->conn);
	return pg_fail_msg(q, err, what, m);
}

/* ---- parameters and results -------------------------------------------- */

struct prm {
	int n, cap, failed;
	const char **v;
	int *len, *fmt;
	char (*num)[32];
	unsigned char *isnum;
};

static void prm_init(struct prm *p)
{
	memset(p, 0, sizeof(*p));
}

static void prm_free(struct prm *p)
{
	free(p->v);
	free(p->len);
	free(p->fmt);
	free(p->num);
	free(p->isnum);
	memset(p, 0, sizeof(*p));
}

static int prm_slot(struct prm *p)
{
	if (p->failed)
		return -1;
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 32;
		const char **v = realloc(p->v, (size_t)cap * sizeof(*v));
		if (v)
			p->v = v;
		int *len = realloc(p->len, (size_t)cap * sizeof(*len));
		if (len)
			p->len = len;
		int *fmt = realloc(p->fmt, (size_t)cap * sizeof(*fmt));
		if (fmt)
			p->fmt = fmt;
		char (*num)[32] = realloc(p->num, (size_t)cap * sizeof(*num));
		if (num)
			p->num = num;
		unsigned char *isnum = realloc(p->isnum, (size_t)cap);
		if (isnum)
			p->isnum = isnum;
		if (!v || !len || !fmt || !num || !isnum) {
			p->failed = 1;
			return -1;
		}
		p->cap = cap;
	}
	return p->n++;
}

static void p_bytes(struct prm *p, const void *b, size_t n)
{
	int i = prm_slot(p);
	if (i < 0)
		return;
	p->v[i] = n ? b : "";
	p->len[i] = (int)n;
	p->fmt[i] = 1;
	p->isnum[i] = 0;
}

static void p_digest(struct prm *p, const airi_digest *d)
{
	p_bytes(p, d->bytes, AIRI_DIGEST_SIZE);
}

/* a text parameter; NULL is SQL NULL */
static void p_text(struct prm *p, const char *s)
{
	int i = prm_slot(p);
	if (i < 0)
		return;
	p->v[i] = s;
	p->len[i] = 0;
	p->fmt[i] = 0;
	p->isnum[i] = 0;
}

static void p_null(struct prm *p)
{
	p_text(p, NULL);
}

static void p_int(struct prm *p, int64_t x)
{
	int i = prm_slot(p);
	if (i < 0)
		return;
	snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)x);
	p->v[i] = NULL;
	p->len[i] = 0;
	p->fmt[i] = 0;
	p->isnum[i] = 1;
}

/* x < 0 is NULL (the facts' "unknown"), as arr_int8_or_null */
static void p_int_or_null(struct prm *p, int64_t x)
{
	if (x >= 0)
		p_int(p, x);
	else
		p_null(p);
}

static void p_real(struct prm *p, double x)
{
	int i = prm_slot(p);
	if (i < 0)
		return;
	snprintf(p->num[i], sizeof(p->num[i]), "%.17g", x);
	p->v[i] = NULL;
	p->len[i] = 0;
	p->fmt[i] = 0;
	p->isnum[i] = 1;
}

/* numbers live in p->num, which may move while growing: point at them
 * only now */
static void prm_fix(struct prm *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->isnum[i])
			p->v[i] = p->num[i];
}

static int64_t g_int(const PGresult *r, int row, int col, int64_t dflt)
{
	if (PQgetisnull(r, row, col))
		return dflt;
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col);
	uint64_t v = 0;
	if (n != 8 && n != 4 && n != 2)
		return dflt;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	if (n == 2)
		return (int16_t)(uint16_t)v;
	return (int64_t)v;
}

static double g_real(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	uint64_t v = 0;
	double d = 0;
	if (PQgetlength(r, row, col) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	memcpy(&d, &v, sizeof(d));
	return d;
}

static int g_digest(const PGresult *r, int row, int col, airi_digest *d)
{
	if (PQgetisnull(r, row, col) ||
	    PQgetlength(r, row, col) != AIRI_DIGEST_SIZE)
		return 0;
	memcpy(d->bytes, PQgetvalue(r, row, col), AIRI_DIGEST_SIZE);
	return 1;
}

/* text (NUL-terminated by libpq in either format) or NULL */
static const char *g_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int g_copy(const PGresult *r, int row, int col, char **out,
		  size_t *n, airi_error *err)
{
	size_t len = (size_t)PQgetlength(r, row, col);
	char *b = malloc(len + 1);
	if (!b)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	if (len)
		memcpy(b, PQgetvalue(r, row, col), len);
	b[len] = 0;
	*out = b;
	*n = len;
	return 0;
}

/* one-dimensional arrays in PostgreSQL's binary form (array_recv) */
#define BYTEAOID 17
#define INT8OID 20
#define TEXTOID 25

static void be32(airi__buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	airi__buf_add(b, x, 4);
}

static void arr_begin(airi__buf *b, uint32_t elemtype, size_t n)
{
	be32(b, 1); /* dimensions */
	be32(b, 0); /* the NULLs flag (the server looks at the elements) */
	be32(b, elemtype);
	be32(b, (uint32_t)n);
	be32(b, 1); /* lower bound */
}

static void arr_bytes(airi__buf *b, const void *p, size_t n)
{
	be32(b, (uint32_t)n);
	airi__buf_add(b, p, n);
}

static void arr_int8(airi__buf *b, int64_t v)
{
	be32(b, 8);
	be32(b, (uint32_t)((uint64_t)v >> 32));
	be32(b, (uint32_t)v);
}

static void arr_null(airi__buf *b)
{
	be32(b, 0xFFFFFFFFu); /* length -1 */
}

/* NULL text is NULL */
static void arr_text(airi__buf *b, const char *s)
{
	if (s)
		arr_bytes(b, s, strlen(s));
	else
		arr_null(b);
}

/* x < 0 is NULL (the facts' "unknown") */
static void arr_int8_or_null(airi__buf *b, int64_t x)
{
	if (x >= 0)
		arr_int8(b, x);
	else
		arr_null(b);
}

/* ---- connection --------------------------------------------------------- */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int prepare_all(pg *q, airi_error *err)
{
	for (int i = 0; i < ST_COUNT; i++) {
		char name[16];
		snprintf(name, sizeof(name), "airi_%d", i);
		PGresult *r = PQprepare(q->conn, name, stmt_sql[i], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			int rc = pg_fail(q, err, "not an airi store", r);
			PQclear(r);
			return rc;
		}
		PQclear(r);
	}
	return 0;
}

/* One simple statement (no parameters, text results) */
static int simple(pg *q, const char *sql, PGresult **out, const char *what,
		  airi_error *err)
{
	PGresult *r = PQexec(q->conn, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int rc = pg_fail(q, err, what, r);
		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* the current schema names the advisory lock; none: nowhere to write */
static int session_setup(pg *q, airi_error *err)
{
	PGresult *r = NULL;
	int rc;
	PQsetNoticeProcessor(q->conn, quiet, NULL);
	if ((rc = simple(q, "SELECT current_schema()", &r, "cannot start",
			 err)))
		return rc;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return airi__err(err, AIRI_ESTORE,
				 "store %s: no schema to keep the store in (the "
				 "search_path names no existing schema)",
				 q->where);
	}
	q->lock_key = (int32_t)fnv1a(PQgetvalue(r, 0, 0));
	snprintf(q->lock_sql, sizeof(q->lock_sql),
		 "BEGIN; SELECT pg_advisory_xact_lock(%d, %d); "
		 "SELECT coalesce(max(idx) + 1, 0) FROM log_leaves",
		 LOCK_CLASS, q->lock_key);
	PQclear(r);
	if (q->readonly &&
	    (rc = simple(q, "SET default_transaction_read_only = on", NULL,
			 "cannot start", err)))
		return rc;
	return 0;
}

static int connect_to(pg *q, const char *location, airi_error *err)
{
	/* defaults first: the location's own settings override them; the
	 * client encoding is always UTF-8 (manifest text is) */
	static const char *const kw[] = {
		"connect_timeout", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"dbname", "client_encoding", NULL};
	const char *val[] = {"10", "airi", "1", "30", "10", "3",
			     location, "UTF8", NULL};
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(location, &perr);
	if (!opts) {
		char m[400];
		int rc;
		if (!perr)
			return airi__err(err, AIRI_ENOMEM, "out of memory");
		clean_msg(q, perr, m, sizeof(m));
		rc = airi__err(err, AIRI_EINVAL,
			       "invalid PostgreSQL location %s: %s", q->where, m);
		PQfreemem(perr);
		return rc;
	}
	PQconninfoFree(opts);
	q->conn = PQconnectdbParams(kw, val, 1);
	if (!q->conn)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	if (PQstatus(q->conn) != CONNECTION_OK)
		return pg_fail_msg(q, err, "cannot connect",
				   PQerrorMessage(q->conn));
	return session_setup(q, err);
}

/* Outside a transaction a lost connection is re-established (the server
 * restarted, a proxy in between dropped it). */
static int ensure(pg *q, airi_error *err)
{
	if (PQstatus(q->conn) == CONNECTION_OK || q->in_tx)
		return 0;
	PQreset(q->conn);
	if (PQstatus(q->conn) != CONNECTION_OK)
		return pg_fail_msg(q, err, "cannot reconnect",
				   PQerrorMessage(q->conn));
	int rc = session_setup(q, err);
	return rc ? rc : prepare_all(q, err);
}

static int check_result(pg *q, PGresult *r, PGresult **out, const char *what,
			airi_error *err)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = r;
		else
			PQclear(r);
		return 0;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(q->last_state, sizeof(q->last_state), "%s", state ? state : "");
	int rc = pg_fail(q, err, what, r);
	PQclear(r);
	return rc;
}

/* A prepared statement; results in binary. Outside a transaction a
 * statement that failed because the connection was lost is tried once
 * more on a new connection. */
static int run_raw(pg *q, int st, struct prm *p, PGresult **out,
		   const char *what, airi_error *err)
{
	char name[16];
	int rc;
	snprintf(name, sizeof(name), "airi_%d", st);
	if (p && p->failed)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	if (p)
		prm_fix(p);
	for (int attempt = 0;; attempt++) {
		if ((rc = ensure(q, err)))
			return rc;
		PGresult *r = PQexecPrepared(q->conn, name, p ? p->n : 0,
					     p ? p->v : NULL, p ? p->len : NULL,
					     p ? p->fmt : NULL, 1);
		ExecStatusType s = PQresultStatus(r);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK &&
		    PQstatus(q->conn) == CONNECTION_BAD && !q->in_tx &&
		    attempt == 0) {
			PQclear(r);
			continue;
		}
		return check_result(q, r, out, what, err);
	}
}

/* The parameters of the statements that write the log leaves and nodes
 * waiting in the transaction (0: none waits), in bufs a[0..2] and b[0..1]
 * that the caller releases. */
static int log_params(pg *q, airi__buf a[3], struct prm *pl, airi__buf b[2],
		      struct prm *pn)
{
	int failed = 0;
	for (int k = 0; k < 3; k++)
		airi__buf_init(&a[k]);
	for (int k = 0; k < 2; k++)
		airi__buf_init(&b[k]);
	prm_init(pl);
	prm_init(pn);
	if (q->nleaves) {
		arr_begin(&a[0], INT8OID, q->nleaves);
		arr_begin(&a[1], BYTEAOID, q->nleaves);
		arr_begin(&a[2], BYTEAOID, q->nleaves);
		for (size_t i = 0; i < q->nleaves; i++) {
			arr_int8(&a[0], q->leaves[i].idx);
			arr_bytes(&a[1], q->leaves[i].run.bytes, AIRI_DIGEST_SIZE);
			arr_bytes(&a[2], q->leaves[i].entry, q->leaves[i].n);
		}
		for (int k = 0; k < 3; k++) {
			p_bytes(pl, a[k].p, a[k].n);
			failed |= a[k].failed;
		}
	}
	if (q->nnodes) {
		arr_begin(&b[0], INT8OID, q->nnodes);
		arr_begin(&b[1], BYTEAOID, q->nnodes);
		for (size_t i = 0; i < q->nnodes; i++) {
			arr_int8(&b[0], q->nodes[i].id);
			arr_bytes(&b[1], q->nodes[i].hash, AIRI_HASH_SIZE);
		}
		for (int k = 0; k < 2; k++) {
			p_bytes(pn, b[k].p, b[k].n);
			failed |= b[k].failed;
		}
	}
	return failed || pl->failed || pn->failed ? AIRI_ENOMEM : 0;
}

static void log_params_release(airi__buf a[3], struct prm *pl, airi__buf b[2],
			       struct prm *pn)
{
	for (int k = 0; k < 3; k++)
		airi__buf_release(&a[k]);
	for (int k = 0; k < 2; k++)
		airi__buf_release(&b[k]);
	prm_free(pl);
	prm_free(pn);
}

/* Writes the log leaves and nodes waiting in the transaction. */
static int flush_log(pg *q, airi_error *err)
{
	airi__buf a[3], b[2];
	struct prm pl, pn;
	int rc = 0;
	if (!q->nleaves && !q->nnodes)
		return 0;
	if (log_params(q, a, &pl, b, &pn))
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	if (!rc && q->nleaves)
		rc = run_raw(q, ST_PUT_LEAVES, &pl, NULL,
			     "cannot append to the log", err);
	if (!rc && q->nnodes)
		rc = run_raw(q, ST_PUT_NODES, &pn, NULL, "cannot write the log",
			     err);
	log_params_release(a, &pl, b, &pn);
	q->nleaves = q->nnodes = 0;
	return rc;
}

/* COMMIT's answer: "ROLLBACK" when the transaction had failed */
static int commit_result(pg *q, PGresult *r, airi_error *err)
{
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_fail(q, err, "cannot commit", r);
	if (strcmp(PQcmdStatus(r), "COMMIT"))
		return airi__err(err, AIRI_ESTORE,
				 "store %s: the transaction failed and was "
				 "rolled back",
				 q->where);
	return 0;
}

/*
 * The waiting log leaves and nodes and the COMMIT, sent together in one
 * pipeline (libpq pipeline mode): one round trip instead of three while
 * the store's lock is held. The server runs them in order and skips what
 * follows a failure, so the COMMIT only happens when both writes did.
 */
static int commit_pipelined(pg *q, airi_error *err)
{
	airi__buf a[3], b[2];
	struct prm pl, pn;
	const char *what[3];
	int rc = 0, queued = 0, got = 0, nulls = 0, ok = 1;
	char lname[16], nname[16];
	snprintf(lname, sizeof(lname), "airi_%d", ST_PUT_LEAVES);
	snprintf(nname, sizeof(nname), "airi_%d", ST_PUT_NODES);
	if (log_params(q, a, &pl, b, &pn)) {
		log_params_release(a, &pl, b, &pn);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	prm_fix(&pl);
	prm_fix(&pn);
	if (PQenterPipelineMode(q->conn) != 1) {
		log_params_release(a, &pl, b, &pn);
		return pg_fail(q, err, "cannot commit", NULL);
	}
	/* queued in order, and nothing after a query that could not be: the
	 * COMMIT only when both writes are queued */
	if (q->nleaves) {
		ok = PQsendQueryPrepared(q->conn, lname, pl.n, pl.v, pl.len,
					 pl.fmt, 1);
		if (ok)
			what[queued++] = "cannot append to the log";
	}
	if (ok && q->nnodes) {
		ok = PQsendQueryPrepared(q->conn, nname, pn.n, pn.v, pn.len,
					 pn.fmt, 1);
		if (ok)
			what[queued++] = "cannot write the log";
	}
	if (ok) {
		ok = PQsendQueryParams(q->conn, "COMMIT", 0, NULL, NULL, NULL,
				       NULL, 0);
		if (ok)
			what[queued++] = NULL;
	}
	PQpipelineSync(q->conn); /* fails only with the connection */
	log_params_release(a, &pl, b, &pn);
	q->nleaves = q->nnodes = 0;
	/* one result per queued query, NULL after each, then the sync */
	for (;;) {
		PGresult *r = PQgetResult(q->conn);
		if (!r) {
			if (PQstatus(q->conn) == CONNECTION_BAD ||
			    ++nulls > queued + 1)
				break;
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (got < queued && !rc) {
			if (!what[got])
				rc = commit_result(q, r, err);
			else if (st != PGRES_COMMAND_OK)
				rc = pg_fail(q, err, what[got], r);
		}
		got++;
		PQclear(r);
	}
	if (!rc && (!ok || got < queued))
		rc = pg_fail(q, err, "cannot commit", NULL);
	if (PQexitPipelineMode(q->conn) != 1 && !rc)
		rc = pg_fail(q, err, "cannot commit", NULL);
	return rc;
}

/* A prepared statement, after what waits in the transaction (unless it
 * neither reads nor depends on the log) */
static int run(pg *q, int st, struct prm *p, PGresult **out, const char *what,
	       airi_error *err)
{
	int rc;
	if (st != ST_PUT_OBJ && st != ST_PUT_OBJS && st != ST_PUT_OBJS_NEW &&
	    st != ST_PUT_RUN &&
	    st != ST_HAS_RUN && st != ST_PUT_RUNS &&
	    (rc = flush_log(q, err)))
		return rc;
	return run_raw(q, st, p, out, what, err);
}

/* A statement built at run time (filters), with out-of-line parameters */
static int run_sql(pg *q, const char *sql, struct prm *p, PGresult **out,
		   const char *what, airi_error *err)
{
	int rc;
	if (p->failed)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	if ((rc = flush_log(q, err)))
		return rc;
	prm_fix(p);
	for (int attempt = 0;; attempt++) {
		if ((rc = ensure(q, err)))
			return rc;
		PGresult *r = PQexecParams(q->conn, sql, p->n, NULL, p->v,
					   p->len, p->fmt, 1);
		ExecStatusType s = PQresultStatus(r);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK &&
		    PQstatus(q->conn) == CONNECTION_BAD && !q->in_tx &&
		    attempt == 0) {
			PQclear(r);
			continue;
		}
		return check_result(q, r, out, what, err);
	}
}

/* A statement built at run time in sql, unless building it ran out of
 * memory; the text and the parameters are released either way */
static int run_built(pg *q, airi__buf *sql, struct prm *p, PGresult **out,
		     const char *what, airi_error *err)
{
	int rc;
	if (sql->failed)
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	else
		rc = run_sql(q, sql->p, p, out, what, err);
	airi__buf_release(sql);
	prm_free(p);
	return rc;
}

/* The lookups by one key: a prepared statement with a single parameter,
 * a digest (bytea) or an integer (int8) */
static int run_digest(pg *q, int st, const airi_digest *d, PGresult **out,
		      const char *what, airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_digest(&p, d);
	int rc = run(q, st, &p, out, what, err);
	prm_free(&p);
	return rc;
}

static int run_int(pg *q, int st, int64_t x, PGresult **out,
		   const char *what, airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_int(&p, x);
	int rc = run(q, st, &p, out, what, err);
	prm_free(&p);
	return rc;
}

/* A copy of the text in column col of the one row of r ("" for NULL), or
 * AIRI_ENOTFOUND (without a message) when there is no such row */
static int g_one_text(const PGresult *r, int col, char **out,
		      airi_error *err)
{
	if (PQntuples(r) != 1)
		return AIRI_ENOTFOUND;
	const char *t = g_text(r, 0, col);
	if (!(*out = strdup(t ? t : "")))
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	return 0;
}

/* ---- schema ------------------------------------------------------------- */

/* 0 when there is no store here */
static int schema_version(pg *q, int *ver, airi_error *err)
{
	PGresult *r = NULL;
	int rc;
	*ver = 0;
	if ((rc = simple(q, "SELECT to_regclass('airi_schema') IS NOT NULL", &r,
			 "cannot read the schema version", err)))
		return rc;
	int exists = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (!exists)
		return 0;
	if ((rc = simple(q, "SELECT coalesce(max(version), 0) FROM airi_schema",
			 &r, "cannot read the schema version", err)))
		return rc;
	if (PQntuples(r) == 1)
		*ver = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Brings the schema to `target`, each step in its own transaction. The
 * store's lock is taken for the session first and each transaction begins
 * after it is held: a transaction's start takes in the catalog changes
 * other sessions committed (a table another migrator just created), which
 * a transaction already open when they committed might not see. */
static int upgrade(pg *q, int target, int *from, airi_error *err)
{
	int rc, ver = 0;
	char sql[128];
	*from = -1;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d, %d)", LOCK_CLASS,
		 q->lock_key);
	if ((rc = simple(q, sql, NULL, "cannot migrate", err)))
		return rc;
	for (;;) {
		if ((rc = simple(q, "BEGIN", NULL, "cannot migrate", err)) ||
		    (rc = schema_version(q, &ver, err)))
			goto fail;
		if (*from < 0)
			*from = ver;
		if (ver > PG_SCHEMA_VERSION) {
			rc = airi__err(err, AIRI_ESCHEMA,
				       "store %s has schema version %d; this "
				       "airi understands up to %d (upgrade airi)",
				       q->where, ver, PG_SCHEMA_VERSION);
			goto fail;
		}
		if (ver >= target)
			break;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO airi_schema(version, applied_ms) VALUES "
			 "(%d, %lld)",
			 ver + 1, (long long)wall_ms());
		if ((rc = simple(q, steps[ver], NULL, "cannot migrate", err)) ||
		    (rc = simple(q, sql, NULL, "cannot migrate", err)) ||
		    (rc = simple(q, "COMMIT", NULL, "cannot migrate", err)))
			goto fail;
	}
	rc = simple(q, "COMMIT", NULL, "cannot migrate", err);
	if (0) {
fail:
		PQclear(PQexec(q->conn, "ROLLBACK"));
	}
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)",
		 LOCK_CLASS, q->lock_key);
	PQclear(PQexec(q->conn, sql));
	return rc;
}

/* ---- open and close ----------------------------------------------------- */

static void pg_close(void *impl)
{
	pg *q = impl;
	if (!q)
		return;
	if (q->conn)
		PQfinish(q->conn);
	free(q->where);
	for (int i = 0; i < 4; i++)
		free(q->secret[i]);
	free(q->leaves);
	free(q->nodes);
	free(q);
}

static int pg_connect(const char *location, int readonly, pg **out,
		      airi_error *err)
{
	pg *q = calloc(1, sizeof(*q));
	int rc;
	if (!q)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	q->readonly = readonly;
	if (!(q->where = redact(q, location))) {
		pg_close(q);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	if ((rc = connect_to(q, location, err))) {
		pg_close(q);
		return rc;
	}
	*out = q;
	return 0;
}

static int pg_open(const char *location, unsigned flags, void **impl,
		   airi_error *err)
{
	pg *q = NULL;
	int rc, ver, from;
	if ((rc = pg_connect(location, (flags & AIRI_STORE_READONLY) != 0, &q,
			     err)))
		return rc;
	if ((rc = schema_version(q, &ver, err)))
		goto fail;
	if (ver > 0 && ver < PG_SCHEMA_VERSION) {
		/* another process may be creating or migrating the store
		 * right now (its lock is held through all the steps): read
		 * the version again once that is over */
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d, %d)",
			 LOCK_CLASS, q->lock_key);
		if ((rc = simple(q, sql, NULL, "cannot read the schema", err)))
			goto fail;
		rc = schema_version(q, &ver, err);
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)",
			 LOCK_CLASS, q->lock_key);
		PQclear(PQexec(q->conn, sql));
		if (rc)
			goto fail;
	}
	if (ver > PG_SCHEMA_VERSION) {
		rc = airi__err(err, AIRI_ESCHEMA,
			       "store %s has schema version %d; this airi "
			       "understands up to %d (upgrade airi)",
			       q->where, ver, PG_SCHEMA_VERSION);
		goto fail;
	}
	if (ver == 0) {
		if (!(flags & AIRI_STORE_CREATE) || (flags & AIRI_STORE_READONLY)) {
			rc = airi__err(err, AIRI_ENOTFOUND,
				       "no store at %s (record a run first, or "
				       "pass --store)",
				       q->where);
			goto fail;
		}
		/* an empty database or schema: create the store */
		if ((rc = upgrade(q, PG_SCHEMA_VERSION, &from, err)))
			goto fail;
	} else if (ver < PG_SCHEMA_VERSION) {
		rc = airi__err(err, AIRI_ESCHEMA,
			       "store %s has schema version %d; this airi needs "
			       "version %d: run airi store migrate",
			       q->where, ver, PG_SCHEMA_VERSION);
		goto fail;
	}
	if ((rc = prepare_all(q, err)))
		goto fail;
	*impl = q;
	return 0;
fail:
	pg_close(q);
	return rc;
}

static int pg_migrate(const char *location, int target, int *from, int *to,
		      airi_error *err)
{
	pg *q = NULL;
	int rc;
	if (target <= 0 || target > PG_SCHEMA_VERSION)
		target = PG_SCHEMA_VERSION;
	if ((rc = pg_connect(location, 0, &q, err)))
		return rc;
	rc = upgrade(q, target, from, err);
	if (!rc)
		rc = schema_version(q, to, err);
	pg_close(q);
	return rc;
}

/* ---- transactions ------------------------------------------------------- */

static int pg_begin(void *impl, airi_error *err)
{
	pg *q = impl;
	int rc;
	if ((rc = ensure(q, err)))
		return rc;
	/* the store's write lock, held until COMMIT or ROLLBACK, and the
	 * log's size under it (every writer asks next), in one round trip */
	PGresult *r = NULL;
	if ((rc = simple(q, q->lock_sql, &r, "cannot begin a transaction",
			 err))) {
		if (PQtransactionStatus(q->conn) != PQTRANS_IDLE)
			PQclear(PQexec(q->conn, "ROLLBACK"));
		return rc;
	}
	q->tx_size_ok = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
	q->tx_size = q->tx_size_ok ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	q->in_tx = 1;
	return 0;
}

static int pg_commit(void *impl, airi_error *err)
{
	pg *q = impl;
	int rc;
	if (q->nleaves || q->nnodes) {
		/* the caller rolls back on failure */
		if ((rc = commit_pipelined(q, err)))
			return rc;
	} else {
		PGresult *r = PQexec(q->conn, "COMMIT");
		rc = commit_result(q, r, err);
		PQclear(r);
		if (rc)
			return rc;
	}
	q->in_tx = 0;
	q->tx_size_ok = 0;
	return 0;
}

static void pg_rollback(void *impl)
{
	pg *q = impl;
	PGTransactionStatusType t = PQtransactionStatus(q->conn);
	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		PQclear(PQexec(q->conn, "ROLLBACK"));
	q->in_tx = 0;
	q->tx_size_ok = 0;
	q->nleaves = q->nnodes = 0;
}

/* ---- objects and runs --------------------------------------------------- */

static int pg_put_object(void *impl, const airi_digest *d, const void *body,
			 size_t n, airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_digest(&p, d);
	p_bytes(&p, body, n);
	int rc = run(impl, ST_PUT_OBJ, &p, NULL, "cannot store object", err);
	prm_free(&p);
	return rc;
}

/* many objects in statements of up to 8192 rows or 16 MiB */
static int put_objects_in_tx(pg *q, int st, const struct pending_obj *objs,
			     size_t n, int savepoint, airi_error *err)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t k = 0, bytes = 0;
		while (i + k < n && k < 8192 && bytes < ((size_t)16 << 20))
			bytes += objs[i + k++].n;
		airi__buf a[2];
		struct prm p;
		airi__buf_init(&a[0]);
		airi__buf_init(&a[1]);
		arr_begin(&a[0], BYTEAOID, k);
		arr_begin(&a[1], BYTEAOID, k);
		for (size_t j = i; j < i + k; j++) {
			arr_bytes(&a[0], objs[j].d.bytes, AIRI_DIGEST_SIZE);
			arr_bytes(&a[1], objs[j].body, objs[j].n);
		}
		prm_init(&p);
		p_bytes(&p, a[0].p, a[0].n);
		p_bytes(&p, a[1].p, a[1].n);
		if (a[0].failed || a[1].failed)
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		else if (!savepoint)
			rc = run(q, st, &p, NULL, "cannot store objects", err);
		else
			/* in the caller's transaction: a deadlock with another
			 * writer's objects (this transaction's earlier
			 * statements hold keys out of that one's order) undoes
			 * only this statement, which is tried again */
			for (int tries = 0;; tries++) {
				if ((rc = simple(q, "SAVEPOINT airi_objects", NULL,
						 "cannot store objects", err)))
					break;
				q->last_state[0] = 0;
				rc = run(q, st, &p, NULL, "cannot store objects", err);
				if (!rc || strcmp(q->last_state, "40P01") || tries >= 4) {
					if (!rc)
						rc = simple(q, "RELEASE SAVEPOINT airi_objects",
							    NULL, "cannot store objects", err);
					break;
				}
				if ((rc = simple(q, "ROLLBACK TO SAVEPOINT airi_objects",
						 NULL, "cannot store objects", err)))
					break;
			}
		prm_free(&p);
		airi__buf_release(&a[0]);
		airi__buf_release(&a[1]);
		i += k;
	}
	return rc;
}

/* one transaction of objects; *raced: it failed because another
 * transaction inserted one of them at the same time */
static int objects_tx(pg *q, int st, const struct pending_obj *objs, size_t n,
		      int *raced, airi_error *err)
{
	int rc;
	*raced = 0;
	if ((rc = ensure(q, err)) ||
	    (rc = simple(q, "BEGIN; SET LOCAL synchronous_commit = off", NULL,
			 "cannot store objects", err))) {
		if (PQtransactionStatus(q->conn) != PQTRANS_IDLE)
			PQclear(PQexec(q->conn, "ROLLBACK"));
		return rc;
	}
	q->in_tx = 1;
	q->last_state[0] = 0;
	rc = put_objects_in_tx(q, st, objs, n, 0, err);
	q->in_tx = 0;
	/* unique_violation: the statement lost a race; deadlock_detected:
	 * another transaction holds some of the same keys in another order
	 * (a whole-file import's objects, chunk after chunk) */
	if (rc && (!strcmp(q->last_state, "23505") || !strcmp(q->last_state, "40P01")))
		*raced = 1;
	if (!rc) {
		PGresult *r = PQexec(q->conn, "COMMIT");
		rc = commit_result(q, r, err);
		PQclear(r);
	}
	if (rc && PQtransactionStatus(q->conn) != PQTRANS_IDLE)
		PQclear(PQexec(q->conn, "ROLLBACK"));
	return rc;
}

/*
 * Objects outside a transaction (a batch's, written before its run rows
 * take the store's lock) go in a transaction of their own that does not
 * wait for its commit record to reach the disk (synchronous_commit off):
 * the WAL is flushed in order, so the run rows' commit, which is
 * synchronous and comes later on this connection, makes these objects
 * durable before any run that names them is acknowledged. A crash before
 * that loses objects that no stored run names. They are inserted where
 * missing, without ON CONFLICT; when another writer inserts one of them
 * at the same moment, or holds some of them in another order (a
 * deadlock), the transaction fails and is done again with ON CONFLICT DO
 * NOTHING (a few times at most).
 */
static int pg_put_objects(void *impl, const struct pending_obj *objs, size_t n,
			  airi_error *err)
{
	pg *q = impl;
	int rc, raced;
	if (q->in_tx)
		return put_objects_in_tx(q, ST_PUT_OBJS, objs, n, 1, err);
	rc = objects_tx(q, ST_PUT_OBJS_NEW, objs, n, &raced, err);
	for (int tries = 0; rc && raced && tries < 5; tries++)
		rc = objects_tx(q, ST_PUT_OBJS, objs, n, &raced, err);
	return rc;
}

static int pg_get_object(void *impl, const airi_digest *d, char **body,
			 size_t *n, airi_error *err)
{
	PGresult *r = NULL;
	int rc = run_digest(impl, ST_GET_OBJ, d, &r, "cannot read object", err);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		rc = g_copy(r, 0, 0, body, n, err);
	} else {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(d, h);
		rc = airi__err(err, AIRI_ENOTFOUND, "no object %s in the store", h);
	}
	PQclear(r);
	return rc;
}

static int pg_has_run(void *impl, const airi_digest *run_id, int *found,
		      airi_error *err)
{
	PGresult *r = NULL;
	int rc = run_digest(impl, ST_HAS_RUN, run_id, &r, "cannot look up run",
			    err);
	if (rc)
		return rc;
	*found = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

/* the facts as 15 parameters, in FACT_COLS order */
static void bind_facts(struct prm *p, const struct airi__facts *f)
{
	for (int k = 0; k < AIRI__NSTD; k++) {
		if (f && f->has_sec[k])
			p_digest(p, &f->sec[k]);
		else
			p_null(p);
	}
	if (f && f->has_out)
		p_digest(p, &f->out);
	else
		p_null(p);
	p_int_or_null(p, f ? f->status : -1);
	if (f)
		p_int(p, f->failed);
	else
		p_null(p);
	p_text(p, f && f->finish[0] ? f->finish : NULL);
	p_int_or_null(p, f ? f->out_chars : -1);
	p_int_or_null(p, f ? f->latency_ms : -1);
	if (f)
		p_int(p, f->tool_calls);
	else
		p_null(p);
	p_int_or_null(p, f ? f->out_tokens : -1);
}

static int pg_set_facts(void *impl, const airi_digest *run_id,
			const struct airi__facts *f, airi_error *err)
{
	struct prm p;
	prm_init(&p);
	bind_facts(&p, f);
	p_digest(&p, run_id);
	int rc = run(impl, ST_SET_FACTS, &p, NULL, "cannot update run facts",
		     err);
	prm_free(&p);
	return rc;
}

static int pg_put_run(void *impl, const struct airi__run_row *row,
		      int *created, airi_error *err)
{
	struct prm p;
	PGresult *r = NULL;
	prm_init(&p);
	p_digest(&p, &row->run);
	p_digest(&p, &row->conditions);
	p_int(&p, row->recorded_ms);
	p_int(&p, row->time_ms);
	p_text(&p, row->model);
	p_text(&p, row->resolved);
	p_text(&p, row->summary);
	p_int(&p, (int64_t)row->log_index);
	bind_facts(&p, row->facts);
	int rc = run(impl, ST_PUT_RUN, &p, &r, "cannot store run", err);
	prm_free(&p);
	if (rc)
		return rc;
	*created = atoi(PQcmdTuples(r)) > 0;
	PQclear(r);
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct airi__run_row *x = *(const struct airi__run_row *const *)a;
	const struct airi__run_row *y = *(const struct airi__run_row *const *)b;
	return memcmp(x->run.bytes, y->run.bytes, AIRI_DIGEST_SIZE);
}

/*
 * A batch of run rows in one statement: 22 arrays, one per column,
 * unnested in input order; the rows whose run is not stored yet are
 * inserted with consecutive log indexes from `first`, and the statement
 * returns their IDs and indexes. It runs under the store's lock, which
 * every insert into runs holds, so no run can appear between the check
 * and the insert (if one did, the unique index would refuse it and the
 * transaction fail).
 */
static int pg_put_runs(void *impl, struct airi__run_row *rows, size_t n,
		       uint64_t first, int *created, airi_error *err)
{
	pg *q = impl;
	enum { NCOL = 22 };
	static const uint32_t type[NCOL] = {
		BYTEAOID, BYTEAOID, INT8OID,  INT8OID,  TEXTOID,  TEXTOID,
		TEXTOID,  BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID,
		BYTEAOID, BYTEAOID, BYTEAOID, INT8OID,  INT8OID,  TEXTOID,
		INT8OID,  INT8OID,  INT8OID,  INT8OID};
	airi__buf a[NCOL];
	struct airi__run_row **sorted;
	struct prm p;
	PGresult *r = NULL;
	int rc, failed = 0;
	for (size_t i = 0; i < n; i++)
		created[i] = 0;
	if (!n)
		return 0;
	for (int c = 0; c < NCOL; c++) {
		airi__buf_init(&a[c]);
		arr_begin(&a[c], type[c], n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct airi__run_row *w = &rows[i];
		const struct airi__facts *f = w->facts;
		arr_bytes(&a[0], w->run.bytes, AIRI_DIGEST_SIZE);
		arr_bytes(&a[1], w->conditions.bytes, AIRI_DIGEST_SIZE);
		arr_int8(&a[2], w->recorded_ms);
		arr_int8(&a[3], w->time_ms);
		arr_text(&a[4], w->model);
		arr_text(&a[5], w->resolved);
		arr_text(&a[6], w->summary);
		/* the facts as bind_facts() gives them */
		for (int k = 0; k < AIRI__NSTD; k++) {
			if (f && f->has_sec[k])
				arr_bytes(&a[7 + k], f->sec[k].bytes,
					  AIRI_DIGEST_SIZE);
			else
				arr_null(&a[7 + k]);
		}
		if (f && f->has_out)
			arr_bytes(&a[14], f->out.bytes, AIRI_DIGEST_SIZE);
		else
			arr_null(&a[14]);
		arr_int8_or_null(&a[15], f ? f->status : -1);
		if (f)
			arr_int8(&a[16], f->failed);
		else
			arr_null(&a[16]);
		arr_text(&a[17], f && f->finish[0] ? f->finish : NULL);
		arr_int8_or_null(&a[18], f ? f->out_chars : -1);
		arr_int8_or_null(&a[19], f ? f->latency_ms : -1);
		if (f)
			arr_int8(&a[20], f->tool_calls);
		else
			arr_null(&a[20]);
		arr_int8_or_null(&a[21], f ? f->out_tokens : -1);
	}
	prm_init(&p);
	for (int c = 0; c < NCOL; c++) {
		failed |= a[c].failed;
		p_bytes(&p, a[c].p, a[c].n);
	}
	p_int(&p, (int64_t)first);
	if (failed)
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	else
		rc = run(q, ST_PUT_RUNS, &p, &r, "cannot store runs", err);
	prm_free(&p);
	for (int c = 0; c < NCOL; c++)
		airi__buf_release(&a[c]);
	if (rc)
		return rc;
	/* the new ones, by ID */
	if (!(sorted = malloc(n * sizeof(*sorted)))) {
		PQclear(r);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &rows[i];
	qsort(sorted, n, sizeof(*sorted), row_cmp);
	for (int i = 0; i < PQntuples(r); i++) {
		struct airi__run_row key, *kp = &key, **hit;
		if (!g_digest(r, i, 0, &key.run) ||
		    !(hit = bsearch(&kp, sorted, n, sizeof(*sorted), row_cmp))) {
			rc = airi__err(err, AIRI_ESTORE,
				       "store %s: unexpected run in a batch",
				       q->where);
			break;
		}
		created[*hit - rows] = 1;
		(*hit)->log_index = (uint64_t)g_int(r, i, 1, 0);
	}
	PQclear(r);
	free(sorted);
	return rc;
}

static int pg_find_runs(void *impl, const airi_digest *lo,
			const airi_digest *hi, airi_digest *out, size_t max,
			size_t *found, airi_error *err)
{
	struct prm p;
	PGresult *r = NULL;
	size_t n = 0;
	prm_init(&p);
	p_digest(&p, lo);
	p_digest(&p, hi);
	p_int(&p, (int64_t)max);
	int rc = run(impl, ST_FIND, &p, &r, "cannot look up runs", err);
	prm_free(&p);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && n < max; i++)
		if (g_digest(r, i, 0, &out[n]))
			n++;
	PQclear(r);
	*found = n;
	return 0;
}

/* ---- filters ------------------------------------------------------------ */

static const char *const sec_col[AIRI__NSTD] = {
	"s_model", "s_params", "s_system", "s_input", "s_retrieval", "s_tools",
	"s_environment"};

/* " AND ..." for each filter term, with its parameters appended to p
 * (store_sqlite.c's where_sql and where_bind together) */
static void where_pg(const struct airi__where *w, airi__buf *sql,
		     struct prm *p)
{
	for (size_t i = 0; i < w->nterms; i++) {
		const struct airi__term *t = &w->terms[i];
		int n = p->n + 1;
		switch (t->kind) {
		case AIRI__T_SINCE:
			airi__buf_printf(sql, " AND runs.time_ms >= $%d::int8", n);
			p_int(p, t->ms);
			break;
		case AIRI__T_UNTIL:
			airi__buf_printf(sql, " AND runs.time_ms < $%d::int8", n);
			p_int(p, t->ms);
			break;
		case AIRI__T_MODEL:
			airi__buf_printf(sql,
					 " AND (runs.model = $%d::text OR "
					 "runs.resolved = $%d::text)",
					 n, n);
			p_text(p, t->value);
			break;
		case AIRI__T_LABEL:
			airi__buf_printf(sql,
					 " AND EXISTS (SELECT 1 FROM labels l WHERE "
					 "l.seq = runs.seq AND l.key = $%d::text "
					 "AND l.value = $%d::text)",
					 n, n + 1);
			p_text(p, t->key);
			p_text(p, t->value);
			break;
		case AIRI__T_SECTION:
			airi__buf_printf(sql,
					 " AND runs.%s >= $%d::bytea AND runs.%s <= "
					 "$%d::bytea",
					 sec_col[t->section], n, sec_col[t->section],
					 n + 1);
			p_digest(p, &t->lo);
			p_digest(p, &t->hi);
			break;
		case AIRI__T_CONDITIONS:
			airi__buf_printf(sql,
					 " AND runs.conditions >= $%d::bytea AND "
					 "runs.conditions <= $%d::bytea",
					 n, n + 1);
			p_digest(p, &t->lo);
			p_digest(p, &t->hi);
			break;
		}
	}
}

/*
 * Listing: newest first, a page at a time, each page continuing below
 * the (time_ms, seq) of the last row of the one before (the runs_time
 * index read backwards), so that a limited listing of a large store reads
 * one page and callbacks may use the store.
 */
static int pg_list(void *impl, const airi_filter *f, airi_run_fn fn,
		   void *ctx, airi_error *err)
{
	pg *q = impl;
	struct airi__where w;
	airi_digest lo, hi;
	size_t nib, left = f->limit;
	int64_t last_t = 0, last_seq = 0;
	int rc, ret = 0, more = 1, first = 1;
	if ((rc = airi__where_parse(f->where, &w, err)))
		return rc;
	if (f->conditions)
		airi__prefix_range(f->conditions, &lo, &hi, &nib);
	while (more && !ret) {
		airi__buf sql;
		struct prm p;
		PGresult *r = NULL;
		size_t page = PAGE;
		if (f->limit && left < page)
			page = left;
		airi__buf_init(&sql);
		prm_init(&p);
		airi__buf_adds(&sql, "SELECT id, conditions, recorded_ms, time_ms, "
				     "model, resolved, summary, seq FROM runs "
				     "WHERE true");
		if (f->model) {
			airi__buf_printf(&sql, " AND (model = $%d::text OR resolved "
					       "= $%d::text)",
					 p.n + 1, p.n + 1);
			p_text(&p, f->model);
		}
		if (f->has_since) {
			airi__buf_printf(&sql, " AND time_ms >= $%d::int8", p.n + 1);
			p_int(&p, f->since_ms);
		}
		if (f->has_until) {
			airi__buf_printf(&sql, " AND time_ms < $%d::int8", p.n + 1);
			p_int(&p, f->until_ms);
		}
		if (f->conditions) {
			airi__buf_printf(&sql, " AND conditions >= $%d::bytea AND "
					       "conditions <= $%d::bytea",
					 p.n + 1, p.n + 2);
			p_digest(&p, &lo);
			p_digest(&p, &hi);
		}
		where_pg(&w, &sql, &p);
		if (!first) {
			airi__buf_printf(&sql, " AND (time_ms, seq) < ($%d::int8, "
					       "$%d::int8)",
					 p.n + 1, p.n + 2);
			p_int(&p, last_t);
			p_int(&p, last_seq);
		}
		airi__buf_printf(&sql, " ORDER BY time_ms DESC, seq DESC LIMIT %zu",
				 page);
		ret = run_built(q, &sql, &p, &r, "cannot list runs", err);
		if (ret)
			break;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !ret; i++) {
			airi_run_info info;
			memset(&info, 0, sizeof(info));
			last_t = g_int(r, i, 3, 0);
			last_seq = g_int(r, i, 7, 0);
			if (!g_digest(r, i, 0, &info.run) ||
			    !g_digest(r, i, 1, &info.conditions))
				continue;
			info.recorded_ms = g_int(r, i, 2, 0);
			info.time_ms = last_t;
			info.model = g_text(r, i, 4);
			info.model_resolved = g_text(r, i, 5);
			info.summary = g_text(r, i, 6);
			ret = fn(ctx, &info);
		}
		PQclear(r);
		first = 0;
		if ((size_t)rows < page)
			more = 0;
		if (f->limit) {
			left -= (size_t)rows;
			if (!left)
				more = 0;
		}
	}
	airi__where_free(&w);
	return ret;
}

/* ---- cohorts ------------------------------------------------------------ */

static int pg_scan(void *impl, const struct airi__where *w, airi__scan_fn fn,
		   void *ctx, airi_error *err)
{
	pg *q = impl;
	int64_t last = 0;
	int ret = 0, more = 1;
	while (more && !ret) {
		airi__buf sql;
		struct prm p;
		PGresult *r = NULL;
		airi__buf_init(&sql);
		prm_init(&p);
		airi__buf_adds(&sql, "SELECT seq, id, time_ms, model, resolved, "
				     "summary, " FACT_COLS " FROM runs WHERE "
				     "runs.seq > $1::int8");
		p_int(&p, last);
		where_pg(w, &sql, &p);
		airi__buf_printf(&sql, " ORDER BY seq LIMIT %d", PAGE);
		ret = run_built(q, &sql, &p, &r, "cannot scan runs", err);
		if (ret)
			break;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !ret; i++) {
			struct airi__scan s;
			struct airi__facts *fa = &s.facts;
			memset(&s, 0, sizeof(s));
			s.seq = last = g_int(r, i, 0, 0);
			if (!g_digest(r, i, 1, &s.run))
				continue;
			s.time_ms = g_int(r, i, 2, 0);
			s.model = g_text(r, i, 3);
			s.resolved = g_text(r, i, 4);
			s.summary = g_text(r, i, 5);
			for (int k = 0; k < AIRI__NSTD; k++)
				fa->has_sec[k] = g_digest(r, i, 6 + k, &fa->sec[k]);
			fa->has_out = g_digest(r, i, 13, &fa->out);
			fa->status = g_int(r, i, 14, -1);
			fa->failed = (int)g_int(r, i, 15, 0);
			const char *fin = g_text(r, i, 16);
			if (fin)
				snprintf(fa->finish, sizeof(fa->finish), "%s", fin);
			fa->out_chars = g_int(r, i, 17, -1);
			fa->latency_ms = g_int(r, i, 18, -1);
			fa->tool_calls = g_int(r, i, 19, 0);
			fa->out_tokens = g_int(r, i, 20, -1);
			ret = fn(ctx, &s);
		}
		PQclear(r);
		if (rows < PAGE)
			more = 0;
	}
	return ret;
}

static int pg_scores(void *impl, const struct airi__where *w,
		     airi__score_fn fn, void *ctx, airi_error *err)
{
	pg *q = impl;
	int64_t last_seq = 0;
	char *last_key = NULL;
	int ret = 0, more = 1;
	while (more && !ret) {
		airi__buf sql;
		struct prm p;
		PGresult *r = NULL;
		airi__buf_init(&sql);
		prm_init(&p);
		airi__buf_adds(&sql, "SELECT l.seq, l.key, l.num FROM labels l JOIN "
				     "runs ON runs.seq = l.seq WHERE l.num IS "
				     "NOT NULL AND (l.seq, l.key) > ($1::int8, "
				     "$2::text)");
		p_int(&p, last_seq);
		p_text(&p, last_key ? last_key : "");
		where_pg(w, &sql, &p);
		airi__buf_printf(&sql, " ORDER BY l.seq, l.key LIMIT %d", PAGE);
		ret = run_built(q, &sql, &p, &r, "cannot read scores", err);
		if (ret)
			break;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !ret; i++) {
			const char *k = g_text(r, i, 1);
			if (k)
				ret = fn(ctx, g_int(r, i, 0, 0), k, g_real(r, i, 2));
		}
		if (rows) {
			last_seq = g_int(r, rows - 1, 0, 0);
			free(last_key);
			last_key = strdup(g_text(r, rows - 1, 1)
						  ? g_text(r, rows - 1, 1)
						  : "");
			if (!last_key && !ret)
				ret = airi__err(err, AIRI_ENOMEM, "out of memory");
		}
		PQclear(r);
		if (rows < PAGE)
			more = 0;
	}
	free(last_key);
	return ret;
}

/* ---- labels ------------------------------------------------------------- */

static int pg_label_put(void *impl, const airi_digest *run_id,
			const char *key, const char *value, const double *num,
			int64_t ms, airi_error *err)
{
	struct prm p;
	PGresult *r = NULL;
	prm_init(&p);
	p_digest(&p, run_id);
	p_text(&p, key);
	if (value) {
		p_text(&p, value);
		if (num)
			p_real(&p, *num);
		else
			p_null(&p);
		p_int(&p, ms);
	}
	int rc = run(impl, value ? ST_LABEL_PUT : ST_LABEL_DEL, &p, &r,
		     "cannot write labels", err);
	prm_free(&p);
	if (rc)
		return rc;
	int changed = atoi(PQcmdTuples(r));
	PQclear(r);
	if (value && !changed)
		return airi__err(err, AIRI_ENOTFOUND, "no such run");
	return 0;
}

static int pg_labels(void *impl, const airi_digest *run_id, airi_label_fn fn,
		     void *ctx, airi_error *err)
{
	PGresult *r = NULL;
	int ret = 0;
	int rc = run_digest(impl, ST_LABELS, run_id, &r, "cannot read labels",
			    err);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !ret; i++) {
		airi_label l;
		l.key = g_text(r, i, 0);
		l.value = g_text(r, i, 1);
		l.has_score = !PQgetisnull(r, i, 2);
		l.score = l.has_score ? g_real(r, i, 2) : 0;
		l.time_ms = g_int(r, i, 3, 0);
		if (l.key && l.value)
			ret = fn(ctx, &l);
	}
	PQclear(r);
	return ret;
}

/* ---- iteration ---------------------------------------------------------- */

static int pg_each_object(void *impl, airi__object_fn fn, void *ctx,
			  airi_error *err)
{
	airi_digest last;
	int have_last = 0, ret = 0, more = 1;
	while (more && !ret) {
		struct prm p;
		PGresult *r = NULL;
		prm_init(&p);
		if (have_last)
			p_digest(&p, &last);
		else
			p_bytes(&p, "", 0);
		p_int(&p, 500);
		ret = run(impl, ST_EACH_OBJ, &p, &r, "cannot read objects", err);
		prm_free(&p);
		if (ret)
			break;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !ret; i++) {
			airi_digest d;
			memset(&d, 0, sizeof(d));
			int dn = PQgetlength(r, i, 0);
			memcpy(d.bytes, PQgetvalue(r, i, 0),
			       dn < AIRI_DIGEST_SIZE ? (size_t)dn
						     : AIRI_DIGEST_SIZE);
			if (dn == AIRI_DIGEST_SIZE) {
				last = d;
				have_last = 1;
			}
			ret = fn(ctx, &d, PQgetvalue(r, i, 1),
				 (size_t)PQgetlength(r, i, 1));
		}
		PQclear(r);
		if (rows < 500)
			more = 0;
	}
	return ret;
}

static int pg_each_run(void *impl, airi__digest_fn fn, void *ctx,
		       airi_error *err)
{
	int64_t last = 0;
	int ret = 0, more = 1;
	while (more && !ret) {
		struct prm p;
		PGresult *r = NULL;
		prm_init(&p);
		p_int(&p, last);
		p_int(&p, PAGE);
		ret = run(impl, ST_EACH_RUN, &p, &r, "cannot read runs", err);
		prm_free(&p);
		if (ret)
			break;
		int rows = PQntuples(r);
		for (int i = 0; i < rows && !ret; i++) {
			airi_digest d;
			last = g_int(r, i, 0, 0);
			if (g_digest(r, i, 1, &d))
				ret = fn(ctx, &d, g_int(r, i, 2, 0));
		}
		PQclear(r);
		if (rows < PAGE)
			more = 0;
	}
	return ret;
}

/* ---- log ---------------------------------------------------------------- */

static int pg_log_size(void *impl, uint64_t *size, airi_error *err)
{
	pg *q = impl;
	if (q->in_tx && q->tx_size_ok) {
		*size = (uint64_t)q->tx_size;
		return 0;
	}
	PGresult *r = NULL;
	int rc = run(impl, ST_LOG_SIZE, NULL, &r, "cannot read the log", err);
	if (rc)
		return rc;
	*size = PQntuples(r) == 1 ? (uint64_t)g_int(r, 0, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int pg_log_append(void *impl, uint64_t index, const airi_digest *run_id,
			 const char *entry, size_t n, airi_error *err)
{
	pg *q = impl;
	q->tx_size_ok = 0;
	if (q->in_tx && n <= sizeof(q->leaves->entry)) {
		if (q->nleaves == q->cap_leaves) {
			size_t cap = q->cap_leaves ? q->cap_leaves * 2 : 64;
			struct pleaf *nl = realloc(q->leaves, cap * sizeof(*nl));
			if (!nl)
				return airi__err(err, AIRI_ENOMEM, "out of memory");
			q->leaves = nl;
			q->cap_leaves = cap;
		}
		struct pleaf *l = &q->leaves[q->nleaves++];
		l->idx = (int64_t)index;
		l->run = *run_id;
		l->n = n;
		memcpy(l->entry, entry, n);
		return q->nleaves >= PEND_ROWS ? flush_log(q, err) : 0;
	}
	struct prm p;
	prm_init(&p);
	p_int(&p, (int64_t)index);
	p_digest(&p, run_id);
	p_bytes(&p, entry, n);
	int rc = run(impl, ST_LOG_APPEND, &p, NULL, "cannot append to the log",
		     err);
	prm_free(&p);
	return rc;
}

static int pg_log_find(void *impl, const airi_digest *run_id,
		       uint64_t *index, char **entry, size_t *n,
		       airi_error *err)
{
	PGresult *r = NULL;
	int rc = run_digest(impl, ST_LOG_FIND, run_id, &r, "cannot read the log",
			    err);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		*index = (uint64_t)g_int(r, 0, 0, 0);
		rc = g_copy(r, 0, 1, entry, n, err);
	} else {
		rc = AIRI_ENOTFOUND;
	}
	PQclear(r);
	return rc;
}

static int pg_log_at(void *impl, uint64_t index, airi_digest *run_id,
		     char **entry, size_t *n, airi_error *err)
{
	PGresult *r = NULL;
	int rc = run_int(impl, ST_LOG_AT, (int64_t)index, &r,
			 "cannot read the log", err);
	if (rc)
		return rc;
	if (PQntuples(r) == 1 && g_digest(r, 0, 0, run_id))
		rc = g_copy(r, 0, 1, entry, n, err);
	else
		rc = airi__err(err, AIRI_ENOTFOUND, "no log entry %llu",
			       (unsigned long long)index);
	PQclear(r);
	return rc;
}

static int64_t node_key(int level, uint64_t index)
{
	return (int64_t)((uint64_t)level << 56 | index);
}

static int pg_node_get(void *impl, int level, uint64_t index,
		       unsigned char out[AIRI_HASH_SIZE], airi_error *err)
{
	PGresult *r = NULL;
	int rc = run_int(impl, level ? ST_NODE_GET : ST_LEAF_ENTRY,
			 level ? node_key(level, index) : (int64_t)index, &r,
			 "cannot read the log", err);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		rc = AIRI_ENOTFOUND;
	else if (!level)
		airi_merkle_leaf_hash(PQgetvalue(r, 0, 0),
				      (size_t)PQgetlength(r, 0, 0), out);
	else if (PQgetlength(r, 0, 0) == AIRI_HASH_SIZE)
		memcpy(out, PQgetvalue(r, 0, 0), AIRI_HASH_SIZE);
	else
		rc = AIRI_ENOTFOUND;
	PQclear(r);
	return rc;
}

static int pg_node_put(void *impl, int level, uint64_t index,
		       const unsigned char hash[AIRI_HASH_SIZE], airi_error *err)
{
	pg *q = impl;
	struct prm p;
	if (level == 0)
		return 0; /* leaf hashes are recomputed from the entries */
	if (q->in_tx) {
		int64_t id = node_key(level, index);
		if (q->nnodes && q->nodes[q->nnodes - 1].id == id) {
			memcpy(q->nodes[q->nnodes - 1].hash, hash, AIRI_HASH_SIZE);
			return 0;
		}
		if (q->nnodes == q->cap_nodes) {
			size_t cap = q->cap_nodes ? q->cap_nodes * 2 : 64;
			struct pnode *nn = realloc(q->nodes, cap * sizeof(*nn));
			if (!nn)
				return airi__err(err, AIRI_ENOMEM, "out of memory");
			q->nodes = nn;
			q->cap_nodes = cap;
		}
		q->nodes[q->nnodes].id = id;
		memcpy(q->nodes[q->nnodes].hash, hash, AIRI_HASH_SIZE);
		q->nnodes++;
		return q->nnodes >= PEND_ROWS ? flush_log(q, err) : 0;
	}
	prm_init(&p);
	p_int(&p, node_key(level, index));
	p_bytes(&p, hash, AIRI_HASH_SIZE);
	int rc = run(impl, ST_NODE_PUT, &p, NULL, "cannot write the log", err);
	prm_free(&p);
	return rc;
}

static int pg_nodes_get(void *impl, size_t n, const int *level,
			const uint64_t *index,
			unsigned char (*out)[AIRI_HASH_SIZE], airi_error *err)
{
	char *found = calloc(n ? n : 1, 1);
	airi__buf ids[2];
	int ret = 0;
	if (!found)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	airi__buf_init(&ids[0]);
	airi__buf_init(&ids[1]);
	for (int k = 0; k < 2; k++)
		airi__buf_addc(&ids[k], '{');
	for (size_t i = 0; i < n; i++) {
		airi__buf *b = &ids[level[i] ? 1 : 0];
		airi__buf_printf(b, "%s%lld", b->n > 1 ? "," : "",
				 level[i] ? (long long)node_key(level[i], index[i])
					  : (long long)index[i]);
	}
	for (int k = 0; k < 2 && !ret; k++) {
		airi__buf_addc(&ids[k], '}');
		if (ids[k].failed) {
			ret = airi__err(err, AIRI_ENOMEM, "out of memory");
			break;
		}
		if (ids[k].n <= 2)
			continue;
		struct prm p;
		PGresult *r = NULL;
		prm_init(&p);
		p_text(&p, ids[k].p);
		ret = run(impl, k ? ST_NODES_MANY : ST_LEAVES_MANY, &p, &r,
			  "cannot read the log", err);
		prm_free(&p);
		if (ret)
			break;
		for (int row = 0; row < PQntuples(r); row++) {
			int64_t id = g_int(r, row, 0, -1);
			const char *blob = PQgetvalue(r, row, 1);
			size_t bl = (size_t)PQgetlength(r, row, 1);
			for (size_t i = 0; i < n; i++) {
				int match = k ? (level[i] &&
						 node_key(level[i], index[i]) == id)
					      : (!level[i] && (int64_t)index[i] == id);
				if (!match)
					continue;
				if (k && bl == AIRI_HASH_SIZE)
					memcpy(out[i], blob, AIRI_HASH_SIZE);
				else if (!k)
					airi_merkle_leaf_hash(blob, bl, out[i]);
				else
					continue;
				found[i] = 1;
			}
		}
		PQclear(r);
	}
	for (size_t i = 0; i < n && !ret; i++)
		if (!found[i])
			ret = AIRI_ENOTFOUND;
	airi__buf_release(&ids[0]);
	airi__buf_release(&ids[1]);
	free(found);
	return ret;
}

static int pg_set_log_index(void *impl, const airi_digest *run_id,
			    uint64_t index, airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_digest(&p, run_id);
	p_int(&p, (int64_t)index);
	int rc = run(impl, ST_SET_LOG_IDX, &p, NULL, "cannot update a run", err);
	prm_free(&p);
	return rc;
}

static int pg_checkpoint_put(void *impl, uint64_t size, const char *note,
			     airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_int(&p, (int64_t)size);
	p_text(&p, note);
	int rc = run(impl, ST_CP_PUT, &p, NULL, "cannot store the checkpoint",
		     err);
	prm_free(&p);
	return rc;
}

static int pg_checkpoint_latest(void *impl, uint64_t *size, char **note,
				airi_error *err)
{
	PGresult *r = NULL;
	int rc = run(impl, ST_CP_LATEST, NULL, &r, "cannot read checkpoints",
		     err);
	if (rc)
		return rc;
	if (!(rc = g_one_text(r, 1, note, err)))
		*size = (uint64_t)g_int(r, 0, 0, 0);
	PQclear(r);
	return rc;
}

static int pg_setting_get(void *impl, const char *key, char **value,
			  airi_error *err)
{
	struct prm p;
	PGresult *r = NULL;
	prm_init(&p);
	p_text(&p, key);
	int rc = run(impl, ST_SET_GET, &p, &r, "cannot read settings", err);
	prm_free(&p);
	if (rc)
		return rc;
	rc = g_one_text(r, 0, value, err);
	PQclear(r);
	return rc;
}

static int pg_setting_put(void *impl, const char *key, const char *value,
			  airi_error *err)
{
	struct prm p;
	prm_init(&p);
	p_text(&p, key);
	p_text(&p, value);
	int rc = run(impl, ST_SET_PUT, &p, NULL, "cannot write settings", err);
	prm_free(&p);
	return rc;
}

const struct airi__store_ops airi__pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.put_object = pg_put_object,
	.get_object = pg_get_object,
	.has_run = pg_has_run,
	.put_run = pg_put_run,
	.find_runs = pg_find_runs,
	.list = pg_list,
	.each_object = pg_each_object,
	.each_run = pg_each_run,
	.log_size = pg_log_size,
	.log_append = pg_log_append,
	.log_find = pg_log_find,
	.log_at = pg_log_at,
	.node_get = pg_node_get,
	.node_put = pg_node_put,
	.checkpoint_put = pg_checkpoint_put,
	.checkpoint_latest = pg_checkpoint_latest,
	.setting_get = pg_setting_get,
	.setting_put = pg_setting_put,
	.nodes_get = pg_nodes_get,
	.set_cache = NULL,
	.set_log_index = pg_set_log_index,
	.set_facts = pg_set_facts,
	.scan = pg_scan,
	.scores = pg_scores,
	.label_put = pg_label_put,
	.labels = pg_labels,
	.migrate = pg_migrate,
	.version = PG_SCHEMA_VERSION,
	.put_objects = pg_put_objects,
	.put_runs = pg_put_runs,
};
