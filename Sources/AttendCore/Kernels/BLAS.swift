// The only file that calls OpenBLAS. Matrices are row-major; transposes are passed as flags so no
// operand is ever copied. OpenBLAS runs single-threaded (see Parallel.swift); a large product is cut
// into row blocks (or column blocks when it has few rows) that run on our threads. Each block is the
// same single-threaded kernel over the same K order, so results do not depend on the thread count.
import COpenBLAS

/// Thin wrappers over CBLAS single-precision routines.
public enum BLAS {
    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices.
    ///
    /// op(A) is m×k and op(B) is k×n. `lda`, `ldb` and `ldc` are the row strides of A, B and C as
    /// stored (so for a transposed A stored k×m, `lda` ≥ m).
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched for k = 0 only when beta = 1; make the result explicit.
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        ensureSingleThreaded()
        let threads = Parallel.threadCount
        guard threads > 1, m * n * k >= parallelWork, !Parallel.isInsideRegion else {
            kernel(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let splitRows = m >= n || m >= 64 * threads
        let extent = splitRows ? m : n
        let blocks = min(threads, max(extent / 16, 1))
        let size = ((extent + blocks - 1) / blocks + 15) / 16 * 16
        let (ap, bp, cp) = (SendablePointer(a), SendablePointer(b), SendablePointer(c))
        Parallel.forEach(blocks) { i in
            let start = i * size
            let count = min(size, extent - start)
            if count <= 0 { return }
            if splitRows {
                // Rows of C are rows of op(A): row r of A, or column r when A is stored transposed.
                let aBlock = UnsafePointer(ap.base + (transposeA ? start : start * lda))
                kernel(
                    transposeA, transposeB, count, n, k, alpha, aBlock, lda, UnsafePointer(bp.base),
                    ldb,
                    beta, cp.base + start * ldc, ldc)
            } else {
                // Columns of C are columns of op(B): column j of B, or row j when B is stored transposed.
                let bBlock = UnsafePointer(bp.base + (transposeB ? start * ldb : start))
                kernel(
                    transposeA, transposeB, m, count, k, alpha, UnsafePointer(ap.base), lda, bBlock,
                    ldb,
                    beta, cp.base + start, ldc)
            }
        }
    }

    /// Multiply-adds above which a product is split across threads.
    static let parallelWork = 1 << 21

    /// Switches OpenBLAS to one thread (once): Attend's own threads do the splitting.
    public static func ensureSingleThreaded() { _ = singleThreaded }

    private static let singleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// One single-threaded sgemm call.
    @inline(__always)
    static func kernel(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = alpha·op(A)·x + beta·y for a row-major m×n matrix A.
    @inlinable public static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        if m == 0 || n == 0 { return }
        ensureSingleThreaded()
        cblas_sgemv(
            CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a,
            Int32(lda), x, 1, beta, y, 1)
    }

    /// y += alpha·x.
    @inlinable public static func axpy(
        count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        if count == 0 { return }
        cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
    }

    /// The CPU kernel family OpenBLAS picked at load (e.g. "Haswell", "SkylakeX").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's own thread count (1 once Attend has run a product).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }
}
