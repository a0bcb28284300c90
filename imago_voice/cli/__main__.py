"""``python -m imago_voice.cli``: the same as the ``imago-voice`` command."""

import sys

from imago_voice.cli import main

sys.exit(main())
