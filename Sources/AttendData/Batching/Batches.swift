// An epoch of batches over one split, in a deterministic order: the training split is shuffled
// with a permutation drawn from (task seed, epoch), the others keep their natural order. Batches
// are made on demand and can be addressed by position, so a resumed run can continue from step k
// of an epoch without replaying the steps before it.
import AttendCore

/// The batches of one epoch of one split, built lazily from the task's examples.
public struct Batches: RandomAccessCollection, Sendable {
    /// The task the examples come from.
    public let task: any SequenceTask
    /// The split they come from.
    public let split: Split
    /// Examples per batch (the last batch may be smaller unless `dropsLast`).
    public let batchSize: Int
    /// How sequences are made rectangular.
    public let padding: Padding
    /// The order in which the split's examples are visited this epoch.
    public let order: [Int]

    /// Batches of `split` for `epoch`. `shuffled` defaults to true for training only; `seed`
    /// (default: the task's) picks the permutation; `dropsLast` drops a final partial batch.
    public init(
        task: any SequenceTask, split: Split, batchSize: Int, epoch: Int = 0,
        shuffled: Bool? = nil, seed: UInt64? = nil, padding: Padding = .longest,
        dropsLast: Bool = false
    ) {
        precondition(batchSize > 0, "batch size must be positive, got \(batchSize)")
        precondition(epoch >= 0, "epoch must be non-negative, got \(epoch)")
        self.task = task
        self.split = split
        self.batchSize = batchSize
        self.padding = padding
        let count = task.count(of: split)
        var order: [Int]
        if shuffled ?? (split == .train) {
            let base = RandomGenerator.mix(seed ?? task.seed, 0x5348_5546_464C_45)  // "SHUFFLE"
            var generator = RandomGenerator(seed: base, stream: UInt64(epoch))
            order = generator.permutation(count)
        } else {
            order = Array(0..<count)
        }
        if dropsLast { order.removeLast(count % batchSize) }
        self.order = order
    }

    /// Index of the first batch.
    public var startIndex: Int { 0 }
    /// One past the last batch.
    public var endIndex: Int { (order.count + batchSize - 1) / batchSize }

    /// Batch `position` of the epoch.
    public subscript(position: Int) -> Batch {
        precondition(indices.contains(position), "batch \(position) outside 0..<\(endIndex)")
        let start = position * batchSize
        let members = Array(order[start..<Swift.min(start + batchSize, order.count)])
        let examples = members.map { task.example($0, in: split) }
        return Batch.collate(examples, indices: members, padding: padding, padID: task.padID)
    }
}

extension SequenceTask {
    /// The batches of `split` for `epoch`; see `Batches.init` for the options.
    public func batches(
        _ split: Split, batchSize: Int, epoch: Int = 0, shuffled: Bool? = nil,
        padding: Padding = .longest, dropsLast: Bool = false
    ) -> Batches {
        Batches(
            task: self, split: split, batchSize: batchSize, epoch: epoch, shuffled: shuffled,
            padding: padding, dropsLast: dropsLast)
    }
}
