"""PyTorch (CPU) timings of the operations `attend bench core` measures, on the same shapes and
thread count, and the Attend/PyTorch ratios when given Attend's JSON.

    attend bench core --json core.json
    python Benchmarks/peers/core.py --attend core.json --threads 2
"""

import torch
import torch.nn.functional as F

from common import configure_threads, load_attend, median_seconds, peer_arguments, table


def main():
    args = peer_arguments(__doc__, "core").parse_args()
    threads = configure_threads(args.threads)
    torch.manual_seed(0)
    rows = []  # (operation, shape, torch value, unit)
    for n in [128, 256, 512, 1024, 2048]:
        a, b = torch.randn(n, n), torch.randn(n, n)
        t = median_seconds(lambda: a @ b, args.runs)
        rows.append(("matmul", f"{n}×{n}×{n}", 2 * n**3 / t / 1e9, "GFLOP/s"))
    for bh, n in [(8, 512), (8, 2048), (64, 512), (8, 4096)]:
        q, k = torch.randn(bh, n, 64), torch.randn(bh, n, 64)
        t = median_seconds(lambda: torch.bmm(q, k.transpose(1, 2)), args.runs)
        rows.append(("batched matmul q·kᵀ", f"{bh}×{n}×{n}×64", 2 * bh * n * n * 64 / t / 1e9, "GFLOP/s"))
    count = 1 << 24
    x = torch.randn(count // 1024, 1024)
    for name, fn in [
        ("exp", torch.exp),
        ("gelu (erf)", F.gelu),
        ("gelu (tanh)", lambda v: F.gelu(v, approximate="tanh")),
        ("softmax rows of 1024", lambda v: torch.softmax(v, dim=-1)),
    ]:
        t = median_seconds(lambda: fn(x), args.runs)
        rows.append((name, "16M", count / t / 1e9, "Gelem/s"))
    gamma, beta = torch.ones(1024), torch.zeros(1024)
    t = median_seconds(lambda: F.layer_norm(x, (1024,), gamma, beta, 1e-5), args.runs)
    rows.append(("layernorm forward", "16M", count / t / 1e9, "Gelem/s"))
    xl, gl, bl = x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_()
    upstream = torch.randn_like(x)

    def both():
        y = F.layer_norm(xl, (1024,), gl, bl, 1e-5)
        torch.autograd.grad(y, (xl, gl, bl), upstream)

    t = median_seconds(both, args.runs)
    rows.append(("layernorm fwd+bwd", "16M", count / t / 1e9, "Gelem/s"))

    attend = {(r["operation"], r["shape"]): r["value"] for r in load_attend(args.attend)}
    out = []
    for op, shape, value, unit in rows:
        mine = attend.get((op, shape))
        ratio = f"{mine / value:.2f}" if mine else "-"
        out.append((op, shape, f"{value:.2f} {unit}", f"{mine:.2f}" if mine else "-", ratio))
    print(f"# PyTorch {torch.__version__}, {threads} threads")
    print(table(["operation", "shape", "PyTorch", "Attend", "Attend/PyTorch (higher is better)"], out))


if __name__ == "__main__":
    main()
