// Parameters of the Pathfinder generator (Linsley et al., 2018; Kim et al., 2020), with the values
// Long Range Arena used, from the docstrings of its TFDS builders (long-range-arena
// `data/pathfinder.py`) over the defaults of drewlinsley/pathfinder `snakes2_wrapper.py`. That
// wrapper ran under Python 2, so `14 / 3` was 4 and `35 / 4` was 8: those integer values are used.

/// Parameters of a Pathfinder task: image geometry, snake shape, contrasts, retries, split sizes.
public struct PathfinderConfiguration: Codable, Sendable, Equatable, SplitSizedConfiguration {
    /// Image side in pixels (32, 64 or 128).
    public var size: Int
    /// Occupied border, in pixels, where no paddle may start.
    public var padding: Int = 1
    /// Length of one paddle (dash), in pixels.
    public var paddleLength: Int
    /// Line width of a paddle; times `antialiasScale` must be a whole number.
    public var paddleThickness: Double
    /// Gap kept around paddles; one value is drawn per image.
    public var paddleMargins: [Int]
    /// Radius of the two endpoint markers.
    public var markerRadius: Double
    /// Paddles per target snake.
    public var contourLength: Int
    /// Supersampling factor of the line and marker rasteriser.
    public var antialiasScale: Int = 2
    /// Distance between the two target snakes' starting tips.
    public var seedDistance: Int
    /// Straightness: larger values penalise turns more.
    public var continuity: Double
    /// Paddles per distractor snake.
    public var distractorLength: Int
    /// Distractor snakes per image (each tried `maxDistractorRetrials + 1` times, then skipped).
    public var distractorCount: Int
    /// Snake contrasts; the two targets draw theirs from this list, distractors too.
    public var snakeContrasts: [Double]
    /// Per-paddle contrast factors of the target snakes.
    public var paddleContrasts: [Double] = [1]
    /// Extra tries to place one paddle.
    public var maxPaddleRetrials: Int = 2
    /// Extra tries to place one distractor snake.
    public var maxDistractorRetrials: Int = 4
    /// Training images.
    public var trainCount: Int
    /// Validation images.
    public var validationCount: Int
    /// Test images.
    public var testCount: Int
    /// Seed of every draw.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case size, padding
        case paddleLength = "paddle_length"
        case paddleThickness = "paddle_thickness"
        case paddleMargins = "paddle_margin_list"
        case markerRadius = "marker_radius"
        case contourLength = "contour_length"
        case antialiasScale = "antialias_scale"
        case seedDistance = "seed_distance"
        case continuity
        case distractorLength = "distractor_length"
        case distractorCount = "num_distractor_snakes"
        case snakeContrasts = "snake_contrast_list"
        case paddleContrasts = "paddle_contrast_list"
        case maxPaddleRetrials = "max_paddle_retrial"
        case maxDistractorRetrials = "max_distractor_contour_retrial"
        case trainCount = "train_count"
        case validationCount = "validation_count"
        case testCount = "test_count"
        case seed
    }

    /// PF-32 (LRA "pathfinder32", hard = contour length 14), 160k/20k/20k images as LRA.
    public static let pathfinder32 = PathfinderConfiguration(
        size: 32, paddleLength: 2, paddleThickness: 0.5, paddleMargins: [1], markerRadius: 1.5,
        contourLength: 14, seedDistance: 7, continuity: 1.0, distractorLength: 14 / 3,
        distractorCount: 20 / (14 / 3), snakeContrasts: [2], paddleContrasts: [0.75],
        trainCount: 160_000, validationCount: 20_000, testCount: 20_000)
    /// PF-64 (LRA "pathfinder64", hard).
    public static let pathfinder64 = PathfinderConfiguration(
        size: 64, paddleLength: 5, paddleThickness: 1, paddleMargins: [1], markerRadius: 2.5,
        contourLength: 14, seedDistance: 12, continuity: 1.8, distractorLength: 14 / 3,
        distractorCount: 22 / (14 / 3), snakeContrasts: [0.8],
        trainCount: 160_000, validationCount: 20_000, testCount: 20_000)
    /// PF-128 = Path-X (LRA "pathfinder128", hard).
    public static let pathX = PathfinderConfiguration(
        size: 128, paddleLength: 5, paddleThickness: 1.5, paddleMargins: [2, 3], markerRadius: 3,
        contourLength: 14, seedDistance: 20, continuity: 1.8, distractorLength: 14 / 3,
        distractorCount: 35 / (14 / 3), snakeContrasts: [0.9],
        trainCount: 160_000, validationCount: 20_000, testCount: 20_000)

    /// Checks the parameters; returns the first problem found.
    func problem() -> String? {
        let scaledThickness = paddleThickness * Double(antialiasScale)
        if scaledThickness.rounded() != scaledThickness || scaledThickness < 1 {
            return
                "paddle_thickness × antialias_scale must be a whole number ≥ 1, got \(scaledThickness)"
        }
        if size < 8 { return "size must be at least 8, got \(size)" }
        if size <= 4 * seedDistance {
            return
                "size \(size) leaves no room to seed: it must exceed 4 × seed_distance = \(4 * seedDistance)"
        }
        if paddleLength < 1 || contourLength < 2 || distractorLength < 1 || distractorCount < 0 {
            return
                "need paddle_length ≥ 1, contour_length ≥ 2, distractor_length ≥ 1, num_distractor_snakes ≥ 0"
        }
        if paddleMargins.isEmpty || paddleMargins.contains(where: { $0 < 0 }) {
            return "paddle_margin_list must hold non-negative margins"
        }
        if snakeContrasts.isEmpty || paddleContrasts.isEmpty {
            return "contrast lists must not be empty"
        }
        if continuity <= 0 || markerRadius <= 0 || antialiasScale < 1 || padding < 0 {
            return "continuity, marker_radius and antialias_scale must be positive, padding ≥ 0"
        }
        return splitSizeProblem
    }
}
