// Learning-rate schedules as small named functions of the step (nanoGPT's `get_lr`, LRA's factor
// products). Steps count from 0 at the first update.
import Foundation

/// A learning rate for each optimizer step.
public protocol LearningRateSchedule: Sendable {
    /// The learning rate for update number `step` (0-based).
    func learningRate(at step: Int) -> Float
}

/// A constant rate.
public struct ConstantSchedule: LearningRateSchedule {
    /// The rate.
    public let rate: Float
    /// A constant `rate`.
    public init(rate: Float) { self.rate = rate }
    /// `rate`, whatever the step.
    public func learningRate(at step: Int) -> Float { rate }
}

/// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `minimum` at
/// `totalSteps` (held there afterwards).
public struct WarmupCosineSchedule: LearningRateSchedule {
    /// The rate warm-up climbs to, and the rate the decay ends at.
    public let peak: Float, minimum: Float
    /// Steps of linear warm-up, and the step at which the decay reaches `minimum`.
    public let warmupSteps: Int, totalSteps: Int
    /// The schedule.
    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minimum: Float = 0) {
        (self.peak, self.warmupSteps, self.totalSteps, self.minimum) = (
            peak, warmupSteps, totalSteps, minimum
        )
    }
    /// The warm-up rate, then the cosine between `peak` and `minimum`.
    public func learningRate(at step: Int) -> Float {
        warmedUp(step: step, peak: peak, warmupSteps: warmupSteps, totalSteps: totalSteps) {
            progress in
            minimum + (peak - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
        }
    }
}

/// Linear warm-up to `peak`, then linear decay to `minimum` at `totalSteps`.
public struct WarmupLinearSchedule: LearningRateSchedule {
    /// The rate warm-up climbs to, and the rate the decay ends at.
    public let peak: Float, minimum: Float
    /// Steps of linear warm-up, and the step at which the decay reaches `minimum`.
    public let warmupSteps: Int, totalSteps: Int
    /// The schedule.
    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minimum: Float = 0) {
        (self.peak, self.warmupSteps, self.totalSteps, self.minimum) = (
            peak, warmupSteps, totalSteps, minimum
        )
    }
    /// The warm-up rate, then the straight line from `peak` to `minimum`.
    public func learningRate(at step: Int) -> Float {
        warmedUp(step: step, peak: peak, warmupSteps: warmupSteps, totalSteps: totalSteps) {
            progress in
            peak + (minimum - peak) * progress
        }
    }
}

/// The rule both warm-up schedules share: peak·(step + 1)/warmupSteps during warm-up, then
/// `decay(progress)`, where progress runs from 0 after warm-up to 1 at `totalSteps` (and stays 1).
private func warmedUp(
    step: Int, peak: Float, warmupSteps: Int, totalSteps: Int, decay: (_ progress: Float) -> Float
) -> Float {
    if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
    let span = Swift.max(totalSteps - warmupSteps, 1)
    return decay(Swift.min(Float(step - warmupSteps) / Float(span), 1))
}

/// LRA/Transformer schedule: base·min(1, step/warmup)·1/√max(step, warmup), with step counted
/// from 1 — so the peak, at step = warmup, is base/√warmup.
public struct InverseSquareRootSchedule: LearningRateSchedule {
    /// The factor before the warm-up and 1/√step terms.
    public let base: Float
    /// Steps of linear warm-up; also where the 1/√step decay starts.
    public let warmupSteps: Int
    /// The schedule.
    public init(base: Float, warmupSteps: Int) {
        (self.base, self.warmupSteps) = (base, warmupSteps)
    }
    /// base·min(1, s/w)/√max(s, w) with s = step + 1.
    public func learningRate(at step: Int) -> Float {
        let s = Float(step + 1), w = Float(Swift.max(warmupSteps, 1))
        return base * Swift.min(1, s / w) / Swift.max(s, w).squareRoot()
    }
}
