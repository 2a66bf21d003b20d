//! S3 Control: the shared bucket's access points and their policies ([`S3AccessPoints`]).
//!
//! Every S3 Control call names the account that owns the access point (`x-amz-account-id`), and
//! on AWS the SDK sends it to `<account>.s3-control.<region>.amazonaws.com`
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutAccessPointPolicy.html). A
//! local emulator on an IP address has no such host names: for an endpoint on a loopback or IP
//! address the client resolves every call to that endpoint itself (nothing changes on AWS).

use aws_config::SdkConfig;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::error::ProvideErrorMetadata;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use warden_core::ports::{AccessPoints, LiveAccessPoint, PortError};

/// Access points owned by one account (the primary account), through S3 Control.
#[derive(Debug, Clone)]
pub struct S3AccessPoints {
    client: aws_sdk_s3control::Client,
    account_id: String,
}

/// Resolves every call to one local endpoint (no `<account>.` host prefix).
#[derive(Debug)]
struct LocalEndpoint(String);

impl ResolveEndpoint for LocalEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

/// Whether `url` points at an IP address or `localhost` (an emulator, not an AWS endpoint).
fn is_local(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// A failed S3 Control call: AWS's code, message and request ID (see [`crate::util::sdk_err`]).
fn err<E, R>(op: &'static str) -> impl Fn(aws_sdk_s3control::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    crate::util::sdk_err("s3control", op)
}

impl S3AccessPoints {
    /// Access points of `account_id` on the S3 Control of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig, account_id: &str) -> Self {
        let mut b = aws_sdk_s3control::config::Builder::from(config);
        if let Some(url) = config.endpoint_url().filter(|u| is_local(u)) {
            b = b.endpoint_resolver(LocalEndpoint(url.to_owned()));
        }
        S3AccessPoints {
            client: aws_sdk_s3control::Client::from_conf(b.build()),
            account_id: account_id.to_owned(),
        }
    }
}

impl AccessPoints for S3AccessPoints {
    async fn list_access_points(&self, bucket: &str) -> Result<Vec<LiveAccessPoint>, PortError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_access_points()
                .account_id(&self.account_id)
                .bucket(bucket)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(err("ListAccessPoints"))?;
            out.extend(page.access_point_list().iter().map(|ap| LiveAccessPoint {
                name: ap.name().to_owned(),
                bucket: ap.bucket().to_owned(),
                alias: ap.alias().map(str::to_owned),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn create_access_point(&self, name: &str, bucket: &str) -> Result<(), PortError> {
        self.client
            .create_access_point()
            .account_id(&self.account_id)
            .name(name)
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(err("CreateAccessPoint"))?;
        Ok(())
    }

    async fn get_access_point_policy(&self, name: &str) -> Result<Option<String>, PortError> {
        match self
            .client
            .get_access_point_policy()
            .account_id(&self.account_id)
            .name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.policy().map(str::to_owned)),
            Err(e)
                if e.as_service_error().and_then(ProvideErrorMetadata::code)
                    == Some("NoSuchAccessPointPolicy") =>
            {
                Ok(None)
            }
            Err(e) => Err(err("GetAccessPointPolicy")(e)),
        }
    }

    async fn put_access_point_policy(&self, name: &str, policy: &str) -> Result<(), PortError> {
        self.client
            .put_access_point_policy()
            .account_id(&self.account_id)
            .name(name)
            .policy(policy)
            .send()
            .await
            .map_err(err("PutAccessPointPolicy"))?;
        Ok(())
    }

    async fn delete_access_point_policy(&self, name: &str) -> Result<(), PortError> {
        match self
            .client
            .delete_access_point_policy()
            .account_id(&self.account_id)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already gone: the change it was meant to make is made.
            Err(e)
                if e.as_service_error().and_then(ProvideErrorMetadata::code)
                    == Some("NoSuchAccessPointPolicy") =>
            {
                Ok(())
            }
            Err(e) => Err(err("DeleteAccessPointPolicy")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn only_emulator_endpoints_bypass_the_account_host() {
        assert!(is_local("http://127.0.0.1:5000"));
        assert!(is_local("http://localhost:4566/"));
        assert!(!is_local("https://s3-control.us-east-1.amazonaws.com"));
        assert!(!is_local(
            "https://vpce-1a2b.s3-control.us-east-1.vpce.amazonaws.com"
        ));
    }
}
