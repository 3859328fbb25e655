/*
 * json.c - the JSON parser: RFC 8259 text into an immutable tree, enforcing
 * the I-JSON (RFC 7493) restrictions that RFC 8785 canonicalization needs.
 *
 * Why not jansson: identity must be exact to the byte and errors must name
 * the JSON Pointer of the offending value; the input of a run can be
 * hundreds of megabytes and must be hashed at close to SHA-256 speed. So the
 * parser keeps every string as a span of the source (decoding only strings
 * that contain escapes), remembers whether that span is already canonical,
 * sorts object members once by UTF-16 code units, and reports the first
 * problem with byte offset, line, column and pointer.
 *
 * Nodes live in an arena owned by the document; children of a container are
 * collected on a scratch stack and copied into one contiguous block when the
 * container closes, so a document is a few large allocations.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- arena -------------------------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct lazybuf {
	struct lazybuf *next;
	char data[];
};

struct airi_json {
	struct chunk *chunks;
	size_t next_cap;      /* of the next chunk: grows to ARENA_MAX */
	struct lazybuf *lazy; /* strings decoded on first access */
	airi_value root;
};

/* The arena starts at about the input's size and doubles up to 1 MiB per
 * chunk: a fixed 1 MiB first chunk cost every small document (an OTLP
 * attribute, a proxy request) an mmap, page faults and an munmap. */
#define ARENA_MIN 2048
#define ARENA_MAX ((size_t)1 << 20)

/* Guards lazy decoding in every document; held only while decoding. */
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

static void *arena_alloc(airi_json *doc, size_t n)
{
	struct chunk *c = doc->chunks;
	n = (n + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < n) {
		size_t want = doc->next_cap ? doc->next_cap : ARENA_MAX;
		size_t cap = n > want ? n : want;
		doc->next_cap = want >= ARENA_MAX / 2 ? ARENA_MAX : want * 2;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = doc->chunks;
		doc->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

void airi_json_free(airi_json *doc)
{
	if (!doc)
		return;
	struct lazybuf *l = doc->lazy;
	while (l) {
		struct lazybuf *next = l->next;
		free(l);
		l = next;
	}
	struct chunk *c = doc->chunks;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(doc);
}

/* ---- UTF-16 order ------------------------------------------------------- */

/* Decodes one code point from valid UTF-8. */
static uint32_t utf8_next(const unsigned char *s, size_t *i)
{
	uint32_t c = s[*i];
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c < 0xE0) {
		c = ((c & 0x1F) << 6) | (s[*i + 1] & 0x3F);
		*i += 2;
	} else if (c < 0xF0) {
		c = ((c & 0x0F) << 12) | ((s[*i + 1] & 0x3Fu) << 6) |
		    (s[*i + 2] & 0x3F);
		*i += 3;
	} else {
		c = ((c & 0x07) << 18) | ((s[*i + 1] & 0x3Fu) << 12) |
		    ((s[*i + 2] & 0x3Fu) << 6) | (s[*i + 3] & 0x3F);
		*i += 4;
	}
	return c;
}

/*
 * How it works: UTF-8 byte order equals code point order, and code point
 * order equals UTF-16 code unit order except that supplementary characters
 * (encoded as surrogates 0xD800..0xDFFF) sort below U+E000..U+FFFF in
 * UTF-16. So compare code points, and when they differ map each to its first
 * UTF-16 unit; two supplementary characters with the same high surrogate
 * compare like their code points (the low surrogates are in the same order).
 */
int airi__utf16_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	size_t i = 0, j = 0;
	while (i < an && j < bn) {
		if (x[i] == y[j] && x[i] < 0x80) {
			i++;
			j++;
			continue;
		}
		uint32_t c = utf8_next(x, &i), d = utf8_next(y, &j);
		if (c == d)
			continue;
		uint32_t cu = c < 0x10000 ? c : 0xD800 + ((c - 0x10000) >> 10);
		uint32_t du = d < 0x10000 ? d : 0xD800 + ((d - 0x10000) >> 10);
		if (cu != du)
			return cu < du ? -1 : 1;
		return c < d ? -1 : 1;
	}
	if (i < an)
		return 1;
	if (j < bn)
		return -1;
	return 0;
}

/* ---- parser ------------------------------------------------------------- */

struct frame {
	const char *key; /* object member name being parsed, or NULL */
	size_t keylen;
	size_t index; /* array element being parsed */
	int is_obj;
};

typedef struct parser {
	const unsigned char *s;
	size_t n, i;
	airi_json *doc;
	airi_error *err;
	airi_value *stack; /* scratch for children of open containers */
	size_t sn, scap;
	int depth;
	unsigned flags; /* AIRI__PARSE_* */
	struct frame frames[AIRI_JSON_MAX_DEPTH + 2];
} parser;

static void build_pointer(parser *p, int depth, char *out, size_t cap)
{
	out[0] = 0;
	for (int d = 1; d <= depth; d++) {
		struct frame *f = &p->frames[d];
		if (f->is_obj) {
			if (!f->key)
				break;
			airi__pointer_append(out, cap, f->key, f->keylen);
		} else {
			char num[32];
			int k = snprintf(num, sizeof(num), "%zu", f->index);
			airi__pointer_append(out, cap, num, (size_t)k);
		}
	}
}

/* Fails at byte `at`; the message gets " at POINTER" unless at the root. */
static int fail_ptr(parser *p, size_t at, int depth, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_ptr(parser *p, size_t at, int depth, const char *fmt, ...)
{
	airi_error *err = p->err;
	if (!err)
		return AIRI_EJSON;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(err, 0, sizeof(*err));
	err->code = AIRI_EJSON;
	build_pointer(p, depth, err->pointer, sizeof(err->pointer));
	err->has_pointer = 1;
	if (err->pointer[0])
		snprintf(err->message, sizeof(err->message), "%s at %s", msg,
			 err->pointer);
	else
		snprintf(err->message, sizeof(err->message), "%s", msg);
	airi__err_at(err, (const char *)p->s, p->n, at);
	return AIRI_EJSON;
}

#define FAIL(p, at, ...) fail_ptr((p), (at), (p)->depth, __VA_ARGS__)
/* for errors in the container's own syntax: the pointer names it */
#define FAIL_HERE(p, at, ...) fail_ptr((p), (at), (p)->depth - 1, __VA_ARGS__)

static int push(parser *p, const airi_value *v)
{
	if (p->sn == p->scap) {
		size_t cap = p->scap ? p->scap * 2 : 256;
		airi_value *s = realloc(p->stack, cap * sizeof(*s));
		if (!s)
			return airi__err(p->err, AIRI_ENOMEM,
					 "out of memory while parsing");
		p->stack = s;
		p->scap = cap;
	}
	p->stack[p->sn++] = *v;
	return 0;
}

static inline void skip_ws(parser *p)
{
	while (p->i < p->n) {
		unsigned char c = p->s[p->i];
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			break;
		p->i++;
	}
}

/* Length of a valid UTF-8 sequence at s[i], or 0 if invalid (RFC 3629). */
static size_t utf8_valid(const unsigned char *s, size_t i, size_t n)
{
	unsigned char c = s[i];
	size_t left = n - i;
	if (c >= 0xC2 && c <= 0xDF) {
		if (left >= 2 && (s[i + 1] & 0xC0) == 0x80)
			return 2;
		return 0;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		if (c == 0xED)
			hi = 0x9F; /* surrogates */
		if (left >= 3 && s[i + 1] >= lo && s[i + 1] <= hi &&
		    (s[i + 2] & 0xC0) == 0x80)
			return 3;
		return 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
		if (left >= 4 && s[i + 1] >= lo && s[i + 1] <= hi &&
		    (s[i + 2] & 0xC0) == 0x80 && (s[i + 3] & 0xC0) == 0x80)
			return 4;
		return 0;
	}
	return 0;
}

int airi__utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = u[i] < 0x80 ? 1 : utf8_valid(u, i, n);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

static int fail_utf8(parser *p, size_t at)
{
	const unsigned char *s = p->s;
	unsigned char c = s[at];
	const char *why = "invalid UTF-8";
	if (c >= 0x80 && c <= 0xBF)
		why = "invalid UTF-8 (unexpected continuation byte)";
	else if (c == 0xC0 || c == 0xC1)
		why = "invalid UTF-8 (overlong encoding)";
	else if (c >= 0xF5)
		why = "invalid UTF-8 (byte never used in UTF-8)";
	else if (c == 0xE0 && at + 1 < p->n && s[at + 1] >= 0x80 &&
		 s[at + 1] < 0xA0)
		why = "invalid UTF-8 (overlong encoding)";
	else if (c == 0xF0 && at + 1 < p->n && s[at + 1] >= 0x80 &&
		 s[at + 1] < 0x90)
		why = "invalid UTF-8 (overlong encoding)";
	else if (c == 0xED && at + 1 < p->n && s[at + 1] >= 0xA0 &&
		 s[at + 1] <= 0xBF)
		why = "invalid UTF-8 (encoded surrogate)";
	else if (c == 0xF4 && at + 1 < p->n && s[at + 1] >= 0x90 &&
		 s[at + 1] <= 0xBF)
		why = "invalid UTF-8 (code point above U+10FFFF)";
	else
		why = "invalid UTF-8 (truncated sequence)";
	return FAIL(p, at, "%s: byte 0x%02X in string", why, c);
}

static int hex4(const unsigned char *s, uint32_t *out, int *lower)
{
	uint32_t v = 0;
	*lower = 1;
	for (int k = 0; k < 4; k++) {
		unsigned char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') {
			v |= c - 'A' + 10;
			*lower = 0;
		} else
			return -1;
	}
	*out = v;
	return 0;
}

/* Finds the next byte in a string that needs attention: '"', '\\', a control
 * character or a non-ASCII byte. */
static inline size_t scan_plain(const unsigned char *s, size_t i, size_t n)
{
#ifdef __SSE2__
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i ctl = _mm_set1_epi8(0x1F);
	while (i + 16 <= n) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
		__m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, q),
					 _mm_cmpeq_epi8(x, bs));
		m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
		int mask = _mm_movemask_epi8(m) | _mm_movemask_epi8(x);
		if (mask)
			return i + (size_t)__builtin_ctz((unsigned)mask);
		i += 16;
	}
#endif
	while (i < n) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
			return i;
		i++;
	}
	return n;
}

static void put_utf8(char *out, size_t *o, uint32_t c)
{
	if (c < 0x80) {
		out[(*o)++] = (char)c;
	} else if (c < 0x800) {
		out[(*o)++] = (char)(0xC0 | (c >> 6));
		out[(*o)++] = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		out[(*o)++] = (char)(0xE0 | (c >> 12));
		out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (c & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | (c >> 18));
		out[(*o)++] = (char)(0x80 | ((c >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (c & 0x3F));
	}
}

/* Decodes a validated raw string span with escapes. */
static void decode_escapes(const unsigned char *s, size_t n, char *out,
			   size_t *outn)
{
	size_t i = 0, o = 0;
	while (i < n) {
		const unsigned char *bsl = memchr(s + i, '\\', n - i);
		size_t run = bsl ? (size_t)(bsl - (s + i)) : n - i;
		memcpy(out + o, s + i, run);
		o += run;
		i += run;
		if (i >= n)
			break;
		unsigned char e = s[i + 1];
		i += 2;
		switch (e) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		default: { /* 'u' */
			uint32_t c, lo;
			int lower;
			hex4(s + i, &c, &lower);
			i += 4;
			if (c >= 0xD800 && c <= 0xDBFF) {
				hex4(s + i + 2, &lo, &lower);
				i += 6;
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			}
			put_utf8(out, &o, c);
		}
		}
	}
	*outn = o;
}

static int parse_string(parser *p, airi_value *v, int is_key)
{
	const unsigned char *s = p->s;
	size_t n = p->n, start = p->i + 1, i = start;
	int has_esc = 0, canon = 1;
	size_t shrink = 0; /* raw bytes minus decoded bytes */
	v->type = AIRI_STRING;
	v->offset = p->i;
	for (;;) {
		i = scan_plain(s, i, n);
		if (i >= n)
			return FAIL(p, p->i, "unterminated string");
		unsigned char c = s[i];
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t k = utf8_valid(s, i, n);
			if (!k)
				return fail_utf8(p, i);
			i += k;
			continue;
		}
		if (c < 0x20)
			return FAIL(p, i,
				    "control character U+%04X must be escaped "
				    "in a string",
				    c);
		/* backslash */
		has_esc = 1;
		if (i + 1 >= n)
			return FAIL(p, p->i, "unterminated string");
		unsigned char e = s[i + 1];
		switch (e) {
		case '"': case '\\': case 'b': case 'f': case 'n': case 'r':
		case 't':
			i += 2;
			shrink += 1;
			break;
		case '/':
			canon = 0;
			i += 2;
			break;
		case 'u': {
			uint32_t cp;
			int lower;
			if (i + 6 > n || hex4(s + i + 2, &cp, &lower))
				return FAIL(p, i,
					    "invalid \\u escape (expected 4 hex "
					    "digits)");
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return FAIL(p, i,
					    "unpaired surrogate \\u%04X (low "
					    "surrogate without a high one)",
					    cp);
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				uint32_t lo;
				int l2;
				if (i + 12 > n || s[i + 6] != '\\' ||
				    s[i + 7] != 'u' ||
				    hex4(s + i + 8, &lo, &l2) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					return FAIL(p, i,
						    "unpaired surrogate \\u%04X "
						    "(high surrogate not followed "
						    "by a low one)",
						    cp);
				canon = 0;
				i += 12;
				break;
			}
			if (!(cp < 0x20 && lower && cp != 8 && cp != 9 &&
			      cp != 10 && cp != 12 && cp != 13))
				canon = 0;
			shrink += 5; /* exact for the canonical (< 0x20) case */
			i += 6;
			break;
		}
		default:
			return FAIL(p, i, "invalid escape \\%c in string",
				    (e >= 0x20 && e < 0x7F) ? e : '?');
		}
	}
	v->u.s.raw = (const char *)s + start;
	v->u.s.rawn = i - start;
	if (has_esc && canon && !is_key) {
		/* decoded only if someone asks: canonical output and digests
		 * use the raw span */
		v->u.s.p = (const char *)p->doc;
		v->u.s.n = v->u.s.rawn - shrink;
		v->flags = AIRI__STR_RAW_CANON | AIRI__STR_LAZY;
		p->i = i + 1;
		return 0;
	}
	if (has_esc) {
		char *out = arena_alloc(p->doc, v->u.s.rawn + 1);
		size_t on;
		if (!out)
			return airi__err(p->err, AIRI_ENOMEM,
					 "out of memory while parsing");
		decode_escapes(s + start, v->u.s.rawn, out, &on);
		out[on] = 0;
		v->u.s.p = out;
		v->u.s.n = on;
	} else {
		v->u.s.p = v->u.s.raw;
		v->u.s.n = v->u.s.rawn;
	}
	v->flags = canon ? AIRI__STR_RAW_CANON : 0;
	p->i = i + 1;
	return 0;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t airi__c_locale(void);
locale_t airi__c_locale(void)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale;
}

static int parse_number(parser *p, airi_value *v)
{
	const unsigned char *s = p->s;
	size_t n = p->n, i = p->i, start = p->i, intd = 0;
	int neg = 0, frac = 0, exp = 0;
	v->type = AIRI_NUMBER;
	v->offset = start;
	if (s[i] == '-') {
		neg = 1;
		i++;
		if (i < n && (s[i] == 'I' || s[i] == 'i'))
			return FAIL(p, start,
				    "Infinity is not allowed (not a JSON "
				    "number)");
	}
	if (i >= n || s[i] < '0' || s[i] > '9')
		return FAIL(p, start, "invalid number: expected a digit");
	if (s[i] == '0') {
		i++;
		intd = 1;
		if (i < n && s[i] >= '0' && s[i] <= '9')
			return FAIL(p, start,
				    "invalid number: leading zeros are not "
				    "allowed");
	} else {
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			intd++;
		}
	}
	if (i < n && s[i] == '.') {
		frac = 1;
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return FAIL(p, start,
				    "invalid number: expected a digit after "
				    "'.'");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		exp = 1;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return FAIL(p, start,
				    "invalid number: expected a digit in the "
				    "exponent");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	v->u.num.raw = (const char *)s + start;
	v->u.num.rawn = i - start;
	if (!frac && !exp) {
		const unsigned char *d = s + start + neg;
		int big = intd > 16 ||
			  (intd == 16 && memcmp(d, "9007199254740992", 16) > 0);
		if (big && (p->flags & AIRI__PARSE_CANONICAL))
			goto as_double; /* canonical output of a large double */
		if (big)
			return FAIL(p, start,
				    "integer %.*s%s exceeds 2^53 in magnitude "
				    "(I-JSON); write it as a string or with "
				    "an exponent",
				    (int)(v->u.num.rawn > 40 ? 40
							     : v->u.num.rawn),
				    v->u.num.raw,
				    v->u.num.rawn > 40 ? "..." : "");
		uint64_t u = 0;
		for (size_t k = 0; k < intd; k++)
			u = u * 10 + (uint64_t)(d[k] - '0');
		v->u.num.d = neg ? -(double)u : (double)u;
		v->flags = (neg && u == 0) ? 0 : AIRI__NUM_RAW_CANON;
	} else {
	as_double:;
		char small[128], *buf = small;
		size_t len = i - start;
		if (len >= sizeof(small)) {
			buf = malloc(len + 1);
			if (!buf)
				return airi__err(p->err, AIRI_ENOMEM,
						 "out of memory while parsing");
		}
		memcpy(buf, s + start, len);
		buf[len] = 0;
		double d = strtod_l(buf, NULL, airi__c_locale());
		if (buf != small)
			free(buf);
		if (isinf(d))
			return FAIL(p, start,
				    "number %.*s%s overflows a double",
				    (int)(len > 40 ? 40 : len),
				    (const char *)s + start,
				    len > 40 ? "..." : "");
		v->u.num.d = d;
		v->flags = 0;
	}
	p->i = i;
	return 0;
}

static int parse_value(parser *p, airi_value *v);

static int open_container(parser *p, int is_obj)
{
	if (p->depth >= AIRI_JSON_MAX_DEPTH)
		return FAIL(p, p->i, "nesting deeper than %d levels",
			    AIRI_JSON_MAX_DEPTH);
	p->depth++;
	struct frame *f = &p->frames[p->depth];
	f->is_obj = is_obj;
	f->key = NULL;
	f->keylen = 0;
	f->index = 0;
	p->i++;
	return 0;
}

static int close_container(parser *p, airi_value *v, size_t base, int is_obj)
{
	size_t nv = p->sn - base;
	size_t count = is_obj ? nv / 2 : nv;
	if (count > UINT32_MAX)
		return FAIL(p, v->offset, "container has too many members");
	v->count = (uint32_t)count;
	v->u.items = NULL;
	if (nv) {
		v->u.items = arena_alloc(p->doc, nv * sizeof(airi_value));
		if (!v->u.items)
			return airi__err(p->err, AIRI_ENOMEM,
					 "out of memory while parsing");
		memcpy(v->u.items, p->stack + base, nv * sizeof(airi_value));
	}
	p->sn = base;
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	const airi_value *x = a, *y = b;
	int c = airi__utf16_cmp(x->u.s.p, x->u.s.n, y->u.s.p, y->u.s.n);
	if (c)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int sort_members(parser *p, airi_value *obj)
{
	airi_value *m = obj->u.items;
	size_t n = obj->count;
	int sorted = 1;
	for (size_t k = 1; k < n && sorted; k++)
		if (member_cmp(&m[2 * (k - 1)], &m[2 * k]) > 0)
			sorted = 0;
	if (!sorted)
		qsort(m, n, 2 * sizeof(airi_value), member_cmp);
	/* the duplicate reported is the one that appears first in the text */
	size_t dup = SIZE_MAX;
	const airi_value *dk = NULL;
	for (size_t k = 1; k < n; k++) {
		const airi_value *a = &m[2 * (k - 1)], *b = &m[2 * k];
		if (a->u.s.n == b->u.s.n &&
		    memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0 &&
		    b->offset < dup) {
			dup = b->offset;
			dk = b;
		}
	}
	if (dk) {
		/* the message names the object (not "at"), so it is written
		 * here rather than by fail_ptr() */
		char ptr[512];
		size_t kn = dk->u.s.n > 200 ? 200 : dk->u.s.n;
		while (kn > 0 && kn < dk->u.s.n &&
		       ((unsigned char)dk->u.s.p[kn] & 0xC0) == 0x80)
			kn--; /* cut at a character boundary */
		airi__buf kb;
		airi__buf_init(&kb);
		airi__canon_string(&kb, dk->u.s.p, kn);
		build_pointer(p, p->depth, ptr, sizeof(ptr));
		airi__err(p->err, AIRI_EJSON, "duplicate key %s in %s",
			  kb.p ? kb.p : "?", ptr[0] ? ptr : "the top-level object");
		if (p->err) {
			snprintf(p->err->pointer, sizeof(p->err->pointer), "%s",
				 ptr);
			p->err->has_pointer = 1;
			airi__err_at(p->err, (const char *)p->s, p->n, dup);
		}
		airi__buf_release(&kb);
		return AIRI_EJSON;
	}
	return 0;
}

static int parse_object(parser *p, airi_value *v)
{
	size_t base = p->sn;
	int rc;
	v->type = AIRI_OBJECT;
	v->offset = p->i;
	v->flags = 0;
	if ((rc = open_container(p, 1)))
		return rc;
	struct frame *f = &p->frames[p->depth];
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == '}') {
		p->i++;
		p->depth--;
		return close_container(p, v, base, 1);
	}
	for (;;) {
		airi_value k, val;
		f->key = NULL;
		skip_ws(p);
		if (p->i >= p->n)
			return FAIL(p, p->i,
				    "unexpected end of input in object "
				    "(expected a member name)");
		if (p->s[p->i] != '"')
			return FAIL(p, p->i,
				    "expected a member name (a string) in "
				    "object");
		f->key = NULL;
		if ((rc = parse_string(p, &k, 1)))
			return rc;
		f->key = k.u.s.p;
		f->keylen = k.u.s.n;
		skip_ws(p);
		if (p->i >= p->n || p->s[p->i] != ':')
			return FAIL(p, p->i, "expected ':' after member name");
		p->i++;
		if ((rc = parse_value(p, &val)))
			return rc;
		if ((rc = push(p, &k)) || (rc = push(p, &val)))
			return rc;
		skip_ws(p);
		if (p->i >= p->n)
			return FAIL_HERE(p, p->i,
				    "unexpected end of input in object "
				    "(expected ',' or '}')");
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == '}') {
			p->i++;
			break;
		}
		return FAIL_HERE(p, p->i, "expected ',' or '}' in object");
	}
	f->key = NULL;
	if ((rc = close_container(p, v, base, 1)))
		return rc;
	p->depth--;
	rc = sort_members(p, v);
	return rc;
}

static int parse_array(parser *p, airi_value *v)
{
	size_t base = p->sn;
	int rc;
	v->type = AIRI_ARRAY;
	v->offset = p->i;
	v->flags = 0;
	if ((rc = open_container(p, 0)))
		return rc;
	struct frame *f = &p->frames[p->depth];
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == ']') {
		p->i++;
		p->depth--;
		return close_container(p, v, base, 0);
	}
	for (;;) {
		airi_value el;
		if ((rc = parse_value(p, &el)))
			return rc;
		if ((rc = push(p, &el)))
			return rc;
		skip_ws(p);
		if (p->i >= p->n)
			return FAIL_HERE(p, p->i,
				    "unexpected end of input in array "
				    "(expected ',' or ']')");
		if (p->s[p->i] == ',') {
			p->i++;
			f->index++;
			continue;
		}
		if (p->s[p->i] == ']') {
			p->i++;
			break;
		}
		return FAIL_HERE(p, p->i, "expected ',' or ']' in array");
	}
	p->depth--;
	return close_container(p, v, base, 0);
}

static int literal(parser *p, airi_value *v, const char *word, airi_type t)
{
	size_t len = strlen(word);
	v->type = (uint8_t)t;
	v->offset = p->i;
	v->flags = 0;
	v->count = 0;
	if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
		return FAIL(p, p->i, "invalid literal (expected %s)", word);
	p->i += len;
	return 0;
}

static int parse_value(parser *p, airi_value *v)
{
	memset(v, 0, sizeof(*v));
	skip_ws(p);
	if (p->i >= p->n)
		return FAIL(p, p->i, "unexpected end of input (expected a "
				     "value)");
	unsigned char c = p->s[p->i];
	switch (c) {
	case '{': return parse_object(p, v);
	case '[': return parse_array(p, v);
	case '"': return parse_string(p, v, 0);
	case 't': return literal(p, v, "true", AIRI_TRUE);
	case 'f': return literal(p, v, "false", AIRI_FALSE);
	case 'n': return literal(p, v, "null", AIRI_NULL);
	case '-': case '0': case '1': case '2': case '3': case '4': case '5':
	case '6': case '7': case '8': case '9':
		return parse_number(p, v);
	case 'N':
		return FAIL(p, p->i, "NaN is not allowed (not a JSON number)");
	case 'I':
		return FAIL(p, p->i,
			    "Infinity is not allowed (not a JSON number)");
	}
	if (c >= 0x20 && c < 0x7F)
		return FAIL(p, p->i, "unexpected character '%c' (expected a "
				     "value)", c);
	return FAIL(p, p->i, "unexpected byte 0x%02X (expected a value)", c);
}

int airi_json_parse(const char *text, size_t len, airi_json **out,
		    airi_error *err)
{
	return airi__json_parse_ex(text, len, 0, out, err);
}

int airi__json_parse_ex(const char *text, size_t len, unsigned flags,
			airi_json **out, airi_error *err)
{
	parser *p;
	airi_json *doc;
	int rc;
	if (!text && len)
		return airi__err(err, AIRI_EINVAL, "no input text");
	/* the frames (32 KiB of them) are set as containers open: only the
	 * fields before them need zeroing, not a memset of the whole parser
	 * on every parse (a sixth of the OTLP receiver's instructions) */
	p = malloc(sizeof(*p));
	doc = calloc(1, sizeof(*doc));
	if (p)
		memset(p, 0, offsetof(parser, frames));
	if (!p || !doc) {
		free(p);
		free(doc);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	p->s = (const unsigned char *)text;
	p->n = len;
	p->flags = flags;
	p->doc = doc;
	/* room for the values of a typical document of this size */
	doc->next_cap = len < ARENA_MIN / 2 ? ARENA_MIN
			: len >= ARENA_MAX / 2 ? ARENA_MAX
					       : len * 2;
	p->err = err;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		rc = FAIL(p, 0, "byte order mark (U+FEFF) at the start of the "
				"input is not allowed");
	} else {
		skip_ws(p);
		if (p->i >= p->n) {
			rc = FAIL(p, p->i, len ? "no JSON value (only "
						 "whitespace)"
					       : "empty input (expected a "
						 "JSON value)");
		} else {
			rc = parse_value(p, &doc->root);
			if (!rc) {
				skip_ws(p);
				if (p->i < p->n)
					rc = FAIL(p, p->i,
						  "unexpected data after the "
						  "JSON value");
			}
		}
	}
	free(p->stack);
	free(p);
	if (rc) {
		airi_json_free(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

const airi_value *airi_json_root(const airi_json *doc)
{
	return doc ? &doc->root : NULL;
}

/* ---- accessors ---------------------------------------------------------- */

airi_type airi_value_type(const airi_value *v)
{
	return v ? (airi_type)v->type : AIRI_NULL;
}

size_t airi_value_count(const airi_value *v)
{
	if (!v || (v->type != AIRI_ARRAY && v->type != AIRI_OBJECT))
		return 0;
	return v->count;
}

const airi_value *airi_value_at(const airi_value *v, size_t i)
{
	if (!v || i >= airi_value_count(v))
		return NULL;
	return v->type == AIRI_ARRAY ? &v->u.items[i] : &v->u.items[2 * i + 1];
}

const char *airi_value_key_at(const airi_value *v, size_t i, size_t *len)
{
	if (!v || v->type != AIRI_OBJECT || i >= v->count)
		return NULL;
	if (len)
		*len = v->u.items[2 * i].u.s.n;
	return v->u.items[2 * i].u.s.p;
}

const airi_value *airi_value_get(const airi_value *v, const char *key)
{
	if (!v || v->type != AIRI_OBJECT)
		return NULL;
	size_t kn = strlen(key), lo = 0, hi = v->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const airi_value *k = &v->u.items[2 * mid];
		int c = airi__utf16_cmp(k->u.s.p, k->u.s.n, key, kn);
		if (c == 0)
			return &v->u.items[2 * mid + 1];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *airi_value_string(const airi_value *v, size_t *len)
{
	if (!v || v->type != AIRI_STRING)
		return NULL;
	if (__atomic_load_n(&v->flags, __ATOMIC_ACQUIRE) & AIRI__STR_LAZY) {
		airi_value *w = (airi_value *)v; /* decoding is invisible */
		pthread_mutex_lock(&lazy_lock);
		if (w->flags & AIRI__STR_LAZY) {
			airi_json *doc = (airi_json *)w->u.s.p;
			struct lazybuf *b = malloc(sizeof(*b) + w->u.s.rawn + 1);
			size_t on;
			if (!b) {
				pthread_mutex_unlock(&lazy_lock);
				return NULL;
			}
			decode_escapes((const unsigned char *)w->u.s.raw,
				       w->u.s.rawn, b->data, &on);
			b->data[on] = 0;
			b->next = doc->lazy;
			doc->lazy = b;
			w->u.s.p = b->data;
			w->u.s.n = on;
			__atomic_store_n(&w->flags,
					 (uint8_t)(w->flags & ~AIRI__STR_LAZY),
					 __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&lazy_lock);
	}
	if (len)
		*len = v->u.s.n;
	return v->u.s.p;
}

double airi_value_number(const airi_value *v)
{
	return v && v->type == AIRI_NUMBER ? v->u.num.d : 0.0;
}

size_t airi_value_offset(const airi_value *v)
{
	return v ? v->offset : 0;
}
