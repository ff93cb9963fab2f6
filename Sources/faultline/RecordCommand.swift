import ArgumentParser

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command and record its page faults.")
    func run() throws {}
}
