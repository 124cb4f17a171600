//! Blob reads and uploads (distribution-spec "Pulling blobs", "Pushing blobs": monolithic
//! POST+PUT, chunked PATCH with `Content-Range`, cross-repository mount).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use sigil_core::{Digest, ImageRef};

use crate::client::{check_status, read_limited, Access};
use crate::{Client, Error};

/// The buffer size of [`Client::download_blob`]; smaller blobs are read in one piece.
const DOWNLOAD_BUFFER: usize = 1 << 20;
/// Buffers one download cycles between its receiver, hasher and writer (its memory bound).
const DOWNLOAD_BUFFERS: usize = 4;

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
    /// More than `limit` bytes is an error; so is content that does not match `digest`, in
    /// which case the caller must discard the file.
    ///
    /// Large blobs go through three stages that overlap instead of taking turns: this task
    /// receives into 1 MiB buffers, one blocking thread hashes them, another writes them, and
    /// the buffers come back to the receiver (hashing a 50 MiB layer alone takes about as long
    /// as receiving it over loopback). The buffers are recycled because handing the network
    /// chunks themselves to the other threads made the HTTP stack allocate fresh memory for
    /// every read, and the page faults on it cost more than the copy into a recycled buffer.
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
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let joined = |e: tokio::task::JoinError| io(std::io::Error::other(e));
        if resp
            .content_length()
            .is_some_and(|l| l <= DOWNLOAD_BUFFER as u64)
        {
            // Small: one read, one hash, one write.
            let bytes = read_limited(resp, limit, &what).await?;
            check_digest(&what, digest, digest.matches(&bytes), &bytes)?;
            let len = bytes.len() as u64;
            tokio::task::spawn_blocking(move || {
                let mut file = file;
                std::io::Write::write_all(&mut file, &bytes)
            })
            .await
            .map_err(joined)?
            .map_err(io)?;
            return Ok(len);
        }

        let url = resp.url().to_string();
        let (hash_tx, mut hash_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(DOWNLOAD_BUFFERS);
        let (write_tx, write_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DOWNLOAD_BUFFERS);
        let (free_tx, mut free_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(DOWNLOAD_BUFFERS);
        let mut hasher = digest.hasher();
        let hashing = tokio::task::spawn_blocking(move || {
            while let Some(buf) = hash_rx.blocking_recv() {
                hasher.update(&buf);
                if write_tx.send(buf).is_err() {
                    break; // the writer failed
                }
            }
            hasher.finish()
        });
        let writing = tokio::task::spawn_blocking(move || {
            let mut file = file;
            for buf in write_rx {
                std::io::Write::write_all(&mut file, &buf)?;
                // Never blocks: the channel holds as many buffers as exist.
                let _ = free_tx.try_send(buf);
            }
            Ok::<_, std::io::Error>(())
        });

        let mut stream = resp.bytes_stream();
        let mut total = 0u64;
        let mut allocated = 1;
        let mut current = Vec::with_capacity(DOWNLOAD_BUFFER);
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
                let mut data = &chunk[..];
                while !data.is_empty() {
                    let n = (DOWNLOAD_BUFFER - current.len()).min(data.len());
                    let (now, rest) = data.split_at(n);
                    current.extend_from_slice(now);
                    data = rest;
                    if current.len() < DOWNLOAD_BUFFER {
                        continue;
                    }
                    let next = if allocated < DOWNLOAD_BUFFERS {
                        allocated += 1;
                        Some(Vec::with_capacity(DOWNLOAD_BUFFER))
                    } else {
                        None
                    };
                    if hash_tx.send(std::mem::take(&mut current)).await.is_err() {
                        return Ok(()); // a stage failed: its error is reported below
                    }
                    current = match next {
                        Some(b) => b,
                        None => match free_rx.recv().await {
                            Some(mut b) => {
                                b.clear();
                                b
                            }
                            None => return Ok(()),
                        },
                    };
                }
            }
            if !current.is_empty() {
                let _ = hash_tx.send(current).await;
            }
            Ok(())
        }
        .await;
        drop(hash_tx);
        drop(free_rx);
        let actual = hashing.await.map_err(joined)?;
        writing.await.map_err(joined)?.map_err(io)?;
        received?;
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
        check_digest(
            &format!("blob to upload to `{}`", image.name()),
            digest,
            digest.matches(&data),
            &data,
        )?;
        self.push_hashed_blob(image, digest, data).await
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

fn check_digest(what: &str, expected: &Digest, ok: bool, bytes: &[u8]) -> Result<(), Error> {
    if ok {
        return Ok(());
    }
    Err(Error::DigestMismatch {
        what: what.to_owned(),
        expected: expected.to_string(),
        actual: Digest::compute(expected.algorithm(), bytes).to_string(),
    })
}
