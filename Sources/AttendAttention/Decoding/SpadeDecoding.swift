// Incremental decoding of SPADE's bottom layer (Sources/AttendAttention/Mechanisms/Spade.swift):
// the attention branch decodes with its own state (local attention's window), and S4D's causal
// convolution y = K ∗ u + D·u becomes its diagonal recurrence with the same discretisation as the
// kernel K[l] = 2·Re Σ_n C′_n·e^{z_n·l} (z = dt·A, C′ = C·(e^{z} − 1)/A; Mechanisms/S4D.swift):
//     s_n[t] = e^{z_n}·s_n[t−1] + u[t],   y[t] = 2·Re Σ_n C′_n·s_n[t] + D·u[t],
// since s_n[t] = Σ_{l≤t} e^{z_n·l}·u[t−l]. One complex state per channel and mode, in Double.
import AttendCore
import Foundation

/// S4D's recurrent state for a batch of sequences.
final class S4DRecurrence: DecodingState {
    /// The discretised parameters (the causal direction only).
    let chain: ParameterChain
    /// D per channel.
    let skip: [Float]
    /// s per (sequence, channel, mode), real and imaginary parts.
    private var real: [Double], imaginary: [Double]

    /// The state after the first `lengths[i]` positions of u [b, n, H].
    init(_ s4: S4D, input u: Tensor, lengths: [Int]) {
        let (b, n, h, p) = (u.shape[0], u.shape[1], s4.channels, s4.modes)
        chain = ParameterChain(
            logDt: s4.logDt.value.scalars, logAReal: s4.logAReal.value.scalars,
            aImaginary: s4.aImaginary.value.scalars,
            c: s4.c.value.sliced(alongAxis: 0, 0..<1).scalars, channels: h, modes: p, directions: 1)
        skip = s4.d.value.scalars
        real = [Double](repeating: 0, count: b * h * p)
        imaginary = real
        let values = u.scalars
        for i in 0..<b {
            for t in 0..<lengths[i] { advance(sequence: i, input: values, offset: (i * n + t) * h) }
        }
    }

    /// Bytes of the complex states.
    var byteCount: Int { (real.count + imaginary.count) * MemoryLayout<Double>.size }

    /// s ← e^{z}·s + u for one sequence's H channels at `input[offset…]`.
    private func advance(sequence i: Int, input: [Float], offset: Int) {
        let (h, p) = (chain.channels, chain.modes)
        for channel in 0..<h {
            let value = Double(input[offset + channel])
            for mode in 0..<p {
                let (index, e) = ((i * h + channel) * p + mode, chain.e1[channel * p + mode])
                let (re, im) = (real[index], imaginary[index])
                real[index] = e.re * re - e.im * im + value
                imaginary[index] = e.re * im + e.im * re
            }
        }
    }

    /// Takes in u [b, 1, H] and returns y [b, 1, H] at that position.
    func step(_ u: Tensor) -> Tensor {
        let (b, h, p) = (u.shape[0], chain.channels, chain.modes)
        let values = u.scalars
        var out = [Float](repeating: 0, count: b * h)
        for i in 0..<b {
            advance(sequence: i, input: values, offset: i * h)
            for channel in 0..<h {
                var sum = 0.0
                for mode in 0..<p {
                    let (index, w) = ((i * h + channel) * p + mode, channel * p + mode)
                    sum +=
                        chain.weightReal[w] * real[index] - chain.weightImaginary[w]
                        * imaginary[index]
                }
                out[i * h + channel] = Float(2 * sum) + skip[channel] * values[i * h + channel]
            }
        }
        return Tensor(shape: [b, 1, h], scalars: out)
    }
}

/// SPADE's decoding state: the S4D recurrence and the attention branch's state.
final class SpadeDecodingState: DecodingState {
    let s4: S4DRecurrence
    let attention: any DecodingState
    init(s4: S4DRecurrence, attention: any DecodingState) {
        self.s4 = s4
        self.attention = attention
    }
    /// Bytes of both states.
    var byteCount: Int { s4.byteCount + attention.byteCount }
}

extension SpadeMixer {
    /// The causal forward of the prompts, S4D's state after them and the attention branch's.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        guard x.rank == 3, x.shape[2] == s4.channels else {
            throw MixerError.shapeMismatch(
                mechanism: "spade", expected: "[batch, length, \(s4.channels)]", got: x.shape)
        }
        let (b, n) = (x.shape[0], x.shape[1])
        try checkLengths(lengths, batch: b, length: n, mechanism: "spade")
        let input = x * rightPaddingMask(lengths, length: n).reshaped([b, n, 1])
        let global = s4(input, causal: true)
        var attentionState: (any DecodingState)?
        let y = try combined(x, global: global) {
            let (output, state) = try attention.prefill($0, lengths: lengths, context: context)
            attentionState = state
            return output
        }
        return (
            y,
            SpadeDecodingState(
                s4: S4DRecurrence(s4, input: input, lengths: lengths), attention: attentionState!)
        )
    }

    /// Each sequence's next position through the recurrence and the attention branch's step.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        guard let state = state as? SpadeDecodingState else { throw foreignState("spade", state) }
        let global = state.s4.step(x)
        return try combined(x, global: global) {
            try attention.step($0, state: state.attention, context: context)
        }
    }
}
