//! AdmissionReview `admission.k8s.io/v1` and `v1beta1` (same shape): the request fields the
//! engine needs, and the response Kyverno gives (K:`pkg/utils/admission/response.go`): the
//! whole review echoed with `response` filled; deny = `allowed: false` with
//! `status {status: Failure, message}`; `patchType: JSONPatch` only with a non-empty patch.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::engine::{Evaluation, Request};

/// The `request` of an AdmissionReview.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub user_info: UserInfo,
    #[serde(default)]
    pub object: Value,
    #[serde(default)]
    pub old_object: Value,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct UserInfo {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl AdmissionRequest {
    /// The engine's view. The name falls back to the object's (`request.name` is empty on
    /// CREATE for some clients), the namespace likewise.
    pub fn into_engine_request(self) -> Request {
        let meta = self.object.get("metadata");
        let from_meta = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let namespace = self
            .namespace
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| from_meta("namespace"));
        let name = self
            .name
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| from_meta("name"));
        Request {
            kind: self.kind.kind,
            sub_resource: self.sub_resource.filter(|s| !s.is_empty()),
            namespace,
            name,
            operation: self.operation,
            object: self.object,
            username: self.user_info.username,
            groups: self.user_info.groups,
        }
    }
}

/// Parses a review and returns (apiVersion, request). The error says what is wrong, for a
/// 400 answer.
pub fn parse_review(body: &[u8]) -> Result<(String, AdmissionRequest), String> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let api = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if api != "admission.k8s.io/v1" && api != "admission.k8s.io/v1beta1" {
        return Err(format!(
            "apiVersion `{api}` is not admission.k8s.io/v1 or admission.k8s.io/v1beta1"
        ));
    }
    if v.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err("kind is not AdmissionReview".into());
    }
    let req = v
        .get_mut("request")
        .map(Value::take)
        .ok_or("missing request")?;
    let req: AdmissionRequest =
        serde_json::from_value(req).map_err(|e| format!("malformed request: {e}"))?;
    if req.uid.is_empty() {
        return Err("request.uid is empty".into());
    }
    Ok((api, req))
}

/// The AdmissionReview answer for `ev`.
pub fn review_response(api_version: &str, uid: &str, ev: &Evaluation) -> Value {
    let mut response = json!({"uid": uid, "allowed": ev.allowed});
    if !ev.allowed {
        response["status"] = json!({
            "metadata": {},
            "status": "Failure",
            "message": ev.message.clone().unwrap_or_default(),
        });
    } else if !ev.patch.is_empty() {
        let patch = serde_json::to_vec(&ev.patch).unwrap_or_default();
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(B64.encode(patch));
    }
    if !ev.warnings.is_empty() {
        response["warnings"] = json!(ev.warnings);
    }
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}
