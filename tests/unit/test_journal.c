/*
 * test_journal.c - the proxy's acknowledgement journal (src/proxy/journal.c,
 * compiled in directly): the file it makes and its lock, that what was
 * written comes back at recovery (in sequence order, with its text and run
 * key) and only until it is known to be in the store, that torn records
 * are left out, that a full ring refuses writes and is reused once its
 * regions are released, that recovery after many laps round the ring
 * finds every record still owed, that a damaged file is refused, and that
 * a failed recovery loses nothing. Each test works in a fresh directory.
 */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/proxy/proxy.h"

#define BLK 4096u
#define SMALL_RING 65536u

struct fix {
	char dir[512];
	char path[600];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f || test_tmpdir(f->dir, sizeof(f->dir), "journal")) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/journal", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	int rc = test_rmdir(f->dir);
	free(f);
	return rc;
}

/* ---- items: small valid manifests, their run IDs, optional run keys */

struct item {
	char *text;
	size_t len;
	char key[40];
	airi_digest run;
};

/* manifest number n, its content padded with pad bytes of 'a' (valid JSON
 * either way, so that a changed byte keeps it parseable) */
static void make_item(struct item *it, int n, size_t pad, const char *key)
{
	const char *pre = "{\"conditions\":{\"model\":{\"name\":\"m\"},"
			  "\"input\":{\"messages\":[{\"role\":\"user\","
			  "\"content\":\"hi ";
	const char *post = "\"}]}}}";
	size_t cap = strlen(pre) + 32 + pad + strlen(post) + 1;
	it->text = malloc(cap);
	assert_non_null(it->text);
	int k = snprintf(it->text, cap, "%s%d ", pre, n);
	memset(it->text + k, 'a', pad);
	strcpy(it->text + k + pad, post);
	it->len = strlen(it->text);
	snprintf(it->key, sizeof(it->key), "%s", key ? key : "");
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(it->text, it->len, &m, &err))
		fail_msg("test manifest rejected: %s\n%s", err.message, it->text);
	it->run = *airi_manifest_run_id(m);
	airi_manifest_free(m);
}

static void free_item(struct item *it)
{
	free(it->text);
	it->text = NULL;
}

static struct journal_item jitem(const struct item *it)
{
	struct journal_item ji;
	memset(&ji, 0, sizeof(ji));
	ji.text = it->text;
	ji.len = it->len;
	ji.key = it->key;
	ji.run = it->run;
	return ji;
}

static uint64_t rec_size(const struct item *it)
{
	return journal_record_size(strlen(it->key), it->len);
}

/* ---- what recovery hands over */

struct got {
	struct spool_rec *r;
	size_t n, cap;
	size_t calls;
	int fail; /* the callback fails (returns -1) */
};

static int collect(void *ctx, struct spool_rec *recs, size_t n)
{
	struct got *g = ctx;
	g->calls++;
	assert_true(n >= 1 && n <= 256);
	if (g->fail)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 64;
			g->r = realloc(g->r, g->cap * sizeof(*g->r));
			assert_non_null(g->r);
		}
		struct spool_rec r = recs[i];
		/* the text is NUL-terminated at len, the key within bounds */
		assert_non_null(r.text);
		assert_int_equal(strlen(r.text), r.len);
		assert_true(memchr(r.key, 0, sizeof(r.key)) != NULL);
		r.text = malloc(r.len + 1);
		assert_non_null(r.text);
		memcpy(r.text, recs[i].text, r.len + 1);
		g->r[g->n++] = r;
	}
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->r[i].text);
	free(g->r);
	memset(g, 0, sizeof(*g));
}

static struct journal *open_ok(const char *path, uint64_t size)
{
	char msg[512] = "";
	struct journal *j = journal_open(path, size, msg, sizeof(msg));
	if (!j)
		fail_msg("journal_open %s: %s", path, msg);
	return j;
}

/* open, recover into g (which must succeed), return the journal still open */
static struct journal *open_recover(const char *path, uint64_t size,
				    struct got *g)
{
	struct journal *j = open_ok(path, size);
	char msg[512] = "";
	size_t found = 99999;
	if (journal_recover(j, collect, g, &found, msg, sizeof(msg)))
		fail_msg("journal_recover: %s", msg);
	assert_int_equal(found, g->n);
	for (size_t i = 1; i < g->n; i++)
		assert_true(g->r[i].seq > g->r[i - 1].seq);
	return j;
}

static void write_one(struct journal *j, const struct item *it,
		      struct journal_buf *buf, uint32_t *region)
{
	struct journal_item ji = jitem(it);
	if (journal_write(j, &ji, 1, buf))
		fail_msg("journal_write: %s", strerror(errno));
	if (region)
		*region = ji.region;
}

static int file_size(const char *path, off_t *size)
{
	struct stat st;
	if (stat(path, &st))
		return -1;
	*size = st.st_size;
	return 0;
}

static void assert_same(const struct spool_rec *r, const struct item *it)
{
	assert_int_equal(r->len, it->len);
	assert_memory_equal(r->text, it->text, it->len);
	assert_string_equal(r->key, it->key);
}

/* 1. the file: header block and ring, zero-filled; one user at a time */
static void test_open_creates_and_locks(void **state)
{
	struct fix *f = *state;
	char msg[512] = "";
	struct journal *j = open_ok(f->path, 200000); /* rounded up to 4 KiB */
	off_t sz = 0;
	assert_int_equal(file_size(f->path, &sz), 0);
	assert_int_equal((long long)sz, 4096LL + 200704LL);
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.size, 200704);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.records, 0);

	/* the header: magic at 0, size at 32, low water mark 1 at 40 */
	int fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	unsigned char h[64];
	assert_int_equal(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	assert_memory_equal(h, "airi proxy journal 1\n", 21);
	uint64_t size = 0, low = 0;
	for (int i = 7; i >= 0; i--) {
		size = size << 8 | h[32 + i];
		low = low << 8 | h[40 + i];
	}
	assert_int_equal(size, 200704);
	assert_int_equal(low, 1);

	/* a second opener is kept out while the first holds it */
	struct journal *j2 = journal_open(f->path, 200000, msg, sizeof(msg));
	assert_null(j2);
	if (!strstr(msg, "in use"))
		fail_msg("second open: unexpected message: %s", msg);
	assert_int_equal(journal_close(j, 0), 0);

	/* and let in once it is closed; an existing journal keeps its size */
	j = open_ok(f->path, 1 << 20);
	journal_stats(j, &st);
	assert_int_equal(st.size, 200704);
	assert_int_equal(file_size(f->path, &sz), 0);
	assert_int_equal((long long)sz, 4096LL + 200704LL);
	assert_int_equal(journal_close(j, 0), 0);

	/* too small a ring is refused */
	char other[700];
	snprintf(other, sizeof(other), "%s/small", f->dir);
	assert_null(journal_open(other, 4096, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "64 KiB"));
	assert_int_equal(access(other, F_OK), -1);
}

/* 2. written, not released, unclean close: all of it comes back, once */
static void test_write_recover_roundtrip(void **state)
{
	struct fix *f = *state;
	enum { N = 300 };
	struct item *its = calloc(N, sizeof(*its));
	assert_non_null(its);
	for (int i = 0; i < N; i++) {
		char key[40];
		snprintf(key, sizeof(key), "key-%d-%.*s", i, i % 30,
			 "0123456789012345678901234567890");
		/* every third without a key; sizes of one to three blocks */
		make_item(&its[i], i, (size_t)(i % 7) * 1500,
			  i % 3 == 0 ? NULL : key);
	}
	struct journal *j = open_ok(f->path, 4u << 20);
	struct got g = {0};
	char msg[512];
	size_t found = 1;
	assert_int_equal(journal_recover(j, collect, &g, &found, msg,
					 sizeof(msg)),
			 0);
	assert_int_equal(found, 0);
	assert_int_equal(g.calls, 0);

	/* one at a time and in batches of up to five */
	struct journal_buf buf = {0};
	uint64_t bytes = 0;
	for (int i = 0; i < N;) {
		int k = i % 4 == 0 ? 5 : 1;
		if (i + k > N)
			k = N - i;
		struct journal_item ji[5];
		for (int x = 0; x < k; x++) {
			ji[x] = jitem(&its[i + x]);
			bytes += rec_size(&its[i + x]);
		}
		if (journal_write(j, ji, (size_t)k, &buf))
			fail_msg("journal_write: %s", strerror(errno));
		for (int x = 1; x < k; x++)
			assert_int_equal(ji[x].region, ji[0].region);
		i += k;
	}
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.records, N);
	assert_int_equal(st.used, bytes);
	assert_int_equal(st.full, 0);
	assert_int_equal(st.failed, 0);
	/* not clean: the runs are not known to be in the store */
	assert_int_equal(journal_close(j, 0), 0);

	j = open_recover(f->path, 4u << 20, &g);
	assert_int_equal(g.n, N);
	assert_int_equal(g.calls, 2); /* 256 + 44 */
	for (int i = 0; i < N; i++) {
		assert_same(&g.r[i], &its[i]);
		assert_int_equal(g.r[i].seq, (uint64_t)i + 1);
	}
	got_free(&g);
	assert_int_equal(journal_close(j, 1), 0);

	/* recovered means in the store: the next start finds nothing */
	j = open_recover(f->path, 4u << 20, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.calls, 0);
	/* and numbering goes on after the recovered records */
	uint32_t region;
	write_one(j, &its[0], &buf, &region);
	assert_int_equal(journal_close(j, 0), 0);
	j = open_recover(f->path, 4u << 20, &g);
	assert_int_equal(g.n, 1);
	assert_same(&g.r[0], &its[0]);
	assert_int_equal(g.r[0].seq, N + 1);
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	/* the recovery above moved the mark even though the close was not
	 * clean */
	j = open_recover(f->path, 4u << 20, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	for (int i = 0; i < N; i++)
		free_item(&its[i]);
	free(its);
}

/* 3. a clean close says everything is in the store, but only when it is */
static void test_clean_close(void **state)
{
	struct fix *f = *state;
	struct item a, b;
	make_item(&a, 1, 10, "ka");
	make_item(&b, 2, 5000, NULL);
	struct journal_buf buf = {0};
	struct got g = {0};

	/* all released: the next start reads nothing */
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	uint32_t ra, rb;
	write_one(j, &a, &buf, &ra);
	write_one(j, &b, &buf, &rb);
	journal_release(j, rb, 1);
	journal_release(j, ra, 1);
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.used, 0);
	assert_int_equal(journal_close(j, 1), 0);
	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 0);

	/* one of them not released: a clean close leaves it to recovery */
	write_one(j, &a, &buf, &ra);
	write_one(j, &b, &buf, &rb);
	journal_release(j, ra, 1);
	assert_int_equal(journal_close(j, 1), 0);
	j = open_recover(f->path, SMALL_RING, &g);
	/* b for certain; a (released, not overwritten) may come back too */
	assert_true(g.n >= 1 && g.n <= 2);
	assert_same(&g.r[g.n - 1], &b);
	assert_int_equal(g.r[g.n - 1].seq, 4);
	if (g.n == 2) {
		assert_same(&g.r[0], &a);
		assert_int_equal(g.r[0].seq, 3);
	}
	got_free(&g);
	assert_int_equal(journal_close(j, 1), 0);
	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	free_item(&a);
	free_item(&b);
}

/* 4. a record whose text changed is not handed over; its neighbours are */
static void test_torn_record(void **state)
{
	struct fix *f = *state;
	struct item its[3];
	make_item(&its[0], 1, 100, "k1");
	make_item(&its[1], 2, 6000, "k2"); /* two blocks */
	make_item(&its[2], 3, 100, NULL);
	struct journal_buf buf = {0};
	struct got g = {0};
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	for (int i = 0; i < 3; i++)
		write_one(j, &its[i], &buf, NULL);
	assert_int_equal(journal_close(j, 0), 0);

	/* one byte in the middle of the 2nd manifest: 'a' -> 'b' keeps it
	 * valid JSON, so only the run ID check can catch it */
	uint64_t at = BLK + rec_size(&its[0]) + 64 + strlen(its[1].key) +
		      its[1].len / 2;
	int fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	char c = 0;
	assert_int_equal(pread(fd, &c, 1, (off_t)at), 1);
	assert_int_equal(c, 'a');
	c = 'b';
	assert_int_equal(pwrite(fd, &c, 1, (off_t)at), 1);
	close(fd);

	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 2);
	assert_same(&g.r[0], &its[0]);
	assert_int_equal(g.r[0].seq, 1);
	assert_same(&g.r[1], &its[2]);
	assert_int_equal(g.r[1].seq, 3);
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	for (int i = 0; i < 3; i++)
		free_item(&its[i]);
}

/* 5. a full ring refuses a write until a region is released */
static void test_ring_full(void **state)
{
	struct fix *f = *state;
	enum { N = 20 };
	struct item its[N];
	for (int i = 0; i < N; i++)
		make_item(&its[i], i, 0, i % 2 ? "k" : NULL);
	for (int i = 0; i < N; i++)
		assert_int_equal(rec_size(&its[i]), BLK);
	struct journal_buf buf = {0};
	struct got g = {0};
	struct journal *j = open_recover(f->path, SMALL_RING, &g);

	/* bigger than half the ring: never, even when it is empty */
	struct item big;
	make_item(&big, 99, SMALL_RING / 2, NULL);
	assert_true(rec_size(&big) > SMALL_RING / 2);
	struct journal_item bj = jitem(&big);
	errno = 0;
	assert_int_equal(journal_write(j, &bj, 1, &buf), -1);
	assert_int_equal(errno, ENOSPC);
	/* exactly half is fine */
	struct item half;
	make_item(&half, 98, SMALL_RING / 2 - 200, NULL);
	assert_int_equal(rec_size(&half), SMALL_RING / 2);
	uint32_t rh;
	write_one(j, &half, &buf, &rh);
	journal_release(j, rh, 1);

	struct journal_item ji[N];
	int n = 0;
	for (; n < N; n++) {
		ji[n] = jitem(&its[n]);
		if (journal_write(j, &ji[n], 1, &buf))
			break;
	}
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(n, SMALL_RING / BLK); /* 16 blocks */
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.used, SMALL_RING);
	assert_int_equal(st.full, 2);
	/* a release at the tail makes room: the next write wraps into it */
	journal_release(j, ji[0].region, 1);
	ji[n] = jitem(&its[n]);
	if (journal_write(j, &ji[n], 1, &buf))
		fail_msg("write after release: %s", strerror(errno));
	/* full again */
	ji[n + 1] = jitem(&its[n + 1]);
	errno = 0;
	assert_int_equal(journal_write(j, &ji[n + 1], 1, &buf), -1);
	assert_int_equal(errno, ENOSPC);
	/* a region released out of order frees nothing until the older
	 * ones go */
	journal_release(j, ji[2].region, 1);
	assert_int_equal(journal_write(j, &ji[n + 1], 1, &buf), -1);
	journal_release(j, ji[1].region, 1);
	if (journal_write(j, &ji[n + 1], 1, &buf))
		fail_msg("write after two releases: %s", strerror(errno));
	assert_int_equal(journal_close(j, 0), 0);

	/* what is left: the half-ring record (seq 1) and its[0..2] (seq 2..4)
	 * were overwritten by the wrapped writes, except what the journal
	 * released but did not overwrite; its[3..17] must all be there */
	j = open_recover(f->path, SMALL_RING, &g);
	int seen[N] = {0};
	for (size_t i = 0; i < g.n; i++) {
		uint64_t s = g.r[i].seq;
		assert_true(s >= 1 && s <= (uint64_t)n + 3);
		if (s == 1) {
			assert_same(&g.r[i], &half);
			continue;
		}
		assert_same(&g.r[i], &its[s - 2]);
		seen[s - 2] = 1;
	}
	for (int i = 3; i < n + 2; i++)
		if (!seen[i])
			fail_msg("record %d (seq %d) not recovered", i, i + 2);
	/* the first block holds its[16] now: its[0] is gone */
	assert_false(seen[0]);
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	free_item(&big);
	free_item(&half);
	for (int i = 0; i < N; i++)
		free_item(&its[i]);
}

/* 6. many laps round a small ring, released with some lag: recovery finds
 * every record still owed and nothing that was not written */
static void test_wrap_recovery(void **state)
{
	struct fix *f = *state;
	enum { N = 400, LAG = 4, LEFT = 4 };
	struct item *its = calloc(N, sizeof(*its));
	uint32_t *region = calloc(N, sizeof(*region));
	int *released = calloc(N, sizeof(*released));
	assert_true(its && region && released);
	for (int i = 0; i < N; i++) {
		char key[40];
		snprintf(key, sizeof(key), "run-%d", i);
		/* one or two blocks */
		size_t pad = (size_t)(i * 37 % 9) * 1000;
		if (i % 11 == 0)
			pad = 4000;
		make_item(&its[i], i, pad, i % 4 ? key : NULL);
	}
	struct journal_buf buf = {0};
	struct got g = {0};

	/* a first life: some records, all in the store, clean close */
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	for (int i = 0; i < 7; i++) {
		uint32_t r;
		write_one(j, &its[i], &buf, &r);
		journal_release(j, r, 1);
	}
	assert_int_equal(journal_close(j, 1), 0);

	/* the second: many laps; batches of one or two; released LAG writes
	 * later, sometimes out of order; the last LEFT never */
	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 0);
	uint64_t first = 8; /* the seq of its[0] in this life */
	uint64_t bytes = 0;
	int i = 0;
	while (i < N) {
		int k = (i % 5 == 0 && i + 1 < N) ? 2 : 1;
		struct journal_item ji[2];
		for (int x = 0; x < k; x++)
			ji[x] = jitem(&its[i + x]);
		if (journal_write(j, ji, (size_t)k, &buf))
			fail_msg("write %d: %s", i, strerror(errno));
		for (int x = 0; x < k; x++) {
			region[i + x] = ji[x].region;
			bytes += rec_size(&its[i + x]);
		}
		i += k;
		/* release what is LAG behind, pairs swapped now and then */
		int upto = i - LAG;
		if (N - LEFT < upto)
			upto = N - LEFT;
		for (int r = 0; r < upto; r++) {
			if (released[r])
				continue;
			if (r % 13 == 0 && r + 1 < upto && !released[r + 1]) {
				journal_release(j, region[r + 1], 1);
				released[r + 1] = 1;
			}
			journal_release(j, region[r], 1);
			released[r] = 1;
		}
	}
	assert_true(bytes > 5 * SMALL_RING); /* several laps */
	for (int r = 0; r < N; r++)
		assert_int_equal(released[r], r < N - LEFT);
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.records, N);
	assert_int_equal(st.full, 0);
	assert_int_equal(journal_close(j, 0), 0);

	j = open_recover(f->path, SMALL_RING, &g);
	int *seen = calloc(N, sizeof(*seen));
	assert_non_null(seen);
	for (size_t x = 0; x < g.n; x++) {
		uint64_t s = g.r[x].seq;
		/* nothing from the first life, nothing never written */
		if (s < first || s >= first + N)
			fail_msg("recovered seq %llu, not of this life",
				 (unsigned long long)s);
		assert_same(&g.r[x], &its[s - first]);
		seen[s - first] = 1;
	}
	for (int r = N - LEFT; r < N; r++)
		if (!seen[r])
			fail_msg("unreleased record %d (seq %llu) not recovered",
				 r, (unsigned long long)(first + r));
	got_free(&g);
	assert_int_equal(journal_close(j, 1), 0);
	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(journal_close(j, 0), 0);

	free(seen);
	free(buf.p);
	for (int r = 0; r < N; r++)
		free_item(&its[r]);
	free(its);
	free(region);
	free(released);
}

/* 6b. a record that would run past the end of the ring starts over at its
 * beginning (the end is skipped), and the file never grows */
static void test_wrap_skips_end(void **state)
{
	struct fix *f = *state;
	struct item one[15], two;
	for (int i = 0; i < 15; i++)
		make_item(&one[i], i, 0, NULL);
	make_item(&two, 15, 5000, "two");
	assert_int_equal(rec_size(&two), 2 * BLK);
	struct journal_buf buf = {0};
	struct got g = {0};
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	for (int i = 0; i < 15; i++) {
		uint32_t r;
		write_one(j, &one[i], &buf, &r);
		journal_release(j, r, 1);
	}
	/* 15 blocks used and released: two blocks do not fit at the end */
	uint32_t r2;
	write_one(j, &two, &buf, &r2);
	struct journal_stats st;
	journal_stats(j, &st);
	assert_int_equal(st.used, 3 * BLK); /* the skipped block counts */
	assert_int_equal(journal_close(j, 0), 0);
	off_t sz = 0;
	assert_int_equal(file_size(f->path, &sz), 0);
	assert_int_equal((long long)sz, (long long)(BLK + SMALL_RING));

	j = open_recover(f->path, SMALL_RING, &g);
	int found_two = 0;
	for (size_t i = 0; i < g.n; i++) {
		if (g.r[i].seq == 16) {
			assert_same(&g.r[i], &two);
			found_two = 1;
		} else {
			/* released ones that were not overwritten */
			assert_true(g.r[i].seq >= 3 && g.r[i].seq <= 15);
			assert_same(&g.r[i], &one[g.r[i].seq - 1]);
		}
	}
	assert_true(found_two);
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	free_item(&two);
	for (int i = 0; i < 15; i++)
		free_item(&one[i]);
}

/* 6c. writes land out of order (two threads; the machine stopped after
 * the later write and before the earlier one): the earlier region still
 * holds an old record's header, whose text the later write overwrote.
 * That stale record is invalid, and the records written inside its
 * extent must still be found. */
static void test_stale_header_over_new_records(void **state)
{
	struct fix *f = *state;
	struct item big, fill, y, z, x;
	make_item(&big, 1, 9000, "big"); /* three blocks */
	make_item(&fill, 2, 0, NULL);
	make_item(&x, 3, 0, "x");
	make_item(&y, 4, 0, "y");
	make_item(&z, 5, 0, "z");
	assert_int_equal(rec_size(&big), 3 * BLK);
	struct journal_buf buf = {0};
	struct got g = {0};
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	uint32_t r;
	write_one(j, &big, &buf, &r); /* blocks 0-2 */
	journal_release(j, r, 1);
	int fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char old[BLK];
	assert_int_equal(pread(fd, old, BLK, BLK), (ssize_t)BLK);
	for (int i = 0; i < 13; i++) { /* blocks 3-15 */
		write_one(j, &fill, &buf, &r);
		journal_release(j, r, 1);
	}
	write_one(j, &x, &buf, NULL); /* block 0 */
	write_one(j, &y, &buf, NULL); /* block 1 */
	write_one(j, &z, &buf, NULL); /* block 2 */
	assert_int_equal(journal_close(j, 0), 0);
	/* x's write never landed */
	assert_int_equal(pwrite(fd, old, BLK, BLK), (ssize_t)BLK);
	close(fd);

	j = open_recover(f->path, SMALL_RING, &g);
	int seen_y = 0, seen_z = 0;
	for (size_t i = 0; i < g.n; i++) {
		assert_true(g.r[i].seq != 1); /* big: overwritten */
		if (g.r[i].seq == 16)
			assert_same(&g.r[i], &y), seen_y = 1;
		if (g.r[i].seq == 17)
			assert_same(&g.r[i], &z), seen_z = 1;
	}
	assert_true(seen_y && seen_z);
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	free_item(&big);
	free_item(&fill);
	free_item(&x);
	free_item(&y);
	free_item(&z);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void expect_refused(const char *path, const char *what)
{
	char msg[512] = "";
	struct journal *j = journal_open(path, SMALL_RING, msg, sizeof(msg));
	if (j) {
		journal_close(j, 0);
		fail_msg("%s: opened, expected \"%s\"", path, what);
	}
	if (!strstr(msg, what))
		fail_msg("%s: message \"%s\", expected \"%s\"", path, msg, what);
}

/* 7. what is not a journal, or a damaged one, is refused, not reused */
static void test_damaged_header(void **state)
{
	struct fix *f = *state;
	char p[700];

	/* 100 KB of zeros */
	char *zero = calloc(1, 100000);
	assert_non_null(zero);
	snprintf(p, sizeof(p), "%s/zeros", f->dir);
	write_file(p, zero, 100000);
	expect_refused(p, "not an airi proxy journal");
	/* left as it was */
	off_t sz = 0;
	assert_int_equal(file_size(p, &sz), 0);
	assert_int_equal((long long)sz, 100000);

	/* shorter than a header block */
	snprintf(p, sizeof(p), "%s/short", f->dir);
	write_file(p, "airi proxy journal 1\n", 21);
	expect_refused(p, "not an airi proxy journal");

	/* a directory */
	snprintf(p, sizeof(p), "%s/dir", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	expect_refused(p, "not a regular file");

	/* a real journal, cut short */
	struct journal *j = open_ok(f->path, SMALL_RING);
	assert_int_equal(journal_close(j, 0), 0);
	assert_int_equal(truncate(f->path, BLK + SMALL_RING / 2), 0);
	expect_refused(f->path, "damaged journal header");

	/* header fields out of range: size not a multiple of 4 KiB, too
	 * small a ring, a low water mark of 0 */
	unsigned char h[BLK];
	memset(h, 0, sizeof(h));
	memcpy(h, "airi proxy journal 1\n", 21);
	char *file = calloc(1, BLK + SMALL_RING);
	assert_non_null(file);
	snprintf(p, sizeof(p), "%s/fields", f->dir);
	const uint64_t cases[][2] = {{SMALL_RING - 100, 1},
				     {SMALL_RING / 2, 1},
				     {SMALL_RING, 0},
				     {(uint64_t)1 << 62, 1}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int i = 0; i < 8; i++) {
			h[32 + i] = (unsigned char)(cases[c][0] >> (8 * i));
			h[40 + i] = (unsigned char)(cases[c][1] >> (8 * i));
		}
		memcpy(file, h, BLK);
		write_file(p, file, BLK + SMALL_RING);
		expect_refused(p, "damaged journal header");
	}
	/* and with sane fields it opens */
	for (int i = 0; i < 8; i++) {
		h[32 + i] = (unsigned char)((uint64_t)SMALL_RING >> (8 * i));
		h[40 + i] = (unsigned char)(i == 0);
	}
	memcpy(file, h, BLK);
	write_file(p, file, BLK + SMALL_RING);
	j = open_ok(p, SMALL_RING);
	assert_int_equal(journal_close(j, 0), 0);

	free(file);
	free(zero);
}

/* 8. recovery that cannot hand its records over keeps them */
static void test_callback_failure(void **state)
{
	struct fix *f = *state;
	struct item its[4];
	for (int i = 0; i < 4; i++)
		make_item(&its[i], i, 50, i % 2 ? "key" : NULL);
	struct journal_buf buf = {0};
	struct got g = {0};
	struct journal *j = open_recover(f->path, SMALL_RING, &g);
	for (int i = 0; i < 4; i++)
		write_one(j, &its[i], &buf, NULL);
	assert_int_equal(journal_close(j, 0), 0);

	j = open_ok(f->path, SMALL_RING);
	g.fail = 1;
	char msg[512] = "";
	size_t found = 77;
	assert_int_equal(journal_recover(j, collect, &g, &found, msg,
					 sizeof(msg)),
			 -1);
	assert_int_equal(g.calls, 1);
	assert_int_equal(found, 0);
	assert_true(msg[0] != 0);
	/* even a clean close must not mark them recorded */
	assert_int_equal(journal_close(j, 1), 0);

	memset(&g, 0, sizeof(g));
	j = open_recover(f->path, SMALL_RING, &g);
	assert_int_equal(g.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_same(&g.r[i], &its[i]);
		assert_int_equal(g.r[i].seq, (uint64_t)i + 1);
	}
	got_free(&g);
	assert_int_equal(journal_close(j, 0), 0);

	free(buf.p);
	for (int i = 0; i < 4; i++)
		free_item(&its[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_and_locks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_recover_roundtrip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_record, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_recovery, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrap_skips_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_stale_header_over_new_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_callback_failure, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
