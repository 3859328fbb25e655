/*
 * filedigest.c - identifying files by content: the plain SHA-256 of a
 * file's bytes (so a weights file's digest equals the sha256 Hugging Face
 * shows for LFS files and Ollama's blob digests), a directory's digest over
 * its files' names and digests (docs/spec.md, appendix A), and a cache that
 * makes an unchanged file instant to re-identify.
 *
 * Hashing uses large sequential reads, several files at once on the
 * available cores. The cache is keyed by the file's identity (device,
 * inode) and state (size, mtime and ctime in nanoseconds): any write
 * changes the ctime, which nobody can set back (touch -r restores the
 * mtime only). A timestamp only moves when the clock ticks, so a file
 * whose timestamps are younger than AIRI__RACY_NS when its read starts
 * could be rewritten later without them changing ("racily clean", as git
 * calls it): such digests are not cached.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)8 << 20)
#define AIRI__RACY_NS (2LL * 1000000000LL)

struct airi_digest_cache {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
};

/* ---- the cache -------------------------------------------------------------- */

static int mkdir_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	return 0;
}

int airi_digest_cache_open(const char *path, airi_digest_cache **out,
			   airi_error *err)
{
	char *p = NULL;
	if (path)
		p = strdup(path);
	else {
		const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
		if (x && *x == '/') {
			if (asprintf(&p, "%s/airi/digests.db", x) < 0)
				p = NULL;
		} else if (asprintf(&p, "%s/.cache/airi/digests.db",
				    h && *h ? h : ".") < 0)
			p = NULL;
	}
	if (!p)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	airi_digest_cache *c = calloc(1, sizeof(*c));
	if (!c) {
		free(p);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	mkdir_parents(p);
	int rc = sqlite3_open_v2(p, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(c->db, 5000);
		rc = sqlite3_exec(
			c->db,
			"PRAGMA journal_mode=WAL;"
			"DROP TABLE IF EXISTS digests;" /* before ctime was kept */
			"CREATE TABLE IF NOT EXISTS file_digests(dev INTEGER, ino "
			"INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, "
			"digest BLOB, PRIMARY KEY(dev, ino)) WITHOUT ROWID;",
			NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(c->db,
					"SELECT digest FROM file_digests WHERE dev=?1 "
					"AND ino=?2 AND size=?3 AND mtime_ns=?4 AND "
					"ctime_ns=?5",
					-1, &c->get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(c->db,
					"INSERT OR REPLACE INTO file_digests VALUES "
					"(?1, ?2, ?3, ?4, ?5, ?6)",
					-1, &c->put, NULL);
	if (rc != SQLITE_OK) {
		int e = airi__err(err, AIRI_EIO, "digest cache %s: %s", p,
				  c->db ? sqlite3_errmsg(c->db) : "cannot open");
		airi_digest_cache_close(c);
		free(p);
		return e;
	}
	chmod(p, 0600);
	free(p);
	*out = c;
	return 0;
}

void airi_digest_cache_close(airi_digest_cache *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sqlite3_close(c->db);
	free(c);
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void bind_key(sqlite3_stmt *st, const struct stat *s)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->st_dev);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->st_ino);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)s->st_size);
	sqlite3_bind_int64(st, 4, ns(&s->st_mtim));
	sqlite3_bind_int64(st, 5, ns(&s->st_ctim));
}

static int cache_get(airi_digest_cache *c, const struct stat *s, airi_digest *d)
{
	int hit = 0;
	if (!c)
		return 0;
	bind_key(c->get, s);
	if (sqlite3_step(c->get) == SQLITE_ROW &&
	    sqlite3_column_bytes(c->get, 0) == AIRI_DIGEST_SIZE) {
		memcpy(d->bytes, sqlite3_column_blob(c->get, 0), AIRI_DIGEST_SIZE);
		hit = 1;
	}
	sqlite3_reset(c->get);
	return hit;
}

static void cache_put(airi_digest_cache *c, const struct stat *s,
		      const airi_digest *d)
{
	bind_key(c->put, s);
	sqlite3_bind_blob(c->put, 6, d->bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_step(c->put);
	sqlite3_reset(c->put);
}

/* ---- hashing ------------------------------------------------------------------ */

struct job {
	struct airi__file *files;
	size_t n, next;
	pthread_mutex_t mu;
	airi_progress_fn progress;
	void *progress_ctx;
	uint64_t total, hashed;
};

static void hash_one(struct job *j, struct airi__file *f)
{
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	f->start_ns = ns(&start);
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		f->error = errno == ENOENT ? AIRI_ENOTFOUND : AIRI_EIO;
		snprintf(f->errmsg, sizeof(f->errmsg), "%s: %s", f->path,
			 strerror(errno));
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	unsigned char *buf = malloc(READ_CHUNK);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const EVP_MD *md = airi__sha256();
	unsigned int n = 0;
	if (!buf || !c || !md || EVP_DigestInit_ex(c, md, NULL) != 1) {
		f->error = AIRI_ENOMEM;
		snprintf(f->errmsg, sizeof(f->errmsg), "%s: out of memory",
			 f->path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			f->error = AIRI_EIO;
			snprintf(f->errmsg, sizeof(f->errmsg), "%s: %s", f->path,
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(c, buf, (size_t)r);
		if (j->progress) {
			pthread_mutex_lock(&j->mu);
			j->hashed += (uint64_t)r;
			j->progress(j->progress_ctx, j->hashed, j->total);
			pthread_mutex_unlock(&j->mu);
		}
	}
	EVP_DigestFinal_ex(c, f->d.bytes, &n);
	f->done = 1;
out:
	EVP_MD_CTX_free(c);
	free(buf);
	close(fd);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		size_t i = j->next < j->n ? j->next++ : j->n;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		if (!j->files[i].done)
			hash_one(j, &j->files[i]);
	}
}

static int same_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size && ns(&a->st_mtim) == ns(&b->st_mtim) &&
	       ns(&a->st_ctim) == ns(&b->st_ctim);
}

int airi__files_hash(struct airi__file *files, size_t n,
		     airi_digest_cache *cache, unsigned threads,
		     airi_progress_fn progress, void *progress_ctx,
		     airi_error *err)
{
	struct job j;
	memset(&j, 0, sizeof(j));
	j.files = files;
	j.n = n;
	j.progress = progress;
	j.progress_ctx = progress_ctx;
	pthread_mutex_init(&j.mu, NULL);
	for (size_t i = 0; i < n; i++) {
		if (cache_get(cache, &files[i].st, &files[i].d))
			files[i].done = files[i].cached = 1;
		else
			j.total += (uint64_t)files[i].st.st_size;
	}
	if (!threads) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		threads = (unsigned)(cores < 1 ? 1 : cores);
	}
	if (threads > 16)
		threads = 16;
	if (threads > n)
		threads = n ? (unsigned)n : 1;
	pthread_t th[16];
	unsigned started = 0;
	for (unsigned t = 1; t < threads; t++)
		if (pthread_create(&th[started], NULL, worker, &j) == 0)
			started++;
	worker(&j);
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&j.mu);
	int rc = 0;
	if (cache)
		sqlite3_exec(cache->db, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		struct airi__file *f = &files[i];
		if (f->error) {
			if (!rc)
				rc = airi__err(err, f->error, "%s", f->errmsg);
			continue;
		}
		/* unchanged from before the read to after it: the digest is
		 * the file's; otherwise it changed under us */
		struct stat now;
		if (f->cached)
			continue;
		if (stat(f->path, &now) || !same_state(&now, &f->st)) {
			f->error = AIRI_EIO;
			snprintf(f->errmsg, sizeof(f->errmsg),
				 "%s: changed while it was read (try again)",
				 f->path);
			if (!rc)
				rc = airi__err(err, AIRI_EIO, "%s", f->errmsg);
			continue;
		}
		int64_t newest = ns(&f->st.st_mtim) > ns(&f->st.st_ctim)
					 ? ns(&f->st.st_mtim)
					 : ns(&f->st.st_ctim);
		if (cache && f->start_ns - newest > AIRI__RACY_NS)
			cache_put(cache, &f->st, &f->d);
	}
	if (cache)
		sqlite3_exec(cache->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int airi_digest_file(const char *path, airi_digest_cache *cache,
		     airi_digest *out, int *cached, airi_error *err)
{
	struct airi__file f;
	memset(&f, 0, sizeof(f));
	if (stat(path, &f.st))
		return airi__err(err, errno == ENOENT ? AIRI_ENOTFOUND : AIRI_EIO,
				 "%s: %s", path, strerror(errno));
	if (!S_ISREG(f.st.st_mode))
		return airi__err(err, AIRI_EINVAL, "%s: not a regular file", path);
	f.path = (char *)path;
	int rc = airi__files_hash(&f, 1, cache, 1, NULL, NULL, err);
	if (rc)
		return rc;
	*out = f.d;
	if (cached)
		*cached = f.cached;
	return 0;
}

/* ---- collecting files ---------------------------------------------------------- */

void airi__files_free(struct airi__files *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->f[i].path);
		free(l->f[i].name);
	}
	free(l->f);
	memset(l, 0, sizeof(*l));
}

static int add_file(struct airi__files *l, const char *path, const char *name,
		    const struct stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct airi__file *nf = realloc(l->f, cap * sizeof(*nf));
		if (!nf)
			return AIRI_ENOMEM;
		l->f = nf;
		l->cap = cap;
	}
	struct airi__file *f = &l->f[l->n];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->name = strdup(name);
	f->st = *st;
	l->n++;
	return f->path && f->name ? 0 : AIRI_ENOMEM;
}

/* regular files below dir, recursively; symlinks and others are skipped
 * (a checkpoint's content is its files) */
static int walk(struct airi__files *l, const char *dir, const char *rel,
		size_t max, airi_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return airi__err(err, errno == ENOENT ? AIRI_ENOTFOUND : AIRI_EIO,
				 "%s: %s", dir, strerror(errno));
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = NULL, *name = NULL;
		struct stat st;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			path = NULL;
		if (asprintf(&name, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0)
			name = NULL;
		if (!path || !name)
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		else if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(l, path, name, max, err);
			else if (S_ISREG(st.st_mode)) {
				if (l->n >= max)
					rc = airi__err(err, AIRI_ENOMEM,
						       "%s: more than %zu files",
						       dir, max);
				else if (add_file(l, path, name, &st))
					rc = airi__err(err, AIRI_ENOMEM,
						       "out of memory");
			}
		}
		free(path);
		free(name);
	}
	closedir(d);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct airi__file *)a)->name,
		      ((const struct airi__file *)b)->name);
}

int airi__files_collect(const char *path, size_t max, struct airi__files *l,
			int *is_dir, airi_error *err)
{
	struct stat st;
	memset(l, 0, sizeof(*l));
	*is_dir = 0;
	if (stat(path, &st))
		return airi__err(err, errno == ENOENT ? AIRI_ENOTFOUND : AIRI_EIO,
				 "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		*is_dir = 1;
		int rc = walk(l, path, "", max, err);
		if (rc) {
			airi__files_free(l);
			return rc;
		}
		if (l->n)
			qsort(l->f, l->n, sizeof(*l->f), by_name);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return airi__err(err, AIRI_EINVAL, "%s: not a file or directory",
				 path);
	const char *base = strrchr(path, '/');
	if (add_file(l, path, base ? base + 1 : path, &st)) {
		airi__files_free(l);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- model weights ------------------------------------------------------------- */

/* Appends the header facts of a GGUF or safetensors file as JSON text. */
static void header_info(const struct airi__file *f, airi__buf *out,
			const airi_model_options *o)
{
	if (f->st.st_size < 16)
		return;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t len = (size_t)f->st.st_size;
	void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	airi_error err;
	size_t before = out->n;
	const unsigned char *u = p;
	int rc = -1;
	if (!memcmp(u, "GGUF", 4))
		rc = airi__gguf_info(u, len, out, &err);
	else if (strstr(f->name, ".safetensors"))
		rc = airi__safetensors_info(u, len, out, &err);
	if (rc) {
		out->n = before;
		if (rc != -1 && o && o->warn) {
			char msg[1100];
			snprintf(msg, sizeof(msg), "%s: %s (header not read)",
				 f->path, err.message);
			o->warn(o->warn_ctx, msg);
		}
	}
	munmap(p, len);
}

#define MODEL_MAX_FILES AIRI__MODEL_MAX_FILES

int airi__model_fragment(const struct airi__file *files, size_t n,
			 int is_dir, const airi_model_options *o,
			 airi_digest *weights, char **out, size_t *len,
			 airi_error *err)
{
	int rc;
	struct airi__files l = {(struct airi__file *)files, n, n};
	/* one pass: the listed files (with sizes) and, for a directory, the
	 * object its digest is taken over ({digest, name} sorted by name) */
	airi__buf b, dd;
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest total;
	airi__buf_init(&b);
	airi__buf_init(&dd);
	airi__buf_adds(&b, "{\"files\":[");
	airi__buf_adds(&dd, "{\"files\":[");
	for (size_t i = 0; i < l.n; i++) {
		const char *sep = i ? "," : "";
		airi_digest_format(&l.f[i].d, hex);
		airi__buf_printf(&b, "%s{\"bytes\":%lld,\"digest\":\"%s\",\"name\":",
				 sep, (long long)l.f[i].st.st_size, hex);
		airi__buf_printf(&dd, "%s{\"digest\":\"%s\",\"name\":", sep, hex);
		airi__canon_string(&b, l.f[i].name, strlen(l.f[i].name));
		airi__canon_string(&dd, l.f[i].name, strlen(l.f[i].name));
		airi__buf_addc(&b, '}');
		airi__buf_addc(&dd, '}');
	}
	airi__buf_addc(&b, ']');
	airi__buf_adds(&dd, "],\"type\":\"airi.modeldir/1\"}");
	if (is_dir)
		airi__digest_buf(&dd, &total);
	else
		total = l.f[0].d;
	airi__buf_release(&dd);
	/* header facts: of the single file, or of the first GGUF or
	 * safetensors file of a directory; "header" sorts before
	 * "weights_digest" */
	for (size_t i = 0; i < l.n; i++) {
		airi__buf h;
		airi__buf_init(&h);
		header_info(&l.f[i], &h, o);
		if (h.n) {
			airi__buf_adds(&b, ",\"header\":");
			airi__buf_add(&b, h.p, h.n);
			airi__buf_release(&h);
			break;
		}
		airi__buf_release(&h);
	}
	airi_digest_format(&total, hex);
	airi__buf_printf(&b, ",\"weights_digest\":\"%s\"}", hex);
	if (!b.p) {
		airi__buf_release(&b);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	/* the header facts are written by hand: canonicalize the whole */
	airi_json *doc = NULL;
	rc = airi__json_parse_ex(b.p, b.n, AIRI__PARSE_CANONICAL, &doc, err);
	if (!rc)
		rc = airi_canon(airi_json_root(doc), out, len);
	airi_json_free(doc);
	airi__buf_release(&b);
	if (rc)
		return rc;
	if (weights)
		*weights = total;
	return 0;
}

int airi_model_digest(const char *path, const airi_model_options *o,
		      airi_digest *weights, char **out, size_t *len,
		      airi_error *err)
{
	struct airi__files l;
	int is_dir = 0;
	int rc = airi__files_collect(path, MODEL_MAX_FILES, &l, &is_dir, err);
	if (rc)
		return rc;
	rc = airi__files_hash(l.f, l.n, o ? o->cache : NULL, o ? o->threads : 0,
			      o ? o->progress : NULL, o ? o->progress_ctx : NULL,
			      err);
	if (!rc)
		rc = airi__model_fragment(l.f, l.n, is_dir, o, weights, out, len,
					  err);
	airi__files_free(&l);
	return rc;
}
