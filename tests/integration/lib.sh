# lib.sh - what the integration tests share (sourced, after `set -u`):
# the pass and fail counters and the closing line.
#
#	pass TEXT	counts a pass and prints "ok: TEXT"
#	fail TEXT	counts a failure, prints "FAIL: TEXT", then runs
#			fail_context, which a test defines to show what is
#			worth reading (its output files, a log), bounded
#	summary		prints "N passed, M failed"; its status is 0 when
#			nothing failed, so that a test ends with it

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() {
	fails=$((fails + 1))
	echo "FAIL: $1"
	fail_context
}
fail_context() { :; }
summary() {
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}
