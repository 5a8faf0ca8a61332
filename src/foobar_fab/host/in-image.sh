#!/bin/sh
# Runs one command inside a role image being made (src/foobar_fab/providers/lxc/role_images.py):
# the base image with the image's own layer on top (overlayfs), in a mount namespace of its own, so
# nothing stays mounted when the command ends or fails. /proc and the host's package cache are
# mounted inside, and policy-rc.d keeps the packages' services from starting: they start when a node
# made from the image boots.
#
# usage: in-image.sh BASE_ROOTFS IMAGE_DIR PACKAGE_CACHE COMMAND [ARGUMENT...]
set -eu
[ $# -ge 4 ] || { echo "usage: $0 BASE_ROOTFS IMAGE_DIR PACKAGE_CACHE COMMAND [ARGUMENT...]" >&2; exit 2; }
if [ -z "${FOOBAR_FAB_IN_IMAGE:-}" ]; then
    export FOOBAR_FAB_IN_IMAGE=1
    exec unshare --mount --propagation private sh "$0" "$@"
fi
base=$1 image=$2 cache=$3
shift 3
root=$image/root
mkdir -p "$image/layer" "$image/work" "$root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$image/layer,workdir=$image/work" "$root"
mount -t proc proc "$root/proc"
mkdir -p "$root/var/cache/foobar_fab/packages"
mount --bind "$cache" "$root/var/cache/foobar_fab/packages"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
status=0
chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@" || status=$?
rm -f "$root/usr/sbin/policy-rc.d"
exit "$status"
