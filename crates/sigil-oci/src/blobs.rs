//! Blob reads and uploads (distribution-spec "Pulling blobs", "Pushing blobs": monolithic
//! POST+PUT, chunked PATCH with `Content-Range`, cross-repository mount).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use sigil_core::{Digest, ImageRef};

use crate::client::{check_status, read_limited, Access};
use crate::{Client, Error};

/// Received chunks waiting for the writer thread of [`Client::download_blob`] (each at most
/// hyper's read buffer, a few hundred KiB).
const DOWNLOAD_QUEUE: usize = 32;

impl Client {
    /// Whether the repository has the blob.
    pub async fn blob_exists(&self, image: &ImageRef, digest: &Digest) -> Result<bool, Error> {
        let rest = format!("blobs/{digest}");
        let resp = self
            .send(image, Access::Pull, |c, _| c.head(self.url(image, &rest)))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => {
                check_status(resp, &format!("blob {digest}")).await?;
                Ok(false)
            }
        }
    }

    /// GET a blob into memory (up to `max_blob_size`), verifying its digest.
    pub async fn get_blob(&self, image: &ImageRef, digest: &Digest) -> Result<Bytes, Error> {
        self.get_blob_limited(image, digest, self.options().max_blob_size)
            .await
    }

    /// GET a blob into memory, refusing more than `limit` bytes.
    pub async fn get_blob_limited(
        &self,
        image: &ImageRef,
        digest: &Digest,
        limit: u64,
    ) -> Result<Bytes, Error> {
        let what = format!("blob {digest} in `{}`", image.name());
        let resp = self.blob_response(image, digest).await?;
        let bytes = read_limited(resp, limit, &what).await?;
        digest.verify(&bytes).map_err(|_| Error::DigestMismatch {
            what,
            expected: digest.to_string(),
            actual: Digest::compute(digest.algorithm(), &bytes).to_string(),
        })?;
        Ok(bytes)
    }

    /// Streams a blob. The stream's last item is an error if the content does not match
    /// `digest`, so a consumer that reads to the end never accepts corrupted content.
    pub async fn blob_stream(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<impl Stream<Item = Result<Bytes, Error>> + Send + 'static, Error> {
        let resp = self.blob_response(image, digest).await?;
        let url = resp.url().to_string();
        let expected = digest.clone();
        let inner = resp.bytes_stream();
        let state = (inner, Some(expected.hasher()), expected, url);
        Ok(futures_util::stream::unfold(
            state,
            |(mut inner, hasher, expected, url)| async move {
                let mut hasher = hasher?;
                match inner.next().await {
                    Some(Ok(chunk)) => {
                        hasher.update(&chunk);
                        Some((Ok(chunk), (inner, Some(hasher), expected, url)))
                    }
                    Some(Err(source)) => Some((
                        Err(Error::Transport {
                            url: url.clone(),
                            source,
                        }),
                        (inner, None, expected, url),
                    )),
                    None => {
                        let actual = hasher.finish();
                        if actual == expected {
                            None
                        } else {
                            let err = Error::DigestMismatch {
                                what: format!("blob {expected}"),
                                expected: expected.to_string(),
                                actual: actual.to_string(),
                            };
                            Some((Err(err), (inner, None, expected, url)))
                        }
                    }
                }
            },
        ))
    }

    /// Downloads blob `digest` into `file` (named `path` in errors) and returns its size.
    /// The network side only receives; hashing and writing run on a blocking thread fed
    /// through a bounded channel, so the three overlap instead of taking turns (hashing a
    /// 50 MiB layer alone takes about as long as receiving it over loopback). More than
    /// `limit` bytes is an error; so is content that does not match `digest`, in which case
    /// the caller must discard the file.
    pub async fn download_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        limit: u64,
        file: std::fs::File,
        path: &std::path::Path,
    ) -> Result<u64, Error> {
        let what = format!("blob {digest} in `{}`", image.name());
        let resp = self.blob_response(image, digest).await?;
        if resp.content_length().is_some_and(|l| l > limit) {
            return Err(Error::TooLarge { what, limit });
        }
        let url = resp.url().to_string();
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(DOWNLOAD_QUEUE);
        let mut hasher = digest.hasher();
        let writer = tokio::task::spawn_blocking(move || {
            let mut rx = rx;
            let mut file = file;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                std::io::Write::write_all(&mut file, &chunk)?;
            }
            Ok::<_, std::io::Error>(hasher.finish())
        });
        let mut stream = resp.bytes_stream();
        let mut total = 0u64;
        let received = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|source| Error::Transport {
                    url: url.clone(),
                    source,
                })?;
                total += chunk.len() as u64;
                if total > limit {
                    return Err(Error::TooLarge {
                        what: what.clone(),
                        limit,
                    });
                }
                if tx.send(chunk).await.is_err() {
                    break; // the writer stopped on an error, reported below
                }
            }
            Ok(())
        }
        .await;
        drop(tx);
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let written = writer.await.map_err(|e| io(std::io::Error::other(e)))?;
        received?;
        let actual = written.map_err(io)?;
        if actual != *digest {
            return Err(Error::DigestMismatch {
                what,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(total)
    }

    async fn blob_response(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<reqwest::Response, Error> {
        let rest = format!("blobs/{digest}");
        let resp = self
            .send(image, Access::Pull, |c, _| c.get(self.url(image, &rest)))
            .await?;
        check_status(resp, &format!("blob {digest} in `{}`", image.name())).await
    }

    /// Uploads `data` as blob `digest` unless the repository already has it. Small blobs go
    /// in one POST + PUT; larger ones in chunked PATCH requests.
    pub async fn push_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), Error> {
        if !digest.matches(&data) {
            return Err(Error::DigestMismatch {
                what: format!("blob to upload to `{}`", image.name()),
                expected: digest.to_string(),
                actual: Digest::compute(digest.algorithm(), &data).to_string(),
            });
        }
        if self.blob_exists(image, digest).await? {
            return Ok(());
        }
        self.upload_blob(image, digest, data).await
    }

    /// [`Client::push_blob`] for `data` whose digest `digest` the caller has just computed from
    /// it (e.g. with [`crate::Descriptor::for_bytes`]): a multi-MiB blob is not hashed twice.
    pub async fn push_hashed_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), Error> {
        if self.blob_exists(image, digest).await? {
            return Ok(());
        }
        self.upload_blob(image, digest, data).await
    }

    /// Uploads `data` as blob `digest` without checking the digest or asking whether the
    /// registry has it (the caller did both; the registry verifies the digest again).
    pub(crate) async fn upload_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), Error> {
        let mut location = self
            .start_upload(image, None, digest)
            .await?
            .ok_or_else(|| Error::Malformed {
                what: "upload session".into(),
                detail: "registry answered a mount for a plain upload".into(),
            })?;
        let chunk = self.options().chunk_size.max(1);
        if data.len() > chunk {
            let mut offset = 0usize;
            while offset < data.len() {
                let end = (offset + chunk).min(data.len());
                let part = data.slice(offset..end);
                let range = format!("{offset}-{}", end - 1);
                let loc = location.clone();
                let resp = self
                    .send(image, Access::Push, |c, _| {
                        c.patch(&loc)
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_RANGE, &range)
                            .header(CONTENT_LENGTH, part.len())
                            .body(part.clone())
                    })
                    .await?;
                let resp = check_status(resp, &format!("upload of blob {digest}")).await?;
                location = self.absolute_location(image, &resp)?.unwrap_or(location);
                offset = end;
            }
            let url = with_digest_query(&location, digest);
            let resp = self
                .send(image, Access::Push, |c, _| {
                    c.put(&url).header(CONTENT_LENGTH, 0)
                })
                .await?;
            check_status(resp, &format!("upload of blob {digest}")).await?;
        } else {
            let url = with_digest_query(&location, digest);
            let resp = self
                .send(image, Access::Push, |c, _| {
                    c.put(&url)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, data.len())
                        .body(data.clone())
                })
                .await?;
            check_status(resp, &format!("upload of blob {digest}")).await?;
        }
        Ok(())
    }

    /// Mounts blob `digest` from repository `from` (same registry) into `image`'s repository.
    /// Returns false when the registry did not mount (the caller then uploads).
    pub async fn mount_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        from: &str,
    ) -> Result<bool, Error> {
        match self.start_upload(image, Some(from), digest).await? {
            None => Ok(true),
            Some(_) => Ok(false),
        }
    }

    /// POST /blobs/uploads/: `None` when a mount succeeded (201), else the session URL.
    async fn start_upload(
        &self,
        image: &ImageRef,
        mount_from: Option<&str>,
        digest: &Digest,
    ) -> Result<Option<String>, Error> {
        let rest = match mount_from {
            Some(from) => format!("blobs/uploads/?mount={digest}&from={from}"),
            None => "blobs/uploads/".to_owned(),
        };
        let resp = self
            .send(image, Access::Push, |c, _| {
                c.post(self.url(image, &rest)).header(CONTENT_LENGTH, 0)
            })
            .await?;
        let status = resp.status();
        let resp = check_status(resp, &format!("upload session in `{}`", image.name())).await?;
        if status == StatusCode::CREATED && mount_from.is_some() {
            return Ok(None);
        }
        self.absolute_location(image, &resp)?
            .map(Some)
            .ok_or_else(|| Error::Malformed {
                what: format!("upload session in `{}`", image.name()),
                detail: "no Location header".into(),
            })
    }

    fn absolute_location(
        &self,
        image: &ImageRef,
        resp: &reqwest::Response,
    ) -> Result<Option<String>, Error> {
        let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        let base = url::Url::parse(&self.url(image, "")).map_err(|e| Error::Malformed {
            what: "registry URL".into(),
            detail: e.to_string(),
        })?;
        base.join(loc)
            .map(|u| Some(u.to_string()))
            .map_err(|e| Error::Malformed {
                what: "upload Location header".into(),
                detail: e.to_string(),
            })
    }
}

fn with_digest_query(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}
