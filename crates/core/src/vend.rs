//! Credential vending decisions (access-validator): the registry, not the caller, decides.
//!
//! The caller's account comes from the authenticated request (API Gateway's SigV4 identity), never
//! from the request body; the requested prefix must lie inside one of that account's active
//! granted prefixes, and read-write needs a read-write grant. On allow, the session is cut down by
//! a session policy to exactly the requested prefix and level, and lasts at most `max_seconds`
//! (STS accepts 900 s at least; the policy's `DateLessThan` still ends access at the grant's
//! expiry).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::grant::{AccessLevel, AccountId, Grant, Prefix, Registry};
use crate::policy::access_point::{AccessPointRef, Tiering};
use crate::policy::render::{self, RenderSettings, SESSION_TAG_KEYS};

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendRequest {
    /// The prefix to access (inside a granted prefix).
    pub prefix: String,
    /// `read` (default) or `read-write`.
    #[serde(default)]
    pub access_level: Option<String>,
    /// Requested session length in seconds (900–3600; default the maximum).
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Vend credentials.
    Allow {
        /// The consumer role to assume.
        role_arn: String,
        /// Session policy (compact JSON).
        session_policy: String,
        /// Session length.
        duration_seconds: u32,
        /// Session tags `(key, value)`.
        tags: Vec<(String, String)>,
        /// The granted prefix the request falls under.
        granted_prefix: String,
        /// Level of the session.
        level: AccessLevel,
        /// The consumer's access point when it is on that tier: the session policy is scoped to
        /// it, and the consumer must read through it (the bucket policy does not name it).
        access_point: Option<AccessPointRef>,
    },
    /// Refuse, with the reason (also the audit record's error).
    Deny(String),
}

/// A session tag value for `s`: `s` itself when STS accepts it (at most 256 characters of letters,
/// digits, spaces and `_ . : / = + - @`), else `h-` and a 64-bit hash of it. S3 prefixes may hold
/// `!`, `'`, `(`, `)`, which STS refuses in tag values: a legal prefix must not fail the vending.
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html>
#[must_use]
pub fn session_tag_value(s: &str) -> String {
    let legal = s.chars().count() <= 256
        && s.chars().all(|c| {
            c.is_alphanumeric()
                || c.is_whitespace()
                || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
        });
    if legal {
        s.to_owned()
    } else {
        format!("h-{:016x}", crate::cloudtrail::parse::fnv1a(s.as_bytes()))
    }
}

/// The `SourceIdentity` of a vended session: `warden-` and the API request ID, reduced to what
/// STS accepts (2–64 characters of `[A-Za-z0-9_+=,.@-]`). STS keeps it on every session chained
/// from this one and CloudTrail records it, so each later call joins back to this decision.
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>
#[must_use]
pub fn source_identity(request_id: &str) -> String {
    let id: String = request_id
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        })
        .take(57)
        .collect();
    format!("warden-{}", if id.is_empty() { "unknown" } else { &id })
}

/// Decide on a request from `caller_account`.
///
/// # Errors
/// A malformed request, as `"<field>: <rule>"` (answered with HTTP 400, also audited).
pub fn decide(
    registry: &Registry,
    settings: &RenderSettings,
    tiering: &Tiering,
    caller_account: &str,
    req: &VendRequest,
    max_seconds: u32,
    now: DateTime<Utc>,
) -> Result<Verdict, String> {
    let account = AccountId::parse(caller_account).map_err(|e| format!("caller: {e}"))?;
    let prefix = Prefix::parse(&req.prefix).map_err(|e| e.to_string())?;
    let level = match req.access_level.as_deref() {
        None => AccessLevel::Read,
        Some(l) => AccessLevel::parse_canonical(l).map_err(|e| e.to_string())?,
    };
    let duration = req.duration_seconds.unwrap_or(max_seconds);
    if !(900..=max_seconds.max(900)).contains(&duration) {
        return Err(format!(
            "duration_seconds: must be between 900 and {max_seconds}"
        ));
    }
    let grants: Vec<&Grant> = registry
        .active(now)
        .filter(|g| g.account_id == account)
        .collect();
    if grants.is_empty() {
        return Ok(Verdict::Deny(format!(
            "account {account} holds no active grant"
        )));
    }
    let covering = grants.iter().find_map(|g| {
        g.allowed_prefixes
            .iter()
            .find(|p| prefix.as_str().starts_with(p.as_str()))
            .map(|p| (*g, p))
    });
    let Some((grant, granted)) = covering else {
        return Ok(Verdict::Deny(format!(
            "{} is outside the prefixes granted to account {account}",
            prefix
        )));
    };
    if level.can_write() && !grant.access_level.can_write() {
        return Ok(Verdict::Deny(format!(
            "account {account} has a read-only grant on {granted}"
        )));
    }
    // The session gets exactly the requested prefix and level, not the whole grant.
    let session_grant = Grant {
        access_level: level,
        ..grant.clone()
    };
    let access_point = tiering
        .access_point(registry, &account, settings)
        .map_err(|e| e.to_string())?;
    let policy = render::session_policy(
        &session_grant,
        &prefix,
        settings,
        access_point.as_ref().map(|a| a.arn.as_str()),
    )
    .map_err(|e| e.to_string())?;
    let tags = vec![
        (SESSION_TAG_KEYS[0].to_owned(), account.to_string()),
        (
            SESSION_TAG_KEYS[1].to_owned(),
            session_tag_value(prefix.as_str()),
        ),
        (SESSION_TAG_KEYS[2].to_owned(), level.as_str().to_owned()),
    ];
    Ok(Verdict::Allow {
        role_arn: settings.consumer_role_arn(&account),
        session_policy: policy.policy.to_compact_json(),
        duration_seconds: duration,
        tags,
        granted_prefix: granted.to_string(),
        level,
        access_point,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Timestamp;

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-23T10:00:00Z").unwrap().0
    }

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn registry() -> Registry {
        Registry::from_json(
            r#"{"consumer_accounts":[
              {"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2027-01-01T00:00:00Z"},
              {"account_id":"210000007007","allowed_prefixes":["data-science/"],"access_level":"read-write","expiration_date":"2027-01-01T00:00:00Z"},
              {"account_id":"210000019019","allowed_prefixes":["partners/"],"access_level":"read","expiration_date":"2026-01-01T00:00:00Z"}]}"#,
            now(),
        )
        .unwrap()
    }

    fn req(prefix: &str, level: Option<&str>) -> VendRequest {
        VendRequest {
            prefix: prefix.into(),
            access_level: level.map(Into::into),
            duration_seconds: None,
        }
    }

    /// A consumer on the access-point tier gets a session scoped to its access point (S3
    /// authorizes requests through an access point on the access point's ARN) and is told
    /// which access point to use; one on the bucket tier gets neither.
    #[test]
    fn access_point_consumers_get_sessions_scoped_to_their_access_point() {
        use crate::policy::access_point::SharingMode;
        let tiering = Tiering {
            mode: SharingMode::Auto { threshold: 1 },
            name_prefix: "warden-prod".into(),
        };
        let v = decide(
            &registry(),
            &settings(),
            &tiering,
            "210000007007",
            &req("data-science/models/", Some("read-write")),
            3600,
            now(),
        )
        .unwrap();
        let Verdict::Allow {
            session_policy,
            access_point,
            ..
        } = v
        else {
            panic!("{v:?}")
        };
        let ap = access_point.unwrap();
        assert_eq!(ap.name, "warden-prod-210000007007");
        assert_eq!(
            ap.arn,
            "arn:aws:s3:us-east-1:111111111111:accesspoint/warden-prod-210000007007"
        );
        assert!(session_policy.contains(&format!("{}/object/data-science/models/*", ap.arn)));
        assert!(
            session_policy.contains(&format!("\"{}\"", ap.arn)),
            "listing on the access point"
        );
        assert!(
            !session_policy.contains("arn:aws:s3:::shared"),
            "{session_policy}"
        );
        // The first consumer stays in the bucket policy.
        let Verdict::Allow {
            session_policy,
            access_point,
            ..
        } = decide(
            &registry(),
            &settings(),
            &tiering,
            "210000000000",
            &req("analytics/", None),
            3600,
            now(),
        )
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(access_point, None);
        assert!(session_policy.contains("arn:aws:s3:::shared/analytics/*"));
    }

    #[test]
    fn allows_sub_prefix_at_granted_level_only() {
        let v = decide(
            &registry(),
            &settings(),
            &Tiering::bucket_only(),
            "210000000000",
            &req("analytics/2026/", None),
            3600,
            now(),
        )
        .unwrap();
        let Verdict::Allow {
            role_arn,
            session_policy,
            duration_seconds,
            tags,
            ..
        } = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(role_arn, "arn:aws:iam::210000000000:role/warden-consumer");
        assert!(session_policy.contains("arn:aws:s3:::shared/analytics/2026/*"));
        assert!(!session_policy.contains("s3:PutObject"));
        assert_eq!(duration_seconds, 3600);
        assert_eq!(tags[1], ("warden-prefix".into(), "analytics/2026/".into()));
    }

    #[test]
    fn denies_and_names_why() {
        let r = registry();
        let d = |acct: &str, p: &str, l: Option<&str>| match decide(
            &r,
            &settings(),
            &Tiering::bucket_only(),
            acct,
            &req(p, l),
            3600,
            now(),
        )
        .unwrap()
        {
            Verdict::Deny(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(d("210000000000", "finance/", None).contains("outside the prefixes"));
        assert!(d("210000000000", "analytics/", Some("read-write")).contains("read-only grant"));
        assert!(d("999988887777", "analytics/", None).contains("no active grant"));
        assert!(
            d("210000019019", "partners/", None).contains("no active grant"),
            "expired"
        );
        let ok = decide(
            &r,
            &settings(),
            &Tiering::bucket_only(),
            "210000007007",
            &req("data-science/", Some("read-write")),
            3600,
            now(),
        )
        .unwrap();
        assert!(matches!(
            ok,
            Verdict::Allow {
                level: AccessLevel::ReadWrite,
                ..
            }
        ));
    }

    #[test]
    fn malformed_requests_name_the_field() {
        let r = registry();
        let e = decide(
            &r,
            &settings(),
            &Tiering::bucket_only(),
            "210000000000",
            &req("/abs/", None),
            3600,
            now(),
        )
        .unwrap_err();
        assert!(e.starts_with("prefix: must not start with '/'"), "{e}");
        let mut long = req("analytics/", None);
        long.duration_seconds = Some(7200);
        assert!(
            decide(
                &r,
                &settings(),
                &Tiering::bucket_only(),
                "210000000000",
                &long,
                3600,
                now()
            )
            .unwrap_err()
            .starts_with("duration_seconds")
        );
        assert!(
            decide(
                &r,
                &settings(),
                &Tiering::bucket_only(),
                "21",
                &req("analytics/", None),
                3600,
                now()
            )
            .unwrap_err()
            .starts_with("caller: account_id")
        );
    }

    /// Attack/failure: a legal S3 prefix with characters STS refuses in tag values (`'`, `(`,
    /// `)`, `!`) must still vend, with a derived tag value, instead of failing with 502.
    #[test]
    fn attack_prefix_with_characters_sts_refuses_in_tags_gets_a_derived_tag() {
        assert_eq!(session_tag_value("analytics/2026/"), "analytics/2026/");
        let derived = session_tag_value("it's (q1)!/");
        assert!(
            derived.starts_with("h-") && derived.len() == 18,
            "{derived}"
        );
        assert_eq!(derived, session_tag_value("it's (q1)!/"), "stable");
        assert_ne!(derived, session_tag_value("it's (q2)!/"));
        assert!(session_tag_value(&"a".repeat(257)).starts_with("h-"));
        assert_eq!(source_identity("c0ffee-12:34"), "warden-c0ffee-1234");
        assert!(source_identity(&"x".repeat(100)).len() <= 64);
    }
}
