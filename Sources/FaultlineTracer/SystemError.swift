// Turns -1/errno from a system call into a thrown error that says what failed, why, and
// (where we know) what to do about it.

import Glibc

public struct SystemError: Error, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public let hint: String?

    public init(_ operation: String, errno: Int32 = Glibc.errno, hint: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var text = "\(operation): \(String(cString: strerror(errno)))"
        if let hint { text += " (\(hint))" }
        return text
    }
}

/// A failure that is not an errno: said to the user as is.
public struct TracerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
