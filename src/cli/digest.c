/*
 * digest.c - `airi digest model PATH...`: identify model weights by
 * content. A file's digest is the plain SHA-256 of its bytes (so it equals
 * the sha256 Hugging Face shows for LFS files and Ollama's blob digests); a
 * directory (a sharded checkpoint with config and tokenizer files) gets the
 * digest of {"files":[{"digest","name"}...],"type":"airi.modeldir/1"} over
 * its regular files sorted by relative name (docs/spec.md, "Model
 * weights"). Files are hashed with large sequential reads, several at once
 * on the available cores, with progress on a terminal; a cache keyed by
 * (device, inode, size, mtime in nanoseconds) makes an unchanged file
 * instant to re-identify. GGUF and safetensors headers are read for the
 * architecture, parameter count, quantization and tokenizer digests.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)8 << 20)
#define MAX_FILES 100000

struct file {
	char *path; /* as opened */
	char *name; /* relative to the argument (for directories) */
	struct stat st;
	airi_digest d;
	int done, cached, error;
	char errmsg[256];
};

struct job {
	struct file *files;
	size_t n, next;
	pthread_mutex_t mu;
	int progress; /* stderr is a terminal */
	uint64_t total, hashed;
	time_t last_report;
};

/* ---- the cache -------------------------------------------------------------- */

static sqlite3 *cache_open(const struct args *a)
{
	char *path = NULL;
	const char *c = cli_val(a, "cache");
	if (cli_opt(a, "no-cache"))
		return NULL;
	if (c)
		path = strdup(c);
	else {
		const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
		if (x && *x == '/') {
			if (asprintf(&path, "%s/airi/digests.db", x) < 0)
				path = NULL;
		} else if (asprintf(&path, "%s/.cache/airi/digests.db",
				    h && *h ? h : ".") < 0)
			path = NULL;
	}
	if (!path)
		return NULL;
	cli_make_parent(path);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						 SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL;"
			 "CREATE TABLE IF NOT EXISTS digests(dev INTEGER, ino "
			 "INTEGER, size INTEGER, mtime_ns INTEGER, digest BLOB, "
			 "PRIMARY KEY(dev, ino)) WITHOUT ROWID;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	}
	chmod(path, 0600);
	free(path);
	return db;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* Any change to the file (size, mtime, or a new inode) misses. */
static int cache_get(sqlite3 *db, struct file *f)
{
	sqlite3_stmt *st;
	int hit = 0;
	if (!db || sqlite3_prepare_v2(db,
				      "SELECT digest FROM digests WHERE dev=?1 AND "
				      "ino=?2 AND size=?3 AND mtime_ns=?4",
				      -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)f->st.st_dev);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)f->st.st_ino);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)f->st.st_size);
	sqlite3_bind_int64(st, 4, mtime_ns(&f->st));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == AIRI_DIGEST_SIZE) {
		memcpy(f->d.bytes, sqlite3_column_blob(st, 0), AIRI_DIGEST_SIZE);
		hit = 1;
	}
	sqlite3_finalize(st);
	return hit;
}

static void cache_put(sqlite3 *db, const struct file *f)
{
	sqlite3_stmt *st;
	if (!db || sqlite3_prepare_v2(db,
				      "INSERT OR REPLACE INTO digests VALUES "
				      "(?1, ?2, ?3, ?4, ?5)",
				      -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)f->st.st_dev);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)f->st.st_ino);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)f->st.st_size);
	sqlite3_bind_int64(st, 4, mtime_ns(&f->st));
	sqlite3_bind_blob(st, 5, f->d.bytes, AIRI_DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* ---- hashing ------------------------------------------------------------------ */

static void progress(struct job *j, size_t add)
{
	pthread_mutex_lock(&j->mu);
	j->hashed += add;
	time_t now = time(NULL);
	if (j->progress && now != j->last_report && j->total > ((uint64_t)1 << 30)) {
		j->last_report = now;
		fprintf(stderr, "\rairi: hashing %5.1f%% of %.1f GB", 
			100.0 * (double)j->hashed / (double)j->total,
			(double)j->total / 1e9);
	}
	pthread_mutex_unlock(&j->mu);
}

static void hash_file(struct job *j, struct file *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		f->error = 1;
		snprintf(f->errmsg, sizeof(f->errmsg), "%s: %s", f->path,
			 strerror(errno));
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	unsigned char *buf = malloc(READ_CHUNK);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	if (!buf || !c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		f->error = 1;
		snprintf(f->errmsg, sizeof(f->errmsg), "%s: out of memory",
			 f->path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			f->error = 1;
			snprintf(f->errmsg, sizeof(f->errmsg), "%s: %s", f->path,
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(c, buf, (size_t)r);
		progress(j, (size_t)r);
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
			hash_file(j, &j->files[i]);
	}
}

/* ---- collecting files ---------------------------------------------------------- */

struct list {
	struct file *f;
	size_t n, cap;
};

static int add_file(struct list *l, const char *path, const char *name,
		    const struct stat *st)
{
	if (l->n >= MAX_FILES)
		return -1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct file *nf = realloc(l->f, cap * sizeof(*nf));
		if (!nf)
			return -1;
		l->f = nf;
		l->cap = cap;
	}
	struct file *f = &l->f[l->n++];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->name = strdup(name);
	f->st = *st;
	return f->path && f->name ? 0 : -1;
}

/* regular files below dir, recursively; symlinks and others are skipped
 * (a checkpoint's content is its files) */
static int walk(struct list *l, const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = NULL, *name = NULL;
		struct stat st;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 ||
		    asprintf(&name, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0) {
			free(path);
			closedir(d);
			return -1;
		}
		int rc = 0;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(l, path, name);
			else if (S_ISREG(st.st_mode))
				rc = add_file(l, path, name, &st);
		}
		free(path);
		free(name);
		if (rc) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->name,
		      ((const struct file *)b)->name);
}

/* ---- headers -------------------------------------------------------------------- */

/* Appends the header facts of a GGUF or safetensors file as JSON text. */
static void header_info(const struct file *f, airi__buf *out)
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
		if (rc != -1)
			cli_errorf("%s: %s (header not read)", f->path, err.message);
	}
	munmap(p, len);
}

static void print_obj(const struct args *a, airi__buf *b, int first)
{
	airi_json *doc = NULL;
	char *canon = NULL;
	size_t cn;
	if (airi_json_parse(b->p, b->n, &doc, NULL) ||
	    airi_canon(airi_json_root(doc), &canon, &cn)) {
		cli_errorf("digest: internal error");
		airi_json_free(doc);
		return;
	}
	if (cli_opt(a, "json")) {
		if (!first)
			putchar(',');
		cli_write(canon, cn);
	} else {
		cli_pretty(stdout, airi_json_root(doc), 0);
		putchar('\n');
	}
	free(canon);
	airi_json_free(doc);
}

int cmd_digest(struct args *a)
{
	if (a->npos < 2 || strcmp(a->pos[0], "model")) {
		cli_errorf("digest: expected 'model PATH...'");
		return EXIT_USAGE;
	}
	int status = 0;
	sqlite3 *cache = cache_open(a);
	if (cli_opt(a, "json") && a->npos > 2)
		putchar('[');
	for (int k = 1; k < a->npos; k++) {
		const char *arg = a->pos[k];
		struct list l = {0};
		struct stat st;
		int is_dir = 0;
		if (stat(arg, &st)) {
			cli_errorf("%s: %s", arg, strerror(errno));
			status = EXIT_NOINPUT;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			is_dir = 1;
			if (walk(&l, arg, "")) {
				cli_errorf("%s: cannot read the directory (or more "
					   "than %d files)",
					   arg, MAX_FILES);
				status = EXIT_NOINPUT;
				continue;
			}
			qsort(l.f, l.n, sizeof(*l.f), by_name);
		} else if (S_ISREG(st.st_mode)) {
			const char *base = strrchr(arg, '/');
			add_file(&l, arg, base ? base + 1 : arg, &st);
		} else {
			cli_errorf("%s: not a file or directory", arg);
			status = EXIT_NOINPUT;
			continue;
		}
		/* cached digests first, then hash the rest on every core */
		struct job j;
		memset(&j, 0, sizeof(j));
		j.files = l.f;
		j.n = l.n;
		j.progress = isatty(2);
		pthread_mutex_init(&j.mu, NULL);
		for (size_t i = 0; i < l.n; i++) {
			if (cache_get(cache, &l.f[i]))
				l.f[i].done = l.f[i].cached = 1;
			else
				j.total += (uint64_t)l.f[i].st.st_size;
		}
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		int nt = (int)(cores < 1 ? 1 : cores > 16 ? 16 : cores);
		if ((size_t)nt > l.n)
			nt = (int)(l.n ? l.n : 1);
		pthread_t th[16];
		for (int t = 0; t < nt; t++)
			if (pthread_create(&th[t], NULL, worker, &j))
				worker(&j);
		for (int t = 0; t < nt; t++)
			pthread_join(th[t], NULL);
		if (j.progress && j.total > ((uint64_t)1 << 30))
			fputs("\r\033[K", stderr);
		pthread_mutex_destroy(&j.mu);
		int failed = 0;
		for (size_t i = 0; i < l.n; i++) {
			if (l.f[i].error) {
				cli_errorf("%s", l.f[i].errmsg);
				failed = 1;
			} else if (!l.f[i].cached) {
				/* unchanged while hashing? otherwise no cache */
				struct stat now;
				if (stat(l.f[i].path, &now) == 0 &&
				    now.st_size == l.f[i].st.st_size &&
				    mtime_ns(&now) == mtime_ns(&l.f[i].st))
					cache_put(cache, &l.f[i]);
			}
		}
		if (failed) {
			status = EXIT_NOINPUT;
		} else {
			/* the model section fragment */
			airi__buf b;
			char hex[AIRI_DIGEST_STRLEN];
			airi_digest total;
			airi__buf_init(&b);
			/* one pass: the listed files (with sizes) and, for a
			 * directory, the object its digest is taken over
			 * ({digest, name} sorted by name, spec appendix A) */
			airi__buf dd;
			airi__buf_init(&dd);
			airi__buf_adds(&b, "{\"files\":[");
			airi__buf_adds(&dd, "{\"files\":[");
			for (size_t i = 0; i < l.n; i++) {
				const char *sep = i ? "," : "";
				airi_digest_format(&l.f[i].d, hex);
				airi__buf_printf(&b, "%s{\"bytes\":%lld,\"digest\":\"%s\","
						     "\"name\":",
						 sep, (long long)l.f[i].st.st_size, hex);
				airi__buf_printf(&dd, "%s{\"digest\":\"%s\",\"name\":",
						 sep, hex);
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
			airi_digest_format(&total, hex);
			airi__buf_printf(&b, ",\"weights_digest\":\"%s\"", hex);
			/* header facts: of the single file, or of the first
			 * GGUF / safetensors file of a directory */
			for (size_t i = 0; i < l.n; i++) {
				airi__buf h;
				airi__buf_init(&h);
				header_info(&l.f[i], &h);
				if (h.n) {
					airi__buf_adds(&b, ",\"header\":");
					airi__buf_add(&b, h.p, h.n);
					airi__buf_release(&h);
					break;
				}
				airi__buf_release(&h);
			}
			airi__buf_addc(&b, '}');
			if (!cli_opt(a, "json"))
				printf("%s  %s\n", hex, arg);
			else
				print_obj(a, &b, k == 1);
			airi__buf_release(&b);
		}
		for (size_t i = 0; i < l.n; i++) {
			free(l.f[i].path);
			free(l.f[i].name);
		}
		free(l.f);
	}
	if (cli_opt(a, "json")) {
		if (a->npos > 2)
			putchar(']');
		putchar('\n');
	}
	sqlite3_close(cache);
	return status;
}
