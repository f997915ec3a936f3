/*
 * event.c - the JSON form of events and nodes, shared by `watch`, `check
 * --format json`, export and (later) the store.  Field names here are part
 * of the command-line contract.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static const char *const event_kind_names[] = {
	[NX_EV_RESULT] = "result",
	[NX_EV_STATE] = "state",
	[NX_EV_HOST] = "host",
	[NX_EV_FLAPPING] = "flapping",
	[NX_EV_NODE] = "node",
	[NX_EV_CONFIG] = "config",
	[NX_EV_ACK] = "ack",
	[NX_EV_DOWNTIME] = "downtime",
	[NX_EV_JOB] = "job",
	[NX_EV_RULE] = "rule",
};

/*
 * A JSON string from untrusted bytes: invalid UTF-8 bytes become U+FFFD, so
 * the document stays valid whatever a plugin or a remote host printed.
 * Returns a new reference.
 */
json_t *
nx_json_text(const char *s)
{
	json_t *j;
	size_t len, i, o;
	char *buf;

	if (s == NULL)
		return json_null();
	len = strlen(s);
	if ((j = json_stringn(s, len)) != NULL)
		return j;
	buf = xmalloc(len * 3 + 1);
	for (i = 0, o = 0; i < len;) {
		size_t n = nx_utf8_valid_prefix((const unsigned char *)s + i,
		    len - i);

		if (n > 0) {
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j != NULL ? j : json_string("");
}

const char *
event_kind_name(enum nx_event_kind k)
{
	return (unsigned)k < NX_ARRAY_LEN(event_kind_names) ?
	    event_kind_names[k] : "?";
}

/* Returns a new reference. */
json_t *
event_to_json(const struct engine *e, const struct event *ev)
{
	const struct fleet *f = &e->fleet;
	json_t *o = json_object();

	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "time", json_real((double)ev->time / 1000.0));
	json_object_set_new(o, "kind", json_string(event_kind_name(ev->kind)));
	if (ev->node != NX_NONE && ev->node < f->nnodes)
		json_object_set_new(o, "node",
		    json_string(f->nodes[ev->node].name));
	if (ev->check != NX_NONE && ev->check < f->nchecks)
		json_object_set_new(o, "check",
		    json_string(f->checks[ev->check].name));
	switch (ev->kind) {
	case NX_EV_RESULT:
	case NX_EV_STATE:
		json_object_set_new(o, "state",
		    json_string(nx_state_name(ev->state)));
		json_object_set_new(o, "state_type",
		    json_string(ev->state_type == NX_HARD ? "HARD" : "SOFT"));
		json_object_set_new(o, "attempt", json_integer(ev->attempt));
		if (ev->kind == NX_EV_STATE)
			json_object_set_new(o, "prev_state",
			    json_string(nx_state_name(ev->prev_state)));
		break;
	case NX_EV_HOST:
		json_object_set_new(o, "state",
		    json_string(nx_host_state_name(ev->state)));
		json_object_set_new(o, "prev_state",
		    json_string(nx_host_state_name(ev->prev_state)));
		break;
	case NX_EV_FLAPPING:
		json_object_set_new(o, "flapping", json_boolean(ev->state));
		break;
	default:
		break;
	}
	if (ev->text != NULL)
		json_object_set_new(o, "output", nx_json_text(ev->text));
	return o;
}

static json_t *
metric_json(double v)
{
	return isnan(v) ? json_null() : json_real(round(v * 100.0) / 100.0);
}

static json_t *
perf_number(bool has, double v)
{
	return has && !isnan(v) ? json_real(v) : json_null();
}

/*
 * The perfdata of a check's output as an array of {label, value, uom,
 * warn, crit, min, max}: value null for `U`, warn and crit the range text,
 * absent fields null.  New reference.
 */
static json_t *
perfdata_json(const char *output)
{
	struct nx_plugin_output po;
	json_t *a = json_array();
	size_t i;

	if (output == NULL)
		return a;
	plugin_output_parse(output, strlen(output), &po);
	for (i = 0; i < po.nperf; i++) {
		const struct nx_perf *p = &po.perf[i];
		json_t *o = json_object();

		json_object_set_new(o, "label", nx_json_text(p->label));
		json_object_set_new(o, "value", perf_number(!p->undetermined,
		    p->value));
		json_object_set_new(o, "uom", json_string(p->uom));
		json_object_set_new(o, "warn", p->warn_text != NULL ?
		    nx_json_text(p->warn_text) : json_null());
		json_object_set_new(o, "crit", p->crit_text != NULL ?
		    nx_json_text(p->crit_text) : json_null());
		json_object_set_new(o, "min", perf_number(p->has_min, p->min));
		json_object_set_new(o, "max", perf_number(p->has_max, p->max));
		json_array_append_new(a, o);
	}
	plugin_output_free(&po);
	return a;
}

/* Returns a new reference: the node with its metrics and checks. */
json_t *
node_to_json(const struct engine *e, const struct node *n)
{
	const struct fleet *f = &e->fleet;
	json_t *o = json_object(), *groups = json_array(), *checks = json_array();
	json_t *metrics = json_object();
	uint16_t i;

	json_object_set_new(o, "name", nx_json_text(n->name));
	json_object_set_new(o, "address", nx_json_text(n->address));
	json_object_set_new(o, "provider",
	    json_string(n->provider ? n->provider->name : ""));
	for (i = 0; i < n->ngroups; i++)
		json_array_append_new(groups,
		    nx_json_text(f->groups[n->groups[i]]));
	json_object_set_new(o, "groups", groups);
	json_object_set_new(o, "host_state",
	    json_string(nx_host_state_name(n->host_state)));
	json_object_set_new(o, "health", json_string(nx_health_name(n->health)));
	for (i = 0; i < NX_M__COUNT; i++)
		json_object_set_new(metrics, nx_metric_name(i),
		    metric_json(n->m.v[i]));
	json_object_set_new(o, "metrics", metrics);
	for (i = 0; i < n->nchecks; i++) {
		const struct check *c = &f->checks[n->checks[i]];
		json_t *co = json_object();

		json_object_set_new(co, "name", nx_json_text(c->name));
		json_object_set_new(co, "kind", json_string(c->kind->name));
		json_object_set_new(co, "state", c->has_result ?
		    json_string(nx_state_name(c->state)) : json_string("PENDING"));
		json_object_set_new(co, "state_type",
		    json_string(c->state_type == NX_HARD ? "HARD" : "SOFT"));
		json_object_set_new(co, "attempt", json_integer(c->attempt));
		json_object_set_new(co, "max_attempts",
		    json_integer(c->max_attempts));
		json_object_set_new(co, "output", c->output ?
		    nx_json_text(c->output) : json_null());
		json_object_set_new(co, "perfdata", perfdata_json(c->output));
		json_array_append_new(checks, co);
	}
	json_object_set_new(o, "checks", checks);
	return o;
}
