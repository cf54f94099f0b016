//! What the cluster's public URL (`--cluster-public-url`) gives: its default from the
//! cluster listener, the host names the server certificate covers, the address and server
//! name data planes connect with, and the `docker run` that starts a data plane against
//! this konnektd (with a note when its host is a loopback name).

use std::net::SocketAddr;

/// The public URL: the one given, else `https://localhost:<port of the cluster
/// listener>`, so a listener moved off 8005 is still where data planes are sent.
pub fn resolve(explicit: Option<&str>, cluster_listen: SocketAddr) -> String {
    match explicit.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => url.to_string(),
        None => format!("https://localhost:{}", cluster_listen.port()),
    }
}

/// The host of the public URL (`https://[::1]:8005` → `::1`).
pub fn public_host(cluster_public_url: &str) -> &str {
    host_of(authority(cluster_public_url))
}

/// The `host[:port]` of a URL (`https://cp.example.com:8005/x` → `cp.example.com:8005`).
fn authority(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    without_scheme.split('/').next().unwrap_or("")
}

/// The host of a `host[:port]` authority, brackets of an IPv6 literal removed.
pub fn host_of(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
}

/// The host names the server certificate covers: the public URL's host, `localhost`
/// and `127.0.0.1`.
pub fn server_hosts(cluster_public_url: &str) -> Vec<String> {
    let host = public_host(cluster_public_url).to_string();
    let mut hosts = vec![];
    for h in [host, "localhost".into(), "127.0.0.1".into()] {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

/// `host:port` and host of the cluster's public URL, as `KONG_CLUSTER_CONTROL_PLANE` and
/// `KONG_CLUSTER_SERVER_NAME` want them.
pub fn cluster_address(cluster_public_url: &str) -> (String, String) {
    let authority = authority(cluster_public_url).to_string();
    let host = host_of(&authority).to_string();
    let address = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority
    } else {
        format!("{authority}:443")
    };
    (address, host)
}

/// The `docker run` Konnect shows for a new data plane node, with every `KONG_CLUSTER_*`
/// filled for this konnektd, its CA trusted, and the three lines that mount and enable the
/// `ping-auth` plugin (see docs/api.md, "Data planes").
pub fn docker_run_command(cluster_public_url: &str, cert: &str, key: &str, ca: &str) -> String {
    let (address, host) = cluster_address(cluster_public_url);
    let lines = [
        "docker run -d".to_string(),
        "-v \"/plugins/kong/ping-auth:/usr/local/share/lua/5.1/kong/plugins/ping-auth\"".into(),
        "-e \"KONG_PLUGINS=bundled,ping-auth\"".into(),
        "-e \"KONG_LUA_PACKAGE_PATH=/usr/local/share/lua/5.1/kong/plugins/?.lua;;\"".into(),
        "-e \"KONG_ROLE=data_plane\"".into(),
        "-e \"KONG_DATABASE=off\"".into(),
        "-e \"KONG_VITALS=off\"".into(),
        "-e \"KONG_NGINX_WORKER_PROCESSES=1\"".into(),
        "-e \"KONG_CLUSTER_MTLS=pki\"".into(),
        format!("-e \"KONG_CLUSTER_CONTROL_PLANE={address}\""),
        format!("-e \"KONG_CLUSTER_SERVER_NAME={host}\""),
        format!("-e \"KONG_CLUSTER_TELEMETRY_ENDPOINT={address}\""),
        format!("-e \"KONG_CLUSTER_TELEMETRY_SERVER_NAME={host}\""),
        format!("-e \"KONG_CLUSTER_CERT={}\"", cert.trim_end()),
        format!("-e \"KONG_CLUSTER_CERT_KEY={}\"", key.trim_end()),
        format!("-e \"KONG_CLUSTER_CA_CERT={}\"", ca.trim_end()),
        "-e \"KONG_LUA_SSL_TRUSTED_CERTIFICATE=system\"".into(),
        "-e \"KONG_KONNECT_MODE=on\"".into(),
        "-p 8000:8000".into(),
        "-p 8443:8443".into(),
        "kong/kong-gateway:3.10".into(),
    ];
    lines.join(" \\\n")
}

/// A note for the `docker run` when the public host is a loopback name: inside a
/// container that name is the container itself, so the data plane would dial itself.
pub fn loopback_note(cluster_public_url: &str) -> Option<String> {
    let host = public_host(cluster_public_url);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then(|| {
        format!(
            "note: the cluster public URL's host is {host}, and inside a container {host} is \
             the container itself, so this docker run cannot reach konnektd; restart konnektd \
             (or rerun this) with --cluster-public-url set to a host the container can reach, \
             e.g. https://host.docker.internal:<port> on Docker Desktop or \
             https://<this host's address>:<port>"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_covers_the_public_host_and_localhost() {
        assert_eq!(
            server_hosts("https://cp.example.com:8005"),
            ["cp.example.com", "localhost", "127.0.0.1"]
        );
        assert_eq!(
            server_hosts("wss://localhost:8005/x"),
            ["localhost", "127.0.0.1"]
        );
        assert_eq!(
            server_hosts("https://[::1]:8005"),
            ["::1", "localhost", "127.0.0.1"]
        );
    }

    #[test]
    fn the_public_url_defaults_to_the_cluster_listeners_port() {
        let listen = "127.0.0.1:18405".parse().unwrap();
        assert_eq!(resolve(None, listen), "https://localhost:18405");
        assert_eq!(
            resolve(Some("https://cp.example.com:443"), listen),
            "https://cp.example.com:443"
        );
    }

    #[test]
    fn loopback_hosts_get_a_note_and_others_none() {
        for url in [
            "https://localhost:8005",
            "https://LOCALHOST",
            "https://127.0.0.1:8005",
            "https://[::1]:8005",
        ] {
            let note = loopback_note(url).unwrap_or_else(|| panic!("{url}"));
            assert!(note.contains("--cluster-public-url"), "{note}");
            assert!(note.contains("host.docker.internal"), "{note}");
        }
        assert_eq!(loopback_note("https://konnektd.internal:8005"), None);
        assert_eq!(loopback_note("https://10.0.0.5:8005"), None);
    }

    #[test]
    fn the_docker_run_points_data_planes_at_this_cluster_listener() {
        let command = docker_run_command("https://cp.example.com:8005", "CERT", "KEY", "CA");
        assert!(command.contains("-e \"KONG_CLUSTER_CONTROL_PLANE=cp.example.com:8005\" \\\n"));
        assert!(command.contains("KONG_CLUSTER_SERVER_NAME=cp.example.com\""));
        assert!(command.contains("KONG_PLUGINS=bundled,ping-auth"));
        assert!(command.contains("KONG_CLUSTER_CA_CERT=CA\""));
        assert!(command.ends_with("kong/kong-gateway:3.10"));
        assert_eq!(
            cluster_address("https://cp.example.com"),
            ("cp.example.com:443".into(), "cp.example.com".into())
        );
    }
}
