// The recorded graph. Every value computed from a tensor that tracks gradients gets a node holding
// its inputs' nodes and the op's gradient rule. Node ids grow monotonically, so sorting the reachable
// nodes by descending id is a reverse topological order: that ordering is our tape.
import Synchronization

/// One recorded operation (or a leaf that gradients are wanted for).
@usableFromInline final class GradientNode: @unchecked Sendable {
    /// Creation order; inputs always have smaller ids than the nodes made from them.
    let id: Int
    /// The op that made the value (`.leaf` for leaves).
    let op: Op
    /// Input nodes in the op's argument order; nil for inputs that do not track gradients.
    let inputs: [GradientNode?]
    /// Shapes of the inputs, to check what each gradient rule returns.
    let inputShapes: [[Int]]
    /// Maps the output gradient to one gradient per input (nil where not needed). Nil for leaves,
    /// and after `releaseBackward()`.
    private(set) var backward: ((Tensor) -> [Tensor?])?

    private static let counter = Atomic<Int>(0)

    init(
        op: Op, inputs: [GradientNode?], inputShapes: [[Int]], backward: ((Tensor) -> [Tensor?])?
    ) {
        id = GradientNode.counter.wrappingAdd(1, ordering: .relaxed).newValue
        self.op = op
        self.inputs = inputs
        self.inputShapes = inputShapes
        self.backward = backward
    }

    /// Drops the gradient rule and with it the values it kept for backward: a sweep that runs a
    /// graph only once (a recomputed region's) frees each op's saved activations as soon as its
    /// rule has run.
    func releaseBackward() { backward = nil }

    /// A lower bound for the id of the next node made: nodes made from now on have ids ≥ this,
    /// and every existing node's id is below it.
    static var nextID: Int { counter.load(ordering: .relaxed) + 1 }
}
