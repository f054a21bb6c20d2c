// Pointer plumbing shared by the differentiable ops that wrap buffer kernels (fused, segmented,
// disentangled, MGK, hypercube, global+local and linear attention, FAVOR+ features, relu² chunks):
// tensors' base addresses for the length of a call, optional operands as nil pointers, the sizes
// and attention problem of [b, n, h, d] heads, and the backward step that hands a kernel zeroed
// gradient buffers and returns them as tensors.
import AttendCore

/// Runs `body` with the base addresses of three tensors (usually q, k and v).
func withBaseAddresses<R>(
    _ a: Tensor, _ b: Tensor, _ c: Tensor,
    _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> R
) -> R {
    a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
            c.withUnsafeBufferPointer { z in body(x.baseAddress!, y.baseAddress!, z.baseAddress!) }
        }
    }
}

/// Runs `body` with the tensor's base address, or nil when there is no tensor.
func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// The sizes of q [b, n, h, d], k [b, m, h, d], v [b, m, h, e] and an optional [b, m] key mask,
/// which must agree (`op` names the caller when they do not).
func attentionSizes(
    _ op: String, query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?
) -> (b: Int, n: Int, m: Int, h: Int, d: Int, e: Int) {
    precondition(query.rank == 4 && key.rank == 4 && value.rank == 4, "\(op): q, k, v must be [b, n, h, d]")
    let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (m, e) = (key.shape[1], value.shape[3])
    precondition(key.shape == [b, m, h, d], "\(op): key \(key.shape) vs query \(query.shape)")
    precondition(value.shape == [b, m, h, e], "\(op): value \(value.shape) vs key \(key.shape)")
    if let keyMask { precondition(keyMask.shape == [b, m], "\(op): key mask \(keyMask.shape), expected [\(b), \(m)]") }
    return (b, n, m, h, d, e)
}

/// Runs `body` with the `AttentionProblem` of q [b, n, h, d], k [b, m, h, d] and v [b, m, h, e]
/// as the projections lay them out (`HeadLayout.positionMajor`), with an optional [b, m] key mask.
func withAttentionProblem<R>(
    query: Tensor, key: Tensor, value: Tensor, scale: Float, causal: Bool, keyMask: Tensor?,
    _ body: (AttentionProblem) -> R
) -> R {
    let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (m, e) = (key.shape[1], value.shape[3])
    return withBaseAddresses(query, key, value) { q, k, v in
        withOptionalPointer(keyMask) { mask in
            body(AttentionProblem(
                batch: b, heads: h, queries: n, keys: m, dimension: d, valueDimension: e, scale: scale,
                causal: causal, keyMask: mask,
                query: q, queryLayout: .positionMajor(length: n, heads: h, dimension: d),
                key: k, keyLayout: .positionMajor(length: m, heads: h, dimension: d),
                value: v, valueLayout: .positionMajor(length: m, heads: h, dimension: e)))
        }
    }
}

/// The backward step of a kernel-backed op: runs `kernel` with the forward output, its gradient and
/// zeroed buffers of `shapes`, and returns those buffers, in order, as the inputs' gradients.
func kernelGradients(
    _ shapes: [[Int]], output: Tensor, outputGradient: Tensor,
    _ kernel: (
        _ output: UnsafePointer<Float>, _ outputGradient: UnsafePointer<Float>,
        _ gradients: [UnsafeMutablePointer<Float>]
    ) -> Void
) -> [Tensor] {
    output.withUnsafeBufferPointer { o in
        outputGradient.withUnsafeBufferPointer { g in
            zeroTensors(shapes[...]) { kernel(o.baseAddress!, g.baseAddress!, $0) }
        }
    }
}

/// Zero tensors of `shapes`, which `body` writes through their base addresses (in order).
func zeroTensors(_ shapes: ArraySlice<[Int]>, writtenBy body: ([UnsafeMutablePointer<Float>]) -> Void) -> [Tensor] {
    guard let shape = shapes.first else {
        body([])
        return []
    }
    var first = Tensor.zeros(shape)
    var rest: [Tensor] = []
    first.withUnsafeMutableBufferPointer { buffer in
        rest = zeroTensors(shapes.dropFirst()) { body([buffer.baseAddress!] + $0) }
    }
    return [first] + rest
}
