// An SVG or HTML page parsed with Foundation's XMLParser: every element with its attributes,
// and the text, so that tests read pictures by their data, not by string matching.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses a document and collects every element with its attributes.
public final class XMLCollector: NSObject, XMLParserDelegate {
    public var elements: [(name: String, attributes: [String: String])] = []
    /// The text directly inside each element (by its index in `elements`), e.g. a <title>.
    public var ownText: [Int: String] = [:]
    public var text = ""
    public var error: Error?
    private var open: [Int] = []

    public static func parse(_ document: String) throws -> XMLCollector {
        let collector = XMLCollector()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = collector
        let ok = parser.parse()
        if !ok { throw collector.error ?? parser.parserError ?? NSError(domain: "xml", code: 1) }
        return collector
    }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        open.append(elements.count)
        elements.append((name, attributes))
    }
    public func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        _ = open.popLast()
    }
    public func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
        if let current = open.last { ownText[current, default: ""] += string }
    }
    public func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }

    public func all(_ name: String, where attribute: String? = nil, is value: String? = nil) -> [[String: String]] {
        elements.filter { e in e.name == name && (attribute.map { e.attributes[$0] == value } ?? true) }.map(\.attributes)
    }

    /// The texts of every `name` element (e.g. each cell's <title>), in document order.
    public func texts(of name: String) -> [String] {
        elements.indices.filter { elements[$0].name == name }.map { ownText[$0] ?? "" }
    }
}

