// CSV and TSV records (RFC 4180): fields separated by a comma (or a tab); a field in double quotes
// may hold separators, line breaks and doubled quotes (`""` is one `"`). Records end at a line
// break outside quotes; a `\r` before it is dropped. An unquoted field may contain a lone quote
// (as Python's csv module reads it); text after a closing quote is an error.

/// Splitting delimited records into fields.
enum DelimitedRecords {
    /// The fields of one record (without its line break).
    static func fields(_ record: ArraySlice<UInt8>, separator: UInt8) throws(FormatError)
        -> [String]
    {
        let quote = UInt8(ascii: "\"")
        var fields: [String] = []
        var field: [UInt8] = []
        var i = record.startIndex
        var quoted = false
        var afterQuote = false
        var atFieldStart = true
        while i < record.endIndex {
            let byte = record[i]
            i += 1
            if quoted {
                if byte == quote {
                    if i < record.endIndex && record[i] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    field.append(byte)
                }
            } else if byte == separator {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                (afterQuote, atFieldStart) = (false, true)
                continue
            } else if afterQuote {
                if byte == UInt8(ascii: "\r") && i == record.endIndex { continue }
                throw FormatError("text after the closing quote of field \(fields.count + 1)")
            } else if byte == quote && atFieldStart {
                quoted = true
            } else if !(byte == UInt8(ascii: "\r") && i == record.endIndex) {
                field.append(byte)
            }
            atFieldStart = false
        }
        guard !quoted else {
            throw FormatError("field \(fields.count + 1) opens a quote that never closes")
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }
}
