//! In-memory fakes of warden-core's ports, for handler tests. Each fake records what was done to
//! it, so tests assert on effects, not on calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use warden_core::grant::Registry;
use warden_core::policy::render::KmsGrantSpec;
use warden_core::ports::{
    ConfigStore, GrantRef, GrantStore, KeyGrants, Notifier, PolicyStore, PortError,
};
use warden_core::reconcile::LiveGrant;

/// A registry held in memory: grant items with their state.
#[derive(Debug)]
pub struct FakeGrants {
    /// The registry returned by `load_registry` (or the error).
    pub registry: Mutex<Result<Registry, PortError>>,
    /// Items with `(grant, state)` for the expiry job.
    pub items: Mutex<Vec<(GrantRef, String)>>,
}

impl FakeGrants {
    /// A store holding this registry (each grant becomes an active `declared` item).
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        let items = registry
            .grants()
            .iter()
            .map(|g| {
                (
                    GrantRef {
                        account_id: g.account_id.to_string(),
                        grant_id: "declared".into(),
                        expiration_date: g.expiration_date.to_rfc3339(),
                        allowed_prefixes: g
                            .allowed_prefixes
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                        access_level: g.access_level.as_str().into(),
                    },
                    "active".to_owned(),
                )
            })
            .collect();
        FakeGrants {
            registry: Mutex::new(Ok(registry)),
            items: Mutex::new(items),
        }
    }
}

impl GrantStore for FakeGrants {
    async fn load_registry(&self, _now: DateTime<Utc>) -> Result<Registry, PortError> {
        self.registry.lock().unwrap().clone()
    }
    async fn expired(&self, now: DateTime<Utc>) -> Result<Vec<GrantRef>, PortError> {
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|(g, state)| state == "active" && g.expiration_date <= stamp)
            .map(|(g, _)| g.clone())
            .collect())
    }
    async fn accounts(&self) -> Result<Vec<String>, PortError> {
        let mut a: Vec<String> = self
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|(g, _)| g.account_id.clone())
            .collect();
        a.sort();
        a.dedup();
        Ok(a)
    }
    async fn revoke(&self, grant: &GrantRef, _now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut items = self.items.lock().unwrap();
        match items
            .iter_mut()
            .find(|(g, _)| g.account_id == grant.account_id && g.grant_id == grant.grant_id)
        {
            Some((_, state)) if state == "active" => {
                *state = "revoked".into();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Bucket policies held in memory.
#[derive(Debug, Default)]
pub struct FakePolicies {
    /// Bucket → policy.
    pub policies: Mutex<BTreeMap<String, String>>,
    /// Number of `put_bucket_policy` calls.
    pub puts: Mutex<usize>,
}

impl PolicyStore for FakePolicies {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        Ok(self.policies.lock().unwrap().get(bucket).cloned())
    }
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        *self.puts.lock().unwrap() += 1;
        self.policies
            .lock()
            .unwrap()
            .insert(bucket.to_owned(), policy.to_owned());
        Ok(())
    }
}

/// KMS grants held in memory.
#[derive(Debug, Default)]
pub struct FakeKeyGrants {
    /// Live grants.
    pub grants: Mutex<Vec<LiveGrant>>,
    next: Mutex<u64>,
}

impl KeyGrants for FakeKeyGrants {
    async fn list_grants(&self, _key_arn: &str) -> Result<Vec<LiveGrant>, PortError> {
        Ok(self.grants.lock().unwrap().clone())
    }
    async fn create_grant(&self, _key_arn: &str, spec: &KmsGrantSpec) -> Result<String, PortError> {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        let id = format!("grant-{n}");
        self.grants.lock().unwrap().push(LiveGrant {
            grant_id: id.clone(),
            name: Some(spec.name.clone()),
            grantee_principal: spec.grantee_principal.clone(),
            operations: spec.operations.clone(),
        });
        Ok(id)
    }
    async fn revoke_grant(&self, _key_arn: &str, grant_id: &str) -> Result<(), PortError> {
        self.grants
            .lock()
            .unwrap()
            .retain(|g| g.grant_id != grant_id);
        Ok(())
    }
}

/// Parameters held in memory.
#[derive(Debug, Default)]
pub struct FakeConfig {
    /// Name → value.
    pub values: BTreeMap<String, String>,
}

impl ConfigStore for FakeConfig {
    async fn get_parameter(&self, name: &str) -> Result<String, PortError> {
        self.values.get(name).cloned().ok_or_else(|| {
            PortError::new("ssm", "GetParameter", format!("ParameterNotFound: {name}"))
        })
    }
}

/// Published messages, in order.
#[derive(Debug, Default)]
pub struct FakeNotifier {
    /// `(subject, message)` pairs.
    pub messages: Mutex<Vec<(String, String)>>,
}

impl Notifier for FakeNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        self.messages
            .lock()
            .unwrap()
            .push((subject.to_owned(), message.to_owned()));
        Ok(())
    }
    async fn publish_for_account(
        &self,
        account_id: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), PortError> {
        self.messages
            .lock()
            .unwrap()
            .push((format!("[{account_id}] {subject}"), message.to_owned()));
        Ok(())
    }
}
