"""PyTorch timings of the decoding `attend bench generate` measures, on the same thread count:
Hugging Face's GPT-2 (randomly initialised, the same width, heads, depth and FFN width) decoding
with its key/value cache after a prompt of each context length, batch 1. Reported: prefill ms (one
forward over the prompt with use_cache), ms per generated token (the median of single-token
forwards with the cache, as `generate` runs them) and the cache's bytes. With --attend it prints
Attend/peer ratios of the full-attention rows (below 1: Attend faster).

    attend bench generate --mixers full,local,performer --json generate.json --threads 2
    python Benchmarks/peers/generate.py --attend generate.json --threads 2
"""
import time

import torch

from common import configure_threads, load_attend, peer_arguments, table

SHAPES = {"cpu": (64, 4, 2, 128), "large": (512, 8, 6, 2048)}  # width, heads, layers, FFN width


def model(width, heads, layers, inner, positions):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=257, n_positions=positions, n_embd=width, n_layer=layers,
                        n_head=heads, n_inner=inner, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(1)
    return GPT2LMHeadModel(config).eval()


def cache_bytes(cache):
    """Bytes of the key/value tensors in a cache object (its `layers`) or a legacy tuple."""
    layers = getattr(cache, "layers", None)
    pairs = [(layer.keys, layer.values) for layer in layers] if layers is not None else cache
    return sum(t.numel() * t.element_size() for pair in pairs for t in pair if t is not None)


def measure(width, heads, layers, inner, context, runs):
    lm = model(width, heads, layers, inner, context + runs + 2)
    prompt = torch.tensor([[1 + (p * 31 + p // 7) % 255 for p in range(context)]])
    with torch.no_grad():
        start = time.perf_counter()
        out = lm(prompt, use_cache=True)
        prefill = (time.perf_counter() - start) * 1000
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            out = lm(token, past_key_values=past, use_cache=True)
            times.append((time.perf_counter() - start) * 1000)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
    return prefill, sorted(times)[len(times) // 2], cache_bytes(past)


def main():
    parser = peer_arguments(__doc__, "generate")
    parser.add_argument("--contexts", default="512,2048,8192")
    parser.add_argument("--models", default="cpu,large")
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    rows_in = load_attend(args.attend)
    attend = {(r["model"], r["context"]): r for r in rows_in if r["mixer"] == "full"}
    rows = []
    for name in args.models.split(","):
        width, heads, layers, inner = SHAPES[name]
        for context in [int(c) for c in args.contexts.split(",")]:
            prefill, per_token, state = measure(width, heads, layers, inner, context, args.runs)
            mine = attend.get((name, context))
            ratio = f"{mine['msPerToken'] / per_token:.2f}" if mine else "-"
            rows.append((f"gpt2-{name}", context, f"{per_token:.3f}", f"{prefill:.1f}",
                         f"{state / 2**20:.2f}", ratio))
    print(f"# PyTorch {torch.__version__}, {threads} threads, batch 1, random GPT-2 weights, eval")
    header = ["peer", "context", "ms/token", "prefill ms", "cache MiB", "Attend full/peer ms/token"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
