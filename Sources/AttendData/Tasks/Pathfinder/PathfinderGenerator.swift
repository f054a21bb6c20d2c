// The Pathfinder image generator: a port of drewlinsley/pathfinder `snakes2.py` (with `snakes.py`'s
// helpers), step for step:
//  1. Canvas at 0; occupancy mask with a `padding` border set.
//  2. One paddle margin per image.
//  3. Two target snakes are seeded: the first tail at a free pixel at least 2·seed_distance from the
//     border (free = the paddle, used as a dilation kernel, misses every occupied pixel), the second
//     seed_distance away from it at a uniform angle; headings are uniform whole degrees.
//  4. Each snake grows contour_length − 1 paddles. The next pivot lies length + 2·margin along the
//     last heading; candidate heads lie on the circle of radius length + margin around it (one per
//     pixel of arc), weighted by (1 − mask dilated by a disc of radius margin) · max(cos(min(
//     continuity·Δθ, π/2)), 0)². A sampled paddle is kept if mask + its mask stays below 1.8
//     everywhere, else resampled (max_paddle_retrial more times); a dead end restarts the image.
//     A snake's previous paddle joins the mask only when the next one is placed, so a paddle may
//     touch its predecessor; after growth only the second snake's last paddle is added (as there).
//  5. Distractor snakes (distractor_length paddles each) at free spots; one that fails after
//     max_distractor_contour_retrial + 1 tries is skipped. Single-paddle distractors are off (the
//     wrapper LRA used sets use_single_paddles = False).
//  6. Markers: discs of marker_radius on one target's starting tip and, for label 1, the same
//     snake's end, for label 0 the other snake's end. The image is scaled so its maximum is 255.
// Paddles and markers are drawn at antialias_scale× and Lanczos-downsampled (see Raster.swift);
// paddles come pre-rendered from a PaddleBank.
// Labels alternate with the example index, so every split is exactly balanced.
import AttendCore
import Foundation

/// One generated image and what was drawn in it.
public struct PathfinderSample: Sendable {
    /// Grey levels 0…255, row-major, size × size.
    public let pixels: [UInt8]
    /// Image side.
    public let size: Int
    /// 1 when the two markers sit on the same snake.
    public let label: Int
    /// Centres (y, x) of the two markers: a starting tip, then an end tip.
    public let markers: [Pixel]
    /// Heads (y, x) of every paddle of the two target snakes, in drawing order.
    public let targetPaddles: [[Pixel]]
}

/// Draws Pathfinder images for one configuration.
struct PathfinderGenerator: Sendable {
    let configuration: PathfinderConfiguration
    /// Pre-rendered paddles for each margin in the configuration.
    private let banks: [Int: PaddleBank]
    private let markerResampler: LanczosResampler
    // The configuration's numbers, held directly: copying the configuration (it holds arrays)
    // in the inner loops costs more than the loops themselves in unoptimised builds.
    private let size: Int
    private let paddleLength: Int
    private let seedDistance: Int
    private let contourLength: Int
    private let distractorLength: Int
    private let distractorCount: Int
    private let maxPaddleRetrials: Int
    private let maxDistractorRetrials: Int
    private let margins: [Int]
    private let snakeContrasts: [Double]
    private let paddleContrasts: [Double]

    init(_ configuration: PathfinderConfiguration) {
        self.configuration = configuration
        size = configuration.size
        paddleLength = configuration.paddleLength
        seedDistance = configuration.seedDistance
        contourLength = configuration.contourLength
        distractorLength = configuration.distractorLength
        distractorCount = configuration.distractorCount
        maxPaddleRetrials = configuration.maxPaddleRetrials
        maxDistractorRetrials = configuration.maxDistractorRetrials
        margins = configuration.paddleMargins
        snakeContrasts = configuration.snakeContrasts
        paddleContrasts = configuration.paddleContrasts
        var banks: [Int: PaddleBank] = [:]
        for margin in Set(configuration.paddleMargins) {
            banks[margin] = PaddleBank(configuration, margin: margin)
        }
        self.banks = banks
        markerResampler = LanczosResampler(
            from: configuration.size * configuration.antialiasScale, to: configuration.size)
    }

    /// The image for `label` drawn with `random`.
    func sample(label: Int, using random: inout RandomGenerator) -> PathfinderSample {
        let bank = banks[margins[random.nextInt(below: margins.count)]]!
        var attempts = 0
        var targets: Targets?
        while targets == nil {
            attempts += 1
            precondition(
                attempts <= 100_000,
                "Pathfinder: cannot place two target snakes with this configuration")
            targets = twoSnakes(bank, using: &random)
        }
        var image = targets!.image
        var mask = targets!.mask
        for _ in 0..<distractorCount {
            for _ in 0...maxDistractorRetrials {
                if let placed = distractor(image, mask, bank, using: &random) {
                    (image, mask) = placed
                    break
                }
            }
        }
        let originIndex = random.nextInt(below: 2)
        let endIndex = label == 1 ? originIndex : 1 - originIndex
        let markers = [targets!.origins[originIndex], targets!.ends[endIndex]]
        let markerImage = drawMarkers(markers)
        for i in image.pixels.indices {
            image.pixels[i] = max(image.pixels[i], markerImage.pixels[i])
        }
        return PathfinderSample(
            pixels: Self.byteScaled(image), size: size, label: label, markers: markers,
            targetPaddles: targets!.paddles)
    }

    // MARK: Paddles

    /// A placed paddle: a bank shape whose patch has its top-left corner at (top, left).
    struct Paddle {
        let top: Int
        let left: Int
        let shape: PaddleShape
        let contrast: Float

        /// `shape` starting at `start`.
        init(_ shape: PaddleShape, at start: Pixel, contrast: Double) {
            top = start.y - shape.half
            left = start.x - shape.half
            self.shape = shape
            self.contrast = Float(contrast)
        }
    }

    /// Calls `body(canvas, patch)` with the canvas and patch buffers and each covered row: the
    /// patch columns `columns` of patch row i land on canvas row `p.top + i`.
    @inline(__always)
    private func overlap(
        _ p: Paddle, _ body: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void
    ) {
        let n = p.shape.side
        let rows = max(0, -p.top)..<min(n, size - p.top)
        let columns = max(0, -p.left)..<min(n, size - p.left)
        if !rows.isEmpty && !columns.isEmpty { body(rows, columns) }
    }

    private func draw(_ p: Paddle, into image: inout GrayImage) {
        let n = p.shape.side
        let size = size
        overlap(p) { rows, columns in
            p.shape.image.withUnsafeBufferPointer { patch in
                image.pixels.withUnsafeMutableBufferPointer { canvas in
                    for i in rows {
                        for j in columns {
                            let k = (p.top + i) * size + p.left + j
                            canvas[k] = max(canvas[k], p.contrast * patch[i * n + j])
                        }
                    }
                }
            }
        }
    }

    private func occupy(_ p: Paddle, in mask: inout GrayImage) {
        let n = p.shape.side
        let size = size
        overlap(p) { rows, columns in
            p.shape.mask.withUnsafeBufferPointer { patch in
                mask.pixels.withUnsafeMutableBufferPointer { canvas in
                    for i in rows {
                        for j in columns {
                            let k = (p.top + i) * size + p.left + j
                            canvas[k] = max(canvas[k], patch[i * n + j])
                        }
                    }
                }
            }
        }
    }

    /// snakes2's acceptance test `max(mask + m_im) < 1.8`.
    private func fits(_ p: Paddle, in mask: GrayImage) -> Bool {
        let n = p.shape.side
        let size = size
        var fits = true
        overlap(p) { rows, columns in
            p.shape.mask.withUnsafeBufferPointer { patch in
                mask.pixels.withUnsafeBufferPointer { canvas in
                    for i in rows {
                        for j in columns
                        where canvas[(p.top + i) * size + p.left + j] + patch[i * n + j] >= 1.8 {
                            fits = false
                        }
                    }
                }
            }
        }
        return fits
    }

    private func isInside(_ point: Pixel) -> Bool {
        point.y >= 0 && point.y < size && point.x >= 0 && point.x < size
    }

    // MARK: Seeding

    /// A uniform whole-degree heading in [−180°, 180°), as its degree value.
    private func heading(using random: inout RandomGenerator) -> Int {
        random.nextInt(below: 360) - 180
    }

    private func radians(_ degrees: Int) -> Double { Double(degrees) * .pi / 180 }

    /// Free tails for each seed heading on a canvas whose occupancy is `mask`, with `border`
    /// pixels along each edge also occupied: pixel indices (y·size + x) in row-major order.
    static func freeTails(
        mask: GrayImage, border: Int, kernel: [Offset]
    ) -> [Int32] {
        var occupied = OccupancyBits(mask, above: 0.3)
        occupied.setBorder(border)
        return occupied.dilated(by: kernel).clearIndices()
    }

    /// Places a first paddle at a free tail (`free(degrees)` lists them for a heading): returns the
    /// tail, pivot, heading and paddle, or nil after `max_paddle_retrial` misses.
    private func seed(
        _ bank: PaddleBank, contrast: Double, using random: inout RandomGenerator,
        free: (Int) -> [Int32]
    ) -> (tail: Pixel, pivot: Pixel, heading: Int, paddle: Paddle)? {
        for _ in 0...maxPaddleRetrials {
            let degrees = heading(using: &random)
            let angle = radians(degrees)
            let tails = free(degrees)
            if tails.isEmpty { return nil }
            let index = Int(tails[random.nextInt(below: tails.count)])
            let tail = Pixel(y: index / size, x: index % size)
            let head = Raster.translate(tail, angle, Double(paddleLength))
            let pivot = Raster.translate(
                head, Raster.flip(angle), Double(paddleLength + bank.margin))
            guard isInside(head) && isInside(pivot) else { continue }
            let paddle = Paddle(bank.seedShapes[degrees + 180], at: tail, contrast: contrast)
            return (tail, pivot, degrees + 180, paddle)
        }
        return nil
    }

    // MARK: Growing

    /// A snake being grown: where the next paddle hangs from, the heading (an index into the
    /// bank's `headings`), the last paddle and the heads so far.
    private struct Snake {
        var pivot: Pixel
        var heading: Int
        var last: Paddle
        var heads: [Pixel]
    }

    /// snakes2's `extend_snake`: one more paddle, or false at a dead end.
    private func extend(
        _ snake: inout Snake, image: inout GrayImage, mask: inout GrayImage, _ bank: PaddleBank,
        contrast: Double, using random: inout RandomGenerator
    ) -> Bool {
        let pivot = Raster.translate(
            snake.pivot, bank.headings[snake.heading], Double(paddleLength + 2 * bank.margin))
        // Weight of each in-image circle pixel: free space × preference for going straight.
        let candidateCount = bank.candidates.count
        var weights = [Double](repeating: 0, count: candidateCount)
        var total = 0.0
        let size = size
        bank.offsets.withUnsafeBufferPointer { offsets in
            bank.turnWeights.withUnsafeBufferPointer { turns in
                bank.discOffsets.withUnsafeBufferPointer { disc in
                    mask.pixels.withUnsafeBufferPointer { canvas in
                        let row = snake.heading * candidateCount
                        for i in 0..<candidateCount {
                            let y = pivot.y + offsets[2 * i]
                            let x = pivot.x + offsets[2 * i + 1]
                            let turn = turns[row + i]
                            guard turn > 0, y >= 0, y < size, x >= 0, x < size else { continue }
                            var dilated: Float = 0
                            for k in stride(from: 0, to: disc.count, by: 2) {
                                let yy = y + disc[k]
                                let xx = x + disc[k + 1]
                                if yy >= 0 && yy < size && xx >= 0 && xx < size {
                                    dilated = max(dilated, canvas[yy * size + xx])
                                }
                            }
                            let weight = Double(1 - dilated) * turn
                            weights[i] = weight
                            total += weight
                        }
                    }
                }
            }
        }
        if total < 1e-4 { return false }
        for _ in 0...maxPaddleRetrials {
            let target = random.nextUniformDouble() * total
            var cumulative = 0.0
            var index = weights.lastIndex { $0 > 0 }!
            for (i, w) in weights.enumerated() where w > 0 {
                cumulative += w
                if cumulative > target {
                    index = i
                    break
                }
            }
            let candidate = bank.candidates[index]
            let head = Pixel(y: pivot.y + candidate.dy, x: pivot.x + candidate.dx)
            let p = Paddle(candidate.shape, at: head, contrast: contrast)
            if fits(p, in: mask) {
                draw(p, into: &image)
                occupy(snake.last, in: &mask)
                snake.pivot = pivot
                snake.heading = 360 + index
                snake.last = p
                snake.heads.append(head)
                return true
            }
        }
        return false
    }

    // MARK: Snakes

    private struct Targets {
        var image: GrayImage
        var mask: GrayImage
        var origins: [Pixel]
        var ends: [Pixel]
        var paddles: [[Pixel]]
    }

    /// A paddle-contrast draw (`np.random.randint` over the list, as snakes2 does per paddle).
    private func paddleContrast(using random: inout RandomGenerator) -> Double {
        paddleContrasts[random.nextInt(below: paddleContrasts.count)]
    }

    /// snakes2's `two_snakes`: both target snakes, or nil when any step fails.
    private func twoSnakes(_ bank: PaddleBank, using random: inout RandomGenerator) -> Targets? {
        var contrasts = snakeContrasts + snakeContrasts
        for i in stride(from: contrasts.count - 1, to: 0, by: -1) {
            contrasts.swapAt(i, random.nextInt(below: i + 1))
        }
        var image = GrayImage(height: size, width: size)
        var mask = bank.emptyMask
        // The canvas is empty here, so the free tails per heading are the bank's precomputed ones.
        guard
            let first = seed(
                bank, contrast: paddleContrast(using: &random) * contrasts[0], using: &random,
                free: { bank.firstSeedTails[$0 + 180] })
        else { return nil }
        draw(first.paddle, into: &image)
        let contrast = paddleContrast(using: &random) * contrasts[1]
        var second: (tail: Pixel, pivot: Pixel, degrees: Int)?
        for _ in 0...maxPaddleRetrials {
            let degrees = heading(using: &random)
            let angle = radians(degrees)
            let direction = Double(random.nextInt(below: 360)) * .pi / 180
            let distance = Double(seedDistance)
            let tail = Pixel(
                y: Int(
                    (Double(first.tail.y) + distance * sin(direction)).rounded(.toNearestOrEven)),
                x: Int((Double(first.tail.x) + distance * cos(direction)).rounded(.toNearestOrEven))
            )
            let head = Raster.translate(tail, angle, Double(paddleLength))
            let pivot = Raster.translate(
                head, Raster.flip(angle), Double(paddleLength + bank.margin))
            if isInside(head) && isInside(pivot) {
                second = (tail, pivot, degrees)
                break
            }
        }
        guard let second else { return nil }
        let secondPaddle = Paddle(
            bank.seedShapes[second.degrees + 180], at: second.tail, contrast: contrast)
        draw(secondPaddle, into: &image)
        var snakes = [
            Snake(
                pivot: first.pivot, heading: first.heading, last: first.paddle, heads: [first.tail]),
            Snake(
                pivot: second.pivot, heading: second.degrees + 180, last: secondPaddle,
                heads: [second.tail]),
        ]
        for _ in 1..<contourLength {
            let paddleContrast = paddleContrast(using: &random)
            for i in 0..<2 {
                guard
                    extend(
                        &snakes[i], image: &image, mask: &mask, bank,
                        contrast: paddleContrast * contrasts[i], using: &random)
                else { return nil }
            }
        }
        occupy(snakes[1].last, in: &mask)
        return Targets(
            image: image, mask: mask, origins: [first.tail, second.tail],
            ends: [snakes[0].heads.last!, snakes[1].heads.last!], paddles: snakes.map(\.heads))
    }

    /// snakes's `make_snake` for a distractor: the image and mask with one more snake, or nil.
    private func distractor(
        _ image: GrayImage, _ mask: GrayImage, _ bank: PaddleBank,
        using random: inout RandomGenerator
    ) -> (GrayImage, GrayImage)? {
        let list = snakeContrasts
        var image = image
        var mask = mask
        let contrast = list[random.nextInt(below: list.count)]
        // `stop_with_availability = 0.01`: give up when under 1% of the canvas is free.
        let freePixels = mask.pixels.withUnsafeBufferPointer { canvas in
            var free = 0
            for value in canvas where value <= 0.3 { free += 1 }
            return free
        }
        if Double(freePixels) < 0.01 * Double(size * size) { return nil }
        // `seed_snake` also treats the outermost pixel ring as occupied.
        var occupied = OccupancyBits(mask, above: 0.3)
        occupied.setBorder(1)
        guard
            let first = seed(
                bank, contrast: contrast, using: &random,
                free: { occupied.dilated(by: bank.seedKernels[$0 + 180]).clearIndices() })
        else { return nil }
        draw(first.paddle, into: &image)
        var snake = Snake(
            pivot: first.pivot, heading: first.heading, last: first.paddle, heads: [first.tail])
        for _ in 1..<max(distractorLength, 1) {
            let contrast = list[random.nextInt(below: list.count)]
            guard
                extend(
                    &snake, image: &image, mask: &mask, bank, contrast: contrast,
                    using: &random)
            else { return nil }
        }
        occupy(snake.last, in: &mask)
        return (image, mask)
    }

    // MARK: Markers and output

    /// snakes2's `draw_circle` for each marker (a disc drawn at antialias_scale×, then
    /// Lanczos-downsampled; only the pixels the disc reaches are computed), merged by maximum.
    private func drawMarkers(_ centers: [Pixel]) -> GrayImage {
        let s = configuration.antialiasScale
        let r = configuration.markerRadius * Double(s)
        let reach = Int(r.rounded(.up))
        let last = size * s - 1
        var merged = GrayImage(height: size, width: size)
        for center in centers {
            let cy = center.y * s
            let cx = center.x * s
            markerResampler.resampleSparse(
                rows: max(0, cy - reach)...min(last, cy + reach),
                columns: max(0, cx - reach)...min(last, cx + reach),
                { y, x in
                    let dy = Double(y - cy)
                    let dx = Double(x - cx)
                    return dy * dy + dx * dx <= r * r ? 1 : 0
                },
                { y, x, value in merged[y, x] = max(merged[y, x], value) })
        }
        return merged
    }

    /// `scipy.misc.imsave`'s byte scaling: the range [min, max] mapped onto 0…255, rounded.
    static func byteScaled(_ image: GrayImage) -> [UInt8] {
        let low = image.pixels.min() ?? 0
        let high = image.pixels.max() ?? 0
        let scale: Float = high > low ? 255 / (high - low) : 1
        return image.pixels.map { UInt8(min(max(($0 - low) * scale, 0), 255).rounded()) }
    }
}
