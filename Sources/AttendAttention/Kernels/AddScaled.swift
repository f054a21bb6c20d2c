// The short axpy of the kernels' inner loops: one head's or one map row's worth of floats, too few
// for a BLAS call to pay for itself. Banded, map-convolution, hypercube and tree kernels share it.
import AttendCore

/// y[0..<count] += a·x[0..<count], eight lanes at a time.
@inline(__always)
func addScaled(
    _ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
) {
    let scale = Float8(repeating: a)
    var i = 0
    while i + 8 <= count {
        store8(load8(y, i) + scale * load8(x, i), y, i)
        i += 8
    }
    while i < count {
        y[i] += a * x[i]
        i += 1
    }
}
