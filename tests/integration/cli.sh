#!/bin/sh
#
# cli.sh - the command-line contract of the real nexusctl binary (see
# nexusctl(1)): help and version everywhere, usage errors as one line and
# exit 64, `check` output and exit status, `--seed`, and `watch` as a JSON
# line stream that stops on --count, on a closed pipe and on SIGTERM.
#
# Environment: NEXUSCTL (the binary; default ./nexusctl).  Exit 0 pass,
# 1 fail, 77 skip (no jq).
#
set -u

NEXUSCTL=${NEXUSCTL:-./nexusctl}
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
[ -x "$NEXUSCTL" ] || { echo "FAIL: $NEXUSCTL is not an executable"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/nexusctl-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

# No user configuration or state may leak into the test.
HOME=$T/home
XDG_CONFIG_HOME=$T/config
XDG_STATE_HOME=$T/state
export HOME XDG_CONFIG_HOME XDG_STATE_HOME
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
unset NO_COLOR

failures=0
fail() {
	echo "FAIL: $*"
	echo "FAIL: $*" >>"$T/failures"
	failures=$((failures + 1))
}
ok() {
	echo "ok: $*"
}

# Runs the binary with stdin closed-ish and a time bound; leaves the exit
# status in $rc, stdout in $T/out, stderr in $T/err.
nx() {
	timeout 60 "$NEXUSCTL" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
}

lines() {
	wc -l <"$1" | tr -d ' '
}

# ---- help and version
nx --help
if [ $rc -eq 0 ] && grep -q '^usage: nexusctl' "$T/out"; then
	ok "--help"
else
	fail "--help: exit $rc, stdout: $(head -1 "$T/out")"
fi
commands=$(awk '/^Commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }' "$T/out")
for c in console check watch config; do
	echo "$commands" | grep -qx "$c" || fail "--help does not list the '$c' command"
done

nx --version
if [ $rc -eq 0 ] && grep -Eq '^nexusctl [0-9]+\.[0-9]+' "$T/out" && [ "$(lines "$T/out")" -eq 1 ]; then
	ok "--version: $(cat "$T/out")"
else
	fail "--version: exit $rc, stdout: $(cat "$T/out")"
fi
version=$(cat "$T/out")

for c in $commands; do
	for h in --help -h; do
		nx "$c" "$h"
		if [ $rc -eq 0 ] && grep -q "^usage: nexusctl $c" "$T/out" && [ ! -s "$T/err" ]; then
			ok "$c $h"
		else
			fail "$c $h: exit $rc, stdout: $(head -1 "$T/out"), stderr: $(head -1 "$T/err")"
		fi
	done
	nx "$c" --version
	if [ $rc -eq 0 ] && [ "$(cat "$T/out")" = "$version" ]; then
		ok "$c --version"
	else
		fail "$c --version: exit $rc, stdout: $(cat "$T/out")"
	fi
done
nx config check --help
[ $rc -eq 0 ] && grep -q '^usage: nexusctl config' "$T/out" ||
	fail "config check --help: exit $rc"

# The bash completion in contrib/ offers every command that --help lists.
comp=${TOP_SRCDIR:-.}/contrib/nexusctl.bash-completion
if [ -f "$comp" ]; then
	offered=$(sed -n 's/^[[:space:]]*local commands="\(.*\)"$/\1/p' "$comp")
	for c in $commands; do
		case " $offered " in
		*" $c "*) ;;
		*) fail "contrib/nexusctl.bash-completion does not offer the '$c' command" ;;
		esac
	done
fi

# ---- usage errors: one line on stderr, nothing on stdout, exit 64
usage_error() {
	what="$*"
	nx "$@"
	if [ $rc -eq 64 ] && [ "$(lines "$T/err")" -eq 1 ] && [ ! -s "$T/out" ] &&
	    grep -q '^nexusctl: ' "$T/err"; then
		ok "usage error: $what"
	else
		fail "usage error '$what': exit $rc (want 64), stderr: $(cat "$T/err"), stdout: $(head -1 "$T/out")"
	fi
}
usage_error frobnicate
usage_error --frobnicate
usage_error -Z
for c in $commands; do
	usage_error "$c" --frobnicate
	usage_error "$c" -Z
	usage_error "$c" --demo=abc
	usage_error "$c" --seed=-3
done
usage_error --demo=abc
usage_error check --format yaml
usage_error check --demo=10 stray-argument
usage_error watch --count 0
usage_error watch --count many
usage_error config frobnicate

# ---- check: JSON, node count, exit status = worst state
# The exit status of a round whose checks are in the given states, in the
# order OK < WARNING < UNKNOWN < CRITICAL (PENDING counts as UNKNOWN).
WORST='
	def rank: {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "PENDING": 2, "CRITICAL": 3}[.];
	[.nodes[] | .checks[]? | .state | rank] | max // 0
	| ["OK", "WARNING", "UNKNOWN", "CRITICAL"][.] as $w
	| {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[$w] as $rc
	| "\($w) \($rc)"'

# Checks one `check --format json` output in $T/out with exit status $rc.
check_json() {
	label=$1 sim=$2
	if ! jq -e . "$T/out" >/dev/null 2>&1; then
		fail "$label: stdout is not JSON: $(head -c 200 "$T/out")"
		return
	fi
	n=$(jq '.nodes | length' "$T/out")
	if jq -e --argjson sim "$sim" '
	    (.nodes | length) == .summary.nodes and
	    ([.nodes[] | select(.provider == "sim")] | length) == $sim and
	    (.nodes | length) >= $sim' "$T/out" >/dev/null; then
		ok "$label: $n nodes ($sim simulated + $((n - sim)) others), summary agrees"
	else
		fail "$label: nodes $n, summary.nodes $(jq .summary.nodes "$T/out"), want $sim simulated"
	fi
	# Every node's health is counted in the summary under its own name.
	bad=$(jq -r '.summary as $s | [.nodes[].health] | group_by(.)[]
	    | select($s[.[0] | ascii_downcase] != length)
	    | "\(.[0]): \(length) nodes, summary says \($s[.[0] | ascii_downcase])"' "$T/out")
	[ -z "$bad" ] || fail "$label: summary counts disagree with the nodes: $bad"
	set -- $(jq -r "$WORST" "$T/out")
	if [ "$rc" -eq "$2" ] && [ "$(jq -r .worst "$T/out")" = "$1" ]; then
		ok "$label: exit $rc = worst state $1"
	else
		fail "$label: exit $rc, .worst $(jq -r .worst "$T/out"); the checks say $1 (exit $2)"
	fi
}

nx check --demo=500 --format json
check_json "check --demo=500 --format json" 500
n500=$(jq '.nodes | length' "$T/out" 2>/dev/null || echo 0)
[ "$n500" -ge 501 ] || fail "check --demo=500: $n500 nodes, want 500 plus this machine"

# Small fleets reach other worst states than CRITICAL: the exit status must
# follow them too, not be a constant.
for s in 1 2 3 4 5 6 7 8; do
	nx check --demo=2 --seed "$s" --format json
	check_json "check --demo=2 --seed $s" 2
done
nx check --demo=0 --format json
check_json "check --demo=0 (this machine only)" 0

# Text output: a header, one line per node, the summary line.
nx check --demo=20 --seed 3
if [ $rc -le 3 ] && grep -q '^STATE' "$T/out" && grep -Eq '^[0-9]+ nodes:' "$T/out"; then
	ok "check --format text"
else
	fail "check text: exit $rc, $(tail -1 "$T/out")"
fi

# ---- check --format nagios: one plugin line; its state word is the exit status
nx check --demo=300 --format nagios
word=$(sed -n 's/^NEXUS \([A-Z]*\) .*/\1/p' "$T/out")
case $word in
OK) want=0 ;; WARNING) want=1 ;; CRITICAL) want=2 ;; UNKNOWN) want=3 ;; *) want=x ;;
esac
if [ "$(lines "$T/out")" -eq 1 ] && [ "$want" = "$rc" ]; then
	ok "check --format nagios: $(cut -c1-60 "$T/out")..."
else
	fail "check --format nagios: exit $rc, output: $(cat "$T/out")"
fi

# ---- --seed: the same seed gives the same fleet
SIMSTATES='[.nodes[] | select(.provider == "sim") | [.name, .health]]'
nx check --demo=300 --seed 4242 --format json
a=$(jq -c "$SIMSTATES" "$T/out" 2>/dev/null)
nx check --demo=300 --seed 4242 --format json
b=$(jq -c "$SIMSTATES" "$T/out" 2>/dev/null)
if [ -n "$a" ] && [ "$a" != "[]" ] && [ "$a" = "$b" ]; then
	ok "--seed 4242: two runs give the same node states"
else
	fail "--seed 4242: two runs differ"
fi
nx check --demo=300 --seed 4243 --format json
c=$(jq -c "$SIMSTATES" "$T/out" 2>/dev/null)
if [ "$a" != "$c" ]; then
	ok "--seed 4243 gives another fleet than --seed 4242"
else
	fail "--seed 4242 and --seed 4243 give the same 300 node states: the seed is ignored"
fi

# ---- watch: JSON lines, increasing seq, stops after --count
start=$(date +%s)
timeout 20 "$NEXUSCTL" watch --demo=200 --format json --count 25 </dev/null >"$T/out" 2>"$T/err"
rc=$?
took=$(($(date +%s) - start))
if [ $rc -eq 0 ] && [ "$(lines "$T/out")" -eq 25 ] && [ $took -le 10 ]; then
	ok "watch --count 25: 25 lines in ${took}s"
else
	fail "watch --count 25: exit $rc (124 = timed out), $(lines "$T/out") lines, ${took}s, stderr: $(head -1 "$T/err")"
fi
if jq -nRe '[inputs | fromjson | .seq] | length == 25 and
    (. as $s | all(range(1; length); $s[.] > $s[. - 1]))' "$T/out" >/dev/null 2>&1; then
	ok "watch: every line is a JSON object, seq increases"
else
	fail "watch: lines are not JSON objects with increasing seq: $(head -2 "$T/out")"
fi

# A reader that goes away must not leave watch running.
start=$(date +%s)
first=$( (timeout 20 "$NEXUSCTL" watch --demo=200 </dev/null 2>"$T/err"; echo $? >"$T/rc") | head -1)
took=$(($(date +%s) - start))
rc=$(cat "$T/rc")
if [ "$rc" != 124 ] && [ $took -le 10 ] && echo "$first" | jq -e .seq >/dev/null 2>&1; then
	ok "watch | head -1: exit $rc after ${took}s"
else
	fail "watch | head -1: exit $rc (124 = still running after 20s), ${took}s, first line: $first"
fi

# SIGTERM stops it cleanly, with exit 0.
# (Not under timeout(1): the signal must reach nexusctl itself.  A watchdog
# kills it after 20 s instead.)
rm -f "$T/out"
"$NEXUSCTL" watch --demo=50 </dev/null >"$T/out" 2>"$T/err" &
pid=$!
(sleep 20; kill -KILL $pid 2>/dev/null) &
watchdog=$!
i=0
while [ ! -s "$T/out" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
kill $watchdog 2>/dev/null
wait $watchdog 2>/dev/null
if [ $rc -eq 0 ] && [ -s "$T/out" ]; then
	ok "watch stops on SIGTERM with exit 0"
else
	fail "watch after SIGTERM: exit $rc (137 = ignored it, killed after 20s), $(lines "$T/out") lines"
fi

# ---- config check: built-in defaults, a good file, file:line:column errors
nx config check
[ $rc -eq 0 ] && ok "config check with no file" ||
	fail "config check with no file: exit $rc, $(cat "$T/err")"
printf '{}\n' >"$T/good.json"
nx config check -c "$T/good.json"
[ $rc -eq 0 ] && ok "config check -c good.json" ||
	fail "config check -c good.json: exit $rc, $(cat "$T/err")"
printf '{\n  "demo": {\n    "nodes": 5,,\n  }\n}\n' >"$T/bad.json"
for c in "config check" check watch; do
	nx $c -c "$T/bad.json"
	if [ $rc -eq 78 ] && grep -Eq 'bad\.json:3:[0-9]+:' "$T/err" && [ ! -s "$T/out" ]; then
		ok "$c -c bad.json: exit 78, $(cat "$T/err")"
	else
		fail "$c -c bad.json: exit $rc (want 78), stderr: $(cat "$T/err")"
	fi
done
example=${TOP_SRCDIR:-.}/contrib/nexusctl.example.json
if [ -f "$example" ]; then
	nx config check -c "$example"
	[ $rc -eq 0 ] && ok "config check -c contrib/nexusctl.example.json" ||
		fail "contrib/nexusctl.example.json: exit $rc, $(cat "$T/err")"
fi
nx config check -c "$T/missing.json"
[ $rc -eq 78 ] && ok "config check -c missing.json: exit 78" ||
	fail "config check -c missing.json: exit $rc (want 78)"

# ---- the console refuses politely without a terminal
nx --demo=10
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(lines "$T/err")" -eq 1 ]; then
	ok "console without a terminal: exit $rc, $(cat "$T/err")"
else
	fail "console without a terminal: exit $rc, stderr: $(cat "$T/err")"
fi

if [ $failures -gt 0 ]; then
	echo
	echo "$failures failures:"
	cat "$T/failures"
	exit 1
fi
echo "all passed"
exit 0
