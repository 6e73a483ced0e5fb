#!/usr/bin/env bash
# Quick start: install the system libraries lstmd needs (when missing), build it in release
# mode, and start the daemon on the bundled default model. Extra arguments go to lstmd.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
swift build -c release --product lstmd >&2
exec .build/release/lstmd "$@"
