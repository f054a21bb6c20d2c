// Finding the `attend` executable for tests that run it as a user would.
import Testing

/// The built `attend` next to the tests, or nil after recording that it is missing.
func requireAttendExecutable() -> String? {
    guard let attend = builtAttendExecutable() else {
        Issue.record("the attend executable was not built next to the tests (make test builds it)")
        return nil
    }
    return attend
}

/// Runs `attend` (the executable `builtAttendExecutable()` found, or nil) with `arguments` and a time
/// limit; when it was not built, records that and returns status -1 with no output.
func runAttend(_ attend: String?, _ arguments: [String], limit: Double = 120) throws
    -> (status: Int32, output: String)
{
    guard let attend else {
        Issue.record("the attend executable was not built next to the tests (make test builds it)")
        return (-1, "")
    }
    return try runCommand(attend, arguments, limit: limit)
}
