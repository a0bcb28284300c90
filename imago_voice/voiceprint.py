"""Voiceprints: who is speaking, from one shared microphone.

A :class:`Voiceprint` is a person's name and a 256-number GE2E embedding of a few seconds of their
speech (see :mod:`imago_voice.speaker_encoder`); it is stored as a small JSON file and never holds audio.
:class:`SpeakerIdentifier` attributes a clip to the closest enrolled person (or to nobody when no
voiceprint is close enough: a visitor, the TV), and splits a speech segment where the speaker changes
inside it: 1 s windows every 0.2 s are scored against every voiceprint and a Viterbi pass with a
switching penalty chooses who speaks when, so one odd window cannot flip a turn.

Typical use::

    anna = enroll("Anna", anna_audio)          # mono float32, 16 kHz, 5-20 s of speech
    ben = enroll("Ben", ben_audio)
    ident = SpeakerIdentifier([anna, ben])
    ident.identify(clip)                       # ("Anna", 0.87) or (None, 0.52)
    ident.spans(segment, start=12.3)           # [SpeakerSpan(12.3, 15.1, "Anna", 0.88), ...]
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import tempfile
from dataclasses import dataclass, field

import numpy as np

from imago_voice import speaker_encoder as se
from imago_voice.errors import VoiceprintError

SAMPLE_RATE = se.SAMPLE_RATE
MIN_ENROLL_SECONDS = 2.0
DEFAULT_THRESHOLD = 0.65
SHORT_CLIP_ALLOWANCE = 0.08
FILE_FORMAT = "imago-voice voiceprint"
FILE_VERSION = 1
_FRAME = se.HOP / SAMPLE_RATE  # 10 ms per mel frame
_VAD_FRAMES = 3  # one 30 ms VAD decision covers three mel frames

__all__ = [
    "DEFAULT_THRESHOLD",
    "MIN_ENROLL_SECONDS",
    "SpeakerIdentifier",
    "SpeakerSpan",
    "Voiceprint",
    "delete_stored",
    "embed",
    "enroll",
    "list_stored",
    "load_stored",
    "store",
    "voiceprint_dir",
]


# --------------------------------------------------------------------------------------------
# Voiceprints
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Voiceprint:
    """A person's name and the L2-normalised embedding of ``seconds`` of their speech."""

    name: str
    vector: np.ndarray
    seconds: float

    def __post_init__(self):
        name = str(self.name).strip() if self.name is not None else ""
        if not name:
            raise VoiceprintError("A voiceprint needs a non-empty name.")
        vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if vector.shape != (se.EMBEDDING_SIZE,) or not np.all(np.isfinite(vector)):
            raise VoiceprintError(
                f"A voiceprint vector must be {se.EMBEDDING_SIZE} finite numbers (got shape {vector.shape})."
            )
        norm = float(np.linalg.norm(vector))
        if norm <= 0:
            raise VoiceprintError("A voiceprint vector cannot be all zeros.")
        vector = (vector / norm).astype(np.float32)
        vector.flags.writeable = False
        seconds = float(self.seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise VoiceprintError("A voiceprint's speech duration must be a non-negative number of seconds.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "seconds", seconds)

    def __eq__(self, other):
        if not isinstance(other, Voiceprint):
            return NotImplemented
        return (self.name == other.name and self.seconds == other.seconds
                and np.array_equal(self.vector, other.vector))

    __hash__ = None

    def __repr__(self):
        return f"Voiceprint(name={self.name!r}, seconds={self.seconds:.1f})"

    def similarity(self, embedding: np.ndarray) -> float:
        """Cosine similarity of an embedding to this voiceprint."""
        return float(np.dot(self.vector, np.asarray(embedding, dtype=np.float32)))

    def to_dict(self) -> dict:
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "model": se.MODEL_ID,
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "vector": [float(x) for x in self.vector],
        }

    def save(self, path) -> None:
        """Write the voiceprint as a small JSON file (about 5 KB; no audio), atomically."""
        path = pathlib.Path(path)
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".voiceprint-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            raise VoiceprintError(f"Cannot write the voiceprint file {path}: {exc.strerror or exc}.") from exc

    @classmethod
    def load(cls, path) -> "Voiceprint":
        """Read a file written by :meth:`save`; anything else raises :class:`VoiceprintError`."""
        path = pathlib.Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise VoiceprintError(f"The voiceprint file {path} does not exist.") from None
        except OSError as exc:
            raise VoiceprintError(f"Cannot read the voiceprint file {path}: {exc.strerror or exc}.") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise VoiceprintError(
                f"The voiceprint file {path} is damaged or not a voiceprint; enroll the person again."
            ) from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise VoiceprintError(f"The file {path} is not an imago-voice voiceprint.")
        if data.get("version") != FILE_VERSION:
            raise VoiceprintError(
                f"The voiceprint file {path} has version {data.get('version')!r}, which this imago-voice "
                f"cannot read (it reads version {FILE_VERSION}); enroll the person again."
            )
        if data.get("model") != se.MODEL_ID:
            raise VoiceprintError(
                f"The voiceprint file {path} was made with another speaker model ({data.get('model')!r}); "
                f"enroll the person again."
            )
        try:
            vector = np.asarray(data["vector"], dtype=np.float32)
            return cls(name=data["name"], vector=vector, seconds=float(data["seconds"]))
        except VoiceprintError as exc:
            raise VoiceprintError(f"The voiceprint file {path} is damaged: {exc}") from None
        except (KeyError, TypeError, ValueError):
            raise VoiceprintError(
                f"The voiceprint file {path} is damaged (missing or malformed fields); enroll the person again."
            ) from None


def _speech(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(normalised 16 kHz audio, the same with long silences trimmed)."""
    wav = se.to_mono_16k(audio, sample_rate)
    wav = se.normalize_volume(wav)
    if len(wav) < (se.VAD_WINDOW_MS * SAMPLE_RATE) // 1000:
        return wav, wav[:0]
    return wav, se.trim_long_silences(wav)


def _embed_mel(mel: np.ndarray, hop_frames: int = 80, encoder: se.SpeakerEncoder | None = None
               ) -> np.ndarray:
    """Embedding of a mel sequence: one pass when it fits a partial, else averaged 1.6 s partials.

    Unlike Resemblyzer, short clips are not zero-padded to 1.6 s (the final hidden state after a run of
    silent frames is a poorer voiceprint) and the last partial is aligned to the clip's end.
    """
    encoder = encoder or se.get_encoder()
    n = len(mel)
    if n == 0:
        raise VoiceprintError("There is no audio to recognise a voice in.")
    if n <= se.PARTIAL_FRAMES:
        return encoder.embed_mels(mel[None])[0]
    starts = list(range(0, n - se.PARTIAL_FRAMES + 1, hop_frames))
    if starts[-1] != n - se.PARTIAL_FRAMES:
        starts.append(n - se.PARTIAL_FRAMES)
    mels = np.stack([mel[s:s + se.PARTIAL_FRAMES] for s in starts])
    return se.l2_normalise(encoder.embed_mels_batched(mels).mean(axis=0))


def embed(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """(L2-normalised embedding, seconds of speech) of a clip, silences trimmed first."""
    wav, speech = _speech(audio, sample_rate)
    if len(wav) == 0:
        raise VoiceprintError("There is no audio to recognise a voice in.")
    use = speech if len(speech) >= 0.3 * SAMPLE_RATE else wav
    return _embed_mel(se.mel_spectrogram(use)), len(speech) / SAMPLE_RATE


def enroll(name: str, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Voiceprint:
    """A voiceprint from one recording of a person (works from 5 s of speech, better with 10-20 s)."""
    if name is None or not str(name).strip():
        raise VoiceprintError("A voiceprint needs a non-empty name.")
    wav, speech = _speech(audio, sample_rate)
    seconds = len(speech) / SAMPLE_RATE
    if seconds < MIN_ENROLL_SECONDS:
        raise VoiceprintError(
            f"Only {seconds:.1f} s of speech was heard for {str(name).strip()}; enrollment needs at least "
            f"{MIN_ENROLL_SECONDS:.0f} s (5-20 s works best). Please record a little more speech."
        )
    vector = _embed_mel(se.mel_spectrogram(speech), hop_frames=40)
    return Voiceprint(name=str(name).strip(), vector=vector, seconds=seconds)


# --------------------------------------------------------------------------------------------
# Stored voiceprints
# --------------------------------------------------------------------------------------------


def voiceprint_dir() -> pathlib.Path:
    """Folder of stored voiceprints: ``$IMAGO_VOICE_DATA`` if set, else
    ``$XDG_DATA_HOME/imago-voice/voiceprints``, else ``~/.local/share/imago-voice/voiceprints``."""
    override = os.environ.get("IMAGO_VOICE_DATA")
    if override:
        return pathlib.Path(override).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg and os.path.isabs(os.path.expanduser(xdg)) else (
        pathlib.Path.home() / ".local" / "share")
    return base / "imago-voice" / "voiceprints"


def _file_stem(name: str) -> str:
    name = str(name).strip() if name is not None else ""
    stem = "".join(ch if (ch.isalnum() or ch in "-_") else "_" for ch in name.casefold())
    if not stem.strip("_"):
        raise VoiceprintError(f"{name!r} cannot be used as a voiceprint name; use letters or digits.")
    return stem


def _stored_path(name: str) -> pathlib.Path:
    return voiceprint_dir() / f"{_file_stem(name)}.json"


def store(vp: Voiceprint) -> pathlib.Path:
    """Save ``vp`` in :func:`voiceprint_dir` under its name (replacing an older one); returns the path."""
    path = _stored_path(vp.name)
    vp.save(path)
    return path


def list_stored() -> list[str]:
    """Names of the voiceprints stored in :func:`voiceprint_dir` (unreadable files are skipped)."""
    folder = voiceprint_dir()
    names = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            names.append(Voiceprint.load(path).name)
        except VoiceprintError:
            continue
    return names


def load_stored(name: str) -> Voiceprint:
    """The stored voiceprint called ``name``; a clear error naming the folder when there is none."""
    path = _stored_path(name)
    if not path.is_file():
        known = list_stored()
        have = f" Stored voiceprints: {', '.join(known)}." if known else " No voiceprints are stored there yet."
        raise VoiceprintError(
            f"No voiceprint named {str(name).strip()!r} in {path.parent}.{have} "
            f"Enroll the person first (imago-voice enroll {str(name).strip()})."
        )
    return Voiceprint.load(path)


def delete_stored(name: str) -> bool:
    """Remove a stored voiceprint; True if there was one."""
    path = _stored_path(name)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise VoiceprintError(f"Cannot delete the voiceprint file {path}: {exc.strerror or exc}.") from exc


# --------------------------------------------------------------------------------------------
# Attribution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakerSpan:
    """Who spoke from ``start`` to ``end`` (seconds, absolute); ``speaker`` None = nobody enrolled."""

    start: float
    end: float
    speaker: str | None
    score: float  # cosine similarity to the chosen voiceprint (to the closest one when speaker is None)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _Adaptation:
    seconds: float = 0.0
    total: np.ndarray = field(default_factory=lambda: np.zeros(se.EMBEDDING_SIZE, dtype=np.float64))


class SpeakerIdentifier:
    """Attributes audio to one of 1-4 (or more) enrolled people, or to nobody.

    ``threshold``: a clip or span whose best similarity is below it is attributed to nobody (None);
    default :data:`DEFAULT_THRESHOLD` (eased for clips under 2 s of speech, see :meth:`threshold_for`).
    Pass ``threshold=-1`` for a closed set (always the closest).
    ``adapt``: when True, audio attributed with confidence (at least ``adapt_min_seconds`` long, a
    similarity ``adapt_margin`` above the threshold and ``adapt_margin`` above the runner-up) refines
    that person's voiceprint; the enrolled voiceprint always keeps at least ``1 - adapt_max_weight`` of
    the weight, so adaptation can never walk away from the person who enrolled.
    ``window``/``hop``/``switch_penalty``/``sharpness``: the sliding windows and the Viterbi smoothing
    used by :meth:`spans`.
    """

    def __init__(self, voiceprints: list[Voiceprint], threshold: float | None = None, *,
                 adapt: bool = False, adapt_max_weight: float = 0.5, adapt_margin: float = 0.1,
                 adapt_min_seconds: float = 1.5, window: float = 1.0, hop: float = 0.2,
                 switch_penalty: float = 6.0, sharpness: float = 30.0, anchor: float = 0.5,
                 refine: bool = True, encoder: se.SpeakerEncoder | None = None):
        voiceprints = list(voiceprints or [])
        if not voiceprints:
            raise VoiceprintError("Speaker identification needs at least one voiceprint.")
        names = [vp.name for vp in voiceprints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise VoiceprintError(f"Two voiceprints have the same name: {', '.join(dupes)}.")
        if not 0.0 <= adapt_max_weight <= 0.9:
            raise VoiceprintError("adapt_max_weight must be between 0 and 0.9.")
        if not (0.3 <= window <= 1.6 and 0.05 <= hop <= window):
            raise VoiceprintError("window must be 0.3-1.6 s and hop 0.05 s up to the window length.")
        self.enrolled = voiceprints
        self.names = names
        self.threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        self.adapt = bool(adapt)
        self.adapt_max_weight = float(adapt_max_weight)
        self.adapt_margin = float(adapt_margin)
        self.adapt_min_seconds = float(adapt_min_seconds)
        self.window_frames = int(round(window / _FRAME))
        self.hop_frames = max(1, int(round(hop / _FRAME)))
        self.switch_penalty = float(switch_penalty)
        self.sharpness = float(sharpness)
        self.anchor = float(anchor)
        self.refine = bool(refine)
        self.pause_tolerance = 0.15
        self._encoder = encoder or se.get_encoder()
        self._base = np.stack([vp.vector for vp in voiceprints]).astype(np.float32)
        self._matrix = self._base.copy()
        self._adaptation = [_Adaptation() for _ in voiceprints]

    # -- voiceprints --------------------------------------------------------------------------

    @property
    def voiceprints(self) -> list[Voiceprint]:
        """Current voiceprints (the enrolled ones, refined if adaptation is on)."""
        return [Voiceprint(vp.name, self._matrix[i], vp.seconds + self._adaptation[i].seconds)
                for i, vp in enumerate(self.enrolled)]

    def reset_adaptation(self) -> None:
        self._matrix = self._base.copy()
        self._adaptation = [_Adaptation() for _ in self.enrolled]

    def _maybe_adapt(self, embedding: np.ndarray, scores: np.ndarray, index: int, seconds: float) -> None:
        if not self.adapt or index < 0 or seconds < self.adapt_min_seconds:
            return
        best = scores[index]
        runner_up = np.max(np.delete(scores, index)) if len(scores) > 1 else -1.0
        if best < self.threshold + self.adapt_margin or best - runner_up < self.adapt_margin:
            return
        state = self._adaptation[index]
        state.seconds += seconds
        state.total += seconds * np.asarray(embedding, dtype=np.float64)
        enrolled_seconds = max(self.enrolled[index].seconds, 1.0)
        weight = min(self.adapt_max_weight, state.seconds / (state.seconds + enrolled_seconds))
        mean = state.total / np.linalg.norm(state.total)
        mixed = (1.0 - weight) * self._base[index] + weight * mean
        self._matrix[index] = se.l2_normalise(mixed)

    def threshold_for(self, seconds: float) -> float:
        """The acceptance threshold for a clip with ``seconds`` of speech.

        Short clips score lower against every voiceprint (1 s of speech: about 0.08 lower than a
        whole turn), so the threshold is eased by up to ``SHORT_CLIP_ALLOWANCE`` below 2 s of speech.
        """
        ease = min(1.0, max(0.0, 2.0 - float(seconds)))
        return self.threshold - SHORT_CLIP_ALLOWANCE * ease

    # -- whole clips --------------------------------------------------------------------------

    def scores(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
        """Similarity of a clip to every voiceprint."""
        embedding, _ = embed(audio, sample_rate)
        return dict(zip(self.names, (self._matrix @ embedding).tolist()))

    def identify(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[str | None, float]:
        """(name, similarity) of the closest voiceprint, or (None, similarity) below the threshold."""
        embedding, seconds = embed(audio, sample_rate)
        scores = self._matrix @ embedding
        index = int(np.argmax(scores))
        score = float(scores[index])
        if score < self.threshold_for(seconds):
            return None, score
        self._maybe_adapt(embedding, scores, index, seconds)
        return self.names[index], score

    # -- segments with speaker changes --------------------------------------------------------

    def spans(self, audio: np.ndarray, start: float = 0.0, sample_rate: int = SAMPLE_RATE
              ) -> list[SpeakerSpan]:
        """Who speaks when inside one speech segment; spans cover the whole segment, in order.

        The segment is split where the voice changes (one person starts as the other stops, with
        little or no gap); consecutive windows of one person are merged into one span. Audio shorter
        than 10 ms gives no span.
        """
        wav = se.to_mono_16k(audio, sample_rate)
        duration = len(wav) / SAMPLE_RATE
        if len(wav) < se.HOP:
            return []
        wav = se.normalize_volume(wav)
        mel = se.mel_spectrogram(wav)
        n_frames = len(mel)
        keep = self._speech_frames(wav, n_frames)
        speech_mel = mel[keep]
        K = len(self.names)
        W, H = self.window_frames, self.hop_frames

        if len(keep) <= W + H:
            labels_kept = np.zeros(len(keep), dtype=int)
            labels_kept[:] = self._label_whole(speech_mel)
        else:
            starts = list(range(0, len(keep) - W + 1, H))
            if starts[-1] != len(keep) - W:
                starts.append(len(keep) - W)
            windows = np.stack([speech_mel[s:s + W] for s in starts])
            emb = self._encoder.embed_mels_batched(windows)
            sims = emb @ self._matrix.T  # (windows, K)
            path = self._viterbi(sims)
            # Each window speaks for the point at ``anchor`` of its length (its centre by default:
            # 0.35-0.65 measured alike, later points worse); every kept frame takes the label of the
            # nearest such point.
            centres = np.asarray(starts) + self.anchor * W
            nearest = np.clip(np.searchsorted((centres[1:] + centres[:-1]) / 2.0, np.arange(len(keep)),
                                              side="right"), 0, len(centres) - 1)
            labels_kept = path[nearest]
            if self.refine:
                labels_kept = self._refine_changes(speech_mel, keep, labels_kept)

        # label every frame of the segment: a pause takes the label of the nearest speech frame
        frame_labels = np.empty(n_frames, dtype=int)
        if len(keep) == n_frames:
            frame_labels[:] = labels_kept
        else:
            pos = np.searchsorted(keep, np.arange(n_frames))
            left = np.clip(pos - 1, 0, len(keep) - 1)
            right = np.clip(pos, 0, len(keep) - 1)
            use_right = np.abs(keep[right] - np.arange(n_frames)) < np.abs(np.arange(n_frames) - keep[left])
            frame_labels[:] = np.where(use_right, labels_kept[right], labels_kept[left])

        # runs of one label -> spans, each re-scored on all its speech
        change = np.flatnonzero(np.diff(frame_labels)) + 1
        bounds = [0, *change.tolist(), n_frames]
        result: list[SpeakerSpan] = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            label = int(frame_labels[a])
            sel = keep[(keep >= a) & (keep < b)]
            seg_mel = mel[sel] if len(sel) >= 10 else mel[a:b]
            embedding = _embed_mel(seg_mel, encoder=self._encoder)
            scores = self._matrix @ embedding
            seconds = len(sel) * _FRAME
            if label >= K:  # the "nobody" state
                speaker, score = None, float(np.max(scores))
            else:
                score = float(scores[label])
                speaker = self.names[label]
                if score < self.threshold_for(seconds):
                    speaker = None
                else:
                    self._maybe_adapt(embedding, scores, label, seconds)
            t0 = start + min(a * _FRAME, duration)
            t1 = start + (duration if b == n_frames else min(b * _FRAME, duration))
            if result and result[-1].speaker == speaker:  # e.g. two runs both rejected to None
                prev = result.pop()
                t0 = prev.start
                score = max(score, prev.score)
            result.append(SpeakerSpan(round(t0, 3), round(t1, 3), speaker, round(score, 4)))
        return result

    def _speech_frames(self, wav: np.ndarray, n_frames: int) -> np.ndarray:
        """Indices of mel frames kept as speech (Resemblyzer's silence trimming, in place)."""
        mask30 = se.speech_mask(wav)
        frames = np.zeros(n_frames, dtype=bool)
        rep = np.repeat(mask30, _VAD_FRAMES)[:n_frames]
        frames[:len(rep)] = rep
        if len(rep) < n_frames and len(rep):
            frames[len(rep):] = rep[-1]
        keep = np.flatnonzero(frames)
        if len(keep) < 30:  # under 0.3 s of detected speech: use everything
            keep = np.arange(n_frames)
        return keep

    def _refine_changes(self, mel: np.ndarray, keep: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Move each speaker change to where "X before, Y after" fits best.

        Candidates lie within 0.8 s of the Viterbi change (every 50 ms, plus every trimmed pause
        there); each is scored by embedding the speech just before it and just after it:
        (sim_before(X) - sim_before(Y)) + (sim_after(Y) - sim_after(X)). That fit is broad and noisy
        (a 1 s window that mixes two voices leans to one of them), so a pause within
        ``pause_tolerance`` of the best fit wins.
        """
        K = len(self.names)
        changes = np.flatnonzero(np.diff(labels)) + 1
        if len(changes) == 0:
            return labels
        pauses = np.flatnonzero(np.diff(keep) > 1) + 1  # kept-frame index right after a trimmed pause
        n = len(labels)
        reach, step, max_len = 80, 5, 100
        bounds = [0, *changes.tolist(), n]
        new_bounds = list(bounds)
        for j in range(1, len(bounds) - 1):
            c = bounds[j]
            x, y = int(labels[c - 1]), int(labels[c])
            if x >= K or y >= K:
                continue
            lo = max(c - reach, (bounds[j - 1] + c) // 2 + 1)
            hi = min(c + reach, (c + bounds[j + 1]) // 2 - 1)
            length = min(max_len, lo - bounds[j - 1], bounds[j + 1] - hi)
            if hi <= lo or length < 30:
                continue
            cands = np.unique(np.concatenate([np.arange(lo, hi + 1, step), [c],
                                              pauses[(pauses >= lo) & (pauses <= hi)]]))
            before = np.stack([mel[p - length:p] for p in cands])
            after = np.stack([mel[p:p + length] for p in cands])
            emb = self._encoder.embed_mels_batched(np.concatenate([before, after]))
            sb = emb[:len(cands)] @ self._matrix[[x, y]].T
            sa = emb[len(cands):] @ self._matrix[[x, y]].T
            fit = (sb[:, 0] - sb[:, 1]) + (sa[:, 1] - sa[:, 0])
            best = int(np.argmax(fit))
            # Turns mostly change in a pause: take the best-fitting pause when it fits almost as well.
            at_pause = np.isin(cands, pauses) & (fit >= fit[best] - self.pause_tolerance)
            if np.any(at_pause):
                best = int(np.flatnonzero(at_pause)[np.argmax(fit[at_pause])])
            new_bounds[j] = int(cands[best])
        out = np.empty_like(labels)
        for j in range(len(new_bounds) - 1):
            out[new_bounds[j]:new_bounds[j + 1]] = labels[bounds[j]]
        return out

    def _label_whole(self, mel: np.ndarray) -> int:
        embedding = _embed_mel(mel, encoder=self._encoder)
        scores = self._matrix @ embedding
        index = int(np.argmax(scores))
        return index if scores[index] >= self.threshold_for(len(mel) * _FRAME) else len(self.names)

    def _viterbi(self, sims: np.ndarray) -> np.ndarray:
        """Most likely speaker per window: emissions sharpness*similarity, a cost for every switch.

        The extra last state is "nobody", whose emission sits at the threshold for a window's length.
        """
        T, K = sims.shape
        nobody = np.full((T, 1), self.threshold_for(self.window_frames * _FRAME), dtype=np.float64)
        emit = self.sharpness * np.concatenate([sims.astype(np.float64), nobody], axis=1)
        S = K + 1
        trans = np.full((S, S), -self.switch_penalty)
        np.fill_diagonal(trans, 0.0)
        score = emit[0].copy()
        back = np.zeros((T, S), dtype=np.int64)
        for t in range(1, T):
            cand = score[:, None] + trans  # from (rows) -> to (cols)
            back[t] = np.argmax(cand, axis=0)
            score = cand[back[t], np.arange(S)] + emit[t]
        path = np.empty(T, dtype=np.int64)
        path[-1] = int(np.argmax(score))
        for t in range(T - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path
