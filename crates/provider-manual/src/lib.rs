#![doc = include_str!("../README.md")]

use std::sync::Arc;

use availability_core::provider::{ConnectMethod, Features, ProviderContext, ProviderDescriptor, ProviderSetupError};
use availability_core::{AvailabilityStrategy, Provider};
use availability_domain::IntegrationType;

/// Hours typed in by the expert: slots come from the engine over the weekly rules and overrides,
/// minus the expert's confirmed appointments. No busy-time source, no event writer, no
/// scheduler: the service's engine does all of it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ManualStrategy;

impl ManualStrategy {
    /// The strategy.
    pub fn new() -> Self {
        Self
    }
}

impl AvailabilityStrategy for ManualStrategy {
    fn integration_type(&self) -> IntegrationType {
        IntegrationType::MANUAL
    }

    fn display_name(&self) -> &'static str {
        "Your hours only"
    }
}

/// The manual provider: always available, nothing to connect.
#[derive(Debug)]
pub struct ManualProvider {
    descriptor: ProviderDescriptor,
    strategy: Arc<ManualStrategy>,
}

impl Provider for ManualProvider {
    fn descriptor(&self) -> &ProviderDescriptor {
        &self.descriptor
    }

    fn strategy(&self) -> Option<Arc<dyn AvailabilityStrategy>> {
        Some(self.strategy.clone())
    }
}

/// Registers the manual provider (it reads no settings).
pub fn register(_context: &ProviderContext) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    Ok(Arc::new(ManualProvider {
        descriptor: ProviderDescriptor {
            integration_type: IntegrationType::MANUAL,
            display_name: "Your hours only",
            description: "Clients book the free times of your weekly hours and overrides.",
            calendar_type: None,
            connect: ConnectMethod::None,
            credential_fields: Vec::new(),
            features: Features::default(),
            push: false,
        },
        strategy: Arc::new(ManualStrategy),
    }))
}
