//! Container images as Kyverno sees them (`pkg/utils/image/infos.go`) and where they live in
//! a resource (`pkg/utils/api/image.go`).
//!
//! Kyverno normalises with a default registry (`docker.io`) and **no** `library/` prefix, adds
//! `latest` when there is neither tag nor digest, and writes an image as `reg/path@digest`
//! when it has a digest, else `reg/path:tag`; patterns are matched against that string.
//! [`ImageInfo::pattern_forms`] widens this where Kyverno lets images escape (see there).

use serde_json::Value;
use sigil_core::{Digest, ImageRef};

use crate::wildcard;
use crate::Error;

/// Kyverno's default registry (ConfigMap key `defaultRegistry`).
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// One image string of a resource, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// The string as written in the resource.
    pub raw: String,
    /// Registry, as written or [`DEFAULT_REGISTRY`].
    pub registry: String,
    /// Repository path, without Kyverno's or docker's `library/` added.
    pub path: String,
    /// The tag as written; `latest` when there is neither tag nor digest.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
    /// The same image in sigil's (go-containerregistry's) normal form, for registry access.
    pub reference: ImageRef,
}

impl ImageInfo {
    pub fn parse(raw: &str) -> Result<ImageInfo, Error> {
        let reference: ImageRef = raw.parse().map_err(|e: sigil_core::Error| Error::Image {
            image: raw.to_owned(),
            detail: e.to_string(),
        })?;
        let (rest, digest) = match raw.split_once('@') {
            Some((r, _)) => (r, reference.digest().cloned()),
            None => (raw, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => {
                (&rest[..i], Some(rest[i + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            _ => tag,
        };
        Ok(ImageInfo {
            raw: raw.to_owned(),
            registry,
            path,
            tag,
            digest,
            reference,
        })
    }

    /// `reg/path`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// Kyverno's `ImageInfo.String()`: `reg/path@digest` when pinned, else `reg/path:tag`.
    /// This is the key of the `kyverno.io/verify-images` annotation.
    pub fn kyverno_string(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.name()),
            (None, Some(t)) => format!("{}:{t}", self.name()),
            (None, None) => self.name(),
        }
    }

    /// The image as Kyverno's digest mutation writes it: registry added, tag kept, digest
    /// appended (`nginx:1` → `docker.io/nginx:1@sha256:…`).
    pub fn pinned(&self, digest: &Digest) -> String {
        match &self.tag {
            Some(t) => format!("{}:{t}@{digest}", self.name()),
            None => format!("{}@{digest}", self.name()),
        }
    }

    /// The repository names this image goes by: Kyverno's (`docker.io/nginx`); the registry
    /// in lowercase and without an explicit `:443` (host names are case-insensitive and 443
    /// is the HTTPS default, so `GHCR.IO:443/u/app` is pulled from `ghcr.io/u/app`); and for
    /// Docker Hub images also `docker.io/library/nginx` and `index.docker.io/library/nginx`,
    /// so a policy written against any spelling covers the image.
    fn names(&self) -> Vec<String> {
        let mut names = vec![self.name()];
        let push = |n: String, names: &mut Vec<String>| {
            if !names.contains(&n) {
                names.push(n);
            }
        };
        let lower = self.registry.to_ascii_lowercase();
        let host = lower.strip_suffix(":443").unwrap_or(&lower).to_owned();
        push(format!("{host}/{}", self.path), &mut names);
        let hub = matches!(
            host.as_str(),
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        );
        if hub {
            let path = if self.path.contains('/') {
                self.path.clone()
            } else {
                format!("library/{}", self.path)
            };
            for reg in ["docker.io", "index.docker.io"] {
                push(format!("{reg}/{path}"), &mut names);
                push(format!("{reg}/{}", self.path), &mut names);
            }
        }
        names
    }

    /// Whether an `imageReferences` pattern covers this image. Kyverno matches only
    /// [`kyverno_string`](Self::kyverno_string), so `repo:*` misses `repo@sha256:…` and
    /// `repo:v1@sha256:…` (reference §2) and `docker.io/library/nginx:*` misses `nginx:1`.
    /// Here a pattern covers the image when it matches any spelling of it (`name:tag`,
    /// `name@digest`, `name:tag@digest`, each Docker Hub name), and a digest-pinned image
    /// whose tag is unknown is covered by any pattern that some tag of it would match. Over-
    /// matching an `imageReferences` pattern only means more images are verified.
    pub fn matched_by(&self, pattern: &str) -> bool {
        for name in self.names() {
            for form in self.forms_of(&name) {
                if wildcard::matches(pattern, &form) {
                    return true;
                }
            }
            if self.digest.is_some()
                && self.tag.is_none()
                && (wildcard::matches_some_extension(pattern, &format!("{name}:"))
                    || wildcard::matches_some_extension(pattern, &format!("{name}@")))
            {
                return true;
            }
        }
        false
    }

    /// Whether a `skipImageReferences` pattern exempts this image. Deliberately narrow:
    /// only the exact spellings count, never a guessed tag, so a skip pattern cannot be
    /// stretched to cover an image it was not written for.
    pub fn skipped_by(&self, pattern: &str) -> bool {
        self.forms_of(&self.name())
            .iter()
            .any(|f| wildcard::matches(pattern, f))
    }

    fn forms_of(&self, name: &str) -> Vec<String> {
        let mut forms = Vec::with_capacity(3);
        if let Some(t) = &self.tag {
            forms.push(format!("{name}:{t}"));
        }
        if let Some(d) = &self.digest {
            forms.push(format!("{name}@{d}"));
            if let Some(t) = &self.tag {
                forms.push(format!("{name}:{t}@{d}"));
            }
        }
        forms
    }
}

/// Which container list an image came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

/// An image found in a resource, with the JSON pointer of its `image` field.
#[derive(Clone, Debug)]
pub struct FoundImage {
    pub pointer: String,
    pub container: ContainerKind,
    pub image: ImageInfo,
}

/// The pod-spec path of each kind that carries one (`pkg/utils/api/image.go`, plus
/// ReplicationController and PodTemplate).
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "StatefulSet"
        | "Job" => Some(&["spec", "template", "spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// Every image of `object` (a `kind` resource): `initContainers`, `containers` and
/// `ephemeralContainers`, in that order. Empty strings are ignored, as in Kyverno; an image
/// that does not parse is an error (the request is then refused, never waved through).
pub fn images_of(kind: &str, object: &Value) -> Result<Vec<FoundImage>, Error> {
    let Some(path) = pod_spec_path(kind) else {
        return Ok(Vec::new());
    };
    let mut spec = object;
    for key in path {
        match spec.get(key) {
            Some(v) => spec = v,
            None => return Ok(Vec::new()),
        }
    }
    let prefix: String = path.iter().map(|p| format!("/{p}")).collect();
    let mut found = Vec::new();
    for (list, container) in [
        ("initContainers", ContainerKind::Init),
        ("containers", ContainerKind::Regular),
        ("ephemeralContainers", ContainerKind::Ephemeral),
    ] {
        let Some(items) = spec.get(list) else {
            continue;
        };
        let Some(items) = items.as_array() else {
            return Err(Error::Resource(format!("`{prefix}/{list}` is not a list")));
        };
        for (i, c) in items.iter().enumerate() {
            let image = match c.get("image") {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.is_empty() => continue,
                Some(Value::String(s)) => s,
                Some(_) => {
                    return Err(Error::Resource(format!(
                        "`{prefix}/{list}/{i}/image` is not a string"
                    )))
                }
            };
            found.push(FoundImage {
                pointer: format!("{prefix}/{list}/{i}/image"),
                container,
                image: ImageInfo::parse(image)?,
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:476b21f1a75dc90fac3579ee757f4607bb5546f476195cf645c54badf558c0db";

    #[test]
    fn kyverno_normalisation() {
        let i = ImageInfo::parse("nginx").unwrap();
        assert_eq!(i.kyverno_string(), "docker.io/nginx:latest");
        let i = ImageInfo::parse("ghcr.io/kyverno/zulu:v0.0.14").unwrap();
        assert_eq!(i.kyverno_string(), "ghcr.io/kyverno/zulu:v0.0.14");
        assert_eq!(
            i.pinned(&D.parse().unwrap()),
            format!("ghcr.io/kyverno/zulu:v0.0.14@{D}")
        );
        let i = ImageInfo::parse(&format!("ghcr.io/kyverno/zulu:v1@{D}")).unwrap();
        assert_eq!(i.kyverno_string(), format!("ghcr.io/kyverno/zulu@{D}"));
        let i = ImageInfo::parse("localhost:5000/a/b").unwrap();
        assert_eq!(i.registry, "localhost:5000");
        assert_eq!(
            ImageInfo::parse("nginx:1")
                .unwrap()
                .pinned(&D.parse().unwrap()),
            format!("docker.io/nginx:1@{D}")
        );
    }

    #[test]
    fn digest_pinned_images_are_matched_by_tag_patterns() {
        // Kyverno skips these (reference §2); sigil does not.
        for img in [
            format!("ghcr.io/u/cosign-lab@{D}"),
            format!("ghcr.io/u/cosign-lab:v1@{D}"),
            "ghcr.io/u/cosign-lab:v1".to_owned(),
        ] {
            let i = ImageInfo::parse(&img).unwrap();
            assert!(i.matched_by("ghcr.io/u/cosign-lab:*"), "{img}");
            assert!(!i.matched_by("ghcr.io/u/other:*"), "{img}");
        }
        let i = ImageInfo::parse(&format!("ghcr.io/u/cosign-lab:v2@{D}")).unwrap();
        assert!(!i.matched_by("ghcr.io/u/cosign-lab:v1*"));
    }

    #[test]
    fn odd_but_valid_registry_spellings_are_matched() {
        for img in ["GHCR.IO/u/app:v1", "ghcr.io:443/u/app:v1", "Ghcr.io:443/u/app@sha256:476b21f1a75dc90fac3579ee757f4607bb5546f476195cf645c54badf558c0db"] {
            let i = ImageInfo::parse(img).unwrap();
            assert!(i.matched_by("ghcr.io/u/app:*"), "{img}");
            assert!(!i.matched_by("ghcr.io/u/other:*"), "{img}");
        }
        let i = ImageInfo::parse("index.docker.io/nginx:1").unwrap();
        assert!(i.matched_by("docker.io/nginx:*"));
    }

    #[test]
    fn docker_hub_spellings() {
        let i = ImageInfo::parse("nginx:1.2").unwrap();
        assert!(i.matched_by("docker.io/nginx:*"));
        assert!(i.matched_by("docker.io/library/nginx:*"));
        assert!(i.matched_by("index.docker.io/library/nginx:*"));
        assert!(!i.skipped_by("docker.io/library/nginx:*"));
    }

    #[test]
    fn every_container_list_of_every_controller() {
        let spec = serde_json::json!({
            "initContainers": [{"name": "i", "image": "init:1"}],
            "containers": [{"name": "c", "image": "app:1"}, {"name": "e", "image": ""}],
            "ephemeralContainers": [{"name": "d", "image": "busybox"}]
        });
        let pod = serde_json::json!({"spec": spec});
        let found = images_of("Pod", &pod).unwrap();
        let ptrs: Vec<&str> = found.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/spec/initContainers/0/image",
                "/spec/containers/0/image",
                "/spec/ephemeralContainers/0/image"
            ]
        );
        let cj =
            serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}});
        assert_eq!(images_of("CronJob", &cj).unwrap().len(), 3);
        let d = serde_json::json!({"spec": {"template": {"spec": spec}}});
        for k in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
        ] {
            assert_eq!(images_of(k, &d).unwrap().len(), 3, "{k}");
        }
        let bad = serde_json::json!({"spec": {"containers": [{"image": "UPPER/Case:tag"}]}});
        assert!(images_of("Pod", &bad).is_err());
    }
}
