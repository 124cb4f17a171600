//! Media types and annotation keys, as the OCI image spec and cosign
//! (`specs/SIGNATURE_SPEC.md`, `pkg/oci/static`) write them.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest type a client asks for when resolving a reference.
pub const MANIFEST_ACCEPT: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// The layer media type of a cosign signature (payload = simple-signing JSON).
pub const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer media type of a cosign attestation (payload = DSSE envelope JSON).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The Sigstore bundle v0.3 media type (also the referrer artifact type).
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Layer annotation: base64 of the signature.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation: leaf certificate PEM (keyless).
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation: PEM intermediates and root (keyless).
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation: the Rekor bundle (SET and entry) JSON.
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation: an RFC 3161 timestamp JSON.
pub const ANNOTATION_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Whether `media_type` is an index (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}
