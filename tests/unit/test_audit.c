/*
 * test_audit.c - the audit hash chain: append rows through a real store,
 * verify, then tamper with the file through the sqlite3 C API (change a
 * field, delete a row, swap two rows, forge rows, truncate) and check that
 * verify names the right first broken row each time.
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "engine.h"

#define NROWS 20

struct fix {
	char dir[64];
	char path[128];
	sqlite3 *db;            /* the attacker's connection */
};

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
append_rows(const char *path, int from, int to)
{
	struct nx_err err = { { 0 } };
	struct store *s = store_open(path, &err);
	int i;

	assert_non_null(s);
	for (i = from; i <= to; i++) {
		char target[32], args[64];
		struct nx_audit_entry ent = {
			.time = 1700000000000 + i * 1000,
			.who = i % 3 ? "alice" : NULL,
			.role = i % 2 ? "operator" : "admin",
			.action = i % 4 ? "ack" : "run",
			.target = target,
			.args = args,
			.result = "ok",
		};

		snprintf(target, sizeof target, "web%03d/load", i);
		snprintf(args, sizeof args, "{\"sticky\": %s, \"n\": %d}",
		    i % 2 ? "true" : "false", i);
		assert_int_equal(audit_append(s, &ent, &err), 0);
	}
	assert_int_equal(store_close(s, &err), 0);
}

static int
setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/nx-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
	append_rows(f->path, 1, NROWS);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	sqlite3_close(f->db);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
sql(struct fix *f, const char *q)
{
	char *msg = NULL;

	if (sqlite3_exec(f->db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
}

/* Verifies and checks the outcome: why and the first broken seq. */
static void
expect(struct fix *f, const char *head, enum audit_break why, uint64_t seq)
{
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	int rc = audit_verify(f->path, head, &r, &err);

	if (why == AUDIT_INTACT) {
		assert_int_equal(rc, 0);
		return;
	}
	if (rc != 1 || r.why != why || r.broken_seq != seq)
		fail_msg("verify: rc %d, %s at %llu (%s); wanted %s at %llu",
		    rc, audit_break_name(r.why),
		    (unsigned long long)r.broken_seq, r.detail,
		    audit_break_name(why), (unsigned long long)seq);
}

static void
sha256(const void *a, size_t alen, const void *b, size_t blen,
    unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 32;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, a, alen);
	EVP_DigestUpdate(ctx, b, blen);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

static void
test_verify_ok(void **state)
{
	struct fix *f = *state;
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	char hex[65], head[100];
	uint64_t seq;

	assert_int_equal(audit_verify(f->path, NULL, &r, &err), 0);
	assert_int_equal(r.rows, NROWS);
	assert_int_equal(r.head_seq, NROWS);
	assert_int_equal(audit_head(f->path, &seq, hex, &fail, &err), 0);
	assert_int_equal(seq, NROWS);
	assert_string_equal(hex, r.head_hex);
	snprintf(head, sizeof head, "%llu:%s", (unsigned long long)seq, hex);
	expect(f, head, AUDIT_INTACT, 0);

	/* More rows later continue the same chain. */
	append_rows(f->path, NROWS + 1, NROWS + 5);
	assert_int_equal(audit_verify(f->path, head, &r, &err), 0);
	assert_int_equal(r.rows, NROWS + 5);
}

/* The stored hash is SHA-256(prev || canonical) as doc/store.md says. */
static void
test_hash_is_documented_encoding(void **state)
{
	struct fix *f = *state;
	sqlite3_stmt *st;
	unsigned char *canon, h[32];
	const char *fields[6];
	size_t n;
	int i;

	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT seq, time, who, "
	    "role, action, target, args, result, prev, hash FROM audit WHERE "
	    "seq = 3", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	for (i = 0; i < 6; i++)
		fields[i] = (const char *)sqlite3_column_text(st, 2 + i);
	/* args are stored canonical: compact, keys sorted. */
	assert_string_equal(fields[4], "{\"n\":3,\"sticky\":true}");
	n = audit_canonical(3, 1700000003000, fields, &canon);
	assert_int_equal(n, 16 + 6 * 4 + strlen(fields[0]) + strlen(fields[1]) +
	    strlen(fields[2]) + strlen(fields[3]) + strlen(fields[4]) +
	    strlen(fields[5]));
	assert_int_equal(canon[7], 3);
	assert_int_equal(canon[16 + 3], (unsigned char)strlen(fields[0]));
	sha256(sqlite3_column_blob(st, 8), 32, canon, n, h);
	assert_memory_equal(h, sqlite3_column_blob(st, 9), 32);
	free(canon);
	sqlite3_finalize(st);
}

static void
test_changed_field(void **state)
{
	struct fix *f = *state;

	sql(f, "UPDATE audit SET result = 'denied' WHERE seq = 7");
	expect(f, NULL, AUDIT_CHANGED, 7);
}

static void
test_changed_time(void **state)
{
	struct fix *f = *state;

	sql(f, "UPDATE audit SET time = time + 1 WHERE seq = 12");
	expect(f, NULL, AUDIT_CHANGED, 12);
}

static void
test_deleted_row(void **state)
{
	struct fix *f = *state;

	sql(f, "DELETE FROM audit WHERE seq = 5");
	expect(f, NULL, AUDIT_GAP, 6);
}

static void
test_deleted_and_renumbered(void **state)
{
	struct fix *f = *state;

	/* Hide the hole: shift every later row down by one. */
	sql(f, "DELETE FROM audit WHERE seq = 5");
	sql(f, "UPDATE audit SET seq = -(seq - 1) WHERE seq > 5");
	sql(f, "UPDATE audit SET seq = -seq WHERE seq < 0");
	expect(f, NULL, AUDIT_REORDERED, 5);
}

static void
test_swapped_rows(void **state)
{
	struct fix *f = *state;

	sql(f, "UPDATE audit SET seq = -3 WHERE seq = 3");
	sql(f, "UPDATE audit SET seq = 3 WHERE seq = 9");
	sql(f, "UPDATE audit SET seq = 9 WHERE seq = -3");
	expect(f, NULL, AUDIT_REORDERED, 3);
}

static void
test_forged_row_in_gap(void **state)
{
	struct fix *f = *state;

	sql(f, "INSERT INTO audit SELECT 30, time, who, role, 'forged', "
	    "target, args, result, hash, hash FROM audit WHERE seq = 20");
	expect(f, NULL, AUDIT_GAP, 30);
}

/* A forger who knows the algorithm appends a row with a valid hash. */
static void
test_forged_row_appended(void **state)
{
	struct fix *f = *state;
	const char *fields[6] = { "mallory", "admin", "run", "web001",
	    "{}", "ok" };
	unsigned char prev[32], hash[32], *canon;
	sqlite3_stmt *st;
	size_t n;

	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT hash FROM audit "
	    "WHERE seq = 20", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	memcpy(prev, sqlite3_column_blob(st, 0), 32);
	sqlite3_finalize(st);
	n = audit_canonical(21, 1700000099000, fields, &canon);
	sha256(prev, 32, canon, n, hash);
	free(canon);
	assert_int_equal(sqlite3_prepare_v2(f->db, "INSERT INTO audit VALUES "
	    "(21, 1700000099000, 'mallory', 'admin', 'run', 'web001', '{}', "
	    "'ok', ?, ?)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, prev, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	expect(f, NULL, AUDIT_INSERTED, 21);
}

static void
test_truncated(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	char hex[65], head[100];
	uint64_t seq;

	assert_int_equal(audit_head(f->path, &seq, hex, &fail, &err), 0);
	snprintf(head, sizeof head, "%llu:%s", (unsigned long long)seq, hex);
	sql(f, "DELETE FROM audit WHERE seq >= 18");
	expect(f, NULL, AUDIT_TRUNCATED, 18);
	/* Hide it in the file too: only the head kept outside finds it. */
	sql(f, "UPDATE meta SET value = (SELECT seq || ':' || lower(hex(hash)) "
	    "FROM audit WHERE seq = 17) WHERE key = 'audit_head'");
	expect(f, NULL, AUDIT_INTACT, 0);
	expect(f, head, AUDIT_TRUNCATED, 18);
}

static void
test_not_a_store(void **state)
{
	struct fix *f = *state;
	struct audit_verify_result r;
	struct nx_err err = { { 0 } };
	char path[160];
	FILE *fp;

	snprintf(path, sizeof path, "%s/missing.db", f->dir);
	assert_int_equal(audit_verify(path, NULL, &r, &err), -1);
	assert_int_equal(r.fail, STORE_FAIL_MISSING);
	assert_int_equal(access(path, F_OK), -1);       /* not created */

	snprintf(path, sizeof path, "%s/notes.txt", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("not a database at all, but long enough\n", fp);
	fclose(fp);
	assert_int_equal(audit_verify(path, NULL, &r, &err), -1);
	assert_int_equal(r.fail, STORE_FAIL_FOREIGN);
	assert_non_null(strstr(err.msg, "not an SQLite database"));
}

static void
test_bad_args_refused(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct nx_audit_entry ent = { .who = "bob", .role = "operator",
	    .action = "ack", .target = "x", .args = "{\"a\": ", .result = "ok" };
	struct store *s = store_open(f->path, &err);

	assert_non_null(s);
	assert_int_equal(audit_append(s, &ent, &err), -1);
	assert_non_null(strstr(err.msg, "args"));
	assert_int_equal(store_close(s, &err), 0);
	expect(f, NULL, AUDIT_INTACT, 0);
}


/*
 * The forms of an anchored head: SEQ:HASH, the bare HASH (any row with
 * it), the JSON line of `audit head --format json`, the empty chain's
 * head.  Each catches a truncation hidden in meta as well.
 */
static void
test_head_forms(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	enum store_fail fail;
	char hex[65], zeros[65], head[100], *json, *text;
	uint64_t seq;

	assert_int_equal(audit_head(f->path, &seq, hex, &fail, &err), 0);
	json = audit_head_line(AUDIT_HEAD_JSON, f->path, seq, hex,
	    1700000000123LL);
	text = audit_head_line(AUDIT_HEAD_TEXT, f->path, seq, hex, 0);
	snprintf(head, sizeof head, "%llu:%s\n", (unsigned long long)seq, hex);
	assert_string_equal(text, head);
	assert_non_null(strstr(json, "\"time\":\"2023-11-14T22:13:20.123Z\""));
	assert_non_null(strstr(json, "\"seq\":20,"));
	assert_non_null(strstr(json, hex));
	assert_int_equal(json[strlen(json) - 1], '\n');
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	snprintf(head, sizeof head, "0:%s", zeros);

	expect(f, hex, AUDIT_INTACT, 0);
	expect(f, json, AUDIT_INTACT, 0);
	expect(f, text, AUDIT_INTACT, 0);
	expect(f, head, AUDIT_INTACT, 0);
	{
		struct audit_verify_result r;

		/* Malformed: a usage error, not a break. */
		assert_int_equal(audit_verify(f->path, "20:", &r, &err), -1);
		assert_int_equal(r.fail, STORE_FAIL_NONE);
		assert_int_equal(audit_verify(f->path, "{\"head\":3}", &r,
		    &err), -1);
	}

	sql(f, "DELETE FROM audit WHERE seq >= 18");
	sql(f, "UPDATE meta SET value = (SELECT seq || ':' || lower(hex(hash)) "
	    "FROM audit WHERE seq = 17) WHERE key = 'audit_head'");
	expect(f, NULL, AUDIT_INTACT, 0);
	expect(f, hex, AUDIT_HEAD, 17);
	expect(f, json, AUDIT_TRUNCATED, 18);
	free(json);
	free(text);
}

/* --output: whole lines appended, the file private, the last one usable. */
static void
test_head_append(void **state)
{
	struct fix *f = *state;
	struct nx_err err = { { 0 } };
	struct stat sb;
	char file[160], buf[1024], hex[65];
	enum store_fail fail;
	uint64_t seq;
	FILE *fp;
	char *line;
	int n = 0;

	snprintf(file, sizeof file, "%s/anchors", f->dir);
	assert_int_equal(audit_head(f->path, &seq, hex, &fail, &err), 0);
	line = audit_head_line(AUDIT_HEAD_JSON, f->path, seq, hex, 1000);
	assert_int_equal(audit_head_append(file, line, &err), 0);
	free(line);
	append_rows(f->path, NROWS + 1, NROWS + 2);
	assert_int_equal(audit_head(f->path, &seq, hex, &fail, &err), 0);
	assert_int_equal(seq, NROWS + 2);
	line = audit_head_line(AUDIT_HEAD_JSON, f->path, seq, hex, 2000);
	assert_int_equal(audit_head_append(file, line, &err), 0);
	free(line);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(fp = fopen(file, "r"));
	while (fgets(buf, sizeof buf, fp) != NULL) {
		assert_int_equal(buf[0], '{');
		assert_int_equal(buf[strlen(buf) - 1], '\n');
		n++;
	}
	fclose(fp);
	assert_int_equal(n, 2);
	expect(f, buf, AUDIT_INTACT, 0);        /* the last line */
	assert_int_equal(audit_head_append("/nonexistent/dir/x", "1:2\n",
	    &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/x"));
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_verify_ok),
		T(test_hash_is_documented_encoding),
		T(test_changed_field),
		T(test_changed_time),
		T(test_deleted_row),
		T(test_deleted_and_renumbered),
		T(test_swapped_rows),
		T(test_forged_row_in_gap),
		T(test_forged_row_appended),
		T(test_truncated),
		T(test_not_a_store),
		T(test_bad_args_refused),
		T(test_head_forms),
		T(test_head_append),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
