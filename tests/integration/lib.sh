# lib.sh - what the integration tests share (sourced, after `set -u`):
# the pass and fail counters and the closing line.
#
#	pass TEXT	counts a pass and prints "ok: TEXT"
#	fail TEXT	counts a failure, prints "FAIL: TEXT", then runs
#			fail_context, which a test defines to show what is
#			worth reading (its output files, a log), bounded
#	summary		prints "N passed, M failed"; its status is 0 when
#			nothing failed, so that a test ends with it
#	engine_start ERR ARG...
#			`$NEXUSCTL engine ARG...` in the background, stderr
#			to ERR, stdout to ERR.out; waits (10 s at most) for
#			its "started:" line, else prints ERR and exits 1.
#			Sets ENGINE_PID.
#	engine_stop	SIGTERM to ENGINE_PID, 15 s at most, then SIGKILL;
#			ENGINE_RC is its exit status.  Nothing when none runs.

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

ENGINE_PID=
ENGINE_RC=
engine_start() {
	_err=$1
	shift
	# Emptied here, not only by the redirection in the child: the wait
	# below must not see an earlier engine's "started:" line.
	: >"$_err"
	"$NEXUSCTL" engine "$@" >"$_err.out" 2>"$_err" &
	ENGINE_PID=$!
	_i=0
	while ! grep -q 'started:' "$_err" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -ge 100 ] || ! kill -0 "$ENGINE_PID" 2>/dev/null; then
			echo "FAIL: the engine did not start"
			cat "$_err"
			exit 1
		fi
		sleep 0.1
	done
}
engine_stop() {
	[ -n "$ENGINE_PID" ] || return 0
	kill "$ENGINE_PID" 2>/dev/null
	_i=0
	while kill -0 "$ENGINE_PID" 2>/dev/null && [ $_i -lt 150 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 "$ENGINE_PID" 2>/dev/null
	wait "$ENGINE_PID" 2>/dev/null
	ENGINE_RC=$?
	ENGINE_PID=
}
