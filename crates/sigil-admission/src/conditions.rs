//! Kyverno's `conditions` over a verified attestation's predicate: `any`/`all` blocks of
//! `key`/`operator`/`value`, with `{{ … }}` JMESPath variables in keys and values
//! (K:`pkg/engine/variables/evaluate.go`, `pkg/engine/variables/operator/*.go`,
//! `pkg/engine/variables/vars.go`).
//!
//! As Kyverno does for attestations, the JMESPath root is the statement's `predicate`
//! (so `{{ builder.id }}` reads the SLSA builder). Variables are substituted innermost first;
//! a string that is exactly one variable takes the value's JSON type (`"{{ x }}"` may be a
//! number or a list), otherwise the value is written into the string. A variable that
//! resolves to nothing is an error (Kyverno: `Unknown key`), never an empty string, so a
//! typo in a policy cannot make a condition pass by accident.
//!
//! Operators: `Equals`, `NotEquals`, `In`, `NotIn`, `AnyIn`, `AllIn`, `AnyNotIn`,
//! `AllNotIn`, `GreaterThan`, `GreaterThanOrEquals`, `LessThan`, `LessThanOrEquals` (numbers,
//! Go durations such as `168h`, or dotted versions), and the deprecated `Duration…` forms.
//! String comparisons use Kyverno's wildcards (`*`, `?`) in the *value*.
//! Kyverno functions available besides JMESPath's: `regex_match`, `time_since`,
//! `trim_prefix`, `to_upper`, `to_lower`, `split`, `equal_fold`, `truncate`. Another
//! function is an error (the condition fails, the image is refused).

use std::sync::LazyLock;

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Rcvar, Runtime, Variable};
use serde::Deserialize;
use serde_json::Value;

use crate::wildcard;

/// Why conditions could not be evaluated (Kyverno: `failed to check attestations: …`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(String);

/// One `any`/`all` block.
#[derive(Debug, Default, Deserialize)]
struct AnyAll {
    #[serde(default)]
    any: Vec<Condition>,
    #[serde(default)]
    all: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
struct Condition {
    #[serde(default)]
    key: Value,
    operator: String,
    #[serde(default)]
    value: Value,
}

/// Whether every block of `conditions` holds for `predicate`: in each block, one of `any`
/// (when given) and all of `all`.
pub fn evaluate(conditions: &[Value], predicate: &Value) -> Result<bool, ConditionError> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let data = Variable::from_serializable(predicate)
        .map(Rcvar::new)
        .map_err(|e| ConditionError(format!("predicate is not JSON data: {e}")))?;
    for block in conditions {
        let block: AnyAll = serde_json::from_value(block.clone())
            .map_err(|e| ConditionError(format!("invalid condition block: {e}")))?;
        if !block.any.is_empty() {
            let mut any = false;
            for c in &block.any {
                if check(c, &data)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        for c in &block.all {
            if !check(c, &data)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The operators [`evaluate`] knows.
const OPERATORS: &[&str] = &[
    "Equals",
    "Equal",
    "NotEquals",
    "NotEqual",
    "In",
    "AllIn",
    "NotIn",
    "AnyIn",
    "AnyNotIn",
    "AllNotIn",
    "GreaterThan",
    "GreaterThanOrEquals",
    "LessThan",
    "LessThanOrEquals",
    "DurationGreaterThan",
    "DurationGreaterThanOrEquals",
    "DurationLessThan",
    "DurationLessThanOrEquals",
];

/// Checks the shape of `conditions` when a policy is loaded: `any`/`all` blocks of
/// conditions with a known operator. Variables are only resolved at evaluation.
pub fn check_syntax(conditions: &[Value]) -> Result<(), ConditionError> {
    for (i, block) in conditions.iter().enumerate() {
        let block: AnyAll = serde_json::from_value(block.clone())
            .map_err(|e| ConditionError(format!("[{i}]: invalid condition block: {e}")))?;
        for c in block.any.iter().chain(block.all.iter()) {
            if !OPERATORS.contains(&c.operator.as_str()) {
                return Err(ConditionError(format!(
                    "[{i}]: unknown operator `{}`",
                    c.operator
                )));
            }
        }
    }
    Ok(())
}

fn check(c: &Condition, data: &Rcvar) -> Result<bool, ConditionError> {
    let key = substitute(&c.key, data)?;
    let value = substitute(&c.value, data)?;
    operate(&c.operator, &key, &value)
}

/// Kyverno's operators (names as in the CRD; the legacy lowercase spellings too).
fn operate(op: &str, key: &Value, value: &Value) -> Result<bool, ConditionError> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ordered = |want: &[std::cmp::Ordering]| compare(key, value).map(|o| want.contains(&o));
    let durations = |want: &[std::cmp::Ordering]| match (as_duration(key), as_duration(value)) {
        (Some(k), Some(v)) => Ok(want.contains(&k.total_cmp(&v))),
        _ => Err(ConditionError(format!(
            "operator {op} needs two durations, got `{}` and `{}`",
            text(key),
            text(value)
        ))),
    };
    match op {
        "Equals" | "Equal" => Ok(equals(key, value)),
        "NotEquals" | "NotEqual" => Ok(!equals(key, value)),
        "In" | "AllIn" => Ok(items(key).iter().all(|k| contained(k, value))),
        "NotIn" => Ok(!items(key).iter().all(|k| contained(k, value))),
        "AnyIn" => Ok(items(key).iter().any(|k| contained(k, value))),
        "AnyNotIn" => Ok(items(key).iter().any(|k| !contained(k, value))),
        "AllNotIn" => Ok(items(key).iter().all(|k| !contained(k, value))),
        "GreaterThan" => ordered(&[Greater]),
        "GreaterThanOrEquals" => ordered(&[Greater, Equal]),
        "LessThan" => ordered(&[Less]),
        "LessThanOrEquals" => ordered(&[Less, Equal]),
        "DurationGreaterThan" => durations(&[Greater]),
        "DurationGreaterThanOrEquals" => durations(&[Greater, Equal]),
        "DurationLessThan" => durations(&[Less]),
        "DurationLessThanOrEquals" => durations(&[Less, Equal]),
        other => Err(ConditionError(format!("unknown operator `{other}`"))),
    }
}

/// The elements a set operator looks at: a list's items, or the value itself.
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn contained(k: &Value, set: &Value) -> bool {
    items(set).iter().any(|v| equals(k, v))
}

/// Kyverno's `Equals`: strings by wildcard (the value is the pattern) or as durations,
/// numbers numerically (a numeric string counts), booleans, and other JSON deeply.
fn equals(key: &Value, value: &Value) -> bool {
    match (key, value) {
        (Value::String(k), Value::String(v)) => {
            wildcard::matches(v, k)
                || matches!((parse_duration(k), parse_duration(v)), (Some(a), Some(b)) if a == b)
        }
        (Value::Bool(k), Value::String(v)) | (Value::String(v), Value::Bool(k)) => {
            v.parse::<bool>().is_ok_and(|b| b == *k)
        }
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            matches!((as_number(key), as_number(value)), (Some(a), Some(b)) if a == b)
        }
        _ => key == value,
    }
}

fn compare(key: &Value, value: &Value) -> Result<std::cmp::Ordering, ConditionError> {
    if let (Some(a), Some(b)) = (as_number(key), as_number(value)) {
        return Ok(a.total_cmp(&b));
    }
    if let (Some(a), Some(b)) = (as_duration(key), as_duration(value)) {
        return Ok(a.total_cmp(&b));
    }
    if let (Some(a), Some(b)) = (as_version(key), as_version(value)) {
        return Ok(a.cmp(&b));
    }
    Err(ConditionError(format!(
        "`{}` and `{}` are not comparable (numbers, durations or versions)",
        text(key),
        text(value)
    )))
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Seconds: a Go duration string, or a number of seconds.
fn as_duration(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn as_version(v: &Value) -> Option<Vec<u64>> {
    let s = v.as_str()?.trim().trim_start_matches('v');
    let core = s.split(['-', '+']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

/// A Go `time.ParseDuration` string (`1h30m`, `-1.5s`, `300ms`), in seconds.
fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(n);
        let num: f64 = num.parse().ok()?;
        let u = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(u);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += num * scale;
        rest = after;
    }
    Some(if neg { -total } else { total })
}

/// Go's `Duration.String()` of `nanos` (`72h3m0.5s`, `1.5ms`, `0s`).
fn format_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let frac = |v: u128, digits: u32| {
        let unit = 10u128.pow(digits);
        let (whole, part) = (v / unit, v % unit);
        if part == 0 {
            whole.to_string()
        } else {
            let p = format!("{part:0width$}", width = digits as usize);
            format!("{whole}.{}", p.trim_end_matches('0'))
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", frac(n, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", frac(n, 6));
    }
    let secs_n = n % 60_000_000_000;
    let mins = (n / 60_000_000_000) % 60;
    let hours = n / 3_600_000_000_000;
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || mins > 0 {
        out.push_str(&format!("{mins}m"));
    }
    out.push_str(&format!("{}s", frac(secs_n, 9)));
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Substitutes every `{{ … }}` in `v` (strings inside lists and maps too).
fn substitute(v: &Value, data: &Rcvar) -> Result<Value, ConditionError> {
    match v {
        Value::String(s) => substitute_str(s, data),
        Value::Array(a) => a.iter().map(|x| substitute(x, data)).collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| Ok((k.clone(), substitute(x, data)?)))
            .collect::<Result<serde_json::Map<_, _>, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// At most this many substitutions in one string (nesting is shallow in real policies).
const MAX_SUBSTITUTIONS: usize = 64;

fn substitute_str(s: &str, data: &Rcvar) -> Result<Value, ConditionError> {
    let mut s = s.to_owned();
    for _ in 0..MAX_SUBSTITUTIONS {
        // The innermost variable: the last `{{` before the first `}}`.
        let Some(close) = s.find("}}") else {
            return Ok(Value::String(s));
        };
        let Some(open) = s.get(..close).and_then(|h| h.rfind("{{")) else {
            return Ok(Value::String(s));
        };
        let expr = s.get(open + 2..close).unwrap_or("").trim();
        let value = query(expr, data)?;
        let whole = open == 0 && close + 2 == s.len();
        if whole {
            return Ok(value);
        }
        s = format!(
            "{}{}{}",
            s.get(..open).unwrap_or(""),
            text(&value),
            s.get(close + 2..).unwrap_or("")
        );
    }
    Err(ConditionError(format!(
        "more than {MAX_SUBSTITUTIONS} variables in `{s}`"
    )))
}

fn query(expr: &str, data: &Rcvar) -> Result<Value, ConditionError> {
    let compiled = RUNTIME
        .compile(expr)
        .map_err(|e| ConditionError(format!("invalid JMESPath `{expr}`: {e}")))?;
    let found = compiled
        .search(data)
        .map_err(|e| ConditionError(format!("JMESPath `{expr}` failed: {e}")))?;
    if found.is_null() {
        return Err(ConditionError(format!(
            "variable `{{{{ {expr} }}}}` is not in the predicate"
        )));
    }
    serde_json::to_value(&*found)
        .map_err(|e| ConditionError(format!("JMESPath `{expr}` result: {e}")))
}

/// Argument `i` as text (arity is checked by each function's signature first).
fn arg_text(args: &[Rcvar], i: usize) -> String {
    match args.get(i).map(|a| &**a) {
        Some(Variable::String(s)) => s.clone(),
        Some(Variable::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut rt = Runtime::new();
    rt.register_builtin_functions();
    let string = || ArgumentType::String;
    let fail = |m: String| jmespath::JmespathError::new("", 0, jmespath::ErrorReason::Parse(m));
    rt.register_function(
        "regex_match",
        Box::new(CustomFunction::new(
            Signature::new(
                vec![
                    string(),
                    ArgumentType::Union(vec![string(), ArgumentType::Number]),
                ],
                None,
            ),
            Box::new(move |args, _| {
                let (p, t) = (arg_text(args, 0), arg_text(args, 1));
                let re = regex::Regex::new(&p)
                    .map_err(|e| fail(format!("regex_match: bad pattern `{p}`: {e}")))?;
                Ok(Rcvar::new(Variable::Bool(re.is_match(&t))))
            }),
        )),
    );
    rt.register_function(
        "time_since",
        Box::new(CustomFunction::new(
            Signature::new(vec![string(), string(), string()], None),
            Box::new(move |args, _| {
                let parse = |t: &str| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| fail(format!("time_since: `{t}` is not RFC 3339: {e}")))
                };
                let layout = arg_text(args, 0);
                if !layout.is_empty() {
                    return Err(fail(
                        "time_since: only the RFC 3339 layout ('') is supported".into(),
                    ));
                }
                let start = parse(&arg_text(args, 1))?;
                let end_s = arg_text(args, 2);
                let end = if end_s.is_empty() {
                    time::OffsetDateTime::now_utc()
                } else {
                    parse(&end_s)?
                };
                Ok(Rcvar::new(Variable::String(format_duration(
                    (end - start).whole_nanoseconds(),
                ))))
            }),
        )),
    );
    let unary = |rt: &mut Runtime, name: &str, f: fn(&str) -> String| {
        rt.register_function(
            name,
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::String], None),
                Box::new(move |args, _| Ok(Rcvar::new(Variable::String(f(&arg_text(args, 0)))))),
            )),
        );
    };
    unary(&mut rt, "to_upper", |x| x.to_uppercase());
    unary(&mut rt, "to_lower", |x| x.to_lowercase());
    let binary = |rt: &mut Runtime, name: &str, f: fn(&str, &str) -> Variable| {
        rt.register_function(
            name,
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::String, ArgumentType::String], None),
                Box::new(move |args, _| Ok(Rcvar::new(f(&arg_text(args, 0), &arg_text(args, 1))))),
            )),
        );
    };
    binary(&mut rt, "trim_prefix", |a, b| {
        Variable::String(a.strip_prefix(b).unwrap_or(a).to_owned())
    });
    binary(&mut rt, "equal_fold", |a, b| {
        Variable::Bool(a.to_lowercase() == b.to_lowercase())
    });
    binary(&mut rt, "split", |a, b| {
        Variable::Array(
            a.split(b)
                .map(|p| Rcvar::new(Variable::String(p.to_owned())))
                .collect(),
        )
    });
    rt.register_function(
        "truncate",
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::String, ArgumentType::Number], None),
            Box::new(move |args, _| {
                let t = arg_text(args, 0);
                let n = args
                    .get(1)
                    .and_then(|a| a.as_number())
                    .unwrap_or(0.0)
                    .max(0.0) as usize;
                Ok(Rcvar::new(Variable::String(t.chars().take(n).collect())))
            }),
        )),
    );
    rt
});

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
