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
        query: Tensor, key: Tensor, value: Tensor, globalKey: Tensor, globalValue: Tensor, scale: Float,
        window: LocalWindow, visibility: GlobalVisibility, keyMask: Tensor? = nil, globalMask: Tensor? = nil
    ) -> Tensor {
        precondition(query.rank == 4, "globalLocalAttention: query must be [b, n, h, d], got \(query.shape)")
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let r = globalKey.shape.count == 4 ? globalKey.shape[1] : -1
        precondition(key.shape == query.shape && value.shape == query.shape, "globalLocalAttention: key \(key.shape) / value \(value.shape) vs query \(query.shape)")
        precondition(globalKey.shape == [b, r, h, d] && globalValue.shape == globalKey.shape, "globalLocalAttention: global keys \(globalKey.shape) / values \(globalValue.shape) for heads \(query.shape)")
        if let keyMask { precondition(keyMask.shape == [b, n], "globalLocalAttention: key mask \(keyMask.shape), expected [\(b), \(n)]") }
        if let globalMask { precondition(globalMask.shape == [b, r], "globalLocalAttention: global mask \(globalMask.shape), expected [\(b), \(r)]") }
        switch window {
        case .segments(let w, let e): precondition(w >= 1 && e >= 0, "globalLocalAttention: window \(window)")
        case .trailing(let w): precondition(w >= 1, "globalLocalAttention: window \(window)")
        }
        if case .chunked(let l, let rank) = visibility { precondition(l >= 1 && rank >= 1, "globalLocalAttention: \(visibility)") }
        let layout = HeadLayout.positionMajor(length: n, heads: h, dimension: d)
        let globalLayout = HeadLayout.positionMajor(length: r, heads: h, dimension: d)
        func withProblem<R>(_ body: (GlobalLocalProblem) -> R) -> R {
            withBaseAddresses(query, key, value) { q, k, v in
                globalKey.withUnsafeBufferPointer { gks in
                    globalValue.withUnsafeBufferPointer { gvs in
                        withOptionalPointer(keyMask) { km in
                            withOptionalPointer(globalMask) { gm in
                                body(GlobalLocalProblem(
                                    batch: b, heads: h, length: n, globals: r, dimension: d, scale: scale,
                                    window: window, visibility: visibility, keyMask: km, globalMask: gm,
                                    query: q, key: k, value: v, layout: layout,
                                    globalKey: gks.baseAddress!, globalValue: gvs.baseAddress!, globalLayout: globalLayout))
                            }
                        }
                    }
                }
            }
        }
        var logSumExp = [Float](repeating: 0, count: b * h * n)
        let output = Tensor.filled(shape: [b, n, h, d]) { out in
            withProblem { GlobalLocalSoftmaxAttention.forward($0, output: out.baseAddress!, logSumExp: &logSumExp) }
        }
        return output.recorded(.custom, from: [query, key, value, globalKey, globalValue]) { dy in
            let shapes = [query.shape, key.shape, value.shape, globalKey.shape, globalValue.shape]
            return kernelGradients(shapes, output: output, outputGradient: dy) { o, g, dx in
                withProblem { p in
                    GlobalLocalSoftmaxAttention.backward(
                        p, output: o, outputGradient: g, logSumExp: logSumExp,
                        queryGradient: dx[0], keyGradient: dx[1], valueGradient: dx[2],
                        globalKeyGradient: dx[3], globalValueGradient: dx[4])
                }
            }
        }
    }
}
