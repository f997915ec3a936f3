#!/bin/sh
#
# console-filter.sh - how long one keystroke of the '/' filter takes to
# reach the screen in the real console on a large demo fleet: the time
# from `tmux send-keys` until capture-pane shows the new match count.
# It includes tmux's own delivery and a capture-pane poll (about 2-4 ms
# per poll), so it is an upper bound of the console's share.
#
# Usage: NEXUSCTL=./nexusctl tests/bench/console-filter.sh [NODES] [ROUNDS]
# Not a test: prints figures.
set -u
: "${NEXUSCTL:?NEXUSCTL must name the nexusctl binary}"
NODES=${1:-100000}
ROUNDS=${2:-5}
SOCK=nxbench-filter-$$
trap 'tmux -L "$SOCK" kill-server >/dev/null 2>&1' EXIT

tm() { tmux -L "$SOCK" "$@"; }
now_us() { echo $(($(date +%s%N) / 1000)); }

tm -f /dev/null new-session -d -s nx -x 160 -y 48 \
    "env TERM=tmux-256color '$NEXUSCTL' --demo=$NODES; sleep 30"
n=0
until tm capture-pane -p -t nx | grep -q "$((NODES + 1)) nodes"; do
	n=$((n + 1))
	[ "$n" -lt 300 ] || { echo "console did not start"; exit 1; }
	sleep 0.1
done
sleep 2

# key TEXT_BEFORE KEY: type KEY and wait until the footer's match count
# changes from what it was; prints the milliseconds.
measure() {
	before=$(tm capture-pane -p -t nx | tail -n 1)
	t0=$(now_us)
	tm send-keys -t nx "$1"
	i=0
	while [ "$i" -lt 5000 ]; do
		after=$(tm capture-pane -p -t nx | tail -n 1)
		[ "$after" != "$before" ] && break
		i=$((i + 1))
	done
	t1=$(now_us)
	echo "$(( (t1 - t0) / 1000 )).$(( (t1 - t0) % 1000 / 100 ))"
}

echo "nodes: $((NODES + 1)); keystroke -> screen, ms (filter after the key)"
# The floor: a key on the ':' line, which only echoes (no filter work).
tm send-keys -t nx :
sleep 0.3
printf 'baseline (a key on the : line):'
for k in x y z x y; do
	printf ' %s' "$(measure "$k")"
	sleep 0.2
done
echo
tm send-keys -t nx Escape
sleep 0.3
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	tm send-keys -t nx /
	sleep 0.3
	a=$(measure w)
	sleep 0.3
	b=$(measure e)
	sleep 0.3
	c=$(measure b)
	sleep 0.3
	d=$(measure BSpace)
	sleep 0.3
	echo "round $((r + 1)):  'w' $a   'we' $b   'web' $c   Backspace 'we' $d"
	tm send-keys -t nx Escape
	sleep 0.5
	r=$((r + 1))
done
tm send-keys -t nx : s o r t Space l o a d Enter
sleep 1
tm send-keys -t nx /
sleep 0.3
echo "sorted by load, '/s' then 'state:crit' by keys:"
for k in s t a t e : c r i t; do
	printf '%s %s  ' "$k" "$(measure "$k")"
	sleep 0.2
done
echo
