/*
 * check-tcp.c - the `tcp` check kind: can this machine open a TCP
 * connection to address:port, and does the service answer as expected?
 *
 * All on the libuv loop: uv_getaddrinfo (on libuv's thread pool) resolves
 * the definition's address or the node's, uv_tcp_connect connects to the
 * first address, an optional `send` string is written and, with `expect`,
 * the answer is read until it contains that substring, the peer closes, or
 * TCP_READ_MAX bytes came.  The output follows monitoring-plugins'
 * check_tcp: "TCP OK - 0.000123 second response time on 127.0.0.1 port 22"
 * with perfdata `time=0.000123s;[warn];[crit];0`, so that thresholds on
 * the `time` label (checkdef_apply_result) judge the latency.
 *
 * Connection refused (and any other connect error) is CRITICAL, an answer
 * without the expected text WARNING (check_tcp's default), a name that
 * does not resolve UNKNOWN, and the timeout the monitor's timeout state.
 *
 * Memory: struct tcp_run lives until the last of its handles and requests
 * has called back (`refs`); a result is applied once (`finished`).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define TCP_READ_MAX 4096

struct tcp_check {
	const struct nx_checkdef *def;  /* borrowed from the configuration */
	struct tcp_run *run;            /* the execution in flight, or NULL */
};

struct tcp_run {
	struct engine *e;       /* NULL once abandoned */
	struct tcp_check *tc;
	uint32_t check;
	int refs;               /* handles open + requests pending */
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	uv_write_t wr;
	uv_tcp_t tcp;
	uv_timer_t timer;
	bool tcp_open, timer_open, finished;
	char host[256];
	char peer[INET6_ADDRSTRLEN];
	uint16_t port;
	uint64_t start_ns;
	char *buf;              /* what the service answered */
	size_t len;
};

static void
tcp_unref(struct tcp_run *r)
{
	if (--r->refs > 0)
		return;
	free(r->buf);
	free(r);
}

static void
tcp_on_close(uv_handle_t *h)
{
	tcp_unref(h->data);
}

static double
tcp_elapsed_ms(const struct tcp_run *r)
{
	return (double)(uv_hrtime() - r->start_ns) / 1e6;
}

/* Closes the handles; pending requests call back with UV_ECANCELED. */
static void
tcp_close(struct tcp_run *r)
{
	if (r->timer_open) {
		r->timer_open = false;
		uv_timer_stop(&r->timer);
		uv_close((uv_handle_t *)&r->timer, tcp_on_close);
	}
	if (r->tcp_open) {
		r->tcp_open = false;
		uv_close((uv_handle_t *)&r->tcp, tcp_on_close);
	}
}

/* The perfdata threshold text of label `time`, or "". */
static const char *
tcp_threshold(const struct nx_checkdef *d, bool crit)
{
	size_t i;

	for (i = 0; d != NULL && i < d->nthresholds; i++) {
		if (strcmp(d->thresholds[i].label, "time") == 0) {
			const char *t = crit ? d->thresholds[i].crit_text :
			    d->thresholds[i].warn_text;

			return t != NULL ? t : "";
		}
	}
	return "";
}

/*
 * Ends the execution once with state st and a status text (a printf
 * format); with `timing` the response time and its perfdata are added.
 */
static void
tcp_finish(struct tcp_run *r, enum nx_state st, bool timing,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
tcp_finish(struct tcp_run *r, enum nx_state st, bool timing,
    const char *fmt, ...)
{
	struct engine *e = r->e;
	const struct nx_checkdef *d = r->tc != NULL ? r->tc->def : NULL;
	double ms = tcp_elapsed_ms(r), secs = ms / 1000.0;
	char text[512], out[1024];
	va_list ap;
	int n;

	if (r->finished)
		return;
	r->finished = true;
	if (r->tc != NULL)
		r->tc->run = NULL;
	tcp_close(r);
	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (timing)
		n = snprintf(out, sizeof out, "TCP %s - %.6f second response "
		    "time on %s port %u%s%s|time=%.6fs;%s;%s;0",
		    nx_state_name(st), secs, r->peer, r->port,
		    text[0] != '\0' ? ": " : "", text, secs,
		    tcp_threshold(d, false), tcp_threshold(d, true));
	else
		n = snprintf(out, sizeof out, "TCP %s - %s", nx_state_name(st),
		    text);
	checkdef_apply_result(e, &e->fleet.checks[r->check], d, st, out,
	    n < 0 ? 0 : (size_t)n >= sizeof out ? sizeof out - 1 : (size_t)n,
	    NULL, ms);
}

static void
tcp_on_timeout(uv_timer_t *t)
{
	struct tcp_run *r = t->data;
	struct engine *e = r->e;
	struct check *c;

	if (r->finished)
		return;
	r->finished = true;
	if (r->tc != NULL)
		r->tc->run = NULL;
	/* A lookup still running cannot be stopped, only forgotten. */
	uv_cancel((uv_req_t *)&r->gai);
	tcp_close(r);
	if (e != NULL) {
		double ms = tcp_elapsed_ms(r);

		c = &e->fleet.checks[r->check];
		/* The timer runs on loop time, cached before start_ns. */
		mon_apply_timeout(e, c, ms < c->timeout_ms ? c->timeout_ms :
		    ms);
	}
}

/* True when the answer holds the expected text. */
static bool
tcp_expected(const struct tcp_run *r, const char *expect)
{
	size_t el = strlen(expect);

	return el <= r->len && memmem(r->buf, r->len, expect, el) != NULL;
}

static void
tcp_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_run *r = h->data;

	(void)suggested;
	if (r->buf == NULL)
		r->buf = xmalloc(TCP_READ_MAX + 1);
	buf->base = r->buf + r->len;
	buf->len = TCP_READ_MAX - r->len;
}

/* Makes the first line of an unexpected answer printable, for the output. */
static void
tcp_answer_text(const struct tcp_run *r, char *out, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < r->len && n + 1 < size && n < 60; i++) {
		unsigned char ch = (unsigned char)r->buf[i];

		if (ch == '\n' || ch == '\r')
			break;
		out[n++] = ch < 0x20 || ch == 0x7f || ch == '|' ? '?' :
		    (char)ch;
	}
	out[n] = '\0';
}

static void
tcp_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_run *r = s->data;
	const char *expect = r->tc != NULL ? r->tc->def->expect : NULL;
	char answer[64];

	(void)buf;
	if (r->finished || expect == NULL)
		return;
	if (nread > 0)
		r->len += (size_t)nread;
	if (nread == 0)
		return;
	if (tcp_expected(r, expect)) {
		tcp_finish(r, NX_OK, true, "%s", "");
		return;
	}
	if (nread < 0 || r->len >= TCP_READ_MAX) {
		tcp_answer_text(r, answer, sizeof answer);
		if (r->len == 0)
			tcp_finish(r, NX_WARNING, true, "No data received "
			    "from host");
		else
			tcp_finish(r, NX_WARNING, true, "Unexpected response "
			    "from host/socket: %s", answer);
	}
}

static void
tcp_on_write(uv_write_t *w, int status)
{
	struct tcp_run *r = w->data;

	if (!r->finished && status != 0)
		tcp_finish(r, NX_CRITICAL, false, "cannot send to %s port %u: "
		    "%s", r->peer, r->port, uv_strerror(status));
	else if (!r->finished && (r->tc == NULL || r->tc->def->expect == NULL))
		tcp_finish(r, NX_OK, true, "%s", "");
	tcp_unref(r);
}

static void
tcp_on_connect(uv_connect_t *cr, int status)
{
	struct tcp_run *r = cr->data;
	const struct nx_checkdef *d = r->tc != NULL ? r->tc->def : NULL;
	uv_buf_t b;

	if (r->finished)
		goto out;
	if (status == UV_ECONNREFUSED) {
		tcp_finish(r, NX_CRITICAL, false, "Connection refused (%s port "
		    "%u)", r->peer, r->port);
		goto out;
	}
	if (status != 0) {
		tcp_finish(r, NX_CRITICAL, false, "cannot connect to %s port "
		    "%u: %s", r->peer, r->port, uv_strerror(status));
		goto out;
	}
	if (d != NULL && d->expect != NULL)
		uv_read_start((uv_stream_t *)&r->tcp, tcp_on_alloc,
		    tcp_on_read);
	if (d != NULL && d->send != NULL && d->send[0] != '\0') {
		b = uv_buf_init(d->send, (unsigned)strlen(d->send));
		r->wr.data = r;
		r->refs++;
		if (uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1,
		    tcp_on_write) != 0) {
			r->refs--;
			tcp_finish(r, NX_CRITICAL, false, "cannot send to %s "
			    "port %u", r->peer, r->port);
		}
		goto out;
	}
	if (d == NULL || d->expect == NULL)
		tcp_finish(r, NX_OK, true, "%s", "");
out:
	tcp_unref(r);
}

static void
tcp_on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
	struct tcp_run *r = g->data;
	int rc;

	if (r->finished || r->e == NULL)
		goto out;
	if (status != 0 || ai == NULL) {
		tcp_finish(r, NX_UNKNOWN, false, "cannot resolve %s: %s",
		    r->host, uv_strerror(status));
		goto out;
	}
	uv_ip_name(ai->ai_addr, r->peer, sizeof r->peer);
	uv_tcp_init(r->e->loop, &r->tcp);
	r->tcp.data = r;
	r->tcp_open = true;
	r->refs++;
	r->conn.data = r;
	r->refs++;
	if ((rc = uv_tcp_connect(&r->conn, &r->tcp, ai->ai_addr,
	    tcp_on_connect)) != 0) {
		r->refs--;
		tcp_finish(r, NX_CRITICAL, false, "cannot connect to %s port "
		    "%u: %s", r->peer, r->port, uv_strerror(rc));
	}
out:
	uv_freeaddrinfo(ai);
	tcp_unref(r);
}

static void
tcp_run(struct engine *e, struct check *c)
{
	struct tcp_check *tc = c->data;
	const struct nx_checkdef *d = tc->def;
	const struct node *n = &e->fleet.nodes[c->node];
	struct addrinfo hints;
	struct tcp_run *r;
	char port[8];
	int rc;

	r = xcalloc(1, sizeof *r);
	r->e = e;
	r->tc = tc;
	r->check = c->id;
	r->port = d->port;
	r->start_ns = uv_hrtime();
	snprintf(r->host, sizeof r->host, "%s", d->address != NULL ?
	    d->address : n->address);
	snprintf(r->peer, sizeof r->peer, "%.*s", (int)sizeof r->peer - 1,
	    r->host);
	snprintf(port, sizeof port, "%u", d->port);
	tc->run = r;

	uv_timer_init(e->loop, &r->timer);
	r->timer.data = r;
	r->timer_open = true;
	r->refs++;
	uv_timer_start(&r->timer, tcp_on_timeout, c->timeout_ms != 0 ?
	    c->timeout_ms : e->cfg.checks.timeout_ms, 0);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r->gai.data = r;
	r->refs++;
	if ((rc = uv_getaddrinfo(e->loop, &r->gai, tcp_on_resolved, r->host,
	    port, &hints)) != 0) {
		r->refs--;
		tcp_finish(r, NX_UNKNOWN, false, "cannot resolve %s: %s",
		    r->host, uv_strerror(rc));
	}
}

/* Frees a check's data; an execution in flight is abandoned (no result). */
static void
tcp_free_data(void *data)
{
	struct tcp_check *tc = data;
	struct tcp_run *r;

	if (tc == NULL)
		return;
	if ((r = tc->run) != NULL) {
		r->e = NULL;
		r->tc = NULL;
		r->finished = true;
		uv_cancel((uv_req_t *)&r->gai);
		tcp_close(r);
	}
	free(tc);
}

static void *
tcp_configure(struct engine *e, struct node *n, const struct nx_checkdef *d)
{
	struct tcp_check *tc;

	(void)e;
	(void)n;
	if (d->port == 0)
		return NULL;
	tc = xcalloc(1, sizeof *tc);
	tc->def = d;
	return tc;
}

const struct check_kind check_kind_tcp = {
	.version = NX_CHECK_KIND_VERSION,
	.name = "tcp",
	.run = tcp_run,
	.free_data = tcp_free_data,
	.configure = tcp_configure,
};
