//! `policy-change`: bucket policy, ACL, public access block, encryption, versioning or
//! replication changes; IAM role and policy changes; KMS key policy changes.

use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

macro_rules! policy_events {
    ($(($source:literal, $name:literal)),+ $(,)?) => {
        /// (event source, event name) pairs that change who can access what.
        pub const POLICY_EVENTS: [(&str, &str); [$($name),+].len()] = [$(($source, $name)),+];

        /// Whether a name is in [`POLICY_EVENTS`]: a `match`, so the S3 data events that make up
        /// most records are ruled out by their length without scanning the table.
        fn listed_name(name: &str) -> bool {
            matches!(name, $($name)|+)
        }
    };
}

policy_events!(
    ("s3.amazonaws.com", "PutBucketPolicy"),
    ("s3.amazonaws.com", "DeleteBucketPolicy"),
    ("s3.amazonaws.com", "PutBucketAcl"),
    ("s3.amazonaws.com", "PutBucketPublicAccessBlock"),
    ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock"),
    ("s3.amazonaws.com", "PutBucketEncryption"),
    ("s3.amazonaws.com", "DeleteBucketEncryption"),
    ("s3.amazonaws.com", "PutBucketVersioning"),
    ("s3.amazonaws.com", "PutBucketReplication"),
    ("s3.amazonaws.com", "DeleteBucketReplication"),
    ("s3.amazonaws.com", "PutBucketOwnershipControls"),
    ("s3.amazonaws.com", "PutAccountPublicAccessBlock"),
    ("s3.amazonaws.com", "DeleteAccountPublicAccessBlock"),
    ("iam.amazonaws.com", "CreateRole"),
    ("iam.amazonaws.com", "DeleteRole"),
    ("iam.amazonaws.com", "UpdateRole"),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
    ("iam.amazonaws.com", "PutRolePolicy"),
    ("iam.amazonaws.com", "DeleteRolePolicy"),
    ("iam.amazonaws.com", "AttachRolePolicy"),
    ("iam.amazonaws.com", "DetachRolePolicy"),
    ("iam.amazonaws.com", "PutRolePermissionsBoundary"),
    ("iam.amazonaws.com", "DeleteRolePermissionsBoundary"),
    ("iam.amazonaws.com", "CreatePolicy"),
    ("iam.amazonaws.com", "CreatePolicyVersion"),
    ("iam.amazonaws.com", "DeletePolicy"),
    ("iam.amazonaws.com", "SetDefaultPolicyVersion"),
    ("iam.amazonaws.com", "PutUserPolicy"),
    ("iam.amazonaws.com", "AttachUserPolicy"),
    ("kms.amazonaws.com", "PutKeyPolicy"),
    ("s3control.amazonaws.com", "PutPublicAccessBlock"),
);

#[derive(Debug)]
pub(super) struct PolicyChange;

impl Detector for PolicyChange {
    fn name(&self) -> &'static str {
        "policy-change"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if !r.success_status
            || !listed_name(&r.event_name)
            || !POLICY_EVENTS
                .iter()
                .any(|(s, n)| *s == r.event_source && *n == r.event_name)
        {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::High,
            r,
            format!("{} by {}", r.action, r.principal_arn),
            details!({"action": r.action, "principal_arn": r.principal_arn, "bucket": r.bucket, "source_ip": r.source_ip}),
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_match_admits_exactly_the_listed_events() {
        for (_, name) in super::POLICY_EVENTS {
            assert!(super::listed_name(name), "{name}");
        }
        for name in [
            "GetObject",
            "PutObject",
            "PutBucketPolicyX",
            "",
            "CreateRoles",
        ] {
            assert!(!super::listed_name(name), "{name}");
        }
    }

    use super::super::testutil::with;
    use super::*;

    #[test]
    fn fires_on_successful_policy_changes_only() {
        let mut out = Vec::new();
        PolicyChange.observe(&with(|_| {}), &mut out);
        PolicyChange.observe(
            &with(|r| {
                r.event_name = "PutBucketPolicy".into();
                r.success_status = false;
            }),
            &mut out,
        );
        assert!(out.is_empty());
        PolicyChange.observe(&with(|r| r.event_name = "PutBucketPolicy".into()), &mut out);
        PolicyChange.observe(
            &with(|r| {
                r.event_source = "iam.amazonaws.com".into();
                r.event_name = "UpdateAssumeRolePolicy".into();
            }),
            &mut out,
        );
        PolicyChange.observe(
            &with(|r| {
                r.event_source = "kms.amazonaws.com".into();
                r.event_name = "PutKeyPolicy".into();
            }),
            &mut out,
        );
        assert_eq!(out.len(), 3);
    }
}
