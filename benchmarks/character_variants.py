"""How a model reads the same notes written with other characters, as other systems export them:
each rewrite changes characters one for one (so the gold spans still hold) and the charts are
scored like `chartlnn evaluate` does, headerless and with headers.

    python benchmarks/character_variants.py MODEL_DIR DATA_DIR [DATA_DIR ...]

Rewrites: no-break spaces for spaces (text copied from web pages), carriage returns alone for
newlines (older systems' line ends), every line joined into one paragraph (a dictation
transcribed as it was spoken), a tab after each header colon, bullets for list dashes, curly
apostrophes. Each DATA_DIR is a prepared dataset whose gold split (when it has one) or
test split is scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial

from chartlnn.evaluation.systems import System
from chartlnn.inference.model import load
from decoding_levers import model_and_data, print_tables  # a script beside this one

METRICS = (("section_token", "section token"), ("section_span", "section span"),
           ("entity_value", "entity value"))
LIST_DASH = re.compile(r"(?m)^- ")
REWRITES: dict[str, Callable[[str], str]] = {
    "as written": lambda text: text,
    "no-break spaces": lambda text: text.replace(" ", "\u00a0"),
    "carriage returns for newlines": lambda text: text.replace("\n", "\r"),
    "one paragraph": lambda text: text.replace("\n", " "),
    "tabs after colons": lambda text: text.replace(": ", ":\t"),
    "bullets for list dashes": lambda text: LIST_DASH.sub("\u2022 ", text),
    "curly apostrophes": lambda text: text.replace("'", "\u2019"),
}


def main() -> None:
    model_dir, data_dirs = model_and_data(__doc__)
    model = load(model_dir)

    def system(name: str, rewrite: Callable[[str], str]) -> System:
        def chart_many(texts, ids):
            return model.chart_many([rewrite(text) for text in texts], ids)
        return System(name, str(model_dir), chart_many, model)

    print_tables(data_dirs, "written with", {
        name: partial(nullcontext, system(name, rewrite)) for name, rewrite in REWRITES.items()},
        METRICS)


if __name__ == "__main__":
    main()
