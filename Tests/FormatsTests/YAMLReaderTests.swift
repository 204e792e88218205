import TestSupport
import Testing

@testable import IOCore

/// The YAML reader (libyaml through Yams): each construct plans use, and each rejected one with its line and column.
@Suite("YAML reader")
struct YAMLReaderTests {
    func parse(_ text: String) throws -> JSONValue { try YAMLReader.parse(text, file: "t.yaml").value }

    @Test("block mappings, nested mappings and sequences by indentation, mappings inside items")
    func blockStructure() throws {
        let text = """
            --- # plan
            operation: split
            experts: 8
            calibration:
              file: c.jsonl
              tokens: 4096
            layers:
              - layers: 0-3
                method: clustering
              -   layers: [7]
                  dense: true
            list:
            - a
            - - x
              - y
            -
              - z
            empty:
            """
        let value = try parse(text)
        #expect(value["operation"] == .string("split"))
        #expect(value["experts"] == .integer(8))
        #expect(value["calibration"] == .object(JSONObject([("file", .string("c.jsonl")), ("tokens", .integer(4096))])))
        let layers = try #require(value["layers"]?.arrayValue)
        #expect(layers.count == 2)
        #expect(layers[0] == .object(JSONObject([("layers", .string("0-3")), ("method", .string("clustering"))])))
        #expect(layers[1] == .object(JSONObject([("layers", .array([.integer(7)])), ("dense", .bool(true))])))
        #expect(value["list"] == .array([.string("a"), .array([.string("x"), .string("y")]), .array([.string("z")])]))
        #expect(value["empty"] == .null)
        #expect(value.objectValue?.keys == ["operation", "experts", "calibration", "layers", "list", "empty"])
    }

    @Test("scalars typed by the YAML 1.2 core schema; quoted scalars stay strings")
    func scalars() throws {
        let value = try parse("""
            a: ~
            b: null
            c: True
            d: false
            e: -12
            f: 0x1F
            g: 0o17
            h: 1.5e3
            i: .5
            j: .inf
            k: yes
            l: "42"
            m: 'it''s'
            n: "tab\\there \\u00e9 \\"q\\""
            o: 3.0  # comment
            p: a#b
            q: http://x.org/a
            r: 18446744073709551615
            "quoted key": 1
            """)
        #expect(value["a"] == .null)
        #expect(value["b"] == .null)
        #expect(value["c"] == .bool(true))
        #expect(value["d"] == .bool(false))
        #expect(value["e"] == .integer(-12))
        #expect(value["f"] == .integer(31))
        #expect(value["g"] == .integer(15))
        #expect(value["h"] == .number(1500))
        #expect(value["i"] == .number(0.5))
        #expect(value["j"] == .number(.infinity))
        #expect(value["k"] == .string("yes"))  // YAML 1.1 booleans are strings in 1.2
        #expect(value["l"] == .string("42"))
        #expect(value["m"] == .string("it's"))
        #expect(value["n"] == .string("tab\there é \"q\""))
        #expect(value["o"] == .number(3))
        #expect(value["p"] == .string("a#b"))
        #expect(value["q"] == .string("http://x.org/a"))
        #expect(value["r"] == .number(18446744073709551615.0))
        #expect(value["quoted key"] == .integer(1))
    }

    @Test("flow sequences and mappings, nested, with comments after them")
    func flow() throws {
        let value = try parse("""
            a: [0, 29, "x, y", [1, 2], {k: v}]   # trailing
            b: {file: c.jsonl, tokens: 4096, nested: {x: [1]}, 'q': "r"}
            c: []
            d: {}
            - ignored
            """.replacingOccurrences(of: "\n- ignored", with: ""))
        #expect(value["a"] == .array([.integer(0), .integer(29), .string("x, y"), .array([.integer(1), .integer(2)]), .object(JSONObject([("k", .string("v"))]))]))
        #expect(value["b"] == .object(JSONObject([
            ("file", .string("c.jsonl")), ("tokens", .integer(4096)),
            ("nested", .object(JSONObject([("x", .array([.integer(1)]))]))), ("q", .string("r")),
        ])))
        #expect(value["c"] == .array([]))
        #expect(value["d"] == .object(JSONObject()))
    }

    @Test("locations map JSON pointers to lines")
    func locations() throws {
        let document = try YAMLReader.parse("a: 1\nlayers:\n  - layers: [3]\n    method: random\n", file: "t.yaml")
        #expect(document.locations["/a"] == YAMLLocation(line: 1, column: 1))
        #expect(document.locations["/layers/0/method"] == YAMLLocation(line: 4, column: 5))
        #expect(document.locations["/layers/0/layers/0"] == YAMLLocation(line: 3, column: 14))
    }

    @Test("full YAML syntax beyond the old subset: block scalars, multi-line plain scalars, explicit keys, flow over lines")
    func fullSyntax() throws {
        let value = try parse("""
            literal: |
              line one
              line two
            folded: >
              one
              two
            plain: first
              second
            ? explicit
            : key
            flow: [1,
              2, {a: b}]
            """)
        #expect(value["literal"] == .string("line one\nline two\n"))
        #expect(value["folded"] == .string("one two\n"))
        #expect(value["plain"] == .string("first second"))
        #expect(value["explicit"] == .string("key"))
        #expect(value["flow"] == .array([.integer(1), .integer(2), .object(JSONObject([("a", .string("b"))]))]))
        #expect(try parse("") == .null)
        #expect(try parse("# only a comment\n") == .null)
    }

    @Test("syntax errors and rejected constructs fail with file:line:column", arguments: [
        ("a: &x 1", 1, 4, "anchors"),
        ("a: &x 1\nb: *x", 1, 4, "aliases"),
        ("a: !!str 1", 1, 4, "tags"),
        ("a: !!map {}", 1, 4, "tags"),
        ("a:\n\tb: 1", 2, 1, "tab"),
        ("a: [1, 2\nb: 3", 2, 2, "expected ',' or ']'"),
        ("a: {x: 1", 2, 1, "expected ',' or '}'"),
        ("a: \"open", 1, 9, "unexpected end of stream"),
        ("a: \"\\q\"", 1, 5, "unknown escape"),
        ("a: 1\na: 2", 1, 1, "duplicate key 'a'"),
        ("1: x\n\"1\": y", 2, 1, "duplicate key '1'"),
        ("a: b: c", 1, 5, "mapping values are not allowed"),
        ("a: 1\n- b", 2, 1, "expected key"),
        ("a: 1\n---\nb: 2", 2, 1, "several documents"),
        ("a:\n    b: 1\n  c: 2", 3, 3, "expected key"),
        ("? [a]\n: b", 1, 3, "keys must be scalars"),
    ])
    func errors(text: String, line: Int, column: Int, fragment: String) {
        do {
            _ = try YAMLReader.parse(text, file: "plan.yaml")
            Issue.record("expected an error for \(text.debugDescription)")
        } catch {
            #expect(error.file == "plan.yaml")
            #expect(error.line == line && error.column == column, "\(text.debugDescription): \(error)")
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("plan.yaml:\(line):\(column): "))
        }
    }

    @Test("duplicate keys are rejected at every depth, in block and flow mappings")
    func duplicateKeys() {
        let cases: [(String, Int, Int)] = [
            ("layers:\n  - method: random\n    seed: 1\n    method: clustering\n", 2, 5),
            ("calibration: {file: a, tokens: 1, file: b}\n", 1, 15),
            ("a: 1\nb:\n  c: 2\n  c: 3\n", 3, 3),
        ]
        for (text, line, column) in cases {
            #expect(throws: YAMLError.self, "\(text.debugDescription)") { try YAMLReader.parse(text, file: "p.yaml") }
            do { _ = try YAMLReader.parse(text, file: "p.yaml") } catch {
                #expect(error.message.contains("duplicate key"), "\(error)")
                #expect((error.line, error.column) == (line, column), "\(text.debugDescription): \(error)")
            }
        }
    }

    @Test("hostile input fails with a clear error: deep nesting (no stack overflow), an alias bomb, a huge text")
    func hostileInput() {
        // libyaml stops at 1,000 levels, moekit at 128.
        let deep = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
        let deepError = #expect(throws: YAMLError.self) { try YAMLReader.parse(deep, file: "deep.yaml") }
        #expect(deepError?.message.contains("Maximum nesting level") == true, "\(String(describing: deepError))")
        let nested = "a: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let nestedError = #expect(throws: YAMLError.self) { try YAMLReader.parse(nested, file: "deep.yaml") }
        #expect(nestedError?.message.contains("nested deeper than 128") == true, "\(String(describing: nestedError))")
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 { bomb += "b\(level): &b\(level) [" + Array(repeating: level == 1 ? "*a" : "*b\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let bombError = #expect(throws: YAMLError.self) { try YAMLReader.parse(bomb, file: "bomb.yaml") }
        #expect(bombError.map { $0.line == 1 && $0.column == 4 && $0.message.contains("anchors") } == true, "\(String(describing: bombError))")
        let huge = "a: \"" + String(repeating: "x", count: YAMLReader.maximumBytes) + "\"\n"
        let hugeError = #expect(throws: YAMLError.self) { try YAMLReader.parse(huge, file: "huge.yaml") }
        #expect(hugeError?.message.contains("larger than") == true, "\(String(describing: hugeError))")
    }

    @Test("the example plans parse to what PyYAML reads (MOEKIT_PY_CROSSCHECK=1)", .requiresPythonPackages("yaml"))
    func examplesMatchPyYAML() throws {
        for name in ["upcycle-drop.yaml", "split-per-layer.yaml"] {
            let path = TestModels.repositoryRoot + "/Plans/" + name
            let ours = try YAMLReader.parse(String(decoding: try PathUtilities.readBytes(path), as: UTF8.self), file: path).value
            let (status, output) = try TestModels.run("/usr/bin/env", [
                "python3", "-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", path,
            ])
            #expect(status == 0, "\(output)")
            #expect(ours == (try JSONParser.parse(output)), "\(name)")
        }
    }
}
