import Testing

// The catalogue: every task name builds at the tiny preset and describes itself consistently;
// unknown names list the valid ones.
@testable import AttendData

@Test(arguments: TaskCatalog.names)
func everyCatalogueTaskBuildsAtTheTinyPreset(_ name: String) throws {
    guard TestData.available(task: name) else { return }  // ATTEND_SKIP_DATA=1 and data missing
    let task = try TaskCatalog.make(name, preset: .tiny, seed: 3)
    #expect(task.name == name && task.seed == 3)
    #expect(TaskCatalog.summaries[name] != nil)
    #expect(task.classNames.count == (task.isCausal ? 0 : task.classCount))
    // Drawing a 64-image block of Path-X or PF-64 takes seconds; pathfinderMakesEachLRASize
    // checks one image of each size instead.
    if name == "pathx" || name == "pathfinder64" { return }
    for split in Split.allCases {
        #expect(task.count(of: split) > 0)
        let example = task.example(task.count(of: split) - 1, in: split)
        #expect(!example.tokens.isEmpty && example.tokens.count <= task.maxLength)
        #expect(example.tokens.allSatisfy { $0 >= 0 && $0 < task.vocabularySize })
        #expect(example.label >= 0 && example.label < task.classCount)
        #expect((example.pairTokens != nil) == task.isPair)
        #expect((example.targets != nil) == task.isCausal)
    }
}

@Test func unknownNamesListTheKnownOnes() {
    #expect(throws: DataError.unknownTask("listop", known: TaskCatalog.names)) {
        try TaskCatalog.make("listop")
    }
    #expect(throws: DataError.unknownPreset("huge", known: ["tiny", "cpu", "lra"])) {
        try TaskPreset.named("huge")
    }
    #expect(
        DataError.unknownTask("x", known: ["a", "b"]).description
            == "unknown task 'x'; known tasks: a, b")
    #expect(Set(TaskCatalog.longRangeArena).isSubset(of: Set(TaskCatalog.names)))
}

@Test(arguments: TaskCatalog.all.map(\.name))
func everyEntryDeclaresWhatItsTaskIs(_ name: String) throws {
    guard TestData.available(task: name) else { return }  // ATTEND_SKIP_DATA=1 and data missing
    let entry = try TaskCatalog.named(name)
    let task = try entry.make(.tiny, 5, DataFiles())
    #expect(task.name == entry.name && task.kind == entry.kind && task.seed == 5)
    #expect(TaskCatalog.longRangeArena == ["listops", "text", "retrieval", "image", "pathfinder"])
    #expect(throws: DataError.unknownTask("pathy", known: TaskCatalog.names)) {
        try TaskCatalog.named("pathy")
    }
}
