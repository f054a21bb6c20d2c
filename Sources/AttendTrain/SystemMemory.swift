// What the kernel says about memory: this process's resident set and the memory available for new
// allocations, read from /proc (Linux). Nil where /proc is missing, so callers can say so.
import Foundation

/// Resident and available memory from /proc.
public enum SystemMemory {
    /// Bytes this process has resident now (VmRSS of /proc/self/status).
    public static var residentBytes: Int? {
        kibibytes("VmRSS:", in: "/proc/self/status").map { $0 << 10 }
    }

    /// Bytes the kernel estimates are available to new allocations without swapping (MemAvailable
    /// of /proc/meminfo).
    public static var availableBytes: Int? {
        kibibytes("MemAvailable:", in: "/proc/meminfo").map { $0 << 10 }
    }

    /// The "<field> <n> kB" value of a /proc file.
    static func kibibytes(_ field: String, in path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            return Int(
                line.dropFirst(field.count).split(whereSeparator: \.isWhitespace).first ?? "")
        }
        return nil
    }
}
