// Cumulative sums along one axis of a buffer viewed as [outer, length, inner], inclusive or
// exclusive, forwards or backwards. Whole inner rows are added at once.

/// Prefix-sum kernels.
public enum Scan {
    /// y[o, l, :] = Σ x[o, j, :] over j ≤ l (j < l when exclusive; j ≥ l / j > l when reverse).
    public static func cumulativeSum(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        outer: Int, length: Int, inner: Int, reverse: Bool, exclusive: Bool
    ) {
        let xs = SendablePointer(x)
        let ys = SendablePointer(y)
        Parallel.forEachChunk(outer, grain: max(1, Elementwise.grain / max(length * inner, 1))) {
            range in
            var running = [Float](repeating: 0, count: inner)
            running.withUnsafeMutableBufferPointer { acc in
                let total = acc.baseAddress!
                for o in range {
                    total.update(repeating: 0, count: inner)
                    for step in 0..<length {
                        let l = reverse ? length - 1 - step : step
                        let offset = (o * length + l) * inner
                        if exclusive {
                            for i in 0..<inner {
                                let v = xs.base[offset + i]
                                ys.base[offset + i] = total[i]
                                total[i] += v
                            }
                        } else {
                            for i in 0..<inner {
                                total[i] += xs.base[offset + i]
                                ys.base[offset + i] = total[i]
                            }
                        }
                    }
                }
            }
        }
    }
}
