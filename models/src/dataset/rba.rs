//! The RBA dataset CSV of Wiefling et al. ("Pump Up Password Security!
//! Evaluating and Enhancing Risk-Based Authentication on a Real-World Large-Scale
//! Online Service", ACM TOPS 2022, doi:10.1145/3546069): 31.3 million sign-ins
//! synthesised from a year of a Norwegian single sign-on service, read only
//! (<https://github.com/das-group/rba-dataset>, CC BY 4.0).
//!
//! ```text
//! index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,Region,City,ASN,User Agent String,Browser Name and Version,OS Name and Version,Device Type,Login Successful,Is Attack IP,Is Account Takeover
//! 0,2020-02-03 12:43:30.772,-4324475583306591935,,10.0.65.171,NO,-,-,29695,"Mozilla/5.0 (…)",Chrome 70.0.3538,iOS 13.4,mobile,False,False,False
//! ```
//!
//! How the columns become an [`Attempt`]:
//!
//! | column | field |
//! |---|---|
//! | `index` | `index` (absent: the row's position) |
//! | `Login Timestamp` | `at`: `YYYY-MM-DD HH:MM:SS[.fff]`, taken as UTC (also accepted: an RFC 3339 time with an offset, or Unix seconds or milliseconds — the dataset's README calls it a 64-bit timestamp) |
//! | `User ID` | `user`, as is |
//! | `Round-Trip Time [ms]` (or `Round-Trip Time (RTT) [ms]`; optional) | `rtt_ms`, rounded (empty = none) |
//! | `IP Address` | `ip` (invalid = an error naming the line) |
//! | `Country`, `Region`, `City` | as is; empty or `-` = none |
//! | `ASN` | `asn` |
//! | `User Agent String` | `user_agent` |
//! | `Login Successful` | `success` |
//! | `Is Account Takeover` / `Is Attack IP` | `label`: `targeted_takeover` (the dataset's takeovers knew the password and looked like the owner), else `stuffing`, else `legit` |
//!
//! Every row is a `login`; the dataset has no coordinates, device cookie or
//! anonymiser flags (all `None`/false). The browser, OS and device-type columns
//! are derived from the user agent in the dataset, so they are not read: the
//! features parse the user agent the same way for both formats. Booleans are
//! `True`/`False` (any case) or `1`/`0`.

use csv::StringRecord;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use risk::Anonymous;
use serde::Deserialize;

use super::{Attempt, Kind, Label, Result, deserialize_error, field, parse_ip, text};

/// The column that identifies the format.
pub const TIMESTAMP: &str = "Login Timestamp";

/// The columns read (the others may be absent).
pub const REQUIRED: &[&str] = &[
    TIMESTAMP,
    "User ID",
    "IP Address",
    "Country",
    "Region",
    "City",
    "ASN",
    "User Agent String",
    "Login Successful",
    "Is Attack IP",
    "Is Account Takeover",
];

/// One row as text, borrowed from the reader's record buffer.
#[derive(Deserialize)]
struct Row<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(rename = "Login Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "User ID")]
    user: &'a str,
    #[serde(
        rename = "Round-Trip Time [ms]",
        alias = "Round-Trip Time (RTT) [ms]",
        default,
        borrow
    )]
    rtt: Option<&'a str>,
    #[serde(rename = "IP Address")]
    ip: &'a str,
    #[serde(rename = "Country", borrow)]
    country: Option<&'a str>,
    #[serde(rename = "Region", borrow)]
    region: Option<&'a str>,
    #[serde(rename = "City", borrow)]
    city: Option<&'a str>,
    #[serde(rename = "ASN", borrow)]
    asn: Option<&'a str>,
    #[serde(rename = "User Agent String")]
    user_agent: &'a str,
    #[serde(rename = "Login Successful")]
    success: &'a str,
    #[serde(rename = "Is Attack IP")]
    attack_ip: &'a str,
    #[serde(rename = "Is Account Takeover")]
    takeover: &'a str,
}

/// Converts one record (at `line`, the `row`-th data row) into an attempt.
pub(super) fn parse(
    record: &StringRecord,
    headers: &StringRecord,
    line: u64,
    row_number: u64,
) -> Result<Attempt> {
    let row: Row<'_> = record
        .deserialize(Some(headers))
        .map_err(|err| deserialize_error(&err, headers, line))?;
    let flag = |column: &str, value: &str| {
        let value = value.trim();
        if value.eq_ignore_ascii_case("true") || value == "1" {
            Ok(true)
        } else if value.eq_ignore_ascii_case("false") || value == "0" {
            Ok(false)
        } else {
            Err(field(
                line,
                column,
                format!("{value:?} is not True or False"),
            ))
        }
    };
    let label = if flag("Is Account Takeover", row.takeover)? {
        Label::TargetedTakeover
    } else if flag("Is Attack IP", row.attack_ip)? {
        Label::Stuffing
    } else {
        Label::Legit
    };
    let asn = match text(row.asn) {
        None => None,
        Some(asn) => Some(
            asn.parse::<u32>()
                .map_err(|_| field(line, "ASN", format!("{asn:?} is not an AS number")))?,
        ),
    };
    Ok(Attempt {
        index: row.index.unwrap_or(row_number),
        at: timestamp(row.timestamp).ok_or_else(|| {
            field(
                line,
                TIMESTAMP,
                format!(
                    "{:?} is not a time like 2020-02-03 12:43:30.772",
                    row.timestamp
                ),
            )
        })?,
        kind: Kind::Login,
        user: row.user.trim().to_owned(),
        ip: parse_ip(row.ip, line, "IP Address")?,
        country: text(row.country),
        region: text(row.region),
        city: text(row.city),
        lat: None,
        lon: None,
        accuracy_km: None,
        asn,
        anonymous: Anonymous::default(),
        user_agent: row.user_agent.to_owned(),
        device_id: None,
        rtt_ms: rtt(row.rtt).map_err(|message| field(line, "Round-Trip Time [ms]", message))?,
        success: flag("Login Successful", row.success)?,
        label,
    })
}

/// `2020-02-03 12:43:30.772` (UTC, fraction optional), an RFC 3339 time, or
/// Unix seconds or milliseconds (12 digits or more), in Unix seconds.
fn timestamp(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(number) = value.parse::<i64>() {
        let ms = number.abs() >= 100_000_000_000;
        return Some(if ms { number.div_euclid(1000) } else { number });
    }
    if let Ok(at) = value.parse::<Timestamp>() {
        return Some(at.as_second());
    }
    let civil = value.parse::<DateTime>().ok()?;
    Offset::UTC
        .to_timestamp(civil)
        .ok()
        .map(Timestamp::as_second)
}

/// The round-trip time in whole milliseconds (the dataset writes integers or decimals).
fn rtt(value: Option<&str>) -> Result<Option<u32>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty() && *v != "-") else {
        return Ok(None);
    };
    match value.parse::<f64>() {
        Ok(ms) if (0.0..=f64::from(u32::MAX)).contains(&ms) => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
            Ok(Some(ms.round() as u32))
        }
        _ => Err(format!("{value:?} is not a duration in ms")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AttemptReader, Format};
    use super::*;

    const HEADER: &str = "index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,\
        Region,City,ASN,User Agent String,Browser Name and Version,OS Name and Version,Device Type,\
        Login Successful,Is Attack IP,Is Account Takeover";
    const UA: &str = "\"Mozilla/5.0  (iPhone; CPU iPhone OS 13_4 like Mac OS X) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/70.0.3538.110 Mobile Safari/537.36\"";
    const NO: &str = "False,False,False";

    /// Rows of (index, timestamp, RTT, IP, the three flags), with a UTF-8 BOM.
    fn read(rows: &[[&str; 5]]) -> Vec<Result<Attempt>> {
        let rows: Vec<String> = rows
            .iter()
            .map(|[index, at, rtt, ip, flags]| {
                format!(
                    "{index},{at},-4324475583306591935,{rtt},{ip},NO,-,-,29695,{UA},\
                     Chrome Mobile 70.0,iOS 13.4,mobile,{flags}"
                )
            })
            .collect();
        let csv = format!("\u{feff}{HEADER}\n{}\n", rows.join("\n"));
        let reader = AttemptReader::new(csv.as_bytes()).unwrap();
        assert_eq!(reader.format(), Format::Rba);
        reader.collect()
    }

    #[test]
    fn maps_the_columns_and_the_labels() {
        let rows: Vec<Attempt> = read(&[
            ["0", "2020-02-03 12:43:30.772", "", "10.0.65.171", NO],
            [
                "1",
                "2020-02-03 12:43:43",
                "615.0",
                "10.0.65.172",
                "True,TRUE,false",
            ],
            [
                "2",
                "2020-02-03T12:44:00Z",
                "12",
                "2001:db8::5",
                "True,False,True",
            ],
            ["3", "1580733810772", "", "10.0.0.1", NO],
            ["4", "1580733810", "", "10.0.0.1", NO],
        ])
        .into_iter()
        .map(Result::unwrap)
        .collect();
        let first = &rows[0];
        assert_eq!(first.at, 1_580_733_810, "2020-02-03 12:43:30 UTC");
        assert_eq!(first.user, "-4324475583306591935");
        assert_eq!(first.kind, Kind::Login);
        assert_eq!((first.label, first.success), (Label::Legit, false));
        assert_eq!(first.country.as_deref(), Some("NO"));
        assert_eq!((&first.region, &first.city), (&None, &None), "- is none");
        assert_eq!(
            (first.asn, first.rtt_ms, first.lat),
            (Some(29695), None, None)
        );
        assert_eq!(first.device_id, None);
        assert!(first.user_agent.contains("KHTML, like Gecko"));
        assert!(!first.anonymous.any());
        assert_eq!((rows[1].at, rows[1].rtt_ms), (1_580_733_823, Some(615)));
        assert_eq!((rows[1].label, rows[1].success), (Label::Stuffing, true));
        assert_eq!(rows[2].label, Label::TargetedTakeover);
        assert_eq!(rows[2].ip.to_string(), "2001:db8::5");
        assert_eq!(
            (rows[3].at, rows[4].at),
            (first.at, first.at),
            "Unix ms and s"
        );
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        let at = "2020-02-03 12:43:30";
        let cases = [
            (
                ["1", at, "", "10.0.0.300", NO],
                "line 3, column IP Address: \"10.0.0.300\" is not an IP address",
            ),
            (
                ["1", "03/02/2020 12:43", "", "10.0.0.1", NO],
                "line 3, column Login Timestamp:",
            ),
            (
                ["1", at, "fast", "10.0.0.1", NO],
                "line 3, column Round-Trip Time [ms]:",
            ),
            (
                ["1", at, "", "10.0.0.1", "False,maybe,False"],
                "line 3, column Is Attack IP:",
            ),
            (["x", at, "", "10.0.0.1", NO], "line 3, column index:"),
        ];
        for (bad, expected) in cases {
            let rows = read(&[
                ["0", at, "", "10.0.0.1", NO],
                bad,
                ["2", at, "", "10.0.0.1", NO],
            ]);
            assert!(rows[0].is_ok() && rows[2].is_ok());
            let err = rows[1].as_ref().unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{err} should start with {expected}"
            );
        }
    }

    #[test]
    fn the_index_and_rtt_columns_are_optional() {
        let header = HEADER
            .replace("index,", "")
            .replace("Round-Trip Time [ms],", "");
        let row = "2020-02-03 12:43:30,7,10.0.0.1,US,,,1,ua,,,,False,False,False";
        let csv = format!("{header}\n{row}\n");
        let rows: Vec<Attempt> = AttemptReader::new(csv.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!((rows[0].index, rows[0].user.as_str()), (0, "7"));
        assert_eq!(rows[0].rtt_ms, None);
    }
}
