/*
 * canon.c - RFC 8785 canonical output of a parsed JSON tree, and SHA-256
 * digests computed over that output without materializing it.
 *
 * Bytes go through a fixed 64 KiB sink that flushes to a write callback;
 * spans larger than the sink go straight through, so hashing a 100 MB
 * document costs one pass of SHA-256 plus copies of the small pieces.
 * Strings whose source text is already canonical (the common case) are
 * emitted as source spans; numbers whose literal is canonical likewise.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <locale.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

locale_t airi__c_locale(void);

/* ---- sink --------------------------------------------------------------- */

#define SINK_SIZE 8192

typedef struct sink {
	airi_write_fn fn;
	void *ctx;
	int rc;
	size_t n;
	char buf[SINK_SIZE];
} sink;

static void sink_flush(sink *k)
{
	if (k->n && !k->rc)
		k->rc = k->fn(k->ctx, k->buf, k->n);
	k->n = 0;
}

static inline void sink_put(sink *k, const void *p, size_t n)
{
	if (n <= SINK_SIZE - k->n) {
		memcpy(k->buf + k->n, p, n);
		k->n += n;
		return;
	}
	sink_flush(k);
	if (n >= SINK_SIZE / 2) {
		if (!k->rc)
			k->rc = k->fn(k->ctx, p, n);
		return;
	}
	memcpy(k->buf, p, n);
	k->n = n;
}

static inline void sink_putc(sink *k, char c)
{
	if (k->n == SINK_SIZE)
		sink_flush(k);
	k->buf[k->n++] = c;
}

/* ---- numbers ------------------------------------------------------------ */

/* Digits and decimal exponent of d rounded to k significant digits:
 * d ~= 0.D1D2...Dk * 10^n, i.e. D * 10^(n-k). */
static int digits_k(double d, int k, char *dig, int *n)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.*e", k - 1, d);
	int j = 0;
	char *p = buf;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			dig[j++] = *p;
	dig[j] = 0;
	*n = atoi(p + 1) + 1;
	return j;
}

static double value_of(const char *dig, int k, int n)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "0.%.*se%d", k, dig, n);
	return strtod_l(buf, NULL, airi__c_locale());
}

/* Adds +1 or -1 to the last of k digits; returns 0 if it leaves k digits. */
static int step_digits(char *dig, int k, int *n, int dir)
{
	int i = k - 1;
	if (dir > 0) {
		while (i >= 0 && dig[i] == '9')
			dig[i--] = '0';
		if (i < 0) { /* 99..9 + 1 = 100..0 with one more digit */
			dig[0] = '1';
			(*n)++;
			return 0;
		}
		dig[i]++;
	} else {
		while (i >= 0 && dig[i] == '0')
			dig[i--] = '9';
		if (i < 0)
			return -1;
		dig[i]--;
		if (dig[0] == '0') { /* 100..0 - 1 = 99..9 with one less digit */
			memmove(dig, dig + 1, (size_t)k - 1);
			dig[k - 1] = '9';
			(*n)--;
		}
	}
	return 0;
}

/* Lays out k significant digits with decimal exponent n (value =
 * 0.DIGITS * 10^n) the way Number::toString does; returns the new length. */
static int layout(char *out, int o, char *dig, int k, int n)
{
	/* strip trailing zeros (the shortest k never has them, but the
	 * neighbour step can produce one) */
	while (k > 1 && dig[k - 1] == '0')
		k--;
	if (k <= n && n <= 21) {
		memcpy(out + o, dig, (size_t)k);
		o += k;
		for (int z = 0; z < n - k; z++)
			out[o++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(out + o, dig, (size_t)n);
		o += n;
		out[o++] = '.';
		memcpy(out + o, dig + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int z = 0; z < -n; z++)
			out[o++] = '0';
		memcpy(out + o, dig, (size_t)k);
		o += k;
	} else {
		out[o++] = dig[0];
		if (k > 1) {
			out[o++] = '.';
			memcpy(out + o, dig + 1, (size_t)k - 1);
			o += k - 1;
		}
		o += snprintf(out + o, 32 - (size_t)o, "e%c%d",
			      n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	return o;
}

/* Is there a k-digit decimal that reads back as d? Tries the closest one,
 * then its neighbour on the other side of d. Sets dig/n when found. */
static int try_k(double d, int k, char *dig, int *n)
{
	if (digits_k(d, k, dig, n) != k)
		return 0;
	double back = value_of(dig, k, *n);
	if (back == d)
		return 1;
	char alt[40];
	int an = *n;
	memcpy(alt, dig, (size_t)k + 1);
	if (step_digits(alt, k, &an, back < d ? 1 : -1) == 0 &&
	    value_of(alt, k, an) == d) {
		memcpy(dig, alt, (size_t)k + 1);
		*n = an;
		return 1;
	}
	return 0;
}

/*
 * How it works (ECMAScript Number::toString, as RFC 8785 requires): find
 * the fewest significant digits k such that some k-digit decimal reads back
 * as exactly d; among several, take the closest to d. printf's "%.*e"
 * gives the correctly rounded (closest) k-digit decimal; if it does not read
 * back, the only other k-digit candidate that could is its neighbour on the
 * other side of d (the rounding interval of d is asymmetric at powers of
 * two), so try that too. Then lay the digits out: plain integer digits up
 * to 21 places, a decimal point inside, "0.000ddd" down to 1e-7, and
 * exponent notation with an explicit sign outside that range.
 */
int airi__number_format(double d, char out[32], size_t *len)
{
	char dig[40];
	int k = 0, n = 0, o = 0;
	if (d == 0) {
		out[0] = '0';
		out[1] = 0;
		*len = 1;
		return 0;
	}
	if (!isfinite(d))
		return AIRI_EINVAL;
	if (d < 0) {
		out[o++] = '-';
		d = -d;
	}
	if (d < 9007199254740992.0 && d == (double)(uint64_t)d) {
		/* an exact integer below 2^53 is its own shortest form */
		o += snprintf(out + o, 32 - (size_t)o, "%llu",
			      (unsigned long long)(uint64_t)d);
		*len = (size_t)o;
		return 0;
	}
	locale_t old = uselocale(airi__c_locale());
	/* whether some k-digit decimal reads back as d is monotonic in k (the
	 * k-digit decimals are among the (k+1)-digit ones), so search k.
	 * Numbers that reach this point mostly need 16 or 17 digits (shorter
	 * literals take the fast path in airi__number_format_literal), so
	 * probe 16 and 15 first, then bisect below. */
	int found = 0, bestn = 0;
	char best[40];
	if (!try_k(d, 16, dig, &n)) {
		try_k(d, 17, dig, &n); /* 17 digits always read back */
		found = 17;
		memcpy(best, dig, 18);
		bestn = n;
	} else {
		found = 16;
		memcpy(best, dig, 17);
		bestn = n;
		int lo = 1, hi = 15;
		if (!try_k(d, 15, dig, &n))
			lo = hi + 1;
		else if (d >= DBL_MIN) {
			/* distinct decimals of at most 15 digits are distinct
			 * normal doubles (DBL_DIG): the 15-digit one without
			 * its trailing zeros is the shortest, no search needed */
			int k15 = 15;
			while (k15 > 1 && dig[k15 - 1] == '0')
				k15--;
			found = k15;
			memcpy(best, dig, (size_t)k15);
			best[k15] = 0;
			bestn = n;
			lo = hi + 1;
		} else {
			found = 15;
			memcpy(best, dig, 16);
			bestn = n;
			hi = 14;
		}
		while (lo <= hi) {
			int mid = (lo + hi) / 2;
			if (try_k(d, mid, dig, &n)) {
				memcpy(best, dig, (size_t)mid + 1);
				bestn = n;
				found = mid;
				hi = mid - 1;
			} else {
				lo = mid + 1;
			}
		}
	}
	uselocale(old);
	k = found;
	memcpy(dig, best, (size_t)k + 1);
	n = bestn;
	o = layout(out, o, dig, k, n);
	out[o] = 0;
	*len = (size_t)o;
	return 0;
}

/*
 * A literal with at most 15 significant digits in the normal range is
 * already the shortest round-trip form of its double: any two distinct
 * decimals of <= 15 digits map to distinct doubles (DBL_DIG), so no
 * shorter decimal can read back as the same double. Only the layout
 * changes (1.50 -> 1.5, 1E3 -> 1000, 0.0000001 -> 1e-7).
 */
int airi__number_format_literal(const char *raw, size_t rawn, double d,
				char out[32], size_t *len)
{
	char dig[40];
	int k = 0, point = 0, o = 0, seen_point = 0, lead = 1;
	size_t i = 0;
	long e = 0;
	if (d == 0 || rawn > 64)
		return airi__number_format(d, out, len);
	if (raw[0] == '-') {
		out[o++] = '-';
		i++;
	}
	for (; i < rawn && raw[i] != 'e' && raw[i] != 'E'; i++) {
		char c = raw[i];
		if (c == '.') {
			seen_point = 1;
			continue;
		}
		if (lead && c == '0') {
			if (seen_point)
				point--;
			continue;
		}
		lead = 0;
		if (k >= 17)
			return airi__number_format(d, out, len);
		dig[k++] = c;
		if (!seen_point)
			point++;
	}
	if (i < rawn) {
		int neg = 0;
		i++;
		if (raw[i] == '+' || raw[i] == '-')
			neg = raw[i++] == '-';
		if (rawn - i > 5)
			return airi__number_format(d, out, len);
		for (; i < rawn; i++)
			e = e * 10 + (raw[i] - '0');
		if (neg)
			e = -e;
	}
	while (k > 0 && dig[k - 1] == '0')
		k--;
	long n = point + e;
	if (k == 0 || k > 15 || n - 1 < -307 || n - 1 > 307)
		return airi__number_format(d, out, len);
	dig[k] = 0;
	o = layout(out, o, dig, k, (int)n);
	out[o] = 0;
	*len = (size_t)o;
	return 0;
}

/* ---- strings ------------------------------------------------------------ */

static const char hexd[] = "0123456789abcdef";

/* Escape needed for byte c, or 0. */
static inline int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static void put_escaped(sink *k, const char *s, size_t n)
{
	size_t i = 0, run = 0;
	sink_putc(k, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (!needs_escape(c)) {
			i++;
			continue;
		}
		sink_put(k, s + run, i - run);
		char e[6] = {'\\', 0, 0, 0, 0, 0};
		size_t en = 2;
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hexd[c >> 4];
			e[5] = hexd[c & 15];
			en = 6;
		}
		sink_put(k, e, en);
		i++;
		run = i;
	}
	sink_put(k, s + run, n - run);
	sink_putc(k, '"');
}

/* ---- tree walk ---------------------------------------------------------- */

static void put_value(sink *k, const airi_value *v)
{
	switch (v->type) {
	case AIRI_NULL: sink_put(k, "null", 4); break;
	case AIRI_TRUE: sink_put(k, "true", 4); break;
	case AIRI_FALSE: sink_put(k, "false", 5); break;
	case AIRI_NUMBER:
		if (v->flags & AIRI__NUM_RAW_CANON) {
			sink_put(k, v->u.num.raw, v->u.num.rawn);
		} else {
			char buf[32];
			size_t n;
			if (airi__number_format_literal(v->u.num.raw,
							v->u.num.rawn,
							v->u.num.d, buf, &n)) {
				if (!k->rc)
					k->rc = AIRI_EINVAL;
				return;
			}
			sink_put(k, buf, n);
		}
		break;
	case AIRI_STRING:
		if (v->flags & AIRI__STR_RAW_CANON) {
			sink_putc(k, '"');
			sink_put(k, v->u.s.raw, v->u.s.rawn);
			sink_putc(k, '"');
		} else {
			put_escaped(k, v->u.s.p, v->u.s.n);
		}
		break;
	case AIRI_ARRAY:
		sink_putc(k, '[');
		for (size_t i = 0; i < v->count; i++) {
			if (i)
				sink_putc(k, ',');
			put_value(k, &v->u.items[i]);
		}
		sink_putc(k, ']');
		break;
	case AIRI_OBJECT:
		sink_putc(k, '{');
		for (size_t i = 0; i < v->count; i++) {
			if (i)
				sink_putc(k, ',');
			put_value(k, &v->u.items[2 * i]);
			sink_putc(k, ':');
			put_value(k, &v->u.items[2 * i + 1]);
		}
		sink_putc(k, '}');
		break;
	}
}

/* The sink lives on the stack: a heap buffer per call (it was 64 KiB)
 * made every small digest a malloc and a free big enough to make glibc
 * consolidate its free lists, a third of the allocator time of the OTLP
 * receiver's event loop. */
int airi_canon_write(const airi_value *v, airi_write_fn fn, void *ctx)
{
	sink k;
	if (!v || !fn)
		return AIRI_EINVAL;
	k.fn = fn;
	k.ctx = ctx;
	k.rc = 0;
	k.n = 0;
	put_value(&k, v);
	sink_flush(&k);
	return k.rc;
}

int airi__canon_to_buf(const airi_value *v, airi__buf *b)
{
	return airi_canon_write(v, airi__buf_write_fn, b);
}

int airi_canon(const airi_value *v, char **out, size_t *len)
{
	airi__buf b;
	int rc;
	airi__buf_init(&b);
	rc = airi__canon_to_buf(v, &b);
	if (rc) {
		airi__buf_release(&b);
		return rc;
	}
	char *p = airi__buf_detach(&b, len);
	if (!p)
		return AIRI_ENOMEM;
	*out = p;
	return 0;
}

int airi__canon_string(airi__buf *b, const char *s, size_t n)
{
	/* printable ASCII without '"' or '\\' is written as it is: the
	 * common case (member names, ids, model names) without the sink */
	size_t i = 0;
	while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F &&
	       s[i] != '"' && s[i] != '\\')
		i++;
	if (i == n) {
		airi__buf_addc(b, '"');
		airi__buf_add(b, s, n);
		airi__buf_addc(b, '"');
		return b->failed ? AIRI_ENOMEM : 0;
	}
	return airi_canon_write(
		&(airi_value){.type = AIRI_STRING,
			      .u.s = {.p = s, .n = n, .raw = s, .rawn = n}},
		airi__buf_write_fn, b);
}

/* ---- digests ------------------------------------------------------------ */

static EVP_MD *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static void md_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md(void)
{
	pthread_once(&md_once, md_init);
	return sha256_md ? sha256_md : EVP_sha256();
}

/* SHA-256, fetched once: the implicit fetch of EVP_sha256() takes locks
 * on every use, which shows in profiles of many small digests. */
const EVP_MD *airi__sha256(void)
{
	return md();
}

static int sha_update(void *ctx, const void *data, size_t len)
{
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : AIRI_ENOMEM;
}

int airi_digest_value(const airi_value *v, airi_digest *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	int rc;
	if (!c)
		return AIRI_ENOMEM;
	if (EVP_DigestInit_ex(c, md(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return AIRI_ENOMEM;
	}
	rc = airi_canon_write(v, sha_update, c);
	if (!rc && EVP_DigestFinal_ex(c, out->bytes, &n) != 1)
		rc = AIRI_ENOMEM;
	EVP_MD_CTX_free(c);
	return rc;
}

int airi_digest_bytes(const void *data, size_t len, airi_digest *out)
{
	unsigned int n = 0;
	if (EVP_Digest(data, len, out->bytes, &n, md(), NULL) != 1)
		return AIRI_ENOMEM;
	return 0;
}

int airi__digest_buf(const airi__buf *b, airi_digest *out)
{
	return airi_digest_bytes(b->p ? b->p : "", b->n, out);
}

void airi_digest_format(const airi_digest *d, char out[AIRI_DIGEST_STRLEN])
{
	memcpy(out, "sha256:", 7);
	airi__hex(d->bytes, AIRI_DIGEST_SIZE, out + 7);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int airi_digest_parse(const char *s, airi_digest *out)
{
	if (!s)
		return AIRI_EINVAL;
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	if (strlen(s) != 64)
		return AIRI_EINVAL;
	for (int i = 0; i < 32; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return AIRI_EINVAL;
		out->bytes[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

int airi_digest_equal(const airi_digest *a, const airi_digest *b)
{
	return memcmp(a->bytes, b->bytes, AIRI_DIGEST_SIZE) == 0;
}
