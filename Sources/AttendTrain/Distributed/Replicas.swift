// Keeping the replicas identical. At the start of a distributed run process 0's training state —
// parameters, optimizer moments and the step, fresh or loaded from the checkpoint — is broadcast to
// every process, so only process 0 needs the run directory. From then on every process applies the
// same averaged gradients to the same parameters, which keeps them bit-identical as long as the
// all-reduce hands every process the same sums; `verify` checks that with a 64-bit fingerprint of
// the parameters at every checkpoint and at the end.
import AttendCore
import AttendNN
import Foundation

/// Broadcasting and checking the state that every process must hold alike.
public enum Replicas {
    /// Names and shapes sent ahead of the values.
    struct Layout: Codable {
        var step: Int
        var names: [String]
        var shapes: [[Int]]
    }

    /// Copies process 0's model, optimizer state and `step` to every process; returns process 0's step.
    public static func broadcastState(
        model: any Module, optimizer: any Optimizer, step: Int, over communicator: any Communicator
    ) throws -> Int {
        let tensors =
            communicator.isRoot
            ? model.stateDictionary().map { ("model." + $0.0, $0.1) }
                + optimizer.state().map { ("optimizer." + $0.0, $0.1) }
            : []
        let layout = try communicator.broadcast(
            communicator.isRoot
                ? Layout(step: step, names: tensors.map(\.0), shapes: tensors.map(\.1.shape)) : nil,
            root: 0)
        let counts = layout.shapes.map { $0.reduce(1, *) }
        var flat = [Float](repeating: 0, count: counts.reduce(0, +))
        if communicator.isRoot {
            var offset = 0
            for (_, t) in tensors {
                t.withUnsafeBufferPointer { p in
                    for i in p.indices { flat[offset + i] = p[i] }
                }
                offset += t.count
            }
        }
        try flat.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        guard !communicator.isRoot else { return step }
        var modelState: [String: Tensor] = [:]
        var optimizerState: [String: Tensor] = [:]
        var offset = 0
        for (name, (shape, count)) in zip(layout.names, zip(layout.shapes, counts)) {
            let t = Tensor(shape: shape, scalars: Array(flat[offset..<(offset + count)]))
            offset += count
            if name.hasPrefix("model.") {
                modelState[String(name.dropFirst(6))] = t
            } else {
                optimizerState[String(name.dropFirst(10))] = t
            }
        }
        try model.load(modelState)
        try optimizer.load(state: optimizerState)
        return layout.step
    }

    /// FNV-1a over the bit patterns of every parameter, in declaration order.
    public static func fingerprint(_ model: any Module) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (_, parameter) in model.namedParameters() {
            parameter.value.withUnsafeBufferPointer { p in
                for x in p {
                    hash = (hash ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01B3
                }
            }
        }
        return hash
    }

    /// Throws `replicasDiverged` on every process unless all hold process 0's parameters bit for bit.
    public static func verify(_ model: any Module, step: Int, over communicator: any Communicator)
        throws
    {
        guard communicator.size > 1 else { return }
        let local = fingerprint(model)
        var reference = local
        try withUnsafeMutableBytes(of: &reference) { try communicator.broadcast($0, root: 0) }
        let differing = try communicator.allReduce([reference == local ? 0 : 1], .sum)[0]
        if differing > 0 {
            throw CommunicatorError.replicasDiverged(
                step: step, differing: Int(differing), size: communicator.size)
        }
    }
}
