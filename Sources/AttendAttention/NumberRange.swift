// An interval of real numbers described in words, for the declared ranges of configuration values
// (mechanism options here, training fields in AttendTrain's ConfigurationLimits).

/// An interval of real numbers, each end open or closed, described in words.
public struct NumberRange: Sendable {
    /// The lower end.
    public let lower: Float
    /// The upper end.
    public let upper: Float
    /// Whether `lower` itself is allowed.
    public let includesLower: Bool
    /// Whether `upper` itself is allowed.
    public let includesUpper: Bool

    /// [lower, upper].
    public static func from(_ lower: Float, to upper: Float) -> NumberRange {
        NumberRange(lower: lower, upper: upper, includesLower: true, includesUpper: true)
    }
    /// [lower, upper).
    public static func from(_ lower: Float, below upper: Float) -> NumberRange {
        NumberRange(lower: lower, upper: upper, includesLower: true, includesUpper: false)
    }
    /// (lower, upper].
    public static func above(_ lower: Float, atMost upper: Float) -> NumberRange {
        NumberRange(lower: lower, upper: upper, includesLower: false, includesUpper: true)
    }

    /// Whether `x` lies inside (NaN never does).
    public func contains(_ x: Float) -> Bool {
        (includesLower ? x >= lower : x > lower) && (includesUpper ? x <= upper : x < upper)
    }

    /// "a number above 0 and at most 1".
    public var words: String {
        let low = includesLower ? "at least \(lower.shortText)" : "above \(lower.shortText)"
        let high = includesUpper ? "at most \(upper.shortText)" : "below \(upper.shortText)"
        return "a number \(low) and \(high)"
    }

    /// A value inside: the closed end, else the middle.
    var inside: Float { includesLower ? lower : includesUpper ? upper : (lower + upper) / 2 }

    /// Values just outside each end, NaN and infinity.
    var outsideValues: [Float] {
        [
            includesLower ? lower.nextDown : lower, includesUpper ? upper.nextUp : upper, .nan,
            .infinity,
        ]
    }
}

extension Float {
    /// 1 rather than 1.0; 0.001 rather than 0.0010000000474974513.
    fileprivate var shortText: String {
        self == rounded() && abs(self) < 1e9 ? "\(Int(self))" : "\(self)"
    }
}
