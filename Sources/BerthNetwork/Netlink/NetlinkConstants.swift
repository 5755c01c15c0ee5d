/// Netlink wire constants, spelled out (Glibc imports the uapi values as `Int`, and some not at
/// all); values from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>,
/// <linux/if_addr.h>, <linux/veth.h>, <linux/if.h>.
enum NL {
    // nlmsghdr flags
    static let request: UInt16 = 0x1
    static let multi: UInt16 = 0x2
    static let ack: UInt16 = 0x4
    static let dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100
    static let exclusive: UInt16 = 0x200
    static let create: UInt16 = 0x400
    /// Flags on an NLMSG_ERROR acknowledgment: payload capped / TLVs follow.
    static let ackCapped: UInt16 = 0x100
    static let ackTLVs: UInt16 = 0x200

    // message types
    static let noop: UInt16 = 1
    static let error: UInt16 = 2
    static let done: UInt16 = 3
    static let newLink: UInt16 = 16
    static let delLink: UInt16 = 17
    static let getLink: UInt16 = 18
    static let newAddress: UInt16 = 20
    static let delAddress: UInt16 = 21
    static let getAddress: UInt16 = 22
    static let newRoute: UInt16 = 24
    static let delRoute: UInt16 = 25
    static let getRoute: UInt16 = 26

    static let headerSize = 16
    static let nested: UInt16 = 0x8000

    // socket options
    static let solNetlink: Int32 = 270
    static let extendedAck: Int32 = 11
    /// NLMSGERR_ATTR_MSG: the kernel's human-readable reason in an extended ack.
    static let errorAttributeMessage: UInt16 = 1
}

/// IFLA_* link attributes.
enum LinkAttribute {
    static let address: UInt16 = 1
    static let ifname: UInt16 = 3
    static let mtu: UInt16 = 4
    static let master: UInt16 = 10
    static let linkInfo: UInt16 = 18
    static let netNamespaceFD: UInt16 = 28
    // inside IFLA_LINKINFO
    static let infoKind: UInt16 = 1
    static let infoData: UInt16 = 2
    // inside IFLA_INFO_DATA of a veth
    static let vethPeer: UInt16 = 1
}

/// IFA_* address attributes.
enum AddressAttribute {
    static let address: UInt16 = 1
    static let local: UInt16 = 2
    static let broadcast: UInt16 = 4
}

/// RTA_* route attributes and rtmsg values.
enum RouteAttribute {
    static let destination: UInt16 = 1
    static let outputInterface: UInt16 = 4
    static let gateway: UInt16 = 5
    static let preferredSource: UInt16 = 7
    static let table: UInt16 = 15

    static let tableMain: UInt8 = 254
    static let protocolBoot: UInt8 = 3
    static let protocolKernel: UInt8 = 2
    static let scopeUniverse: UInt8 = 0
    static let scopeLink: UInt8 = 253
    static let scopeHost: UInt8 = 254
    static let typeUnicast: UInt8 = 1
}

enum AddressFamily {
    static let unspecified: UInt8 = 0
    static let inet: UInt8 = 2
    static let inet6: UInt8 = 10
}

enum InterfaceFlag {
    static let up: UInt32 = 0x1
}
