//! The mock proxy-wasm host of `wasm_abi`: wasmi running `dist/cors.wasm`, every import the
//! module declares implemented with proxy-wasm-cpp-host's semantics (ABI 0.2.1), every call
//! recorded, and the ways a hostile host misbehaves.

use std::path::PathBuf;
use std::sync::OnceLock;

use wasmi::{Caller, Config, Engine, Extern, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder};

// proxy-wasm 0.2.1 codes.
pub(crate) const OK: i32 = 0;
pub(crate) const NOT_FOUND: i32 = 1;
pub(crate) const BAD_ARGUMENT: i32 = 2;
pub(crate) const INVALID_MEMORY_ACCESS: i32 = 6;
/// A status no ABI version defines.
pub(crate) const UNKNOWN_STATUS: i32 = 77;
pub(crate) const REQUEST_HEADERS: u32 = 0;
pub(crate) const RESPONSE_HEADERS: u32 = 2;
pub(crate) const PLUGIN_CONFIGURATION: u32 = 7;
pub(crate) const CONTINUE: i32 = 0;
pub(crate) const STOP: i32 = 1;
pub(crate) const ROOT: i32 = 1;
/// Linear memory the mock lets the module grow to (Envoy's V8 allows 1 GiB).
pub(crate) const MEMORY_LIMIT: usize = 256 << 20;
/// Instructions one callback may run before it counts as a hang.
pub(crate) const FUEL: u64 = 2_000_000_000;

/// Every import the module declares; the mock implements each (`linker`).
pub(crate) const IMPORTS: [(&str, &str); 17] = [
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
pub(crate) enum Call {
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
pub(crate) struct Hostility {
    /// Every `proxy_*` call returns this status and writes nothing.
    pub(crate) status: Option<i32>,
    /// `proxy_define_metric` alone returns this status.
    pub(crate) define_metric: Option<i32>,
    /// The request header map is these bytes, not a serialized map.
    pub(crate) raw_request_map: Option<Vec<u8>>,
    /// `proxy_on_memory_allocate` is asked for this many bytes for the request map.
    pub(crate) alloc_size: Option<u32>,
}

pub(crate) struct HostState {
    pub(crate) limits: StoreLimits,
    pub(crate) config: Vec<u8>,
    pub(crate) log_level: u32,
    pub(crate) request: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) hostility: Hostility,
    pub(crate) calls: Vec<Call>,
    pub(crate) metrics: Vec<String>,
}

pub(crate) fn module() -> &'static (Engine, Module) {
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
pub(crate) fn serialize(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
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

pub(crate) fn deserialize(bytes: &[u8]) -> Vec<(String, String)> {
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

pub(crate) type Ctx<'a> = Caller<'a, HostState>;

pub(crate) fn memory(caller: &Ctx<'_>) -> Memory {
    caller.get_export("memory").and_then(Extern::into_memory).expect("the module exports its memory")
}

/// Bytes the module points the host at; out of bounds is the module's bug, so a trap (and a failed test).
pub(crate) fn read(caller: &Ctx<'_>, ptr: i32, len: i32) -> Result<Vec<u8>, wasmi::Error> {
    let mut buf = vec![0; len as u32 as usize];
    memory(caller)
        .read(caller, ptr as u32 as usize, &mut buf)
        .map_err(|e| wasmi::Error::new(format!("module passed {len} bytes at {ptr:#x}: {e}")))?;
    Ok(buf)
}

pub(crate) fn read_text(caller: &Ctx<'_>, ptr: i32, len: i32) -> Result<String, wasmi::Error> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

pub(crate) fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> Result<(), wasmi::Error> {
    let mem = memory(caller);
    mem.write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| wasmi::Error::new(format!("module's out-pointer {ptr:#x} ({} bytes): {e}", bytes.len())))
}

/// What proxy-wasm-cpp-host's `copyToPointerSize` does: asks the module for a buffer, fills it,
/// writes its address and size to the out-pointers. A null buffer is `InvalidMemoryAccess`.
pub(crate) fn hand_over(
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
pub(crate) struct Vm {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: wasmi::Instance,
    pub(crate) next_context: i32,
}

/// What one stream made the module do.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) request_action: i32,
    pub(crate) response_action: i32,
    pub(crate) request_calls: Vec<Call>,
    pub(crate) response_calls: Vec<Call>,
}

impl Stream {
    pub(crate) fn all_calls(&self) -> impl Iterator<Item = &Call> {
        self.request_calls.iter().chain(&self.response_calls)
    }

    /// Whether the stream granted anything: an `Access-Control-Allow-*` header written, or a
    /// 2xx local reply.
    pub(crate) fn grants(&self) -> bool {
        self.all_calls().any(|c| match c {
            Call::Replace(_, name, _) | Call::Add(_, name, _) => name.starts_with("access-control-allow"),
            Call::SendLocalResponse { status, headers, .. } => {
                *status < 300 || headers.iter().any(|(n, _)| n.starts_with("access-control-allow"))
            }
            _ => false,
        })
    }

    /// Every `Access-Control-Allow-Origin` value written or sent.
    pub(crate) fn allowed_origins(&self) -> Vec<String> {
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

pub(crate) fn linker(engine: &Engine) -> Linker<HostState> {
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
    pub(crate) fn new(config: &str, hostility: Hostility) -> Vm {
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
    pub(crate) fn call<P: wasmi::WasmParams, R: wasmi::WasmResults>(&mut self, name: &str, params: P) -> R {
        self.store.set_fuel(FUEL).unwrap();
        let f =
            self.instance.get_typed_func::<P, R>(&self.store, name).unwrap_or_else(|e| panic!("export {name}: {e}"));
        match f.call(&mut self.store, params) {
            Ok(r) => r,
            Err(e) => panic!("{name} trapped: {e}\nhost calls: {:#?}", self.store.data().calls),
        }
    }

    pub(crate) fn exports(&self, name: &str) -> bool {
        self.instance.get_func(&self.store, name).is_some()
    }

    pub(crate) fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.store.data_mut().calls)
    }

    /// Envoy's start of a VM with one plugin configuration: the root context, `proxy_on_vm_start`,
    /// `proxy_on_configure`. Returns what `proxy_on_configure` returned.
    pub(crate) fn configure(&mut self) -> bool {
        self.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
        assert_eq!(self.call::<(i32, i32), i32>("proxy_on_vm_start", (ROOT, 0)), 1);
        let size = self.store.data().config.len() as i32;
        self.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, size)) == 1
    }

    /// One HTTP stream as Envoy drives it: create, request headers, response headers (of the
    /// upstream's response, or of the local reply, which passes back through the filter), and
    /// the end-of-stream callbacks the module exports.
    pub(crate) fn stream(&mut self, request: &[(&str, &str)]) -> Stream {
        let pairs: Vec<_> = request.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        self.stream_bytes(pairs)
    }

    pub(crate) fn stream_bytes(&mut self, request: Vec<(Vec<u8>, Vec<u8>)>) -> Stream {
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
