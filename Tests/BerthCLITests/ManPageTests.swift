import BerthCLI
import Foundation
import Testing

/// Every command has a man page; generated pages match the command registry exactly (so a
/// page can't name an option the command lacks, or miss one); every page passes the roff
/// linter without warnings.
@Suite("Man pages")
struct ManPageTests {
    static let manDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../man").standardized.path

    @Test func everyCommandHasAPageMatchingTheRegistry() throws {
        for page in Help.generatedPages() {
            let path = Self.manDirectory + "/" + page.file
            let onDisk = try? String(contentsOfFile: path, encoding: .utf8)
            #expect(onDisk != nil, "man/\(page.file) is missing; run 'make man'")
            #expect(onDisk == page.text, "man/\(page.file) is out of date with the command registry; run 'make man'")
        }
        for command in BerthCLI.commands where !command.hidden {
            #expect(FileManager.default.fileExists(atPath: Self.manDirectory + "/berth-\(command.name).1"))
        }
    }

    @Test func hiddenCommandsAreDocumentedInSection8() {
        for command in BerthCLI.commands where command.hidden {
            #expect(FileManager.default.fileExists(atPath: Self.manDirectory + "/berth-\(command.name).8"), "berth \(command.name) needs man/berth-\(command.name).8")
        }
    }

    @Test func theFileFormatPageExists() throws {
        let text = try String(contentsOfFile: Self.manDirectory + "/berth-compose.5", encoding: .utf8)
        #expect(text.contains(".SH NOT SUPPORTED YET"))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/groff"), "groff is not installed"))
    func pagesLintCleanly() throws {
        let pages = try FileManager.default.contentsOfDirectory(atPath: Self.manDirectory).filter { $0.range(of: #"\.[1-8]$"#, options: .regularExpression) != nil }
        #expect(pages.count >= 4)
        for page in pages {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/groff")
            process.arguments = ["-mandoc", "-ww", "-z", Self.manDirectory + "/" + page]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(output.isEmpty && process.terminationStatus == 0, "groff warnings for \(page):\n\(output)")
        }
    }
}
