"""What each language diagnostic means, with a bad and a good example (``caic explain``)."""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    name: str
    summary: str
    bad: str
    good: str


CODES: dict[str, Code] = {
    "E001": Code(
        "not-utf8",
        "The file is not valid UTF-8. caic reads `.cai` files as UTF-8 only.",
        "(a file saved as Latin-1 with `café`)",
        "(the same file saved as UTF-8)",
    ),
    "E002": Code(
        "empty-file", "The file has no constitution in it.", "", 'constitution "mine" { }'
    ),
    "E003": Code(
        "file-too-large",
        "The file is larger than caic reads (8 MiB). A constitution "
        "is prose; split a large one into modules joined by `extends`.",
        "(a 50 MiB generated file)",
        'extends "harm.cai"',
    ),
    "E004": Code(
        "file-not-found",
        "The named file does not exist or cannot be read.",
        "caic check missing.cai",
        "caic check constitutions/hhh-v2.cai",
    ),
    "E005": Code(
        "malformed-data",
        "A data row (JSONL/CSV/JSON) could not be parsed.",
        '{"prompt": "hi"',
        '{"prompt": "hi"}',
    ),
    "E006": Code(
        "bad-data-row",
        "A data row lacks a column the command needs, or repeats an id.",
        '{"text_": "hi"}',
        '{"id": "p1", "prompt": "hi"}',
    ),
    "E010": Code(
        "syntax-error",
        "The parser met a token it did not expect there. The message "
        "lists what would have been valid.",
        'principle p { judgement "..." }',
        'principle p { judge "..." }',
    ),
    "E011": Code(
        "unexpected-eof",
        "The file ended inside a block; the hint names the block that was opened and never closed.",
        'category harm { principle p { judge "..." }',
        'category harm { principle p { judge "..." } }',
    ),
    "E020": Code(
        "unknown-language-version",
        "The `cai N` header names a language version this caic does not know.",
        "cai 9",
        "cai 1",
    ),
    "E101": Code(
        "duplicate-principle",
        "Two principles share a name. Names are unique across "
        "the whole constitution, after `extends`; to replace an inherited principle, "
        "define one of the same name in the child file (that is allowed).",
        "principle harmless { ... }\nprinciple harmless { ... }",
        "principle harmless { ... }\nprinciple harmless-to-children { ... }",
    ),
    "E102": Code(
        "duplicate-category",
        "A category is defined twice in one file.",
        "category harm { ... }\ncategory harm { ... }",
        "category harm { ... }",
    ),
    "E103": Code(
        "unknown-priority-category",
        "A `priority` chain names a category that does not exist.",
        "priority safty > helpfulness",
        "priority safety > helpfulness",
    ),
    "E104": Code(
        "priority-cycle",
        "Priority chains together must form an acyclic order.",
        "priority a > b\npriority b > a",
        "priority a > b",
    ),
    "E105": Code(
        "non-positive-weight",
        "Weights are sampling shares and must be positive.",
        "weight 0",
        "weight 0.5",
    ),
    "E106": Code(
        "unpaired-critique",
        "SL-CAI needs a critique request and a revision request together.",
        'principle p { critique "Point out harm." }',
        'principle p { critique "Point out harm." revision "Remove the harm." }',
    ),
    "E107": Code(
        "principle-without-text",
        "A principle needs a `judge` text, or a `critique` and `revision`, or all three.",
        "principle p { weight 2 }",
        'principle p { judge "Choose the less harmful response." }',
    ),
    "E108": Code(
        "unknown-placeholder",
        "A template uses a `{{ placeholder }}` that the "
        "template does not provide, or has invalid template syntax.",
        'template critique """{{ convo }}"""',
        'template critique """{{ conversation }}\nCritique request: {{ critique }}"""',
    ),
    "E109": Code(
        "unknown-template",
        "Only built-in templates can be overridden: critique, "
        "revision, judge, judge_cot, pointwise, system.",
        'template critic "..."',
        'template critique "..."',
    ),
    "E110": Code(
        "extends-missing",
        "The file named by `extends` does not exist. Paths are "
        "relative to the file that says `extends`.",
        'extends "bsae.cai"',
        'extends "base.cai"',
    ),
    "E111": Code(
        "extends-cycle",
        "Files extend each other in a circle.",
        'a.cai: extends "b.cai"   b.cai: extends "a.cai"',
        'a.cai: extends "b.cai"',
    ),
    "E112": Code(
        "unknown-drop",
        "`drop NAME` names no inherited principle.",
        "drop brief-anser",
        "drop brief-answer",
    ),
    "E113": Code(
        "unknown-setting",
        "A setting caic does not know (a typo, usually).",
        "settings { critique_round 2 }",
        "settings { critique_rounds 2 }",
    ),
    "E114": Code(
        "bad-setting",
        "A setting has a value of the wrong type or out of range.",
        "settings { sampling random }",
        "settings { sampling weighted }",
    ),
    "E115": Code(
        "unknown-tension-principle",
        "A `tension` names a principle that does not exist.",
        "tension helpfull harmless { ... }",
        "tension helpful harmless { prefer harmless }",
    ),
    "E116": Code(
        "bad-prefer",
        "`prefer` must name one of the tension's two principles.",
        "tension a b { prefer c }",
        "tension a b { prefer b }",
    ),
    "E117": Code(
        "duplicate-field",
        "A field is given twice in one block.",
        'principle p { judge "x" judge "y" }',
        'principle p { judge "y" }',
    ),
    "E118": Code(
        "unknown-kind",
        "Category kinds are harm, ethics, honesty, helpfulness, style or other.",
        "kind harmful",
        "kind harm",
    ),
    # Behavioural lint (`caic lint --probe PAIRS`, `caic rlaif probe`): findings from how
    # the principles' judge votes correlate over a probe set, not from the text.
    "CAI901": Code(
        "conflict-in-practice",
        "Anti-pattern: two principles whose judge votes anti-correlate over the probe pairs "
        "(Pearson r <= -0.3): on real responses they pull the labels in opposite directions, "
        "and neither `priority` nor a `tension` says which wins, so the label is a coin toss "
        "between them. Best practice: declare a `tension A B { prefer ... }`, or order their "
        "categories with `priority`, or rewrite one so they stop disagreeing. The message "
        "gives r and the number of probe pairs; a weak judge makes r noisy.",
        'principle concise { judge "Choose the shorter response." }\n'
        'principle thorough { judge "Choose the response that explains more." }',
        "tension concise thorough { prefer thorough }",
    ),
    "CAI902": Code(
        "redundant-in-practice",
        "Anti-pattern: two principles whose judge votes are nearly identical over the probe "
        "pairs (Pearson r >= 0.9): judging both adds cost and double-weights one opinion. "
        "Best practice: merge them, or sharpen one so it judges something the other does not. "
        "With a weak judge (a 135M model) most principles vote alike because the judge "
        "barely reads them; that is a finding about the judge.",
        'principle harmless { judge "Choose the less harmful response." }\n'
        'principle safe { judge "Choose the safer response." }',
        'principle harmless { judge "Choose the less harmful response." }',
    ),
}
