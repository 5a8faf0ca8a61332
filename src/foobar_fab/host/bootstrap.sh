#!/bin/sh
# Installs what this host needs for the embedded (LXC) lab, only when something is missing.
# Called by `make lab`, and by `make test` with the argument `test` (the tests also drive Vagrant's
# LXC and libvirt providers and Incus, so they need vagrant, vagrant-lxc, libvirt and Incus too); with the
# argument `incus`, it sets up Incus alone, with `libvirt` libvirt alone (src/foobar_fab/host/libvirt.sh);
# with `docs`, it adds Chromium for the docs' screenshots. Safe to run again.
set -eu

fail() { echo "foobar_fab: $*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] || fail "the embedded lab needs a Linux host (LXC); elsewhere use the Vagrant or SSH provider (README: Providers)"
[ "$(id -u)" = 0 ] || fail "the embedded lab needs root (it makes containers, a bridge and NAT rules): run it with sudo, or use the SSH provider"

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need lxc-start lxc
need debootstrap debootstrap
need nft nftables
need dnsmasq dnsmasq-base
need conntrack conntrack
need ssh openssh-client
need wrk wrk
need tcpdump tcpdump
need python3 python3
# Debian's own Python keeps venv's pip in a package of its own.
if [ "$(command -v python3)" = /usr/bin/python3 ] && ! dpkg -s python3-venv >/dev/null 2>&1; then
    missing="$missing python3-venv"
fi

if [ "${1:-}" = test ]; then
    need vagrant vagrant
    [ -d /usr/share/doc/vagrant-lxc ] || missing="$missing vagrant-lxc"
fi
# `test` and `incus`: zstd packs the lab's images for Incus (Incus itself is set up at the end).
case "${1:-}" in
    test|incus) need zstd zstd ;;
esac
# `docs` and `test`: headless Chromium too, for the screenshots `invoke docs.capture` takes and the lab page's
# browser test (only when asked: it is large); jq for the captures that read Prometheus's answers.
case "${1:-}" in
    test|docs) need chromium chromium; need jq jq ;;
esac

if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 || fail "missing host packages:$missing; install them with your package manager"
    echo "foobar_fab: installing host packages:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# `test` and `incus`: Incus from Debian's bookworm-backports, set up once (src/foobar_fab/host/incus.sh).
case "${1:-}" in
    test|incus) sh "$(dirname "$0")/incus.sh" ;;
esac
# `test` and `libvirt`: libvirt, QEMU and vagrant-libvirt for the lab on real VMs (src/foobar_fab/host/libvirt.sh).
case "${1:-}" in
    test|libvirt) sh "$(dirname "$0")/libvirt.sh" ;;
esac
