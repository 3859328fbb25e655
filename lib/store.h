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
};

typedef int (*airi__object_fn)(void *ctx, const airi_digest *d,
			       const char *body, size_t n);
typedef int (*airi__digest_fn)(void *ctx, const airi_digest *d);

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
};

extern const struct airi__store_ops airi__sqlite_ops;

/* Parses a hex ID prefix (optionally "sha256:"-prefixed) into the lowest
 * and highest digests it covers; nibbles receives its length. */
int airi__prefix_range(const char *id, airi_digest *lo, airi_digest *hi,
		       size_t *nibbles);

#endif
