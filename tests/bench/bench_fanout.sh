#!/bin/sh
# bench_fanout.sh - `nexusctl run` vs `pdsh -R ssh` on the same loopback sshd
# lab (tests/integration/sshlab.sh): N hosts (default 500), `cat
# /proc/loadavg`, fan-out 64.  nexusctl (one-shot, so always cold) REPS
# times; pdsh cold (a new ssh connection per host) COLD_REPS times; pdsh
# warm (OpenSSH ControlMaster/ControlPersist masters opened by a first,
# unmeasured run) REPS times.  Prints each run's wall time, hosts/s and
# the client's CPU time, then the medians and the ratios.  A benchmark,
# not a test.
#
#   sudo NEXUSCTL=./nexusctl TOP_SRCDIR=. \
#       BENCH_SSH_WARM=./tests/bench/bench_ssh_warm sh tests/bench/bench_fanout.sh [N]
#   (NO_PDSH=1: nexusctl only; REPS=3, COLD_REPS=1, WARM_FANOUT=64,
#   ENGINE_FANOUT=64 (`run --engine -f`);
#   BENCH_SSH_WARM, built
#   by `make tests/bench/bench_ssh_warm`: the pool warm, as the engine's
#   checks and jobs use it; NO_ENGINE=1: skip `run --engine`, which
#   starts `nexusctl engine` on an inventory of the N hosts and runs
#   the same command through its control socket: once cold (its pool
#   connects), then REPS times warm (the pool's sessions stay open);
#   first with the runner (doc/ssh.md), then, unless NO_CHANNELS=1,
#   with a channel per command (NEXUSCTL_SSH_RUNNER=0))

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
lab_enter "$TOP_SRCDIR/tests/bench/bench_fanout.sh" "$@"
N=${1:-500}
[ "$N" -le 1000 ] || { echo "N up to 1000 (127.0.[0-3].[1-250])"; exit 1; }

REPS=${REPS:-3}
COLD_REPS=${COLD_REPS:-1}

lab_setup
CM=
# The ControlPersist masters are ours: ask each to exit (by its socket).
cm_cleanup() {
	[ -n "$CM" ] || return 0
	pids=
	for h in $hosts; do
		timeout 10 ssh -F /dev/null -o ControlPath="$CM/%C" \
		    -p "$LAB_PORT" -l "$LAB_USER" -O exit "$h" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	# Not a bare `wait`: sshd is a job of this shell too.
	for p in $pids; do
		wait "$p"
	done
	CM=
}
trap 'cm_cleanup; lab_cleanup' EXIT
unset SSH_AUTH_SOCK
lab_start

# The first N addresses of 127.0.0-3.1-250, as a list and a pdsh range.
hosts=""
i=0
while [ $i -lt "$N" ]; do
	hosts="$hosts 127.0.$((i / 250)).$((i % 250 + 1))"
	i=$((i + 1))
done
last=$(((N - 1) / 250))
range=""
b=0
while [ $b -le $last ]; do
	hi=250
	[ $b -eq $last ] && hi=$(((N - 1) % 250 + 1))
	range="$range${range:+,}127.0.$b.[1-$hi]"
	b=$((b + 1))
done
KH="$LAB/known_hosts"
key=$(cut -d' ' -f1,2 "$LAB/host_ed25519.pub")
for h in $hosts; do echo "[$h]:$LAB_PORT $key"; done >"$KH"

echo "hosts: $N ($range), command: cat /proc/loadavg, fan-out 64"

# measure NAME CMD...: one run; prints wall seconds, hosts/s and user+sys
# CPU of the command, and appends the wall time to $LAB/walls.NAME.
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$LAB/time" "$@" >"$LAB/out.$name" 2>"$LAB/err.$name"
	rc=$?
	read -r wall user sys <"$LAB/time"
	lines=$(grep -c . "$LAB/out.$name")
	echo "$wall" >>"$LAB/walls.$name"
	echo "$name: rc=$rc wall=${wall}s cpu=$(echo "$user + $sys" | bc)s" \
	    "hosts/s=$(echo "scale=1; $N / $wall" | bc) output-lines=$lines"
}
# median NAME: the median wall time of NAME's runs.
median() {
	sort -n "$LAB/walls.$1" | awk '{ v[NR] = $1 } END {
	    print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

r=0
while [ $r -lt "$REPS" ]; do
	measure nexusctl "$NEXUSCTL" run -w "$range" -f 64 -u 60 -l "$LAB_USER" \
	    -p "$LAB_PORT" -F none --identity "$LAB/id_ed25519" --known-hosts "$KH" \
	    --no-agent --format json -- cat /proc/loadavg
	echo "  $(jq -c '{ok, nonzero, failed, elapsed_ms}' "$LAB/out.nexusctl")"
	r=$((r + 1))
done

# `run --engine`: a running engine's pool (engine/ctl.c).
if [ "${NO_ENGINE:-0}" != 1 ]; then
	{
		echo '{ "nodes": ['
		sep=
		for h in $hosts; do
			printf '%s{"name": "%s", "address": "%s", "port": %d, "user": "%s", "groups": ["lab"]}\n' \
			    "$sep" "$h" "$h" "$LAB_PORT" "$LAB_USER"
			sep=,
		done
		echo '] }'
	} >"$LAB/engine-inv.json"
	echo '{ "demo": { "enabled": false, "local": false } }' >"$LAB/engine-conf.json"
	# engine_bench NAME RUNNER: an engine (NEXUSCTL_SSH_RUNNER=RUNNER),
	# the command once cold (its pool connects), then REPS times warm.
	engine_bench() {
		rm -f "$LAB/engine.db"*
		: >"$LAB/engine.err"
		NEXUSCTL_SSH_RUNNER=$2 NEXUSCTL_SSH_IDENTITY="$LAB/id_ed25519" \
		    NEXUSCTL_SSH_KNOWN_HOSTS="$KH" "$NEXUSCTL" engine \
		    -c "$LAB/engine-conf.json" -i "$LAB/engine-inv.json" \
		    --state "$LAB/engine.db" >/dev/null 2>"$LAB/engine.err" &
		epid=$!
		i=0
		while ! grep -q 'started:' "$LAB/engine.err" && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		ecmd "$1-cold"
		r=0
		while [ $r -lt "$REPS" ]; do
			ecmd "$1-warm"
			r=$((r + 1))
		done
		kill "$epid"
		wait "$epid"
	}
	ecmd() {
		measure "$1" "$NEXUSCTL" run --engine --state "$LAB/engine.db" \
		    -w "$range" -f "${ENGINE_FANOUT:-64}" -u 60 --format json -- cat /proc/loadavg
		echo "  $(jq -c '{ok, nonzero, failed, elapsed_ms}' "$LAB/out.$1")"
	}
	# The runner (a shell per session reads the commands), then a
	# channel per command (NEXUSCTL_SSH_RUNNER=0).
	engine_bench engine 1
	[ "${NO_CHANNELS:-0}" = 1 ] || engine_bench engine-channels 0
fi

if [ "${NO_PDSH:-0}" = 1 ]; then
	:
elif command -v pdsh >/dev/null 2>&1; then
	SSH_COMMON="-F /dev/null -p $LAB_PORT -i $LAB/id_ed25519 \
-o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$KH \
-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
	PDSH_SSH_ARGS_APPEND=$SSH_COMMON
	export PDSH_SSH_ARGS_APPEND
	r=0
	while [ $r -lt "$COLD_REPS" ]; do
		measure pdsh-cold pdsh -R ssh -f 64 -l "$LAB_USER" -w "$range" \
		    cat /proc/loadavg
		r=$((r + 1))
	done
	CM="$LAB/cm"
	mkdir -p "$CM"
	PDSH_SSH_ARGS_APPEND="$SSH_COMMON -o ControlMaster=auto \
-o ControlPath=$CM/%C -o ControlPersist=300"
	export PDSH_SSH_ARGS_APPEND
	# The first run opens the masters; it is not measured.
	pdsh -R ssh -f 64 -l "$LAB_USER" -w "$range" cat /proc/loadavg \
	    >/dev/null 2>"$LAB/err.pdsh-warmup"
	echo "pdsh warm-up: $(ls "$CM" | wc -l) ControlMaster sockets"
	r=0
	while [ $r -lt "$REPS" ]; do
		measure pdsh-warm pdsh -R ssh -f 64 -l "$LAB_USER" -w "$range" \
		    cat /proc/loadavg
		r=$((r + 1))
	done
else
	echo "pdsh: not installed (apt-get install pdsh)"
fi

# The pool warm: BENCH_SSH_WARM is tests/bench/bench_ssh_warm (make
# tests/bench/bench_ssh_warm): the same command on every host, WARM_FANOUT in
# flight (default 64), over sessions a first round opened.
if [ -n "${BENCH_SSH_WARM:-}" ] && [ -x "$BENCH_SSH_WARM" ]; then
	"$BENCH_SSH_WARM" "$range" "$LAB_PORT" "$LAB_USER" "$LAB/id_ed25519" \
	    "$KH" "${WARM_FANOUT:-64}" "$REPS" | tee "$LAB/out.warm"
	sed -n 's/^warm median: \([0-9.]*\)s.*/\1/p' "$LAB/out.warm" \
	    >"$LAB/walls.nexusctl-warm"
fi

echo "medians (wall s, hosts/s):"
for name in nexusctl pdsh-cold pdsh-warm nexusctl-warm engine-cold engine-warm \
    engine-channels-cold engine-channels-warm; do
	[ -s "$LAB/walls.$name" ] || continue
	m=$(median $name)
	echo "  $name: ${m}s $(echo "scale=1; $N / $m" | bc) hosts/s" \
	    "($(wc -l <"$LAB/walls.$name") runs)"
done
if [ -s "$LAB/walls.pdsh-cold" ] && [ -s "$LAB/walls.pdsh-warm" ]; then
	n=$(median nexusctl)
	echo "nexusctl vs pdsh cold: $(echo "scale=2; $(median pdsh-cold) / $n" | bc)x;" \
	    "vs pdsh warm: $(echo "scale=2; $(median pdsh-warm) / $n" | bc)x"
fi
if [ -s "$LAB/walls.pdsh-warm" ] && [ -s "$LAB/walls.engine-warm" ]; then
	echo "run --engine warm vs pdsh warm: $(echo "scale=2; $(median pdsh-warm) / $(median engine-warm)" | bc)x"
fi
if [ -s "$LAB/walls.pdsh-warm" ] && [ -s "$LAB/walls.engine-channels-warm" ]; then
	echo "run --engine warm, a channel per command, vs pdsh warm: $(echo "scale=2; $(median pdsh-warm) / $(median engine-channels-warm)" | bc)x"
fi
if [ -s "$LAB/walls.pdsh-warm" ] && [ -s "$LAB/walls.nexusctl-warm" ]; then
	echo "pool warm vs pdsh warm: $(echo "scale=2; $(median pdsh-warm) / $(median nexusctl-warm)" | bc)x"
fi
