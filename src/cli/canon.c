/*
 * canon.c - `airi canon`: plumbing that prints the RFC 8785 canonical bytes
 * of any JSON text, exactly what the digests are computed over.
 */
#include "cli.h"

#include <stdlib.h>

static int write_out(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	return cli_write(p, n) ? AIRI_EIO : 0;
}

int cmd_canon(struct args *a)
{
	const char *path = a->npos ? a->pos[0] : "-";
	char *data;
	size_t len;
	airi_json *doc;
	airi_error err;
	int rc;
	if (a->npos > 1) {
		cli_errorf("canon: expected one input, got %d", a->npos);
		return EXIT_USAGE;
	}
	int mapped;
	if (cli_map(path, &data, &len, &mapped))
		return EXIT_NOINPUT;
	rc = airi_json_parse(data, len, &doc, &err);
	if (rc) {
		cli_error(cli_name(path), &err);
		cli_unmap(data, len, mapped);
		return cli_status(rc);
	}
	rc = airi_canon_write(airi_json_root(doc), write_out, NULL);
	airi_json_free(doc);
	cli_unmap(data, len, mapped);
	if (rc) {
		cli_errorf("canon: error writing output");
		return EXIT_TROUBLE;
	}
	return 0;
}
