// Locating committed fixture files inside a test target's resource bundle.
import AttendCore
import Foundation

/// A missing fixture: names the file and how fixtures are made.
public struct MissingFixture: Error, CustomStringConvertible {
    /// Which fixture is missing and where to read how fixtures are made.
    public let description: String
}

/// The path of `Fixtures/<name>.safetensors` in `bundle` (pass the test target's `Bundle.module`).
public func fixturePath(_ name: String, in bundle: Bundle) throws -> String {
    guard let path = bundle.path(forResource: name, ofType: "safetensors", inDirectory: "Fixtures")
    else {
        throw MissingFixture(
            description:
                "fixture \(name).safetensors is missing from the test bundle (see scripts/fixtures/README.md)"
        )
    }
    return path
}

/// Opens `Fixtures/<name>.safetensors` in `bundle`.
public func openFixture(_ name: String, in bundle: Bundle) throws -> SafetensorsFile {
    try SafetensorsFile(path: try fixturePath(name, in: bundle))
}
