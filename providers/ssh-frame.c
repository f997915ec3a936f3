/*
 * ssh-frame.c - framing of the commands a host's runner runs.  The runner
 * (ssh-session.c) is one long-lived `/bin/sh` per session that reads
 * commands on its standard input, so that a command costs the host one
 * fork instead of an sshd session (doc/ssh.md, "The runner").
 *
 * For a command C and a fresh token T (128 random bits in hex) the runner
 * is sent, as one shell list:
 *
 *   ( nx_c='C'; [eval "$nx_c" | exec "$SHELL" -c "$nx_c"] ) </dev/null;
 *   printf '\nT %d\n' "$?"; printf '\nT\n' >&2
 *
 * where eval is chosen when the login shell ($SHELL) is sh, dash or ash.
 *
 * C is single-quoted, so the parser finds its end whatever C contains (an
 * unbalanced quote in C is a syntax error of eval, inside the subshell).
 * The subshell keeps cd, exit, set and traps from reaching the runner;
 * /dev/null keeps the command from reading the commands that follow.  A
 * user whose login shell is not a plain POSIX sh gets C run by that shell,
 * as sshd would run it.
 *
 * The command's standard output ends at "\nT " followed by its exit
 * status and "\n"; its standard error at "\nT\n".  The newline printf puts
 * before T belongs to the frame, not to the output, so output without a
 * final newline comes back as it was.  Output cannot end a frame early
 * unless it contains T, which only the runner shell has seen.
 */
#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

/* Fills buf with n random bytes (getrandom, else /dev/urandom). */
static int
frame_random(unsigned char *buf, size_t n)
{
	ssize_t got;
	int fd;

	do {
		got = getrandom(buf, n, 0);
	} while (got < 0 && errno == EINTR);
	if (got == (ssize_t)n)
		return 0;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	got = read(fd, buf, n);
	close(fd);
	return got == (ssize_t)n ? 0 : -1;
}

static void
frame_scan_init(struct ssh_frame_scan *sc, const char *token, char end)
{
	sc->patlen = (size_t)snprintf(sc->pat, sizeof sc->pat, "\n%s%c",
	    token, end);
	sc->matched = 0;
}

/*
 * Starts a frame for command: a new token, the scanners reset.  Returns
 * the text to write to the runner's standard input (owned by the caller),
 * or NULL with err set when no random token can be had.
 */
char *
ssh_frame_start(struct ssh_frame *f, const char *command, struct nx_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[SSH_FRAME_TOKEN_LEN / 2];
	char *q, *line;
	size_t i;

	memset(f, 0, sizeof *f);
	if (frame_random(rnd, sizeof rnd) != 0) {
		nx_err_set(err, "cannot read random bytes for a frame token: %s",
		    strerror(errno));
		return NULL;
	}
	for (i = 0; i < sizeof rnd; i++) {
		f->token[2 * i] = hex[rnd[i] >> 4];
		f->token[2 * i + 1] = hex[rnd[i] & 15];
	}
	f->token[SSH_FRAME_TOKEN_LEN] = '\0';
	frame_scan_init(&f->out, f->token, ' ');
	frame_scan_init(&f->err, f->token, '\n');
	q = ssh_shell_quote(command);
	xasprintf(&line, "( nx_c=%s; case ${SHELL##*/} in ''|sh|dash|ash) "
	    "eval \"$nx_c\";; *) exec \"$SHELL\" -c \"$nx_c\";; esac ) "
	    "</dev/null; printf '\\n%s %%d\\n' \"$?\"; printf '\\n%s\\n' >&2\n",
	    q, f->token, f->token);
	free(q);
	return line;
}

/*
 * Scans buf for sc's pattern, handing every byte before it to emit (bytes
 * held as a possible start of the pattern are handed on once they prove
 * not to be).  Returns the bytes consumed: up to the end of the pattern
 * when found (*hit set), else len.  The first byte of every pattern ('\n')
 * occurs nowhere else in it except as the last byte, so a failed partial
 * match never hides the start of another.
 */
static size_t
frame_scan(struct ssh_frame_scan *sc, const char *buf, size_t len,
    ssh_frame_emit emit, void *arg, bool *hit)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] == sc->pat[sc->matched]) {
			if (sc->matched == 0 && i > start)
				emit(arg, buf + start, i - start);
			start = i + 1;
			if (++sc->matched == sc->patlen) {
				sc->matched = 0;
				*hit = true;
				return i + 1;
			}
			continue;
		}
		if (sc->matched > 0) {
			emit(arg, sc->pat, sc->matched);
			sc->matched = 0;
			if (buf[i] == sc->pat[0]) {
				sc->matched = 1;
				start = i + 1;
			}
		}
	}
	if (len > start)
		emit(arg, buf + start, len - start);
	return len;
}

/*
 * Feeds bytes the runner wrote on standard output (err false) or standard
 * error (err true).  The command's own bytes go to emit(arg, ...), in
 * order, possibly in several pieces.  Returns how many bytes of buf
 * belong to the frame; the rest came after its end (output of something
 * the command left running) and is the caller's to drop.
 */
size_t
ssh_frame_feed(struct ssh_frame *f, bool err, const char *buf, size_t len,
    ssh_frame_emit emit, void *arg)
{
	bool hit = false;
	size_t used, i;

	if (err) {
		if (f->err_done)
			return 0;
		used = frame_scan(&f->err, buf, len, emit, arg, &hit);
		f->err_done = hit;
		return used;
	}
	if (f->out_done)
		return 0;
	used = 0;
	if (!f->in_status) {
		used = frame_scan(&f->out, buf, len, emit, arg, &hit);
		if (!hit)
			return used;
		f->in_status = true;
		f->status = 0;
		f->ndigits = 0;
	}
	for (i = used; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			f->out_done = true;
			f->in_status = false;
			if (f->ndigits == 0 || f->status > 255)
				f->status = -1;
			return i + 1;
		}
		if (c >= '0' && c <= '9' && f->ndigits < 3) {
			f->status = f->status * 10 + (c - '0');
			f->ndigits++;
		} else
			f->ndigits = 4;         /* not a status: -1 at the end */
	}
	return len;
}

/* Whether both streams of the frame have ended. */
bool
ssh_frame_done(const struct ssh_frame *f)
{
	return f->out_done && f->err_done;
}

/* The command's exit status (0-255), or -1 when the frame gave none. */
int
ssh_frame_status(const struct ssh_frame *f)
{
	return f->out_done && f->ndigits <= 3 ? f->status : -1;
}
