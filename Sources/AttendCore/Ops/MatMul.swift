// Matrix products through BLAS. Transposes are flags, never copies. Leading axes are batch axes:
// equal on both sides, or absent on one side (that operand is shared by every batch). A shared
// right-hand matrix with an untransposed left side is one large GEMM over all rows.

extension Tensor {
    /// op(a)·op(b) over the last two axes, with leading batch axes.
    ///
    /// `a` is `[…, m, k]` (`[…, k, m]` when `transposeA`), `b` is `[…, k, n]` (`[…, n, k]` when
    /// `transposeB`); the result is `[…, m, n]`.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        precondition(
            a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
        let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
        let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        precondition(
            k == kb,
            "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")"
        )
        let batchA = Array(a.shape.dropLast(2))
        let batchB = Array(b.shape.dropLast(2))
        precondition(
            batchA == batchB || batchA.isEmpty || batchB.isEmpty,
            "matmul: batch axes \(batchA) and \(batchB) must be equal or one side unbatched")
        let batch = batchA.isEmpty ? batchB : batchA
        let y = Tensor.filled(shape: batch + [m, n]) { out in
            MatMulKernel.run(
                a: a.storage.base, b: b.storage.base, c: out.baseAddress!,
                batch: Shape.count(batch), aBatched: !batchA.isEmpty, bBatched: !batchB.isEmpty,
                m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        }
        return y.recorded(.matmul, from: [a, b]) { dy, needs in
            let da: Tensor? =
                !needs[0]
                ? nil
                : transposeA
                    ? matmul(b, dy, transposeA: transposeB, transposeB: true)  // op(B)·dYᵀ
                    : matmul(dy, b, transposeB: !transposeB)  // dY·op(B)ᵀ
            let db: Tensor? =
                !needs[1]
                ? nil
                : transposeB
                    ? matmul(dy, a, transposeA: true, transposeB: transposeA)  // dYᵀ·op(A)
                    : matmul(a, dy, transposeA: !transposeA)  // op(A)ᵀ·dY
            return [da?.summed(toShape: a.shape), db?.summed(toShape: b.shape)]
        }
    }
}

/// Batched GEMM scheduling.
public enum MatMulKernel {
    /// Below this many multiply-adds per matrix, batches run on separate threads with single-threaded
    /// BLAS; above it, one multi-threaded BLAS call per matrix is faster.
    static let smallMatrixWork = 1 << 21

    /// C[i] = op(A[i])·op(B[i]) for i in 0..<batch; an unbatched operand is shared.
    public static func run(
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        batch: Int, aBatched: Bool, bBatched: Bool, m: Int, n: Int, k: Int,
        transposeA: Bool, transposeB: Bool
    ) {
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        // A shared B under an untransposed batched A: all batches form one [batch·m, k] matrix.
        if aBatched && !bBatched && !transposeA {
            BLAS.gemm(
                transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k, a: a, lda: lda,
                b: b, ldb: ldb, c: c, ldc: n)
            return
        }
        let strideA = aBatched ? m * k : 0
        let strideB = bBatched ? k * n : 0
        let strideC = m * n
        let one = { (i: Int) in
            BLAS.gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                c: c + i * strideC, ldc: n)
        }
        if batch > 1 && m * n * k < smallMatrixWork {
            Parallel.forEach(batch, one)
        } else {
            for i in 0..<batch { one(i) }
        }
    }
}
