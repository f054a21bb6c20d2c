// The only file that calls OpenBLAS. Matrices are row-major; transposes are passed as flags so no
// operand is ever copied.
import COpenBLAS

/// Thin wrappers over CBLAS single-precision routines.
public enum BLAS {
    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices.
    ///
    /// op(A) is m×k and op(B) is k×n. `lda`, `ldb` and `ldc` are the row strides of A, B and C as
    /// stored (so for a transposed A stored k×m, `lda` ≥ m).
    @inlinable public static func gemm(
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

    /// OpenBLAS's configured thread count.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }
}
