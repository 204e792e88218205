import TestSupport
import Testing

@testable import Formats

/// The YAML subset reader: each supported construct, and each rejected one with its line and column.
@Suite("YAML subset reader")
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

    @Test("unsupported constructs fail with file:line:column", arguments: [
        ("a: &x 1", 1, 4, "anchors"),
        ("a: 1\nb: *x", 2, 4, "aliases"),
        ("a: !!str 1", 1, 4, "tags"),
        ("a: |\n  text", 1, 4, "block scalars"),
        ("a: >\n  text", 1, 4, "block scalars"),
        ("a:\n\tb: 1", 2, 1, "tab"),
        ("a: one\n  two", 2, 3, "multi-line"),
        ("a: [1, 2\nb: 3", 1, 9, "must close"),
        ("a: {x: 1", 1, 9, "must close"),
        ("a: \"open", 1, 9, "must close"),
        ("a: 'open", 1, 9, "must close"),
        ("a: \"\\q\"", 1, 5, "unknown escape"),
        ("a: 1\na: 2", 2, 1, "duplicate key"),
        ("a: b: c", 1, 5, "nested mapping"),
        ("a: 1\n- b", 2, 1, "sequence item"),
        ("a: - b", 1, 4, "sequence item"),
        ("a: [1] x", 1, 8, "unexpected text"),
        ("a: 1\n---\nb: 2", 2, 1, "several documents"),
        ("a:\n    b: 1\n  c: 2", 3, 3, "unexpected indentation"),
        ("? a\n: b", 1, 1, "complex keys"),
        ("just text\nkey: 1", 2, 1, "unexpected indentation"),
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

    @Test("the example plans parse to what PyYAML reads (MOEKIT_PY_CROSSCHECK=1)")
    func examplesMatchPyYAML() throws {
        guard TestModels.pythonCrossCheck else { return }
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
