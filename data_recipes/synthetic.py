"""`synthetic`: generated clinical notes with exact gold spans, for demos, tests and pretraining.

Why generate: a model that only ever sees one template learns the template. These notes vary
what a model must not rely on and keep what it must learn, the content. Per note the generator
draws a note type (H&P/consult, SOAP progress, discharge summary, operative, radiology, ED,
letter, other), a header style (a third each: schema headers in upper case; other words or title
case, some unknown to the schema; no headers, as run-on dictation or bare paragraphs), a layout,
which optional sections appear and in what clinically plausible order, list forms (numbered,
dashed, one a line, comma-separated, prose) and, for each section, frames filled from
randomised vocabularies. How varied: 98 drug names with their doses, 24 route and 48 frequency
phrasings; 30 chronic conditions, 29 presenting problems (63 phrasings, 58 diagnoses), 20
operations in the history, 20 allergens; 105 exam findings over 11 body systems, 41 review-of-
systems symptoms, 18 labs and 11 study results; 11 operations and 8 imaging studies with their
findings; 126 schema and 146 other header words for 39 kinds of header; 13 opening and 33
detail frames for the history (69 slot words), 26 plan, 11 hospital-course, 28 social-history
and 11 family-history frames, most with inline alternatives; 61 vital-sign forms; ages as
"45-year-old", "45 y/o", "45 yo", "6-month-old"; temperatures, weights and heights in either
unit system. Measured on 1,000 notes (seed 0): about half of all sentences are distinct, notes
average about 240 words (2% over 500), and generating them takes about 0.4 s. The vocabularies
live in ``synthetic_vocab.json`` beside this module; the code here only draws from them.
``house="uk"`` writes the same notes as a British hospital would (28 drug names, every route,
frequency and vital-sign form its own: "paracetamol", "BD", "nocte", "Sats 97% on air"): a
style the default notes never show, for testing how a model carries over to another hospital.
``case="upper"`` or ``"lower"`` writes every note wholly in that case, as some exports and
dictation systems do; ``wrap=N`` breaks every line longer than N characters at its last blank
before the Nth, as notes typed into fixed-width screens are (spans and values unchanged: each
character keeps its place).

Contract: ``read(path=None, *, n, seed, house, case, wrap)`` yields ``n`` notes; note ``i``
depends only on ``(seed, i, house, case, wrap)``, so a smaller ``n`` gives a prefix. Every
section and entity field in the text has a gold span (source "gold") following the silver
labelers' conventions: a section span runs from the first to the last non-space character of its
content, header words never inside; entity spans carry ``attrs["value"]`` from
:mod:`chartlnn.normalize` and the schema unit, the parts of one drug share ``attrs["group"]``,
drugs and allergens carry ``attrs["negated"]``.
``meta["header_spans"]`` lists the ``[start, end]`` of every header (words and colon);
``meta["header_style"]`` and ``meta["layout"]`` say how the note was written. The text holds no
realistic identifiers: doctors are "Dr. X", times are relative ("3 years ago").
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib.resources import files
from typing import Any

from chartlnn import normalize as norm
from chartlnn.notes import GOLD, Note, Span
from data_recipes._common import RecipeError

UNITS = {"age": "years", "bp_systolic": "mmHg", "bp_diastolic": "mmHg", "heart_rate": "/min",
         "resp_rate": "/min", "temperature": "Cel", "spo2": "%", "weight": "kg", "height": "cm"}
"""The default schema's unit per entity field (a test checks they agree)."""


# --- vocabularies: synthetic_vocab.json, beside this module ------------------------------------

# A package resource, not a path beside __file__, so that an installed wheel finds it too.
_VOCAB = json.loads(files("data_recipes").joinpath("synthetic_vocab.json").read_text(encoding="utf-8"))

# name: (doses, dose unit, route kinds, the first the usual one; frequency kinds)
DRUGS = {name: (d["doses"], d["unit"], d["routes"], d["frequencies"]) for name, d in _VOCAB["drugs"].items()}
_ROUTES, _FREQS = _VOCAB["routes"], _VOCAB["frequencies"]  # kind: its phrasings
# (condition, abbreviation or "", drugs that treat it)
CONDITIONS = [(name, c.get("abbr", ""), c["drugs"]) for name, c in _VOCAB["conditions"].items()]
# (complaints, diagnoses, treating drugs, also seen in children)
CASES = [(c["complaints"], c["diagnoses"], c["drugs"], c["pediatric"]) for c in _VOCAB["cases"]]
SURGERIES, ALLERGENS, REACTIONS, SYMPTOMS = (_VOCAB[k] for k in ("surgeries", "allergens", "reactions", "symptoms"))
# (body system's sub-header variants, normal findings, abnormal findings); a finding joins 2-4 of them
EXAM = [(e["names"], e["normal"], e["abnormal"]) for e in _VOCAB["exam"]]
ROS = list(_VOCAB["ros"].items())  # (system, symptoms)
LABS = [(name, float(lab["low"]), float(lab["high"]), lab["decimals"]) for name, lab in _VOCAB["labs"].items()]
STUDIES, FAMILY, FAMILY_CONDITIONS = _VOCAB["studies"], _VOCAB["family"], _VOCAB["family_conditions"]
SOCIAL = list(_VOCAB["social"].values())  # one sentence from each group, tobacco always
PLANS, PLAN_SLOTS = _VOCAB["plans"], _VOCAB["plan_slots"]
_INTROS, _FOLLOW_UPS, _DETAILS = _VOCAB["hpi_intros"], _VOCAB["hpi_follow_ups"], _VOCAB["hpi_details"]
_HPI_SLOTS = _VOCAB["hpi_slots"]


def _vital_forms(forms: dict) -> dict[str, tuple]:
    """vital: its forms (run of abbreviations, prose, one a line)."""
    return {key: (f["run"], f["prose"], f["lines"]) for key, f in forms.items()}


_VITAL_FORMS = _vital_forms(_VOCAB["vital_forms"])


def _house(own: dict) -> dict:
    """A house style's tables: the style's own drug names, routes, frequencies and vital-sign
    forms, the default ones where it has none."""
    return {"drug_names": own.get("drug_names", {}), "routes": own.get("routes", _ROUTES),
            "frequencies": own.get("frequencies", _FREQS),
            "vital_forms": _vital_forms(own["vital_forms"]) if "vital_forms" in own else _VITAL_FORMS}


# A house style: how one hospital writes drug names, routes, frequencies and vital signs its own
# way ("uk": paracetamol, BD, nocte, "Sats 97% on air"); "us", the vocabularies above, is the default.
_HOUSE_STYLES = {"us": _house({})} | {name: _house(own) for name, own in _VOCAB["house_styles"].items()}
HOUSE_STYLES = tuple(_HOUSE_STYLES)
_COURSE = _VOCAB["hospital_course"]
# (operation, indication, steps ("open" or "scope"), key step, finding, specimen or None)
OPERATIONS = [(name, op["indication"], op["steps"], op["step"], op["finding"], op["specimen"])
              for name, op in _VOCAB["operations"].items()]
_STEPS, _INDICATIONS = _VOCAB["operative_steps"], _VOCAB["operative_indications"]
# (study, technique, complaint, normal findings, abnormal finding, its impression)
IMAGING = [(study, i["technique"], i["complaint"], i["normal"], i["finding"], i["impression"])
           for study, i in _VOCAB["imaging"].items()]
_RADIOLOGY_NORMALS = _VOCAB["radiology_normals"]
# header kind: (the section it opens, None for a known header that is no chart field; schema synonyms; other words)
HEADERS = {kind: (h["section"], h["schema"], h["other"]) for kind, h in _VOCAB["headers"].items()}
_TITLES = _VOCAB["note_titles"]  # note type: title lines (without a colon, so no headers)


# --- fragments: text with entities inside, laid out later ----------------------------------------

@dataclass
class _Ent:
    """Entity text inside a fragment list; it becomes a gold span once the note is laid out."""

    text: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)


Frags = list  # str and _Ent, in text order
_SLOT = re.compile(r"\{(\w+)\}")
_CHOICE = re.compile(r"\[([^\[\]]*;[^\[\]]*)\]")


@dataclass
class _Ctx:
    """What the writers of one note share: its random stream, the patient, the note's style."""

    r: random.Random
    male: bool
    age: int
    months: bool
    conditions: list[tuple]
    surgeries: list[str]
    allergies: list[str]
    headed: bool = True
    lists: bool = True
    thorough: bool = False  # a long dictation: every section, long history, every system, more labs
    case: tuple = ()
    groups: int = 0
    house: dict = field(default_factory=lambda: _HOUSE_STYLES["us"])  # its tables, as _house gives them

    def pick(self, seq: list) -> Any:
        return self.r.choice(seq)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def group(self) -> int:
        self.groups += 1
        return self.groups - 1

    def fill(self, template: str, **slots: Any) -> Frags:
        """``template`` with each "[a;b]" replaced by one of its choices and each ``{slot}`` by text
        or fragments; {he}, {He}, {his}, {His}, {him} and {n} (a small number) are always there."""
        template = _CHOICE.sub(lambda m: self.pick(m.group(1).split(";")), template)
        he, his = ("he", "his") if self.male else ("she", "her")
        slots = {"he": he, "his": his, "him": "him" if self.male else "her", "His": his.title(),
                 "He": self.pick([he.title()] * 3 + ["The patient", "Pt"]), "n": self.r.randint(2, 12), **slots}
        out: Frags = []
        for i, piece in enumerate(_SLOT.split(template)):
            if i % 2:
                value = slots[piece]
                out += value if isinstance(value, list) else [value if isinstance(value, _Ent) else str(value)]
            elif piece:
                out.append(piece[1:] if piece[0] == "." and _text(out).endswith(".") else piece)  # "p.r.n.."
        return out


def _text(frags: Frags) -> str:
    return "".join(f.text if isinstance(f, _Ent) else f for f in frags)


def _cap(frags: Frags) -> Frags:
    """The fragments with their first letter upper-cased (a sentence start)."""
    for i, first in enumerate(frags):
        text = _text([first])
        if text:
            upper = text[:1].upper() + text[1:]
            return [*frags[:i], _Ent(upper, first.label, first.attrs) if isinstance(first, _Ent) else upper,
                    *frags[i + 1:]]
    return frags


def _list_form(ctx: _Ctx) -> str:
    return ctx.pick(["numbered", "dashed", "lines", "comma", "comma"]) if ctx.lists else "comma"


def _series(ctx: _Ctx, items: list, form: str = "comma") -> Frags:
    """Items (strings or fragments) as "a, b, and c", or one a line: numbered, dashed or bare."""
    items = [item if isinstance(item, list) else [item] for item in items]
    out: Frags = []
    if form == "comma" or not ctx.lists:
        for i, item in enumerate(items):
            last = ", and " if len(items) > 2 and ctx.chance(0.5) else " and "
            out += ([last] if i and i == len(items) - 1 else [", "] if i else []) + item
        return out
    stop = ctx.pick(["", "."])
    for i, item in enumerate(items):
        mark = {"numbered": f"{i + 1}. ", "dashed": "- ", "lines": ""}[form]
        out += (["\n"] if i else []) + [mark] + _cap(item) + [stop] * (not _text(item).endswith("."))
    return out


def _sentences(ctx: _Ctx, sents: list[Frags]) -> Frags:
    """Sentences joined by a space (or, where lists are allowed, sometimes one a line)."""
    joiner = "\n" if ctx.lists and ctx.chance(0.15) else " "
    return [frag for i, s in enumerate(sents) for frag in ([joiner] if i else []) + _cap(s)]


# --- entities --------------------------------------------------------------------------------

def _ent(text: str, label: str, **attrs: Any) -> _Ent:
    return _Ent(text, label, attrs)


def _age_sex(ctx: _Ctx) -> tuple[str, Frags]:
    """The patient's age and sex as written after "a"/"an" ("45-year-old man", "45 y/o F",
    "6-month-old girl"), and that article."""
    n = ctx.age
    article = "an" if n in (8, 11, 18) or 80 <= n < 90 else "a"
    if ctx.months or n < 18:
        age = f"{n}-month-old" if ctx.months else f"{n}-year-old"
        words = ["boy", "male", "male infant"] if ctx.male else ["girl", "female", "female infant"]
    else:
        age = ctx.pick([f"{n}-year-old"] * 4 + [f"{n} y/o", f"{n} yo", f"{n} year old", f"{n}-yr-old"])
        words = ["male", "man", "gentleman"] if ctx.male else ["female", "woman", "lady"]
        if age[-1] == "o" and ctx.chance(0.5):
            return article, [_ent(age, "age"), " ", _ent("M" if ctx.male else "F", "sex")]
    if ctx.chance(0.08):
        return article, [_ent(age, "age")]
    sex, *rest = ctx.pick(words if ctx.months else words[:2]).split()
    adjective = "" if n < 18 or ctx.chance(0.7) else ctx.pick(
        ["right-handed ", "previously healthy ", "pleasant ", "obese ", "retired "])
    return article, [_ent(age, "age"), " " + adjective, _ent(sex, "sex"), "".join(" " + w for w in rest)]


def _temperature(ctx: _Ctx) -> str:
    celsius = round(min(39.8, max(35.8, ctx.r.gauss(36.9, 0.6))), 1)
    if ctx.chance(0.5):
        f = 98.6 if ctx.chance(0.3) else round(celsius * 9 / 5 + 32, 1)
        return ctx.pick([f"{f} F", f"{f}°F", f"{f} degrees Fahrenheit", f"{f}", f"{f} F"])
    return ctx.pick([f"{celsius} C", f"{celsius} degrees Celsius", f"{celsius}°C", f"{celsius:.0f} C",
                     f"{celsius}"])


def _weight(ctx: _Ctx) -> str:
    kg, lb = ctx.r.randint(45, 125), ctx.r.randint(99, 275)
    return ctx.pick([f"{kg} kg", f"{kg + ctx.r.randint(0, 9) / 10} kg", f"{kg} kilograms", f"{lb} lbs",
                     f"{lb} pounds", f"{lb} lb"])


def _height(ctx: _Ctx) -> str:
    inches = ctx.r.randint(60, 76) if ctx.male else ctx.r.randint(56, 70)
    feet, rest = divmod(inches, 12)
    return f"{feet} feet" if not rest else ctx.pick(
        [f"{round(inches * 2.54)} cm", f"{inches * 0.0254:.2f} m", f"{feet} feet {rest} inches", f"{feet}'{rest}\"",
         f"{feet} ft {rest} inches", f"{feet}' {rest}\""])


_VITAL_ODDS = {"bp": 0.92, "hr": 0.9, "rr": 0.7, "t": 0.8, "o2": 0.7, "wt": 0.35, "ht": 0.15}


def _vitals(ctx: _Ctx) -> Frags:
    """Vital signs as a run of abbreviations, in prose or one a line; each number (with its unit
    for temperature, weight and height) is an entity."""
    r, systolic = ctx.r, ctx.r.randint(96, 178)
    values = {"bp": {"s": _ent(str(systolic), "bp_systolic"),
                     "d": _ent(str(r.randint(54, min(systolic - 30, 108))), "bp_diastolic")},
              "hr": {"v": _ent(str(r.randint(52, 126)), "heart_rate")},
              "rr": {"v": _ent(str(r.randint(12, 28)), "resp_rate")},
              "t": {"v": _ent(_temperature(ctx), "temperature")},
              "o2": {"v": _ent(str(r.randint(88, 100)), "spo2"), "L": r.randint(2, 4)},
              "wt": {"v": _ent(_weight(ctx), "weight")}, "ht": {"v": _ent(_height(ctx), "height")}}
    names = [k for k in values if ctx.chance(_VITAL_ODDS[k])]
    names += [k for k in ("bp", "hr") if len(names) < 2 and k not in names]  # "P 88" counts only in a run
    if ctx.chance(0.5):
        r.shuffle(names)
    style = ctx.pick([0, 1, 1] + [2] * ctx.lists)
    items = [ctx.fill(ctx.pick(ctx.house["vital_forms"][k][style]), **values[k]) for k in names]
    if style == 1:
        return _cap([ctx.pick(["", "", "on arrival, ", "vitals showed ", "today "])] + _series(ctx, items) + ["."])
    sep = "\n" if style == 2 else ctx.pick([", ", ", ", "; ", "  "])
    stop = ["."] * (style == 0 and ctx.chance(0.5))
    return [f for i, item in enumerate(items) for f in ([sep] if i else []) + item] + stop


def _med(ctx: _Ctx, name: str, *, sig: float = 0.85, route: str = "", negated: bool = False) -> Frags:
    """A drug and, each with odds ``sig``, its dose, route and frequency, sharing one group:
    "lisinopril 10 mg p.o. daily", "albuterol 2 puffs inhaled q.4-6h. p.r.n."."""
    doses, unit, routes, freqs = DRUGS[name]
    group = ctx.group()
    out: Frags = [_ent(ctx.house["drug_names"].get(name, name), "medication", group=group, negated=negated)]
    if negated:
        return out
    if doses and ctx.chance(sig):
        amount = ctx.pick(doses)
        unit = unit.rstrip("s") if amount == "1" else unit
        out += [" ", _ent(f"{amount}{unit}" if unit == "mg" and ctx.chance(0.08) else f"{amount} {unit}",
                          "medication_dose", group=group)] + [" 1 tablet"] * (routes == ["oral"] and ctx.chance(0.05))
    kind = route or routes[0]
    if ctx.chance(sig * (0.5 if kind == "oral" else 1) + (0.15 if route else 0)):
        out += [" ", _ent(ctx.pick(ctx.house["routes"][kind]), "medication_route", group=group)]
    if ctx.chance(sig):
        out += [" ", _ent(ctx.pick(ctx.house["frequencies"][ctx.pick(freqs)]), "medication_frequency", group=group)]
    return out


def _home_drugs(ctx: _Ctx) -> list[str]:
    """One drug per treated condition (now and then two), sometimes an over-the-counter one."""
    names = [ctx.pick(drugs) for _, _, drugs in ctx.conditions if drugs for _ in range(1 + ctx.chance(0.2))]
    if ctx.chance(0.3):
        names.append(ctx.pick(["acetaminophen", "ibuprofen", "docusate", "loratadine", "Tylenol", "senna"]))
    return list(dict.fromkeys(names))


def _medications(ctx: _Ctx, names: list[str] | None = None, lead: str = "") -> Frags:
    """A drug list (numbered, dashed, one a line, comma-separated or in a sentence), or none;
    now and then a drug the patient does not take (a negated mention)."""
    names = _home_drugs(ctx) if names is None else names
    if not names:
        return ctx.fill(ctx.pick(["None.", "No regular medications."] * ctx.headed
                                 + ["{He} takes no medications."]))
    items, form = [_med(ctx, name) for name in names], _list_form(ctx)
    out = _series(ctx, items, form) if form != "comma" else _cap(ctx.fill(lead or ctx.pick(
        ["{He} takes {x}.", "Current medications include {x}.", "{He} is on {x}.", "Home medications are {x}.",
         "Meds include {x}."] + ["{x}."] * ctx.headed), x=_series(ctx, items)))
    if ctx.chance(0.12):
        other = ctx.pick([d for d in ("aspirin", "warfarin", "metformin", "ibuprofen", "prednisone")
                          if d not in names])
        out += [" "] + ctx.fill(ctx.pick(["{He} is not taking {m}.", "No longer taking {m}.", "Not on {m}.",
                                          "{He} has not been taking {his} {m}.", "{He} declined {m}."]),
                                m=_med(ctx, other, negated=True))
    return out


def _allergies(ctx: _Ctx) -> Frags:
    """No known allergies (the phrase is the allergen) or substances, often with their reactions;
    now and then a denied one."""
    items = [_ent(a, "allergen", negated=False) for a in ctx.allergies]
    if not items:
        phrase = ctx.pick(["NKDA", "No known drug allergies", "No known allergies", "NKA",
                           "no known drug allergies"] + ["None"] * ctx.headed)
        out = ctx.fill(ctx.pick(["{a}."] * 2 + ["{He} has {a}.", "{He} reports {a}."] * phrase.islower()),
                       a=[_ent(phrase, "allergen", negated=False)])
    elif ctx.chance(0.5):
        form = _list_form(ctx)
        reactions = [ctx.fill("{a}[ ({x}); - {x}; causes {x};, which causes {x}]", a=item, x=ctx.pick(REACTIONS))
                     for item in items]
        out = _cap(_series(ctx, reactions, form)) + ["."] * (form == "comma")
    else:
        out = ctx.fill(ctx.pick(["{x}.", "Allergic to {x}.", "{He} is allergic to {x}.", "{x}, reaction unknown."]),
                       x=_series(ctx, items))
    if ctx.chance(0.08):
        denied = ctx.pick([a for a in ("latex", "shellfish", "iodinated contrast", "eggs")
                           if a not in ctx.allergies])
        out += [" "] + ctx.fill("[Denies;No] allergy to {a}.", a=_ent(denied, "allergen", negated=True))
    return _cap(out)


# --- sections ----------------------------------------------------------------------------------

def _duration(ctx: _Ctx) -> str:
    n = ctx.r.randint(2, 10)
    return ctx.pick([f"{n} days", f"{n} weeks", f"{n} hours", "1 day", "several days", "1 week", f"{n} months"])


def _intro(ctx: _Ctx, templates: list[str], complaint: str) -> Frags:
    """The sentence that introduces the patient, with the note's one mention of age and sex."""
    article, who = _age_sex(ctx)
    history = [abbr if abbr and ctx.chance(0.6) else name for name, abbr, _ in ctx.conditions[:3]]
    templates = templates if history else [t for t in templates if "{hx}" not in t]
    return ctx.fill(ctx.pick(templates), a=article, As=[article.title() + " "] + who, c=complaint,
                    d=_duration(ctx), hx=_text(_series(ctx, history)), **{"as": who})


def _hpi(ctx: _Ctx, follow_up: bool = False) -> Frags:
    complaint = ctx.pick(ctx.case[0])
    sents = [_intro(ctx, _FOLLOW_UPS if follow_up else _INTROS, complaint)]
    symptoms = [s for s in SYMPTOMS if s not in complaint]
    for template in ctx.r.sample(_DETAILS, ctx.r.randint(10, 18) if ctx.thorough else ctx.r.randint(3, 9)):
        slots = {key: ctx.pick(words) for key, words in _HPI_SLOTS.items()}
        slots.update(zip(("s1", "s2", "s3"), ctx.r.sample(symptoms, 3)), k=ctx.r.randint(3, 9), d=_duration(ctx))
        if "{med}" in template:
            slots["med"] = _med(ctx, ctx.pick(ctx.case[2]), sig=0.6)
        sents.append(ctx.fill(template, **slots))
    return _sentences(ctx, sents)


def _chief_complaint(ctx: _Ctx) -> Frags:
    return _said(ctx, ["{c}.", "{c}", "{c} x {d}.", "{c} for {d}.", "C/o {c}."],
                 ["[Pt presents with;Seen today for;Here for;The patient comes in complaining of] {c}."],
                 c=ctx.pick(ctx.case[0]), d=_duration(ctx))


def _listing(ctx: _Ctx, items: list[str], headed: list[str], prose: list[str], none: list[str]) -> Frags:
    """A history list: one item a line, after a header as is, or in a sentence; or a none-phrase."""
    form = _list_form(ctx)
    if not items or form != "comma":
        return _series(ctx, items, form) if items else _cap(ctx.fill(ctx.pick(none)))
    return _cap(ctx.fill(ctx.pick(headed if ctx.headed else prose), x=_series(ctx, items)))


def _pmh(ctx: _Ctx) -> Frags:
    return _listing(ctx, [abbr if abbr and ctx.chance(0.4) else name for name, abbr, _ in ctx.conditions],
                    ["{x}.", "Significant for {x}.", "Notable for {x}.", "{x}"],
                    ["Past medical history is significant for {x}.", "PMH includes {x}.", "H/o {x}.",
                     "{He} has a history of {x}.", "Medical history is notable for {x}."],
                    ["Noncontributory.", "No significant past medical history.", "Otherwise healthy."])


def _psh(ctx: _Ctx) -> Frags:
    when = [f"{ctx.r.randint(2, 30)} years ago", "in the remote past", "as a child", "last year"]
    items = [_text(ctx.fill("[s/p {s};status post {s};{s} {w};{s}]", s=s, w=ctx.pick(when))) for s in ctx.surgeries]
    return _listing(ctx, items, ["{x}.", "{x}"], ["[Surgical history includes;Prior surgeries include;PSH is "
                                                  "significant for] {x}."],
                    ["None."] * ctx.headed + ["No prior surgeries.", "No previous operations."])


def _social(ctx: _Ctx) -> Frags:
    sents = [ctx.fill(ctx.pick(group), n2=ctx.r.randint(10, 60), k=ctx.r.randint(1, 5))
             for i, group in enumerate(SOCIAL) if i == 0 or ctx.chance(0.55)]
    if not ctx.headed and ctx.chance(0.4):
        sents[0] = ["Socially, ", _text(sents[0])[:1].lower() + _text(sents[0])[1:]]
    return _sentences(ctx, sents)


def _family(ctx: _Ctx) -> Frags:
    return _sentences(ctx, [ctx.fill(t, c=ctx.pick(FAMILY_CONDITIONS), n=ctx.r.randint(48, 88))
                            for t in ctx.r.sample(FAMILY, ctx.r.randint(1, 3))])


def _ros(ctx: _Ctx) -> Frags:
    """A summary line, a denial in prose, or body systems under sub-headers (never section headers)."""
    style = "systems" if ctx.thorough else ctx.pick(["short", "systems", "systems", "prose"])
    if style == "short":
        return ctx.fill("[Negative except as noted in the HPI;A 10-point review of systems is otherwise "
                        "negative;All other systems reviewed and negative;Otherwise negative;As per HPI, otherwise "
                        "negative].")
    rows = [row for row in ROS if ctx.thorough or ctx.chance(0.7)] or ROS[:3]
    if style == "prose":
        return ctx.fill("{He} denies {x}. [All other systems negative;Otherwise negative;No other complaints].",
                        x=_series(ctx, [ctx.pick(symptoms) for _, symptoms in rows[:6]]))
    upper, out = ctx.chance(0.6), []
    for name, symptoms in rows:
        found = ", ".join(ctx.r.sample(symptoms, ctx.r.randint(2, 3)))
        name = name if upper or len(name) < 4 else name.title()
        out += ["\n" if ctx.lists else " "] * bool(out) + [name + ": "]
        out += ctx.fill("[Negative for;Denies;No;Negative for] {x}.", x=found) if ctx.chance(0.85) else [
            f"Positive for {found.split(',')[0]}."]
    return out


def _exam(ctx: _Ctx) -> Frags:
    """Body systems, each with two to four findings (now and then an abnormal one first), under
    sub-headers one a line or in a paragraph, or run into prose ("Lungs clear ...")."""
    style, parts = ctx.pick(["lines", "inline", "prose"] if ctx.lists else ["inline", "prose"]), []
    for names, normal, abnormal in EXAM:
        if not (names[0].startswith(("GEN", "HEENT", "LUNGS", "HEART", "ABD")) or ctx.thorough or ctx.chance(0.6)):
            continue
        phrases = [ctx.pick(abnormal)] * ctx.chance(0.25)
        phrases += ctx.r.sample(normal, ctx.r.randint(2, 4))
        joiner = ctx.pick([", "] * 6 + ["; ", "; ", ". "])
        finding = joiner.join(p[0].upper() + p[1:] if joiner == ". " else p for p in phrases) + "."
        name = ctx.pick(names)
        if style == "prose":
            parts.append(f"{name if len(name) <= 5 and name != 'NECK' else name.capitalize()} {finding}")
        else:
            title = ctx.chance(0.4) and name not in ("HEENT", "GI", "CV")
            parts.append(f"{name.title() if title else name}: {finding[0].upper()}{finding[1:]}")
    return ["\n".join(parts) if style == "lines" else " ".join(parts)]


def _results(ctx: _Ctx) -> Frags:
    labs = [f"{name} {round(ctx.r.uniform(low, high), places) if places else ctx.r.randint(int(low), int(high))}"
            for name, low, high, places in ctx.r.sample(LABS, ctx.r.randint(3, 16 if ctx.thorough else 9))]
    return _sentences(ctx, [ctx.fill("[Labs showed ;;Notable for ;CBC and BMP showed ;Labs are significant for ;"
                                     "Laboratory studies revealed ]{x}.", x=_series(ctx, labs))]
                      + [ctx.fill(s) for s in ctx.r.sample(STUDIES, ctx.r.randint(0, 3))])


def _assessment(ctx: _Ctx, main: str = "") -> Frags:
    status = ["stable", "well controlled", "uncontrolled"]
    items = [main or ctx.pick(ctx.case[1])]
    items += [f"{abbr or name}, {ctx.pick(status)}" for name, abbr, _ in ctx.conditions[:2] if ctx.chance(0.5)]
    form = _list_form(ctx) if len(items) > 1 else "comma"
    if form != "comma":
        return _series(ctx, items, form)
    if ctx.chance(0.35) and not main:
        other = ctx.pick([dx for dx in ctx.case[1] if dx != items[0]])
        items[0] += _text(ctx.fill(", [rule out;versus;differential includes] {y}", y=other))
    return _said(ctx, ["{x}.", "{x}"], ["Impression is {x}.", "My impression is {x}.", "Assessment is {x}.",
                                        "This is most consistent with {x}.", "The patient likely has {x}."],
                 x=_series(ctx, items))


def _plan(ctx: _Ctx) -> Frags:
    slots = {key: ctx.pick(words) for key, words in PLAN_SLOTS.items()}
    items = [ctx.fill(p.rstrip("."), Service=slots["service"].capitalize(), **slots)
             for p in ctx.r.sample(PLANS, ctx.r.randint(2, 9 if ctx.thorough else 6))]
    if ctx.chance(0.75):
        lead = "" if ctx.headed or ctx.chance(0.5) else ctx.pick(["We will ", "Plan is to ", "Will "])
        items.insert(0, ctx.fill(lead + "[start;begin;continue;give] {m}[; now; for {k} days]",
                                 m=_med(ctx, ctx.pick(ctx.case[2])), k=ctx.r.randint(3, 14)))
    form = _list_form(ctx)
    return _series(ctx, items, form) if form != "comma" else _sentences(ctx, [ctx.fill("{x}.", x=i) for i in items])


def _course(ctx: _Ctx, ed: bool = False) -> Frags:
    """Hospital or ED course: what was given (IV drugs with their sigs) and how the patient did."""
    iv = ["ceftriaxone", "vancomycin", "Zosyn", "morphine", "ondansetron", "pantoprazole", "lorazepam"]
    given = _series(ctx, [_med(ctx, name, route="intravenous") for name in ctx.r.sample(iv, ctx.r.randint(1, 2))])
    if ed:
        return _sentences(ctx, [
            ctx.fill("[In the ED, {he} received;{He} was given;{He} was treated with] {m}.", m=given),
            ctx.fill("[Labs and imaging as above;On reassessment, {he} felt better;Case was discussed with Dr. X, "
                     "who agreed with the plan;{He} remained hemodynamically stable].")])
    sents = [ctx.fill("[The patient;{He}] was admitted to [the medical floor;telemetry;the ICU;the hospitalist "
                      "service] [for;with] {x}.", x=ctx.pick(ctx.case[1])),
             ctx.fill("[{He} was started on;Treatment included] {m}.", m=given)]
    count = ctx.r.randint(5, 11) if ctx.thorough else ctx.r.randint(2, 5)
    sents += [ctx.fill(t) for t in ctx.r.sample(_COURSE, count)]
    if ctx.chance(0.4):
        oral = ctx.pick(["amoxicillin", "levofloxacin", "cephalexin", "doxycycline", "oxycodone"])
        sents.append(ctx.fill("{He} was transitioned to oral {m} before discharge.", m=_med(ctx, oral)))
    sents.append(ctx.fill("{He} was discharged [home in stable condition;to a rehab facility]."))
    return _sentences(ctx, sents)


# --- notes: which blocks, in which order ---------------------------------------------------------

Block = tuple  # (header kind or None, section label or None, fragments)
Writer = Callable[[_Ctx], Frags]


def _block(kind: str | None, frags: Frags) -> Block:
    return kind, HEADERS[kind][0] if kind else None, frags


def _opt(ctx: _Ctx, odds: float, kind: str, writer: Writer) -> list[Block]:
    """The block with the given odds, always in a thorough note (the writer runs only for a
    block that is kept)."""
    return [_block(kind, writer(ctx))] if ctx.thorough or ctx.chance(odds) else []


def _said(ctx: _Ctx, headed: list[str], prose: list[str], **slots: Any) -> Frags:
    """A short statement: terse after a header ("None."), a sentence without one."""
    return _cap(ctx.fill(ctx.pick(headed if ctx.headed else prose), **slots))


def _assessment_and_plan(ctx: _Ctx) -> list[Block]:
    """Assessment then plan; with headers, now and then both under one "Assessment and plan:"
    header, which (as the schema says) makes the whole of it the assessment section."""
    if ctx.headed and ctx.chance(0.2):
        return [_block("assessment_plan", _assessment(ctx) + [ctx.pick([" ", "\n"])] + _plan(ctx))]
    return [_block("assessment", _assessment(ctx)), _block("plan", _plan(ctx))]


def _histories(ctx: _Ctx, odds: dict[str, float]) -> list[Block]:
    """Past medical and surgical history, medications, allergies, social and family history, in
    the usual order or with a neighbouring pair or two swapped."""
    writers = {"pmh": _pmh, "psh": _psh, "medications": _medications, "allergies": _allergies, "social": _social,
               "family": _family}
    kinds = [kind for kind in writers if ctx.thorough or ctx.chance(odds.get(kind, 0.95))]
    for _ in range(ctx.r.randint(0, 2) if len(kinds) > 1 else 0):
        i = ctx.r.randrange(len(kinds) - 1)
        kinds[i:i + 2] = kinds[i + 1], kinds[i]
    return [_block(kind, writers[kind](ctx)) for kind in kinds]


def _examination(ctx: _Ctx, vitals: float = 0.9, results: float = 0.5) -> list[Block]:
    exam = [_block("exam", _exam(ctx))]
    return _opt(ctx, vitals, "vitals", _vitals) + exam + _opt(ctx, results, "results", _results)


def _hp_consult(ctx: _Ctx) -> list[Block]:
    ros, early = _opt(ctx, 0.75, "ros", _ros), ctx.chance(0.3)
    return (_opt(ctx, 0.85, "chief_complaint", _chief_complaint) + [_block("hpi", _hpi(ctx))] + ros * early
            + _histories(ctx, {"psh": 0.7, "family": 0.7, "social": 0.85}) + ros * (not early)
            + _examination(ctx) + _assessment_and_plan(ctx))


def _progress(ctx: _Ctx) -> list[Block]:
    return (_opt(ctx, 0.3, "chief_complaint", _chief_complaint) + [_block("subjective", _hpi(ctx, follow_up=True))]
            + _opt(ctx, 0.6, "medications", _medications) + _opt(ctx, 0.3, "allergies", _allergies)
            + _opt(ctx, 0.4, "ros", _ros) + _examination(ctx, 0.85, 0.4) + _assessment_and_plan(ctx))


def _emergency(ctx: _Ctx) -> list[Block]:
    return (_opt(ctx, 0.9, "chief_complaint", _chief_complaint) + [_block("hpi", _hpi(ctx))]
            + _histories(ctx, {"psh": 0.4, "family": 0.3, "social": 0.6, "medications": 0.8})
            + _opt(ctx, 0.6, "ros", _ros) + _examination(ctx, 0.97, 0.8)
            + _opt(ctx, 0.8, "ed_course", lambda c: _course(c, ed=True)) + _assessment_and_plan(ctx))


def _discharge(ctx: _Ctx) -> list[Block]:
    main = ctx.pick(ctx.case[1])
    drugs = list(dict.fromkeys(_home_drugs(ctx) + ctx.case[2][:ctx.r.randint(0, 1)]))
    lead = "" if ctx.headed else "[{He} is discharged on;Discharge medications include;{He} will go home on] {x}."
    admission = _said(ctx, ["{x}.", "{x}"], ["[Admitting diagnosis was;{He} was admitted for] {x}."], x=main)
    final = _assessment(ctx, main) if ctx.headed else _said(ctx, [], ["[Discharge;Final] diagnosis [is;was] {x}."],
                                                             x=main)
    return ([_block("admission_diagnosis", admission), _block("discharge_diagnosis", final)]
            + _opt(ctx, 0.8, "hpi", _hpi) + [_block("hospital_course", _course(ctx))]
            + (_examination(ctx, 0.3, 0.4) if ctx.chance(0.3) else [])
            + [_block("discharge_medications", _medications(ctx, drugs, lead))]
            + _opt(ctx, 0.8, "allergies", _allergies)
            + _opt(ctx, 0.5, "condition", lambda c: _said(c, ["Stable.", "Good.", "Fair."], [
                "Condition at discharge was stable.", "{He} left in good condition."]))
            + [_block("plan", _plan(ctx))])


def _after_surgery(ctx: _Ctx) -> Frags:
    pain = _med(ctx, ctx.pick(["oxycodone", "acetaminophen", "Tylenol"]))
    return _sentences(ctx, [
        ctx.fill("[Discharge home when criteria are met;Admit for overnight observation;Discharge home today]."),
        ctx.fill("[Pain control with;Prescribed] {m}.", m=pain),
        ctx.fill("Follow up [in clinic in 2 weeks;with Dr. X in {n} days;for wound check in 1 week].")])


def _operative(ctx: _Ctx) -> list[Block]:
    name, indication, kind, step, finding, specimen = ctx.pick(OPERATIONS)
    sent = "No specimens were sent." if specimen is None else f"The {specimen} was sent to pathology."
    said = {"surgeon": (["Dr. X.", "Dr. Y"], ["The surgeon was Dr. X."]),
            "anesthesia": (["General endotracheal.", "General.", "Monitored anesthesia care.", "Spinal.",
                            "LMA general."], ["Anesthesia was general.", "It was done under sedation."]),
            "blood_loss": (["Minimal.", "{ml} mL.", "Less than 10 mL."], ["Estimated blood loss was minimal."]),
            "complications": (["None.", "None apparent."], ["There were no complications."]),
            "specimens": (["None."] if specimen is None else [f"{specimen.capitalize()} to pathology."], [sent])}
    side = {key: _opt(ctx, 0.75, key, lambda c, key=key: _said(c, *said[key], ml=c.r.randint(2, 30) * 5))
            for key in said}
    detail = [ctx.fill(s, step=step) for s in _STEPS[kind] if s == "{step}." or ctx.chance(0.8)]
    return ([_block("preop_diagnosis", _said(ctx, ["{x}.", "{x}"], ["The preoperative diagnosis was {x}."],
                                             x=indication)),
             _block("postop_diagnosis", _said(ctx, ["Same.", "{x}.", "Same as above."], [
                 "Postoperative diagnosis was the same.", "The postoperative diagnosis was {x}."], x=indication)),
             _block("procedure", _said(ctx, ["{x}.", "{x}"], ["The procedure performed was {x}.",
                                                              "{x} was performed."], x=name))]
            + side["surgeon"] + side["anesthesia"]
            + _opt(ctx, 0.7, "indications", lambda c: _intro(c, _INDICATIONS, indication))
            + _opt(ctx, 0.8, "operative_findings", lambda c: _said(c, ["{x}.", "{x}"], [
                "Findings included {x}.", "Intraoperatively, we found {x}."], x=finding))
            + [_block("procedure_detail", _sentences(ctx, detail))]
            + side["blood_loss"] + side["complications"] + side["specimens"]
            + _opt(ctx, 0.4, "plan", _after_surgery))


def _radiology(ctx: _Ctx) -> list[Block]:
    study, technique, complaint, normal, finding, impression = ctx.pick(IMAGING)
    abnormal = ctx.chance(0.55)
    findings = [finding] * abnormal + normal
    findings += ctx.r.sample(_RADIOLOGY_NORMALS, 2)
    if not abnormal:
        impression = ctx.pick(["No acute abnormality.", "Normal study.", "Negative examination."])
    if ctx.chance(0.7):
        history = _intro(ctx, ["{As} with {c}.", "{As} with {c} for {d}.", "{As}, {c}, evaluate."], complaint)
    else:
        history = _said(ctx, ["{c}."], ["History of {c}."], c=complaint)
    return ([_block("study", _said(ctx, [study.upper(), study + "."], ["{x} was performed.", "Exam is {x}."],
                                   x=study)),
             _block("clinical_history", history)]
            + _opt(ctx, 0.8, "technique", lambda c: [technique])
            + _opt(ctx, 0.6, "comparison", lambda c: _said(
                c, ["None.", "None available.", "Prior study from {n} years ago."],
                ["No prior studies for comparison.", "Compared with a study from {n} years ago."]))
            + [_block("findings", _sentences(ctx, [[s] for s in findings])),
               _block("impression", _said(ctx, ["{x}", "1. {x}"], ["In summary, {y}", "Overall, {y}"], x=impression,
                                          y=impression[0].lower() + impression[1:]))])


def _letter(ctx: _Ctx) -> list[Block]:
    return ([_block(None, ["Dear Dr. X,"]), _block(None, ["Thank you for asking me to see this patient."]),
             _block("hpi", _hpi(ctx)), _block("pmh", _pmh(ctx)), _block("medications", _medications(ctx)),
             _block("allergies", _allergies(ctx))] + _examination(ctx, 0.7, 0.3)
            + [_block("assessment", _assessment(ctx)), _block("plan", _plan(ctx)), _block(None, ctx.fill(
                "Thank you for allowing me to participate in {his} care.\n\nSincerely,\n\nDr. Y"))])


def _other(ctx: _Ctx) -> list[Block]:
    return ([_block("subjective", _hpi(ctx, follow_up=True))] + _opt(ctx, 0.5, "medications", _medications)
            + _opt(ctx, 0.4, "allergies", _allergies) + _assessment_and_plan(ctx))


# note type: weight, plan
NOTE_TYPES = {"hp_consult": (24, _hp_consult), "progress_soap": (20, _progress), "discharge_summary": (14, _discharge),
              "operative_procedure": (13, _operative), "radiology": (11, _radiology), "emergency": (12, _emergency),
              "letter": (3, _letter), "other": (3, _other)}


# --- layout --------------------------------------------------------------------------------------

class _Page:
    """Text being laid out, with the gold spans and header ranges at their final offsets."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pos = 0
        self.spans: list[Span] = []
        self.headers: list[list[int]] = []

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.pos += len(text)

    def header(self, words: str) -> None:
        self.headers.append([self.pos, self.pos + len(words) + 1])
        self.add(words + ":")

    def section(self, label: str | None, frags: Frags) -> None:
        """Write ``frags``; a section span covers them from first to last non-space character."""
        start, content = self.pos, _text(frags)
        for frag in frags:
            if isinstance(frag, _Ent):
                unit = {"unit": UNITS[frag.label]} if frag.label in UNITS else {}
                attrs = {"value": norm.normalize(frag.label, frag.text), **unit, **frag.attrs}
                self.spans.append(Span(self.pos, self.pos + len(frag.text), frag.label, GOLD, attrs))
            self.add(_text([frag]))
        if label and content.strip():
            lead = len(content) - len(content.lstrip())
            self.spans.append(Span(start + lead, start + len(content.rstrip()), label, GOLD))


def _lay_out(ctx: _Ctx, blocks: list[Block], style: str, layout: str, title: str) -> _Page:
    """A title line, then the blocks: header lines ("block"), headers inline ("inline"), headers
    run into one paragraph ("runin"); without headers, bare paragraphs or one run-on dictation
    ("runon"), where every section ends with a period."""
    page, r = _Page(), ctx.r
    if title:
        page.add(title + r.choice(["\n", "\n\n"]))
    gap = {"block": "\n\n", "inline": r.choice(["\n", "\n\n"]), "paragraphs": r.choice(["\n", "\n\n"])}.get(layout)
    for i, (kind, label, frags) in enumerate(blocks):
        if i:
            page.add(gap or ("\n\n" if r.random() < 0.12 else " "))
        if kind in HEADERS and ctx.headed:
            _, schema, other = HEADERS[kind]
            words = r.choice(schema) if style == "schema" else r.choice(other)
            page.header(words.upper() if style == "other" and r.random() < 0.2 else words)
            page.add("\n" if layout == "block" or "\n" in _text(frags) else r.choice([" ", " ", "  "]))
        if layout in ("runin", "runon") and _text(frags).rstrip()[-1:] not in ".!?":
            frags = frags + ["."]
        page.section(label, frags)
    return page


def _patient(seed: int, pid: int) -> dict[str, Any]:
    """Who the patient is, the same in each of the patient's notes: age, sex, conditions,
    operations and allergies, drawn from the patient's own random stream."""
    r = random.Random(f"{seed}:patient:{pid}")
    male, roll = r.random() < 0.48, r.random()
    months = roll < 0.03
    age = r.randint(2, 11) if months else r.randint(2, 17) if roll < 0.1 else int(min(96, max(18, r.gauss(58, 17))))
    adult = age >= 18 and not months
    conditions = [c for c in r.sample(CONDITIONS, r.randint(0, 5)) if male or c[1] != "BPH"] if adult else []
    surgeries = [s for s in r.sample(SURGERIES, r.randint(0, 3))
                 if not male or s not in ("hysterectomy", "cesarean section", "tubal ligation")] if adult else []
    return dict(male=male, age=age, months=months, conditions=conditions, surgeries=surgeries,
                allergies=r.sample(ALLERGENS, r.choice([0, 0, 0, 0, 0, 1, 1, 2, 3])))


def _note(seed: int, i: int, house: str = "us") -> Note:
    r = random.Random(f"{seed}:{i}")
    pid = i // 3 * 2 + (i % 3 == 2)  # three notes for every two patients
    note_type = r.choices(list(NOTE_TYPES), weights=[t[0] for t in NOTE_TYPES.values()])[0]
    plan, titles = NOTE_TYPES[note_type][1], _TITLES[note_type]
    if note_type == "letter":
        style, layout = "none", "paragraphs"
    else:
        style = r.choice(["schema", "other", "none"])
        layout = r.choice(["block", "inline", "runin"] if style != "none" else ["paragraphs", "runon"])
    ctx = _Ctx(r, **_patient(seed, pid), headed=style != "none", thorough=r.random() < 0.15,
               lists=layout in ("block", "inline", "paragraphs") and note_type != "letter",
               house=_HOUSE_STYLES[house])
    ctx.case = r.choice([case for case in CASES if case[3] or not (ctx.months or ctx.age < 18)])
    blocks = plan(ctx)
    title = r.choice(titles) if titles and r.random() < 0.4 else ""
    page = _lay_out(ctx, blocks, style, layout, title)
    return Note(id=f"syn-{i + 1:06d}", text="".join(page.chunks), patient_id=f"synp-{pid:05d}", note_type=note_type,
                spans=page.spans, meta={"header_spans": page.headers, "header_style": style, "layout": layout,
                                 "house_style": house})


CASES_WRITTEN = {"mixed": None, "upper": str.upper, "lower": str.lower}
"""How a note's letters are written: as generated, or every one in one case."""


def read(path: Any = None, *, n: int = 200, seed: int = 0, house: str = "us",
         case: str = "mixed", wrap: int = 0) -> Iterator[Note]:
    """Yield ``n`` synthetic notes written in the ``house`` style and ``case``, lines broken at
    ``wrap`` characters (0: as generated); ``path`` is ignored (every recipe takes one)."""
    if house not in _HOUSE_STYLES:
        raise RecipeError(f"unknown house style {house!r}; choose from {', '.join(HOUSE_STYLES)}")
    if case not in CASES_WRITTEN:
        raise RecipeError(f"unknown case {case!r}; choose from {', '.join(CASES_WRITTEN)}")
    if not isinstance(wrap, int) or wrap < 0 or 0 < wrap < 20:
        raise RecipeError(f"wrap must be 0 (off) or a line width of at least 20, not {wrap!r}")
    recase = CASES_WRITTEN[case]
    for i in range(n):
        note = _note(seed, i, house)
        text = note.text
        if recase is not None:
            # one character for one: a letter whose other case is longer ("ß") stays as it is
            text = "".join(c if len(recase(c)) != 1 else recase(c) for c in text)
        if wrap:
            text = _hard_wrapped(text, wrap)
        if text != note.text:
            note = replace(note, text=text, meta={**note.meta, "case": case, "wrap": wrap})
        yield note


def _hard_wrapped(text: str, width: int) -> str:
    """``text`` with each line over ``width`` characters broken at its last blank before the
    limit (a blank becomes a newline, so every other character keeps its offset)."""
    chars = list(text)
    line_start = 0
    last_blank = -1
    for i, c in enumerate(chars):
        if c == "\n":
            line_start, last_blank = i + 1, -1
            continue
        if c == " ":
            last_blank = i
        if i - line_start >= width and last_blank > line_start:
            chars[last_blank] = "\n"
            line_start, last_blank = last_blank + 1, -1
    return "".join(chars)
