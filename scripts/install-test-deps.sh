#!/usr/bin/env bash
# Installs what the end-to-end tests (tests/e2e_*.rs) and the prompt generator
# (prompts/generate.sh) need on Debian 12, as root, without prompts:
#   sipp (package sip-tester, with its DTMF pcaps in /usr/share/sip-tester),
#   baresip (package baresip-core: the softphone of tests/e2e_baresip.rs, with
#   its aufile, aubridge, sndfile, ctrl_tcp and srtp modules; no sound card),
#   espeak-ng (the free-text speech engine, src/speech, and its tests; with sox
#   also what regenerates the prompts, whose WAVs are committed),
#   stunnel4 and openssl (tests/e2e_tls.rs: sipp has no TLS here, so stunnel
#   carries its TCP over TLS; openssl makes the test certificates),
#   cargo-fuzz (with cargo, for scripts/fuzz.sh), and
#   libsofia-sip-ua-dev, libclang-dev and pkg-config for the `sofia` feature's
#   differential test of the SIP parser (bindgen reads the sofia-sip headers), and
#   libopus-dev, the Opus codec the crate links (audiopus finds it with pkg-config),
#   libsox-fmt-mp3 (sox reads back MP3 recordings), opus-tools (opusdec reads
#   back Ogg Opus recordings: Debian's sox has no Opus handler) and postgresql
#   (the PostgreSQL store's tests start their own server with initdb and
#   pg_ctl, as the postgres user when run as root).
# Installs only what is missing; running it again changes nothing. What the
# build itself needs comes first (scripts/install-build-deps.sh).
set -euo pipefail

"$(dirname "$0")/install-build-deps.sh"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-test-deps.sh: run as root (apt-get install)" >&2
    exit 1
fi

# cargo-fuzz (scripts/fuzz.sh) is not packaged by Debian: it comes from crates.io.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "install-test-deps.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# package  command-or-file that shows it is installed
wanted=(
    "sip-tester /usr/share/sip-tester/dtmf_2833_1.pcap"
    "sip-tester sipp"
    "baresip-core baresip"
    "baresip-core /usr/lib/baresip/modules/srtp.so"
    "espeak-ng espeak-ng"
    "sox sox"
    "libsofia-sip-ua-dev /usr/include/sofia-sip-1.12/sofia-sip/sip.h"
    "libclang-dev /usr/share/doc/libclang-dev/copyright"
    "pkg-config pkg-config"
    "libopus-dev /usr/include/opus/opus.h"
    "stunnel4 stunnel4"
    "openssl openssl"
    "systemd systemd-analyze"
    "libsox-fmt-mp3 /usr/share/doc/libsox-fmt-mp3/copyright"
    "opus-tools opusdec"
    "postgresql /usr/lib/postgresql/15/bin/postgres"
)

missing=()
for entry in "${wanted[@]}"; do
    package="${entry%% *}"
    probe="${entry#* }"
    if [[ "$probe" == /* ]]; then
        [[ -e "$probe" ]] && continue
    else
        command -v "$probe" >/dev/null 2>&1 && continue
    fi
    missing+=("$package")
done

# A package listed twice is installed once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps.sh: all present (sipp, baresip, espeak-ng, sox, stunnel, openssl, systemd-analyze, sofia-sip, libclang, pkg-config, opus, sox mp3, opus-tools, postgresql)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps.sh: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
command -v sipp >/dev/null 2>&1 || { echo "install-test-deps.sh: sipp still missing" >&2; exit 1; }
command -v baresip >/dev/null 2>&1 || { echo "install-test-deps.sh: baresip still missing" >&2; exit 1; }
pkg-config --exists sofia-sip-ua || { echo "install-test-deps.sh: sofia-sip-ua still missing" >&2; exit 1; }
pkg-config --exists opus || { echo "install-test-deps.sh: opus still missing" >&2; exit 1; }
echo "install-test-deps.sh: done"
