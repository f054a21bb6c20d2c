// Class labels as a user writes them (strings, or integers written as numbers or text) ↔ the
// ids 0…k−1 a model predicts. Built from the training labels (integers in numeric order when
// every label is one, otherwise strings in byte order), so the same file always gives the same
// ids, and saved with the run so that evaluation and prediction map labels as training did.

/// The classes of a data set, in id order.
public struct LabelMap: Sendable, Equatable {
    /// Class names, in id order.
    public let names: [String]
    private let ids: [String: Int]

    /// A map over `names`, in the given order.
    public init(names: [String]) {
        self.names = names
        ids = Dictionary(
            names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The map the distinct labels in `labels` define: numeric order if all are integers, else
    /// byte order.
    public init<Labels: Sequence<String>>(collecting labels: Labels) {
        let distinct = Set(labels)
        let numbers = distinct.compactMap { Int($0) }
        if numbers.count == distinct.count {
            self.init(names: numbers.sorted().map(String.init))
        } else {
            self.init(names: distinct.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) })
        }
    }

    /// The id of `label`, or nil when it is not a class.
    public func id(of label: String) -> Int? { ids[label] }

    /// Number of classes.
    public var count: Int { names.count }
}
