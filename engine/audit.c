/*
 * audit.c - the tamper-evident audit log: one row per operator or automated
 * action, chained with SHA-256.
 *
 * Row n carries prev = hash of row n - 1 (32 zero bytes for row 1) and
 *
 *	hash = SHA-256(prev || canonical(row))
 *
 * where canonical(row), version 1, is the concatenation of
 *
 *	seq     8 bytes, unsigned big-endian
 *	time    8 bytes, signed big-endian, milliseconds since the epoch
 *	who, role, action, target, args, result
 *	        each as a 4-byte big-endian length followed by that many bytes
 *
 * Length prefixes make the encoding injective (no field can bleed into the
 * next); args is stored as compact JSON with sorted keys so that the same
 * arguments always hash the same.  The row with the highest seq is also
 * recorded in meta('audit_head') in the same transaction, which catches a
 * naive truncation or an appended forgery; `nexusctl audit head` prints the
 * head for keeping outside the machine, and `audit verify --head` checks
 * the chain against such a copy (a full rewrite of the chain is only
 * detectable that way).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "engine.h"

#define AUDIT_NFIELDS 6

static const char *const audit_break_names[] = {
	[AUDIT_INTACT] = "intact",
	[AUDIT_CHANGED] = "changed",
	[AUDIT_GAP] = "seq gap",
	[AUDIT_REORDERED] = "reordered",
	[AUDIT_TRUNCATED] = "truncated",
	[AUDIT_INSERTED] = "inserted",
	[AUDIT_HEAD] = "head mismatch",
};

const char *
audit_break_name(enum audit_break b)
{
	return (unsigned)b < NX_ARRAY_LEN(audit_break_names) ?
	    audit_break_names[b] : "?";
}

static void
audit_put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/*
 * The canonical encoding of a row (see the top of the file) in a new
 * buffer *out that the caller frees.  fields are who, role, action,
 * target, args, result; NULL is encoded as "".  Returns its length.
 */
size_t
audit_canonical(uint64_t seq, nx_time time, const char *const fields[6],
    unsigned char **out)
{
	size_t len[AUDIT_NFIELDS], total = 16, off;
	unsigned char *p;
	int i;

	for (i = 0; i < AUDIT_NFIELDS; i++) {
		len[i] = fields[i] != NULL ? strlen(fields[i]) : 0;
		total += 4 + len[i];
	}
	p = xmalloc(total);
	audit_put_be(p, seq, 8);
	audit_put_be(p + 8, (uint64_t)time, 8);
	off = 16;
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		audit_put_be(p + off, len[i], 4);
		if (len[i] > 0)
			memcpy(p + off + 4, fields[i], len[i]);
		off += 4 + len[i];
	}
	*out = p;
	return total;
}

/* hash = SHA-256(prev || canonical). */
static void
audit_hash(const unsigned char prev[AUDIT_HASH_LEN], uint64_t seq,
    nx_time time, const char *const fields[6],
    unsigned char hash[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *canon;
	size_t n = audit_canonical(seq, time, fields, &canon);
	unsigned int hlen = AUDIT_HASH_LEN;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, prev, AUDIT_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, canon, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, hash, &hlen) != 1) {
		fprintf(stderr, "nexusctl: SHA-256 failed in libcrypto\n");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	free(canon);
}

static void
audit_hex(const unsigned char *h, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * n] = '\0';
}

#define AUDIT_PATH_BUSY_MS 10000   /* audit_append_path waits this long */

/* What audit_append hands to the writer thread. */
struct audit_job {
	nx_time time;
	const char *fields[AUDIT_NFIELDS];
	uint64_t seq;                   /* out */
};

/*
 * Runs on the writer thread inside BEGIN IMMEDIATE: reads the head, hashes
 * the new row onto it, inserts it and moves meta('audit_head').
 */
static int
audit_job_append(struct sqlite3 *db, void *arg, struct nx_err *err)
{
	struct audit_job *j = arg;
	unsigned char prev[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN];
	char head[32 + 2 * AUDIT_HASH_LEN];
	sqlite3_stmt *st = NULL;
	uint64_t seq = 1;
	int rc, i;

	memset(prev, 0, sizeof prev);
	if ((rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER "
	    "BY seq DESC LIMIT 1", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != AUDIT_HASH_LEN) {
			nx_err_set(err, "audit: the last row (seq %lld) has no "
			    "valid hash; run 'nexusctl audit verify'",
			    (long long)sqlite3_column_int64(st, 0));
			sqlite3_finalize(st);
			return -1;
		}
		seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
		memcpy(prev, sqlite3_column_blob(st, 1), AUDIT_HASH_LEN);
	} else if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;

	audit_hash(prev, seq, j->time, j->fields, hash);
	if ((rc = sqlite3_prepare_v2(db, "INSERT INTO audit (seq, time, who, "
	    "role, action, target, args, result, prev, hash) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 2, j->time);
	for (i = 0; i < AUDIT_NFIELDS; i++)
		sqlite3_bind_text(st, 3 + i, j->fields[i], -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, prev, AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, hash, AUDIT_HASH_LEN, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;

	snprintf(head, sizeof head, "%llu:", (unsigned long long)seq);
	audit_hex(hash, AUDIT_HASH_LEN, head + strlen(head));
	if ((rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, "
	    "value) VALUES ('audit_head', ?)", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, head, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	j->seq = seq;
	return 0;
fail:
	nx_err_set(err, "audit: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

/*
 * Appends one row to the chain, durably: when it returns 0 the row is on
 * disk (synchronous=FULL), in its own transaction on the writer thread.
 * The entry is borrowed.  args must be JSON (or NULL); it is stored
 * canonical.  Returns -1 with err when args is not JSON or the store
 * cannot commit (disk full, locked).
 */
/*
 * Fills j from ent: args canonical (returned in *args_text, which the
 * caller frees), the effective user when who is NULL (in userbuf).
 */
static int
audit_prepare(const struct nx_audit_entry *ent, struct audit_job *j,
    char **args_text, char userbuf[32], struct nx_err *err)
{
	json_error_t je;
	json_t *args;
	const char *who = ent->who;

	if (ent->args != NULL) {
		if ((args = json_loads(ent->args, JSON_DECODE_ANY, &je)) ==
		    NULL) {
			nx_err_set(err, "audit: args:%d:%d: %s", je.line,
			    je.column, je.text);
			return -1;
		}
		*args_text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS |
		    JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		json_decref(args);
	} else
		*args_text = xstrdup("{}");
	if (who == NULL) {
		struct passwd *pw = getpwuid(geteuid());

		if (pw != NULL)
			who = pw->pw_name;
		else {
			snprintf(userbuf, 32, "uid:%u", (unsigned)geteuid());
			who = userbuf;
		}
	}
	memset(j, 0, sizeof *j);
	j->time = ent->time != 0 ? ent->time : nx_wallclock();
	j->fields[0] = who;
	j->fields[1] = ent->role != NULL ? ent->role : "";
	j->fields[2] = ent->action != NULL ? ent->action : "";
	j->fields[3] = ent->target != NULL ? ent->target : "";
	j->fields[4] = *args_text;
	j->fields[5] = ent->result != NULL ? ent->result : "";
	return 0;
}

int
audit_append(struct store *s, const struct nx_audit_entry *ent,
    struct nx_err *err)
{
	struct audit_job j;
	char *args_text = NULL, userbuf[32];
	int rc;

	if (audit_prepare(ent, &j, &args_text, userbuf, err) != 0)
		return -1;
	rc = store_run_sync(s, audit_job_append, &j, true, err);
	free(args_text);
	return rc;
}

/*
 * Appends one row to the chain of the store at path through a connection
 * of its own, durably, while another process (a running engine) holds the
 * store: the row is hashed onto the head read inside BEGIN IMMEDIATE, so
 * the writers take turns and the chain stays one chain.  For batch
 * commands; each call opens, commits (synchronous=FULL) and closes.
 */
int
audit_append_path(const char *path, const struct nx_audit_entry *ent,
    struct nx_err *err)
{
	struct audit_job j;
	enum store_fail fail;
	sqlite3 *db;
	char *args_text = NULL, userbuf[32];
	int rc = -1;

	if (audit_prepare(ent, &j, &args_text, userbuf, err) != 0)
		return -1;
	if (store_open_db(path, false, AUDIT_PATH_BUSY_MS, &db, &fail,
	    err) != 0) {
		free(args_text);
		return -1;
	}
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		nx_err_set(err, "%s: audit: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (audit_job_append(db, &j, err) != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		nx_err_set(err, "%s: audit: %s", path, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(db);
	free(args_text);
	return rc;
}

static void
audit_broken(struct audit_verify_result *r, enum audit_break why,
    uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
audit_broken(struct audit_verify_result *r, enum audit_break why,
    uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	r->why = why;
	r->broken_seq = seq;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
}

/* 64 lowercase hex digits into hex (NUL-terminated); -1 if not. */
static int
audit_parse_hex(const char *s, char hex[2 * AUDIT_HASH_LEN + 1])
{
	size_t i;

	if (strlen(s) != 2 * AUDIT_HASH_LEN)
		return -1;
	for (i = 0; i < 2 * AUDIT_HASH_LEN; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		hex[i] = c;
	}
	hex[2 * AUDIT_HASH_LEN] = '\0';
	return 0;
}

/*
 * Parses a head as `audit head` writes it: "SEQ:HEX", the bare HEX (*seq
 * = 0: any row with that hash), or a JSON anchor line (its "head").
 * Trailing whitespace is ignored.  Returns -1 if malformed.
 */
static int
audit_parse_head(const char *s, uint64_t *seq, char hex[2 * AUDIT_HASH_LEN + 1])
{
	char buf[32 + 2 * AUDIT_HASH_LEN], *end;
	size_t n;
	int rc = -1;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '{') {
		json_t *j = json_loads(s, JSON_DISABLE_EOF_CHECK, NULL);
		const char *h = json_string_value(json_object_get(j, "head"));

		if (h != NULL && *h != '{')
			rc = audit_parse_head(h, seq, hex);
		json_decref(j);
		return rc;
	}
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strchr(buf, ':') == NULL) {
		*seq = 0;
		return audit_parse_hex(buf, hex);
	}
	*seq = strtoull(buf, &end, 10);
	if (end == buf || *end != ':')
		return -1;
	return audit_parse_hex(end + 1, hex);
}

static int
audit_read_meta_head(sqlite3 *db, uint64_t *seq,
    char hex[2 * AUDIT_HASH_LEN + 1])
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = "
	    "'audit_head'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		found = v != NULL && audit_parse_head(v, seq, hex) == 0 ? 1 : -1;
	}
	sqlite3_finalize(st);
	return found;
}

/*
 * Walks the chain of the store at path (opened read-only; nothing is
 * written) in seq order and stops at the first broken row:
 *  - a seq that is not the previous + 1: rows deleted or a row inserted;
 *  - a prev that is not the previous row's hash: rows reordered (or a
 *    row's link edited);
 *  - a hash that does not match prev || canonical(row): the row changed.
 * Then compares the last row with meta('audit_head') and, if given, with
 * expect_head ("SEQ:HEX", from `audit head`).
 * Returns 0 when intact, 1 when broken (r says where and why), -1 when the
 * file cannot be read (err, r->fail).
 */
int
audit_verify(const char *path, const char *expect_head,
    struct audit_verify_result *r, struct nx_err *err)
{
	unsigned char prev[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN];
	char hex[2 * AUDIT_HASH_LEN + 1], mhex[2 * AUDIT_HASH_LEN + 1];
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t expect = 1, mseq = 0, eseq = 0;
	bool found_expected = false;
	int rc, i, mrc;

	memset(r, 0, sizeof r[0]);
	memset(prev, 0, sizeof prev);
	audit_hex(prev, AUDIT_HASH_LEN, r->head_hex);
	if (expect_head != NULL && audit_parse_head(expect_head, &eseq,
	    mhex) != 0) {
		r->fail = STORE_FAIL_NONE;
		nx_err_set(err, "--head wants SEQ:HASH, HASH or a JSON line as "
		    "printed by 'nexusctl audit head', not '%s'", expect_head);
		return -1;
	}
	/* The head of an empty chain: every chain still reaches it. */
	if (expect_head != NULL && eseq == 0 &&
	    strspn(mhex, "0") == 2 * AUDIT_HASH_LEN)
		found_expected = true;
	if (store_open_db(path, true, 5000, &db, &r->fail, err) != 0)
		return -1;
	if ((rc = sqlite3_prepare_v2(db, "SELECT seq, time, who, role, "
	    "action, target, args, result, prev, hash FROM audit ORDER BY "
	    "seq", -1, &st, NULL)) != SQLITE_OK)
		goto sqlfail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		nx_time t = sqlite3_column_int64(st, 1);
		const char *fields[AUDIT_NFIELDS];
		const void *rprev = sqlite3_column_blob(st, 8);
		int rprev_len = sqlite3_column_bytes(st, 8);
		const void *rhash = sqlite3_column_blob(st, 9);
		int rhash_len = sqlite3_column_bytes(st, 9);

		for (i = 0; i < AUDIT_NFIELDS; i++)
			fields[i] = (const char *)sqlite3_column_text(st, 2 + i);
		if (seq != expect) {
			bool linked = rprev_len == AUDIT_HASH_LEN &&
			    memcmp(rprev, prev, AUDIT_HASH_LEN) == 0;

			audit_broken(r, AUDIT_GAP, seq, "row %llu follows row "
			    "%llu: %s", (unsigned long long)seq,
			    (unsigned long long)expect - 1, linked ?
			    "a row was inserted with a forged seq" :
			    "rows were deleted");
			break;
		}
		if (rprev_len != AUDIT_HASH_LEN ||
		    memcmp(rprev, prev, AUDIT_HASH_LEN) != 0) {
			audit_broken(r, AUDIT_REORDERED, seq, "row %llu does "
			    "not link to row %llu (rows reordered, or its "
			    "prev field edited)", (unsigned long long)seq,
			    (unsigned long long)seq - 1);
			break;
		}
		audit_hash(prev, seq, t, fields, hash);
		if (rhash_len != AUDIT_HASH_LEN ||
		    memcmp(rhash, hash, AUDIT_HASH_LEN) != 0) {
			audit_broken(r, AUDIT_CHANGED, seq, "row %llu was "
			    "changed: its hash does not match its fields",
			    (unsigned long long)seq);
			break;
		}
		memcpy(prev, hash, AUDIT_HASH_LEN);
		r->rows++;
		r->head_seq = seq;
		audit_hex(hash, AUDIT_HASH_LEN, r->head_hex);
		if (expect_head != NULL && eseq == 0 &&
		    strcmp(r->head_hex, mhex) == 0)
			found_expected = true;
		else if (expect_head != NULL && seq == eseq) {
			found_expected = true;
			if (strcmp(r->head_hex, mhex) != 0) {
				audit_broken(r, AUDIT_HEAD, seq, "row %llu "
				    "differs from the head given with --head",
				    (unsigned long long)seq);
				break;
			}
		}
		expect = seq + 1;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		goto sqlfail;
	}
	sqlite3_finalize(st);
	if (r->why != AUDIT_INTACT)
		goto out;

	mrc = audit_read_meta_head(db, &mseq, hex);
	if (mrc < 0)
		audit_broken(r, AUDIT_CHANGED, r->head_seq + 1, "the recorded "
		    "head (meta audit_head) is malformed");
	else if (mrc == 0 && r->rows > 0)
		audit_broken(r, AUDIT_INSERTED, 1, "rows without a recorded "
		    "head: the chain was not written by nexusctl");
	else if (mrc > 0 && mseq > r->head_seq)
		audit_broken(r, AUDIT_TRUNCATED, r->head_seq + 1, "rows %llu "
		    "to %llu are missing (the chain was truncated)",
		    (unsigned long long)r->head_seq + 1,
		    (unsigned long long)mseq);
	else if (mrc > 0 && mseq < r->head_seq)
		audit_broken(r, AUDIT_INSERTED, mseq + 1, "rows %llu to %llu "
		    "were appended outside nexusctl",
		    (unsigned long long)mseq + 1,
		    (unsigned long long)r->head_seq);
	else if (mrc > 0 && strcmp(hex, r->head_hex) != 0)
		audit_broken(r, AUDIT_CHANGED, r->head_seq, "row %llu does not "
		    "match the recorded head", (unsigned long long)r->head_seq);
	else if (expect_head != NULL && !found_expected && eseq == 0)
		audit_broken(r, AUDIT_HEAD, r->head_seq, "no row of the chain "
		    "has the hash given with --head (the chain was truncated "
		    "before it or rewritten)");
	else if (expect_head != NULL && !found_expected)
		audit_broken(r, AUDIT_TRUNCATED, r->head_seq + 1, "row %llu of "
		    "the given head is missing", (unsigned long long)eseq);
out:
	sqlite3_close(db);
	return r->why == AUDIT_INTACT ? 0 : 1;
sqlfail:
	r->fail = store_fail_of_sqlite(rc);
	nx_err_set(err, "%s: reading the audit chain: %s", path,
	    sqlite3_errmsg(db));
	sqlite3_close(db);
	return -1;
}

/*
 * The last row of the chain on db (seq 0 and 64 zeros when empty).
 * Returns SQLITE_OK or the SQLite error code.
 */
int
audit_read_head(sqlite3 *db, uint64_t *seq, char hex[2 * AUDIT_HASH_LEN + 1])
{
	unsigned char zero[AUDIT_HASH_LEN];
	sqlite3_stmt *st;
	int rc;

	*seq = 0;
	memset(zero, 0, sizeof zero);
	audit_hex(zero, AUDIT_HASH_LEN, hex);
	if ((rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER "
	    "BY seq DESC LIMIT 1", -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == AUDIT_HASH_LEN)
			audit_hex(sqlite3_column_blob(st, 1), AUDIT_HASH_LEN,
			    hex);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

/*
 * The last row of the chain (seq 0 and 64 zeros when empty), read-only.
 * Returns 0, or -1 with err and *fail.
 */
int
audit_head(const char *path, uint64_t *seq, char hex[2 * AUDIT_HASH_LEN + 1],
    enum store_fail *fail, struct nx_err *err)
{
	sqlite3 *db;
	int rc;

	if (store_open_db(path, true, 5000, &db, fail, err) != 0)
		return -1;
	if ((rc = audit_read_head(db, seq, hex)) != SQLITE_OK) {
		*fail = store_fail_of_sqlite(rc);
		nx_err_set(err, "%s: reading the audit chain: %s", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_close(db);
	*fail = STORE_FAIL_NONE;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Anchoring the head outside the file                                     */

/*
 * The anchor line of a head, with its newline, in a new string the caller
 * frees: AUDIT_HEAD_TEXT is "SEQ:HEX" (what `audit verify --head` takes),
 * AUDIT_HEAD_JSON one compact object {"time", "state", "seq", "hash",
 * "head"} (time ISO 8601 UTC with milliseconds; state the absolute path
 * of the store when it can be resolved).
 */
char *
audit_head_line(enum audit_head_format fmt, const char *state, uint64_t seq,
    const char *hex, nx_time now)
{
	char head[32 + 2 * AUDIT_HASH_LEN], when[32], full[48], *abs, *line;
	char *out;
	struct tm tm;
	time_t secs = (time_t)(now / 1000);
	json_t *j;

	snprintf(head, sizeof head, "%llu:%s", (unsigned long long)seq, hex);
	if (fmt == AUDIT_HEAD_TEXT) {
		xasprintf(&out, "%s\n", head);
		return out;
	}
	gmtime_r(&secs, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(full, sizeof full, "%s.%03dZ", when, (int)(now % 1000));
	abs = state != NULL ? realpath(state, NULL) : NULL;
	j = json_pack("{s:s, s:s?, s:I, s:s, s:s}", "time", full, "state",
	    abs != NULL ? abs : state, "seq", (json_int_t)seq, "hash", hex,
	    "head", head);
	free(abs);
	line = json_dumps(j, JSON_COMPACT | NX_JSON_FLAGS);
	json_decref(j);
	xasprintf(&out, "%s\n", line);
	free(line);
	return out;
}

/*
 * Appends line to file (created 0600) as one write(2) with O_APPEND under
 * an exclusive flock, then fsyncs: concurrent writers never interleave
 * and a crash leaves whole lines.  A short write is undone (ftruncate to
 * the old size).  Returns 0, or -1 with err.
 */
int
audit_head_append(const char *file, const char *line, struct nx_err *err)
{
	size_t len = strlen(line);
	struct stat sb;
	ssize_t n;
	int fd, saved;

	if ((fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		nx_err_set(err, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &sb) != 0)
		goto fail;
	if ((n = write(fd, line, len)) != (ssize_t)len) {
		saved = n < 0 ? errno : ENOSPC;
		if (ftruncate(fd, sb.st_size) != 0) {
			/* Nothing more to do: the error below is the news. */
		}
		errno = saved;
		goto fail;
	}
	if (fsync(fd) != 0)
		goto fail;
	close(fd);
	return 0;
fail:
	saved = errno;
	nx_err_set(err, "%s: %s", file, strerror(saved));
	close(fd);
	return -1;
}

/*
 * Writes the head to syslog: facility LOG_AUTH, priority LOG_NOTICE, tag
 * "nexusctl-audit", message "audit head SEQ:HEX state=PATH".
 */
void
audit_head_syslog(const char *state, uint64_t seq, const char *hex)
{
	openlog("nexusctl-audit", LOG_PID | LOG_NDELAY, LOG_AUTH);
	syslog(LOG_AUTH | LOG_NOTICE, "audit head %llu:%s state=%s",
	    (unsigned long long)seq, hex, state != NULL ? state : "-");
	closelog();
}

/*
 * For a running engine: writes the head of s's chain as a JSON line to
 * file (when not NULL) and to syslog (when use_syslog) if it differs from
 * *last (the seq written last; UINT64_MAX before the first call), then
 * sets *last.  Returns 1 written, 0 unchanged, -1 with err (*last is kept,
 * so the next call tries again).
 */
int
audit_anchor_store(struct store *s, const char *file, bool use_syslog,
    uint64_t *last, struct nx_err *err)
{
	char hex[2 * AUDIT_HASH_LEN + 1], *line;
	uint64_t seq;
	int rc = 1;

	if (store_audit_head(s, &seq, hex, err) != 0)
		return -1;
	if (seq == *last)
		return 0;
	if (file != NULL) {
		line = audit_head_line(AUDIT_HEAD_JSON, store_path(s), seq, hex,
		    nx_wallclock());
		if (audit_head_append(file, line, err) != 0)
			rc = -1;
		free(line);
	}
	if (use_syslog)
		audit_head_syslog(store_path(s), seq, hex);
	if (rc == 1)
		*last = seq;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* store.audit_head_file: a path, parsed here (CFG_CUSTOM)                 */

static int
audit_cfg_parse(struct nx_config *cfg, const char *file, const char *text,
    size_t len, const json_t *v, struct nx_err *err)
{
	const char *s = json_string_value(v);
	struct jpos_place pl;

	if (json_is_null(v)) {
		free(cfg->store.audit_head_file);
		cfg->store.audit_head_file = NULL;
		return 0;
	}
	if (s == NULL || *s == '\0' || strlen(s) > 4096) {
		jpos_place_init(&pl, file, text, len, "store",
		    "audit_head_file");
		return jpos_fail(err, &pl, "expected a file name (string) or "
		    "null");
	}
	free(cfg->store.audit_head_file);
	cfg->store.audit_head_file = xstrdup(s);
	return 0;
}

static void
audit_cfg_free(struct nx_config *cfg)
{
	free(cfg->store.audit_head_file);
	cfg->store.audit_head_file = NULL;
}

static void
audit_cfg_clone(struct nx_config *dst, const struct nx_config *src)
{
	dst->store.audit_head_file = src->store.audit_head_file != NULL ?
	    xstrdup(src->store.audit_head_file) : NULL;
}

static json_t *
audit_cfg_to_json(const struct nx_config *cfg)
{
	return cfg->store.audit_head_file != NULL ?
	    json_string(cfg->store.audit_head_file) : json_null();
}

const struct cfg_custom audit_head_file_config = {
	.parse = audit_cfg_parse,
	.free = audit_cfg_free,
	.clone = audit_cfg_clone,
	.to_json = audit_cfg_to_json,
};
