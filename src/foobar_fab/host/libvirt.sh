#!/bin/sh
# libvirt for Vagrant's libvirt provider (real virtual machines), set up only where something is missing
# (safe to run again): Debian's vagrant-libvirt, libvirt's daemon, QEMU and its image tool; the daemons
# (virtlogd, then libvirtd) running, started by hand where systemd is not PID 1.
set -eu

fail() { echo "foobar_fab: $*" >&2; exit 1; }

missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || missing="$missing qemu-utils"
command -v libvirtd >/dev/null 2>&1 || missing="$missing libvirt-daemon-system"
[ -d /usr/share/doc/vagrant-libvirt ] || missing="$missing vagrant-libvirt"
if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 || fail "missing host packages for real VMs:$missing; install them with your package manager"
    echo "foobar_fab: installing host packages:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# Where no udev ran, /dev/kvm may keep a group other than kvm: libvirt then finds KVM usable when it probes
# QEMU (as root) but not for QEMU's user, and probes again at every call (seconds each, minutes a `vagrant
# up`). Given to the kvm group, as Debian's udev rule does. Whether guests run under KVM is tested apart.
if [ -c /dev/kvm ] && getent group kvm >/dev/null 2>&1 && [ "$(stat -c %G /dev/kvm)" != kvm ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        systemctl start virtlogd.socket libvirtd.socket libvirtd.service
    else
        echo "foobar_fab: starting virtlogd and libvirtd (no systemd here)"
        pgrep -x virtlogd >/dev/null 2>&1 || /usr/sbin/virtlogd --daemon
        pgrep -x libvirtd >/dev/null 2>&1 || /usr/sbin/libvirtd --daemon
    fi
    tries=0
    until virsh -c qemu:///system version >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || fail "libvirtd did not start: see /var/log/libvirt/libvirtd.log"
        sleep 0.5
    done
fi
