"""PyTorch eager training throughput of the encoder `attend bench train` times: 4 pre-LN layers,
width 256, 4 heads, FFN 1024, GELU, no dropout, vocabulary 256, mean pooling, 10 classes, AdamW,
random token batches, in eager mode and compiled with `torch.compile` (its compile time, the first
step, reported separately and not counted). Prints tokens/s and, with --attend, Attend/PyTorch
throughput ratios.

    attend bench train --json train.json
    python Benchmarks/peers/train.py --attend train.json --threads 2
"""

import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import configure_threads, load_attend, median_seconds, peer_arguments, table


class Encoder(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.embed = nn.Embedding(256, 256)
        self.position = nn.Parameter(torch.zeros(1, n, 256))
        layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.layers = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(256)
        self.head = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 10))

    def forward(self, tokens):
        x = self.embed(tokens) + self.position[:, : tokens.shape[1]]
        return self.head(self.norm(self.layers(x)).mean(dim=1))


def main():
    parser = peer_arguments(__doc__, "train")
    parser.add_argument("--lengths", default="1024")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-compile", action="store_true", help="time eager mode only")
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    torch.manual_seed(0)
    attend = {(r["mixer"], r["length"]): r for r in load_attend(args.attend)}
    rows = []
    for n in [int(x) for x in args.lengths.split(",")]:
        for mode in ["eager"] + ([] if args.no_compile else ["compile"]):
            torch.manual_seed(0)
            model = Encoder(n)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            tokens = torch.randint(0, 256, (args.batch, n))
            labels = torch.randint(0, 10, (args.batch,))
            forward = torch.compile(model) if mode == "compile" else model

            def step():
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(forward(tokens), labels).backward()
                optimizer.step()

            start = time.perf_counter()
            step()  # compiles in compile mode; median_seconds warms up once more
            first = time.perf_counter() - start
            seconds = median_seconds(step, args.runs)
            rate = args.batch * n / seconds
            mine = attend.get(("full", n))
            ratio = f"{mine['tokensPerSecond'] / rate:.2f}" if mine else "-"
            rows.append(("full", n, args.batch, mode, f"{rate:.0f}", f"{seconds * 1000:.1f}",
                         f"{first:.1f}" if mode == "compile" else "-", ratio))
    print(f"# PyTorch {torch.__version__}, {threads} threads")
    print(table(["mixer", "n", "batch", "mode", "tokens/s", "step ms", "compile s",
                 "Attend/PyTorch (higher is better)"], rows))


if __name__ == "__main__":
    main()
