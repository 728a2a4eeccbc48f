"""Build a tiny, deterministic argostranslate package (.argosmodel) with no network and no training.

The package has what argostranslate 1.9+ reads from an installed package:

- ``metadata.json`` (languages, package version);
- ``sentencepiece.model``: a BPE model trained on the dictionary's words, big enough that every
  dictionary word is one piece (``▁kot``) and punctuation is a piece of its own;
- ``model/``: a CTranslate2 Transformer (one encoder and one decoder layer, one head) written
  from numpy weights through ``ctranslate2.specs.TransformerSpec``. Its weights are set by hand
  so that the decoder's step t attends to source position t and emits ``map(source piece t)``:
  a word-for-word dictionary translation. Pieces outside the dictionary are copied, and
  characters the vocabulary lacks come out as ``<unk>``, which CTranslate2's
  ``replace_unknowns`` (argostranslate turns it on) replaces with the source piece. The source
  gets ``</s>`` appended (``add_source_eos``), which maps to ``</s>`` and ends the output.
- ``minisbd/<lang>.onnx``: a sentence splitter for argostranslate's default MiniSBD sentencizer,
  an ONNX graph that marks ``. ! ?`` as sentence ends. Without it argostranslate downloads a
  MiniSBD model from GitHub on the first translation; with a ``stanza/`` folder instead, Stanza
  fetches ``resources.json`` on every pipeline it builds. Packing the splitter is what makes the
  package work offline.

``pl -> en`` with ``{"pies": "dog", "je": "eats", "chleb": "bread"}`` turns
``"pies je chleb. Kraków"`` into ``"dog eats bread. Kraków"``.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Source positions the model can attend to (pieces per sentence, </s> included).
MAX_POSITIONS = 128

#: MiniSBD's classes per character: 1 ends a token, 2 ends a token and a sentence.
_TOKEN_END, _SENTENCE_END = 1, 2
_SENTENCE_ENDS = (".", "!", "?")
_PUNCTUATION = (".", ",", "!", "?", ":", ";")


def _with_capitals(words: Mapping[str, str]) -> dict[str, str]:
    out = dict(words)
    for src, tgt in words.items():
        out.setdefault(src[:1].upper() + src[1:], tgt[:1].upper() + tgt[1:])
    return out


def train_sentencepiece(words: list[str]) -> bytes:
    """Return a serialized sentencepiece BPE model in which every word of words is one piece."""
    import sentencepiece as spm

    lines = [" ".join(words)] * 8 + [f"{word}{mark}" for word in words for mark in _PUNCTUATION]
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buffer,
        model_type="bpe",
        vocab_size=4000,
        hard_vocab_limit=False,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
        num_threads=1,
    )
    model = buffer.getvalue()
    processor = spm.SentencePieceProcessor(model_proto=model)
    for word in words:
        pieces = processor.encode(word, out_type=str)
        if pieces != ["▁" + word]:
            raise ValueError(
                f"sentencepiece split {word!r} into {pieces}; the tiny model needs one piece a word"
            )
    return model


def _transformer_spec(vocabulary: list[str], mapping: list[int]):  # noqa: ANN202 (ctranslate2 type)
    """Return a TransformerSpec whose decoder step t emits mapping[source token t]."""
    from ctranslate2.specs import transformer_spec

    vocab_size, positions = len(vocabulary), MAX_POSITIONS
    # Residual stream: one dimension per token, then one per position.
    dim = vocab_size + positions
    tok = slice(0, vocab_size)
    pos = slice(vocab_size, dim)
    f32 = np.float32

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=f32)

    def centering(n: int) -> np.ndarray:
        # Rows sum to zero, so the mean that LayerNorm subtracts cancels out.
        return np.eye(n, dtype=f32) - f32(1.0 / n)

    spec = transformer_spec.TransformerSpec.from_config(num_layers=1, num_heads=1)
    spec.config.add_source_eos = True

    embeddings = zeros(vocab_size, dim)
    embeddings[:, tok] = np.eye(vocab_size, dtype=f32)
    positions_table = zeros(positions, dim)
    positions_table[:, pos] = np.eye(positions, dtype=f32)

    def layer_norm(ln) -> None:  # noqa: ANN001
        ln.gamma = np.ones(dim, dtype=f32)
        ln.beta = zeros(dim)

    def silent_ffn(ffn) -> None:  # noqa: ANN001
        layer_norm(ffn.layer_norm)
        ffn.linear_0.weight = zeros(4, dim)
        ffn.linear_0.bias = zeros(4)
        ffn.linear_1.weight = zeros(dim, 4)
        ffn.linear_1.bias = zeros(dim)

    def silent_self_attention(attention) -> None:  # noqa: ANN001
        layer_norm(attention.layer_norm)
        attention.linear[0].weight = zeros(3 * dim, dim)
        attention.linear[0].bias = zeros(3 * dim)
        attention.linear[1].weight = zeros(dim, dim)
        attention.linear[1].bias = zeros(dim)

    # Encoder: every sublayer adds nothing, so its output is LayerNorm(token + position).
    encoder = spec.encoder
    encoder.scale_embeddings = False
    encoder.embeddings[0].weight = embeddings
    encoder.position_encodings.encodings = positions_table
    silent_self_attention(encoder.layer[0].self_attention)
    silent_ffn(encoder.layer[0].ffn)
    layer_norm(encoder.layer_norm)

    # Decoder: input tokens are ignored (zero embeddings); the query is the position alone.
    gain_qk, gain_v, gain_out, eos_pull = 4.0, 4.0, 8.0, 60.0
    decoder = spec.decoder
    decoder.scale_embeddings = False
    decoder.embeddings.weight = zeros(vocab_size, dim)
    decoder.position_encodings.encodings = positions_table
    layer = decoder.layer[0]
    silent_self_attention(layer.self_attention)
    silent_ffn(layer.ffn)
    cross = layer.attention
    layer_norm(cross.layer_norm)
    query = zeros(dim, dim)
    query[:positions, pos] = gain_qk * centering(positions)
    query_bias = zeros(dim)
    key_value = zeros(2 * dim, dim)
    key_value[:positions, pos] = gain_qk * centering(positions)  # keys: source position
    # Past the source's end no position matches; a constant query component that only the
    # source's </s> answers pulls those steps to </s>, so every beam ends (beam search waits
    # for beam_size finished hypotheses).
    query_bias[positions] = 1.0
    key_value[positions, vocabulary.index("</s>")] = eos_pull * np.sqrt(2.0)
    key_value[dim : dim + vocab_size, tok] = gain_v * centering(vocab_size)  # values: source token
    cross.linear[0].weight = query
    cross.linear[0].bias = query_bias
    cross.linear[1].weight = key_value
    cross.linear[1].bias = zeros(2 * dim)
    output = zeros(dim, dim)
    output[tok, :vocab_size] = np.eye(vocab_size, dtype=f32)
    cross.linear[2].weight = output
    cross.linear[2].bias = zeros(dim)
    layer_norm(decoder.layer_norm)

    projection = zeros(vocab_size, dim)
    for source_id, target_id in enumerate(mapping):
        projection[target_id, source_id] = gain_out
    bias = zeros(vocab_size)
    bias[vocabulary.index("<s>")] = -1000.0
    decoder.projection.weight = projection
    decoder.projection.bias = bias

    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization=None)
    return spec


def minisbd_onnx(lang: str) -> bytes:
    """Return a MiniSBD ONNX model that ends a sentence after . ! ? (every character a token)."""
    import onnx
    from onnx import TensorProto, helper

    units = ["<PAD>", "<UNK>", *_SENTENCE_ENDS]
    vocab = {
        "lang": lang,
        "idx": 0,
        "cutoff": 0,
        "lower": False,
        "_unit2id": {unit: i for i, unit in enumerate(units)},
        "_id2unit": units,
    }
    table = np.zeros((len(units), 5), dtype=np.float32)
    table[:, _TOKEN_END] = 10.0
    for i, unit in enumerate(units):
        if unit in _SENTENCE_ENDS:
            table[i, _SENTENCE_END] = 20.0
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "units"], ["gathered"], axis=0),
            # `features` is part of MiniSBD's interface; multiply it in (as zeros) so the input is used.
            helper.make_node("ReduceSum", ["features"], ["feature_sum"], keepdims=1, noop_with_empty_axes=0),
            helper.make_node("Mul", ["feature_sum", "zero"], ["nothing"]),
            helper.make_node("Add", ["gathered", "nothing"], ["logits"]),
        ],
        "tiny_sbd",
        [
            helper.make_tensor_value_info("units", TensorProto.INT64, ["batch", "time"]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", "time", "feats"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "time", 5])],
        initializer=[
            helper.make_tensor("table", TensorProto.FLOAT, table.shape, table.flatten().tolist()),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    config = {
        "feat_funcs": [],
        "max_seqlen": 1000,
        "batch_size": 32,
        "use_dictionary": False,
        "num_dict_feat": 0,
    }
    for key, value in (("lang_code", lang), ("config", json.dumps(config)), ("vocab", json.dumps(vocab))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model.SerializeToString()


def package_name(source: str, target: str, version: str) -> str:
    """Return the folder name of the package inside the archive."""
    return f"translate-{source}_{target}-{version.replace('.', '_')}"


def build_argosmodel(
    out_dir: Path,
    *,
    source: str,
    target: str,
    words: Mapping[str, str],
    version: str = "1.0",
    source_name: str | None = None,
    target_name: str | None = None,
    sentence_splitter: bool = True,
) -> Path:
    """Write <out_dir>/<source>_<target>.argosmodel translating words one for one; return its path.

    sentence_splitter=False packs a stanza/ folder instead of minisbd/, like the packages of
    argostranslate's index: argostranslate's own default would then have Stanza fetch its
    resources.json from GitHub; Witaj has MiniSBD look for a downloaded splitter instead.
    """
    mapping_words = _with_capitals(words)
    vocabulary_words = sorted(set(mapping_words) | set(mapping_words.values()))
    sp_model = train_sentencepiece(vocabulary_words)

    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=sp_model)
    vocabulary = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    index = {piece: i for i, piece in enumerate(vocabulary)}
    mapping = list(range(len(vocabulary)))
    for src, tgt in mapping_words.items():
        mapping[index["▁" + src]] = index["▁" + tgt]

    name = package_name(source, target, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{source}_{target}.argosmodel"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / name
        (root / "model").mkdir(parents=True)
        _transformer_spec(vocabulary, mapping).save(str(root / "model"))
        (root / "sentencepiece.model").write_bytes(sp_model)
        if sentence_splitter:
            (root / "minisbd").mkdir()
            (root / "minisbd" / f"{source}.onnx").write_bytes(minisbd_onnx(source))
        else:
            (root / "stanza" / source).mkdir(parents=True)
            (root / "stanza" / source / "README").write_text("no Stanza model in the tiny package\n")
        metadata = {
            "package_version": version,
            "argos_version": "1.9",
            "from_code": source,
            "from_name": source_name or source,
            "to_code": target,
            "to_name": target_name or target,
            "type": "translate",
            "links": [],
        }
        (root / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        (root / "README.md").write_text(
            f"Tiny {source}->{target} word-for-word model built by Witaj's test suite.\n", encoding="utf-8"
        )
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(root.rglob("*")):
                zf.write(path, path.relative_to(Path(tmp)).as_posix())
    return archive


#: Dictionaries of the suite's tiny models (Polish -> English -> Ukrainian, for the pivot).
PL_EN = {
    "pies": "dog",
    "je": "eats",
    "chleb": "bread",
    "kot": "cat",
    "dzień": "day",
    "dobry": "good",
    "dziękuję": "thanks",
}
EN_UK = {
    "dog": "пес",
    "eats": "їсть",
    "bread": "хліб",
    "cat": "кіт",
    "day": "день",
    "good": "добрий",
    "thanks": "дякую",
}
