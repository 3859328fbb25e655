/*
 * ratecli.c - an open-loop, fixed-rate HTTP/1.1 load generator for the
 * proxy benchmark (wrk2 is not in Debian; h2load's --rate paces new
 * connections, not requests).
 *
 *   ratecli HOST PORT PATH BODY_FILE RATE SECONDS [CONNS] [WARMUP_SECONDS]
 *
 * Sends POST PATH with the body (Content-Type: application/json) at RATE
 * requests per second for WARMUP_SECONDS + SECONDS over CONNS keep-alive
 * connections (default 32, warm-up 1 s). Request i is due at
 * t0 + i / RATE; when no connection is free it waits in a queue and its
 * latency still counts from the due time (no coordinated omission), so a
 * server that falls behind shows it in the tail. After the last request
 * is due the client waits for every reply (up to 10 s) before it prints.
 *
 * With EXTRA_HEADERS set, each of its newline-separated "Name: value"
 * lines is sent as one more header (run.sh puts Portkey's routing headers
 * there).
 *
 * Replies must carry Content-Length (all the targets here do). Output,
 * one line of key=value for the script:
 *   sent= ok2xx= non2xx= errors= rate= p50_ms= p90_ms= p99_ms= p999_ms=
 *   max_ms= late= measured=
 * where the percentiles cover the replies to requests due after the
 * warm-up, and late= counts requests sent more than 1 ms after they were
 * due (no connection was free, or the client itself was not scheduled in
 * time: on a busy machine that noise is in every target's numbers).
 * Exit status 0 when every request got a reply, 1 otherwise. With
 * RATECLI_DUMP=FILE set, every measured reply is also written to FILE as
 * "ms_since_start latency_ms" (to see whether slow replies cluster).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int busy;
	int64_t due;       /* ns, when the request in flight was due */
	int measured;      /* whether it is past the warm-up */
	char *out;         /* unsent request bytes */
	size_t out_len, out_off;
	char in[65536];
	size_t in_len;
};

static struct sockaddr_in addr;
static char *req;
static size_t req_len;
static int ep;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int open_conn(struct conn *c, int idx)
{
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->busy = 0;
	c->in_len = 0;
	return 0;
}

static void flush_out(struct conn *c, int idx)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0 && errno == EAGAIN) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
						 .data.u64 = (uint64_t)idx};
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (w <= 0)
			return; /* the read side sees the error */
		c->out_off += (size_t)w;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void send_req(struct conn *c, int idx, int64_t due, int measured)
{
	c->busy = 1;
	c->due = due;
	c->measured = measured;
	c->out = req;
	c->out_len = req_len;
	c->out_off = 0;
	c->in_len = 0;
	flush_out(c, idx);
}

/* Returns the status when c->in holds a whole reply, 0 if not yet, -1 on
 * a reply this client cannot frame. Consumes the reply. */
static int parse_reply(struct conn *c)
{
	c->in[c->in_len < sizeof(c->in) ? c->in_len : sizeof(c->in) - 1] = 0;
	char *eoh = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!eoh)
		return c->in_len >= sizeof(c->in) - 1 ? -1 : 0;
	size_t hlen = (size_t)(eoh - c->in) + 4;
	int status = 0;
	if (c->in_len < 12 || sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	long clen = -1;
	for (char *p = c->in; p && p < eoh;) {
		char *nl = memchr(p, '\n', (size_t)(eoh - p));
		if (!nl)
			break;
		p = nl + 1;
		if (!strncasecmp(p, "content-length:", 15))
			clen = strtol(p + 15, NULL, 10);
	}
	if (clen < 0)
		return -1;
	if (c->in_len < hlen + (size_t)clen)
		return 0;
	size_t used = hlen + (size_t)clen;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: ratecli HOST PORT PATH BODY_FILE RATE "
				"SECONDS [CONNS] [WARMUP_SECONDS]\n");
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]);
	const char *path = argv[3];
	double rate = atof(argv[5]), secs = atof(argv[6]);
	int nconn = argc > 7 ? atoi(argv[7]) : 32;
	double warm = argc > 8 ? atof(argv[8]) : 1.0;

	FILE *f = fopen(argv[4], "rb");
	if (!f) {
		perror(argv[4]);
		return 2;
	}
	static char body[1 << 20];
	size_t blen = fread(body, 1, sizeof(body), f);
	fclose(f);
	/* EXTRA_HEADERS: "Name: value" lines, each ended with CRLF here */
	const char *xh = getenv("EXTRA_HEADERS");
	size_t xlen = xh ? strlen(xh) : 0;
	char *extra = malloc(2 * xlen + 1), *x = extra;
	for (const char *p = xh; p && *p;) {
		size_t n = strcspn(p, "\r\n");
		if (n) {
			memcpy(x, p, n);
			x += n;
			*x++ = '\r';
			*x++ = '\n';
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	*x = 0;
	req = malloc(blen + 512 + (size_t)(x - extra));
	req_len = (size_t)sprintf(req,
				  "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
				  "Content-Type: application/json\r\n"
				  "Authorization: Bearer sk-bench\r\n"
				  "User-Agent: airi-bench-ratecli\r\n"
				  "%s"
				  "Content-Length: %zu\r\n\r\n",
				  path, host, port, extra, blen);
	free(extra);
	memcpy(req + req_len, body, blen);
	req_len += blen;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &addr.sin_addr);
	ep = epoll_create1(0);
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	for (int i = 0; i < nconn; i++)
		if (open_conn(&cs[i], i)) {
			perror("connect");
			return 2;
		}
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct epoll_event tev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

	int64_t total = (int64_t)(rate * (warm + secs) + 0.5);
	int64_t nwarm = (int64_t)(rate * warm + 0.5);
	int64_t *lat = calloc((size_t)total + 1, sizeof(*lat));
	int64_t *lat_due = calloc((size_t)total + 1, sizeof(*lat_due));
	int64_t nlat = 0, sent = 0, ok = 0, non2xx = 0, errors = 0, done = 0,
		late = 0, maxlat = 0;
	/* queue of due requests waiting for a connection: their due times */
	int64_t *queue = calloc((size_t)total + 1, sizeof(*queue));
	int64_t qhead = 0, qtail = 0;
	double interval = 1e9 / rate;
	int64_t t0 = now_ns() + 10000000; /* 10 ms from now */
	int64_t end_wait = 0;

	while (done < total) {
		int64_t now = now_ns();
		/* everything due by now: to a free connection or the queue */
		while (sent < total && t0 + (int64_t)(sent * interval) <= now) {
			queue[qtail++] = sent;
			sent++;
		}
		for (int i = 0; i < nconn && qhead < qtail; i++) {
			if (cs[i].busy || cs[i].fd < 0)
				continue;
			int64_t k = queue[qhead++];
			int64_t due = t0 + (int64_t)(k * interval);
			if (now - due > 1000000) /* sent over 1 ms late */
				late++;
			send_req(&cs[i], i, due, k >= nwarm);
		}
		if (sent >= total && !end_wait)
			end_wait = now + 10000000000LL;
		if (end_wait && now > end_wait)
			break;
		/* sleep until the next due time, or a reply */
		if (sent < total) {
			int64_t next = t0 + (int64_t)(sent * interval);
			struct itimerspec its = {0};
			its.it_value.tv_sec = next / 1000000000;
			its.it_value.tv_nsec = next % 1000000000;
			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, sent < total ? -1 : 100);
		for (int e = 0; e < n; e++) {
			if (evs[e].data.u64 == UINT64_MAX) {
				uint64_t x;
				(void)!read(tfd, &x, sizeof(x));
				continue;
			}
			int i = (int)evs[e].data.u64;
			struct conn *c = &cs[i];
			if (evs[e].events & EPOLLOUT)
				flush_out(c, i);
			if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t r = read(c->fd, c->in + c->in_len,
					 sizeof(c->in) - 1 - c->in_len);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				/* closed: the request in flight is lost */
				if (c->busy) {
					errors++;
					done++;
				}
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				if (open_conn(c, i))
					c->fd = -1;
				continue;
			}
			c->in_len += (size_t)r;
			int st;
			while (c->busy && (st = parse_reply(c)) != 0) {
				int64_t t = now_ns();
				c->busy = 0;
				done++;
				if (st < 0) {
					errors++;
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					if (open_conn(c, i))
						c->fd = -1;
					break;
				}
				if (st >= 200 && st < 300)
					ok++;
				else
					non2xx++;
				if (c->measured) {
					lat_due[nlat] = c->due;
					lat[nlat++] = t - c->due;
					if (t - c->due > maxlat)
						maxlat = t - c->due;
				}
				if (qhead < qtail) {
					int64_t k = queue[qhead++];
					int64_t due = t0 + (int64_t)(k * interval);
					if (t - due > 1000000)
						late++;
					send_req(c, i, due, k >= nwarm);
				}
			}
		}
	}
	int64_t t1 = now_ns();
	const char *dump = getenv("RATECLI_DUMP");
	FILE *df = dump ? fopen(dump, "w") : NULL;
	for (int64_t i = 0; df && i < nlat; i++)
		fprintf(df, "%.3f %.3f\n", (lat_due[i] - t0) / 1e6, lat[i] / 1e6);
	if (df)
		fclose(df);
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_i64);
#define PCT(p) (nlat ? lat[(int64_t)((double)(nlat - 1) * (p))] / 1e6 : 0.0)
	printf("sent=%lld ok2xx=%lld non2xx=%lld errors=%lld lost=%lld "
	       "rate=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	       "max_ms=%.3f late=%lld measured=%lld\n",
	       (long long)sent, (long long)ok, (long long)non2xx,
	       (long long)errors, (long long)(total - done),
	       (double)done / ((double)(t1 - t0) / 1e9), PCT(0.50), PCT(0.90),
	       PCT(0.99), PCT(0.999), maxlat / 1e6, (long long)late,
	       (long long)nlat);
	return done == total && !errors ? 0 : 1;
}
