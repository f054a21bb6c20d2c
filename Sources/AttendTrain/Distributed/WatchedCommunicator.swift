// Bounded waiting. A collective operation returns only when every process has joined it, so one
// process that hangs (a stuck disk, a stopped job, a dead machine whose connection never closes)
// would leave all the others waiting forever. `WatchedCommunicator` arms a watchdog thread before
// each operation; when the deadline passes first, the watchdog reports the operation and the
// training phase and ends the group (MPI_Abort). The collective itself runs on the caller's thread,
// so a healthy step pays only a lock and a condition signal. (A process that dies outright is
// noticed sooner: `mpirun` ends the whole job when one of its processes exits uncleanly.)
import Foundation

/// A communicator whose collective operations fail after `timeout` seconds instead of waiting forever.
public final class WatchedCommunicator: Communicator, @unchecked Sendable {
    /// The communicator that does the work.
    public let base: any Communicator
    /// Seconds one operation may take (0: no limit).
    public let timeout: Double
    /// The base communicator's rank.
    public var rank: Int { base.rank }
    /// The base communicator's group size.
    public var size: Int { base.size }
    /// The base communicator's phase, which timeout messages name.
    public var phase: String {
        get { base.phase }
        set { base.phase = newValue }
    }
    private let watchdog: Watchdog

    /// Watches `base`. `onTimeout` runs on the watchdog thread when an operation overruns; the
    /// default prints the error and aborts the group. The overrunning call throws the same error
    /// should it ever return.
    public init(
        _ base: any Communicator, timeout: Double,
        onTimeout: (@Sendable (CommunicatorError) -> Void)? = nil
    ) {
        self.base = base
        self.timeout = timeout
        watchdog = Watchdog(
            onTimeout: onTimeout ?? { error in
                FileHandle.standardError.write(Data("attend: error: \(error)\n".utf8))
                base.abort(code: 3)
            })
    }

    deinit { watchdog.stop() }

    /// The base's all-reduce, failing after `timeout` seconds.
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try watched("all-reduce of \(values.count) floats") { try base.allReduceSum(values) }
    }

    /// The base's reduction, failing after `timeout` seconds.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, _ reduction: Reduction)
        throws
    {
        try watched("all-reduce (\(reduction.rawValue)) of \(values.count) values") {
            try base.allReduce(values, reduction)
        }
    }

    /// The base's broadcast, failing after `timeout` seconds.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try watched("broadcast of \(bytes.count) bytes from process \(root)") {
            try base.broadcast(bytes, root: root)
        }
    }

    /// The base's barrier, failing after `timeout` seconds.
    public func barrier() throws {
        try watched("barrier") { try base.barrier() }
    }

    /// Ends the group through the base communicator.
    public func abort(code: Int32) -> Never { base.abort(code: code) }

    /// Runs `body` with the watchdog armed for `timeout` seconds.
    private func watched(_ operation: String, _ body: () throws -> Void) throws {
        guard timeout > 0 else { return try body() }
        let error = CommunicatorError.timedOut(
            operation: operation, phase: phase, seconds: timeout, rank: rank, size: size)
        let ticket = watchdog.arm(error, seconds: timeout)
        var failure: (any Error)?
        do { try body() } catch { failure = error }
        if watchdog.disarm(ticket) { throw error }
        if let failure { throw failure }
    }
}

/// A thread that waits for armed deadlines and calls `onTimeout` for the first one missed.
final class Watchdog: @unchecked Sendable {
    private let condition = NSCondition()
    private let onTimeout: @Sendable (CommunicatorError) -> Void
    private var armed: (ticket: Int, deadline: Date, error: CommunicatorError)?
    private var nextTicket = 0
    private var fired: Set<Int> = []
    private var stopped = false
    private var started = false

    init(onTimeout: @escaping @Sendable (CommunicatorError) -> Void) {
        self.onTimeout = onTimeout
    }

    /// Starts the deadline for one operation; returns the ticket to disarm it with.
    func arm(_ error: CommunicatorError, seconds: Double) -> Int {
        condition.lock()
        defer { condition.unlock() }
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = "attend collective watchdog"
            thread.start()
        }
        nextTicket += 1
        armed = (nextTicket, Date(timeIntervalSinceNow: seconds), error)
        condition.signal()
        return nextTicket
    }

    /// Ends the deadline of `ticket`; true when it had already expired.
    func disarm(_ ticket: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if armed?.ticket == ticket { armed = nil }
        return fired.remove(ticket) != nil
    }

    /// Ends the thread.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while !stopped {
            guard let current = armed else {
                condition.wait()
                continue
            }
            if Date() < current.deadline {
                _ = condition.wait(until: current.deadline)
                continue
            }
            armed = nil
            fired.insert(current.ticket)
            condition.unlock()
            onTimeout(current.error)
            condition.lock()
        }
        condition.unlock()
    }
}
