"""A decoding loop of the quick pass (transcribe.unloop)."""


def test_a_decoding_loop_is_said_once():
    from imago_voice.transcribe import unloop

    assert unloop("Repeat. Repeat. Repeat. Repeat. Repeat") == "Repeat."
    assert unloop("Hold on... Hold on... Hold on... Hold") == "Hold on."
    assert unloop("Stop please stop please stop please stop") == "Stop please"
    for kept in ("Wait, wait.", "I think so.", "Stop, stop, I need a break.", ""):
        assert unloop(kept) == kept
