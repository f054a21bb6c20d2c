// A registry mechanism between a pretrained DeBERTa-v2's content projections. The identity that
// pins it down: with full attention, the encoder must equal DeBERTa's own attention with the
// relative-position terms switched off (`relative_attention` false), once the queries carry the
// 1/√(1 + terms) that DeBERTa's shared scale gives the content-to-content term. The checkpoint
// (the transformers-made tiny classifier folder) loads name for name whatever the mechanism.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct DebertaV2MechanismTests {
    let folder: String
    let configuration: DebertaV2Configuration

    init() throws {
        folder = try fixtureFolder("tiny-deberta-classifier")
        configuration = try DebertaV2Configuration.load(
            path: PretrainedFolder.configurationPath(in: folder))
    }

    func loaded(_ model: DebertaV2Model) throws -> PretrainedLoadReport {
        try model.load(checkpoint: try Safetensors.open(PretrainedFolder.weightsPath(in: folder)))
    }

    @Test func fullAttentionIsDebertaWithoutItsPositionTerms() throws {
        #expect(configuration.positionAttentionTypes.count == 2)  // c2p and p2c: scale 1/√3
        let full = try DebertaV2Model(configuration, mechanism: "full")
        let report = try loaded(full)
        #expect(report.keptInitial.isEmpty)
        var contentOnly = configuration
        (contentOnly.relativeAttention, contentOnly.positionAttentionTypes) = (false, [])
        let reference = try DebertaV2Model(contentOnly)
        let weights = Dictionary(uniqueKeysWithValues: full.namedParameters())
        for (name, parameter) in reference.namedParameters() {
            let value = try #require(weights[name], "\(name)").value
            parameter.value =
                name.contains("query_proj") ? value * Tensor((1 / Float(3)).squareRoot()) : value
        }
        full.eval()
        reference.eval()
        let (b, n) = (2, 9)
        let ids = Indices(shape: [b, n], values: (0..<(b * n)).map { ($0 * 7 + 3) % 40 })
        let mask = Tensor(
            shape: [b, n], scalars: (0..<(b * n)).map { $0 >= b * n - 3 ? 0 : 1 })
        let (actual, expected) = try withoutGradient {
            (
                try full(ids, attentionMask: mask).lastHiddenState,
                try reference(ids, attentionMask: mask).lastHiddenState
            )
        }
        // Real tokens only: DeBERTa's own attention also masks padded queries.
        let c = configuration.modelDimension
        for position in 0..<(b * n) where mask.scalars[position] == 1 {
            let range = (position * c)..<((position + 1) * c)
            try assertClose(
                Tensor(shape: [c], scalars: Array(actual.scalars[range])),
                Tensor(shape: [c], scalars: Array(expected.scalars[range])), .model,
                "position \(position)")
        }
    }

    @Test func aWindowedMechanismLoadsTheCheckpointAndRuns() throws {
        let local = try DebertaV2Model(configuration, mechanism: "local")
        #expect(try loaded(local).keptInitial.isEmpty)
        #expect(local.encoder.layers.allSatisfy { $0.core != nil })
        let ids = Indices(shape: [1, 12], values: (0..<12).map { $0 % 40 })
        let hidden = try withoutGradient { try local(ids).lastHiddenState }
        #expect(hidden.shape == [1, 12, configuration.modelDimension])
        #expect(hidden.scalars.allSatisfy { $0.isFinite })
        #expect(throws: (any Error).self) { try DebertaV2Model(configuration, mechanism: "spade") }
    }
}
