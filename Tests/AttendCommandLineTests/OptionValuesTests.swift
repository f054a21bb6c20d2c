// Each option type turns text into its value with the checks and the one-line messages the
// string-typed parser had: whole numbers, positive numbers, sizes, lists, choices, seeds, flag
// pairs, bare values and defaults.
import Testing

@testable import attend

/// A command's worth of options of every type.
struct SampleOptions: OptionGroup {
    let count = Option.int("count", "N", "a whole number")
    let size = Option.positiveInt("size", "N", "a positive number")
    let every = Option.positiveInt("every", "K", "bare means 1", bare: "1")
    let memory = Option.byteSize("memory", "SIZE", "bytes")
    let rate = Option.float("rate", "X", "a number")
    let names = Option.list("names", "LIST", "names")
    let lengths = Option.intList("lengths", "LIST", "lengths")
    let mode = Option.choice("mode", "NAME", "a mode", from: ["none", "mpi"])
    let seed = Option.seed("seed", "N", "a seed")
    let runs = DefaultedOption(.positiveInt("runs", "N", "repetitions"), default: "5")
    let cache = FlagPair("cache", "use the cache", negated: "recompute")
    let verbose = Flag("verbose", "say more")
    let out = Option.string("out", "DIR", "where")
}

@Suite struct OptionValuesTests {
    let spec = CommandSpec(name: "sample", summary: "s", usage: "sample", positionals: nil)

    func parse(_ arguments: [String]) throws -> ParsedArguments<SampleOptions> {
        try spec.parse(arguments, as: SampleOptions.self)
    }

    /// The usage error reading `key` after parsing `arguments` throws.
    func error<V>(_ arguments: [String], _ key: KeyPath<SampleOptions, Option<V>>) -> String {
        do {
            _ = try parse(arguments)[key]
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func valuesAreTyped() throws {
        let a = try parse([
            "--count", "-3", "--size=7", "--every", "--memory", "1.5G", "--rate", "0.25",
            "--names", "a, b,,c", "--lengths", "1,2", "--mode", "mpi", "--seed", "9", "--no-cache",
            "--verbose",
        ])
        #expect(try a[\.count] == -3)
        #expect(try a[\.size] == 7)
        #expect(try a[\.every] == 1)
        #expect(try a[\.memory] == 3 << 29)
        #expect(try a[\.rate] == 0.25)
        #expect(try a[\.names] == ["a", "b", "c"])
        #expect(try a[\.lengths] == [1, 2])
        #expect(try a[\.mode] == "mpi")
        #expect(try a[\.seed] == 9)
        #expect(try a[\.runs] == 5)
        #expect(try a[\.cache] == false)
        #expect(a[\.verbose])
        #expect(try a[\.out] == nil)
        #expect(try a.required(\.size) == 7)
        #expect(a.isGiven(a.options.size) && !a.isGiven(a.options.out))
        #expect(a.isGiven(a.options.cache) && !a.isGiven(a.options.runs))
        let b = try parse(["--every", "3", "--runs", "2", "--cache"])
        #expect(try b[\.every] == 3 && b[\.runs] == 2 && b[\.cache] == true)
        #expect(try parse([])[\.cache] == nil)
    }

    @Test func badValuesAreOneLineErrorsNamingTheOption() throws {
        #expect(
            error(["--count", "x"], \.count)
                == "attend sample: --count expects a whole number, got 'x'")
        #expect(error(["--size", "0"], \.size) == "attend sample: --size must be positive, got 0")
        #expect(
            error(["--memory", "lots"], \.memory)
                == "attend sample: --memory expects a size such as 12G, 512M or a byte count, got 'lots'"
        )
        #expect(
            error(["--rate", "inf"], \.rate) == "attend sample: --rate expects a number, got 'inf'")
        #expect(
            error(["--lengths", "4,-1"], \.lengths)
                == "attend sample: --lengths expects positive whole numbers, got '-1'")
        #expect(
            error(["--mode", "tcp"], \.mode)
                == "attend sample: --mode 'tcp' is not one of: none, mpi")
        #expect(
            error(["--seed", "-1"], \.seed) == "attend sample: --seed must be 0 or more, got -1")
        #expect(throws: UsageError.self) { try parse(["--cache", "--no-cache"])[\.cache] }
        #expect(throws: UsageError.self) { try parse([]).required(\.out) }
    }

    @Test func helpShowsPairsBareValuesAndDefaults() {
        let help = spec.help(options: SampleOptions().specs)
        #expect(help.contains("--every [K]"))
        #expect(help.contains("--runs N") && help.contains("repetitions (default: 5)"))
        #expect(
            help.contains("--cache ") && help.contains("--no-cache ") && help.contains("recompute"))
    }
}
