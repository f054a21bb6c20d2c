// Gradient averaging in a few large all-reduce calls. The trainable parameters, in the optimizer's
// order, are laid end to end as one flat vector of P elements; that vector is cut into buckets of at
// most `capacity` elements, so a step makes ⌈P / capacity⌉ calls however many tensors the model has
// (PyTorch DistributedDataParallel's buckets, Li et al., 2020, without the overlap with the backward
// pass: Attend's autograd returns all gradients at once). A parameter may straddle two buckets. One
// staging buffer of `capacity` floats is reused for every bucket and step.
//
// Each process contributes w_r·g_r and every process divides the sum by W = Σ_r w_r, so with
// w_r = the targets process r counted, N processes on shards of a batch get the gradient of the
// loss averaged over the whole batch, exactly what one process computes on it.
import AttendCore
import AttendNN

/// The flat layout of a model's gradients and the buckets it is reduced in.
public final class GradientBuckets {
    /// A contiguous run of one parameter's elements inside one bucket.
    public struct Piece: Equatable, Sendable {
        /// Index into `parameters`.
        public let parameter: Int
        /// Elements of that parameter (flattened).
        public let elements: Range<Int>
        /// Where they start in the bucket.
        public let offset: Int
    }

    /// 16 MiB of float32 per bucket: large enough that per-call latency is amortised, small enough
    /// to stage without noticeable memory.
    public static let defaultBytes = 16 << 20

    /// The parameters in flat order.
    public let parameters: [Parameter]
    /// Elements of all parameters together (P).
    public let totalCount: Int
    /// Most elements in one bucket.
    public let capacity: Int
    /// The pieces of each bucket, in flat order.
    public let buckets: [[Piece]]
    private var staging: [Float]

    /// Buckets of at most `bucketBytes` (rounded down to whole floats, at least one) over `parameters`.
    public init(parameters: [Parameter], bucketBytes: Int = GradientBuckets.defaultBytes) {
        precondition(bucketBytes > 0, "bucket size must be positive, got \(bucketBytes)")
        self.parameters = parameters
        totalCount = parameters.reduce(0) { $0 + $1.count }
        capacity = Swift.max(1, Swift.min(bucketBytes / MemoryLayout<Float>.stride, totalCount))
        var buckets: [[Piece]] = []
        var current: [Piece] = []
        var filled = 0
        for (index, parameter) in parameters.enumerated() {
            var start = 0
            while start < parameter.count {
                let take = Swift.min(parameter.count - start, capacity - filled)
                current.append(
                    Piece(parameter: index, elements: start..<(start + take), offset: filled))
                filled += take
                start += take
                if filled == capacity {
                    buckets.append(current)
                    current = []
                    filled = 0
                }
            }
        }
        if !current.isEmpty { buckets.append(current) }
        self.buckets = buckets
        staging = []
    }

    /// Elements in bucket `index`.
    public func count(ofBucket index: Int) -> Int {
        buckets[index].reduce(0) { $0 + $1.elements.count }
    }

    /// Replaces `gradients` by Σ_r weight_r·g_r / `totalWeight` over the processes of `communicator`.
    ///
    /// `present[i]` says whether any process has a gradient for parameter i (a parameter no process
    /// reached keeps no gradient, as in a single-process step); a process without one adds zeros.
    public func average(
        _ gradients: inout Gradients, weight: Float, totalWeight: Float, present: [Bool],
        over communicator: any Communicator
    ) throws {
        precondition(present.count == parameters.count, "one presence flag per parameter")
        // Take each reduced gradient out of `gradients` so it is uniquely referenced and updated in place.
        var tensors: [Tensor?] = parameters.enumerated().map { index, parameter in
            guard present[index] else { return nil }
            let g = gradients[parameter] ?? Tensor.zeros(parameter.shape)
            gradients[parameter] = nil
            return g
        }
        let inverse = 1 / totalWeight
        if staging.count < capacity { staging = [Float](repeating: 0, count: capacity) }
        for pieces in buckets {
            let count = pieces.reduce(0) { $0 + $1.elements.count }
            try staging.withUnsafeMutableBufferPointer { buffer in
                for piece in pieces {
                    let destination = buffer.baseAddress! + piece.offset
                    if let g = tensors[piece.parameter] {
                        g.withUnsafeBufferPointer { source in
                            for i in 0..<piece.elements.count {
                                destination[i] = source[piece.elements.lowerBound + i] * weight
                            }
                        }
                    } else {
                        destination.update(repeating: 0, count: piece.elements.count)
                    }
                }
                try communicator.allReduceSum(
                    UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
                for piece in pieces where tensors[piece.parameter] != nil {
                    let source = buffer.baseAddress! + piece.offset
                    tensors[piece.parameter]!.withUnsafeMutableBufferPointer { g in
                        for i in 0..<piece.elements.count {
                            g[piece.elements.lowerBound + i] = source[i] * inverse
                        }
                    }
                }
            }
        }
        for (parameter, g) in zip(parameters, tensors) where g != nil { gradients[parameter] = g }
    }
}
