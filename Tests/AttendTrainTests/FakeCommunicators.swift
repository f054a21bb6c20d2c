// Stand-ins for the other processes of a group, for testing distributed code inside one process:
// a scripted communicator whose operations run closures the test supplies (recording every call),
// and its use as a hanging peer.
import AttendTrain
import Foundation

/// A communicator of `size` processes whose collective operations are closures; records each call.
final class ScriptedCommunicator: Communicator, @unchecked Sendable {
    let rank: Int
    let size: Int
    var phase = ""
    /// (operation, element or byte count, phase) for every call, in order.
    private(set) var calls: [(operation: String, count: Int, phase: String)] = []
    /// What the other processes add to an all-reduce of floats (default: nothing).
    var onAllReduceSum: (UnsafeMutableBufferPointer<Float>) -> Void = { _ in }
    /// What the other processes contribute to a Double reduction (default: nothing).
    var onAllReduce: (UnsafeMutableBufferPointer<Double>, Reduction) -> Void = { _, _ in }
    /// What process `root` sends (default: the buffer as it is, as if this process were the root).
    var onBroadcast: (UnsafeMutableRawBufferPointer, Int) -> Void = { _, _ in }

    init(rank: Int = 0, size: Int) {
        self.rank = rank
        self.size = size
    }

    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        calls.append(("allReduceSum", values.count, phase))
        onAllReduceSum(values)
    }

    func allReduce(_ values: UnsafeMutableBufferPointer<Double>, _ reduction: Reduction) throws {
        calls.append(("allReduce.\(reduction.rawValue)", values.count, phase))
        onAllReduce(values, reduction)
    }

    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        calls.append(("broadcast", bytes.count, phase))
        onBroadcast(bytes, root)
    }

    func barrier() throws { calls.append(("barrier", 0, phase)) }

    func abort(code: Int32) -> Never {
        fatalError("a test communicator was asked to abort (code \(code))")
    }
}

/// A gate a fake peer waits at until the test (or the watchdog's handler) opens it.
final class Gate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    /// Blocks for at most `seconds`; true when opened in time.
    func wait(seconds: Double) -> Bool { semaphore.wait(timeout: .now() + seconds) == .success }
    /// Lets the waiter go.
    func open() { semaphore.signal() }
}

/// Records what a watchdog reported, from its thread.
final class TimeoutRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [CommunicatorError] = []
    func append(_ error: CommunicatorError) { lock.withLock { errors.append(error) } }
    var all: [CommunicatorError] { lock.withLock { errors } }
}
