"""Who is speaking: one microphone per person (channels) or one shared microphone (voiceprints).

    channels.py    channel attribution: whose channel dominates, learned crosstalk levels, per-person speech flags
    features.py    what the speaker encoder hears: preprocessing and mel features
    encoder.py     the GE2E speaker encoder in numpy (weights from the models folder)
    voiceprint.py  a person's voiceprint: made, embedded, saved and read
    store.py       stored voiceprints in the data folder
    identify.py    spans of a segment given to the closest voiceprint, or to nobody
    overlap.py     overlapping speech on one microphone (pyannote segmentation-3.0 in numpy)
"""
