//! Who is asking and who is approving: principals parsed from the ARNs API Gateway verified (never
//! from a request body), the approver allow-list (`approver_principal_arns`) and the four-eyes
//! rule.
//!
//! Identities are compared, not strings: an assumed-role session
//! `arn:aws:sts::111111111111:assumed-role/data-owner/bob` *is* the role
//! `arn:aws:iam::111111111111:role/data-owner` (the session name is chosen by whoever calls
//! `sts:AssumeRole`, so it proves nothing). An assumed-role ARN has the form
//! `arn:<partition>:sts::<account>:assumed-role/<role-name>/<role-session-name>`: the role's name,
//! not its path (IAM identifiers,
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns),
//! so roles are matched on partition, account and role name.

use serde_json::Value;

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An IAM role, or a session of it (`assumed-role/…`).
    Role,
    /// An IAM user.
    User,
    /// An STS federated user (`GetFederationToken`).
    FederatedUser,
    /// The account root user.
    Root,
}

/// A principal, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `aws`, `aws-cn`, `aws-us-gov`…
    pub partition: String,
    /// 12-digit account ID.
    pub account: String,
    /// Role, user, federated user or root.
    pub kind: Kind,
    /// Role or user name (the last path segment); empty for root.
    pub name: String,
    /// The session name of an assumed-role session.
    pub session: Option<String>,
}

/// An identity that does not parse, naming the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule} (got {value:?})")]
pub struct IdentityError {
    /// e.g. `approver_principal_arns[1]`.
    pub field: String,
    /// What the value must be.
    pub rule: String,
    /// The value as given.
    pub value: String,
}

fn name_ok(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

impl Principal {
    /// Parse a role, user, assumed-role, federated-user or root ARN.
    ///
    /// # Errors
    /// The rule the ARN breaks.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [
            "arn",
            partition,
            service @ ("iam" | "sts"),
            "",
            account,
            resource,
        ] = parts.as_slice()
        else {
            return Err("must be an IAM or STS principal ARN (arn:<partition>:iam::<account>:role/<name>, …:user/<name>, arn:<partition>:sts::<account>:assumed-role/<role>/<session>)".into());
        };
        if !(*partition == "aws"
            || partition.strip_prefix("aws-").is_some_and(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            }))
        {
            return Err(format!("partition {partition:?} is not an AWS partition"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("account {account:?} must be 12 digits"));
        }
        let segments: Vec<&str> = resource.split('/').collect();
        let (kind, name, session) = match (*service, segments.as_slice()) {
            ("sts", ["assumed-role", role, session]) => {
                if !name_ok(role, 1, 64) || !name_ok(session, 2, 64) {
                    return Err("assumed-role/<role>/<session>: role and session names use [A-Za-z0-9+=,.@_-]".into());
                }
                (Kind::Role, *role, Some((*session).to_owned()))
            }
            ("sts", ["federated-user", user]) if name_ok(user, 2, 32) => {
                (Kind::FederatedUser, *user, None)
            }
            ("iam", ["root"]) => (Kind::Root, "", None),
            ("iam", [kind @ ("role" | "user"), .., last]) => {
                let path_ok = segments[1..segments.len() - 1]
                    .iter()
                    .all(|p| name_ok(p, 1, 512));
                if !path_ok || !name_ok(last, 1, 64) {
                    return Err(format!(
                        "{kind}/[path/]<name>: names use [A-Za-z0-9+=,.@_-]"
                    ));
                }
                let kind = if *kind == "role" {
                    Kind::Role
                } else {
                    Kind::User
                };
                (kind, *last, None)
            }
            _ => {
                return Err(format!(
                    "{resource:?} is not a role, user, assumed-role session, federated user or root"
                ));
            }
        };
        Ok(Principal {
            partition: (*partition).to_owned(),
            account: (*account).to_owned(),
            kind,
            name: name.to_owned(),
            session,
        })
    }

    /// The identity behind the principal, without the session: `arn:…:iam::<a>:role/<name>` for a
    /// role or its sessions, the user ARN (without path) for a user.
    #[must_use]
    pub fn identity(&self) -> String {
        let (service, what) = match self.kind {
            Kind::Role => ("iam", format!("role/{}", self.name)),
            Kind::User => ("iam", format!("user/{}", self.name)),
            Kind::FederatedUser => ("sts", format!("federated-user/{}", self.name)),
            Kind::Root => ("iam", "root".to_owned()),
        };
        format!("arn:{}:{service}::{}:{what}", self.partition, self.account)
    }
}

/// The approver allow-list: IAM roles and users whose sessions may decide access requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approvers(Vec<Principal>);

impl Approvers {
    /// From role and user ARNs (Terraform's `approver_principal_arns`).
    ///
    /// # Errors
    /// An entry is not a role or user ARN (root, sessions and federated users are refused: an
    /// approver is a named, long-lived identity).
    pub fn from_arns<S: AsRef<str>>(arns: &[S]) -> Result<Self, IdentityError> {
        let mut out = Vec::with_capacity(arns.len());
        for (i, arn) in arns.iter().enumerate() {
            let arn = arn.as_ref();
            let bad = |rule: String| IdentityError {
                field: format!("approver_principal_arns[{i}]"),
                rule,
                value: arn.to_owned(),
            };
            let p = Principal::parse(arn).map_err(bad)?;
            if p.session.is_some() || !matches!(p.kind, Kind::Role | Kind::User) {
                return Err(bad(
                    "must be an IAM role or user ARN (arn:<partition>:iam::<account>:role/<name> or …:user/<name>), not root, a session or a federated user".into(),
                ));
            }
            out.push(p);
        }
        Ok(Approvers(out))
    }

    /// From the `APPROVER_PRINCIPAL_ARNS` environment value: a JSON list of ARNs (Terraform's
    /// `jsonencode(var.approver_principal_arns)`); empty text is an empty list.
    ///
    /// # Errors
    /// Not a JSON list of strings, or an entry is not a role or user ARN.
    pub fn parse(json: &str) -> Result<Self, IdentityError> {
        if json.trim().is_empty() {
            return Ok(Approvers::default());
        }
        let arns: Vec<String> = serde_json::from_str(json).map_err(|e| IdentityError {
            field: "approver_principal_arns".into(),
            rule: format!("must be a JSON list of ARNs ({e})"),
            value: json.to_owned(),
        })?;
        Approvers::from_arns(&arns)
    }

    /// No approver configured: every decision is refused.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `caller` is (a session of) a listed role or user.
    #[must_use]
    pub fn admits(&self, caller: &Principal) -> bool {
        matches!(caller.kind, Kind::Role | Kind::User)
            && self.0.iter().any(|a| {
                a.kind == caller.kind
                    && a.partition == caller.partition
                    && a.account == caller.account
                    && a.name == caller.name
            })
    }
}

/// A caller as API Gateway verified it (SigV4, `AWS_IAM` authorization), or as the approval
/// workflow recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The verified ARN (`requestContext.identity.userArn`).
    pub arn: String,
    /// It, parsed.
    pub principal: Principal,
    /// The principal ID (`identity.user`, e.g. `AROA…:session`), when given.
    pub principal_id: Option<String>,
    /// The session's source identity, when given.
    pub source_identity: Option<String>,
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Caller {
    /// The caller of an API Gateway request: `requestContext.identity` (`userArn`, `accountId`,
    /// `user`/`caller`, and `sourceIdentity` when present). `userArn` and `accountId` are the
    /// identity API Gateway verified for an `AWS_IAM` method
    /// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
    ///
    /// # Errors
    /// No verified identity, or an ARN that is not a principal, or an account that disagrees.
    pub fn from_api_event(event: &Value) -> Result<Self, String> {
        let identity = &event["requestContext"]["identity"];
        let arn = opt_str(&identity["userArn"])
            .ok_or("no verified caller identity: call the Warden API with SigV4")?;
        let principal = Principal::parse(&arn).map_err(|e| format!("caller {arn}: {e}"))?;
        if let Some(account) = opt_str(&identity["accountId"])
            && account != principal.account
        {
            return Err(format!(
                "caller {arn}: accountId {account} is not the ARN's account"
            ));
        }
        Ok(Caller {
            arn,
            principal,
            principal_id: opt_str(&identity["user"]).or_else(|| opt_str(&identity["caller"])),
            source_identity: opt_str(&identity["sourceIdentity"]),
        })
    }

    /// A caller recorded as `{<prefix>, <prefix>_principal_id, <prefix>_source_identity}` in `v`
    /// (what [`Caller::record`] wrote).
    ///
    /// # Errors
    /// `<prefix>` is missing or not a principal ARN.
    pub fn from_record(v: &Value, prefix: &str) -> Result<Self, String> {
        let arn = opt_str(&v[prefix]).ok_or_else(|| format!("{prefix}: missing"))?;
        let principal = Principal::parse(&arn).map_err(|e| format!("{prefix}: {e}"))?;
        Ok(Caller {
            arn,
            principal,
            principal_id: opt_str(&v[format!("{prefix}_principal_id")]),
            source_identity: opt_str(&v[format!("{prefix}_source_identity")]),
        })
    }

    /// Record it as `{<prefix>, <prefix>_principal_id, <prefix>_source_identity}` into `out`.
    pub fn record(&self, prefix: &str, out: &mut serde_json::Map<String, Value>) {
        out.insert(prefix.to_owned(), Value::from(self.arn.clone()));
        if let Some(p) = &self.principal_id {
            out.insert(format!("{prefix}_principal_id"), Value::from(p.clone()));
        }
        if let Some(s) = &self.source_identity {
            out.insert(format!("{prefix}_source_identity"), Value::from(s.clone()));
        }
    }

    /// What names the person behind the session: its source identity and, for a role session,
    /// its session name (lower-cased).
    fn person_markers(&self) -> Vec<String> {
        self.source_identity
            .iter()
            .chain(self.principal.session.iter())
            .map(|s| s.to_lowercase())
            .collect()
    }

    /// The unique ID of the role or user (`AROA…` in `AROA…:session`), when known.
    fn unique_id(&self) -> Option<&str> {
        self.principal_id
            .as_deref()
            .and_then(|p| p.split(':').next())
            .filter(|id| !id.is_empty())
    }
}

/// Four eyes: may `approver` approve what `requester` asked for? Only the requester's ARN is
/// trusted for allowing (it is the stored one); its principal ID and source identity, when known,
/// only ever add refusals.
///
/// # Errors
/// Why not, in words for the registry's `decided_by` and the workflow's output.
pub fn four_eyes(
    approvers: &Approvers,
    requester: &Caller,
    approver: &Caller,
) -> Result<(), String> {
    let (r, a) = (&requester.principal, &approver.principal);
    if !approvers.admits(a) {
        return Err(format!(
            "approver {} is not in approver_principal_arns",
            approver.arn
        ));
    }
    if r.account == a.account {
        return Err(format!(
            "the requesting account {} may not approve its own request (approver {})",
            r.account, approver.arn
        ));
    }
    if r.identity() == a.identity() {
        return Err(format!(
            "approver {} is the requester's own identity {}",
            approver.arn,
            r.identity()
        ));
    }
    if let (Some(ra), Some(aa)) = (requester.unique_id(), approver.unique_id())
        && ra == aa
    {
        return Err(format!(
            "approver {} is the requester's own principal ({ra})",
            approver.arn
        ));
    }
    let requester_markers = requester.person_markers();
    if let Some(m) = approver
        .person_markers()
        .into_iter()
        .find(|m| requester_markers.contains(m))
    {
        return Err(format!(
            "approver {} and requester {} are the same person ({m:?} names both sessions)",
            approver.arn, requester.arn
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_principal_shapes_and_refuses_the_rest() {
        let s = Principal::parse("arn:aws:sts::210000000000:assumed-role/warden-consumer/alice")
            .unwrap();
        assert_eq!(
            (s.kind, s.name.as_str(), s.session.as_deref()),
            (Kind::Role, "warden-consumer", Some("alice"))
        );
        assert_eq!(
            s.identity(),
            "arn:aws:iam::210000000000:role/warden-consumer"
        );
        let r = Principal::parse("arn:aws:iam::111111111111:role/team/data-owner").unwrap();
        assert_eq!(r.identity(), "arn:aws:iam::111111111111:role/data-owner");
        let u = Principal::parse("arn:aws-us-gov:iam::111111111111:user/ops/bob").unwrap();
        assert_eq!((u.kind, u.name.as_str()), (Kind::User, "bob"));
        assert_eq!(
            Principal::parse("arn:aws:iam::111111111111:root")
                .unwrap()
                .kind,
            Kind::Root
        );
        for bad in [
            "",
            "alice",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::1111:role/x",
            "arn:evil:iam::111111111111:role/x",
            "arn:aws:sts::111111111111:assumed-role/x",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:iam::111111111111:role/a b",
            "arn:aws:iam::111111111111:group/admins",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_allow_list_takes_roles_and_users_only_and_matches_sessions_of_them() {
        let e = Approvers::from_arns(&["arn:aws:iam::111111111111:root"]).unwrap_err();
        assert_eq!(e.field, "approver_principal_arns[0]");
        assert!(Approvers::parse(r#"["arn:aws:sts::111111111111:assumed-role/r/s"]"#).is_err());
        assert!(Approvers::parse("not json").is_err());
        assert!(Approvers::parse("").unwrap().is_empty());
        let a = Approvers::parse(
            r#"["arn:aws:iam::111111111111:role/team/data-owner","arn:aws:iam::111111111111:user/carol"]"#,
        )
        .unwrap();
        let p = |arn: &str| Principal::parse(arn).unwrap();
        assert!(a.admits(&p(
            "arn:aws:sts::111111111111:assumed-role/data-owner/anyone"
        )));
        assert!(a.admits(&p("arn:aws:iam::111111111111:user/carol")));
        assert!(!a.admits(&p("arn:aws:sts::111111111111:assumed-role/data-owner2/bob")));
        assert!(!a.admits(&p("arn:aws:sts::222222222222:assumed-role/data-owner/bob")));
        assert!(!a.admits(&p("arn:aws:iam::111111111111:root")));
        assert!(!a.admits(&p("arn:aws:sts::111111111111:federated-user/carol")));
    }

    #[test]
    fn the_caller_comes_from_the_verified_request_context() {
        let ev = json!({"requestContext": {"identity": {"userArn": "arn:aws:sts::111111111111:assumed-role/data-owner/bob",
            "accountId": "111111111111", "user": "AROAEXAMPLE:bob"}}});
        let c = Caller::from_api_event(&ev).unwrap();
        assert_eq!(c.principal_id.as_deref(), Some("AROAEXAMPLE:bob"));
        let mut rec = serde_json::Map::new();
        c.record("approver", &mut rec);
        assert_eq!(
            Caller::from_record(&Value::Object(rec), "approver").unwrap(),
            c
        );
        let lying = json!({"requestContext": {"identity": {"userArn": "arn:aws:sts::111111111111:assumed-role/data-owner/bob",
            "accountId": "222222222222"}}});
        assert!(Caller::from_api_event(&lying).is_err());
        assert!(Caller::from_api_event(&json!({"body": "{}"})).is_err());
    }
}
