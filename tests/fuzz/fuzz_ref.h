/*
 * fuzz_ref.h - small, independent reference code shared by the fuzz
 * targets: a strict I-JSON/RFC 8785 acceptance checker written from
 * docs/spec.md section 2 (not from lib/json.c), a string-literal decoder,
 * a UTF-8 validator, a UTF-16 code unit comparator, and an ECMAScript
 * Number::toString formatter. The targets compare libairi against these,
 * so a bug has to be made twice, independently, to go unnoticed.
 *
 * Everything here is static: each target includes this header once.
 */
#ifndef AIRI_FUZZ_REF_H
#define AIRI_FUZZ_REF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_DEPTH 1000

/* Aborts with a message: libFuzzer reports the input as a crash. */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

/*
 * Known bugs can be tolerated while they are open, so that a long run goes
 * on to find new ones: AIRI_FUZZ_ALLOW="NAME ..." in the environment. By
 * default nothing is tolerated. Names (see README.md, "Known bugs"):
 *  check-utf8:   airi_manifest_check() cuts a model name at 100 bytes
 *                inside a UTF-8 sequence, giving a report that is not
 *                valid UTF-8 (regress/manifest-check-reason-cut-utf8.json)
 *  canon-bigint: canonical bytes hold integers above 2^53 (1e20 is written
 *                100000000000000000000), which the parser then rejects
 *                (regress/json-canon-bigint-not-reparseable.json)
 */
static inline int allowed(const char *bug)
{
	const char *a = getenv("AIRI_FUZZ_ALLOW");
	size_t n = strlen(bug);
	for (const char *p = a; p && (p = strstr(p, bug)); p += n)
		if ((p == a || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return 1;
	return 0;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[i] (table of spec 2.1),
 * or 0. */
static inline size_t ref_utf8_len(const unsigned char *s, size_t i, size_t n)
{
	unsigned char c = s[i];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n - i < len)
		return 0;
	if (s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[i + k] < 0x80 || s[i + k] > 0xBF)
			return 0;
	return len;
}

static inline int ref_utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < n;) {
		size_t k = ref_utf8_len(s, i, n);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Decodes one scalar value from valid UTF-8. */
static inline uint32_t ref_utf8_decode(const unsigned char *s, size_t *i)
{
	uint32_t c = s[*i];
	size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (len == 1) {
		(*i)++;
		return c;
	}
	c &= len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07;
	for (size_t k = 1; k < len; k++)
		c = (c << 6) | (s[*i + k] & 0x3F);
	*i += len;
	return c;
}

/* The UTF-16 code units of the scalar value at s[*i] (valid UTF-8). */
static inline int ref_utf16_units(const unsigned char *s, size_t *i,
				  uint16_t u[2])
{
	uint32_t c = ref_utf8_decode(s, i);
	if (c < 0x10000) {
		u[0] = (uint16_t)c;
		return 1;
	}
	u[0] = (uint16_t)(0xD800 + ((c - 0x10000) >> 10));
	u[1] = (uint16_t)(0xDC00 + ((c - 0x10000) & 0x3FF));
	return 2;
}

/* Compares two valid UTF-8 strings as sequences of UTF-16 code units,
 * by expanding each code point into its units. */
static inline int ref_utf16_cmp(const char *a, size_t an, const char *b,
				size_t bn)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	size_t i = 0, j = 0;
	uint16_t ua[2], ub[2];
	int na = 0, nb = 0, pa = 0, pb = 0;
	for (;;) {
		if (pa == na) {
			if (i >= an)
				break;
			na = ref_utf16_units(x, &i, ua);
			pa = 0;
		}
		if (pb == nb) {
			if (j >= bn)
				return 1; /* b is a proper prefix of a */
			nb = ref_utf16_units(y, &j, ub);
			pb = 0;
		}
		if (ua[pa] != ub[pb])
			return ua[pa] < ub[pb] ? -1 : 1;
		pa++;
		pb++;
	}
	/* a is exhausted: equal only if b is too */
	return (pb < nb || j < bn) ? -1 : 0;
}

/* ---- string literals ---------------------------------------------------- */

static inline int ref_hex4(const unsigned char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++) {
		unsigned char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static inline size_t ref_put_utf8(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/*
 * Reads the string literal whose opening quote is at s[*i]. On success
 * returns 0, advances *i past the closing quote and, when out is not NULL,
 * stores the decoded bytes in a new buffer (*out, *outn; free()).
 */
static inline int ref_string(const unsigned char *s, size_t n, size_t *i,
			     char **out, size_t *outn)
{
	size_t k = *i + 1, o = 0;
	char *buf = NULL;
	if (out) {
		buf = malloc(n - *i + 1); /* decoding never grows */
		if (!buf)
			abort();
	}
	for (;;) {
		if (k >= n)
			goto bad;
		unsigned char c = s[k];
		if (c == '"')
			break;
		if (c < 0x20)
			goto bad;
		if (c >= 0x80) {
			size_t len = ref_utf8_len(s, k, n);
			if (!len)
				goto bad;
			if (buf)
				memcpy(buf + o, s + k, len);
			o += len;
			k += len;
			continue;
		}
		if (c != '\\') {
			if (buf)
				buf[o] = (char)c;
			o++;
			k++;
			continue;
		}
		if (k + 1 >= n)
			goto bad;
		unsigned char e = s[k + 1], d;
		k += 2;
		switch (e) {
		case '"': d = '"'; break;
		case '\\': d = '\\'; break;
		case '/': d = '/'; break;
		case 'b': d = 8; break;
		case 'f': d = 12; break;
		case 'n': d = 10; break;
		case 'r': d = 13; break;
		case 't': d = 9; break;
		case 'u': {
			uint32_t cp, lo;
			if (n - k < 4 || ref_hex4(s + k, &cp))
				goto bad;
			k += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				goto bad;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (n - k < 6 || s[k] != '\\' ||
				    s[k + 1] != 'u' ||
				    ref_hex4(s + k + 2, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					goto bad;
				k += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
			}
			char tmp[4];
			size_t tl = ref_put_utf8(tmp, cp);
			if (buf)
				memcpy(buf + o, tmp, tl);
			o += tl;
			continue;
		}
		default:
			goto bad;
		}
		if (buf)
			buf[o] = (char)d;
		o++;
	}
	*i = k + 1;
	if (out) {
		buf[o] = 0;
		*out = buf;
		*outn = o;
	}
	return 0;
bad:
	free(buf);
	return -1;
}

/* ---- numbers ------------------------------------------------------------ */

/* Length of the number literal at s[i] by the RFC 8259 grammar, or 0. Sets
 * *is_int when it has neither fraction nor exponent. */
static inline size_t ref_number_len(const unsigned char *s, size_t i,
				    size_t n, int *is_int)
{
	size_t k = i;
	*is_int = 1;
	if (k < n && s[k] == '-')
		k++;
	if (k >= n || s[k] < '0' || s[k] > '9')
		return 0;
	if (s[k] == '0')
		k++;
	else
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	if (k < n && s[k] == '.') {
		*is_int = 0;
		k++;
		if (k >= n || s[k] < '0' || s[k] > '9')
			return 0;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	}
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		*is_int = 0;
		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k >= n || s[k] < '0' || s[k] > '9')
			return 0;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	}
	return k - i;
}

/* The double a literal reads as (correctly rounded, glibc strtod). */
static inline double ref_number_value(const unsigned char *s, size_t len)
{
	char small[64], *b = len < sizeof(small) ? small : malloc(len + 1);
	if (!b)
		abort();
	memcpy(b, s, len);
	b[len] = 0;
	double d = strtod(b, NULL);
	if (b != small)
		free(b);
	return d;
}

/* Is the literal acceptable: not overflowing, an integer literal not
 * above 2^53 in magnitude (decided on its digits). */
static inline int ref_number_ok(const unsigned char *s, size_t len,
				int is_int)
{
	if (is_int) {
		size_t k = s[0] == '-';
		size_t nd = len - k;
		if (nd > 16)
			return 0;
		if (nd == 16 && memcmp(s + k, "9007199254740992", 16) > 0)
			return 0;
		return 1;
	}
	return !isinf(ref_number_value(s, len));
}

/*
 * ECMAScript Number::toString(d), written the slow, obvious way: for
 * k = 1, 2, ... take the correctly rounded k-digit decimal (printf %.*e) and
 * its two neighbours, keep those that read back as d, and take the one
 * closest to d (the correctly rounded one when it qualifies). Then lay the
 * digits out by the rules of ECMA-262 Number::toString.
 */
static inline void ref_number_format(double d, char out[40])
{
	char buf[64], dig[24], best[24];
	int o = 0, k, n = 0;
	if (d == 0) {
		strcpy(out, "0");
		return;
	}
	if (d < 0) {
		out[o++] = '-';
		d = -d;
	}
	for (k = 1; k <= 17; k++) {
		int e;
		snprintf(buf, sizeof(buf), "%.*e", k - 1, d);
		/* buf: D[.DDD]e[+-]XX */
		int j = 0;
		char *p = buf;
		for (; *p != 'e'; p++)
			if (*p != '.')
				dig[j++] = *p;
		dig[j] = 0;
		e = atoi(p + 1);
		snprintf(buf, sizeof(buf), "%se%d", dig, e - (k - 1));
		if (strtod(buf, NULL) == d) {
			memcpy(best, dig, (size_t)k + 1);
			n = e + 1;
			break;
		}
		/* neighbours: dig +/- 1 in the last place; below 10..0 the
		 * next k-digit decimal is 99..9 one decade down, above 99..9
		 * it is 10..0 one decade up */
		int found = 0;
		unsigned long long v = strtoull(dig, NULL, 10), p10 = 1;
		for (int z = 1; z < k; z++)
			p10 *= 10;
		for (int dir = -1; dir <= 1 && !found; dir += 2) {
			char alt[24];
			int ae = e;
			if (dir < 0 && v == p10) {
				memset(alt, '9', (size_t)k);
				alt[k] = 0;
				ae = e - 1;
			} else if (dir > 0 && v == 10 * p10 - 1) {
				alt[0] = '1';
				memset(alt + 1, '0', (size_t)k - 1);
				alt[k] = 0;
				ae = e + 1;
			} else {
				snprintf(alt, sizeof(alt), "%llu",
					 dir < 0 ? v - 1 : v + 1);
			}
			snprintf(buf, sizeof(buf), "%se%d", alt, ae - (k - 1));
			if (strtod(buf, NULL) == d) {
				memcpy(best, alt, (size_t)k + 1);
				n = ae + 1;
				found = 1;
			}
		}
		if (found)
			break;
	}
	if (k > 17)
		abort(); /* 17 digits always read back */
	/* strip trailing zeros (a neighbour can end in 0) */
	while (k > 1 && best[k - 1] == '0')
		k--;
	best[k] = 0;
	if (k <= n && n <= 21) {
		o += sprintf(out + o, "%s", best);
		for (int z = 0; z < n - k; z++)
			out[o++] = '0';
	} else if (0 < n && n <= 21) {
		o += sprintf(out + o, "%.*s.%s", n, best, best + n);
	} else if (-6 < n && n <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int z = 0; z < -n; z++)
			out[o++] = '0';
		o += sprintf(out + o, "%s", best);
	} else {
		out[o++] = best[0];
		if (k > 1)
			o += sprintf(out + o, ".%s", best + 1);
		o += sprintf(out + o, "e%c%d", n - 1 < 0 ? '-' : '+',
			     n - 1 < 0 ? 1 - n : n - 1);
	}
	out[o] = 0;
}

/* ---- canonical strings -------------------------------------------------- */

/* RFC 8785 string form of decoded UTF-8 bytes (new buffer, free()). */
static inline char *ref_canon_string(const char *s, size_t n,
				     size_t *outn)
{
	char *o = malloc(6 * n + 3);
	size_t k = 0;
	if (!o)
		abort();
	o[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': o[k++] = '\\'; o[k++] = '"'; break;
		case '\\': o[k++] = '\\'; o[k++] = '\\'; break;
		case 8: o[k++] = '\\'; o[k++] = 'b'; break;
		case 12: o[k++] = '\\'; o[k++] = 'f'; break;
		case 10: o[k++] = '\\'; o[k++] = 'n'; break;
		case 13: o[k++] = '\\'; o[k++] = 'r'; break;
		case 9: o[k++] = '\\'; o[k++] = 't'; break;
		default:
			if (c < 0x20)
				k += (size_t)sprintf(o + k, "\\u%04x", c);
			else
				o[k++] = (char)c;
		}
	}
	o[k++] = '"';
	o[k] = 0;
	*outn = k;
	return o;
}

/* ---- acceptance --------------------------------------------------------- */

typedef struct ref_key {
	char *p;
	size_t n;
} ref_key;

static inline int ref_key_cmp(const void *a, const void *b)
{
	const ref_key *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->p, y->p, x->n);
}

static inline void ref_ws(const unsigned char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' ||
			  s[*i] == '\r'))
		(*i)++;
}

static inline int ref_value(const unsigned char *s, size_t n, size_t *i,
			    int depth);

static inline int ref_object(const unsigned char *s, size_t n, size_t *i,
			     int depth)
{
	ref_key *keys = NULL;
	size_t nk = 0, cap = 0;
	int ok = 0;
	(*i)++;
	ref_ws(s, n, i);
	if (*i < n && s[*i] == '}') {
		(*i)++;
		return 0;
	}
	for (;;) {
		ref_key k;
		ref_ws(s, n, i);
		if (*i >= n || s[*i] != '"' || ref_string(s, n, i, &k.p, &k.n))
			goto out;
		if (nk == cap) {
			cap = cap ? 2 * cap : 8;
			ref_key *nkeys = realloc(keys, cap * sizeof(*keys));
			if (!nkeys)
				abort();
			keys = nkeys;
		}
		keys[nk++] = k;
		ref_ws(s, n, i);
		if (*i >= n || s[*i] != ':')
			goto out;
		(*i)++;
		if (ref_value(s, n, i, depth))
			goto out;
		ref_ws(s, n, i);
		if (*i < n && s[*i] == ',') {
			(*i)++;
			continue;
		}
		if (*i < n && s[*i] == '}') {
			(*i)++;
			break;
		}
		goto out;
	}
	qsort(keys, nk, sizeof(*keys), ref_key_cmp);
	ok = 1;
	for (size_t k = 1; k < nk; k++)
		if (!ref_key_cmp(&keys[k - 1], &keys[k]))
			ok = 0;
out:
	for (size_t k = 0; k < nk; k++)
		free(keys[k].p);
	free(keys);
	return ok ? 0 : -1;
}

static inline int ref_array(const unsigned char *s, size_t n, size_t *i,
			    int depth)
{
	(*i)++;
	ref_ws(s, n, i);
	if (*i < n && s[*i] == ']') {
		(*i)++;
		return 0;
	}
	for (;;) {
		if (ref_value(s, n, i, depth))
			return -1;
		ref_ws(s, n, i);
		if (*i < n && s[*i] == ',') {
			(*i)++;
			continue;
		}
		if (*i < n && s[*i] == ']') {
			(*i)++;
			return 0;
		}
		return -1;
	}
}

/* depth: containers open around this value */
static inline int ref_value(const unsigned char *s, size_t n, size_t *i,
			    int depth)
{
	ref_ws(s, n, i);
	if (*i >= n)
		return -1;
	switch (s[*i]) {
	case '{':
		if (depth + 1 > REF_MAX_DEPTH)
			return -1;
		return ref_object(s, n, i, depth + 1);
	case '[':
		if (depth + 1 > REF_MAX_DEPTH)
			return -1;
		return ref_array(s, n, i, depth + 1);
	case '"':
		return ref_string(s, n, i, NULL, NULL);
	case 't':
		if (n - *i >= 4 && !memcmp(s + *i, "true", 4)) {
			*i += 4;
			return 0;
		}
		return -1;
	case 'f':
		if (n - *i >= 5 && !memcmp(s + *i, "false", 5)) {
			*i += 5;
			return 0;
		}
		return -1;
	case 'n':
		if (n - *i >= 4 && !memcmp(s + *i, "null", 4)) {
			*i += 4;
			return 0;
		}
		return -1;
	default: {
		int is_int;
		size_t len = ref_number_len(s, *i, n, &is_int);
		if (!len || !ref_number_ok(s + *i, len, is_int))
			return -1;
		*i += len;
		return 0;
	}
	}
}

/* 1 when the text is accepted JSON under docs/spec.md section 2. */
static inline int ref_accepts(const unsigned char *s, size_t n)
{
	size_t i = 0;
	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		return 0;
	if (ref_value(s, n, &i, 0))
		return 0;
	ref_ws(s, n, &i);
	return i == n;
}

#endif /* AIRI_FUZZ_REF_H */
