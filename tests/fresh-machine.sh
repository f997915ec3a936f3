#!/usr/bin/env bash
#
# fresh-machine.sh - try the README's Quick start as a new user would, on a
# bare Debian 12 root: whatever setup.sh forgets to install fails here.
#
# usage: tests/fresh-machine.sh [-k] [-r REV]
#   -k      keep the root afterwards (path printed at the end)
#   -r REV  the commit to clone (default HEAD; uncommitted changes are not
#           part of a clone, so commit first)
#
# Needs root, debootstrap and network access to the Debian mirror (as apt-get
# on this machine has).  Not part of `make check`: it takes minutes.
#
# What it does:
#   1. debootstrap --variant=minbase --include=git,ca-certificates bookworm
#      (cached as a tarball under /var/cache/nexusctl-fresh/, so reruns
#      skip it), with the bookworm-updates and security suites a real
#      install has, and a policy-rc.d so that installed services (sshd) do
#      not start on this machine's network;
#   2. inside `unshare --mount --pid`: the root bound on itself (so that it
#      is a mount point, as / is on a real machine), proc, /sys, /dev and a
#      tmpfs on /tmp, then chroot;
#   3. as a user without root or sudo: `./setup.sh` must stop and print the
#      apt-get command;
#   4. as root in a fresh clone: `./setup.sh test`, then `./setup.sh` with no
#      terminal (must build and explain), `./nexusctl check --demo=100`, and
#      `./setup.sh` in tmux, whose screen must show the demo fleet's 5001 nodes.
#
# Exit status: 0 when every step passed, 1 otherwise, 77 when it cannot run
# here (not root, no debootstrap).
#
set -euo pipefail

keep=
rev=HEAD
while getopts kr: opt; do
	case $opt in
	k) keep=1 ;;
	r) rev=$OPTARG ;;
	*) sed -n '6,9s/^# \{0,1\}//p' "$0" >&2; exit 64 ;;
	esac
done

if [[ $(id -u) -ne 0 ]]; then
	echo "fresh-machine.sh: needs root (debootstrap, unshare, chroot)" >&2
	exit 77
fi
for tool in debootstrap unshare chroot git tar; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "fresh-machine.sh: $tool is missing (apt-get install debootstrap)" >&2
		exit 77
	fi
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=/var/cache/nexusctl-fresh
BASE=$CACHE/bookworm-minbase.tar.gz
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d /var/tmp/nexusctl-fresh.XXXXXX)
ROOT=$WORK/root
OUT=$ROOT/root/out
start=$SECONDS

say() { printf '[%3ds] %s\n' $((SECONDS - start)) "$*"; }

# Removes the scratch root, after making sure nothing is mounted under it
# (the mounts live in the unshared namespace, which is gone by now).
cleanup() {
	if [[ -n $keep ]]; then
		say "kept the root: $ROOT (chroot $ROOT /bin/bash)"
		return
	fi
	if findmnt -rn -o TARGET | grep -qF "$WORK"; then
		echo "fresh-machine.sh: something is still mounted under $WORK; not removing it" >&2
		return
	fi
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

commit=$(git -C "$SRC" rev-parse --verify "$rev^{commit}")
if [[ $rev == HEAD && -n $(git -C "$SRC" status --porcelain --untracked-files=no) ]]; then
	say "note: $SRC has uncommitted changes; testing the commit $commit only"
fi

# ---- 1. the bare root, from the cache when there is one
mkdir -p "$ROOT"
if [[ -s $BASE ]]; then
	say "unpacking the cached bare root ($BASE)"
	tar -C "$ROOT" --numeric-owner -xzf "$BASE"
else
	say "debootstrap --variant=minbase bookworm (once; cached afterwards)"
	if ! debootstrap --variant=minbase --include=git,ca-certificates \
	    bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log" >&2
		echo "fresh-machine.sh: debootstrap failed" >&2
		exit 1
	fi
	mkdir -p "$CACHE"
	tar -C "$ROOT" --numeric-owner -czf "$BASE.tmp" .
	mv "$BASE.tmp" "$BASE"
fi

# What a real Debian 12 install has and debootstrap does not write.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"

# The repository as a user would clone it: one branch, at the commit.
git clone -q --bare --no-local "$SRC" "$ROOT/srv/nexusctl.git"
git -C "$ROOT/srv/nexusctl.git" update-ref refs/heads/quickstart "$commit"
git -C "$ROOT/srv/nexusctl.git" symbolic-ref HEAD refs/heads/quickstart
mkdir -p "$OUT"

# ---- 2-4. the Quick start, inside the chroot
cat >"$ROOT/root/quickstart.sh" <<'EOS'
#!/bin/bash
# Runs inside the chroot; writes one line per result to /root/out/results.
set -u
OUT=/root/out
result() { printf '%s %s\n' "$1" "$2" | tee -a $OUT/results; }

# 3. A user who is neither root nor a sudoer gets the apt-get command.
useradd -m -s /bin/bash newuser
# (Cloned as root and handed over: git refuses a repository owned by another
# user, and /srv/nexusctl.git belongs to root.)
git clone -q /srv/nexusctl.git /home/newuser/nexusctl
chown -R newuser: /home/newuser/nexusctl
(cd /home/newuser/nexusctl && runuser -u newuser -- ./setup.sh </dev/null) >$OUT/nonroot.log 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'apt-get install -y --no-install-recommends' $OUT/nonroot.log; then
	result PASS "not root, no sudo: setup.sh stops (exit 1) and prints the apt-get command"
else
	result FAIL "not root, no sudo: exit $rc, see nonroot.log"
fi

# 4. The README's two commands, as root, in a fresh clone.
cd /root
git clone -q /srv/nexusctl.git nexusctl && cd nexusctl || exit 1
start=$(date +%s)
./setup.sh test </dev/null >$OUT/setup-test.log 2>&1
rc=$?
cp setup.log $OUT/setup-test.setup.log 2>/dev/null
cp test-suite.log $OUT/ 2>/dev/null
if [ $rc -eq 0 ]; then
	result PASS "./setup.sh test: exit 0 in $(($(date +%s) - start))s"
else
	result FAIL "./setup.sh test: exit $rc after $(($(date +%s) - start))s, see setup-test.log"
fi

./setup.sh </dev/null >$OUT/setup-console.log 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -x nexusctl ] && grep -q 'needs a terminal' $OUT/setup-console.log; then
	result PASS "./setup.sh without a terminal: builds and says how to open the console"
else
	result FAIL "./setup.sh without a terminal: exit $rc, see setup-console.log"
fi

line=$(timeout 120 ./nexusctl check --demo=100 --format nagios 2>&1)
rc=$?
if [ $rc -le 3 ] && echo "$line" | grep -q '^NEXUS [A-Z]* - 101 nodes'; then
	result PASS "nexusctl check --demo=100: exit $rc, $(echo "$line" | cut -d'|' -f1)"
else
	result FAIL "nexusctl check --demo=100: exit $rc, $line"
fi

if command -v tmux >/dev/null 2>&1; then
	# The shell around setup.sh prints the console's exit status: tmux 3.3a
	# sometimes leaves a pane's exited process unreaped (top does it too),
	# so #{pane_dead_status} cannot be trusted.
	tmux new-session -d -s quickstart -x 160 -y 48 \
	    'cd /root/nexusctl && ./setup.sh; echo EXIT=$?; sleep 600'
	found=
	for i in $(seq 1 60); do
		sleep 0.5
		tmux capture-pane -p -t quickstart >$OUT/console.txt 2>/dev/null
		if grep -Eq '5[ ,.]?001' $OUT/console.txt; then
			found=1
			break
		fi
	done
	tmux send-keys -t quickstart q 2>/dev/null
	quit="did not exit within 5 s"
	for i in $(seq 1 50); do
		sleep 0.1
		tmux capture-pane -p -t quickstart >$OUT/console-after-q.txt 2>/dev/null
		st=$(sed -n 's/^EXIT=\([0-9]*\)$/\1/p' $OUT/console-after-q.txt)
		if [ -n "$st" ]; then
			quit="exited with status $st"
			break
		fi
	done
	tmux kill-server
	if [ -n "$found" ] && [ "$quit" = "exited with status 0" ]; then
		result PASS "./setup.sh in tmux: the console shows the 5001 nodes; after q it $quit"
	elif [ -n "$found" ]; then
		result FAIL "./setup.sh in tmux: the console shows the 5001 nodes, but after q it $quit; see console-after-q.txt"
	else
		result FAIL "./setup.sh in tmux: no 5001 on the screen after 30 s; see console.txt"
	fi
else
	result FAIL "tmux was not installed by ./setup.sh test: cannot look at the console"
fi
EOS
chmod +x "$ROOT/root/quickstart.sh"

say "running the Quick start in the chroot (apt-get, build, tests: a few minutes)"
set +e
unshare --mount --pid --fork --propagation private bash -c '
	set -e
	root=$1
	# The root a mount point of its own, as on a real machine: otherwise
	# /proc/self/mounts in the chroot has no "/" and no disk to measure.
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/tmp"
	exec chroot "$root" /usr/bin/env -i HOME=/root TERM=xterm-256color \
	    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    /bin/bash /root/quickstart.sh
' fresh-machine "$ROOT" </dev/null
rc=$?
set -e
[[ $rc -eq 0 ]] || say "the chroot run exited with $rc"

# ---- report
echo
say "results"
sed 's/^/    /' "$OUT/results" 2>/dev/null || echo "    (no results: the chroot run stopped early)"
echo
if [[ -f $OUT/setup-test.log ]]; then
	echo "---- ./setup.sh test (what the user saw, first 60 lines)"
	sed -n '1,60p' "$OUT/setup-test.log"
fi
if grep -q '^FAIL' "$OUT/setup-test.log" 2>/dev/null || ! grep -q '^PASS ./setup.sh test' "$OUT/results" 2>/dev/null; then
	if [[ -f $OUT/test-suite.log ]]; then
		echo "---- test-suite.log: failed and skipped tests"
		grep -E '^(FAIL|SKIP|ERROR|XPASS): |^(FAIL|SKIP|ERROR):|not installed|command not found|No such file' \
		    "$OUT/test-suite.log" | sed -n '1,40p'
	fi
fi
if [[ -f $OUT/console.txt ]]; then
	echo "---- the console's screen in tmux"
	grep -v '^$' "$OUT/console.txt" | sed -n '1,20p'
fi
# Keep the logs next to the cache for a look afterwards.
rm -rf "$CACHE/last-run"
mkdir -p "$CACHE/last-run"
cp -r "$OUT/." "$CACHE/last-run/"
say "logs: $CACHE/last-run/"
if grep -q '^FAIL' "$OUT/results" 2>/dev/null || [[ ! -s $OUT/results ]]; then
	exit 1
fi
exit 0
