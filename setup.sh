#!/usr/bin/env bash
#
# setup.sh - the Quick start of README.md: install what is missing, build,
# then open the console or run the test suite.
#
#   ./setup.sh                       install, build, open the console (demo fleet)
#   ./setup.sh test [CONFIGURE_ARGS] install, build, run `make check`
#   ./setup.sh build [CONFIGURE_ARGS] install and build only
#
# Packages come from Debian 12 (bookworm).  Everything this script does is
# logged to setup.log; the terminal gets one line per step.  It stops at the
# first step that fails and says which one.
#
set -euo pipefail

# The packages the build needs, and the ones the test suite needs on top
# (real sshd, real Nagios plugins, tmux for the console tests, jq).
BUILD_PKGS=(gcc make autoconf automake pkg-config libncurses-dev libuv1-dev
	libssh2-1-dev libsqlite3-dev libjansson-dev libpcre2-dev libssl-dev
	libyaml-dev libcmocka-dev)
TEST_PKGS=(tmux jq monitoring-plugins-basic openssh-server openssh-client
	sqlite3 iproute2 util-linux procps ansible-core)

cd "$(dirname "${BASH_SOURCE[0]}")"
LOG=$PWD/setup.log
STAMP=build-aux/setup-configure-args
JOBS=$(nproc 2>/dev/null || echo 2)

usage() {
	echo "usage:"
	sed -n '6,8s/^#//p' "${BASH_SOURCE[0]}"
}

step() { printf '==> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

# Runs "$@" with its output appended to setup.log.  If it fails, shows what
# the step printed (its errors first when it printed a lot) and stops,
# naming the step on the last line.
run_logged() {
	local what=$1 from out
	shift
	printf '\n### %s: %s\n' "$what" "$*" >>"$LOG"
	from=$(($(stat -c %s "$LOG") + 1))
	if ! "$@" >>"$LOG" 2>&1; then
		out=$(tail -c +"$from" "$LOG")
		{
			printf -- '---- output of %s (all of it is in %s)\n' "$what" "$LOG"
			if [[ $(wc -l <<<"$out") -gt 40 ]]; then
				grep -E -m 30 'error|Error|\*\*\*|E: |not found' <<<"$out"
				echo "..."
				tail -n 10 <<<"$out"
			else
				printf '%s\n' "$out"
			fi
			printf -- '----\n'
			printf 'setup.sh: %s failed: %s\n' "$what" "$*"
		} >&2
		exit 1
	fi
}

# Prints the packages of "$@" that dpkg does not list as installed.
missing_packages() {
	local p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ $status == "install ok installed" ]] || printf '%s\n' "$p"
	done
}

# Installs the missing packages among "$@": as root directly, otherwise
# with sudo when it works without a password prompt, otherwise prints the
# command to run and stops.
install_packages() {
	local missing sudo=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		step "not a Debian system: skipping package installation"
		echo "    (needed: $*)"
		return 0
	fi
	mapfile -t missing < <(missing_packages "$@")
	if [[ ${#missing[@]} -eq 0 ]]; then
		step "packages: all ${#} installed"
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			cat >&2 <<EOF
setup.sh: ${#missing[@]} packages are missing and this is not root (and sudo
needs a password).  Install them as root, then run this again:

  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}

EOF
			exit 1
		fi
	fi
	step "packages: installing ${#missing[@]} missing (${missing[*]})"
	run_logged "apt-get update" "${sudo[@]}" apt-get update
	run_logged "apt-get install" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

# autoreconf when configure is missing or older than its inputs; configure
# when it has not run yet, autoreconf just ran, or the arguments changed.
build() {
	local args need_configure=0

	if [[ ! -x configure || ! -f Makefile.in || configure -ot configure.ac ||
	    configure -ot Makefile.am ]]; then
		step "autoreconf"
		run_logged autoreconf autoreconf -fi
		need_configure=1
	fi
	args=$(printf '%q ' "$@")
	if [[ $need_configure -eq 1 || ! -f config.status || ! -f Makefile ||
	    ! -f $STAMP || $(<"$STAMP") != "$args" ]]; then
		# Objects built with other flags (--enable-sanitizers) do not
		# depend on them: make would link old objects with new flags.
		if [[ -f Makefile && -f $STAMP && $(<"$STAMP") != "$args" ]]; then
			step "make clean (configure arguments changed)"
			run_logged "make clean" make clean
		fi
		step "configure${*:+ $*}"
		rm -f "$STAMP"
		run_logged configure ./configure "$@"
		mkdir -p "$(dirname "$STAMP")"
		printf '%s' "$args" >"$STAMP"
	fi
	step "make -j$JOBS"
	run_logged make make -j"$JOBS"
	[[ -x nexusctl ]] || die "make succeeded but ./nexusctl is missing"
}

# Runs the whole test suite; prints one line per test, then the summary.
# On failure prints test-suite.log, which holds the logs of failed tests.
run_tests() {
	local rc=0

	step "make check -j$JOBS"
	printf '\n### make check\n' >>"$LOG"
	# A summary left by an earlier run must not stand in for this one when
	# the build of the tests fails before any test runs.
	rm -f test-suite.log
	set +e
	make -j"$JOBS" check AM_COLOR_TESTS=no 2>&1 | tee -a "$LOG" |
	    grep -E --line-buffered '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):'
	rc=${PIPESTATUS[0]}
	set -e
	if [[ -f test-suite.log ]]; then
		step "summary"
		grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' test-suite.log |
		    sed 's/^# /    /'
	fi
	if [[ $rc -ne 0 ]]; then
		if [[ -f test-suite.log ]] && grep -qE '^# (FAIL|ERROR): *[1-9]' test-suite.log; then
			printf -- '---- test-suite.log ----\n' >&2
			cat test-suite.log >&2
		else
			printf -- '---- last lines of %s ----\n' "$LOG" >&2
			tail -n 40 "$LOG" >&2
		fi
		die "make check failed (full output in $LOG)"
	fi
	step "all tests passed"
}

mode=${1:-console}
case $mode in
-h|--help|help)
	usage
	exit 0
	;;
console)
	[[ $# -le 1 ]] || die "'./setup.sh' takes no arguments (see ./setup.sh --help)"
	set --
	;;
test|build)
	shift
	;;
*)
	printf "setup.sh: unknown command '%s'\n" "$mode" >&2
	usage >&2
	exit 64
	;;
esac

: >"$LOG"
if [[ $mode == test ]]; then
	install_packages "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
else
	install_packages "${BUILD_PKGS[@]}"
fi
build "$@"

case $mode in
test)
	run_tests
	;;
build)
	step "built ./nexusctl ($(./nexusctl --version))"
	;;
console)
	if [[ ! -t 0 || ! -t 1 ]]; then
		step "built ./nexusctl; the console needs a terminal, and this is not one."
		echo "    Open it from a terminal with:  ./nexusctl          (demo fleet of 5,000 nodes)"
		echo "    Or headless:                   ./nexusctl check --demo --format nagios"
		exit 0
	fi
	step "opening the console (q quits)"
	exec ./nexusctl
	;;
esac
