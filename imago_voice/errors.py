"""One error family for the whole package.

Everything imago-voice raises on purpose derives from :class:`ImagoError`, so the CLI can turn any of
them into one plain line and a non-zero exit, and library users can catch one type.
"""

from __future__ import annotations


class ImagoError(Exception):
    """Base of every error imago-voice raises on purpose. ``str(err)`` is a plain sentence for people."""

    exit_code = 1


class UsageError(ImagoError):
    """Bad command-line input (a malformed option, a value out of range)."""

    exit_code = 2


class AudioInputError(ImagoError):
    """An audio file that is missing, empty, unreadable, or lacks a requested channel."""


class DeviceError(ImagoError):
    """A sound device that is missing, busy, or cannot be opened with the requested settings."""


class ModelError(ImagoError):
    """A speech model that cannot be found or loaded (never downloaded at run time)."""


class VoiceprintError(ImagoError):
    """A voiceprint that cannot be made, found, read or written."""


class PromptError(ImagoError):
    """Prompt files that are missing, malformed or incomplete."""
