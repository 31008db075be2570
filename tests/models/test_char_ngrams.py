"""Character n-gram input: every piece of a word sees the whole word's n-grams, and nothing else."""

import torch

from chartlnn.models.char_ngrams import CharNgramEmbedding, piece_ngrams
from chartlnn.models.tagger import Tagger

PIECES = ["[PAD]", "[UNK]", "[MASK]", "ser", "##o", "##qu", "##el", "120", "/", "80", "the", "##qu"]


def _embedding(buckets: int = 97) -> CharNgramEmbedding:
    torch.manual_seed(0)
    embedding = CharNgramEmbedding(len(PIECES), d_model=8, buckets=buckets)
    embedding.index(PIECES)
    return embedding


def test_piece_features_mark_word_starts_and_shapes():
    assert piece_ngrams("ser")[:2] == ["shape:x", "<se"]
    assert "<ser" in piece_ngrams("ser") and "<se" not in piece_ngrams("##ser")
    assert piece_ngrams("120")[0] == "shape:d"
    assert piece_ngrams("Mg")[0] == "shape:Xx"
    assert piece_ngrams("##a") == ["shape:x", "a"]  # too short for an n-gram: the piece itself


def test_every_piece_of_a_word_gets_the_word_vector():
    embedding = _embedding()
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 0]])  # seroquel 120 / 80 [PAD]
    out = embedding(ids)
    assert torch.allclose(out[0, 0], out[0, 1]) and torch.allclose(out[0, 0], out[0, 3])
    assert not torch.allclose(out[0, 3], out[0, 4])  # the next word is another word
    assert torch.count_nonzero(out[0, 7]) == 0  # padding has no features


def test_a_word_vector_depends_on_its_own_pieces_only():
    embedding = _embedding()
    alone = embedding(torch.tensor([[10, 11]]))  # "the ##qu"
    in_context = embedding(torch.tensor([[3, 4, 5, 6, 10, 11]]))
    assert torch.allclose(alone[0], in_context[0, 4:], atol=1e-6)


def test_a_saved_tagger_keeps_its_vocabulary_index():
    config = {"kind": "liquid", "d_model": 8, "n_layers": 1, "mlp_ratio": 2.0, "dropout": 0.0,
              "chunk": 4, "char_buckets": 31}
    tagger = Tagger(len(PIECES), 3, 3, 2, config)
    tagger.char_embed.index(PIECES)
    reloaded = Tagger(len(PIECES), 3, 3, 2, config)
    reloaded.load_state_dict(tagger.state_dict())
    ids, mask = torch.tensor([[3, 4, 5, 6, 7]]), torch.ones(1, 5, dtype=torch.bool)
    tagger.eval(), reloaded.eval()
    assert torch.equal(tagger(ids, mask)["entity"], reloaded(ids, mask)["entity"])
    assert torch.count_nonzero(reloaded.char_embed.piece_ngrams) > 0


def test_a_tagger_without_char_buckets_has_no_char_embedding():
    tagger = Tagger(len(PIECES), 3, 3, 2, {"kind": "liquid", "d_model": 8, "n_layers": 1,
                                            "mlp_ratio": 2.0, "dropout": 0.0, "chunk": 4})
    assert tagger.char_embed is None
    assert not any(name.startswith("char_embed") for name in tagger.state_dict())
