# lib.sh - what the tmux-driven console tests share; sourced, not run.
#
# Every console runs in a tmux server of its own, on its own socket
# (-L $SOCKBASE-N, no config file), so the user's tmux is never touched;
# cleanup kills only those servers and removes $TMP, the test's scratch
# directory (each console gets its own state directory under it, never the
# user's store).  Every wait is a bounded poll in 0.1 s steps.
#
# Before sourcing, set SOCKBASE (a prefix naming the test).

: "${NEXUSCTL:?NEXUSCTL must name the nexusctl binary}"
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP: tmux not found"
	exit 77
fi

NSERVERS=0
SOCK=
TMP=$(mktemp -d)
ESC=$(printf '\033')
STATES='OK|WARNING|CRITICAL|UNKNOWN|DOWN|UNREACHABLE|PENDING'

cleanup() {
	i=1
	while [ "$i" -le "$NSERVERS" ]; do
		tmux -L "$SOCKBASE-$i" kill-server >/dev/null 2>&1
		i=$((i + 1))
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

tm() {
	tmux -L "$SOCK" "$@"
}

cap() {
	tm capture-pane -p -t nx 2>/dev/null
}

fail() {
	echo "FAIL: $*"
	echo "--- the pane:"
	cap
	echo "---"
	exit 1
}

# wait_for REGEX [TENTHS]: poll the pane until a line matches (default 5 s).
wait_for() {
	n=0
	while [ "$n" -lt "${2:-50}" ]; do
		if cap | grep -Eq -- "$1"; then
			return 0
		fi
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

# new_server COMMAND: a new private tmux server, 160x48, running COMMAND
# (a shell command line) with its own XDG_STATE_HOME.
new_server() {
	NSERVERS=$((NSERVERS + 1))
	SOCK=$SOCKBASE-$NSERVERS
	tmux -L "$SOCK" -f /dev/null new-session -d -s nx -x 160 -y 48 \
	    "env TERM=tmux-256color XDG_STATE_HOME='$TMP/state-$NSERVERS' $1" ||
	    fail "tmux new-session"
}

# The table rows: lines that start with the marker column and a state.
rows() {
	cap | grep -E "^[> ][* ] ($STATES) "
}
