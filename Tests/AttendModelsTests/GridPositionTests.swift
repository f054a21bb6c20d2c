import AttendCore
import AttendNN
import Testing

// 2-D positions for square images: each pixel's row sinusoids in the first half of the channels and
// its column sinusoids in the second, so pixels of one row share the first half and pixels of one
// column the second; the [CLS] row is zero; a non-square length is refused with a named reason.
@testable import AttendModels

@Suite struct GridPositionTests {
    @Test func rowsAndColumnsAreTheOneDimensionalSinusoids() throws {
        let (side, c) = (4, 8)
        let table = try gridPositions(pixels: side * side, dimension: c, mechanism: "full").scalars
        let axis = sinusoidalPositions(count: side, dimension: c / 2).scalars
        for row in 0..<side {
            for column in 0..<side {
                let pixel = Array(table[(row * side + column) * c..<(row * side + column + 1) * c])
                #expect(Array(pixel[0..<c / 2]) == Array(axis[row * c / 2..<(row + 1) * c / 2]))
                #expect(
                    Array(pixel[c / 2..<c]) == Array(axis[column * c / 2..<(column + 1) * c / 2]))
            }
        }
    }

    @Test func encoderAddsThemAfterAZeroClassRow() throws {
        var configuration = ModelConfiguration(
            vocabularySize: 5, modelDimension: 8, layerCount: 1, headCount: 2,
            feedForwardDimension: 16, maximumLength: 9)
        configuration.positions = .sinusoidal2D
        configuration.pooling = .cls
        var generator = RandomGenerator(seed: 1)
        let encoder = try SequenceEncoder(configuration, generator: &generator)
        let rows = try #require(encoder.positionRows(Indices(shape: [10], values: Array(0..<10))))
        let expected = try gridPositions(pixels: 9, dimension: 8, mechanism: "full").scalars
        #expect(Array(rows.scalars[0..<8]) == Array(repeating: 0, count: 8))
        #expect(Array(rows.scalars[8...]) == expected)
    }

    @Test func nonSquareLengthIsRefused() throws {
        var configuration = ModelConfiguration(
            vocabularySize: 5, modelDimension: 8, layerCount: 1, headCount: 2,
            feedForwardDimension: 16, maximumLength: 10)
        configuration.positions = .sinusoidal2D
        var generator = RandomGenerator(seed: 1)
        #expect {
            _ = try SequenceEncoder(configuration, generator: &generator)
        } throws: { error in
            "\(error)".contains("square image") && "\(error)".contains("got 10")
        }
    }
}
