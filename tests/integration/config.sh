#!/bin/sh
# config.sh - the configuration file through the real binary: `config check`
# on good and bad files (exit 0 / 78, file:line:column on stderr), `config
# show`, `check` using the file (and the command line winning over it), and
# pickup of $XDG_CONFIG_HOME/nexusctl/config.json.
#
# Needs $NEXUSCTL (set by `make check`) and jq.  Exit 0 pass, 1 fail, 77 skip.

: "${NEXUSCTL:?NEXUSCTL must name the nexusctl binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
command -v timeout >/dev/null 2>&1 || { echo "SKIP: timeout not installed"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/nx-config-sh.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
# Never read the real user's configuration.
HOME=$T/home
XDG_CONFIG_HOME=$T/xdg
export HOME XDG_CONFIG_HOME
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# run NAME CMD...: runs the binary (bounded in time), keeping status,
# stdout and stderr in $rc, $T/out and $T/err.
run() {
	timeout 60 "$NEXUSCTL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "$2: exit $rc, expected $1 (stderr: $(cat "$T/err"))"
}

expect_err() {
	grep -qF -- "$1" "$T/err" || fail "$2: stderr lacks '$1': $(cat "$T/err")"
}

cat >"$T/good.json" <<'EOF'
{
	"demo": { "nodes": 7, "seed": 3, "local": false },
	"checks": { "interval": "1m30s", "retry_interval": 2.5, "max_attempts": 4 },
	"console": { "fps": 5, "theme": "mono" }
}
EOF

# -- config check: good file
run config check -c "$T/good.json"
expect_rc 0 "config check good"
grep -qxF "$T/good.json: ok" "$T/out" || fail "config check good: stdout: $(cat "$T/out")"

# -- config check: bad files, each with its exact position
check_bad() {
	# check_bad EXPECTED-STDERR-AFTER-PATH: file content on stdin
	cat >"$T/bad.json"
	run config check -c "$T/bad.json"
	expect_rc 78 "config check bad ($1)"
	expect_err "$T/bad.json$1" "config check bad"
	[ ! -s "$T/out" ] || fail "config check bad ($1): stdout not empty"
}

check_bad ':4:15: checks.interval: expected a duration like "10s" or a number of seconds, got "ten"' <<'EOF'
{
	"demo": { "nodes": 7 },
	"checks": {
		"interval": "ten"
	}
}
EOF
check_bad ':3:3: unknown key "intervall" in checks (did you mean "interval"?)' <<'EOF'
{ "checks":
  {
  "intervall": "10s"
  }
}
EOF
check_bad ':1:20: demo.nodes: expected an integer from 0 to 10000000, got 10000001' <<'EOF'
{"demo": {"nodes": 10000001}}
EOF
check_bad ':2:2: duplicate key "demo" at the top level' <<'EOF'
{"demo": {},
 "demo": {}}
EOF
check_bad ':2:1: unexpected text after the end of the top-level object' <<'EOF'
{"demo": {}}
garbage
EOF
check_bad ':1:1: empty file' </dev/null
check_bad ':1:1: expected a JSON object at the top level, got an array' <<'EOF'
[]
EOF
check_bad ':1:24: invalid token near' <<'EOF'
{"demo": {"enabled": tru}}
EOF

run config check -c "$T/does-not-exist.json"
expect_rc 78 "config check missing file"
expect_err "$T/does-not-exist.json: cannot open the configuration: No such file or directory" "missing file"

run config check -c "$T"
expect_rc 78 "config check directory"
expect_err "Is a directory" "directory"

# -- config show: the effective configuration, loadable as a config file
run config show --format json -c "$T/good.json"
expect_rc 0 "config show json"
[ "$(jq -r '.checks.interval' "$T/out")" = "1m30s" ] || fail "show: interval: $(cat "$T/out")"
[ "$(jq -r '.checks.retry_interval' "$T/out")" = "2s500ms" ] || fail "show: retry_interval"
[ "$(jq -r '.checks.timeout' "$T/out")" = "10s" ] || fail "show: default timeout"
[ "$(jq -r '.demo.nodes' "$T/out")" = "7" ] || fail "show: demo.nodes"
[ "$(jq -r '.console.theme' "$T/out")" = "mono" ] || fail "show: theme"
cp "$T/out" "$T/shown.json"
run config show --format json -c "$T/shown.json"
expect_rc 0 "config show of shown"
cmp -s "$T/out" "$T/shown.json" || fail "show -> file -> show differs"
run config show --format json -c "$T/good.json" --demo=12 --seed 9
[ "$(jq -r '.demo.nodes' "$T/out")" = "12" ] || fail "show: --demo over the file"
[ "$(jq -r '.demo.seed' "$T/out")" = "9" ] || fail "show: --seed over the file"
run config show -c "$T/good.json"
expect_rc 0 "config show text"
grep -q '^checks.interval *= 1m30s' "$T/out" || fail "show text: $(cat "$T/out")"
run config show --format yaml
expect_rc 64 "config show --format yaml"

# -- check uses the file; the command line wins over it
run check --format json -c "$T/good.json"
[ "$rc" -le 3 ] || fail "check -c good: exit $rc: $(cat "$T/err")"
[ "$(jq '.summary.nodes' "$T/out")" = "7" ] || fail "check -c good: nodes $(jq '.summary.nodes' "$T/out")"
run check --demo=10 --format json -c "$T/good.json"
[ "$rc" -le 3 ] || fail "check --demo=10 -c good: exit $rc"
[ "$(jq '.summary.nodes' "$T/out")" = "10" ] || fail "check --demo=10 -c good: nodes $(jq '.summary.nodes' "$T/out")"
run check --format json -c "$T/bad.json"
expect_rc 78 "check with a bad file"
expect_err "$T/bad.json:1:24:" "check with a bad file"

# -- no file anywhere: built-in defaults, and config check says so
run config check
expect_rc 0 "config check without a file"
grep -qF "no configuration file at $XDG_CONFIG_HOME/nexusctl/config.json; built-in defaults: ok" "$T/out" ||
	fail "config check without a file: $(cat "$T/out")"

# -- $XDG_CONFIG_HOME/nexusctl/config.json is picked up
mkdir -p "$XDG_CONFIG_HOME/nexusctl"
printf '{"demo": {"nodes": 4, "local": false}}\n' >"$XDG_CONFIG_HOME/nexusctl/config.json"
run config check
expect_rc 0 "config check xdg"
grep -qxF "$XDG_CONFIG_HOME/nexusctl/config.json: ok" "$T/out" || fail "config check xdg: $(cat "$T/out")"
run check --format json
[ "$(jq '.summary.nodes' "$T/out")" = "4" ] || fail "check with xdg config: nodes $(jq '.summary.nodes' "$T/out")"
# -c wins over the default file.
run check --format json -c "$T/good.json"
[ "$(jq '.summary.nodes' "$T/out")" = "7" ] || fail "-c over xdg: nodes"
# ~/.config when XDG_CONFIG_HOME is unset.
mkdir -p "$HOME/.config/nexusctl"
printf '{"demo": {"nodes": 3, "local": false}}\n' >"$HOME/.config/nexusctl/config.json"
run check --format json
[ "$(jq '.summary.nodes' "$T/out")" = "4" ] || fail "xdg over ~/.config"
(unset XDG_CONFIG_HOME; timeout 60 "$NEXUSCTL" check --format json >"$T/out" 2>"$T/err")
[ "$(jq '.summary.nodes' "$T/out")" = "3" ] || fail "~/.config without XDG_CONFIG_HOME: $(cat "$T/err")"
# A bad default file stops every command with its position.
printf '{"demo": {"nodes": "many"}}\n' >"$XDG_CONFIG_HOME/nexusctl/config.json"
run check --format json
expect_rc 78 "check with a bad xdg file"
expect_err "$XDG_CONFIG_HOME/nexusctl/config.json:1:20: demo.nodes:" "bad xdg file"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "config.sh: all passed"
exit 0
