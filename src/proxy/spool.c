/*
 * spool.c - the proxy's outage spool (docs/postgres.md, "The proxy's
 * outage spool"): runs that could not be committed to the store because
 * the store failed are appended to DIR/spool (fdatasync'ed before their
 * identities are handed back) and delivered later, in order. DIR/offset
 * holds how far the spool has been delivered; once all of it is, both are
 * truncated. A record is
 *
 *     LEN SP RUNKEY LF MANIFEST LF
 *
 * (RUNKEY is "-" when the call had none). Used by the writer thread only.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool {
	char *dir;
	int fd, lock;
	uint64_t off, size, runs;
};

static int mkdirs(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) && errno != EEXIST) {
				free(p);
				return -1;
			}
			*s = '/';
		}
	int rc = mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

/* All of n bytes at offset at, or -1 with errno (EIO for a short file). */
int proxy_pio(int fd, void *buf, size_t n, uint64_t at, int write)
{
	char *b = buf;
	while (n) {
		ssize_t r = write ? pwrite(fd, b, n, (off_t)at)
				  : pread(fd, b, n, (off_t)at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		b += r;
		n -= (size_t)r;
		at += (uint64_t)r;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n, uint64_t at)
{
	return proxy_pio(fd, buf, n, at, 0);
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t r = write(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads the record at *at: its text (malloc'ed) and key; advances *at.
 * 1 at the end (or at a torn tail), -1 on a read error. */
static int read_rec(struct spool *sp, uint64_t *at, char **text, size_t *len,
		    char key[40])
{
	char head[64];
	uint64_t avail = sp->size - *at;
	size_t hn = avail < sizeof(head) - 1 ? (size_t)avail : sizeof(head) - 1;
	if (hn == 0)
		return 1;
	if (read_all(sp->fd, head, hn, *at))
		return -1;
	head[hn] = 0;
	char *nl = memchr(head, '\n', hn);
	if (!nl)
		return 1;
	*nl = 0;
	char *sp1 = strchr(head, ' ');
	if (!sp1 || strlen(sp1 + 1) >= 40)
		return 1;
	*sp1 = 0;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(head, &end, 10);
	if (*end || errno || end == head)
		return 1;
	uint64_t body = *at + (uint64_t)(nl - head) + 1;
	if (n > sp->size || body + n + 1 > sp->size)
		return 1;
	if (text) {
		char *t = malloc((size_t)n + 2);
		if (!t)
			return -1;
		if (read_all(sp->fd, t, (size_t)n + 1, body) || t[n] != '\n') {
			free(t);
			return 1;
		}
		t[n] = 0;
		*text = t;
		*len = (size_t)n;
	}
	if (key)
		snprintf(key, 40, "%s", strcmp(sp1 + 1, "-") ? sp1 + 1 : "");
	*at = body + n + 1;
	return 0;
}

static int write_offset(struct spool *sp, uint64_t off)
{
	char path[4096], tmp[4096], text[32];
	snprintf(path, sizeof(path), "%s/offset", sp->dir);
	snprintf(tmp, sizeof(tmp), "%s/offset.tmp", sp->dir);
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", off);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, text, (size_t)n) || fdatasync(fd)) {
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path))
		return -1;
	int d = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0) {
		fsync(d);
		close(d);
	}
	return 0;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->lock >= 0)
		close(sp->lock); /* releases the flock */
	free(sp->dir);
	free(sp);
}

struct spool *spool_open(const char *dir, char *msg, size_t msgn)
{
	char path[4096];
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->dir = strdup(dir))) {
		free(sp);
		snprintf(msg, msgn, "out of memory");
		return NULL;
	}
	sp->fd = sp->lock = -1;
	if (strlen(dir) > 4000) {
		snprintf(msg, msgn, "%s: name too long", dir);
		goto fail;
	}
	if (mkdirs(dir)) {
		snprintf(msg, msgn, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	sp->lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lock < 0) {
		snprintf(msg, msgn, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(sp->lock, LOCK_EX | LOCK_NB)) {
		snprintf(msg, msgn, "%s is in use by another airi proxy", dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/spool", dir);
	sp->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		snprintf(msg, msgn, "%s: %s", path, strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(sp->fd, &st)) {
		snprintf(msg, msgn, "%s: %s", path, strerror(errno));
		goto fail;
	}
	sp->size = (uint64_t)st.st_size;
	snprintf(path, sizeof(path), "%s/offset", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		unsigned long long o = 0;
		if (fscanf(f, "%llu", &o) == 1)
			sp->off = o;
		fclose(f);
	}
	if (sp->off > sp->size) /* truncated, crashed before the offset */
		sp->off = 0;
	/* count what is left; a torn tail (never acknowledged) is cut off */
	uint64_t at = sp->off;
	int r;
	while ((r = read_rec(sp, &at, NULL, NULL, NULL)) == 0)
		sp->runs++;
	if (r < 0) {
		snprintf(msg, msgn, "%s/spool: %s", dir, strerror(errno));
		goto fail;
	}
	if (at < sp->size) {
		fprintf(stderr, "airi proxy: spool %s: cutting off %" PRIu64
				" bytes of an incomplete record\n",
			dir, sp->size - at);
		if (ftruncate(sp->fd, (off_t)at) || fdatasync(sp->fd)) {
			snprintf(msg, msgn, "%s/spool: %s", dir, strerror(errno));
			goto fail;
		}
		sp->size = at;
	}
	if (!sp->runs && sp->size) { /* all delivered: start over */
		if (ftruncate(sp->fd, 0) || fdatasync(sp->fd) ||
		    write_offset(sp, 0)) {
			snprintf(msg, msgn, "%s/spool: %s", dir, strerror(errno));
			goto fail;
		}
		sp->size = sp->off = 0;
	}
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

uint64_t spool_runs(const struct spool *sp)
{
	return sp ? sp->runs : 0;
}

uint64_t spool_bytes(const struct spool *sp)
{
	return sp ? sp->size - sp->off : 0;
}

int spool_append(struct spool *sp, struct writer_job *const *jobs, size_t n)
{
	airi__buf b;
	int bad = 0;
	airi__buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		bad |= airi__buf_printf(&b, "%zu %s\n", jobs[i]->len,
					jobs[i]->run_key[0] ? jobs[i]->run_key
							    : "-");
		bad |= airi__buf_add(&b, jobs[i]->manifest, jobs[i]->len);
		bad |= airi__buf_adds(&b, "\n");
	}
	if (bad || !b.p) {
		errno = ENOMEM;
		airi__buf_release(&b);
		return -1;
	}
	int rc = write_all(sp->fd, b.p, b.n) || fdatasync(sp->fd) ? -1 : 0;
	if (rc) { /* leave no partial record behind */
		int e = errno;
		if (ftruncate(sp->fd, (off_t)sp->size) == 0)
			fdatasync(sp->fd);
		errno = e;
	} else {
		sp->size += b.n;
		sp->runs += n;
	}
	airi__buf_release(&b);
	return rc;
}

int spool_peek(struct spool *sp, size_t max, struct spool_rec *recs,
	       size_t *n, uint64_t *end)
{
	uint64_t at = sp->off;
	*n = 0;
	while (*n < max) {
		struct spool_rec *r = &recs[*n];
		int rc = read_rec(sp, &at, &r->text, &r->len, r->key);
		if (rc < 0) {
			for (size_t i = 0; i < *n; i++)
				free(recs[i].text);
			*n = 0;
			return -1;
		}
		if (rc)
			break;
		(*n)++;
	}
	*end = at;
	return 0;
}

int spool_advance(struct spool *sp, uint64_t end, size_t n)
{
	if (end >= sp->size) {
		/* everything delivered: start over. The offset goes back to 0
		 * first: a crash before the truncation only delivers the
		 * records again, which records nothing twice */
		if (write_offset(sp, 0))
			return -1;
		sp->off = 0;
		if (ftruncate(sp->fd, 0) || fdatasync(sp->fd)) {
			uint64_t at = 0;
			sp->runs = 0;
			while (read_rec(sp, &at, NULL, NULL, NULL) == 0)
				sp->runs++;
			return -1;
		}
		sp->size = 0;
		sp->runs = 0;
		return 0;
	}
	if (write_offset(sp, end))
		return -1;
	sp->off = end;
	sp->runs -= n;
	return 0;
}

int spool_record(airi_store *s, const struct spool_rec *recs, size_t n,
		 airi_error *err)
{
	int rc = airi_store_begin(s, err);
	for (size_t i = 0; i < n && !rc; i++) {
		airi_manifest *m = NULL;
		rc = airi_manifest_parse_borrow(recs[i].text, recs[i].len, &m, err);
		if (!rc)
			rc = airi_store_record(s, m, NULL, err);
		if (!rc && recs[i].key[0])
			rc = airi_store_bind_key(s, recs[i].key,
						 airi_manifest_run_id(m), err);
		airi_manifest_free(m);
	}
	if (!rc)
		rc = airi_store_commit(s, err);
	else
		airi_store_rollback(s);
	return rc;
}
