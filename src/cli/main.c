/*
 * main.c - the `airi` command: one table of subcommands, each implemented
 * in its own file with its own option table and usage text (git's
 * builtin/ layout). The return value of a subcommand is the exit status.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <locale.h>
#include <string.h>

static const struct opt no_opts[] = {COMMON_OPTS, {0}};
static const struct opt canon_opts[] = {COMMON_OPTS, {0}};
static const struct opt id_opts[] = {
	COMMON_OPTS, {"json", 0, "print all identities as canonical JSON"}, {0}};
static const struct opt record_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location (default: $AIRI_STORE or ~/.local/share/airi/airi.db)"},
	{"jsonl", 0, "one manifest per line (bulk import, all-or-nothing)"},
	{"batch", 1, "with --jsonl: commit every N lines (each batch all-or-nothing)"},
	{"json", 0, "print identities as JSON"},
	{"key", 1, "signing key file (default: $AIRI_KEY or ~/.config/airi/signing.key)"},
	{"salt", 1, "comma-separated sections (or output) to store salted, so a withheld digest cannot be guessed"},
	{0}};
static const struct opt show_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location"},
	{"json", 0, "print one canonical JSON object"},
	{"manifest", 0, "print only the canonical manifest bytes"},
	{0}};
static const struct opt check_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"},
	{"json", 0, "print the report as JSON"}, {0}};
static const struct opt log_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location"},
	{"json", 0, "print a JSON array"},
	{"model", 1, "only runs whose requested or resolved model is this"},
	{"since", 1, "only runs at or after this RFC 3339 time"},
	{"until", 1, "only runs before this RFC 3339 time"},
	{"conditions", 1, "only runs with this conditions ID (or prefix)"},
	{"limit", 1, "at most N runs"},
	{"where", 1, "filter terms (as for regress): since= until= model= label.KEY= section.NAME= conditions="},
	{0}};
static const struct opt reproduce_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location (the run, and where the new run is recorded)"},
	{"upstream", 1, "send the call here instead of the recorded upstream base URL (recorded as model.upstream)"},
	{"live-tools", 1, "agent runs: run this command for each tool call (JSON on stdin, result on stdout) instead of feeding the recorded results"},
	{"timeout", 1, "seconds to wait for each upstream reply (default 300)"},
	{"key", 1, "signing key file (a checkpoint is signed after recording, as airi record does)"},
	{"json", 0, "print the report as canonical JSON"},
	{0}};
static const struct opt label_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location"},
	{"json", 0, "print the run's labels as JSON"},
	{"remove", 0, "remove the named labels (KEY arguments) instead of setting them"},
	{0}};
static const struct opt regress_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location"},
	{"before", 1, "the cohort before the change (FILTER)"},
	{"after", 1, "the cohort after the change (FILTER)"},
	{"json", 0, "print the report as canonical JSON"},
	{"html", 1, "also write a self-contained HTML report with plots to this file"},
	{"examples", 1, "at most N worst paired examples (default 5)"},
	{0}};
static const struct opt diff_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"},
	{"json", 0, "print the report as canonical JSON"}, {0}};
static const struct opt fsck_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"},
	{"json", 0, "print the result as JSON"}, {0}};

static const struct opt key_opts[] = {
	COMMON_OPTS,
	{"key", 1, "key file (default: $AIRI_KEY or ~/.config/airi/signing.key)"},
	{"name", 1, "key name for generate (default: localhost/airi)"},
	{"force", 0, "generate: replace an existing key file"},
	{0}};
static const struct opt checkpoint_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"},
	{"key", 1, "signing key file"},
	{"origin", 1, "the log's origin line (set once, default localhost/airi)"},
	{"json", 0, "print the checkpoint as JSON"}, {0}};
static const struct opt export_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"},
	{"key", 1, "signing key file (signs a new checkpoint if needed)"},
	{"withhold", 1, "comma-separated sections (or output, trajectory, meta) to show as digests only"},
	{"output", 1, "write the bundle to this file (atomically)"}, {0}};
static const struct opt verify_opts[] = {
	COMMON_OPTS, {"key", 1, "the verifier key, or a file holding it"},
	{"consistency", 0, "verify that checkpoint OLD's log grew into NEW's"},
	{"proof", 1, "with --consistency: proof file (default: from the store)"},
	{"store", 1, "store location (for --consistency without --proof)"},
	{"json", 0, "print the result as JSON"}, {0}};
static const struct opt proxy_opts[] = {
	COMMON_OPTS,
	{"listen", 1, "HOST:PORT to listen on (default 127.0.0.1:8787)"},
	{"upstream", 1, "base URL of the API to forward to (http:// or https://)"},
	{"config", 1, "JSON file with routes by path prefix or model (see docs/proxy-mapping.md)"},
	{"store", 1, "store location"},
	{"key", 1, "signing key file (checkpoints are signed after each commit)"},
	{"no-stamp", 0, "do not add the airi member to response bodies (headers only)"},
	{"max-body", 1, "largest request body accepted, bytes (default 33554432)"},
	{"group-idle", 1, "seconds without calls before an agent run is sealed (default 60)"},
	{"upstream-ca", 1, "PEM file of CA certificates to trust for https upstreams (default: the system's)"},
	{"connect-timeout", 1, "seconds to connect to the upstream (default 10)"},
	{"idle-timeout", 1, "seconds without upstream data before giving up (default 300)"},
	{"otlp", 1, "send a GenAI span per recorded call to this OTLP/HTTP endpoint (URL, or its base for /v1/traces)"},
	{"otel-listen", 1, "also receive OTLP/HTTP traces on this HOST:PORT, as airi otel receive, into the same store"},
	{"spool", 1, "directory of the outage spool (default $XDG_STATE_HOME/airi/spool/HASH)"},
	{"spool-max", 1, "spool size in bytes beyond which calls are refused with 503 (default 1073741824)"},
	{"journal", 1, "acknowledgement journal file: a reply waits for its run's own synchronous write there, not for a store commit"},
	{"journal-size", 1, "size of a new journal's ring, bytes (default 16777216)"},
	{0}};
static const struct opt otel_opts[] = {
	COMMON_OPTS,
	{"listen", 1, "HOST:PORT to listen on (default 127.0.0.1:4318)"},
	{"store", 1, "store location"},
	{"key", 1, "signing key file (checkpoints are signed after each commit)"},
	{"max-body", 1, "largest request body accepted, bytes, also after gzip (default 20971520)"},
	{"group-idle", 1, "seconds without a new span before an agent run is sealed (default 30)"},
	{"max-traces", 1, "agent runs assembled at once; the least recently active is sealed beyond (default 100000)"},
	{"forward", 1, "pass every accepted batch on to this OTLP/HTTP traces URL, with airi.run.id added"},
	{"forward-timeout", 1, "seconds for each forwarded request (default 10)"},
	{"forward-header", 1, "\"Name: value\" header lines (newline-separated) sent with every forwarded request; never stored or printed"},
	{"to", 1, "export: POST the spans to this OTLP/HTTP traces URL instead of printing them"},
	{"json", 0, "export --to: print the result as JSON"},
	{0}};
static const struct opt env_opts[] = {
	COMMON_OPTS, {"json", 0, "print the section as canonical JSON"},
	{"var", 1, "comma-separated extra environment variables to record (never secrets)"},
	{0}};
static const struct opt digest_opts[] = {
	COMMON_OPTS, {"json", 0, "print model section fragments as JSON"},
	{"cache", 1, "digest cache file (default: $XDG_CACHE_HOME/airi/digests.db)"},
	{"no-cache", 0, "neither read nor write the digest cache"},
	{"store", 1, "corpus: keep the tree in this store (default with --name: $AIRI_STORE or ~/.local/share/airi/airi.db)"},
	{"name", 1, "corpus: its name in the store; the state becomes its latest"},
	{"update", 0, "corpus: the input is changes to the named corpus's latest state"},
	{"embedding-model", 1, "corpus: the embedding model's identity (JSON, or a plain string)"},
	{"chunking", 1, "corpus: the chunking parameters (JSON, or a plain string)"},
	{0}};
static const struct opt consistency_opts[] = {
	COMMON_OPTS, {"store", 1, "store location"}, {0}};
static const struct opt store_opts[] = {
	COMMON_OPTS,
	{"store", 1, "store location (a file, or a postgres:// URI or libpq connection string)"},
	{"journal", 1, "recover: the journal file of an airi proxy --journal"},
	{"page-size", 1, "compact: the page size in bytes (default 16384, what new stores get)"},
	{"json", 0, "print the result as JSON"},
	{0}};
#define SYNC_OPTS(what)                                                    \
	COMMON_OPTS, {"store", 1, what},                                        \
	{"model", 1, "only runs whose requested or resolved model is this"},  \
	{"since", 1, "only runs at or after this RFC 3339 time"},              \
	{"until", 1, "only runs before this RFC 3339 time"},                   \
	{"conditions", 1, "only runs with this conditions ID (or prefix)"},    \
	{"limit", 1, "at most the N newest selected runs"},                     \
	{"where", 1, "filter terms, as for airi log"},                          \
	{"key", 1, "signing key file: the destination signs a checkpoint after copying"}, \
	{"json", 0, "print the counts as JSON"}, {0}
static const struct opt push_opts[] = {
	SYNC_OPTS("the store to copy from (default: $AIRI_STORE or ~/.local/share/airi/airi.db)")};
static const struct opt pull_opts[] = {
	SYNC_OPTS("the store to copy into (default: $AIRI_STORE or ~/.local/share/airi/airi.db)")};

const struct cmd cli_commands[] = {
	{"canon", cmd_canon, canon_opts, "airi canon [FILE|-]",
	 "Print the RFC 8785 canonical bytes of any JSON text (no trailing "
	 "newline).",
	 "Rejected input (malformed JSON, duplicate keys, invalid UTF-8, lone\n"
	 "surrogates, numbers that overflow or integers beyond 2^53, a BOM,\n"
	 "nesting beyond 1000 levels) exits 65 with the place named."},
	{"id", cmd_id, id_opts, "airi id [--json] [FILE|-]",
	 "Print the run ID of a manifest without storing it.", NULL},
	{"record", cmd_record, record_opts,
	 "airi record [--store PATH] [--key PATH] [--salt LIST] [--jsonl [--batch N]] [FILE|-]",
	 "Store a manifest and print its run ID.",
	 "Recording the same manifest twice is a no-op that prints the same "
	 "ID.\nWith --jsonl, every line is a manifest; nothing is stored "
	 "unless the\nwhole batch is valid."},
	{"show", cmd_show, show_opts, "airi show [--store PATH] [--json|--manifest] ID|FILE",
	 "Show a run: identities, section digests, the manifest and its "
	 "completeness.",
	 NULL},
	{"check", cmd_check, check_opts, "airi check [--store PATH] [--json] ID|FILE",
	 "Print the completeness verdict of a run: pinned, partial or opaque.",
	 "Exit status 0 when pinned, 1 when partial or opaque."},
	{"log", cmd_log, log_opts,
	 "airi log [--store PATH] [--model M] [--since T] [--until T] "
	 "[--conditions ID] [--limit N] [--json] [--where FILTER] [KEY=VALUE...]",
	 "List runs, newest first.",
	 "KEY=VALUE arguments and --where add filter terms, all of which must\n"
	 "hold: since=T until=T model=M label.KEY=VALUE section.NAME=PREFIX\n"
	 "conditions=PREFIX (see airi regress)."},
	{"reproduce", cmd_reproduce, reproduce_opts,
	 "airi reproduce [--store PATH] [--upstream URL] [--live-tools CMD] "
	 "[--timeout S] [--key PATH] [--json] RUN",
	 "Re-execute a recorded model call (or agent run) with exactly the "
	 "recorded request, record it, and explain any difference.",
	 "RUN is a run ID, prefix or run key in the store, or a manifest file.\n"
	 "The request is rebuilt from the manifest (docs/proxy-mapping.md), sent\n"
	 "as recorded (streamed or not) to the recorded upstream, recorded with\n"
	 "meta.reproduces naming RUN, and compared: same conditions ID or which\n"
	 "sections differ and why; same output or where it first diverges.\n"
	 "Agent runs are replayed call by call with the recorded tool results\n"
	 "(or --live-tools), stopping at the first different tool call.\n"
	 "Credentials: $OPENAI_API_KEY or $ANTHROPIC_API_KEY, never stored.\n"
	 "Exit status: 0 identical conditions and output, 1 same conditions\n"
	 "and divergent output, 3 different conditions, 2 trouble (cannot be\n"
	 "rebuilt, upstream unreachable or not 2xx, store errors)."},
	{"label", cmd_label, label_opts,
	 "airi label [--store PATH] [--json] [--remove] RUN [KEY=VALUE|KEY]...",
	 "Attach labels and numeric scores to a run, beside its identity.",
	 "A value that is a JSON number is also a score (regress compares\n"
	 "scores between cohorts). Without KEY=VALUE, prints the labels."},
	{"regress", cmd_regress, regress_opts,
	 "airi regress [--store PATH] --before FILTER --after FILTER [--json] [--html FILE]",
	 "Compare two cohorts of runs: which conditions changed, paired "
	 "outputs, outcome statistics.",
	 "FILTER: space- or comma-separated terms, all of which must hold:\n"
	 "since=T until=T (RFC 3339), model=M (requested or resolved),\n"
	 "label.KEY=VALUE, section.NAME=DIGEST-PREFIX. `airi log` takes the same\n"
	 "terms with --where FILTER."},
	{"diff", cmd_diff, diff_opts, "airi diff [--store PATH] [--json] A B",
	 "Compare two runs (IDs or manifest files) section by section.",
	 "Exit status like diff(1): 0 same run, 1 different, 2 trouble."},
	{"fsck", cmd_fsck, fsck_opts, "airi fsck [--store PATH] [--json]",
	 "Recompute every stored object's digest and check every run "
	 "rebuilds.",
	 "Exit status 0 when clean, 1 when problems were found."},
	{"key", cmd_key, key_opts,
	 "airi key generate [--name NAME] [--key PATH] [--force] | airi key show [--key PATH]",
	 "Create the Ed25519 key that signs checkpoints, or print its verifier "
	 "key.",
	 "generate writes the signing key (mode 0600) and prints the verifier\n"
	 "key to give to reviewers. Once a key exists, airi record signs a new\n"
	 "checkpoint after every recording."},
	{"checkpoint", cmd_checkpoint, checkpoint_opts,
	 "airi checkpoint [--store PATH] [--key PATH] [--origin ORIGIN] [--json]",
	 "Print the newest signed checkpoint of the log, signing a new one "
	 "first if the log has grown.",
	 NULL},
	{"export", cmd_export, export_opts,
	 "airi export [--store PATH] [--key PATH] [--withhold LIST] [--output FILE] RUN",
	 "Write a bundle that proves a run: its objects, log entry, inclusion "
	 "proof and signed checkpoint.",
	 NULL},
	{"verify", cmd_verify, verify_opts,
	 "airi verify [--json] --key PUBKEY BUNDLE | airi verify [--json] --key "
	 "PUBKEY --consistency OLD NEW [--proof FILE | --store PATH]",
	 "Verify a bundle offline, or that a log only grew between two "
	 "checkpoints.",
	 "Exit status 0 only when everything holds; 1 with a reason code\n"
	 "(E-format, E-digest, E-run, E-proof, E-checkpoint, E-key, E-sig,\n"
	 "E-consistency) naming the first thing that does not."},
	{"consistency", cmd_consistency, consistency_opts,
	 "airi consistency [--store PATH] SIZE1 SIZE2",
	 "Print the consistency proof between two sizes of the log (JSON).",
	 NULL},
	{"store", cmd_store, store_opts,
	 "airi store migrate [--store LOCATION] [--json]\n"
	 "       airi store compact [--page-size N] [--store LOCATION] [--json]\n"
	 "       airi store recover --journal FILE [--store LOCATION] [--json]",
	 "Apply the store's schema migrations (creating it if there is none), "
	 "compact a SQLite store, or record what a proxy's journal holds.",
	 "SQLite stores are also migrated when opened; PostgreSQL stores only\n"
	 "by this command (opening refuses an older schema). A store newer\n"
	 "than this airi is refused. See docs/postgres.md.\n"
	 "compact rewrites a SQLite store without its free space, with pages\n"
	 "of N bytes (stores from before 16 KiB pages keep 4 KiB ones until\n"
	 "then); it needs the store to itself.\n"
	 "recover records in the store every run an airi proxy --journal FILE\n"
	 "acknowledged and may not have recorded (it was killed): what the\n"
	 "proxy does itself when it starts again. A journal in use by a\n"
	 "running proxy is refused."},
	{"push", cmd_push, push_opts,
	 "airi push [--store SRC] [filter options] [--key PATH] [--json] DEST [KEY=VALUE...]",
	 "Copy runs (all, or those the filters of airi log select) to another "
	 "store.",
	 "DEST and SRC are any store locations: a SQLite file or a PostgreSQL\n"
	 "database (postgres://... or a libpq connection string). Each run is\n"
	 "rebuilt and checked against its ID, then recorded with its labels and\n"
	 "original recording time, appended to the destination's own log in\n"
	 "the source's log order. Runs already there are not copied again."},
	{"pull", cmd_pull, pull_opts,
	 "airi pull [--store DST] [filter options] [--key PATH] [--json] SRC [KEY=VALUE...]",
	 "Copy runs (all, or those the filters of airi log select) from another "
	 "store.",
	 "The reverse of airi push: SRC is copied into --store (or the default\n"
	 "store)."},
	{"proxy", cmd_proxy, proxy_opts,
	 "airi proxy (--upstream URL | --config FILE) [--listen HOST:PORT] "
	 "[--store PATH] [--key PATH] [--no-stamp] [--max-body N] "
	 "[--connect-timeout S] [--idle-timeout S] [--group-idle S] [--otlp URL] "
	 "[--otel-listen HOST:PORT] [--spool DIR] [--spool-max N] "
	 "[--journal FILE [--journal-size N]]",
	 "Record every model call that passes through, and hand its identity "
	 "back with the response.",
	 "Captured: POST /v1/chat/completions, /v1/completions, /v1/responses,\n"
	 "/v1/embeddings and Anthropic /v1/messages, JSON and streaming. Other\n"
	 "paths are passed through unrecorded. GET /airi/v1/runs/ID returns a\n"
	 "recorded manifest; GET /airi/v1/health the counters. SIGTERM or\n"
	 "SIGINT stops accepting, finishes the calls in flight and exits 0."},
	{"otel", cmd_otel, otel_opts,
	 "airi otel receive [--listen HOST:PORT] [--store PATH] [--key PATH] "
	 "[--max-body N] [--group-idle S] [--max-traces N] [--forward URL] "
	 "[--forward-timeout S] [--forward-header LINES]\n"
	 "       airi otel export [--store PATH] [--to URL [--json]] RUN...",
	 "Receive OpenTelemetry traces (OTLP/HTTP) and record GenAI spans as "
	 "runs; export runs as spans.",
	 "POST /v1/traces, application/x-protobuf or application/json, gzip or\n"
	 "not. Each inference span (GenAI semantic conventions, OpenInference)\n"
	 "becomes a run; a trace with agent, tool or retrieval spans also\n"
	 "becomes one grouped run whose trajectory follows its spans in time\n"
	 "order. Answers as OTLP says: 200 (partial_success when spans were\n"
	 "rejected), 400, 413, 415, 503. See docs/otel-mapping.md. SIGTERM or\n"
	 "SIGINT finishes the requests in flight and exits 0.\n"
	 "export: one OTLP/JSON ExportTraceServiceRequest with a GenAI span per\n"
	 "run, carrying airi.run.id, airi.conditions.id and sha256 references\n"
	 "to the sections instead of message contents; printed, or POSTed with\n"
	 "--to (exit 2 unless the endpoint answers 2xx)."},
	{"digest", cmd_digest, digest_opts,
	 "airi digest model [--json] [--no-cache | --cache PATH] PATH...\n"
	 "       airi digest corpus [--json] [--store PATH] [--name NAME [--update]]\n"
	 "                          [--embedding-model X] [--chunking X] DIR|FILE.jsonl|-",
	 "Identify model weights or a retrieval corpus by content.",
	 "model: a file's digest is the plain SHA-256 of its bytes (Hugging Face\n"
	 "LFS sha256, Ollama blob digests); a directory's is over its files'\n"
	 "names and digests. Files are hashed on all cores; a cache keyed by\n"
	 "device, inode, size, mtime and ctime makes unchanged files instant.\n"
	 "GGUF and safetensors headers are read (architecture, parameters,\n"
	 "quantization, tokenizer and chat template digests).\n"
	 "corpus: a Merkle tree over (document id, content digest) sorted by id,\n"
	 "with the embedding model and chunking: the index's state_digest. Input:\n"
	 "a directory (a document per file, id = relative path) or JSON Lines of\n"
	 "{\"id\",\"text\"} or {\"id\",\"digest\"}. With --name the tree is kept in\n"
	 "the store; --update then reads changes ({\"id\",\"deleted\":true} removes)\n"
	 "and rewrites only the nodes they touch. `airi diff STATE STATE` lists\n"
	 "added, removed and changed documents."},
	{"env", cmd_env, env_opts, "airi env [--json] [--var NAME,...]",
	 "Print a ready environment section: OS, kernel, C library, CPU and its "
	 "numeric features, memory, GPUs (NVML), allowlisted variables.",
	 "Only stable properties: equal machines give equal digests. GPUs are\n"
	 "read through libnvidia-ml.so.1 when it can be loaded."},
	{"help", cmd_help, no_opts, "airi help [COMMAND]",
	 "Show help for airi or for one command.", NULL},
	{"version", cmd_version, no_opts, "airi version",
	 "Print the version.", NULL},
};
const size_t cli_ncommands = sizeof(cli_commands) / sizeof(cli_commands[0]);

static void overview(FILE *f)
{
	fprintf(f, "usage: airi COMMAND [ARGS]\n\n"
		   "airi gives AI runs a content-derived identity.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(f, "  %-12s %s\n", cli_commands[i].name,
			cli_commands[i].summary);
	fprintf(f, "\n'airi help COMMAND' shows a command's options. The "
		   "identity format is\ndefined in docs/spec.md; see also "
		   "airi(1).\n");
}

static const struct cmd *find(const char *name)
{
	for (size_t i = 0; i < cli_ncommands; i++)
		if (!strcmp(cli_commands[i].name, name))
			return &cli_commands[i];
	return NULL;
}

int cmd_help(struct args *a)
{
	if (a->npos == 0) {
		overview(stdout);
		return 0;
	}
	if (a->npos > 1) {
		cli_errorf("help: expected at most one command name");
		return EXIT_USAGE;
	}
	const struct cmd *c = find(a->pos[0]);
	if (!c) {
		cli_errorf("no such command: %s", a->pos[0]);
		return EXIT_USAGE;
	}
	cli_usage(c, stdout);
	return 0;
}

int cmd_version(struct args *a)
{
	if (a && a->npos) {
		cli_errorf("version: unexpected argument \"%s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	printf("airi %s\n", AIRI_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	const struct cmd *c;
	int rc;
	if (argc < 2) {
		overview(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		overview(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(NULL);
	c = find(argv[1]);
	if (!c) {
		cli_errorf("'%s' is not an airi command (see 'airi help')",
			   argv[1]);
		return EXIT_USAGE;
	}
	if ((rc = cli_parse(argc - 2, argv + 2, c, &a)))
		return rc;
	if (cli_opt(&a, "help")) {
		cli_usage(c, stdout);
		return 0;
	}
	rc = c->fn(&a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_errorf("error writing output");
		return rc ? rc : EXIT_TROUBLE;
	}
	return rc;
}
