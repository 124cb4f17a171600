//! Which rules apply to a request: `match` / `exclude` with kinds, names, namespaces,
//! annotations, label selectors, operations and subjects (Kyverno's
//! `pkg/engine/utils/match.go`), and autogen for pod controllers.
//!
//! What cannot be decided here (namespace labels, RBAC roles) is decided in the direction
//! that verifies more: such a filter *matches* in `match` and does *not* exclude in `exclude`.

use std::collections::BTreeMap;

use crate::policy::{LabelSelector, MatchResources, Policy, ResourceDescription, Subject};
use crate::wildcard;

/// The facts of a request that rules match on.
#[derive(Clone, Debug, Default)]
pub struct MatchCtx<'a> {
    pub kind: &'a str,
    pub sub_resource: Option<&'a str>,
    pub name: &'a str,
    pub namespace: &'a str,
    pub operation: &'a str,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub username: &'a str,
    pub groups: &'a [String],
}

/// Controllers Kyverno's autogen extends Pod rules to (its default set).
pub const AUTOGEN_CONTROLLERS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];

/// Whether `rule` applies, and under which name (`autogen-…` for controllers reached
/// through a Pod rule).
pub fn rule_applies(
    policy: &Policy,
    rule: &crate::policy::Rule,
    ctx: &MatchCtx<'_>,
) -> Option<String> {
    if policy.is_namespaced()
        && policy.metadata.namespace.as_deref().unwrap_or("default") != ctx.namespace
    {
        return None;
    }
    if matches_block(&rule.match_, ctx, Mode::Match)
        && !rule
            .exclude
            .as_ref()
            .is_some_and(|e| matches_block(e, ctx, Mode::Exclude))
    {
        return Some(rule.name.clone());
    }
    // Autogen: a Pod rule also guards the pod templates of controllers.
    if AUTOGEN_CONTROLLERS.contains(&ctx.kind) && autogen_enabled(policy, ctx.kind) {
        let as_pod = MatchCtx {
            kind: "Pod",
            sub_resource: None,
            ..ctx.clone()
        };
        if matches_block(&rule.match_, &as_pod, Mode::Match)
            && !rule
                .exclude
                .as_ref()
                .is_some_and(|e| matches_block(e, &as_pod, Mode::Exclude))
        {
            return Some(if ctx.kind == "CronJob" {
                format!("autogen-cronjob-{}", rule.name)
            } else {
                format!("autogen-{}", rule.name)
            });
        }
    }
    None
}

fn autogen_enabled(policy: &Policy, kind: &str) -> bool {
    match policy
        .metadata
        .annotations
        .get("pod-policies.kyverno.io/autogen-controllers")
    {
        None => true,
        Some(v) if v == "none" => false,
        Some(v) => v.split(',').any(|k| k.trim() == kind),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Match,
    Exclude,
}

fn matches_block(m: &MatchResources, ctx: &MatchCtx<'_>, mode: Mode) -> bool {
    let mut any_filter = false;
    if !m.any.is_empty() {
        any_filter = true;
        let hit = m.any.iter().any(|f| {
            desc_matches(&f.resources, ctx, mode)
                && subjects_match(&f.subjects, &f.roles, &f.cluster_roles, ctx, mode)
        });
        if !hit {
            return false;
        }
    }
    if !m.all.is_empty() {
        any_filter = true;
        let hit = m.all.iter().all(|f| {
            desc_matches(&f.resources, ctx, mode)
                && subjects_match(&f.subjects, &f.roles, &f.cluster_roles, ctx, mode)
        });
        if !hit {
            return false;
        }
    }
    if let Some(r) = &m.resources {
        any_filter = true;
        if !desc_matches(r, ctx, mode) {
            return false;
        }
    }
    if !m.subjects.is_empty() || !m.roles.is_empty() || !m.cluster_roles.is_empty() {
        any_filter = true;
        if !subjects_match(&m.subjects, &m.roles, &m.cluster_roles, ctx, mode) {
            return false;
        }
    }
    any_filter
}

fn kind_matches(pattern: &str, ctx: &MatchCtx<'_>) -> bool {
    // `Pod`, `v1/Pod`, `apps/v1/Deployment`, `Pod/ephemeralcontainers`.
    let parts: Vec<&str> = pattern.split('/').collect();
    let (kind, sub) = match parts.as_slice() {
        [k] => (*k, None),
        [k, s] if s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) => (*k, Some(*s)),
        [.., k] => (*k, None),
        [] => return false,
    };
    if !wildcard::matches(kind, ctx.kind) {
        return false;
    }
    match (sub, ctx.sub_resource) {
        (Some(s), Some(r)) => wildcard::matches(s, r),
        (Some(_), None) => false,
        // A plain `Pod` rule also covers `pods/ephemeralcontainers` (kubectl debug): the
        // images added there run in the pod just the same.
        (None, Some(r)) => r == "ephemeralcontainers",
        (None, None) => true,
    }
}

fn desc_matches(d: &ResourceDescription, ctx: &MatchCtx<'_>, mode: Mode) -> bool {
    let unknown = mode == Mode::Match;
    if !d.kinds.is_empty() && !d.kinds.iter().any(|k| kind_matches(k, ctx)) {
        return false;
    }
    let mut names: Vec<&str> = d.names.iter().map(String::as_str).collect();
    if let Some(n) = &d.name {
        names.push(n);
    }
    if !names.is_empty() {
        // Pods created with generateName have no name yet: undecidable.
        if ctx.name.is_empty() {
            if !unknown {
                return false;
            }
        } else if !names.iter().any(|p| wildcard::matches(p, ctx.name)) {
            return false;
        }
    }
    if !d.namespaces.is_empty()
        && !d
            .namespaces
            .iter()
            .any(|p| wildcard::matches(p, ctx.namespace))
    {
        return false;
    }
    for (k, v) in &d.annotations {
        match ctx.annotations.get(k) {
            Some(have) if wildcard::matches(v, have) => {}
            _ => return false,
        }
    }
    if let Some(sel) = &d.selector {
        if !selector_matches(sel, &ctx.labels) {
            return false;
        }
    }
    if d.namespace_selector.is_some() && !unknown {
        // Namespace labels are not in the request: never exclude on them.
        return false;
    }
    if !d.operations.is_empty() && !d.operations.iter().any(|o| o == ctx.operation) {
        return false;
    }
    true
}

fn subjects_match(
    subjects: &[Subject],
    roles: &[String],
    cluster_roles: &[String],
    ctx: &MatchCtx<'_>,
    mode: Mode,
) -> bool {
    if (!roles.is_empty() || !cluster_roles.is_empty()) && mode == Mode::Exclude {
        return false;
    }
    if subjects.is_empty() {
        return true;
    }
    subjects.iter().any(|s| match s.kind.as_str() {
        "User" => wildcard::matches(&s.name, ctx.username),
        "Group" => ctx.groups.iter().any(|g| wildcard::matches(&s.name, g)),
        "ServiceAccount" => {
            ctx.username
                == format!(
                    "system:serviceaccount:{}:{}",
                    s.namespace.as_deref().unwrap_or(""),
                    s.name
                )
        }
        _ => mode == Mode::Match,
    })
}

/// Kubernetes label-selector semantics (`matchLabels` AND `matchExpressions`).
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    for (k, v) in &sel.match_labels {
        if labels.get(k).is_none_or(|have| !wildcard::matches(v, have)) {
            return false;
        }
    }
    sel.match_expressions.iter().all(|e| {
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|h| e.values.contains(h)),
            "NotIn" => have.is_none_or(|h| !e.values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policies;

    fn policy(rule: &str) -> Policy {
        let y = format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n  rules:\n  - name: r\n{rule}    verifyImages: [{{imageReferences: ['*'], attestors: [{{entries: [{{keys: {{publicKeys: k}}}}]}}]}}]\n");
        parse_policies(&y, "t").unwrap().policies.remove(0)
    }

    fn ctx<'a>(kind: &'a str, ns: &'a str, name: &'a str) -> MatchCtx<'a> {
        MatchCtx {
            kind,
            name,
            namespace: ns,
            operation: "CREATE",
            ..MatchCtx::default()
        }
    }

    #[test]
    fn kinds_namespaces_names_and_exclude() {
        let p = policy("    match: {any: [{resources: {kinds: [Pod], namespaces: ['prod-*']}}]}\n    exclude: {any: [{resources: {names: ['debug-*']}}]}\n");
        let r = &p.spec.rules[0];
        assert_eq!(
            rule_applies(&p, r, &ctx("Pod", "prod-1", "app")).as_deref(),
            Some("r")
        );
        assert!(rule_applies(&p, r, &ctx("Pod", "dev", "app")).is_none());
        assert!(rule_applies(&p, r, &ctx("Pod", "prod-1", "debug-x")).is_none());
        assert_eq!(
            rule_applies(&p, r, &ctx("Deployment", "prod-1", "app")).as_deref(),
            Some("autogen-r")
        );
        assert_eq!(
            rule_applies(&p, r, &ctx("CronJob", "prod-1", "app")).as_deref(),
            Some("autogen-cronjob-r")
        );
        assert!(rule_applies(&p, r, &ctx("ConfigMap", "prod-1", "app")).is_none());
        let mut eph = ctx("Pod", "prod-1", "app");
        eph.sub_resource = Some("ephemeralcontainers");
        assert!(
            rule_applies(&p, r, &eph).is_some(),
            "kubectl debug is covered"
        );
    }

    #[test]
    fn selectors_and_all() {
        let p = policy("    match:\n      all:\n      - resources: {kinds: [Pod], selector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: NotIn, values: [test]}]}}\n");
        let r = &p.spec.rules[0];
        let mut c = ctx("Pod", "default", "x");
        assert!(rule_applies(&p, r, &c).is_none());
        c.labels.insert("app".into(), "web".into());
        assert!(rule_applies(&p, r, &c).is_some());
        c.labels.insert("tier".into(), "test".into());
        assert!(rule_applies(&p, r, &c).is_none());
    }

    #[test]
    fn undecidable_filters_verify_more() {
        let p = policy("    match: {any: [{resources: {kinds: [Pod], namespaceSelector: {matchLabels: {a: b}}}}]}\n    exclude: {any: [{resources: {namespaceSelector: {matchLabels: {a: b}}}, clusterRoles: [admin]}]}\n");
        let r = &p.spec.rules[0];
        assert!(rule_applies(&p, r, &ctx("Pod", "default", "x")).is_some());
    }
}
