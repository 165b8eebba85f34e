//! SMS codec throughput on the shared mixed corpus (`benches/sms_corpus.py` writes
//! `target/sms-corpus.json`; this bench runs it if the file is missing):
//!
//! - `decode`: SMS-DELIVER decoding of every PDU in the corpus (PDUs/s);
//! - `split_encode`: encoding choice, splitting and SMS-SUBMIT encoding of every text,
//!   hex output included as python-messaging's `to_pdu()` gives (messages/s).
//!
//! `benches/sms_compare.sh` runs this and `benches/python_messaging.py` and prints the ratio.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sms_bridge::sms::tpdu::{self, SubmitOptions};

struct Corpus {
    number: String,
    texts: Vec<String>,
    pdus: Vec<Vec<u8>>,
}

fn corpus() -> Corpus {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("target/sms-corpus.json");
    if !path.exists() {
        let ok =
            std::process::Command::new("python3").arg(root.join("benches/sms_corpus.py")).status().map(|s| s.success());
        assert!(matches!(ok, Ok(true)), "could not generate {}", path.display());
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // The same lists python_messaging.py times (BMP only), so the ratio compares like with like.
    Corpus {
        number: v["number"].as_str().unwrap().to_string(),
        texts: v["texts"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap().to_string()).collect(),
        pdus: v["pdus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| tpdu::from_hex(p["hex"].as_str().unwrap()).unwrap())
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut g = c.benchmark_group("sms");
    g.throughput(Throughput::Elements(corpus.pdus.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for p in &corpus.pdus {
                std::hint::black_box(tpdu::decode(p, true).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(corpus.texts.len() as u64));
    g.bench_function("split_encode", |b| {
        b.iter(|| {
            for (i, t) in corpus.texts.iter().enumerate() {
                let opts = SubmitOptions { concat_ref: i as u8, ..Default::default() };
                for pdu in tpdu::encode_submit(&corpus.number, t, &opts).unwrap() {
                    std::hint::black_box(tpdu::to_hex(&pdu));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
