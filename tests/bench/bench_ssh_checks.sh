#!/bin/sh
# bench_ssh_checks.sh - what `ssh` checks cost the hosts, with the runner
# (doc/ssh.md, "The runner") and with a channel per check: N nodes (default
# 500) of the loopback sshd lab (tests/integration/sshlab.sh), each with
# one check of kind `ssh` running the Nagios plugin check_load on the node
# every 10 s.  `nexusctl watch` runs the engine live, first as it is, then
# with NEXUSCTL_SSH_RUNNER=0.  After a warm-up, over SPAN seconds: the
# machine's CPU (/proc/stat; the lab's hosts are this machine, so this is
# what the checks cost the hosts, plus nexusctl, plus whatever else runs),
# nexusctl's own CPU (/proc/PID/stat), and the check results counted.
# A benchmark, not a test.
#
#   sudo NEXUSCTL=./nexusctl TOP_SRCDIR=. sh tests/bench/bench_ssh_checks.sh [N]
#   (WARM=25 SPAN=30 REPS=1: the pair of measurements REPS times)

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
PLUGIN=/usr/lib/nagios/plugins/check_load
[ -x "$PLUGIN" ] || lab_skip "$PLUGIN is missing (monitoring-plugins-basic)"
lab_enter "$TOP_SRCDIR/tests/bench/bench_ssh_checks.sh" "$@"
N=${1:-500}
[ "$N" -le 1000 ] || { echo "N up to 1000"; exit 1; }
WARM=${WARM:-25}
SPAN=${SPAN:-30}
REPS=${REPS:-1}

lab_setup
WATCH_PID=
cleanup() {
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	lab_cleanup
}
trap cleanup EXIT
unset SSH_AUTH_SOCK
lab_start

KH="$LAB/known_hosts"
lab_fleet "$N" "$KH" '"groups": ["lab"]' >"$LAB/fleet.json"
cat >"$LAB/config.json" <<EOF
{ "checks": { "interval": "10s", "retry_interval": "10s",
    "define": [ { "name": "load", "kind": "ssh", "target": "@lab",
      "command": "$PLUGIN -w \$ARG1\$ -c \$ARG2\$",
      "args": ["50,40,30", "100,80,60"] } ] } }
EOF

export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
export XDG_CONFIG_HOME="$LAB/xdg" XDG_STATE_HOME="$LAB/xdg"
hz=$(getconf CLK_TCK)
# The machine's busy clock ticks: user nice system irq softirq steal.
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# measure NAME RUNNER: one engine, WARM s, then SPAN s measured.
measure() {
	NEXUSCTL_SSH_RUNNER=$2 "$NEXUSCTL" watch -c "$LAB/config.json" \
	    -i "$LAB/fleet.json" >"$LAB/events" 2>"$LAB/watch.err" &
	WATCH_PID=$!
	sleep "$WARM"
	ticks() { awk '{ print $14 + $15 }' "/proc/$WATCH_PID/stat"; }
	t0=$(ticks)
	m0=$(machine)
	r0=$(grep -c '"check":"load"' "$LAB/events")
	sleep "$SPAN"
	t1=$(ticks)
	m1=$(machine)
	r1=$(grep -c '"check":"load"' "$LAB/events")
	ok=$(grep '"check":"load"' "$LAB/events" | grep -c 'LOAD OK')
	kill "$WATCH_PID"
	wait "$WATCH_PID" 2>/dev/null
	WATCH_PID=
	nx=$(echo "scale=3; ($t1 - $t0) * 100 / $hz / $SPAN" | bc)
	all=$(echo "scale=3; ($m1 - $m0) * 100 / $hz / $SPAN" | bc)
	hosts=$(echo "scale=3; $all - $nx" | bc)
	res=$((r1 - r0))
	per=$(echo "scale=2; ($m1 - $m0 - $t1 + $t0) * 1000 / $hz / ($res + 1)" | bc)
	echo "$1: machine $all% of one core, nexusctl $nx%, the rest" \
	    "(hosts) $hosts%; $res check events in ${SPAN}s ($ok LOAD OK" \
	    "in all); ${per} ms of host CPU per check event"
	echo "$hosts" >>"$LAB/hosts.$1"
}

echo "nodes: $N, one ssh check (check_load) each every 10 s;" \
    "warm-up ${WARM}s, measured over ${SPAN}s"
r=0
while [ $r -lt "$REPS" ]; do
	measure runner 1
	measure channels 0
	r=$((r + 1))
done
med() {
	sort -n "$LAB/hosts.$1" | awk '{ v[NR] = $1 } END {
	    print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "medians of the hosts' CPU: runner $(med runner)%, a channel per" \
    "check $(med channels)%"
