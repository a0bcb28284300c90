import pytest

from imago_voice.ledger import Turn, balance, overlaps

T = Turn


@pytest.mark.parametrize("turns, expect", [
    # alternating, no overlap
    ([T("A", 0, 4), T("B", 5, 7), T("A", 8, 10)],
     {"A": (6.0, 0.75, 2, 4.0, 0, 0.0), "B": (2.0, 0.25, 1, 2.0, 0, 0.0)}),
    # B starts while A is still speaking: one interruption, 1 s of overlap each
    ([T("A", 0, 5), T("B", 4, 8)],
     {"A": (5.0, 5 / 9, 1, 4.0, 0, 1.0), "B": (4.0, 4 / 9, 1, 4.0, 1, 1.0)}),
    # A speaks twice in a row: one uninterrupted stretch of 0..9
    ([T("A", 0, 4), T("A", 5, 9), T("B", 10, 11)],
     {"A": (8.0, 8 / 9, 2, 9.0, 0, 0.0), "B": (1.0, 1 / 9, 1, 1.0, 0, 0.0)}),
    # a backchannel inside A's long turn breaks A's stretch where it starts
    ([T("A", 0, 10), T("B", 6, 7)],
     {"A": (10.0, 10 / 11, 1, 6.0, 0, 1.0), "B": (1.0, 1 / 11, 1, 1.0, 1, 1.0)}),
    # unnamed speech counts for nobody
    ([T(None, 0, 3), T("A", 3, 4)], {"A": (1.0, 1.0, 1, 1.0, 0, 0.0)}),
])
def test_balance_rows(turns, expect):
    rows = balance(turns)
    assert set(rows) == set(expect)
    for name, (seconds, share, n, longest, interruptions, overlap) in expect.items():
        r = rows[name]
        assert r.seconds == pytest.approx(seconds)
        assert r.share == pytest.approx(share)
        assert r.turns == n
        assert r.longest == pytest.approx(longest)
        assert r.interruptions == interruptions
        assert r.overlap == pytest.approx(overlap)


def test_participants_who_never_spoke_get_a_zero_row():
    rows = balance([T("A", 0, 2)], participants=["A", "B"])
    assert rows["B"].seconds == 0 and rows["B"].share == 0 and rows["B"].turns == 0
    assert rows["A"].share == 1.0


def test_empty_ledger():
    assert balance([]) == {}
    assert overlaps([]) == []


def test_overlaps_are_merged_with_everyone_involved():
    found = overlaps([T("A", 0, 5), T("B", 4, 6), T("C", 4.5, 7), T("A", 10, 11)])
    assert len(found) == 1
    assert found[0].start == 4 and found[0].end == 6
    assert found[0].speakers == ("A", "B", "C")


def test_same_person_touching_turns_are_not_an_overlap():
    assert overlaps([T("A", 0, 5), T("A", 4, 6)]) == []
    assert balance([T("A", 0, 5), T("A", 4, 6)])["A"].seconds == pytest.approx(6.0)


def test_a_long_silence_ends_a_stretch():
    rows = balance([T("A", 0, 4), T("A", 10, 12), T("A", 13, 14)])
    assert rows["A"].longest == pytest.approx(4.0)
    assert balance([T("A", 0, 4), T("A", 10, 12)], max_gap=10)["A"].longest == pytest.approx(12.0)


def test_flagged_overlaps_count_for_everyone_in_them():
    from imago_voice.ledger import Overlap

    # one shared microphone: the turns follow each other, the overlap was found inside A's turn
    turns = [T("A", 0, 6), T("B", 6, 9)]
    flagged = [Overlap(5.0, 6.5, ("A", "B"), by="B")]
    rows = balance(turns, flagged=flagged)
    assert rows["A"].overlap == pytest.approx(1.5) and rows["B"].overlap == pytest.approx(1.5)
    assert (rows["A"].interruptions, rows["B"].interruptions) == (0, 1)
    assert rows["A"].seconds == 6.0                      # speaking time still comes from the turns
    found = overlaps(turns, flagged)
    assert [(o.start, o.end, o.speakers, o.by) for o in found] == [(5.0, 6.5, ("A", "B"), "B")]


def test_flagged_and_turn_overlaps_merge():
    from imago_voice.ledger import Overlap

    turns = [T("A", 0, 5), T("B", 4, 8)]                 # 4-5 from the turns
    found = overlaps(turns, [Overlap(4.5, 6.0, ("B", "C"))])
    assert [(o.start, o.end, o.speakers, o.by) for o in found] == [(4.0, 6.0, ("A", "B", "C"), "B")]


# ----------------------------------------------------------------------------------------- the Ledger
def test_the_ledger_keeps_roles_steps_time_outs_and_unknown_speech_apart():
    from imago_voice.ledger import Ledger, Overlap

    ledger = Ledger(["A", "B"])
    ledger.add(T("A", 0, 4), step="send", role="sender")
    ledger.add(T("B", 5, 8), step="mirror", role="receiver")
    ledger.add(T(None, 9, 10), step="mirror", role="other")          # nobody could be named
    ledger.add(T("A", 11, 16), step="send", role="sender", paused=True)   # a time-out
    ledger.add_overlap(Overlap(2.0, 3.0, ("A", "B"), by="B"))
    rows = ledger.balance()
    assert {n: r.seconds for n, r in rows.items()} == {"A": 4.0, "B": 3.0}
    assert rows["A"].share + rows["B"].share == pytest.approx(1.0)
    assert ledger.by_role() == {"A": {"sender": 4.0, "receiver": 0.0, "other": 0.0},
                                "B": {"sender": 0.0, "receiver": 3.0, "other": 0.0}}
    assert ledger.by_step() == {"send": {"A": 4.0}, "mirror": {"B": 3.0}}
    assert ledger.unattributed_seconds == 1.0 and ledger.paused_seconds == 5.0
    assert rows["B"].interruptions == 1 and rows["A"].overlap == 1.0
    summary = ledger.summary()
    assert summary["by_person"] == {"A": 4.0, "B": 3.0} and summary["paused"] == 5.0 and summary["unattributed"] == 1.0
    assert len(ledger.turns) == 4 and [o.by for o in ledger.overlaps()] == ["B"]


def test_a_ledger_without_an_engine_is_the_balance_of_its_turns():
    from imago_voice.ledger import Ledger

    turns = [T("A", 0, 4), T("B", 5, 7), T("A", 8, 10)]
    ledger = Ledger()
    for t in turns:
        ledger.add(t)
    assert ledger.balance() == balance(turns)
