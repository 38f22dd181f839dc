//! The attempts CSV: the project's own format, one [`Attempt`] per row, in time order.
//!
//! ```text
//! index,timestamp,kind,user,ip,country,region,city,lat,lon,accuracy_km,asn,vpn,tor,hosting,residential_proxy,public_proxy,user_agent,device_id,rtt_ms,success,label
//! 0,2026-03-01T08:15:00Z,login,anna.schmidt,84.130.7.21,DE,Berlin,Berlin,52.52,13.405,10.0,3320,0,0,0,0,0,"Mozilla/5.0 (…)",3f9c0d2e8a71b645,31,1,legit
//! ```
//!
//! - `timestamp`: RFC 3339 (written in UTC with `Z`, whole seconds; any offset
//!   and fractional seconds are read, the fraction is dropped).
//! - `kind`: `login`, `reset` or `contact_change`; `label`: `legit`,
//!   `targeted_takeover`, `naive_takeover`, `stuffing`, `spraying`, `sim_swap`.
//! - The five anonymiser flags and `success`: `0` or `1`.
//! - An empty field is "unknown" (`None`): the geo columns, `asn`, `device_id`
//!   (no cookie presented), `rtt_ms`. `user_agent` may be empty (none sent).
//!
//! Columns are matched by header name, so their order may change; the writer
//! uses the order above.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use csv::StringRecord;
use jiff::Timestamp;
use risk::Anonymous;
use serde::{Deserialize, Serialize};

use super::{Attempt, Error, Result, deserialize_error, field, parse_ip, text};

/// The columns, in the order the writer uses.
pub const HEADER: [&str; 22] = [
    "index",
    "timestamp",
    "kind",
    "user",
    "ip",
    "country",
    "region",
    "city",
    "lat",
    "lon",
    "accuracy_km",
    "asn",
    "vpn",
    "tor",
    "hosting",
    "residential_proxy",
    "public_proxy",
    "user_agent",
    "device_id",
    "rtt_ms",
    "success",
    "label",
];

/// [`HEADER`] as one line.
pub const HEADER_LINE: &str = "index,timestamp,kind,user,ip,country,region,city,lat,lon,\
     accuracy_km,asn,vpn,tor,hosting,residential_proxy,public_proxy,user_agent,device_id,rtt_ms,\
     success,label";

/// One row as text, borrowed from the reader's record buffer.
#[derive(Deserialize, Serialize)]
struct Row<'a> {
    index: u64,
    timestamp: &'a str,
    kind: &'a str,
    user: &'a str,
    ip: &'a str,
    #[serde(borrow)]
    country: Option<&'a str>,
    #[serde(borrow)]
    region: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
    lat: Option<f64>,
    lon: Option<f64>,
    accuracy_km: Option<f64>,
    asn: Option<u32>,
    vpn: &'a str,
    tor: &'a str,
    hosting: &'a str,
    residential_proxy: &'a str,
    public_proxy: &'a str,
    user_agent: &'a str,
    #[serde(borrow)]
    device_id: Option<&'a str>,
    rtt_ms: Option<u32>,
    success: &'a str,
    label: &'a str,
}

/// Converts one record (at `line`) into an attempt.
pub(super) fn parse(record: &StringRecord, headers: &StringRecord, line: u64) -> Result<Attempt> {
    let row: Row<'_> = record
        .deserialize(Some(headers))
        .map_err(|err| deserialize_error(&err, headers, line))?;
    let at = row
        .timestamp
        .trim()
        .parse::<Timestamp>()
        .map_err(|err| field(line, "timestamp", format!("{:?}: {err}", row.timestamp)))?
        .as_second();
    let flag = |column: &str, value: &str| match value.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(field(line, column, format!("{other:?} is not 0 or 1"))),
    };
    let coordinate = |column: &str, value: Option<f64>, limit: f64| match value {
        Some(v) if !(-limit..=limit).contains(&v) => Err(field(
            line,
            column,
            format!("{v} is outside -{limit}..={limit}"),
        )),
        _ => Ok(value),
    };
    let accuracy_km = match row.accuracy_km {
        Some(v) if !(v >= 0.0 && v.is_finite()) => {
            return Err(field(line, "accuracy_km", format!("{v} is not a distance")));
        }
        other => other,
    };
    Ok(Attempt {
        index: row.index,
        at,
        kind: row
            .kind
            .trim()
            .parse()
            .map_err(|e: String| field(line, "kind", e))?,
        user: row.user.to_owned(),
        ip: parse_ip(row.ip, line, "ip")?,
        country: text(row.country),
        region: text(row.region),
        city: text(row.city),
        lat: coordinate("lat", row.lat, 90.0)?,
        lon: coordinate("lon", row.lon, 180.0)?,
        accuracy_km,
        asn: row.asn,
        anonymous: Anonymous {
            vpn: flag("vpn", row.vpn)?,
            tor: flag("tor", row.tor)?,
            hosting: flag("hosting", row.hosting)?,
            residential_proxy: flag("residential_proxy", row.residential_proxy)?,
            public_proxy: flag("public_proxy", row.public_proxy)?,
        },
        user_agent: row.user_agent.to_owned(),
        device_id: text(row.device_id),
        rtt_ms: row.rtt_ms,
        success: flag("success", row.success)?,
        label: row
            .label
            .trim()
            .parse()
            .map_err(|e: String| field(line, "label", e))?,
    })
}

/// Writes attempts as an attempts CSV: the header at once, then one row per
/// [`AttemptWriter::write`]. Buffer the output (`create` does).
pub struct AttemptWriter<W: io::Write> {
    csv: csv::Writer<W>,
    timestamp: String,
}

impl AttemptWriter<BufWriter<File>> {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::new(BufWriter::with_capacity(1 << 16, file))
    }
}

impl<W: io::Write> AttemptWriter<W> {
    /// Writes the header to `output`.
    pub fn new(output: W) -> Result<Self> {
        let mut csv = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(output);
        csv.write_record(HEADER).map_err(|e| write_error(&e))?;
        Ok(Self {
            csv,
            timestamp: String::with_capacity(32),
        })
    }

    /// Writes one attempt.
    pub fn write(&mut self, attempt: &Attempt) -> Result<()> {
        use std::fmt::Write as _;

        let at = Timestamp::from_second(attempt.at)
            .map_err(|err| Error::Write(format!("attempt {}: {err}", attempt.index)))?;
        self.timestamp.clear();
        write!(self.timestamp, "{at}").map_err(|err| Error::Write(err.to_string()))?;
        let ip = attempt.ip.to_string();
        let flag = |on: bool| if on { "1" } else { "0" };
        let a = &attempt.anonymous;
        let row = Row {
            index: attempt.index,
            timestamp: &self.timestamp,
            kind: attempt.kind.as_str(),
            user: &attempt.user,
            ip: &ip,
            country: attempt.country.as_deref(),
            region: attempt.region.as_deref(),
            city: attempt.city.as_deref(),
            lat: attempt.lat,
            lon: attempt.lon,
            accuracy_km: attempt.accuracy_km,
            asn: attempt.asn,
            vpn: flag(a.vpn),
            tor: flag(a.tor),
            hosting: flag(a.hosting),
            residential_proxy: flag(a.residential_proxy),
            public_proxy: flag(a.public_proxy),
            user_agent: &attempt.user_agent,
            device_id: attempt.device_id.as_deref(),
            rtt_ms: attempt.rtt_ms,
            success: flag(attempt.success),
            label: attempt.label.as_str(),
        };
        self.csv.serialize(row).map_err(|e| write_error(&e))
    }

    /// Flushes buffered rows to the output.
    pub fn flush(&mut self) -> Result<()> {
        self.csv
            .flush()
            .map_err(|err| Error::Write(err.to_string()))
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> Result<W> {
        self.csv
            .into_inner()
            .map_err(|err| Error::Write(err.error().to_string()))
    }
}

fn write_error(err: &csv::Error) -> Error {
    Error::Write(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::{AttemptReader, Format, Kind, Label};
    use super::*;

    const GOOD: &str = "\
index,timestamp,kind,user,ip,country,region,city,lat,lon,accuracy_km,asn,vpn,tor,hosting,residential_proxy,public_proxy,user_agent,device_id,rtt_ms,success,label
0,2026-03-01T08:15:00Z,login,anna,84.130.7.21,DE,Berlin,Berlin,52.52,13.405,10,3320,0,0,0,0,0,\"Mozilla/5.0 (X11, Linux)\",3f9c0d2e8a71b645,31,1,legit
1,2026-03-01T09:15:00+01:00,contact_change,bob,2001:db8::1,,,,,,,,1,0,1,0,0,,,,0,sim_swap
";

    fn read(csv: &str) -> Vec<Result<Attempt>> {
        let reader = AttemptReader::new(csv.as_bytes()).unwrap();
        assert_eq!(reader.format(), Format::Attempts);
        reader.collect()
    }

    #[test]
    fn reads_rows_with_and_without_optional_fields() {
        let rows: Vec<Attempt> = read(GOOD).into_iter().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        let anna = &rows[0];
        assert_eq!(
            (anna.index, anna.at, anna.kind),
            (0, 1_772_352_900, Kind::Login)
        );
        assert_eq!(anna.city.as_deref(), Some("Berlin"));
        assert_eq!(
            (anna.lat, anna.accuracy_km, anna.asn),
            (Some(52.52), Some(10.0), Some(3320))
        );
        assert_eq!(anna.user_agent, "Mozilla/5.0 (X11, Linux)");
        assert_eq!(anna.device_id.as_deref(), Some("3f9c0d2e8a71b645"));
        assert!(anna.success && !anna.anonymous.any());
        let bob = &rows[1];
        assert_eq!(bob.at, anna.at, "an offset is converted to UTC");
        assert_eq!((bob.kind, bob.label), (Kind::ContactChange, Label::SimSwap));
        assert_eq!(bob.ip, "2001:db8::1".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(
            (bob.country.as_ref(), bob.lat, bob.asn, bob.rtt_ms),
            (None, None, None, None)
        );
        assert!(bob.anonymous.vpn && bob.anonymous.hosting && !bob.anonymous.tor);
        assert_eq!(
            (bob.user_agent.as_str(), bob.device_id.as_ref()),
            ("", None)
        );
    }

    #[test]
    fn writing_then_reading_gives_the_same_attempts() {
        let rows: Vec<Attempt> = read(GOOD).into_iter().map(Result::unwrap).collect();
        let mut writer = AttemptWriter::new(Vec::new()).unwrap();
        for row in &rows {
            writer.write(row).unwrap();
        }
        let written = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert!(
            written.starts_with(&format!("{HEADER_LINE}\n")),
            "{written}"
        );
        assert!(written.contains(",2026-03-01T08:15:00Z,"), "{written}");
        let again: Vec<Attempt> = read(&written).into_iter().map(Result::unwrap).collect();
        assert_eq!(again, rows);
    }

    #[test]
    fn a_bad_field_names_its_line_and_column_and_the_next_row_still_reads() {
        let bad = [
            (
                "0,2026-03-01T08:15:00Z,login,a,300.1.1.1",
                "line 2, column ip:",
            ),
            (
                "0,2026-03-01 08:15,login,a,10.0.0.1",
                "line 2, column timestamp:",
            ),
            (
                "0,2026-03-01T08:15:00Z,logon,a,10.0.0.1",
                "line 2, column kind: unknown kind",
            ),
            (
                "x,2026-03-01T08:15:00Z,login,a,10.0.0.1",
                "line 2, column index:",
            ),
        ];
        for (start, expected) in bad {
            let good_rest = ",DE,,,52.5,13.4,10,3320,0,0,0,0,0,ua,,12,1,legit";
            let csv = format!(
                "{HEADER_LINE}\n{start}{good_rest}\n1,2026-03-01T08:16:00Z,login,a,10.0.0.1{good_rest}\n"
            );
            let rows = read(&csv);
            let err = rows[0].as_ref().unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{err} should start with {expected}"
            );
            assert_eq!(rows[1].as_ref().unwrap().index, 1);
        }
        let fields = [
            (
                "52.5,13.4,10,3320,2,0",
                "line 2, column vpn: \"2\" is not 0 or 1",
            ),
            ("95,13.4,10,3320,0,0", "line 2, column lat: 95 is outside"),
            ("52.5,13.4,10,AS3320,0,0", "line 2, column asn:"),
        ];
        for (middle, expected) in fields {
            let csv = format!(
                "{HEADER_LINE}\n0,2026-03-01T08:15:00Z,login,a,10.0.0.1,DE,,,{middle},0,0,0,ua,,12,1,legit\n"
            );
            let err = read(&csv)[0].as_ref().unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{err} should start with {expected}"
            );
        }
        let short = format!("{HEADER_LINE}\n0,2026-03-01T08:15:00Z,login\n");
        let err = read(&short)[0].as_ref().unwrap_err().to_string();
        assert_eq!(err, "line 2: 3 fields, but the header has 22");
    }

    #[test]
    fn a_header_without_a_column_is_refused() {
        let csv = HEADER_LINE.replace(",rtt_ms", "");
        let err = AttemptReader::new(csv.as_bytes())
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "line 1: the header has no column \"rtt_ms\"");
        let err = AttemptReader::new("a,b\n1,2\n".as_bytes())
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("line 1: not an attempts CSV"), "{err}");
    }
}
