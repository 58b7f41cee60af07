//! The built plugin, `dist/cors.wasm`, under a mock proxy-wasm host (wasmi, no Envoy): the
//! exports are driven in Envoy's order and every host call the module makes is recorded, so the
//! tests assert the exact calls per request type, and that hostile hosts (every call failing
//! with `NotFound`, `BadArgument` or a status no ABI defines, garbled, truncated, empty or huge
//! header maps, allocations the VM cannot satisfy) never make the module trap — a trap in Envoy
//! breaks every stream of the worker — and never make it grant anything.
//!
//! The mock implements exactly the imports the module declares (a test checks the list), with the
//! semantics of proxy-wasm-cpp-host (the host Envoy embeds) for ABI 0.2.1: returned buffers are
//! allocated through `proxy_on_memory_allocate`, a failed allocation is `InvalidMemoryAccess`,
//! an empty configuration read writes nothing. Run `make build` first: the test fails without
//! `dist/cors.wasm` (`make test-e2e` builds it).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
// Runs natively: the wasm runtime is a native dev-dependency.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use wasmi::{Caller, Config, Engine, Extern, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder};

// proxy-wasm 0.2.1 codes.
const OK: i32 = 0;
const NOT_FOUND: i32 = 1;
const BAD_ARGUMENT: i32 = 2;
const INVALID_MEMORY_ACCESS: i32 = 6;
/// A status no ABI version defines.
const UNKNOWN_STATUS: i32 = 77;
const REQUEST_HEADERS: u32 = 0;
const RESPONSE_HEADERS: u32 = 2;
const PLUGIN_CONFIGURATION: u32 = 7;
const CONTINUE: i32 = 0;
const STOP: i32 = 1;
const ROOT: i32 = 1;
/// Linear memory the mock lets the module grow to (Envoy's V8 allows 1 GiB).
const MEMORY_LIMIT: usize = 256 << 20;
/// Instructions one callback may run before it counts as a hang.
const FUEL: u64 = 2_000_000_000;

const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["PUT", "DELETE"],
    "allow_headers": ["x-custom"],
    "expose_headers": ["x-total"],
    "allow_credentials": true,
    "max_age": 600
}"#;
const ALLOWED: &str = "https://app.example.com";

/// Every import the module declares; the mock implements each (`linker`).
const IMPORTS: [(&str, &str); 17] = [
    ("env", "proxy_log"),
    ("env", "proxy_get_log_level"),
    ("env", "proxy_set_tick_period_milliseconds"),
    ("env", "proxy_get_buffer_bytes"),
    ("env", "proxy_define_metric"),
    ("env", "proxy_increment_metric"),
    ("env", "proxy_get_header_map_pairs"),
    ("env", "proxy_replace_header_map_value"),
    ("env", "proxy_remove_header_map_value"),
    ("env", "proxy_add_header_map_value"),
    ("env", "proxy_send_local_response"),
    ("wasi_snapshot_preview1", "random_get"),
    ("wasi_snapshot_preview1", "clock_time_get"),
    ("wasi_snapshot_preview1", "environ_get"),
    ("wasi_snapshot_preview1", "environ_sizes_get"),
    ("wasi_snapshot_preview1", "fd_write"),
    ("wasi_snapshot_preview1", "proc_exit"),
];

/// One host call, as the module made it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Log(u32, String),
    GetLogLevel,
    SetTickPeriod(u32),
    GetBufferBytes {
        buffer: u32,
        start: u32,
        max: u32,
    },
    DefineMetric(u32, String),
    /// Metric by name (the mock's id for it resolved), offset.
    Increment(String, i64),
    GetHeaderMap(u32),
    Replace(u32, String, String),
    Remove(u32, String),
    Add(u32, String, String),
    SendLocalResponse {
        status: u32,
        details: String,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        grpc: i32,
    },
    /// A WASI call, by name (what they do is not what these tests are about).
    Wasi(&'static str),
}

/// How the mock misbehaves.
#[derive(Debug, Clone, Default)]
struct Hostility {
    /// Every `proxy_*` call returns this status and writes nothing.
    status: Option<i32>,
    /// `proxy_define_metric` alone returns this status.
    define_metric: Option<i32>,
    /// The request header map is these bytes, not a serialized map.
    raw_request_map: Option<Vec<u8>>,
    /// `proxy_on_memory_allocate` is asked for this many bytes for the request map.
    alloc_size: Option<u32>,
}

struct HostState {
    limits: StoreLimits,
    config: Vec<u8>,
    log_level: u32,
    request: Vec<(Vec<u8>, Vec<u8>)>,
    hostility: Hostility,
    calls: Vec<Call>,
    metrics: Vec<String>,
}

fn module() -> &'static (Engine, Module) {
    static MODULE: OnceLock<(Engine, Module)> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist/cors.wasm");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e}; build the plugin first: `make build` (`make test-e2e` does)", path.display())
        });
        let mut config = Config::default();
        config.consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, &bytes).expect("dist/cors.wasm is a valid module");
        (engine, module)
    })
}

/// The serialized header map of proxy-wasm: count, (name, value) sizes, NUL-terminated bytes.
fn serialize(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend((k.len() as u32).to_le_bytes());
        out.extend((v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend(k);
        out.push(0);
        out.extend(v);
        out.push(0);
    }
    out
}

fn deserialize(bytes: &[u8]) -> Vec<(String, String)> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(0);
    let mut data = 4 + 8 * count;
    let mut out = Vec::new();
    for i in 0..count {
        let (k, v) = (u32_at(4 + 8 * i), u32_at(8 + 8 * i));
        let key = String::from_utf8(bytes[data..data + k].to_vec()).unwrap();
        assert_eq!(bytes[data + k], 0, "NUL after a name");
        data += k + 1;
        let value = String::from_utf8(bytes[data..data + v].to_vec()).unwrap();
        assert_eq!(bytes[data + v], 0, "NUL after a value");
        data += v + 1;
        out.push((key, value));
    }
    assert_eq!(data, bytes.len(), "no bytes after the last value");
    out
}

type Ctx<'a> = Caller<'a, HostState>;

fn memory(caller: &Ctx<'_>) -> Memory {
    caller.get_export("memory").and_then(Extern::into_memory).expect("the module exports its memory")
}

/// Bytes the module points the host at; out of bounds is the module's bug, so a trap (and a failed test).
fn read(caller: &Ctx<'_>, ptr: i32, len: i32) -> Result<Vec<u8>, wasmi::Error> {
    let mut buf = vec![0; len as u32 as usize];
    memory(caller)
        .read(caller, ptr as u32 as usize, &mut buf)
        .map_err(|e| wasmi::Error::new(format!("module passed {len} bytes at {ptr:#x}: {e}")))?;
    Ok(buf)
}

fn read_text(caller: &Ctx<'_>, ptr: i32, len: i32) -> Result<String, wasmi::Error> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> Result<(), wasmi::Error> {
    let mem = memory(caller);
    mem.write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| wasmi::Error::new(format!("module's out-pointer {ptr:#x} ({} bytes): {e}", bytes.len())))
}

/// What proxy-wasm-cpp-host's `copyToPointerSize` does: asks the module for a buffer, fills it,
/// writes its address and size to the out-pointers. A null buffer is `InvalidMemoryAccess`.
fn hand_over(
    caller: &mut Ctx<'_>,
    data: &[u8],
    alloc_size: Option<u32>,
    ptr_out: i32,
    size_out: i32,
) -> Result<i32, wasmi::Error> {
    let size = alloc_size.unwrap_or(data.len() as u32);
    let allocate = caller
        .get_export("proxy_on_memory_allocate")
        .and_then(Extern::into_func)
        .expect("proxy_on_memory_allocate is exported")
        .typed::<i32, i32>(&*caller)?;
    let ptr = allocate.call(&mut *caller, size as i32)?;
    if ptr == 0 {
        return Ok(INVALID_MEMORY_ACCESS);
    }
    if alloc_size.is_some() {
        return Err(wasmi::Error::new(format!("the module claims to have allocated {size} bytes")));
    }
    write(caller, ptr, data)?;
    write(caller, ptr_out, &ptr.to_le_bytes())?;
    write(caller, size_out, &size.to_le_bytes())?;
    Ok(OK)
}

/// A VM with the plugin instantiated and `_initialize`d.
struct Vm {
    store: Store<HostState>,
    instance: wasmi::Instance,
    next_context: i32,
}

/// What one stream made the module do.
#[derive(Debug)]
struct Stream {
    request_action: i32,
    response_action: i32,
    request_calls: Vec<Call>,
    response_calls: Vec<Call>,
}

impl Stream {
    fn all_calls(&self) -> impl Iterator<Item = &Call> {
        self.request_calls.iter().chain(&self.response_calls)
    }

    /// Whether the stream granted anything: an `Access-Control-Allow-*` header written, or a
    /// 2xx local reply.
    fn grants(&self) -> bool {
        self.all_calls().any(|c| match c {
            Call::Replace(_, name, _) | Call::Add(_, name, _) => name.starts_with("access-control-allow"),
            Call::SendLocalResponse { status, headers, .. } => {
                *status < 300 || headers.iter().any(|(n, _)| n.starts_with("access-control-allow"))
            }
            _ => false,
        })
    }

    /// Every `Access-Control-Allow-Origin` value written or sent.
    fn allowed_origins(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.all_calls() {
            match c {
                Call::Replace(_, n, v) | Call::Add(_, n, v) if n == "access-control-allow-origin" => {
                    out.push(v.clone())
                }
                Call::SendLocalResponse { headers, .. } => out
                    .extend(headers.iter().filter(|(n, _)| n == "access-control-allow-origin").map(|(_, v)| v.clone())),
                _ => {}
            }
        }
        out
    }
}

fn linker(engine: &Engine) -> Linker<HostState> {
    let mut l = Linker::<HostState>::new(engine);
    // A failing `proxy_*` call: the status, nothing written.
    fn fail(caller: &Ctx<'_>) -> Option<i32> {
        caller.data().hostility.status
    }
    // WASI calls are recorded; they succeed (Envoy's do, for what std asks).
    fn wasi_fail(caller: &mut Ctx<'_>, name: &'static str) -> Option<i32> {
        caller.data_mut().calls.push(Call::Wasi(name));
        None
    }

    l.func_wrap("env", "proxy_log", |mut c: Ctx<'_>, level: i32, ptr: i32, len: i32| -> Result<i32, wasmi::Error> {
        let message = read_text(&c, ptr, len)?;
        c.data_mut().calls.push(Call::Log(level as u32, message));
        Ok(fail(&c).unwrap_or(OK))
    })
    .unwrap();
    l.func_wrap("env", "proxy_set_tick_period_milliseconds", |mut c: Ctx<'_>, ms: i32| -> i32 {
        c.data_mut().calls.push(Call::SetTickPeriod(ms as u32));
        fail(&c).unwrap_or(OK)
    })
    .unwrap();
    l.func_wrap("env", "proxy_get_log_level", |mut c: Ctx<'_>, out: i32| -> Result<i32, wasmi::Error> {
        c.data_mut().calls.push(Call::GetLogLevel);
        if let Some(status) = fail(&c) {
            return Ok(status);
        }
        let level = c.data().log_level;
        write(&mut c, out, &level.to_le_bytes())?;
        Ok(OK)
    })
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Ctx<'_>, buffer: i32, start: i32, max: i32, ptr_out: i32, size_out: i32| -> Result<i32, wasmi::Error> {
            let (buffer, start, max) = (buffer as u32, start as u32, max as u32);
            c.data_mut().calls.push(Call::GetBufferBytes { buffer, start, max });
            if let Some(status) = fail(&c) {
                return Ok(status);
            }
            if buffer != PLUGIN_CONFIGURATION {
                return Ok(NOT_FOUND);
            }
            if start.checked_add(max).is_none() {
                return Ok(BAD_ARGUMENT);
            }
            let config = &c.data().config;
            let from = (start as usize).min(config.len());
            let to = (start as usize + max as usize).min(config.len());
            let data = config[from..to].to_vec();
            if data.is_empty() {
                return Ok(OK);
            }
            hand_over(&mut c, &data, None, ptr_out, size_out)
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: Ctx<'_>, kind: i32, ptr: i32, len: i32, id_out: i32| -> Result<i32, wasmi::Error> {
            let name = read_text(&c, ptr, len)?;
            c.data_mut().calls.push(Call::DefineMetric(kind as u32, name.clone()));
            if let Some(status) = fail(&c).or(c.data().hostility.define_metric) {
                return Ok(status);
            }
            // Ids far from 0..n, as Envoy's are.
            let id = 1000 + c.data().metrics.len() as u32 * 7;
            c.data_mut().metrics.push(name);
            write(&mut c, id_out, &id.to_le_bytes())?;
            Ok(OK)
        },
    )
    .unwrap();
    l.func_wrap("env", "proxy_increment_metric", |mut c: Ctx<'_>, id: i32, offset: i64| -> i32 {
        let index = (id as u32).checked_sub(1000).filter(|i| i % 7 == 0).map(|i| (i / 7) as usize);
        let name =
            index.and_then(|i| c.data().metrics.get(i).cloned()).unwrap_or_else(|| format!("<undefined id {id}>"));
        c.data_mut().calls.push(Call::Increment(name, offset));
        fail(&c).unwrap_or(OK)
    })
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: Ctx<'_>, map: i32, ptr_out: i32, size_out: i32| -> Result<i32, wasmi::Error> {
            c.data_mut().calls.push(Call::GetHeaderMap(map as u32));
            if let Some(status) = fail(&c) {
                return Ok(status);
            }
            if map as u32 != REQUEST_HEADERS {
                return Err(wasmi::Error::new(format!("the module read header map {map}; only the request's exists")));
            }
            let h = &c.data().hostility;
            let alloc_size = h.alloc_size;
            let data = h.raw_request_map.clone().unwrap_or_else(|| serialize(&c.data().request));
            hand_over(&mut c, &data, alloc_size, ptr_out, size_out)
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: Ctx<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> Result<i32, wasmi::Error> {
            let (k, v) = (read_text(&c, kp, kl)?, read_text(&c, vp, vl)?);
            c.data_mut().calls.push(Call::Replace(map as u32, k, v));
            Ok(fail(&c).unwrap_or(OK))
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: Ctx<'_>, map: i32, kp: i32, kl: i32| -> Result<i32, wasmi::Error> {
            let k = read_text(&c, kp, kl)?;
            c.data_mut().calls.push(Call::Remove(map as u32, k));
            Ok(fail(&c).unwrap_or(OK))
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: Ctx<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> Result<i32, wasmi::Error> {
            let (k, v) = (read_text(&c, kp, kl)?, read_text(&c, vp, vl)?);
            c.data_mut().calls.push(Call::Add(map as u32, k, v));
            Ok(fail(&c).unwrap_or(OK))
        },
    )
    .unwrap();
    l.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Ctx<'_>,
         status: i32,
         dp: i32,
         dl: i32,
         bp: i32,
         bl: i32,
         hp: i32,
         hl: i32,
         grpc: i32|
         -> Result<i32, wasmi::Error> {
            let details = read_text(&c, dp, dl)?;
            let body = read(&c, bp, bl)?;
            let headers = deserialize(&read(&c, hp, hl)?);
            c.data_mut().calls.push(Call::SendLocalResponse { status: status as u32, details, body, headers, grpc });
            Ok(fail(&c).unwrap_or(OK))
        },
    )
    .unwrap();

    l.func_wrap(
        "wasi_snapshot_preview1",
        "random_get",
        |mut c: Ctx<'_>, ptr: i32, len: i32| -> Result<i32, wasmi::Error> {
            if let Some(errno) = wasi_fail(&mut c, "random_get") {
                return Ok(errno);
            }
            let bytes: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            write(&mut c, ptr, &bytes)?;
            Ok(0)
        },
    )
    .unwrap();
    l.func_wrap(
        "wasi_snapshot_preview1",
        "clock_time_get",
        |mut c: Ctx<'_>, _id: i32, _precision: i64, out: i32| -> Result<i32, wasmi::Error> {
            if let Some(errno) = wasi_fail(&mut c, "clock_time_get") {
                return Ok(errno);
            }
            write(&mut c, out, &1_700_000_000_000_000_000u64.to_le_bytes())?;
            Ok(0)
        },
    )
    .unwrap();
    l.func_wrap("wasi_snapshot_preview1", "environ_get", |mut c: Ctx<'_>, _environ: i32, _buf: i32| -> i32 {
        wasi_fail(&mut c, "environ_get").unwrap_or(0)
    })
    .unwrap();
    l.func_wrap(
        "wasi_snapshot_preview1",
        "environ_sizes_get",
        |mut c: Ctx<'_>, count_out: i32, size_out: i32| -> Result<i32, wasmi::Error> {
            if let Some(errno) = wasi_fail(&mut c, "environ_sizes_get") {
                return Ok(errno);
            }
            write(&mut c, count_out, &0u32.to_le_bytes())?;
            write(&mut c, size_out, &0u32.to_le_bytes())?;
            Ok(0)
        },
    )
    .unwrap();
    l.func_wrap(
        "wasi_snapshot_preview1",
        "fd_write",
        |mut c: Ctx<'_>, _fd: i32, iovs: i32, iovs_len: i32, written_out: i32| -> Result<i32, wasmi::Error> {
            if let Some(errno) = wasi_fail(&mut c, "fd_write") {
                return Ok(errno);
            }
            let table = read(&c, iovs, iovs_len.wrapping_mul(8))?;
            let written: u32 = table.chunks(8).map(|iov| u32::from_le_bytes(iov[4..8].try_into().unwrap())).sum();
            write(&mut c, written_out, &written.to_le_bytes())?;
            Ok(0)
        },
    )
    .unwrap();
    l.func_wrap("wasi_snapshot_preview1", "proc_exit", |mut c: Ctx<'_>, code: i32| -> Result<(), wasmi::Error> {
        c.data_mut().calls.push(Call::Wasi("proc_exit"));
        Err(wasmi::Error::i32_exit(code))
    })
    .unwrap();
    l
}

impl Vm {
    fn new(config: &str, hostility: Hostility) -> Vm {
        let (engine, module) = module();
        let state = HostState {
            limits: StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT).build(),
            config: config.as_bytes().to_vec(),
            log_level: 2, // info
            request: Vec::new(),
            hostility,
            calls: Vec::new(),
            metrics: Vec::new(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_fuel(FUEL).unwrap();
        let instance = linker(engine).instantiate(&mut store, module).unwrap().start(&mut store).unwrap();
        let mut vm = Vm { store, instance, next_context: ROOT + 1 };
        vm.call::<(), ()>("_initialize", ());
        vm
    }

    /// Calls an export; a trap (or a hang) fails the test with the calls made so far.
    fn call<P: wasmi::WasmParams, R: wasmi::WasmResults>(&mut self, name: &str, params: P) -> R {
        self.store.set_fuel(FUEL).unwrap();
        let f =
            self.instance.get_typed_func::<P, R>(&self.store, name).unwrap_or_else(|e| panic!("export {name}: {e}"));
        match f.call(&mut self.store, params) {
            Ok(r) => r,
            Err(e) => panic!("{name} trapped: {e}\nhost calls: {:#?}", self.store.data().calls),
        }
    }

    fn exports(&self, name: &str) -> bool {
        self.instance.get_func(&self.store, name).is_some()
    }

    fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.store.data_mut().calls)
    }

    /// Envoy's start of a VM with one plugin configuration: the root context, `proxy_on_vm_start`,
    /// `proxy_on_configure`. Returns what `proxy_on_configure` returned.
    fn configure(&mut self) -> bool {
        self.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
        assert_eq!(self.call::<(i32, i32), i32>("proxy_on_vm_start", (ROOT, 0)), 1);
        let size = self.store.data().config.len() as i32;
        self.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, size)) == 1
    }

    /// One HTTP stream as Envoy drives it: create, request headers, response headers (of the
    /// upstream's response, or of the local reply, which passes back through the filter), and
    /// the end-of-stream callbacks the module exports.
    fn stream(&mut self, request: &[(&str, &str)]) -> Stream {
        let pairs: Vec<_> = request.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        self.stream_bytes(pairs)
    }

    fn stream_bytes(&mut self, request: Vec<(Vec<u8>, Vec<u8>)>) -> Stream {
        let id = self.next_context;
        self.next_context += 1;
        let n = request.len() as i32;
        self.store.data_mut().request = request;
        self.call::<(i32, i32), ()>("proxy_on_context_create", (id, ROOT));
        assert_eq!(self.take_calls(), [], "creating a stream context calls the host");
        let request_action = self.call::<(i32, i32, i32), i32>("proxy_on_request_headers", (id, n, 0));
        let request_calls = self.take_calls();
        let response_action = self.call::<(i32, i32, i32), i32>("proxy_on_response_headers", (id, 2, 0));
        let response_calls = self.take_calls();
        for done in ["proxy_on_done", "proxy_on_log"] {
            if self.exports(done) {
                self.call::<i32, i32>(done, id);
            }
        }
        self.call::<i32, ()>("proxy_on_delete", id);
        assert_eq!(self.take_calls(), [], "ending a stream calls the host");
        Stream { request_action, response_action, request_calls, response_calls }
    }
}

fn configured(config: &str) -> Vm {
    let mut vm = Vm::new(config, Hostility::default());
    assert!(vm.configure(), "configuration refused: {:#?}", vm.take_calls());
    vm.take_calls();
    vm
}

fn get(origin: Option<&str>) -> Vec<(&str, &str)> {
    let mut h = vec![(":method", "GET"), (":path", "/api"), (":authority", "api.example.com")];
    h.extend(origin.map(|o| ("origin", o)));
    h
}

fn preflight(origin: &str, method: &str, headers: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "OPTIONS".into()),
        (":path", "/api".into()),
        (":authority", "api.example.com".into()),
        ("origin", origin.into()),
        ("access-control-request-method", method.into()),
        ("access-control-request-headers", headers.into()),
    ]
}

fn owned<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn replace(name: &str, value: &str) -> Call {
    Call::Replace(RESPONSE_HEADERS, name.into(), value.into())
}

fn remove(name: &str) -> Call {
    Call::Remove(RESPONSE_HEADERS, name.into())
}

fn add(name: &str, value: &str) -> Call {
    Call::Add(RESPONSE_HEADERS, name.into(), value.into())
}

fn count(name: &str) -> Call {
    Call::Increment(name.into(), 1)
}

/// The increment of counter `name` (`cors.x`) for the top level's policy, which follows every
/// total's (`cors_policy=.=top_level;.;cors.policy.x`).
fn policy_count(name: &str) -> Call {
    let short = name.strip_prefix("cors.").unwrap();
    Call::Increment(format!("cors_policy=.=top_level;.;cors.policy.{short}"), 1)
}

fn reply(status: u32, details: &str, headers: &[(&str, &str)]) -> Call {
    Call::SendLocalResponse {
        status,
        details: details.into(),
        body: Vec::new(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        grpc: -1,
    }
}

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// Every counter the plugin defines, from the engine's own list.
fn counters() -> Vec<&'static str> {
    cors_engine::counter::Counter::ALL.iter().map(|c| c.name()).collect()
}

#[test]
fn the_module_imports_only_what_the_mock_host_implements() {
    let (_, module) = module();
    let imported: BTreeSet<(String, String)> =
        module.imports().map(|i| (i.module().to_string(), i.name().to_string())).collect();
    let known: BTreeSet<(String, String)> = IMPORTS.iter().map(|(m, n)| (m.to_string(), n.to_string())).collect();
    assert_eq!(imported, known, "a new import: implement it in the mock (tests/wasm_abi.rs) and list it in IMPORTS");
    let exported: BTreeSet<String> = module.exports().map(|e| e.name().to_string()).collect();
    // Only what a CORS filter needs: Envoy calls every callback a module exports, on every stream.
    let expected = [
        "memory",
        "_initialize",
        "proxy_abi_version_0_2_1",
        "proxy_on_memory_allocate",
        "proxy_on_vm_start",
        "proxy_on_context_create",
        "proxy_on_configure",
        "proxy_on_request_headers",
        "proxy_on_response_headers",
        "proxy_on_tick",
        "proxy_on_delete",
    ];
    assert_eq!(exported, expected.iter().map(|e| e.to_string()).collect::<BTreeSet<_>>());
}

#[test]
fn start_and_configure_make_these_host_calls() {
    let mut vm = Vm::new(POLICY, Hostility::default());
    assert_eq!(vm.take_calls(), [], "_initialize");
    assert!(vm.configure());
    let mut expected = vec![
        Call::GetLogLevel,
        Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: POLICY.len() as u32 },
        Call::Log(2, "configuration loaded (0 policies besides the top level)".into()),
        Call::SetTickPeriod(1000),
    ];
    expected.extend(counters().iter().map(|n| Call::DefineMetric(0, n.to_string())));
    expected.extend(counters().iter().map(|n| {
        let Call::Increment(name, _) = policy_count(n) else { unreachable!() };
        Call::DefineMetric(0, name)
    }));
    let calls: Vec<Call> = vm.take_calls().into_iter().filter(|c| !matches!(c, Call::Wasi(_))).collect();
    assert_eq!(calls, expected);
}

#[test]
fn allowed_actual_request_one_read_one_count_four_writes() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(Some(ALLOWED)));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_allowed"), policy_count("cors.actual_allowed")]
    );
    assert_eq!(
        s.response_calls,
        [
            replace("access-control-allow-origin", ALLOWED),
            replace("access-control-allow-credentials", "true"),
            replace("access-control-expose-headers", "x-total"),
            add("vary", "Origin"),
        ]
    );
}

#[test]
fn denied_actual_request_removes_every_cors_header() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(Some("https://evil.example")));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_denied"), policy_count("cors.actual_denied")]
    );
    let mut expected: Vec<Call> = [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
        "access-control-expose-headers",
        "access-control-allow-private-network",
    ]
    .iter()
    .map(|n| remove(n))
    .collect();
    expected.push(add("vary", "Origin"));
    assert_eq!(s.response_calls, expected);
}

#[test]
fn request_without_origin_one_read_and_vary() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(None));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(s.request_calls, [Call::GetHeaderMap(REQUEST_HEADERS)]);
    assert_eq!(s.response_calls, [add("vary", "Origin")]);
}

#[test]
fn allowed_preflight_one_read_one_count_one_local_reply() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&owned(&preflight(ALLOWED, "PUT", "x-custom")));
    assert_eq!(s.request_action, STOP);
    assert_eq!(
        s.request_calls,
        [
            Call::GetHeaderMap(REQUEST_HEADERS),
            count("cors.preflight_allowed"),
            policy_count("cors.preflight_allowed"),
            reply(
                204,
                "cors_preflight_allowed",
                &[
                    ("access-control-allow-origin", ALLOWED),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "PUT,DELETE"),
                    // The policy's list, CORS-safelisted names included (see README).
                    ("access-control-allow-headers", "x-custom,accept,accept-language,content-language,content-type"),
                    ("access-control-max-age", "600"),
                    ("vary", PREFLIGHT_VARY),
                    ("content-length", "0"),
                ]
            ),
        ]
    );
    // The local reply passes back through the filter, which leaves it alone.
    assert_eq!((s.response_action, s.response_calls), (CONTINUE, vec![]));
}

#[test]
fn rejected_preflights_one_read_one_count_one_403() {
    let mut vm = configured(POLICY);
    for (request, counter, details) in [
        (
            preflight("https://evil.example", "PUT", "x-custom"),
            "cors.preflight_denied_origin",
            "cors_preflight_denied{origin_not_allowed:https://evil.example}",
        ),
        (
            preflight(ALLOWED, "PATCH", "x-custom"),
            "cors.preflight_denied_method",
            "cors_preflight_denied{method_not_allowed:PATCH}",
        ),
        (
            preflight(ALLOWED, "PUT", "x-other"),
            "cors.preflight_denied_headers",
            "cors_preflight_denied{header_not_allowed:x-other}",
        ),
    ] {
        let rejected = reply(403, details, &[("vary", PREFLIGHT_VARY), ("content-length", "0")]);
        let s = vm.stream(&owned(&request));
        assert_eq!(s.request_action, STOP, "{counter}");
        assert_eq!(
            s.request_calls,
            [Call::GetHeaderMap(REQUEST_HEADERS), count(counter), policy_count(counter), rejected.clone()]
        );
        assert_eq!((s.response_action, s.response_calls), (CONTINUE, vec![]), "{counter}");
    }
}

/// The level is re-read on the root context's tick, never on a request: after the host's level
/// changes, the next tick turns debug lines on (one `proxy_get_log_level` call).
#[test]
fn log_level_follows_the_host_on_tick() {
    let mut vm = configured(POLICY);
    let evil = get(Some("https://evil.example"));
    assert!(!vm.stream(&evil).request_calls.iter().any(|c| matches!(c, Call::Log(..))));
    vm.store.data_mut().log_level = 1; // debug
    vm.call::<i32, ()>("proxy_on_tick", ROOT);
    assert_eq!(vm.take_calls(), [Call::GetLogLevel]);
    let s = vm.stream(&evil);
    let debug = Call::Log(1, "actual request denied: origin \"https://evil.example\" not allowed by top level".into());
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_denied"), policy_count("cors.actual_denied"), debug]
    );
}

#[test]
fn mode_off_one_read_one_count_no_writes() {
    let mut vm = configured(r#"{"mode":"off"}"#);
    for request in [get(Some(ALLOWED)), get(None), owned(&preflight(ALLOWED, "PUT", "x-custom"))] {
        let s = vm.stream(&request);
        assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
        assert_eq!(
            s.request_calls,
            [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.passed_through"), policy_count("cors.passed_through")]
        );
        assert_eq!(s.response_calls, []);
    }
}

#[test]
fn deleted_streams_leave_no_memory_behind() {
    // A thousand streams through one VM: `proxy_on_delete` frees each, memory does not grow.
    let mut vm = configured(POLICY);
    let pages = |vm: &Vm| vm.instance.get_memory(&vm.store, "memory").unwrap().size(&vm.store);
    for _ in 0..50 {
        vm.stream(&get(Some(ALLOWED)));
    }
    let before = pages(&vm);
    for i in 0..1000 {
        let origin = format!("https://x{i}.example");
        let s = vm.stream(&get(Some(&origin)));
        assert!(!s.grants());
    }
    assert_eq!(pages(&vm), before, "linear memory grew over 1,000 streams");
}

// --- Hostile hosts -------------------------------------------------------------------------

/// Every request type, each checked for a trap by `Vm::call`.
fn every_request_type() -> Vec<Vec<(&'static str, String)>> {
    let own = |h: Vec<(&'static str, &str)>| h.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    vec![
        own(get(Some(ALLOWED))),
        own(get(Some("https://evil.example"))),
        own(get(None)),
        preflight(ALLOWED, "PUT", "x-custom"),
        preflight("https://evil.example", "PUT", "x-custom"),
    ]
}

#[test]
fn every_host_call_failing_after_configuration_never_traps_and_grants_nothing() {
    for status in [NOT_FOUND, BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = configured(POLICY);
        vm.store.data_mut().hostility.status = Some(status);
        for request in every_request_type() {
            let s = vm.stream(&owned(&request));
            // The request map could not be read: the request is seen without any header, so
            // nothing is allowed and no reply is sent.
            assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE), "status {status}");
            assert!(!s.grants(), "status {status}: {s:#?}");
            assert_eq!(s.request_calls[0], Call::GetHeaderMap(REQUEST_HEADERS));
            // What follows: `Vary: Origin` attempted, and its failure logged (at warn, which
            // fails too) — the module goes on either way.
            assert_eq!(s.response_calls[0], add("vary", "Origin"), "status {status}");
        }
    }
}

#[test]
fn every_host_call_failing_from_the_start_refuses_the_configuration_without_trapping() {
    for status in [NOT_FOUND, BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = Vm::new(POLICY, Hostility { status: Some(status), ..Hostility::default() });
        // NotFound reads as "no configuration", which is not a valid one either.
        assert!(!vm.configure(), "status {status}");
        let calls = vm.take_calls();
        assert!(calls.contains(&Call::GetBufferBytes {
            buffer: PLUGIN_CONFIGURATION,
            start: 0,
            max: POLICY.len() as u32
        }));
        assert!(!calls.iter().any(|c| matches!(c, Call::DefineMetric(..))), "{calls:#?}");
        // Envoy would not send streams to a refused configuration; were it to, they pass through untouched.
        for request in every_request_type() {
            let s = vm.stream(&owned(&request));
            assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
            assert_eq!(s.all_calls().count(), 0, "status {status}: {s:#?}");
        }
    }
}

#[test]
fn metrics_the_host_refuses_to_define_are_never_incremented() {
    for status in [BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = Vm::new(POLICY, Hostility { define_metric: Some(status), ..Hostility::default() });
        assert!(vm.configure());
        let warnings = vm.take_calls().into_iter().filter(|c| matches!(c, Call::Log(3, _))).count();
        assert_eq!(warnings, 2 * counters().len(), "one warning per metric (totals and the top level's)");
        let s = vm.stream(&get(Some(ALLOWED)));
        assert_eq!(s.request_calls, [Call::GetHeaderMap(REQUEST_HEADERS)], "no increment of an undefined metric");
        assert_eq!(s.allowed_origins(), [ALLOWED]);
    }
}

/// The pairs a prefix of a serialized map holds whole (the reader needs the size table and
/// each name and value, not the NUL after the last value), in order.
fn whole_pairs(pairs: &[(Vec<u8>, Vec<u8>)], cut: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut end = 4 + 8 * pairs.len();
    if cut < end {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (k, v) in pairs {
        let value_end = end + k.len() + 1 + v.len();
        if value_end > cut {
            break;
        }
        out.push((k.clone(), v.clone()));
        end = value_end + 1;
    }
    out
}

/// A request map cut at every length: never a trap, and the answer is exactly the answer to
/// the headers the prefix holds whole, so no grant rests on a partial origin, method or header
/// list.
#[test]
fn truncated_header_maps_are_answered_as_the_whole_headers_they_hold() {
    let mut vm = configured(POLICY);
    for request in every_request_type() {
        let pairs: Vec<_> = request.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        let whole = serialize(&pairs);
        for cut in 0..=whole.len() {
            vm.store.data_mut().hostility.raw_request_map = Some(whole[..cut].to_vec());
            let truncated = vm.stream_bytes(Vec::new());
            vm.store.data_mut().hostility.raw_request_map = None;
            let seen = whole_pairs(&pairs, cut);
            let origin_whole = seen.iter().any(|(k, _)| k == b"origin");
            let reference = vm.stream_bytes(seen);
            assert_eq!(
                (truncated.request_action, &truncated.request_calls, &truncated.response_calls),
                (reference.request_action, &reference.request_calls, &reference.response_calls),
                "{request:?} cut at {cut} of {}",
                whole.len()
            );
            if !origin_whole {
                assert!(!truncated.grants(), "cut at {cut}: {truncated:#?}");
            }
        }
        // Cut anywhere before its last byte but one, the origin is never granted in part.
        let full = vm.stream(&owned(&request));
        assert!(full.allowed_origins().iter().all(|o| o == ALLOWED));
    }
}

#[test]
fn the_only_wasi_call_is_one_clock_read_for_the_hash_seed() {
    // foldhash seeds its tables from the wall clock (`SystemTime::now`) once per VM, at the
    // first context; std panics, and the VM aborts, were `clock_time_get` to fail: Envoy's
    // never fails for the real-time clock. The other WASI imports come with std and are never
    // called.
    let mut vm = Vm::new(POLICY, Hostility::default());
    vm.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
    assert_eq!(vm.take_calls(), [Call::Wasi("clock_time_get")]);
    assert_eq!(vm.call::<(i32, i32), i32>("proxy_on_vm_start", (ROOT, 0)), 1);
    assert_eq!(vm.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, POLICY.len() as i32)), 1);
    let mut calls = vm.take_calls();
    for request in every_request_type() {
        let s = vm.stream(&owned(&request));
        calls.extend(s.request_calls.into_iter().chain(s.response_calls));
    }
    assert!(!calls.is_empty());
    assert!(!calls.iter().any(|c| matches!(c, Call::Wasi(_))), "{calls:#?}");
}

#[test]
fn garbled_header_maps_never_trap() {
    let valid = serialize(&[(b"origin".to_vec(), ALLOWED.as_bytes().to_vec())]);
    let mut garbled: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1, 0, 0],
        u32::MAX.to_le_bytes().to_vec(),
        // A count far beyond the buffer.
        [&1000u32.to_le_bytes()[..], &valid[4..]].concat(),
        [&u32::MAX.to_le_bytes()[..], &valid[4..]].concat(),
        // Sizes that run past the end, or overflow when added.
        [&1u32.to_le_bytes()[..], &u32::MAX.to_le_bytes(), &u32::MAX.to_le_bytes(), b"origin\0x\0"].concat(),
        [&1u32.to_le_bytes()[..], &6u32.to_le_bytes(), &u32::MAX.to_le_bytes(), b"origin\0x\0"].concat(),
        [&2u32.to_le_bytes()[..], &6u32.to_le_bytes(), &1u32.to_le_bytes(), b"origin\0x\0"].concat(),
        // No NUL terminators at all.
        [
            &1u32.to_le_bytes()[..],
            &6u32.to_le_bytes(),
            &(ALLOWED.len() as u32).to_le_bytes(),
            b"origin",
            ALLOWED.as_bytes(),
        ]
        .concat(),
        // Non-UTF-8 names and values.
        serialize(&[(vec![0xff, 0xfe], vec![0x80]), (b"origin".to_vec(), vec![0xc3, 0x28])]),
    ];
    // Noise, deterministic.
    let mut x: u32 = 0x9e37_79b9;
    for len in [5, 17, 64, 255, 4096] {
        garbled.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect(),
        );
    }
    let mut vm = configured(POLICY);
    for bytes in garbled {
        vm.store.data_mut().hostility.raw_request_map = Some(bytes.clone());
        let s = vm.stream_bytes(Vec::new());
        assert!(!s.grants(), "{bytes:?}: {s:#?}");
        assert_eq!(s.request_action, CONTINUE);
    }
}

#[test]
fn huge_header_maps_are_read_and_impossible_allocations_are_refused_without_trapping() {
    let mut vm = configured(POLICY);
    // 16 MiB of headers (Envoy caps them at 8 MiB), the origin last.
    let mut request: Vec<(Vec<u8>, Vec<u8>)> =
        (0..4096).map(|i| (format!("x-filler-{i}").into_bytes(), vec![b'a'; 4096])).collect();
    request.push((b"origin".to_vec(), ALLOWED.as_bytes().to_vec()));
    let s = vm.stream_bytes(request);
    assert_eq!(s.allowed_origins(), [ALLOWED]);
    // A header map of more than the VM can hold: the module answers null (the host then
    // returns InvalidMemoryAccess), it does not abort.
    for size in [u32::MAX, 0x8000_0000, 0x7fff_fff0, MEMORY_LIMIT as u32] {
        vm.store.data_mut().hostility.alloc_size = Some(size);
        let s = vm.stream(&get(Some(ALLOWED)));
        assert!(!s.grants(), "allocation of {size:#x}: {s:#?}");
        assert_eq!(s.request_action, CONTINUE);
    }
    // And the VM still works afterwards.
    vm.store.data_mut().hostility.alloc_size = None;
    assert_eq!(vm.stream(&get(Some(ALLOWED))).allowed_origins(), [ALLOWED]);
}

#[test]
fn a_zero_length_configuration_is_refused_without_trapping() {
    let mut vm = Vm::new("", Hostility::default());
    assert!(!vm.configure());
    let calls = vm.take_calls();
    assert!(calls.contains(&Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: 0 }), "{calls:#?}");
    assert!(calls.iter().any(|c| matches!(c, Call::Log(4, _))), "an error logged: {calls:#?}");
}

#[test]
fn a_configuration_size_larger_than_the_buffer_reads_what_is_there() {
    let mut vm = Vm::new(POLICY, Hostility::default());
    vm.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
    assert!(vm.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, i32::MAX)) == 1);
    let calls = vm.take_calls();
    assert!(calls.contains(&Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: i32::MAX as u32 }));
    assert_eq!(vm.stream(&get(Some(ALLOWED))).allowed_origins(), [ALLOWED]);
}
