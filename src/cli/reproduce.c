/*
 * reproduce.c - `airi reproduce RUN`: re-executes a recorded model call
 * with exactly the recorded request and explains any difference.
 *
 * The request body is rebuilt from the manifest's sections by inverting
 * the proxy's capture rules (docs/proxy-mapping.md, section 16), checked
 * by mapping it back through the same
 * capture code (proxy_manifest) before anything is sent, sent with
 * libcurl to the recorded upstream (or --upstream), streamed or not as
 * recorded, assembled with the proxy's stream assemblers, recorded as a
 * new run through proxy_manifest() with meta.reproduces naming the
 * original, and compared with the original (airi_run_diff for the
 * conditions, a first-divergence search for the output).
 *
 * An agent run (a grouped run whose trajectory lists model calls by run
 * ID) is replayed call by call: each recorded request already holds the
 * recorded tool results (hermetic replay); with --live-tools a command
 * produces the tool results instead and the later requests are rebuilt.
 * The replay stops at the first call whose tool calls differ from the
 * recorded ones.
 *
 * Exit status: 0 identical conditions and output, 1 same conditions and
 * divergent output, 3 different conditions, 2 trouble, 64 usage, 65/66
 * an unreadable or invalid manifest file.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"
#include "../proxy/proxy.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_CONDITIONS 3
#define CAPTURE_MAX ((size_t)64 << 20) /* bytes of a response kept */
#define TOOL_OUT_MAX ((size_t)16 << 20) /* bytes of a tool's stdout */
#define MAX_CHANGES_SHOWN 8
#define CTX_BEFORE 24 /* code points of context shown before a divergence */
#define CTX_AFTER 40

static const char *api_name(enum api api)
{
	switch (api) {
	case API_CHAT: return "chat completions";
	case API_COMPLETIONS: return "completions";
	case API_RESPONSES: return "responses";
	case API_EMBEDDINGS: return "embeddings";
	case API_MESSAGES: return "anthropic messages";
	default: return "none";
	}
}

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int is_str(const airi_value *v, const char *s)
{
	size_t n;
	const char *p = airi_value_string(v, &n);
	return p && n == strlen(s) && !memcmp(p, s, n);
}

/* A string member as a NUL-terminated copy (NULL when absent, not a
 * string, or holding a NUL byte). */
static char *str_dup(const airi_value *v)
{
	size_t n;
	const char *p = airi_value_string(v, &n);
	if (!p || memchr(p, 0, n))
		return NULL;
	return strndup(p, n);
}

/* A control character (C0 or DEL): what may not go into a header value. */
static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return 1;
	return 0;
}

/* Printable ASCII without spaces: what may go into a URL or a header. */
static int plain_ascii(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7F)
			return 0;
	return 1;
}

/* Writes "key": v, or "key": dflt when v is missing (null when dflt is
 * NULL). */
static void jw_member(airi__jw *w, const char *key, const airi_value *v,
		      const char *dflt)
{
	airi__jw_key(w, key);
	if (v)
		airi__jw_value(w, v);
	else if (dflt)
		airi__jw_str(w, dflt);
	else
		airi__jw_null(w);
}

/* ---- JSON values: equality and first difference -------------------------- */

static int val_eq(const airi_value *a, const airi_value *b, int depth)
{
	if (!a || !b)
		return a == b;
	airi_type t = airi_value_type(a);
	if (t != airi_value_type(b))
		return 0;
	switch (t) {
	case AIRI_NUMBER:
		return airi_value_number(a) == airi_value_number(b);
	case AIRI_STRING: {
		size_t an, bn;
		const char *x = airi_value_string(a, &an);
		const char *y = airi_value_string(b, &bn);
		return x && y && an == bn && !memcmp(x, y, an);
	}
	case AIRI_ARRAY:
	case AIRI_OBJECT: {
		size_t n = airi_value_count(a);
		if (n != airi_value_count(b) || depth > AIRI_JSON_MAX_DEPTH)
			return 0;
		for (size_t i = 0; i < n; i++) {
			if (t == AIRI_OBJECT) {
				size_t kan, kbn;
				const char *ka = airi_value_key_at(a, i, &kan);
				const char *kb = airi_value_key_at(b, i, &kbn);
				if (kan != kbn || memcmp(ka, kb, kan))
					return 0;
			}
			if (!val_eq(airi_value_at(a, i), airi_value_at(b, i),
				    depth + 1))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

static void ptr_push(airi__buf *p, const char *tok, size_t n)
{
	airi__buf_addc(p, '/');
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '~')
			airi__buf_adds(p, "~0");
		else if (tok[i] == '/')
			airi__buf_adds(p, "~1");
		else
			airi__buf_addc(p, tok[i]);
	}
}

static void ptr_push_index(airi__buf *p, size_t i)
{
	airi__buf_printf(p, "/%zu", i);
}

/*
 * Providers name what they return afresh on every call: tool calls
 * (call_..., toolu_...), Responses output items (msg_..., fc_...). Those
 * names are in the output, so two calls with the same answer have
 * different output digests. A reproduction whose output differs only in
 * such members (a string on both sides, under one of these names, at any
 * depth) is the same answer; the pointers of the ids that differ are
 * collected (the first IDS_SHOWN) and counted.
 */
#define IDS_SHOWN 4
static int id_member(const char *k, size_t n)
{
	static const char *const names[] = {"id", "call_id", "item_id",
					     "tool_call_id", "tool_use_id"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strlen(names[i]) == n && !memcmp(names[i], k, n))
			return 1;
	return 0;
}

static int eq_mod_ids(const airi_value *a, const airi_value *b, airi__buf *ptr,
		      airi__buf *ids, size_t *nids, int depth)
{
	airi_type t = airi_value_type(a);
	if (!a || !b || t != airi_value_type(b) ||
	    (t != AIRI_ARRAY && t != AIRI_OBJECT))
		return val_eq(a, b, depth);
	size_t n = airi_value_count(a);
	if (n != airi_value_count(b) || depth > AIRI_JSON_MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t mark = ptr->n, kan = 0, kbn;
		const char *ka = NULL;
		const airi_value *va = airi_value_at(a, i), *vb = airi_value_at(b, i);
		if (t == AIRI_OBJECT) {
			ka = airi_value_key_at(a, i, &kan);
			const char *kb = airi_value_key_at(b, i, &kbn);
			if (kan != kbn || memcmp(ka, kb, kan))
				return 0;
			ptr_push(ptr, ka, kan);
		} else
			ptr_push_index(ptr, i);
		int same;
		if (ka && id_member(ka, kan) &&
		    airi_value_type(va) == AIRI_STRING &&
		    airi_value_type(vb) == AIRI_STRING) {
			same = 1;
			if (!val_eq(va, vb, depth + 1)) {
				if ((*nids)++ < IDS_SHOWN) {
					if (ids->n)
						airi__buf_addc(ids, ' ');
					airi__buf_add(ids, ptr->p, ptr->n);
				}
			}
		} else
			same = eq_mod_ids(va, vb, ptr, ids, nids, depth + 1);
		ptr->n = mark;
		if (!same)
			return 0;
	}
	return 1;
}

/* Equal but for provider-assigned ids (eq_mod_ids, nothing collected). */
static int eqi(const airi_value *a, const airi_value *b)
{
	airi__buf ptr, ids;
	size_t n = 0;
	airi__buf_init(&ptr);
	airi__buf_init(&ids);
	int same = eq_mod_ids(a, b, &ptr, &ids, &n, 0);
	airi__buf_release(&ptr);
	airi__buf_release(&ids);
	return same;
}

static int is_id_pair(const char *k, size_t kn, const airi_value *a,
		      const airi_value *b)
{
	return id_member(k, kn) && airi_value_type(a) == AIRI_STRING &&
	       airi_value_type(b) == AIRI_STRING;
}

/* Where two values first differ: the pointer (appended to ptr) and the
 * two values there (either NULL when only one side has it). Objects are
 * walked in canonical member order, arrays by index. */
static int first_diff(const airi_value *a, const airi_value *b, airi__buf *ptr,
		      const airi_value **wa, const airi_value **wb, int depth)
{
	if (eqi(a, b))
		return 0;
	airi_type t = a ? airi_value_type(a) : AIRI_NULL;
	if (a && b && depth < 64 && t == airi_value_type(b) && t == AIRI_OBJECT) {
		size_t i = 0, j = 0, na = airi_value_count(a),
		       nb = airi_value_count(b);
		while (i < na || j < nb) {
			size_t kan = 0, kbn = 0;
			const char *ka = i < na ? airi_value_key_at(a, i, &kan) : NULL;
			const char *kb = j < nb ? airi_value_key_at(b, j, &kbn) : NULL;
			int c = !ka ? 1 : !kb ? -1 : airi__utf16_cmp(ka, kan, kb, kbn);
			if (c < 0) {
				ptr_push(ptr, ka, kan);
				*wa = airi_value_at(a, i);
				*wb = NULL;
				return 1;
			}
			if (c > 0) {
				ptr_push(ptr, kb, kbn);
				*wa = NULL;
				*wb = airi_value_at(b, j);
				return 1;
			}
			if (!is_id_pair(ka, kan, airi_value_at(a, i),
					airi_value_at(b, j)) &&
			    !eqi(airi_value_at(a, i), airi_value_at(b, j))) {
				ptr_push(ptr, ka, kan);
				return first_diff(airi_value_at(a, i),
						  airi_value_at(b, j), ptr, wa, wb,
						  depth + 1);
			}
			i++;
			j++;
		}
	}
	if (a && b && depth < 64 && t == airi_value_type(b) && t == AIRI_ARRAY) {
		size_t na = airi_value_count(a), nb = airi_value_count(b);
		for (size_t i = 0; i < na || i < nb; i++) {
			const airi_value *x = i < na ? airi_value_at(a, i) : NULL;
			const airi_value *y = i < nb ? airi_value_at(b, i) : NULL;
			if (x && y && eqi(x, y))
				continue;
			ptr_push_index(ptr, i);
			if (!x || !y) {
				*wa = x;
				*wb = y;
				return 1;
			}
			return first_diff(x, y, ptr, wa, wb, depth + 1);
		}
	}
	*wa = a;
	*wb = b;
	return 1;
}

/* ---- the per-call comparison --------------------------------------------- */

struct divergence {
	int found;
	airi__buf ptr;     /* JSON Pointer into the output */
	char where[300];   /* for people: "choice 0, message text" */
	long long at_char; /* code points before the first difference, or -1 */
	long long message; /* choice / content block / output item, or -1 */
	long long tool_index; /* tool call index, or -1 */
	char *tool_name;
	airi__buf ctx_a, ctx_b; /* canonical JSON strings (or values) */
};

static void div_release(struct divergence *d)
{
	airi__buf_release(&d->ptr);
	airi__buf_release(&d->ctx_a);
	airi__buf_release(&d->ctx_b);
	free(d->tool_name);
	memset(d, 0, sizeof(*d));
}

/* Byte offset -> start of the code point it is in. */
static size_t cp_back(const char *s, size_t k)
{
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

static size_t cp_count(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* Moves k by up to `cps` code points (backwards when dir < 0). */
static size_t cp_move(const char *s, size_t n, size_t k, size_t cps, int dir)
{
	while (cps--) {
		if (dir < 0) {
			if (!k)
				break;
			k = cp_back(s, k - 1);
		} else {
			if (k >= n)
				break;
			k++;
			while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
				k++;
		}
	}
	return k;
}

/* A window of a string around byte offset k, as a JSON string, with an
 * ellipsis where it is cut. */
static void context_of(airi__buf *out, const char *s, size_t n, size_t k)
{
	size_t from = cp_move(s, n, k, CTX_BEFORE, -1);
	size_t to = cp_move(s, n, k, CTX_AFTER, 1);
	airi__buf t;
	airi__buf_init(&t);
	if (from > 0)
		airi__buf_adds(&t, "\xe2\x80\xa6");
	airi__buf_add(&t, s + from, to - from);
	if (to < n)
		airi__buf_adds(&t, "\xe2\x80\xa6");
	airi__canon_string(out, t.p ? t.p : "", t.n);
	airi__buf_release(&t);
}

static void value_context(airi__buf *out, const airi_value *v)
{
	if (!v) {
		airi__buf_adds(out, "null");
		return;
	}
	airi__buf t;
	airi__buf_init(&t);
	airi__canon_to_buf(v, &t);
	if (t.n > 160) { /* cut long values, as a string */
		size_t k = cp_back(t.p, 160);
		airi__buf c;
		airi__buf_init(&c);
		airi__buf_add(&c, t.p, k);
		airi__buf_adds(&c, "\xe2\x80\xa6");
		airi__canon_string(out, c.p, c.n);
		airi__buf_release(&c);
	} else {
		airi__buf_add(out, t.p, t.n);
	}
	airi__buf_release(&t);
}

/* Splits a JSON Pointer into at most `max` tokens, unescaped in place. */
static int ptr_tokens(char *p, char **tok, int max)
{
	int n = 0;
	if (*p != '/')
		return 0;
	p++;
	while (n < max) {
		char *e = strchr(p, '/');
		if (e)
			*e = 0;
		char *r = p, *w = p;
		while (*r) {
			if (r[0] == '~' && (r[1] == '0' || r[1] == '1')) {
				*w++ = r[1] == '0' ? '~' : '/';
				r += 2;
			} else {
				*w++ = *r++;
			}
		}
		*w = 0;
		tok[n++] = p;
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

static int tok_index(const char *t, long long *out)
{
	char *e;
	if (!*t || *t < '0' || *t > '9')
		return 0;
	*out = strtoll(t, &e, 10);
	return !*e;
}

/* The name of a tool call at output[..] (OpenAI function.name, Anthropic
 * and Responses name). */
static char *tool_name_at(const airi_value *call)
{
	const airi_value *n = airi_value_get(airi_value_get(call, "function"), "name");
	if (!n)
		n = airi_value_get(call, "name");
	return str_dup(n);
}

/* A divergence in item i of an output's list (Anthropic content blocks,
 * Responses output items): a tool call when the item's type is
 * tool_type. tool_field (for a tool call) or field (for another item)
 * names what differs in it; NULL: the item itself. */
static void describe_item(struct divergence *d, const airi_value *out_a,
			  const airi_value *out_b, const char *list, long long i,
			  const char *tool_type, const char *label,
			  const char *tool_field, const char *field)
{
	d->message = i;
	const airi_value *it = airi_value_at(airi_value_get(out_a, list), (size_t)i);
	if (!it)
		it = airi_value_at(airi_value_get(out_b, list), (size_t)i);
	if (is_str(airi_value_get(it, "type"), tool_type)) {
		d->tool_index = i;
		d->tool_name = tool_name_at(it);
		snprintf(d->where, sizeof(d->where), "%s %lld, tool call (%s)%s%s",
			 label, i, d->tool_name ? d->tool_name : "?",
			 tool_field ? ", " : "", tool_field ? tool_field : "");
	} else {
		snprintf(d->where, sizeof(d->where), "%s %lld%s%s", label, i,
			 field ? ", " : "", field ? field : "");
	}
}

/* Puts a pointer into words, for the APIs' usual output shapes. */
static void describe(struct divergence *d, const airi_value *out_a,
		     const airi_value *out_b)
{
	char *copy = strndup(d->ptr.p ? d->ptr.p : "", d->ptr.n);
	char *tok[8];
	int n = copy ? ptr_tokens(copy, tok, 8) : 0;
	long long i = -1, j = -1;
	const char *field = NULL;
	d->message = d->tool_index = -1;
	if (n >= 3 && !strcmp(tok[0], "choices") && tok_index(tok[1], &i)) {
		d->message = i;
		const airi_value *ch = airi_value_at(airi_value_get(out_a, "choices"), (size_t)i);
		if (!ch)
			ch = airi_value_at(airi_value_get(out_b, "choices"), (size_t)i);
		if (!strcmp(tok[2], "message") && n >= 5 &&
		    !strcmp(tok[3], "tool_calls") && tok_index(tok[4], &j)) {
			d->tool_index = j;
			const airi_value *tc = airi_value_at(
				airi_value_get(airi_value_get(ch, "message"), "tool_calls"),
				(size_t)j);
			d->tool_name = tool_name_at(tc);
			field = n >= 7 ? tok[6] : n >= 6 ? tok[5] : NULL;
			snprintf(d->where, sizeof(d->where),
				 "choice %lld, tool call %lld (%s)%s%s", i, j,
				 d->tool_name ? d->tool_name : "?", field ? ", " : "",
				 field ? field : "");
		} else if (!strcmp(tok[2], "message") && n >= 4) {
			snprintf(d->where, sizeof(d->where), "choice %lld, message %s", i,
				 !strcmp(tok[3], "content") ? "text" : tok[3]);
		} else {
			snprintf(d->where, sizeof(d->where), "choice %lld, %s", i,
				 !strcmp(tok[2], "text") ? "text" : tok[2]);
		}
	} else if (n >= 2 && !strcmp(tok[0], "content") && tok_index(tok[1], &i)) {
		describe_item(d, out_a, out_b, "content", i, "tool_use",
			      "content block", n >= 3 ? tok[2] : NULL,
			      n >= 3 ? tok[2] : NULL);
	} else if (n >= 2 && !strcmp(tok[0], "output") && tok_index(tok[1], &i)) {
		describe_item(d, out_a, out_b, "output", i, "function_call",
			      "output item", n >= 3 ? tok[2] : NULL,
			      n >= 3 ? tok[n - 1] : NULL);
	} else {
		snprintf(d->where, sizeof(d->where), "%s",
			 d->ptr.n ? d->ptr.p : "the whole output");
	}
	free(copy);
}

/* The first divergence of two outputs: the assistant message(s) first
 * (chat/completions choices, Anthropic content blocks, Responses output
 * items), then anything else (usage, stop reasons...). */
static void output_divergence(const airi_value *a, const airi_value *b,
			      struct divergence *d)
{
	const airi_value *wa = NULL, *wb = NULL;
	memset(d, 0, sizeof(*d));
	airi__buf_init(&d->ptr);
	d->at_char = -1;
	d->message = d->tool_index = -1;
	if (eqi(a, b))
		return;
	d->found = 1;
	static const char *const firsts[] = {"choices", "content", "output", NULL};
	int done = 0;
	for (int f = 0; firsts[f] && !done; f++) {
		const airi_value *xa = airi_value_get(a, firsts[f]);
		const airi_value *xb = airi_value_get(b, firsts[f]);
		if (airi_value_type(xa) != AIRI_ARRAY || airi_value_type(xb) != AIRI_ARRAY)
			continue;
		size_t na = airi_value_count(xa), nb = airi_value_count(xb);
		for (size_t i = 0; i < na && i < nb && !done; i++) {
			const airi_value *ea = airi_value_at(xa, i), *eb = airi_value_at(xb, i);
			/* a choice: its message (or text) before finish_reason */
			static const char *const inner[] = {"message", "text", NULL};
			for (int k = 0; inner[k] && !done && !strcmp(firsts[f], "choices"); k++) {
				const airi_value *ia = airi_value_get(ea, inner[k]);
				const airi_value *ib = airi_value_get(eb, inner[k]);
				if (ia && ib && !eqi(ia, ib)) {
					airi__buf_adds(&d->ptr, "/choices");
					ptr_push_index(&d->ptr, i);
					ptr_push(&d->ptr, inner[k], strlen(inner[k]));
					first_diff(ia, ib, &d->ptr, &wa, &wb, 0);
					done = 1;
				}
			}
			if (!done && !eqi(ea, eb)) {
				airi__buf_addc(&d->ptr, '/');
				airi__buf_adds(&d->ptr, firsts[f]);
				ptr_push_index(&d->ptr, i);
				first_diff(ea, eb, &d->ptr, &wa, &wb, 0);
				done = 1;
			}
		}
	}
	if (!done) {
		d->ptr.n = 0;
		first_diff(a, b, &d->ptr, &wa, &wb, 0);
	}
	airi__buf_addc(&d->ptr, 0); /* NUL-terminate, not counted */
	d->ptr.n--;
	size_t an = 0, bn = 0;
	const char *as = airi_value_string(wa, &an), *bs = airi_value_string(wb, &bn);
	if (as && bs) {
		size_t k = 0;
		while (k < an && k < bn && as[k] == bs[k])
			k++;
		if (k < an) /* back to the start of the code point */
			k = cp_back(as, k);
		d->at_char = (long long)cp_count(as, k);
		context_of(&d->ctx_a, as, an, k);
		context_of(&d->ctx_b, bs, bn, k);
	} else {
		value_context(&d->ctx_a, wa);
		value_context(&d->ctx_b, wb);
	}
	describe(d, a, b);
}

/* ---- rebuilding the request ------------------------------------------------ */

struct body {
	airi__jw w;
	char **keys;
	size_t *klen;
	size_t nkeys, cap;
};

static int body_has(struct body *b, const char *k, size_t n)
{
	for (size_t i = 0; i < b->nkeys; i++)
		if (b->klen[i] == n && !memcmp(b->keys[i], k, n))
			return 1;
	return 0;
}

static void body_key(struct body *b, const char *k, size_t n)
{
	if (b->nkeys == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		char **nk = realloc(b->keys, nc * sizeof(*nk));
		if (nk)
			b->keys = nk;
		size_t *nl = realloc(b->klen, nc * sizeof(*nl));
		if (nl)
			b->klen = nl;
		if (!nk || !nl)
			return;
		b->cap = nc;
	}
	b->keys[b->nkeys] = (char *)k;
	b->klen[b->nkeys++] = n;
	airi__jw_keyn(&b->w, k, n);
}

static void body_free(struct body *b)
{
	free(b->keys);
	free(b->klen);
	airi__buf_release(&b->w.b);
}

/* What went wrong, for one line on standard error. */
struct why {
	int status;
	char msg[1024];
};

static int why(struct why *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why(struct why *w, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->status = status;
	return status;
}

/* The recorded call, validated: everything the rebuild reads. */
struct recorded {
	const airi_manifest *m;
	enum api api;
	char *endpoint;   /* meta.endpoint */
	char *upstream;   /* model.upstream (may be NULL with --upstream) */
	char *user_agent; /* meta.user_agent */
	char *api_version; /* environment.api_version */
	int stream;       /* meta.stream */
	const airi_value *model, *params, *system, *input, *tools, *meta;
};

static void recorded_free(struct recorded *r)
{
	free(r->endpoint);
	free(r->upstream);
	free(r->user_agent);
	free(r->api_version);
	memset(r, 0, sizeof(*r));
}

static const airi_value *section(const airi_manifest *m, const char *name,
				 int *present)
{
	for (size_t i = 0; i < airi_manifest_section_count(m); i++)
		if (!strcmp(airi_manifest_section_name(m, i), name)) {
			*present = 1;
			return airi_manifest_section_value(m, i);
		}
	*present = 0;
	return NULL;
}

/* `what` names the run in messages ("run sha256:..." or "step 3"). */
static int recorded_load(const airi_manifest *m, const char *what,
			 int have_override, struct recorded *r, struct why *w)
{
	int has;
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->meta = airi_manifest_meta(m);
	if (airi_value_type(r->meta) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE,
			   "%s cannot be reproduced: /meta is missing, so it is not a "
			   "model call recorded by airi proxy",
			   what);
	const airi_value *ep = airi_value_get(r->meta, "endpoint");
	r->endpoint = str_dup(ep);
	if (!r->endpoint || r->endpoint[0] != '/' || !plain_ascii(r->endpoint))
		return why(w, EXIT_TROUBLE,
			   "%s cannot be reproduced: /meta/endpoint is %s", what,
			   ep ? "not a path" : "missing (not a model call recorded by "
					       "airi proxy)");
	r->api = proxy_api_of("POST", r->endpoint);
	if (r->api == API_NONE)
		return why(w, EXIT_TROUBLE,
			   "%s cannot be reproduced: /meta/endpoint %s is not a model "
			   "call airi records",
			   what, r->endpoint);
	const airi_value *st = airi_value_get(r->meta, "stream");
	if (st && airi_value_type(st) != AIRI_TRUE && airi_value_type(st) != AIRI_FALSE)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /meta/stream is "
					    "not a boolean", what);
	r->stream = airi_value_type(st) == AIRI_TRUE;
	const airi_value *ua = airi_value_get(r->meta, "user_agent");
	if (ua) {
		r->user_agent = str_dup(ua);
		if (!r->user_agent)
			return why(w, EXIT_TROUBLE, "%s cannot be reproduced: "
						    "/meta/user_agent is not a string",
				   what);
		if (has_control(r->user_agent))
			return why(w, EXIT_TROUBLE,
				   "%s cannot be reproduced: /meta/user_agent "
				   "holds a control character",
				   what);
	}
	int rq;
	section(m, "request", &rq);
	r->params = section(m, "params", &has);
	if (rq && !has)
		return why(w, EXIT_TROUBLE,
			   "%s cannot be reproduced: its request was recorded by digest "
			   "only (/conditions/request: the body was not valid I-JSON), so "
			   "it cannot be rebuilt",
			   what);
	if (!has || airi_value_type(r->params) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/params "
					    "is %s",
			   what, has ? "not an object" : "missing");
	r->model = section(m, "model", &has);
	if (!has || airi_value_type(r->model) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/model "
					    "is %s",
			   what, has ? "not an object" : "missing");
	const airi_value *up = airi_value_get(r->model, "upstream");
	r->upstream = str_dup(up);
	if (!have_override &&
	    (!r->upstream || !plain_ascii(r->upstream) ||
	     (strncmp(r->upstream, "http://", 7) && strncmp(r->upstream, "https://", 8))))
		return why(w, EXIT_TROUBLE,
			   "%s cannot be reproduced: /conditions/model/upstream is %s "
			   "(give --upstream URL)",
			   what, up ? "not an http:// or https:// URL" : "missing");
	r->system = section(m, "system", &has);
	if (!has)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/system "
					    "is missing",
			   what);
	if (airi_value_type(r->system) != AIRI_NULL &&
	    airi_value_type(r->system) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/system "
					    "is neither null nor an object",
			   what);
	r->input = section(m, "input", &has);
	if (!has || airi_value_type(r->input) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/input "
					    "is %s",
			   what, has ? "not an object" : "missing");
	r->tools = section(m, "tools", &has);
	if (has && airi_value_type(r->tools) != AIRI_OBJECT)
		return why(w, EXIT_TROUBLE, "%s cannot be reproduced: /conditions/tools "
					    "is not an object",
			   what);
	const airi_value *env = section(m, "environment", &has);
	const airi_value *av = airi_value_get(env, "api_version");
	if (av) {
		r->api_version = str_dup(av);
		if (!r->api_version || !*r->api_version)
			return why(w, EXIT_TROUBLE,
				   "%s cannot be reproduced: "
				   "/conditions/environment/api_version is not a string",
				   what);
		if (has_control(r->api_version))
			return why(w, EXIT_TROUBLE,
				   "%s cannot be reproduced: "
				   "/conditions/environment/api_version holds a "
				   "control character",
				   what);
	}
	return 0;
}

/* Writes the members of an array value into an open array. */
static void array_items(airi__jw *w, const airi_value *arr)
{
	for (size_t i = 0; i < airi_value_count(arr); i++)
		airi__jw_value(w, airi_value_at(arr, i));
}

/*
 * The request body, inverting docs/proxy-mapping.md: model.name -> model,
 * the API's system/input/tools members, meta's request members
 * (stream_options, user, metadata, store where the API records them in
 * meta), "stream": true when the original response was streamed, and
 * every params member. `messages` (canonical JSON array text), when not
 * NULL, replaces the recorded conversation (--live-tools).
 */
static int rebuild(const struct recorded *r, const char *messages, size_t mlen,
		   char **out, size_t *olen, struct why *w)
{
	struct body b;
	memset(&b, 0, sizeof(b));
	airi__jw_init(&b.w);
	airi__jw_obj(&b.w);
	const char *const *np = proxy_not_params(r->api);
	const airi_value *name = airi_value_get(r->model, "name");
	if (name) {
		body_key(&b, "model", 5);
		airi__jw_value(&b.w, name);
	}
	const airi_value *sys = r->system, *in = r->input;
	int sys_obj = airi_value_type(sys) == AIRI_OBJECT;
	switch (r->api) {
	case API_CHAT: {
		const airi_value *sm = sys_obj ? airi_value_get(sys, "messages") : NULL;
		const airi_value *im = airi_value_get(in, "messages");
		if (sys_obj && airi_value_type(sm) != AIRI_ARRAY) {
			body_free(&b);
			return why(w, EXIT_TROUBLE, "/conditions/system/messages is %s",
				   sm ? "not an array" : "missing");
		}
		if (!messages && airi_value_type(im) != AIRI_ARRAY) {
			body_free(&b);
			return why(w, EXIT_TROUBLE, "/conditions/input/messages is %s",
				   im ? "not an array" : "missing");
		}
		body_key(&b, "messages", 8);
		airi__jw_arr(&b.w);
		array_items(&b.w, sm); /* the system messages come first */
		if (messages) {
			/* the items of the replacement array, as raw text */
			if (mlen > 2) {
				airi__jw_raw(&b.w, messages + 1, mlen - 2);
			}
		} else {
			array_items(&b.w, im);
		}
		airi__jw_end_arr(&b.w);
		break;
	}
	case API_MESSAGES:
		if (sys_obj) {
			const airi_value *t = airi_value_get(sys, "text");
			if (!t)
				t = airi_value_get(sys, "blocks");
			if (!t) {
				body_free(&b);
				return why(w, EXIT_TROUBLE, "/conditions/system has neither "
							    "text nor blocks");
			}
			body_key(&b, "system", 6);
			airi__jw_value(&b.w, t);
		}
		if (messages) {
			body_key(&b, "messages", 8);
			airi__jw_raw(&b.w, messages, mlen);
		} else if (airi_value_get(in, "messages") &&
			   airi_value_type(airi_value_get(in, "messages")) != AIRI_NULL) {
			body_key(&b, "messages", 8);
			airi__jw_value(&b.w, airi_value_get(in, "messages"));
		}
		break;
	case API_COMPLETIONS:
		if (airi_value_get(in, "prompt")) {
			body_key(&b, "prompt", 6);
			airi__jw_value(&b.w, airi_value_get(in, "prompt"));
		}
		break;
	case API_RESPONSES:
		if (sys_obj && airi_value_get(sys, "text")) {
			body_key(&b, "instructions", 12);
			airi__jw_value(&b.w, airi_value_get(sys, "text"));
		}
		/* fall through */
	case API_EMBEDDINGS:
		if (airi_value_get(in, "input")) {
			body_key(&b, "input", 5);
			airi__jw_value(&b.w, airi_value_get(in, "input"));
		}
		break;
	default:
		break;
	}
	if (r->tools && r->api != API_COMPLETIONS && r->api != API_EMBEDDINGS) {
		const airi_value *d = airi_value_get(r->tools, "definitions");
		const airi_value *f = airi_value_get(r->tools, "functions");
		if (d) {
			body_key(&b, "tools", 5);
			airi__jw_value(&b.w, d);
		}
		if (f && r->api == API_CHAT) {
			body_key(&b, "functions", 9);
			airi__jw_value(&b.w, f);
		}
	}
	/* transport and bookkeeping members the proxy keeps in meta */
	static const char *const bookkeeping[] = {"stream_options", "user",
						  "metadata", "store", NULL};
	for (int i = 0; bookkeeping[i]; i++) {
		const char *k = bookkeeping[i];
		int listed = 0;
		for (const char *const *p = np; *p; p++)
			listed |= !strcmp(*p, k);
		const airi_value *v = airi_value_get(r->meta, k);
		if (listed && v && !body_has(&b, k, strlen(k))) {
			body_key(&b, k, strlen(k));
			airi__jw_value(&b.w, v);
		}
	}
	int stream_listed = 0;
	for (const char *const *p = np; *p; p++)
		stream_listed |= !strcmp(*p, "stream");
	if (stream_listed && r->stream) {
		body_key(&b, "stream", 6);
		airi__jw_bool(&b.w, 1);
	}
	for (size_t i = 0; i < airi_value_count(r->params); i++) {
		size_t kn;
		const char *k = airi_value_key_at(r->params, i, &kn);
		int listed = 0;
		for (const char *const *p = np; *p; p++)
			listed |= strlen(*p) == kn && !memcmp(*p, k, kn);
		if (listed || body_has(&b, k, kn)) {
			airi__buf pb;
			airi__buf_init(&pb);
			airi__buf_adds(&pb, "/conditions/params");
			ptr_push(&pb, k, kn);
			why(w, EXIT_TROUBLE,
			    "%s: this member is never a param of the %s API (airi "
			    "proxy records it elsewhere), so the request cannot be "
			    "rebuilt",
			    pb.p ? pb.p : "/conditions/params", api_name(r->api));
			airi__buf_release(&pb);
			body_free(&b);
			return w->status;
		}
		body_key(&b, k, kn);
		airi__jw_value(&b.w, airi_value_at(r->params, i));
	}
	airi__jw_end_obj(&b.w);
	free(b.keys);
	free(b.klen);
	*out = airi__jw_finish(&b.w, olen);
	if (!*out)
		return why(w, EXIT_TROUBLE, "out of memory");
	return 0;
}

/* The rebuilt request, captured the way the proxy would capture it, must
 * give back the recorded sections: otherwise it is not the same request. */
static int round_trip(const struct recorded *r, const char *upstream,
		      const char *body, size_t blen, int check_input,
		      struct why *w)
{
	struct capture cap;
	memset(&cap, 0, sizeof(cap));
	cap.api = r->api;
	cap.endpoint = r->endpoint;
	cap.upstream = upstream;
	cap.req_body = body;
	cap.req_len = blen;
	cap.ended = "complete";
	size_t n;
	char *text = proxy_manifest(&cap, &n);
	airi_manifest *m = NULL;
	airi_error err;
	if (!text || airi_manifest_parse(text, n, &m, &err)) {
		free(text);
		return why(w, EXIT_TROUBLE, "the rebuilt request does not parse back "
					    "(internal error)");
	}
	free(text);
	static const char *const names[] = {"params", "system", "input", "tools",
					    NULL};
	int rc = 0;
	for (int i = 0; names[i] && !rc; i++) {
		if (!check_input && !strcmp(names[i], "input"))
			continue;
		int ha, hb;
		const airi_value *va = section(r->m, names[i], &ha);
		const airi_value *vb = section(m, names[i], &hb);
		if (ha != hb || !val_eq(va, vb, 0))
			rc = why(w, EXIT_TROUBLE,
				 "/conditions/%s: the rebuilt request would not be "
				 "recorded with this section as it is (a manifest not "
				 "written by airi proxy, or edited), so it cannot be "
				 "reproduced exactly",
				 names[i]);
	}
	if (!rc && !val_eq(airi_value_get(r->model, "name"),
			   airi_value_get(airi_manifest_section(m, "model"), "name"), 0))
		rc = why(w, EXIT_TROUBLE, "/conditions/model/name: the rebuilt request "
					  "would not name the same model");
	airi_manifest_free(m);
	return rc;
}

/* ---- the HTTP call (libcurl) ---------------------------------------------- */

struct xfer {
	enum api api;
	CURL *e;
	int headers_done, streaming;
	int64_t t_first;
	airi__buf resp, sse;
	struct assembler *as;
	char errbuf[CURL_ERROR_SIZE];
};

static void xfer_free(struct xfer *x)
{
	airi__buf_release(&x->resp);
	airi__buf_release(&x->sse);
	asm_free(x->as);
	memset(x, 0, sizeof(*x));
}

/* A response header of the last response (libcurl parses them), as a
 * copy without control characters, or NULL. */
static char *resp_header(CURL *e, const char *name)
{
	struct curl_header *h = NULL;
	if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h ||
	    !h->value)
		return NULL;
	return has_control(h->value) ? NULL : strdup(h->value);
}

/* One SSE event (the proxy's rules, sse.c): its data lines joined;
 * "[DONE]" ends nothing and is not assembled. */
static void sse_event(void *arg, const char *ev, size_t n)
{
	struct xfer *x = arg;
	airi__buf data;
	airi__buf_init(&data);
	if (!sse_data(ev, n, &data))
		asm_event(x->as, NULL, data.p ? data.p : "", data.n);
	airi__buf_release(&data);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	if (!x->t_first)
		x->t_first = now_ms();
	if (!x->headers_done) {
		char *ct = NULL;
		x->headers_done = 1;
		curl_easy_getinfo(x->e, CURLINFO_CONTENT_TYPE, &ct);
		x->streaming = ct && strstr(ct, "text/event-stream");
		if (x->streaming && !(x->as = asm_new(x->api)))
			return 0;
	}
	if (!x->streaming) {
		if (x->resp.n + len > CAPTURE_MAX) {
			snprintf(x->errbuf, sizeof(x->errbuf),
				 "response larger than %zu bytes", CAPTURE_MAX);
			return 0;
		}
		airi__buf_add(&x->resp, p, len);
		return len;
	}
	airi__buf_add(&x->sse, p, len);
	sse_split(&x->sse, sse_event, x);
	return len;
}

struct rp {
	const struct args *a;
	airi_store *store;
	char *upstream_override;
	long timeout;
	const char *live;
	int json;
	int recorded;
	const char *orig_id; /* the run being reproduced, "sha256:..." */
};

/* One executed call: its manifest (recorded in the store). */
struct done_call {
	airi_manifest *m;
	char *text;
	size_t len;
	int status;
	char ended[32];
	char error[CURL_ERROR_SIZE + 64];
	char *sent_messages; /* --live-tools: the conversation sent */
	size_t sent_len;
};

static void done_free(struct done_call *d)
{
	airi_manifest_free(d->m);
	free(d->text);
	free(d->sent_messages);
	memset(d, 0, sizeof(*d));
}

static void random_key(char out[40])
{
	unsigned char r[12];
	if (RAND_bytes(r, sizeof(r)) != 1) {
		/* never a repeated key: time and pid */
		int64_t t = now_ms();
		pid_t p = getpid();
		memcpy(r, &t, 8);
		memcpy(r + 8, &p, 4);
	}
	strcpy(out, "rk_");
	airi__hex(r, sizeof(r), out + 3);
	out[27] = 0;
}

static int record_manifest(struct rp *rp, airi_manifest *m, const char *key,
			   struct why *w)
{
	airi_error err;
	if (airi_store_begin(rp->store, &err) ||
	    airi_store_record(rp->store, m, NULL, &err) ||
	    (key && airi_store_bind_key(rp->store, key, airi_manifest_run_id(m), &err)) ||
	    airi_store_commit(rp->store, &err)) {
		airi_store_rollback(rp->store);
		return why(w, EXIT_TROUBLE, "could not record the new run: %s",
			   err.message);
	}
	rp->recorded++;
	return 0;
}

/* Sends one rebuilt request and records what came back as a new run
 * through the proxy's capture rules. */
static int execute(struct rp *rp, const struct recorded *r, const char *body,
		   size_t blen, const char *reproduces, struct done_call *out,
		   struct why *w)
{
	const char *upstream = rp->upstream_override ? rp->upstream_override
						     : r->upstream;
	struct xfer x;
	struct curl_slist *h = NULL;
	char *url = NULL, *hdr = NULL;
	int rc = 0;
	memset(&x, 0, sizeof(x));
	memset(out, 0, sizeof(*out));
	x.api = r->api;
	if (asprintf(&url, "%s%s", upstream, r->endpoint) < 0)
		return why(w, EXIT_TROUBLE, "out of memory");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	const char *anth_version = NULL;
	if (r->api == API_MESSAGES) {
		const char *k = getenv("ANTHROPIC_API_KEY");
		if (k && *k && plain_ascii(k) && asprintf(&hdr, "x-api-key: %s", k) >= 0) {
			h = curl_slist_append(h, hdr);
			memset(hdr, 0, strlen(hdr));
			free(hdr);
			hdr = NULL;
		}
		if (r->api_version) {
			anth_version = r->api_version;
			if (asprintf(&hdr, "anthropic-version: %s", r->api_version) >= 0) {
				h = curl_slist_append(h, hdr);
				free(hdr);
				hdr = NULL;
			}
		}
	} else {
		const char *k = getenv("OPENAI_API_KEY");
		if (k && *k && plain_ascii(k) &&
		    asprintf(&hdr, "Authorization: Bearer %s", k) >= 0) {
			h = curl_slist_append(h, hdr);
			memset(hdr, 0, strlen(hdr));
			free(hdr);
			hdr = NULL;
		}
	}
	if (r->user_agent && asprintf(&hdr, "User-Agent: %s", r->user_agent) >= 0) {
		h = curl_slist_append(h, hdr);
		free(hdr);
		hdr = NULL;
	}
	CURL *e = curl_easy_init();
	if (!e || !h) {
		curl_slist_free_all(h);
		if (e)
			curl_easy_cleanup(e);
		free(url);
		return why(w, EXIT_TROUBLE, "could not start a transfer");
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x.errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, rp->timeout < 10 ? rp->timeout : 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, rp->timeout);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	x.e = e;
	int64_t t_start = now_ms();
	CURLcode res = curl_easy_perform(e);
	int64_t t_end = now_ms();
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	int status = code > 0 && code < 1000 ? (int)code : 0;
	char *request_id = status ? resp_header(e, "x-request-id") : NULL;
	if (status && !request_id)
		request_id = resp_header(e, "request-id");
	char *openai_version = status ? resp_header(e, "openai-version") : NULL;
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	free(url);
	if (x.streaming && x.sse.n && x.as) /* an unterminated last event */
		sse_event(&x, x.sse.p, x.sse.n);
	const char *ended = res == CURLE_OK		    ? "complete"
			    : res == CURLE_OPERATION_TIMEDOUT ? "upstream_timeout"
			    : status			    ? "upstream_broken"
							    : "upstream_unreachable";
	if (res != CURLE_OK && !x.errbuf[0])
		snprintf(x.errbuf, sizeof(x.errbuf), "%s", curl_easy_strerror(res));
	snprintf(out->ended, sizeof(out->ended), "%s", ended);
	out->status = status;
	if (!status) {
		/* nothing came back: nothing to record or compare */
		if (!strcmp(ended, "upstream_timeout"))
			rc = why(w, EXIT_TROUBLE, "upstream %s%s timed out after %ld s "
						  "(nothing was recorded)",
				 upstream, r->endpoint, rp->timeout);
		else
			rc = why(w, EXIT_TROUBLE, "upstream %s%s unreachable: %s (nothing "
						  "was recorded)",
				 upstream, r->endpoint, x.errbuf);
		xfer_free(&x);
		free(request_id);
		free(openai_version);
		return rc;
	}
	char key[40];
	random_key(key);
	struct capture cap;
	char *assembled = NULL;
	size_t alen = 0;
	memset(&cap, 0, sizeof(cap));
	cap.api = r->api;
	cap.endpoint = r->endpoint;
	cap.upstream = upstream;
	cap.req_body = body;
	cap.req_len = blen;
	if (x.streaming) {
		if (x.as && status < 400)
			assembled = asm_output(x.as, &alen);
		cap.resp_body = assembled;
		cap.resp_len = alen;
		cap.resp_assembled = assembled != NULL;
	} else {
		cap.resp_body = x.resp.p;
		cap.resp_len = x.resp.n;
	}
	cap.status = status;
	cap.stream = x.streaming;
	cap.attempt = 1;
	cap.t_start = t_start;
	cap.t_first = x.t_first;
	cap.t_end = t_end;
	cap.request_id = request_id;
	cap.api_version = anth_version ? anth_version : openai_version;
	cap.ended = ended;
	cap.user_agent = r->user_agent;
	cap.call_id = key;
	cap.reproduces = reproduces;
	out->text = proxy_manifest(&cap, &out->len);
	free(assembled);
	airi_error err;
	if (!out->text || airi_manifest_parse(out->text, out->len, &out->m, &err)) {
		rc = why(w, EXIT_TROUBLE, "internal error: the new run's manifest does "
					  "not parse");
	} else {
		rc = record_manifest(rp, out->m, key, w);
	}
	if (!rc && strcmp(ended, "complete"))
		snprintf(out->error, sizeof(out->error), "the transfer ended %s: %s",
			 ended, x.errbuf);
	else if (!rc && (status < 200 || status > 299))
		snprintf(out->error, sizeof(out->error), "the upstream answered %d",
			 status);
	xfer_free(&x);
	free(request_id);
	free(openai_version);
	return rc;
}

/* ---- comparing one call ----------------------------------------------------- */

struct compare {
	int same_cond, same_out;
	size_t nids;   /* same_out although this many provider ids differ */
	airi__buf ids; /* the first IDS_SHOWN of their pointers */
	airi_json *diff;        /* airi_run_diff's report, parsed */
	char *diff_text;
	const airi_value *verdict;
	struct divergence div;
};

static void compare_free(struct compare *c)
{
	airi_json_free(c->diff);
	free(c->diff_text);
	div_release(&c->div);
	airi__buf_release(&c->ids);
	memset(c, 0, sizeof(*c));
}

static int compare_runs(const airi_manifest *a, const airi_manifest *b,
			struct compare *c, struct why *w)
{
	int same;
	size_t n;
	memset(c, 0, sizeof(*c));
	if (airi_run_diff(a, b, &same, &c->diff_text, &n) ||
	    airi_json_parse(c->diff_text, n, &c->diff, NULL))
		return why(w, EXIT_TROUBLE, "out of memory comparing the runs");
	const airi_value *root = airi_json_root(c->diff);
	c->same_cond = airi_value_type(airi_value_get(root, "same_conditions")) == AIRI_TRUE;
	c->verdict = airi_value_get(root, "verdict");
	const airi_digest *oa = airi_manifest_output_digest(a),
			  *ob = airi_manifest_output_digest(b);
	c->same_out = (!oa && !ob) || (oa && ob && airi_digest_equal(oa, ob));
	if (!c->same_out && oa && ob) {
		airi__buf ptr;
		airi__buf_init(&ptr);
		airi__buf_init(&c->ids);
		c->nids = 0;
		if (eq_mod_ids(airi_manifest_output(a), airi_manifest_output(b), &ptr,
			       &c->ids, &c->nids, 0) &&
		    c->nids)
			c->same_out = 1;
		else
			c->nids = 0;
		airi__buf_release(&ptr);
	}
	if (!c->same_out)
		output_divergence(airi_manifest_output(a), airi_manifest_output(b),
				  &c->div);
	return 0;
}

/* The changed fields of the differing sections, pointers prefixed with
 * the section name. */
static void changes_json(airi__jw *w, const struct compare *c)
{
	const airi_value *secs = airi_value_get(airi_json_root(c->diff), "sections");
	airi__jw_arr(w);
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		if (is_str(airi_value_get(s, "status"), "equal"))
			continue;
		const airi_value *ch = airi_value_get(s, "changes");
		size_t sn;
		const char *name = airi_value_string(airi_value_get(s, "name"), &sn);
		for (size_t k = 0; k < airi_value_count(ch); k++) {
			const airi_value *x = airi_value_at(ch, k);
			size_t pn;
			const char *p = airi_value_string(airi_value_get(x, "pointer"), &pn);
			airi__jw_obj(w);
			if (airi_value_get(x, "a")) {
				airi__jw_key(w, "a");
				airi__jw_value(w, airi_value_get(x, "a"));
			}
			if (airi_value_get(x, "b")) {
				airi__jw_key(w, "b");
				airi__jw_value(w, airi_value_get(x, "b"));
			}
			airi__jw_key(w, "op");
			airi__jw_value(w, airi_value_get(x, "op"));
			airi__jw_key(w, "pointer");
			airi__buf pb;
			airi__buf_init(&pb);
			airi__buf_addc(&pb, '/');
			airi__buf_add(&pb, name ? name : "", name ? sn : 0);
			airi__buf_add(&pb, p ? p : "", p ? pn : 0);
			airi__jw_strn(w, pb.p, pb.n);
			airi__buf_release(&pb);
			airi__jw_end_obj(w);
		}
	}
	airi__jw_end_arr(w);
}

static void conditions_json(airi__jw *w, const struct compare *c)
{
	airi__jw_obj(w);
	airi__jw_key(w, "causes");
	if (c->same_cond) {
		airi__jw_arr(w);
		airi__jw_end_arr(w);
	} else {
		airi__jw_value(w, airi_value_get(c->verdict, "causes"));
	}
	airi__jw_key(w, "changes");
	if (c->same_cond) {
		airi__jw_arr(w);
		airi__jw_end_arr(w);
	} else {
		changes_json(w, c);
	}
	airi__jw_key(w, "differing_sections");
	airi__jw_value(w, airi_value_get(c->verdict, "differing_sections"));
	airi__jw_key(w, "identical");
	airi__jw_bool(w, c->same_cond);
	airi__jw_key(w, "text");
	if (c->same_cond)
		airi__jw_str(w, "identical");
	else
		airi__jw_value(w, airi_value_get(c->verdict, "text"));
	airi__jw_end_obj(w);
}

/* Writes i, or null when it is negative (none). */
static void jw_index(airi__jw *w, long long i)
{
	if (i >= 0)
		airi__jw_int(w, i);
	else
		airi__jw_null(w);
}

/* Writes "key": {"conditions": cond, "run": run}. */
static void ids_json(airi__jw *w, const char *key, const char *cond,
		     const char *run)
{
	airi__jw_key(w, key);
	airi__jw_obj(w);
	airi__jw_key(w, "conditions");
	airi__jw_str(w, cond);
	airi__jw_key(w, "run");
	airi__jw_str(w, run);
	airi__jw_end_obj(w);
}

static void divergence_json(airi__jw *w, const struct divergence *d, long step)
{
	if (!d->found) {
		airi__jw_null(w);
		return;
	}
	airi__jw_obj(w);
	airi__jw_key(w, "a");
	airi__jw_raw(w, d->ctx_a.p ? d->ctx_a.p : "null", d->ctx_a.p ? d->ctx_a.n : 4);
	airi__jw_key(w, "at_char");
	jw_index(w, d->at_char);
	airi__jw_key(w, "b");
	airi__jw_raw(w, d->ctx_b.p ? d->ctx_b.p : "null", d->ctx_b.p ? d->ctx_b.n : 4);
	airi__jw_key(w, "message");
	jw_index(w, d->message);
	airi__jw_key(w, "pointer");
	airi__jw_strn(w, d->ptr.p ? d->ptr.p : "", d->ptr.n);
	if (step >= 0) {
		airi__jw_key(w, "step");
		airi__jw_int(w, step);
	}
	airi__jw_key(w, "tool_call");
	if (d->tool_index >= 0) {
		airi__jw_obj(w);
		airi__jw_key(w, "index");
		airi__jw_int(w, d->tool_index);
		airi__jw_key(w, "name");
		if (d->tool_name)
			airi__jw_str(w, d->tool_name);
		else
			airi__jw_null(w);
		airi__jw_end_obj(w);
	} else {
		airi__jw_null(w);
	}
	airi__jw_key(w, "where");
	airi__jw_str(w, d->where);
	airi__jw_end_obj(w);
}

/* ---- printing for people ----------------------------------------------------- */

static void print_conditions(const struct compare *c, const char *indent)
{
	if (c->same_cond) {
		printf("%sconditions: identical\n", indent);
		return;
	}
	printf("%s%s\n", indent, cli_s(airi_value_get(c->verdict, "text")));
	const airi_value *secs = airi_value_get(airi_json_root(c->diff), "sections");
	int shown = 0, more = 0;
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		if (is_str(airi_value_get(s, "status"), "equal"))
			continue;
		const char *name = cli_s(airi_value_get(s, "name"));
		const airi_value *ch = airi_value_get(s, "changes");
		more += (int)airi_value_number(airi_value_get(s, "more"));
		for (size_t k = 0; k < airi_value_count(ch); k++) {
			if (shown >= MAX_CHANGES_SHOWN) {
				more++;
				continue;
			}
			const airi_value *x = airi_value_at(ch, k);
			const char *p = cli_s(airi_value_get(x, "pointer"));
			printf("%s  %s%s%s: ", indent, name, *p ? " " : "", *p ? p : "");
			if (airi_value_get(x, "a"))
				cli_inline(stdout, airi_value_get(x, "a"), 60);
			else
				fputs("(absent)", stdout);
			fputs(" -> ", stdout);
			if (airi_value_get(x, "b"))
				cli_inline(stdout, airi_value_get(x, "b"), 60);
			else
				fputs("(absent)", stdout);
			putchar('\n');
			shown++;
		}
	}
	if (more)
		printf("%s  ... and %d more\n", indent, more);
}

static void print_ctx(const char *label, const airi__buf *b, const char *indent)
{
	printf("%s  %-11s %.*s\n", indent, label, (int)(b->n > 400 ? 400 : b->n),
	       b->p ? b->p : "null");
}

static void print_output(const struct compare *c, const char *indent)
{
	if (c->same_out && c->nids) {
		printf("%soutput: the same answer; only %zu provider-assigned id%s "
		       "differ%s (%.*s%s)\n",
		       indent, c->nids, c->nids == 1 ? "" : "s", c->nids == 1 ? "s" : "",
		       (int)c->ids.n, c->ids.p ? c->ids.p : "",
		       c->nids > IDS_SHOWN ? " ..." : "");
		return;
	}
	if (c->same_out) {
		printf("%soutput: identical\n", indent);
		return;
	}
	const struct divergence *d = &c->div;
	printf("%soutput: diverges at %s", indent, d->where);
	if (d->at_char >= 0)
		printf(", character %lld", d->at_char);
	if (d->ptr.n && strcmp(d->where, d->ptr.p))
		printf(" (%s)", d->ptr.p);
	putchar('\n');
	print_ctx("recorded:", &d->ctx_a, indent);
	print_ctx("reproduced:", &d->ctx_b, indent);
}

static const char *result_name(int status)
{
	return status == 0 ? "identical"
	       : status == 1 ? "output_varied"
			     : "conditions_differ";
}

static void print_result(int status, size_t nids)
{
	if (status == 0 && nids)
		printf("result: identical: same conditions, same output (apart from "
		       "the ids the\n        provider assigns to each call)\n");
	else if (status == 0)
		printf("result: identical: same conditions, same output\n");
	else if (status == 1)
		printf("result: same conditions, output varied: the request was the "
		       "same, so the\n        difference comes from state the "
		       "request does not carry (the engine's\n        prompt cache, "
		       "batching, sampling) or from the provider\n");
	else
		printf("result: conditions differ\n");
}

/* Canonicalizes a report built in any member order and prints it. */
static int emit_json(airi__jw *w)
{
	size_t n;
	char *text = airi__jw_finish(w, &n), *canon = NULL;
	airi_json *doc = NULL;
	size_t cn;
	if (!text || airi_json_parse(text, n, &doc, NULL) ||
	    airi_canon(airi_json_root(doc), &canon, &cn)) {
		free(text);
		airi_json_free(doc);
		cli_errorf("reproduce: internal error: unreadable report");
		return EXIT_TROUBLE;
	}
	cli_write(canon, cn);
	putchar('\n');
	free(canon);
	free(text);
	airi_json_free(doc);
	return 0;
}

static void id_of(const airi_manifest *m, char out[AIRI_DIGEST_STRLEN])
{
	airi_digest_format(airi_manifest_run_id(m), out);
}

static void cond_of(const airi_manifest *m, char out[AIRI_DIGEST_STRLEN])
{
	airi_digest_format(airi_manifest_conditions_id(m), out);
}

/* ---- one model call ------------------------------------------------------------ */

static int exit_for(int same_cond, int same_out)
{
	return !same_cond ? EXIT_CONDITIONS : !same_out ? EXIT_DIFFERENT : 0;
}

static int reproduce_single(struct rp *rp, const airi_manifest *orig)
{
	struct recorded r;
	struct why w = {0, ""};
	struct done_call d;
	struct compare c;
	char *body = NULL;
	size_t blen = 0;
	char oid[AIRI_DIGEST_STRLEN], nid[AIRI_DIGEST_STRLEN];
	char ocond[AIRI_DIGEST_STRLEN], ncond[AIRI_DIGEST_STRLEN];
	int status;
	memset(&d, 0, sizeof(d));
	memset(&c, 0, sizeof(c));
	id_of(orig, oid);
	char what[100];
	snprintf(what, sizeof(what), "run %.19s...", oid);
	if (rp->live) {
		cli_errorf("reproduce: --live-tools applies to agent runs (grouped "
			   "runs with a trajectory of model calls); %s is one model "
			   "call",
			   what);
		return EXIT_USAGE;
	}
	if ((status = recorded_load(orig, what, rp->upstream_override != NULL, &r, &w)) ||
	    (status = rebuild(&r, NULL, 0, &body, &blen, &w)) ||
	    (status = round_trip(&r, rp->upstream_override ? rp->upstream_override
							    : r.upstream,
				 body, blen, 1, &w)) ||
	    (status = execute(rp, &r, body, blen, oid, &d, &w))) {
		cli_errorf("reproduce: %s", w.msg);
		goto out;
	}
	id_of(d.m, nid);
	if (d.error[0]) {
		cli_errorf("reproduce: %s (the reply was recorded as %s; not compared)",
			   d.error, nid);
		status = EXIT_TROUBLE;
		goto out;
	}
	if ((status = compare_runs(orig, d.m, &c, &w))) {
		cli_errorf("reproduce: %s", w.msg);
		goto out;
	}
	status = exit_for(c.same_cond, c.same_out);
	cond_of(orig, ocond);
	cond_of(d.m, ncond);
	if (rp->json) {
		airi__jw j;
		airi__jw_init(&j);
		airi__jw_obj(&j);
		airi__jw_key(&j, "api");
		airi__jw_str(&j, api_name(r.api));
		airi__jw_key(&j, "conditions");
		conditions_json(&j, &c);
		airi__jw_key(&j, "exit");
		airi__jw_int(&j, status);
		ids_json(&j, "original", ocond, oid);
		airi__jw_key(&j, "output");
		airi__jw_obj(&j);
		airi__jw_key(&j, "divergence");
		divergence_json(&j, &c.div, -1);
		airi__jw_key(&j, "identical");
		airi__jw_bool(&j, c.same_out);
		airi__jw_key(&j, "ids_differ");
		airi__jw_int(&j, (long long)c.nids);
		airi__jw_end_obj(&j);
		ids_json(&j, "reproduced", ncond, nid);
		airi__jw_key(&j, "result");
		airi__jw_str(&j, result_name(status));
		airi__jw_key(&j, "status");
		airi__jw_int(&j, d.status);
		airi__jw_key(&j, "stream");
		airi__jw_bool(&j, r.stream);
		airi__jw_end_obj(&j);
		int e = emit_json(&j);
		if (e)
			status = e;
	} else {
		printf("original:   %s  (%s, %s%s)\n", oid, api_name(r.api),
		       r.stream ? "streamed" : "not streamed",
		       rp->upstream_override ? ", sent to --upstream" : "");
		printf("reproduced: %s  (recorded, meta.reproduces = original)\n", nid);
		print_conditions(&c, "");
		print_output(&c, "");
		print_result(status, c.nids);
	}
out:
	compare_free(&c);
	done_free(&d);
	free(body);
	recorded_free(&r);
	return status;
}

/* ---- agent runs ------------------------------------------------------------------ */

/* Same tool calls: the same names and arguments in the same order (ids
 * are the provider's and may differ). */
static int same_tool_calls(const airi_value *a, const airi_value *b)
{
	if (airi_value_count(a) != airi_value_count(b))
		return 0;
	for (size_t i = 0; i < airi_value_count(a); i++) {
		const airi_value *x = airi_value_at(a, i), *y = airi_value_at(b, i);
		if (!val_eq(airi_value_get(x, "name"), airi_value_get(y, "name"), 0) ||
		    !val_eq(airi_value_get(x, "arguments"), airi_value_get(y, "arguments"), 0))
			return 0;
	}
	return 1;
}

static void print_tool_calls(const airi_value *calls)
{
	if (!airi_value_count(calls)) {
		fputs("no tool call", stdout);
		return;
	}
	for (size_t i = 0; i < airi_value_count(calls); i++) {
		const airi_value *c = airi_value_at(calls, i);
		if (i)
			fputs(", ", stdout);
		fputs(cli_s(airi_value_get(c, "name")), stdout);
		putchar(' ');
		cli_inline(stdout, airi_value_get(c, "arguments"), 80);
	}
}

/* Runs the --live-tools command with the call on standard input; its
 * standard output (one trailing newline removed) is the result. */
static int run_tool(const char *cmd, long timeout_s, const char *in, size_t inlen,
		    airi__buf *out, struct why *w)
{
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	int pin[2], pout[2];
	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC))
		return why(w, EXIT_TROUBLE, "--live-tools: pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return why(w, EXIT_TROUBLE, "--live-tools: fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0); /* its own group: a timeout ends its children too */
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	size_t off = 0;
	int wfd = pin[1], rfd = pout[0], rc = 0;
	if (!inlen) {
		close(wfd);
		wfd = -1;
	}
	while (rfd >= 0) {
		struct pollfd p[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
		int64_t left = deadline - now_ms();
		int pr = left > 0 ? poll(p, wfd >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left) : 0;
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pr == 0) {
			if (now_ms() < deadline)
				continue;
			rc = why(w, EXIT_TROUBLE, "--live-tools: the command did not finish "
						  "within %ld s (--timeout)",
				 timeout_s);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t k = write(wfd, in + off, inlen - off);
			if (k > 0)
				off += (size_t)k;
			if (k < 0 || off == inlen) {
				close(wfd);
				wfd = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t k = read(rfd, buf, sizeof(buf));
			if (k > 0) {
				if (out->n + (size_t)k > TOOL_OUT_MAX) {
					rc = why(w, EXIT_TROUBLE,
						 "--live-tools: the command wrote more "
						 "than %zu bytes",
						 TOOL_OUT_MAX);
					kill(-pid, SIGKILL);
					kill(pid, SIGKILL);
					break;
				}
				airi__buf_add(out, buf, (size_t)k);
			} else if (k == 0 || errno != EINTR) {
				break;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	close(rfd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	signal(SIGPIPE, old);
	if (rc)
		return rc;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return why(w, EXIT_TROUBLE, "--live-tools: the command %s %d",
			   WIFEXITED(st) ? "exited with status" : "was killed by signal",
			   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	if (out->n && out->p[out->n - 1] == '\n')
		out->n--;
	/* it goes into a JSON string: it must be text */
	if (!airi__utf8_ok(out->p ? out->p : "", out->n))
		return why(w, EXIT_TROUBLE, "--live-tools: the command's output is not "
					    "UTF-8 text");
	return 0;
}

struct step_report {
	long step;           /* index in the original trajectory */
	int model_call;
	char orig[AIRI_DIGEST_STRLEN], repro[AIRI_DIGEST_STRLEN];
	int same_cond, same_out, same_tools;
	size_t nids;         /* provider-assigned ids that differ */
	char *name;          /* tool call steps: the tool */
	char *args;          /* and its arguments, canonical JSON */
	int live;
};

static char *canon_text(const airi_value *v)
{
	airi__buf b;
	airi__buf_init(&b);
	if (v)
		airi__canon_to_buf(v, &b);
	else
		airi__buf_adds(&b, "null");
	return airi__buf_detach(&b, NULL);
}

/* Builds the next request's conversation for --live-tools: what was sent
 * for this call, the new assistant message, the tool results, and what the
 * recorded next request has after its tool results. */
static int live_messages(const struct recorded *cur, const char *sent, size_t sent_len,
			 const struct recorded *next, const airi_value *new_out,
			 const airi_value *rec_out, const airi_value *calls,
			 const char *cmd, long timeout_s, airi__buf *res, long step,
			 struct why *w)
{
	enum api api = cur->api;
	const airi_value *rec_k = airi_value_get(cur->input, "messages");
	const airi_value *rec_n = airi_value_get(next->input, "messages");
	if (airi_value_type(rec_k) != AIRI_ARRAY || airi_value_type(rec_n) != AIRI_ARRAY)
		return why(w, EXIT_TROUBLE, "step %ld: --live-tools needs the "
					    "conversation in /conditions/input/messages",
			   step);
	size_t nk = airi_value_count(rec_k), nn = airi_value_count(rec_n);
	for (size_t i = 0; i < nk; i++)
		if (i >= nn || !val_eq(airi_value_at(rec_k, i), airi_value_at(rec_n, i), 0))
			return why(w, EXIT_TROUBLE,
				   "step %ld: the recorded next request does not "
				   "continue this one's conversation, so --live-tools "
				   "cannot rebuild it",
				   step);
	size_t j = nk;
	const airi_value *rec_assistant = NULL;
	if (j < nn && is_str(airi_value_get(airi_value_at(rec_n, j), "role"), "assistant"))
		rec_assistant = airi_value_at(rec_n, j++);
	if (api == API_CHAT) {
		while (j < nn && is_str(airi_value_get(airi_value_at(rec_n, j), "role"), "tool"))
			j++;
	} else if (j < nn) {
		const airi_value *m = airi_value_at(rec_n, j);
		const airi_value *parts = airi_value_get(m, "content");
		int has = 0;
		for (size_t k = 0; k < airi_value_count(parts); k++)
			has |= airi_value_type(parts) == AIRI_ARRAY &&
			       is_str(airi_value_get(airi_value_at(parts, k), "type"),
				      "tool_result");
		if (is_str(airi_value_get(m, "role"), "user") && has)
			j++;
	}
	airi__jw o;
	airi__jw_init(&o);
	airi__jw_arr(&o);
	if (sent_len > 2)
		airi__jw_raw(&o, sent + 1, sent_len - 2);
	/* the assistant message: as the agent recorded it when the answer is
	 * the recorded one, else built from the new answer */
	const airi_value *na = NULL, *ra = NULL;
	if (api == API_CHAT) {
		na = airi_value_get(airi_value_at(airi_value_get(new_out, "choices"), 0), "message");
		ra = airi_value_get(airi_value_at(airi_value_get(rec_out, "choices"), 0), "message");
	} else {
		na = airi_value_get(new_out, "content");
		ra = airi_value_get(rec_out, "content");
	}
	if (rec_assistant && val_eq(na, ra, 0)) {
		airi__jw_value(&o, rec_assistant);
	} else if (api == API_CHAT) {
		airi__jw_obj(&o);
		jw_member(&o, "content", airi_value_get(na, "content"), NULL);
		airi__jw_key(&o, "role");
		airi__jw_str(&o, "assistant");
		const airi_value *tcs = airi_value_get(na, "tool_calls");
		if (airi_value_count(tcs)) {
			airi__jw_key(&o, "tool_calls");
			airi__jw_arr(&o);
			for (size_t i = 0; i < airi_value_count(tcs); i++) {
				const airi_value *tc = airi_value_at(tcs, i);
				const airi_value *f = airi_value_get(tc, "function");
				airi__jw_obj(&o);
				airi__jw_key(&o, "function");
				airi__jw_obj(&o);
				jw_member(&o, "arguments", airi_value_get(f, "arguments"), "");
				jw_member(&o, "name", airi_value_get(f, "name"), "");
				airi__jw_end_obj(&o);
				jw_member(&o, "id", airi_value_get(tc, "id"), "");
				jw_member(&o, "type", airi_value_get(tc, "type"), "function");
				airi__jw_end_obj(&o);
			}
			airi__jw_end_arr(&o);
		}
		airi__jw_end_obj(&o);
	} else {
		airi__jw_obj(&o);
		jw_member(&o, "content", na, NULL);
		airi__jw_key(&o, "role");
		airi__jw_str(&o, "assistant");
		airi__jw_end_obj(&o);
	}
	/* the tool results */
	if (api == API_MESSAGES && airi_value_count(calls)) {
		airi__jw_obj(&o);
		airi__jw_key(&o, "content");
		airi__jw_arr(&o);
	}
	int rc = 0;
	for (size_t i = 0; i < airi_value_count(calls) && !rc; i++) {
		const airi_value *call = airi_value_at(calls, i);
		airi__jw in;
		airi__jw_init(&in);
		airi__jw_obj(&in);
		airi__jw_key(&in, "arguments");
		airi__jw_value(&in, airi_value_get(call, "arguments"));
		airi__jw_key(&in, "id");
		airi__jw_value(&in, airi_value_get(call, "id"));
		airi__jw_key(&in, "name");
		airi__jw_value(&in, airi_value_get(call, "name"));
		airi__jw_end_obj(&in);
		size_t inl;
		char *intext = airi__jw_finish(&in, &inl);
		airi__buf result;
		airi__buf_init(&result);
		if (!intext)
			rc = why(w, EXIT_TROUBLE, "out of memory");
		if (!rc) {
			char *nl = NULL;
			if ((nl = realloc(intext, inl + 2))) {
				intext = nl;
				intext[inl++] = '\n';
				intext[inl] = 0;
			}
			rc = run_tool(cmd, timeout_s, intext, inl, &result, w);
		}
		free(intext);
		if (!rc) {
			airi__jw_obj(&o);
			airi__jw_key(&o, "content");
			airi__jw_strn(&o, result.p ? result.p : "", result.n);
			if (api == API_CHAT) {
				airi__jw_key(&o, "role");
				airi__jw_str(&o, "tool");
				airi__jw_key(&o, "tool_call_id");
				airi__jw_value(&o, airi_value_get(call, "id"));
			} else {
				airi__jw_key(&o, "tool_use_id");
				airi__jw_value(&o, airi_value_get(call, "id"));
				airi__jw_key(&o, "type");
				airi__jw_str(&o, "tool_result");
			}
			airi__jw_end_obj(&o);
		}
		airi__buf_release(&result);
	}
	if (api == API_MESSAGES && airi_value_count(calls)) {
		airi__jw_end_arr(&o);
		airi__jw_key(&o, "role");
		airi__jw_str(&o, "user");
		airi__jw_end_obj(&o);
	}
	for (size_t x = j; x < nn; x++)
		airi__jw_value(&o, airi_value_at(rec_n, x));
	airi__jw_end_arr(&o);
	size_t n;
	char *t = airi__jw_finish(&o, &n);
	if (rc) {
		free(t);
		return rc;
	}
	if (!t)
		return why(w, EXIT_TROUBLE, "out of memory");
	res->n = 0;
	airi__buf_add(res, t, n);
	free(t);
	return 0;
}

static int is_agent_run(const airi_manifest *m)
{
	const airi_value *t = airi_manifest_trajectory(m);
	for (size_t i = 0; i < airi_value_count(t); i++)
		if (is_str(airi_value_get(airi_value_at(t, i), "type"), "model_call"))
			return 1;
	return 0;
}

static int reproduce_agent(struct rp *rp, const airi_manifest *orig)
{
	const airi_value *traj = airi_manifest_trajectory(orig);
	size_t nt = airi_value_count(traj);
	struct why w = {0, ""};
	struct step_report *steps = NULL;
	size_t nsteps = 0;
	struct trajectory g; /* the new agent run, as group.c builds one */
	char oid[AIRI_DIGEST_STRLEN], nid[AIRI_DIGEST_STRLEN] = "";
	int status = 0;
	long stop_step = -1;
	char stop_text[300] = "";
	airi_json *stop_a = NULL, *stop_b = NULL; /* parsed from stop_ta/tb */
	char *stop_ta = NULL, *stop_tb = NULL;
	airi_manifest **calls = NULL; /* the recorded model calls, in order */
	struct compare *cmps = NULL;  /* each executed call against its original */
	long *call_step = NULL;
	size_t ncalls = 0, ran = 0;
	airi__buf sent; /* --live-tools: the conversation to send next */
	int have_sent = 0;
	airi_manifest *newm = NULL;
	memset(&g, 0, sizeof(g));
	airi__buf_init(&sent);
	id_of(orig, oid);
	/* fetch every recorded call first: a missing one stops nothing halfway */
	calls = calloc(nt, sizeof(*calls));
	cmps = calloc(nt, sizeof(*cmps));
	call_step = calloc(nt, sizeof(*call_step));
	if (!calls || !cmps || !call_step) {
		cli_errorf("reproduce: out of memory");
		status = EXIT_TROUBLE;
		goto out;
	}
	for (size_t i = 0; i < nt; i++) {
		const airi_value *s = airi_value_at(traj, i);
		if (!is_str(airi_value_get(s, "type"), "model_call"))
			continue;
		char *run = str_dup(airi_value_get(s, "run"));
		airi_digest d;
		airi_error err;
		if (!run || airi_digest_parse(run, &d)) {
			cli_errorf("reproduce: /trajectory/%zu/run is not a run ID", i);
			free(run);
			status = EXIT_TROUBLE;
			goto out;
		}
		if (airi_store_fetch(rp->store, &d, &calls[ncalls], &err)) {
			cli_errorf("reproduce: /trajectory/%zu/run: %s: %s", i, run,
				   err.message);
			free(run);
			status = EXIT_TROUBLE;
			goto out;
		}
		free(run);
		call_step[ncalls++] = (long)i;
	}
	g.start = now_ms();
	for (size_t k = 0; k < ncalls && stop_step < 0; k++) {
		struct recorded r;
		struct done_call d;
		char *body = NULL, *ta = NULL, *tb = NULL;
		size_t blen = 0, an = 0, bn = 0;
		char what[64];
		long step = call_step[k];
		airi_json *ja = NULL, *jb = NULL;
		snprintf(what, sizeof(what), "step %ld (model call %zu)", step, k + 1);
		memset(&d, 0, sizeof(d));
		int st = recorded_load(calls[k], what, rp->upstream_override != NULL, &r, &w);
		if (!st && rp->live && r.api != API_CHAT && r.api != API_MESSAGES)
			st = why(&w, EXIT_USAGE, "%s: --live-tools works with chat "
						 "completions and Anthropic messages only",
				 what);
		if (!st)
			st = rebuild(&r, have_sent ? sent.p : NULL, sent.n, &body, &blen, &w);
		if (!st)
			st = round_trip(&r, rp->upstream_override ? rp->upstream_override
								  : r.upstream,
					body, blen, !have_sent, &w);
		if (!st)
			st = execute(rp, &r, body, blen, NULL, &d, &w);
		if (!st && d.error[0]) {
			char nrun[AIRI_DIGEST_STRLEN];
			id_of(d.m, nrun);
			st = why(&w, EXIT_TROUBLE, "%s (recorded as %s)", d.error, nrun);
		}
		if (!st)
			st = compare_runs(calls[k], d.m, &cmps[k], &w);
		if (!st) {
			ran = k + 1;
			trajectory_add_call(&g, airi_manifest_root(d.m),
					    airi_manifest_run_id(d.m),
					    airi_manifest_conditions_id(d.m));
			ta = group_tool_calls(airi_manifest_output(calls[k]), &an);
			tb = group_tool_calls(airi_manifest_output(d.m), &bn);
			if (!ta || !tb || airi_json_parse(ta, an, &ja, NULL) ||
			    airi_json_parse(tb, bn, &jb, NULL))
				st = why(&w, EXIT_TROUBLE, "out of memory");
		}
		struct step_report *ns = NULL;
		if (!st && (ns = realloc(steps, (nsteps + 1) * sizeof(*steps)))) {
			steps = ns;
			ns = &steps[nsteps++];
			memset(ns, 0, sizeof(*ns));
			ns->step = step;
			ns->model_call = 1;
			id_of(calls[k], ns->orig);
			id_of(d.m, ns->repro);
			ns->same_cond = cmps[k].same_cond;
			ns->same_out = cmps[k].same_out;
			ns->nids = cmps[k].nids;
			ns->same_tools = same_tool_calls(airi_json_root(ja), airi_json_root(jb));
			if (!ns->same_tools) {
				/* the replay cannot go on: stop here and say so */
				stop_step = step;
				snprintf(stop_text, sizeof(stop_text),
					 "stopped at step %ld (model call %zu of %zu): the "
					 "model asked for other tool calls than recorded",
					 step, k + 1, ncalls);
				stop_a = ja;
				stop_b = jb;
				stop_ta = ta;
				stop_tb = tb;
				ja = jb = NULL;
				ta = tb = NULL;
			}
		} else if (!st) {
			st = why(&w, EXIT_TROUBLE, "out of memory");
		}
		if (!st && stop_step < 0 && k + 1 < ncalls) {
			/* the tool steps between this call and the next */
			size_t ntools = airi_value_count(airi_json_root(jb));
			if (rp->live) {
				struct recorded next;
				char nwhat[64];
				airi__buf cur, nextmsgs;
				airi__buf_init(&cur);
				airi__buf_init(&nextmsgs);
				snprintf(nwhat, sizeof(nwhat), "step %ld (model call %zu)",
					 call_step[k + 1], k + 2);
				if (have_sent)
					airi__buf_add(&cur, sent.p, sent.n);
				else
					airi__canon_to_buf(airi_value_get(r.input, "messages"), &cur);
				st = recorded_load(calls[k + 1], nwhat,
						   rp->upstream_override != NULL, &next, &w);
				if (!st)
					st = live_messages(&r, cur.p ? cur.p : "[]",
							   cur.p ? cur.n : 2, &next,
							   airi_manifest_output(d.m),
							   airi_manifest_output(calls[k]),
							   airi_json_root(jb), rp->live,
							   rp->timeout, &nextmsgs, step, &w);
				recorded_free(&next);
				airi__buf_release(&cur);
				if (!st) {
					sent.n = 0;
					airi__buf_add(&sent, nextmsgs.p, nextmsgs.n);
					have_sent = 1;
				}
				airi__buf_release(&nextmsgs);
			}
			for (size_t i = 0; !st && i < ntools; i++) {
				const airi_value *call = airi_value_at(airi_json_root(jb), i);
				long s = step + 1 + (long)i;
				const airi_value *ts = s < call_step[k + 1]
							       ? airi_value_at(traj, (size_t)s)
							       : NULL;
				ns = realloc(steps, (nsteps + 1) * sizeof(*steps));
				if (!ns) {
					st = why(&w, EXIT_TROUBLE, "out of memory");
					break;
				}
				steps = ns;
				ns = &steps[nsteps++];
				memset(ns, 0, sizeof(*ns));
				ns->step = is_str(airi_value_get(ts, "type"), "tool_call") ? s : -1;
				ns->name = str_dup(airi_value_get(call, "name"));
				ns->args = canon_text(airi_value_get(call, "arguments"));
				ns->live = rp->live != NULL;
			}
		}
		airi_json_free(ja);
		airi_json_free(jb);
		free(ta);
		free(tb);
		free(body);
		done_free(&d);
		recorded_free(&r);
		if (st) {
			if (strncmp(w.msg, "step ", 5)) {
				char tmp[sizeof(w.msg)];
				snprintf(tmp, sizeof(tmp), "%s: %s", what, w.msg);
				snprintf(w.msg, sizeof(w.msg), "%s", tmp);
			}
			cli_errorf("reproduce: %s", w.msg);
			status = st;
			goto out;
		}
	}
	g.end = now_ms();
	/* the new agent run */
	{
		airi__buf b;
		airi_error err;
		airi__buf_init(&b);
		trajectory_manifest(&g, NULL, &b);
		airi__buf_printf(&b, ",\"reproduces\":\"%s\"", oid);
		airi__buf_printf(&b, ",\"tools\":\"%s\"", rp->live ? "live" : "recorded");
		if (stop_step >= 0)
			airi__buf_printf(&b, ",\"stopped_at\":%ld", stop_step);
		airi__buf_adds(&b, "}}");
		if (!g.calls || b.failed || airi_manifest_parse(b.p, b.n, &newm, &err)) {
			airi__buf_release(&b);
			cli_errorf("reproduce: internal error: the new agent run does not "
				   "parse");
			status = EXIT_TROUBLE;
			goto out;
		}
		airi__buf_release(&b);
		if (record_manifest(rp, newm, NULL, &w)) {
			cli_errorf("reproduce: %s", w.msg);
			status = EXIT_TROUBLE;
			goto out;
		}
		id_of(newm, nid);
	}
	/* the first call whose conditions differ, and the first whose output does */
	long fc = -1, fo = -1;
	for (size_t k = 0; k < ran; k++) {
		if (fc < 0 && !cmps[k].same_cond)
			fc = (long)k;
		if (fo < 0 && !cmps[k].same_out)
			fo = (long)k;
	}
	status = fc >= 0 ? EXIT_CONDITIONS : (fo >= 0 || stop_step >= 0) ? EXIT_DIFFERENT : 0;
	if (rp->json) {
		airi__jw j;
		char oc[AIRI_DIGEST_STRLEN], nc[AIRI_DIGEST_STRLEN];
		cond_of(orig, oc);
		cond_of(newm, nc);
		airi__jw_init(&j);
		airi__jw_obj(&j);
		airi__jw_key(&j, "conditions");
		/* the first call whose conditions differ, else the first call */
		conditions_json(&j, &cmps[fc >= 0 ? fc : 0]);
		airi__jw_key(&j, "conditions_step");
		if (fc >= 0)
			airi__jw_int(&j, call_step[fc]);
		else
			airi__jw_null(&j);
		airi__jw_key(&j, "exit");
		airi__jw_int(&j, status);
		ids_json(&j, "original", oc, oid);
		airi__jw_key(&j, "output");
		airi__jw_obj(&j);
		airi__jw_key(&j, "divergence");
		if (fo >= 0)
			divergence_json(&j, &cmps[fo].div, call_step[fo]);
		else
			airi__jw_null(&j);
		airi__jw_key(&j, "identical");
		airi__jw_bool(&j, fo < 0);
		airi__jw_end_obj(&j);
		ids_json(&j, "reproduced", nc, nid);
		airi__jw_key(&j, "result");
		airi__jw_str(&j, result_name(status));
		airi__jw_key(&j, "steps");
		airi__jw_arr(&j);
		for (size_t i = 0; i < nsteps; i++) {
			struct step_report *s = &steps[i];
			airi__jw_obj(&j);
			if (s->model_call) {
				airi__jw_key(&j, "conditions_identical");
				airi__jw_bool(&j, s->same_cond);
				airi__jw_key(&j, "original");
				airi__jw_str(&j, s->orig);
				airi__jw_key(&j, "output_identical");
				airi__jw_bool(&j, s->same_out);
				airi__jw_key(&j, "output_ids_differ");
				airi__jw_int(&j, (long long)s->nids);
				airi__jw_key(&j, "reproduced");
				airi__jw_str(&j, s->repro);
				airi__jw_key(&j, "tool_calls_as_recorded");
				airi__jw_bool(&j, s->same_tools);
			} else {
				airi__jw_key(&j, "arguments");
				airi__jw_raw(&j, s->args ? s->args : "null",
					     strlen(s->args ? s->args : "null"));
				airi__jw_key(&j, "name");
				if (s->name)
					airi__jw_str(&j, s->name);
				else
					airi__jw_null(&j);
				airi__jw_key(&j, "result");
				airi__jw_str(&j, s->live ? "live" : "recorded");
			}
			airi__jw_key(&j, "step");
			jw_index(&j, s->step);
			airi__jw_key(&j, "type");
			airi__jw_str(&j, s->model_call ? "model_call" : "tool_call");
			airi__jw_end_obj(&j);
		}
		airi__jw_end_arr(&j);
		airi__jw_key(&j, "stopped");
		if (stop_step >= 0) {
			airi__jw_obj(&j);
			airi__jw_key(&j, "recorded");
			airi__jw_value(&j, airi_json_root(stop_a));
			airi__jw_key(&j, "reproduced");
			airi__jw_value(&j, airi_json_root(stop_b));
			airi__jw_key(&j, "step");
			airi__jw_int(&j, stop_step);
			airi__jw_key(&j, "text");
			airi__jw_str(&j, stop_text);
			airi__jw_end_obj(&j);
		} else {
			airi__jw_null(&j);
		}
		airi__jw_key(&j, "tools");
		airi__jw_str(&j, rp->live ? "live" : "recorded");
		airi__jw_end_obj(&j);
		int e = emit_json(&j);
		if (e)
			status = e;
	} else {
		printf("original:   %s  (agent run, %zu model calls; tool results %s)\n",
		       oid, ncalls, rp->live ? "from --live-tools" : "as recorded (hermetic)");
		printf("reproduced: %s  (recorded, meta.reproduces = original)\n", nid);
		size_t hidden = 0;
		for (size_t i = 0; i < nsteps; i++) {
			struct step_report *s = &steps[i];
			/* one screen: a long run shows only the calls that differ */
			if (nsteps > 16 && (!s->model_call || (s->same_cond && s->same_out &&
								s->same_tools))) {
				hidden++;
				continue;
			}
			if (s->step >= 0)
				printf("  step %-3ld ", s->step);
			else
				printf("           ");
			if (s->model_call) {
				printf("model call  %.19s... -> %.19s...  conditions %s, "
				       "output %s%s\n",
				       s->orig, s->repro, s->same_cond ? "identical" : "differ",
				       !s->same_out ? "varied"
				       : s->nids   ? "the same (other ids)"
						   : "identical",
				       s->same_tools ? "" : ", other tool calls");
			} else {
				printf("tool call   %s %.60s: %s\n", s->name ? s->name : "?",
				       s->args ? s->args : "null",
				       s->live ? "ran --live-tools, its output fed back"
					       : "recorded result fed back");
			}
		}
		if (hidden)
			printf("  (%zu more steps as recorded; --json lists every step)\n",
			       hidden);
		if (stop_step >= 0) {
			printf("%s\n  recorded:   ", stop_text);
			print_tool_calls(airi_json_root(stop_a));
			printf("\n  reproduced: ");
			print_tool_calls(airi_json_root(stop_b));
			putchar('\n');
		}
		if (fc >= 0) {
			printf("step %ld: ", call_step[fc]);
			print_conditions(&cmps[fc], "");
		} else {
			printf("conditions: identical (every model call)\n");
		}
		if (fo >= 0) {
			printf("step %ld: ", call_step[fo]);
			print_output(&cmps[fo], "");
		} else {
			size_t nids = 0;
			for (size_t k = 0; k < ran; k++)
				nids += cmps[k].nids;
			if (nids)
				printf("output: the same answers (every model call); %zu "
				       "provider-assigned id%s differ%s\n",
				       nids, nids == 1 ? "" : "s", nids == 1 ? "s" : "");
			else
				printf("output: identical (every model call)\n");
			print_result(status, nids);
		}
		if (fo >= 0)
			print_result(status, 0);
	}
out:
	for (size_t i = 0; i < ncalls; i++) {
		airi_manifest_free(calls[i]);
		compare_free(&cmps[i]);
	}
	free(calls);
	free(cmps);
	free(call_step);
	for (size_t i = 0; i < nsteps; i++) {
		free(steps[i].name);
		free(steps[i].args);
	}
	free(steps);
	airi_json_free(stop_a);
	airi_json_free(stop_b);
	free(stop_ta);
	free(stop_tb);
	airi_manifest_free(newm);
	airi__buf_release(&sent);
	trajectory_release(&g);
	return status;
}

int cmd_reproduce(struct args *a)
{
	struct rp rp;
	airi_manifest *orig = NULL;
	int status;
	memset(&rp, 0, sizeof(rp));
	rp.a = a;
	rp.json = cli_opt(a, "json");
	rp.live = cli_val(a, "live-tools");
	rp.timeout = 300;
	if (a->npos != 1) {
		cli_errorf("reproduce: expected one RUN (an ID, prefix, run key or "
			   "manifest file)");
		return EXIT_USAGE;
	}
	const char *t = cli_val(a, "timeout");
	if (t) {
		char *e;
		errno = 0;
		long v = strtol(t, &e, 10);
		if (errno || e == t || *e || v < 1 || v > 86400) {
			cli_errorf("reproduce: --timeout must be a number of seconds "
				   "from 1 to 86400");
			return EXIT_USAGE;
		}
		rp.timeout = v;
	}
	if (rp.live && !*rp.live) {
		cli_errorf("reproduce: --live-tools needs a command");
		return EXIT_USAGE;
	}
	const char *up = cli_val(a, "upstream");
	if (up) {
		if ((strncmp(up, "http://", 7) && strncmp(up, "https://", 8)) ||
		    !plain_ascii(up)) {
			cli_errorf("reproduce: --upstream must be an http:// or https:// "
				   "URL");
			return EXIT_USAGE;
		}
		/* trailing slashes removed, as airi proxy does */
		rp.upstream_override = strdup(up);
		size_t n = rp.upstream_override ? strlen(rp.upstream_override) : 0;
		while (n > 8 && rp.upstream_override[n - 1] == '/')
			rp.upstream_override[--n] = 0;
	}
	if ((status = cli_load_run(a, a->pos[0], &rp.store, &orig)))
		goto out;
	if (!rp.store && !(rp.store = cli_store(a, AIRI_STORE_CREATE, &status)))
		goto out;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (is_agent_run(orig))
		status = reproduce_agent(&rp, orig);
	else
		status = reproduce_single(&rp, orig);
	curl_global_cleanup();
	if (rp.recorded) {
		int s = cli_sign_checkpoint(a, rp.store);
		if (s && (status == 0 || status == EXIT_DIFFERENT ||
			  status == EXIT_CONDITIONS))
			status = s;
	}
out:
	airi_manifest_free(orig);
	airi_store_close(rp.store);
	free(rp.upstream_override);
	return status;
}
