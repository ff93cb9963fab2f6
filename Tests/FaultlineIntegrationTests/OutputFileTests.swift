// Every file a command writes (the log, exports, pictures, the HTML page) is created 0600
// unless --mode says otherwise, and, as root, never through a symbolic link someone else
// planted where the output goes, nor into a hard link to another file.

import XCTest
import FaultlineTestSupport
import Foundation
import FaultlineLog

final class OutputFileTests: XCTestCase {
    var cli: CLI!
    var log: String!

    override func setUpWithError() throws {
        cli = try CLI(test: name)
        if let why = Samples.missingCapability { throw Skip.because(why) }
        _ = Samples.built
        log = cli.scratch.appendingPathComponent("run.flt").path
        let o = try cli.run(["record", "-q", "-o", log, "--", Samples.path("first_touch")])
        XCTAssertEqual(o.status, 0, o.stderr)
    }

    /// Each command that writes a file, writing to `out`, with `extra` arguments.
    func commands(writing out: String) -> [(name: String, arguments: [String])] {
        [("record", ["record", "-q", "-o", out, "--", "/bin/true"]),
         ("export", ["export", log, "--format", "jsonl", "-o", out]),
         ("export pprof", ["export", log, "--format", "pprof", "-o", out]),
         ("flamegraph", ["flamegraph", log, "-o", out]),
         ("heatmap", ["heatmap", log, "-o", out]),
         ("report --html", ["report", log, "--html", out])]
    }

    private func mode(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// Run under a umask that would allow more (000) or less (077) than asked: the default
    /// is 0600 whatever the umask, and --mode is given exactly.
    func testFilesAre0600UnlessAskedAndTheModeIsExact() throws {
        for (name, arguments) in commands(writing: cli.scratch.appendingPathComponent("out").path) {
            let out = cli.scratch.appendingPathComponent("out").path
            for (umask, extra, expected) in [("000", [String](), 0o600), ("077", ["--mode", "0644"], 0o644), ("000", ["--mode", "0640"], 0o640)] {
                try? FileManager.default.removeItem(atPath: out)
                let script = "umask \(umask); exec \"$0\" \"$@\""
                let o = try cli.run(["-c", script, CLI.binary] + arguments.prefix(1) + extra + arguments.dropFirst(), executable: "/bin/sh")
                XCTAssertEqual(o.status, 0, "\(name) \(extra): \(o.stderr)")
                XCTAssertEqual(try mode(out), expected, "\(name) \(extra) under umask \(umask)")
            }
            let bad = try cli.run(Array(arguments.prefix(1)) + ["--mode", "4755"] + arguments.dropFirst())
            XCTAssertEqual(bad.status, 64, "\(name): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains("--mode takes octal read/write permissions"), bad.stderr)
        }
        // The default picture name gets the same mode.
        XCTAssertEqual(try cli.run(["flamegraph", log]).status, 0)
        XCTAssertEqual(try mode(cli.scratch.appendingPathComponent("run.flame.svg").path), 0o600)
    }

    /// A link another user planted in a shared directory is refused and left alone, and so
    /// is the file it points to; a hard link to a file is replaced, not written through.
    func testPlantedLinksAreNotFollowed() throws {
        guard geteuid() == 0 else { throw Skip.because("planting another user's symlink needs root") }
        let shared = cli.scratch.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        XCTAssertEqual(chmod(shared.path, 0o1777), 0) // like /tmp
        let victim = cli.scratch.appendingPathComponent("victim").path
        let secret = "root's file\n"
        for (name, arguments) in commands(writing: shared.appendingPathComponent("planted").path) {
            try secret.write(toFile: victim, atomically: false, encoding: .utf8)
            let planted = shared.appendingPathComponent("planted").path
            try? FileManager.default.removeItem(atPath: planted)
            XCTAssertEqual(symlink(victim, planted), 0)
            XCTAssertEqual(lchown(planted, 65534, 65534), 0) // as if nobody had made it
            let o = try cli.run(arguments)
            XCTAssertEqual(o.status, 1, "\(name): \(o.stderr)")
            XCTAssertTrue(o.stderr.contains("refusing to write \(planted): \(planted) is a symbolic link that belongs to uid 65534"),
                          "\(name): \(o.stderr)")
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), secret, name)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: planted), victim, "the link is left alone")

            // A hard link to the victim where the output goes: replaced by a new file.
            try FileManager.default.removeItem(atPath: planted)
            XCTAssertEqual(link(victim, planted), 0)
            let replaced = try cli.run(arguments)
            XCTAssertEqual(replaced.status, 0, "\(name): \(replaced.stderr)")
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), secret, "\(name) wrote through a hard link")
            XCTAssertEqual(try mode(planted), 0o600)
            try FileManager.default.removeItem(atPath: planted)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shared.path), [], "no temporary files left")
    }

    /// Links that belong to us or to root are followed as before: /dev/stdout, and one of
    /// the user's own.
    func testOwnAndRootLinksAreFollowed() throws {
        let viaStdout = try cli.run(["export", log, "--format", "folded", "-o", "/dev/stdout"])
        XCTAssertEqual(viaStdout.status, 0, viaStdout.stderr)
        XCTAssertEqual(viaStdout.stdout, try cli.run(["export", log, "--format", "folded"]).stdout)
        XCTAssertFalse(viaStdout.stdout.isEmpty)
        let target = cli.scratch.appendingPathComponent("target.svg").path
        let mine = cli.scratch.appendingPathComponent("mine.svg").path
        XCTAssertEqual(symlink(target, mine), 0)
        XCTAssertEqual(try cli.run(["heatmap", log, "-o", mine]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: target, encoding: .utf8).contains("<svg"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: mine), target)
    }
}
