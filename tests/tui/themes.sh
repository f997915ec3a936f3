#!/bin/sh
#
# themes.sh - the console's themes, in a private tmux server: a shipped
# theme found by name, a user theme in $XDG_CONFIG_HOME/nexusctl/themes
# that overrides it, the built-in mono theme drawing without colour, and a
# broken or missing theme refused before the screen is touched, with
# file:line:column and exit status 78.
#
set -u

: "${NEXUSCTL:?NEXUSCTL must name the nexusctl binary}"
: "${TOP_SRCDIR:?TOP_SRCDIR must name the source tree}"
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP: tmux not found"
	exit 77
fi

NRUN=0
SOCK=
TMP=$(mktemp -d)
ESC=$(printf '\033')
cleanup() {
	i=1
	while [ "$i" -le "$NRUN" ]; do
		tmux -L "nxtheme-$$-$i" kill-server >/dev/null 2>&1
		i=$((i + 1))
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	[ -f "$TMP/screen" ] && { echo "--- the pane:"; cat "$TMP/screen"; }
	exit 1
}

# run_console CONFIG_JSON: start the console on 50 demo nodes with that
# configuration and XDG_CONFIG_HOME=$TMP/xdg, wait (bounded) until it
# draws its header or exits, and leave the screen, with escapes, in
# $TMP/screen.
run_console() {
	printf '%s\n' "$1" > "$TMP/config.json"
	[ -n "$SOCK" ] && tmux -L "$SOCK" kill-server >/dev/null 2>&1
	NRUN=$((NRUN + 1))
	SOCK=nxtheme-$$-$NRUN
	tmux -L "$SOCK" -f /dev/null new-session -d -s nx -x 120 -y 12 \
	    "env XDG_CONFIG_HOME='$TMP/xdg' XDG_STATE_HOME='$TMP/state-$NRUN' TERM=tmux-256color sh -c \
	    '\"$NEXUSCTL\" --demo=50 -c \"$TMP/config.json\"; echo EXIT=\$?; sleep 30'"
	i=0
	while [ $i -lt 50 ]; do
		tmux -L "$SOCK" capture-pane -p -e -t nx > "$TMP/screen" 2>/dev/null
		grep -q 'EXIT=\|51 nodes' "$TMP/screen" && break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.3
	tmux -L "$SOCK" capture-pane -p -e -t nx > "$TMP/screen" 2>/dev/null
}

quit_console() {
	tmux -L "$SOCK" send-keys -t nx q
	i=0
	while [ $i -lt 30 ]; do
		tmux -L "$SOCK" capture-pane -p -t nx | grep -q 'EXIT=0' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "q did not exit 0"
}

# A shipped theme, found by name in the source tree's themes/ through
# the user directory (the binary may live in a build tree without it).
mkdir -p "$TMP/xdg/nexusctl/themes"
cp "$TOP_SRCDIR/themes/high-contrast.json" "$TMP/xdg/nexusctl/themes/"
run_console '{"console": {"theme": "high-contrast"}}'
grep -q '51 nodes' "$TMP/screen" || fail "high-contrast: no header"
# Its title is bright white (97) on black (40) with underline.
grep -q "${ESC}\[[0-9;]*4[0-9;]*m.*NexusController\|${ESC}\[97m" "$TMP/screen" ||
    fail "high-contrast: the title is not drawn with the theme's attributes"
quit_console

# A user theme overriding "default": critical in 256-colour 201.
cat > "$TMP/xdg/nexusctl/themes/default.json" <<'JSON'
{ "name": "default", "colors": { "title": { "fg": 201, "bg": 16 } } }
JSON
run_console '{}'
grep -q "${ESC}\[38;5;201m" "$TMP/screen" ||
    fail "the user's default.json does not override the built-in theme"
quit_console
rm "$TMP/xdg/nexusctl/themes/default.json"

# The built-in mono theme: states as words, no colour escapes at all.
run_console '{"console": {"theme": "mono"}}'
grep -q '51 nodes' "$TMP/screen" || fail "mono: no header"
grep -Eq 'OK|WARNING|CRITICAL' "$TMP/screen" || fail "mono: no state words"
grep -q "${ESC}\[3[0-7]m\|${ESC}\[38;5" "$TMP/screen" &&
    fail "mono: foreground colour escapes on screen"
quit_console

# The demo fleet alone records nothing: no default state store appears.
[ -e "$TMP/state-$NRUN/nexusctl/state.db" ] &&
    fail "the demo console created a state store in XDG_STATE_HOME"

# A broken theme: refused with file:line:column, exit 78, screen untouched.
printf '{\n  "colors": {\n    "ok": { "fg": "grene" }\n  }\n}\n' \
    > "$TMP/xdg/nexusctl/themes/broken.json"
run_console '{"console": {"theme": "broken"}}'
grep -q "broken.json:3:13: colors.ok.fg: expected a colour name" "$TMP/screen" ||
    fail "broken theme: no file:line:column message"
grep -q 'EXIT=78' "$TMP/screen" || fail "broken theme: exit status is not 78"

# A missing theme: says where it looked.
run_console '{"console": {"theme": "nosuch"}}'
grep -q 'theme "nosuch" not found' "$TMP/screen" || fail "missing theme: no message"
grep -q 'EXIT=78' "$TMP/screen" || fail "missing theme: exit status is not 78"

echo "PASS: themes"
exit 0
