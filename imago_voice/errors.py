"""One error family for the whole package.

Everything imago-voice raises on purpose derives from :class:`ImagoError`, so the CLI can turn any of
them into one plain line and a non-zero exit, and library users can catch one type. Library code raises
the typed errors below; only the command line raises :class:`UsageError`.

    ImagoError
    ├── SettingsError        a setting out of range, a malformed spec (exit 2)
    │   └── UsageError       bad command-line input (the CLI only)
    ├── AudioInputError      an audio file that cannot be read or lacks a channel
    ├── DeviceError          a sound device that is missing, busy or refuses the settings
    ├── ModelError           a model that cannot be found, loaded or run
    ├── VoiceprintError      a voiceprint that cannot be made, found, read or written
    ├── PromptError          prompt files that are missing, malformed or incomplete
    ├── SynthesisError       the speech synthesizer failed to render a prompt
    └── OutputError          a file or folder that cannot be written
"""

from __future__ import annotations


class ImagoError(Exception):
    """Base of every error imago-voice raises on purpose. ``str(err)`` is a plain sentence for people."""

    exit_code = 1


class SettingsError(ImagoError):
    """A setting out of range or a malformed specification (``Sam=0``), whoever gave it."""

    exit_code = 2


class UsageError(SettingsError):
    """Bad command-line input (a malformed option, options that do not go together). Raised by the CLI."""


class AudioInputError(ImagoError):
    """An audio file that is missing, empty, unreadable, or lacks a requested channel."""


class DeviceError(ImagoError):
    """A sound device that is missing, busy, or cannot be opened with the requested settings."""


class ModelError(ImagoError):
    """A model that cannot be found, loaded or run (nothing is ever downloaded at run time)."""


class ScreenError(ModelError):
    """The crisis screen's model or weights could not be read."""


class VoiceprintError(ImagoError):
    """A voiceprint that cannot be made, found, read or written."""


class PromptError(ImagoError):
    """Prompt files that are missing, malformed or incomplete."""


class SynthesisError(ImagoError):
    """The speech synthesizer is missing or made no audio for a prompt."""


class OutputError(ImagoError):
    """A file or folder that cannot be written (a log, a recording, the demo's folder)."""
