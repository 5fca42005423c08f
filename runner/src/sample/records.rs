//! Page-view records that look real (~300 bytes each), drawn from a seeded generator.

use apache_avro::types::Value;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const SECTIONS: &[&str] = &[
    "news", "sport", "weather", "travel", "tech", "culture", "shop",
];
const REFERRERS: &[&str] = &[
    "https://www.google.com/search?q=example",
    "https://www.bing.com/search?q=example+news",
    "https://t.co/a8Xk2mQp",
    "https://www.facebook.com/",
    "https://news.ycombinator.com/item?id=4100231",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
];
const COUNTRIES: &[&str] = &["FR", "US", "DE", "JP", "BR", "IN", "GB"];

/// One page view at `time_ms`, in schema v1 (`v2 == false`) or v2.
pub(super) fn page_view(rng: &mut ChaCha8Rng, time_ms: i64, v2: bool) -> Value {
    let section = SECTIONS[rng.random_range(0..SECTIONS.len())];
    let url = format!(
        "https://www.example.com/{section}/{:08x}-{}?utm_source=feed&page={}",
        rng.random::<u32>(),
        ["story", "live", "gallery", "video"][rng.random_range(0..4)],
        rng.random_range(1..20)
    );
    let referrer = if rng.random_bool(0.35) {
        Value::Union(0, Box::new(Value::Null))
    } else {
        let r = REFERRERS[rng.random_range(0..REFERRERS.len())];
        Value::Union(1, Box::new(Value::String(r.to_string())))
    };
    let session_id = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let ip = format!(
        "10.{}.{}.{}",
        rng.random::<u8>(),
        rng.random::<u8>(),
        rng.random::<u8>()
    );
    let duration: i64 = rng.random_range(5..30_000);
    let mut fields = vec![
        (
            "header".to_string(),
            Value::Record(vec![
                ("time".to_string(), Value::TimestampMillis(time_ms)),
                (
                    "server".to_string(),
                    Value::String(format!(
                        "web-{:02}.dc1.example.com",
                        rng.random_range(1..13)
                    )),
                ),
                (
                    "service".to_string(),
                    Value::String("page-view-frontend".to_string()),
                ),
            ]),
        ),
        ("url".to_string(), Value::String(url)),
        ("referrer".to_string(), referrer),
        (
            "user_id".to_string(),
            Value::Long(rng.random_range(1..50_000_000)),
        ),
        ("session_id".to_string(), Value::String(session_id)),
        (
            "user_agent".to_string(),
            Value::String(USER_AGENTS[rng.random_range(0..USER_AGENTS.len())].to_string()),
        ),
        ("ip".to_string(), Value::String(ip)),
    ];
    if v2 {
        fields.push(("duration_ms".to_string(), Value::Long(duration)));
        fields.push((
            "country".to_string(),
            Value::String(COUNTRIES[rng.random_range(0..COUNTRIES.len())].to_string()),
        ));
    } else {
        fields.push(("duration_ms".to_string(), Value::Int(duration as i32)));
    }
    Value::Record(fields)
}
