// The wire format of Protocol Buffers, read by hand (no protobuf library in the toolchain): a
// message is a sequence of fields, each a varint key (field number << 3 | wire type) followed by a
// varint, 8 or 4 little-endian bytes, or a varint length and that many bytes (strings, bytes and
// nested messages). Used for SentencePiece's model file. Every length and offset is checked
// against the bytes left, so a truncated or corrupt file is an error naming the offset, never a
// trap; groups (wire types 3 and 4, deprecated) are refused.

/// Why bytes are not a well-formed protocol buffer message.
struct ProtobufError: Error, Equatable {
    /// What is wrong, with the byte offset in the file.
    let problem: String
}

/// One field of a message as it appears on the wire.
enum ProtobufValue {
    /// Wire type 0: an integer, a bool or an enum.
    case varint(UInt64)
    /// Wire type 1: 8 bytes (double, fixed64).
    case fixed64(UInt64)
    /// Wire type 2: a string, bytes, a nested message or a packed array.
    case bytes(ArraySlice<UInt8>)
    /// Wire type 5: 4 bytes (float, fixed32).
    case fixed32(UInt32)
}

/// Reads the fields of one message in order; a nested message is read by a reader over its bytes.
struct ProtobufReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    /// A reader over `bytes` (a slice keeps the file's offsets for error messages).
    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// The next field (number and value), or nil at the end of the message.
    mutating func next() throws(ProtobufError) -> (number: Int, value: ProtobufValue)? {
        guard position < bytes.endIndex else { return nil }
        let start = position
        let key = try varint()
        let number = key >> 3
        guard number > 0, number < 1 << 29 else {
            throw ProtobufError(problem: "field number \(number) at byte \(start) is not valid")
        }
        switch key & 7 {
        case 0: return (Int(number), .varint(try varint()))
        case 1: return (Int(number), .fixed64(try littleEndian(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw ProtobufError(
                    problem: "field \(number) at byte \(start) is \(length) bytes long, but "
                        + "only \(bytes.endIndex - position) bytes are left")
            }
            let end = position + Int(length)
            defer { position = end }
            return (Int(number), .bytes(bytes[position..<end]))
        case 5: return (Int(number), .fixed32(UInt32(try littleEndian(4))))
        default:
            throw ProtobufError(
                problem: "field \(number) at byte \(start) has wire type \(key & 7), which is "
                    + "not one of 0, 1, 2 and 5")
        }
    }

    /// A base-128 varint of at most 10 bytes.
    private mutating func varint() throws(ProtobufError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard position < bytes.endIndex else {
                throw ProtobufError(problem: "the varint at byte \(start) is cut off")
            }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 {
                throw ProtobufError(problem: "the varint at byte \(start) exceeds 64 bits")
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
        }
        throw ProtobufError(problem: "the varint at byte \(start) is longer than 10 bytes")
    }

    /// `count` bytes as a little-endian integer.
    private mutating func littleEndian(_ count: Int) throws(ProtobufError) -> UInt64 {
        guard bytes.endIndex - position >= count else {
            throw ProtobufError(
                problem: "a \(count)-byte field at byte \(position) is cut off")
        }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[position + index]) << (8 * index) }
        position += count
        return value
    }
}

extension ProtobufValue {
    /// The varint's value, or an error naming `field` when the value has another wire type.
    func integer(_ field: String) throws(ProtobufError) -> UInt64 {
        guard case .varint(let value) = self else { throw wrongType(field, "a varint") }
        return value
    }

    /// The bytes of a length-delimited value, or an error naming `field`.
    func data(_ field: String) throws(ProtobufError) -> ArraySlice<UInt8> {
        guard case .bytes(let value) = self else { throw wrongType(field, "length-delimited") }
        return value
    }

    /// A float (wire type 5), or an error naming `field`.
    func float(_ field: String) throws(ProtobufError) -> Float {
        guard case .fixed32(let bits) = self else { throw wrongType(field, "a 32-bit float") }
        return Float(bitPattern: bits)
    }

    private func wrongType(_ field: String, _ expected: String) -> ProtobufError {
        ProtobufError(problem: "\(field) is not \(expected)")
    }
}
