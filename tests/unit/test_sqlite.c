/*
 * test_sqlite.c - what only the SQLite backend does: checkpoints run on a
 * thread of their own while the store stays open (the database file grows
 * while the writer goes on committing), the WAL stays bounded however
 * many transactions are committed, and what was written in between is
 * intact after reopening (fsck clean, every run there).
 */
#include "test_util.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return test_tmpdir(dir, sizeof(dir), "sqlite");
}

static int teardown(void **state)
{
	(void)state;
	return test_rmdir(dir);
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* one run with about len bytes of text of its own */
static void record_one(airi_store *s, int i, size_t len)
{
	char *buf = malloc(len + 200), *text = malloc(len + 1);
	assert_non_null(buf);
	assert_non_null(text);
	for (size_t k = 0; k < len; k++)
		text[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
	text[len] = 0;
	snprintf(buf, len + 200,
		 "{\"conditions\":{\"model\":{\"name\":\"m\"},\"input\":"
		 "{\"n\":%d,\"text\":\"%s\"}},\"output\":{\"n\":%d}}",
		 i, text, i);
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(buf, strlen(buf), &m, &err))
		fail_msg("%s", err.message);
	int created = 0;
	if (airi_store_record(s, m, &created, &err))
		fail_msg("record %d: %s", i, err.message);
	assert_int_equal(created, 1);
	airi_manifest_free(m);
	free(buf);
	free(text);
}

static int count_run(void *ctx, const airi_run_info *r)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

static void test_background_checkpoint(void **state)
{
	(void)state;
	char path[512], wal[600];
	snprintf(path, sizeof(path), "%s/ck.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	/* a checkpoint after 16 WAL pages; the committing thread's own
	 * bound at 16 times that (256 pages, 4 MiB at 16 KiB pages) */
	setenv("AIRI_SQLITE_CHECKPOINT_PAGES", "16", 1);
	airi_store *s = NULL;
	airi_error err;
	assert_int_equal(airi_store_open(path, AIRI_STORE_CREATE, &s, &err), 0);
	long long db0 = file_size(path);
	/* 1. a WAL past the checkpoint threshold but far below the writer's
	 * own bound: SQLite's automatic checkpoint is off, so only the
	 * checkpointer thread can move pages into the database file now.
	 * Runs of 64 KiB of text each need new pages, so the file must grow
	 * once they are checkpointed (whatever the page size, and even if
	 * the schema's pages were checkpointed before db0 was taken) */
	int i = 0, c = 0;
	while (file_size(wal) < (1 << 20)) {
		assert_int_equal(airi_store_begin(s, &err), 0);
		record_one(s, i++, 65536);
		assert_int_equal(airi_store_commit(s, &err), 0);
		c++;
	}
	long long db1 = 0;
	for (int t = 0; t < 200; t++) {
		if ((db1 = file_size(path)) > db0)
			break;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	print_message("after %d commits: database %lld -> %lld bytes\n", c,
		      db0, db1);
	assert_true(db1 > db0);
	/* 2. about 16 MiB more of runs, a few per transaction, go through a
	 * WAL that never holds much more than its bound (4 MiB): without
	 * checkpoints it would grow to 160 MiB */
	enum { COMMITS = 800, PER = 5 };
	for (c = 0; c < COMMITS; c++) {
		assert_int_equal(airi_store_begin(s, &err), 0);
		for (int k = 0; k < PER; k++)
			record_one(s, i++, 2048);
		assert_int_equal(airi_store_commit(s, &err), 0);
	}
	long long w = file_size(wal);
	print_message("database %lld bytes, WAL %lld bytes\n", file_size(path),
		      w);
	assert_true(file_size(path) > (8 << 20));
	assert_true(w >= 0 && w < (12 << 20));
	airi_store_close(s);
	unsetenv("AIRI_SQLITE_CHECKPOINT_PAGES");

	assert_int_equal(airi_store_open(path, AIRI_STORE_READONLY, &s, &err),
			 0);
	size_t objects = 0, problems = 0;
	assert_int_equal(airi_store_fsck(s, NULL, NULL, &objects, &problems,
					 &err),
			 0);
	assert_int_equal(problems, 0);
	int runs = 0;
	airi_filter f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(airi_store_list(s, &f, count_run, &runs, &err), 0);
	assert_int_equal(runs, i);
	airi_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_background_checkpoint,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
