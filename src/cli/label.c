#include "cli.h"

int cmd_label(struct args *a)
{
	(void)a;
	cli_errorf("label: not implemented yet");
	return EXIT_TROUBLE;
}
