// ListOps (Nangia & Bowman, 2018) as Long Range Arena uses it (Tay et al., 2020;
// google-research/long-range-arena `data/listops.py`): nested prefix expressions over the digits
// with MIN, MAX, MED (median, truncated) and SM (sum modulo 10); the answer is one of 10 digits.
// This file holds the vocabulary, the tokenizer (LRA's loader: parentheses dropped, `]` its own
// token) and an evaluator that also checks the grammar.

/// The ListOps vocabulary, tokenizer and evaluator.
public enum ListOps {
    /// The operators, in token order.
    public enum Operator: Int, CaseIterable, Sendable {
        /// Smallest argument.
        case min = 0
        /// Largest argument.
        case max
        /// `int(np.median(args))`: the middle value, or the truncated mean of the middle two.
        case median
        /// Sum of the arguments modulo 10.
        case sumModulo

        /// The token text, as in LRA's TSV files.
        public var symbol: String { ["[MIN", "[MAX", "[MED", "[SM"][rawValue] }
    }

    /// Padding id.
    public static let padID = 0
    /// Id of digit `d` is `digitBase + d`.
    public static let digitBase = 1
    /// Id of operator `o` is `operatorBase + o.rawValue`.
    public static let operatorBase = 11
    /// Id of the closing bracket `]`.
    public static let closeID = 15
    /// Token text by id: `<pad>`, the ten digits, the four operators, `]`.
    public static let vocabulary: [String] =
        ["<pad>"] + (0...9).map(String.init) + Operator.allCases.map(\.symbol) + ["]"]

    /// Token ids of an expression in LRA's text form, with or without the generator's
    /// parentheses: `( ( [MAX 2 ) 9 ] )` and `[MAX 2 9 ]` give the same ids.
    public static func tokenize(_ source: String) throws(ListOpsError) -> [Int] {
        var ids: [Int] = []
        for word in source.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            let text = word.filter { $0 != "(" && $0 != ")" }
            if text.isEmpty { continue }
            guard let id = vocabulary.firstIndex(of: String(text)), id != padID else {
                throw ListOpsError.unknownToken(String(text))
            }
            ids.append(id)
        }
        return ids
    }

    /// The expression as text, one space between tokens: `[MAX 2 9 [MIN 4 7 ] 0 ]`.
    public static func render(_ ids: [Int]) -> String {
        ids.map { $0 >= 0 && $0 < vocabulary.count ? vocabulary[$0] : "?\($0)" }
            .joined(separator: " ")
    }

    /// The value of an expression given as token ids, checking that it is one well-formed
    /// expression: every operator has at least one argument and is closed, nothing follows the end.
    public static func evaluate(_ ids: [Int]) throws(ListOpsError) -> Int {
        var frames: [(op: Operator, arguments: [Int])] = []
        var result: Int?
        for (position, id) in ids.enumerated() {
            guard result == nil else { throw ListOpsError.trailingTokens(at: position) }
            var value: Int?
            switch id {
            case digitBase..<(digitBase + 10):
                value = id - digitBase
            case operatorBase..<(operatorBase + 4):
                frames.append((Operator(rawValue: id - operatorBase)!, []))
            case closeID:
                guard let frame = frames.popLast() else {
                    throw ListOpsError.unbalancedClose(at: position)
                }
                guard !frame.arguments.isEmpty else {
                    throw ListOpsError.emptyOperator(at: position)
                }
                value = apply(frame.op, frame.arguments)
            default:
                throw ListOpsError.unknownToken(String(id))
            }
            if let value {
                if frames.isEmpty {
                    result = value
                } else {
                    frames[frames.count - 1].arguments.append(value)
                }
            }
        }
        guard frames.isEmpty, let result else { throw ListOpsError.unclosed }
        return result
    }

    /// One operator applied to its arguments.
    public static func apply(_ op: Operator, _ arguments: [Int]) -> Int {
        switch op {
        case .min: return arguments.min()!
        case .max: return arguments.max()!
        case .sumModulo: return arguments.reduce(0, +) % 10
        case .median:
            let sorted = arguments.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1
                ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
    }
}

/// Why a token sequence is not a ListOps expression.
public enum ListOpsError: Error, Equatable, CustomStringConvertible {
    /// A word or id outside the vocabulary.
    case unknownToken(String)
    /// A `]` with no open operator.
    case unbalancedClose(at: Int)
    /// An operator closed with no arguments.
    case emptyOperator(at: Int)
    /// Tokens after the expression ended.
    case trailingTokens(at: Int)
    /// The input ended inside an operator, or was empty.
    case unclosed

    /// One line for the terminal.
    public var description: String {
        switch self {
        case .unknownToken(let token): return "unknown ListOps token '\(token)'"
        case .unbalancedClose(let at): return "']' with no open operator at token \(at)"
        case .emptyOperator(let at): return "operator closed without arguments at token \(at)"
        case .trailingTokens(let at): return "tokens after the end of the expression at token \(at)"
        case .unclosed: return "expression is empty or ends inside an operator"
        }
    }
}
