//! Whether a string compiles as a regular expression, as Kong's `is_regex` validator and
//! the plugins that compile patterns with PCRE (`ngx.re.find`) decide. konnektd has no
//! PCRE; `fancy-regex` takes PCRE's common syntax, look-around and back-references
//! included, which Rust's `regex` crate refuses. What remains (recursion, `\K`, callouts)
//! is refused here though PCRE takes it: rare in gateway configs, and refused with a clear
//! message rather than passed to a data plane that might refuse it.

/// Whether `pattern` compiles.
pub fn compiles(pattern: &str) -> bool {
    fancy_regex::Regex::new(pattern).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcre_syntax_compiles_and_broken_patterns_do_not() {
        for good in [
            "^https?://(www\\.)?example\\.com$",
            "(?i)googlebot",
            "foo(?=bar)",
            "(?<!x)y",
            "(a)\\1",
            "[[:alpha:]]+",
        ] {
            assert!(compiles(good), "{good}");
        }
        for bad in ["(", "[a-", "a)", "*a", "\\", "(?<", "x{2,1}"] {
            assert!(!compiles(bad), "{bad}");
        }
    }
}
