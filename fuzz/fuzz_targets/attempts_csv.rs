//! The dataset reader (`models::dataset::AttemptReader`) on arbitrary bytes:
//! the project's attempts CSV and the public RBA dataset CSV, told apart by
//! the header.
//!
//! Properties: opening and reading every row never panics; an error names a
//! line; every attempt read has coordinates on the globe and a finite,
//! non-negative accuracy, and writing the attempts with `AttemptWriter` and
//! reading them back gives the same attempts (for either input format).
#![no_main]

use libfuzzer_sys::fuzz_target;
use models::dataset::{Attempt, AttemptReader, AttemptWriter, Error, Format};

/// Rows read per input: inputs are small, this only bounds the work.
const MAX_ROWS: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = AttemptReader::new(data) else {
        return;
    };
    let mut attempts = Vec::new();
    for row in reader.take(MAX_ROWS) {
        match row {
            Ok(attempt) => {
                check(&attempt);
                attempts.push(attempt);
            }
            Err(Error::Row { line, .. } | Error::Field { line, .. }) => {
                assert!(line >= 1 || data.is_empty(), "line {line}");
            }
            Err(other) => panic!("a row error that is not Row or Field: {other}"),
        }
    }
    round_trip(&attempts);
});

fn check(a: &Attempt) {
    assert!(a.lat.is_none_or(|v| (-90.0..=90.0).contains(&v)));
    assert!(a.lon.is_none_or(|v| (-180.0..=180.0).contains(&v)));
    assert!(a.accuracy_km.is_none_or(|v| v.is_finite() && v >= 0.0));
    for text in [&a.country, &a.region, &a.city, &a.device_id]
        .into_iter()
        .flatten()
    {
        assert!(!text.is_empty() && text.trim() == text && text != "-");
    }
}

fn round_trip(attempts: &[Attempt]) {
    let mut writer = AttemptWriter::new(Vec::new()).expect("the header writes");
    let mut written = Vec::new();
    for attempt in attempts {
        // Only a time outside jiff's range (year -9999..=9999) cannot be written;
        // the RBA format's Unix seconds can be anything.
        match writer.write(attempt) {
            Ok(()) => written.push(attempt),
            Err(Error::Write(message)) => {
                assert!(
                    jiff::Timestamp::from_second(attempt.at).is_err(),
                    "attempt {} not written: {message}",
                    attempt.index
                );
            }
            Err(other) => panic!("writing: {other}"),
        }
    }
    let bytes = writer.into_inner().expect("flushes to a Vec");
    let reader = AttemptReader::new(bytes.as_slice()).expect("written CSV opens");
    assert_eq!(reader.format(), Format::Attempts);
    let read: Vec<Attempt> = reader
        .map(|row| row.expect("a written row reads back"))
        .collect();
    assert_eq!(read.len(), written.len());
    for (back, original) in read.iter().zip(written) {
        assert_eq!(back, original, "written and read back");
    }
}
