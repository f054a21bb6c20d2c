"""PyTorch timings of the shapes `attend bench ffn` measures, on the same thread count: Hugging Face's
SwitchTransformersSparseMLP (top-1 router, capacity per sequence, experts looped over with index_add)
and its dense T5 FFN (SwitchTransformersDenseActDense: wi -> ReLU -> wo, no biases) of the same active
size. Forward, and forward+backward (input and parameter gradients; the sparse MLP's router losses
are added as Attend's are). With --attend it prints Attend/peer time ratios (below 1: Attend faster).
PyTorch's sparse MLP needs a few calls before it reaches its steady speed (its first calls were 2-5x
slower in our runs), so each timing starts with three warm-up calls (two for forward+backward).

    attend bench ffn --json ffn.json
    python Benchmarks/peers/ffn.py --attend ffn.json --threads 2
"""
import math

import torch

from common import configure_threads, load_attend, median_seconds, peer_arguments, table


def layers(width, hidden, experts, capacity):
    from transformers import SwitchTransformersConfig
    from transformers.models.switch_transformers.modeling_switch_transformers import (
        SwitchTransformersDenseActDense,
        SwitchTransformersSparseMLP,
    )

    config = SwitchTransformersConfig(d_model=width, d_ff=hidden, num_experts=experts, expert_capacity=capacity,
                                      router_jitter_noise=0.0, dropout_rate=0.0, dense_act_fn="relu")
    return SwitchTransformersDenseActDense(config).eval(), SwitchTransformersSparseMLP(config).eval()


def sparse_forward(module, x):
    """The sparse MLP's output plus its two router losses, as the HF model computes them."""
    from transformers.models.switch_transformers.modeling_switch_transformers import (
        load_balancing_loss_func,
        router_z_loss_func,
    )

    y = module(x)
    logits = module.router.classifier(x)
    losses = 1e-3 * load_balancing_loss_func(logits.softmax(-1), logits.argmax(-1)) + 1e-3 * router_z_loss_func(logits)
    return y, losses


def sparse_objective(module, x):
    y, losses = sparse_forward(module, x)
    return y.sum() + losses


def main():
    parser = peer_arguments(__doc__, "ffn")
    parser.add_argument("--tokens", default="1024,4096,16384")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--ffn-dim", type=int, default=2048)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--capacity-factor", type=float, default=1.25)
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    torch.manual_seed(0)
    attend = {(r["layer"], r["tokens"]): r for r in load_attend(args.attend)}
    rows = []
    for tokens in [int(t) for t in args.tokens.split(",")]:
        n = min(args.seq_len, tokens)
        capacity = math.ceil(n / args.experts * args.capacity_factor)
        dense, sparse = layers(args.width, args.ffn_dim, args.experts, capacity)
        x = torch.randn(tokens // n, n, args.width)
        runs = {
            "dense": (lambda x: dense(x), lambda x: dense(x).sum()),
            f"switch-{args.experts}": (lambda x: sparse(x), lambda x: sparse_objective(sparse, x)),
        }
        for name, (forward_fn, objective) in runs.items():
            with torch.no_grad():
                forward = median_seconds(lambda: forward_fn(x), args.runs, warmup=3) * 1000
            leaf = x.clone().requires_grad_()
            both = median_seconds(lambda: objective(leaf).backward(), args.runs, warmup=2) * 1000
            mine = attend.get((name, tokens))
            ratio = f"{mine['forwardMilliseconds'] / forward:.2f}" if mine else "-"
            ratio_both = f"{mine['backwardMilliseconds'] / both:.2f}" if mine else "-"
            rows.append((name, tokens, f"{forward:.1f}", f"{both:.1f}", f"{tokens / forward * 1000:.0f}", ratio,
                         ratio_both))
    print(f"# PyTorch {torch.__version__}, {threads} threads, width {args.width}, d_ff {args.ffn_dim}, "
          f"{args.experts} experts, sequences of {args.seq_len}, capacity factor {args.capacity_factor}")
    print(table(["peer", "tokens", "forward ms", "fwd+bwd ms", "fwd tokens/s", "Attend/peer fwd",
                 "Attend/peer fwd+bwd"], rows))


if __name__ == "__main__":
    main()
