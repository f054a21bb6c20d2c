"""PyTorch timings of the shapes `attend bench attention` measures, on the same thread count:
scaled_dot_product_attention (the SDPA kernel alone, on [b, h, n, d] heads, compared with Attend's
`full-kernel` row) and the peer packages' self-attention modules on [b, n, h·d] hidden states
(performer-pytorch, linformer, HF BigBird block-sparse, FLASH-pytorch's FLASH layer for `flash-gau`,
HF DeBERTa-v2 disentangled attention), compared with Attend's mixers of the same name. With --attend it
prints Attend/peer time ratios (below 1 means Attend is faster).

    attend bench attention --lengths 1024,4096 --backward --json attention.json
    python Benchmarks/peers/attention.py --attend attention.json --threads 2

long-short-transformer needs its own environment (see scripts/fixtures/README.md); run this script
there with --peers long-short.
"""
import math

import torch
import torch.nn.functional as F

from common import configure_threads, load_attend, median_seconds, peer_arguments, table


def sdpa(b, n, h, d, causal):
    q, k, v = (torch.randn(b, h, n, d) for _ in range(3))
    return (q, k, v), lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def performer(b, n, h, d, causal):
    from performer_pytorch import SelfAttention

    module = SelfAttention(dim=h * d, heads=h, dim_head=d, causal=causal, nb_features=256).eval()
    return (torch.randn(b, n, h * d),), lambda x: module(x)


def linformer(b, n, h, d, causal):
    from linformer import LinformerSelfAttention

    if causal:
        return None
    module = LinformerSelfAttention(dim=h * d, seq_len=n, heads=h, dim_head=d, k=256).eval()
    return (torch.randn(b, n, h * d),), lambda x: module(x)


def bigbird(b, n, h, d, causal):
    from transformers import BigBirdConfig
    from transformers.models.big_bird.modeling_big_bird import BigBirdBlockSparseAttention, BigBirdModel

    if causal or n % 64:
        return None
    config = BigBirdConfig(hidden_size=h * d, num_attention_heads=h, attention_type="block_sparse",
                           block_size=64, num_random_blocks=3, max_position_embeddings=max(n, 4096))
    module = BigBirdBlockSparseAttention(config, seed=0).train()  # train(): HF draws real random blocks
    mask = torch.ones(b, n)
    blocked, band, from_mask, to_mask = BigBirdModel.create_masks_for_block_sparse_attn(mask, 64)

    def run(x):
        return module(x, band_mask=band, from_mask=from_mask, to_mask=to_mask,
                      from_blocked_mask=blocked, to_blocked_mask=blocked)[0]

    return (torch.randn(b, n, h * d),), run


def deberta(b, n, h, d, causal):
    """HF DisentangledSelfAttention (v3 settings: p2c|c2p, 256 log buckets over 512, share_att_key) plus
    an output projection, the same work as Attend's `deberta` mixer: the LayerNorm of the shared relative
    table is timed too, as Attend's standalone mixer prepares its table on every call. The [b, 1, n, n]
    query⊗key mask is built once outside the timing (the HF encoder builds it once per model call)."""
    from transformers import DebertaV2Config
    from transformers.models.deberta_v2.modeling_deberta_v2 import DisentangledSelfAttention

    if causal:
        return None
    c = h * d
    config = DebertaV2Config(hidden_size=c, num_attention_heads=h, relative_attention=True,
                             pos_att_type="p2c|c2p", position_buckets=256, max_relative_positions=512,
                             share_att_key=True, norm_rel_ebd="layer_norm", hidden_dropout_prob=0.0,
                             attention_probs_dropout_prob=0.0)
    attention = DisentangledSelfAttention(config).eval()
    table = torch.nn.Embedding(512, c)
    norm = torch.nn.LayerNorm(c, eps=1e-7)
    output = torch.nn.Linear(c, c)
    mask = torch.ones(b, 1, n, n, dtype=torch.bool)

    def run(x):
        return output(attention(x, mask, rel_embeddings=norm(table.weight))[0])

    return (torch.randn(b, n, c),), run


def long_short(b, n, h, d, causal):
    from long_short_transformer import LongShortTransformer  # noqa: F401 (import check)
    from long_short_transformer.long_short_transformer import LongShortAttention

    module = LongShortAttention(dim=h * d, heads=h, dim_head=d, causal=causal, window_size=64,
                                segment_size=16, r=32).eval()
    return (torch.randn(b, n, h * d),), lambda x: module(x)


def flash_gau(b, n, h, d, causal):
    """FLASH-pytorch 0.1.9's FLASH layer with Attend's defaults (s = 128, e = 2c, chunks of 256, T5 bias,
    no token shift or rotary) and no norm: Attend's mixer excludes the block's pre-norm (FLASH's
    residual add is one cheap elementwise pass, kept)."""
    from flash_pytorch import FLASH

    module = FLASH(dim=h * d, group_size=256, query_key_dim=128, expansion_factor=2.0, causal=causal,
                   norm_klass=torch.nn.Identity).eval()
    return (torch.randn(b, n, h * d),), lambda x: module(x)


# Peers that hold whole [b, h, n, n] tensors, with how many of them a forward+backward keeps alive
# (DeBERTa: scores, c2p and p2c gathers, probabilities and their gradients). Lengths past the memory
# budget are reported as skipped instead of exhausting the machine's memory.
SCORE_COPIES = {"deberta": 8}

PEERS = {"full-kernel": sdpa, "performer": performer, "linformer": linformer, "bigbird": bigbird,
         "long-short": long_short, "flash-gau": flash_gau, "deberta": deberta}


def main():
    parser = peer_arguments(__doc__, "attention")
    parser.add_argument("--peers", default="full-kernel,performer,linformer,bigbird,deberta")
    parser.add_argument("--lengths", default="512,1024,2048,4096")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--memory-budget-gib", type=float, default=8.0,
                        help="skip peers whose n×n tensors would need more than this")
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    torch.manual_seed(0)
    attend = {(r["mixer"], r["length"]): r for r in load_attend(args.attend)}
    rows = []
    for n in [int(x) for x in args.lengths.split(",")]:
        for name in args.peers.split(","):
            need = SCORE_COPIES.get(name, 0) * args.batch * args.heads * n * n * 4 / 2**30
            if need > args.memory_budget_gib:
                rows.append((name, n, f"skipped: needs ~{need:.0f} GiB", "-", "-", "-"))
                continue
            made = PEERS[name](args.batch, n, args.heads, args.head_dim, args.causal)
            if made is None:
                continue
            inputs, fn = made
            with torch.no_grad():
                forward = median_seconds(lambda: fn(*inputs), args.runs) * 1000
            both = None
            if args.backward:
                leaves = [x.clone().requires_grad_() for x in inputs]
                both = median_seconds(lambda: fn(*leaves).sum().backward(), args.runs) * 1000
            mine = attend.get((name, n))
            ratio = f"{mine['forwardMilliseconds'] / forward:.2f}" if mine else "-"
            ratio_both = (f"{mine['backwardMilliseconds'] / both:.2f}"
                          if mine and both and mine.get("backwardMilliseconds") else "-")
            rows.append((name, n, f"{forward:.1f}", f"{both:.1f}" if both else "-", ratio, ratio_both))
    print(f"# PyTorch {torch.__version__}, {threads} threads, batch {args.batch}, heads {args.heads}, "
          f"head dim {args.head_dim}{', causal' if args.causal else ''}")
    print(table(["peer", "n", "forward ms", "fwd+bwd ms", "Attend/peer fwd", "Attend/peer fwd+bwd"], rows))


if __name__ == "__main__":
    main()
