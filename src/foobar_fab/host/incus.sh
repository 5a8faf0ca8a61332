#!/bin/sh
# Incus for the incus provider, set up only where something is missing (safe to run again):
# - Debian's bookworm-backports suite, pinned so that only Incus's packages come from it (and what
#   they need that only backports has: a package found in bookworm too keeps bookworm's version);
# - `incus-base` (Incus's daemon for containers, with its client) installed without its recommends: the
#   `incus` package adds virtual machines, which need QEMU 8 from backports and do not run here;
# - its daemon running (started by hand where systemd is not PID 1);
# - initialised once: a `dir` storage pool in the default profile, no automatic image updates, and
#   no remote image server used (the lab imports its own images).
set -eu

fail() { echo "foobar_fab: $*" >&2; exit 1; }

SOURCES=/etc/apt/sources.list.d/foobar_fab-backports.list
PIN=/etc/apt/preferences.d/foobar_fab-incus
MIRROR=${FOOBAR_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! command -v incus >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || fail "Incus is missing and this host has no apt-get: install Incus 6.0 with your package manager"
    . /etc/os-release
    [ "${VERSION_CODENAME:-}" = bookworm ] || fail "Incus is installed from Debian 12's backports here; on ${PRETTY_NAME:-this system}, install Incus 6.0 yourself"
    echo "foobar_fab: installing Incus from bookworm-backports"
    if [ ! -f "$SOURCES" ]; then
        echo "deb $MIRROR bookworm-backports main" > "$SOURCES"
    fi
    cat > "$PIN" <<'PINS'
# Managed by foobar_fab: from bookworm-backports, only Incus and what only backports has.
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: incus incus-base incus-client
Pin: release n=bookworm-backports
Pin-Priority: 500
PINS
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends incus-base
fi

# The daemon: systemd starts it where systemd runs; elsewhere it is started here, in the background.
if ! incus admin waitready --timeout 1 >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        systemctl start incus.socket incus.service
    else
        echo "foobar_fab: starting incusd (no systemd here)"
        mkdir -p /var/log/incus
        nohup /usr/libexec/incus/incusd --group incus-admin </dev/null >>/var/log/incus/incusd.foobar_fab.log 2>&1 &
    fi
    incus admin waitready --timeout 60 || fail "incusd did not start: see /var/log/incus/incusd.foobar_fab.log"
fi

# Initialised once: a dir storage pool the default profile uses; images never updated from remotes.
if ! incus storage show default >/dev/null 2>&1; then
    echo "foobar_fab: initialising Incus (dir storage pool 'default')"
    incus storage create default dir
fi
if ! incus profile device get default root pool >/dev/null 2>&1; then
    incus profile device add default root disk path=/ pool=default
fi
if [ "$(incus config get images.auto_update_interval)" != 0 ]; then
    incus config set images.auto_update_interval 0
fi
# A class runs tens of system containers, each with its systemd: Debian's limits on inotify and on kernel
# keys stop the next container (or dnsmasq for the next lab's network: "failed to create inotify: Too
# many open files") long before memory runs out. Raised as Incus's production set-up advises, once and
# for the next boots too; a limit already higher is left as it is.
SYSCTL=/etc/sysctl.d/60-foobar_fab-incus.conf
cat > "$SYSCTL.new" <<'LIMITS'
# Managed by foobar_fab: limits for many Incus system containers (see Incus's production set-up).
fs.inotify.max_queued_events = 1048576
fs.inotify.max_user_instances = 1048576
fs.inotify.max_user_watches = 1048576
kernel.keys.maxkeys = 2000
kernel.keys.maxbytes = 2000000
LIMITS
if ! cmp -s "$SYSCTL.new" "$SYSCTL" 2>/dev/null; then mv "$SYSCTL.new" "$SYSCTL"; else rm -f "$SYSCTL.new"; fi
while read -r key _ wanted; do
    case "$key" in ''|'#'*) continue ;; esac
    now=$(sysctl -n "$key" 2>/dev/null || echo 0)
    if [ "$now" -lt "$wanted" ]; then
        sysctl -q -w "$key=$wanted" || echo "foobar_fab: could not raise $key to $wanted (a class of many labs may hit it)" >&2
    fi
done < "$SYSCTL"

# The client's preset `images:` remote would reach the public image server: the lab never uses it.
if incus remote list --format csv | grep -q '^images,'; then
    incus remote remove images
fi
