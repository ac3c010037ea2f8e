#!/usr/bin/env bash
# Builds callplane's container base image from Debian's own packages, with no
# image registry: debootstrap a minimal bookworm into a folder, add what the
# binary links against (libopus0) and the espeak-ng it runs for free-text
# speech, and `docker import` the tree.
#
#   sudo packaging/make-base-image.sh [TAG]      (default callplane-base:bookworm)
#   cargo build --release --locked
#   docker build -f packaging/Dockerfile.local -t callplane .
#
# Needs root, debootstrap (Debian package `debootstrap`), a Debian mirror and a
# Docker daemon for the import.
set -euo pipefail

tag="${1:-callplane-base:bookworm}"
suite="${SUITE:-bookworm}"
mirror="${MIRROR:-http://deb.debian.org/debian}"

if [[ $EUID -ne 0 ]]; then
    echo "make-base-image.sh: run as root (debootstrap)" >&2
    exit 1
fi
for tool in debootstrap docker; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "make-base-image.sh: $tool is not installed" >&2
        exit 1
    }
done

root="$(mktemp -d /tmp/callplane-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase --include=libopus0,ca-certificates,espeak-ng "$suite" "$root" "$mirror"
# Smaller: no package lists, caches, docs or man pages in the image.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/cache/*
# The service's own user, as in the systemd unit.
chroot "$root" useradd --system --no-create-home --shell /usr/sbin/nologin callplane

tar -C "$root" --numeric-owner -c . | docker import - "$tag"
echo "make-base-image.sh: imported $tag"
