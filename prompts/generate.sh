#!/usr/bin/env bash
# Regenerates prompts/<id>.wav for every line of prompts/catalog.tsv.
# Output format: 8000 Hz, 16-bit signed PCM, mono WAV, leading/trailing silence
# trimmed (a short pad kept), peak normalised to -3 dBFS.
# Needs espeak-ng and sox. Safe to run again: the output is byte-for-byte repeatable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
catalog="$here/catalog.tsv"
voice="${VOICE:-en-us}"
speed="${SPEED:-150}"

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "generate.sh: '$tool' is missing (apt-get install espeak-ng sox)" >&2
        exit 1
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

count=0
while IFS=$'\t' read -r id text || [[ -n "${id:-}" ]]; do
    # Skip comments and blank lines.
    [[ -z "${id// /}" || "$id" == \#* ]] && continue
    if [[ ! "$id" =~ ^[a-z0-9_]+$ || -z "${text:-}" ]]; then
        echo "generate.sh: bad catalog line for id '$id'" >&2
        exit 1
    fi
    raw="$work/$id.raw.wav"
    out="$here/$id.wav"
    espeak-ng -v "$voice" -s "$speed" -w "$raw" -- "$text"
    # -D: no dither, so the output is repeatable.
    # silence/reverse/silence/reverse trims both ends; pad keeps a short breath.
    sox -D "$raw" -r 8000 -b 16 -e signed-integer -c 1 "$work/$id.wav" \
        rate -v 8000 \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
        pad 0.05 0.10 \
        norm -3
    mv "$work/$id.wav" "$out"
    seconds="$(soxi -D "$out")"
    printf 'wrote %s (%s s): %s\n' "${out#"$here"/}" "$seconds" "$text"
    count=$((count + 1))
done <"$catalog"

echo "generate.sh: $count prompts written to $here"
