// How self-pretraining hides tokens: the fraction of positions, and whether they go in single
// tokens, contiguous spans or square patches of an image. Saved in a pretraining run's
// configuration, so that the run records what it was trained to reconstruct.

/// Which positions of an input a masked-token objective hides.
public struct MaskingOptions: Codable, Sendable, Equatable {
    /// Expected fraction of positions hidden, in (0, 1).
    public var rate: Double
    /// Length of each contiguous hidden span (1: single tokens).
    public var span: Int
    /// Side of each hidden square patch when positive (inputs are images of side √n); 0: spans.
    public var patch: Int

    /// Options hiding `rate` of the positions in spans of `span` tokens or patches of side `patch`.
    public init(rate: Double, span: Int = 1, patch: Int = 0) {
        self.rate = rate
        self.span = span
        self.patch = patch
    }

    /// Why these options cannot mask anything sensible, or nil when they can.
    public var problem: String? {
        if !(rate > 0 && rate < 1) {
            return "the mask rate must be between 0 and 1 (exclusive), got \(rate)"
        }
        if span < 1 { return "the mask span must be at least 1, got \(span)" }
        if patch < 0 { return "the mask patch side must be positive, got \(patch)" }
        if patch > 0 && span > 1 {
            return "choose spans or patches, not both (span \(span), patch \(patch))"
        }
        return nil
    }

    enum CodingKeys: String, CodingKey { case rate, span, patch }

    /// Decodes the options: `rate` is required, `span` and `patch` keep their defaults when absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(rate: try c.decode(Double.self, forKey: .rate))
        try c.override(&span, .span)
        try c.override(&patch, .patch)
    }
}
