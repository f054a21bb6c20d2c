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
