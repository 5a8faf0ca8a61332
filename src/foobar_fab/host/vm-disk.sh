#!/bin/sh
# Makes the disk of the lab's Vagrant box for libvirt (src/foobar_fab/providers/vm_box.py), offline from
# the lab's own base image: the base rootfs copied, the files of FILES_DIR laid over it, SETUP (a shell
# script) run inside it in a chroot, in a mount namespace of its own (so nothing stays mounted when it
# ends or fails), with /proc, a few devices and the host's package cache mounted and the packages' services kept
# from starting; then the tree is written into an ext4 filesystem (mkfs.ext4 -d, no partition: the VM
# boots its kernel directly) and converted to qcow2. The kernel and initrd are copied out beside it.
#
# usage: vm-disk.sh BASE_ROOTFS PACKAGE_CACHE OUT_DIR SIZE
#   OUT_DIR holds files/ and setup.sh; it receives box.img, vmlinuz and initrd.img.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 BASE_ROOTFS PACKAGE_CACHE OUT_DIR SIZE" >&2; exit 2; }
if [ -z "${FOOBAR_FAB_VM_DISK:-}" ]; then
    export FOOBAR_FAB_VM_DISK=1
    exec unshare --mount --propagation private sh "$0" "$@"
fi
base=$1 cache=$2 out=$3 size=$4
root=$out/rootfs
rm -rf "$root"
cp -a "$base" "$root"
cp -a "$out/files/." "$root/"
cp "$out/setup.sh" "$root/setup.sh"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
# A /dev of its own with only the character devices packages use: with the host's /dev bound in, a package
# that made its kvm group in the tree (another gid than the host's) gave the host's /dev/kvm to it, and
# libvirt, finding KVM no longer usable by QEMU's user, probed QEMU again at every call (minutes a `vagrant up`).
mount -t tmpfs -o mode=0755 dev "$root/dev"
for device in null zero full random urandom tty; do
    touch "$root/dev/$device"
    mount --bind "/dev/$device" "$root/dev/$device"
done
ln -s /proc/self/fd "$root/dev/fd"
mkdir -p "$root/var/cache/foobar_fab/packages"
mount --bind "$cache" "$root/var/cache/foobar_fab/packages"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 sh -eu /setup.sh
for device in null zero full random urandom tty; do umount "$root/dev/$device"; done
umount "$root/var/cache/foobar_fab/packages" "$root/dev" "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d" "$root/setup.sh"
cp "$root/boot/$(readlink "$root/vmlinuz" | sed 's|^.*/||')" "$out/vmlinuz"
cp "$root/boot/$(readlink "$root/initrd.img" | sed 's|^.*/||')" "$out/initrd.img"
rm -f "$out/disk.raw"
truncate -s "$size" "$out/disk.raw"
mkfs.ext4 -q -F -L root -d "$root" "$out/disk.raw"
rm -rf "$root"
qemu-img convert -O qcow2 "$out/disk.raw" "$out/box.img"
rm -f "$out/disk.raw"
