// `attend bench embed`: sentence-embedding throughput of a pretrained BERT (all-MiniLM-L6-v2 by
// default) on batches of texts that all tokenize to exactly n tokens, end to end (tokenization,
// encoder, pooling, normalisation), as sentence-transformers' `encode` is timed by
// Benchmarks/peers/embed.py on the same texts. With several mechanisms (`--mixers local,bigbird,…`
// or `all`), the same weights run with each registered q/k/v mechanism, and every row reports the
// cosine similarity of its embeddings to the exact (full-attention) ones and its speed-up over full
// attention at that length: what an efficient mechanism costs in fidelity for what it saves in time.
import AttendAttention
import AttendCore
import AttendModels
import AttendTrain
import Foundation

/// The options of `attend bench embed`.
struct EmbedBenchmarkOptions: OptionGroup {
    let model = Option.string(
        "model", "DIR",
        "pretrained model folder (default: $ATTEND_MINILM, else the MiniLM scripts/setup.sh "
            + "fetches)")
    let mixers = DefaultedOption(
        .list("mixers", "LIST", "mechanisms to time, comma-separated, or 'all'"), default: "full")
    let mixerOptions = Option.string(
        "mixer-options", "JSON",
        "options of the mechanisms, e.g. '{\"local\": {\"window_size\": 64}}'")
    let lengths = DefaultedOption(
        .intList(
            "lengths", "LIST", "sequence lengths"), default: "32,128,256")
    let batch = DefaultedOption(.positiveInt("batch", "N", "texts per batch"), default: "32")
    let adapted = Option.list(
        "adapted", "LIST",
        "folders written by attend adapt, each run with its recorded mechanism and compared with "
            + "--model's full attention (same --extend-positions as the adaptation)")
    let extendPositions = DefaultedOption(
        Option<PositionExtension>.cases(
            "extend-positions", "HOW",
            "how lengths beyond the model's positions extend its table: tile or interpolate"),
        default: "tile")
    let output = BenchOutputOptions()
}

enum EmbedBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench embed",
        summary: "sentence embedding throughput of a pretrained folder per mechanism",
        usage: "bench embed [options]", positionals: nil)

    struct Row: Codable {
        let mixer: String, length: Int, batch: Int
        let sentencesPerSecond: Double, batchMilliseconds: Double
        /// Mean and minimum over the batch of cos(embedding, full-attention embedding).
        let meanCosineToFull: Double?, minimumCosineToFull: Double?
        /// Full attention's batch time divided by this mechanism's.
        let speedUpOverFull: Double?
        /// Minor page faults and tensor-cache misses per timed batch (0 once memory is reused).
        let pageFaultsPerBatch: Double, allocatorMissesPerBatch: Double
        /// The first values of text 0's embedding, so the peer script can check it computed the same.
        let firstValues: [Float]
    }

    /// Words the benchmark texts are made of; Benchmarks/peers/embed.py holds the same paragraph.
    static let paragraph = """
        Efficient attention mechanisms replace the quadratic softmax over every pair of tokens with \
        sparse windows, random features, low-rank projections or blocks of global tokens, so that long \
        documents fit in memory and run in reasonable time. Sentence embeddings summarise a text as \
        one vector, and the cosine between two vectors measures how close their meanings are. This \
        benchmark feeds identical batches to both libraries and reports how many sentences each one \
        embeds per second.
        """

    /// Text i of a batch at length n: n words of the paragraph starting at word i, wrapping around.
    /// Every word is at least one token, so with truncation to n every text has exactly n tokens.
    static func texts(length n: Int, batch: Int) -> [String] {
        let words = paragraph.split(separator: " ").map(String.init)
        return (0..<batch).map { i in
            (0..<n).map { words[(i + $0) % words.count] }.joined(separator: " ")
        }
    }

    static func run(_ arguments: ParsedArguments<EmbedBenchmarkOptions>) throws {
        try BenchOutputOptions.start(arguments.group(\.output))
        let directory = try arguments[\.model] ?? defaultMiniLMDirectory
        let requested = try arguments[\.mixers]
        var mixers =
            requested == ["all"]
            ? Mechanisms.all.filter { !$0.capabilities.replacesFeedForward }.map(\.name) : requested
        for name in mixers { _ = try Mechanisms.named(name) }
        let adapted = try arguments[\.adapted] ?? []
        // Full attention is the reference for cosines.
        if mixers.count > 1 || !adapted.isEmpty, !mixers.contains("full") {
            mixers.insert("full", at: 0)
        }
        let positionExtension = try arguments[\.extendPositions]
        let lengths = try arguments[\.lengths]
        let batch = try arguments[\.batch]
        let runs = try arguments[\.output.runs]
        let options = try mixerConfiguration(
            fromJSON: arguments[\.mixerOptions], command: "bench embed")
        print(
            "embed: \(directory), batch \(batch), texts of exactly n tokens, tokenization + encoder + pooling timed"
        )
        var rows: [Row] = []
        var exact: [Int: (vectors: Tensor, milliseconds: Double)] = [:]
        // (row label, folder, mechanism): the mechanisms on --model, then each adapted folder
        // with the mechanism it records.
        let models =
            mixers.map { ($0, directory, Optional($0)) }
            + adapted.map {
                ("adapted:" + URL(fileURLWithPath: $0).lastPathComponent, $0, nil as String?)
            }
        for (mixer, folder, mechanism) in models {
            let embedder: SentenceEmbedder
            do {
                embedder = try SentenceEmbedder(
                    directory: folder, mechanism: mechanism,
                    mixerConfiguration: mechanism == nil ? nil : options,
                    maximumLength: lengths.max(),
                    positionExtension: positionExtension)
            } catch {
                writeError("  \(mixer): skipped: \(error)")
                continue
            }
            if mechanism == nil {
                writeError("  \(mixer): " + Adaptation.summary(ofFolder: folder))
            }
            for n in lengths {
                let texts = Self.texts(length: n, batch: batch)
                let limited = SentenceEmbedder(copying: embedder, maximumLength: n)
                var vectors = Tensor.zeros([1])
                let time: Measurement
                do {
                    time = try Measurement.run(runs: runs) {
                        vectors = try limited.embed(texts, batchSize: batch).vectors
                    }
                } catch {
                    writeError("  \(mixer) n=\(n): skipped: \(error)")
                    continue
                }
                let milliseconds = time.median * 1000
                if mixer == "full" { exact[n] = (vectors, milliseconds) }
                let cosines = exact[n].map { rowCosines(vectors, $0.vectors) }
                rows.append(
                    Row(
                        mixer: mixer, length: n, batch: batch,
                        sentencesPerSecond: Double(batch) / time.median,
                        batchMilliseconds: milliseconds,
                        meanCosineToFull: cosines.map { $0.reduce(0, +) / Double($0.count) },
                        minimumCosineToFull: cosines?.min(),
                        speedUpOverFull: exact[n].map { $0.milliseconds / milliseconds },
                        pageFaultsPerBatch: time.pageFaultsPerRun,
                        allocatorMissesPerBatch: time.allocatorMissesPerRun,
                        firstValues: Array(vectors.scalars.prefix(8))))
                FileHandle.standardError.write(
                    Data(
                        "  \(mixer) n=\(n): \(String(format: "%.1f", milliseconds)) ms per batch\n"
                            .utf8))
            }
        }
        let table = rows.map { r in
            [
                r.mixer, "\(r.length)", "\(r.batch)", String(format: "%.1f", r.sentencesPerSecond),
                String(format: "%.1f", r.batchMilliseconds),
                r.meanCosineToFull.map { String(format: "%.6f", $0) } ?? "-",
                r.minimumCosineToFull.map { String(format: "%.6f", $0) } ?? "-",
                r.speedUpOverFull.map { String(format: "%.2f×", $0) } ?? "-",
                String(format: "%.0f", r.pageFaultsPerBatch),
                String(format: "%.1f", r.allocatorMissesPerBatch),
            ]
        }
        print(
            TextTable(
                header: [
                    "mixer", "n", "batch", "sentences/s", "ms/batch", "cos to full (mean)",
                    "cos (min)", "speed-up",
                    "page faults/batch", "cache misses/batch",
                ],
                rows: table
            ).rendered)
        try ResultFiles.write(rows, arguments.group(\.output))
    }

    /// cos(a[i], b[i]) for each row of two [k, c] tensors.
    static func rowCosines(_ a: Tensor, _ b: Tensor) -> [Double] {
        let (k, c) = (a.shape[0], a.shape[1])
        let x = a.scalars, y = b.scalars
        return (0..<k).map { i in
            var dot = 0.0, xx = 0.0, yy = 0.0
            for j in 0..<c {
                let (p, q) = (Double(x[i * c + j]), Double(y[i * c + j]))
                dot += p * q
                xx += p * p
                yy += q * q
            }
            return dot / max((xx * yy).squareRoot(), 1e-30)
        }
    }
}
