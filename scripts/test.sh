#!/usr/bin/env bash
# Runs moekit's test suite on a fresh machine: installs native dependencies, fetches the SmolLM2 test model and
# the Python cross-check packages (gguf, safetensors, numpy, jsonschema, PyYAML), then runs every test in release
# mode. MOEKIT_REQUIRE_SMOLLM2=1 and MOEKIT_PY_CROSSCHECK=1 make a missing fixture fail RequiredFixtureTests
# (the tests that need it are reported as skipped with the reason).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export MOEKIT_SMOLLM2="$(scripts/fetch-smollm2.sh)"
export MOEKIT_REQUIRE_SMOLLM2=1
# The cross-checks are required unless the caller sets MOEKIT_PY_CROSSCHECK=0; a failed install then fails
# RequiredFixtureTests instead of silently skipping them.
export MOEKIT_PY_CROSSCHECK="${MOEKIT_PY_CROSSCHECK:-1}"
if [ "$MOEKIT_PY_CROSSCHECK" = 1 ]; then
  python3 -m pip install --quiet --disable-pip-version-check gguf==0.19.0 safetensors numpy jsonschema pyyaml \
    || echo "warning: pip could not install the Python cross-check packages; RequiredFixtureTests will fail" >&2
fi
swift build -c release --product moekit
swift test -c release "$@"
