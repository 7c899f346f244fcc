//! Parsers for the gates the daemon decides before any guest code runs: call rates such as
//! `10/min`, and long periods such as `30d` for token expiry.

use std::time::Duration;

/// A rate limit: at most `count` calls per `per` (a sliding token bucket refilled evenly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls allowed per period (also the burst size).
    pub count: u64,
    /// The period.
    pub per: Duration,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            86_400 => "day",
            _ => return write!(f, "{}/{}s", self.count, self.per.as_secs()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A rate or period that ward cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateParseError {
    /// Not `N/UNIT`.
    #[error(
        "invalid rate '{0}': write calls per period, for example 10/min, 5/s, 100/h or 1000/day"
    )]
    Rate(String),
    /// Not a number with a unit among s, m, h, d.
    #[error("invalid period '{0}': write a number with a unit, for example 30d, 12h, 15m or 90s")]
    Period(String),
}

/// Parses a rate such as `10/min`, `5/s`, `100/h` or `1000/day`. Zero calls is refused: a token
/// that may never run anything is revoked, not rate-limited.
pub fn parse_rate(text: &str) -> Result<Rate, GateParseError> {
    let err = || GateParseError::Rate(text.to_owned());
    let (n, unit) = text.trim().split_once('/').ok_or_else(err)?;
    let n = n.trim();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let count: u64 = n.parse().map_err(|_| err())?;
    if count == 0 {
        return Err(err());
    }
    let secs = match unit.trim() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        "d" | "day" => 86_400,
        _ => return Err(err()),
    };
    Ok(Rate {
        count,
        per: Duration::from_secs(secs),
    })
}

/// Parses a period such as `30d`, `12h`, `15m` or `90s` (a unit is required).
pub fn parse_period(text: &str) -> Result<Duration, GateParseError> {
    let err = || GateParseError::Period(text.to_owned());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    let secs = n.checked_mul(mult).ok_or_else(err)?;
    if secs == 0 {
        return Err(err());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_table() {
        let ok: &[(&str, u64, u64)] = &[
            ("10/min", 10, 60),
            ("5/s", 5, 1),
            ("100/h", 100, 3600),
            ("1000/day", 1000, 86_400),
            (" 3 / m ", 3, 60),
        ];
        for (text, count, secs) in ok {
            let r = parse_rate(text).unwrap();
            assert_eq!((r.count, r.per.as_secs()), (*count, *secs), "{text}");
        }
        for bad in ["", "10", "0/min", "-1/min", "10/week", "ten/min", "10/"] {
            assert_eq!(
                parse_rate(bad).unwrap_err().to_string(),
                format!(
                    "invalid rate '{bad}': write calls per period, for example 10/min, 5/s, 100/h or 1000/day"
                )
            );
        }
        assert_eq!(parse_rate("10/min").unwrap().to_string(), "10/min");
    }

    #[test]
    fn periods_table() {
        assert_eq!(parse_period("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(parse_period("12h").unwrap().as_secs(), 12 * 3600);
        assert_eq!(parse_period("90s").unwrap().as_secs(), 90);
        for bad in ["", "0d", "30", "30y", "d", "99999999999999999999d"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }
}
