//! Create the runtime resources Terraform creates on AWS, with the same layout, through the SDK —
//! for the local emulator (tests and `make demo`). Never used against a real account.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use warden_core::ports::PortError;

fn e<E: std::error::Error + 'static, R: std::fmt::Debug>(
    service: &'static str,
    op: &'static str,
) -> impl Fn(aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError {
    move |err| {
        PortError::new(
            service,
            op,
            format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)),
        )
    }
}

fn attr(name: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|x| PortError::new("dynamodb", "CreateTable", x.to_string()))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|x| PortError::new("dynamodb", "CreateTable", x.to_string()))
}

/// The registry table: `account_id` + `grant_id`, GSI `by-expiry` (`grant_state` + `expiration_date`).
pub async fn create_registry_table(config: &SdkConfig, name: &str) -> Result<(), PortError> {
    let gsi = GlobalSecondaryIndex::builder()
        .index_name("by-expiry")
        .key_schema(key("grant_state", KeyType::Hash)?)
        .key_schema(key("expiration_date", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|x| PortError::new("dynamodb", "CreateTable", x.to_string()))?;
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("account_id")?)
        .attribute_definitions(attr("grant_id")?)
        .attribute_definitions(attr("grant_state")?)
        .attribute_definitions(attr("expiration_date")?)
        .key_schema(key("account_id", KeyType::Hash)?)
        .key_schema(key("grant_id", KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await
        .map_err(e("dynamodb", "CreateTable"))?;
    Ok(())
}

/// The access-log table: `event_id`, GSIs `by-account-time` and `by-object-time` (layout of
/// `warden_core::cloudtrail::normalise`).
pub async fn create_audit_table(config: &SdkConfig, name: &str) -> Result<(), PortError> {
    let gsi = |index: &str, hash: &str| -> Result<GlobalSecondaryIndex, PortError> {
        GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(hash, KeyType::Hash)?)
            .key_schema(key("timestamp", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|x| PortError::new("dynamodb", "CreateTable", x.to_string()))
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("event_id")?)
        .attribute_definitions(attr("account_id")?)
        .attribute_definitions(attr("timestamp")?)
        .attribute_definitions(attr("object_ref")?)
        .key_schema(key("event_id", KeyType::Hash)?)
        .global_secondary_indexes(gsi("by-account-time", "account_id")?)
        .global_secondary_indexes(gsi("by-object-time", "object_ref")?)
        .send()
        .await
        .map_err(e("dynamodb", "CreateTable"))?;
    Ok(())
}

/// The alert ledger: `event_id` (hash) + `detector` (range), as dynamodb-audit-logs.tf
/// declares it (see `crate::DynamoAlertLedger`).
pub async fn create_alert_ledger_table(config: &SdkConfig, name: &str) -> Result<(), PortError> {
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("event_id")?)
        .attribute_definitions(attr("detector")?)
        .attribute_definitions(attr("released")?)
        .key_schema(key("event_id", KeyType::Hash)?)
        .key_schema(key("detector", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(crate::alert_ledger::RELEASED_INDEX)
                .key_schema(key("released", KeyType::Hash)?)
                .key_schema(key("event_id", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|x| PortError::new("dynamodb", "CreateTable", x.to_string()))?,
        )
        .send()
        .await
        .map_err(e("dynamodb", "CreateTable"))?;
    Ok(())
}

/// A bucket.
pub async fn create_bucket(config: &SdkConfig, name: &str) -> Result<(), PortError> {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|x| {
            PortError::new(
                "s3",
                "CreateBucket",
                format!("{}", aws_sdk_s3::error::DisplayErrorContext(&x)),
            )
        })?;
    Ok(())
}

/// A symmetric customer-managed key; returns its ARN.
pub async fn create_key(config: &SdkConfig, description: &str) -> Result<String, PortError> {
    let out = aws_sdk_kms::Client::new(config)
        .create_key()
        .description(description)
        .send()
        .await
        .map_err(|x| {
            PortError::new(
                "kms",
                "CreateKey",
                format!("{}", aws_sdk_kms::error::DisplayErrorContext(&x)),
            )
        })?;
    out.key_metadata()
        .and_then(|m| m.arn())
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("kms", "CreateKey", "no key ARN in the response"))
}

/// A SecureString parameter.
pub async fn put_parameter(config: &SdkConfig, name: &str, value: &str) -> Result<(), PortError> {
    aws_sdk_ssm::Client::new(config)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .map_err(|x| {
            PortError::new(
                "ssm",
                "PutParameter",
                format!("{}", aws_sdk_ssm::error::DisplayErrorContext(&x)),
            )
        })?;
    Ok(())
}

/// A topic; returns its ARN.
pub async fn create_topic(config: &SdkConfig, name: &str) -> Result<String, PortError> {
    let out = aws_sdk_sns::Client::new(config)
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|x| {
            PortError::new(
                "sns",
                "CreateTopic",
                format!("{}", aws_sdk_sns::error::DisplayErrorContext(&x)),
            )
        })?;
    out.topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("sns", "CreateTopic", "no topic ARN in the response"))
}

/// A queue, optionally with a dead-letter queue after `max_receive` receives (as Terraform's
/// `redrive_policy`); returns its URL and ARN.
pub async fn create_queue(
    config: &SdkConfig,
    name: &str,
    dead_letter: Option<(&str, u32)>,
) -> Result<(String, String), PortError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut create = sqs.create_queue().queue_name(name);
    if let Some((dlq_arn, max_receive)) = dead_letter {
        create = create.attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})
                .to_string(),
        );
    }
    let url = create
        .send()
        .await
        .map_err(e("sqs", "CreateQueue"))?
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("sqs", "CreateQueue", "no queue URL in the response"))?;
    let arn = crate::local::queue_arn(&sqs, &url).await?;
    Ok((url, arn))
}

/// Subscribes a queue to a topic (locally, the approvers' mailbox stands in for e-mail).
pub async fn subscribe_queue(
    config: &SdkConfig,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<(), PortError> {
    aws_sdk_sns::Client::new(config)
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(e("sns", "Subscribe"))?;
    Ok(())
}

/// An EventBridge rule on the default bus with `pattern`, targeting a queue (as
/// `aws_cloudwatch_event_rule` + `aws_cloudwatch_event_target`).
pub async fn route_events_to_queue(
    config: &SdkConfig,
    rule: &str,
    pattern: &str,
    queue_arn: &str,
) -> Result<(), PortError> {
    let events = aws_sdk_eventbridge::Client::new(config);
    events
        .put_rule()
        .name(rule)
        .event_pattern(pattern)
        .send()
        .await
        .map_err(e("events", "PutRule"))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .map_err(|x| PortError::new("events", "PutTargets", x.to_string()))?;
    let out = events
        .put_targets()
        .rule(rule)
        .targets(target)
        .send()
        .await
        .map_err(e("events", "PutTargets"))?;
    if out.failed_entry_count() > 0 {
        return Err(PortError::new(
            "events",
            "PutTargets",
            format!("{} target(s) refused", out.failed_entry_count()),
        ));
    }
    Ok(())
}

/// A Step Functions state machine; returns its ARN.
pub async fn create_state_machine(
    config: &SdkConfig,
    name: &str,
    definition: &str,
    role_arn: &str,
) -> Result<String, PortError> {
    let out = aws_sdk_sfn::Client::new(config)
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(role_arn)
        .send()
        .await
        .map_err(e("states", "CreateStateMachine"))?;
    Ok(out.state_machine_arn().to_owned())
}

/// A role with an inline policy in another account, as `consumer-role/` creates it there. The
/// emulator scopes the credentials STS returns to the assumed role's account, so the role lands in
/// `account` (on AWS this is `terraform apply` in that account). Returns the role ARN.
pub async fn create_role_in_account(
    config: &SdkConfig,
    account: &str,
    role_name: &str,
    trust_policy: &str,
    inline_policy: Option<(&str, &str)>,
) -> Result<String, PortError> {
    let iam = iam_in_account(config, account).await?;
    // Idempotent, like a re-applied consumer-role/: an existing role keeps its name and gets the
    // declared trust and policy.
    match iam
        .create_role()
        .role_name(role_name)
        .assume_role_policy_document(trust_policy)
        .send()
        .await
    {
        Ok(_) => {}
        Err(x)
            if x.as_service_error().is_some_and(
                aws_sdk_iam::operation::create_role::CreateRoleError::is_entity_already_exists_exception,
            ) =>
        {
            iam.update_assume_role_policy()
                .role_name(role_name)
                .policy_document(trust_policy)
                .send()
                .await
                .map_err(e("iam", "UpdateAssumeRolePolicy"))?;
        }
        Err(x) => return Err(e("iam", "CreateRole")(x)),
    }
    if let Some((name, doc)) = inline_policy {
        put_role_policy_in_account(config, account, role_name, name, doc).await?;
    }
    Ok(format!("arn:aws:iam::{account}:role/{role_name}"))
}

/// Replaces an inline policy of a role in another account (plants role drift for the demo).
pub async fn put_role_policy_in_account(
    config: &SdkConfig,
    account: &str,
    role_name: &str,
    policy_name: &str,
    document: &str,
) -> Result<(), PortError> {
    iam_in_account(config, account)
        .await?
        .put_role_policy()
        .role_name(role_name)
        .policy_name(policy_name)
        .policy_document(document)
        .send()
        .await
        .map_err(e("iam", "PutRolePolicy"))?;
    Ok(())
}

async fn iam_in_account(
    config: &SdkConfig,
    account: &str,
) -> Result<aws_sdk_iam::Client, PortError> {
    crate::iam_as(
        config,
        &format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"),
        "warden-local-bootstrap",
    )
    .await
}

/// Deletes an inline policy of a role in another account.
pub async fn delete_role_policy_in_account(
    config: &SdkConfig,
    account: &str,
    role_name: &str,
    policy_name: &str,
) -> Result<(), PortError> {
    iam_in_account(config, account)
        .await?
        .delete_role_policy()
        .role_name(role_name)
        .policy_name(policy_name)
        .send()
        .await
        .map_err(e("iam", "DeleteRolePolicy"))?;
    Ok(())
}

/// Creates a trail delivering to `bucket` and starts it logging (the emulator's stand-in for
/// security-baseline/'s trail); returns its ARN.
pub async fn create_trail(
    config: &SdkConfig,
    name: &str,
    bucket: &str,
) -> Result<String, PortError> {
    let ct = aws_sdk_cloudtrail::Client::new(config);
    let out = ct
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .is_multi_region_trail(true)
        .send()
        .await
        .map_err(e("cloudtrail", "CreateTrail"))?;
    ct.start_logging()
        .name(name)
        .send()
        .await
        .map_err(e("cloudtrail", "StartLogging"))?;
    out.trail_arn()
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("cloudtrail", "CreateTrail", "no trail ARN"))
}

/// Stops a trail logging (what an attacker covering their tracks does).
pub async fn stop_trail(config: &SdkConfig, name: &str) -> Result<(), PortError> {
    aws_sdk_cloudtrail::Client::new(config)
        .stop_logging()
        .name(name)
        .send()
        .await
        .map_err(e("cloudtrail", "StopLogging"))?;
    Ok(())
}
