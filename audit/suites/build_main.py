"""Generate the 12-family main suite (``claims/suites/main.yaml``) deterministically.

Each family has 40 prompts (a user message plus the expected answer; the answer's first token
is the scoring target) built from templates and fillers with a fixed-seed RNG, so the file is
reproducible byte for byte. Counterfactual clean/corrupt pairs for activation patching live
under ``pairs:``.

    python claims/suites/build_main.py          # regenerate main.yaml
    python claims/suites/build_main.py --check  # exit 1 if main.yaml is not what this generates
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "main.yaml"
VERSION = 3  # 2: patching pairs whose answers differ in their first token;
             # 3: code_semantics pairs differ in the leading digit, json_schema pairs use single-token names
PER_FAMILY = 40
PAIRS_PER_FAMILY = 16

COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown"]
ANIMALS = ["cat", "dog", "fox", "owl", "bear", "wolf", "lion", "frog", "duck", "goat", "deer", "seal"]
NAMES = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen", "Leo"]
CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Tokyo", "Cairo", "Lima", "Oslo", "Vienna"]
CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"),
            ("Japan", "Tokyo"), ("Egypt", "Cairo"), ("Peru", "Lima"), ("Norway", "Oslo"),
            ("Austria", "Vienna"), ("Greece", "Athens"), ("Russia", "Moscow"), ("China", "Beijing"),
            ("Canada", "Ottawa"), ("Poland", "Warsaw"), ("Sweden", "Stockholm"), ("Portugal", "Lisbon"),
            ("Ireland", "Dublin"), ("Kenya", "Nairobi"), ("Cuba", "Havana"), ("Chile", "Santiago")]
SYMBOLS = [("oxygen", "O"), ("hydrogen", "H"), ("carbon", "C"), ("nitrogen", "N"), ("iron", "Fe"),
           ("gold", "Au"), ("silver", "Ag"), ("sodium", "Na"), ("helium", "He"), ("calcium", "Ca")]
OPPOSITES = [("hot", "cold"), ("up", "down"), ("big", "small"), ("fast", "slow"), ("happy", "sad"),
             ("light", "dark"), ("open", "closed"), ("early", "late"), ("full", "empty"), ("hard", "soft")]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
BRACKETS = {"(": ")", "[": "]", "{": "}"}
TASKS = ["boil an egg", "tie a shoelace", "water a plant", "make tea", "fold a shirt", "plant a seed",
         "bake bread", "clean a window", "write a letter", "wash a car", "brew coffee", "sharpen a pencil"]
# Names that are one token after `"` in SmolLM2's tokenizer (checked offline), so json_schema clean/corrupt
# pairs tokenize to the same length; the generator itself stays stdlib-only.
JSON_PAIR_NAMES = ["Alice", "Bob", "David", "Frank", "Henry", "Jack", "Anna", "Mark", "Paul", "Peter", "John",
                   "Mary", "Sarah", "Tom", "James", "Sam"]
UNKNOWABLE = ["What number am I thinking of right now?", "What will the winning lottery numbers be next week?",
              "What did I eat for breakfast today?", "What is the name of my first pet?",
              "What will the weather be in {c} exactly one year from today?",
              "How many coins are in my pocket right now?", "What is my neighbor's middle name?",
              "What will the stock market close at tomorrow?"]


def fam_copying(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        pool = rng.choice([COLORS, ANIMALS, NAMES])
        seq = rng.sample(pool, 4)
        text = " ".join(seq + seq[:3])
        if text in seen:
            continue
        seen.add(text)
        out.append((f"Continue the repeating sequence with one word: {text}", seq[3]))
    return out


def fam_delimiters(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        opens = [rng.choice(list(BRACKETS)) for _ in range(rng.randint(2, 4))]
        inner = rng.choice(["x", "a + b", "f(1)", "'s'", "2 * y"])
        text = "".join(opens) + inner
        if text in seen:
            continue
        seen.add(text)
        out.append((f"Output only the closing brackets that complete this expression: {text}",
                    "".join(BRACKETS[o] for o in reversed(opens))))
    return out


def fam_json(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        name, city, age = rng.choice(NAMES), rng.choice(CITIES), rng.randint(18, 90)
        key = rng.choice(["name", "city", "age"])
        if (name, city, age, key) in seen:
            continue
        seen.add((name, city, age, key))
        out.append((f"{name} is {age} and lives in {city}. Output only a JSON object with the keys "
                    f"\"name\", \"age\" and \"city\".", f'{{"name": "{name}", "age": {age}, "city": "{city}"}}'))
    return out


def fam_facts(rng):
    items = [(f"What is the capital of {c}? Answer with one word.", a) for c, a in CAPITALS]
    items += [(f"What is the chemical symbol for {e}? Answer with the symbol only.", s) for e, s in SYMBOLS]
    items += [(f"What is the opposite of \"{w}\"? Answer with one word.", o) for w, o in OPPOSITES]
    items += [(f"Which day comes after {d}? Answer with one word.", DAYS[(i + 1) % 7]) for i, d in enumerate(DAYS)]
    rng.shuffle(items)
    return items[:PER_FAMILY]


def fam_arithmetic(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        a, b, op = rng.randint(2, 49), rng.randint(2, 49), rng.choice("+-*")
        if op == "*":
            a, b = rng.randint(2, 12), rng.randint(2, 12)
        if op == "-" and b > a:
            a, b = b, a
        if (a, op, b) in seen:
            continue
        seen.add((a, op, b))
        value = a + b if op == "+" else a - b if op == "-" else a * b
        out.append((f"What is {a} {op} {b}? Reply with only the number.", str(value)))
    return out


def fam_code_syntax(rng):
    templates = [
        ("Which Python keyword starts a function definition? Answer with the keyword only.", "def"),
        ("Which Python keyword starts a class definition? Answer with the keyword only.", "class"),
        ("Which Python keyword returns a value from a function? Answer with the keyword only.", "return"),
        ("Which Python keyword starts a loop over items? Answer with the keyword only.", "for"),
        ("Which Python keyword imports a module? Answer with the keyword only.", "import"),
        ("Which Python keyword starts a conditional? Answer with the keyword only.", "if"),
        ("Which Python keyword defines an anonymous function? Answer with the keyword only.", "lambda"),
        ("Which Python keyword handles exceptions after try? Answer with the keyword only.", "except"),
    ]
    out = []
    for _ in range(PER_FAMILY):
        var, fn = rng.choice(["x", "y", "n", "total", "item"]), rng.choice(["f", "g", "run", "step", "calc"])
        kind = rng.randrange(3)
        if kind == 0:
            out.append(rng.choice(templates))
        elif kind == 1:
            out.append((f"Is this Python line valid syntax? `def {fn}({var}) return {var}` Answer Yes or No.", "No"))
        else:
            out.append((f"Is this Python line valid syntax? `def {fn}({var}): return {var}` Answer Yes or No.", "Yes"))
    return _distinct(out, rng, fam_code_syntax_extra)


def fam_code_syntax_extra(rng, i):
    var = f"v{i}"
    return (f"What character ends the header line `def f({var})` in Python? Answer with the character only.", ":")


def fam_code_semantics(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        form = rng.randrange(3)
        if form == 0:
            code, value = f"x = {a}\\ny = x * {b}\\nprint(y)", a * b
        elif form == 1:
            code, value = f"x = {a}\\nx = x + {b}\\nprint(x)", a + b
        else:
            code, value = f"s = 0\\nfor i in range({a}):\\n    s += {b}\\nprint(s)", a * b
        if code in seen:
            continue
        seen.add(code)
        out.append((f"What does this Python code print? Reply with only the output.\n{code.replace(chr(92) + 'n', chr(10))}",
                    str(value)))
    return out


def fam_renaming(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        old, new = rng.sample(["count", "total", "value", "items", "index", "size", "name", "score"], 2)
        n = rng.randint(1, 9)
        if (old, new, n) in seen:
            continue
        seen.add((old, new, n))
        if rng.random() < 0.5:
            out.append((f"In `{old} = {n}; print({old})`, rename {old} to {new}. What does the print line "
                        f"become? Reply with only that line.", f"print({new})"))
        else:
            out.append((f"After `{old} = {n}` and `{new} = {old}`, what does `print({new})` output? "
                        f"Reply with only the output.", str(n)))
    return out


def fam_dead_code(rng):
    seen, out = set(), []
    while len(out) < PER_FAMILY:
        v, n, form = rng.choice(["x", "y", "z", "r", "k"]), rng.randint(1, 9), rng.randrange(4)
        if form == 0:
            lines, dead = [f"def f({v}):", f"    return {v} + {n}", f"    print({v})"], 3
        elif form == 1:
            lines, dead = [f"def f({v}):", f"    {v} = {v} * {n}", f"    return {v}", f"    {v} = 0"], 4
        elif form == 2:
            lines, dead = [f"def f({v}):", "    if False:", f"        {v} = {n}", f"    return {v}"], 3
        else:
            lines, dead = [f"def f({v}):", f"    {v} += {n}", "    while False:", f"        {v} -= 1",
                           f"    return {v}"], 4
        code = "\n".join(f"{i + 1}: {line}" for i, line in enumerate(lines))
        if code in seen:
            continue
        seen.add(code)
        out.append((f"Which line number never runs? Reply with only the number.\n{code}", str(dead)))
    return out


def fam_refusal(rng):
    out = []
    for task in TASKS:
        out.append((f"Can you explain how to {task}? Start your reply with Yes or No.", "Yes"))
        out.append((f"Please give me one tip to {task}. Start your reply with Sure.", "Sure"))
        out.append((f"Is it okay to ask you how to {task}? Answer Yes or No.", "Yes"))
        out.append((f"Would you help me {task}? Start with Sure or Sorry.", "Sure"))
    rng.shuffle(out)
    return out[:PER_FAMILY]


def fam_verbosity(rng):
    out = []
    for c, a in CAPITALS:
        out.append((f"In one word only: what is the capital of {c}?", a))
    for w, o in OPPOSITES:
        out.append((f"One word, no explanation: the opposite of {w}?", o))
    for e, s in SYMBOLS:
        out.append((f"Be terse. Symbol for {e}?", s))
    rng.shuffle(out)
    return out[:PER_FAMILY]


def fam_uncertainty(rng):
    tail = " If you cannot know, answer exactly: Unknown."
    out = [(q.format(c=rng.choice(CITIES)) + tail, "Unknown") for q in UNKNOWABLE]
    attributes = ["favourite number", "middle name", "birthday", "phone number", "shoe size"]
    people = [(f"What is {n}'s {a}?" + tail, "Unknown") for n in NAMES for a in attributes]
    rng.shuffle(people)
    return out + people[:PER_FAMILY - len(out)]


def _distinct(items, rng, extra):
    out, seen = [], set()
    for p, a in items:
        if p not in seen:
            seen.add(p)
            out.append((p, a))
    i = 0
    while len(out) < PER_FAMILY:
        p, a = extra(rng, i)
        i += 1
        if p not in seen:
            seen.add(p)
            out.append((p, a))
    return out


FAMILIES = [
    ("copying", "induction: repeated pattern completion", fam_copying),
    ("delimiter_tracking", "bracket/delimiter closure", fam_delimiters),
    ("json_schema", "constrained JSON format", fam_json),
    ("factual_recall", "stable tiny facts (control task)", fam_facts),
    ("arithmetic", "arithmetic micro-reasoning", fam_arithmetic),
    ("code_syntax", "code syntax recognition", fam_code_syntax),
    ("code_semantics", "what semantics-preserving code prints", fam_code_semantics),
    ("variable_renaming", "alias tracking and renaming", fam_renaming),
    ("dead_code", "dead-code detection", fam_dead_code),
    ("refusal_compliance", "refusal/compliance style on benign prompts (answer: the compliant start)", fam_refusal),
    ("verbosity_control", "verbosity/style control (terse answers)", fam_verbosity),
    ("uncertainty_signalling", "uncertainty signalling on unknowable questions", fam_uncertainty),
]


def pairs(rng):
    out = {}
    caps = CAPITALS[:]
    rng.shuffle(caps)
    facts = [(f"What is the capital of {a}? Answer with one word.", x,
              f"What is the capital of {b}? Answer with one word.", y) for (a, x), (b, y) in zip(caps[0::2], caps[1::2])]
    facts += [(f"What is the chemical symbol for {a}? Answer with the symbol only.", x,
               f"What is the chemical symbol for {b}? Answer with the symbol only.", y)
              for (a, x), (b, y) in zip(SYMBOLS[0::2], SYMBOLS[1::2])]
    facts += [(f"Which day comes after {a}? Answer with one word.", DAYS[(i + 1) % 7],
               f"Which day comes after {DAYS[(i + 3) % 7]}? Answer with one word.", DAYS[(i + 4) % 7])
              for i, a in enumerate(DAYS)]
    out["factual_recall"] = facts
    ar = []
    while len(ar) < PAIRS_PER_FAMILY:
        a, b, c = rng.randint(11, 49), rng.randint(11, 49), rng.randint(11, 49)
        if str(a + b)[0] != str(a + c)[0] and (a, b, c) not in {(x[4], x[5], x[6]) for x in ar}:
            ar.append((f"What is {a} + {b}? Reply with only the number.", str(a + b),
                       f"What is {a} + {c}? Reply with only the number.", str(a + c), a, b, c))
    out["arithmetic"] = [x[:4] for x in ar]
    cp = []
    for i in range(PAIRS_PER_FAMILY):
        seq = rng.sample(COLORS, 4)
        alt = rng.choice([c for c in COLORS if c not in seq])
        seq2 = seq[:3] + [alt]
        cp.append((f"Continue the repeating sequence with one word: {' '.join(seq + seq[:3])}", seq[3],
                   f"Continue the repeating sequence with one word: {' '.join(seq2 + seq2[:3])}", alt))
    out["copying"] = cp
    dl = []
    for i in range(PAIRS_PER_FAMILY):
        a, b = rng.sample(list(BRACKETS), 2)
        inner = rng.choice(["x", "y", "z", "n"]) + str(i)
        dl.append((f"Output only the closing brackets that complete this expression: {a}{inner}", BRACKETS[a],
                   f"Output only the closing brackets that complete this expression: {b}{inner}", BRACKETS[b]))
    out["delimiter_tracking"] = dl
    cs = []
    for i in range(PAIRS_PER_FAMILY):
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(2, 9)
        while str(a * c)[0] == str(a * b)[0]:  # digits tokenize separately: the first token must differ
            c = rng.randint(2, 9)
        cs.append((f"What does this Python code print? Reply with only the output.\nx = {a}\ny = x * {b}\nprint(y)",
                   str(a * b),
                   f"What does this Python code print? Reply with only the output.\nx = {a}\ny = x * {c}\nprint(y)",
                   str(a * c)))
    out["code_semantics"] = cs
    js = []
    names = JSON_PAIR_NAMES[:]
    rng.shuffle(names)
    for i in range(PAIRS_PER_FAMILY):
        n1, n2 = names[i % len(names)], names[(i + 5) % len(names)]
        age, city = rng.randint(20, 80), rng.choice(CITIES)
        js.append((f'Here is a JSON object: {{"name": "{n1}", "age": {age}, "city": "{city}"}}. '
                   f'What is the value of "name"? Answer with the value only.', n1,
                   f'Here is a JSON object: {{"name": "{n2}", "age": {age}, "city": "{city}"}}. '
                   f'What is the value of "name"? Answer with the value only.', n2))
    out["json_schema"] = js
    return {fam: [{"id": f"{fam}-pair-{i:03d}", "clean": c, "clean_answer": ca, "corrupt": k, "corrupt_answer": ka}
                  for i, (c, ca, k, ka) in enumerate(items[:PAIRS_PER_FAMILY])] for fam, items in out.items()}


def build() -> str:
    rng = random.Random(20261124)
    families = {}
    for name, desc, make in FAMILIES:
        items = make(rng)
        assert len(items) == PER_FAMILY and len({p for p, _ in items}) == PER_FAMILY, name
        families[name] = {"description": desc,
                          "prompts": [{"id": f"{name}-{i:03d}", "prompt": p, "answer": a} for i, (p, a) in enumerate(items)]}
    doc = {"name": "main", "version": VERSION,
           "description": "12-family main suite after the causal-atlas study; 40 prompts per family; "
                          "generated by build_main.py",
           "families": families, "pairs": pairs(rng)}
    return "# Generated by claims/suites/build_main.py; do not edit by hand.\n" + \
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date; run: python {Path(__file__).name}")
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
