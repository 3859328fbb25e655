/*
 * env.c - `airi env`: prints airi_environment() (lib/env.c), the ready
 * `environment` section of this machine.
 */
#include "cli.h"

#include <stdlib.h>

int cmd_env(struct args *a)
{
	if (a->npos) {
		cli_errorf("env: unexpected argument \"%s\" (use --var NAME)",
			   a->pos[0]);
		return EXIT_USAGE;
	}
	char *text = NULL;
	size_t n = 0;
	airi_error err;
	int rc = airi_environment(cli_val(a, "var"), &text, &n, &err);
	if (rc) {
		cli_errorf("env: %s", err.message);
		return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	}
	int status = cli_print_json(a, text, n);
	free(text);
	return status;
}
