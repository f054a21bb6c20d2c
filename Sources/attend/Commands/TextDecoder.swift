// The generation loop of `attend generate`, two ways that must give the same tokens for the same
// draws: with the model's decoding state (prefill the prompt once, then one step per token for the
// whole batch of samples) or by recomputation (a causal forward over each sample's last
// `maximum length` tokens for every new token). Samples are drawn in the same order either way, so
// a seeded sampler produces the same text.
import AttendCore
import AttendData
import AttendModels

/// Generates continuations of one prompt for a batch of samples.
struct TextDecoder {
    let model: CausalLM
    /// Token ids of the prompt (not empty).
    let prompt: [Int]
    let samples: Int
    /// Decode with the model's state (true) or recompute the context for every token.
    let cached: Bool

    /// Up to `count` tokens per sample; a sample stops after `endToken`. `pick(sample, logits)`
    /// chooses each sample's next token from its next-token logits.
    func generate(count: Int, endToken: Int?, pick: (Int, [Float]) throws -> Int) throws -> [[Int]]
    {
        let window = model.encoder.configuration.maximumLength
        var generated = [[Int]](repeating: [], count: samples)
        var state: SequenceDecodingState?
        var logits: [[Float]]
        if cached {
            guard prompt.count + count - 1 <= window else {
                throw UsageError(
                    "attend generate: the model's state holds at most \(window) positions (its "
                        + "maximum length), but the prompt (\(prompt.count) bytes) and --tokens "
                        + "\(count) need \(prompt.count + count - 1); shorten them, or use --no-cache, "
                        + "which slides a \(window)-byte window over the text"
                )
            }
            let tokens = Indices(
                shape: [samples, prompt.count],
                values: Array((0..<samples).map { _ in prompt }.joined()))
            let (all, initial) = try withoutGradient {
                try model.prefill(tokens, lengths: Array(repeating: prompt.count, count: samples))
            }
            state = initial
            // [b, 1, vocabulary]
            let last = all.sliced(alongAxis: 1, (prompt.count - 1)..<prompt.count)
            logits = rows(last)
        } else {
            logits = try recomputed(Array(0..<samples), generated)
        }
        var active = Array(0..<samples)
        for index in 0..<count {
            for (row, i) in active.enumerated() { generated[i].append(try pick(i, logits[row])) }
            active.removeAll { generated[$0].last == endToken }
            if active.isEmpty || index == count - 1 { break }
            if let state {
                // Every sample steps (a finished one's output is ignored); the batch keeps its
                // shape.
                let all = try withoutGradient {
                    try model.step(generated.map { $0.last! }, state: state)
                }
                let everyRow = rows(all.reshaped([samples, 1, all.shape[1]]))
                logits = active.map { everyRow[$0] }
            } else {
                logits = try recomputed(active, generated)
            }
        }
        return generated
    }

    /// Next-token logits of the given samples from a causal forward over each one's last `window`
    /// tokens (all the same length: every active sample has generated as many tokens).
    func recomputed(_ active: [Int], _ generated: [[Int]]) throws -> [[Float]] {
        let window = model.encoder.configuration.maximumLength
        let visible = active.map { Array((prompt + generated[$0]).suffix(window)) }
        let length = visible[0].count
        let tokens = Indices(shape: [visible.count, length], values: Array(visible.joined()))
        let logits = try withoutGradient { try model(tokens).logits }  // [b, n, vocabulary]
        return rows(logits.sliced(alongAxis: 1, (length - 1)..<length))
    }

    /// [b, 1, v] → b rows of v.
    func rows(_ logits: Tensor) -> [[Float]] {
        let (b, v) = (logits.shape[0], logits.shape[2])
        let scalars = logits.scalars
        return (0..<b).map { Array(scalars[$0 * v..<($0 + 1) * v]) }
    }
}
