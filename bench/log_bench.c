/*
 * log_bench.c - benchmarks of the transparency log (issue 4 targets):
 *   1. append rate: N leaves appended in batches of 100,000 per
 *      transaction (durable commits), leaves/s;
 *   2. inclusion proof at size N: mean and p99 time of
 *      airi_store_log_inclusion for random leaves, plus verifying it;
 *   3. bundle verification: mean time of airi_bundle_verify on a bundle
 *      of a typical run.
 * Baseline in the same run: SHA-256 of the same leaf bytes (the floor of
 * appending), so the ratio is meaningful on any machine.
 *
 * Build (from the repository root, after building the project):
 *   cc -O2 -Iinclude -Ilib bench/log_bench.c build/libairi_static.a \
 *      -lcrypto -lsqlite3 -lpthread -lm -o build/log_bench
 * Run: build/log_bench [N] [STORE_PATH]
 */
#define _GNU_SOURCE
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char path[512];
	snprintf(path, sizeof(path), "%s",
		 argc > 2 ? argv[2] : "/tmp/airi-log-bench.db");
	airi_store *s;
	airi_error err;
	uint64_t have = 0;
	if (airi_store_open(path, AIRI_STORE_CREATE, &s, &err)) {
		fprintf(stderr, "open: %s\n", err.message);
		return 1;
	}
	airi_store_log_size(s, &have, &err);

	/* 1. append (synthetic run IDs; the log does not look at runs) */
	double t0 = now();
	uint64_t appended = 0;
	for (uint64_t i = have; i < n; i++) {
		if ((i - have) % 100000 == 0) {
			if (i != have && airi_store_commit(s, &err))
				goto fail;
			if (airi_store_begin(s, &err))
				goto fail;
		}
		airi_digest d;
		memset(&d, 0, sizeof(d));
		memcpy(d.bytes, &i, sizeof(i));
		uint64_t next;
		if (airi__log_next(s, &next, &err) ||
		    airi__log_append(s, next, &d, 1764316800000LL + (int64_t)i,
				     &err))
			goto fail;
		appended++;
	}
	if (appended && airi_store_commit(s, &err))
		goto fail;
	double t_append = now() - t0;

	/* baseline: hashing the same leaves */
	t0 = now();
	unsigned char h[32];
	char entry[200];
	for (uint64_t i = 0; i < (appended ? appended : 1); i++) {
		int k = snprintf(entry, sizeof(entry),
				 "{\"logged_at\":\"2026-11-28T00:00:00.000Z\","
				 "\"run\":\"sha256:%064llx\",\"type\":"
				 "\"airi.logentry/1\"}",
				 (unsigned long long)i);
		airi_merkle_leaf_hash(entry, (size_t)k, h);
	}
	double t_hash = now() - t0;
	if (appended)
		printf("append: %llu leaves in %.2f s = %.0f leaves/s "
		       "(leaf hashing alone: %.0f/s, ratio %.1fx)\n",
		       (unsigned long long)appended, t_append,
		       (double)appended / t_append, (double)appended / t_hash,
		       t_append / t_hash);

	/* 2. inclusion proofs at size n */
	uint64_t size;
	airi_store_log_size(s, &size, &err);
	unsigned char root[32];
	if (airi_store_log_root(s, size, root, &err))
		goto fail;
	int iters = 10000;
	double *lat = malloc(sizeof(double) * (size_t)iters);
	srand(42);
	double total = 0;
	for (int i = 0; i < iters; i++) {
		uint64_t idx = ((uint64_t)rand() * RAND_MAX + (uint64_t)rand()) % size;
		unsigned char (*proof)[32] = NULL;
		size_t pn;
		double a = now();
		if (airi_store_log_inclusion(s, idx, size, &proof, &pn, &err))
			goto fail;
		lat[i] = now() - a;
		total += lat[i];
		unsigned char leaf[32];
		if (s->ops->node_get(s->impl, 0, idx, leaf, &err) ||
		    airi_merkle_verify_inclusion(idx, size, leaf, 32,
						 (const unsigned char(*)[32])proof,
						 pn, root, 32)) {
			fprintf(stderr, "proof for %llu does not verify\n",
				(unsigned long long)idx);
			return 1;
		}
		free(proof);
	}
	qsort(lat, (size_t)iters, sizeof(double), cmp_double);
	printf("inclusion proof at %llu leaves: mean %.1f us, p50 %.1f us, "
	       "p99 %.1f us (%d proofs, each verified)\n",
	       (unsigned long long)size, total / iters * 1e6,
	       lat[iters / 2] * 1e6, lat[iters * 99 / 100] * 1e6, iters);
	free(lat);
	airi_store_close(s);

	/* 3. bundle verification of a typical run in a small store */
	char bpath[600];
	snprintf(bpath, sizeof(bpath), "%s.bundle.db", path);
	unlink(bpath);
	if (airi_store_open(bpath, AIRI_STORE_CREATE, &s, &err))
		goto fail;
	char *skey, *vkey;
	airi_key *signer, *verifier;
	airi_key_generate("bench.example/log", &skey, &vkey, &err);
	airi_key_parse(skey, &signer, &err);
	airi_key_parse(vkey, &verifier, &err);
	airi_manifest *m = NULL;
	airi_digest first;
	for (int i = 0; i < 1000; i++) {
		char text[2048];
		snprintf(text, sizeof(text),
			 "{\"conditions\":{\"model\":{\"name\":\"gpt-4o\","
			 "\"resolved\":\"gpt-4o-2024-08-06\"},\"params\":"
			 "{\"temperature\":0.2,\"seed\":%d},\"system\":{\"text\":"
			 "\"You are a careful assistant.\"},\"input\":{\"messages\":"
			 "[{\"role\":\"user\",\"content\":\"Question %d\"}]},"
			 "\"environment\":{\"os\":\"linux\"}},\"output\":{\"content\":"
			 "\"Answer %d\"},\"meta\":{\"start\":\"2026-11-28T00:00:00Z\"}}",
			 i, i, i);
		if (airi_manifest_parse(text, strlen(text), &m, &err) ||
		    airi_store_record(s, m, NULL, &err))
			goto fail;
		if (i == 0)
			first = *airi_manifest_run_id(m);
		airi_manifest_free(m);
	}
	char *bundle, *report;
	size_t bn, rn;
	if (airi_bundle_export(s, &first, "input,output", signer, &bundle, &bn,
			       &err))
		goto fail;
	int viters = 2000;
	t0 = now();
	for (int i = 0; i < viters; i++) {
		if (airi_bundle_verify(bundle, bn, verifier, &report, &rn, &err))
			goto fail;
		free(report);
	}
	double t_verify = (now() - t0) / viters;
	printf("bundle verify: %.1f us per bundle (%zu bytes, tree of 1000, %d "
	       "verifications)\n",
	       t_verify * 1e6, bn, viters);
	free(bundle);
	free(skey);
	free(vkey);
	airi_key_free(signer);
	airi_key_free(verifier);
	airi_store_close(s);
	unlink(bpath);
	return 0;
fail:
	fprintf(stderr, "failed: %s\n", err.message);
	return 1;
}
