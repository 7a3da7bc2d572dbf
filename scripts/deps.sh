#!/bin/sh
# deps.sh - install the Debian packages postern's build and tests need.
# Idempotent: a quick no-op when everything is present. Run as root (or with
# sudo available). Extra package groups: "deps.sh bench" adds the anchors.
set -eu

BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev
 libevent-dev libssl-dev libsqlite3-dev libcrypt-dev libargon2-dev libidn2-dev
 zlib1g-dev libcmocka-dev libunbound-dev openssl"
# swaks needs libnet-ssleay-perl for STARTTLS (only Recommended by its package).
TEST="python3 python3-pytest procps iproute2 valgrind strace swaks libnet-ssleay-perl mutt postfix fetchmail getmail6 isync offlineimap3 tmux unbound python3-aiosmtpd testssl.sh time"
BENCH="postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd"

want="$BUILD $TEST"
for group in "$@"; do
	case "$group" in
	bench) want="$want $BENCH" ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done

# The unprivileged user 'postern serve' runs its services as when started
# as root (server.user).
if [ "$(id -u)" -eq 0 ] && ! getent passwd postern >/dev/null; then
	echo "deps.sh: creating system user postern" >&2
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin postern
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A package installed by apt must not start its own daemon (anchors are run
# by the benchmark harness on loopback only).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
