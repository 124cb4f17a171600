//! `sigil admission manifests`: the Kubernetes objects that run the webhook — Namespace,
//! ServiceAccount, ConfigMap with the policies, Secret with the serving certificate,
//! Deployment (2 replicas), Service, and the Mutating/Validating webhook configurations
//! with the CA bundle, `failurePolicy: Fail`, `sideEffects: None`, `timeoutSeconds: 10`
//! (Kyverno's defaults, reference §3).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

/// What the manifests are built from.
#[derive(Clone, Debug)]
pub struct ManifestOptions {
    pub namespace: String,
    /// Name of the Service, Deployment, ServiceAccount and webhooks' prefix.
    pub name: String,
    pub image: String,
    /// CA certificate PEM (goes into `caBundle`).
    pub ca_pem: String,
    /// Serving certificate and key PEM (go into a `kubernetes.io/tls` Secret).
    pub cert_pem: String,
    pub key_pem: String,
    /// Policy files: file name → content (the ConfigMap's data).
    pub policies: BTreeMap<String, String>,
    /// Kinds the webhooks intercept (from the policies' match kinds).
    pub kinds: Vec<String>,
}

/// The objects as one multi-document YAML stream.
pub fn manifests(o: &ManifestOptions) -> String {
    let ns = &o.namespace;
    let name = &o.name;
    let labels = json!({"app.kubernetes.io/name": name});
    let ca = B64.encode(o.ca_pem.as_bytes());
    let rules = webhook_rules(&o.kinds);
    let client = |path: &str| json!({"service": {"name": name, "namespace": ns, "path": path, "port": 443}, "caBundle": ca});
    let docs: Vec<Value> = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{name}-policies"), "namespace": ns}, "data": o.policies}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": format!("{name}-tls"), "namespace": ns},
               "data": {"tls.crt": B64.encode(o.cert_pem.as_bytes()), "tls.key": B64.encode(o.key_pem.as_bytes()), "ca.crt": ca}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                   "serviceAccountName": name,
                   "containers": [{"name": "admission", "image": o.image,
                     "args": ["admission", "serve", "--policy", "/policies", "--addr", "0.0.0.0:8443",
                              "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"],
                     "ports": [{"containerPort": 8443, "name": "https"}],
                     "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8443, "scheme": "HTTPS"}},
                     "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8443, "scheme": "HTTPS"}},
                     "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
                     "volumeMounts": [{"name": "policies", "mountPath": "/policies", "readOnly": true},
                                      {"name": "tls", "mountPath": "/tls", "readOnly": true}]}],
                   "volumes": [{"name": "policies", "configMap": {"name": format!("{name}-policies")}},
                               {"name": "tls", "secret": {"secretName": format!("{name}-tls")}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 8443, "name": "https"}]}}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": format!("{name}-mutating")},
               "webhooks": [{"name": format!("mutate.{name}.{ns}.svc"), "clientConfig": client("/mutate/fail"),
                 "rules": rules.clone(), "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 10,
                 "admissionReviewVersions": ["v1", "v1beta1"], "matchPolicy": "Equivalent", "reinvocationPolicy": "IfNeeded",
                 "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [ns]}]}}]}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": format!("{name}-validating")},
               "webhooks": [{"name": format!("validate.{name}.{ns}.svc"), "clientConfig": client("/validate/fail"),
                 "rules": rules, "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 10,
                 "admissionReviewVersions": ["v1", "v1beta1"], "matchPolicy": "Equivalent",
                 "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [ns]}]}}]}),
    ];
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&d).unwrap_or_default());
    }
    out
}

/// Webhook rules for the policies' kinds; Pod rules also intercept the controllers autogen
/// covers and `pods/ephemeralcontainers`.
fn webhook_rules(kinds: &[String]) -> Vec<Value> {
    let mut core = vec![];
    let mut apps = vec![];
    let mut batch = vec![];
    for k in kinds {
        let k = k.rsplit('/').next().unwrap_or(k);
        match k {
            "Pod" => {
                core.extend(["pods", "pods/ephemeralcontainers", "replicationcontrollers"]);
                apps.extend(["deployments", "statefulsets", "daemonsets", "replicasets"]);
                batch.extend(["jobs", "cronjobs"]);
            }
            "Deployment" => apps.push("deployments"),
            "StatefulSet" => apps.push("statefulsets"),
            "DaemonSet" => apps.push("daemonsets"),
            "ReplicaSet" => apps.push("replicasets"),
            "Job" => batch.push("jobs"),
            "CronJob" => batch.push("cronjobs"),
            "ReplicationController" => core.push("replicationcontrollers"),
            _ => {}
        }
    }
    let mut rules = Vec::new();
    for (group, version, mut res) in [
        ("", "v1", core),
        ("apps", "v1", apps),
        ("batch", "v1", batch),
    ] {
        res.sort_unstable();
        res.dedup();
        if !res.is_empty() {
            rules.push(
                json!({"apiGroups": [group], "apiVersions": [version], "resources": res,
                              "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}),
            );
        }
    }
    rules
}
