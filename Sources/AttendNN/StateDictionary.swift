// Flat name → tensor views of a module tree, for checkpoints and pretrained weights. Loading is
// strict: missing, unexpected and wrongly shaped names are reported together before anything changes.
import AttendCore

/// Why a set of named tensors could not be loaded into a module.
public struct StateDictionaryMismatch: Error, CustomStringConvertible {
    /// Names the module has that the source lacks.
    public let missing: [String]
    /// Names the source has that the module lacks.
    public let unexpected: [String]
    /// Names present in both with different shapes: (name, module shape, source shape).
    public let wrongShape: [(String, [Int], [Int])]

    /// A mismatch listing each kind of problem (model loaders with their own key tables build it).
    public init(missing: [String], unexpected: [String], wrongShape: [(String, [Int], [Int])]) {
        self.missing = missing
        self.unexpected = unexpected
        self.wrongShape = wrongShape
    }

    /// The mismatch between `parameters` and `tensors`, name for name: the parameters `tensors`
    /// lacks, the names it has beyond them and the shapes that differ; nil when they all agree.
    public init?(parameters: [(String, Parameter)], tensors: [String: Tensor]) {
        let own = Set(parameters.map(\.0))
        let missing = parameters.map(\.0).filter { tensors[$0] == nil }
        let unexpected = tensors.keys.filter { !own.contains($0) }.sorted()
        let wrongShape = parameters.compactMap { name, parameter -> (String, [Int], [Int])? in
            guard let t = tensors[name], t.shape != parameter.shape else { return nil }
            return (name, parameter.shape, t.shape)
        }
        guard !missing.isEmpty || !unexpected.isEmpty || !wrongShape.isEmpty else { return nil }
        self.init(missing: missing, unexpected: unexpected, wrongShape: wrongShape)
    }

    /// One line per kind of problem, listing the names.
    public var description: String {
        var lines = ["the weights do not match the model:"]
        if !missing.isEmpty {
            lines.append(
                "  missing (\(missing.count)): \(missing.prefix(20).joined(separator: ", "))")
        }
        if !unexpected.isEmpty {
            lines.append(
                "  unexpected (\(unexpected.count)): \(unexpected.prefix(20).joined(separator: ", "))"
            )
        }
        for (name, want, got) in wrongShape.prefix(20) {
            lines.append("  \(name): model expects \(want), file has \(got)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Module {
    /// Every parameter value by dotted name, in declaration order.
    public func stateDictionary() -> [(String, Tensor)] {
        namedParameters().map { ($0.0, $0.1.value) }
    }

    /// Copies `tensors` into the parameters of the same names.
    ///
    /// With `strict`, every parameter must be present and no extra name may appear; shapes must
    /// always match. Nothing is assigned unless everything checks out.
    public func load(_ tensors: [String: Tensor], strict: Bool = true) throws {
        let named = namedParameters()
        if let mismatch = StateDictionaryMismatch(parameters: named, tensors: tensors),
            strict || !mismatch.wrongShape.isEmpty
        {
            throw mismatch
        }
        for (name, parameter) in named {
            if let t = tensors[name] { parameter.value = t }
        }
    }
}
