/*
 * record.c - `airi record`: store one manifest, or with --jsonl one per
 * line as a bulk import where each batch is one transaction (all lines
 * valid and stored, or nothing stored). IDs are printed only after the
 * batch that holds them is durable.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int print_ids(const airi_manifest *m, int json)
{
	if (json) {
		char *j;
		size_t n;
		if (airi_manifest_ids_json(m, &j, &n))
			return -1;
		cli_write(j, n);
		putchar('\n');
		free(j);
	} else {
		char d[AIRI_DIGEST_STRLEN];
		airi_digest_format(airi_manifest_run_id(m), d);
		d[AIRI_DIGEST_STRLEN - 1] = '\n';
		cli_write(d, AIRI_DIGEST_STRLEN);
	}
	return 0;
}

static int record_one(struct args *a, const char *path)
{
	char *data;
	size_t len;
	airi_manifest *m;
	airi_store *s;
	airi_error err;
	int rc, status = 0;
	if (cli_read(path, &data, &len))
		return EXIT_NOINPUT;
	rc = airi_manifest_parse(data, len, &m, &err);
	free(data);
	if (rc) {
		cli_error(cli_name(path), &err);
		return cli_status(rc);
	}
	if (cli_val(a, "salt")) {
		char *salted;
		size_t sn;
		airi_manifest *m2 = NULL;
		if ((rc = airi_manifest_salt(m, cli_val(a, "salt"), &salted, &sn,
					     &err)) ||
		    (rc = airi_manifest_parse(salted, sn, &m2, &err))) {
			if (!rc)
				free(salted);
			cli_error(NULL, &err);
			airi_manifest_free(m);
			return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
		}
		free(salted);
		airi_manifest_free(m);
		m = m2;
	}
	if (!(s = cli_store(a, AIRI_STORE_CREATE, &status))) {
		airi_manifest_free(m);
		return status;
	}
	rc = airi_store_record(s, m, NULL, &err);
	if (rc) {
		cli_error(NULL, &err);
		status = EXIT_TROUBLE;
	} else {
		status = cli_sign_checkpoint(a, s);
		print_ids(m, cli_opt(a, "json"));
	}
	airi_manifest_free(m);
	airi_store_close(s);
	return status;
}

/*
 * A bulk import reads a chunk of lines and parses them before it touches
 * the store, then records the chunk in one call: on PostgreSQL the parsing
 * and hashing then happen while other writers hold the store's lock, and
 * the chunk costs a few statements, not one per run. A chunk is a whole
 * batch (its own transaction) when the batch fits in one; larger batches
 * (and an import without --batch) are one transaction of several chunks.
 */
#define CHUNK_RUNS 4096
#define CHUNK_BYTES ((size_t)32 << 20)

struct chunk {
	char **lines;         /* the text each manifest borrows */
	airi_manifest **m;
	size_t n, cap, bytes;
};

static void chunk_clear(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++) {
		airi_manifest_free(c->m[i]);
		free(c->lines[i]);
	}
	c->n = 0;
	c->bytes = 0;
}

static int chunk_add(struct chunk *c, char *line, size_t len,
		     airi_manifest *m)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		char **l = realloc(c->lines, cap * sizeof(*l));
		if (l)
			c->lines = l;
		airi_manifest **mm = realloc(c->m, cap * sizeof(*mm));
		if (mm)
			c->m = mm;
		if (!l || !mm)
			return AIRI_ENOMEM;
		c->cap = cap;
	}
	c->lines[c->n] = line;
	c->m[c->n++] = m;
	c->bytes += len;
	return 0;
}

/* appends the IDs of the chunk's manifests to the text printed at the
 * next commit */
static int chunk_ids(const struct chunk *c, int json, char **ids,
		     size_t *ids_n, size_t *ids_cap)
{
	for (size_t i = 0; i < c->n; i++) {
		char *j = NULL;
		size_t n = 0;
		char d[AIRI_DIGEST_STRLEN];
		int rc = 0;
		if (json) {
			rc = airi_manifest_ids_json(c->m[i], &j, &n);
		} else {
			airi_digest_format(airi_manifest_run_id(c->m[i]), d);
			j = d;
			n = AIRI_DIGEST_STRLEN - 1;
		}
		if (!rc && *ids_n + n + 1 > *ids_cap) {
			size_t cap = *ids_cap ? *ids_cap * 2 : 1 << 16;
			while (cap < *ids_n + n + 1)
				cap *= 2;
			char *p = realloc(*ids, cap);
			if (!p)
				rc = AIRI_ENOMEM;
			else {
				*ids = p;
				*ids_cap = cap;
			}
		}
		if (!rc) {
			memcpy(*ids + *ids_n, j, n);
			*ids_n += n;
			(*ids)[(*ids_n)++] = '\n';
		}
		if (json)
			free(j);
		if (rc)
			return rc;
	}
	return 0;
}

static int record_jsonl(struct args *a, const char *path)
{
	char *line = NULL;
	size_t linecap = 0, batch = 0, pos = 0, lineno = 0, in_batch = 0;
	FILE *in;
	airi_store *s;
	airi_error err;
	char *ids = NULL; /* printed after each commit */
	size_t ids_n = 0, ids_cap = 0;
	struct chunk ch = {0};
	int rc = 0, status = 0, json = cli_opt(a, "json"), in_tx = 0;
	const char *bv = cli_val(a, "batch");
	if (bv) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(bv, &end, 10);
		if (!*bv || *end || v == 0 || errno == ERANGE || *bv == '-') {
			cli_errorf("record: --batch needs a positive number, "
				   "not \"%s\"",
				   bv);
			return EXIT_USAGE;
		}
		batch = (size_t)v;
	}
	/* the input is streamed line by line: memory stays bounded by a
	 * chunk of lines, not the file */
	in = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "rb");
	if (!in) {
		cli_errorf("%s: %s", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	/* a store this import creates is removed again if nothing in it
	 * was committed, so a rejected import leaves no trace */
	char *loc = cli_store_location(a);
	int existed = loc && access(loc, F_OK) == 0, committed = 0;
	if (!(s = cli_store(a, AIRI_STORE_CREATE, &status))) {
		if (in != stdin)
			fclose(in);
		free(loc);
		return status;
	}
	/* a bulk import may use more page cache (bounded: 512 MiB) */
	airi_store_set_cache(s, 512);
	ssize_t got;
	int eof = 0;
	while (!status) {
		got = getline(&line, &linecap, in);
		if (got <= 0)
			eof = 1;
		else {
			size_t start = pos;
			size_t ll = (size_t)got;
			lineno++;
			pos += ll;
			if (ll && line[ll - 1] == '\n')
				ll--;
			if (ll && line[ll - 1] == '\r')
				ll--;
			/* blank lines are skipped */
			size_t k = 0;
			while (k < ll && (line[k] == ' ' || line[k] == '\t'))
				k++;
			if (k == ll)
				continue;
			airi_manifest *m;
			/* canonical bytes kept: the store writes them as
			 * they are instead of canonicalizing again */
			rc = airi__manifest_parse_borrow_ex(line, ll,
							    AIRI__PARSE_KEEP_CANON,
							    &m, &err);
			if (rc) {
				/* report the place in the whole file */
				err.offset += start;
				if (err.has_position)
					err.line = lineno + err.line - 1;
				cli_error(cli_name(path), &err);
				status = cli_status(rc);
				break;
			}
			/* the manifest keeps the line: take it */
			if (chunk_add(&ch, line, ll, m)) {
				airi_manifest_free(m);
				cli_errorf("out of memory");
				status = EXIT_TROUBLE;
				break;
			}
			line = NULL;
			linecap = 0;
			in_batch++;
		}
		int batch_end = (batch && in_batch == batch) || (eof && in_batch);
		if (!batch_end && ch.n < CHUNK_RUNS && ch.bytes < CHUNK_BYTES &&
		    !eof)
			continue;
		/* a chunk: a whole batch in a transaction of its own, or a
		 * part of one */
		if (ch.n) {
			if (!batch_end && !in_tx) {
				if ((rc = airi_store_begin(s, &err))) {
					cli_error(NULL, &err);
					status = EXIT_TROUBLE;
					break;
				}
				in_tx = 1;
			}
			rc = airi__store_record_many(s, ch.m, ch.n, -1, NULL,
						     &err);
			if (rc) {
				cli_error(NULL, &err);
				status = EXIT_TROUBLE;
				break;
			}
			if (chunk_ids(&ch, json, &ids, &ids_n, &ids_cap)) {
				cli_errorf("out of memory");
				status = EXIT_TROUBLE;
				break;
			}
			chunk_clear(&ch);
		}
		if (batch_end) {
			if (in_tx && (rc = airi_store_commit(s, &err))) {
				in_tx = 0;
				cli_error(NULL, &err);
				status = EXIT_TROUBLE;
				break;
			}
			in_tx = 0;
			in_batch = 0;
			committed = 1;
			cli_write(ids, ids_n);
			ids_n = 0;
		}
		if (eof)
			break;
	}
	if (in_tx)
		airi_store_rollback(s);
	chunk_clear(&ch);
	free(ch.lines);
	free(ch.m);
	if (committed) {
		int st = cli_sign_checkpoint(a, s);
		if (!status)
			status = st;
	}
	if (status && batch)
		cli_errorf("record: stopped at line %zu; batches before it "
			   "were stored, the failing batch was not",
			   lineno);
	else if (status)
		cli_errorf("record: nothing was stored (the batch is "
			   "all-or-nothing)");
	if (!status && ferror(in)) {
		cli_errorf("%s: read error", cli_name(path));
		status = EXIT_NOINPUT;
	}
	free(ids);
	free(line);
	if (in != stdin)
		fclose(in);
	airi_store_close(s);
	if (!committed && !existed && loc && strncmp(loc, "postgres", 8)) {
		static const char *suffix[] = {"", "-wal", "-shm", "-journal"};
		for (size_t i = 0; i < 4; i++) {
			char p[4096];
			snprintf(p, sizeof(p), "%s%s", loc, suffix[i]);
			unlink(p);
		}
	}
	free(loc);
	return status;
}

int cmd_record(struct args *a)
{
	const char *path = a->npos ? a->pos[0] : "-";
	if (a->npos > 1) {
		cli_errorf("record: expected one input, got %d", a->npos);
		return EXIT_USAGE;
	}
	if (cli_opt(a, "salt") && cli_opt(a, "jsonl")) {
		cli_errorf("record: --salt applies to single manifests");
		return EXIT_USAGE;
	}
	if (cli_opt(a, "batch") && !cli_opt(a, "jsonl")) {
		cli_errorf("record: --batch only applies with --jsonl");
		return EXIT_USAGE;
	}
	/* a key that is named but unusable stops the command before anything
	 * is stored */
	int status = 0;
	airi_key *k = cli_signer(a, 0, &status);
	airi_key_free(k);
	if (status)
		return status;
	if (cli_opt(a, "jsonl"))
		return record_jsonl(a, path);
	return record_one(a, path);
}
