#!/bin/sh
# ssh-runner.sh - the runner (doc/ssh.md, "The runner"): commands the
# engine runs over SSH go to one long-lived shell per session, framed by a
# per-command token, against a real sshd (tests/integration/sshlab.sh).
# A headless `nexusctl engine --state` on 9 lab hosts; through its control
# socket (`run --engine`):
#   - one shell serves every command of a host ($$ is the same twice);
#   - hostile commands (fake frames, no final newline, NUL bytes, output
#     over the cap, stderr, exit statuses, exit/cd/exec/trap, reading
#     stdin) give the same stdout, stderr, status and truncation as batch
#     `run`, which runs each on a channel of its own; a syntax error is
#     the command's and the shell goes on;
#   - a command that outlives its timeout fails as a timeout, and the
#     next command gets a new shell; a command that kills the shell fails
#     with a clear reason, and the next one works; one killed while idle
#     loses no command; nor does a connection that died unseen;
#   - while the shell is busy, a second command to the host runs on a
#     channel of its own (it does not wait);
#   - a host whose sshd forces a command (ForceCommand) has no runner: a
#     warning, and its commands run on channels;
#   - a node without a port in the inventory gets ssh_config's Port;
#   - the engine stopped, no runner shell is left on the hosts;
#   - NEXUSCTL_SSH_RUNNER=0: a new shell per command.
#
# Needs root, /usr/sbin/sshd, unshare, jq and $NEXUSCTL.
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
command -v jq >/dev/null 2>&1 || lab_skip "jq is not installed"
lab_enter "$TOP_SRCDIR/tests/integration/ssh-runner.sh" "$@"
LSAN_OPTIONS="suppressions=$TOP_SRCDIR/tests/integration/lsan-libssh2.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

lab_setup
# 127.0.0.9 runs a forced command whatever is asked.
printf 'Match LocalAddress 127.0.0.9\n\tForceCommand echo forced\n' \
    >>"$LAB/sshd_config"
/usr/sbin/sshd -t -f "$LAB/sshd_config" || { echo "FAIL: sshd -t"; exit 1; }
. "$TOP_SRCDIR/tests/integration/lib.sh"
trap 'engine_stop; lab_cleanup' EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$LAB/config" XDG_STATE_HOME="$LAB/state"
unset SSH_AUTH_SOCK
lab_start
fail_context() {
	echo "--- engine"; tail -c 1500 "$LAB/engine.err"
	[ -f "$LAB/cerr" ] && { echo "--- client stderr"; tail -c 1000 "$LAB/cerr"; }
	[ -f "$LAB/cout" ] && { echo "--- client stdout"; tail -c 1500 "$LAB/cout"; }
}

KH="$LAB/known_hosts"
lab_known_hosts "$KH" 10
export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
# 127.0.0.10 has no port in the inventory: ssh_config's applies.
printf 'Host 127.0.0.10\n\tPort %d\n' "$LAB_PORT" >"$LAB/ssh_config"
export NEXUSCTL_SSH_CONFIG="$LAB/ssh_config"
{
	echo '{ "nodes": ['
	i=1
	while [ $i -le 9 ]; do
		printf '{"name": "127.0.0.%d", "address": "127.0.0.%d", "port": %d, "user": "%s", "groups": ["lab"]},\n' \
		    $i $i "$LAB_PORT" "$LAB_USER"
		i=$((i + 1))
	done
	printf '{"name": "127.0.0.10", "address": "127.0.0.10", "user": "%s"}\n' \
	    "$LAB_USER"
	echo '] }'
} >"$LAB/inv.json"
echo '{ "demo": { "enabled": false, "local": false } }' >"$LAB/conf.json"
DB="$LAB/state.db"
start() {
	engine_start "$LAB/engine.err" -c "$LAB/conf.json" -i "$LAB/inv.json" \
	    --state "$DB"
}
# erun HOSTS TIMEOUT CMD: `run --engine` as JSON into $LAB/cout.
erun() {
	timeout 60 "$NEXUSCTL" run --engine --state "$DB" -w "$1" -u "$2" \
	    --format json -- "$3" >"$LAB/cout" 2>"$LAB/cerr"
}
# brun HOSTS CMD: batch `run` (a channel per command) into $LAB/bout.
brun() {
	timeout 60 "$NEXUSCTL" run -w "$1" -u 20 -l "$LAB_USER" -p "$LAB_PORT" \
	    -F none --identity "$LAB/id_ed25519" --known-hosts "$KH" --no-agent \
	    --format json -- "$2" >"$LAB/bout" 2>"$LAB/berr"
}
# The comparable part of a result: per group, what a host got back.
shape() {
	jq -c '[.results[] | {hosts, result, exit, signal, stdout, stderr,
	    truncated}]' "$1"
}
stdout_of() { jq -r '.results[0].stdout // empty' "$LAB/cout"; }
# shell_pid HOST: $$ of a command on HOST (with the runner, its shell's pid).
shell_pid() { erun "$1" 20 'echo $$' && stdout_of; }

start

# One shell serves the host: in the command's subshell $$ is its pid.
p1=$(shell_pid 127.0.0.1)
p2=$(shell_pid 127.0.0.1)
if [ -n "${p1:-}" ] && [ "$p1" = "${p2:-}" ]; then
	pass "two commands, one shell (pid $p1)"
else
	fail "two commands, one shell: '${p1:-}' then '${p2:-}'"
fi

# The same bytes as a channel of its own, on 2 hosts.
n=0
bad=0
while IFS= read -r cmd; do
	n=$((n + 1))
	erun '127.0.0.[1-2]' 20 "$cmd"
	brun '127.0.0.[1-2]' "$cmd"
	if [ "$(shape "$LAB/cout")" != "$(shape "$LAB/bout")" ]; then
		fail "\`$cmd\`: runner and channel differ:
  runner:  $(shape "$LAB/cout" | head -c 600)
  channel: $(shape "$LAB/bout" | head -c 600)"
		bad=$((bad + 1))
	fi
done <<'EOF'
echo hello
printf 'no final newline'
printf ''
echo out; echo err >&2; exit 3
printf '\nnxr 0\n'; printf '\n0123456789abcdef0123456789abcdef 7\n'; echo err >&2
printf 'a\000b\n\n\n'
head -c 100000 /dev/zero | tr '\0' x; echo tail; echo e >&2
cd / && pwd; exit 0
pwd
trap 'echo trapped' EXIT; echo body
exec echo replaced
set -e; false; echo not-reached
cat; echo stdin-is-empty
EOF
[ $bad -eq 0 ] && pass "$n hostile commands: the runner gives what a channel gives"
# A syntax error is the command's (its message names eval), not the shell's.
erun 127.0.0.1 20 "echo 'unbalanced"
if jq -e '.results[0].exit == 2 and (.results[0].stderr |
    test("Syntax error"))' "$LAB/cout" >/dev/null; then
	erun 127.0.0.1 20 'echo $$'
	if [ "$(stdout_of)" = "$p1" ]; then
		pass "a syntax error: exit 2, and the same shell goes on"
	else
		fail "after a syntax error, a new shell: $(stdout_of) != $p1"
	fi
else
	fail "a syntax error"
fi

# A command past its timeout: a timeout; the next one, a new shell.
p1=$(shell_pid 127.0.0.3)
t0=$(date +%s)
erun 127.0.0.3 2 'sleep 12'
t1=$(date +%s)
if jq -e '.failed == 1 and .results[0].fail == "timeout"' "$LAB/cout" \
    >/dev/null && [ $((t1 - t0)) -lt 15 ]; then
	pass "sleep 12 with a 2 s timeout: a timeout ($((t1 - t0)) s)"
else
	fail "sleep 12 with a 2 s timeout"
fi
p2=$(shell_pid 127.0.0.3)
p3=$(shell_pid 127.0.0.3)
if [ -n "${p2:-}" ] && [ "${p1:-}" != "$p2" ] && [ "$p2" = "${p3:-}" ]; then
	pass "after the timeout, a new shell that stays ($p1 -> $p2, $p3)"
else
	fail "after the timeout: '${p1:-}' -> '${p2:-}', '${p3:-}'"
fi

# A command that kills its shell fails with the reason; then all is well.
erun 127.0.0.4 20 'kill -9 $$'
if jq -e '.failed == 1' "$LAB/cout" >/dev/null &&
    jq -r '.results[0].error' "$LAB/cout" | grep -q 'command shell.*ended'; then
	pass "kill -9 \$\$: failed, the shell ended"
else
	fail "kill -9 \$\$"
fi
p1=$(shell_pid 127.0.0.4)
p2=$(shell_pid 127.0.0.4)
if [ -n "${p1:-}" ] && [ "$p1" = "${p2:-}" ]; then
	pass "the next commands run, on a new shell"
else
	fail "after the shell was killed"
fi

# A shell that dies while idle (killed on the host): the next command is
# not lost on it; it runs, and the one after starts a new shell.
p1=$(shell_pid 127.0.0.7)
if [ -n "${p1:-}" ] && kill -9 "$p1" 2>/dev/null; then
	sleep 0.5
	erun 127.0.0.7 20 'echo still-here'
	if [ "$(stdout_of)" = still-here ] &&
	    jq -e '.ok == 1' "$LAB/cout" >/dev/null; then
		pass "the shell killed while idle: the next command runs"
	else
		fail "the shell killed while idle: the next command failed"
	fi
	p2=$(shell_pid 127.0.0.7)
	p3=$(shell_pid 127.0.0.7)
	if [ -n "${p2:-}" ] && [ "$p2" != "$p1" ] && [ "$p2" = "${p3:-}" ]; then
		pass "then a new shell ($p1 -> $p2)"
	else
		fail "after the idle shell died: '$p1' -> '${p2:-}', '${p3:-}'"
	fi
else
	fail "the runner's pid: '${p1:-}'"
fi

# A connection that died unseen: output a background process leaves
# after its frame stops the idle watch (data for libssh2), then the
# session's sshd process is killed.  The next command finds the socket
# dead, and runs on a new session instead of failing.
erun 127.0.0.8 20 'echo $PPID; (sleep 1; echo late) &' && sp=$(stdout_of)
sleep 2
if [ -n "${sp:-}" ] && kill -9 "$sp" 2>/dev/null; then
	sleep 0.5
	erun 127.0.0.8 20 'echo after-loss'
	if [ "$(stdout_of)" = after-loss ] &&
	    jq -e '.ok == 1' "$LAB/cout" >/dev/null; then
		pass "a connection lost while idle: the next command runs on a new session"
	else
		fail "a connection lost while idle: $(jq -c '.results[0] | {fail, error}' "$LAB/cout")"
	fi
else
	fail "the session's sshd pid: '${sp:-}'"
fi

# Busy shell: a second command takes a channel and does not wait.
erun 127.0.0.5 20 'echo warm'
timeout 60 "$NEXUSCTL" run --engine --state "$DB" -w 127.0.0.5 -u 20 \
    --format json -- 'sleep 4; echo slow' >"$LAB/slow" 2>/dev/null &
slow=$!
sleep 1
t0=$(date +%s)
erun 127.0.0.5 20 'echo quick'
t1=$(date +%s)
if [ "$(stdout_of)" = quick ] && [ $((t1 - t0)) -lt 3 ]; then
	pass "while the shell is busy, another command runs at once"
else
	fail "busy shell: the quick command took $((t1 - t0)) s"
fi
wait $slow
if jq -e '.results[0].stdout == "slow\n"' "$LAB/slow" >/dev/null; then
	pass "the slow command ends well"
else
	fail "the slow command: $(head -c 300 "$LAB/slow")"
fi

# ForceCommand: no runner; a warning; commands still run (on channels).
erun 127.0.0.9 20 'echo hi'
if [ "$(stdout_of)" = forced ] &&
    grep -q 'no command shell' "$LAB/engine.err"; then
	pass "ForceCommand host: no runner, a warning, the command ran"
else
	fail "ForceCommand host: '$(stdout_of)'"
fi
erun 127.0.0.9 20 'echo hi'
if [ "$(stdout_of)" = forced ] &&
    [ "$(grep -c 'no command shell' "$LAB/engine.err")" -eq 1 ]; then
	pass "ForceCommand host: warned once"
else
	fail "ForceCommand host, again"
fi

# A node without a port in the inventory: jobs go where ssh_config says,
# as the sampler and `ssh` checks do.
erun 127.0.0.10 20 'echo via-ssh-config'
if [ "$(stdout_of)" = via-ssh-config ]; then
	pass "a node without a port: ssh_config's Port"
else
	fail "a node without a port: $(jq -c '.results[0] | {fail, error}' "$LAB/cout")"
fi

# The engine stops: its shells on the hosts go with their sessions
# (after the sleep 12 above has ended, 15 s at most).
before=$(ps -u "$LAB_USER" -o args= | grep -c '^/bin/sh$')
engine_stop
i=0
while [ "$(ps -u "$LAB_USER" -o args= | grep -c '^/bin/sh$')" -gt 0 ] &&
    [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
left=$(ps -u "$LAB_USER" -o args= | grep -c '^/bin/sh$')
if [ "$before" -gt 0 ] && [ "$left" -eq 0 ]; then
	pass "engine stopped: its $before runner shells left the hosts"
else
	fail "engine stopped: $before runner shells before, $left after"
fi

# Off: every command a new shell.
NEXUSCTL_SSH_RUNNER=0
export NEXUSCTL_SSH_RUNNER
start
p1=$(shell_pid 127.0.0.6)
p2=$(shell_pid 127.0.0.6)
if [ -n "${p1:-}" ] && [ -n "${p2:-}" ] && [ "$p1" != "$p2" ]; then
	pass "NEXUSCTL_SSH_RUNNER=0: a new session process per command"
else
	fail "NEXUSCTL_SSH_RUNNER=0: '${p1:-}' then '${p2:-}'"
fi
engine_stop
[ "$ENGINE_RC" -eq 0 ] && pass "the engine exited 0" ||
	fail "the engine exited $ENGINE_RC"
summary
