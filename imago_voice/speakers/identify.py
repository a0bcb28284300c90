"""Who is speaking, from one shared microphone: each stretch of a speech segment to the closest voiceprint.

:class:`SpeakerIdentifier` scores a clip against every enrolled voiceprint (:meth:`~SpeakerIdentifier.scores`)
and splits a speech segment where the speaker changes inside it (:meth:`~SpeakerIdentifier.spans`): 1 s
windows every 0.2 s are scored against every voiceprint and a Viterbi pass with a switching penalty
chooses who speaks when, so one odd window cannot flip a turn; a span whose voice is close to no
voiceprint goes to nobody (a visitor, the TV).

    ident = SpeakerIdentifier([anna, ben])
    ident.spans(segment, start=12.3)           # [SpeakerSpan(12.3, 15.1, "Anna", 0.88), ...]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.errors import VoiceprintError
from imago_voice.speakers import features
from imago_voice.speakers.encoder import SpeakerEncoder, get_encoder
from imago_voice.speakers.voiceprint import Voiceprint, embed_mel, embed

DEFAULT_THRESHOLD = 0.65
SHORT_CLIP_ALLOWANCE = 0.08
_FRAME = features.HOP / SAMPLE_RATE  # 10 ms per mel frame
_VAD_FRAMES = 3  # one 30 ms VAD decision covers three mel frames


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


class SpeakerIdentifier:
    """Attributes audio to one of 1-4 (or more) enrolled people, or to nobody.

    ``threshold``: a clip or span whose best similarity is below it is attributed to nobody (None);
    default :data:`DEFAULT_THRESHOLD` (eased for clips under 2 s of speech, see :meth:`threshold_for`).
    Pass ``threshold=-1`` for a closed set (always the closest).
    ``window``/``hop``/``switch_penalty``/``sharpness``: the sliding windows and the Viterbi smoothing
    used by :meth:`spans`.
    """

    def __init__(self, voiceprints: list[Voiceprint], threshold: float | None = None, *,
                 window: float = 1.0, hop: float = 0.2,
                 switch_penalty: float = 6.0, sharpness: float = 30.0, anchor: float = 0.5,
                 refine: bool = True, encoder: SpeakerEncoder | None = None):
        voiceprints = list(voiceprints or [])
        if not voiceprints:
            raise VoiceprintError("Speaker identification needs at least one voiceprint.")
        names = [vp.name for vp in voiceprints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise VoiceprintError(f"Two voiceprints have the same name: {', '.join(dupes)}.")
        if not (0.3 <= window <= 1.6 and 0.05 <= hop <= window):
            raise VoiceprintError("window must be 0.3-1.6 s and hop 0.05 s up to the window length.")
        self.enrolled = voiceprints
        self.names = names
        self.threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        self.window_frames = int(round(window / _FRAME))
        self.hop_frames = max(1, int(round(hop / _FRAME)))
        self.switch_penalty = float(switch_penalty)
        self.sharpness = float(sharpness)
        self.anchor = float(anchor)
        self.refine = bool(refine)
        self.pause_tolerance = 0.15
        self._encoder = encoder or get_encoder()
        self._matrix = np.stack([vp.vector for vp in voiceprints]).astype(np.float32)

    def add(self, voiceprint: Voiceprint) -> None:
        """Know one more voice (or a person's voice anew: the old print of that name is replaced)."""
        prints = [vp for vp in self.enrolled if vp.name != voiceprint.name] + [voiceprint]
        self.enrolled = prints
        self.names = [vp.name for vp in prints]
        self._matrix = np.stack([vp.vector for vp in prints]).astype(np.float32)

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

    # -- segments with speaker changes --------------------------------------------------------

    def spans(self, audio: np.ndarray, start: float = 0.0, sample_rate: int = SAMPLE_RATE
              ) -> list[SpeakerSpan]:
        """Who speaks when inside one speech segment; spans cover the whole segment, in order.

        The segment is split where the voice changes (one person starts as the other stops, with
        little or no gap); consecutive windows of one person are merged into one span. Audio shorter
        than 10 ms gives no span.
        """
        wav = features.to_mono_16k(audio, sample_rate)
        duration = len(wav) / SAMPLE_RATE
        if len(wav) < features.HOP:
            return []
        wav = features.normalize_volume(wav)
        mel = features.mel_spectrogram(wav)
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
            embedding = embed_mel(seg_mel, encoder=self._encoder)
            scores = self._matrix @ embedding
            seconds = len(sel) * _FRAME
            if label >= K:  # the "nobody" state
                speaker, score = None, float(np.max(scores))
            else:
                score = float(scores[label])
                speaker = self.names[label]
                if score < self.threshold_for(seconds):
                    speaker = None
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
        mask30 = features.speech_mask(wav)
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
        embedding = embed_mel(mel, encoder=self._encoder)
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
