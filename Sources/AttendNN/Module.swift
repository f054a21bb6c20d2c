// The module tree. A module lists its own parameters and its children under the names they are
// saved with (written once, next to what they name), so traversal is explicit, ordered and greppable:
// no reflection, no hidden registration.
import AttendCore

/// A layer or model: parameters plus named sub-modules.
public protocol Module: AnyObject {
    /// Parameters this module owns directly, under their checkpoint names.
    var ownParameters: [(String, Parameter)] { get }
    /// Sub-modules, under the key prefix their parameters are saved at.
    var children: [(String, any Module)] { get }
    /// Reacts to train/eval mode (dropout, random features…); most modules ignore it.
    func setOwnTrainingMode(_ training: Bool)
}

extension Module {
    /// None by default: containers hold their parameters in children.
    public var ownParameters: [(String, Parameter)] { [] }
    /// None by default: a leaf layer.
    public var children: [(String, any Module)] { [] }
    /// Ignores the mode by default: most layers compute the same in both.
    public func setOwnTrainingMode(_ training: Bool) {}

    /// Every parameter in the tree with its dotted name, in declaration order.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        ownParameters.map { (prefix + $0.0, $0.1) }
            + children.flatMap { name, child in child.namedParameters(prefix: prefix + name + ".") }
    }

    /// Every parameter in declaration order.
    public var parameters: [Parameter] { namedParameters().map(\.1) }

    /// Total number of parameter elements.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Every module in the tree (this one first) with its dotted path.
    public func namedModules(prefix: String = "") -> [(String, any Module)] {
        [(prefix, self as any Module)]
            + children.flatMap { name, child in
                child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
            }
    }

    /// Switches the whole tree to training (dropout on) or evaluation mode.
    public func setTrainingMode(_ training: Bool) {
        for (_, module) in namedModules() { module.setOwnTrainingMode(training) }
    }

    /// Training mode for the whole tree.
    public func train() { setTrainingMode(true) }
    /// Evaluation mode for the whole tree.
    public func eval() { setTrainingMode(false) }

    /// Gives every stochastic module a seed derived from `seed` and its position in the tree, so a
    /// step's randomness depends only on (seed, step) and a resumed run repeats it exactly.
    public func reseedRandomness(_ seed: UInt64) {
        for (index, (_, module)) in namedModules().enumerated() {
            (module as? any Stochastic)?.reseed(RandomGenerator.mix(seed, UInt64(index)))
        }
    }
}

/// A module that draws random numbers in its forward pass (dropout, jitter, random features).
public protocol Stochastic: Module {
    /// Restarts the module's random stream from `seed`.
    func reseed(_ seed: UInt64)
    /// The random stream's current state: saved and restored to replay a forward pass exactly
    /// (activation checkpointing runs a block again for its gradient).
    var randomState: RandomGenerator { get set }
}
