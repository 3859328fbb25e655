/*
 * fuzz_keys.h - the fixed Ed25519 test key of the fuzz targets and what it
 * signed. It is a test key and nothing else: it signed only the log of the
 * three runs below, built once with the airi command from the seed
 * manifests corpus/manifest-min, manifest-full and manifest-null-output
 * (in that order; `airi key generate --name fuzz.example/log`, `airi
 * record` each, `airi export` each). Its checkpoints and bundles are the
 * note-* and bundle-* seeds in corpus/.
 *
 * Since no one else holds the key, an input that verifies can only carry
 * a checkpoint of that log, and a bundle that verifies can only prove one
 * of those three runs: anything else is a forgery the library let through.
 */
#ifndef AIRI_FUZZ_KEYS_H
#define AIRI_FUZZ_KEYS_H

static const char fuzz_signer_key[] =
	"PRIVATE+KEY+fuzz.example/log+e11a2828+"
	"AeSw4K1OKfsjPbvU+y8KbgUuTvfCHswpsOaXei1v7Ux8";
static const char fuzz_verifier_key[] =
	"fuzz.example/log+e11a2828+ATfkPmy/JjJRV+lKtHZFwFFQEgodTYBqtKxOgCHTle3h";

/* The newest checkpoint of the log (the one in every seed bundle). */
static const char fuzz_checkpoint[] =
	"localhost/airi\n3\n/B8bfwj5KnVOOMWkLLPkNueTFwYLQ4srf2WKBXuN8Xw=\n\n"
	"\xE2\x80\x94 fuzz.example/log 4RooKAbc11/DzG24iLqO6ReLl5+H+X3wS5/ebMQaH4Qh"
	"cIXEkaQxEISouUFU4sT27n3WhU/aI3/dbPO4xTVejkj6vgk=\n";
/* Its signed text: origin, size, root. */
static const char fuzz_checkpoint_text[] =
	"localhost/airi\n3\n/B8bfwj5KnVOOMWkLLPkNueTFwYLQ4srf2WKBXuN8Xw=\n";

/* The log's entries: index, run ID, conditions ID, logged_at. */
static const struct fuzz_entry {
	unsigned index;
	const char *run, *conditions, *logged_at;
} fuzz_log[] = {
	{0,
	 "sha256:a2245c4be76f8696c92638d709219706365f4317424efd6fb6514fc9c5adda9e",
	 "sha256:86d977f98ec115ee4ecf14c4c5ef8002aad0f31d96ea6a0e070c8465c675f820",
	 "2026-11-28T06:50:38.621Z"},
	{1,
	 "sha256:23106972fd1b4c4f1d1016da358c27cf277d127734b18dc6977e73f2b6fba612",
	 "sha256:b2a58b04df8d2eda000a4d525593dd328257933f98593b2e8870a68e5185fff5",
	 "2026-11-28T06:50:38.645Z"},
	{2,
	 "sha256:ec51220d41308888a6de373065857bc607226024a24c28468751f10aac6f29bc",
	 "sha256:a28d5bec60b3a8784e02d1c83ab02ade0ac4adc2191bdbd281d0d676f9d7189c",
	 "2026-11-28T06:50:38.661Z"},
};

#endif /* AIRI_FUZZ_KEYS_H */
