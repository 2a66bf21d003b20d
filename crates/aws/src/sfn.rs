//! The approval workflow on Step Functions ([`SfnWorkflow`]).

use aws_config::SdkConfig;
use warden_core::ports::PortError;

/// The approval workflow on Step Functions.
#[derive(Debug, Clone)]
pub struct SfnWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnWorkflow {
    /// The workflow `state_machine_arn` (may be empty for a processor that only answers tasks).
    #[must_use]
    pub fn new(config: &SdkConfig, state_machine_arn: &str) -> Self {
        SfnWorkflow {
            client: aws_sdk_sfn::Client::new(config),
            state_machine_arn: state_machine_arn.to_owned(),
        }
    }
}

impl warden_core::ports::Workflow for SfnWorkflow {
    async fn start(&self, name: &str, input: &str) -> Result<(), PortError> {
        self.client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "states",
                    "StartExecution",
                    format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }

    async fn answer(
        &self,
        task_token: &str,
        outcome: Result<String, (String, String)>,
    ) -> Result<(), PortError> {
        match outcome {
            Ok(output) => self
                .client
                .send_task_success()
                .task_token(task_token)
                .output(output)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    PortError::new(
                        "states",
                        "SendTaskSuccess",
                        format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                    )
                }),
            Err((error, cause)) => self
                .client
                .send_task_failure()
                .task_token(task_token)
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    PortError::new(
                        "states",
                        "SendTaskFailure",
                        format!("{}", aws_sdk_sfn::error::DisplayErrorContext(&e)),
                    )
                }),
        }
    }
}
