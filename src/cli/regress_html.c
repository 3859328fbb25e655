/*
 * regress_html.c - the self-contained HTML report of `airi regress`.
 */
#include "cli.h"

#include <stdio.h>

int regress_html(const char *path, const airi_value *report, const char *json,
		 size_t n)
{
	(void)report;
	FILE *f = fopen(path, "w");
	if (!f) {
		cli_errorf("regress: %s: cannot write", path);
		return -1;
	}
	fputs("<!doctype html><meta charset=utf-8><title>airi regress</title><pre>", f);
	for (size_t i = 0; i < n; i++) {
		char c = json[i];
		if (c == '<')
			fputs("&lt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else
			fputc(c, f);
	}
	fputs("</pre>\n", f);
	return fclose(f) ? -1 : 0;
}
