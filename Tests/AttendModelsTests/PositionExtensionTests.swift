// Position tables grown beyond the trained length: tiling keeps the trained rows, so inputs no
// longer than the checkpoint's positions give the checkpoint's own outputs (full and local
// attention); interpolation reads the trained table at evenly spaced fractional positions; inputs
// longer than the trained positions run only after the table has grown.
import AttendAttention
import AttendCore
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct PositionExtensionTests {
    /// Token ids [1, n] inside the tiny model's vocabulary (99).
    static func ids(_ n: Int) -> Indices {
        Indices(shape: [1, n], values: (0..<n).map { 1 + ($0 * 37) % 98 })
    }

    @Test func tilingRepeatsTheTrainedRows() {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let tiled = PositionExtension.tile.extended(table, to: 7)
        #expect(tiled.shape == [7, 2])
        #expect(tiled.scalars == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2])
    }

    @Test func interpolationResamplesBetweenNeighbours() {
        // Rows at 0, 1, 2 resampled to 5 rows: positions 0, 0.5, 1, 1.5, 2.
        let table = Tensor(shape: [3, 2], scalars: [0, 10, 2, 20, 6, 0])
        let resampled = PositionExtension.interpolate.extended(table, to: 5)
        #expect(resampled.scalars == [0, 10, 1, 15, 2, 20, 4, 10, 6, 0])
    }

    @Test(arguments: ["full", "local"])
    func tiledPositionsLeaveTheTrainedLengthsOutputsUnchanged(mechanism: String) throws {
        let folder = try fixtureFolder("tiny-bert")
        var options = MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        options.local.windowSize = 8
        let trained = try Bert.load(
            directory: folder, mechanism: mechanism, mixerConfiguration: options
        ).model
        let (extended, report) = try Bert.load(
            directory: folder, mechanism: mechanism, mixerConfiguration: options, positions: 100,
            extension: .tile)
        #expect(extended.configuration.maximumPositions == 100)
        #expect(report.keptInitial.isEmpty)
        let n = trained.configuration.maximumPositions  // 40
        let expected = try withoutGradient { try trained(Self.ids(n)) }
        let actual = try withoutGradient { try extended(Self.ids(n)) }
        #expect(actual.scalars == expected.scalars)
        #expect(try withoutGradient { try extended(Self.ids(100)) }.shape == [1, 100, 32])
        #expect(throws: PretrainedModelError.self) { try trained(Self.ids(100)) }
    }

    @Test func interpolatedTableSpansTheTrainedOne() throws {
        let folder = try fixtureFolder("tiny-bert")
        let trained = try Bert.load(directory: folder).model
        let extended = try Bert.load(directory: folder, positions: 79, extension: .interpolate)
            .model
        let old = trained.embeddings.positions.weight.value
        let new = extended.embeddings.positions.weight.value
        let c = old.shape[1]
        // 79 rows over 40: new row 2i is trained row i exactly.
        for i in [0, 17, 39] {
            #expect(
                Array(new.scalars[(2 * i * c)..<((2 * i + 1) * c)])
                    == Array(old.scalars[(i * c)..<((i + 1) * c)]))
        }
        let shorter = try Bert.load(directory: folder, positions: 20, extension: .interpolate).model
        #expect(shorter.configuration.maximumPositions == 40)  // never shrinks
    }
}
