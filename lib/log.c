/*
 * log.c - the store's append-only transparency log: every recorded run is
 * appended as a canonical log entry {"logged_at","run","type"} whose RFC
 * 9162 leaf hash goes into a Merkle tree, so the time of recording is
 * inside the tree. The tree is kept as the hashes of its perfect subtrees
 * (level, index), written once when they complete; any root, inclusion
 * proof or consistency proof is then assembled from O(log n) stored nodes.
 * Also base64 and the verification error helper used by note.c/bundle.c.
 */
#define _GNU_SOURCE
#include "store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

int airi__verr(airi_error *err, const char *reason, const char *fmt, ...)
{
	if (err) {
		char msg[700];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		memset(err, 0, sizeof(*err));
		err->code = AIRI_EVERIFY;
		snprintf(err->reason, sizeof(err->reason), "%s", reason);
		snprintf(err->message, sizeof(err->message), "%s: %s", reason,
			 msg);
	}
	return AIRI_EVERIFY;
}

char *airi__b64_encode(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict standard base64 with padding: no whitespace, no stray bits. */
int airi__b64_decode(const char *s, size_t n, unsigned char *out, size_t cap,
		     size_t *outn)
{
	size_t o = 0;
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1; /* data after padding */
			v[k] = b64val(c);
			if (v[k] < 0)
				return -1;
		}
		if (pad == 2 && (v[1] & 0x0F))
			return -1;
		if (pad == 1 && (v[2] & 0x03))
			return -1;
		unsigned w = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
		size_t k = 3 - (size_t)pad;
		if (o + k > cap)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (k > 1)
			out[o++] = (unsigned char)(w >> 8);
		if (k > 2)
			out[o++] = (unsigned char)w;
	}
	*outn = o;
	return 0;
}

/* ---- appending ---------------------------------------------------------- */

void airi__log_uncache(airi_store *s)
{
	s->log_cached = 0;
	for (int i = 0; i < 64; i++)
		s->frontier[i].valid = 0;
}

static int left_node(airi_store *s, int level, uint64_t index,
		     unsigned char out[AIRI_HASH_SIZE], airi_error *err)
{
	if (s->in_tx && s->frontier[level].valid &&
	    s->frontier[level].index == index) {
		memcpy(out, s->frontier[level].hash, AIRI_HASH_SIZE);
		return 0;
	}
	return s->ops->node_get(s->impl, level, index, out, err);
}

static int put_node(airi_store *s, int level, uint64_t index,
		    const unsigned char h[AIRI_HASH_SIZE], airi_error *err)
{
	int rc = s->ops->node_put(s->impl, level, index, h, err);
	/* only left children are ever asked for again (as the sibling of
	 * the next node), and the right child that completes a parent is
	 * written just before that question: keep the left one */
	if (!rc && s->in_tx && level < 64 && !(index & 1)) {
		s->frontier[level].index = index;
		s->frontier[level].valid = 1;
		memcpy(s->frontier[level].hash, h, AIRI_HASH_SIZE);
	}
	return rc;
}

int airi__log_next(airi_store *s, uint64_t *index, airi_error *err)
{
	if (s->in_tx && s->log_cached) {
		*index = s->log_next;
		return 0;
	}
	return s->ops->log_size(s->impl, index, err);
}

int airi__log_append(airi_store *s, uint64_t index, const airi_digest *run,
		     int64_t recorded_ms, airi_error *err)
{
	char entry[256], when[32], id[AIRI_DIGEST_STRLEN];
	unsigned char cur[AIRI_HASH_SIZE], left[AIRI_HASH_SIZE];
	int rc, n;
	airi__rfc3339_format(recorded_ms, when);
	airi_digest_format(run, id);
	/* canonical: members in sorted order, no escapes needed */
	n = snprintf(entry, sizeof(entry),
		     "{\"logged_at\":\"%s\",\"run\":\"%s\",\"type\":"
		     "\"airi.logentry/1\"}",
		     when, id);
	if ((rc = s->ops->log_append(s->impl, index, run, entry, (size_t)n,
				     err)))
		return rc;
	if (s->in_tx) {
		s->log_next = index + 1;
		s->log_cached = 1;
	}
	airi_merkle_leaf_hash(entry, (size_t)n, cur);
	if ((rc = put_node(s, 0, index, cur, err)))
		return rc;
	/* completing a right child completes its parent, and so on up */
	for (int level = 0; index & 1; level++) {
		if ((rc = left_node(s, level, index - 1, left, err)))
			return rc;
		airi_merkle_node_hash(left, cur, cur);
		index >>= 1;
		if ((rc = put_node(s, level + 1, index, cur, err)))
			return rc;
	}
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

/*
 * Proofs are built in two passes: the first only records which perfect
 * subtrees the RFC 9162 recursion asks for (the shape of a proof depends
 * on the index and size alone), then all of them are read in one query,
 * then the second pass computes the proof from memory. One round trip to
 * the store instead of one per level.
 */
#define MAX_PLAN 512

struct node_ctx {
	airi_store *s;
	airi_error *err;
	int planning;
	size_t n;
	int level[MAX_PLAN];
	uint64_t index[MAX_PLAN];
	unsigned char (*hash)[AIRI_HASH_SIZE];
};

static int plan_or_lookup(void *ctx, int level, uint64_t index,
			  unsigned char out[AIRI_HASH_SIZE])
{
	struct node_ctx *c = ctx;
	for (size_t i = 0; i < c->n; i++)
		if (c->level[i] == level && c->index[i] == index) {
			if (!c->planning)
				memcpy(out, c->hash[i], AIRI_HASH_SIZE);
			return 0;
		}
	if (!c->planning || c->n == MAX_PLAN)
		return airi__err(c->err, AIRI_ECORRUPT,
				 "log proof needs an unplanned node");
	c->level[c->n] = level;
	c->index[c->n] = index;
	c->n++;
	memset(out, 0, AIRI_HASH_SIZE);
	return 0;
}

static int load_plan(struct node_ctx *c)
{
	c->planning = 0;
	c->hash = calloc(c->n ? c->n : 1, AIRI_HASH_SIZE);
	if (!c->hash)
		return airi__err(c->err, AIRI_ENOMEM, "out of memory");
	int rc = c->s->ops->nodes_get(c->s->impl, c->n, c->level, c->index,
				      c->hash, c->err);
	if (rc == AIRI_ENOTFOUND)
		return airi__err(c->err, AIRI_ECORRUPT,
				 "log nodes are missing from the store");
	return rc;
}

int airi_store_log_size(airi_store *s, uint64_t *size, airi_error *err)
{
	return s->ops->log_size(s->impl, size, err);
}

int airi_store_log_root(airi_store *s, uint64_t size,
			unsigned char root[AIRI_HASH_SIZE], airi_error *err)
{
	uint64_t have;
	int rc;
	if ((rc = s->ops->log_size(s->impl, &have, err)))
		return rc;
	if (size > have)
		return airi__err(err, AIRI_EINVAL,
				 "the log has %llu entries, not %llu",
				 (unsigned long long)have,
				 (unsigned long long)size);
	if (size == 0) {
		/* the hash of the empty tree is SHA-256 of nothing */
		airi_digest d;
		airi_digest_bytes("", 0, &d);
		memcpy(root, d.bytes, AIRI_HASH_SIZE);
		return 0;
	}
	struct node_ctx *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	pc->s = s;
	pc->err = err;
	pc->planning = 1;
	if (!(rc = airi__merkle_range(plan_or_lookup, pc, 0, size, root)) &&
	    !(rc = load_plan(pc)))
		rc = airi__merkle_range(plan_or_lookup, pc, 0, size, root);
	free(pc->hash);
	free(pc);
	return rc;
}

int airi_store_log_entry(airi_store *s, const airi_digest *run,
			 uint64_t *index, char **entry, size_t *len,
			 airi_error *err)
{
	int rc = s->ops->log_find(s->impl, run, index, entry, len, err);
	if (rc == AIRI_ENOTFOUND) {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(run, h);
		return airi__err(err, rc, "run %s is not in the log", h);
	}
	return rc;
}

/* Runs a proof construction twice: once to plan which stored nodes it
 * needs, then (after one query for all of them) to compute it. */
typedef int (*proof_fn)(airi__node_fn get, void *ctx, uint64_t a, uint64_t b,
			unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n);

static int prove(airi_store *s, proof_fn fn, uint64_t a, uint64_t b,
		 size_t max, unsigned char (**proof)[AIRI_HASH_SIZE], size_t *n,
		 airi_error *err)
{
	int rc;
	unsigned char (*p)[AIRI_HASH_SIZE] = calloc(max, AIRI_HASH_SIZE);
	struct node_ctx *c = calloc(1, sizeof(*c));
	if (!p || !c) {
		free(p);
		free(c);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	c->s = s;
	c->err = err;
	c->planning = 1;
	if (!(rc = fn(plan_or_lookup, c, a, b, p, n)) && !(rc = load_plan(c)))
		rc = fn(plan_or_lookup, c, a, b, p, n);
	free(c->hash);
	free(c);
	if (rc) {
		free(p);
		return rc;
	}
	*proof = p;
	return 0;
}

int airi_store_log_inclusion(airi_store *s, uint64_t index, uint64_t size,
			     unsigned char (**proof)[AIRI_HASH_SIZE],
			     size_t *n, airi_error *err)
{
	uint64_t have;
	int rc;
	if ((rc = s->ops->log_size(s->impl, &have, err)))
		return rc;
	if (index >= size || size > have)
		return airi__err(err, AIRI_EINVAL,
				 "no inclusion proof for entry %llu in a tree "
				 "of %llu (the log has %llu)",
				 (unsigned long long)index,
				 (unsigned long long)size,
				 (unsigned long long)have);
	return prove(s, airi__merkle_inclusion, index, size, 64, proof, n, err);
}

int airi_store_log_consistency(airi_store *s, uint64_t size1, uint64_t size2,
			       unsigned char (**proof)[AIRI_HASH_SIZE],
			       size_t *n, airi_error *err)
{
	uint64_t have;
	int rc;
	if ((rc = s->ops->log_size(s->impl, &have, err)))
		return rc;
	if (size1 == 0 || size1 > size2 || size2 > have)
		return airi__err(err, AIRI_EINVAL,
				 "no consistency proof from %llu to %llu (the "
				 "log has %llu)",
				 (unsigned long long)size1,
				 (unsigned long long)size2,
				 (unsigned long long)have);
	return prove(s, airi__merkle_consistency, size1, size2, 130, proof, n,
		     err);
}

int airi_store_checkpoint(airi_store *s, const airi_key *signer,
			  const char *origin, char **note, airi_error *err)
{
	uint64_t size, last = 0;
	char *latest = NULL, *stored_origin = NULL;
	int rc = s->ops->checkpoint_latest(s->impl, &last, &latest, err);
	if (rc && rc != AIRI_ENOTFOUND)
		return rc;
	if ((rc = s->ops->log_size(s->impl, &size, err))) {
		free(latest);
		return rc;
	}
	if (origin) {
		/* a given origin must be this log's */
		char *so = NULL;
		int r2 = s->ops->setting_get(s->impl, "origin", &so, err);
		if (r2 && r2 != AIRI_ENOTFOUND) {
			free(latest);
			return r2;
		}
		if (so && strcmp(so, origin)) {
			rc = airi__err(err, AIRI_EINVAL,
				       "this log's origin is \"%s\", not \"%s\" "
				       "(the origin is set once, at the first "
				       "checkpoint)",
				       so, origin);
			free(so);
			free(latest);
			return rc;
		}
		free(so);
	}
	if (signer && (!latest || size > last)) {
		airi_checkpoint cp;
		char *signed_note = NULL;
		memset(&cp, 0, sizeof(cp));
		rc = s->ops->setting_get(s->impl, "origin", &stored_origin, err);
		if (rc && rc != AIRI_ENOTFOUND) {
			free(latest);
			return rc;
		}
		if (stored_origin && origin && strcmp(stored_origin, origin)) {
			rc = airi__err(err, AIRI_EINVAL,
				       "this log's origin is \"%s\", not "
				       "\"%s\"",
				       stored_origin, origin);
			free(stored_origin);
			free(latest);
			return rc;
		}
		snprintf(cp.origin, sizeof(cp.origin), "%s",
			 stored_origin ? stored_origin
			 : origin      ? origin
				       : airi_key_name(signer));
		int bad = !cp.origin[0];
		for (const char *o = cp.origin; *o; o++)
			bad |= (unsigned char)*o < 0x20 || *o == 0x7F;
		if (bad) {
			rc = airi__err(err, AIRI_EINVAL,
				       "invalid origin \"%s\" (one line of "
				       "printable text)",
				       cp.origin);
			goto out;
		}
		cp.size = size;
		int own_tx = !s->in_tx;
		if (own_tx && (rc = s->ops->begin(s->impl, err)))
			goto out;
		/* re-read the size inside the write transaction */
		if ((rc = s->ops->log_size(s->impl, &cp.size, err)) ||
		    (rc = airi_store_log_root(s, cp.size, cp.root, err)) ||
		    (rc = airi_checkpoint_sign(signer, &cp, &signed_note)) ||
		    (!stored_origin &&
		     (rc = s->ops->setting_put(s->impl, "origin", cp.origin,
					       err))) ||
		    (rc = s->ops->checkpoint_put(s->impl, cp.size, signed_note,
						 err))) {
			if (rc == AIRI_EKEY || rc == AIRI_ENOMEM)
				airi__err(err, rc, "cannot sign the checkpoint");
			if (own_tx)
				s->ops->rollback(s->impl);
			free(signed_note);
			goto out;
		}
		if (own_tx && (rc = s->ops->commit(s->impl, err))) {
			s->ops->rollback(s->impl);
			free(signed_note);
			goto out;
		}
		free(latest);
		latest = signed_note;
	}
	if (!latest) {
		rc = airi__err(err, AIRI_ENOTFOUND,
			       "no signed checkpoint yet (give a signing key: "
			       "airi key generate, then airi checkpoint)");
		goto out;
	}
	*note = latest;
	latest = NULL;
	rc = 0;
out:
	free(latest);
	free(stored_origin);
	return rc;
}
