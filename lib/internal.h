/*
 * internal.h - declarations shared between the library's files and never
 * installed: the JSON node layout, growable buffers with a hard bound, the
 * buffered byte sink used by canonicalization and hashing, a small JSON
 * writer for reports, and error helpers. Cross-file functions are named
 * airi__<name>.
 */
#ifndef AIRI_INTERNAL_H
#define AIRI_INTERNAL_H

#include "airi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- JSON nodes --------------------------------------------------------- */

/* String flags */
#define AIRI__STR_RAW_CANON 1u /* the raw source span is already canonical */
#define AIRI__STR_LAZY 2u /* escapes not decoded yet: u.s.p holds the
			   * owning airi_json until airi_value_string()
			   * decodes it (under a lock) */

/* Number flags */
#define AIRI__NUM_RAW_CANON 1u /* the literal itself is the canonical form */

struct airi_value {
	uint8_t type;
	uint8_t flags;
	uint32_t count;   /* array elements / object members */
	size_t offset;    /* byte offset of the value in the source */
	union {
		struct {
			const char *p; /* decoded bytes */
			size_t n;
			const char *raw; /* raw span between the quotes */
			size_t rawn;
		} s;
		struct {
			double d;
			const char *raw; /* literal */
			size_t rawn;
		} num;
		/* array: count values; object: 2*count values, key then value,
		 * sorted by key in UTF-16 code unit order */
		struct airi_value *items;
	} u;
};

/* Parsing what airi itself wrote (stored objects, bundles): canonical
 * output may hold integer literals beyond 2^53 (the canonical form of
 * doubles such as 1e20), which user input may not. */
#define AIRI__PARSE_CANONICAL 1u
/* Manifests only: keep the canonical bytes of each section, step, output
 * and meta (airi__manifest_kept), for a store to write without
 * canonicalizing them again. */
#define AIRI__PARSE_KEEP_CANON 2u
int airi__json_parse_ex(const char *text, size_t len, unsigned flags,
			airi_json **out, airi_error *err);
int airi__manifest_parse_ex(const char *text, size_t len, unsigned flags,
			    airi_manifest **out, airi_error *err);
int airi__manifest_parse_borrow_ex(const char *text, size_t len,
				   unsigned flags, airi_manifest **out,
				   airi_error *err);
enum { AIRI__KEPT_SECTION, AIRI__KEPT_STEP, AIRI__KEPT_OUTPUT, AIRI__KEPT_META };
/* 1 and the kept canonical bytes of that value (valid while m lives), or
 * 0 when they were not kept */
int airi__manifest_kept(const airi_manifest *m, int kind, size_t i,
			const char **p, size_t *n);
/* Something derived from m ahead of time, kept with it and freed with it
 * (one slot: the store's airi__store_prepare) */
void airi__manifest_set_prep(airi_manifest *m, void *prep,
			     void (*prep_free)(void *));
void *airi__manifest_prep(const airi_manifest *m);
/* Derives now, on the calling thread, what recording m will need (model
 * names, summary, facts, time), so that a writer thread only writes. */
int airi__store_prepare(airi_manifest *m);

/* Compares two UTF-8 strings by their UTF-16 code units. */
int airi__utf16_cmp(const char *a, size_t an, const char *b, size_t bn);

/* ---- errors ------------------------------------------------------------- */

int airi__err(airi_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fills line/column from the offset into text. */
void airi__err_at(airi_error *err, const char *text, size_t len,
		  size_t offset);
/* Appends an RFC 6901 token to a pointer buffer (escaping ~ and /). */
void airi__pointer_append(char *ptr, size_t cap, const char *tok,
			  size_t n);

/* ---- growable buffer with a hard upper bound ---------------------------- */

typedef struct airi__buf {
	char *p;
	size_t n, cap;
	size_t max; /* 0: default bound (AIRI__BUF_MAX) */
	int failed; /* sticky: an append failed */
} airi__buf;

#define AIRI__BUF_MAX ((size_t)1 << 34) /* 16 GiB */

void airi__buf_init(airi__buf *b);
void airi__buf_release(airi__buf *b);
int airi__buf_grow(airi__buf *b, size_t extra);
int airi__buf_add(airi__buf *b, const void *p, size_t n);
int airi__buf_addc(airi__buf *b, char c);
int airi__buf_adds(airi__buf *b, const char *s);
int airi__buf_printf(airi__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Detaches the NUL-terminated contents (caller frees). */
char *airi__buf_detach(airi__buf *b, size_t *len);
int airi__buf_write_fn(void *ctx, const void *data, size_t len);

/* ---- canonical output --------------------------------------------------- */

/* Appends the canonical form of a double (ECMAScript Number::toString). */
int airi__number_format(double d, char out[32], size_t *len);
/* The same from a validated JSON number literal and its value (faster for
 * literals of at most 15 significant digits). */
int airi__number_format_literal(const char *raw, size_t rawn, double d,
				char out[32], size_t *len);
/* Appends a canonical JSON string literal (with quotes) for UTF-8 bytes. */
int airi__canon_string(airi__buf *b, const char *s, size_t n);
int airi__canon_to_buf(const airi_value *v, airi__buf *b);

/* Digest formatting helper */
void airi__hex(const unsigned char *p, size_t n, char *out);
int airi__digest_buf(const airi__buf *b, airi_digest *out);

/* ---- JSON writer for reports -------------------------------------------- */

/* Writes JSON text in canonical order *only if the caller adds keys in
 * sorted order*; every report builder in the library does so. */
typedef struct airi__jw {
	airi__buf b;
	int need_comma[AIRI_JSON_MAX_DEPTH + 2];
	int depth;
} airi__jw;

void airi__jw_init(airi__jw *w);
void airi__jw_obj(airi__jw *w);
void airi__jw_arr(airi__jw *w);
void airi__jw_end_obj(airi__jw *w);
void airi__jw_end_arr(airi__jw *w);
void airi__jw_key(airi__jw *w, const char *k);
void airi__jw_keyn(airi__jw *w, const char *k, size_t n);
void airi__jw_str(airi__jw *w, const char *s);
void airi__jw_strn(airi__jw *w, const char *s, size_t n);
void airi__jw_int(airi__jw *w, long long v);
void airi__jw_bool(airi__jw *w, int v);
void airi__jw_null(airi__jw *w);
void airi__jw_digest(airi__jw *w, const airi_digest *d);
/* Embeds a value in canonical form. */
void airi__jw_value(airi__jw *w, const airi_value *v);
/* Embeds pre-made canonical JSON text. */
void airi__jw_raw(airi__jw *w, const char *s, size_t n);
/* Returns the text (caller frees) or NULL on failure. */
char *airi__jw_finish(airi__jw *w, size_t *len);

/* True when `name` (n bytes) is one of the comma-separated names. */
int airi__name_listed(const char *list, const char *name, size_t n);

/* ---- time --------------------------------------------------------------- */

/* Parses an RFC 3339 date-time into Unix milliseconds. 0 on success. */
int airi__rfc3339_parse(const char *s, size_t n, int64_t *ms);
/* Formats Unix ms as RFC 3339 UTC with millisecond precision. */
void airi__rfc3339_format(int64_t ms, char out[32]);

/* ---- manifests ---------------------------------------------------------- */

/* Model name/resolved and an output summary, for store indexes. */
void airi__manifest_model(const airi_manifest *m, const char **name,
			  size_t *name_len, const char **resolved,
			  size_t *resolved_len);
/* Writes a short one-line summary of the output into out (NUL-terminated). */
void airi__output_summary(const airi_manifest *m, char *out, size_t cap);
/* The value inside a salted wrapper ({"salt","type":"airi.salted/1",
 * "value"}), else v itself (NULL stays NULL). */
const airi_value *airi__unsalt(const airi_value *v);
/* Builds the canonical conditions / trajectory / run objects. */
int airi__conditions_object(const airi_manifest *m, airi__buf *b);
int airi__trajectory_object(const airi_manifest *m, airi__buf *b);
int airi__run_object(const airi_manifest *m, airi__buf *b);

/* ---- Merkle construction ------------------------------------------------ */

/* Hash of the perfect aligned subtree at (level, index). */
typedef int (*airi__node_fn)(void *ctx, int level, uint64_t index,
			     unsigned char out[AIRI_HASH_SIZE]);
int airi__merkle_range(airi__node_fn get, void *ctx, uint64_t a, uint64_t b,
		       unsigned char out[AIRI_HASH_SIZE]);
/* proof must have room for 64 hashes */
int airi__merkle_inclusion(airi__node_fn get, void *ctx, uint64_t index,
			   uint64_t size,
			   unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n);
int airi__merkle_consistency(airi__node_fn get, void *ctx, uint64_t size1,
			     uint64_t size2,
			     unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n);

/* base64 (standard alphabet, padded) */
char *airi__b64_encode(const unsigned char *p, size_t n);
/* strict decode; returns -1 on any malformed input */
int airi__b64_decode(const char *s, size_t n, unsigned char *out,
		     size_t cap, size_t *outn);

int airi__checkpoint_parse(const char *note, size_t len, airi_checkpoint *out,
			   size_t *text_len, airi_error *err);

/* verification failure with a reason code */
int airi__verr(airi_error *err, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- model file headers (modelfmt.c) ----------------------------------- */

/* data/len: the whole file (mmapped by the caller). Each appends one JSON
 * object describing the file's header to out (members in sorted order; the
 * caller re-parses it) and returns 0, or AIRI_EINVAL with err->message
 * naming the problem and its byte offset (out is then left unchanged).
 * Hostile input is expected: every read is bounds-checked, counts are
 * capped (1,000,000 entries / tensors, 64 MiB strings, 100 MiB safetensors
 * headers) and nothing is allocated beyond what the file can hold.
 *
 * GGUF (versions 2 and 3): format, version, tensors, parameters,
 * architecture, name, file_type, quantization (llama.cpp's name of
 * file_type), context_length, tokenizer_digest (SHA-256 of the raw bytes of
 * every tokenizer.ggml.* entry, key, type and value, in file order) and
 * chat_template_digest (SHA-256 of the tokenizer.chat_template string);
 * members whose keys are absent are left out. Numbers above 2^53 are
 * written as decimal strings.
 *
 * safetensors: format, tensors, parameters, dtypes ({dtype: count}) and
 * metadata (the __metadata__ object, when present). */
int airi__gguf_info(const unsigned char *data, size_t len, airi__buf *out,
		    airi_error *err);
int airi__safetensors_info(const unsigned char *data, size_t len,
			   airi__buf *out, airi_error *err);

/* ---- files by content (filedigest.c) ----------------------------------- */

#include <sys/stat.h>

struct airi__file {
	char *path; /* as opened */
	char *name; /* relative to the argument (for directories) */
	struct stat st;
	airi_digest d;
	int64_t start_ns; /* when its read started */
	int done, cached, error;
	char errmsg[256];
};

struct airi__files {
	struct airi__file *f;
	size_t n, cap;
};

/* A file, or the regular files below a directory sorted by relative name
 * (at most max; symlinks skipped). */
int airi__files_collect(const char *path, size_t max, struct airi__files *l,
			int *is_dir, airi_error *err);
void airi__files_free(struct airi__files *l);
/* Digests every file (cache hits first, the rest on up to `threads`
 * threads, 0: the online cores); the first failure is returned. */
int airi__files_hash(struct airi__file *files, size_t n,
		     airi_digest_cache *cache, unsigned threads,
		     airi_progress_fn progress, void *progress_ctx,
		     airi_error *err);

/* The model section fragment of files already hashed (airi_model_digest
 * after collecting and hashing). */
int airi__model_fragment(const struct airi__file *files, size_t n,
			 int is_dir, const airi_model_options *o,
			 airi_digest *weights, char **out, size_t *len,
			 airi_error *err);
#define AIRI__MODEL_MAX_FILES 100000

struct evp_md_st;
const struct evp_md_st *airi__sha256(void);

/* ---- run facts for cohorts (outcome.c) --------------------------------- */

#define AIRI__NSTD 7
/* model, params, system, input, retrieval, tools, environment */
extern const char *const airi__std_sections[AIRI__NSTD];

struct airi__facts {
	airi_digest sec[AIRI__NSTD];
	int has_sec[AIRI__NSTD];
	airi_digest out;
	int has_out;
	int64_t status;     /* HTTP status, -1 unknown */
	int failed;         /* error status, error output, or not "complete" */
	char finish[48];    /* finish/stop reason, "" unknown */
	int64_t out_chars;  /* output text length in code points, -1 unknown */
	int64_t latency_ms; /* meta end - start, -1 unknown */
	int64_t tool_calls;
	int64_t out_tokens; /* usage output tokens, -1 unknown */
};
void airi__run_facts(const airi_manifest *m, struct airi__facts *f);

/* ---- cohort filters (filter.c) ------------------------------------------ */

enum {
	AIRI__T_SINCE = 1,
	AIRI__T_UNTIL,
	AIRI__T_MODEL,
	AIRI__T_LABEL,
	AIRI__T_SECTION,
	AIRI__T_CONDITIONS
};
struct airi__term {
	int kind;
	int64_t ms;         /* since, until */
	char *key, *value;  /* label key; model, label value, prefix text */
	int section;        /* index in airi__std_sections */
	airi_digest lo, hi; /* section, conditions: the prefix's range */
};
struct airi__where {
	struct airi__term *terms;
	size_t nterms;
};
int airi__where_parse(const char *text, struct airi__where *w, airi_error *err);
void airi__where_free(struct airi__where *w);

/* True when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates), the rule the JSON parser applies (json.c). */
int airi__utf8_ok(const char *s, size_t n);

/* True for variable names that look like secrets (KEY, TOKEN, ...). */
int airi__secret_name(const char *name);

#endif /* AIRI_INTERNAL_H */
