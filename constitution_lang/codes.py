"""What each diagnostic that is not a lint rule means, with a bad and a good example
(``caic explain``). The code table (:mod:`caic.codes`) owns each code's name, group and
severity; the lint rules explain themselves in their docstrings."""

from __future__ import annotations

from typing import NamedTuple


class Explanation(NamedTuple):
    summary: str
    bad: str
    good: str


EXPLANATIONS: dict[str, Explanation] = {
    "E001": Explanation(
        "The file is not valid UTF-8. caic reads `.cai` files as UTF-8 only.",
        "(a file saved as Latin-1 with `café`)",
        "(the same file saved as UTF-8)",
    ),
    "E002": Explanation("The file has no constitution in it.", "", 'constitution "mine" { }'),
    "E003": Explanation(
        "The file is larger than caic reads (8 MiB). A constitution "
        "is prose; split a large one into modules joined by `extends`.",
        "(a 50 MiB generated file)",
        'extends "harm.cai"',
    ),
    "E004": Explanation(
        "The named file does not exist or cannot be read.",
        "caic check missing.cai",
        "caic check constitutions/hhh-v2.cai",
    ),
    "E005": Explanation(
        "A data row (JSONL/CSV/JSON) could not be parsed.",
        '{"prompt": "hi"',
        '{"prompt": "hi"}',
    ),
    "E006": Explanation(
        "A data row lacks a column the command needs, or repeats an id.",
        '{"text_": "hi"}',
        '{"id": "p1", "prompt": "hi"}',
    ),
    "E000": Explanation(
        "An error with no more specific code: the message says what went wrong.",
        "",
        "",
    ),
    "E007": Explanation(
        "The output already holds rows or checkpoints of a run with other inputs (another "
        "constitution, model, seed, data or settings), so resuming into it would mix two "
        "runs. The message names what changed.",
        "caic sl-cai generate hhh-v2 --out sl.jsonl --seed 2   # sl.jsonl came from seed 1",
        "caic sl-cai generate hhh-v2 --out sl-seed2.jsonl --seed 2",
    ),
    "E008": Explanation(
        "The command's arguments do not make sense together or name something unknown "
        "(an unknown --format, a missing input). The message and the usage line say what "
        "to change.",
        "caic lint --format xml constitutions/hhh-v2.cai",
        "caic lint --format sarif constitutions/hhh-v2.cai",
    ),
    "E301": Explanation(
        "The folder given to `caic report` or `caic diff` is not an eval run: it has no "
        "`manifest.json` of kind `eval-run` (written by `caic eval`).",
        "caic report runs/sl-cai-data",
        "caic report runs/eval-a runs/eval-b",
    ),
    "E302": Explanation(
        "A sample row of an eval run is malformed: no string `uid`, or a uid seen twice.",
        '{"suite": "harmless", "score": 1}',
        '{"uid": "harmless:h1", "suite": "harmless", "score": 1}',
    ),
    "E303": Explanation(
        "A `--fail-on` gate is not of the form `suite.metric OP NUMBER` (or "
        "`suite.metric.delta OP NUMBER`).",
        "caic report a b --fail-on 'refusal went up'",
        "caic report a b --fail-on 'harmless.refusal_rate.delta > 0.05'",
    ),
    "E304": Explanation(
        "A `--fail-on` gate names a metric the runs do not have; the hint lists those they do.",
        "caic report a b --fail-on 'harmless.refusals > 3'",
        "caic report a b --fail-on 'harmless.refusal_rate > 0.3'",
    ),
    "E010": Explanation(
        "The parser met a token it did not expect there. The message "
        "lists what would have been valid.",
        'principle p { judgement "..." }',
        'principle p { judge "..." }',
    ),
    "E011": Explanation(
        "The file ended inside a block; the hint names the block that was opened and never closed.",
        'category harm { principle p { judge "..." }',
        'category harm { principle p { judge "..." } }',
    ),
    "E020": Explanation(
        "The `cai N` header names a language version this caic does not know.",
        "cai 9",
        "cai 1",
    ),
    "E101": Explanation(
        "Two principles share a name. Names are unique across "
        "the whole constitution, after `extends`; to replace an inherited principle, "
        "define one of the same name in the child file (that is allowed).",
        "principle harmless { ... }\nprinciple harmless { ... }",
        "principle harmless { ... }\nprinciple harmless-to-children { ... }",
    ),
    "E102": Explanation(
        "A category is defined twice in one file.",
        "category harm { ... }\ncategory harm { ... }",
        "category harm { ... }",
    ),
    "E103": Explanation(
        "A `priority` chain names a category that does not exist.",
        "priority safty > helpfulness",
        "priority safety > helpfulness",
    ),
    "E104": Explanation(
        "Priority chains together must form an acyclic order.",
        "priority a > b\npriority b > a",
        "priority a > b",
    ),
    "E105": Explanation(
        "Weights are sampling shares and must be positive.",
        "weight 0",
        "weight 0.5",
    ),
    "E106": Explanation(
        "SL-CAI needs a critique request and a revision request together.",
        'principle p { critique "Point out harm." }',
        'principle p { critique "Point out harm." revision "Remove the harm." }',
    ),
    "E107": Explanation(
        "A principle needs a `judge` text, or a `critique` and `revision`, or all three.",
        "principle p { weight 2 }",
        'principle p { judge "Choose the less harmful response." }',
    ),
    "E108": Explanation(
        "A template uses a `{{ placeholder }}` that the "
        "template does not provide, or has invalid template syntax.",
        'template critique """{{ convo }}"""',
        'template critique """{{ conversation }}\nCritique request: {{ critique }}"""',
    ),
    "E109": Explanation(
        "Only built-in templates can be overridden: critique, "
        "revision, judge, judge_cot, pointwise, system.",
        'template critic "..."',
        'template critique "..."',
    ),
    "E110": Explanation(
        "The file named by `extends` does not exist. Paths are "
        "relative to the file that says `extends`.",
        'extends "bsae.cai"',
        'extends "base.cai"',
    ),
    "E111": Explanation(
        "Files extend each other in a circle.",
        'a.cai: extends "b.cai"   b.cai: extends "a.cai"',
        'a.cai: extends "b.cai"',
    ),
    "E112": Explanation(
        "`drop NAME` names no inherited principle.",
        "drop brief-anser",
        "drop brief-answer",
    ),
    "E113": Explanation(
        "A setting caic does not know (a typo, usually).",
        "settings { critique_round 2 }",
        "settings { critique_rounds 2 }",
    ),
    "E114": Explanation(
        "A setting has a value of the wrong type or out of range.",
        "settings { sampling random }",
        "settings { sampling weighted }",
    ),
    "E115": Explanation(
        "A `tension` names a principle that does not exist.",
        "tension helpfull harmless { ... }",
        "tension helpful harmless { prefer harmless }",
    ),
    "E116": Explanation(
        "`prefer` must name one of the tension's two principles.",
        "tension a b { prefer c }",
        "tension a b { prefer b }",
    ),
    "E117": Explanation(
        "A field is given twice in one block.",
        'principle p { judge "x" judge "y" }',
        'principle p { judge "y" }',
    ),
    "E118": Explanation(
        "Category kinds are harm, ethics, honesty, helpfulness, style or other.",
        "kind harmful",
        "kind harm",
    ),
    "E119": Explanation(
        "A `template` block's text is not a valid Jinja template (an unclosed `{{`, a "
        "stray `{%`); the message gives Jinja's own reason and the line.",
        'template critique "Critique: {{ response"',
        'template critique "Critique: {{ response }}"',
    ),
    # Behavioural lint (`caic lint --probe PAIRS`, `caic rlaif probe`): findings from how
    # the principles' judge votes correlate over a probe set, not from the text.
    "CAI901": Explanation(
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
    "CAI902": Explanation(
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
