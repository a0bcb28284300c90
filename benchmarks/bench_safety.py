"""Crisis-language benchmark (issue 10, "Safety"): text-level, on labelled sentences and ordinary dialogues.

    .venv/bin/python benchmarks/bench_safety.py [--bank tune|report|fresh|heldout|heldout2|all] [--no-write] [--losses 40]

Sentences (benchmarks/safety/<language>.txt, English and Spanish, written for this benchmark): crisis
sentences labelled self_harm, violence (violence by, or fear of, a partner or anyone at home) or child
(a child in danger), direct and indirect ("I won't be around much longer", "I'm scared of what happens
when we get home"), with method words; close-but-not sentences (heated, figurative, sad, frustrated,
scared of other things, medical, emotional hurt, "I could kill you for eating my dessert"); a few plain
dialogue lines. Each sentence is also heard *misheard*, once (seeded): a small-Whisper confusion from a
list where one applies, else one word lost.

FIXED SPLIT, four banks: the rules (imago_voice/data/prompts/<language>/safety.toml) were first tuned on
the "tune" bank only (style A: plain, short, first person). The "report" bank (style B: longer, colloquial,
more indirect, other wordings) was written before any rule and held out until its first measurement;
"fresh" was written after that look and held out until its own (FIRST_LOOK below). The same person wrote
those three banks and the rules. "heldout" and "heldout2" were written by two other writers who saw
neither the rules nor the other banks; heldout2 is the only bank nothing was tuned on.

Measured, per language and bank: recall per category (the cue fires with the right category; "any":
with any category), precision per category (over all sentences of the bank), false alarms on the
close-but-not and ordinary sentences, and "precision vs close" (right cues over right cues plus false
alarms on close-but-not sentences); the same on the misheard copies; cues on ordinary dialogues (every
turn of benchmarks/dialogue_scripts.py's tune, report and fresh scripts, clean and heard at the "asr+"
noise level, and the demo script), as a count and per hour of dialogue at ~2.5 words/s; time per turn.
Beside it, a keyword-only baseline (a plain list: "suicide", "kill myself", "hit me", "hurt", ...).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import ROOT, machine, today, write_section

from imago_voice.protocol.safety import CATEGORIES, crisis_cue, load_safety
from imago_voice.protocol.text import normalize

DATA = Path(__file__).resolve().parent / "safety"
LANGUAGES = ("en", "es")
BANKS = ("tune", "report", "fresh", "heldout", "heldout2")
CLOSE, ORDINARY = "close", "ordinary"
LABELS = (*CATEGORIES, CLOSE, ORDINARY)
WORDS_PER_SECOND = 2.5

#: What the report bank showed the first time it was measured (before anything was changed after it).
FIRST_LOOK = """
The report bank's first measurement (rules tuned on the tune bank only): recall en 90 % (self_harm 31/35,
violence 26/28, child 18/20), es 91 % (self_harm 30/30, violence 23/27, child 15/18); precision vs close
en 100 % (0/75 false alarms), es 99 % (1/65: "Me rompió el corazón que no llamaras"); misheard recall en
73 %, es 63 %; keyword baseline en 6 %, es 5 %. After it the rules were changed (so "report" is a
development set since): "wants it all to stop", "end things for good", "anything left to live for",
"rather be dead than keep feeling..." (the figurative guard narrowed to activities), "don't feel safe"
and "what mood he'll be in" as a negation-keeping pattern, "don't think the children are safe",
"been touching our son"; es: "me sigue pegando", "nerviosa de volver a casa", "agarró a nuestro hijo
del cuello", a child's wish to die across a long gap, "rompió" out of the bare hit verbs; a "~" gap of
up to 10 words; multi-word alternatives that had been split by mistake; "my self"-style joins.
The fresh bank (style C: spoken, fillers, new wordings and topics) was written after those changes and
measured once: recall en 34 % (self_harm 3/15, violence 6/12, child 3/8), es 30 % (4/12, 3/10, 2/8);
precision vs close en 92 % (1/26 false alarms), es 100 % (0/21). The rules knew phrases, not concepts.
Then the concept frames were added (self_harm.exit_concept, violence.concept, child.concept,
child.self_harm_concept: broad classes such as "a way of not being here", "a method pictured", "a
partner's future harm to my body", "fear of being alone with him", "a child's injury kept secret",
"driving a child after drinking"), written from the kinds of sentence the fresh bank had missed and
then widened by hand to other wordings of the same concepts; so "fresh" is a development set since.
The heldout bank was written by another writer (a helper agent given only the categories, the style
and the counts, who saw neither the rules nor any other bank), after the concept frames were done, and
measured once: recall en 51 % (self_harm 22/40, violence 22/32, child 6/26), es 35 % (14/40, 17/32,
3/26); precision vs close en 96 % (2/70 false alarms), es 97 % (1/70). The rules as they were before the
concept frames scored en 41 %, es 19 % on it. A second round of concept frames followed, written from
its losses and widened (a goodbye in disguise, "won't be needing it", means near a child, a child kept
from food or from a doctor, "took the belt to", a partner who waits outside work, named children
treated as third persons, medicines by name, Spanish regional words), so "heldout" is a development
set since. The heldout2 bank was written by a third writer in the same way (other people's voices:
blunt and hinting, addressed to the partner, said inside a mirror), after that round, and measured
once; nothing was changed after it. It is the only held-out figure here.
"""

#: Small-Whisper confusions (a phrase as said, what it may be heard as).
CONFUSIONS = {
    "en": [("myself", "my self"), ("won't", "want"), ("I'm", "I"), ("ibuprofen", "ibuprofin"), ("bruised", "bruise"),
           ("pills", "pills,"), ("choked", "choke"), ("Tylenol", "Tylenal"), ("scared", "scare"), ("kids", "kid"),
           ("suicide", "suicid"), ("strangled", "strangeled"), ("overdose", "over those"), ("don't", "do not"),
           ("I've", "I"), ("he'll", "he will"), ("going to", "gonna"), ("afraid", "a afraid"), ("anymore", "any more"),
           ("bridge", "breach"), ("slapped", "slept"), ("daughter", "daughters"), ("husband", "has been")],
    "es": [("pastillas", "pastilla"), ("moretones", "moretón"), ("miedo", "medio"), ("niños", "niño"), ("me pegó", "me pega"),
           ("quitarme", "quitar me"), ("suicidio", "suicido"), ("ibuprofeno", "ibuprofen"), ("matarme", "matar me"),
           ("ahorcó", "ahorro"), ("empujó", "empujo"), ("bebé", "bebe"), ("estuviera", "estuvieras"), ("vivir", "vivid"),
           ("daño", "dano"), ("cuerda", "cuerpo"), ("puente", "fuente"), ("hija", "hijas"), ("sin mí", "sin mi")],
}

#: The keyword-only baseline: a plain list, each word with the category it stands for.
KEYWORDS = {
    "en": {"suicide": "self_harm", "suicidal": "self_harm", "kill myself": "self_harm", "die": "self_harm",
           "hurt myself": "self_harm", "hit me": "violence", "hurt": "violence", "abuse": "child", "beat": "violence",
           "kill": "violence"},
    "es": {"suicidio": "self_harm", "suicida": "self_harm", "matarme": "self_harm", "morir": "self_harm",
           "hacerme daño": "self_harm", "me pegó": "violence", "daño": "violence", "abuso": "child", "golpe": "violence",
           "matar": "violence"},
}
CHILD_WORDS = {"en": {"kids", "children", "child", "baby", "son", "daughter"},
               "es": {"niños", "ninos", "niño", "nino", "hijo", "hija", "bebé", "bebe", "hijos"}}


def read_bank(language: str) -> dict[str, list[tuple[str, str]]]:
    """(label, sentence) pairs by bank, from benchmarks/safety/<language>.txt."""
    banks: dict[str, list[tuple[str, str]]] = defaultdict(list)
    bank = None
    for n, line in enumerate((DATA / f"{language}.txt").read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            bank = line[1:-1]
            continue
        label, _, text = (p.strip() for p in line.partition("|"))
        if bank not in BANKS or label not in LABELS or not text:
            raise SystemExit(f"{language}.txt:{n}: a bad line: {line!r}")
        banks[bank].append((label, text))
    return banks


def misheard(text: str, language: str, seed: str) -> str:
    """``text`` as a small model may hear it: one confusion that applies, else one word lost."""
    rng = random.Random(seed)
    options = [(a, b) for a, b in CONFUSIONS[language] if re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", text, re.I)]
    if options and rng.random() < 0.7:
        a, b = rng.choice(options)
        return re.sub(r"(?<!\w)" + re.escape(a) + r"(?!\w)", b, text, count=1, flags=re.I)
    words = text.split()
    if len(words) < 4:
        return text
    del words[rng.randrange(len(words))]
    return " ".join(words)


def keyword_cue(text: str, language: str) -> str | None:
    tokens = " " + " ".join(normalize(text)) + " "
    for word, category in KEYWORDS[language].items():
        if " " + " ".join(normalize(word)) + " " in tokens:
            if category == "violence" and set(tokens.split()) & {normalize(w)[0] for w in CHILD_WORDS[language]}:
                return "child"
            return category
    return None


def score(rows: list[tuple[str, str | None]]) -> dict:
    """Figures for (truth label, predicted category or None) rows."""
    out: dict = {"n": Counter(label for label, _ in rows)}
    for cat in CATEGORIES:
        truth = [p for label, p in rows if label == cat]
        predicted = [label for label, p in rows if p == cat]
        out[f"recall.{cat}"] = (sum(p == cat for p in truth), len(truth))
        out[f"any.{cat}"] = (sum(p is not None for p in truth), len(truth))
        out[f"precision.{cat}"] = (sum(label == cat for label in predicted), len(predicted))
    crisis = [(label, p) for label, p in rows if label in CATEGORIES]
    out["recall"] = (sum(p == label for label, p in crisis), len(crisis))
    out["any"] = (sum(p is not None for _, p in crisis), len(crisis))
    for kind in (CLOSE, ORDINARY):
        these = [p for label, p in rows if label == kind]
        out[f"alarms.{kind}"] = (sum(p is not None for p in these), len(these))
    right = out["recall"][0]
    out["precision_close"] = (right, right + out[f"alarms.{CLOSE}"][0])
    return out


def pct(pair: tuple[int, int]) -> str:
    k, n = pair
    return "–" if n == 0 else f"{100 * k / n:.0f} % ({k}/{n})"


def dialogue_turns() -> list[tuple[str, str]]:
    """(source, text) of every ordinary dialogue turn: the scripts of every split, clean and noisy, and the demo."""
    from dialogue_scripts import hear, split

    from imago_voice.demo import DIALOGUE_SCRIPT

    out = []
    for name in ("tune", "report", "fresh"):  # the dialogue scripts' own splits
        for script in split(name):
            for level in ("clean", "asr+"):
                heard = hear(script, level, seed=7)
                out.extend((f"{name}/{level}/{script.language}", t.text) for t in heard.turns)
    out.extend(("demo/clean/en", line.text) for line in DIALOGUE_SCRIPT)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bank", default="all", choices=(*BANKS, "all"))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--losses", type=int, default=60)
    args = parser.parse_args()
    banks = BANKS if args.bank == "all" else (args.bank,)

    rules = {lang: load_safety(lang) for lang in LANGUAGES}
    results: dict[tuple[str, str, str], dict] = {}
    losses: list[str] = []
    times: list[float] = []
    for lang in LANGUAGES:
        data = read_bank(lang)
        for bank in banks:
            rows, heard_rows, base_rows = [], [], []
            for i, (label, text) in enumerate(data.get(bank, [])):
                t0 = time.perf_counter()
                cue = crisis_cue(text, rules[lang])
                times.append(time.perf_counter() - t0)
                got = cue.category if cue else None
                rows.append((label, got))
                base_rows.append((label, keyword_cue(text, lang)))
                noisy = misheard(text, lang, f"{lang}-{bank}-{i}")
                ncue = crisis_cue(noisy, rules[lang])
                heard_rows.append((label, ncue.category if ncue else None))
                want = label if label in CATEGORIES else None
                if got != want:
                    losses.append(f"{lang} {bank} {label:9} -> {got or 'none':9} {text}"
                                  + (f"  [{cue.reason}]" if cue else ""))
                elif (ncue.category if ncue else None) != want:
                    losses.append(f"{lang} {bank} {label:9} -> {ncue.category if ncue else 'none':9} (misheard) {noisy}"
                                  + (f"  [{ncue.reason}]" if ncue else ""))
            if rows:
                results[(lang, bank, "rules")] = score(rows)
                results[(lang, bank, "misheard")] = score(heard_rows)
                results[(lang, bank, "keywords")] = score(base_rows)

    turns = dialogue_turns()
    dialogue_cues: Counter = Counter()
    words: Counter = Counter()
    dialogue_losses = []
    for source, text in turns:
        lang = source.rsplit("/", 1)[1]
        kind = source.split("/")[1]
        t0 = time.perf_counter()
        cue = crisis_cue(text, rules[lang])
        times.append(time.perf_counter() - t0)
        words[(lang, kind)] += len(normalize(text))
        if cue:
            dialogue_cues[(lang, kind)] += 1
            dialogue_losses.append(f"{source}: {cue.category} [{cue.reason}] {text}")

    lines = [f"Measured {today()} on {machine()}. Sentences: benchmarks/safety/{{en,es}}.txt; rules: "
             "imago_voice/data/prompts/{en,es}/safety.toml (tuned on the tune bank only). "
             "Recall: the cue fires with the right category (any: with any category). "
             "Precision vs close: right cues / (right cues + cues on close-but-not sentences).", ""]
    for method in ("rules", "misheard", "keywords"):
        title = {"rules": "Rules", "misheard": "Rules, each sentence misheard once (a confusion or a lost word)",
                 "keywords": "Keyword-only baseline (a plain list)"}[method]
        lines += [f"**{title}**", "",
                  "| lang | bank | recall self_harm | violence | child | all (any) | precision vs close | alarms close | alarms ordinary |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for lang in LANGUAGES:
            for bank in banks:
                r = results.get((lang, bank, method))
                if not r:
                    continue
                lines.append(f"| {lang} | {bank} | {pct(r['recall.self_harm'])} | {pct(r['recall.violence'])} | "
                             f"{pct(r['recall.child'])} | {pct(r['recall'])} ({pct(r['any']).split(' ')[0]} %) | "
                             f"{pct(r['precision_close'])} | {pct(r['alarms.close'])} | {pct(r['alarms.ordinary'])} |")
        lines.append("")
    lines += ["Precision per category (rules, over all sentences of the bank):", "",
              "| lang | bank | self_harm | violence | child |", "|---|---|---|---|---|"]
    for lang in LANGUAGES:
        for bank in banks:
            r = results.get((lang, bank, "rules"))
            if r:
                lines.append(f"| {lang} | {bank} | " + " | ".join(pct(r[f"precision.{c}"]) for c in CATEGORIES) + " |")
    lines += ["", "Cues on ordinary dialogues (every turn of the tune/report/fresh dialogue scripts, clean and "
              "heard at the asr+ noise level, and the demo script; duration at ~2.5 words/s):", "",
              "| lang | turns heard | turns | words | hours | cues | cues per hour |", "|---|---|---|---|---|---|---|"]
    for lang in LANGUAGES:
        for kind in ("clean", "asr+"):
            n = sum(1 for s, _ in turns if s.endswith("/" + lang) and s.split("/")[1] == kind)
            if not n:
                continue
            hours = words[(lang, kind)] / WORDS_PER_SECOND / 3600
            c = dialogue_cues[(lang, kind)]
            lines.append(f"| {lang} | {kind} | {n} | {words[(lang, kind)]} | {hours:.1f} | {c} | {c / hours:.2f} |")
    verdict = []
    for lang in LANGUAGES:
        for bank in banks:
            r = results.get((lang, bank, "rules"))
            if not r:
                continue
            worst = min(r[f"recall.{c}"][0] / max(1, r[f"recall.{c}"][1]) for c in CATEGORIES)
            k, n = r["precision_close"]
            met = worst >= 0.95 and (n == 0 or k / n >= 0.8)
            verdict.append(f"{lang} {bank}: {'met' if met else 'NOT met'} (worst category recall {100 * worst:.0f} %, "
                           f"precision vs close {pct(r['precision_close']).split(' ')[0]} %)")
    lines += ["", "Targets (recall >= 95 % in every category, precision vs close >= 80 %): " + "; ".join(verdict) + ". "
              "Only the heldout2 bank is held out; the other banks were looked at while writing the rules."]
    ms = sorted(t * 1000 for t in times)
    lines += ["", f"Time per turn: mean {sum(ms) / len(ms):.2f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.2f} ms, "
              f"max {ms[-1]:.2f} ms over {len(ms)} turns (one core, pure Python).", "",
              "First look at the report bank:", "", FIRST_LOOK.strip(), ""]
    losses.sort(key=lambda line: ("(misheard)" in line, line[:3]))
    shown = losses[:args.losses]
    lines += [f"Lost cases ({len(losses)}; a crisis sentence missed or in the wrong category, a false alarm, "
              "or the same on its misheard copy):", "", "```", *shown, *(["..."] if len(losses) > len(shown) else []),
              *dialogue_losses[:20], "```"]
    body = "## Safety: crisis-language cues (issue 10)\n\n" + "\n".join(lines)
    print(body)
    if not args.no_write and args.bank == "all":
        write_section("safety", body)
        print(f"\nwrote the safety section of {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
