/*
 * test_bus.c - sequence numbers, delivery order, unsubscribe, and the JSON
 * form of events (including untrusted, invalid UTF-8 text).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

struct rec {
	uint64_t seqs[8];
	int n;
	int tag;
	int *order;
	int *norder;
};

static void
record(void *arg, const struct event *ev)
{
	struct rec *r = arg;

	r->seqs[r->n++] = ev->seq;
	r->order[(*r->norder)++] = r->tag;
}

static void
test_seq_and_order(void **state)
{
	struct bus b;
	struct event ev = { .kind = NX_EV_RESULT };
	int order[16], norder = 0;
	struct rec a = { .tag = 1, .order = order, .norder = &norder };
	struct rec c = { .tag = 2, .order = order, .norder = &norder };

	bus_init(&b);
	bus_subscribe(&b, record, &a);
	bus_subscribe(&b, record, &c);
	assert_int_equal(bus_publish(&b, &ev), 1);
	assert_int_equal(bus_publish(&b, &ev), 2);
	bus_unsubscribe(&b, record, &a);
	assert_int_equal(bus_publish(&b, &ev), 3);
	assert_int_equal(a.n, 2);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[2], 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(b.count[NX_EV_RESULT], 3);
	bus_free(&b);
}

static void
test_json_text_sanitises(void **state)
{
	json_t *j = nx_json_text("ok \xff\xfe bad \xc0\xaf end \xe2\x82\xac");

	assert_non_null(j);
	assert_string_equal(json_string_value(j),
	    "ok \xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd end \xe2\x82\xac");
	json_decref(j);
}

static void
test_utf8_prefix(void **state)
{
	assert_int_equal(nx_utf8_valid_prefix((const unsigned char *)"abc", 3), 3);
	/* Surrogate U+D800 encoded as ED A0 80 is invalid. */
	assert_int_equal(nx_utf8_valid_prefix(
	    (const unsigned char *)"a\xed\xa0\x80", 4), 1);
	/* Truncated sequence. */
	assert_int_equal(nx_utf8_valid_prefix(
	    (const unsigned char *)"\xe2\x82", 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_and_order),
		cmocka_unit_test(test_json_text_sanitises),
		cmocka_unit_test(test_utf8_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
