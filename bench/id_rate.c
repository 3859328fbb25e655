/*
 * id_rate.c - identities per second for one small manifest, in one thread
 * (so the rate is per core), against plain SHA-256 of the same bytes.
 *
 *   id_rate FILE [SECONDS]
 *
 * For SECONDS (default 3) each, it loops over:
 *   parse   airi_manifest_parse() + airi_manifest_free() (copies the text,
 *           validates, canonicalizes and hashes every section, the
 *           conditions, trajectory and run objects): what `airi record`
 *           pays per line before touching the store;
 *   borrow  the same with airi_manifest_parse_borrow() (no copy);
 *   sha256  one SHA-256 of the file's bytes via OpenSSL EVP (digest fetched
 *           once, context reused): the floor any content hash pays.
 * and prints one line per loop:  NAME RATE/s NS/op MB/s
 * then "ratio sha256/parse X" (how many plain hashes fit in one identity).
 *
 * Build (see bench/run.sh):
 *   cc -O2 -I include bench/id_rate.c -L build -lairi -lcrypto \
 *      -Wl,-rpath,$PWD/build
 */
#define _POSIX_C_SOURCE 200809L
#include <airi.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			char *q = realloc(p, cap);
			if (!q) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = q;
		}
		size_t r = fread(p + n, 1, cap - n, f);
		if (!r)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return p;
}

enum { PARSE, BORROW, SHA };

static volatile unsigned char sink;

static int once(int what, const char *text, size_t len, EVP_MD_CTX *ctx,
		const EVP_MD *md)
{
	if (what == SHA) {
		unsigned char out[EVP_MAX_MD_SIZE];
		unsigned olen;
		if (!EVP_DigestInit_ex(ctx, md, NULL) ||
		    !EVP_DigestUpdate(ctx, text, len) ||
		    !EVP_DigestFinal_ex(ctx, out, &olen))
			return -1;
		sink ^= out[0];
		return 0;
	}
	airi_manifest *m;
	airi_error err;
	int rc = what == PARSE ? airi_manifest_parse(text, len, &m, &err)
			       : airi_manifest_parse_borrow(text, len, &m, &err);
	if (rc) {
		fprintf(stderr, "id_rate: %s at byte %zu\n", err.message,
			err.offset);
		return -1;
	}
	sink ^= airi_manifest_run_id(m)->bytes[0];
	airi_manifest_free(m);
	return 0;
}

static double rate(int what, const char *text, size_t len, double secs,
		   EVP_MD_CTX *ctx, const EVP_MD *md)
{
	/* warm up: caches, allocator, branch predictors */
	double t0 = now();
	while (now() - t0 < 0.2)
		if (once(what, text, len, ctx, md))
			return -1;
	unsigned long long n = 0;
	double el;
	t0 = now();
	do {
		for (int i = 0; i < 64; i++)
			if (once(what, text, len, ctx, md))
				return -1;
		n += 64;
		el = now() - t0;
	} while (el < secs);
	return (double)n / el;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: id_rate FILE [SECONDS]\n");
		return 2;
	}
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	size_t len;
	char *text = slurp(argv[1], &len);
	if (!text) {
		perror(argv[1]);
		return 1;
	}
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!md || !ctx) {
		fprintf(stderr, "id_rate: OpenSSL SHA-256 unavailable\n");
		return 1;
	}
	/* print the run ID once, so a wrong file is noticed */
	{
		airi_manifest *m;
		airi_error err;
		char d[AIRI_DIGEST_STRLEN];
		if (airi_manifest_parse(text, len, &m, &err)) {
			fprintf(stderr, "id_rate: %s: %s\n", argv[1],
				err.message);
			return 1;
		}
		airi_digest_format(airi_manifest_run_id(m), d);
		printf("file %s bytes %zu run %s\n", argv[1], len, d);
		airi_manifest_free(m);
	}
	static const char *const names[] = {"parse", "borrow", "sha256"};
	double r[3];
	for (int w = PARSE; w <= SHA; w++) {
		r[w] = rate(w, text, len, secs, ctx, md);
		if (r[w] < 0)
			return 1;
		printf("%-7s %12.0f/s %10.0f ns/op %9.1f MB/s\n", names[w],
		       r[w], 1e9 / r[w], r[w] * (double)len / 1e6);
	}
	printf("ratio sha256/parse %.1f\n", r[SHA] / r[PARSE]);
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	free(text);
	return 0;
}
