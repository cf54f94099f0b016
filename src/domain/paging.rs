//! Page-number paging of Konnect's v2 platform lists (`page[size]`, `page[number]`).

use super::field_error::FieldError;

/// The page a list request asks for, already checked against the configured bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub number: u32,
}

impl PageRequest {
    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }

    /// Parses `page[size]` (default `default_size`, within `1..=max_size`) and
    /// `page[number]` (default 1, at least 1), reporting both problems at once.
    pub fn parse(
        size: Option<&str>,
        number: Option<&str>,
        default_size: u32,
        max_size: u32,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let size = parse_bounded("page[size]", size, default_size, 1, max_size, &mut errors);
        let number = parse_bounded("page[number]", number, 1, 1, u32::MAX, &mut errors);
        if errors.is_empty() {
            Ok(PageRequest { size, number })
        } else {
            Err(errors)
        }
    }
}

/// An empty value (`?page[size]=`) counts as absent, as `allowEmptyValue: true` says.
pub fn parse_bounded(
    field: &str,
    raw: Option<&str>,
    default: u32,
    min: u32,
    max: u32,
    errors: &mut Vec<FieldError>,
) -> u32 {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => default,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= i64::from(min) && n <= i64::from(max) => n as u32,
            _ => {
                errors.push(
                    FieldError::out_of_range(field, i64::from(min), i64::from(max))
                        .from_source("query"),
                );
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_outside_the_bounds_are_refused() {
        for bad in ["0", "1001", "-1", "ten", "1.5"] {
            let e = PageRequest::parse(Some(bad), None, 100, 1000).unwrap_err();
            assert_eq!(e[0].field, "page[size]", "{bad}");
            assert_eq!(e[0].reason, "must be an integer between 1 and 1000");
        }
        assert_eq!(
            PageRequest::parse(Some("1000"), Some("3"), 100, 1000).unwrap(),
            PageRequest {
                size: 1000,
                number: 3
            }
        );
    }

    #[test]
    fn defaults_apply_to_missing_and_empty_values() {
        let p = PageRequest::parse(Some(""), None, 100, 1000).unwrap();
        assert_eq!((p.size, p.number, p.offset()), (100, 1, 0));
        let p = PageRequest::parse(Some("10"), Some("4"), 100, 1000).unwrap();
        assert_eq!(p.offset(), 30);
    }

    #[test]
    fn both_parameters_are_reported_together() {
        let e = PageRequest::parse(Some("0"), Some("0"), 100, 1000).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].field, "page[number]");
    }
}
