// The collective operations that data-parallel training needs, behind one protocol: every process
// holds a full replica of the model, computes gradients on its own shard of each batch, and the
// group sums them (all-reduce), copies rank 0's state to the others (broadcast) and waits for each
// other (barrier). The single-process communicator makes every operation the identity, so the
// trainer has one code path; `MPICommunicator` (MPI.swift) is the multi-process one, and
// `WatchedCommunicator` puts a timeout around either. The vocabulary is MPI's (Message Passing
// Interface standard, §5 "Collective communication").
import Foundation

/// How values from every process are combined element by element.
public enum Reduction: String, Sendable {
    /// The sum over processes.
    case sum
    /// The largest value over processes.
    case maximum
}

/// A fixed group of processes that train one model together, numbered `0..<size`.
///
/// Every process must call the same collective operations in the same order with buffers of the
/// same sizes, as in MPI; a process that does not arrive leaves the others waiting, which is what
/// `WatchedCommunicator` bounds.
public protocol Communicator: AnyObject, Sendable {
    /// This process's number, `0..<size`; rank 0 writes logs, progress and checkpoints.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// What this process is doing ("step 17"); named in timeout messages.
    var phase: String { get set }
    /// Replaces `values` on every process by their element-wise sum over all processes.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Replaces `values` (small vectors: metrics, lengths, flags) by their element-wise reduction.
    func allReduce(_ values: UnsafeMutableBufferPointer<Double>, _ reduction: Reduction) throws
    /// Copies `bytes` of process `root` into `bytes` of every other process.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Returns once every process has called it.
    func barrier() throws
    /// Ends every process of the group at once with exit status `code`.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// True on the process that writes files (rank 0).
    public var isRoot: Bool { rank == 0 }

    /// The element-wise reduction of `values` over every process.
    public func allReduce(_ values: [Double], _ reduction: Reduction) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { try allReduce($0, reduction) }
        return result
    }

    /// True on every process when `flag` is true on at least one of them.
    public func any(_ flag: Bool) throws -> Bool {
        try allReduce([flag ? 1 : 0], .maximum)[0] > 0
    }

    /// Process `root`'s `data` on every process (the others pass nil).
    public func broadcast(_ data: Data?, root: Int) throws -> Data {
        var count = UInt64(data?.count ?? 0)
        try withUnsafeMutableBytes(of: &count) { try broadcast($0, root: root) }
        var bytes =
            rank == root ? [UInt8](data ?? Data()) : [UInt8](repeating: 0, count: Int(count))
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return Data(bytes)
    }

    /// Process `root`'s `value` on every process (the others pass nil), sent as JSON.
    public func broadcast<Value: Codable>(_ value: Value?, root: Int) throws -> Value {
        let encoded = try rank == root ? JSONEncoder().encode(value) : nil
        return try JSONDecoder().decode(Value.self, from: broadcast(encoded, root: root))
    }
}

/// The group of one: every collective operation leaves its buffer as it is.
public final class SingleProcessCommunicator: Communicator, @unchecked Sendable {
    /// Always 0: this process is the whole group.
    public let rank = 0
    /// Always 1.
    public let size = 1
    /// Kept for the protocol; nothing can time out with one process.
    public var phase = ""

    /// The communicator of a run that is not distributed.
    public init() {}

    /// Leaves `values` as they are: the sum over one process.
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    /// Leaves `values` as they are: the reduction over one process.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, _ reduction: Reduction)
        throws
    {}
    /// Leaves `bytes` as they are; throws when `root` is not 0.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root == 0 else { throw CommunicatorError.invalidRoot(root, size: 1) }
    }
    /// Returns at once: there is no one to wait for.
    public func barrier() throws {}
    /// Exits this process with `code`.
    public func abort(code: Int32) -> Never { exit(code) }
}

/// Problems of a distributed run, each naming what a user needs to act on.
public enum CommunicatorError: Error, CustomStringConvertible, Equatable {
    /// A collective operation did not complete in time: another process died or hung.
    case timedOut(operation: String, phase: String, seconds: Double, rank: Int, size: Int)
    /// The MPI library could not be loaded or lacks an entry point.
    case library(String)
    /// An MPI call returned an error code.
    case call(function: String, code: Int32, message: String)
    /// A broadcast named a root outside the group.
    case invalidRoot(Int, size: Int)
    /// The replicas no longer hold the same parameters (the all-reduce gave different bytes).
    case replicasDiverged(step: Int, differing: Int, size: Int)

    /// One line naming the process, the operation and what to check.
    public var description: String {
        switch self {
        case .timedOut(let operation, let phase, let seconds, let rank, let size):
            let at = phase.isEmpty ? "" : " at \(phase)"
            return "process \(rank) of \(size): \(operation)\(at) did not complete within "
                + "\(String(format: "%g", seconds)) s; another process has probably died or hung. Stopping every "
                + "process; the last checkpoint is intact (continue with --resume; raise --collective-timeout if "
                + "a process is merely slow)"
        case .library(let message): return message
        case .call(let function, let code, let message):
            return "\(function) failed with code \(code): \(message)"
        case .invalidRoot(let root, let size):
            return "broadcast root \(root) is not a process of a group of \(size)"
        case .replicasDiverged(let step, let differing, let size):
            return
                "after step \(step), \(differing) of \(size) processes hold parameters that differ from process 0's: "
                + "the all-reduce did not give every process the same sums, so the replicas would drift apart"
        }
    }
}
