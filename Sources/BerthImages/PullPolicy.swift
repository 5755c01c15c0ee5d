/// Compose's `pull_policy`, evaluated against what the store has.
///
/// `missing` (also `if_not_present`, the default) pulls when the image is absent; `always`
/// pulls every time; `never` uses the local image and fails when there is none; `build`
/// builds instead; `daily`, `weekly` and `every_<duration>` (`every_12h`, `every_30m`,
/// `every_2d`, `every_1w`) pull when the last pull is older than that — or unknown.
public enum PullPolicy: Equatable, Sendable, CustomStringConvertible {
    case missing, always, never, build
    case every(seconds: Int64, text: String)

    public init(parsing text: String) throws(ImageError) {
        switch text {
        case "missing", "if_not_present", "": self = .missing
        case "always": self = .always
        case "never": self = .never
        case "build": self = .build
        case "daily": self = .every(seconds: 86_400, text: text)
        case "weekly": self = .every(seconds: 7 * 86_400, text: text)
        default:
            guard text.hasPrefix("every_"), let seconds = Self.duration(String(text.dropFirst(6))), seconds > 0 else {
                throw .invalidPullPolicy(text)
            }
            self = .every(seconds: seconds, text: text)
        }
    }

    public var description: String {
        switch self {
        case .missing: return "missing"
        case .always: return "always"
        case .never: return "never"
        case .build: return "build"
        case .every(_, let text): return text
        }
    }

    public enum Decision: Equatable, Sendable {
        case pull, useLocal, build
        /// `never` and no local image.
        case missingLocally
    }

    /// What to do for an image: `present` whether the store has it, `lastPulled` when it was
    /// last pulled (Unix seconds; nil for loaded or imported images), `now` the clock.
    public func decide(present: Bool, lastPulled: Int64?, now: Int64) -> Decision {
        switch self {
        case .always: return .pull
        case .missing: return present ? .useLocal : .pull
        case .never: return present ? .useLocal : .missingLocally
        case .build: return .build
        case .every(let seconds, _):
            guard present, let lastPulled else { return .pull }
            return now - lastPulled >= seconds ? .pull : .useLocal
        }
    }

    /// `12h`, `30m`, `1h30m`, `2d`, `1w`, `45s` → seconds.
    static func duration(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isASCII && character.isNumber {
                number.append(character)
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            case "w": unit = 7 * 86_400
            default: return nil
            }
            guard let value = Int64(number) else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        return number.isEmpty && sawUnit ? total : nil
    }
}
