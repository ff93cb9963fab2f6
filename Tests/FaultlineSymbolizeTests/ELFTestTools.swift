// Test helpers: compile small C/C++ programs and ask binutils (nm, readelf) where their
// symbols are, so the symbolizer is checked against an independent reading of the ELF.
// Hazard: parses binutils' text output; the formats used here have been stable for decades.

import FaultlineCore
import Foundation
import XCTest

enum ELFTestTools {
    struct CommandFailed: Error, CustomStringConvertible {
        var command: [String]
        var output: String
        var description: String { "\(command.joined(separator: " ")) failed: \(output)" }
    }

    /// Runs a program found on PATH and returns its standard output.
    @discardableResult
    static func run(_ command: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child forever.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(command: command, output: String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func isAvailable(_ tool: String) -> Bool {
        (try? run(["sh", "-c", "command -v \(tool)"])) != nil
    }

    static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("faultline-symbolize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// 1-based number of the first line of `source` containing `text`.
    static func lineNumber(of text: String, in source: String) -> Int? {
        source.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains(text) }
            .map { $0 + 1 }
    }

    struct NMSymbol {
        var name: String
        var value: UInt64
        var size: UInt64?
    }

    /// `nm -S` (or `nm -D -S` for the dynamic table); version suffixes (@@GLIBC_2.2.5)
    /// are dropped because they are not part of the symbol's name.
    static func symbols(in path: String, dynamic: Bool = false) throws -> [NMSymbol] {
        let output = try run(["nm", "--defined-only", "-S"] + (dynamic ? ["-D"] : []) + [path])
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            // "value size type name" or, for symbols without size, "value type name".
            guard fields.count == 4 || fields.count == 3,
                  let value = UInt64(fields[0], radix: 16) else { return nil }
            let size = fields.count == 4 ? UInt64(fields[1], radix: 16) : nil
            let name = fields.last!.split(separator: "@").first.map(String.init) ?? ""
            return NMSymbol(name: name, value: value, size: size)
        }
    }

    static func symbol(named name: String, in path: String, dynamic: Bool = false) throws -> NMSymbol? {
        try symbols(in: path, dynamic: dynamic).first { $0.name == name }
    }

    /// The file offset a virtual address is loaded from, from `readelf -lW` PT_LOAD rows:
    /// "LOAD 0x001000 0x0000000000401000 0x0000000000401000 0x000165 0x000165 R E 0x1000".
    static func fileOffset(ofVirtualAddress address: UInt64, in path: String) throws -> UInt64? {
        let output = try run(["readelf", "-lW", path])
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[0] == "LOAD" else { continue }
            let numbers = fields[1...5].map { UInt64($0.dropFirst(2), radix: 16) ?? 0 }
            let (offset, vaddr, fileSize) = (numbers[0], numbers[1], numbers[3])
            if address >= vaddr && address - vaddr < fileSize { return address - vaddr + offset }
        }
        return nil
    }

    /// The GNU build-id from `readelf -n` ("Build ID: 93ac61…"), empty if absent.
    static func buildID(of path: String) throws -> [UInt8] {
        let output = try run(["readelf", "-n", path])
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Build ID:") }),
              let hex = line.split(separator: " ").last else { return [] }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return [] }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
