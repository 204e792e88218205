import Testing
@testable import IOCore

@Suite("Strict JSON parser")
struct JSONParserTests {
    @Test("parses nested values and keeps key order")
    func parsesValues() throws {
        let value = try JSONParser.parse(#" {"b": [1, -2.5e1, true, null], "a": {"s": "x\u00e9\n\ud83d\ude00"}} "#)
        #expect(value.objectValue?.keys == ["b", "a"])
        #expect(value["b"]?.arrayValue?[0] == .integer(1))
        #expect(value["b"]?.arrayValue?[1] == .number(-25))
        #expect(value["a"]?["s"]?.stringValue == "xé\n😀")
    }

    @Test("rejects duplicate keys, trailing content, bad escapes and deep nesting",
        arguments: [#"{"a":1,"a":2}"#, #"{"a":1} x"#, #""\q""#, "[1,]", "01", "{\"a\" 1}", String(repeating: "[", count: 300)])
    func rejects(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("writer output parses back to the same value")
    func roundTrip() throws {
        let value = try JSONParser.parse(#"{"k":[1,2.5,"q\"\\\u0001",{"z":false}]}"#)
        #expect(try JSONParser.parse(JSONWriter.serialize(value)) == value)
        #expect(try JSONParser.parse(JSONWriter.serialize(value, indent: 2)) == value)
    }
}
