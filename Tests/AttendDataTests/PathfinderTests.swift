import Foundation
import Testing

// Pathfinder: label balance and meaning (markers on one snake or on two), visible markers and
// paths in the pixels, a PGM round trip, determinism, and the three LRA sizes.
@testable import AttendData

private let small = PathfinderConfiguration.pathfinder32.counts(
    train: 200, validation: 20, test: 20)

@Test func pathfinderLabelsAreBalancedAndMeanWhatTheySay() throws {
    let task = try PathfinderTask(small)
    var positives = 0
    for i in 0..<task.count(of: .train) {
        let sample = task.sample(i, in: .train)
        positives += sample.label
        // The first marker sits on one target snake's starting tip; the second on the end tip of
        // the same snake for label 1, of the other snake for label 0.
        let paths = sample.targetPaddles
        #expect(paths.count == 2 && paths.allSatisfy { $0.count == small.contourLength })
        guard let start = paths.firstIndex(where: { $0[0] == sample.markers[0] }) else {
            Issue.record("image \(i): first marker \(sample.markers[0]) is not a starting tip")
            continue
        }
        let end = paths.firstIndex { $0.last! == sample.markers[1] }
        #expect(end == (sample.label == 1 ? start : 1 - start), "image \(i)")
    }
    #expect(positives == 100)
    #expect((0..<20).map { task.example($0, in: .test).label }.reduce(0, +) == 10)
}

@Test func pathfinderImagesShowMarkersAndPaths() throws {
    let task = try PathfinderTask(small)
    for i in 0..<20 {
        let sample = task.sample(i, in: .validation)
        let pixel = { (p: Pixel) in Int(sample.pixels[p.y * sample.size + p.x]) }
        // Marker centres are the brightest kind of pixel drawn (a disc at full intensity).
        for marker in sample.markers {
            #expect(pixel(marker) >= 128, "image \(i) marker \(marker)")
        }
        // Every paddle of both target snakes starts at a lit pixel.
        for path in sample.targetPaddles {
            for head in path { #expect(pixel(head) > 0, "image \(i) paddle at \(head)") }
        }
        #expect(sample.pixels.max() == 255)
        // Most of the canvas stays background.
        #expect(sample.pixels.filter { $0 == 0 }.count > sample.pixels.count / 3)
    }
}

@Test func pathfinderWritesAReadablePGM() throws {
    let sample = try PathfinderTask(small).sample(3, in: .train)
    try withTemporaryFolder { folder in
        let path = folder + "/pathfinder.pgm"
        try sample.writePGM(to: path, scale: 4)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let image = try PGM.decode(bytes)
        #expect(image.width == 128 && image.height == 128)
        // Pixel (y, x) of the sample is the 4 × 4 block at (4y, 4x).
        for y in 0..<32 {
            for x in 0..<32 {
                let expected = sample.pixels[y * 32 + x]
                #expect(image.pixels[(4 * y + 3) * 128 + 4 * x + 2] == expected)
            }
        }
    }
    #expect(throws: DataError.self) { try PGM.decode(Array("P2 1 1 255 0".utf8)) }
}

@Test func pathfinderIsDeterministicAndSplitsDiffer() throws {
    let few = small.counts(train: 40, validation: 4, test: 8)
    let a = try PathfinderTask(few)
    let b = try PathfinderTask(few)
    let reseeded = try PathfinderTask(few.seeded(9))
    for i in 0..<8 {
        #expect(a.sample(i, in: .train).pixels == b.sample(i, in: .train).pixels)
        #expect(a.sample(i, in: .train).pixels != reseeded.sample(i, in: .train).pixels)
        #expect(a.sample(i, in: .train).pixels != a.sample(i, in: .test).pixels)
        // Examples (served from the split cache) equal freshly drawn samples.
        #expect(a.example(i, in: .train).tokens == a.sample(i, in: .train).pixels.map(Int.init))
    }
    let train = Set((0..<40).map { a.example($0, in: .train).tokens })
    let test = Set((0..<8).map { a.example($0, in: .test).tokens })
    #expect(train.count == 40 && train.isDisjoint(with: test))
}

@Test(arguments: [PathfinderConfiguration.pathfinder32, .pathfinder64, .pathX])
func pathfinderMakesEachLRASize(_ configuration: PathfinderConfiguration) throws {
    let task = try PathfinderTask(configuration.counts(train: 2, validation: 2, test: 2))
    let example = task.example(1, in: .test)
    #expect(example.tokens.count == configuration.size * configuration.size)
    #expect(task.maxLength == configuration.size * configuration.size)
    #expect(example.tokens.allSatisfy { $0 >= 0 && $0 < 256 } && example.label == 1)
    let sample = task.sample(1, in: .test)
    #expect(sample.markers.allSatisfy { Int(sample.pixels[$0.y * sample.size + $0.x]) >= 128 })
    #expect(
        task.name
            == ["pathfinder", "pathfinder64", "pathx"][
                [32, 64, 128].firstIndex(of: configuration.size)!])
}

@Test func pathfinderRejectsUnworkableConfigurations() {
    var thin = PathfinderConfiguration.pathfinder32
    thin.paddleThickness = 0.3
    #expect(throws: DataError.self) { try PathfinderTask(thin) }
    var crowded = PathfinderConfiguration.pathfinder32
    crowded.seedDistance = 8
    #expect(throws: DataError.self) { try PathfinderTask(crowded) }
}

@Test func occupancyDilationMatchesADirectLoop() {
    // Bit-parallel dilation against the definition, on a width that spans two words.
    var image = GrayImage(height: 9, width: 70)
    for (y, x) in [(0, 0), (4, 63), (4, 64), (8, 69), (2, 30)] { image[y, x] = 1 }
    let offsets = [(0, 0), (-1, 2), (2, -3), (0, 65), (1, -64)].map { Offset(dy: $0.0, dx: $0.1) }
    let bits = OccupancyBits(image, above: 0.3).dilated(by: offsets)
    for y in 0..<9 {
        for x in 0..<70 {
            let expected = offsets.contains {
                image.contains(y + $0.dy, x + $0.dx) && image[y + $0.dy, x + $0.dx] > 0.3
            }
            #expect(bits.isSet(y, x) == expected, "(\(y), \(x))")
        }
    }
}

@Test func sparseMarkerResamplingMatchesTheFullImage() {
    // A disc resampled on its bounding box only must equal resampling the whole canvas.
    let resampler = LanczosResampler(from: 64, to: 32)
    var full = GrayImage(height: 64, width: 64)
    let (cy, cx, r) = (5, 40, 3.0)
    for y in 0..<64 {
        for x in 0..<64 where Double((y - cy) * (y - cy) + (x - cx) * (x - cx)) <= r * r {
            full[y, x] = 1
        }
    }
    let expected = resampler(full)
    var sparse = GrayImage(height: 32, width: 32)
    resampler.resampleSparse(
        rows: 2...8, columns: 37...43, { full[$0, $1] }, { y, x, v in sparse[y, x] = v })
    #expect(sparse.pixels == expected.pixels)
    #expect(expected.pixels.max()! > 0.9)
}
