//! S3: bucket policies ([`S3PolicyStore`]) and reports ([`S3Reports`]).

use aws_config::SdkConfig;
use warden_core::ports::{PolicyStore, PortError};

/// Bucket policies through S3.
#[derive(Debug, Clone)]
pub struct S3PolicyStore {
    client: aws_sdk_s3::Client,
}

impl S3PolicyStore {
    /// A store on the S3 of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        // A local emulator on an IP address needs path-style addressing.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3PolicyStore {
            client: aws_sdk_s3::Client::from_conf(s3),
        }
    }
}

impl PolicyStore for S3PolicyStore {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        match self.client.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(out.policy().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                    == Some("NoSuchBucketPolicy") =>
            {
                Ok(None)
            }
            Err(e) => Err(PortError::new(
                "s3",
                "GetBucketPolicy",
                format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
            )),
        }
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        self.client
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "s3",
                    "PutBucketPolicy",
                    format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}

/// Reports in a bucket (the audit bucket's `cost-reports/`).
#[derive(Debug, Clone)]
pub struct S3Reports {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Reports {
    /// Reports written to `bucket`.
    #[must_use]
    pub fn new(config: &SdkConfig, bucket: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3Reports {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.to_owned(),
        }
    }
}

impl warden_core::ports::ReportStore for S3Reports {
    async fn put_report(&self, key: &str, body: &str, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .body(aws_sdk_s3::primitives::ByteStream::from(
                body.as_bytes().to_vec(),
            ))
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "s3",
                    "PutObject",
                    format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}
