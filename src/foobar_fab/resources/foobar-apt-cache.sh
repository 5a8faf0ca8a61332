#!/bin/sh
# Managed by foobar_fab: the host's package cache, shared by every node of every lab on the host.
# The host's folder is mounted at /var/cache/foobar_fab/packages. apt keeps its own archives folder,
# so nodes installing at the same time never wait on one another's lock.
#
#   foobar-apt-cache seed [--offline] APT-GET-ARGUMENTS...
#       link into apt's archives each package file `apt-get APT-GET-ARGUMENTS` would download that
#       the cache holds intact (with the SHA256 checksum apt's lists give); with --offline (no
#       mirror to reach), fail at once unless the cache holds every one of them.
#   foobar-apt-cache keep
#       copy the package files apt downloaded into the cache, empty apt's archives, and say where
#       the packages came from.
set -eu

CACHE=/var/cache/foobar_fab/packages
ARCHIVES=/var/cache/apt/archives

checksums() { # checksums FILE...: "<file> <sha256>" for each package file, as apt's lists give it
    printf '%s\n' "$@" | sed -n 's/^\([^_]*\)_\([^_]*\)_.*/\1=\2/p' | sed 's/%3a/:/g' \
        | xargs -r apt-cache show --no-all-versions 2>/dev/null \
        | awk '/^Package: /{p=$2} /^Version: /{v=$2; gsub(":", "%3a", v)} /^Architecture: /{a=$2} /^SHA256: /{print p "_" v "_" a ".deb", $2}'
}

seed() {
    offline=no
    if [ "${1:-}" = --offline ]; then offline=yes; shift; fi
    [ -d "$CACHE" ] || return 0
    files=$(apt-get -qq --print-uris "$@" | awk '{print $2}')
    [ -n "$files" ] || return 0
    # shellcheck disable=SC2086 # one file name per word
    sums=$(checksums $files)
    missing=0 first=
    for file in $files; do
        sum=$(printf '%s\n' "$sums" | awk -v f="$file" '$1 == f {print $2; exit}')
        if [ -n "$sum" ] && [ -f "$CACHE/$file" ] && echo "$sum  $CACHE/$file" | sha256sum --check --status; then
            ln -sf "$CACHE/$file" "$ARCHIVES/$file"
            touch -c "$CACHE/$file"
        else
            missing=$((missing + 1))
            first=${first:-$file}
        fi
    done
    if [ "$offline" = yes ] && [ "$missing" -gt 0 ]; then
        echo "$missing package files are not in the host's package cache (the first: $first), and the Debian mirror cannot be reached: connect the host to the network" >&2
        exit 1
    fi
}

keep() {
    cached=0 downloaded=0
    for file in "$ARCHIVES"/*.deb; do
        [ -e "$file" ] || continue
        if [ -L "$file" ]; then
            cached=$((cached + 1))
            continue
        fi
        downloaded=$((downloaded + 1))
        name=${file##*/}
        if [ -d "$CACHE" ] && ! cmp -s "$file" "$CACHE/$name"; then
            cp "$file" "$CACHE/.$name.$$" && mv -f "$CACHE/.$name.$$" "$CACHE/$name"
        fi
    done
    apt-get clean
    if [ ! -d "$CACHE" ]; then
        echo "package files: $downloaded downloaded"
    elif [ "$downloaded" -eq 0 ]; then
        echo "package files: $cached from the host's cache"
    else
        echo "package files: $cached from the host's cache, $downloaded downloaded and kept there"
    fi
}

case "${1:-}" in
    seed) shift; seed "$@" ;;
    keep) keep ;;
    *) echo "usage: $0 seed [--offline] APT-GET-ARGUMENTS... | keep" >&2; exit 2 ;;
esac
