//! Targets' rules outside their schema (Kong's `kong/db/dao/targets.lua`): the address
//! is stored as `host:port`, with port 8000 when none is given (IPv4 written plainly,
//! IPv6 bracketed and expanded, as `kong/tools/ip.lua` `format_host` writes them), and
//! an upstream has one target of an address.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use uuid::Uuid;

use super::kinds::CompositeKey;
use super::record::reference_id;
use super::{Entities, EntityError};
use crate::schema::filled::Filled;

/// Kong's targets DAO's default port.
const DEFAULT_PORT: u16 = 8000;

/// One target per address and upstream (Kong's targets `cache_key`, `{upstream, target}`).
pub const TARGET_KEY: CompositeKey = CompositeKey {
    key: "upstream_target",
    index: "target",
    value: target_key_of,
};

fn target_key_of(target: &Filled) -> String {
    let upstream = reference_id(target.get("upstream")).unwrap_or("");
    let address = target.get("target").and_then(Value::as_str).unwrap_or("");
    format!("{upstream}:{address}")
}

/// The targets' [`super::kinds::Check`]: the address in Kong's stored form.
pub(super) fn check_target<'a>(
    _: &'a Entities,
    _: Uuid,
    target: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(format_in_place(target)))
}

fn format_in_place(target: &mut Filled) -> Result<(), EntityError> {
    let Some(address) = target.get("target").and_then(Value::as_str) else {
        return Ok(());
    };
    // The schema let it through, so it parses; Kong's DAO words a failure this way.
    let formatted = format_target(address).ok_or_else(|| {
        EntityError::field(
            "target",
            "Invalid target; not a valid hostname or ip address",
        )
    })?;
    let mut value = std::mem::replace(target, Filled::Value(Value::Null)).into_value();
    value["target"] = json!(formatted);
    *target = Filled::Value(value);
    Ok(())
}

/// An address as Kong's `normalize_ip` parses it.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    Ipv4([u8; 4]),
    Ipv6([u16; 8]),
    Name(String),
}

/// Kong's targets DAO `format_target`: `host:port`, the port 8000 when absent.
pub fn format_target(address: &str) -> Option<String> {
    let (host, port) = normalize_ip(address)?;
    let port = port.unwrap_or(DEFAULT_PORT);
    Some(match host {
        Host::Ipv4([a, b, c, d]) => format!("{a}.{b}.{c}.{d}:{port}"),
        Host::Ipv6(groups) => {
            let groups: Vec<String> = groups.iter().map(|g| format!("{g:04x}")).collect();
            format!("[{}]:{port}", groups.join(":"))
        }
        Host::Name(name) => format!("{name}:{port}"),
    })
}

/// Kong's `kong/tools/ip.lua` `normalize_ip`: the type told by exclusion (two colons or
/// more: IPv6; digits and dots: IPv4; else a name), then parsed with its optional port.
fn normalize_ip(address: &str) -> Option<(Host, Option<u16>)> {
    let colons = address.matches(':').count();
    let rest: String = address.chars().filter(|c| *c != ':').collect();
    if colons > 1 {
        ipv6(address)
    } else if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
        ipv4(address)
    } else {
        hostname(address)
    }
}

fn port_of(digits: &str) -> Option<u16> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u32>()
        .ok()
        .and_then(|p| u16::try_from(p).ok())
}

fn ipv4(address: &str) -> Option<(Host, Option<u16>)> {
    let (dotted, port) = match address.split_once(':') {
        Some((dotted, port)) => (dotted, Some(port_of(port)?)),
        None => (address, None),
    };
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = dotted.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    for (octet, part) in octets.iter_mut().zip(parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    Some((Host::Ipv4(octets), port))
}

fn ipv6(address: &str) -> Option<(Host, Option<u16>)> {
    let (mut bare, port) = match address.strip_prefix('[') {
        Some(rest) => {
            let (inside, tail) = rest.split_once(']')?;
            let port = match tail {
                "" => None,
                _ => Some(port_of(tail.strip_prefix(':')?)?),
            };
            (inside.to_string(), port)
        }
        None => (address.to_string(), None),
    };
    if bare.starts_with(':') {
        bare.insert(0, '0');
    }
    if bare.ends_with(':') {
        bare.push('0');
    }
    if bare.contains("::") {
        let colons = bare.matches(':').count();
        let fill = format!(":{}", "0:".repeat(8usize.checked_sub(colons)?));
        bare = bare.replacen("::", &fill, 1);
    }
    let parts: Vec<&str> = bare.split(':').collect();
    if parts.len() != 8 {
        return None;
    }
    let mut groups = [0u16; 8];
    for (group, part) in groups.iter_mut().zip(parts) {
        if part.is_empty() || part.len() > 4 {
            return None;
        }
        *group = u16::from_str_radix(part, 16).ok()?;
    }
    Some((Host::Ipv6(groups), port))
}

fn hostname(address: &str) -> Option<(Host, Option<u16>)> {
    let (name, port) = match address.rsplit_once(':') {
        Some((name, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (name, Some(port_of(digits)?))
        }
        _ => (address, None),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if name.is_empty()
        || !name.chars().all(allowed)
        || name.contains("-.")
        || name.ends_with('-')
        || name.contains("..")
        || name.starts_with('.')
    {
        return None;
    }
    Some((Host::Name(name.to_string()), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kong's targets DAO (`kong/db/dao/targets.lua` `format_target`) and
    /// `spec/01-unit/05-utils_spec.lua`'s normalize_ip cases.
    #[test]
    fn targets_are_formatted_as_kong_stores_them() {
        assert_eq!(format_target("example.com").unwrap(), "example.com:8000");
        assert_eq!(format_target("example.com:80").unwrap(), "example.com:80");
        assert_eq!(format_target("10.0.0.1").unwrap(), "10.0.0.1:8000");
        assert_eq!(format_target("10.0.0.1:443").unwrap(), "10.0.0.1:443");
        assert_eq!(
            format_target("::1").unwrap(),
            "[0000:0000:0000:0000:0000:0000:0000:0001]:8000"
        );
        assert_eq!(
            format_target("[2001:db8::AB]:81").unwrap(),
            "[2001:0db8:0000:0000:0000:0000:0000:00ab]:81"
        );
        for bad in [
            "",
            "x-.com",
            "a..b",
            "10.0.0.256",
            "x.com:70000",
            "[::1]x",
            "a b",
        ] {
            assert_eq!(format_target(bad), None, "{bad}");
        }
    }
}
