/*
 * show.c - `airi show` (porcelain: a run's identities, sections, manifest
 * and completeness verdict) and `airi check` (the verdict alone, with an
 * exit status usable in scripts).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void print_check(const char *report)
{
	airi_json *doc;
	if (airi_json_parse(report, strlen(report), &doc, NULL))
		return;
	const airi_value *r = airi_json_root(doc);
	const airi_value *secs = airi_value_get(r, "sections");
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		const char *name = cli_s(airi_value_get(s, "name"));
		const char *st = cli_s(airi_value_get(s, "status"));
		const char *reason = cli_s(airi_value_get(s, "reason"));
		if (*reason)
			printf("  %-12s %-9s %s\n", name, st, reason);
		else
			printf("  %-12s %s\n", name, st);
	}
	const airi_value *notes = airi_value_get(r, "notes");
	for (size_t i = 0; i < airi_value_count(notes); i++)
		printf("  note: %s\n", cli_s(airi_value_at(notes, i)));
	printf("verdict: %s\n", cli_s(airi_value_get(r, "verdict")));
	airi_json_free(doc);
}

int cmd_show(struct args *a)
{
	airi_store *s = NULL;
	airi_manifest *m = NULL;
	int rc;
	if (a->npos != 1) {
		cli_errorf("show: expected one run ID or manifest file (see "
			   "'airi help show')");
		return EXIT_USAGE;
	}
	if ((rc = cli_load_run(a, a->pos[0], &s, &m))) {
		airi_store_close(s);
		return rc;
	}
	char *report = NULL, *ids = NULL, *canon = NULL;
	size_t rn, in, cn;
	airi_verdict v;
	if (airi_manifest_check(m, &v, &report, &rn) ||
	    airi_manifest_ids_json(m, &ids, &in) ||
	    airi_manifest_canon(m, &canon, &cn)) {
		cli_errorf("out of memory");
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (cli_opt(a, "manifest")) {
		cli_write(canon, cn);
	} else if (cli_opt(a, "json")) {
		/* keys in canonical order: completeness, ids, manifest */
		fputs("{\"completeness\":", stdout);
		cli_write(report, rn);
		fputs(",\"ids\":", stdout);
		cli_write(ids, in);
		fputs(",\"manifest\":", stdout);
		cli_write(canon, cn);
		fputs("}\n", stdout);
	} else {
		char d[AIRI_DIGEST_STRLEN];
		airi_digest_format(airi_manifest_run_id(m), d);
		printf("run         %s\n", d);
		airi_digest_format(airi_manifest_conditions_id(m), d);
		printf("conditions  %s\n", d);
		for (size_t i = 0; i < airi_manifest_section_count(m); i++) {
			airi_digest_format(airi_manifest_section_digest(m, i), d);
			printf("  %-12s %s\n", airi_manifest_section_name(m, i),
			       d);
		}
		if (airi_manifest_trajectory_digest(m)) {
			airi_digest_format(airi_manifest_trajectory_digest(m), d);
			printf("trajectory  %s (%zu steps)\n", d,
			       airi_manifest_step_count(m));
		}
		if (airi_manifest_output_digest(m)) {
			airi_digest_format(airi_manifest_output_digest(m), d);
			printf("output      %s\n", d);
		}
		if (airi_manifest_meta_digest(m)) {
			airi_digest_format(airi_manifest_meta_digest(m), d);
			printf("meta        %s\n", d);
		}
		printf("\n");
		cli_pretty(stdout, airi_manifest_root(m), 0);
		printf("\n\ncompleteness:\n");
		print_check(report);
	}
done:
	free(report);
	free(ids);
	free(canon);
	airi_manifest_free(m);
	airi_store_close(s);
	return rc;
}

int cmd_check(struct args *a)
{
	airi_store *s = NULL;
	airi_manifest *m = NULL;
	int rc;
	if (a->npos != 1) {
		cli_errorf("check: expected one run ID or manifest file");
		return EXIT_USAGE;
	}
	if ((rc = cli_load_run(a, a->pos[0], &s, &m))) {
		airi_store_close(s);
		return rc;
	}
	char *report = NULL;
	size_t rn;
	airi_verdict v;
	if (airi_manifest_check(m, &v, &report, &rn)) {
		cli_errorf("out of memory");
		rc = EXIT_TROUBLE;
	} else {
		if (cli_opt(a, "json")) {
			cli_write(report, rn);
			putchar('\n');
		} else {
			print_check(report);
		}
		rc = v == AIRI_PINNED ? 0 : EXIT_DIFFERENT;
	}
	free(report);
	airi_manifest_free(m);
	airi_store_close(s);
	return rc;
}
