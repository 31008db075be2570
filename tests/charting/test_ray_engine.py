"""`--engine ray` on an embedded local Ray: the same charts and rejects as the local engine.

One test: starting Ray takes seconds."""

import json

import pytest

from chartlnn.charting.run import chart
from data_recipes import synthetic

pytest.importorskip("ray.data")


@pytest.mark.timeout(600)
def test_ray_engine_makes_the_same_outputs_as_the_local_engine(liquid_model, tmp_path):
    source = tmp_path / "notes.jsonl"
    rows = [json.dumps({"id": n.id, "text": n.text}) for n in synthetic.read(n=12, seed=5)]
    source.write_text("\n".join(rows[:6] + ["{broken", json.dumps({"id": "e", "text": ""})]
                                + rows[6:]) + "\n", encoding="utf-8")
    local = chart(liquid_model, source, tmp_path / "local", shard_size=5, batch_size=2)
    on_ray = chart(liquid_model, source, tmp_path / "ray", shard_size=5, batch_size=2,
                   engine="ray", workers=2)
    assert (on_ray.records, on_ray.charted, on_ray.rejected) == (14, 12, 2) == (
        local.records, local.charted, local.rejected)
    for name in ("charts.jsonl", "rejects.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
