//! `c2k sample DIR`: a realistic Camus tree (data and execution history) for demos and tests.
//!
//! Written, deterministically for a seed:
//! - `DIR/destination/<TOPIC>/hourly/YYYY/MM/DD/HH/<topic>.<leader>.<partition>.<count>.<next
//!   offset>.<hour epoch ms>.avro`: one file per partition per hour, each a contiguous run of
//!   offsets, named as Camus names them (the offset field is the last offset + 1); with
//!   `by_event_time`, each record in the bucket of its own time (hours, days in
//!   `daily/YYYY/MM/DD`, or parts of an hour), as Camus' partitioner writes them;
//! - two writer schemas (v1 for the first half of the hours, then v2, see
//!   [`page_view_schemas`]), the six Avro codecs in turn, several blocks per file;
//! - late events (a record whose time lies in the previous hour: folders follow the time Camus
//!   pulled the data, not the event time) and exact ties (equal times within a partition and across
//!   partitions);
//! - `DIR/page_view.avsc`: the newest schema, to use as `source.schema`;
//! - `DIR/execution/base/history/<run>/`: the Camus run's offsets, written by
//!   [`history`].

mod container_writer;
pub(crate) mod history;
pub(crate) mod page_view_schemas;
mod records;
mod text_files;

pub use text_files::SampleLayout;

use std::path::Path;

use anyhow::{bail, Context, Result};
use apache_avro::{Codec, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use history::SampleCutoff;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub records: u64,
    pub partitions: u32,
    pub hours: u32,
    pub topic: String,
    pub seed: u64,
    /// One codec for every file (`null`, `deflate`, `snappy`, `zstandard`, `bzip2`, `xz`);
    /// `None` cycles through all six, which tests want and benchmarks do not.
    pub codec: Option<String>,
    /// Late events in the bucket of their own event time, as Camus' partitioner writes them: a
    /// file of the previous hour written by the later pull, beside that hour's own. Otherwise
    /// (the default) every record of a pull stays in the pull's hour.
    pub by_event_time: bool,
    /// The bucket size of `by_event_time` (Camus' `etl.output.file.time.partition.mins`): 60 by
    /// default; 1440 writes daily folders (`daily/YYYY/MM/DD`), sizes below an hour add the
    /// minute to the hour folder. It divides a day, as Camus' partitioner needs.
    pub bucket_minutes: u32,
    /// Which of Camus' record writers the files imitate.
    pub layout: SampleLayout,
}

/// The first hour of every sample: 2024-03-10T00:00:00Z (fixed, so that output never depends on
/// the clock).
const START_MS: i64 = 1_710_028_800_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

const CODECS: [&str; 6] = ["null", "deflate", "snappy", "zstandard", "bzip2", "xz"];

pub fn write_sample(dir: &Path, options: &SampleOptions) -> Result<()> {
    if options.partitions == 0 || options.hours == 0 {
        bail!("sample needs at least one partition and one hour");
    }
    if options.topic.is_empty() || options.topic.contains('/') {
        bail!(
            "sample topic `{}` is not a usable topic name",
            options.topic
        );
    }
    if options.bucket_minutes == 0 || 1440 % options.bucket_minutes != 0 {
        bail!(
            "sample --bucket-minutes {} does not divide a day (1440 minutes) into buckets",
            options.bucket_minutes
        );
    }
    if options.bucket_minutes != 60 && !options.by_event_time {
        bail!(
            "sample --bucket-minutes {} needs --by-event-time: without it every pull stays in \
             its own hour's folder",
            options.bucket_minutes
        );
    }
    if options.layout.is_connect() && options.by_event_time {
        bail!(
            "sample --by-event-time is Camus' partitioner: Kafka Connect's layouts keep each \
             file one contiguous run of offsets (drop --by-event-time)"
        );
    }
    let swept_before = match options.layout {
        // The sweeper leaves the newest day hourly (camus.sweeper.min.days.ago).
        SampleLayout::CamusSwept if options.hours <= 24 || options.by_event_time => bail!(
            "sample --layout camus-swept needs --hours above 24 (the sweeper leaves the newest \
             day hourly) and no --by-event-time"
        ),
        SampleLayout::CamusSwept => Some(START_MS + i64::from((options.hours - 1) / 24) * DAY_MS),
        _ => None,
    };
    // A swept day's records, by (day start, schema is v2).
    let mut swept: std::collections::BTreeMap<(i64, bool), Vec<apache_avro::types::Value>> =
        std::collections::BTreeMap::new();
    let bucket_ms = i64::from(options.bucket_minutes) * 60_000;
    if let Some(name) = &options.codec {
        if !CODECS.contains(&name.as_str()) {
            bail!("sample codec `{name}` is not one of {}", CODECS.join(", "));
        }
    }
    let v1 = Schema::parse_str(page_view_schemas::PAGE_VIEW_V1).context("sample schema v1")?;
    let v2 = Schema::parse_str(page_view_schemas::PAGE_VIEW_V2).context("sample schema v2")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let avsc = dir.join("page_view.avsc");
    std::fs::write(&avsc, format!("{}\n", page_view_schemas::PAGE_VIEW_V2))
        .with_context(|| format!("cannot write {}", avsc.display()))?;

    let topic_dir = dir.join("destination").join(&options.topic);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut cutoffs = Vec::new();
    let mut file_number = 0usize;
    for partition in 0..options.partitions {
        let leader = (partition % 3 + 1) as i32;
        let first_offset = 1_000 * u64::from(partition + 1);
        let mut next_offset = first_offset;
        let mut last_time = START_MS;
        let mut file_ends = Vec::new();
        let total = share(options.records, options.partitions, partition);
        for hour in 0..options.hours {
            let count = share(total, options.hours, hour);
            if count == 0 {
                continue;
            }
            let v2_file = if options.hours > 1 {
                hour >= options.hours / 2
            } else {
                partition % 2 == 1
            };
            let hour_start = START_MS + i64::from(hour) * HOUR_MS;
            // The pull's records by bucket: (bucket start, offsets and records).
            let mut buckets: Vec<(i64, Vec<u64>, Vec<apache_avro::types::Value>)> =
                vec![(hour_start, Vec::new(), Vec::new())];
            for i in 0..count {
                let time = event_time(&mut rng, hour_start, i, count, hour > 0);
                last_time = time;
                let record = records::page_view(&mut rng, time, v2_file);
                // Camus' partitioner: the bucket of the record's own time; the pull-time layout
                // keeps a pull's records in the pull's hour.
                let bucket = if options.by_event_time {
                    time.div_euclid(bucket_ms) * bucket_ms
                } else {
                    hour_start
                };
                if !buckets.iter().any(|(start, ..)| *start == bucket) {
                    buckets.insert(0, (bucket, Vec::new(), Vec::new()));
                }
                let (_, offsets, records) = buckets
                    .iter_mut()
                    .find(|(start, ..)| *start == bucket)
                    .expect("inserted above");
                offsets.push(next_offset + i);
                records.push(record);
            }
            let (schema, json) = if v2_file {
                (&v2, page_view_schemas::PAGE_VIEW_V2)
            } else {
                (&v1, page_view_schemas::PAGE_VIEW_V1)
            };
            for (bucket, offsets, records) in &buckets {
                let Some(last) = offsets.last() else {
                    continue;
                };
                if swept_before.is_some_and(|newest_day| *bucket < newest_day) {
                    let day = bucket - bucket.rem_euclid(DAY_MS);
                    swept
                        .entry((day, v2_file))
                        .or_default()
                        .extend(records.iter().cloned());
                    continue;
                }
                let codec_name = options
                    .codec
                    .as_deref()
                    .unwrap_or(CODECS[file_number % CODECS.len()]);
                file_number += 1;
                let mut marker = [0u8; 16];
                rng.fill(&mut marker);
                let bytes = if options.layout.is_avro() {
                    container_writer::container_bytes(
                        schema,
                        json,
                        codec(codec_name),
                        codec_name,
                        marker,
                        records,
                    )?
                } else {
                    let texts = records
                        .iter()
                        .map(|record| {
                            let json = crate::inspect::value_to_json(record.clone());
                            let time = json["header"]["time"].as_i64().unwrap_or(0);
                            (time, json.to_string())
                        })
                        .collect::<Vec<_>>();
                    text_files::file_bytes(options.layout, &texts)?
                };
                let (folder, name) = match options.layout {
                    // Kafka Connect's DefaultPartitioner and its zero-padded names.
                    SampleLayout::ConnectHdfs => (
                        format!("partition={partition}"),
                        format!(
                            "{}+{partition}+{:010}+{last:010}",
                            options.topic, offsets[0]
                        ),
                    ),
                    SampleLayout::ConnectS3 => (
                        format!("partition={partition}"),
                        format!("{}+{partition}+{:010}", options.topic, offsets[0]),
                    ),
                    _ => (
                        bucket_folder(*bucket, options.bucket_minutes),
                        format!(
                            "{}.{leader}.{partition}.{}.{}.{bucket}",
                            options.topic,
                            records.len(),
                            last + 1,
                        ),
                    ),
                };
                let folder = topic_dir.join(folder);
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("cannot create {}", folder.display()))?;
                let path = folder.join(format!("{name}{}", options.layout.extension()));
                std::fs::write(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            next_offset += count;
            file_ends.push(next_offset);
        }
        if next_offset > first_offset {
            cutoffs.push(SampleCutoff {
                partition,
                leader,
                first_offset,
                last_offset: next_offset - 1,
                time_ms: last_time,
                file_ends,
            });
        }
    }
    let mut parts_of_day: std::collections::BTreeMap<i64, usize> = Default::default();
    for ((day, is_v2), records) in &swept {
        let part = parts_of_day.entry(*day).or_default();
        *part += 1;
        let (schema, json) = match is_v2 {
            true => (&v2, page_view_schemas::PAGE_VIEW_V2),
            false => (&v1, page_view_schemas::PAGE_VIEW_V1),
        };
        let mut marker = [0u8; 16];
        rng.fill(&mut marker);
        // What the sweeper's defaults write: deflate (mapred.output.compression.codec).
        let bytes = container_writer::container_bytes(
            schema,
            json,
            codec("deflate"),
            "deflate",
            marker,
            records,
        )?;
        let folder = topic_dir.join(bucket_folder(*day, 1440));
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        let path = folder.join(format!("part-r-{:05}.avro", *part - 1));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if options.layout.is_connect() {
        // Kafka Connect keeps no history: its names are the offsets.
        return Ok(());
    }
    history::write(&dir.join("execution"), &options.topic, &cutoffs)
}

/// Record `i` of `count` in an hour: spread over the hour on a 10-second grid (so busy hours have
/// ties inside a partition, and the same grid in every partition gives ties across partitions),
/// every 50th exactly at half past (ties everywhere), and about one in 40 a late event from the
/// previous hour.
fn event_time(rng: &mut ChaCha8Rng, hour_start: i64, i: u64, count: u64, may_be_late: bool) -> i64 {
    if i % 50 == 25 {
        return hour_start + HOUR_MS / 2;
    }
    let on_grid = (i as i64 * 360 / count as i64) * 10_000;
    if may_be_late && rng.random_range(0..40) == 0 {
        return hour_start - rng.random_range(1..HOUR_MS / 2);
    }
    hour_start + on_grid
}

/// Part `index` of `total` split as evenly as possible into `parts`.
fn share(total: u64, parts: u32, index: u32) -> u64 {
    let parts = u64::from(parts);
    let index = u64::from(index);
    total / parts + u64::from(index < total % parts)
}

/// The folder of a bucket's start (UTC), like Camus's partitioner with its usual folder formats:
/// `hourly/YYYY/MM/DD/HH` for hour buckets, `daily/YYYY/MM/DD` for day buckets, the minute added
/// below an hour.
fn bucket_folder(start_ms: i64, minutes: u32) -> String {
    let secs = start_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let hour = secs.rem_euclid(86_400) / 3600;
    let minute = secs.rem_euclid(3600) / 60;
    let (y, m, d) = crate::utc::civil_from_days(days);
    match minutes {
        1440 => format!("daily/{y:04}/{m:02}/{d:02}"),
        m_ if m_ % 60 == 0 => format!("hourly/{y:04}/{m:02}/{d:02}/{hour:02}"),
        _ => format!("hourly/{y:04}/{m:02}/{d:02}/{hour:02}/{minute:02}"),
    }
}

fn codec(name: &str) -> Codec {
    match name {
        "deflate" => Codec::Deflate(Default::default()),
        "snappy" => Codec::Snappy,
        "zstandard" => Codec::Zstandard(Default::default()),
        "bzip2" => Codec::Bzip2(Default::default()),
        "xz" => Codec::Xz(Default::default()),
        _ => Codec::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_folders_are_utc_calendar_hours() {
        assert_eq!(bucket_folder(START_MS, 60), "hourly/2024/03/10/00");
        assert_eq!(
            bucket_folder(START_MS + 23 * HOUR_MS, 60),
            "hourly/2024/03/10/23"
        );
        assert_eq!(bucket_folder(951_782_400_000, 60), "hourly/2000/02/29/00");
    }

    #[test]
    fn day_and_quarter_hour_folders() {
        assert_eq!(
            bucket_folder(START_MS + 23 * HOUR_MS, 1440),
            "daily/2024/03/10"
        );
        assert_eq!(
            bucket_folder(START_MS + 45 * 60_000, 15),
            "hourly/2024/03/10/00/45"
        );
    }

    #[test]
    fn shares_add_up() {
        assert_eq!((0..4).map(|i| share(10, 4, i)).sum::<u64>(), 10);
        assert_eq!(share(10, 4, 0), 3);
        assert_eq!(share(10, 4, 3), 2);
    }
}
