//! konnektd's `kong.db.schema.typedefs` (`src/lua/typedefs.lua`) value by value against
//! Kong 3.10's: `kong/db/schema/typedefs.lua` and the helpers it calls,
//! `kong/tools/ip.lua` (`normalize_ip`, `is_valid_ip_or_cidr`), resty.ipmatcher
//! (glibc `inet_pton`) and luasocket 3.1.0's `url.parse`. `None`: accepted.

use serde_json::{Value, json};

use crate::lua::sandbox::Limits;
use crate::lua::schema_cache::{Ready, SchemaCache};
use crate::schema::definition::Schema;
use crate::schema::errors::details;
use crate::schema::validate::{Context, Engine};
use crate::schema::value::SchemaValue;

fn plain(value: &SchemaValue) -> Result<Schema, String> {
    Schema::parse(value, true).map_err(|e| e.to_string())
}

/// Checks `value` as the typedef `typedef`, answering the field's message if refused.
fn checker(typedefs: &[&str]) -> impl FnMut(&str, Value) -> Option<String> {
    let fields: Vec<String> = typedefs
        .iter()
        .map(|t| format!("{{ {t} = t.{t} }}"))
        .collect();
    let source = format!(
        r#"local t = require "kong.db.schema.typedefs"
        return {{ name = "typedefs", fields = {{ {{ config = {{ type = "record", fields = {{ {} }} }} }} }} }}"#,
        fields.join(", ")
    );
    let cache = SchemaCache::new(8, 2);
    let Ready::WithLua(mut compiled) = cache.checkout(&source, plain, Limits::default()).unwrap()
    else {
        panic!("typedefs carry validators");
    };
    let schema = compiled.schema.clone();
    move |typedef: &str, value: Value| {
        let mut engine = Engine::new(&mut compiled, 1_000_000, 1.0);
        let input = json!({ "config": { typedef: value } });
        match engine.check(&schema, &input, Context::Insert) {
            Ok(_) => None,
            Err(errors) => {
                let d = details(&errors);
                assert_eq!(d.len(), 1, "{d:?}");
                assert_eq!(d[0].field.as_deref(), Some(&*format!("config.{typedef}")));
                Some(d[0].messages.join(" | "))
            }
        }
    }
}

fn run(typedefs: &[&str], cases: &[(&str, &str, Option<&str>)]) {
    let mut check = checker(typedefs);
    for (typedef, value, expected) in cases {
        assert_eq!(
            check(typedef, json!(value)).as_deref(),
            *expected,
            "{typedef} {value:?}"
        );
    }
}

/// Kong's `validate_host` over `normalize_ip`: the type is told by exclusion, so "0" and
/// "5" are IPv4 addresses that fail to parse and "a:b:c" an IPv6 one; "[::1]" is the IPv6
/// address in brackets; a name's labels may not end with `-` nor be empty but the last.
#[test]
fn host_follows_kongs_normalize_ip() {
    let invalid = |v: &str| format!("invalid value: {v}");
    run(
        &["host"],
        &[
            ("host", "example.com", None),
            ("host", "[::1]", None),
            ("host", "::1", None),
            ("host", "1.2.3.4", None),
            // normalize_ipv4 takes up to three digits per octet, leading zeros too.
            ("host", "01.2.3.4", None),
            ("host", "a_b.example", None),
            ("host", "example.com.", None),
            ("host", "-a.example", None),
            ("host", "0", Some(&invalid("0"))),
            ("host", "5", Some(&invalid("5"))),
            ("host", "a:b:c", Some(&invalid("a:b:c"))),
            ("host", "1.2.3", Some(&invalid("1.2.3"))),
            ("host", "256.1.1.1", Some(&invalid("256.1.1.1"))),
            ("host", "a-.example", Some(&invalid("a-.example"))),
            ("host", "a..example", Some(&invalid("a..example"))),
            ("host", ".example", Some(&invalid(".example"))),
            ("host", "exa mple", Some(&invalid("exa mple"))),
            ("host", "a:b", Some(&invalid("a:b"))),
            ("host", "[::1]x", Some(&invalid("[::1]x"))),
            ("host", "example.com:80", Some("must not have a port")),
            ("host", "example.com:99999", Some("must not have a port")),
            ("host", "1.2.3.4:80", Some("must not have a port")),
            ("host", "[::1]:80", Some("must not have a port")),
        ],
    );
}

/// Kong's `validate_sni` and `validate_wildcard_host`: the IP check comes before the
/// port check, and `host_with_optional_port` answers `normalize_ip`'s own messages.
#[test]
fn sni_wildcard_and_optional_port_follow_kongs_normalize_ip() {
    run(
        &["sni", "wildcard_host", "host_with_optional_port"],
        &[
            ("sni", "example.com", None),
            ("sni", "1.2.3.4:80", Some("must not be an IP")),
            ("sni", "[::1]", Some("must not be an IP")),
            ("sni", "example.com:443", Some("must not have a port")),
            ("sni", "0", Some("invalid value: 0")),
            ("wildcard_host", "*.example.com", None),
            ("wildcard_host", "*.1.2.3", None),
            ("host_with_optional_port", "example.com:8000", None),
            ("host_with_optional_port", "[::1]:8000", None),
            (
                "host_with_optional_port",
                "example.com:70000",
                Some("invalid port number"),
            ),
            (
                "host_with_optional_port",
                "bad host",
                Some("invalid hostname: bad host"),
            ),
            (
                "host_with_optional_port",
                "1.2.3",
                Some("invalid ipv4 address: 1.2.3"),
            ),
            (
                "host_with_optional_port",
                "a:b:c",
                Some("invalid ipv6 address: a:b:c"),
            ),
        ],
    );
}

/// Kong's `is_valid_ip_or_cidr` (kong/tools/ip.lua): glibc's `inet_pton` refuses leading
/// zeros in an IPv4 octet; the prefix must be written as Kong's table of
/// `tostring(0..32)` keys has it; resty.ipmatcher drops brackets around an IPv6 address.
#[test]
fn ip_or_cidr_follows_inet_pton() {
    let bad = |v: &str| format!("invalid ip or cidr range: '{v}'");
    run(
        &["ip_or_cidr", "ip", "cidr_v4"],
        &[
            ("ip_or_cidr", "1.2.3.4", None),
            ("ip_or_cidr", "0.0.0.0/0", None),
            ("ip_or_cidr", "10.0.0.0/8", None),
            ("ip_or_cidr", "[::1]", None),
            ("ip_or_cidr", "::1", None),
            ("ip_or_cidr", "::", None),
            ("ip_or_cidr", "::ffff:1.2.3.4", None),
            ("ip_or_cidr", "fe80::/10", None),
            ("ip_or_cidr", "[::1]/128", None),
            ("ip_or_cidr", "1:2:3:4:5:6:7:8", None),
            ("ip_or_cidr", "01.2.3.4", Some(&bad("01.2.3.4"))),
            ("ip_or_cidr", "1.2.3.4/08", Some(&bad("1.2.3.4/08"))),
            ("ip_or_cidr", "1.2.3.4/33", Some(&bad("1.2.3.4/33"))),
            ("ip_or_cidr", "::1/129", Some(&bad("::1/129"))),
            ("ip_or_cidr", "1.2.3", Some(&bad("1.2.3"))),
            ("ip_or_cidr", "1.2.3.4.", Some(&bad("1.2.3.4."))),
            (
                "ip_or_cidr",
                "1:2:3:4:5:6:7:8:9",
                Some(&bad("1:2:3:4:5:6:7:8:9")),
            ),
            (
                "ip_or_cidr",
                "1:2:3:4:5:6:7::8",
                Some(&bad("1:2:3:4:5:6:7::8")),
            ),
            ("ip_or_cidr", "1::2::3", Some(&bad("1::2::3"))),
            ("ip_or_cidr", ":1::2", Some(&bad(":1::2"))),
            ("ip_or_cidr", "1:", Some(&bad("1:"))),
            ("ip_or_cidr", "12345::", Some(&bad("12345::"))),
            ("ip_or_cidr", "example.com", Some(&bad("example.com"))),
            ("ip", "[::1]", None),
            ("ip", "01.2.3.4", Some("not an ip address: 01.2.3.4")),
            ("cidr_v4", "10.0.0.0/8", None),
            ("cidr_v4", "10.1.2.3", None),
            (
                "cidr_v4",
                "10.0.0.0/08",
                Some("invalid ipv4 cidr range: '10.0.0.0/08'"),
            ),
            (
                "cidr_v4",
                "::1/128",
                Some("invalid ipv4 cidr range: '::1/128'"),
            ),
        ],
    );
}

/// Kong's `validate_url`: luasocket's `url.parse`, the host checked before the scheme.
#[test]
fn url_checks_the_host_before_the_scheme_as_kong_does() {
    run(
        &["url"],
        &[
            ("url", "https://example.com/x", None),
            ("url", "http://[::1]:8080", None),
            ("url", "http://user:pw@example.com", None),
            ("url", "http:/x", Some("missing host in url")),
            ("url", "http://:80", Some("missing host in url")),
            ("url", "http://user@", Some("missing host in url")),
            ("url", "example.com", Some("missing host in url")),
            ("url", "//example.com", Some("missing scheme in url")),
        ],
    );
}

/// Kong's `validate_path` (no `?`, `#`, `[` or `]`; bad escapes quoted as Kong finds
/// them) and its declarative `semantic_version`.
#[test]
fn path_and_semantic_version_are_kongs() {
    run(
        &["path", "semantic_version"],
        &[
            ("path", "/a/b~c:@!$&'()*+,;=%41", None),
            (
                "path",
                "/a?b",
                Some(
                    "invalid path: '/a?b' (characters outside of the reserved list of RFC 3986 found)",
                ),
            ),
            (
                "path",
                "/a[0]",
                Some(
                    "invalid path: '/a[0]' (characters outside of the reserved list of RFC 3986 found)",
                ),
            ),
            ("path", "/a%4", Some("invalid url-encoded value: '%4'")),
            ("path", "/%%41", Some("invalid url-encoded value: '%__'")),
            ("semantic_version", "1.2.3", None),
            ("semantic_version", "1.2.3.4", None),
            ("semantic_version", "1-beta", None),
            (
                "semantic_version",
                "1..1",
                Some("must not have empty version segments"),
            ),
            (
                "semantic_version",
                "v1",
                Some("invalid version number: must be in format of X.Y.Z"),
            ),
        ],
    );
}

/// The plugin entity's `tags` and `instance_name` run `typedefs.tag` and
/// `typedefs.utf8_name` in Rust (`Native`); Lua schemas get them from
/// `src/lua/typedefs.lua`. Both give Kong's verdicts and texts (kong/db/schema/typedefs.lua
/// `validate_tag`: printable ASCII and the space but `,` and `/`, or UTF-8;
/// `validate_utf8_name`: alphanumerics, `.`, `-`, `_`, `~`, or UTF-8).
#[test]
fn plugin_tags_and_instance_name_agree_with_the_lua_typedefs() {
    use crate::schema::definition::from_json;
    use crate::schema::plugin_entity::plugin_entity_schema;
    use crate::schema::validate::NoFunctions;

    let plugin = from_json(&json!({"fields": [{"config": {"type": "record", "fields": []}}]}));
    let entity = plugin_entity_schema(&plugin).unwrap();
    let native = |field: &str, value: &str| -> Option<String> {
        let input = match field {
            "tags" => json!({"name": "p", "tags": [value]}),
            _ => json!({"name": "p", "instance_name": value}),
        };
        let errors = Engine::new(&mut NoFunctions, 1_000_000, 1.0)
            .check(&entity, &input, Context::Insert)
            .err()?;
        let d = details(&errors);
        assert_eq!(d.len(), 1, "{d:?}");
        Some(d[0].messages.join(" | "))
    };
    // `typedefs.tag` is required: each typedef gets a schema of its own.
    let (mut lua_tag, mut lua_name) = (checker(&["tag"]), checker(&["utf8_name"]));
    let values = [
        "a",
        "x/y",
        "a,b",
        "tab\t",
        "with space",
        "ünïcødé",
        "日本",
        "a~b.c-d_e",
        "bad name",
        "del\u{7f}",
        "nul\u{0}",
        "semi;colon",
        "@at",
        "quote'",
        "back\\slash",
    ];
    for value in values {
        let tag = native("tags", value);
        assert_eq!(tag, lua_tag("tag", json!(value)), "tag {value:?}");
        let name = native("instance_name", value);
        assert_eq!(
            name,
            lua_name("utf8_name", json!(value)),
            "utf8_name {value:?}"
        );
    }
    assert_eq!(
        native("tags", "x/y").as_deref(),
        Some(
            "invalid tag 'x/y': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
        )
    );
    assert_eq!(native("tags", "with space"), None);
    assert_eq!(
        native("instance_name", "bad name").as_deref(),
        Some(
            "invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
        )
    );
    assert_eq!(native("instance_name", "ünïcødé"), None);
}
