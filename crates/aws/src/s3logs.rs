//! CloudTrail log files in S3, for `warden audit replay s3://…` ([`S3LogSource`]).

use aws_config::SdkConfig;
use warden_core::ports::PortError;

/// What to do with a listed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Replay it.
    Yes,
    /// Leave it out, keep listing.
    Skip,
    /// Leave it and every later key out: stop listing.
    Stop,
}

/// Objects of a bucket, listed in key order and read whole.
#[derive(Debug, Clone)]
pub struct S3LogSource {
    client: aws_sdk_s3::Client,
}

fn err<E, R>(op: &'static str) -> impl Fn(aws_sdk_s3::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        PortError::new(
            "s3",
            op,
            format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
        )
    }
}

impl S3LogSource {
    /// A source on the S3 of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        // A local emulator on an IP address needs path-style addressing.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3LogSource {
            client: aws_sdk_s3::Client::from_conf(s3),
        }
    }

    /// The keys under `prefix` after `start_after`, in key order (ListObjectsV2, every page),
    /// as `keep` decides for each.
    ///
    /// # Errors
    /// A ListObjectsV2 call failed (after the SDK's retries).
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        mut keep: impl FnMut(&str) -> Keep,
    ) -> Result<Vec<String>, PortError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(err("ListObjectsV2"))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                match keep(key) {
                    Keep::Yes => out.push(key.to_owned()),
                    Keep::Skip => {}
                    Keep::Stop => return Ok(out),
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// The object's bytes, as stored (gzip for CloudTrail).
    ///
    /// # Errors
    /// GetObject failed, or its body could not be read.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, PortError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(err("GetObject"))?;
        let body = out.body.collect().await.map_err(|e| {
            PortError::new("s3", "GetObject", format!("{key}: reading the body: {e}"))
        })?;
        Ok(body.into_bytes().to_vec())
    }

    /// Store an object (tests and the demo put log files this way).
    ///
    /// # Errors
    /// PutObject failed.
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), PortError> {
        self.put_typed(bucket, key, body, "application/octet-stream")
            .await
    }

    /// Store an object with its content type.
    ///
    /// # Errors
    /// PutObject failed.
    pub async fn put_typed(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .map_err(err("PutObject"))?;
        Ok(())
    }

    /// The folders right below `prefix` (ListObjectsV2 with delimiter `/`, every page).
    ///
    /// # Errors
    /// A ListObjectsV2 call failed (after the SDK's retries).
    pub async fn subfolders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(err("ListObjectsV2"))?;
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }
}

impl warden_core::ports::LogArchive for S3LogSource {
    async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        self.list(bucket, prefix, None, |_| Keep::Yes).await
    }

    async fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        self.subfolders(bucket, prefix).await
    }

    async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, PortError> {
        self.get(bucket, key).await
    }

    async fn store(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        self.put_typed(bucket, key, body, content_type).await
    }
}
