#!/bin/sh
# ctl.sh - the control socket of a running engine (engine/ctl.c): a
# headless `nexusctl engine --state F` on 4 inventory nodes and a local
# action (no SSH), then through STATE.sock:
#   run --engine ACTION runs it in the engine (one file line per node),
#   audit rows with origin "ctl" and the caller's user; ad-hoc refused
#   for an operator (audited); a request from another uid (nobody) gets
#   that user's role (default viewer: refused); garbage and an oversized
#   request get an error object and the engine keeps running; rules
#   enable/disable/reset through the socket; socket mode 0666 with a roles
#   section, 0600 without; the socket goes at a clean stop, a stale one is
#   replaced; no engine: exit 69.
# And the client side of run --engine: describe (nodes, confirmation, the
# job's bound); a confirm or dangerous action refused without a terminal
# and --yes (batch run's words), asked on a terminal (tmux: Enter is no,
# y runs, a dangerous one wants its name); hosts not in the engine's
# inventory named; a SIGSTOPped engine: the client gives up at --wait or
# at the job's bound plus a margin (exit 2); the engine SIGKILLed while
# the client waits: said at once, exit 2; Ctrl-C (tmux) cancels the job
# in the engine, audited, and the client prints its result (exit 2).
#
# Needs jq and python3 (a raw socket client); tmux for the prompt.  Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
. "$TOP_SRCDIR/tests/integration/lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/nx-ctl.XXXXXX") || exit 1
chmod 755 "$W"
fail_context() {
	[ -f "$W/err" ] && { echo "--- engine log"; tail -c 2000 "$W/err"; }
	[ -f "$W/cerr" ] && { echo "--- client stderr"; tail -c 2000 "$W/cerr"; }
	[ -f "$W/cout" ] && { echo "--- client stdout"; tail -c 2000 "$W/cout"; }
}
# (the old log goes first: engine_start's wait for "started:" could
# otherwise read the previous engine's before the new one truncates it)
start_engine() {
	rm -f "$W/err" "$W/err.out"
	engine_start "$W/err" -c "$1" -i "$W/inv.json" --state "$STATE"
}
# stopped_clean WHAT: the last engine_stop's exit status was 0 (also no
# sanitizer report: those exit non-zero).
stopped_clean() {
	if [ "$ENGINE_RC" -eq 0 ]; then
		pass "$1: the engine exited 0"
	else
		fail "$1: the engine exited $ENGINE_RC"
	fi
}
# a stopped engine cannot take its SIGTERM: SIGCONT first
TMUXBASE=nx-ctl-$$
NTMUX=0
TMUXSOCK=
tmux_cleanup() {
	_k=1
	while [ $_k -le $NTMUX ]; do
		tmux -L "$TMUXBASE-$_k" kill-server >/dev/null 2>&1
		_k=$((_k + 1))
	done
}
trap '[ -n "$ENGINE_PID" ] && kill -CONT "$ENGINE_PID" 2>/dev/null
    tmux_cleanup; engine_stop; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
export XDG_CONFIG_HOME="$W/config" XDG_STATE_HOME="$W/state"

STATE="$W/state.db"
SOCK="$STATE.sock"
OUT="$W/notes"
ME=$(id -un)
cat >"$W/inv.json" <<EOF
{ "nodes": [
  {"name": "n1", "address": "127.0.0.1", "groups": ["g"]},
  {"name": "n2", "address": "127.0.0.2", "groups": ["g"]},
  {"name": "n3", "address": "127.0.0.3", "groups": ["g"]},
  {"name": "n4", "address": "127.0.0.4", "groups": ["h"]} ] }
EOF
ACTIONS='"actions": { "define": [
    { "name": "note", "kind": "local", "role": "operator",
      "command": "echo $HOSTNAME$ >> '"$OUT"'; echo noted $HOSTNAME$" },
    { "name": "slow", "kind": "local", "role": "operator",
      "command": "sleep 1; echo slow $HOSTNAME$ >> '"$OUT"'" },
    { "name": "risky", "kind": "local", "role": "operator", "confirm": true,
      "command": "echo risky $HOSTNAME$ >> '"$OUT"'" },
    { "name": "wipe", "kind": "local", "role": "operator", "dangerous": true,
      "command": "echo wiped $HOSTNAME$ >> '"$OUT"'" },
    { "name": "stall", "kind": "local", "role": "operator", "timeout": "1s",
      "command": "echo $HOSTNAME$ >> '"$W/stall"'; sleep 0.5" },
    { "name": "long", "kind": "local", "role": "operator",
      "command": "echo $HOSTNAME$ >> '"$W/long"'; sleep 4" },
    { "name": "hold", "kind": "local", "role": "operator",
      "command": "echo $HOSTNAME$ >> '"$W/hold"'; sleep 60; echo $HOSTNAME$ >> '"$W/held"'" } ] }'
cat >"$W/roles.json" <<EOF
{ "demo": { "enabled": false, "local": false },
  "roles": { "default": "viewer", "operator": { "users": ["$ME"] } },
  $ACTIONS,
  "remediation": { "rules": [
    { "name": "fixit", "mode": "suggest", "check": "none", "action": "note" } ] } }
EOF
cat >"$W/plain.json" <<EOF
{ "demo": { "enabled": false, "local": false }, $ACTIONS,
  "remediation": { "rules": [
    { "name": "fixit", "mode": "suggest", "check": "none", "action": "note" } ] } }
EOF

# raw FILE: sends FILE's bytes to the socket, prints the answer (bounded).
raw() {
	timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
s.shutdown(socket.SHUT_WR)
b = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    b += d
sys.stdout.write(b.decode())
' "$SOCK" "$1"
}
audit_json() {
	timeout 30 "$NEXUSCTL" audit list --state "$STATE" --format json
}

# --- no engine: a clear error, 69
timeout 20 "$NEXUSCTL" run --engine --state "$STATE" -c "$W/roles.json" \
    note -t @g --yes >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 69 ] && grep -q 'no engine is running' "$W/cerr"; then
	pass "no engine: exit 69 and says so"
else
	fail "no engine: rc=$rc"
fi

# --wait is for --engine only
timeout 20 "$NEXUSCTL" run --state "$STATE" --wait 5 -w n1 -- true \
    >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 64 ] && grep -q -- '--wait goes with --engine' "$W/cerr"; then
	pass "--wait without --engine: 64"
else
	fail "--wait without --engine (rc=$rc)"
fi

# --- a stale socket (a killed engine's) is replaced
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
start_engine "$W/roles.json"
mode=$(stat -c %a "$SOCK" 2>/dev/null)
if [ "$mode" = 666 ] && grep -q 'control socket' "$W/err"; then
	pass "stale socket replaced; mode 0666 with a roles section"
else
	fail "socket mode '$mode' with roles"
fi

# --- run ACTION through the engine, as the operator $ME
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" note -t @g --yes \
    >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 0 ] && [ "$(sort "$OUT" | tr '\n' ' ')" = "n1 n2 n3 " ] &&
    grep -q '^n2 (1)' "$W/cout" && grep -q '^noted n2' "$W/cout" &&
    grep -q '3 hosts in .* 3 ok' "$W/cerr"; then
	pass "run --engine note -t @g: ran in the engine on n1-n3"
else
	fail "run --engine (rc=$rc, notes: $(cat "$OUT" 2>/dev/null | tr '\n' ' '))"
fi
# JSON output, the same document as a local run's
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" --format json note \
    -t n4 --yes >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 0 ] && [ "$(jq -r '.action + " " + (.ok|tostring) + " " + .results[0].stdout' "$W/cout")" = "note 1 noted n4" ]; then
	pass "run --engine --format json"
else
	fail "run --engine --format json (rc=$rc)"
fi
audit_json >"$W/audit.json" 2>"$W/cerr"
n=$(jq --arg u "$ME" '[.[] | select(.action == "run" and .who == $u and
    (.args | tostring | test("\"origin\":\"ctl\"")))] | length' "$W/audit.json")
if [ "${n:-0}" -ge 2 ]; then
	pass "audit: run rows with origin ctl and user $ME ($n)"
else
	fail "audit rows with origin ctl: ${n:-none}"
	head -c 1500 "$W/audit.json"
fi

# --- confirmation without a terminal and without --yes: batch run's refusal
for act in risky wipe; do
	timeout 30 "$NEXUSCTL" run --engine --state "$STATE" $act -t n1 \
	    >"$W/cout" 2>"$W/cerr" </dev/null
	rc=$?
	if [ $rc -eq 64 ] && grep -q "action $act asks for confirmation: give --yes to run it without a terminal" "$W/cerr" &&
	    ! grep -q "^risky\|^wiped" "$OUT"; then
		pass "$act (confirm) through the engine, no terminal, no --yes: batch run's 64, nothing ran"
	else
		fail "$act: confirm without --yes (rc=$rc)"
	fi
done
# a raw run request without "confirmed" is still refused by the engine
printf '{"op":"run","action":"risky","target":"n1"}\n' >"$W/req0"
raw "$W/req0" >"$W/resp0" 2>>"$W/cerr"
if jq -e '(.exit == 64) and (.error | test("asks for confirmation"))' "$W/resp0" >/dev/null 2>&1 &&
    ! grep -q '^risky' "$OUT"; then
	pass "the engine refuses a confirm action without \"confirmed\""
else
	fail "raw unconfirmed run: $(head -c 300 "$W/resp0")"
fi

# --- describe: the action, its nodes and the job's bound, nothing run
printf '{"op":"describe","action":"risky","target":"@g"}\n' >"$W/req0"
raw "$W/req0" >"$W/resp0" 2>>"$W/cerr"
printf '{"op":"describe","command":"true","hosts":"n[1-4]","fanout":3,"timeout_ms":2000}\n' >"$W/req00"
raw "$W/req00" >"$W/resp00" 2>>"$W/cerr"
if jq -e '.describe | .hosts == 3 and .hostlist == "n[1-3]" and .confirm == true
    and .dangerous == false and .action.name == "risky" and .timeout_ms == 60000
    and .waves == 1 and .bound_ms == 60000' "$W/resp0" >/dev/null 2>&1 &&
    jq -e '.describe | .hosts == 4 and .concurrency == 3 and .waves == 2 and
    .bound_ms == 4000 and .command == "true"' "$W/resp00" >/dev/null 2>&1 &&
    ! grep -q '^risky' "$OUT"; then
	pass "describe: nodes, confirmation, the job's bound (timeout x waves); nothing ran"
else
	fail "describe: $(head -c 300 "$W/resp0") / $(head -c 300 "$W/resp00")"
fi

# --- hosts the engine's inventory does not have: named, and why
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" -w 'n1,nosuch[1-2]' -- \
    true >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 64 ] &&
    grep -q "2 of 3 hosts are not nodes of the engine's inventory: nosuch\[1-2\] (through the engine a host is one of its nodes" "$W/cerr"; then
	pass "-w with unknown hosts: 64, names them (nosuch[1-2]) and says why"
else
	fail "unknown hosts (rc=$rc)"
fi

# --- ad-hoc is for admins: refused for the operator, audited
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" -t @g -- \
    "echo adhoc >> $OUT" >"$W/cout" 2>"$W/cerr"
rc=$?
audit_json >"$W/audit.json" 2>/dev/null
n=$(jq --arg u "$ME" '[.[] | select(.who == $u and
    (.result | startswith("refused")) and
    (.args | tostring | test("\"origin\":\"ctl\"")))] | length' "$W/audit.json")
if [ $rc -eq 77 ] && grep -q 'refused' "$W/cerr" && ! grep -q adhoc "$OUT" &&
    [ "${n:-0}" -ge 1 ]; then
	pass "ad-hoc via --engine refused for an operator (77, audited)"
else
	fail "ad-hoc refusal (rc=$rc, audit rows=$n)"
fi

# --- another uid: that user's role (default viewer), never a sent name
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    id nobody >/dev/null 2>&1; then
	timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$NEXUSCTL" run --engine --state "$STATE" note -t n1 --yes \
	    >"$W/cout" 2>"$W/cerr"
	rc=$?
	audit_json >"$W/audit.json" 2>/dev/null
	n=$(jq '[.[] | select(.who == "nobody" and .role == "viewer" and
	    (.result | startswith("refused")))] | length' "$W/audit.json")
	if [ $rc -eq 77 ] && [ "${n:-0}" -ge 1 ]; then
		pass "uid nobody: viewer by its uid, refused (audited)"
	else
		fail "uid nobody (rc=$rc, audit rows=$n)"
	fi
else
	echo "skip: a request from another uid (needs root and setpriv)"
fi

# --- garbage, a bad request, an oversized one: error objects, engine lives
printf 'this is not json\n' >"$W/req1"
printf '{"op":"run","action":7}\n' >"$W/req2"
printf '{"op":"fly"}\n' >"$W/req3"
printf '{"op":"adhoc","command":"true","hosts":"nosuch[1-3]"}\n' >"$W/req4"
head -c 1100000 /dev/zero | tr '\0' 'x' >"$W/req5"
ok=0
for k in 1 2 3 4 5; do
	raw "$W/req$k" >"$W/resp$k" 2>>"$W/cerr"
	if jq -e '(.error | type == "string") and (.exit == 64)' "$W/resp$k" >/dev/null 2>&1; then
		ok=$((ok + 1))
	else
		echo "request $k: $(head -c 300 "$W/resp$k")"
	fi
done
if [ $ok -eq 5 ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
	pass "garbage, bad fields, unknown op, unknown host, 1.1 MB: error objects; the engine runs on"
else
	fail "bad requests ($ok of 5 answered with an error)"
fi
# a client that connects and goes away without a word
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' "$SOCK"
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" note -t n4 --yes \
    >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 0 ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
	pass "after a silent client: still serving"
else
	fail "after a silent client (rc=$rc)"
fi

# --- a client that goes away while its job runs cancels nothing
printf '{"op":"run","action":"slow","target":"n3"}\n' >"$W/req6"
timeout 5 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
time.sleep(0.2)
s.close()
' "$SOCK" "$W/req6"
i=0
while ! grep -q '^slow n3' "$OUT" && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
if grep -q '^slow n3' "$OUT" && kill -0 "$ENGINE_PID" 2>/dev/null; then
	pass "a client gone during its job: the job ran to its end"
else
	fail "the job of a client that went away"
fi

# --- rules through the socket: reset is an operator's, enable an admin's
timeout 30 "$NEXUSCTL" rules --state "$STATE" reset fixit n1 >"$W/cout" 2>"$W/cerr"
rc1=$?
timeout 30 "$NEXUSCTL" rules --state "$STATE" disable fixit >>"$W/cout" 2>>"$W/cerr"
rc2=$?
audit_json >"$W/audit.json" 2>/dev/null
n=$(jq --arg u "$ME" '[.[] | select(.who == $u and
    ((.action == "rule-reset" and .result == "ok") or
     (.action == "rule-disable" and (.result | startswith("refused")))) and
    (.args | tostring | test("\"origin\":\"ctl\"")))] | length' "$W/audit.json")
if [ $rc1 -eq 0 ] && grep -q 'breaker of n1 reset' "$W/cout" && [ $rc2 -eq 77 ] &&
    [ "${n:-0}" -eq 2 ]; then
	pass "rules reset (operator) done, disable (admin's) refused: 77; both audited"
else
	fail "rules via the socket (rc $rc1 $rc2, audit rows $n)"
	jq -c '.[-5:]' "$W/audit.json" 2>/dev/null | head -c 1500
fi

# --- clean stop: the socket goes
# a client waiting for a job when the engine stops
printf '{"op":"run","action":"slow","target":"n4"}\n' >"$W/req7"
raw "$W/req7" >"$W/resp7" 2>&1 &
rawpid=$!
sleep 0.3
engine_stop
wait "$rawpid" 2>/dev/null
stopped_clean "stopped with a client waiting for its job"
if [ ! -e "$SOCK" ]; then
	pass "the socket is removed at a clean stop"
else
	fail "the socket is still there after the stop"
fi
timeout 20 "$NEXUSCTL" rules --state "$STATE" disable fixit >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 69 ]; then
	pass "rules disable with no engine: 69"
else
	fail "rules with no engine: rc=$rc"
fi

# --- no roles section: 0600, the engine's user is admin: ad-hoc is
# accepted (the nodes have no SSH server: a connect failure, exit 2), and
# rules enable/disable go through
start_engine "$W/plain.json"
mode=$(stat -c %a "$SOCK" 2>/dev/null)
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" -w 'n[1-2]' -f 1 -u 5 -- \
    "echo hi" >"$W/cout" 2>"$W/cerr"
rc=$?
if [ "$mode" = 600 ] && [ $rc -eq 2 ] && grep -q '^n\[1-2\] (2): FAILED (connect)' "$W/cout"; then
	pass "no roles: mode 0600, ad-hoc by the owner accepted and run"
else
	fail "no roles (mode '$mode', rc=$rc)"
fi
timeout 30 "$NEXUSCTL" rules --state "$STATE" disable fixit >"$W/cout" 2>"$W/cerr"
rc1=$?
# the engine rewrites STATE.remed.json within a second
i=0
st1=
while [ $i -lt 30 ] && [ "$st1" != false ]; do
	st1=$(timeout 30 "$NEXUSCTL" rules --state "$STATE" --format json |
	    jq -r '.. | objects | select(.name? == "fixit") | .enabled' | head -1)
	[ "$st1" = false ] || sleep 0.2
	i=$((i + 1))
done
timeout 30 "$NEXUSCTL" rules --state "$STATE" enable nosuch >>"$W/cout" 2>>"$W/cerr"
rc2=$?
if [ $rc1 -eq 0 ] && [ "$st1" = false ] && [ $rc2 -ne 0 ] && [ $rc2 -ne 69 ]; then
	pass "rules disable (admin): the live rule is disabled; an unknown rule: $rc2"
else
	fail "rules as admin (rc $rc1 $rc2, enabled '$st1')"
fi
engine_stop
stopped_clean "after ad-hoc and rules"

# --- the confirmation prompt on a real terminal (tmux), through the engine
start_engine "$W/roles.json"
# tmx CMD: runs CMD in a new private tmux server (160x20, one per call);
# its exit status goes to $W/tmx.rc
tmx() {
	rm -f "$W/tmx.rc"
	[ -n "$TMUXSOCK" ] && tmux -L "$TMUXSOCK" kill-server >/dev/null 2>&1
	NTMUX=$((NTMUX + 1))
	TMUXSOCK=$TMUXBASE-$NTMUX
	tmux -L "$TMUXSOCK" -f /dev/null new-session -d -s c -x 160 -y 20 \
	    "XDG_STATE_HOME='$XDG_STATE_HOME' $1 2>&1; echo \$? >'$W/tmx.rc'; sleep 30"
}
pane() { tmux -L "$TMUXSOCK" capture-pane -p -t c 2>/dev/null; }
# pane_wait REGEX: the pane shows it, 10 s at most
pane_wait() {
	_n=0
	while [ $_n -lt 100 ]; do
		pane | grep -q -- "$1" && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}
# rc_wait: the exit status of the command in the pane, 15 s at most
rc_wait() {
	_n=0
	while [ ! -s "$W/tmx.rc" ] && [ $_n -lt 150 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	cat "$W/tmx.rc" 2>/dev/null
}
if command -v tmux >/dev/null 2>&1; then
	run_cmd="$NEXUSCTL run --engine --state $STATE"
	tmx "$run_cmd risky -t @g"
	if pane_wait 'Run risky on 3 nodes (n\[1-3\])? \[y/N\]'; then
		tmux -L "$TMUXSOCK" send-keys -t c Enter
		r=$(rc_wait)
		if [ "$r" = 1 ] && pane | grep -q 'not confirmed: nothing ran' &&
		    ! grep -q '^risky' "$OUT"; then
			pass "tmux: the engine's confirm action asks as batch run does; Enter (no) runs nothing, exit 1"
		else
			fail "tmux: Enter at the prompt (rc '$r')"; pane
		fi
	else
		fail "tmux: no confirmation prompt"; pane
	fi
	tmx "$run_cmd risky -t @g"
	if pane_wait '\[y/N\]'; then
		tmux -L "$TMUXSOCK" send-keys -t c y Enter
		r=$(rc_wait)
		if [ "$r" = 0 ] && [ "$(grep -c '^risky n' "$OUT")" -eq 3 ] &&
		    pane | grep -q '3 hosts in .* 3 ok'; then
			pass "tmux: y runs it in the engine on n1-n3"
		else
			fail "tmux: y at the prompt (rc '$r')"; pane
		fi
	else
		fail "tmux: no prompt the second time"; pane
	fi
	# dangerous: the name is typed; y is not enough
	tmx "$run_cmd wipe -t n4"
	if pane_wait 'Action wipe is DANGEROUS. Run it on 1 node (n4)?' &&
	    pane_wait "Type the action's name to run it:"; then
		tmux -L "$TMUXSOCK" send-keys -t c y Enter
		r1=$(rc_wait)
		tmx "$run_cmd wipe -t n4"
		pane_wait "Type the action's name to run it:"
		tmux -L "$TMUXSOCK" send-keys -t c wipe Enter
		r2=$(rc_wait)
		if [ "$r1" = 1 ] && [ "$r2" = 0 ] &&
		    [ "$(grep -c '^wiped n4' "$OUT")" -eq 1 ]; then
			pass "tmux: a dangerous action wants its name typed (y: nothing ran; wipe: ran once)"
		else
			fail "tmux: dangerous (rc '$r1' '$r2')"; pane
		fi
	else
		fail "tmux: no DANGEROUS prompt"; pane
	fi
	# Ctrl-C while the engine runs the job: the engine cancels it
	# (its children killed), the client prints the result, exit 2.
	tmx "$run_cmd hold -t @g"
	_n=0
	while [ "$(wc -l <"$W/hold" 2>/dev/null || echo 0)" -lt 3 ] &&
	    [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	t0=$(date +%s)
	tmux -L "$TMUXSOCK" send-keys -t c C-c
	r=$(rc_wait)
	t1=$(date +%s)
	audit_json >"$W/audit.json" 2>/dev/null
	n=$(jq --arg u "$ME" '[.[] | select(.who == $u and
	    (.result | tostring | test("^cancelled job")))] | length' \
	    "$W/audit.json")
	if [ "$r" = 2 ] && [ $((t1 - t0)) -le 5 ] &&
	    pane | grep -q 'cancelling the job in the engine' &&
	    pane | grep -q '3 hosts in .* 3 cancelled' &&
	    [ "${n:-0}" -ge 1 ] && [ ! -e "$W/held" ] &&
	    ! pgrep -f 'sleep 60; echo' >/dev/null; then
		pass "tmux: Ctrl-C cancels the job in the engine (audited, its children gone), exit 2 in $((t1 - t0)) s"
	else
		fail "tmux: Ctrl-C (rc '$r', $((t1 - t0)) s, $n audit rows)"; pane
	fi
	tmux_cleanup
else
	echo "skip: the terminal prompt (no tmux)"
fi

# --- a stalled engine: the client gives up at its bound, says so, exit 2
kill -STOP "$ENGINE_PID"
t0=$(date +%s)
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" --wait 2 note -t n1 \
    --yes >"$W/cout" 2>"$W/cerr"
rc=$?
t1=$(date +%s)
kill -CONT "$ENGINE_PID"
if [ $rc -eq 2 ] && [ $((t1 - t0)) -lt 10 ] &&
    grep -qF "no answer from the engine on $SOCK in 2.0 s (--wait, to describe the request)" "$W/cerr"; then
	pass "a stopped engine, --wait 2: gave up in $((t1 - t0)) s, names the socket, exit 2"
else
	fail "stopped engine, --wait (rc=$rc, $((t1 - t0)) s)"
fi
# the job's own bound: 1 s per host x 1 wave + 10% + 5 s
rm -f "$W/stall"
t0=$(date +%s)
timeout 40 "$NEXUSCTL" run --engine --state "$STATE" stall -t n2 \
    >"$W/cout" 2>"$W/cerr" &
cpid=$!
i=0
while [ ! -s "$W/stall" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -STOP "$ENGINE_PID"
i=0
while kill -0 "$cpid" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait "$cpid"
rc=$?
t1=$(date +%s)
kill -CONT "$ENGINE_PID"
if [ -s "$W/stall" ] && [ $rc -eq 2 ] && [ $((t1 - t0)) -ge 5 ] &&
    [ $((t1 - t0)) -lt 20 ] &&
    grep -qF "no answer from the engine on $SOCK in 6.1 s (the job's bound: 1.0 s per host x 1 wave, plus a margin" "$W/cerr"; then
	pass "stopped mid-job: gave up at the job's bound plus margin ($((t1 - t0)) s), exit 2"
else
	fail "stopped mid-job (rc=$rc, $((t1 - t0)) s)"
fi
# it serves again once continued
timeout 30 "$NEXUSCTL" run --engine --state "$STATE" note -t n3 --yes \
    >"$W/cout" 2>"$W/cerr"
rc=$?
if [ $rc -eq 0 ] && grep -q '^noted n3' "$W/cout"; then
	pass "continued: the engine serves again"
else
	fail "after SIGCONT (rc=$rc)"
fi

# --- the engine killed while the client waits for its job
rm -f "$W/long"
timeout 40 "$NEXUSCTL" run --engine --state "$STATE" long -t n1 \
    >"$W/cout" 2>"$W/cerr" &
cpid=$!
i=0
while [ ! -s "$W/long" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -KILL "$ENGINE_PID"
wait "$ENGINE_PID" 2>/dev/null
ENGINE_PID=
i=0
while kill -0 "$cpid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait "$cpid"
rc=$?
if [ -s "$W/long" ] && [ $rc -eq 2 ] &&
    grep -qF "the engine on $SOCK closed the connection before answering (it stopped or died)" "$W/cerr"; then
	pass "the engine killed mid-job: the client says so at once, exit 2"
else
	fail "engine killed mid-job (rc=$rc)"
fi

summary
