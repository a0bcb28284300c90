"""imago-voice: a local, offline, hands-free voice facilitator for Imago relationship dialogues."""

from imago_voice.errors import ImagoError

__version__ = "0.1.0"

__all__ = ["ImagoError", "__version__"]
