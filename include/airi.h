/*
 * airi.h - the whole public API of libairi. What is not declared here is not
 * public: everything else in the library is built with hidden visibility.
 *
 * libairi gives an AI run a content-derived identity: a manifest (one JSON
 * object describing the conditions, trajectory, output and metadata of a run)
 * is canonicalized with RFC 8785 (JCS), hashed with SHA-256 section by
 * section, and combined into a small tree of typed objects whose digests are
 * the conditions ID and the run ID. docs/spec.md defines the format.
 *
 * Conventions, stated once for the whole API:
 *  - Functions return 0 (AIRI_OK) on success or a negative AIRI_E* code.
 *    Codes are never renumbered. airi_strerror() gives static text.
 *  - The optional `airi_error *err` argument is filled only on failure with
 *    a message that says what went wrong and where. It may be NULL.
 *  - A failed call leaves its outputs untouched and the library state as it
 *    was. The library never prints and never exits.
 *  - Ownership: objects returned through `**out` arguments are owned by the
 *    caller and are freed with the function named in the constructor's
 *    comment. Every _free()/_close() accepts NULL as a harmless no-op.
 *    Pointers into an object (values, names, digests) stay valid until that
 *    object is freed.
 *  - Thread safety: distinct objects may be used from distinct threads at
 *    once; one object must not be used from two threads at the same time.
 *    Parsed documents and manifests are immutable and may be shared for
 *    reading.
 */
#ifndef AIRI_H
#define AIRI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AIRI_BUILDING) && defined(__GNUC__)
#define AIRI_API __attribute__((visibility("default")))
#else
#define AIRI_API
#endif

#define AIRI_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum {
	AIRI_OK = 0,
	AIRI_ENOMEM = -1,     /* out of memory or over a documented size limit */
	AIRI_EJSON = -2,      /* malformed or rejected JSON text */
	AIRI_EMANIFEST = -3,  /* valid JSON that is not a valid manifest */
	AIRI_ENOTFOUND = -4,  /* no run or object with that ID */
	AIRI_EAMBIGUOUS = -5, /* ID prefix matches several runs */
	AIRI_ESTORE = -6,     /* the store failed (SQL error, locked, ...) */
	AIRI_EIO = -7,        /* reading or writing a file failed */
	AIRI_EINVAL = -8,     /* invalid argument (bad ID syntax, bad filter) */
	AIRI_ECORRUPT = -9,   /* stored data does not match its digest */
	AIRI_ESCHEMA = -10,   /* store schema newer than this library */
	AIRI_EVERIFY = -11,   /* a proof, signature or digest does not hold */
	AIRI_EKEY = -12,      /* no usable key (missing, malformed, wrong) */
};

/* Where and what. line/column are 1-based (column counts bytes), offset is
 * 0-based; all three are 0 when the error has no position. `pointer` is an
 * RFC 6901 JSON Pointer ("" for the root) or empty when not applicable
 * (has_pointer tells). `message` never contains the position. */
typedef struct airi_error {
	int code;
	size_t offset;
	size_t line;
	size_t column;
	int has_position;
	int has_pointer;
	char pointer[512];
	char message[768];
	/* for AIRI_EVERIFY and bundle errors: a stable reason code such as
	 * "E-digest", "E-proof", "E-sig", "E-key", "E-format" (docs/spec.md,
	 * "Verification"); empty otherwise */
	char reason[32];
} airi_error;

/* Static English text for an AIRI_E* code. Never NULL. */
AIRI_API const char *airi_strerror(int code);

/* ---- JSON documents ---------------------------------------------------- */

/* Nesting limit: each array or object opens one level. */
#define AIRI_JSON_MAX_DEPTH 1000

typedef struct airi_json airi_json;
typedef struct airi_value airi_value;

typedef enum airi_type {
	AIRI_NULL,
	AIRI_FALSE,
	AIRI_TRUE,
	AIRI_NUMBER,
	AIRI_STRING,
	AIRI_ARRAY,
	AIRI_OBJECT
} airi_type;

/* Parses `len` bytes of JSON text under the I-JSON/JCS rules of
 * docs/spec.md (duplicate keys, invalid UTF-8, lone surrogates, overflowing
 * numbers, integers beyond 2^53, a BOM and nesting beyond
 * AIRI_JSON_MAX_DEPTH are all rejected). The text must stay alive and
 * unchanged until the document is freed: strings point into it.
 * Free with airi_json_free(). */
AIRI_API int airi_json_parse(const char *text, size_t len, airi_json **out,
			     airi_error *err);
AIRI_API void airi_json_free(airi_json *doc);
AIRI_API const airi_value *airi_json_root(const airi_json *doc);

AIRI_API airi_type airi_value_type(const airi_value *v);
/* Number of elements (array) or members (object); 0 for scalars. */
AIRI_API size_t airi_value_count(const airi_value *v);
/* Element i of an array, or the value of member i of an object. Object
 * members are kept in canonical (UTF-16 code unit) order of their names. */
AIRI_API const airi_value *airi_value_at(const airi_value *v, size_t i);
/* Name of member i of an object (decoded UTF-8, may contain NUL bytes). */
AIRI_API const char *airi_value_key_at(const airi_value *v, size_t i,
				       size_t *len);
/* Member named `key` (NUL-terminated) of an object, or NULL. */
AIRI_API const airi_value *airi_value_get(const airi_value *v,
					  const char *key);
/* Decoded UTF-8 bytes of a string (may contain NUL bytes), or NULL. */
AIRI_API const char *airi_value_string(const airi_value *v, size_t *len);
AIRI_API double airi_value_number(const airi_value *v);
/* Byte offset of the value in the parsed text. */
AIRI_API size_t airi_value_offset(const airi_value *v);

/* ---- canonical bytes and digests ---------------------------------------- */

/* A sink for produced bytes; returns 0 or a negative code to stop. */
typedef int (*airi_write_fn)(void *ctx, const void *data, size_t len);

/* Writes the RFC 8785 canonical bytes of `v` to `fn`. */
AIRI_API int airi_canon_write(const airi_value *v, airi_write_fn fn,
			      void *ctx);
/* Canonical bytes of `v` in a new NUL-terminated buffer (the NUL is not
 * counted in *len). Free with free(). */
AIRI_API int airi_canon(const airi_value *v, char **out, size_t *len);

#define AIRI_DIGEST_SIZE 32
/* "sha256:" + 64 hex digits + NUL */
#define AIRI_DIGEST_STRLEN 72

typedef struct airi_digest {
	unsigned char bytes[AIRI_DIGEST_SIZE];
} airi_digest;

/* digest(v) = SHA-256 of the canonical bytes of v. Allocates nothing
 * beyond a fixed buffer. */
AIRI_API int airi_digest_value(const airi_value *v, airi_digest *out);
/* SHA-256 of raw bytes. */
AIRI_API int airi_digest_bytes(const void *data, size_t len,
			       airi_digest *out);
/* Writes "sha256:<64 lowercase hex>" into out (AIRI_DIGEST_STRLEN bytes). */
AIRI_API void airi_digest_format(const airi_digest *d,
				 char out[AIRI_DIGEST_STRLEN]);
/* Parses a full digest, with or without the "sha256:" prefix. */
AIRI_API int airi_digest_parse(const char *s, airi_digest *out);
AIRI_API int airi_digest_equal(const airi_digest *a, const airi_digest *b);

/* ---- manifests and identities ------------------------------------------- */

typedef struct airi_manifest airi_manifest;

/* Parses and validates a manifest and computes every identity in it. The
 * manifest keeps its own copy of the text. Free with airi_manifest_free(). */
AIRI_API int airi_manifest_parse(const char *text, size_t len,
				 airi_manifest **out, airi_error *err);
/* Like airi_manifest_parse() but without copying: `text` must stay alive
 * and unchanged until the manifest is freed (for large, mapped inputs). */
AIRI_API int airi_manifest_parse_borrow(const char *text, size_t len,
					airi_manifest **out, airi_error *err);
AIRI_API void airi_manifest_free(airi_manifest *m);

AIRI_API const airi_digest *airi_manifest_run_id(const airi_manifest *m);
AIRI_API const airi_digest *
airi_manifest_conditions_id(const airi_manifest *m);
/* The digests of the trajectory object, of the output value and of the meta
 * object, or NULL when that member is absent from the manifest. */
AIRI_API const airi_digest *
airi_manifest_trajectory_digest(const airi_manifest *m);
AIRI_API const airi_digest *airi_manifest_output_digest(const airi_manifest *m);
AIRI_API const airi_digest *airi_manifest_meta_digest(const airi_manifest *m);

/* The whole manifest, its conditions object, and its optional members (NULL
 * when absent; an output that is present and null is a NULL-typed value). */
AIRI_API const airi_value *airi_manifest_root(const airi_manifest *m);
AIRI_API const airi_value *airi_manifest_output(const airi_manifest *m);
AIRI_API const airi_value *airi_manifest_meta(const airi_manifest *m);
AIRI_API const airi_value *airi_manifest_trajectory(const airi_manifest *m);

/* Sections in canonical (name) order. */
AIRI_API size_t airi_manifest_section_count(const airi_manifest *m);
AIRI_API const char *airi_manifest_section_name(const airi_manifest *m,
						size_t i);
AIRI_API const airi_value *airi_manifest_section_value(const airi_manifest *m,
						       size_t i);
AIRI_API const airi_digest *
airi_manifest_section_digest(const airi_manifest *m, size_t i);
/* Section by name, or NULL. */
AIRI_API const airi_value *airi_manifest_section(const airi_manifest *m,
						 const char *name);

AIRI_API size_t airi_manifest_step_count(const airi_manifest *m);
AIRI_API const airi_digest *airi_manifest_step_digest(const airi_manifest *m,
						      size_t i);

/* The identities as canonical JSON text, exactly what `airi id --json`
 * prints: {"conditions":..,"meta":..,"output":..,"run":..,"sections":{..},
 * "trajectory":..}. Free with free(). */
AIRI_API int airi_manifest_ids_json(const airi_manifest *m, char **out,
				    size_t *len);

/* Salting: returns a manifest text in which each named section (and/or
 * "output") is replaced by {"salt":<base64 of 32 random bytes>,"type":
 * "airi.salted/1","value":<the value>}, so that its digest cannot be
 * guessed from a dictionary of likely contents when it is withheld
 * (docs/spec.md, "Salted sections"). `names` is comma-separated. Free
 * *out with free(). */
AIRI_API int airi_manifest_salt(const airi_manifest *m, const char *names,
				char **out, size_t *len, airi_error *err);

/* The canonical bytes of the whole manifest. Free with free(). */
AIRI_API int airi_manifest_canon(const airi_manifest *m, char **out,
				 size_t *len);

/* ---- building a run from code -------------------------------------------- */

/* For applications that call models in-process: collect the parts of a
 * manifest as JSON texts while the run happens, then finish it into a
 * manifest (whose identities are then known) to record or print. Each
 * setter checks its JSON at once (err names the place in that text).
 * Not thread-safe per builder. Free with airi_run_free(). */
typedef struct airi_run airi_run;

AIRI_API int airi_run_new(airi_run **out);
AIRI_API void airi_run_free(airi_run *r);
/* Sets section `name` (^[a-z][a-z0-9_]{0,63}$) to the JSON value in
 * `json`, replacing an earlier value of that section. */
AIRI_API int airi_run_set_section(airi_run *r, const char *name,
				  const char *json, airi_error *err);
/* Appends one trajectory step. */
AIRI_API int airi_run_add_step(airi_run *r, const char *json,
			       airi_error *err);
AIRI_API int airi_run_set_output(airi_run *r, const char *json,
				 airi_error *err);
/* Sets meta (a JSON object). */
AIRI_API int airi_run_set_meta(airi_run *r, const char *json,
			       airi_error *err);
/* Builds the manifest; the builder can be freed afterwards. Free *out
 * with airi_manifest_free(). */
AIRI_API int airi_run_finish(const airi_run *r, airi_manifest **out,
			     airi_error *err);

/* ---- completeness check ------------------------------------------------- */

typedef enum airi_verdict {
	AIRI_PINNED,
	AIRI_PARTIAL,
	AIRI_OPAQUE
} airi_verdict;

/* Which well-known conditions are identified, missing or unpinned, as a
 * JSON report (schema in docs/spec.md, "Completeness"):
 * {"verdict":"pinned|partial|opaque","sections":[{"name":..,"status":
 * "ok|missing|unpinned|absent","reason":..}],"notes":[..]}.
 * *verdict receives the verdict. Free the report with free(). */
AIRI_API int airi_manifest_check(const airi_manifest *m, airi_verdict *verdict,
				 char **report, size_t *len);
AIRI_API const char *airi_verdict_name(airi_verdict v);

/* ---- diff --------------------------------------------------------------- */

/* Compares two runs section by section, field by field (JSON Pointers),
 * the trajectory step by step (a sequence alignment over step digests) and
 * the output. The report is canonical JSON (schema in docs/airi.1, "diff");
 * *same is 1 when the run IDs are equal. Free the report with free(). */
AIRI_API int airi_run_diff(const airi_manifest *a, const airi_manifest *b,
			   int *same, char **report, size_t *len);

/* ---- store -------------------------------------------------------------- */

typedef struct airi_store airi_store;

/* airi_store_open() flags */
#define AIRI_STORE_CREATE 1u   /* create the store when it does not exist */
#define AIRI_STORE_READONLY 2u /* never write */

/* Opens a store. `location` is a file path (SQLite, the default backend)
 * or "sqlite:PATH", or a PostgreSQL database: a "postgres://" or
 * "postgresql://" URI, or a libpq keyword/value string whose first word is
 * a libpq keyword ("host=... dbname=...", docs/postgres.md). A new SQLite
 * store file is created with mode 0600 and its directory with mode 0700;
 * an empty PostgreSQL database gets the store's tables (with CREATE), an
 * older PostgreSQL schema is refused (AIRI_ESCHEMA) until migrated. Close
 * with airi_store_close(). */
AIRI_API int airi_store_open(const char *location, unsigned flags,
			     airi_store **out, airi_error *err);
AIRI_API void airi_store_close(airi_store *s);

/* The default location: $AIRI_STORE, else $XDG_DATA_HOME/airi/airi.db,
 * else $HOME/.local/share/airi/airi.db. Free with free(). */
AIRI_API char *airi_store_default_location(void);

/* Bulk imports: lets the store use up to `mib` MiB of page cache for this
 * handle (the default is 64), which keeps a large import from re-reading
 * and re-writing pages. 0 or a failure changes nothing. */
AIRI_API int airi_store_set_cache(airi_store *s, unsigned mib);

/* Explicit transactions group many records into one durable commit
 * (all-or-nothing). Without them every airi_store_record() commits alone. */
AIRI_API int airi_store_begin(airi_store *s, airi_error *err);
AIRI_API int airi_store_commit(airi_store *s, airi_error *err);
AIRI_API int airi_store_rollback(airi_store *s);

/* Stores a manifest: every section, step and object once under its digest,
 * and the run. Recording a run that is already there changes nothing and
 * sets *created (if not NULL) to 0. */
AIRI_API int airi_store_record(airi_store *s, const airi_manifest *m,
			       int *created, airi_error *err);

/* Resolves a run ID or a unique prefix of at least 6 hex digits (with or
 * without "sha256:"). An ambiguous prefix gives AIRI_EAMBIGUOUS with the
 * candidates listed in err->message. */
AIRI_API int airi_store_resolve(airi_store *s, const char *id,
				airi_digest *out, airi_error *err);

/* Run keys: opaque handles (such as the proxy's Airi-Run-Key) bound to a
 * run once it is sealed. airi_store_resolve() accepts them as well as IDs.
 * A key is 1..100 characters of [A-Za-z0-9_-]. */
AIRI_API int airi_store_bind_key(airi_store *s, const char *key,
				 const airi_digest *run, airi_error *err);

/* Rebuilds a recorded run into its manifest (canonical-equal to what was
 * recorded). Free with airi_manifest_free(). */
AIRI_API int airi_store_fetch(airi_store *s, const airi_digest *run,
			      airi_manifest **out, airi_error *err);

/* Raw canonical bytes of a stored object. Free with free(). */
AIRI_API int airi_store_get_object(airi_store *s, const airi_digest *d,
				   char **body, size_t *len, airi_error *err);

/* One listed run. Strings are NULL when unknown; valid during the
 * callback only. */
typedef struct airi_run_info {
	airi_digest run;
	airi_digest conditions;
	int64_t recorded_ms; /* when it was recorded (Unix ms) */
	int64_t time_ms;     /* meta.start when given, else recorded_ms */
	const char *model;          /* requested model name or alias */
	const char *model_resolved; /* resolved version, if any */
	const char *summary;        /* short one-line output summary */
} airi_run_info;

/* Filters for airi_store_list(); zero-initialize and set what you need. */
typedef struct airi_filter {
	const char *model;      /* equals requested or resolved model */
	int64_t since_ms;       /* time_ms >= since_ms (when has_since) */
	int64_t until_ms;       /* time_ms < until_ms (when has_until) */
	int has_since, has_until;
	const char *conditions; /* conditions ID or hex prefix */
	size_t limit;           /* 0: no limit */
	/* more terms, space- or comma-separated, all of which must hold:
	 * since=T until=T (RFC 3339), model=M, label.KEY=VALUE,
	 * section.NAME=DIGEST-PREFIX (model, params, system, input,
	 * retrieval, tools, environment), conditions=PREFIX. AIRI_EINVAL
	 * names a malformed term. NULL: none. */
	const char *where;
} airi_filter;

/* Calls fn for each run matching the filter, newest first; fn returns 0 to
 * go on or a non-zero value to stop (returned as is). */
typedef int (*airi_run_fn)(void *ctx, const airi_run_info *run);
AIRI_API int airi_store_list(airi_store *s, const airi_filter *f,
			     airi_run_fn fn, void *ctx, airi_error *err);

/* ---- Labels and cohorts ------------------------------------------------- */

/* A label beside a run (not part of its identity). */
typedef struct airi_label {
	const char *key, *value;
	int has_score; /* the value is a JSON number: also a score */
	double score;
	int64_t time_ms; /* when it was set */
} airi_label;
typedef int (*airi_label_fn)(void *ctx, const airi_label *l);

/* Sets (value not NULL) or removes (value NULL) the label key on a run.
 * A value that is a JSON number is also kept as a numeric score. Keys:
 * 1-64 bytes of [A-Za-z0-9_.-]; values up to 4096 bytes of UTF-8.
 * AIRI_ENOTFOUND for an unknown run, AIRI_EINVAL for a bad key/value. */
AIRI_API int airi_store_label(airi_store *s, const airi_digest *run,
			      const char *key, const char *value,
			      airi_error *err);
/* Calls fn for each label of a run, by key. */
AIRI_API int airi_store_labels(airi_store *s, const airi_digest *run,
			       airi_label_fn fn, void *ctx, airi_error *err);

/* Compares two cohorts of runs selected by filters (airi_filter.where
 * syntax): which condition sections changed and how much, runs paired by
 * input digest whose output now differs, and outcome statistics with 95%
 * confidence intervals (error rate, finish reasons, output length,
 * latency, tool calls, output tokens, numeric labels). examples: at most
 * this many paired examples. *report is canonical JSON (docs/airi.1,
 * "regress --json"), freed with free(). */
AIRI_API int airi_regress(airi_store *s, const char *before, const char *after,
			  size_t examples, char **report, size_t *len,
			  airi_error *err);

/* Recomputes every stored object's digest and checks that every run's
 * objects exist and are canonical. fn is called once per problem with a
 * one-line description; *problems receives the count. */
typedef void (*airi_problem_fn)(void *ctx, const char *problem);
AIRI_API int airi_store_fsck(airi_store *s, airi_problem_fn fn, void *ctx,
			     size_t *objects, size_t *problems,
			     airi_error *err);

/* ---- Merkle trees (RFC 9162) ------------------------------------------- */

#define AIRI_HASH_SIZE 32

/* SHA-256(0x00 || leaf) and SHA-256(0x01 || left || right). */
AIRI_API void airi_merkle_leaf_hash(const void *leaf, size_t n,
				    unsigned char out[AIRI_HASH_SIZE]);
AIRI_API void airi_merkle_node_hash(const unsigned char left[AIRI_HASH_SIZE],
				    const unsigned char right[AIRI_HASH_SIZE],
				    unsigned char out[AIRI_HASH_SIZE]);
/* RFC 9162 2.1.3.2 / 2.1.4.2. Return 0 when the proof holds, AIRI_EINVAL
 * otherwise. Hashes of the wrong length never verify. */
AIRI_API int airi_merkle_verify_inclusion(
	uint64_t index, uint64_t size, const unsigned char *leaf_hash,
	size_t leaf_len, const unsigned char (*proof)[AIRI_HASH_SIZE],
	size_t n, const unsigned char *root, size_t root_len);
AIRI_API int airi_merkle_verify_consistency(
	uint64_t size1, uint64_t size2, const unsigned char *root1,
	size_t root1_len, const unsigned char *root2, size_t root2_len,
	const unsigned char (*proof)[AIRI_HASH_SIZE], size_t n);

/* ---- keys, signed notes, checkpoints ------------------------------------ */

/* Ed25519 keys in the C2SP signed-note text forms: a signer key
 * "PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || seed)>" and a
 * verifier key "<name>+<8 hex key ID>+<base64(0x01 || public key)>". */
typedef struct airi_key airi_key;

/* New random key pair; both strings are freed with free(). */
AIRI_API int airi_key_generate(const char *name, char **signer,
			       char **verifier, airi_error *err);
/* Parses either form (a signer key can also verify). Free with
 * airi_key_free(). */
AIRI_API int airi_key_parse(const char *text, airi_key **out,
			    airi_error *err);
AIRI_API void airi_key_free(airi_key *k);
AIRI_API const char *airi_key_name(const airi_key *k);
AIRI_API int airi_key_can_sign(const airi_key *k);
/* The verifier key text of k. Free with free(). */
AIRI_API int airi_key_verifier(const airi_key *k, char **out);

typedef struct airi_checkpoint {
	char origin[256];
	uint64_t size;
	unsigned char root[AIRI_HASH_SIZE];
} airi_checkpoint;

/* A C2SP tlog-checkpoint body signed as a C2SP signed note. Free *note
 * with free(). */
AIRI_API int airi_checkpoint_sign(const airi_key *signer,
				  const airi_checkpoint *cp, char **note);
/* Parses a signed checkpoint and checks it carries a valid signature by
 * `verifier`. Reason codes: E-checkpoint (malformed), E-key (no signature
 * by this key), E-sig (signature invalid). */
AIRI_API int airi_checkpoint_verify(const char *note, size_t len,
				    const airi_key *verifier,
				    airi_checkpoint *out, airi_error *err);

/* ---- the transparency log of a store ------------------------------------ */

/* Every recorded run is appended to the store's log as the canonical JSON
 * {"logged_at":..,"run":..,"type":"airi.logentry/1"} (docs/spec.md). */
AIRI_API int airi_store_log_size(airi_store *s, uint64_t *size,
				 airi_error *err);
/* Root hash of the tree of the first `size` leaves. */
AIRI_API int airi_store_log_root(airi_store *s, uint64_t size,
				 unsigned char root[AIRI_HASH_SIZE],
				 airi_error *err);
/* The log entry of a run: its index and canonical bytes (free()). */
AIRI_API int airi_store_log_entry(airi_store *s, const airi_digest *run,
				  uint64_t *index, char **entry, size_t *len,
				  airi_error *err);
/* Proofs; *proof is an array of *n hashes, freed with free(). */
AIRI_API int airi_store_log_inclusion(airi_store *s, uint64_t index,
				      uint64_t size,
				      unsigned char (**proof)[AIRI_HASH_SIZE],
				      size_t *n, airi_error *err);
AIRI_API int airi_store_log_consistency(airi_store *s, uint64_t size1,
					uint64_t size2,
					unsigned char (**proof)[AIRI_HASH_SIZE],
					size_t *n, airi_error *err);
/* The newest signed checkpoint; when `signer` is given and the log has
 * grown since, a new one is signed for the current size first (origin:
 * `origin`, else the store's, else "localhost/airi"). Free with free(). */
AIRI_API int airi_store_checkpoint(airi_store *s, const airi_key *signer,
				   const char *origin, char **note,
				   airi_error *err);

/* ---- bundles ------------------------------------------------------------ */

#define AIRI_BUNDLE_MEDIA_TYPE "application/vnd.airi.bundle.v1+json"

/* One self-contained file proving a run: its disclosed objects, its log
 * entry, an inclusion proof and the signed checkpoint it is proven
 * against. `withhold` is NULL or a comma-separated list of section names
 * and/or "output", "trajectory", "meta", whose content is replaced by its
 * digest. Needs a signed checkpoint covering the run (pass a signer to
 * sign one). Free *out with free(). */
AIRI_API int airi_bundle_export(airi_store *s, const airi_digest *run,
				const char *withhold, const airi_key *signer,
				char **out, size_t *len, airi_error *err);
/* Verifies a bundle offline against a verifier key. On success *report is
 * a JSON report (docs/spec.md, "Verification") freed with free(); on
 * failure AIRI_EVERIFY with err->reason set (E-format, E-digest, E-run,
 * E-proof, E-checkpoint, E-key, E-sig). */
AIRI_API int airi_bundle_verify(const char *bundle, size_t len,
				const airi_key *verifier, char **report,
				size_t *report_len, airi_error *err);

/* ---- What ran: environment, model weights, corpus state ---------------- */

/* The `environment` section of this machine (docs/spec.md, appendix A):
 * stable properties only, so equal machines give equal digests. `vars` is
 * NULL or a comma-separated list of extra environment variable names to
 * record when set; a name that looks like a secret (KEY, TOKEN, ...) is
 * refused with AIRI_EINVAL. *out is canonical JSON, freed with free(). */
AIRI_API int airi_environment(const char *vars, char **out, size_t *len,
			      airi_error *err);

/* A cache of file digests keyed by (device, inode, size, mtime, ctime);
 * any change to a file misses. Digests of files written less than two
 * seconds before they were read are not cached (a timestamp may not move
 * on a rewrite that quick). path NULL: $XDG_CACHE_HOME/airi/digests.db or
 * ~/.cache/airi/digests.db. Close with airi_digest_cache_close(). */
typedef struct airi_digest_cache airi_digest_cache;
AIRI_API int airi_digest_cache_open(const char *path, airi_digest_cache **out,
				    airi_error *err);
AIRI_API void airi_digest_cache_close(airi_digest_cache *c);

/* The plain SHA-256 of a file's bytes (equal to sha256sum's). cache may be
 * NULL; *cached (if not NULL) says whether it came from the cache. */
AIRI_API int airi_digest_file(const char *path, airi_digest_cache *cache,
			      airi_digest *out, int *cached, airi_error *err);

typedef void (*airi_progress_fn)(void *ctx, uint64_t done, uint64_t total);
typedef void (*airi_warn_fn)(void *ctx, const char *message);

typedef struct airi_model_options {
	airi_digest_cache *cache; /* NULL: no cache */
	unsigned threads;         /* files hashed at once; 0: online cores */
	airi_progress_fn progress; /* bytes hashed so far (any thread) */
	void *progress_ctx;
	airi_warn_fn warn; /* a GGUF/safetensors header that cannot be read */
	void *warn_ctx;
} airi_model_options;

/* Identifies model weights by content: a file (its SHA-256) or a
 * directory (a sharded checkpoint: the digest over its files' names and
 * digests, docs/spec.md appendix A). *out is the `model` section fragment
 * {"files":[{bytes,digest,name}...],"header":{...},"weights_digest":D}
 * as canonical JSON (header facts of GGUF/safetensors files when present),
 * freed with free(); *weights (if not NULL) receives D. opts may be NULL. */
AIRI_API int airi_model_digest(const char *path, const airi_model_options *opts,
			       airi_digest *weights, char **out, size_t *len,
			       airi_error *err);

/* The state of a retrieval corpus: a Merkle search tree over (document id,
 * content digest) sorted by id (docs/spec.md, appendix B), plus the
 * embedding model and chunking parameters when given. With a store the
 * tree's nodes are kept there as objects, and the named corpus's latest
 * state is remembered, so changing one document among a million rewrites a
 * few nodes; without one (s NULL) only the state digest is computed.
 * Usage: open, put/remove documents, commit; free. */
typedef struct airi_corpus airi_corpus;
/* Starts from the named corpus's latest state in s (empty when s is NULL,
 * name is NULL or the corpus is new). Free with airi_corpus_free(). */
AIRI_API int airi_corpus_open(airi_store *s, const char *name,
			      airi_corpus **out, airi_error *err);
AIRI_API void airi_corpus_free(airi_corpus *c);
/* Drops every document of the starting state (the next puts are then the
 * whole corpus). */
AIRI_API void airi_corpus_clear(airi_corpus *c);
/* Adds or replaces a document (id: any UTF-8 string). Each id may be put
 * or removed once per commit: AIRI_EINVAL on a second time. */
AIRI_API int airi_corpus_put(airi_corpus *c, const char *id, size_t idlen,
			     const airi_digest *content, airi_error *err);
/* Removes a document; AIRI_ENOTFOUND at commit if it is not there. */
AIRI_API int airi_corpus_remove(airi_corpus *c, const char *id, size_t idlen,
				airi_error *err);
/* JSON texts (any value) for the embedding model's identity and the
 * chunking parameters; NULL: none. Kept across commits until changed. */
AIRI_API int airi_corpus_set_embedding(airi_corpus *c, const char *json,
				       airi_error *err);
AIRI_API int airi_corpus_set_chunking(airi_corpus *c, const char *json,
				      airi_error *err);
/* Applies the changes: *state receives the state digest (the value for a
 * run's retrieval.index.state_digest), *root the documents tree root and
 * *count the number of documents (each may be NULL). With a store, inside
 * its transaction if one is open (else in its own), the nodes and the
 * state object are written and the state becomes the corpus's latest. */
AIRI_API int airi_corpus_commit(airi_corpus *c, airi_digest *state,
				airi_digest *root, uint64_t *count,
				airi_error *err);

typedef enum {
	AIRI_DOC_ADDED = 1,
	AIRI_DOC_REMOVED = 2,
	AIRI_DOC_CHANGED = 3
} airi_doc_change;
/* before/after: NULL for an added/removed document. Return non-zero to
 * stop (returned as is). */
typedef int (*airi_doc_fn)(void *ctx, airi_doc_change kind, const char *id,
			   size_t idlen, const airi_digest *before,
			   const airi_digest *after);
/* Compares two corpus states kept in s (state digests, as from
 * airi_corpus_commit), calling fn for each document added, removed or
 * changed in id order; subtrees both states share are skipped.
 * AIRI_ENOTFOUND if a state is not in the store. */
AIRI_API int airi_corpus_diff(airi_store *s, const airi_digest *before,
			      const airi_digest *after, airi_doc_fn fn,
			      void *ctx, airi_error *err);
/* The latest state of a named corpus: AIRI_ENOTFOUND if none. */
AIRI_API int airi_corpus_latest(airi_store *s, const char *name,
				airi_digest *state, airi_error *err);

#ifdef __cplusplus
}
#endif
#endif /* AIRI_H */
