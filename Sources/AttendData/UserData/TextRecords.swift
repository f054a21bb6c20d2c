// One record of a JSON-lines, CSV or TSV file → its text(s) and label, by field name. JSON labels
// may be strings or integers; CSV/TSV fields are all text, so a label column of integers reads as
// their decimal strings either way. A CSV/TSV file's first record is its header, naming the
// columns.
import Foundation

/// The texts and label of one record.
struct TextRecord: Sendable {
    /// The text, then the second text of a pair.
    let texts: [String]
    /// The label as written; nil when the file has no label field (prediction).
    let label: String?
}

/// Reads records of one format by field name.
struct TextRecordReader: Sendable {
    let format: DataFormat
    let fields: FieldNames
    /// Whether records must carry a label (training, evaluation) or may lack one (prediction).
    let needsLabel: Bool
    /// CSV/TSV: column of the text(s) and of the label in each record.
    private var columns: (texts: [Int], label: Int?)?

    private var textFields: [String] { [fields.text] + (fields.pair.map { [$0] } ?? []) }

    /// A reader of `format` records. CSV and TSV readers need `header` next.
    init(format: DataFormat, fields: FieldNames, needsLabel: Bool) {
        precondition(format.hasFields, "\(format) files have no fields")
        self.format = format
        self.fields = fields
        self.needsLabel = needsLabel
    }

    private var separator: UInt8 { format == .tsv ? 9 : UInt8(ascii: ",") }

    /// True for formats whose first record names the columns.
    var needsHeader: Bool { format != .jsonl }

    /// Reads the header record of a CSV/TSV file, checking that it names the fields.
    mutating func header(_ record: ArraySlice<UInt8>) throws(FormatError) {
        let names = try DelimitedRecords.fields(record, separator: separator)
        func column(_ name: String) throws(FormatError) -> Int {
            guard let index = names.firstIndex(of: name) else {
                throw FormatError(
                    "the header has no column '\(name)' "
                        + "(columns: \(names.joined(separator: ", "))); "
                        + "name the right one with --text-field, --pair-field or --label-field")
            }
            return index
        }
        var texts: [Int] = []
        for name in textFields { texts.append(try column(name)) }
        let label: Int? = needsLabel ? try column(fields.label) : names.firstIndex(of: fields.label)
        columns = (texts, label)
    }

    /// The texts and label of one record; an empty text is an error.
    func read(_ record: ArraySlice<UInt8>) throws(FormatError) -> TextRecord {
        let parsed = format == .jsonl ? try readJSON(record) : try readDelimited(record)
        if let empty = parsed.texts.firstIndex(where: \.isEmpty) {
            throw FormatError("empty text in \"\(textFields[empty])\"")
        }
        return parsed
    }

    private func readDelimited(_ record: ArraySlice<UInt8>) throws(FormatError) -> TextRecord {
        guard let columns else { preconditionFailure("header(_:) must come before read(_:)") }
        let values = try DelimitedRecords.fields(record, separator: separator)
        let needed = (columns.texts + [columns.label ?? 0]).max()! + 1
        guard values.count >= needed else {
            throw FormatError("\(values.count) fields, the header names at least \(needed)")
        }
        return TextRecord(
            texts: columns.texts.map { values[$0] }, label: columns.label.map { values[$0] })
    }

    private func readJSON(_ record: ArraySlice<UInt8>) throws(FormatError) -> TextRecord {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(
                with: Data(record), options: [.fragmentsAllowed])
        } catch {
            throw FormatError("not valid JSON (\(Self.reason(error)))")
        }
        guard let object = parsed as? [String: Any] else {
            throw FormatError(
                "a JSON object {\"\(fields.text)\": …, \"\(fields.label)\": …} was expected")
        }
        var texts: [String] = []
        for name in textFields {
            guard let value = object[name] else { throw FormatError("no \"\(name)\" field") }
            guard let text = value as? String else {
                throw FormatError("\"\(name)\" is not a string")
            }
            texts.append(text)
        }
        guard let value = object[fields.label] else {
            if needsLabel { throw FormatError("no \"\(fields.label)\" field") }
            return TextRecord(texts: texts, label: nil)
        }
        return TextRecord(texts: texts, label: try Self.label(value, field: fields.label))
    }

    /// A JSON label as text: a string, or an integer in decimal.
    private static func label(_ value: Any, field: String) throws(FormatError) -> String {
        if let text = value as? String { return text }
        // Foundation gives JSON numbers and booleans as NSNumber, and `0 is Bool` holds for one;
        // its type code tells them apart ("c" for a boolean).
        if let number = value as? NSNumber, type(of: value) != Bool.self,
            String(cString: number.objCType) != "c", let integer = Int(exactly: number.doubleValue)
        {
            return String(integer)
        }
        throw FormatError("\"\(field)\" must be a string or an integer, got \(value)")
    }

    /// The short reason Foundation gives for a JSON error, without its framing.
    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}

extension FieldNames {
    /// The field names of the first record of `path` (the header of a CSV/TSV file, the keys of
    /// the first JSON line), read from the file's first 64 KiB; nil when they cannot be read.
    public static func firstRecordFields(of path: String, format: DataFormat) -> [String]? {
        guard format.hasFields, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 1 << 16) else { return nil }
        let bytes = [UInt8](data).drop { $0 == 10 || $0 == 13 || $0 == 32 }
        let line = bytes.prefix { $0 != 10 }
        if format == .jsonl {
            let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            return object.map { Array($0.keys) }
        }
        return try? DelimitedRecords.fields(line, separator: format == .tsv ? 9 : UInt8(ascii: ","))
    }
}
