#!/usr/bin/env bash
# The demo: installs what is needed, then runs imago-voice on a generated two-voice recording.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/imago-voice demo "$@"
