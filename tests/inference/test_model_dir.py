"""Every way a model directory can be broken is one line naming the directory and the file."""

import shutil

import pytest
from typer.testing import CliRunner

from chartlnn.cli import app
from chartlnn.errors import ChartlnnError
from chartlnn.inference.model import load


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _garbage(path):
    path.write_bytes(b"\x00\xff not what it should be")


def _edit_yaml(old, new):
    def edit(path):
        path.write_text(path.read_text().replace(old, new, 1))
    return edit


BROKEN = [
    ("model.safetensors", _truncate, "not a readable safetensors file"),
    ("model.safetensors", _garbage, "not a readable safetensors file"),
    ("config.yaml", _edit_yaml("kind: liquid", "kind: quantum"), "does not describe a model"),
    ("config.yaml", lambda p: p.write_text("!!python/object/apply:os.system ['true']\n"), "not valid YAML"),
    ("config.yaml", lambda p: p.write_text("model: [\n"), "not valid YAML"),
    ("config.yaml", _edit_yaml("d_model: 16", "d_model: 32"), "weights do not fit"),
    ("config.yaml", _edit_yaml("entity_tag_weights:\n", "entity_tag_weights: [-1.0]\nold:\n"),
     "entity_tag_weights must be one positive number per entity tag"),
    ("tokenizer.json", _garbage, "not a tokenizer file"),
    ("schema.yaml", lambda p: p.write_text("sections: 3\n"), "schema.yaml"),
]


@pytest.mark.parametrize("name, breaks, message", BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_model_dir_broken_files_are_one_line(liquid_model, tmp_path, name, breaks, message):
    model = tmp_path / "model"
    shutil.copytree(liquid_model, model)
    breaks(model / name)
    with pytest.raises(ChartlnnError, match=message) as error:
        load(model)
    assert str(model) in str(error.value) and name in str(error.value) and "\n" not in str(error.value)
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": "1", "text": "PLAN: rest."}\n')
    result = CliRunner().invoke(app, ["chart", "-m", str(model), "-i", str(notes), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # _fail, not a crash
    assert "Traceback" not in result.output and message.split()[0] in result.output
