#!/usr/bin/env bash
# Installs what building callplane needs on Debian 12 beyond the Rust
# toolchain, as root, without prompts: libopus-dev (the Opus codec the crate
# links; audiopus finds it with pkg-config), libmp3lame-dev (LAME, which MP3
# recordings link) and pkg-config. Installs only what
# is missing; running it again changes nothing.
set -euo pipefail

missing=()
[[ -e /usr/include/opus/opus.h ]] || missing+=(libopus-dev)
[[ -e /usr/include/lame/lame.h ]] || missing+=(libmp3lame-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-build-deps.sh: ${missing[*]} missing; run as root (apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-build-deps.sh: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
pkg-config --exists opus || { echo "install-build-deps.sh: opus still missing" >&2; exit 1; }
