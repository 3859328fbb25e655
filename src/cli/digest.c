/*
 * digest.c - `airi digest model PATH...` and `airi digest corpus INPUT`:
 * identifying what ran by content, through the library's helpers
 * (lib/filedigest.c, lib/corpus.c; docs/spec.md appendices A and B).
 *
 * model: a file's digest is the plain SHA-256 of its bytes, a directory's
 * the digest over its files' names and digests; a cache makes unchanged
 * files instant. corpus: the state digest of a retrieval corpus given as a
 * directory (a document per file, its id the relative path) or JSON Lines
 * ({"id", "text"} or {"id", "digest"}; with --update also
 * {"id", "deleted": true}), kept in the store when a name is given so the
 * next change is incremental.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct progress {
	time_t last;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	time_t now = time(NULL);
	if (now == p->last || total <= ((uint64_t)1 << 30))
		return;
	p->last = now;
	fprintf(stderr, "\rairi: hashing %5.1f%% of %.1f GB",
		100.0 * (double)done / (double)total, (double)total / 1e9);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	cli_errorf("%s", msg);
}

/* the cache the options ask for: NULL with --no-cache; an explicit
 * --cache that cannot be opened is an error, the default one is skipped */
static int open_cache(const struct args *a, airi_digest_cache **c)
{
	airi_error err;
	*c = NULL;
	if (cli_opt(a, "no-cache"))
		return 0;
	if (airi_digest_cache_open(cli_val(a, "cache"), c, &err)) {
		if (cli_val(a, "cache")) {
			cli_errorf("%s", err.message);
			return EXIT_NOINPUT;
		}
		*c = NULL;
	}
	return 0;
}

/* All arguments' files are hashed together, in parallel on the available
 * cores (cache look-ups first, on this thread), then each argument gets
 * its fragment. */
static int digest_model(struct args *a, airi_digest_cache *cache)
{
	int status = 0, json = cli_opt(a, "json"), n = a->npos - 1;
	struct progress pr = {0};
	airi_model_options o = {.cache = cache, .warn = on_warn};
	struct airi__files all = {0};
	size_t *off = calloc((size_t)n + 1, sizeof(*off));
	int *is_dir = calloc((size_t)n, sizeof(*is_dir));
	int *ok = calloc((size_t)n, sizeof(*ok));
	airi_error err;
	if (!off || !is_dir || !ok) {
		cli_errorf("digest: out of memory");
		free(off);
		free(is_dir);
		free(ok);
		return EXIT_TROUBLE;
	}
	for (int k = 0; k < n; k++) {
		struct airi__files l;
		off[k] = all.n;
		if (airi__files_collect(a->pos[k + 1], AIRI__MODEL_MAX_FILES, &l,
					&is_dir[k], &err)) {
			cli_errorf("%s", err.message);
			status = EXIT_NOINPUT;
			continue;
		}
		if (all.n + l.n > all.cap) {
			size_t cap = (all.n + l.n) * 2;
			struct airi__file *nf = realloc(all.f, cap * sizeof(*nf));
			if (!nf) {
				airi__files_free(&l);
				cli_errorf("digest: out of memory");
				status = EXIT_TROUBLE;
				continue;
			}
			all.f = nf;
			all.cap = cap;
		}
		memcpy(all.f + all.n, l.f, l.n * sizeof(*l.f));
		all.n += l.n;
		free(l.f); /* the paths now belong to all */
		ok[k] = 1;
	}
	off[n] = all.n;
	if (isatty(2)) {
		o.progress = on_progress;
		o.progress_ctx = &pr;
	}
	int hrc = airi__files_hash(all.f, all.n, cache, 0, o.progress, &pr, &err);
	if (pr.last)
		fputs("\r\033[K", stderr);
	if (json && n > 1)
		putchar('[');
	int printed = 0;
	for (int k = 0; k < n; k++) {
		if (!ok[k])
			continue;
		/* a file that could not be read fails its argument only */
		int bad = 0;
		for (size_t i = off[k]; i < off[k + 1]; i++)
			if (all.f[i].error) {
				cli_errorf("%s", all.f[i].errmsg);
				bad = 1;
			} else if (!all.f[i].done && !all.f[i].cached) {
				bad = 1;
			}
		if (bad || (hrc && hrc != AIRI_EIO && hrc != AIRI_ENOTFOUND)) {
			if (!bad)
				cli_errorf("%s", err.message);
			status = bad ? EXIT_NOINPUT : EXIT_TROUBLE;
			continue;
		}
		char *text = NULL;
		size_t tn = 0;
		airi_digest d;
		if (airi__model_fragment(all.f + off[k], off[k + 1] - off[k], is_dir[k],
					 &o, &d, &text, &tn, &err)) {
			cli_errorf("%s: %s", a->pos[k + 1], err.message);
			status = EXIT_TROUBLE;
			continue;
		}
		if (json) {
			if (printed++)
				putchar(',');
			cli_write(text, tn);
		} else {
			char hex[AIRI_DIGEST_STRLEN];
			airi_digest_format(&d, hex);
			printf("%s  %s\n", hex, a->pos[k + 1]);
		}
		free(text);
	}
	if (json) {
		if (n > 1)
			putchar(']');
		putchar('\n');
	}
	airi__files_free(&all);
	free(off);
	free(is_dir);
	free(ok);
	return status;
}

/* ---- corpus -------------------------------------------------------------------- */

#define CORPUS_MAX_FILES 10000000

/* --embedding-model / --chunking: JSON text, or else a plain string */
static int set_param(airi_corpus *c, const char *opt, const char *v,
		     int (*set)(airi_corpus *, const char *, airi_error *))
{
	airi_error err;
	airi_json *doc = NULL;
	if (!v)
		return 0;
	if (airi_json_parse(v, strlen(v), &doc, NULL) == 0) {
		airi_json_free(doc);
		return set(c, v, &err) ? EXIT_USAGE : 0;
	}
	airi__buf b;
	airi__buf_init(&b);
	airi__canon_string(&b, v, strlen(v));
	airi__buf_addc(&b, 0);
	int rc = b.p ? set(c, b.p, &err) : AIRI_ENOMEM;
	airi__buf_release(&b);
	if (rc) {
		cli_errorf("digest corpus: --%s: %s", opt, err.message);
		return EXIT_USAGE;
	}
	return 0;
}

static int corpus_dir(const struct args *a, const char *dir, airi_corpus *c,
		      airi_digest_cache *cache)
{
	struct airi__files l;
	airi_error err;
	int is_dir = 0;
	struct progress pr = {0};
	(void)a;
	int rc = airi__files_collect(dir, CORPUS_MAX_FILES, &l, &is_dir, &err);
	if (!rc)
		rc = airi__files_hash(l.f, l.n, cache, 0,
				      isatty(2) ? on_progress : NULL, &pr, &err);
	if (pr.last)
		fputs("\r\033[K", stderr);
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = airi_corpus_put(c, l.f[i].name, strlen(l.f[i].name), &l.f[i].d,
				     &err);
	airi__files_free(&l);
	if (rc) {
		cli_errorf("%s", err.message);
		return rc == AIRI_ENOMEM ? EXIT_TROUBLE : EXIT_NOINPUT;
	}
	return 0;
}

/* "FILE:LINE: POINTER: message" */
static int line_error(const char *path, size_t line, const char *ptr,
		      const char *msg)
{
	cli_errorf("%s:%zu: %s%s%s", cli_name(path), line, ptr, *ptr ? ": " : "",
		   msg);
	return EXIT_DATAERR;
}

static int corpus_jsonl(const char *path, airi_corpus *c, int update)
{
	FILE *in = !strcmp(path, "-") ? stdin : fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0, lineno = 0, pos = 0;
	ssize_t got;
	int status = 0;
	if (!in) {
		cli_errorf("%s: %s", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	while (!status && (got = getline(&line, &cap, in)) > 0) {
		size_t ll = (size_t)got, start = pos;
		airi_error err;
		airi_json *doc = NULL;
		lineno++;
		pos += ll;
		while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
			ll--;
		size_t k = 0;
		while (k < ll && (line[k] == ' ' || line[k] == '\t'))
			k++;
		if (k == ll)
			continue;
		int rc = airi_json_parse(line, ll, &doc, &err);
		if (rc) {
			err.offset += start;
			if (err.has_position)
				err.line = lineno + err.line - 1;
			cli_error(cli_name(path), &err);
			status = EXIT_DATAERR;
			break;
		}
		const airi_value *o = airi_json_root(doc);
		const airi_value *id = airi_value_get(o, "id");
		const airi_value *text = airi_value_get(o, "text");
		const airi_value *dg = airi_value_get(o, "digest");
		const airi_value *del = airi_value_get(o, "deleted");
		size_t idn = 0, tn = 0;
		const char *ids = id ? airi_value_string(id, &idn) : NULL;
		airi_digest d;
		if (airi_value_type(o) != AIRI_OBJECT)
			status = line_error(path, lineno, "",
					    "expected an object with \"id\"");
		else if (!ids)
			status = line_error(path, lineno, "/id",
					    id ? "expected a string"
					       : "missing (each document needs an id)");
		else if (del && airi_value_type(del) != AIRI_TRUE)
			status = line_error(path, lineno, "/deleted",
					    "expected true");
		else if (del && !update)
			status = line_error(path, lineno, "/deleted",
					    "removals need --update (this input "
					    "is the whole corpus)");
		else if (del && (text || dg))
			status = line_error(path, lineno, "/deleted",
					    "a removed document has no text or "
					    "digest");
		else if (del) {
			if (airi_corpus_remove(c, ids, idn, &err))
				status = line_error(path, lineno, "/id", err.message);
		} else if (text && dg)
			status = line_error(path, lineno, "/digest",
					    "give either text or digest, not both");
		else if (!text && !dg)
			status = line_error(path, lineno, "",
					    "missing \"text\" or \"digest\"");
		else if (text && !airi_value_string(text, &tn))
			status = line_error(path, lineno, "/text",
					    "expected a string");
		else {
			if (text) {
				const char *t = airi_value_string(text, &tn);
				airi_digest_bytes(t, tn, &d);
			} else {
				size_t dn = 0;
				const char *ds = airi_value_string(dg, &dn);
				char tmp[AIRI_DIGEST_STRLEN];
				/* strictly the written form: "sha256:" and
				 * 64 lowercase hex digits */
				int ok = ds && dn == AIRI_DIGEST_STRLEN - 1 &&
					 !memcmp(ds, "sha256:", 7);
				for (size_t x = 7; ok && x < dn; x++)
					ok = (ds[x] >= '0' && ds[x] <= '9') ||
					     (ds[x] >= 'a' && ds[x] <= 'f');
				if (!ok || (memcpy(tmp, ds, dn), tmp[dn] = 0,
					    airi_digest_parse(tmp, &d))) {
					status = line_error(path, lineno, "/digest",
							    "expected \"sha256:\" and "
							    "64 lowercase hex digits");
					airi_json_free(doc);
					break;
				}
			}
			if (airi_corpus_put(c, ids, idn, &d, &err))
				status = line_error(path, lineno, "/id", err.message);
		}
		airi_json_free(doc);
	}
	if (!status && ferror(in)) {
		cli_errorf("%s: %s", path, strerror(errno));
		status = EXIT_NOINPUT;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	return status;
}

static int digest_corpus(struct args *a, airi_digest_cache *cache)
{
	const char *input = a->pos[1];
	const char *name = cli_val(a, "name");
	int update = cli_opt(a, "update"), status = 0;
	airi_store *s = NULL;
	airi_corpus *c = NULL;
	airi_error err;
	struct stat st;
	if (a->npos != 2) {
		cli_errorf("digest corpus: expected one input (a directory, a "
			   "JSON Lines file or -)");
		return EXIT_USAGE;
	}
	if (update && !name) {
		cli_errorf("digest corpus: --update needs --name (the corpus to "
			   "change)");
		return EXIT_USAGE;
	}
	int is_dir = strcmp(input, "-") && stat(input, &st) == 0 &&
		     S_ISDIR(st.st_mode);
	if (is_dir && update) {
		cli_errorf("digest corpus: --update reads changes as JSON Lines, "
			   "not a directory (a directory is read whole, and "
			   "unchanged files come from the digest cache)");
		return EXIT_USAGE;
	}
	if (strcmp(input, "-") && !is_dir && access(input, R_OK)) {
		cli_errorf("%s: %s", input, strerror(errno));
		return EXIT_NOINPUT;
	}
	if ((name || cli_val(a, "store")) &&
	    !(s = cli_store(a, AIRI_STORE_CREATE, &status)))
		return status;
	if (airi_corpus_open(s, name, &c, &err)) {
		cli_errorf("digest corpus: %s", err.message);
		airi_store_close(s);
		return EXIT_TROUBLE;
	}
	if (!update) {
		/* the input is the whole corpus, options included: nothing
		 * carries over from the stored state */
		airi_corpus_clear(c);
		airi_corpus_set_embedding(c, NULL, NULL);
		airi_corpus_set_chunking(c, NULL, NULL);
	}
	if ((status = set_param(c, "embedding-model", cli_val(a, "embedding-model"),
				airi_corpus_set_embedding)) ||
	    (status = set_param(c, "chunking", cli_val(a, "chunking"),
				airi_corpus_set_chunking)))
		goto out;
	status = is_dir ? corpus_dir(a, input, c, cache)
			: corpus_jsonl(input, c, update);
	if (status)
		goto out;
	airi_digest state, root;
	uint64_t count = 0;
	int rc = airi_corpus_commit(c, &state, &root, &count, &err);
	if (rc) {
		cli_errorf("digest corpus: %s", err.message);
		status = rc == AIRI_ENOTFOUND ? EXIT_DATAERR : EXIT_TROUBLE;
		goto out;
	}
	char sh[AIRI_DIGEST_STRLEN], rh[AIRI_DIGEST_STRLEN];
	airi_digest_format(&state, sh);
	airi_digest_format(&root, rh);
	if (!cli_opt(a, "json")) {
		printf("%s  %s (%llu documents)\n", sh, name ? name : input,
		       (unsigned long long)count);
		goto out;
	}
	/* the retrieval index fragment and what it was computed over */
	airi__buf b;
	airi__buf_init(&b);
	airi__buf_printf(&b, "{\"count\":%llu,\"documents\":\"%s\",\"index\":{",
			 (unsigned long long)count, rh);
	if (name) {
		airi__buf_adds(&b, "\"name\":");
		airi__canon_string(&b, name, strlen(name));
		airi__buf_addc(&b, ',');
	}
	airi__buf_printf(&b, "\"state_digest\":\"%s\"}}", sh);
	if (b.p) {
		cli_write(b.p, b.n);
		putchar('\n');
	}
	airi__buf_release(&b);
out:
	airi_corpus_free(c);
	airi_store_close(s);
	return status;
}

int cmd_digest(struct args *a)
{
	int model = a->npos >= 1 && !strcmp(a->pos[0], "model");
	int corpus = a->npos >= 1 && !strcmp(a->pos[0], "corpus");
	if ((!model && !corpus) || a->npos < 2) {
		cli_errorf("digest: expected 'model PATH...' or 'corpus INPUT'");
		return EXIT_USAGE;
	}
	if (model && (cli_val(a, "store") || cli_val(a, "name") ||
		      cli_opt(a, "update") || cli_val(a, "embedding-model") ||
		      cli_val(a, "chunking"))) {
		cli_errorf("digest model: --store, --name, --update, "
			   "--embedding-model and --chunking are for 'digest "
			   "corpus'");
		return EXIT_USAGE;
	}
	if (cli_opt(a, "no-cache") && cli_val(a, "cache")) {
		cli_errorf("digest: --no-cache and --cache exclude each other");
		return EXIT_USAGE;
	}
	airi_digest_cache *cache = NULL;
	struct stat st;
	int needs_cache = model || (strcmp(a->pos[1], "-") &&
				    stat(a->pos[1], &st) == 0 && S_ISDIR(st.st_mode));
	int status = needs_cache ? open_cache(a, &cache) : 0;
	if (status)
		return status;
	status = model ? digest_model(a, cache) : digest_corpus(a, cache);
	airi_digest_cache_close(cache);
	return status;
}
