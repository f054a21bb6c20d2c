// Activation checkpointing, as one general mechanism of the tape. A recomputed region runs with
// recording on, then its internal graph is dropped: what stays is its outputs' values and the graph
// values it read from outside (its boundary: the region's input, parameters, values other layers
// left). The region becomes one node whose inputs are the boundary; its gradient rule runs the
// region again with recording on and sweeps backward through that fresh local graph from the
// outputs' gradients, stopping at the boundary. So a region's activations exist while it runs
// forward and again while its own gradient is computed, never for the whole backward pass.
//
// Several outputs share one recomputation: each output gets a small node that parks its gradient
// and passes a token gradient to the region's node, which, made before them, runs after all of them
// in the sweep's reverse creation order.

/// The outputs' gradients parked for the one recomputation of a region.
private final class ParkedGradients: @unchecked Sendable {
    var gradients: [Tensor?]
    init(count: Int) { gradients = Array(repeating: nil, count: count) }
}

/// Runs `forward` as a recomputed region and returns its outputs, connected to the graph through
/// one region node instead of the region's own ops.
///
/// `forward` must compute the same values from the same graph values when it runs again in the
/// backward sweep: the caller replays its random streams and hands it the same state (see
/// `SequenceEncoder`'s activation checkpointing). Outputs computed outside the region (returned as
/// they came in) keep their own history. Without recording (no-grad, evaluation) it is `forward()`.
public func recomputedInBackward(_ forward: @escaping () throws -> [Tensor]) throws -> [Tensor] {
    guard GradientMode.isRecording else { return try forward() }
    let start = GradientNode.nextID
    let outputs = try forward()
    let boundary = boundaryNodes(of: outputs, madeFrom: start)
    guard !boundary.isEmpty else { return outputs }
    let inputs = boundary.values.sorted { $0.node.id < $1.node.id }
    let parked = ParkedGradients(count: outputs.count)
    let token = [1]
    let region = GradientNode(
        op: .custom, inputs: inputs.map(\.node), inputShapes: inputs.map(\.shape),
        backward: { _ in
            let seeds = parked.gradients
            parked.gradients = Array(repeating: nil, count: seeds.count)
            let roots = recomputedRoots(forward, seeds: seeds, boundary: boundary)
            // The fresh graph is swept once, so each op's activations go as soon as its rule ran.
            let grads = backpropagate(
                from: roots.nodes, keeping: Set(boundary.keys), boundary: roots.start,
                releasingRules: true)
            return inputs.map { grads[$0.node.id] }
        })
    return outputs.enumerated().map { index, output in
        guard let node = output.node, node.id >= start else { return output }
        let park = GradientNode(op: .custom, inputs: [region], inputShapes: [token]) { dy in
            parked.gradients[index] = dy
            return [Tensor.zeros(token)]
        }
        return Tensor(shape: output.shape, storage: output.storage, node: park)
    }
}

/// Runs a region's `forward` again with recording on and returns the nodes of its outputs with
/// their gradients (`seeds`), and the first node id of the fresh graph. Only the nodes are kept:
/// the outputs' values are not needed for the sweep, so they are freed before it starts.
private func recomputedRoots(
    _ forward: () throws -> [Tensor], seeds: [Tensor?],
    boundary: [Int: (node: GradientNode, shape: [Int])]
) -> (nodes: [(node: GradientNode, seed: Tensor)], start: Int) {
    let start = GradientNode.nextID
    let fresh: [Tensor]
    do {
        fresh = try GradientMode.$isEnabled.withValue(true) { try forward() }
    } catch {
        preconditionFailure("a recomputed region failed when run again for its gradient: \(error)")
    }
    precondition(
        fresh.count == seeds.count,
        "a recomputed region returned \(fresh.count) outputs, then \(seeds.count)")
    precondition(
        boundaryNodes(of: fresh, madeFrom: start).keys.allSatisfy { boundary[$0] != nil },
        "a recomputed region read graph values its first run did not: its forward is not repeatable"
    )
    let nodes = zip(fresh, seeds).compactMap { output, seed in
        seed.flatMap { seed in output.node.map { (node: $0, seed: seed) } }
    }
    return (nodes, start)
}

/// The nodes made before id `start` that the nodes made since (reachable from `outputs`) read, by
/// id, each with the shape its reader recorded.
private func boundaryNodes(
    of outputs: [Tensor], madeFrom start: Int
) -> [Int: (node: GradientNode, shape: [Int])] {
    var boundary: [Int: (node: GradientNode, shape: [Int])] = [:]
    var seen = Set<Int>()
    var stack = outputs.compactMap(\.node).filter { $0.id >= start }
    while let node = stack.popLast() {
        guard seen.insert(node.id).inserted else { continue }
        for (input, shape) in zip(node.inputs, node.inputShapes) {
            guard let input else { continue }
            if input.id < start { boundary[input.id] = (input, shape) } else { stack.append(input) }
        }
    }
    return boundary
}
