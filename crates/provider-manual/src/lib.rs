#![doc = include_str!("../README.md")]

use async_trait::async_trait;
use availability_core::{AvailabilityStrategy, Capabilities, CoreError, ExternalEvent};
use availability_domain::{Appointment, Client, Expert, IntegrationType, Interval};

/// Hours typed in by the expert. Busy time is only the expert's confirmed appointments, which the
/// engine already subtracts; there is no external calendar to write to.
#[derive(Debug, Default, Clone, Copy)]
pub struct ManualStrategy;

impl ManualStrategy {
    /// The manual strategy (it has no settings).
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl AvailabilityStrategy for ManualStrategy {
    fn integration_type(&self) -> IntegrationType {
        IntegrationType::Manual
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::MANUAL
    }

    async fn busy_intervals(&self, _expert: &Expert, _window: Interval) -> Result<Vec<Interval>, CoreError> {
        Ok(Vec::new())
    }

    async fn create_appointment(
        &self,
        _expert: &Expert,
        _client: &Client,
        _appointment: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError> {
        Ok(None)
    }

    async fn update_appointment(
        &self,
        _expert: &Expert,
        _client: &Client,
        _appointment: &Appointment,
    ) -> Result<Option<ExternalEvent>, CoreError> {
        Ok(None)
    }

    async fn cancel_appointment(&self, _expert: &Expert, _appointment: &Appointment) -> Result<(), CoreError> {
        Ok(())
    }
}
