/*
 * ssh-session.c - an SSH client pool on the libuv loop: libssh2 in non-blocking
 * mode, one persistent session per (user, address, port), many exec
 * channels per session.  See doc/ssh.md.
 *
 * Every session is a state machine stepped by host_step():
 *
 *   IDLE -> WAIT_SLOT -> RESOLVE -> CONNECT -> HANDSHAKE -> AUTH -> READY
 *
 * WAIT_SLOT bounds the sessions between connect() and authenticated
 * (opts.max_startups, default 64), as sshd's MaxStartups bounds them on the
 * other side.  Each phase has its own deadline (connect, handshake + auth),
 * each exec its own (from the moment it is submitted), all on one uv_timer
 * per host.  The socket is ours (a non-blocking connect), polled with
 * uv_poll in the directions libssh2_session_block_directions() reports;
 * after LIBSSH2_ERROR_EAGAIN the same libssh2 call is repeated on the next
 * wakeup.  In READY every channel of the session is serviced after every
 * wakeup, repeatedly until none progresses, because reading one channel
 * can pull another channel's data off the socket.
 *
 * Host keys are checked against known_hosts files (OpenSSH format, hashed
 * entries and [host]:port included), strictly by default.  Authentication
 * tries ssh-agent, then identity files.  No passphrase, key or agent
 * reply is ever logged.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>

#include "engine.h"
#include "act.h"

#define SSH_DEFAULT_CONNECT_MS 10000
#define SSH_DEFAULT_HANDSHAKE_MS 15000
#define SSH_DEFAULT_STARTUPS 64
#define SSH_DEFAULT_CHANNELS 8
#define SSH_DEFAULT_OUTPUT_CAP (64 * 1024)
#define SSH_READ_CHUNK 16384
#define SSH_DEFAULT_KEEPALIVE_COUNT 3

enum host_state {
	H_IDLE,                 /* no session */
	H_WAIT_SLOT,            /* waiting for a startup slot */
	H_RESOLVE,
	H_CONNECT,
	H_HANDSHAKE,
	H_AUTH,
	H_READY,
};

enum chan_state {
	C_QUEUED,               /* waiting for a channel slot or the session */
	C_OPEN,
	C_EXEC,
	C_EOF,                  /* the command's stdin is closed: it reads nothing */
	C_READ,
	C_CLOSE,
	C_WAIT_CLOSED,
	C_FREE,
};

struct ssh_buf {
	char *p;
	size_t len, cap;
	bool truncated;
};

struct ssh_req {
	struct ssh_host *h;
	char *command;
	uint64_t submitted, deadline;   /* uv_now */
	ssh_exec_cb cb;
	ssh_data_cb data_cb;    /* stdout streamed to it, or NULL: buffered */
	void *arg;
	LIBSSH2_CHANNEL *ch;
	enum chan_state state;
	struct ssh_buf out, err;
	bool reported;          /* cb called (timeout): only closing is left */
	bool retried;           /* kept once for a new session (host_lost) */
	bool runner_ok;         /* may run on the host's runner */
	bool on_runner;         /* runs there: no channel of its own */
	struct ssh_req *next;
};

enum runner_state {
	R_OPEN,
	R_START,                /* exec of the shell */
	R_GREET,                /* waiting for the shell's greeting */
	R_READY,                /* takes a command when it has none */
	R_CLOSE,
	R_WAIT_CLOSED,
	R_FREE,
};

/*
 * A host's runner: one channel running a shell that takes commands on its
 * standard input, one at a time, and answers each in a frame
 * (ssh-frame.c).  It holds one of the session's channel slots.  A host
 * has one in use at most; others may still be closing (one abandoned with
 * its command running, until sshd closes the channel).
 */
struct ssh_runner {
	struct ssh_host *h;
	struct ssh_runner *next;
	LIBSSH2_CHANNEL *ch;
	enum runner_state state;
	struct ssh_req *cur;    /* the command it runs, or NULL */
	char *line;             /* cur's framed command line */
	size_t line_len, line_off;      /* how much of it is written */
	struct ssh_frame frame;
	char greet[256];        /* the tail of what came before the greeting */
	size_t greet_len;
	bool closing;           /* close once the open or exec completes */
	unsigned served;        /* commands answered */
};

struct ssh_host {
	struct ssh_pool *pool;
	char *address, *user;
	uint16_t port;
	enum host_state state;
	int fd;
	uv_poll_t *poll;        /* for fd; closed (and fd with it) on teardown */
	int poll_events;        /* events the poll is started with; 0 = stopped */
	uv_timer_t timer;
	uv_getaddrinfo_t *gai;  /* pending resolution; its data is this host */
	LIBSSH2_SESSION *s;
	uint64_t phase_deadline;
	uint64_t idle_since;
	uint64_t next_keepalive;        /* uv_now; 0 = keepalives off */
	char refused[128];      /* the host key last refused and reported */
	bool slot;              /* holds a startup slot */
	bool tearing;           /* in host_teardown: new requests wait */
	bool retry_unstarted;   /* host_teardown keeps unstarted requests */
	bool conn_lost;         /* a channel saw the connection fail */
	bool in_step, again;

	/* Authentication progress. */
	bool auth_listed;
	bool agent_done;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *agent_id;
	size_t ident;           /* next identity file */
	char *rsa_refused;      /* an RSA key the server refused, or NULL */
	char **idents;          /* identity files to try, owned */
	size_t nidents;
	bool idents_explicit;   /* given or configured: say why one is unusable */
	bool identities_only;   /* IdentitiesOnly: no agent */
	bool resolved;          /* the settings below come from ssh_pool_resolve */
	struct kh_set *khs;     /* its known hosts */
	enum ssh_strict strict;
	uint32_t connect_ms;
	char auth_notes[256];   /* why identities could not be used */

	struct ssh_req *reqs;   /* queued and active, in submission order */
	unsigned nactive;       /* channels (or opening), runner included */
	struct ssh_runner *runners;     /* in use first, then closing */
	bool runner_broken;     /* the host has no usable runner shell */
	struct ssh_host *wait_next;     /* pool's startup queue */
	struct ssh_host *hash_next;
	struct ssh_host *all_next;
};

/* The known hosts of one list of user files (plus the global file). */
struct kh_set {
	char **files;           /* accept-new appends to files[0] */
	size_t nfiles;
	LIBSSH2_KNOWNHOSTS *kh;
	struct kh_set *next;
};

struct ssh_pool {
	uv_loop_t *loop;
	struct ssh_opts o;
	char *user;             /* default remote user, or NULL */
	char **identities;
	size_t nidentities;
	bool identities_given;
	struct ssh_config *cfg; /* ~/.ssh/config or opts.config_file, or NULL */
	char *config_path;      /* where cfg came from */
	char *known_hosts;      /* the user file unless ssh_config names others */
	bool known_hosts_given; /* by the caller: wins over ssh_config */
	char *global_known_hosts;
	LIBSSH2_SESSION *kh_session;    /* owns the collections; never connected */
	struct kh_set *kh_sets;
	struct ssh_host **buckets;
	size_t nbuckets, nhosts;
	struct ssh_host *all;
	struct ssh_host *wait_head, *wait_tail;
	uint32_t nstartups;
	bool closing;
	size_t open_timers;
};

static int ssh_libssh2_ready;

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

static void
buf_add(struct ssh_buf *b, const char *p, size_t n, size_t cap)
{
	if (b->len + n > cap) {
		b->truncated = true;
		n = cap > b->len ? cap - b->len : 0;
	}
	if (n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		while (b->cap < b->len + n + 1)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of p into out (unpadded when pad is false); out holds 4n/3 + 4. */
static void
b64_encode(const unsigned char *p, size_t n, char *out, bool pad)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = b64chars[p[i] >> 2];
		out[o++] = b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = b64chars[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = b64chars[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = b64chars[p[i] >> 2];
		out[o++] = b64chars[(p[i] & 3) << 4];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		out[o++] = b64chars[p[i] >> 2];
		out[o++] = b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = b64chars[(p[i + 1] & 15) << 2];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
}

/* Decodes base64 text (skipping whitespace) into a new buffer. */
static unsigned char *
b64_decode(const char *s, size_t *outlen)
{
	unsigned char *out = xmalloc(strlen(s) / 4 * 3 + 3);
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (; *s != '\0' && *s != '='; s++) {
		const char *c = strchr(b64chars, *s);

		if (c == NULL || *s == '\0')
			continue;
		acc = (acc << 6) | (unsigned)(c - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return out;
}

/*
 * Returns a new string: s quoted for a POSIX shell (single quotes, with
 * every ' written as '\'' ), safe to paste into any command line.
 */
char *
ssh_shell_quote(const char *s)
{
	size_t n = 3, i;
	char *q, *o;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	q = o = xmalloc(n);
	*o++ = '\'';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = s[i];
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/* The home directory of the real user, from passwd as OpenSSH does. */
static const char *
ssh_home(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return getenv("HOME");
}

/* The login name of the real user (static storage), or "root". */
static const char *
ssh_local_user(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw != NULL && pw->pw_name != NULL ? pw->pw_name : "root";
}

/*
 * Whether the private key file holds an RSA key: its .pub says ssh-rsa,
 * its PEM header says RSA, or the OpenSSH container names ssh-rsa.
 */
static bool
ssh_key_is_rsa(const char *path)
{
	char *pub, *text;
	size_t len;
	bool rsa = false;

	xasprintf(&pub, "%s.pub", path);
	text = local_read_all(pub, 65536, &len);
	free(pub);
	if (text != NULL) {
		rsa = strncmp(text, "ssh-rsa ", 8) == 0;
		free(text);
		return rsa;
	}
	if ((text = local_read_all(path, 65536, &len)) == NULL)
		return false;
	if (strstr(text, "BEGIN RSA PRIVATE KEY") != NULL)
		rsa = true;
	else if (strstr(text, "BEGIN OPENSSH PRIVATE KEY") != NULL) {
		char *b = strchr(text, '\n');
		char *e = strstr(text, "-----END");
		unsigned char *bin;
		size_t n, i;

		if (b != NULL && e != NULL && e > b) {
			*e = '\0';
			bin = b64_decode(b + 1, &n);
			for (i = 0; i + 7 <= n && !rsa; i++)
				rsa = memcmp(bin + i, "ssh-rsa", 7) == 0;
			free(bin);
		}
	}
	free(text);
	return rsa;
}

static const char *
ssh_last_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	if (s == NULL)
		return "no session";
	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg != NULL && *msg != '\0' ? msg : "unknown error";
}

/* ---------------------------------------------------------------------- */
/* Known hosts                                                             */

/*
 * Reads one OpenSSH known_hosts file into the pool's collection, line by
 * line so that one line libssh2 cannot parse (a key type it does not know,
 * @cert-authority) costs that line only.  A missing file is not an error.
 */
static void
kh_read(LIBSSH2_KNOWNHOSTS *kh, const char *path)
{
	char *text, *line, *next;
	size_t len;

	if (path == NULL || (text = local_read_all(path, 64 << 20, &len)) == NULL)
		return;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		size_t n;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#' || line[0] == '@')
			continue;
		(void)libssh2_knownhost_readline(kh, line, n,
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	}
	free(text);
}

/*
 * The pool's collection for the user files files[0..n) (and the global
 * file), read on first use and shared by every host that names the same
 * files.  Returns NULL when libssh2 cannot make one.
 */
static struct kh_set *
kh_set_get(struct ssh_pool *p, char *const *files, size_t n)
{
	struct kh_set *ks;
	size_t i;

	for (ks = p->kh_sets; ks != NULL; ks = ks->next) {
		if (ks->nfiles != n)
			continue;
		for (i = 0; i < n && strcmp(ks->files[i], files[i]) == 0; i++)
			;
		if (i == n)
			return ks;
	}
	ks = xcalloc(1, sizeof *ks);
	if ((ks->kh = libssh2_knownhost_init(p->kh_session)) == NULL) {
		free(ks);
		return NULL;
	}
	ks->files = xcalloc(n + 1, sizeof *ks->files);
	for (i = 0; i < n; i++) {
		ks->files[i] = xstrdup(files[i]);
		kh_read(ks->kh, files[i]);
	}
	ks->nfiles = n;
	kh_read(ks->kh, p->global_known_hosts);
	ks->next = p->kh_sets;
	p->kh_sets = ks;
	return ks;
}

/* The file accept-new appends to and messages name. */
static const char *
kh_user_file(const struct ssh_host *h)
{
	return h->khs != NULL && h->khs->nfiles > 0 ? h->khs->files[0] :
	    h->pool->known_hosts;
}

static int
kh_key_bits(int type, const char **name)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*name = "ssh-rsa";
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*name = "ssh-dss";
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ecdsa-sha2-nistp256";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ecdsa-sha2-nistp384";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ecdsa-sha2-nistp521";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*name = "ssh-ed25519";
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		*name = "unknown";
		return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* The name known_hosts uses for the host: "addr", or "[addr]:port". */
static void
kh_host_name(const struct ssh_host *h, char *buf, size_t len)
{
	if (h->port == 22)
		snprintf(buf, len, "%s", h->address);
	else
		snprintf(buf, len, "[%s]:%u", h->address, h->port);
}

/*
 * Appends the host's key to the user known_hosts file (accept-new) and to
 * the collection.  Returns 0, or -1 with the reason in err.
 */
static int
kh_append(struct ssh_host *h, const char *key, size_t keylen, int bits,
    struct nx_err *err)
{
	struct ssh_pool *p = h->pool;
	struct libssh2_knownhost *entry = NULL;
	char name[300], line[8192];
	size_t outlen = 0;
	int fd;

	kh_host_name(h, name, sizeof name);
	if (libssh2_knownhost_addc(h->khs->kh, name, NULL, key, keylen, NULL, 0,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits,
	    &entry) != 0 || libssh2_knownhost_writeline(h->khs->kh, entry, line,
	    sizeof line, &outlen, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
		nx_err_set(err, "cannot record the key: %s",
		    ssh_last_error(p->kh_session));
		return -1;
	}
	fd = open(kh_user_file(h), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644);
	if (fd < 0 || write(fd, line, outlen) != (ssize_t)outlen) {
		nx_err_set(err, "cannot append to %s: %s", kh_user_file(h),
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Requests and sessions                                                   */

static void host_step(struct ssh_host *);
static void host_start(struct ssh_host *);
static void runner_forget(struct ssh_host *, struct ssh_req *);
static void req_remove(struct ssh_req *);

/* Calls the request's callback once with its result, from the loop. */
static void
req_report(struct ssh_req *r, enum ssh_fail fail, const char *error,
    int status, const char *signal_name)
{
	struct ssh_result res;

	assert(!r->reported);
	r->reported = true;
	memset(&res, 0, sizeof res);
	res.fail = fail;
	res.error = error;
	res.exit_status = status;
	res.exit_signal = signal_name;
	res.out = r->out.p != NULL ? r->out.p : "";
	res.out_len = r->out.len;
	res.out_truncated = r->out.truncated;
	res.err = r->err.p != NULL ? r->err.p : "";
	res.err_len = r->err.len;
	res.err_truncated = r->err.truncated;
	res.duration_ms = (double)(uv_now(r->h->pool->loop) - r->submitted);
	res.started = r->state >= C_EOF;
	r->cb(r->arg, &res);
}

static void
req_free(struct ssh_req *r)
{
	free(r->command);
	free(r->out.p);
	free(r->err.p);
	free(r);
}

/*
 * r has been reported (timed out, cancelled): a queued request just goes,
 * and so does one on a runner (the runner closes).  An open in progress
 * must be finished (libssh2 keeps its state in the session) and is closed
 * when it completes; a running command's channel is closed now.  May free
 * r.
 */
static void
req_withdraw(struct ssh_req *r)
{
	if (r->state == C_QUEUED || r->on_runner)
		req_remove(r);
	else if (r->state == C_EXEC || r->state == C_EOF || r->state == C_READ)
		r->state = C_CLOSE;
}

/* Unlinks r from its host's list (and the active count) and frees it. */
static void
req_remove(struct ssh_req *r)
{
	struct ssh_host *h = r->h;
	struct ssh_req **pp;

	for (pp = &h->reqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (r->state != C_QUEUED && !r->on_runner)
		h->nactive--;
	if (r->on_runner)
		runner_forget(h, r);
	req_free(r);
}

static void
poll_closed(uv_handle_t *handle)
{
	int fd = (int)(intptr_t)handle->data;

	if (fd >= 0)
		close(fd);
	free(handle);
}

static void
slot_release(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;

	if (!h->slot)
		return;
	h->slot = false;
	p->nstartups--;
	while (p->wait_head != NULL && p->nstartups < p->o.max_startups &&
	    !p->closing) {
		struct ssh_host *w = p->wait_head;

		p->wait_head = w->wait_next;
		if (p->wait_head == NULL)
			p->wait_tail = NULL;
		w->wait_next = NULL;
		if (w->state == H_WAIT_SLOT)
			host_start(w);
	}
}

/*
 * Whether r has certainly not started its command: queued, opening its
 * channel, or on a runner that was sent none of it (a line cut short
 * could still run, so a partly written one counts as started).
 */
static bool
req_unstarted(const struct ssh_req *r)
{
	const struct ssh_runner *rn;

	if (!r->on_runner)
		return r->state == C_QUEUED || r->state == C_OPEN;
	for (rn = r->h->runners; rn != NULL; rn = rn->next) {
		if (rn->cur == r)
			return rn->line_off == 0;
	}
	return false;
}

/*
 * Ends the session of h (if any): reports every unreported request with
 * fail/msg (but for those host_lost() keeps), frees the session and
 * channels, closes the socket.  The host goes back to IDLE and reconnects
 * at once if requests remain (kept, or submitted by the callbacks), else
 * on the next exec.
 */
static void
host_teardown(struct ssh_host *h, enum ssh_fail fail, const char *msg)
{
	struct ssh_pool *p = h->pool;
	struct ssh_req *r, *list, *keep = NULL, **kt = &keep;

	if (h->state == H_WAIT_SLOT) {
		struct ssh_host **pp;

		for (pp = &p->wait_head; *pp != NULL; pp = &(*pp)->wait_next) {
			if (*pp == h) {
				*pp = h->wait_next;
				break;
			}
		}
		p->wait_tail = NULL;
		for (pp = &p->wait_head; *pp != NULL; pp = &(*pp)->wait_next)
			p->wait_tail = *pp;
		h->wait_next = NULL;
	}
	/*
	 * Detach the list first: callbacks may submit new requests, which
	 * wait in h->reqs for the new session (h->tearing).  After a lost
	 * connection, requests that had not started are kept for it, once.
	 */
	list = h->reqs;
	h->reqs = NULL;
	h->tearing = true;
	while ((r = list) != NULL) {
		list = r->next;
		if (h->retry_unstarted && !r->reported && !r->retried &&
		    req_unstarted(r)) {
			r->retried = true;
			r->on_runner = false;
			r->ch = NULL;
			r->state = C_QUEUED;
			r->next = NULL;
			*kt = r;
			kt = &r->next;
			continue;
		}
		if (!r->reported)
			req_report(r, fail, msg, -1, NULL);
		req_free(r);
	}
	*kt = h->reqs;
	h->reqs = keep;
	h->tearing = false;
	h->retry_unstarted = h->conn_lost = false;
	h->nactive = 0;
	while (h->runners != NULL) {
		struct ssh_runner *rn = h->runners;

		/* Its channel goes with the session, below. */
		h->runners = rn->next;
		free(rn->line);
		free(rn);
	}
	if (h->gai != NULL) {
		h->gai->data = NULL;    /* its callback frees it */
		h->gai = NULL;
	}
	if (h->agent != NULL) {
		libssh2_agent_disconnect(h->agent);
		libssh2_agent_free(h->agent);
		h->agent = NULL;
	}
	if (h->s != NULL) {
		/* With the socket shut, every send fails at once: no waiting. */
		if (h->fd >= 0)
			shutdown(h->fd, SHUT_RDWR);
		libssh2_session_free(h->s);
		h->s = NULL;
	}
	if (h->poll != NULL) {
		h->poll->data = (void *)(intptr_t)h->fd;
		uv_close((uv_handle_t *)h->poll, poll_closed);
		h->poll = NULL;
	} else if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->poll_events = 0;
	free(h->rsa_refused);
	h->rsa_refused = NULL;
	h->auth_listed = h->agent_done = false;
	h->agent_id = NULL;
	h->ident = 0;
	h->auth_notes[0] = '\0';
	slot_release(h);
	h->state = H_IDLE;
	h->next_keepalive = 0;
	uv_timer_stop(&h->timer);
	/* Requests submitted by the callbacks above start a new session. */
	if (h->reqs != NULL && !p->closing)
		host_start(h);
}

static void host_fail(struct ssh_host *, enum ssh_fail, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The connection of READY host h is gone (an error on the socket, no
 * keepalive acknowledged): the session ends with msg, but its requests
 * that had not started wait for a new session, once (a session that dies
 * while idle is often only seen by the next request).
 */
static void
host_lost(struct ssh_host *h, const char *msg)
{
	h->retry_unstarted = true;
	host_teardown(h, SSH_FAIL_CHANNEL, msg);
}

static void
host_fail(struct ssh_host *h, enum ssh_fail fail, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	host_teardown(h, fail, msg);
}

static void host_poll_cb(uv_poll_t *, int, int);
static void host_timer_cb(uv_timer_t *);
static bool chan_would_block(int);
static bool ssh_error_is_fatal(int);
static bool runner_take(struct ssh_host *, struct ssh_req *);
static void host_keepalive_start(struct ssh_host *);

static void
host_poll_set(struct ssh_host *h, int events)
{
	if (h->poll == NULL || events == h->poll_events)
		return;
	if (events == 0)
		uv_poll_stop(h->poll);
	else
		uv_poll_start(h->poll, events, host_poll_cb);
	h->poll_events = events;
}

/* Arms the host's timer at its earliest deadline (phase or request). */
static void
host_timer_set(struct ssh_host *h)
{
	uint64_t now = uv_now(h->pool->loop), due = UINT64_MAX;
	struct ssh_req *r;

	if (h->state >= H_RESOLVE && h->state <= H_AUTH)
		due = h->phase_deadline;
	for (r = h->reqs; r != NULL; r = r->next) {
		if (!r->reported && r->deadline < due)
			due = r->deadline;
	}
	if (h->state == H_READY && h->reqs == NULL && h->pool->o.idle_ms > 0 &&
	    h->idle_since + h->pool->o.idle_ms < due)
		due = h->idle_since + h->pool->o.idle_ms;
	if (h->state == H_READY && h->next_keepalive != 0 &&
	    h->next_keepalive < due)
		due = h->next_keepalive;
	if (due == UINT64_MAX) {
		uv_timer_stop(&h->timer);
		return;
	}
	uv_timer_start(&h->timer, host_timer_cb, due > now ? due - now : 0, 0);
}

static const char *
host_phase_name(enum host_state s)
{
	switch (s) {
	case H_WAIT_SLOT:
		return "waiting for a connection slot";
	case H_RESOLVE:
		return "resolving the address";
	case H_CONNECT:
		return "connecting";
	case H_HANDSHAKE:
		return "in the SSH handshake";
	case H_AUTH:
		return "authenticating";
	case H_READY:
		return "running the command";
	default:
		return "idle";
	}
}

static void
host_timer_cb(uv_timer_t *t)
{
	struct ssh_host *h = t->data;
	uint64_t now = uv_now(h->pool->loop);
	struct ssh_req *r, *next;
	char msg[256];

	if (h->state >= H_RESOLVE && h->state <= H_AUTH &&
	    h->phase_deadline <= now) {
		host_fail(h, SSH_FAIL_TIMEOUT, "timed out %s (limit %.1f s)",
		    host_phase_name(h->state), (h->state <= H_CONNECT ?
		    h->connect_ms : h->pool->o.handshake_ms) / 1000.0);
		return;
	}
	for (r = h->reqs; r != NULL; r = next) {
		next = r->next;
		if (r->reported || r->deadline > now)
			continue;
		snprintf(msg, sizeof msg, "timed out after %.1f s %s",
		    (double)(r->deadline - r->submitted) / 1000.0,
		    host_phase_name(h->state));
		req_report(r, SSH_FAIL_TIMEOUT, msg, -1, NULL);
		req_withdraw(r);
	}
	if (h->state == H_WAIT_SLOT && h->reqs == NULL) {
		host_teardown(h, SSH_FAIL_TIMEOUT, "timed out");
		return;
	}
	if (h->state == H_READY && h->reqs == NULL && h->pool->o.idle_ms > 0 &&
	    h->idle_since + h->pool->o.idle_ms <= now) {
		/* A goodbye if the socket takes it now; no waiting for it. */
		(void)libssh2_session_disconnect(h->s, "idle");
		host_teardown(h, SSH_FAIL_CLOSED, "idle");
		return;
	}
	if (h->state == H_READY && h->next_keepalive != 0 &&
	    h->next_keepalive <= now) {
		int rc, secs = 0;

		/* EAGAIN or BAD_USE: another packet is half-sent, which
		 * keeps the connection busy anyway; try again next time. */
		rc = libssh2_keepalive_send(h->s, &secs);
		if (rc != 0 && !chan_would_block(rc)) {
			snprintf(msg, sizeof msg, "connection to %s lost: "
			    "keepalive: %s", h->address, ssh_last_error(h->s));
			host_lost(h, msg);
			return;
		}
		h->next_keepalive = now + h->pool->o.keepalive_ms;
	}
	host_step(h);
}

static void
host_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct ssh_host *h = req->data;
	struct addrinfo *ai;
	int fd, rc;

	free(req);
	if (h == NULL) {
		uv_freeaddrinfo(res);
		return;
	}
	h->gai = NULL;
	if (status != 0 || res == NULL) {
		uv_freeaddrinfo(res);
		host_fail(h, SSH_FAIL_RESOLVE, "cannot resolve %s: %s",
		    h->address, uv_strerror(status));
		return;
	}
	ai = res;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		uv_freeaddrinfo(res);
		host_fail(h, SSH_FAIL_CONNECT, "socket: %s", strerror(errno));
		return;
	}
	h->fd = fd;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	uv_freeaddrinfo(res);
	if (rc != 0 && errno != EINPROGRESS) {
		host_fail(h, SSH_FAIL_CONNECT, "connect to %s port %u: %s",
		    h->address, h->port, strerror(errno));
		return;
	}
	h->poll = xcalloc(1, sizeof *h->poll);
	if (uv_poll_init_socket(h->pool->loop, h->poll, fd) != 0) {
		free(h->poll);
		h->poll = NULL;
		host_fail(h, SSH_FAIL_CONNECT, "cannot poll the socket");
		return;
	}
	h->poll->data = h;
	h->state = H_CONNECT;
	host_poll_set(h, UV_WRITABLE);
}

/* Begins a session for h: takes a startup slot (or queues), then resolves. */
static void
host_start(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;
	struct sockaddr_storage ss;
	char portstr[8];
	struct addrinfo hints;

	assert(h->state == H_IDLE || h->state == H_WAIT_SLOT);
	if (!h->slot && p->nstartups >= p->o.max_startups) {
		if (h->state != H_WAIT_SLOT) {
			h->state = H_WAIT_SLOT;
			if (p->wait_tail != NULL)
				p->wait_tail->wait_next = h;
			else
				p->wait_head = h;
			p->wait_tail = h;
		}
		host_timer_set(h);
		return;
	}
	h->slot = true;
	p->nstartups++;
	h->state = H_RESOLVE;
	h->phase_deadline = uv_now(p->loop) + h->connect_ms;
	host_timer_set(h);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof portstr, "%u", h->port);
	/* Address literals skip the resolver thread pool. */
	if (uv_ip4_addr(h->address, h->port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(h->address, h->port, (struct sockaddr_in6 *)&ss) == 0)
		hints.ai_flags = AI_NUMERICHOST;
	h->gai = xcalloc(1, sizeof *h->gai);
	h->gai->data = h;
	if (hints.ai_flags & AI_NUMERICHOST) {
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(h->address, portstr, &hints, &res);
		uv_getaddrinfo_t *g = h->gai;

		host_gai_cb(g, rc == 0 ? 0 : UV_EINVAL, rc == 0 ? res : NULL);
		return;
	}
	if (uv_getaddrinfo(p->loop, h->gai, host_gai_cb, h->address, portstr,
	    &hints) != 0) {
		free(h->gai);
		h->gai = NULL;
		host_fail(h, SSH_FAIL_RESOLVE, "cannot resolve %s", h->address);
	}
}

/*
 * Tells the pool's owner (opts.refused) that the host's key was refused,
 * once per host and key: a host retried every minute is reported again
 * only when it shows another key.
 */
static void
host_refused(struct ssh_host *h, const char *type, const char *fp,
    bool changed, const char *msg)
{
	struct ssh_pool *p = h->pool;
	struct ssh_refusal ev;
	char id[sizeof h->refused];

	if (p->o.refused == NULL)
		return;
	snprintf(id, sizeof id, "%c %s %s", changed ? 'c' : 'u', type, fp);
	if (strcmp(id, h->refused) == 0)
		return;
	snprintf(h->refused, sizeof h->refused, "%s", id);
	memset(&ev, 0, sizeof ev);
	ev.address = h->address;
	ev.port = h->port;
	ev.user = h->user;
	ev.key_type = type;
	ev.fingerprint = fp;
	ev.changed = changed;
	ev.known_hosts = kh_user_file(h);
	ev.message = msg;
	p->o.refused(p->o.warn_arg, &ev);
}

/*
 * Checks the server's host key against the known hosts.  Returns 0 when
 * it is known (or newly accepted under accept-new), else fails the host
 * with a message that says what to do, and returns -1.
 */
static int
host_check_key(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;
	struct libssh2_knownhost *found = NULL;
	const char *key, *tname, *hash;
	char name[300], fp[80], b64[64], msg[1024];
	struct nx_err err;
	size_t keylen;
	int type, bits, rc;

	key = libssh2_session_hostkey(h->s, &keylen, &type);
	if (key == NULL) {
		host_fail(h, SSH_FAIL_HOSTKEY, "the server sent no host key");
		return -1;
	}
	bits = kh_key_bits(type, &tname);
	hash = libssh2_hostkey_hash(h->s, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash != NULL) {
		b64_encode((const unsigned char *)hash, 32, b64, false);
		snprintf(fp, sizeof fp, "SHA256:%s", b64);
	} else
		snprintf(fp, sizeof fp, "(no fingerprint)");
	kh_host_name(h, name, sizeof name);
	rc = libssh2_knownhost_checkp(h->khs->kh, h->address, h->port, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits,
	    &found);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		snprintf(msg, sizeof msg, "host key for %s has CHANGED "
		    "(now %s %s): refusing to connect; this can be an attack "
		    "(man in the middle) or a reinstalled host; if the change "
		    "is expected, remove the old key with "
		    "ssh-keygen -R '%s' -f %s and connect again", name, tname,
		    fp, name, kh_user_file(h));
		host_refused(h, tname, fp, true, msg);
		host_fail(h, SSH_FAIL_HOSTKEY, "%s", msg);
		return -1;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (h->strict == SSH_STRICT_ACCEPT_NEW ||
		    h->strict == SSH_STRICT_NO) {
			if (kh_append(h, key, keylen, bits, &err) != 0) {
				host_fail(h, SSH_FAIL_HOSTKEY, "host key for "
				    "%s (%s %s) not recorded: %s", name, tname,
				    fp, err.msg);
				return -1;
			}
			if (p->o.warn != NULL) {
				snprintf(msg, sizeof msg, "%s: added %s key %s "
				    "to %s (accept-new)", name, tname, fp,
				    kh_user_file(h));
				p->o.warn(p->o.warn_arg, msg);
			}
			return 0;
		}
		snprintf(msg, sizeof msg, "host key for %s is not known "
		    "(%s %s): refusing to connect (strict host key checking); "
		    "verify the fingerprint and add the key to %s (e.g. "
		    "ssh-keyscan -p %u -t ed25519 %s >> %s), or run with "
		    "--accept-new to trust keys of new hosts on first use",
		    name, tname, fp, kh_user_file(h), h->port, h->address,
		    kh_user_file(h));
		host_refused(h, tname, fp, false, msg);
		host_fail(h, SSH_FAIL_HOSTKEY, "%s", msg);
		return -1;
	default:
		host_fail(h, SSH_FAIL_HOSTKEY, "cannot check the host key of "
		    "%s: %s", name, ssh_last_error(p->kh_session));
		return -1;
	}
}

/* Appends a note about why an identity could not be used (for the error). */
static void
auth_note(struct ssh_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
auth_note(struct ssh_host *h, const char *fmt, ...)
{
	size_t n = strlen(h->auth_notes);
	va_list ap;

	if (n > 0 && n + 3 < sizeof h->auth_notes) {
		memcpy(h->auth_notes + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(h->auth_notes + n, sizeof h->auth_notes - n, fmt, ap);
	va_end(ap);
}

/*
 * One step of public key authentication: agent identities, then identity
 * files.  Returns 0 when authenticated, 1 to wait (EAGAIN), -1 when the
 * host has been failed.
 */
static int
host_auth(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;
	unsigned ulen = (unsigned)strlen(h->user);
	const char *sock;
	int rc;

	if (!h->auth_listed) {
		char *list = libssh2_userauth_list(h->s, h->user, ulen);

		if (list == NULL) {
			if (libssh2_userauth_authenticated(h->s))
				return 0;
			if (libssh2_session_last_errno(h->s) ==
			    LIBSSH2_ERROR_EAGAIN)
				return 1;
			host_fail(h, SSH_FAIL_AUTH, "%s@%s: cannot list "
			    "authentication methods: %s", h->user, h->address,
			    ssh_last_error(h->s));
			return -1;
		}
		if (strstr(list, "publickey") == NULL) {
			host_fail(h, SSH_FAIL_AUTH, "%s@%s: the server offers "
			    "no public key authentication (only %s)", h->user,
			    h->address, list);
			return -1;
		}
		h->auth_listed = true;
	}

	sock = getenv("SSH_AUTH_SOCK");
	if (!h->agent_done && (p->o.no_agent || h->identities_only ||
	    sock == NULL || *sock == '\0'))
		h->agent_done = true;
	if (!h->agent_done) {
		if (h->agent == NULL) {
			h->agent = libssh2_agent_init(h->s);
			if (h->agent == NULL ||
			    libssh2_agent_connect(h->agent) != 0 ||
			    libssh2_agent_list_identities(h->agent) != 0) {
				auth_note(h, "ssh-agent not usable");
				h->agent_done = true;
			} else if (libssh2_agent_get_identity(h->agent,
			    &h->agent_id, NULL) != 0)
				h->agent_done = true;
		}
		while (!h->agent_done) {
			rc = libssh2_agent_userauth(h->agent, h->user,
			    h->agent_id);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 1;
			if (rc == 0)
				return 0;
			if (libssh2_agent_get_identity(h->agent, &h->agent_id,
			    h->agent_id) != 0) {
				auth_note(h, "ssh-agent keys refused");
				h->agent_done = true;
			}
		}
	}

	/* --identity, else the host's IdentityFiles, else the defaults. */
	for (; h->ident < h->nidents; h->ident++) {
		bool explicit = h->idents_explicit;
		const char *path = h->idents[h->ident];

		if (access(path, R_OK) != 0) {
			if (explicit)
				auth_note(h, "%s: %s", path, strerror(errno));
			continue;
		}
		rc = libssh2_userauth_publickey_fromfile_ex(h->s, h->user,
		    ulen, NULL, path, NULL);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 1;
		if (rc == 0)
			return 0;
		if (rc == LIBSSH2_ERROR_FILE) {
			auth_note(h, "%s: cannot load the key (a passphrase-"
			    "protected key must be loaded into ssh-agent)",
			    path);
			continue;
		}
		if (ssh_key_is_rsa(path) && h->rsa_refused == NULL)
			h->rsa_refused = xstrdup(path);
		else
			auth_note(h, "%s: refused", path);
	}
	if (h->rsa_refused != NULL) {
		host_fail(h, SSH_FAIL_AUTH, "%s@%s: permission denied "
		    "(publickey): the server refused the RSA key %s; this "
		    "build's libssh2 (%s) can only sign with ssh-rsa (SHA-1), "
		    "not rsa-sha2-256/512, which OpenSSH 8.8 and later "
		    "require; use an ed25519 key instead (ssh-keygen -t "
		    "ed25519) and add its .pub to the host's authorized_keys%s%s",
		    h->user, h->address, h->rsa_refused,
		    libssh2_version(0), h->auth_notes[0] ? "; also: " : "",
		    h->auth_notes);
		return -1;
	}
	host_fail(h, SSH_FAIL_AUTH, "%s@%s: permission denied (publickey): no "
	    "key was accepted%s%s", h->user, h->address,
	    h->auth_notes[0] ? ": " : "", h->auth_notes[0] ? h->auth_notes :
	    (h->nidents == 0 ? ": no identity file and no ssh-agent" : ""));
	return -1;
}

/*
 * Whether a channel call must simply be repeated later: EAGAIN, or
 * BAD_USE, which libssh2 returns when another channel's packet is still
 * half-sent on the socket (that channel's own retry, in the same pass,
 * finishes it).
 */
static bool
chan_would_block(int rc)
{
	return rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE;
}

/*
 * Advances one request's channel as far as it goes without blocking.
 * Returns 1 if it made progress, 0 if it waits; sets *dirs from libssh2
 * when it waits.  May free r (when its channel is freed).
 */
static int
req_step(struct ssh_req *r, int *dirs)
{
	struct ssh_host *h = r->h;
	struct ssh_pool *p = h->pool;
	char buf[SSH_READ_CHUNK];
	int progress = 0, rc;
	ssize_t n;

	if (r->on_runner)
		return 0;               /* runner_step() drives it */
	for (;;) {
		switch (r->state) {
		case C_QUEUED:
			if (r->runner_ok && runner_take(h, r))
				return 1;
			if (h->nactive >= p->o.max_channels)
				return progress;
			h->nactive++;
			r->state = C_OPEN;
			progress = 1;
			/* FALLTHROUGH */
		case C_OPEN:
			r->ch = libssh2_channel_open_session(h->s);
			if (r->ch == NULL) {
				rc = libssh2_session_last_errno(h->s);
				if (chan_would_block(rc))
					goto wait;
				if (ssh_error_is_fatal(rc) && !r->reported) {
					/* The connection is gone: host_step()
					 * ends the session; r waits for the
					 * next one (host_lost). */
					h->conn_lost = true;
					return progress;
				}
				if (!r->reported) {
					char msg[512];

					snprintf(msg, sizeof msg, "cannot open a "
					    "channel: %s", ssh_last_error(h->s));
					req_report(r, SSH_FAIL_CHANNEL, msg, -1,
					    NULL);
				}
				req_remove(r);
				return 1;
			}
			if (r->reported) {
				r->state = C_CLOSE;
				break;
			}
			r->state = C_EXEC;
			progress = 1;
			/* FALLTHROUGH */
		case C_EXEC:
			rc = libssh2_channel_exec(r->ch, r->command);
			if (chan_would_block(rc))
				goto wait;
			if (rc != 0) {
				char msg[512];

				snprintf(msg, sizeof msg, "cannot start the "
				    "command: %s", ssh_last_error(h->s));
				if (!r->reported)
					req_report(r, SSH_FAIL_CHANNEL, msg, -1,
					    NULL);
				r->state = C_CLOSE;
				break;
			}
			r->state = C_EOF;
			progress = 1;
			/* FALLTHROUGH */
		case C_EOF:
			/* As `ssh -n`: a command that reads its standard
			 * input gets end-of-file, not a wait until timeout. */
			rc = libssh2_channel_send_eof(r->ch);
			if (chan_would_block(rc))
				goto wait;
			r->state = C_READ;
			progress = 1;
			/* FALLTHROUGH */
		case C_READ: {
			bool again = false;

			while ((n = libssh2_channel_read_ex(r->ch, 0, buf,
			    sizeof buf)) > 0) {
				if (r->data_cb != NULL && !r->reported)
					r->data_cb(r->arg, buf, (size_t)n);
				else
					buf_add(&r->out, buf, (size_t)n,
					    p->o.output_cap);
				progress = 1;
			}
			if (chan_would_block((int)n))
				again = true;
			else if (n < 0)
				goto chan_error;
			while ((n = libssh2_channel_read_ex(r->ch,
			    SSH_EXTENDED_DATA_STDERR, buf, sizeof buf)) > 0) {
				buf_add(&r->err, buf, (size_t)n, p->o.output_cap);
				progress = 1;
			}
			if (chan_would_block((int)n))
				again = true;
			else if (n < 0)
				goto chan_error;
			if (!libssh2_channel_eof(r->ch)) {
				if (again)
					goto wait;
				break;
			}
			r->state = C_CLOSE;
			progress = 1;
			break;
		}
		case C_CLOSE:
			rc = libssh2_channel_close(r->ch);
			if (chan_would_block(rc))
				goto wait;
			r->state = C_WAIT_CLOSED;
			progress = 1;
			/* FALLTHROUGH */
		case C_WAIT_CLOSED:
			rc = libssh2_channel_wait_closed(r->ch);
			if (chan_would_block(rc))
				goto wait;
			if (!r->reported) {
				char *sig = NULL;
				size_t siglen = 0;
				int status;

				status = libssh2_channel_get_exit_status(r->ch);
				libssh2_channel_get_exit_signal(r->ch, &sig,
				    &siglen, NULL, NULL, NULL, NULL);
				req_report(r, SSH_OK, NULL,
				    sig != NULL ? -1 : status, sig);
				if (sig != NULL)
					libssh2_free(h->s, sig);
			}
			r->state = C_FREE;
			progress = 1;
			/* FALLTHROUGH */
		case C_FREE:
			rc = libssh2_channel_free(r->ch);
			if (chan_would_block(rc))
				goto wait;
			req_remove(r);
			return 1;
		}
	}
chan_error:
	if (!r->reported) {
		char msg[512];

		snprintf(msg, sizeof msg, "reading the output: %s",
		    ssh_last_error(h->s));
		req_report(r, SSH_FAIL_CHANNEL, msg, -1, NULL);
	}
	r->state = C_CLOSE;
	return 1;
wait:
	*dirs |= libssh2_session_block_directions(h->s);
	return progress;
}

/* ---------------------------------------------------------------------- */
/* The runner: commands on one long-lived shell (doc/ssh.md)               */

/*
 * The command the runner's channel execs, through the user's login shell
 * (any shell takes it): a greeting, so that a server that runs something
 * else (ForceCommand, no /bin/sh) is told apart before any command is
 * sent, then the shell that reads the framed commands.
 */
#define RUNNER_COMMAND "echo nexusctl-runner; exec /bin/sh"
#define RUNNER_GREETING "nexusctl-runner\n"

/* The runner in use on h (it may be starting), or NULL. */
static struct ssh_runner *
runner_active(struct ssh_host *h)
{
	struct ssh_runner *rn = h->runners;

	return rn != NULL && rn->state < R_CLOSE && !rn->closing ? rn : NULL;
}

/* Unlinks rn from its host, frees it and gives back its channel slot. */
static void
runner_free(struct ssh_runner *rn)
{
	struct ssh_host *h = rn->h;
	struct ssh_runner **pp;

	for (pp = &h->runners; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rn) {
			*pp = rn->next;
			break;
		}
	}
	h->nactive--;
	free(rn->line);
	free(rn);
}

/*
 * Gives r to h's runner if the runner can take it now (it has no command),
 * starting a runner when h has none and a channel slot is free.  Returns
 * whether r is now the runner's; if not, r takes a channel of its own.
 */
static bool
runner_take(struct ssh_host *h, struct ssh_req *r)
{
	struct ssh_runner *rn = runner_active(h);
	struct nx_err err;

	if (h->runner_broken)
		return false;
	if (rn == NULL) {
		if (h->nactive >= h->pool->o.max_channels)
			return false;
		rn = xcalloc(1, sizeof *rn);
		rn->h = h;
		rn->state = R_OPEN;
		rn->next = h->runners;
		h->runners = rn;
		h->nactive++;
	}
	if (rn->cur != NULL)
		return false;
	free(rn->line);
	if ((rn->line = ssh_frame_start(&rn->frame, r->command, &err)) == NULL)
		return false;
	rn->line_len = strlen(rn->line);
	rn->line_off = 0;
	rn->cur = r;
	r->on_runner = true;
	r->state = C_EXEC;
	return true;
}

/*
 * Closes rn as soon as its channel allows, behind the host's other
 * runners, so that the next command starts a new one.
 */
static void
runner_close(struct ssh_runner *rn)
{
	struct ssh_host *h = rn->h;
	struct ssh_runner **pp;

	if (rn->state == R_GREET || rn->state == R_READY)
		rn->state = R_CLOSE;
	else if (rn->state < R_GREET)
		rn->closing = true;
	if (rn->next == NULL)
		return;
	for (pp = &h->runners; *pp != rn; pp = &(*pp)->next)
		;
	*pp = rn->next;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = rn;
	rn->next = NULL;
}

/*
 * r, a runner's command, is going (answered, or timed out and reported):
 * a runner still busy with it is closed, since its shell stays busy for as
 * long as the command runs.
 */
static void
runner_forget(struct ssh_host *h, struct ssh_req *r)
{
	struct ssh_runner *rn;

	for (rn = h->runners; rn != NULL; rn = rn->next) {
		if (rn->cur == r) {
			rn->cur = NULL;
			runner_close(rn);
			return;
		}
	}
}

/*
 * Hands rn's command back to the channel path: the runner could not
 * start, so the command was never sent and may run elsewhere.
 */
static void
runner_bounce(struct ssh_runner *rn)
{
	struct ssh_req *r = rn->cur;

	if (r == NULL)
		return;
	rn->cur = NULL;
	r->on_runner = false;
	r->runner_ok = false;
	r->state = C_QUEUED;
}

/*
 * The host has no usable runner (the shell did not greet: ForceCommand,
 * no /bin/sh): commands go back to channels, now and for this host.
 */
static void
runner_broken(struct ssh_runner *rn, const char *why)
{
	struct ssh_host *h = rn->h;
	struct ssh_pool *p = h->pool;
	char msg[512];

	h->runner_broken = true;
	runner_bounce(rn);
	runner_close(rn);
	if (p->o.warn != NULL) {
		snprintf(msg, sizeof msg, "%s@%s: no command shell (%s); "
		    "commands run on channels of their own", h->user,
		    h->address, why);
		p->o.warn(p->o.warn_arg, msg);
	}
}

/* rn's shell ended or failed: its command, if any, fails with why. */
static void
runner_ended(struct ssh_runner *rn, const char *why)
{
	struct ssh_req *r = rn->cur;
	char msg[512];

	if (rn->state == R_GREET) {
		runner_broken(rn, why);
		return;
	}
	if (r != NULL && rn->line_off == 0) {
		/* It ended before it was sent anything (it died idle):
		 * the command was not run; it takes a channel. */
		runner_bounce(rn);
		runner_close(rn);
		return;
	}
	rn->cur = NULL;
	runner_close(rn);
	if (r != NULL) {
		snprintf(msg, sizeof msg, "the command shell on %s ended "
		    "before the command did: %s", rn->h->address, why);
		req_report(r, SSH_FAIL_CHANNEL, msg, -1, NULL);
		req_remove(r);
	}
}

static void
runner_emit_out(void *arg, const char *buf, size_t len)
{
	struct ssh_req *r = arg;

	buf_add(&r->out, buf, len, r->h->pool->o.output_cap);
}

static void
runner_emit_err(void *arg, const char *buf, size_t len)
{
	struct ssh_req *r = arg;

	buf_add(&r->err, buf, len, r->h->pool->o.output_cap);
}

/*
 * Takes n bytes rn's shell wrote on one stream: the greeting, or the
 * current command's frame (what comes outside a frame is dropped).  Ends
 * the command when both its streams have ended.
 */
static void
runner_feed(struct ssh_runner *rn, bool err, const char *buf, size_t n)
{
	struct ssh_req *r = rn->cur;
	size_t keep, len = strlen(RUNNER_GREETING);

	if (rn->state == R_GREET) {
		if (err)
			return;
		/* Keep the tail: rc files may print before the greeting. */
		if (n >= sizeof rn->greet) {
			buf += n - (sizeof rn->greet - 1);
			n = sizeof rn->greet - 1;
		}
		if (rn->greet_len + n >= sizeof rn->greet) {
			keep = sizeof rn->greet - 1 - n;
			memmove(rn->greet, rn->greet + rn->greet_len - keep,
			    keep);
			rn->greet_len = keep;
		}
		memcpy(rn->greet + rn->greet_len, buf, n);
		rn->greet_len += n;
		if (rn->greet_len >= len && memcmp(rn->greet + rn->greet_len -
		    len, RUNNER_GREETING, len) == 0)
			rn->state = R_READY;
		return;
	}
	if (r == NULL || rn->line_off < rn->line_len)
		return;
	(void)ssh_frame_feed(&rn->frame, err, buf, n, err ? runner_emit_err :
	    runner_emit_out, r);
	if (!ssh_frame_done(&rn->frame))
		return;
	rn->cur = NULL;
	rn->served++;
	req_report(r, SSH_OK, NULL, ssh_frame_status(&rn->frame), NULL);
	req_remove(r);
}

/*
 * Reads both streams of rn's shell, then writes its command, as far as
 * they go: reading first, so that a shell that died while idle is seen
 * before a command is sent to it.  Returns 1 on progress; sets *again
 * when libssh2 would block.
 */
static int
runner_io(struct ssh_runner *rn, bool *again)
{
	struct ssh_host *h = rn->h;
	char buf[SSH_READ_CHUNK], msg[256];
	int progress = 0, stream;
	ssize_t n;

	for (stream = 0; stream <= 1; stream++) {
		while ((n = libssh2_channel_read_ex(rn->ch, stream ?
		    SSH_EXTENDED_DATA_STDERR : 0, buf, sizeof buf)) > 0) {
			runner_feed(rn, stream == 1, buf, (size_t)n);
			progress = 1;
			if (rn->state >= R_CLOSE)
				return 1;
		}
		if (chan_would_block((int)n))
			*again = true;
		else if (ssh_error_is_fatal((int)n)) {
			h->conn_lost = true;            /* host_lost */
			return 1;
		} else if (n < 0) {
			snprintf(msg, sizeof msg, "reading: %s",
			    ssh_last_error(h->s));
			runner_ended(rn, msg);
			return 1;
		}
	}
	if (libssh2_channel_eof(rn->ch)) {
		runner_ended(rn, rn->state == R_GREET ? "it exited at once" :
		    "it exited");
		return 1;
	}
	if (rn->state == R_READY && rn->cur != NULL &&
	    rn->line_off < rn->line_len) {
		n = libssh2_channel_write(rn->ch, rn->line + rn->line_off,
		    rn->line_len - rn->line_off);
		if (n > 0) {
			rn->line_off += (size_t)n;
			if (rn->line_off == rn->line_len)
				rn->cur->state = C_READ;
			progress = 1;
		} else if (chan_would_block((int)n))
			*again = true;
		else if (ssh_error_is_fatal((int)n)) {
			h->conn_lost = true;
			return 1;
		} else {
			snprintf(msg, sizeof msg, "writing the command: %s",
			    ssh_last_error(h->s));
			runner_ended(rn, msg);
			return 1;
		}
	}
	return progress;
}

/*
 * Advances runner rn as far as it goes without blocking: opening, the
 * shell's start and greeting, its command, closing.  Returns 1 on
 * progress; sets *dirs from libssh2 when it waits.  May free rn.
 */
static int
runner_step(struct ssh_runner *rn, int *dirs)
{
	struct ssh_host *h = rn->h;
	int progress = 0, rc;
	bool again;
	char msg[256];

	for (;;) {
		switch (rn->state) {
		case R_OPEN:
			rn->ch = libssh2_channel_open_session(h->s);
			if (rn->ch == NULL) {
				rc = libssh2_session_last_errno(h->s);
				if (chan_would_block(rc))
					goto wait;
				if (ssh_error_is_fatal(rc)) {
					h->conn_lost = true;    /* host_lost */
					return progress;
				}
				/* No channel: the command takes the usual
				 * path, which reports the server's refusal. */
				runner_bounce(rn);
				runner_free(rn);
				return 1;
			}
			rn->state = rn->closing ? R_CLOSE : R_START;
			progress = 1;
			break;
		case R_START:
			rc = libssh2_channel_exec(rn->ch, RUNNER_COMMAND);
			if (chan_would_block(rc))
				goto wait;
			if (ssh_error_is_fatal(rc)) {
				h->conn_lost = true;
				return progress;
			}
			if (rc != 0) {
				snprintf(msg, sizeof msg, "cannot start it: %s",
				    ssh_last_error(h->s));
				rn->state = R_CLOSE;
				runner_broken(rn, msg);
				break;
			}
			rn->state = rn->closing ? R_CLOSE : R_GREET;
			progress = 1;
			break;
		case R_GREET:
		case R_READY: {
			enum runner_state before = rn->state;

			again = false;
			if (runner_io(rn, &again))
				progress = 1;
			if (rn->state != before)
				break;
			if (again)
				goto wait;
			return progress;
		}
		case R_CLOSE:
			/* Waits for sshd's close, which comes when the shell
			 * and whatever holds its output have ended. */
			rc = libssh2_channel_close(rn->ch);
			if (chan_would_block(rc))
				goto wait;
			rn->state = R_WAIT_CLOSED;
			progress = 1;
			/* FALLTHROUGH */
		case R_WAIT_CLOSED:
			rc = libssh2_channel_wait_closed(rn->ch);
			if (chan_would_block(rc))
				goto wait;
			rn->state = R_FREE;
			progress = 1;
			/* FALLTHROUGH */
		case R_FREE:
			rc = libssh2_channel_free(rn->ch);
			if (chan_would_block(rc))
				goto wait;
			runner_bounce(rn);
			runner_free(rn);
			return 1;
		}
	}
wait:
	*dirs |= libssh2_session_block_directions(h->s);
	return progress;
}

/*
 * Turns on keepalives for a session that just became READY: an SSH
 * global request every keepalive_ms without asking for a reply (libssh2
 * has no API to consume replies to global requests, so they would pile
 * up in the session), and TCP_USER_TIMEOUT at keepalive_count intervals:
 * a host that stops acknowledging them (powered off, cut off) fails the
 * session with ETIMEDOUT, as OpenSSH's ServerAliveCountMax would.
 */
static void
host_keepalive_start(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;
	unsigned int ut;

	if (p->o.keepalive_ms == 0)
		return;
	libssh2_keepalive_config(h->s, 0, (p->o.keepalive_ms + 999) / 1000);
	ut = p->o.keepalive_ms * p->o.keepalive_count;
	(void)setsockopt(h->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
	h->next_keepalive = uv_now(p->loop) + p->o.keepalive_ms;
}

/* Whether a session error is the connection itself going away. */
static bool
ssh_error_is_fatal(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    rc == LIBSSH2_ERROR_TIMEOUT;
}

/*
 * Advances the host's session as far as it goes, then sets the poll
 * directions and the timer.  Re-entrant calls (from a callback) are
 * folded into the running one.
 */
static void
host_step(struct ssh_host *h)
{
	struct ssh_pool *p = h->pool;
	int dirs, rc = 0, events;

	if (h->in_step) {
		h->again = true;
		return;
	}
	h->in_step = true;
again:
	h->again = false;
	dirs = 0;
	switch (h->state) {
	case H_IDLE:
	case H_WAIT_SLOT:
	case H_RESOLVE:
	case H_CONNECT:
		break;
	case H_HANDSHAKE:
		rc = libssh2_session_handshake(h->s, h->fd);
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			dirs = libssh2_session_block_directions(h->s);
			break;
		}
		if (rc != 0) {
			host_fail(h, SSH_FAIL_HANDSHAKE, "SSH handshake with "
			    "%s port %u failed: %s", h->address, h->port,
			    ssh_last_error(h->s));
			break;
		}
		if (host_check_key(h) != 0)
			break;
		h->state = H_AUTH;
		h->phase_deadline = uv_now(p->loop) + p->o.handshake_ms;
		/* FALLTHROUGH */
	case H_AUTH:
		rc = host_auth(h);
		if (rc == 1) {
			dirs = libssh2_session_block_directions(h->s);
			break;
		}
		if (rc < 0)
			break;
		if (h->agent != NULL) {
			libssh2_agent_disconnect(h->agent);
			libssh2_agent_free(h->agent);
			h->agent = NULL;
		}
		h->state = H_READY;
		h->idle_since = uv_now(p->loop);
		host_keepalive_start(h);
		slot_release(h);
		/* FALLTHROUGH */
	case H_READY: {
		int progress;

		do {
			struct ssh_req *r, *next;
			struct ssh_runner *rn, *rnext;

			progress = 0;
			dirs = 0;
			for (rn = h->runners; rn != NULL; rn = rnext) {
				rnext = rn->next;
				progress |= runner_step(rn, &dirs);
				if (h->state != H_READY || h->conn_lost)
					break;
			}
			if (h->state != H_READY || h->conn_lost)
				break;
			for (r = h->reqs; r != NULL; r = next) {
				next = r->next;
				progress |= req_step(r, &dirs);
				if (h->state != H_READY || h->conn_lost)
					break;
			}
			rc = libssh2_session_last_errno(h->s);
		} while (progress && h->state == H_READY && h->s != NULL &&
		    !h->conn_lost);
		if (h->state == H_READY && h->s != NULL &&
		    (h->conn_lost || ssh_error_is_fatal(rc))) {
			char msg[512];

			snprintf(msg, sizeof msg, "connection to %s lost: %s",
			    h->address, ssh_last_error(h->s));
			host_lost(h, msg);
			break;
		}
		if (h->reqs == NULL)
			h->idle_since = uv_now(p->loop);
		break;
	}
	}
	if (h->again && !p->closing)
		goto again;
	h->in_step = false;

	if (h->state == H_HANDSHAKE || h->state == H_AUTH ||
	    (h->state == H_READY && h->reqs != NULL)) {
		events = UV_READABLE;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			events |= UV_WRITABLE;
		host_poll_set(h, events);
	} else if (h->state == H_READY) {
		/* Idle: only watch for the server closing the connection. */
		host_poll_set(h, UV_READABLE);
	}
	if (h->state != H_IDLE)
		host_timer_set(h);
}

static void
host_poll_cb(uv_poll_t *poll, int status, int events)
{
	struct ssh_host *h = poll->data;
	int err = 0;
	socklen_t len = sizeof err;

	(void)events;
	if (h->state == H_CONNECT) {
		/* The socket's own error says why (libuv only sees EPOLLERR). */
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0 || status != 0) {
			host_fail(h, SSH_FAIL_CONNECT, "connect to %s port %u: %s",
			    h->address, h->port, err != 0 ? strerror(err) :
			    uv_strerror(status));
			return;
		}
		h->s = libssh2_session_init();
		libssh2_session_set_blocking(h->s, 0);
		h->state = H_HANDSHAKE;
		h->phase_deadline = uv_now(h->pool->loop) +
		    h->pool->o.handshake_ms;
	} else if (h->state == H_READY && h->reqs == NULL) {
		char c;
		ssize_t n = recv(h->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			host_teardown(h, SSH_FAIL_CLOSED, "closed by the server");
			return;
		}
		/* Data for libssh2 (e.g. a keepalive): read with the next exec. */
		host_poll_set(h, 0);
		return;
	}
	host_step(h);
}

/* ---------------------------------------------------------------------- */
/* The pool                                                                */

static size_t
host_hash(const char *user, const char *address, uint16_t port)
{
	uint64_t x = port;
	const char *s;

	for (s = user; *s != '\0'; s++)
		x = x * 131 + (unsigned char)*s;
	for (s = address; *s != '\0'; s++)
		x = x * 131 + (unsigned char)*s;
	return (size_t)nx_hash64(x);
}

static void
pool_grow(struct ssh_pool *p)
{
	size_t n = p->nbuckets ? p->nbuckets * 2 : 256, i;
	struct ssh_host **b = xcalloc(n, sizeof *b), *h;

	for (h = p->all; h != NULL; h = h->all_next) {
		i = host_hash(h->user, h->address, h->port) & (n - 1);
		h->hash_next = b[i];
		b[i] = h;
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = n;
}

static struct ssh_host *
pool_host(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user)
{
	struct ssh_host *h;
	size_t i;

	if (p->nbuckets > 0) {
		i = host_hash(user, address, port) & (p->nbuckets - 1);
		for (h = p->buckets[i]; h != NULL; h = h->hash_next) {
			if (h->port == port && strcmp(h->address, address) == 0 &&
			    strcmp(h->user, user) == 0)
				return h;
		}
	}
	if (p->nhosts + 1 > p->nbuckets)
		pool_grow(p);
	h = xcalloc(1, sizeof *h);
	h->pool = p;
	h->address = xstrdup(address);
	h->user = xstrdup(user);
	h->port = port;
	h->fd = -1;
	uv_timer_init(p->loop, &h->timer);
	h->timer.data = h;
	p->open_timers++;
	h->all_next = p->all;
	p->all = h;
	i = host_hash(user, address, port) & (p->nbuckets - 1);
	h->hash_next = p->buckets[i];
	p->buckets[i] = h;
	p->nhosts++;
	return h;
}

/*
 * Makes a pool on loop with a copy of opts (zero fields get the defaults).
 * Ignores SIGPIPE for the process: a peer that goes away must not kill us
 * while libssh2 writes.  Returns NULL with err filled when libssh2 cannot
 * start.  Free with ssh_pool_close().
 */
struct ssh_pool *
ssh_pool_new(uv_loop_t *loop, const struct ssh_opts *opts, struct nx_err *err)
{
	static const char *const def_ids[] = { "id_ed25519", "id_ecdsa",
	    "id_rsa" };
	struct ssh_pool *p;
	const char *home = ssh_home();
	size_t i;

	if (!ssh_libssh2_ready) {
		if (libssh2_init(0) != 0) {
			nx_err_set(err, "libssh2_init failed");
			return NULL;
		}
		ssh_libssh2_ready = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	p = xcalloc(1, sizeof *p);
	p->loop = loop;
	p->o = *opts;
	if (p->o.connect_ms == 0)
		p->o.connect_ms = SSH_DEFAULT_CONNECT_MS;
	if (p->o.handshake_ms == 0)
		p->o.handshake_ms = SSH_DEFAULT_HANDSHAKE_MS;
	if (p->o.max_startups == 0)
		p->o.max_startups = SSH_DEFAULT_STARTUPS;
	if (p->o.max_channels == 0)
		p->o.max_channels = SSH_DEFAULT_CHANNELS;
	if (p->o.output_cap == 0)
		p->o.output_cap = SSH_DEFAULT_OUTPUT_CAP;
	if (p->o.keepalive_count == 0)
		p->o.keepalive_count = SSH_DEFAULT_KEEPALIVE_COUNT;
	p->user = opts->user != NULL ? xstrdup(opts->user) : NULL;
	p->o.user = NULL;
	p->o.identities = NULL;
	p->o.known_hosts = NULL;
	if (opts->nidentities > 0) {
		p->identities_given = true;
		p->nidentities = opts->nidentities;
		p->identities = xcalloc(p->nidentities, sizeof *p->identities);
		for (i = 0; i < p->nidentities; i++)
			p->identities[i] = xstrdup(opts->identities[i]);
	} else if (home != NULL) {
		p->nidentities = NX_ARRAY_LEN(def_ids);
		p->identities = xcalloc(p->nidentities, sizeof *p->identities);
		for (i = 0; i < p->nidentities; i++)
			xasprintf(&p->identities[i], "%s/.ssh/%s", home,
			    def_ids[i]);
	}
	p->known_hosts_given = opts->known_hosts != NULL;
	if (opts->known_hosts != NULL)
		p->known_hosts = xstrdup(opts->known_hosts);
	else
		xasprintf(&p->known_hosts, "%s/.ssh/known_hosts",
		    home != NULL ? home : "");
	p->global_known_hosts = xstrdup("/etc/ssh/ssh_known_hosts");
	if (opts->config_file != NULL) {
		if (strcmp(opts->config_file, "none") != 0 &&
		    (p->cfg = ssh_config_load(opts->config_file)) == NULL) {
			nx_err_set(err, "%s: %s", opts->config_file,
			    strerror(errno));
			ssh_pool_close(p);
			return NULL;
		}
		if (p->cfg != NULL)
			p->config_path = xstrdup(opts->config_file);
	} else if (home != NULL) {
		char *path;

		xasprintf(&path, "%s/.ssh/config", home);
		if ((p->cfg = ssh_config_load(path)) != NULL)
			p->config_path = path;
		else
			free(path);
	}
	p->o.config_file = NULL;
	p->kh_session = libssh2_session_init();
	if (p->kh_session == NULL ||
	    kh_set_get(p, &p->known_hosts, 1) == NULL) {
		nx_err_set(err, "cannot initialise libssh2's known hosts");
		ssh_pool_close(p);
		return NULL;
	}
	pool_grow(p);
	return p;
}

/*
 * What the pool will use for a command on user@address:port as its caller
 * gives them (port 0, user NULL: not given), without connecting: given
 * values win over ssh_config, which wins over the pool's defaults (the
 * pool's user, else the local user; port 22; --identity, else the
 * IdentityFiles, else ~/.ssh/id_{ed25519,ecdsa,rsa}; --known-hosts, else
 * UserKnownHostsFile, else ~/.ssh/known_hosts; --accept-new, else
 * StrictHostKeyChecking, else yes; ConnectTimeout, else connect_ms).
 * Fills *t (free with ssh_target_free()).  Returns 0.
 */
int
ssh_pool_resolve(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user, struct ssh_target *t)
{
	struct ssh_host_config hc;
	const char *sock = getenv("SSH_AUTH_SOCK");
	size_t i;

	ssh_config_resolve(p->cfg, address, user, port, p->user != NULL ?
	    p->user : ssh_local_user(), &hc);
	memset(t, 0, sizeof *t);
	t->address = xstrdup(hc.hostname != NULL ? hc.hostname : address);
	t->port = port != 0 ? port : hc.port != 0 ? hc.port : 22;
	t->user = xstrdup(user != NULL ? user : hc.user != NULL ? hc.user :
	    p->user != NULL ? p->user : ssh_local_user());
	if (p->identities_given || hc.nidentities == 0) {
		t->identities_from = p->identities_given ? "option" : "default";
		t->nidentities = p->nidentities;
		t->identities = xcalloc(p->nidentities + 1, sizeof *t->identities);
		for (i = 0; i < p->nidentities; i++)
			t->identities[i] = xstrdup(p->identities[i]);
	} else {
		t->identities_from = "ssh_config";
		t->identities = hc.identities;
		t->nidentities = hc.nidentities;
		hc.identities = NULL;
		hc.nidentities = 0;
	}
	t->identities_only = hc.identities_only == 1;
	t->agent = !p->o.no_agent && !t->identities_only && sock != NULL &&
	    *sock != '\0';
	if (!p->known_hosts_given && hc.nknown_hosts > 0 &&
	    strcmp(hc.known_hosts[0], "none") != 0) {
		t->known_hosts = hc.known_hosts;
		t->nknown_hosts = hc.nknown_hosts;
		hc.known_hosts = NULL;
		hc.nknown_hosts = 0;
	} else {
		t->known_hosts = xcalloc(2, sizeof *t->known_hosts);
		t->known_hosts[0] = xstrdup(p->known_hosts);
		t->nknown_hosts = 1;
	}
	t->global_known_hosts = p->global_known_hosts;
	t->strict = p->o.accept_new ? SSH_STRICT_ACCEPT_NEW : hc.strict >= 0 ?
	    (enum ssh_strict)hc.strict : SSH_STRICT_YES;
	t->connect_ms = hc.connect_timeout > 0 ?
	    (uint32_t)hc.connect_timeout * 1000 : p->o.connect_ms;
	t->handshake_ms = p->o.handshake_ms;
	t->keepalive_ms = p->o.keepalive_ms;
	ssh_host_config_free(&hc);
	return 0;
}

void
ssh_target_free(struct ssh_target *t)
{
	size_t i;

	free(t->address);
	free(t->user);
	for (i = 0; i < t->nidentities; i++)
		free(t->identities[i]);
	free(t->identities);
	for (i = 0; i < t->nknown_hosts; i++)
		free(t->known_hosts[i]);
	free(t->known_hosts);
	memset(t, 0, sizeof *t);
}

/* The ssh_config file the pool read, or NULL. */
const char *
ssh_pool_config_path(const struct ssh_pool *p)
{
	return p->config_path;
}

/*
 * Runs command on user@address:port over the host's persistent session,
 * opening it first if needed.  address may be an ssh_config Host alias;
 * port 0 and user NULL mean "not given": ssh_config's, else 22 and the
 * pool's default user, else the local user.  cb is called exactly once, from the loop, with the result;
 * timeout_ms (0 = none) counts from now and covers connecting too.
 * Returns 0, or -1 if the pool is closing.
 */
int
ssh_exec(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user, const char *command, uint32_t timeout_ms,
    ssh_exec_cb cb, void *arg)
{
	return ssh_exec_stream(p, address, port, user, command, timeout_ms,
	    NULL, cb, arg);
}

/*
 * ssh_exec, with the command's standard output handed to data_cb as it
 * arrives (chunks, not lines) instead of being collected: for long-lived
 * commands such as a sampler loop.  cb still ends it, exactly once.
 */
int
ssh_exec_stream(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user, const char *command, uint32_t timeout_ms,
    ssh_data_cb data_cb, ssh_exec_cb cb, void *arg)
{
	struct ssh_host *h;
	struct ssh_req *r, **pp;
	struct ssh_target t;

	if (p->closing)
		return -1;
	/* Given values win over ssh_config, which wins over the defaults. */
	ssh_pool_resolve(p, address, port, user, &t);
	h = pool_host(p, t.address, t.port, t.user);
	if (!h->resolved) {
		h->resolved = true;
		h->idents = t.identities;
		h->nidents = t.nidentities;
		t.identities = NULL;
		t.nidentities = 0;
		h->idents_explicit = strcmp(t.identities_from, "default") != 0;
		h->identities_only = t.identities_only;
		h->strict = t.strict;
		h->connect_ms = t.connect_ms;
		h->khs = kh_set_get(p, t.known_hosts, t.nknown_hosts);
	}
	ssh_target_free(&t);
	if (h->khs == NULL) {
		struct ssh_result res;

		memset(&res, 0, sizeof res);
		res.fail = SSH_FAIL_HOSTKEY;
		res.error = "cannot read the known hosts (libssh2)";
		res.exit_status = -1;
		res.out = res.err = "";
		cb(arg, &res);
		return 0;
	}
	r = xcalloc(1, sizeof *r);
	r->h = h;
	r->command = xstrdup(command);
	r->cb = cb;
	r->data_cb = data_cb;
	r->arg = arg;
	r->submitted = uv_now(p->loop);
	r->deadline = timeout_ms > 0 ? r->submitted + timeout_ms : UINT64_MAX;
	r->state = C_QUEUED;
	r->runner_ok = p->o.runner && data_cb == NULL;
	for (pp = &h->reqs; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = r;
	if (h->tearing)
		;                       /* host_teardown() starts the next */
	else if (h->state == H_IDLE)
		host_start(h);
	else if (h->state == H_READY)
		host_step(h);
	else
		host_timer_set(h);
	return 0;
}

/*
 * The host user@address:port names (through ssh_config, as ssh_exec
 * resolves it), if the pool has one, else NULL.
 */
static struct ssh_host *
pool_find(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user)
{
	struct ssh_target t;
	struct ssh_host *h = NULL;

	ssh_pool_resolve(p, address, port, user, &t);
	if (p->nbuckets > 0) {
		h = p->buckets[host_hash(t.user, t.address, t.port) &
		    (p->nbuckets - 1)];
		for (; h != NULL; h = h->hash_next) {
			if (h->port == t.port &&
			    strcmp(h->address, t.address) == 0 &&
			    strcmp(h->user, t.user) == 0)
				break;
		}
	}
	ssh_target_free(&t);
	return h;
}

/*
 * Withdraws the exec of user@address:port (named as for ssh_exec) that
 * was submitted with arg: its callback is called now with
 * SSH_FAIL_CLOSED, "cancelled".  A queued exec never starts; a running
 * one has its channel (or its runner) closed, and its channel slot comes
 * back when sshd closes the channel.  The command on the host is not
 * signalled (libssh2 1.10 sends no signal requests).  Must not be called
 * from an exec callback of that host.  Returns 0, or -1 when no such exec
 * is pending.
 */
int
ssh_exec_cancel(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user, void *arg)
{
	struct ssh_host *h = pool_find(p, address, port, user);
	struct ssh_req *r;

	if (h == NULL || h->in_step)
		return -1;
	for (r = h->reqs; r != NULL; r = r->next) {
		if (r->arg == arg && !r->reported)
			break;
	}
	if (r == NULL)
		return -1;
	req_report(r, SSH_FAIL_CLOSED, "cancelled", -1, NULL);
	req_withdraw(r);
	if (h->state == H_READY)
		host_step(h);
	else if (h->state != H_IDLE)
		host_timer_set(h);
	return 0;
}

/*
 * Ends the session of user@address:port (names resolved through
 * ssh_config as ssh_exec does), if the pool has one under way: every exec
 * on it is called back with fail and reason, and the next exec opens a
 * new session.  For a session its user judges dead, such as a stream that
 * stopped producing while the TCP connection stays up (a hung server).
 * Must not be called from an exec callback of that host.  Returns 0, or
 * -1 when the host has no session nor exec.
 */
int
ssh_pool_drop(struct ssh_pool *p, const char *address, uint16_t port,
    const char *user, enum ssh_fail fail, const char *reason)
{
	struct ssh_host *h = pool_find(p, address, port, user);

	if (h == NULL || (h->state == H_IDLE && h->reqs == NULL) || h->in_step)
		return -1;
	if (h->state == H_READY && h->s != NULL)
		(void)libssh2_session_disconnect(h->s, reason);
	host_teardown(h, fail, reason);
	return 0;
}

static void
pool_free(struct ssh_pool *p)
{
	size_t i;

	while (p->kh_sets != NULL) {
		struct kh_set *ks = p->kh_sets;

		p->kh_sets = ks->next;
		libssh2_knownhost_free(ks->kh);
		for (i = 0; i < ks->nfiles; i++)
			free(ks->files[i]);
		free(ks->files);
		free(ks);
	}
	if (p->kh_session != NULL)
		libssh2_session_free(p->kh_session);
	for (i = 0; i < p->nidentities; i++)
		free(p->identities[i]);
	free(p->identities);
	free(p->known_hosts);
	free(p->global_known_hosts);
	free(p->config_path);
	ssh_config_free(p->cfg);
	free(p->user);
	free(p->buckets);
	free(p);
}

static void
host_timer_closed(uv_handle_t *handle)
{
	struct ssh_host *h = handle->data;
	struct ssh_pool *p = h->pool;
	size_t i;

	for (i = 0; i < h->nidents; i++)
		free(h->idents[i]);
	free(h->idents);
	free(h->address);
	free(h->user);
	free(h);
	if (--p->open_timers == 0 && p->closing)
		pool_free(p);
}

/*
 * Closes every session (saying goodbye to servers that are connected),
 * fails pending requests with SSH_FAIL_CLOSED, and frees the pool once its
 * handles have closed (at once if it has none; else run the loop).  Must
 * not be called from an exec callback.
 */
void
ssh_pool_close(struct ssh_pool *p)
{
	struct ssh_host *h;

	p->closing = true;
	if (p->open_timers == 0) {
		pool_free(p);
		return;
	}
	for (h = p->all; h != NULL; h = h->all_next) {
		if (h->state == H_READY && h->s != NULL)
			(void)libssh2_session_disconnect(h->s, "closing");
		if (h->state != H_IDLE || h->reqs != NULL)
			host_teardown(h, SSH_FAIL_CLOSED, "the pool was closed");
		uv_close((uv_handle_t *)&h->timer, host_timer_closed);
	}
}

/* Counts of sessions by phase, for progress reports and tests. */
void
ssh_pool_stats(const struct ssh_pool *p, struct ssh_pool_stats *st)
{
	const struct ssh_host *h;

	memset(st, 0, sizeof *st);
	for (h = p->all; h != NULL; h = h->all_next) {
		st->hosts++;
		if (h->state == H_READY)
			st->ready++;
		else if (h->state == H_WAIT_SLOT)
			st->waiting++;
		else if (h->state != H_IDLE)
			st->starting++;
	}
}

const char *
ssh_fail_name(enum ssh_fail f)
{
	switch (f) {
	case SSH_OK:
		return "ok";
	case SSH_FAIL_RESOLVE:
		return "resolve";
	case SSH_FAIL_CONNECT:
		return "connect";
	case SSH_FAIL_HANDSHAKE:
		return "handshake";
	case SSH_FAIL_HOSTKEY:
		return "hostkey";
	case SSH_FAIL_AUTH:
		return "auth";
	case SSH_FAIL_CHANNEL:
		return "channel";
	case SSH_FAIL_TIMEOUT:
		return "timeout";
	case SSH_FAIL_CLOSED:
		return "closed";
	}
	return "?";
}

/*
 * Expands `{{ VAR }}` in tmpl for one host: VAR is `inventory_hostname`
 * (the node's name) or one of its vars (a string, number or boolean).
 * Every value goes in shell-quoted, so that it reaches the remote shell
 * as one word of data, whatever it contains.  Returns a new string in
 * *out, or -1 with err naming the variable that is missing or not a
 * scalar.  Text outside `{{ }}` is copied as it is (it is the operator's).
 */
int
ssh_expand_command(const char *tmpl, const char *name, const json_t *vars,
    char **out, struct nx_err *err)
{
	struct ssh_buf b = { NULL, 0, 0, false };
	const char *s = tmpl, *open, *close;

	while ((open = strstr(s, "{{")) != NULL) {
		char key[128], num[TMPL_SCALAR_NUM], *q;
		const char *k, *ke, *val = NULL;
		const json_t *v;

		buf_add(&b, s, (size_t)(open - s), SIZE_MAX);
		if ((close = strstr(open + 2, "}}")) == NULL) {
			nx_err_set(err, "column %zu: '{{' without '}}'",
			    (size_t)(open - tmpl) + 1);
			free(b.p);
			return -1;
		}
		for (k = open + 2; k < close && (*k == ' ' || *k == '\t'); k++)
			;
		for (ke = close; ke > k && (ke[-1] == ' ' || ke[-1] == '\t'); ke--)
			;
		if (ke == k || (size_t)(ke - k) >= sizeof key) {
			nx_err_set(err, "column %zu: empty or too long variable "
			    "name", (size_t)(open - tmpl) + 1);
			free(b.p);
			return -1;
		}
		memcpy(key, k, (size_t)(ke - k));
		key[ke - k] = '\0';
		v = vars != NULL ? json_object_get(vars, key) : NULL;
		if (strcmp(key, "inventory_hostname") == 0 && name != NULL)
			val = name;
		else if (v == NULL || (val = tmpl_scalar(v, true, num)) ==
		    NULL) {
			nx_err_set(err, "variable '%s' is %s", key, v == NULL ?
			    "not defined for this host" : "not a string or number");
			free(b.p);
			return -1;
		}
		q = ssh_shell_quote(val);
		buf_add(&b, q, strlen(q), SIZE_MAX);
		free(q);
		s = close + 2;
	}
	buf_add(&b, s, strlen(s), SIZE_MAX);
	*out = b.p != NULL ? b.p : xstrdup("");
	return 0;
}
