// How every configuration type decodes: it starts from its default value and overrides only the
// keys the file has. Each default is then written once, where the type declares it, and files
// written before a field existed still decode to the values they meant.

extension KeyedDecodingContainer {
    /// Replaces `value` with the one stored at `key`; leaves it (the default) when the key is
    /// absent or null. Throws when the stored value has the wrong type.
    public func override<T: Decodable>(_ value: inout T, _ key: Key) throws {
        if let stored = try decodeIfPresent(T.self, forKey: key) { value = stored }
    }
}
