//! The sample's page-view schemas: v1, then v2 which adds `country` (with a default) and
//! promotes `duration_ms` from int to long, so that reading old files with the newest schema
//! exercises Avro schema resolution.

pub(crate) const PAGE_VIEW_V1: &str = r#"{
  "type": "record",
  "name": "PageView",
  "namespace": "com.example.events",
  "doc": "One page served to a user.",
  "fields": [
    {"name": "header", "type": {
      "type": "record",
      "name": "EventHeader",
      "fields": [
        {"name": "time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "server", "type": "string"},
        {"name": "service", "type": "string"}
      ]
    }},
    {"name": "url", "type": "string"},
    {"name": "referrer", "type": ["null", "string"], "default": null},
    {"name": "user_id", "type": "long"},
    {"name": "session_id", "type": "string"},
    {"name": "user_agent", "type": "string"},
    {"name": "ip", "type": "string"},
    {"name": "duration_ms", "type": "int"}
  ]
}"#;

pub const PAGE_VIEW_V2: &str = r#"{
  "type": "record",
  "name": "PageView",
  "namespace": "com.example.events",
  "doc": "One page served to a user.",
  "fields": [
    {"name": "header", "type": {
      "type": "record",
      "name": "EventHeader",
      "fields": [
        {"name": "time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "server", "type": "string"},
        {"name": "service", "type": "string"}
      ]
    }},
    {"name": "url", "type": "string"},
    {"name": "referrer", "type": ["null", "string"], "default": null},
    {"name": "user_id", "type": "long"},
    {"name": "session_id", "type": "string"},
    {"name": "user_agent", "type": "string"},
    {"name": "ip", "type": "string"},
    {"name": "duration_ms", "type": "long"},
    {"name": "country", "type": "string", "default": "unknown"}
  ]
}"#;
