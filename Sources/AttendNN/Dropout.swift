// Inverted dropout: in training, zero each element with probability p and scale survivors by
// 1/(1−p), so evaluation needs no rescaling. Its random stream is reseeded per step by the trainer
// (`Module.reseedRandomness`), which makes a resumed run bit-identical.
import AttendCore

/// Randomly zeroes activations during training.
public final class Dropout: Module, Stochastic {
    /// Probability of zeroing an element.
    public let probability: Float
    /// Whether dropout is active (training mode).
    public private(set) var isTraining = true
    private var generator: RandomGenerator
    /// The mask generator's state, saved and restored to replay a forward pass exactly.
    public var randomState: RandomGenerator {
        get { generator }
        set { generator = newValue }
    }

    /// Dropout with drop probability `probability` in [0, 1).
    public init(probability: Float, seed: UInt64 = 0) {
        precondition(
            probability >= 0 && probability < 1,
            "dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        generator = RandomGenerator(seed: seed)
    }

    /// Drops elements in training mode only.
    public func setOwnTrainingMode(_ training: Bool) { isTraining = training }
    /// Restarts the mask stream from `seed`.
    public func reseed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// x in evaluation mode; x ⊙ mask/(1−p) in training (`Tensor.droppedOut`, which redraws the
    /// mask for the gradient instead of keeping it).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining && probability > 0 else { return x }
        return x.droppedOut(probability: probability, generator: &generator)
    }
}
