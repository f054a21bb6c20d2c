// Inputs longer than a checkpoint's trained positions: an absolute-position BERT's learned table
// [N, c] is grown to [M, c] before the model runs, either by tiling it (row i of the new table is
// trained row i mod N, as Longformer started from RoBERTa's 512 positions, Beltagy et al. 2020
// §5) or by resampling it (position interpolation, Chen et al. 2023, arXiv:2306.15595: row i reads
// the trained table at i·(N−1)/(M−1), linearly between its neighbours). Tiling keeps the first N
// rows, so an input of at most N tokens gives the checkpoint's own outputs; interpolation keeps
// the table's range but moves every position, so it needs adaptation (attend adapt) to pay off.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// How a learned position table grows beyond its trained length.
public enum PositionExtension: String, CaseIterable, Sendable, Codable {
    /// Repeat the trained rows: new row i is trained row i mod N.
    case tile
    /// Resample the trained rows linearly over the new length.
    case interpolate

    /// `table` [N, c] grown to [rows, c] (rows ≥ N).
    public func extended(_ table: Tensor, to rows: Int) -> Tensor {
        let (n, c) = (table.shape[0], table.shape[1])
        precondition(rows >= n, "a position table only grows: \(n) rows to \(rows)")
        let old = table.scalars
        var new = [Float](repeating: 0, count: rows * c)
        for i in 0..<rows {
            switch self {
            case .tile:
                let source = (i % n) * c
                for j in 0..<c { new[i * c + j] = old[source + j] }
            case .interpolate:
                let x = rows > 1 ? Double(i) * Double(n - 1) / Double(rows - 1) : 0
                let low = min(Int(x), n - 1)
                let high = min(low + 1, n - 1)
                let weight = Float(x - Double(low))
                for j in 0..<c {
                    new[i * c + j] = (1 - weight) * old[low * c + j] + weight * old[high * c + j]
                }
            }
        }
        return Tensor(shape: [rows, c], scalars: new)
    }
}

extension Bert {
    /// Name of the learned position table in the module tree and the checkpoint.
    static let positionTableName = "embeddings.position_embeddings.weight"

    /// Loads the folder `directory` (as `load(directory:…)`) and, when `positions` exceeds the
    /// folder's `max_position_embeddings`, grows its position table to `positions` rows by
    /// `method`; otherwise the model is the folder's own.
    ///
    /// Parameters whose shape follows the length (a Linformer projection of a folder adapted at
    /// the shorter length) cannot be carried over: they keep their initial values and are listed
    /// in the report's `keptInitial`.
    public static func load(
        directory: String, mechanism: String = "full",
        mixerConfiguration: MixerConfiguration? = nil,
        positions: Int, extension method: PositionExtension, seed: UInt64 = 0
    ) throws -> (model: Bert, report: BertLoadReport) {
        let (trained, report) = try load(
            directory: directory, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            seed: seed)
        guard positions > trained.configuration.maximumPositions else { return (trained, report) }
        var configuration = trained.configuration
        configuration.maximumPositions = positions
        let model = try Bert(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: trained.pooler != nil, seed: seed, initialization: .random)
        let keptInitial = copyParameters(
            from: trained.namedParameters(), into: model.namedParameters(),
            positionTable: positionTableName, extension: method)
        let extended = BertLoadReport(
            file: report.file, skipped: report.skipped,
            keptInitial: (report.keptInitial + keptInitial).sorted(), converted: report.converted)
        return (model, extended)
    }

    /// Copies each parameter of `source` into the parameter of `target` with the same name,
    /// growing the position table named `positionTable` to its target's rows by `method`.
    /// Returns the names of `target` left at their initial values: absent from `source`, or of
    /// another shape there.
    static func copyParameters(
        from source: [(String, Parameter)], into target: [(String, Parameter)],
        positionTable: String, extension method: PositionExtension
    ) -> [String] {
        let source = Dictionary(uniqueKeysWithValues: source)
        var keptInitial: [String] = []
        for (name, parameter) in target {
            guard let old = source[name] else {
                keptInitial.append(name)
                continue
            }
            if name == positionTable {
                parameter.value = method.extended(old.value, to: parameter.shape[0])
            } else if old.shape == parameter.shape {
                parameter.value = old.value
            } else {
                keptInitial.append(name)
            }
        }
        return keptInitial
    }
}
