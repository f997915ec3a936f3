#!/bin/sh
# bench_stream.sh - the ssh provider streaming N nodes (default 1000) of the
# loopback sshd lab (tests/integration/sshlab.sh) at a 10 s interval:
# `nexusctl watch` runs the engine live; after a warm-up, its CPU (utime +
# stime from /proc/PID/stat) is read 30 s apart, with its RSS and PSS.
# Budget (DESIGN): 1,000 hosts under 10 % of one core and 150 MB RSS.
#
# Then, in the same run and lab, nexusctl stopped, what OpenSSH users run
# instead: one ControlMaster per host (`ssh -N -f`, ControlMaster=yes and
# ControlPersist=yes, CM_FANOUT at a time, default 64), all N connected
# (bounded); the summed RSS, PSS (smaps_rollup) and CPU of the N master
# processes over SPAN idle, then over SPAN while a ControlMaster-based
# monitor samples every host every 10 s (N `ssh -S socket host CMD`,
# CM_FANOUT in flight, CMD the provider's one-shot sample from
# providers/ssh.c), counting the clients' CPU (/usr/bin/time) with the
# masters' (schedstat); its CPU per round over 10 s is compared with
# nexusctl's.  Ratios at the end.  A benchmark, not a test.
#
#   sudo NEXUSCTL=./nexusctl TOP_SRCDIR=. sh tests/bench/bench_stream.sh [N]
#   (WARM=40 SPAN=30; NO_CM=1: nexusctl only; CM_ACTIVE=0: masters idle only)

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
lab_enter "$TOP_SRCDIR/tests/bench/bench_stream.sh" "$@"
N=${1:-1000}
[ "$N" -le 1000 ] || { echo "N up to 1000"; exit 1; }
WARM=${WARM:-40}
SPAN=${SPAN:-30}

CM_FANOUT=${CM_FANOUT:-64}

# Our ControlMasters' pids, asked of each socket in $CM (`ssh -O check`
# prints the master's pid), one a line.
cm_pids() {
	ls "$CM" 2>/dev/null | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' |
	    timeout 120 xargs -r -P 16 -I@ ssh $CM_OPTS -O check @ 2>&1 |
	    sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p'
}
# Ends the masters we started, by pid: those listed in $LAB/cm.pids, then
# any whose socket is still there; only a pid whose command line names $CM.
cm_cleanup() {
	[ -n "$CM" ] || return 0
	for round in 1 2; do
		[ $round -eq 1 ] && [ -s "$LAB/cm.pids" ] || cm_pids >"$LAB/cm.pids"
		for p in $(cat "$LAB/cm.pids"); do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			    grep -q "ControlPath=$CM/" && kill "$p"
		done
		i=0
		while [ $i -lt 50 ] && [ -n "$(ls "$CM" 2>/dev/null)" ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -z "$(ls "$CM" 2>/dev/null)" ] && break
	done
	CM=
}
# cm_sum FILE AWK-PROGRAM: runs the program over /proc/PID/FILE of every
# master in $LAB/cm.pids.
cm_sum() {
	sed "s|.*|/proc/&/$1|" "$LAB/cm.pids" | xargs awk "$2" 2>/dev/null |
	    awk '{ s += $1 } END { print s + 0 }'
}
# The masters' CPU in clock ticks, from the run time in nanoseconds of
# /proc/PID/schedstat: utime + stime in /proc/PID/stat are whole ticks per
# process, and a master's share of a round is well under one.
cm_ticks() {
	cm_sum schedstat "{ s += \$1 } END { printf \"%.0f\\n\", s * $hz / 1e9 }"
}
now() { date +%s.%N; }

lab_setup
WATCH_PID=
CM=
cleanup() {
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	cm_cleanup
	lab_cleanup
}
trap cleanup EXIT
unset SSH_AUTH_SOCK
lab_start

KH="$LAB/known_hosts"
lab_fleet "$N" "$KH" '"vars": { "nexus_transport": "ssh" }' >"$LAB/fleet.json"
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
pss=$(awk '/^Pss:/ { print $2 }' "/proc/$WATCH_PID/smaps_rollup")
up=$(grep -c '"check":"ping","state":"OK"' "$LAB/events")
ok_nodes=$(grep '"check":"mem","state":"OK"' "$LAB/events" |
    sed 's/.*"node":"\([^"]*\)".*/\1/' | sort -u | wc -l)
sessions=$(ls -l "/proc/$WATCH_PID/fd" 2>/dev/null | grep -c socket)
echo "nodes: $N at 10 s; warm-up ${WARM}s, measured over ${SPAN}s"
nx_cpu=$(echo "scale=2; ($t1 - $t0) * 100 / $hz / $SPAN" | bc)
echo "cpu: $nx_cpu% of one core"
echo "rss: $((rss / 1024)) MB"
echo "pss: $((pss / 1024)) MB"
echo "events/s: $(((n1 - n0) / SPAN)); sockets open: $sessions;" \
    "nodes with a mem sample: $ok_nodes; ping OK results: $up"

[ "${NO_CM:-0}" = 1 ] && exit 0

# ---- the same hosts through OpenSSH ControlMaster, nexusctl stopped
kill "$WATCH_PID"
i=0
while kill -0 "$WATCH_PID" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=
sleep 2

hosts=""
i=0
while [ $i -lt "$N" ]; do
	hosts="$hosts 127.0.$((i / 250)).$((i % 250 + 1))"
	i=$((i + 1))
done
CM="$LAB/cm"
mkdir -p "$CM"
CM_OPTS="-F /dev/null -p $LAB_PORT -l $LAB_USER -i $LAB/id_ed25519 \
-o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$KH \
-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
-o ControlPath=$CM/%h"
# A master per host as users start one: `ssh -N -f` with ControlMaster
# and ControlPersist (not -M too: -M after ControlMaster=yes means "ask",
# and with no askpass every mux client would be refused); the foreground ssh exits once its master is
# authenticated and in the background.  Keepalive as nexusctl's (15 s).
t=$(now)
printf '%s\n' $hosts | /usr/bin/time -f "%U %S" -o "$LAB/time.cm" \
    timeout 600 xargs -P "$CM_FANOUT" -I@ timeout 60 ssh $CM_OPTS \
    -o ControlMaster=yes -o ControlPersist=yes -o ServerAliveInterval=15 \
    -o ConnectTimeout=30 -N -f @ >"$LAB/cm.start" 2>&1
t=$(echo "$(now) - $t" | bc)
cm_pids >"$LAB/cm.pids"
masters=$(grep -c . "$LAB/cm.pids")
read -r u s <"$LAB/time.cm"
echo "controlmaster: $masters of $N masters up in ${t%???????}s" \
    "(-P $CM_FANOUT; the clients' handshakes: $(echo "$u + $s" | bc)s CPU)"
[ "$masters" -eq "$N" ] || { echo "not every master came up:"; sort "$LAB/cm.start" | uniq -c | head; }
[ "$masters" -gt 0 ] || exit 1
sleep 5

t0=$(cm_ticks)
sleep "$SPAN"
t1=$(cm_ticks)
cm_rss=$(cm_sum status '/^VmRSS/ { s += $2 } END { print s + 0 }')
cm_pss=$(cm_sum smaps_rollup '/^Pss:/ { s += $2 } END { print s + 0 }')
cm_idle=$(echo "scale=2; ($t1 - $t0) * 100 / $hz / $SPAN" | bc)
echo "controlmaster idle, $masters masters over ${SPAN}s:" \
    "cpu $cm_idle% of one core;" \
    "rss $((cm_rss / 1024)) MB ($((cm_rss / masters)) kB each);" \
    "pss $((cm_pss / 1024)) MB ($((cm_pss / masters)) kB each)"

cm_active=
if [ "${CM_ACTIVE:-1}" = 1 ]; then
	# A ControlMaster-based monitor: every 10 s, the provider's one-shot
	# sample (providers/ssh.c SSHP_BODY; SSHP_DF) on every host through
	# its master, CM_FANOUT clients in flight.
	SAMPLE='read l1 x < /proc/loadavg; read c u n s i w q sq st x < /proc/stat; mt=0; ma=0; while read k v x; do case $k in MemTotal:) mt=$v;; MemAvailable:) ma=$v;; esac; done < /proc/meminfo; echo "nx $l1 $u $n $s $i $w $q $sq $st $mt $ma"; echo dfs; df -P -l 2>/dev/null; echo dfe'
	rounds=$((SPAN / 10))
	[ $rounds -ge 1 ] || rounds=1
	: >"$LAB/cm.samples"
	: >"$LAB/cm.err"
	clients=0
	t0=$(cm_ticks)
	start=$(now)
	r=0
	while [ $r -lt $rounds ]; do
		d=$(echo "$start + 10 * $r - $(now)" | bc)
		[ "$(echo "$d > 0" | bc)" = 1 ] && sleep "$d"
		t=$(now)
		printf '%s\n' $hosts | /usr/bin/time -f "%U %S" -o "$LAB/time.round" \
		    timeout 120 xargs -P "$CM_FANOUT" -I@ ssh $CM_OPTS \
		    -o ControlMaster=no @ "$SAMPLE" >>"$LAB/cm.samples" \
		    2>>"$LAB/cm.err"
		read -r u s <"$LAB/time.round"
		clients=$(echo "$clients + $u + $s" | bc)
		printf "  round %d: %.2fs wall, clients %ss CPU\n" $r \
		    "$(echo "$(now) - $t" | bc)" "$(echo "$u + $s" | bc)"
		r=$((r + 1))
	done
	d=$(echo "$start + 10 * $rounds - $(now)" | bc)
	[ "$(echo "$d > 0" | bc)" = 1 ] && sleep "$d"
	t1=$(cm_ticks)
	span=$(echo "$(now) - $start" | bc)
	samples=$(grep -c '^nx ' "$LAB/cm.samples")
	cm_master=$(echo "scale=2; ($t1 - $t0) * 100 / $hz / $span" | bc)
	cm_clients=$(echo "scale=2; $clients * 100 / $span" | bc)
	# A round that takes more than 10 s stretches the span: the CPU of
	# one round over 10 s is the cost at the interval asked for.
	cm_round=$(echo "scale=3; (($t1 - $t0) / $hz + $clients) / $rounds" | bc)
	cm_active=$(echo "scale=2; $cm_round * 10" | bc)
	echo "controlmaster sampling every 10 s over ${span%???????}s:" \
	    "cpu $(echo "scale=2; $cm_master + $cm_clients" | bc)% of one core" \
	    "(masters $cm_master%, ssh -S clients $cm_clients%);" \
	    "per round ${cm_round}s: $cm_active% of one core at 10 s;" \
	    "samples: $samples of $((N * rounds));" \
	    "client errors (a refused mux falls back to a new connection):" \
	    "$(grep -c . "$LAB/cm.err")"
fi

# ratio A B: A / B to a tenth, "n/a" when B is 0.
ratio() {
	if [ "$(echo "$2 == 0" | bc)" = 1 ]; then echo n/a; else
		echo "scale=1; $1 / $2" | bc; fi
}
echo "controlmaster / nexusctl: rss $(ratio "$cm_rss" "$rss")x," \
    "pss $(ratio "$cm_pss" "$pss")x, cpu idle $(ratio "$cm_idle" "$nx_cpu")x${cm_active:+,}" \
    "${cm_active:+cpu sampling $(ratio "$cm_active" "$nx_cpu")x}"
