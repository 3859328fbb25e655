/*
 * modelfmt.c - readers for the headers of model-weight files, so that a run
 * can name the exact weights it used: GGUF (llama.cpp, versions 2 and 3)
 * and safetensors. Each reader takes the whole file (mmapped by the caller)
 * and appends one JSON object describing it: tensor and parameter counts,
 * and for GGUF the architecture, quantization and the digests of the
 * tokenizer and the chat template. The input is hostile: every read is
 * checked against the length, every count is capped and checked against
 * the bytes left before anything is looped over or allocated, and
 * arithmetic on sizes is overflow-checked, so a file can neither crash,
 * hang nor exhaust memory.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

const EVP_MD *airi__sha256(void);

#define MF_MAX_COUNT 1000000u              /* metadata entries, tensors */
#define MF_MAX_STRING ((uint64_t)64 << 20) /* 64 MiB */
#define MF_MAX_DIMS 8u
#define MF_MAX_HEADER ((uint64_t)100 << 20) /* safetensors JSON header */
#define MF_MAX_EXACT ((uint64_t)1 << 53)    /* larger numbers: strings */

/* ---- shared helpers ----------------------------------------------------- */

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xBF)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* An unsigned count: a JSON integer up to 2^53, a decimal string above. */
static void jw_u64(airi__jw *w, uint64_t v)
{
	if (v <= MF_MAX_EXACT) {
		airi__jw_int(w, (long long)v);
	} else {
		char s[24];
		snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
		airi__jw_str(w, s);
	}
}

static void jw_i64(airi__jw *w, int64_t v)
{
	if (v >= -(int64_t)MF_MAX_EXACT && v <= (int64_t)MF_MAX_EXACT) {
		airi__jw_int(w, (long long)v);
	} else {
		char s[24];
		snprintf(s, sizeof(s), "%lld", (long long)v);
		airi__jw_str(w, s);
	}
}

/* Moves the finished object to out; out is untouched on failure. */
static int jw_emit(airi__jw *w, airi__buf *out, airi_error *err)
{
	size_t n;
	char *s = airi__jw_finish(w, &n);
	int rc;
	if (!s)
		return airi__err(err, AIRI_ENOMEM, "model header: out of memory");
	rc = airi__buf_add(out, s, n);
	free(s);
	if (rc)
		return airi__err(err, AIRI_ENOMEM, "model header: out of memory");
	return 0;
}

/* ---- GGUF --------------------------------------------------------------- */

/*
 * Layout (little-endian): "GGUF", u32 version, u64 tensor_count, u64
 * kv_count, kv_count x (string key, u32 type, value), tensor_count x
 * (string name, u32 n_dims, n_dims x u64, u32 ggml type, u64 offset), then
 * padding and the tensor data, which is not read. A string is a u64 length
 * and that many bytes.
 */

enum {
	GT_UINT8, GT_INT8, GT_UINT16, GT_INT16, GT_UINT32, GT_INT32,
	GT_FLOAT32, GT_BOOL, GT_STRING, GT_ARRAY, GT_UINT64, GT_INT64,
	GT_FLOAT64, GT_COUNT
};

/* size of a fixed-size value type; 0 for string, array and unknown */
static size_t gt_size(uint32_t t)
{
	static const unsigned char sz[GT_COUNT] = {1, 1, 2, 2, 4, 4, 4,
						   1, 0, 0, 8, 8, 8};
	return t < GT_COUNT ? sz[t] : 0;
}

typedef struct {
	const unsigned char *p;
	size_t len, pos;
} mf_rd;

static uint32_t rd_u32(mf_rd *r)
{
	const unsigned char *q = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
	       (uint32_t)q[3] << 24;
}

static uint64_t rd_u64(mf_rd *r)
{
	uint64_t lo = rd_u32(r);
	return lo | (uint64_t)rd_u32(r) << 32;
}

static size_t rd_left(const mf_rd *r)
{
	return r->len - r->pos;
}

/* A signed or unsigned integer value of a metadata entry. */
typedef struct {
	int present;
	int is_signed;
	uint64_t u;
	int64_t s;
} mf_int;

typedef struct {
	airi_error *err;
	const char *what; /* "KV 3 (general.name)" etc., built on failure */
	/* results */
	const unsigned char *arch, *name, *tmpl;
	size_t arch_n, name_n, tmpl_n;
	int has_arch, has_name, has_tmpl, has_tok;
	mf_int ftype, ctx_len;
	EVP_MD_CTX *tok;
} gguf_st;

/* Describes entry i (and its key when it is short printable ASCII). */
static void kv_label(char *buf, size_t cap, uint64_t i,
		     const unsigned char *key, size_t key_n)
{
	int printable = key && key_n > 0 && key_n <= 64;
	for (size_t j = 0; printable && j < key_n; j++)
		if (key[j] < 0x20 || key[j] > 0x7E)
			printable = 0;
	if (printable)
		snprintf(buf, cap, "KV %llu (%.*s)", (unsigned long long)i,
			 (int)key_n, (const char *)key);
	else
		snprintf(buf, cap, "KV %llu", (unsigned long long)i);
}

static int gguf_past_end(airi_error *err, const char *what, size_t at)
{
	return airi__err(err, AIRI_EINVAL,
			 "GGUF: %s runs past the end at byte %zu", what, at);
}

/* Reads a string's length and checks the bytes are there. */
static int rd_string(mf_rd *r, const unsigned char **s, size_t *n,
		     airi_error *err, const char *what)
{
	uint64_t l;
	if (rd_left(r) < 8)
		return gguf_past_end(err, what, r->pos);
	l = rd_u64(r);
	if (l > MF_MAX_STRING)
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: %s is %llu bytes long (over 64 MiB) "
				 "at byte %zu",
				 what, (unsigned long long)l, r->pos - 8);
	if (l > rd_left(r))
		return gguf_past_end(err, what, r->pos - 8);
	*s = r->p + r->pos;
	*n = (size_t)l;
	r->pos += (size_t)l;
	return 0;
}

static int rd_int_value(mf_rd *r, uint32_t t, mf_int *v)
{
	const unsigned char *q = r->p + r->pos;
	uint64_t u = 0;
	size_t sz = gt_size(t);
	for (size_t i = 0; i < sz; i++)
		u |= (uint64_t)q[i] << (8 * i);
	r->pos += sz;
	v->present = 1;
	v->is_signed = 0;
	v->u = u;
	switch (t) {
	case GT_INT8:
		v->is_signed = 1;
		v->s = (int8_t)u;
		break;
	case GT_INT16:
		v->is_signed = 1;
		v->s = (int16_t)u;
		break;
	case GT_INT32:
		v->is_signed = 1;
		v->s = (int32_t)u;
		break;
	case GT_INT64:
		v->is_signed = 1;
		v->s = (int64_t)u;
		break;
	}
	return 0;
}

static int is_int_type(uint32_t t)
{
	return t <= GT_INT32 || t == GT_UINT64 || t == GT_INT64;
}

/* Skips one value of type t (the type already read). */
static int skip_value(mf_rd *r, uint32_t t, airi_error *err,
		      const char *what)
{
	size_t sz = gt_size(t);
	if (sz) {
		if (rd_left(r) < sz)
			return gguf_past_end(err, what, r->pos);
		r->pos += sz;
		return 0;
	}
	if (t == GT_STRING) {
		const unsigned char *s;
		size_t n;
		return rd_string(r, &s, &n, err, what);
	}
	if (t == GT_ARRAY) {
		uint32_t et;
		uint64_t count;
		size_t at = r->pos;
		if (rd_left(r) < 12)
			return gguf_past_end(err, what, r->pos);
		et = rd_u32(r);
		count = rd_u64(r);
		sz = gt_size(et);
		if (sz) {
			if (count > rd_left(r) / sz)
				return airi__err(err, AIRI_EINVAL,
						 "GGUF: %s: array of %llu "
						 "elements runs past the end "
						 "at byte %zu",
						 what,
						 (unsigned long long)count, at);
			r->pos += (size_t)count * sz;
			return 0;
		}
		if (et == GT_STRING) {
			/* each element takes at least its 8-byte length */
			if (count > rd_left(r) / 8)
				return airi__err(err, AIRI_EINVAL,
						 "GGUF: %s: array of %llu "
						 "strings runs past the end "
						 "at byte %zu",
						 what,
						 (unsigned long long)count, at);
			for (uint64_t i = 0; i < count; i++) {
				const unsigned char *s;
				size_t n;
				int rc = rd_string(r, &s, &n, err, what);
				if (rc)
					return rc;
			}
			return 0;
		}
		if (et == GT_ARRAY)
			return airi__err(err, AIRI_EINVAL,
					 "GGUF: %s: nested arrays are not "
					 "supported at byte %zu",
					 what, at);
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: %s: unknown array element type %lu "
				 "at byte %zu",
				 what, (unsigned long)et, at);
	}
	return airi__err(err, AIRI_EINVAL,
			 "GGUF: %s: unknown value type %lu at byte %zu", what,
			 (unsigned long)t, r->pos - 4);
}

static int key_is(const unsigned char *k, size_t n, const char *s)
{
	size_t l = strlen(s);
	return n == l && !memcmp(k, s, l);
}

static int dup_key(airi_error *err, const char *label, size_t at)
{
	return airi__err(err, AIRI_EINVAL, "GGUF: %s: duplicate key at byte %zu",
			 label, at);
}

static int want_type(airi_error *err, const char *label, size_t at,
		     const char *kind)
{
	return airi__err(err, AIRI_EINVAL, "GGUF: %s is not %s at byte %zu",
			 label, kind, at);
}

/*
 * Walks the metadata entries. Pass 1 validates everything and collects
 * the general.* keys, the tokenizer digest and the chat template; pass 2
 * (over bytes pass 1 validated) finds <architecture>.context_length, which
 * may come before general.architecture in the file.
 */
static int gguf_kvs(mf_rd *r, uint64_t count, gguf_st *st, int pass)
{
	char label[96];
	for (uint64_t i = 0; i < count; i++) {
		size_t start = r->pos, vstart;
		const unsigned char *key;
		size_t key_n;
		uint32_t t;
		int rc;
		kv_label(label, sizeof(label), i, NULL, 0);
		strcat(label, " key");
		rc = rd_string(r, &key, &key_n, st->err, label);
		if (rc)
			return rc;
		kv_label(label, sizeof(label), i, key, key_n);
		if (rd_left(r) < 4) {
			strcat(label, " type");
			return gguf_past_end(st->err, label, r->pos);
		}
		t = rd_u32(r);
		vstart = r->pos;
		if (pass == 2) {
			if (st->has_arch && key_n == st->arch_n + 15 &&
			    !memcmp(key, st->arch, st->arch_n) &&
			    !memcmp(key + st->arch_n, ".context_length", 15)) {
				if (st->ctx_len.present)
					return dup_key(st->err, label, start);
				if (!is_int_type(t))
					return want_type(st->err, label, start,
							 "an integer");
				rd_int_value(r, t, &st->ctx_len);
				continue;
			}
			rc = skip_value(r, t, st->err, label);
			if (rc)
				return rc;
			continue;
		}
		if (key_is(key, key_n, "general.architecture") ||
		    key_is(key, key_n, "general.name") ||
		    key_is(key, key_n, "tokenizer.chat_template")) {
			const unsigned char *s;
			size_t n;
			int which = key_n == 20 ? 0 : key_n == 12 ? 1 : 2;
			int *has = which == 0	? &st->has_arch
				   : which == 1 ? &st->has_name
						: &st->has_tmpl;
			if (*has)
				return dup_key(st->err, label, start);
			if (t != GT_STRING)
				return want_type(st->err, label, start,
						 "a string");
			rc = rd_string(r, &s, &n, st->err, label);
			if (rc)
				return rc;
			if (which < 2 && !utf8_valid(s, n))
				return airi__err(st->err, AIRI_EINVAL,
						 "GGUF: %s is not valid UTF-8 "
						 "at byte %zu",
						 label, vstart + 8);
			*has = 1;
			if (which == 0) {
				st->arch = s;
				st->arch_n = n;
			} else if (which == 1) {
				st->name = s;
				st->name_n = n;
			} else {
				st->tmpl = s;
				st->tmpl_n = n;
			}
		} else if (key_is(key, key_n, "general.file_type")) {
			if (st->ftype.present)
				return dup_key(st->err, label, start);
			if (!is_int_type(t))
				return want_type(st->err, label, start,
						 "an integer");
			if (rd_left(r) < gt_size(t))
				return gguf_past_end(st->err, label, r->pos);
			rd_int_value(r, t, &st->ftype);
		} else {
			rc = skip_value(r, t, st->err, label);
			if (rc)
				return rc;
		}
		if (key_n >= 15 && !memcmp(key, "tokenizer.ggml.", 15)) {
			if (EVP_DigestUpdate(st->tok, r->p + start,
					     r->pos - start) != 1)
				return airi__err(st->err, AIRI_ENOMEM,
						 "GGUF: hashing failed");
			st->has_tok = 1;
		}
	}
	return 0;
}

static const char *ftype_name(uint64_t t)
{
	static const char *const names[] = {
		"ALL_F32",	  "MOSTLY_F16",	    "MOSTLY_Q4_0",
		"MOSTLY_Q4_1",	  "MOSTLY_Q4_1_SOME_F16", NULL,
		NULL,		  "MOSTLY_Q8_0",    "MOSTLY_Q5_0",
		"MOSTLY_Q5_1",	  "MOSTLY_Q2_K",    "MOSTLY_Q3_K_S",
		"MOSTLY_Q3_K_M",  "MOSTLY_Q3_K_L",  "MOSTLY_Q4_K_S",
		"MOSTLY_Q4_K_M",  "MOSTLY_Q5_K_S",  "MOSTLY_Q5_K_M",
		"MOSTLY_Q6_K",	  "MOSTLY_IQ2_XXS", "MOSTLY_IQ2_XS",
		"MOSTLY_Q2_K_S",  "MOSTLY_IQ3_XS",  "MOSTLY_IQ3_XXS",
		"MOSTLY_IQ1_S",	  "MOSTLY_IQ4_NL",  "MOSTLY_IQ3_S",
		"MOSTLY_IQ3_M",	  "MOSTLY_IQ2_S",   "MOSTLY_IQ2_M",
		"MOSTLY_IQ4_XS",  "MOSTLY_IQ1_M",   "MOSTLY_BF16",
		NULL,		  NULL,		    NULL,
		"MOSTLY_TQ1_0",	  "MOSTLY_TQ2_0",   "MOSTLY_MXFP4_MOE",
	};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : NULL;
}

static void jw_mf_int(airi__jw *w, const mf_int *v)
{
	if (v->is_signed)
		jw_i64(w, v->s);
	else
		jw_u64(w, v->u);
}

static int gguf_tensors(mf_rd *r, uint64_t count, uint64_t *params,
			airi_error *err)
{
	char label[64];
	uint64_t total = 0;
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *name;
		size_t name_n, at;
		uint32_t nd;
		uint64_t prod = 1;
		int rc;
		snprintf(label, sizeof(label), "tensor %llu name",
			 (unsigned long long)i);
		rc = rd_string(r, &name, &name_n, err, label);
		if (rc)
			return rc;
		snprintf(label, sizeof(label), "tensor %llu dimensions",
			 (unsigned long long)i);
		if (rd_left(r) < 4)
			return gguf_past_end(err, label, r->pos);
		at = r->pos;
		nd = rd_u32(r);
		if (nd > MF_MAX_DIMS)
			return airi__err(err, AIRI_EINVAL,
					 "GGUF: tensor %llu has %lu dimensions "
					 "(at most %u) at byte %zu",
					 (unsigned long long)i,
					 (unsigned long)nd, MF_MAX_DIMS, at);
		if (rd_left(r) < (size_t)nd * 8 + 12)
			return gguf_past_end(err, label, at);
		for (uint32_t d = 0; d < nd; d++) {
			uint64_t x = rd_u64(r);
			if (x && prod > UINT64_MAX / x)
				return airi__err(err, AIRI_EINVAL,
						 "GGUF: tensor %llu: element "
						 "count overflows at byte %zu",
						 (unsigned long long)i,
						 r->pos - 8);
			prod *= x;
		}
		(void)rd_u32(r); /* ggml type */
		(void)rd_u64(r); /* data offset */
		if (prod > UINT64_MAX - total)
			return airi__err(err, AIRI_EINVAL,
					 "GGUF: parameter count overflows at "
					 "tensor %llu (byte %zu)",
					 (unsigned long long)i, at);
		total += prod;
	}
	*params = total;
	return 0;
}

int airi__gguf_info(const unsigned char *data, size_t len, airi__buf *out,
		    airi_error *err)
{
	mf_rd r = {data, len, 0};
	gguf_st st;
	uint32_t version;
	uint64_t n_tensors, n_kv, params = 0;
	size_t kv_start;
	airi_digest d;
	unsigned int dl = 0;
	airi__jw w;
	int rc;

	if (!data && len)
		return airi__err(err, AIRI_EINVAL, "GGUF: no data");
	if (len < 4 || memcmp(data, "GGUF", 4))
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: not a GGUF file (no \"GGUF\" magic "
				 "at byte 0)");
	r.pos = 4;
	if (rd_left(&r) < 4)
		return gguf_past_end(err, "version", r.pos);
	version = rd_u32(&r);
	if (version != 2 && version != 3)
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: unsupported version %lu at byte 4 "
				 "(2 and 3 are read)",
				 (unsigned long)version);
	if (rd_left(&r) < 16)
		return gguf_past_end(err, "header", r.pos);
	n_tensors = rd_u64(&r);
	n_kv = rd_u64(&r);
	/* a metadata entry takes at least 8 + 4 + 1 bytes, a tensor 24 */
	if (n_kv > MF_MAX_COUNT || n_kv > rd_left(&r) / 13)
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: %llu metadata entries cannot fit "
				 "(at most %u, and the file has %zu bytes "
				 "left at byte 16)",
				 (unsigned long long)n_kv, MF_MAX_COUNT,
				 rd_left(&r));
	if (n_tensors > MF_MAX_COUNT || n_tensors > rd_left(&r) / 24)
		return airi__err(err, AIRI_EINVAL,
				 "GGUF: %llu tensors cannot fit (at most %u, "
				 "and the file has %zu bytes left at byte 8)",
				 (unsigned long long)n_tensors, MF_MAX_COUNT,
				 rd_left(&r));

	memset(&st, 0, sizeof(st));
	st.err = err;
	st.tok = EVP_MD_CTX_new();
	if (!st.tok || EVP_DigestInit_ex(st.tok, airi__sha256(), NULL) != 1) {
		EVP_MD_CTX_free(st.tok);
		return airi__err(err, AIRI_ENOMEM, "GGUF: out of memory");
	}
	kv_start = r.pos;
	rc = gguf_kvs(&r, n_kv, &st, 1);
	if (!rc)
		rc = gguf_tensors(&r, n_tensors, &params, err);
	if (!rc && st.has_arch) {
		mf_rd r2 = {data, len, kv_start};
		rc = gguf_kvs(&r2, n_kv, &st, 2);
	}
	if (!rc && st.has_tok &&
	    EVP_DigestFinal_ex(st.tok, d.bytes, &dl) != 1)
		rc = airi__err(err, AIRI_ENOMEM, "GGUF: hashing failed");
	EVP_MD_CTX_free(st.tok);
	if (rc)
		return rc;

	airi__jw_init(&w);
	airi__jw_obj(&w);
	if (st.has_arch) {
		airi__jw_key(&w, "architecture");
		airi__jw_strn(&w, (const char *)st.arch, st.arch_n);
	}
	if (st.has_tmpl) {
		airi_digest td;
		if (airi_digest_bytes(st.tmpl, st.tmpl_n, &td)) {
			airi__buf_release(&w.b);
			return airi__err(err, AIRI_ENOMEM,
					 "GGUF: hashing failed");
		}
		airi__jw_key(&w, "chat_template_digest");
		airi__jw_digest(&w, &td);
	}
	if (st.ctx_len.present) {
		airi__jw_key(&w, "context_length");
		jw_mf_int(&w, &st.ctx_len);
	}
	if (st.ftype.present) {
		airi__jw_key(&w, "file_type");
		jw_mf_int(&w, &st.ftype);
	}
	airi__jw_key(&w, "format");
	airi__jw_str(&w, "gguf");
	if (st.has_name) {
		airi__jw_key(&w, "name");
		airi__jw_strn(&w, (const char *)st.name, st.name_n);
	}
	airi__jw_key(&w, "parameters");
	jw_u64(&w, params);
	if (st.ftype.present && !(st.ftype.is_signed && st.ftype.s < 0)) {
		const char *q = ftype_name(st.ftype.u);
		if (q) {
			airi__jw_key(&w, "quantization");
			airi__jw_str(&w, q);
		}
	}
	if (st.has_tok) {
		airi__jw_key(&w, "tokenizer_digest");
		airi__jw_digest(&w, &d);
	}
	airi__jw_key(&w, "tensors");
	jw_u64(&w, n_tensors);
	airi__jw_key(&w, "version");
	airi__jw_int(&w, version);
	airi__jw_end_obj(&w);
	return jw_emit(&w, out, err);
}

/* ---- safetensors -------------------------------------------------------- */

/*
 * Layout: u64 little-endian header length N, N bytes of JSON (an object of
 * tensors, each {"dtype", "shape", "data_offsets"}, and an optional
 * "__metadata__" object of strings), then the data; data_offsets are
 * relative to the end of the header.
 */

/* A non-negative integer written as plain digits (no sign, fraction or
 * exponent). */
static int st_uint(const airi_value *v, uint64_t *out)
{
	if (!v || v->type != AIRI_NUMBER || !v->u.num.raw || !v->u.num.rawn)
		return 0;
	for (size_t i = 0; i < v->u.num.rawn; i++)
		if (v->u.num.raw[i] < '0' || v->u.num.raw[i] > '9')
			return 0;
	if (!(v->u.num.d >= 0 && v->u.num.d <= (double)MF_MAX_EXACT))
		return 0;
	*out = (uint64_t)v->u.num.d;
	return 1;
}

typedef struct {
	const char *p;
	size_t n;
} st_name;

static int st_name_cmp(const void *a, const void *b)
{
	const st_name *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);
	if (c)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

int airi__safetensors_info(const unsigned char *data, size_t len,
			   airi__buf *out, airi_error *err)
{
	uint64_t hn = 0, params = 0, data_len;
	airi_json *doc = NULL;
	const airi_value *root, *meta = NULL;
	airi_error jerr;
	st_name *dts = NULL;
	size_t ndt = 0, count;
	airi__jw w;
	int rc = 0;

	if (!data || len < 8)
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: the 8-byte header length runs "
				 "past the end at byte 0");
	for (int i = 0; i < 8; i++)
		hn |= (uint64_t)data[i] << (8 * i);
	if (hn > MF_MAX_HEADER)
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: header length %llu at byte 0 is "
				 "over 100 MiB",
				 (unsigned long long)hn);
	if (hn > len - 8)
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: header of %llu bytes runs past "
				 "the end at byte 8",
				 (unsigned long long)hn);
	data_len = len - 8 - hn;
	if (airi_json_parse((const char *)data + 8, (size_t)hn, &doc, &jerr))
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: header is not valid JSON: %s "
				 "at byte %zu",
				 jerr.message,
				 (size_t)8 + (jerr.has_position ? jerr.offset
								: 0));
	root = airi_json_root(doc);
	if (airi_value_type(root) != AIRI_OBJECT) {
		airi_json_free(doc);
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: header is not a JSON object at "
				 "byte 8");
	}
	count = airi_value_count(root);
	if (count > MF_MAX_COUNT + 1) {
		airi_json_free(doc);
		return airi__err(err, AIRI_EINVAL,
				 "safetensors: %zu tensors (at most %u)", count,
				 MF_MAX_COUNT);
	}
	dts = calloc(count ? count : 1, sizeof(*dts));
	if (!dts) {
		airi_json_free(doc);
		return airi__err(err, AIRI_ENOMEM, "safetensors: out of memory");
	}
	for (size_t i = 0; i < count && !rc; i++) {
		size_t kn;
		const char *k = airi_value_key_at(root, i, &kn);
		const airi_value *t = airi_value_at(root, i);
		const airi_value *dt, *shape, *offs;
		size_t at = 8 + airi_value_offset(t);
		uint64_t prod = 1, a, b;
		if (kn == 12 && !memcmp(k, "__metadata__", 12)) {
			if (airi_value_type(t) != AIRI_OBJECT) {
				rc = airi__err(err, AIRI_EINVAL,
					       "safetensors: __metadata__ is "
					       "not an object at byte %zu",
					       at);
				break;
			}
			for (size_t j = 0; j < airi_value_count(t); j++) {
				const airi_value *m = airi_value_at(t, j);
				if (airi_value_type(m) != AIRI_STRING) {
					rc = airi__err(
						err, AIRI_EINVAL,
						"safetensors: __metadata__ "
						"value is not a string at "
						"byte %zu",
						8 + airi_value_offset(m));
					break;
				}
			}
			meta = t;
			continue;
		}
		if (airi_value_type(t) != AIRI_OBJECT) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: tensor %zu is not an "
				       "object at byte %zu",
				       i, at);
			break;
		}
		dt = airi_value_get(t, "dtype");
		shape = airi_value_get(t, "shape");
		offs = airi_value_get(t, "data_offsets");
		if (!dt || airi_value_type(dt) != AIRI_STRING) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: tensor %zu has no dtype "
				       "string at byte %zu",
				       i, dt ? 8 + airi_value_offset(dt) : at);
			break;
		}
		if (!shape || airi_value_type(shape) != AIRI_ARRAY) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: tensor %zu has no shape "
				       "array at byte %zu",
				       i,
				       shape ? 8 + airi_value_offset(shape)
					     : at);
			break;
		}
		for (size_t j = 0; j < airi_value_count(shape); j++) {
			const airi_value *x = airi_value_at(shape, j);
			uint64_t dim;
			if (!st_uint(x, &dim)) {
				rc = airi__err(err, AIRI_EINVAL,
					       "safetensors: tensor %zu shape "
					       "%zu is not a non-negative "
					       "integer at byte %zu",
					       i, j, 8 + airi_value_offset(x));
				break;
			}
			if (dim && prod > UINT64_MAX / dim) {
				rc = airi__err(err, AIRI_EINVAL,
					       "safetensors: tensor %zu element "
					       "count overflows at byte %zu",
					       i, 8 + airi_value_offset(x));
				break;
			}
			prod *= dim;
		}
		if (rc)
			break;
		if (!offs || airi_value_type(offs) != AIRI_ARRAY ||
		    airi_value_count(offs) != 2 ||
		    !st_uint(airi_value_at(offs, 0), &a) ||
		    !st_uint(airi_value_at(offs, 1), &b)) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: tensor %zu data_offsets "
				       "is not two non-negative integers at "
				       "byte %zu",
				       i,
				       offs ? 8 + airi_value_offset(offs) : at);
			break;
		}
		if (a > b || b > data_len) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: tensor %zu data_offsets "
				       "[%llu, %llu] run past the end (%llu "
				       "data bytes) at byte %zu",
				       i, (unsigned long long)a,
				       (unsigned long long)b,
				       (unsigned long long)data_len,
				       8 + airi_value_offset(offs));
			break;
		}
		if (prod > UINT64_MAX - params) {
			rc = airi__err(err, AIRI_EINVAL,
				       "safetensors: parameter count overflows "
				       "at byte %zu",
				       at);
			break;
		}
		params += prod;
		dts[ndt].p = airi_value_string(dt, &dts[ndt].n);
		if (!dts[ndt].p) {
			rc = airi__err(err, AIRI_ENOMEM,
				       "safetensors: out of memory");
			break;
		}
		ndt++;
	}
	if (rc) {
		free(dts);
		airi_json_free(doc);
		return rc;
	}
	qsort(dts, ndt, sizeof(*dts), st_name_cmp);

	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "dtypes");
	airi__jw_obj(&w);
	for (size_t i = 0; i < ndt;) {
		size_t j = i + 1;
		while (j < ndt && !st_name_cmp(&dts[i], &dts[j]))
			j++;
		airi__jw_keyn(&w, dts[i].p, dts[i].n);
		airi__jw_int(&w, (long long)(j - i));
		i = j;
	}
	airi__jw_end_obj(&w);
	airi__jw_key(&w, "format");
	airi__jw_str(&w, "safetensors");
	if (meta) {
		airi__jw_key(&w, "metadata");
		airi__jw_value(&w, meta);
	}
	airi__jw_key(&w, "parameters");
	jw_u64(&w, params);
	airi__jw_key(&w, "tensors");
	airi__jw_int(&w, (long long)ndt);
	airi__jw_end_obj(&w);
	free(dts);
	rc = jw_emit(&w, out, err);
	airi_json_free(doc);
	return rc;
}
