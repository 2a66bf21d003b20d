//! The AWS options every command that calls AWS takes: the default credential chain, or
//! `--profile`, `--region`, `--endpoint-url` (a local emulator).

/// `--profile`, `--region`, `--endpoint-url`, flattened into each command that calls AWS.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct AwsArgs {
    /// AWS profile (default: the credential chain's).
    #[arg(long)]
    pub profile: Option<String>,
    /// AWS Region (default: the credential chain's).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint (a local emulator); default AWS's.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The SDK configuration for these options.
    pub async fn config(&self) -> aws_config::SdkConfig {
        load(
            self.profile.as_deref(),
            self.region.as_deref(),
            self.endpoint_url.as_deref(),
        )
        .await
    }
}

/// The SDK configuration for these options.
async fn load(
    profile: Option<&str>,
    region: Option<&str>,
    endpoint_url: Option<&str>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    if let Some(u) = endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// A runtime for one command's calls (the CLI is otherwise synchronous).
///
/// # Errors
/// The runtime could not start.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
