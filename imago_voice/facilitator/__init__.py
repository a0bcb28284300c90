"""The facilitator in the room: the session glue, the voice (render, play), the echo filter, the console.

    session.py  Session: loop events into the engine, its actions out; mute while prompts play
    record.py   what a session leaves: prompts, echoes, the log document, the prompts mixed into a replay
    echo.py     is a transcript the facilitator's own prompt heard back?
    render.py   prompt text to audio (a Piper voice sentence by sentence; espeak-ng's command, or pyttsx3)
    cache.py    rendered prompts kept on disk, and what the session may say rendered ahead
    player.py   prompts played on an output device, with their real start and end
    console.py  silent mode's status line and single-key commands
"""
