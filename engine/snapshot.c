/*
 * snapshot.c - current state as a projection of the event log.
 *
 * A projection (struct snap_proj) is the state of every node and check,
 * keyed by name, plus the downtimes: what the monitor keeps in struct node
 * and struct check, without pointers into a fleet.  It is built three ways:
 *
 *  - from a live engine (snap_proj_from_engine, loop thread), to be written
 *    as the `snapshot` tables by the store's writer thread in the same
 *    transaction as the events it covers (snap_proj_write);
 *  - from a store file: the snapshot tables, then every event after the
 *    snapshot's seq replayed on top (snap_proj_load): "the tail";
 *  - and it is applied to a freshly loaded engine by name
 *    (snap_proj_restore), so a restarted engine continues with its hard
 *    states, acknowledgements, flapping history and downtimes.
 *
 * `nexusctl export` prints projections; a restored engine equals the
 * projection of its file by construction.
 */
#include "config.h"

#include <assert.h>

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "engine.h"

#define SNAP_FLAP_STATES 21
#define SNAP_FLAP_MASK ((1u << (SNAP_FLAP_STATES - 1)) - 1)

void
snap_proj_init(struct snap_proj *p)
{
	memset(p, 0, sizeof *p);
}

static void
snap_obj_free(struct snap_obj *o)
{
	free(o->node);
	free(o->check);
	free(o->output);
	free(o->ack_author);
	free(o->ack_comment);
}

void
snap_proj_free(struct snap_proj *p)
{
	size_t i;

	for (i = 0; i < p->nobjs; i++)
		snap_obj_free(&p->objs[i]);
	for (i = 0; i < p->ndts; i++) {
		free(p->dts[i].node);
		free(p->dts[i].check);
		free(p->dts[i].author);
		free(p->dts[i].comment);
	}
	free(p->objs);
	free(p->map);
	free(p->dts);
	memset(p, 0, sizeof *p);
}

static uint64_t
snap_key_hash(const char *node, const char *check)
{
	uint64_t h = 1469598103934665603ull;
	const unsigned char *s;

	for (s = (const unsigned char *)node; *s != '\0'; s++)
		h = (h ^ *s) * 1099511628211ull;
	h = (h ^ 0x1f) * 1099511628211ull;
	if (check != NULL) {
		for (s = (const unsigned char *)check; *s != '\0'; s++)
			h = (h ^ *s) * 1099511628211ull;
	}
	return nx_hash64(h);
}

static bool
snap_obj_is(const struct snap_obj *o, const char *node, const char *check)
{
	if (strcmp(o->node, node) != 0)
		return false;
	if (check == NULL || o->check == NULL)
		return check == NULL && o->check == NULL;
	return strcmp(o->check, check) == 0;
}

static void
snap_map_grow(struct snap_proj *p)
{
	size_t n = p->nmap ? p->nmap * 2 : 1024, i;

	free(p->map);
	p->map = xcalloc(n, sizeof *p->map);
	p->nmap = n;
	for (i = 0; i < p->nobjs; i++) {
		size_t k = (size_t)snap_key_hash(p->objs[i].node,
		    p->objs[i].check) & (n - 1);

		while (p->map[k] != 0)
			k = (k + 1) & (n - 1);
		p->map[k] = (uint32_t)i + 1;
	}
}

/* The object (node when check is NULL), or NULL. */
struct snap_obj *
snap_proj_find(const struct snap_proj *p, const char *node, const char *check)
{
	size_t k;

	if (p->nmap == 0)
		return NULL;
	k = (size_t)snap_key_hash(node, check) & (p->nmap - 1);
	while (p->map[k] != 0) {
		struct snap_obj *o = &p->objs[p->map[k] - 1];

		if (snap_obj_is(o, node, check))
			return o;
		k = (k + 1) & (p->nmap - 1);
	}
	return NULL;
}

/*
 * The object named (node, check), created zeroed when new.  Names are
 * copied.  Pointers into p->objs are valid until the next call.
 */
struct snap_obj *
snap_proj_get(struct snap_proj *p, const char *node, const char *check)
{
	struct snap_obj *o = snap_proj_find(p, node, check);
	size_t k;

	if (o != NULL)
		return o;
	if ((p->nobjs + 1) * 2 > p->nmap)
		snap_map_grow(p);
	if (p->nobjs == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->objs = xreallocarray(p->objs, p->cap, sizeof *p->objs);
	}
	o = &p->objs[p->nobjs];
	memset(o, 0, sizeof *o);
	o->node = xstrdup(node);
	o->check = check != NULL ? xstrdup(check) : NULL;
	k = (size_t)snap_key_hash(node, check) & (p->nmap - 1);
	while (p->map[k] != 0)
		k = (k + 1) & (p->nmap - 1);
	p->map[k] = (uint32_t)++p->nobjs;
	return o;
}

static char *
snap_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
snap_set_ack(struct snap_obj *o, const struct nx_ack *a)
{
	o->ack_type = a->type;
	o->ack_author = snap_dup(a->author);
	o->ack_comment = snap_dup(a->comment);
	o->ack_time = a->time;
	o->ack_expires = a->expires;
}

/*
 * Fills p (empty) with the state of every node, check and downtime of e
 * as it is now; seq is the last event this state includes.  Nodes and
 * checks an inventory reload removed (node.removed, check.removed) are
 * left out: they are in no view and no export, and a complete snapshot
 * (the store takes one at each reload) drops their rows.  Loop thread.
 */
void
snap_proj_from_engine(struct snap_proj *p, const struct engine *e,
    uint64_t seq)
{
	snap_proj_from_engine_dirty(p, e, seq, NULL, 0, NULL, 0);
}

/*
 * As snap_proj_from_engine, but with dirty_nodes (nnodes flags) and
 * dirty_checks (nchecks flags) not NULL, only the nodes and checks whose
 * flag is set, and ids past the arrays (added since): an incremental
 * snapshot (p->partial), written over the previous one.  Downtimes are
 * always all there.
 */
void
snap_proj_from_engine_dirty(struct snap_proj *p, const struct engine *e,
    uint64_t seq, const uint8_t *dirty_nodes, uint32_t nnodes,
    const uint8_t *dirty_checks, uint32_t nchecks)
{
	const struct fleet *f = &e->fleet;
	uint32_t i;
	size_t d;

	p->snap_seq = p->last_seq = seq;
	p->snap_time = engine_now(e);
	p->partial = dirty_nodes != NULL;
	for (i = 0; i < f->nnodes; i++) {
		const struct node *n = &f->nodes[i];
		struct snap_obj *o;

		if (dirty_nodes != NULL && i < nnodes && !dirty_nodes[i])
			continue;
		if (n->removed)
			continue;       /* an inventory reload took it away */
		o = snap_proj_get(p, n->name, NULL);

		o->state = n->host_state;
		snap_set_ack(o, &n->ack);
	}
	for (i = 0; i < f->nchecks; i++) {
		const struct check *c = &f->checks[i];
		struct snap_obj *o;

		if (dirty_checks != NULL && i < nchecks && !dirty_checks[i])
			continue;
		if (c->removed || f->nodes[c->node].removed)
			continue;
		o = snap_proj_get(p, f->nodes[c->node].name, c->name);

		o->state = c->state;
		o->state_type = c->state_type;
		o->attempt = c->attempt;
		o->last_hard_state = c->last_hard_state;
		o->has_result = c->has_result;
		o->flapping = c->flapping;
		o->flap_ring = c->flap_ring;
		o->flap_count = c->flap_count;
		o->flap_last = c->flap_last;
		o->last_check = c->last_check;
		o->last_change = c->last_change;
		o->last_hard_change = c->last_hard_change;
		o->output = snap_dup(c->output);
		snap_set_ack(o, &c->ack);
	}
	p->dts = xcalloc(e->mon.ndowntimes + 1, sizeof *p->dts);
	for (d = 0; d < e->mon.ndowntimes; d++) {
		const struct nx_downtime *dt = &e->mon.downtimes[d];
		struct snap_downtime *s = &p->dts[p->ndts++];
		const struct check *c = dt->check != NX_NONE ?
		    &f->checks[dt->check] : NULL;

		s->id = dt->id;
		s->node = xstrdup(f->nodes[c != NULL ? c->node : dt->node].name);
		s->check = c != NULL ? xstrdup(c->name) : NULL;
		s->start = dt->start;
		s->end = dt->end;
		s->duration_ms = dt->duration_ms;
		s->fixed = dt->fixed;
		s->in_effect = dt->in_effect;
		s->began = dt->began;
		s->author = snap_dup(dt->author);
		s->comment = snap_dup(dt->comment);
	}
}

/* ---------------------------------------------------------------------- */
/* Writing (the store's writer thread, inside its transaction)            */

static void
snap_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int
snap_sql_fail(sqlite3 *db, int rc, struct nx_err *err)
{
	nx_err_set(err, "writing the snapshot: %s", rc == SQLITE_OK ?
	    "?" : sqlite3_errmsg(db));
	return -1;
}

/*
 * Replaces the snapshot tables with p (a partial p replaces only its own
 * rows) and records the seq it covers in meta.  Runs inside the caller's
 * transaction.  Returns 0 or -1 with err.
 */
int
snap_proj_write(const struct snap_proj *p, sqlite3 *db, struct nx_err *err)
{
	sqlite3_stmt *st = NULL;
	char sql[160];
	size_t i;
	int rc;

	if ((rc = sqlite3_exec(db, p->partial ? "DELETE FROM "
	    "snapshot_downtimes" : "DELETE FROM snapshot; DELETE FROM "
	    "snapshot_downtimes", NULL, NULL, NULL)) != SQLITE_OK)
		return snap_sql_fail(db, rc, err);
	if ((rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snapshot (node, "
	    "\"check\", state, state_type, attempt, last_hard_state, "
	    "has_result, flapping, flap_ring, flap_count, flap_last, "
	    "last_check, last_change, last_hard_change, output, ack_type, "
	    "ack_author, ack_comment, ack_time, ack_expires) VALUES (?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st,
	    NULL)) != SQLITE_OK)
		return snap_sql_fail(db, rc, err);
	for (i = 0; i < p->nobjs; i++) {
		const struct snap_obj *o = &p->objs[i];

		sqlite3_bind_text(st, 1, o->node, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, o->check ? o->check : "", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(st, 3, o->state);
		sqlite3_bind_int(st, 4, o->state_type);
		sqlite3_bind_int(st, 5, o->attempt);
		sqlite3_bind_int(st, 6, o->last_hard_state);
		sqlite3_bind_int(st, 7, o->has_result);
		sqlite3_bind_int(st, 8, o->flapping);
		sqlite3_bind_int64(st, 9, o->flap_ring);
		sqlite3_bind_int(st, 10, o->flap_count);
		sqlite3_bind_int(st, 11, o->flap_last);
		sqlite3_bind_int64(st, 12, o->last_check);
		sqlite3_bind_int64(st, 13, o->last_change);
		sqlite3_bind_int64(st, 14, o->last_hard_change);
		snap_bind_text(st, 15, o->output);
		sqlite3_bind_int(st, 16, o->ack_type);
		snap_bind_text(st, 17, o->ack_author);
		snap_bind_text(st, 18, o->ack_comment);
		sqlite3_bind_int64(st, 19, o->ack_time);
		sqlite3_bind_int64(st, 20, o->ack_expires);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	if ((rc = sqlite3_prepare_v2(db, "INSERT INTO snapshot_downtimes (id, "
	    "node, \"check\", start, \"end\", duration_ms, fixed, in_effect, "
	    "began, author, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    -1, &st, NULL)) != SQLITE_OK)
		return snap_sql_fail(db, rc, err);
	for (i = 0; i < p->ndts; i++) {
		const struct snap_downtime *d = &p->dts[i];

		sqlite3_bind_int64(st, 1, d->id);
		sqlite3_bind_text(st, 2, d->node, -1, SQLITE_STATIC);
		snap_bind_text(st, 3, d->check);
		sqlite3_bind_int64(st, 4, d->start);
		sqlite3_bind_int64(st, 5, d->end);
		sqlite3_bind_int64(st, 6, d->duration_ms);
		sqlite3_bind_int(st, 7, d->fixed);
		sqlite3_bind_int(st, 8, d->in_effect);
		sqlite3_bind_int64(st, 9, d->began);
		snap_bind_text(st, 10, d->author);
		snap_bind_text(st, 11, d->comment);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta (key, value) "
	    "VALUES ('snapshot_seq', '%llu'), ('snapshot_time', '%lld')",
	    (unsigned long long)p->snap_seq, (long long)p->snap_time);
	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return snap_sql_fail(db, rc, err);
	return 0;
fail:
	snap_sql_fail(db, rc, err);
	sqlite3_finalize(st);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Loading: snapshot + tail                                                */

static char *
snap_col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s != NULL ? xstrdup(s) : NULL;
}

static int
snap_state_of(const char *name)
{
	enum nx_state s;

	if (name != NULL && nx_state_from_name(name, &s) == 0)
		return (int)s;
	return -1;
}

static int
snap_host_state_of(const char *name)
{
	int i;

	for (i = NX_HOST_UP; i <= NX_HOST_UNREACHABLE; i++) {
		if (name != NULL && strcmp(nx_host_state_name(i), name) == 0)
			return i;
	}
	return -1;
}

static const char *
snap_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
snap_replace(char **dst, const char *s)
{
	free(*dst);
	*dst = snap_dup(s);
}

/*
 * Applies one stored event to the projection, as the monitor applied it
 * to the engine: results move state, attempt, output and the flap ring;
 * state events the change times; flapping, host and acknowledgement
 * events their fields; node events (an inventory reload) mark a node
 * removed or present again.  Downtime events need nothing: every downtime
 * change triggers a snapshot (store.c).
 */
int
snap_proj_apply(struct snap_proj *p, const struct store_event_row *r)
{
	struct snap_obj *o;
	json_t *j;
	int st;

	p->last_seq = r->seq;
	p->tail++;
	if (r->node == NULL || r->payload == NULL)
		return 0;
	if (strcmp(r->kind, "result") != 0 && strcmp(r->kind, "state") != 0 &&
	    strcmp(r->kind, "flapping") != 0 && strcmp(r->kind, "host") != 0 &&
	    strcmp(r->kind, "ack") != 0 && strcmp(r->kind, "node") != 0)
		return 0;
	if ((j = json_loads(r->payload, 0, NULL)) == NULL)
		return 0;
	if (strcmp(r->kind, "node") == 0) {
		/* An inventory reload: "removed", "added" or "changed". */
		const char *what = snap_jstr(j, "output");
		bool gone = what != NULL && strcmp(what, "removed") == 0;

		if (r->check == NULL && (gone || snap_proj_find(p, r->node,
		    NULL) != NULL))
			snap_proj_get(p, r->node, NULL)->removed = gone;
		json_decref(j);
		return 0;
	}
	o = snap_proj_get(p, r->node, r->check);
	if (strcmp(r->kind, "result") == 0 && r->check != NULL &&
	    (st = snap_state_of(snap_jstr(j, "state"))) >= 0) {
		const char *t = snap_jstr(j, "state_type");
		uint8_t type = t != NULL && strcmp(t, "HARD") == 0 ? NX_HARD :
		    NX_SOFT;

		if (!o->has_result)
			o->last_change = o->last_hard_change = r->time;
		o->has_result = true;
		o->state = (uint8_t)st;
		o->state_type = type;
		o->attempt = (uint8_t)json_integer_value(json_object_get(j,
		    "attempt"));
		o->last_check = r->time;
		snap_replace(&o->output, snap_jstr(j, "output"));
		if (type == NX_HARD)
			o->last_hard_state = (uint8_t)st;
		/* The monitor's flap ring: HARD states and recoveries only. */
		if (!(type == NX_SOFT && st != NX_OK)) {
			o->flap_ring = ((o->flap_ring << 1) |
			    ((uint8_t)st != o->flap_last)) & SNAP_FLAP_MASK;
			o->flap_last = (uint8_t)st;
			if (o->flap_count < SNAP_FLAP_STATES)
				o->flap_count++;
		}
	} else if (strcmp(r->kind, "state") == 0 && r->check != NULL) {
		json_t *lc = json_object_get(j, "last_change");
		json_t *lh = json_object_get(j, "last_hard_change");

		if (json_is_integer(lc))
			o->last_change = json_integer_value(lc);
		if (json_is_integer(lh))
			o->last_hard_change = json_integer_value(lh);
	} else if (strcmp(r->kind, "flapping") == 0) {
		o->flapping = json_is_true(json_object_get(j, "flapping"));
	} else if (strcmp(r->kind, "host") == 0 && r->check == NULL &&
	    (st = snap_host_state_of(snap_jstr(j, "state"))) >= 0) {
		o->state = (uint8_t)st;
	} else if (strcmp(r->kind, "ack") == 0) {
		free(o->ack_author);
		free(o->ack_comment);
		o->ack_author = o->ack_comment = NULL;
		o->ack_type = NX_ACK_NONE;
		o->ack_time = o->ack_expires = 0;
		if (json_is_true(json_object_get(j, "set"))) {
			const char *t = snap_jstr(j, "ack_type");

			o->ack_type = t != NULL && strcmp(t, "sticky") == 0 ?
			    NX_ACK_STICKY : NX_ACK_NORMAL;
			o->ack_author = snap_dup(snap_jstr(j, "author"));
			o->ack_comment = snap_dup(snap_jstr(j, "comment"));
			o->ack_time = json_integer_value(json_object_get(j,
			    "ack_time"));
			o->ack_expires = json_integer_value(json_object_get(j,
			    "expires"));
		}
	}
	json_decref(j);
	return 0;
}

static int
snap_load_fail(sqlite3 *db, int rc, struct nx_err *err)
{
	nx_err_set(err, "%s: reading the snapshot: %s", sqlite3_db_filename(db,
	    "main"), rc == SQLITE_OK ? "?" : sqlite3_errmsg(db));
	return -1;
}

/*
 * Reads the snapshot tables of db into p (empty) and replays every event
 * after the snapshot's seq.  db is a reader connection of a store file at
 * schema version 2 or later; the read is one transaction, so a writer
 * committing meanwhile does not tear it.  Returns 0 or -1 with err.
 */
static int snap_load(struct snap_proj *, sqlite3 *, const char *,
    struct nx_err *);

#define SNAP_SELECT "SELECT node, \"check\", state, state_type, attempt, " \
	"last_hard_state, has_result, flapping, flap_ring, flap_count, " \
	"flap_last, last_check, last_change, last_hard_change, output, " \
	"ack_type, ack_author, ack_comment, ack_time, ack_expires FROM snapshot"

/*
 * Reads the rows of a SNAP_SELECT statement into p; returns the last
 * sqlite3_step code (SQLITE_DONE when all went well).
 */
static int
snap_read_objs(struct snap_proj *p, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 0);
		const char *check = (const char *)sqlite3_column_text(st, 1);
		struct snap_obj *o;

		if (node == NULL)
			continue;
		o = snap_proj_get(p, node, check != NULL && *check != '\0' ?
		    check : NULL);
		o->state = (uint8_t)sqlite3_column_int(st, 2);
		o->state_type = (uint8_t)sqlite3_column_int(st, 3);
		o->attempt = (uint8_t)sqlite3_column_int(st, 4);
		o->last_hard_state = (uint8_t)sqlite3_column_int(st, 5);
		o->has_result = sqlite3_column_int(st, 6) != 0;
		o->flapping = sqlite3_column_int(st, 7) != 0;
		o->flap_ring = (uint32_t)sqlite3_column_int64(st, 8);
		o->flap_count = (uint8_t)sqlite3_column_int(st, 9);
		o->flap_last = (uint8_t)sqlite3_column_int(st, 10);
		o->last_check = sqlite3_column_int64(st, 11);
		o->last_change = sqlite3_column_int64(st, 12);
		o->last_hard_change = sqlite3_column_int64(st, 13);
		o->output = snap_col_text(st, 14);
		o->ack_type = (uint8_t)sqlite3_column_int(st, 15);
		o->ack_author = snap_col_text(st, 16);
		o->ack_comment = snap_col_text(st, 17);
		o->ack_time = sqlite3_column_int64(st, 18);
		o->ack_expires = sqlite3_column_int64(st, 19);
	}
	return rc;
}

/*
 * Replays the rows of a tail statement (seq, time, kind, node, check,
 * payload in seq order) into p; returns the last sqlite3_step code.
 */
static int
snap_read_tail(struct snap_proj *p, sqlite3_stmt *st)
{
	struct store_event_row row;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.seq = (uint64_t)sqlite3_column_int64(st, 0);
		row.time = sqlite3_column_int64(st, 1);
		row.kind = (const char *)sqlite3_column_text(st, 2);
		row.node = (const char *)sqlite3_column_text(st, 3);
		row.check = (const char *)sqlite3_column_text(st, 4);
		row.payload = (const char *)sqlite3_column_text(st, 5);
		if (row.kind != NULL)
			snap_proj_apply(p, &row);
	}
	return rc;
}

int
snap_proj_load(struct snap_proj *p, sqlite3 *db, struct nx_err *err)
{
	return snap_load(p, db, NULL, err);
}

/*
 * snap_proj_load for one node: its snapshot rows (the node and its
 * checks) and its events after the snapshot (index events_node), no
 * downtimes.  The point read of store_node_state().
 */
int
snap_proj_load_node(struct snap_proj *p, sqlite3 *db, const char *node,
    struct nx_err *err)
{
	return snap_load(p, db, node, err);
}

/*
 * The point read's statements, prepared once per reader connection
 * (SQLITE_PREPARE_PERSISTENT): parsing and planning four statements cost
 * as much as the read itself.  Owned by the caller of
 * snap_reader_load_node, freed with snap_reader_free before the
 * connection is closed.
 */
struct snap_reader {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *rollback, *meta, *objs, *tail;
};

void
snap_reader_free(struct snap_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->begin);
	sqlite3_finalize(r->commit);
	sqlite3_finalize(r->rollback);
	sqlite3_finalize(r->meta);
	sqlite3_finalize(r->objs);
	sqlite3_finalize(r->tail);
	free(r);
}

/* Prepares the statements; NULL when the file has no snapshot tables. */
static struct snap_reader *
snap_reader_new(sqlite3 *db)
{
	static const unsigned fl = SQLITE_PREPARE_PERSISTENT;
	struct snap_reader *r = xcalloc(1, sizeof *r);

	r->db = db;
	if (sqlite3_prepare_v3(db, "BEGIN", -1, fl, &r->begin, NULL) ||
	    sqlite3_prepare_v3(db, "COMMIT", -1, fl, &r->commit, NULL) ||
	    sqlite3_prepare_v3(db, "ROLLBACK", -1, fl, &r->rollback, NULL) ||
	    sqlite3_prepare_v3(db, "SELECT (SELECT value FROM meta WHERE key "
	    "= 'snapshot_seq'), (SELECT value FROM meta WHERE key = "
	    "'snapshot_time')", -1, fl, &r->meta, NULL) ||
	    sqlite3_prepare_v3(db, SNAP_SELECT " WHERE node = ?1", -1, fl,
	    &r->objs, NULL) ||
	    sqlite3_prepare_v3(db, "SELECT seq, time, kind, node, \"check\", "
	    "payload FROM events WHERE node = ?2 AND seq > ?1 ORDER BY seq",
	    -1, fl, &r->tail, NULL)) {
		snap_reader_free(r);
		return NULL;
	}
	return r;
}

/*
 * snap_proj_load_node with the statements cached in *rp (created on the
 * first call; a file without snapshot tables, schema version 1, takes the
 * uncached path).  *rp belongs to db and the caller frees it with
 * snap_reader_free before closing db.  Returns 0 or -1 with err.
 */
int
snap_reader_load_node(struct snap_reader **rp, sqlite3 *db, const char *node,
    struct snap_proj *p, struct nx_err *err)
{
	struct snap_reader *r = *rp;
	int rc;

	if (r == NULL && (r = *rp = snap_reader_new(db)) == NULL)
		return snap_load(p, db, node, err);
	assert(r->db == db);
	if ((rc = sqlite3_step(r->begin)) != SQLITE_DONE) {
		sqlite3_reset(r->begin);
		return snap_load_fail(db, rc, err);
	}
	sqlite3_reset(r->begin);
	if ((rc = sqlite3_step(r->meta)) == SQLITE_ROW) {
		p->snap_seq = (uint64_t)sqlite3_column_int64(r->meta, 0);
		p->snap_time = sqlite3_column_int64(r->meta, 1);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(r->meta);
	p->last_seq = p->snap_seq;
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_bind_text(r->objs, 1, node, -1, SQLITE_STATIC);
	rc = snap_read_objs(p, r->objs);
	sqlite3_reset(r->objs);
	sqlite3_clear_bindings(r->objs);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_bind_int64(r->tail, 1, (sqlite3_int64)p->snap_seq);
	sqlite3_bind_text(r->tail, 2, node, -1, SQLITE_STATIC);
	rc = snap_read_tail(p, r->tail);
	sqlite3_reset(r->tail);
	sqlite3_clear_bindings(r->tail);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_step(r->commit);
	sqlite3_reset(r->commit);
	return 0;
fail:
	snap_load_fail(db, rc, err);
	sqlite3_step(r->rollback);
	sqlite3_reset(r->rollback);
	return -1;
}

static int
snap_load(struct snap_proj *p, sqlite3 *db, const char *only,
    struct nx_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	bool has_snapshot = false;

	if ((rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return snap_load_fail(db, rc, err);
	/* A file of schema version 1 has events and no snapshot yet. */
	if ((rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'snapshot'", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		has_snapshot = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	st = NULL;
	if (!has_snapshot)
		goto tail;
	if ((rc = sqlite3_prepare_v2(db, "SELECT (SELECT value FROM meta WHERE "
	    "key = 'snapshot_seq'), (SELECT value FROM meta WHERE key = "
	    "'snapshot_time')", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW) {
		p->snap_seq = (uint64_t)sqlite3_column_int64(st, 0);
		p->snap_time = sqlite3_column_int64(st, 1);
	}
	p->last_seq = p->snap_seq;
	sqlite3_finalize(st);
	/* Two statements: "?1 IS NULL OR node = ?1" would not use the key. */
	if ((rc = sqlite3_prepare_v2(db, only == NULL ? SNAP_SELECT :
	    SNAP_SELECT " WHERE node = ?1", -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	if (only != NULL)
		sqlite3_bind_text(st, 1, only, -1, SQLITE_STATIC);
	rc = snap_read_objs(p, st);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (only != NULL)
		goto tail;
	if ((rc = sqlite3_prepare_v2(db, "SELECT id, node, \"check\", start, "
	    "\"end\", duration_ms, fixed, in_effect, began, author, comment "
	    "FROM snapshot_downtimes ORDER BY id", -1, &st, NULL)) !=
	    SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct snap_downtime *d;

		p->dts = xreallocarray(p->dts, p->ndts + 1, sizeof *p->dts);
		d = &p->dts[p->ndts++];
		memset(d, 0, sizeof *d);
		d->id = (uint32_t)sqlite3_column_int64(st, 0);
		d->node = snap_col_text(st, 1);
		d->check = snap_col_text(st, 2);
		d->start = sqlite3_column_int64(st, 3);
		d->end = sqlite3_column_int64(st, 4);
		d->duration_ms = (uint32_t)sqlite3_column_int64(st, 5);
		d->fixed = sqlite3_column_int(st, 6) != 0;
		d->in_effect = sqlite3_column_int(st, 7) != 0;
		d->began = sqlite3_column_int64(st, 8);
		d->author = snap_col_text(st, 9);
		d->comment = snap_col_text(st, 10);
		if (d->node == NULL)
			d->node = xstrdup("");
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);

tail:
	/* The tail: every event after the snapshot, in order. */
	if ((rc = sqlite3_prepare_v2(db, only == NULL ? "SELECT seq, time, "
	    "kind, node, \"check\", payload FROM events WHERE seq > ?1 "
	    "ORDER BY seq" : "SELECT seq, time, kind, node, \"check\", "
	    "payload FROM events WHERE node = ?2 AND seq > ?1 ORDER BY seq",
	    -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)p->snap_seq);
	if (only != NULL)
		sqlite3_bind_text(st, 2, only, -1, SQLITE_STATIC);
	rc = snap_read_tail(p, st);
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return 0;
fail:
	snap_load_fail(db, rc, err);
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Restoring an engine                                                     */

static void
snap_restore_ack(struct engine *e, struct nx_ack *a, const struct snap_obj *o)
{
	memset(a, 0, sizeof *a);
	if (o->ack_type == NX_ACK_NONE)
		return;
	a->type = o->ack_type;
	a->author = o->ack_author ? strpool_intern(&e->fleet.strings,
	    o->ack_author) : NULL;
	a->comment = o->ack_comment ? strpool_intern(&e->fleet.strings,
	    o->ack_comment) : NULL;
	a->time = o->ack_time;
	a->expires = o->ack_expires;
	if (a->expires != 0 && (e->mon.next_ack_expiry == 0 ||
	    a->expires < e->mon.next_ack_expiry))
		e->mon.next_ack_expiry = a->expires;
}

/* A name -> node id table for the restore (fleet_find_node is linear). */
struct snap_nodes {
	uint32_t *slots;                /* id + 1 */
	size_t n;
};

static void
snap_nodes_build(struct snap_nodes *t, const struct fleet *f)
{
	uint32_t i;

	t->n = 1024;
	while (t->n < (size_t)f->nnodes * 2)
		t->n *= 2;
	t->slots = xcalloc(t->n, sizeof *t->slots);
	for (i = 0; i < f->nnodes; i++) {
		size_t k = (size_t)snap_key_hash(f->nodes[i].name, NULL) &
		    (t->n - 1);

		while (t->slots[k] != 0)
			k = (k + 1) & (t->n - 1);
		t->slots[k] = i + 1;
	}
}

static struct node *
snap_nodes_find(const struct snap_nodes *t, struct fleet *f, const char *name)
{
	size_t k = (size_t)snap_key_hash(name, NULL) & (t->n - 1);

	while (t->slots[k] != 0) {
		struct node *n = &f->nodes[t->slots[k] - 1];

		if (strcmp(n->name, name) == 0)
			return n;
		k = (k + 1) & (t->n - 1);
	}
	return NULL;
}

static struct check *
snap_node_check(struct fleet *f, const struct node *n, const char *name)
{
	uint16_t i;

	for (i = 0; i < n->nchecks; i++) {
		if (strcmp(f->checks[n->checks[i]].name, name) == 0)
			return &f->checks[n->checks[i]];
	}
	return NULL;
}

/*
 * Gives the nodes and checks of e (loaded, not started) the state recorded
 * in p, matched by (node name, check name); objects e does not have are
 * counted in st->unknown and ignored.  Downtimes are restored with their
 * ids and whether they are in effect; health is recomputed.
 */
void
snap_proj_restore(const struct snap_proj *p, struct engine *e,
    struct snap_restore_stats *st)
{
	struct fleet *f = &e->fleet;
	struct snap_nodes t;
	size_t i;
	uint32_t n;
	nx_time now = engine_now(e);

	memset(st, 0, sizeof *st);
	snap_nodes_build(&t, f);
	for (i = 0; i < p->nobjs; i++) {
		const struct snap_obj *o = &p->objs[i];
		struct node *nd = snap_nodes_find(&t, f, o->node);
		struct check *c;

		if (nd == NULL) {
			st->unknown++;
			continue;
		}
		if (o->check == NULL) {
			nd->host_state = o->state <= NX_HOST_UNREACHABLE ?
			    o->state : NX_HOST_UP;
			snap_restore_ack(e, &nd->ack, o);
			st->nodes++;
			continue;
		}
		if ((c = snap_node_check(f, nd, o->check)) == NULL) {
			st->unknown++;
			continue;
		}
		c->state = o->state <= NX_UNKNOWN ? o->state : NX_UNKNOWN;
		c->state_type = o->state_type;
		c->attempt = o->attempt;
		c->last_hard_state = o->last_hard_state;
		c->has_result = o->has_result;
		c->flapping = o->flapping;
		c->flap_ring = o->flap_ring & SNAP_FLAP_MASK;
		c->flap_count = o->flap_count;
		c->flap_last = o->flap_last;
		c->flap_pct = (float)mon_flap_percent(c->flap_ring);
		c->last_check = o->last_check;
		c->last_change = o->last_change;
		c->last_hard_change = o->last_hard_change;
		if (o->output != NULL) {
			size_t len = strlen(o->output);

			free(c->output);
			c->output_cap = (uint32_t)(len < 63 ? 64 : len + 1);
			c->output = xmalloc(c->output_cap);
			memcpy(c->output, o->output, len + 1);
		}
		snap_restore_ack(e, &c->ack, o);
		st->checks++;
	}
	for (i = 0; i < p->ndts; i++) {
		const struct snap_downtime *d = &p->dts[i];
		struct node *nd = snap_nodes_find(&t, f, d->node);
		struct check *c = NULL;
		struct nx_downtime *x;

		if (nd == NULL || (d->check != NULL &&
		    (c = snap_node_check(f, nd, d->check)) == NULL)) {
			st->unknown++;
			continue;
		}
		if (e->mon.ndowntimes == e->mon.downtimes_cap) {
			e->mon.downtimes_cap = e->mon.downtimes_cap ?
			    e->mon.downtimes_cap * 2 : 16;
			e->mon.downtimes = xreallocarray(e->mon.downtimes,
			    e->mon.downtimes_cap, sizeof *e->mon.downtimes);
		}
		x = &e->mon.downtimes[e->mon.ndowntimes++];
		memset(x, 0, sizeof *x);
		x->id = d->id;
		x->node = c != NULL ? NX_NONE : nd->id;
		x->check = c != NULL ? c->id : NX_NONE;
		x->start = d->start;
		x->end = d->end;
		x->duration_ms = d->duration_ms;
		x->fixed = d->fixed;
		x->in_effect = d->in_effect;
		x->began = d->began;
		x->author = d->author ? strpool_intern(&f->strings, d->author) :
		    NULL;
		x->comment = d->comment ? strpool_intern(&f->strings,
		    d->comment) : NULL;
		if (x->in_effect) {
			if (c != NULL)
				c->downtime_depth++;
			else
				nd->downtime_depth++;
		}
		if (x->id > e->mon.next_downtime_id)
			e->mon.next_downtime_id = x->id;
		st->downtimes++;
	}
	for (n = 0; n < f->nnodes; n++)
		fleet_set_health(f, &f->nodes[n],
		    node_compute_health(f, &f->nodes[n]), now);
	st->snap_seq = p->snap_seq;
	st->last_seq = p->last_seq;
	st->tail = p->tail;
	free(t.slots);
}

/* ---------------------------------------------------------------------- */
/* Digest                                                                  */

static uint64_t
snap_mix_str(uint64_t h, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "\x01null");

	for (; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull;
}

static uint64_t
snap_mix(uint64_t h, uint64_t v)
{
	return nx_hash64(h ^ v) + 0x9e3779b97f4a7c15ull;
}

/*
 * Whether o is gone from the fleet: a node removed by an inventory reload
 * after p's snapshot (a `node` event "removed" in the tail), or a check
 * of such a node.  Views and exports skip it.
 */
bool
snap_obj_removed(const struct snap_proj *p, const struct snap_obj *o)
{
	const struct snap_obj *n;

	if (o->removed)
		return true;
	return o->check != NULL && (n = snap_proj_find(p, o->node, NULL)) !=
	    NULL && n->removed;
}

/*
 * An order-independent digest of p: equal projections have equal digests,
 * so a restored engine (snap_proj_from_engine) can be compared with the
 * projection of its file.  Objects in their initial state (a node UP and
 * not acknowledged, a check with no result and nothing else) are left
 * out, as a file does not list what never happened; so are removed ones
 * (snap_obj_removed), as an engine leaves them out.
 */
uint64_t
snap_proj_digest(const struct snap_proj *p)
{
	uint64_t sum = 0, h;
	size_t i;

	for (i = 0; i < p->nobjs; i++) {
		const struct snap_obj *o = &p->objs[i];

		if (snap_obj_removed(p, o))
			continue;
		if (o->check == NULL && o->state == NX_HOST_UP &&
		    o->ack_type == NX_ACK_NONE)
			continue;
		if (o->check != NULL && !o->has_result && !o->flapping &&
		    o->flap_ring == 0 && o->ack_type == NX_ACK_NONE)
			continue;
		h = snap_mix_str(1469598103934665603ull, o->node);
		h = snap_mix_str(h, o->check);
		h = snap_mix(h, o->state);
		h = snap_mix(h, o->ack_type);
		h = snap_mix_str(h, o->ack_author);
		h = snap_mix_str(h, o->ack_comment);
		h = snap_mix(h, (uint64_t)o->ack_time);
		h = snap_mix(h, (uint64_t)o->ack_expires);
		if (o->check != NULL) {
			h = snap_mix(h, o->state_type);
			h = snap_mix(h, o->attempt);
			h = snap_mix(h, o->last_hard_state);
			h = snap_mix(h, o->has_result);
			h = snap_mix(h, o->flapping);
			h = snap_mix(h, o->flap_ring);
			h = snap_mix(h, o->flap_count);
			h = snap_mix(h, o->flap_last);
			h = snap_mix(h, (uint64_t)o->last_check);
			h = snap_mix(h, (uint64_t)o->last_change);
			h = snap_mix(h, (uint64_t)o->last_hard_change);
			h = snap_mix_str(h, o->output);
		}
		sum += h;
	}
	for (i = 0; i < p->ndts; i++) {
		const struct snap_downtime *d = &p->dts[i];

		h = snap_mix(0x5eed, d->id);
		h = snap_mix_str(h, d->node);
		h = snap_mix_str(h, d->check);
		h = snap_mix(h, (uint64_t)d->start);
		h = snap_mix(h, (uint64_t)d->end);
		h = snap_mix(h, d->duration_ms);
		h = snap_mix(h, d->fixed);
		h = snap_mix(h, d->in_effect);
		h = snap_mix(h, (uint64_t)d->began);
		sum += h;
	}
	return sum;
}
