#!/usr/bin/env bash
# Installs moekit under PREFIX: the release binary as PREFIX/bin/moekit and its data (architecture recipes with the
# modelling code they name in remote_code, task files with their samples, JSON Schemas) as
# PREFIX/share/moekit/{Converters,Tasks,Schemas}, where the installed binary finds them with no environment variables
# (README "Resources").
#
# Usage: scripts/install.sh [--no-build] PREFIX
#   --no-build   install the already built .build/release/moekit instead of running `swift build -c release` first
#
# The binary links the Swift runtime of the toolchain that built it (its RUNPATH), so that toolchain must stay
# installed on the machine.
set -euo pipefail

build=1
if [[ "${1:-}" == "--no-build" ]]; then build=0; shift; fi
if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: scripts/install.sh [--no-build] PREFIX" >&2
    exit 64
fi
prefix="$1"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ $build -eq 1 ]]; then
    (cd "$repo" && swift build -c release --product moekit)
fi
binary="$repo/.build/release/moekit"
if [[ ! -x "$binary" ]]; then
    echo "error: $binary: not built (run without --no-build, or swift build -c release --product moekit)" >&2
    exit 1
fi

mkdir -p "$prefix/bin" "$prefix/share/moekit"
share="$(cd "$prefix/share/moekit" && pwd)"
install -m 0755 "$binary" "$prefix/bin/moekit.new.$$"
mv -f "$prefix/bin/moekit.new.$$" "$prefix/bin/moekit"
for dir in Converters Tasks Schemas; do
    rm -rf "$share/$dir.new.$$"
    cp -R "$repo/$dir" "$share/$dir.new.$$"
    rm -rf "$share/$dir"
    mv "$share/$dir.new.$$" "$share/$dir"
done
echo "installed $prefix/bin/moekit and $share/{Converters,Tasks,Schemas}"
