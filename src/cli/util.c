/*
 * util.c - the command's shared plumbing: option parsing (options may come
 * anywhere after the command name; "--" ends them), reading inputs whole,
 * printing errors with file, line, column, byte offset and JSON Pointer,
 * mapping library errors to exit statuses, and opening the store.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int find_opt(const struct opt *tab, const char *name, size_t n)
{
	for (int i = 0; tab[i].name; i++)
		if (strlen(tab[i].name) == n && !strncmp(tab[i].name, name, n))
			return i;
	return -1;
}

int cli_parse(int argc, char **argv, const struct cmd *c, struct args *a)
{
	int dashdash = 0;
	memset(a, 0, sizeof(*a));
	a->cmd = c->name;
	a->tab = c->opts;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (!dashdash && !strcmp(s, "--")) {
			dashdash = 1;
			continue;
		}
		if (!dashdash && !strcmp(s, "-h")) {
			s = "--help";
		}
		if (!dashdash && s[0] == '-' && s[1] == '-') {
			const char *name = s + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			int k = find_opt(c->opts, name, n);
			if (k < 0) {
				cli_errorf("%s: unknown option --%.*s (see 'airi "
					   "help %s')",
					   c->name, (int)n, name, c->name);
				return EXIT_USAGE;
			}
			a->set[k]++;
			if (c->opts[k].has_arg) {
				if (eq)
					a->val[k] = eq + 1;
				else if (i + 1 < argc)
					a->val[k] = argv[++i];
				else {
					cli_errorf("%s: option --%s needs a "
						   "value",
						   c->name, c->opts[k].name);
					return EXIT_USAGE;
				}
			} else if (eq) {
				cli_errorf("%s: option --%s takes no value",
					   c->name, c->opts[k].name);
				return EXIT_USAGE;
			}
			continue;
		}
		if (!dashdash && s[0] == '-' && s[1] != 0) {
			cli_errorf("%s: unknown option %s (see 'airi help %s')",
				   c->name, s, c->name);
			return EXIT_USAGE;
		}
		if (a->npos >= MAX_POS) {
			cli_errorf("%s: too many arguments", c->name);
			return EXIT_USAGE;
		}
		a->pos[a->npos++] = s;
	}
	return 0;
}

int cli_opt(const struct args *a, const char *name)
{
	int k = find_opt(a->tab, name, strlen(name));
	return k >= 0 ? a->set[k] : 0;
}

const char *cli_val(const struct args *a, const char *name)
{
	int k = find_opt(a->tab, name, strlen(name));
	return k >= 0 ? a->val[k] : NULL;
}

void cli_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: %s\n\n%s\n", c->usage, c->summary);
	if (c->help)
		fprintf(f, "\n%s\n", c->help);
	fprintf(f, "\noptions:\n");
	for (int i = 0; c->opts[i].name; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s", c->opts[i].name,
			 c->opts[i].has_arg ? " VALUE" : "");
		fprintf(f, "  %-22s %s\n", left, c->opts[i].help);
	}
}

static void put_safe(const char *s);

void cli_errorf(const char *fmt, ...)
{
	va_list ap;
	char msg[2048];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("airi: ", stderr);
	put_safe(msg);
	fputc('\n', stderr);
}

/* Writes s with control characters escaped, so that a message is always
 * exactly one line even when a key or a file name holds a newline. */
static void put_safe(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 0x20 || c == 0x7F)
			fprintf(stderr, "\\u%04x", c);
		else
			fputc(c, stderr);
	}
}

void cli_error(const char *name, const airi_error *err)
{
	fputs("airi: ", stderr);
	if (name) {
		put_safe(name);
		if (err->has_position)
			fprintf(stderr, ":%zu:%zu (byte %zu)", err->line,
				err->column, err->offset);
		fputs(": ", stderr);
	} else if (err->has_position) {
		fprintf(stderr, "<input>:%zu:%zu (byte %zu): ", err->line,
			err->column, err->offset);
	}
	put_safe(err->message);
	fputc('\n', stderr);
}

int cli_status(int code)
{
	switch (code) {
	case AIRI_OK: return 0;
	case AIRI_EJSON:
	case AIRI_EMANIFEST: return EXIT_DATAERR;
	case AIRI_EIO: return EXIT_NOINPUT;
	case AIRI_EINVAL: return EXIT_USAGE;
	default: return EXIT_TROUBLE;
	}
}

const char *cli_name(const char *path)
{
	return (!path || !strcmp(path, "-")) ? "<stdin>" : path;
}

/*
 * While reading a stream, follow the nesting depth (outside strings) so a
 * hostile input such as 1 GiB of '[' stops being read as soon as it is
 * deeper than the parser accepts: the parser then reports the same error
 * at the same byte offset it would have reported on the whole input.
 */
struct depth_scan {
	int in_str, esc;
	long depth;
};

static int too_deep(struct depth_scan *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (d->in_str) {
			if (d->esc)
				d->esc = 0;
			else if (c == '\\')
				d->esc = 1;
			else if (c == '"')
				d->in_str = 0;
		} else if (c == '"') {
			d->in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++d->depth > AIRI_JSON_MAX_DEPTH)
				return 1;
		} else if (c == ']' || c == '}') {
			d->depth--;
		}
	}
	return 0;
}

int cli_read(const char *path, char **data, size_t *len)
{
	struct depth_scan ds = {0, 0, 0};
	int fd = 0;
	size_t cap = 1 << 16, n = 0;
	char *buf;
	struct stat st;
	if (path && strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_errorf("%s: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			cli_errorf("%s: is a directory", path);
			close(fd);
			return -1;
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
			cap = (size_t)st.st_size + 1;
	}
	buf = malloc(cap);
	if (!buf) {
		cli_errorf("%s: out of memory", cli_name(path));
		if (fd)
			close(fd);
		return -1;
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				cli_errorf("%s: out of memory after %zu bytes",
					   cli_name(path), n);
				free(buf);
				if (fd)
					close(fd);
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			cli_errorf("%s: %s", cli_name(path), strerror(errno));
			free(buf);
			if (fd)
				close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (too_deep(&ds, buf + n - (size_t)r, (size_t)r))
			break; /* the parser will reject it right there */
	}
	if (fd)
		close(fd);
	if (n == cap) { /* room for the terminating NUL */
		char *nb = realloc(buf, cap + 1);
		if (!nb) {
			cli_errorf("%s: out of memory", cli_name(path));
			free(buf);
			return -1;
		}
		buf = nb;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

void cli_make_parent(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = 0;
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = 0;
				mkdir(dir, 0700);
				*p = '/';
			}
		mkdir(dir, 0700);
	}
	free(dir);
}

int cli_map(const char *path, char **data, size_t *len, int *mapped)
{
	struct stat st;
	*mapped = 0;
	/* standard input redirected from a large file is mapped too */
	if ((!path || !strcmp(path, "-")) && fstat(0, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size > (1 << 20) &&
	    lseek(0, 0, SEEK_CUR) == 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE | MAP_POPULATE, 0, 0);
		if (p != MAP_FAILED) {
			*data = p;
			*len = (size_t)st.st_size;
			*mapped = 1;
			return 0;
		}
	}
	if (path && strcmp(path, "-") && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size > (1 << 20)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
			void *p = mmap(NULL, (size_t)st.st_size, PROT_READ,
				       MAP_PRIVATE | MAP_POPULATE, fd, 0);
			close(fd);
			if (p != MAP_FAILED) {
				*data = p;
				*len = (size_t)st.st_size;
				*mapped = 1;
				return 0;
			}
		} else if (fd >= 0) {
			close(fd);
		}
	}
	return cli_read(path, data, len);
}

void cli_unmap(char *data, size_t len, int mapped)
{
	if (mapped)
		munmap(data, len);
	else
		free(data);
}

char *cli_store_location(const struct args *a)
{
	const char *loc = cli_val(a, "store");
	return loc ? strdup(loc) : airi_store_default_location();
}

airi_store *cli_store(const struct args *a, unsigned flags, int *status)
{
	const char *loc = cli_val(a, "store");
	char *def = NULL;
	airi_store *s = NULL;
	airi_error err;
	int rc;
	if (!loc) {
		def = airi_store_default_location();
		if (!def) {
			cli_errorf("cannot determine the store location");
			*status = EXIT_TROUBLE;
			return NULL;
		}
		loc = def;
	}
	rc = airi_store_open(loc, flags, &s, &err);
	if (rc) {
		cli_error(NULL, &err);
		*status = EXIT_TROUBLE;
	}
	free(def);
	return s;
}

int cli_is_file(const char *arg)
{
	struct stat st;
	if (!strcmp(arg, "-"))
		return 1;
	return stat(arg, &st) == 0;
}

int cli_load_run(const struct args *a, const char *what, airi_store **store,
		 airi_manifest **out)
{
	airi_error err;
	int rc, status = 0;
	if (cli_is_file(what) || strchr(what, '/') || strstr(what, ".json")) {
		char *data;
		size_t len;
		if (cli_read(what, &data, &len))
			return EXIT_NOINPUT;
		rc = airi_manifest_parse(data, len, out, &err);
		free(data);
		if (rc) {
			cli_error(cli_name(what), &err);
			return cli_status(rc);
		}
		return 0;
	}
	if (!*store && !(*store = cli_store(a, 0, &status)))
		return status;
	airi_digest d;
	if ((rc = airi_store_resolve(*store, what, &d, &err)) ||
	    (rc = airi_store_fetch(*store, &d, out, &err))) {
		cli_error(NULL, &err);
		return rc == AIRI_EINVAL ? EXIT_USAGE : EXIT_TROUBLE;
	}
	return 0;
}

int cli_write(const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, stdout) != n)
		return -1;
	return 0;
}

int cli_print_json(const struct args *a, const char *text, size_t n)
{
	if (cli_opt(a, "json")) {
		cli_write(text, n);
		putchar('\n');
		return 0;
	}
	airi_json *doc = NULL;
	if (airi_json_parse(text, n, &doc, NULL)) {
		cli_errorf("internal error: unreadable JSON");
		return EXIT_TROUBLE;
	}
	cli_pretty(stdout, airi_json_root(doc), 0);
	putchar('\n');
	airi_json_free(doc);
	return 0;
}

const char *cli_s(const airi_value *v)
{
	static char bufs[8][1024];
	static int next;
	size_t n = 0;
	const char *s = airi_value_string(v, &n);
	char *b = bufs[next++ & 7];
	if (!s)
		return "";
	if (n >= sizeof(bufs[0]))
		n = sizeof(bufs[0]) - 1;
	memcpy(b, s, n);
	b[n] = 0;
	return b;
}

/* With a signing key around (--key, AIRI_KEY, the default file), sign a
 * checkpoint over what was recorded; none: nothing to do. */
int cli_sign_checkpoint(const struct args *a, airi_store *s)
{
	int status = 0;
	airi_error err;
	char *note = NULL;
	airi_key *k = cli_signer(a, 0, &status);
	if (!k)
		return status;
	if (airi_store_checkpoint(s, k, NULL, &note, &err)) {
		cli_error(NULL, &err);
		status = EXIT_TROUBLE;
	}
	free(note);
	airi_key_free(k);
	return status;
}
