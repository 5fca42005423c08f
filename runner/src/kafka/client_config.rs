//! The one way a librdkafka client's configuration is made, whatever the client is for: the
//! brokers, then the role's own settings (a producer's no-loss defaults, a consumer that never
//! commits on its own), then the user's properties (`sink.producer`, `offsets.consumer`), which
//! may override anything — security settings above all.

use rdkafka::ClientConfig;

/// A client configuration being built, in that order.
pub(crate) struct ClientConfigBuilder(ClientConfig);

impl ClientConfigBuilder {
    /// A client of `brokers` (`bootstrap.servers`).
    pub(crate) fn new(brokers: &str) -> ClientConfigBuilder {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        ClientConfigBuilder(config)
    }

    /// The role's settings, each overriding what came before.
    pub(crate) fn role(mut self, settings: &[(&str, &str)]) -> ClientConfigBuilder {
        for (name, value) in settings {
            self.0.set(*name, *value);
        }
        self
    }

    /// The user's properties, last: they override the role's settings.
    pub(crate) fn user<'a>(
        mut self,
        properties: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> ClientConfig {
        for (name, value) in properties {
            self.0.set(name.as_str(), value.as_str());
        }
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_has_the_last_word() {
        let user = [("acks".to_string(), "1".to_string())];
        let config = ClientConfigBuilder::new("k:9092")
            .role(&[("acks", "all"), ("retries", "5")])
            .user(user.iter().map(|(k, v)| (k, v)));
        assert_eq!(config.get("bootstrap.servers"), Some("k:9092"));
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("retries"), Some("5"));
    }
}
