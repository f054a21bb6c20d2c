// Reverse-mode automatic differentiation: recording, no-grad regions, detach, and the backward sweep.
// Gradient rules are written beside each op (Ops/) through `recorded(_:from:backward:)`.

/// Whether ops record the graph. Task-local, so a no-grad region affects only its own caller.
public enum GradientMode {
    @TaskLocal static var isEnabled = true

    /// True while ops record gradients: outside `withoutGradient`, and never inside the body of a
    /// parallel loop (kernels run there, and `withoutGradient` of the caller does not reach worker
    /// threads). Both are per-thread, so a parallel region elsewhere in the process changes nothing.
    public static var isRecording: Bool { isEnabled && !Parallel.isInsideRegion }
}

/// Runs `body` without recording gradients: inference, optimizer updates, metrics.
public func withoutGradient<T>(_ body: () throws -> T) rethrows -> T {
    try GradientMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// True when this value is tracked for gradients (a leaf or computed from one).
    public var requiresGradient: Bool { node != nil }

    /// The same values, cut off from the graph: gradients do not flow through the result.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// The ops recorded on the way to this value, each once, oldest first (`.leaf` for the leaves
    /// reached); empty when the value is not tracked. A debugging and test aid.
    public var recordedOps: [Op] {
        var seen = Set<Int>()
        var nodes: [GradientNode] = []
        var stack = node.map { [$0] } ?? []
        while let next = stack.popLast() {
            guard seen.insert(next.id).inserted else { continue }
            nodes.append(next)
            stack.append(contentsOf: next.inputs.compactMap { $0 })
        }
        var ops: [Op] = []
        for op in nodes.sorted(by: { $0.id < $1.id }).map(\.op) where !ops.contains(op) {
            ops.append(op)
        }
        return ops
    }

    /// A new leaf sharing these values, whose gradient `gradients(of:withRespectTo:)` can return.
    public func requiringGradient() -> Tensor {
        Tensor(
            shape: shape, storage: storage,
            node: GradientNode(op: .leaf, inputs: [], inputShapes: [], backward: nil))
    }

    /// Attaches `backward` to `self`, a value the op computed from `inputs`, when any input tracks
    /// gradients and recording is on; otherwise returns `self` untouched.
    ///
    /// `backward` receives the gradient of the output and returns one gradient per input, each with
    /// that input's shape (nil when that input needs none). It runs with recording off.
    public func recorded(
        _ op: Op, from inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        guard GradientMode.isRecording, inputs.contains(where: { $0.node != nil }) else {
            return self
        }
        let node = GradientNode(
            op: op, inputs: inputs.map(\.node), inputShapes: inputs.map(\.shape), backward: backward
        )
        return Tensor(shape: shape, storage: storage, node: node)
    }

    /// Like `recorded(_:from:backward:)`, also telling the rule which inputs need a gradient, so it
    /// can skip expensive products nobody will use.
    public func recorded(
        _ op: Op, from inputs: [Tensor], backward: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        let needs = inputs.map { $0.node != nil }
        return recorded(op, from: inputs) { dy in backward(dy, needs) }
    }
}

/// Gradients of the scalar (or seeded) `output` with respect to each tensor in `leaves` (gradient
/// leaves or intermediate values of the same graph).
///
/// Leaves that `output` does not depend on get zeros. `seed` is the gradient of the output (ones when
/// the output is a single value; required otherwise).
public func gradients(
    of output: Tensor, withRespectTo leaves: [Tensor], seed: Tensor? = nil
) -> [Tensor] {
    let grads = backpropagate(
        from: output, seed: seed, keeping: Set(leaves.compactMap { $0.node?.id }))
    return leaves.map { leaf in
        guard let node = leaf.node, let g = grads[node.id] else { return Tensor.zeros(leaf.shape) }
        return g
    }
}

/// Like `gradients(of:withRespectTo:seed:)`, with nil for leaves `output` does not depend on (so
/// optimizers can skip parameters a step never touched, as PyTorch does for `grad is None`).
public func reachedGradients(
    of output: Tensor, withRespectTo leaves: [Tensor], seed: Tensor? = nil
) -> [Tensor?] {
    let grads = backpropagate(
        from: output, seed: seed, keeping: Set(leaves.compactMap { $0.node?.id }))
    return leaves.map { leaf in leaf.node.flatMap { grads[$0.id] } }
}

/// The value of `f` at `inputs` and its gradient with respect to each input.
public func valueAndGradient(
    at inputs: [Tensor], of f: ([Tensor]) throws -> Tensor
) rethrows -> (value: Tensor, gradients: [Tensor]) {
    let leaves = inputs.map { $0.requiringGradient() }
    let value = try GradientMode.$isEnabled.withValue(true) { try f(leaves) }
    return (value.detached(), gradients(of: value, withRespectTo: leaves))
}

/// Runs the backward sweep from `output`, returning the gradient of every node in `wanted` that was
/// reached (leaves or intermediate values), keyed by node id.
func backpropagate(from output: Tensor, seed: Tensor?, keeping wanted: Set<Int>) -> [Int: Tensor] {
    guard let root = output.node else { return [:] }
    let seedGradient: Tensor
    if let seed {
        precondition(
            seed.shape == output.shape,
            "backward seed shape \(seed.shape) differs from output shape \(output.shape)")
        seedGradient = seed
    } else {
        precondition(
            output.count == 1,
            "gradients of a tensor of shape \(output.shape) need a seed; reduce it to one value first"
        )
        seedGradient = Tensor(repeating: 1, shape: output.shape)
    }
    return backpropagate(from: [(root, seedGradient)], keeping: wanted)
}

/// The backward sweep from several seeded roots. Nodes with an id below `boundary` are not entered:
/// their gradients are summed and returned when wanted, but their own rules do not run (a
/// recomputed region's sweep stops at the values it read from outside; see Recomputation.swift).
/// With `releasingRules`, each entered node drops its rule once it has run, so the activations
/// it kept are freed during the sweep; the graph cannot be differentiated again.
func backpropagate(
    from roots: [(node: GradientNode, seed: Tensor)], keeping wanted: Set<Int>, boundary: Int = 0,
    releasingRules: Bool = false
) -> [Int: Tensor] {
    // Every node reachable from the roots, then reverse creation order: a topological order.
    var reachable: [GradientNode] = []
    var seen = Set<Int>()
    var stack = roots.map(\.node)
    while let node = stack.popLast() {
        guard seen.insert(node.id).inserted else { continue }
        reachable.append(node)
        for case let input? in node.inputs where input.id >= boundary && !seen.contains(input.id) {
            stack.append(input)
        }
    }
    reachable.sort { $0.id > $1.id }

    var grads: [Int: Tensor] = [:]
    var kept: [Int: Tensor] = [:]
    withoutGradient {
        for (node, seed) in roots { grads[node.id] = grads[node.id].map { $0 + seed } ?? seed }
        for node in reachable {
            guard let dy = grads.removeValue(forKey: node.id) else { continue }
            if wanted.contains(node.id) { kept[node.id] = dy }
            guard let rule = node.backward else { continue }
            let inputGrads = rule(dy)
            if releasingRules { node.releaseBackward() }
            precondition(
                inputGrads.count == node.inputs.count,
                "gradient rule of \(node.op) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs"
            )
            for ((input, shape), g) in zip(zip(node.inputs, node.inputShapes), inputGrads) {
                guard let input, let g else { continue }
                precondition(
                    g.shape == shape,
                    "gradient rule of \(node.op) returned shape \(g.shape) for an input of shape \(shape)"
                )
                if let existing = grads[input.id] {
                    grads[input.id] = existing + g
                } else {
                    grads[input.id] = g
                }
            }
        }
    }
    // What is left was not entered: the nodes below the boundary.
    for (id, g) in grads where wanted.contains(id) { kept[id] = g }
    return kept
}
