//! AdmissionReview `admission.k8s.io/v1` and `v1beta1` (same shape): the request fields the
//! engine needs, and the response Kyverno gives (K:`pkg/utils/admission/response.go`): the
//! whole review echoed with `response` filled; deny = `allowed: false` with
//! `status {status: Failure, message}`; `patchType: JSONPatch` only with a non-empty patch.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// The review envelope, read in one pass (no intermediate JSON tree of the whole body).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    request: Option<AdmissionRequest>,
}

/// Parses a review and returns (apiVersion, request). The error says what is wrong, for a
/// 400 answer.
pub fn parse_review(body: &[u8]) -> Result<(String, AdmissionRequest), String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            format!("malformed AdmissionReview: {e}")
        } else {
            format!("body is not JSON: {e}")
        }
    })?;
    let api = env.api_version;
    if api != "admission.k8s.io/v1" && api != "admission.k8s.io/v1beta1" {
        return Err(format!(
            "apiVersion `{api}` is not admission.k8s.io/v1 or admission.k8s.io/v1beta1"
        ));
    }
    if env.kind != "AdmissionReview" {
        return Err("kind is not AdmissionReview".into());
    }
    let req = env.request.ok_or("missing request")?;
    if req.uid.is_empty() {
        return Err("request.uid is empty".into());
    }
    Ok((api, req))
}

/// The AdmissionReview answer for `ev`.
pub fn review_response(api_version: &str, uid: &str, ev: &Evaluation) -> Value {
    serde_json::to_value(ReviewAnswer::new(api_version, uid, ev)).unwrap_or(Value::Null)
}

/// The answer serialized straight to bytes (the server's path: no JSON tree built).
pub(crate) fn review_response_bytes(api_version: &str, uid: &str, ev: &Evaluation) -> Vec<u8> {
    serde_json::to_vec(&ReviewAnswer::new(api_version, uid, ev)).unwrap_or_default()
}

#[derive(Serialize)]
struct ReviewAnswer<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'static str,
    response: ReviewResponse<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewResponse<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Status<'a> {
    metadata: Empty,
    status: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct Empty {}

impl<'a> ReviewAnswer<'a> {
    fn new(api_version: &'a str, uid: &'a str, ev: &'a Evaluation) -> ReviewAnswer<'a> {
        let (status, patch_type, patch) = if !ev.allowed {
            (
                Some(Status {
                    metadata: Empty {},
                    status: "Failure",
                    message: ev.message.as_deref().unwrap_or(""),
                }),
                None,
                None,
            )
        } else if !ev.patch.is_empty() {
            let bytes = serde_json::to_vec(&ev.patch).unwrap_or_default();
            (None, Some("JSONPatch"), Some(B64.encode(bytes)))
        } else {
            (None, None, None)
        };
        ReviewAnswer {
            api_version,
            kind: "AdmissionReview",
            response: ReviewResponse {
                uid,
                allowed: ev.allowed,
                status,
                patch_type,
                patch,
                warnings: &ev.warnings,
            },
        }
    }
}
