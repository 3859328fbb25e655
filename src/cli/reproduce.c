/*
 * reproduce.c - `airi reproduce RUN`: re-executes a recorded model call
 * with exactly the recorded request and explains any difference.
 */
#include "cli.h"

int cmd_reproduce(struct args *a)
{
	(void)a;
	cli_errorf("reproduce: not implemented yet");
	return EXIT_TROUBLE;
}
