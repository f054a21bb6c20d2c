// Global+local softmax attention (one softmax over [landmarks ‖ window]) as a differentiable op on
// [b, n, h, d] heads, through Kernels/GlobalLocalSoftmaxAttention.swift. Transformer-LS uses it for
// both its bidirectional (segment windows, all landmarks) and causal (trailing window, landmarks of
// earlier chunks) forms.
import AttendCore

extension Tensor {
    /// softmax(scale·q·[k̄ ‖ k_window]ᵀ)·[v̄ ‖ v_window] per query row, in O(n·(R + window)·d) time and
    /// O(n) extra memory.
    ///
    /// - Parameters:
    ///   - query, key, value: [b, n, h, d].
    ///   - globalKey, globalValue: [b, R, h, d] landmarks.
    ///   - keyMask: [b, n], 0 for padding: such keys are hidden and such query rows output 0.
    ///   - globalMask: [b, R], 0 for landmarks no query may see.
    /// - Returns: [b, n, h, d].
    public static func globalLocalAttention(
        query: Tensor, key: Tensor, value: Tensor, globalKey: Tensor, globalValue: Tensor,
        scale: Float,
        window: LocalWindow, visibility: GlobalVisibility, keyMask: Tensor? = nil,
        globalMask: Tensor? = nil
    ) -> Tensor {
        precondition(
            query.rank == 4, "globalLocalAttention: query must be [b, n, h, d], got \(query.shape)")
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let r = globalKey.shape.count == 4 ? globalKey.shape[1] : -1
        precondition(
            key.shape == query.shape && value.shape == query.shape,
            "globalLocalAttention: key \(key.shape) / value \(value.shape) vs query \(query.shape)")
        precondition(
            globalKey.shape == [b, r, h, d] && globalValue.shape == globalKey.shape,
            "globalLocalAttention: global keys \(globalKey.shape) / values \(globalValue.shape) for heads \(query.shape)"
        )
        requireShape("globalLocalAttention", "key mask", keyMask, [b, n])
        requireShape("globalLocalAttention", "global mask", globalMask, [b, r])
        switch window {
        case .segments(let w, let e):
            precondition(w >= 1 && e >= 0, "globalLocalAttention: window \(window)")
        case .trailing(let w): precondition(w >= 1, "globalLocalAttention: window \(window)")
        }
        if case .chunked(let l, let rank) = visibility {
            precondition(l >= 1 && rank >= 1, "globalLocalAttention: \(visibility)")
        }
        return fused(
            GlobalLocalAttentionOp(
                query: query, key: key, value: value, globalKey: globalKey,
                globalValue: globalValue,
                scale: scale, window: window, visibility: visibility, keyMask: keyMask,
                globalMask: globalMask))
    }
}

/// `Tensor.globalLocalAttention` as a kernel op: inputs q, k, v, k̄, v̄; constants the key and
/// global masks; saved the rows' log-sum-exp.
struct GlobalLocalAttentionOp: KernelOp {
    static let op = Op("globalLocalAttention")
    static let backwardReadsOutput = true
    let query: Tensor, key: Tensor, value: Tensor, globalKey: Tensor, globalValue: Tensor,
        scale: Float
    let window: LocalWindow, visibility: GlobalVisibility, keyMask: Tensor?, globalMask: Tensor?

    var inputs: [Tensor?] { [query, key, value, globalKey, globalValue] }
    var constants: [Tensor?] { [keyMask, globalMask] }
    var outputShape: [Int] { query.shape }

    func problem(_ x: KernelBuffers) -> GlobalLocalProblem {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let r = globalKey.shape[1]
        return GlobalLocalProblem(
            batch: b, heads: h, length: n, globals: r, dimension: d, scale: scale,
            window: window, visibility: visibility, keyMask: x.constant(0),
            globalMask: x.constant(1),
            query: x.input(0), key: x.input(1), value: x.input(2),
            layout: .positionMajor(length: n, heads: h, dimension: d),
            globalKey: x.input(3), globalValue: x.input(4),
            globalLayout: .positionMajor(length: r, heads: h, dimension: d))
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var logSumExp = rowStatistics(query)
        GlobalLocalSoftmaxAttention.forward(problem(x), output: output, logSumExp: &logSumExp)
        return logSumExp
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved logSumExp: [Float]) {
        GlobalLocalSoftmaxAttention.backward(
            problem(x), output: g.output, outputGradient: g.outputGradient, logSumExp: logSumExp,
            queryGradient: g.input(0), keyGradient: g.input(1), valueGradient: g.input(2),
            globalKeyGradient: g.input(3), globalValueGradient: g.input(4))
    }
}

extension GlobalLocalAttentionOp {
    /// Segments of 3 over 6 positions (the last padded) and 2 landmarks.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let qkv = (11...13).map { Tensor.randomNormal([1, 6, 2, 3], seed: UInt64($0)) }
        let landmarks = (14...15).map { Tensor.randomNormal([1, 2, 2, 3], seed: UInt64($0)) }
        return [
            KernelOpExample("segments of 3 and 2 landmarks", qkv + landmarks) {
                Tensor.globalLocalAttention(
                    query: $0[0], key: $0[1], value: $0[2], globalKey: $0[3], globalValue: $0[4],
                    scale: 0.6, window: .segments(size: 3, extra: 1), visibility: .all,
                    keyMask: mask)
            }
        ]
    }
}
