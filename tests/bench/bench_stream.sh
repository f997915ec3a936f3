#!/bin/sh
# bench_stream.sh - the ssh provider streaming N nodes (default 1000) of the
# loopback sshd lab (tests/integration/sshlab.sh) at a 10 s interval:
# `nexusctl watch` runs the engine live; after a warm-up, its CPU (utime +
# stime from /proc/PID/stat) is read 30 s apart, with its RSS.  Budget
# (DESIGN): 1,000 hosts under 10 % of one core and 150 MB RSS.  A
# benchmark, not a test.
#
#   sudo NEXUSCTL=./nexusctl TOP_SRCDIR=. sh tests/bench/bench_stream.sh [N]

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
lab_enter "$TOP_SRCDIR/tests/bench/bench_stream.sh" "$@"
N=${1:-1000}
[ "$N" -le 1000 ] || { echo "N up to 1000"; exit 1; }
WARM=${WARM:-40}
SPAN=${SPAN:-30}

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
key=$(cut -d' ' -f1,2 "$LAB/host_ed25519.pub")
{
	echo '{ "nodes": ['
	i=0
	while [ $i -lt "$N" ]; do
		a="127.0.$((i / 250)).$((i % 250 + 1))"
		echo "[$a]:$LAB_PORT $key" >>"$KH"
		[ $i -gt 0 ] && echo ,
		echo "{ \"name\": \"n$i\", \"address\": \"$a\", \"port\": $LAB_PORT," \
		    "\"user\": \"$LAB_USER\", \"vars\": { \"nexus_transport\": \"ssh\" } }"
		i=$((i + 1))
	done
	echo '] }'
} >"$LAB/fleet.json"
echo '{"checks": {"interval": "10s", "retry_interval": "10s"}}' >"$LAB/config.json"

export NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" NEXUSCTL_SSH_KNOWN_HOSTS="$KH"
export NEXUSCTL_SSH_CONFIG=none
export XDG_CONFIG_HOME="$LAB/xdg" XDG_STATE_HOME="$LAB/xdg"
"$NEXUSCTL" watch -c "$LAB/config.json" -i "$LAB/fleet.json" >"$LAB/events" \
    2>"$LAB/watch.err" &
WATCH_PID=$!
sleep "$WARM"
ticks() { awk '{ print $14 + $15 }' "/proc/$WATCH_PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
n0=$(wc -l <"$LAB/events")
sleep "$SPAN"
t1=$(ticks)
n1=$(wc -l <"$LAB/events")
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$WATCH_PID/status")
up=$(grep -c '"check":"ping","state":"OK"' "$LAB/events")
ok_nodes=$(grep '"check":"mem","state":"OK"' "$LAB/events" |
    sed 's/.*"node":"\([^"]*\)".*/\1/' | sort -u | wc -l)
sessions=$(ls -l "/proc/$WATCH_PID/fd" 2>/dev/null | grep -c socket)
echo "nodes: $N at 10 s; warm-up ${WARM}s, measured over ${SPAN}s"
echo "cpu: $(echo "scale=2; ($t1 - $t0) * 100 / $hz / $SPAN" | bc)% of one core"
echo "rss: $((rss / 1024)) MB"
echo "events/s: $(((n1 - n0) / SPAN)); sockets open: $sessions;" \
    "nodes with a mem sample: $ok_nodes; ping OK results: $up"
