import Foundation

/// Entry point of the `berth` command line. `main.swift` calls only this.
public enum BerthCLI {
    public static func main() {
        FileHandle.standardError.write(Data("berth: not yet implemented\n".utf8))
        exit(1)
    }
}
