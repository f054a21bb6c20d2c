// Errors raised while locating, decoding or configuring data. Each case carries what a user needs to
// fix the problem: the file, what was wrong with it, and the command that provides it.

/// Something about a data set or a task configuration that stops a task from being built.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// No candidate path held the file; `searched` lists every place looked at, in order.
    case missingFile(name: String, searched: [String], hint: String)
    /// The file exists but its contents are not what the reader expects.
    case malformedFile(path: String, reason: String, hint: String)
    /// A task name that the catalogue does not know.
    case unknownTask(String, known: [String])
    /// A preset name that the catalogue does not know.
    case unknownPreset(String, known: [String])
    /// Parameters that cannot produce a valid task (e.g. an empty length range).
    case invalidConfiguration(task: String, reason: String)
    /// One record (line) of a user's data file is unusable; `line` counts from 1.
    case malformedRecord(path: String, line: Int, reason: String)
    /// A label at evaluation or prediction time that the trained run does not know.
    case unknownLabel(path: String, line: Int, label: String, known: [String])

    /// One paragraph for the terminal.
    public var description: String {
        switch self {
        case .missingFile(let name, let searched, let hint):
            return "data file \(name) not found (looked in: \(searched.joined(separator: ", "))); "
                + hint
        case .malformedFile(let path, let reason, let hint):
            return "malformed data file \(path): \(reason); \(hint)"
        case .unknownTask(let name, let known):
            return "unknown task '\(name)'; known tasks: \(known.joined(separator: ", "))"
        case .unknownPreset(let name, let known):
            return "unknown preset '\(name)'; known presets: \(known.joined(separator: ", "))"
        case .invalidConfiguration(let task, let reason):
            return "invalid \(task) configuration: \(reason)"
        case .malformedRecord(let path, let line, let reason):
            return "\(path):\(line): \(reason) (fix the line, or pass --skip-bad-lines to skip it)"
        case .unknownLabel(let path, let line, let label, let known):
            return "\(path):\(line): unknown label '\(label)'; the run was trained on: "
                + known.joined(separator: ", ")
        }
    }
}

/// A decoding failure inside a file format reader, before the reader knows which file it is in.
/// `DataFiles` turns it into `DataError.malformedFile` with the path and a hint.
struct FormatError: Error, Equatable {
    /// What went wrong, with the offset where it was noticed.
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
