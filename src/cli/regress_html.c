/*
 * regress_html.c - the self-contained HTML report of `airi regress`: one
 * HTML5 file with a little inline CSS, no script and no external resource;
 * the plots are inline SVG drawn here from the canonical report of
 * lib/regress.c (shares as stacked bars, histograms of the outcome metrics
 * and scores on their common bins, differences with their 95% intervals on
 * an axis around 0). The report itself is embedded at the end,
 * <script type="application/json" id="airi-report">, for machines.
 *
 * Every string taken from the report is user data (filters, model names,
 * output summaries, score names, changed values) and goes through esc();
 * in the embedded JSON, "</" is written "<\/" and "<!--" "\u003c!--" (both
 * are inside JSON strings, where they mean the same), so the text can
 * neither close the script element nor put the tokenizer in its escaped
 * state.
 *
 * The page is built in memory, written to PATH.tmp beside PATH, synced and
 * renamed over PATH: PATH is either what it was or the complete report.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- reading the report ---------------------------------------------------- */

/* "a/b/0/c": members of objects, elements of arrays */
static const airi_value *get(const airi_value *v, const char *path)
{
	char key[64];
	while (v && *path) {
		size_t n = strcspn(path, "/");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (airi_value_type(v) == AIRI_ARRAY)
			v = airi_value_at(v, (size_t)strtoul(key, NULL, 10));
		else if (airi_value_type(v) == AIRI_OBJECT)
			v = airi_value_get(v, key);
		else
			v = NULL;
		path += n + (path[n] == '/');
	}
	return v;
}

static int is_num(const airi_value *v)
{
	return v && airi_value_type(v) == AIRI_NUMBER;
}

static double num(const airi_value *v, const char *path)
{
	const airi_value *x = get(v, path);
	double d = is_num(x) ? airi_value_number(x) : 0;
	return isfinite(d) ? d : 0;
}

static const char *str(const airi_value *v, const char *path, size_t *n)
{
	const airi_value *x = get(v, path);
	const char *s = x ? airi_value_string(x, n) : NULL;
	if (!s) {
		*n = 0;
		return "";
	}
	return s;
}

/* ---- writing text ------------------------------------------------------------ */

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* HTML text or attribute value: & < > " ' escaped; NUL, other C0 and C1
 * controls (not allowed in HTML text) replaced by U+FFFD. The input is
 * valid UTF-8 (the JSON parser saw to it). At most max code points, then
 * an ellipsis. */
static void esc_cut(FILE *f, const char *s, size_t n, size_t max)
{
	size_t cps = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) != 0x80 && cps++ == max) {
			fputs("\xe2\x80\xa6", f); /* ... */
			return;
		}
		switch (c) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
				fputs(REPLACEMENT, f);
			} else if (c == 0xC2 && i + 1 < n &&
				   (unsigned char)s[i + 1] >= 0x80 &&
				   (unsigned char)s[i + 1] <= 0x9F) {
				fputs(REPLACEMENT, f); /* U+0080..U+009F */
				i++;
			} else {
				fputc(c, f);
			}
		}
	}
}

static void esc(FILE *f, const char *s, size_t n)
{
	esc_cut(f, s, n, (size_t)-1);
}

/* a string member of the report, escaped ("" when missing) */
static void escp(FILE *f, const airi_value *v, const char *path, size_t max)
{
	size_t n;
	const char *s = str(v, path, &n);
	esc_cut(f, s, n, max);
}

/* any value in its canonical JSON form, escaped and cut */
static void esc_json(FILE *f, const airi_value *v, size_t max)
{
	char *s = NULL;
	size_t n = 0;
	if (!v) {
		fputs("(none)", f);
		return;
	}
	if (airi_canon(v, &s, &n)) {
		fputs("?", f);
		return;
	}
	esc_cut(f, s, n, max);
	free(s);
}

/* a digest "sha256:HEX" shortened to its first 12 hex digits */
static void esc_digest(FILE *f, const airi_value *v, const char *path)
{
	size_t n;
	const char *s = str(v, path, &n);
	const char *colon = memchr(s, ':', n);
	if (colon) {
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	esc(f, s, n < 12 ? n : 12);
}

/* numbers: integers in full, others to 4 significant digits (a few
 * rotating buffers, like cli_s) */
static const char *g(double x)
{
	static char bufs[16][48];
	static int next;
	char *b = bufs[next++ & 15];
	if (!isfinite(x))
		return "?";
	if (x == 0)
		x = 0; /* no "-0" */
	if (fabs(x) >= 1e16 || (x != floor(x) && fabs(x) < 1e4)) {
		snprintf(b, sizeof(bufs[0]), "%.4g", x);
		return b;
	}
	/* whole numbers; from 10000 on in groups of three: 12,345 */
	char t[40];
	int n = snprintf(t, sizeof(t), "%.0f", fabs(x));
	size_t o = 0;
	if (x < 0)
		b[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i && fabs(x) >= 1e4 && (n - i) % 3 == 0)
			b[o++] = ',';
		b[o++] = t[i];
	}
	b[o] = 0;
	return b;
}

/* signed */
static const char *gs(double x)
{
	static char bufs[8][52];
	static int next;
	char *b = bufs[next++ & 7];
	const char *t = g(x);
	snprintf(b, sizeof(bufs[0]), "%s%s", x > 0 && isfinite(x) ? "+" : "", t);
	return b;
}

/* a share as a percentage to a tenth: "83.3%", "100%", "20%"; a share
 * that is neither none nor all never reads as 0% or 100% */
static const char *pc(double share)
{
	static char bufs[8][48];
	static int next;
	char *b = bufs[next++ & 7];
	double v = 100 * share;
	if (!isfinite(v))
		return "?";
	if (v > 0 && v < 0.05)
		return "&lt;0.1%";
	if (v < 100 && v >= 99.95)
		return "&gt;99.9%";
	int n = snprintf(b, sizeof(bufs[0]), "%.1f", v == 0 ? 0 : v);
	if (n > 2 && n < (int)sizeof(bufs[0]) - 1 && !strcmp(b + n - 2, ".0"))
		n -= 2;
	snprintf(b + n, sizeof(bufs[0]) - (size_t)n, "%%");
	return b;
}

/* a coordinate for SVG */
static double clampd(double x, double lo, double hi)
{
	return !isfinite(x) ? lo : x < lo ? lo : x > hi ? hi : x;
}

/* ---- colours ------------------------------------------------------------------- */

#define C_BEFORE "#4c78a8"
#define C_AFTER "#f58518"
#define C_BEFORE_DARK "#1d3f66"
#define C_AFTER_DARK "#a04f00"
#define C_REST "#e4e4e4"
#define C_SIG "#b2182b"
#define C_NOSIG "#666666"

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
	"#b07aa1", "#ff9da7", "#9c755f", "#8cd17d", "#499894", "#d37295"};
#define NPAL (sizeof(palette) / sizeof(palette[0]))

/* the same name keeps its colour in both cohorts' bars */
struct keys {
	const char *s[64];
	size_t n[64];
	size_t count;
};

static int key_index(struct keys *k, const char *s, size_t n)
{
	for (size_t i = 0; i < k->count; i++)
		if (k->n[i] == n && !memcmp(k->s[i], s, n))
			return (int)i;
	if (k->count == sizeof(k->s) / sizeof(k->s[0]))
		return -1;
	k->s[k->count] = s;
	k->n[k->count] = n;
	return (int)k->count++;
}

static const char *key_colour(int i)
{
	return i < 0 ? C_REST : palette[(size_t)i % NPAL];
}

/* ---- stacked share bars ------------------------------------------------------ */

/* One horizontal bar of the shares in a list of {FIELD, count, share}
 * (models, finish reasons, section digests); what the list leaves out is a
 * grey rest. digest: the field is a digest, shown short. */
static void share_bar(FILE *f, const airi_value *list, const char *field,
		      int digest, struct keys *k, double runs, int w, int h)
{
	double x = 0, total = 0;
	fprintf(f, "<svg class=\"bar\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
		w, h, w, h);
	if (runs <= 0) {
		fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
			   "<text x=\"6\" y=\"%d\" class=\"na\">no runs</text></svg>",
			w, h, h / 2 + 4);
		return;
	}
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"" C_REST "\"/>", w, h);
	for (size_t i = 0; i < airi_value_count(list); i++) {
		const airi_value *e = airi_value_at(list, i);
		double share = clampd(num(e, "share"), 0, 1);
		size_t n;
		const char *s = str(e, field, &n);
		double bw = share * w;
		if (x + bw > w)
			bw = w - x;
		total += share;
		if (bw <= 0)
			continue;
		fprintf(f, "<rect x=\"%.2f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
			   "stroke=\"#fff\" stroke-width=\"0.5\"><title>",
			x, bw, h, key_colour(key_index(k, s, n)));
		if (digest)
			esc_digest(f, e, field);
		else
			esc_cut(f, s, n, 200);
		fprintf(f, ": %s (%s run%s)</title></rect>", pc(share),
			g(num(e, "count")), num(e, "count") == 1 ? "" : "s");
		x += bw;
	}
	if (total < 0.9995)
		fprintf(f, "<rect x=\"%.2f\" width=\"%.2f\" height=\"%d\" fill=\"" C_REST
			   "\"><title>other values: %s</title></rect>",
			x, w - x > 0 ? w - x : 0, h, pc(1 - total));
	fputs("</svg>", f);
}

/* the share and count of a name in a list, if there */
static const airi_value *find_in(const airi_value *list, const char *field,
				 const char *s, size_t n)
{
	for (size_t i = 0; i < airi_value_count(list); i++) {
		const airi_value *e = airi_value_at(list, i);
		size_t en;
		const char *es = str(e, field, &en);
		if (en == n && !memcmp(es, s, n))
			return e;
	}
	return NULL;
}

static void share_cell(FILE *f, const airi_value *e)
{
	if (e)
		fprintf(f, "<td class=\"num\">%s <small>(%s)</small></td>",
			pc(num(e, "share")), g(num(e, "count")));
	else
		fputs("<td class=\"num\">&ndash;</td>", f);
}

/* before and after bars of a {FIELD, count, share} pair of lists, with
 * a legend table */
static void shares_figure(FILE *f, const airi_value *before,
			  const airi_value *after, const char *field,
			  const char *what, double nb, double na)
{
	struct keys k = {0};
	fputs("<div class=\"bars\"><span class=\"lab\">before</span>", f);
	share_bar(f, before, field, 0, &k, nb, 560, 22);
	fputs("<span class=\"lab\">after</span>", f);
	share_bar(f, after, field, 0, &k, na, 560, 22);
	fputs("</div>", f);
	/* every name of both lists, in colour order */
	for (size_t i = 0; i < airi_value_count(before); i++) {
		size_t n;
		const char *s = str(airi_value_at(before, i), field, &n);
		key_index(&k, s, n);
	}
	for (size_t i = 0; i < airi_value_count(after); i++) {
		size_t n;
		const char *s = str(airi_value_at(after, i), field, &n);
		key_index(&k, s, n);
	}
	if (!k.count)
		return;
	fprintf(f, "<table class=\"legend\"><tr><th>%s</th><th class=\"num\">before</th>"
		   "<th class=\"num\">after</th></tr>",
		what);
	for (size_t i = 0; i < k.count; i++) {
		fprintf(f, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>",
			key_colour((int)i));
		esc_cut(f, k.s[i], k.n[i], 300);
		fputs("</td>", f);
		share_cell(f, find_in(before, field, k.s[i], k.n[i]));
		share_cell(f, find_in(after, field, k.s[i], k.n[i]));
		fputs("</tr>", f);
	}
	fputs("</table>", f);
}

/* ---- a difference and its interval ------------------------------------------ */

/* a round number >= x > 0 for an axis end: 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8
 * times a power of ten */
static double nice_up(double x)
{
	static const double m[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
	if (!(x > 0) || !isfinite(x) || x > 1e300)
		return 1;
	double p = pow(10, floor(log10(x)));
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (x <= m[i] * p * (1 + 1e-9))
			return m[i] * p;
	return 10 * p;
}

/* An axis symmetric around 0 with the 95% interval as a bar and the
 * difference as a dot; scale multiplies the values (100: rates as points).
 * few: a cohort has fewer than 2 values, so the interval (zero variance
 * assumed) means nothing and is not judged. */
static void ci_figure(FILE *f, const airi_value *m, double scale,
		      const char *unit, int few)
{
	const airi_value *ci = get(m, "ci95");
	if (!is_num(get(m, "diff")) || !is_num(airi_value_at(ci, 0)) ||
	    !is_num(airi_value_at(ci, 1))) {
		fputs("<p class=\"na\">No difference: a cohort has no values.</p>", f);
		return;
	}
	double d = scale * num(m, "diff");
	double lo = scale * num(ci, "0"), hi = scale * num(ci, "1");
	if (lo > hi) {
		double t = lo;
		lo = hi;
		hi = t;
	}
	int sig = !few && (lo > 0 || hi < 0);
	double r = nice_up(1.05 * fmax(fmax(fabs(lo), fabs(hi)), fabs(d)));
	const int W = 560, cx = W / 2, half = W / 2 - 50, y = 22;
#define CX(v) (cx + clampd((v) / r, -1, 1) * half)
	fprintf(f, "<div class=\"ci\"><svg class=\"ci\" width=\"%d\" height=\"44\" "
		   "viewBox=\"0 0 %d 44\">",
		W, W);
	fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
		cx - half, cx + half, y, y);
	fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"8\" y2=\"36\" stroke=\"#333\" "
		   "stroke-dasharray=\"3 2\"/>",
		cx, cx);
	fprintf(f, "<text x=\"%d\" y=\"43\" text-anchor=\"middle\">0</text>", cx);
	for (int t = -2; t <= 2; t++)
		if (t)
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
				   "stroke=\"#999\"/><text x=\"%.1f\" y=\"43\" "
				   "text-anchor=\"middle\">%s</text>",
				cx + half * t / 2.0, cx + half * t / 2.0, y, y + 4,
				cx + half * t / 2.0, gs(r * t / 2));
	const char *c = sig ? C_SIG : C_NOSIG;
	fprintf(f, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
		   "stroke-width=\"5\" stroke-opacity=\"0.55\"><title>95%% CI %s to %s%s"
		   "</title></line>",
		CX(lo), CX(hi), y, y, c, gs(lo), gs(hi), unit);
	fprintf(f, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\"/>"
		   "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\"/>",
		CX(lo), CX(lo), y - 7, y + 7, c, CX(hi), CX(hi), y - 7, y + 7, c);
	fprintf(f, "<circle cx=\"%.2f\" cy=\"%d\" r=\"5\" fill=\"%s\"><title>after "
		   "&minus; before: %s%s</title></circle></svg>",
		CX(d), y, c, gs(d), unit);
#undef CX
	fprintf(f, "<p>after &minus; before: <b class=\"%s\">%s%s</b>, 95%% CI %s to %s%s"
		   " &mdash; %s</p></div>",
		sig ? "sig" : "nosig", gs(d), unit, gs(lo), gs(hi), unit,
		few   ? "too few values for an interval (fewer than 2 in a cohort)"
		: sig ? "the interval excludes 0"
		      : "the interval includes 0 (no clear change)");
}

/* ---- a metric: histogram on common bins, statistics, difference ------------ */

static double nice_ceiling(double x)
{
	static const double steps[] = {0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4,
				       0.5, 0.6, 0.8, 1.0};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (x <= steps[i] + 1e-12)
			return steps[i];
	return 1;
}

/* element i of an array of counts: a finite number >= 0, else 0 */
static double count_at(const airi_value *arr, size_t i)
{
	const airi_value *x = airi_value_at(arr, i);
	double d = is_num(x) ? airi_value_number(x) : 0;
	return isfinite(d) && d > 0 ? d : 0;
}

static void histogram(FILE *f, const airi_value *m, const char *unit)
{
	const airi_value *h = get(m, "histogram");
	const airi_value *edges = get(h, "edges"), *hb = get(h, "before"),
			 *ha = get(h, "after");
	size_t nbins = airi_value_count(edges);
	nbins = nbins ? nbins - 1 : 0;
	if (!h || !nbins) {
		fputs("<p class=\"na\">No histogram in the report.</p>", f);
		return;
	}
	if (nbins > 1000)
		nbins = 1000;
	double tb = 0, ta = 0, ymax = 0;
	for (size_t i = 0; i < nbins; i++) {
		tb += count_at(hb, i);
		ta += count_at(ha, i);
	}
	for (size_t i = 0; i < nbins; i++) {
		double b = count_at(hb, i), a = count_at(ha, i);
		if (tb > 0 && b / tb > ymax)
			ymax = b / tb;
		if (ta > 0 && a / ta > ymax)
			ymax = a / ta;
	}
	ymax = nice_ceiling(ymax);
	const int W = 560, H = 210, ml = 44, mr = 14, mt = 10, mb = 38;
	const double pw = W - ml - mr, ph = H - mt - mb, bw = pw / (double)nbins;
	const double lo = num(edges, "0");
	char key[24];
	snprintf(key, sizeof(key), "%zu", nbins);
	const double hi = num(edges, key);
	fprintf(f, "<svg class=\"hist\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
		W, H, W, H);
	/* grid and y labels: share of each cohort's values */
	for (int t = 0; t <= 4; t++) {
		double y = mt + ph - ph * t / 4.0;
		fprintf(f, "<line x1=\"%d\" x2=\"%.2f\" y1=\"%.2f\" y2=\"%.2f\" "
			   "stroke=\"%s\"/><text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>",
			ml, ml + pw, y, y, t ? "#eee" : "#999", ml - 4, y + 4,
			pc(ymax * t / 4.0));
	}
	/* bars: before left, after right in each bin */
	for (size_t i = 0; i < nbins; i++) {
		double b = count_at(hb, i), a = count_at(ha, i);
		double x0 = ml + bw * (double)i, gap = bw * 0.08, half = (bw - 2 * gap) / 2;
		double sb = tb > 0 ? clampd(b / tb, 0, 1) : 0;
		double sa = ta > 0 ? clampd(a / ta, 0, 1) : 0;
		double yb = ph * sb / ymax, ya = ph * sa / ymax;
		if (yb > 0)
			fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				   "fill=\"" C_BEFORE "\"/>",
				x0 + gap, mt + ph - yb, half, yb);
		if (ya > 0)
			fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				   "fill=\"" C_AFTER "\"/>",
				x0 + gap + half, mt + ph - ya, half, ya);
		/* the whole bin's column carries its numbers */
		char ek[24];
		snprintf(ek, sizeof(ek), "%zu", i);
		double e0 = num(edges, ek);
		snprintf(ek, sizeof(ek), "%zu", i + 1);
		double e1 = num(edges, ek);
		fprintf(f, "<rect class=\"hit\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%.2f\" "
			   "fill=\"transparent\"><title>%s to %s%s%s: before %s (%s), after %s (%s)"
			   "</title></rect>",
			x0, mt, bw, ph, g(e0), g(e1), unit,
			i + 1 == nbins ? " and above" : "", g(b), pc(sb), g(a), pc(sa));
	}
	/* means as dashed lines */
	if (hi > lo) {
		static const char *const side[2] = {"before", "after"};
		for (int s = 0; s < 2; s++) {
			char p[32];
			snprintf(p, sizeof(p), "%s/n", side[s]);
			if (num(m, p) <= 0)
				continue;
			snprintf(p, sizeof(p), "%s/mean", side[s]);
			double mu = num(m, p);
			double at = (mu - lo) / (hi - lo);
			double x = ml + clampd(at, 0, 1) * pw;
			fprintf(f, "<g><title>mean %s: %s%s%s</title><line x1=\"%.2f\" "
				   "x2=\"%.2f\" y1=\"%d\" y2=\"%.2f\" stroke=\"#fff\" "
				   "stroke-width=\"4\"/><line x1=\"%.2f\" x2=\"%.2f\" y1=\"%d\" "
				   "y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\" "
				   "stroke-dasharray=\"5 3\"/></g>",
				side[s], g(mu), unit, at < 0 || at > 1 ? " (off the axis)" : "",
				x, x, mt, mt + ph, x, x, mt, mt + ph,
				s ? C_AFTER_DARK : C_BEFORE_DARK);
		}
	}
	/* x labels: every edge when few bins, else every fourth or the ends
	 * and the middle, or only the ends when the numbers are long */
	size_t step = nbins <= 5 ? 1 : nbins % 4 == 0 ? nbins / 4 : nbins / 2, longest = 0;
	for (size_t i = 0; i <= nbins; i++) {
		char ek[24];
		snprintf(ek, sizeof(ek), "%zu", i);
		size_t l = strlen(g(num(edges, ek)));
		longest = l > longest ? l : longest;
	}
	while (step < nbins && (double)longest * 7 + 8 > bw * (double)step)
		step = step * 2 > nbins || nbins % (step * 2) ? nbins : step * 2;
	for (size_t i = 0; i <= nbins; i += step) {
		char ek[24];
		snprintf(ek, sizeof(ek), "%zu", i);
		fprintf(f, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%.2f\" y2=\"%.2f\" "
			   "stroke=\"#999\"/><text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\">%s</text>",
			ml + bw * (double)i, ml + bw * (double)i, mt + ph, mt + ph + 4,
			ml + bw * (double)i, mt + ph + 17,
			i == 0 ? "start" : i == nbins ? "end" : "middle", g(num(edges, ek)));
		if (i + step > nbins && i != nbins)
			i = nbins - step; /* always label the last edge */
	}
	fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" class=\"axis\">%s"
		   "</text></svg>",
		ml + pw / 2, H - 4, *unit ? unit + 1 : "value");
}

static void stat_cells(FILE *f, const airi_value *d)
{
	if (num(d, "n") <= 0) {
		fprintf(f, "<td class=\"num\">0</td><td class=\"num na\" colspan=\"4\">"
			   "no values</td>");
		return;
	}
	fprintf(f, "<td class=\"num\">%s</td><td class=\"num\">%s</td>"
		   "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>",
		g(num(d, "n")), g(num(d, "mean")), g(num(d, "p50")), g(num(d, "p90")),
		g(num(d, "p99")));
}

static void metric_figure(FILE *f, const char *name, size_t name_len,
			  const char *title, const char *unit, const airi_value *m)
{
	fputs("<div class=\"metric\" data-metric=\"", f);
	esc(f, name, name_len);
	fputs("\"><h3>", f);
	if (title)
		fprintf(f, "%s <code>", title);
	else
		fputs("score <code>", f);
	esc_cut(f, name, name_len, 200);
	fputs("</code></h3>", f);
	if (!m || airi_value_type(m) != AIRI_OBJECT) {
		fputs("<p class=\"na\">Not in the report.</p></div>", f);
		return;
	}
	if (num(m, "before/n") <= 0 && num(m, "after/n") <= 0) {
		fputs("<p class=\"na\">Neither cohort has values.</p></div>", f);
		return;
	}
	fputs("<div class=\"fig\">", f);
	histogram(f, m, unit);
	fputs("<table class=\"stats\"><tr><th></th><th class=\"num\">n</th>"
	      "<th class=\"num\">mean</th><th class=\"num\">p50</th>"
	      "<th class=\"num\">p90</th><th class=\"num\">p99</th></tr>",
	      f);
	fputs("<tr><th><span class=\"sw\" style=\"background:" C_BEFORE "\"></span>"
	      "before</th>",
	      f);
	stat_cells(f, get(m, "before"));
	fputs("</tr><tr><th><span class=\"sw\" style=\"background:" C_AFTER "\"></span>"
	      "after</th>",
	      f);
	stat_cells(f, get(m, "after"));
	fputs("</tr></table></div>", f);
	ci_figure(f, m, 1, unit, num(m, "before/n") < 2 || num(m, "after/n") < 2);
	fputs("</div>", f);
}

/* ---- the page -------------------------------------------------------------------- */

static const char css[] =
	":root{font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",sans-serif;"
	"color:#222;background:#fff}"
	"body{max-width:1100px;margin:0 auto;padding:1rem 1.5rem 3rem}"
	"h1{font-size:1.6rem;margin:.2rem 0 .8rem}"
	"h2{font-size:1.25rem;margin:2rem 0 .6rem;border-bottom:1px solid #ddd}"
	"h3{font-size:1.05rem;margin:1.2rem 0 .4rem}"
	"code{font:.9em ui-monospace,SFMono-Regular,Menlo,monospace;"
	"overflow-wrap:anywhere}"
	"nav a{margin-right:1rem}"
	".cohorts{display:flex;gap:1rem;flex-wrap:wrap}"
	".cohort{flex:1 1 20rem;border:1px solid #ddd;border-radius:6px;"
	"padding:.6rem .9rem;border-left:6px solid}"
	".cohort.before{border-left-color:" C_BEFORE "}"
	".cohort.after{border-left-color:" C_AFTER "}"
	".cohort .runs{font-size:1.4rem;font-weight:600}"
	".changed{background:#fff8e6;border:1px solid #f0d38a;border-radius:6px;"
	"padding:.5rem 1rem;margin:1rem 0}"
	".changed h2{border:0;margin:.3rem 0}"
	".changed li{margin:.25rem 0;font-size:1.05rem;overflow-wrap:anywhere}"
	"table{border-collapse:collapse;margin:.4rem 0}"
	"th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #eee;"
	"vertical-align:top}"
	"td{overflow-wrap:anywhere}"
	".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	".st{display:inline-block;padding:0 .45rem;border-radius:3px;color:#fff;"
	"font-size:.85em;font-weight:600}"
	".st-changed{background:#c62828}.st-shifted{background:#ef6c00}"
	".st-varies{background:#1565c0}.st-unchanged{background:#2e7d32}"
	".st-absent,.st-other{background:#9e9e9e}"
	".bars{display:grid;grid-template-columns:auto 1fr;gap:.2rem .5rem;"
	"align-items:center;margin:.3rem 0}"
	".bars .lab{font-size:.8em;color:#555}"
	"svg{display:block;max-width:100%;height:auto;overflow:visible}"
	"svg text{font:11px system-ui,sans-serif;fill:#444}"
	"svg .na{fill:#888}svg .axis{fill:#666}"
	".sw{display:inline-block;width:.8em;height:.8em;margin-right:.4em;"
	"border-radius:2px;vertical-align:-.05em}"
	".legend td:first-child{max-width:36rem}"
	".na{color:#888}td.side{white-space:nowrap}"
	".metric{border:1px solid #e3e3e3;border-radius:6px;padding:.2rem 1rem .6rem;"
	"margin:1rem 0}"
	".fig{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}"
	".sig{color:" C_SIG "}.nosig{color:#444}"
	".ci p{margin:.2rem 0}"
	"details summary{cursor:pointer}"
	"footer{margin-top:3rem;color:#777;font-size:.85em}";

static void header(FILE *f, const airi_value *r)
{
	fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"airi regress\">\n<title>airi regress: ",
	      f);
	escp(f, r, "before/filter", 80);
	fputs(" vs ", f);
	escp(f, r, "after/filter", 80);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
	fputs("<header>\n<h1>airi regress</h1>\n<div class=\"cohorts\">\n", f);
	static const char *const side[2] = {"before", "after"};
	for (int s = 0; s < 2; s++) {
		char p[32];
		snprintf(p, sizeof(p), "%s/runs", side[s]);
		double runs = num(r, p);
		fprintf(f, "<div class=\"cohort %s\"><div>%s</div><div class=\"runs\">"
			   "%s run%s</div><div>filter <code>",
			side[s], side[s], g(runs), runs == 1 ? "" : "s");
		snprintf(p, sizeof(p), "%s/filter", side[s]);
		escp(f, r, p, (size_t)-1);
		fputs("</code></div></div>\n", f);
	}
	fputs("</div>\n</header>\n", f);

	const airi_value *sum = get(r, "summary");
	fputs("<section class=\"changed\" id=\"summary\">\n<h2>What changed</h2>\n", f);
	if (airi_value_count(sum)) {
		fputs("<ul>\n", f);
		for (size_t i = 0; i < airi_value_count(sum); i++) {
			size_t n;
			const char *s = airi_value_string(airi_value_at(sum, i), &n);
			fputs("<li>", f);
			if (s)
				esc(f, s, n);
			else
				esc_json(f, airi_value_at(sum, i), 300);
			fputs("</li>\n", f);
		}
		fputs("</ul>\n", f);
	} else {
		fputs("<p>Nothing measurable.</p>\n", f);
	}
	fputs("</section>\n<nav><a href=\"#sections\">sections</a><a href=\"#models\">"
	      "models</a><a href=\"#paired\">paired</a><a href=\"#outcomes\">outcomes</a>"
	      "<a href=\"#scores\">scores</a><a href=\"#report\">raw report</a></nav>\n",
	      f);
}

static const char *state_class(const char *s, size_t n)
{
	static const char *const known[] = {"changed", "shifted", "varies",
					    "unchanged", "absent"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == n && !memcmp(known[i], s, n))
			return known[i];
	return "other";
}

static void sections(FILE *f, const airi_value *r)
{
	const airi_value *secs = get(r, "sections");
	double nb = num(r, "before/runs"), na = num(r, "after/runs");
	fputs("<section id=\"sections\">\n<h2>Condition sections</h2>\n"
	      "<p>The most frequent values (digests) of each section in each cohort; "
	      "grey is the rest. A section is <i>changed</i> when its usual value "
	      "differs, <i>shifted</i> when the usual value's share moved by more than "
	      "5 points, and <i>varies</i> when no value is usual.</p>\n",
	      f);
	if (!airi_value_count(secs)) {
		fputs("<p class=\"na\">No sections in the report.</p>\n</section>\n", f);
		return;
	}
	fputs("<table class=\"sections\"><tr><th>section</th><th>state</th>"
	      "<th>what changed</th><th>usual values</th></tr>\n",
	      f);
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		const airi_value *s = airi_value_at(secs, i);
		size_t sn, un;
		const char *st = str(s, "state", &sn);
		const char *summary = str(s, "summary", &un);
		const airi_value *ch = get(s, "changes");
		fputs("<tr><td><code>", f);
		escp(f, s, "name", 100);
		fprintf(f, "</code></td><td><span class=\"st st-%s\">", state_class(st, sn));
		esc_cut(f, st, sn, 40);
		fputs("</span></td><td>", f);
		if (sn == 6 && !memcmp(st, "varies", 6))
			fprintf(f, "%s distinct before, %s after", g(num(s, "distinct/before")),
				g(num(s, "distinct/after")));
		else if (un || airi_value_count(ch)) {
			fputs("<details><summary>", f);
			if (un)
				esc(f, summary, un);
			else
				fputs("changes", f);
			fputs("</summary><ul class=\"changes\">", f);
			for (size_t j = 0; j < airi_value_count(ch) && j < 20; j++) {
				const airi_value *c = airi_value_at(ch, j);
				size_t pn;
				str(c, "pointer", &pn);
				fputs("<li><code>", f);
				if (pn)
					escp(f, c, "pointer", 120);
				else
					fputs("(whole value)", f);
				fputs("</code> ", f);
				escp(f, c, "op", 20);
				if (get(c, "a")) {
					fputs(": <code>", f);
					esc_json(f, get(c, "a"), 160);
					fputs("</code>", f);
				}
				if (get(c, "b")) {
					fputs(" &rarr; <code>", f);
					esc_json(f, get(c, "b"), 160);
					fputs("</code>", f);
				}
				fputs("</li>", f);
			}
			if (airi_value_count(ch) > 20)
				fprintf(f, "<li>&hellip; %zu more</li>", airi_value_count(ch) - 20);
			fputs("</ul></details>", f);
		} else if (sn == 6 && !memcmp(st, "absent", 6)) {
			fputs("<span class=\"na\">in neither cohort</span>", f);
		}
		fputs("</td><td><div class=\"bars\">", f);
		struct keys k = {0};
		fputs("<span class=\"lab\">before</span>", f);
		share_bar(f, get(s, "before"), "digest", 1, &k, nb, 240, 12);
		fputs("<span class=\"lab\">after</span>", f);
		share_bar(f, get(s, "after"), "digest", 1, &k, na, 240, 12);
		fputs("</div></td></tr>\n", f);
	}
	fputs("</table>\n</section>\n", f);
}

static void models(FILE *f, const airi_value *r)
{
	fputs("<section id=\"models\">\n<h2>Models</h2>\n<p>Resolved model names "
	      "(else the requested ones), share of each cohort's runs.</p>\n",
	      f);
	shares_figure(f, get(r, "models/before"), get(r, "models/after"), "name",
		      "model", num(r, "before/runs"), num(r, "after/runs"));
	fputs("\n</section>\n", f);
}

static void paired(FILE *f, const airi_value *r)
{
	const airi_value *p = get(r, "paired");
	double pairs = num(p, "pairs"), differs = num(p, "output_differs");
	fputs("<section id=\"paired\">\n<h2>Paired by input</h2>\n", f);
	if (pairs <= 0) {
		fputs("<p class=\"na\">No run of the after cohort asked an input also "
		      "asked before.</p>\n</section>\n",
		      f);
		return;
	}
	double share = clampd(num(p, "share"), 0, 1);
	fprintf(f, "<p><b>%s</b> run%s of the after cohort asked an input also asked "
		   "before; <b>%s</b> (%s) now give another output.</p>\n",
		g(pairs), pairs == 1 ? "" : "s", g(differs), pc(share));
	fprintf(f, "<svg class=\"bar\" width=\"560\" height=\"16\" viewBox=\"0 0 560 16\">"
		   "<rect width=\"560\" height=\"16\" fill=\"#cfe3cf\"><title>same output: "
		   "%s</title></rect><rect width=\"%.2f\" height=\"16\" fill=\"" C_SIG
		   "\" fill-opacity=\"0.75\"><title>another output: %s</title></rect></svg>\n",
		pc(1 - share), 560 * share, pc(share));
	fprintf(f, "<p><span class=\"sw\" style=\"background:" C_SIG ";opacity:.75\">"
		   "</span>another output %s &nbsp; <span class=\"sw\" "
		   "style=\"background:#cfe3cf\"></span>the same output %s</p>\n",
		pc(share), pc(1 - share));
	const airi_value *ex = get(p, "examples");
	if (!airi_value_count(ex)) {
		fputs("</section>\n", f);
		return;
	}
	fputs("<h3>Examples whose output length moved most</h3>\n<table class=\"examples\">"
	      "<tr><th>input</th><th></th><th>run</th><th class=\"num\">chars</th>"
	      "<th>output</th></tr>\n",
	      f);
	for (size_t i = 0; i < airi_value_count(ex); i++) {
		const airi_value *e = airi_value_at(ex, i);
		static const char *const side[2] = {"before", "after"};
		for (int s = 0; s < 2; s++) {
			char q[32];
			fputs("<tr>", f);
			if (!s) {
				fputs("<td rowspan=\"2\"><code title=\"", f);
				escp(f, e, "input", 200);
				fputs("\">", f);
				esc_digest(f, e, "input");
				fputs("</code></td>", f);
			}
			fprintf(f, "<td class=\"side\"><span class=\"sw\" style=\"background:%s\"></span>%s</td>"
				   "<td><code title=\"",
				s ? C_AFTER : C_BEFORE, side[s]);
			snprintf(q, sizeof(q), "%s/run", side[s]);
			escp(f, e, q, 200);
			fputs("\">", f);
			esc_digest(f, e, q);
			snprintf(q, sizeof(q), "%s/out_chars", side[s]);
			double c = num(e, q);
			fprintf(f, "</code></td><td class=\"num\">%s</td><td>", c < 0 ? "?" : g(c));
			snprintf(q, sizeof(q), "%s/summary", side[s]);
			escp(f, e, q, 200);
			fputs("</td></tr>\n", f);
		}
	}
	fputs("</table>\n</section>\n", f);
}

static void failures(FILE *f, const airi_value *r, const airi_value *o)
{
	const airi_value *fl = get(o, "failed");
	fputs("<div class=\"metric\" data-metric=\"failed\"><h3>Failure rate</h3>", f);
	if (!fl) {
		fputs("<p class=\"na\">Not in the report.</p></div>", f);
		return;
	}
	static const char *const side[2] = {"before", "after"};
	fputs("<svg class=\"rates\" width=\"560\" height=\"58\" viewBox=\"0 0 560 58\">", f);
	for (int s = 0; s < 2; s++) {
		char p[32];
		snprintf(p, sizeof(p), "%s/rate", side[s]);
		double rate = clampd(num(fl, p), 0, 1);
		snprintf(p, sizeof(p), "%s/count", side[s]);
		double count = num(fl, p);
		int y = 4 + 26 * s;
		snprintf(p, sizeof(p), "%s/runs", side[s]);
		if (num(r, p) <= 0) {
			fprintf(f, "<text x=\"0\" y=\"%d\">%s</text><rect x=\"50\" y=\"%d\" "
				   "width=\"330\" height=\"18\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
				   "<text x=\"388\" y=\"%d\" class=\"na\">no runs</text>",
				y + 13, side[s], y, y + 13);
			continue;
		}
		fprintf(f, "<text x=\"0\" y=\"%d\">%s</text><rect x=\"50\" y=\"%d\" width=\"330\" "
			   "height=\"18\" fill=\"#f2f2f2\"/><rect x=\"50\" y=\"%d\" width=\"%.2f\" "
			   "height=\"18\" fill=\"%s\"><title>%s failed: %s (%s)</title></rect>"
			   "<text x=\"388\" y=\"%d\">%s (%s failed)</text>",
			y + 13, side[s], y, y, 330 * rate, s ? C_AFTER : C_BEFORE, side[s],
			pc(rate), g(count), y + 13, pc(rate), g(count));
	}
	fputs("</svg>", f);
	ci_figure(f, fl, 100, " points", num(r, "before/runs") < 2 || num(r, "after/runs") < 2);
	fputs("</div>", f);
}

static void outcomes(FILE *f, const airi_value *r)
{
	const airi_value *o = get(r, "outcomes");
	static const struct {
		const char *key, *title, *unit;
	} ms[] = {{"latency_ms", "Latency", " ms"},
		  {"out_chars", "Output length", " chars"},
		  {"tool_calls", "Tool calls", " calls"},
		  {"out_tokens", "Output tokens", " tokens"}};
	fputs("<section id=\"outcomes\">\n<h2>Outcomes</h2>\n<p>Histograms on common "
	      "bins, from the smallest value to the larger p99 of the two cohorts "
	      "(values above it fall in the last bin), as shares of each cohort's "
	      "values: <span class=\"sw\" style=\"background:" C_BEFORE "\"></span>before, "
	      "<span class=\"sw\" style=\"background:" C_AFTER "\"></span>after; dashed "
	      "lines mark the means. Below each, the difference of the means (after "
	      "&minus; before) with its 95% confidence interval.</p>\n",
	      f);
	failures(f, r, o);
	fputs("\n<div class=\"metric\" data-metric=\"finish\"><h3>Finish reasons</h3>", f);
	shares_figure(f, get(o, "finish/before"), get(o, "finish/after"), "reason",
		      "reason", num(r, "before/runs"), num(r, "after/runs"));
	fputs("</div>\n", f);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		metric_figure(f, ms[i].key, strlen(ms[i].key), ms[i].title, ms[i].unit,
			      get(o, ms[i].key));
		fputc('\n', f);
	}
	fputs("</section>\n", f);

	const airi_value *sc = get(r, "scores");
	fputs("<section id=\"scores\">\n<h2>Scores</h2>\n", f);
	if (!airi_value_count(sc))
		fputs("<p class=\"na\">No numeric labels in either cohort "
		      "(<code>airi label RUN KEY=NUMBER</code>).</p>\n",
		      f);
	for (size_t i = 0; i < airi_value_count(sc); i++) {
		size_t kn;
		const char *k = airi_value_key_at(sc, i, &kn);
		metric_figure(f, k ? k : "", k ? kn : 0, NULL, "", airi_value_at(sc, i));
		fputc('\n', f);
	}
	fputs("</section>\n", f);
}

/* the report as JSON inside a script element that it cannot leave */
static void embedded(FILE *f, const char *json, size_t n)
{
	fputs("<section id=\"report\">\n<h2>Raw report</h2>\n<p>The canonical JSON "
	      "report (<code>airi regress --json</code>) is embedded in this page as "
	      "<code>&lt;script type=\"application/json\" id=\"airi-report\"&gt;</code>."
	      "</p>\n</section>\n<footer>Written by <code>airi regress</code>.</footer>\n",
	      f);
	fputs("<script type=\"application/json\" id=\"airi-report\">\n", f);
	for (size_t i = 0; i < n; i++) {
		if (json[i] == '<' && i + 1 < n && json[i + 1] == '/')
			fputs("<\\", f); /* then the '/' */
		else if (json[i] == '<' && i + 3 < n && !memcmp(json + i, "<!--", 4))
			fputs("\\u003c", f);
		else
			fputc(json[i], f);
	}
	fputs("\n</script>\n</body>\n</html>\n", f);
}

/* ---- writing the file ----------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* PATH.tmp, fsync, rename; errno set on failure, and no PATH.tmp left */
static int replace_file(const char *path, const char *data, size_t n)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + 5);
	int fd = -1, e = 0;
	if (!tmp)
		return -1;
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return -1;
	}
	if (write_all(fd, data, n) || fsync(fd)) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (close(fd)) {
		e = errno;
		goto fail;
	}
	if (rename(tmp, path)) {
		e = errno;
		goto fail;
	}
	free(tmp);
	/* the rename itself, durable: best effort */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : strdup(".");
	if (dir) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}

int regress_html(const char *path, const airi_value *report, const char *json,
		 size_t n)
{
	char *page = NULL;
	size_t len = 0;
	if (!path || !*path) {
		cli_errorf("regress: --html needs a file name");
		return -1;
	}
	FILE *f = open_memstream(&page, &len);
	if (!f) {
		cli_errorf("regress: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	header(f, report);
	sections(f, report);
	models(f, report);
	paired(f, report);
	outcomes(f, report);
	embedded(f, json, n);
	int bad = ferror(f);
	if (fclose(f) || bad || !page) {
		cli_errorf("regress: cannot write %s: %s", path, strerror(ENOMEM));
		free(page);
		return -1;
	}
	int rc = replace_file(path, page, len);
	if (rc)
		cli_errorf("regress: cannot write %s: %s", path, strerror(errno));
	free(page);
	return rc ? -1 : 0;
}
