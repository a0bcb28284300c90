"""The step tracker: which step of the exercise each turn belongs to, and who is the sender, from the
turns alone, so that a couple who goes ahead (or waits for every prompt) is followed where they are.

Pure: no I/O, no clock. Each :meth:`StepTracker.observe` is one step of forward filtering over the
hidden state (who sends first, node of :mod:`.stepgraph`): the belief so far is carried along the graph's
edges (the exercise order as a prior: staying, going on, jumping ahead, looping back to the send), then
weighed by how well the turn fits each node: its words (:func:`.moves.word_likelihoods`) and whether its
speaker has that node's role. The answer of the turn before steers the way out of the mirror ("that's
all": on to the summary; "there is more": back to the send). The best state is the turn's
:class:`Assignment`. One misheard turn lowers the belief in the right place without removing it, so the
next turns bring it back; a couple that skips ahead is followed there when the words say so.

Who sends first is part of the state: the first person to ask for the appointment or to send is the
sender, unless the caller says who (``sender=``). The roles switch at each round's role switch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from imago_voice.errors import SettingsError
from imago_voice.protocol import moves as mv
from imago_voice.protocol.exercises import EXERCISES, SENDER
from imago_voice.protocol.stepgraph import (
    ANY,
    GraphSettings,
    Node,
    StepGraph,
    build_graph,
)

log = logging.getLogger(__name__)

#: How the turn before changes the edges out of a mirror's places, by (node kind, what that turn said: the
#: receiver's question out of the mirror, the sender's answer out of the check and "is there more?"):
#: factors for the loop back to the send, the way to the check or to "is there more?", staying, and
#: leaving the mirror for a later step.
ANSWER_STEERING = {
    ("mirror", mv.CHECK): {"check": 1.5, "more": 0.4},
    ("mirror", mv.ASK_MORE): {"check": 0.4, "more": 2.5},
    ("check", mv.YES): {"loop": 0.6, "more": 2.0, "beyond": 0.5},
    ("check", mv.MORE): {"loop": 2.0, "more": 0.5, "beyond": 0.15},
    ("check", mv.DONE): {"loop": 0.15, "more": 0.3, "beyond": 2.0},
    ("check", mv.NO): {"loop": 1.5, "more": 0.3, "beyond": 0.15},
    ("more", mv.YES): {"loop": 2.0, "stay": 0.3, "beyond": 0.15},
    ("more", mv.MORE): {"loop": 2.0, "stay": 0.3, "beyond": 0.15},
    ("more", mv.DONE): {"loop": 0.15, "stay": 0.3, "beyond": 2.0},
    ("more", mv.NO): {"loop": 0.15, "stay": 0.3, "beyond": 2.0},
    ("more", None): {"stay": 2.0},
}


@dataclass(frozen=True)
class TrackerSettings:
    """``skip_cost``: the prior factor for jumping over a required place whose move the turn does not
    make; ``past``: the factor for a place when the turn makes the move of a later place of the same
    person (a summary and a validation in one turn is at the validation); ``floor``: belief spread over every place each turn (so nothing is ever ruled out);
    ``order_prior``: False ignores the exercise order (every place equally likely next: a keyword-only
    baseline); ``hint``: the factor for the place the facilitator just asked for (:meth:`StepTracker.prompted`);
    ``anchor_spill``: after :meth:`StepTracker.reanchor`, how much of the next turn's prior goes on past the anchor."""

    skip_cost: float = 0.15
    past: float = 0.15
    floor: float = 0.002
    order_prior: bool = True
    hint: float = 4.0
    anchor_spill: float = 0.25
    graph: GraphSettings = field(default_factory=GraphSettings)
    model: mv.MoveModel = mv.DEFAULT_MODEL


@dataclass(frozen=True)
class Assignment:
    """Where one turn was put: its step and phase (of the exercise table, plus ``check`` after a
    receiver's step for the sender's "yes", and ``announce`` for the switch), the move it makes there,
    the belief in that place (0..1), the roles then, the round, every move heard in it, its answer, and the
    place's kind and index in the tracker's :class:`~imago_voice.protocol.stepgraph.StepGraph`."""

    step: str
    phase: str
    move: str | None
    confidence: float
    sender: str | None
    receiver: str | None
    round: int
    heard: tuple[str, ...] = ()
    answer: str | None = None
    kind: str = ""
    index: int = -1


class StepTracker:
    """Follows one session of ``exercise`` among ``participants`` (two or three names) from its turns.

    ``moves_vocab``: the language's :class:`~imago_voice.protocol.moves.MoveVocabulary` (``Prompts.moves``).
    ``sender``: who sends first, when known (else inferred). Call :meth:`observe` for every turn that is
    not a voice command.
    """

    def __init__(self, exercise: str, participants: Sequence[str], moves_vocab: mv.MoveVocabulary, *,
                 sender: str | None = None, settings: TrackerSettings | None = None) -> None:
        if exercise not in EXERCISES:
            raise SettingsError(f"Unknown exercise '{exercise}'; choose one of {', '.join(EXERCISES)}.")
        names = tuple(str(n) for n in participants)
        if not 2 <= len(names) <= 3 or len(set(names)) != len(names):
            raise SettingsError("The step tracker follows two or three people, each with a different name.")
        if sender is not None and sender not in names:
            raise SettingsError(f"The sender '{sender}' is not one of {', '.join(names)}.")
        self.settings = settings or TrackerSettings()
        self.graph: StepGraph = build_graph(EXERCISES[exercise], len(names), self.settings.graph)
        self._names = names
        self._vocab = moves_vocab
        self._orders = [names[i:] + names[:i] for i in range(len(names))]
        first = range(len(names)) if sender is None else [names.index(sender)]
        self._belief = {(h, 0): 1.0 / len(first) for h in first}
        self._last_answer: str | None = None
        self._last_question: str | None = None
        self._anchor: int | None = None
        self._hint: set[int] = set()
        self._open: list[str] = []
        self._mirrored: list[str] = []
        self._round = 0
        self._history: list[Assignment] = []

    # ------------------------------------------------------------------------------------ public API

    def observe(self, speaker: str | None, text: str) -> Assignment:
        """Take one turn (``speaker``: a participant, or ``None`` when unknown); return where it belongs."""
        reading = mv.read(text, self._vocab, self.settings.model)
        likely = mv.word_likelihoods(reading, self.settings.model)
        prior = self._predict(reading)
        belief = {}
        for (h, j), p in prior.items():
            node = self.graph.nodes[j]
            belief[(h, j)] = p * self._emission(node, reading, likely, self._role(h, node, speaker))
        total = sum(belief.values())
        if total <= 0:  # pragma: no cover - the floor keeps every state alive
            belief, total = prior, sum(prior.values())
        self._belief = {k: v / total for k, v in belief.items() if v / total > 1e-9}
        self._hint = set()
        (h, j), p = max(self._belief.items(), key=lambda kv: kv[1])
        node = self.graph.nodes[j]
        move = max(node.moves, key=lambda m: likely[m[0]])[0] if node.moves else None
        sender, receiver = self._roles_of(h, node)
        if self._sure_of_sender() < 0.75:
            sender = receiver = None
        out = Assignment(node.step, node.phase, move, round(p, 4), sender, receiver, node.round, reading.heard,
                         reading.answer, node.kind, node.index)
        self._keep_chunk(node, h, speaker, text, reading)
        self._last_answer, self._last_question, self._anchor = reading.answer, reading.question, None
        self._history.append(out)
        log.debug("turn %r by %s -> %s/%s (%s, %.2f)", text[:40], speaker, node.step, node.phase, move, p)
        return out

    def reanchor(self, step: str, phase: str | None = None, *, sender: str | None = None,
                 round_: int | None = None) -> None:
        """Put the belief on ``step`` (and ``phase``) in the current round (or the nearest one that has
        it): "we are at the summary", "back to the mirror", the next/back keys. ``sender``: who sends now;
        ``round_``: the round it is (0: the first sender's), when the caller knows (the engine does)."""
        places = self.graph.find(step, phase)
        if round_ is not None and sender is not None and sender in self._names:
            fits = [n for n in places if n.round == round_]
            if fits:
                h = (self._names.index(sender) - round_) % len(self._names)
                self._belief = {(h, fits[0].index): 1.0}
                self._settle(fits[0])
                return
        if not places:
            raise SettingsError(f"The exercise '{self.graph.exercise}' has no step '{step}'" +
                                (f" with a phase '{phase}'." if phase else "."))
        mass: dict[int, float] = {}
        for (h, _), p in self._belief.items():
            mass[h] = mass.get(h, 0.0) + p
        def nearest(nodes: list[Node]) -> Node:
            return min(nodes, key=lambda n: (abs(n.round - self._round), -n.round))

        node = nearest(places)
        if sender is not None:
            if sender not in self._names:
                raise SettingsError(f"The sender '{sender}' is not one of {', '.join(self._names)}.")
            h = max(mass, key=mass.get)   # keep who went first if a round has this sender (the roles switched)
            fits = [n for n in places if self._orders[h][n.round % len(self._names)] == sender]
            node = nearest(fits) if fits else node
            mass = {h if fits else (self._names.index(sender) - node.round) % len(self._names): 1.0}
        total = sum(mass.values())
        self._belief = {(h, node.index): m / total for h, m in mass.items()}
        self._settle(node)

    def _settle(self, node: Node) -> None:
        self._last_answer = self._last_question = None
        self._anchor = node.index   # the next turn is there (or just after it)
        if node.round != self._round:
            self._open, self._mirrored, self._round = [], [], node.round
        log.debug("re-anchored at %s/%s, round %d", node.step, node.phase, node.round)

    def prompted(self, step: str, phase: str | None = None) -> None:
        """The facilitator just asked for ``step`` (``phase``): the next turn is likelier to be there."""
        self._hint = {n.index for n in self.graph.find(step, phase) if n.round in (self._round, self._round + 1)}

    def chunk_for_mirror(self) -> str:
        """The words the sender sent since the last mirror (whichever phase they were heard in); once a
        mirror has been heard and before the sender says more, the words that mirror answered."""
        return " ".join(self._open or self._mirrored)

    @property
    def history(self) -> tuple[Assignment, ...]:
        """Every turn's assignment so far, as it was made."""
        return tuple(self._history)

    def next_step(self) -> tuple[str, str]:
        """The (step, phase) the next turn most likely belongs to, from the belief and the answer heard."""
        prior = self._predict(None)
        (_, j), _ = max(prior.items(), key=lambda kv: kv[1])
        return self.graph.nodes[j].step, self.graph.nodes[j].phase

    # ------------------------------------------------------------------------------------ filtering

    def _predict(self, reading: mv.Reading | None) -> dict[tuple[int, int], float]:
        """The belief carried one turn along the edges; ``reading``: the turn about to be weighed (a
        required place jumped over costs less when it shows that place's move)."""
        s, nodes = self.settings, self.graph.nodes
        lift = {m: s.skip_cost + (1 - s.skip_cost) * (reading.score(m) if reading else 0.0) for m in mv.MOVES}
        out: dict[tuple[int, int], float] = {}
        mass: dict[int, float] = {}
        for (h, i), p in self._belief.items():
            mass[h] = mass.get(h, 0.0) + p
            if not s.order_prior:
                continue
            said = self._last_question if nodes[i].kind == "mirror" else self._last_answer
            steer = ANSWER_STEERING.get((nodes[i].kind, said), {})
            for e in self.graph.edges[i]:
                w = e.weight
                for m in e.skipped:
                    w *= lift[m]
                if steer:
                    key = "loop" if e.kind == "loop" else "stay" if e.kind == "stay" else \
                        "beyond" if e.beyond else nodes[e.target].kind
                    w *= steer.get(key, 1.0)
                if w > 0:
                    out[(h, e.target)] = out.get((h, e.target), 0.0) + p * w
        if self._anchor is not None:
            out = {k: v * s.anchor_spill for k, v in out.items()}
            for h, m in mass.items():
                out[(h, self._anchor)] = out.get((h, self._anchor), 0.0) + m
        spread = s.floor if s.order_prior else 1.0
        for h, m in mass.items():
            for node in nodes[1:]:
                k = (h, node.index)
                out[k] = out.get(k, 0.0) + m * spread / (len(nodes) - 1)
                if node.index in self._hint:
                    out[k] *= s.hint
        return out

    def _emission(self, node: Node, reading: mv.Reading, likely: dict[str, float], role: str) -> float:
        if not node.moves:
            return 0.0
        slip = self.settings.model.role_slip
        fit = max(likely[m] * (1.0 if role == mv.UNKNOWN or who == ANY or who == role else slip)
                  for m, who in node.moves)
        for m in node.later:
            fit *= self.settings.past ** reading.score(m)
        return fit

    def _role(self, h: int, node: Node, speaker: str | None) -> str:
        if speaker not in self._names:
            return mv.UNKNOWN
        sender, receiver = self._roles_of(h, node)
        return mv.SENDER if speaker == sender else mv.RECEIVER if speaker == receiver else mv.OTHER

    def _roles_of(self, h: int, node: Node) -> tuple[str, str]:
        order = self._orders[h]
        return order[node.round % len(order)], order[(node.round + 1) % len(order)]

    def _sure_of_sender(self) -> float:
        mass: dict[int, float] = {}
        for (h, _), p in self._belief.items():
            mass[h] = mass.get(h, 0.0) + p
        return max(mass.values())

    def _keep_chunk(self, node: Node, h: int, speaker: str | None, text: str, reading: mv.Reading) -> None:
        """Keep the sender's words for the next mirror; a mirror closes them."""
        if node.round != self._round:
            self._open, self._mirrored, self._round = [], [], node.round
        sender, _ = self._roles_of(h, node)
        by_sender = speaker == sender if speaker in self._names else any(w == SENDER for _, w in node.moves)
        if node.kind == "mirror":
            if self._open:
                self._mirrored, self._open = self._open, []
        elif by_sender and (node.kind == "send" or (node.kind in ("check", "more") and reading.content >= 2)):
            self._open.append(text.strip())


__all__ = ["ANSWER_STEERING", "Assignment", "StepTracker", "TrackerSettings"]
