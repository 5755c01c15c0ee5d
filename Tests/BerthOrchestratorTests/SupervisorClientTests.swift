import BerthSystem
import Foundation
import Glibc
import Testing
@testable import BerthOrchestrator

/// The client's retry when its supervisor goes away before answering, against a stand-in
/// supervisor on a socket of the test's own: the first connection is closed unanswered
/// (the supervisor died), the second one answers.
@Suite struct SupervisorClientTests {
    /// A wait with a limit is asked again for what is left of it, not for the whole of it
    /// again (a rolling update's monitoring period would start over at each supervisor restart).
    @Test func aRetriedWaitKeepsItsEnd() throws {
        let runRoot = NSTemporaryDirectory() + "berth-client-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: runRoot) }
        let client = SupervisorClient(project: "p", root: runRoot + "/root", runRoot: runRoot, berthBinary: "/nonexistent/berth")
        try FS.makeDirectories(client.paths.directory)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(listener >= 0)
        defer {
            shutdown(listener, Int32(SHUT_RDWR))  // wakes the server's accept, should the test end early
            close(listener)
        }
        #expect(try UnixSocketAddress.with(client.paths.socket) { bind(listener, $0, $1) } == 0)
        #expect(listen(listener, 4) == 0)

        let received = LockedBox<[SupervisorProtocol.Request]>([])
        let server = Thread {
            for answer in [false, true] {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                let line = ContainerEngine.readLine(fd)
                if let request = try? JSONDecoder().decode(SupervisorProtocol.Request.self, from: Data(line.utf8)) {
                    received.update { $0.append(request) }
                }
                if answer {
                    let response = SupervisorProtocol.encodeLine(SupervisorProtocol.Response(results: [.init(container: "c", timedOut: true)]))
                    _ = response.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                }
                close(fd)
            }
        }
        server.start()
        let response = try client.send(.init(op: .waitCondition, containers: ["c"], condition: .unready, waitMilliseconds: 600_000))
        #expect(response.results == [.init(container: "c", timedOut: true)])
        let waits = received.value.map(\.waitMilliseconds)
        #expect(waits.count == 2 && waits.first == 600_000, "\(waits)")
        // What was left when it was asked again: less than the whole, by the time gone.
        #expect((waits.last ?? nil).map { $0 < 600_000 && $0 > 0 } == true, "\(waits)")
    }
}
