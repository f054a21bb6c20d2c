// Does ThreadSanitizer see Synchronization.Mutex with this toolchain? Two threads touch a Mutex's
// value only inside withLock; with Swift 6.3.1 on Linux ThreadSanitizer still reports races (the
// lock is taken in C shims it does not instrument), which is why tsan.supp names the Attend types
// whose Mutex-guarded state it reported. When this prints no report, drop those entries.
//
//   swiftc -O -sanitize=thread scripts/sanitizers/mutex-tsan-check.swift -o /tmp/mutex-check
//   /tmp/mutex-check 2>&1 | grep -c 'WARNING: ThreadSanitizer'      # 0 once the toolchain is fixed
import Foundation
import Synchronization

final class Box: Sendable { let state = Mutex<[Int: [UInt]]>([:]) }
let box = Box()
let threads = (0..<2).map { t in
    Thread {
        for i in 0..<20_000 {
            box.state.withLock {
                $0[i % 8, default: []].append(UInt(t))
                _ = $0[i % 8]?.popLast()
            }
        }
    }
}
threads.forEach { $0.start() }
Thread.sleep(forTimeInterval: 3)
print(box.state.withLock { $0.count })
