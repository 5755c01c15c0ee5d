/// `user:` resolution from the image's /etc/passwd and /etc/group text, as runc's
/// `user.GetExecUser` and Docker do.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    public var home: String
}

public struct UserError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

public enum UserResolver {
    public struct PasswdEntry: Equatable, Sendable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32
        public var home: String
    }

    public struct GroupEntry: Equatable, Sendable {
        public var name: String
        public var gid: UInt32
        public var members: [String]
    }

    public static func parsePasswd(_ text: String) -> [PasswdEntry] {
        text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return PasswdEntry(name: String(f[0]), uid: uid, gid: gid, home: f.count > 5 ? String(f[5]) : "/")
        }
    }

    public static func parseGroup(_ text: String) -> [GroupEntry] {
        text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 3, let gid = UInt32(f[2]) else { return nil }
            let members = f.count > 3 ? f[3].split(separator: ",").map(String.init) : []
            return GroupEntry(name: String(f[0]), gid: gid, members: members)
        }
    }

    /// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) plus `group_add`.
    /// - A name that is not in passwd is an error; a numeric uid need not exist (gid then 0).
    /// - Without an explicit group, supplementary groups are those listing the user by name.
    public static func resolve(
        user: String, groupAdd: [String], passwd: String?, group: String?
    ) throws(UserError) -> ResolvedUser {
        let users = passwd.map(parsePasswd) ?? []
        let groups = group.map(parseGroup) ?? []
        let parts = user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        let groupPart: String? = parts.count > 1 ? parts[1] : nil

        var result = ResolvedUser(uid: 0, gid: 0, additionalGids: [], home: "/")
        var entry: PasswdEntry?
        if userPart.isEmpty {
            entry = users.first { $0.uid == 0 }
        } else if let uid = UInt32(userPart) {
            result.uid = uid
            entry = users.first { $0.uid == uid }
        } else {
            if passwd == nil {
                throw UserError(message: "unable to find user \(userPart): the image has no /etc/passwd; use a numeric uid[:gid] instead")
            }
            guard let match = users.first(where: { $0.name == userPart }) else {
                throw UserError(message: "unable to find user \(userPart): no matching entries in the image's /etc/passwd")
            }
            entry = match
        }
        if let entry {
            result.uid = entry.uid
            result.gid = entry.gid
            result.home = entry.home
        }
        if let groupPart, !groupPart.isEmpty {
            result.gid = try resolveGroup(groupPart, groups: groups, hasFile: group != nil)
        } else if let entry {
            result.additionalGids = groups.filter { $0.members.contains(entry.name) }.map(\.gid)
        }
        for extra in groupAdd {
            let gid = try resolveGroup(extra, groups: groups, hasFile: group != nil)
            if !result.additionalGids.contains(gid) { result.additionalGids.append(gid) }
        }
        return result
    }

    static func resolveGroup(_ name: String, groups: [GroupEntry], hasFile: Bool) throws(UserError) -> UInt32 {
        if let gid = UInt32(name) { return gid }
        if let match = groups.first(where: { $0.name == name }) { return match.gid }
        if !hasFile {
            throw UserError(message: "unable to find group \(name): the image has no /etc/group; use a numeric gid instead")
        }
        throw UserError(message: "unable to find group \(name): no matching entries in the image's /etc/group")
    }
}
