/*
 * label.c - `airi label RUN KEY=VALUE...`: labels and numeric scores beside
 * a run (from evals, user feedback), not part of its identity; without
 * KEY=VALUE arguments, prints the run's labels. --remove KEY... removes.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct show_ctx {
	int json, n;
	airi__jw w;
};

static int on_label(void *ctx, const airi_label *l)
{
	struct show_ctx *c = ctx;
	c->n++;
	if (c->json) {
		airi__jw_key(&c->w, l->key);
		airi__jw_str(&c->w, l->value);
	} else {
		printf("%s=%s\n", l->key, l->value);
	}
	return 0;
}

int cmd_label(struct args *a)
{
	airi_store *s;
	airi_error err;
	airi_digest run;
	int status = 0, rc;
	if (a->npos < 1) {
		cli_errorf("label: expected RUN [KEY=VALUE...]");
		return EXIT_USAGE;
	}
	int remove = cli_opt(a, "remove");
	/* check every argument before changing anything */
	for (int i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		if (remove ? eq != NULL : (eq == NULL || eq == a->pos[i])) {
			cli_errorf("label: \"%s\": expected %s", a->pos[i],
				   remove ? "KEY (with --remove)" : "KEY=VALUE");
			return EXIT_USAGE;
		}
	}
	if (!(s = cli_store(a, 0, &status)))
		return status;
	if ((rc = airi_store_resolve(s, a->pos[0], &run, &err))) {
		cli_error(NULL, &err);
		airi_store_close(s);
		return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	}
	if (a->npos > 1 && (rc = airi_store_begin(s, &err)) == 0) {
		for (int i = 1; i < a->npos && !rc; i++) {
			char *kv = strdup(a->pos[i]);
			char *eq = kv ? strchr(kv, '=') : NULL;
			if (!kv) {
				rc = AIRI_ENOMEM;
				break;
			}
			if (eq)
				*eq = 0;
			rc = airi_store_label(s, &run, kv, eq ? eq + 1 : NULL, &err);
			free(kv);
		}
		if (!rc)
			rc = airi_store_commit(s, &err);
		else
			airi_store_rollback(s);
	}
	if (rc) { /* all or nothing */
		cli_errorf("label: %s", err.message);
		airi_store_close(s);
		return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	}
	if (a->npos == 1 || cli_opt(a, "json")) {
		struct show_ctx c;
		memset(&c, 0, sizeof(c));
		c.json = cli_opt(a, "json");
		airi__jw_init(&c.w);
		airi__jw_obj(&c.w);
		rc = airi_store_labels(s, &run, on_label, &c, &err);
		airi__jw_end_obj(&c.w);
		size_t n;
		char *t = airi__jw_finish(&c.w, &n);
		if (rc) {
			cli_errorf("label: %s", err.message);
			status = EXIT_TROUBLE;
		} else if (c.json && t) {
			cli_write(t, n);
			putchar('\n');
		}
		free(t);
	}
	airi_store_close(s);
	return status;
}
