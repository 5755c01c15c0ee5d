#if canImport(Glibc)
import Glibc
#endif
import BerthRuntime
import BerthSystem

/// Who a container is and whether it runs, read from its config.json and state.json with
/// `JSONObjectParser` instead of the JSON decoder: a command that only looks a container up
/// (`exec`) saves the decoder's ~0.4 ms first use. The fields are `ContainerRecord`'s and
/// `ContainerState`'s, under the same keys.
public struct ContainerBrief: Sendable, Equatable {
    public var id: String
    public var name: String
    public var project: String
    public var service: String
    public var number: Int
    public var oneOff: Bool
}

extension ContainerStore {
    /// The briefs of every container (those whose config.json cannot be read are skipped,
    /// as `records()` skips them).
    public func briefs() -> [ContainerBrief] {
        let ids = (try? FS.listDirectory(directory)) ?? []
        return ids.compactMap { brief($0) }
    }

    public func brief(_ id: String) -> ContainerBrief? {
        var name: String?, project: String?, service: String?, number: Int64?, oneOff: Bool?
        let complete = Self.scanObject(path(id) + "/config.json") { parser, key in
            if parser.is(key, "name") {
                name = parser.text()
            } else if parser.is(key, "project") {
                project = parser.text()
            } else if parser.is(key, "service") {
                service = parser.text()
            } else if parser.is(key, "number") {
                number = parser.integer()
            } else if parser.is(key, "oneOff") {
                oneOff = parser.bool()
            } else {
                return parser.skipValue()
            }
            return true
        }
        guard complete, let name, let project, let service, let number, let oneOff else { return nil }
        return ContainerBrief(id: id, name: name, project: project, service: service, number: Int(number), oneOff: oneOff)
    }

    /// Whether state.json says running with a live monitor: true, false when it says
    /// created or exited; nil when that takes `ContainerEngine.observe` (a running state
    /// whose monitor is gone is a run that ended, to be recorded).
    public func runsBrief(_ id: String) -> Bool? {
        var status: String?, monitorPid: Int64?, monitorStart: Int64?
        let complete = Self.scanObject(path(id) + "/state.json") { parser, key in
            if parser.is(key, "status") {
                status = parser.text()
            } else if parser.is(key, "monitorPid") {
                monitorPid = parser.integer()
            } else if parser.is(key, "monitorStartTime") {
                monitorStart = parser.integer()
            } else {
                return parser.skipValue()
            }
            return true
        }
        guard complete, let status else { return nil }
        if status != ContainerState.Status.running.rawValue { return false }
        guard let monitorPid, let monitorStart, let pid = Int32(exactly: monitorPid), let start = UInt64(exactly: monitorStart),
              ProcessIdentity(pid: pid, startTime: start).isAlive else { return nil }
        return true
    }

    /// Hands each key of the flat JSON object in `file` to `field`, which reads or skips its
    /// value (false: stop). True when the file was read and parsed to its end.
    private static func scanObject(_ file: String, _ field: (inout JSONObjectParser, Range<Int>) -> Bool) -> Bool {
        guard let bytes = try? FS.read(file) else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONObjectParser(buffer)
            guard parser.begin() else { return false }
            while let key = parser.nextKey() {
                if !field(&parser, key) { return false }
            }
            return parser.finished
        }
    }
}

extension ContainerStore {
    /// The name the container's runs start under (its spec's; a rename changes only the
    /// record), read without decoding the whole spec.
    public func runName(_ id: String) -> String? {
        (try? FS.readString(path(id) + "/spec")).flatMap(ContainerSpec.name(inEncoded:))
    }
}
