/*
 * instrument.c - recording a run from inside an application with libairi:
 * a tiny retrieval + tool-calling loop (the "model" is a stand-in
 * function) that builds its manifest as it goes, records it into a store
 * and prints the run ID. Build against an installed libairi:
 *
 *   cc examples/instrument.c $(pkg-config --cflags --libs airi) -o instrument
 *   ./instrument STORE.db
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <airi.h>

/* a stand-in for the model: asks for the weather tool, then answers */
static const char *model_step(int turn)
{
	return turn == 0 ? "{\"tool_call\":{\"name\":\"get_weather\","
			   "\"arguments\":{\"city\":\"Oslo\"}}}"
			 : "{\"content\":\"It is sunny in Oslo.\"}";
}

static int check(int rc, const airi_error *err, const char *what)
{
	if (rc)
		fprintf(stderr, "instrument: %s: %s\n", what,
			err->message[0] ? err->message : airi_strerror(rc));
	return rc;
}

int main(int argc, char **argv)
{
	airi_run *run = NULL;
	airi_manifest *m = NULL;
	airi_store *store = NULL;
	airi_error err = {0};
	char id[AIRI_DIGEST_STRLEN];
	int rc;
	if (argc != 2) {
		fprintf(stderr, "usage: instrument STORE\n");
		return 64;
	}
	if ((rc = airi_run_new(&run)))
		return 2;
	/* the conditions, as they are known before the run */
	if (check(airi_run_set_section(run, "model",
				       "{\"name\":\"stand-in\",\"resolved\":"
				       "\"stand-in-1.0\",\"engine\":{\"name\":"
				       "\"instrument.c\",\"version\":\"1\"}}",
				       &err),
		  &err, "model") ||
	    check(airi_run_set_section(run, "params",
				       "{\"temperature\":0,\"seed\":7}", &err),
		  &err, "params") ||
	    check(airi_run_set_section(run, "system", "null", &err), &err,
		  "system") ||
	    check(airi_run_set_section(run, "input",
				       "{\"messages\":[{\"role\":\"user\","
				       "\"content\":\"Weather in Oslo?\"}]}",
				       &err),
		  &err, "input") ||
	    check(airi_run_set_section(run, "retrieval",
				       "{\"index\":{\"name\":\"kb\",\"state_digest\":"
				       "\"sha256:5a794b33a917133f8764ec0988d547ea"
				       "a4fce1ac98a5ee9050d5f4e488dec923\"},"
				       "\"items\":[]}",
				       &err),
		  &err, "retrieval") ||
	    check(airi_run_set_section(run, "environment",
				       "{\"app\":\"instrument\"}", &err),
		  &err, "environment"))
		goto out;
	/* the trajectory, step by step */
	for (int turn = 0; turn < 2; turn++) {
		if (check(airi_run_add_step(run, model_step(turn), &err), &err,
			  "step"))
			goto out;
		if (turn == 0 &&
		    check(airi_run_add_step(run,
					    "{\"tool_result\":{\"name\":"
					    "\"get_weather\",\"result\":\"sunny\"}}",
					    &err),
			  &err, "step"))
			goto out;
	}
	if (check(airi_run_set_output(run, model_step(1), &err), &err, "output") ||
	    check(airi_run_finish(run, &m, &err), &err, "finish") ||
	    check(airi_store_open(argv[1], AIRI_STORE_CREATE, &store, &err),
		  &err, "store") ||
	    check(airi_store_record(store, m, NULL, &err), &err, "record"))
		goto out;
	airi_digest_format(airi_manifest_run_id(m), id);
	printf("%s\n", id);
	rc = 0;
out:
	airi_store_close(store);
	airi_manifest_free(m);
	airi_run_free(run);
	return rc ? 1 : 0;
}
