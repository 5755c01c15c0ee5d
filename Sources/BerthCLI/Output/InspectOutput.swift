/// What the inspect commands (`inspect`, `pod inspect`) print, as docker's inspect does: the
/// documents as an indented JSON array, on one line with `--format json`, or through a Go
/// template per document; then each failure on a line of its own on stderr.
struct InspectOutput {
    let format: String
    /// `--format`'s template; nil for the JSON forms.
    let template: GoTemplate?

    /// Fails with docker's words when the template does not parse (exit status 64).
    init(format: String) throws(GoTemplate.TemplateError) {
        self.format = format
        template = format.isEmpty || format == "json"
            ? nil : try GoTemplate(parsing: format.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n"))
    }

    /// Parses `format`, or prints docker's message and returns nil.
    static func make(_ format: String, console: any Console) -> InspectOutput? {
        do {
            return try InspectOutput(format: format)
        } catch {
            console.err("template parsing error: \(error.description)\n")
            return nil
        }
    }

    /// Prints `documents`, then `errors`; the exit status (1 when anything failed).
    func write(_ documents: [TemplateData], errors: [String], console: any Console) -> Int32 {
        var errors = errors
        if let template {
            var out = ""
            for document in documents {
                do {
                    out += try template.execute(GoTemplate.Context(data: document)) + "\n"
                } catch {
                    errors.append("template parsing error: \(error.description)")
                }
            }
            console.out(out.isEmpty ? "\n" : out)
        } else if format == "json" {
            console.out(OrderedJSON.array(documents.map(\.json)).compact() + "\n")
        } else {
            console.out(OrderedJSON.array(documents.map(\.json)).render() + "\n")
        }
        for error in errors { console.err(error + "\n") }
        return errors.isEmpty ? 0 : 1
    }
}
