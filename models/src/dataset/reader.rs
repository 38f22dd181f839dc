//! Opening a file in either format and streaming its rows: the header picks
//! the format ([`Format::sniff`]), then one reused record buffer is converted
//! row by row by [`super::attempts`] or [`super::rba`]; and the helpers both
//! converters share to report a bad field by line and column.

use std::fs::File;
use std::io::{self, BufReader};
use std::net::IpAddr;
use std::path::Path;

use csv::StringRecord;

use super::{Attempt, Error, Result, attempts, rba};

/// Which CSV format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The project's attempts CSV.
    Attempts,
    /// The RBA dataset of Wiefling et al.
    Rba,
}

impl Format {
    /// The format a header belongs to, checking that every column it needs is there.
    pub fn sniff(headers: &StringRecord) -> Result<Self> {
        let has = |name: &str| headers.iter().any(|h| h == name);
        let (format, needed): (Self, &[&str]) = if has(rba::TIMESTAMP) {
            (Self::Rba, rba::REQUIRED)
        } else if has("timestamp") && has("label") {
            (Self::Attempts, &attempts::HEADER)
        } else {
            return Err(Error::UnknownFormat {
                found: headers.iter().collect::<Vec<_>>().join(","),
                expected: attempts::HEADER_LINE,
            });
        };
        match needed.iter().find(|name| !has(name)) {
            Some(missing) => Err(Error::Row {
                line: 1,
                message: format!("the header has no column {missing:?}"),
            }),
            None => Ok(format),
        }
    }
}

/// Opens `path` and reads attempts from it in either format (see [`Format::sniff`]).
pub fn read_any(path: impl AsRef<Path>) -> Result<AttemptReader<BufReader<File>>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    AttemptReader::new(BufReader::with_capacity(1 << 16, file))
}

/// A streaming reader of attempts in either format: an iterator of rows, each
/// an [`Attempt`] or the error that row has. A bad row does not stop the rest;
/// a read failure (I/O) ends the iteration after reporting it.
pub struct AttemptReader<R> {
    csv: csv::Reader<R>,
    headers: StringRecord,
    record: StringRecord,
    format: Format,
    rows: u64,
    done: bool,
}

impl<R: io::Read> AttemptReader<R> {
    /// Reads the header from `input` and picks the format.
    pub fn new(input: R) -> Result<Self> {
        let mut csv = csv::ReaderBuilder::new().from_reader(input);
        let headers = csv.headers().map_err(|err| row_error(&err))?.clone();
        let format = Format::sniff(&headers)?;
        Ok(Self {
            csv,
            headers,
            record: StringRecord::new(),
            format,
            rows: 0,
            done: false,
        })
    }

    /// The format picked from the header.
    pub fn format(&self) -> Format {
        self.format
    }
}

impl<R: io::Read> Iterator for AttemptReader<R> {
    type Item = Result<Attempt>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.csv.read_record(&mut self.record) {
            Ok(false) => None,
            Err(err) => {
                self.done = matches!(err.kind(), csv::ErrorKind::Io(_));
                Some(Err(row_error(&err)))
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                let row = self.rows;
                self.rows += 1;
                Some(match self.format {
                    Format::Attempts => attempts::parse(&self.record, &self.headers, line),
                    Format::Rba => rba::parse(&self.record, &self.headers, line, row),
                })
            }
        }
    }
}

/// A CSV error as a line-numbered [`Error`], naming the column when serde says which.
pub(super) fn row_error(err: &csv::Error) -> Error {
    let line = err.position().map_or(0, csv::Position::line);
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not UTF-8", err.field() + 1),
        csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
        _ => err.to_string(),
    };
    Error::Row { line, message }
}

/// A deserialisation error of one row, naming the column serde failed on.
pub(super) fn deserialize_error(err: &csv::Error, headers: &StringRecord, line: u64) -> Error {
    if let csv::ErrorKind::Deserialize { err: de, .. } = err.kind()
        && let Some(column) = de
            .field()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| headers.get(i))
    {
        return Error::Field {
            line,
            column: column.to_owned(),
            message: de.kind().to_string(),
        };
    }
    match row_error(err) {
        Error::Row { message, .. } => Error::Row { line, message },
        other => other,
    }
}

/// A field error at `line`, `column`.
pub(super) fn field(line: u64, column: &str, message: impl Into<String>) -> Error {
    Error::Field {
        line,
        column: column.to_owned(),
        message: message.into(),
    }
}

/// `value` as an IP address.
pub(super) fn parse_ip(value: &str, line: u64, column: &str) -> Result<IpAddr> {
    value
        .trim()
        .parse()
        .map_err(|_| field(line, column, format!("{value:?} is not an IP address")))
}

/// `value` as an owned string, or `None` when empty (or `-`, the RBA dataset's blank).
pub(super) fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "-")
        .map(str::to_owned)
}
