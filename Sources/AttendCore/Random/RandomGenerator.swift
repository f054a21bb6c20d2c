// A seeded pseudo-random generator that gives the same numbers on every run and machine:
// xoshiro256** (Blackman & Vigna, 2018) seeded through SplitMix64. Integer arithmetic only, so the
// raw stream is bit-identical everywhere; floats are made from its top bits without libm.

/// A deterministic 64-bit generator (xoshiro256**). Two generators made from the same seed produce
/// the same sequence on every platform.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator seeded from `seed`; nearby seeds give unrelated streams.
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    /// A generator for sub-stream `stream` of `seed`: used to give each layer, head or step its
    /// own reproducible numbers without sharing state.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: RandomGenerator.mix(seed, stream))
    }

    /// Combines two 64-bit keys into one well-mixed seed.
    public static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var mixer = SplitMix64(state: a ^ (b &* 0x9E37_79B9_7F4A_7C15))
        _ = mixer.next()
        return mixer.next() ^ b
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64 (Steele, Lea & Flood, 2014): expands one seed into well-distributed state words.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
