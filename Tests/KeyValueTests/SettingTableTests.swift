import KeyValue
import Testing

/// A small configuration, to test the table without the daemon's or the recipe's keys.
private struct Toy: Sendable, Equatable {
    enum Mode: String, Sendable, CaseIterable { case fast, slow }
    var count = 3
    var ratio = 0.5
    var name: String?
    var hosts = ["a"]
    var mode = Mode.fast
    var verbose = false
    var size = 1024

    static let table = SettingTable<Toy>([
        Setting("count", \.count, .integer, flagAliases: ["--n"], summary: "How many.", validate: Rule.check("at least 1") { $0 >= 1 }),
        Setting("ratio", \.ratio, .number, summary: "A ratio.", validate: Rule.check("in [0, 1]") { $0 >= 0 && $0 <= 1 }),
        Setting("name", \.name, .optional(.text("name")), default: "anonymous", summary: "A name."),
        Setting("hosts", \.hosts, .list("host"), summary: "Hosts."),
        Setting("mode", \.mode, .choice(), summary: "Mode."),
        Setting("verbose", \.verbose, .boolean, summary: "Chatty."),
        Setting("size", \.size, .bytes, summary: "Bytes."),
    ])
}

@Suite struct SettingTableTests {
    @Test func namesFlagsAndVariables() throws {
        #expect(Toy.table.names == ["count", "ratio", "name", "hosts", "mode", "verbose", "size"])
        let setting = try #require(Toy.table.setting(named: "count"))
        #expect(setting.flag == "--count")
        #expect(setting.environmentVariable(prefix: "TOY_") == "TOY_COUNT")
        #expect(Toy.table.setting(named: "nope") == nil)
    }

    @Test func everySettingRoundTripsThroughItsText() throws {
        var changed = Toy()
        changed.count = 7
        changed.ratio = 0.25
        changed.name = "x, y # z"
        changed.hosts = ["b", "c d"]
        changed.mode = .slow
        changed.verbose = true
        changed.size = 5
        var reread = Toy()
        let file = try Toy.table.parse(Toy.table.render(changed), path: "render")
        for entry in file.entries { try Toy.table.apply(entry.key, entry.values, to: &reread) }
        #expect(reread == changed)
        #expect(Toy.table.render(Toy()).contains("name = \n"))
    }

    @Test func valuesAreTypedWithClearErrors() throws {
        var toy = Toy()
        for (key, text, message) in [
            ("count", "many", "must be an integer, got 'many'"),
            ("count", "1, 2", "takes one value, got 2"),
            ("count", "", "needs a value"),
            ("ratio", "half", "must be a number, got 'half'"),
            ("mode", "medium", "must be fast or slow, got 'medium'"),
            ("verbose", "maybe", "must be true or false, got 'maybe'"),
            ("size", "12 parsecs", "must be a number of bytes"),
            ("colour", "red", "unknown key"),
        ] {
            let error = #expect(throws: ValueError.self) { try Toy.table.apply(key, try ValueSyntax.items(text), to: &toy) }
            #expect(error?.message.contains(message) == true, "\(key) = \(text): \(String(describing: error))")
        }
        try Toy.table.apply("count", ["1_000"], to: &toy)
        #expect(toy.count == 1000)
        try Toy.table.apply("name", [], to: &toy)
        #expect(toy.name == nil)
        try Toy.table.apply("hosts", [], to: &toy)
        #expect(toy.hosts == [])
        for (text, expected) in [("yes", true), ("OFF", false), ("1", true)] {
            try Toy.table.apply("verbose", [text], to: &toy)
            #expect(toy.verbose == expected)
        }
    }

    @Test(arguments: [
        ("268435456", 268_435_456), ("256MiB", 256 << 20), ("256 MiB", 256 << 20), ("4KiB", 4096), ("2GB", 2_000_000_000),
        ("1_000B", 1000), ("3kB", 3000), ("1TiB", 1 << 40),
    ])
    func bytesTakeUnits(_ text: String, _ expected: Int) throws {
        var toy = Toy()
        try Toy.table.apply("size", [text], to: &toy)
        #expect(toy.size == expected)
    }

    @Test func problemsNameTheirSetting() {
        var toy = Toy()
        #expect(Toy.table.problems(in: toy).isEmpty)
        toy.count = 0
        toy.ratio = 2
        #expect(Toy.table.problems(in: toy).map(\.name) == ["count", "ratio"])
        #expect(Toy.table.problems(in: toy).first?.message == "must be at least 1, got 0")
    }

    @Test func flagsReadValuesListsAndAliases() throws {
        let flags = try Toy.table.flags([
            "--count", "4", "--hosts", "x", "--ratio=-0.5", "--hosts", "y,z", "--n", "5", "--verbose=", "--name", "",
        ])
        #expect(flags.map(\.key) == ["count", "hosts", "ratio", "verbose", "name"])
        #expect(flags.map(\.values) == [["5"], ["x", "y,z"], ["-0.5"], [""], [""]])
        #expect(flags.map(\.flag) == ["--count", "--hosts", "--ratio", "--verbose", "--name"])
        #expect(try Toy.table.flags(["--ratio", "-1"]).first?.values == ["-1"])
    }

    @Test(arguments: [
        (["--cont", "1"], "unknown option '--cont' (did you mean '--count'?)"),
        (["--frobnicate", "1"], "unknown option '--frobnicate'"),
        (["--count"], "missing value for '--count <n>'"),
        (["--count", "--ratio", "1"], "missing value for '--count <n>'"),
        (["stray"], "unexpected argument 'stray'"),
    ])
    func badFlagsAreRefused(_ arguments: [String], _ message: String) {
        let error = #expect(throws: ValueError.self) { try Toy.table.flags(arguments) }
        #expect(error?.message == message)
    }

    @Test func environmentValuesAndUnknownVariables() {
        let environment = ["TOY_COUNT": "9", "TOY_HOSTS": "p, q", "TOY_CONUT": "1", "TOY_HOME": "/", "TOY_ZZZZZZZZ": "", "PATH": "/bin"]
        let values = Toy.table.environmentValues(environment, prefix: "TOY_")
        #expect(values.map(\.variable) == ["TOY_COUNT", "TOY_HOSTS"])
        #expect(values.map(\.text) == ["9", "p, q"])
        let unknown = Toy.table.unknownEnvironmentVariables(environment, prefix: "TOY_", ignoring: ["TOY_HOME"])
        #expect(unknown.map(\.variable) == ["TOY_CONUT", "TOY_ZZZZZZZZ"])
        #expect(unknown.map(\.suggestion) == ["TOY_COUNT", nil])
    }

    @Test func helpListsEveryFlagWithItsDefault() {
        let help = Toy.table.help(defaults: Toy())
        let lines = help.split(separator: "\n")
        #expect(lines.count == Toy.table.settings.count)
        #expect(lines[0] == "--count <n> (or --n): How many. (default: 3)")
        #expect(lines[2] == "--name <name>: A name. (default: anonymous)")
        #expect(lines[4] == "--mode <fast|slow>: Mode. (default: fast)")
    }
}
