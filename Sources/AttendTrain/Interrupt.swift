// Ctrl-C handling: the first SIGINT asks the trainer to stop after the current step (it then writes
// a checkpoint and exits cleanly); a second one exits at once. Under `mpirun`, which ends every
// process on Ctrl-C, SIGUSR1 does the same job: `mpirun` forwards it to all of them.
import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT into a flag the training loop polls.
public enum InterruptFlag {
    private static let raised = Atomic<Bool>(false)
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?
    nonisolated(unsafe) private static var stopSource: (any DispatchSourceSignal)?

    /// True once Ctrl-C was pressed (or `raise()` called).
    public static var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// Sets the flag (tests use this to simulate Ctrl-C).
    public static func raise() { raised.store(true, ordering: .relaxed) }

    /// Clears the flag.
    public static func reset() { raised.store(false, ordering: .relaxed) }

    /// Routes SIGINT to the flag; a second SIGINT terminates the process.
    public static func install() {
        guard source == nil else { return }
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler {
            if raised.load(ordering: .relaxed) { exit(130) }
            raised.store(true, ordering: .relaxed)
            FileHandle.standardError.write(
                Data(
                    "\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to quit now)\n"
                        .utf8))
        }
        s.resume()
        source = s
    }

    /// Routes SIGUSR1 to the flag (stop after this step with a checkpoint), for runs under `mpirun`.
    public static func installStopSignal() {
        guard stopSource == nil else { return }
        signal(SIGUSR1, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
        s.setEventHandler {
            raised.store(true, ordering: .relaxed)
        }
        s.resume()
        stopSource = s
    }
}
