import Foundation
import Testing
import BerthRuntime
import BerthSystem
@testable import BerthOrchestrator

/// `ContainerBrief`: config.json and state.json read without the JSON decoder must agree
/// with what the decoder reads from the same files.
@Suite("container briefs") struct ContainerBriefTests {
    func withStore(_ body: (ContainerStore) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "berth-briefs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(ContainerStore(root: root))
    }

    func record(_ id: String, name: String, service: String, number: Int, oneOff: Bool) -> ContainerRecord {
        ContainerRecord(
            id: id, name: name, project: "demo", service: service, number: number, oneOff: oneOff,
            labels: [["com.docker.compose.service", service], ["quote\"d\\", "tab\there"]], image: "busybox",
            imageDigest: nil, configHash: "h", command: ["sh", "-c", "echo \"hi\"\n"], created: "2024-01-01T00:00:00Z",
            exposedPorts: ["80/tcp"], createConfig: nil)
    }

    @Test func briefsMatchTheDecodedRecords() throws {
        try withStore { store in
            let spec = ContainerSpec(name: "run name/é", project: "demo", root: .directory("/", readOnly: false), process: .init(args: ["true"]))
            try store.create(record("a1", name: "demo-web-1", service: "web", number: 1, oneOff: false), spec: spec.encoded)
            try store.create(record("b2", name: "démo \"x\"", service: "db.main", number: 12, oneOff: true), spec: spec.encoded)
            let briefs = store.briefs().sorted { $0.id < $1.id }
            let decoded = store.records().sorted { $0.id < $1.id }
            #expect(briefs.count == 2)
            #expect(briefs.map(\.id) == decoded.map(\.id))
            #expect(briefs.map(\.name) == decoded.map(\.name))
            #expect(briefs.map(\.project) == decoded.map(\.project))
            #expect(briefs.map(\.service) == decoded.map(\.service))
            #expect(briefs.map(\.number) == decoded.map(\.number))
            #expect(briefs.map(\.oneOff) == decoded.map(\.oneOff))
            #expect(store.runName("a1") == "run name/é")
            #expect(store.runName("missing") == nil)
            // A directory without a readable config.json is no container.
            try FileManager.default.createDirectory(atPath: store.path("c3"), withIntermediateDirectories: true)
            try "{\"id\":".write(toFile: store.path("c3") + "/config.json", atomically: true, encoding: .utf8)
            #expect(store.briefs().count == 2)
        }
    }

    @Test func runsBriefSettlesOnlyWhatNeedsNoObserve() throws {
        try withStore { store in
            try store.create(record("a1", name: "demo-web-1", service: "web", number: 1, oneOff: false), spec: "berth-spec 1\nname x\n")
            #expect(store.runsBrief("a1") == false)  // created
            var state = ContainerState()
            state.status = .running
            state.monitorPid = getpid()
            state.monitorStartTime = ProcessIdentity.of(getpid())?.startTime
            try store.save(state, for: "a1")
            #expect(store.runsBrief("a1") == true)
            state.monitorStartTime = (state.monitorStartTime ?? 0) + 1  // another process of that pid
            try store.save(state, for: "a1")
            #expect(store.runsBrief("a1") == nil)
            state.monitorPid = nil
            try store.save(state, for: "a1")
            #expect(store.runsBrief("a1") == nil)
            state.status = .exited
            try store.save(state, for: "a1")
            #expect(store.runsBrief("a1") == false)
            #expect(store.runsBrief("missing") == nil)
        }
    }

    @Test func parserReadsIntegersBooleansAndEscapedText() {
        let json = #"{"n": -42, "big": 9223372036854775807, "t":true,"f" :false, "s":"a\"b\\c\u00e9\ud83d\ude00", "skip":[{"x":[1,2]}], "z":null}"#
        Array(json.utf8).withUnsafeBufferPointer { buffer in
            var parser = JSONObjectParser(buffer)
            let began = parser.begin()
            #expect(began)
            var seen: [String] = []
            while let key = parser.nextKey() {
                if parser.is(key, "n") {
                    let value = parser.integer()
                    #expect(value == -42)
                    seen.append("n")
                } else if parser.is(key, "big") {
                    let value = parser.integer()
                    #expect(value == Int64.max)
                    seen.append("big")
                } else if parser.is(key, "t") {
                    let value = parser.bool()
                    #expect(value == true)
                    seen.append("t")
                } else if parser.is(key, "f") {
                    let value = parser.bool()
                    #expect(value == false)
                    seen.append("f")
                } else if parser.is(key, "s") {
                    let value = parser.text()
                    #expect(value == "a\"b\\cé😀")
                    seen.append("s")
                } else {
                    let skipped = parser.skipValue()
                    #expect(skipped)
                }
            }
            #expect(parser.finished)
            #expect(seen == ["n", "big", "t", "f", "s"])
        }
        Array(#"{"n": 99999999999999999999}"#.utf8).withUnsafeBufferPointer { buffer in
            var parser = JSONObjectParser(buffer)
            let began = parser.begin(), key = parser.nextKey()
            #expect(began && key != nil)
            let value = parser.integer()
            #expect(value == nil)  // overflow
        }
    }
}
