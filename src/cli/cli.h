/*
 * cli.h - what the subcommands of the `airi` command share: the dispatch
 * entry, option parsing that accepts options anywhere after the command
 * name, input reading, store opening, error printing and exit codes.
 */
#ifndef AIRI_CLI_H
#define AIRI_CLI_H

#include "airi.h"

#include <stdio.h>

/* Exit statuses (documented in docs/airi.1, EXIT STATUS) */
#define EXIT_DIFFERENT 1 /* diff: runs differ; check: not pinned */
#define EXIT_TROUBLE 2   /* store errors, unknown IDs, internal failures */
#define EXIT_USAGE 64    /* bad command line */

/* The HTTP servers (proxy, OTLP receiver): request line and headers, at
 * most, before libevent answers 400 */
#define AIRI_MAX_HEADERS (64 * 1024)
#define EXIT_DATAERR 65  /* rejected input (malformed JSON, bad manifest) */
#define EXIT_NOINPUT 66  /* an input file cannot be opened or read */

struct opt {
	const char *name; /* long name without "--" */
	int has_arg;
	const char *help;
};

#define MAX_POS 16
#define MAX_OPTS 24

struct args {
	const char *cmd;
	int npos;
	const char *pos[MAX_POS];
	const char *val[MAX_OPTS]; /* value for options with an argument */
	int set[MAX_OPTS];         /* how many times each option was given */
	const struct opt *tab;
};

struct cmd {
	const char *name;
	int (*fn)(struct args *a);
	const struct opt *opts;
	const char *usage;   /* one line: "airi NAME ..." */
	const char *summary; /* what it does, one line */
	const char *help;    /* more text, may be NULL */
};

/* Options every command accepts. */
#define COMMON_OPTS {"help", 0, "show this help"}

int cli_parse(int argc, char **argv, const struct cmd *c, struct args *a);
int cli_opt(const struct args *a, const char *name);
const char *cli_val(const struct args *a, const char *name);
void cli_usage(const struct cmd *c, FILE *f);

/* Reads a whole file ("-" or NULL: standard input), NUL-terminated (the
 * NUL is not counted in *len). On failure prints a message and returns
 * -1; *len and *data set on success (free(data)). */
int cli_read(const char *path, char **data, size_t *len);
/* Creates the missing directories above a file path, mode 0700. */
void cli_make_parent(const char *path);
/* Like cli_read, but maps regular files (zero copy); release with
 * cli_unmap(data, len, mapped). */
int cli_map(const char *path, char **data, size_t *len, int *mapped);
void cli_unmap(char *data, size_t len, int mapped);
/* A display name for an input path. */
const char *cli_name(const char *path);

/* Prints "airi: NAME:LINE:COL (byte N): message" or "airi: message". */
void cli_error(const char *name, const airi_error *err);
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status for a library error code. */
int cli_status(int code);

/* Opens the store named by --store, $AIRI_STORE or the default location.
 * Prints the error and returns NULL on failure (*status set). */
airi_store *cli_store(const struct args *a, unsigned flags, int *status);
/* The store location cli_store() would open (free()). */
char *cli_store_location(const struct args *a);

/* Loads a manifest from a file path, "-", or a run ID prefix in the store
 * (opened on demand into *store). Returns an exit status. */
int cli_load_run(const struct args *a, const char *what, airi_store **store,
		 airi_manifest **out);
/* True when the argument names an existing file or "-". */
int cli_is_file(const char *arg);

/* A string value as a NUL-terminated string (copied into one of a few
 * rotating static buffers, cut at 1023 bytes): for labels, not content. */
const char *cli_s(const airi_value *v);
int cli_write(const void *p, size_t n);
/* Prints canonical JSON text: as is with --json, else pretty-printed;
 * a line end after it. Returns an exit status. */
int cli_print_json(const struct args *a, const char *text, size_t n);

/* Pretty-prints a value with 2-space indentation (keys in canonical
 * order, strings and numbers in canonical form). */
void cli_pretty(FILE *f, const airi_value *v, int indent);
/* Prints the canonical form of a value cut to at most max bytes. */
void cli_inline(FILE *f, const airi_value *v, size_t max);

extern const struct cmd cli_commands[];
extern const size_t cli_ncommands;

int cmd_canon(struct args *a);
int cmd_id(struct args *a);
int cmd_record(struct args *a);
int cmd_show(struct args *a);
int cmd_check(struct args *a);
int cmd_log(struct args *a);
int cmd_diff(struct args *a);
int cmd_reproduce(struct args *a);
int cmd_label(struct args *a);
int cmd_regress(struct args *a);
/* Writes the self-contained HTML report of a regress report (the parsed
 * value and its JSON text); 0 or -1 after printing an error. */
int regress_html(const char *path, const airi_value *report, const char *json,
		 size_t n);
int cmd_fsck(struct args *a);
int cmd_key(struct args *a);
int cmd_checkpoint(struct args *a);
int cmd_export(struct args *a);
int cmd_verify(struct args *a);
int cmd_consistency(struct args *a);
/* the signing key location (--key, $AIRI_KEY, the default) and the key;
 * see proof.c */
char *cli_key_location(const struct args *a);
airi_key *cli_signer(const struct args *a, int required, int *status);
/* signs a checkpoint when a signing key is around (airi record, airi
 * reproduce); 0, or the exit status of the failure */
int cli_sign_checkpoint(const struct args *a, airi_store *s);
int cmd_proxy(struct args *a);
int cmd_otel(struct args *a);
int cmd_store(struct args *a);
int cmd_push(struct args *a);
int cmd_pull(struct args *a);
int cmd_env(struct args *a);
int cmd_digest(struct args *a);
int cmd_help(struct args *a);
int cmd_version(struct args *a);

#endif
