"""ONNX Runtime on the batches `attend bench embed` times: the same MiniLM folder exported with
`torch.onnx.export`, passed through ONNX Runtime's BERT graph optimizer (fused attention, LayerNorm
and GELU), and timed as an fp32 session and as a dynamically quantized int8 session, on the same
texts (each exactly n tokens), batch size and thread count. What is timed matches the other side:
tokenization (the model folder's fast tokenizer), the session, mean pooling and L2 normalisation.

With --attend it prints Attend's sentences/s next to each session's and the ratio (above 1 means
Attend embeds faster), the largest difference between the first values of text 0's fp32 embedding
and Attend's (a value check, so a fast wrong result is caught) and int8's mean cosine to fp32.

    attend bench embed --lengths 32,128,256 --json embed.json
    python Benchmarks/peers/embed_onnx.py --attend embed.json --threads 2

Needs the packages of Benchmarks/peers/requirements-onnx.txt on top of the model peers' environment
(scripts/peer-venv.sh installs both) and the MiniLM folder that scripts/setup.sh unpacks.
"""
import os
import tempfile

import numpy as np
import torch

from common import load_attend, median_seconds, table
from embed import embed_arguments, texts


class Encoder(torch.nn.Module):
    """BertModel with keyword arguments: transformers 5's forward takes no positional mask."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids).last_hidden_state


def export(model_dir, folder):
    """fp32 (optimized) and int8 ONNX files of the model in `model_dir`, written under `folder`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, BertModel

    bert = BertModel.from_pretrained(model_dir).eval()
    config = AutoConfig.from_pretrained(model_dir)
    sample = torch.ones(2, 16, dtype=torch.long)
    raw = os.path.join(folder, "model.onnx")
    axes = {0: "batch", 1: "length"}
    torch.onnx.export(
        Encoder(bert), (sample, sample, torch.zeros_like(sample)), raw, dynamo=False, opset_version=17,
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["hidden"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "hidden": axes})
    optimized = optimizer.optimize_model(
        raw, model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size)
    fp32 = os.path.join(folder, "model-opt.onnx")
    optimized.save_model_to_file(fp32)
    int8 = os.path.join(folder, "model-int8.onnx")
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return fp32, int8


def session(path, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def embedder(run, tokenizer, n):
    """texts → normalised mean-pooled embeddings, end to end."""

    def embed(batch):
        encoded = tokenizer(batch, padding=True, truncation=True, max_length=n, return_tensors="np")
        feeds = {name: encoded[name].astype(np.int64)
                 for name in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = run.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    return embed


def main():
    args = embed_arguments(__doc__)
    import onnxruntime
    from transformers import AutoTokenizer

    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    attend = {(r["length"], r["mixer"]): r for r in load_attend(args.attend)}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        fp32_path, int8_path = export(args.model, folder)
        sessions = {"fp32": session(fp32_path, threads), "int8": session(int8_path, threads)}
        for n in [int(x) for x in args.lengths.split(",")]:
            batch = texts(n, args.batch)
            ids = tokenizer(batch, truncation=True, max_length=n, padding=True)["input_ids"]
            assert all(len(row) == n for row in ids), f"texts of length {n} do not all tokenize to {n} tokens"
            mine = attend.get((n, "full"))
            reference = None
            for name, run in sessions.items():
                embed = embedder(run, tokenizer, n)
                seconds = median_seconds(lambda: embed(batch), args.runs)
                vectors = embed(batch)
                if name == "fp32":
                    reference = vectors
                rate = args.batch / seconds
                check = "-"
                if mine and name == "fp32":  # the same model on the same texts must give the same vector
                    first = mine["firstValues"]
                    check = f"{max(abs(a - b) for a, b in zip(first, vectors[0][: len(first)])):.1e}"
                cosine = f"{float(np.mean(np.sum(vectors * reference, axis=1))):.4f}"
                rows.append((n, args.batch, name, f"{rate:.1f}", f"{seconds * 1000:.1f}",
                             f"{mine['sentencesPerSecond']:.1f}" if mine else "-",
                             f"{mine['sentencesPerSecond'] / rate:.2f}" if mine else "-", check, cosine))
    print(f"# onnxruntime {onnxruntime.__version__} (BERT graph optimizer; int8 = quantize_dynamic), "
          f"{threads} threads, batch {args.batch}")
    print(table(["n", "batch", "session", "peer sentences/s", "peer ms/batch", "Attend sentences/s",
                 "Attend/peer", "max |Δ| text 0", "cos to fp32"], rows))


if __name__ == "__main__":
    main()
