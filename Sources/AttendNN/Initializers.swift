// Weight initialisers, named after the papers and frameworks that use them. Each draws from the
// caller's generator so a model is reproducible from one seed.
import AttendCore

/// How to fill a new parameter.
public enum Initializer: Sendable, Equatable {
    /// N(0, std²): BERT/GPT's `normal(0.02)`.
    case normal(standardDeviation: Float)
    /// N(0, std²) redrawn outside ±2·std: ViT's and timm's `trunc_normal_`.
    case truncatedNormal(standardDeviation: Float)
    /// U(−a, a) with a = gain·√(6/(fan_in + fan_out)) (Glorot & Bengio, 2010).
    case xavierUniform(gain: Float = 1)
    /// N(0, gain²·2/(fan_in + fan_out)).
    case xavierNormal(gain: Float = 1)
    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default for `nn.Linear` weights and biases.
    case fanInUniform(fanIn: Int)
    /// U(−bound, bound).
    case uniform(bound: Float)
    /// A constant.
    case constant(Float)

    /// All zeros.
    public static let zeros = Initializer.constant(0)
    /// All ones.
    public static let ones = Initializer.constant(1)

    /// A tensor of `shape` drawn from this initialiser. Fans follow PyTorch: for [out, in, …],
    /// fan_in = in·receptive field, fan_out = out·receptive field.
    public func make(_ shape: [Int], generator: inout RandomGenerator) -> Tensor {
        switch self {
        case .normal(let std):
            return .randomNormal(shape, standardDeviation: std, generator: &generator)
        case .truncatedNormal(let std):
            return .randomTruncatedNormal(shape, standardDeviation: std, generator: &generator)
        case .xavierUniform(let gain):
            let (fanIn, fanOut) = Initializer.fans(shape)
            let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, generator: &generator)
        case .xavierNormal(let gain):
            let (fanIn, fanOut) = Initializer.fans(shape)
            let std = gain * (2 / Float(fanIn + fanOut)).squareRoot()
            return .randomNormal(shape, standardDeviation: std, generator: &generator)
        case .fanInUniform(let fanIn):
            let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, generator: &generator)
        case .uniform(let bound):
            return .randomUniform(shape, low: -bound, high: bound, generator: &generator)
        case .constant(let value):
            return Tensor(repeating: value, shape: shape)
        }
    }

    /// (fan_in, fan_out) of a weight shape, PyTorch's convention.
    static func fans(_ shape: [Int]) -> (Int, Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        default:
            let receptive = shape.dropFirst(2).reduce(1, *)
            return (shape[1] * receptive, shape[0] * receptive)
        }
    }
}
