/*
 * sync.c - `airi push DEST` and `airi pull SRC`: copy runs (all, or those
 * the filters of `airi log` select) from one store to another, SQLite or
 * PostgreSQL, with their objects and labels (lib/sync.c). Idempotent by
 * run ID; the destination appends the runs to its own log and, when a
 * signing key is around, signs a checkpoint as `airi record` does.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* the filter of `airi log`: options and KEY=VALUE arguments after the
 * first (the other store) */
static int sync_filter(struct args *a, airi_filter *f, char *where,
		       size_t cap)
{
	size_t wn = 0;
	memset(f, 0, sizeof(*f));
	where[0] = 0;
	if (cli_val(a, "where"))
		wn = (size_t)snprintf(where, cap, "%s", cli_val(a, "where"));
	for (int i = 1; i < a->npos && wn < cap; i++) {
		if (!strchr(a->pos[i], '=')) {
			cli_errorf("%s: unexpected argument \"%s\" (filter terms "
				   "are KEY=VALUE)",
				   a->cmd, a->pos[i]);
			return EXIT_USAGE;
		}
		wn += (size_t)snprintf(where + wn, cap - wn, " %s", a->pos[i]);
	}
	if (wn >= cap) {
		cli_errorf("%s: filter longer than %zu bytes", a->cmd, cap - 1);
		return EXIT_USAGE;
	}
	f->where = where[0] ? where : NULL;
	f->model = cli_val(a, "model");
	f->conditions = cli_val(a, "conditions");
	static const char *const tn[2] = {"since", "until"};
	for (int k = 0; k < 2; k++) {
		const char *v = cli_val(a, tn[k]);
		int64_t ms;
		if (!v)
			continue;
		if (airi__rfc3339_parse(v, strlen(v), &ms)) {
			cli_errorf("%s: --%s: \"%s\" is not an RFC 3339 time "
				   "(e.g. 2026-01-31T12:00:00Z)",
				   a->cmd, tn[k], v);
			return EXIT_USAGE;
		}
		if (k) {
			f->until_ms = ms;
			f->has_until = 1;
		} else {
			f->since_ms = ms;
			f->has_since = 1;
		}
	}
	if (cli_val(a, "limit")) {
		char *end;
		const char *v = cli_val(a, "limit");
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *end || n == 0 || errno == ERANGE || *v == '-') {
			cli_errorf("%s: --limit needs a positive number", a->cmd);
			return EXIT_USAGE;
		}
		f->limit = (size_t)n;
	}
	return 0;
}

static int sync_cmd(struct args *a, int push)
{
	airi_filter f;
	char where[8192];
	airi_store *local = NULL, *other = NULL;
	airi_error err;
	struct airi__sync_stats st;
	int rc, status = 0;
	if (a->npos < 1) {
		cli_errorf("%s: expected the %s store (see 'airi help %s')",
			   a->cmd, push ? "destination" : "source", a->cmd);
		return EXIT_USAGE;
	}
	if ((rc = sync_filter(a, &f, where, sizeof(where))))
		return rc;
	/* push: local -> other (created if need be); pull: other -> local */
	if (!(local = cli_store(a, push ? 0 : AIRI_STORE_CREATE, &status)))
		return status;
	rc = airi_store_open(a->pos[0], push ? AIRI_STORE_CREATE : 0, &other,
			     &err);
	if (rc) {
		cli_error(NULL, &err);
		airi_store_close(local);
		return EXIT_TROUBLE;
	}
	airi_store *src = push ? local : other, *dst = push ? other : local;
	rc = airi__store_sync(src, dst, &f, &st, &err);
	if (rc) {
		cli_errorf("%s: %s", a->cmd, err.message);
		status = rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	} else {
		/* with a signing key around, the destination signs what it
		 * has now, as airi record does */
		airi_key *k = NULL;
		if (st.copied && (k = cli_signer(a, 0, &status))) {
			char *note = NULL;
			if (airi_store_checkpoint(dst, k, NULL, &note, &err)) {
				cli_error(NULL, &err);
				status = EXIT_TROUBLE;
			}
			free(note);
			airi_key_free(k);
		}
		if (cli_opt(a, "json"))
			printf("{\"copied\":%zu,\"labels\":%zu,\"present\":%zu,"
			       "\"selected\":%zu}\n",
			       st.copied, st.labels, st.selected - st.copied,
			       st.selected);
		else
			printf("%s %zu run%s (%zu already there), %zu label%s\n",
			       push ? "pushed" : "pulled", st.copied,
			       st.copied == 1 ? "" : "s", st.selected - st.copied,
			       st.labels, st.labels == 1 ? "" : "s");
	}
	airi_store_close(other);
	airi_store_close(local);
	return status;
}

int cmd_push(struct args *a)
{
	return sync_cmd(a, 1);
}

int cmd_pull(struct args *a)
{
	return sync_cmd(a, 0);
}
