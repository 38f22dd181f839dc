//! Reading `resetgate audit export`: one JSON object per line with `seq`, `at`,
//! `kind`, `subject`, `data`, `prev_hash` and `hash`.
//!
//! A `reset.started` record's `data` holds the decision the start response does
//! not show: `score`, `level`, `reasons` (`{code, weight, detail}`, highest weight
//! first) and the `signals` it was computed from.

use serde_json::Value;

/// Every record of an export, in order; panics on a line that is not JSON.
pub fn records(export: &str) -> Vec<Value> {
    export
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("audit export line is not JSON ({err}): {line}"))
        })
        .collect()
}

/// The `data` of the `reset.started` record of flow `flow_id`.
pub fn reset_started<'a>(records: &'a [Value], flow_id: &str) -> &'a Value {
    records
        .iter()
        .find(|record| record["kind"] == "reset.started" && record["data"]["flow_id"] == flow_id)
        .map_or_else(
            || {
                panic!(
                    "no reset.started record for flow {flow_id} among {} records",
                    records.len()
                )
            },
            |record| &record["data"],
        )
}

/// `(code, weight)` of every reason in a decision's `data`, in recorded order.
pub fn reasons(data: &Value) -> Vec<(String, u64)> {
    data["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("reasons is not an array: {data}"))
        .iter()
        .map(|reason| {
            let code = reason["code"]
                .as_str()
                .unwrap_or_else(|| panic!("a reason without a code: {reason}"));
            let weight = reason["weight"]
                .as_u64()
                .unwrap_or_else(|| panic!("a reason without a weight: {reason}"));
            (code.to_owned(), weight)
        })
        .collect()
}

/// The `detail` of reason `code` in a decision's `data`.
pub fn reason_detail<'a>(data: &'a Value, code: &str) -> &'a str {
    data["reasons"]
        .as_array()
        .and_then(|reasons| reasons.iter().find(|reason| reason["code"] == code))
        .and_then(|reason| reason["detail"].as_str())
        .unwrap_or_else(|| panic!("no reason {code:?} with a detail in {data}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_flows_decision_and_its_reasons() {
        let export = concat!(
            r#"{"seq":1,"kind":"login.succeeded","subject":"ann","data":{}}"#,
            "\n",
            r#"{"seq":2,"kind":"reset.started","subject":"ann","data":{"flow_id":"f1","#,
            r#""level":"low","reasons":[{"code":"new_device","weight":15,"detail":"d"}]}}"#,
            "\n\n"
        );
        let all = records(export);
        assert_eq!(all.len(), 2);
        let data = reset_started(&all, "f1");
        assert_eq!(data["level"], "low");
        assert_eq!(reasons(data), [("new_device".to_owned(), 15)]);
        assert_eq!(reason_detail(data, "new_device"), "d");
    }
}
