use serde_json::json;

use super::*;

fn slsa() -> Value {
    json!({
        "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "metadata": {"scanFinishedOn": "2026-11-20T10:00:00Z"},
        "components": [{"name": "commons-text", "version": "1.10"}, {"name": "log4j", "version": "2.17"}],
        "matches": [{"vulnerability": {"cvss": [{"metrics": {"impactScore": 5.9}}]}}],
    })
}

fn cond(key: Value, operator: &str, value: Value) -> Vec<Value> {
    vec![json!({"all": [{"key": key, "operator": operator, "value": value}]})]
}

#[test]
fn kyverno_policy_library_conditions() {
    // verify-image-slsa.yaml: nested variables, regex_match, a typed (bool) key.
    let c = cond(
        json!("{{ regex_match('^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v[0-9].[0-9].[0-9]$','{{ builder.id}}') }}"),
        "Equals",
        json!(true),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(true));
    let mut other = slsa();
    other["builder"]["id"] =
        json!("https://github.com/evil/.github/workflows/x.yml@refs/heads/main");
    assert_eq!(evaluate(&c, &other), Ok(false));

    // verify-image-cve-2022-42889.yaml: `||` default and AllNotIn.
    let c = cond(
        json!("{{ components[?name=='commons-text'].version || 'none' }}"),
        "AllNotIn",
        json!(["1.5", "1.6", "1.7", "1.8", "1.9"]),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(true));
    let mut vulnerable = slsa();
    vulnerable["components"][0]["version"] = json!("1.9");
    assert_eq!(evaluate(&c, &vulnerable), Ok(false));

    // require-vulnerability-scan.yaml: time_since and a duration comparison.
    let c = cond(
        json!("{{ time_since('','{{metadata.scanFinishedOn}}','2026-11-26T10:00:00Z') }}"),
        "LessThanOrEquals",
        json!("168h"),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(true));
    let c = cond(
        json!("{{ time_since('','{{metadata.scanFinishedOn}}','2026-12-26T10:00:00Z') }}"),
        "LessThanOrEquals",
        json!("168h"),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(false));

    // verify-tekton-taskrun-vuln-scan.yaml: filter projection, length, `any`.
    let c = vec![json!({"any": [
        {"key": "{{ matches[].vulnerability[].cvss[?metrics.impactScore > `8.0`][] | length(@) }}", "operator": "Equals", "value": 0},
        {"key": "{{ buildType }}", "operator": "Equals", "value": "nope"},
    ]})];
    assert_eq!(evaluate(&c, &slsa()), Ok(true));

    // Wildcards in the value, string interpolation.
    let c = cond(
        json!("{{ builder.id }}"),
        "Equals",
        json!("https://github.com/slsa-framework/*"),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(true));
    let c = cond(
        json!("id={{ buildType }}"),
        "Equals",
        json!("id=https://github.com/*@v1"),
    );
    assert_eq!(evaluate(&c, &slsa()), Ok(true));
}

#[test]
fn operators() {
    let p = json!({"n": 5, "s": "b", "l": ["a", "b"], "v": "v1.10.2", "d": "90m"});
    let t = |key: &str, op: &str, value: Value| evaluate(&cond(json!(key), op, value), &p).unwrap();
    assert!(t("{{ n }}", "Equals", json!(5)));
    assert!(t("{{ n }}", "Equals", json!("5")));
    assert!(t("{{ n }}", "NotEquals", json!(6)));
    assert!(t("{{ n }}", "GreaterThan", json!(4)));
    assert!(t("{{ n }}", "GreaterThanOrEquals", json!(5)));
    assert!(!t("{{ n }}", "LessThan", json!(5)));
    assert!(t("{{ n }}", "LessThanOrEquals", json!("5")));
    assert!(t("{{ s }}", "In", json!(["a", "b"])));
    assert!(!t("{{ s }}", "NotIn", json!(["a", "b"])));
    assert!(t("{{ l }}", "AllIn", json!(["a", "b", "c"])));
    assert!(!t("{{ l }}", "AllIn", json!(["a"])));
    assert!(t("{{ l }}", "AnyIn", json!(["a"])));
    assert!(t("{{ l }}", "AnyNotIn", json!(["a"])));
    assert!(!t("{{ l }}", "AllNotIn", json!(["a"])));
    assert!(t("{{ l }}", "AllNotIn", json!(["c"])));
    assert!(t("{{ v }}", "GreaterThan", json!("v1.9.9")));
    assert!(t("{{ d }}", "GreaterThan", json!("1h")));
    assert!(t("{{ d }}", "DurationLessThan", json!("2h")));
    assert!(t("{{ d }}", "Equals", json!("1h30m")));
    // Unknown operators, variables missing from the predicate and bad JMESPath are errors.
    assert!(evaluate(&cond(json!("{{ n }}"), "Bigger", json!(1)), &p).is_err());
    assert!(evaluate(&cond(json!("{{ missing.key }}"), "Equals", json!(1)), &p).is_err());
    assert!(evaluate(&cond(json!("{{ n[ }}"), "Equals", json!(1)), &p).is_err());
    assert!(evaluate(&cond(json!("{{ nosuch_fn(n) }}"), "Equals", json!(1)), &p).is_err());
    assert!(evaluate(&cond(json!("{{ s }}"), "GreaterThan", json!(1)), &p).is_err());
    // No conditions: nothing to check.
    assert_eq!(evaluate(&[], &p), Ok(true));
}

#[test]
fn go_durations() {
    assert_eq!(parse_duration("168h"), Some(168.0 * 3600.0));
    assert_eq!(parse_duration("1h30m0.5s"), Some(5400.5));
    assert_eq!(parse_duration("-300ms"), Some(-0.3));
    assert_eq!(parse_duration("0"), Some(0.0));
    assert_eq!(parse_duration("1x"), None);
    assert_eq!(parse_duration(""), None);
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(1_500_000), "1.5ms");
    assert_eq!(format_duration(3_723_500_000_000), "1h2m3.5s");
    assert_eq!(format_duration(72 * 3_600_000_000_000), "72h0m0s");
    assert_eq!(format_duration(-2_000_000_000), "-2s");
}

#[test]
fn syntax_is_checked_at_load() {
    assert_eq!(
        check_syntax(&cond(json!("{{ a }}"), "Equals", json!(1))),
        Ok(())
    );
    assert!(check_syntax(&cond(json!("{{ a }}"), "Bigger", json!(1))).is_err());
    assert!(check_syntax(&[json!({"all": "not a list"})]).is_err());
    // Every policy of the Kyverno corpus that has conditions passes.
    for c in [
        cond(json!("{{ Data.bomFormat }}"), "Equals", json!("CycloneDX")),
        cond(
            json!("{{ time_since('','{{metadata.scanFinishedOn}}','') }}"),
            "LessThanOrEquals",
            json!("168h"),
        ),
    ] {
        assert_eq!(check_syntax(&c), Ok(()));
    }
}
