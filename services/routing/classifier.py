"""Text classification of an appeal into a national category, by Kazakh and Russian keyword
stems (classifier.json, versioned data).

Owns: reading the stems, matching them against word forms, and a confidence that says how
sure the match is. Does not own: the threshold below which routing asks a human instead
(policy.py), or which body is competent for the category (registry.py).

Why stems and not a model: every decision must be explainable ("why did my appeal go
there"), the stems are data a ministry's analyst can read and change under a version, and
Kazakh and Russian both inflect by suffixes, so a word's beginning carries its meaning
(жылу, жылумен, жылуы; батарея, батареи, батареях).

Scoring: each category's score is the sum of the weights (1, or 2 for a '+' stem) of the
distinct stems found; one word credits at most one stem per category. With s1 the best score
and s2 the runner-up:

    confidence = min(1, s1 / 2) * s1 / (s1 + s2)

so one weak hit alone gives 0.5 (too little evidence), two agreeing hits or one strong hit
give 1.0, and competing evidence lowers it (2 against 1 gives 0.67, a tie 0.5).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from contracts import Category

CLASSIFIER_PATH = Path(__file__).with_name("classifier.json")

_WORD = re.compile(r"\w+", re.UNICODE)
FULL_EVIDENCE = 2.0


@dataclass(frozen=True)
class Stem:
    """One keyword: a sequence of word stems (one for a single word) and its weight."""

    text: str
    parts: tuple[str, ...]
    exact_last: bool
    weight: float

    @classmethod
    def parse(cls, raw: str) -> Stem:
        weight = 2.0 if raw.startswith("+") else 1.0
        text = normalise(raw.lstrip("+"))
        exact_last = text.endswith("$")
        parts = tuple(text.rstrip("$").split())
        if not parts or len(parts[0]) < 2:
            raise ValueError(f"stem {raw!r} needs at least two letters")
        return cls(text=text, parts=parts, exact_last=exact_last, weight=weight)

    def matches_at(self, words: list[str], index: int) -> bool:
        if index + len(self.parts) > len(words):
            return False
        last = len(self.parts) - 1
        for offset, part in enumerate(self.parts):
            word = words[index + offset]
            if offset == last and self.exact_last:
                if word != part:
                    return False
            elif not word.startswith(part):
                return False
        return True


@dataclass(frozen=True)
class CategoryScore:
    category: Category
    score: float
    confidence: float
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    """What the text says, best first; `best` is None when no stem matched at all."""

    scores: tuple[CategoryScore, ...]
    version: str

    @property
    def best(self) -> CategoryScore | None:
        return self.scores[0] if self.scores else None

    @property
    def confidence(self) -> float:
        return self.best.confidence if self.best else 0.0

    def explain(self) -> str:
        if not self.scores:
            return "no keyword of any category found"
        return "; ".join(
            f"{s.category.value} {s.confidence:.2f} ({', '.join(s.matched)})" for s in self.scores
        )


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е")


class TextClassifier:
    def __init__(self, version: str, stems: dict[Category, list[Stem]]) -> None:
        self.version = version
        self.stems = stems
        # Stems by the first two letters of their first word: a word is only compared with
        # the stems that can match it (a few instead of ~500).
        self._index: dict[str, list[tuple[Category, Stem]]] = {}
        for category, category_stems in stems.items():
            for stem in category_stems:
                self._index.setdefault(stem.parts[0][:2], []).append((category, stem))

    @classmethod
    @cache
    def default(cls) -> TextClassifier:
        return cls.from_file(CLASSIFIER_PATH)

    @classmethod
    def from_file(cls, path: Path) -> TextClassifier:
        data = json.loads(path.read_text(encoding="utf-8"))
        stems: dict[Category, list[Stem]] = {}
        for category, by_language in data["stems"].items():
            stems[Category(category)] = [
                Stem.parse(raw)
                for language in ("kk", "ru")
                for raw in by_language.get(language, [])
            ]
        if Category.OTHER in stems:
            raise ValueError("`other` is what classification replaces; it has no stems")
        return cls(data["version"], stems)

    def classify(self, *texts: str | None) -> Classification:
        words = _WORD.findall(normalise(" ".join(t for t in texts if t)))
        credited: dict[Category, dict[str, float]] = {}
        used_words: dict[Category, set[int]] = {}
        for index, word in enumerate(words):
            hits: dict[Category, list[Stem]] = {}
            for category, stem in self._index.get(word[:2], ()):
                if stem.text not in credited.get(category, {}) and stem.matches_at(words, index):
                    hits.setdefault(category, []).append(stem)
            for category, stems in hits.items():
                if index in used_words.get(category, ()):
                    continue
                best = max(stems, key=lambda s: (s.weight, len(s.parts), len(s.text)))
                credited.setdefault(category, {})[best.text] = best.weight
                used_words.setdefault(category, set()).update(range(index, index + len(best.parts)))
        raw = [
            (category, sum(stems.values()), tuple(sorted(stems)))
            for category, stems in credited.items()
        ]
        raw.sort(key=lambda item: (-item[1], item[0].value))
        scores = []
        for position, (category, score, matched) in enumerate(raw):
            rivals = [s for i, (_, s, _) in enumerate(raw) if i != position]
            rival = max(rivals, default=0.0)
            evidence = min(1.0, score / FULL_EVIDENCE)
            confidence = round(evidence * score / (score + rival), 2)
            scores.append(CategoryScore(category, score, confidence, matched))
        return Classification(tuple(scores), self.version)
