//! `warden access request | approve | reject | credentials`: the Warden API
//! (`terraform/data-sharing/api/openapi.json`) called as its document says, signed with SigV4
//! (service `execute-api`) with the caller's credentials from the default chain or `--profile`.
//! The bodies are checked here with the same rules the handlers apply, so a mistake is named by
//! its flag before anything is sent; the API checks them again.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow, bail};
use aws_credential_types::provider::ProvideCredentials as _;
use chrono::{SecondsFormat, Utc};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use warden_core::grant::{AccessLevel, Prefix, Timestamp};

use crate::awscfg::AwsArgs;

/// Where the API is and whose credentials sign the calls.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// The API's stage URL (`terraform output api_url`), e.g.
    /// `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`.
    #[arg(long, env = "WARDEN_API_URL", value_name = "URL")]
    pub api_url: String,
    /// JSON (the API's answer) instead of lines for people.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Arguments of `warden access request`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: warden access request --api-url \"$API_URL\" --prefix finance/reports/ --level read --until 30d --justification 'Quarterly audit of the 2026 ledgers'"
)]
pub struct RequestArgs {
    /// A prefix wanted, ending with `/` (repeatable).
    #[arg(long = "prefix", required = true, value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// `read` or `read-write`.
    #[arg(long, default_value = "read")]
    pub level: String,
    /// Expiry: RFC 3339 (`2027-02-01T00:00:00Z`) or a duration from now (`30d`, `12h`, `2w`).
    #[arg(long, value_name = "TIME")]
    pub until: String,
    /// Why (10 to 1000 characters): shown to the approvers, kept in the registry.
    #[arg(long)]
    pub justification: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `warden access approve` and `warden access reject`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: warden access approve \"$TASK_TOKEN\" --api-url \"$API_URL\" --comment 'Matches the audit plan'"
)]
pub struct DecideArgs {
    /// The task token from the approvers' notice. (A request ID is not enough: the token is kept
    /// only in the notice, never in the registry or the workflow's logs.)
    pub token: String,
    /// A comment for the record (at most 1000 characters).
    #[arg(long, default_value = "")]
    pub comment: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How `warden access credentials` prints what it got.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum CredentialsFormat {
    /// `export AWS_ACCESS_KEY_ID=…` lines for a shell (`eval "$(warden access credentials …)"`).
    Env,
    /// The JSON `credential_process` reads (`Version: 1`), for `~/.aws/config`.
    CredentialProcess,
    /// The API's whole answer.
    Json,
}

/// Arguments of `warden access credentials`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: eval \"$(warden access credentials --api-url \"$API_URL\" --prefix analytics/2026/)\"\n\nIn ~/.aws/config (the source profile holds the consumer account's own credentials):\n  [profile warden-analytics]\n  credential_process = warden access credentials --api-url https://abc123.execute-api.eu-west-1.amazonaws.com/prod --prefix analytics/2026/ --format credential-process --profile consumer"
)]
pub struct CredentialsArgs {
    /// The prefix to access (inside a granted prefix, ending with `/`).
    #[arg(long)]
    pub prefix: String,
    /// `read` or `read-write` (the grant must allow it).
    #[arg(long, default_value = "read")]
    pub level: String,
    /// Session length in seconds, 900 to 3600 (default: the longest the deployment allows).
    #[arg(long, value_name = "SECONDS")]
    pub duration_seconds: Option<u32>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = CredentialsFormat::Env)]
    pub format: CredentialsFormat,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `--level` as the API takes it.
fn level(v: &str) -> Result<&'static str> {
    AccessLevel::parse_canonical(v)
        .map(|l| l.as_str())
        .map_err(|_| anyhow!("--level: must be \"read\" or \"read-write\" (got {v:?})"))
}

fn prefix(v: &str) -> Result<String> {
    Prefix::parse(v)
        .map(|p| p.as_str().to_owned())
        .map_err(|e| anyhow!("--prefix: {e}"))
}

/// The body of `POST /requests`.
///
/// # Errors
/// A flag that breaks the API's rules, named.
pub fn request_body(a: &RequestArgs, now: chrono::DateTime<Utc>) -> Result<Value> {
    let prefixes = a
        .prefixes
        .iter()
        .map(|p| prefix(p))
        .collect::<Result<Vec<_>>>()?;
    let until = if a.until.contains('T') {
        Timestamp::parse(&a.until)
            .map_err(|e| anyhow!("--until: {e}"))?
            .0
    } else {
        now + crate::grants::duration("--until", &a.until)?
    };
    if until <= now {
        bail!("--until: must be in the future (got {})", a.until);
    }
    let n = a.justification.trim().chars().count();
    if !(10..=1000).contains(&n) {
        bail!("--justification: 10 to 1000 characters (got {n})");
    }
    Ok(json!({
        "prefixes": prefixes,
        "access_level": level(&a.level)?,
        "expiration_date": until.to_rfc3339_opts(SecondsFormat::Secs, true),
        "justification": a.justification.trim(),
    }))
}

/// The body of `POST /approvals`.
///
/// # Errors
/// An empty or over-long token or comment, named.
pub fn decision_body(a: &DecideArgs, decision: &str) -> Result<Value> {
    let len = a.token.chars().count();
    if !(1..=2048).contains(&len) {
        bail!("TOKEN: the task token is 1 to 2048 characters (got {len})");
    }
    if a.comment.chars().count() > 1000 {
        bail!("--comment: at most 1000 characters");
    }
    let mut body = json!({"task_token": a.token, "decision": decision});
    if !a.comment.is_empty() {
        body["comment"] = json!(a.comment);
    }
    Ok(body)
}

/// The body of `POST /credentials`.
///
/// # Errors
/// A flag that breaks the API's rules, named.
pub fn credentials_body(a: &CredentialsArgs) -> Result<Value> {
    let mut body = json!({"prefix": prefix(&a.prefix)?, "access_level": level(&a.level)?});
    if let Some(d) = a.duration_seconds {
        if !(900..=3600).contains(&d) {
            bail!("--duration-seconds: 900 to 3600 (got {d})");
        }
        body["duration_seconds"] = json!(d);
    }
    Ok(body)
}

/// The Region in an `execute-api` host (`<id>.execute-api.<region>.amazonaws.com`).
#[must_use]
pub fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split(['/', ':']).next()?;
    let mut parts = host.split('.');
    parts.next()?;
    (parts.next()? == "execute-api")
        .then(|| parts.next().map(str::to_owned))
        .flatten()
}

/// A signed `POST <api_url><path>` with a JSON body: the status and the answer.
async fn post(api: &ApiArgs, path: &str, body: &Value) -> Result<(u16, Value)> {
    let cfg = api.aws.config().await;
    let region = api
        .aws
        .region
        .clone()
        .or_else(|| region_of(&api.api_url))
        .or_else(|| cfg.region().map(ToString::to_string))
        .ok_or_else(|| {
            anyhow!(
                "--region: needed to sign for {} (no Region in the URL or the profile)",
                api.api_url
            )
        })?;
    let provider = cfg.credentials_provider().ok_or_else(|| {
        anyhow!("no AWS credentials: set a profile (--profile) or AWS_* variables")
    })?;
    let creds = provider
        .provide_credentials()
        .await
        .context("reading the AWS credentials that sign the call")?;
    let url = format!("{}{path}", api.api_url.trim_end_matches('/'));
    let text = body.to_string();
    let identity = creds.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("execute-api")
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .context("SigV4 signing parameters")?
        .into();
    let headers = [("content-type", "application/json")];
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        aws_sigv4::http_request::SignableBody::Bytes(text.as_bytes()),
    )
    .with_context(|| format!("--api-url: {url} is not a URL"))?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .context("signing the request")?
        .into_parts();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(text)))
        .with_context(|| format!("--api-url: {url} is not a URL"))?;
    instructions.apply_to_request_http1x(&mut req);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("loading the system's CA certificates")?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https);
    let resp = tokio::time::timeout(std::time::Duration::from_secs(60), client.request(req))
        .await
        .map_err(|_| anyhow!("{url}: no answer within 60 s"))?
        .with_context(|| format!("calling {url}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer of {url}"))?
        .to_bytes();
    let answer = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        // API Gateway's own refusals (403 from the resource policy, 400 from validation) are
        // JSON with `message`; anything else is shown as it came.
        json!({"error": String::from_utf8_lossy(&bytes)})
    });
    Ok((status, answer))
}

/// The API's refusal as one line: its `error`, or API Gateway's own `message`.
fn refusal(answer: &Value) -> String {
    answer["error"]
        .as_str()
        .or_else(|| answer["message"].as_str())
        .map_or_else(|| answer.to_string(), str::to_owned)
}

/// Exit code for a non-2xx status: 3 refused (403), 1 a body the API refused (400, 409), 2 the
/// API unreachable or failing (5xx).
fn failed(status: u16, path: &str, answer: &Value) -> ExitCode {
    eprintln!("error: POST {path} answered {status}: {}", refusal(answer));
    match status {
        403 => ExitCode::from(3),
        400..=499 => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

fn call(api: &ApiArgs, path: &str, body: &Value) -> Result<(u16, Value)> {
    crate::awscfg::runtime()?.block_on(post(api, path, body))
}

/// `warden access request`.
///
/// # Errors
/// A flag breaks the API's rules, or the API cannot be reached.
pub fn request(a: &RequestArgs) -> Result<ExitCode> {
    let body = request_body(a, Utc::now())?;
    let (status, answer) = call(&a.api, "/requests", &body)?;
    if status != 202 {
        return Ok(failed(status, "/requests", &answer));
    }
    let mut out = io::stdout().lock();
    if a.api.json {
        writeln!(out, "{answer}")?;
    } else {
        writeln!(
            out,
            "{}: {} (the approvers are notified; `warden grants list --state pending` shows it)",
            answer["request_id"].as_str().unwrap_or("?"),
            answer["status"].as_str().unwrap_or("?")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `warden access approve` / `warden access reject`.
///
/// # Errors
/// An argument breaks the API's rules, or the API cannot be reached.
pub fn decide(a: &DecideArgs, decision: &str) -> Result<ExitCode> {
    let body = decision_body(a, decision)?;
    let (status, answer) = call(&a.api, "/approvals", &body)?;
    if status != 200 {
        return Ok(failed(status, "/approvals", &answer));
    }
    let mut out = io::stdout().lock();
    if a.api.json {
        writeln!(out, "{answer}")?;
    } else {
        writeln!(
            out,
            "{decision}: {} by {}",
            answer["status"].as_str().unwrap_or("?"),
            answer["approver"].as_str().unwrap_or("?")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `warden access credentials` prints for an answer of `POST /credentials`.
///
/// # Errors
/// The answer lacks the credentials the document promises.
pub fn render_credentials(answer: &Value, format: CredentialsFormat) -> Result<String> {
    let c = &answer["credentials"];
    let field = |k: &str| {
        c[k].as_str()
            .ok_or_else(|| anyhow!("the API's answer has no credentials.{k}: {answer}"))
    };
    let (id, secret, token, exp) = (
        field("access_key_id")?,
        field("secret_access_key")?,
        field("session_token")?,
        field("expiration")?,
    );
    Ok(match format {
        CredentialsFormat::Json => answer.to_string(),
        CredentialsFormat::CredentialProcess => json!({"Version": 1, "AccessKeyId": id,
            "SecretAccessKey": secret, "SessionToken": token, "Expiration": exp})
        .to_string(),
        CredentialsFormat::Env => {
            let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
            let mut s = format!(
                "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n",
                q(id),
                q(secret),
                q(token)
            );
            s.push_str(&format!(
                "# expires {exp}; bucket: {}\n",
                answer["bucket"].as_str().unwrap_or("?")
            ));
            if let Some(ex) = answer["example"].as_str() {
                s.push_str(&format!("# e.g. {ex}\n"));
            }
            s.trim_end().to_owned()
        }
    })
}

/// `warden access credentials`.
///
/// # Errors
/// A flag breaks the API's rules, or the API cannot be reached.
pub fn credentials(a: &CredentialsArgs) -> Result<ExitCode> {
    let body = credentials_body(a)?;
    let (status, answer) = call(&a.api, "/credentials", &body)?;
    if status != 200 {
        return Ok(failed(status, "/credentials", &answer));
    }
    let format = if a.api.json {
        CredentialsFormat::Json
    } else {
        a.format
    };
    writeln!(
        io::stdout().lock(),
        "{}",
        render_credentials(&answer, format)?
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn api() -> ApiArgs {
        ApiArgs {
            api_url: "https://abc.execute-api.eu-west-1.amazonaws.com/prod".into(),
            json: false,
            aws: AwsArgs::default(),
        }
    }

    #[test]
    fn the_region_comes_from_an_execute_api_host() {
        assert_eq!(region_of(&api().api_url).as_deref(), Some("eu-west-1"));
        assert_eq!(region_of("http://127.0.0.1:4566/prod"), None);
        assert_eq!(region_of("https://api.example.com/prod"), None);
    }

    #[test]
    fn bodies_are_refused_by_flag_before_anything_is_sent() {
        let now = Timestamp::parse("2026-12-01T00:00:00Z").unwrap().0;
        let req = |prefix: &str, level: &str, until: &str, why: &str| RequestArgs {
            prefixes: vec![prefix.into()],
            level: level.into(),
            until: until.into(),
            justification: why.into(),
            api: api(),
        };
        let ok = request_body(&req("a/", "read", "30d", "a good reason"), now).unwrap();
        assert_eq!(ok["expiration_date"], "2026-12-31T00:00:00Z");
        for (r, flag) in [
            (req("a", "read", "30d", "a good reason"), "--prefix"),
            (req("a/", "write", "30d", "a good reason"), "--level"),
            (
                req("a/", "read", "2020-01-01T00:00:00Z", "a good reason"),
                "--until",
            ),
            (req("a/", "read", "soon", "a good reason"), "--until"),
            (req("a/", "read", "30d", "short"), "--justification"),
        ] {
            let e = request_body(&r, now).unwrap_err().to_string();
            assert!(e.starts_with(flag), "{flag}: {e}");
        }
        let d = |token: &str| DecideArgs {
            token: token.into(),
            comment: String::new(),
            api: api(),
        };
        assert!(
            decision_body(&d(""), "approve")
                .unwrap_err()
                .to_string()
                .starts_with("TOKEN")
        );
        assert_eq!(
            decision_body(&d("t"), "reject").unwrap(),
            json!({"task_token": "t", "decision": "reject"})
        );
        let c = |d: Option<u32>| CredentialsArgs {
            prefix: "a/".into(),
            level: "read".into(),
            duration_seconds: d,
            format: CredentialsFormat::Env,
            api: api(),
        };
        assert!(
            credentials_body(&c(Some(60)))
                .unwrap_err()
                .to_string()
                .starts_with("--duration-seconds")
        );
        assert_eq!(
            credentials_body(&c(None)).unwrap(),
            json!({"prefix": "a/", "access_level": "read"})
        );
    }

    #[test]
    fn credentials_print_for_a_shell_and_for_credential_process() {
        let answer = json!({"credentials": {"access_key_id": "ASIA1", "secret_access_key": "s'ecret",
            "session_token": "tok", "expiration": "2026-12-01T01:00:00Z"}, "bucket": "b", "example": "aws s3 ls s3://b/a/"});
        let env = render_credentials(&answer, CredentialsFormat::Env).unwrap();
        assert!(
            env.contains("export AWS_SECRET_ACCESS_KEY='s'\\''ecret'"),
            "{env}"
        );
        let cp: Value = serde_json::from_str(
            &render_credentials(&answer, CredentialsFormat::CredentialProcess).unwrap(),
        )
        .unwrap();
        assert_eq!(
            cp,
            json!({"Version": 1, "AccessKeyId": "ASIA1", "SecretAccessKey": "s'ecret",
            "SessionToken": "tok", "Expiration": "2026-12-01T01:00:00Z"})
        );
        assert!(render_credentials(&json!({}), CredentialsFormat::Env).is_err());
    }
}
