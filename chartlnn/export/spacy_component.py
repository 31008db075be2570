"""The ``chartlnn`` spaCy pipeline component: charts from a trained model, where spaCy tools look.

``nlp.add_pipe("chartlnn", config={"model": DIR})`` on any English pipeline charts each Doc's
``doc.text`` with ``chartlnn.load(DIR)`` and sets, per Doc:

- ``doc._.chart``: the Chart dict, exactly what ``chartlnn.load(DIR).chart(doc.text)`` returns;
- ``doc.spans["chartlnn_sections"]`` and ``doc.spans["chartlnn_entities"]``: one Span per chart
  section / entity mention, labelled with its field, in text order, so medSpaCy's ConText and
  displaCy's span view can read them; ``Span._.confidence``, ``Span._.value`` and
  ``Span._.unit`` read the mention's (value and unit are None on sections; read-only);
- ``doc.ents``: the entity spans that overlap neither an entity already there (which is kept)
  nor an earlier one of these (the earlier, then the longer, span wins).

Offsets: a chart's offsets are character offsets into ``doc.text``, and a span keeps them
exactly when they fall on spaCy token boundaries. spaCy spans are runs of whole tokens, so a
chart span whose ends fall inside a token is widened to the tokens it touches (``"120"`` of
``"120/80"`` becomes ``"120/80"``), less a space at either end that spaCy keeps as a token's
trailing white space; ``doc._.chart`` always has the exact offsets. A chart span that no token
run can hold (empty, white space only, outside the text), or that lands on a span of its field
already made, is skipped and counted in the component's ``skipped``, never raised.

``model`` is a path string (a spaCy config holds JSON values only). ``nlp.pipe(texts,
batch_size=N)`` charts N docs per ``chart_many`` call (its notes batched by length); the
``batch_size`` setting caps the notes in one forward pass. Nothing here logs or raises with note
text. spaCy is imported here, never by ``import chartlnn``.
"""

from typing import Any, Iterable, Iterator, Optional, Protocol, Sequence

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from chartlnn.errors import ChartlnnError

SECTIONS = "chartlnn_sections"
ENTITIES = "chartlnn_entities"
USER_DATA = "chartlnn"
"""First item of the ``doc.user_data`` keys that hold each span's mention: (USER_DATA, start_char,
end_char, label) → {"value", "unit", "confidence"}."""


class ComponentConfigError(ChartlnnError, ValueError):
    """The component's settings (or an extension name it needs) cannot be used; the message
    names which."""


class ChartModelLike(Protocol):
    """What the component needs of a model (a :class:`chartlnn.inference.model.ChartModel`)."""

    def chart_many(self, texts: Sequence[str], *, max_batch_notes: int) -> list[dict[str, Any]]: ...


class MentionField:
    """Getter of ``Span._.<name>``: the chart mention's ``name`` for this span's offsets *and
    label*. spaCy 3.7 keys plain span extensions on offsets alone, so two fields on one token run
    ("120" and "80" of the token "120/80") would share one value; a span that no chart put on
    the Doc reads None."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, span: Span) -> Any:
        key = (USER_DATA, span.start_char, span.end_char, span.label_)
        return span.doc.user_data.get(key, {}).get(self.name)


def register_extensions() -> None:
    """``Span._.value/unit/confidence`` (read-only) and ``Doc._.chart``, each registered once.
    A span extension of that name registered by another package is not overwritten: it is one
    :class:`ComponentConfigError` line, since the values read would not be the chart's."""
    for name in ("value", "unit", "confidence"):
        if not Span.has_extension(name):
            Span.set_extension(name, getter=MentionField(name))
        elif not isinstance(Span.get_extension(name)[2], MentionField):
            raise ComponentConfigError(f"Span._.{name} is already registered by another package; "
                                       "the chartlnn component needs it for chart values")
    if not Doc.has_extension("chart"):
        Doc.set_extension("chart", default=None)


def set_chart(doc: Doc, chart: dict[str, Any]) -> int:
    """Put a Chart of ``doc.text`` onto ``doc`` (see the module docstring) and return how many of
    its spans were skipped. Works for any chart of this text, e.g. a line of ``charts.jsonl``."""
    register_extensions()
    for key in [k for k in doc.user_data if isinstance(k, tuple) and k[:1] == (USER_DATA,)]:
        del doc.user_data[key]  # a Doc charted again keeps no stale values
    doc._.chart = chart
    sections, skipped_sections = _spans(doc, chart["sections"])
    entities, skipped_entities = _spans(doc, chart["entities"])
    doc.spans[SECTIONS] = sections
    doc.spans[ENTITIES] = entities
    taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    free = []
    for span in sorted(entities, key=lambda s: (s.start, -len(s))):
        tokens = set(range(span.start, span.end))
        if not tokens & taken:
            free.append(span)
            taken |= tokens
    doc.set_ents(free, default="unmodified")
    return skipped_sections + skipped_entities


def _spans(doc: Doc, fields: dict[str, list[dict[str, Any]]]) -> tuple[list[Span], int]:
    """One span per mention of ``fields`` (field → mentions), widened to whole tokens, its
    mention stored for :class:`MentionField`; and the number skipped (no token run holds it, or
    it lands on a span of its field already made: the first mention keeps it)."""
    spans: dict[tuple[int, int, str], Span] = {}
    skipped = 0
    for field, mentions in fields.items():
        for mention in mentions:
            start, end = mention["start"], mention["end"]
            span = (doc.char_span(start, end, label=field, alignment_mode="expand")
                    if 0 <= start < end <= len(doc.text) else None)
            if span is None or not len(span) or (span.start, span.end, field) in spans:
                skipped += 1
                continue
            doc.user_data[USER_DATA, span.start_char, span.end_char, field] = {
                name: mention.get(name) for name in ("value", "unit", "confidence")}
            spans[span.start, span.end, field] = span
    return [spans[key] for key in sorted(spans)], skipped


class ChartlnnComponent:
    """Charts Docs with a loaded model: one ``chart_many`` call per Doc, or per batch in ``pipe``."""

    def __init__(self, model: ChartModelLike, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size
        self.skipped = 0
        """Chart spans left out of the span groups so far (see the module docstring)."""
        register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        self.skipped += set_chart(doc, self.model.chart_many([doc.text], max_batch_notes=self.batch_size)[0])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: Optional[int] = None) -> Iterator[Doc]:
        """Docs charted ``batch_size`` at a time (spaCy passes ``nlp.pipe``'s), one model call each."""
        for batch in minibatch(docs, size=batch_size or self.batch_size):
            charts = self.model.chart_many([doc.text for doc in batch], max_batch_notes=self.batch_size)
            for doc, chart in zip(batch, charts):
                self.skipped += set_chart(doc, chart)
                yield doc


@Language.factory("chartlnn", default_config={"model": None, "batch_size": 32},
                  assigns=["doc.ents", "doc.spans", "doc._.chart"])
def make_chartlnn(nlp: Language, name: str, model: Optional[str], batch_size: int) -> ChartlnnComponent:
    """Build the component when ``add_pipe`` is called, so a bad model directory is one
    :class:`ChartlnnError` line naming it there (``ModelDirError``), not at the first Doc."""
    if not model:
        raise ComponentConfigError("the chartlnn spaCy component needs a model directory: "
                                   "nlp.add_pipe('chartlnn', config={'model': 'DIR'})")
    if batch_size < 1:
        raise ComponentConfigError(f"the chartlnn spaCy component's batch_size must be at least 1, "
                                   f"not {batch_size}")
    import chartlnn  # the package's lazy `load`: export does not import the inference room

    return ChartlnnComponent(chartlnn.load(model), batch_size)
