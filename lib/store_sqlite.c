/*
 * store_sqlite.c - the embedded default store backend: one SQLite file in
 * WAL mode with synchronous=FULL (a commit is durable when it returns).
 *
 * Schema (version 1, PRAGMA user_version):
 *   objects(id, digest BLOB UNIQUE, body BLOB)  content-addressed, each
 *       section, step, output, meta and identity object stored once; bodies
 *       are appended in rowid order and only the 32-byte digests go into
 *       the randomly ordered index, which keeps bulk inserts fast;
 *   runs(id BLOB UNIQUE, conditions BLOB, recorded_ms, time_ms, model,
 *       resolved, summary)  one row per run, indexed by time, model and
 *       conditions ID.
 *   log_leaves(idx, run, entry)  the transparency log's entries (runs
 *       .log_idx points a run at its entry);
 *   log_nodes(id = level << 56 | index, hash)  perfect subtree hashes of
 *       level >= 1 (level 0 is recomputed from the entry: one write less
 *       per append);
 *   checkpoints(size, note)  signed checkpoints; settings(key, value).
 *   runs also holds, from version 4, each run's facts for cohorts (lib/
 *       outcome.c): the standard condition sections' digests s_model ..
 *       s_environment, the output digest and the outcome (status, failed,
 *       finish, out_chars, latency_ms, tool_calls, out_tokens);
 *   labels(seq, key, value, num, time_ms)  labels and scores beside runs.
 * Version 2 added the log, version 3 runs.log_idx, version 4 the facts and
 * labels; opening an older store migrates it (a version 1 store's runs
 * are back-filled into the log: settings log_backfill = pending; the
 * facts of a store before version 4 likewise: facts_backfill = pending).
 * A store with a newer user_version than this code knows is refused.
 */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 4

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
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	"INSERT OR IGNORE INTO objects(digest, body) VALUES (?1, ?2)",
	"SELECT body FROM objects WHERE digest = ?1",
	"SELECT 1 FROM runs WHERE id = ?1",
	"INSERT OR IGNORE INTO runs(id, conditions, recorded_ms, time_ms, "
	"model, resolved, summary, log_idx, s_model, s_params, s_system, "
	"s_input, s_retrieval, s_tools, s_environment, out_digest, status, "
	"failed, finish, out_chars, latency_ms, tool_calls, out_tokens) VALUES "
	"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
	"?17, ?18, ?19, ?20, ?21, ?22, ?23)",
	"SELECT id FROM runs WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
	"SELECT coalesce(max(idx) + 1, 0) FROM log_leaves",
	"INSERT INTO log_leaves(idx, run, entry) VALUES (?1, ?2, ?3)",
	"SELECT l.idx, l.entry FROM runs r JOIN log_leaves l ON l.idx = r.log_idx "
	"WHERE r.id = ?1",
	"SELECT run, entry FROM log_leaves WHERE idx = ?1",
	"SELECT hash FROM log_nodes WHERE id = ?1",
	"INSERT OR REPLACE INTO log_nodes(id, hash) VALUES (?1, ?2)",
	"INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?1, ?2)",
	"SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
	"SELECT value FROM settings WHERE key = ?1",
	"INSERT OR REPLACE INTO settings(key, value) VALUES (?1, ?2)",
	"SELECT id, hash FROM log_nodes WHERE id IN "
	"(SELECT value FROM json_each(?1))",
	"SELECT idx, entry FROM log_leaves WHERE idx IN "
	"(SELECT value FROM json_each(?1))",
	"SELECT entry FROM log_leaves WHERE idx = ?1",
	"UPDATE runs SET log_idx = ?2 WHERE id = ?1",
};

/*
 * Checkpoints happen off the committing thread. SQLite's automatic
 * checkpoint runs inside the COMMIT that crosses its threshold, so a
 * writer that commits often (the proxy's and the OTLP receiver's group
 * commits) spent a quarter of its time copying WAL pages into the
 * database. Instead, the WAL hook wakes a checkpointer thread, started on
 * first need, with its own connection, that runs PASSIVE checkpoints while
 * the writer goes on appending to the WAL (WAL mode allows one writer and
 * one checkpointer at once). If the WAL outgrows CKPT_HARD pages anyway
 * (the checkpointer cannot keep up, or a reader pins the WAL), the
 * committing thread checkpoints itself in RESTART mode, waiting for the
 * thread and the readers if it must, so the WAL stays bounded. Closing the store stops the thread; the last connection's close
 * checkpoints what is left, as before.
 */
#define CKPT_WAKE 2048   /* WAL pages (32 MiB at 16 KiB pages) */
#define CKPT_HARD 131072 /* 512 MiB */

struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, wake, stop;
	int wake_pages, hard_pages;
};

typedef struct sq {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	struct ckpt *ck; /* writable stores only */
} sq;

static int sq_fail(sq *q, airi_error *err, const char *what)
{
	return airi__err(err, AIRI_ESTORE, "store %s: %s: %s",
			 q && q->path ? q->path : "?", what,
			 q && q->db ? sqlite3_errmsg(q->db) : "cannot open");
}

static int exec(sq *q, const char *sql, airi_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		airi__err(err, AIRI_ESTORE, "store %s: %s", q->path,
			  msg ? msg : sqlite3_errmsg(q->db));
		sqlite3_free(msg);
		return AIRI_ESTORE;
	}
	return 0;
}

/* mkdir -p of the file's directory, new directories mode 0700 */
static int make_parent(const char *path, airi_error *err)
{
	char *dir = strdup(path);
	if (!dir)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0700) && errno != EEXIST) {
			int e = errno;
			airi__err(err, AIRI_EIO, "cannot create directory %s: %s",
				  dir, strerror(e));
			free(dir);
			return AIRI_EIO;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		int e = errno;
		airi__err(err, AIRI_EIO, "cannot create directory %s: %s", dir,
			  strerror(e));
		free(dir);
		return AIRI_EIO;
	}
	free(dir);
	return 0;
}

#define FACT_COLUMNS                                                      \
	", s_model BLOB, s_params BLOB, s_system BLOB, s_input BLOB,"        \
	" s_retrieval BLOB, s_tools BLOB, s_environment BLOB, out_digest BLOB," \
	" status INTEGER, failed INTEGER, finish TEXT, out_chars INTEGER,"    \
	" latency_ms INTEGER, tool_calls INTEGER, out_tokens INTEGER"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS objects("
	" id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,"
	" body BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS runs("
	" seq INTEGER PRIMARY KEY,"
	" id BLOB NOT NULL UNIQUE,"
	" conditions BLOB NOT NULL,"
	" recorded_ms INTEGER NOT NULL,"
	" time_ms INTEGER NOT NULL,"
	" model TEXT, resolved TEXT, summary TEXT, log_idx INTEGER"
	FACT_COLUMNS ");"
	"CREATE INDEX IF NOT EXISTS runs_time ON runs(time_ms, seq);"
	"CREATE INDEX IF NOT EXISTS runs_model ON runs(model, time_ms);"
	"CREATE INDEX IF NOT EXISTS runs_resolved ON runs(resolved, time_ms);"
	"CREATE INDEX IF NOT EXISTS runs_conditions ON runs(conditions);"
	"CREATE TABLE IF NOT EXISTS log_leaves("
	" idx INTEGER PRIMARY KEY, run BLOB NOT NULL, entry BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS log_nodes("
	" id INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS checkpoints("
	" size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS settings("
	" key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS labels("
	" seq INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" num REAL, time_ms INTEGER NOT NULL, PRIMARY KEY(seq, key))"
	" WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS labels_kv ON labels(key, value);"
	"PRAGMA user_version = 4;";

/* version 3 -> 4: the facts columns, then facts_backfill */
static const char facts_migration_sql[] =
	"ALTER TABLE runs ADD COLUMN s_model BLOB;"
	"ALTER TABLE runs ADD COLUMN s_params BLOB;"
	"ALTER TABLE runs ADD COLUMN s_system BLOB;"
	"ALTER TABLE runs ADD COLUMN s_input BLOB;"
	"ALTER TABLE runs ADD COLUMN s_retrieval BLOB;"
	"ALTER TABLE runs ADD COLUMN s_tools BLOB;"
	"ALTER TABLE runs ADD COLUMN s_environment BLOB;"
	"ALTER TABLE runs ADD COLUMN out_digest BLOB;"
	"ALTER TABLE runs ADD COLUMN status INTEGER;"
	"ALTER TABLE runs ADD COLUMN failed INTEGER;"
	"ALTER TABLE runs ADD COLUMN finish TEXT;"
	"ALTER TABLE runs ADD COLUMN out_chars INTEGER;"
	"ALTER TABLE runs ADD COLUMN latency_ms INTEGER;"
	"ALTER TABLE runs ADD COLUMN tool_calls INTEGER;"
	"ALTER TABLE runs ADD COLUMN out_tokens INTEGER;";

static void ckpt_stop(sq *q)
{
	struct ckpt *c = q->ck;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	int started = c->started;
	pthread_mutex_unlock(&c->mu);
	if (started)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	q->ck = NULL;
}

static void sq_close(void *impl)
{
	sq *q = impl;
	if (!q)
		return;
	ckpt_stop(q);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q->path);
	free(q);
}

static void *ckpt_main(void *arg)
{
	sq *q = arg;
	struct ckpt *c = q->ck;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(q->path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 1000);
		sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wake && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wake = 0;
		pthread_mutex_unlock(&c->mu);
		/* a failure (busy, I/O) leaves the pages in the WAL for the
		 * next wake-up or for the writer's own bound */
		if (db)
			sqlite3_wal_checkpoint_v2(db, NULL,
						  SQLITE_CHECKPOINT_PASSIVE,
						  NULL, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	sqlite3_close(db);
	return NULL;
}

static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	sq *q = arg;
	struct ckpt *c = q->ck;
	if (pages >= c->hard_pages) {
		/* RESTART: waits (busy timeout) for the checkpointer thread and
		 * for readers of old snapshots, copies everything and has the
		 * next transaction start the WAL from the beginning again */
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART,
					  NULL, NULL);
		return SQLITE_OK;
	}
	if (pages < c->wake_pages)
		return SQLITE_OK;
	pthread_mutex_lock(&c->mu);
	if (!c->started) {
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 256 << 10);
		if (pthread_create(&c->thread, &at, ckpt_main, q) == 0)
			c->started = 1;
		pthread_attr_destroy(&at);
	}
	c->wake = 1;
	pthread_cond_signal(&c->cv);
	int started = c->started;
	pthread_mutex_unlock(&c->mu);
	if (!started) /* no thread: checkpoint here, as SQLite would */
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	return SQLITE_OK;
}

/* the WAL hook of a writable store (replaces SQLite's autocheckpoint) */
static int ckpt_init(sq *q, airi_error *err)
{
	struct ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* AIRI_SQLITE_CHECKPOINT_PAGES: WAL pages before a checkpoint (the
	 * hard bound is 16 times that) */
	const char *e = getenv("AIRI_SQLITE_CHECKPOINT_PAGES");
	long w = e && *e ? strtol(e, NULL, 10) : 0;
	c->wake_pages = w > 0 && w <= CKPT_HARD ? (int)w : CKPT_WAKE;
	c->hard_pages = w > 0 && w <= CKPT_HARD ? (int)w * 16 : CKPT_HARD;
	q->ck = c;
	sqlite3_wal_hook(q->db, ckpt_hook, q);
	return 0;
}

static int sq_open(const char *location, unsigned flags, void **impl,
		   airi_error *err)
{
	sq *q = calloc(1, sizeof(*q));
	struct stat stt;
	int rc, exists;
	if (!q || !(q->path = strdup(location))) {
		free(q);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	exists = stat(location, &stt) == 0;
	if (!exists) {
		if (!(flags & AIRI_STORE_CREATE) || (flags & AIRI_STORE_READONLY)) {
			rc = airi__err(err, AIRI_ENOTFOUND,
				       "no store at %s (record a run first, or "
				       "pass --store)",
				       location);
			sq_close(q);
			return rc;
		}
		if ((rc = make_parent(location, err))) {
			sq_close(q);
			return rc;
		}
		/* create the file with mode 0600 before SQLite sees it; the
		 * -wal and -shm files inherit its permissions */
		int fd = open(location, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);
		if (fd < 0 && errno != EEXIST) {
			int e = errno;
			rc = airi__err(err, AIRI_EIO, "cannot create store %s: %s",
				       location, strerror(e));
			sq_close(q);
			return rc;
		}
		if (fd >= 0)
			close(fd);
	} else if (!S_ISREG(stt.st_mode)) {
		rc = airi__err(err, AIRI_EINVAL, "store %s is not a file",
			       location);
		sq_close(q);
		return rc;
	}
	int oflags = (flags & AIRI_STORE_READONLY) ? SQLITE_OPEN_READONLY
						   : SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(location, &q->db, oflags | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = sq_fail(q, err, "cannot open");
		sq_close(q);
		return rc;
	}
	sqlite3_busy_timeout(q->db, 10000);
	sqlite3_extended_result_codes(q->db, 1);
	/* refuse newer schemas before touching anything */
	{
		sqlite3_stmt *st;
		int ver = 0;
		if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st,
				       NULL) != SQLITE_OK) {
			rc = sq_fail(q, err, "not a readable SQLite store");
			sq_close(q);
			return rc;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			ver = sqlite3_column_int(st, 0);
		else {
			sqlite3_finalize(st);
			rc = sq_fail(q, err, "not a readable SQLite store");
			sq_close(q);
			return rc;
		}
		sqlite3_finalize(st);
		if (ver > SCHEMA_VERSION) {
			rc = airi__err(err, AIRI_ESCHEMA,
				       "store %s has schema version %d; this "
				       "airi understands up to %d (upgrade "
				       "airi)",
				       location, ver, SCHEMA_VERSION);
			sq_close(q);
			return rc;
		}
		if (!(flags & AIRI_STORE_READONLY)) {
			/* a new store gets 16 KiB pages (before WAL mode
			 * fixes the size): recording touches index pages at
			 * random, and SQLite's cost per page written to the
			 * WAL and at the checkpoint is mostly per page, not
			 * per byte: 15-25% less time per run than 4 KiB
			 * pages (bench/README.md), reads unchanged. Existing
			 * stores keep their size until `airi store compact`. */
			if ((ver == 0 && (rc = exec(q, "PRAGMA page_size=16384;", err))) ||
			    (rc = exec(q, "PRAGMA journal_mode=WAL;"
					  "PRAGMA synchronous=FULL;"
					  "PRAGMA cache_size=-65536;"
					  "PRAGMA temp_store=MEMORY;",
				       err)) ||
			    (rc = ckpt_init(q, err)) ||
			    /* a migration is all or nothing */
			    (ver < SCHEMA_VERSION &&
			     (rc = exec(q, "BEGIN IMMEDIATE", err))) ||
			    ((ver == 1 || ver == 2) &&
			     (rc = exec(q, "ALTER TABLE runs ADD COLUMN "
					   "log_idx INTEGER;", err))) ||
			    (ver == 2 &&
			     (rc = exec(q, "UPDATE runs SET log_idx = (SELECT "
					   "idx FROM log_leaves l WHERE l.run "
					   "= runs.id);", err))) ||
			    (ver >= 1 && ver <= 3 &&
			     ((rc = exec(q, facts_migration_sql, err)) ||
			      (rc = exec(q, "CREATE TABLE IF NOT EXISTS settings("
					    " key TEXT PRIMARY KEY, value TEXT "
					    "NOT NULL);"
					    "INSERT OR REPLACE INTO settings"
					    "(key, value) VALUES "
					    "('facts_backfill', 'pending')",
					 err)))) ||
			    (ver < SCHEMA_VERSION &&
			     (rc = exec(q, schema_sql, err))) ||
			    (ver == 1 &&
			     (rc = exec(q, "INSERT OR REPLACE INTO settings"
					   "(key, value) VALUES "
					   "('log_backfill', 'pending')",
					err))) ||
			    (ver < SCHEMA_VERSION &&
			     (rc = exec(q, "COMMIT", err)))) {
				sq_close(q);
				return rc;
			}
		} else if (ver == 0) {
			rc = airi__err(err, AIRI_ENOTFOUND,
				       "%s is not an airi store", location);
			sq_close(q);
			return rc;
		}
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &q->st[i],
				       NULL) != SQLITE_OK) {
			rc = sq_fail(q, err, "not an airi store");
			sq_close(q);
			return rc;
		}
	}
	*impl = q;
	return 0;
}

static int sq_begin(void *impl, airi_error *err)
{
	return exec(impl, "BEGIN IMMEDIATE", err);
}

static int sq_commit(void *impl, airi_error *err)
{
	return exec(impl, "COMMIT", err);
}

static void sq_rollback(void *impl)
{
	sq *q = impl;
	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_put_object(void *impl, const airi_digest *d, const void *body,
			 size_t n, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_OBJ];
	int rc;
	sqlite3_bind_blob(st, 1, d->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, n ? body : "", n, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, err, "cannot store object");
	return 0;
}

static int sq_get_object(void *impl, const airi_digest *d, char **body,
			 size_t *n, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_GET_OBJ];
	int rc, ret = 0;
	sqlite3_bind_blob(st, 1, d->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		char *b = malloc(len + 1);
		if (!b) {
			ret = airi__err(err, AIRI_ENOMEM, "out of memory");
		} else {
			if (len)
				memcpy(b, p, len);
			b[len] = 0;
			*body = b;
			*n = len;
		}
	} else if (rc == SQLITE_DONE) {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(d, h);
		ret = airi__err(err, AIRI_ENOTFOUND, "no object %s in the store",
				h);
	} else {
		ret = sq_fail(q, err, "cannot read object");
	}
	sqlite3_reset(st);
	return ret;
}

static int sq_has_run(void *impl, const airi_digest *run, int *found,
		      airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_HAS_RUN];
	int rc;
	sqlite3_bind_blob(st, 1, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(q, err, "cannot look up run");
	*found = rc == SQLITE_ROW;
	return 0;
}

/* the facts as parameters first..first+14, in FACT_COLUMNS order */
static void bind_facts(sqlite3_stmt *st, int first,
		       const struct airi__facts *f)
{
	for (int k = 0; k < AIRI__NSTD; k++)
		if (f->has_sec[k])
			sqlite3_bind_blob(st, first + k, f->sec[k].bytes,
					  AIRI_DIGEST_SIZE, SQLITE_STATIC);
	if (f->has_out)
		sqlite3_bind_blob(st, first + 7, f->out.bytes, AIRI_DIGEST_SIZE,
				  SQLITE_STATIC);
	if (f->status >= 0)
		sqlite3_bind_int64(st, first + 8, f->status);
	sqlite3_bind_int(st, first + 9, f->failed);
	if (f->finish[0])
		sqlite3_bind_text(st, first + 10, f->finish, -1, SQLITE_STATIC);
	if (f->out_chars >= 0)
		sqlite3_bind_int64(st, first + 11, f->out_chars);
	if (f->latency_ms >= 0)
		sqlite3_bind_int64(st, first + 12, f->latency_ms);
	sqlite3_bind_int64(st, first + 13, f->tool_calls);
	if (f->out_tokens >= 0)
		sqlite3_bind_int64(st, first + 14, f->out_tokens);
}

static int sq_set_facts(void *impl, const airi_digest *run,
			const struct airi__facts *f, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db,
			       "UPDATE runs SET s_model = ?1, s_params = ?2, "
			       "s_system = ?3, s_input = ?4, s_retrieval = ?5, "
			       "s_tools = ?6, s_environment = ?7, out_digest = ?8, "
			       "status = ?9, failed = ?10, finish = ?11, "
			       "out_chars = ?12, latency_ms = ?13, tool_calls = "
			       "?14, out_tokens = ?15 WHERE id = ?16",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(q, err, "cannot update run facts");
	bind_facts(st, 1, f);
	sqlite3_bind_blob(st, 16, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, err, "cannot update run facts");
}

static int sq_put_run(void *impl, const struct airi__run_row *row,
		      int *created, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_PUT_RUN];
	int rc;
	sqlite3_bind_blob(st, 1, row->run.bytes, AIRI_DIGEST_SIZE,
			  SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, row->conditions.bytes, AIRI_DIGEST_SIZE,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, row->recorded_ms);
	sqlite3_bind_int64(st, 4, row->time_ms);
	if (row->model)
		sqlite3_bind_text(st, 5, row->model, -1, SQLITE_STATIC);
	if (row->resolved)
		sqlite3_bind_text(st, 6, row->resolved, -1, SQLITE_STATIC);
	if (row->summary)
		sqlite3_bind_text(st, 7, row->summary, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)row->log_index);
	if (row->facts)
		bind_facts(st, 9, row->facts);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, err, "cannot store run");
	*created = sqlite3_changes(q->db) > 0;
	return 0;
}

static int sq_find_runs(void *impl, const airi_digest *lo,
			const airi_digest *hi, airi_digest *out, size_t max,
			size_t *found, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_FIND];
	size_t n = 0;
	int rc;
	sqlite3_bind_blob(st, 1, lo->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) == AIRI_DIGEST_SIZE && n < max)
			memcpy(out[n++].bytes, sqlite3_column_blob(st, 0),
			       AIRI_DIGEST_SIZE);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, err, "cannot look up runs");
	*found = n;
	return 0;
}

/* " AND ..." for each filter term, parameters numbered from *next */
static const char *const sec_col[AIRI__NSTD] = {
	"s_model", "s_params", "s_system", "s_input", "s_retrieval", "s_tools",
	"s_environment"};

static void where_sql(const struct airi__where *w, airi__buf *sql, int *next,
		      const struct airi__term *skip)
{
	for (size_t i = 0; i < w->nterms; i++) {
		const struct airi__term *t = &w->terms[i];
		int n = *next;
		if (t == skip) { /* bound all the same; the caller uses it */
			*next += 1;
			continue;
		}
		switch (t->kind) {
		case AIRI__T_SINCE:
			airi__buf_printf(sql, " AND runs.time_ms >= ?%d", n);
			*next += 1;
			break;
		case AIRI__T_UNTIL:
			airi__buf_printf(sql, " AND runs.time_ms < ?%d", n);
			*next += 1;
			break;
		case AIRI__T_MODEL:
			airi__buf_printf(sql, " AND (runs.model = ?%d OR "
					      "runs.resolved = ?%d)",
					 n, n);
			*next += 1;
			break;
		case AIRI__T_LABEL:
			airi__buf_printf(sql,
					 " AND EXISTS (SELECT 1 FROM labels l WHERE "
					 "l.seq = runs.seq AND l.key = ?%d AND "
					 "l.value = ?%d)",
					 n, n + 1);
			*next += 2;
			break;
		case AIRI__T_SECTION:
			airi__buf_printf(sql, " AND runs.%s >= ?%d AND runs.%s <= ?%d",
					 sec_col[t->section], n, sec_col[t->section],
					 n + 1);
			*next += 2;
			break;
		case AIRI__T_CONDITIONS:
			airi__buf_printf(sql, " AND runs.conditions >= ?%d AND "
					      "runs.conditions <= ?%d",
					 n, n + 1);
			*next += 2;
			break;
		}
	}
}

static void where_bind(sqlite3_stmt *st, const struct airi__where *w, int next)
{
	for (size_t i = 0; i < w->nterms; i++) {
		const struct airi__term *t = &w->terms[i];
		switch (t->kind) {
		case AIRI__T_SINCE:
		case AIRI__T_UNTIL:
			sqlite3_bind_int64(st, next++, t->ms);
			break;
		case AIRI__T_MODEL:
			sqlite3_bind_text(st, next++, t->value, -1, SQLITE_STATIC);
			break;
		case AIRI__T_LABEL:
			sqlite3_bind_text(st, next++, t->key, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, next++, t->value, -1, SQLITE_STATIC);
			break;
		case AIRI__T_SECTION:
		case AIRI__T_CONDITIONS:
			sqlite3_bind_blob(st, next++, t->lo.bytes, AIRI_DIGEST_SIZE,
					  SQLITE_STATIC);
			sqlite3_bind_blob(st, next++, t->hi.bytes, AIRI_DIGEST_SIZE,
					  SQLITE_STATIC);
			break;
		}
	}
}

static int sq_list(void *impl, const airi_filter *f, airi_run_fn fn,
		   void *ctx, airi_error *err)
{
	sq *q = impl;
	airi__buf sql;
	sqlite3_stmt *st = NULL;
	airi_digest lo, hi;
	size_t nib;
	int rc, ret = 0, next = 7;
	struct airi__where w;
	if ((rc = airi__where_parse(f->where, &w, err)))
		return rc;
	/*
	 * A model matches the requested or the resolved name: an OR over two
	 * indexed columns, which SQLite answers by collecting every match
	 * from both indexes and sorting them (seconds for a common model on
	 * millions of runs), or by walking the time index (seconds for a
	 * rare one). Instead, each index is walked newest first on its own,
	 * stopping at the limit, and the two short lists are merged.
	 */
	const char *um = f->model;
	const struct airi__term *skip = NULL;
	for (size_t i = 0; !um && i < w.nterms; i++)
		if (w.terms[i].kind == AIRI__T_MODEL) {
			skip = &w.terms[i];
			um = skip->value;
		}
	airi__buf rest, order;
	airi__buf_init(&rest);
	airi__buf_init(&order);
	if (f->has_since)
		airi__buf_adds(&rest, " AND time_ms >= ?2");
	if (f->has_until)
		airi__buf_adds(&rest, " AND time_ms < ?3");
	if (f->conditions) {
		airi__prefix_range(f->conditions, &lo, &hi, &nib);
		airi__buf_adds(&rest, " AND conditions >= ?4 AND conditions <= ?5");
	}
	where_sql(&w, &rest, &next, skip);
	airi__buf_adds(&order, " ORDER BY time_ms DESC, seq DESC");
	if (f->limit)
		airi__buf_adds(&order, " LIMIT ?6");
	airi__buf_init(&sql);
	airi__buf_adds(&sql, "SELECT id, conditions, recorded_ms, time_ms, "
			     "model, resolved, summary FROM runs WHERE ");
	if (um && !rest.failed && !order.failed)
		airi__buf_printf(&sql,
				 "seq IN (SELECT seq FROM (SELECT seq FROM runs "
				 "WHERE model = ?1%s%s) UNION SELECT seq FROM "
				 "(SELECT seq FROM runs WHERE resolved = ?1%s%s))",
				 rest.p ? rest.p : "", order.p,
				 rest.p ? rest.p : "", order.p);
	else {
		airi__buf_adds(&sql, "1");
		if (rest.p)
			airi__buf_adds(&sql, rest.p);
	}
	if (order.p)
		airi__buf_adds(&sql, order.p);
	if (rest.failed || order.failed)
		sql.failed = 1;
	airi__buf_release(&rest);
	airi__buf_release(&order);
	if (sql.failed || sqlite3_prepare_v2(q->db, sql.p, -1, &st, NULL) !=
				  SQLITE_OK) {
		airi__buf_release(&sql);
		airi__where_free(&w);
		return sq_fail(q, err, "cannot list runs");
	}
	airi__buf_release(&sql);
	if (um)
		sqlite3_bind_text(st, 1, um, -1, SQLITE_STATIC);
	if (f->has_since)
		sqlite3_bind_int64(st, 2, f->since_ms);
	if (f->has_until)
		sqlite3_bind_int64(st, 3, f->until_ms);
	if (f->conditions) {
		sqlite3_bind_blob(st, 4, lo.bytes, AIRI_DIGEST_SIZE,
				  SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 5, hi.bytes, AIRI_DIGEST_SIZE,
				  SQLITE_TRANSIENT);
	}
	if (f->limit)
		sqlite3_bind_int64(st, 6, (sqlite3_int64)f->limit);
	where_bind(st, &w, 7);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		airi_run_info info;
		memset(&info, 0, sizeof(info));
		if (sqlite3_column_bytes(st, 0) != AIRI_DIGEST_SIZE ||
		    sqlite3_column_bytes(st, 1) != AIRI_DIGEST_SIZE)
			continue;
		memcpy(info.run.bytes, sqlite3_column_blob(st, 0),
		       AIRI_DIGEST_SIZE);
		memcpy(info.conditions.bytes, sqlite3_column_blob(st, 1),
		       AIRI_DIGEST_SIZE);
		info.recorded_ms = sqlite3_column_int64(st, 2);
		info.time_ms = sqlite3_column_int64(st, 3);
		info.model = (const char *)sqlite3_column_text(st, 4);
		info.model_resolved = (const char *)sqlite3_column_text(st, 5);
		info.summary = (const char *)sqlite3_column_text(st, 6);
		if ((ret = fn(ctx, &info)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot list runs");
	sqlite3_finalize(st);
	airi__where_free(&w);
	return ret;
}

/* ---- cohorts ------------------------------------------------------------ */

static void col_digest(sqlite3_stmt *st, int col, airi_digest *d, int *has)
{
	*has = sqlite3_column_bytes(st, col) == AIRI_DIGEST_SIZE;
	if (*has)
		memcpy(d->bytes, sqlite3_column_blob(st, col), AIRI_DIGEST_SIZE);
}

static int64_t col_int(sqlite3_stmt *st, int col, int64_t dflt)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL
		       ? dflt
		       : sqlite3_column_int64(st, col);
}

static int sq_scan(void *impl, const struct airi__where *w, airi__scan_fn fn,
		   void *ctx, airi_error *err)
{
	sq *q = impl;
	airi__buf sql;
	sqlite3_stmt *st = NULL;
	int rc, ret = 0, next = 1;
	airi__buf_init(&sql);
	airi__buf_adds(&sql, "SELECT seq, id, time_ms, model, resolved, summary, "
			     "s_model, s_params, s_system, s_input, s_retrieval, "
			     "s_tools, s_environment, out_digest, status, failed, "
			     "finish, out_chars, latency_ms, tool_calls, "
			     "out_tokens FROM runs WHERE 1");
	where_sql(w, &sql, &next, NULL);
	if (sql.failed ||
	    sqlite3_prepare_v2(q->db, sql.p, -1, &st, NULL) != SQLITE_OK) {
		airi__buf_release(&sql);
		return sq_fail(q, err, "cannot scan runs");
	}
	airi__buf_release(&sql);
	where_bind(st, w, 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct airi__scan r;
		struct airi__facts *f = &r.facts;
		memset(&r, 0, sizeof(r));
		int has;
		r.seq = sqlite3_column_int64(st, 0);
		col_digest(st, 1, &r.run, &has);
		if (!has)
			continue;
		r.time_ms = sqlite3_column_int64(st, 2);
		r.model = (const char *)sqlite3_column_text(st, 3);
		r.resolved = (const char *)sqlite3_column_text(st, 4);
		r.summary = (const char *)sqlite3_column_text(st, 5);
		for (int k = 0; k < AIRI__NSTD; k++)
			col_digest(st, 6 + k, &f->sec[k], &f->has_sec[k]);
		col_digest(st, 13, &f->out, &f->has_out);
		f->status = col_int(st, 14, -1);
		f->failed = (int)col_int(st, 15, 0);
		const char *fin = (const char *)sqlite3_column_text(st, 16);
		if (fin)
			snprintf(f->finish, sizeof(f->finish), "%s", fin);
		f->out_chars = col_int(st, 17, -1);
		f->latency_ms = col_int(st, 18, -1);
		f->tool_calls = col_int(st, 19, 0);
		f->out_tokens = col_int(st, 20, -1);
		if ((ret = fn(ctx, &r)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot scan runs");
	sqlite3_finalize(st);
	return ret;
}

/* numeric labels of the runs a filter selects: (seq, key, num) */
static int sq_scores(void *impl, const struct airi__where *w,
		     airi__score_fn fn, void *ctx, airi_error *err)
{
	sq *q = impl;
	airi__buf sql;
	sqlite3_stmt *st = NULL;
	int rc, ret = 0, next = 1;
	airi__buf_init(&sql);
	airi__buf_adds(&sql, "SELECT l.seq, l.key, l.num FROM labels l JOIN runs "
			     "ON runs.seq = l.seq WHERE l.num IS NOT NULL");
	where_sql(w, &sql, &next, NULL);
	if (sql.failed ||
	    sqlite3_prepare_v2(q->db, sql.p, -1, &st, NULL) != SQLITE_OK) {
		airi__buf_release(&sql);
		return sq_fail(q, err, "cannot read scores");
	}
	airi__buf_release(&sql);
	where_bind(st, w, 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 1);
		if (k && (ret = fn(ctx, sqlite3_column_int64(st, 0), k,
				   sqlite3_column_double(st, 2))))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot read scores");
	sqlite3_finalize(st);
	return ret;
}

/* ---- labels ------------------------------------------------------------- */

static int sq_label_put(void *impl, const airi_digest *run, const char *key,
			const char *value, const double *num, int64_t ms,
			airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st;
	int rc;
	if (value)
		rc = sqlite3_prepare_v2(q->db,
					"INSERT OR REPLACE INTO labels(seq, key, "
					"value, num, time_ms) SELECT seq, ?2, ?3, "
					"?4, ?5 FROM runs WHERE id = ?1",
					-1, &st, NULL);
	else
		rc = sqlite3_prepare_v2(q->db,
					"DELETE FROM labels WHERE key = ?2 AND seq "
					"= (SELECT seq FROM runs WHERE id = ?1)",
					-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(q, err, "cannot write labels");
	sqlite3_bind_blob(st, 1, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (value) {
		sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
		if (num)
			sqlite3_bind_double(st, 4, *num);
		sqlite3_bind_int64(st, 5, ms);
	}
	rc = sqlite3_step(st);
	int changed = sqlite3_changes(q->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(q, err, "cannot write labels");
	if (value && !changed)
		return airi__err(err, AIRI_ENOTFOUND, "no such run");
	return 0;
}

static int sq_labels(void *impl, const airi_digest *run, airi_label_fn fn,
		     void *ctx, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st;
	int rc, ret = 0;
	if (sqlite3_prepare_v2(q->db,
			       "SELECT l.key, l.value, l.num, l.time_ms FROM labels "
			       "l JOIN runs r ON r.seq = l.seq WHERE r.id = ?1 "
			       "ORDER BY l.key",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(q, err, "cannot read labels");
	sqlite3_bind_blob(st, 1, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		airi_label l;
		l.key = (const char *)sqlite3_column_text(st, 0);
		l.value = (const char *)sqlite3_column_text(st, 1);
		l.has_score = sqlite3_column_type(st, 2) != SQLITE_NULL;
		l.score = sqlite3_column_double(st, 2);
		l.time_ms = sqlite3_column_int64(st, 3);
		if (l.key && l.value && (ret = fn(ctx, &l)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot read labels");
	sqlite3_finalize(st);
	return ret;
}

static int sq_each_object(void *impl, airi__object_fn fn, void *ctx,
			  airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st;
	int rc, ret = 0;
	if (sqlite3_prepare_v2(q->db, "SELECT digest, body FROM objects", -1,
			       &st, NULL) != SQLITE_OK)
		return sq_fail(q, err, "cannot read objects");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		airi_digest d;
		memset(&d, 0, sizeof(d));
		int dn = sqlite3_column_bytes(st, 0);
		memcpy(d.bytes, sqlite3_column_blob(st, 0),
		       dn < AIRI_DIGEST_SIZE ? (size_t)dn : AIRI_DIGEST_SIZE);
		const char *body = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		if ((ret = fn(ctx, &d, body ? body : "", n)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot read objects");
	sqlite3_finalize(st);
	return ret;
}

static int sq_each_run(void *impl, airi__digest_fn fn, void *ctx,
		       airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st;
	int rc, ret = 0;
	if (sqlite3_prepare_v2(q->db,
			       "SELECT id, recorded_ms FROM runs ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return sq_fail(q, err, "cannot read runs");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		airi_digest d;
		if (sqlite3_column_bytes(st, 0) != AIRI_DIGEST_SIZE)
			continue;
		memcpy(d.bytes, sqlite3_column_blob(st, 0), AIRI_DIGEST_SIZE);
		if ((ret = fn(ctx, &d, sqlite3_column_int64(st, 1))))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_fail(q, err, "cannot read runs");
	sqlite3_finalize(st);
	return ret;
}

/* ---- log ---------------------------------------------------------------- */

static int sq_log_size(void *impl, uint64_t *size, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_LOG_SIZE];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : sq_fail(q, err, "cannot read the log");
}

static int sq_log_append(void *impl, uint64_t index, const airi_digest *run,
			 const char *entry, size_t n, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_LOG_APPEND];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	sqlite3_bind_blob(st, 2, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, entry, (int)n, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, err, "cannot append to the log");
}

static int leaf_row(sq *q, sqlite3_stmt *st, char **entry, size_t *n,
		    airi_error *err)
{
	size_t len = (size_t)sqlite3_column_bytes(st, 1);
	char *b = malloc(len + 1);
	if (!b)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	memcpy(b, sqlite3_column_blob(st, 1), len);
	b[len] = 0;
	*entry = b;
	*n = len;
	(void)q;
	return 0;
}

static int sq_log_find(void *impl, const airi_digest *run, uint64_t *index,
		       char **entry, size_t *n, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_LOG_FIND];
	int rc, ret;
	sqlite3_bind_blob(st, 1, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*index = (uint64_t)sqlite3_column_int64(st, 0);
		ret = leaf_row(q, st, entry, n, err);
	} else if (rc == SQLITE_DONE) {
		ret = AIRI_ENOTFOUND;
	} else {
		ret = sq_fail(q, err, "cannot read the log");
	}
	sqlite3_reset(st);
	return ret;
}

static int sq_log_at(void *impl, uint64_t index, airi_digest *run,
		     char **entry, size_t *n, airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_LOG_AT];
	int rc, ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == AIRI_DIGEST_SIZE) {
		memcpy(run->bytes, sqlite3_column_blob(st, 0), AIRI_DIGEST_SIZE);
		ret = leaf_row(q, st, entry, n, err);
	} else if (rc == SQLITE_DONE) {
		ret = airi__err(err, AIRI_ENOTFOUND, "no log entry %llu",
				(unsigned long long)index);
	} else {
		ret = sq_fail(q, err, "cannot read the log");
	}
	sqlite3_reset(st);
	return ret;
}

static sqlite3_int64 node_key(int level, uint64_t index)
{
	return (sqlite3_int64)((uint64_t)level << 56 | index);
}

static int sq_node_get(void *impl, int level, uint64_t index,
		       unsigned char out[AIRI_HASH_SIZE], airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[level ? ST_NODE_GET : ST_LEAF_ENTRY];
	int rc, ret = 0;
	sqlite3_bind_int64(st, 1, level ? node_key(level, index)
					: (sqlite3_int64)index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !level)
		airi_merkle_leaf_hash(sqlite3_column_blob(st, 0),
				      (size_t)sqlite3_column_bytes(st, 0), out);
	else if (rc == SQLITE_ROW &&
		 sqlite3_column_bytes(st, 0) == AIRI_HASH_SIZE)
		memcpy(out, sqlite3_column_blob(st, 0), AIRI_HASH_SIZE);
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		ret = AIRI_ENOTFOUND;
	else
		ret = sq_fail(q, err, "cannot read the log");
	sqlite3_reset(st);
	return ret;
}

static int sq_node_put(void *impl, int level, uint64_t index,
		       const unsigned char hash[AIRI_HASH_SIZE], airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_NODE_PUT];
	if (level == 0)
		return 0; /* leaf hashes are recomputed from the entries */
	sqlite3_bind_int64(st, 1, node_key(level, index));
	sqlite3_bind_blob(st, 2, hash, AIRI_HASH_SIZE, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, err, "cannot write the log");
}

static int sq_nodes_get(void *impl, size_t n, const int *level,
			const uint64_t *index, unsigned char (*out)[AIRI_HASH_SIZE],
			airi_error *err)
{
	sq *q = impl;
	char *found = calloc(n ? n : 1, 1);
	airi__buf ids[2];
	int ret = 0;
	if (!found)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	airi__buf_init(&ids[0]);
	airi__buf_init(&ids[1]);
	for (int k = 0; k < 2; k++)
		airi__buf_addc(&ids[k], '[');
	for (size_t i = 0; i < n; i++) {
		airi__buf *b = &ids[level[i] ? 1 : 0];
		airi__buf_printf(b, "%s%lld", b->n > 1 ? "," : "",
				 level[i] ? (long long)node_key(level[i], index[i])
					  : (long long)index[i]);
	}
	for (int k = 0; k < 2 && !ret; k++) {
		airi__buf_addc(&ids[k], ']');
		if (ids[k].n <= 2)
			continue;
		sqlite3_stmt *st = q->st[k ? ST_NODES_MANY : ST_LEAVES_MANY];
		sqlite3_bind_text(st, 1, ids[k].p, (int)ids[k].n, SQLITE_STATIC);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			sqlite3_int64 id = sqlite3_column_int64(st, 0);
			const void *blob = sqlite3_column_blob(st, 1);
			size_t bl = (size_t)sqlite3_column_bytes(st, 1);
			for (size_t i = 0; i < n; i++) {
				int match = k ? (level[i] &&
						 node_key(level[i], index[i]) == id)
					      : (!level[i] &&
						 (sqlite3_int64)index[i] == id);
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
		if (rc != SQLITE_DONE)
			ret = sq_fail(q, err, "cannot read the log");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	for (size_t i = 0; i < n && !ret; i++)
		if (!found[i])
			ret = AIRI_ENOTFOUND;
	airi__buf_release(&ids[0]);
	airi__buf_release(&ids[1]);
	free(found);
	return ret;
}

static int sq_set_log_index(void *impl, const airi_digest *run, uint64_t index,
			    airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_SET_LOG_IDX];
	sqlite3_bind_blob(st, 1, run->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, err, "cannot update a run");
}

static int sq_checkpoint_put(void *impl, uint64_t size, const char *note,
			     airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_CP_PUT];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0
				 : sq_fail(q, err, "cannot store the checkpoint");
}

static int sq_checkpoint_latest(void *impl, uint64_t *size, char **note,
				airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_CP_LATEST];
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		*size = (uint64_t)sqlite3_column_int64(st, 0);
		const char *t = (const char *)sqlite3_column_text(st, 1);
		*note = strdup(t ? t : "");
		if (!*note)
			ret = airi__err(err, AIRI_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		ret = AIRI_ENOTFOUND;
	} else {
		ret = sq_fail(q, err, "cannot read checkpoints");
	}
	sqlite3_reset(st);
	return ret;
}

static int sq_set_cache(void *impl, unsigned mib)
{
	sq *q = impl;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%u", mib * 1024u);
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : AIRI_ESTORE;
}

static int sq_setting_get(void *impl, const char *key, char **value,
			  airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_SET_GET];
	int rc, ret = 0;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		*value = strdup(t ? t : "");
		if (!*value)
			ret = airi__err(err, AIRI_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		ret = AIRI_ENOTFOUND;
	} else {
		ret = sq_fail(q, err, "cannot read settings");
	}
	sqlite3_reset(st);
	return ret;
}

static int sq_setting_put(void *impl, const char *key, const char *value,
			  airi_error *err)
{
	sq *q = impl;
	sqlite3_stmt *st = q->st[ST_SET_PUT];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, err, "cannot write settings");
}

/* The first column of a statement's first row as text ("" for none) */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	out[0] = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, n, "%s", t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Opening migrates a SQLite store (one file, one writer at a time): this
 * reports the versions before and after for `airi store migrate`. */
static int sq_migrate(const char *location, int target, int *from, int *to,
		      airi_error *err)
{
	void *impl = NULL;
	sqlite3 *db = NULL;
	struct stat st;
	int rc;
	(void)target;
	*from = 0;
	if (stat(location, &st) == 0 && S_ISREG(st.st_mode) &&
	    sqlite3_open_v2(location, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK) {
		char v[32];
		if (pragma_text(db, "PRAGMA user_version", v, sizeof(v)) ==
		    SQLITE_OK)
			*from = atoi(v);
	}
	sqlite3_close(db);
	if ((rc = sq_open(location, AIRI_STORE_CREATE, &impl, err)))
		return rc;
	sq_close(impl);
	*to = SCHEMA_VERSION;
	return 0;
}

/* The size of the store's files: the database and its write-ahead log */
static uint64_t store_bytes(const char *location)
{
	struct stat st;
	char wal[4200];
	uint64_t n = stat(location, &st) == 0 ? (uint64_t)st.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", location);
	if (stat(wal, &st) == 0)
		n += (uint64_t)st.st_size;
	return n;
}

/* VACUUM into pages of page_size bytes. Changing the page size needs the
 * rollback journal for the VACUUM (WAL mode fixes it), and leaving WAL
 * mode needs the only connection: a store another process has open is
 * refused, not waited for. */
static int sq_compact(const char *location, unsigned page_size,
		      struct airi__compacted *out, airi_error *err)
{
	struct stat st;
	sqlite3 *db = NULL;
	char v[64], sql[64];
	int rc = 0;
	if (!page_size)
		page_size = 16384;
	if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)))
		return airi__err(err, AIRI_EINVAL,
				 "page size %u: a power of two from 512 to 65536",
				 page_size);
	if (stat(location, &st) || !S_ISREG(st.st_mode))
		return airi__err(err, AIRI_ENOTFOUND, "no store at %s", location);
	out->bytes_before = store_bytes(location);
	if (sqlite3_open_v2(location, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = airi__err(err, AIRI_ESTORE, "%s: %s", location,
			       db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 2000);
	if (pragma_text(db, "PRAGMA page_size", v, sizeof(v)) != SQLITE_OK) {
		rc = airi__err(err, AIRI_ESTORE, "%s: not a SQLite store: %s",
			       location, sqlite3_errmsg(db));
		goto done;
	}
	out->page_before = (unsigned)atoi(v);
	/* everything in the database file, then out of WAL mode: only
	 * possible with no other connection */
	if (pragma_text(db, "PRAGMA wal_checkpoint(TRUNCATE)", v, sizeof(v)) ||
	    strcmp(v, "0") ||
	    pragma_text(db, "PRAGMA journal_mode=DELETE", v, sizeof(v)) ||
	    strcmp(v, "delete")) {
		rc = airi__err(err, AIRI_ESTORE,
			       "%s is in use by another process (a proxy, a "
			       "receiver, another airi): stop it and compact "
			       "again",
			       location);
		sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		goto done;
	}
	snprintf(sql, sizeof(sql), "PRAGMA page_size=%u", page_size);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		rc = airi__err(err, AIRI_ESTORE, "%s: cannot compact: %s",
			       location, sqlite3_errmsg(db));
	/* back to WAL mode whatever happened (VACUUM is all or nothing) */
	if (pragma_text(db, "PRAGMA journal_mode=WAL", v, sizeof(v)) ||
	    strcmp(v, "wal")) {
		if (!rc)
			rc = airi__err(err, AIRI_ESTORE,
				       "%s: cannot return to WAL mode: %s",
				       location, sqlite3_errmsg(db));
	}
	if (pragma_text(db, "PRAGMA page_size", v, sizeof(v)) == SQLITE_OK)
		out->page_after = (unsigned)atoi(v);
done:
	sqlite3_close(db);
	out->bytes_after = store_bytes(location);
	return rc;
}

const struct airi__store_ops airi__sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.put_object = sq_put_object,
	.get_object = sq_get_object,
	.has_run = sq_has_run,
	.put_run = sq_put_run,
	.find_runs = sq_find_runs,
	.list = sq_list,
	.each_object = sq_each_object,
	.each_run = sq_each_run,
	.log_size = sq_log_size,
	.log_append = sq_log_append,
	.log_find = sq_log_find,
	.log_at = sq_log_at,
	.node_get = sq_node_get,
	.node_put = sq_node_put,
	.checkpoint_put = sq_checkpoint_put,
	.checkpoint_latest = sq_checkpoint_latest,
	.setting_get = sq_setting_get,
	.setting_put = sq_setting_put,
	.nodes_get = sq_nodes_get,
	.set_cache = sq_set_cache,
	.set_log_index = sq_set_log_index,
	.set_facts = sq_set_facts,
	.scan = sq_scan,
	.scores = sq_scores,
	.label_put = sq_label_put,
	.labels = sq_labels,
	.migrate = sq_migrate,
	.compact = sq_compact,
	.version = SCHEMA_VERSION,
};
