/*
 * id.c - `airi id`: plumbing that prints the run ID of a manifest (or all
 * its identities with --json) without touching any store.
 */
#include "cli.h"

#include <stdlib.h>

int cmd_id(struct args *a)
{
	const char *path = a->npos ? a->pos[0] : "-";
	char *data;
	size_t len;
	airi_manifest *m;
	airi_error err;
	int rc;
	if (a->npos > 1) {
		cli_errorf("id: expected one input, got %d", a->npos);
		return EXIT_USAGE;
	}
	if (cli_read(path, &data, &len))
		return EXIT_NOINPUT;
	rc = airi_manifest_parse(data, len, &m, &err);
	free(data);
	if (rc) {
		cli_error(cli_name(path), &err);
		return cli_status(rc);
	}
	if (cli_opt(a, "json")) {
		char *j;
		size_t n;
		if (airi_manifest_ids_json(m, &j, &n)) {
			airi_manifest_free(m);
			cli_errorf("out of memory");
			return EXIT_TROUBLE;
		}
		cli_write(j, n);
		putchar('\n');
		free(j);
	} else {
		char d[AIRI_DIGEST_STRLEN];
		airi_digest_format(airi_manifest_run_id(m), d);
		puts(d);
	}
	airi_manifest_free(m);
	return 0;
}
