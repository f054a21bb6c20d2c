// Heavy numerical tests (training runs, convergence checks) take minutes in debug builds, where the
// SIMD kernels run 100× slower, and under a second in release. `make test` runs release; a debug
// `swift test` skips them with this trait instead of stalling.
import Testing

/// True when this test bundle was compiled with optimisation (no `DEBUG` flag).
public let isOptimizedBuild: Bool = {
    #if DEBUG
        return false
    #else
        return true
    #endif
}()

extension Trait where Self == ConditionTrait {
    /// Runs the test only in optimised builds (`make test`); debug builds skip it.
    public static var optimizedBuildsOnly: Self {
        .enabled(if: isOptimizedBuild, "slow in debug builds; runs in `make test` (release)")
    }
}
