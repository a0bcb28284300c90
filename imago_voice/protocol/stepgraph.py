"""The step tracker's map of an exercise: where a turn can be, and which place is likely to follow which.

A :class:`Node` is one place a turn can belong to: a round (whose sender is the round's person), a step
and a phase of the exercise table (:mod:`.exercises`), the moves (:mod:`.moves`) a turn there is made of
and who makes each. The nodes are read from the table by the shape of each step: an appointment (ask,
answer), a send, a mirror (the mirror, the sender's answer to "did I get it?", then "is there more?"), a
step where one person speaks (and, for the receiver's steps, the sender's short "yes" after it); each
later round opens with the role switch (where "can I respond?" and its "sure" belong) and goes on from
the exercise's round start, and the close comes after the last round.

An :class:`Edge` is the *order prior*: from each node, staying (a split turn), the next place, places
further on (each optional place jumped over costs a little; each required one costs a lot, unless the turn
itself does that move too: "let me see if I got it all... you make sense because..." is a summary and a
validation in one turn), the loop back to the send while the sender has more, and, rarely, going back.
"""

from __future__ import annotations

from dataclasses import dataclass

from imago_voice.errors import SettingsError
from imago_voice.protocol import moves as mv
from imago_voice.protocol.exercises import RECEIVER, SENDER, Exercise, Step

ANY = "any"
#: The move of each step where one person speaks (other steps: the content move, a send).
STEP_MOVES = {"appointment": mv.APPOINTMENT, "intention": mv.INTENTION, "summarize": mv.SUMMARY,
              "validate": mv.VALIDATION, "empathize": mv.EMPATHY, "close": mv.APPRECIATION}
#: The moves of a send, where they are more than the sender's own words (an appreciation is sent with its stem).
SEND_MOVES = {"appreciate": (mv.SEND, mv.APPRECIATION)}
_ANSWERS_S = tuple((a, SENDER) for a in (mv.YES, mv.NO, mv.MORE, mv.DONE))


@dataclass(frozen=True)
class Node:
    """A place a turn can belong to. ``kind``: start, ask, answer, intention, send, mirror, check, more,
    speak, ack, switch or close. ``moves``: (move, who makes it) pairs, ``who`` being sender, receiver or
    any. ``required``: jumping over it costs much, unless the turn does its move. ``group``: the index of
    the send node a mirror's nodes loop back to (-1: none). ``later``: the moves of the required places
    after it in its round made by the same role (a turn that makes one of them is past this place)."""

    index: int
    round: int
    step: str
    phase: str
    kind: str
    moves: tuple[tuple[str, str], ...]
    required: bool
    stay: float
    group: int = -1
    later: tuple[str, ...] = ()

    @property
    def move(self) -> str | None:
        return self.moves[0][0] if self.moves else None


@dataclass(frozen=True)
class Edge:
    """From a node to ``target`` with prior ``weight``. ``kind``: stay, next, loop or back. ``skipped``:
    the moves of the required nodes jumped over. ``beyond``: leaves a mirror's nodes for a later step."""

    target: int
    weight: float
    kind: str
    skipped: tuple[str, ...] = ()
    beyond: bool = False


@dataclass(frozen=True)
class GraphSettings:
    """The order prior's weights: entering a short place (an answer) or an optional step, jumping over
    an optional place, staying, looping back to the send, going back, and how far a jump may reach."""

    enter_short: float = 0.8
    enter_optional: float = 0.3
    pass_short: float = 0.7
    pass_optional: float = 0.9
    pass_switch: float = 0.6
    pass_answer: float = 0.5
    pass_ask: float = 0.4
    loop_from_mirror: float = 0.8
    loop_from_answer: float = 1.0
    redo: float = 0.2
    back: float = 0.02
    max_required_skipped: int = 3
    stays: tuple[tuple[str, float], ...] = (
        ("ask", 0.1), ("answer", 0.1), ("intention", 0.2), ("send", 0.5), ("mirror", 0.3), ("check", 0.2),
        ("more", 0.5), ("speak", 0.3), ("ack", 0.1), ("switch", 0.3), ("close", 0.5))


@dataclass(frozen=True)
class StepGraph:
    """The nodes of an exercise for ``rounds`` rounds, and the edges out of each node (by index)."""

    exercise: str
    rounds: int
    nodes: tuple[Node, ...]
    edges: tuple[tuple[Edge, ...], ...]

    def find(self, step: str, phase: str | None = None) -> list[Node]:
        return [n for n in self.nodes if n.step == step and (phase is None or n.phase == phase)]


def _chain(exercise: Exercise) -> list[Step]:
    """The steps of one round, in order, from the exercise's first step to its round's end."""
    steps, step_id = [], exercise.first
    while step_id and step_id not in {s.id for s in steps}:
        step = exercise.steps[step_id]
        steps.append(step)
        kind, _, arg = step.then.partition(":")
        step_id = arg.partition("@")[0] if kind == "step" else ""
    return steps


def _places(step: Step) -> list[tuple[str, str, tuple, bool]]:
    """(phase, kind, moves, required) for each place of ``step``."""
    phases = step.phases
    required = step.optional is None
    if any(p.hook == "chunk" for p in phases):
        return [(phases[0].name, "send", tuple((m, SENDER) for m in SEND_MOVES.get(step.id, (mv.SEND,))), required)]
    if any(p.hook == "mirror" for p in phases):
        return [("speak", "mirror", ((mv.MIRROR, RECEIVER),), True), ("check", "check", _ANSWERS_S, False),
                ("more", "more", ((mv.ASK_MORE, RECEIVER), (mv.CHECK, RECEIVER)) + _ANSWERS_S, False)]
    if len(phases) == 2 and phases[0].who == SENDER and phases[1].who == RECEIVER and phases[1].branches:
        ask = (phases[0].name, "ask", ((STEP_MOVES.get(step.id, mv.APPOINTMENT), SENDER),), False)
        answer = ((mv.YES, RECEIVER), (mv.NOT_NOW, RECEIVER), (mv.NO, RECEIVER))
        return [ask, (phases[1].name, "answer", answer, False)]
    if len(phases) == 1 and phases[0].who in (SENDER, RECEIVER):
        move = STEP_MOVES.get(step.id, mv.SEND)
        if phases[0].who == SENDER:
            return [(phases[0].name, "intention", ((move, SENDER),), False)]
        ack = ((mv.YES, SENDER), (mv.NO, SENDER), (mv.DONE, SENDER))   # "that's it" after an empathy is a yes
        return [(phases[0].name, "speak", ((move, RECEIVER),), required), ("check", "ack", ack, False)]
    raise SettingsError(f"The step tracker cannot follow the step '{step.id}' of this exercise.")


def _nodes(exercise: Exercise, rounds: int, stays: dict[str, float]) -> list[Node]:
    chain = _chain(exercise)
    later_from = next((i for i, s in enumerate(chain) if s.id == exercise.round_start), 0)
    nodes: list[Node] = []

    def add(round_: int, step: str, phase: str, kind: str, moves_: tuple, required: bool) -> None:
        nodes.append(Node(len(nodes), round_, step, phase, kind, moves_, required, stays.get(kind, 0.0)))

    add(0, "opening", "start", "start", (), False)
    for r in range(rounds):
        if r:  # a later round opens with the switch and starts at the exercise's round start
            add(r, "switch", "announce", "switch", ((mv.SWITCH, ANY),), False)
        for step in chain[later_from if r else 0:]:
            for phase, kind, moves_, required in _places(step):
                add(r, step.id, phase, kind, moves_, required)
    close = exercise.steps["close"]
    add(rounds - 1, "close", close.phases[0].name, "close", ((STEP_MOVES["close"], ANY),), False)
    # a mirror's places loop back to the send they mirror (the last send before them in the round)
    out, send = [], -1
    for n in nodes:
        send = n.index if n.kind == "send" else (-1 if n.kind == "switch" else send)
        who = n.moves[0][1] if n.moves else None
        later = tuple(dict.fromkeys(m.move for m in nodes[n.index + 1:] if m.round == n.round and m.required
                                    and m.moves[0][1] == who and m.move != n.move))
        out.append(Node(**{**n.__dict__, "group": send if n.kind in ("mirror", "check", "more") else -1, "later": later}))
    return out


def _edges(nodes: list[Node], g: GraphSettings) -> list[tuple[Edge, ...]]:
    out = []
    for node in nodes:
        edges: dict[int, Edge] = {}
        if node.stay:
            edges[node.index] = Edge(node.index, node.stay, "stay")
        weight, skipped = 1.0, []
        group_end = max((n.index for n in nodes if n.group == node.group), default=-1) if node.group >= 0 else -1
        for nxt in nodes[node.index + 1:]:
            short = nxt.kind in ("check", "more", "ack", "answer")
            enter = g.enter_short if short else (g.enter_optional if nxt.kind == "intention" else 1.0)
            edges[nxt.index] = Edge(nxt.index, weight * enter, "next", tuple(skipped),
                                    beyond=group_end >= 0 and nxt.index > group_end)
            if nxt.kind == "close":
                break
            if nxt.required:
                skipped.append(nxt.move)
                if len(skipped) > g.max_required_skipped:
                    break
            else:
                weight *= {"switch": g.pass_switch, "answer": g.pass_answer, "ask": g.pass_ask}.get(
                    nxt.kind, g.pass_short if short else g.pass_optional)
        if node.group >= 0:
            loop = g.loop_from_mirror if node.kind == "mirror" else g.loop_from_answer
            edges[node.group] = Edge(node.group, loop, "loop")
        for prev in nodes[1:node.index]:
            if prev.round == node.round and prev.index not in edges:
                redo = node.kind == "ack" and prev.index == node.index - 1
                edges[prev.index] = Edge(prev.index, g.redo if redo else g.back, "back")
        total = sum(e.weight for e in edges.values())
        out.append(tuple(Edge(e.target, e.weight / total, e.kind, e.skipped, e.beyond) for e in edges.values()))
    return out


def build_graph(exercise: Exercise, people: int = 2, settings: GraphSettings | None = None) -> StepGraph:
    """The tracker's graph of ``exercise`` for ``people`` participants (one round each)."""
    if not 2 <= people <= 3:
        raise SettingsError("The step tracker follows two or three people.")
    g = settings or GraphSettings()
    nodes = _nodes(exercise, people, dict(g.stays))
    return StepGraph(exercise.id, people, tuple(nodes), tuple(_edges(nodes, g)))
