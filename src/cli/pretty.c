/*
 * pretty.c - JSON for people: indented output of parsed values and short
 * one-line renderings, used by show and diff. Strings and numbers are
 * printed in their canonical form so what people read is what is hashed.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void cli_inline(FILE *f, const airi_value *v, size_t max)
{
	char *s = NULL;
	size_t n = 0;
	if (airi_canon(v, &s, &n)) {
		fputs("?", f);
		return;
	}
	if (n > max) {
		size_t cut = max;
		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		fwrite(s, 1, cut, f);
		fprintf(f, "... (%zu bytes)", n);
	} else {
		fwrite(s, 1, n, f);
	}
	free(s);
}

static void pad(FILE *f, int n)
{
	for (int i = 0; i < n; i++)
		fputc(' ', f);
}

void cli_pretty(FILE *f, const airi_value *v, int indent)
{
	airi_type t = airi_value_type(v);
	size_t n = airi_value_count(v);
	if ((t != AIRI_ARRAY && t != AIRI_OBJECT) || n == 0) {
		cli_inline(f, v, (size_t)-1);
		return;
	}
	fputc(t == AIRI_ARRAY ? '[' : '{', f);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		pad(f, indent + 2);
		if (t == AIRI_OBJECT) {
			size_t kn;
			const char *k = airi_value_key_at(v, i, &kn);
			fputc('"', f);
			for (size_t j = 0; j < kn; j++) {
				unsigned char c = (unsigned char)k[j];
				if (c == '"' || c == '\\')
					fprintf(f, "\\%c", c);
				else if (c < 0x20)
					fprintf(f, "\\u%04x", c);
				else
					fputc(c, f);
			}
			fputs("\": ", f);
		}
		cli_pretty(f, airi_value_at(v, i), indent + 2);
		if (i + 1 < n)
			fputc(',', f);
		fputc('\n', f);
	}
	pad(f, indent);
	fputc(t == AIRI_ARRAY ? ']' : '}', f);
}
