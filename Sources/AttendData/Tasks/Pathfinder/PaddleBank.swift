// Every paddle a Pathfinder generator can draw, rendered once. A paddle's pixels depend only on
// its heading (its start only translates the patch), and headings come from two finite sets:
// seeds use whole degrees, and an extension's head is one of the pixels on a circle of fixed
// radius around the pivot, at a displacement ⌊r·sin a⌋, ⌊r·cos a⌋ that does not depend on where
// the pivot is. So the bank holds 360 seed paddles (with their dilation kernels) and one paddle per
// circle pixel, and growing a snake only looks patches up. This is what makes the generator's
// many restarts (a snake that runs into the border restarts the image, as in snakes2) affordable.
import Foundation

/// A paddle patch: side `2·half + 1`, the paddle starting at the centre, contrast 1.
struct PaddleShape: Sendable {
    let half: Int
    /// Anti-aliased line, values in [0, 1].
    let image: [Float]
    /// The line dilated by a disc of radius margin (at the supersampled scale), downsampled.
    let mask: [Float]

    var side: Int { 2 * half + 1 }
}

/// One circle pixel an extension may pick as its next head.
struct ExtensionCandidate: Sendable {
    let dy: Int
    let dx: Int
    /// Heading from the pivot to this pixel.
    let angle: Double
    /// The paddle drawn from this head back towards the pivot.
    let shape: PaddleShape
}

/// Pre-rendered paddles for one paddle margin.
struct PaddleBank: Sendable {
    let margin: Int
    /// Seed paddles by whole-degree heading, index `degrees + 180`.
    let seedShapes: [PaddleShape]
    /// The seed paddles as dilation kernels (offsets of fully covered pixels, see `seedKernel`).
    let seedKernels: [[Offset]]
    /// Circle pixels in order of increasing sampling angle, without repeats.
    let candidates: [ExtensionCandidate]
    /// Disc of radius margin: the occupancy dilation used when weighting candidates.
    let disc: [Offset]
    /// The candidates' displacements as (dy, dx) pairs, flat, for the inner loop.
    let offsets: [Int]
    /// `disc` as (dy, dx) pairs, flat.
    let discOffsets: [Int]
    /// The canvas's occupancy before anything is drawn: 1 on the `padding` border.
    let emptyMask: GrayImage
    /// Every heading a snake can have: the 360 seed headings (index `degrees + 180`), then the
    /// candidates' (index `360 + k`).
    let headings: [Double]
    /// `max(cos(min(continuity·Δθ, π/2)), 0)²` for heading h (row) and candidate k (column):
    /// `get_coords_cmf`'s preference for going straight.
    let turnWeights: [Double]
    /// Free tails of the first target snake by heading (index `degrees + 180`): its canvas is
    /// always the empty one with `padding` and a 2·seed_distance border occupied.
    let firstSeedTails: [[Int32]]

    init(_ c: PathfinderConfiguration, margin: Int) {
        self.margin = margin
        let s = c.antialiasScale
        let half = c.paddleLength + Int(c.paddleThickness.rounded(.up)) + margin
        let resample = LanczosResampler(from: 2 * half * s + 1, to: 2 * half + 1)
        let stamp = Raster.disc(radius: Double(margin * s))
        let width = Int((c.paddleThickness * Double(s)).rounded())
        func render(_ angle: Double) -> PaddleShape {
            let center = half * s
            var line = GrayImage(height: 2 * center + 1, width: 2 * center + 1)
            let start = Pixel(y: center, x: center)
            let head = Raster.translate(start, angle, Double(c.paddleLength * s))
            Raster.drawLine(into: &line, from: start, to: head, width: width)
            return PaddleShape(
                half: half, image: resample(line).pixels,
                mask: resample(Raster.stamped(line, with: stamp)).pixels)
        }
        let seeds = (0..<360).map { render(Double($0 - 180) * .pi / 180) }
        seedShapes = seeds
        // `seed_snake` draws the paddle's mask into a (2·reach + 1)² struct with the paddle's start
        // at (reach + 1, reach + 1), then dilates with `struct.astype(uint8)` anchored at the
        // centre: only fully covered pixels count.
        let reach = c.paddleLength + margin
        seedKernels = seeds.map { shape in
            var offsets: [Offset] = []
            for i in 0..<shape.side {
                for j in 0..<shape.side where shape.mask[i * shape.side + j] >= 1 {
                    let y = reach + 1 - shape.half + i
                    let x = reach + 1 - shape.half + j
                    if y >= 0 && y <= 2 * reach && x >= 0 && x <= 2 * reach {
                        offsets.append(Offset(dy: y - reach, dx: x - reach))
                    }
                }
            }
            return offsets
        }
        // `get_coords_cmf`: angles 0, δ, 2δ, … < 360° with δ one pixel of arc at radius r.
        let radius = Double(c.paddleLength + margin)
        let degreesPerPixel = 360 / (2 * radius * .pi)
        let steps = Int((360 / degreesPerPixel).rounded(.up))
        var candidates: [ExtensionCandidate] = []
        var seen = Set<[Int]>()
        for k in 0..<steps {
            let a = Double(k) * degreesPerPixel * .pi / 180
            let dy = Int((radius * sin(a)).rounded(.down))
            let dx = Int((radius * cos(a)).rounded(.down))
            guard seen.insert([dy, dx]).inserted else { continue }
            let angle = atan2(Double(dy), Double(dx))
            candidates.append(
                ExtensionCandidate(dy: dy, dx: dx, angle: angle, shape: render(Raster.flip(angle))))
        }
        self.candidates = candidates
        disc = Raster.disc(radius: Double(margin))
        headings = (0..<360).map { Double($0 - 180) * .pi / 180 } + candidates.map(\.angle)
        turnWeights = headings.flatMap { heading in
            candidates.map { candidate in
                var delta = abs(candidate.angle - heading)
                delta = min(delta, 2 * .pi - delta)
                delta = min(delta * c.continuity, .pi / 2)
                let turn = max(cos(delta), 0)
                return turn * turn
            }
        }
        offsets = candidates.flatMap { [$0.dy, $0.dx] }
        discOffsets = disc.flatMap { [$0.dy, $0.dx] }
        var empty = GrayImage(height: c.size, width: c.size)
        for y in 0..<c.size {
            for x in 0..<c.size
            where min(y, x, c.size - 1 - y, c.size - 1 - x) < c.padding {
                empty[y, x] = 1
            }
        }
        emptyMask = empty
        let border = max(c.padding, 2 * c.seedDistance)
        firstSeedTails = seedKernels.map {
            PathfinderGenerator.freeTails(mask: empty, border: border, kernel: $0)
        }
    }
}
