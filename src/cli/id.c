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
	int mapped;
	if (cli_map(path, &data, &len, &mapped))
		return EXIT_NOINPUT;
	rc = airi_manifest_parse_borrow(data, len, &m, &err);
	if (rc) {
		cli_error(cli_name(path), &err);
		cli_unmap(data, len, mapped);
		return cli_status(rc);
	}
	if (cli_opt(a, "json")) {
		char *j;
		size_t n;
		if (airi_manifest_ids_json(m, &j, &n)) {
			airi_manifest_free(m);
			cli_unmap(data, len, mapped);
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
	cli_unmap(data, len, mapped);
	return 0;
}
