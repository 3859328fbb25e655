/*
 * proof.c - the commands around the transparency log: `airi key` (make and
 * show the Ed25519 signing key), `airi checkpoint` (the newest signed
 * checkpoint), `airi export` (a bundle that proves one run), `airi verify`
 * (check a bundle, or that one checkpoint's log grew into another's,
 * offline) and `airi consistency` (plumbing: a consistency proof).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


char *cli_key_location(const struct args *a)
{
	const char *k = cli_val(a, "key");
	const char *e = getenv("AIRI_KEY");
	char *out = NULL;
	if (k)
		return strdup(k);
	if (e && *e)
		return strdup(e);
	e = getenv("XDG_CONFIG_HOME");
	if (e && *e == '/') {
		if (asprintf(&out, "%s/airi/signing.key", e) < 0)
			return NULL;
		return out;
	}
	e = getenv("HOME");
	if (asprintf(&out, "%s/.config/airi/signing.key", e && *e ? e : ".") < 0)
		return NULL;
	return out;
}

/* The signing key, or NULL. With required, a missing key is an error
 * (*status set); otherwise only a malformed key is. */
airi_key *cli_signer(const struct args *a, int required, int *status)
{
	char *path = cli_key_location(a);
	char *text = NULL;
	size_t len;
	airi_key *k = NULL;
	airi_error err;
	*status = 0;
	if (!path)
		return NULL;
	if (access(path, F_OK) != 0) {
		if (required || cli_val(a, "key")) {
			cli_errorf("no signing key at %s (create one with 'airi "
				   "key generate')",
				   path);
			*status = EXIT_NOINPUT;
		}
		free(path);
		return NULL;
	}
	if (cli_read(path, &text, &len)) {
		*status = EXIT_NOINPUT;
		free(path);
		return NULL;
	}
	if (airi_key_parse(text, &k, &err)) {
		cli_errorf("%s: %s", path, err.message);
		*status = EXIT_DATAERR;
	} else if (!airi_key_can_sign(k)) {
		cli_errorf("%s: is a verifier key, not a signing key", path);
		airi_key_free(k);
		k = NULL;
		*status = EXIT_DATAERR;
	}
	memset(text, 0, len);
	free(text);
	free(path);
	return k;
}

/* A verifier key given as text or as a file holding it. */
static airi_key *verifier_arg(const char *arg, int *status)
{
	airi_key *k = NULL;
	airi_error err;
	char *text = NULL;
	size_t len;
	*status = 0;
	if (!arg) {
		cli_errorf("verify: --key PUBKEY is required (a verifier key or "
			   "a file holding one)");
		*status = EXIT_USAGE;
		return NULL;
	}
	if (access(arg, F_OK) == 0) {
		if (cli_read(arg, &text, &len)) {
			*status = EXIT_NOINPUT;
			return NULL;
		}
	}
	if (airi_key_parse(text ? text : arg, &k, &err)) {
		cli_errorf("E-key: %s", err.message);
		*status = EXIT_DIFFERENT;
	}
	free(text);
	return k;
}

int cmd_key(struct args *a)
{
	if (a->npos != 1 || (strcmp(a->pos[0], "generate") &&
			     strcmp(a->pos[0], "show"))) {
		cli_errorf("key: expected 'generate' or 'show'");
		return EXIT_USAGE;
	}
	char *path = cli_key_location(a);
	int status = 0;
	if (!path)
		return EXIT_TROUBLE;
	if (!strcmp(a->pos[0], "show")) {
		airi_key *k = cli_signer(a, 1, &status);
		char *v = NULL;
		if (k && !airi_key_verifier(k, &v))
			printf("%s\n", v);
		free(v);
		airi_key_free(k);
		free(path);
		return status;
	}
	const char *name = cli_val(a, "name") ? cli_val(a, "name")
					       : "localhost/airi";
	char *signer = NULL, *verifier = NULL;
	airi_error err;
	if (airi_key_generate(name, &signer, &verifier, &err)) {
		cli_errorf("key: %s", err.message);
		free(path);
		return EXIT_USAGE;
	}
	/* the directory is private, the file 0600, never overwritten
	 * unless --force */
	cli_make_parent(path);
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
		    (cli_opt(a, "force") ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_errorf("key: %s already exists (use --force to "
				   "replace it; its checkpoints would no longer "
				   "verify with the new key)",
				   path);
		else
			cli_errorf("key: %s: %s", path, strerror(errno));
		status = errno == EEXIST ? EXIT_TROUBLE : EXIT_NOINPUT;
	} else {
		size_t n = strlen(signer);
		fchmod(fd, 0600);
		if (write(fd, signer, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
		    fsync(fd) != 0) {
			cli_errorf("key: cannot write %s", path);
			status = EXIT_TROUBLE;
		}
		close(fd);
		if (!status) {
			printf("%s\n", verifier);
			fprintf(stderr, "airi: signing key written to %s; give "
					"reviewers the verifier key above\n",
				path);
		}
	}
	memset(signer, 0, strlen(signer));
	free(signer);
	free(verifier);
	free(path);
	return status;
}

int cmd_checkpoint(struct args *a)
{
	int status = 0;
	airi_error err;
	char *note = NULL;
	if (a->npos) {
		cli_errorf("checkpoint: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	airi_key *k = cli_signer(a, 0, &status);
	if (status)
		return status;
	airi_store *s = cli_store(a, 0, &status);
	if (!s) {
		airi_key_free(k);
		return status;
	}
	int rc = airi_store_checkpoint(s, k, cli_val(a, "origin"), &note, &err);
	if (rc) {
		cli_error(NULL, &err);
		status = EXIT_TROUBLE;
	} else if (cli_opt(a, "json")) {
		airi_checkpoint cp;
		size_t tl;
		airi__checkpoint_parse(note, strlen(note), &cp, &tl, NULL);
		char *root = airi__b64_encode(cp.root, AIRI_HASH_SIZE);
		fputs("{\"note\":", stdout);
		putchar('"');
		airi__buf esc;
		airi__buf_init(&esc);
		airi__canon_string(&esc, note, strlen(note));
		fwrite(esc.p + 1, 1, esc.n - 2, stdout); /* without quotes */
		esc.n = 0;
		airi__canon_string(&esc, cp.origin, strlen(cp.origin));
		printf("\",\"origin\":%s,\"root\":\"%s\",\"size\":%llu}\n",
		       esc.p, root ? root : "", (unsigned long long)cp.size);
		airi__buf_release(&esc);
		free(root);
	} else {
		fputs(note, stdout);
	}
	free(note);
	airi_key_free(k);
	airi_store_close(s);
	return status;
}

int cmd_export(struct args *a)
{
	int status = 0;
	airi_error err;
	airi_digest d;
	char *out = NULL;
	size_t n;
	if (a->npos != 1) {
		cli_errorf("export: expected one run ID");
		return EXIT_USAGE;
	}
	airi_key *k = cli_signer(a, 0, &status);
	if (status)
		return status;
	airi_store *s = cli_store(a, 0, &status);
	if (!s) {
		airi_key_free(k);
		return status;
	}
	int rc = airi_store_resolve(s, a->pos[0], &d, &err);
	if (!rc)
		rc = airi_bundle_export(s, &d, cli_val(a, "withhold"), k, &out, &n,
					&err);
	if (rc) {
		cli_error(NULL, &err);
		status = rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	} else if (cli_val(a, "output")) {
		const char *path = cli_val(a, "output");
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
		FILE *f = fopen(tmp, "wb");
		if (!f || fwrite(out, 1, n, f) != n || fflush(f) ||
		    fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
			cli_errorf("export: cannot write %s: %s", path,
				   strerror(errno));
			unlink(tmp);
			status = EXIT_TROUBLE;
		}
	} else {
		cli_write(out, n);
		putchar('\n');
	}
	free(out);
	airi_key_free(k);
	airi_store_close(s);
	return status;
}

static void print_report(const char *report)
{
	airi_json *doc;
	if (airi_json_parse(report, strlen(report), &doc, NULL))
		return;
	const airi_value *r = airi_json_root(doc);
	const airi_value *cp = airi_value_get(r, "checkpoint");
	printf("verified    run %s\n", cli_s(airi_value_get(r, "run")));
	printf("conditions  %s\n", cli_s(airi_value_get(r, "conditions")));
	printf("logged at   %s\n", cli_s(airi_value_get(r, "logged_at")));
	printf("log         %s, entry %.0f of %.0f, signed by %s\n",
	       cli_s(airi_value_get(cp, "origin")),
	       airi_value_number(airi_value_get(r, "index")),
	       airi_value_number(airi_value_get(cp, "size")),
	       cli_s(airi_value_get(cp, "key")));
	const char *labels[] = {"disclosed", "withheld"};
	for (int k = 0; k < 2; k++) {
		const airi_value *l = airi_value_get(r, labels[k]);
		printf("%-11s", labels[k]);
		for (size_t i = 0; i < airi_value_count(l); i++)
			printf("%s%s", i ? ", " : " ",
			       cli_s(airi_value_at(l, i)));
		if (!airi_value_count(l))
			printf(" (none)");
		putchar('\n');
	}
	airi_json_free(doc);
}

static int verify_fail(const struct args *a, const airi_error *err)
{
	if (cli_opt(a, "json")) {
		/* canonical: message, ok, pointer, reason */
		airi__jw w;
		airi__jw_init(&w);
		airi__jw_obj(&w);
		airi__jw_key(&w, "message");
		airi__jw_str(&w, err->message);
		airi__jw_key(&w, "ok");
		airi__jw_bool(&w, 0);
		airi__jw_key(&w, "pointer");
		airi__jw_str(&w, err->has_pointer ? err->pointer : "");
		airi__jw_key(&w, "reason");
		airi__jw_str(&w, err->reason);
		airi__jw_end_obj(&w);
		size_t n;
		char *j = airi__jw_finish(&w, &n);
		if (j) {
			cli_write(j, n);
			putchar('\n');
			free(j);
		}
	}
	cli_errorf("verify: %s", err->message);
	return EXIT_DIFFERENT;
}

/* hashes from a proof file: {"hashes":[base64...]} */
static int read_proof_file(const char *path, unsigned char (*proof)[32],
			   size_t *n)
{
	char *data;
	size_t len;
	airi_json *doc;
	if (cli_read(path, &data, &len))
		return EXIT_NOINPUT;
	if (airi_json_parse(data, len, &doc, NULL)) {
		free(data);
		cli_errorf("E-format: %s: not a proof file", path);
		return EXIT_DIFFERENT;
	}
	const airi_value *h = airi_value_get(airi_json_root(doc), "hashes");
	*n = 0;
	int rc = 0;
	if (airi_value_type(h) != AIRI_ARRAY || airi_value_count(h) > 128)
		rc = 1;
	for (size_t i = 0; !rc && i < airi_value_count(h); i++) {
		size_t sn, on;
		const char *s = airi_value_string(airi_value_at(h, i), &sn);
		if (!s || airi__b64_decode(s, sn, proof[i], 32, &on) || on != 32)
			rc = 1;
		else
			(*n)++;
	}
	airi_json_free(doc);
	free(data);
	if (rc) {
		cli_errorf("E-format: %s: expected {\"hashes\":[base64 ...]}", path);
		return EXIT_DIFFERENT;
	}
	return 0;
}

static int verify_consistency(struct args *a, airi_key *k)
{
	airi_checkpoint c1, c2;
	airi_error err;
	char *t1 = NULL, *t2 = NULL;
	size_t l1, l2, n = 0;
	unsigned char proof[130][32];
	int status = 0;
	if (cli_read(a->pos[0], &t1, &l1) || cli_read(a->pos[1], &t2, &l2)) {
		free(t1);
		return EXIT_NOINPUT;
	}
	if (airi_checkpoint_verify(t1, l1, k, &c1, &err) ||
	    airi_checkpoint_verify(t2, l2, k, &c2, &err)) {
		status = verify_fail(a, &err);
		goto done;
	}
	if (strcmp(c1.origin, c2.origin)) {
		airi__verr(&err, "E-checkpoint",
			   "the checkpoints are of different logs (%s, %s)",
			   c1.origin, c2.origin);
		status = verify_fail(a, &err);
		goto done;
	}
	if (c1.size > c2.size) {
		airi__verr(&err, "E-consistency",
			   "the first checkpoint (%llu entries) is newer than "
			   "the second (%llu)",
			   (unsigned long long)c1.size, (unsigned long long)c2.size);
		status = verify_fail(a, &err);
		goto done;
	}
	if (c1.size > 0 && c1.size < c2.size) {
		if (cli_val(a, "proof")) {
			if ((status = read_proof_file(cli_val(a, "proof"), proof, &n)))
				goto done;
		} else {
			airi_store *s = cli_store(a, 0, &status);
			unsigned char (*p)[32] = NULL;
			if (!s)
				goto done;
			if (airi_store_log_consistency(s, c1.size, c2.size, &p, &n,
						       &err)) {
				cli_error(NULL, &err);
				status = EXIT_TROUBLE;
				airi_store_close(s);
				goto done;
			}
			memcpy(proof, p, n * 32);
			free(p);
			airi_store_close(s);
		}
	}
	if (c1.size == 0) {
		airi__verr(&err, "E-consistency",
			   "a checkpoint of an empty log proves nothing about "
			   "what came later");
		status = verify_fail(a, &err);
		goto done;
	}
	if (airi_merkle_verify_consistency(c1.size, c2.size, c1.root, 32, c2.root,
					   32, (const unsigned char(*)[32])proof,
					   n)) {
		airi__verr(&err, "E-consistency",
			   "the log of %llu entries is not a prefix of the log "
			   "of %llu entries: history was rewritten",
			   (unsigned long long)c1.size, (unsigned long long)c2.size);
		status = verify_fail(a, &err);
		goto done;
	}
	if (cli_opt(a, "json")) {
		airi__buf o;
		airi__buf_init(&o);
		airi__canon_string(&o, c1.origin, strlen(c1.origin));
		printf("{\"ok\":true,\"origin\":%s,\"size1\":%llu,\"size2\":%llu}\n",
		       o.p ? o.p : "\"\"", (unsigned long long)c1.size,
		       (unsigned long long)c2.size);
		airi__buf_release(&o);
	}
	else
		printf("consistent: %s grew from %llu to %llu entries without "
		       "rewriting any\n",
		       c1.origin, (unsigned long long)c1.size,
		       (unsigned long long)c2.size);
done:
	free(t1);
	free(t2);
	return status;
}

int cmd_verify(struct args *a)
{
	int status = 0;
	airi_key *k = verifier_arg(cli_val(a, "key"), &status);
	if (!k)
		return status;
	if (cli_opt(a, "consistency")) {
		if (a->npos != 2) {
			cli_errorf("verify --consistency: expected OLD_CHECKPOINT "
				   "NEW_CHECKPOINT");
			airi_key_free(k);
			return EXIT_USAGE;
		}
		status = verify_consistency(a, k);
		airi_key_free(k);
		return status;
	}
	if (a->npos != 1) {
		cli_errorf("verify: expected one bundle file");
		airi_key_free(k);
		return EXIT_USAGE;
	}
	char *data;
	size_t len;
	int mapped;
	if (cli_map(a->pos[0], &data, &len, &mapped)) {
		airi_key_free(k);
		return EXIT_NOINPUT;
	}
	char *report = NULL;
	size_t rn;
	airi_error err;
	if (airi_bundle_verify(data, len, k, &report, &rn, &err)) {
		status = verify_fail(a, &err);
	} else if (cli_opt(a, "json")) {
		cli_write(report, rn);
		putchar('\n');
	} else {
		print_report(report);
	}
	free(report);
	cli_unmap(data, len, mapped);
	airi_key_free(k);
	return status;
}

int cmd_consistency(struct args *a)
{
	int status = 0;
	airi_error err;
	unsigned long long s1, s2;
	char *e1, *e2;
	if (a->npos != 2) {
		cli_errorf("consistency: expected SIZE1 SIZE2");
		return EXIT_USAGE;
	}
	s1 = strtoull(a->pos[0], &e1, 10);
	s2 = strtoull(a->pos[1], &e2, 10);
	if (*e1 || *e2 || !*a->pos[0] || !*a->pos[1] || a->pos[0][0] < '0' ||
	    a->pos[0][0] > '9' || a->pos[1][0] < '0' || a->pos[1][0] > '9') {
		cli_errorf("consistency: sizes must be numbers");
		return EXIT_USAGE;
	}
	airi_store *s = cli_store(a, 0, &status);
	if (!s)
		return status;
	unsigned char (*p)[32] = NULL;
	size_t n;
	if (airi_store_log_consistency(s, s1, s2, &p, &n, &err)) {
		cli_error(NULL, &err);
		airi_store_close(s);
		return EXIT_TROUBLE;
	}
	printf("{\"hashes\":[");
	for (size_t i = 0; i < n; i++) {
		char *b = airi__b64_encode(p[i], 32);
		printf("%s\"%s\"", i ? "," : "", b ? b : "");
		free(b);
	}
	printf("],\"size1\":%llu,\"size2\":%llu}\n", s1, s2);
	free(p);
	airi_store_close(s);
	return 0;
}
