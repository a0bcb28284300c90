#!/usr/bin/env bash
# The tests: installs what is needed, then runs the whole suite (real model and live audio included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -rs "$@"
