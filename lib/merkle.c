/*
 * merkle.c - RFC 9162 (RFC 6962) Merkle tree hashing, proof construction
 * and proof verification, independent of where the tree's nodes live.
 *
 * Hashes: leaf = SHA-256(0x00 || leaf bytes), node = SHA-256(0x01 || left
 * || right). Construction works on a callback that returns the hash of a
 * *perfect aligned subtree* (level l, index i covers leaves
 * [i*2^l, (i+1)*2^l)); every left-hand subtree that RFC 9162's recursive
 * definitions ask for is such a subtree, and right-edge subtrees are
 * assembled from O(log n) of them.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <openssl/evp.h>
#include <string.h>

const EVP_MD *airi__sha256(void);

void airi_merkle_leaf_hash(const void *leaf, size_t n,
			   unsigned char out[AIRI_HASH_SIZE])
{
	unsigned int len;
	unsigned char z = 0;
	if (n < 1024) { /* log entries: one call, no context allocation */
		unsigned char buf[1025];
		buf[0] = 0;
		memcpy(buf + 1, leaf, n);
		EVP_Digest(buf, n + 1, out, &len, airi__sha256(), NULL);
		return;
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, airi__sha256(), NULL);
	EVP_DigestUpdate(c, &z, 1);
	EVP_DigestUpdate(c, leaf, n);
	EVP_DigestFinal_ex(c, out, &len);
	EVP_MD_CTX_free(c);
}

void airi_merkle_node_hash(const unsigned char left[AIRI_HASH_SIZE],
			   const unsigned char right[AIRI_HASH_SIZE],
			   unsigned char out[AIRI_HASH_SIZE])
{
	unsigned char buf[1 + 2 * AIRI_HASH_SIZE];
	unsigned int len;
	buf[0] = 1;
	memcpy(buf + 1, left, AIRI_HASH_SIZE);
	memcpy(buf + 1 + AIRI_HASH_SIZE, right, AIRI_HASH_SIZE);
	EVP_Digest(buf, sizeof(buf), out, &len, airi__sha256(), NULL);
}

/* largest power of two strictly less than n (n >= 2) */
static uint64_t split(uint64_t n)
{
	uint64_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int is_pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

static int log2u(uint64_t n)
{
	int l = 0;
	while (n > 1) {
		n >>= 1;
		l++;
	}
	return l;
}

/* Hash of leaves [a, b), b > a. */
int airi__merkle_range(airi__node_fn get, void *ctx, uint64_t a, uint64_t b,
		       unsigned char out[AIRI_HASH_SIZE])
{
	uint64_t n = b - a;
	if (is_pow2(n) && a % n == 0)
		return get(ctx, log2u(n), a / n, out);
	uint64_t k = split(n);
	unsigned char l[AIRI_HASH_SIZE], r[AIRI_HASH_SIZE];
	int rc;
	if ((rc = airi__merkle_range(get, ctx, a, a + k, l)) ||
	    (rc = airi__merkle_range(get, ctx, a + k, b, r)))
		return rc;
	airi_merkle_node_hash(l, r, out);
	return 0;
}

/* RFC 9162 2.1.3.1 PATH(m, D[a:b]); appends to proof (leaf to root). */
static int path(airi__node_fn get, void *ctx, uint64_t m, uint64_t a,
		uint64_t b, unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n)
{
	if (b - a <= 1)
		return 0;
	uint64_t k = split(b - a);
	int rc;
	if (m < k) {
		if ((rc = path(get, ctx, m, a, a + k, proof, n)))
			return rc;
		return airi__merkle_range(get, ctx, a + k, b, proof[(*n)++]);
	}
	if ((rc = path(get, ctx, m - k, a + k, b, proof, n)))
		return rc;
	return airi__merkle_range(get, ctx, a, a + k, proof[(*n)++]);
}

int airi__merkle_inclusion(airi__node_fn get, void *ctx, uint64_t index,
			   uint64_t size,
			   unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n)
{
	*n = 0;
	if (index >= size)
		return AIRI_EINVAL;
	return path(get, ctx, index, 0, size, proof, n);
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[a:b], b) */
static int subproof(airi__node_fn get, void *ctx, uint64_t m, uint64_t a,
		    uint64_t b, int whole,
		    unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n)
{
	uint64_t len = b - a;
	int rc;
	if (m == len) {
		if (whole)
			return 0;
		return airi__merkle_range(get, ctx, a, b, proof[(*n)++]);
	}
	uint64_t k = split(len);
	if (m <= k) {
		if ((rc = subproof(get, ctx, m, a, a + k, whole, proof, n)))
			return rc;
		return airi__merkle_range(get, ctx, a + k, b, proof[(*n)++]);
	}
	if ((rc = subproof(get, ctx, m - k, a + k, b, 0, proof, n)))
		return rc;
	return airi__merkle_range(get, ctx, a, a + k, proof[(*n)++]);
}

int airi__merkle_consistency(airi__node_fn get, void *ctx, uint64_t size1,
			     uint64_t size2,
			     unsigned char (*proof)[AIRI_HASH_SIZE], size_t *n)
{
	*n = 0;
	if (size1 == 0 || size1 > size2)
		return AIRI_EINVAL;
	if (size1 == size2)
		return 0;
	return subproof(get, ctx, size1, 0, size2, 1, proof, n);
}

/*
 * How verification works (RFC 9162 2.1.3.2): walk from the leaf towards
 * the root; fn is the node's index at the current level and sn the index
 * of the last node at that level. A proof element is a left sibling when
 * fn is odd or fn is the last node (then levels where fn is the rightmost
 * node without sibling are skipped by shifting), otherwise a right one.
 */
int airi_merkle_verify_inclusion(uint64_t index, uint64_t size,
				 const unsigned char *leaf, size_t leaf_len,
				 const unsigned char (*proof)[AIRI_HASH_SIZE],
				 size_t n, const unsigned char *root,
				 size_t root_len)
{
	unsigned char r[AIRI_HASH_SIZE];
	uint64_t fn = index, sn = size - 1;
	if (index >= size || leaf_len != AIRI_HASH_SIZE ||
	    root_len != AIRI_HASH_SIZE)
		return AIRI_EINVAL;
	memcpy(r, leaf, AIRI_HASH_SIZE);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return AIRI_EINVAL; /* proof too long */
		if ((fn & 1) || fn == sn) {
			airi_merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			airi_merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, AIRI_HASH_SIZE) != 0)
		return AIRI_EINVAL;
	return 0;
}

int airi_merkle_verify_consistency(uint64_t size1, uint64_t size2,
				   const unsigned char *root1, size_t root1_len,
				   const unsigned char *root2, size_t root2_len,
				   const unsigned char (*proof)[AIRI_HASH_SIZE],
				   size_t n)
{
	unsigned char fr[AIRI_HASH_SIZE], sr[AIRI_HASH_SIZE];
	size_t i = 0;
	if (size1 > size2 || size1 == 0)
		return AIRI_EINVAL; /* shrinking, or nothing to prove */
	if (size1 == size2) {
		if (n != 0 || root1_len != root2_len ||
		    memcmp(root1, root2, root1_len) != 0)
			return AIRI_EINVAL;
		return 0;
	}
	if (n == 0 || root1_len != AIRI_HASH_SIZE ||
	    root2_len != AIRI_HASH_SIZE)
		return AIRI_EINVAL;
	uint64_t fn = size1 - 1, sn = size2 - 1;
	/* if size1 is a power of two its root is the first node, implicit */
	if (is_pow2(size1)) {
		memcpy(fr, root1, AIRI_HASH_SIZE);
	} else {
		memcpy(fr, proof[0], AIRI_HASH_SIZE);
		i = 1;
	}
	memcpy(sr, fr, AIRI_HASH_SIZE);
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return AIRI_EINVAL;
		if ((fn & 1) || fn == sn) {
			airi_merkle_node_hash(proof[i], fr, fr);
			airi_merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			airi_merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, AIRI_HASH_SIZE) != 0 ||
	    memcmp(sr, root2, AIRI_HASH_SIZE) != 0)
		return AIRI_EINVAL;
	return 0;
}
