import BerthNetwork
import ComposeSpec

/// A Compose network → the bridge network's options, with Compose's labels.
enum NetworkSettings {
    static func options(for network: Network, project: String, key: String) throws -> NetworkOptions {
        let where_ = "network \(key)"
        if let driver = network.driver, driver != "bridge" {
            throw EngineError("\(where_): driver \"\(driver)\" is not supported; berth creates bridge networks (remove driver: or set it to bridge)")
        }
        if network.enable_ipv6 == true {
            throw EngineError("\(where_): enable_ipv6 is not supported: berth's networks are IPv4 only")
        }
        var options = NetworkOptions(internal: network.internal ?? false)
        if let pool = network.ipam?.config?.first {
            if let text = pool.subnet {
                guard let subnet = IPv4Subnet(text) else { throw EngineError("\(where_): ipam subnet \"\(text)\" is not an IPv4 subnet such as 10.5.0.0/16") }
                options.subnet = subnet
            }
            if let text = pool.gateway {
                guard let gateway = IPv4Address(text) else { throw EngineError("\(where_): ipam gateway \"\(text)\" is not an IPv4 address") }
                options.gateway = gateway
            }
            if let text = pool.ip_range {
                guard let range = IPv4Subnet(text) else { throw EngineError("\(where_): ipam ip_range \"\(text)\" is not an IPv4 subnet") }
                options.ipRange = range
            }
        }
        for (name, value) in network.driver_opts ?? KeyedMap() { options.driverOptions[name] = value }
        for (name, value) in network.labels ?? KeyedMap() { options.labels[name] = value }
        for (name, value) in Label.network(project: project, key: key) { options.labels[name] = value }
        return options
    }
}
