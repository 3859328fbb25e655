/*
 * journal.c - the proxy's acknowledgement journal (--journal FILE; see
 * docs/proxy.md, "The acknowledgement journal"). A run is durable once its
 * record is in the journal; the writer thread records it in the store
 * afterwards, so a reply waits for one synchronous write of its own, not
 * for a store transaction (or another call's).
 *
 * The file is a 4 KiB header block and a ring of SIZE bytes after it,
 * written in place (zero-filled when the file is made, so no write has to
 * allocate blocks or change the file's size). Records are 4 KiB aligned:
 *
 *     0   8  magic "airijrn1"
 *     8   8  sequence number (little endian, from 1, never reused)
 *     16  4  manifest length M
 *     20  4  run key length K (0: none)
 *     24  4  record length in bytes, a multiple of 4096
 *     28  4  zero
 *     32 32  run ID (SHA-256) of the manifest
 *     64  K  run key, then M bytes of manifest text, zero padding
 *
 * A record is valid when its manifest parses and has that run ID: a torn
 * or overwritten record fails the check. Every write of a batch of records
 * is one pwrite with O_DSYNC (and O_DIRECT where the file system has it),
 * so calls in different threads sync in parallel. Space is handed out in
 * order; a region is reused once all its runs are in the store.
 *
 * The header holds the journal's size and its low water mark: every
 * record with a lower sequence number is in the store. At start every
 * valid record at or above the mark is recorded again (recording a run
 * that is already there records nothing), the mark moves past them, and
 * the ring starts over.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLK 4096u
#define HEAD_MAGIC "airi proxy journal 1\n"
#define REC_MAGIC "airijrn1"
#define REC_HEAD 64u
#define MAX_REGIONS 4096u

struct region {
	uint64_t lo, hi; /* logical offsets; hi includes any skipped end */
	uint32_t left;   /* records not in the store yet */
};

struct journal {
	char *path;
	int fd;      /* O_DSYNC, buffered: the lock, the header, and records
		      * where O_DIRECT is refused */
	int dfd;     /* O_DSYNC | O_DIRECT for records, or -1 */
	int direct;  /* records go to dfd (atomic: cleared when a write
		      * there is refused with EINVAL) */
	uint64_t size, low;
	pthread_mutex_t mu;
	uint64_t seq;        /* the last sequence number handed out */
	uint64_t alloc, tail; /* logical: next free byte, oldest in use */
	struct region reg[MAX_REGIONS];
	uint32_t rhead, rcount; /* FIFO of regions in allocation order */
	uint64_t records, full, failed; /* written, refused (no room), failed */
};

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t at)
{
	return proxy_pio(fd, (void *)buf, n, at, 1);
}

static int pread_all(int fd, void *buf, size_t n, uint64_t at)
{
	return proxy_pio(fd, buf, n, at, 0);
}

static int write_header(int fd, uint64_t size, uint64_t low)
{
	unsigned char h[BLK];
	memset(h, 0, sizeof(h));
	memcpy(h, HEAD_MAGIC, sizeof(HEAD_MAGIC) - 1);
	put64(h + 32, size);
	put64(h + 40, low);
	return pwrite_all(fd, h, sizeof(h), 0) || fdatasync(fd) ? -1 : 0;
}

uint64_t journal_record_size(size_t key_len, size_t manifest_len)
{
	uint64_t n = REC_HEAD + (uint64_t)key_len + manifest_len;
	return (n + BLK - 1) / BLK * BLK;
}

/* A new journal file: the header and SIZE zero bytes, synced, and the
 * directory entry too. */
static int create(const char *path, uint64_t size, char *msg, size_t msgn)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(msg, msgn, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t chunk = 1u << 20;
	char *zero = calloc(1, chunk);
	int rc = zero ? 0 : -1;
	for (uint64_t at = BLK; !rc && at < BLK + size; at += chunk) {
		size_t n = BLK + size - at < chunk ? (size_t)(BLK + size - at) : chunk;
		rc = pwrite_all(fd, zero, n, at);
	}
	free(zero);
	if (!rc)
		rc = write_header(fd, size, 1);
	if (!rc)
		rc = fsync(fd);
	int e = errno;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -1, e = errno;
	if (rc) {
		unlink(tmp);
		snprintf(msg, msgn, "%s: cannot make the journal: %s", path,
			 strerror(e));
		return -1;
	}
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0) {
		fsync(d);
		close(d);
	}
	return 0;
}

struct journal *journal_open(const char *path, uint64_t size, char *msg,
			     size_t msgn)
{
	if (strlen(path) > 4000) {
		snprintf(msg, msgn, "%s: name too long", path);
		return NULL;
	}
	size = (size + BLK - 1) / BLK * BLK;
	if (size < 16 * BLK) {
		snprintf(msg, msgn, "%s: a journal needs at least 64 KiB", path);
		return NULL;
	}
	struct stat st;
	if (stat(path, &st)) {
		if (errno != ENOENT) {
			snprintf(msg, msgn, "%s: %s", path, strerror(errno));
			return NULL;
		}
		if (create(path, size, msg, msgn))
			return NULL;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msgn, "%s: not a regular file", path);
		return NULL;
	}
	struct journal *j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		snprintf(msg, msgn, "out of memory");
		return NULL;
	}
	j->dfd = -1;
	j->fd = open(path, O_RDWR | O_CLOEXEC | O_DSYNC);
	if (j->fd < 0) {
		snprintf(msg, msgn, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB)) {
		snprintf(msg, msgn, "%s is in use by another airi proxy", path);
		goto fail;
	}
	unsigned char h[48];
	if (pread_all(j->fd, h, sizeof(h), 0) ||
	    memcmp(h, HEAD_MAGIC, sizeof(HEAD_MAGIC) - 1)) {
		snprintf(msg, msgn, "%s: not an airi proxy journal (no header "
				    "at byte 0)",
			 path);
		goto fail;
	}
	j->size = get64(h + 32);
	j->low = get64(h + 40);
	if (fstat(j->fd, &st) || j->size % BLK || j->size < 16 * BLK ||
	    (uint64_t)st.st_size < BLK + j->size || !j->low ||
	    j->low > UINT64_MAX / 2 + 1) {
		snprintf(msg, msgn, "%s: damaged journal header (byte 32: size "
				    "%" PRIu64 ", file %lld bytes)",
			 path, j->size, (long long)st.st_size);
		goto fail;
	}
	if (j->size != size)
		fprintf(stderr, "airi proxy: journal %s keeps its size of %" PRIu64
				" bytes\n",
			path, j->size);
	/* where the file system has it (not every one does), unless
	 * AIRI_JOURNAL_DIRECT=0 */
	const char *dv = getenv("AIRI_JOURNAL_DIRECT");
	if (!dv || strcmp(dv, "0"))
		j->dfd = open(path, O_RDWR | O_CLOEXEC | O_DSYNC | O_DIRECT);
	j->direct = j->dfd >= 0;
	j->seq = j->low - 1;
	pthread_mutex_init(&j->mu, NULL);
	return j;
fail:
	if (j->fd >= 0)
		close(j->fd);
	if (j->dfd >= 0)
		close(j->dfd);
	free(j->path);
	free(j);
	return NULL;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct spool_rec *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int journal_recover(struct journal *j,
		    int (*fn)(void *ctx, struct spool_rec *recs, size_t n),
		    void *ctx, size_t *found, char *msg, size_t msgn)
{
	*found = 0;
	int fd = j->fd;
	struct spool_rec *recs = NULL;
	size_t n = 0, cap = 0;
	unsigned char head[REC_HEAD];
	uint64_t max = j->low - 1;
	int rc = 0;
	for (uint64_t at = 0; at < j->size;) {
		if (pread_all(fd, head, sizeof(head), BLK + at)) {
			snprintf(msg, msgn, "%s: read error at byte %" PRIu64 ": %s",
				 j->path, BLK + at, strerror(errno));
			rc = -1;
			break;
		}
		uint64_t seq = get64(head + 8);
		uint32_t mlen = get32(head + 16), klen = get32(head + 20),
			 total = get32(head + 24);
		/* a sequence number past 2^63 cannot be ours (it would move
		 * the mark past any later record, or wrap) */
		if (memcmp(head, REC_MAGIC, 8) || seq < j->low ||
		    seq > UINT64_MAX / 2 || klen >= 40 ||
		    total % BLK || total == 0 || at + total > j->size ||
		    journal_record_size(klen, mlen) != total) {
			at += BLK;
			continue;
		}
		char *text = malloc((size_t)mlen + 1);
		struct spool_rec r;
		memset(&r, 0, sizeof(r));
		if (!text || pread_all(fd, r.key, klen, BLK + at + REC_HEAD) ||
		    pread_all(fd, text, mlen, BLK + at + REC_HEAD + klen)) {
			free(text);
			snprintf(msg, msgn, "%s: cannot read the record at byte "
					    "%" PRIu64,
				 j->path, BLK + at);
			rc = -1;
			break;
		}
		text[mlen] = 0;
		r.key[klen] = 0;
		airi_manifest *m = NULL;
		airi_error err;
		int ok = airi_manifest_parse_borrow(text, mlen, &m, &err) == 0 &&
			 !memcmp(airi_manifest_run_id(m)->bytes, head + 32, 32);
		airi_manifest_free(m);
		if (!ok) { /* torn, or partly overwritten since */
			free(text);
			at += BLK;
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct spool_rec *nr = realloc(recs, nc * sizeof(*nr));
			if (!nr) {
				free(text);
				snprintf(msg, msgn, "out of memory");
				rc = -1;
				break;
			}
			recs = nr;
			cap = nc;
		}
		r.text = text;
		r.len = mlen;
		r.seq = seq;
		recs[n++] = r;
		if (seq > max)
			max = seq;
		at += total;
	}
	if (!rc && n) {
		qsort(recs, n, sizeof(*recs), cmp_rec);
		for (size_t i = 0; i < n && !rc; i += 256)
			rc = fn(ctx, recs + i, n - i < 256 ? n - i : 256);
		if (rc)
			snprintf(msg, msgn, "%s: cannot record the journal's runs "
					    "in the store",
				 j->path);
	}
	for (size_t i = 0; i < n; i++)
		free(recs[i].text);
	free(recs);
	if (rc)
		return -1;
	*found = n;
	/* all of it is in the store now: the ring starts over */
	if (write_header(j->fd, j->size, max + 1)) {
		snprintf(msg, msgn, "%s: cannot write the header: %s", j->path,
			 strerror(errno));
		return -1;
	}
	j->low = max + 1;
	j->seq = max;
	j->alloc = j->tail = 0;
	return 0;
}

/* journal_recover_into's callback: one transaction per batch */
static int record_batch(void *ctx, struct spool_rec *recs, size_t n)
{
	airi_error err;
	int rc = spool_record(ctx, recs, n, &err);
	if (rc)
		fprintf(stderr, "airi: journal: %s\n", err.message);
	return rc;
}

int journal_recover_into(struct journal *j, airi_store *s, size_t *found,
			 char *msg, size_t msgn)
{
	return journal_recover(j, record_batch, s, found, msg, msgn);
}

/* Room for need contiguous bytes: the logical offset to write at, the
 * region's index in *ri; -1 when the ring is full. Under mu. */
static int64_t reserve(struct journal *j, uint64_t need, uint32_t *ri)
{
	if (need > j->size / 2 || j->rcount == MAX_REGIONS)
		return -1;
	uint64_t lo = j->alloc, at = lo;
	if (at % j->size + need > j->size) /* not past the end: wrap */
		at += j->size - at % j->size;
	if (at + need - j->tail > j->size)
		return -1;
	*ri = (j->rhead + j->rcount) % MAX_REGIONS;
	j->reg[*ri] = (struct region){lo, at + need, 0};
	j->rcount++;
	j->alloc = at + need;
	return (int64_t)at;
}

static void trim(struct journal *j)
{
	while (j->rcount && !j->reg[j->rhead].left) {
		j->tail = j->reg[j->rhead].hi;
		j->rhead = (j->rhead + 1) % MAX_REGIONS;
		j->rcount--;
	}
	if (!j->rcount)
		j->tail = j->alloc;
}

int journal_write(struct journal *j, struct journal_item *items, size_t n,
		  struct journal_buf *buf)
{
	uint64_t need = 0;
	for (size_t i = 0; i < n; i++)
		need += journal_record_size(strlen(items[i].key), items[i].len);
	if (buf->cap < need) {
		void *p = NULL;
		if (posix_memalign(&p, BLK, (size_t)need)) {
			errno = ENOMEM;
			return -1;
		}
		free(buf->p);
		buf->p = p;
		buf->cap = (size_t)need;
	}
	uint32_t ri;
	pthread_mutex_lock(&j->mu);
	int64_t at = reserve(j, need, &ri);
	if (at < 0) {
		j->full++;
		pthread_mutex_unlock(&j->mu);
		errno = ENOSPC;
		return -1;
	}
	j->reg[ri].left = (uint32_t)n;
	uint64_t seq = j->seq + 1;
	j->seq += n;
	pthread_mutex_unlock(&j->mu);
	unsigned char *p = buf->p;
	for (size_t i = 0; i < n; i++) {
		size_t klen = strlen(items[i].key);
		uint64_t total = journal_record_size(klen, items[i].len);
		memset(p, 0, REC_HEAD);
		memcpy(p, REC_MAGIC, 8);
		put64(p + 8, seq + i);
		put32(p + 16, (uint32_t)items[i].len);
		put32(p + 20, (uint32_t)klen);
		put32(p + 24, (uint32_t)total);
		memcpy(p + 32, items[i].run.bytes, 32);
		memcpy(p + REC_HEAD, items[i].key, klen);
		memcpy(p + REC_HEAD + klen, items[i].text, items[i].len);
		size_t used = REC_HEAD + klen + items[i].len;
		memset(p + used, 0, (size_t)total - used);
		items[i].region = ri;
		p += total;
	}
	uint64_t off = BLK + (uint64_t)at % j->size;
	int direct = __atomic_load_n(&j->direct, __ATOMIC_RELAXED);
	int rc = pwrite_all(direct ? j->dfd : j->fd, buf->p, (size_t)need, off);
	if (rc && direct && errno == EINVAL) {
		/* O_DIRECT opened but refused (some stacked file systems):
		 * the buffered descriptor from now on */
		__atomic_store_n(&j->direct, 0, __ATOMIC_RELAXED);
		rc = pwrite_all(j->fd, buf->p, (size_t)need, off);
	}
	int e = errno;
	pthread_mutex_lock(&j->mu);
	if (rc) {
		/* the region holds nothing of use: give it back */
		j->reg[ri].left = 0;
		j->failed++;
		trim(j);
	} else {
		j->records += n;
	}
	pthread_mutex_unlock(&j->mu);
	errno = e;
	return rc;
}

void journal_release(struct journal *j, uint32_t region, uint32_t n)
{
	pthread_mutex_lock(&j->mu);
	struct region *r = &j->reg[region];
	r->left = r->left > n ? r->left - n : 0;
	trim(j);
	pthread_mutex_unlock(&j->mu);
}

void journal_stats(struct journal *j, struct journal_stats *st)
{
	pthread_mutex_lock(&j->mu);
	st->size = j->size;
	st->used = j->alloc - j->tail;
	st->records = j->records;
	st->full = j->full;
	st->failed = j->failed;
	st->direct = __atomic_load_n(&j->direct, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&j->mu);
}

int journal_close(struct journal *j, int clean)
{
	if (!j)
		return 0;
	int rc = 0;
	if (clean && j->alloc == j->tail) {
		/* everything is in the store: the next start reads nothing */
		rc = write_header(j->fd, j->size, j->seq + 1);
	}
	close(j->fd);
	if (j->dfd >= 0)
		close(j->dfd);
	pthread_mutex_destroy(&j->mu);
	free(j->path);
	free(j);
	return rc;
}
