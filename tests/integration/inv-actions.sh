#!/bin/sh
# inv-actions.sh - provider actions through the real `nexusctl run`: a
# `provider` action on Terraform instances runs the configured command
# template (providers.actions) once per node, hostile ids reaching it as
# data; a failing command fails its host (run exits 1); a
# node whose source has no template says what to set; the sim's reboot in
# a batch run says nothing changes.
#
# Needs $NEXUSCTL and $TOP_SRCDIR (set by `make check`).
# Exit: 0 pass, 1 fail, 77 skip.

set -u
: "${NEXUSCTL:?}" "${TOP_SRCDIR:?}"
FX="$TOP_SRCDIR/tests/fixtures/inventory"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nx-inv-actions.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
export XDG_CONFIG_HOME="$TMP/config" XDG_STATE_HOME="$TMP/state"
PWNED=/tmp/nx-pactions-pwned

. "$TOP_SRCDIR/tests/integration/lib.sh"

nx() {
	timeout 60 "$NEXUSCTL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# The "cloud CLI": one line per argument, bracketed; `fail` fails.
cat >"$TMP/cloud.sh" <<EOF
#!/bin/sh
for a do printf '[%s]\n' "\$a"; done >>"$TMP/argv.log"
[ "\$1" = fail ] && { echo 'cloud: access denied' >&2; exit 4; }
exit 0
EOF
chmod +x "$TMP/cloud.sh"
cat >"$TMP/conf.json" <<EOF
{ "actions": { "define": [
    { "name": "reboot", "kind": "provider", "provider_action": "reboot",
      "concurrency": 1 },
    { "name": "stop", "kind": "provider", "provider_action": "stop" } ] },
  "providers": { "actions": { "terraform": {
    "reboot": "$TMP/cloud.sh reboot-instances \$VAR:tf_id\$ \$HOSTNAME\$",
    "stop": "$TMP/cloud.sh fail \$VAR:tf_id\$" } } } }
EOF

rm -f "$PWNED"
nx run reboot -t 'api-*' --yes -c "$TMP/conf.json" -i "$FX/actions.tfstate"
if [ $rc -eq 0 ] &&
   [ "$(cat "$TMP/argv.log")" = "[reboot-instances]
[i-0f00000000000001]
[api-1]
[reboot-instances]
[i-2'; touch $PWNED; echo '\$(touch $PWNED)\`touch $PWNED\` \"x\" \$HOME]
[api-2]" ] && [ ! -e "$PWNED" ] && grep -q '2 ok' "$TMP/err"; then
	pass "terraform reboot: the template per node, a hostile id as one argument"
else
	fail "terraform reboot (rc $rc)"; cat "$TMP/out" "$TMP/err" "$TMP/argv.log"
fi

nx run stop -t api-1 --yes -c "$TMP/conf.json" -i "$FX/actions.tfstate"
if [ $rc -eq 1 ] && grep -q 'api-1 (1): exit 4' "$TMP/out" &&
   grep -q 'cloud: access denied' "$TMP/out"; then
	pass "a failing command fails its host (run exits 1), its stderr shown"
else
	fail "failing stop (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx run reboot -t legacy1 --yes -c "$TMP/conf.json" -i "$FX/actions.json"
if [ $rc -eq 2 ] &&
   grep -q 'no command to reboot legacy1: set providers.actions.json.reboot' "$TMP/out"; then
	pass "no template for the node's source: says what to set"
else
	fail "json node without template (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

nx run reboot -t web-0001.fra1 --yes -c "$TMP/conf.json" --demo=20
if [ $rc -eq 0 ] && grep -q 'simulated reboot: nothing changes' "$TMP/out"; then
	pass "sim reboot in a batch run: finishes and says nothing changes"
else
	fail "sim batch reboot (rc $rc)"; cat "$TMP/out" "$TMP/err"
fi

# shellcheck disable=SC2016 # $NOPE$ is a macro, not the shell's
printf '{"providers": {"actions": {"terraform": {"reboot": "x $NOPE$"}}}}' \
    >"$TMP/bad.json"
nx config check -c "$TMP/bad.json"
if [ $rc -eq 78 ] && grep -q 'bad.json:1:[0-9]*: providers.actions.terraform.reboot' "$TMP/err"; then
	pass "a bad template is a configuration error with file:line:column"
else
	fail "bad template (rc $rc)"; cat "$TMP/err"
fi

summary
