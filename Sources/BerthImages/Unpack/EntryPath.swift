/// A tar entry's path, cleaned: leading `/` and `./` dropped, empty and `.` components
/// removed. Any `..` component is refused — an entry may never name anything outside the
/// layer directory (Docker's "breakout" check). Bytes are kept as they are: names need not
/// be UTF-8.
struct EntryPath: Sendable {
    let components: [[UInt8]]

    init(_ raw: [UInt8]) throws(EntryRefusal) {
        var out: [[UInt8]] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.count == 1 && part[part.startIndex] == UInt8(ascii: ".") { continue }
            if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                throw EntryRefusal("the path contains '..' and would reach outside the layer")
            }
            out.append(Array(part))
        }
        components = out
    }

    var isRoot: Bool { components.isEmpty }
    var name: [UInt8] { components.last ?? [] }
    var parent: ArraySlice<[UInt8]> { components.dropLast() }

    var display: String { EntryPath.display(components[...]) }

    static func display(_ components: ArraySlice<[UInt8]>) -> String {
        components.isEmpty ? "." : String(decoding: Array(components.joined(separator: [UInt8(ascii: "/")])), as: UTF8.self)
    }

    /// `a/b/c` as a NUL-terminated C string (`.` for the root).
    static func cString(_ components: ArraySlice<[UInt8]>) -> [CChar] {
        if components.isEmpty { return [CChar(UInt8(ascii: ".")), 0] }
        return components.joined(separator: [UInt8(ascii: "/")]).map { CChar(bitPattern: $0) } + [0]
    }
}

/// Why one entry of a layer is refused (wrapped into `ImageError.layerRejected`).
struct EntryRefusal: Error, Sendable {
    var why: String
    init(_ why: String) { self.why = why }
}
