// Activation checkpointing of the encoder's blocks: consecutive blocks run as one region recomputed
// in the backward pass (`recomputedInBackward`), so only each region's input stays alive between
// the forward and backward passes. The second run must see what the first saw, so the region
// replays the random streams of its dropout and routers from their states at its start, and runs in
// a context of its own made from the one it was given; what the blocks leave in that context
// (auxiliary losses, values carried to later layers) are region outputs copied back into the
// model's.
import AttendAttention
import AttendCore
import AttendNN

extension SequenceEncoder {
    /// Blocks `layers` applied to `x` as one recomputed region; `context` receives the auxiliary
    /// losses and carried values the blocks leave, as a plain run would.
    func recomputedBlocks(_ layers: Range<Int>, _ x: Tensor, context: MixerContext) throws -> Tensor
    {
        let blocks = Array(self.blocks[layers])
        let stochastic = blocks.flatMap { $0.namedModules() }.compactMap { $0.1 as? any Stochastic }
        let streams = stochastic.map(\.randomState)
        let (mask, causal, step, carried) = (
            context.paddingMask, context.isCausal, context.trainingStep, context.carried
        )
        var firstRun: (auxiliary: [String], carried: [String])?
        let outputs = try recomputedInBackward {
            let current = stochastic.map(\.randomState)
            for (module, state) in zip(stochastic, streams) { module.randomState = state }
            let local = MixerContext(paddingMask: mask, isCausal: causal)
            local.trainingStep = step
            local.carried = carried
            var h = x
            for (layer, block) in zip(layers, blocks) {
                local.layerIndex = layer
                h = try block(h, context: local)
            }
            let changed = local.carried.keys.sorted().filter { key in
                carried[key].map { !$0.sharesStorage(with: local.carried[key]!) } ?? true
            }
            if firstRun == nil {
                firstRun = (local.auxiliaryLosses.map(\.name), changed)
            } else {
                // A recomputation leaves the streams as the rest of the pass expects them.
                for (module, state) in zip(stochastic, current) { module.randomState = state }
            }
            return [h] + local.auxiliaryLosses.map(\.value) + changed.map { local.carried[$0]! }
        }
        let (auxiliary, changed) = firstRun!
        for (index, name) in auxiliary.enumerated() {
            context.addAuxiliaryLoss(name, outputs[1 + index])
        }
        for (index, key) in changed.enumerated() {
            context.carried[key] = outputs[1 + auxiliary.count + index]
        }
        context.layerIndex = layers.upperBound - 1
        return outputs[0]
    }
}
