"""Generated constitutions for benchmarks: N principles over a few categories."""

from __future__ import annotations

import random

_VERBS = [
    "harmful",
    "honest",
    "helpful",
    "respectful",
    "accurate",
    "private",
    "fair",
    "calm",
    "clear",
    "safe",
    "kind",
    "careful",
    "candid",
    "thorough",
    "neutral",
    "modest",
]
_TOPICS = [
    "weapons",
    "medicine",
    "finance",
    "children",
    "elections",
    "privacy",
    "software",
    "chemistry",
    "law",
    "history",
    "travel",
    "cooking",
    "sport",
    "music",
    "religion",
    "science",
    "relationships",
    "work",
    "housing",
    "education",
]


def generated_constitution(n: int, categories: int = 10, seed: int = 0) -> str:
    rng = random.Random(seed)
    kinds = ["harm", "ethics", "honesty", "helpfulness", "style", "other"]
    lines = [
        "cai 1",
        f'constitution "generated-{n}" {{',
        '  version "1.0.0"',
        "  settings { critique_rounds 2 sampling weighted seed 1 }",
    ]
    per = n // categories
    cats = [f"cat{i}" for i in range(categories)]
    lines.append("  priority " + " > ".join(cats))
    k = 0
    for ci, cat in enumerate(cats):
        lines.append(f"  category {cat} {{ kind {kinds[ci % len(kinds)]} weight {ci % 3 + 1}")
        for _ in range(per if ci < categories - 1 else n - per * (categories - 1)):
            k += 1
            v, t = rng.choice(_VERBS), rng.choice(_TOPICS)
            lines.append(
                f"    principle p{k} {{\n"
                f'      judge "Choose the response that is more {v} when the topic is {t} '
                f'(variant {k})."\n'
                f'      critique "Identify ways the last response about {t} was not {v} '
                f'(variant {k})."\n'
                f'      revision "Rewrite the response about {t} so that it is {v} '
                f'(variant {k})."\n'
                f"      weight {rng.randint(1, 4)}\n    }}"
            )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
