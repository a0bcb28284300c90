"""A normal (not editable) install: a wheel built from the project, installed into a fresh environment
outside the project folder, runs a session and an enrollment from another folder."""

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from imago_voice.paths import MODELS_ENV, models_dir
from tests.conftest import needs_espeak

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [needs_espeak, pytest.mark.model]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # built from a clean copy of the sources, so that nothing stale (a build/ folder) can slip in
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT, source, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", "__pycache__", ".git", "out"))
    dist = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "--disable-pip-version-check", "-w", str(dist), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (found,) = dist.glob("imago_voice-*.whl")
    return found


def test_the_wheel_holds_the_package_and_its_prompts_and_nothing_for_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "imago_voice/data/prompts/en/dialogue.toml" in names and "imago_voice/data/prompts/es/common.toml" in names
    assert "imago_voice/cli/__main__.py" in names and "imago_voice/loop/voice_loop.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/"))]
    assert not [n for n in names if any(part in n for part in ("simulate", "virtual_audio", "scoring", "synth"))]


def test_an_installed_wheel_runs_a_session_and_an_enrollment_from_elsewhere(wheel, tmp_path):
    from tests.support.synth import Line, conversation
    from imago_voice.audio.files import write_audio

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # the dependencies come from this environment (nothing is downloaded); imago-voice only from the wheel
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                              "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    python, command = venv / "bin" / "python", venv / "bin" / "imago-voice"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    audio, _ = conversation([Line("A", "I would like to go first.", 0.5), Line("B", "Yes, go ahead, I am listening.")],
                            {"A": "en+m3", "B": "en+f2"}, crosstalk_db=-12.0)
    write_audio(elsewhere / "two.wav", audio)
    write_audio(elsewhere / "x.wav", audio[:, 0])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "IMAGO_VOICE_DATA": str(tmp_path / "data"),
           MODELS_ENV: str(models_dir())}
    where = subprocess.run([str(python), "-c", "import imago_voice; print(imago_voice.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(site)), where.stdout      # the installed copy, not the project
    session = subprocess.run([str(command), "session", "--input", "two.wav", "--channel", "A=0",
                              "--channel", "B=1", "--log", "log.json"],
                             cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert session.returncode == 0, session.stderr
    doc = json.loads((elsewhere / "log.json").read_text())
    assert [s["step"] for s in doc["steps"]][:2] == ["opening", "appointment"]
    assert doc["turns"] and doc["prompts"][0]["text"].startswith("Hello A and B.")
    enroll = subprocess.run([str(command), "enroll", "X", "--input", "x.wav"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert enroll.returncode == 0, enroll.stderr
    assert (tmp_path / "data" / "voiceprints" / "x.json").is_file()
