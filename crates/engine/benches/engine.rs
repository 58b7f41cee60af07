//! Native engine micro-benchmarks: ns per decision (criterion) and heap allocations per
//! decision (a counting allocator), for the scenarios of BENCHMARKS.md.
//!
//! cargo bench --bench engine            (full)
//! cargo bench --bench engine -- --quick (short)
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// Criterion is a native dev-dependency; built for wasm this bench is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;

    use cors_engine::policy::PreflightRequest;
    use cors_engine::Config;
    use criterion::{criterion_group, Criterion};

    #[global_allocator]
    static ALLOCATOR: testkit::alloc_counter::Counting = testkit::alloc_counter::Counting;

    /// Heap allocations per call of `f`, averaged over 1000 calls after a warm-up.
    fn allocations_per_call(mut f: impl FnMut()) -> f64 {
        f();
        let ((), allocated) = testkit::alloc_counter::measure(|| {
            for _ in 0..1000 {
                f();
            }
        });
        allocated.count as f64 / 1000.0
    }

    const ORIGIN: &[u8] = b"https://app.example.com";

    fn one_origin() -> Config {
        Config::from_json(
            r#"{"allow_origins":["https://app.example.com"],"allow_methods":["PUT","DELETE"],
                "allow_headers":["x-custom","authorization"],"expose_headers":["x-request-id"],
                "allow_credentials":true,"max_age":600}"#,
        )
        .expect("valid config")
    }

    fn large() -> (Config, Vec<u8>) {
        let origins: Vec<String> = (0..10_000).map(|i| format!("\"https://app{i}.example.com\"")).collect();
        let subdomains: Vec<String> = (0..100).map(|i| format!("\"https://*.tenant{i}.example.org\"")).collect();
        let regexes: Vec<String> =
            (0..20).map(|i| format!("\"https://[a-z0-9-]+\\\\.r{i}\\\\.example\\\\.net\"")).collect();
        let json = format!(
            r#"{{"allow_origins":[{},{}],"allow_origin_regexes":[{}],"allow_methods":["PUT"],"allow_credentials":true}}"#,
            origins.join(","),
            subdomains.join(","),
            regexes.join(",")
        );
        (Config::from_json(&json).expect("valid config"), b"https://app-7.r19.example.net".to_vec())
    }

    fn big_acrh() -> (Config, Vec<u8>) {
        let names: Vec<String> = (0..2000).map(|i| format!("x-header-{i:05}")).collect();
        let json = format!(
            r#"{{"allow_origins":["https://app.example.com"],"allow_methods":["PUT"],"allow_headers":[{}]}}"#,
            names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",")
        );
        (Config::from_json(&json).expect("valid config"), names.join(",").into_bytes())
    }

    fn actual(config: &Config, origin: &[u8]) -> usize {
        let policy = config.default_policy();
        match policy.check_origin(origin) {
            Some(allow) => policy.actual_headers(allow).as_slice().len(),
            None => 0,
        }
    }

    fn preflight(config: &Config, origin: &[u8], acrh: &[u8]) -> usize {
        let policy = config.default_policy();
        let origins = [origin];
        let headers = [acrh];
        let req =
            PreflightRequest { origins: &origins, method: b"PUT", request_headers: &headers, private_network: false };
        match policy.check_preflight(&req) {
            Ok(allow) => policy.preflight_headers(allow, false, None, b"PUT").as_slice().len(),
            Err(_) => 0,
        }
    }

    fn benches(c: &mut Criterion) {
        let one = one_origin();
        let (large, regex_origin) = large();
        let (acrh_config, acrh) = big_acrh();
        assert!(actual(&one, ORIGIN) > 0 && actual(&large, &regex_origin) > 0);
        assert!(preflight(&one, ORIGIN, b"x-custom") > 0 && preflight(&acrh_config, ORIGIN, &acrh) > 0);

        println!("heap allocations per decision:");
        println!(
            "  actual, allowed (one origin):      {}",
            allocations_per_call(|| {
                black_box(actual(&one, black_box(ORIGIN)));
            })
        );
        println!(
            "  actual, denied:                    {}",
            allocations_per_call(|| {
                black_box(actual(&one, black_box(b"https://evil.example")));
            })
        );
        println!(
            "  actual, large policy, last regex:  {}",
            allocations_per_call(|| {
                black_box(actual(&large, black_box(&regex_origin)));
            })
        );
        println!(
            "  preflight, allowed:                {}",
            allocations_per_call(|| {
                black_box(preflight(&one, black_box(ORIGIN), b"x-custom"));
            })
        );
        println!(
            "  preflight, 30 KB ACRH ({} bytes):   {}",
            acrh.len(),
            allocations_per_call(|| {
                black_box(preflight(&acrh_config, black_box(ORIGIN), &acrh));
            })
        );

        c.bench_function("actual allowed (one origin)", |b| b.iter(|| actual(&one, black_box(ORIGIN))));
        c.bench_function("actual denied", |b| b.iter(|| actual(&one, black_box(b"https://evil.example"))));
        c.bench_function("actual, large policy, exact hit", |b| {
            b.iter(|| actual(&large, black_box(b"https://app9999.example.com")))
        });
        c.bench_function("actual, large policy, subdomain hit", |b| {
            b.iter(|| actual(&large, black_box(b"https://a.tenant99.example.org")))
        });
        c.bench_function("actual, large policy, last regex (cached verdict)", |b| {
            b.iter(|| actual(&large, black_box(&regex_origin)))
        });
        let mut n = 0u64;
        c.bench_function("actual, large policy, regex miss on a new origin each time", |b| {
            b.iter(|| {
                n += 1;
                let origin = format!("https://o{n}.r20.example.net");
                actual(&large, black_box(origin.as_bytes()))
            })
        });
        c.bench_function("preflight allowed", |b| {
            b.iter(|| preflight(&one, black_box(ORIGIN), black_box(b"x-custom")))
        });
        c.bench_function("preflight, 30 KB ACRH (repeated value: cached verdict)", |b| {
            b.iter(|| preflight(&acrh_config, black_box(ORIGIN), black_box(&acrh)))
        });
        // A different value each time (one more name, varying): the full one-pass scan.
        let variants: Vec<Vec<u8>> = (0..64)
            .map(|i| {
                let mut v = acrh.clone();
                v.extend_from_slice(format!(",x-header-{i:05}").as_bytes());
                v
            })
            .collect();
        let mut i = 0;
        c.bench_function("preflight, 30 KB ACRH (new value each time: full scan)", |b| {
            b.iter(|| {
                i += 1;
                preflight(&acrh_config, black_box(ORIGIN), black_box(&variants[i % variants.len()]))
            })
        });
    }

    criterion_group!(engine, benches);

    pub fn main() {
        engine();
        Criterion::default().configure_from_args().final_summary();
    }
}
