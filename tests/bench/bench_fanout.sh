#!/bin/sh
# bench_fanout.sh - `nexusctl run` vs `pdsh -R ssh` on the same loopback sshd
# lab (tests/integration/sshlab.sh): N hosts (default 500), `cat
# /proc/loadavg`, fan-out 64, one cold run each.  Prints wall time, hosts/s
# and the client's CPU time.  A benchmark, not a test.
#
#   sudo NEXUSCTL=./nexusctl TOP_SRCDIR=. sh tests/bench/bench_fanout.sh [N]
#   (NO_PDSH=1: nexusctl only)

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
. "$TOP_SRCDIR/tests/integration/sshlab.sh"
lab_require
lab_enter "$TOP_SRCDIR/tests/bench/bench_fanout.sh" "$@"
N=${1:-500}
[ "$N" -le 1000 ] || { echo "N up to 1000 (127.0.[0-3].[1-250])"; exit 1; }

lab_setup
trap lab_cleanup EXIT
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

# measure NAME CMD...: wall seconds and user+sys CPU of the command.
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$LAB/time" "$@" >"$LAB/out.$name" 2>"$LAB/err.$name"
	rc=$?
	read -r wall user sys <"$LAB/time"
	lines=$(grep -c . "$LAB/out.$name")
	echo "$name: rc=$rc wall=${wall}s cpu=$(echo "$user + $sys" | bc)s" \
	    "hosts/s=$(echo "scale=1; $N / $wall" | bc) output-lines=$lines"
}

measure nexusctl "$NEXUSCTL" run -w "$range" -f 64 -u 60 -l "$LAB_USER" \
    -p "$LAB_PORT" -F none --identity "$LAB/id_ed25519" --known-hosts "$KH" \
    --no-agent --format json -- cat /proc/loadavg
echo "  $(jq -c '{ok, nonzero, failed, elapsed_ms}' "$LAB/out.nexusctl")"

if [ "${NO_PDSH:-0}" = 1 ]; then
	:
elif command -v pdsh >/dev/null 2>&1; then
	PDSH_SSH_ARGS_APPEND="-F /dev/null -p $LAB_PORT -i $LAB/id_ed25519 \
-o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$KH \
-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
	export PDSH_SSH_ARGS_APPEND
	measure pdsh pdsh -R ssh -f 64 -l "$LAB_USER" -w "$range" \
	    cat /proc/loadavg
else
	echo "pdsh: not installed (apt-get install pdsh)"
fi
