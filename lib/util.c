/*
 * util.c - small pieces every other file leans on: error filling, the
 * bounded growable buffer, the report JSON writer and RFC 3339 times. They
 * live together because each is too small to be a concept of its own.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *airi_strerror(int code)
{
	switch (code) {
	case AIRI_OK: return "success";
	case AIRI_ENOMEM: return "out of memory or over a size limit";
	case AIRI_EJSON: return "invalid JSON";
	case AIRI_EMANIFEST: return "invalid manifest";
	case AIRI_ENOTFOUND: return "not found";
	case AIRI_EAMBIGUOUS: return "ambiguous ID prefix";
	case AIRI_ESTORE: return "store error";
	case AIRI_EIO: return "I/O error";
	case AIRI_EINVAL: return "invalid argument";
	case AIRI_ECORRUPT: return "stored data is corrupt";
	case AIRI_ESCHEMA: return "store schema is newer than this airi";
	}
	return "unknown error";
}

int airi__err(airi_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		memset(err, 0, sizeof(*err));
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

void airi__err_at(airi_error *err, const char *text, size_t len,
		  size_t offset)
{
	size_t line = 1, col = 1;
	if (!err)
		return;
	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	err->has_position = 1;
	err->offset = offset;
	err->line = line;
	err->column = col;
}

void airi__pointer_append(char *ptr, size_t cap, const char *tok, size_t n)
{
	size_t len = strlen(ptr), need = 1;
	for (size_t i = 0; i < n; i++)
		need += (tok[i] == '~' || tok[i] == '/') ? 2 : 1;
	/* a pointer that does not fit ends in "/..." (once) */
	if (len + need + 5 > cap) {
		if (len < 4 || strcmp(ptr + len - 4, "/...") != 0) {
			if (len + 5 > cap)
				len = cap - 5;
			memcpy(ptr + len, "/...", 5);
		}
		return;
	}
	ptr[len++] = '/';
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '~') {
			ptr[len++] = '~';
			ptr[len++] = '0';
		} else if (tok[i] == '/') {
			ptr[len++] = '~';
			ptr[len++] = '1';
		} else {
			ptr[len++] = tok[i];
		}
	}
	ptr[len] = 0;
}

/* ---- buffer ------------------------------------------------------------- */

void airi__buf_init(airi__buf *b)
{
	memset(b, 0, sizeof(*b));
}

void airi__buf_release(airi__buf *b)
{
	free(b->p);
	airi__buf_init(b);
}

int airi__buf_grow(airi__buf *b, size_t extra)
{
	size_t max = b->max ? b->max : AIRI__BUF_MAX;
	size_t need, cap;
	char *p;
	if (b->failed)
		return AIRI_ENOMEM;
	if (extra > max || b->n > max - extra - 1) {
		b->failed = 1;
		return AIRI_ENOMEM;
	}
	need = b->n + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > max / 2 ? max + 1 : cap * 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = 1;
		return AIRI_ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int airi__buf_add(airi__buf *b, const void *p, size_t n)
{
	if (airi__buf_grow(b, n))
		return AIRI_ENOMEM;
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

int airi__buf_addc(airi__buf *b, char c)
{
	return airi__buf_add(b, &c, 1);
}

int airi__buf_adds(airi__buf *b, const char *s)
{
	return airi__buf_add(b, s, strlen(s));
}

int airi__buf_printf(airi__buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char small[256];
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return AIRI_EINVAL;
	if ((size_t)n < sizeof(small))
		return airi__buf_add(b, small, (size_t)n);
	if (airi__buf_grow(b, (size_t)n))
		return AIRI_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
	return 0;
}

char *airi__buf_detach(airi__buf *b, size_t *len)
{
	char *p;
	if (b->failed) {
		airi__buf_release(b);
		return NULL;
	}
	if (!b->p && airi__buf_grow(b, 0))
		return NULL;
	b->p[b->n] = 0;
	p = b->p;
	if (len)
		*len = b->n;
	airi__buf_init(b);
	return p;
}

int airi__buf_write_fn(void *ctx, const void *data, size_t len)
{
	return airi__buf_add(ctx, data, len);
}

void airi__hex(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* ---- report writer ------------------------------------------------------ */

void airi__jw_init(airi__jw *w)
{
	airi__buf_init(&w->b);
	w->depth = 0;
	w->need_comma[0] = 0;
}

static void jw_sep(airi__jw *w)
{
	if (w->need_comma[w->depth])
		airi__buf_addc(&w->b, ',');
	w->need_comma[w->depth] = 1;
}

/* A value right after a key must not be preceded by a comma. */
static void jw_value_sep(airi__jw *w)
{
	if (w->need_comma[w->depth] == 2)
		w->need_comma[w->depth] = 1;
	else
		jw_sep(w);
}

static void jw_open(airi__jw *w, char c)
{
	jw_value_sep(w);
	airi__buf_addc(&w->b, c);
	if (w->depth < AIRI_JSON_MAX_DEPTH)
		w->depth++;
	else
		w->b.failed = 1;
	w->need_comma[w->depth] = 0;
}

void airi__jw_obj(airi__jw *w) { jw_open(w, '{'); }
void airi__jw_arr(airi__jw *w) { jw_open(w, '['); }

static void jw_close(airi__jw *w, char c)
{
	airi__buf_addc(&w->b, c);
	if (w->depth > 0)
		w->depth--;
}

void airi__jw_end_obj(airi__jw *w) { jw_close(w, '}'); }
void airi__jw_end_arr(airi__jw *w) { jw_close(w, ']'); }

void airi__jw_keyn(airi__jw *w, const char *k, size_t n)
{
	jw_sep(w);
	airi__canon_string(&w->b, k, n);
	airi__buf_addc(&w->b, ':');
	/* 2: a value follows without a comma, then the state becomes 1 */
	w->need_comma[w->depth] = 2;
}

void airi__jw_key(airi__jw *w, const char *k)
{
	airi__jw_keyn(w, k, strlen(k));
}

void airi__jw_strn(airi__jw *w, const char *s, size_t n)
{
	jw_value_sep(w);
	airi__canon_string(&w->b, s, n);
}

void airi__jw_str(airi__jw *w, const char *s)
{
	airi__jw_strn(w, s, strlen(s));
}

void airi__jw_int(airi__jw *w, long long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
				     : (unsigned long long)v;
	jw_value_sep(w);
	do
		d[--i] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		d[--i] = '-';
	airi__buf_add(&w->b, d + i, sizeof(d) - i);
}

void airi__jw_bool(airi__jw *w, int v)
{
	jw_value_sep(w);
	airi__buf_adds(&w->b, v ? "true" : "false");
}

void airi__jw_null(airi__jw *w)
{
	jw_value_sep(w);
	airi__buf_adds(&w->b, "null");
}

void airi__jw_digest(airi__jw *w, const airi_digest *d)
{
	char s[AIRI_DIGEST_STRLEN];
	airi_digest_format(d, s);
	airi__jw_str(w, s);
}

void airi__jw_value(airi__jw *w, const airi_value *v)
{
	jw_value_sep(w);
	if (airi__canon_to_buf(v, &w->b))
		w->b.failed = 1;
}

void airi__jw_raw(airi__jw *w, const char *s, size_t n)
{
	jw_value_sep(w);
	airi__buf_add(&w->b, s, n);
}

char *airi__jw_finish(airi__jw *w, size_t *len)
{
	return airi__buf_detach(&w->b, len);
}

int airi__name_listed(const char *list, const char *name, size_t n)
{
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

/* ---- time --------------------------------------------------------------- */

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known civil-from-days inverse, written out from the math). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int airi__rfc3339_parse(const char *s, size_t n, int64_t *ms)
{
	int Y, M, D, h, mi, sec, frac_ms = 0;
	size_t i;
	int64_t off = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	i = 19;
	if (i < n && s[i] == '.') {
		int scale = 100, nd = 0;
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (nd < 3)
				frac_ms += (s[i] - '0') * scale;
			scale /= 10;
			nd++;
			i++;
		}
		if (nd == 0)
			return -1;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') &&
		   s[i + 3] == ':') {
		int oh, om;
		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		off = (int64_t)(oh * 60 + om) * 60000;
		if (s[i] == '+')
			off = -off;
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	if (sec == 60)
		sec = 59; /* a leap second sorts with the second before it */
	*ms = (days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec) *
		      1000 +
	      frac_ms + off;
	return 0;
}

void airi__rfc3339_format(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int rem = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, rem);
}
