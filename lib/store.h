/*
 * store.h - the interface every store backend implements (private). The
 * callers (lib/store.c and through it the command and the proxy) only ever
 * see airi_store; a backend is one table of these operations, so adding
 * PostgreSQL means adding a file, not touching callers.
 *
 * Contract for all operations: return 0 or a negative AIRI_E* code and
 * fill err on failure; never leave a half-applied change visible outside
 * an open transaction.
 */
#ifndef AIRI_STORE_H
#define AIRI_STORE_H

#include "internal.h"

struct airi__run_row {
	airi_digest run, conditions;
	int64_t recorded_ms, time_ms;
	const char *model, *resolved; /* NUL-terminated or NULL */
	const char *summary;
	uint64_t log_index; /* its entry in the transparency log */
	const struct airi__facts *facts; /* for cohorts; NULL: unknown */
};

typedef int (*airi__object_fn)(void *ctx, const airi_digest *d,
			       const char *body, size_t n);
/* runs in recording order, with their recording time */
typedef int (*airi__digest_fn)(void *ctx, const airi_digest *d,
			       int64_t recorded_ms);

/* one run of a cohort scan; strings valid during the callback */
struct airi__scan {
	int64_t seq, time_ms;
	airi_digest run;
	const char *model, *resolved, *summary;
	struct airi__facts facts;
};
typedef int (*airi__scan_fn)(void *ctx, const struct airi__scan *r);
typedef int (*airi__score_fn)(void *ctx, int64_t seq, const char *key,
			      double num);

struct pending_obj; /* below: an object waiting in a transaction */
struct airi__compacted; /* below: what airi__store_compact did */

struct airi__store_ops {
	const char *name;
	int (*open)(const char *location, unsigned flags, void **impl,
		    airi_error *err);
	void (*close)(void *impl);
	int (*begin)(void *impl, airi_error *err);
	int (*commit)(void *impl, airi_error *err);
	void (*rollback)(void *impl);
	int (*put_object)(void *impl, const airi_digest *d, const void *body,
			  size_t n, airi_error *err);
	/* AIRI_ENOTFOUND when absent; *body is malloc'd */
	int (*get_object)(void *impl, const airi_digest *d, char **body,
			  size_t *n, airi_error *err);
	int (*has_run)(void *impl, const airi_digest *run, int *found,
		       airi_error *err);
	int (*put_run)(void *impl, const struct airi__run_row *row,
		       int *created, airi_error *err);
	/* runs with lo <= id <= hi, at most max written to out */
	int (*find_runs)(void *impl, const airi_digest *lo,
			 const airi_digest *hi, airi_digest *out, size_t max,
			 size_t *found, airi_error *err);
	int (*list)(void *impl, const airi_filter *f, airi_run_fn fn,
		    void *ctx, airi_error *err);
	int (*each_object)(void *impl, airi__object_fn fn, void *ctx,
			   airi_error *err);
	int (*each_run)(void *impl, airi__digest_fn fn, void *ctx,
			airi_error *err);

	/* the transparency log: leaves (index, run, canonical entry) and
	 * the hashes of perfect subtrees (level, index) */
	int (*log_size)(void *impl, uint64_t *size, airi_error *err);
	int (*log_append)(void *impl, uint64_t index, const airi_digest *run,
			  const char *entry, size_t n, airi_error *err);
	/* AIRI_ENOTFOUND when the run is not in the log */
	int (*log_find)(void *impl, const airi_digest *run, uint64_t *index,
			char **entry, size_t *n, airi_error *err);
	int (*log_at)(void *impl, uint64_t index, airi_digest *run,
		      char **entry, size_t *n, airi_error *err);
	int (*node_get)(void *impl, int level, uint64_t index,
			unsigned char out[AIRI_HASH_SIZE], airi_error *err);
	int (*node_put)(void *impl, int level, uint64_t index,
			const unsigned char hash[AIRI_HASH_SIZE],
			airi_error *err);
	/* many nodes at once (a proof's worth); level 0 is the leaf hash of
	 * the entry. AIRI_ENOTFOUND if any is missing. */
	int (*nodes_get)(void *impl, size_t n, const int *level,
			 const uint64_t *index,
			 unsigned char (*out)[AIRI_HASH_SIZE], airi_error *err);
	/* back-filling stores from before the log */
	int (*set_log_index)(void *impl, const airi_digest *run, uint64_t index,
			     airi_error *err);
	/* signed checkpoints by tree size; latest: AIRI_ENOTFOUND if none */
	int (*checkpoint_put)(void *impl, uint64_t size, const char *note,
			      airi_error *err);
	int (*checkpoint_latest)(void *impl, uint64_t *size, char **note,
				 airi_error *err);
	int (*set_cache)(void *impl, unsigned mib);
	/* run facts (back-filling stores from before them) */
	int (*set_facts)(void *impl, const airi_digest *run,
			 const struct airi__facts *f, airi_error *err);
	/* the runs a filter selects, with their facts, in no set order */
	int (*scan)(void *impl, const struct airi__where *w, airi__scan_fn fn,
		    void *ctx, airi_error *err);
	/* numeric labels of the runs a filter selects */
	int (*scores)(void *impl, const struct airi__where *w,
		      airi__score_fn fn, void *ctx, airi_error *err);
	/* value NULL: remove; AIRI_ENOTFOUND for an unknown run */
	int (*label_put)(void *impl, const airi_digest *run, const char *key,
			 const char *value, const double *num, int64_t ms,
			 airi_error *err);
	int (*labels)(void *impl, const airi_digest *run, airi_label_fn fn,
		      void *ctx, airi_error *err);
	/* small settings (the log's origin) */
	int (*setting_get)(void *impl, const char *key, char **value,
			   airi_error *err);
	int (*setting_put)(void *impl, const char *key, const char *value,
			   airi_error *err);
	/* brings the schema at location to version target (0: the newest),
	 * creating the store when there is none; *from and *to receive the
	 * versions before and after (0: no store) */
	int (*migrate)(const char *location, int target, int *from, int *to,
		       airi_error *err);
	/* optional: rewrites the store at location with pages of page_size
	 * bytes, dropping free space (see airi__store_compact) */
	int (*compact)(const char *location, unsigned page_size,
		       struct airi__compacted *out, airi_error *err);
	int version; /* the newest schema version the backend knows */
	/* optional: many objects at once (sorted by digest), as put_object
	 * each; used inside transactions */
	int (*put_objects)(void *impl, const struct pending_obj *objs, size_t n,
			   airi_error *err);
	/* optional: many run rows at once, inside a transaction, as put_run
	 * each: the rows (of distinct runs) whose run is not stored yet are
	 * inserted, the k-th of them in input order with log_index first + k
	 * (set in rows[i].log_index); created[i] says which. Without it
	 * airi__store_record_many() records one run at a time. */
	int (*put_runs)(void *impl, struct airi__run_row *rows, size_t n,
			uint64_t first, int *created, airi_error *err);
};

struct airi_store {
	const struct airi__store_ops *ops;
	void *impl;
	int in_tx;
	airi_digest *known;
	/* inside an explicit transaction nobody else can append, so the log
	 * size and the last node written at each level are kept here */
	int log_cached;
	uint64_t log_next;
	struct {
		uint64_t index;
		int valid;
		unsigned char hash[AIRI_HASH_SIZE];
	} frontier[64];
	/* inside an explicit transaction, new objects wait here and are
	 * written sorted by digest: random keys become sequential inserts
	 * (see lib/store.c, "pending objects") */
	struct pending_obj {
		airi_digest d;
		char *body;
		size_t n;
	} *pend;
	size_t npend, pend_cap, pend_bytes;
	/* objects are buffered outside a transaction too (a batch being
	 * prepared by airi__store_record_many) */
	int buffering;
};

/* Forgets the cached log state (at transaction boundaries). */
void airi__log_uncache(airi_store *s);

/* Appends a newly recorded run to the log as entry `index`, which the
 * caller got from airi__log_next() (inside the caller's transaction). */
int airi__log_append(airi_store *s, uint64_t index, const airi_digest *run,
		     int64_t recorded_ms, airi_error *err);
/* The index the next appended entry will get. */
int airi__log_next(airi_store *s, uint64_t *index, airi_error *err);

/* Stores canonical bytes under their digest (once; buffered inside a
 * transaction). */
int airi__store_put(airi_store *s, const airi_digest *d, const char *p,
		    size_t n, airi_error *err);
/* Writes the objects buffered in an open transaction (before reading). */
int airi__store_flush(airi_store *s, airi_error *err);
/* Small named settings; AIRI_ENOTFOUND when unset. */
int airi__store_setting(airi_store *s, const char *key, char **value,
			airi_error *err);
int airi__store_set_setting(airi_store *s, const char *key, const char *value,
			    airi_error *err);

extern const struct airi__store_ops airi__sqlite_ops;
extern const struct airi__store_ops airi__pg_ops;

/* True when a location names a PostgreSQL database: a postgres:// or
 * postgresql:// URI, or a libpq keyword/value string whose first word is
 * a libpq keyword (docs/postgres.md). */
int airi__pg_location(const char *location);

/* The backend a location selects, and the location as that backend
 * reads it ("sqlite:" removed). */
const struct airi__store_ops *airi__store_backend(const char *location,
						  const char **rest);

/* What airi__store_compact did: page sizes and store bytes (database and
 * write-ahead log) before and after. */
struct airi__compacted {
	unsigned page_before, page_after;
	uint64_t bytes_before, bytes_after;
};
/* Rewrites the store at location (SQLite: VACUUM) with pages of
 * page_size bytes (0: the size new stores get), which needs the store to
 * itself: AIRI_EBUSY-like AIRI_ESTORE "in use" when another process has it
 * open. AIRI_EINVAL for a backend without it. */
int airi__store_compact(const char *location, unsigned page_size,
			struct airi__compacted *out, const char **backend,
			airi_error *err);

/* Applies the schema migrations of the store at location up to version
 * target (0: the newest), creating it when there is none (the backend's
 * migrate operation). *from and *to: the versions before and after. */
int airi__store_migrate(const char *location, int target, int *from,
			int *to, const char **backend, airi_error *err);

/* airi_store_record() with a given recording time (sync keeps the
 * source's); recorded_ms < 0: now. */
int airi__store_record_at(airi_store *s, const airi_manifest *m,
			  int64_t recorded_ms, int *created, airi_error *err);

/* Records n manifests, each as airi__store_record_at() (recorded_ms < 0:
 * now, one time for the whole batch), in one transaction of its own or,
 * when one is open, in the caller's. created: NULL or n entries, 1 for
 * each manifest whose run was new (a run given twice is new once).
 * With a backend that has put_runs the batch costs a few statements: its
 * objects are written first (content-addressed, so writing them early is
 * harmless; in a transaction of their own when the caller has none, so
 * that they are not written under the store's write lock), then all run
 * rows at once, then the log entries of the new ones. On failure nothing
 * of the batch is recorded (objects may remain: unreferenced and
 * harmless) and an open transaction must be rolled back. */
int airi__store_record_many(airi_store *s, airi_manifest *const *m, size_t n,
			    int64_t recorded_ms, int *created, airi_error *err);

/* Copies the runs a filter selects (NULL: all) from src to dst: each
 * run's objects and row (rebuilt and checked against its ID first),
 * appended to dst's log in src's log order, and its labels. Runs already
 * in dst are not copied again; labels are written only where they
 * differ. Batches of runs are committed together. */
struct airi__sync_stats {
	size_t selected; /* runs the filter selected */
	size_t copied;   /* runs new to dst */
	size_t labels;   /* labels written to dst */
};
int airi__store_sync(airi_store *src, airi_store *dst, const airi_filter *f,
		     struct airi__sync_stats *st, airi_error *err);

/* Parses a hex ID prefix (optionally "sha256:"-prefixed) into the lowest
 * and highest digests it covers; nibbles receives its length. */
int airi__prefix_range(const char *id, airi_digest *lo, airi_digest *hi,
		       size_t *nibbles);

#endif
