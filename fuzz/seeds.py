#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ (not committed: made again
by fuzz/run.sh). Real files where the repository has them: `c2k sample`'s Camus tree (its Avro
containers in all six codecs, its Camus offsets SequenceFiles) when a c2k binary is given, the
pipelines/ folder; the rest written here with fastavro, cramjam and zstandard (what
scripts/setup.sh installs) in the formats the parsers read. Every seed is small (a few KB).

    fuzz/seeds.py [PATH_TO_C2K]
"""

import bz2
import glob
import gzip
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import cramjam
import fastavro
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
SCHEMAS = os.path.join(HERE, "schemas")
AVRO_CODECS = ["null", "deflate", "snappy", "zstandard", "bzip2", "xz"]
HADOOP_CODECS = ["deflate", "gzip", "bzip2", "snappy", "lz4", "zstd"]


def seed(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def schema(name):
    with open(os.path.join(SCHEMAS, name + ".avsc")) as f:
        return fastavro.parse_schema(json.load(f))


def page_view(i):
    return {
        "header": {"time": 1_710_028_800_000 + i, "server": "web-%d" % i, "service": "front"},
        "url": "/p/%d" % i,
        "referrer": None if i % 2 else "/r",
        "user_id": i * 7919,
        "session_id": "s%d" % i,
        "user_agent": "ua",
        "ip": "10.0.0.%d" % i,
        "duration_ms": i - 3,
    }


def every(i):
    return {
        "n": None, "b": i % 2 == 0, "i": -i, "l": 1 << (i * 7), "f": 1.5, "d": -2.25,
        "by": b"\x00\xff", "s": "naïve", "e": "ABC"[i % 3], "fx": b"abcd",
        "a": [None, i, "x"], "nulls": [None] * i, "m": {"k": [1, 2]}, "u": [None, "B", b"wxyz", {"t": True}][i % 4],
        "date": 19000, "ts": 1_700_000_000_000_000,
        "tree": {"v": 1, "kids": [{"v": 2, "kids": [], "next": None}], "next": None},
    }


def evolution(i):
    return {
        "a": i, "gone": [{"x": None}, {"x": "y"}], "b": [None, i, "s"][i % 3], "c": "ABC"[i % 3],
        "d": {"k": i}, "e": [0.5], "f": b"abc", "g": "é".encode(), "h": "h", "i": True,
        "old_name": 1.25, "nested": {"p": -1, "q": 2}, "opt": i, "ts": 1_500_000_000_000,
        "tree": {"v": 1, "kids": [{"v": 2, "kids": []}]},
    }


def datum(parsed, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def avro_seeds():
    v1, v2 = schema("page_view_v1"), schema("page_view_v2")
    for codec in AVRO_CODECS:
        out = io.BytesIO()
        try:
            fastavro.writer(out, v1, [page_view(i) for i in range(3)], codec=codec,
                            sync_interval=200)
        except ValueError:  # a codec this fastavro lacks a library for: c2k sample has it
            continue
        seed("avro_container", "fastavro-%s.avro" % codec, out.getvalue())
    # Blocks as stored: each codec's framing of one block of records (the first byte picks it).
    plain = b"".join(datum(v1, page_view(i)) for i in range(4))
    stored = {
        "null": plain,
        "deflate": zlib.compress(plain)[2:-4],
        "snappy": bytes(cramjam.snappy.compress_raw(plain)) + struct.pack(">I", zlib.crc32(plain)),
        "zstandard": zstandard.ZstdCompressor().compress(plain),
        "bzip2": bz2.compress(plain),
        "xz": lzma.compress(plain),
    }
    for i, codec in enumerate(AVRO_CODECS):
        seed("avro_block", codec, bytes([i]) + stored[codec])
    # Datums: the first byte picks the schema (fuzz_targets/avro_datum.rs, transcode.rs).
    walked = [("every_type", every), ("page_view_v2", lambda i: dict(page_view(i), country="x")),
              ("evolution_writer", evolution)]
    for which, (name, make) in enumerate(walked):
        for i in range(3):
            seed("avro_datum", "%s-%d" % (name, i), bytes([which]) + datum(schema(name), make(i)))
    pairs = [("evolution_writer", evolution), ("page_view_v1", page_view), ("every_type", every)]
    for which, (name, make) in enumerate(pairs):
        for i in range(3):
            seed("transcode", "%s-%d" % (name, i), bytes([which]) + datum(schema(name), make(i)))


def java_utf(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def vint(value):
    """Hadoop WritableUtils.writeVLong."""
    if -112 <= value <= 127:
        return struct.pack(">b", value)
    length = -112
    if value < 0:
        value = ~value
        length = -120
    tmp, size = value, 0
    while tmp:
        tmp >>= 8
        size += 1
    return struct.pack(">b", length - size) + value.to_bytes(size, "big")


def text(value):
    data = value.encode()
    return vint(len(data)) + data


def etl_key(i, with_map=True):
    key = (java_utf("1") + struct.pack(">iqqq", i, 100 * i, 100 * i + 50, 12345)
           + java_utf("PAGE_VIEWS") + struct.pack(">q", 1_710_028_800_000)
           + java_utf("unknown_server") + java_utf("unknown_service"))
    if with_map:
        entries = [("server", "unknown_server"), ("message.size", "1024")]
        key += b"\x00" + struct.pack(">i", len(entries))
        for name, value in entries:
            key += b"\x8c" + text(name) + b"\x8c" + text(value)
    return key


def sequence_file(records, codec=None, block=False, version=6):
    sync = bytes(range(16))
    out = b"SEQ" + bytes([version]) + text("com.linkedin.camus.etl.kafka.common.EtlKey")
    out += text("org.apache.hadoop.io.NullWritable")
    out += bytes([codec is not None, block])
    if codec is not None:
        out += text("org.apache.hadoop.io.compress.DefaultCodec")
    out += struct.pack(">i", 1) + text("creator") + text("fuzz/seeds.py") + sync
    if block:
        z = zlib.compress
        keys = b"".join(records)
        out += struct.pack(">i", -1) + sync + vint(len(records))
        for buffer in [b"".join(vint(len(k)) for k in records), keys,
                       b"".join(vint(0) for _ in records), b""]:
            packed = z(buffer)
            out += vint(len(packed)) + packed
        return out
    for key in records:
        value = zlib.compress(b"") if codec else b""
        out += struct.pack(">ii", len(key) + len(value), len(key)) + key + value
    out += struct.pack(">i", -1) + sync
    return out


def hadoop_seeds():
    keys = [etl_key(i) for i in range(3)]
    seed("etl_key", "with-map", keys[0])
    seed("etl_key", "legacy", etl_key(1, with_map=False))
    seed("sequence_file", "plain.seq", sequence_file(keys))
    seed("sequence_file", "record-zlib.seq", sequence_file(keys, codec="deflate"))
    seed("sequence_file", "block-zlib.seq", sequence_file(keys, codec="deflate", block=True))
    plain = b"".join(keys)

    def framed(raw):
        return struct.pack(">I", len(plain)) + struct.pack(">I", len(raw)) + raw

    buffers = {
        "deflate": zlib.compress(plain),
        "gzip": gzip.compress(plain),
        "bzip2": bz2.compress(plain),
        "snappy": framed(bytes(cramjam.snappy.compress_raw(plain))),
        "lz4": framed(bytes(cramjam.lz4.compress_block(plain, store_size=False))),
        "zstd": zstandard.ZstdCompressor().compress(plain),
    }
    for i, codec in enumerate(HADOOP_CODECS):
        seed("hadoop_buffer", codec, bytes([i]) + buffers[codec])


def name_seeds():
    names = [
        "PAGE_VIEWS\nPAGE_VIEWS.3.2.100.1100.1700000000000.avro",
        "\nPAGE_VIEWS.3.2.100.1100.avro",
        "my.dotted.topic\nhourly/2024/03/10/00/my.dotted.topic.1_2.0.5.6.1710028800000.avro",
        "\n_temporary/.x/PAGE_VIEWS.1.0.1.1.avro",
    ]
    for i, name in enumerate(names):
        seed("camus_name", "name-%d" % i, name.encode())


def pipeline_seeds():
    for i, path in enumerate(sorted(glob.glob(os.path.join(REPO, "pipelines", "*.yaml")))):
        with open(path, "rb") as f:
            seed("pipeline", os.path.basename(path), f.read())
        with open(path, "rb") as f:
            sets = b"sort.memory=64MiB\nsink.producer.linger.ms=5\nkey.config={field: ts}\n"
            seed("pipeline", "set-%d" % i, f.read() + b"\x00" + sets)


def answer_seeds():
    # Columns: records, values, value ends, keyed, keys, key ends, header ends, header names,
    # header name ends, header values, header value ends, timestamps (fuzz.rs documents it).
    def col(items):
        return bytes([len(items)]) + bytes(items)

    answer = (col(b"xx") + col(b"abccc") + col([2, 2, 5]) + col([1, 0, 1]) + col(b"k1k3")
              + col([2, 2, 4]) + col([0, 2, 2]) + col("xé".encode()) + col([1, 3]) + col(b"12")
              + col([1, 2]) + col([0, 5, 9]))
    seed("format_answer", "three-messages", answer)
    seed("format_answer", "values-only", col(b"x") + col(b"v") + col([1]))


def c2k_seeds(c2k):
    """`c2k sample`'s tree: Camus data files in every codec and Camus offsets files."""
    tmp = tempfile.mkdtemp(prefix="c2k-fuzz-seeds-")
    try:
        subprocess.run([c2k, "sample", tmp, "--records", "24", "--partitions", "2",
                        "--hours", "3"], check=True, stdout=subprocess.DEVNULL)
        for path in sorted(glob.glob(os.path.join(tmp, "**", "*"), recursive=True)):
            if not os.path.isfile(path) or os.path.getsize(path) > 16_384:
                continue
            with open(path, "rb") as f:
                data = f.read()
            name = "c2k-sample-" + os.path.relpath(path, tmp).replace("/", "_")
            if data.startswith(b"Obj\x01"):
                seed("avro_container", name, data)
            elif data.startswith(b"SEQ"):
                seed("sequence_file", name, data)
    finally:
        shutil.rmtree(tmp)


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    avro_seeds()
    hadoop_seeds()
    name_seeds()
    pipeline_seeds()
    answer_seeds()
    if len(sys.argv) > 1:
        c2k_seeds(sys.argv[1])
    for target in sorted(os.listdir(CORPUS)):
        print("%-16s %3d seeds" % (target, len(os.listdir(os.path.join(CORPUS, target)))))


if __name__ == "__main__":
    main()
