/*
 * fuzz_journal.c - libFuzzer target for the proxy's acknowledgement
 * journal (src/proxy/journal.c, compiled in directly): whatever a journal
 * file's ring holds (torn, overwritten, hostile), recovery must read it
 * without a memory error and hand over only sane records. The input is
 * the ring: it gets a valid header block (built as journal.c builds it:
 * magic at byte 0, ring size at 32, low water mark 1 at 40; the ring is
 * the input rounded up to 4 KiB, at least 64 KiB, zero-filled) and goes
 * into a scratch file (under /dev/shm when there is one, so the syncs
 * cost nothing). Then journal_open + journal_recover, and abort() when:
 *
 *   - a record's text is not NUL-terminated at its length, does not parse
 *     as a manifest, or is not a byte string of the input;
 *   - a key is 40 bytes or longer (no NUL in spool_rec.key), or not in
 *     the input;
 *   - sequence numbers decrease, or are below the low water mark;
 *   - a batch is empty or over 256, or *found is not what was handed over;
 *   - after the recovery (the mark now past every record), a record
 *     written, the journal closed uncleanly and recovered again, anything
 *     but that one record comes back.
 *
 * Built with -DFUZZ_JOURNAL_MAKE_SEEDS (and without -fsanitize=fuzzer) it
 * is instead a program that writes seed inputs to the directory named by
 * its argument (tests/fuzz/corpus_journal was made so).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/proxy/proxy.h"

#define BLK 4096u
#define MIN_RING 65536u

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_journal: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

struct ctx {
	const uint8_t *data;
	size_t size;
	uint64_t last, low;
	size_t n;
};

static int check_batch(void *arg, struct spool_rec *recs, size_t n)
{
	struct ctx *c = arg;
	if (n == 0 || n > 256)
		die("batch of a bad size", NULL);
	for (size_t i = 0; i < n; i++) {
		struct spool_rec *r = &recs[i];
		if (!r->text || r->text[r->len] != 0)
			die("text not NUL-terminated at its length", NULL);
		if (!memchr(r->key, 0, sizeof(r->key)))
			die("key of 40 bytes or more", NULL);
		if (r->seq < c->low || (c->n && r->seq < c->last))
			die("sequence numbers out of order", NULL);
		c->last = r->seq;
		c->n++;
		if (c->data) {
			size_t kl = strlen(r->key);
			if (r->len && !memmem(c->data, c->size, r->text, r->len))
				die("text not in the input", r->text);
			if (kl && !memmem(c->data, c->size, r->key, kl))
				die("key not in the input", r->key);
		}
		airi_manifest *m = NULL;
		airi_error err;
		if (airi_manifest_parse(r->text, r->len, &m, &err))
			die("recovered text is not a manifest", err.message);
		airi_manifest_free(m);
	}
	return 0;
}

static char path[256];

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

static const char MANIFEST[] =
	"{\"conditions\":{\"model\":{\"name\":\"fuzz\"},\"input\":{\"messages\":"
	"[{\"role\":\"user\",\"content\":\"after recovery\"}]}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		const char *dir =
			access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(path, sizeof(path), "%s/fuzz_journal.%ld", dir,
			 (long)getpid());
		atexit(cleanup);
	}
	if (size > ((size_t)64 << 20))
		return 0;
	uint64_t ring = (size + BLK - 1) / BLK * BLK;
	if (ring < MIN_RING)
		ring = MIN_RING;
	unsigned char *file = calloc(1, BLK + ring);
	if (!file)
		return 0;
	memcpy(file, "airi proxy journal 1\n", 21);
	put64(file + 32, ring);
	put64(file + 40, 1);
	if (size)
		memcpy(file + BLK, data, size);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, file, BLK + ring) != (ssize_t)(BLK + ring))
		die("cannot write the scratch file", path);
	close(fd);
	free(file);

	char msg[512];
	struct journal *j = journal_open(path, ring, msg, sizeof(msg));
	if (!j)
		die("a valid header was refused", msg);
	struct ctx c = {data, size, 0, 1, 0};
	size_t found = 0;
	if (journal_recover(j, check_batch, &c, &found, msg, sizeof(msg)))
		die("recovery failed", msg);
	if (found != c.n)
		die("found is not what was handed over", NULL);
	/* a record past 2^63 is not valid (it would move the mark past any
	 * later record) */
	if (c.n && c.last > UINT64_MAX / 2)
		die("a sequence number past 2^63 was taken as valid", NULL);

	/* the mark is past every record now: one more written and not
	 * released is all that the next recovery may find */
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(MANIFEST, sizeof(MANIFEST) - 1, &m, &err))
		die("the harness's manifest", err.message);
	struct journal_item it;
	memset(&it, 0, sizeof(it));
	it.text = MANIFEST;
	it.len = sizeof(MANIFEST) - 1;
	it.key = "k";
	it.run = *airi_manifest_run_id(m);
	airi_manifest_free(m);
	struct journal_buf buf = {NULL, 0};
	if (journal_write(j, &it, 1, &buf))
		die("write after recovery failed", NULL);
	free(buf.p);
	journal_close(j, 0);
	j = journal_open(path, ring, msg, sizeof(msg));
	if (!j)
		die("reopening after recovery failed", msg);
	struct ctx c2 = {NULL, 0, 0, c.n ? c.last + 1 : 1, 0};
	if (journal_recover(j, check_batch, &c2, &found, msg, sizeof(msg)))
		die("second recovery failed", msg);
	if (found != 1 || c2.last != c2.low)
		die("second recovery: not exactly the record written", NULL);
	journal_close(j, 1);
	return 0;
}

#ifdef FUZZ_JOURNAL_MAKE_SEEDS
/* seeds: rings written by journal.c itself, as the fuzzer's input (the
 * file without its header block, cut after the last nonzero block) */

static char seed_dir[512];

static void item(struct journal_item *it, char *text, size_t cap, int n,
		 size_t pad, const char *key)
{
	int k = snprintf(text, cap,
			 "{\"conditions\":{\"model\":{\"name\":\"m\"},\"input\":"
			 "{\"messages\":[{\"role\":\"user\",\"content\":\"hi %d ",
			 n);
	memset(text + k, 'a', pad);
	strcpy(text + k + pad, "\"}]}}}");
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(text, strlen(text), &m, &err))
		die("seed manifest", err.message);
	memset(it, 0, sizeof(*it));
	it->text = text;
	it->len = strlen(text);
	it->key = key;
	it->run = *airi_manifest_run_id(m);
	airi_manifest_free(m);
}

static void dump(const char *name, void (*tweak)(unsigned char *, size_t))
{
	int fd = open(path, O_RDONLY);
	off_t end = lseek(fd, 0, SEEK_END);
	size_t n = (size_t)end - BLK;
	unsigned char *b = malloc(n);
	if (fd < 0 || pread(fd, b, n, BLK) != (ssize_t)n)
		die("read", path);
	close(fd);
	while (n >= BLK) { /* drop trailing zero blocks */
		size_t i = 0;
		while (i < BLK && !b[n - BLK + i])
			i++;
		if (i < BLK)
			break;
		n -= BLK;
	}
	if (tweak)
		tweak(b, n);
	char out[800];
	snprintf(out, sizeof(out), "%s/%s", seed_dir, name);
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(b, 1, n, f) != n)
		die("write", out);
	fclose(f);
	free(b);
	printf("%s: %zu bytes\n", out, n);
}

static struct journal *fresh(uint64_t size)
{
	char msg[512];
	unlink(path);
	struct journal *j = journal_open(path, size, msg, sizeof(msg));
	size_t found;
	if (!j || journal_recover(j, check_batch, &(struct ctx){0}, &found,
				  msg, sizeof(msg)))
		die("seed journal", msg);
	return j;
}

static void tear_second(unsigned char *b, size_t n)
{
	if (n > BLK + 200)
		b[BLK + 150] ^= 1; /* in the second record's text */
}

int main(int argc, char **argv)
{
	static char texts[16][12000];
	struct journal_item its[16];
	struct journal_buf buf = {NULL, 0};
	if (argc != 2)
		die("usage: fuzz_journal_seeds DIR", NULL);
	snprintf(seed_dir, sizeof(seed_dir), "%s", argv[1]);
	snprintf(path, sizeof(path), "/tmp/fuzz_journal_seed.%ld",
		 (long)getpid());

	/* three single records, the middle one with a key */
	struct journal *j = fresh(MIN_RING);
	for (int i = 0; i < 3; i++) {
		item(&its[i], texts[i], sizeof(texts[i]), i, 20,
		     i == 1 ? "run-key-1" : "");
		if (journal_write(j, &its[i], 1, &buf))
			die("seed write", NULL);
	}
	journal_close(j, 0);
	dump("three-records", NULL);
	dump("torn-second", tear_second);

	/* a batch of five in one write, records of one and two blocks */
	j = fresh(MIN_RING);
	for (int i = 0; i < 5; i++)
		item(&its[i], texts[i], sizeof(texts[i]), 10 + i,
		     (size_t)i * 1500, i % 2 ? "k" : "");
	if (journal_write(j, its, 5, &buf))
		die("seed write", NULL);
	journal_close(j, 0);
	dump("batch-of-five", NULL);

	/* a ring gone round several times, the last few not released */
	j = fresh(MIN_RING);
	for (int i = 0; i < 60; i++) {
		struct journal_item it;
		item(&it, texts[i % 16], sizeof(texts[i % 16]), 100 + i,
		     (size_t)(i * 7 % 5) * 1000, i % 3 ? "wrapped" : "");
		if (journal_write(j, &it, 1, &buf))
			die("seed write", NULL);
		if (i < 56)
			journal_release(j, it.region, 1);
	}
	journal_close(j, 0);
	dump("wrapped", NULL);
	free(buf.p);
	unlink(path);
	return 0;
}
#endif
