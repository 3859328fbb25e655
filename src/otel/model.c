/*
 * model.c - the pieces of the span model both decoders and the mapping
 * use: the per-request arena, UTF-8 validation, attribute lookup.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)64 << 10)

void *arena_alloc(struct arena *a, size_t n)
{
	if (a->failed)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (!n)
		n = 16;
	if (a->budget && (n > a->budget || a->used > a->budget - n)) {
		a->failed = 1;
		return NULL;
	}
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c) {
			a->failed = 1;
			return NULL;
		}
		c->used = 0;
		c->cap = cap;
		if (n > ARENA_CHUNK / 4 && a->head) {
			/* a big block on its own: keep filling the current one */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	a->used += n;
	return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		a->failed = 1;
		return NULL;
	}
	void *p = arena_alloc(a, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX) {
		a->failed = 1;
		return NULL;
	}
	char *p = arena_alloc(a, n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

size_t otel_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else
			return i;
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += len;
	}
	return n;
}

const struct ov *oattr(const struct oattrs *a, const char *key)
{
	size_t kn = strlen(key);
	for (size_t i = 0; a && i < a->n; i++)
		if (a->kv[i].kn == kn && !memcmp(a->kv[i].k, key, kn))
			return &a->kv[i].v;
	return NULL;
}

const char *oattr_str(const struct oattrs *a, const char *key, size_t *n)
{
	const struct ov *v = oattr(a, key);
	if (!v || v->type != OV_STRING)
		return NULL;
	if (n)
		*n = v->u.s.n;
	return v->u.s.p;
}

void otel_hex(const unsigned char *p, size_t n, char *out)
{
	airi__hex(p, n, out);
}

void obatch_free(struct obatch *b)
{
	if (!b)
		return;
	arena_free(&b->ar);
	b->spans = NULL;
	b->n = b->cap = 0;
	if (b->pb && !b->pb_in_arena)
		otlp_pb_release(b->pb);
	b->pb = NULL;
	b->pb_in_arena = 0;
	airi_json_free(b->doc);
	b->doc = NULL;
}
