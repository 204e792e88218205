import CPlatform
import CZlib
import Foundation
import TestSupport
import Testing

/// `moekit_gzip_reader` against zlib: the same bytes out of every stream zlib writes (all levels and strategies,
/// header fields, several members), and the same verdict, accept or reject, on damaged and truncated streams.
@Suite("gzip reader")
struct GzipReaderTests {
    /// Output of our reader, or its error message.
    static func ours(_ path: String) -> Result<[UInt8], GzipFailure> {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        let reader = moekit_gzip_open(fd)!
        defer { moekit_gzip_close(reader) }
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let n = moekit_gzip_read(reader, &data)
            if n < 0 { return .failure(GzipFailure(message: String(cString: moekit_gzip_error(reader)))) }
            if n == 0 { return .success(out) }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        }
    }

    /// Output of zlib's gzread, or its error.
    static func zlib(_ path: String) -> Result<[UInt8], GzipFailure> {
        let file = gzopen(path, "rb")!
        defer { gzclose(file) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            var code: Int32 = 0
            let message = String(cString: gzerror(file, &code))
            if n < 0 || code != Z_OK { return .failure(GzipFailure(message: message)) }
            if n == 0 { return .success(out) }
            out += buffer[0..<Int(n)]
        }
    }

    struct GzipFailure: Error, Equatable { var message: String }

    /// A gzip member written by zlib's deflate.
    static func compress(_ data: [UInt8], level: Int32 = 6, strategy: Int32 = Z_DEFAULT_STRATEGY, name: String? = nil,
        comment: String? = nil, extra: [UInt8]? = nil, headerCRC: Bool = false) -> [UInt8]
    {
        var stream = z_stream()
        let status = deflateInit2_(&stream, level, Z_DEFLATED, 31, 8, strategy, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK)
        defer { deflateEnd(&stream) }
        var header = gz_header()
        var nameBytes: [UInt8] = name.map { Array($0.utf8) + [0] } ?? []
        var commentBytes: [UInt8] = comment.map { Array($0.utf8) + [0] } ?? []
        var extraBytes: [UInt8] = extra ?? []
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 1024)
        let written: Int = nameBytes.withUnsafeMutableBufferPointer { namePointer in
            commentBytes.withUnsafeMutableBufferPointer { commentPointer in
                extraBytes.withUnsafeMutableBufferPointer { extraPointer in
                    if name != nil || comment != nil || extra != nil || headerCRC {
                        if name != nil { header.name = namePointer.baseAddress }
                        if comment != nil { header.comment = commentPointer.baseAddress }
                        if extra != nil {
                            header.extra = extraPointer.baseAddress
                            header.extra_len = uInt(extraPointer.count)
                        }
                        header.hcrc = headerCRC ? 1 : 0
                        precondition(deflateSetHeader(&stream, &header) == Z_OK)
                    }
                    var input = data
                    return input.withUnsafeMutableBufferPointer { inputPointer in
                        output.withUnsafeMutableBufferPointer { outputPointer in
                            stream.next_in = inputPointer.baseAddress
                            stream.avail_in = uInt(inputPointer.count)
                            stream.next_out = outputPointer.baseAddress
                            stream.avail_out = uInt(outputPointer.count)
                            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                            return outputPointer.count - Int(stream.avail_out)
                        }
                    }
                }
            }
        }
        return Array(output[0..<written])
    }

    /// Text-like data with every kind of match: words from a small vocabulary (many matches), random bytes (literals
    /// and stored blocks), runs of one byte (distance 1) and short periods (distances 2 to 7).
    static func sample(bytes: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        let words = (0..<300).map { _ in (0..<(2 + Int(random.next() % 9))).map { _ in UInt8(97 + random.next() % 26) } }
        var out: [UInt8] = []
        out.reserveCapacity(bytes)
        while out.count < bytes {
            switch random.next() % 10 {
            case 0: out += (0..<Int(random.next() % 3000)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            case 1: out += [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: Int(random.next() % 700))
            case 2:
                let period = (0..<(2 + Int(random.next() % 6))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                for i in 0..<Int(random.next() % 600) { out.append(period[i % period.count]) }
            default:
                for _ in 0..<Int(random.next() % 200) { out += words[Int(random.next() % 300)] + [random.next() % 8 == 0 ? 10 : 32] }
            }
        }
        return Array(out.prefix(bytes))
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("every level and strategy decodes to the input, across many output buffers",
        arguments: zip([0, 1, 6, 9, 6, 6, 6, 6] as [Int32],
            [Z_DEFAULT_STRATEGY, Z_DEFAULT_STRATEGY, Z_DEFAULT_STRATEGY, Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE, Z_FILTERED]))
    func roundTrip(level: Int32, strategy: Int32) throws {
        let tmp = TemporaryDirectory()
        // 3.5 MB: several 1 MiB output stretches, so matches reach back across the buffer's slide.
        let data = Self.sample(bytes: 3_500_000, seed: UInt64(level * 10 + strategy))
        try Self.write(Self.compress(data, level: level, strategy: strategy), tmp.file("a.gz"))
        #expect(Self.ours(tmp.file("a.gz")) == .success(data))
    }

    @Test("header fields (name, comment, extra, header CRC) are skipped and checked as zlib does")
    func headerFields() throws {
        let tmp = TemporaryDirectory()
        let data = Self.sample(bytes: 50_000, seed: 7)
        let member = Self.compress(data, name: "corpus.jsonl", comment: "a comment", extra: Array(repeating: 0xAB, count: 300), headerCRC: true)
        #expect(member[3] == 0x1E)  // FEXTRA | FNAME | FCOMMENT | FHCRC
        try Self.write(member, tmp.file("a.gz"))
        #expect(Self.ours(tmp.file("a.gz")) == .success(data))
        // A wrong header CRC is rejected by both.
        var bad = member
        let crcOffset = 10 + 2 + 300 + "corpus.jsonl".utf8.count + 1 + "a comment".utf8.count + 1
        bad[crcOffset] ^= 0xFF
        try Self.write(bad, tmp.file("b.gz"))
        #expect(Self.ours(tmp.file("b.gz")) == .failure(GzipFailure(message: "header crc mismatch")))
        guard case .failure = Self.zlib(tmp.file("b.gz")) else {
            Issue.record("zlib accepted a wrong header CRC")
            return
        }
    }

    @Test("concatenated members are read in turn; bytes after the last member are ignored, as by zlib")
    func members() throws {
        let tmp = TemporaryDirectory()
        let a = Self.sample(bytes: 100_000, seed: 1), b = Self.sample(bytes: 70_000, seed: 2)
        let file = Self.compress(a, level: 1) + Self.compress([]) + Self.compress(b, level: 9) + Array("trailing junk".utf8)
        try Self.write(file, tmp.file("m.gz"))
        #expect(Self.ours(tmp.file("m.gz")) == .success(a + b))
        #expect(Self.zlib(tmp.file("m.gz")) == .success(a + b))
    }

    @Test("files that are not gzip are read unchanged; an empty file is empty")
    func plainFiles() throws {
        let tmp = TemporaryDirectory()
        let text = Self.sample(bytes: 600_000, seed: 3)
        for (name, bytes) in [("plain", text), ("empty", []), ("one", [0x1F]), ("magic-only", [0x1F, 0x8B])] as [(String, [UInt8])] {
            try Self.write(bytes, tmp.file(name))
            let expected = Self.zlib(tmp.file(name))
            #expect(Self.ours(tmp.file(name)) == expected.mapError { _ in GzipFailure(message: "the gzip stream is truncated") }, "\(name)")
        }
        #expect(Self.ours(tmp.file("plain")) == .success(text))
    }

    @Test("damaged and truncated streams: accepted or rejected exactly as zlib does, never a crash or a hang")
    func damagedStreams() throws {
        let tmp = TemporaryDirectory()
        let data = Self.sample(bytes: 40_000, seed: 11)
        var random = SeededGenerator(seed: 99)
        var rejected = 0, accepted = 0
        for variant in 0..<600 {
            let level: Int32 = [0, 1, 6, 9][variant % 4]
            var file = Self.compress(data, level: level, strategy: variant % 8 == 5 ? Z_FIXED : Z_DEFAULT_STRATEGY)
            if variant % 3 == 0 {
                file = Array(file.prefix(Int(random.next() % UInt64(file.count))))
            } else if variant % 20 == 1 {
                file[4 + Int(random.next() % 6)] ^= 0x40  // MTIME, XFL or OS: read by neither
            } else {
                for _ in 0..<(1 + Int(random.next() % 3)) {
                    let at = Int(random.next() % UInt64(file.count))
                    file[at] ^= UInt8(1 << (random.next() % 8))
                }
            }
            let path = tmp.file("v\(variant).gz")
            try Self.write(file, path)
            let mine = Self.ours(path), reference = Self.zlib(path)
            switch (mine, reference) {
            case (.success(let x), .success(let y)):
                #expect(x == y, "variant \(variant): both accept but decode differently")
                accepted += 1
            case (.failure, .failure): rejected += 1
            default: Issue.record("variant \(variant): ours \(Self.describe(mine)), zlib \(Self.describe(reference))")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        // Both outcomes occur (MTIME, XFL and OS are not checked by either reader).
        #expect(rejected > 300 && accepted > 0, "rejected \(rejected), accepted \(accepted)")
    }

    static func describe(_ result: Result<[UInt8], GzipFailure>) -> String {
        switch result {
        case .success(let bytes): "\(bytes.count) bytes"
        case .failure(let failure): "error \(failure.message)"
        }
    }

    @Test("the messages name what is wrong")
    func messages() throws {
        let tmp = TemporaryDirectory()
        let member = Self.compress(Self.sample(bytes: 20_000, seed: 5))
        var badCRC = member
        badCRC[badCRC.count - 8] ^= 1
        var badLength = member
        badLength[badLength.count - 1] ^= 1
        var badMethod = member
        badMethod[2] = 7
        var badFlags = member
        badFlags[3] = 0x20
        let cases: [([UInt8], String)] = [
            (badCRC, "incorrect data check"), (badLength, "incorrect length check"),
            (badMethod, "unknown compression method"), (badFlags, "unknown header flags set"),
            (Array(member.prefix(member.count - 3)), "the gzip stream is truncated"),
            (Array(member.prefix(member.count / 2)), "the gzip stream is truncated"),
            // Block type 3 right after a 10-byte header.
            ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0, 0, 0, 0, 0], "invalid block type"),
            // A stored block whose length and its complement disagree.
            ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0x01, 5, 0, 5, 0] + Array("hello".utf8) + [0, 0, 0, 0, 0, 0, 0, 0],
                "invalid stored block lengths"),
            // A fixed block whose first match reaches back before the start.
            ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0x03, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0], "invalid distance too far back"),
        ]
        for (i, (bytes, message)) in cases.enumerated() {
            try Self.write(bytes, tmp.file("c\(i).gz"))
            #expect(Self.ours(tmp.file("c\(i).gz")) == .failure(GzipFailure(message: message)), "case \(i)")
            guard case .failure = Self.zlib(tmp.file("c\(i).gz")) else {
                Issue.record("case \(i): zlib accepts it")
                continue
            }
        }
    }
}
