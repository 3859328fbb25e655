#include "cli.h"

int cmd_regress(struct args *a)
{
	(void)a;
	cli_errorf("regress: not implemented yet");
	return EXIT_TROUBLE;
}
